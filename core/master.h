/*
 * master.h - agora-master: its configuration and the state the loop owns.
 */
#ifndef AGORA_MASTER_H
#define AGORA_MASTER_H

#include <stdint.h>

#include <ev.h>
#include <yajl/yajl_tree.h>

#include "agents.h"
#include "conf.h"
#include "events.h"
#include "frameworks.h"
#include "metrics.h"
#include "plugins.h"
#include "router.h"
#include "tasks.h"

struct http_server;
struct http_req;
struct store;
struct alloc;
struct leader;
struct standby;
struct zk;

/* Flags of agora-master; the table in master.c describes each. */
struct master_conf {
    char *ip;
    int64_t port;
    char *hostname;
    char *work_dir;
    char *conf_dir;
    char *plugin_dir;
    char *zk;
    double zk_session_timeout;
    int64_t quorum;
    double agent_reregister_timeout;
    double allocation_interval;
    double offer_timeout;
    char *weights;
    char *quota;
    double agent_ping_timeout;
    int64_t max_agent_ping_timeouts;
    char *log_level;
    int64_t max_body_size;
    int64_t http_connection_memory;
    double event_keepalive;
};

extern const conf_field master_flags[];

struct master {
    struct ev_loop *loop;
    struct master_conf conf;
    char *advertise_ip;        /* where others reach it (--ip, or the
                                * host's address for 0.0.0.0)          */
    char id[40];
    double start_time;
    int elected;

    struct http_server *http;
    struct router router;      /* core routes + /<plugin>/... routes    */
    struct store *store;
    struct metrics metrics;
    struct events events;
    struct frameworks frameworks;
    struct agents agents;
    struct tasks tasks;
    struct alloc *alloc;
    struct zk *zk;             /* NULL without --zk                    */
    char *zk_hosts, *zk_root;
    struct leader *leader;
    struct standby *standby;   /* with --zk: master_standby.c          */
    double elected_time;

    struct plugin_gen gen;     /* the current generation               */
    struct plugins_hooks plugin_hooks; /* set by master.c: plugins.h  */
    unsigned long next_gen;
    unsigned long reloads, reload_failures;
    int reload_pending;
    ev_timer reload_timer;     /* runs a requested reload on the loop  */
    /* What POST /master/reload calls: set by master.c, so that
     * master_http.c calls nothing in the file that starts it. */
    void (*request_reload)(struct master *m);

    ev_signal sig_hup, sig_term, sig_int;
    ev_timer trim_timer;       /* gives freed heap back to the system   */
    int stopping;
};

/*
 * Builds a master from its configuration (taken over: m owns conf's
 * strings), opens the store, binds the port, loads the plugins. Returns
 * 0 or an agora_err with the reason logged.
 */
int master_start(struct master *m, struct ev_loop *loop,
                 struct master_conf *conf);

/* Stops serving, unloads plugins, flushes the store, frees m's parts. */
void master_stop(struct master *m);

/* Adds the core's own routes to r (master_http.c). */
int master_http_routes(struct master *m, struct router *r);

/* ---- master_leader.c ---- */

/* Opens the store: local, or ZooKeeper's with --zk (and its session). */
int master_state_open(struct master *m);

/* Starts contending (standalone: leads at once, reported soon). */
int master_leader_start(struct master *m);

/* Stops the election, closes the store and the ZooKeeper session. */
void master_state_close(struct master *m);

/*
 * Where the leader is: its ip, port and host name (borrowed from *doc,
 * free *doc with yajl_tree_free when set, or from m). 0, or AGORA_ENOENT
 * when no leader is known.
 */
int master_leader_info(struct master *m, char **ip, int64_t *port,
                       char **hostname, yajl_val *doc);

/* ---- master_standby.c ---- */

/* HTTP filters: a standby redirects to the leader, or holds a request
 * while the leader is gone and the next is not known. */
int master_http_filter(void *arg, struct http_req *req);
int master_plugin_filter(void *arg, struct http_req *req);

/* With --zk: watches the leader's liveness while this master stands by. */
int master_standby_open(struct master *m);
/* Leadership or the leader changed: watch the new one, release what
 * was held. */
void master_standby_update(struct master *m);
/* Answers held requests with 503 (shutting down); frees the watch. */
void master_standby_close(struct master *m);
/* Answers with 503 the requests held on srv, a plugin's port about to
 * stop (the server frees its requests when it stops). */
void master_standby_drop_server(struct master *m, struct http_server *srv);

/* Creates the allocator from the flags (offers.c). */
int offers_start(struct master *m);

/* The services table's accept (offers.c). */
int offers_accept(struct master *m, struct agora_framework *fw,
                  const char *offer_id, const struct agora_task_spec *tasks,
                  size_t n);

#endif /* AGORA_MASTER_H */
