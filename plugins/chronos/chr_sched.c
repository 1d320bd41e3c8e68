/*
 * chr_sched.c - due times, runs, offers and task statuses.
 *
 * A scheduled job waits in the heap for its next nominal instant. When it
 * falls due: beyond its deadline (epsilon, startingDeadlineSeconds) the
 * instant is skipped; while a run of a non-concurrent job goes, it is
 * held and runs once that run ends (Chronos' coalescing), or is skipped
 * (FORBID), or replaces the run (REPLACE). Otherwise a run is recorded
 * (AGORA_STORE_NEW: once per instant), queued for an offer, launched,
 * and the job's schedule moves past the instant and is stored.
 *
 * Statuses: a finished run counts a success and fires the job's
 * dependents whose every parent has now succeeded (the AND-join, stored);
 * a failed one is retried after failure_retry while the job allows it,
 * else counted as an error (softError still fires dependents).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chronos.h"

/* ---- the due timer ---- */

static void due_fire(void *arg, struct agora_timer *t);

/* Arms the one SDK timer for the heap's earliest entry. */
void chr_sched_timer_update(struct chr *c)
{
    const struct chr_heap_ent *top = chr_heap_top(&c->heap);
    int64_t now = chr_now(c);
    double after;

    if (c->due_timer && (top == NULL || top->due != c->due_timer_at)) {
        c->api->timer_stop(c->h, c->due_timer);
        c->due_timer = NULL;
    }
    if (top == NULL || c->due_timer)
        return;
    after = top->due > now ? (double)(top->due - now) / 1000.0 : 0;
    if (c->api->timer_start(c->h, after, 0, due_fire, c, &c->due_timer) == 0)
        c->due_timer_at = top->due;
    else
        c->due_timer = NULL;
}

void chr_sched_disarm(struct chr *c, struct chr_rjob *rj)
{
    if (rj->heap_index != CHR_HEAP_NONE) {
        chr_heap_remove(&c->heap, rj->heap_index);
        rj->heap_index = CHR_HEAP_NONE;
    }
    rj->next_due = 0;
    chr_sched_timer_update(c);
}

/* The next instant of a scheduled job, or 0 when it has none. */
static int64_t next_instant(struct chr *c, const struct chr_rjob *rj)
{
    const struct chr_job *j = rj->job;
    const struct chr_tz *z = NULL;

    if (j->disabled || chr_job_dependent(j) || j->schedule == NULL)
        return 0;
    if (j->schedule_tz && *j->schedule_tz)
        z = chr_zone(c, j->schedule_tz, NULL);
    if (j->cron) {
        int64_t t = chr_cron_next(j->cron, z, chr_now(c) - 1);

        return t > 0 ? t : 0;
    }
    if (j->iso.repeat == 0)
        return 0;
    return j->iso.start;
}

void chr_sched_arm(struct chr *c, struct chr_rjob *rj)
{
    int64_t due = next_instant(c, rj);

    if (due == rj->next_due && rj->heap_index != CHR_HEAP_NONE)
        return;
    chr_sched_disarm(c, rj);
    if (due <= 0)
        return;
    rj->next_due = due;
    if (chr_heap_push(&c->heap, due, rj, &rj->heap_index) != 0)
        CHR_LOG(c, AGORA_LOG_ERROR, "cannot schedule %s: out of memory",
                rj->job->name);
    chr_sched_timer_update(c);
}

/* Moves a job's schedule past `due`: the ISO start advances by whole
 * periods beyond now (Chronos' skipForward) and R<n> counts one down;
 * a cron job simply waits for its next time. Stores the job. */
static void advance(struct chr *c, struct chr_rjob *rj, int64_t due)
{
    struct chr_job *j = rj->job;
    const struct chr_tz *z = NULL;
    struct chr_iso iso;
    int64_t now = chr_now(c), t;
    int guard = 0;

    if (j->schedule == NULL || j->cron) {
        chr_sched_arm(c, rj);
        return;
    }
    if (j->schedule_tz && *j->schedule_tz)
        z = chr_zone(c, j->schedule_tz, NULL);
    iso = j->iso;
    if (iso.repeat > 0)
        iso.repeat--;
    if (chr_period_zero(&iso.period)) {
        iso.repeat = 0;
    } else {
        t = due;
        /* Bounded: a tiny period after a long outage is jumped over by
         * whole periods in one go below, not stepped one at a time. */
        while (t <= now && guard++ < 1000)
            t = chr_period_add(&iso.period, z, t);
        if (t <= now && iso.period.years == 0 && iso.period.months == 0 &&
            iso.period.weeks == 0 && iso.period.days == 0) {
            int64_t step = chr_period_add(&iso.period, NULL, 0);

            if (step > 0)
                t += ((now - t) / step + 1) * step;
        }
        iso.start = t;
    }
    if (chr_job_set_iso(j, &iso, z) != 0)
        CHR_LOG(c, AGORA_LOG_ERROR, "cannot advance the schedule of %s",
                j->name);
    chr_job_save(c, rj);
    chr_sched_arm(c, rj);
}

