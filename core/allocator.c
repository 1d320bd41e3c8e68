/*
 * allocator.c - hierarchical DRF offers (see allocator.h).
 *
 * Bookkeeping, per agent: one pool per role it has resources for (pool 0
 * is unreserved, "*"), each with its total and what is free (neither used
 * by a task nor offered). Per framework and per role: the scalars they
 * hold (used + offered), from which dominant shares come. A cycle walks
 * the dirty agents; for each it picks the neediest role that can use
 * something on it, then that role's framework of least share that has no
 * refuse filter for the agent, and offers it the agent's free unreserved
 * resources plus its role's reservation there.
 */
#include "allocator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include <agora/json.h>
#include <agora/resources.h>

#include "alloc_res.h"
#include "log.h"
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

struct alloc_offer {
    char id[24];            /* "O" and a 64-bit sequence number */
    struct alloc_agent *ag;
    struct alloc_fw *fw;
    struct take take[2];
    int ntake;
    struct agora_resources view;
    int view_owned;         /* view made by the SDK: free it whole */
    double created;
    int undelivered;        /* still in fw->batch */
    struct alloc_offer *ag_prev, *ag_next, *fw_prev, *fw_next;
};

struct alloc_role {
    char *name;
    double weight;
    int64_t quota[AR_N];
    int has_quota;
    int64_t alloc[AR_N];
    double key;             /* dominant share / weight, kept by role_rekey() */
    int needs_quota;        /* kept by role_rekey() */
    struct alloc_fw **heap; /* frameworks wanting offers, least share first */
    size_t nheap, capheap;
    size_t nfw;
    size_t index;           /* in alloc->rolev */
    size_t rank;            /* of its name among the roles' names */
    long rpos;              /* in alloc->rheap; -1: no framework wants */
    uint64_t visit;         /* alloc->visit when it had its turn at the
                               agent allocate_agent() is at */
};

