/*
 * outbound - a test plugin for the end-to-end tests (not shipped): the
 * services table's outbound I/O (ABI 2.1), each route answered from the
 * operation's callback (a deferred reply).
 *
 *   POST /fetch  {"url", "method", "body", "timeout", "max_body",
 *                 "header": "Name: value", "cancel_after": secs}
 *                -> {"err", "err_name", "status", "body", "content_type",
 *                    "error"} from the HTTP client's callback; with
 *                cancel_after, a timer cancels the request and answers
 *                {"cancelled": true}. A request refused at once
 *                -> {"err", "err_name", "at_once": true}.
 *   POST /spawn  {"argv": [...], "env": [...], "cwd", "kill_after": secs,
 *                 "signal"} -> {"exit_code", "signal", "pid", "kill"}
 *                from the exit callback (kill: what proc_kill returned),
 *                or {"err", "err_name", "at_once": true}.
 *   POST /pipe   {"data"} -> {"echo", "events"}: a socketpair, one end
 *                watched for writing (writes data, then waits to read),
 *                the other for reading (reads it, writes it back).
 *   POST /idle   watches a pipe nothing writes to, left for unloading
 *                (fini closes the fds; the master stops the watcher).
 *   GET  /stats  {"http_done", "exits", "fd_events"}: callbacks so far.
 *
 * Every callback logs "outbound: <what> done ..." through the host, so a
 * test can tell that none ran after the plugin was unloaded.
 *
 * Built by the tests against the installed SDK only:
 *   gcc -shared -fPIC -I$PREFIX/include outbound.c
 *       $PREFIX/lib/libagora-sdk.a -lyajl -lm
 */
#define _GNU_SOURCE /* pipe2, SOCK_NONBLOCK, strdup under -std=c11 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/plugin.h>
#include <agora/sdk.h>

struct ob {
    struct agora_host *h;
    const struct agora_api *api;
    long http_done, exits, fd_events;
    int idle[2];     /* the /idle pipe, or -1 */
    struct op *ops;  /* in flight, freed by fini when unloaded first */
};

/* One operation in flight, answered from its callback. */
struct op {
    struct ob *st;
    struct op *prev, *next;
    struct agora_req *req;
    struct agora_http *http;
    struct agora_proc *proc;
    int kill_sig;
    int kill_rc;
    /* /pipe */
    int fds[2];
    struct agora_watch *wa, *wb;
    char *data;
    char got[256];
    size_t ngot;
    int events;
};

static struct op *op_new(struct ob *st, struct agora_req *req)
{
    struct op *o = calloc(1, sizeof(*o));

    if (o == NULL)
        return NULL;
    o->st = st;
    o->req = req;
    o->fds[0] = o->fds[1] = -1;
    o->next = st->ops;
    if (st->ops)
        st->ops->prev = o;
    st->ops = o;
    return o;
}

static void op_free(struct op *o)
{
    if (o->prev)
        o->prev->next = o->next;
    else
        o->st->ops = o->next;
    if (o->next)
        o->next->prev = o->prev;
    free(o->data);
    free(o);
}

static void reply_at_once(struct ob *st, struct agora_req *req, int rc)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_obj_open(w);
    agora_jw_kint(w, "err", rc);
    agora_jw_kstr(w, "err_name", st->api->strerror(rc));
    agora_jw_kbool(w, "at_once", 1);
    agora_jw_obj_close(w);
    agora_reply_jw(st->api, req, 200, w);
    agora_jw_free(w);
}

/* Parses the request's body; replies 400 and returns NULL when bad. */
static yajl_val body_json(struct ob *st, struct agora_req *req)
{
    char err[200];
    yajl_val v = agora_json_parse(st->api->req_body(req, NULL), err,
                                  sizeof(err));

    if (v == NULL || !YAJL_IS_OBJECT(v)) {
        agora_reply_error(st->api, req, 400, "invalid JSON");
        if (v)
            yajl_tree_free(v);
        return NULL;
    }
    return v;
}

