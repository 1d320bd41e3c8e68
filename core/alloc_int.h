/*
 * alloc_int.h - the allocator's insides, shared by its files:
 *   alloc.c       agents, frameworks, offers, cycles, filters
 *   alloc_order.c who comes first: dominant shares, the role and
 *                 framework heaps, weights and quota
 *   alloc_view.c  figures: stats, totals, metrics, roles, agent views
 *   alloc_place.c where tasks' resources come from (use, accept)
 * Nothing outside the allocator includes it.
 */
#ifndef AGORA_ALLOC_INT_H
#define AGORA_ALLOC_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <ev.h>

#include <agora/plugin.h>

#include "alloc_res.h"
#include "alloc.h"
#include "map.h"

#define ALLOC_RUN_WINDOW 1024
#define ALLOC_REFUSE_MAX (365.0 * 86400.0)

struct pool {
    char *role;
    struct ar_bundle total, free;
    int64_t debt[AR_N]; /* taken by force beyond what was free */
};

/* What one framework holds on an agent by tasks (not offers). */
struct hold {
    struct alloc_fw *fw;
    int64_t s[AR_N];
};

struct alloc_agent {
    char *id;
    void *owner;
    struct pool *pools; /* pools[0] is unreserved */
    size_t npools;
    struct hold *holds; /* so that removing the agent untracks them */
    size_t nholds, capholds;
    int active, dirty;
    struct alloc_offer *offers;
};

/* What an offer took from one pool of its agent. */
struct take {
    size_t pool;
    struct ar_bundle r;
};

/* The view of an offer of scalars and port ranges from one pool fits in
 * the offer itself (one allocation an offer, not three): a scalar of
 * each kind, the ports, and a few ranges of them. A bigger view (two
 * pools, many ranges) is allocated. */
#define OFFER_VIEW_INLINE (AR_N + 1)
#define OFFER_RANGES_INLINE 4

struct alloc_offer {
    char id[24]; /* "O" and a 64-bit sequence number */
    struct alloc_agent *ag;
    struct alloc_fw *fw;
    struct take take[2];
    int ntake;
    struct agora_resources view;
    int view_owned; /* view made by the SDK: free it whole */
    struct agora_resource view_buf[OFFER_VIEW_INLINE];
    struct agora_range ranges_buf[OFFER_RANGES_INLINE];
    double created;
    int undelivered; /* still in fw->batch */
    struct alloc_offer *ag_prev, *ag_next, *fw_prev, *fw_next;
};

struct alloc_role {
    char *name;
    double weight;
    int64_t quota[AR_N];
    int has_quota;
    int64_t alloc[AR_N];
    double key; /* alloc_dominant share / weight, kept by alloc_role_rekey() */
    int needs_quota;        /* kept by alloc_role_rekey() */
    struct alloc_fw **heap; /* frameworks wanting offers, least share first */
    size_t nheap, capheap;
    size_t nfw;
    size_t index;   /* in alloc->rolev */
    size_t rank;    /* of its name among the roles' names */
    long rpos;      /* in alloc->rheap; -1: no framework wants */
    uint64_t visit; /* alloc->visit when it had its turn at the
                       agent allocate_agent() is at */
};

/*
 * A refuse filter, as Mesos has them: the framework declined `res` of an
 * agent, and refuses until `until` any offer of it that holds no more
 * than that. An agent that has more free since (a task ended) is offered
 * again at once: declining a nearly empty leftover must not block the
 * whole agent.
 */
struct alloc_filter {
    double until;
    struct ar_bundle res;
};

struct alloc_fw {
    char *id;
    void *owner;
    struct alloc_role *role;
    int64_t alloc[AR_N];
    double share;
    int suppressed;
    long heap_pos;      /* -1: not in its role's heap */
    struct map filters; /* agent id -> struct alloc_filter *  */
    struct alloc_offer *offers;
    struct alloc_offer **batch;
    size_t nbatch, capbatch;
};

struct filter_ev {
    double expiry;
    char *agent_id;
};

struct alloc {
    struct ev_loop *loop;
    struct alloc_conf conf;
    alloc_offer_fn on_offer;
    alloc_rescind_fn on_rescind;
    void *arg;

    struct map agents, fws, roles, offers;
    struct alloc_role **rolev;
    size_t nroles, caproles;
    struct alloc_role **rheap; /* roles with frameworks wanting offers,
                                  the one to serve first on top */
    size_t nrheap, caprheap;
    struct alloc_role **rskipped; /* allocate_agent()'s scratch */
    size_t caprskipped;
    uint64_t visit;
    struct alloc_agent **dirty;
    size_t ndirty, capdirty;
    int64_t total[AR_N];       /* of active agents, all pools */
    int64_t min_cpus, min_mem; /* conf's, in thousandths */
    int shares_stale;

    ev_timer cycle;
    double last_run;
    struct filter_ev *fheap;
    size_t nf, capf;
    ev_timer filter_timer;
    ev_timer offer_timer;
    struct alloc_fw **batched;
    size_t nbatched, capbatched;
    struct alloc_fw **skipped; /* pick_fw()'s scratch */
    size_t capskipped;

    uint64_t offer_seq;
    struct alloc_stats stats;
    double run_ms[ALLOC_RUN_WINDOW];
    size_t nruns;
};

static inline double alloc_now(const struct alloc *a)
{
    return a->loop ? ev_now(a->loop) : ev_time();
}

/* Grows *v (of *cap elements of size sz) to hold n. */
static inline int alloc_grow(void *vp, size_t *cap, size_t n, size_t sz)
{
    void **v = vp;
    size_t c = *cap ? *cap : 16;
    void *nv;

    if (n <= *cap)
        return 0;
    while (c < n)
        c *= 2;
    nv = realloc(*v, c * sz);
    if (nv == NULL)
        return AGORA_ENOMEM;
    *v = nv;
    *cap = c;
    return 0;
}

/* ---- alloc_order.c ---- */

double alloc_dominant(const struct alloc *a, const int64_t *held);
int alloc_role_cmp(const struct alloc_role *x, const struct alloc_role *y);
void alloc_rheap_remove(struct alloc *a, struct alloc_role *r);
void alloc_rheap_sync(struct alloc *a, struct alloc_role *r);
void alloc_role_key(const struct alloc *a, struct alloc_role *r);
void alloc_role_rekey(struct alloc *a, struct alloc_role *r);
int alloc_heap_push(struct alloc_role *r, struct alloc_fw *fw);
void alloc_heap_remove(struct alloc_role *r, struct alloc_fw *fw);
struct alloc_fw *alloc_heap_pop(struct alloc_role *r);
void alloc_shares_refresh(struct alloc *a);
void alloc_held_change(struct alloc *a, struct alloc_fw *fw,
                       const struct ar_bundle *b, int sign);
void alloc_hold_change(struct alloc_agent *ag, struct alloc_fw *fw,
                       const struct ar_bundle *b, int sign);
struct alloc_role *alloc_role_get(struct alloc *a, const char *name);
int alloc_parse_weights(struct alloc *a, const char *spec, char *err,
                        size_t errlen);
int alloc_parse_quota(struct alloc *a, const char *spec, char *err,
                      size_t errlen);

/* ---- alloc.c ---- */

size_t alloc_pool_of(const struct alloc_agent *ag, const char *role);
void alloc_mark_dirty(struct alloc *a, struct alloc_agent *ag);
void alloc_offer_return(struct alloc *a, struct alloc_offer *o,
                        struct ar_bundle *rem);

#endif /* AGORA_ALLOC_INT_H */
