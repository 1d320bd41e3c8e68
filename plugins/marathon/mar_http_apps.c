/*
 * mar_http_apps.c - /v2/apps (marathon-api.md §1.1).
 *
 * Handlers parse and validate, then describe the change as target
 * definitions for mar_apply(); the answer is Marathon's: 201 + Location
 * for a new app, a DeploymentResult with the Marathon-Deployment-Id
 * header for a change, 409 with the blocking deployments for a locked
 * app, 422/400 with details for an invalid one. Versions live in the
 * store only, so the two version routes answer from a store read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "marathon.h"

#define MAR(st) ((struct mar *)(st))

/* ---- shared ---- */

int mar_http_ready(struct mar *m, struct agora_req *r)
{
    if (m->loaded)
        return 1;
    mar_reply_msg(m, r, 503, m->load_failed
                                 ? "Marathon could not read its state"
                                 : "Marathon is loading its state");
    return 0;
}

yajl_val mar_http_body(struct mar *m, struct agora_req *r)
{
    size_t len;
    const char *body = m->api->req_body(r, &len);
    char why[256];
    yajl_val v;
    struct agora_jw *w;

    if (body == NULL || len == 0) {
        mar_reply_msg(m, r, 400, "Invalid JSON: the body is empty");
        return NULL;
    }
    if (strlen(body) != len) {
        mar_reply_msg(m, r, 400, "Invalid JSON: the body holds a NUL byte");
        return NULL;
    }
    v = agora_json_parse(body, why, sizeof(why));
    if (v)
        return v;
    w = agora_jw_new();
    if (w == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return NULL;
    }
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "message", "Invalid JSON");
    agora_jw_key(w, "details");
    agora_jw_arr_open(w);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "path", "/");
    agora_jw_key(w, "errors");
    agora_jw_arr_open(w);
    agora_jw_str(w, why);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    mar_reply_jw(m, r, 400, w);
    agora_jw_free(w);
    return NULL;
}

char *mar_http_app_id(struct mar *m, struct agora_req *r)
{
    const char *raw = m->api->req_param(r, "id"), *why = NULL;
    char *id;

    if (raw == NULL) {
        mar_reply_msg(m, r, 404, "No app id in the path");
        return NULL;
    }
    id = mar_id_resolve("/", raw, &why);
    if (id == NULL)
        mar_reply_msg(m, r, 404, "App '%s' does not exist", raw);
    return id;
}

/* The app of the path, or NULL after a 404. *idp receives the id. */
static struct mar_rapp *path_app(struct mar *m, struct agora_req *r)
{
    char *id = mar_http_app_id(m, r);
    struct mar_rapp *a;

    if (id == NULL)
        return NULL;
    a = mar_state_app(m, id);
    if (a == NULL)
        mar_reply_msg(m, r, 404, "App '%s' does not exist", id);
    free(id);
    return a;
}

/* Applies and answers, once its writes are stored: the deployment's
 * result with `status`, or with 201 + Location and the AppInfo when
 * `created`. */
void mar_apply_reply(struct mar *m, struct agora_req *r,
                     struct mar_change *c, size_t n, int force,
                     enum mar_answer how)
{
    struct mar_deploy *d = NULL, *locked[16];
    size_t nlocked = 0;
    int owned = 0, rc;
    char *loc = NULL;
    struct mar_rapp *a;
    struct agora_jw *w;

