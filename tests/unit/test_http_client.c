/*
 * test_http_client.c - the agent's HTTP client (agent/http_client.h)
 * against a real libmicrohttpd server (core/http.h) and, for what a
 * well-behaved server never does, against raw sockets.
 *
 * The server runs on the test's own loop, beside the client, so every
 * test is one thread; a raw server is a thread of blocking sockets that
 * plays a script on each connection it accepts.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include <agora/sdk.h>

#include "http.h"
#include "http_client.h"
#include "http_response.h"
#include "router.h"

static struct ev_loop *loop;
static struct http_server *srv;
static struct router routes;
static struct hc_client *hc;
static uint16_t port;

/* ------------------------------------------------------------------ */
/* What a request saw                                                   */
/* ------------------------------------------------------------------ */

struct res {
    int done, err, status, heads, ndata;
    char body[8192];
    size_t len;
    char location[256], error[256], xtest[64];
    int cancel_in_data; /* hc_cancel() from the first on_data      */
    int stop_in_data;   /* return non-zero from the first on_data  */
    struct hc_req *req;
};

static int on_head(void *arg, struct hc_req *r)
{
    struct res *s = arg;

    s->heads++;
    s->status = hc_status(r);
    return 0;
}

static int on_data(void *arg, struct hc_req *r, const char *p, size_t n)
{
    struct res *s = arg;

    ck_assert_uint_gt(n, 0);
    s->ndata++;
    if (s->len + n < sizeof(s->body)) {
        memcpy(s->body + s->len, p, n);
        s->len += n;
        s->body[s->len] = '\0';
    }
    if (s->cancel_in_data) {
        hc_cancel(r);
        hc_cancel(r); /* twice is harmless */
        return 0;
    }
    return s->stop_in_data;
}

static void on_done(void *arg, struct hc_req *r, int err)
{
    struct res *s = arg;
    const char *loc = hc_header(r, "location");
    const char *x = hc_header(r, "X-TEST");

    s->done++;
    s->err = err;
    s->status = hc_status(r);
    snprintf(s->location, sizeof(s->location), "%s", loc ? loc : "");
    snprintf(s->xtest, sizeof(s->xtest), "%s", x ? x : "");
    snprintf(s->error, sizeof(s->error), "%s", hc_error(r));
    hc_cancel(r); /* a no-op from on_done */
}

static void on_tick(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)w;
    (void)revents;
}

/* Runs the loop until *flag or `secs` have passed. */
static void run_until(const int *flag, double secs)
{
    ev_timer tick;
    double end = ev_time() + secs;

    ev_timer_init(&tick, on_tick, 0.005, 0.005);
    ev_timer_start(loop, &tick);
    while ((flag == NULL || !*flag) && ev_time() < end)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &tick);
}

static void request(struct res *s, const char *method, const char *url,
                    const char *body)
{
    struct hc_opts o;

    memset(&o, 0, sizeof(o));
    o.method = method;
    o.url = url;
    o.body = body;
    o.body_len = body ? strlen(body) : 0;
    o.on_head = on_head;
    o.on_data = on_data;
    o.on_done = on_done;
    o.arg = s;
    ck_assert_int_eq(hc_request(hc, &o, &s->req), 0);
    ck_assert_int_eq(s->done, 0); /* never inside hc_request() */
}

static char *url_of(const char *path)
{
    static char buf[256];

    snprintf(buf, sizeof(buf), "http://127.0.0.1:%u%s", (unsigned)port, path);
    return buf;
}

/* ------------------------------------------------------------------ */
/* The libmicrohttpd server                                             */
/* ------------------------------------------------------------------ */

static void h_hello(void *arg, struct http_req *r)
{
    (void)arg;
    http_reply_header(r, "X-Test", "yes");
    http_reply(r, 200, "text/plain", "hello world", 11);
}

