/*
 * mar_sched.c - keeps each app's instances at its target.
 *
 * A pass over a dirty app compares what runs with what is wanted and
 * acts: kills what is surplus (scale-down in Marathon's victim order),
 * paces a rolling restart (marathon-api.md §3.2), and leaves launches to
 * the offers: an app that wants tasks is "queued", offers are revived,
 * and each offer is filled with as many queued tasks as fit (resources,
 * roles, host ports, constraints). Why an offer did not fit is counted
 * per app for GET /v2/queue.
 *
 * Status updates move instances; a terminal one removes the instance
 * (its replacement comes from the next pass), failed ones back the app
 * off (§3.5). Updates are acknowledged after the store write they cause.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marathon.h"
#include "mar_task_container.h"

#define MAR_MAX_PORTS 64

double mar_now(struct mar *m)
{
    return m->api->now(m->h);
}

/* ---- counting ---- */

/* Counts toward the app's instances: not ending, not being killed, and
 * not unreachable past its app's inactiveAfterSeconds (§3.10). */
static int inst_active(const struct mar_inst *in)
{
    return !in->killing && !agora_task_state_terminal(in->state) &&
           !(in->state == AGORA_TASK_UNREACHABLE && in->inactive);
}

/* Being killed still takes room until it is gone. */
static int inst_alive(const struct mar_inst *in)
{
    return !agora_task_state_terminal(in->state) &&
           !(in->state == AGORA_TASK_UNREACHABLE && in->inactive);
}

int mar_sched_inst_current(const struct mar_rapp *a, const struct mar_inst *in)
{
    const char *cur = a->def->last_config_change_at;

    return cur && in->config_version && strcmp(cur, in->config_version) == 0;
}

static unsigned inst_flags(const struct mar_inst *in)
{
    unsigned f = 0;

    if (inst_alive(in))
        f |= MAR_C_ALIVE;
    if (inst_active(in)) {
        f |= MAR_C_ACTIVE;
        if (mar_sched_inst_current(in->app, in))
            f |= MAR_C_FRESH;
    }
    if (in->state == AGORA_TASK_STAGING || in->state == AGORA_TASK_STARTING)
        f |= MAR_C_STAGED;
    else if (in->state == AGORA_TASK_RUNNING)
        f |= MAR_C_RUNNING;
    if (in->healthy == 1)
        f |= MAR_C_HEALTHY;
    else if (in->healthy == 0)
        f |= MAR_C_UNHEALTHY;
    return f;
}

/* The counter of a for each MAR_C_* bit, in bit order. */
static size_t *counter(struct mar_rapp *a, unsigned bit)
{
    size_t *c[MAR_C_KINDS] = {&a->nalive, &a->nactive, &a->nfresh,
                              &a->nstaged, &a->nrunning, &a->nhealthy,
                              &a->nunhealthy};

    return c[bit];
}

/* Adds (add = 1) or takes the flags f to / from a's counts. */
static void counts_add(struct mar_rapp *a, unsigned f, int add)
{
    unsigned b;

    for (b = 0; b < MAR_C_KINDS; b++) {
        if (f & (1u << b))
            add ? (*counter(a, b))++ : (*counter(a, b))--;
    }
}

void mar_sched_count(struct mar_inst *in, int gone)
{
    unsigned f = gone ? 0 : inst_flags(in);

    if (f == in->counted)
        return;
    counts_add(in->app, in->counted, 0);
    counts_add(in->app, f, 1);
    in->counted = f;
}

void mar_sched_count_app(struct mar_rapp *a)
{
    size_t i;

    for (i = 0; i < a->ninst; i++)
        mar_sched_count(a->inst[i], 0);
}

#if defined(MAR_CHECK_COUNTS) || !defined(NDEBUG)
/* Debug and sanitizer builds check the kept counts against a count from
 * scratch wherever they are used: a missed update aborts there. */
static void counts_check(const struct mar *m, struct mar_rapp *a)
{
    size_t i, n[MAR_C_KINDS] = {0};
    unsigned b;

    for (i = 0; i < a->ninst; i++) {
        unsigned f = inst_flags(a->inst[i]);

        for (b = 0; b < MAR_C_KINDS; b++)
            n[b] += (f & (1u << b)) != 0;
    }
    for (b = 0; b < MAR_C_KINDS; b++) {
        if (n[b] != *counter(a, b)) {
            MAR_LOG(m, AGORA_LOG_ERROR, "%s: count %u is %zu kept, %zu "
                    "counted", a->def->id, b, *counter(a, b), n[b]);
            abort();
        }
    }
}

/* The same for the count of waiting apps (m->nqueued), where a pass
 * decides on offers. */
static void queued_check(const struct mar *m)
{
    const struct mar_rapp *a;
    size_t i = 0, n = 0;

    while ((a = agora_map_next(&m->apps, &i)) != NULL)
        n += a->queued_since > 0;
    if (n != m->nqueued) {
        MAR_LOG(m, AGORA_LOG_ERROR, "%zu apps wait, %zu kept", n, m->nqueued);
        abort();
    }
}
#else
#define counts_check(m, a) ((void)0)
#define queued_check(m) ((void)0)
#endif

size_t mar_sched_active(const struct mar_rapp *a)
{
    return a->nactive;
}

int mar_sched_inst_ok(const struct mar_rapp *a, const struct mar_inst *in)
{
    if (in->state != AGORA_TASK_RUNNING || in->killing)
        return 0;
    if (a->def->nhealth_checks > 0 && in->healthy != 1)
        return 0;
    /* Readiness counts for the new tasks only (mar_ready.c). */
    return !a->ready || in->ready == 1 || !mar_sched_inst_current(a, in);
}

/*
 * maxCapacity of a rolling restart (§3.2), computed once, when it
 * begins: floor(instances * (1 + maximumOverCapacity)), one more when
 * that equals the minimum healthy count and the old instances fill it
 * (else nothing could start nor stop).
 */
void mar_sched_restart_begin(struct mar *m, struct mar_rapp *a)
{
    const struct mar_app *d = a->def;
    size_t i, old = 0, cap, min_healthy;

    (void)m;
    for (i = 0; i < a->ninst; i++) {
        if (inst_active(a->inst[i]) && !mar_sched_inst_current(a, a->inst[i]))
            old++;
    }
    cap = (size_t)floor(d->instances * (1.0 + d->max_over_capacity) + 1e-9);
    min_healthy = (size_t)ceil(d->instances * d->min_health_capacity - 1e-9);
    if (min_healthy == cap && cap <= old)
        cap++;
    a->restarting = 1;
    a->restart_cap = cap;
}

size_t mar_sched_wanted(struct mar *m, const struct mar_rapp *a)
{
    size_t active = a->nactive, fresh = a->nfresh, alive = a->nalive;
    size_t target = a->def->instances > 0 ? (size_t)a->def->instances : 0;

    if (a->stopping || a->held || !m->loaded)
        return 0;
    counts_check(m, (struct mar_rapp *)a);
    if (!a->restarting)
        return active < target ? target - active : 0;
    /* Rolling: never above maxCapacity, never more new than instances. */
    if (fresh >= target || alive >= a->restart_cap)
        return 0;
    return target - fresh < a->restart_cap - alive ? target - fresh
                                                   : a->restart_cap - alive;
}

/* ---- the pass ---- */

static void pass_run(void *arg, struct agora_timer *t);

void mar_sched_dirty(struct mar *m, struct mar_rapp *a)
{
    if (!a->dirty) {
        a->dirty = 1;
        a->next_dirty = m->dirty;
        m->dirty = a;
    }
    if (m->pass_timer == NULL &&
        m->api->timer_start(m->h, 0, 0, pass_run, m, &m->pass_timer) != 0)
        m->pass_timer = NULL;
}

/* Kills are sent again while the task lives: one sent to an agent that
 * was just then reconnecting is lost (Marathon's kill_retry_timeout). */
#define MAR_KILL_RETRY 5.0

static void kill_send(struct mar *m, struct mar_inst *in)
{
    int rc;

    in->kill_at = mar_now(m);
    rc = m->api->kill(m->fw, in->task_id);
    if (rc != 0)
        MAR_LOG(m, AGORA_LOG_WARN, "kill %s: %s", in->task_id,
                m->api->strerror(rc));
}

