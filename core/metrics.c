/*
 * metrics.c - a map of named doubles (see metrics.h).
 */
#include "metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/plugin.h>

/* Keys are short printable names; anything else is refused. */
static int metrics_key_valid(const char *key)
{
    size_t n = 0;

    for (; key[n]; n++) {
        char c = key[n];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '/' || c == '.' ||
              c == '-' || c == ':'))
            return 0;
    }
    return n > 0 && n <= 256;
}

struct metrics_hist {
    double last;
    uint64_t count;           /* observed, ever                         */
    size_t next;              /* where the next observation goes        */
    double win[METRICS_WINDOW];
};

static double *metrics_slot(struct metrics *m, const char *key)
{
    double *v = map_get(&m->values, key);

    if (v)
        return v;
    if (!metrics_key_valid(key) || map_get(&m->hists, key))
        return NULL;
    v = calloc(1, sizeof(*v));
    if (v == NULL)
        return NULL;
    if (map_put(&m->values, key, v, NULL) < 0) {
        free(v);
        return NULL;
    }
    return v;
}

/* The slot of key in *out, or why there is none. */
static int metrics_value(struct metrics *m, const char *key, double **out)
{
    *out = metrics_slot(m, key);
    if (*out)
        return 0;
    return metrics_key_valid(key) && !map_get(&m->hists, key) ? AGORA_ENOMEM
                                                              : AGORA_EINVAL;
}

int metrics_set(struct metrics *m, const char *key, double value)
{
    double *v;
    int rc = metrics_value(m, key, &v);

    if (rc == 0)
        *v = value;
    return rc;
}

int metrics_add(struct metrics *m, const char *key, double delta)
{
    double *v;
    int rc = metrics_value(m, key, &v);

    if (rc == 0)
        *v += delta;
    return rc;
}

int metrics_observe(struct metrics *m, const char *key, double value)
{
    struct metrics_hist *h = map_get(&m->hists, key);

    if (h == NULL) {
        if (!metrics_key_valid(key) || map_get(&m->values, key) ||
            !isfinite(value))
            return AGORA_EINVAL;
        if ((h = calloc(1, sizeof(*h))) == NULL)
            return AGORA_ENOMEM;
        if (map_put(&m->hists, key, h, NULL) < 0) {
            free(h);
            return AGORA_ENOMEM;
        }
    }
    if (!isfinite(value))
        return AGORA_EINVAL;
    h->last = value;
    h->win[h->next] = value;
    h->next = (h->next + 1) % METRICS_WINDOW;
    h->count++;
    return 0;
}

double metrics_get(const struct metrics *m, const char *key)
{
    double *v = map_get(&m->values, key);

    return v ? *v : 0;
}

void metrics_remove_prefix(struct metrics *m, const char *prefix)
{
    size_t pos = 0, len = strlen(prefix);
    const char *key;
    void *v;

    while (map_next(&m->values, &pos, &key, &v)) {
        if (strncmp(key, prefix, len) == 0)
            free(map_remove(&m->values, key));
    }
    pos = 0;
    while (map_next(&m->hists, &pos, &key, &v)) {
        if (strncmp(key, prefix, len) == 0)
            free(map_remove(&m->hists, key));
    }
}

static int metrics_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int metrics_dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The nearest-rank percentile q (0..1) of n sorted values. */
static double metrics_rank(const double *v, size_t n, double q)
{
    size_t i = (size_t)ceil(q * (double)n);

    return v[i > 0 ? i - 1 : 0];
}

static void metrics_write_hist(const struct metrics_hist *h, const char *key,
                               double *buf, struct agora_jw *w)
{
    static const struct {
        const char *suffix;
        double q;
    } ranks[] = {{"p50", .5}, {"p90", .9}, {"p95", .95}, {"p99", .99},
                 {"p999", .999}};
    size_t n = h->count < METRICS_WINDOW ? (size_t)h->count : METRICS_WINDOW;
    char name[300];
    size_t i;

    agora_jw_knum(w, key, h->last);
    snprintf(name, sizeof(name), "%s/count", key);
    agora_jw_kint(w, name, (int64_t)h->count);
    memcpy(buf, h->win, n * sizeof(*buf));
    qsort(buf, n, sizeof(*buf), metrics_dcmp);
    snprintf(name, sizeof(name), "%s/min", key);
    agora_jw_knum(w, name, buf[0]);
    snprintf(name, sizeof(name), "%s/max", key);
    agora_jw_knum(w, name, buf[n - 1]);
    for (i = 0; i < sizeof(ranks) / sizeof(ranks[0]); i++) {
        snprintf(name, sizeof(name), "%s/%s", key, ranks[i].suffix);
        agora_jw_knum(w, name, metrics_rank(buf, n, ranks[i].q));
    }
}

void metrics_write(const struct metrics *m, struct agora_jw *w)
{
    size_t cap = m->values.len + m->hists.len + 1;
    const char **keys = malloc(cap * sizeof(*keys));
    double *buf = malloc(METRICS_WINDOW * sizeof(*buf));
    size_t pos = 0, n = 0, i;
    const char *key;

    if (keys == NULL || buf == NULL) {
        free(keys);
        free(buf);
        return;
    }
    while (map_next(&m->values, &pos, &key, NULL))
        keys[n++] = key;
    pos = 0;
    while (map_next(&m->hists, &pos, &key, NULL))
        keys[n++] = key;
    /* Sorted, so a human (and a diff) can read the snapshot. */
    qsort(keys, n, sizeof(*keys), metrics_cmp);
    for (i = 0; i < n; i++) {
        const struct metrics_hist *h = map_get(&m->hists, keys[i]);

        if (h)
            metrics_write_hist(h, keys[i], buf, w);
        else
            agora_jw_knum(w, keys[i], metrics_get(m, keys[i]));
    }
    free(keys);
    free(buf);
}

void metrics_free(struct metrics *m)
{
    size_t pos = 0;
    void *v;

    while (map_next(&m->values, &pos, NULL, &v))
        free(v);
    map_free(&m->values);
    pos = 0;
    while (map_next(&m->hists, &pos, NULL, &v))
        free(v);
    map_free(&m->hists);
}
