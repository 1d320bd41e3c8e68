/*
 * alloc_res.c - bundles of resources in fixed point (see alloc_res.h).
 */
#include "alloc_res.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <agora/resources.h>

const char *const ar_names[AR_N] = {"cpus", "mem", "disk", "gpus"};

int64_t ar_milli(double v) { return (int64_t)llround(v * 1000.0); }

double ar_unmilli(int64_t m) { return (double)m / 1000.0; }

static int ar_index(const char *name)
{
    int i;

    for (i = 0; i < AR_N; i++)
        if (strcmp(name, ar_names[i]) == 0)
            return i;
    return -1;
}

/* ---- ranges ---- */

void ar_ranges_free(struct ar_ranges *r)
{
    free(r->v);
    memset(r, 0, sizeof(*r));
}

static int ranges_reserve(struct ar_ranges *r, size_t n)
{
    struct agora_range *v;
    size_t cap = r->cap ? r->cap : 4;

    if (n <= r->cap)
        return 0;
    while (cap < n)
        cap *= 2;
    v = realloc(r->v, cap * sizeof(*v));
    if (v == NULL)
        return AGORA_ENOMEM;
    r->v = v;
    r->cap = cap;
    return 0;
}

/* Inserts [b, e] keeping the list sorted and merged. */
static int ranges_insert(struct ar_ranges *r, uint64_t b, uint64_t e)
{
    size_t i = 0, j;

    while (i < r->n && r->v[i].end + 1 < b)
        i++;
    /* Everything from i that touches [b, e] merges into one range. */
    j = i;
    while (j < r->n && r->v[j].begin <= e + 1) {
        if (r->v[j].begin < b)
            b = r->v[j].begin;
        if (r->v[j].end > e)
            e = r->v[j].end;
        j++;
    }
    if (j == i) {
        if (ranges_reserve(r, r->n + 1) < 0)
            return AGORA_ENOMEM;
        memmove(&r->v[i + 1], &r->v[i], (r->n - i) * sizeof(r->v[0]));
        r->n++;
    } else if (j > i + 1) {
        memmove(&r->v[i + 1], &r->v[j], (r->n - j) * sizeof(r->v[0]));
        r->n -= j - i - 1;
    }
    r->v[i].begin = b;
    r->v[i].end = e;
    return 0;
}

int ar_ranges_add(struct ar_ranges *dst, const struct ar_ranges *src)
{
    size_t i;

    for (i = 0; i < src->n; i++)
        if (ranges_insert(dst, src->v[i].begin, src->v[i].end) < 0)
            return AGORA_ENOMEM;
    return 0;
}

/* The index of the range holding [b, e] whole, or -1. */
static long ranges_find(const struct ar_ranges *r, uint64_t b, uint64_t e)
{
    size_t lo = 0, hi = r->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (r->v[mid].end < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < r->n && r->v[lo].begin <= b && e <= r->v[lo].end)
        return (long)lo;
    return -1;
}

int ar_ranges_contains(const struct ar_ranges *a, const struct ar_ranges *b)
{
    size_t i;

    for (i = 0; i < b->n; i++)
        if (ranges_find(a, b->v[i].begin, b->v[i].end) < 0)
            return 0;
    return 1;
}

/* Cuts [b, e] out of the range at index k, which holds it. */
static int ranges_cut(struct ar_ranges *r, size_t k, uint64_t b, uint64_t e)
{
    struct agora_range *x = &r->v[k];

    if (x->begin == b && x->end == e) {
        memmove(x, x + 1, (r->n - k - 1) * sizeof(*x));
        r->n--;
    } else if (x->begin == b) {
        x->begin = e + 1;
    } else if (x->end == e) {
        x->end = b - 1;
    } else {
        uint64_t tail = x->end;

        if (ranges_reserve(r, r->n + 1) < 0)
            return AGORA_ENOMEM;
        x = &r->v[k];
        memmove(x + 2, x + 1, (r->n - k - 1) * sizeof(*x));
        r->n++;
        x->end = b - 1;
        x[1].begin = e + 1;
        x[1].end = tail;
    }
    return 0;
}