/* ---- runs ---- */

static struct chr_run *run_new(struct chr *c, struct chr_rjob *rj,
                               int64_t due, int attempt, const char *args)
{
    struct chr_run *r = calloc(1, sizeof(*r));
    char *a = args ? strdup(args) : chr_job_args(rj->job), *p;
    struct chr_run **v;

    if (r == NULL || a == NULL)
        goto fail;
    /* An agora task id takes [A-Za-z0-9_.:@-]: other characters of the
     * arguments are written '_' in it (the arguments themselves reach the
     * command unchanged). */
    r->args = a;
    a = strdup(r->args);
    for (p = a; p && *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || strchr("_.:@-", *p)))
            *p = '_';
    }
    r->task_id = a ? chr_task_id_make(due, attempt, rj->job->name, a) : NULL;
    free(a);
    if (r->task_id == NULL || strlen(r->task_id) > AGORA_ID_MAX ||
        agora_map_get(&c->tasks, r->task_id) != NULL)
        goto fail;
    r->rj = rj;
    r->due = due;
    r->attempt = attempt;
    if ((r->job_name = strdup(rj->job->name)) == NULL)
        goto fail;
    if (rj->nruns == rj->capruns) {
        size_t cap = rj->capruns ? rj->capruns * 2 : 2;

        v = realloc(rj->runs, cap * sizeof(*v));
        if (v == NULL)
            goto fail;
        rj->runs = v;
        rj->capruns = cap;
    }
    if (agora_map_put(&c->tasks, r->task_id, r) != 0)
        goto fail;
    rj->runs[rj->nruns++] = r;
    return r;
fail:
    if (r) {
        free(r->task_id);
        free(r->job_name);
        free(r->args);
    }
    free(r);
    return NULL;
}

void chr_sched_queue_push(struct chr *c, struct chr_run *r)
{
    struct chr_run ***tail = r->rj && r->rj->job->high_priority
                                 ? &c->queue_high_tail
                                 : &c->queue_tail;

    if (*tail == NULL)
        *tail = r->rj && r->rj->job->high_priority ? &c->queue_high
                                                  : &c->queue;
    r->state = CHR_RUN_QUEUED;
    r->next_queued = NULL;
    **tail = r;
    *tail = &r->next_queued;
    if (c->suppressed) {
        c->api->revive(c->fw);
        c->suppressed = 0;
    }
}

int chr_sched_run(struct chr *c, struct chr_rjob *rj, int64_t due,
                  int attempt, const char *args)
{
    struct chr_run *r = run_new(c, rj, due, attempt, args);

    if (r == NULL)
        return AGORA_EEXIST; /* this instant runs already, or no memory */
    r->state = CHR_RUN_RECORDING;
    if (chr_launch_add(c, r) != 0) {
        CHR_LOG(c, AGORA_LOG_ERROR, "cannot record %s: out of memory; not "
                "launched", r->task_id);
        chr_run_forget(c, r, NULL, NULL);
        return AGORA_ENOMEM;
    }
    c->launched++;
    return 0;
}

static size_t live_runs(const struct chr_rjob *rj)
{
    return rj->nruns;
}

/*
 * An instant of rj fell due: skipped, held or started. 1 when the job's
 * schedule is then to move past it (advance(), after the launch record
 * is written: see chr_sched_due()), 0 when it is held.
 */
