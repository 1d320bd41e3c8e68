/*
 * master_http.c - the master's own endpoints.
 *
 *   GET  /health             200 "ok"
 *   GET  /version            build and ABI versions
 *   GET  /master/state       the master, its plugins, frameworks, agents
 *   GET  /master/frameworks  the frameworks, and the completed ones
 *   GET  /metrics/snapshot   flat JSON of Mesos-style keys
 *   GET  /plugins            the loaded plugins
 *   POST /master/reload      asks for a plugin reload (as SIGHUP does)
 *   GET  /master/events      server-sent events of the master
 *   GET  /master/redirect    307 to the leading master
 *
 * The Mesos endpoints among them, and /master/slaves, /tasks, /roles,
 * /flags and /state-summary (master_mesos.c), are also at the root and
 * with .json, as Mesos serves them.
 */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agent_proto.h"
#include "agents.h"
#include "alloc.h"
#include "conf.h"
#include "http.h"
#include "leader.h"
#include "log.h"
#include "clock.h"
#include "master.h"
#include "master_auth.h"
#include "master_http.h"
#include "master_api_v1.h"
#include "master_mesos.h"
#include "master_teardown.h"
#include "master_ui.h"
#include "standby.h"
#include "store.h"

#define M(arg) ((struct master *)(arg))

/* 200 "ok", or 503 naming the first plugin that says it is not ready
 * (load balancers and Marathon's clients poll it). */
static void h_health(void *arg, struct http_req *req)
{
    struct master *m = M(arg);
    size_t i;

    for (i = 0; i < m->gen.n; i++) {
        struct plugin *p = m->gen.v[i];

        if (p->live && p->not_ready) {
            http_reply_errorf(req, 503, "plugin %s is not ready: %s", p->name,
                              p->not_ready);
            return;
        }
    }
    http_reply(req, 200, "text/plain", "ok", 2);
}

static void h_version(void *arg, struct http_req *req)
{
    struct agora_jw *w = agora_jw_new();
    char abi[32];

    (void)arg;
    snprintf(abi, sizeof(abi), "%d.%d", AGORA_ABI_MAJOR, AGORA_ABI_MINOR);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "version", AGORA_VERSION);
    agora_jw_kstr(w, "plugin_abi", abi);
    master_mesos_write_build(w);
    agora_jw_obj_close(w);
    http_reply_jw(req, 200, w);
}

/* "master@10.0.0.1:5050", as Mesos names a master's process. */
static void master_pid(struct master *m, char *out, size_t len)
{
    snprintf(out, len, "master@%s:%u", m->advertise_ip,
             (unsigned)m->conf.port);
}

static void write_plugin(struct agora_jw *w, struct plugin *p)
{
    char abi[32], line[600];
    size_t i;

    snprintf(abi, sizeof(abi), "%u.%u", p->desc->abi_major,
             p->desc->abi_minor);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "name", p->name);
    agora_jw_kstr(w, "version", p->version);
    agora_jw_kstr(w, "description", p->desc->description);
    agora_jw_kstr(w, "abi", abi);
    agora_jw_kstr(w, "file", p->file);
    agora_jw_kstr(w, "conf", p->conf.path);
    agora_jw_kint(w, "port", p->port);
    agora_jw_knum(w, "loaded_time", p->loaded_at);
    agora_jw_kbool(w, "ready", p->not_ready == NULL);
    if (p->not_ready)
        agora_jw_kstr(w, "not_ready_reason", p->not_ready);
    agora_jw_key(w, "routes");
    agora_jw_arr_open(w);
    for (i = 0; i < p->nroutes; i++) {
        snprintf(line, sizeof(line), "%s /%s%s", p->desc->routes[i].method,
                 p->name, p->desc->routes[i].path);
        agora_jw_str(w, line);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
}

static void write_plugins(struct agora_jw *w, struct master *m)
{
    size_t i;

    agora_jw_arr_open(w);
    for (i = 0; i < m->gen.n; i++)
        write_plugin(w, m->gen.v[i]);
    agora_jw_arr_close(w);
}

