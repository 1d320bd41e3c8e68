/*
 * chr_state.c - jobs and runs in memory and in the store.
 *
 * One key per job, per run in flight and per join (chronos.h has the
 * layout); loading reads jobs, then runs, then joins, arms every job's
 * due time and asks the master for the state of every run it finds, so
 * that a run launched by the previous leader is followed, not repeated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chronos.h"

int64_t chr_now(struct chr *c)
{
    return (int64_t)(c->api->now(c->h) * 1000.0);
}

/* Zones are loaded once and shared by every job naming them. */
const struct chr_tz *chr_zone(void *ctx, const char *name, const char **why)
{
    struct chr *c = ctx;
    struct chr_tz *z = agora_map_get(&c->zones, name);

    if (z)
        return z;
    z = chr_tz_load(name, why);
    if (z && agora_map_put(&c->zones, name, z) != 0) {
        chr_tz_free(z);
        if (why)
            *why = "out of memory";
        return NULL;
    }
    return z;
}

static void write_done(void *arg, int err, const struct agora_store_result *r)
{
    struct chr *c = arg;

    (void)r;
    if (err != 0 && err != AGORA_ENOENT)
        CHR_LOG(c, AGORA_LOG_WARN, "store write failed: %s",
                c->api->strerror(err));
}

struct chr_rjob *chr_job_get(struct chr *c, const char *name)
{
    return name ? agora_map_get(&c->jobs, name) : NULL;
}

void chr_job_save(struct chr *c, struct chr_rjob *rj)
{
    char *text = chr_job_text(rj->job), *key = NULL;

    if (text && asprintf(&key, "jobs/%s", rj->job->name) >= 0)
        c->api->store_put(c->h, key, text, strlen(text), AGORA_STORE_ANY,
                          write_done, c);
    else
        CHR_LOG(c, AGORA_LOG_ERROR, "cannot save job %s: out of memory",
                rj->job->name);
    free(key);
    free(text);
}

void chr_joins_save(struct chr *c, struct chr_rjob *rj)
{
    struct agora_jw *w;
    char *key = NULL;
    const char *doc;
    size_t i, len;

    if (asprintf(&key, "joins/%s", rj->job->name) < 0)
        return;
    if (rj->njoined == 0) {
        c->api->store_delete(c->h, key, AGORA_STORE_ANY, write_done, c);
        free(key);
        return;
    }
    w = agora_jw_new();
    if (w) {
        agora_jw_arr_open(w);
        for (i = 0; i < rj->njoined; i++)
            agora_jw_str(w, rj->joined[i]);
        agora_jw_arr_close(w);
        doc = agora_jw_result(w, &len);
        if (doc)
            c->api->store_put(c->h, key, doc, len, AGORA_STORE_ANY,
                              write_done, c);
    }
    agora_jw_free(w);
    free(key);
}

static void rjob_free(struct chr_rjob *rj)
{
    size_t i;

    chr_job_free(rj->job);
    for (i = 0; i < rj->njoined; i++)
        free(rj->joined[i]);
    free(rj->joined);
    free(rj->runs);
    free(rj->history);
    free(rj);
}

struct chr_rjob *chr_job_put(struct chr *c, struct chr_job *j)
{
    struct chr_rjob *rj = chr_job_get(c, j->name);

    if (rj) {
        chr_sched_disarm(c, rj);
        chr_job_free(rj->job);
        rj->job = j;
    } else {
        rj = calloc(1, sizeof(*rj));
        if (rj == NULL || agora_map_put(&c->jobs, j->name, rj) != 0) {
            free(rj);
            chr_job_free(j);
            return NULL;
        }
        rj->job = j;
        rj->heap_index = CHR_HEAP_NONE;
    }
    chr_job_save(c, rj);
    chr_sched_arm(c, rj);
    return rj;
}