/* Echoes the body and the X-A header. */
static void h_echo(void *arg, struct http_req *r)
{
    size_t len;
    const char *body = http_req_body(r, &len);
    const char *xa = http_req_header(r, "X-A");
    char out[512];

    (void)arg;
    snprintf(out, sizeof(out), "%s %zu %s", http_req_method(r), len, body);
    http_reply_header(r, "X-Test", xa ? xa : "none");
    http_reply(r, 201, "text/plain", out, strlen(out));
}

static void h_old(void *arg, struct http_req *r)
{
    (void)arg;
    http_reply_header(r, "Location", "/hello");
    http_reply(r, 307, "text/plain", "", 0);
}

/* A stream: "one\n" now, "two\n" after 100 ms, then the end. */
static struct res *stream_res;
static int ndata_before_two = -1;

static void on_stream_two(struct ev_loop *l, ev_timer *w, int revents)
{
    struct http_stream *s = w->data;

    (void)l;
    (void)revents;
    ndata_before_two = stream_res ? stream_res->ndata : -1;
    http_stream_write(s, "two\n", 4);
    http_stream_close(s);
    free(w);
}

static void h_stream(void *arg, struct http_req *r)
{
    ev_timer *w = malloc(sizeof(*w));
    struct http_stream *s =
        http_stream_open(r, "application/x-ndjson", 0, NULL, 0, NULL, NULL);

    (void)arg;
    ck_assert_ptr_nonnull(s);
    http_stream_write(s, "one\n", 4);
    ev_timer_init(w, on_stream_two, 0.1, 0.);
    w->data = s;
    ev_timer_start(loop, w);
}

/* A stream that never ends: "tick\n" every 10 ms until the client goes. */
static int forever_closed;
static ev_timer forever_timer;

static void on_forever_tick(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)revents;
    http_stream_write(w->data, "tick\n", 5);
}

static void on_forever_close(void *arg, struct http_stream *s)
{
    (void)arg;
    (void)s;
    forever_closed = 1;
    ev_timer_stop(loop, &forever_timer);
}

static void h_forever(void *arg, struct http_req *r)
{
    struct http_stream *s =
        http_stream_open(r, NULL, 0.01, "\n", 0, on_forever_close, NULL);

    (void)arg;
    ck_assert_ptr_nonnull(s);
    ev_timer_init(&forever_timer, on_forever_tick, 0.01, 0.01);
    forever_timer.data = s;
    ev_timer_start(loop, &forever_timer);
}

static void add(const char *method, const char *path, http_handler_fn fn)
{
    ck_assert_int_eq(router_add(&routes, method, NULL, path, (void *)fn, NULL),
                     0);
}

static void setup(void)
{
    struct http_server_conf c = {
        .name = "test", .ip = "127.0.0.1", .max_body = 100000};

    signal(SIGPIPE, SIG_IGN);
    loop = ev_loop_new(EVFLAG_AUTO);
    memset(&routes, 0, sizeof(routes));
    add("GET", "/hello", h_hello);
    add("POST", "/echo", h_echo);
    add("GET", "/old", h_old);
    add("GET", "/stream", h_stream);
    add("GET", "/forever", h_forever);
    ck_assert_int_eq(http_server_start(loop, &c, &routes, &srv), 0);
    port = http_server_port(srv);
    ck_assert_int_eq(hc_client_new(loop, &hc), 0);
    forever_closed = 0;
    stream_res = NULL;
}

static void teardown(void)
{
    hc_client_free(hc);
    http_server_stop(srv);
    router_free(&routes);
    ev_loop_destroy(loop);
}

/* ------------------------------------------------------------------ */
/* Raw servers: scripts over blocking sockets, in a thread              */
/* ------------------------------------------------------------------ */

struct raw {
    int lfd;
    uint16_t port;
    int conns; /* connections to accept */
    void (*script)(int fd, int conn);
    pthread_t thread;
};

static void raw_send(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

        if (w <= 0)
            return; /* the client left: fine for these scripts */
        s += w;
        n -= (size_t)w;
    }
}

