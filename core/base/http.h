/*
 * http.h - HTTP servers on the event loop (libmicrohttpd, external epoll).
 *
 * Each server is one libmicrohttpd daemon without threads of its own: the
 * loop watches the daemon's epoll descriptor and runs it, and arms a timer
 * from MHD_get_timeout(). A request is routed when its body is complete;
 * the handler answers at once, defers (the connection is suspended until
 * the reply), or opens a stream (a chunked response fed over time, for
 * server-sent events and the agents' event streams).
 *
 * Lifetimes: a request is valid from its handler until it is answered
 * (a deferred one: until http_reply() returns). A stream is valid until
 * http_stream_close() or until its close callback has run.
 */
#ifndef AGORA_HTTP_H
#define AGORA_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct router;
struct http_server;
struct http_req;
struct http_stream;
struct agora_jw;
struct sockaddr;

/* The handler stored in each router route. */
typedef void (*http_handler_fn)(void *arg, struct http_req *req);

/*
 * Called before routing; returns 1 when it answered the request itself
 * (a redirect to the leader, say), 0 to route it.
 */
typedef int (*http_filter_fn)(void *arg, struct http_req *req);

/* Told once when a request is answered or its connection ends. */
typedef void (*http_done_fn)(void *arg, struct http_req *req);

typedef void (*http_stream_close_fn)(void *arg, struct http_stream *s);

struct http_server_conf {
    const char *name;  /* for logs: "master", "plugin marathon"           */
    const char *ip;    /* listen address; NULL or "" = any                */
    uint16_t port;     /* 0 = an ephemeral port (see http_server_port)    */
    size_t max_body;   /* bigger bodies get 413                           */
    unsigned max_conns; /* 0: 10,000                                     */
    size_t conn_memory; /* libmicrohttpd's per-connection pool (request
                         * line and headers must fit); 0: its 32 KB     */
    unsigned max_conns_per_ip; /* connections one client address may
                                * hold (http_guard.h); 0: no limit      */
    double header_timeout; /* seconds for a request's headers to be
                            * complete, from the accept; 0: 10        */
    double idle_timeout;   /* the same from the end of the previous
                            * request on a kept-alive connection; 0: 60 */
    /* HTTPS (GnuTLS, through libmicrohttpd) when tls_cert is set: the
     * PEM texts of the certificate (chain), its key and, to ask clients
     * for certificates, the CA that signs theirs. */
    const char *tls_cert, *tls_key, *tls_ca;
    int tls_require_client_cert; /* refuse requests without a client
                                  * certificate the CA signed (403)    */
};

struct http_stats {
    uint64_t requests;
    uint64_t status_2xx, status_3xx, status_4xx, status_5xx;
    uint64_t streams_open;
    uint64_t deferred_open;
    uint64_t conns_open;           /* connections now                   */
    uint64_t refused_per_ip;       /* over the per-address limit        */
    uint64_t refused_reserve;      /* kept out of the reserve           */
    uint64_t header_timeouts;      /* closed: headers not in time       */
    uint64_t evicted;              /* closed for a newcomer's place     */
};

/*
 * Starts a server listening on conf->ip:conf->port, routing with router
 * (borrowed; swap it with http_server_set_router()). Returns 0 with the
 * server in *out, or an agora_err (AGORA_EIO when the port cannot be
 * bound) with a reason logged. No request is handled before the loop
 * runs: the caller may set the filter and what its handlers read first.
 */
int http_server_start(struct ev_loop *loop, const struct http_server_conf *c,
                      const struct router *router, struct http_server **out);

/*
 * Hands s a connected stream socket as if it had been accepted from addr
 * (len bytes): the fuzz target of the HTTP path (tests/fuzz/fuzz_http.c)
 * feeds each input through one end of a socketpair this way, through the
 * guard, the framing checks and the router, without a TCP connection.
 * fd is taken (closed on failure too). 0, or AGORA_EIO when libmicrohttpd
 * refuses it (the guard's limits included).
 */
int http_server_adopt(struct http_server *s, int fd,
                      const struct sockaddr *addr, unsigned len);

/* Routes later requests with router (borrowed). */
void http_server_set_router(struct http_server *s,
                            const struct router *router);

/* Installs a filter run before routing (NULL to remove). */
void http_server_set_filter(struct http_server *s, http_filter_fn fn,
                            void *arg);

/* Installs a gate run after routing, before the route's handler (the
 * authentication): nonzero when it answered the request itself. */
void http_server_set_gate(struct http_server *s, http_filter_fn fn,
                          void *arg);

/* The principal the gate authenticated (copied), or NULL. */
int http_req_set_principal(struct http_req *r, const char *principal);
const char *http_req_principal(const struct http_req *r);

/* The matched route's handler (set by the gate's time), or NULL. */
void *http_req_route_handler(const struct http_req *r);

/* The port the server listens on. */
uint16_t http_server_port(const struct http_server *s);

