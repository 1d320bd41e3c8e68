/*
 * chr_run_end.c - how a run ends: its task's terminal status, the 2.x
 * completion callback (PUT /scheduler/task/{taskId}), or its
 * maxCompletionTime; what the outcome counts, retries and fires.
 *
 * A run's outcome is decided once, by the first of:
 *   - its task's terminal status, except TASK_FINISHED of an async job
 *     (Chronos 2.x: "not updating job-graph"; the task only started the
 *     work, which reports its end itself);
 *   - a callback, {"statusCode":0} a success and any other a failure
 *     (retries apply), for any job's run once launched, as in Chronos;
 *   - maxCompletionTime, for a run still running or awaiting a callback.
 * The outcome is counted in the job's counters and its history, then
 * the run stays until its task has ended too (a run reported while its
 * task still runs is "reported", kept in the run's record, so a new
 * leader neither counts it again nor relaunches it), and is forgotten.
 * An async run whose task finished waits for its callback ("awaiting",
 * kept in the record too) and is not reconciled after a failover: its
 * task is gone, the run is not.
 */
#include <stdlib.h>
#include <string.h>

#include "chronos.h"

static void outcome(struct chr *c, struct chr_run *r, int ok);
static void run_ended(struct chr *c, struct chr_rjob *rj);

/* ---- maxCompletionTime ---- */

struct deadline {
    struct agora_pending pend;
    struct chr *c;
    char *task_id;
};

static void deadline_free(struct agora_pending *p)
{
    struct deadline *d = (struct deadline *)p;

    free(d->task_id);
    free(d);
}

/* The run has had its maxCompletionTime: killed, and counted a failure
 * (Mesos ends it so: TASK_FAILED, REASON_MAX_COMPLETION_TIME_REACHED). */
static void deadline_fire(void *arg, struct agora_timer *t)
{
    struct deadline *d = arg;
    struct chr_run *r = agora_map_get(&d->c->tasks, d->task_id);

    (void)t;
    agora_pending_del(&d->pend);
    if (r && r->task_ended && !r->reported && r->rj) {
        /* Its task finished; its callback did not come in time. */
        struct chr_rjob *rj = r->rj;

        CHR_LOG(d->c, AGORA_LOG_INFO, "%s got no callback within its "
                "maxCompletionTime; a failure", r->task_id);
        r->timed_out = 1;
        outcome(d->c, r, 0);
        chr_run_forget(d->c, r, NULL, NULL);
        run_ended(d->c, rj);
    } else if (r && !r->killing && !r->reported) {
        CHR_LOG(d->c, AGORA_LOG_INFO, "%s ran past its maxCompletionTime; "
                "killing it", r->task_id);
        r->timed_out = 1;
        d->c->api->kill(d->c->fw, r->task_id);
    }
    deadline_free(&d->pend);
}

static void deadline_start(struct chr *c, struct chr_run *r)
{
    struct deadline *d;
    struct agora_timer *t;

    if (r->rj == NULL || r->rj->job->max_completion_time <= 0)
        return;
    d = calloc(1, sizeof(*d));
    if (d == NULL || (d->task_id = strdup(r->task_id)) == NULL) {
        free(d);
        return;
    }
    d->c = c;
    agora_pending_add(&c->pend, &d->pend, deadline_free);
    if (c->api->timer_start(c->h, (double)r->rj->job->max_completion_time, 0,
                            deadline_fire, d, &t) != 0) {
        agora_pending_del(&d->pend);
        deadline_free(&d->pend);
    }
}

/* ---- statuses ---- */

/* A parent of some jobs succeeded (or failed softly): each dependent
 * whose every parent has succeeded since it last started runs now. The
 * jobs are walked only when some job is dependent: with none, a run's
 * end costs nothing per job. */
