/*
 * agent_http.c - the agent's endpoints, in the shapes of the Mesos agent.
 *
 *   GET /health                      200 "ok"
 *   GET /version                     {"version": ...}
 *   GET /state, /state.json          the agent, its frameworks and tasks
 *   GET /flags                       {"flags": {...}}
 *   GET /files/browse?path=          listing (files.h), Mesos shape
 *   GET /files/read?path=&offset=&length=   {"data", "offset"}
 *   GET /files/download?path=        the raw file
 *   GET /files/debug                 the virtual path map
 *   GET /monitor/statistics[.json]   usage of each live task
 *   GET /metrics/snapshot            flat JSON of slave/... and system/...
 *   POST /api/v1                     the v1 operator API (api_v1.h)
 * The Mesos spellings /slave(1)/<endpoint> and the legacy names
 * /files/browse.json and so on are routed too. ?jsonp= is not honoured
 * (the Mesos UI used it): a script tag of any web page could read the
 * sandboxes through it; a browser UI reads the agent through the master.
 *
 * /state is written by state_json.c (its header has the shape).
 *
 * /files/read: a missing offset is 0 (Mesos reads it as -1, the size);
 * data is UTF-8 text as files_utf8_clean() makes it.
 * /files/download: files up to FILES_DOWNLOAD_MAX are sent, read from the
 * file as the socket drains (http_reply_fd), bigger ones get 413; use
 * /files/read for those.
 *
 * /metrics/snapshot, a subset of the Mesos agent's keys:
 *   slave/uptime_secs, slave/registered, slave/frameworks_active,
 *   slave/executors_terminated, slave/valid_status_updates,
 *   slave/tasks_<state> for every state (terminal
 *   states count the tasks /state shows, not every task that ever ended
 *   as Mesos' counters do), slave/executors_running, slave/{cpus,mem,
 *   disk,gpus}_{total,used,percent} (used: live tasks' resources),
 *   slave/http_requests, slave/http_responses_{2,3,4,5}xx, system/
 *   cpus_total, system/mem_{total,free}_bytes, system/load_{1,5,15}min;
 * and agora's own agent/master_http_{requests,connects,reused,retries,
 * lookups}: the requests to the masters (http_client.h's counters), and
 * agent/status_updates_{pending,sent,acked}: updates waiting for their
 * ack now, and (since the start) sent (re-sends counted) and acked.
 */
#include "agent_http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/resources.h>
#include <agora/sdk.h>

#include "agent.h"
#include "api_v1.h"
#include "exec.h"
#include "files.h"
#include "http.h"
#include "http_client.h"
#include "link.h"
#include "log.h"
#include "map.h"
#include "state_json.h"
#include "task.h"
#include "updates.h"

#define A(arg) ((struct agent *)(arg))

/* Connections one client address may hold on the agent's API. */
#define AGENT_HTTP_CONNS_PER_IP 256

/* ---- replies ---- */

/* Answers with the writer's document, or 500 if it failed. Frees w. */
static void reply_jw(struct http_req *req, int status, struct agora_jw *w)
{
    http_reply_jw(req, status, w);
}

char *agent_sandboxes_dir(const struct agent *a)
{
    char *p;

    if (asprintf(&p, "%s/sandboxes", a->conf.work_dir) < 0)
        return NULL;
    return p;
}

static unsigned agent_port(const struct agent *a)
{
    return a->http ? http_server_port(a->http) : (unsigned)a->conf.port;
}

static void h_health(void *arg, struct http_req *req)
{
    (void)arg;
    http_reply(req, 200, "text/plain", "ok", 2);
}

static void h_version(void *arg, struct http_req *req)
{
    struct agora_jw *w = agora_jw_new();

    (void)arg;
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "version", AGORA_VERSION);
    agora_jw_kstr(w, "build_date", __DATE__ " " __TIME__);
    agora_jw_obj_close(w);
    reply_jw(req, 200, w);
}

static void h_state(void *arg, struct http_req *req)
{
    struct agora_jw *w = agora_jw_new();

    state_json_write(w, A(arg), agent_port(A(arg)));
    reply_jw(req, 200, w);
}

