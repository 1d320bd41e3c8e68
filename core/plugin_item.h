/*
 * plugin_item.h - what a plugin registered: one item per timer, deferred
 * request, stream, pending store call, framework or subscription, on the
 * plugin's list (struct plugin's items), so that unloading it releases
 * all of it before dlclose() and no pointer into the unloaded object is
 * ever called (Redis' module teardown does the same).
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

enum plugin_item_kind {
    PLUGIN_ITEM_TIMER,
    PLUGIN_ITEM_REQ,
    PLUGIN_ITEM_STREAM,
    PLUGIN_ITEM_STORE,
    PLUGIN_ITEM_FRAMEWORK,
    PLUGIN_ITEM_SUB
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
