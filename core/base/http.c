/*
 * http.c - libmicrohttpd servers driven by libev (see http.h).
 *
 * libmicrohttpd runs in external epoll mode: it owns an epoll set of the
 * listen socket and connections, and we watch that one descriptor. After
 * every MHD_run() the timer is re-armed from MHD_get_timeout(), which is
 * 0 while a connection has buffered work (a resumed one, say).
 *
 * A request's body is collected up to max_body; routing happens when it
 * is complete. Replies are built into req->resp and queued on the next
 * access-handler call for the connection: at once when the handler
 * answered, or after MHD_resume_connection() for a deferred request.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ev.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include <agora/json.h>
#include <agora/plugin.h>

#include "http_guard.h"
#include "log.h"
#include "router.h"

#define HTTP_DEFAULT_MAX_PENDING (8u << 20)
#define HTTP_DEFAULT_STREAM_BUDGET ((size_t)64 << 20)
#define HTTP_BODY_MAX_DEFAULT (1u << 20)
/* A drained stream keeps a buffer up to this size for its next write:
 * the master writes an agent's stream every launch and acknowledgement,
 * and a buffer freed each time was allocated and faulted in again. */
#define HTTP_STREAM_KEEP 8192u

struct http_server {
    struct ev_loop *loop;
    struct MHD_Daemon *daemon;
    ev_io io;
    ev_timer timer;
    char *name;
    const struct router *router;
    http_filter_fn filter;
    void *filter_arg;
    http_filter_fn gate;          /* after routing: authentication      */
    int tls_require_client_cert;
    void *gate_arg;
    size_t max_body;
    uint16_t port;
    struct http_stats stats;
    struct http_req *live; /* deferred requests and streams */
    int stopping;
    int running;           /* inside MHD_run()                          */
    struct http_req *resume_head; /* resumes held until MHD_run() returns */
    struct http_server *next;     /* on http_servers                    */
    struct http_guard *guard;     /* per-address limits, deadlines      */
};

/*
 * The bytes queued on every stream of every server of the process, and
 * the bound on them: past it the streams with the most queued (their
 * clients read slowest) are ended first. One loop thread runs every
 * server, so plain statics do.
 */
static struct http_server *http_servers;
static size_t http_pending_total;
static size_t http_pending_budget = HTTP_DEFAULT_STREAM_BUDGET;
static uint64_t http_streams_cut;

enum req_state {
    REQ_NEW,      /* headers seen, body arriving                      */
    REQ_HANDLING, /* inside the handler                               */
    REQ_DEFERRED, /* suspended, waiting for http_reply()             */
    REQ_ANSWERED, /* resp built, not queued yet                       */
    REQ_QUEUED,   /* resp handed to libmicrohttpd                     */
    REQ_STREAM    /* a stream response is queued                      */
};

struct http_header {
    char *name, *value;
    struct http_header *next;
};

struct http_req {
    struct http_server *srv;
    struct MHD_Connection *conn;
    enum req_state state;
    const char *method; /* libmicrohttpd's, valid until the request ends */
    const char *path;
    char *body;         /* NULL until a body arrives                      */
    size_t len, cap;
    int too_big;
    int no_client_cert;  /* TLS without a valid client certificate  */
    const char *refused; /* why it is answered 400 before routing */
    size_t dropped; /* body bytes read past the limit */
    int suspended;
    int resume_pending;            /* on srv->resume_head                */
    struct http_req *resume_next;
    struct router_match match;
    char *principal;              /* who the gate found, or NULL        */
    int matched;
    struct http_header *headers;
    struct MHD_Response *resp;
    unsigned status;
    struct http_stream *stream;
    char *query;        /* http_req_query_string()'s, when asked      */
    http_done_fn done;
    void *done_arg;
    struct http_req *live_prev, *live_next; /* on srv->live when parked */
};

struct http_stream {
    struct http_server *srv;
    struct http_req *req; /* NULL once the connection has ended */
    char *buf;
    size_t off, len, cap, max;
    int closing;  /* owner closed: drain, then end                    */
    int gone;     /* the connection ended                             */
    int wrote;    /* a write since the last keepalive tick            */
    int cut;      /* ended for the budget: the connection is dropped,
                   * and on_close runs when it is gone               */
    ev_timer keepalive;
    char *keepalive_text;
    http_stream_close_fn on_close;
    void *arg;
};

static void http_server_kick(struct http_server *s);

/*
 * Wakes a suspended connection. libmicrohttpd 0.9.75 in epoll mode can
 * lose a resume made while MHD_run() is running (a handler answering a
 * deferred request, or writing to a stream, from inside the daemon's own
 * run): the connection then sleeps until its next timeout. Such resumes
 * are held and made when MHD_run() has returned. The request cannot go
 * meanwhile: libmicrohttpd still counts it as suspended.
 */
static void http_resume(struct http_req *r)
{
    struct http_server *s = r->srv;

    r->suspended = 0;
    if (s->running) {
        if (!r->resume_pending) {
            r->resume_pending = 1;
            r->resume_next = s->resume_head;
            s->resume_head = r;
        }
        return;
    }
    MHD_resume_connection(r->conn);
    http_server_kick(s);
}