struct alloc_fw {
    char *id;
    void *owner;
    struct alloc_role *role;
    int64_t alloc[AR_N];
    double share;
    int suppressed;
    long heap_pos;          /* -1: not in its role's heap */
    struct map filters;     /* agent id -> double * expiry */
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
    int64_t total[AR_N];    /* of active agents, all pools */
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

static double alloc_now(const struct alloc *a)
{
    return a->loop ? ev_now(a->loop) : ev_time();
}

/* Grows *v (of *cap elements of size sz) to hold n. */
static int grow(void *vp, size_t *cap, size_t n, size_t sz)
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

/* ---- shares ---- */

static double dominant(const struct alloc *a, const int64_t *held)
{
    double share = 0;
    int k;

    for (k = 0; k < AR_N; k++)
        if (a->total[k] > 0) {
            double s = (double)held[k] / (double)a->total[k];

            if (s > share)
                share = s;
        }
    return share;
}

static int role_needs_quota(const struct alloc_role *r)
{
    int k;

    if (!r->has_quota)
        return 0;
    for (k = 0; k < AR_N; k++)
        if (r->quota[k] > 0 && r->alloc[k] < r->quota[k])
            return 1;
    return 0;
}

/* < 0 when role x should be served before role y. */
static int role_cmp(const struct alloc_role *x, const struct alloc_role *y)
{
    if (x->needs_quota != y->needs_quota)
        return y->needs_quota - x->needs_quota;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* ---- the role heap (the role to serve first on top) ---- */

static void rheap_set(struct alloc *a, size_t i, struct alloc_role *r)
{
    a->rheap[i] = r;
    r->rpos = (long)i;
}

static void rheap_up(struct alloc *a, size_t i)
{
    struct alloc_role *r = a->rheap[i];

    while (i > 0 && role_cmp(r, a->rheap[(i - 1) / 2]) < 0) {
        rheap_set(a, i, a->rheap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    rheap_set(a, i, r);
}

static void rheap_down(struct alloc *a, size_t i)
{
    struct alloc_role *r = a->rheap[i];

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= a->nrheap)
            break;
        if (c + 1 < a->nrheap && role_cmp(a->rheap[c + 1], a->rheap[c]) < 0)
            c++;
        if (role_cmp(a->rheap[c], r) >= 0)
            break;
        rheap_set(a, i, a->rheap[c]);
        i = c;
    }
    rheap_set(a, i, r);
}

static void rheap_insert(struct alloc *a, struct alloc_role *r)
{
    if (grow(&a->rheap, &a->caprheap, a->nrheap + 1, sizeof(*a->rheap)) < 0) {
        log_error("allocator", "out of memory: role %s gets no offers",
                  r->name);
        return;
    }
    rheap_set(a, a->nrheap++, r);
    rheap_up(a, a->nrheap - 1);
}

static void rheap_remove(struct alloc *a, struct alloc_role *r)
{
    size_t i = (size_t)r->rpos;

    if (r->rpos < 0)
        return;
    r->rpos = -1;
    if (--a->nrheap == i)
        return;
    rheap_set(a, i, a->rheap[a->nrheap]);
    rheap_down(a, i);
    rheap_up(a, (size_t)a->rheap[i]->rpos);
}

/* r's frameworks came or went: it is in the heap iff one wants offers. */
static void rheap_sync(struct alloc *a, struct alloc_role *r)
{
    if (r->nheap > 0 && r->rpos < 0)
        rheap_insert(a, r);
    else if (r->nheap == 0 && r->rpos >= 0)
        rheap_remove(a, r);
}

static void role_key(const struct alloc *a, struct alloc_role *r)
{
    r->needs_quota = role_needs_quota(r);
    r->key = dominant(a, r->alloc) / r->weight;
}

/* The role's allocation moved: so does its place in the order. */
static void role_rekey(struct alloc *a, struct alloc_role *r)
{
    role_key(a, r);
    if (r->rpos >= 0) {
        rheap_up(a, (size_t)r->rpos);
        rheap_down(a, (size_t)r->rpos);
    }
}

/* ---- framework heaps (per role, least share on top) ---- */

static int fw_less(const struct alloc_fw *x, const struct alloc_fw *y)
{
    if (x->share != y->share)
        return x->share < y->share;
    return strcmp(x->id, y->id) < 0;
}

static void heap_set(struct alloc_role *r, size_t i, struct alloc_fw *fw)
{
    r->heap[i] = fw;
    fw->heap_pos = (long)i;
}

static void heap_up(struct alloc_role *r, size_t i)
{
    struct alloc_fw *fw = r->heap[i];

    while (i > 0 && fw_less(fw, r->heap[(i - 1) / 2])) {
        heap_set(r, i, r->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(r, i, fw);
}

static void heap_down(struct alloc_role *r, size_t i)
{
    struct alloc_fw *fw = r->heap[i];

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= r->nheap)
            break;
        if (c + 1 < r->nheap && fw_less(r->heap[c + 1], r->heap[c]))
            c++;
        if (!fw_less(r->heap[c], fw))
            break;
        heap_set(r, i, r->heap[c]);
        i = c;
    }
    heap_set(r, i, fw);
}

static int heap_push(struct alloc_role *r, struct alloc_fw *fw)
{
    if (grow(&r->heap, &r->capheap, r->nheap + 1, sizeof(*r->heap)) < 0)
        return AGORA_ENOMEM;
    r->heap[r->nheap] = fw;
    fw->heap_pos = (long)r->nheap++;
    heap_up(r, r->nheap - 1);
    return 0;
}

static void heap_remove(struct alloc_role *r, struct alloc_fw *fw)
{
    size_t i = (size_t)fw->heap_pos;

    if (fw->heap_pos < 0)
        return;
    fw->heap_pos = -1;
    if (--r->nheap == i)
        return;
    heap_set(r, i, r->heap[r->nheap]);
    heap_down(r, i);
    heap_up(r, (size_t)r->heap[i]->heap_pos);
}

static struct alloc_fw *heap_pop(struct alloc_role *r)
{
    struct alloc_fw *top = r->nheap ? r->heap[0] : NULL;

    if (top)
        heap_remove(r, top);
    return top;
}

/* The framework's share changed: move it in its heap. */
static void fw_reshare(struct alloc *a, struct alloc_fw *fw)
{
    fw->share = dominant(a, fw->alloc);
    if (fw->heap_pos >= 0) {
        heap_up(fw->role, (size_t)fw->heap_pos);
        heap_down(fw->role, (size_t)fw->heap_pos);
    }
}

/* Cluster totals moved: every share is relative to them. */
static void shares_refresh(struct alloc *a)
{
    size_t i, j;

    for (i = 0; i < a->nroles; i++) {
        struct alloc_role *r = a->rolev[i];

        role_key(a, r);
        for (j = 0; j < r->nheap; j++)
            r->heap[j]->share = dominant(a, r->heap[j]->alloc);
        for (j = r->nheap / 2; j-- > 0;)
            heap_down(r, j);
    }
    for (j = a->nrheap / 2; j-- > 0;)
        rheap_down(a, j);
    a->shares_stale = 0;
}

/* fw and its role now hold sign * b more. */
static void held_change(struct alloc *a, struct alloc_fw *fw,
                        const struct ar_bundle *b, int sign)
{
    int k;

    if (fw == NULL)
        return;
    for (k = 0; k < AR_N; k++) {
        fw->alloc[k] += sign * b->s[k];
        fw->role->alloc[k] += sign * b->s[k];
        if (fw->alloc[k] < 0)
            fw->alloc[k] = 0;
        if (fw->role->alloc[k] < 0)
            fw->role->alloc[k] = 0;
    }
    role_rekey(a, fw->role);
    fw_reshare(a, fw);
}

/* fw holds sign * b more on ag by tasks. */
static void hold_change(struct alloc_agent *ag, struct alloc_fw *fw,
                        const struct ar_bundle *b, int sign)
{
    size_t i;
    int k, zero = 1;

    if (fw == NULL)
        return;
    for (i = 0; i < ag->nholds && ag->holds[i].fw != fw; i++)
        ;
    if (i == ag->nholds) {
        if (sign < 0 || grow(&ag->holds, &ag->capholds, i + 1,
                             sizeof(*ag->holds)) < 0)
            return;
        memset(&ag->holds[i], 0, sizeof(ag->holds[i]));
        ag->holds[i].fw = fw;
        ag->nholds++;
    }
    for (k = 0; k < AR_N; k++) {
        ag->holds[i].s[k] += sign * b->s[k];
        if (ag->holds[i].s[k] < 0)
            ag->holds[i].s[k] = 0;
        if (ag->holds[i].s[k])
            zero = 0;
    }
    if (zero)
        ag->holds[i] = ag->holds[--ag->nholds];
}

/* ---- scheduling ---- */

static void alloc_schedule(struct alloc *a)
{
    double delay;

    if (a->loop == NULL || ev_is_active(&a->cycle))
        return;
    delay = a->last_run + a->conf.interval - alloc_now(a);
    ev_timer_set(&a->cycle, delay > 0 ? delay : 0., 0.);
    ev_timer_start(a->loop, &a->cycle);
}

static void mark_dirty(struct alloc *a, struct alloc_agent *ag)
{
    if (ag->dirty || !ag->active)
        return;
    if (grow(&a->dirty, &a->capdirty, a->ndirty + 1, sizeof(*a->dirty)) < 0) {
        log_error("allocator", "out of memory: agent %s not reconsidered",
                  ag->id);
        return;
    }
    ag->dirty = 1;
    a->dirty[a->ndirty++] = ag;
    alloc_schedule(a);
}

void alloc_dirty_all(struct alloc *a)
{
    size_t pos = 0;
    void *v;

    while (map_next(&a->agents, &pos, NULL, &v))
        mark_dirty(a, v);
}

/* ---- roles ---- */

static struct alloc_role *role_get(struct alloc *a, const char *name)
{
    struct alloc_role *r = map_get(&a->roles, name);
    size_t i;

    if (r)
        return r;
    r = calloc(1, sizeof(*r));
    if (r == NULL || (r->name = strdup(name)) == NULL ||
        grow(&a->rolev, &a->caproles, a->nroles + 1, sizeof(*a->rolev)) < 0) {
        if (r)
            free(r->name);
        free(r);
        return NULL;
    }
    r->weight = 1.0;
    r->rpos = -1;
    if (map_put(&a->roles, r->name, r, NULL) < 0) {
        free(r->name);
        free(r);
        return NULL;
    }
    r->index = a->nroles;
    /* Ties between roles go by name: keep the names' order as ranks. */
    for (i = 0; i < a->nroles; i++) {
        if (strcmp(a->rolev[i]->name, name) < 0)
            r->rank++;
        else
            a->rolev[i]->rank++;
    }
    a->rolev[a->nroles++] = r;
    return r;
}

static int parse_weights(struct alloc *a, const char *spec, char *err,
                         size_t errlen)
{
    char *copy, *item, *save = NULL;
    int rc = 0;

    if (spec == NULL || *spec == '\0')
        return 0;
    if ((copy = strdup(spec)) == NULL)
        return AGORA_ENOMEM;
    for (item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '='), *end;
        struct alloc_role *r;
        double w;

        w = eq ? strtod(eq + 1, &end) : 0;
        if (eq == NULL || eq == item || *end || !(w > 0)) {
            snprintf(err, errlen, "--weights: '%s' is not role=weight (> 0)",
                     item);
            rc = AGORA_EINVAL;
            break;
        }
        *eq = '\0';
        if ((r = role_get(a, item)) == NULL)
            rc = AGORA_ENOMEM;
        else
            r->weight = w;
    }
    free(copy);
    return rc;
}

/* "role:cpus=4;mem=4096,other:cpus=1" */
static int parse_quota_one(struct alloc *a, char *item, char *err,
                           size_t errlen)
{
    char *colon = strchr(item, ':'), *kv, *save = NULL;
    struct alloc_role *r;

    if (colon == NULL || colon == item) {
        snprintf(err, errlen, "--quota: '%s' is not role:name=value;...",
                 item);
        return AGORA_EINVAL;
    }
    *colon = '\0';
    if ((r = role_get(a, item)) == NULL)
        return AGORA_ENOMEM;
    for (kv = strtok_r(colon + 1, ";", &save); kv;
         kv = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(kv, '='), *end;
        double v = eq ? strtod(eq + 1, &end) : -1;
        int k;

        for (k = 0; eq && k < AR_N; k++)
            if ((size_t)(eq - kv) == strlen(ar_names[k]) &&
                strncmp(kv, ar_names[k], (size_t)(eq - kv)) == 0)
                break;
        if (eq == NULL || k == AR_N || *end || v < 0) {
            snprintf(err, errlen, "--quota: '%s' of role %s is not "
                                  "cpus|mem|disk|gpus=value",
                     kv, item);
            return AGORA_EINVAL;
        }
        r->quota[k] = ar_milli(v);
        r->has_quota = 1;
    }
    return 0;
}

static int parse_quota(struct alloc *a, const char *spec, char *err,
                       size_t errlen)
{
    char *copy, *item, *save = NULL;
    int rc = 0;

    if (spec == NULL || *spec == '\0')
        return 0;
    if ((copy = strdup(spec)) == NULL)
        return AGORA_ENOMEM;
    for (item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save))
        rc = parse_quota_one(a, item, err, errlen);
    free(copy);
    return rc;
}

