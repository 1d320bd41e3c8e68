/*
 * chr_time.h - time zones, ISO 8601 repeating intervals and cron, for
 * chronos.so (chronos-api.md §2.3, §2.5, §5).
 *
 * Zones come from the system's zoneinfo (TZif files under
 * /usr/share/zoneinfo, Debian's tzdata), read per job: nothing here
 * touches the process-wide TZ or calls localtime(), since other threads
 * (libzookeeper's) call it. All instants are milliseconds since the
 * epoch, UTC (int64_t).
 *
 * DST policy (tested): a wall-clock time in a spring-forward gap is run
 * once at the first valid instant after the gap; one in a fall-back fold
 * is run once, at its first occurrence. Interval schedules advance in
 * the zone's wall clock for periods of a day and longer (P1D, P1W, P1M,
 * P1Y and mixes with them), in absolute time when the period has only
 * hours, minutes and seconds. Cron jobs whose minute or hour field starts
 * with '*' follow the clock through DST instead (chr_cron_next()).
 */
#ifndef CHR_TIME_H
#define CHR_TIME_H

#include <stddef.h>
#include <stdint.h>

/* ---- zones ---- */

struct chr_tz; /* a loaded zone; immutable, shareable */

/*
 * Loads the IANA zone `name` ("Europe/Berlin", "UTC"). NULL, with *why
 * (static) when why is not NULL, when the name is not a zone the system
 * has ("unknown time zone"), is not a safe relative path (no "..", no
 * leading '/', only [A-Za-z0-9_+-/]: "invalid time zone name"), or out
 * of memory. "" (and NULL), "UTC" and "Z" give UTC without reading a
 * file. Free with chr_tz_free().
 */
struct chr_tz *chr_tz_load(const char *name, const char **why);

/*
 * chr_tz_load() with another zoneinfo root than /usr/share/zoneinfo
 * (tests; a system keeping tzdata elsewhere). Symbolic links under dir
 * (US/Eastern -> ../America/New_York) are followed only while they stay
 * inside dir, at most 8 of them; the file itself is opened O_NOFOLLOW
 * and must be a regular file of at most 1 MiB. Zones with leap seconds
 * (right/...) are refused. Extra *why: "time zone file is corrupt".
 */
struct chr_tz *chr_tz_load_dir(const char *dir, const char *name,
                               const char **why);
void chr_tz_free(struct chr_tz *z);
/* The name given to chr_tz_load ("UTC" for "" and "Z"); valid while z. */
const char *chr_tz_name(const struct chr_tz *z);

/* The broken-down local time of instant t in zone z (NULL: UTC). */
struct chr_local {
    int year, month, day;       /* month 1-12, day 1-31 */
    int hour, minute, second, ms;
    int wday;                   /* 0 = Sunday */
    int32_t offset;             /* seconds east of UTC */
};
void chr_tz_local(const struct chr_tz *z, int64_t t, struct chr_local *out);

/*
 * The instant of a wall-clock time in z (offset ignored), by the DST
 * policy above: in a gap, the first valid instant after it; in a fold,
 * the first occurrence. z NULL: UTC. Fields out of range carry (day 32
 * is in the next month, hour 24 the next day); years beyond +-1,000,000
 * saturate to INT64_MIN / INT64_MAX.
 */
int64_t chr_tz_utc(const struct chr_tz *z, const struct chr_local *l);

/*
 * The stretch of time around instant t over which z's offset from UTC
 * stays the same: [start, end), with the offsets in effect before start
 * and from end on (all in ms and seconds east, as above). start is
 * INT64_MIN and end INT64_MAX when the offset never changed before or
 * never changes after; prev_offset/next_offset are then `offset`.
 * next_offset > offset at end is a spring-forward gap, < a fold.
 */
struct chr_tz_span {
    int64_t start, end;
    int32_t offset, prev_offset, next_offset;
};
void chr_tz_span(const struct chr_tz *z, int64_t t, struct chr_tz_span *out);

/* ---- ISO 8601 repeating intervals: "R[n]/[start]/P..." ---- */

struct chr_period {
    int years, months, weeks, days;
    int hours, minutes;
    int64_t ms;                 /* seconds and their fraction */
};

