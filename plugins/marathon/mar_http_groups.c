/*
 * mar_http_groups.c - /v2/groups (marathon-api.md §1.2, §3.9).
 *
 * A GroupUpdate ({id, apps, groups, dependencies}, nested) is flattened
 * into the apps it defines and the group records it implies, ids made
 * absolute against their parents, then applied as one deployment: POST
 * creates, PUT replaces the subtree (apps left out are stopped), DELETE
 * stops every app under the group. {"scaleBy": x} and {"version": ts}
 * alone are the two special PUTs; ?dryRun=true answers the plan only.
 * Every version of a group put through here is kept (the body as sent),
 * so that a version can be rolled back to.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marathon.h"

#define MAR(st) ((struct mar *)(st))

/* ---- flattening a GroupUpdate ---- */

struct flat {
    struct mar_change *apps;
    size_t napps, capapps;
    struct mar_group *groups;
    size_t ngroups, capgroups;
    struct mar_errs e;
};

static void flat_free(struct flat *f)
{
    size_t i, j;

    for (i = 0; i < f->napps; i++) {
        mar_app_free(f->apps[i].target);
        free((char *)f->apps[i].id);
    }
    free(f->apps);
    for (i = 0; i < f->ngroups; i++) {
        for (j = 0; j < f->groups[i].ndeps; j++)
            free(f->groups[i].deps[j]);
        free(f->groups[i].deps);
        free(f->groups[i].id);
    }
    free(f->groups);
    mar_errs_free(&f->e);
}

static int flat_app(struct flat *f, struct mar_app *a)
{
    if (f->napps == f->capapps) {
        size_t cap = f->capapps ? f->capapps * 2 : 8;
        struct mar_change *v = realloc(f->apps, cap * sizeof(*v));

        if (v == NULL)
            return AGORA_ENOMEM;
        f->apps = v;
        f->capapps = cap;
    }
    memset(&f->apps[f->napps], 0, sizeof(*f->apps));
    f->apps[f->napps].id = strdup(a->id);
    f->apps[f->napps].target = a;
    if (f->apps[f->napps].id == NULL)
        return AGORA_ENOMEM;
    f->napps++;
    return 0;
}

static struct mar_group *flat_group(struct flat *f, const char *id)
{
    struct mar_group *g;

    if (f->ngroups == f->capgroups) {
        size_t cap = f->capgroups ? f->capgroups * 2 : 8;
        struct mar_group *v = realloc(f->groups, cap * sizeof(*v));

        if (v == NULL)
            return NULL;
        f->groups = v;
        f->capgroups = cap;
    }
    g = &f->groups[f->ngroups];
    memset(g, 0, sizeof(*g));
    g->id = strdup(id);
    if (g->id == NULL)
        return NULL;
    f->ngroups++;
    return g;
}

/* Parent of a canonical id ("/a/b" -> "/a", "/a" -> "/"). */
static char *parent_of(const char *id)
{
    const char *slash = strrchr(id, '/');

    if (slash == NULL || slash == id)
        return strdup("/");
    return strndup(id, (size_t)(slash - id));
}

struct pending {
    yajl_val v;
    char *id;     /* the group's canonical id */
    char *path;   /* its JSON path for errors ("" at the top) */
};

