/*
 * mar_deploy.c - deployment plans (marathon-api.md §3.1-3.3).
 *
 * Every change to apps is a deployment: a plan of steps, each a set of
 * actions (StartApplication, StopApplication, ScaleApplication,
 * RestartApplication) run together; the next step begins when every
 * action of the current one is done. A deployment holds a lock on each
 * app it touches: a second change is refused (409) unless forced, which
 * cancels the first. Plans are in the store until they finish, so a new
 * leader resumes them; the definitions they replaced are kept in the
 * record for rollback (DELETE /v2/deployments/{id}).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marathon.h"

static const char *const action_names[] = {
    "StartApplication", "StopApplication", "ScaleApplication",
    "RestartApplication"};

const char *mar_action_name(enum mar_action_kind k)
{
    return action_names[k];
}

static int action_parse(const char *s, enum mar_action_kind *k)
{
    size_t i;

    for (i = 0; s && i < sizeof(action_names) / sizeof(*action_names); i++) {
        if (strcmp(s, action_names[i]) == 0) {
            *k = (enum mar_action_kind)i;
            return 0;
        }
    }
    return -1;
}

struct mar_deploy *mar_deploy_new(struct mar *m, const char *version)
{
    struct mar_deploy *d = calloc(1, sizeof(*d));
    char id[37];

    (void)m;
    if (d == NULL || mar_state_uuid4(id) != 0) {
        free(d);
        return NULL;
    }
    d->id = strdup(id);
    d->version = strdup(version);
    if (!d->id || !d->version) {
        mar_deploy_free(d);
        return NULL;
    }
    return d;
}

void mar_deploy_free(struct mar_deploy *d)
{
    size_t i, j;

    if (d == NULL)
        return;
    for (i = 0; i < d->nsteps; i++) {
        for (j = 0; j < d->steps[i].n; j++)
            free(d->steps[i].actions[j].app_id);
        free(d->steps[i].actions);
    }
    free(d->steps);
    for (i = 0; i < d->naffected; i++) {
        free(d->affected[i]);
        free(d->original[i]);
    }
    free(d->affected);
    free(d->original);
    free(d->id);
    free(d->version);
    free(d);
}

/* Appends the action to a step. */
static int step_append(struct mar_step *s, enum mar_action_kind k,
                       const char *app_id)
{
    struct mar_action *v = realloc(s->actions, (s->n + 1) * sizeof(*v));

    if (v == NULL)
        return AGORA_ENOMEM;
    s->actions = v;
    v[s->n].kind = k;
    v[s->n].app_id = strdup(app_id);
    if (v[s->n].app_id == NULL)
        return AGORA_ENOMEM;
    s->n++;
    return 0;
}

/* Adds the action to the step of its phase (§3.1): stops first, then
 * starts, then scales and restarts, level by level of the dependency
 * graph (level 0: apps that depend on nothing that changes). */
int mar_deploy_add_step(struct mar_deploy *d, enum mar_action_kind k,
                        const char *app_id, size_t level)
{
    size_t i = k == MAR_A_STOP ? 0 : k == MAR_A_START ? 1 : 2 + level;

    if (i >= d->nsteps) {
        struct mar_step *v = realloc(d->steps, (i + 1) * sizeof(*v));

        if (v == NULL)
            return AGORA_ENOMEM;
        memset(v + d->nsteps, 0, (i + 1 - d->nsteps) * sizeof(*v));
        d->steps = v;
        d->nsteps = i + 1;
    }
    return step_append(&d->steps[i], k, app_id);
}

int mar_deploy_add_affected(struct mar_deploy *d, const char *app_id,
                            const char *original_json)
{
    char **a = realloc(d->affected, (d->naffected + 1) * sizeof(*a));
    char **o;

    if (a == NULL)
        return AGORA_ENOMEM;
    d->affected = a;
    o = realloc(d->original, (d->naffected + 1) * sizeof(*o));
    if (o == NULL)
        return AGORA_ENOMEM;
    d->original = o;
    a[d->naffected] = strdup(app_id);
    o[d->naffected] = original_json ? strdup(original_json) : NULL;
    if (!a[d->naffected] || (original_json && !o[d->naffected])) {
        free(a[d->naffected]);
        free(o[d->naffected]);
        return AGORA_ENOMEM;
    }
    d->naffected++;
    return 0;
}

