/*
 * plugin_item.h - what a plugin registered: one item per timer, deferred
 * request, stream, pending store call, framework, subscription, outbound
 * HTTP request, fd watcher or child process, on the plugin's list (struct
 * plugin's items), so that unloading it releases all of it before
 * dlclose() and no pointer into the unloaded object is ever called
 * (Redis' module teardown does the same).
 *
 * The services table's files (plugin_api.c, plugin_io.c) make and free
 * items; plugin_release() (plugin_api.h) walks the list at unload.
 */
#ifndef AGORA_PLUGIN_ITEM_H
#define AGORA_PLUGIN_ITEM_H

#include <ev.h>

#include <agora/plugin.h>

struct plugin;
struct http_req;
struct http_stream;
struct store_op;
struct events_listener;
struct store_watch;
struct hc_req;

enum plugin_item_kind {
    PLUGIN_ITEM_TIMER,
    PLUGIN_ITEM_REQ,
    PLUGIN_ITEM_STREAM,
    PLUGIN_ITEM_STORE,
    PLUGIN_ITEM_FRAMEWORK,
    PLUGIN_ITEM_SUB,
    PLUGIN_ITEM_WATCH, /* a store watch (plugin_api.c)           */
    PLUGIN_ITEM_HTTP,  /* an outbound HTTP request (plugin_io.c)   */
    PLUGIN_ITEM_FD,    /* an fd watcher (plugin_io.c)              */
    PLUGIN_ITEM_PROC   /* a child process (plugin_io.c)            */
};

struct plugin_item {
    enum plugin_item_kind kind;
    struct plugin *p;
    struct plugin_item *prev, *next;
    void *arg; /* the plugin's, passed back to its callback */
    union {
        struct {
            ev_timer w;
            agora_timer_fn fn;
            int firing;
        } timer;
        struct http_req *req;
        struct {
            struct http_stream *s;
            agora_stream_close_fn fn;
        } stream;
        struct {
            struct store_op *op;
            agora_store_fn fn;
        } store;
        struct agora_framework *fw;
        struct {
            struct events_listener *l;
            agora_event_fn fn;
        } sub;
        struct {
            struct store_watch *w;
            agora_store_watch_fn fn;
        } watch;
        struct {
            struct hc_req *r;
            agora_http_fn fn;
            char *body;     /* the response body so far, NUL-terminated */
            size_t len, cap;
            size_t max;     /* the body's limit                        */
            int err;        /* why plugin_io.c ended it, or 0          */
        } http;
        struct {
            ev_io w;
            agora_fd_fn fn;
            int firing;     /* inside its callback: freed after it     */
            int stopped;
        } fd;
        struct {
            ev_child w;
            agora_exit_fn fn;
            int exited;     /* its callback runs or ran                */
        } proc;
    } u;
};

/* A zeroed item of that kind at the head of p's list, or NULL when out
 * of memory. Freed by plugin_item_free(). */
struct plugin_item *plugin_item_new(struct plugin *p,
                                    enum plugin_item_kind kind, void *arg);

/* Takes it off its plugin's list and frees it; what it holds (a watcher,
 * a request) must be released first. */
void plugin_item_free(struct plugin_item *it);

#endif /* AGORA_PLUGIN_ITEM_H */