static void h_flags(void *arg, struct http_req *req)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_obj_open(w);
    agora_jw_key(w, "flags");
    state_json_flags(w, A(arg));
    agora_jw_obj_close(w);
    reply_jw(req, 200, w);
}

/* ---- /monitor/statistics ---- */

static void write_usage(struct agora_jw *w, const struct agent_task *t,
                        const struct exec_usage *u)
{
    char name[300];

    state_json_executor_name(t, name, sizeof(name));
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "executor_id", t->id);
    agora_jw_kstr(w, "executor_name", name);
    agora_jw_kstr(w, "framework_id", t->framework_id);
    agora_jw_kstr(w, "source", t->id);
    agora_jw_key(w, "statistics");
    state_json_statistics(w, u);
    agora_jw_obj_close(w);
}

static void h_statistics(void *arg, struct http_req *req)
{
    struct agent *a = A(arg);
    struct agora_jw *w = agora_jw_new();
    struct exec_usage u;
    const char *key;
    void *val;
    size_t pos = 0;

    agora_jw_arr_open(w);
    while (map_next(&a->tasks, &pos, &key, &val)) {
        struct agent_task *t = val;

        if (agora_task_state_terminal(t->state))
            continue;
        memset(&u, 0, sizeof(u));
        if (exec_usage(a->exec, t, &u) != 0)
            continue; /* not started, or gone meanwhile */
        write_usage(w, t, &u);
    }
    agora_jw_arr_close(w);
    reply_jw(req, 200, w);
}

/* ---- /metrics/snapshot ---- */

/* "slave/tasks_running" for AGORA_TASK_RUNNING. */
static void tasks_key(enum agora_task_state s, char *out, size_t len)
{
    const char *name = agora_task_state_name(s);
    size_t i;

    if (strncmp(name, "TASK_", 5) == 0)
        name += 5;
    snprintf(out, len, "slave/tasks_%s", name);
    for (i = 0; out[i]; i++)
        out[i] = (char)tolower((unsigned char)out[i]);
}

static void write_task_metrics(struct agora_jw *w, const struct agent *a)
{
    static const char *const kinds[] = {"cpus", "mem", "disk", "gpus"};
    uint64_t count[AGORA_TASK_STATE_COUNT] = {0};
    const struct agent_task *t;
    struct map fws = MAP_INIT; /* frameworks with a live task */
    double used[4] = {0};
    const char *key;
    void *val;
    char name[64];
    size_t pos = 0, k, live = 0, ended = 0;
    int s;

    while (map_next(&a->tasks, &pos, &key, &val)) {
        t = val;
        if ((int)t->state >= 0 && t->state < AGORA_TASK_STATE_COUNT)
            count[t->state]++;
        if (agora_task_state_terminal(t->state)) {
            ended++;
            continue;
        }
        live++;
        if (t->framework_id)
            map_put(&fws, t->framework_id, NULL, NULL);
        for (k = 0; k < 4; k++)
            used[k] += agora_resources_scalar(&t->resources, kinds[k]);
    }
    for (k = 0; (t = agent_completed(a, k)) != NULL; k++) {
        if ((int)t->state >= 0 && t->state < AGORA_TASK_STATE_COUNT)
            count[t->state]++;
        ended++;
    }
    for (s = 0; s < AGORA_TASK_STATE_COUNT; s++) {
        tasks_key((enum agora_task_state)s, name, sizeof(name));
        agora_jw_kint(w, name, (int64_t)count[s]);
    }
    /* Each task has an executor of its own (its shim). */
    agora_jw_kint(w, "slave/executors_running", (int64_t)live);
    agora_jw_kint(w, "slave/executors_terminated", (int64_t)ended);
    agora_jw_kint(w, "slave/frameworks_active", (int64_t)fws.len);
    map_free(&fws);
    for (k = 0; k < 4; k++) {
        double total = agora_resources_scalar(&a->total, kinds[k]);

        snprintf(name, sizeof(name), "slave/%s_total", kinds[k]);
        agora_jw_knum(w, name, total);
        snprintf(name, sizeof(name), "slave/%s_used", kinds[k]);
        agora_jw_knum(w, name, used[k]);
        snprintf(name, sizeof(name), "slave/%s_percent", kinds[k]);
        agora_jw_knum(w, name, total > 0 ? used[k] / total : 0);
    }
}