    rc = mar_apply(m, c, n, force, &d, &owned, locked, &nlocked);
    if (rc == AGORA_ESTATE) {
        mar_reply_locked(m, r, locked, nlocked);
        return;
    }
    if (rc == AGORA_EINVAL) {
        mar_reply_cycle(m, r);
        return;
    }
    if (rc != 0 || d == NULL) {
        mar_reply_msg(m, r, 503, "cannot apply the change: %s",
                      m->api->strerror(rc));
        return;
    }
    a = how == MAR_ANSWER_APP_CREATED && n == 1 ? mar_state_app(m, c[0].id)
                                                : NULL;
    if ((w = agora_jw_new()) == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
    } else if (a && asprintf(&loc, "/v2/apps%s", a->def->id) >= 0) {
        mar_json_app_info(m, w, a, MAR_EMBED_COUNTS | MAR_EMBED_DEPLOYMENTS);
        mar_reply_stored(m, r, 201, loc, d->id, w);
        free(loc);
    } else {
        mar_reply_deployment(m, r, how == MAR_ANSWER_RESULT ? 200 : 201, d);
    }
    agora_jw_free(w);
    if (!owned)
        mar_deploy_free(d);
}

/* ---- GET /v2/apps ---- */

static unsigned embed_flags(struct mar *m, struct agora_req *r)
{
    static const struct {
        const char *name;
        unsigned flags;
    } names[] = {
        {"tasks", MAR_EMBED_TASKS | MAR_EMBED_DEPLOYMENTS},
        {"counts", MAR_EMBED_COUNTS},
        {"deployments", MAR_EMBED_DEPLOYMENTS},
        {"lastTaskFailure", MAR_EMBED_LAST_FAILURE},
        {"failures", MAR_EMBED_TASKS | MAR_EMBED_COUNTS |
                         MAR_EMBED_DEPLOYMENTS | MAR_EMBED_LAST_FAILURE},
        {"taskStats", MAR_EMBED_TASK_STATS},
        {"readiness", MAR_EMBED_READINESS},
    };
    unsigned f = 0;
    const char *e;
    size_t i, j;

    for (i = 0; (e = m->api->req_query(r, "embed", i)) != NULL; i++) {
        /* "apps." and "app." both, on both routes: Marathon takes either
         * (marathon-python sends app.* to /v2/apps). */
        if (strncmp(e, "apps.", 5) == 0)
            e += 5;
        else if (strncmp(e, "app.", 4) == 0)
            e += 4;
        else
            continue;
        for (j = 0; j < sizeof(names) / sizeof(*names); j++) {
            if (strcmp(e, names[j].name) == 0)
                f |= names[j].flags;
        }
    }
    return f;
}

/* Every app, sorted by id, as a copy the caller frees; NULL when out of
 * memory. */
static struct mar_rapp **apps_sorted(struct mar *m, size_t *n)
{
    struct mar_rapp *const *s = mar_state_apps_sorted(m, n);
    struct mar_rapp **v = s ? calloc(*n + 1, sizeof(*v)) : NULL;

    if (v == NULL) {
        *n = 0;
        return NULL;
    }
    memcpy(v, s, *n * sizeof(*v));
    return v;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    if (hay == NULL)
        return 0;
    for (; *hay; hay++) {
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    }
    return n == 0;
}

