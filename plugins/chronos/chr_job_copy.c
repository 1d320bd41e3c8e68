/*
 * chr_job_copy.c - deep copies, comparison and freeing of jobs. Every
 * pointer of struct chr_job is owned by the job: the strings of the
 * field table, the lists, the container text, the schedule and its cron,
 * the zone's name. A copy shares nothing with its original.
 */
#include <stdlib.h>
#include <string.h>

#include "chr_job_int.h"

/* ---- free ---- */

void chr_job_free(struct chr_job *j)
{
    const struct chr_field *f;
    size_t k;

    if (!j)
        return;
    for (k = 0; k < chr_job_nfields; k++) {
        f = &chr_job_fields[k];
        if (f->type == CHR_F_STR)
            free(*CHR_FIELD(j, f, char *));
    }
    chr_fetch_free(j->fetch, j->nfetch);
    chr_env_free(j->env, j->nenv);
    chr_strv_free(j->arguments, j->narguments);
    chr_strv_free(j->parents, j->nparents);
    chr_constraints_free(j->constraints, j->nconstraints);
    free(j->container_json);
    free(j->schedule);
    if (j->cron)
        chr_cron_free(j->cron);
    free(j->schedule_tz);
    free(j);
}

/* ---- copy ---- */

/* A copy of s; *ok drops to 0 when s exists and could not be copied. */
static char *cp(const char *s, int *ok)
{
    char *d = chr_strdup(s);

    if (s && !d)
        *ok = 0;
    return d;
}

static char **cp_strv(char *const *v, size_t n, int *ok)
{
    char **d;
    size_t i;

    if (!v || n == 0)
        return NULL;
    d = calloc(n, sizeof(*d));
    if (!d) {
        *ok = 0;
        return NULL;
    }
    for (i = 0; i < n; i++)
        d[i] = cp(v[i], ok);
    return d;
}

static struct chr_fetch *cp_fetch(const struct chr_fetch *f, size_t n, int *ok)
{
    struct chr_fetch *d;
    size_t i;

    if (!f || n == 0)
        return NULL;
    d = calloc(n, sizeof(*d));
    if (!d) {
        *ok = 0;
        return NULL;
    }
    for (i = 0; i < n; i++) {
        d[i] = f[i];
        d[i].uri = cp(f[i].uri, ok);
        d[i].output_file = cp(f[i].output_file, ok);
    }
    return d;
}

static struct chr_env *cp_env(const struct chr_env *e, size_t n, int *ok)
{
    struct chr_env *d;
    size_t i;

    if (!e || n == 0)
        return NULL;
    d = calloc(n, sizeof(*d));
    if (!d) {
        *ok = 0;
        return NULL;
    }
    for (i = 0; i < n; i++) {
        d[i].name = cp(e[i].name, ok);
        d[i].value = cp(e[i].value, ok);
    }
    return d;
}

/* Regular expressions are compiled again: a regex_t cannot be copied. */
static struct chr_constraint *cp_constraints(const struct chr_constraint *c,
                                             size_t n, int *ok)
{
    struct chr_constraint *d;
    char err[128];
    size_t i;

    if (!c || n == 0)
        return NULL;
    d = calloc(n, sizeof(*d));
    if (!d) {
        *ok = 0;
        return NULL;
    }
    for (i = 0; i < n; i++) {
        d[i].op = c[i].op;
        d[i].attribute = cp(c[i].attribute, ok);
        d[i].value = cp(c[i].value, ok);
        if (d[i].value && chr_constraint_compile(&d[i], err, sizeof(err)) != 0)
            *ok = 0;
    }
    return d;
}

/* The cron schedule parsed again from its text: it parsed before, so
 * only memory can fail it. */
static struct chr_cron *cp_cron(const struct chr_job *j, int *ok)
{
    struct chr_cron *c;
    const char *why;

    if (!j->cron)
        return NULL;
    c = chr_cron_parse(j->schedule + 5, &why);
    if (!c)
        *ok = 0;
    return c;
}

/*
 * Starts from a copy of every value, then replaces every pointer by a
 * copy of what it points to, so that freeing a half-made copy frees only
 * the copy's memory.
 */
struct chr_job *chr_job_dup(const struct chr_job *j)
{
    struct chr_job *d = malloc(sizeof(*d));
    const struct chr_field *f;
    int ok = 1;
    size_t k;

