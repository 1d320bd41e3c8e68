/*
 * alloc_order.c - who is offered first: dominant shares, the heaps of
 * roles (quota need, then weighted share) and of frameworks within a
 * role (share), and the --weights and --quota they start from.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/resources.h>

#include "alloc_int.h"
#include "log.h"

/* ---- shares ---- */

double alloc_dominant(const struct alloc *a, const int64_t *held)
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
int alloc_role_cmp(const struct alloc_role *x, const struct alloc_role *y)
{
    if (x->needs_quota != y->needs_quota)
        return y->needs_quota - x->needs_quota;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* ---- the heaps ---- */

/*
 * ORDER_HEAP(name, type, pos, less) defines the functions of a binary
 * heap of `type *` in an array v of n, the element that comes first
 * under less(x, y) ("x before y") on top, each element keeping its index
 * in its field `pos` (-1 while out of the heap):
 *   name_set(v, i, x)       puts x at i
 *   name_up(v, i)           sifts the element at i up
 *   name_down(v, n, i)      sifts it down
 *   name_push(v, &n, x)     adds x (v has room for one more)
 *   name_fix(v, n, x)       x's key moved: it finds its place again
 *   name_remove(v, &n, x)   takes x out; a no-op when x is not in
 * A macro, as BSD's <sys/tree.h>, rather than one function over void
 * pointers and a comparator: this is the allocator's hot path, and each
 * heap gets code of its own type with its comparison inlined.
 */
#define ORDER_HEAP(name, type, pos, less)                                      \
    static void name##_set(type **v, size_t i, type *x)                        \
    {                                                                          \
        v[i] = x;                                                              \
        x->pos = (long)i;                                                      \
    }                                                                          \
                                                                               \
    static void name##_up(type **v, size_t i)                                  \
    {                                                                          \
        type *x = v[i];                                                        \
                                                                               \
        while (i > 0 && less(x, v[(i - 1) / 2])) {                             \
            name##_set(v, i, v[(i - 1) / 2]);                                  \
            i = (i - 1) / 2;                                                   \
        }                                                                      \
        name##_set(v, i, x);                                                   \
    }                                                                          \
                                                                               \
    static void name##_down(type **v, size_t n, size_t i)                      \
    {                                                                          \
        type *x = v[i];                                                        \
                                                                               \
        for (;;) {                                                             \
            size_t c = 2 * i + 1;                                              \
                                                                               \
            if (c >= n)                                                        \
                break;                                                         \
            if (c + 1 < n && less(v[c + 1], v[c]))                             \
                c++;                                                           \
            if (!less(v[c], x))                                                \
                break;                                                         \
            name##_set(v, i, v[c]);                                            \
            i = c;                                                             \
        }                                                                      \
        name##_set(v, i, x);                                                   \
    }                                                                          \
                                                                               \
    static void name##_push(type **v, size_t *n, type *x)                      \
    {                                                                          \
        name##_set(v, *n, x);                                                  \
        name##_up(v, (*n)++);                                                  \
    }                                                                          \
                                                                               \
    static void name##_fix(type **v, size_t n, type *x)                        \
    {                                                                          \
        name##_up(v, (size_t)x->pos);                                          \
        name##_down(v, n, (size_t)x->pos);                                     \
    }                                                                          \
                                                                               \
    static void name##_remove(type **v, size_t *n, type *x)                    \
    {                                                                          \
        size_t i = (size_t)x->pos;                                             \
                                                                               \
        if (x->pos < 0)                                                        \
            return;                                                            \
        x->pos = -1;                                                           \
        if (--*n == i)                                                         \
            return;                                                            \
        name##_set(v, i, v[*n]);                                               \
        name##_down(v, *n, i);                                                 \
        name##_up(v, (size_t)v[i]->pos);                                       \
    }

/* ---- the role heap (the role to serve first on top) ---- */

static int role_before(const struct alloc_role *x, const struct alloc_role *y)
{
    return alloc_role_cmp(x, y) < 0;
}

ORDER_HEAP(rheap, struct alloc_role, rpos, role_before)

static void rheap_insert(struct alloc *a, struct alloc_role *r)
{
    if (alloc_grow(&a->rheap, &a->caprheap, a->nrheap + 1, sizeof(*a->rheap)) < 0) {
        log_error("allocator", "out of memory: role %s gets no offers",
                  r->name);
        return;
    }
    rheap_push(a->rheap, &a->nrheap, r);
}

void alloc_rheap_remove(struct alloc *a, struct alloc_role *r)
{
    rheap_remove(a->rheap, &a->nrheap, r);
}

/* r's frameworks came or went: it is in the heap iff one wants offers. */
void alloc_rheap_sync(struct alloc *a, struct alloc_role *r)
{
    if (r->nheap > 0 && r->rpos < 0)
        rheap_insert(a, r);
    else if (r->nheap == 0 && r->rpos >= 0)
        alloc_rheap_remove(a, r);
}

void alloc_role_key(const struct alloc *a, struct alloc_role *r)
{
    r->needs_quota = role_needs_quota(r);
    r->key = alloc_dominant(a, r->alloc) / r->weight;
}

/* The role's allocation moved: so does its place in the order. */
void alloc_role_rekey(struct alloc *a, struct alloc_role *r)
{
    alloc_role_key(a, r);
    if (r->rpos >= 0)
        rheap_fix(a->rheap, a->nrheap, r);
}

/* ---- framework heaps (per role, least share on top) ---- */

static int fw_less(const struct alloc_fw *x, const struct alloc_fw *y)
{
    if (x->share != y->share)
        return x->share < y->share;
    return strcmp(x->id, y->id) < 0;
}

ORDER_HEAP(fwheap, struct alloc_fw, heap_pos, fw_less)

int alloc_heap_push(struct alloc_role *r, struct alloc_fw *fw)
{
    if (alloc_grow(&r->heap, &r->capheap, r->nheap + 1, sizeof(*r->heap)) < 0)
        return AGORA_ENOMEM;
    fwheap_push(r->heap, &r->nheap, fw);
    return 0;
}

void alloc_heap_remove(struct alloc_role *r, struct alloc_fw *fw)
{
    fwheap_remove(r->heap, &r->nheap, fw);
}

struct alloc_fw *alloc_heap_pop(struct alloc_role *r)
{
    struct alloc_fw *top = r->nheap ? r->heap[0] : NULL;

    if (top)
        alloc_heap_remove(r, top);
    return top;
}

/* The framework's share changed: move it in its heap. */
static void fw_reshare(struct alloc *a, struct alloc_fw *fw)
{
    fw->share = alloc_dominant(a, fw->alloc);
    if (fw->heap_pos >= 0)
        fwheap_fix(fw->role->heap, fw->role->nheap, fw);
}

/* Cluster totals moved: every share is relative to them. */
void alloc_shares_refresh(struct alloc *a)
{
    size_t i, j;

    for (i = 0; i < a->nroles; i++) {
        struct alloc_role *r = a->rolev[i];

        alloc_role_key(a, r);
        for (j = 0; j < r->nheap; j++)
            r->heap[j]->share = alloc_dominant(a, r->heap[j]->alloc);
        for (j = r->nheap / 2; j-- > 0;)
            fwheap_down(r->heap, r->nheap, j);
    }
    for (j = a->nrheap / 2; j-- > 0;)
        rheap_down(a->rheap, a->nrheap, j);
    a->shares_stale = 0;
}

/* fw and its role now hold sign * b more. */
void alloc_held_change(struct alloc *a, struct alloc_fw *fw,
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
    alloc_role_rekey(a, fw->role);
    fw_reshare(a, fw);
}

/* fw holds sign * b more on ag by tasks. */
void alloc_hold_change(struct alloc_agent *ag, struct alloc_fw *fw,
                        const struct ar_bundle *b, int sign)
{
    size_t i;
    int k, zero = 1;

    if (fw == NULL)
        return;
    for (i = 0; i < ag->nholds && ag->holds[i].fw != fw; i++)
        ;
    if (i == ag->nholds) {
        if (sign < 0 || alloc_grow(&ag->holds, &ag->capholds, i + 1,
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


/* ---- roles ---- */

struct alloc_role *alloc_role_get(struct alloc *a, const char *name)
{
    struct alloc_role *r = map_get(&a->roles, name);
    size_t i;

    if (r)
        return r;
    r = calloc(1, sizeof(*r));
    if (r == NULL || (r->name = strdup(name)) == NULL ||
        alloc_grow(&a->rolev, &a->caproles, a->nroles + 1, sizeof(*a->rolev)) < 0) {
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

/* Calls one() on each comma-separated item of a copy of spec, up to the
 * first that fails: 0 (also for an empty spec) or that failure. */
static int parse_items(struct alloc *a, const char *spec, char *err,
                       size_t errlen,
                       int (*one)(struct alloc *, char *, char *, size_t))
{
    char *copy, *item, *save = NULL;
    int rc = 0;

    if (spec == NULL || *spec == '\0')
        return 0;
    if ((copy = strdup(spec)) == NULL)
        return AGORA_ENOMEM;
    for (item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save))
        rc = one(a, item, err, errlen);
    free(copy);
    return rc;
}

/* "role=2" */
static int parse_weight_one(struct alloc *a, char *item, char *err,
                            size_t errlen)
{
    char *eq = strchr(item, '='), *end;
    double w = eq ? strtod(eq + 1, &end) : 0;
    struct alloc_role *r;

    if (eq == NULL || eq == item || *end || !(w > 0)) {
        snprintf(err, errlen, "--weights: '%s' is not role=weight (> 0)",
                 item);
        return AGORA_EINVAL;
    }
    *eq = '\0';
    if ((r = alloc_role_get(a, item)) == NULL)
        return AGORA_ENOMEM;
    r->weight = w;
    return 0;
}

int alloc_parse_weights(struct alloc *a, const char *spec, char *err,
                         size_t errlen)
{
    return parse_items(a, spec, err, errlen, parse_weight_one);
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
    if ((r = alloc_role_get(a, item)) == NULL)
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

int alloc_parse_quota(struct alloc *a, const char *spec, char *err,
                       size_t errlen)
{
    return parse_items(a, spec, err, errlen, parse_quota_one);
}

/* ---- changes at run time (the v1 API) ---- */

int alloc_set_weight(struct alloc *a, const char *role, double weight)
{
    struct alloc_role *r;

    if (!(weight > 0))
        return AGORA_EINVAL;
    if ((r = alloc_role_get(a, role)) == NULL)
        return AGORA_ENOMEM;
    r->weight = weight;
    alloc_role_rekey(a, r);
    alloc_dirty_all(a);
    return 0;
}

int alloc_has_quota(struct alloc *a, const char *role)
{
    const struct alloc_role *r = map_get(&a->roles, role);

    return r != NULL && r->has_quota;
}

int alloc_set_quota(struct alloc *a, const char *role, const double *q)
{
    struct alloc_role *r;
    int k;

    for (k = 0; k < AR_N; k++)
        if (q[k] < 0)
            return AGORA_EINVAL;
    if ((r = alloc_role_get(a, role)) == NULL)
        return AGORA_ENOMEM;
    r->has_quota = 0;
    for (k = 0; k < AR_N; k++) {
        r->quota[k] = ar_milli(q[k]);
        r->has_quota |= r->quota[k] != 0;
    }
    alloc_role_rekey(a, r);
    alloc_dirty_all(a);
    return 0;
}
