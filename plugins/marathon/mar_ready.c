/*
 * mar_ready.c - readiness checks (marathon-api.md §2.5).
 *
 * A readiness check is an HTTP GET the plugin sends itself, from the
 * master, through the SDK's non-blocking HTTP client: to the task's host
 * and the host port named by portName, at the check's path, every
 * intervalSeconds, each request given timeoutSeconds. A task is ready
 * once a response's status is one of httpStatusCodesForReady.
 *
 * As in Marathon, readiness matters only during deployments: the tasks
 * an app's deployment starts (those on its current config) are checked
 * once they run, until they are ready, and only then count toward the
 * step (mar_sched_inst_ok()): a scale or restart step ends when all are
 * ready, and a rolling restart kills old tasks only as new ones become
 * ready. Tasks of an app without a deployment are not checked, and one
 * launched outside a deployment (a replacement) is ready at once. A
 * task read from the store after a restart is checked again if its app
 * has a deployment: readiness is not stored.
 *
 * Results are shown under embed=apps.readiness (readinessCheckResults)
 * and in the current actions of GET /v2/deployments; the response
 * (status, content type, body) only with preserveLastResponse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marathon.h"

/* The largest response body a probe takes (more fails the probe). */
#define MAR_READY_BODY_MAX (64u * 1024)

struct mar_ready {
    char *name;
    int https;
    char *path;
    char *port_name;
    double interval, timeout;
    int64_t *codes;
    size_t ncodes;
    int preserve;
};

/* A request in flight for one instance. */
struct mar_probe {
    struct agora_pending pend;
    struct mar *m;
    struct mar_inst *in;
    struct agora_http *http;
};

/* ---- the check's definition ---- */

void mar_ready_free(struct mar_ready *r)
{
    if (r == NULL)
        return;
    free(r->name);
    free(r->path);
    free(r->port_name);
    free(r->codes);
    free(r);
}

static char *dup_or(yajl_val o, const char *key, const char *dflt)
{
    const char *s = agora_json_get_str(o, key);

    return strdup(s ? s : dflt);
}

/* httpStatusCodesForReady, [200] when absent. */
static int codes_parse(struct mar_ready *r, yajl_val o)
{
    yajl_val c = agora_json_get(o, "httpStatusCodesForReady");
    size_t i;

    if (!YAJL_IS_ARRAY(c) || c->u.array.len == 0) {
        r->codes = malloc(sizeof(*r->codes));
        if (r->codes == NULL)
            return AGORA_ENOMEM;
        r->codes[0] = 200;
        r->ncodes = 1;
        return 0;
    }
    r->codes = calloc(c->u.array.len, sizeof(*r->codes));
    if (r->codes == NULL)
        return AGORA_ENOMEM;
    for (i = 0; i < c->u.array.len; i++) {
        if (YAJL_IS_INTEGER(c->u.array.values[i]))
            r->codes[r->ncodes++] = YAJL_GET_INTEGER(c->u.array.values[i]);
    }
    return 0;
}

struct mar_ready *mar_ready_parse(const struct mar_app *d)
{
    char why[128];
    yajl_val v, o;
    struct mar_ready *r;
    const char *proto;
    double x;

    if (d->readiness_checks_json == NULL)
        return NULL;
    v = agora_json_parse(d->readiness_checks_json, why, sizeof(why));
    if (v == NULL || !YAJL_IS_ARRAY(v) || v->u.array.len == 0 ||
        !YAJL_IS_OBJECT(v->u.array.values[0]) ||
        (r = calloc(1, sizeof(*r))) == NULL) {
        yajl_tree_free(v);
        return NULL;
    }
    o = v->u.array.values[0];
    r->name = dup_or(o, "name", "readinessCheck");
    r->path = dup_or(o, "path", "/");
    r->port_name = dup_or(o, "portName", "http-api");
    proto = agora_json_get_str(o, "protocol");
    r->https = proto && strcmp(proto, "HTTPS") == 0;
    r->interval = agora_json_num(o, "intervalSeconds", &x) == 0 ? x : 30;
    r->timeout = agora_json_num(o, "timeoutSeconds", &x) == 0 ? x : 10;
    agora_json_bool(o, "preserveLastResponse", &r->preserve);
    if (!r->name || !r->path || !r->port_name || codes_parse(r, o) != 0) {
        mar_ready_free(r);
        r = NULL;
    }
    yajl_tree_free(v);
    return r;
}

