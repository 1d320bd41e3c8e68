/*
 * mar_json.c - the documents the API serves (AppInfo, Task,
 * DeploymentResult) and its error replies, in Marathon's exact shapes
 * (marathon-api.md §0, §2.6).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "marathon.h"

/* ---- replies ---- */

void mar_reply_jw(struct mar *m, struct agora_req *r, int status,
                  struct agora_jw *w)
{
    agora_reply_jw(m->api, r, status, w);
}

void mar_reply_msg(struct mar *m, struct agora_req *r, int status,
                   const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vasprintf(&msg, fmt, ap);
    va_end(ap);
    agora_reply_error(m->api, r, status, rc < 0 ? "out of memory" : msg);
    free(msg);
}

void mar_reply_errs(struct mar *m, struct agora_req *r,
                    const struct mar_errs *e)
{
    struct agora_jw *w;

    if (e->nomem) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    w = agora_jw_new();
    if (w == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    mar_errs_write(e, w);
    mar_reply_jw(m, r, e->json ? 400 : 422, w);
    agora_jw_free(w);
}

void mar_json_deployment_result(struct agora_jw *w, const struct mar_deploy *d)
{
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "deploymentId", d->id);
    agora_jw_kstr(w, "version", d->version);
    agora_jw_obj_close(w);
}

/*
 * An answer that says a change was made, held until the change's store
 * writes landed (mar_store_after()): a master that dies before then must
 * not have told the client its app exists. Marathon answers after its
 * writes too. A write that failed answers 503; an unload meanwhile
 * answers 503 by the host (the context is freed with the plugin's
 * pending ones).
 */
struct held {
    struct agora_pending pend;
    struct mar *m;
    struct agora_req *r;
    int status;
    char *loc, *dep_id; /* headers, or NULL */
    char *body;
    size_t len;
};

static void held_free(struct agora_pending *p)
{
    struct held *h = (struct held *)p;

    free(h->loc);
    free(h->dep_id);
    free(h->body);
    free(h);
}

static void held_send(void *arg, int err)
{
    struct held *h = arg;
    struct mar *m = h->m;

    agora_pending_del(&h->pend);
    if (err != 0) {
        mar_reply_msg(m, h->r, 503, "the change could not be stored: %s",
                      m->api->strerror(err));
    } else {
        if (h->loc)
            m->api->reply_header(h->r, "Location", h->loc);
        if (h->dep_id)
            m->api->reply_header(h->r, "Marathon-Deployment-Id", h->dep_id);
        m->api->reply(h->r, h->status, NULL, h->body, h->len);
    }
    held_free(&h->pend);
}

