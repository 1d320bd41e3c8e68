/*
 * chr_job_sched.c - when a job runs: its kind (scheduled or dependent)
 * as the endpoint requires, the schedule (ISO 8601 or "cron:"), the
 * scheduleTimeZone it is read in, epsilon, and the rewriting of the
 * stored schedule. The grammar itself is chr_time.h's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chr_job_int.h"

/* chr_time's reasons are static strings; running out of memory is told
 * apart from a bad value by its wording. */
static int why_nomem(const char *why)
{
    return why && strstr(why, "memory") != NULL;
}

/* why without the words our message already starts with: chr_time's
 * reasons begin "Cannot parse schedule: " or "cron: ". */
static const char *reason(const char *why, const char *dflt)
{
    static const char *const prefixes[] = {"Cannot parse schedule: ", "cron: "};
    size_t i, n;

    if (!why)
        return dflt;
    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        n = strlen(prefixes[i]);
        if (strncmp(why, prefixes[i], n) == 0)
            return why + n;
    }
    return why;
}

/* ---- times and durations, through the interval grammar ---- */

/* Values longer than any time or duration worth writing are refused
 * before they are pasted into an interval. */
#define CHR_JOB_ISO_MAX 64

int chr_job_time_parse(const char *s, int64_t *out)
{
    struct chr_iso iso;
    const char *why = NULL;
    char *text;
    int rc;

    if (!*s || strlen(s) > CHR_JOB_ISO_MAX || strchr(s, '/'))
        return AGORA_EINVAL;
    text = chr_printf("R1/%s/PT0S", s);
    if (!text)
        return AGORA_ENOMEM;
    rc = chr_iso_parse(text, 0, NULL, &iso, &why);
    free(text);
    if (rc != 0)
        return why_nomem(why) ? AGORA_ENOMEM : AGORA_EINVAL;
    *out = iso.start;
    return 0;
}

/* An ISO 8601 duration ("PT60S", "P1DT2H") into p: 0, AGORA_EINVAL
 * not one, AGORA_ENOMEM. */
static int duration_parse(const char *s, struct chr_period *p)
{
    struct chr_iso iso;
    const char *why = NULL;
    char *text;
    int rc;

    if (s[0] != 'P' || strlen(s) > CHR_JOB_ISO_MAX || strchr(s, '/'))
        return AGORA_EINVAL;
    text = chr_printf("R1/2000-01-01T00:00:00Z/%s", s);
    if (!text)
        return AGORA_ENOMEM;
    rc = chr_iso_parse(text, 0, NULL, &iso, &why);
    free(text);
    if (rc != 0)
        return why_nomem(why) ? AGORA_ENOMEM : AGORA_EINVAL;
    *p = iso.period;
    return 0;
}

/* j->epsilon holds the value given or the conf's default. */
static void parse_epsilon(struct chr_pc *c, struct chr_job *j)
{
    int rc = duration_parse(j->epsilon, &j->epsilon_period);

    if (rc == AGORA_ENOMEM)
        chr_pc_nomem(c);
    else if (rc != 0)
        chr_pc_fail(c,
                    "epsilon must be an ISO 8601 duration such as PT60S, "
                    "not '%.*s%s'",
                    CHR_ECHO(j->epsilon));
}

/* ---- rendering a schedule ---- */

/* t as z's wall-clock time with its offset: 2014-10-10T18:32:00.000-07:00.
 * The offset's seconds (old local mean times) are dropped: a reader in
 * scheduleTimeZone uses the wall-clock fields only. */
static void wall_time(const struct chr_tz *z, int64_t t, char *out, size_t len)
{
    struct chr_local l;
    int32_t off;
    char sign;

    chr_tz_local(z, t, &l);
    off = l.offset < 0 ? -l.offset : l.offset;
    sign = l.offset < 0 ? '-' : '+';
    snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%c%02d:%02d", l.year,
             l.month, l.day, l.hour, l.minute, l.second, l.ms, sign,
             (int)(off / 3600), (int)(off / 60 % 60));
}

