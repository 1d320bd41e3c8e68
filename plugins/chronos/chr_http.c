/*
 * chr_http.c - Chronos' REST API (chronos-api.md §1.2), under
 * /v1/scheduler (3.x) and /scheduler (2.x) alike, plus /ping and
 * /metrics. Errors are Chronos': 400 {"status":"Bad Request",
 * "message":"…"}, an unknown job included (never a stack trace).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chronos.h"
#include "chr_ui.h"

#define CHR(st) ((struct chr *)(st))

void chr_reply_bad(struct chr *c, struct agora_req *r, const char *fmt, ...)
{
    struct agora_jw *w = agora_jw_new();
    char *msg = NULL;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (w == NULL || rc < 0) {
        agora_reply_error(c->api, r, 500, "out of memory");
    } else {
        chr_write_bad_request(w, msg);
        agora_reply_jw(c->api, r, 400, w);
    }
    agora_jw_free(w);
    free(msg);
}

int chr_http_ready(struct chr *c, struct agora_req *r)
{
    if (c->loaded)
        return 1;
    agora_reply_error(c->api, r, 503, "Chronos is loading its jobs");
    return 0;
}

struct chr_rjob *chr_http_job(struct chr *c, struct agora_req *r)
{
    const char *name = c->api->req_param(r, "name");
    struct chr_rjob *rj = chr_job_get(c, name);

    if (rj == NULL)
        chr_reply_bad(c, r, "Job '%s' not found", name ? name : "");
    return rj;
}

/* 204 once the writes made since `since` are stored. */
static void reply_204(struct chr *c, struct agora_req *r, struct chr_mark since)
{
    chr_reply_stored(c, r, since, 204, NULL, "");
}

static const char *run_state(const struct chr_rjob *rj, char buf[32])
{
    size_t i, running = 0, queued = 0;

    for (i = 0; i < rj->nruns; i++) {
        if (rj->runs[i]->state == CHR_RUN_RUNNING ||
            rj->runs[i]->state == CHR_RUN_LAUNCHED)
            running++;
        else
            queued++;
    }
    if (running > 1) {
        snprintf(buf, 32, "%zu running", running);
        return buf;
    }
    return running ? "running" : queued ? "queued" : "idle";
}

static int job_cmp(const void *a, const void *b)
{
    const struct chr_rjob *x = *(struct chr_rjob *const *)a;
    const struct chr_rjob *y = *(struct chr_rjob *const *)b;

    return strcmp(x->job->name, y->job->name);
}

static struct chr_rjob **jobs_sorted(struct chr *c, size_t *n)
{
    struct chr_rjob **v = calloc(c->jobs.n + 1, sizeof(*v)), *rj;
    size_t i = 0;

    *n = 0;
    while (v && (rj = agora_map_next(&c->jobs, &i)) != NULL)
        v[(*n)++] = rj;
    if (v)
        qsort(v, *n, sizeof(*v), job_cmp);
    return v;
}

/* ---- reading ---- */

static void h_jobs(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    struct agora_jw *w;
    struct chr_rjob **v;
    size_t n, i;

    if (!chr_http_ready(c, r))
        return;
    v = jobs_sorted(c, &n);
    w = agora_jw_new();
    if (v && w) {
        agora_jw_arr_open(w);
        for (i = 0; i < n; i++)
            chr_job_write(w, v[i]->job);
        agora_jw_arr_close(w);
        agora_reply_jw(c->api, r, 200, w);
    } else {
        agora_reply_error(c->api, r, 500, "out of memory");
    }
    agora_jw_free(w);
    free(v);
}

static void h_summary(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    struct agora_jw *w;
    struct chr_rjob **v;
    size_t n, i;
    char buf[32];

    if (!chr_http_ready(c, r))
        return;
    v = jobs_sorted(c, &n);
    w = agora_jw_new();
    if (v && w) {
        agora_jw_obj_open(w);
        agora_jw_key(w, "jobs");
        agora_jw_arr_open(w);
        for (i = 0; i < n; i++)
            chr_job_write_summary(w, v[i]->job, run_state(v[i], buf));
        agora_jw_arr_close(w);
        agora_jw_obj_close(w);
        agora_reply_jw(c->api, r, 200, w);
    } else {
        agora_reply_error(c->api, r, 500, "out of memory");
    }
    agora_jw_free(w);
    free(v);
}

static int icontains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; hay && *hay; hay++) {
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    }
    return n == 0;
}

