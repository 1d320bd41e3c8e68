/*
 * test_chr_time.c - chronos.so's time library (chr_time.h): zones read
 * from Debian's tzdata checked against known transitions (zdump) and
 * against glibc's localtime_r; crafted TZif files for the footer rules
 * no real zone uses and for every refusal; ISO 8601 schedules; period
 * arithmetic across DST and month ends; cron syntax, DST and a fuzz
 * loop checked against a brute-force search.
 *
 * Expected instants are written as UTC fields and built with timegm(),
 * not with the code under test. The test may set TZ: it is one thread.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chr_time.h"

#define MIN_MS INT64_C(60000)
#define HOUR_MS INT64_C(3600000)
#define DAY_MS INT64_C(86400000)

/* ---- helpers ---- */

/* The instant of a UTC date and time, in ms. */
static int64_t U(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {0};

    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t)timegm(&tm) * 1000;
}

static const char *fmt(int64_t t)
{
    static char b[4][32];
    static int i;

    i = (i + 1) % 4;
    if (t == -1)
        return "-1";
    chr_time_format(t, b[i]);
    return b[i];
}

#define ck_assert_time(got, want)                                              \
    do {                                                                       \
        int64_t g_ = (got), w_ = (want);                                       \
        ck_assert_msg(g_ == w_, "%s: got %s (%lld), want %s (%lld)", #got,     \
                      fmt(g_), (long long)g_, fmt(w_), (long long)w_);         \
    } while (0)

static struct chr_tz *load(const char *name)
{
    const char *why = NULL;
    struct chr_tz *z = chr_tz_load(name, &why);

    ck_assert_msg(z != NULL, "%s: %s", name, why ? why : "?");
    return z;
}

/* Local fields of t in z must be as given. */
static void expect_local(const struct chr_tz *z, int64_t t, int y, int mo,
                         int d, int h, int mi, int s, int32_t off)
{
    struct chr_local l;

    chr_tz_local(z, t, &l);
    ck_assert_msg(l.year == y && l.month == mo && l.day == d && l.hour == h &&
                      l.minute == mi && l.second == s && l.offset == off,
                  "%s in %s: got %04d-%02d-%02d %02d:%02d:%02d %+d, want "
                  "%04d-%02d-%02d %02d:%02d:%02d %+d",
                  fmt(t), chr_tz_name(z), l.year, l.month, l.day, l.hour,
                  l.minute, l.second, l.offset, y, mo, d, h, mi, s, off);
}

/* The instant of a wall-clock time in z. */
static int64_t wall(const struct chr_tz *z, int y, int mo, int d, int h, int mi)
{
    struct chr_local l = {0};

    l.year = y;
    l.month = mo;
    l.day = d;
    l.hour = h;
    l.minute = mi;
    return chr_tz_utc(z, &l);
}

/* ---- zones: known transitions (zdump -v) ---- */

START_TEST(test_tz_new_york)
{
    struct chr_tz *z = load("America/New_York");
    struct chr_tz_span sp;
    struct chr_local l;

    ck_assert_str_eq(chr_tz_name(z), "America/New_York");
    expect_local(z, U(2024, 3, 10, 6, 59, 59), 2024, 3, 10, 1, 59, 59, -18000);
    expect_local(z, U(2024, 3, 10, 7, 0, 0), 2024, 3, 10, 3, 0, 0, -14400);
    expect_local(z, U(2024, 11, 3, 5, 59, 59), 2024, 11, 3, 1, 59, 59, -14400);
    expect_local(z, U(2024, 11, 3, 6, 0, 0), 2024, 11, 3, 1, 0, 0, -18000);
    chr_tz_local(z, U(2024, 3, 10, 7, 0, 0) + 123, &l);
    ck_assert_int_eq(l.ms, 123);
    ck_assert_int_eq(l.wday, 0); /* a Sunday */
    /* before 1970 too: 1950-07-01 was EDT */
    expect_local(z, U(1950, 7, 1, 12, 0, 0), 1950, 7, 1, 8, 0, 0, -14400);

    ck_assert_time(wall(z, 2024, 7, 1, 12, 0), U(2024, 7, 1, 16, 0, 0));
    ck_assert_time(wall(z, 2024, 1, 1, 12, 0), U(2024, 1, 1, 17, 0, 0));
    /* gap: 02:30 does not exist, the first instant after it is 03:00 */
    ck_assert_time(wall(z, 2024, 3, 10, 2, 30), U(2024, 3, 10, 7, 0, 0));
    ck_assert_time(wall(z, 2024, 3, 10, 2, 0), U(2024, 3, 10, 7, 0, 0));
    ck_assert_time(wall(z, 2024, 3, 10, 3, 0), U(2024, 3, 10, 7, 0, 0));
    ck_assert_time(wall(z, 2024, 3, 10, 1, 59), U(2024, 3, 10, 6, 59, 0));
    /* fold: 01:30 happens twice, the first (EDT) is taken */
    ck_assert_time(wall(z, 2024, 11, 3, 1, 30), U(2024, 11, 3, 5, 30, 0));
    ck_assert_time(wall(z, 2024, 11, 3, 2, 0), U(2024, 11, 3, 7, 0, 0));

    chr_tz_span(z, U(2024, 6, 1, 0, 0, 0), &sp);
    ck_assert_time(sp.start, U(2024, 3, 10, 7, 0, 0));
    ck_assert_time(sp.end, U(2024, 11, 3, 6, 0, 0));
    ck_assert_int_eq(sp.offset, -14400);
    ck_assert_int_eq(sp.prev_offset, -18000);
    ck_assert_int_eq(sp.next_offset, -18000);
    chr_tz_free(z);
}
END_TEST

START_TEST(test_tz_berlin)
{
    struct chr_tz *z = load("Europe/Berlin");

    expect_local(z, U(2024, 3, 31, 0, 59, 59), 2024, 3, 31, 1, 59, 59, 3600);
    expect_local(z, U(2024, 3, 31, 1, 0, 0), 2024, 3, 31, 3, 0, 0, 7200);
    expect_local(z, U(2024, 10, 27, 0, 59, 59), 2024, 10, 27, 2, 59, 59, 7200);
    expect_local(z, U(2024, 10, 27, 1, 0, 0), 2024, 10, 27, 2, 0, 0, 3600);
    ck_assert_time(wall(z, 2024, 3, 31, 2, 30), U(2024, 3, 31, 1, 0, 0));
    ck_assert_time(wall(z, 2024, 10, 27, 2, 30), U(2024, 10, 27, 0, 30, 0));
    ck_assert_time(wall(z, 2024, 10, 27, 3, 0), U(2024, 10, 27, 2, 0, 0));
    chr_tz_free(z);
}
END_TEST

/* +10:30 standard, +11 DST: a 30-minute shift each way. */
START_TEST(test_tz_lord_howe)
{
    struct chr_tz *z = load("Australia/Lord_Howe");
    struct chr_tz_span sp;

    expect_local(z, U(2024, 4, 6, 14, 59, 59), 2024, 4, 7, 1, 59, 59, 39600);
    expect_local(z, U(2024, 4, 6, 15, 0, 0), 2024, 4, 7, 1, 30, 0, 37800);
    expect_local(z, U(2024, 10, 5, 15, 29, 59), 2024, 10, 6, 1, 59, 59, 37800);
    expect_local(z, U(2024, 10, 5, 15, 30, 0), 2024, 10, 6, 2, 30, 0, 39600);
    /* fold [01:30, 02:00): first occurrence, at +11 */
    ck_assert_time(wall(z, 2024, 4, 7, 1, 45), U(2024, 4, 6, 14, 45, 0));
    ck_assert_time(wall(z, 2024, 4, 7, 2, 0), U(2024, 4, 6, 15, 30, 0));
    /* gap [02:00, 02:30) */
    ck_assert_time(wall(z, 2024, 10, 6, 2, 15), U(2024, 10, 5, 15, 30, 0));
    ck_assert_time(wall(z, 2024, 10, 6, 2, 30), U(2024, 10, 5, 15, 30, 0));
    ck_assert_time(wall(z, 2024, 10, 6, 2, 31), U(2024, 10, 5, 15, 31, 0));
    chr_tz_span(z, U(2024, 10, 5, 15, 0, 0), &sp);
    ck_assert_int_eq(sp.next_offset - sp.offset, 1800);
    chr_tz_free(z);
}
END_TEST

/* +05:45 since 1986, +05:30 before: a 15-minute gap at 1986-01-01. */
START_TEST(test_tz_kathmandu)
{
    struct chr_tz *z = load("Asia/Kathmandu");

    expect_local(z, U(2024, 6, 1, 0, 0, 0), 2024, 6, 1, 5, 45, 0, 20700);
    expect_local(z, U(1985, 12, 31, 18, 29, 59), 1985, 12, 31, 23, 59, 59,
                 19800);
    expect_local(z, U(1985, 12, 31, 18, 30, 0), 1986, 1, 1, 0, 15, 0, 20700);
    ck_assert_time(wall(z, 1986, 1, 1, 0, 10), U(1985, 12, 31, 18, 30, 0));
    ck_assert_time(wall(z, 2024, 6, 1, 9, 0), U(2024, 6, 1, 3, 15, 0));
    /* far future: the footer's fixed offset */
    expect_local(z, U(2300, 1, 1, 0, 0, 0), 2300, 1, 1, 5, 45, 0, 20700);
    chr_tz_free(z);
}
END_TEST

START_TEST(test_tz_utc)
{
    const char *names[] = {"UTC", "", "Z", "Etc/UTC"};
    struct chr_tz_span sp;

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct chr_tz *z = load(names[i]);

        expect_local(z, U(2024, 3, 10, 7, 0, 0), 2024, 3, 10, 7, 0, 0, 0);
        ck_assert_time(wall(z, 2024, 2, 29, 23, 59), U(2024, 2, 29, 23, 59, 0));
        chr_tz_span(z, 0, &sp);
        ck_assert(sp.start == INT64_MIN && sp.end == INT64_MAX);
        if (i < 3)
            ck_assert_str_eq(chr_tz_name(z), "UTC");
        chr_tz_free(z);
    }
    /* NULL is UTC, everywhere a zone is taken */
    expect_local(NULL, -1, 1969, 12, 31, 23, 59, 59, 0);
    ck_assert_time(wall(NULL, 2024, 2, 30, 0, 0), U(2024, 3, 1, 0, 0, 0));
    ck_assert_time(wall(NULL, 2024, 13, 1, 24, 0), U(2025, 1, 2, 0, 0, 0));
}
END_TEST

/* The ends of int64_t: no overflow (UBSan watches), saturation. */
START_TEST(test_tz_extremes)
{
    struct chr_tz *ny = load("America/New_York");
    struct chr_tz *lh = load("Australia/Lord_Howe");
    const int64_t ts[] = {INT64_MIN, INT64_MIN + 1, -1, 0, INT64_MAX};
    struct chr_local l = {0};
    struct chr_tz_span sp;
    struct chr_period d1 = {0};
    char out[32];

    d1.days = 1;
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        chr_tz_local(ny, ts[i], &l);
        ck_assert(l.ms >= 0 && l.ms < 1000 && l.month >= 1 && l.day >= 1);
        chr_tz_local(lh, ts[i], &l);
        chr_tz_span(ny, ts[i], &sp);
        ck_assert(sp.start <= ts[i] && (ts[i] < sp.end || sp.end == INT64_MAX));
        chr_tz_span(lh, ts[i], &sp);
        chr_time_format(ts[i], out);
        ck_assert_uint_lt(strlen(out), 32);
        (void)chr_period_add(&d1, lh, ts[i]);
    }
    chr_time_format(INT64_MAX, out);
    ck_assert_str_eq(out, "292278994-08-17T07:12:55.807Z");
    ck_assert_time(chr_period_add(&d1, ny, INT64_MAX), INT64_MAX);
    l.year = 2000000000;
    l.month = l.day = 1;
    ck_assert_time(chr_tz_utc(ny, &l), INT64_MAX);
    l.year = -2000000000;
    ck_assert_time(chr_tz_utc(ny, &l), INT64_MIN);
    l.year = 2024;
    l.month = 1000000000;
    l.day = -1000000000;
    l.hour = 1000000000;
    (void)chr_tz_utc(ny, &l);
    chr_tz_free(ny);
    chr_tz_free(lh);
}
END_TEST

