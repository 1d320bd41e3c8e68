/*
 * json.c - the writer (struct agora_jw) and the readers of agora/json.h.
 *
 * The writer appends straight into a buffer of its own, with no yajl_gen
 * underneath: every response of the master and of the plugins goes
 * through it, and a print callback per token plus sprintf() for each
 * integer cost more than routing the request. It checks the grammar
 * itself, with one state for the innermost open container and a bit per
 * enclosing one (array or object), and latches the first failure
 * (AGORA_ENOMEM on a failed allocation, AGORA_EINVAL on a misuse).
 *
 * The readers use yajl's tree.
 */
#include "agora/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora/plugin.h"

#include "sink.h"

/* The buffer inside the writer: most replies fit, so agora_jw_new() makes
 * one allocation and a short reply none more. */
#define JW_SMALL 256

/* Where the writer is, which says what may come next. */
enum jw_state {
    JW_TOP = 0,   /* nothing written: one value may come */
    JW_DONE,      /* the document is complete: nothing may come */
    JW_ARR_FIRST, /* in an array, before its first value */
    JW_ARR_NEXT,  /* in an array, after a value: a comma, a value */
    JW_OBJ_FIRST, /* in an object, before its first key */
    JW_OBJ_NEXT,  /* in an object, after a member: a comma, a key */
    JW_OBJ_VALUE  /* in an object, after a key: its value */
};

/* The states in which a value may be written. */
#define JW_WANTS_VALUE                                                         \
    ((1u << JW_TOP) | (1u << JW_ARR_FIRST) | (1u << JW_ARR_NEXT) |             \
     (1u << JW_OBJ_VALUE))

/* The state once a value is complete; 0 (JW_TOP) where no value may be
 * written, which jw_value_begin() refuses first. */
static const unsigned char jw_after_value[] = {
    [JW_TOP] = JW_DONE,
    [JW_ARR_FIRST] = JW_ARR_NEXT,
    [JW_ARR_NEXT] = JW_ARR_NEXT,
    [JW_OBJ_VALUE] = JW_OBJ_NEXT,
};

_Static_assert(AGORA_JW_MAX_DEPTH % 8 == 0, "objs holds whole bytes");

struct agora_jw {
    char *buf;           /* the document: small, or the heap once grown */
    size_t len;          /* bytes written */
    size_t cap;          /* size of buf; always > len, for the NUL */
    int err;             /* 0, or the first failure (latched) */
    unsigned char state; /* enum jw_state */
    unsigned depth;      /* open containers */
    /* Bit d: the container opened at depth d (0-based) is an object. */
    unsigned char objs[AGORA_JW_MAX_DEPTH / 8];
    char small[JW_SMALL];
};

/* Latches the first failure; later calls then do nothing. */
static void jw_fail(struct agora_jw *w, int err)
{
    if (!w->err)
        w->err = err;
}

/* Grows buf to hold n more bytes and the NUL: doubling, so appending a
 * document costs amortised O(1) per byte. */
static int jw_grow(struct agora_jw *w, size_t n)
{
    size_t need, cap = w->cap;
    char *p;

    if (n > (size_t)-1 - w->len - 1) {
        jw_fail(w, AGORA_ENOMEM);
        return -1;
    }
    need = w->len + n + 1;
    while (cap < need)
        cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    if (w->buf == w->small) {
        p = malloc(cap);
        if (p)
            memcpy(p, w->small, w->len);
    } else {
        p = realloc(w->buf, cap);
    }
    if (!p) {
        jw_fail(w, AGORA_ENOMEM);
        return -1;
    }
    w->buf = p;
    w->cap = cap;
    return 0;
}

/* Room for n more bytes after len, and the NUL after those. */
static inline int jw_reserve(struct agora_jw *w, size_t n)
{
    return n < w->cap - w->len ? 0 : jw_grow(w, n);
}

struct agora_jw *agora_jw_new(void)
{
    struct agora_jw *w = malloc(sizeof(*w));