/* The resumes held during MHD_run(); 1 when there were any. */
static int http_resume_held(struct http_server *s)
{
    struct http_req *r;
    int any = 0;

    while ((r = s->resume_head) != NULL) {
        s->resume_head = r->resume_next;
        r->resume_next = NULL;
        r->resume_pending = 0;
        MHD_resume_connection(r->conn);
        any = 1;
    }
    return any;
}

/* ---- parked requests: deferred ones and streams ---- */

static void http_live_add(struct http_req *r)
{
    struct http_server *s = r->srv;

    r->live_prev = NULL;
    r->live_next = s->live;
    if (s->live)
        s->live->live_prev = r;
    s->live = r;
}

static void http_live_remove(struct http_req *r)
{
    if (r->live_prev)
        r->live_prev->live_next = r->live_next;
    else if (r->srv->live == r)
        r->srv->live = r->live_next;
    if (r->live_next)
        r->live_next->live_prev = r->live_prev;
    r->live_prev = r->live_next = NULL;
}

/* ---- request life ---- */

static struct http_req *http_req_new(struct http_server *s,
                                     struct MHD_Connection *conn,
                                     const char *url, const char *method)
{
    struct http_req *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->srv = s;
    r->conn = conn;
    r->method = method;
    r->path = url;
    return r;
}

static void http_headers_free(struct http_header *h)
{
    while (h) {
        struct http_header *next = h->next;

        free(h->name);
        free(h->value);
        free(h);
        h = next;
    }
}

/* Tells the owner, once, that r is finished with. */
static void http_req_notify_done(struct http_req *r)
{
    http_done_fn fn = r->done;

    r->done = NULL;
    if (fn)
        fn(r->done_arg, r);
}

static void http_req_free(struct http_req *r)
{
    http_req_notify_done(r);
    if (r->matched)
        router_match_free(&r->match);
    free(r->principal);
    if (r->resp)
        MHD_destroy_response(r->resp);
    http_headers_free(r->headers);
    free(r->body);
    free(r->query);
    free(r);
}

void http_req_on_done(struct http_req *r, http_done_fn fn, void *arg)
{
    r->done = fn;
    r->done_arg = arg;
}

/* ---- body ---- */

/* Appends upload data; marks the request too big past the limit. */
static void http_body_append(struct http_req *r, const char *data, size_t n)
{
    if (r->too_big)
        return;
    if (r->len + n > r->srv->max_body) {
        r->too_big = 1;
        return;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        char *b;

        while (cap < r->len + n + 1)
            cap *= 2;
        b = realloc(r->body, cap);
        if (b == NULL) {
            r->too_big = 1; /* answered 413: nothing is half-parsed */
            return;
        }
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
}

/* ---- replies ---- */

static void http_count_status(struct http_server *s, unsigned status)
{
    if (status < 300)
        s->stats.status_2xx++;
    else if (status < 400)
        s->stats.status_3xx++;
    else if (status < 500)
        s->stats.status_4xx++;
    else
        s->stats.status_5xx++;
}

int http_reply_header(struct http_req *r, const char *name,
                      const char *value)
{
    struct http_header *h;

    if (r->state == REQ_ANSWERED || r->state == REQ_QUEUED ||
        r->state == REQ_STREAM)
        return AGORA_ESTATE;
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return AGORA_ENOMEM;
    h->name = strdup(name);
    h->value = strdup(value);
    if (!h->name || !h->value) {
        http_headers_free(h);
        return AGORA_ENOMEM;
    }
    h->next = r->headers;
    r->headers = h;
    return 0;
}

/* Adds the collected headers to resp; 0 or AGORA_ENOMEM. */
static int http_apply_headers(struct http_req *r, struct MHD_Response *resp)
{
    struct http_header *h;

    for (h = r->headers; h; h = h->next)
        if (MHD_add_response_header(resp, h->name, h->value) != MHD_YES)
            return AGORA_EINVAL;
    return 0;
}

static int http_reply_resp(struct http_req *r, int status,
                           const char *content_type,
                           struct MHD_Response *resp);

int http_reply(struct http_req *r, int status, const char *content_type,
               const void *body, size_t len)
{
    if (r->state != REQ_HANDLING && r->state != REQ_DEFERRED &&
        r->state != REQ_NEW)
        return AGORA_ESTATE;
    if (status < 100 || status > 599)
        return AGORA_EINVAL;
    return http_reply_resp(r, status, content_type,
                           MHD_create_response_from_buffer(
                               len, (void *)body, MHD_RESPMEM_MUST_COPY));
}

int http_reply_fd(struct http_req *r, int status, const char *content_type,
                  int fd, uint64_t size)
{
    struct MHD_Response *resp;

    if ((r->state != REQ_HANDLING && r->state != REQ_DEFERRED &&
         r->state != REQ_NEW) ||
        status < 100 || status > 599) {
        close(fd);
        return r->state == REQ_HANDLING || r->state == REQ_DEFERRED ||
                       r->state == REQ_NEW
                   ? AGORA_EINVAL : AGORA_ESTATE;
    }
    /* libmicrohttpd reads the file (sendfile() where it can) as the
     * socket drains, and closes fd with the response. */
    resp = MHD_create_response_from_fd_at_offset64(size, fd, 0);
    if (resp == NULL) {
        close(fd);
        return AGORA_ENOMEM;
    }
    return http_reply_resp(r, status, content_type, resp);
}

/* Answers r with resp (taken; NULL: out of memory). */
static int http_reply_resp(struct http_req *r, int status,
                           const char *content_type,
                           struct MHD_Response *resp)
{
    if (resp == NULL)
        return AGORA_ENOMEM;
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                content_type ? content_type
                                             : "application/json") !=
            MHD_YES ||
        http_apply_headers(r, resp) < 0) {
        MHD_destroy_response(resp);
        return AGORA_ENOMEM;
    }
    r->resp = resp;
    r->status = (unsigned)status;
    if (r->state == REQ_DEFERRED) {
        http_live_remove(r);
        r->srv->stats.deferred_open--;
    }
    r->state = REQ_ANSWERED;
    /* A reply made inside the handler, even after defer(), is queued when
     * the handler returns; only a suspended connection needs waking. */
    if (r->suspended)
        http_resume(r);
    http_req_notify_done(r);
    return 0;
}