void mar_sched_kill(struct mar *m, struct mar_inst *in)
{
    if (in->killing)
        return;
    in->killing = 1;
    mar_sched_count(in, 0);
    kill_send(m, in);
}

static void kill_retry(struct mar *m, double now)
{
    struct mar_inst *in;
    size_t i = 0;

    while ((in = agora_map_next(&m->tasks, &i)) != NULL) {
        if (in->killing && now - in->kill_at >= MAR_KILL_RETRY)
            kill_send(m, in);
    }
}

/* Scale-down preference (§3.4): unreachable, unhealthy, staging,
 * starting, then running; ties by killSelection. */
static int victim_rank(const struct mar_inst *in)
{
    if (in->state == AGORA_TASK_UNREACHABLE)
        return 0;
    if (in->healthy == 0)
        return 1;
    if (in->state == AGORA_TASK_STAGING)
        return 2;
    if (in->state == AGORA_TASK_STARTING)
        return 3;
    return 4;
}

static int victim_order_oldest;

static int victim_cmp(const void *x, const void *y)
{
    const struct mar_inst *a = *(struct mar_inst *const *)x;
    const struct mar_inst *b = *(struct mar_inst *const *)y;
    int ra = victim_rank(a), rb = victim_rank(b);

    if (ra != rb)
        return ra - rb;
    if (a->staged.t == b->staged.t)
        return 0;
    if (victim_order_oldest)
        return a->staged.t < b->staged.t ? -1 : 1;
    return a->staged.t > b->staged.t ? -1 : 1;
}

static void place_of(struct mar *m, const struct mar_inst *in,
                     struct mar_place *p)
{
    struct mar_agent *ag = in->agent_id ? agora_map_get(&m->agents, in->agent_id)
                                        : NULL;

    p->hostname = in->host ? in->host : "";
    p->attributes = ag ? ag->attrs : NULL;
    p->nattributes = ag ? ag->nattrs : 0;
}

/* Kills k of the candidates (active instances), chosen in Marathon's
 * order with GROUP_BY / MAX_PER balance kept. */
static void kill_some(struct mar *m, struct mar_rapp *a,
                      struct mar_inst **cand, size_t n, size_t k, int scale)
{
    struct mar_place *places;
    size_t *chosen, i;
    long got;

    if (k == 0 || n == 0)
        return;
    victim_order_oldest = a->def->kill_selection == MAR_KILL_OLDEST_FIRST;
    qsort(cand, n, sizeof(*cand), victim_cmp);
    places = calloc(n, sizeof(*places));
    chosen = calloc(k, sizeof(*chosen));
    got = -1;
    if (places && chosen) {
        for (i = 0; i < n; i++)
            place_of(m, cand[i], &places[i]);
        got = mar_constraints_select_kill(a->def->constraints,
                                          a->def->nconstraints, places, n, k,
                                          chosen);
    }
    if (got < 0) { /* out of memory: the preferred ones, unbalanced */
        for (i = 0; i < k && i < n; i++) {
            cand[i]->scale_kill = scale;
            mar_sched_kill(m, cand[i]);
        }
    } else {
        for (i = 0; i < (size_t)got; i++) {
            cand[chosen[i]]->scale_kill = scale;
            mar_sched_kill(m, cand[chosen[i]]);
        }
    }
    free(places);
    free(chosen);
}

void mar_sched_scale_down(struct mar *m, struct mar_rapp *a, size_t k)
{
    struct mar_inst **cand = calloc(a->ninst + 1, sizeof(*cand));
    size_t i, n = 0;

    if (cand == NULL)
        return;
    for (i = 0; i < a->ninst; i++) {
        if (inst_active(a->inst[i]) || (a->inst[i]->state ==
                                        AGORA_TASK_UNREACHABLE &&
                                        !a->inst[i]->killing))
            cand[n++] = a->inst[i];
    }
    kill_some(m, a, cand, n, k < n ? k : n, 1);
    free(cand);
}

/* A rolling restart's kills: an old instance goes while the healthy
 * ones left would still be at least minimumHealthCapacity (§3.2); old
 * instances that are not healthy go at once. */
static void restart_kills(struct mar *m, struct mar_rapp *a)
{
    size_t i, healthy = 0, nold = 0, k = 0, unhealthy_old = 0;
    size_t min_healthy = (size_t)ceil(a->def->instances *
                                      a->def->min_health_capacity - 1e-9);
    struct mar_inst **old = calloc(a->ninst + 1, sizeof(*old));

    if (old == NULL)
        return;
    for (i = 0; i < a->ninst; i++) {
        struct mar_inst *in = a->inst[i];

        if (!inst_active(in))
            continue;
        if (mar_sched_inst_ok(a, in))
            healthy++;
        if (!mar_sched_inst_current(a, in)) {
            old[nold++] = in;
            unhealthy_old += !mar_sched_inst_ok(a, in);
        }
    }
    k = unhealthy_old;
    if (healthy > min_healthy)
        k += healthy - min_healthy;
    if (k > nold)
        k = nold;
    kill_some(m, a, old, nold, k, 0);
    free(old);
}

static void queue_leave(struct mar *m, struct mar_rapp *a)
{
    if (a->queued_since > 0) {
        a->queued_since = 0;
        m->nqueued--;
    }
}

static void pass_app(struct mar *m, struct mar_rapp *a)
{
    size_t active, i;

    if (a->stopping) {
        for (i = 0; i < a->ninst; i++)
            mar_sched_kill(m, a->inst[i]);
    } else if (a->held) {
        ; /* its step has not begun */
    } else if (a->restarting) {
        restart_kills(m, a);
    } else {
        active = mar_sched_active(a);
        if (active > (size_t)a->def->instances)
            mar_sched_scale_down(m, a, active - (size_t)a->def->instances);
    }
    if (mar_sched_wanted(m, a) > 0) {
        if (a->queued_since == 0) {
            a->queued_since = mar_now(m);
            m->nqueued++;
            /* New demand: the kept offers are tried first (pass_run),
             * then offers declined for lack of it come back now, not
             * when their 5 s filters expire. */
            m->want_revive = 1;
            m->demand_at = a->queued_since;
        }
    } else {
        queue_leave(m, a);
    }
    mar_deploy_progress(m, a); /* may remove a */
}

/* Offers come while something waits, and stop when nothing does. */
static void offers_update(struct mar *m)
{
    struct mar_rapp *a;
    size_t i = 0;
    int want = 0;
    double now = mar_now(m);

    queued_check(m);
    /* Most passes find nothing waiting: no walk over every app then. */
    while (m->nqueued > 0 && !want &&
           (a = agora_map_next(&m->apps, &i)) != NULL)
        want = a->queued_since > 0 && a->launch_after <= now;
    if (want && (m->suppressed || m->want_revive)) {
        m->api->revive(m->fw);
        m->suppressed = 0;
        m->want_revive = 0;
    } else if (!want && !m->suppressed) {
        m->api->suppress(m->fw);
        m->suppressed = 1;
    }
}

static void held_fill(struct mar *m);

static void pass_run(void *arg, struct agora_timer *t)
{
    struct mar *m = arg;
    struct mar_rapp *a;

    (void)t;
    m->pass_timer = NULL;
    while ((a = m->dirty) != NULL) {
        m->dirty = a->next_dirty;
        a->dirty = 0;
        a->next_dirty = NULL;
        pass_app(m, a);
    }
    if (m->want_revive)
        held_fill(m);
    offers_update(m);
}

/* ---- unhealthy tasks ---- */

/* Marathon-level checks (HTTP, HTTPS, TCP) are run by the agent, which
 * reports each change of health but does not kill for them: the kill is
 * decided here, so that it can be rate-limited (marathon-api.md §6 #4):
 * when a partition or an overloaded network makes every check fail at
 * once, at most health_kill_rate tasks per second are killed, not the
 * whole app. Mesos-level checks (COMMAND, MESOS_*) kill on the agent, as
 * in Mesos. */
static int marathon_level(const struct mar_app *d)
{
    return d->nhealth_checks > 0 &&
           (d->health_checks[0].protocol == MAR_HC_HTTP ||
            d->health_checks[0].protocol == MAR_HC_HTTPS ||
            d->health_checks[0].protocol == MAR_HC_TCP);
}

