/*
 * fuzz_http.c - libFuzzer target: the HTTP request path of a server.
 *
 * A real server of core/base/http.c (libmicrohttpd, the guard of
 * http_guard.c, the framing checks, the cross-site check, the router)
 * runs on a libev loop in this process, with the master's limits. Each
 * input is the raw bytes a client sends on one connection: one end of a
 * socketpair is handed to the server with http_server_adopt(), the input
 * written to the other end, which is then shut for writing, and the loop
 * run until the server closes the connection (bounded: a connection
 * still open after FZ_ROUNDS rounds is closed from our side). Requests
 * may be pipelined, chunked, malformed or cut anywhere.
 *
 * The routes do what the master's and plugins' handlers do with a
 * request: read route parameters, every query argument, headers and the
 * body (parsed as JSON), answer at once, with an error naming client
 * text, with a header, as a stream, or deferred and answered on a later
 * loop iteration.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "http.h"
#include "log.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FZ_ROUNDS 64
#define FZ_DEFERRED 16

static struct ev_loop *fz_loop;
static struct router fz_router = ROUTER_INIT;
static struct http_server *fz_server;
static struct http_req *fz_deferred[FZ_DEFERRED];
static int fz_echo; /* FUZZ_HTTP_ECHO=1: the answers to stderr */

/* Reads every query argument the way handlers do, by name. */
static void fz_read_request(struct http_req *r)
{
    static const char *const names[] = {"embed",  "force",  "id", "path",
                                        "offset", "length", ""};
    size_t i, n;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        for (n = 0; http_req_query(r, names[i], n) != NULL && n < 64; n++)
            ;
    http_req_query_string(r);
    http_req_header(r, "Content-Type");
    http_req_header(r, "Accept");
}