static void h_search(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    const char *name = c->api->req_query(r, "name", 0);
    const char *cmd = c->api->req_query(r, "command", 0);
    const char *any = c->api->req_query(r, "any", 0);
    const char *ls = c->api->req_query(r, "limit", 0);
    const char *os = c->api->req_query(r, "offset", 0);
    long limit = ls ? strtol(ls, NULL, 10) : 10;
    long offset = os ? strtol(os, NULL, 10) : 0, seen = 0, out = 0;
    struct agora_jw *w;
    struct chr_rjob **v;
    size_t n, i;

    if (!chr_http_ready(c, r))
        return;
    if (limit < 0 || offset < 0) {
        chr_reply_bad(c, r, "limit and offset must not be negative");
        return;
    }
    v = jobs_sorted(c, &n);
    w = agora_jw_new();
    if (v == NULL || w == NULL) {
        agora_reply_error(c->api, r, 500, "out of memory");
        goto out;
    }
    agora_jw_arr_open(w);
    for (i = 0; i < n && out < limit; i++) {
        const struct chr_job *j = v[i]->job;

        if ((name && !icontains(j->name, name)) ||
            (cmd && !icontains(j->command, cmd)) ||
            (any && !icontains(j->name, any) && !icontains(j->command, any)))
            continue;
        if (seen++ < offset)
            continue;
        chr_job_write(w, j);
        out++;
    }
    agora_jw_arr_close(w);
    agora_reply_jw(c->api, r, 200, w);
out:
    agora_jw_free(w);
    free(v);
}

static void h_job_get(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    struct chr_rjob *rj;
    struct agora_jw *w;

    if (!chr_http_ready(c, r) || (rj = chr_http_job(c, r)) == NULL)
        return;
    w = agora_jw_new();
    if (w == NULL) {
        agora_reply_error(c->api, r, 500, "out of memory");
        return;
    }
    chr_job_write(w, rj->job);
    agora_reply_jw(c->api, r, 200, w);
    agora_jw_free(w);
}

/* ---- writing ---- */

static void upsert(struct chr *c, struct agora_req *r, enum chr_job_mode mode)
{
    size_t len;
    const char *body = c->api->req_body(r, &len);
    struct chr_job *j = NULL;
    struct chr_mark mark;
    char *msg = NULL;
    size_t i;
    int rc;

    if (!chr_http_ready(c, r))
        return;
    if (body == NULL || len == 0 || strlen(body) != len) {
        chr_reply_bad(c, r, "the body must be a job in JSON");
        return;
    }
    rc = chr_job_parse_text(body, mode, chr_now(c), &c->jconf, &j, &msg);
    if (rc != 0) {
        if (rc == AGORA_EINVAL)
            chr_reply_bad(c, r, "%s", msg ? msg : "invalid job");
        else
            agora_reply_error(c->api, r, 500, "out of memory");
        free(msg);
        return;
    }
    /* Parents must exist (Chronos accepted missing ones and then lost
     * the job, issue #815). */
    for (i = 0; i < j->nparents; i++) {
        if (chr_job_get(c, j->parents[i]) == NULL) {
            chr_reply_bad(c, r, "parent '%s' of job '%s' does not exist",
                      j->parents[i], j->name);
            chr_job_free(j);
            return;
        }
    }
    mark = chr_stored_mark(c);
    if (chr_job_put(c, j) == NULL) {
        agora_reply_error(c->api, r, 500, "out of memory");
        return;
    }
    reply_204(c, r, mark);
}

static void h_iso8601(void *st, struct agora_req *r)
{
    upsert(CHR(st), r, CHR_JOB_ISO8601);
}

static void h_dependency(void *st, struct agora_req *r)
{
    upsert(CHR(st), r, CHR_JOB_DEPENDENCY);
}

/* PUT job/{name}[?arguments=]: run now, outside the schedule. */
static void h_job_run(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    const char *args = c->api->req_query(r, "arguments", 0);
    struct chr_mark mark = chr_stored_mark(c);
    struct chr_rjob *rj;
    char *clean = NULL, *p, *q;

    if (!chr_http_ready(c, r) || (rj = chr_http_job(c, r)) == NULL)
        return;
    if (args) { /* Chronos strips ';' from them */
        clean = strdup(args);
        for (p = q = clean; p && *p; p++) {
            if (*p != ';')
                *q++ = *p;
        }
        if (q)
            *q = '\0';
    }
    if (chr_sched_run(c, rj, chr_now(c), 0, clean) != 0)
        chr_reply_bad(c, r, "job '%s' cannot run now (it runs this instant "
                  "already)", rj->job->name);
    else
        reply_204(c, r, mark); /* once its launch record is stored */
    free(clean);
}

