/*
 * router.c - pattern routes, chosen by specificity (see router.h).
 */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/plugin.h>

enum { SEG_WILD = 1, SEG_PARAM = 2, SEG_LITERAL = 3 };

static const struct {
    const char *name;
    unsigned bit;
} router_methods[] = {
    {"GET", ROUTER_GET},       {"HEAD", ROUTER_HEAD},
    {"POST", ROUTER_POST},     {"PUT", ROUTER_PUT},
    {"DELETE", ROUTER_DELETE}, {"PATCH", ROUTER_PATCH},
    {"OPTIONS", ROUTER_OPTIONS},
};

#define ROUTER_NMETHODS (sizeof(router_methods) / sizeof(router_methods[0]))

unsigned router_method_parse(const char *method)
{
    size_t i;

    if (strcmp(method, "*") == 0)
        return ROUTER_ANY;
    for (i = 0; i < ROUTER_NMETHODS; i++)
        if (strcmp(method, router_methods[i].name) == 0)
            return router_methods[i].bit;
    return 0;
}

void router_methods_format(unsigned methods, char *out, size_t outlen)
{
    size_t i, n = 0;

    if (outlen == 0)
        return;
    out[0] = '\0';
    for (i = 0; i < ROUTER_NMETHODS; i++) {
        int w;

        if (!(methods & router_methods[i].bit))
            continue;
        w = snprintf(out + n, outlen - n, "%s%s", n ? ", " : "",
                     router_methods[i].name);
        if (w < 0 || (size_t)w >= outlen - n)
            return;
        n += (size_t)w;
    }
}

/*
 * Splits s in place at '/' into segs, skipping empty segments. Returns
 * the count, or -1 when there are more than max.
 */
static int router_split(char *s, char **segs, size_t max)
{
    size_t n = 0;
    char *p = s;

    while (*p) {
        char *start;

        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        start = p;
        while (*p && *p != '/')
            p++;
        if (n == max)
            return -1;
        segs[n++] = start;
        if (*p)
            *p++ = '\0';
    }
    return (int)n;
}

static int router_compile(struct router_route *rt, const char *prefix,
                          const char *pattern)
{
    size_t i, nparams = 0;
    int n;

    if (asprintf(&rt->pattern, "%s%s", prefix ? prefix : "", pattern) < 0) {
        rt->pattern = NULL;
        return AGORA_ENOMEM;
    }
    rt->buf = strdup(rt->pattern);
    if (rt->buf == NULL)
        return AGORA_ENOMEM;
    n = router_split(rt->buf, rt->segs, ROUTER_MAX_SEGS);
    if (n < 0)
        return AGORA_EINVAL;
    rt->nsegs = (size_t)n;
    for (i = 0; i < rt->nsegs; i++) {
        char c = rt->segs[i][0];

        rt->kind[i] = c == '*' ? SEG_WILD : c == ':' ? SEG_PARAM : SEG_LITERAL;
        if (rt->kind[i] != SEG_LITERAL) {
            if (rt->segs[i][1] == '\0' || ++nparams > ROUTER_MAX_PARAMS)
                return AGORA_EINVAL;
            rt->segs[i]++; /* the parameter's name */
        }
    }
    return 0;
}

static void router_route_free(struct router_route *rt)
{
    free(rt->pattern);
    free(rt->buf);
}

int router_add(struct router *r, const char *method, const char *prefix,
               const char *pattern, void *handler, void *arg)
{
    struct router_route rt;
    int rc;

    memset(&rt, 0, sizeof(rt));
    rt.methods = router_method_parse(method);
    if (rt.methods == 0 || pattern == NULL || pattern[0] != '/')
        return AGORA_EINVAL;
    rc = router_compile(&rt, prefix, pattern);
    if (rc < 0) {
        router_route_free(&rt);
        return rc;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct router_route *v = realloc(r->routes, cap * sizeof(*v));

        if (v == NULL) {
            router_route_free(&rt);
            return AGORA_ENOMEM;
        }
        r->routes = v;
        r->cap = cap;
    }
    rt.handler = handler;
    rt.arg = arg;
    r->routes[r->n++] = rt;
    return 0;
}

void router_free(struct router *r)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        router_route_free(&r->routes[i]);
    free(r->routes);
    r->routes = NULL;
    r->n = r->cap = 0;
}

/* Where a route's segment i matched in the path: [from, to). */
struct router_span {
    size_t from[ROUTER_MAX_SEGS], to[ROUTER_MAX_SEGS];
};

/*
 * Matches route segments from i on against path segments from j on.
 * A wildcard takes one or more segments, as few as let the rest match
 * ("*id/tasks" leaves "tasks" to the literal).
 */
