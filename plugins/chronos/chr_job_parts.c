/*
 * chr_job_parts.c - the list fields of a job (arguments, parents, fetch
 * and uris, environmentVariables, constraints) and the container, kept
 * as JSON text. Each reader records its failures in the parse state and
 * leaves the job holding only what it fully read, so that freeing a
 * failed job never meets a half-built element.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <agora/sdk.h>

#include "chr_job_int.h"

/* ---- arrays of strings ---- */

void chr_strv_free(char **v, size_t n)
{
    size_t i;

    if (!v)
        return;
    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* 1 when every element of the array v is a string; else records which
 * are not (as key[i]) and returns 0. */
static int all_strings(struct chr_pc *c, yajl_val v, const char *key)
{
    size_t i;
    int ok = 1;

    for (i = 0; i < v->u.array.len; i++) {
        if (!YAJL_IS_STRING(v->u.array.values[i])) {
            chr_pc_fail(c, "%s[%zu] must be a string", key, i);
            ok = 0;
        }
    }
    return ok;
}

/*
 * The array of strings at o's key into *out and *n (an empty array gives
 * none: NULL and 0). 1 read, 0 absent, -1 failed (recorded).
 */
static int read_strv(struct chr_pc *c, yajl_val o, const char *key, char ***out,
                     size_t *n)
{
    yajl_val v = chr_member(o, key);
    size_t i, len;
    char **sv;

    if (!v)
        return 0;
    if (!YAJL_IS_ARRAY(v)) {
        chr_pc_fail(c, "%s must be an array of strings", key);
        return -1;
    }
    if (!all_strings(c, v, key))
        return -1;
    len = v->u.array.len;
    if (len == 0)
        return 1;
    sv = calloc(len, sizeof(*sv));
    if (!sv) {
        chr_pc_nomem(c);
        return -1;
    }
    for (i = 0; i < len; i++) {
        sv[i] = chr_strdup(YAJL_GET_STRING(v->u.array.values[i]));
        if (!sv[i]) {
            chr_strv_free(sv, i);
            chr_pc_nomem(c);
            return -1;
        }
    }
    *out = sv;
    *n = len;
    return 1;
}

/* ---- parents: a set of job names, kept in the order given ---- */

struct ref {
    const char *s;
    size_t i;
};

static int ref_cmp(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    int d = strcmp(x->s, y->s);

    if (d != 0)
        return d;
    return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Drops the later copies of repeated names, as Chronos' Set does, in
 * O(n log n): a hostile list of 100,000 parents must not cost 10^10
 * comparisons. 0, or -1 when out of memory.
 */
static int dedupe(char **v, size_t *n)
{
    struct ref *r = malloc(*n * sizeof(*r));
    size_t i, k;

    if (!r)
        return -1;
    for (i = 0; i < *n; i++)
        r[i] = (struct ref){v[i], i};
    qsort(r, *n, sizeof(*r), ref_cmp);
    /* Marked first, freed after: r[i - 1].s must stay readable. */
    for (i = 1; i < *n; i++) {
        if (strcmp(r[i].s, r[i - 1].s) == 0)
            v[r[i].i] = NULL;
    }
    for (i = 0; i < *n; i++) {
        if (!v[r[i].i])
            free((char *)r[i].s);
    }
    free(r);
    for (i = k = 0; i < *n; i++) {
        if (v[i])
            v[k++] = v[i];
    }
    *n = k;
    return 0;
}

static void parse_parents(struct chr_pc *c, yajl_val o, struct chr_job *j)
{
    size_t i;

    if (read_strv(c, o, "parents", &j->parents, &j->nparents) != 1)
        return;
    for (i = 0; i < j->nparents; i++) {
        if (!chr_job_name_valid(j->parents[i]))
            chr_pc_fail(c, "parents[%zu] must match [\\w.-]+, not '%.*s%s'", i,
                        CHR_ECHO(j->parents[i]));
        else if (strcmp(j->parents[i], j->name) == 0)
            chr_pc_fail(c, "a job cannot be its own parent");
    }
    if (j->nparents > 1 && dedupe(j->parents, &j->nparents) != 0)
        chr_pc_nomem(c);
}

/* ---- fetch and uris ---- */

void chr_fetch_free(struct chr_fetch *f, size_t n)
{
    size_t i;

    if (!f)
        return;
    for (i = 0; i < n; i++) {
        free(f[i].uri);
        free(f[i].output_file);
    }
    free(f);
}

/* Sets f from the object e (fetch[i]); f starts zeroed. */
static void parse_fetch_one(struct chr_pc *c, yajl_val e, size_t i,
                            struct chr_fetch *f)
{
    char what[64];
    const char *s = "";
    int rc;

    f->extract = 1;
    if (!YAJL_IS_OBJECT(e)) {
        chr_pc_fail(c, "fetch[%zu] must be an object", i);
        return;
    }
    snprintf(what, sizeof(what), "fetch[%zu].uri", i);
    rc = chr_read_str(c, chr_member(e, "uri"), what, &s);
    if (rc == 0 || (rc == 1 && *s == '\0'))
        chr_pc_fail(c, "%s is required", what);
    f->uri = chr_strdup(s);
    snprintf(what, sizeof(what), "fetch[%zu].executable", i);
    chr_read_bool(c, chr_member(e, "executable"), what, &f->executable);
    snprintf(what, sizeof(what), "fetch[%zu].cache", i);
    chr_read_bool(c, chr_member(e, "cache"), what, &f->cache);
    snprintf(what, sizeof(what), "fetch[%zu].extract", i);
    chr_read_bool(c, chr_member(e, "extract"), what, &f->extract);
    snprintf(what, sizeof(what), "fetch[%zu].output_file", i);
    s = "";
    chr_read_str(c, chr_member(e, "output_file"), what, &s);
    f->output_file = chr_strdup(s);
    if (!f->uri || !f->output_file)
        chr_pc_nomem(c);
}

static void parse_fetch(struct chr_pc *c, yajl_val o, struct chr_job *j)
{
    yajl_val v = chr_member(o, "fetch");
    size_t i, n;

    if (!v)
        return;
    if (!YAJL_IS_ARRAY(v)) {
        chr_pc_fail(c, "fetch must be an array of objects");
        return;
    }
    n = v->u.array.len;
    if (n == 0)
        return;
    j->fetch = calloc(n, sizeof(*j->fetch));
    if (!j->fetch) {
        chr_pc_nomem(c);
        return;
    }
    j->nfetch = n;
    for (i = 0; i < n; i++)
        parse_fetch_one(c, v->u.array.values[i], i, &j->fetch[i]);
}

/* 1 when uris lists exactly the fetch entries' URIs: what GET returns,
 * which a client may post back unchanged. */
static int uris_mirror_fetch(const struct chr_job *j, char **uris, size_t n)
{
    size_t i;

    if (n != j->nfetch)
        return 0;
    for (i = 0; i < n; i++) {
        if (!j->fetch[i].uri || strcmp(uris[i], j->fetch[i].uri) != 0)
            return 0;
    }
    return 1;
}

/* The deprecated uris become fetch entries with Mesos' defaults, as
 * Chronos does; the writer mirrors them back. */
static void uris_to_fetch(struct chr_pc *c, struct chr_job *j, char **uris,
                          size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (uris[i][0] == '\0')
            chr_pc_fail(c, "uris[%zu] must not be empty", i);
    }
    if (chr_pc_failed(c))
        return;
    j->fetch = calloc(n, sizeof(*j->fetch));
    if (!j->fetch) {
        chr_pc_nomem(c);
        return;
    }
    j->nfetch = n;
    for (i = 0; i < n; i++) {
        j->fetch[i].uri = uris[i];
        uris[i] = NULL;
        j->fetch[i].extract = 1;
        j->fetch[i].output_file = chr_strdup("");
        if (!j->fetch[i].output_file)
            chr_pc_nomem(c);
    }
}

static void parse_uris(struct chr_pc *c, yajl_val o, struct chr_job *j)
{
    char **uris = NULL;
    size_t n = 0;

    if (read_strv(c, o, "uris", &uris, &n) != 1 || n == 0)
        return;
    if (j->nfetch > 0 && !uris_mirror_fetch(j, uris, n))
        chr_pc_fail(c, "cannot set both uris and fetch");
    else if (j->nfetch == 0)
        uris_to_fetch(c, j, uris, n);
    chr_strv_free(uris, n);
}

/* ---- environmentVariables ---- */

void chr_env_free(struct chr_env *e, size_t n)
{
    size_t i;

    if (!e)
        return;
    for (i = 0; i < n; i++) {
        free(e[i].name);
        free(e[i].value);
    }
    free(e);
}

static void parse_env_one(struct chr_pc *c, yajl_val e, size_t i,
                          struct chr_env *out)
{
    const char *name = "", *value = "";
    char what[64];
    int rc;

    if (!YAJL_IS_OBJECT(e)) {
        chr_pc_fail(c, "environmentVariables[%zu] must be an object", i);
        return;
    }
    snprintf(what, sizeof(what), "environmentVariables[%zu].name", i);
    rc = chr_read_str(c, chr_member(e, "name"), what, &name);
    if (rc == 0 || (rc == 1 && *name == '\0'))
        chr_pc_fail(c, "%s is required", what);
    snprintf(what, sizeof(what), "environmentVariables[%zu].value", i);
    if (chr_read_str(c, chr_member(e, "value"), what, &value) == 0)
        chr_pc_fail(c, "%s is required", what);
    out->name = chr_strdup(name);
    out->value = chr_strdup(value);
    if (!out->name || !out->value)
        chr_pc_nomem(c);
}

static void parse_env(struct chr_pc *c, yajl_val o, struct chr_job *j)
{
    yajl_val v = chr_member(o, "environmentVariables");
    size_t i, n;

    if (!v)
        return;
    if (!YAJL_IS_ARRAY(v)) {
        chr_pc_fail(c, "environmentVariables must be an array of "
                       "{\"name\",\"value\"} objects");
        return;
    }
    n = v->u.array.len;
    if (n == 0)
        return;
    j->env = calloc(n, sizeof(*j->env));
    if (!j->env) {
        chr_pc_nomem(c);
        return;
    }
    j->nenv = n;
    for (i = 0; i < n; i++)
        parse_env_one(c, v->u.array.values[i], i, &j->env[i]);
}

void chr_parse_lists(struct chr_pc *c, yajl_val o, struct chr_job *j)
{
    read_strv(c, o, "arguments", &j->arguments, &j->narguments);
    parse_parents(c, o, j);
    parse_fetch(c, o, j);
    parse_uris(c, o, j);
    parse_env(c, o, j);
}

/* ---- constraints ---- */

const char *const chr_constraint_ops[3] = {"EQUALS", "LIKE", "UNLIKE"};

/*
 * glibc's regcomp() expands a counted repetition into copies, so
 * "(a{1000}){1000}" asks for a million nodes. A constraint has no use
 * for that: the product of all counts (nested or not, which
 * overestimates) must stay under this.
 */
#define CHR_RE_MAX_REPEAT 1000
#define CHR_RE_MAX_LEN 1024
/* Stacked `+` copy their operand too ("a" and 30 `+`: out of memory):
 * the tree regcomp() would build is sized first, and its closures grow
 * with the square of the nodes (1,000: a few MB; 3,673: 68 MB). */
#define CHR_RE_MAX_NODES 1000

/* 1 when the counted repetitions of pattern p stay within the bound. */
static int repeats_ok(const char *p)
{
    unsigned long product = 1, a, b;
    char *end;

    for (; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p != '{')
            continue;
        a = strtoul(p + 1, &end, 10);
        if (end == p + 1)
            continue;
        b = a;
        if (*end == ',' && end[1] >= '0' && end[1] <= '9')
            b = strtoul(end + 1, &end, 10);
        if (a > CHR_RE_MAX_REPEAT || b > CHR_RE_MAX_REPEAT)
            return 0;
        product *= (a > b ? a : b) + 1;
        if (product > CHR_RE_MAX_REPEAT)
            return 0;
    }
    return 1;
}

