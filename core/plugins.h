/*
 * plugins.h - the plugin host: loading, ABI checks, generations, reload.
 *
 * The set of loaded plugins is a generation. Loading (at start) and
 * reloading (SIGHUP, POST /master/reload) scan --conf_dir: every *.conf
 * names a plugin (`plugin = x.so`, looked up in --plugin_dir, or a path)
 * and every *.so dropped into conf_dir is loaded with its defaults,
 * configured by a <name>.conf beside it when there is one.
 *
 * A reload builds the next generation beside the current one: confs are
 * parsed and validated, each new or changed .so is copied to a private
 * file and dlopen'ed from there (so replacing the original in place never
 * touches mapped code), its descriptor checked, its conf parsed, its port
 * bound. If anything fails, the current generation stays and the reason
 * is logged. Otherwise plugins that left or changed are finished (fini,
 * then everything they registered is released), the new ones initialised,
 * and the routes mounted again. Unchanged plugins are not touched.
 *
 * At start, by contrast, a plugin that fails is refused alone (with its
 * own log line) and the others load.
 */
#ifndef AGORA_PLUGINS_H
#define AGORA_PLUGINS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <agora/plugin.h>

#include "plugin_conf.h"
#include "router.h"

struct master;
struct http_server;
struct http_req;
struct plugin_item;

struct plugin_route {
    struct plugin *p;
    agora_route_fn fn;
};

/* One loaded plugin; its address is the struct agora_host plugins see. */
struct plugin {
    struct master *m;
    char *name;        /* the descriptor's name                        */
    char *version;
    char *file;        /* the original .so                             */
    char *copy;        /* the private copy that is mapped              */
    dev_t dev;         /* identity of the original, to see a change    */
    ino_t ino;
    off_t size;
    struct timespec mtime;
    void *dl;
    const struct agora_plugin *desc;
    struct plugin_conf conf;
    void *conf_block;  /* the typed conf handed to init              */
    uint16_t port;     /* its own listener, 0 = none                  */
    struct http_server *srv;
    struct router router; /* routes at the root of its own port       */
    struct plugin_route *routes;
    size_t nroutes;
    void *state;
    int live;          /* init succeeded, fini not yet called          */
    char *not_ready;   /* why it says it is not ready; NULL: ready     */
    double loaded_at;
    struct plugin_item *items; /* registrations, newest first: plugin_item.h */
    struct agora_framework *fw_default;
};

struct plugin_gen {
    struct plugin **v;
    size_t n;
    unsigned long id;
};

/*
 * What the plugin host needs of the layers around it, which it does not
 * call by name: master.c fills m->plugin_hooks before the first load.
 * Each is called on the loop with arg (port_filter with the plugin).
 */
struct plugins_hooks {
    /* The generation's routes changed: mount them again. 0 or an
     * agora_err, which plugins_load() returns. */
    int (*routes_changed)(void *arg);
    /* The filter of a plugin's own port (http_filter_fn), called with
     * the struct plugin the port serves: a standby redirects. */
    int (*port_filter)(void *plugin, struct http_req *req);
    /* The gate of a plugin's own port (authentication), called with the
     * struct plugin as port_filter is. */
    int (*port_gate)(void *plugin, struct http_req *req);
    /* A plugin's own port srv is about to stop: what is held on it must
     * be answered first (the server frees its requests as it stops). */
    void (*port_closing)(void *arg, struct http_server *srv);
    void *arg;
};

/* Flags of a scan. */
#define PLUGINS_STRICT 1 /* any failure fails the whole generation */

/*
 * Checks a descriptor as the loader does: ABI numbers against the core's
 * (major equal, minor not newer), struct size, name syntax, required
 * fields and callbacks. Returns 0, or AGORA_EINVAL with the reason in err
 * (naming both versions for an ABI mismatch).
 */
int plugin_check_descriptor(const struct agora_plugin *d, char *err,
                            size_t errlen);

/*
 * Scans conf_dir and loads the plugins found into a new generation that
 * replaces m's current one. flags: PLUGINS_STRICT for a reload. Returns
 * 0 when the new generation is in place (at start, possibly without the
 * plugins that failed), or an agora_err when a strict reload failed and
 * the current generation stayed.
 */
int plugins_load(struct master *m, int flags);

/* Finishes and unloads every plugin of m (at exit). */
void plugins_unload_all(struct master *m);

/* Tells every plugin of m that leadership changed: elected, they are
 * started; deposed, finished. A plugin whose init fails is unloaded and
 * the routes mounted again (the routes_changed hook). */
void plugins_notify_leader(struct master *m, int leading);

/* The plugin of that name in the current generation, or NULL. */
struct plugin *plugins_find(struct master *m, const char *name);

#endif /* AGORA_PLUGINS_H */
