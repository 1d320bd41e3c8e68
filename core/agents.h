/*
 * agents.h - the master's registry of agents and their event streams.
 *
 * An agent subscribes with POST /api/agent/subscribe and keeps the
 * response open: a stream of one JSON event per line (launch, kill, ack,
 * ping, shutdown; docs/agent-protocol.md). It posts status updates and
 * pongs to POST /api/agent/updates. The master pings every
 * --agent_ping_timeout; an agent unheard of for --max_agent_ping_timeouts
 * pings is unreachable and its tasks go TASK_UNREACHABLE. Agents keep
 * their ids across restarts, and the registry is kept in the store so a
 * restarted master knows which agents to expect.
 */
#ifndef AGORA_AGENTS_H
#define AGORA_AGENTS_H

#include <stdint.h>

#include <ev.h>

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

struct agent_rec {
    char *id;
    char *hostname;
    char *ip;
    int port;
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
    struct http_stream *stream;    /* NULL while disconnected            */
    struct map tasks;              /* task id -> struct task             */
    struct store_op *save;         /* the registration being written     */
    char *saved;                   /* the registration as stored         */
    int dirty;                     /* to write once the registry is read */
    struct master *m;
};

struct agents_load;

struct agents {
    struct map by_id;             /* id -> struct agent_rec            */
    ev_timer ping_timer;          /* one timer pings every agent        */
    unsigned long long pings_sent;
    size_t recovering;            /* agents in AGENT_RECOVERING         */
    struct agents_load *load;     /* registry reads; the first current  */
    int load_failed;              /* the last read failed: retrying     */
    ev_timer load_retry;
};

/* Arms the pings. */
int agents_start(struct master *m);

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
void agents_stop(struct master *m);

struct agent_rec *agents_find(struct master *m, const char *id);

/* Sends one JSON event line to an agent; AGORA_EUNAVAIL when it has no
 * open stream. */
int agents_send(struct agent_rec *ag, const char *json, size_t len);

/* Route handlers (master_http.c mounts them). */
void agents_http_subscribe(void *arg, struct http_req *req);
void agents_http_updates(void *arg, struct http_req *req);
void agents_http_list(void *arg, struct http_req *req);  /* /master/agents */
void agents_http_slaves(void *arg, struct http_req *req); /* /master/slaves */

/* Writes the agents as a JSON array (Mesos' slave objects). */
void agents_write(struct master *m, struct agora_jw *w);

/* Counts for /metrics/snapshot. */
void agents_write_metrics(struct master *m, struct agora_jw *w);

const char *agents_state_name(enum agent_state s);

#endif /* AGORA_AGENTS_H */
