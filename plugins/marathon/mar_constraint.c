/*
 * mar_constraint.c - placement constraints: parse and validate as
 * Marathon does (SchedulingValidation.scala), write, copy, compare.
 * Matching and scale-down selection are in the second half.
 *
 * Validation follows Marathon in two steps: first the JSON shape (an
 * array of arrays of strings, play-json's errors, answered 400), then,
 * only when the shape is right, the rules of each constraint (422).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <agora/sdk.h>

#include "mar_constraint.h"

static const char *const op_names[] = {
    [MAR_C_UNIQUE] = "UNIQUE",
    [MAR_C_CLUSTER] = "CLUSTER",
    [MAR_C_GROUP_BY] = "GROUP_BY",
    [MAR_C_LIKE] = "LIKE",
    [MAR_C_UNLIKE] = "UNLIKE",
    [MAR_C_MAX_PER] = "MAX_PER",
    [MAR_C_IS] = "IS",
};
#define NOPS (sizeof op_names / sizeof op_names[0])

#define MSG_FIELDS "Each constraint must have either 2 or 3 fields"
#define MSG_FIELD "illegal constraint specification"
#define MSG_OP                                                                 \
    "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, "  \
    "MAX_PER, UNLIKE or IS"
#define MSG_UNIQUE "UNIQUE does not accept a value"
#define MSG_MAX_PER "MAX_PER requires an integer value"
#define MSG_GROUP_BY                                                           \
    "GROUP BY must define an integer value or else no value at all"
#define MSG_LIKE "LIKE and UNLIKE require a non-empty, regular expression value"
#define MSG_REGEX "is not a valid regular expression"
#define MSG_IS                                                                 \
    "IS only supports Mesos text and float values (see "                       \
    "http://mesos.apache.org/documentation/latest/attributes-resources/)"

/* ---- small helpers ---- */

static char *dup_str(const char *s)
{
    size_t len;
    char *d;

    if (s == NULL)
        return NULL;
    len = strlen(s) + 1;
    d = malloc(len);
    if (d != NULL)
        memcpy(d, s, len);
    return d;
}

/*
 * The JSON path "<prefix>/constraints", with "(i)" when i is not NOIDX
 * and "(j)" when j >= 0 too; malloc'ed, or NULL.
 */
#define NOIDX ((size_t)-1)

static char *elem_path(const char *prefix, size_t i, long j)
{
    char idx[64] = "";
    int len;
    char *p;

    /* idx holds at most two formatted integers: bounded. */
    if (i != NOIDX && j < 0)
        snprintf(idx, sizeof idx, "(%zu)", i);
    else if (i != NOIDX)
        snprintf(idx, sizeof idx, "(%zu)(%ld)", i, j);
    len = snprintf(NULL, 0, "%s/constraints%s", prefix, idx);
    if (len < 0)
        return NULL;
    p = malloc((size_t)len + 1);
    if (p != NULL)
        snprintf(p, (size_t)len + 1, "%s/constraints%s", prefix, idx);
    return p;
}

/* Records msg at element i (member j when j >= 0). */
static void add_err(struct mar_errs *e, const char *prefix, size_t i, long j,
                    const char *msg)
{
    char *p = elem_path(prefix, i, j);

    if (p == NULL) {
        e->nomem = 1;
        return;
    }
    mar_errs_add(e, p, "%s", msg);
    free(p);
}

/*
 * Java's Integer.parseInt, which Marathon's Try(s.toInt) uses: an
 * optional sign and decimal digits, within 32 bits; nothing else (no
 * spaces, no "inf"). 0 and *out, or -1.
 */
static int parse_java_int(const char *s, long *out)
{
    const char *p = s;
    char *end;
    long v;

    if (*p == '+' || *p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < INT_MIN || v > INT_MAX)
        return -1;
    *out = v;
    return 0;
}

/* The IS value rule: ^[a-zA-Z0-9_/.-]*$ (text and scalars only, so that
 * sets and ranges can be given a meaning later). */
