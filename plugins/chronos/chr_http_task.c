/*
 * chr_http_task.c - the API over runs: the 2.x completion callback
 * (PUT /scheduler/task/{taskId}), job/stat and stats/{percentile}, both
 * from the stored history (chr_history.h).
 *
 * The callback, as Chronos 2.x's TaskManagementResource.updateStatus:
 * body {"statusCode":N}, 0 the run's success and anything else its
 * failure (retries apply), 204 with no body. Where Chronos answered 204
 * and ignored the call (a task id that is not one, a job that is gone)
 * or counted a run twice (a callback for a task that is not running),
 * this answers Chronos' 400 {"status":"Bad Request","message"} saying
 * which; a repeated callback for a run whose outcome is counted already
 * (a client's retry) is a 204 that counts nothing. A body without an
 * integer statusCode is a 400 too (Chronos read a missing one as 0, a
 * success).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chronos.h"

#define CHR(st) ((struct chr *)(st))

/* 1 when task_id is in rj's history: its outcome is counted. */
static int in_history(const struct chr_rjob *rj, const char *task_id)
{
    size_t i;

    for (i = rj->hist.n; i-- > 0;) {
        if (strcmp(rj->hist.v[i].task_id, task_id) == 0)
            return 1;
    }
    return 0;
}

/* The statusCode of the body, or 0 with a 400 answered. */
static int body_code(struct chr *c, struct agora_req *r, int64_t *code)
{
    size_t len;
    const char *body = c->api->req_body(r, &len);
    char err[128] = "";
    yajl_val v;
    int rc;

    if (body == NULL || len == 0 || strlen(body) != len) {
        chr_reply_bad(c, r, "the body must be {\"statusCode\":<integer>}");
        return 0;
    }
    v = agora_json_parse(body, err, sizeof(err));
    if (v == NULL) {
        chr_reply_bad(c, r, "the body is not JSON: %s", err);
        return 0;
    }
    rc = YAJL_IS_OBJECT(v) ? agora_json_int(v, "statusCode", code)
                           : AGORA_EINVAL;
    yajl_tree_free(v);
    if (rc != 0) {
        chr_reply_bad(c, r, "statusCode must be an integer (0: the task "
                      "succeeded, anything else: it failed)");
        return 0;
    }
    return 1;
}

/* A callback for a task that is not a live run: which 4xx, or 204. */
static void report_unknown(struct chr *c, struct agora_req *r,
                           const char *id)
{
    struct chr_task_id t;
    struct chr_rjob *rj;

    if (chr_task_id_parse(id, &t) != 0) {
        chr_reply_bad(c, r, "'%.200s' is not a Chronos task id "
                      "(ct:<due>:<attempt>:<job>:<arguments>)", id);
        return;
    }
    rj = chr_job_get(c, t.name);
    if (rj == NULL)
        chr_reply_bad(c, r, "Job '%s' not found", t.name);
    else if (in_history(rj, id))
        c->api->reply(r, 204, NULL, "", 0); /* a repeat: counted once */
    else
        chr_reply_bad(c, r, "task '%.200s' of job '%s' is not running",
                      id, t.name);
    chr_task_id_clear(&t);
}

void chr_h_task_report(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    const char *id = c->api->req_param(r, "id");
    struct chr_mark mark = chr_stored_mark(c);
    struct chr_run *run;
    int64_t code;

    if (!chr_http_ready(c, r) || !body_code(c, r, &code))
        return;
    run = id ? agora_map_get(&c->tasks, id) : NULL;
    if (run == NULL || run->rj == NULL) {
        report_unknown(c, r, id ? id : "");
        return;
    }
    if (run->reported) {
        c->api->reply(r, 204, NULL, "", 0); /* a repeat: counted once */
        return;
    }
    if (chr_run_report(c, run, code) != 0) {
        chr_reply_bad(c, r, "task '%.200s' has not been launched yet", id);
        return;
    }
    /* Counted, and retried or its dependents fired, once stored. */
    chr_reply_stored(c, r, mark, 204, NULL, "");
}

/* ---- statistics ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* The durations of rj's successful runs, sorted (malloc'ed, or NULL). */
static int64_t *durations(const struct chr_rjob *rj, size_t *n)
{
    int64_t *v = chr_hist_durations(&rj->hist, n);

    if (v)
        qsort(v, *n, sizeof(*v), cmp_i64);
    return v;
}