    if (!d)
        return NULL;
    *d = *j;
    for (k = 0; k < chr_job_nfields; k++) {
        f = &chr_job_fields[k];
        if (f->type == CHR_F_STR)
            *CHR_FIELD(d, f, char *) = cp(*CHR_CFIELD(j, f, char *), &ok);
    }
    d->fetch = cp_fetch(j->fetch, j->nfetch, &ok);
    d->env = cp_env(j->env, j->nenv, &ok);
    d->arguments = cp_strv(j->arguments, j->narguments, &ok);
    d->parents = cp_strv(j->parents, j->nparents, &ok);
    d->constraints = cp_constraints(j->constraints, j->nconstraints, &ok);
    d->container_json = cp(j->container_json, &ok);
    d->schedule = cp(j->schedule, &ok);
    d->schedule_tz = cp(j->schedule_tz, &ok);
    d->cron = ok ? cp_cron(j, &ok) : NULL;
    if (!ok) {
        chr_job_free(d);
        return NULL;
    }
    return d;
}

/* ---- equality ---- */

/* Both NULL, or the same text. */
static int str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static int strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
    size_t i;

    if (na != nb)
        return 0;
    for (i = 0; i < na; i++) {
        if (!str_eq(a[i], b[i]))
            return 0;
    }
    return 1;
}

static int fetch_eq(const struct chr_job *a, const struct chr_job *b)
{
    const struct chr_fetch *x, *y;
    size_t i;

    if (a->nfetch != b->nfetch)
        return 0;
    for (i = 0; i < a->nfetch; i++) {
        x = &a->fetch[i];
        y = &b->fetch[i];
        if (!str_eq(x->uri, y->uri) ||
            !str_eq(x->output_file, y->output_file) ||
            x->executable != y->executable || x->cache != y->cache ||
            x->extract != y->extract)
            return 0;
    }
    return 1;
}

static int env_eq(const struct chr_job *a, const struct chr_job *b)
{
    size_t i;

    if (a->nenv != b->nenv)
        return 0;
    for (i = 0; i < a->nenv; i++) {
        if (!str_eq(a->env[i].name, b->env[i].name) ||
            !str_eq(a->env[i].value, b->env[i].value))
            return 0;
    }
    return 1;
}

static int constraints_eq(const struct chr_job *a, const struct chr_job *b)
{
    const struct chr_constraint *x, *y;
    size_t i;

    if (a->nconstraints != b->nconstraints)
        return 0;
    for (i = 0; i < a->nconstraints; i++) {
        x = &a->constraints[i];
        y = &b->constraints[i];
        if (x->op != y->op || !str_eq(x->attribute, y->attribute) ||
            !str_eq(x->value, y->value))
            return 0;
    }
    return 1;
}

static int period_eq(const struct chr_period *a, const struct chr_period *b)
{
    return a->years == b->years && a->months == b->months &&
           a->weeks == b->weeks && a->days == b->days && a->hours == b->hours &&
           a->minutes == b->minutes && a->ms == b->ms;
}

/* The schedule's text decides a cron schedule; an ISO one is compared
 * parsed as well, since the same text read at another `now` could
 * differ (it cannot once stored, as empty starts are written out). */
static int schedule_eq(const struct chr_job *a, const struct chr_job *b)
{
    return str_eq(a->schedule, b->schedule) &&
           str_eq(a->schedule_tz, b->schedule_tz) &&
           (a->cron != NULL) == (b->cron != NULL) &&
           a->iso.repeat == b->iso.repeat && a->iso.start == b->iso.start &&
           period_eq(&a->iso.period, &b->iso.period);
}

static int scalar_eq(const struct chr_field *f, const struct chr_job *a,
                     const struct chr_job *b)
{
    switch (f->type) {
    case CHR_F_STR:
        return str_eq(*CHR_CFIELD(a, f, char *), *CHR_CFIELD(b, f, char *));
    case CHR_F_BOOL:
    case CHR_F_INT:
        return *CHR_CFIELD(a, f, int) == *CHR_CFIELD(b, f, int);
    case CHR_F_COUNT:
    case CHR_F_TIME:
        return *CHR_CFIELD(a, f, int64_t) == *CHR_CFIELD(b, f, int64_t);
    case CHR_F_NUM:
        return *CHR_CFIELD(a, f, double) == *CHR_CFIELD(b, f, double);
    case CHR_F_PART:
        return 1;
    }
    return 0;
}

int chr_job_equal(const struct chr_job *a, const struct chr_job *b)
{
    size_t k;

    for (k = 0; k < chr_job_nfields; k++) {
        if (!scalar_eq(&chr_job_fields[k], a, b))
            return 0;
    }
    return fetch_eq(a, b) && env_eq(a, b) && constraints_eq(a, b) &&
           strv_eq(a->arguments, a->narguments, b->arguments, b->narguments) &&
           strv_eq(a->parents, a->nparents, b->parents, b->nparents) &&
           str_eq(a->container_json, b->container_json) && schedule_eq(a, b) &&
           period_eq(&a->epsilon_period, &b->epsilon_period) &&
           a->concurrency == b->concurrency &&
           a->starting_deadline == b->starting_deadline;
}
