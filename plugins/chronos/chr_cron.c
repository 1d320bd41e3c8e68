/*
 * chr_cron.c - 5-field cron expressions (Vixie/cronie dialect) and the
 * search for their next firing in a time zone.
 *
 * An expression is five bit sets. The next-time search walks wall-clock
 * days (whole months at a time when the month does not match), then the
 * hours and minutes of a matching day, so a yearly job costs a dozen
 * steps, not half a million minutes. Time zones enter through spans of
 * constant offset (chr_tz_span): within a span the wall clock maps to
 * instants by one subtraction, and the DST policy is applied only where
 * two spans meet: in a gap, a fixed-time job whose time was skipped
 * runs at the gap's end; in a fold, a fixed-time job does not run again
 * at the wall-clock times the fold repeats. Jobs with '*' leading their
 * minute or hour field follow the clock through both (Vixie).
 *
 * Every instant returned lies in a span after `after`'s position, and
 * within the first span is built from a wall clock past after's, so the
 * result is always strictly later than `after` (Metronome once returned
 * a past time near DST and launched a burst of runs).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chr_cal.h"
#include "chr_time.h"

/* The search covers a whole Gregorian cycle: every (month, day,
 * weekday) combination the parser lets through occurs in it. */
#define CRON_YEARS 401
/* Spans crossed at most: two a year for DST, and margin for zones that
 * changed more often. */
#define CRON_SPANS 4096
/* Years 1 to 9999 (ms since the epoch): the search's arithmetic stays
 * far from overflow. */
#define CRON_AFTER_MIN INT64_C(-62135596800000)
#define CRON_AFTER_MAX INT64_C(253402300799999)
#define NONE INT64_MIN

struct chr_cron {
    uint64_t min;  /* bit m, 0-59 */
    uint32_t hour; /* bit h, 0-23 */
    uint32_t dom;  /* bit d, 1-31 */
    uint16_t mon;  /* bit m, 1-12 */
    uint8_t dow;   /* bit d, 0-6, 0 = Sunday */
    /* Vixie: a day field that starts with '*' does not take part in the
     * OR of day-of-month and day-of-week. */
    uint8_t dom_star, dow_star;
    /* minute or hour starts with '*': follows the clock through DST */
    uint8_t wild;
};

enum { E_SYNTAX, E_RANGE, E_STEP, E_ORDER };

#define ERRS(f, r)                                                             \
    {                                                                          \
        "cron: " f ": expected a number, a name, * or a list of them",         \
            "cron: " f ": value out of range " r,                              \
            "cron: " f ": a step must be a number from 1 to the field's size", \
            "cron: " f ": a range's start is after its end"                    \
    }

struct field {
    int lo, hi;
    const char *const *names; /* 3 letters each, for lo, lo + 1, ... */
    int nnames;
    const char *errs[4];
};

static const char *const mon_names[] = {"JAN", "FEB", "MAR", "APR",
                                        "MAY", "JUN", "JUL", "AUG",
                                        "SEP", "OCT", "NOV", "DEC"};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED",
                                        "THU", "FRI", "SAT"};

static const struct field fields[5] = {
    {0, 59, NULL, 0, ERRS("minute", "0-59")},
    {0, 23, NULL, 0, ERRS("hour", "0-23")},
    {1, 31, NULL, 0, ERRS("day-of-month", "1-31")},
    {1, 12, mon_names, 12, ERRS("month", "1-12 or JAN-DEC")},
    /* 7 is Sunday too; folded onto 0 after parsing */
    {0, 7, dow_names, 7, ERRS("day-of-week", "0-7 or SUN-SAT")},
};

#define WHY_FIELDS                                                             \
    "cron: expected 5 fields: minute hour day-of-month month day-of-week"
#define WHY_MACRO                                                              \
    "cron: unknown macro (@yearly, @annually, @monthly, @weekly, @daily, "     \
    "@midnight or @hourly)"
#define WHY_REBOOT "cron: @reboot is not supported"
#define WHY_NEVER                                                              \
    "cron: the day-of-month never occurs in the months given (as 30 2 or "     \
    "31 4)"
#define WHY_NOMEM "out of memory"