static void raw_puts(int fd, const char *s)
{
    raw_send(fd, s, strlen(s));
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Reads one request head (the client's requests here have no body). */
static int raw_read_request(int fd)
{
    char buf[4096];
    size_t len = 0;

    while (len < sizeof(buf) - 1) {
        ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);

        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            return 0;
    }
    return -1;
}

static void *raw_main(void *arg)
{
    struct raw *rs = arg;
    int i;

    for (i = 0; i < rs->conns; i++) {
        int fd = accept(rs->lfd, NULL, NULL);

        if (fd < 0)
            break;
        rs->script(fd, i);
        close(fd);
    }
    return NULL;
}

/* A listening socket on 127.0.0.1 (backlog given), its port in *p. */
static int listen_on(int backlog, uint16_t *p)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, backlog), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *p = ntohs(sa.sin_port);
    return fd;
}

static void raw_start(struct raw *rs, int conns, void (*script)(int, int))
{
    rs->lfd = listen_on(16, &rs->port);
    rs->conns = conns;
    rs->script = script;
    ck_assert_int_eq(pthread_create(&rs->thread, NULL, raw_main, rs), 0);
}

static void raw_stop(struct raw *rs)
{
    shutdown(rs->lfd, SHUT_RDWR); /* wakes an accept() still waiting */
    pthread_join(rs->thread, NULL);
    close(rs->lfd);
}

static char *raw_url(const struct raw *rs, const char *path)
{
    static char buf[256];

    snprintf(buf, sizeof(buf), "http://127.0.0.1:%u%s", (unsigned)rs->port,
             path);
    return buf;
}

/* ------------------------------------------------------------------ */
/* Against libmicrohttpd                                                */
/* ------------------------------------------------------------------ */

START_TEST(content_length_body)
{
    struct res s = {0};

    request(&s, NULL, url_of("/hello"), NULL);
    run_until(&s.done, 5);
    ck_assert_int_eq(s.done, 1);
    ck_assert_int_eq(s.err, 0);
    ck_assert_int_eq(s.status, 200);
    ck_assert_int_eq(s.heads, 1);
    ck_assert_str_eq(s.body, "hello world");
    ck_assert_str_eq(s.xtest, "yes");
}
END_TEST

START_TEST(post_with_body_and_headers)
{
    static const char *const hdrs[] = {"X-A: 42", NULL};
    struct res s = {0};
    struct hc_opts o;

    memset(&o, 0, sizeof(o));
    o.method = "POST";
    o.url = url_of("/echo");
    o.headers = hdrs;
    o.body = "{\"k\":1}";
    o.body_len = 7;
    o.on_data = on_data;
    o.on_done = on_done;
    o.arg = &s;
    ck_assert_int_eq(hc_request(hc, &o, NULL), 0);
    run_until(&s.done, 5);
    ck_assert_int_eq(s.err, 0);
    ck_assert_int_eq(s.status, 201);
    ck_assert_str_eq(s.body, "POST 7 {\"k\":1}");
    ck_assert_str_eq(s.xtest, "42");
}
END_TEST

/* A chunked stream: "one\n" reaches on_data before "two\n" is written. */
START_TEST(chunked_stream_incremental)
{
    struct res s = {0};

    stream_res = &s;
    request(&s, NULL, url_of("/stream"), NULL);
    run_until(&s.done, 5);
    ck_assert_int_eq(s.err, 0);
    ck_assert_int_eq(s.status, 200);
    ck_assert_str_eq(s.body, "one\ntwo\n");
    ck_assert_int_ge(ndata_before_two, 1);
    ck_assert_int_ge(s.ndata, 2);
}
END_TEST

