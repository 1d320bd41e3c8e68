/*
 * json.c - the writer (struct agora_jw) and the readers of agora/json.h.
 *
 * The writer drives a yajl_gen whose output goes, through a print
 * callback, into a buffer of ours: yajl's own buffer aborts on a failed
 * allocation, ours latches AGORA_ENOMEM instead. The writer also keeps
 * its own stack of open containers, because yajl accepts a string where
 * a key is expected and so cannot tell agora_jw_key() from agora_jw_str().
 */
#include "agora/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "agora/plugin.h"

/* What the innermost open container expects next. */
enum frame {
    FRAME_ARRAY = 0, /* a value */
    FRAME_KEY,       /* an object's key, or its close */
    FRAME_VALUE      /* the value of the key just written */
};

struct agora_jw {
    yajl_gen gen;
    int err;              /* 0, or the first failure (latched) */
    char *buf;            /* the document, always NUL-terminated */
    size_t len, cap;      /* cap counts the NUL */
    unsigned char *stack; /* enum frame of each open container */
    size_t depth, stack_cap;
};

/* Grows *p (of *cap elements of size elem) to hold at least `need`. */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : 16;
    void *q;

    if (need <= *cap)
        return 0;
    while (n < need) {
        if (n > (size_t)-1 / 2 / elem)
            return AGORA_ENOMEM;
        n *= 2;
    }
    q = realloc(*p, n * elem);
    if (!q)
        return AGORA_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

/* yajl's print callback: appends to the writer's buffer. */
static void jw_print(void *ctx, const char *s, size_t len)
{
    struct agora_jw *w = ctx;
    void *p = w->buf;

    if (w->err)
        return;
    if (len > (size_t)-1 - w->len - 1 ||
        grow(&p, &w->cap, w->len + len + 1, 1) != 0) {
        w->err = AGORA_ENOMEM;
        return;
    }
    w->buf = p;
    memcpy(w->buf + w->len, s, len);
    w->len += len;
    w->buf[w->len] = '\0';
}

struct agora_jw *agora_jw_new(void)
{
    struct agora_jw *w = calloc(1, sizeof(*w));

    if (!w)
        return NULL;
    w->cap = 256;
    w->buf = malloc(w->cap);
    w->gen = yajl_gen_alloc(NULL);
    if (!w->buf || !w->gen) {
        agora_jw_free(w);
        return NULL;
    }
    w->buf[0] = '\0';
    yajl_gen_config(w->gen, yajl_gen_print_callback, jw_print, w);
    return w;
}

void agora_jw_free(struct agora_jw *w)
{
    if (!w)
        return;
    if (w->gen)
        yajl_gen_free(w->gen);
    free(w->stack);
    free(w->buf);
    free(w);
}

/* Latches the first failure; later calls then do nothing. */
static void jw_fail(struct agora_jw *w, int err)
{
    if (!w->err)
        w->err = err;
}

static int jw_top(const struct agora_jw *w)
{
    return w->depth ? w->stack[w->depth - 1] : -1;
}

/* 0 when a value may be written now: no failure latched, and not where
 * an object wants a key. */
static int jw_value_begin(struct agora_jw *w)
{
    if (!w || w->err)
        return -1;
    if (jw_top(w) == FRAME_KEY) {
        jw_fail(w, AGORA_EINVAL);
        return -1;
    }
    return 0;
}

/* After a value: an object wants its next key. */
static void jw_value_end(struct agora_jw *w, yajl_gen_status st)
{
    if (st != yajl_gen_status_ok) {
        jw_fail(w, AGORA_EINVAL);
        return;
    }
    if (jw_top(w) == FRAME_VALUE)
        w->stack[w->depth - 1] = FRAME_KEY;
}

static void jw_open(struct agora_jw *w, enum frame f)
{
    void *p;
    yajl_gen_status st;

    if (jw_value_begin(w) != 0)
        return;
    p = w->stack;
    if (grow(&p, &w->stack_cap, w->depth + 1, 1) != 0) {
        jw_fail(w, AGORA_ENOMEM);
        return;
    }
    w->stack = p;
    st = f == FRAME_ARRAY ? yajl_gen_array_open(w->gen)
                          : yajl_gen_map_open(w->gen);
    if (st != yajl_gen_status_ok) {
        jw_fail(w, AGORA_EINVAL);
        return;
    }
    w->stack[w->depth++] = (unsigned char)f;
}

