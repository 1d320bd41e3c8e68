/*
 * mar_http.c - the route table and every route outside /v2/apps: tasks,
 * deployments, the launch queue, events, info, leader, ping, metrics
 * (marathon-api.md §1.3-1.7, §5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marathon.h"
#include "mar_ui.h"

#define MAR(st) ((struct mar *)(st))


/* ---- /v2/tasks ---- */

/* ?status=running|staging, or status[]=…, repeatable; none: all. */
static int status_wanted(struct mar *m, struct agora_req *r,
                         enum agora_task_state s)
{
    static const char *const keys[] = {"status", "status[]"};
    const char *f;
    size_t i, k;
    int any = 0;

    for (k = 0; k < 2; k++) {
        for (i = 0; (f = m->api->req_query(r, keys[k], i)) != NULL; i++) {
            any = 1;
            if ((strcmp(f, "running") == 0 && s == AGORA_TASK_RUNNING) ||
                (strcmp(f, "staging") == 0 && s == AGORA_TASK_STAGING))
                return 1;
        }
    }
    return !any;
}

void mar_h_tasks(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    const char *accept = m->api->req_header(r, "Accept");
    struct mar_inst *in;
    struct agora_jw *w;
    size_t i = 0;

    if (!mar_http_ready(m, r))
        return;
    if (accept && strstr(accept, "text/plain") && !strstr(accept, "json")) {
        mar_tasks_plain(m, r);
        return;
    }
    w = agora_jw_new();
    if (w == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_key(w, "tasks");
    agora_jw_arr_open(w);
    while ((in = agora_map_next(&m->tasks, &i)) != NULL) {
        if (status_wanted(m, r, in->state))
            mar_json_task(m, w, in);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    mar_reply_jw(m, r, 200, w);
    agora_jw_free(w);
}

/* POST /v2/tasks/delete {"ids": [...]}: tasks of several apps. */
void mar_h_tasks_delete(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    int scale = mar_query_bool(m, r, "scale", 0);
    int force = mar_query_bool(m, r, "force", 0);
    struct mar_inst **v = NULL, *in;
    struct mar_change *c = NULL;
    struct agora_jw *w = NULL;
    yajl_val body, ids;
    size_t i, n = 0, nc = 0, j;

    if (!mar_http_ready(m, r))
        return;
    if (scale && mar_query_bool(m, r, "wipe", 0)) {
        mar_reply_msg(m, r, 400, "You cannot use scale and wipe at the same "
                      "time.");
        return;
    }
    if ((body = mar_http_body(m, r)) == NULL)
        return;
    ids = agora_json_get(body, "ids");
    if (!YAJL_IS_ARRAY(ids)) {
        yajl_tree_free(body);
        mar_reply_msg(m, r, 400, "Invalid JSON: \"ids\" must be an array of "
                      "task ids");
        return;
    }
    for (i = 0; i < ids->u.array.len; i++) {
        const char *id = YAJL_GET_STRING(ids->u.array.values[i]);

        if (!agora_id_valid(id, AGORA_ID_MAX)) {
            mar_reply_msg(m, r, 400, "Invalid task id '%s'", id ? id : "");
            yajl_tree_free(body);
            return;
        }
    }
    v = calloc(ids->u.array.len + 1, sizeof(*v));
    c = calloc(ids->u.array.len + 1, sizeof(*c));
    w = agora_jw_new();
    if (v == NULL || c == NULL || w == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        goto out;
    }
    for (i = 0; i < ids->u.array.len; i++) {
        in = agora_map_get(&m->tasks, YAJL_GET_STRING(ids->u.array.values[i]));
        if (in)
            v[n++] = in;
    }
    if (!scale) {
        agora_jw_obj_open(w);
        agora_jw_key(w, "tasks");
        agora_jw_arr_open(w);
        for (i = 0; i < n; i++)
            mar_json_task(m, w, v[i]);
        agora_jw_arr_close(w);
        agora_jw_obj_close(w);
        for (i = 0; i < n; i++) {
            mar_sched_kill(m, v[i]);
            mar_sched_dirty(m, v[i]->app);
        }
        mar_reply_jw(m, r, 200, w);
        goto out;
    }
    /* One change per app: its instances less the ones killed. */
    for (i = 0; i < n; i++) {
        for (j = 0; j < nc && strcmp(c[j].id, v[i]->app->def->id); j++)
            ;
        if (j == nc) {
            c[nc].id = v[i]->app->def->id;
            c[nc].target = mar_app_dup(v[i]->app->def);
            if (c[nc].target == NULL) {
                mar_reply_msg(m, r, 503, "out of memory");
                goto out;
            }
            nc++;
        }
        if (c[j].target->instances > 0)
            c[j].target->instances--;
    }
    {
        struct mar_deploy *d = NULL, *locked[16];
        size_t nlocked = 0;
        int owned = 0, rc;

        if (!force) {
            const char **cids = calloc(nc + 1, sizeof(*cids));

            for (j = 0; cids && j < nc; j++)
                cids[j] = c[j].id;
            nlocked = cids ? mar_deploy_conflicts(m, cids, nc, locked, 16) : 0;
            free(cids);
            if (nlocked > 0) {
                mar_reply_locked(m, r, locked, nlocked);
                goto out;
            }
        }
        for (i = 0; i < n; i++) {
            v[i]->scale_kill = 1;
            mar_sched_kill(m, v[i]);
        }
        rc = mar_apply(m, c, nc, 1, &d, &owned, locked, &nlocked);
        if (rc != 0 || d == NULL)
            mar_reply_msg(m, r, 503, "cannot apply the change");
        else
            mar_reply_deployment(m, r, 200, d);
        if (d && !owned)
            mar_deploy_free(d);
    }
out:
    for (j = 0; c && j < nc; j++)
        mar_app_free(c[j].target);
    free(c);
    free(v);
    agora_jw_free(w);
    yajl_tree_free(body);
}

/* ---- /v2/deployments ---- */

void mar_h_deployments(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    struct agora_jw *w;
    struct mar_deploy *d;

    if (!mar_http_ready(m, r))
        return;
    w = agora_jw_new();
    if (w == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    agora_jw_arr_open(w);
    for (d = m->deploys; d; d = d->next)
        mar_deploy_write_info(m, w, d);
    agora_jw_arr_close(w);
    mar_reply_jw(m, r, 200, w);
    agora_jw_free(w);
}

/* DELETE: with force, cancel only (202); without, a forced deployment
 * back to the definitions it replaced. */
void mar_h_deployment_delete(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    const char *id = m->api->req_param(r, "id");
    struct mar_deploy *d, *nd = NULL, *locked[16];
    struct mar_change *c;
    size_t i, n = 0, nlocked;
    int owned = 0, rc;

    if (!mar_http_ready(m, r))
        return;
    d = id ? mar_deploy_find(m, id) : NULL;
    if (d == NULL) {
        mar_reply_msg(m, r, 404, "DeploymentPlan %s does not exist",
                      id ? id : "");
        return;
    }
    if (mar_query_bool(m, r, "force", 0)) {
        mar_deploy_cancel(m, d);
        m->api->reply(r, 202, NULL, "", 0);
        return;
    }
    c = calloc(d->naffected + 1, sizeof(*c));
    if (c == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    for (i = 0; i < d->naffected; i++) {
        c[n].id = d->affected[i];
        if (d->original[i]) {
            struct mar_errs e = {0};
            yajl_val v = agora_json_parse(d->original[i], NULL, 0);

            c[n].target = v ? mar_app_parse(v, "/", NULL, "", &e) : NULL;
            yajl_tree_free(v);
            mar_errs_free(&e);
            if (c[n].target == NULL)
                continue;
        }
        n++;
    }
    /* The ids point into d, which the forced apply cancels: copy. */
    for (i = 0; i < n; i++)
        c[i].id = strdup(c[i].id);
    rc = mar_apply(m, c, n, 1, &nd, &owned, locked, &nlocked);
    if (rc != 0 || nd == NULL)
        mar_reply_msg(m, r, 503, "cannot roll back");
    else
        mar_reply_deployment(m, r, 200, nd);
    if (nd && !owned)
        mar_deploy_free(nd);
    for (i = 0; i < n; i++)
        free((char *)c[i].id);
    free(c);
}

/* ---- /v2/queue ---- */

/* The reject reasons, in the order the offer checks run. */
static const struct {
    enum mar_reject r;
    const char *name;
} reject_names[] = {
    {MAR_R_ROLE, "UnfulfilledRole"},
    {MAR_R_CPUS, "InsufficientCpus"},
    {MAR_R_MEM, "InsufficientMemory"},
    {MAR_R_DISK, "InsufficientDisk"},
    {MAR_R_GPUS, "InsufficientGpus"},
    {MAR_R_PORTS, "InsufficientPorts"},
    {MAR_R_CONSTRAINT, "UnfulfilledConstraint"},
};

static void write_time_or_null(struct agora_jw *w, const char *key, double t)
{
    char ts[32];

    agora_jw_key(w, key);
    if (t <= 0) {
        agora_jw_null(w);
        return;
    }
    mar_time_format(t, ts);
    agora_jw_str(w, ts);
}

static void write_offers_summary(struct agora_jw *w, const struct mar_rapp *a)
{
    uint64_t left = a->offers_processed;
    size_t i;

    agora_jw_key(w, "processedOffersSummary");
    agora_jw_obj_open(w);
    agora_jw_kint(w, "processedOffersCount", (int64_t)a->offers_processed);
    agora_jw_kint(w, "unusedOffersCount", (int64_t)a->offers_unused);
    write_time_or_null(w, "lastUnusedOfferAt", a->last_unused_at);
    write_time_or_null(w, "lastUsedOfferAt", a->last_used_at);
    agora_jw_key(w, "rejectSummaryLastOffers");
    agora_jw_arr_open(w);
    for (i = 0; i < sizeof(reject_names) / sizeof(*reject_names); i++) {
        uint64_t declined = a->reject_declined[reject_names[i].r];

        agora_jw_obj_open(w);
        agora_jw_kstr(w, "reason", reject_names[i].name);
        agora_jw_kint(w, "declined", (int64_t)declined);
        agora_jw_kint(w, "processed", (int64_t)left);
        agora_jw_obj_close(w);
        left = left > declined ? left - declined : 0;
    }
    agora_jw_arr_close(w);
    agora_jw_key(w, "rejectSummaryLaunchAttempt");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
}

void mar_h_queue(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    struct mar_rapp *a;
    struct agora_jw *w;
    double now = mar_now(m), left;
    size_t i = 0, want;

    if (!mar_http_ready(m, r))
        return;
    w = agora_jw_new();
    if (w == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_key(w, "queue");
    agora_jw_arr_open(w);
    while ((a = agora_map_next(&m->apps, &i)) != NULL) {
        want = mar_sched_wanted(m, a);
        if (want == 0)
            continue;
        left = a->launch_after > now ? a->launch_after - now : 0;
        agora_jw_obj_open(w);
        agora_jw_key(w, "app");
        mar_json_app_info(m, w, a, MAR_EMBED_COUNTS | MAR_EMBED_DEPLOYMENTS);
        agora_jw_kint(w, "count", (int64_t)want);
        agora_jw_key(w, "delay");
        agora_jw_obj_open(w);
        agora_jw_kint(w, "timeLeftSeconds", (int64_t)(left + 0.999));
        agora_jw_kbool(w, "overdue", left <= 0);
        agora_jw_obj_close(w);
        write_time_or_null(w, "since", a->queued_since > 0 ? a->queued_since
                                                            : now);
        write_offers_summary(w, a);
        agora_jw_key(w, "lastUnusedOffers");
        agora_jw_arr_open(w);
        agora_jw_arr_close(w);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    mar_reply_jw(m, r, 200, w);
    agora_jw_free(w);
}

void mar_h_queue_delay(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    char *id;
    struct mar_rapp *a;

    if (!mar_http_ready(m, r) || (id = mar_http_app_id(m, r)) == NULL)
        return;
    a = mar_state_app(m, id);
    if (a == NULL || mar_sched_wanted(m, a) == 0) {
        mar_reply_msg(m, r, 404, "Application %s not found in tasks queue.",
                      id);
    } else {
        mar_sched_backoff_reset(m, a);
        mar_sched_dirty(m, a);
        m->api->reply(r, 204, NULL, "", 0);
    }
    free(id);
}

/* ---- events, info, leader, ping ---- */

void mar_h_events(void *st, struct agora_req *r)
{
    mar_events_get(MAR(st), r);
}

/* "host:port" where this plugin answers. */
static void leader_addr(struct mar *m, char *out, size_t len)
{
    struct agora_master_info mi;
    const char *port = m->api->conf_get(m->h, "port");

    memset(&mi, 0, sizeof(mi));
    m->api->master_info(m->h, &mi);
    if (port && *port)
        snprintf(out, len, "%s:%s", mi.hostname ? mi.hostname : "", port);
    else
        snprintf(out, len, "%s:%d", mi.hostname ? mi.hostname : "", mi.port);
}

void mar_h_info(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    struct agora_master_info mi;
    struct agora_jw *w = agora_jw_new();
    const char *port = m->api->conf_get(m->h, "port");
    char leader[300];

    if (w == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    memset(&mi, 0, sizeof(mi));
    m->api->master_info(m->h, &mi);
    leader_addr(m, leader, sizeof(leader));
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "name", m->conf->framework_name);
    agora_jw_kstr(w, "version", "1.10.0");
    agora_jw_kstr(w, "buildref", mi.version);
    agora_jw_kbool(w, "elected", m->leading);
    agora_jw_kstr(w, "leader", leader);
    agora_jw_kstr(w, "frameworkId", m->api->framework_id(m->fw));
    agora_jw_key(w, "marathon_config");
    agora_jw_obj_open(w);
    agora_jw_kbool(w, "checkpoint", 1);
    agora_jw_kstr(w, "executor", "//cmd");
    agora_jw_kint(w, "failover_timeout", 604800);
    agora_jw_kstr(w, "framework_name", m->conf->framework_name);
    agora_jw_kbool(w, "ha", mi.zk != NULL);
    agora_jw_kstr(w, "hostname", mi.hostname);
    agora_jw_kint(w, "local_port_min", m->conf->local_port_min);
    agora_jw_kint(w, "local_port_max", m->conf->local_port_max);
    {
        char master[300];

        snprintf(master, sizeof(master), "%s:%d", mi.ip ? mi.ip : "",
                 mi.port);
        agora_jw_kstr(w, "master", mi.zk ? mi.zk : master);
    }
    agora_jw_kstr(w, "mesos_role", "*");
    agora_jw_kstr(w, "mesos_user", NULL);
    agora_jw_kint(w, "task_launch_timeout",
                  (int64_t)(m->conf->task_launch_timeout * 1000));
    agora_jw_key(w, "features");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    agora_jw_key(w, "zookeeper_config");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "zk", mi.zk);
    agora_jw_kint(w, "zk_max_versions", m->conf->max_versions);
    agora_jw_kint(w, "zk_session_timeout", 10000);
    agora_jw_kint(w, "zk_timeout", 10000);
    agora_jw_obj_close(w);
    agora_jw_key(w, "http_config");
    agora_jw_obj_open(w);
    agora_jw_kint(w, "http_port", port ? atoi(port) : mi.port);
    agora_jw_kint(w, "https_port", 8443);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
    mar_reply_jw(m, r, 200, w);
    agora_jw_free(w);
}

void mar_h_leader(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    char leader[300], *body = NULL;
    char quoted[400];

    leader_addr(m, leader, sizeof(leader));
    agora_json_quote(leader, quoted, sizeof(quoted));
    if (asprintf(&body, "{\"leader\":%s}", quoted) < 0) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    m->api->reply(r, 200, NULL, body, strlen(body));
    free(body);
}

void mar_h_leader_delete(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    static const char msg[] = "{\"message\":\"Leadership abdicated\"}";

    if (m->api->abdicate(m->h) != 0) {
        mar_reply_msg(m, r, 404, "There is no leader");
        return;
    }
    m->api->reply(r, 200, NULL, msg, sizeof(msg) - 1);
}

void mar_h_ping(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);

    m->api->reply(r, 200, "text/plain", "pong", 4);
}

/* ---- metrics ---- */

struct metric {
    const char *name;
    double value;
    int counter;
};

static size_t metrics_collect(struct mar *m, struct metric *v, size_t max)
{
    size_t n = 0, running = 0, staged = 0, i = 0;
    struct mar_rapp *a;
    double now = mar_now(m);

    /* Every instance is its app's and counted there (mar_sched_count()):
     * a sum over apps, not a walk over every task. */
    while ((a = agora_map_next(&m->apps, &i)) != NULL) {
        running += a->nrunning;
        staged += a->nstaged;
    }
#define G(nm, val) if (n < max) v[n++] = (struct metric){nm, (double)(val), 0}
#define C(nm, val) if (n < max) v[n++] = (struct metric){nm, (double)(val), 1}
    G("marathon.apps.active.gauge", m->apps.n);
    G("marathon.deployments.active.gauge", m->ndeploys);
    G("marathon.instances.running.gauge", running);
    G("marathon.instances.staged.gauge", staged);
    G("marathon.uptime.gauge.seconds", now - m->start_time);
    G("marathon.leadership.duration.gauge.seconds", now - m->elected_time);
    G("marathon.http.event-streams.active.gauge", mar_events_clients(m));
    C("marathon.tasks.launched.counter", m->tasks_launched);
    C("marathon.mesos.offers.incoming.counter", m->offers_in);
    C("marathon.mesos.offers.used.counter", m->offers_used);
    C("marathon.mesos.offers.declined.counter", m->offers_declined);
    /* offers kept for apps still arriving (mar_offers.c), and now */
    C("marathon.mesos.offers.held.counter", m->offers_held);
    G("marathon.mesos.offers.held.gauge", mar_offers_n(m));
    /* puts, and the transactions that held two or more (mar_store.c) */
    C("marathon.store.puts.counter", m->store_puts);
    C("marathon.store.txns.counter", m->store_txns);
    C("marathon.mesos.task-updates.task-running.counter",
      m->status_counts[AGORA_TASK_RUNNING]);
    C("marathon.mesos.task-updates.task-failed.counter",
      m->status_counts[AGORA_TASK_FAILED]);
    C("marathon.mesos.task-updates.task-finished.counter",
      m->status_counts[AGORA_TASK_FINISHED]);
    C("marathon.mesos.task-updates.task-killed.counter",
      m->status_counts[AGORA_TASK_KILLED]);
#undef G
#undef C
    return n;
}

void mar_h_metrics(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    struct metric v[32];
    size_t n = metrics_collect(m, v, 32), i;
    struct agora_jw *w = agora_jw_new();
    int pass;

    if (w == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "version", "4.0.0");
    for (pass = 0; pass < 2; pass++) {
        agora_jw_key(w, pass ? "counters" : "gauges");
        agora_jw_obj_open(w);
        for (i = 0; i < n; i++) {
            if (v[i].counter != pass)
                continue;
            agora_jw_key(w, v[i].name);
            agora_jw_obj_open(w);
            agora_jw_knum(w, pass ? "count" : "value", v[i].value);
            agora_jw_obj_close(w);
        }
        agora_jw_obj_close(w);
    }
    agora_jw_key(w, "histograms");
    agora_jw_obj_open(w);
    agora_jw_obj_close(w);
    agora_jw_key(w, "meters");
    agora_jw_obj_open(w);
    agora_jw_obj_close(w);
    agora_jw_key(w, "timers");
    agora_jw_obj_open(w);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
    mar_reply_jw(m, r, 200, w);
    agora_jw_free(w);
}

/* Prometheus' text format: dots and dashes become underscores. */
void mar_h_metrics_prometheus(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    struct metric v[32];
    size_t n = metrics_collect(m, v, 32), i, len = 0;
    char *buf = NULL, *p;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    for (i = 0; i < n; i++) {
        char name[128];

        snprintf(name, sizeof(name), "%s", v[i].name);
        for (p = name; *p; p++) {
            if (*p == '.' || *p == '-')
                *p = '_';
        }
        fprintf(f, "# TYPE %s %s\n%s %.17g\n", name,
                v[i].counter ? "counter" : "gauge", name, v[i].value);
    }
    if (fclose(f) != 0 || buf == NULL) {
        free(buf);
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    m->api->reply(r, 200, "text/plain; version=0.0.4", buf, len);
    free(buf);
}

/* ---- the table ---- */

const struct agora_route mar_routes[] = {
    {"GET", "/v2/apps", mar_h_apps_list},
    {"POST", "/v2/apps", mar_h_apps_create},
    {"PUT", "/v2/apps", mar_h_apps_put_many},
    {"PATCH", "/v2/apps", mar_h_apps_patch_many},
    {"GET", "/v2/apps/*id", mar_h_app_get},
    {"PUT", "/v2/apps/*id", mar_h_app_put},
    {"PATCH", "/v2/apps/*id", mar_h_app_patch},
    {"DELETE", "/v2/apps/*id", mar_h_app_delete},
    {"POST", "/v2/apps/*id/restart", mar_h_app_restart},
    {"GET", "/v2/apps/*id/tasks", mar_h_app_tasks},
    {"DELETE", "/v2/apps/*id/tasks", mar_h_app_tasks_kill},
    {"GET", "/v2/apps/*id/tasks/:task", mar_h_app_task_get},
    {"DELETE", "/v2/apps/*id/tasks/:task", mar_h_app_task_kill},
    {"GET", "/v2/apps/*id/versions", mar_h_app_versions},
    {"GET", "/v2/apps/*id/versions/:version", mar_h_app_version},
    {"GET", "/v2/groups", mar_h_groups_get},
    {"GET", "/v2/groups/*id", mar_h_groups_get},
    {"POST", "/v2/groups", mar_h_groups_create},
    {"POST", "/v2/groups/*id", mar_h_groups_create},
    {"PUT", "/v2/groups", mar_h_groups_put},
    {"PUT", "/v2/groups/*id", mar_h_groups_put},
    {"DELETE", "/v2/groups", mar_h_groups_delete},
    {"DELETE", "/v2/groups/*id", mar_h_groups_delete},
    {"GET", "/v2/groups/versions", mar_h_groups_versions},
    {"GET", "/v2/groups/*id/versions", mar_h_groups_versions},
    {"GET", "/v2/groups/versions/:version", mar_h_groups_version},
    {"GET", "/v2/groups/*id/versions/:version", mar_h_groups_version},
    {"PUT", "/v2/groups/*id/versions/:version", mar_h_groups_version_put},
    {"GET", "/v2/tasks", mar_h_tasks},
    {"POST", "/v2/tasks/delete", mar_h_tasks_delete},
    {"GET", "/v2/deployments", mar_h_deployments},
    {"DELETE", "/v2/deployments/:id", mar_h_deployment_delete},
    {"GET", "/v2/queue", mar_h_queue},
    {"DELETE", "/v2/queue/*id/delay", mar_h_queue_delay},
    {"GET", "/v2/events", mar_h_events},
    {"GET", "/v2/info", mar_h_info},
    {"GET", "/v2/leader", mar_h_leader},
    {"DELETE", "/v2/leader", mar_h_leader_delete},
    {"GET", "/ping", mar_h_ping},
    {"GET", "/metrics", mar_h_metrics},
    {"GET", "/metrics/prometheus", mar_h_metrics_prometheus},
    {"GET", "/", mar_h_ui_index},
    {"GET", "/ui/*path", mar_h_ui_file},
    {NULL, NULL, NULL},
};
