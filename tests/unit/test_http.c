/*
 * test_http.c - the HTTP layer over real sockets: query and body
 * parsing, limits, errors, deferred replies and streams.
 *
 * The server runs its loop in a thread of its own (the loop thread owns
 * it, as in the master); the test speaks raw HTTP/1.1 from the main
 * thread with blocking sockets.
 */
#include <arpa/inet.h>
#include <check.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <ev.h>

#include <agora/plugin.h>

#include "http.h"
#include "router.h"

static struct ev_loop *loop;
static struct http_server *srv;
static struct router routes;
static pthread_t thread;
static ev_async stop_async;
/* http_server_adopt() runs on the loop's thread: asked through this. */
static ev_async adopt_async;
static int adopt_fd, adopt_rc, adopt_done;

/* ---- handlers (run on the loop thread) ---- */

/* Echoes the query values of "a" (all of them), "b" and the body size. */
static void h_query(void *arg, struct http_req *r)
{
    char out[512];
    const char *a0 = http_req_query(r, "a", 0);
    const char *a1 = http_req_query(r, "a", 1);
    const char *a2 = http_req_query(r, "a", 2);
    const char *b = http_req_query(r, "b", 0);

    (void)arg;
    snprintf(out, sizeof(out), "a0=%s a1=%s a2=%s b=%s",
             a0 ? a0 : "(null)", a1 ? a1 : "(null)", a2 ? a2 : "(null)",
             b ? b : "(null)");
    http_reply(r, 200, "text/plain", out, strlen(out));
}

static void h_param(void *arg, struct http_req *r)
{
    char out[256];

    (void)arg;
    snprintf(out, sizeof(out), "id=%s path=%s", http_req_param(r, "id"),
             http_req_path(r));
    http_reply(r, 200, "text/plain", out, strlen(out));
}

/* Replies with the body's length and its first and last bytes. */
static void h_body(void *arg, struct http_req *r)
{
    size_t len;
    const char *body = http_req_body(r, &len);
    char out[128];

    (void)arg;
    snprintf(out, sizeof(out), "len=%zu first=%c last=%c nul=%d", len,
             len ? body[0] : '-', len ? body[len - 1] : '-',
             body[len] == '\0');
    http_reply_header(r, "X-Test", "yes");
    http_reply(r, 201, "text/plain", out, strlen(out));
}

static void h_nothing(void *arg, struct http_req *r)
{
    (void)arg;
    (void)r;
}

static void on_defer_timer(struct ev_loop *l, ev_timer *w, int events)
{
    struct http_req *r = w->data;

    (void)l;
    (void)events;
    http_reply(r, 200, "text/plain", "late", 4);
    free(w);
}

static void h_defer(void *arg, struct http_req *r)
{
    ev_timer *w = malloc(sizeof(*w));

    (void)arg;
    ck_assert_int_eq(http_defer(r), 0);
    ev_timer_init(w, on_defer_timer, 0.1, 0.);
    w->data = r;
    ev_timer_start(loop, w);
}

/* Defers, then replies before the handler returns. */
static void h_defer_now(void *arg, struct http_req *r)
{
    (void)arg;
    ck_assert_int_eq(http_defer(r), 0);
    http_reply(r, 200, "text/plain", "now", 3);
    ck_assert_int_eq(http_reply(r, 200, "text/plain", "twice", 5),
                     AGORA_ESTATE);
}

static int stream_closed;

static void on_stream_close(void *arg, struct http_stream *s)
{
    (void)arg;
    (void)s;
    __atomic_store_n(&stream_closed, 1, __ATOMIC_SEQ_CST);
}

static void on_stream_tick(struct ev_loop *l, ev_timer *w, int events)
{
    struct http_stream *s = w->data;
    static int n;

    (void)l;
    (void)events;
    if (++n < 3) {
        http_stream_write(s, "data: tick\n\n", 12);
        return;
    }
    n = 0;
    ev_timer_stop(loop, w);
    http_stream_write(s, "data: end\n\n", 11);
    http_stream_close(s);
    free(w);
}

