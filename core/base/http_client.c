/*
 * http_client.c - the agent's asynchronous HTTP/1.1 client (see
 * http_client.h for what it does and why it exists).
 *
 * A request goes through phases, each driven by one watcher:
 *   START    a zero timer, so that no callback ever runs inside
 *            hc_request(); takes a pooled connection or resolves;
 *   RESOLVE  a host name, on a thread (http_resolve.c);
 *   CONNECT  a non-blocking connect per address, in turn (EV_WRITE);
 *   TLS      for https://, the handshake (EV_READ or EV_WRITE, as
 *            GnuTLS asks), the certificate verified against the host;
 *   ACTIVE   sending the request (EV_WRITE) and reading the response
 *            (EV_READ), parsed by http_response.c: the head (bounded),
 *            then the body, framed by its length, chunks or the close.
 * Timers: conn_timer from the first connect attempt until connected,
 * total_timer from hc_request() to the end.
 *
 * Reentrancy: every watcher callback brackets its work with
 * hc_enter()/hc_leave(). A callback of the user may cancel the request:
 * hc_cancel() then only marks it while it is busy, the code checks
 * r->cancelled after each user callback, and hc_leave() frees it.
 */
#include "http_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <ev.h>

#include "http_resolve.h"
#include "http_response.h"
#include "http_tls.h"
#include "http_url.h"
#include "log.h"

/* Addresses of a host tried in turn; more are ignored. */
#define HC_ADDR_MAX 8
/* Reads per wake-up: a fast stream must not keep the loop to itself. */
#define HC_READS_PER_WAKE 16
/* Bytes read at once from the body. */
#define HC_READ_CHUNK 16384

enum hc_phase { HC_START, HC_RESOLVE, HC_CONNECT, HC_TLS, HC_ACTIVE };

struct hc_addr {
    socklen_t len;
    struct sockaddr_storage sa;
};

/* An idle kept-alive connection. */
struct hc_conn {
    struct hc_conn *prev, *next;
    struct hc_client *c;
    int fd;
    void *tls; /* its TLS session, or NULL */
    char *key; /* "host:port", "tls:host:port" */
    ev_io io;  /* readable while idle: the server closed it */
    ev_timer idle;
};

struct hc_req {
    struct hc_client *c;
    struct hc_req *prev, *next;
    hc_head_fn on_head;
    hc_data_fn on_data;
    hc_done_fn on_done;
    void *arg;
    double connect_timeout, timeout;
    int keepalive;
    char *url, *key;
    struct hc_url u;
    char *out; /* the request bytes; freed once answered */
    size_t outlen, outoff;

    enum hc_phase phase;
    int fd;
    void *tls;         /* the connection's TLS session (https)    */
    ev_io io;
    ev_timer kick, conn_timer, total_timer;
    struct hc_lookup *lookup;
    struct hc_addr *addrs;
    size_t naddrs, next_addr;
    int connect_errno;
    int reused, retried;

    struct hc_resp resp;
    int in_body;       /* the head is in                          */
    int sent_all;      /* the whole request went out              */
    uint64_t received; /* response bytes read, headers included   */

    int busy, cancelled, finished;
    char err[256];
};

struct hc_client {
    struct ev_loop *loop;
    struct hc_req *reqs;
    struct hc_conn *pool;
    struct hc_stats st;
    struct hc_tls *tls;  /* credentials for https://; NULL: refused */
};

/* ------------------------------------------------------------------ */
/* Lifetimes                                                            */
/* ------------------------------------------------------------------ */

static void hc_req_free(struct hc_req *r)
{
    hc_url_clear(&r->u);
    free(r->url);
    free(r->key);
    free(r->out);
    free(r->addrs);
    hc_resp_clear(&r->resp);
    free(r);
}

static void hc_enter(struct hc_req *r)
{
    r->busy++;
}

/* Frees r if it was cancelled or finished while busy. */
static void hc_leave(struct hc_req *r)
{
    if (--r->busy == 0 && r->cancelled)
        hc_req_free(r);
}

/* Stops every watcher of r and lets go of its lookup. */
static void hc_quiet(struct hc_req *r)
{
    struct ev_loop *loop = r->c->loop;

    ev_io_stop(loop, &r->io);
    ev_timer_stop(loop, &r->kick);
    ev_timer_stop(loop, &r->conn_timer);
    ev_timer_stop(loop, &r->total_timer);
    hc_lookup_cancel(r->lookup);
    r->lookup = NULL;
}

