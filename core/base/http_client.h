/*
 * http_client.h - a small asynchronous HTTP/1.1 client on the agent's
 * libev loop: the agent's link to its masters (subscribe, status updates).
 *
 * Why not libcurl: Debian's libcurl links about thirty libraries (libssh2,
 * OpenSSL's libcrypto and libssl, krb5, ldap, nghttp2, rtmp, idn2, psl,
 * zstd...). Their relocated pages alone cost the agent about 6 MB of RSS
 * (10.4-11 MB idle against 4.8 MB for agora-master, which has no
 * libcurl; the agent's own heap was 1.4 MB), over a 10 MB budget for an
 * agent running 1,000 tasks. The agent needs a fraction of libcurl: plain
 * http:// to its masters, one request per connection or a reused one.
 *
 * What it does:
 *   - http://, and https:// once the client has TLS credentials
 *     (hc_client_set_tls(), GnuTLS: http_tls.h); without them https:// is
 *     refused (AGORA_ENOTSUP).
 *   - Any method with a body and headers; Host and Content-Length are
 *     added. The response's status line and headers are parsed (at most
 *     HC_HEAD_MAX bytes: more is AGORA_ETOOBIG); the body is framed by
 *     Content-Length, chunked transfer-encoding or the end of the
 *     connection, and handed to on_data as it arrives (decoded), so a
 *     never-ending chunked stream works.
 *   - Redirects are not followed: the caller reads hc_status() and the
 *     Location header (hc_header()) and issues the next request
 *     (hc_url_resolve() makes a relative Location absolute).
 *   - A connect timeout (resolution included) and an optional total one.
 *   - keepalive: the connection goes back to an idle pool of the client
 *     after a complete response and is reused by the next request to the
 *     same host:port; a request whose reused connection turns out closed
 *     before any byte of the response is sent again once on a new one.
 *     Without it the request says `Connection: close`.
 *
 * Name resolution never blocks the loop: a numeric address (inet_pton,
 * IPv4 or [IPv6]) is used directly; a host name is resolved by
 * getaddrinfo() in a short-lived detached thread, which signals the loop
 * through an eventfd (http_resolve.h). The lookup's state is
 * reference-counted between the thread and the loop, so a request
 * cancelled during a lookup does not wait for it: whichever side
 * finishes last frees it.
 *
 * Callbacks run on the loop, never inside hc_request(). Each may call
 * hc_cancel() on its own request or any other, and may start requests.
 * A request is valid from hc_request() until its on_done returns or it
 * is cancelled, whichever comes first.
 */
#ifndef AGORA_HTTP_CLIENT_H
#define AGORA_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <agora/plugin.h>

struct ev_loop;
struct hc_client;
struct hc_req;

/* Errors: 0 or an agora_err (<agora/plugin.h>), named by agora_strerror();
 * hc_error(r) has the details of a failed request. */

/* Largest response header block (status line included). */
#define HC_HEAD_MAX (64u * 1024)
/* Connect timeout when the options give none (seconds). */
#define HC_CONNECT_TIMEOUT 10.0
/* Idle connections kept per client, and how long (seconds). */
#define HC_POOL_MAX 4
#define HC_IDLE_TIMEOUT 30.0

/* The status line and headers are in (hc_status, hc_header). Non-zero
 * ends the request with AGORA_ECANCELED. */
typedef int (*hc_head_fn)(void *arg, struct hc_req *r);
/* len > 0 bytes of the (decoded) body; borrowed for the call. Non-zero
 * ends the request with AGORA_ECANCELED. */
typedef int (*hc_data_fn)(void *arg, struct hc_req *r, const char *data,
                          size_t len);
/* The request ended: err 0 when the whole response arrived (any status),
 * else an hc_err with details in hc_error(r). r is freed on return. */
typedef void (*hc_done_fn)(void *arg, struct hc_req *r, int err);

struct hc_opts {
    const char *method;         /* NULL: GET                             */
    const char *url;            /* http://host[:port][/path][?query]     */
    const char *const *headers; /* "Name: value", NULL-terminated; NULL  */
    const char *body;           /* copied; may be NULL                   */
    size_t body_len;
    double connect_timeout; /* seconds; 0: HC_CONNECT_TIMEOUT        */
    double timeout;         /* seconds for the whole request; 0: none */
    int keepalive;          /* reuse the connection (see above)      */
    hc_head_fn on_head;     /* each may be NULL                      */
    hc_data_fn on_data;
    hc_done_fn on_done;
    void *arg;
};

/* Counters, for metrics and tests. */
struct hc_stats {
    uint64_t requests; /* started by hc_request()                   */
    uint64_t connects; /* new connections made                      */
    uint64_t reused;   /* requests sent on a pooled connection      */
    uint64_t retries;  /* sent again after a stale pooled one       */
    uint64_t lookups;  /* host names resolved in a thread           */
    size_t active;     /* requests in progress                      */
    size_t idle;       /* connections in the pool                   */
};

/* A client on loop, in *out. 0 or AGORA_ENOMEM. */
int hc_client_new(struct ev_loop *loop, struct hc_client **out);

/* Gives c the credentials of its https:// requests (taken over: freed
 * with c); t NULL refuses https:// again. */
struct hc_tls;
void hc_client_set_tls(struct hc_client *c, struct hc_tls *t);

/* Cancels every request (no callbacks), closes the pool, frees c.
 * Not from inside a callback of c. NULL is a no-op. */
void hc_client_free(struct hc_client *c);

/*
 * Starts a request described by o (copied: o and what it points to may
 * go once this returns). Returns 0 with the request in *out (may be
 * NULL), or AGORA_ENOMEM, AGORA_EINVAL, AGORA_EURL, AGORA_ENOTSUP at once, without
 * callbacks. Every other failure reaches on_done, on a later loop turn.
 */
int hc_request(struct hc_client *c, const struct hc_opts *o,
               struct hc_req **out);

/* Ends r at once without calling on_done; its connection is closed.
 * Allowed anywhere, its own callbacks included (the memory goes when
 * they return). Not after on_done returned (r is gone). */
void hc_cancel(struct hc_req *r);

/* The response's status (0 before the status line). */
int hc_status(const struct hc_req *r);

/* The first response header called name (any case), or NULL. Borrowed:
 * valid while r is. */
const char *hc_header(const struct hc_req *r, const char *name);

/* The URL r asked for, as given. Borrowed: valid while r is. */
const char *hc_url(const struct hc_req *r);

/* Why r failed, e.g. "connect to 10.0.0.1:5050: Connection refused";
 * "" before it failed. Borrowed: valid while r is. */
const char *hc_error(const struct hc_req *r);

void hc_get_stats(const struct hc_client *c, struct hc_stats *out);

/*
 * "http://host:port" of an http:// URL (port made explicit), malloc'ed
 * in *out. 0, AGORA_ENOMEM, AGORA_EURL or AGORA_ENOTSUP.
 */
int hc_url_base(const char *url, char **out);

/*
 * ref (a Location header: absolute, "//host/...", "/path" or relative)
 * made absolute against base, malloc'ed in *out. 0, AGORA_ENOMEM, AGORA_EURL.
 */
int hc_url_resolve(const char *base, const char *ref, char **out);

#endif /* AGORA_HTTP_CLIENT_H */