/* Failures in a row since the check began to fail: one per interval. */
static int failures_since(const struct mar_inst *in, double now)
{
    const struct mar_health_check *c = &in->app->def->health_checks[0];
    double iv = c->interval > 0 ? c->interval : 1;

    return 1 + (int)((now - in->unhealthy_since) / iv);
}

static void health_kill_event(struct mar *m, struct mar_inst *in);

/* Unreachable instances turn inactive (and are replaced) after their
 * app's inactiveAfterSeconds; tasks not running task_launch_timeout
 * after their launch are killed, as Marathon's overdue tasks. */
static void overdue(struct mar *m, double now)
{
    struct mar_inst *in;
    size_t i = 0;

    while ((in = agora_map_next(&m->tasks, &i)) != NULL) {
        const struct mar_app *d = in->app->def;

        if (in->state == AGORA_TASK_UNREACHABLE && !in->inactive &&
            (d->unreachable_disabled ? 0 : now - in->unreachable_since >=
                                               d->unreachable_inactive_after)) {
            in->inactive = 1;
            mar_sched_count(in, 0);
            mar_sched_dirty(m, in->app);
        }
        if ((in->state == AGORA_TASK_STAGING ||
             in->state == AGORA_TASK_STARTING) && !in->killing &&
            in->launch_from > 0 &&
            now - in->launch_from > m->conf->task_launch_timeout) {
            MAR_LOG(m, AGORA_LOG_WARN, "task %s did not run within %.0f s; "
                    "killing it", in->task_id, m->conf->task_launch_timeout);
            mar_sched_kill(m, in);
            mar_sched_dirty(m, in->app);
        }
    }
}

static void health_kills(struct mar *m, double now)
{
    double rate = m->conf->health_kill_rate > 0 ? m->conf->health_kill_rate
                                                : 1;
    struct mar_inst *in;
    size_t i = 0;

    m->health_kill_budget += rate;
    if (m->health_kill_budget > (rate > 1 ? rate : 1))
        m->health_kill_budget = rate > 1 ? rate : 1;
    while ((in = agora_map_next(&m->tasks, &i)) != NULL) {
        const struct mar_app *d = in->app->def;

        if (in->killing || in->healthy != 0 || in->unhealthy_since <= 0 ||
            !marathon_level(d))
            continue;
        if (in->consecutive_failures != failures_since(in, now)) {
            in->consecutive_failures = failures_since(in, now);
            mar_inst_changed(in);
        }
        if (d->health_checks[0].max_consecutive_failures <= 0 ||
            in->consecutive_failures <
                d->health_checks[0].max_consecutive_failures)
            continue;
        if (m->health_kill_budget < 1)
            break;
        m->health_kill_budget -= 1;
        in->health_kill = 1;
        health_kill_event(m, in);
        mar_sched_kill(m, in);
    }
}

/* Every second: backoffs that expired, and a gauge or two. */
void mar_sched_tick(void *arg, struct agora_timer *t)
{
    struct mar *m = arg;
    struct mar_rapp *a;
    size_t i = 0;
    double now = mar_now(m);

    (void)t;
    if (!m->loaded)
        return;
    while ((a = agora_map_next(&m->apps, &i)) != NULL) {
        if (a->queued_since > 0 || (a->launch_after > 0 &&
                                    a->launch_after <= now))
            mar_sched_dirty(m, a);
    }
    mar_offers_expire(m, now, 0);
    kill_retry(m, now);
    overdue(m, now);
    mar_ready_tick(m);
    health_kills(m, now);
    m->api->metric_set(m->h, "apps", (double)m->apps.n);
    m->api->metric_set(m->h, "instances", (double)m->tasks.n);
    m->api->metric_set(m->h, "deployments", (double)m->ndeploys);
}

/* ---- backoff ---- */

void mar_sched_backoff_reset(struct mar *m, struct mar_rapp *a)
{
    (void)m;
    a->backoff = 0;
    a->launch_after = 0;
}

static void backoff_failed(struct mar *m, struct mar_rapp *a)
{
    const struct mar_app *d = a->def;

    if (a->backoff <= 0)
        a->backoff = d->backoff_seconds;
    else
        a->backoff = a->backoff * d->backoff_factor;
    if (a->backoff > d->max_launch_delay)
        a->backoff = d->max_launch_delay;
    a->launch_after = mar_now(m) + a->backoff;
}

/* ---- offers ---- */

/* 1 when ag already holds what o says of its agent (the usual case:
 * every allocation run offers every agent again). */
static int agent_same(const struct mar_agent *ag, const struct agora_offer *o)
{
    size_t i;

    if (ag->hostname == NULL ||
        strcmp(ag->hostname, o->hostname ? o->hostname : "") != 0 ||
        ag->nattrs != o->nattributes)
        return 0;
    for (i = 0; i < ag->nattrs; i++) {
        if (strcmp(ag->attrs[i].key, o->attributes[i].key) != 0 ||
            strcmp(ag->attrs[i].value, o->attributes[i].value) != 0)
            return 0;
    }
    return 1;
}

/* The agent of an offer, remembered for constraints of later passes. */
static void agent_remember(struct mar *m, const struct agora_offer *o)
{
    struct mar_agent *ag = agora_map_get(&m->agents, o->agent_id);
    size_t i;

    if (ag != NULL && agent_same(ag, o))
        return;
    if (ag == NULL) {
        ag = calloc(1, sizeof(*ag));
        if (ag == NULL || agora_map_put(&m->agents, o->agent_id, ag) < 0) {
            free(ag);
            return;
        }
    } else {
        for (i = 0; i < ag->nattrs; i++) {
            free((char *)ag->attrs[i].key);
            free((char *)ag->attrs[i].value);
        }
        free(ag->attrs);
        free(ag->hostname);
        ag->attrs = NULL;
        ag->nattrs = 0;
    }
    ag->hostname = strdup(o->hostname ? o->hostname : "");
    if (o->nattributes == 0)
        return;
    ag->attrs = calloc(o->nattributes, sizeof(*ag->attrs));
    if (ag->attrs == NULL)
        return;
    for (i = 0; i < o->nattributes; i++) {
        ag->attrs[i].key = strdup(o->attributes[i].key);
        ag->attrs[i].value = strdup(o->attributes[i].value);
        if (ag->attrs[i].key && ag->attrs[i].value) {
            ag->nattrs++;
        } else {
            free((char *)ag->attrs[i].key);
            free((char *)ag->attrs[i].value);
            break;
        }
    }
}

/* What is left of an offer as tasks are fitted into it. */
struct fit {
    const struct agora_offer *o;
    const char *role;          /* the role whose resources are used       */
    double cpus, mem, disk, gpus;
    struct agora_range *ranges; /* free port ranges (copied)               */
    size_t nranges;
};

static double res_scalar(const struct agora_resources *r, const char *name,
                         const char *role)
{
    const struct agora_resource *x = agora_resources_find(r, name, role);

    return x ? x->scalar : 0;
}

static int role_accepted(const struct mar_app *d, const char *role)
{
    size_t i;

    if (d->accepted_roles == NULL)
        return 1;
    for (i = 0; i < d->naccepted_roles; i++) {
        if (strcmp(d->accepted_roles[i], role) == 0)
            return 1;
    }
    return 0;
}

static int fit_init(struct fit *f, const struct agora_offer *o,
                    const char *role)
{
    const struct agora_resource *p;

    memset(f, 0, sizeof(*f));
    f->o = o;
    f->role = role;
    f->cpus = res_scalar(o->resources, "cpus", role);
    f->mem = res_scalar(o->resources, "mem", role);
    f->disk = res_scalar(o->resources, "disk", role);
    f->gpus = res_scalar(o->resources, "gpus", role);
    p = agora_resources_find(o->resources, "ports", role);
    if (p && p->nranges > 0) {
        f->ranges = calloc(p->nranges, sizeof(*f->ranges));
        if (f->ranges == NULL)
            return AGORA_ENOMEM;
        memcpy(f->ranges, p->ranges, p->nranges * sizeof(*f->ranges));
        f->nranges = p->nranges;
    }
    return 0;
}