/* "leader" (Mesos' pid of the leader) and "leader_info", when known. */
static void write_leader(struct agora_jw *w, struct master *m)
{
    const char *cur = m->leader ? leader_current(m->leader) : NULL;
    char *ip, *host, pid[320];
    int64_t port;
    yajl_val doc;

    if (standby_leader_info(m, &ip, &port, &host, &doc) < 0)
        return;
    snprintf(pid, sizeof(pid), "master@%s:%lld", ip, (long long)port);
    agora_jw_kstr(w, "leader", pid);
    agora_jw_key(w, "leader_info");
    if (!m->elected && cur) {
        agora_jw_raw(w, cur, strlen(cur));
    } else {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "id", m->id);
        agora_jw_kstr(w, "hostname", host);
        agora_jw_kstr(w, "ip", ip);
        agora_jw_kint(w, "port", port);
        agora_jw_kstr(w, "version", AGORA_VERSION);
        agora_jw_obj_close(w);
    }
    if (doc)
        yajl_tree_free(doc);
}

/* Each framework's tasks in its object of /master/state and
 * /master/frameworks, as Mesos lists them. */
static void write_fw_tasks(void *arg, struct agora_jw *w,
                           const struct agora_framework *fw)
{
    tasks_write_of_framework(M(arg), w, fw->id);
}

static void h_state(void *arg, struct http_req *req)
{
    struct master *m = M(arg);
    struct agora_jw *w = agora_jw_new();
    char pid[300];

    master_pid(m, pid, sizeof(pid));
    master_view_begin(m, req);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "version", AGORA_VERSION);
    master_mesos_write_build(w);
    agora_jw_kstr(w, "id", m->id);
    agora_jw_kstr(w, "pid", pid);
    agora_jw_kstr(w, "hostname", m->conf.hostname);
    agora_jw_knum(w, "start_time", m->start_time);
    agora_jw_kbool(w, "elected", m->elected);
    if (m->elected)
        agora_jw_knum(w, "elected_time", m->elected_time);
    write_leader(w, m);
    agora_jw_kstr(w, "store", store_backend_name(m->store));
    agora_jw_kint(w, "plugin_generation", (int64_t)m->gen.id);
    agora_jw_key(w, "plugins");
    write_plugins(w, m);
    agora_jw_kint(w, "activated_slaves", (int64_t)agents_count_active(m));
    agora_jw_kint(w, "deactivated_slaves",
                  (int64_t)(agents_count_known(m) - agents_count_active(m)));
    /* As Mesos: the flags only for who may see them. */
    if (acls_allow(&m->acls, ACL_GET_FLAGS, http_req_principal(req), NULL)) {
        agora_jw_key(w, "flags");
        conf_write_json(master_flags, &m->conf, w);
    }
    agora_jw_key(w, "frameworks");
    frameworks_write(m, w, write_fw_tasks, m);
    agora_jw_key(w, "completed_frameworks");
    frameworks_write_completed(m, w);
    agora_jw_key(w, "slaves");
    agents_write(m, w);
    agora_jw_key(w, "roles");
    alloc_write_roles(m->alloc, w);
    master_mesos_state_lists(m, w);
    agora_jw_obj_close(w);
    master_view_end(m);
    http_reply_jw(req, 200, w);
}

static void h_frameworks(void *arg, struct http_req *req)
{
    struct agora_jw *w = agora_jw_new();

    master_view_begin(M(arg), req);
    agora_jw_obj_open(w);
    agora_jw_key(w, "frameworks");
    frameworks_write(M(arg), w, write_fw_tasks, arg);
    agora_jw_key(w, "completed_frameworks");
    frameworks_write_completed(M(arg), w);
    agora_jw_key(w, "unregistered_frameworks");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    master_view_end(M(arg));
    http_reply_jw(req, 200, w);
}

static void h_plugins(void *arg, struct http_req *req)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_obj_open(w);
    agora_jw_kint(w, "generation", (int64_t)M(arg)->gen.id);
    agora_jw_key(w, "plugins");
    write_plugins(w, M(arg));
    agora_jw_obj_close(w);
    http_reply_jw(req, 200, w);
}