int ar_ranges_sub(struct ar_ranges *dst, const struct ar_ranges *src)
{
    size_t i;

    if (!ar_ranges_contains(dst, src))
        return AGORA_EINVAL;
    for (i = 0; i < src->n; i++) {
        long k = ranges_find(dst, src->v[i].begin, src->v[i].end);

        if (k < 0 || ranges_cut(dst, (size_t)k, src->v[i].begin,
                                src->v[i].end) < 0)
            return AGORA_ENOMEM;
    }
    return 0;
}

static int ranges_copy(struct ar_ranges *dst, const struct ar_ranges *src)
{
    memset(dst, 0, sizeof(*dst));
    if (src->n == 0)
        return 0;
    if (ranges_reserve(dst, src->n) < 0)
        return AGORA_ENOMEM;
    memcpy(dst->v, src->v, src->n * sizeof(src->v[0]));
    dst->n = src->n;
    return 0;
}

/* ---- bundles ---- */

void ar_free(struct ar_bundle *b)
{
    ar_ranges_free(&b->ports);
    agora_resources_free(&b->extra);
    memset(b, 0, sizeof(*b));
}

int ar_copy(struct ar_bundle *dst, const struct ar_bundle *src)
{
    memset(dst, 0, sizeof(*dst));
    memcpy(dst->s, src->s, sizeof(src->s));
    if (ranges_copy(&dst->ports, &src->ports) < 0 ||
        (src->extra.n && agora_resources_copy(&dst->extra, &src->extra) < 0)) {
        ar_free(dst);
        return AGORA_ENOMEM;
    }
    return 0;
}

int ar_is_empty(const struct ar_bundle *b)
{
    int i;

    for (i = 0; i < AR_N; i++)
        if (b->s[i] > 0)
            return 0;
    return b->ports.n == 0 && b->extra.n == 0;
}

int ar_add(struct ar_bundle *dst, const struct ar_bundle *src)
{
    int i;

    for (i = 0; i < AR_N; i++)
        dst->s[i] += src->s[i];
    if (ar_ranges_add(&dst->ports, &src->ports) < 0)
        return AGORA_ENOMEM;
    if (src->extra.n && agora_resources_add(&dst->extra, &src->extra) < 0)
        return AGORA_ENOMEM;
    return 0;
}

int ar_contains(const struct ar_bundle *a, const struct ar_bundle *b)
{
    int i;

    for (i = 0; i < AR_N; i++)
        if (a->s[i] < b->s[i])
            return 0;
    if (!ar_ranges_contains(&a->ports, &b->ports))
        return 0;
    return b->extra.n == 0 || agora_resources_contains(&a->extra, &b->extra);
}

int ar_sub(struct ar_bundle *dst, const struct ar_bundle *src)
{
    int i;

    if (!ar_contains(dst, src))
        return AGORA_EINVAL;
    for (i = 0; i < AR_N; i++)
        dst->s[i] -= src->s[i];
    if (ar_ranges_sub(&dst->ports, &src->ports) < 0)
        return AGORA_ENOMEM;
    if (src->extra.n && agora_resources_subtract(&dst->extra, &src->extra) < 0)
        return AGORA_ENOMEM;
    return 0;
}

void ar_sub_clamp(struct ar_bundle *dst, const struct ar_bundle *src)
{
    int i;

    for (i = 0; i < AR_N; i++)
        dst->s[i] = dst->s[i] > src->s[i] ? dst->s[i] - src->s[i] : 0;
}

/* Adds one generic resource to the extra list (as its own resources). */
static int extra_add(struct ar_bundle *b, const struct agora_resource *x)
{
    struct agora_resources one = {(struct agora_resource *)x, 1};

    return agora_resources_add(&b->extra, &one);
}

int ar_from(const struct agora_resources *r, const char *role,
            struct ar_bundle *b)
{
    size_t i;

    for (i = 0; i < r->n; i++) {
        const struct agora_resource *x = &r->v[i];
        int k;

        if (role && strcmp(x->role, role) != 0)
            continue;
        k = x->type == AGORA_SCALAR ? ar_index(x->name) : -1;
        if (k >= 0) {
            b->s[k] += ar_milli(x->scalar);
        } else if (x->type == AGORA_RANGES && strcmp(x->name, "ports") == 0) {
            struct ar_ranges src = {x->ranges, x->nranges, x->nranges};

            if (ar_ranges_add(&b->ports, &src) < 0)
                return AGORA_ENOMEM;
        } else if (extra_add(b, x) < 0) {
            return AGORA_ENOMEM;
        }
    }
    return 0;
}