/* An array of strings as a NULL-terminated vector pointing into v. */
static const char **str_vec(yajl_val v)
{
    const char **out;
    size_t i;

    if (v == NULL || !YAJL_IS_ARRAY(v))
        return NULL;
    out = calloc(v->u.array.len + 1, sizeof(*out));
    if (out == NULL)
        return NULL;
    for (i = 0; i < v->u.array.len; i++)
        out[i] = YAJL_GET_STRING(v->u.array.values[i]);
    return out;
}

/* ---- /fetch ---- */

static void fetch_done(void *arg, int err,
                       const struct agora_http_response *r)
{
    struct op *o = arg;
    struct ob *st = o->st;
    const char *ctype = st->api->http_header(r, "Content-Type");
    struct agora_jw *w = agora_jw_new();

    st->http_done++;
    st->api->log(st->h, AGORA_LOG_INFO, "outbound: fetch done err=%d", err);
    agora_jw_obj_open(w);
    agora_jw_kint(w, "err", err);
    agora_jw_kstr(w, "err_name", st->api->strerror(err));
    agora_jw_kint(w, "status", r->status);
    agora_jw_key(w, "body");
    if (r->body)
        agora_jw_strn(w, r->body, r->len);
    else
        agora_jw_null(w);
    agora_jw_kint(w, "len", (int64_t)r->len);
    agora_jw_key(w, "content_type");
    if (ctype)
        agora_jw_str(w, ctype);
    else
        agora_jw_null(w);
    agora_jw_kstr(w, "error", r->error);
    agora_jw_obj_close(w);
    agora_reply_jw(st->api, o->req, 200, w);
    agora_jw_free(w);
    op_free(o);
}

static void fetch_cancel(void *arg, struct agora_timer *t)
{
    struct op *o = arg;
    struct ob *st = o->st;
    static const char doc[] = "{\"cancelled\":true}";

    (void)t;
    st->api->http_cancel(st->h, o->http);
    st->api->log(st->h, AGORA_LOG_INFO, "outbound: fetch cancelled");
    st->api->reply(o->req, 200, NULL, doc, sizeof(doc) - 1);
    op_free(o);
}

static void fetch(void *state, struct agora_req *req)
{
    struct ob *st = state;
    struct agora_http_request rq;
    const char *hdrs[2] = {NULL, NULL};
    struct agora_timer *t;
    double cancel_after = 0;
    int64_t max_body = 0;
    struct op *o;
    yajl_val v;
    int rc;

    if ((v = body_json(st, req)) == NULL)
        return;
    memset(&rq, 0, sizeof(rq));
    rq.url = agora_json_get_str(v, "url");
    rq.method = agora_json_get_str(v, "method");
    rq.body = agora_json_get_str(v, "body");
    rq.body_len = rq.body ? strlen(rq.body) : 0;
    (void)agora_json_num(v, "timeout", &rq.timeout);
    (void)agora_json_int(v, "max_body", &max_body);
    rq.max_body = (size_t)max_body;
    if ((hdrs[0] = agora_json_get_str(v, "header")) != NULL)
        rq.headers = hdrs;
    (void)agora_json_num(v, "cancel_after", &cancel_after);
    if ((o = op_new(st, req)) == NULL) {
        yajl_tree_free(v);
        agora_reply_error(st->api, req, 500, "out of memory");
        return;
    }
    rc = st->api->http_request(st->h, &rq, fetch_done, o, &o->http);
    yajl_tree_free(v); /* everything was copied */
    if (rc != 0) {
        op_free(o);
        reply_at_once(st, req, rc);
        return;
    }
    st->api->defer(req);
    if (cancel_after > 0)
        st->api->timer_start(st->h, cancel_after, 0, fetch_cancel, o, &t);
}

/* ---- /spawn ---- */

static void spawn_exit(void *arg, struct agora_proc *pr, int exit_code,
                       int sig)
{
    struct op *o = arg;
    struct ob *st = o->st;
    struct agora_jw *w = agora_jw_new();

    st->exits++;
    st->api->log(st->h, AGORA_LOG_INFO,
                 "outbound: spawn done exit_code=%d signal=%d", exit_code,
                 sig);
    agora_jw_obj_open(w);
    agora_jw_kint(w, "exit_code", exit_code);
    agora_jw_kint(w, "signal", sig);
    agora_jw_kint(w, "pid", st->api->proc_pid(st->h, pr));
    agora_jw_kint(w, "kill", o->kill_rc);
    /* Its callback has begun: the child is gone. */
    agora_jw_kint(w, "kill_now", st->api->proc_kill(st->h, pr, 0));
    agora_jw_obj_close(w);
    agora_reply_jw(st->api, o->req, 200, w);
    agora_jw_free(w);
    op_free(o);
}