void chr_job_remove(struct chr *c, struct chr_rjob *rj)
{
    char *key = NULL;

    chr_sched_kill_all(c, rj);
    chr_sched_disarm(c, rj);
    if (asprintf(&key, "jobs/%s", rj->job->name) >= 0) {
        c->api->store_delete(c->h, key, AGORA_STORE_ANY, write_done, c);
        free(key);
    }
    rj->njoined = 0;
    chr_joins_save(c, rj);
    agora_map_del(&c->jobs, rj->job->name);
    /* Its runs stay in the task table until their tasks end (their
     * statuses find no job then and are only acknowledged). */
    while (rj->nruns > 0)
        rj->runs[--rj->nruns]->rj = NULL;
    rjob_free(rj);
}

/* ---- runs ---- */

static char *run_key(const struct chr_run *r, const char *name)
{
    char *key = NULL;

    if (asprintf(&key, "runs/%s@%lld-%d", name, (long long)r->due,
                 r->attempt) < 0)
        return NULL;
    return key;
}

static char *run_json(const struct chr_run *r, const char *name)
{
    struct agora_jw *w = agora_jw_new();
    const char *doc;
    char *s = NULL;

    if (w == NULL)
        return NULL;
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "job", name);
    agora_jw_kstr(w, "taskId", r->task_id);
    agora_jw_kint(w, "due", r->due);
    agora_jw_kint(w, "attempt", r->attempt);
    agora_jw_kstr(w, "args", r->args);
    agora_jw_kint(w, "started", r->started);
    agora_jw_obj_close(w);
    doc = agora_jw_result(w, NULL);
    if (doc)
        s = strdup(doc);
    agora_jw_free(w);
    return s;
}

struct record_ctx {
    struct agora_pending pend;
    struct chr *c;
    char *task_id;
};

static void record_free(struct agora_pending *p)
{
    struct record_ctx *x = (struct record_ctx *)p;

    free(x->task_id);
    free(x);
}

static void recorded(void *arg, int err, const struct agora_store_result *res)
{
    struct record_ctx *x = arg;

    (void)res;
    agora_pending_del(&x->pend);
    chr_sched_recorded(x->c, x->task_id, err);
    record_free(&x->pend);
}

/*
 * Writes the run's record: fresh, with AGORA_STORE_NEW (a record that
 * exists means another leader launched this instant already), and the
 * scheduler hears the outcome in chr_sched_recorded(); else as an update.
 */
void chr_run_record(struct chr *c, struct chr_run *r, int fresh)
{
    const char *name = r->job_name;
    char *key = run_key(r, name), *json = run_json(r, name);
    struct record_ctx *x = fresh ? calloc(1, sizeof(*x)) : NULL;
    int rc = AGORA_ENOMEM;

    if (key && json && (!fresh || (x && (x->task_id = strdup(r->task_id))))) {
        if (x) {
            x->c = c;
            agora_pending_add(&c->pend, &x->pend, record_free);
        }
        rc = c->api->store_put(c->h, key, json, strlen(json),
                               fresh ? AGORA_STORE_NEW : AGORA_STORE_ANY,
                               fresh ? recorded : write_done,
                               fresh ? (void *)x : (void *)c);
    }
    if (rc != 0 && fresh) {
        if (x) {
            agora_pending_del(&x->pend);
            record_free(&x->pend);
        }
        chr_sched_recorded(c, r->task_id, rc);
    }
    free(key);
    free(json);
}

struct ack_ctx {
    struct agora_pending pend;
    struct chr *c;
    char *task_id, *uuid;
};

static void ack_free(struct agora_pending *p)
{
    struct ack_ctx *a = (struct ack_ctx *)p;

    free(a->task_id);
    free(a->uuid);
    free(a);
}

static void acked(void *arg, int err, const struct agora_store_result *res)
{
    struct ack_ctx *a = arg;

    (void)res;
    agora_pending_del(&a->pend);
    if (err == 0 || err == AGORA_ENOENT)
        a->c->api->acknowledge(a->c->fw, a->task_id, a->uuid);
    ack_free(&a->pend);
}

/* The run has ended: its record goes (after the job's state written
 * before it, store completions keeping call order), then the update is
 * acknowledged. Frees r. */