static void fire_dependents(struct chr *c, const char *parent)
{
    struct chr_rjob *rj;
    size_t i = 0, k;

    if (c->ndependent == 0)
        return;
    while ((rj = agora_map_next(&c->jobs, &i)) != NULL) {
        const struct chr_job *j = rj->job;
        size_t have = 0;
        int names_it = 0;

        for (k = 0; k < j->nparents; k++)
            names_it |= strcmp(j->parents[k], parent) == 0;
        if (!names_it)
            continue;
        for (k = 0; k < rj->njoined; k++)
            names_it = names_it && strcmp(rj->joined[k], parent) != 0;
        if (names_it) { /* not yet joined: add it */
            char **v = realloc(rj->joined, (rj->njoined + 1) * sizeof(*v));

            if (v == NULL)
                continue;
            rj->joined = v;
            if ((v[rj->njoined] = strdup(parent)) == NULL)
                continue;
            rj->njoined++;
        }
        for (k = 0; k < j->nparents; k++) {
            size_t x;

            for (x = 0; x < rj->njoined; x++)
                have += strcmp(rj->joined[x], j->parents[k]) == 0;
        }
        if (have >= j->nparents && !j->disabled) {
            /* The join is spent when the run is recorded. */
            for (k = 0; k < rj->njoined; k++)
                free(rj->joined[k]);
            rj->njoined = 0;
            chr_joins_save(c, rj);
            chr_sched_run(c, rj, chr_now(c), 0, NULL);
        } else {
            chr_joins_save(c, rj);
        }
    }
}

static void retry_fire(void *arg, struct agora_timer *t);

struct retry {
    struct agora_pending pend;
    struct chr *c;
    char *name;
    int64_t due;
    int attempt;
    char *args;
};

static void retry_free(struct agora_pending *p)
{
    struct retry *x = (struct retry *)p;

    free(x->name);
    free(x->args);
    free(x);
}

static void retry_later(struct chr *c, struct chr_run *r)
{
    struct retry *x = calloc(1, sizeof(*x));
    struct agora_timer *t;

    if (x == NULL || (x->name = strdup(r->rj->job->name)) == NULL ||
        (x->args = strdup(r->args ? r->args : "")) == NULL) {
        if (x) {
            free(x->name);
            free(x->args);
        }
        free(x);
        return;
    }
    x->c = c;
    x->due = r->due;
    x->attempt = r->attempt + 1;
    agora_pending_add(&c->pend, &x->pend, retry_free);
    if (c->api->timer_start(c->h, c->conf->failure_retry, 0, retry_fire, x,
                            &t) != 0) {
        CHR_LOG(c, AGORA_LOG_ERROR, "cannot retry %s", r->task_id);
        agora_pending_del(&x->pend);
        retry_free(&x->pend);
    }
}

static void retry_fire(void *arg, struct agora_timer *t)
{
    struct retry *x = arg;
    struct chr_rjob *rj = chr_job_get(x->c, x->name);

    (void)t;
    agora_pending_del(&x->pend);
    if (rj && !rj->job->disabled)
        chr_sched_run(x->c, rj, x->due, x->attempt, x->args);
    retry_free(&x->pend);
}

/* A run ended; its job may hold an instant that waited for it. */
static void run_ended(struct chr *c, struct chr_rjob *rj)
{
    int64_t held = rj ? rj->held_due : 0;

    if (held && rj->nruns == 0) {
        rj->held_due = 0;
        chr_sched_due(c, rj, held);
    }
}

/* Its history entry, ending now. */
static void history_add(struct chr *c, struct chr_run *r,
                        enum chr_hist_status status, int64_t now)
{
    struct chr_hist_ent e = {
        .task_id = r->task_id, .agent_id = r->agent_id, .due = r->due,
        .start = r->started, .end = now, .attempt = r->attempt,
        .status = status};

    chr_history_add(c, r->rj, &e);
}

/*
 * The outcome of run r (its job known): counted, retried, its dependents
 * fired. ok: it succeeded; else it failed, or it was killed on request
 * (r->killing, not timed out): then nothing is counted, as in Chronos.
 * r stays; the caller forgets it when its task has ended.
 */
static void outcome(struct chr *c, struct chr_run *r, int ok)
{
    struct chr_rjob *rj = r->rj;
    int64_t now = chr_now(c);

    if (ok) {
        history_add(c, r, CHR_HIST_SUCCESS, now);
        chr_job_record_success(rj->job, now);
        c->finished++;
        if (rj->job->schedule && !rj->job->cron &&
            rj->job->iso.repeat == 0 && rj->nruns == 1)
            rj->job->disabled = 1; /* R0: its last run is done */
        chr_job_save(c, rj);
        fire_dependents(c, rj->job->name);
        return;
    }
    if (r->killing && !r->timed_out) {
        history_add(c, r, CHR_HIST_KILLED, now);
        return;
    }
    history_add(c, r, CHR_HIST_FAILURE, now);
    if (!r->killing && chr_job_may_retry(rj->job, r->attempt)) {
        retry_later(c, r);
        return;
    }
    chr_job_record_failure(rj->job, now);
    c->failed++;
    chr_job_save(c, rj);
    if (rj->job->soft_error)
        fire_dependents(c, rj->job->name);
}

