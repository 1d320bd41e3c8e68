/*
 * alloc.c - hierarchical DRF offers (see alloc.h).
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

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/resources.h>

#include "alloc_int.h"
#include "log.h"

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

void alloc_mark_dirty(struct alloc *a, struct alloc_agent *ag)
{
    if (ag->dirty || !ag->active)
        return;
    if (alloc_grow(&a->dirty, &a->capdirty, a->ndirty + 1, sizeof(*a->dirty)) < 0) {
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
        alloc_mark_dirty(a, v);
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

/* 1 when p points into o's own buffers (nothing to free). */
static int offer_inline(const struct alloc_offer *o, const void *p)
{
    const char *c = p, *b = (const char *)o;

    return c >= b && c < b + sizeof(*o);
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
            if (!offer_inline(o, o->view.v[j].ranges))
                free(o->view.v[j].ranges);
        if (!offer_inline(o, o->view.v))
            free(o->view.v);
    }
    free(o);
}

/* Gives back what is left of an offer (rem, per take) and frees it. */
void alloc_offer_return(struct alloc *a, struct alloc_offer *o,
                         struct ar_bundle *rem)
{
    int i;

    for (i = 0; i < o->ntake; i++) {
        struct pool *p = &o->ag->pools[o->take[i].pool];

        if (ar_add(&p->free, &rem[i]) < 0)
            log_error("allocator", "out of memory returning offer %s", o->id);
        alloc_held_change(a, o->fw, &rem[i], -1);
    }
    offer_unlink(a, o);
    alloc_mark_dirty(a, o->ag);
    offer_free(o);
}

static void offer_return_all(struct alloc *a, struct alloc_offer *o)
{
    struct ar_bundle rem[2];
    int i, n = o->ntake; /* o is freed by alloc_offer_return() */

    for (i = 0; i < n; i++) {
        rem[i] = o->take[i].r;
        memset(&o->take[i].r, 0, sizeof(o->take[i].r));
    }
    alloc_offer_return(a, o, rem);
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

size_t alloc_pool_of(const struct alloc_agent *ag, const char *role)
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
        alloc_grow(&a->batched, &a->capbatched, a->nbatched + 1,
             sizeof(*a->batched)) == 0)
        a->batched[a->nbatched++] = fw;
    if (alloc_grow(&fw->batch, &fw->capbatch, fw->nbatch + 1, sizeof(*fw->batch)) <
        0)
        return AGORA_ENOMEM;
    fw->batch[fw->nbatch++] = o;
    o->undelivered = 1;
    return 0;
}

/*
 * The offer's resources as the SDK shows them, built in normal form
 * (sorted by name, then role) straight from its takes. Names are static
 * and roles the agent's pools' (which outlive its offers), and the array
 * and the port ranges fit in the offer's own buffers but for unusual
 * offers (many port ranges): the view costs no allocation, where the
 * SDK's would cost a dozen strdup()s. Generic resources take the SDK's
 * way.
 */
static int offer_view(struct alloc_offer *o, const struct alloc_agent *ag)
{
    static const int order[AR_N] = {AR_CPUS, AR_DISK, AR_GPUS, AR_MEM};
    const struct take *t[2] = {&o->take[0], &o->take[1]};
    struct agora_resource *v;
    size_t n = 0, nranges = 0;
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
    if (n == 0)
        return 0;
    v = n <= OFFER_VIEW_INLINE ? o->view_buf : calloc(n, sizeof(*v));
    if (v == NULL)
        return AGORA_ENOMEM;
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
        if (nranges + pr->n <= OFFER_RANGES_INLINE) {
            v->ranges = o->ranges_buf + nranges;
            nranges += pr->n;
        } else if ((v->ranges = malloc(pr->n * sizeof(*v->ranges))) == NULL) {
            return AGORA_ENOMEM;
        }
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
    size_t p = strcmp(fw->role->name, "*") ? alloc_pool_of(ag, fw->role->name) : 0;
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
        alloc_held_change(a, fw, &o->take[i].r, +1);
    if (map_put(&a->offers, o->id, o, NULL) < 0)
        log_error("allocator", "out of memory: offer %s cannot be found by "
                               "its id", o->id);
    offer_link(o);
    a->stats.offers_sent++;
    a->stats.outstanding++;
    batch_add(a, fw, o);
}