/* Takes port `want` (0: the lowest free) from the ranges; 0 if none. */
static uint32_t fit_port(struct fit *f, uint32_t want)
{
    size_t i;

    for (i = 0; i < f->nranges; i++) {
        struct agora_range *r = &f->ranges[i];
        uint64_t p;

        if (r->begin > r->end)
            continue;
        if (want == 0) {
            p = r->begin++;
            return (uint32_t)p;
        }
        if (want < r->begin || want > r->end)
            continue;
        if (want == r->begin) {
            r->begin++;
        } else if (want == r->end) {
            r->end--;
        } else {
            /* Split the range around want. */
            struct agora_range *v = realloc(f->ranges, (f->nranges + 1) *
                                                           sizeof(*v));

            if (v == NULL)
                return 0;
            f->ranges = v;
            r = &f->ranges[i];
            f->ranges[f->nranges].begin = want + 1;
            f->ranges[f->nranges].end = r->end;
            f->nranges++;
            r->end = want - 1;
        }
        return want;
    }
    return 0;
}

/* 1 when one task of a fits what is left of f; else the reason. */
static int fit_check(const struct fit *f, const struct mar_app *d,
                     enum mar_reject *why)
{
    size_t i, free_ports = 0;

    if (f->cpus + 1e-9 < d->cpus) {
        *why = MAR_R_CPUS;
        return 0;
    }
    if (f->mem + 1e-9 < d->mem) {
        *why = MAR_R_MEM;
        return 0;
    }
    if (f->disk + 1e-9 < d->disk) {
        *why = MAR_R_DISK;
        return 0;
    }
    if (f->gpus + 1e-9 < d->gpus) {
        *why = MAR_R_GPUS;
        return 0;
    }
    for (i = 0; i < f->nranges; i++) {
        if (f->ranges[i].begin <= f->ranges[i].end)
            free_ports += (size_t)(f->ranges[i].end - f->ranges[i].begin + 1);
    }
    if (free_ports < mar_app_host_ports(d)) {
        *why = MAR_R_PORTS;
        return 0;
    }
    return 1;
}

/* The places of a's active instances plus those placed in this offer
 * round (pending, on agent agent_id). */
static int constraints_ok(struct mar *m, const struct mar_rapp *a,
                          const struct agora_offer *o, size_t pending)
{
    struct mar_place cand, *placed;
    size_t i, n = 0;
    int ok;

    if (a->def->nconstraints == 0)
        return 1;
    placed = calloc(a->ninst + pending + 1, sizeof(*placed));
    if (placed == NULL)
        return 0;
    for (i = 0; i < a->ninst; i++) {
        if (!agora_task_state_terminal(a->inst[i]->state) &&
            !a->inst[i]->killing)
            place_of(m, a->inst[i], &placed[n++]);
    }
    cand.hostname = o->hostname ? o->hostname : "";
    cand.attributes = o->attributes;
    cand.nattributes = o->nattributes;
    for (i = 0; i < pending; i++)
        placed[n++] = cand;
    ok = mar_constraints_match(a->def->constraints, a->def->nconstraints,
                               &cand, placed, n, NULL);
    free(placed);
    return ok;
}

/* ---- building a task ---- */

struct envb {
    struct agora_kv *v;
    char **owned;
    size_t n, cap, nowned;
    int nomem;
};

static void env_add(struct envb *e, const char *k, const char *v)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 32;
        struct agora_kv *nv = realloc(e->v, cap * sizeof(*nv));

        if (nv == NULL) {
            e->nomem = 1;
            return;
        }
        e->v = nv;
        e->cap = cap;
    }
    e->v[e->n].key = k;
    e->v[e->n].value = v ? v : "";
    e->n++;
}

/* Adds a formatted value (or name) that the builder owns. */
static const char *env_own(struct envb *e, char *s)
{
    char **no;

    if (s == NULL) {
        e->nomem = 1;
        return NULL;
    }
    no = realloc(e->owned, (e->nowned + 1) * sizeof(*no));
    if (no == NULL) {
        free(s);
        e->nomem = 1;
        return NULL;
    }
    e->owned = no;
    e->owned[e->nowned++] = s;
    return s;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    char *s = NULL;
    int rc;

    va_start(ap, f);
    rc = vasprintf(&s, f, ap);
    va_end(ap);
    return rc < 0 ? NULL : s;
}

static void env_free(struct envb *e)
{
    size_t i;

    for (i = 0; i < e->nowned; i++)
        free(e->owned[i]);
    free(e->owned);
    free(e->v);
}

/* "MARATHON_APP_LABEL_<NAME>": upper-case, non-alphanumerics as '_'. */
static char *label_env_name(const char *key)
{
    char *s = fmt("MARATHON_APP_LABEL_%s", key), *p;

    if (s == NULL)
        return NULL;
    for (p = s + 19; *p; p++) {
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
        else if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '_';
    }
    return s;
}

/* What a task's environment takes from its app's definition alone,
 * formatted once per definition instead of for every task (vasprintf
 * of the resources was a tenth of a 500-task launch). */
struct mar_envc {
    char *cpus, *mem, *disk, *gpus;
    char *labels;            /* the label keys, space-separated          */
    char **label_names;      /* MARATHON_APP_LABEL_<KEY>, NULL: too long */
    size_t nlabels;          /* entries of label_names                   */
};

void mar_sched_envc_free(struct mar_envc *c)
{
    size_t i;

    if (c == NULL)
        return;
    free(c->cpus);
    free(c->mem);
    free(c->disk);
    free(c->gpus);
    free(c->labels);
    for (i = 0; c->label_names && i < c->nlabels; i++)
        free(c->label_names[i]);
    free(c->label_names);
    free(c);
}

/* a->envc, made when missing; NULL when out of memory. */
static const struct mar_envc *app_envc(struct mar_rapp *a)
{
    const struct mar_app *d = a->def;
    struct mar_envc *c;
    size_t i, len = 1;
    int nomem;

    if (a->envc)
        return a->envc;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->label_names = calloc(d->nlabels + 1, sizeof(*c->label_names));
    if (c->label_names)
        c->nlabels = d->nlabels;
    c->cpus = fmt("%g", d->cpus);
    c->mem = fmt("%g", d->mem);
    c->disk = fmt("%g", d->disk);
    c->gpus = fmt("%d", d->gpus);
    for (i = 0; i < d->nlabels; i++)
        len += strlen(d->labels[i].key) + 1;
    c->labels = calloc(1, len);
    nomem = !c->label_names || !c->cpus || !c->mem || !c->disk || !c->gpus ||
            !c->labels;
    for (i = 0; !nomem && i < d->nlabels; i++) {
        if (i)
            strcat(c->labels, " ");
        strcat(c->labels, d->labels[i].key);
        if (strlen(d->labels[i].value) <= 512 &&
            (c->label_names[i] = label_env_name(d->labels[i].key)) == NULL)
            nomem = 1;
    }
    if (nomem) {
        mar_sched_envc_free(c);
        return NULL;
    }
    a->envc = c;
    return c;
}

/* Marathon's task environment (marathon-api.md §3.12). */
static void env_build(struct envb *e, const struct mar_app *d,
                      const struct mar_envc *c, const struct mar_inst *in)
{
    size_t i, len = 0;
    char *ports = NULL;

    for (i = 0; i < d->nenv; i++)
        env_add(e, d->env[i].key, d->env[i].value);
    for (i = 0; i < in->nports; i++) {
        const char *v = env_own(e, fmt("%u", in->ports[i]));

        env_add(e, env_own(e, fmt("PORT%zu", i)), v);
        if (i == 0)
            env_add(e, "PORT", v);
        if (!d->bridge && i < d->nport_defs && d->port_defs[i].name) {
            char *n = fmt("PORT_%s", d->port_defs[i].name), *p;

            for (p = n ? n + 5 : NULL; p && *p; p++) {
                if (*p >= 'a' && *p <= 'z')
                    *p = (char)(*p - 'a' + 'A');
                else if (*p == '-')
                    *p = '_';
            }
            env_add(e, env_own(e, n), v);
        }
        len += 12;
    }
    ports = calloc(1, len + 1);
    for (i = 0; ports && i < in->nports; i++)
        snprintf(ports + strlen(ports), len + 1 - strlen(ports), "%s%u",
                 i ? "," : "", in->ports[i]);
    if (in->nports > 0)
        env_add(e, "PORTS", env_own(e, ports));
    else
        free(ports);
    env_add(e, "HOST", in->host);
    env_add(e, "MESOS_TASK_ID", in->task_id);
    env_add(e, "MARATHON_APP_ID", d->id);
    env_add(e, "MARATHON_APP_VERSION", d->version);
    env_add(e, "MARATHON_APP_DOCKER_IMAGE", d->docker_image);
    env_add(e, "MARATHON_APP_RESOURCE_CPUS", c->cpus);
    env_add(e, "MARATHON_APP_RESOURCE_MEM", c->mem);
    env_add(e, "MARATHON_APP_RESOURCE_DISK", c->disk);
    env_add(e, "MARATHON_APP_RESOURCE_GPUS", c->gpus);
    for (i = 0; i < d->nlabels; i++) {
        if (c->label_names[i])
            env_add(e, c->label_names[i], d->labels[i].value);
    }
    env_add(e, "MARATHON_APP_LABELS", c->labels);
}