int http_reply_error(struct http_req *r, int status, const char *msg)
{
    size_t need = agora_json_quote(msg, NULL, 0);
    char *body = malloc(need + 16);
    int rc;

    if (body == NULL)
        return AGORA_ENOMEM;
    memcpy(body, "{\"message\":", 11);
    agora_json_quote(msg, body + 11, need + 1);
    memcpy(body + 11 + need, "}", 2);
    rc = http_reply(r, status, NULL, body, need + 12);
    free(body);
    return rc;
}

int http_reply_jw(struct http_req *r, int status, struct agora_jw *w)
{
    size_t len;
    const char *doc = w ? agora_jw_result(w, &len) : NULL;
    int rc;

    if (doc)
        rc = http_reply(r, status, NULL, doc, len);
    else
        rc = http_reply_error(r, 500, "out of memory");
    agora_jw_free(w);
    return rc;
}

int http_reply_errorf(struct http_req *r, int status, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    int rc;

    va_start(ap, fmt);
    rc = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (rc < 0)
        return AGORA_ENOMEM;
    rc = http_reply_error(r, status, msg);
    free(msg);
    return rc;
}

int http_req_in_handler(const struct http_req *r)
{
    return r->state == REQ_HANDLING;
}

int http_defer(struct http_req *r)
{
    if (r->state != REQ_HANDLING)
        return AGORA_ESTATE;
    r->state = REQ_DEFERRED;
    http_live_add(r);
    r->srv->stats.deferred_open++;
    return 0;
}

/* Hands the built response to libmicrohttpd. */
static enum MHD_Result http_queue(struct http_req *r)
{
    enum MHD_Result ok;

    r->state = REQ_QUEUED;
    http_count_status(r->srv, r->status);
    ok = MHD_queue_response(r->conn, r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    return ok;
}

/* ---- request accessors ---- */

const char *http_req_method(const struct http_req *r) { return r->method; }

const char *http_req_path(const struct http_req *r) { return r->path; }

const char *http_req_param(const struct http_req *r, const char *name)
{
    return r->matched ? router_param(&r->match, name) : NULL;
}

struct http_query_iter {
    const char *name;
    size_t n;
    const char *found;
};

static enum MHD_Result http_query_each(void *cls, enum MHD_ValueKind kind,
                                       const char *key, const char *value)
{
    struct http_query_iter *it = cls;

    (void)kind;
    if (strcmp(key, it->name) != 0)
        return MHD_YES;
    if (it->n-- == 0) {
        it->found = value ? value : "";
        return MHD_NO;
    }
    return MHD_YES;
}

const char *http_req_query(struct http_req *r, const char *name, size_t n)
{
    struct http_query_iter it = {name, n, NULL};

    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, http_query_each,
                              &it);
    return it.found;
}

struct query_buf {
    char *s;
    size_t len, cap;
    int failed;
};

static void query_put(struct query_buf *q, const char *text, int encode)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; text && *text && !q->failed; text++) {
        unsigned char c = (unsigned char)*text;
        int plain = !encode || (c >= 'a' && c <= 'z') ||
                    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~' || c == '/';

        if (q->len + 4 > q->cap) {
            size_t cap = q->cap ? q->cap * 2 : 64;
            char *s = realloc(q->s, cap);

            if (s == NULL) {
                q->failed = 1;
                return;
            }
            q->s = s;
            q->cap = cap;
        }
        if (plain) {
            q->s[q->len++] = (char)c;
        } else {
            q->s[q->len++] = '%';
            q->s[q->len++] = hex[c >> 4];
            q->s[q->len++] = hex[c & 15];
        }
    }
}