static void hc_close_fd(struct hc_req *r)
{
    hc_tls_close(r->tls);
    r->tls = NULL;
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

static void hc_unlink(struct hc_req *r)
{
    struct hc_client *c = r->c;

    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    c->st.active--;
}

void hc_cancel(struct hc_req *r)
{
    if (r == NULL || r->cancelled || r->finished)
        return;
    hc_quiet(r);
    hc_close_fd(r);
    hc_unlink(r);
    r->cancelled = 1;
    if (r->busy == 0)
        hc_req_free(r);
}

/* ------------------------------------------------------------------ */
/* The pool of idle connections                                         */
/* ------------------------------------------------------------------ */

static void hc_conn_drop(struct hc_conn *k)
{
    struct hc_client *c = k->c;

    ev_io_stop(c->loop, &k->io);
    ev_timer_stop(c->loop, &k->idle);
    if (k->prev)
        k->prev->next = k->next;
    else
        c->pool = k->next;
    if (k->next)
        k->next->prev = k->prev;
    c->st.idle--;
    free(k->key);
    free(k);
}

/* Readable while idle (the server closed it), or idle too long. */
static void hc_conn_on_event(struct hc_conn *k)
{
    hc_tls_close(k->tls);
    close(k->fd);
    hc_conn_drop(k);
}

static void hc_conn_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    hc_conn_on_event(w->data);
}

static void hc_conn_on_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    hc_conn_on_event(w->data);
}

/* Keeps fd (and its TLS session) for the next request to key; closes
 * them when that fails. */
static void hc_pool_put(struct hc_client *c, int fd, void *tls,
                        const char *key)
{
    struct hc_conn *k = calloc(1, sizeof(*k)), *last;

    if (k == NULL || (k->key = strdup(key)) == NULL) {
        free(k);
        hc_tls_close(tls);
        close(fd);
        return;
    }
    if (c->st.idle >= HC_POOL_MAX) {
        for (last = c->pool; last->next; last = last->next)
            ;
        hc_conn_on_event(last); /* the oldest */
    }
    k->c = c;
    k->fd = fd;
    k->tls = tls;
    k->next = c->pool;
    if (c->pool)
        c->pool->prev = k;
    c->pool = k;
    c->st.idle++;
    ev_io_init(&k->io, hc_conn_on_io, fd, EV_READ);
    k->io.data = k;
    ev_io_start(c->loop, &k->io);
    ev_timer_init(&k->idle, hc_conn_on_idle, HC_IDLE_TIMEOUT, 0.);
    k->idle.data = k;
    ev_timer_start(c->loop, &k->idle);
}

/* An idle connection to key that still looks open (its TLS session in
 * *tls), or -1. */
