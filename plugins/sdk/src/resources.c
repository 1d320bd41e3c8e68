/*
 * resources.c - Mesos resource strings and arithmetic (agora/resources.h).
 *
 * Parse, copy, add and subtract give lists in one normal form:
 *   - one entry per (name, role), sorted by name, then role, both with
 *     strcmp(); "*" sorts before every valid role name, so the
 *     unreserved entry of a name comes first:
 *         cpus:2;cpus(analytics):2;mem:1024;ports:[31000-32000]
 *   - a name has one type under all its roles;
 *   - no empty entry (a zero scalar, no ranges, an empty set);
 *   - scalars rounded to three decimals, ranges sorted and merged (1-2
 *     and 3-4 become 1-4), set items sorted and unique.
 * A list built by hand may be in any order and hold duplicates: add,
 * copy and subtract bring it to normal form first, and contains, find
 * and scalar do not depend on it. A NULL role means "*".
 */
#include "agora/resources.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink.h"

/* ---- small helpers ---- */

static const char *role_of(const struct agora_resource *r)
{
    return r->role ? r->role : "*";
}

/* Three decimals, as Mesos keeps them; never -0. */
static double round3(double x)
{
    double r = round(x * 1000) / 1000;

    return r == 0 ? 0 : r;
}

/* Not isalnum(): the set must not depend on the locale. */
static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int valid_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++) {
        if (!is_name_char(*s))
            return 0;
    }
    return 1;
}