/* Three events 50 ms apart, with keep-alive comments every 20 ms. */
static void h_stream(void *arg, struct http_req *r)
{
    ev_timer *w = malloc(sizeof(*w));
    struct http_stream *s;

    (void)arg;
    s = http_stream_open(r, "text/event-stream", 0.02, ":\n\n", 0,
                         on_stream_close, NULL);
    ck_assert_ptr_nonnull(s);
    ev_timer_init(w, on_stream_tick, 0.05, 0.05);
    w->data = s;
    ev_timer_start(loop, w);
}

/* A stream nobody closes: only the client leaving ends it. */
static void h_stream_forever(void *arg, struct http_req *r)
{
    (void)arg;
    ck_assert_ptr_nonnull(http_stream_open(r, NULL, 0.02, ":\n\n", 0,
                                           on_stream_close, NULL));
}

/* ---- the server thread ---- */

static void on_stop(struct ev_loop *l, ev_async *w, int events)
{
    (void)w;
    (void)events;
    ev_break(l, EVBREAK_ALL);
}

static void on_adopt(struct ev_loop *l, ev_async *w, int events)
{
    struct sockaddr_in peer;

    (void)l;
    (void)w;
    (void)events;
    memset(&peer, 0, sizeof(peer));
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    adopt_rc = http_server_adopt(srv, adopt_fd, (struct sockaddr *)&peer,
                                 sizeof(peer));
    __atomic_store_n(&adopt_done, 1, __ATOMIC_SEQ_CST);
}

/* Hands fd to the server on its thread; the adoption's result. */
static int adopt(int fd)
{
    int i;

    adopt_fd = fd;
    __atomic_store_n(&adopt_done, 0, __ATOMIC_SEQ_CST);
    ev_async_send(loop, &adopt_async);
    for (i = 0; i < 500 && !__atomic_load_n(&adopt_done, __ATOMIC_SEQ_CST);
         i++)
        usleep(10000);
    ck_assert_int_eq(__atomic_load_n(&adopt_done, __ATOMIC_SEQ_CST), 1);
    return adopt_rc;
}

static void *server_main(void *arg)
{
    (void)arg;
    ev_run(loop, 0);
    return NULL;
}

static void add(const char *method, const char *path, http_handler_fn fn)
{
    ck_assert_int_eq(router_add(&routes, method, NULL, path, (void *)fn, NULL),
                     0);
}

static void setup(void)
{
    struct http_server_conf c = {.name = "test", .ip = "127.0.0.1",
                                 .max_body = 1000};

    loop = ev_loop_new(EVFLAG_AUTO);
    memset(&routes, 0, sizeof(routes));
    add("GET", "/query", h_query);
    add("GET", "/apps/*id", h_param);
    add("POST", "/body", h_body);
    add("GET", "/nothing", h_nothing);
    add("GET", "/defer", h_defer);
    add("GET", "/defer-now", h_defer_now);
    add("GET", "/stream", h_stream);
    add("GET", "/forever", h_stream_forever);
    ck_assert_int_eq(http_server_start(loop, &c, &routes, &srv), 0);
    ck_assert_uint_gt(http_server_port(srv), 0);
    ev_async_init(&stop_async, on_stop);
    ev_async_start(loop, &stop_async);
    ev_async_init(&adopt_async, on_adopt);
    ev_async_start(loop, &adopt_async);
    stream_closed = 0;
    ck_assert_int_eq(pthread_create(&thread, NULL, server_main, NULL), 0);
}

static void teardown(void)
{
    ev_async_send(loop, &stop_async);
    pthread_join(thread, NULL);
    http_server_stop(srv);
    router_free(&routes);
    ev_loop_destroy(loop);
}

/* ---- the client ---- */

static int client_connect(void)
{
    struct sockaddr_in sa;
    struct timeval tv = {5, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(http_server_port(srv));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

        if (n <= 0)
            return; /* the server may close early (413) */
        data += n;
        len -= (size_t)n;
    }
}