/* Beyond 2037 Debian's files list no transitions: the footer rules. */
START_TEST(test_tz_footer_far_future)
{
    struct chr_tz *ny = load("America/New_York");
    struct chr_tz *be = load("Europe/Berlin");
    struct chr_tz *lh = load("Australia/Lord_Howe");

    expect_local(ny, U(2100, 3, 14, 6, 59, 59), 2100, 3, 14, 1, 59, 59, -18000);
    expect_local(ny, U(2100, 3, 14, 7, 0, 0), 2100, 3, 14, 3, 0, 0, -14400);
    expect_local(ny, U(2100, 11, 7, 5, 59, 59), 2100, 11, 7, 1, 59, 59, -14400);
    expect_local(ny, U(2100, 11, 7, 6, 0, 0), 2100, 11, 7, 1, 0, 0, -18000);
    ck_assert_time(wall(ny, 2100, 3, 14, 2, 30), U(2100, 3, 14, 7, 0, 0));
    expect_local(be, U(2100, 3, 28, 0, 59, 59), 2100, 3, 28, 1, 59, 59, 3600);
    expect_local(be, U(2100, 3, 28, 1, 0, 0), 2100, 3, 28, 3, 0, 0, 7200);
    expect_local(be, U(2100, 10, 31, 1, 0, 0), 2100, 10, 31, 2, 0, 0, 3600);
    expect_local(lh, U(2100, 4, 3, 14, 59, 59), 2100, 4, 4, 1, 59, 59, 39600);
    expect_local(lh, U(2100, 4, 3, 15, 0, 0), 2100, 4, 4, 1, 30, 0, 37800);
    expect_local(lh, U(2100, 10, 2, 15, 30, 0), 2100, 10, 3, 2, 30, 0, 39600);
    ck_assert_time(wall(lh, 2100, 10, 3, 2, 0), U(2100, 10, 2, 15, 30, 0));
    chr_tz_free(ny);
    chr_tz_free(be);
    chr_tz_free(lh);
}
END_TEST

/*
 * Every instant's offset and fields agree with glibc's localtime_r over
 * 1900-2200, and wall clock -> instant -> wall clock goes back to the
 * same instant except in the second pass of a fold.
 */
START_TEST(test_tz_against_glibc)
{
    static const char *const zones[] = {
        "America/New_York",
        "Europe/Berlin",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "UTC",
        "America/Sao_Paulo",
        "Pacific/Chatham",
        "Africa/Casablanca",
        "Europe/Dublin",
        "America/St_Johns",
        "Antarctica/Troll",
        "Pacific/Apia",
        "America/Nuuk",
        "Asia/Jerusalem",
        "America/Santiago",
        "US/Eastern",
        "Etc/GMT+5",
        "Australia/Sydney",
    };
    unsigned seed = 12345;

    for (size_t zi = 0; zi < sizeof zones / sizeof zones[0]; zi++) {
        struct chr_tz *z = load(zones[zi]);

        setenv("TZ", zones[zi], 1);
        tzset();
        for (int i = 0; i < 20000; i++) {
            /* 1900-01-01 .. 2200-01-01 */
            int64_t s = -INT64_C(2208988800) +
                        (int64_t)(rand_r(&seed) % 100000) * 94670 +
                        rand_r(&seed) % 94670;
            time_t tt = (time_t)s;
            struct tm tm;
            struct chr_local l;
            struct chr_tz_span sp;
            int64_t back;

            localtime_r(&tt, &tm);
            chr_tz_local(z, s * 1000, &l);
            /* ck_abort_msg, not ck_assert: see test_cron_fuzz */
            if (l.offset != tm.tm_gmtoff || l.year != tm.tm_year + 1900 ||
                l.month != tm.tm_mon + 1 || l.day != tm.tm_mday ||
                l.hour != tm.tm_hour || l.minute != tm.tm_min ||
                l.wday != tm.tm_wday)
                ck_abort_msg("%s at %lld: offset %d, glibc %ld", zones[zi],
                             (long long)s, l.offset, (long)tm.tm_gmtoff);
            back = chr_tz_utc(z, &l);
            chr_tz_span(z, s * 1000, &sp);
            if (back != s * 1000 &&
                !(back < s * 1000 && sp.prev_offset > sp.offset))
                ck_abort_msg("%s: %lld -> local -> %lld", zones[zi],
                             (long long)s, (long long)(back / 1000));
        }
        chr_tz_free(z);
    }
    unsetenv("TZ");
    tzset();
}
END_TEST

START_TEST(test_tz_refusals)
{
    static const struct {
        const char *name, *why;
    } cases[] = {
        {"Mars/Olympus_Mons", "unknown time zone"},
        {"America", "unknown time zone"}, /* a directory */
        {"America/New_York/x", "unknown time zone"},
        {"localtime", "unknown time zone"}, /* -> /etc/localtime */
        {"../../../etc/passwd", "invalid time zone name"},
        {"/etc/passwd", "invalid time zone name"},
        {"America//New_York", "invalid time zone name"},
        {"America/", "invalid time zone name"},
        {"zone.tab", "invalid time zone name"},
        {"America/New York", "invalid time zone name"},
        {"Europe/Berlin\n", "invalid time zone name"},
        {"right/UTC", "time zones with leap seconds (right/...) are not "
                      "supported"},
    };
    char longname[400];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = NULL;
        struct chr_tz *z = chr_tz_load(cases[i].name, &why);

        ck_assert_msg(z == NULL, "%s loaded", cases[i].name);
        ck_assert_msg(why != NULL && strcmp(why, cases[i].why) == 0, "%s: %s",
                      cases[i].name, why ? why : "(null)");
        ck_assert_ptr_null(chr_tz_load(cases[i].name, NULL));
    }
    memset(longname, 'A', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_ptr_null(chr_tz_load(longname, NULL));
}
END_TEST

/* Links inside the tree are followed: US/Eastern -> ../America/New_York,
 * posixrules -> America/New_York, UTC -> Etc/UTC. */
START_TEST(test_tz_links)
{
    struct chr_tz *a = load("US/Eastern");
    struct chr_tz *b = load("posixrules");

    ck_assert_str_eq(chr_tz_name(a), "US/Eastern");
    expect_local(a, U(2024, 3, 10, 7, 0, 0), 2024, 3, 10, 3, 0, 0, -14400);
    expect_local(b, U(2024, 11, 3, 6, 0, 0), 2024, 11, 3, 1, 0, 0, -18000);
    chr_tz_free(a);
    chr_tz_free(b);
}
END_TEST

/* ---- crafted TZif files ---- */

struct tzb {
    unsigned char b[4096];
    size_t n;
};

static void put32(struct tzb *t, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        t->b[t->n++] = (unsigned char)(v >> (8 * i));
}

static void put64(struct tzb *t, int64_t v)
{
    put32(t, (uint32_t)((uint64_t)v >> 32));
    put32(t, (uint32_t)v);
}

static void hdr(struct tzb *t, char version, uint32_t ntime, uint32_t ntype,
                uint32_t nchar)
{
    memcpy(t->b + t->n, "TZif", 4);
    t->n += 4;
    t->b[t->n++] = (unsigned char)version;
    memset(t->b + t->n, 0, 15);
    t->n += 15;
    put32(t, 0);     /* isut */
    put32(t, 0);     /* isstd */
    put32(t, 0);     /* leap */
    put32(t, ntime); /* time */
    put32(t, ntype); /* type */
    put32(t, nchar); /* chars */
}

static void types(struct tzb *t, int ntype, const int32_t *offs)
{
    for (int i = 0; i < ntype; i++) {
        put32(t, (uint32_t)offs[i]);
        t->b[t->n++] = i > 0; /* isdst */
        t->b[t->n++] = 0;     /* abbreviation "ABC" */
    }
    memcpy(t->b + t->n, "ABC", 4);
    t->n += 4;
}

/*
 * A TZif file: version '\0' (v1: 32-bit data only) or '2'/'3' (an empty
 * v1 block, then 64-bit data and the footer).
 */
static void tzif(struct tzb *t, char version, int ntime, const int64_t *at,
                 const unsigned char *idx, int ntype, const int32_t *offs,
                 const char *footer)
{
    t->n = 0;
    if (version != 0) {
        int32_t zero = 0;

        hdr(t, version, 0, 1, 4);
        types(t, 1, &zero);
    }
    hdr(t, version, (uint32_t)ntime, (uint32_t)ntype, 4);
    for (int i = 0; i < ntime; i++) {
        if (version == 0)
            put32(t, (uint32_t)(int32_t)at[i]);
        else
            put64(t, at[i]);
    }
    if (ntime > 0)
        memcpy(t->b + t->n, idx, (size_t)ntime);
    t->n += (size_t)ntime;
    types(t, ntype, offs);
    if (version != 0) {
        size_t k = strlen(footer);

        t->b[t->n++] = '\n';
        memcpy(t->b + t->n, footer, k);
        t->n += k;
        t->b[t->n++] = '\n';
    }
}

static char tmpdir[64];

static void write_file(const char *name, const void *b, size_t n)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* A v2 file with no transitions and this footer. */
static void write_footer_zone(const char *name, const char *footer)
{
    struct tzb t;
    int32_t off = 0;

    tzif(&t, '2', 0, NULL, NULL, 1, &off, footer);
    write_file(name, t.b, t.n);
}

static struct chr_tz *load_tmp(const char *name)
{
    const char *why = NULL;
    struct chr_tz *z = chr_tz_load_dir(tmpdir, name, &why);

    ck_assert_msg(z != NULL, "%s: %s", name, why ? why : "?");
    return z;
}

static void refuse_tmp(const char *name, const char *want)
{
    const char *why = NULL;
    struct chr_tz *z = chr_tz_load_dir(tmpdir, name, &why);

    ck_assert_msg(z == NULL, "%s loaded", name);
    ck_assert_msg(why != NULL && strcmp(why, want) == 0, "%s: %s, want %s",
                  name, why ? why : "(null)", want);
}