static int is_literal(const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '/' || c == '.' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* The most nodes regcomp() may build for a LIKE/UNLIKE value: past it
 * a pattern of a few bytes could take gigabytes. regcomp()'s closures
 * grow with the square of the nodes: 1,000 took at most 3 MB and 10 ms
 * in the patterns tried, where 3,673 took 68 MB and 0.35 s (found by
 * fuzz_json under its 2 GB bound). */
#define MAR_RE_MAX_NODES 1000

/* Compiles the anchored form of a LIKE/UNLIKE value: the whole attribute
 * must match, as Java's String.matches() requires. 0 or -1. */
static int compile_re(regex_t *re, const char *value)
{
    size_t len = strlen(value);
    char *pat;
    int rc;

    if (agora_regex_size(value, MAR_RE_MAX_NODES) > MAR_RE_MAX_NODES)
        return -1;
    if ((pat = malloc(len + 5)) == NULL)
        return -2;
    pat[0] = '^';
    pat[1] = '(';
    memcpy(pat + 2, value, len);
    memcpy(pat + 2 + len, ")$", 3);
    rc = regcomp(re, pat, REG_EXTENDED | REG_NOSUB);
    free(pat);
    if (rc == REG_ESPACE)
        return -2;
    return rc == 0 ? 0 : -1;
}

static void constraint_clear(struct mar_constraint *c)
{
    free(c->field);
    free(c->value);
    if (c->has_re)
        regfree(&c->re);
    memset(c, 0, sizeof *c);
}

void mar_constraints_free(struct mar_constraint *c, size_t n)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        constraint_clear(&c[i]);
    free(c);
}

/* ---- parsing ---- */

/* The shape: v an array of arrays of strings. Records play-json's
 * errors; returns how many it found. */
static size_t check_shape(yajl_val v, const char *prefix, struct mar_errs *e)
{
    size_t bad = 0;

    for (size_t i = 0; i < v->u.array.len; i++) {
        yajl_val c = v->u.array.values[i];
        if (!YAJL_IS_ARRAY(c)) {
            add_err(e, prefix, i, -1, "error.expected.jsarray");
            bad++;
            continue;
        }
        for (size_t j = 0; j < c->u.array.len; j++) {
            if (!YAJL_IS_STRING(c->u.array.values[j])) {
                add_err(e, prefix, i, (long)j, "error.expected.jsstring");
                bad++;
            }
        }
    }
    if (bad > 0)
        e->json = 1;
    return bad;
}

static int op_from_name(const char *s, enum mar_constraint_op *op)
{
    for (size_t k = 0; k < NOPS; k++) {
        if (strcasecmp(s, op_names[k]) == 0) {
            *op = (enum mar_constraint_op)k;
            return 0;
        }
    }
    return -1;
}

/*
 * The operator's rule for its value (absent = NULL). Returns NULL when
 * the value is acceptable, filling c->n and c->re as the operator needs,
 * else Marathon's message; *nomem set when regcomp ran out of memory.
 */
static const char *check_value(struct mar_constraint *c, int *nomem)
{
    const char *v = c->value;
    int rc;

    switch (c->op) {
    case MAR_C_UNIQUE:
        return v == NULL ? NULL : MSG_UNIQUE;
    case MAR_C_CLUSTER:
        return NULL;
    case MAR_C_GROUP_BY:
        if (v == NULL)
            return NULL;
        return parse_java_int(v, &c->n) == 0 ? NULL : MSG_GROUP_BY;
    case MAR_C_MAX_PER:
        if (v == NULL)
            return MSG_MAX_PER;
        return parse_java_int(v, &c->n) == 0 ? NULL : MSG_MAX_PER;
    case MAR_C_LIKE:
    case MAR_C_UNLIKE:
        /* Marathon refuses only a missing value; "" compiles and
         * matches the empty attribute alone. */
        if (v == NULL)
            return MSG_LIKE;
        rc = compile_re(&c->re, v);
        if (rc == -2)
            *nomem = 1;
        if (rc != 0)
            return rc == -2 ? NULL : MSG_REGEX;
        c->has_re = 1;
        return NULL;
    case MAR_C_IS:
        return (v == NULL || is_literal(v)) ? NULL : MSG_IS;
    }
    return MSG_OP;
}

/*
 * Builds c from the array a (its shape already checked). Returns 0, 1
 * when a rule failed (recorded in e), or -1 when out of memory.
 */
static int parse_one(yajl_val a, const char *prefix, size_t i,
                     struct mar_constraint *c, struct mar_errs *e)
{
    size_t len = a->u.array.len;
    const char *msg;
    int nomem = 0;

    if (len < 2 || len > 3) {
        add_err(e, prefix, i, -1, MSG_FIELDS);
        return 1;
    }
    if (YAJL_GET_STRING(a->u.array.values[0])[0] == '\0') {
        add_err(e, prefix, i, -1, MSG_FIELD);
        return 1;
    }
    if (op_from_name(YAJL_GET_STRING(a->u.array.values[1]), &c->op) != 0) {
        add_err(e, prefix, i, -1, MSG_OP);
        return 1;
    }
    c->field = dup_str(YAJL_GET_STRING(a->u.array.values[0]));
    if (len == 3)
        c->value = dup_str(YAJL_GET_STRING(a->u.array.values[2]));
    if (c->field == NULL || (len == 3 && c->value == NULL))
        return -1;
    msg = check_value(c, &nomem);
    if (nomem)
        return -1;
    if (msg != NULL) {
        add_err(e, prefix, i, -1, msg);
        return 1;
    }
    return 0;
}

