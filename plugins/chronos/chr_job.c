/*
 * chr_job.c - parsing a job: the entry points, the parse state that
 * gathers every failure into one message, typed readers of the tree, the
 * scalar fields (driven by the table of chr_job_write.c), the name and
 * the concurrency policy. The lists, the container and the schedule have
 * files of their own (chr_job_parts.c, chr_job_sched.c).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chr_job_int.h"

/* ---- strings ---- */

char *chr_strdup(const char *s)
{
    size_t len;
    char *d;

    if (!s)
        return NULL;
    len = strlen(s) + 1;
    d = malloc(len);
    if (d)
        memcpy(d, s, len);
    return d;
}

static char *vprintf_alloc(const char *fmt, va_list ap)
{
    va_list ap2;
    char *s;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    s = malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *chr_printf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = vprintf_alloc(fmt, ap);
    va_end(ap);
    return s;
}

/* Cut before a UTF-8 continuation byte would split a character, and the
 * 400 body would carry invalid UTF-8. */
int chr_echo_len(const char *s)
{
    size_t n = strlen(s);

    if (n <= CHR_ECHO_MAX)
        return (int)n;
    n = CHR_ECHO_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

const char *chr_echo_more(const char *s)
{
    return strlen(s) > CHR_ECHO_MAX ? "..." : "";
}

/* ---- the parse state ---- */

void chr_pc_nomem(struct chr_pc *c)
{
    c->nomem = 1;
}

int chr_pc_failed(const struct chr_pc *c)
{
    return c->nomem || c->msg != NULL;
}

/* Appends m (owned, consumed) to the message. */
static void pc_append(struct chr_pc *c, char *m)
{
    char *joined;

    if (!c->msg) {
        c->msg = m;
        return;
    }
    joined = chr_printf("%s; %s", c->msg, m);
    free(m);
    if (!joined) {
        chr_pc_nomem(c);
        return;
    }
    free(c->msg);
    c->msg = joined;
}

/* Past CHR_MAX_FAILURES nothing is formatted: a body with a million bad
 * elements costs a million comparisons, not a million messages. */
void chr_pc_fail(struct chr_pc *c, const char *fmt, ...)
{
    va_list ap;
    char *m;

    c->nfail++;
    if (c->nfail > CHR_MAX_FAILURES + 1)
        return;
    if (c->nfail == CHR_MAX_FAILURES + 1) {
        m = chr_strdup("...");
    } else {
        va_start(ap, fmt);
        m = vprintf_alloc(fmt, ap);
        va_end(ap);
    }
    if (!m) {
        chr_pc_nomem(c);
        return;
    }
    pc_append(c, m);
}

void chr_pc_set_str(struct chr_pc *c, char **dst, const char *s)
{
    char *d = chr_strdup(s);

    if (!d) {
        chr_pc_nomem(c);
        return;
    }
    free(*dst);
    *dst = d;
}

/* ---- typed reads ---- */

yajl_val chr_member(yajl_val obj, const char *key)
{
    yajl_val v = agora_json_get(obj, key);

    return v && !YAJL_IS_NULL(v) ? v : NULL;
}

int chr_read_str(struct chr_pc *c, yajl_val v, const char *what,
                 const char **out)
{
    if (!v)
        return 0;
    if (!YAJL_IS_STRING(v)) {
        chr_pc_fail(c, "%s must be a string", what);
        return -1;
    }
    *out = YAJL_GET_STRING(v);
    return 1;
}

int chr_read_bool(struct chr_pc *c, yajl_val v, const char *what, int *out)
{
    const char *s;

    if (!v)
        return 0;
    if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        *out = YAJL_IS_TRUE(v);
        return 1;
    }
    s = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : "";
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
        *out = s[0] == 't';
        return 1;
    }
    chr_pc_fail(c, "%s must be a boolean", what);
    return -1;
}