int chr_constraint_compile(struct chr_constraint *c, char *err, size_t errlen)
{
    char *pat;
    int rc;

    if (c->op == CHR_C_EQUALS)
        return 0;
    if (strlen(c->value) > CHR_RE_MAX_LEN || !repeats_ok(c->value) ||
        agora_regex_size(c->value, CHR_RE_MAX_NODES) > CHR_RE_MAX_NODES) {
        snprintf(err, errlen,
                 "longer than %d bytes or repeating more than "
                 "%d times",
                 CHR_RE_MAX_LEN, CHR_RE_MAX_REPEAT);
        return AGORA_EINVAL;
    }
    pat = chr_printf("^(%s)$", c->value);
    if (!pat)
        return AGORA_ENOMEM;
    rc = regcomp(&c->re, pat, REG_EXTENDED | REG_NOSUB);
    free(pat);
    if (rc == REG_ESPACE)
        return AGORA_ENOMEM;
    if (rc != 0) {
        regerror(rc, &c->re, err, errlen);
        return AGORA_EINVAL;
    }
    c->has_re = 1;
    return 0;
}

void chr_constraints_free(struct chr_constraint *c, size_t n)
{
    size_t i;

    if (!c)
        return;
    for (i = 0; i < n; i++) {
        free(c[i].attribute);
        free(c[i].value);
        if (c[i].has_re)
            regfree(&c[i].re);
    }
    free(c);
}