static enum MHD_Result query_each(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value)
{
    struct query_buf *q = cls;

    (void)kind;
    if (q->len)
        query_put(q, "&", 0);
    query_put(q, key, 1);
    if (value) {
        query_put(q, "=", 0);
        query_put(q, value, 1);
    }
    return MHD_YES;
}

const char *http_req_query_string(struct http_req *r)
{
    struct query_buf q = {NULL, 0, 0, 0};

    if (r->query)
        return r->query;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_each, &q);
    query_put(&q, "", 0);
    if (q.failed || q.s == NULL) {
        free(q.s);
        return "";
    }
    q.s[q.len] = '\0';
    r->query = q.s;
    return r->query;
}

const char *http_req_header(struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_req_body(const struct http_req *r, size_t *len)
{
    if (len)
        *len = r->len;
    return r->body ? r->body : "";
}

const char *http_req_peer(const struct http_req *r, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
        r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    const void *addr = NULL;

    snprintf(buf, len, "?");
    if (sa && sa->sa_family == AF_INET)
        addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (sa && sa->sa_family == AF_INET6)
        addr = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (addr && inet_ntop(sa->sa_family, addr, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "?");
    return buf;
}

struct http_server *http_req_server(const struct http_req *r)
{
    return r->srv;
}

void *http_req_route_arg(const struct http_req *r)
{
    return r->matched ? r->match.arg : NULL;
}

/* ---- TLS ---- */

/* Whether the connection's peer showed a certificate our CA signed. */
static int http_tls_client_ok(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
        conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t tls = ci ? (gnutls_session_t)ci->tls_session : NULL;
    unsigned int status = 1, n = 0;

    if (tls == NULL || gnutls_certificate_get_peers(tls, &n) == NULL ||
        n == 0)
        return 0;
    return gnutls_certificate_verify_peers2(tls, &status) == 0 &&
           status == 0;
}

/* ---- routing ---- */

static void http_route(struct http_req *r)
{
    struct http_server *s = r->srv;
    char allow[128];
    http_handler_fn fn;

    if (s->filter && s->filter(s->filter_arg, r))
        return;
    if (s->router == NULL ||
        router_match(s->router, r->method, r->path, &r->match) < 0) {
        http_reply_error(r, 500, "out of memory");
        return;
    }
    r->matched = 1;
    if (r->match.status == 404) {
        http_reply_errorf(r, 404, "no route for %s %s", r->method, r->path);
        return;
    }
    if (r->match.status == 405) {
        router_methods_format(r->match.allowed, allow, sizeof(allow));
        http_reply_header(r, "Allow", allow);
        http_reply_errorf(r, 405, "method %s not allowed on %s", r->method,
                          r->path);
        return;
    }
    if (s->gate && s->gate(s->gate_arg, r))
        return;
    fn = (http_handler_fn)r->match.handler;
    fn(r->match.arg, r);
}

static int http_cross_site(struct http_req *r);

/* Runs the handler and turns what it did into the connection's next step. */
static enum MHD_Result http_dispatch(struct http_req *r)
{
    r->srv->stats.requests++;
    r->state = REQ_HANDLING;
    if (r->no_client_cert) {
        http_reply_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
        http_reply_error(r, 403, "a client certificate signed by the "
                                 "server's CA is required");
    } else if (r->refused) {
        /* What the body is cannot be told: the connection goes after. */
        http_reply_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
        http_reply_error(r, 400, r->refused);
    } else if (r->too_big) {
        http_reply_errorf(r, 413, "request body larger than %zu bytes",
                          r->srv->max_body);
    } else if (http_cross_site(r)) {
        http_reply_error(r, 403, "a state-changing request from another "
                                 "site: send it with Content-Type: "
                                 "application/json");
    } else {
        http_route(r);
    }
    switch (r->state) {
    case REQ_ANSWERED:
        return http_queue(r);
    case REQ_DEFERRED:
        r->suspended = 1;
        MHD_suspend_connection(r->conn);
        return MHD_YES;
    case REQ_STREAM:
        return MHD_YES;
    default:
        log_error("http", "%s %s: the handler neither replied nor deferred",
                  r->method, r->path);
        http_reply_error(r, 500, "the handler did not reply");
        return http_queue(r);
    }
}

int http_length_over(const char *content_length, uint64_t max)
{
    unsigned long long n;
    char *end;

    if (content_length == NULL)
        return 0;
    errno = 0;
    n = strtoull(content_length, &end, 10);
    return errno == 0 && end != content_length && n > max;
}

struct framing {
    const char *length; /* the first Content-Length              */
    int lengths_differ;
    int chunked;        /* a Transfer-Encoding header             */
};

static enum MHD_Result framing_each(void *cls, enum MHD_ValueKind kind,
                                    const char *key, const char *value)
{
    struct framing *f = cls;

    (void)kind;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->length == NULL)
            f->length = value ? value : "";
        else if (strcmp(f->length, value ? value : "") != 0)
            f->lengths_differ = 1;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->chunked = 1;
    }
    return MHD_YES;
}