struct chr_iso {
    int64_t repeat;             /* -1: infinite ("R"); else runs left */
    int64_t start;              /* first instant (ms UTC) */
    struct chr_period period;
};

/*
 * Parses s (the whole string) as Chronos does (§2.3): an empty start is
 * `now` - 1 s; the start may carry an offset or not (then UTC), a date
 * only, fractions; with zone z not NULL the start's wall-clock fields
 * are kept and read in z (scheduleTimeZone), its offset ignored. The
 * start must be at or after 1970-01-01T00:00:01Z. 0, or -1 with *why
 * (static), e.g. "Cannot parse schedule 'x'".
 */
int chr_iso_parse(const char *s, int64_t now, const struct chr_tz *z,
                  struct chr_iso *out, const char **why);

/* Writes "R<n>/<start>/<period>" ("R/" when infinite), the start as
 * 2014-03-08T20:00:00.000Z (UTC), the period as Joda prints it (PT0S,
 * P1DT2H, PT1.500S), into out (at least 96 bytes; CHR_ISO_MAX holds any
 * schedule chr_iso_parse accepts; a shorter out gets a truncated,
 * NUL-terminated string). */
#define CHR_ISO_MAX 192
void chr_iso_format(const struct chr_iso *s, char *out, size_t len);

/* t + one period, in z's wall clock for day-and-longer periods (z NULL:
 * UTC), absolute for shorter ones. */
int64_t chr_period_add(const struct chr_period *p, const struct chr_tz *z,
                       int64_t t);

/*
 * t + n periods (n >= 0) in one step, as Joda's plus(period
 * .multipliedBy(n)): the schedule's k-th instant from its anchor start,
 * without the drift of adding one period at a time (Jan 31 + 2 x P1M is
 * Mar 31, not Mar 28; a start moved out of a DST gap comes back to its
 * wall-clock time the next day). Years, then months (clamped to the
 * month's end), then weeks and days, in z's wall clock; then hours,
 * minutes and seconds in absolute time. Saturates at INT64_MAX.
 */
int64_t chr_period_add_n(const struct chr_period *p, const struct chr_tz *z,
                         int64_t t, int64_t n);

/* 1 when the period is zero ("P", "PT0S"): the schedule runs once. */
int chr_period_zero(const struct chr_period *p);

/* ---- cron: 5 fields, names, ranges, steps, lists, @macros ---- */

struct chr_cron; /* opaque */

/*
 * Parses a 5-field cron expression (minute hour day-of-month month
 * day-of-week; names JAN-DEC, SUN-SAT in any case; a-b, a star then /n,
 * a-b/n, a/n, lists; day-of-week 0-7 with 0 and 7 Sunday; @yearly @annually
 * @monthly @weekly @daily @midnight @hourly). Day-of-month and
 * day-of-week are ORed when both are restricted (Vixie: a field starting
 * with '*', even with a step, counts as unrestricted). An expression
 * that can never fire (0 0 30 2 *) is refused. NULL with *why (static)
 * on error. Free with chr_cron_free().
 */
struct chr_cron *chr_cron_parse(const char *s, const char **why);
void chr_cron_free(struct chr_cron *c);

/*
 * The first instant strictly after `after` at which c fires in z (NULL:
 * UTC), by the DST policy above for jobs at fixed times. Like Vixie
 * cron, a job whose minute or hour field starts with '*' (every minute,
 * every 5 minutes, hourly) follows the clock instead: it fires at each
 * instant whose local time matches, so the minutes a gap skips do not
 * run and those a fold repeats run twice, keeping its pace. The search
 * walks days, not minutes, and is bounded (401 years, a whole Gregorian
 * cycle, so any expression chr_cron_parse accepts is found); -1 when
 * nothing matches within it or `after` is outside years 1-9999.
 */
int64_t chr_cron_next(const struct chr_cron *c, const struct chr_tz *z,
                      int64_t after);

/* ---- formatting ---- */

/* t as "2014-03-08T16:57:17.507Z" into out (at least 32 bytes). */
void chr_time_format(int64_t t, char out[32]);

#endif /* CHR_TIME_H */
