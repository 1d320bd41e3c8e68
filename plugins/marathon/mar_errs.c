/*
 * mar_errs.c - validation failures collected as (path, message) pairs
 * and written as Marathon's 400/422 bodies (marathon-api.md §0): one
 * detail per path, its messages in the order they were found.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mar_app_int.h"

char *mar_strdup(const char *s)
{
    size_t len;
    char *d;

    if (!s)
        return NULL;
    len = strlen(s) + 1;
    d = malloc(len);
    if (d)
        memcpy(d, s, len);
    return d;
}

static char *vprintf_alloc(const char *fmt, va_list ap)
{
    va_list ap2;
    char *s;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    s = malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *mar_printf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = vprintf_alloc(fmt, ap);
    va_end(ap);
    return s;
}

/* Room for one more item; 0, or -1 when out of memory. */
static int errs_reserve(struct mar_errs *e)
{
    struct mar_err_item *v;
    size_t cap;

    if (e->n < e->cap)
        return 0;
    cap = e->cap ? e->cap * 2 : 8;
    v = realloc(e->v, cap * sizeof(*v));
    if (!v)
        return -1;
    e->v = v;
    e->cap = cap;
    return 0;
}

void mar_errs_vadd(struct mar_errs *e, const char *path, const char *fmt,
                   va_list ap)
{
    char *p, *m;

    if (!e)
        return;
    p = mar_strdup(path ? path : "/");
    m = vprintf_alloc(fmt, ap);
    if (!p || !m || errs_reserve(e) != 0) {
        free(p);
        free(m);
        e->nomem = 1;
        return;
    }
    e->v[e->n].path = p;
    e->v[e->n].message = m;
    e->n++;
}

void mar_errs_add(struct mar_errs *e, const char *path, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    mar_errs_vadd(e, path, fmt, ap);
    va_end(ap);
}

/* 1 when an item before i has the same path: i's messages were written
 * with that one's. */
static int path_seen_before(const struct mar_errs *e, size_t i)
{
    size_t j;

    for (j = 0; j < i; j++) {
        if (strcmp(e->v[j].path, e->v[i].path) == 0)
            return 1;
    }
    return 0;
}

/* Quadratic in the number of failures, which a body of a few fields
 * keeps small; a hash would cost more than it saves here. */
void mar_errs_write(const struct mar_errs *e, struct agora_jw *w)
{
    size_t i, j;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "message",
                  e && e->json ? "Invalid JSON" : "Object is not valid");
    agora_jw_key(w, "details");
    agora_jw_arr_open(w);
    for (i = 0; e && i < e->n; i++) {
        if (path_seen_before(e, i))
            continue;
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "path", e->v[i].path);
        agora_jw_key(w, "errors");
        agora_jw_arr_open(w);
        for (j = i; j < e->n; j++) {
            if (strcmp(e->v[j].path, e->v[i].path) == 0)
                agora_jw_str(w, e->v[j].message);
        }
        agora_jw_arr_close(w);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
}

void mar_errs_free(struct mar_errs *e)
{
    size_t i;

    if (!e)
        return;
    for (i = 0; i < e->n; i++) {
        free(e->v[i].path);
        free(e->v[i].message);
    }
    free(e->v);
    e->v = NULL;
    e->n = e->cap = 0;
    e->json = e->nomem = 0;
}
