/*
 * v1_call.c - the parts of Mesos' v1 operator API that the master's
 * POST /api/v1 and the agent's share (see v1_call.h).
 */
#include "v1_call.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "http.h"

void v1_call_bad(struct http_req *req, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    http_reply(req, 400, "text/plain", msg, strlen(msg));
}

/* Whether a media type header names type (parameters ignored). */
static int media_is(const char *h, const char *type)
{
    size_t n = strlen(type);

    while (*h == ' ')
        h++;
    return strncasecmp(h, type, n) == 0 &&
           (h[n] == '\0' || h[n] == ';' || h[n] == ' ');
}

/* Whether Accept (absent: anything) allows application/json. */
static int accepts_json(const char *accept)
{
    const char *p;

    if (accept == NULL || *accept == '\0')
        return 1;
    for (p = accept; p; p = strchr(p, ',')) {
        if (*p == ',')
            p++;
        if (media_is(p, "application/json") || media_is(p, "application/*") ||
            media_is(p, "*/*"))
            return 1;
    }
    return 0;
}

/* Answers a fixed plain-text reason. */
static void reply_text(struct http_req *req, int status, const char *msg)
{
    http_reply(req, status, "text/plain", msg, strlen(msg));
}

yajl_val v1_call_read(struct http_req *req, const char *call)
{
    const char *ct = http_req_header(req, "Content-Type");
    const char *body;
    char err[200];
    yajl_val doc;
    size_t len;

    if (ct == NULL) {
        v1_call_bad(req, "Expecting 'Content-Type' to be present");
        return NULL;
    }
    if (!media_is(ct, "application/json")) {
        reply_text(req, 415, "Expecting 'Content-Type' of application/json "
                             "(protobuf is not served)");
        return NULL;
    }
    if (!accepts_json(http_req_header(req, "Accept"))) {
        reply_text(req, 406, "Expecting 'Accept' to allow "
                             "'application/json'");
        return NULL;
    }
    body = http_req_body(req, &len);
    doc = agora_json_parse(body ? body : "", err, sizeof(err));
    if (doc == NULL) {
        v1_call_bad(req, "Failed to parse body into JSON: %s", err);
        return NULL;
    }
    if (!YAJL_IS_OBJECT(doc) || agora_json_get_str(doc, "type") == NULL) {
        v1_call_bad(req, "Failed to validate %s: Expecting 'type' to be "
                         "present", call);
        yajl_tree_free(doc);
        return NULL;
    }
    return doc;
}

void v1_call_key(const char *type, char *key, size_t len)
{
    size_t i;

    if (len == 0)
        return;
    for (i = 0; type[i] && i + 1 < len; i++)
        key[i] = (char)tolower((unsigned char)type[i]);
    key[i] = '\0';
}

yajl_val v1_call_message(yajl_val doc, const char *type)
{
    char key[64];
    yajl_val msg;

    v1_call_key(type, key, sizeof(key));
    msg = agora_json_get(doc, key);
    return YAJL_IS_OBJECT(msg) ? msg : NULL;
}

int v1_call_u64(yajl_val msg, const char *key, uint64_t *out)
{
    yajl_val v = agora_json_get(msg, key);
    const char *s;
    char *end;
    unsigned long long n;

    if (v == NULL || YAJL_IS_NULL(v))
        return AGORA_ENOENT;
    if (YAJL_IS_INTEGER(v)) {
        if (YAJL_GET_INTEGER(v) < 0)
            return AGORA_EINVAL;
        *out = (uint64_t)YAJL_GET_INTEGER(v);
        return 0;
    }
    /* A number too big for an int64, a fraction, or a string of digits. */
    s = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v)
        : YAJL_IS_NUMBER(v) ? YAJL_GET_NUMBER(v)
                            : NULL;
    if (s == NULL || !isdigit((unsigned char)*s))
        return AGORA_EINVAL;
    errno = 0;
    n = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0)
        return AGORA_EINVAL;
    *out = (uint64_t)n;
    return 0;
}

void v1_reply_open(struct agora_jw *w, const char *type)
{
    char key[64];

    v1_call_key(type, key, sizeof(key));
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "type", type);
    agora_jw_key(w, key);
}

void v1_write_id(struct agora_jw *w, const char *key, const char *id)
{
    agora_jw_key(w, key);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "value", id);
    agora_jw_obj_close(w);
}

void v1_write_time(struct agora_jw *w, const char *key, double secs)
{
    agora_jw_key(w, key);
    agora_jw_obj_open(w);
    agora_jw_kint(w, "nanoseconds", (int64_t)(secs * 1e9));
    agora_jw_obj_close(w);
}

void v1_write_version(struct agora_jw *w)
{
    agora_jw_obj_open(w);
    agora_jw_key(w, "version_info");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "version", AGORA_VERSION);
    agora_jw_kstr(w, "build_date", __DATE__ " " __TIME__);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
}

void v1_write_pairs(struct agora_jw *w, const char *key, struct agora_jw *f)
{
    const char *json = agora_jw_result(f, NULL);
    yajl_val doc = json ? agora_json_parse(json, NULL, 0) : NULL;
    size_t i;

    agora_jw_obj_open(w);
    agora_jw_key(w, key);
    agora_jw_arr_open(w);
    for (i = 0; doc && YAJL_IS_OBJECT(doc) && i < doc->u.object.len; i++) {
        yajl_val v = doc->u.object.values[i];

        if (!YAJL_IS_NUMBER(v) && !YAJL_IS_STRING(v))
            continue;
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "name", doc->u.object.keys[i]);
        if (YAJL_IS_NUMBER(v))
            agora_jw_knum(w, "value", YAJL_GET_DOUBLE(v));
        else
            agora_jw_kstr(w, "value", YAJL_GET_STRING(v));
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    if (doc)
        yajl_tree_free(doc);
    agora_jw_free(f);
}
