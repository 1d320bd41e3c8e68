/*
 * chr_iso.c - Chronos' ISO 8601 repeating intervals "R[n]/[start]/P...":
 * parse as Iso8601Expressions.parse does (Joda's DateTime.parse for the
 * start, ISOPeriodFormat.standard for the period), format as Chronos
 * rewrites them, and period arithmetic as Joda's DateTime.plus(Period).
 *
 * Start times Joda accepts and so do we: a date (yyyy, yyyy-MM,
 * yyyy-MM-dd, the ordinal yyyy-DDD or the week date yyyy-Www[-e]),
 * optionally 'T' and a time (HH[:mm[:ss]], a fraction on the last of
 * them with '.' or ','), optionally an offset (Z, +hh, +hhmm, +hh:mm).
 * Years have four digits; Joda's time-only form ("T10:00", 1970-01-01)
 * is refused, as a schedule starting in 1970 is no use.
 */
#include <stdio.h>
#include <string.h>

#include "chr_cal.h"
#include "chr_time.h"

#define WHY_SHAPE "Cannot parse schedule: expected R[n]/[start]/P[period]"
#define WHY_REPEAT "Cannot parse schedule: bad repeat count after R"
#define WHY_START "Cannot parse schedule: bad start time (ISO 8601)"
#define WHY_PERIOD                                                             \
    "Cannot parse schedule: bad period (ISO 8601, PnYnMnWnDTnHnMnS)"
#define WHY_EARLY                                                              \
    "Cannot parse schedule: the start must be at or after "                    \
    "1970-01-01T00:00:01Z"

/* A field of the period may not exceed Joda's int. */
#define ISO_FIELD_MAX INT32_MAX

/* A cursor over [p, e): the start is not NUL-terminated in s. */
struct cur {
    const char *p, *e;
};

static int at(const struct cur *c, char ch)
{
    return c->p < c->e && *c->p == ch;
}

static int digit(const struct cur *c)
{
    return c->p < c->e && *c->p >= '0' && *c->p <= '9';
}

/* Exactly n digits. */
static int fixed(struct cur *c, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!digit(c))
            return -1;
        v = v * 10 + (*c->p++ - '0');
    }
    *out = v;
    return 0;
}

/* A fraction after '.' or ',' (1-9 digits) of a unit of unit_ms, in ms,
 * truncated; 0 when there is none. */
static int fraction(struct cur *c, int64_t unit_ms, int64_t *ms)
{
    int64_t num = 0, den = 1;
    int k = 0;

    *ms = 0;
    if (!at(c, '.') && !at(c, ','))
        return 0;
    c->p++;
    while (digit(c)) {
        if (k++ == 9)
            return -1;
        num = num * 10 + (*c->p++ - '0');
        den *= 10;
    }
    if (k == 0)
        return -1;
    *ms = num * unit_ms / den;
    return 1;
}

/* ---- the start ---- */

/* The day number of ISO week w, day e (1 = Monday) of week-year y. */
static int week_date(int y, int w, int e, int64_t *days)
{
    int64_t jan4 = chr_cal_days(y, 1, 4);
    int64_t monday1 = jan4 - (chr_cal_wday(jan4) + 6) % 7;
    int64_t next4 = chr_cal_days(y + 1, 1, 4);
    int64_t weeks = (next4 - (chr_cal_wday(next4) + 6) % 7 - monday1) / 7;

    if (w < 1 || w > weeks || e < 1 || e > 7)
        return -1;
    *days = monday1 + (int64_t)(w - 1) * 7 + e - 1;
    return 0;
}

/* yyyy[-MM[-dd]] | yyyy-DDD | yyyy-Www[-e], as a day number. */
static int parse_date(struct cur *c, int64_t *days)
{
    int y, m = 1, d = 1, w, e = 1;
    const char *q;

    if (fixed(c, 4, &y) < 0)
        return -1;
    if (!at(c, '-'))
        return (*days = chr_cal_days(y, 1, 1)), 0;
    c->p++;
    if (at(c, 'W')) {
        c->p++;
        if (fixed(c, 2, &w) < 0 ||
            (at(c, '-') && (c->p++, fixed(c, 1, &e) < 0)))
            return -1;
        return week_date(y, w, e, days);
    }
    for (q = c->p; q < c->e && *q >= '0' && *q <= '9';)
        q++;
    if (q - c->p == 3) { /* ordinal */
        if (fixed(c, 3, &d) < 0 || d < 1 || d > 365 + chr_cal_leap(y))
            return -1;
        return (*days = chr_cal_days(y, 1, 1) + d - 1), 0;
    }
    if (fixed(c, 2, &m) < 0 || m < 1 || m > 12)
        return -1;
    if (at(c, '-') &&
        (c->p++, fixed(c, 2, &d) < 0 || d < 1 || d > chr_cal_mdays(y, m)))
        return -1;
    *days = chr_cal_days(y, m, d);
    return 0;
}