/* One group node: its record, its apps; its subgroups onto the stack. */
static int flat_node(struct flat *f, struct pending *p, struct pending **stack,
                     size_t *n, size_t *cap)
{
    yajl_val deps = agora_json_get(p->v, "dependencies");
    yajl_val apps = agora_json_get(p->v, "apps");
    yajl_val groups = agora_json_get(p->v, "groups");
    struct mar_group *g = flat_group(f, p->id);
    char *parent = parent_of(p->id), path[64];
    size_t i;

    if (g == NULL || parent == NULL) {
        free(parent);
        return AGORA_ENOMEM;
    }
    if (YAJL_IS_ARRAY(deps)) {
        g->deps = calloc(deps->u.array.len + 1, sizeof(*g->deps));
        for (i = 0; g->deps && i < deps->u.array.len; i++) {
            const char *d = YAJL_GET_STRING(deps->u.array.values[i]);
            char *abs = d ? mar_id_resolve(parent, d, NULL) : NULL;

            if (abs == NULL)
                mar_errs_add(&f->e, "/dependencies", "invalid dependency");
            else
                g->deps[g->ndeps++] = abs;
        }
    }
    free(parent);
    for (i = 0; YAJL_IS_ARRAY(apps) && i < apps->u.array.len; i++) {
        char prefix[512];
        struct mar_app *a;

        snprintf(prefix, sizeof(prefix), "%s/apps(%zu)", p->path, i);
        a = mar_app_parse(apps->u.array.values[i], p->id, NULL, prefix, &f->e);
        if (a && !mar_id_under(a->id, p->id)) {
            mar_errs_add(&f->e, prefix, "identifier %s is not child of %s. "
                         "Hint: use relative paths.", a->id, p->id);
            mar_app_free(a);
        } else if (a && flat_app(f, a) != 0) {
            mar_app_free(a);
            return AGORA_ENOMEM;
        }
    }
    for (i = 0; YAJL_IS_ARRAY(groups) && i < groups->u.array.len; i++) {
        yajl_val gv = groups->u.array.values[i];
        const char *raw = agora_json_get_str(gv, "id");
        char *id = raw ? mar_id_resolve(p->id, raw, NULL) : NULL;

        snprintf(path, sizeof(path), "/groups(%zu)", i);
        if (id == NULL || !mar_id_under(id, p->id)) {
            mar_errs_add(&f->e, path, "identifier %s is not child of %s. "
                         "Hint: use relative paths.", raw ? raw : "", p->id);
            free(id);
            continue;
        }
        if (*n == *cap) {
            size_t c = *cap * 2;
            struct pending *v = realloc(*stack, c * sizeof(*v));

            if (v == NULL) {
                free(id);
                return AGORA_ENOMEM;
            }
            *stack = v;
            *cap = c;
        }
        (*stack)[*n].v = gv;
        (*stack)[*n].id = id;
        (*stack)[*n].path = NULL;
        if (asprintf(&(*stack)[*n].path, "%s%s", p->path, path) < 0) {
            free(id);
            return AGORA_ENOMEM;
        }
        (*n)++;
    }
    return 0;
}

/* Flattens the tree rooted at v (the group `id`), without recursion: the
 * JSON may nest as deep as the parser allows. */
static int flatten(struct flat *f, yajl_val v, const char *id)
{
    size_t n = 1, cap = 16;
    struct pending *stack = calloc(cap, sizeof(*stack)), p;
    int rc = 0;

    if (stack == NULL)
        return AGORA_ENOMEM;
    stack[0].v = v;
    stack[0].id = strdup(id);
    stack[0].path = strdup("");
    if (!stack[0].id || !stack[0].path)
        rc = AGORA_ENOMEM;
    while (rc == 0 && n > 0) {
        p = stack[--n];
        if (!YAJL_IS_OBJECT(p.v)) {
            mar_errs_add(&f->e, *p.path ? p.path : "/",
                         "error.expected.jsobject");
            f->e.json = 1;
        } else {
            rc = flat_node(f, &p, &stack, &n, &cap);
        }
        free(p.id);
        free(p.path);
    }
    while (n > 0) {
        free(stack[--n].id);
        free(stack[n].path);
    }
    free(stack);
    return rc;
}

/* ---- shared ---- */

/* The group id of the route ("/" without one), canonical; NULL after a
 * reply. */
static char *group_id(struct mar *m, struct agora_req *r)
{
    const char *raw = m->api->req_param(r, "id");
    char *id = mar_id_resolve("/", raw ? raw : "/", NULL);

    if (id == NULL)
        mar_reply_msg(m, r, 404, "Group '%s' does not exist", raw ? raw : "");
    return id;
}