/* ---- offers: making and returning ---- */

static void offer_link(struct alloc_offer *o)
{
    o->ag_next = o->ag->offers;
    if (o->ag->offers)
        o->ag->offers->ag_prev = o;
    o->ag->offers = o;
    o->fw_next = o->fw->offers;
    if (o->fw->offers)
        o->fw->offers->fw_prev = o;
    o->fw->offers = o;
}

/* Takes an offer out of its framework's batch of this cycle. */
static void batch_drop(struct alloc_offer *o)
{
    struct alloc_fw *fw = o->fw;
    size_t i;

    for (i = 0; i < fw->nbatch; i++)
        if (fw->batch[i] == o) {
            memmove(&fw->batch[i], &fw->batch[i + 1],
                    (fw->nbatch - i - 1) * sizeof(*fw->batch));
            fw->nbatch--;
            break;
        }
    o->undelivered = 0;
}

static void offer_unlink(struct alloc *a, struct alloc_offer *o)
{
    if (o->undelivered)
        batch_drop(o);
    if (o->ag_prev)
        o->ag_prev->ag_next = o->ag_next;
    else
        o->ag->offers = o->ag_next;
    if (o->ag_next)
        o->ag_next->ag_prev = o->ag_prev;
    if (o->fw_prev)
        o->fw_prev->fw_next = o->fw_next;
    else
        o->fw->offers = o->fw_next;
    if (o->fw_next)
        o->fw_next->fw_prev = o->fw_prev;
    map_remove(&a->offers, o->id);
    a->stats.outstanding--;
}

static void offer_free(struct alloc_offer *o)
{
    int i;

    for (i = 0; i < o->ntake; i++)
        ar_free(&o->take[i].r);
    if (o->view_owned) {
        agora_resources_free(&o->view);
    } else {
        size_t j;

        for (j = 0; j < o->view.n; j++)
            free(o->view.v[j].ranges);
        free(o->view.v);
    }
    free(o);
}

/* Gives back what is left of an offer (rem, per take) and frees it. */
static void offer_return(struct alloc *a, struct alloc_offer *o,
                         struct ar_bundle *rem)
{
    int i;

    for (i = 0; i < o->ntake; i++) {
        struct pool *p = &o->ag->pools[o->take[i].pool];

        if (ar_add(&p->free, &rem[i]) < 0)
            log_error("allocator", "out of memory returning offer %s", o->id);
        held_change(a, o->fw, &rem[i], -1);
    }
    offer_unlink(a, o);
    mark_dirty(a, o->ag);
    offer_free(o);
}

static void offer_return_all(struct alloc *a, struct alloc_offer *o)
{
    struct ar_bundle rem[2];
    int i, n = o->ntake; /* o is freed by offer_return() */

    for (i = 0; i < n; i++) {
        rem[i] = o->take[i].r;
        memset(&o->take[i].r, 0, sizeof(o->take[i].r));
    }
    offer_return(a, o, rem);
    for (i = 0; i < n; i++)
        ar_free(&rem[i]);
}

static void rescind(struct alloc *a, struct alloc_offer *o)
{
    a->stats.offers_rescinded++;
    /* A framework is told only of offers it was given. */
    if (a->on_rescind && !o->undelivered)
        a->on_rescind(a->arg, o->fw, o);
    offer_return_all(a, o);
}

static size_t pool_of(const struct alloc_agent *ag, const char *role)
{
    size_t i;

    for (i = 1; i < ag->npools; i++)
        if (strcmp(ag->pools[i].role, role) == 0)
            return i;
    return 0;
}

/* Worth offering: Mesos' min_allocatable (cpus or mem above the floor). */
static int worth(const struct alloc *a, const struct ar_bundle *b)
{
    return (b->s[AR_CPUS] > 0 && b->s[AR_CPUS] >= a->min_cpus) ||
           (b->s[AR_MEM] > 0 && b->s[AR_MEM] >= a->min_mem);
}

/* Moves a pool's free resources into the offer. */
static void offer_take(struct alloc_offer *o, struct alloc_agent *ag,
                       size_t p)
{
    struct take *t = &o->take[o->ntake++];

    t->pool = p;
    t->r = ag->pools[p].free;
    memset(&ag->pools[p].free, 0, sizeof(ag->pools[p].free));
}

static int batch_add(struct alloc *a, struct alloc_fw *fw,
                     struct alloc_offer *o)
{
    if (fw->nbatch == 0 &&
        grow(&a->batched, &a->capbatched, a->nbatched + 1,
             sizeof(*a->batched)) == 0)
        a->batched[a->nbatched++] = fw;
    if (grow(&fw->batch, &fw->capbatch, fw->nbatch + 1, sizeof(*fw->batch)) <
        0)
        return AGORA_ENOMEM;
    fw->batch[fw->nbatch++] = o;
    o->undelivered = 1;
    return 0;
}

