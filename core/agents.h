/*
 * agents.h - the master's registry of agents and their event streams.
 *
 * An agent subscribes with POST /api/agent/subscribe and keeps the
 * response open: a stream of one JSON event per line (launch, kill, ack,
 * ping, shutdown; docs/agent-protocol.md). It posts status updates and
 * pongs to POST /api/agent/updates. Those requests are agent_proto.c's;
 * this file keeps the records they create. The master pings every
 * --agent_ping_timeout; an agent unheard of for --max_agent_ping_timeouts
 * pings is unreachable (the layer above hears it through a hook, and its
 * tasks go TASK_UNREACHABLE). Agents keep their ids across restarts, and
 * the registry is kept in the store so a restarted master knows which
 * agents to expect.
 *
 * The registry calls nothing above it (tasks, offers, the protocol):
 * what it finds by itself goes up through struct agents_hooks.
 */
#ifndef AGORA_AGENTS_H
#define AGORA_AGENTS_H

#include <stdint.h>

#include <ev.h>
#include <yajl/yajl_tree.h>

#include <agora/plugin.h>

#include "map.h"

struct master;
struct http_req;
struct http_stream;
struct agora_jw;
struct task;
struct alloc_agent;
struct store_op;

enum agent_state {
    AGENT_RECOVERING,  /* known from the store, not yet re-subscribed   */
    AGENT_ACTIVE,
    AGENT_UNREACHABLE,
    AGENT_GONE
};

/* Mesos' DrainInfo.state; kept in the store with the agent. */
enum agent_drain {
    AGENT_DRAIN_NONE,
    AGENT_DRAIN_DRAINING, /* deactivated, its tasks being killed       */
    AGENT_DRAIN_DRAINED   /* deactivated, none of its tasks live       */
};

struct agent_rec {
    char *id;
    char *hostname;
    char *ip;
    int port;
    int https;                     /* its API serves HTTPS only         */
    char *version;
    char *resources_text;          /* as the agent reported it          */
    char *alloc_text;              /* what the allocator was given      */
    struct agora_resources total;
    struct alloc_agent *alloc;     /* its resources, as the allocator
                                    * counts them (used, offered, free) */
    struct agora_kv *attrs;        /* owned strings                      */
    size_t nattrs;
    enum agent_state state;
    double registered_time;
    double reregistered_time;
    double last_seen;              /* last request from the agent        */
    double unreachable_time;
    int is_new;                    /* subscribing for the first time     */
    struct http_stream *stream;    /* NULL while disconnected            */
    char peer[48];                 /* the stream's client address        */
    char session[40];              /* this subscription's token, given in
                                    * `subscribed`; updates must carry it */
    struct map tasks;              /* task id -> struct task             */
    struct store_op *save;         /* the registration being written     */
    char *saved;                   /* the registration as stored         */
    int dirty;                     /* to write once the registry is read */
    int deactivated;               /* by the operator: no offers of it   */
    enum agent_drain drain;        /* DRAIN_AGENT's progress             */
    double drain_grace;            /* its max_grace_period (s), or -1    */
    int drain_mark_gone;           /* gone once drained                  */
    struct master *m;
};

/* Longest agent id: 1-128 of [A-Za-z0-9_.-]. */
#define AGENT_ID_MAX 128

struct agents_load;

/*
 * What the registry finds by itself and the layer above (agent_proto.c)
 * must act on. Given to agents_start(); called on the loop, with arg.
 */
struct agents_hooks {
    /* ag went unreachable: marked so, its stream closed; the allocator
     * is told and the record stored right after the call. */
    void (*unreachable)(void *arg, struct agent_rec *ag);
    /* The recovery after an election ended: agents_recovering() is 0. */
    void (*recovered)(void *arg);
    /* ag was marked gone: its stream closed, the allocator told; its
     * tasks are gone with it. */
    void (*gone)(void *arg, struct agent_rec *ag);
    /* ag is draining (agents_drain()): its tasks are to be killed. */
    void (*drain)(void *arg, struct agent_rec *ag);
    void *arg;
};

struct agents {
    struct map by_id;             /* id -> struct agent_rec            */
    ev_timer ping_timer;          /* one timer pings every agent        */
    unsigned long long pings_sent;
    size_t recovering;            /* agents in AGENT_RECOVERING         */
    struct agents_load *load;     /* registry reads; the first current  */
    int load_failed;              /* the last read failed: retrying     */
    ev_timer load_retry;
    struct agents_hooks hooks;    /* the layer above, from agents_start */
    /* Since the start (Mesos' master/slave_* counters). */
    uint64_t registrations, reregistrations, unreachable, removals;
    double join_tokens;           /* the new agents' token bucket        */
    double join_last;             /* when it was last filled             */
    unsigned long long joins_refused; /* new agents answered 429         */
    unsigned long long takeovers_refused; /* subscribes of a connected
                                   * agent from another address         */
    unsigned long long sessions_refused;  /* updates on a wrong session */
};

/*
 * Arms the pings; hooks (copied) say whom to tell of unreachable agents
 * and of the end of a recovery. 0, or AGORA_EINVAL for bad ping flags
 * (logged).
 */
int agents_start(struct master *m, const struct agents_hooks *hooks);

/* Loads the agents the store knows (on election): they are expected to
 * subscribe again within --agent_reregister_timeout. */
int agents_load(struct master *m);

/*
 * Nonzero while this leader may still hear of tasks it does not know:
 * the registry is being read, or an agent of it has not subscribed
 * again and is not yet unreachable. Reconciliation answers for unknown
 * tasks wait until then (tasks_recovered()).
 */
