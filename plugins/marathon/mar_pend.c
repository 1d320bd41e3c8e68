/*
 * mar_pend.c - contexts of callbacks in flight, freed at unload.
 */
#include <stdlib.h>

#include "marathon.h"

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