    if (!w)
        return NULL;
    w->buf = w->small;
    w->cap = sizeof(w->small);
    agora_jw_reset(w);
    return w;
}

void agora_jw_reset(struct agora_jw *w)
{
    if (!w)
        return;
    w->len = 0;
    w->err = 0;
    w->state = JW_TOP;
    w->depth = 0;
    /* Every bit is set before it is read; cleared anyway so that no tool
     * sees a branch on uninitialised memory. */
    memset(w->objs, 0, sizeof(w->objs));
}

void agora_jw_free(struct agora_jw *w)
{
    if (!w)
        return;
    if (w->buf != w->small)
        free(w->buf);
    free(w);
}

/*
 * 0 when a value may be written now (no failure latched, not where an
 * object wants a key, not after a complete document) and n bytes of it
 * fit; the separator it needs is then written.
 */
static int jw_value_begin(struct agora_jw *w, size_t n)
{
    if (!w || w->err)
        return -1;
    if (!(JW_WANTS_VALUE & (1u << w->state))) {
        jw_fail(w, AGORA_EINVAL);
        return -1;
    }
    if (n == (size_t)-1) {
        jw_fail(w, AGORA_ENOMEM);
        return -1;
    }
    if (jw_reserve(w, n + 1) != 0)
        return -1;
    if (w->state == JW_ARR_NEXT)
        w->buf[w->len++] = ',';
    return 0;
}

static inline void jw_value_end(struct agora_jw *w)
{
    w->state = jw_after_value[w->state];
}