static int hc_pool_take(struct hc_client *c, const char *key, void **tls)
{
    struct hc_conn *k, *next;
    char byte;

    for (k = c->pool; k; k = next) {
        int fd = k->fd;
        void *s = k->tls;

        next = k->next;
        if (strcmp(k->key, key) != 0)
            continue;
        hc_conn_drop(k);
        /* EOF or stray bytes (a TLS alert too): the server is done. */
        if (recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
            (errno == EAGAIN || errno == EWOULDBLOCK)) {
            *tls = s;
            return fd;
        }
        hc_tls_close(s);
        close(fd);
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Ending                                                               */
/* ------------------------------------------------------------------ */

/* The connection may carry the next request. */
static int hc_reusable(const struct hc_req *r)
{
    return r->keepalive && r->sent_all && hc_resp_reusable(&r->resp);
}

/* The request ended (err 0: the whole response arrived): on_done, then
 * r goes when the watcher callback that got here returns. */
static void hc_finish(struct hc_req *r, int err)
{
    if (r->finished || r->cancelled)
        return;
    AGORA_ASSERT(r->busy > 0); /* hc_leave() frees r */
    r->finished = 1;
    hc_quiet(r);
    if (err == 0 && r->fd >= 0 && hc_reusable(r)) {
        hc_pool_put(r->c, r->fd, r->tls, r->key);
        r->fd = -1;
        r->tls = NULL;
    }
    hc_close_fd(r);
    hc_unlink(r);
    if (r->on_done)
        r->on_done(r->arg, r, err);
    r->cancelled = 1;
}

static void hc_fail(struct hc_req *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void hc_fail(struct hc_req *r, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
    hc_finish(r, err);
}

/* ------------------------------------------------------------------ */
/* Resolving                                                            */
/* ------------------------------------------------------------------ */

static void hc_watch(struct hc_req *r, int fd, int events)
{
    ev_io_stop(r->c->loop, &r->io);
    ev_io_set(&r->io, fd, events);
    ev_io_start(r->c->loop, &r->io);
}

static void hc_on_lookup(void *arg, int gai, const struct addrinfo *res);

static void hc_resolve(struct hc_req *r)
{
    int rc = hc_lookup_start(r->c->loop, r->u.host, r->u.port, hc_on_lookup, r,
                             &r->lookup);

    if (rc != 0) {
        hc_fail(r, AGORA_ERESOLVE, "cannot resolve %s: %s", r->u.host,
                strerror(rc));
        return;
    }
    r->c->st.lookups++;
    r->phase = HC_RESOLVE;
}

/* Room for n addresses in r->addrs (zeroed); 0 or AGORA_ENOMEM. */
static int hc_addrs_alloc(struct hc_req *r, size_t n)
{
    free(r->addrs);
    r->naddrs = r->next_addr = 0;
    r->addrs = calloc(n, sizeof(*r->addrs));
    return r->addrs ? 0 : AGORA_ENOMEM;
}

/* The numeric address of r's host into r->addrs; 0, or -1 for a name. */
static int hc_numeric(struct hc_req *r, struct hc_addr *a)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa;

    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, r->u.host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(r->u.port);
        a->len = sizeof(*sin);
    } else if (inet_pton(AF_INET6, r->u.host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(r->u.port);
        a->len = sizeof(*sin6);
    } else {
        return -1;
    }
    return 0;
}

static void hc_try_connect(struct hc_req *r);

/* Up to HC_ADDR_MAX addresses of res into r->addrs; 0 or AGORA_ENOMEM. */
static int hc_copy_addrs(struct hc_req *r, const struct addrinfo *res)
{
    const struct addrinfo *ai;
    size_t n = 0;

    for (ai = res; ai && n < HC_ADDR_MAX; ai = ai->ai_next)
        n++;
    if (n == 0)
        return 0;
    if (hc_addrs_alloc(r, n) != 0)
        return AGORA_ENOMEM;
    for (ai = res; ai && r->naddrs < n; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(r->addrs[0].sa))
            continue;
        memcpy(&r->addrs[r->naddrs].sa, ai->ai_addr, ai->ai_addrlen);
        r->addrs[r->naddrs++].len = ai->ai_addrlen;
    }
    return 0;
}

/* hc_lookup_fn: the addresses of r's host, then connect. */
static void hc_on_lookup(void *arg, int gai, const struct addrinfo *res)
{
    struct hc_req *r = arg;

    hc_enter(r);
    r->lookup = NULL; /* it goes when this returns */
    r->naddrs = r->next_addr = 0;
    if (gai == 0 && hc_copy_addrs(r, res) != 0)
        hc_fail(r, AGORA_ENOMEM, "out of memory resolving %s", r->u.host);
    else if (r->naddrs == 0)
        hc_fail(r, AGORA_ERESOLVE, "cannot resolve %s: %s", r->u.host,
                gai ? gai_strerror(gai) : "no address");
    else
        hc_try_connect(r);
    hc_leave(r);
}

/* ------------------------------------------------------------------ */
/* Connecting                                                           */
/* ------------------------------------------------------------------ */

/* Small requests go out at once; a dead peer is noticed in minutes.
 * Best effort: a socket without these options still works. */
static void hc_sockopts(int fd)
{
    int one = 1, idle = 60;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle));
}

static void hc_reset_response(struct hc_req *r)
{
    hc_resp_reset(&r->resp);
    r->in_body = r->sent_all = 0;
    r->received = 0;
    r->outoff = 0;
}

/* Connected (new or pooled): send, and read whatever comes back. */
/* The connection carries bytes of the request: send, then read. */
static void hc_go(struct hc_req *r)
{
    ev_timer_stop(r->c->loop, &r->conn_timer);
    hc_reset_response(r);
    r->phase = HC_ACTIVE;
    hc_watch(r, r->fd, EV_READ | EV_WRITE);
}