/* The HTTP client's counters: are updates POSTs reusing connections? */
static void write_client_metrics(struct agora_jw *w, const struct agent *a)
{
    struct hc_stats st;

    if (a->hc == NULL)
        return;
    hc_get_stats(a->hc, &st);
    agora_jw_kint(w, "agent/master_http_requests", (int64_t)st.requests);
    agora_jw_kint(w, "agent/master_http_connects", (int64_t)st.connects);
    agora_jw_kint(w, "agent/master_http_reused", (int64_t)st.reused);
    agora_jw_kint(w, "agent/master_http_retries", (int64_t)st.retries);
    agora_jw_kint(w, "agent/master_http_lookups", (int64_t)st.lookups);
}

/* Status updates: how many wait for the master's ack (explicit
 * acknowledgements keep them waiting until the framework acknowledges). */
static void write_update_metrics(struct agora_jw *w, const struct agent *a)
{
    struct updates_stats st;

    if (a->updates == NULL)
        return;
    updates_get_stats(a, &st);
    agora_jw_kint(w, "agent/status_updates_pending", (int64_t)st.pending);
    agora_jw_kint(w, "agent/status_updates_sent", (int64_t)st.sent);
    agora_jw_kint(w, "agent/status_updates_acked", (int64_t)st.acked);
    /* Mesos counts the updates its executors sent that it took. */
    agora_jw_kint(w, "slave/valid_status_updates", (int64_t)st.created);
}

static void write_system_metrics(struct agora_jw *w)
{
    struct sysinfo si;
    double load[3];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    agora_jw_kint(w, "system/cpus_total", cpus > 0 ? cpus : 0);
    if (sysinfo(&si) == 0) {
        agora_jw_kint(w, "system/mem_total_bytes",
                      (int64_t)si.totalram * (int64_t)si.mem_unit);
        agora_jw_kint(w, "system/mem_free_bytes",
                      (int64_t)si.freeram * (int64_t)si.mem_unit);
    }
    if (getloadavg(load, 3) == 3) {
        agora_jw_knum(w, "system/load_1min", load[0]);
        agora_jw_knum(w, "system/load_5min", load[1]);
        agora_jw_knum(w, "system/load_15min", load[2]);
    }
}

void agent_http_metrics(struct agora_jw *w, struct agent *a)
{
    struct http_stats st;

    agora_jw_obj_open(w);
    agora_jw_knum(w, "slave/uptime_secs", agent_now(a) - a->start_time);
    agora_jw_kint(w, "slave/registered", link_subscribed(a));
    write_task_metrics(w, a);
    if (a->http) {
        http_server_stats(a->http, &st);
        agora_jw_kint(w, "slave/http_requests", (int64_t)st.requests);
        agora_jw_kint(w, "slave/http_responses_2xx", (int64_t)st.status_2xx);
        agora_jw_kint(w, "slave/http_responses_3xx", (int64_t)st.status_3xx);
        agora_jw_kint(w, "slave/http_responses_4xx", (int64_t)st.status_4xx);
        agora_jw_kint(w, "slave/http_responses_5xx", (int64_t)st.status_5xx);
    }
    write_client_metrics(w, a);
    write_update_metrics(w, a);
    write_system_metrics(w);
    agora_jw_obj_close(w);
}

static void h_metrics(void *arg, struct http_req *req)
{
    struct agora_jw *w = agora_jw_new();

    agent_http_metrics(w, A(arg));
    reply_jw(req, 200, w);
}

/* ---- /files ---- */

/* The path= argument, or NULL after answering 400. */
static const char *query_path(struct http_req *req)
{
    const char *p = http_req_query(req, "path", 0);

    if (p == NULL || *p == '\0') {
        http_reply_error(req, 400, "expecting 'path=value' in query");
        return NULL;
    }
    return p;
}