/* GET /v2/apps/{*id}: the parameter and the query echoed as JSON. */
static void fz_h_app(void *arg, struct http_req *r)
{
    struct agora_jw *w = agora_jw_new();
    const char *id = http_req_param(r, "id");

    (void)arg;
    fz_read_request(r);
    if (w == NULL) {
        http_reply_error(r, 500, "out of memory");
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", id);
    agora_jw_kstr(w, "query", http_req_query_string(r));
    agora_jw_kstr(w, "embed", http_req_query(r, "embed", 0));
    agora_jw_obj_close(w);
    http_reply_jw(r, 200, w);
}

/* POST/PUT with a JSON body: 400 naming the parse error, else 201. */
static void fz_h_body(void *arg, struct http_req *r)
{
    char why[256];
    size_t len;
    const char *body = http_req_body(r, &len);
    yajl_val v = agora_json_parse(body, why, sizeof(why));

    (void)arg;
    fz_read_request(r);
    if (v == NULL) {
        http_reply_errorf(r, 400, "invalid JSON: %s", why);
        return;
    }
    if (!agora_id_valid(agora_json_get_str(v, "id"), AGORA_ID_MAX))
        http_reply_errorf(
            r, 422, "invalid id '%.64s'",
            agora_json_get_str(v, "id") ? agora_json_get_str(v, "id") : "");
    else
        http_reply(r, 201, NULL, body, len);
    yajl_tree_free(v);
}

/* A header whose value the client chose (a redirect's Location). */
static void fz_h_redirect(void *arg, struct http_req *r)
{
    const char *to = http_req_query(r, "to", 0);

    (void)arg;
    if (to == NULL || http_reply_header(r, "Location", to) < 0) {
        http_reply_error(r, 400, "no place to go");
        return;
    }
    http_reply(r, 307, "text/plain", "", 0);
}

/* An event stream: opened, written once, closed. */
static void fz_h_stream(void *arg, struct http_req *r)
{
    struct http_stream *st;

    (void)arg;
    st = http_stream_open(r, "application/x-ndjson", 0, NULL, 0, NULL, NULL);
    if (st == NULL)
        return;
    http_stream_write(st, "{\"type\":\"ping\"}\n", 16);
    http_stream_close(st);
}

static void fz_deferred_gone(void *arg, struct http_req *r)
{
    size_t i = (size_t)(uintptr_t)arg;

    (void)r;
    fz_deferred[i] = NULL;
}

/* Deferred: answered by the harness on a later loop iteration. */
static void fz_h_defer(void *arg, struct http_req *r)
{
    size_t i;

    (void)arg;
    for (i = 0; i < FZ_DEFERRED && fz_deferred[i]; i++)
        ;
    if (i == FZ_DEFERRED || http_defer(r) < 0) {
        http_reply_error(r, 503, "busy");
        return;
    }
    fz_deferred[i] = r;
    http_req_on_done(r, fz_deferred_gone, (void *)(uintptr_t)i);
}

static void fz_answer_deferred(void)
{
    size_t i;

    for (i = 0; i < FZ_DEFERRED; i++)
        if (fz_deferred[i])
            http_reply(fz_deferred[i], 200, NULL, "{}", 2);
}

static void fz_route(const char *method, const char *pattern, void *h)
{
    if (router_add(&fz_router, method, NULL, pattern, h, NULL) < 0)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* The master's defaults (core/master.c's flags). */
    struct http_server_conf c = {.name = "fuzz",
                                 .ip = "127.0.0.1",
                                 .port = 0,
                                 .max_body = 1048576,
                                 .conn_memory = 8192,
                                 .max_conns = 1024,
                                 .max_conns_per_ip = 1024,
                                 .header_timeout = 10,
                                 .idle_timeout = 60};

    (void)argc;
    (void)argv;
    log_set_level((enum agora_log_level)(AGORA_LOG_ERROR + 1));
    fz_loop = ev_default_loop(0);
    fz_echo = getenv("FUZZ_HTTP_ECHO") != NULL;
    fz_route("GET", "/v2/apps/*id", fz_h_app);
    fz_route("POST", "/v2/apps", fz_h_body);
    fz_route("PUT", "/v2/apps/:id", fz_h_body);
    fz_route("PATCH", "/v2/apps/:id", fz_h_body);
    fz_route("GET", "/master/redirect", fz_h_redirect);
    fz_route("GET", "/api/agent/stream", fz_h_stream);
    fz_route("POST", "/api/agent/updates", fz_h_defer);
    fz_route("DELETE", "/v2/apps/:id", fz_h_defer);
    if (http_server_start(fz_loop, &c, &fz_router, &fz_server) < 0)
        abort();
    return 0;
}

/* Reads what the server sent; 1 once it closed its end. */
static int fz_drain(int fd)
{
    char buf[65536];
    ssize_t n;

    for (;;) {
        n = read(fd, buf, sizeof(buf));
        if (n > 0 && fz_echo)
            fwrite(buf, 1, (size_t)n, stderr);
        if (n > 0)
            continue;
        if (n == 0)
            return 1;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_in peer;
    int sv[2], round, closed = 0, shut = 0;
    size_t off = 0;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    memset(&peer, 0, sizeof(peer));
    peer.sin_family = AF_INET;
    peer.sin_port = htons(40000);
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 ||
        http_server_adopt(fz_server, sv[1], (struct sockaddr *)&peer,
                          sizeof(peer)) < 0)
        abort();
    for (round = 0; round < FZ_ROUNDS && !closed; round++) {
        while (off < size) {
            ssize_t n = write(sv[0], data + off, size - off);

            if (n <= 0)
                break; /* full: the server reads first */
            off += (size_t)n;
        }
        if (off == size && !shut)
            shut = shutdown(sv[0], SHUT_WR) == 0;
        ev_run(fz_loop, EVRUN_NOWAIT);
        fz_answer_deferred();
        closed = fz_drain(sv[0]);
    }
    close(sv[0]);
    /* The server sees the close and frees the connection (it closed it
     * already when we read its end of file: one round to clean up). */
    for (round = 0; round < (closed ? 1 : 4); round++) {
        ev_run(fz_loop, EVRUN_NOWAIT);
        fz_answer_deferred();
    }
    return 0;
}