static int router_try(const struct router_route *rt, size_t i, char **path,
                      size_t npath, size_t j, struct router_span *sp)
{
    size_t k;

    if (i == rt->nsegs)
        return j == npath;
    if (j == npath)
        return 0;
    sp->from[i] = j;
    if (rt->kind[i] == SEG_WILD) {
        for (k = j + 1; k <= npath; k++) {
            sp->to[i] = k;
            if (router_try(rt, i + 1, path, npath, k, sp))
                return 1;
        }
        return 0;
    }
    if (rt->kind[i] == SEG_LITERAL && strcmp(rt->segs[i], path[j]) != 0)
        return 0;
    sp->to[i] = j + 1;
    return router_try(rt, i + 1, path, npath, j + 1, sp);
}

/* > 0 when a is more specific than b. */
static int router_cmp(const struct router_route *a,
                      const struct router_route *b)
{
    size_t i;

    for (i = 0; i < a->nsegs && i < b->nsegs; i++)
        if (a->kind[i] != b->kind[i])
            return (int)a->kind[i] - (int)b->kind[i];
    return (int)a->nsegs - (int)b->nsegs;
}

/* Joins path segments [from, to) with '/' into a new string. */
static char *router_join(char **path, size_t from, size_t to)
{
    size_t k, len = 0;
    char *s, *p;

    for (k = from; k < to; k++)
        len += strlen(path[k]) + 1;
    s = malloc(len ? len : 1);
    if (s == NULL)
        return NULL;
    p = s;
    for (k = from; k < to; k++) {
        size_t l = strlen(path[k]);

        if (k > from)
            *p++ = '/';
        memcpy(p, path[k], l);
        p += l;
    }
    *p = '\0';
    return s;
}

static int router_fill_params(struct router_match *m, char **path,
                              const struct router_span *sp)
{
    const struct router_route *rt = m->route;
    size_t i;

    for (i = 0; i < rt->nsegs; i++) {
        char *v;

        if (rt->kind[i] == SEG_LITERAL)
            continue;
        v = router_join(path, sp->from[i], sp->to[i]);
        if (v == NULL)
            return AGORA_ENOMEM;
        m->params[m->nparams].value = v;
        m->params[m->nparams].name = strdup(rt->segs[i]);
        if (m->params[m->nparams++].name == NULL)
            return AGORA_ENOMEM;
    }
    return 0;
}

static unsigned router_want(const char *method)
{
    unsigned bit = router_method_parse(method);

    return bit == ROUTER_ANY ? 0 : bit;
}

int router_match(const struct router *r, const char *method,
                 const char *path, struct router_match *m)
{
    char *segs[ROUTER_MAX_SEGS * 4], *copy, local[512];
    struct router_span sp, best_sp;
    unsigned want = router_want(method);
    const struct router_route *best = NULL, *best_head = NULL;
    struct router_span head_sp;
    size_t i, len;
    int n, rc = 0;

    memset(m, 0, sizeof(*m));
    m->status = 404;
    /* Most paths are short: split a copy on the stack. */
    len = strlen(path);
    copy = len < sizeof(local) ? local : malloc(len + 1);
    if (copy == NULL)
        return AGORA_ENOMEM;
    memcpy(copy, path, len + 1);
    n = router_split(copy, segs, sizeof(segs) / sizeof(segs[0]));
    for (i = 0; n >= 0 && i < r->n; i++) {
        const struct router_route *rt = &r->routes[i];

        /* A differing first literal rules a route out cheaply. */
        if (rt->nsegs > 0 && rt->kind[0] == SEG_LITERAL &&
            (n == 0 || strcmp(rt->segs[0], segs[0]) != 0))
            continue;
        if (!router_try(rt, 0, segs, (size_t)n, 0, &sp))
            continue;
        m->allowed |= rt->methods;
        if ((rt->methods & want) && (!best || router_cmp(rt, best) > 0)) {
            best = rt;
            best_sp = sp;
        }
        if (want == ROUTER_HEAD && (rt->methods & ROUTER_GET) &&
            (!best_head || router_cmp(rt, best_head) > 0)) {
            best_head = rt;
            head_sp = sp;
        }
    }
    if (!best && best_head) {
        best = best_head;
        best_sp = head_sp;
    }
    if (best) {
        m->route = best;
        m->handler = best->handler;
        m->arg = best->arg;
        m->status = 0;
        rc = router_fill_params(m, segs, &best_sp);
        if (rc < 0)
            router_match_free(m);
    } else if (m->allowed) {
        m->status = 405;
    }
    if (copy != local)
        free(copy);
    return rc;
}

void router_match_free(struct router_match *m)
{
    size_t i;

    for (i = 0; i < m->nparams; i++) {
        free(m->params[i].name);
        free(m->params[i].value);
    }
    m->nparams = 0;
}

const char *router_param(const struct router_match *m, const char *name)
{
    size_t i;

    for (i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return m->params[i].value;
    return NULL;
}