static void spawn_kill(void *arg, struct agora_timer *t)
{
    struct op *o = arg;

    (void)t;
    o->kill_rc = o->st->api->proc_kill(o->st->h, o->proc, o->kill_sig);
}

static void spawn(void *state, struct agora_req *req)
{
    struct ob *st = state;
    struct agora_spawn sp;
    struct agora_timer *t;
    double kill_after = 0;
    int64_t sig = 15;
    struct op *o;
    yajl_val v;
    int rc;

    if ((v = body_json(st, req)) == NULL)
        return;
    memset(&sp, 0, sizeof(sp));
    sp.argv = str_vec(agora_json_get(v, "argv"));
    sp.env = str_vec(agora_json_get(v, "env"));
    sp.cwd = agora_json_get_str(v, "cwd");
    (void)agora_json_num(v, "kill_after", &kill_after);
    (void)agora_json_int(v, "signal", &sig);
    if ((o = op_new(st, req)) == NULL) {
        agora_reply_error(st->api, req, 500, "out of memory");
    } else {
        o->kill_sig = (int)sig;
        o->kill_rc = 1; /* not called */
        rc = st->api->spawn(st->h, &sp, spawn_exit, o, &o->proc);
        if (rc != 0) {
            op_free(o);
            reply_at_once(st, req, rc);
        } else {
            st->api->defer(req);
            if (kill_after > 0)
                st->api->timer_start(st->h, kill_after, 0, spawn_kill, o,
                                     &t);
        }
    }
    free((void *)sp.argv);
    free((void *)sp.env);
    yajl_tree_free(v);
}

/* ---- /pipe ---- */

static void pipe_finish(struct op *o)
{
    struct ob *st = o->st;
    struct agora_jw *w = agora_jw_new();

    st->api->fd_watch_stop(st->h, o->wa);
    st->api->fd_watch_stop(st->h, o->wb);
    close(o->fds[0]);
    close(o->fds[1]);
    o->fds[0] = o->fds[1] = -1;
    st->api->log(st->h, AGORA_LOG_INFO, "outbound: pipe done");
    agora_jw_obj_open(w);
    agora_jw_key(w, "echo");
    agora_jw_strn(w, o->got, o->ngot);
    agora_jw_kint(w, "events", o->events);
    agora_jw_obj_close(w);
    agora_reply_jw(st->api, o->req, 200, w);
    agora_jw_free(w);
    op_free(o);
}

/* End a: writable first (writes the data, then waits to read), then
 * readable (the data back). */
static void pipe_a(void *arg, struct agora_watch *wt, int fd, int events)
{
    struct op *o = arg;
    ssize_t n;

    o->st->fd_events++;
    o->events++;
    if (events & AGORA_FD_WRITE) {
        if (write(fd, o->data, strlen(o->data)) < 0)
            o->st->api->log(o->st->h, AGORA_LOG_ERROR, "write: %s",
                            strerror(errno));
        o->st->api->fd_watch_set(o->st->h, wt, AGORA_FD_READ);
        return;
    }
    n = read(fd, o->got + o->ngot, sizeof(o->got) - 1 - o->ngot);
    if (n > 0)
        o->ngot += (size_t)n;
    if (n <= 0 || o->ngot >= strlen(o->data) ||
        o->ngot == sizeof(o->got) - 1)
        pipe_finish(o);
}

/* End b: what it reads goes back. */
static void pipe_b(void *arg, struct agora_watch *wt, int fd, int events)
{
    struct op *o = arg;
    char buf[256];
    ssize_t n;

    (void)wt;
    (void)events;
    o->st->fd_events++;
    o->events++;
    n = read(fd, buf, sizeof(buf));
    if (n > 0 && write(fd, buf, (size_t)n) < 0)
        o->st->api->log(o->st->h, AGORA_LOG_ERROR, "write back: %s",
                        strerror(errno));
}

