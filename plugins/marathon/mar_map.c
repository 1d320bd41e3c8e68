/*
 * mar_map.c - an open-addressing hash table of strings to pointers.
 *
 * Apps by id and instances by task id are looked up on every status
 * update and request: with 10,000 instances a list would cost more than
 * the update itself. Linear probing, FNV-1a, deleted slots marked and
 * reclaimed when the table is rebuilt at 3/4 occupancy.
 */
#include <stdlib.h>
#include <string.h>

#include "marathon.h"

static char mar_map_gone_mark;
#define MAR_MAP_GONE (&mar_map_gone_mark)

static uint64_t map_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ull;
    }
    return h;
}

/* The slot holding key, or the first free one on its probe path. */
static struct mar_map_slot *map_find(const struct mar_map *m, const char *key,
                                     int for_insert)
{
    size_t i = (size_t)map_hash(key) & (m->cap - 1);
    struct mar_map_slot *tomb = NULL;

    for (;;) {
        struct mar_map_slot *s = &m->slots[i];

        if (s->key == NULL)
            return for_insert && tomb ? tomb : s;
        if (s->key == MAR_MAP_GONE) {
            if (!tomb)
                tomb = s;
        } else if (strcmp(s->key, key) == 0) {
            return s;
        }
        i = (i + 1) & (m->cap - 1);
    }
}

static int map_grow(struct mar_map *m)
{
    size_t cap = m->cap ? m->cap : 16, i;
    struct mar_map old = *m;

    while (cap * 3 / 4 <= m->n + 1)
        cap *= 2;
    m->slots = calloc(cap, sizeof(*m->slots));
    if (m->slots == NULL) {
        *m = old;
        return AGORA_ENOMEM;
    }
    m->cap = cap;
    m->used = m->n;
    for (i = 0; i < old.cap; i++) {
        struct mar_map_slot *s = &old.slots[i];

        if (s->key && s->key != MAR_MAP_GONE)
            *map_find(m, s->key, 1) = *s;
    }
    free(old.slots);
    return 0;
}

int mar_map_put(struct mar_map *m, const char *key, void *value)
{
    struct mar_map_slot *s;
    char *k;

    if (m->cap == 0 || (m->used + 1) * 4 >= m->cap * 3) {
        if (map_grow(m) < 0)
            return AGORA_ENOMEM;
    }
    s = map_find(m, key, 1);
    if (s->key && s->key != MAR_MAP_GONE) {
        s->value = value;
        return 0;
    }
    k = strdup(key);
    if (k == NULL)
        return AGORA_ENOMEM;
    if (s->key == NULL)
        m->used++;
    s->key = k;
    s->value = value;
    m->n++;
    return 0;
}

void *mar_map_get(const struct mar_map *m, const char *key)
{
    struct mar_map_slot *s;

    if (m->cap == 0 || key == NULL)
        return NULL;
    s = map_find(m, key, 0);
    return s->key && s->key != MAR_MAP_GONE ? s->value : NULL;
}

void *mar_map_del(struct mar_map *m, const char *key)
{
    struct mar_map_slot *s;
    void *v;

    if (m->cap == 0 || key == NULL)
        return NULL;
    s = map_find(m, key, 0);
    if (s->key == NULL || s->key == MAR_MAP_GONE)
        return NULL;
    v = s->value;
    free(s->key);
    s->key = MAR_MAP_GONE;
    s->value = NULL;
    m->n--;
    return v;
}

void *mar_map_next(const struct mar_map *m, size_t *i)
{
    while (*i < m->cap) {
        struct mar_map_slot *s = &m->slots[(*i)++];

        if (s->key && s->key != MAR_MAP_GONE)
            return s->value;
    }
    return NULL;
}

void mar_map_free(struct mar_map *m)
{
    size_t i;

    for (i = 0; i < m->cap; i++) {
        if (m->slots[i].key && m->slots[i].key != MAR_MAP_GONE)
            free(m->slots[i].key);
    }
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* ---- callbacks in flight ---- */

void mar_pend_add(struct mar *m, struct mar_pend *p,
                  void (*free_fn)(struct mar_pend *p))
{
    if (m->pend.next == NULL)
        m->pend.next = m->pend.prev = &m->pend;
    p->free_fn = free_fn;
    p->next = &m->pend;
    p->prev = m->pend.prev;
    m->pend.prev->next = p;
    m->pend.prev = p;
}

void mar_pend_del(struct mar *m, struct mar_pend *p)
{
    (void)m;
    if (p->next == NULL)
        return;
    p->prev->next = p->next;
    p->next->prev = p->prev;
    p->next = p->prev = NULL;
}

void mar_pend_free_all(struct mar *m)
{
    while (m->pend.next && m->pend.next != &m->pend) {
        struct mar_pend *p = m->pend.next;

        mar_pend_del(m, p);
        p->free_fn(p);
    }
}