void mar_reply_stored(struct mar *m, struct agora_req *r, int status,
                      const char *loc, const char *dep_id, struct agora_jw *w)
{
    size_t len;
    const char *doc = agora_jw_result(w, &len);
    struct held *h = calloc(1, sizeof(*h));
    int rc;

    if (h == NULL || doc == NULL || !(h->body = malloc(len ? len : 1)) ||
        (loc && !(h->loc = strdup(loc))) ||
        (dep_id && !(h->dep_id = strdup(dep_id)))) {
        if (h)
            held_free(&h->pend);
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    memcpy(h->body, doc, len);
    h->len = len;
    h->m = m;
    h->r = r;
    h->status = status;
    agora_pending_add(&m->pend, &h->pend, held_free);
    /* AGORA_ESTATE: deferred already (an answer after a store read). */
    rc = m->api->defer(r);
    if ((rc != 0 && rc != AGORA_ESTATE) ||
        mar_store_after(m, held_send, h) != 0) {
        agora_pending_del(&h->pend);
        held_free(&h->pend);
        mar_reply_msg(m, r, 503, "cannot wait for the store");
    }
}

void mar_reply_deployment(struct mar *m, struct agora_req *r, int status,
                          const struct mar_deploy *d)
{
    struct agora_jw *w = agora_jw_new();

    if (w == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    mar_json_deployment_result(w, d);
    mar_reply_stored(m, r, status, NULL, d->id, w);
    agora_jw_free(w);
}

void mar_reply_locked(struct mar *m, struct agora_req *r,
                      struct mar_deploy *const *d, size_t n)
{
    struct agora_jw *w = agora_jw_new();
    char *msg = NULL;
    size_t i;

    if (w == NULL || asprintf(&msg, "App is locked by one or more "
                              "deployments. Override with the option "
                              "'?force=true'. View details at "
                              "'/v2/deployments/%s'.",
                              n ? d[0]->id : "") < 0) {
        agora_jw_free(w);
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "message", msg);
    agora_jw_key(w, "deployments");
    agora_jw_arr_open(w);
    for (i = 0; i < n; i++) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "id", d[i]->id);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    mar_reply_jw(m, r, 409, w);
    agora_jw_free(w);
    free(msg);
}

int mar_query_bool(struct mar *m, struct agora_req *r, const char *name,
                   int dflt)
{
    const char *v = m->api->req_query(r, name, 0);

    if (v == NULL)
        return dflt;
    return *v == '\0' || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

/* ---- tasks ---- */

void mar_stamp_set(struct mar_stamp *st, double t)
{
    st->t = t > 0 ? t : 0;
    if (st->t > 0)
        mar_time_format(st->t, st->text);
    else
        st->text[0] = '\0';
}

static void write_time(struct agora_jw *w, const char *key,
                       const struct mar_stamp *st)
{
    agora_jw_key(w, key);
    if (st->t <= 0)
        agora_jw_null(w);
    else
        agora_jw_strn(w, st->text, 24); /* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
}

static void write_health_results(struct agora_jw *w, const struct mar_inst *in)
{
    agora_jw_key(w, "healthCheckResults");
    agora_jw_arr_open(w);
    if (in->app->def->nhealth_checks > 0 && in->healthy != -1) {
        agora_jw_obj_open(w);
        agora_jw_kbool(w, "alive", in->healthy == 1);
        agora_jw_kint(w, "consecutiveFailures", in->consecutive_failures);
        write_time(w, "firstSuccess", &in->first_success);
        write_time(w, "lastFailure", &in->last_failure);
        write_time(w, "lastSuccess", &in->last_success);
        agora_jw_kstr(w, "lastFailureCause", in->last_failure_cause);
        agora_jw_kstr(w, "instanceId", in->instance_id);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

static void task_write(struct agora_jw *w, const struct mar_inst *in)
{
    const struct mar_app *d = in->app->def;
    size_t i;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", in->task_id);
    agora_jw_kstr(w, "appId", d->id);
    agora_jw_kstr(w, "host", in->host);
    agora_jw_kstr(w, "slaveId", in->agent_id);
    agora_jw_kstr(w, "state", agora_task_state_name(in->state));
    write_time(w, "stagedAt", &in->staged);
    write_time(w, "startedAt", &in->started);
    agora_jw_kstr(w, "version", in->version);
    agora_jw_key(w, "ports");
    agora_jw_arr_open(w);
    for (i = 0; i < in->nports; i++)
        agora_jw_int(w, in->ports[i]);
    agora_jw_arr_close(w);
    agora_jw_key(w, "servicePorts");
    agora_jw_arr_open(w);
    for (i = 0; !d->bridge && i < d->nport_defs; i++)
        agora_jw_int(w, d->port_defs[i].port);
    for (i = 0; d->bridge && i < d->nport_mappings; i++)
        agora_jw_int(w, d->port_mappings[i].service_port);
    agora_jw_arr_close(w);
    agora_jw_key(w, "ipAddresses");
    agora_jw_arr_open(w);
    if (in->ip) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "ipAddress", in->ip);
        agora_jw_kstr(w, "protocol", strchr(in->ip, ':') ? "IPv6" : "IPv4");
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    write_health_results(w, in);
    agora_jw_key(w, "localVolumes");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_kstr(w, "role", "*");
    agora_jw_obj_close(w);
}

void mar_app_tasks_changed(struct mar_rapp *a)
{
    free(a->tasks_doc);
    a->tasks_doc = NULL;
    a->tasks_doc_len = 0;
}

void mar_inst_changed(struct mar_inst *in)
{
    free(in->doc);
    in->doc = NULL;
    in->doc_len = 0;
    mar_app_tasks_changed(in->app);
}

void mar_json_task(struct mar *m, struct agora_jw *w, struct mar_inst *in)
{
    const char *doc;
    size_t len;

    if (in->doc == NULL) {
        agora_jw_reset(m->jw_doc);
        task_write(m->jw_doc, in);
        doc = agora_jw_result(m->jw_doc, &len);
        if (doc == NULL) { /* out of memory: the writer w fails too */
            task_write(w, in);
            return;
        }
        in->doc = malloc(len + 1);
        if (in->doc == NULL) {
            agora_jw_raw(w, doc, len);
            return;
        }
        memcpy(in->doc, doc, len + 1);
        in->doc_len = len;
    }
    agora_jw_raw(w, in->doc, in->doc_len);
}

