/*
 * hello - the smallest useful agora plugin.
 *
 * One route, GET / (mounted at /hello/ on the master's port, and at / on
 * the plugin's own port when its conf sets `port`), that counts the
 * requests it answers and keeps the count in the store, so the count
 * survives restarts and reloads of the plugin.
 *
 * It shows each thing a plugin usually needs: a conf table, init that
 * rebuilds state from the store, requests deferred until that state is
 * ready, store writes batched by a timer, metrics, and fini.
 *
 * The count is written at most every flush_interval (50 ms by default),
 * not once per request: a durable write costs an fsync, and a busy route
 * should not pay one per hit. The metric hello/saved tells what is on
 * disk; a clean stop (or reload) writes the last value in fini.
 *
 * It also has a web page (ui/, at /ui/ on its port and /hello/ui/ on the
 * master's), compiled into hello.so at build time by agora_embed() and
 * served by agora_static_serve(): a third party's UI is served the same
 * way as the master's own.
 *
 * Build it against the installed SDK:
 *     cmake -S . -B build && cmake --build build
 * then drop build/hello.so into agora-master's conf directory.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/plugin.h>
#include <agora/sdk.h>
#include <agora/static.h>

#ifndef HELLO_VERSION
#define HELLO_VERSION "1.0"
#endif

/* ui/, embedded by agora_embed(hello hello_ui ui) in CMakeLists.txt. */
extern const struct agora_static_table hello_ui;

/* Requests wait here until the count has been read from the store. */
#define HELLO_MAX_WAITING 1024

struct hello_conf {
    const char *greeting;
    double flush_interval;
};

struct hello {
    struct agora_host *h;
    const struct agora_api *api;
    const struct hello_conf *conf;
    long long count;
    long long writing_count; /* the value of the put in flight          */
    int ready;         /* the count was read from the store          */
    int writing;       /* a put is in flight                          */
    int dirty;         /* the count changed since the last put began  */
    struct agora_timer *flush; /* a write is scheduled                 */
    struct agora_req *waiting[HELLO_MAX_WAITING];
    size_t nwaiting;
};

static void hello_save(struct hello *st);

/* A put finished: schedule another if the count moved meanwhile. */
static void hello_saved(void *arg, int err, const struct agora_store_result *r)
{
    struct hello *st = arg;

    (void)r;
    st->writing = 0;
    if (err)
        st->api->log(st->h, AGORA_LOG_WARN, "saving the count failed: %s",
                     st->api->strerror(err));
    else
        st->api->metric_set(st->h, "saved", (double)st->writing_count);
    if (st->dirty)
        hello_save(st);
}

static void hello_flush(void *arg, struct agora_timer *t)
{
    struct hello *st = arg;
    char buf[32];
    int n;

    (void)t;
    st->flush = NULL;
    n = snprintf(buf, sizeof(buf), "%lld", st->count);
    st->dirty = 0;
    if (st->api->store_put(st->h, "count", buf, (size_t)n, AGORA_STORE_ANY,
                           hello_saved, st) == 0) {
        st->writing = 1;
        st->writing_count = st->count;
    }
}

/* One write in flight at most; changes until it starts are folded in. */
static void hello_save(struct hello *st)
{
    st->dirty = 1;
    if (st->writing || st->flush)
        return;
    /* Without a timer, write now rather than never. */
    if (st->api->timer_start(st->h, st->conf->flush_interval, 0, hello_flush,
                             st, &st->flush) != 0)
        hello_flush(st, NULL);
}

static void hello_answer(struct hello *st, struct agora_req *req)
{
    struct agora_jw *w = agora_jw_new();

    st->count++;
    hello_save(st);
    st->api->metric_add(st->h, "requests", 1);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "message", st->conf->greeting);
    agora_jw_kint(w, "count", st->count);
    agora_jw_kstr(w, "version", HELLO_VERSION);
    agora_jw_obj_close(w);
    agora_reply_jw(st->api, req, 200, w);
    agora_jw_free(w);
}

static void hello_get(void *state, struct agora_req *req)
{
    struct hello *st = state;

    if (st->ready) {
        hello_answer(st, req);
        return;
    }
    if (st->nwaiting == HELLO_MAX_WAITING) {
        agora_reply_error(st->api, req, 503, "starting up, try again");
        return;
    }
    st->api->defer(req);
    st->waiting[st->nwaiting++] = req;
}

static void hello_loaded(void *arg, int err,
                         const struct agora_store_result *r)
{
    struct hello *st = arg;
    size_t i;

    if (err == 0)
        st->count = strtoll(r->value, NULL, 10);
    else if (err != AGORA_ENOENT)
        st->api->log(st->h, AGORA_LOG_WARN, "reading the count failed: %s",
                     st->api->strerror(err));
    st->api->metric_set(st->h, "saved", (double)st->count);
    st->ready = 1;
    st->api->log(st->h, AGORA_LOG_INFO, "hello %s ready, count %lld",
                 HELLO_VERSION, st->count);
    for (i = 0; i < st->nwaiting; i++)
        hello_answer(st, st->waiting[i]);
    st->nwaiting = 0;
}

static int hello_init(struct agora_host *h, const struct agora_api *api,
                      const void *conf, void **state)
{
    struct hello *st = calloc(1, sizeof(*st));
    int rc;

    if (st == NULL)
        return AGORA_ENOMEM;
    st->h = h;
    st->api = api;
    st->conf = conf;
    rc = api->store_get(h, "count", hello_loaded, st);
    if (rc != 0) {
        free(st);
        return rc;
    }
    *state = st;
    return 0;
}

/* Requests still waiting are answered 503 by the master after fini. */
static void hello_fini(void *state)
{
    struct hello *st = state;

    /* The master completes writes started before unload; the timer and
     * the callbacks are released after fini. */
    if (st->ready && (st->dirty || st->flush)) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%lld", st->count);

        st->api->store_put(st->h, "count", buf, (size_t)n, AGORA_STORE_ANY,
                           NULL, NULL);
    }
    free(st);
}

static const struct agora_conf_field hello_conf_fields[] = {
    {"greeting", AGORA_CONF_STRING, "hello",
     offsetof(struct hello_conf, greeting), "the message each reply carries"},
    {"flush_interval", AGORA_CONF_DURATION, "50ms",
     offsetof(struct hello_conf, flush_interval),
     "longest time a new count waits before it is written"},
    {NULL, 0, NULL, 0, NULL},
};

/* GET /ui/...: the page and its files. The api is the instance's. */
static void hello_page(void *state, struct agora_req *req)
{
    struct hello *st = state;

    agora_static_serve(st->api, req, &hello_ui,
                       st->api->req_param(req, "path"));
}

static const struct agora_route hello_routes[] = {
    {"GET", "/", hello_get},
    {"GET", "/ui", hello_page},
    {"GET", "/ui/*path", hello_page},
    {NULL, NULL, NULL},
};

static const struct agora_plugin hello_plugin = {
    AGORA_PLUGIN_INIT,
    .name = "hello",
    .version = HELLO_VERSION,
    .description = "counts its requests and keeps the count in the store",
    .conf = hello_conf_fields,
    .conf_size = sizeof(struct hello_conf),
    .routes = hello_routes,
    .init = hello_init,
    .fini = hello_fini,
};

const struct agora_plugin *agora_plugin_entry(void) { return &hello_plugin; }
