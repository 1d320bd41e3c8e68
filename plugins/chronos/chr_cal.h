/*
 * chr_cal.h - proleptic Gregorian calendar arithmetic shared by
 * chr_tz.c, chr_iso.c and chr_cron.c. Internal: not part of chr_time.h's
 * contract, and everything here is static inline.
 *
 * Days count from 1970-01-01 (day 0). The conversions are Howard
 * Hinnant's "chrono-compatible low-level date algorithms": exact for any
 * year an int64_t day count can hold, no tables, no loops, so nothing
 * here depends on the process's TZ or calls localtime().
 */
#ifndef CHR_CAL_H
#define CHR_CAL_H

#include <stdint.h>

#define CHR_MIN_MS INT64_C(60000)
#define CHR_HOUR_MS INT64_C(3600000)
#define CHR_DAY_MS INT64_C(86400000)
#define CHR_DAY_S INT64_C(86400)

/* a / b rounded towards minus infinity (b > 0): instants before 1970
 * must fall on the day before, not on day 0. */
static inline int64_t chr_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static inline int chr_cal_leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* Days in month m (1-12) of year y. */
static inline int chr_cal_mdays(int64_t y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && chr_cal_leap(y) ? 29 : d[m - 1];
}

/* The day number of y-m-d; m must be 1-12, d may be any value (day 0
 * is the month's last day before it, day 32 is in the next month). */
static inline int64_t chr_cal_days(int64_t y, int m, int64_t d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The date of day number days. */
static inline void chr_cal_civil(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;

    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static inline int chr_cal_wday(int64_t days)
{
    int64_t w = (days + 4) % 7;

    return (int)(w < 0 ? w + 7 : w);
}

#endif /* CHR_CAL_H */
