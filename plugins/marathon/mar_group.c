/*
 * mar_group.c - groups: their records and the dependency graph
 * (marathon-api.md §3.9).
 *
 * Apps nest in groups by their ids ("/prod/db" is in "/prod"); a group
 * needs a record only for what its apps do not say: its dependencies,
 * and its existence while it holds no app. Dependencies name apps or
 * groups; a group's dependencies hold for every app under it. The level
 * of an app in that graph orders a deployment's steps: what others
 * depend on starts first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marathon.h"

char *mar_group_key(const char *id)
{
    if (id == NULL || strcmp(id, "/") == 0 || *id == '\0')
        return strdup("@root");
    return mar_state_key(id);
}

struct mar_group *mar_group_get(struct mar *m, const char *id)
{
    return agora_map_get(&m->groups, id);
}

static void group_free(struct mar_group *g)
{
    size_t i;

    if (g == NULL)
        return;
    for (i = 0; i < g->ndeps; i++)
        free(g->deps[i]);
    free(g->deps);
    free(g->id);
    free(g->version);
    free(g);
}

static void group_write(struct agora_jw *w, const struct mar_group *g)
{
    size_t i;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", g->id);
    agora_jw_key(w, "dependencies");
    agora_jw_arr_open(w);
    for (i = 0; i < g->ndeps; i++)
        agora_jw_str(w, g->deps[i]);
    agora_jw_arr_close(w);
    agora_jw_kstr(w, "version", g->version);
    agora_jw_obj_close(w);
}

static void stored(void *arg, int err, const struct agora_store_result *r)
{
    struct mar *m = arg;

    (void)r;
    if (err != 0 && err != AGORA_ENOENT)
        MAR_LOG(m, AGORA_LOG_WARN, "group write failed: %s",
                m->api->strerror(err));
}

static void group_save(struct mar *m, const struct mar_group *g)
{
    struct agora_jw *w = agora_jw_new();
    char *gk = mar_group_key(g->id), *key = NULL;
    const char *doc;
    size_t len;

    if (w && gk && asprintf(&key, "groups/%s", gk) >= 0) {
        group_write(w, g);
        doc = agora_jw_result(w, &len);
        if (doc)
            mar_store_put(m, key, doc, len, stored, m);
    }
    free(key);
    free(gk);
    agora_jw_free(w);
}

int mar_group_set(struct mar *m, const char *id, char *const *deps,
                  size_t ndeps, const char *version)
{
    struct mar_group *g = calloc(1, sizeof(*g)), *old;
    size_t i;

    if (g == NULL)
        return AGORA_ENOMEM;
    g->id = strdup(id);
    g->version = version ? strdup(version) : NULL;
    g->deps = calloc(ndeps + 1, sizeof(*g->deps));
    if (!g->id || !g->deps || (version && !g->version)) {
        group_free(g);
        return AGORA_ENOMEM;
    }
    for (; g->ndeps < ndeps; g->ndeps++) {
        g->deps[g->ndeps] = strdup(deps[g->ndeps]);
        if (g->deps[g->ndeps] == NULL) {
            group_free(g);
            return AGORA_ENOMEM;
        }
    }
    old = agora_map_get(&m->groups, id);
    if (agora_map_put(&m->groups, id, g) < 0) {
        group_free(g);
        return AGORA_ENOMEM;
    }
    group_free(old);
    (void)i;
    group_save(m, g);
    return 0;
}

void mar_group_remove_tree(struct mar *m, const char *id)
{
    struct mar_group *g, **v;
    size_t i = 0, n = 0, j;
    char *gk, *key;

    v = calloc(m->groups.n + 1, sizeof(*v));
    if (v == NULL)
        return;
    while ((g = agora_map_next(&m->groups, &i)) != NULL) {
        if (strcmp(g->id, id) == 0 || strcmp(id, "/") == 0 ||
            mar_id_under(g->id, id))
            v[n++] = g;
    }
    for (j = 0; j < n; j++) {
        gk = mar_group_key(v[j]->id);
        key = NULL;
        mar_store_flush(m);
        if (gk && asprintf(&key, "groups/%s", gk) >= 0)
            m->api->store_delete(m->h, key, AGORA_STORE_ANY, stored, m);
        free(key);
        free(gk);
        agora_map_del(&m->groups, v[j]->id);
        group_free(v[j]);
    }
    free(v);
}

int mar_group_exists(struct mar *m, const char *id)
{
    return strcmp(id, "/") == 0 || mar_group_get(m, id) ||
           mar_index_apps_under(m, id) > 0;
}

void mar_group_free_all(struct mar *m)
{
    struct mar_group *g;
    size_t i = 0;

    while ((g = agora_map_next(&m->groups, &i)) != NULL)
        group_free(g);
    agora_map_free(&m->groups);
}

/* ---- loading ---- */