/* One step of the TLS handshake; hc_go() once it is done. */
static void hc_handshake(struct hc_req *r)
{
    char why[256];
    int rc = hc_tls_handshake(r->tls, why, sizeof(why));

    if (rc == HC_TLS_DONE)
        hc_go(r);
    else if (rc == HC_TLS_WANT_READ)
        hc_watch(r, r->fd, EV_READ);
    else if (rc == HC_TLS_WANT_WRITE)
        hc_watch(r, r->fd, EV_WRITE);
    else
        hc_fail(r, AGORA_EPROTO, "https://%s: %s", r->u.authority, why);
}

/* Connected: for https://, a TLS session first (a pooled connection
 * has its own already). */
static void hc_active(struct hc_req *r)
{
    char why[256];

    if (!r->u.tls || r->tls != NULL) {
        hc_go(r);
        return;
    }
    r->tls = hc_tls_session(r->c->tls, r->fd, r->u.host, why, sizeof(why));
    if (r->tls == NULL) {
        hc_fail(r, AGORA_EPROTO, "https://%s: %s", r->u.authority, why);
        return;
    }
    r->phase = HC_TLS;
    hc_handshake(r);
}

/* Connects to the next address of r->addrs; fails after the last. */
static void hc_try_connect(struct hc_req *r)
{
    while (r->next_addr < r->naddrs) {
        struct hc_addr *a = &r->addrs[r->next_addr++];
        int fd = socket(a->sa.ss_family,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        if (fd < 0) {
            r->connect_errno = errno;
            continue;
        }
        hc_sockopts(fd);
        r->fd = fd;
        if (connect(fd, (struct sockaddr *)&a->sa, a->len) == 0) {
            r->c->st.connects++;
            hc_active(r);
            return;
        }
        if (errno == EINPROGRESS) {
            r->phase = HC_CONNECT;
            hc_watch(r, fd, EV_WRITE);
            return;
        }
        r->connect_errno = errno;
        hc_close_fd(r);
    }
    hc_fail(r, AGORA_ECONNECT, "connect to %s: %s", r->u.authority,
            strerror(r->connect_errno ? r->connect_errno : EHOSTUNREACH));
}

/* The non-blocking connect ended. */
static void hc_on_connect(struct hc_req *r)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        ev_io_stop(r->c->loop, &r->io);
        hc_close_fd(r);
        r->connect_errno = err;
        hc_try_connect(r);
        return;
    }
    r->c->st.connects++;
    hc_active(r);
}

/* A new connection: by address, or after a lookup. */
static void hc_connect_start(struct hc_req *r)
{
    struct hc_addr a;

    ev_timer_set(&r->conn_timer, r->connect_timeout, 0.);
    ev_timer_start(r->c->loop, &r->conn_timer);
    r->connect_errno = 0;
    if (hc_numeric(r, &a) != 0) {
        hc_resolve(r);
    } else if (hc_addrs_alloc(r, 1) != 0) {
        hc_fail(r, AGORA_ENOMEM, "out of memory connecting to %s", r->u.authority);
    } else {
        r->addrs[0] = a;
        r->naddrs = 1;
        hc_try_connect(r);
    }
}

/* A pooled connection failed before any byte of the answer: the server
 * had closed it. Once, the request goes again on a new connection. */
static int hc_retry(struct hc_req *r)
{
    if (!r->reused || r->retried || r->received > 0 || r->out == NULL)
        return 0;
    ev_io_stop(r->c->loop, &r->io);
    hc_close_fd(r);
    r->retried = 1;
    r->reused = 0;
    r->c->st.retries++;
    hc_connect_start(r);
    return 1;
}

static void hc_io_error(struct hc_req *r, int errnum, const char *what)
{
    if (!hc_retry(r))
        hc_fail(r, AGORA_EIO, "%s %s: %s", what, r->u.authority, strerror(errnum));
}

/* ------------------------------------------------------------------ */
/* Sending                                                              */
/* ------------------------------------------------------------------ */

static void hc_send(struct hc_req *r)
{
    if (r->out == NULL)
        return; /* answered before it was all sent */
    while (r->outoff < r->outlen) {
        ssize_t n = r->tls ? hc_tls_send(r->tls, r->out + r->outoff,
                                         r->outlen - r->outoff)
                           : send(r->fd, r->out + r->outoff,
                                  r->outlen - r->outoff, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            hc_io_error(r, errno, "send to");
            return;
        }
        r->outoff += (size_t)n;
    }
    r->sent_all = 1;
    hc_watch(r, r->fd, EV_READ);
}