int agents_recovering(const struct master *m);

/* Forgets every agent, closing their streams (on losing leadership). */
void agents_drop(struct master *m);
/* Stops the timers, closes every stream and frees the registry (at
 * exit; a registration being stored is still written, unreported). */
void agents_stop(struct master *m);

/* The agent of that id (NULL id: none), or NULL. Owned by the registry:
 * valid until agents_drop() or agents_stop(). */
struct agent_rec *agents_find(struct master *m, const char *id);

/*
 * Whether an agent never seen before may join now: takes a token of the
 * --agent_join_rate bucket (1) or counts a refusal (0).
 */
int agents_join_allowed(struct master *m, double now);

/*
 * Whether a subscribe of ag from peer may replace its stream: 1 when ag
 * has none, the new one comes from the same address, or the old one is
 * dead (its socket closed, or the agent unheard for two ping intervals).
 * 0 counts a refusal.
 */
int agents_takeover_allowed(struct master *m, struct agent_rec *ag,
                            const char *peer, double now);

/* 1 when session is ag's current one (updates are taken only on it);
 * 0 counts a refusal. */
int agents_session_ok(struct master *m, struct agent_rec *ag,
                      const char *session);

/*
 * The agent of that id, or a new record of it (AGENT_RECOVERING until
 * agents_activate()); NULL when out of memory. id is copied; the record
 * lives as agents_find()'s do.
 */
struct agent_rec *agents_add(struct master *m, const char *id);

/*
 * Checks a subscribe body as agents_take_info() would take it, without a
 * record: 0, or AGORA_EINVAL with the reason in err. Run before
 * agents_add(), so that a refused subscribe leaves nothing behind.
 */
int agents_check_info(yajl_val doc, char *err, size_t errlen);

/*
 * Fills ag from a registration document (a subscribe body or the stored
 * one): resources, host name, address, version, attributes, all copied
 * from doc. 0, AGORA_EINVAL with the reason in err (bad resources), or
 * AGORA_ENOMEM.
 */
int agents_take_info(struct agent_rec *ag, yajl_val doc, char *err,
                     size_t errlen);

/*
 * Gives the allocator ag's resources: new, back from being unreachable,
 * or changed. Returns 0, 1 when they changed (the caller counts the
 * agent's live tasks again), or AGORA_ENOMEM.
 */
int agents_allocate(struct master *m, struct agent_rec *ag);

/* ag subscribes at now: its registration times and last_seen. */
void agents_subscribing(struct agent_rec *ag, double now);

/* ag was heard from at now (an update or a pong): it is alive. */
void agents_heard(struct agent_rec *ag, double now);

/*
 * Makes ag active (possibly ending the recovery: the recovered hook runs
 * inside), opens its event stream on req with the "subscribed" event,
 * replacing an older stream, and stores its registration when it
 * changed. 0, or an agora_err when the stream could not be opened or
 * written (the caller then answers req with an error).
 */
int agents_activate(struct master *m, struct agent_rec *ag,
                    struct http_req *req);

/* Sends one JSON event line to an agent; AGORA_EUNAVAIL when it has no
 * open stream. */
int agents_send(struct agent_rec *ag, const char *json, size_t len);

/* Route handlers, arg the struct master (master_http.c mounts them). */
void agents_http_list(void *arg, struct http_req *req);  /* /master/agents */
void agents_http_slaves(void *arg, struct http_req *req); /* /master/slaves */

/* Takes ag out of offers (off 1) or back in (off 0, which also ends a
 * drain), as the v1 API's DEACTIVATE_AGENT and REACTIVATE_AGENT do; what
 * runs there stays. Stored, so a new leader keeps it. */
void agents_deactivate(struct master *m, struct agent_rec *ag, int off);

/*
 * DRAIN_AGENT: deactivates ag and marks it draining (stored), and has
 * its tasks killed (the drain hook), each within grace seconds when
 * grace >= 0. When its
 * last live task has ended (agents_drained()), it is DRAINED, and gone
 * if mark_gone.
 */
void agents_drain(struct master *m, struct agent_rec *ag, double grace,
                  int mark_gone);

/* A draining ag has no live task left (tasks.c tells). */
void agents_drained(struct master *m, struct agent_rec *ag);

/*
 * MARK_AGENT_GONE: ag is gone for good. It is stored so, told to shut
 * down (its tasks are killed and it forgets its id), taken from the
 * allocator and the agent lists, and a subscribe with its id is refused
 * with 410 from then on, by this leader and the next.
 */
void agents_mark_gone(struct master *m, struct agent_rec *ag);

/* Mesos' DrainInfo of a draining or drained ag, as the key "drain_info"
 * of the object open in w; nothing otherwise. */
void agents_write_drain_info(struct agora_jw *w, const struct agent_rec *ag);

/* How many agents are active; how many are known and not gone. */
size_t agents_count_active(struct master *m);
size_t agents_count_known(struct master *m);
/* The keys of Mesos' Summary<Slave> (src/master/http.cpp) into the open
 * object of w. */
void agents_write_summary(struct agora_jw *w, struct agent_rec *ag);
/* Writes the agents as a JSON array (Mesos' slave objects). */
void agents_write(struct master *m, struct agora_jw *w);

/* Counts for /metrics/snapshot: master/slaves_* and the resource totals,
 * as keys of the object open in w. */
void agents_write_metrics(struct master *m, struct agora_jw *w);

/* "recovering", "active", "unreachable", "gone" (static strings). */
const char *agents_state_name(enum agent_state s);

#endif /* AGORA_AGENTS_H */
