/*
 * mar_offers.c - offers kept for the apps still arriving.
 *
 * An offer nothing waiting can use was declined at once, and the next
 * app to wait revived offers: the revive clears every filter and the
 * allocator offers every agent again. A burst of 1,000 POSTs so cost
 * about 25 rounds of 1,000 offers, 990 of each declined. Now, while new
 * apps began to wait within the last offer_hold seconds, such an offer
 * is kept instead, and the next app that waits is filled from the kept
 * ones before anything is revived (mar_sched.c). A kept offer goes back
 * (declined, with the default filter) offer_hold to twice that after it
 * came (the plugin's one-second tick), or when it is rescinded.
 *
 * Each kept offer is a copy, in one block: the host's structs are
 * borrowed for the call only.
 */
#include <stdlib.h>
#include <string.h>

#include "marathon.h"

struct mar_held {
    struct agora_offer o; /* points into the same block                 */
    struct agora_resources res;
    double until;         /* declined at the first tick past this       */
};

/* A copy is one block: the struct, then the arrays (resources, their
 * ranges and items, the attributes), then every string. A burst keeps
 * up to an offer an agent; made entry by entry (agora_resources_copy()
 * and a strdup() each), a copy was about twenty allocations and its
 * free as many: 0.73 us against 0.17 for the block, an offer of four
 * resources and two attributes. */
struct held_size {
    size_t arrays, strings; /* bytes of each part after the struct */
};

static void str_size(struct held_size *z, const char *s)
{
    z->strings += strlen(s ? s : "") + 1;
}

static struct held_size held_size(const struct agora_offer *o)
{
    const struct agora_resources *r = o->resources;
    struct held_size z = {0, 0};
    size_t i, j;

    str_size(&z, o->id);
    str_size(&z, o->agent_id);
    str_size(&z, o->hostname);
    z.arrays += o->nattributes * sizeof(struct agora_kv);
    for (i = 0; i < o->nattributes; i++) {
        str_size(&z, o->attributes[i].key);
        str_size(&z, o->attributes[i].value);
    }
    for (i = 0; r && i < r->n; i++) {
        z.arrays += sizeof(struct agora_resource) +
                    r->v[i].nranges * sizeof(struct agora_range) +
                    r->v[i].nitems * sizeof(char *);
        str_size(&z, r->v[i].name);
        str_size(&z, r->v[i].role);
        for (j = 0; j < r->v[i].nitems; j++)
            str_size(&z, r->v[i].items[j]);
    }
    return z;
}

/* Takes n bytes of *at (the block's next free place). */
static void *take(char **at, size_t n)
{
    void *p = *at;

    *at += n;
    return p;
}

static char *take_str(char **strs, const char *s)
{
    size_t n = strlen(s ? s : "") + 1;

    return memcpy(take(strs, n), s ? s : "", n);
}

static void held_res_copy(struct agora_resource *d,
                          const struct agora_resource *x, char **arrays,
                          char **strs)
{
    size_t j;

    *d = *x;
    d->name = take_str(strs, x->name);
    d->role = x->role ? take_str(strs, x->role) : NULL;
    d->ranges =
        x->nranges ? take(arrays, x->nranges * sizeof(*x->ranges)) : NULL;
    if (x->nranges)
        memcpy(d->ranges, x->ranges, x->nranges * sizeof(*x->ranges));
    d->items = x->nitems ? take(arrays, x->nitems * sizeof(char *)) : NULL;
    for (j = 0; j < x->nitems; j++)
        d->items[j] = take_str(strs, x->items[j]);
}

/* The arrays go first, all of pointer or 8-byte alignment (struct
 * agora_resource, agora_range and agora_kv are sized in those), then
 * the strings. */
static struct mar_held *held_copy(const struct agora_offer *o)
{
    const struct agora_resources *r = o->resources;
    struct held_size z = held_size(o);
    struct mar_held *k = malloc(sizeof(*k) + z.arrays + z.strings);
    struct agora_kv *kv;
    char *arrays, *strs;
    size_t i;

    if (k == NULL)
        return NULL;
    memset(k, 0, sizeof(*k));
    arrays = (char *)(k + 1);
    strs = arrays + z.arrays;
    k->res.n = r ? r->n : 0;
    k->res.v = k->res.n ? take(&arrays, k->res.n * sizeof(*k->res.v)) : NULL;
    for (i = 0; i < k->res.n; i++)
        held_res_copy(&k->res.v[i], &r->v[i], &arrays, &strs);
    kv = o->nattributes ? take(&arrays, o->nattributes * sizeof(*kv)) : NULL;
    for (i = 0; i < o->nattributes; i++) {
        kv[i].key = take_str(&strs, o->attributes[i].key);
        kv[i].value = take_str(&strs, o->attributes[i].value);
    }
    k->o.id = take_str(&strs, o->id);
    k->o.agent_id = take_str(&strs, o->agent_id);
    k->o.hostname = take_str(&strs, o->hostname);
    k->o.resources = &k->res;
    k->o.attributes = kv;
    k->o.nattributes = o->nattributes;
    return k;
}

static void held_free(struct mar_held *k)
{
    free(k);
}

int mar_offers_hold(struct mar *m, const struct agora_offer *o)
{
    double now = mar_now(m);
    struct mar_held *k;

    if (m->conf->offer_hold <= 0 || m->demand_at <= 0 ||
        now - m->demand_at > m->conf->offer_hold)
        return AGORA_EINVAL; /* no burst under way: decline */
    if (m->nheld == m->capheld) {
        size_t c = m->capheld ? m->capheld * 2 : 64;
        struct mar_held **v = realloc(m->held, c * sizeof(*v));

        if (v == NULL)
            return AGORA_ENOMEM;
        m->held = v;
        m->capheld = c;
    }
    if ((k = held_copy(o)) == NULL)
        return AGORA_ENOMEM;
    k->until = now + m->conf->offer_hold;
    m->held[m->nheld++] = k;
    m->offers_held++;
    return 0;
}

size_t mar_offers_n(const struct mar *m)
{
    return m->nheld;
}

const struct agora_offer *mar_offers_at(const struct mar *m, size_t i)
{
    return &m->held[i]->o;
}

/* Order does not matter to the fill (any offer serves the first app
 * that fits it), so the last one takes the freed place. */
static void held_remove(struct mar *m, size_t i)
{
    held_free(m->held[i]);
    m->held[i] = m->held[--m->nheld];
}

void mar_offers_spent(struct mar *m, size_t i)
{
    held_remove(m, i);
}

void mar_offers_expire(struct mar *m, double now, int all)
{
    size_t i = 0;

    while (i < m->nheld) {
        if (!all && m->held[i]->until > now) {
            i++;
            continue;
        }
        m->api->decline(m->fw, m->held[i]->o.id, -1);
        m->offers_declined++;
        held_remove(m, i);
    }
}

void mar_offers_rescind(struct mar *m, const char *offer_id)
{
    size_t i;

    for (i = 0; i < m->nheld; i++) {
        if (strcmp(m->held[i]->o.id, offer_id) == 0) {
            held_remove(m, i);
            return;
        }
    }
}

void mar_offers_free(struct mar *m)
{
    size_t i;

    /* The host takes back a plugin's outstanding offers as it unloads
     * it: nothing to decline. */
    for (i = 0; i < m->nheld; i++)
        held_free(m->held[i]);
    free(m->held);
    m->held = NULL;
    m->nheld = m->capheld = 0;
}