/* HH[:mm[:ss]] with a fraction on the last field, as ms of the day. */
static int parse_time(struct cur *c, int64_t *ms)
{
    int h, m = 0, s = 0, f;
    int64_t frac;

    if (fixed(c, 2, &h) < 0 || h > 23 ||
        (f = fraction(c, CHR_HOUR_MS, &frac)) < 0)
        return -1;
    if (f == 0 && at(c, ':')) {
        c->p++;
        if (fixed(c, 2, &m) < 0 || m > 59 ||
            (f = fraction(c, CHR_MIN_MS, &frac)) < 0)
            return -1;
        if (f == 0 && at(c, ':')) {
            c->p++;
            if (fixed(c, 2, &s) < 0 || s > 59 || fraction(c, 1000, &frac) < 0)
                return -1;
        }
    }
    *ms = h * CHR_HOUR_MS + m * CHR_MIN_MS + s * 1000 + frac;
    return 0;
}

/* Z | +hh | +hhmm | +hh:mm, in seconds east. */
static int parse_offset(struct cur *c, int32_t *off)
{
    int sign, h, m = 0;

    if (at(c, 'Z'))
        return c->p++, (*off = 0), 0;
    if (!at(c, '+') && !at(c, '-'))
        return -1;
    sign = *c->p++ == '-' ? -1 : 1;
    if (fixed(c, 2, &h) < 0 || h > 23)
        return -1;
    if (at(c, ':') ? (c->p++, fixed(c, 2, &m) < 0)
                   : digit(c) && fixed(c, 2, &m) < 0)
        return -1;
    if (m > 59)
        return -1;
    *off = sign * (h * 3600 + m * 60);
    return 0;
}

/* The start in [p, e): its wall clock (ms on a UTC-like scale) and
 * whether it carried an offset. */
static int parse_start(const char *p, const char *e, int64_t *wall,
                       int *has_off, int32_t *off)
{
    struct cur c = {p, e};
    int64_t days, ms = 0;

    *has_off = 0;
    if (parse_date(&c, &days) < 0)
        return -1;
    if (at(&c, 'T')) {
        c.p++;
        if (digit(&c) && parse_time(&c, &ms) < 0)
            return -1;
        if (c.p < c.e) {
            if (parse_offset(&c, off) < 0)
                return -1;
            *has_off = 1;
        }
    }
    if (c.p != c.e)
        return -1;
    *wall = days * CHR_DAY_MS + ms;
    return 0;
}

/* The instant of the start: in z when given (its wall clock kept, any
 * offset dropped: Joda's withZoneRetainFields), else at its offset or
 * in UTC. */
static int64_t start_instant(int64_t wall, int has_off, int32_t off,
                             const struct chr_tz *z)
{
    struct chr_local l;
    int64_t days = chr_floor_div(wall, CHR_DAY_MS);
    int64_t ms = wall - days * CHR_DAY_MS, y;

    if (z == NULL)
        return wall - (has_off ? (int64_t)off * 1000 : 0);
    memset(&l, 0, sizeof l);
    chr_cal_civil(days, &y, &l.month, &l.day);
    l.year = (int)y;
    l.hour = (int)(ms / CHR_HOUR_MS);
    l.minute = (int)(ms / CHR_MIN_MS % 60);
    l.second = (int)(ms / 1000 % 60);
    l.ms = (int)(ms % 1000);
    return chr_tz_utc(z, &l);
}

/* ---- the period ---- */

/* 1-10 digits, at most ISO_FIELD_MAX. */
static int field_num(const char **pp, int64_t *out)
{
    const char *p = *pp;
    int64_t v = 0;
    int k = 0;

    while (*p >= '0' && *p <= '9') {
        if (++k > 10)
            return -1;
        v = v * 10 + (*p++ - '0');
    }
    if (k == 0 || v > ISO_FIELD_MAX)
        return -1;
    *pp = p;
    *out = v;
    return 0;
}

/*
 * One "<n><unit>" of the period's date or time part: units must come in
 * the order of `units` (Joda's standard format), each at most once;
 * *next is the index after the unit read. Seconds may carry a fraction.
 */
