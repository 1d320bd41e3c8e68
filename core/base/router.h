/*
 * router.h - maps a method and a path to a handler.
 *
 * Patterns are '/'-separated segments: a literal, ":name" (one segment)
 * or "*name" (one or more segments). Empty segments are ignored in both
 * patterns and paths, so "/v2/apps/" is "/v2/apps". When several routes
 * match a path, the most specific wins: segment by segment, literal over
 * :param over *wildcard, then the longer pattern, then the earlier added.
 * A path that matches only routes of other methods is a 405 (with the
 * allowed methods); one that matches nothing is a 404. HEAD is served by
 * a GET route when no HEAD route matches.
 */
#ifndef AGORA_ROUTER_H
#define AGORA_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_SEGS 32
#define ROUTER_MAX_PARAMS 8

enum router_method {
    ROUTER_GET = 1 << 0,
    ROUTER_HEAD = 1 << 1,
    ROUTER_POST = 1 << 2,
    ROUTER_PUT = 1 << 3,
    ROUTER_DELETE = 1 << 4,
    ROUTER_PATCH = 1 << 5,
    ROUTER_OPTIONS = 1 << 6,
    ROUTER_ANY = 0x7f
};

struct router_route {
    unsigned methods;
    char *pattern;                 /* as given, for listings             */
    char *segs[ROUTER_MAX_SEGS];   /* compiled; point into `buf`         */
    unsigned char kind[ROUTER_MAX_SEGS]; /* 3 literal, 2 :param, 1 *wild */
    size_t nsegs;
    char *buf;
    void *handler; /* opaque to the router */
    void *arg;
};

struct router {
    struct router_route *routes;
    size_t n, cap;
};

/* Copies, so a match outlives the router it came from (a reload may
 * replace the router while a deferred request still holds its match). */
struct router_param {
    char *name;
    char *value;
};

struct router_match {
    const struct router_route *route; /* valid only until the router changes */
    void *handler;                    /* the matched route's, copied    */
    void *arg;
    int status;                       /* 0 matched, 404 or 405          */
    unsigned allowed;                 /* for a 405: methods that match  */
    struct router_param params[ROUTER_MAX_PARAMS];
    size_t nparams;
};

#define ROUTER_INIT {NULL, 0, 0}

/* "GET" -> ROUTER_GET; "*" -> ROUTER_ANY; 0 when unknown. */
unsigned router_method_parse(const char *method);

/* Writes "GET, POST" for a mask into out (outlen bytes). */
void router_methods_format(unsigned methods, char *out, size_t outlen);

/*
 * Adds a route: `prefix` (NULL or "/name") is prepended to pattern.
 * handler and arg are stored as given. Returns 0, AGORA_EINVAL (bad
 * method or pattern, too many segments or parameters) or AGORA_ENOMEM.
 */
int router_add(struct router *r, const char *method, const char *prefix,
               const char *pattern, void *handler, void *arg);

/*
 * Finds the route for method and path (decoded, without the query).
 * Returns 0 with m filled (m->status says 0, 404 or 405) or AGORA_ENOMEM.
 * Free with router_match_free().
 */
int router_match(const struct router *r, const char *method,
                 const char *path, struct router_match *m);
void router_match_free(struct router_match *m);

/* The value of a matched parameter, or NULL. */
const char *router_param(const struct router_match *m, const char *name);

void router_free(struct router *r);

#endif /* AGORA_ROUTER_H */