static int marathon_level(const struct mar_app *d);

static void health_spec(const struct mar_app *d, struct agora_health_check *h)
{
    const struct mar_health_check *c = &d->health_checks[0];

    memset(h, 0, sizeof(*h));
    switch (c->protocol) {
    case MAR_HC_COMMAND:
        h->type = AGORA_CHECK_COMMAND;
        h->command = c->command;
        break;
    case MAR_HC_TCP:
    case MAR_HC_MESOS_TCP:
        h->type = AGORA_CHECK_TCP;
        break;
    case MAR_HC_HTTPS:
    case MAR_HC_MESOS_HTTPS:
        h->type = AGORA_CHECK_HTTP;
        h->scheme = "https";
        h->path = c->path;
        break;
    default:
        h->type = AGORA_CHECK_HTTP;
        h->path = c->path;
        break;
    }
    h->port = c->port > 0 ? (uint32_t)c->port : 0;
    h->port_index = c->port_index > 0 ? (uint32_t)c->port_index : 0;
    /* Marathon-level checks (HTTP, HTTPS, TCP) start at once; Mesos-level
     * ones after delaySeconds. */
    h->delay = c->protocol >= MAR_HC_MESOS_HTTP ? c->delay : 0;
    h->grace_period = c->grace_period;
    h->interval = c->interval;
    h->timeout = c->timeout;
    /* Marathon-level checks are killed from here, rate-limited. */
    h->max_consecutive_failures = marathon_level(d)
                                      ? 0
                                      : (uint32_t)c->max_consecutive_failures;
}

/* The task's resources as text, its host ports included. */
static char *res_text(const struct mar_app *d, const struct mar_inst *in,
                      const char *role)
{
    char *s = fmt("cpus(%s):%g;mem(%s):%g", role, d->cpus, role, d->mem), *t;
    size_t i;

    if (s && d->disk > 0) {
        t = fmt("%s;disk(%s):%g", s, role, d->disk);
        free(s);
        s = t;
    }
    if (s && d->gpus > 0) {
        t = fmt("%s;gpus(%s):%d", s, role, d->gpus);
        free(s);
        s = t;
    }
    for (i = 0; s && i < in->nports; i++) {
        t = fmt("%s%s%u-%u", s, i ? "," : ";ports(*):[", in->ports[i],
                in->ports[i]);
        free(s);
        s = t;
        if (s && i + 1 == in->nports) {
            t = fmt("%s]", s);
            free(s);
            s = t;
        }
    }
    if (s && role && strcmp(role, "*") != 0 && in->nports > 0) {
        /* Ports come from the same role as the rest. */
        char *p = strstr(s, "ports(*)");

        if (p) {
            t = fmt("%.*sports(%s)%s", (int)(p - s), s, role, p + 8);
            free(s);
            s = t;
        }
    }
    return s;
}

static void res_forget(struct mar_rapp *a)
{
    agora_resources_free(&a->res);
    memset(&a->res, 0, sizeof(a->res));
    free(a->res_role);
    a->res_role = NULL;
}

/* The resources of one task of a without ports, from role, parsed once
 * per definition and role (a->res, dropped when the definition changes)
 * instead of formatted and parsed again for every task. NULL when out
 * of memory or unparsable: the caller then builds its own. */
static const struct agora_resources *app_res(struct mar_rapp *a,
                                             const char *role)
{
    struct mar_inst none = {0};
    char *text;
    int rc;

    if (a->res_role && strcmp(a->res_role, role) == 0)
        return &a->res;
    /* Another role (the same app within one offer never changes role,
     * so no launch still points at the resources freed here). */
    res_forget(a);
    text = res_text(a->def, &none, role);
    if (text == NULL)
        return NULL;
    rc = agora_resources_parse(text, &a->res, NULL, 0);
    free(text);
    if (rc != 0 || (a->res_role = strdup(role)) == NULL) {
        res_forget(a);
        return NULL;
    }
    return &a->res;
}

struct launch {
    struct agora_task_spec spec;
    struct agora_resources res;
    const struct agora_resources *res_app; /* the app's, when no ports */
    struct agora_health_check health;
    struct envb env;
    struct agora_kv *labels;
    struct agora_fetch_uri *fetch;
    struct mar_inst *in;
    struct mar_task_ctr ctr; /* container JSON, port env (net16) */
};

static void launch_free(struct launch *l)
{
    free(l->labels);
    free(l->fetch);
    mar_task_container_free(&l->ctr);
    agora_resources_free(&l->res);
    env_free(&l->env);
}

/* The app's fetch entries (its uris among them) for the agent's
 * fetcher; borrowed from the definition. 0 or AGORA_ENOMEM. */
static int launch_fetch(const struct mar_app *d, struct launch *l)
{
    if (d->nfetch == 0)
        return 0;
    if (!(l->fetch = calloc(d->nfetch, sizeof(*l->fetch))))
        return AGORA_ENOMEM;
    for (size_t i = 0; i < d->nfetch; i++) {
        l->fetch[i].uri = d->fetch[i].uri;
        l->fetch[i].output_file = d->fetch[i].dest_path;
        l->fetch[i].extract = d->fetch[i].extract;
        l->fetch[i].executable = d->fetch[i].executable;
        l->fetch[i].cache = d->fetch[i].cache;
    }
    l->spec.fetch = l->fetch;
    l->spec.nfetch = d->nfetch;
    return 0;
}

/* Fits one task of a into f: takes resources and ports, builds the
 * spec. The instance is created but not attached yet. */
static int launch_build(struct mar *m, struct mar_rapp *a, struct fit *f,
                        struct launch *l)
{
    const struct mar_app *d = a->def;
    size_t nports = mar_app_host_ports(d), i;
    const struct mar_envc *envc;
    char *text, err[128];
    struct mar_inst *in;

    memset(l, 0, sizeof(*l));
    in = mar_state_inst_new(m, a);
    if (in == NULL)
        return AGORA_ENOMEM;
    l->in = in;
    in->agent_id = strdup(f->o->agent_id);
    in->host = strdup(f->o->hostname ? f->o->hostname : "");
    in->ports = calloc(nports + 1, sizeof(*in->ports));
    if (!in->agent_id || !in->host || !in->ports)
        return AGORA_ENOMEM;
    for (i = 0; i < nports; i++) {
        uint32_t want = 0;

        if (d->require_ports && !d->bridge && i < d->nport_defs)
            want = (uint32_t)d->port_defs[i].port;
        if (d->bridge) {
            size_t j, k = 0;

            for (j = 0; j < d->nport_mappings; j++) {
                if (d->port_mappings[j].host_port < 0)
                    continue;
                if (k++ == i) {
                    want = (uint32_t)d->port_mappings[j].host_port;
                    break;
                }
            }
        }
        in->ports[i] = fit_port(f, want);
        if (in->ports[i] == 0)
            return AGORA_EINVAL;
        in->nports++;
    }
    f->cpus -= d->cpus;
    f->mem -= d->mem;
    f->disk -= d->disk;
    f->gpus -= d->gpus;
    mar_stamp_set(&in->staged, mar_now(m));
    in->launch_from = in->staged.t;