/*
 * The offer's resources as the SDK shows them, built in normal form
 * (sorted by name, then role) straight from its takes. Names are static
 * and roles the agent's pools' (which outlive its offers), so an offer
 * costs two allocations, not a dozen strdup()s: offer_free() frees the
 * array and the port ranges only. Generic resources take the SDK's way.
 */
static int offer_view(struct alloc_offer *o, const struct alloc_agent *ag)
{
    static const int order[AR_N] = {AR_CPUS, AR_DISK, AR_GPUS, AR_MEM};
    const struct take *t[2] = {&o->take[0], &o->take[1]};
    struct agora_resource *v;
    size_t n = 0;
    int i, k;

    for (i = 0; i < o->ntake; i++)
        if (o->take[i].r.extra.n) {
            o->view_owned = 1;
            for (i = 0; i < o->ntake; i++)
                if (ar_to(&o->take[i].r, ag->pools[o->take[i].pool].role,
                          &o->view) < 0)
                    return AGORA_ENOMEM;
            return 0;
        }
    if (o->ntake == 2 && strcmp(ag->pools[t[1]->pool].role,
                                ag->pools[t[0]->pool].role) < 0) {
        t[0] = &o->take[1];
        t[1] = &o->take[0];
    }
    for (i = 0; i < o->ntake; i++) {
        for (k = 0; k < AR_N; k++)
            n += t[i]->r.s[k] > 0;
        n += t[i]->r.ports.n > 0;
    }
    if (n == 0 || (v = calloc(n, sizeof(*v))) == NULL)
        return n ? AGORA_ENOMEM : 0;
    o->view.v = v;
    for (k = 0; k < AR_N; k++)
        for (i = 0; i < o->ntake; i++)
            if (t[i]->r.s[order[k]] > 0) {
                v->name = (char *)ar_names[order[k]];
                v->role = ag->pools[t[i]->pool].role;
                v->type = AGORA_SCALAR;
                v->scalar = ar_unmilli(t[i]->r.s[order[k]]);
                v++;
                o->view.n++;
            }
    for (i = 0; i < o->ntake; i++) {
        const struct ar_ranges *pr = &t[i]->r.ports;

        if (pr->n == 0)
            continue;
        if ((v->ranges = malloc(pr->n * sizeof(*v->ranges))) == NULL)
            return AGORA_ENOMEM;
        memcpy(v->ranges, pr->v, pr->n * sizeof(*v->ranges));
        v->nranges = pr->n;
        v->name = (char *)"ports";
        v->role = ag->pools[t[i]->pool].role;
        v->type = AGORA_RANGES;
        v++;
        o->view.n++;
    }
    return 0;
}

/* "O" and seq in decimal, without printf's cost on the hot path. */
static void offer_name(char *out, uint64_t seq)
{
    char tmp[20];
    size_t n = 0, i;

    do
        tmp[n++] = (char)('0' + seq % 10);
    while ((seq /= 10) > 0);
    out[0] = 'O';
    for (i = 0; i < n; i++)
        out[1 + i] = tmp[n - 1 - i];
    out[1 + n] = '\0';
}

static void make_offer(struct alloc *a, struct alloc_fw *fw,
                       struct alloc_agent *ag)
{
    struct alloc_offer *o = calloc(1, sizeof(*o));
    size_t p = strcmp(fw->role->name, "*") ? pool_of(ag, fw->role->name) : 0;
    int i;

    if (o == NULL) {
        log_error("allocator", "out of memory making an offer");
        return;
    }
    offer_name(o->id, ++a->offer_seq);
    o->ag = ag;
    o->fw = fw;
    o->created = alloc_now(a);
    if (p > 0 && !ar_is_empty(&ag->pools[p].free))
        offer_take(o, ag, p);
    if (!ar_is_empty(&ag->pools[0].free))
        offer_take(o, ag, 0);
    if (offer_view(o, ag) < 0)
        log_error("allocator", "out of memory: offer %s shows only part "
                               "of its resources", o->id);
    for (i = 0; i < o->ntake; i++)
        held_change(a, fw, &o->take[i].r, +1);
    if (map_put(&a->offers, o->id, o, NULL) < 0)
        log_error("allocator", "out of memory: offer %s cannot be found by "
                               "its id", o->id);
    offer_link(o);
    a->stats.offers_sent++;
    a->stats.outstanding++;
    batch_add(a, fw, o);
}

/* ---- the cycle ---- */

/* 1 when fw refuses ag for now; expired filters are dropped here. */
static int filtered(struct alloc *a, struct alloc_fw *fw,
                    const struct alloc_agent *ag)
{
    double *until = fw->filters.len ? map_get(&fw->filters, ag->id) : NULL;

    if (until == NULL)
        return 0;
    if (*until > alloc_now(a))
        return 1;
    free(map_remove(&fw->filters, ag->id));
    return 0;
}

/* The least-share framework of r that takes ag, popped from its heap. */
static struct alloc_fw *pick_fw(struct alloc *a, struct alloc_role *r,
                                struct alloc_agent *ag)
{
    struct alloc_fw *fw;
    size_t nskipped = 0, i;

    /* Every filtered framework is skipped, however many: giving up after
     * a few would starve the rest of the role on this agent. */
    while ((fw = heap_pop(r)) != NULL && filtered(a, fw, ag)) {
        if (grow(&a->skipped, &a->capskipped, nskipped + 1,
                 sizeof(*a->skipped)) < 0) {
            heap_push(r, fw); /* cannot fail: it was just popped */
            fw = NULL;
            break;
        }
        a->skipped[nskipped++] = fw;
    }
    for (i = 0; i < nskipped; i++)
        heap_push(r, a->skipped[i]);
    return fw;
}

/* The neediest role, not yet visited at ag, that has a reservation
 * worth offering there. */
static struct alloc_role *pick_reserved(struct alloc *a,
                                        struct alloc_agent *ag)
{
    struct alloc_role *best = NULL;
    size_t i;

    for (i = 1; i < ag->npools; i++) {
        struct alloc_role *r = map_get(&a->roles, ag->pools[i].role);

        if (r == NULL || r->visit == a->visit || r->nheap == 0 ||
            !worth(a, &ag->pools[i].free))
            continue;
        if (best == NULL || role_cmp(r, best) < 0)
            best = r;
    }
    return best;
}

/*
 * The agent's unreserved part goes to the neediest role (the top of the
 * role heap) whose least-share framework does not refuse the agent; the
 * roles passed over leave the heap meanwhile, so a cycle costs
 * O(log roles) an agent, not a scan of every role.
 */
