/*
 * zk.h - a ZooKeeper session on the event loop (libzookeeper_mt).
 *
 * libzookeeper_mt runs threads of its own; its watcher and completion
 * callbacks run there. Nothing of ours is touched from those threads:
 * each callback copies what it got into a message and zk_post()s it to
 * the loop, which runs it (the DESIGN's rule for ZooKeeper).
 *
 * A session is re-made when it expires (the C client cannot resume an
 * expired handle): the owner hears ZK_EXPIRED, then ZK_CONNECTED for the
 * new session. ZK_DISCONNECTED means the link is down and the client is
 * reconnecting: the session may still be alive on the server.
 *
 * URLs are Mesos': zk://host1:2181,host2:2181/path (a path of "/" or none
 * means the root, which agora refuses: a path is required).
 */
#ifndef AGORA_ZK_H
#define AGORA_ZK_H

#include <zookeeper/zookeeper.h>

struct ev_loop;
struct zk;

enum zk_state {
    ZK_CONNECTING,   /* no session yet (first connection)             */
    ZK_CONNECTED,    /* the session is up                             */
    ZK_DISCONNECTED, /* link lost; the session may still be alive     */
    ZK_EXPIRED       /* the session is gone; a new one is being made  */
};

typedef void (*zk_state_fn)(void *arg, enum zk_state state);

/*
 * Splits "zk://h1:2181,h2:2181/agora" into hosts "h1:2181,h2:2181" and
 * root "/agora" (both malloc'ed). AGORA_EINVAL when it is not such a URL.
 */
int zk_parse_url(const char *url, char **hosts, char **root);

/*
 * Opens a session to hosts; state changes are reported to cb on the
 * loop. Returns 0 at once (the connection comes later) or an agora_err.
 * session_timeout in seconds.
 */
int zk_open(struct ev_loop *loop, const char *hosts, double session_timeout,
            zk_state_fn cb, void *arg, struct zk **out);

/* The current handle, for zoo_a*() calls; NULL while none exists. Valid
 * until the next ZK_EXPIRED report (or zk_close). */
zhandle_t *zk_handle(struct zk *z);

enum zk_state zk_state(const struct zk *z);

/* The negotiated session timeout in seconds (0 before a session). */
double zk_session_timeout(const struct zk *z);

/*
 * Runs fn(arg) on the loop thread soon, in the order posted. Safe from
 * any thread: libzookeeper's completions use it to hand results over.
 * Returns 0 or AGORA_ENOMEM (fn is then never called).
 */
int zk_post(struct zk *z, void (*fn)(void *arg), void *arg);

/*
 * Closes the session (its ephemeral nodes go at once) and frees z.
 * Messages posted and not yet run are freed with free(arg), not run:
 * close the users of the session (store, election) first. Blocks for
 * as long as libzookeeper takes to close (at shutdown only).
 */
void zk_close(struct zk *z);

/*
 * The election's znodes, which masters make (core/leader.c) and agents
 * read (agent/leader_watch.c): <root>/ZK_LEADER_DIR/ holds one
 * ephemeral sequential ZK_LEADER_MEMBER_PREFIX<sequence> per contender.
 */
#define ZK_LEADER_DIR "leader"
#define ZK_LEADER_MEMBER_PREFIX "member_"

/* The sequence number of a contender's znode name (the prefix, then
 * digits only), or -1 for any other name. */
long long zk_leader_member_seq(const char *name);

/* An agora_err for a ZooKeeper return code (ZNONODE -> AGORA_ENOENT...). */
int zk_err(int zrc);

#endif /* AGORA_ZK_H */