/* e is [attribute, operator, value], three strings: 1, else 0. */
static int constraint_shape(yajl_val e)
{
    size_t i;

    if (!YAJL_IS_ARRAY(e) || e->u.array.len != 3)
        return 0;
    for (i = 0; i < 3; i++) {
        if (!YAJL_IS_STRING(e->u.array.values[i]))
            return 0;
    }
    return 1;
}

static void parse_constraint(struct chr_pc *c, yajl_val e, size_t i,
                             struct chr_constraint *out)
{
    const char *attr, *op, *value;
    char err[128];
    size_t k;
    int rc;

    if (!constraint_shape(e)) {
        chr_pc_fail(c,
                    "constraints[%zu] must be [attribute, operator, "
                    "value], three strings",
                    i);
        return;
    }
    attr = YAJL_GET_STRING(e->u.array.values[0]);
    op = YAJL_GET_STRING(e->u.array.values[1]);
    value = YAJL_GET_STRING(e->u.array.values[2]);
    for (k = 0; k < 3 && strcasecmp(op, chr_constraint_ops[k]) != 0; k++)
        ;
    if (*attr == '\0')
        chr_pc_fail(c, "constraints[%zu]: the attribute is empty", i);
    if (k == 3) {
        chr_pc_fail(c,
                    "constraints[%zu]: the operator must be EQUALS, LIKE "
                    "or UNLIKE, not '%.*s%s'",
                    i, CHR_ECHO(op));
        return;
    }
    out->op = (enum chr_constraint_op)k;
    out->attribute = chr_strdup(attr);
    out->value = chr_strdup(value);
    if (!out->attribute || !out->value) {
        chr_pc_nomem(c);
        return;
    }
    rc = chr_constraint_compile(out, err, sizeof(err));
    if (rc == AGORA_ENOMEM)
        chr_pc_nomem(c);
    else if (rc != 0)
        chr_pc_fail(c,
                    "constraints[%zu]: '%.*s%s' is not a regular "
                    "expression (%s)",
                    i, CHR_ECHO(value), err);
}