struct load_ctx {
    struct agora_pending pend;
    struct mar *m;
    void (*done)(struct mar *m);
};

static void load_ctx_free(struct agora_pending *p)
{
    free(p);
}

static struct mar_group *group_parse(const char *json)
{
    yajl_val v = agora_json_parse(json, NULL, 0), deps;
    struct mar_group *g = NULL;
    const char *id, *ver;
    size_t i;

    if (v == NULL)
        return NULL;
    id = agora_json_get_str(v, "id");
    ver = agora_json_get_str(v, "version");
    deps = agora_json_get(v, "dependencies");
    if (id && (g = calloc(1, sizeof(*g))) != NULL) {
        g->id = strdup(id);
        g->version = ver ? strdup(ver) : NULL;
        if (YAJL_IS_ARRAY(deps))
            g->deps = calloc(deps->u.array.len + 1, sizeof(*g->deps));
        for (i = 0; g->deps && i < deps->u.array.len; i++) {
            const char *d = YAJL_GET_STRING(deps->u.array.values[i]);

            if (d && (g->deps[g->ndeps] = strdup(d)) != NULL)
                g->ndeps++;
        }
        if (g->id == NULL) {
            group_free(g);
            g = NULL;
        }
    }
    yajl_tree_free(v);
    return g;
}

static void loaded(void *arg, int err, const struct agora_store_result *r)
{
    struct load_ctx *c = arg;
    struct mar *m = c->m;
    size_t i;

    agora_pending_del(&c->pend);
    for (i = 0; err == 0 && i < r->nentries; i++) {
        struct mar_group *g = group_parse(r->entries[i].value);

        if (g == NULL || agora_map_put(&m->groups, g->id, g) < 0) {
            MAR_LOG(m, AGORA_LOG_ERROR, "group %s in the store is invalid",
                    r->entries[i].name);
            group_free(g);
        }
    }
    if (err != 0 && err != AGORA_ENOENT)
        MAR_LOG(m, AGORA_LOG_ERROR, "cannot read groups: %s",
                m->api->strerror(err));
    c->done(m);
    free(c);
}

void mar_group_load(struct mar *m, void (*done)(struct mar *m))
{
    struct load_ctx *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        done(m);
        return;
    }
    c->m = m;
    c->done = done;
    agora_pending_add(&m->pend, &c->pend, load_ctx_free);
    if (m->api->store_get_children(m->h, "groups", loaded, c) != 0) {
        agora_pending_del(&c->pend);
        free(c);
        done(m);
    }
}

/* ---- the dependency graph ---- */

/* One app of the world after the changes. */
struct node {
    const char *id;
    char *const *deps;
    size_t ndeps;
    size_t level;
};

/* The dependencies of node x's groups: each ancestor's record. */
static void group_deps_of(struct mar *m, const char *id,
                          const struct mar_group *extra, size_t nextra,
                          void (*fn)(void *arg, const char *dep), void *arg)
{
    char *p = strdup(id), *slash;
    struct mar_group *g;
    size_t i, j;

    while (p && (slash = strrchr(p, '/')) != NULL && slash != p) {
        *slash = '\0';
        g = NULL;
        for (j = 0; j < nextra; j++) {
            if (strcmp(extra[j].id, p) == 0)
                g = (struct mar_group *)&extra[j];
        }
        if (g == NULL)
            g = mar_group_get(m, p);
        for (i = 0; g && i < g->ndeps; i++)
            fn(arg, g->deps[i]);
    }
    free(p);
}