/* "." and ".." are refused because roles end up in paths. */
static int valid_role(const char *s)
{
    if (strcmp(s, "*") == 0)
        return 1;
    return valid_name(s) && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static const char *type_name(enum agora_value_type t)
{
    switch (t) {
    case AGORA_SCALAR:
        return "scalar";
    case AGORA_RANGES:
        return "ranges";
    case AGORA_SET:
        return "set";
    }
    return "unknown";
}

/* Grows *p (*cap elements of size elem) to hold at least `need`. */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : 4;
    void *q;

    if (need <= *cap)
        return 0;
    while (n < need) {
        if (n > (size_t)-1 / 2 / elem)
            return AGORA_ENOMEM;
        n *= 2;
    }
    q = realloc(*p, n * elem);
    if (!q)
        return AGORA_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

/* ---- one resource ---- */

static void res_free(struct agora_resource *r)
{
    size_t i;

    free(r->name);
    free(r->role);
    free(r->ranges);
    for (i = 0; i < r->nitems; i++)
        free(r->items[i]);
    free(r->items);
    memset(r, 0, sizeof(*r));
}

static int res_empty(const struct agora_resource *r)
{
    switch (r->type) {
    case AGORA_SCALAR:
        return round3(r->scalar) == 0;
    case AGORA_RANGES:
        return r->nranges == 0;
    case AGORA_SET:
        return r->nitems == 0;
    }
    return 1;
}

/* Whether a resource from the caller can be taken in at all. */
static int res_valid(const struct agora_resource *r)
{
    size_t i;

    if (!valid_name(r->name) || !valid_role(role_of(r)))
        return 0;
    if (r->type == AGORA_SCALAR)
        return isfinite(r->scalar) && r->scalar >= 0;
    if (r->type == AGORA_RANGES) {
        for (i = 0; i < r->nranges; i++) {
            if (r->ranges[i].begin > r->ranges[i].end)
                return 0;
        }
        return r->nranges == 0 || r->ranges;
    }
    if (r->type != AGORA_SET || (r->nitems && !r->items))
        return 0;
    for (i = 0; i < r->nitems; i++) {
        if (!r->items[i])
            return 0;
    }
    return 1;
}

/* Same name and role, and (when type >= 0) that type. */
static int res_is(const struct agora_resource *r, const char *name,
                  const char *role, int type)
{
    return r->name && strcmp(r->name, name) == 0 &&
           strcmp(role_of(r), role) == 0 && (type < 0 || (int)r->type == type);
}

/* ---- ranges ---- */

static int range_cmp(const void *a, const void *b)
{
    const struct agora_range *x = a, *y = b;

    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Sorts and merges overlapping or adjacent ranges; the new count. */
static size_t ranges_merge(struct agora_range *r, size_t n)
{
    size_t i, out = 0;

    if (n == 0)
        return 0;
    qsort(r, n, sizeof(*r), range_cmp);
    for (i = 1; i < n; i++) {
        /* begin - 1 is only reached when begin > end >= 0. */
        if (r[i].begin <= r[out].end || r[i].begin - 1 == r[out].end) {
            if (r[i].end > r[out].end)
                r[out].end = r[i].end;
        } else {
            r[++out] = r[i];
        }
    }
    return out + 1;
}

/* An uninitialised array of n elements of size elem; NULL when out of
 * memory or when n * elem overflows. The caller frees it. */
static void *array_new(size_t n, size_t elem)
{
    if (n > (size_t)-1 / elem)
        return NULL;
    return malloc(n * elem);
}

/* d's ranges united with x; d is unchanged when out of memory. */
static int ranges_union(struct agora_resource *d, const struct agora_range *x,
                        size_t nx)
{
    size_t n = d->nranges + nx;
    struct agora_range *v;

    if (nx == 0)
        return 0;
    v = array_new(n, sizeof(*v));
    if (!v)
        return AGORA_ENOMEM;
    if (d->nranges)
        memcpy(v, d->ranges, d->nranges * sizeof(*v));
    memcpy(v + d->nranges, x, nx * sizeof(*v));
    free(d->ranges);
    d->ranges = v;
    d->nranges = ranges_merge(v, n);
    return 0;
}

/* Appends to out[n..] what is left of a once the sorted ranges x are
 * cut out of it; returns the new n. */
static size_t range_cut(struct agora_range a, const struct agora_range *x,
                        size_t nx, struct agora_range *out, size_t n)
{
    uint64_t cur = a.begin;
    size_t j;

    for (j = 0; j < nx; j++) {
        if (x[j].end < cur)
            continue;
        if (x[j].begin > a.end)
            break;
        if (x[j].begin > cur)
            out[n++] = (struct agora_range){cur, x[j].begin - 1};
        if (x[j].end >= a.end)
            return n;
        cur = x[j].end + 1; /* x[j].end < a.end: no overflow */
    }
    out[n++] = (struct agora_range){cur, a.end};
    return n;
}

/*
 * d's ranges minus the sorted ranges x. A range of x splits at most one
 * range of d in two, so nd + nx pieces are enough.
 */
static int ranges_subtract(struct agora_resource *d,
                           const struct agora_range *x, size_t nx)
{
    size_t i, n = 0, cap = d->nranges + nx;
    struct agora_range *v;

    if (d->nranges == 0 || nx == 0)
        return 0;
    v = array_new(cap, sizeof(*v));
    if (!v)
        return AGORA_ENOMEM;
    for (i = 0; i < d->nranges; i++)
        n = range_cut(d->ranges[i], x, nx, v, n);
    free(d->ranges);
    d->ranges = v;
    d->nranges = n;
    return 0;
}

/* ---- sets ---- */

static int item_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts v and frees its duplicates; the new count. */
static size_t items_unique(char **v, size_t n)
{
    size_t i, out = 0;

    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), item_cmp);
    for (i = 1; i < n; i++) {
        if (strcmp(v[i], v[out]) == 0)
            free(v[i]);
        else
            v[++out] = v[i];
    }
    return out + 1;
}

/* d's items united with copies of x; d is unchanged when out of memory. */
static int items_union(struct agora_resource *d, char *const *x, size_t nx)
{
    size_t i, n = d->nitems + nx;
    char **v;

    if (nx == 0)
        return 0;
    v = array_new(n, sizeof(*v));
    if (!v)
        return AGORA_ENOMEM;
    for (i = 0; i < nx; i++) {
        v[d->nitems + i] = strdup(x[i]);
        if (!v[d->nitems + i]) {
            while (i-- > 0)
                free(v[d->nitems + i]);
            free(v);
            return AGORA_ENOMEM;
        }
    }
    if (d->nitems)
        memcpy(v, d->items, d->nitems * sizeof(*v));
    free(d->items);
    d->items = v;
    d->nitems = items_unique(v, n);
    return 0;
}

/* Removes from d (sorted, unique) every item of x; never allocates. */
static void items_subtract(struct agora_resource *d, char *const *x, size_t nx)
{
    size_t i, j, out = 0;

    for (i = 0; i < d->nitems; i++) {
        for (j = 0; j < nx && strcmp(d->items[i], x[j]) != 0; j++)
            ;
        if (j < nx)
            free(d->items[i]);
        else
            d->items[out++] = d->items[i];
    }
    d->nitems = out;
}

/* ---- arithmetic on one resource of the same name, role and type ---- */

