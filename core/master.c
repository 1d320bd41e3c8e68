/*
 * master.c - agora-master's life: flags, start, signals, reload, stop.
 */
#include "master.h"
#include "master_api_v1.h"
#include "master_auth.h"
#include "master_teardown.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include "agent_proto.h"
#include "alloc.h"
#include "fs.h"
#include "http.h"
#include "log.h"
#include "master_http.h"
#include "master_leader.h"
#include "master_ui.h"
#include "netaddr.h"
#include "offers.h"
#include "plugin_api.h"
#include "plugin_io.h"
#include "standby.h"
#include "store.h"
#include "uuid.h"

#ifndef AGORA_PLUGIN_DIR
#define AGORA_PLUGIN_DIR "/usr/local/lib/agora/plugins"
#endif

#define F(name, type, dflt, help)                                            \
    {#name, AGORA_CONF_##type, dflt, offsetof(struct master_conf, name), help}

const conf_field master_flags[] = {
    F(ip, STRING, "0.0.0.0", "address to listen on"),
    F(port, INT, "5050", "port to listen on"),
    F(hostname, STRING, "", "host name advertised to agents and clients "
                            "(default: the system's)"),
    F(work_dir, STRING, "/var/lib/agora/master",
      "directory for the local store and private plugin copies"),
    F(conf_dir, STRING, "/etc/agora/conf.d",
      "plugin configuration: *.conf files and drop-in *.so files"),
    F(plugin_dir, STRING, AGORA_PLUGIN_DIR,
      "where `plugin = x.so` in a conf file is looked up"),
    F(zk, STRING, "", "zk://host:port,.../path (or file:///path of a file "
                      "holding it): ZooKeeper for state and leader election "
                      "(default: local store, standalone)"),
    F(zk_session_timeout, DURATION, "10secs", "ZooKeeper session timeout"),
    F(quorum, INT, "1", "accepted for compatibility with mesos-master's "
                        "--quorum (agora keeps its registry in ZooKeeper)"),
    F(agent_reregister_timeout, DURATION, "60secs",
      "after an election, agents not back within this are unreachable"),
    F(allocation_interval, DURATION, "50ms",
      "least time between two allocation cycles"),
    F(offer_timeout, DURATION, "0",
      "rescind offers held longer than this (0: never, as Mesos)"),
    F(weights, STRING, "", "role weights for DRF: role=2,other=0.5"),
    F(quota, STRING, "",
      "guaranteed resources per role, served first: "
      "role:cpus=4;mem=4096,other:cpus=1"),
    F(agent_ping_timeout, DURATION, "15secs",
      "time between pings on an agent's stream"),
    F(max_agent_ping_timeouts, INT, "5",
      "missed pings after which an agent is unreachable"),
    F(log_level, STRING, "info", "debug, info, warn or error"),
    F(max_body_size, INT, "1048576",
      "largest request body accepted (bytes); bigger ones get 413"),
    F(http_connection_memory, INT, "8192",
      "memory of one HTTP connection (bytes): its request line and headers "
      "must fit; every agent holds one connection"),
    F(event_keepalive, DURATION, "15secs",
      "idle time after which an event stream gets a keep-alive comment"),
    F(http_max_connections, INT, "0",
      "HTTP connections in all (0: the descriptor limit less 128); the last "
      "5% (at least 16) are kept for addresses holding fewer than 4, so "
      "health checks and agents get in while a few hosts hold the rest"),
    F(http_max_connections_per_ip, INT, "1024",
      "HTTP connections one client address may hold (0: no limit); each "
      "agent holds two"),
    F(http_header_timeout, DURATION, "10secs",
      "time for a request's headers to be complete from the connection's "
      "accept, however slowly they trickle (six times that for the next "
      "request on a kept-alive connection)"),
    F(http_stream_budget, INT, "67108864",
      "bytes queued on all event streams together (agents' and clients'); "
      "past it the streams with the most queued, the slowest readers, are "
      "ended first"),
    F(agent_join_rate, DOUBLE, "20",
      "agents never seen before admitted per second, beyond the burst; "
      "more are answered 429 and retry (0: no bound). Known agents are "
      "never held back"),
    F(agent_join_burst, INT, "500",
      "agents never seen before admitted at once (a new cluster's start)"),
    F(credentials, STRING, "",
      "file of principals and secrets: Mesos' JSON {\"credentials\": "
      "[{\"principal\", \"secret\"}]} or `principal secret` lines; "
      "not readable by every user"),
    F(jwt_secret_key, STRING, "",
      "file holding the key of HS256 bearer tokens (JWTs; the principal "
      "is their \"sub\")"),
    F(authenticate_http_readonly, BOOL, "false",
      "GET and HEAD of the master's endpoints need credentials"),
    F(authenticate_http_readwrite, BOOL, "false",
      "the master's other endpoints (changes) need credentials"),
    F(authenticate_agents, BOOL, "false",
      "agents need credentials to subscribe and to post updates"),
    F(ssl_cert_file, STRING, "",
      "HTTPS: the certificate (PEM, chain first) of the master's port and "
      "its plugins' ports; plain HTTP is then refused"),
    F(ssl_key_file, STRING, "",
      "HTTPS: the certificate's key (PEM; not readable by every user)"),
    F(ssl_ca_file, STRING, "",
      "HTTPS: the CA (PEM) whose certificates clients may show"),
    F(ssl_require_client_cert, BOOL, "false",
      "HTTPS: requests without a client certificate the --ssl_ca_file CA "
      "signed get 403 (mutual TLS)"),
    F(acls, STRING, "",
      "Mesos' ACLs, as JSON or the path of a file holding it: run_tasks, "
      "register_frameworks, reload_plugins, get_flags (see "
      "docs/security.md)"),
    F(authenticate_frameworks, BOOL, "false",
      "plugin routes need credentials (a plugin's conf `authenticate` "
      "decides for it)"),
    {NULL, 0, NULL, 0, NULL},
};

#undef F

/* Removes private plugin copies a previous run left behind. */
static void master_clean_plugin_copies(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char *path;

        if (e->d_name[0] == '.')
            continue;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
            break;
        unlink(path);
        free(path);
    }
    closedir(d);
}

