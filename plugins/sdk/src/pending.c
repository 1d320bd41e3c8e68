/*
 * pending.c - contexts of callbacks in flight, freed at unload
 * (agora/pending.h).
 */
#include <stddef.h>

#include "agora/pending.h"

void agora_pending_add(struct agora_pending *head, struct agora_pending *p,
                       void (*free_fn)(struct agora_pending *p))
{
    if (head->next == NULL)
        head->next = head->prev = head;
    p->free_fn = free_fn;
    p->next = head;
    p->prev = head->prev;
    head->prev->next = p;
    head->prev = p;
}

void agora_pending_del(struct agora_pending *p)
{
    if (p->next == NULL)
        return;
    p->prev->next = p->next;
    p->next->prev = p->prev;
    p->next = p->prev = NULL;
}

void agora_pending_free_all(struct agora_pending *head)
{
    while (head->next && head->next != head) {
        struct agora_pending *p = head->next;

        agora_pending_del(p);
        p->free_fn(p);
    }
}