void chr_parse_constraints(struct chr_pc *c, yajl_val o, struct chr_job *j)
{
    yajl_val v = chr_member(o, "constraints");
    size_t i, n;

    if (!v)
        return;
    if (!YAJL_IS_ARRAY(v)) {
        chr_pc_fail(c, "constraints must be an array of [attribute, "
                       "operator, value]");
        return;
    }
    n = v->u.array.len;
    if (n == 0)
        return;
    j->constraints = calloc(n, sizeof(*j->constraints));
    if (!j->constraints) {
        chr_pc_nomem(c);
        return;
    }
    j->nconstraints = n;
    for (i = 0; i < n; i++)
        parse_constraint(c, v->u.array.values[i], i, &j->constraints[i]);
}

/* ---- the container ---- */

/* The member key of ct, when present, must be one of the names (any
 * case), as Chronos' enums are. */
static void check_name(struct chr_pc *c, yajl_val ct, const char *key,
                       const char *const *names, const char *list)
{
    yajl_val v = chr_member(ct, key);
    const char *s = NULL;
    char what[32];

    snprintf(what, sizeof(what), "container.%s", key);
    if (chr_read_str(c, v, what, &s) != 1)
        return;
    for (; *names; names++) {
        if (strcasecmp(s, *names) == 0)
            return;
    }
    chr_pc_fail(c, "%s must be %s, not '%.*s%s'", what, list, CHR_ECHO(s));
}

static void check_arrays(struct chr_pc *c, yajl_val ct)
{
    static const char *const keys[] = {"volumes", "parameters", "networkInfos"};
    yajl_val v;
    size_t i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        v = chr_member(ct, keys[i]);
        if (v && !YAJL_IS_ARRAY(v))
            chr_pc_fail(c, "container.%s must be an array", keys[i]);
    }
}

/*
 * The container is passed to the agent as given (§2.2), so it is checked
 * only where Chronos' own reading of it would fail, and kept as text.
 * Chronos reads a container only when it has an image; one without is
 * dropped, as there.
 */