struct relax {
    struct node *v;
    size_t n;
    size_t self;
    int changed;
};

/* x depends on dep (an app or a group): its level rises above theirs. */
static void relax_dep(void *arg, const char *dep)
{
    struct relax *r = arg;
    struct node *x = &r->v[r->self];
    size_t j;

    for (j = 0; j < r->n; j++) {
        if (j == r->self)
            continue;
        if (strcmp(r->v[j].id, dep) == 0 || mar_id_under(r->v[j].id, dep)) {
            if (x->level < r->v[j].level + 1) {
                x->level = r->v[j].level + 1;
                r->changed = 1;
            }
        }
    }
}

static int any_deps(struct mar *m, const struct node *v, size_t n,
                    size_t nextra)
{
    struct mar_group *g;
    size_t i = 0;

    if (nextra > 0)
        return 1;
    for (i = 0; i < n; i++) {
        if (v[i].ndeps > 0)
            return 1;
    }
    i = 0;
    while ((g = agora_map_next(&m->groups, &i)) != NULL) {
        if (g->ndeps > 0)
            return 1;
    }
    return 0;
}

/* 1 when nothing in the world after the changes can name a dependency:
 * no app (the index counts them), no change's target, no group record
 * has any. Then every level is 0 without building the world, which
 * costs O(apps) a change. */
static int no_deps(struct mar *m, const struct mar_change *c, size_t n,
                   size_t nextra)
{
    struct mar_group *g;
    size_t i;

    if (nextra > 0 || m->ndeps_apps > 0)
        return 0;
    for (i = 0; i < n; i++) {
        if (c[i].target && c[i].target->ndependencies > 0)
            return 0;
    }
    i = 0;
    while ((g = agora_map_next(&m->groups, &i)) != NULL) {
        if (g->ndeps > 0)
            return 0;
    }
    return 1;
}

int mar_group_levels(struct mar *m, const struct mar_change *c, size_t n,
                     const struct mar_group *extra, size_t nextra,
                     size_t *levels)
{
    struct node *v;
    struct mar_rapp *a;
    struct relax r;
    size_t i = 0, j, nv = 0, round;
    int rc = 0;

    if (no_deps(m, c, n, nextra)) {
        for (j = 0; j < n; j++)
            levels[j] = 0;
        return 0;
    }
    v = calloc(m->apps.n + n + 1, sizeof(*v));
    if (v == NULL)
        return AGORA_ENOMEM;
    /* The world: every app not changed, then every change's target. */
    while ((a = agora_map_next(&m->apps, &i)) != NULL) {
        for (j = 0; j < n && strcmp(c[j].id, a->def->id) != 0; j++)
            ;
        if (j < n)
            continue;
        v[nv].id = a->def->id;
        v[nv].deps = a->def->dependencies;
        v[nv].ndeps = a->def->ndependencies;
        nv++;
    }
    for (j = 0; j < n; j++) {
        levels[j] = 0;
        if (c[j].target == NULL)
            continue;
        v[nv].id = c[j].id;
        v[nv].deps = c[j].target->dependencies;
        v[nv].ndeps = c[j].target->ndependencies;
        nv++;
    }
    if (!any_deps(m, v, nv, nextra))
        goto out;
    /* Longest paths by relaxation: a level can only grow, and without a
     * cycle none exceeds nv - 1, so a change after nv rounds is a cycle. */
    r.v = v;
    r.n = nv;
    for (round = 0; round <= nv; round++) {
        r.changed = 0;
        for (r.self = 0; r.self < nv; r.self++) {
            for (j = 0; j < v[r.self].ndeps; j++)
                relax_dep(&r, v[r.self].deps[j]);
            group_deps_of(m, v[r.self].id, extra, nextra, relax_dep, &r);
        }
        if (!r.changed)
            break;
    }
    if (r.changed) {
        rc = AGORA_EINVAL;
        goto out;
    }
    for (j = 0; j < n; j++) {
        for (i = 0; i < nv; i++) {
            if (strcmp(v[i].id, c[j].id) == 0)
                levels[j] = v[i].level;
        }
    }
out:
    free(v);
    return rc;
}
