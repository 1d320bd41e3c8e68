/*
 * map.c - open-addressing string map (see map.h).
 */
#include "map.h"

#include <stdlib.h>
#include <string.h>

#include <agora/plugin.h>

/* A removed slot keeps probe chains intact until the next rehash. */
static char map_tomb_key;
#define MAP_TOMB (&map_tomb_key)

/*
 * Eight bytes a step, then murmur3's finaliser so that every bit of the
 * key reaches the low bits that pick the slot. The master's keys are
 * long (a Marathon task id is 60-80 bytes, and a burst looks each up
 * five times): FNV-1a a byte at a time was 6% of the master's
 * instructions. Only this process sees the values: nothing stores them.
 */
uint32_t map_hash(const char *key)
{
    size_t n = strlen(key);
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;

    for (; n >= 8; n -= 8, key += 8) {
        memcpy(&w, key, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    if (n > 0) {
        w = 0;
        memcpy(&w, key, n);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (uint32_t)h;
}

void map_free(struct map *m)
{
    size_t i;

    for (i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != MAP_TOMB && !m->borrowed)
            free(m->slots[i].key);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->len = m->used = 0;
}

/* The slot holding key, or NULL. */
static struct map_slot *map_find(const struct map *m, const char *key,
                                 uint32_t h)
{
    size_t i, mask;

    if (m->cap == 0)
        return NULL;
    mask = m->cap - 1;
    for (i = h & mask;; i = (i + 1) & mask) {
        struct map_slot *s = &m->slots[i];

        if (s->key == NULL)
            return NULL;
        if (s->key != MAP_TOMB && s->hash == h && strcmp(s->key, key) == 0)
            return s;
    }
}

void *map_get(const struct map *m, const char *key)
{
    struct map_slot *s = map_find(m, key, map_hash(key));

    return s ? s->value : NULL;
}

/* Rebuilds the table with cap slots, dropping tombstones. */
static int map_rehash(struct map *m, size_t cap)
{
    struct map_slot *slots = calloc(cap, sizeof(*slots));
    size_t i, j;

    if (slots == NULL)
        return AGORA_ENOMEM;
    for (i = 0; i < m->cap; i++) {
        struct map_slot *s = &m->slots[i];

        if (s->key == NULL || s->key == MAP_TOMB)
            continue;
        for (j = s->hash & (cap - 1); slots[j].key; j = (j + 1) & (cap - 1))
            ;
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->used = m->len;
    return 0;
}

int map_put(struct map *m, const char *key, void *value, void **old)
{
    uint32_t h = map_hash(key);
    struct map_slot *s = map_find(m, key, h);
    size_t i, mask;
    char *copy;

    if (s) {
        if (old)
            *old = s->value;
        s->value = value;
        return 0;
    }
    if (old)
        *old = NULL;
    /* Keep the load (tombstones included) under 3/4. */
    if ((m->used + 1) * 4 > m->cap * 3) {
        size_t cap = m->cap ? m->cap : 8;

        while ((m->len + 1) * 2 > cap)
            cap *= 2;
        if (map_rehash(m, cap) < 0)
            return AGORA_ENOMEM;
    }
    copy = m->borrowed ? (char *)key : strdup(key);
    if (copy == NULL)
        return AGORA_ENOMEM;
    mask = m->cap - 1;
    for (i = h & mask; m->slots[i].key && m->slots[i].key != MAP_TOMB;
         i = (i + 1) & mask)
        ;
    if (m->slots[i].key == NULL)
        m->used++;
    m->slots[i].key = copy;
    m->slots[i].hash = h;
    m->slots[i].value = value;
    m->len++;
    return 0;
}

void *map_remove(struct map *m, const char *key)
{
    struct map_slot *s = map_find(m, key, map_hash(key));
    void *value;

    if (s == NULL)
        return NULL;
    value = s->value;
    if (!m->borrowed)
        free(s->key);
    s->key = MAP_TOMB;
    s->value = NULL;
    m->len--;
    return value;
}

int map_next(const struct map *m, size_t *pos, const char **key,
             void **value)
{
    for (; *pos < m->cap; (*pos)++) {
        struct map_slot *s = &m->slots[*pos];

        if (s->key && s->key != MAP_TOMB) {
            if (key)
                *key = s->key;
            if (value)
                *value = s->value;
            (*pos)++;
            return 1;
        }
    }
    return 0;
}
