/*
 * agora/static.h - a plugin's web UI: static files embedded at build time
 * and served through the services table (libagora-sdk.a).
 *
 * The files are compiled into the plugin: agora_embed() (installed with
 * the SDK, share/agora/cmake/agora_embed.cmake) turns a directory of
 * assets into a C source holding one struct agora_static_table, each
 * file with its content type, its bytes, its gzip'd bytes and an ETag
 * (a hash of the bytes). Nothing is read from disk at run time and no
 * CDN is needed, so a UI works offline and matches its .so exactly.
 *
 * Serving rules (agora_static_serve and agora_static_lookup):
 *   - GET and HEAD only (405 otherwise).
 *   - "" (the mount point itself) is index.html; so is any unknown path
 *     whose last segment has no '.' (a client-side route, "agents" or
 *     "task"); an unknown path with an extension is 404.
 *   - ETag on every answer; If-None-Match naming it is 304 without body.
 *   - The gzip'd bytes, with Content-Encoding: gzip, when Accept-Encoding
 *     allows gzip (and the gzip'd form is smaller); each form has its own
 *     ETag, and Vary: Accept-Encoding tells caches they differ.
 *   - Cache-Control: no-cache (the browser keeps the file but asks every
 *     time; the ETag makes that a 304), X-Content-Type-Options: nosniff,
 *     Referrer-Policy: no-referrer and a Content-Security-Policy that
 *     allows only this origin: no inline scripts or styles, no eval, no
 *     framing. A UI must therefore load its scripts and styles as files.
 */
#ifndef AGORA_STATIC_H
#define AGORA_STATIC_H

#include <stddef.h>

#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One embedded file. Everything is static data of the generated source. */
struct agora_static_file {
    const char *path;          /* relative, '/'-separated: "js/app.js"   */
    const char *content_type;  /* "text/javascript; charset=utf-8"        */
    const unsigned char *data; /* the bytes                               */
    size_t len;
    const unsigned char *gz;   /* gzip'd, or NULL when it is not smaller  */
    size_t gz_len;
    const char *etag;          /* "\"<hash>\"", quoted as sent            */
    const char *etag_gz;       /* the gzip'd form's, "\"<hash>-gz\""      */
};

/* What agora_embed(target NAME dir) generates: `const struct
 * agora_static_table NAME`, files sorted by path. */
struct agora_static_table {
    const char *name;
    const struct agora_static_file *files;
    size_t n;
};

/* The headers an answer carries at most. */
#define AGORA_STATIC_MAX_HEADERS 10

/* The answer agora_static_lookup() decides. Borrowed from the table and
 * from the header values passed in: valid while they are. */
struct agora_static_reply {
    int status;                /* 200, 304, 404 or 405                   */
    const struct agora_static_file *file; /* NULL for 404 and 405        */
    const char *content_type;  /* the body's: the file's, or JSON         */
    const void *body;          /* what to send (empty for 304)            */
    size_t len;
    struct {
        const char *name, *value;
    } headers[AGORA_STATIC_MAX_HEADERS];
    size_t nheaders;
};

/* The file at path (exact, no leading '/'), or NULL. */
const struct agora_static_file *
agora_static_find(const struct agora_static_table *t, const char *path);

/*
 * Decides the answer to method on rel (the path below the mount point,
 * with or without a leading '/'; NULL is ""), given the request's
 * Accept-Encoding and If-None-Match (either NULL). Pure: it writes only
 * *out, so a server that is not a plugin (the master's own UI) shares
 * the rules. Returns out->status.
 */
int agora_static_lookup(const struct agora_static_table *t,
                        const char *method, const char *rel,
                        const char *accept_encoding,
                        const char *if_none_match,
                        struct agora_static_reply *out);

/*
 * Answers req from t through api (req_method, req_header, reply_header,
 * reply), rel being the path below the mount point (a "*path" route
 * parameter; NULL for the mount point). Mount the UI with two routes,
 * "/ui" and "/ui/" followed by "*path", whose handler calls
 *     agora_static_serve(api, req, &my_ui, api->req_param(req, "path"));
 * (plugin-guide.md shows it whole).
 *
 * The mount point asked without its trailing '/' ("/hello/ui") is sent
 * to it with a 308 (relative URLs in index.html then resolve below it).
 * Returns what api->reply returned.
 */
int agora_static_serve(const struct agora_api *api, struct agora_req *req,
                       const struct agora_static_table *t, const char *rel);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_STATIC_H */