void mar_h_apps_list(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    const char *cmd = m->api->req_query(r, "cmd", 0);
    const char *id = m->api->req_query(r, "id", 0);
    const char *label = m->api->req_query(r, "label", 0), *why = NULL;
    struct mar_label_sel *sel = NULL;
    struct mar_rapp **v;
    struct agora_jw *w;
    unsigned embed;
    size_t n, i;

    if (!mar_http_ready(m, r))
        return;
    if (label && (sel = mar_label_sel_parse(label, &why)) == NULL) {
        mar_reply_msg(m, r, 400, "%s", why ? why : "Invalid label selector");
        return;
    }
    embed = embed_flags(m, r) | MAR_EMBED_COUNTS |
            MAR_EMBED_DEPLOYMENTS;
    v = apps_sorted(m, &n);
    w = agora_jw_new();
    if (v == NULL || w == NULL) {
        free(v);
        agora_jw_free(w);
        mar_label_sel_free(sel);
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_key(w, "apps");
    agora_jw_arr_open(w);
    for (i = 0; i < n; i++) {
        const struct mar_app *d = v[i]->def;

        if ((cmd && !contains_nocase(d->cmd, cmd)) ||
            (id && !strstr(d->id, id)) ||
            (sel && !mar_label_sel_match(sel, d->labels, d->nlabels)))
            continue;
        mar_json_app_info(m, w, v[i], embed);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    mar_reply_jw(m, r, 200, w);
    agora_jw_free(w);
    free(v);
    mar_label_sel_free(sel);
}

/* GET /v2/apps/<group>/<star>: every app under the group. */
static void apps_of_group(struct mar *m, struct agora_req *r, const char *raw)
{
    size_t n, i, found = 0, len = strlen(raw);
    struct mar_rapp **v;
    struct agora_jw *w;
    char *group, *g;
    unsigned embed = embed_flags(m, r) | MAR_EMBED_COUNTS |
                     MAR_EMBED_DEPLOYMENTS;

    g = strndup(raw, len >= 2 ? len - 2 : 0);
    group = g ? mar_id_resolve("/", *g ? g : "/", NULL) : NULL;
    free(g);
    v = apps_sorted(m, &n);
    w = agora_jw_new();
    if (group == NULL || v == NULL || w == NULL) {
        free(group);
        free(v);
        agora_jw_free(w);
        mar_reply_msg(m, r, 404, "Group '%s' does not exist", raw);
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_key(w, "*");
    agora_jw_arr_open(w);
    for (i = 0; i < n; i++) {
        if (strcmp(group, "/") == 0 || mar_id_under(v[i]->def->id, group)) {
            mar_json_app_info(m, w, v[i], embed);
            found++;
        }
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    if (found == 0)
        mar_reply_msg(m, r, 404, "Group '%s' does not exist", group);
    else
        mar_reply_jw(m, r, 200, w);
    agora_jw_free(w);
    free(v);
    free(group);
}

void mar_h_app_get(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    const char *raw = m->api->req_param(r, "id");
    struct mar_rapp *a;
    struct agora_jw *w;
    size_t len = raw ? strlen(raw) : 0;

    if (!mar_http_ready(m, r))
        return;
    if (len >= 1 && raw[len - 1] == '*' && (len == 1 || raw[len - 2] == '/')) {
        apps_of_group(m, r, raw);
        return;
    }
    a = path_app(m, r);
    if (a == NULL)
        return;
    w = agora_jw_new();
    if (w == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_key(w, "app");
    mar_json_app_info(m, w, a, embed_flags(m, r) | MAR_EMBED_COUNTS |
                                   MAR_EMBED_DEPLOYMENTS | MAR_EMBED_TASKS |
                                   MAR_EMBED_LAST_FAILURE);
    agora_jw_obj_close(w);
    mar_reply_jw(m, r, 200, w);
    agora_jw_free(w);
}

/* ---- creating and changing ---- */

/* 409 when the id is taken by an app, or is a group holding apps, or
 * lies under an app; O(depth of the id), from the index. */
static int id_taken(struct mar *m, struct agora_req *r, const char *id)
{
    char *above;
    int rc;

    if (mar_state_app(m, id)) {
        mar_reply_msg(m, r, 409, "An app with id [%s] already exists.", id);
        return 1;
    }
    if (mar_index_apps_under(m, id) > 0) {
        mar_reply_msg(m, r, 409, "A group with id [%s] already exists.", id);
        return 1;
    }
    rc = mar_index_app_above(m, id, &above);
    if (rc == 1) {
        mar_reply_msg(m, r, 409, "An app with the path %s already exists.",
                      above);
        free(above);
        return 1;
    }
    if (rc != 0) {
        mar_reply_msg(m, r, 503, "out of memory");
        return 1;
    }
    return 0;
}

void mar_h_apps_create(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    struct mar_errs e = {0};
    struct mar_change c = {0};
    struct mar_app *app;
    char *id;
    yajl_val v;

    if (!mar_http_ready(m, r) || (v = mar_http_body(m, r)) == NULL)
        return;
    app = mar_app_parse(v, "/", NULL, "", &e);
    yajl_tree_free(v);
    if (app == NULL) {
        mar_reply_errs(m, r, &e);
        mar_errs_free(&e);
        return;
    }
    if (id_taken(m, r, app->id)) {
        mar_app_free(app);
        return;
    }
    c.id = id = strdup(app->id);
    c.target = app;
    if (id == NULL) {
        mar_app_free(app);
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    mar_apply_reply(m, r, &c, 1, mar_query_bool(m, r, "force", 0),
                    MAR_ANSWER_APP_CREATED);
    free(id);
}

/* The new definition for PUT/PATCH of one app: merged into the current
 * one, or parsed whole. NULL after a reply. */
static struct mar_app *target_of(struct mar *m, struct agora_req *r,
                                 yajl_val v, const char *id,
                                 const struct mar_rapp *a, int partial,
                                 const char *prefix)
{
    struct mar_errs e = {0};
    struct mar_app *t;

    if (a && partial)
        t = mar_app_merge(a->def, v, &e);
    else
        t = mar_app_parse(v, "/", id, prefix, &e);
    if (t == NULL) {
        mar_reply_errs(m, r, &e);
        mar_errs_free(&e);
    }
    return t;
}

/* Rollback: PUT /v2/apps/{id} with {"version": …} only. */
struct rollback {
    struct agora_pending pend;
    struct mar *m;
    struct agora_req *r;
    char *id;
    int force;
};

static void rollback_free(struct agora_pending *p)
{
    struct rollback *rb = (struct rollback *)p;

    free(rb->id);
    free(rb);
}

static void rollback_read(void *arg, int err, const struct agora_store_result *res)
{
    struct rollback *rb = arg;
    struct mar *m = rb->m;
    struct mar_errs e = {0};
    struct mar_change c = {0};
    struct mar_app *t = NULL;
    yajl_val v = NULL;

    agora_pending_del(&rb->pend);
    if (err == 0 && res->value)
        v = agora_json_parse(res->value, NULL, 0);
    if (v)
        t = mar_app_parse(v, "/", rb->id, "", &e);
    yajl_tree_free(v);
    mar_errs_free(&e);
    if (t == NULL) {
        mar_reply_msg(m, rb->r, 404, "Version does not exist for app '%s'",
                      rb->id);
    } else {
        c.id = rb->id;
        c.target = t;
        /* A rollback is a new deployment of the old config. */
        c.restart = 1;
        mar_apply_reply(m, rb->r, &c, 1, rb->force, 0);
    }
    free(rb->id);
    free(rb);
}

static void rollback(struct mar *m, struct agora_req *r, struct mar_rapp *a,
                     const char *version, int force)
{
    struct rollback *rb = calloc(1, sizeof(*rb));
    char *key = NULL;
    double t;

    if (mar_time_parse(version, &t) != 0) {
        free(rb);
        mar_reply_msg(m, r, 404, "Version does not exist for app '%s'",
                      a->def->id);
        return;
    }
    if (rb == NULL || (rb->id = strdup(a->def->id)) == NULL ||
        asprintf(&key, "versions/%s/%s", a->key, version) < 0) {
        if (rb)
            free(rb->id);
        free(rb);
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    rb->m = m;
    rb->r = r;
    rb->force = force;
    agora_pending_add(&m->pend, &rb->pend, rollback_free);
    mar_store_flush(m);
    if (m->api->defer(r) != 0 ||
        m->api->store_get(m->h, key, rollback_read, rb) != 0) {
        agora_pending_del(&rb->pend);
        rollback_free(&rb->pend);
        mar_reply_msg(m, r, 503, "cannot read the store");
    }
    free(key);
}

/* {"version": ts} alone, or with the id: a rollback. */
static const char *rollback_version(yajl_val v)
{
    size_t i;
    const char *ver = NULL;

    if (!YAJL_IS_OBJECT(v))
        return NULL;
    for (i = 0; i < v->u.object.len; i++) {
        if (strcmp(v->u.object.keys[i], "version") == 0)
            ver = YAJL_GET_STRING(v->u.object.values[i]);
        else if (strcmp(v->u.object.keys[i], "id") != 0)
            return NULL;
    }
    return ver;
}

static void app_change(struct mar *m, struct agora_req *r, int patch)
{
    struct mar_change c = {0};
    struct mar_rapp *a;
    struct mar_app *t;
    const char *ver;
    int force = mar_query_bool(m, r, "force", 0);
    int partial = patch || mar_query_bool(m, r, "partialUpdate", 1);
    char *id;
    yajl_val v;

    if (!mar_http_ready(m, r) || (id = mar_http_app_id(m, r)) == NULL)
        return;
    a = mar_state_app(m, id);
    if (a == NULL && patch) {
        mar_reply_msg(m, r, 404, "App '%s' does not exist", id);
        free(id);
        return;
    }
    v = mar_http_body(m, r);
    if (v == NULL) {
        free(id);
        return;
    }
    ver = rollback_version(v);
    if (ver && a) {
        rollback(m, r, a, ver, force);
    } else if (a == NULL && id_taken(m, r, id)) {
        ;
    } else if ((t = target_of(m, r, v, id, a, partial, "")) != NULL) {
        c.id = id;
        c.target = t;
        mar_apply_reply(m, r, &c, 1, force,
                        a ? MAR_ANSWER_RESULT : MAR_ANSWER_RESULT_CREATED);
    }
    yajl_tree_free(v);
    free(id);
}

void mar_h_app_put(void *st, struct agora_req *r)
{
    app_change(MAR(st), r, 0);
}

void mar_h_app_patch(void *st, struct agora_req *r)
{
    app_change(MAR(st), r, 1);
}

/* PUT and PATCH /v2/apps: an array of apps, one deployment. */
static void apps_change_many(struct mar *m, struct agora_req *r, int patch)
{
    struct mar_change *c;
    yajl_val v;
    size_t i, n;
    int force = mar_query_bool(m, r, "force", 0);
    int partial = patch || mar_query_bool(m, r, "partialUpdate", 1);
    char **ids;

    if (!mar_http_ready(m, r) || (v = mar_http_body(m, r)) == NULL)
        return;
    if (!YAJL_IS_ARRAY(v)) {
        yajl_tree_free(v);
        mar_reply_msg(m, r, 400, "Invalid JSON: an array of apps expected");
        return;
    }
    n = v->u.array.len;
    c = calloc(n + 1, sizeof(*c));
    ids = calloc(n + 1, sizeof(*ids));
    for (i = 0; c && ids && i < n; i++) {
        yajl_val o = v->u.array.values[i];
        const char *raw = agora_json_get_str(o, "id");
        char prefix[32];
        struct mar_rapp *a;

        snprintf(prefix, sizeof(prefix), "/(%zu)", i);
        ids[i] = raw ? mar_id_resolve("/", raw, NULL) : NULL;
        if (ids[i] == NULL) {
            mar_reply_msg(m, r, 422, "App %zu has no valid id", i);
            break;
        }
        a = mar_state_app(m, ids[i]);
        if (a == NULL && patch) {
            mar_reply_msg(m, r, 404, "App '%s' does not exist", ids[i]);
            break;
        }
        c[i].id = ids[i];
        c[i].target = target_of(m, r, o, ids[i], a, partial, prefix);
        if (c[i].target == NULL)
            break;
    }
    if (c == NULL || ids == NULL)
        mar_reply_msg(m, r, 503, "out of memory");
    else if (i == n)
        mar_apply_reply(m, r, c, n, force, 0);
    for (i = 0; c && ids && i < n; i++) {
        mar_app_free(c[i].target);
        free(ids[i]);
    }
    free(c);
    free(ids);
    yajl_tree_free(v);
}

void mar_h_apps_put_many(void *st, struct agora_req *r)
{
    apps_change_many(MAR(st), r, 0);
}

void mar_h_apps_patch_many(void *st, struct agora_req *r)
{
    apps_change_many(MAR(st), r, 1);
}

void mar_h_app_delete(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    struct mar_change c = {0};
    struct mar_rapp *a;

    if (!mar_http_ready(m, r) || (a = path_app(m, r)) == NULL)
        return;
    c.id = a->def->id;
    /* Marathon's code defaults force to true here. */
    mar_apply_reply(m, r, &c, 1, mar_query_bool(m, r, "force", 1), 0);
}

void mar_h_app_restart(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    struct mar_change c = {0};
    struct mar_rapp *a;

    if (!mar_http_ready(m, r) || (a = path_app(m, r)) == NULL)
        return;
    c.id = a->def->id;
    c.target = mar_app_dup(a->def);
    c.restart = 1;
    if (c.target == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    mar_apply_reply(m, r, &c, 1, mar_query_bool(m, r, "force", 0), 0);
}

/* ---- tasks of an app ---- */

static void write_tasks_plain(struct mar *m, struct agora_req *r,
                              struct mar_rapp **apps, size_t napps);

void mar_h_app_tasks(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    const char *accept;
    struct mar_rapp *a;
    struct agora_jw *w;
    size_t i;

    if (!mar_http_ready(m, r) || (a = path_app(m, r)) == NULL)
        return;
    accept = m->api->req_header(r, "Accept");
    if (accept && strstr(accept, "text/plain") && !strstr(accept, "json")) {
        write_tasks_plain(m, r, &a, 1);
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
    for (i = 0; i < a->ninst; i++)
        mar_json_task(m, w, a->inst[i]);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    mar_reply_jw(m, r, 200, w);
    agora_jw_free(w);
}

void mar_h_app_task_get(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    const char *tid = m->api->req_param(r, "task");
    struct mar_inst *in;
    struct mar_rapp *a;
    struct agora_jw *w;

    if (!mar_http_ready(m, r) || (a = path_app(m, r)) == NULL)
        return;
    in = tid ? agora_map_get(&m->tasks, tid) : NULL;
    if (in == NULL || in->app != a) {
        mar_reply_msg(m, r, 404, "Task '%s' does not exist", tid ? tid : "");
        return;
    }
    w = agora_jw_new();
    if (w == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_key(w, "task");
    mar_json_task(m, w, in);
    agora_jw_obj_close(w);
    mar_reply_jw(m, r, 200, w);
    agora_jw_free(w);
}

/* Kills the chosen instances of a: with scale, as a deployment lowering
 * `instances` by their number; without, they are replaced. */
void mar_kill_tasks(struct mar *m, struct agora_req *r, struct mar_rapp *a,
                    struct mar_inst **v, size_t n, int scale, int force,
                    int single)
{
    struct mar_change c = {0};
    struct agora_jw *w;
    size_t i;

    if (scale) {
        c.id = a->def->id;
        c.target = mar_app_dup(a->def);
        if (c.target == NULL) {
            mar_reply_msg(m, r, 503, "out of memory");
            return;
        }
        c.target->instances = a->def->instances > (int)n
                                  ? a->def->instances - (int)n
                                  : 0;
        if (a->deploy && !force) {
            struct mar_deploy *d = a->deploy;

            mar_app_free(c.target);
            mar_reply_locked(m, r, &d, 1);
            return;
        }
        for (i = 0; i < n; i++) {
            v[i]->scale_kill = 1;
            mar_sched_kill(m, v[i]);
        }
        mar_apply_reply(m, r, &c, 1, 1, 0);
        return;
    }
    w = agora_jw_new();
    if (w == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    agora_jw_obj_open(w);
    if (single) {
        agora_jw_key(w, "task");
        mar_json_task(m, w, v[0]);
    } else {
        agora_jw_key(w, "tasks");
        agora_jw_arr_open(w);
        for (i = 0; i < n; i++)
            mar_json_task(m, w, v[i]);
        agora_jw_arr_close(w);
    }
    agora_jw_obj_close(w);
    for (i = 0; i < n; i++)
        mar_sched_kill(m, v[i]);
    mar_reply_jw(m, r, 200, w);
    agora_jw_free(w);
    mar_sched_dirty(m, a);
}

static int scale_wipe_ok(struct mar *m, struct agora_req *r, int *scale)
{
    int wipe = mar_query_bool(m, r, "wipe", 0);

    *scale = mar_query_bool(m, r, "scale", 0);
    if (*scale && wipe) {
        mar_reply_msg(m, r, 400, "You cannot use scale and wipe at the same "
                      "time.");
        return 0;
    }
    return 1;
}

void mar_h_app_tasks_kill(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    const char *host = m->api->req_query(r, "host", 0);
    struct mar_inst **v;
    struct mar_rapp *a;
    size_t i, n = 0;
    int scale;

    if (!mar_http_ready(m, r) || !scale_wipe_ok(m, r, &scale) ||
        (a = path_app(m, r)) == NULL)
        return;
    v = calloc(a->ninst + 1, sizeof(*v));
    if (v == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    for (i = 0; i < a->ninst; i++) {
        if (host == NULL || (a->inst[i]->host &&
                             strcmp(a->inst[i]->host, host) == 0))
            v[n++] = a->inst[i];
    }
    mar_kill_tasks(m, r, a, v, n, scale, mar_query_bool(m, r, "force", 0), 0);
    free(v);
}

void mar_h_app_task_kill(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    const char *tid = m->api->req_param(r, "task");
    struct mar_inst *in;
    struct mar_rapp *a;
    int scale;

    if (!mar_http_ready(m, r) || !scale_wipe_ok(m, r, &scale) ||
        (a = path_app(m, r)) == NULL)
        return;
    in = tid ? agora_map_get(&m->tasks, tid) : NULL;
    if (in == NULL || in->app != a) {
        mar_reply_msg(m, r, 404, "Task '%s' does not exist", tid ? tid : "");
        return;
    }
    mar_kill_tasks(m, r, a, &in, 1, scale, mar_query_bool(m, r, "force", 0),
                   1);
}

/* ---- versions ---- */

struct versions_req {
    struct agora_pending pend;
    struct mar *m;
    struct agora_req *r;
    char *id;
};

static void versions_req_free(struct agora_pending *p)
{
    struct versions_req *q = (struct versions_req *)p;

    free(q->id);
    free(q);
}

static void versions_listed(void *arg, int err,
                            const struct agora_store_result *res)
{
    struct versions_req *q = arg;
    struct agora_jw *w = agora_jw_new();
    size_t i;

    agora_pending_del(&q->pend);
    if (w == NULL) {
        mar_reply_msg(q->m, q->r, 503, "out of memory");
    } else if (err != 0 && err != AGORA_ENOENT) {
        mar_reply_msg(q->m, q->r, 503, "cannot read the store: %s",
                      q->m->api->strerror(err));
    } else {
        agora_jw_obj_open(w);
        agora_jw_key(w, "versions");
        agora_jw_arr_open(w);
        for (i = err == 0 ? res->nnames : 0; i-- > 0;)
            agora_jw_str(w, res->names[i]); /* newest first */
        agora_jw_arr_close(w);
        agora_jw_obj_close(w);
        mar_reply_jw(q->m, q->r, 200, w);
    }
    agora_jw_free(w);
    free(q->id);
    free(q);
}

static void version_read(void *arg, int err,
                         const struct agora_store_result *res)
{
    struct versions_req *q = arg;

    agora_pending_del(&q->pend);
    if (err == 0 && res->value)
        q->m->api->reply(q->r, 200, NULL, res->value, res->len);
    else
        mar_reply_msg(q->m, q->r, 404, "Version does not exist for app '%s'",
                      q->id);
    free(q->id);
    free(q);
}

static void versions_start(struct mar *m, struct agora_req *r, int one)
{
    const char *ver = m->api->req_param(r, "version");
    struct versions_req *q;
    struct mar_rapp *a;
    char *key = NULL;
    double t;
    int rc;

    if (!mar_http_ready(m, r) || (a = path_app(m, r)) == NULL)
        return;
    if (one && (ver == NULL || mar_time_parse(ver, &t) != 0)) {
        mar_reply_msg(m, r, 404, "Version does not exist for app '%s'",
                      a->def->id);
        return;
    }
    q = calloc(1, sizeof(*q));
    if (q == NULL || (q->id = strdup(a->def->id)) == NULL ||
        (one ? asprintf(&key, "versions/%s/%s", a->key, ver)
             : asprintf(&key, "versions/%s", a->key)) < 0) {
        if (q)
            free(q->id);
        free(q);
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    q->m = m;
    q->r = r;
    agora_pending_add(&m->pend, &q->pend, versions_req_free);
    rc = m->api->defer(r);
    mar_store_flush(m);
    if (rc == 0)
        rc = one ? m->api->store_get(m->h, key, version_read, q)
                 : m->api->store_list(m->h, key, versions_listed, q);
    if (rc != 0) {
        agora_pending_del(&q->pend);
        versions_req_free(&q->pend);
        mar_reply_msg(m, r, 503, "cannot read the store");
    }
    free(key);
}

void mar_h_app_versions(void *st, struct agora_req *r)
{
    versions_start(MAR(st), r, 0);
}

void mar_h_app_version(void *st, struct agora_req *r)
{
    versions_start(MAR(st), r, 1);
}

/* ---- the text/plain task list of old load balancers ---- */

static void plain_line(struct mar *m, FILE *f, const struct mar_rapp *a,
                       size_t port_i, long service_port)
{
    size_t i;
    char *safe = mar_id_safe(a->def->id);

    (void)m;
    fprintf(f, "%s\t", safe ? safe : a->def->id);
    if (service_port >= 0)
        fprintf(f, "%ld\t", service_port);
    else
        fprintf(f, " \t");
    for (i = 0; i < a->ninst; i++) {
        const struct mar_inst *in = a->inst[i];

        if (in->state != AGORA_TASK_RUNNING)
            continue;
        if (service_port >= 0 && port_i < in->nports)
            fprintf(f, "%s:%u\t", in->host ? in->host : "", in->ports[port_i]);
        else if (service_port < 0)
            fprintf(f, "%s ", in->host ? in->host : "");
    }
    fputc('\n', f);
    free(safe);
}

static void write_tasks_plain(struct mar *m, struct agora_req *r,
                              struct mar_rapp **apps, size_t napps)
{
    char *buf = NULL;
    size_t len = 0, i, j;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    for (i = 0; i < napps; i++) {
        const struct mar_app *d = apps[i]->def;
        size_t np = d->bridge ? d->nport_mappings : d->nport_defs;

        if (np == 0)
            plain_line(m, f, apps[i], 0, -1);
        for (j = 0; j < np; j++)
            plain_line(m, f, apps[i], j,
                       d->bridge ? d->port_mappings[j].service_port
                                 : d->port_defs[j].port);
    }
    if (fclose(f) != 0 || buf == NULL) {
        free(buf);
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    m->api->reply(r, 200, "text/plain", buf, len);
    free(buf);
}

void mar_tasks_plain(struct mar *m, struct agora_req *r)
{
    size_t n;
    struct mar_rapp **v = apps_sorted(m, &n);

    if (v == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    write_tasks_plain(m, r, v, n);
    free(v);
}
