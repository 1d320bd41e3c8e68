/*
 * map.c - an open-addressing hash table of strings to pointers
 * (agora/map.h).
 *
 * Linear probing, FNV-1a, deleted slots marked and reclaimed when the
 * table is rebuilt at 3/4 occupancy.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agora/map.h"
#include "agora/plugin.h"

static char map_gone_mark;
#define MAP_GONE (&map_gone_mark)

static uint64_t map_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ull;
    }
    return h;
}

/*
 * Each slot's hash, in the same allocation after the slots, where the
 * public struct agora_map_slot does not show it: a probe compares it
 * before the key, so a lookup runs strcmp() about once, not once per
 * slot it passes. Ids of one app share a long prefix ("app.uuid"),
 * which every strcmp() of a passed slot read through.
 */
static uint32_t *map_hashes(const struct agora_map *m)
{
    return (uint32_t *)(void *)(m->slots + m->cap);
}

/* The slot holding key (of hash h), or the first free one on its probe
 * path. */
static struct agora_map_slot *map_find(const struct agora_map *m, const char *key,
                                       uint32_t h, int for_insert)
{
    const uint32_t *hashes = map_hashes(m);
    size_t i = (size_t)h & (m->cap - 1);
    struct agora_map_slot *tomb = NULL;

    for (;;) {
        struct agora_map_slot *s = &m->slots[i];

        if (s->key == NULL)
            return for_insert && tomb ? tomb : s;
        if (s->key == MAP_GONE) {
            if (!tomb)
                tomb = s;
        } else if (hashes[i] == h && strcmp(s->key, key) == 0) {
            return s;
        }
        i = (i + 1) & (m->cap - 1);
    }
}

/* Stores key's slot s with its hash. */
static void map_set(struct agora_map *m, struct agora_map_slot *s,
                    const struct agora_map_slot *from, uint32_t h)
{
    *s = *from;
    map_hashes(m)[s - m->slots] = h;
}

static int map_grow(struct agora_map *m)
{
    size_t cap = m->cap ? m->cap : 16, i;
    struct agora_map old = *m;
    const uint32_t *old_hashes = old.cap ? map_hashes(&old) : NULL;

    while (cap * 3 / 4 <= m->n + 1)
        cap *= 2;
    m->slots = calloc(cap, sizeof(*m->slots) + sizeof(uint32_t));
    if (m->slots == NULL) {
        *m = old;
        return AGORA_ENOMEM;
    }
    m->cap = cap;
    m->used = m->n;
    for (i = 0; i < old.cap; i++) {
        struct agora_map_slot *s = &old.slots[i];

        if (s->key && s->key != MAP_GONE)
            map_set(m, map_find(m, s->key, old_hashes[i], 1), s,
                    old_hashes[i]);
    }
    free(old.slots);
    return 0;
}

int agora_map_put(struct agora_map *m, const char *key, void *value)
{
    uint32_t h = (uint32_t)map_hash(key);
    struct agora_map_slot *s;
    char *k;

    if (m->cap == 0 || (m->used + 1) * 4 >= m->cap * 3) {
        if (map_grow(m) < 0)
            return AGORA_ENOMEM;
    }
    s = map_find(m, key, h, 1);
    if (s->key && s->key != MAP_GONE) {
        s->value = value;
        return 0;
    }
    k = strdup(key);
    if (k == NULL)
        return AGORA_ENOMEM;
    if (s->key == NULL)
        m->used++;
    map_set(m, s, &(struct agora_map_slot){k, value}, h);
    m->n++;
    return 0;
}

void *agora_map_get(const struct agora_map *m, const char *key)
{
    struct agora_map_slot *s;

    if (m->cap == 0 || key == NULL)
        return NULL;
    s = map_find(m, key, (uint32_t)map_hash(key), 0);
    return s->key && s->key != MAP_GONE ? s->value : NULL;
}

void *agora_map_del(struct agora_map *m, const char *key)
{
    struct agora_map_slot *s;
    void *v;

    if (m->cap == 0 || key == NULL)
        return NULL;
    s = map_find(m, key, (uint32_t)map_hash(key), 0);
    if (s->key == NULL || s->key == MAP_GONE)
        return NULL;
    v = s->value;
    free(s->key);
    s->key = MAP_GONE;
    s->value = NULL;
    m->n--;
    return v;
}

void *agora_map_next(const struct agora_map *m, size_t *i)
{
    while (*i < m->cap) {
        struct agora_map_slot *s = &m->slots[(*i)++];

        if (s->key && s->key != MAP_GONE)
            return s->value;
    }
    return NULL;
}

void agora_map_free(struct agora_map *m)
{
    size_t i;

    for (i = 0; i < m->cap; i++) {
        if (m->slots[i].key && m->slots[i].key != MAP_GONE)
            free(m->slots[i].key);
    }
    free(m->slots);
    memset(m, 0, sizeof(*m));
}
