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
 * Each kept offer is a copy: the host's structs are borrowed for the
 * call only.
 */
#include <stdlib.h>
#include <string.h>

#include "marathon.h"

struct mar_held {
    struct agora_offer o; /* points into the copies below               */
    struct agora_resources res;
    double until;         /* declined at the first tick past this       */
};

static void held_free(struct mar_held *k)
{
    size_t i;

    if (k == NULL)
        return;
    free((char *)k->o.id);
    free((char *)k->o.agent_id);
    free((char *)k->o.hostname);
    for (i = 0; i < k->o.nattributes; i++) {
        free((char *)k->o.attributes[i].key);
        free((char *)k->o.attributes[i].value);
    }
    free((struct agora_kv *)k->o.attributes);
    agora_resources_free(&k->res);
    free(k);
}

static struct mar_held *held_copy(const struct agora_offer *o)
{
    struct mar_held *k = calloc(1, sizeof(*k));
    struct agora_kv *kv = NULL;
    size_t i;

    if (k == NULL)
        return NULL;
    k->o.id = strdup(o->id);
    k->o.agent_id = strdup(o->agent_id);
    k->o.hostname = strdup(o->hostname ? o->hostname : "");
    if (k->o.id == NULL || k->o.agent_id == NULL || k->o.hostname == NULL ||
        agora_resources_copy(&k->res, o->resources) != 0)
        goto fail;
    k->o.resources = &k->res;
    if (o->nattributes > 0) {
        kv = calloc(o->nattributes, sizeof(*kv));
        if (kv == NULL)
            goto fail;
        k->o.attributes = kv;
        for (i = 0; i < o->nattributes; i++) {
            kv[i].key = strdup(o->attributes[i].key);
            kv[i].value = strdup(o->attributes[i].value);
            k->o.nattributes++;
            if (kv[i].key == NULL || kv[i].value == NULL)
                goto fail;
        }
    }
    return k;
fail:
    held_free(k);
    return NULL;
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