void http_server_stats(const struct http_server *s, struct http_stats *out);

/*
 * Answers every deferred request with 503, ends every stream, stops
 * listening and frees the server.
 */
void http_server_stop(struct http_server *s);

/* ---- requests ---- */

const char *http_req_method(const struct http_req *r);
/* The decoded path, without the query string. */
const char *http_req_path(const struct http_req *r);
/* A route parameter (":name" or "*name"), or NULL. */
const char *http_req_param(const struct http_req *r, const char *name);
/* The n-th value (from 0) of a query argument, decoded; "" for a bare
 * key; NULL when there is no n-th. */
const char *http_req_query(struct http_req *r, const char *name, size_t n);
const char *http_req_header(struct http_req *r, const char *name);
/* The query string as it came ("a=1&b=x%20y"), rebuilt and encoded from
 * the parsed arguments; "" when none. Valid until the request ends. */
const char *http_req_query_string(struct http_req *r);
/* The body, NUL-terminated (empty when there is none). */
const char *http_req_body(const struct http_req *r, size_t *len);
/* The client's IP address as text ("10.0.0.5", "::1") in buf; "?" when
 * it cannot be told. Returns buf. */
const char *http_req_peer(const struct http_req *r, char *buf, size_t len);
/* The server the request arrived on. */
struct http_server *http_req_server(const struct http_req *r);
/* The route's argument (as given to router_add), NULL if not routed. */
void *http_req_route_arg(const struct http_req *r);

/* Called once when r is answered or dropped; one per request. */
void http_req_on_done(struct http_req *r, http_done_fn fn, void *arg);

/* Adds a header to the reply to come. */
int http_reply_header(struct http_req *r, const char *name,
                      const char *value);

/*
 * Answers r with a copy of body. content_type NULL is application/json.
 * Returns AGORA_ESTATE when r was already answered.
 */
int http_reply(struct http_req *r, int status, const char *content_type,
               const void *body, size_t len);

/*
 * Answers r with the first size bytes of the file open on fd (taken:
 * closed with the response, or at once on failure), read as the client
 * drains the socket: nothing of it is held in memory. A file that shrank
 * meanwhile ends the connection early. 0 or an agora_err.
 */
int http_reply_fd(struct http_req *r, int status, const char *content_type,
                  int fd, uint64_t size);

/* Answers {"message": msg} (escaped) with the status. */
int http_reply_error(struct http_req *r, int status, const char *msg);

/*
 * Answers with the writer's document (application/json), or 500 when
 * the writer is NULL or failed. Frees w.
 */
int http_reply_jw(struct http_req *r, int status, struct agora_jw *w);

/* Like http_reply_error with a printf-style message. */
int http_reply_errorf(struct http_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 1 when a Content-Length value parses as a number over max; 0 when it
 * is within, absent or does not parse (the parser's to refuse). */
int http_length_over(const char *content_length, uint64_t max);

/* 1 while r's handler runs and has not yet replied, deferred or opened a
 * stream (only then can it become a stream). */
int http_req_in_handler(const struct http_req *r);

/* Keeps r open after the handler returns; http_reply() it later. */
int http_defer(struct http_req *r);

/* ---- streams ---- */

/*
 * Turns r into a stream: a 200 chunked response of content_type. Every
 * `keepalive` seconds without a write, keepalive_text is written (0 to
 * disable). on_close runs when the client goes away or the stream
 * overflows (more than max_pending bytes unsent; 0 = 8 MB), not when the
 * owner closes it. NULL on failure.
 */
struct http_stream *http_stream_open(struct http_req *r,
                                     const char *content_type,
                                     double keepalive,
                                     const char *keepalive_text,
                                     size_t max_pending,
                                     http_stream_close_fn on_close,
                                     void *arg);

/*
 * Bounds the bytes queued on all streams of the process together (0:
 * 64 MB). A write past it ends the streams with the most queued, the
 * slowest clients, until it fits (their on_close runs, as for a client
 * too slow for its own max_pending).
 */
void http_set_stream_budget(size_t bytes);

/* The bytes queued on all streams now, and how many streams the budget
 * or their own max_pending ended so far. */
void http_stream_budget_stats(size_t *pending, uint64_t *cut);

/* Queues data; AGORA_ESTATE when the stream is closing or gone,
 * AGORA_ETOOBIG when it was ended for a slow client. */
int http_stream_write(struct http_stream *s, const void *data, size_t len);

/* Sends what is queued, then ends the response. s is invalid after. */
void http_stream_close(struct http_stream *s);

/*
 * 1 when s's client is known to be gone: its connection ended, or its
 * socket shows the peer's close or an error (read without consuming:
 * a stream's client sends nothing after its request). 0 while it may
 * be alive.
 */
int http_stream_peer_gone(struct http_stream *s);

/* The request a stream answers (for headers and query). */
struct http_req *http_stream_req(struct http_stream *s);

#endif /* AGORA_HTTP_H */
