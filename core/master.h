/*
 * master.h - agora-master: its configuration, the state the loop owns,
 * and its life (master.c: start, signals, reload, stop).
 *
 * The master's files in layers. A file calls only the files listed after
 * it here (nm over the objects shows no other call between files, and
 * no cycle); what a lower layer must tell an upper one goes through a
 * hook the upper one gave it, never by name.
 *
 *   master.c        -> any file below: it starts and stops them all
 *   master_http.c   -> agent_proto (its two handlers, in the one route
 *                      table), standby (who leads), and, for JSON and
 *                      metrics, tasks and everything under tasks
 *   master_leader.c -> standby; plugins (started and finished on
 *                      election); agents, tasks, store*, leader, events
 *   standby.c       -> leader
 *   plugins.c       -> plugin_api, plugin_conf, metrics
 *   plugin_api.c    -> plugin_io, plugin_view, plugin_item, offers,
 *                      tasks, frameworks, alloc*, store, events,
 *                      metrics, plugin_conf
 *   plugin_io.c     -> plugin_item, core/base/ (http_client)
 *   plugin_view.c   -> tasks, tasks_extra, agents, frameworks, alloc*
 *   agent_proto.c   -> tasks, agents
 *   offers.c        -> tasks, agents, alloc*
 *   tasks.c         -> tasks_extra, agents, frameworks, alloc*, res_json
 *   agents.c        -> alloc*, store, events, res_json
 *   frameworks.c    -> alloc*
 *   alloc*.c, store*.c, leader.c, events.c, metrics.c, res_json.c,
 *   plugin_conf.c, plugin_item.c, tasks_extra.c
 *                   -> core/base/ (and, within alloc* and within store*,
 *                      each other)
 *
 * Hooks upward: agents -> agent_proto (struct agents_hooks: unreachable
 * agents, the end of a recovery); plugins -> master.c (struct
 * plugins_hooks: routes changed, a plugin port's filter and closing);
 * master_http -> master.c (m->request_reload); plugin_api -> master_leader
 * (m->request_abdicate); frameworks_write()'s
 * callback; the allocator's offer callbacks. clock.h's master_now() is
 * inline: reading the time calls nothing.
 */
#ifndef AGORA_MASTER_H
#define AGORA_MASTER_H

#include <stdint.h>

#include <ev.h>

#include "agents.h"
#include "conf.h"
#include "events.h"
#include "master_api_v1.h"
#include "master_policy.h"
#include "auth.h"
#include "acl.h"
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
struct hc_client;

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
    int64_t http_max_connections;        /* 0: from RLIMIT_NOFILE      */
    int64_t http_max_connections_per_ip; /* 0: no limit                */
    double http_header_timeout;
    int64_t http_stream_budget; /* bytes queued on all streams         */
    double agent_join_rate;     /* new agents per second (0: no bound)  */
    int64_t agent_join_burst;   /* new agents admitted at once          */
    char *credentials;          /* file of principals and secrets       */
    char *jwt_secret_key;       /* file of the HS256 key                */
    char *acls;                 /* Mesos' ACL JSON, or a file of it     */
    char *ssl_cert_file, *ssl_key_file, *ssl_ca_file;
    int ssl_require_client_cert;
    int authenticate_http_readonly;
    int authenticate_http_readwrite;
    int authenticate_agents;
    int authenticate_frameworks;
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
    struct api_v1 api_v1;      /* SUBSCRIBE's streams (master_api_v1.h) */
    struct master_policy policy; /* weights, quota, maintenance (stored) */
    struct auth auth;          /* who may call (master_auth.c)        */
    struct acls acls;          /* what each may do (acl.h)            */
    /* While a reply listing tasks is built: whose view it is (view_tasks;
     * master_view_begin() in master_auth.h). */
    struct {
        int on;
        const char *principal; /* borrowed from the request; NULL: none */
    } viewer;
    struct auth_tls tls;       /* HTTPS of the master's ports         */
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
    struct hc_client *plugin_http; /* plugins' outbound HTTP: made on
                                    * first use by plugin_io.c         */
    struct hc_client *ui_http; /* the UI's /files proxy (master_ui.c)  */
    size_t ui_proxies;         /* its requests in flight                */
    struct plugins_hooks plugin_hooks; /* set by master.c: plugins.h  */
    unsigned long next_gen;
    unsigned long reloads, reload_failures;
    int reload_pending;
    struct {                   /* plugins torn down (master_teardown.c) */
        char **v;              /* their .so files                       */
        size_t n;
    } torn_down;
    ev_timer reload_timer;     /* runs a requested reload on the loop  */
    /* What POST /master/reload calls: set by master.c, so that
     * master_http.c calls nothing in the file that starts it. */
    void (*request_reload)(struct master *m);
    /* What a plugin's abdicate calls (master_leader.c), likewise. */
    int (*request_abdicate)(struct master *m);
    ev_timer abdicate_timer;   /* runs an abdication on the loop        */

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