/* Fills x (borrowing name, role and ranges) as one resource. */
static void out_fill(struct agora_resource *x, const char *name,
                     const char *role, double scalar,
                     const struct ar_ranges *ranges)
{
    memset(x, 0, sizeof(*x));
    x->name = (char *)name;
    x->role = (char *)role;
    if (ranges) {
        x->type = AGORA_RANGES;
        x->ranges = ranges->v;
        x->nranges = ranges->n;
    } else {
        x->type = AGORA_SCALAR;
        x->scalar = scalar;
    }
}

/* One resource of b into x, owning copies; 0 or AGORA_ENOMEM. */
static int fresh_one(struct agora_resource *x, const char *name,
                     const char *role, double scalar,
                     const struct ar_ranges *ranges)
{
    memset(x, 0, sizeof(*x));
    if ((x->name = strdup(name)) == NULL || (x->role = strdup(role)) == NULL)
        return AGORA_ENOMEM;
    x->type = ranges ? AGORA_RANGES : AGORA_SCALAR;
    x->scalar = scalar;
    if (ranges) {
        if ((x->ranges = malloc(ranges->n * sizeof(*x->ranges))) == NULL)
            return AGORA_ENOMEM;
        memcpy(x->ranges, ranges->v, ranges->n * sizeof(*x->ranges));
        x->nranges = ranges->n;
    }
    return 0;
}

/*
 * b as resources of `role` into the empty *out, built in normal form
 * directly (sorted by name: cpus, disk, gpus, mem, ports): what every
 * offer needs, without agora_resources_add()'s copies.
 */
static int ar_to_fresh(const struct ar_bundle *b, const char *role,
                       struct agora_resources *out)
{
    static const int order[AR_N] = {AR_CPUS, AR_DISK, AR_GPUS, AR_MEM};
    size_t n = b->ports.n ? 1 : 0;
    int i;

    for (i = 0; i < AR_N; i++)
        n += b->s[i] > 0;
    if (n == 0)
        return 0;
    if ((out->v = calloc(n, sizeof(*out->v))) == NULL)
        return AGORA_ENOMEM;
    for (i = 0; i < AR_N; i++) {
        int k = order[i];

        if (b->s[k] > 0 && fresh_one(&out->v[out->n++], ar_names[k], role,
                                     ar_unmilli(b->s[k]), NULL) < 0)
            goto fail;
    }
    if (b->ports.n &&
        fresh_one(&out->v[out->n++], "ports", role, 0, &b->ports) < 0)
        goto fail;
    return 0;
fail:
    agora_resources_free(out);
    return AGORA_ENOMEM;
}

/*
 * Appends b to out as resources of `role`, in one agora_resources_add():
 * it copies the whole list each time, so adding one resource at a time
 * made building an offer quadratic (and the allocator's hottest path).
 */
int ar_to(const struct ar_bundle *b, const char *role,
          struct agora_resources *out)
{
    struct agora_resource fast[AR_N + 1], *v = fast;
    struct agora_resources all;
    size_t n = 0, i;
    int k, rc;

    if (out->n == 0 && b->extra.n == 0)
        return ar_to_fresh(b, role, out);
    if (b->extra.n &&
        (v = malloc((AR_N + 1 + b->extra.n) * sizeof(*v))) == NULL)
        return AGORA_ENOMEM;
    for (k = 0; k < AR_N; k++)
        if (b->s[k] > 0)
            out_fill(&v[n++], ar_names[k], role, ar_unmilli(b->s[k]), NULL);
    if (b->ports.n)
        out_fill(&v[n++], "ports", role, 0, &b->ports);
    for (i = 0; i < b->extra.n; i++) {
        v[n] = b->extra.v[i];
        v[n++].role = (char *)role;
    }
    all.v = v;
    all.n = n;
    rc = n ? agora_resources_add(out, &all) : 0;
    if (v != fast)
        free(v);
    return rc;
}