static int due_start(struct chr *c, struct chr_rjob *rj, int64_t due)
{
    struct chr_job *j = rj->job;
    int64_t now = chr_now(c);

    if (now > chr_job_deadline(j, due)) {
        CHR_LOG(c, AGORA_LOG_WARN, "%s: the run due at %lld is %lld ms "
                "late, past its deadline: skipped", j->name, (long long)due,
                (long long)(now - due));
        chr_run_skipped(c, rj, due);
        return 1;
    }
    if (live_runs(rj) > 0) {
        switch (j->concurrency) {
        case CHR_CONC_ALLOW:
            break;
        case CHR_CONC_FORBID:
            chr_run_skipped(c, rj, due);
            return 1;
        case CHR_CONC_REPLACE:
            chr_sched_kill_all(c, rj);
            break;
        default: /* QUEUE: once, when the current run ends */
            rj->held_due = due;
            chr_sched_disarm(c, rj);
            return 0;
        }
    }
    if (chr_sched_run(c, rj, due, 0, NULL) != 0)
        CHR_LOG(c, AGORA_LOG_ERROR, "cannot start a run of %s", j->name);
    return 1;
}

/* The launch record goes to the store before the advanced schedule, so
 * that a leader reading the old schedule also reads the record. */
void chr_sched_due(struct chr *c, struct chr_rjob *rj, int64_t due)
{
    if (due_start(c, rj, due)) {
        chr_launch_flush(c);
        advance(c, rj, due);
    }
}

struct due_ent {
    struct chr_rjob *rj;
    int64_t due;
    int advance;
};

/*
 * Every job due by now, in one turn: all their runs are started first
 * and recorded in one launch record (one store write for a thousand
 * launches, not a thousand), and only then are their schedules moved
 * on and stored. Without memory for the list, one at a time.
 */
static void due_fire(void *arg, struct agora_timer *t)
{
    struct chr *c = arg;
    const struct chr_heap_ent *top;
    struct due_ent *v = NULL, *nv;
    size_t n = 0, cap = 0, i;
    int64_t now = chr_now(c);

    (void)t;
    c->due_timer = NULL;
    while ((top = chr_heap_top(&c->heap)) != NULL && top->due <= now) {
        struct chr_rjob *rj = top->item;
        int64_t due = top->due;

        chr_heap_remove(&c->heap, rj->heap_index);
        rj->heap_index = CHR_HEAP_NONE;
        rj->next_due = 0;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            nv = realloc(v, cap * sizeof(*v));
            if (nv == NULL) {
                chr_sched_due(c, rj, due);
                cap = n;
                continue;
            }
            v = nv;
        }
        v[n].rj = rj;
        v[n].due = due;
        v[n].advance = due_start(c, rj, due);
        n++;
    }
    chr_launch_flush(c);
    for (i = 0; i < n; i++) {
        if (v[i].advance)
            advance(c, v[i].rj, v[i].due);
    }
    free(v);
    chr_sched_timer_update(c);
}

void chr_sched_kill_all(struct chr *c, struct chr_rjob *rj)
{
    size_t i = 0;

    while (i < rj->nruns) {
        struct chr_run *r = rj->runs[i++];

        if (r->task_ended) {
            /* No task left to kill and no status to come: it ends now
             * (and leaves rj->runs, so the same index again). */
            chr_run_cancel(c, r);
            i--;
        } else if (r->state == CHR_RUN_LAUNCHED ||
                   r->state == CHR_RUN_RUNNING) {
            r->killing = 1;
            c->api->kill(c->fw, r->task_id);
        } else {
            r->killing = 1; /* not launched yet: dropped at offer time */
        }
    }
}

/* ---- offers ---- */

static int attr_value(const struct agora_offer *o, const char *name,
                      const char **out)
{
    size_t i;

    if (strcmp(name, "hostname") == 0) {
        *out = o->hostname ? o->hostname : "";
        return 1;
    }
    for (i = 0; i < o->nattributes; i++) {
        if (strcmp(o->attributes[i].key, name) == 0) {
            *out = o->attributes[i].value;
            return 1;
        }
    }
    return 0;
}

static int constraints_ok(const struct chr_job *j, const struct agora_offer *o)
{
    size_t i;

    for (i = 0; i < j->nconstraints; i++) {
        const struct chr_constraint *k = &j->constraints[i];
        const char *v = NULL;
        int has = attr_value(o, k->attribute, &v), m;

        if (k->op == CHR_C_EQUALS) {
            if (!has || strcmp(v, k->value) != 0)
                return 0;
            continue;
        }
        m = has && k->has_re && regexec(&k->re, v, 0, NULL, 0) == 0;
        if ((k->op == CHR_C_LIKE && !m) || (k->op == CHR_C_UNLIKE && m))
            return 0;
    }
    return 1;
}