/* ------------------------------------------------------------------ */
/* The response                                                         */
/* ------------------------------------------------------------------ */

/* hc_sink_fn: body bytes to on_data; non-zero when r ended meanwhile. */
static int hc_deliver(void *arg, const char *p, size_t n)
{
    struct hc_req *r = arg;

    if (r->on_data == NULL)
        return 0;
    if (r->on_data(r->arg, r, p, n) != 0) {
        if (!r->cancelled)
            hc_fail(r, AGORA_ECANCELED, "stopped by the caller");
        return 1;
    }
    return r->cancelled;
}

/* Body bytes as read. 1 when reading must stop (the request ended). */
static int hc_body(struct hc_req *r, const char *p, size_t n)
{
    int rc = hc_resp_body(&r->resp, p, n, hc_deliver, r);

    if (rc == HC_END)
        hc_finish(r, 0);
    else if (rc < 0)
        hc_fail(r, rc, "bad response from %s: %s", r->u.authority, r->resp.why);
    return rc != HC_MORE;
}

/* The head is complete; the body starts at r->resp.head + end. */
static int hc_head_done(struct hc_req *r, size_t end)
{
    r->in_body = 1;
    if (!r->sent_all) /* an early answer: the rest is not sent */
        hc_watch(r, r->fd, EV_READ);
    free(r->out); /* answered: never sent again */
    r->out = NULL;
    if (r->on_head && r->on_head(r->arg, r) != 0 && !r->cancelled)
        hc_fail(r, AGORA_ECANCELED, "stopped by the caller");
    if (r->cancelled || r->finished)
        return 1;
    return hc_body(r, r->resp.head + end, r->resp.hlen - end);
}

/* ------------------------------------------------------------------ */
/* Receiving                                                            */
/* ------------------------------------------------------------------ */

/* The server closed its end. */
static void hc_on_eof(struct hc_req *r)
{
    if (!r->in_body) {
        if (r->received == 0 && hc_retry(r))
            return;
        hc_fail(r, AGORA_ECLOSED, "%s closed the connection before answering",
                r->u.authority);
    } else if (r->resp.body == HC_BODY_CLOSE) {
        hc_finish(r, 0);
    } else {
        hc_fail(r, AGORA_ECLOSED,
                "%s closed the connection in the middle of "
                "the response",
                r->u.authority);
    }
}

/* Result of a recv(): 0 read more, 1 stop (would block, or ended). */
static int hc_recv_result(struct hc_req *r, ssize_t n)
{
    if (n < 0 && errno == EINTR)
        return 0;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 1;
    if (n < 0) {
        hc_io_error(r, errno, "receive from");
        return 1;
    }
    if (n == 0) {
        hc_on_eof(r);
        return 1;
    }
    r->received += (uint64_t)n;
    return -1; /* bytes to process */
}

static int hc_recv_head(struct hc_req *r)
{
    size_t room, end = 0;
    char *buf;
    ssize_t n;
    int rc;

    if (hc_resp_room(&r->resp, &buf, &room) != 0) {
        hc_fail(r, AGORA_ENOMEM, "out of memory reading a response");
        return 1;
    }
    n = r->tls ? hc_tls_recv(r->tls, buf, room) : recv(r->fd, buf, room, 0);
    if ((rc = hc_recv_result(r, n)) >= 0)
        return rc;
    rc = hc_resp_head(&r->resp, (size_t)n, &end);
    if (rc == 0)
        return 0;
    if (rc == 1)
        return hc_head_done(r, end);
    if (rc == AGORA_ETOOBIG)
        hc_fail(r, rc, "response headers from %s over %u bytes", r->u.authority,
                HC_HEAD_MAX);
    else
        hc_fail(r, rc, "bad response from %s: %s", r->u.authority, r->resp.why);
    return 1;
}

static int hc_recv_body(struct hc_req *r)
{
    char buf[HC_READ_CHUNK];
    ssize_t n = r->tls ? hc_tls_recv(r->tls, buf, sizeof(buf))
                       : recv(r->fd, buf, sizeof(buf), 0);
    int rc = hc_recv_result(r, n);

    if (rc >= 0)
        return rc;
    return hc_body(r, buf, (size_t)n);
}