/* Appends n bytes that are known to fit. */
static inline void jw_put(struct agora_jw *w, const char *s, size_t n)
{
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void jw_open(struct agora_jw *w, int obj)
{
    unsigned d;

    if (w && !w->err && w->depth >= AGORA_JW_MAX_DEPTH) {
        jw_fail(w, AGORA_EINVAL);
        return;
    }
    if (jw_value_begin(w, 1) != 0)
        return;
    d = w->depth;
    if (obj)
        w->objs[d / 8] |= (unsigned char)(1u << (d % 8));
    else
        w->objs[d / 8] &= (unsigned char)~(1u << (d % 8));
    w->depth = d + 1;
    w->buf[w->len++] = obj ? '{' : '[';
    w->state = obj ? JW_OBJ_FIRST : JW_ARR_FIRST;
}

/* A close must match the innermost container, and an object's cannot
 * come between a key and its value. The container was a value of its
 * parent, which therefore wants a comma next. */
static void jw_close(struct agora_jw *w, int obj)
{
    unsigned d;

    if (!w || w->err)
        return;
    if (obj ? w->state != JW_OBJ_FIRST && w->state != JW_OBJ_NEXT
            : w->state != JW_ARR_FIRST && w->state != JW_ARR_NEXT) {
        jw_fail(w, AGORA_EINVAL);
        return;
    }
    if (jw_reserve(w, 1) != 0)
        return;
    w->buf[w->len++] = obj ? '}' : ']';
    d = --w->depth;
    if (d == 0)
        w->state = JW_DONE;
    else if (w->objs[(d - 1) / 8] & (1u << ((d - 1) % 8)))
        w->state = JW_OBJ_NEXT;
    else
        w->state = JW_ARR_NEXT;
}

void agora_jw_obj_open(struct agora_jw *w)
{
    jw_open(w, 1);
}

void agora_jw_obj_close(struct agora_jw *w)
{
    jw_close(w, 1);
}

void agora_jw_arr_open(struct agora_jw *w)
{
    jw_open(w, 0);
}

void agora_jw_arr_close(struct agora_jw *w)
{
    jw_close(w, 0);
}

/* The escape letter of each byte, 0 for one that stands for itself: the
 * same set as yajl_gen_string() and agora_json_quote(), quote, backslash
 * and the control characters, with 'u' for those written as \u00XX. */
/* clang-format off */
static const char jw_escape[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', /* 0x00 */
    'b', 't', 'n', 'u', 'f', 'r', 'u', 'u', /* 0x08 */
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', /* 0x10 */
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', /* 0x18 */
    ['"'] = '"',
    ['\\'] = '\\',
};
/* clang-format on */

#define JW_ONES 0x0101010101010101ULL
#define JW_HIGHS 0x8080808080808080ULL

/*
 * The first byte in [p, end) that needs an escape, or end. Eight bytes
 * at a time while it can: a byte below 0x20, a quote or a backslash
 * sets its high bit in the word test (the classic "has a zero byte"
 * trick, which never misses and never fires on a clean word; bytes of
 * 0x80 and above are masked out by ~x).
 */
static const unsigned char *jw_clean_run(const unsigned char *p,
                                         const unsigned char *end)
{
    uint64_t x, lt, qu, bs;

    while (end - p >= 8) {
        memcpy(&x, p, 8);
        lt = x - JW_ONES * 0x20;               /* a byte below 0x20 */
        qu = (x ^ (JW_ONES * '"')) - JW_ONES;  /* a quote */
        bs = (x ^ (JW_ONES * '\\')) - JW_ONES; /* a backslash */
        /* The high bit of a quote or a backslash is 0, as is that of
         * the bytes compared with it, so ~x stands for ~(x ^ c). */
        if ((lt | qu | bs) & ~x & JW_HIGHS)
            break;
        p += 8;
    }
    while (p < end && !jw_escape[*p])
        p++;
    return p;
}

/*
 * Appends s quoted: runs of bytes that need no escape are copied with
 * one memcpy. Bytes of 0x80 and above are copied as they are, so the
 * output is UTF-8 exactly when the input is (it is not checked).
 */
static int jw_quoted(struct agora_jw *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len, *run;
    char *out;
    char e;

    if (len > (size_t)-1 - 2 || jw_reserve(w, len + 2) != 0) {
        jw_fail(w, AGORA_ENOMEM);
        return -1;
    }
    out = w->buf + w->len;
    *out++ = '"';
    for (;;) {
        run = p;
        p = jw_clean_run(p, end);
        memcpy(out, run, (size_t)(p - run));
        out += p - run;
        if (p == end)
            break;
        /* The reserve counted this byte as one; its escape takes up to
         * six, and the rest of s and the closing quote must still fit. */
        w->len = (size_t)(out - w->buf);
        if (jw_reserve(w, 6 + (size_t)(end - p)) != 0)
            return -1;
        out = w->buf + w->len;
        e = jw_escape[*p];
        *out++ = '\\';
        *out++ = e;
        if (e == 'u') {
            *out++ = '0';
            *out++ = '0';
            *out++ = hex[*p >> 4];
            *out++ = hex[*p & 15];
        }
        p++;
    }
    *out++ = '"';
    w->len = (size_t)(out - w->buf);
    return 0;
}

void agora_jw_key(struct agora_jw *w, const char *key)
{
    if (!w || w->err)
        return;
    if ((w->state != JW_OBJ_FIRST && w->state != JW_OBJ_NEXT) || !key) {
        jw_fail(w, AGORA_EINVAL);
        return;
    }
    if (jw_reserve(w, 1) != 0)
        return;
    if (w->state == JW_OBJ_NEXT)
        w->buf[w->len++] = ',';
    if (jw_quoted(w, key, strlen(key)) != 0 || jw_reserve(w, 1) != 0)
        return;
    w->buf[w->len++] = ':';
    w->state = JW_OBJ_VALUE;
}

void agora_jw_strn(struct agora_jw *w, const char *s, size_t len)
{
    if (!s) {
        agora_jw_null(w);
        return;
    }
    if (jw_value_begin(w, 0) != 0 || jw_quoted(w, s, len) != 0)
        return;
    jw_value_end(w);
}

void agora_jw_str(struct agora_jw *w, const char *s)
{
    agora_jw_strn(w, s, s ? strlen(s) : 0);
}

/* Writes v in decimal at out, two digits a step; returns the end. */
static char *jw_format_u64(char *out, uint64_t v)
{
    static const char pairs[] = "00010203040506070809"
                                "10111213141516171819"
                                "20212223242526272829"
                                "30313233343536373839"
                                "40414243444546474849"
                                "50515253545556575859"
                                "60616263646566676869"
                                "70717273747576777879"
                                "80818283848586878889"
                                "90919293949596979899";
    char tmp[20];
    char *p = tmp + sizeof(tmp);
    size_t n;

    while (v >= 100) {
        p -= 2;
        memcpy(p, pairs + (v % 100) * 2, 2);
        v /= 100;
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, pairs + v * 2, 2);
    } else {
        *--p = (char)('0' + v);
    }
    n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(out, p, n);
    return out + n;
}