int mar_constraints_parse(yajl_val v, const char *path_prefix,
                          struct mar_constraint **out, size_t *n,
                          struct mar_errs *e)
{
    struct mar_constraint *cs;
    size_t len, bad = 0;
    int nomem = 0;

    *out = NULL;
    *n = 0;
    if (path_prefix == NULL)
        path_prefix = "";
    if (v == NULL || YAJL_IS_NULL(v))
        return 0;
    if (!YAJL_IS_ARRAY(v)) {
        e->json = 1;
        add_err(e, path_prefix, NOIDX, -1, "error.expected.jsarray");
        return -1;
    }
    len = v->u.array.len;
    if (check_shape(v, path_prefix, e) > 0)
        return -1;
    if (len == 0)
        return 0;
    cs = calloc(len, sizeof *cs);
    if (cs == NULL) {
        e->nomem = 1;
        return -1;
    }
    for (size_t i = 0; i < len && !nomem; i++) {
        int rc = parse_one(v->u.array.values[i], path_prefix, i, &cs[i], e);
        if (rc < 0)
            nomem = 1;
        else if (rc > 0)
            bad++;
    }
    if (nomem)
        e->nomem = 1;
    if (nomem || bad > 0) {
        mar_constraints_free(cs, len);
        return -1;
    }
    *out = cs;
    *n = len;
    return 0;
}

/* ---- writing, copying, comparing ---- */

void mar_constraints_write(struct agora_jw *w, const struct mar_constraint *c,
                           size_t n)
{
    agora_jw_arr_open(w);
    for (size_t i = 0; i < n; i++) {
        agora_jw_arr_open(w);
        agora_jw_str(w, c[i].field);
        agora_jw_str(w, op_names[c[i].op]);
        if (c[i].value != NULL)
            agora_jw_str(w, c[i].value);
        agora_jw_arr_close(w);
    }
    agora_jw_arr_close(w);
}

/* Copies one constraint into the zeroed d; 0 or -1 (d then holds what
 * was copied, for constraint_clear()). */
static int dup_one(const struct mar_constraint *s, struct mar_constraint *d)
{
    d->op = s->op;
    d->n = s->n;
    d->field = dup_str(s->field);
    if (d->field == NULL)
        return -1;
    if (s->value != NULL) {
        d->value = dup_str(s->value);
        if (d->value == NULL)
            return -1;
    }
    /* A regex_t cannot be copied; compile it again from the text. */
    if (s->has_re) {
        if (compile_re(&d->re, d->value) != 0)
            return -1;
        d->has_re = 1;
    }
    return 0;
}

int mar_constraints_dup(const struct mar_constraint *c, size_t n,
                        struct mar_constraint **out)
{
    struct mar_constraint *d;

    *out = NULL;
    if (n == 0)
        return 0;
    d = calloc(n, sizeof *d);
    if (d == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (dup_one(&c[i], &d[i]) != 0) {
            mar_constraints_free(d, n);
            return -1;
        }
    }
    *out = d;
    return 0;
}

static int str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

int mar_constraints_equal(const struct mar_constraint *a, size_t na,
                          const struct mar_constraint *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++) {
        if (a[i].op != b[i].op || !str_eq(a[i].field, b[i].field) ||
            !str_eq(a[i].value, b[i].value))
            return 0;
    }
    return 1;
}

/* ---- matching ---- */

/* The value of the constraint's field at p, or NULL when p's agent has
 * no such attribute. "hostname" and "@hostname" name the agent's host. */
static const char *place_value(const struct mar_place *p, const char *field)
{
    if (strcmp(field, "hostname") == 0 || strcmp(field, "@hostname") == 0)
        return p->hostname;
    for (size_t i = 0; i < p->nattributes; i++)
        if (p->attributes[i].key != NULL &&
            strcmp(p->attributes[i].key, field) == 0)
            return p->attributes[i].value;
    return NULL;
}

/* A plain decimal number ("0.8", "-3", "10.250"), the form a Mesos
 * scalar takes; not hex, exponents, "inf" or "nan", which strtod would
 * also read. */
