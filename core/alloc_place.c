/*
 * alloc_place.c - where a task's resources come from: plain resources
 * from its role's reservation first, then unreserved, annotated so they
 * go back to the same pools; tasks placed without an offer
 * (alloc_use) and from one (alloc_accept).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/resources.h>

#include "alloc_int.h"
#include "log.h"

/* ---- placing resources in pools ---- */

/*
 * Splits the plain ("*") part of want between a role's pool and the
 * unreserved one: scalars take what the role has first, ports and other
 * resources go to the role when it holds them whole. Fills role_part and
 * unres_part (both empty on entry).
 */
static int split_plain(const struct ar_bundle *want,
                       const struct ar_bundle *role_free,
                       struct ar_bundle *role_part,
                       struct ar_bundle *unres_part)
{
    size_t i;
    int k;

    for (k = 0; k < AR_N; k++) {
        int64_t r = role_free && role_free->s[k] < want->s[k]
                        ? role_free->s[k]
                        : role_free ? want->s[k] : 0;

        role_part->s[k] = r;
        unres_part->s[k] = want->s[k] - r;
    }
    for (i = 0; i < want->ports.n; i++) {
        struct ar_ranges one = {(struct agora_range *)&want->ports.v[i], 1, 1};
        struct ar_ranges *dst =
            role_free && ar_ranges_contains(&role_free->ports, &one)
                ? &role_part->ports
                : &unres_part->ports;

        if (ar_ranges_add(dst, &one) < 0)
            return AGORA_ENOMEM;
    }
    if (want->extra.n) {
        int in_role = role_free &&
                      agora_resources_contains(&role_free->extra, &want->extra);

        if (agora_resources_add(in_role ? &role_part->extra
                                        : &unres_part->extra,
                                &want->extra) < 0)
            return AGORA_ENOMEM;
    }
    return 0;
}

/*
 * Where the resources r of a framework of role would come from: into
 * part[0] (role pool p, 0 if none) and part[1] (unreserved). Resources
 * reserved for another role are an error.
 */
static int place(const struct agora_resources *r, const char *role,
                 const struct ar_bundle *role_free, struct ar_bundle *part,
                 char *err, size_t errlen)
{
    struct ar_bundle plain, mine, rp, up;
    size_t i;
    int rc;

    for (i = 0; i < r->n; i++)
        if (strcmp(r->v[i].role, "*") && strcmp(r->v[i].role, role)) {
            snprintf(err, errlen, "resource %s(%s) is reserved for another "
                                  "role than the framework's (%s)",
                     r->v[i].name, r->v[i].role, role);
            return AGORA_EINVAL;
        }
    memset(&plain, 0, sizeof(plain));
    memset(&mine, 0, sizeof(mine));
    memset(&rp, 0, sizeof(rp));
    memset(&up, 0, sizeof(up));
    rc = ar_from(r, "*", &plain);
    if (rc == 0 && strcmp(role, "*"))
        rc = ar_from(r, role, &mine);
    if (rc == 0)
        rc = split_plain(&plain, role_free, &rp, &up);
    if (rc == 0)
        rc = ar_add(&part[0], &mine);
    if (rc == 0)
        rc = ar_add(&part[0], &rp);
    if (rc == 0)
        rc = ar_add(&part[1], &up);
    ar_free(&plain);
    ar_free(&mine);
    ar_free(&rp);
    ar_free(&up);
    return rc;
}

/* The placed resources, annotated: part[0] as role, part[1] as "*". */
static int placed_of(const struct ar_bundle *part, const char *role,
                     struct agora_resources *out)
{
    if (strcmp(role, "*") && ar_to(&part[0], role, out) < 0)
        return AGORA_ENOMEM;
    return ar_to(&part[1], "*", out);
}

/* Takes b from pool p, by force beyond what is free: the scalars it
 * lacks become debt, which pool_give() pays before freeing anything. */
static void pool_take(struct pool *p, const struct ar_bundle *b)
{
    size_t i;
    int k;

    if (ar_sub(&p->free, b) == 0)
        return;
    for (k = 0; k < AR_N; k++)
        if (b->s[k] > p->free.s[k])
            p->debt[k] += b->s[k] - p->free.s[k];
    ar_sub_clamp(&p->free, b);
    for (i = 0; i < b->ports.n; i++) {
        struct ar_ranges one = {&b->ports.v[i], 1, 1};

        if (ar_ranges_contains(&p->free.ports, &one))
            ar_ranges_sub(&p->free.ports, &one);
    }
}

/* Gives b back to pool p (b is consumed: the debt is paid from it). */
static void pool_give(struct pool *p, struct ar_bundle *b)
{
    int k;

    for (k = 0; k < AR_N; k++) {
        int64_t pay = p->debt[k] < b->s[k] ? p->debt[k] : b->s[k];

        p->debt[k] -= pay;
        b->s[k] -= pay;
    }
    if (ar_add(&p->free, b) < 0)
        log_error("allocator", "out of memory freeing resources");
}

int alloc_use(struct alloc *a, struct alloc_agent *ag, struct alloc_fw *fw,
              const struct agora_resources *r, int force,
              struct agora_resources *placed)
{
    const char *role = fw ? fw->role->name : "*";
    size_t p = strcmp(role, "*") ? alloc_pool_of(ag, role) : 0;
    struct ar_bundle part[2], sum;
    char err[200];
    int rc;