/* A query integer: 0 with *out (def when absent), or -1 after 400. */
static int query_i64(struct http_req *req, const char *name, int64_t def,
                     int64_t *out)
{
    const char *s = http_req_query(req, name, 0);
    char *end;
    long long v;

    *out = def;
    if (s == NULL)
        return 0;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0) {
        http_reply_errorf(req, 400, "failed to parse %s: '%s'", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* The sandboxes' root (the caller frees it) and a writer for a /files
 * query: 0, or 500 with err filled when memory is short. */
static int files_start(const struct agent *a, char **root,
                       struct agora_jw **w, char *err, size_t errlen)
{
    *root = agent_sandboxes_dir(a);
    *w = agora_jw_new();
    if (*root != NULL && *w != NULL)
        return 0;
    snprintf(err, errlen, "out of memory");
    return 500;
}

/* Answers a /files query: w's document when st is 0, else st and err.
 * Frees w. */
static void reply_files(struct http_req *req, int st, struct agora_jw *w,
                        const char *err)
{
    if (st != 0) {
        agora_jw_free(w);
        http_reply_error(req, st, err);
        return;
    }
    reply_jw(req, 200, w);
}

static void h_browse(void *arg, struct http_req *req)
{
    const char *path = query_path(req);
    struct agora_jw *w;
    char err[256], *root;
    int st, truncated = 0;

    if (path == NULL)
        return;
    st = files_start(A(arg), &root, &w, err, sizeof(err));
    if (st == 0)
        st = files_browse(root, path, w, &truncated, err, sizeof(err));
    free(root);
    if (st == 0 && truncated)
        http_reply_header(req, "X-Agora-Truncated", "true");
    reply_files(req, st, w, err);
}

static void h_read(void *arg, struct http_req *req)
{
    const char *path = query_path(req);
    struct agora_jw *w;
    int64_t offset, length;
    char err[256], *root;
    int st;

    if (path == NULL || query_i64(req, "offset", 0, &offset) < 0 ||
        query_i64(req, "length", -1, &length) < 0)
        return;
    st = files_start(A(arg), &root, &w, err, sizeof(err));
    if (st == 0)
        st = files_read(root, path, offset, length, w, err, sizeof(err));
    free(root);
    reply_files(req, st, w, err);
}

/* Content-Disposition for the file's last component, with anything that
 * could break the header replaced. */
static void disposition(const char *real, char *out, size_t len)
{
    const char *base = strrchr(real, '/');
    char name[256];
    size_t i;

    snprintf(name, sizeof(name), "%s", base ? base + 1 : real);
    for (i = 0; name[i]; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == '"' ||
            name[i] == '\\' || name[i] == 0x7f)
            name[i] = '_';
    snprintf(out, len, "attachment; filename=\"%s\"", name);
}

static void h_download(void *arg, struct http_req *req)
{
    const char *path = query_path(req);
    struct stat st;
    char err[256], disp[512], *root, *real = NULL;
    int fd, rc;

    if (path == NULL)
        return;
    root = agent_sandboxes_dir(A(arg));
    if (root == NULL) {
        http_reply_error(req, 500, "out of memory");
        return;
    }
    rc = files_open(root, path, &fd, &st, &real, err, sizeof(err));
    free(root);
    if (rc != 0) {
        http_reply_error(req, rc, err);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        http_reply_error(req, 400, "cannot download a directory");
    } else if ((int64_t)st.st_size > FILES_DOWNLOAD_MAX) {
        http_reply_errorf(req, 413,
                          "file is %lld bytes, over the %lld of a download;"
                          " read it in pieces with /files/read",
                          (long long)st.st_size, (long long)FILES_DOWNLOAD_MAX);
    } else {
        disposition(real, disp, sizeof(disp));
        http_reply_header(req, "Content-Disposition", disp);
        /* Read from the file as the client drains the socket: a stalled
         * download holds a descriptor, not the file's bytes. */
        if (http_reply_fd(req, 200, "application/octet-stream", fd,
                          (uint64_t)st.st_size) < 0)
            http_reply_error(req, 500, "cannot send the file");
        fd = -1; /* taken by http_reply_fd */
    }
    if (fd >= 0)
        close(fd);
    free(real);
}

static void h_files_debug(void *arg, struct http_req *req)
{
    struct agora_jw *w = agora_jw_new();
    char *root = agent_sandboxes_dir(A(arg));

    agora_jw_obj_open(w);
    agora_jw_kstr(w, FILES_VIRTUAL_ROOT, root);
    agora_jw_obj_close(w);
    free(root);
    reply_jw(req, 200, w);
}

/* ---- start and stop ---- */

static int add_routes(struct agent *a)
{
    static const struct {
        const char *path;
        http_handler_fn fn;
        int mesos_alias; /* also under /slave(1) */
    } routes[] = {
        {"/health", h_health, 1},
        {"/version", h_version, 0},
        {"/state", h_state, 1},
        {"/state.json", h_state, 1},
        {"/flags", h_flags, 1},
        {"/monitor/statistics", h_statistics, 1},
        {"/monitor/statistics.json", h_statistics, 1},
        {"/metrics/snapshot", h_metrics, 0},
        {"/files/browse", h_browse, 0},
        {"/files/browse.json", h_browse, 0},
        {"/files/read", h_read, 0},
        {"/files/read.json", h_read, 0},
        {"/files/download", h_download, 0},
        {"/files/download.json", h_download, 0},
        {"/files/debug", h_files_debug, 0},
        {"/files/debug.json", h_files_debug, 0},
    };
    size_t i;
    int rc;

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        rc = router_add(&a->router, "GET", NULL, routes[i].path,
                        (void *)routes[i].fn, a);
        if (rc == 0 && routes[i].mesos_alias)
            rc = router_add(&a->router, "GET", "/slave(1)", routes[i].path,
                            (void *)routes[i].fn, a);
        if (rc < 0)
            return rc;
    }
    /* The v1 operator API (api_v1.h), at both of Mesos' paths. */
    rc = router_add(&a->router, "POST", NULL, "/api/v1", (void *)agent_api_v1,
                    a);
    if (rc == 0)
        rc = router_add(&a->router, "POST", "/slave(1)", "/api/v1",
                        (void *)agent_api_v1, a);
    return rc < 0 ? rc : 0;
}

int agent_http_start(struct agent *a)
{
    struct http_server_conf hc;
    int rc;

    a->http = NULL;
    if (a->conf.port < 0 || a->conf.port > 65535) {
        log_error("agent", "--port %lld is not 0..65535",
                  (long long)a->conf.port);
        return AGORA_EINVAL;
    }
    rc = add_routes(a);
    if (rc < 0) {
        log_error("agent", "cannot build the routes: %s", agora_strerror(rc));
        router_free(&a->router);
        return rc;
    }
    memset(&hc, 0, sizeof(hc));
    hc.name = "agent";
    hc.ip = a->conf.ip;
    hc.port = (uint16_t)a->conf.port;
    hc.max_body = a->conf.max_body_size > 0 ? (size_t)a->conf.max_body_size : 0;
    /* The agent's clients are the master's UI and operators: a few
     * connections each. 10,050 idle ones from one host locked it. */
    hc.max_conns_per_ip = AGENT_HTTP_CONNS_PER_IP;
    hc.header_timeout = 10.;
    hc.tls_cert = a->tls.cert;
    hc.tls_key = a->tls.key;
    hc.tls_ca = a->tls.ca;
    hc.tls_require_client_cert = a->conf.ssl_require_client_cert;
    rc = http_server_start(a->loop, &hc, &a->router, &a->http);
    if (rc < 0) {
        a->http = NULL;
        router_free(&a->router);
    }
    return rc;
}

void agent_http_stop(struct agent *a)
{
    if (a->http)
        http_server_stop(a->http);
    a->http = NULL;
    router_free(&a->router);
}