/* Rebuilds m->router from the core routes and the current plugins. */
static int master_mount_routes(struct master *m)
{
    struct router r = ROUTER_INIT;
    size_t i, j;
    int rc;

    rc = master_http_routes(m, &r);
    for (i = 0; rc == 0 && i < m->gen.n; i++) {
        struct plugin *p = m->gen.v[i];
        char prefix[80];

        snprintf(prefix, sizeof(prefix), "/%s", p->name);
        for (j = 0; rc == 0 && j < p->nroutes; j++) {
            const struct agora_route *ar = &p->desc->routes[j];

            rc = router_add(&r, ar->method, prefix, ar->path,
                            (void *)plugin_route_dispatch, &p->routes[j]);
        }
    }
    if (rc < 0) {
        router_free(&r);
        log_error("master", "cannot mount routes: %s",
                  plugin_api_table.strerror(rc));
        return rc;
    }
    /* Requests in flight copied what they matched; the old table can go. */
    router_free(&m->router);
    m->router = r;
    http_server_set_router(m->http, &m->router);
    return 0;
}

static void master_on_reload(struct ev_loop *loop, ev_timer *w, int events)
{
    struct master *m = w->data;
    char json[96];
    int rc;

    (void)loop;
    (void)events;
    if (!m->reload_pending || m->stopping)
        return;
    m->reload_pending = 0;
    log_info("master", "reloading plugins from %s", m->conf.conf_dir);
    rc = plugins_load(m, PLUGINS_STRICT);
    if (rc < 0)
        m->reload_failures++;
    else
        m->reloads++;
    snprintf(json, sizeof(json), "{\"ok\":%s,\"generation\":%lu}",
             rc < 0 ? "false" : "true", m->gen.id);
    events_publish(&m->events, "plugins_reloaded", json);
}

/* Asks for a plugin reload; it runs on the loop soon after. */
static void master_request_reload(struct master *m)
{
    m->reload_pending = 1;
    if (!ev_is_active(&m->reload_timer)) {
        ev_timer_set(&m->reload_timer, 0., 0.);
        ev_timer_start(m->loop, &m->reload_timer);
    }
}

/* ---- the plugin host's hooks ---- */

static int master_on_routes_changed(void *arg)
{
    return master_mount_routes(arg);
}

