/*
 * chr_heap.h - a binary min-heap of due times, with positions kept by
 * their owners for O(log n) moves and removals.
 */
#ifndef CHR_HEAP_H
#define CHR_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define CHR_HEAP_NONE ((size_t)-1)

struct chr_heap_ent {
    int64_t due;     /* ms since the epoch */
    void *item;
    size_t *index;   /* the owner's copy of this entry's position */
};

struct chr_heap {
    struct chr_heap_ent *v;
    size_t n, cap;
};

/* Adds item at due; *index follows its position (CHR_HEAP_NONE once
 * removed). 0, or -1 when out of memory. */
int chr_heap_push(struct chr_heap *h, int64_t due, void *item, size_t *index);
/* Removes the entry at position i (an owner's *index). */
void chr_heap_remove(struct chr_heap *h, size_t i);
/* Moves the entry at position i to a new due time. */
void chr_heap_update(struct chr_heap *h, size_t i, int64_t due);
/* The earliest entry, or NULL when empty. */
const struct chr_heap_ent *chr_heap_top(const struct chr_heap *h);
void chr_heap_free(struct chr_heap *h);

#endif /* CHR_HEAP_H */