/* The index among the instance's host ports of the port named name, or
 * -1: host ports follow the mappings that have one, else the port
 * definitions (mar_sched.c's launch order). */
static long port_index(const struct mar_app *d, const char *name)
{
    size_t i;
    long k = 0;

    if (d->bridge) {
        for (i = 0; i < d->nport_mappings; i++) {
            if (d->port_mappings[i].host_port < 0)
                continue;
            if (d->port_mappings[i].name &&
                strcmp(d->port_mappings[i].name, name) == 0)
                return k;
            k++;
        }
        return -1;
    }
    for (i = 0; i < d->nport_defs; i++) {
        if (d->port_defs[i].name && strcmp(d->port_defs[i].name, name) == 0)
            return (long)i;
    }
    return -1;
}

/* ---- results ---- */

static void result_clear(struct mar_inst *in)
{
    free(in->ready_ctype);
    free(in->ready_body);
    in->ready_ctype = NULL;
    in->ready_body = NULL;
    in->ready_status = 0;
}

/*
 * A copy of the body with what is not valid UTF-8 written '?', so that
 * the documents that show it stay valid JSON whatever the task sent.
 */
static char *body_copy(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    char *out = malloc(len + 1);
    size_t i = 0, n, k;

    if (out == NULL)
        return NULL;
    while (i < len) {
        n = p[i] < 0x80 ? 1 : (p[i] & 0xe0) == 0xc0 ? 2
            : (p[i] & 0xf0) == 0xe0 ? 3 : (p[i] & 0xf8) == 0xf0 ? 4 : 0;
        for (k = 1; n > 1 && k < n; k++) {
            if (i + k >= len || (p[i + k] & 0xc0) != 0x80)
                n = 0;
        }
        if (n == 0 || (n == 2 && p[i] < 0xc2)) { /* overlong too */
            out[i++] = '?';
            continue;
        }
        memcpy(out + i, s + i, n);
        i += n;
    }
    out[len] = '\0';
    return out;
}

static void probe_free(struct agora_pending *p)
{
    struct mar_probe *pr = (struct mar_probe *)p;

    if (pr->in)
        pr->in->probe = NULL;
    free(pr);
}

static int code_ok(const struct mar_ready *r, int status)
{
    size_t i;

    for (i = 0; i < r->ncodes; i++) {
        if (r->codes[i] == status)
            return 1;
    }
    return 0;
}

static void probe_done(void *arg, int err, const struct agora_http_response *rs)
{
    struct mar_probe *pr = arg;
    struct mar *m = pr->m;
    struct mar_inst *in = pr->in;
    const struct mar_ready *r = in->app->ready;
    const char *ct;

    in->probe = NULL;
    pr->in = NULL;
    agora_pending_del(&pr->pend);
    free(pr);
    if (r == NULL) /* the app was redefined without a check meanwhile */
        return;
    result_clear(in);
    in->ready_checked = 1;
    if (err != 0) {
        MAR_LOG(m, AGORA_LOG_DEBUG, "readiness of %s: %s", in->task_id,
                rs->error ? rs->error : m->api->strerror(err));
        return;
    }
    in->ready_status = rs->status;
    if (r->preserve) {
        ct = m->api->http_header(rs, "Content-Type");
        in->ready_ctype = body_copy(ct ? ct : "", ct ? strlen(ct) : 0);
        in->ready_body = body_copy(rs->body ? rs->body : "",
                                   rs->body ? rs->len : 0);
    }
    if (code_ok(r, rs->status) && in->ready != 1) {
        in->ready = 1;
        MAR_LOG(m, AGORA_LOG_INFO, "task %s is ready", in->task_id);
        mar_sched_dirty(m, in->app);
    }
}

/* The URL of in's check, malloc'ed; NULL when its port is unknown. */
static char *probe_url(const struct mar_ready *r, const struct mar_inst *in)
{
    long k = port_index(in->app->def, r->port_name);
    char *url = NULL;

    if (k < 0 || (size_t)k >= in->nports || !in->host)
        return NULL;
    if (asprintf(&url, "%s://%s:%u%s%s", r->https ? "https" : "http",
                 in->host, in->ports[k], r->path[0] == '/' ? "" : "/",
                 r->path) < 0)
        return NULL;
    return url;
}