static int res_add(struct agora_resource *d, const struct agora_resource *x)
{
    switch (d->type) {
    case AGORA_SCALAR:
        d->scalar = round3(d->scalar + round3(x->scalar));
        return 0;
    case AGORA_RANGES:
        return ranges_union(d, x->ranges, x->nranges);
    case AGORA_SET:
        return items_union(d, x->items, x->nitems);
    }
    return AGORA_EINVAL;
}

/* x must be in normal form and within d. */
static int res_sub(struct agora_resource *d, const struct agora_resource *x)
{
    switch (d->type) {
    case AGORA_SCALAR:
        d->scalar = round3(d->scalar - x->scalar);
        if (d->scalar < 0)
            d->scalar = 0;
        return 0;
    case AGORA_RANGES:
        return ranges_subtract(d, x->ranges, x->nranges);
    case AGORA_SET:
        items_subtract(d, x->items, x->nitems);
        return 0;
    }
    return AGORA_EINVAL;
}

/* A normalised deep copy of x into *d; *d is left zeroed on failure. */
static int res_copy(struct agora_resource *d, const struct agora_resource *x)
{
    int rc;

    memset(d, 0, sizeof(*d));
    d->type = x->type;
    d->name = strdup(x->name);
    d->role = strdup(role_of(x));
    if (!d->name || !d->role) {
        res_free(d);
        return AGORA_ENOMEM;
    }
    rc = res_add(d, x);
    if (rc != 0)
        res_free(d);
    return rc;
}

/* ---- lists ---- */

/* Where (name, role) is in the sorted list r, or where it would go. */
static size_t list_locate(const struct agora_resources *r, const char *name,
                          const char *role, int *found)
{
    size_t i;
    int c = 1;

    for (i = 0; i < r->n; i++) {
        c = strcmp(r->v[i].name, name);
        if (c == 0)
            c = strcmp(role_of(&r->v[i]), role);
        if (c >= 0)
            break;
    }
    *found = i < r->n && c == 0;
    return i;
}

/* An entry of r with x's name and another type, or NULL. */
static const struct agora_resource *
list_type_conflict(const struct agora_resources *r,
                   const struct agora_resource *x)
{
    size_t i;

    for (i = 0; i < r->n; i++) {
        if (strcmp(r->v[i].name, x->name) == 0 && r->v[i].type != x->type)
            return &r->v[i];
    }
    return NULL;
}

static int list_insert(struct agora_resources *r, size_t at,
                       const struct agora_resource *x)
{
    struct agora_resource c;
    struct agora_resource *v;
    int rc;

    rc = res_copy(&c, x);
    if (rc != 0)
        return rc;
    v = realloc(r->v, (r->n + 1) * sizeof(*v));
    if (!v) {
        res_free(&c);
        return AGORA_ENOMEM;
    }
    r->v = v;
    memmove(&v[at + 1], &v[at], (r->n - at) * sizeof(*v));
    v[at] = c;
    r->n++;
    return 0;
}

/*
 * Adds x to the normal-form list r (empty entries included, pruned
 * later). On failure r may hold part of the work but stays valid.
 */
static int list_merge(struct agora_resources *r, const struct agora_resource *x)
{
    size_t at;
    int found;

    if (!res_valid(x) || list_type_conflict(r, x))
        return AGORA_EINVAL;
    at = list_locate(r, x->name, role_of(x), &found);
    if (found)
        return res_add(&r->v[at], x);
    return list_insert(r, at, x);
}

/* Frees and drops empty entries. */
static void list_prune(struct agora_resources *r)
{
    size_t i, out = 0;

    for (i = 0; i < r->n; i++) {
        if (res_empty(&r->v[i]))
            res_free(&r->v[i]);
        else
            r->v[out++] = r->v[i];
    }
    r->n = out;
    if (out == 0) {
        free(r->v);
        r->v = NULL;
    }
}

/* *out = the normal form of a and b (b may be NULL) together. Neither
 * input is touched, so either may be the caller's *out. */
static int list_normalize(struct agora_resources *out,
                          const struct agora_resources *a,
                          const struct agora_resources *b)
{
    struct agora_resources t = {NULL, 0};
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && a && i < a->n; i++)
        rc = list_merge(&t, &a->v[i]);
    for (i = 0; rc == 0 && b && i < b->n; i++)
        rc = list_merge(&t, &b->v[i]);
    if (rc != 0) {
        agora_resources_free(&t);
        return rc;
    }
    list_prune(&t);
    *out = t;
    return 0;
}