struct spec_buf {
    struct agora_task_spec spec;
    struct agora_resources res;
    struct agora_kv env[16];
    struct agora_kv *uenv;
    char *strs[8];
    const char **argv;
    struct agora_fetch_uri *fetch;
};

static void spec_free(struct spec_buf *b)
{
    size_t i;

    agora_resources_free(&b->res);
    free(b->uenv);
    for (i = 0; i < 8; i++)
        free(b->strs[i]);
    free(b->argv);
    free(b->fetch);
}

/* The job's fetch entries (its uris among them) for the agent's fetcher;
 * borrowed from the job. 0 or AGORA_ENOMEM. */
static int spec_fetch(const struct chr_job *j, struct spec_buf *b)
{
    if (j->nfetch == 0)
        return 0;
    if (!(b->fetch = calloc(j->nfetch, sizeof(*b->fetch))))
        return AGORA_ENOMEM;
    for (size_t i = 0; i < j->nfetch; i++) {
        b->fetch[i].uri = j->fetch[i].uri;
        b->fetch[i].output_file = j->fetch[i].output_file &&
                                          *j->fetch[i].output_file
                                      ? j->fetch[i].output_file
                                      : NULL;
        b->fetch[i].extract = j->fetch[i].extract;
        b->fetch[i].executable = j->fetch[i].executable;
        b->fetch[i].cache = j->fetch[i].cache;
    }
    b->spec.fetch = b->fetch;
    b->spec.nfetch = j->nfetch;
    return 0;
}

/* The task of run r as the agent gets it (Chronos' MesosTaskBuilder). */
static int spec_build(struct chr *c, struct chr_run *r, const char *host,
                      struct spec_buf *b)
{
    const struct chr_job *j = r->rj->job;
    char err[128], *command = NULL;
    size_t i, n = 0;

    memset(b, 0, sizeof(*b));
    if (asprintf(&b->strs[0], "cpus:%g;mem:%g;disk:%g", j->cpus, j->mem,
                 j->disk) < 0)
        return AGORA_ENOMEM;
    if (agora_resources_parse(b->strs[0], &b->res, err, sizeof(err)) != 0)
        return AGORA_EINVAL;
    if (j->shell) {
        if (asprintf(&command, "%s%s%s", j->command,
                     r->args && *r->args ? " " : "",
                     r->args ? r->args : "") < 0)
            return AGORA_ENOMEM;
        b->strs[1] = command;
        b->spec.command = command;
    } else {
        b->argv = calloc(j->narguments + 2, sizeof(*b->argv));
        if (b->argv == NULL)
            return AGORA_ENOMEM;
        b->argv[0] = j->command;
        for (i = 0; i < j->narguments; i++)
            b->argv[i + 1] = j->arguments[i];
        b->spec.argv = b->argv;
    }
    if (asprintf(&b->strs[2], "%lld", (long long)r->due) < 0 ||
        asprintf(&b->strs[3], "%d", r->attempt) < 0 ||
        asprintf(&b->strs[4], "%g", j->mem) < 0 ||
        asprintf(&b->strs[5], "%g", j->cpus) < 0 ||
        asprintf(&b->strs[6], "%g", j->disk) < 0)
        return AGORA_ENOMEM;
#define ENV(k, v) b->env[n].key = (k), b->env[n].value = (v), n++
    ENV("mesos_task_id", r->task_id);
    ENV("MESOS_TASK_ID", r->task_id);
    ENV("CHRONOS_JOB_OWNER", j->owner);
    ENV("CHRONOS_JOB_NAME", j->name);
    ENV("HOST", host);
    ENV("CHRONOS_RESOURCE_MEM", b->strs[4]);
    ENV("CHRONOS_RESOURCE_CPU", b->strs[5]);
    ENV("CHRONOS_RESOURCE_DISK", b->strs[6]);
    ENV("CHRONOS_JOB_RUN_TIME", b->strs[2]);
    ENV("CHRONOS_JOB_RUN_ATTEMPT", b->strs[3]);
#undef ENV
    b->uenv = calloc(n + j->nenv + 1, sizeof(*b->uenv));
    if (b->uenv == NULL)
        return AGORA_ENOMEM;
    memcpy(b->uenv, b->env, n * sizeof(*b->env));
    for (i = 0; i < j->nenv; i++) {
        b->uenv[n + i].key = j->env[i].name;
        b->uenv[n + i].value = j->env[i].value;
    }
    b->spec.task_id = r->task_id;
    b->spec.name = j->name;
    b->spec.env = b->uenv;
    b->spec.nenv = n + j->nenv;
    b->spec.user = j->run_as_user && *j->run_as_user ? j->run_as_user : NULL;
    b->spec.resources = &b->res;
    b->spec.container_json = j->container_json;
    (void)c;
    return spec_fetch(j, b);
}