static void probe_start(struct mar *m, struct mar_inst *in, double now)
{
    const struct mar_ready *r = in->app->ready;
    struct agora_http_request rq;
    struct mar_probe *pr;
    char *url;
    int rc;

    in->ready_next = now + (r->interval > 0 ? r->interval : 1);
    url = probe_url(r, in);
    pr = url ? calloc(1, sizeof(*pr)) : NULL;
    if (pr == NULL) {
        free(url);
        return;
    }
    memset(&rq, 0, sizeof(rq));
    rq.url = url;
    /* A check never outlives its interval, whatever timeoutSeconds. */
    rq.timeout = r->timeout > 0 ? r->timeout
                                : (r->interval > 0 ? r->interval : 1);
    rq.connect_timeout = rq.timeout;
    rq.max_body = MAR_READY_BODY_MAX;
    pr->m = m;
    pr->in = in;
    rc = m->api->http_request(m->h, &rq, probe_done, pr, &pr->http);
    if (rc != 0) {
        /* HTTPS: the master's client has none (AGORA_ENOTSUP). */
        MAR_LOG(m, AGORA_LOG_WARN, "readiness check of %s (%s): %s",
                in->task_id, url, m->api->strerror(rc));
        result_clear(in);
        in->ready_checked = 1;
        free(pr);
        free(url);
        return;
    }
    free(url);
    agora_pending_add(&m->pend, &pr->pend, probe_free);
    in->probe = pr;
}

/* ---- when to check ---- */

static int wants_check(const struct mar_rapp *a, const struct mar_inst *in,
                       double now)
{
    return a->ready && a->deploy && in->ready != 1 && !in->probe &&
           in->state == AGORA_TASK_RUNNING && !in->killing &&
           mar_sched_inst_current(a, in) && now >= in->ready_next;
}

void mar_ready_kick(struct mar *m, struct mar_inst *in)
{
    double now = mar_now(m);

    if (wants_check(in->app, in, now))
        probe_start(m, in, now);
}

void mar_ready_tick(struct mar *m)
{
    struct mar_deploy *d;
    double now = mar_now(m);
    size_t i, j;

    for (d = m->deploys; d; d = d->next) {
        for (i = 0; i < d->naffected; i++) {
            struct mar_rapp *a = mar_state_app(m, d->affected[i]);

            for (j = 0; a && a->ready && j < a->ninst; j++) {
                if (wants_check(a, a->inst[j], now))
                    probe_start(m, a->inst[j], now);
            }
        }
    }
}

void mar_ready_forget(struct mar *m, struct mar_inst *in)
{
    struct mar_probe *pr = in->probe;

    if (pr) {
        m->api->http_cancel(m->h, pr->http);
        pr->in = NULL;
        agora_pending_del(&pr->pend);
        free(pr);
        in->probe = NULL;
    }
    result_clear(in);
}

int mar_ready_inst_new(const struct mar_rapp *a)
{
    /* Checked when its app's deployment started it; else ready. */
    return a->ready && a->deploy ? 0 : 1;
}

/* ---- JSON ---- */

void mar_ready_write_results(struct agora_jw *w, const struct mar_rapp *a)
{
    size_t i;

    agora_jw_arr_open(w);
    for (i = 0; a && a->ready && a->deploy && i < a->ninst; i++) {
        const struct mar_inst *in = a->inst[i];

        if (!in->ready_checked || !mar_sched_inst_current(a, in))
            continue;
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "name", a->ready->name);
        agora_jw_kstr(w, "taskId", in->task_id);
        agora_jw_kbool(w, "ready", in->ready == 1);
        if (a->ready->preserve && in->ready_status > 0) {
            agora_jw_key(w, "lastResponse");
            agora_jw_obj_open(w);
            agora_jw_kint(w, "status", in->ready_status);
            agora_jw_kstr(w, "contentType", in->ready_ctype);
            agora_jw_kstr(w, "body", in->ready_body);
            agora_jw_obj_close(w);
        }
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}