/* a -= b, both in normal form with b within a. */
static int list_subtract(struct agora_resources *a,
                         const struct agora_resources *b)
{
    size_t i, at;
    int found, rc;

    for (i = 0; i < b->n; i++) {
        at = list_locate(a, b->v[i].name, role_of(&b->v[i]), &found);
        if (!found)
            return AGORA_EINVAL; /* not reached: b is within a */
        rc = res_sub(&a->v[at], &b->v[i]);
        if (rc != 0)
            return rc;
    }
    list_prune(a);
    return 0;
}

/* ---- public: lifetime and arithmetic ---- */

void agora_resources_free(struct agora_resources *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->n; i++)
        res_free(&r->v[i]);
    free(r->v);
    r->v = NULL;
    r->n = 0;
}

/* The copy is in normal form, so a list built by hand may come back
 * sorted and merged. */
int agora_resources_copy(struct agora_resources *dst,
                         const struct agora_resources *src)
{
    if (!dst)
        return AGORA_EINVAL;
    return list_normalize(dst, src, NULL);
}

/* Built beside dst and swapped in, so dst is unchanged on any failure
 * (out of memory, an invalid resource, a name with two types). */
int agora_resources_add(struct agora_resources *dst,
                        const struct agora_resources *src)
{
    struct agora_resources t;
    int rc;

    if (!dst)
        return AGORA_EINVAL;
    rc = list_normalize(&t, dst, src);
    if (rc != 0)
        return rc;
    agora_resources_free(dst);
    *dst = t;
    return 0;
}

int agora_resources_subtract(struct agora_resources *dst,
                             const struct agora_resources *src)
{
    struct agora_resources a, b;
    int rc;

    if (!dst)
        return AGORA_EINVAL;
    rc = list_normalize(&a, dst, NULL);
    if (rc != 0)
        return rc;
    rc = list_normalize(&b, src, NULL);
    if (rc == 0 && !agora_resources_contains(&a, &b))
        rc = AGORA_EINVAL;
    if (rc == 0)
        rc = list_subtract(&a, &b);
    agora_resources_free(&b);
    if (rc != 0) {
        agora_resources_free(&a);
        return rc;
    }
    agora_resources_free(dst);
    *dst = a;
    return 0;
}

/* ---- public: queries ---- */

/* The sum of the scalars of that name and role in r (all roles when
 * role is NULL). */
static double scalar_sum(const struct agora_resources *r, const char *name,
                         const char *role)
{
    double sum = 0;
    size_t i;

    for (i = 0; r && i < r->n; i++) {
        if (r->v[i].type == AGORA_SCALAR && r->v[i].name &&
            strcmp(r->v[i].name, name) == 0 &&
            (!role || strcmp(role_of(&r->v[i]), role) == 0))
            sum = round3(sum + r->v[i].scalar);
    }
    return sum;
}

/* Into *end the greatest end of a range of x's kind in a that holds
 * lo; returns 0 when none does. */
static int range_holding(const struct agora_resources *a,
                         const struct agora_resource *x, uint64_t lo,
                         uint64_t *end)
{
    const struct agora_resource *r;
    size_t i, j;
    int found = 0;

    *end = 0;
    for (i = 0; i < a->n; i++) {
        r = &a->v[i];
        if (!res_is(r, x->name, role_of(x), AGORA_RANGES))
            continue;
        for (j = 0; j < r->nranges; j++) {
            /* A range holding lo ends at lo or later, so *end (0 or a
             * previous end >= lo) only grows. */
            if (r->ranges[j].begin <= lo && lo <= r->ranges[j].end &&
                r->ranges[j].end >= *end) {
                *end = r->ranges[j].end;
                found = 1;
            }
        }
    }
    return found;
}

/* Whether [lo, hi] is covered by x's kind of ranges in a, which need
 * not be sorted nor merged: walk from lo through the ranges holding it. */
static int ranges_covered(const struct agora_resources *a,
                          const struct agora_resource *x, uint64_t lo,
                          uint64_t hi)
{
    uint64_t end;

    for (;;) {
        if (!range_holding(a, x, lo, &end))
            return 0;
        if (end >= hi)
            return 1;
        lo = end + 1; /* end < hi: no overflow */
    }
}