static void write_http_metrics(struct agora_jw *w, struct master *m)
{
    struct http_stats st;
    size_t i, pending;
    uint64_t cut;

    http_server_stats(m->http, &st);
    /* Plugin listeners count too: every request the process served. */
    for (i = 0; i < m->gen.n; i++) {
        struct http_stats ps;

        if (m->gen.v[i]->srv == NULL)
            continue;
        http_server_stats(m->gen.v[i]->srv, &ps);
        st.requests += ps.requests;
        st.status_2xx += ps.status_2xx;
        st.status_3xx += ps.status_3xx;
        st.status_4xx += ps.status_4xx;
        st.status_5xx += ps.status_5xx;
        st.streams_open += ps.streams_open;
        st.deferred_open += ps.deferred_open;
        st.conns_open += ps.conns_open;
        st.refused_per_ip += ps.refused_per_ip;
        st.refused_reserve += ps.refused_reserve;
        st.header_timeouts += ps.header_timeouts;
        st.evicted += ps.evicted;
    }
    agora_jw_kint(w, "master/http_requests", (int64_t)st.requests);
    agora_jw_kint(w, "master/http_responses_2xx", (int64_t)st.status_2xx);
    agora_jw_kint(w, "master/http_responses_3xx", (int64_t)st.status_3xx);
    agora_jw_kint(w, "master/http_responses_4xx", (int64_t)st.status_4xx);
    agora_jw_kint(w, "master/http_responses_5xx", (int64_t)st.status_5xx);
    agora_jw_kint(w, "master/http_streams_open", (int64_t)st.streams_open);
    agora_jw_kint(w, "master/http_deferred_open", (int64_t)st.deferred_open);
    agora_jw_kint(w, "master/http_connections", (int64_t)st.conns_open);
    agora_jw_kint(w, "master/http_connections_refused_per_ip",
                  (int64_t)st.refused_per_ip);
    agora_jw_kint(w, "master/http_connections_refused_reserve",
                  (int64_t)st.refused_reserve);
    agora_jw_kint(w, "master/http_header_timeouts",
                  (int64_t)st.header_timeouts);
    agora_jw_kint(w, "master/http_connections_evicted", (int64_t)st.evicted);
    http_stream_budget_stats(&pending, &cut);
    agora_jw_kint(w, "master/http_stream_pending_bytes", (int64_t)pending);
    agora_jw_kint(w, "master/http_streams_cut", (int64_t)cut);
}

static void write_store_metrics(struct agora_jw *w, struct master *m)
{
    struct store_stats st;

    store_get_stats(m->store, &st);
    agora_jw_kint(w, "master/store_gets", (int64_t)st.gets);
    agora_jw_kint(w, "master/store_puts", (int64_t)st.puts);
    agora_jw_kint(w, "master/store_deletes", (int64_t)st.deletes);
    agora_jw_kint(w, "master/store_lists", (int64_t)st.lists);
    agora_jw_kint(w, "master/store_errors", (int64_t)st.errors);
    agora_jw_kint(w, "master/store_pending", (int64_t)st.pending);
}

/* How often the heap figures are read again: mallinfo2() walks every
 * free chunk of the heap, 42-75% of the master's CPU with a 220 MB heap
 * polled ten times a second (scripts/bench/chronos). */
#define HEAP_READ_INTERVAL 1.0

/* The C heap: in use, and free but still held by the process, as read
 * at most every HEAP_READ_INTERVAL seconds. */
static void write_heap_metrics(struct master *m, struct agora_jw *w)
{
    static struct mallinfo2 mi;
    static double read_at = -HEAP_READ_INTERVAL;
    double now = master_now(m);

    if (now - read_at >= HEAP_READ_INTERVAL || now < read_at) {
        mi = mallinfo2();
        read_at = now;
    }
    agora_jw_kint(w, "master/heap_in_use_bytes", (int64_t)mi.uordblks);
    agora_jw_kint(w, "master/heap_free_bytes", (int64_t)mi.fordblks);
}