/* The run's task ended with st (terminal). */
static void status_end(struct chr *c, struct chr_run *r,
                       const struct agora_status *st)
{
    struct chr_rjob *rj = r->rj;
    int ok = st->state == AGORA_TASK_FINISHED && !r->timed_out;

    if (rj == NULL || r->reported) { /* counted already, or no job */
        chr_run_forget(c, r, st->task_id, st->uuid);
        run_ended(c, rj);
        return;
    }
    if (ok && rj->job->async) {
        /* The work reports its end through the callback: wait for it,
         * the run's record saying so before the update is acknowledged. */
        r->task_ended = 1;
        chr_run_record_ack(c, r, st->task_id, st->uuid);
        return;
    }
    outcome(c, r, ok);
    chr_run_forget(c, r, st->task_id, st->uuid);
    run_ended(c, rj);
}

int chr_run_report(struct chr *c, struct chr_run *r, int64_t status_code)
{
    struct chr_rjob *rj = r->rj;

    if (rj == NULL || r->reported)
        return AGORA_ESTATE;
    if (r->state != CHR_RUN_LAUNCHED && r->state != CHR_RUN_RUNNING)
        return AGORA_ESTATE;
    CHR_LOG(c, AGORA_LOG_INFO, "%s reports %s (statusCode %lld)", r->task_id,
            status_code == 0 ? "success" : "failure",
            (long long)status_code);
    outcome(c, r, status_code == 0);
    if (r->task_ended) {
        chr_run_forget(c, r, NULL, NULL);
        run_ended(c, rj);
        return 0;
    }
    r->reported = 1; /* its task's end only forgets it */
    chr_run_record(c, r);
    return 0;
}

void chr_run_cancel(struct chr *c, struct chr_run *r)
{
    r->killing = 1;
    history_add(c, r, CHR_HIST_KILLED, chr_now(c));
    chr_run_forget(c, r, NULL, NULL);
}

void chr_run_skipped(struct chr *c, struct chr_rjob *rj, int64_t due)
{
    struct chr_hist_ent e = {.task_id = "", .agent_id = "", .due = due,
                             .end = chr_now(c), .status = CHR_HIST_SKIPPED};

    c->skipped++;
    chr_history_add(c, rj, &e);
}

void chr_sched_on_status(void *state, struct agora_framework *fw,
                         const struct agora_status *st)
{
    struct chr *c = state;
    struct chr_run *r = agora_map_get(&c->tasks, st->task_id);

    (void)fw;
    if (!c->loaded) /* unacknowledged: the agent sends it again */
        return;
    if (r == NULL || r->task_ended) {
        if (r == NULL && !agora_task_state_terminal(st->state) &&
            st->state != AGORA_TASK_UNKNOWN)
            c->api->kill(c->fw, st->task_id);
        if (st->uuid)
            c->api->acknowledge(c->fw, st->task_id, st->uuid);
        return;
    }
    if (st->state == AGORA_TASK_UNKNOWN) {
        if (r->reported) { /* its task is gone; its outcome is counted */
            struct chr_rjob *rj = r->rj;

            chr_run_forget(c, r, NULL, NULL);
            run_ended(c, rj);
        } else if (r->state == CHR_RUN_LAUNCHED) {
            /* Recorded but never launched (a crash between the two):
             * launch it now, under the same id. */
            chr_sched_queue_push(c, r);
        }
        return;
    }
    if (agora_task_state_terminal(st->state)) {
        status_end(c, r, st);
        return;
    }
    if (st->state == AGORA_TASK_RUNNING && r->state != CHR_RUN_RUNNING) {
        r->state = CHR_RUN_RUNNING;
        r->started = (int64_t)(st->timestamp * 1000);
        chr_run_record(c, r);
        deadline_start(c, r);
    }
    if (st->uuid)
        c->api->acknowledge(c->fw, st->task_id, st->uuid);
}
