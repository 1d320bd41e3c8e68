/*
 * plugin_item.c - the list of what a plugin registered (plugin_item.h).
 */
#include "plugin_item.h"

#include <stdlib.h>

#include "plugins.h"

struct plugin_item *plugin_item_new(struct plugin *p,
                                    enum plugin_item_kind kind, void *arg)
{
    struct plugin_item *it = calloc(1, sizeof(*it));

    if (it == NULL)
        return NULL;
    it->kind = kind;
    it->p = p;
    it->arg = arg;
    it->next = p->items;
    if (p->items)
        p->items->prev = it;
    p->items = it;
    return it;
}

void plugin_item_free(struct plugin_item *it)
{
    if (it->prev)
        it->prev->next = it->next;
    else
        it->p->items = it->next;
    if (it->next)
        it->next->prev = it->prev;
    free(it);
}
