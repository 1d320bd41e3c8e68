/*
 * static.c - embedded static files served by their rules (agora/static.h).
 *
 * agora_static_lookup() decides an answer and touches nothing else, so
 * the master's own UI (core/master_ui.c), which is not a plugin, serves
 * its table with the very same rules; agora_static_serve() is the
 * plugin's side, through the services table.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agora/sdk.h"
#include "agora/static.h"

/* Only this origin: no inline script or style, no eval, no framing, no
 * plugins. data: images let a stylesheet carry a small icon. */
#define STATIC_CSP                                                             \
    "default-src 'self'; img-src 'self' data:; object-src 'none'; "            \
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

const struct agora_static_file *
agora_static_find(const struct agora_static_table *t, const char *path)
{
    size_t lo = 0, hi = t->n;

    /* The generator sorts the files by path (strcmp order). */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, t->files[mid].path);

        if (c == 0)
            return &t->files[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static void add_header(struct agora_static_reply *out, const char *name,
                       const char *value)
{
    if (out->nheaders < AGORA_STATIC_MAX_HEADERS) {
        out->headers[out->nheaders].name = name;
        out->headers[out->nheaders].value = value;
        out->nheaders++;
    }
}

/* Skips spaces and tabs. */
static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* The q of an Accept-Encoding item's parameters (from just after its
 * token up to its end), 1 when absent. */
static double item_q(const char *p, const char *end)
{
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));

        if (semi == NULL)
            break;
        p = skip_ws(semi + 1);
        if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
            return strtod(p + 2, NULL);
    }
    return 1.0;
}

/* 1 when Accept-Encoding (RFC 9110 12.5.3) takes gzip: "gzip" or
 * "x-gzip" with q > 0, or "*" with q > 0 and gzip not named. */
static int accepts_gzip(const char *ae)
{
    double gzip_q = -1, star_q = -1;
    const char *p = ae;

    if (ae == NULL)
        return 0;
    while (*p) {
        const char *end = strchr(p, ','), *tok, *tend;

        if (end == NULL)
            end = p + strlen(p);
        tok = skip_ws(p);
        tend = tok;
        while (tend < end && *tend != ';' && *tend != ' ' && *tend != '\t')
            tend++;
        if ((tend - tok == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
            (tend - tok == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
            gzip_q = item_q(tend, end);
        else if (tend - tok == 1 && *tok == '*')
            star_q = item_q(tend, end);
        p = *end ? end + 1 : end;
    }
    return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}

/* 1 when If-None-Match (a list of entity tags, or "*") names etag; weak
 * comparison, as RFC 9110 13.1.2 asks for GET. */
static int etag_matches(const char *inm, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = inm;

    if (inm == NULL)
        return 0;
    while (*p) {
        p = skip_ws(p);
        if (*p == '*')
            return 1;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (strncmp(p, etag, elen) == 0) {
            const char *after = skip_ws(p + elen);

            if (*after == ',' || *after == '\0')
                return 1;
        }
        p = strchr(p, ',');
        if (p == NULL)
            break;
        p++;
    }
    return 0;
}

/* 1 when a segment of p is "." or "..": no file has one, and a client
 * route with one would be a path trick, not a page. */
static int has_dot_segment(const char *p)
{
    while (*p) {
        size_t n = strcspn(p, "/");

        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 1;
        p += n;
        while (*p == '/')
            p++;
    }
    return 0;
}

/* The file for rel: exact, else index.html for "" and for a last
 * segment without '.' (a client-side route). */
static const struct agora_static_file *
resolve(const struct agora_static_table *t, const char *rel)
{
    const struct agora_static_file *f;
    const char *last;

    while (*rel == '/')
        rel++;
    if (*rel == '\0')
        return agora_static_find(t, "index.html");
    f = agora_static_find(t, rel);
    if (f != NULL)
        return f;
    if (has_dot_segment(rel))
        return NULL;
    last = strrchr(rel, '/');
    last = last ? last + 1 : rel;
    if (strchr(last, '.') == NULL)
        return agora_static_find(t, "index.html");
    return NULL;
}

static void error_reply(struct agora_static_reply *out, int status,
                        const char *json)
{
    out->status = status;
    out->content_type = "application/json";
    out->body = json;
    out->len = strlen(json);
}

int agora_static_lookup(const struct agora_static_table *t, const char *method,
                        const char *rel, const char *accept_encoding,
                        const char *if_none_match,
                        struct agora_static_reply *out)
{
    const struct agora_static_file *f;
    int gz;

    memset(out, 0, sizeof(*out));
    add_header(out, "X-Content-Type-Options", "nosniff");
    add_header(out, "Content-Security-Policy", STATIC_CSP);
    add_header(out, "Referrer-Policy", "no-referrer");
    if (method == NULL ||
        (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)) {
        add_header(out, "Allow", "GET, HEAD");
        error_reply(out, 405, "{\"message\":\"only GET and HEAD\"}");
        return out->status;
    }
    f = resolve(t, rel ? rel : "");
    if (f == NULL) {
        error_reply(out, 404, "{\"message\":\"no such file\"}");
        return out->status;
    }
    gz = f->gz != NULL && accepts_gzip(accept_encoding);
    out->file = f;
    out->content_type = f->content_type;
    add_header(out, "ETag", gz ? f->etag_gz : f->etag);
    add_header(out, "Cache-Control", "no-cache");
    add_header(out, "Vary", "Accept-Encoding");
    if (etag_matches(if_none_match, gz ? f->etag_gz : f->etag)) {
        out->status = 304;
        out->body = "";
        return out->status;
    }
    if (gz)
        add_header(out, "Content-Encoding", "gzip");
    out->status = 200;
    out->body = gz ? f->gz : f->data;
    out->len = gz ? f->gz_len : f->len;
    return out->status;
}

/* 1 when the request is for the mount point without its trailing '/'. */
static int needs_slash(const char *path, const char *rel)
{
    size_t n;

    if (rel != NULL && *rel != '\0')
        return 0;
    n = path ? strlen(path) : 0;
    return n > 0 && path[n - 1] != '/';
}

int agora_static_serve(const struct agora_api *api, struct agora_req *req,
                       const struct agora_static_table *t, const char *rel)
{
    struct agora_static_reply out;
    const char *path = api->req_path(req);
    size_t i;

    if (needs_slash(path, rel)) {
        /* Relative, so it holds on the plugin's port and under /<name>/. */
        const char *last = strrchr(path, '/');
        char *loc;
        int rc;

        last = last ? last + 1 : path;
        loc = malloc(strlen(last) + 2);
        if (loc == NULL)
            return agora_reply_error(api, req, 500, "out of memory");
        strcpy(loc, last);
        strcat(loc, "/");
        api->reply_header(req, "Location", loc);
        free(loc);
        rc = api->reply(req, 308, "text/plain", "", 0);
        return rc;
    }
    agora_static_lookup(t, api->req_method(req), rel,
                        api->req_header(req, "Accept-Encoding"),
                        api->req_header(req, "If-None-Match"), &out);
    for (i = 0; i < out.nheaders; i++)
        api->reply_header(req, out.headers[i].name, out.headers[i].value);
    return api->reply(req, out.status, out.content_type, out.body, out.len);
}
