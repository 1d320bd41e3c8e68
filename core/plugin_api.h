/*
 * plugin_api.h - the services table plugins call (struct agora_api):
 * launches, kills, offers, timers, the store, HTTP replies and streams,
 * events, metrics, logs, each recorded per plugin so that unloading it
 * releases everything it registered.
 */
#ifndef AGORA_PLUGIN_API_H
#define AGORA_PLUGIN_API_H

#include <agora/plugin.h>

struct plugin;
struct http_req;

/* The services table handed to every plugin. */
extern const struct agora_api plugin_api_table;

/* The router handler for plugin routes (the arg is a plugin_route). */
void plugin_route_dispatch(void *arg, struct http_req *req);

/* Releases everything p registered: timers, requests, streams, store
 * callbacks, frameworks, subscriptions, outbound HTTP requests, fd
 * watchers, children (plugin_io.h). Called after fini. */
void plugin_release(struct plugin *p);

/* Registers p's default framework when its descriptor has callbacks. */
int plugin_framework_default(struct plugin *p);

#endif /* AGORA_PLUGIN_API_H */