/*
 * A body whose length two headers tell differently (two different
 * Content-Length, or one with Transfer-Encoding) is where a proxy and
 * this server may disagree on where the next request starts: refused.
 */
static const char *http_framing_refused(struct http_req *r)
{
    struct framing f = {NULL, 0, 0};

    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, framing_each, &f);
    if (f.lengths_differ)
        return "two different Content-Length headers";
    if (f.length && f.chunked)
        return "Content-Length with Transfer-Encoding";
    return NULL;
}

/* The media type of a Content-Type a form or a simple fetch() may send
 * from any page: application/x-www-form-urlencoded, multipart/form-data,
 * text/plain (parameters after ';' ignored). */
static int http_simple_type(const char *ct)
{
    static const char *const simple[] = {
        "application/x-www-form-urlencoded", "multipart/form-data",
        "text/plain"};
    size_t i, n;

    while (*ct == ' ' || *ct == '\t')
        ct++;
    for (n = 0; ct[n] && ct[n] != ';' && ct[n] != ' ' && ct[n] != '\t'; n++)
        ;
    for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
        if (strlen(simple[i]) == n && strncasecmp(ct, simple[i], n) == 0)
            return 1;
    return 0;
}

/*
 * 1 for a request that changes state (not GET, HEAD or OPTIONS), that a
 * page of another site could have made a browser send: a "simple"
 * request (no body type but a form's or text/plain, no header of its
 * own) with an Origin (or Sec-Fetch-Site) other than this server's own.
 * A browser sends Origin with every such request; curl, agents and other
 * programs send none and are not concerned. A request with a JSON body
 * or a header such as X-Requested-With would have needed a CORS
 * preflight, which this server never grants.
 */
static int http_cross_site(struct http_req *r)
{
    const char *origin, *host, *ct, *site, *o;

    if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0 ||
        strcmp(r->method, "OPTIONS") == 0)
        return 0;
    ct = http_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if ((ct && !http_simple_type(ct)) ||
        http_req_header(r, "X-Requested-With"))
        return 0;
    site = http_req_header(r, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return 1;
    origin = http_req_header(r, "Origin");
    if (origin == NULL)
        return 0;
    host = http_req_header(r, MHD_HTTP_HEADER_HOST);
    o = strstr(origin, "://");
    o = o ? o + 3 : origin;
    return host == NULL || strcmp(o, host) != 0;
}

/* A Content-Length over the limit is refused before the body is read. */
static int http_declared_too_big(struct http_req *r)
{
    return http_length_over(
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_CONTENT_LENGTH),
        r->srv->max_body);
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn,
                                   const char *url, const char *method,
                                   const char *version,
                                   const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    struct http_server *s = cls;
    struct http_req *r = *con_cls;

    (void)version;
    if (r == NULL) {
        r = http_req_new(s, conn, url, method);
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
        http_guard_headers_done(conn);
        if (s->tls_require_client_cert && !http_tls_client_ok(conn)) {
            r->no_client_cert = 1;
            return http_dispatch(r);
        }
        if ((r->refused = http_framing_refused(r)) != NULL)
            return http_dispatch(r);
        if (http_declared_too_big(r)) {
            r->too_big = 1;
            return http_dispatch(r);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;

        *upload_data_size = 0;
        if (r->state != REQ_NEW)
            return MHD_YES;
        http_body_append(r, upload_data, n);
        /* libmicrohttpd cannot answer in the middle of a body: the rest
         * is read and dropped, then answered 413 - up to a bound, past
         * which the connection is simply closed. */
        if (r->too_big && (r->dropped += n) > 8 * r->srv->max_body)
            return MHD_NO;
        return MHD_YES;
    }
    switch (r->state) {
    case REQ_NEW:
        return http_dispatch(r);
    case REQ_ANSWERED:
        return http_queue(r);
    default:
        return MHD_YES;
    }
}

static void http_completed(void *cls, struct MHD_Connection *conn,
                           void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    struct http_req *r = *con_cls;

    (void)cls;
    (void)toe;
    http_guard_request_done(conn);
    if (r == NULL)
        return;
    *con_cls = NULL;
    if (r->stream)
        r->stream->req = NULL; /* the stream's free callback ends it */
    if (r->state == REQ_DEFERRED || r->state == REQ_STREAM)
        http_live_remove(r);
    http_req_free(r);
}

/* ---- streams ---- */

static void http_stream_resume(struct http_stream *st)
{
    struct http_req *r = st->req;

    if (r && r->suspended)
        http_resume(r);
}