static int set_holds(const struct agora_resources *a,
                     const struct agora_resource *x, const char *item)
{
    size_t i, j;

    for (i = 0; i < a->n; i++) {
        if (!res_is(&a->v[i], x->name, role_of(x), AGORA_SET))
            continue;
        for (j = 0; j < a->v[i].nitems; j++) {
            if (strcmp(a->v[i].items[j], item) == 0)
                return 1;
        }
    }
    return 0;
}

/* Whether x, an entry of b, is within a. Scalars compare sums, so
 * that b holding the same name and role twice is still judged right. */
static int res_within(const struct agora_resources *a,
                      const struct agora_resources *b,
                      const struct agora_resource *x)
{
    size_t i;

    if (!x->name)
        return 0;
    if (x->type == AGORA_SCALAR)
        return round(scalar_sum(a, x->name, role_of(x)) * 1000) >=
               round(scalar_sum(b, x->name, role_of(x)) * 1000);
    for (i = 0; x->type == AGORA_RANGES && i < x->nranges; i++) {
        if (!ranges_covered(a, x, x->ranges[i].begin, x->ranges[i].end))
            return 0;
    }
    for (i = 0; x->type == AGORA_SET && i < x->nitems; i++) {
        if (!x->items[i] || !set_holds(a, x, x->items[i]))
            return 0;
    }
    return 1;
}

/* Never allocates; a NULL list is empty. */
int agora_resources_contains(const struct agora_resources *a,
                             const struct agora_resources *b)
{
    static const struct agora_resources none = {NULL, 0};
    size_t i;

    if (!a)
        a = &none;
    for (i = 0; b && i < b->n; i++) {
        if (!res_within(a, b, &b->v[i]))
            return 0;
    }
    return 1;
}

const struct agora_resource *
agora_resources_find(const struct agora_resources *r, const char *name,
                     const char *role)
{
    size_t i;

    if (!r || !name)
        return NULL;
    for (i = 0; i < r->n; i++) {
        if (res_is(&r->v[i], name, role ? role : "*", -1))
            return &r->v[i];
    }
    return NULL;
}

double agora_resources_scalar(const struct agora_resources *r, const char *name)
{
    if (!name)
        return 0;
    return scalar_sum(r, name, NULL);
}

/* ---- formatting ---- */

static void sink_str(struct sink *k, const char *s)
{
    if (s)
        sink_put(k, s, strlen(s));
}

/* n's decimal digits into buf (at least 20 bytes); returns how many.
 * Formatting runs for every task launched and every offer (the text is
 * the key the master shares a task's resources by), where snprintf()
 * was a tenth of a launch's CPU. */
