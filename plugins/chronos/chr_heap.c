/*
 * chr_heap.c - a binary min-heap of due times.
 *
 * Each entry remembers its slot (through the index pointer its owner
 * gives), so a job's due time is moved or removed in O(log n) when the
 * job changes, without a search: 100,000 jobs cost nothing between their
 * due times, and one SDK timer waits for the top.
 */
#include <stdlib.h>

#include "chr_heap.h"

static void heap_set(struct chr_heap *h, size_t i, struct chr_heap_ent e)
{
    h->v[i] = e;
    *e.index = i;
}

static void heap_up(struct chr_heap *h, size_t i)
{
    struct chr_heap_ent e = h->v[i];

    while (i > 0) {
        size_t p = (i - 1) / 2;

        if (h->v[p].due <= e.due)
            break;
        heap_set(h, i, h->v[p]);
        i = p;
    }
    heap_set(h, i, e);
}

static void heap_down(struct chr_heap *h, size_t i)
{
    struct chr_heap_ent e = h->v[i];

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1].due < h->v[c].due)
            c++;
        if (e.due <= h->v[c].due)
            break;
        heap_set(h, i, h->v[c]);
        i = c;
    }
    heap_set(h, i, e);
}

int chr_heap_push(struct chr_heap *h, int64_t due, void *item, size_t *index)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct chr_heap_ent *v = realloc(h->v, cap * sizeof(*v));

        if (v == NULL)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n].due = due;
    h->v[h->n].item = item;
    h->v[h->n].index = index;
    *index = h->n;
    h->n++;
    heap_up(h, h->n - 1);
    return 0;
}

void chr_heap_remove(struct chr_heap *h, size_t i)
{
    if (i >= h->n)
        return;
    *h->v[i].index = CHR_HEAP_NONE;
    h->n--;
    if (i == h->n)
        return;
    heap_set(h, i, h->v[h->n]);
    {
        size_t *moved = h->v[i].index;

        heap_up(h, i);
        heap_down(h, *moved);
    }
}

void chr_heap_update(struct chr_heap *h, size_t i, int64_t due)
{
    size_t *moved;

    if (i >= h->n)
        return;
    h->v[i].due = due;
    moved = h->v[i].index;
    heap_up(h, i);
    heap_down(h, *moved);
}

const struct chr_heap_ent *chr_heap_top(const struct chr_heap *h)
{
    return h->n ? &h->v[0] : NULL;
}

void chr_heap_free(struct chr_heap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
