/*
 * chr_state.c - jobs and runs in memory and in the store.
 *
 * One key per job, per run in flight and per join (chronos.h has the
 * layout), and each job's history; chr_load.c reads them back.
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

struct chr_rjob *chr_job_get(struct chr *c, const char *name)
{
    return name ? agora_map_get(&c->jobs, name) : NULL;
}

void chr_job_save(struct chr *c, struct chr_rjob *rj)
{
    char *text = chr_job_text(rj->job), *key = NULL;

    if (text && asprintf(&key, "jobs/%s", rj->job->name) >= 0) {
        chr_store_put(c, key, text, strlen(text), AGORA_STORE_ANY, NULL, NULL);
    } else {
        CHR_LOG(c, AGORA_LOG_ERROR, "cannot save job %s: out of memory",
                rj->job->name);
        chr_store_refused(c);
    }
    free(key);
    free(text);
}

void chr_joins_save(struct chr *c, struct chr_rjob *rj)
{
    struct agora_jw *w;
    char *key = NULL;
    const char *doc;
    size_t i, len;

    if (asprintf(&key, "joins/%s", rj->job->name) < 0) {
        chr_store_refused(c);
        return;
    }
    if (rj->njoined == 0) {
        chr_store_delete(c, key, AGORA_STORE_ANY, NULL, NULL);
        free(key);
        return;
    }
    w = agora_jw_new();
    doc = NULL;
    if (w) {
        agora_jw_arr_open(w);
        for (i = 0; i < rj->njoined; i++)
            agora_jw_str(w, rj->joined[i]);
        agora_jw_arr_close(w);
        doc = agora_jw_result(w, &len);
    }
    if (doc)
        chr_store_put(c, key, doc, len, AGORA_STORE_ANY, NULL, NULL);
    else
        chr_store_refused(c);
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
    chr_hist_clear(&rj->hist);
    free(rj);
}

struct chr_rjob *chr_job_put(struct chr *c, struct chr_job *j)
{
    struct chr_rjob *rj = chr_job_get(c, j->name);

    if (rj) {
        chr_sched_disarm(c, rj);
        c->ndependent -= chr_job_dependent(rj->job);
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
    c->ndependent += chr_job_dependent(j);
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
        chr_store_delete(c, key, AGORA_STORE_ANY, NULL, NULL);
        free(key);
    } else {
        chr_store_refused(c);
    }
    if (asprintf(&key, "history/%s", rj->job->name) >= 0) {
        chr_store_delete(c, key, AGORA_STORE_ANY, NULL, NULL);
        free(key);
    } else {
        chr_store_refused(c);
    }
    rj->njoined = 0;
    chr_joins_save(c, rj);
    c->ndependent -= chr_job_dependent(rj->job);
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

void chr_run_write(struct agora_jw *w, const struct chr_run *r)
{
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "job", r->job_name);
    agora_jw_kstr(w, "taskId", r->task_id);
    agora_jw_kint(w, "due", r->due);
    agora_jw_kint(w, "attempt", r->attempt);
    agora_jw_kstr(w, "args", r->args);
    agora_jw_kint(w, "started", r->started);
    agora_jw_kstr(w, "agentId", r->agent_id ? r->agent_id : "");
    agora_jw_kint(w, "taskEnded", r->task_ended);
    agora_jw_kint(w, "reported", r->reported);
    agora_jw_obj_close(w);
}

static char *run_json(const struct chr_run *r)
{
    struct agora_jw *w = agora_jw_new();
    const char *doc;
    char *s = NULL;

    if (w == NULL)
        return NULL;
    chr_run_write(w, r);
    doc = agora_jw_result(w, NULL);
    if (doc)
        s = strdup(doc);
    agora_jw_free(w);
    return s;
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

/* An acknowledgement to send once a write is done (on the pending list),
 * or NULL when out of memory: the update then comes again. */
static struct ack_ctx *ack_new(struct chr *c, const char *task_id,
                               const char *uuid)
{
    struct ack_ctx *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return NULL;
    a->c = c;
    a->task_id = strdup(task_id);
    a->uuid = strdup(uuid);
    if (!a->task_id || !a->uuid) {
        ack_free(&a->pend);
        return NULL;
    }
    agora_pending_add(&c->pend, &a->pend, ack_free);
    return a;
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

/* Writes the run's own record (its launch record no longer needed for
 * it), then acknowledges (task_id, uuid) when uuid is not NULL. */
void chr_run_record_ack(struct chr *c, struct chr_run *r,
                        const char *task_id, const char *uuid)
{
    struct ack_ctx *a = uuid ? ack_new(c, task_id, uuid) : NULL;
    char *key = run_key(r, r->job_name), *json = run_json(r);
    int rc = AGORA_ENOMEM;

    if (key && json)
        rc = chr_store_put(c, key, json, strlen(json), AGORA_STORE_ANY,
                           a ? acked : NULL, a);
    else
        chr_store_refused(c);
    if (rc != 0 && a) {
        agora_pending_del(&a->pend);
        ack_free(&a->pend);
    }
    if (rc == 0)
        chr_launch_unref(c, r);
    free(key);
    free(json);
}

void chr_run_record(struct chr *c, struct chr_run *r)
{
    chr_run_record_ack(c, r, NULL, NULL);
}

/* The run has ended: its record goes (after the job's state written
 * before it, store completions keeping call order), then the update is
 * acknowledged. Frees r. */
void chr_run_forget(struct chr *c, struct chr_run *r, const char *ack_task,
                    const char *ack_uuid)
{
    struct ack_ctx *a = ack_uuid ? ack_new(c, ack_task, ack_uuid) : NULL;
    char *key = run_key(r, r->job_name);
    size_t i;
    int rc = AGORA_ENOMEM;

    if (key)
        rc = chr_store_delete(c, key, AGORA_STORE_ANY, a ? acked : NULL, a);
    else
        chr_store_refused(c);
    if (rc != 0 && a) {
        agora_pending_del(&a->pend);
        ack_free(&a->pend);
    }
    free(key);
    chr_launch_unref(c, r);
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

/* ---- histories ---- */

static void history_save(struct chr *c, struct chr_rjob *rj)
{
    struct agora_jw *w = agora_jw_new();
    const char *doc = NULL;
    char *key = NULL;
    size_t len = 0;

    if (w) {
        chr_hist_write(w, &rj->hist);
        doc = agora_jw_result(w, &len);
    }
    if (doc && asprintf(&key, "history/%s", rj->job->name) >= 0) {
        chr_store_put(c, key, doc, len, AGORA_STORE_ANY, NULL, NULL);
    } else {
        CHR_LOG(c, AGORA_LOG_ERROR, "cannot save the history of %s: out of "
                "memory", rj->job->name);
        chr_store_refused(c);
    }
    free(key);
    agora_jw_free(w);
}

void chr_history_add(struct chr *c, struct chr_rjob *rj,
                     const struct chr_hist_ent *e)
{
    if (rj == NULL)
        return;
    if (chr_hist_add(&rj->hist, chr_hist_limit(c), e) != 0) {
        CHR_LOG(c, AGORA_LOG_ERROR, "cannot add to the history of %s: out "
                "of memory", rj->job->name);
        return;
    }
    history_save(c, rj);
}

void chr_state_free(struct chr *c)
{
    struct chr_rjob *rj;
    struct chr_run *r;
    struct chr_tz *z;
    size_t i = 0;

    chr_launch_free_all(c);
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