static void pipe_route(void *state, struct agora_req *req)
{
    struct ob *st = state;
    const char *data;
    struct op *o;
    yajl_val v;

    if ((v = body_json(st, req)) == NULL)
        return;
    data = agora_json_get_str(v, "data");
    o = op_new(st, req);
    if (o == NULL || (o->data = strdup(data ? data : "")) == NULL ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   o->fds) != 0) {
        if (o)
            op_free(o);
        yajl_tree_free(v);
        agora_reply_error(st->api, req, 500, "cannot make a socketpair");
        return;
    }
    yajl_tree_free(v);
    if (st->api->fd_watch(st->h, o->fds[0], AGORA_FD_WRITE, pipe_a, o,
                          &o->wa) != 0 ||
        st->api->fd_watch(st->h, o->fds[1], AGORA_FD_READ, pipe_b, o,
                          &o->wb) != 0) {
        agora_reply_error(st->api, req, 500, "fd_watch failed");
        return; /* fini frees o; the master stops wa */
    }
    st->api->defer(req);
}

/* ---- /idle ---- */

static void idle_fd(void *arg, struct agora_watch *w, int fd, int events)
{
    struct ob *st = arg;

    (void)w;
    (void)fd;
    (void)events;
    st->fd_events++;
    st->api->log(st->h, AGORA_LOG_INFO, "outbound: idle done");
}

static void idle(void *state, struct agora_req *req)
{
    struct ob *st = state;
    struct agora_watch *w;
    char doc[64];
    int rc;

    if (st->idle[0] < 0 && pipe2(st->idle, O_CLOEXEC | O_NONBLOCK) != 0) {
        agora_reply_error(st->api, req, 500, "pipe failed");
        return;
    }
    rc = st->api->fd_watch(st->h, st->idle[0], AGORA_FD_READ, idle_fd, st,
                           &w);
    snprintf(doc, sizeof(doc), "{\"err\":%d}", rc);
    st->api->reply(req, 200, NULL, doc, strlen(doc));
}

static void stats(void *state, struct agora_req *req)
{
    struct ob *st = state;
    char doc[128];

    snprintf(doc, sizeof(doc),
             "{\"http_done\":%ld,\"exits\":%ld,\"fd_events\":%ld}",
             st->http_done, st->exits, st->fd_events);
    st->api->reply(req, 200, NULL, doc, strlen(doc));
}

static int ob_init(struct agora_host *h, const struct agora_api *api,
                   const void *conf, void **state)
{
    struct ob *st;

    (void)conf;
    if (offsetof(struct agora_api, proc_pid) >= api->size)
        return AGORA_ENOTSUP;
    if ((st = calloc(1, sizeof(*st))) == NULL)
        return AGORA_ENOMEM;
    st->h = h;
    st->api = api;
    st->idle[0] = st->idle[1] = -1;
    *state = st;
    return 0;
}

/* Operations still pending are released by the master after this (no
 * callback); their memory and fds are ours. The /idle pipe is closed
 * here too, its watcher stopped later by the master. */
static void ob_fini(void *state)
{
    struct ob *st = state;

    while (st->ops) {
        if (st->ops->fds[0] >= 0) {
            close(st->ops->fds[0]);
            close(st->ops->fds[1]);
        }
        op_free(st->ops);
    }
    if (st->idle[0] >= 0) {
        close(st->idle[0]);
        close(st->idle[1]);
    }
    free(st);
}

static const struct agora_route ob_routes[] = {
    {"POST", "/fetch", fetch},
    {"POST", "/spawn", spawn},
    {"POST", "/pipe", pipe_route},
    {"POST", "/idle", idle},
    {"GET", "/stats", stats},
    {NULL, NULL, NULL},
};

static const struct agora_plugin ob_plugin = {
    AGORA_PLUGIN_INIT,
    .name = "outbound",
    .version = "1.0",
    .description = "reaches outside: HTTP requests, fd watchers, children",
    .routes = ob_routes,
    .init = ob_init,
    .fini = ob_fini,
};

const struct agora_plugin *agora_plugin_entry(void) { return &ob_plugin; }