static ssize_t http_stream_read(void *cls, uint64_t pos, char *buf,
                                size_t max)
{
    struct http_stream *st = cls;
    size_t n = st->len - st->off;

    (void)pos;
    if (n > 0) {
        if (n > max)
            n = max;
        memcpy(buf, st->buf + st->off, n);
        st->off += n;
        http_pending_total -= n;
        if (st->off == st->len) {
            st->off = st->len = 0;
            /* Drained: give a big buffer back. A master holds a stream
             * per agent, mostly idle; none should keep its largest
             * burst, only what one launch needs. */
            if (st->cap > HTTP_STREAM_KEEP) {
                free(st->buf);
                st->buf = NULL;
                st->cap = 0;
            }
        }
        return (ssize_t)n;
    }
    if (st->cut)
        return MHD_CONTENT_READER_END_WITH_ERROR; /* no clean end: drop */
    if (st->closing)
        return MHD_CONTENT_READER_END_OF_STREAM;
    /* Nothing to send: park the connection until a write resumes it. */
    st->req->suspended = 1;
    MHD_suspend_connection(st->req->conn);
    return 0;
}

/* The response is gone: the client left, or the stream ended. */
static void http_stream_free(void *cls)
{
    struct http_stream *st = cls;

    if (st->req)
        st->req->stream = NULL;
    http_pending_total -= st->len - st->off;
    st->len = st->off = 0;
    ev_timer_stop(st->srv->loop, &st->keepalive);
    if (!st->closing || st->cut) {
        if (!st->closing)
            st->srv->stats.streams_open--;
        st->closing = 1;
        if (st->on_close)
            st->on_close(st->arg, st);
    }
    free(st->keepalive_text);
    free(st->buf);
    free(st);
}

static void http_stream_tick(struct ev_loop *loop, ev_timer *w, int events)
{
    struct http_stream *st = w->data;

    (void)loop;
    (void)events;
    if (!st->wrote && st->keepalive_text)
        http_stream_write(st, st->keepalive_text, strlen(st->keepalive_text));
    st->wrote = 0;
}

struct http_stream *http_stream_open(struct http_req *r,
                                     const char *content_type,
                                     double keepalive,
                                     const char *keepalive_text,
                                     size_t max_pending,
                                     http_stream_close_fn on_close,
                                     void *arg)
{
    struct http_stream *st;
    struct MHD_Response *resp;

    if (r->state != REQ_HANDLING)
        return NULL;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->srv = r->srv;
    st->req = r;
    st->max = max_pending ? max_pending : HTTP_DEFAULT_MAX_PENDING;
    st->on_close = on_close;
    st->arg = arg;
    if (keepalive_text && (st->keepalive_text = strdup(keepalive_text)) == NULL) {
        free(st);
        return NULL;
    }
    /* The block is allocated per stream: a master holds one stream per
     * agent, so it stays small. */
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024,
                                             http_stream_read, st,
                                             http_stream_free);
    if (resp == NULL) {
        free(st->keepalive_text);
        free(st);
        return NULL;
    }
    ev_timer_init(&st->keepalive, http_stream_tick, keepalive, keepalive);
    st->keepalive.data = st;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            content_type ? content_type : "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    http_apply_headers(r, resp);
    if (MHD_queue_response(r->conn, MHD_HTTP_OK, resp) != MHD_YES) {
        /* The free callback runs on destroy and frees st. */
        st->closing = 1;
        MHD_destroy_response(resp);
        return NULL;
    }
    r->srv->stats.streams_open++;
    MHD_destroy_response(resp);
    http_count_status(r->srv, 200);
    r->state = REQ_STREAM;
    r->stream = st;
    http_live_add(r);
    if (keepalive > 0)
        ev_timer_start(r->srv->loop, &st->keepalive);
    http_req_notify_done(r);
    return st;
}

/*
 * Ends st as if its client had left, dropping what it had queued. The
 * writer (self) hears of it at once, as before its write returns; any
 * other stream's owner when its connection is gone (it may be in the
 * middle of a loop over its streams, which must not lose one under it):
 * until then its writes fail, and a close of its own means it no longer
 * wants to hear.
 */
static void http_stream_cut(struct http_stream *st, int self,
                            const char *why)
{
    log_warn("http", "stream on %s: %s, %zu bytes pending",
             st->req ? st->req->path : "?", why, st->len - st->off);
    http_pending_total -= st->len - st->off;
    st->len = st->off = st->cap = 0;
    free(st->buf); /* now: the connection may take a while to go */
    st->buf = NULL;
    http_streams_cut++;
    http_stream_close(st);
    if (self) {
        if (st->on_close)
            st->on_close(st->arg, st);
    } else {
        st->cut = 1;
    }
}

/* The open stream with the most bytes queued, of every server. */
static struct http_stream *http_stream_slowest(void)
{
    struct http_stream *worst = NULL;
    struct http_server *s;
    struct http_req *r;

    for (s = http_servers; s; s = s->next)
        for (r = s->live; r; r = r->live_next) {
            struct http_stream *st = r->stream;

            if (st && !st->closing && st->len > st->off &&
                (worst == NULL ||
                 st->len - st->off > worst->len - worst->off))
                worst = st;
        }
    return worst;
}

/*
 * Makes room for len more bytes under the process' budget by ending the
 * slowest streams. 0, or AGORA_ETOOBIG when st itself was ended.
 */