/* The caller follows a 307 itself, with hc_url_resolve(). */
START_TEST(redirect_location)
{
    struct res s = {0}, s2 = {0};
    char *next = NULL;

    request(&s, NULL, url_of("/old"), NULL);
    run_until(&s.done, 5);
    ck_assert_int_eq(s.err, 0);
    ck_assert_int_eq(s.status, 307);
    ck_assert_str_eq(s.location, "/hello");
    ck_assert_int_eq(hc_url_resolve(url_of("/old"), s.location, &next), 0);
    ck_assert_str_eq(next, url_of("/hello"));
    request(&s2, NULL, next, NULL);
    free(next);
    run_until(&s2.done, 5);
    ck_assert_int_eq(s2.status, 200);
    ck_assert_str_eq(s2.body, "hello world");
}
END_TEST

/* Cancelled from inside its own data callback: no on_done, the
 * connection closes (the server sees its client leave). */
START_TEST(cancel_inside_data)
{
    struct res s = {0};
    struct hc_stats st;

    s.cancel_in_data = 1;
    request(&s, NULL, url_of("/forever"), NULL);
    run_until(&s.ndata, 5);
    ck_assert_int_eq(s.ndata, 1);
    run_until(&forever_closed, 5);
    ck_assert_int_eq(forever_closed, 1);
    ck_assert_int_eq(s.done, 0);
    ck_assert_int_eq(s.ndata, 1);
    hc_get_stats(hc, &st);
    ck_assert_uint_eq(st.active, 0);
}
END_TEST

/* A non-zero on_data ends the request with AGORA_ECANCELED. */
START_TEST(stop_from_data)
{
    struct res s = {0};

    s.stop_in_data = 1;
    request(&s, NULL, url_of("/forever"), NULL);
    run_until(&s.done, 5);
    ck_assert_int_eq(s.err, AGORA_ECANCELED);
    ck_assert_int_eq(s.ndata, 1);
    run_until(&forever_closed, 5);
    ck_assert_int_eq(forever_closed, 1);
}
END_TEST

/* A cancelled request of a stream never calls back again. */
START_TEST(cancel_from_outside)
{
    struct res s = {0};

    request(&s, NULL, url_of("/forever"), NULL);
    run_until(&s.ndata, 5);
    hc_cancel(s.req);
    s.ndata = 0;
    run_until(&forever_closed, 5);
    ck_assert_int_eq(forever_closed, 1);
    ck_assert_int_eq(s.ndata, 0);
    ck_assert_int_eq(s.done, 0);
}
END_TEST

START_TEST(keepalive_reuses)
{
    struct res s = {0}, s2 = {0};
    struct hc_stats st;
    struct hc_opts o;

    memset(&o, 0, sizeof(o));
    o.url = url_of("/hello");
    o.keepalive = 1;
    o.on_data = on_data;
    o.on_done = on_done;
    o.arg = &s;
    ck_assert_int_eq(hc_request(hc, &o, NULL), 0);
    run_until(&s.done, 5);
    hc_get_stats(hc, &st);
    ck_assert_uint_eq(st.idle, 1);
    o.arg = &s2;
    ck_assert_int_eq(hc_request(hc, &o, NULL), 0);
    run_until(&s2.done, 5);
    ck_assert_str_eq(s2.body, "hello world");
    hc_get_stats(hc, &st);
    ck_assert_uint_eq(st.connects, 1);
    ck_assert_uint_eq(st.reused, 1);
    ck_assert_uint_eq(st.idle, 1);
}
END_TEST

/* "localhost" is resolved on a thread, not on the loop. */
START_TEST(hostname_resolved_off_loop)
{
    struct res s = {0};
    struct hc_stats st;
    char url[128];

    snprintf(url, sizeof(url), "http://localhost:%u/hello", (unsigned)port);
    request(&s, NULL, url, NULL);
    hc_get_stats(hc, &st);
    ck_assert_uint_eq(st.lookups, 0); /* nothing happened yet */
    run_until(&s.done, 10);
    ck_assert_int_eq(s.err, 0);
    ck_assert_str_eq(s.body, "hello world");
    hc_get_stats(hc, &st);
    ck_assert_uint_eq(st.lookups, 1);
}
END_TEST

