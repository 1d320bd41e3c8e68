/*
 * json_scan.c - a strict subset of JSON fed to yajl's callbacks without
 * yajl's lexer (see json_scan.h).
 *
 * The grammar is yajl's (yajl_lex.c): a number is -?(0|[1-9][0-9]*)
 * (\.[0-9]+)?([eE][+-]?[0-9]+)?; yajl too reads a number or a literal up
 * to the first byte that cannot continue it, which here must then be a
 * space or a structural byte (yajl would take a comment there too: that
 * is left to it).
 */
#include "json_scan.h"

#include <stdint.h>
#include <string.h>

#define SCAN_ONES 0x0101010101010101ULL
#define SCAN_HIGHS 0x8080808080808080ULL

enum scan_state {
    SCAN_VALUE,          /* a value comes */
    SCAN_VALUE_OR_CLOSE, /* after '[' */
    SCAN_KEY_OR_CLOSE,   /* after '{' */
    SCAN_KEY,            /* after ',' in an object */
    SCAN_AFTER,          /* after a value in a container */
};

/* The nesting: one bit a level, set for an object. */
struct scan_stack {
    uint64_t bits[JSON_SCAN_DEPTH / 64 + 1];
    unsigned depth;
};

static int scan_push(struct scan_stack *s, int object)
{
    unsigned d = s->depth;

    if (d >= JSON_SCAN_DEPTH)
        return -1;
    if (object)
        s->bits[d / 64] |= (uint64_t)1 << (d % 64);
    else
        s->bits[d / 64] &= ~((uint64_t)1 << (d % 64));
    s->depth++;
    return 0;
}

/* Whether the innermost open container is an object. */
static int scan_in_object(const struct scan_stack *s)
{
    unsigned d = s->depth - 1;

    return (int)((s->bits[d / 64] >> (d % 64)) & 1);
}

static const char *scan_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* What may follow a number or a literal here: a space or a structural
 * byte. The end of the text may not (a container is open). */
static int scan_delim(const char *p, const char *end)
{
    return p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t' ||
                       *p == ',' || *p == '}' || *p == ']');
}

/*
 * The end of the string whose first byte is at p (after the quote), or
 * NULL when it is not in the subset: a backslash, a control byte or a
 * byte of 0x80 and above (UTF-8, which yajl checks), or no closing
 * quote. Eight bytes at a time while none of those is in the word (the
 * jw_clean_run() test of the SDK's writer, with the high bytes too).
 */
static const char *scan_string_end(const char *p, const char *end)
{
    uint64_t x, lt, qu, bs;
    unsigned char c;

    while (end - p >= 8) {
        memcpy(&x, p, 8);
        lt = x - SCAN_ONES * 0x20;
        qu = (x ^ (SCAN_ONES * '"')) - SCAN_ONES;
        bs = (x ^ (SCAN_ONES * '\\')) - SCAN_ONES;
        if ((((lt | qu | bs) & ~x) | x) & SCAN_HIGHS)
            break;
        p += 8;
    }
    for (; p < end; p++) {
        c = (unsigned char)*p;
        if (c == '"')
            return p;
        if (c < 0x20 || c >= 0x80 || c == '\\')
            return NULL;
    }
    return NULL;
}