/* Drops empty steps. */
static void steps_compact(struct mar_deploy *d)
{
    size_t i, n = 0;

    for (i = 0; i < d->nsteps; i++) {
        if (d->steps[i].n > 0)
            d->steps[n++] = d->steps[i];
        else
            free(d->steps[i].actions);
    }
    d->nsteps = n;
}

/* ---- JSON ---- */

/* With m, the current actions: their apps' readiness results too. */
static void write_actions(struct mar *m, struct agora_jw *w,
                          const struct mar_step *s)
{
    size_t i;

    agora_jw_arr_open(w);
    for (i = 0; i < s->n; i++) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "action", action_names[s->actions[i].kind]);
        agora_jw_kstr(w, "app", s->actions[i].app_id);
        if (m) {
            agora_jw_key(w, "readinessCheckResults");
            mar_ready_write_results(w, mar_state_app(m, s->actions[i].app_id));
        }
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

static void write_group_stub(struct agora_jw *w, const char *key,
                             const char *version)
{
    static const char *const lists[] = {"apps", "groups", "pods",
                                        "dependencies"};
    size_t i;

    agora_jw_key(w, key);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", "/");
    agora_jw_kstr(w, "version", version);
    for (i = 0; i < sizeof(lists) / sizeof(*lists); i++) {
        agora_jw_key(w, lists[i]);
        agora_jw_arr_open(w);
        agora_jw_arr_close(w);
    }
    agora_jw_obj_close(w);
}

