/*
 * sim_buf.c - small growable buffers: a request being written, an
 * answer or a partial line being read.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static void buf_reserve(struct sim_buf *b, size_t extra)
{
    size_t cap = b->cap ? b->cap : 256;

    if (b->len + extra <= b->cap)
        return;
    while (cap < b->len + extra)
        cap *= 2;
    b->p = realloc(b->p, cap);
    if (b->p == NULL)
        sim_die("out of memory");
    b->cap = cap;
}

void sim_buf_add(struct sim_buf *b, const void *s, size_t n)
{
    buf_reserve(b, n + 1);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void sim_buf_free(struct sim_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void sim_buf_consume(struct sim_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        if (b->p)
            b->p[0] = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    b->p[b->len] = 0;
}