/* v as a finite double: a JSON number or a numeric string. 0 or -1. */
static int number_of(yajl_val v, double *out)
{
    const char *s;
    char *end;
    double d;

    if (YAJL_IS_INTEGER(v)) {
        *out = (double)YAJL_GET_INTEGER(v);
        return 0;
    }
    if (YAJL_IS_DOUBLE(v)) {
        d = YAJL_GET_DOUBLE(v);
    } else if (YAJL_IS_STRING(v)) {
        s = YAJL_GET_STRING(v);
        errno = 0;
        d = strtod(s, &end);
        if (end == s || *end != '\0' || errno != 0)
            return -1;
    } else {
        return -1;
    }
    if (!isfinite(d))
        return -1;
    *out = d;
    return 0;
}

/* v as an integer: a JSON integer, an integral double below 2^53, or a
 * decimal string. 0 or -1. */
static int int_of(yajl_val v, int64_t *out)
{
    const char *s;
    char *end;
    long long ll;
    double d;

    if (YAJL_IS_INTEGER(v)) {
        *out = YAJL_GET_INTEGER(v);
        return 0;
    }
    if (YAJL_IS_STRING(v)) {
        s = YAJL_GET_STRING(v);
        errno = 0;
        ll = strtoll(s, &end, 10);
        if (end != s && *end == '\0' && errno == 0) {
            *out = ll;
            return 0;
        }
    }
    if (number_of(v, &d) != 0 || d != floor(d) || fabs(d) > 9007199254740992.0)
        return -1;
    *out = (int64_t)d;
    return 0;
}

int chr_read_i64(struct chr_pc *c, yajl_val v, const char *what, int64_t max,
                 int64_t *out)
{
    int64_t i;

    if (!v)
        return 0;
    if (int_of(v, &i) != 0) {
        chr_pc_fail(c, "%s must be an integer", what);
        return -1;
    }
    if (i < 0 || i > max) {
        chr_pc_fail(c, "%s must be an integer from 0 to %lld, not %lld", what,
                    (long long)max, (long long)i);
        return -1;
    }
    *out = i;
    return 1;
}

int chr_read_num(struct chr_pc *c, yajl_val v, const char *what, double *out)
{
    double d;

    if (!v)
        return 0;
    if (number_of(v, &d) != 0) {
        chr_pc_fail(c, "%s must be a number", what);
        return -1;
    }
    if (d < 0) {
        chr_pc_fail(c, "%s must not be negative", what);
        return -1;
    }
    *out = d;
    return 1;
}

/* ---- the scalar fields ---- */

/* A time field: "" is never, anything else an ISO 8601 time. */
static void parse_time(struct chr_pc *c, yajl_val v, const char *key,
                       int64_t *out)
{
    const char *s;
    int rc;

    if (chr_read_str(c, v, key, &s) != 1)
        return;
    if (*s == '\0') {
        *out = 0;
        return;
    }
    rc = chr_job_time_parse(s, out);
    if (rc == AGORA_ENOMEM)
        chr_pc_nomem(c);
    else if (rc != 0)
        chr_pc_fail(c,
                    "%s must be an ISO 8601 time such as "
                    "2014-03-08T16:57:17.507Z, or \"\", not '%.*s%s'",
                    key, CHR_ECHO(s));
}

static void parse_scalar(struct chr_pc *c, yajl_val o,
                         const struct chr_field *f, struct chr_job *j)
{
    yajl_val v = chr_member(o, f->key);
    const char *s;
    int64_t i;
    double d;
    int b;

    switch (f->type) {
    case CHR_F_STR:
        if (chr_read_str(c, v, f->key, &s) == 1)
            chr_pc_set_str(c, CHR_FIELD(j, f, char *), s);
        break;
    case CHR_F_BOOL:
        if (chr_read_bool(c, v, f->key, &b) == 1)
            *CHR_FIELD(j, f, int) = b;
        break;
    case CHR_F_INT:
        if (chr_read_i64(c, v, f->key, INT_MAX, &i) == 1)
            *CHR_FIELD(j, f, int) = (int)i;
        break;
    case CHR_F_COUNT:
        if (chr_read_i64(c, v, f->key, INT64_MAX, &i) == 1)
            *CHR_FIELD(j, f, int64_t) = i;
        break;
    case CHR_F_NUM:
        if (chr_read_num(c, v, f->key, &d) == 1)
            *CHR_FIELD(j, f, double) = d;
        break;
    case CHR_F_TIME:
        parse_time(c, v, f->key, CHR_FIELD(j, f, int64_t));
        break;
    case CHR_F_PART:
        break;
    }
}