static void master_on_port_closing(void *arg, struct http_server *srv)
{
    standby_drop_server(arg, srv);
}

/* What the plugin host and master_http.c call instead of naming
 * functions up here (or the standby's, beside them); set before the
 * first load. */
static void master_hooks(struct master *m)
{
    m->plugin_hooks.routes_changed = master_on_routes_changed;
    m->plugin_hooks.port_filter = standby_plugin_filter;
    m->plugin_hooks.port_gate = master_auth_plugin_gate;
    m->plugin_hooks.port_closing = master_on_port_closing;
    m->plugin_hooks.arg = m;
    m->request_reload = master_request_reload;
    m->request_abdicate = master_leader_abdicate;
}

/* libev runs these on the loop; the process signal handler only noted it. */
static void master_on_sighup(struct ev_loop *loop, ev_signal *w, int events)
{
    (void)loop;
    (void)events;
    master_torn_down_clear(w->data); /* the operator's reload brings them */
    master_request_reload(w->data);
}

static void master_on_sigterm(struct ev_loop *loop, ev_signal *w, int events)
{
    struct master *m = w->data;

    (void)events;
    log_info("master", "signal %d: shutting down", w->signum);
    m->stopping = 1;
    ev_break(loop, EVBREAK_ALL);
}

/*
 * Bursts (100,000 task updates parsed in a second) leave the C heap
 * holding memory that is free again; glibc returns it to the system
 * only when asked. Every few seconds it is asked, so the master's RSS
 * tracks what it really holds.
 */
static void master_on_trim(struct ev_loop *loop, ev_timer *w, int events)
{
    (void)loop;
    (void)w;
    (void)events;
    malloc_trim(0);
}

static void master_signals(struct master *m)
{
    signal(SIGPIPE, SIG_IGN);
    ev_signal_init(&m->sig_hup, master_on_sighup, SIGHUP);
    ev_signal_init(&m->sig_term, master_on_sigterm, SIGTERM);
    ev_signal_init(&m->sig_int, master_on_sigterm, SIGINT);
    m->sig_hup.data = m->sig_term.data = m->sig_int.data = m;
    ev_signal_start(m->loop, &m->sig_hup);
    ev_signal_start(m->loop, &m->sig_term);
    ev_signal_start(m->loop, &m->sig_int);
}

/* As many connections as descriptors allow, less a margin for the
 * store, plugins and logs: each agent holds one connection. */
static unsigned master_max_conns(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < 1024)
        return 900;
    if (rl.rlim_cur > 1000000)
        return 1000000;
    return (unsigned)rl.rlim_cur - 128;
}

static int master_listen(struct master *m)
{
    struct http_server_conf hc;
    int rc;

    if (m->conf.port < 0 || m->conf.port > 65535) {
        log_error("master", "--port %lld is not 0..65535",
                  (long long)m->conf.port);
        return AGORA_EINVAL;
    }
    memset(&hc, 0, sizeof(hc));
    hc.name = "master";
    hc.ip = m->conf.ip;
    hc.port = (uint16_t)m->conf.port;
    hc.max_body = (size_t)m->conf.max_body_size;
    hc.conn_memory = (size_t)m->conf.http_connection_memory;
    hc.max_conns = m->conf.http_max_connections > 0
                       ? (unsigned)m->conf.http_max_connections
                       : master_max_conns();
    if (m->conf.http_max_connections_per_ip < 0 ||
        m->conf.http_max_connections < 0 || m->conf.http_header_timeout <= 0) {
        log_error("master", "--http_max_connections, "
                            "--http_max_connections_per_ip and "
                            "--http_header_timeout must not be negative");
        return AGORA_EINVAL;
    }
    hc.max_conns_per_ip = (unsigned)m->conf.http_max_connections_per_ip;
    hc.header_timeout = m->conf.http_header_timeout;
    hc.idle_timeout = 6 * m->conf.http_header_timeout;
    if (m->conf.http_stream_budget < 65536) {
        log_error("master", "--http_stream_budget must be at least 65536");
        return AGORA_EINVAL;
    }
    http_set_stream_budget((size_t)m->conf.http_stream_budget);
    if (master_http_routes(m, &m->router) < 0)
        return AGORA_ENOMEM;
    if ((rc = master_auth_start(m)) < 0)
        return rc;
    master_auth_tls_conf(m, &hc);
    if ((rc = http_server_start(m->loop, &hc, &m->router, &m->http)) < 0)
        return rc;
    http_server_set_gate(m->http, master_auth_gate, m);
    return 0;
}