static int http_budget_reclaim(struct http_stream *st, size_t len)
{
    while (http_pending_total + len > http_pending_budget) {
        struct http_stream *victim = http_stream_slowest();

        if (victim == NULL || victim == st ||
            victim->len - victim->off < st->len - st->off + len) {
            /* The writer is the slowest (or nothing else queues). */
            http_stream_cut(st, 1, "over the streams' memory budget");
            return AGORA_ETOOBIG;
        }
        http_stream_cut(victim, 0, "slowest client over the streams' "
                                   "memory budget");
    }
    return 0;
}

void http_set_stream_budget(size_t bytes)
{
    http_pending_budget = bytes ? bytes : HTTP_DEFAULT_STREAM_BUDGET;
}

void http_stream_budget_stats(size_t *pending, uint64_t *cut)
{
    *pending = http_pending_total;
    *cut = http_streams_cut;
}

int http_stream_write(struct http_stream *st, const void *data, size_t len)
{
    if (st->closing || st->req == NULL)
        return AGORA_ESTATE;
    if (st->len - st->off + len > st->max) {
        http_stream_cut(st, 1, "client too slow");
        return AGORA_ETOOBIG;
    }
    if (http_pending_total + len > http_pending_budget &&
        http_budget_reclaim(st, len) < 0)
        return AGORA_ETOOBIG;
    if (st->off > 0 && st->len + len > st->cap) {
        /* Drop what was sent before growing. */
        memmove(st->buf, st->buf + st->off, st->len - st->off);
        st->len -= st->off;
        st->off = 0;
    }
    if (st->len + len > st->cap) {
        size_t cap = st->cap ? st->cap : 1024;
        char *b;

        while (cap < st->len + len)
            cap *= 2;
        b = realloc(st->buf, cap);
        if (b == NULL)
            return AGORA_ENOMEM;
        st->buf = b;
        st->cap = cap;
    }
    memcpy(st->buf + st->len, data, len);
    st->len += len;
    http_pending_total += len;
    st->wrote = 1;
    http_stream_resume(st);
    return 0;
}

void http_stream_close(struct http_stream *st)
{
    if (st->closing) {
        st->cut = 0; /* the owner is done with it: no on_close to come */
        return;
    }
    st->closing = 1;
    st->srv->stats.streams_open--;
    ev_timer_stop(st->srv->loop, &st->keepalive);
    http_stream_resume(st);
}

int http_stream_peer_gone(struct http_stream *st)
{
    const union MHD_ConnectionInfo *ci;
    char c;
    ssize_t n;

    if (st->req == NULL || st->closing)
        return 1;
    ci = MHD_get_connection_info(st->req->conn,
                                 MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL)
        return 0;
    n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return 1;
    return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

struct http_req *http_stream_req(struct http_stream *st) { return st->req; }

/* ---- the server on the loop ---- */

static void http_server_run(struct http_server *s)
{
    MHD_UNSIGNED_LONG_LONG ms;

    s->running = 1;
    MHD_run(s->daemon);
    s->running = 0;
    ev_timer_stop(s->loop, &s->timer);
    if (http_resume_held(s)) {
        http_server_kick(s);
        return;
    }
    if (MHD_get_timeout(s->daemon, &ms) == MHD_YES) {
        ev_timer_set(&s->timer, (double)ms / 1000.0, 0.);
        ev_timer_start(s->loop, &s->timer);
    }
}

/* Makes the loop run the daemon soon (after a resume, say). */
static void http_server_kick(struct http_server *s)
{
    if (s->stopping)
        return;
    ev_timer_stop(s->loop, &s->timer);
    ev_timer_set(&s->timer, 0., 0.);
    ev_timer_start(s->loop, &s->timer);
}

static void http_on_io(struct ev_loop *loop, ev_io *w, int events)
{
    (void)loop;
    (void)events;
    http_server_run(w->data);
}

static void http_on_timer(struct ev_loop *loop, ev_timer *w, int events)
{
    (void)loop;
    (void)events;
    http_server_run(w->data);
}

static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    log_warn(cls, "%s", msg);
}

static int http_bind_addr(const struct http_server_conf *c,
                          struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons(c->port);
    if (c->ip == NULL || c->ip[0] == '\0') {
        sa->sin_addr.s_addr = htonl(INADDR_ANY);
        return 0;
    }
    return inet_pton(AF_INET, c->ip, &sa->sin_addr) == 1 ? 0 : AGORA_EINVAL;
}

/* libmicrohttpd's options for c's TLS, ended by MHD_OPTION_END (all of
 * it when c has no certificate). */
static void http_tls_options(const struct http_server_conf *c,
                             struct MHD_OptionItem tls[4])
{
    int n = 0;

