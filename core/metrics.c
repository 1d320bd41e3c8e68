/*
 * metrics.c - a map of named doubles (see metrics.h).
 */
#include "metrics.h"

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

static double *metrics_slot(struct metrics *m, const char *key)
{
    double *v = map_get(&m->values, key);

    if (v)
        return v;
    if (!metrics_key_valid(key))
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

int metrics_set(struct metrics *m, const char *key, double value)
{
    double *v = metrics_slot(m, key);

    if (v == NULL)
        return metrics_key_valid(key) ? AGORA_ENOMEM : AGORA_EINVAL;
    *v = value;
    return 0;
}

int metrics_add(struct metrics *m, const char *key, double delta)
{
    double *v = metrics_slot(m, key);

    if (v == NULL)
        return metrics_key_valid(key) ? AGORA_ENOMEM : AGORA_EINVAL;
    *v += delta;
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
}

static int metrics_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void metrics_write(const struct metrics *m, struct agora_jw *w)
{
    const char **keys = malloc((m->values.len + 1) * sizeof(*keys));
    size_t pos = 0, n = 0, i;
    const char *key;

    if (keys == NULL)
        return;
    while (map_next(&m->values, &pos, &key, NULL))
        keys[n++] = key;
    /* Sorted, so a human (and a diff) can read the snapshot. */
    qsort(keys, n, sizeof(*keys), metrics_cmp);
    for (i = 0; i < n; i++)
        agora_jw_knum(w, keys[i], metrics_get(m, keys[i]));
    free(keys);
}

void metrics_free(struct metrics *m)
{
    size_t pos = 0;
    void *v;

    while (map_next(&m->values, &pos, NULL, &v))
        free(v);
    map_free(&m->values);
}