    if (in->nports == 0 && (l->res_app = app_res(a, f->role)) != NULL)
        text = NULL;
    else if ((text = res_text(d, in, f->role)) == NULL ||
             agora_resources_parse(text, &l->res, err, sizeof(err)) != 0) {
        MAR_LOG(m, AGORA_LOG_ERROR, "resources of %s: %s", in->task_id,
                text ? err : "out of memory");
        free(text);
        return AGORA_EINVAL;
    }
    free(text);
    if ((envc = app_envc(a)) == NULL)
        return AGORA_ENOMEM;
    env_build(&l->env, d, envc, in);
    if (l->env.nomem)
        return AGORA_ENOMEM;
    l->spec.task_id = in->task_id;
    l->spec.name = d->id;
    if (d->cmd)
        l->spec.command = d->cmd;
    else if (d->args)
        l->spec.argv = (const char *const *)d->args;
    l->spec.env = l->env.v;
    l->spec.nenv = l->env.n;
    l->spec.user = d->user;
    l->spec.resources = l->res_app ? l->res_app : &l->res;
    if (d->nlabels > 0) {
        l->labels = calloc(d->nlabels, sizeof(*l->labels));
        if (l->labels == NULL)
            return AGORA_ENOMEM;
        for (i = 0; i < d->nlabels; i++) {
            l->labels[i].key = d->labels[i].key;
            l->labels[i].value = d->labels[i].value;
        }
        l->spec.labels = l->labels;
        l->spec.nlabels = d->nlabels;
    }
    l->spec.kill_grace_period = d->kill_grace_period > 0
                                    ? d->kill_grace_period
                                    : 0;
    if (d->nhealth_checks > 0) {
        health_spec(d, &l->health);
        l->spec.health = &l->health;
    }
    /* The container with the task's concrete host ports, and Marathon's
     * PORT_<containerPort>/PORT_<NAME> (mar_task_container.c). */
    if (mar_task_container(d, in->ports, in->nports, &l->ctr) != 0)
        return AGORA_ENOMEM;
    for (i = 0; i < l->ctr.nenv; i++)
        env_add(&l->env, l->ctr.env[i].key, l->ctr.env[i].value);
    if (l->env.nomem)
        return AGORA_ENOMEM;
    l->spec.env = l->env.v;
    l->spec.nenv = l->env.n;
    l->spec.container_json = l->ctr.json;
    return launch_fetch(d, l);
}

static void reject(struct mar_rapp *a, enum mar_reject why)
{
    a->reject_declined[why]++;
}

/* The apps waiting for offers, in the order they began to wait. */
static size_t queued_apps(struct mar *m, struct mar_rapp ***out)
{
    struct mar_rapp *a, **v;
    size_t i = 0, n = 0;
    double now = mar_now(m);

    if (m->nqueued == 0)
        return 0;
    v = calloc(m->apps.n + 1, sizeof(*v));
    if (v == NULL)
        return 0;
    while ((a = agora_map_next(&m->apps, &i)) != NULL) {
        if (a->queued_since > 0 && a->launch_after <= now &&
            mar_sched_wanted(m, a) > 0)
            v[n++] = a;
    }
    *out = v;
    return n;
}

/* Drops the apps that want nothing more from the queue, so that a batch
 * of offers does not walk the apps an earlier offer filled. */
static size_t queue_compact(struct mar *m, struct mar_rapp **q, size_t n)
{
    size_t i, k = 0;

    for (i = 0; i < n; i++) {
        if (mar_sched_wanted(m, q[i]) > 0)
            q[k++] = q[i];
    }
    return k;
}

/* Roles one offer's apps draw from, at most. */
#define MAR_FIT_ROLES 4

/* What is left of role's resources in the offer, shared by every app
 * that draws from that role, so that the apps filled into one offer
 * never ask for more than it holds. NULL when out of memory or when
 * MAR_FIT_ROLES roles are in use already (the app waits for another
 * offer). */
static struct fit *fit_of(struct fit *fits, size_t *n,
                          const struct agora_offer *o, const char *role)
{
    size_t i;

    for (i = 0; i < *n; i++) {
        if (strcmp(fits[i].role, role) == 0)
            return &fits[i];
    }
    if (*n == MAR_FIT_ROLES || fit_init(&fits[*n], o, role) != 0)
        return NULL;
    return &fits[(*n)++];
}

/* Fills one offer; returns the number of tasks launched. *spent is 1
 * when the offer went to accept() (it is used up, even when the accept
 * failed), 0 when nothing fitted and the caller keeps or declines it. */
static size_t offer_fill(struct mar *m, const struct agora_offer *o,
                         struct mar_rapp **queue, size_t nq, int *spent)
{
    struct launch *ls = NULL;
    struct agora_task_spec *specs = NULL;
    size_t nl = 0, capl = 0, qi, i, nfits = 0;
    struct fit fits[MAR_FIT_ROLES], *f;
    int rc;

    for (qi = 0; qi < nq; qi++) {
        struct mar_rapp *a = queue[qi];
        const char *role = "*";
        size_t want = mar_sched_wanted(m, a), placed = 0;
        enum mar_reject why = MAR_R_CPUS;

        if (want == 0) /* filled by an earlier offer of the batch */
            continue;
        a->offers_processed++;
        if (!role_accepted(a->def, "*")) {
            role = a->def->naccepted_roles ? a->def->accepted_roles[0] : "*";
            if (!role_accepted(a->def, role)) {
                reject(a, MAR_R_ROLE);
                continue;
            }
        }
        if ((f = fit_of(fits, &nfits, o, role)) == NULL)
            continue;
        /* this app's tasks placed in the offer so far count too */
        while (placed < want) {
            if (!fit_check(f, a->def, &why))
                break;
            if (!constraints_ok(m, a, o, placed)) {
                why = MAR_R_CONSTRAINT;
                break;
            }
            if (nl == capl) {
                size_t c = capl ? capl * 2 : 64;
                struct launch *nv = realloc(ls, c * sizeof(*nv));

                if (nv == NULL)
                    break;
                ls = nv;
                capl = c;
            }
            rc = launch_build(m, a, f, &ls[nl]);
            if (rc != 0) {
                MAR_LOG(m, AGORA_LOG_WARN, "cannot build a task of %s: %s",
                        a->def->id, m->api->strerror(rc));
                launch_free(&ls[nl]);
                free(ls[nl].in);
                break;
            }
            nl++;
            placed++;
        }
        if (placed == 0) {
            reject(a, why);
            a->offers_unused++;
            a->last_unused_at = mar_now(m);
        } else {
            a->last_used_at = mar_now(m);
        }
    }
    for (i = 0; i < nfits; i++)
        free(fits[i].ranges);
    *spent = nl > 0;
    if (nl == 0) {
        free(ls);
        return 0;
    }
    specs = calloc(nl, sizeof(*specs));
    for (i = 0; specs && i < nl; i++) {
        /* spec points into its launch (resources, health check), and
         * growing ls above may have moved the launches: point again. */
        specs[i] = ls[i].spec;
        specs[i].resources = ls[i].res_app ? ls[i].res_app : &ls[i].res;
        if (specs[i].health)
            specs[i].health = &ls[i].health;
    }
    rc = specs ? m->api->accept(m->fw, o->id, specs, nl) : AGORA_ENOMEM;
    for (i = 0; i < nl; i++) {
        struct mar_inst *in = ls[i].in;

        if (rc == 0 && mar_state_inst_attach(m, in) == 0) {
            mar_state_inst_save(m, in, NULL, NULL);
            m->tasks_launched++;
        } else if (rc == 0) {
            /* Launched but not tracked: kill it rather than lose it. */
            m->api->kill(m->fw, in->task_id);
            free(in->instance_id); /* remaining fields freed below */
            free(in->task_id);
            free(in->version);
            free(in->config_version);
            free(in->agent_id);
            free(in->host);
            free(in->ports);
            free(in);
        }
        launch_free(&ls[i]);
    }
    if (rc != 0) {
        MAR_LOG(m, AGORA_LOG_WARN, "accept %s: %s", o->id,
                m->api->strerror(rc));
        for (i = 0; i < nl; i++) {
            free(ls[i].in->instance_id);
            free(ls[i].in->task_id);
            free(ls[i].in->version);
            free(ls[i].in->config_version);
            free(ls[i].in->agent_id);
            free(ls[i].in->host);
            free(ls[i].in->ports);
            free(ls[i].in);
        }
        nl = 0;
    }
    free(specs);
    free(ls);
    if (nl > 0)
        m->offers_used++;
    return nl;
}

