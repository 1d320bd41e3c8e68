/*
 * master.h - agora-master: its configuration, the state the loop owns,
 * and its life (master.c: start, signals, reload, stop).
 *
 * The master's files in layers; a file calls only files below it (an
 * arrow is "may call"), and a lower layer tells an upper one what
 * happened through hooks the upper one gave it, never by name:
 *
 *   master.c            flags, start, signals, reload, routes, stop
 *     -> master_http.c  the master's endpoints
 *        (-> agent_proto.c's handlers, standby.c's leader info)
 *     -> agent_proto.c  the agent protocol's master side
 *     -> plugins.c -> plugin_conf.c, plugin_api.c (the services table)
 *     -> master_leader.c (store, election) -> standby.c
 *        (-> agents.c, tasks.c, plugins.c on election)
 *   offers.c            the allocator's offers, accept
 *   tasks.c             the task table, reconciliation
 *   agents.c, frameworks.c   the registries (hooks: struct agents_hooks)
 *   alloc*.c, store*.c, leader.c, events.c, metrics.c, res_json.c
 *   core/base/          log, map, conf, http, router, zk, ...
 *
 * Hooks upward: agents -> agent_proto (struct agents_hooks), plugins ->
 * master.c (struct plugins_hooks), master_http -> master.c
 * (m->request_reload), frameworks_write's callback, the allocator's
 * offer callbacks. clock.h's master_now() is inline: no call at all.
 */
#ifndef AGORA_MASTER_H
#define AGORA_MASTER_H

#include <stdint.h>

#include <ev.h>

#include "agents.h"
#include "conf.h"
#include "events.h"
#include "frameworks.h"
#include "metrics.h"
#include "plugins.h"
#include "router.h"
#include "tasks.h"

struct http_server;
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
    struct standby *standby;   /* with --zk: standby.c                 */
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

#endif /* AGORA_MASTER_H */