/* A close must match the innermost container; a key with no value
 * (FRAME_VALUE) cannot be closed. */
static void jw_close(struct agora_jw *w, enum frame f)
{
    yajl_gen_status st;

    if (!w || w->err)
        return;
    if (jw_top(w) != (int)f) {
        jw_fail(w, AGORA_EINVAL);
        return;
    }
    w->depth--;
    st = f == FRAME_ARRAY ? yajl_gen_array_close(w->gen)
                          : yajl_gen_map_close(w->gen);
    jw_value_end(w, st);
}

void agora_jw_obj_open(struct agora_jw *w) { jw_open(w, FRAME_KEY); }

void agora_jw_obj_close(struct agora_jw *w) { jw_close(w, FRAME_KEY); }

void agora_jw_arr_open(struct agora_jw *w) { jw_open(w, FRAME_ARRAY); }

void agora_jw_arr_close(struct agora_jw *w) { jw_close(w, FRAME_ARRAY); }

void agora_jw_key(struct agora_jw *w, const char *key)
{
    yajl_gen_status st;

    if (!w || w->err)
        return;
    if (jw_top(w) != FRAME_KEY || !key) {
        jw_fail(w, AGORA_EINVAL);
        return;
    }
    st = yajl_gen_string(w->gen, (const unsigned char *)key, strlen(key));
    if (st != yajl_gen_status_ok) {
        jw_fail(w, AGORA_EINVAL);
        return;
    }
    w->stack[w->depth - 1] = FRAME_VALUE;
}

void agora_jw_strn(struct agora_jw *w, const char *s, size_t len)
{
    if (jw_value_begin(w) != 0)
        return;
    if (!s) {
        jw_value_end(w, yajl_gen_null(w->gen));
        return;
    }
    jw_value_end(w, yajl_gen_string(w->gen, (const unsigned char *)s, len));
}

void agora_jw_str(struct agora_jw *w, const char *s)
{
    agora_jw_strn(w, s, s ? strlen(s) : 0);
}

void agora_jw_int(struct agora_jw *w, int64_t v)
{
    if (jw_value_begin(w) != 0)
        return;
    jw_value_end(w, yajl_gen_integer(w->gen, (long long)v));
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

void agora_jw_num(struct agora_jw *w, double v)
{
    char buf[32];

    if (jw_value_begin(w) != 0)
        return;
    if (!isfinite(v)) {
        jw_value_end(w, yajl_gen_null(w->gen));
        return;
    }
    format_double(v, buf, sizeof(buf));
    jw_value_end(w, yajl_gen_number(w->gen, buf, strlen(buf)));
}

void agora_jw_bool(struct agora_jw *w, int v)
{
    if (jw_value_begin(w) != 0)
        return;
    jw_value_end(w, yajl_gen_bool(w->gen, v != 0));
}

void agora_jw_null(struct agora_jw *w)
{
    if (jw_value_begin(w) != 0)
        return;
    jw_value_end(w, yajl_gen_null(w->gen));
}

/* yajl_gen_number() copies its text verbatim with the separators a value
 * needs, which is exactly what inserting encoded JSON requires. An empty
 * text would leave a hole in the document, so it fails the writer. */
void agora_jw_raw(struct agora_jw *w, const char *json, size_t len)
{
    if (jw_value_begin(w) != 0)
        return;
    if (!json || len == 0) {
        jw_fail(w, AGORA_EINVAL);
        return;
    }
    jw_value_end(w, yajl_gen_number(w->gen, json, len));
}

void agora_jw_kstr(struct agora_jw *w, const char *key, const char *s)
{
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

const char *agora_jw_result(struct agora_jw *w, size_t *len)
{
    if (len)
        *len = 0;
    if (!w || w->err)
        return NULL;
    if (len)
        *len = w->len;
    return w->buf;
}

/* ---- reading ---- */

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

/* Writes what fits of s into out, counting the whole length. */
struct sink {
    char *out;
    size_t size, len;
};

static void sink_put(struct sink *k, const char *s, size_t n)
{
    size_t room;

    if (k->len < k->size) {
        room = k->size - 1 - k->len;
        memcpy(k->out + k->len, s, n < room ? n : room);
    }
    k->len += n;
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
    if (outlen > 0)
        out[k.len < outlen ? k.len : outlen - 1] = '\0';
    return k.len;
}