/* An offer nothing waiting could use: kept while apps are arriving
 * (mar_offers.c), else declined with the default filter. */
static void offer_unused(struct mar *m, const struct agora_offer *o)
{
    if (mar_offers_hold(m, o) == 0)
        return;
    m->api->decline(m->fw, o->id, -1);
    m->offers_declined++;
}

/* New demand meets the kept offers before anything is revived: each is
 * tried once per app that began to wait, where a revive would have
 * offered every agent again. The demand they meet needs no revive. */
static void held_fill(struct mar *m)
{
    struct mar_rapp **queue = NULL;
    size_t nq, i = 0, j, k;
    int spent;

    if (mar_offers_n(m) == 0 || !m->loaded ||
        (nq = queued_apps(m, &queue)) == 0) {
        free(queue);
        return;
    }
    for (i = 0; i < nq; i++)
        mar_sched_dirty(m, queue[i]); /* their next pass leaves the queue */
    i = 0;
    while (nq > 0 && i < mar_offers_n(m)) {
        spent = 0;
        offer_fill(m, mar_offers_at(m, i), queue, nq, &spent);
        if (spent)
            mar_offers_spent(m, i); /* the last one moved to i */
        else
            i++;
        /* The apps filled leave the queue now, not at their next pass,
         * so that offers_update() does not revive for them. */
        for (k = 0, j = 0; j < nq; j++) {
            if (mar_sched_wanted(m, queue[j]) > 0)
                queue[k++] = queue[j];
            else
                queue_leave(m, queue[j]);
        }
        nq = k;
    }
    free(queue);
    if (nq == 0)
        m->want_revive = 0;
}

void mar_sched_on_offer(void *state, struct agora_framework *fw,
                        const struct agora_offer *offers, size_t n)
{
    struct mar *m = state;
    struct mar_rapp **queue = NULL;
    size_t nq, i;
    int spent;

    (void)fw;
    m->offers_in += n;
    for (i = 0; i < n; i++)
        agent_remember(m, &offers[i]);
    nq = m->loaded ? queued_apps(m, &queue) : 0;
    for (i = 0; i < nq; i++)
        mar_sched_dirty(m, queue[i]);
    for (i = 0; i < n; i++) {
        spent = 0;
        if (nq > 0)
            offer_fill(m, &offers[i], queue, nq, &spent);
        if (!spent)
            offer_unused(m, &offers[i]);
        nq = queue_compact(m, queue, nq);
    }
    free(queue);
    if (nq == 0 && m->pass_timer == NULL)
        offers_update(m);
}

void mar_sched_on_rescind(void *state, struct agora_framework *fw,
                          const char *offer_id)
{
    (void)fw;
    mar_offers_rescind(state, offer_id);
}

/* ---- status updates ---- */

const char *mar_condition(enum agora_task_state s)
{
    static const char *const names[AGORA_TASK_STATE_COUNT] = {
        "Staging", "Starting", "Running", "Killing", "Finished",
        "Failed", "Killed", "Error", "Unreachable", "Dropped",
        "Unreachable", "Gone", "GoneByOperator", "Unknown"};

    return (unsigned)s < AGORA_TASK_STATE_COUNT ? names[s] : "Unknown";
}

static void event_status(struct mar *m, const struct mar_inst *in,
                         const struct agora_status *st)
{
    struct agora_jw *w;
    size_t i;

    if (!mar_events_on(m))
        return;
    w = mar_events_begin(m, "status_update_event");
    agora_jw_kstr(w, "slaveId", in->agent_id);
    agora_jw_kstr(w, "taskId", in->task_id);
    agora_jw_kstr(w, "taskStatus", agora_task_state_name(st->state));
    agora_jw_kstr(w, "message", st->message ? st->message : "");
    agora_jw_kstr(w, "appId", in->app->def->id);
    agora_jw_kstr(w, "host", in->host);
    agora_jw_key(w, "ipAddresses");
    agora_jw_arr_open(w);
    if (in->ip) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "ipAddress", in->ip);
        agora_jw_kstr(w, "protocol", strchr(in->ip, ':') ? "IPv6" : "IPv4");
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    agora_jw_key(w, "ports");
    agora_jw_arr_open(w);
    for (i = 0; i < in->nports; i++)
        agora_jw_int(w, in->ports[i]);
    agora_jw_arr_close(w);
    agora_jw_kstr(w, "version", in->version);
    mar_events_end(m, "status_update_event");

    w = mar_events_begin(m, "instance_changed_event");
    agora_jw_kstr(w, "instanceId", in->instance_id);
    agora_jw_kstr(w, "condition", mar_condition(st->state));
    agora_jw_kstr(w, "runSpecId", in->app->def->id);
    agora_jw_kstr(w, "agentId", in->agent_id);
    agora_jw_kstr(w, "host", in->host);
    agora_jw_kstr(w, "runSpecVersion", in->version);
    mar_events_end(m, "instance_changed_event");
}

static void event_health(struct mar *m, const struct mar_inst *in)
{
    struct agora_jw *w;

    if (!mar_events_on(m))
        return;
    if (in->healthy == 0) {
        w = mar_events_begin(m, "failed_health_check_event");
        agora_jw_kstr(w, "appId", in->app->def->id);
        agora_jw_kstr(w, "taskId", in->task_id);
        agora_jw_kstr(w, "instanceId", in->instance_id);
        agora_jw_key(w, "healthCheck");
        agora_jw_obj_open(w);
        agora_jw_obj_close(w);
        mar_events_end(m, "failed_health_check_event");
    }
    w = mar_events_begin(m, "health_status_changed_event");
    agora_jw_kstr(w, "appId", in->app->def->id);
    agora_jw_kstr(w, "taskId", in->task_id);
    agora_jw_kstr(w, "instanceId", in->instance_id);
    agora_jw_kstr(w, "version", in->version);
    agora_jw_kbool(w, "alive", in->healthy == 1);
    mar_events_end(m, "health_status_changed_event");

    w = mar_events_begin(m, "instance_health_changed_event");
    agora_jw_kstr(w, "instanceId", in->instance_id);
    agora_jw_kstr(w, "runSpecId", in->app->def->id);
    agora_jw_kstr(w, "runSpecVersion", in->version);
    agora_jw_kbool(w, "healthy", in->healthy == 1);
    mar_events_end(m, "instance_health_changed_event");
}

static void record_failure(struct mar *m, struct mar_inst *in,
                           const struct agora_status *st)
{
    struct agora_jw *w = agora_jw_new();
    char ts[32];
    const char *doc;

    if (w == NULL)
        return;
    mar_time_format(st->timestamp > 0 ? st->timestamp : mar_now(m), ts);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "appId", in->app->def->id);
    agora_jw_kstr(w, "host", in->host);
    agora_jw_kstr(w, "message", st->message ? st->message : "");
    agora_jw_kstr(w, "state", agora_task_state_name(st->state));
    agora_jw_kstr(w, "taskId", in->task_id);
    agora_jw_kstr(w, "timestamp", ts);
    agora_jw_kstr(w, "version", in->version);
    agora_jw_kstr(w, "slaveId", in->agent_id);
    agora_jw_obj_close(w);
    doc = agora_jw_result(w, NULL);
    if (doc) {
        free(in->app->last_failure);
        in->app->last_failure = strdup(doc);
    }
    agora_jw_free(w);
}

static void health_kill_event(struct mar *m, struct mar_inst *in)
{
    struct agora_jw *w = mar_events_begin(m, "unhealthy_instance_kill_event");

    agora_jw_kstr(w, "appId", in->app->def->id);
    agora_jw_kstr(w, "taskId", in->task_id);
    agora_jw_kstr(w, "instanceId", in->instance_id);
    agora_jw_kstr(w, "version", in->version);
    agora_jw_kstr(w, "reason", "Health check failed");
    agora_jw_kstr(w, "host", in->host);
    agora_jw_kstr(w, "slaveId", in->agent_id);
    mar_events_end(m, "unhealthy_instance_kill_event");
}