static void hc_recv(struct hc_req *r)
{
    int i;

    for (i = 0; i < HC_READS_PER_WAKE; i++) {
        if (r->phase != HC_ACTIVE || r->finished || r->cancelled)
            return;
        if ((r->in_body ? hc_recv_body(r) : hc_recv_head(r)) != 0)
            break;
    }
    /* Bytes GnuTLS decrypted and holds: the socket will not say so. */
    if (r->tls && r->phase == HC_ACTIVE && !r->finished && !r->cancelled &&
        hc_tls_pending(r->tls) > 0)
        ev_feed_event(r->c->loop, &r->io, EV_READ);
}

/* ------------------------------------------------------------------ */
/* Watchers                                                             */
/* ------------------------------------------------------------------ */

static void hc_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    struct hc_req *r = w->data;

    (void)loop;
    hc_enter(r);
    if (r->phase == HC_CONNECT) {
        hc_on_connect(r);
    } else if (r->phase == HC_TLS) {
        hc_handshake(r);
    } else {
        if (revents & EV_WRITE)
            hc_send(r);
        if ((revents & EV_READ) && r->phase == HC_ACTIVE)
            hc_recv(r);
    }
    hc_leave(r);
}

/* START: a pooled connection to the same host:port, or a new one. */
static void hc_on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct hc_req *r = w->data;
    int fd;

    (void)loop;
    (void)revents;
    hc_enter(r);
    fd = r->keepalive ? hc_pool_take(r->c, r->key, &r->tls) : -1;
    if (fd >= 0) {
        r->fd = fd;
        r->reused = 1;
        r->c->st.reused++;
        hc_active(r);
    } else {
        hc_connect_start(r);
    }
    hc_leave(r);
}

static void hc_on_conn_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct hc_req *r = w->data;

    (void)loop;
    (void)revents;
    hc_enter(r);
    hc_fail(r, AGORA_ETIMEDOUT, "no connection to %s within %g s", r->u.authority,
            r->connect_timeout);
    hc_leave(r);
}

static void hc_on_total_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct hc_req *r = w->data;

    (void)loop;
    (void)revents;
    hc_enter(r);
    hc_fail(r, AGORA_ETIMEDOUT, "no complete answer from %s within %g s",
            r->u.authority, r->timeout);
    hc_leave(r);
}

/* ------------------------------------------------------------------ */
/* Requests                                                             */
/* ------------------------------------------------------------------ */

/* A token: the method, or a header's name. */
static int hc_token(const char *s, size_t n)
{
    size_t i;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == ':')
            return 0;
    return 1;
}

/* "Name: value" without CR or LF. */
static int hc_header_valid(const char *h)
{
    const char *colon = strchr(h, ':');

    return colon && hc_token(h, (size_t)(colon - h)) && !strpbrk(h, "\r\n");
}

/* Appends n bytes to the request being built. */
static void hc_put(struct hc_req *r, size_t *cap, const char *s, size_t n)
{
    char *p;

    if (r->outlen + n > *cap) {
        size_t want = *cap * 2 > r->outlen + n ? *cap * 2 : r->outlen + n;

        if ((p = realloc(r->out, want)) == NULL) {
            free(r->out);
            r->out = NULL;
        } else {
            r->out = p;
            *cap = want;
        }
    }
    if (r->out) {
        memcpy(r->out + r->outlen, s, n);
        r->outlen += n;
    }
}

static void hc_puts(struct hc_req *r, size_t *cap, const char *s)
{
    hc_put(r, cap, s, strlen(s));
}