/* The body's own id, resolved against the route's group. */
static char *body_group_id(const char *route_id, yajl_val v)
{
    const char *raw = agora_json_get_str(v, "id");

    if (raw == NULL || *raw == '\0')
        return strdup(route_id);
    return mar_id_resolve(route_id, raw, NULL);
}

/* Stores the body as this group's version, for rollback. */
static void save_version(struct mar *m, const char *id, const char *version,
                         struct agora_req *r)
{
    size_t len;
    const char *body = m->api->req_body(r, &len);
    char *gk = mar_group_key(id), *key = NULL;

    if (gk && asprintf(&key, "groupversions/%s/%s", gk, version) >= 0)
        mar_store_put(m, key, body, len, NULL, NULL);
    free(key);
    free(gk);
}

/* Records every group of f (with the version), then applies its apps
 * plus `stops` as one deployment and replies. */
static void flat_apply(struct mar *m, struct agora_req *r, struct flat *f,
                       struct mar_change *extra, size_t nextra, int force,
                       int status, const char *top, int replace)
{
    struct mar_change *c = calloc(f->napps + nextra + 1, sizeof(*c));
    size_t *levels = calloc(f->napps + nextra + 1, sizeof(*levels));
    char version[32], *loc = NULL;
    size_t i, n = 0;
    int rc;

    if (c == NULL || levels == NULL) {
        free(c);
        free(levels);
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    for (i = 0; i < f->napps; i++)
        c[n++] = f->apps[i];
    for (i = 0; i < nextra; i++)
        c[n++] = extra[i];
    rc = mar_group_levels(m, c, n, f->groups, f->ngroups, levels);
    free(levels);
    if (rc == AGORA_EINVAL) {
        free(c);
        mar_reply_cycle(m, r);
        return;
    }
    mar_version_now(m, version);
    if (replace) /* the subtree's records give way to the body's */
        mar_group_remove_tree(m, top);
    for (i = 0; i < f->ngroups; i++)
        mar_group_set(m, f->groups[i].id, f->groups[i].deps,
                      f->groups[i].ndeps, version);
    save_version(m, top, version, r);
    /* mar_apply takes the targets. */
    for (i = 0; i < f->napps; i++)
        f->apps[i].target = NULL;
    if (status == 201 && asprintf(&loc, "/v2/groups%s", top) >= 0)
        m->api->reply_header(r, "Location", loc);
    free(loc);
    mar_apply_reply(m, r, c, n, force, status == 201
                                           ? MAR_ANSWER_RESULT_CREATED
                                           : MAR_ANSWER_RESULT);
    free(c);
}

/* Stops for every app under `group` that the flat tree does not name. */
static size_t left_out(struct mar *m, const char *group, const struct flat *f,
                       struct mar_change **out)
{
    struct mar_rapp *a;
    size_t i = 0, j, n = 0;

    *out = calloc(m->apps.n + 1, sizeof(**out));
    if (*out == NULL)
        return 0;
    while ((a = agora_map_next(&m->apps, &i)) != NULL) {
        if (strcmp(group, "/") != 0 && !mar_id_under(a->def->id, group))
            continue;
        for (j = 0; j < f->napps && strcmp(f->apps[j].id, a->def->id); j++)
            ;
        if (j == f->napps)
            (*out)[n++].id = a->def->id;
    }
    return n;
}

/* ---- POST ---- */

void mar_h_groups_create(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    struct flat f = {0};
    char *route, *id = NULL;
    yajl_val v;
    size_t i;

    if (!mar_http_ready(m, r) || (route = group_id(m, r)) == NULL)
        return;
    if ((v = mar_http_body(m, r)) == NULL) {
        free(route);
        return;
    }
    id = body_group_id(route, v);
    if (id == NULL || strcmp(id, "/") == 0) {
        mar_reply_msg(m, r, 422, "Invalid group id");
        goto out;
    }
    if (mar_group_exists(m, id)) {
        mar_reply_msg(m, r, 409, "Group %s is already created. Use PUT to "
                      "change this group.", id);
        goto out;
    }
    if (mar_state_app(m, id)) {
        mar_reply_msg(m, r, 409, "An app with the path %s already exists.",
                      id);
        goto out;
    }
    if (flatten(&f, v, id) != 0) {
        mar_reply_msg(m, r, 503, "out of memory");
        goto out;
    }
    if (f.e.n > 0) {
        mar_reply_errs(m, r, &f.e);
        goto out;
    }
    for (i = 0; i < f.napps; i++) {
        if (mar_state_app(m, f.apps[i].id)) {
            mar_reply_msg(m, r, 409, "An app with id [%s] already exists.",
                          f.apps[i].id);
            goto out;
        }
    }
    flat_apply(m, r, &f, NULL, 0, mar_query_bool(m, r, "force", 0), 201, id,
               0);
out:
    flat_free(&f);
    yajl_tree_free(v);
    free(id);
    free(route);
}

/* ---- PUT ---- */

static void groups_scale(struct mar *m, struct agora_req *r, const char *id,
                         double by, int force)
{
    struct mar_change *c = calloc(m->apps.n + 1, sizeof(*c));
    struct mar_rapp *a;
    size_t i = 0, n = 0;

    if (c == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    while ((a = agora_map_next(&m->apps, &i)) != NULL) {
        if (strcmp(id, "/") != 0 && !mar_id_under(a->def->id, id))
            continue;
        c[n].id = a->def->id;
        c[n].target = mar_app_dup(a->def);
        if (c[n].target == NULL)
            break;
        c[n].target->instances = (int)ceil(a->def->instances * by - 1e-9);
        n++;
    }
    mar_apply_reply(m, r, c, n, force, 0);
    free(c);
}

struct group_rollback {
    struct agora_pending pend;
    struct mar *m;
    struct agora_req *r;
    char *id;
    int force;
};

static void group_rollback_free(struct agora_pending *p)
{
    struct group_rollback *g = (struct group_rollback *)p;

    free(g->id);
    free(g);
}

static void group_put_body(struct mar *m, struct agora_req *r, const char *id,
                           yajl_val v, int force, int dry);

static void rollback_read(void *arg, int err,
                          const struct agora_store_result *res)
{
    struct group_rollback *g = arg;
    yajl_val v = NULL;

    agora_pending_del(&g->pend);
    if (err == 0 && res->value)
        v = agora_json_parse(res->value, NULL, 0);
    if (v == NULL)
        mar_reply_msg(g->m, g->r, 404, "Group %s does not exist in version",
                      g->id);
    else
        group_put_body(g->m, g->r, g->id, v, g->force, 0);
    yajl_tree_free(v);
    free(g->id);
    free(g);
}

static void groups_rollback(struct mar *m, struct agora_req *r, const char *id,
                            const char *version, int force)
{
    struct group_rollback *g = calloc(1, sizeof(*g));
    char *gk = mar_group_key(id), *key = NULL;
    double t;

    if (mar_time_parse(version, &t) != 0) {
        mar_reply_msg(m, r, 404, "Group %s does not exist in version %s", id,
                      version);
    } else if (g == NULL || gk == NULL || (g->id = strdup(id)) == NULL ||
               asprintf(&key, "groupversions/%s/%s", gk, version) < 0) {
        mar_reply_msg(m, r, 503, "out of memory");
    } else {
        g->m = m;
        g->r = r;
        g->force = force;
        agora_pending_add(&m->pend, &g->pend, group_rollback_free);
        mar_store_flush(m);
        if (m->api->defer(r) == 0 &&
            m->api->store_get(m->h, key, rollback_read, g) == 0)
            g = NULL;
        else {
            agora_pending_del(&g->pend);
            mar_reply_msg(m, r, 503, "cannot read the store");
        }
    }
    if (g)
        free(g->id);
    free(g);
    free(gk);
    free(key);
}

static void group_put_body(struct mar *m, struct agora_req *r, const char *id,
                           yajl_val v, int force, int dry)
{
    struct flat f = {0};
    struct mar_change *stops = NULL, *c = NULL;
    struct agora_jw *w;
    size_t nstops, i, n = 0;

    if (flatten(&f, v, id) != 0) {
        mar_reply_msg(m, r, 503, "out of memory");
        goto out;
    }
    if (f.e.n > 0) {
        mar_reply_errs(m, r, &f.e);
        goto out;
    }
    nstops = left_out(m, id, &f, &stops);
    if (!dry) {
        flat_apply(m, r, &f, stops, nstops, force, 200, id, 1);
        goto out;
    }
    c = calloc(f.napps + nstops + 1, sizeof(*c));
    w = agora_jw_new();
    if (c == NULL || w == NULL) {
        agora_jw_free(w);
        mar_reply_msg(m, r, 503, "out of memory");
        goto out;
    }
    for (i = 0; i < f.napps; i++)
        c[n++] = f.apps[i];
    for (i = 0; i < nstops; i++)
        c[n++] = stops[i];
    if (mar_apply_plan(m, c, n, w) == AGORA_EINVAL)
        mar_reply_cycle(m, r);
    else
        mar_reply_jw(m, r, 200, w);
    agora_jw_free(w);
out:
    free(c);
    free(stops);
    flat_free(&f);
}

void mar_h_groups_put(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    int force = mar_query_bool(m, r, "force", 0);
    const char *ver;
    char *route, *id = NULL;
    double by;
    yajl_val v;

    if (!mar_http_ready(m, r) || (route = group_id(m, r)) == NULL)
        return;
    if ((v = mar_http_body(m, r)) == NULL) {
        free(route);
        return;
    }
    ver = agora_json_get_str(v, "version");
    id = body_group_id(route, v);
    if (id == NULL)
        mar_reply_msg(m, r, 422, "Invalid group id");
    else if (ver)
        groups_rollback(m, r, id, ver, force);
    else if (agora_json_num(v, "scaleBy", &by) == 0)
        groups_scale(m, r, id, by, force);
    else
        group_put_body(m, r, id, v, force,
                       mar_query_bool(m, r, "dryRun", 0));
    yajl_tree_free(v);
    free(id);
    free(route);
}

/* ---- DELETE ---- */

void mar_h_groups_delete(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    struct flat f = {0};
    struct mar_change *stops = NULL;
    size_t n;
    char *id;

    if (!mar_http_ready(m, r) || (id = group_id(m, r)) == NULL)
        return;
    if (!mar_group_exists(m, id)) {
        mar_reply_msg(m, r, 404, "Group '%s' does not exist", id);
        free(id);
        return;
    }
    n = left_out(m, id, &f, &stops);
    mar_group_remove_tree(m, id);
    mar_apply_reply(m, r, stops, n, mar_query_bool(m, r, "force", 0), 0);
    free(stops);
    free(id);
}

/* ---- GET ---- */

struct ginfo_embed {
    int groups, apps;
    unsigned app_embed;
};

static void embed_of(struct mar *m, struct agora_req *r, struct ginfo_embed *e)
{
    const char *s;
    size_t i;
    int any = 0;

    memset(e, 0, sizeof(*e));
    for (i = 0; (s = m->api->req_query(r, "embed", i)) != NULL; i++) {
        any = 1;
        if (strcmp(s, "group.groups") == 0)
            e->groups = 1;
        else if (strcmp(s, "group.apps") == 0)
            e->apps = 1;
        else if (strcmp(s, "group.apps.tasks") == 0)
            e->app_embed |= MAR_EMBED_TASKS;
        else if (strcmp(s, "group.apps.counts") == 0)
            e->app_embed |= MAR_EMBED_COUNTS;
        else if (strcmp(s, "group.apps.deployments") == 0)
            e->app_embed |= MAR_EMBED_DEPLOYMENTS;
        else if (strcmp(s, "group.apps.lastTaskFailure") == 0)
            e->app_embed |= MAR_EMBED_LAST_FAILURE;
        else if (strcmp(s, "group.apps.taskStats") == 0)
            e->app_embed |= MAR_EMBED_TASK_STATS;
        else if (strcmp(s, "group.apps.readiness") == 0)
            e->app_embed |= MAR_EMBED_READINESS;
    }
    if (!any)
        e->groups = e->apps = 1;
    if (e->app_embed)
        e->apps = 1;
}

/* The direct child group of `group` on the way to id, malloc'ed, or NULL
 * when id is a direct child (or not under group). */
static char *child_group(const char *group, const char *id)
{
    size_t gl = strcmp(group, "/") == 0 ? 0 : strlen(group);
    const char *rest, *slash;

    if (gl && (strncmp(id, group, gl) != 0 || id[gl] != '/'))
        return NULL;
    rest = id + gl + 1;
    slash = strchr(rest, '/');
    return slash ? strndup(id, (size_t)(slash - id)) : NULL;
}

static int str_in(char **v, size_t n, const char *s)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(v[i], s) == 0)
            return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* GroupInfo of id. Recursion follows the ids' depth, which their length
 * bounds (an app id is at most AGORA_ID_MAX bytes). */
static void write_group(struct mar *m, struct agora_jw *w, const char *id,
                        const struct ginfo_embed *e, int depth)
{
    struct mar_group *g = mar_group_get(m, id), *x;
    struct mar_rapp *a;
    char **kids = calloc(m->apps.n + m->groups.n + 1, sizeof(*kids)), *k;
    size_t i = 0, nk = 0, j;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", id);
    agora_jw_key(w, "apps");
    agora_jw_arr_open(w);
    while (e->apps && (a = agora_map_next(&m->apps, &i)) != NULL) {
        char *p = parent_of(a->def->id);

        if (p && strcmp(p, id) == 0)
            mar_json_app_info(m, w, a, e->app_embed | MAR_EMBED_COUNTS |
                                           MAR_EMBED_DEPLOYMENTS);
        free(p);
    }
    agora_jw_arr_close(w);
    agora_jw_key(w, "pods");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    /* Children: from app ids and from records. */
    for (i = 0; kids && (a = agora_map_next(&m->apps, &i)) != NULL;) {
        k = child_group(id, a->def->id);
        if (k && !str_in(kids, nk, k))
            kids[nk++] = k;
        else
            free(k);
    }
    for (i = 0; kids && (x = agora_map_next(&m->groups, &i)) != NULL;) {
        char *p = parent_of(x->id);

        k = p && strcmp(p, id) == 0 && strcmp(x->id, "/") ? strdup(x->id)
                                                          : child_group(id,
                                                                        x->id);
        free(p);
        if (k && !str_in(kids, nk, k))
            kids[nk++] = k;
        else
            free(k);
    }
    if (kids)
        qsort(kids, nk, sizeof(*kids), cmp_str);
    agora_jw_key(w, "groups");
    agora_jw_arr_open(w);
    for (j = 0; e->groups && depth < 64 && j < nk; j++)
        write_group(m, w, kids[j], e, depth + 1);
    agora_jw_arr_close(w);
    agora_jw_key(w, "dependencies");
    agora_jw_arr_open(w);
    for (j = 0; g && j < g->ndeps; j++)
        agora_jw_str(w, g->deps[j]);
    agora_jw_arr_close(w);
    agora_jw_kstr(w, "version", g && g->version ? g->version : NULL);
    agora_jw_obj_close(w);
    for (j = 0; j < nk; j++)
        free(kids[j]);
    free(kids);
}

void mar_h_groups_get(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    struct ginfo_embed e;
    struct agora_jw *w;
    char *id;

    if (!mar_http_ready(m, r) || (id = group_id(m, r)) == NULL)
        return;
    if (!mar_group_exists(m, id)) {
        mar_reply_msg(m, r, 404, "Group '%s' does not exist", id);
        free(id);
        return;
    }
    w = agora_jw_new();
    if (w == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        free(id);
        return;
    }
    embed_of(m, r, &e);
    write_group(m, w, id, &e, 0);
    mar_reply_jw(m, r, 200, w);
    agora_jw_free(w);
    free(id);
}

/* ---- versions ---- */

struct gver {
    struct agora_pending pend;
    struct mar *m;
    struct agora_req *r;
};

static void gver_free(struct agora_pending *p)
{
    free(p);
}

static void gversions_listed(void *arg, int err,
                             const struct agora_store_result *res)
{
    struct gver *q = arg;
    struct agora_jw *w = agora_jw_new();
    size_t i;

    agora_pending_del(&q->pend);
    if (w == NULL) {
        mar_reply_msg(q->m, q->r, 503, "out of memory");
    } else {
        agora_jw_arr_open(w);
        for (i = err == 0 ? res->nnames : 0; i-- > 0;)
            agora_jw_str(w, res->names[i]);
        agora_jw_arr_close(w);
        mar_reply_jw(q->m, q->r, 200, w);
    }
    agora_jw_free(w);
    free(q);
}

static void gversion_read(void *arg, int err,
                          const struct agora_store_result *res)
{
    struct gver *q = arg;

    agora_pending_del(&q->pend);
    if (err == 0 && res->value)
        q->m->api->reply(q->r, 200, NULL, res->value, res->len);
    else
        mar_reply_msg(q->m, q->r, 404, "Group version does not exist");
    free(q);
}

static void gversions(struct mar *m, struct agora_req *r, int one)
{
    const char *ver = m->api->req_param(r, "version");
    struct gver *q;
    char *id, *gk = NULL, *key = NULL;
    double t;
    int rc = -1;

    if (!mar_http_ready(m, r) || (id = group_id(m, r)) == NULL)
        return;
    if (one && (ver == NULL || mar_time_parse(ver, &t) != 0)) {
        mar_reply_msg(m, r, 404, "Group version does not exist");
        free(id);
        return;
    }
    q = calloc(1, sizeof(*q));
    gk = mar_group_key(id);
    if (q && gk &&
        (one ? asprintf(&key, "groupversions/%s/%s", gk, ver)
             : asprintf(&key, "groupversions/%s", gk)) >= 0) {
        q->m = m;
        q->r = r;
        agora_pending_add(&m->pend, &q->pend, gver_free);
        rc = m->api->defer(r);
        mar_store_flush(m);
        if (rc == 0)
            rc = one ? m->api->store_get(m->h, key, gversion_read, q)
                     : m->api->store_list(m->h, key, gversions_listed, q);
        if (rc != 0)
            agora_pending_del(&q->pend);
    }
    if (rc != 0) {
        free(q);
        mar_reply_msg(m, r, 503, "cannot read the store");
    }
    free(key);
    free(gk);
    free(id);
}

void mar_h_groups_versions(void *st, struct agora_req *r)
{
    gversions(MAR(st), r, 0);
}

void mar_h_groups_version(void *st, struct agora_req *r)
{
    gversions(MAR(st), r, 1);
}

/* PUT /v2/groups/{id}/versions/{version}: the rollback form older
 * clients (marathon-python's rollback_group) use. */
void mar_h_groups_version_put(void *st, struct agora_req *r)
{
    struct mar *m = MAR(st);
    const char *ver = m->api->req_param(r, "version");
    char *id;

    if (!mar_http_ready(m, r) || (id = group_id(m, r)) == NULL)
        return;
    groups_rollback(m, r, id, ver ? ver : "", mar_query_bool(m, r, "force", 0));
    free(id);
}