static int is_decimal(const char *s, double *out)
{
    const char *p = s;
    int digits = 0;

    if (*p == '-' || *p == '+')
        p++;
    for (; *p != '\0'; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (*p != '.')
            return 0;
    }
    if (digits == 0 || strchr(s, '.') != strrchr(s, '.'))
        return 0;
    *out = strtod(s, NULL);
    return isfinite(*out);
}

/* IS and CLUSTER's value against an attribute: equal text, or, both
 * being numbers, equal to 3 decimals as Marathon formats scalars. */
static int value_eq(const char *attr, const char *want)
{
    double a, b;

    if (strcmp(attr, want) == 0)
        return 1;
    if (!is_decimal(attr, &a) || !is_decimal(want, &b))
        return 0;
    /* round(), not llround(): no integer range to overflow. */
    return round(a * 1000.0) == round(b * 1000.0);
}

/* How many placed tasks have the value v for field. */
static size_t count_value(const char *field, const char *v,
                          const struct mar_place *placed, size_t nplaced)
{
    size_t k = 0;

    for (size_t i = 0; i < nplaced; i++) {
        const char *pv = place_value(&placed[i], field);
        if (pv != NULL && strcmp(pv, v) == 0)
            k++;
    }
    return k;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * GROUP_BY, as Marathon's checkGroupBy: a value no task holds yet is
 * always accepted; a used one only when it holds the fewest tasks and
 * at least N (c->n) distinct values are in use. So with N, tasks spread
 * over N values before any value gets a second one. Placed tasks without
 * the attribute belong to no group. Out of memory refuses the place (the
 * next offer tries again).
 */
static int match_group_by(const struct mar_constraint *c, const char *v,
                          const struct mar_place *placed, size_t nplaced)
{
    const char **vals;
    size_t nv = 0, groups = 0, min = SIZE_MAX, run;
    size_t mine = count_value(c->field, v, placed, nplaced);

    if (mine == 0)
        return 1;
    vals = malloc(nplaced * sizeof *vals);
    if (vals == NULL)
        return 0;
    for (size_t i = 0; i < nplaced; i++) {
        const char *pv = place_value(&placed[i], c->field);
        if (pv != NULL)
            vals[nv++] = pv;
    }
    qsort(vals, nv, sizeof *vals, cmp_str_ptr);
    for (size_t i = 0; i < nv; i += run) {
        for (run = 1; i + run < nv && strcmp(vals[i], vals[i + run]) == 0;)
            run++;
        groups++;
        if (run < min)
            min = run;
    }
    free(vals);
    return (long)groups >= c->n && mine == min;
}

/* CLUSTER, as Marathon's checkCluster: on the given value, or else on
 * the first placed task's (a first task without the attribute pins
 * nothing, so nothing fits). */
static int match_cluster(const struct mar_constraint *c, const char *v,
                         const struct mar_place *placed, size_t nplaced)
{
    const char *first;

    if (c->value != NULL && c->value[0] != '\0')
        return value_eq(v, c->value);
    if (nplaced == 0)
        return 1;
    first = place_value(&placed[0], c->field);
    return first != NULL && strcmp(first, v) == 0;
}

/* LIKE and UNLIKE: an empty pattern, which validation lets through,
 * refuses every place that has the attribute, as in Marathon. */
static int match_like(const struct mar_constraint *c, const char *v)
{
    int hit;

    if (!c->has_re || c->value == NULL || c->value[0] == '\0')
        return 0;
    hit = regexec(&c->re, v, 0, NULL, 0) == 0;
    return c->op == MAR_C_LIKE ? hit : !hit;
}

static int match_one(const struct mar_constraint *c,
                     const struct mar_place *cand,
                     const struct mar_place *placed, size_t nplaced)
{
    const char *v = place_value(cand, c->field);

    if (v == NULL)
        return c->op == MAR_C_UNLIKE;
    switch (c->op) {
    case MAR_C_UNIQUE:
        return count_value(c->field, v, placed, nplaced) == 0;
    case MAR_C_CLUSTER:
        return match_cluster(c, v, placed, nplaced);
    case MAR_C_GROUP_BY:
        return match_group_by(c, v, placed, nplaced);
    case MAR_C_LIKE:
    case MAR_C_UNLIKE:
        return match_like(c, v);
    case MAR_C_MAX_PER:
        return (long)count_value(c->field, v, placed, nplaced) < c->n;
    case MAR_C_IS:
        return value_eq(v, c->value != NULL ? c->value : "");
    }
    return 0;
}

int mar_constraints_match(const struct mar_constraint *c, size_t n,
                          const struct mar_place *candidate,
                          const struct mar_place *placed, size_t nplaced,
                          const struct mar_constraint **why)
{
    for (size_t i = 0; i < n; i++) {
        if (!match_one(&c[i], candidate, placed, nplaced)) {
            if (why != NULL)
                *why = &c[i];
            return 0;
        }
    }
    return 1;
}

/* ---- scale-down selection ---- */

struct kill_item {
    const char *v; /* the task's value; NULL: no such attribute */
    size_t i;      /* its index in placed                       */
};

/* By value, tasks without one first (as one group of their own). */
static int cmp_kill_item(const void *a, const void *b)
{
    const struct kill_item *x = a, *y = b;

    if (x->v == NULL || y->v == NULL)
        return (x->v != NULL) - (y->v != NULL);
    return strcmp(x->v, y->v);
}

/*
 * For the field, numbers the groups of equal values: gid[i] is task i's
 * group, cnt[g] (zeroed by the caller) how many tasks group g holds.
 * 0 or -1.
 */
static int group_tasks(const char *field, const struct mar_place *placed,
                       size_t nplaced, size_t *gid, size_t *cnt)
{
    struct kill_item *it = malloc(nplaced * sizeof *it);
    size_t g = 0;

    if (it == NULL)
        return -1;
    for (size_t i = 0; i < nplaced; i++) {
        it[i].v = place_value(&placed[i], field);
        it[i].i = i;
    }
    qsort(it, nplaced, sizeof *it, cmp_kill_item);
    for (size_t i = 0; i < nplaced; i++) {
        if (i > 0 && cmp_kill_item(&it[i - 1], &it[i]) != 0)
            g++;
        gid[it[i].i] = g;
        cnt[g]++;
    }
    free(it);
    return 0;
}

/* 1 when remaining task a should go before b: its groups are larger,
 * the first balancing constraint deciding, then the next. */
static int kill_before(size_t a, size_t b, size_t nb, size_t nplaced,
                       const size_t *gid, const size_t *cnt)
{
    for (size_t j = 0; j < nb; j++) {
        size_t ca = cnt[j * nplaced + gid[j * nplaced + a]];
        size_t cb = cnt[j * nplaced + gid[j * nplaced + b]];
        if (ca != cb)
            return ca > cb;
    }
    return 0;
}

/* Picks k victims from the groups (nb balancing constraints). */
static void pick_victims(size_t nb, size_t nplaced, size_t k, const size_t *gid,
                         size_t *cnt, unsigned char *gone, size_t *out)
{
    for (size_t m = 0; m < k; m++) {
        size_t best = SIZE_MAX;
        /* Scanning in order and replacing only on a strictly larger
         * group keeps the caller's preference among equals. */
        for (size_t i = 0; i < nplaced; i++) {
            if (gone[i])
                continue;
            if (best == SIZE_MAX || kill_before(i, best, nb, nplaced, gid, cnt))
                best = i;
        }
        gone[best] = 1;
        out[m] = best;
        for (size_t j = 0; j < nb; j++)
            cnt[j * nplaced + gid[j * nplaced + best]]--;
    }
}

static int is_balancing(const struct mar_constraint *c)
{
    return c->op == MAR_C_GROUP_BY || c->op == MAR_C_MAX_PER;
}

long mar_constraints_select_kill(const struct mar_constraint *c, size_t n,
                                 const struct mar_place *placed, size_t nplaced,
                                 size_t k, size_t *out)
{
    size_t nb = 0, j = 0;
    size_t *gid, *cnt;
    unsigned char *gone;
    long rc = (long)(k < nplaced ? k : nplaced);

    for (size_t i = 0; i < n; i++)
        nb += is_balancing(&c[i]);
    if (nb == 0 || k >= nplaced) {
        for (size_t i = 0; i < (size_t)rc; i++)
            out[i] = i;
        return rc;
    }
    if (nplaced > SIZE_MAX / sizeof(size_t) / nb)
        return -1;
    gid = calloc(nb * nplaced, sizeof *gid);
    cnt = calloc(nb * nplaced, sizeof *cnt);
    gone = calloc(nplaced, 1);
    for (size_t i = 0; i < n && gid != NULL && cnt != NULL; i++) {
        if (!is_balancing(&c[i]))
            continue;
        if (group_tasks(c[i].field, placed, nplaced, gid + j * nplaced,
                        cnt + j * nplaced) != 0)
            rc = -1;
        j++;
    }
    if (gid == NULL || cnt == NULL || gone == NULL)
        rc = -1;
    if (rc >= 0)
        pick_victims(nb, nplaced, k, gid, cnt, gone, out);
    free(gid);
    free(cnt);
    free(gone);
    return rc;
}