static int period_field(const char **pp, const char *units, int *next,
                        int64_t *v, int64_t *frac)
{
    const char *p = *pp;
    const char *u;
    struct cur c;

    *frac = 0;
    if (field_num(&p, v) < 0)
        return -1;
    if (*p == '.' || *p == ',') {
        c.p = p;
        c.e = p + strlen(p);
        if (fraction(&c, 1000, frac) < 0 || *c.p != 'S')
            return -1;
        p = c.p;
    }
    u = strchr(units, *p);
    if (*p == '\0' || u == NULL || u - units < *next)
        return -1;
    *next = (int)(u - units) + 1;
    *pp = p + 1;
    return 0;
}

/* Stores field v of unit u; 'M' is months before the T, minutes after. */
static void period_store(struct chr_period *out, char u, int time, int64_t v,
                         int64_t frac)
{
    if (u == 'Y')
        out->years = (int)v;
    else if (u == 'M' && !time)
        out->months = (int)v;
    else if (u == 'W')
        out->weeks = (int)v;
    else if (u == 'D')
        out->days = (int)v;
    else if (u == 'H')
        out->hours = (int)v;
    else if (u == 'M')
        out->minutes = (int)v;
    else
        out->ms = v * 1000 + frac;
}

static int parse_period(const char *p, struct chr_period *out)
{
    int next = 0, time = 0;
    int64_t v, frac;

    memset(out, 0, sizeof *out);
    if (*p++ != 'P')
        return -1;
    while (*p != '\0') {
        const char *units = time ? "HMS" : "YMWD";

        if (*p == 'T') {
            if (time || p[1] == '\0')
                return -1;
            time = 1;
            next = 0;
            p++;
            continue;
        }
        if (period_field(&p, units, &next, &v, &frac) < 0 ||
            (frac != 0 && !time))
            return -1;
        period_store(out, units[next - 1], time, v, frac);
    }
    return 0;
}

/* ---- the whole expression ---- */

static int iso_fail(const char **why, const char *w)
{
    if (why != NULL)
        *why = w;
    return -1;
}