/* DELETE job/{name}: its tasks killed, its children re-wired (§2.4). */
static void h_job_delete(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    struct chr_mark mark = chr_stored_mark(c);
    struct chr_rjob *rj, *x;
    size_t i = 0, k;

    if (!chr_http_ready(c, r) || (rj = chr_http_job(c, r)) == NULL)
        return;
    while ((x = agora_map_next(&c->jobs, &i)) != NULL) {
        struct chr_job *j = x->job;
        int is_child = 0;

        for (k = 0; k < j->nparents; k++)
            is_child |= strcmp(j->parents[k], rj->job->name) == 0;
        if (!is_child || x == rj)
            continue;
        if (j->nparents > 1) {
            /* The other parents stay: the deleted one just goes. */
            for (k = 0; k < j->nparents; k++) {
                if (strcmp(j->parents[k], rj->job->name) == 0) {
                    free(j->parents[k]);
                    j->parents[k] = j->parents[--j->nparents];
                    break;
                }
            }
            chr_job_save(c, x);
        } else {
            CHR_LOG(c, AGORA_LOG_WARN, "job %s loses its only parent %s; "
                    "it is disabled", j->name, rj->job->name);
            j->disabled = 1;
            chr_job_save(c, x);
        }
    }
    chr_job_remove(c, rj);
    reply_204(c, r, mark);
}

static void h_job_success(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    const char *name = c->api->req_param(r, "name");
    struct chr_rjob *rj = chr_job_get(c, name);
    struct chr_mark mark = chr_stored_mark(c);
    char *msg = NULL;

    if (!chr_http_ready(c, r))
        return;
    if (rj) {
        chr_job_record_success(rj->job, chr_now(c));
        chr_job_save(c, rj);
    }
    if (asprintf(&msg, "marked job %s as successful: %s", name ? name : "",
                 rj ? "true" : "false") < 0) {
        agora_reply_error(c->api, r, 500, "out of memory");
        return;
    }
    chr_reply_stored(c, r, mark, 200, "text/plain", msg);
    free(msg);
}

static void h_task_kill(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    struct chr_mark mark = chr_stored_mark(c);
    struct chr_rjob *rj;

    if (!chr_http_ready(c, r) || (rj = chr_http_job(c, r)) == NULL)
        return;
    chr_sched_kill_all(c, rj); /* a run whose task had ended ends now */
    reply_204(c, r, mark);
}

/* ---- the graph ---- */

static void h_graph_dot(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    struct chr_rjob **v;
    size_t n, i, k, len = 0;
    char *buf = NULL;
    FILE *f;

    if (!chr_http_ready(c, r))
        return;
    v = jobs_sorted(c, &n);
    f = open_memstream(&buf, &len);
    if (v == NULL || f == NULL) {
        free(v);
        if (f)
            fclose(f);
        free(buf);
        agora_reply_error(c->api, r, 500, "out of memory");
        return;
    }
    fputs("digraph G {\n", f);
    for (i = 0; i < n; i++)
        fprintf(f, "  %zu [ label = \"%s\" ];\n", i, v[i]->job->name);
    for (i = 0; i < n; i++) {
        for (k = 0; k < v[i]->job->nparents; k++) {
            size_t p;

            for (p = 0; p < n; p++) {
                if (strcmp(v[p]->job->name, v[i]->job->parents[k]) == 0)
                    fprintf(f, "  %zu -> %zu;\n", p, i);
            }
        }
    }
    fputs("}\n", f);
    if (fclose(f) == 0 && buf)
        c->api->reply(r, 200, "text/plain", buf, len);
    else
        agora_reply_error(c->api, r, 500, "out of memory");
    free(buf);
    free(v);
}

