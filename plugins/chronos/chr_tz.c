/*
 * chr_tz.c - time zones read from the system's TZif files (RFC 8536,
 * versions 1 to 4) and their POSIX TZ footers.
 *
 * A zone is kept as the instants at which its offset from UTC changes
 * (transitions that change only the abbreviation or the DST flag are
 * dropped at load: nothing here needs them), plus the footer rule that
 * governs every instant after the last transition (Debian's "fat" files
 * stop listing transitions in 2037). Offsets are all chronos needs: it
 * never prints abbreviations.
 *
 * Loading is the only place untrusted input meets the filesystem: the
 * name comes from a job's scheduleTimeZone. It must be a plain relative
 * path; symbolic links are resolved here, one component at a time, and
 * refused when they leave the zoneinfo root; the file is opened
 * O_NOFOLLOW | O_NONBLOCK (a FIFO planted there cannot block the
 * caller), must be a regular file of at most TZ_FILE_MAX bytes, and
 * every count in it is checked against its length before use.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chr_cal.h"
#include "chr_time.h"

#define CHR_TZ_DIR "/usr/share/zoneinfo"
#define TZ_FILE_MAX (1 << 20)
#define TZ_NAME_MAX 255
#define TZ_HOPS 8
#define TZ_PATH_MAX 1024
/* RFC 8536 asks offsets to stay within (-25 h, +26 h). */
#define TZ_OFF_MAX (26 * 3600)
#define TZ_FOOTER_MAX 256
/* Transitions with no offset change skipped while looking for the next
 * real one (only a footer with all-year DST produces them, twice a
 * year). */
#define TZ_NOOP_MAX 16

#define WHY_UNKNOWN "unknown time zone"
#define WHY_NAME "invalid time zone name"
#define WHY_CORRUPT "time zone file is corrupt"
#define WHY_LEAP "time zones with leap seconds (right/...) are not supported"
#define WHY_NOMEM "out of memory"

/* One date rule of the footer: Jn (1-365, Feb 29 never counted), n
 * (0-365, counted), or Mm.w.d; `time` is local seconds after midnight,
 * -167 h to +167 h (RFC 8536's extension). */
struct tz_rule {
    char kind; /* 'J', 'N' or 'M' */
    int n, m, w, d;
    int32_t time;
};

struct chr_tz {
    char *name;
    size_t n;                 /* changes of offset */
    int64_t *at;              /* their instants, seconds UTC, ascending */
    int32_t *off;             /* the offset from at[i] on */
    int32_t off0;             /* before at[0]: time type 0 (RFC 8536 3.2) */
    int has_rule;             /* a footer governs instants after at[n - 1] */
    int has_dst;              /* ... with daylight saving time */
    int32_t std_off, dst_off; /* seconds east */
    struct tz_rule start, end;
};

/* ---- the footer: POSIX TZ strings ---- */