void agora_jw_int(struct agora_jw *w, int64_t v)
{
    char *out;

    /* "-9223372036854775808" is the longest. */
    if (jw_value_begin(w, 20) != 0)
        return;
    out = w->buf + w->len;
    if (v < 0) {
        *out++ = '-';
        /* In unsigned arithmetic, so that INT64_MIN negates. */
        out = jw_format_u64(out, 0 - (uint64_t)v);
    } else {
        out = jw_format_u64(out, (uint64_t)v);
    }
    w->len = (size_t)(out - w->buf);
    jw_value_end(w);
}

/*
 * The shortest of %.15g, %.16g and %.17g that reads back as v: %.17g
 * alone turns 0.1 into 0.10000000000000001. %g never writes a fraction
 * for an integral value, and 32 bytes hold any double at 17 digits.
 */
static void format_double(double v, char *buf, size_t size)
{
    int prec;

    for (prec = 15; prec < 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
    snprintf(buf, size, "%.17g", v);
}

/*
 * v in out as format_double() writes it, without printf, when v has at
 * most six decimals and lies in [1e-4, 2^33) in magnitude (0.1 cpus,
 * 0.5 of a weight, 1.15 of a backoff factor, a timestamp to the
 * microsecond); returns the length, or 0 for any other v. Why it is the
 * same text: k / 1e6 == |v| says that the decimal d = k * 10^-6 reads
 * back as v, and %g writes it in plain notation (an exponent from -4 to
 * 9) without trailing zeros. Below 1e9, d has at most 15 significant
 * digits, so it is the point of %.15g's grid nearest v (v lies within
 * half an ulp of it, a tenth of the grid's half step), and
 * format_double() stops at %.15g. From 1e9 to 2^33, d has 16 digits and
 * the ulp is at most 2^-20 (under 1e-6), so v lies within half a step
 * of %.16g's grid (1e-6) of d only: %.16g writes d; and %.15g (a grid
 * of 1e-5) reads back as v only when d is on that grid, when it writes
 * d too.
 */
static size_t jw_format_short(double v, char *out)
{
    double a = fabs(v);
    uint64_t k, ip, fp;
    char frac[6], *p = out;
    int n = 6, i;

    if (!(a >= 1e-4 && a < 8589934592.0)) /* 2^33 */
        return 0;
    k = (uint64_t)(a * 1e6 + 0.5);
    if ((double)k / 1e6 != a)
        return 0;
    ip = k / 1000000;
    fp = k % 1000000;
    if (fp == 0) /* integral: agora_jw_num() wrote it already */
        return 0;
    for (i = 5; i >= 0; i--, fp /= 10)
        frac[i] = (char)('0' + fp % 10);
    while (frac[n - 1] == '0')
        n--;
    if (v < 0)
        *p++ = '-';
    p = jw_format_u64(p, ip);
    *p++ = '.';
    memcpy(p, frac, (size_t)n);
    return (size_t)(p + n - out);
}

/*
 * An integral value below 1e15 in magnitude is what %.15g writes as
 * plain digits, so agora_jw_int() writes it without the printf; -0 is
 * left to format_double(), which keeps its sign as it always has.
 */
void agora_jw_num(struct agora_jw *w, double v)
{
    char buf[32];
    size_t n;

    if (!isfinite(v)) {
        agora_jw_null(w);
        return;
    }
    if (fabs(v) < 1e15 && (double)(int64_t)v == v && (v != 0 || !signbit(v))) {
        agora_jw_int(w, (int64_t)v);
        return;
    }
    if (!w || w->err)
        return;
    if ((n = jw_format_short(v, buf)) == 0) {
        format_double(v, buf, sizeof(buf));
        n = strlen(buf);
    }
    if (jw_value_begin(w, n) != 0)
        return;
    jw_put(w, buf, n);
    jw_value_end(w);
}

void agora_jw_bool(struct agora_jw *w, int v)
{
    if (jw_value_begin(w, 5) != 0)
        return;
    if (v)
        jw_put(w, "true", 4);
    else
        jw_put(w, "false", 5);
    jw_value_end(w);
}

void agora_jw_null(struct agora_jw *w)
{
    if (jw_value_begin(w, 4) != 0)
        return;
    jw_put(w, "null", 4);
    jw_value_end(w);
}

/* Copied verbatim, with the separator a value needs. An empty text would
 * leave a hole in the document, so it fails the writer. */
void agora_jw_raw(struct agora_jw *w, const char *json, size_t len)
{
    if (!json || len == 0) {
        if (w)
            jw_fail(w, AGORA_EINVAL);
        return;
    }
    if (jw_value_begin(w, len) != 0)
        return;
    jw_put(w, json, len);
    jw_value_end(w);
}

void agora_jw_members(struct agora_jw *w, const char *json, size_t len)
{
    if (!w || w->err)
        return;
    if ((w->state != JW_OBJ_FIRST && w->state != JW_OBJ_NEXT) || !json ||
        len == 0) {
        jw_fail(w, AGORA_EINVAL);
        return;
    }
    if (len == (size_t)-1 || jw_reserve(w, len + 1) != 0) {
        jw_fail(w, AGORA_ENOMEM);
        return;
    }
    if (w->state == JW_OBJ_NEXT)
        w->buf[w->len++] = ',';
    jw_put(w, json, len);
    w->state = JW_OBJ_NEXT;
}

/*
 * A member whose key and value need no escape, in one reserve and two
 * copies: what nearly every member is (a launch event's environment,
 * an instance's record), and key() then str() were twice the state
 * checks, reserves and calls. 0 when written, -1 when the general path
 * must write it (an escape, or a writer not in an object).
 */
static int jw_member_plain(struct agora_jw *w, const char *key, size_t kn,
                           const char *s, size_t sn)
{
    const unsigned char *k = (const unsigned char *)key;
    const unsigned char *v = (const unsigned char *)s;
    char *out;

    if (w->state != JW_OBJ_FIRST && w->state != JW_OBJ_NEXT)
        return -1;
    if (kn > (size_t)-1 / 4 || sn > (size_t)-1 / 4 ||
        jw_clean_run(k, k + kn) != k + kn || jw_clean_run(v, v + sn) != v + sn)
        return -1;
    /* a comma, four quotes and a colon */
    if (jw_reserve(w, kn + sn + 6) != 0)
        return 0; /* the failure is latched */
    out = w->buf + w->len;
    if (w->state == JW_OBJ_NEXT)
        *out++ = ',';
    *out++ = '"';
    memcpy(out, key, kn);
    out += kn;
    memcpy(out, "\":\"", 3);
    out += 3;
    memcpy(out, s, sn);
    out += sn;
    *out++ = '"';
    w->len = (size_t)(out - w->buf);
    w->state = JW_OBJ_NEXT;
    return 0;
}

void agora_jw_kstr(struct agora_jw *w, const char *key, const char *s)
{
    if (w && !w->err && key && s &&
        jw_member_plain(w, key, strlen(key), s, strlen(s)) == 0)
        return;
    agora_jw_key(w, key);
    agora_jw_str(w, s);
}

void agora_jw_kint(struct agora_jw *w, const char *key, int64_t v)
{
    agora_jw_key(w, key);
    agora_jw_int(w, v);
}

void agora_jw_knum(struct agora_jw *w, const char *key, double v)
{
    agora_jw_key(w, key);
    agora_jw_num(w, v);
}

void agora_jw_kbool(struct agora_jw *w, const char *key, int v)
{
    agora_jw_key(w, key);
    agora_jw_bool(w, v);
}

/* The NUL is written here rather than after every append: cap > len
 * always leaves room for it. */
const char *agora_jw_result(struct agora_jw *w, size_t *len)
{
    if (len)
        *len = 0;
    if (!w || w->err)
        return NULL;
    w->buf[w->len] = '\0';
    if (len)
        *len = w->len;
    return w->buf;
}

/* ---- reading ---- */

/* The value of the 4 hex digits at p, or -1. */
static long json_hex4(const char *p)
{
    long v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        int c = (unsigned char)p[i], d;

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1; /* also the NUL: never reads past the text */
        v = v * 16 + d;
    }
    return v;
}