static const char *scan_digits(const char *p, const char *end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

/* The end of the number at p, or NULL when it is not one. */
static const char *scan_number_end(const char *p, const char *end)
{
    const char *q;

    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        p = scan_digits(p, end);
    else
        return NULL;
    if (p < end && *p == '.') {
        q = scan_digits(p + 1, end);
        if (q == p + 1)
            return NULL;
        p = q;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        q = scan_digits(p, end);
        if (q == p)
            return NULL;
        p = q;
    }
    return scan_delim(p, end) ? p : NULL;
}

/* A literal at p: the bytes after it, or NULL. */
static const char *scan_literal(const char *p, const char *end,
                                const char *word, size_t n)
{
    if ((size_t)(end - p) < n || memcmp(p, word, n) != 0 ||
        !scan_delim(p + n, end))
        return NULL;
    return p + n;
}

#define SCAN_CB(call)                                                        \
    do {                                                                     \
        if (!(call))                                                         \
            return JSON_SCAN_CANCELED;                                       \
    } while (0)

/* One scalar value at *pp (the callback run); JSON_SCAN_OK or not. */
static int scan_scalar(const char **pp, const char *end,
                       const yajl_callbacks *cb, void *ctx)
{
    const char *p = *pp, *q;

    if (*p == '"') {
        if ((q = scan_string_end(p + 1, end)) == NULL)
            return JSON_SCAN_OTHER;
        SCAN_CB(cb->yajl_string(ctx, (const unsigned char *)p + 1,
                                (size_t)(q - p - 1)));
        *pp = q + 1;
    } else if ((q = scan_literal(p, end, "true", 4)) != NULL) {
        SCAN_CB(cb->yajl_boolean(ctx, 1));
        *pp = q;
    } else if ((q = scan_literal(p, end, "false", 5)) != NULL) {
        SCAN_CB(cb->yajl_boolean(ctx, 0));
        *pp = q;
    } else if ((q = scan_literal(p, end, "null", 4)) != NULL) {
        SCAN_CB(cb->yajl_null(ctx));
        *pp = q;
    } else if ((q = scan_number_end(p, end)) != NULL) {
        SCAN_CB(cb->yajl_number(ctx, p, (size_t)(q - p)));
        *pp = q;
    } else {
        return JSON_SCAN_OTHER;
    }
    return JSON_SCAN_OK;
}

/* Closes the innermost container at p (its closing byte). */
static int scan_close(struct scan_stack *st, const yajl_callbacks *cb,
                      void *ctx)
{
    int object = scan_in_object(st);

    st->depth--;
    SCAN_CB(object ? cb->yajl_end_map(ctx) : cb->yajl_end_array(ctx));
    return JSON_SCAN_OK;
}

int json_scan(const char *text, size_t len, const yajl_callbacks *cb,
              void *ctx)
{
    const char *p = scan_ws(text, text + len), *end = text + len, *q;
    enum scan_state state = SCAN_VALUE;
    struct scan_stack st;
    int rc;

    st.depth = 0;
    if (p == end || *p != '{')
        return JSON_SCAN_OTHER;
    for (;;) {
        p = scan_ws(p, end);
        if (p == end)
            return JSON_SCAN_OTHER; /* yajl: premature EOF */
        switch (state) {
        case SCAN_VALUE:
            if (*p == '{' || *p == '[') {
                if (scan_push(&st, *p == '{') < 0)
                    return JSON_SCAN_OTHER;
                SCAN_CB(*p == '{' ? cb->yajl_start_map(ctx)
                                  : cb->yajl_start_array(ctx));
                state = *p == '{' ? SCAN_KEY_OR_CLOSE : SCAN_VALUE_OR_CLOSE;
                p++;
                continue;
            }
            if ((rc = scan_scalar(&p, end, cb, ctx)) != JSON_SCAN_OK)
                return rc;
            state = SCAN_AFTER;
            continue;
        case SCAN_VALUE_OR_CLOSE:
        case SCAN_KEY_OR_CLOSE:
            if (*p == (state == SCAN_KEY_OR_CLOSE ? '}' : ']')) {
                p++;
                break; /* closed: see below */
            }
            state = state == SCAN_KEY_OR_CLOSE ? SCAN_KEY : SCAN_VALUE;
            continue;
        case SCAN_KEY:
            if (*p != '"' || (q = scan_string_end(p + 1, end)) == NULL)
                return JSON_SCAN_OTHER;
            SCAN_CB(cb->yajl_map_key(ctx, (const unsigned char *)p + 1,
                                     (size_t)(q - p - 1)));
            p = scan_ws(q + 1, end);
            if (p == end || *p != ':')
                return JSON_SCAN_OTHER;
            p++;
            state = SCAN_VALUE;
            continue;
        case SCAN_AFTER:
            if (*p == ',') {
                p++;
                state = scan_in_object(&st) ? SCAN_KEY : SCAN_VALUE;
                continue;
            }
            if (*p != (scan_in_object(&st) ? '}' : ']'))
                return JSON_SCAN_OTHER;
            p++;
            break; /* closed */
        }
        if ((rc = scan_close(&st, cb, ctx)) != JSON_SCAN_OK)
            return rc;
        if (st.depth == 0) /* the top object: nothing but spaces after it */
            return scan_ws(p, end) == end ? JSON_SCAN_OK : JSON_SCAN_OTHER;
        state = SCAN_AFTER;
    }
}
