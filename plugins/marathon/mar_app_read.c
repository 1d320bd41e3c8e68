/*
 * mar_app_read.c - the parser's typed reads: a value of the wrong type
 * is recorded with play-json's key at its JSON path, as Marathon answers
 * it (marathon-api.md §0), and the parse goes on so that every failure
 * is reported at once.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mar_app_int.h"

yajl_val mar_pc_member(yajl_val obj, const char *key)
{
    yajl_val v = agora_json_get(obj, key);

    return YAJL_IS_NULL(v) ? NULL : v;
}

static void pc_vadd(struct mar_errs *e, const char *prefix, const char *at,
                    const char *key, const char *fmt, va_list ap)
{
    char *path = mar_printf("%s%s%s%s", prefix ? prefix : "", at ? at : "",
                            key ? "/" : "", key ? key : "");

    if (!path) {
        e->nomem = 1;
        return;
    }
    mar_errs_vadd(e, path[0] ? path : "/", fmt, ap);
    free(path);
}

static void pc_add(struct mar_errs *e, const char *prefix, const char *at,
                   const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void pc_add(struct mar_errs *e, const char *prefix, const char *at,
                   const char *key, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    pc_vadd(e, prefix, at, key, fmt, ap);
    va_end(ap);
}

void mar_pc_type(struct mar_pc *c, const char *at, const char *key,
                 const char *what)
{
    pc_add(&c->typ, c->prefix, at, key, "%s", what);
    c->typ.json = 1;
}

void mar_pc_fail(struct mar_pc *c, const char *at, const char *key,
                 const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    pc_vadd(&c->sem, c->prefix, at, key, fmt, ap);
    va_end(ap);
}

void mar_pc_nomem(struct mar_pc *c)
{
    c->sem.nomem = 1;
}

void mar_pc_elem(char *buf, size_t size, const char *at, const char *key,
                 size_t i)
{
    snprintf(buf, size, "%s/%s(%zu)", at, key, i);
}

int mar_pc_str(struct mar_pc *c, yajl_val v, const char *at, const char *key,
               const char **out)
{
    if (!v)
        return 0;
    if (!YAJL_IS_STRING(v)) {
        mar_pc_type(c, at, key, MAR_E_STR);
        return -1;
    }
    *out = YAJL_GET_STRING(v);
    return 1;
}

/* The number's own text is read, not yajl's conversion: yajl leaves a
 * number it cannot convert (1e400) without one. */
int mar_pc_num(struct mar_pc *c, yajl_val v, const char *at, const char *key,
               double *out)
{
    double d;

    if (!v)
        return 0;
    if (!YAJL_IS_NUMBER(v) || !v->u.number.r) {
        mar_pc_type(c, at, key, MAR_E_NUM);
        return -1;
    }
    d = strtod(v->u.number.r, NULL);
    if (!isfinite(d)) {
        mar_pc_type(c, at, key, MAR_E_NUM);
        return -1;
    }
    *out = d;
    return 1;
}

int mar_pc_int(struct mar_pc *c, yajl_val v, const char *at, const char *key,
               int *out)
{
    double d;
    int r = mar_pc_num(c, v, at, key, &d);

    if (r <= 0)
        return r;
    if (d != floor(d) || d < INT32_MIN || d > INT32_MAX) {
        mar_pc_type(c, at, key, MAR_E_INT);
        return -1;
    }
    *out = (int)d;
    return 1;
}

int mar_pc_bool(struct mar_pc *c, yajl_val v, const char *at, const char *key,
                int *out)
{
    if (!v)
        return 0;
    if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
        mar_pc_type(c, at, key, MAR_E_BOOL);
        return -1;
    }
    *out = YAJL_IS_TRUE(v);
    return 1;
}

int mar_pc_arr(struct mar_pc *c, yajl_val v, const char *at, const char *key)
{
    if (!v)
        return 0;
    if (!YAJL_IS_ARRAY(v)) {
        mar_pc_type(c, at, key, MAR_E_ARR);
        return -1;
    }
    return 1;
}

int mar_pc_obj(struct mar_pc *c, yajl_val v, const char *at, const char *key)
{
    if (!v)
        return 0;
    if (!YAJL_IS_OBJECT(v)) {
        mar_pc_type(c, at, key, MAR_E_OBJ);
        return -1;
    }
    return 1;
}

void mar_pc_text(struct mar_pc *c, yajl_val v, const char *at, const char *key,
                 char **out)
{
    int r;

    if (!v)
        return;
    r = mar_json_text(v, out);
    if (r == -1)
        mar_pc_nomem(c);
    else if (r == -2)
        mar_pc_fail(c, at, key, "is nested too deeply (more than %d levels)",
                    MAR_JSON_MAX_DEPTH);
}

int mar_pc_kv(struct mar_pc *c, yajl_val v, const char *at, const char *key,
              struct mar_kv **out, size_t *n)
{
    char sub[96];
    size_t i, len;
    yajl_val val;
    int r = mar_pc_obj(c, v, at, key);

    if (r <= 0)
        return r;
    len = v->u.object.len;
    if (len == 0)
        return 1;
    *out = calloc(len, sizeof(**out));
    if (!*out) {
        mar_pc_nomem(c);
        return -1;
    }
    snprintf(sub, sizeof(sub), "%s/%s", at, key);
    for (i = 0; i < len; i++) {
        val = v->u.object.values[i];
        if (!YAJL_IS_STRING(val)) {
            mar_pc_type(c, sub, v->u.object.keys[i], MAR_E_STR);
            continue;
        }
        (*out)[*n].key = mar_strdup(v->u.object.keys[i]);
        (*out)[*n].value = mar_strdup(YAJL_GET_STRING(val));
        if (!(*out)[*n].key || !(*out)[*n].value)
            mar_pc_nomem(c);
        (*n)++;
    }
    return 1;
}

void mar_kv_free(struct mar_kv *kv, size_t n)
{
    size_t i;

    for (i = 0; kv && i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

/* The shortest of %.15g..%.17g that reads back as v, as the SDK's
 * writer does; then ".0" for an integral value, as Scala prints one. */
void mar_fmt_double(double v, char buf[40])
{
    int prec;

    for (prec = 15; prec <= 17; prec++) {
        snprintf(buf, 40, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".eEn"))
        strcat(buf, ".0");
}