/* The request line, headers and body into r->out. */
static int hc_build(struct hc_req *r, const struct hc_opts *o)
{
    const char *method = o->method ? o->method : "GET";
    size_t cap = 512 + o->body_len, i;
    char len[32];

    if (!hc_token(method, strlen(method)))
        return AGORA_EINVAL;
    for (i = 0; o->headers && o->headers[i]; i++)
        if (!hc_header_valid(o->headers[i]))
            return AGORA_EINVAL;
    if ((r->out = malloc(cap)) == NULL)
        return AGORA_ENOMEM;
    r->resp.head_only = strcmp(method, "HEAD") == 0;
    hc_puts(r, &cap, method);
    hc_puts(r, &cap, " ");
    hc_puts(r, &cap, r->u.path);
    hc_puts(r, &cap, " HTTP/1.1\r\nHost: ");
    hc_puts(r, &cap, r->u.authority);
    hc_puts(r, &cap, r->keepalive ? "\r\n" : "\r\nConnection: close\r\n");
    for (i = 0; o->headers && o->headers[i]; i++) {
        hc_puts(r, &cap, o->headers[i]);
        hc_puts(r, &cap, "\r\n");
    }
    if (o->body_len > 0 || strcmp(method, "POST") == 0 ||
        strcmp(method, "PUT") == 0) {
        snprintf(len, sizeof(len), "Content-Length: %zu\r\n", o->body_len);
        hc_puts(r, &cap, len);
    }
    hc_puts(r, &cap, "\r\n");
    if (o->body_len > 0)
        hc_put(r, &cap, o->body, o->body_len);
    return r->out ? 0 : AGORA_ENOMEM;
}

/* Copies what the request needs of o. */
static int hc_setup(struct hc_req *r, const struct hc_opts *o)
{
    int rc = hc_url_parse(o->url, &r->u);

    if (rc != 0)
        return rc;
    if (r->u.tls && r->c->tls == NULL)
        return AGORA_ENOTSUP; /* no TLS credentials given to the client */
    r->keepalive = o->keepalive != 0;
    r->connect_timeout =
        o->connect_timeout > 0 ? o->connect_timeout : HC_CONNECT_TIMEOUT;
    r->timeout = o->timeout > 0 ? o->timeout : 0;
    r->on_head = o->on_head;
    r->on_data = o->on_data;
    r->on_done = o->on_done;
    r->arg = o->arg;
    if ((rc = hc_build(r, o)) != 0)
        return rc;
    r->url = strdup(o->url);
    if (r->url == NULL ||
        asprintf(&r->key, "%s%s:%u", r->u.tls ? "tls:" : "", r->u.host,
                 (unsigned)r->u.port) < 0) {
        r->key = NULL;
        return AGORA_ENOMEM;
    }
    return 0;
}

int hc_request(struct hc_client *c, const struct hc_opts *o,
               struct hc_req **out)
{
    struct hc_req *r = calloc(1, sizeof(*r));
    int rc;

    if (r == NULL)
        return AGORA_ENOMEM;
    r->c = c;
    r->fd = -1;
    if ((rc = hc_setup(r, o)) != 0) {
        hc_req_free(r);
        return rc;
    }
    ev_init(&r->io, hc_on_io);
    ev_timer_init(&r->kick, hc_on_kick, 0., 0.);
    ev_init(&r->conn_timer, hc_on_conn_timer);
    ev_timer_init(&r->total_timer, hc_on_total_timer, r->timeout, 0.);
    r->io.data = r->kick.data = r->conn_timer.data = r->total_timer.data = r;
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    c->st.requests++;
    c->st.active++;
    ev_timer_start(c->loop, &r->kick);
    if (r->timeout > 0)
        ev_timer_start(c->loop, &r->total_timer);
    if (out)
        *out = r;
    return 0;
}

int hc_status(const struct hc_req *r)
{
    return r->resp.status;
}

const char *hc_header(const struct hc_req *r, const char *name)
{
    return hc_resp_header(&r->resp, name);
}

const char *hc_url(const struct hc_req *r)
{
    return r->url;
}

const char *hc_error(const struct hc_req *r)
{
    return r->err;
}

/* ------------------------------------------------------------------ */
/* Clients                                                              */
/* ------------------------------------------------------------------ */

int hc_client_new(struct ev_loop *loop, struct hc_client **out)
{
    struct hc_client *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return AGORA_ENOMEM;
    c->loop = loop;
    *out = c;
    return 0;
}

void hc_client_free(struct hc_client *c)
{
    if (c == NULL)
        return;
    while (c->reqs)
        hc_cancel(c->reqs);
    while (c->pool)
        hc_conn_on_event(c->pool);
    hc_tls_free(c->tls);
    free(c);
}

void hc_client_set_tls(struct hc_client *c, struct hc_tls *t)
{
    hc_tls_free(c->tls);
    c->tls = t;
}

void hc_get_stats(const struct hc_client *c, struct hc_stats *out)
{
    *out = c->st;
}