static void offer_unreserved(struct alloc *a, struct alloc_agent *ag)
{
    size_t n = 0, i;

    while (a->nrheap) {
        struct alloc_role *r = a->rheap[0];
        struct alloc_fw *fw;

        if (grow(&a->rskipped, &a->caprskipped, n + 1,
                 sizeof(*a->rskipped)) < 0)
            break;
        rheap_remove(a, r);
        a->rskipped[n++] = r;
        r->visit = a->visit;
        if ((fw = pick_fw(a, r, ag)) != NULL) {
            make_offer(a, fw, ag);
            heap_push(r, fw);
            break;
        }
    }
    for (i = 0; i < n; i++)
        rheap_sync(a, a->rskipped[i]);
}

/* One offer at most per role at ag: the unreserved part (with the
 * taker's reservation), then each other reservation to its role. */
static void allocate_agent(struct alloc *a, struct alloc_agent *ag)
{
    struct alloc_role *r;

    a->visit++;
    if (worth(a, &ag->pools[0].free))
        offer_unreserved(a, ag);
    while ((r = pick_reserved(a, ag)) != NULL) {
        struct alloc_fw *fw = pick_fw(a, r, ag);

        r->visit = a->visit;
        if (fw) {
            make_offer(a, fw, ag);
            heap_push(r, fw);
        }
    }
}

/*
 * Hands each framework its offers of the cycle. on_offer may accept,
 * decline or even remove frameworks, so the list is taken first and each
 * framework found again by id before it is called.
 */
static void deliver(struct alloc *a)
{
    struct alloc_fw **batched = a->batched;
    size_t n = a->nbatched, i;
    char **ids = calloc(n ? n : 1, sizeof(*ids));

    a->batched = NULL;
    a->nbatched = a->capbatched = 0;
    for (i = 0; ids && i < n; i++)
        ids[i] = strdup(batched[i]->id);
    free(batched);
    for (i = 0; ids && i < n; i++) {
        struct alloc_fw *fw = ids[i] ? map_get(&a->fws, ids[i]) : NULL;
        struct alloc_offer **v;
        size_t k, j;

        free(ids[i]);
        if (fw == NULL)
            continue;
        v = fw->batch;
        k = fw->nbatch;
        fw->batch = NULL;
        fw->nbatch = fw->capbatch = 0;
        for (j = 0; j < k; j++)
            v[j]->undelivered = 0;
        if (a->on_offer && k)
            a->on_offer(a->arg, fw, v, k);
        free(v);
    }
    free(ids);
}

static void record_run(struct alloc *a, double ms)
{
    a->run_ms[a->nruns++ % ALLOC_RUN_WINDOW] = ms;
    a->stats.runs++;
    a->stats.run_ms_last = ms;
}

void alloc_run(struct alloc *a)
{
    struct alloc_agent **dirty = a->dirty;
    size_t n = a->ndirty, i;
    double t0 = ev_time();

    a->dirty = NULL;
    a->ndirty = a->capdirty = 0;
    a->last_run = alloc_now(a);
    if (a->shares_stale)
        shares_refresh(a);
    for (i = 0; i < n; i++) {
        dirty[i]->dirty = 0;
        if (dirty[i]->active)
            allocate_agent(a, dirty[i]);
    }
    free(dirty);
    record_run(a, (ev_time() - t0) * 1000.0);
    deliver(a);
}

static void on_cycle(struct ev_loop *loop, ev_timer *w, int events)
{
    (void)loop;
    (void)events;
    alloc_run(w->data);
}

/* ---- refuse filters ---- */

static void fheap_swap(struct alloc *a, size_t i, size_t j)
{
    struct filter_ev t = a->fheap[i];

    a->fheap[i] = a->fheap[j];
    a->fheap[j] = t;
}