/* The client goes while a lookup runs: the thread cleans up after. */
START_TEST(free_during_lookup)
{
    struct res s = {0};
    struct hc_stats st;
    char url[128];

    snprintf(url, sizeof(url), "http://localhost:%u/hello", (unsigned)port);
    request(&s, NULL, url, NULL);
    do { /* until START has begun the lookup */
        ev_run(loop, EVRUN_NOWAIT);
        hc_get_stats(hc, &st);
    } while (st.lookups == 0);
    hc_client_free(hc);
    hc = NULL;
    sleep_ms(300);
    ck_assert_int_eq(s.done, 0);
    ck_assert_int_eq(hc_client_new(loop, &hc), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Failures                                                             */
/* ------------------------------------------------------------------ */

START_TEST(refused_urls)
{
    static const char *const bad[] = {"X-A: 1\r\nX-B: 2", NULL};
    struct hc_opts o;

    memset(&o, 0, sizeof(o));
    o.url = "https://127.0.0.1/x";
    ck_assert_int_eq(hc_request(hc, &o, NULL), AGORA_ENOTSUP);
    ck_assert_str_eq(agora_strerror(AGORA_ENOTSUP), "not supported");
    o.url = "127.0.0.1:5050/x";
    ck_assert_int_eq(hc_request(hc, &o, NULL), AGORA_EURL);
    o.url = "http://127.0.0.1:99999/";
    ck_assert_int_eq(hc_request(hc, &o, NULL), AGORA_EURL);
    o.url = "http://user@127.0.0.1/";
    ck_assert_int_eq(hc_request(hc, &o, NULL), AGORA_EURL);
    o.url = "http://127.0.0.1/a b";
    ck_assert_int_eq(hc_request(hc, &o, NULL), AGORA_EURL);
    o.url = "http://127.0.0.1/";
    o.headers = bad;
    ck_assert_int_eq(hc_request(hc, &o, NULL), AGORA_EINVAL);
    o.headers = NULL;
    o.method = "GET /evil";
    ck_assert_int_eq(hc_request(hc, &o, NULL), AGORA_EINVAL);
}
END_TEST

START_TEST(connect_refused)
{
    struct res s = {0};
    uint16_t p;
    char url[128];

    close(listen_on(1, &p)); /* a port nobody listens on now */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)p);
    request(&s, NULL, url, NULL);
    run_until(&s.done, 5);
    ck_assert_int_eq(s.err, AGORA_ECONNECT);
    ck_assert_ptr_nonnull(strstr(s.error, "refused"));
}
END_TEST

/*
 * A listener whose accept queue is full drops new SYNs: the connect
 * hangs until the connect timeout.
 */
START_TEST(connect_timeout)
{
    struct res s = {0};
    struct sockaddr_in sa;
    struct hc_opts o;
    int lfd, fill[4], i;
    uint16_t p;
    char url[128];

    lfd = listen_on(0, &p);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(p);
    for (i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
    }
    sleep_ms(50);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)p);
    memset(&o, 0, sizeof(o));
    o.url = url;
    o.connect_timeout = 0.3;
    o.on_done = on_done;
    o.arg = &s;
    ck_assert_int_eq(hc_request(hc, &o, NULL), 0);
    run_until(&s.done, 5);
    ck_assert_int_eq(s.err, AGORA_ETIMEDOUT);
    ck_assert_ptr_nonnull(strstr(s.error, "no connection"));
    for (i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}
END_TEST

static void script_silent(int fd, int conn)
{
    (void)conn;
    raw_read_request(fd);
    sleep_ms(1000);
}

/* Accepted, never answered: the total timeout ends it. */
START_TEST(total_timeout)
{
    struct res s = {0};
    struct raw rs;
    struct hc_opts o;
    double t0 = ev_time();

    raw_start(&rs, 1, script_silent);
    memset(&o, 0, sizeof(o));
    o.url = raw_url(&rs, "/");
    o.timeout = 0.2;
    o.on_done = on_done;
    o.arg = &s;
    ck_assert_int_eq(hc_request(hc, &o, NULL), 0);
    run_until(&s.done, 5);
    ck_assert_int_eq(s.err, AGORA_ETIMEDOUT);
    ck_assert_double_lt(ev_time() - t0, 0.9);
    raw_stop(&rs);
}
END_TEST