void chr_run_forget(struct chr *c, struct chr_run *r, const char *ack_task,
                    const char *ack_uuid)
{
    struct ack_ctx *a = ack_uuid ? calloc(1, sizeof(*a)) : NULL;
    char *key = run_key(r, r->job_name);
    size_t i;
    int rc = AGORA_ENOMEM;

    if (a) {
        a->c = c;
        a->task_id = strdup(ack_task);
        a->uuid = strdup(ack_uuid);
        if (!a->task_id || !a->uuid) {
            ack_free(&a->pend);
            a = NULL;
        } else {
            agora_pending_add(&c->pend, &a->pend, ack_free);
        }
    }
    if (key)
        rc = c->api->store_delete(c->h, key, AGORA_STORE_ANY,
                                  a ? acked : write_done,
                                  a ? (void *)a : (void *)c);
    if (rc != 0 && a) {
        agora_pending_del(&a->pend);
        ack_free(&a->pend);
    }
    free(key);
    if (r->rj) {
        struct chr_rjob *rj = r->rj;

        for (i = 0; i < rj->nruns; i++) {
            if (rj->runs[i] == r) {
                rj->runs[i] = rj->runs[--rj->nruns];
                break;
            }
        }
    }
    agora_map_del(&c->tasks, r->task_id);
    free(r->task_id);
    free(r->job_name);
    free(r->args);
    free(r->agent_id);
    free(r);
}

/* ---- loading ---- */

static void load_next(struct chr *c);

static void load_failed(struct chr *c, const char *what, int err)
{
    CHR_LOG(c, AGORA_LOG_ERROR, "cannot read %s from the store: %s", what,
            c->api->strerror(err));
    c->api->set_ready(c->h, 0, "the store could not be read");
}

static void loaded_jobs(void *arg, int err, const struct agora_store_result *r)
{
    struct chr *c = arg;
    size_t i;

    if (err != 0 && err != AGORA_ENOENT) {
        load_failed(c, "jobs", err);
        return;
    }
    for (i = 0; err == 0 && i < r->nentries; i++) {
        struct chr_job *j = NULL;
        struct chr_rjob *rj;
        char *msg = NULL;

        if (chr_job_parse_text(r->entries[i].value, CHR_JOB_ANY, chr_now(c),
                               &c->jconf, &j, &msg) != 0) {
            CHR_LOG(c, AGORA_LOG_ERROR, "job %s in the store is invalid (%s);"
                    " left out", r->entries[i].name, msg ? msg : "no memory");
            free(msg);
            continue;
        }
        rj = calloc(1, sizeof(*rj));
        if (rj == NULL || agora_map_put(&c->jobs, j->name, rj) != 0) {
            free(rj);
            chr_job_free(j);
            continue;
        }
        rj->job = j;
        rj->heap_index = CHR_HEAP_NONE;
        rj->store_version = r->entries[i].version;
    }
    c->load_step++;
    load_next(c);
}

/* A run the previous leader recorded: followed by its task id. */
static void load_run(struct chr *c, const char *json)
{
    yajl_val v = agora_json_parse(json, NULL, 0);
    struct chr_rjob *rj = v ? chr_job_get(c, agora_json_get_str(v, "job"))
                            : NULL;
    const char *tid = v ? agora_json_get_str(v, "taskId") : NULL;
    struct chr_task_id id;
    struct chr_run *r;

    if (rj && tid && chr_task_id_parse(tid, &id) == 0) {
        r = calloc(1, sizeof(*r));
        if (r && (r->task_id = strdup(tid)) != NULL &&
            (r->job_name = strdup(rj->job->name)) != NULL &&
            (r->args = strdup(agora_json_get_str(v, "args")
                                  ? agora_json_get_str(v, "args")
                                  : "")) != NULL &&
            agora_map_put(&c->tasks, tid, r) == 0) {
            struct chr_run **vv = realloc(rj->runs,
                                          (rj->nruns + 1) * sizeof(*vv));

            if (vv) {
                rj->runs = vv;
                rj->capruns = rj->nruns + 1;
                rj->runs[rj->nruns++] = r;
                r->rj = rj;
                r->due = id.due;
                r->attempt = id.attempt;
                r->state = CHR_RUN_LAUNCHED;
                r = NULL;
            } else {
                agora_map_del(&c->tasks, tid);
            }
        }
        if (r) {
            free(r->task_id);
            free(r->job_name);
            free(r->args);
            free(r);
        }
        chr_task_id_clear(&id);
    }
    yajl_tree_free(v);
}