static void setup_tmp(void)
{
    char cmd[128];

    snprintf(tmpdir, sizeof tmpdir, "/tmp/chr_tz.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(cmd, sizeof cmd, "%s/root", tmpdir);
    ck_assert_int_eq(mkdir(cmd, 0700), 0);
}

static void teardown_tmp(void)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Jn counts days 1-365 never counting Feb 29; n counts 0-365 with it. */
START_TEST(test_tz_footer_julian)
{
    struct chr_tz *j, *n;

    write_footer_zone("J", "XST-2XDT,J60/2,J300/3");
    write_footer_zone("N", "XST-2XDT,59/2,299/3");
    j = load_tmp("J");
    n = load_tmp("N");
    /* J60 is March 1st in every year; 02:00 at +2 is 00:00Z */
    expect_local(j, U(2024, 2, 29, 23, 59, 59), 2024, 3, 1, 1, 59, 59, 7200);
    expect_local(j, U(2024, 3, 1, 0, 0, 0), 2024, 3, 1, 3, 0, 0, 10800);
    expect_local(j, U(2023, 3, 1, 0, 0, 0), 2023, 3, 1, 3, 0, 0, 10800);
    /* J300 is Oct 27; 03:00 at +3 is 00:00Z */
    expect_local(j, U(2024, 10, 26, 23, 59, 59), 2024, 10, 27, 2, 59, 59,
                 10800);
    expect_local(j, U(2024, 10, 27, 0, 0, 0), 2024, 10, 27, 2, 0, 0, 7200);
    /* zero-based 59 is Feb 29 in a leap year, Mar 1 otherwise */
    expect_local(n, U(2024, 2, 29, 0, 0, 0), 2024, 2, 29, 3, 0, 0, 10800);
    expect_local(n, U(2023, 2, 28, 23, 59, 59), 2023, 3, 1, 1, 59, 59, 7200);
    expect_local(n, U(2023, 3, 1, 0, 0, 0), 2023, 3, 1, 3, 0, 0, 10800);
    /* 299 is Oct 26 in 2024, Oct 27 in 2023 */
    expect_local(n, U(2024, 10, 26, 0, 0, 0), 2024, 10, 26, 2, 0, 0, 7200);
    expect_local(n, U(2023, 10, 26, 0, 0, 0), 2023, 10, 26, 3, 0, 0, 10800);
    expect_local(n, U(2023, 10, 27, 0, 0, 0), 2023, 10, 27, 2, 0, 0, 7200);
    chr_tz_free(j);
    chr_tz_free(n);
}
END_TEST

/* Offsets with minutes and seconds, negative rule times and times past
 * 24 h (RFC 8536's version 3 extensions), all-year DST, and a southern
 * zone whose DST spans the new year. */
START_TEST(test_tz_footer_rules)
{
    struct chr_tz *z;
    struct chr_tz_span sp;
    struct chr_cron *c;

    write_footer_zone("Odd", "<-0330>3:30:15");
    z = load_tmp("Odd");
    expect_local(z, U(2024, 1, 1, 12, 0, 0), 2024, 1, 1, 8, 29, 45, -12615);
    chr_tz_free(z);

    /* DST from the last Sunday of March at -1:00 (i.e. Saturday 23:00)
     * to the last Sunday of October at 00:00, as America/Nuuk */
    write_footer_zone("Neg", "<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
    z = load_tmp("Neg");
    expect_local(z, U(2024, 3, 31, 0, 59, 59), 2024, 3, 30, 22, 59, 59, -7200);
    expect_local(z, U(2024, 3, 31, 1, 0, 0), 2024, 3, 31, 0, 0, 0, -3600);
    expect_local(z, U(2024, 10, 27, 0, 59, 59), 2024, 10, 26, 23, 59, 59,
                 -3600);
    expect_local(z, U(2024, 10, 27, 1, 0, 0), 2024, 10, 26, 23, 0, 0, -7200);
    chr_tz_free(z);

    /* Thursday before the last Friday of March at 26:00 (Jerusalem) */
    write_footer_zone("Late", "IST-2IDT,M3.4.4/26,M10.5.0");
    z = load_tmp("Late");
    expect_local(z, U(2024, 3, 28, 23, 59, 59), 2024, 3, 29, 1, 59, 59, 7200);
    expect_local(z, U(2024, 3, 29, 0, 0, 0), 2024, 3, 29, 3, 0, 0, 10800);
    chr_tz_free(z);

    /* all-year DST: the rule's two dates meet; never a change */
    write_footer_zone("AllDst", "EST5EDT4,0/0,J365/25");
    z = load_tmp("AllDst");
    for (int y = 2020; y < 2030; y++) {
        expect_local(z, U(y, 1, 1, 5, 0, 0), y, 1, 1, 1, 0, 0, -14400);
        expect_local(z, U(y, 7, 1, 4, 0, 0), y, 7, 1, 0, 0, 0, -14400);
    }
    c = chr_cron_parse("30 2 * * *", NULL);
    ck_assert_time(chr_cron_next(c, z, U(2024, 12, 31, 12, 0, 0)),
                   U(2025, 1, 1, 6, 30, 0));
    chr_cron_free(c);
    chr_tz_free(z);

    /* southern: DST from October to April, over the new year */
    write_footer_zone("South", "<+10>-10<+11>-11,M10.1.0,M4.1.0/3");
    z = load_tmp("South");
    expect_local(z, U(2024, 1, 1, 0, 0, 0), 2024, 1, 1, 11, 0, 0, 39600);
    expect_local(z, U(2024, 7, 1, 0, 0, 0), 2024, 7, 1, 10, 0, 0, 36000);
    expect_local(z, U(2024, 12, 31, 13, 0, 0), 2025, 1, 1, 0, 0, 0, 39600);
    chr_tz_span(z, U(2025, 1, 1, 0, 0, 0), &sp);
    ck_assert_time(sp.start, U(2024, 10, 5, 16, 0, 0)); /* Oct 6 02:00 */
    ck_assert_time(sp.end, U(2025, 4, 5, 16, 0, 0));    /* Apr 6 03:00 */
    chr_tz_free(z);
}
END_TEST

/* A version 1 file: 32-bit transitions, no footer; the last type
 * stays in force. Also a v2 file whose table ends and footer takes
 * over. */
START_TEST(test_tz_v1_and_junction)
{
    static const int64_t at[] = {1000000000, 1100000000};
    static const unsigned char idx[] = {1, 0};
    static const int32_t offs[] = {3600, 7200};
    struct tzb t;
    struct chr_tz *z;

    tzif(&t, 0, 2, at, idx, 2, offs, NULL);
    write_file("V1", t.b, t.n);
    z = load_tmp("V1");
    ck_assert_int_eq(wall(z, 1970, 1, 1, 1, 0), 0);
    expect_local(z, INT64_C(1000000000) * 1000, 2001, 9, 9, 3, 46, 40, 7200);
    expect_local(z, INT64_C(1100000000) * 1000, 2004, 11, 9, 12, 33, 20, 3600);
    expect_local(z, U(2200, 1, 1, 0, 0, 0), 2200, 1, 1, 1, 0, 0, 3600);
    chr_tz_free(z);

    tzif(&t, '3', 2, at, idx, 2, offs, "ABC-1DEF,M3.5.0,M10.5.0/3");
    write_file("V3", t.b, t.n);
    z = load_tmp("V3");
    expect_local(z, INT64_C(1000000000) * 1000, 2001, 9, 9, 3, 46, 40, 7200);
    expect_local(z, U(2024, 7, 1, 0, 0, 0), 2024, 7, 1, 2, 0, 0, 7200);
    expect_local(z, U(2024, 1, 1, 0, 0, 0), 2024, 1, 1, 1, 0, 0, 3600);
    chr_tz_free(z);
}
END_TEST

START_TEST(test_tz_corrupt_files)
{
    static const int64_t at[] = {1000000000, 1100000000};
    static const int64_t back[] = {1100000000, 1000000000};
    static const unsigned char idx[] = {1, 0}, bad_idx[] = {1, 5};
    static const int32_t offs[] = {3600, 7200}, huge[] = {0, 200000};
    const char *corrupt = "time zone file is corrupt";
    struct tzb t;

    tzif(&t, '2', 2, at, idx, 2, offs, "ABC-1");
    write_file("Cut", t.b, t.n / 2 + 10);
    refuse_tmp("Cut", corrupt);
    write_file("NoFooterEnd", t.b, t.n - 1);
    refuse_tmp("NoFooterEnd", corrupt);

    tzif(&t, '2', 2, back, idx, 2, offs, "ABC-1");
    write_file("Unsorted", t.b, t.n);
    refuse_tmp("Unsorted", corrupt);

    tzif(&t, '2', 2, at, bad_idx, 2, offs, "ABC-1");
    write_file("BadIdx", t.b, t.n);
    refuse_tmp("BadIdx", corrupt);

    tzif(&t, '2', 2, at, idx, 2, huge, "ABC-1");
    write_file("HugeOff", t.b, t.n);
    refuse_tmp("HugeOff", corrupt);

    tzif(&t, '2', 2, at, idx, 2, offs, "garbage");
    write_file("BadFooter", t.b, t.n);
    refuse_tmp("BadFooter", corrupt);
    tzif(&t, '2', 2, at, idx, 2, offs, "EST5EDT");
    write_file("NoRule", t.b, t.n);
    refuse_tmp("NoRule", corrupt);
    tzif(&t, '2', 2, at, idx, 2, offs, "EST5EDT,M13.1.0,M11.1.0");
    write_file("BadMonth", t.b, t.n);
    refuse_tmp("BadMonth", corrupt);
    tzif(&t, '2', 2, at, idx, 2, offs, "EST99");
    write_file("BadOffset", t.b, t.n);
    refuse_tmp("BadOffset", corrupt);

    /* counts that promise far more than the file holds */
    t.n = 0;
    hdr(&t, '2', 0xffffffffu, 1, 4);
    write_file("Liar", t.b, t.n);
    refuse_tmp("Liar", corrupt);
    t.n = 0;
    hdr(&t, '2', 0, 0, 4);
    write_file("NoTypes", t.b, t.n);
    refuse_tmp("NoTypes", corrupt);
    write_file("Short", "TZif2", 5);
    refuse_tmp("Short", corrupt);
    write_file("Text", "# not a zone\n", 13);
    refuse_tmp("Text", "unknown time zone");
}
END_TEST

/* The file system: links leaving the root, loops, FIFOs, big files. */
START_TEST(test_tz_files_beneath)
{
    char root[128], path[256];
    struct tzb t;
    int32_t off = 3600;
    unsigned char *big;
    struct chr_tz *z;
    const char *why = NULL;

    tzif(&t, '2', 0, NULL, NULL, 1, &off, "ABC-1");
    write_file("outside", t.b, t.n);
    write_file("root/Good", t.b, t.n);
    /* also inside: a link that climbed out and were clamped at the root
     * would find it */
    write_file("root/outside", t.b, t.n);
    snprintf(root, sizeof root, "%s/root", tmpdir);
    snprintf(path, sizeof path, "%s/Dir", root);
    ck_assert_int_eq(mkdir(path, 0700), 0);

#define LINK(target, name)                                                     \
    do {                                                                       \
        snprintf(path, sizeof path, "%s/%s", root, name);                      \
        ck_assert_int_eq(symlink(target, path), 0);                            \
    } while (0)
    LINK("../Good", "Dir/Link");
    LINK("Dir", "DirLink");
    LINK("../outside", "Escape");
    LINK("..", "Up");
    LINK("Dir/../../outside", "Sneaky");
    LINK("/Good", "AbsInside");
    LINK("Loop", "Loop");
    LINK("Ping", "Pong");
    LINK("Pong", "Ping");
    snprintf(path, sizeof path, "%s/outside", tmpdir);
    LINK(path, "Abs");
#undef LINK

    z = chr_tz_load_dir(root, "Dir/Link", &why);
    ck_assert_msg(z != NULL, "%s", why);
    expect_local(z, 0, 1970, 1, 1, 1, 0, 0, 3600);
    chr_tz_free(z);
    z = chr_tz_load_dir(root, "DirLink/Link", &why);
    ck_assert_msg(z != NULL, "%s", why);
    chr_tz_free(z);
    z = chr_tz_load_dir(tmpdir, "outside", &why);
    ck_assert_msg(z != NULL, "%s", why);
    chr_tz_free(z);

    snprintf(path, sizeof path, "%s/Fifo", root);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    big = calloc(1, (2 << 20) + t.n);
    ck_assert_ptr_nonnull(big);
    memcpy(big, t.b, t.n);
    write_file("root/Big", big, (2 << 20) + t.n);
    free(big);

    {
        static const char *const refused[] = {
            "Escape",    "Up/outside", "Sneaky", "Loop", "Ping",    "Abs",
            "AbsInside", "Fifo",       "Big",    "Dir",  "Nothing",
        };
        for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
            why = NULL;
            ck_assert_msg(chr_tz_load_dir(root, refused[i], &why) == NULL,
                          "%s loaded", refused[i]);
            ck_assert_str_eq(why, "unknown time zone");
        }
    }
}
END_TEST

/* ---- ISO 8601 schedules ---- */

static struct chr_iso parse_ok(const char *s, int64_t now,
                               const struct chr_tz *z)
{
    struct chr_iso iso;
    const char *why = NULL;

    memset(&iso, 0x55, sizeof iso);
    ck_assert_msg(chr_iso_parse(s, now, z, &iso, &why) == 0, "%s: %s", s,
                  why ? why : "?");
    return iso;
}

static int64_t start_of(const char *s)
{
    return parse_ok(s, 0, NULL).start;
}

static void period_is(const char *s, int y, int mo, int w, int d, int h, int mi,
                      int64_t ms)
{
    struct chr_period p = parse_ok(s, U(2024, 1, 1, 0, 0, 0), NULL).period;

    ck_assert_msg(p.years == y && p.months == mo && p.weeks == w &&
                      p.days == d && p.hours == h && p.minutes == mi &&
                      p.ms == ms,
                  "%s: %dY %dM %dW %dD T %dH %dM %lldms", s, p.years, p.months,
                  p.weeks, p.days, p.hours, p.minutes, (long long)p.ms);
}

START_TEST(test_iso_repeat_and_start)
{
    int64_t now = U(2024, 5, 6, 7, 8, 9) + 10;
    struct chr_iso i;

    i = parse_ok("R/2014-03-08T20:00:00.000Z/PT2H", 0, NULL);
    ck_assert_int_eq(i.repeat, -1);
    ck_assert_time(i.start, U(2014, 3, 8, 20, 0, 0));
    ck_assert_int_eq(i.period.hours, 2);
    ck_assert_int_eq(parse_ok("R5/2014-03-08T20:00:00Z/P1D", 0, NULL).repeat,
                     5);
    ck_assert_int_eq(parse_ok("R0/2014-03-08T20:00:00Z/P1D", 0, NULL).repeat,
                     0);
    ck_assert_int_eq(parse_ok("R9223372036854775807//P1D", now, NULL).repeat,
                     INT64_MAX);
    /* empty start: now - 1 s, in any zone */
    i = parse_ok("R1//PT24H", now, NULL);
    ck_assert_int_eq(i.repeat, 1);
    ck_assert_time(i.start, now - 1000);
    ck_assert_int_eq(i.period.hours, 24);
    {
        struct chr_tz *ny = load("America/New_York");

        ck_assert_time(parse_ok("R//PT1H", now, ny).start, now - 1000);
        chr_tz_free(ny);
    }

    ck_assert_time(start_of("R/2016-07-01/P1D"), U(2016, 7, 1, 0, 0, 0));
    ck_assert_time(start_of("R/2016-07/P1D"), U(2016, 7, 1, 0, 0, 0));
    ck_assert_time(start_of("R/2016/P1D"), U(2016, 1, 1, 0, 0, 0));
    ck_assert_time(start_of("R/2016-183/P1D"), U(2016, 7, 1, 0, 0, 0));
    ck_assert_time(start_of("R/2016-W26-5/P1D"), U(2016, 7, 1, 0, 0, 0));
    ck_assert_time(start_of("R/2015-W53-4/P1D"), U(2015, 12, 31, 0, 0, 0));
    ck_assert_time(start_of("R/2020-W01/P1D"), U(2019, 12, 30, 0, 0, 0));
    ck_assert_time(start_of("R/2016-07-01T11:00/P1D"), U(2016, 7, 1, 11, 0, 0));
    ck_assert_time(start_of("R/2016-07-01T11/P1D"), U(2016, 7, 1, 11, 0, 0));
    ck_assert_time(start_of("R/2016-07-01T/P1D"), U(2016, 7, 1, 0, 0, 0));
    ck_assert_time(start_of("R/2016-07-01T11:00:00/P1D"),
                   U(2016, 7, 1, 11, 0, 0));
    ck_assert_time(start_of("R/2016-07-01T11:00:00Z/P1D"),
                   U(2016, 7, 1, 11, 0, 0));
    ck_assert_time(start_of("R/2016-07-01T11:00:00+02:00/P1D"),
                   U(2016, 7, 1, 9, 0, 0));
    ck_assert_time(start_of("R/2016-07-01T11:00:00-05:30/P1D"),
                   U(2016, 7, 1, 16, 30, 0));
    ck_assert_time(start_of("R/2016-07-01T11:00+0200/P1D"),
                   U(2016, 7, 1, 9, 0, 0));
    ck_assert_time(start_of("R/2016-07-01T11:00:00+02/P1D"),
                   U(2016, 7, 1, 9, 0, 0));
    ck_assert_time(start_of("R/2016-07-01TZ/P1D"), U(2016, 7, 1, 0, 0, 0));
    ck_assert_time(start_of("R/2016-07-01T11:00:00.5Z/P1D"),
                   U(2016, 7, 1, 11, 0, 0) + 500);
    ck_assert_time(start_of("R/2016-07-01T11:00:00,25Z/P1D"),
                   U(2016, 7, 1, 11, 0, 0) + 250);
    ck_assert_time(start_of("R/2016-07-01T11:00:00.123456789Z/P1D"),
                   U(2016, 7, 1, 11, 0, 0) + 123);
    ck_assert_time(start_of("R/2016-07-01T10.5Z/P1D"),
                   U(2016, 7, 1, 10, 30, 0));
    ck_assert_time(start_of("R/2016-07-01T10:30.5Z/P1D"),
                   U(2016, 7, 1, 10, 30, 30));
    ck_assert_time(start_of("R/1970-01-01T00:00:01Z/P1D"), 1000);
    ck_assert_time(start_of("R/2016-02-29T00:00:00Z/P1D"),
                   U(2016, 2, 29, 0, 0, 0));
}
END_TEST

static int is_zero(const char *period)
{
    char s[64];
    struct chr_iso i;

    snprintf(s, sizeof s, "R//%s", period);
    i = parse_ok(s, 2000, NULL);
    return chr_period_zero(&i.period);
}

START_TEST(test_iso_periods)
{
    period_is("R//P1D", 0, 0, 0, 1, 0, 0, 0);
    period_is("R//P1DT2H", 0, 0, 0, 1, 2, 0, 0);
    period_is("R//PT30S", 0, 0, 0, 0, 0, 0, 30000);
    period_is("R//P1M", 0, 1, 0, 0, 0, 0, 0);
    period_is("R//PT1M", 0, 0, 0, 0, 0, 1, 0);
    period_is("R//P1Y", 1, 0, 0, 0, 0, 0, 0);
    period_is("R//P2W", 0, 0, 2, 0, 0, 0, 0);
    period_is("R//P", 0, 0, 0, 0, 0, 0, 0);
    period_is("R//PT0S", 0, 0, 0, 0, 0, 0, 0);
    period_is("R//PT1.5S", 0, 0, 0, 0, 0, 0, 1500);
    period_is("R//PT0,25S", 0, 0, 0, 0, 0, 0, 250);
    period_is("R//P1Y2M3W4DT5H6M7.008S", 1, 2, 3, 4, 5, 6, 7008);
    period_is("R//PT2147483647H", 0, 0, 0, 0, INT32_MAX, 0, 0);
    ck_assert(is_zero("P"));
    ck_assert(is_zero("PT0S"));
    ck_assert(is_zero("P0Y0D"));
    ck_assert(!is_zero("PT1S"));
    ck_assert(!is_zero("PT0.001S"));
    ck_assert(!is_zero("P1W"));
}
END_TEST

START_TEST(test_iso_refusals)
{
    static const struct {
        const char *s, *why;
    } cases[] = {
        {"", "Cannot parse schedule: expected R[n]/[start]/P[period]"},
        {"x", "Cannot parse schedule: expected R[n]/[start]/P[period]"},
        {"r//P1D", "Cannot parse schedule: expected R[n]/[start]/P[period]"},
        {"R", "Cannot parse schedule: bad repeat count after R"},
        {"R/", "Cannot parse schedule: expected R[n]/[start]/P[period]"},
        {"R//", "Cannot parse schedule: expected R[n]/[start]/P[period]"},
        {"R/P1D", "Cannot parse schedule: expected R[n]/[start]/P[period]"},
        {"Rx//P1D", "Cannot parse schedule: bad repeat count after R"},
        {"R-1//P1D", "Cannot parse schedule: bad repeat count after R"},
        {"R99999999999999999999//P1D",
         "Cannot parse schedule: bad repeat count after R"},
        {"R//1D", "Cannot parse schedule: expected R[n]/[start]/P[period]"},
        {"R/2014-01-01T00:00:00Z/P1D/x",
         "Cannot parse schedule: expected R[n]/[start]/P[period]"},
        {"R/now/P1D", "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-13-01/P1D",
         "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-02-29/P1D",
         "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-00-10/P1D",
         "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-366/P1D", "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2015-W54/P1D", "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-W53/P1D", "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/14-01-01/P1D", "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-1-01/P1D", "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-01-01T24:00:00Z/P1D",
         "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-01-01T10:60Z/P1D",
         "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-01-01T10:00:60Z/P1D",
         "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-01-01T10:00:00+25:00/P1D",
         "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-01-01T10:00:00+02:/P1D",
         "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-01-01T10:00:00.Z/P1D",
         "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-01-01T10:00:00.1234567891Z/P1D",
         "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-01-01 10:00:00Z/P1D",
         "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/2014-01-01T10:00:00ZZ/P1D",
         "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R/T10:00/P1D", "Cannot parse schedule: bad start time (ISO 8601)"},
        {"R//PT", "Cannot parse schedule: bad period (ISO 8601, "
                  "PnYnMnWnDTnHnMnS)"},
        {"R//P1DT", "Cannot parse schedule: bad period (ISO 8601, "
                    "PnYnMnWnDTnHnMnS)"},
        {"R//P1H", "Cannot parse schedule: bad period (ISO 8601, "
                   "PnYnMnWnDTnHnMnS)"},
        {"R//PT1D", "Cannot parse schedule: bad period (ISO 8601, "
                    "PnYnMnWnDTnHnMnS)"},
        {"R//P1D1Y", "Cannot parse schedule: bad period (ISO 8601, "
                     "PnYnMnWnDTnHnMnS)"},
        {"R//P1D1D", "Cannot parse schedule: bad period (ISO 8601, "
                     "PnYnMnWnDTnHnMnS)"},
        {"R//P1.5D", "Cannot parse schedule: bad period (ISO 8601, "
                     "PnYnMnWnDTnHnMnS)"},
        {"R//PT1.5M", "Cannot parse schedule: bad period (ISO 8601, "
                      "PnYnMnWnDTnHnMnS)"},
        {"R//PT1.S", "Cannot parse schedule: bad period (ISO 8601, "
                     "PnYnMnWnDTnHnMnS)"},
        {"R//PT.5S", "Cannot parse schedule: bad period (ISO 8601, "
                     "PnYnMnWnDTnHnMnS)"},
        {"R//P-1D", "Cannot parse schedule: bad period (ISO 8601, "
                    "PnYnMnWnDTnHnMnS)"},
        {"R//P1X", "Cannot parse schedule: bad period (ISO 8601, "
                   "PnYnMnWnDTnHnMnS)"},
        {"R//P2147483648D", "Cannot parse schedule: bad period (ISO 8601, "
                            "PnYnMnWnDTnHnMnS)"},
        {"R//P1D ", "Cannot parse schedule: bad period (ISO 8601, "
                    "PnYnMnWnDTnHnMnS)"},
        {"R//p1d", "Cannot parse schedule: expected R[n]/[start]/P[period]"},
        {"R/1970-01-01T00:00:00Z/P1D",
         "Cannot parse schedule: the start must be at or after "
         "1970-01-01T00:00:01Z"},
        {"R/1970-01-01T00:00:00.999Z/P1D",
         "Cannot parse schedule: the start must be at or after "
         "1970-01-01T00:00:01Z"},
        {"R/1969-12-31T23:59:59Z/P1D",
         "Cannot parse schedule: the start must be at or after "
         "1970-01-01T00:00:01Z"},
        {"R/1970-01-01T01:00:00+02:00/P1D",
         "Cannot parse schedule: the start must be at or after "
         "1970-01-01T00:00:01Z"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct chr_iso iso;
        const char *why = NULL;
        int rc =
            chr_iso_parse(cases[i].s, U(2024, 1, 1, 0, 0, 0), NULL, &iso, &why);

        ck_assert_msg(rc == -1, "'%s' accepted", cases[i].s);
        ck_assert_msg(why != NULL && strcmp(why, cases[i].why) == 0, "'%s': %s",
                      cases[i].s, why ? why : "(null)");
        ck_assert_int_eq(chr_iso_parse(cases[i].s, 0, NULL, &iso, NULL), -1);
    }
    {
        /* out is left alone on failure; now at the very start of time */
        struct chr_iso iso = {7, 8, {0}};

        ck_assert_int_eq(chr_iso_parse("R5//P1X", 0, NULL, &iso, NULL), -1);
        ck_assert_int_eq(chr_iso_parse("R5//P1D", INT64_MIN, NULL, &iso, NULL),
                         -1);
        ck_assert(iso.repeat == 7 && iso.start == 8 && iso.period.days == 0);
    }
    {
        /* the start is checked after the zone moved it */
        struct chr_tz *be = load("Europe/Berlin");
        struct chr_iso iso;

        ck_assert_int_eq(
            chr_iso_parse("R/1970-01-01T01:00:00Z/P1D", 0, be, &iso, NULL), -1);
        ck_assert_int_eq(
            chr_iso_parse("R/1970-01-01T01:00:01Z/P1D", 0, be, &iso, NULL), 0);
        ck_assert_time(iso.start, 1000);
        chr_tz_free(be);
    }
}
END_TEST

static void format_is(const char *in, const char *want)
{
    char out[CHR_ISO_MAX];
    struct chr_iso a = parse_ok(in, U(2024, 1, 1, 0, 0, 0), NULL), b;

    chr_iso_format(&a, out, sizeof out);
    ck_assert_str_eq(out, want);
    b = parse_ok(out, 0, NULL);
    ck_assert_int_eq(a.repeat, b.repeat);
    ck_assert_time(a.start, b.start);
    ck_assert_mem_eq(&a.period, &b.period, sizeof a.period);
}

START_TEST(test_iso_format)
{
    char out[CHR_ISO_MAX], small[12];
    struct chr_iso big;

    format_is("R/2014-03-08T20:00:00.000Z/PT2H",
              "R/2014-03-08T20:00:00.000Z/PT2H");
    format_is("R5/2016-07-01T11:00:00+02:00/P1DT2H",
              "R5/2016-07-01T09:00:00.000Z/P1DT2H");
    format_is("R0/2016-07-01/P1M", "R0/2016-07-01T00:00:00.000Z/P1M");
    format_is("R1//P", "R1/2023-12-31T23:59:59.000Z/PT0S");
    format_is("R//PT0S", "R/2023-12-31T23:59:59.000Z/PT0S");
    format_is("R/2016-07-01T11:00:00.25Z/PT1.5S",
              "R/2016-07-01T11:00:00.250Z/PT1.500S");
    format_is("R/2016-07-01/P1Y2M3W4DT5H6M7.008S",
              "R/2016-07-01T00:00:00.000Z/P1Y2M3W4DT5H6M7.008S");
    format_is("R/2016-07-01/PT1M", "R/2016-07-01T00:00:00.000Z/PT1M");
    format_is("R/2016-07-01/PT30S", "R/2016-07-01T00:00:00.000Z/PT30S");

    /* the longest schedule the parser lets through fits CHR_ISO_MAX */
    big = parse_ok("R9223372036854775807/9999-12-31T23:59:59.999Z/"
                   "P2147483647Y2147483647M2147483647W2147483647DT"
                   "2147483647H2147483647M2147483647.999S",
                   0, NULL);
    chr_iso_format(&big, out, sizeof out);
    ck_assert_str_eq(out, "R9223372036854775807/9999-12-31T23:59:59.999Z/"
                          "P2147483647Y2147483647M2147483647W2147483647DT"
                          "2147483647H2147483647M2147483647.999S");
    chr_iso_format(&big, small, sizeof small);
    ck_assert_str_eq(small, "R9223372036");

    chr_time_format(0, out);
    ck_assert_str_eq(out, "1970-01-01T00:00:00.000Z");
    chr_time_format(-1, out);
    ck_assert_str_eq(out, "1969-12-31T23:59:59.999Z");
    chr_time_format(U(2014, 3, 8, 16, 57, 17) + 507, out);
    ck_assert_str_eq(out, "2014-03-08T16:57:17.507Z");
}
END_TEST

/* scheduleTimeZone: the start's wall clock is kept, its offset dropped
 * (Joda's withZoneRetainFields). */
START_TEST(test_iso_zone_retains_fields)
{
    struct chr_tz *la = load("America/Los_Angeles");
    struct chr_tz *ny = load("America/New_York");
    struct chr_tz *be = load("Europe/Berlin");
    struct chr_tz *ka = load("Asia/Kathmandu");

    /* the documentation's example: 18:32 Pacific */
    ck_assert_time(parse_ok("R/2014-10-10T18:32:00Z/PT60M", 0, la).start,
                   U(2014, 10, 11, 1, 32, 0));
    ck_assert_time(parse_ok("R/2014-10-10T18:32:00+05:00/PT60M", 0, la).start,
                   U(2014, 10, 11, 1, 32, 0));
    ck_assert_time(parse_ok("R/2014-10-10T18:32:00/PT60M", 0, la).start,
                   U(2014, 10, 11, 1, 32, 0));
    ck_assert_time(parse_ok("R/2016-07-01/P1D", 0, be).start,
                   U(2016, 6, 30, 22, 0, 0));
    ck_assert_time(parse_ok("R/2024-06-01T09:00:00.250Z/P1D", 0, ka).start,
                   U(2024, 6, 1, 3, 15, 0) + 250);
    /* a start in the gap runs at the gap's end; in a fold, at the first */
    ck_assert_time(parse_ok("R/2024-03-10T02:30:00/P1D", 0, ny).start,
                   U(2024, 3, 10, 7, 0, 0));
    ck_assert_time(parse_ok("R/2024-11-03T01:30:00Z/P1D", 0, ny).start,
                   U(2024, 11, 3, 5, 30, 0));
    chr_tz_free(la);
    chr_tz_free(ny);
    chr_tz_free(be);
    chr_tz_free(ka);
}
END_TEST

/* ---- period arithmetic ---- */

static struct chr_period per(const char *p)
{
    char s[64];

    snprintf(s, sizeof s, "R//%s", p);
    return parse_ok(s, U(2024, 1, 1, 0, 0, 0), NULL).period;
}

static int64_t add(const char *p, const struct chr_tz *z, int64_t t)
{
    struct chr_period pp = per(p);

    return chr_period_add(&pp, z, t);
}

START_TEST(test_period_dst)
{
    struct chr_tz *ny = load("America/New_York");
    struct chr_tz *lh = load("Australia/Lord_Howe");
    struct chr_period d1 = per("P1D");
    int64_t t;

    /* spring forward: P1D keeps 12:00 (23 h later), PT24H does not */
    ck_assert_time(add("P1D", ny, U(2024, 3, 9, 17, 0, 0)),
                   U(2024, 3, 10, 16, 0, 0));
    ck_assert_time(add("PT24H", ny, U(2024, 3, 9, 17, 0, 0)),
                   U(2024, 3, 10, 17, 0, 0));
    ck_assert_time(add("P1D", NULL, U(2024, 3, 9, 17, 0, 0)),
                   U(2024, 3, 10, 17, 0, 0));
    /* fall back: 25 h */
    ck_assert_time(add("P1D", ny, U(2024, 11, 2, 16, 0, 0)),
                   U(2024, 11, 3, 17, 0, 0));
    ck_assert_time(add("P1W", ny, U(2024, 10, 30, 16, 0, 0)),
                   U(2024, 11, 6, 17, 0, 0));
    /* 02:30 the day before the gap: that day's 02:30 does not exist,
     * it runs at 03:00; from the start, the next day is 02:30 again */
    t = add("P1D", ny, U(2024, 3, 9, 7, 30, 0));
    ck_assert_time(t, U(2024, 3, 10, 7, 0, 0));
    ck_assert_time(chr_period_add_n(&d1, ny, U(2024, 3, 9, 7, 30, 0), 2),
                   U(2024, 3, 11, 6, 30, 0));
    /* one step at a time drifts to 03:00 (documented; Chronos does) */
    ck_assert_time(add("P1D", ny, t), U(2024, 3, 11, 7, 0, 0));
    /* 01:30 the day before the fold: the first 01:30, never twice */
    t = add("P1D", ny, U(2024, 11, 2, 5, 30, 0));
    ck_assert_time(t, U(2024, 11, 3, 5, 30, 0));
    ck_assert_time(add("P1D", ny, t), U(2024, 11, 4, 6, 30, 0));
    /* PT1H is absolute across both */
    ck_assert_time(add("PT1H", ny, U(2024, 3, 10, 6, 30, 0)),
                   U(2024, 3, 10, 7, 30, 0));
    ck_assert_time(add("PT1H", ny, U(2024, 11, 3, 5, 30, 0)),
                   U(2024, 11, 3, 6, 30, 0));
    /* from the second 01:30: an hour later, not back to the first */
    ck_assert_time(add("PT1H", ny, U(2024, 11, 3, 6, 30, 0)),
                   U(2024, 11, 3, 7, 30, 0));
    ck_assert_time(add("PT90M", ny, U(2024, 11, 3, 5, 0, 0)),
                   U(2024, 11, 3, 6, 30, 0));
    /* P1DT1H: a wall-clock day, then an absolute hour */
    ck_assert_time(add("P1DT1H", ny, U(2024, 3, 9, 17, 0, 0)),
                   U(2024, 3, 10, 17, 0, 0));
    /* Lord Howe's 30 minutes: noon to noon is 23.5 h */
    ck_assert_time(add("P1D", lh, U(2024, 10, 5, 1, 30, 0)),
                   U(2024, 10, 6, 1, 0, 0));
    ck_assert_time(add("P1D", lh, U(2024, 4, 6, 1, 0, 0)),
                   U(2024, 4, 7, 1, 30, 0));
    chr_tz_free(ny);
    chr_tz_free(lh);
}
END_TEST

START_TEST(test_period_month_ends)
{
    struct chr_tz *be = load("Europe/Berlin");
    struct chr_period m1 = per("P1M"), y1 = per("P1Y");

    ck_assert_time(add("P1M", NULL, U(2023, 1, 31, 10, 0, 0)),
                   U(2023, 2, 28, 10, 0, 0));
    ck_assert_time(add("P1M", NULL, U(2024, 1, 31, 10, 0, 0)),
                   U(2024, 2, 29, 10, 0, 0));
    ck_assert_time(chr_period_add_n(&m1, NULL, U(2024, 1, 31, 10, 0, 0), 2),
                   U(2024, 3, 31, 10, 0, 0));
    ck_assert_time(chr_period_add_n(&m1, NULL, U(2024, 1, 31, 10, 0, 0), 3),
                   U(2024, 4, 30, 10, 0, 0));
    ck_assert_time(add("P1M", NULL, U(2024, 3, 31, 0, 0, 0)),
                   U(2024, 4, 30, 0, 0, 0));
    ck_assert_time(add("P1M", NULL, U(2024, 12, 31, 0, 0, 0)),
                   U(2025, 1, 31, 0, 0, 0));
    ck_assert_time(add("P13M", NULL, U(2024, 1, 31, 0, 0, 0)),
                   U(2025, 2, 28, 0, 0, 0));
    ck_assert_time(add("P1Y", NULL, U(2024, 2, 29, 8, 0, 0)),
                   U(2025, 2, 28, 8, 0, 0));
    ck_assert_time(chr_period_add_n(&y1, NULL, U(2024, 2, 29, 8, 0, 0), 4),
                   U(2028, 2, 29, 8, 0, 0));
    ck_assert_time(add("P4Y", NULL, U(2096, 2, 29, 8, 0, 0)),
                   U(2100, 2, 28, 8, 0, 0));
    /* Joda adds years, then months, each clamping */
    ck_assert_time(add("P1Y1M", NULL, U(2024, 2, 29, 0, 0, 0)),
                   U(2025, 3, 28, 0, 0, 0));
    ck_assert_time(add("P1M1D", NULL, U(2024, 1, 31, 0, 0, 0)),
                   U(2024, 3, 1, 0, 0, 0));
    /* in a zone: month end at local midnight */
    ck_assert_time(add("P1M", be, U(2024, 1, 30, 23, 0, 0)),
                   U(2024, 2, 28, 23, 0, 0));
    ck_assert_time(add("P1M", be, U(2024, 2, 29, 23, 0, 0)),
                   U(2024, 3, 31, 22, 0, 0)); /* Mar 31 is CEST */
    /* zero, n = 0, saturation */
    ck_assert_time(add("P", be, 12345), 12345);
    ck_assert_time(add("PT0S", NULL, 12345), 12345);
    ck_assert_time(chr_period_add_n(&m1, NULL, 12345, 0), 12345);
    ck_assert_time(add("P999999999Y", NULL, 0), INT64_MAX);
    ck_assert_time(add("PT2147483647H", NULL, INT64_MAX - 1000), INT64_MAX);
    ck_assert_time(chr_period_add_n(&m1, NULL, 0, INT64_MAX), INT64_MAX);
    chr_tz_free(be);
}
END_TEST

/* ---- cron ---- */

static struct chr_cron *cron(const char *s)
{
    const char *why = NULL;
    struct chr_cron *c = chr_cron_parse(s, &why);

    ck_assert_msg(c != NULL, "'%s': %s", s, why ? why : "?");
    return c;
}

/* Iterating next() from `from` gives exactly the n instants in want. */
static void seq(const char *expr, const struct chr_tz *z, int64_t from,
                const int64_t *want, int n)
{
    struct chr_cron *c = cron(expr);
    int64_t t = from;

    for (int i = 0; i < n; i++) {
        int64_t r = chr_cron_next(c, z, t);

        ck_assert_msg(r == want[i], "'%s' in %s after %s: got %s, want %s",
                      expr, chr_tz_name(z), fmt(t), fmt(r), fmt(want[i]));
        t = r;
    }
    chr_cron_free(c);
}

#define SEQ(expr, z, from, ...)                                                \
    do {                                                                       \
        const int64_t w_[] = {__VA_ARGS__};                                    \
        seq(expr, z, from, w_, (int)(sizeof w_ / sizeof w_[0]));               \
    } while (0)

START_TEST(test_cron_syntax)
{
    int64_t jan1 = U(2024, 1, 1, 0, 0, 0); /* a Monday */

    SEQ("* * * * *", NULL, jan1, jan1 + MIN_MS, jan1 + 2 * MIN_MS);
    SEQ("* * * * *", NULL, jan1 + 1, jan1 + MIN_MS);
    SEQ("*/15 * * * *", NULL, jan1, jan1 + 15 * MIN_MS, jan1 + 30 * MIN_MS,
        jan1 + 45 * MIN_MS, jan1 + HOUR_MS);
    SEQ("5/20 * * * *", NULL, jan1, jan1 + 5 * MIN_MS, jan1 + 25 * MIN_MS,
        jan1 + 45 * MIN_MS, jan1 + HOUR_MS + 5 * MIN_MS);
    SEQ("1-30/10 3 * * *", NULL, jan1, U(2024, 1, 1, 3, 1, 0),
        U(2024, 1, 1, 3, 11, 0), U(2024, 1, 1, 3, 21, 0),
        U(2024, 1, 2, 3, 1, 0));
    SEQ("0,30 9-10 * * *", NULL, jan1, U(2024, 1, 1, 9, 0, 0),
        U(2024, 1, 1, 9, 30, 0), U(2024, 1, 1, 10, 0, 0),
        U(2024, 1, 1, 10, 30, 0), U(2024, 1, 2, 9, 0, 0));
    SEQ("59 23 31 12 *", NULL, jan1, U(2024, 12, 31, 23, 59, 0),
        U(2025, 12, 31, 23, 59, 0));
    /* names, any case, in ranges and lists */
    SEQ("0 12 1 JAN,jul *", NULL, jan1, U(2024, 1, 1, 12, 0, 0),
        U(2024, 7, 1, 12, 0, 0), U(2025, 1, 1, 12, 0, 0));
    SEQ("0 0 1 Feb-Apr *", NULL, jan1, U(2024, 2, 1, 0, 0, 0),
        U(2024, 3, 1, 0, 0, 0), U(2024, 4, 1, 0, 0, 0), U(2025, 2, 1, 0, 0, 0));
    SEQ("0 0 * * mon-FRI", NULL, U(2024, 1, 5, 12, 0, 0),
        U(2024, 1, 8, 0, 0, 0), U(2024, 1, 9, 0, 0, 0));
    SEQ("0 0 * * SAT,sun", NULL, jan1, U(2024, 1, 6, 0, 0, 0),
        U(2024, 1, 7, 0, 0, 0), U(2024, 1, 13, 0, 0, 0));
    SEQ("0 0 1 jan/6 *", NULL, jan1, U(2024, 7, 1, 0, 0, 0),
        U(2025, 1, 1, 0, 0, 0));
    /* Sunday is 0 and 7 */
    SEQ("0 0 * * 0", NULL, jan1, U(2024, 1, 7, 0, 0, 0));
    SEQ("0 0 * * 7", NULL, jan1, U(2024, 1, 7, 0, 0, 0));
    SEQ("0 0 * * 5-7", NULL, jan1, U(2024, 1, 5, 0, 0, 0),
        U(2024, 1, 6, 0, 0, 0), U(2024, 1, 7, 0, 0, 0),
        U(2024, 1, 12, 0, 0, 0));
    SEQ("0 0 * * */7", NULL, jan1, U(2024, 1, 7, 0, 0, 0));
    /* macros */
    SEQ("@yearly", NULL, U(2024, 6, 1, 0, 0, 0), U(2025, 1, 1, 0, 0, 0));
    SEQ("@annually", NULL, U(2024, 6, 1, 0, 0, 0), U(2025, 1, 1, 0, 0, 0));
    SEQ("@monthly", NULL, U(2024, 6, 1, 0, 0, 0), U(2024, 7, 1, 0, 0, 0));
    SEQ("@weekly", NULL, jan1, U(2024, 1, 7, 0, 0, 0));
    SEQ("@daily", NULL, jan1, U(2024, 1, 2, 0, 0, 0));
    SEQ("  @MIDNIGHT ", NULL, jan1, U(2024, 1, 2, 0, 0, 0));
    SEQ("@hourly", NULL, jan1 + 1, jan1 + HOUR_MS);
    SEQ(" \t0  0\t* *   *  ", NULL, jan1, U(2024, 1, 2, 0, 0, 0));
}
END_TEST

/* Vixie: both day fields restricted are ORed; one starting with '*'
 * (even a step over '*') makes it an AND. */
START_TEST(test_cron_or_rule)
{
    SEQ("0 0 13 * 5", NULL, U(2024, 9, 1, 0, 0, 0), U(2024, 9, 6, 0, 0, 0),
        U(2024, 9, 13, 0, 0, 0), U(2024, 9, 20, 0, 0, 0),
        U(2024, 9, 27, 0, 0, 0), U(2024, 10, 4, 0, 0, 0),
        U(2024, 10, 11, 0, 0, 0), U(2024, 10, 13, 0, 0, 0),
        U(2024, 10, 18, 0, 0, 0));
    /* odd days that are Mondays */
    SEQ("0 0 */2 * 1", NULL, U(2023, 12, 31, 0, 0, 0), U(2024, 1, 1, 0, 0, 0),
        U(2024, 1, 15, 0, 0, 0), U(2024, 1, 29, 0, 0, 0),
        U(2024, 2, 5, 0, 0, 0), U(2024, 2, 19, 0, 0, 0));
    /* the 1st that is a Sunday */
    SEQ("0 0 1 * */7", NULL, U(2024, 1, 1, 0, 0, 0), U(2024, 9, 1, 0, 0, 0),
        U(2024, 12, 1, 0, 0, 0));
    /* Feb 30 never, but Mondays in February do */
    SEQ("0 0 30 2 1", NULL, U(2024, 1, 1, 0, 0, 0), U(2024, 2, 5, 0, 0, 0));
}
END_TEST

START_TEST(test_cron_refusals)
{
    static const struct {
        const char *s, *why;
    } cases[] = {
        {"0 0 30 2 *", "cron: the day-of-month never occurs in the months "
                       "given (as 30 2 or 31 4)"},
        {"0 0 31 4 *", "cron: the day-of-month never occurs in the months "
                       "given (as 30 2 or 31 4)"},
        {"0 0 31 2,4,6,9,11 *", "cron: the day-of-month never occurs in the "
                                "months given (as 30 2 or 31 4)"},
        {"0 0 30,31 feb *", "cron: the day-of-month never occurs in the "
                            "months given (as 30 2 or 31 4)"},
        {"0 0 30 2 */7", "cron: the day-of-month never occurs in the months "
                         "given (as 30 2 or 31 4)"},
        {"", "cron: expected 5 fields: minute hour day-of-month month "
             "day-of-week"},
        {"   ", "cron: expected 5 fields: minute hour day-of-month month "
                "day-of-week"},
        {"* * * *", "cron: expected 5 fields: minute hour day-of-month month "
                    "day-of-week"},
        {"* * * * * *", "cron: expected 5 fields: minute hour day-of-month "
                        "month day-of-week"},
        {"@daily *", "cron: expected 5 fields: minute hour day-of-month month "
                     "day-of-week"},
        {"@reboot", "cron: @reboot is not supported"},
        {"@often", "cron: unknown macro (@yearly, @annually, @monthly, "
                   "@weekly, @daily, @midnight or @hourly)"},
        {"@", "cron: unknown macro (@yearly, @annually, @monthly, @weekly, "
              "@daily, @midnight or @hourly)"},
        {"60 * * * *", "cron: minute: value out of range 0-59"},
        {"0001 * * * *", "cron: minute: value out of range 0-59"},
        {"* 24 * * *", "cron: hour: value out of range 0-23"},
        {"* * 0 * *", "cron: day-of-month: value out of range 1-31"},
        {"* * 32 * *", "cron: day-of-month: value out of range 1-31"},
        {"* * * 0 *", "cron: month: value out of range 1-12 or JAN-DEC"},
        {"* * * 13 *", "cron: month: value out of range 1-12 or JAN-DEC"},
        {"* * * * 8", "cron: day-of-week: value out of range 0-7 or SUN-SAT"},
        {"*/0 * * * *", "cron: minute: a step must be a number from 1 to the "
                        "field's size"},
        {"*/61 * * * *", "cron: minute: a step must be a number from 1 to "
                         "the field's size"},
        {"1/ * * * *", "cron: minute: a step must be a number from 1 to the "
                       "field's size"},
        {"1/x * * * *", "cron: minute: a step must be a number from 1 to the "
                        "field's size"},
        {"1/2/3 * * * *", "cron: minute: expected a number, a name, * or a "
                          "list of them"},
        {"5-1 * * * *", "cron: minute: a range's start is after its end"},
        {"* * * * FRI-MON", "cron: day-of-week: a range's start is after its "
                            "end"},
        {"a * * * *", "cron: minute: expected a number, a name, * or a list "
                      "of them"},
        {"MON * * * *", "cron: minute: expected a number, a name, * or a "
                        "list of them"},
        {"1,,2 * * * *", "cron: minute: expected a number, a name, * or a "
                         "list of them"},
        {"1, * * * *", "cron: minute: expected a number, a name, * or a list "
                       "of them"},
        {",1 * * * *", "cron: minute: expected a number, a name, * or a list "
                       "of them"},
        {"*-5 * * * *", "cron: minute: expected a number, a name, * or a "
                        "list of them"},
        {"1- * * * *", "cron: minute: expected a number, a name, * or a list "
                       "of them"},
        {"-1 * * * *", "cron: minute: expected a number, a name, * or a list "
                       "of them"},
        {"? * * * *", "cron: minute: expected a number, a name, * or a list "
                      "of them"},
        {"* * ? * *", "cron: day-of-month: expected a number, a name, * or a "
                      "list of them"},
        {"* * L * *", "cron: day-of-month: expected a number, a name, * or a "
                      "list of them"},
        {"* * * FOO *", "cron: month: expected a number, a name, * or a list "
                        "of them"},
        {"* * * JANUARY *", "cron: month: expected a number, a name, * or a "
                            "list of them"},
        {"* * * * MONDAY", "cron: day-of-week: expected a number, a name, * "
                           "or a list of them"},
        {"* * * * 1#2", "cron: day-of-week: expected a number, a name, * or "
                        "a list of them"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = NULL;
        struct chr_cron *c = chr_cron_parse(cases[i].s, &why);

        ck_assert_msg(c == NULL, "'%s' accepted", cases[i].s);
        ck_assert_msg(why != NULL && strcmp(why, cases[i].why) == 0, "'%s': %s",
                      cases[i].s, why ? why : "(null)");
        ck_assert_ptr_null(chr_cron_parse(cases[i].s, NULL));
    }
    ck_assert_ptr_null(chr_cron_parse(NULL, NULL));
}
END_TEST

START_TEST(test_cron_calendar)
{
    struct chr_cron *c;

    /* Feb 29: the next leap year; 2100 is not one */
    SEQ("0 0 29 2 *", NULL, U(2024, 3, 1, 0, 0, 0), U(2028, 2, 29, 0, 0, 0),
        U(2032, 2, 29, 0, 0, 0));
    SEQ("0 0 29 2 *", NULL, U(2096, 3, 1, 0, 0, 0), U(2104, 2, 29, 0, 0, 0));
    /* Feb 29 that is a Sunday (an AND: the day-of-week field starts
     * with '*'): 2032 */
    SEQ("0 0 29 2 */7", NULL, U(2024, 3, 1, 0, 0, 0), U(2032, 2, 29, 0, 0, 0));
    /* month ends: no 31st in Feb, Apr, Jun, Sep, Nov */
    SEQ("0 0 31 * *", NULL, U(2024, 1, 31, 0, 0, 0), U(2024, 3, 31, 0, 0, 0),
        U(2024, 5, 31, 0, 0, 0), U(2024, 7, 31, 0, 0, 0),
        U(2024, 8, 31, 0, 0, 0), U(2024, 10, 31, 0, 0, 0));
    SEQ("30 23 30 * *", NULL, U(2024, 1, 31, 0, 0, 0),
        U(2024, 3, 30, 23, 30, 0));
    SEQ("0 0 28-31 2 *", NULL, U(2023, 2, 27, 0, 0, 0), U(2023, 2, 28, 0, 0, 0),
        U(2024, 2, 28, 0, 0, 0), U(2024, 2, 29, 0, 0, 0),
        U(2025, 2, 28, 0, 0, 0));
    /* before 1970, and the ends of the range */
    SEQ("0 0 1 1 *", NULL, U(1960, 6, 1, 0, 0, 0), U(1961, 1, 1, 0, 0, 0));
    c = cron("0 0 1 1 *");
    ck_assert_time(chr_cron_next(c, NULL, INT64_MAX), -1);
    ck_assert_time(chr_cron_next(c, NULL, INT64_MIN), -1);
    ck_assert_time(chr_cron_next(c, NULL, U(9999, 6, 1, 0, 0, 0)),
                   U(10000, 1, 1, 0, 0, 0));
    ck_assert_time(chr_cron_next(c, NULL, U(10000, 1, 1, 0, 0, 0)), -1);
    chr_cron_free(c);
}
END_TEST

/* The DST policy for fixed-time jobs in the four zones: a time in a gap
 * runs once at the gap's end, a time in a fold once at its first
 * occurrence; next() is always after its argument. */
START_TEST(test_cron_dst_fixed)
{
    struct chr_tz *ny = load("America/New_York");
    struct chr_tz *be = load("Europe/Berlin");
    struct chr_tz *lh = load("Australia/Lord_Howe");
    struct chr_tz *ka = load("Asia/Kathmandu");

    /* New York: 02:30 on 2024-03-10 does not exist: 03:00 EDT */
    SEQ("30 2 * * *", ny, U(2024, 3, 9, 12, 0, 0), U(2024, 3, 10, 7, 0, 0),
        U(2024, 3, 11, 6, 30, 0));
    SEQ("30 2 * * *", ny, U(2024, 3, 10, 6, 59, 59), U(2024, 3, 10, 7, 0, 0));
    SEQ("30 2 * * *", ny, U(2024, 3, 10, 7, 0, 0), U(2024, 3, 11, 6, 30, 0));
    SEQ("0,15,30,45 2 * * *", ny, U(2024, 3, 10, 6, 0, 0),
        U(2024, 3, 10, 7, 0, 0), U(2024, 3, 11, 6, 0, 0));
    SEQ("0 3 * * *", ny, U(2024, 3, 10, 6, 0, 0), U(2024, 3, 10, 7, 0, 0),
        U(2024, 3, 11, 7, 0, 0));
    /* 01:30 on 2024-11-03 happens twice: the EDT one only */
    SEQ("30 1 * * *", ny, U(2024, 11, 2, 12, 0, 0), U(2024, 11, 3, 5, 30, 0),
        U(2024, 11, 4, 6, 30, 0));
    /* asked from inside the second pass: tomorrow */
    SEQ("30 1 * * *", ny, U(2024, 11, 3, 6, 10, 0), U(2024, 11, 4, 6, 30, 0));
    SEQ("0,30 1 * * *", ny, U(2024, 11, 3, 4, 0, 0), U(2024, 11, 3, 5, 0, 0),
        U(2024, 11, 3, 5, 30, 0), U(2024, 11, 4, 6, 0, 0));
    SEQ("0 2 * * *", ny, U(2024, 11, 3, 5, 0, 0), U(2024, 11, 3, 7, 0, 0));

    /* Berlin: gap 02:00-03:00 on 2024-03-31, fold on 2024-10-27 */
    SEQ("30 2 * * *", be, U(2024, 3, 30, 12, 0, 0), U(2024, 3, 31, 1, 0, 0),
        U(2024, 4, 1, 0, 30, 0));
    SEQ("30 2 * * *", be, U(2024, 10, 26, 12, 0, 0), U(2024, 10, 27, 0, 30, 0),
        U(2024, 10, 28, 1, 30, 0));

    /* Lord Howe: gap [02:00, 02:30) on 2024-10-06, fold [01:30, 02:00)
     * on 2024-04-07 */
    SEQ("15 2 * * *", lh, U(2024, 10, 5, 0, 0, 0), U(2024, 10, 5, 15, 30, 0),
        U(2024, 10, 6, 15, 15, 0));
    SEQ("30 2 * * *", lh, U(2024, 10, 5, 0, 0, 0), U(2024, 10, 5, 15, 30, 0),
        U(2024, 10, 6, 15, 30, 0));
    SEQ("45 1 * * *", lh, U(2024, 4, 6, 0, 0, 0), U(2024, 4, 6, 14, 45, 0),
        U(2024, 4, 7, 15, 15, 0));

    /* Kathmandu: 00:00-00:15 skipped on 1986-01-01; +05:45 since */
    SEQ("5 0 1 1 *", ka, U(1985, 6, 1, 0, 0, 0), U(1985, 12, 31, 18, 30, 0),
        U(1986, 12, 31, 18, 20, 0));
    SEQ("0 9 * * *", ka, U(2024, 6, 1, 0, 0, 0), U(2024, 6, 1, 3, 15, 0),
        U(2024, 6, 2, 3, 15, 0));

    /* far future: the footer's rules */
    SEQ("30 2 * * *", ny, U(2100, 3, 13, 12, 0, 0), U(2100, 3, 14, 7, 0, 0),
        U(2100, 3, 15, 6, 30, 0));
    chr_tz_free(ny);
    chr_tz_free(be);
    chr_tz_free(lh);
    chr_tz_free(ka);
}
END_TEST

/* Jobs with '*' leading the minute or hour field follow the clock: the
 * repeated hour runs again, the skipped one does not. */
START_TEST(test_cron_dst_wildcard)
{
    struct chr_tz *ny = load("America/New_York");
    struct chr_tz *lh = load("Australia/Lord_Howe");

    SEQ("*/30 * * * *", ny, U(2024, 11, 3, 5, 0, 0), U(2024, 11, 3, 5, 30, 0),
        U(2024, 11, 3, 6, 0, 0), U(2024, 11, 3, 6, 30, 0),
        U(2024, 11, 3, 7, 0, 0));
    SEQ("*/30 * * * *", ny, U(2024, 3, 10, 6, 0, 0), U(2024, 3, 10, 6, 30, 0),
        U(2024, 3, 10, 7, 0, 0), U(2024, 3, 10, 7, 30, 0));
    SEQ("30 * * * *", ny, U(2024, 3, 10, 6, 0, 0), U(2024, 3, 10, 6, 30, 0),
        U(2024, 3, 10, 7, 30, 0));
    SEQ("* 2 * * *", ny, U(2024, 3, 10, 0, 0, 0), U(2024, 3, 11, 6, 0, 0));
    /* Lord Howe's fold repeats half an hour */
    SEQ("45 * * * *", lh, U(2024, 4, 6, 14, 0, 0), U(2024, 4, 6, 14, 45, 0),
        U(2024, 4, 6, 15, 15, 0), U(2024, 4, 6, 16, 15, 0));
    chr_tz_free(ny);
    chr_tz_free(lh);
}
END_TEST

/* ---- fuzz: random expressions against a brute-force search ---- */

struct expr {
    char s[256];
    uint64_t bits[5];
    int star[5];
};

static unsigned fz_seed;

static int rnd(int n)
{
    return (int)(rand_r(&fz_seed) % (unsigned)n);
}

static const int lo_of[5] = {0, 0, 1, 1, 0}, hi_of[5] = {59, 23, 31, 12, 7};

/* A value of field f as a number or, sometimes, a name. */
static int put_value(char *b, size_t n, int f, int v)
{
    static const char *const mon[] = {"jan", "FEB", "Mar", "apr", "MAY", "jun",
                                      "JUL", "aug", "Sep", "oct", "NOV", "dec"};
    static const char *const dow[] = {"sun", "MON", "Tue", "wed",
                                      "THU", "fri", "SAT"};

    if (f == 3 && rnd(3) == 0)
        return snprintf(b, n, "%s", mon[v - 1]);
    if (f == 4 && v < 7 && rnd(3) == 0)
        return snprintf(b, n, "%s", dow[v]);
    return snprintf(b, n, "%d", v);
}

/* One random list element of field f, its bits added to *bits. */
static int put_elem(char *b, size_t n, int f, uint64_t *bits)
{
    int lo = lo_of[f], hi = hi_of[f], a = lo + rnd(hi - lo + 1);
    int c = hi, step = 1, k = 0, form = rnd(6);

    if (form == 0 || form == 1) { /* * or * / n */
        a = lo;
        k = snprintf(b, n, "*");
        if (form == 1) {
            step = 1 + rnd(hi - lo + 1);
            k += snprintf(b + k, n - (size_t)k, "/%d", step);
        }
    } else if (form == 2) { /* a */
        c = a;
        k = put_value(b, n, f, a);
    } else { /* a-b, a-b/n, a/n */
        c = form == 5 ? hi : a + rnd(hi - a + 1);
        k = put_value(b, n, f, a);
        if (form != 5) {
            k += snprintf(b + k, n - (size_t)k, "-");
            k += put_value(b + k, n - (size_t)k, f, c);
        }
        if (form != 3) {
            step = 1 + rnd(hi - lo + 1);
            k += snprintf(b + k, n - (size_t)k, "/%d", step);
        }
    }
    for (int v = a; v <= c; v += step)
        *bits |= UINT64_C(1) << (f == 4 && v == 7 ? 0 : v);
    return k;
}

static void gen(struct expr *e)
{
    size_t k = 0;

    memset(e, 0, sizeof *e);
    for (int f = 0; f < 5; f++) {
        int n = rnd(4) == 0 ? 2 + rnd(2) : 1;

        e->bits[f] = 0;
        for (int i = 0; i < n; i++) {
            if (i > 0)
                e->s[k++] = ',';
            if (i == 0 && rnd(3) == 0 && f > 1) {
                /* a plain * often, so that days and months fire */
                k += (size_t)snprintf(e->s + k, sizeof e->s - k, "*");
                for (int v = lo_of[f]; v <= hi_of[f]; v++)
                    e->bits[f] |= UINT64_C(1) << (f == 4 && v == 7 ? 0 : v);
                continue;
            }
            k += (size_t)put_elem(e->s + k, sizeof e->s - k, f, &e->bits[f]);
        }
        e->s[k++] = ' ';
    }
    e->s[k - 1] = '\0';
    /* star: the field's text starts with '*' (Vixie) */
    {
        const char *p = e->s;

        for (int f = 0; f < 5; f++) {
            e->star[f] = *p == '*';
            p = strchr(p, ' ');
            p = p ? p + 1 : "";
        }
    }
}

static int matches(const struct expr *e, const struct chr_local *l)
{
    int d = (int)(e->bits[2] >> l->day & 1),
        w = (int)(e->bits[4] >> l->wday & 1);

    return l->second == 0 && l->ms == 0 && (e->bits[0] >> l->minute & 1) &&
           (e->bits[1] >> l->hour & 1) && (e->bits[3] >> l->month & 1) &&
           (e->star[2] || e->star[4] ? d && w : d || w);
}

/*
 * Whether the job fires at instant u (a whole minute of local time),
 * stated from the policy rather than from the search: a fixed-time job
 * fires where local time matches, except in the second pass of a fold,
 * and at the end of a gap that skipped a matching time; a wildcard job
 * where local time matches.
 */
static int fires_in(const struct expr *e, const struct chr_tz_span *sp,
                    int64_t u)
{
    struct chr_local l;
    int wild = e->star[0] || e->star[1];
    int64_t off = (int64_t)sp->offset * 1000;

    /* local time: u's wall clock read as UTC */
    chr_tz_local(NULL, u + off, &l);
    if (matches(e, &l)) {
        if (wild || sp->start == INT64_MIN || sp->prev_offset <= sp->offset ||
            u + off >= sp->start + (int64_t)sp->prev_offset * 1000)
            return 1;
    }
    if (!wild && sp->start == u && sp->prev_offset < sp->offset) {
        for (int64_t w = u + (int64_t)sp->prev_offset * 1000; w < u + off;
             w += MIN_MS) {
            chr_tz_local(NULL, w, &l);
            if (matches(e, &l))
                return 1;
        }
    }
    return 0;
}

static int fires(const struct expr *e, const struct chr_tz *z, int64_t u)
{
    struct chr_tz_span sp;

    chr_tz_span(z, u, &sp);
    return fires_in(e, &sp, u);
}

/* A start: anywhere in 1970-2100, or within a day before a change. */
static int64_t random_start(const struct chr_tz *z)
{
    int64_t t = U(1970, 1, 1, 0, 0, 0) + (int64_t)rnd(130 * 365) * DAY_MS +
                (int64_t)rnd(86400) * 1000;
    struct chr_tz_span sp;

    if (rnd(2) == 0)
        return t + rnd(1000);
    chr_tz_span(z, t, &sp);
    if (sp.end == INT64_MAX)
        return t;
    return sp.end - (int64_t)rnd(2 * 86400) * 1000 + rnd(2) * 1000;
}

START_TEST(test_cron_fuzz)
{
    static const char *const zones[] = {"America/New_York", "Europe/Berlin",
                                        "Australia/Lord_Howe", "Asia/Kathmandu",
                                        "UTC"};
    struct chr_tz *z[5];
    int parsed = 0, checked = 0, near_change = 0;

    fz_seed = 4242;
    for (int i = 0; i < 5; i++)
        z[i] = load(zones[i]);
    for (int i = 0; i < 1000; i++) {
        struct expr e;
        const char *why = NULL;
        struct chr_cron *c;
        const struct chr_tz *zz = z[rnd(5)];
        int64_t t;

        gen(&e);
        c = chr_cron_parse(e.s, &why);
        if (c == NULL) {
            /* only impossible day/month combinations may be refused */
            ck_assert_msg(why != NULL && strstr(why, "never occurs"),
                          "'%s': %s", e.s, why ? why : "(null)");
            continue;
        }
        parsed++;
        t = random_start(zz);
        for (int k = 0; k < 8; k++) {
            int64_t r = chr_cron_next(c, zz, t), u;
            struct chr_tz_span sp;

            ck_assert_msg(r > t, "'%s' in %s: next(%s) = %s", e.s,
                          chr_tz_name(zz), fmt(t), fmt(r));
            ck_assert_msg(fires(&e, zz, r), "'%s' in %s: %s does not fire", e.s,
                          chr_tz_name(zz), fmt(r));
            {
                chr_tz_span(zz, r, &sp);
                near_change +=
                    (sp.start != INT64_MIN && r - sp.start < DAY_MS) ||
                    (sp.end != INT64_MAX && sp.end - r < DAY_MS);
            }
            /* no earlier firing within a day of t */
            chr_tz_span(zz, t, &sp);
            for (u = (t / MIN_MS + 1) * MIN_MS; u < r && u < t + DAY_MS;
                 u += MIN_MS) {
                if (u >= sp.end)
                    chr_tz_span(zz, u, &sp);
                /* not ck_assert: each one is a message to check's parent
                 * process, and this runs a million times */
                if (fires_in(&e, &sp, u))
                    ck_abort_msg("'%s' in %s after %s: %s missed before %s",
                                 e.s, chr_tz_name(zz), fmt(t), fmt(u), fmt(r));
                checked++;
            }
            t = r;
        }
        chr_cron_free(c);
    }
    ck_assert_int_gt(parsed, 900);
    ck_assert_int_gt(checked, 10000);
    /* the starts put many searches across a change of offset */
    ck_assert_int_gt(near_change, 50);
    fprintf(stderr,
            "fuzz: %d expressions, %d minutes checked, %d results "
            "within a day of a change of offset\n",
            parsed, checked, near_change);
    for (int i = 0; i < 5; i++)
        chr_tz_free(z[i]);
}
END_TEST

/* ---- the suite ---- */

static Suite *time_suite(void)
{
    Suite *s = suite_create("chr_time");
    TCase *tz = tcase_create("zones");
    TCase *files = tcase_create("files");
    TCase *iso = tcase_create("iso8601");
    TCase *cr = tcase_create("cron");

    tcase_add_test(tz, test_tz_new_york);
    tcase_add_test(tz, test_tz_berlin);
    tcase_add_test(tz, test_tz_lord_howe);
    tcase_add_test(tz, test_tz_kathmandu);
    tcase_add_test(tz, test_tz_utc);
    tcase_add_test(tz, test_tz_footer_far_future);
    tcase_add_test(tz, test_tz_extremes);
    tcase_add_test(tz, test_tz_against_glibc);
    tcase_add_test(tz, test_tz_refusals);
    tcase_add_test(tz, test_tz_links);
    suite_add_tcase(s, tz);

    tcase_add_checked_fixture(files, setup_tmp, teardown_tmp);
    tcase_add_test(files, test_tz_footer_julian);
    tcase_add_test(files, test_tz_footer_rules);
    tcase_add_test(files, test_tz_v1_and_junction);
    tcase_add_test(files, test_tz_corrupt_files);
    tcase_add_test(files, test_tz_files_beneath);
    suite_add_tcase(s, files);

    tcase_add_test(iso, test_iso_repeat_and_start);
    tcase_add_test(iso, test_iso_periods);
    tcase_add_test(iso, test_iso_refusals);
    tcase_add_test(iso, test_iso_format);
    tcase_add_test(iso, test_iso_zone_retains_fields);
    tcase_add_test(iso, test_period_dst);
    tcase_add_test(iso, test_period_month_ends);
    suite_add_tcase(s, iso);

    tcase_add_test(cr, test_cron_syntax);
    tcase_add_test(cr, test_cron_or_rule);
    tcase_add_test(cr, test_cron_refusals);
    tcase_add_test(cr, test_cron_calendar);
    tcase_add_test(cr, test_cron_dst_fixed);
    tcase_add_test(cr, test_cron_dst_wildcard);
    tcase_add_test(cr, test_cron_fuzz);
    suite_add_tcase(s, cr);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(time_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