    memset(part, 0, sizeof(part));
    rc = place(r, role, p ? &ag->pools[p].free : NULL, part, err, sizeof(err));
    if (rc == 0 && !force &&
        (!ar_contains(&ag->pools[0].free, &part[1]) ||
         (p && !ar_contains(&ag->pools[p].free, &part[0])) ||
         (!p && !ar_is_empty(&part[0]))))
        rc = AGORA_EINVAL;
    if (rc == 0)
        rc = placed_of(part, role, placed);
    if (rc == 0) {
        pool_take(&ag->pools[0], &part[1]);
        if (p)
            pool_take(&ag->pools[p], &part[0]);
        memset(&sum, 0, sizeof(sum));
        ar_add(&sum, &part[0]);
        ar_add(&sum, &part[1]);
        alloc_held_change(a, fw, &sum, +1);
        alloc_hold_change(ag, fw, &sum, +1);
        ar_free(&sum);
    }
    ar_free(&part[0]);
    ar_free(&part[1]);
    return rc;
}

void alloc_release(struct alloc *a, struct alloc_agent *ag,
                   struct alloc_fw *fw, const struct agora_resources *placed)
{
    size_t i;

    for (i = 0; i < ag->npools; i++) {
        struct ar_bundle b;

        memset(&b, 0, sizeof(b));
        if (ar_from(placed, ag->pools[i].role, &b) == 0 && !ar_is_empty(&b)) {
            alloc_held_change(a, fw, &b, -1);
            alloc_hold_change(ag, fw, &b, -1);
            pool_give(&ag->pools[i], &b);
        }
        ar_free(&b);
    }
    alloc_mark_dirty(a, ag);
}


/* ---- offers: the framework's answer ---- */

const char *alloc_offer_id(const struct alloc_offer *o) { return o->id; }

const char *alloc_offer_agent_id(const struct alloc_offer *o)
{
    return o->ag->id;
}

const struct agora_resources *alloc_offer_resources(const struct alloc_offer *o)
{
    return &o->view;
}

struct alloc_offer *alloc_offer_find(struct alloc *a, const char *id)
{
    return id ? map_get(&a->offers, id) : NULL;
}

/* Which takes of the offer are the role's and the unreserved one. */
static void offer_parts(const struct alloc_offer *o, int *role_i, int *unres_i)
{
    int i;

    *role_i = *unres_i = -1;
    for (i = 0; i < o->ntake; i++) {
        if (o->take[i].pool == 0)
            *unres_i = i;
        else
            *role_i = i;
    }
}

/* Takes task resources r out of rem (the offer's remaining takes). */
static int accept_one(struct alloc_offer *o, const struct agora_resources *r,
                      struct ar_bundle *rem, struct agora_resources *placed,
                      char *err, size_t errlen)
{
    const char *role = o->fw->role->name;
    struct ar_bundle part[2];
    int ri, ui, rc;

    offer_parts(o, &ri, &ui);
    memset(part, 0, sizeof(part));
    rc = place(r, role, ri >= 0 ? &rem[ri] : NULL, part, err, errlen);
    if (rc == 0 && ((ri < 0 && !ar_is_empty(&part[0])) ||
                    (ri >= 0 && !ar_contains(&rem[ri], &part[0])) ||
                    (ui < 0 && !ar_is_empty(&part[1])) ||
                    (ui >= 0 && !ar_contains(&rem[ui], &part[1])))) {
        snprintf(err, errlen, "the task's resources (or ports) are not "
                              "within what is left of offer %s",
                 o->id);
        rc = AGORA_EINVAL;
    }
    if (rc == 0 && ri >= 0)
        rc = ar_sub(&rem[ri], &part[0]);
    if (rc == 0 && ui >= 0)
        rc = ar_sub(&rem[ui], &part[1]);
    if (rc == 0)
        rc = placed_of(part, role, placed);
    ar_free(&part[0]);
    ar_free(&part[1]);
    return rc;
}

int alloc_accept(struct alloc *a, struct alloc_fw *fw, struct alloc_offer *o,
                 const struct agora_resources *const *rs, size_t n,
                 struct agora_resources *placed, size_t *bad, char *err,
                 size_t errlen)
{
    struct ar_bundle rem[2];
    size_t i;
    int k, rc = 0;

    if (o->fw != fw) {
        snprintf(err, errlen, "offer %s belongs to another framework", o->id);
        return AGORA_EINVAL;
    }
    memset(rem, 0, sizeof(rem));
    for (k = 0; k < o->ntake && rc == 0; k++)
        rc = ar_copy(&rem[k], &o->take[k].r);
    for (i = 0; i < n && rc == 0; i++) {
        rc = accept_one(o, rs[i], rem, &placed[i], err, errlen);
        if (rc < 0)
            *bad = i;
    }
    if (rc < 0) {
        for (i = 0; i < n; i++)
            agora_resources_free(&placed[i]);
    } else {
        struct ar_bundle got;

        memset(&got, 0, sizeof(got));
        for (k = 0; k < o->ntake; k++) {
            int j;

            for (j = 0; j < AR_N; j++)
                got.s[j] += o->take[k].r.s[j] - rem[k].s[j];
        }
        alloc_hold_change(o->ag, fw, &got, +1);
        a->stats.offers_accepted++;
        alloc_offer_return(a, o, rem);
    }
    for (k = 0; k < 2; k++)
        ar_free(&rem[k]);
    return rc;
}

