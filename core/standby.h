/*
 * standby.h - what a master that does not lead does with requests:
 * redirect them to the leader, or hold them while the leader is gone and
 * ZooKeeper has not named the next one (standby.c says why and how).
 *
 * Part of leadership: master_leader.c opens and updates it as elections
 * go; it reads who leads (leader.h, struct master) and calls nothing in
 * master_leader.c.
 */
#ifndef AGORA_STANDBY_H
#define AGORA_STANDBY_H

#include <stdint.h>

#include <yajl/yajl_tree.h>

struct master;
struct http_req;
struct http_server;

/*
 * Where the leader is: its ip, port and host name, borrowed from *doc
 * (free *doc with yajl_tree_free when it is set) or from m (valid as
 * long as m). 0, or AGORA_ENOENT when no leader is known (then *ip,
 * *port and *hostname may be this master's own).
 */
int standby_leader_info(struct master *m, char **ip, int64_t *port,
                        char **hostname, yajl_val *doc);

/*
 * HTTP filters (http_filter_fn): on a master that does not lead, a
 * request is redirected to the leader or held while the leader is gone
 * and the next is not known; returns 1 when it took req, 0 to let the
 * router serve it. standby_http_filter's arg is the struct master (its
 * own state paths are always served); standby_plugin_filter's is the
 * struct plugin whose port the request came to.
 */
int standby_http_filter(void *arg, struct http_req *req);
int standby_plugin_filter(void *arg, struct http_req *req);

/* With --zk: watches the leader's liveness while this master stands by.
 * 0 or AGORA_ENOMEM; m->standby holds it until standby_close(). */
int standby_open(struct master *m);

/* Leadership or the leader changed: watch the new one, release what
 * was held (each to the new leader, or to this master if elected). */
void standby_update(struct master *m);

/* Answers held requests with 503 (shutting down); frees the watch.
 * Before the server stops, which frees its requests. */
void standby_close(struct master *m);

/* Answers with 503 the requests held on srv, a plugin's port about to
 * stop (the server frees its requests when it stops). */
void standby_drop_server(struct master *m, struct http_server *srv);

#endif /* AGORA_STANDBY_H */