/* "R<n>/<start>/<period>", malloc'ed, the start in z's wall clock (UTC
 * when z is NULL); NULL when out of memory. */
static char *iso_render(const struct chr_iso *iso, const struct chr_tz *z)
{
    char utc[256], local[96];
    const char *a, *b;

    chr_iso_format(iso, utc, sizeof(utc));
    a = strchr(utc, '/');
    b = strrchr(utc, '/');
    if (!z || !a || a == b)
        return chr_strdup(utc);
    wall_time(z, iso->start, local, sizeof(local));
    return chr_printf("%.*s/%s%s", (int)(a - utc), utc, local, b);
}

/* Rendering and reading back keep the string the source of truth: the
 * job holds what parsing its stored schedule gives, even for a start in
 * a fall-back fold, which reads back as the fold's first occurrence. */
int chr_job_set_iso(struct chr_job *j, const struct chr_iso *iso,
                    const struct chr_tz *z)
{
    struct chr_iso back;
    const char *why = NULL;
    char *s;

    if (!j || !iso || j->cron || j->nparents > 0)
        return AGORA_EINVAL;
    s = iso_render(iso, z);
    if (!s)
        return AGORA_ENOMEM;
    if (chr_iso_parse(s, iso->start, z, &back, &why) != 0) {
        free(s);
        return why_nomem(why) ? AGORA_ENOMEM : AGORA_EINVAL;
    }
    free(j->schedule);
    j->schedule = s;
    j->iso = back;
    return 0;
}

/* ---- the schedule ---- */

/* "R//..." and "R5//...": an empty start, which stands for `now`. */
static int empty_start(const char *s)
{
    if (*s++ != 'R')
        return 0;
    s += strspn(s, "0123456789");
    return s[0] == '/' && s[1] == '/';
}

static void parse_cron(struct chr_pc *c, struct chr_job *j, const char *expr)
{
    const char *why = NULL;

    j->cron = chr_cron_parse(expr, &why);
    if (!j->cron) {
        if (why_nomem(why))
            chr_pc_nomem(c);
        else
            chr_pc_fail(c, "Cannot parse schedule 'cron:%.*s%s' (%s)",
                        CHR_ECHO(expr), reason(why, "not a cron expression"));
        return;
    }
    j->schedule = chr_printf("cron:%s", expr);
    if (!j->schedule)
        chr_pc_nomem(c);
}

static void parse_iso(struct chr_pc *c, struct chr_job *j, const char *s,
                      const struct chr_tz *z)
{
    const char *why = NULL;
    struct chr_iso iso;
    int rc;

    if (chr_iso_parse(s, c->now, z, &iso, &why) != 0) {
        if (why_nomem(why))
            chr_pc_nomem(c);
        else
            chr_pc_fail(c, "Cannot parse schedule '%.*s%s' (%s)", CHR_ECHO(s),
                        reason(why, "not an ISO 8601 repeating interval"));
        return;
    }
    if (!empty_start(s)) {
        j->iso = iso;
        j->schedule = chr_strdup(s);
        if (!j->schedule)
            chr_pc_nomem(c);
        return;
    }
    rc = chr_job_set_iso(j, &iso, z);
    if (rc == AGORA_ENOMEM)
        chr_pc_nomem(c);
    else if (rc != 0)
        chr_pc_fail(c,
                    "Cannot parse schedule '%.*s%s' (its start, now, "
                    "cannot be written back)",
                    CHR_ECHO(s));
}