static int is_alpha(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* An abbreviation: 3+ letters, or <...> of letters, digits, + and -. */
static int tz_abbr(const char **pp)
{
    const char *p = *pp;
    const char *b;

    if (*p == '<') {
        for (b = ++p; is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-';)
            p++;
        if (*p != '>' || p - b < 3)
            return -1;
        *pp = p + 1;
        return 0;
    }
    for (b = p; is_alpha(*p);)
        p++;
    if (p - b < 3)
        return -1;
    *pp = p;
    return 0;
}

/* Up to 3 digits, at most max. */
static int tz_num(const char **pp, int max, int *out)
{
    const char *p = *pp;
    int v = 0, k = 0;

    while (is_digit(*p) && k < 3) {
        v = v * 10 + (*p++ - '0');
        k++;
    }
    if (k == 0 || is_digit(*p) || v > max)
        return -1;
    *pp = p;
    *out = v;
    return 0;
}

/* [+-]hh[:mm[:ss]] with hh <= max_h, in seconds. */
static int tz_hms(const char **pp, int max_h, int32_t *out)
{
    const char *p = *pp;
    int sign = 1, h, m = 0, s = 0;

    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (tz_num(&p, max_h, &h) < 0)
        return -1;
    if (*p == ':' && (p++, tz_num(&p, 59, &m) < 0))
        return -1;
    if (*p == ':' && (p++, tz_num(&p, 59, &s) < 0))
        return -1;
    *pp = p;
    *out = sign * (h * 3600 + m * 60 + s);
    return 0;
}

/* ,Jn | ,n | ,Mm.w.d, then an optional /time. */
static int tz_rule(const char **pp, struct tz_rule *r)
{
    const char *p = *pp;

    memset(r, 0, sizeof *r);
    r->time = 7200;
    if (*p++ != ',')
        return -1;
    if (*p == 'J') {
        p++;
        r->kind = 'J';
        if (tz_num(&p, 365, &r->n) < 0 || r->n < 1)
            return -1;
    } else if (*p == 'M') {
        p++;
        r->kind = 'M';
        if (tz_num(&p, 12, &r->m) < 0 || r->m < 1 || *p++ != '.' ||
            tz_num(&p, 5, &r->w) < 0 || r->w < 1 || *p++ != '.' ||
            tz_num(&p, 6, &r->d) < 0)
            return -1;
    } else {
        r->kind = 'N';
        if (tz_num(&p, 365, &r->n) < 0)
            return -1;
    }
    if (*p == '/' && (p++, tz_hms(&p, 167, &r->time) < 0))
        return -1;
    *pp = p;
    return 0;
}

/* Parses the footer s into z; "" (no rule) is valid. POSIX offsets
 * count west of UTC: "EST5EDT" is -5 h. */
static int tz_posix(const char *s, struct chr_tz *z)
{
    const char *p = s;
    int32_t v;

    if (*s == '\0')
        return 0;
    if (tz_abbr(&p) < 0 || tz_hms(&p, 24, &v) < 0)
        return -1;
    z->has_rule = 1;
    z->std_off = -v;
    z->dst_off = -v;
    if (*p == '\0')
        return 0;
    if (tz_abbr(&p) < 0)
        return -1;
    z->dst_off = z->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if (tz_hms(&p, 24, &v) < 0)
            return -1;
        z->dst_off = -v;
    }
    /* POSIX leaves a missing rule to the implementation; zic always
     * writes one, so a file without it is not one of the system's. */
    if (tz_rule(&p, &z->start) < 0 || tz_rule(&p, &z->end) < 0 || *p != '\0')
        return -1;
    z->has_dst = 1;
    return 0;
}

/* The local day (number) on which rule r falls in year y. */
static int64_t rule_day(const struct tz_rule *r, int64_t y)
{
    int64_t first;
    int64_t d;

    if (r->kind == 'J')
        return chr_cal_days(y, 1, 1) + r->n - 1 +
               (chr_cal_leap(y) && r->n >= 60);
    if (r->kind == 'N')
        return chr_cal_days(y, 1, 1) + r->n;
    first = chr_cal_days(y, r->m, 1);
    d = first + (r->d - chr_cal_wday(first) + 7) % 7 + (r->w - 1) * 7;
    while (d >= first + chr_cal_mdays(y, r->m)) /* w = 5: the last */
        d -= 7;
    return d;
}

/* The instant of rule r in year y, r's time being read in the local
 * time in effect before it (standard time for the start of DST). */
static int64_t rule_at(const struct tz_rule *r, int64_t y, int32_t before)
{
    return rule_day(r, y) * CHR_DAY_S + r->time - before;
}

static int64_t year_of(int64_t sec, int32_t off)
{
    int64_t y;
    int m, d;

    chr_cal_civil(chr_floor_div(sec + off, CHR_DAY_S), &y, &m, &d);
    return y;
}

static int32_t footer_off(const struct chr_tz *z, int64_t sec)
{
    int64_t y, s, e;

    if (!z->has_dst)
        return z->std_off;
    y = year_of(sec, z->std_off);
    s = rule_at(&z->start, y, z->std_off);
    e = rule_at(&z->end, y, z->dst_off);
    if (s < e) /* northern: DST inside the year */
        return sec >= s && sec < e ? z->dst_off : z->std_off;
    return sec >= e && sec < s ? z->std_off : z->dst_off;
}

/* The footer's transitions in the years around sec: the first after
 * sec (dir > 0) or the last at or before it (dir < 0). Three years
 * suffice: every year with DST has two. */
static int64_t footer_near(const struct chr_tz *z, int64_t sec, int dir)
{
    int64_t y0 = year_of(sec, z->std_off);
    int64_t best = dir > 0 ? INT64_MAX : INT64_MIN;

    for (int64_t y = y0 - 1; y <= y0 + 1; y++) {
        int64_t c[2] = {rule_at(&z->start, y, z->std_off),
                        rule_at(&z->end, y, z->dst_off)};

        for (int i = 0; i < 2; i++) {
            if (dir > 0 && c[i] > sec && c[i] < best)
                best = c[i];
            if (dir < 0 && c[i] <= sec && c[i] > best)
                best = c[i];
        }
    }
    return best;
}

/* ---- offsets and transitions ---- */

/* The index of the last change at or before sec; -1 when none. */
static ptrdiff_t last_at(const struct chr_tz *z, int64_t sec)
{
    size_t lo = 0, hi = z->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (z->at[mid] <= sec)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

static int in_footer(const struct chr_tz *z, int64_t sec)
{
    return z->has_rule && (z->n == 0 || sec > z->at[z->n - 1]);
}

static int32_t offset_at(const struct chr_tz *z, int64_t sec)
{
    ptrdiff_t i;

    if (in_footer(z, sec))
        return footer_off(z, sec);
    i = last_at(z, sec);
    return i < 0 ? z->off0 : z->off[i];
}

/* The first transition (real or not) after sec; INT64_MAX when none. */
static int64_t next_raw(const struct chr_tz *z, int64_t sec)
{
    if (z->n > 0 && sec < z->at[z->n - 1])
        return z->at[last_at(z, sec) + 1];
    if (z->has_dst)
        return footer_near(z, sec, 1);
    return INT64_MAX;
}

/* The last transition at or before sec; INT64_MIN when none. */
static int64_t prev_raw(const struct chr_tz *z, int64_t sec)
{
    ptrdiff_t i;

    if (in_footer(z, sec) && z->has_dst) {
        int64_t f = footer_near(z, sec, -1);

        /* The footer's dates before the table's end never happened. */
        return z->n > 0 && f < z->at[z->n - 1] ? z->at[z->n - 1] : f;
    }
    i = last_at(z, sec);
    return i < 0 ? INT64_MIN : z->at[i];
}

static int64_t sec_to_ms(int64_t s)
{
    if (s == INT64_MIN || s < INT64_MIN / 1000)
        return INT64_MIN;
    if (s == INT64_MAX || s > INT64_MAX / 1000)
        return INT64_MAX;
    return s * 1000;
}

static const struct chr_tz tz_utc = {.name = "UTC"};

void chr_tz_span(const struct chr_tz *z, int64_t t, struct chr_tz_span *out)
{
    int64_t sec = chr_floor_div(t, 1000);
    int64_t s, e;
    int32_t off;
    int k;

    if (z == NULL)
        z = &tz_utc;
    off = offset_at(z, sec);
    e = next_raw(z, sec);
    for (k = 0; k < TZ_NOOP_MAX && e != INT64_MAX && offset_at(z, e) == off;
         k++)
        e = next_raw(z, e);
    s = prev_raw(z, sec);
    for (k = 0; k < TZ_NOOP_MAX && s != INT64_MIN && offset_at(z, s - 1) == off;
         k++)
        s = prev_raw(z, s - 1);
    out->start = sec_to_ms(s);
    out->end = sec_to_ms(e);
    out->offset = off;
    out->prev_offset = s == INT64_MIN ? off : offset_at(z, s - 1);
    out->next_offset = e == INT64_MAX ? off : offset_at(z, e);
}

void chr_tz_local(const struct chr_tz *z, int64_t t, struct chr_local *out)
{
    int64_t sec = chr_floor_div(t, 1000);
    int64_t local, days, rem, y;

    if (z == NULL)
        z = &tz_utc;
    out->offset = offset_at(z, sec);
    /* not t - sec * 1000: that overflows for t near INT64_MIN */
    out->ms = (int)((t % 1000 + 1000) % 1000);
    /* sec is at most INT64_MAX / 1000: adding an offset cannot wrap. */
    local = sec + out->offset;
    days = chr_floor_div(local, CHR_DAY_S);
    rem = local - days * CHR_DAY_S;
    chr_cal_civil(days, &y, &out->month, &out->day);
    out->year = (int)y;
    out->hour = (int)(rem / 3600);
    out->minute = (int)(rem / 60 % 60);
    out->second = (int)(rem % 60);
    out->wday = chr_cal_wday(days);
}

#define TZ_YEAR_MAX 1000000

/* The wall clock l as ms on a UTC-like scale; fields carry. */
static int64_t wall_ms(const struct chr_local *l)
{
    int64_t mon0 = (int64_t)l->month - 1;
    int64_t y = (int64_t)l->year + chr_floor_div(mon0, 12);
    int m = (int)(mon0 - chr_floor_div(mon0, 12) * 12) + 1;
    int64_t days = chr_cal_days(y, m, 1) + (int64_t)l->day - 1;

    return days * CHR_DAY_MS + (int64_t)l->hour * CHR_HOUR_MS +
           (int64_t)l->minute * CHR_MIN_MS + (int64_t)l->second * 1000 + l->ms;
}

int64_t chr_tz_utc(const struct chr_tz *z, const struct chr_local *l)
{
    struct chr_tz_span sp;
    int64_t w, t;

    if (l->year > TZ_YEAR_MAX)
        return INT64_MAX;
    if (l->year < -TZ_YEAR_MAX)
        return INT64_MIN;
    w = wall_ms(l);
    /* The instant is within 26 h of the wall clock read as UTC: walk
     * the spans over that window in time order; the first that holds
     * the wall clock is the first occurrence (a fold holds it twice). */
    t = w - (int64_t)TZ_OFF_MAX * 1000;
    for (int i = 0; i < 64; i++) {
        int64_t cand;

        chr_tz_span(z, t, &sp);
        cand = w - (int64_t)sp.offset * 1000;
        if (cand >= sp.start && cand < sp.end)
            return cand;
        if (sp.end == INT64_MAX || sp.end > w + (int64_t)TZ_OFF_MAX * 1000)
            break;
        /* A gap: the clock jumps from end + offset to end + next. */
        if (sp.next_offset > sp.offset &&
            w >= sp.end + (int64_t)sp.offset * 1000 &&
            w < sp.end + (int64_t)sp.next_offset * 1000)
            return sp.end;
        t = sp.end;
    }
    /* Not reached with a zone whose offsets stay within +-26 h. */
    chr_tz_span(z, w, &sp);
    return w - (int64_t)sp.offset * 1000;
}

/* ---- TZif files ---- */

struct tzif_hdr {
    int version; /* 1, 2, 3, 4 */
    uint32_t isut, isstd, leap, time, type, chars;
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* The header at buf[pos]; the data block after it must fit in len. */
static int tzif_hdr(const unsigned char *buf, size_t len, size_t pos,
                    struct tzif_hdr *h, size_t tsize, uint64_t *block)
{
    const unsigned char *p = buf + pos;

    if (pos > len || len - pos < 44 || memcmp(p, "TZif", 4) != 0)
        return -1;
    h->version = p[4] == 0 ? 1 : p[4] - '0';
    if (h->version < 1 || h->version > 4)
        return -1;
    h->isut = be32(p + 20);
    h->isstd = be32(p + 24);
    h->leap = be32(p + 28);
    h->time = be32(p + 32);
    h->type = be32(p + 36);
    h->chars = be32(p + 40);
    if (h->type == 0 || h->type > 256 || h->chars == 0 ||
        (h->isut != 0 && h->isut != h->type) ||
        (h->isstd != 0 && h->isstd != h->type))
        return -1;
    /* Counts are below 2^32: none of these products can wrap. */
    *block = (uint64_t)h->time * (tsize + 1) + (uint64_t)h->type * 6 +
             h->chars + (uint64_t)h->leap * (tsize + 4) + h->isstd + h->isut;
    return *block <= len - pos - 44 ? 0 : -1;
}

/* Reads the data block at p into z, keeping only changes of offset. */
static int tzif_data(const unsigned char *p, const struct tzif_hdr *h,
                     size_t tsize, struct chr_tz *z)
{
    const unsigned char *idx = p + (size_t)h->time * tsize;
    const unsigned char *types = idx + h->time;
    int32_t offs[256], prev;
    int64_t last = 0;

    for (uint32_t i = 0; i < h->type; i++) {
        int32_t o = (int32_t)be32(types + 6 * i);

        if (o < -TZ_OFF_MAX || o > TZ_OFF_MAX || types[6 * i + 4] > 1 ||
            types[6 * i + 5] >= h->chars)
            return -1;
        offs[i] = o;
    }
    z->off0 = prev = offs[0];
    z->at = malloc(((size_t)h->time + 1) * sizeof *z->at);
    z->off = malloc(((size_t)h->time + 1) * sizeof *z->off);
    if (z->at == NULL || z->off == NULL)
        return -2;
    for (uint32_t i = 0; i < h->time; i++) {
        int64_t t = tsize == 8 ? be64(p + 8 * (size_t)i)
                               : (int32_t)be32(p + 4 * (size_t)i);

        /* RFC 8536: strictly ascending; the binary searches rely on it. */
        if (idx[i] >= h->type || (i > 0 && t <= last))
            return -1;
        last = t;
        if (offs[idx[i]] != prev) {
            z->at[z->n] = t;
            z->off[z->n++] = prev = offs[idx[i]];
        }
    }
    return 0;
}

/* The footer after the v2+ block at p: "\n<TZ string>\n". */
static int tzif_footer(const unsigned char *p, size_t left, struct chr_tz *z)
{
    char s[TZ_FOOTER_MAX];
    size_t k;

    if (left < 2 || p[0] != '\n')
        return -1;
    for (k = 1; k < left && p[k] != '\n'; k++)
        if (p[k] == '\0' || k >= TZ_FOOTER_MAX)
            return -1;
    if (k == left)
        return -1;
    memcpy(s, p + 1, k - 1);
    s[k - 1] = '\0';
    return tz_posix(s, z);
}

/* Parses a whole TZif file: 0, -1 corrupt, -2 out of memory, -3 leap
 * seconds. */
static int tzif_parse(const unsigned char *buf, size_t len, struct chr_tz *z)
{
    struct tzif_hdr h;
    uint64_t block;
    size_t pos;
    int rc;

    if (tzif_hdr(buf, len, 0, &h, 4, &block) < 0)
        return -1;
    if (h.version == 1) {
        if (h.leap != 0)
            return -3;
        return tzif_data(buf + 44, &h, 4, z);
    }
    /* v2+: the v1 block is for 32-bit readers; skip to the second. */
    pos = 44 + (size_t)block;
    if (tzif_hdr(buf, len, pos, &h, 8, &block) < 0)
        return -1;
    if (h.leap != 0)
        return -3;
    rc = tzif_data(buf + pos + 44, &h, 8, z);
    if (rc < 0)
        return rc;
    pos += 44 + (size_t)block;
    return tzif_footer(buf + pos, len - pos, z);
}

/* ---- names and files ---- */

/* A user's name: [A-Za-z0-9_+-] components split by single '/'s. The
 * character set leaves no room for "." or "..". */
static int name_ok(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > TZ_NAME_MAX || name[0] == '/' ||
        name[len - 1] == '/' || strstr(name, "//") != NULL)
        return 0;
    for (const char *p = name; *p; p++)
        if (!is_alpha(*p) && !is_digit(*p) && !strchr("_+-/", *p))
            return 0;
    return 1;
}

/*
 * Replaces the component of path ending at `cut` (a symlink) by its
 * target, resolved against the component's directory, and normalises
 * the result. Refuses a target that is absolute or climbs above the
 * root. path is TZ_PATH_MAX bytes.
 */
static int splice_link(char *path, size_t cut, const char *target)
{
    char tmp[2 * TZ_PATH_MAX + 2], out[TZ_PATH_MAX];
    size_t dir = cut, n = 0, tl = strlen(target), rest = strlen(path + cut);
    char *save = NULL, *c;

    if (target[0] == '/')
        return -1;
    while (dir > 0 && path[dir - 1] != '/')
        dir--;
    /* tmp = the link's directory + target + what followed the link;
     * path and target are each shorter than TZ_PATH_MAX. */
    memcpy(tmp, path, dir);
    memcpy(tmp + dir, target, tl);
    memcpy(tmp + dir + tl, path + cut, rest + 1);
    for (c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        size_t cl = strlen(c);

        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            if (n == 0)
                return -1;
            while (n > 0 && out[n - 1] != '/')
                n--;
            n = n > 0 ? n - 1 : 0;
            continue;
        }
        if (n + cl + 2 > sizeof out)
            return -1;
        if (n > 0)
            out[n++] = '/';
        memcpy(out + n, c, cl);
        n += cl;
    }
    if (n == 0)
        return -1;
    out[n] = '\0';
    memcpy(path, out, n + 1);
    return 0;
}

/* If the prefix of path ending at cut is a symlink, splices it in and
 * returns 1; 0 when it is not one; -1 when it may not be followed. */
static int follow(int root, char *path, size_t cut)
{
    char target[TZ_PATH_MAX];
    char save = path[cut];
    ssize_t k;

    path[cut] = '\0';
    k = readlinkat(root, path, target, sizeof target - 1);
    path[cut] = save;
    if (k < 0)
        return errno == EINVAL ? 0 : -1;
    if ((size_t)k >= sizeof target - 1)
        return -1;
    target[k] = '\0';
    return splice_link(path, cut, target) < 0 ? -1 : 1;
}

/* Opens path under root following links only inside root: each
 * directory component is checked, the file opened O_NOFOLLOW. */
static int open_beneath(int root, char *path)
{
    int hops = 0;

    for (;;) {
        size_t cut;
        int rc = 0, fd;

        for (cut = 0; path[cut] && rc == 0; cut++)
            if (path[cut] == '/')
                rc = follow(root, path, cut);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            fd = openat(root, path,
                        O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
            if (fd >= 0 || errno != ELOOP)
                return fd;
            rc = follow(root, path, strlen(path));
            if (rc <= 0)
                return -1;
        }
        if (++hops > TZ_HOPS)
            return -1;
    }
}

/* Reads all of fd, a regular file of at most TZ_FILE_MAX bytes. */
static int read_file(int fd, unsigned char **buf, size_t *len)
{
    struct stat st;
    size_t got = 0;

    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        st.st_size > TZ_FILE_MAX)
        return -1;
    *buf = malloc((size_t)st.st_size + 1);
    if (*buf == NULL)
        return -2;
    /* One byte of room past st_size tells a file that grew. */
    while (got <= (size_t)st.st_size) {
        ssize_t k = read(fd, *buf + got, (size_t)st.st_size + 1 - got);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    if (got > (size_t)st.st_size)
        return -1;
    *len = got;
    return 0;
}

void chr_tz_free(struct chr_tz *z)
{
    if (z == NULL)
        return;
    free(z->name);
    free(z->at);
    free(z->off);
    free(z);
}

static struct chr_tz *tz_new(const char *name)
{
    struct chr_tz *z = calloc(1, sizeof *z);

    if (z == NULL)
        return NULL;
    z->name = strdup(name);
    if (z->name == NULL) {
        free(z);
        return NULL;
    }
    return z;
}

static struct chr_tz *fail(struct chr_tz *z, const char **why, const char *w)
{
    chr_tz_free(z);
    if (why != NULL)
        *why = w;
    return NULL;
}

/* Opens and reads the zone file: 0, or the reason it cannot be. */
static const char *load_file(const char *dir, const char *name,
                             unsigned char **buf, size_t *len)
{
    char path[TZ_PATH_MAX];
    int root, fd, rc;

    root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return WHY_UNKNOWN;
    memcpy(path, name, strlen(name) + 1); /* name_ok: <= TZ_NAME_MAX */
    fd = open_beneath(root, path);
    close(root);
    if (fd < 0)
        return WHY_UNKNOWN;
    rc = read_file(fd, buf, len);
    close(fd);
    if (rc == -2)
        return WHY_NOMEM;
    return rc < 0 ? WHY_UNKNOWN : NULL;
}

struct chr_tz *chr_tz_load_dir(const char *dir, const char *name,
                               const char **why)
{
    unsigned char *buf = NULL;
    struct chr_tz *z;
    const char *w;
    size_t len = 0;
    int rc;

    if (name == NULL || *name == '\0' || strcmp(name, "UTC") == 0 ||
        strcmp(name, "Z") == 0) {
        z = tz_new("UTC");
        return z != NULL ? z : fail(NULL, why, WHY_NOMEM);
    }
    if (!name_ok(name))
        return fail(NULL, why, WHY_NAME);
    w = load_file(dir, name, &buf, &len);
    if (w != NULL) {
        free(buf);
        return fail(NULL, why, w);
    }
    z = tz_new(name);
    if (z == NULL) {
        free(buf);
        return fail(NULL, why, WHY_NOMEM);
    }
    rc = tzif_parse(buf, len, z);
    /* Not a TZif file at all (zone.tab, iso3166.tab): unknown. */
    if (rc == -1 && (len < 4 || memcmp(buf, "TZif", 4) != 0))
        rc = -4;
    free(buf);
    if (rc == 0)
        return z;
    if (rc == -4)
        return fail(z, why, WHY_UNKNOWN);
    return fail(z, why,
                rc == -2   ? WHY_NOMEM
                : rc == -3 ? WHY_LEAP
                           : WHY_CORRUPT);
}

struct chr_tz *chr_tz_load(const char *name, const char **why)
{
    return chr_tz_load_dir(CHR_TZ_DIR, name, why);
}

const char *chr_tz_name(const struct chr_tz *z)
{
    return z != NULL ? z->name : "UTC";
}