/* ---- apps ---- */

struct counts {
    size_t staged, running, healthy, unhealthy;
};

static void count(const struct mar_rapp *a, struct counts *c, int which)
{
    size_t i;

    memset(c, 0, sizeof(*c));
    if (which == 0) { /* kept as instances change (mar_sched_count()) */
        c->staged = a->nstaged;
        c->running = a->nrunning;
        c->healthy = a->nhealthy;
        c->unhealthy = a->nunhealthy;
        return;
    }
    for (i = 0; i < a->ninst; i++) {
        const struct mar_inst *in = a->inst[i];
        int cur = which ? mar_sched_inst_current(a, in) : 0;

        if ((which == 1 && !cur) || (which == 2 && cur))
            continue;
        if (in->state == AGORA_TASK_STAGING || in->state == AGORA_TASK_STARTING)
            c->staged++;
        else if (in->state == AGORA_TASK_RUNNING)
            c->running++;
        if (in->healthy == 1)
            c->healthy++;
        else if (in->healthy == 0)
            c->unhealthy++;
    }
}

static void write_stats(struct mar *m, struct agora_jw *w,
                        const struct mar_rapp *a, const char *key, int which)
{
    struct counts c;
    double sum = 0, now = mar_now(m);
    size_t i, n = 0;

    count(a, &c, which);
    if (c.staged + c.running == 0)
        return;
    for (i = 0; i < a->ninst; i++) {
        const struct mar_inst *in = a->inst[i];
        int cur = mar_sched_inst_current(a, in);

        if ((which == 1 && !cur) || (which == 2 && cur) || in->staged.t <= 0)
            continue;
        sum += now - in->staged.t;
        n++;
    }
    agora_jw_key(w, key);
    agora_jw_obj_open(w);
    agora_jw_key(w, "stats");
    agora_jw_obj_open(w);
    agora_jw_key(w, "counts");
    agora_jw_obj_open(w);
    agora_jw_kint(w, "staged", (int64_t)c.staged);
    agora_jw_kint(w, "running", (int64_t)c.running);
    agora_jw_kint(w, "healthy", (int64_t)c.healthy);
    agora_jw_kint(w, "unhealthy", (int64_t)c.unhealthy);
    agora_jw_obj_close(w);
    agora_jw_key(w, "lifeTime");
    agora_jw_obj_open(w);
    agora_jw_knum(w, "averageSeconds", n ? sum / (double)n : 0);
    agora_jw_knum(w, "medianSeconds", n ? sum / (double)n : 0);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
}

/*
 * The members of a's definition, as mar_app_write_fields() writes them,
 * kept until the definition is replaced (mar_state_app_redefined()): a
 * definition does not change while it is an app's, and writing its
 * fifty-odd fields was most of what was left of a list of 1,000 apps.
 */