static const struct {
    const char *name, *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* ---- parsing ---- */

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_alpha(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* A number (up to 3 digits) or, where the field has them, a name. */
static int value(const struct field *f, const char **pp, const char *e,
                 int *out)
{
    const char *p = *pp;
    int v = 0, k = 0;

    if (p < e && is_alpha(*p)) {
        for (k = 0; p + k < e && is_alpha(p[k]);)
            k++;
        for (int i = 0; k == 3 && i < f->nnames; i++)
            if (strncasecmp(p, f->names[i], 3) == 0) {
                *pp = p + 3;
                *out = f->lo + i;
                return 0;
            }
        return -E_SYNTAX - 1;
    }
    while (p < e && *p >= '0' && *p <= '9') {
        if (++k > 3)
            return -E_RANGE - 1;
        v = v * 10 + (*p++ - '0');
    }
    if (k == 0)
        return -E_SYNTAX - 1;
    if (v < f->lo || v > f->hi)
        return -E_RANGE - 1;
    *pp = p;
    *out = v;
    return 0;
}

/* One list element in [p, e): *, a, a-b, each optionally /step (a/n is
 * a-hi/n). Returns 0 or -(error + 1). */
static int element(const struct field *f, const char *p, const char *e,
                   uint64_t *bits)
{
    int a, b, step = 1, rc, single = 0;

    if (p < e && *p == '*') {
        a = f->lo;
        b = f->hi;
        p++;
    } else {
        if ((rc = value(f, &p, e, &a)) < 0)
            return rc;
        b = a;
        single = 1;
        if (p < e && *p == '-') {
            p++;
            if ((rc = value(f, &p, e, &b)) < 0)
                return rc;
            if (b < a)
                return -E_ORDER - 1;
            single = 0;
        }
    }
    if (p < e && *p == '/') {
        const struct field num = {1, f->hi - f->lo + 1, NULL, 0, {NULL}};

        p++;
        if (p == e || !(*p >= '0' && *p <= '9') ||
            value(&num, &p, e, &step) < 0)
            return -E_STEP - 1;
        if (single)
            b = f->hi;
    }
    if (p != e)
        return -E_SYNTAX - 1;
    for (int v = a; v <= b; v += step)
        *bits |= UINT64_C(1) << v;
    return 0;
}

/* A comma-separated list in [p, e) into *bits; *why on error. */
static int field_parse(const struct field *f, const char *p, const char *e,
                       uint64_t *bits, const char **why)
{
    *bits = 0;
    for (;;) {
        const char *c = memchr(p, ',', (size_t)(e - p));
        const char *end = c != NULL ? c : e;
        int rc = p == end ? -E_SYNTAX - 1 : element(f, p, end, bits);

        if (rc < 0) {
            *why = f->errs[-rc - 1];
            return -1;
        }
        if (c == NULL)
            return 0;
        p = c + 1;
    }
}

/* Some month has some day of the month (Feb 29 counts: leap years). */
static int days_possible(const struct chr_cron *c)
{
    for (int m = 1; m <= 12; m++)
        for (int d = 1; d <= chr_cal_mdays(2000, m); d++)
            if ((c->mon >> m & 1) && (c->dom >> d & 1))
                return 1;
    return 0;
}

static int fields_parse(const char *s, struct chr_cron *c, const char **why)
{
    uint64_t bits[5];
    const char *b[5];

    for (int i = 0; i < 5; i++) {
        const char *e;

        while (is_space(*s))
            s++;
        if (*s == '\0')
            return (*why = WHY_FIELDS), -1;
        for (e = s; *e != '\0' && !is_space(*e);)
            e++;
        if (field_parse(&fields[i], s, e, &bits[i], why) < 0)
            return -1;
        b[i] = s;
        s = e;
    }
    while (is_space(*s))
        s++;
    if (*s != '\0')
        return (*why = WHY_FIELDS), -1;
    c->min = bits[0];
    c->hour = (uint32_t)bits[1];
    c->dom = (uint32_t)bits[2];
    c->mon = (uint16_t)bits[3];
    c->dow = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f);
    c->wild = *b[0] == '*' || *b[1] == '*';
    c->dom_star = *b[2] == '*';
    c->dow_star = *b[4] == '*';
    /* With OR (both restricted) any weekday occurs in every month; with
     * AND the days of the month must exist in one of the months. */
    if ((c->dom_star || c->dow_star) && !days_possible(c))
        return (*why = WHY_NEVER), -1;
    return 0;
}

/* The expansion of a macro, or NULL with *why. */
static const char *macro(const char *s, const char **why)
{
    const char *e;
    size_t len;

    for (e = s; *e != '\0' && !is_space(*e);)
        e++;
    len = (size_t)(e - s);
    while (is_space(*e))
        e++;
    if (*e != '\0')
        return (*why = WHY_FIELDS), NULL;
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
        if (strlen(macros[i].name) == len &&
            strncasecmp(s, macros[i].name, len) == 0)
            return macros[i].expr;
    *why =
        len == 7 && strncasecmp(s, "@reboot", 7) == 0 ? WHY_REBOOT : WHY_MACRO;
    return NULL;
}

struct chr_cron *chr_cron_parse(const char *s, const char **why)
{
    struct chr_cron *c;
    const char *w = NULL;

    if (s == NULL)
        s = "";
    while (is_space(*s))
        s++;
    if (*s == '@' && (s = macro(s, &w)) == NULL) {
        if (why != NULL)
            *why = w;
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL)
        w = WHY_NOMEM;
    else if (fields_parse(s, c, &w) == 0)
        return c;
    free(c);
    if (why != NULL)
        *why = w;
    return NULL;
}

void chr_cron_free(struct chr_cron *c)
{
    free(c);
}

/* ---- the next firing ---- */

static int day_ok(const struct chr_cron *c, int dom, int wday)
{
    int d = c->dom >> dom & 1, w = c->dow >> wday & 1;

    return c->dom_star || c->dow_star ? d && w : d || w;
}

/* The first minute of the day at or after `from` (minutes since
 * midnight) whose hour and minute match; -1 when none. */
static int first_time(const struct chr_cron *c, int from)
{
    for (int h = from / 60; h < 24; h++) {
        if (!(c->hour >> h & 1))
            continue;
        for (int m = h == from / 60 ? from % 60 : 0; m < 60; m++)
            if (c->min >> m & 1)
                return h * 60 + m;
    }
    return -1;
}

/*
 * The first wall-clock minute in [lo, hi) (ms on a UTC-like scale, lo
 * on a minute) at which c fires; NONE when none. Months that do not
 * match are skipped whole.
 */
static int64_t wall_search(const struct chr_cron *c, int64_t lo, int64_t hi)
{
    int64_t day = chr_floor_div(lo, CHR_DAY_MS);
    int from = (int)((lo - day * CHR_DAY_MS) / CHR_MIN_MS);

    while (day * CHR_DAY_MS < hi) {
        int64_t y;
        int m, d, t;

        chr_cal_civil(day, &y, &m, &d);
        if (!(c->mon >> m & 1)) {
            day =
                m == 12 ? chr_cal_days(y + 1, 1, 1) : chr_cal_days(y, m + 1, 1);
            from = 0;
            continue;
        }
        if (day_ok(c, d, chr_cal_wday(day)) && (t = first_time(c, from)) >= 0) {
            int64_t w = day * CHR_DAY_MS + t * CHR_MIN_MS;

            return w < hi ? w : NONE;
        }
        day++;
        from = 0;
    }
    return NONE;
}

/* The first minute boundary at or after w. */
static int64_t ceil_min(int64_t w)
{
    return -chr_floor_div(-w, CHR_MIN_MS) * CHR_MIN_MS;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

int64_t chr_cron_next(const struct chr_cron *c, const struct chr_tz *z,
                      int64_t after)
{
    struct chr_tz_span sp;
    int64_t lo, limit, off;

    if (after < CRON_AFTER_MIN || after > CRON_AFTER_MAX)
        return -1;
    chr_tz_span(z, after, &sp);
    off = (int64_t)sp.offset * 1000;
    /* The first whole minute strictly after `after`'s wall clock. */
    lo = chr_floor_div(after + off, CHR_MIN_MS) * CHR_MIN_MS + CHR_MIN_MS;
    limit = lo + CRON_YEARS * 366 * CHR_DAY_MS;
    /* after in the second pass of a fold: a fixed-time job already ran
     * at the repeated wall-clock times, in the first. */
    if (!c->wild && sp.start != INT64_MIN && sp.prev_offset > sp.offset)
        lo = max64(lo, ceil_min(sp.start + (int64_t)sp.prev_offset * 1000));
    for (int i = 0; i < CRON_SPANS; i++) {
        int64_t hi =
            sp.end == INT64_MAX || sp.end + off > limit ? limit : sp.end + off;
        int64_t w = wall_search(c, lo, hi), next;

        if (w != NONE)
            return w - off;
        if (hi >= limit)
            return -1;
        next = (int64_t)sp.next_offset * 1000;
        if (next > off) {
            /* A gap: wall clock [end + off, end + next) never shows. */
            if (!c->wild &&
                wall_search(c, max64(lo, hi), sp.end + next) != NONE)
                return sp.end;
            lo = max64(lo, ceil_min(sp.end + next));
        } else {
            /* A fold: [end + next, end + off) shows again. */
            lo = c->wild ? ceil_min(sp.end + next) : max64(lo, hi);
        }
        chr_tz_span(z, sp.end, &sp);
        off = (int64_t)sp.offset * 1000;
    }
    return -1;
}