/* Neither a schedule nor parents: run once, now (Chronos' default). */
static void default_schedule(struct chr_pc *c, struct chr_job *j,
                             const struct chr_tz *z)
{
    struct chr_iso iso = {.repeat = 1, .start = c->now};
    int rc;

    iso.period.hours = 24;
    rc = chr_job_set_iso(j, &iso, z);
    if (rc == AGORA_ENOMEM)
        chr_pc_nomem(c);
    else if (rc != 0)
        chr_pc_fail(c, "no schedule given, and R1/<now>/PT24H cannot be made "
                       "of now");
}

/* The zone named by scheduleTimeZone: borrowed from the conf's cache, or
 * loaded into *owned (the caller frees it). NULL when unknown (recorded)
 * or out of memory. */
static const struct chr_tz *zone_get(struct chr_pc *c, const char *name,
                                     struct chr_tz **owned)
{
    const struct chr_tz *z;
    const char *why = NULL;

    if (c->conf->zone)
        z = c->conf->zone(c->conf->zone_ctx, name, &why);
    else
        z = *owned = chr_tz_load(name, &why);
    if (z)
        return z;
    if (why_nomem(why))
        chr_pc_nomem(c);
    else
        chr_pc_fail(c, "%s '%.*s%s'", why ? why : "unknown time zone",
                    CHR_ECHO(name));
    return NULL;
}

/* A scheduled job: its zone, then its schedule read in it. */
static void parse_scheduled(struct chr_pc *c, struct chr_job *j,
                            const char *sched, const char *cron,
                            const char *tzname)
{
    struct chr_tz *owned = NULL;
    const struct chr_tz *z = NULL;

    if (tzname && *tzname) {
        chr_pc_set_str(c, &j->schedule_tz, tzname);
        z = zone_get(c, tzname, &owned);
        if (!z)
            return;
    }
    if (cron)
        parse_cron(c, j, cron);
    else if (sched && strncmp(sched, "cron:", 5) == 0)
        parse_cron(c, j, sched + 5);
    else if (sched)
        parse_iso(c, j, sched, z);
    else
        default_schedule(c, j, z);
    chr_tz_free(owned);
}

/* The string member key, NULL when absent, "" or of the wrong type
 * (recorded). */
static const char *nonempty(struct chr_pc *c, yajl_val o, const char *key)
{
    const char *s = NULL;

    if (chr_read_str(c, chr_member(o, key), key, &s) != 1 || *s == '\0')
        return NULL;
    return s;
}

void chr_parse_schedule(struct chr_pc *c, yajl_val o, struct chr_job *j)
{
    const char *sched = nonempty(c, o, "schedule");
    const char *cron = nonempty(c, o, "cron");
    const char *tzname = NULL;

    chr_read_str(c, chr_member(o, "scheduleTimeZone"), "scheduleTimeZone",
                 &tzname);
    chr_pc_set_str(c, &j->schedule_tz, "");
    parse_epsilon(c, j);
    if (sched && cron)
        chr_pc_fail(c, "cannot set both schedule and cron");
    else if (j->nparents > 0 && (sched || cron))
        chr_pc_fail(c, "cannot set both schedule and parents");
    else if (c->mode == CHR_JOB_DEPENDENCY && j->nparents == 0)
        chr_pc_fail(c, "a dependent job needs parents: a non-empty list of "
                       "job names");
    else if (c->mode == CHR_JOB_ISO8601 && j->nparents > 0)
        chr_pc_fail(c, "a job with parents is posted to /scheduler/dependency,"
                       " not /scheduler/iso8601");
    else if (j->nparents == 0)
        parse_scheduled(c, j, sched, cron, tzname);
}

int64_t chr_job_deadline(const struct chr_job *j, int64_t due)
{
    int64_t d = chr_period_add(&j->epsilon_period, NULL, due), s;

    if (j->starting_deadline < 0)
        return d;
    /* starting_deadline <= INT64_MAX / 1000 (the parser's bound) */
    s = due > INT64_MAX - j->starting_deadline * 1000
            ? INT64_MAX
            : due + j->starting_deadline * 1000;
    return s < d ? s : d;
}