    if (c->tls_cert) {
        tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
                                           (void *)c->tls_cert};
        tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0,
                                           (void *)c->tls_key};
        if (c->tls_ca)
            tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0,
                                               (void *)c->tls_ca};
    }
    tls[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

int http_server_start(struct ev_loop *loop, const struct http_server_conf *c,
                      const struct router *router, struct http_server **out)
{
    struct MHD_OptionItem tls[4];
    struct http_server *s;
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;
    struct http_guard_conf gc;

    if (http_bind_addr(c, &sa) < 0) {
        log_error("http", "%s: invalid listen address '%s'", c->name, c->ip);
        return AGORA_EINVAL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->name = strdup(c->name)) == NULL) {
        free(s);
        return AGORA_ENOMEM;
    }
    s->loop = loop;
    s->router = router;
    s->max_body = c->max_body ? c->max_body : HTTP_BODY_MAX_DEFAULT;
    gc.name = c->name;
    gc.max_conns = c->max_conns ? c->max_conns : 10000u;
    gc.per_ip = c->max_conns_per_ip;
    gc.header_timeout = c->header_timeout > 0 ? c->header_timeout : 10.;
    gc.idle_timeout = c->idle_timeout > 0 ? c->idle_timeout : 60.;
    if ((s->guard = http_guard_new(loop, &gc)) == NULL) {
        free(s->name);
        free(s);
        return AGORA_ENOMEM;
    }
    http_tls_options(c, tls);
    s->tls_require_client_cert = c->tls_cert && c->tls_require_client_cert;
    /* The port is in sa; MHD takes it again only to name it in its logs. */
    s->daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
            MHD_USE_TURBO | (c->tls_cert ? MHD_USE_TLS : 0),
        c->port, http_guard_accept, s->guard, http_access, s,
        MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, s->name,
        MHD_OPTION_NOTIFY_CONNECTION, http_guard_notify, s->guard,
        MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
        http_completed, s, MHD_OPTION_CONNECTION_LIMIT, gc.max_conns,
        MHD_OPTION_CONNECTION_TIMEOUT,
        120u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        c->conn_memory ? c->conn_memory : (size_t)32 * 1024,
        MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (s->daemon == NULL) {
        log_error("http", "%s: cannot listen on %s:%u: %s", c->name,
                  c->ip && *c->ip ? c->ip : "0.0.0.0", (unsigned)c->port,
                  strerror(errno));
        http_guard_free(s->guard);
        free(s->name);
        free(s);
        return AGORA_EIO;
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : c->port;
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    ev_io_init(&s->io, http_on_io, info->epoll_fd, EV_READ);
    s->io.data = s;
    ev_init(&s->timer, http_on_timer);
    s->timer.data = s;
    ev_io_start(loop, &s->io);
    s->next = http_servers;
    http_servers = s;
    /* The first MHD_run() on the loop, not here: a request already
     * queued on the socket (a client polling a restarted master's port)
     * was answered inside this call, before the caller had its filter,
     * its routes or its state (the master's allocator: a NULL deref). */
    http_server_kick(s);
    *out = s;
    return 0;
}

int http_server_adopt(struct http_server *s, int fd,
                      const struct sockaddr *addr, unsigned len)
{
    if (MHD_add_connection(s->daemon, fd, addr, (socklen_t)len) != MHD_YES)
        return AGORA_EIO;
    http_server_kick(s);
    return 0;
}

void http_server_set_router(struct http_server *s,
                            const struct router *router)
{
    s->router = router;
}

void http_server_set_filter(struct http_server *s, http_filter_fn fn,
                            void *arg)
{
    s->filter = fn;
    s->filter_arg = arg;
}

void http_server_set_gate(struct http_server *s, http_filter_fn fn,
                          void *arg)
{
    s->gate = fn;
    s->gate_arg = arg;
}

int http_req_set_principal(struct http_req *r, const char *principal)
{
    char *p = principal ? strdup(principal) : NULL;

    if (principal && p == NULL)
        return AGORA_ENOMEM;
    free(r->principal);
    r->principal = p;
    return 0;
}

const char *http_req_principal(const struct http_req *r)
{
    return r->principal;
}

void *http_req_route_handler(const struct http_req *r)
{
    return r->matched ? r->match.handler : NULL;
}

uint16_t http_server_port(const struct http_server *s) { return s->port; }

void http_server_stats(const struct http_server *s, struct http_stats *out)
{
    struct http_guard_stats g;

    *out = s->stats;
    http_guard_stats(s->guard, &g);
    out->conns_open = g.conns;
    out->refused_per_ip = g.refused_per_ip;
    out->refused_reserve = g.refused_reserve;
    out->header_timeouts = g.header_timeouts;
    out->evicted = g.evicted;
}

/*
 * libmicrohttpd refuses to stop with suspended connections, so every
 * parked request is answered or ended first and the daemon run until
 * they are flushed.
 */
void http_server_stop(struct http_server *s)
{
    struct http_server **pp;
    struct http_req *r, *next;

    for (r = s->live; r; r = next) {
        next = r->live_next;
        if (r->state == REQ_DEFERRED)
            http_reply_error(r, 503, "server shutting down");
        else if (r->stream)
            http_stream_close(r->stream);
    }
    http_resume_held(s);
    MHD_run(s->daemon);
    s->stopping = 1;
    for (pp = &http_servers; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    ev_io_stop(s->loop, &s->io);
    ev_timer_stop(s->loop, &s->timer);
    MHD_stop_daemon(s->daemon);
    http_guard_free(s->guard);
    free(s->name);
    free(s);
}