static int master_dirs(struct master *m)
{
    char *plugins;
    int rc;

    if (m->conf.hostname == NULL || m->conf.hostname[0] == '\0') {
        char host[256];

        if (gethostname(host, sizeof(host)) < 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        free(m->conf.hostname);
        if ((m->conf.hostname = strdup(host)) == NULL)
            return AGORA_ENOMEM;
    }
    if ((m->advertise_ip = netaddr_advertise(m->conf.ip)) == NULL)
        return AGORA_ENOMEM;
    if (asprintf(&plugins, "%s/plugins", m->conf.work_dir) < 0)
        return AGORA_ENOMEM;
    rc = fs_mkdirs(plugins, 0755) == 0 ? 0 : AGORA_EIO;
    if (rc < 0)
        log_error("master", "cannot create %s: %s", plugins, strerror(errno));
    if (rc == 0)
        master_clean_plugin_copies(plugins);
    free(plugins);
    return rc;
}

int master_start(struct master *m, struct ev_loop *loop,
                 struct master_conf *conf)
{
    int rc, level;

    memset(m, 0, sizeof(*m));
    m->loop = loop;
    m->conf = *conf;
    memset(conf, 0, sizeof(*conf));
    level = log_level_parse(m->conf.log_level);
    if (level < 0) {
        log_error("master", "--log_level '%s' is not debug, info, warn or "
                            "error", m->conf.log_level);
        return AGORA_EINVAL;
    }
    log_set_level((enum agora_log_level)level);
    /* The loop's clock, as every later time of the master (elected_time
     * among them) is read: so none can come out before the start. */
    ev_now_update(loop);
    m->start_time = ev_now(loop);
    events_init(&m->events, loop, m->conf.event_keepalive);
    uuid_v4(m->id);
    ev_init(&m->reload_timer, master_on_reload);
    m->reload_timer.data = m;
    master_hooks(m);
    rc = master_dirs(m);
    tasks_init(m);
    if (rc == 0)
        rc = master_state_open(m);
    if (rc == 0)
        rc = master_listen(m);
    if (rc == 0)
        rc = offers_start(m);
    if (rc == 0)
        rc = agent_proto_start(m);
    if (rc < 0)
        return rc;
    master_signals(m);
    ev_timer_init(&m->trim_timer, master_on_trim, 5., 5.);
    ev_timer_start(m->loop, &m->trim_timer);
    http_server_set_filter(m->http, standby_http_filter, m);
    log_info("master", "agora-master %s (id %s) listening on %s:%u, "
                       "store %s, conf_dir %s",
             AGORA_VERSION, m->id, m->conf.ip, http_server_port(m->http),
             store_backend_name(m->store), m->conf.conf_dir);
    plugins_load(m, 0);
    rc = master_mount_routes(m);
    return rc == 0 ? master_leader_start(m) : rc;
}

void master_stop(struct master *m)
{
    m->stopping = 1;
    ev_timer_stop(m->loop, &m->reload_timer);
    ev_timer_stop(m->loop, &m->trim_timer);
    ev_signal_stop(m->loop, &m->sig_hup);
    ev_signal_stop(m->loop, &m->sig_term);
    ev_signal_stop(m->loop, &m->sig_int);
    agents_stop(m);
    /* Plugins go first: their fini may still write to the store, and
     * releasing their subscriptions needs the event bus still there. */
    plugins_unload_all(m);
    plugin_io_close(m);
    events_close(&m->events);
    api_v1_close_all(m);
    policy_stop(m);
    maint_free(m);
    master_auth_stop(m);
    master_torn_down_clear(m);
    frameworks_free(m);
    tasks_free(m);
    alloc_free(m->alloc);
    standby_close(m); /* its held requests, before the server's */
    if (m->http)
        http_server_stop(m->http);
    master_ui_close(m); /* after the server ended its proxied requests */
    master_state_close(m);
    router_free(&m->router);
    metrics_free(&m->metrics);
    conf_release(master_flags, &m->conf);
    free(m->advertise_ip);
    log_info("master", "stopped");
}