/*
 * Checks the escape at p (p[0] is the backslash, inside a string) and
 * returns how many bytes it spans, or 0 for a lone UTF-16 surrogate:
 * yajl would decode "\udfff" into bytes that are not UTF-8, which would
 * then be stored and served as they are.
 */
static size_t json_escape_len(const char *p)
{
    long hi, lo;

    if (p[1] != 'u')
        return p[1] ? 2 : 1;
    hi = json_hex4(p + 2);
    if (hi < 0xD800 || hi > 0xDFFF)
        return 2; /* not a surrogate (or not hex: yajl's to refuse) */
    if (hi >= 0xDC00 || p[6] != '\\' || p[7] != 'u')
        return 0;
    lo = json_hex4(p + 8);
    return lo >= 0xDC00 && lo <= 0xDFFF ? 12 : 0;
}

/*
 * One pass over text, without building anything: the deepest nesting
 * (strings skipped), and lone surrogates in string escapes. yajl parses
 * deep documents with a stack of its own, but frees a tree recursively,
 * so a document of 300,000 '[' would overflow the C stack when freed:
 * it is refused before a tree exists. 0, or -1 with the reason in err.
 */
static int json_prescan(const char *text, unsigned limit, char *err,
                        size_t errlen)
{
    unsigned depth = 0;
    int in_str = 0;
    const char *p;

    for (p = text; *p; p++) {
        if (in_str) {
            if (*p == '\\') {
                size_t n = json_escape_len(p);

                if (n == 0) {
                    if (err && errlen > 0)
                        snprintf(err, errlen, "a lone UTF-16 surrogate "
                                              "(\\u%.4s) in a string", p + 2);
                    return -1;
                }
                p += n - 1;
            } else if (*p == '"') {
                in_str = 0;
            }
        } else if (*p == '"') {
            in_str = 1;
        } else if (*p == '[' || *p == '{') {
            if (++depth > limit) {
                if (err && errlen > 0)
                    snprintf(err, errlen, "nested deeper than %u levels",
                             limit);
                return -1;
            }
        } else if ((*p == ']' || *p == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

/*
 * yajl_tree_parse() reports a verbose error: the reason on the first
 * line, then an excerpt of the text and a caret. Only the first line is
 * kept, as the header promises one line.
 */
yajl_val agora_json_parse(const char *text, char *err, size_t errlen)
{
    yajl_val v;
    char *nl;

    if (err && errlen > 0)
        err[0] = '\0';
    if (!text) {
        if (err && errlen > 0)
            snprintf(err, errlen, "no text");
        return NULL;
    }
    if (json_prescan(text, AGORA_JSON_MAX_DEPTH, err, errlen) < 0)
        return NULL;
    v = yajl_tree_parse(text, errlen > 0 ? err : NULL, err ? errlen : 0);
    if (!v && err && errlen > 0) {
        nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
        if (err[0] == '\0')
            snprintf(err, errlen, "parse error");
    }
    return v;
}

/* With a key given twice, the first wins, as with yajl_tree_get(). */
yajl_val agora_json_get(yajl_val obj, const char *key)
{
    size_t i;

    if (!YAJL_IS_OBJECT(obj) || !key)
        return NULL;
    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return obj->u.object.values[i];
    }
    return NULL;
}

/* The member, or NULL when it is missing or null: both are ENOENT. */
static yajl_val json_member(yajl_val obj, const char *key)
{
    yajl_val v = agora_json_get(obj, key);

    return YAJL_IS_NULL(v) ? NULL : v;
}

int agora_json_str(yajl_val obj, const char *key, const char **out)
{
    yajl_val v = json_member(obj, key);

    if (!v)
        return AGORA_ENOENT;
    if (!YAJL_IS_STRING(v))
        return AGORA_EINVAL;
    *out = YAJL_GET_STRING(v);
    return 0;
}

const char *agora_json_get_str(yajl_val obj, const char *key)
{
    const char *s = NULL;

    return agora_json_str(obj, key, &s) == 0 ? s : NULL;
}

/*
 * An integer, or a number with an integral value in range (2.0, 1e3):
 * clients that write every number as a double still get through.
 */
int agora_json_int(yajl_val obj, const char *key, int64_t *out)
{
    yajl_val v = json_member(obj, key);
    double d;

    if (!v)
        return AGORA_ENOENT;
    if (YAJL_IS_INTEGER(v)) {
        *out = (int64_t)YAJL_GET_INTEGER(v);
        return 0;
    }
    if (!YAJL_IS_DOUBLE(v))
        return AGORA_EINVAL;
    d = YAJL_GET_DOUBLE(v);
    /* -2^63 is exact as a double; 2^63 is the first value out of range. */
    if (d != trunc(d) || d < -9223372036854775808.0 ||
        d >= 9223372036854775808.0)
        return AGORA_EINVAL;
    *out = (int64_t)d;
    return 0;
}

/*
 * yajl marks a number a double only when strtod() set no errno, so a
 * subnormal (5e-324, ERANGE on underflow) would be refused: it is read
 * again here, and only an overflow to infinity is refused.
 */
int agora_json_num(yajl_val obj, const char *key, double *out)
{
    yajl_val v = json_member(obj, key);
    double d;

    if (!v)
        return AGORA_ENOENT;
    if (YAJL_IS_DOUBLE(v)) {
        *out = YAJL_GET_DOUBLE(v);
        return 0;
    }
    if (YAJL_IS_INTEGER(v)) {
        *out = (double)YAJL_GET_INTEGER(v);
        return 0;
    }
    if (!YAJL_IS_NUMBER(v) || !YAJL_GET_NUMBER(v))
        return AGORA_EINVAL;
    d = strtod(YAJL_GET_NUMBER(v), NULL);
    if (!isfinite(d))
        return AGORA_EINVAL;
    *out = d;
    return 0;
}

int agora_json_bool(yajl_val obj, const char *key, int *out)
{
    yajl_val v = json_member(obj, key);

    if (!v)
        return AGORA_ENOENT;
    if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        *out = YAJL_IS_TRUE(v);
        return 0;
    }
    return AGORA_EINVAL;
}

/* The escape of one byte, or NULL when it stands for itself. The same
 * set as yajl_gen_string(): quote, backslash and control characters. */
static const char *quote_escape(unsigned char c, char *hex, size_t size)
{
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    }
    if (c >= 0x20)
        return NULL;
    snprintf(hex, size, "\\u%04X", c);
    return hex;
}

/* A NULL s is written as null, as agora_jw_str() does. Bytes of 0x80
 * and above are copied as they are (UTF-8 is not checked). */
size_t agora_json_quote(const char *s, char *out, size_t outlen)
{
    struct sink k = {out, outlen, 0};
    char hex[8];
    const char *e;

    if (!s) {
        sink_put(&k, "null", 4);
    } else {
        sink_put(&k, "\"", 1);
        for (; *s; s++) {
            e = quote_escape((unsigned char)*s, hex, sizeof(hex));
            if (e)
                sink_put(&k, e, strlen(e));
            else
                sink_put(&k, s, 1);
        }
        sink_put(&k, "\"", 1);
    }
    return sink_end(&k);
}