/* The name is required and must be one Chronos would take; its type was
 * checked with the other strings. */
static void parse_name(struct chr_pc *c, yajl_val o)
{
    yajl_val v = chr_member(o, "name");
    const char *s;

    if (!v) {
        chr_pc_fail(c, "name is required");
        return;
    }
    if (!YAJL_IS_STRING(v))
        return;
    s = YAJL_GET_STRING(v);
    if (!chr_job_name_valid(s))
        chr_pc_fail(c, "name must match [\\w.-]+, not '%.*s%s'", CHR_ECHO(s));
}

/* Zero resources are Chronos' "use the flag" (§2.1), and so is an empty
 * runAsUser; dataJob is the docs' name for dataProcessingJobType. */
static void apply_defaults(struct chr_pc *c, yajl_val o, struct chr_job *j)
{
    const struct chr_job_conf *conf = c->conf;

    if (j->cpus == 0)
        j->cpus = conf->cpus;
    if (j->mem == 0)
        j->mem = conf->mem;
    if (j->disk == 0)
        j->disk = conf->disk;
    if (j->run_as_user[0] == '\0')
        chr_pc_set_str(c, &j->run_as_user, conf->user ? conf->user : "root");
    if (!chr_member(o, "dataProcessingJobType"))
        chr_read_bool(c, chr_member(o, "dataJob"), "dataJob",
                      &j->data_processing);
}

/* ---- the concurrency policy ---- */

/* 1 when chr_read_bool() takes v. */
static int is_bool(yajl_val v)
{
    const char *s = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;

    return YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v) ||
           (s && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0));
}

const char *const chr_concurrency_names[4] = {"QUEUE", "ALLOW", "FORBID",
                                              "REPLACE"};

/*
 * concurrencyPolicy and Chronos' `concurrent` say the same thing twice:
 * ALLOW is concurrent, every other policy is not. Either alone sets both;
 * both given must agree, since quietly preferring one would drop a change
 * a client made to the other.
 */
static void parse_concurrency(struct chr_pc *c, yajl_val o, struct chr_job *j)
{
    yajl_val pv = chr_member(o, "concurrencyPolicy");
    yajl_val cv = chr_member(o, "concurrent");
    const char *s;
    size_t k;
    int64_t i;

    if (chr_read_i64(c, chr_member(o, "startingDeadlineSeconds"),
                     "startingDeadlineSeconds", INT64_MAX / 1000, &i) == 1)
        j->starting_deadline = i;
    if (chr_read_str(c, pv, "concurrencyPolicy", &s) != 1) {
        j->concurrency = j->concurrent ? CHR_CONC_ALLOW : CHR_CONC_QUEUE;
        return;
    }
    for (k = 0; k < 4; k++) {
        if (strcasecmp(s, chr_concurrency_names[k]) == 0)
            break;
    }
    if (k == 4) {
        chr_pc_fail(c,
                    "concurrencyPolicy must be ALLOW, FORBID, REPLACE or "
                    "QUEUE, not '%.*s%s'",
                    CHR_ECHO(s));
        return;
    }
    j->concurrency = (enum chr_concurrency)k;
    /* A `concurrent` of the wrong type has its own failure already. */
    if (cv && is_bool(cv) &&
        j->concurrent != (j->concurrency == CHR_CONC_ALLOW))
        chr_pc_fail(c, "concurrent %s conflicts with concurrencyPolicy %s",
                    j->concurrent ? "true" : "false", chr_concurrency_names[k]);
    j->concurrent = j->concurrency == CHR_CONC_ALLOW;
}