static size_t format_u64(char *buf, uint64_t n)
{
    char tmp[20];
    size_t len = 0, i;

    do {
        tmp[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    for (i = 0; i < len; i++)
        buf[i] = tmp[len - 1 - i];
    return len;
}

/* Three decimals without trailing zeros: 2, 2.5, 0.125. The buffer
 * holds any finite double at %.3f (DBL_MAX has 309 digits). Below 1e12
 * the thousandths are an exact integer, written without snprintf(); the
 * same text as %.3f, since round3() leaves the value within a fraction
 * of one ulp of them. */
static void format_scalar(struct sink *k, double v)
{
    char buf[DBL_MAX_10_EXP + 16];
    double r = round3(v);
    size_t n;

    if (r >= 0 && r < 1e12) {
        uint64_t milli = (uint64_t)llround(r * 1000);
        unsigned frac = (unsigned)(milli % 1000);

        n = format_u64(buf, milli / 1000);
        if (frac) {
            buf[n++] = '.';
            buf[n++] = (char)('0' + frac / 100);
            buf[n++] = (char)('0' + frac / 10 % 10);
            buf[n++] = (char)('0' + frac % 10);
            while (buf[n - 1] == '0')
                n--;
        }
        sink_put(k, buf, n);
        return;
    }
    snprintf(buf, sizeof(buf), "%.3f", r);
    n = strlen(buf);
    if (strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0')
            n--;
        if (n > 0 && buf[n - 1] == '.')
            n--;
    }
    sink_put(k, buf, n);
}

static void format_ranges(struct sink *k, const struct agora_resource *r)
{
    char buf[48]; /* two 20-digit numbers, '-' and ',' */
    size_t i, n;

    sink_put(k, "[", 1);
    for (i = 0; i < r->nranges; i++) {
        n = 0;
        if (i)
            buf[n++] = ',';
        n += format_u64(buf + n, r->ranges[i].begin);
        buf[n++] = '-';
        n += format_u64(buf + n, r->ranges[i].end);
        sink_put(k, buf, n);
    }
    sink_put(k, "]", 1);
}

static void format_set(struct sink *k, const struct agora_resource *r)
{
    size_t i;

    sink_put(k, "{", 1);
    for (i = 0; i < r->nitems; i++) {
        if (i)
            sink_put(k, ",", 1);
        sink_str(k, r->items[i]);
    }
    sink_put(k, "}", 1);
}

static void format_one(struct sink *k, const struct agora_resource *r)
{
    sink_str(k, r->name);
    if (strcmp(role_of(r), "*") != 0) {
        sink_put(k, "(", 1);
        sink_str(k, r->role);
        sink_put(k, ")", 1);
    }
    sink_put(k, ":", 1);
    if (r->type == AGORA_RANGES)
        format_ranges(k, r);
    else if (r->type == AGORA_SET)
        format_set(k, r);
    else
        format_scalar(k, r->scalar);
}

size_t agora_resources_format(const struct agora_resources *r, char *out,
                              size_t outlen)
{
    struct sink k = {out, outlen, 0};
    size_t i;

    for (i = 0; r && i < r->n; i++) {
        if (i)
            sink_put(&k, ";", 1);
        format_one(&k, &r->v[i]);
    }
    return sink_end(&k);
}

char *agora_resources_text(const struct agora_resources *r)
{
    char local[256];
    size_t need = agora_resources_format(r, local, sizeof(local));
    char *s = malloc(need + 1);

    /* One pass for the usual few resources, two past the stack buffer. */
    if (s && need < sizeof(local))
        memcpy(s, local, need + 1);
    else if (s)
        agora_resources_format(r, s, need + 1);
    return s;
}

/* ---- parsing ---- */

struct parser {
    const char *p;    /* the cursor */
    const char *item; /* where the current resource starts, for errors */
    char *err;
    size_t errlen;
};

/* The longest excerpt of an item an error message quotes. */
#define ERR_ITEM_MAX 64

static int parse_fail(struct parser *ps, const char *fmt, ...)
    AGORA_PRINTF(2, 3);

/* Writes "<reason> in '<item>'" to the caller's err, the item cut at its
 * ';' (and shortened when long); returns AGORA_EINVAL. */
static int parse_fail(struct parser *ps, const char *fmt, ...)
{
    va_list ap;
    size_t n, len;
    int w;

    if (!ps->err || ps->errlen == 0)
        return AGORA_EINVAL;
    va_start(ap, fmt);
    w = vsnprintf(ps->err, ps->errlen, fmt, ap);
    va_end(ap);
    n = w < 0 ? 0 : (size_t)w;
    if (n >= ps->errlen)
        return AGORA_EINVAL;
    len = strcspn(ps->item, ";");
    snprintf(ps->err + n, ps->errlen - n, " in '%.*s%s'",
             (int)(len > ERR_ITEM_MAX ? ERR_ITEM_MAX : len), ps->item,
             len > ERR_ITEM_MAX ? "..." : "");
    return AGORA_EINVAL;
}

static void skip_ws(struct parser *ps)
{
    while (is_ws(*ps->p))
        ps->p++;
}

static size_t scan_name(struct parser *ps)
{
    const char *s = ps->p;

    while (is_name_char(*ps->p))
        ps->p++;
    return (size_t)(ps->p - s);
}

/* At '(': the role up to its ')' into x->role. */
static int parse_role(struct parser *ps, struct agora_resource *x)
{
    const char *s;
    size_t n;

    ps->p++;
    skip_ws(ps);
    s = ps->p;
    if (*ps->p == '*')
        ps->p++;
    else
        scan_name(ps);
    n = (size_t)(ps->p - s);
    skip_ws(ps);
    if (*ps->p != ')') {
        if (strchr(":;()", *ps->p)) /* also true at the final NUL */
            return parse_fail(ps, "unbalanced parentheses");
        return parse_fail(ps, "invalid role");
    }
    ps->p++;
    if (n == 0)
        return parse_fail(ps, "empty role");
    x->role = strndup(s, n);
    if (!x->role)
        return AGORA_ENOMEM;
    if (!valid_role(x->role))
        return parse_fail(ps, "invalid role '%s'", x->role);
    return 0;
}

/* "name" or "name(role)", then ':'. */
static int parse_head(struct parser *ps, struct agora_resource *x)
{
    const char *s = ps->p;
    size_t n = scan_name(ps);
    int rc;

    skip_ws(ps);
    if (*ps->p == ')')
        return parse_fail(ps, "unbalanced parentheses");
    if (n == 0)
        return parse_fail(ps, *ps->p == ':' || *ps->p == '('
                                  ? "empty name"
                                  : "invalid resource name");
    x->name = strndup(s, n);
    if (!x->name)
        return AGORA_ENOMEM;
    if (*ps->p == '(') {
        rc = parse_role(ps, x);
        if (rc != 0)
            return rc;
        skip_ws(ps);
        if (*ps->p == ')' || *ps->p == '(')
            return parse_fail(ps, "unbalanced parentheses");
    }
    if (!x->role && !(x->role = strdup("*")))
        return AGORA_ENOMEM;
    if (*ps->p == ':') {
        ps->p++;
        return 0;
    }
    if (*ps->p == '\0' || *ps->p == ';' || is_name_char(*ps->p))
        return parse_fail(ps, "missing ':' after '%s'", x->name);
    return parse_fail(ps, "unexpected character after '%s'", x->name);
}

/* [0-9]*(.[0-9]*)?([eE][+-]?[0-9]+)? with a digit before the exponent,
 * filling [s, e) exactly: strtod() alone would take "inf", "0x1p3". */
static int number_syntax(const char *s, const char *e)
{
    int digits = 0;

    for (; s < e && *s >= '0' && *s <= '9'; s++)
        digits++;
    if (s < e && *s == '.') {
        for (s++; s < e && *s >= '0' && *s <= '9'; s++)
            digits++;
    }
    if (digits == 0)
        return 0;
    if (s < e && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < e && (*s == '+' || *s == '-'))
            s++;
        if (s == e || *s < '0' || *s > '9')
            return 0;
        while (s < e && *s >= '0' && *s <= '9')
            s++;
    }
    return s == e;
}

/* The text up to the next ';', trimmed, as a non-negative number. */
static int parse_scalar(struct parser *ps, struct agora_resource *x)
{
    const char *s = ps->p, *e = s + strcspn(s, ";");
    int neg;
    double v;

    x->type = AGORA_SCALAR;
    ps->p = e;
    while (e > s && is_ws(e[-1]))
        e--;
    if (e == s)
        return parse_fail(ps, "missing value");
    neg = *s == '-';
    if (!number_syntax(s + neg, e))
        return parse_fail(ps, "not a number");
    v = strtod(s, NULL);
    if (neg && v < 0)
        return parse_fail(ps, "negative value");
    x->scalar = round3(v);
    if (!isfinite(x->scalar))
        return parse_fail(ps, "value out of range");
    return 0;
}

/* Decimal digits only: strtoull() would take "-1" and wrap it. */
static int parse_u64(struct parser *ps, uint64_t *out)
{
    uint64_t v = 0, d;

    if (*ps->p < '0' || *ps->p > '9')
        return -1;
    for (; *ps->p >= '0' && *ps->p <= '9'; ps->p++) {
        d = (uint64_t)(*ps->p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* A range that does not read as begin-end. */
static int range_fail(struct parser *ps)
{
    if (*ps->p == '\0' || *ps->p == ';')
        return parse_fail(ps, "bad range: missing ']'");
    return parse_fail(ps, "bad range: expected begin-end");
}

static int parse_range(struct parser *ps, struct agora_range *r)
{
    skip_ws(ps);
    if (parse_u64(ps, &r->begin) != 0)
        return range_fail(ps);
    skip_ws(ps);
    if (*ps->p != '-')
        return range_fail(ps);
    ps->p++;
    skip_ws(ps);
    if (parse_u64(ps, &r->end) != 0)
        return range_fail(ps);
    if (r->begin > r->end)
        return parse_fail(ps, "bad range %" PRIu64 "-%" PRIu64 ": begin > end",
                          r->begin, r->end);
    return 0;
}

/* At a list's opening bracket: steps over it, and over `close` too when
 * it follows at once (1: the list is empty and read). */
static int list_open(struct parser *ps, char close)
{
    ps->p++;
    skip_ws(ps);
    if (*ps->p != close)
        return 0;
    ps->p++;
    return 1;
}

/* At '[': "begin-end" items separated by ',' up to ']'. */
static int parse_ranges(struct parser *ps, struct agora_resource *x)
{
    struct agora_range r;
    size_t cap = 0;
    void *p;
    int rc;

    x->type = AGORA_RANGES;
    if (list_open(ps, ']'))
        return 0;
    for (;;) {
        rc = parse_range(ps, &r);
        if (rc != 0)
            return rc;
        p = x->ranges;
        if (grow(&p, &cap, x->nranges + 1, sizeof(r)) != 0)
            return AGORA_ENOMEM;
        x->ranges = p;
        x->ranges[x->nranges++] = r;
        skip_ws(ps);
        if (*ps->p == ']')
            break;
        if (*ps->p != ',')
            return range_fail(ps);
        ps->p++;
    }
    ps->p++;
    return 0;
}

/* One item of a set: anything but the delimiters, trimmed. */
static int parse_set_item(struct parser *ps, struct agora_resource *x,
                          size_t *cap)
{
    const char *s, *e;
    void *p;

    skip_ws(ps);
    s = ps->p;
    ps->p += strcspn(s, ",{};");
    for (e = ps->p; e > s && is_ws(e[-1]); e--)
        ;
    if (e == s)
        return parse_fail(ps, "empty set item");
    p = x->items;
    if (grow(&p, cap, x->nitems + 1, sizeof(char *)) != 0)
        return AGORA_ENOMEM;
    x->items = p;
    x->items[x->nitems] = strndup(s, (size_t)(e - s));
    if (!x->items[x->nitems])
        return AGORA_ENOMEM;
    x->nitems++;
    return 0;
}

/* At '{': items separated by ',' up to '}'. */
static int parse_set(struct parser *ps, struct agora_resource *x)
{
    size_t cap = 0;
    int rc;

    x->type = AGORA_SET;
    if (list_open(ps, '}'))
        return 0;
    for (;;) {
        rc = parse_set_item(ps, x, &cap);
        if (rc != 0)
            return rc;
        if (*ps->p == '}')
            break;
        if (*ps->p != ',')
            return parse_fail(ps, *ps->p == '{' ? "'{' inside a set"
                                                : "missing '}'");
        ps->p++;
    }
    ps->p++;
    return 0;
}

static int parse_value(struct parser *ps, struct agora_resource *x)
{
    int rc;

    skip_ws(ps);
    if (*ps->p == '[')
        rc = parse_ranges(ps, x);
    else if (*ps->p == '{')
        rc = parse_set(ps, x);
    else
        rc = parse_scalar(ps, x);
    if (rc != 0)
        return rc;
    skip_ws(ps);
    if (*ps->p != '\0' && *ps->p != ';')
        return parse_fail(ps, "unexpected text after the value");
    return 0;
}

/* One "name(role):value" at the cursor, added into acc. */
static int parse_item(struct parser *ps, struct agora_resources *acc)
{
    const struct agora_resource *old;
    struct agora_resource x;
    int rc;

    memset(&x, 0, sizeof(x));
    ps->item = ps->p;
    rc = parse_head(ps, &x);
    if (rc == 0)
        rc = parse_value(ps, &x);
    if (rc == 0 && (old = list_type_conflict(acc, &x)) != NULL)
        rc = parse_fail(ps, "'%s' given as %s and as %s", x.name,
                        type_name(old->type), type_name(x.type));
    if (rc == 0)
        rc = list_merge(acc, &x);
    res_free(&x);
    return rc;
}

/* Empty items (";;", a trailing ';') are skipped, as Mesos does. */
int agora_resources_parse(const char *text, struct agora_resources *out,
                          char *err, size_t errlen)
{
    struct parser ps = {text, text, err, errlen};
    struct agora_resources acc = {NULL, 0};
    int rc = 0;

    if (err && errlen > 0)
        err[0] = '\0';
    if (!out || !text) {
        if (err && errlen > 0)
            snprintf(err, errlen, "no resources given");
        return AGORA_EINVAL;
    }
    out->v = NULL;
    out->n = 0;
    for (skip_ws(&ps); rc == 0 && *ps.p; skip_ws(&ps)) {
        if (*ps.p != ';')
            rc = parse_item(&ps, &acc);
        if (rc == 0 && *ps.p == ';')
            ps.p++;
    }
    if (rc == AGORA_ENOMEM && err && errlen > 0)
        snprintf(err, errlen, "out of memory");
    if (rc != 0) {
        agora_resources_free(&acc);
        return rc;
    }
    list_prune(&acc);
    *out = acc;
    return 0;
}