/* The plan as events carry it: {id, version, steps, original, target}. */
void mar_deploy_write_plan(struct agora_jw *w, const struct mar_deploy *d)
{
    size_t i;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", d->id);
    agora_jw_kstr(w, "version", d->version);
    agora_jw_key(w, "steps");
    agora_jw_arr_open(w);
    for (i = 0; i < d->nsteps; i++) {
        agora_jw_obj_open(w);
        agora_jw_key(w, "actions");
        write_actions(NULL, w, &d->steps[i]);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    /* The light plan format (Marathon 1.7+) leaves out the root groups;
     * their keys stay, empty, for clients that read them
     * (marathon-python builds objects from both). */
    write_group_stub(w, "original", d->version);
    write_group_stub(w, "target", d->version);
    agora_jw_obj_close(w);
}

/* {"steps": [...]}, empty steps left out (a dry run's answer). */
void mar_deploy_write_steps(struct agora_jw *w, const struct mar_deploy *d)
{
    size_t i;

    agora_jw_obj_open(w);
    agora_jw_key(w, "steps");
    agora_jw_arr_open(w);
    for (i = 0; i < d->nsteps; i++) {
        if (d->steps[i].n == 0)
            continue;
        agora_jw_obj_open(w);
        agora_jw_key(w, "actions");
        write_actions(NULL, w, &d->steps[i]);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
}

/* DeploymentInfo (GET /v2/deployments, with m for the readiness results);
 * with store, the store's form (the originals added). */
static void deploy_write(struct mar *m, struct agora_jw *w,
                         const struct mar_deploy *d, int store)
{
    size_t i;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", d->id);
    agora_jw_kstr(w, "version", d->version);
    agora_jw_key(w, "affectedApps");
    agora_jw_arr_open(w);
    for (i = 0; i < d->naffected; i++)
        agora_jw_str(w, d->affected[i]);
    agora_jw_arr_close(w);
    agora_jw_key(w, "affectedPods");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_key(w, "steps");
    agora_jw_arr_open(w);
    for (i = 0; i < d->nsteps; i++) {
        agora_jw_obj_open(w);
        agora_jw_key(w, "actions");
        write_actions(NULL, w, &d->steps[i]);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    agora_jw_key(w, "currentActions");
    if (d->current < d->nsteps)
        write_actions(m, w, &d->steps[d->current]);
    else {
        agora_jw_arr_open(w);
        agora_jw_arr_close(w);
    }
    agora_jw_kint(w, "currentStep", (int64_t)(d->current + 1 < d->nsteps
                                                   ? d->current + 1
                                                   : d->nsteps));
    agora_jw_kint(w, "totalSteps", (int64_t)d->nsteps);
    if (store) {
        agora_jw_key(w, "original");
        agora_jw_arr_open(w);
        for (i = 0; i < d->naffected; i++) {
            if (d->original[i])
                agora_jw_raw(w, d->original[i], strlen(d->original[i]));
            else
                agora_jw_null(w);
        }
        agora_jw_arr_close(w);
    }
    agora_jw_obj_close(w);
}

void mar_deploy_write(struct mar *m, struct agora_jw *w,
                      const struct mar_deploy *d)
{
    (void)m;
    deploy_write(NULL, w, d, 1);
}

void mar_deploy_write_info(struct mar *m, struct agora_jw *w,
                           const struct mar_deploy *d)
{
    deploy_write(m, w, d, 0);
}

/* Writes one original back as text; NULL for null. */
static char *value_text(yajl_val v)
{
    struct agora_jw *w;
    struct mar_errs e = {0};
    struct mar_app *a;
    char *s = NULL;
    const char *doc;

    if (v == NULL || YAJL_IS_NULL(v))
        return NULL;
    a = mar_app_parse(v, "/", NULL, "", &e);
    mar_errs_free(&e);
    if (a == NULL)
        return NULL;
    w = agora_jw_new();
    if (w) {
        mar_app_write(w, a);
        doc = agora_jw_result(w, NULL);
        s = doc ? strdup(doc) : NULL;
        agora_jw_free(w);
    }
    mar_app_free(a);
    return s;
}

struct mar_deploy *mar_deploy_parse(const char *json)
{
    char why[128];
    yajl_val v = agora_json_parse(json, why, sizeof(why)), steps, aff, orig;
    struct mar_deploy *d = NULL;
    const char *id, *version;
    int64_t cur = 1;
    size_t i, j;

    if (v == NULL)
        return NULL;
    id = agora_json_get_str(v, "id");
    version = agora_json_get_str(v, "version");
    steps = agora_json_get(v, "steps");
    aff = agora_json_get(v, "affectedApps");
    orig = agora_json_get(v, "original");
    agora_json_int(v, "currentStep", &cur);
    if (!id || !version || !YAJL_IS_ARRAY(steps) || !YAJL_IS_ARRAY(aff))
        goto bad;
    d = calloc(1, sizeof(*d));
    if (d == NULL || !(d->id = strdup(id)) || !(d->version = strdup(version)))
        goto bad;
    d->steps = calloc(steps->u.array.len + 1, sizeof(*d->steps));
    if (d->steps == NULL)
        goto bad;
    for (i = 0; i < steps->u.array.len; i++) {
        yajl_val acts = agora_json_get(steps->u.array.values[i], "actions");

        d->nsteps++;
        for (j = 0; YAJL_IS_ARRAY(acts) && j < acts->u.array.len; j++) {
            yajl_val a = acts->u.array.values[j];
            const char *app = agora_json_get_str(a, "app");
            enum mar_action_kind k;

            if (!app || action_parse(agora_json_get_str(a, "action"), &k) < 0 ||
                step_append(&d->steps[i], k, app) != 0)
                goto bad;
        }
    }
    for (i = 0; i < aff->u.array.len; i++) {
        const char *app = YAJL_GET_STRING(aff->u.array.values[i]);
        yajl_val o = YAJL_IS_ARRAY(orig) && i < orig->u.array.len
                         ? orig->u.array.values[i]
                         : NULL;
        char *text = value_text(o);

        if (!app || mar_deploy_add_affected(d, app, text) != 0) {
            free(text);
            goto bad;
        }
        free(text);
    }
    d->current = cur >= 1 ? (size_t)cur - 1 : 0;
    if (d->current > d->nsteps)
        d->current = d->nsteps;
    yajl_tree_free(v);
    return d;
bad:
    mar_deploy_free(d);
    yajl_tree_free(v);
    return NULL;
}

/* ---- running ---- */

struct mar_deploy *mar_deploy_find(struct mar *m, const char *id)
{
    struct mar_deploy *d;

    for (d = m->deploys; d; d = d->next) {
        if (strcmp(d->id, id) == 0)
            return d;
    }
    return NULL;
}

size_t mar_deploy_conflicts(struct mar *m, const char *const *app_ids,
                            size_t n, struct mar_deploy **out, size_t max)
{
    size_t i, j, k = 0;

    for (i = 0; i < n; i++) {
        struct mar_rapp *a = mar_state_app(m, app_ids[i]);

        if (a == NULL || a->deploy == NULL)
            continue;
        for (j = 0; j < k && out[j] != a->deploy; j++)
            ;
        if (j == k && k < max)
            out[k++] = a->deploy;
    }
    return k;
}

static void event_plan(struct mar *m, const char *type,
                       const struct mar_deploy *d)
{
    struct agora_jw *w;

    if (!mar_events_on(m))
        return;
    w = mar_events_begin(m, type);
    agora_jw_key(w, "plan");
    mar_deploy_write_plan(w, d);
    if (d->current < d->nsteps) {
        agora_jw_key(w, "currentStep");
        agora_jw_obj_open(w);
        agora_jw_key(w, "actions");
        write_actions(NULL, w, &d->steps[d->current]);
        agora_jw_obj_close(w);
    }
    mar_events_end(m, type);
}

static void event_end(struct mar *m, const char *type,
                      const struct mar_deploy *d, const char *reason)
{
    struct agora_jw *w;

    if (!mar_events_on(m))
        return;
    w = mar_events_begin(m, type);
    agora_jw_kstr(w, "id", d->id);
    agora_jw_key(w, "plan");
    mar_deploy_write_plan(w, d);
    if (reason)
        agora_jw_kstr(w, "reason", reason);
    mar_events_end(m, type);
    w = mar_events_begin(m, strcmp(type, "deployment_success") == 0
                                ? "group_change_success"
                                : "group_change_failed");
    agora_jw_kstr(w, "groupId", "/");
    agora_jw_kstr(w, "version", d->version);
    if (reason)
        agora_jw_kstr(w, "reason", reason);
    mar_events_end(m, strcmp(type, "deployment_success") == 0
                          ? "group_change_success"
                          : "group_change_failed");
}

void mar_deploy_begin_step(struct mar *m, struct mar_deploy *d)
{
    size_t i, s;

    for (i = 0; i < d->naffected; i++) {
        struct mar_rapp *a = mar_state_app(m, d->affected[i]);

        if (a) {
            a->deploy = d;
            a->held = 0;
            mar_sched_dirty(m, a);
        }
    }
    /* Apps whose scale or restart comes in a later step wait for it:
     * that is what orders dependencies. */
    for (s = d->current + 1; s < d->nsteps; s++) {
        for (i = 0; i < d->steps[s].n; i++) {
            struct mar_action *ac = &d->steps[s].actions[i];
            struct mar_rapp *a = mar_state_app(m, ac->app_id);

            if (a && (ac->kind == MAR_A_SCALE || ac->kind == MAR_A_RESTART))
                a->held = 1;
        }
    }
    if (d->current >= d->nsteps)
        return;
    for (i = 0; i < d->steps[d->current].n; i++) {
        struct mar_action *ac = &d->steps[d->current].actions[i];
        struct mar_rapp *a = mar_state_app(m, ac->app_id);

        if (a == NULL)
            continue;
        if (ac->kind == MAR_A_RESTART)
            mar_sched_restart_begin(m, a);
        else if (ac->kind == MAR_A_STOP)
            a->stopping = 1;
    }
}

static void unlink_deploy(struct mar *m, struct mar_deploy *d)
{
    struct mar_deploy **pp;
    size_t i;

    for (pp = &m->deploys; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            m->ndeploys--;
            break;
        }
    }
    for (i = 0; i < d->naffected; i++) {
        struct mar_rapp *a = mar_state_app(m, d->affected[i]);

        if (a && a->deploy == d) {
            a->deploy = NULL;
            a->restarting = 0;
            a->held = 0;
            mar_sched_dirty(m, a);
        }
    }
}

int mar_deploy_start(struct mar *m, struct mar_deploy *d)
{
    steps_compact(d);
    if (d->nsteps == 0)
        return 1;
    d->next = m->deploys;
    m->deploys = d;
    m->ndeploys++;
    mar_state_deploy_save(m, d);
    event_plan(m, "deployment_info", d);
    mar_deploy_begin_step(m, d);
    return 0;
}

void mar_deploy_cancel(struct mar *m, struct mar_deploy *d)
{
    size_t i;

    unlink_deploy(m, d);
    for (i = 0; i < d->naffected; i++) {
        struct mar_rapp *a = mar_state_app(m, d->affected[i]);

        if (a)
            a->stopping = 0;
    }
    /* The step it was in failed with it (Marathon's step failure). */
    if (d->current < d->nsteps)
        event_plan(m, "deployment_step_failure", d);
    event_end(m, "deployment_failed", d, "The deployment was cancelled");
    mar_state_deploy_delete(m, d);
    mar_deploy_free(d);
}

/* 1 when the action has reached its goal. */
static int action_done(struct mar *m, const struct mar_action *ac)
{
    struct mar_rapp *a = mar_state_app(m, ac->app_id);
    size_t i, ok = 0, active = 0;

    if (a == NULL)
        return 1;
    switch (ac->kind) {
    case MAR_A_START:
        return 1;
    case MAR_A_STOP:
        return a->ninst == 0;
    case MAR_A_SCALE:
    case MAR_A_RESTART:
        for (i = 0; i < a->ninst; i++) {
            struct mar_inst *in = a->inst[i];

            if (in->killing || agora_task_state_terminal(in->state))
                continue;
            active++;
            if (!mar_sched_inst_current(a, in) && ac->kind == MAR_A_RESTART)
                return 0;
            ok += mar_sched_inst_ok(a, in);
        }
        return active == (size_t)a->def->instances &&
               ok >= (size_t)a->def->instances;
    }
    return 0;
}

/* The stops of a finished step: their apps leave. */
static void step_finish(struct mar *m, struct mar_deploy *d)
{
    size_t i;

    for (i = 0; i < d->steps[d->current].n; i++) {
        struct mar_action *ac = &d->steps[d->current].actions[i];
        struct mar_rapp *a = mar_state_app(m, ac->app_id);
        struct agora_jw *w;

        if (a == NULL)
            continue;
        if (ac->kind == MAR_A_RESTART) {
            a->restarting = 0;
        } else if (ac->kind == MAR_A_STOP && a->stopping) {
            mar_events_health_checks(m, a->def, NULL);
            w = mar_events_begin(m, "app_terminated_event");
            agora_jw_kstr(w, "appId", a->def->id);
            mar_events_end(m, "app_terminated_event");
            if (a->deploy == d)
                a->deploy = NULL;
            mar_state_app_remove(m, a);
        }
    }
}

static int step_only_starts(const struct mar_step *st)
{
    size_t i;

    for (i = 0; i < st->n; i++) {
        if (st->actions[i].kind != MAR_A_START)
            return 0;
    }
    return 1;
}

static void deploy_check(struct mar *m, struct mar_deploy *d)
{
    size_t i;
    int starts;

    while (d->current < d->nsteps) {
        for (i = 0; i < d->steps[d->current].n; i++) {
            if (!action_done(m, &d->steps[d->current].actions[i]))
                return;
        }
        step_finish(m, d);
        event_plan(m, "deployment_step_success", d);
        starts = step_only_starts(&d->steps[d->current]);
        d->current++;
        if (d->current < d->nsteps) {
            /* A step of starts is done as it begins: a resume passes it
             * again at once, so its end is not worth a write (one less
             * per app created). */
            if (!starts)
                mar_state_deploy_save(m, d);
            event_plan(m, "deployment_info", d);
            mar_deploy_begin_step(m, d);
        }
    }
    unlink_deploy(m, d);
    event_end(m, "deployment_success", d, NULL);
    mar_state_deploy_delete(m, d);
    mar_deploy_free(d);
}

void mar_deploy_progress(struct mar *m, struct mar_rapp *a)
{
    if (a->deploy)
        deploy_check(m, a->deploy);
}