static void status_terminal(struct mar *m, struct mar_inst *in,
                            const struct agora_status *st)
{
    struct mar_rapp *a = in->app;
    enum agora_task_state s = st->state;

    if (s == AGORA_TASK_KILLED && in->health_kill) {
        backoff_failed(m, a); /* its event went out with the kill */
    } else if (s == AGORA_TASK_KILLED && st->healthy == 0 && !in->killing) {
        health_kill_event(m, in); /* the agent killed it (Mesos-level) */
        backoff_failed(m, a);
    } else if (s == AGORA_TASK_FAILED || s == AGORA_TASK_ERROR ||
               s == AGORA_TASK_FINISHED) {
        /* Marathon runs services: a task that ends is a failure. */
        backoff_failed(m, a);
    }
    if (s != AGORA_TASK_KILLED && s != AGORA_TASK_FINISHED)
        record_failure(m, in, st);
    mar_state_inst_remove(m, in, st->task_id, st->uuid);
    mar_sched_dirty(m, a);
}

/* unknown_instance_terminated_event (§4.2): a task with an instance id
 * ("<app>.instance-<uuid>._app.<n>") ended that no app tracks. The app
 * id comes from the id's prefix, '_' standing for '/'. */
static void event_unknown_terminated(struct mar *m,
                                     const struct agora_status *st,
                                     const char *dot)
{
    const char *end = strstr(dot, "._app.");
    size_t n = (size_t)(dot - st->task_id), i;
    char *app = malloc(n + 2), *inst;
    struct agora_jw *w;

    inst = end ? strndup(st->task_id, (size_t)(end - st->task_id))
               : strdup(st->task_id);
    if (app && inst) {
        app[0] = '/';
        for (i = 0; i < n; i++)
            app[i + 1] = st->task_id[i] == '_' ? '/' : st->task_id[i];
        app[n + 1] = '\0';
        w = mar_events_begin(m, "unknown_instance_terminated_event");
        agora_jw_kstr(w, "instanceId", inst);
        agora_jw_kstr(w, "runSpecId", app);
        agora_jw_kstr(w, "condition", mar_condition(st->state));
        mar_events_end(m, "unknown_instance_terminated_event");
    }
    free(app);
    free(inst);
}

/* A task the plugin does not track: adopt it when its id names an app
 * (it was launched before a crash could record it), else kill it. */
static void status_unknown(struct mar *m, const struct agora_status *st)
{
    const char *dot = strstr(st->task_id, ".instance-");
    struct mar_rapp *a = NULL, *x;
    struct mar_inst *in;
    size_t i = 0;

    if (agora_task_state_terminal(st->state) ||
        st->state == AGORA_TASK_UNKNOWN) {
        if (dot)
            event_unknown_terminated(m, st, dot);
        if (st->uuid)
            m->api->acknowledge(m->fw, st->task_id, st->uuid);
        return;
    }
    while (dot && (x = agora_map_next(&m->apps, &i)) != NULL) {
        if (strlen(x->safe_id) == (size_t)(dot - st->task_id) &&
            strncmp(x->safe_id, st->task_id, (size_t)(dot - st->task_id)) == 0)
            a = x;
    }
    in = a && !a->stopping ? mar_state_inst_new(m, a) : NULL;
    if (in) {
        const char *end = strstr(dot, "._app.");

        free(in->task_id);
        free(in->instance_id);
        in->task_id = strdup(st->task_id);
        in->instance_id = end ? strndup(st->task_id,
                                        (size_t)(end - st->task_id))
                              : strdup(st->task_id);
        in->agent_id = st->agent_id ? strdup(st->agent_id) : NULL;
        in->host = st->hostname ? strdup(st->hostname) : NULL;
        in->state = st->state;
        mar_stamp_set(&in->staged, st->timestamp);
        in->launch_from = mar_now(m);
        if (in->task_id && in->instance_id &&
            mar_state_inst_attach(m, in) == 0) {
            MAR_LOG(m, AGORA_LOG_INFO, "adopted task %s of %s", st->task_id,
                    a->def->id);
            mar_state_inst_save(m, in, st->task_id, st->uuid);
            mar_sched_dirty(m, a);
            return;
        }
        free(in->task_id);
        free(in->instance_id);
        free(in->agent_id);
        free(in->host);
        free(in->version);
        free(in->config_version);
        free(in);
    }
    MAR_LOG(m, AGORA_LOG_INFO, "killing unknown task %s", st->task_id);
    m->api->kill(m->fw, st->task_id);
    if (st->uuid)
        m->api->acknowledge(m->fw, st->task_id, st->uuid);
}

void mar_sched_on_status(void *state, struct agora_framework *fw,
                         const struct agora_status *st)
{
    struct mar *m = state;
    struct mar_inst *in = agora_map_get(&m->tasks, st->task_id);
    int health_changed, persist = 0;

    (void)fw;
    if (!m->loaded) /* not acknowledged: the agent sends it again */
        return;
    if ((unsigned)st->state < AGORA_TASK_STATE_COUNT)
        m->status_counts[st->state]++;
    if (in == NULL) {
        status_unknown(m, st);
        return;
    }
    mar_inst_changed(in);
    if (st->agent_id && (!in->agent_id || strcmp(in->agent_id, st->agent_id))) {
        free(in->agent_id);
        in->agent_id = strdup(st->agent_id);
        persist = 1;
    }
    if (st->hostname && (!in->host || strcmp(in->host, st->hostname))) {
        free(in->host);
        in->host = strdup(st->hostname);
        persist = 1;
    }
    /* What ABI 2.2 adds: where the task is reached, the check's text. */
    if (agora_api_minor(m->api) >= 2 && st->nip_addresses > 0 &&
        (!in->ip || strcmp(in->ip, st->ip_addresses[0]) != 0)) {
        free(in->ip);
        in->ip = strdup(st->ip_addresses[0]);
    }
    health_changed = st->healthy != -1 && st->healthy != in->healthy;
    if (st->state == AGORA_TASK_RUNNING && in->started.t == 0)
        mar_stamp_set(&in->started,
                      st->timestamp > 0 ? st->timestamp : mar_now(m));
    if (health_changed) {
        double now = mar_now(m);

        in->healthy = st->healthy;
        if (st->healthy == 1) {
            if (in->first_success.t == 0)
                mar_stamp_set(&in->first_success, now);
            mar_stamp_set(&in->last_success, now);
            in->consecutive_failures = 0;
            in->unhealthy_since = 0;
        } else {
            mar_stamp_set(&in->last_failure, now);
            in->unhealthy_since = now;
            in->consecutive_failures = 1;
            free(in->last_failure_cause);
            in->last_failure_cause =
                agora_api_minor(m->api) >= 2 && st->health_output
                    ? strdup(st->health_output)
                    : (st->message ? strdup(st->message) : NULL);
        }
    }
    if (in->state != st->state || st->uuid)
        event_status(m, in, st);
    if (st->state == AGORA_TASK_UNREACHABLE &&
        in->state != AGORA_TASK_UNREACHABLE) {
        in->unreachable_since = mar_now(m);
        in->inactive = 0;
    } else if (st->state != AGORA_TASK_UNREACHABLE) {
        in->inactive = 0; /* back: the surplus goes by scale-down */
    }
    in->state = st->state;
    mar_sched_count(in, 0);
    if (in->state == AGORA_TASK_RUNNING)
        mar_ready_kick(m, in);
    if (health_changed)
        event_health(m, in);
    if (agora_task_state_terminal(st->state) ||
        st->state == AGORA_TASK_UNKNOWN) {
        status_terminal(m, in, st);
        return;
    }
    /* A live state is not written: a new leader learns it from the
     * reconciliation it runs before it acts (marathon.h, "What a
     * restart relies on"), so the update is acknowledged at once unless
     * it changed what the record holds. */
    if (persist)
        mar_state_inst_save(m, in, st->task_id, st->uuid);
    else if (st->uuid)
        m->api->acknowledge(m->fw, st->task_id, st->uuid);
    mar_sched_dirty(m, in->app);
}