static void fheap_push(struct alloc *a, double expiry, const char *agent)
{
    size_t i;
    char *id = strdup(agent);

    if (id == NULL ||
        grow(&a->fheap, &a->capf, a->nf + 1, sizeof(*a->fheap)) < 0) {
        free(id);
        return;
    }
    i = a->nf++;
    a->fheap[i].expiry = expiry;
    a->fheap[i].agent_id = id;
    while (i > 0 && a->fheap[(i - 1) / 2].expiry > a->fheap[i].expiry) {
        fheap_swap(a, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void fheap_pop(struct alloc *a)
{
    size_t i = 0;

    free(a->fheap[0].agent_id);
    a->fheap[0] = a->fheap[--a->nf];
    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= a->nf)
            break;
        if (c + 1 < a->nf && a->fheap[c + 1].expiry < a->fheap[c].expiry)
            c++;
        if (a->fheap[i].expiry <= a->fheap[c].expiry)
            break;
        fheap_swap(a, i, c);
        i = c;
    }
}

static void filters_arm(struct alloc *a)
{
    if (a->loop == NULL)
        return;
    ev_timer_stop(a->loop, &a->filter_timer);
    if (a->nf == 0)
        return;
    ev_timer_set(&a->filter_timer, a->fheap[0].expiry - alloc_now(a) + 0.001,
                 0.);
    ev_timer_start(a->loop, &a->filter_timer);
}

/* A filter ran out: its agent may be offered to that framework again. */
static void on_filter(struct ev_loop *loop, ev_timer *w, int events)
{
    struct alloc *a = w->data;
    double now = alloc_now(a);

    (void)loop;
    (void)events;
    while (a->nf && a->fheap[0].expiry <= now) {
        struct alloc_agent *ag = map_get(&a->agents, a->fheap[0].agent_id);

        if (ag)
            mark_dirty(a, ag);
        fheap_pop(a);
    }
    filters_arm(a);
}

/* ---- offer timeout ---- */

static void on_offer_timer(struct ev_loop *loop, ev_timer *w, int events)
{
    struct alloc *a = w->data;
    double oldest = alloc_now(a) - a->conf.offer_timeout;
    size_t pos = 0;
    void *v;

    (void)loop;
    (void)events;
    while (map_next(&a->offers, &pos, NULL, &v)) {
        struct alloc_offer *o = v;

        if (o->created <= oldest)
            rescind(a, o);
    }
}

/* ---- life ---- */

int alloc_new(struct ev_loop *loop, const struct alloc_conf *conf,
              alloc_offer_fn on_offer, alloc_rescind_fn on_rescind,
              void *arg, struct alloc **out, char *err, size_t errlen)
{
    struct alloc *a = calloc(1, sizeof(*a));
    size_t i;
    int rc;

    if (a == NULL)
        return AGORA_ENOMEM;
    a->loop = loop;
    a->conf = *conf;
    a->conf.weights = a->conf.quota = NULL;
    if (a->conf.refuse_default < 0)
        a->conf.refuse_default = 5.0;
    a->min_cpus = ar_milli(a->conf.min_cpus);
    a->min_mem = ar_milli(a->conf.min_mem);
    a->on_offer = on_offer;
    a->on_rescind = on_rescind;
    a->arg = arg;
    rc = role_get(a, "*") ? 0 : AGORA_ENOMEM;
    if (rc == 0)
        rc = parse_weights(a, conf->weights, err, errlen);
    if (rc == 0)
        rc = parse_quota(a, conf->quota, err, errlen);
    if (rc < 0) {
        alloc_free(a);
        return rc;
    }
    for (i = 0; i < a->nroles; i++)
        role_key(a, a->rolev[i]);
    ev_init(&a->cycle, on_cycle);
    a->cycle.data = a;
    ev_init(&a->filter_timer, on_filter);
    a->filter_timer.data = a;
    ev_init(&a->offer_timer, on_offer_timer);
    a->offer_timer.data = a;
    if (loop && a->conf.offer_timeout > 0) {
        double every = a->conf.offer_timeout / 2 < 1 ? a->conf.offer_timeout / 2
                                                      : 1;

        ev_timer_set(&a->offer_timer, every, every);
        ev_timer_start(loop, &a->offer_timer);
    }
    *out = a;
    return 0;
}

static void pools_free(struct alloc_agent *ag)
{
    size_t i;

    for (i = 0; i < ag->npools; i++) {
        free(ag->pools[i].role);
        ar_free(&ag->pools[i].total);
        ar_free(&ag->pools[i].free);
    }
    free(ag->pools);
    free(ag->holds);
}

static void fw_free(struct alloc_fw *fw)
{
    size_t pos = 0;
    void *v;

    while (map_next(&fw->filters, &pos, NULL, &v))
        free(v);
    map_free(&fw->filters);
    free(fw->batch);
    free(fw->id);
    free(fw);
}

void alloc_free(struct alloc *a)
{
    size_t pos = 0;
    void *v;

    if (a == NULL)
        return;
    if (a->loop) {
        ev_timer_stop(a->loop, &a->cycle);
        ev_timer_stop(a->loop, &a->filter_timer);
        ev_timer_stop(a->loop, &a->offer_timer);
    }
    while (map_next(&a->offers, &pos, NULL, &v))
        offer_free(v);
    pos = 0;
    while (map_next(&a->agents, &pos, NULL, &v)) {
        pools_free(v);
        free(((struct alloc_agent *)v)->id);
        free(v);
    }
    pos = 0;
    while (map_next(&a->fws, &pos, NULL, &v))
        fw_free(v);
    while (a->nroles--) {
        free(a->rolev[a->nroles]->heap);
        free(a->rolev[a->nroles]->name);
        free(a->rolev[a->nroles]);
    }
    while (a->nf)
        fheap_pop(a);
    map_free(&a->offers);
    map_free(&a->agents);
    map_free(&a->fws);
    map_free(&a->roles);
    free(a->rolev);
    free(a->rheap);
    free(a->rskipped);
    free(a->fheap);
    free(a->dirty);
    free(a->batched);
    free(a->skipped);
    free(a);
}

/* ---- agents ---- */

/* The roles of r, "*" first, each once. */
static int agent_pools(struct alloc_agent *ag, const struct agora_resources *r)
{
    size_t i, j;

    ag->pools = calloc(r->n + 1, sizeof(*ag->pools));
    if (ag->pools == NULL || (ag->pools[0].role = strdup("*")) == NULL)
        return AGORA_ENOMEM;
    ag->npools = 1;
    for (i = 0; i < r->n; i++) {
        for (j = 0; j < ag->npools; j++)
            if (strcmp(ag->pools[j].role, r->v[i].role) == 0)
                break;
        if (j == ag->npools &&
            (ag->pools[ag->npools++].role = strdup(r->v[i].role)) == NULL)
            return AGORA_ENOMEM;
    }
    for (j = 0; j < ag->npools; j++)
        if (ar_from(r, ag->pools[j].role, &ag->pools[j].total) < 0 ||
            ar_copy(&ag->pools[j].free, &ag->pools[j].total) < 0)
            return AGORA_ENOMEM;
    return 0;
}

static void totals_change(struct alloc *a, struct alloc_agent *ag, int sign)
{
    size_t i;
    int k;

    for (i = 0; i < ag->npools; i++)
        for (k = 0; k < AR_N; k++)
            a->total[k] += sign * ag->pools[i].total.s[k];
    a->shares_stale = 1;
}

int alloc_agent_add(struct alloc *a, const char *id,
                    const struct agora_resources *total, void *owner,
                    struct alloc_agent **out)
{
    struct alloc_agent *ag;

    if (map_get(&a->agents, id))
        return AGORA_EEXIST;
    ag = calloc(1, sizeof(*ag));
    if (ag == NULL || (ag->id = strdup(id)) == NULL ||
        agent_pools(ag, total) < 0 ||
        map_put(&a->agents, ag->id, ag, NULL) < 0) {
        if (ag) {
            pools_free(ag);
            free(ag->id);
        }
        free(ag);
        return AGORA_ENOMEM;
    }
    ag->owner = owner;
    ag->active = 1;
    totals_change(a, ag, +1);
    mark_dirty(a, ag);
    *out = ag;
    return 0;
}

void *alloc_agent_owner(const struct alloc_agent *ag) { return ag->owner; }

struct alloc_agent *alloc_agent_find(struct alloc *a, const char *id)
{
    return map_get(&a->agents, id);
}

void alloc_agent_activate(struct alloc *a, struct alloc_agent *ag, int on)
{
    if (!on == !ag->active)
        return;
    if (!on) {
        while (ag->offers)
            rescind(a, ag->offers);
        ag->active = 0;
        totals_change(a, ag, -1);
        return;
    }
    ag->active = 1;
    totals_change(a, ag, +1);
    mark_dirty(a, ag);
}

void alloc_agent_remove(struct alloc *a, struct alloc_agent *ag)
{
    size_t i;

    alloc_agent_activate(a, ag, 0);
    /* What runs there is gone with it. */
    for (i = 0; i < ag->nholds; i++) {
        struct ar_bundle b;

        memset(&b, 0, sizeof(b));
        memcpy(b.s, ag->holds[i].s, sizeof(b.s));
        held_change(a, ag->holds[i].fw, &b, -1);
    }
    for (i = 0; i < a->ndirty; i++)
        if (a->dirty[i] == ag)
            a->dirty[i] = a->dirty[--a->ndirty];
    map_remove(&a->agents, ag->id);
    pools_free(ag);
    free(ag->id);
    free(ag);
}

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
    size_t p = strcmp(role, "*") ? pool_of(ag, role) : 0;
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
        held_change(a, fw, &sum, +1);
        hold_change(ag, fw, &sum, +1);
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
            held_change(a, fw, &b, -1);
            hold_change(ag, fw, &b, -1);
            pool_give(&ag->pools[i], &b);
        }
        ar_free(&b);
    }
    mark_dirty(a, ag);
}