/* ---- entry points ---- */

static const struct chr_job_conf default_conf = CHR_JOB_CONF_DEFAULTS;

/* A job holding Chronos' defaults, its strings "" but runAsUser and
 * epsilon; NULL when out of memory. */
static struct chr_job *job_new(const struct chr_job_conf *conf)
{
    struct chr_job *j = calloc(1, sizeof(*j));
    const struct chr_field *f;
    size_t k;
    int ok = j != NULL;

    for (k = 0; ok && k < chr_job_nfields; k++) {
        f = &chr_job_fields[k];
        if (f->type != CHR_F_STR)
            continue;
        *CHR_FIELD(j, f, char *) = chr_strdup("");
        ok = *CHR_FIELD(j, f, char *) != NULL;
    }
    if (ok) {
        free(j->run_as_user);
        free(j->epsilon);
        j->run_as_user = chr_strdup(conf->user ? conf->user : "root");
        j->epsilon = chr_strdup(conf->epsilon ? conf->epsilon : "PT60S");
        ok = j->run_as_user && j->epsilon;
    }
    if (!ok) {
        chr_job_free(j);
        return NULL;
    }
    j->shell = 1;
    j->retries = 2;
    j->starting_deadline = -1;
    return j;
}

/* Hands the job or the message over; frees what is not handed over. */
static int finish(struct chr_pc *c, struct chr_job *j, struct chr_job **out,
                  char **msg)
{
    if (!chr_pc_failed(c)) {
        *out = j;
        return 0;
    }
    chr_job_free(j);
    if (c->nomem) {
        free(c->msg);
        return AGORA_ENOMEM;
    }
    *msg = c->msg;
    return AGORA_EINVAL;
}

int chr_job_parse(yajl_val v, enum chr_job_mode mode, int64_t now,
                  const struct chr_job_conf *conf, struct chr_job **out,
                  char **msg)
{
    struct chr_pc c = {
        .conf = conf ? conf : &default_conf, .mode = mode, .now = now};
    struct chr_job *j;
    size_t k;

    *out = NULL;
    *msg = NULL;
    if (!YAJL_IS_OBJECT(v)) {
        *msg = chr_strdup("a job must be a JSON object");
        return *msg ? AGORA_EINVAL : AGORA_ENOMEM;
    }
    j = job_new(c.conf);
    if (!j)
        return AGORA_ENOMEM;
    for (k = 0; k < chr_job_nfields; k++)
        parse_scalar(&c, v, &chr_job_fields[k], j);
    parse_name(&c, v);
    apply_defaults(&c, v, j);
    parse_concurrency(&c, v, j);
    chr_parse_lists(&c, v, j);
    chr_parse_constraints(&c, v, j);
    chr_parse_container(&c, v, j);
    chr_parse_schedule(&c, v, j);
    return finish(&c, j, out, msg);
}

int chr_job_parse_text(const char *text, enum chr_job_mode mode, int64_t now,
                       const struct chr_job_conf *conf, struct chr_job **out,
                       char **msg)
{
    char err[160];
    yajl_val v;
    int rc;

    *out = NULL;
    *msg = NULL;
    err[0] = '\0';
    v = agora_json_parse(text ? text : "", err, sizeof(err));
    if (!v) {
        *msg = chr_printf("the job is not valid JSON: %s", err);
        return *msg ? AGORA_EINVAL : AGORA_ENOMEM;
    }
    rc = chr_job_parse(v, mode, now, conf, out, msg);
    yajl_tree_free(v);
    return rc;
}

int chr_job_name_valid(const char *s)
{
    size_t n;

    if (!s || !*s)
        return 0;
    n = strspn(s, "abcdefghijklmnopqrstuvwxyz"
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
    return s[n] == '\0';
}

int chr_job_dependent(const struct chr_job *j)
{
    return j->nparents > 0;
}