/* "R" and digits up to the first '/': -1 for none (infinite). */
static int parse_repeat(const char **pp, int64_t *out)
{
    const char *p = *pp + 1;
    int64_t v = 0;
    int k = 0;

    for (; *p >= '0' && *p <= '9'; p++, k++) {
        if (v > (INT64_MAX - (*p - '0')) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    *out = k == 0 ? -1 : v;
    *pp = p;
    return 0;
}

int chr_iso_parse(const char *s, int64_t now, const struct chr_tz *z,
                  struct chr_iso *out, const char **why)
{
    const char *p = s;
    const char *last;
    struct chr_iso r;
    int64_t wall;
    int32_t off = 0;
    int has_off;

    if (s == NULL || s[0] != 'R')
        return iso_fail(why, WHY_SHAPE);
    if (parse_repeat(&p, &r.repeat) < 0)
        return iso_fail(why, WHY_REPEAT);
    last = strrchr(p, '/');
    /* (R[0-9]*)/(.*)/(P.*): the period follows the last '/'. */
    if (*p != '/' || last == p || last[1] != 'P')
        return iso_fail(why, *p == '/' ? WHY_SHAPE : WHY_REPEAT);
    if (parse_period(last + 1, &r.period) < 0)
        return iso_fail(why, WHY_PERIOD);
    if (last == p + 1) {
        /* Empty start: now - 1 s, an instant; the zone does not apply
         * (retaining now's UTC fields in a zone west of UTC would move
         * "now" hours into the future). */
        r.start = now < INT64_MIN + 1000 ? INT64_MIN : now - 1000;
    } else {
        if (parse_start(p + 1, last, &wall, &has_off, &off) < 0)
            return iso_fail(why, WHY_START);
        r.start = start_instant(wall, has_off, off, z);
    }
    if (r.start < 1000)
        return iso_fail(why, WHY_EARLY);
    *out = r; /* untouched on failure */
    return 0;
}

/* ---- formatting ---- */

void chr_time_format(int64_t t, char out[32])
{
    int64_t days = chr_floor_div(t, CHR_DAY_MS);
    /* not t - days * CHR_DAY_MS: that overflows near INT64_MIN */
    int64_t ms = (t % CHR_DAY_MS + CHR_DAY_MS) % CHR_DAY_MS, y;
    int m, d;
    char buf[80];

    chr_cal_civil(days, &y, &m, &d);
    /* Through buf: the compiler cannot know a year has at most 9 digits
     * (int64_t ms reach year 292,278,994), nor that it then fits 32. */
    snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
             (long long)y, m, d, (int)(ms / CHR_HOUR_MS),
             (int)(ms / CHR_MIN_MS % 60), (int)(ms / 1000 % 60),
             (int)(ms % 1000));
    buf[31] = '\0';
    memcpy(out, buf, 32);
}

/* Appends "<v><unit>" when v is not 0. */
static size_t put(char *b, size_t n, size_t len, long long v, char unit)
{
    int k;

    if (v == 0 || n >= len)
        return n;
    k = snprintf(b + n, len - n, "%lld%c", v, unit);
    return k < 0 ? n : n + (size_t)k;
}

/* The period as Joda's ISOPeriodFormat.standard prints it. */
static void period_format(const struct chr_period *p, char *b, size_t len)
{
    size_t n = (size_t)snprintf(b, len, "P");

    if (chr_period_zero(p)) {
        snprintf(b, len, "PT0S");
        return;
    }
    n = put(b, n, len, p->years, 'Y');
    n = put(b, n, len, p->months, 'M');
    n = put(b, n, len, p->weeks, 'W');
    n = put(b, n, len, p->days, 'D');
    if (p->hours == 0 && p->minutes == 0 && p->ms == 0)
        return;
    if (n < len)
        n += (size_t)snprintf(b + n, len - n, "T");
    n = put(b, n, len, p->hours, 'H');
    n = put(b, n, len, p->minutes, 'M');
    if (p->ms % 1000 != 0 && n < len)
        snprintf(b + n, len - n, "%lld.%03lldS", (long long)(p->ms / 1000),
                 (long long)(p->ms % 1000));
    else
        put(b, n, len, (long long)(p->ms / 1000), 'S');
}

void chr_iso_format(const struct chr_iso *s, char *out, size_t len)
{
    char start[32], period[96], rep[24] = "";

    if (len == 0)
        return;
    if (s->repeat >= 0)
        snprintf(rep, sizeof rep, "%lld", (long long)s->repeat);
    chr_time_format(s->start, start);
    period_format(&s->period, period, sizeof period);
    snprintf(out, len, "R%s/%s/%s", rep, start, period);
}

/* ---- arithmetic ---- */

int chr_period_zero(const struct chr_period *p)
{
    return p->years == 0 && p->months == 0 && p->weeks == 0 && p->days == 0 &&
           p->hours == 0 && p->minutes == 0 && p->ms == 0;
}

/* a * b + c, or 0 when it does not fit. */
static int mul_add(int64_t a, int64_t b, int64_t c, int64_t *out)
{
    int64_t m;

    return !__builtin_mul_overflow(a, b, &m) &&
           !__builtin_add_overflow(m, c, out);
}

/* Years far enough out that no schedule will see them. */
#define ISO_YEAR_MAX 1000000

/* Adds n times the date part of p to l's date, in place: years, then
 * months, each clamping the day to the month's end, then days. 0 when
 * the result is beyond ISO_YEAR_MAX. */
static int add_date(const struct chr_period *p, int64_t n, struct chr_local *l)
{
    int64_t y, mon, days;
    int m, d;

    if (!mul_add(p->years, n, l->year, &y) || y > ISO_YEAR_MAX)
        return 0;
    d = l->day < chr_cal_mdays(y, l->month) ? l->day
                                            : chr_cal_mdays(y, l->month);
    if (!mul_add(p->months, n, y * 12 + l->month - 1, &mon) ||
        mon / 12 > ISO_YEAR_MAX)
        return 0;
    y = chr_floor_div(mon, 12);
    m = (int)(mon - y * 12) + 1;
    if (d > chr_cal_mdays(y, m))
        d = chr_cal_mdays(y, m);
    if (!mul_add((int64_t)p->weeks * 7 + p->days, n, chr_cal_days(y, m, d),
                 &days) ||
        days / 366 > ISO_YEAR_MAX)
        return 0;
    chr_cal_civil(days, &y, &m, &d);
    if (y > ISO_YEAR_MAX)
        return 0;
    l->year = (int)y;
    l->month = m;
    l->day = d;
    return 1;
}

int64_t chr_period_add_n(const struct chr_period *p, const struct chr_tz *z,
                         int64_t t, int64_t n)
{
    int64_t time_ms, r = t;
    struct chr_local l;

    if (n <= 0)
        return t;
    if (p->years || p->months || p->weeks || p->days) {
        chr_tz_local(z, t, &l);
        if (!add_date(p, n, &l))
            return INT64_MAX;
        r = chr_tz_utc(z, &l);
    }
    /* The time part is absolute time, as in Joda, whose hours, minutes
     * and seconds fields of a zoned chronology add elapsed time. */
    if (!mul_add((int64_t)p->hours * CHR_HOUR_MS +
                     (int64_t)p->minutes * CHR_MIN_MS + p->ms,
                 n, r, &time_ms))
        return INT64_MAX;
    return time_ms;
}

int64_t chr_period_add(const struct chr_period *p, const struct chr_tz *z,
                       int64_t t)
{
    return chr_period_add_n(p, z, t, 1);
}