/* ---- frameworks ---- */

int alloc_fw_add(struct alloc *a, const char *id, const char *role,
                 void *owner, struct alloc_fw **out)
{
    struct alloc_role *r = role_get(a, role ? role : "*");
    struct alloc_fw *fw;

    if (r == NULL)
        return AGORA_ENOMEM;
    if (map_get(&a->fws, id))
        return AGORA_EEXIST;
    fw = calloc(1, sizeof(*fw));
    if (fw == NULL || (fw->id = strdup(id)) == NULL ||
        map_put(&a->fws, fw->id, fw, NULL) < 0) {
        if (fw)
            free(fw->id);
        free(fw);
        return AGORA_ENOMEM;
    }
    fw->owner = owner;
    fw->role = r;
    fw->heap_pos = -1;
    r->nfw++;
    heap_push(r, fw);
    rheap_sync(a, r);
    alloc_dirty_all(a);
    *out = fw;
    return 0;
}

void alloc_fw_remove(struct alloc *a, struct alloc_fw *fw)
{
    size_t i, pos = 0;
    void *v;
    int k;

    while (fw->offers)
        offer_return_all(a, fw->offers);
    /* What its tasks hold leaves its role with it (the master releases
     * them later without a framework). */
    for (k = 0; k < AR_N; k++) {
        fw->role->alloc[k] -= fw->alloc[k];
        if (fw->role->alloc[k] < 0)
            fw->role->alloc[k] = 0;
    }
    role_rekey(a, fw->role);
    while (map_next(&a->agents, &pos, NULL, &v)) {
        struct alloc_agent *ag = v;

        for (i = 0; i < ag->nholds; i++)
            if (ag->holds[i].fw == fw) {
                ag->holds[i] = ag->holds[--ag->nholds];
                break;
            }
    }
    heap_remove(fw->role, fw);
    rheap_sync(a, fw->role);
    fw->role->nfw--;
    for (i = 0; i < a->nbatched; i++)
        if (a->batched[i] == fw)
            a->batched[i] = a->batched[--a->nbatched];
    map_remove(&a->fws, fw->id);
    fw_free(fw);
}

void alloc_fw_suppress(struct alloc *a, struct alloc_fw *fw)
{
    fw->suppressed = 1;
    heap_remove(fw->role, fw);
    rheap_sync(a, fw->role);
}

void alloc_fw_revive(struct alloc *a, struct alloc_fw *fw)
{
    size_t pos = 0;
    void *v;

    while (map_next(&fw->filters, &pos, NULL, &v))
        free(v);
    map_free(&fw->filters);
    if (fw->suppressed || fw->heap_pos < 0) {
        fw->suppressed = 0;
        fw->share = dominant(a, fw->alloc);
        if (fw->heap_pos < 0)
            heap_push(fw->role, fw);
        rheap_sync(a, fw->role);
    }
    alloc_dirty_all(a);
}

void *alloc_fw_owner(const struct alloc_fw *fw) { return fw->owner; }

const char *alloc_fw_id(const struct alloc_fw *fw) { return fw->id; }

double alloc_fw_share(const struct alloc_fw *fw) { return fw->share; }

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
        hold_change(o->ag, fw, &got, +1);
        a->stats.offers_accepted++;
        offer_return(a, o, rem);
    }
    for (k = 0; k < 2; k++)
        ar_free(&rem[k]);
    return rc;
}

int alloc_decline(struct alloc *a, struct alloc_fw *fw, struct alloc_offer *o,
                  double refuse)
{
    double *until;
    void *old = NULL;

    if (o->fw != fw)
        return AGORA_EINVAL;
    if (refuse < 0)
        refuse = a->conf.refuse_default;
    if (refuse > ALLOC_REFUSE_MAX)
        refuse = ALLOC_REFUSE_MAX;
    a->stats.offers_declined++;
    if (refuse > 0 && (until = malloc(sizeof(*until))) != NULL) {
        *until = alloc_now(a) + refuse;
        if (map_put(&fw->filters, o->ag->id, until, &old) < 0)
            free(until);
        free(old);
        fheap_push(a, *until, o->ag->id);
        filters_arm(a);
    }
    offer_return_all(a, o);
    return 0;
}

/* ---- figures ---- */

static int dbl_cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;

    return (a > b) - (a < b);
}

void alloc_get_stats(const struct alloc *a, struct alloc_stats *out)
{
    size_t n = a->nruns < ALLOC_RUN_WINDOW ? a->nruns : ALLOC_RUN_WINDOW;
    double v[ALLOC_RUN_WINDOW];

    *out = a->stats;
    if (n == 0)
        return;
    memcpy(v, a->run_ms, n * sizeof(v[0]));
    qsort(v, n, sizeof(v[0]), dbl_cmp);
    out->run_ms_p50 = v[(n - 1) / 2];
    out->run_ms_p99 = v[(size_t)((double)(n - 1) * 0.99)];
}

void alloc_get_totals(const struct alloc *a, struct alloc_totals *out)
{
    size_t pos = 0, i;
    void *v;
    int k;

    memset(out, 0, sizeof(*out));
    while (map_next(&a->agents, &pos, NULL, &v)) {
        struct alloc_agent *ag = v;
        struct alloc_offer *o;

        if (!ag->active)
            continue;
        for (i = 0; i < ag->npools; i++)
            for (k = 0; k < AR_N; k++) {
                out->total[k] += ar_unmilli(ag->pools[i].total.s[k]);
                out->used[k] += ar_unmilli(ag->pools[i].total.s[k] -
                                           ag->pools[i].free.s[k]);
            }
        for (o = ag->offers; o; o = o->ag_next)
            for (i = 0; i < (size_t)o->ntake; i++)
                for (k = 0; k < AR_N; k++) {
                    out->offered[k] += ar_unmilli(o->take[i].r.s[k]);
                    out->used[k] -= ar_unmilli(o->take[i].r.s[k]);
                }
    }
}

/*
 * Per role: total (its reservations; for "*" the unreserved resources of
 * active agents), offered (its outstanding offers), allocated (used by
 * its tasks plus offered, as DRF counts) and quota.
 */