static void write_def(struct mar *m, struct agora_jw *w, struct mar_rapp *a)
{
    const char *doc;
    size_t len;

    if (a->def_doc == NULL) {
        agora_jw_reset(m->jw_doc);
        agora_jw_obj_open(m->jw_doc);
        mar_app_write_fields(m->jw_doc, a->def);
        agora_jw_obj_close(m->jw_doc);
        doc = agora_jw_result(m->jw_doc, &len);
        /* "{" members "}": the members alone are kept. */
        if (doc == NULL || len < 3 || (a->def_doc = malloc(len - 1)) == NULL) {
            mar_app_write_fields(w, a->def);
            return;
        }
        memcpy(a->def_doc, doc + 1, len - 2);
        a->def_doc[len - 2] = '\0';
        a->def_doc_len = len - 2;
    }
    agora_jw_members(w, a->def_doc, a->def_doc_len);
}

/* a's tasks array, from its cache when built: one copy for the app
 * rather than a pointer chase to each instance's document. */
static void write_tasks(struct mar *m, struct agora_jw *w, struct mar_rapp *a)
{
    struct agora_jw *t;
    const char *doc;
    size_t i, len;

    if (a->tasks_doc == NULL && (t = agora_jw_new()) != NULL) {
        agora_jw_arr_open(t);
        for (i = 0; i < a->ninst; i++)
            mar_json_task(m, t, a->inst[i]);
        agora_jw_arr_close(t);
        doc = agora_jw_result(t, &len);
        if (doc && (a->tasks_doc = malloc(len + 1)) != NULL) {
            memcpy(a->tasks_doc, doc, len + 1);
            a->tasks_doc_len = len;
        }
        agora_jw_free(t);
    }
    if (a->tasks_doc) {
        agora_jw_raw(w, a->tasks_doc, a->tasks_doc_len);
        return;
    }
    agora_jw_arr_open(w); /* out of memory: written in place */
    for (i = 0; i < a->ninst; i++)
        mar_json_task(m, w, a->inst[i]);
    agora_jw_arr_close(w);
}

void mar_json_app_info(struct mar *m, struct agora_jw *w,
                       struct mar_rapp *a, unsigned embed)
{
    struct counts c;

    agora_jw_obj_open(w);
    write_def(m, w, a);
    if (embed & MAR_EMBED_COUNTS) {
        count(a, &c, 0);
        agora_jw_kint(w, "tasksStaged", (int64_t)c.staged);
        agora_jw_kint(w, "tasksRunning", (int64_t)c.running);
        agora_jw_kint(w, "tasksHealthy", (int64_t)c.healthy);
        agora_jw_kint(w, "tasksUnhealthy", (int64_t)c.unhealthy);
    }
    if (embed & MAR_EMBED_DEPLOYMENTS) {
        agora_jw_key(w, "deployments");
        agora_jw_arr_open(w);
        if (a->deploy) {
            agora_jw_obj_open(w);
            agora_jw_kstr(w, "id", a->deploy->id);
            agora_jw_obj_close(w);
        }
        agora_jw_arr_close(w);
    }
    if (embed & MAR_EMBED_TASKS) {
        agora_jw_key(w, "tasks");
        write_tasks(m, w, a);
    }
    if ((embed & MAR_EMBED_LAST_FAILURE) && a->last_failure) {
        agora_jw_key(w, "lastTaskFailure");
        agora_jw_raw(w, a->last_failure, strlen(a->last_failure));
    }
    if (embed & MAR_EMBED_TASK_STATS) {
        agora_jw_key(w, "taskStats");
        agora_jw_obj_open(w);
        write_stats(m, w, a, "startedAfterLastScaling", 1);
        write_stats(m, w, a, "withLatestConfig", 1);
        write_stats(m, w, a, "withOutdatedConfig", 2);
        write_stats(m, w, a, "totalSummary", 0);
        agora_jw_obj_close(w);
    }
    if (embed & MAR_EMBED_READINESS) {
        agora_jw_key(w, "readinessCheckResults");
        mar_ready_write_results(w, a);
    }
    agora_jw_obj_close(w);
}

void mar_reply_cycle(struct mar *m, struct agora_req *r)
{
    static const char body[] =
        "{\"message\":\"Object is not valid\",\"details\":[{\"path\":"
        "\"/\",\"errors\":[\"Dependency graph has cyclic dependencies.\"]}]}";

    m->api->reply(r, 422, NULL, body, sizeof(body) - 1);
}