static void h_graph_csv(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    struct chr_rjob **v;
    size_t n, i, k, len = 0;
    char *buf = NULL, sb[32];
    FILE *f;

    if (!chr_http_ready(c, r))
        return;
    v = jobs_sorted(c, &n);
    f = open_memstream(&buf, &len);
    if (v == NULL || f == NULL) {
        free(v);
        if (f)
            fclose(f);
        free(buf);
        agora_reply_error(c->api, r, 500, "out of memory");
        return;
    }
    for (i = 0; i < n; i++)
        fprintf(f, "node,%s,%s,%s\n", v[i]->job->name,
                chr_job_status_name(chr_job_status(v[i]->job)),
                run_state(v[i], sb));
    for (i = 0; i < n; i++) {
        for (k = 0; k < v[i]->job->nparents; k++)
            fprintf(f, "link,%s,%s\n", v[i]->job->parents[k],
                    v[i]->job->name);
    }
    if (fclose(f) == 0 && buf)
        c->api->reply(r, 200, "text/plain", buf, len);
    else
        agora_reply_error(c->api, r, 500, "out of memory");
    free(buf);
    free(v);
}

/* ---- leader, ping, metrics ---- */

static void h_leader(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    struct agora_master_info mi;
    const char *port = c->api->conf_get(c->h, "port");
    char body[400], q[300], addr[280];

    memset(&mi, 0, sizeof(mi));
    c->api->master_info(c->h, &mi);
    if (port && *port)
        snprintf(addr, sizeof(addr), "%s:%s", mi.hostname ? mi.hostname : "",
                 port);
    else
        snprintf(addr, sizeof(addr), "%s:%d", mi.hostname ? mi.hostname : "",
                 mi.port);
    agora_json_quote(addr, q, sizeof(q));
    snprintf(body, sizeof(body), "{\"leader\":%s}", q);
    c->api->reply(r, 200, NULL, body, strlen(body));
}

static void h_ping(void *st, struct agora_req *r)
{
    CHR(st)->api->reply(r, 200, "text/plain", "pong", 4);
}

static void h_metrics(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    struct agora_jw *w = agora_jw_new();

    if (w == NULL) {
        agora_reply_error(c->api, r, 500, "out of memory");
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "version", "3.0.0");
    agora_jw_key(w, "gauges");
    agora_jw_obj_open(w);
    agora_jw_key(w, "chronos.jobs");
    agora_jw_obj_open(w);
    agora_jw_kint(w, "value", (int64_t)c->jobs.n);
    agora_jw_obj_close(w);
    agora_jw_key(w, "chronos.runs.live");
    agora_jw_obj_open(w);
    agora_jw_kint(w, "value", (int64_t)c->tasks.n);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
    agora_jw_key(w, "counters");
    agora_jw_obj_open(w);
#define CNT(k, v)                                                            \
    agora_jw_key(w, k);                                                      \
    agora_jw_obj_open(w);                                                    \
    agora_jw_kint(w, "count", (int64_t)(v));                                 \
    agora_jw_obj_close(w)
    CNT("chronos.runs.launched", c->launched);
    CNT("chronos.runs.finished", c->finished);
    CNT("chronos.runs.failed", c->failed);
    CNT("chronos.runs.skipped", c->skipped);
#undef CNT
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
    agora_reply_jw(c->api, r, 200, w);
    agora_jw_free(w);
}

#define BOTH(method, path, fn)                                               \
    {method, "/v1/scheduler" path, fn}, { method, "/scheduler" path, fn }

const struct agora_route chr_routes[] = {
    BOTH("GET", "/jobs", h_jobs),
    BOTH("GET", "/jobs/summary", h_summary),
    BOTH("GET", "/jobs/search", h_search),
    BOTH("GET", "/job/:name", h_job_get),
    BOTH("PUT", "/job/:name", h_job_run),
    BOTH("DELETE", "/job/:name", h_job_delete),
    BOTH("PUT", "/job/success/:name", h_job_success),
    BOTH("POST", "/iso8601", h_iso8601),
    BOTH("PUT", "/iso8601", h_iso8601),
    BOTH("POST", "/dependency", h_dependency),
    BOTH("PUT", "/dependency", h_dependency),
    BOTH("DELETE", "/task/kill/:name", h_task_kill),
    BOTH("PUT", "/task/:id", chr_h_task_report),
    BOTH("GET", "/job/stat/:name", chr_h_job_stat),
    BOTH("GET", "/stats/:percentile", chr_h_stats),
    BOTH("GET", "/graph/dot", h_graph_dot),
    BOTH("GET", "/graph/csv", h_graph_csv),
    BOTH("GET", "/leader", h_leader),
    BOTH("GET", "/next", chr_h_next),
    {"GET", "/ping", h_ping},
    {"GET", "/metrics", h_metrics},
    {"GET", "/", chr_h_ui_index},
    {"GET", "/ui/*path", chr_h_ui_file},
    {NULL, NULL, NULL},
};
