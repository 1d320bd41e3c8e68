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
 * hours, minutes and seconds.
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
 * leading '/', only [A-Za-z0-9_+-/]), or out of memory. "" and "UTC"
 * and "Z" give UTC. Free with chr_tz_free().
 */
struct chr_tz *chr_tz_load(const char *name, const char **why);
void chr_tz_free(struct chr_tz *z);
const char *chr_tz_name(const struct chr_tz *z);

/* The broken-down local time of instant t in zone z. */
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
 * the first occurrence.
 */
int64_t chr_tz_utc(const struct chr_tz *z, const struct chr_local *l);

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
 * 2014-03-08T20:00:00.000Z (UTC), into out (at least 96 bytes). */
void chr_iso_format(const struct chr_iso *s, char *out, size_t len);

/* t + one period, in z's wall clock for day-and-longer periods (z NULL:
 * UTC), absolute for shorter ones. */
int64_t chr_period_add(const struct chr_period *p, const struct chr_tz *z,
                       int64_t t);

/* 1 when the period is zero ("P", "PT0S"): the schedule runs once. */
int chr_period_zero(const struct chr_period *p);

/* ---- cron: 5 fields, names, ranges, steps, lists, @macros ---- */

struct chr_cron; /* opaque */

/*
 * Parses a 5-field cron expression (minute hour day-of-month month
 * day-of-week; names JAN-DEC, SUN-SAT in any case; a-b, */n, a-b/n, a/n,
 * lists; day-of-week 0-7 with 0 and 7 Sunday; @yearly @annually
 * @monthly @weekly @daily @midnight @hourly). Day-of-month and
 * day-of-week are ORed when both are restricted (Vixie). An expression
 * that can never fire (0 0 30 2 *) is refused. NULL with *why (static)
 * on error. Free with chr_cron_free().
 */
struct chr_cron *chr_cron_parse(const char *s, const char **why);
void chr_cron_free(struct chr_cron *c);

/*
 * The first instant strictly after `after` at which c fires in z, by the
 * DST policy above; the search is bounded (a few years of days), -1 when
 * nothing matches within it.
 */
int64_t chr_cron_next(const struct chr_cron *c, const struct chr_tz *z,
                      int64_t after);

/* ---- formatting ---- */

/* t as "2014-03-08T16:57:17.507Z" into out (at least 32 bytes). */
void chr_time_format(int64_t t, char out[32]);

#endif /* CHR_TIME_H */