static void script_big_head(int fd, int conn)
{
    char line[128];
    int i;

    (void)conn;
    raw_read_request(fd);
    raw_puts(fd, "HTTP/1.1 200 OK\r\n");
    memset(line, 'a', sizeof(line));
    memcpy(line, "X-Pad: ", 7);
    line[sizeof(line) - 2] = '\r';
    line[sizeof(line) - 1] = '\n';
    for (i = 0; i < 70 * 1024 / (int)sizeof(line); i++)
        raw_send(fd, line, sizeof(line));
    raw_puts(fd, "\r\n");
}

START_TEST(oversized_headers)
{
    struct res s = {0};
    struct raw rs;

    raw_start(&rs, 1, script_big_head);
    request(&s, NULL, raw_url(&rs, "/"), NULL);
    run_until(&s.done, 5);
    ck_assert_int_eq(s.err, AGORA_ETOOBIG);
    ck_assert_int_eq(s.heads, 0);
    raw_stop(&rs);
}
END_TEST

static void script_until_close(int fd, int conn)
{
    (void)conn;
    raw_read_request(fd);
    raw_puts(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc");
    sleep_ms(30);
    raw_puts(fd, "def");
}

START_TEST(body_until_close)
{
    struct res s = {0};
    struct raw rs;

    raw_start(&rs, 1, script_until_close);
    request(&s, NULL, raw_url(&rs, "/"), NULL);
    run_until(&s.done, 5);
    ck_assert_int_eq(s.err, 0);
    ck_assert_str_eq(s.body, "abcdef");
    ck_assert_int_ge(s.ndata, 2);
    raw_stop(&rs);
}
END_TEST

/* Chunks with an extension and a trailer, sent a byte at a time; the
 * connection stays open for 500 ms after the last one. */
static int chunked_script_over;

static void script_chunked_bytes(int fd, int conn)
{
    static const char resp[] =
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks."
        "\r\n0\r\nX-Trailer: t\r\n\r\n";
    size_t i;

    (void)conn;
    raw_read_request(fd);
    for (i = 0; i < sizeof(resp) - 1; i++) {
        raw_send(fd, resp + i, 1);
        if (i % 8 == 0)
            sleep_ms(1);
    }
    sleep_ms(500);
    __atomic_store_n(&chunked_script_over, 1, __ATOMIC_SEQ_CST);
}

START_TEST(chunked_split_anywhere)
{
    struct res s = {0};
    struct raw rs;

    raw_start(&rs, 1, script_chunked_bytes);
    request(&s, NULL, raw_url(&rs, "/"), NULL);
    run_until(&s.done, 5);
    ck_assert_int_eq(s.err, 0);
    ck_assert_int_eq(s.status, 200);
    ck_assert_int_eq(s.heads, 1);
    ck_assert_str_eq(s.body, "Wikipedia in\r\n\r\nchunks.");
    /* It ended at the last chunk, not at the close. */
    ck_assert_int_eq(__atomic_load_n(&chunked_script_over, __ATOMIC_SEQ_CST),
                     0);
    raw_stop(&rs);
}
END_TEST

static void script_garbage(int fd, int conn)
{
    (void)conn;
    raw_read_request(fd);
    raw_puts(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
}

START_TEST(not_http)
{
    struct res s = {0};
    struct raw rs;

    raw_start(&rs, 1, script_garbage);
    request(&s, NULL, raw_url(&rs, "/"), NULL);
    run_until(&s.done, 5);
    ck_assert_int_eq(s.err, AGORA_EPROTO);
    ck_assert_ptr_nonnull(strstr(s.error, "status line"));
    raw_stop(&rs);
}
END_TEST

static void script_cut(int fd, int conn)
{
    (void)conn;
    raw_read_request(fd);
    raw_puts(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
}

START_TEST(closed_mid_body)
{
    struct res s = {0};
    struct raw rs;

    raw_start(&rs, 1, script_cut);
    request(&s, NULL, raw_url(&rs, "/"), NULL);
    run_until(&s.done, 5);
    ck_assert_int_eq(s.err, AGORA_ECLOSED);
    ck_assert_str_eq(s.body, "abc");
    raw_stop(&rs);
}
END_TEST

/*
 * Connection 0 answers the first request, then reads the second and
 * closes without a word (as a server that timed out the idle connection
 * does): the second request goes again, once, on connection 1.
 */
static void script_keepalive_then_close(int fd, int conn)
{
    raw_read_request(fd);
    raw_puts(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    if (conn == 0)
        raw_read_request(fd);
}

START_TEST(stale_pooled_connection_retried)
{
    struct res s = {0}, s2 = {0};
    struct hc_stats st;
    struct raw rs;
    struct hc_opts o;

    raw_start(&rs, 2, script_keepalive_then_close);
    memset(&o, 0, sizeof(o));
    o.url = raw_url(&rs, "/");
    o.keepalive = 1;
    o.on_data = on_data;
    o.on_done = on_done;
    o.arg = &s;
    ck_assert_int_eq(hc_request(hc, &o, NULL), 0);
    run_until(&s.done, 5);
    ck_assert_int_eq(s.err, 0);
    o.arg = &s2;
    ck_assert_int_eq(hc_request(hc, &o, NULL), 0);
    run_until(&s2.done, 5);
    ck_assert_int_eq(s2.err, 0);
    ck_assert_str_eq(s2.body, "ok");
    hc_get_stats(hc, &st);
    ck_assert_uint_eq(st.reused, 1);
    ck_assert_uint_eq(st.retries, 1);
    ck_assert_uint_eq(st.connects, 2);
    raw_stop(&rs);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The parser alone, and URLs                                           */
/* ------------------------------------------------------------------ */

static int sink(void *arg, const char *p, size_t n)
{
    struct res *s = arg;

    memcpy(s->body + s->len, p, n);
    s->len += n;
    s->body[s->len] = '\0';
    return 0;
}

/* Feeds text to the parser, one byte per read. */
static int parse_bytes(struct hc_resp *p, struct res *s, const char *text)
{
    size_t i, n = strlen(text), end = 0;
    int rc = 0;

    for (i = 0; i < n && rc == 0; i++) {
        char *buf;
        size_t room;

        ck_assert_int_eq(hc_resp_room(p, &buf, &room), 0);
        ck_assert_uint_gt(room, 0);
        *buf = text[i];
        rc = hc_resp_head(p, 1, &end);
    }
    if (rc != 1)
        return rc;
    rc = hc_resp_body(p, p->head + end, p->hlen - end, sink, s);
    for (; i < n && rc == HC_MORE; i++)
        rc = hc_resp_body(p, text + i, 1, sink, s);
    return rc;
}

START_TEST(parser_byte_by_byte)
{
    struct hc_resp p;
    struct res s = {0};

    memset(&p, 0, sizeof(p));
    ck_assert_int_eq(parse_bytes(&p, &s,
                                 "\r\nHTTP/1.1 200 OK\nX-A:  1 \n"
                                 "Transfer-Encoding: gzip, chunked\n\n"
                                 "3\nabc\n0\n\n"),
                     HC_END);
    ck_assert_str_eq(hc_resp_header(&p, "x-a"), "1");
    ck_assert_str_eq(s.body, "abc");
    ck_assert_int_eq(hc_resp_reusable(&p), 1);
    hc_resp_reset(&p);
    s.len = 0;
    ck_assert_int_eq(parse_bytes(&p, &s,
                                 "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                                 "Connection: keep-alive, close\r\n\r\nxyz"),
                     HC_END);
    ck_assert_str_eq(s.body, "xyz");
    ck_assert_int_eq(hc_resp_reusable(&p), 0);
    hc_resp_reset(&p);
    ck_assert_int_eq(
        parse_bytes(&p, &s, "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n"),
        AGORA_EPROTO);
    hc_resp_reset(&p);
    ck_assert_int_eq(parse_bytes(&p, &s,
                                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                                 "chunked\r\n\r\nzz\r\n"),
                     AGORA_EPROTO);
    hc_resp_reset(&p);
    ck_assert_int_eq(
        parse_bytes(&p, &s, "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n"),
        AGORA_EPROTO);
    hc_resp_reset(&p);
    ck_assert_int_eq(parse_bytes(&p, &s, "HTTP/1.1 204 No Content\r\n\r\n"),
                     HC_END);
    hc_resp_clear(&p);
}
END_TEST

START_TEST(urls)
{
    char *u = NULL;

    ck_assert_int_eq(hc_url_base("http://Host:81/a/b?c", &u), 0);
    ck_assert_str_eq(u, "http://Host:81");
    free(u);
    ck_assert_int_eq(hc_url_base("http://[::1]/", &u), 0);
    ck_assert_str_eq(u, "http://[::1]:80");
    free(u);
    ck_assert_int_eq(hc_url_base("https://h/", &u), 0);
    ck_assert_str_eq(u, "https://h:443");
    free(u);
    ck_assert_int_eq(hc_url_base("HTTPS://h:8443/x", &u), 0);
    ck_assert_str_eq(u, "https://h:8443");
    free(u);
    ck_assert_int_eq(hc_url_base("ftp://h/", &u), AGORA_ENOTSUP);
    ck_assert_int_eq(hc_url_resolve("http://a:1/x/y?q", "/z", &u), 0);
    ck_assert_str_eq(u, "http://a:1/z");
    free(u);
    ck_assert_int_eq(hc_url_resolve("http://a:1/x/y?q", "z?w", &u), 0);
    ck_assert_str_eq(u, "http://a:1/x/z?w");
    free(u);
    ck_assert_int_eq(hc_url_resolve("http://a:1", "z", &u), 0);
    ck_assert_str_eq(u, "http://a:1/z");
    free(u);
    ck_assert_int_eq(hc_url_resolve("http://a:1/x", "//b:2/y", &u), 0);
    ck_assert_str_eq(u, "http://b:2/y");
    free(u);
    ck_assert_int_eq(hc_url_resolve("http://a:1/x", "http://c:3/api", &u), 0);
    ck_assert_str_eq(u, "http://c:3/api");
    free(u);
    ck_assert_int_eq(hc_url_resolve("http://a:1/x", "", &u), AGORA_EURL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_client");
    TCase *tc = tcase_create("client");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, content_length_body);
    tcase_add_test(tc, post_with_body_and_headers);
    tcase_add_test(tc, chunked_stream_incremental);
    tcase_add_test(tc, redirect_location);
    tcase_add_test(tc, cancel_inside_data);
    tcase_add_test(tc, stop_from_data);
    tcase_add_test(tc, cancel_from_outside);
    tcase_add_test(tc, keepalive_reuses);
    tcase_add_test(tc, hostname_resolved_off_loop);
    tcase_add_test(tc, free_during_lookup);
    tcase_add_test(tc, refused_urls);
    tcase_add_test(tc, connect_refused);
    tcase_add_test(tc, connect_timeout);
    tcase_add_test(tc, total_timeout);
    tcase_add_test(tc, oversized_headers);
    tcase_add_test(tc, body_until_close);
    tcase_add_test(tc, chunked_split_anywhere);
    tcase_add_test(tc, not_http);
    tcase_add_test(tc, closed_mid_body);
    tcase_add_test(tc, stale_pooled_connection_retried);
    tcase_add_test(tc, parser_byte_by_byte);
    tcase_add_test(tc, urls);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