static void loaded_runs(void *arg, int err, const struct agora_store_result *r)
{
    struct chr *c = arg;
    size_t i;

    if (err != 0 && err != AGORA_ENOENT) {
        load_failed(c, "runs", err);
        return;
    }
    for (i = 0; err == 0 && i < r->nentries; i++)
        load_run(c, r->entries[i].value);
    c->load_step++;
    load_next(c);
}

static void loaded_joins(void *arg, int err,
                         const struct agora_store_result *r)
{
    struct chr *c = arg;
    size_t i, k;

    if (err != 0 && err != AGORA_ENOENT) {
        load_failed(c, "joins", err);
        return;
    }
    for (i = 0; err == 0 && i < r->nentries; i++) {
        struct chr_rjob *rj = chr_job_get(c, r->entries[i].name);
        yajl_val v = rj ? agora_json_parse(r->entries[i].value, NULL, 0)
                        : NULL;

        if (YAJL_IS_ARRAY(v) &&
            (rj->joined = calloc(v->u.array.len + 1, sizeof(char *)))) {
            for (k = 0; k < v->u.array.len; k++) {
                const char *p = YAJL_GET_STRING(v->u.array.values[k]);

                if (p && (rj->joined[rj->njoined] = strdup(p)) != NULL)
                    rj->njoined++;
            }
        }
        yajl_tree_free(v);
    }
    c->load_step++;
    load_next(c);
}

static void load_done(struct chr *c)
{
    struct chr_rjob *rj;
    struct chr_run *r;
    const char **ids = calloc(c->tasks.n + 1, sizeof(*ids));
    size_t i = 0, n = 0;

    while (ids && (r = agora_map_next(&c->tasks, &i)) != NULL)
        ids[n++] = r->task_id;
    c->loaded = 1;
    /* The runs of the previous leader: their state comes back as
     * statuses (held by the master until the agents are back). */
    if (n > 0)
        c->api->reconcile(c->fw, ids, n);
    free(ids);
    i = 0;
    while ((rj = agora_map_next(&c->jobs, &i)) != NULL)
        chr_sched_arm(c, rj);
    c->api->set_ready(c->h, 1, NULL);
    CHR_LOG(c, AGORA_LOG_INFO, "loaded %zu jobs, %zu runs in flight",
            c->jobs.n, c->tasks.n);
}

static void load_next(struct chr *c)
{
    int rc = 0;

    switch (c->load_step) {
    case 0:
        rc = c->api->store_get_children(c->h, "jobs", loaded_jobs, c);
        break;
    case 1:
        rc = c->api->store_get_children(c->h, "runs", loaded_runs, c);
        break;
    case 2:
        rc = c->api->store_get_children(c->h, "joins", loaded_joins, c);
        break;
    default:
        load_done(c);
        return;
    }
    if (rc != 0)
        load_failed(c, "the state", rc);
}

void chr_state_load(struct chr *c)
{
    c->load_step = 0;
    load_next(c);
}

void chr_state_free(struct chr *c)
{
    struct chr_rjob *rj;
    struct chr_run *r;
    struct chr_tz *z;
    size_t i = 0;

    while ((r = agora_map_next(&c->tasks, &i)) != NULL) {
        free(r->task_id);
        free(r->job_name);
        free(r->args);
        free(r->agent_id);
        free(r);
    }
    i = 0;
    while ((rj = agora_map_next(&c->jobs, &i)) != NULL)
        rjob_free(rj);
    i = 0;
    while ((z = agora_map_next(&c->zones, &i)) != NULL)
        chr_tz_free(z);
    agora_map_free(&c->tasks);
    agora_map_free(&c->jobs);
    agora_map_free(&c->zones);
}