void chr_parse_container(struct chr_pc *c, yajl_val o, struct chr_job *j)
{
    static const char *const types[] = {"DOCKER", "MESOS", NULL};
    static const char *const nets[] = {"HOST", "BRIDGE", "USER", NULL};
    yajl_val ct = chr_member(o, "container"), img;
    int b, rc;

    if (!ct)
        return;
    if (!YAJL_IS_OBJECT(ct)) {
        chr_pc_fail(c, "container must be an object");
        return;
    }
    img = chr_member(ct, "image");
    if (!img)
        return;
    if (!YAJL_IS_STRING(img) || YAJL_GET_STRING(img)[0] == '\0')
        chr_pc_fail(c, "container.image must be a non-empty string");
    check_name(c, ct, "type", types, "DOCKER or MESOS");
    check_name(c, ct, "network", nets, "HOST, BRIDGE or USER");
    chr_read_bool(c, chr_member(ct, "forcePullImage"),
                  "container.forcePullImage", &b);
    check_arrays(c, ct);
    rc = chr_json_text(ct, &j->container_json);
    if (rc == AGORA_ENOMEM)
        chr_pc_nomem(c);
    else if (rc != 0)
        chr_pc_fail(c, "container is nested too deeply (more than %d levels)",
                    CHR_JSON_MAX_DEPTH);
}

/* ---- JSON text of a tree, without recursion ---- */

static void put_scalar(struct agora_jw *w, yajl_val v)
{
    if (YAJL_IS_STRING(v))
        agora_jw_str(w, YAJL_GET_STRING(v));
    else if (YAJL_IS_NUMBER(v) && v->u.number.r)
        agora_jw_raw(w, v->u.number.r, strlen(v->u.number.r));
    else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
        agora_jw_bool(w, YAJL_IS_TRUE(v));
    else
        agora_jw_null(w);
}

struct jframe {
    yajl_val v;
    size_t i; /* the next member or element */
};

static size_t kids(yajl_val v)
{
    return YAJL_IS_OBJECT(v) ? v->u.object.len : v->u.array.len;
}

/* Writes v, or opens it and pushes it; AGORA_EINVAL when that is one
 * level more than the stack holds. */
static int enter(struct agora_jw *w, struct jframe *st, int *top, yajl_val v)
{
    if (!YAJL_IS_OBJECT(v) && !YAJL_IS_ARRAY(v)) {
        put_scalar(w, v);
        return 0;
    }
    if (*top + 1 >= CHR_JSON_MAX_DEPTH)
        return AGORA_EINVAL;
    if (YAJL_IS_OBJECT(v))
        agora_jw_obj_open(w);
    else
        agora_jw_arr_open(w);
    st[++*top] = (struct jframe){v, 0};
    return 0;
}

/* Walks the tree depth first with st as the stack of open containers. */
static int walk(struct agora_jw *w, yajl_val root)
{
    struct jframe st[CHR_JSON_MAX_DEPTH];
    struct jframe *f;
    int top = -1;

    if (enter(w, st, &top, root) != 0)
        return AGORA_EINVAL;
    while (top >= 0) {
        f = &st[top];
        if (f->i == kids(f->v)) {
            if (YAJL_IS_OBJECT(f->v))
                agora_jw_obj_close(w);
            else
                agora_jw_arr_close(w);
            top--;
            continue;
        }
        if (YAJL_IS_OBJECT(f->v))
            agora_jw_key(w, f->v->u.object.keys[f->i]);
        f->i++;
        if (enter(w, st, &top,
                  YAJL_IS_OBJECT(f->v) ? f->v->u.object.values[f->i - 1]
                                       : f->v->u.array.values[f->i - 1]) != 0)
            return AGORA_EINVAL;
    }
    return 0;
}

int chr_json_text(yajl_val v, char **out)
{
    struct agora_jw *w = agora_jw_new();
    const char *res;
    int rc;

    *out = NULL;
    if (!w)
        return AGORA_ENOMEM;
    rc = walk(w, v);
    res = agora_jw_result(w, NULL);
    if (rc == 0 && res) {
        *out = chr_strdup(res);
        rc = *out ? 0 : AGORA_ENOMEM;
    } else if (rc == 0) {
        rc = AGORA_ENOMEM; /* the writer fails only for want of memory here */
    }
    agora_jw_free(w);
    return rc;
}