/* The first queued run (high priority first) that fits o, taken off its
 * queue; runs of removed or disabled jobs and killed runs are dropped. */
static struct chr_run *queue_take(struct chr *c, const struct agora_offer *o,
                                  double *cpus, double *mem, double *disk)
{
    struct chr_run **heads[2] = {&c->queue_high, &c->queue};
    struct chr_run ***tails[2] = {&c->queue_high_tail, &c->queue_tail};
    int q;

    for (q = 0; q < 2; q++) {
        struct chr_run **pp = heads[q], *r;

        while ((r = *pp) != NULL) {
            const struct chr_job *j = r->rj ? r->rj->job : NULL;

            if (j == NULL || j->disabled || r->killing) {
                *pp = r->next_queued;
                if (*tails[q] == &r->next_queued)
                    *tails[q] = pp;
                chr_run_forget(c, r, NULL, NULL);
                continue;
            }
            if (j->cpus <= *cpus + 1e-9 && j->mem <= *mem + 1e-9 &&
                j->disk <= *disk + 1e-9 && constraints_ok(j, o)) {
                *pp = r->next_queued;
                if (*tails[q] == &r->next_queued)
                    *tails[q] = pp;
                r->next_queued = NULL;
                *cpus -= j->cpus;
                *mem -= j->mem;
                *disk -= j->disk;
                return r;
            }
            pp = &r->next_queued;
        }
    }
    return NULL;
}

/*
 * Runs placed in one offer, at most. 1,000 runs due together fill 16
 * offers of 64 rather than 63 of 16: the offers' round was answered in
 * 8 ms instead of 17 (scripts/bench/chronos). The buffers are on the
 * loop's stack: about 36 KB.
 */
#define OFFER_TASKS_MAX 64

static void offer_fill(struct chr *c, const struct agora_offer *o)
{
    double cpus = agora_resources_scalar(o->resources, "cpus");
    double mem = agora_resources_scalar(o->resources, "mem");
    double disk = agora_resources_scalar(o->resources, "disk");
    struct spec_buf bufs[OFFER_TASKS_MAX];
    struct agora_task_spec specs[OFFER_TASKS_MAX];
    struct chr_run *runs[OFFER_TASKS_MAX], *r;
    size_t n = 0, i;
    int rc;

    while (n < OFFER_TASKS_MAX &&
           (r = queue_take(c, o, &cpus, &mem, &disk)) != NULL) {
        if (spec_build(c, r, o->hostname ? o->hostname : "", &bufs[n]) != 0) {
            spec_free(&bufs[n]);
            chr_run_forget(c, r, NULL, NULL);
            continue;
        }
        specs[n] = bufs[n].spec;
        runs[n++] = r;
    }
    if (n == 0) {
        c->api->decline(c->fw, o->id, -1);
        return;
    }
    rc = c->api->accept(c->fw, o->id, specs, n);
    for (i = 0; i < n; i++) {
        spec_free(&bufs[i]);
        if (rc == 0) {
            runs[i]->state = CHR_RUN_LAUNCHED;
            free(runs[i]->agent_id);
            runs[i]->agent_id = strdup(o->agent_id);
        } else {
            chr_sched_queue_push(c, runs[i]); /* another offer, then */
        }
    }
}

void chr_sched_on_offer(void *state, struct agora_framework *fw,
                        const struct agora_offer *offers, size_t n)
{
    struct chr *c = state;
    size_t i;

    (void)fw;
    for (i = 0; i < n; i++)
        offer_fill(c, &offers[i]);
    if (c->queue == NULL && c->queue_high == NULL && !c->suppressed) {
        c->api->suppress(c->fw);
        c->suppressed = 1;
    }
}

void chr_sched_free(struct chr *c)
{
    chr_heap_free(&c->heap);
}