static void role_figures(struct alloc *a, const struct alloc_role *r,
                         int64_t *total, int64_t *offered)
{
    size_t pos = 0, p;
    void *v;
    int k, t;

    memset(total, 0, AR_N * sizeof(*total));
    memset(offered, 0, AR_N * sizeof(*offered));
    while (map_next(&a->agents, &pos, NULL, &v)) {
        struct alloc_agent *ag = v;
        struct alloc_offer *o;

        if (!ag->active)
            continue;
        p = strcmp(r->name, "*") ? pool_of(ag, r->name) : 0;
        for (k = 0; (p > 0 || strcmp(r->name, "*") == 0) && k < AR_N; k++)
            total[k] += ag->pools[p].total.s[k];
        for (o = ag->offers; o; o = o->ag_next)
            if (o->fw->role == r)
                for (t = 0; t < o->ntake; t++)
                    for (k = 0; k < AR_N; k++)
                        offered[k] += o->take[t].r.s[k];
    }
}

static void role_metric(struct agora_jw *w, const char *role, int k,
                        const char *what, int64_t v)
{
    char key[200];

    snprintf(key, sizeof(key), "allocator/roles/%s/%s/%s", role, ar_names[k],
             what);
    agora_jw_knum(w, key, ar_unmilli(v));
}

void alloc_write_metrics(struct alloc *a, struct agora_jw *w)
{
    int64_t total[AR_N], offered[AR_N];
    struct alloc_stats st;
    size_t i;
    int k;

    alloc_get_stats(a, &st);
    agora_jw_kint(w, "allocator/allocation_runs", (int64_t)st.runs);
    agora_jw_knum(w, "allocator/allocation_run_ms", st.run_ms_last);
    agora_jw_knum(w, "allocator/allocation_run_ms_p50", st.run_ms_p50);
    agora_jw_knum(w, "allocator/allocation_run_ms_p99", st.run_ms_p99);
    agora_jw_kint(w, "allocator/offers_sent", (int64_t)st.offers_sent);
    agora_jw_kint(w, "allocator/offers_accepted", (int64_t)st.offers_accepted);
    agora_jw_kint(w, "allocator/offers_declined", (int64_t)st.offers_declined);
    agora_jw_kint(w, "allocator/offers_rescinded",
                  (int64_t)st.offers_rescinded);
    agora_jw_kint(w, "master/outstanding_offers", (int64_t)st.outstanding);
    for (i = 0; i < a->nroles; i++) {
        struct alloc_role *r = a->rolev[i];

        role_figures(a, r, total, offered);
        for (k = 0; k < AR_N; k++) {
            role_metric(w, r->name, k, "total", total[k]);
            role_metric(w, r->name, k, "offered", offered[k]);
            role_metric(w, r->name, k, "allocated", r->alloc[k]);
            if (r->quota[k])
                role_metric(w, r->name, k, "quota", r->quota[k]);
        }
    }
}

static void write_scalars(struct agora_jw *w, const int64_t *v)
{
    int k;

    agora_jw_obj_open(w);
    for (k = 0; k < AR_N; k++)
        agora_jw_knum(w, ar_names[k], ar_unmilli(v[k]));
    agora_jw_obj_close(w);
}

void alloc_write_roles(struct alloc *a, struct agora_jw *w)
{
    size_t i, pos;
    void *v;

    agora_jw_arr_open(w);
    for (i = 0; i < a->nroles; i++) {
        struct alloc_role *r = a->rolev[i];

        agora_jw_obj_open(w);
        agora_jw_kstr(w, "name", r->name);
        agora_jw_knum(w, "weight", r->weight);
        agora_jw_key(w, "quota");
        write_scalars(w, r->quota);
        agora_jw_key(w, "allocated");
        write_scalars(w, r->alloc);
        agora_jw_knum(w, "dominant_share", dominant(a, r->alloc));
        agora_jw_key(w, "frameworks");
        agora_jw_arr_open(w);
        pos = 0;
        while (map_next(&a->fws, &pos, NULL, &v)) {
            struct alloc_fw *fw = v;

            if (fw->role != r)
                continue;
            agora_jw_obj_open(w);
            agora_jw_kstr(w, "id", fw->id);
            agora_jw_knum(w, "dominant_share", dominant(a, fw->alloc));
            agora_jw_kbool(w, "suppressed", fw->suppressed);
            agora_jw_obj_close(w);
        }
        agora_jw_arr_close(w);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

/* The agent's resources of one view, all roles summed, into *b. */
static int agent_view(struct alloc_agent *ag, const char *which,
                      struct ar_bundle *b)
{
    struct alloc_offer *o;
    size_t i;
    int k, rc = 0;

    for (i = 0; i < ag->npools && rc == 0; i++) {
        struct pool *p = &ag->pools[i];

        if (strcmp(which, "total") == 0 || strcmp(which, "used") == 0)
            rc = ar_add(b, &p->total);
        else if (strcmp(which, "free") == 0)
            rc = ar_add(b, &p->free);
    }
    if (strcmp(which, "used") == 0) {
        /* used = total - free - offered */
        for (i = 0; i < ag->npools; i++)
            if (ar_sub(b, &ag->pools[i].free) < 0)
                ar_sub_clamp(b, &ag->pools[i].free);
        for (o = ag->offers; o; o = o->ag_next)
            for (k = 0; k < o->ntake; k++)
                if (ar_sub(b, &o->take[k].r) < 0)
                    ar_sub_clamp(b, &o->take[k].r);
    } else if (strcmp(which, "offered") == 0) {
        for (o = ag->offers; o && rc == 0; o = o->ag_next)
            for (k = 0; k < o->ntake && rc == 0; k++)
                rc = ar_add(b, &o->take[k].r);
    }
    return rc;
}

/* Writes one Mesos-style resources object of the chosen view. */
void alloc_agent_write(struct alloc_agent *ag, const char *which,
                       struct agora_jw *w)
{
    struct agora_resources out = {NULL, 0};
    struct ar_bundle b;
    size_t i;
    int k;

    memset(&b, 0, sizeof(b));
    agent_view(ag, which, &b);
    agora_jw_obj_open(w);
    for (k = 0; k < AR_N; k++)
        agora_jw_knum(w, ar_names[k], ar_unmilli(b.s[k]));
    memset(b.s, 0, sizeof(b.s));
    ar_to(&b, "*", &out);
    for (i = 0; i < out.n; i++) {
        struct agora_resources one = {&out.v[i], 1};
        size_t need = agora_resources_format(&one, NULL, 0);
        char *s = malloc(need + 1);

        if (s == NULL)
            continue;
        agora_resources_format(&one, s, need + 1);
        if (out.v[i].type == AGORA_SCALAR)
            agora_jw_knum(w, out.v[i].name, out.v[i].scalar);
        else
            agora_jw_kstr(w, out.v[i].name, strchr(s, ':') + 1);
        free(s);
    }
    agora_jw_obj_close(w);
    agora_resources_free(&out);
    ar_free(&b);
}
