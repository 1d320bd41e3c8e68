/*
 * mar_index.c - what the apps' definitions imply, kept as apps come,
 * change and go.
 *
 * Creating an app used to walk every app three times: its id against
 * every id (is it an app's ancestor, or under an app?), every app for
 * dependencies before ordering the deployment, and every app's port
 * definitions before assigning service ports; a third of a POST's time
 * with 1,000 apps. The index answers each in O(depth of the id) or
 * O(1):
 *
 *   under        group id -> how many apps lie under it ("/a" and
 *                "/a/b" for "/a/b/c"; the root is not kept)
 *   ndeps_apps   apps whose definition names dependencies
 *   svc_used     for each port of [local_port_min, local_port_max], how
 *                many definitions hold it as a service port
 *
 * mar_state.c calls mar_index_add()/mar_index_del() when an app enters
 * or leaves m->apps, and mar_index_def() around a definition it
 * replaces (the id stays, so only the definition's parts change).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "marathon.h"

int mar_index_init(struct mar *m)
{
    int64_t lo = m->conf->local_port_min, hi = m->conf->local_port_max;

    if (hi < lo)
        return 0;
    m->svc_used = calloc((size_t)(hi - lo + 1), sizeof(*m->svc_used));
    if (m->svc_used == NULL)
        return AGORA_ENOMEM;
    m->nsvc = (size_t)(hi - lo + 1);
    return 0;
}

void mar_index_free(struct mar *m)
{
    agora_map_free(&m->under);
    free(m->svc_used);
    m->svc_used = NULL;
    m->nsvc = 0;
    m->ndeps_apps = 0;
}

size_t mar_index_apps_under(const struct mar *m, const char *group)
{
    return (size_t)(uintptr_t)agora_map_get(&m->under, group);
}

/* Adds delta to the count of group [id, id + len); 0 or AGORA_ENOMEM. */
static int under_add(struct mar *m, const char *id, size_t len, int delta)
{
    char buf[256], *key = len < sizeof(buf) ? buf : malloc(len + 1);
    uintptr_t n;
    int rc = 0;

    if (key == NULL)
        return AGORA_ENOMEM;
    memcpy(key, id, len);
    key[len] = '\0';
    n = (uintptr_t)agora_map_get(&m->under, key);
    if (delta < 0 && n <= 1)
        agora_map_del(&m->under, key);
    else if (agora_map_put(&m->under, key,
                           (void *)(delta > 0 ? n + 1 : n - 1)) < 0)
        rc = AGORA_ENOMEM;
    if (key != buf)
        free(key);
    return rc;
}

/* Each proper ancestor of id but the root: the length of its prefix,
 * from the shortest. *pos starts at 1 (after the leading '/'). */
static int next_ancestor(const char *id, size_t *pos, size_t *len)
{
    const char *slash = strchr(id + *pos, '/');

    if (id[0] != '/' || *pos > strlen(id) || slash == NULL)
        return 0;
    *len = (size_t)(slash - id);
    *pos = *len + 1;
    return 1;
}

static void svc_count(struct mar *m, const struct mar_app *d, int delta)
{
    int64_t lo = m->conf->local_port_min, p;
    size_t j;

    for (j = 0; m->svc_used && j < d->nport_defs; j++) {
        p = d->port_defs[j].port;
        if (p >= lo && (size_t)(p - lo) < m->nsvc)
            m->svc_used[p - lo] = delta > 0 ? m->svc_used[p - lo] + 1
                                            : m->svc_used[p - lo] - 1;
    }
}

void mar_index_def(struct mar *m, const struct mar_app *d, int delta)
{
    if (d->ndependencies > 0)
        m->ndeps_apps = delta > 0 ? m->ndeps_apps + 1 : m->ndeps_apps - 1;
    svc_count(m, d, delta);
}

int mar_index_add(struct mar *m, const struct mar_app *d)
{
    size_t pos = 1, len, undo_pos = 1, undo_len;

    while (next_ancestor(d->id, &pos, &len)) {
        if (under_add(m, d->id, len, 1) != 0) {
            /* Take back the ancestors counted so far. */
            while (next_ancestor(d->id, &undo_pos, &undo_len) &&
                   undo_len < len)
                under_add(m, d->id, undo_len, -1);
            return AGORA_ENOMEM;
        }
    }
    mar_index_def(m, d, 1);
    return 0;
}

void mar_index_del(struct mar *m, const struct mar_app *d)
{
    size_t pos = 1, len;

    while (next_ancestor(d->id, &pos, &len))
        under_add(m, d->id, len, -1);
    mar_index_def(m, d, -1);
}

int mar_index_app_above(struct mar *m, const char *id, char **above)
{
    size_t pos = 1, len;
    char *p;

    *above = NULL;
    if (m->apps.n == 0)
        return 0;
    p = strdup(id);
    if (p == NULL)
        return AGORA_ENOMEM;
    while (next_ancestor(id, &pos, &len)) {
        p[len] = '\0';
        if (mar_state_app(m, p)) {
            *above = p;
            return 1;
        }
        p[len] = '/';
    }
    free(p);
    return 0;
}

int mar_index_port_taken(const struct mar *m, const struct mar_app *old,
                         const struct mar_app *t, int64_t p)
{
    int64_t lo = m->conf->local_port_min, n;
    size_t j;

    if (m->svc_used == NULL || p < lo || (size_t)(p - lo) >= m->nsvc)
        return 0;
    n = m->svc_used[p - lo];
    for (j = 0; old && j < old->nport_defs; j++)
        n -= old->port_defs[j].port == p;
    for (j = 0; j < t->nport_defs; j++)
        n += t->port_defs[j].port == p;
    return n > 0;
}