/* A percentile of sorted v in seconds; "median" is the 50th, "mean". */
static double pick(const int64_t *v, size_t n, const char *which)
{
    double p, sum = 0;
    size_t i;

    if (n == 0)
        return 0;
    if (strcmp(which, "mean") == 0) {
        for (i = 0; i < n; i++)
            sum += (double)v[i];
        return sum / (double)n / 1000.0;
    }
    p = strcmp(which, "median") == 0 ? 50 : strtod(which, NULL);
    i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return (double)v[i < n ? i : n - 1] / 1000.0;
}

/* Runs going now, as Chronos lists them first: "Running", no end. */
static void write_running(struct agora_jw *w, const struct chr_rjob *rj)
{
    char b[32];
    size_t i;

    for (i = 0; i < rj->nruns; i++) {
        const struct chr_run *r = rj->runs[i];

        if (r->state != CHR_RUN_RUNNING || r->task_ended || r->reported)
            continue;
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "taskId", r->task_id);
        agora_jw_kstr(w, "jobName", rj->job->name);
        agora_jw_kstr(w, "slaveId", r->agent_id ? r->agent_id : "");
        agora_jw_kstr(w, "startTime", chr_hist_fmt_time(r->started, b,
                                                         sizeof(b)));
        agora_jw_kstr(w, "endTime", "N/A");
        agora_jw_kstr(w, "status", "Running");
        agora_jw_obj_close(w);
    }
}

void chr_h_job_stat(void *st, struct agora_req *r)
{
    static const char *const keys[] = {"75thPercentile", "95thPercentile",
                                       "98thPercentile", "99thPercentile",
                                       "median", "mean"};
    struct chr *c = CHR(st);
    struct chr_rjob *rj;
    struct agora_jw *w;
    int64_t *v;
    size_t n, i;

    if (!chr_http_ready(c, r) || (rj = chr_http_job(c, r)) == NULL)
        return;
    v = durations(rj, &n);
    w = agora_jw_new();
    if (w == NULL) {
        free(v);
        agora_reply_error(c->api, r, 500, "out of memory");
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_key(w, "histogram");
    agora_jw_obj_open(w);
    for (i = 0; i < sizeof(keys) / sizeof(*keys); i++)
        agora_jw_knum(w, keys[i], pick(v, n, keys[i]));
    agora_jw_kint(w, "count", (int64_t)n);
    agora_jw_obj_close(w);
    agora_jw_key(w, "taskStatHistory");
    agora_jw_arr_open(w);
    write_running(w, rj);
    chr_hist_write_stat(w, &rj->hist, rj->job->name);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    agora_reply_jw(c->api, r, 200, w);
    agora_jw_free(w);
    free(v);
}

struct stat_row {
    const char *name;
    double t;
};

static int row_cmp(const void *a, const void *b)
{
    const struct stat_row *x = a, *y = b;

    return x->t < y->t ? 1 : x->t > y->t ? -1 : strcmp(x->name, y->name);
}

static int known_percentile(const char *which)
{
    static const char *const names[] = {
        "99thPercentile", "98thPercentile", "95thPercentile",
        "75thPercentile", "median", "mean"};
    size_t i;

    for (i = 0; which && i < sizeof(names) / sizeof(*names); i++) {
        if (strcmp(which, names[i]) == 0)
            return 1;
    }
    return 0;
}

void chr_h_stats(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    const char *which = c->api->req_param(r, "percentile");
    struct stat_row *rows;
    struct chr_rjob *rj;
    struct agora_jw *w;
    size_t i = 0, n = 0, k;

    if (!chr_http_ready(c, r))
        return;
    if (!known_percentile(which)) {
        chr_reply_bad(c, r, "unknown percentile '%s' (99thPercentile, "
                      "98thPercentile, 95thPercentile, 75thPercentile, "
                      "median, mean)", which ? which : "");
        return;
    }
    rows = calloc(c->jobs.n + 1, sizeof(*rows));
    w = agora_jw_new();
    if (rows == NULL || w == NULL) {
        free(rows);
        agora_jw_free(w);
        agora_reply_error(c->api, r, 500, "out of memory");
        return;
    }
    while ((rj = agora_map_next(&c->jobs, &i)) != NULL) {
        int64_t *v = durations(rj, &k);

        if (v == NULL)
            continue;
        rows[n].name = rj->job->name;
        rows[n++].t = pick(v, k, which);
        free(v);
    }
    qsort(rows, n, sizeof(*rows), row_cmp);
    agora_jw_arr_open(w);
    for (i = 0; i < n; i++) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "jobNameLabel", rows[i].name);
        agora_jw_knum(w, "time", rows[i].t);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    agora_reply_jw(c->api, r, 200, w);
    agora_jw_free(w);
    free(rows);
}
