/*
 * mar_time.c - Marathon's timestamps: ISO 8601 in UTC with milliseconds,
 * "2015-09-25T15:13:48.343Z" (versions, versionInfo, events).
 */
#define _DEFAULT_SOURCE /* timegm(), gmtime_r() */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mar_app.h"

void mar_time_format(double t, char out[32])
{
    /* The second last formatted, and its text up to the '.': stamps come
     * in bursts within one second (a launch of 500 tasks, their RUNNING
     * updates), and gmtime_r() + snprintf() for each was a fifth of a
     * status update's time in the plugin. Not thread-local: TLS in a
     * dlopen()ed object crashed LeakSanitizer's tracer at exit; the plugin
     * runs on the loop thread only, and a unit test is one thread. */
    static time_t last_secs = -1;
    static char last_text[20];
    struct tm tm;
    long long total;
    time_t secs;
    unsigned ms;

    /* Whole milliseconds first, so that 0.9996 s becomes the next second
     * rather than ".1000"; the clamp keeps llround() and the year in
     * range for any t a caller may hand in. */
    if (!isfinite(t) || t < 0)
        t = 0;
    if (t > 253402300799.0) /* 9999-12-31T23:59:59Z */
        t = 253402300799.0;
    total = llround(t * 1000.0);
    secs = (time_t)(total / 1000);
    if (secs == last_secs) {
        ms = (unsigned)(total % 1000);
        memcpy(out, last_text, 19);
        out[19] = '.';
        out[20] = (char)('0' + ms / 100);
        out[21] = (char)('0' + ms / 10 % 10);
        out[22] = (char)('0' + ms % 10);
        out[23] = 'Z';
        out[24] = '\0';
        return;
    }
    if (!gmtime_r(&secs, &tm)) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    /* The moduli only tell the compiler the ranges gmtime_r() keeps. */
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
             (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
             (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
             (unsigned)tm.tm_sec % 100u, (unsigned)(total % 1000));
    memcpy(last_text, out, 19);
    last_secs = secs;
}

/* n decimal digits at s into *v; 0, or -1 when one is not a digit. */
static int digits(const char *s, int n, int *v)
{
    int i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

/* "YYYY-MM-DDTHH:MM:SS" into tm; 0, or -1 when s is not that shape or
 * a field is out of range. */
static int parse_date_time(const char *s, struct tm *tm)
{
    int y, mo, d, h, mi, se;

    if (strlen(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
        s[13] != ':' || s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
        digits(s + 17, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
        return -1;
    memset(tm, 0, sizeof(*tm));
    tm->tm_year = y - 1900;
    tm->tm_mon = mo - 1;
    tm->tm_mday = d;
    tm->tm_hour = h;
    tm->tm_min = mi;
    tm->tm_sec = se;
    return 0;
}

int mar_time_parse(const char *s, double *t)
{
    struct tm tm;
    double frac = 0, scale = 0.1;
    const char *p;
    time_t secs;
    int mday;

    if (!s || !t || parse_date_time(s, &tm) != 0)
        return -1;
    p = s + 19;
    if (*p == '.') {
        /* One to nine digits; Marathon writes three. */
        for (p++; *p >= '0' && *p <= '9' && scale > 1e-10; p++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
        if (p == s + 20)
            return -1;
    }
    if (p[0] != 'Z' || p[1] != '\0')
        return -1;
    mday = tm.tm_mday;
    secs = timegm(&tm);
    /* timegm() moves Feb 31 to March: such a date is not a timestamp. */
    if (secs == (time_t)-1 || tm.tm_mday != mday)
        return -1;
    *t = (double)secs + frac;
    return 0;
}