void master_write_metrics(struct master *m, struct agora_jw *w)
{
    agora_jw_obj_open(w);
    agora_jw_knum(w, "master/uptime_secs", master_now(m) - m->start_time);
    agora_jw_kint(w, "master/elected", m->elected);
    agora_jw_kint(w, "master/plugins_loaded", (int64_t)m->gen.n);
    agora_jw_kint(w, "master/plugin_generation", (int64_t)m->gen.id);
    agora_jw_kint(w, "master/plugin_reloads", (int64_t)m->reloads);
    agora_jw_kint(w, "master/plugin_reload_failures",
                  (int64_t)m->reload_failures);
    agora_jw_kint(w, "master/event_subscribers", (int64_t)m->events.nsubs);
    agora_jw_kint(w, "master/events_published",
                  (int64_t)m->events.published);
    write_http_metrics(w, m);
    write_store_metrics(w, m);
    write_heap_metrics(m, w);
    agents_write_metrics(m, w);
    tasks_write_metrics(m, w);
    alloc_write_metrics(m->alloc, w);
    master_mesos_metrics(m, w);
    metrics_write(&m->metrics, w);
    agora_jw_obj_close(w);
}

static void h_metrics(void *arg, struct http_req *req)
{
    struct agora_jw *w = agora_jw_new();

    master_write_metrics(M(arg), w);
    http_reply_jw(req, 200, w);
}

static void h_roles(void *arg, struct http_req *req)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_obj_open(w);
    agora_jw_key(w, "roles");
    alloc_write_roles(M(arg)->alloc, w);
    agora_jw_obj_close(w);
    http_reply_jw(req, 200, w);
}

static void h_reload(void *arg, struct http_req *req)
{
    if (!master_auth_allow(M(arg), req, ACL_RELOAD_PLUGINS, NULL)) {
        master_auth_forbid(req);
        return;
    }
    master_torn_down_clear(M(arg)); /* the operator's reload brings them */
    M(arg)->request_reload(M(arg));
    http_reply(req, 202, NULL, "{\"message\":\"reload requested\"}", 30);
}

static void h_events(void *arg, struct http_req *req)
{
    if (events_subscribe(&M(arg)->events, req) < 0)
        http_reply_error(req, 500, "cannot open the event stream");
}

/* Mesos' /master/redirect: 307 to the leader ("//host:port"). */
static void h_redirect(void *arg, struct http_req *req)
{
    struct master *m = M(arg);
    char *ip, *host, loc[320];
    int64_t port;
    yajl_val doc;

    if (standby_leader_info(m, &ip, &port, &host, &doc) < 0) {
        http_reply_error(req, 503, "no leading master is known yet");
        return;
    }
    snprintf(loc, sizeof(loc), "//%s:%lld", host, (long long)port);
    if (doc)
        yajl_tree_free(doc);
    http_reply_header(req, "Location", loc);
    http_reply(req, 307, "text/plain", "", 0);
}

int master_http_routes(struct master *m, struct router *r)
{
    static const struct {
        const char *method, *path;
        http_handler_fn fn;
    } routes[] = {
        {"GET", "/version", h_version},
        {"GET", "/metrics/snapshot", h_metrics},
        {"GET", "/plugins", h_plugins},
        {"POST", "/master/reload", h_reload},
        {"GET", "/master/events", h_events},
        {"POST", "/api/agent/subscribe", agent_proto_http_subscribe},
        {"POST", "/api/agent/updates", agent_proto_http_updates},
        {"GET", "/master/agents", agents_http_list},
        {"POST", "/api/v1", master_api_v1},
    };
    /* Mesos' master endpoints: each under /master/, at the root and
     * with .json (master_mesos_alias). */
    static const struct {
        const char *name;
        http_handler_fn fn;
    } mesos[] = {
        {"health", h_health},
        {"state", h_state},
        {"state-summary", master_mesos_state_summary},
        {"frameworks", h_frameworks},
        {"slaves", agents_http_slaves},
        {"tasks", tasks_http_list},
        {"roles", h_roles},
        {"flags", master_mesos_flags},
        {"redirect", h_redirect},
    };
    size_t i;
    int rc;

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        rc = router_add(r, routes[i].method, NULL, routes[i].path,
                        (void *)routes[i].fn, m);
        if (rc < 0)
            return rc;
    }
    for (i = 0; i < sizeof(mesos) / sizeof(mesos[0]); i++) {
        rc = master_mesos_alias(r, "GET", mesos[i].name, mesos[i].fn, m);
        if (rc < 0)
            return rc;
    }
    rc = master_ui_routes(m, r);
    if (rc < 0)
        return rc;
    return policy_routes(m, r);
}