/* ---- the cycle ---- */

static void filter_free(struct alloc_filter *f)
{
    if (f == NULL)
        return;
    ar_free(&f->res);
    free(f);
}

/*
 * 1 when what ag could offer fw (its unreserved part and fw's role's
 * reservation: a bound of any offer it gets there) is within what fw
 * declined. Out of memory, the filter holds.
 */
static int filter_covers(const struct alloc_filter *f,
                         const struct alloc_fw *fw,
                         const struct alloc_agent *ag)
{
    struct ar_bundle now;
    size_t own = alloc_pool_of(ag, fw->role->name);
    int covers;

    memset(&now, 0, sizeof(now));
    if (ar_add(&now, &ag->pools[0].free) < 0 ||
        (own > 0 && ar_add(&now, &ag->pools[own].free) < 0)) {
        ar_free(&now);
        return 1;
    }
    covers = ar_contains(&f->res, &now);
    ar_free(&now);
    return covers;
}

/* 1 when fw refuses ag for now; expired filters are dropped here. */
static int filtered(struct alloc *a, struct alloc_fw *fw,
                    const struct alloc_agent *ag)
{
    struct alloc_filter *f =
        fw->filters.len ? map_get(&fw->filters, ag->id) : NULL;

    if (f == NULL)
        return 0;
    if (f->until > alloc_now(a))
        return filter_covers(f, fw, ag);
    filter_free(map_remove(&fw->filters, ag->id));
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
    while ((fw = alloc_heap_pop(r)) != NULL && filtered(a, fw, ag)) {
        if (alloc_grow(&a->skipped, &a->capskipped, nskipped + 1,
                 sizeof(*a->skipped)) < 0) {
            alloc_heap_push(r, fw); /* cannot fail: it was just popped */
            fw = NULL;
            break;
        }
        a->skipped[nskipped++] = fw;
    }
    for (i = 0; i < nskipped; i++)
        alloc_heap_push(r, a->skipped[i]);
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
        if (best == NULL || alloc_role_cmp(r, best) < 0)
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

        if (alloc_grow(&a->rskipped, &a->caprskipped, n + 1,
                 sizeof(*a->rskipped)) < 0)
            break;
        alloc_rheap_remove(a, r);
        a->rskipped[n++] = r;
        r->visit = a->visit;
        if ((fw = pick_fw(a, r, ag)) != NULL) {
            make_offer(a, fw, ag);
            alloc_heap_push(r, fw);
            break;
        }
    }
    for (i = 0; i < n; i++)
        alloc_rheap_sync(a, a->rskipped[i]);
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
            alloc_heap_push(r, fw);
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
        alloc_shares_refresh(a);
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
        alloc_grow(&a->fheap, &a->capf, a->nf + 1, sizeof(*a->fheap)) < 0) {
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
            alloc_mark_dirty(a, ag);
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
    a->offers.borrowed = 1; /* an offer's id lives in the offer */
    a->conf = *conf;
    a->conf.weights = a->conf.quota = NULL;
    if (a->conf.refuse_default < 0)
        a->conf.refuse_default = 5.0;
    a->min_cpus = ar_milli(a->conf.min_cpus);
    a->min_mem = ar_milli(a->conf.min_mem);
    a->on_offer = on_offer;
    a->on_rescind = on_rescind;
    a->arg = arg;
    rc = alloc_role_get(a, "*") ? 0 : AGORA_ENOMEM;
    if (rc == 0)
        rc = alloc_parse_weights(a, conf->weights, err, errlen);
    if (rc == 0)
        rc = alloc_parse_quota(a, conf->quota, err, errlen);
    if (rc < 0) {
        alloc_free(a);
        return rc;
    }
    for (i = 0; i < a->nroles; i++)
        alloc_role_key(a, a->rolev[i]);
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

/* Drops every refuse filter of fw. */
static void fw_filters_clear(struct alloc_fw *fw)
{
    size_t pos = 0;
    void *v;

    while (map_next(&fw->filters, &pos, NULL, &v))
        filter_free(v);
    map_free(&fw->filters);
}

static void fw_free(struct alloc_fw *fw)
{
    fw_filters_clear(fw);
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
    alloc_mark_dirty(a, ag);
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
    alloc_mark_dirty(a, ag);
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
        alloc_held_change(a, ag->holds[i].fw, &b, -1);
    }
    for (i = 0; i < a->ndirty; i++)
        if (a->dirty[i] == ag)
            a->dirty[i] = a->dirty[--a->ndirty];
    map_remove(&a->agents, ag->id);
    pools_free(ag);
    free(ag->id);
    free(ag);
}