/* Sends a request and reads the whole response (Connection: close). */
static char *roundtrip(const char *req, size_t reqlen)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    int fd = client_connect();
    ssize_t n;

    send_all(fd, req, reqlen);
    while ((n = recv(fd, buf + len, cap - len - 1, 0)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
    return buf;
}

static char *get(const char *path)
{
    char req[1024];

    snprintf(req, sizeof(req),
             "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    return roundtrip(req, strlen(req));
}

static void expect(char *resp, const char *status, const char *body)
{
    ck_assert_msg(strncmp(resp, status, strlen(status)) == 0,
                  "status: want '%s' in '%s'", status, resp);
    if (body)
        ck_assert_msg(strstr(resp, body) != NULL, "body: want '%s' in '%s'",
                      body, resp);
    free(resp);
}

/* ---- tests ---- */

START_TEST(query_parsing)
{
    expect(get("/query?a=1&b=two&a=x%20y&a=%2Fslash"), "HTTP/1.1 200",
           "a0=1 a1=x y a2=/slash b=two");
    expect(get("/query?a&b="), "HTTP/1.1 200",
           "a0= a1=(null) a2=(null) b=");
    expect(get("/query"), "HTTP/1.1 200", "a0=(null)");
    expect(get("/query?b=a+b"), "HTTP/1.1 200", "b=a b");
}
END_TEST

START_TEST(path_params)
{
    expect(get("/apps/prod/web"), "HTTP/1.1 200", "id=prod/web path=/apps/prod/web");
    expect(get("/apps/a%2Fb?x=1"), "HTTP/1.1 200", "id=a/b");
}
END_TEST

START_TEST(body_parsing)
{
    char req[2048], body[1000];

    memset(body, 'x', sizeof(body));
    body[0] = 'A';
    body[sizeof(body) - 1] = 'Z';
    snprintf(req, sizeof(req),
             "POST /body HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "Content-Length: %zu\r\n\r\n",
             sizeof(body));
    {
        size_t hdr = strlen(req);

        memcpy(req + hdr, body, sizeof(body));
        expect(roundtrip(req, hdr + sizeof(body)), "HTTP/1.1 201",
               "len=1000 first=A last=Z nul=1");
    }
    /* Chunked bodies are reassembled. */
    {
        const char *chunked =
            "POST /body HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        char *resp = roundtrip(chunked, strlen(chunked));

        ck_assert_ptr_nonnull(strstr(resp, "X-Test: yes"));
        expect(resp, "HTTP/1.1 201", "len=5 first=a last=e");
    }
    /* No body at all. */
    {
        const char *empty = "POST /body HTTP/1.1\r\nHost: x\r\n"
                            "Connection: close\r\nContent-Length: 0\r\n\r\n";

        expect(roundtrip(empty, strlen(empty)), "HTTP/1.1 201",
               "len=0 first=- last=- nul=1");
    }
}
END_TEST

START_TEST(body_limit)
{
    char req[4096];
    size_t hdr;

    /* Declared too big: refused before the body is read. */
    snprintf(req, sizeof(req),
             "POST /body HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "Content-Length: 1001\r\n\r\n");
    hdr = strlen(req);
    memset(req + hdr, 'x', 1001);
    expect(roundtrip(req, hdr + 1001), "HTTP/1.1 413",
           "{\"message\":\"request body larger than 1000 bytes\"}");
    /* Chunked past the limit: refused once it is over. */
    {
        char *p = req;

        p += sprintf(p, "POST /body HTTP/1.1\r\nHost: x\r\nConnection: close"
                        "\r\nTransfer-Encoding: chunked\r\n\r\n");
        p += sprintf(p, "%x\r\n", 1200);
        memset(p, 'y', 1200);
        p += 1200;
        p += sprintf(p, "\r\n0\r\n\r\n");
        expect(roundtrip(req, (size_t)(p - req)), "HTTP/1.1 413",
               "larger than 1000 bytes");
    }
    /* Exactly at the limit is fine. */
    snprintf(req, sizeof(req),
             "POST /body HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "Content-Length: 1000\r\n\r\n");
    hdr = strlen(req);
    memset(req + hdr, 'x', 1000);
    expect(roundtrip(req, hdr + 1000), "HTTP/1.1 201", "len=1000");
}
END_TEST

START_TEST(errors_are_json)
{
    char *resp = get("/missing");

    ck_assert_ptr_nonnull(strstr(resp, "Content-Type: application/json"));
    expect(resp, "HTTP/1.1 404", "{\"message\":\"no route for GET /missing\"}");
    {
        const char *del = "DELETE /query HTTP/1.1\r\nHost: x\r\n"
                          "Connection: close\r\n\r\n";

        resp = roundtrip(del, strlen(del));
    }
    ck_assert_ptr_nonnull(strstr(resp, "Allow: GET"));
    expect(resp, "HTTP/1.1 405", "\"message\"");
    expect(get("/nothing"), "HTTP/1.1 500",
           "{\"message\":\"the handler did not reply\"}");
}
END_TEST

START_TEST(deferred)
{
    struct timeval t0, t1;
    double ms;

    gettimeofday(&t0, NULL);
    expect(get("/defer"), "HTTP/1.1 200", "late");
    gettimeofday(&t1, NULL);
    ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_usec - t0.tv_usec) / 1e3;
    ck_assert_msg(ms >= 95, "a deferred reply came after %.1f ms", ms);
    expect(get("/defer-now"), "HTTP/1.1 200", "now");
}
END_TEST

START_TEST(deferred_many_keepalive)
{
    const char *one = "GET /defer HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[8192];
    size_t len = 0;
    int fd = client_connect(), i, seen = 0;

    /* Three pipelined requests on one connection, each deferred. */
    for (i = 0; i < 3; i++)
        send_all(fd, one, strlen(one));
    while (seen < 3) {
        ssize_t n = recv(fd, buf + len, sizeof(buf) - len - 1, 0);
        char *p;

        ck_assert_int_gt(n, 0);
        len += (size_t)n;
        buf[len] = '\0';
        for (seen = 0, p = buf; (p = strstr(p, "late")); p += 4)
            seen++;
    }
    close(fd);
}
END_TEST

START_TEST(stream)
{
    char *resp = get("/stream");

    ck_assert_ptr_nonnull(strstr(resp, "Content-Type: text/event-stream"));
    ck_assert_ptr_nonnull(strstr(resp, "Transfer-Encoding: chunked"));
    ck_assert_ptr_nonnull(strstr(resp, ":\n\n")); /* a keep-alive comment */
    ck_assert_ptr_nonnull(strstr(resp, "data: tick\n\n"));
    expect(resp, "HTTP/1.1 200", "data: end\n\n");
    /* The owner closed it: on_close is not called. */
    ck_assert_int_eq(__atomic_load_n(&stream_closed, __ATOMIC_SEQ_CST), 0);
}
END_TEST

START_TEST(stream_client_leaves)
{
    const char *req = "GET /forever HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[512];
    int fd = client_connect(), i;

    send_all(fd, req, strlen(req));
    ck_assert_int_gt(recv(fd, buf, sizeof(buf), 0), 0);
    close(fd);
    /* The next keep-alive write finds the socket closed. */
    for (i = 0; i < 200 && !__atomic_load_n(&stream_closed, __ATOMIC_SEQ_CST);
         i++)
        usleep(10000);
    ck_assert_int_eq(__atomic_load_n(&stream_closed, __ATOMIC_SEQ_CST), 1);
}
END_TEST

/* A socket handed over with http_server_adopt() is served as an
 * accepted one: pipelined requests answered in order, then the close. */
START_TEST(adopted_socket)
{
    const char *req = "GET /apps/a HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /apps/b HTTP/1.1\r\nHost: x\r\n"
                      "Connection: close\r\n\r\n";
    struct timeval tv = {5, 0};
    char buf[4096];
    size_t len = 0;
    ssize_t n;
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ck_assert_int_eq(adopt(sv[1]), 0);
    send_all(sv[0], req, strlen(req));
    while (len < sizeof(buf) - 1 &&
           (n = recv(sv[0], buf + len, sizeof(buf) - 1 - len, 0)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(sv[0]);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "got '%s'", buf);
    ck_assert_msg(strstr(buf, "id=a ") && strstr(buf, "id=b ") &&
                      strstr(buf, "id=a ") < strstr(buf, "id=b "),
                  "got '%s'", buf);
}
END_TEST

/* ---- a server's start answers nothing ---- */

static int starting; /* inside http_server_start() */
static int answered; /* probes answered */
static int answered_in_start;
static int early_fd = -1; /* the client that came before the first run */

static void h_probe(void *arg, struct http_req *r)
{
    (void)arg;
    answered++;
    answered_in_start += starting;
    http_reply(r, 200, "text/plain", "ok", 2);
}

/*
 * libmicrohttpd's listen(), through this one while a test starts a
 * server: once the socket listens, a client connects and sends its
 * request before the server's start goes on, as a client polling a
 * restarting master's port may (the kernel queues the connection; no
 * accept is needed). The executable's definition wins over libc's for
 * the library's call.
 */
int listen(int fd, int backlog)
{
    static const char req[] = "GET /probe HTTP/1.1\r\nHost: t\r\n\r\n";
    int (*real)(int, int) = (int (*)(int, int))dlsym(RTLD_NEXT, "listen");
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int rc;

    ck_assert_ptr_nonnull(real);
    rc = real(fd, backlog);

    if (rc != 0 || !starting || early_fd >= 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return rc;
    early_fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(early_fd, 0);
    ck_assert_int_eq(connect(early_fd, (struct sockaddr *)&sa, len), 0);
    send_all(early_fd, req, sizeof(req) - 1);
    return rc;
}

static void on_up_timer(struct ev_loop *l, ev_timer *w, int events)
{
    (void)w;
    (void)events;
    ev_break(l, EVBREAK_ALL);
}

/* A request already queued on the port when the server starts is
 * answered on the loop, never inside http_server_start(), whose caller
 * has not set its filter, routes or state yet (a master restarted on its
 * port while a client polled it crashed so: the allocator it had not
 * made yet). */
START_TEST(start_answers_nothing)
{
    struct http_server_conf c = {
        .name = "test", .ip = "127.0.0.1", .max_body = 1000};
    ev_timer up;
    char buf[256];
    ssize_t n;

    loop = ev_loop_new(EVFLAG_AUTO);
    memset(&routes, 0, sizeof(routes));
    add("GET", "/probe", h_probe);
    answered = answered_in_start = 0;
    starting = 1;
    ck_assert_int_eq(http_server_start(loop, &c, &routes, &srv), 0);
    starting = 0;
    ck_assert_msg(early_fd >= 0, "no client came before the first run");
    ck_assert_int_eq(answered_in_start, 0);
    ev_timer_init(&up, on_up_timer, 0.2, 0.); /* then the loop answers */
    ev_timer_start(loop, &up);
    ev_run(loop, 0);
    ck_assert_int_eq(answered, 1);
    n = recv(early_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "got '%s'", buf);
    close(early_fd);
    early_fd = -1;
    http_server_stop(srv);
    router_free(&routes);
    ev_loop_destroy(loop);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("server");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, query_parsing);
    tcase_add_test(tc, path_params);
    tcase_add_test(tc, body_parsing);
    tcase_add_test(tc, body_limit);
    tcase_add_test(tc, errors_are_json);
    tcase_add_test(tc, deferred);
    tcase_add_test(tc, deferred_many_keepalive);
    tcase_add_test(tc, stream);
    tcase_add_test(tc, stream_client_leaves);
    tcase_add_test(tc, adopted_socket);
    suite_add_tcase(s, tc);
    tc = tcase_create("start");
    tcase_add_test(tc, start_answers_nothing);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