/* ---- frameworks ---- */

int alloc_fw_add(struct alloc *a, const char *id, const char *role,
                 void *owner, struct alloc_fw **out)
{
    struct alloc_role *r = alloc_role_get(a, role ? role : "*");
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
    alloc_heap_push(r, fw);
    alloc_rheap_sync(a, r);
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
    alloc_role_rekey(a, fw->role);
    while (map_next(&a->agents, &pos, NULL, &v)) {
        struct alloc_agent *ag = v;

        for (i = 0; i < ag->nholds; i++)
            if (ag->holds[i].fw == fw) {
                ag->holds[i] = ag->holds[--ag->nholds];
                break;
            }
    }
    alloc_heap_remove(fw->role, fw);
    alloc_rheap_sync(a, fw->role);
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
    alloc_heap_remove(fw->role, fw);
    alloc_rheap_sync(a, fw->role);
}

void alloc_fw_revive(struct alloc *a, struct alloc_fw *fw)
{
    fw_filters_clear(fw);
    if (fw->suppressed || fw->heap_pos < 0) {
        fw->suppressed = 0;
        fw->share = alloc_dominant(a, fw->alloc);
        if (fw->heap_pos < 0)
            alloc_heap_push(fw->role, fw);
        alloc_rheap_sync(a, fw->role);
    }
    alloc_dirty_all(a);
}

void *alloc_fw_owner(const struct alloc_fw *fw) { return fw->owner; }

const char *alloc_fw_id(const struct alloc_fw *fw) { return fw->id; }

double alloc_fw_share(const struct alloc_fw *fw) { return fw->share; }

/* A filter of what o holds, for refuse seconds; NULL out of memory (the
 * decline then filters nothing, as a refuse of 0 would). */
static struct alloc_filter *filter_new(struct alloc *a,
                                       const struct alloc_offer *o,
                                       double refuse)
{
    struct alloc_filter *f = calloc(1, sizeof(*f));
    int k;

    if (f == NULL)
        return NULL;
    f->until = alloc_now(a) + refuse;
    for (k = 0; k < o->ntake; k++) {
        if (ar_add(&f->res, &o->take[k].r) < 0) {
            filter_free(f);
            return NULL;
        }
    }
    return f;
}

int alloc_decline(struct alloc *a, struct alloc_fw *fw, struct alloc_offer *o,
                  double refuse)
{
    struct alloc_filter *f;
    void *old = NULL;

    if (o->fw != fw)
        return AGORA_EINVAL;
    if (refuse < 0)
        refuse = a->conf.refuse_default;
    if (refuse > ALLOC_REFUSE_MAX)
        refuse = ALLOC_REFUSE_MAX;
    a->stats.offers_declined++;
    if (refuse > 0 && (f = filter_new(a, o, refuse)) != NULL) {
        if (map_put(&fw->filters, o->ag->id, f, &old) < 0) {
            filter_free(f);
        } else {
            filter_free(old);
            fheap_push(a, f->until, o->ag->id);
            filters_arm(a);
        }
    }
    offer_return_all(a, o);
    return 0;
}


