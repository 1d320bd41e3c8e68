/*
 * plugins.c - finding, loading, checking and swapping plugins.
 *
 * See plugins.h for the life of a generation. Every refusal is logged
 * with the file it concerns and a message of its own, as SQLite's loader
 * tests demand of theirs: a missing file, a file that is not a shared
 * object, a missing entry symbol, an ABI mismatch (naming both
 * versions), a bad descriptor, a bad conf, an init that fails, a
 * duplicate name, a port already taken.
 */
#include "plugins.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "clock.h"
#include "master.h"
#include "master_auth.h"
#include "master_teardown.h"
#include "plugin_api.h"

#define PLUGIN_ERR 512

/* ---- the descriptor ---- */

static int plugin_name_valid(const char *name)
{
    size_t n = 0;

    for (; name[n]; n++)
        if (!((name[n] >= 'a' && name[n] <= 'z') ||
              (name[n] >= '0' && name[n] <= '9') || name[n] == '_'))
            return 0;
    return n > 0 && n <= 64;
}

int plugin_check_descriptor(const struct agora_plugin *d, char *err,
                            size_t errlen)
{
    if (d->abi_major != AGORA_ABI_MAJOR || d->abi_minor > AGORA_ABI_MINOR) {
        snprintf(err, errlen,
                 "ABI mismatch: plugin built for ABI %u.%u, this master "
                 "speaks %u.%u (major must be equal, minor not newer)",
                 d->abi_major, d->abi_minor, AGORA_ABI_MAJOR,
                 AGORA_ABI_MINOR);
        return AGORA_EINVAL;
    }
    /* A plugin of an older minor may have a shorter descriptor, but never
     * one without the fields of ABI 1.0. */
    if (d->size < offsetof(struct agora_plugin, reserved) ||
        (d->abi_minor == AGORA_ABI_MINOR &&
         d->size != sizeof(struct agora_plugin))) {
        snprintf(err, errlen,
                 "descriptor size %u does not match ABI %u.%u (expected %zu)",
                 d->size, d->abi_major, d->abi_minor,
                 sizeof(struct agora_plugin));
        return AGORA_EINVAL;
    }
    if (d->name == NULL || !plugin_name_valid(d->name)) {
        snprintf(err, errlen, "invalid plugin name '%s' (want [a-z0-9_]+)",
                 d->name ? d->name : "(null)");
        return AGORA_EINVAL;
    }
    if (d->version == NULL || d->version[0] == '\0') {
        snprintf(err, errlen, "plugin %s has no version string", d->name);
        return AGORA_EINVAL;
    }
    if (d->init == NULL || d->fini == NULL) {
        snprintf(err, errlen, "plugin %s lacks a required callback (%s)",
                 d->name, d->init == NULL ? "init" : "fini");
        return AGORA_EINVAL;
    }
    if (d->conf && d->conf_size == 0) {
        snprintf(err, errlen, "plugin %s declares conf keys but conf_size 0",
                 d->name);
        return AGORA_EINVAL;
    }
    return 0;
}

/* ---- finding the plugins of conf_dir ---- */

static int plugin_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* The path a conf's `plugin = ...` names. */
static char *plugin_resolve(struct master *m, const char *value)
{
    char *path;

    if (value[0] == '/')
        return strdup(value);
    if (strchr(value, '/'))
        return asprintf(&path, "%s/%s", m->conf.conf_dir, value) < 0 ? NULL
                                                                     : path;
    return asprintf(&path, "%s/%s", m->conf.plugin_dir, value) < 0 ? NULL
                                                                   : path;
}

static int plugin_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of conf_dir's *.conf and *.so files. */
static int plugin_list_dir(const char *dir, char ***out, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **v = NULL;
    size_t cap = 0;

    *n = 0;
    *out = NULL;
    if (d == NULL)
        return errno == ENOENT ? 0 : AGORA_EIO;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !(plugin_has_suffix(e->d_name, ".conf") ||
                                     plugin_has_suffix(e->d_name, ".so")))
            continue;
        if (*n == cap) {
            char **nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

            if (nv == NULL)
                goto oom;
            v = nv;
        }
        if ((v[*n] = strdup(e->d_name)) == NULL)
            goto oom;
        (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(v, *n, sizeof(*v), plugin_name_cmp);
    *out = v;
    return 0;
oom:
    closedir(d);
    while (*n)
        free(v[--*n]);
    free(v);
    return AGORA_ENOMEM;
}

struct plugin_scan {
    struct plugin_conf *v;
    size_t n;
};

static void plugin_scan_free(struct plugin_scan *sc)
{
    size_t i;

    for (i = 0; i < sc->n; i++)
        plugin_conf_free(&sc->v[i]);
    free(sc->v);
}

/* Builds the conf of one file name; 0, or an error with err set. */
static int plugin_scan_entry(struct master *m, char **names, size_t n,
                             size_t i, struct plugin_conf *c, char *err,
                             size_t errlen)
{
    const char *name = names[i], *dir = m->conf.conf_dir, *key;
    size_t base = strlen(name) - (plugin_has_suffix(name, ".so") ? 3 : 5);
    char *path;
    int rc;

    memset(c, 0, sizeof(*c));
    if (plugin_has_suffix(name, ".so")) {
        /* A drop-in, configured by <base>.conf when there is one. */
        char *conf = NULL;
        size_t j;

        for (j = 0; j < n; j++)
            if (strncmp(names[j], name, base) == 0 &&
                strcmp(names[j] + base, ".conf") == 0)
                conf = names[j];
        if (conf) {
            if (asprintf(&path, "%s/%s", dir, conf) < 0)
                return AGORA_ENOMEM;
            rc = plugin_conf_read(path, c, err, errlen);
            free(path);
            if (rc < 0)
                return rc;
        }
        free(c->so);
        return asprintf(&c->so, "%s/%s", dir, name) < 0 ? AGORA_ENOMEM : 1;
    }
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return AGORA_ENOMEM;
    rc = plugin_conf_read(path, c, err, errlen);
    free(path);
    if (rc < 0)
        return rc;
    key = plugin_conf_get(c, "plugin");
    if (key == NULL) {
        /* <base>.conf beside <base>.so: taken with the drop-in. */
        size_t j;

        for (j = 0; j < n; j++)
            if (strncmp(names[j], name, base) == 0 &&
                strcmp(names[j] + base, ".so") == 0) {
                plugin_conf_free(c);
                return 0;
            }
        snprintf(err, errlen, "%s: no 'plugin = <file>.so' line", c->path);
        plugin_conf_free(c);
        return AGORA_EINVAL;
    }
    if ((c->so = plugin_resolve(m, key)) == NULL) {
        plugin_conf_free(c);
        return AGORA_ENOMEM;
    }
    return 1;
}

/*
 * Reads conf_dir into sc. Strict: the first error fails the scan. Else
 * an entry in error is logged and left out.
 */
static int plugin_scan(struct master *m, int strict, struct plugin_scan *sc)
{
    char **names, err[PLUGIN_ERR];
    size_t n, i;
    int rc;

    memset(sc, 0, sizeof(*sc));
    rc = plugin_list_dir(m->conf.conf_dir, &names, &n);
    if (rc < 0) {
        log_error("plugins", "cannot read conf_dir %s: %s", m->conf.conf_dir,
                  strerror(errno));
        return rc;
    }
    sc->v = calloc(n ? n : 1, sizeof(*sc->v));
    if (sc->v == NULL)
        rc = AGORA_ENOMEM;
    for (i = 0; i < n && rc >= 0; i++) {
        err[0] = '\0';
        rc = plugin_scan_entry(m, names, n, i, &sc->v[sc->n], err,
                               sizeof(err));
        if (rc > 0 && master_torn_down(m, sc->v[sc->n].so)) {
            log_info("plugins", "%s left out: torn down until the next "
                                "reload", sc->v[sc->n].so);
            plugin_conf_free(&sc->v[sc->n]);
            rc = 0;
        } else if (rc > 0) {
            sc->n++;
            rc = 0;
        } else if (rc < 0 && rc != AGORA_ENOMEM) {
            log_error("plugins", "refused %s/%s: %s", m->conf.conf_dir,
                      names[i], err);
            if (!strict)
                rc = 0;
        }
    }
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc < 0)
        plugin_scan_free(sc);
    return rc;
}

/* ---- opening one plugin ---- */

/* Copies src to dst (a private file the mapping can rely on). */
static int plugin_copy_file(const char *src, const char *dst)
{
    char buf[64 * 1024];
    int in, out, rc = 0;
    ssize_t r;

    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return AGORA_EIO;
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
    if (out < 0) {
        close(in);
        return AGORA_EIO;
    }
    while (rc == 0 && (r = read(in, buf, sizeof(buf))) != 0) {
        ssize_t off = 0;

        if (r < 0) {
            if (errno != EINTR)
                rc = AGORA_EIO;
            continue;
        }
        while (off < r) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));

            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = AGORA_EIO;
                break;
            }
            off += w;
        }
    }
    close(in);
    if (close(out) < 0)
        rc = AGORA_EIO;
    if (rc < 0)
        unlink(dst);
    return rc;
}

static void plugin_free(struct plugin *p)
{
    if (p->conf_block)
        plugin_conf_block_free(p->desc, p->conf_block);
    if (p->dl)
        dlclose(p->dl);
    if (p->copy)
        unlink(p->copy);
    router_free(&p->router);
    plugin_conf_free(&p->conf);
    free(p->routes);
    free(p->name);
    free(p->version);
    free(p->file);
    free(p->copy);
    free(p);
}

/* Parses the conf's port; 0 when absent. */
static int plugin_port(const struct plugin_conf *c, uint16_t *port,
                       char *err, size_t errlen)
{
    const char *v = plugin_conf_get(c, "port");
    char *end;
    long n;

    *port = 0;
    if (v == NULL)
        return 0;
    errno = 0;
    n = strtol(v, &end, 10);
    if (end == v || *end || errno || n < 0 || n > 65535) {
        snprintf(err, errlen, "%s: port '%s' is not 0..65535", c->path, v);
        return AGORA_EINVAL;
    }
    *port = (uint16_t)n;
    return 0;
}

/* Compiles the descriptor's routes for the mount under /<name>. */
static int plugin_routes(struct plugin *p, char *err, size_t errlen)
{
    const struct agora_route *r;
    size_t n = 0, i;

    for (r = p->desc->routes; r && r->path; r++)
        n++;
    p->routes = calloc(n ? n : 1, sizeof(*p->routes));
    if (p->routes == NULL)
        return AGORA_ENOMEM;
    for (i = 0; i < n; i++) {
        r = &p->desc->routes[i];
        p->routes[i].p = p;
        p->routes[i].fn = r->handler;
        if (r->handler == NULL || r->method == NULL ||
            router_add(&p->router, r->method, NULL, r->path,
                       (void *)plugin_route_dispatch, &p->routes[i]) < 0) {
            snprintf(err, errlen, "route %s %s is invalid",
                     r->method ? r->method : "(null)", r->path);
            return AGORA_EINVAL;
        }
    }
    p->nroutes = n;
    return 0;
}

/* Loads the private copy and checks what it exports. */
static int plugin_dlopen(struct plugin *p, char *err, size_t errlen)
{
    const struct agora_plugin *(*entry)(void);
    const char *why;

    p->dl = dlopen(p->copy, RTLD_NOW | RTLD_LOCAL);
    if (p->dl == NULL) {
        why = dlerror();
        snprintf(err, errlen, "not a loadable shared object: %s",
                 why ? why : "unknown error");
        return AGORA_EINVAL;
    }
    *(void **)&entry = dlsym(p->dl, AGORA_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL) {
        snprintf(err, errlen, "no entry symbol %s()",
                 AGORA_PLUGIN_ENTRY_SYMBOL);
        return AGORA_EINVAL;
    }
    p->desc = entry();
    if (p->desc == NULL) {
        snprintf(err, errlen, "%s() returned NULL", AGORA_PLUGIN_ENTRY_SYMBOL);
        return AGORA_EINVAL;
    }
    return plugin_check_descriptor(p->desc, err, errlen);
}

/*
 * Opens the plugin c names: copy, dlopen, check, parse its conf. Takes
 * c over on success. Returns 0 or an error with err set.
 */
static int plugin_open(struct master *m, struct plugin_conf *c,
                       struct plugin **out, char *err, size_t errlen)
{
    static unsigned long seq;
    struct plugin *p = calloc(1, sizeof(*p));
    struct stat st;
    int rc;

    if (p == NULL)
        return AGORA_ENOMEM;
    p->m = m;
    if (stat(c->so, &st) < 0) {
        snprintf(err, errlen, "plugin file not found: %s (%s)", c->so,
                 strerror(errno));
        free(p);
        return AGORA_ENOENT;
    }
    p->dev = st.st_dev;
    p->ino = st.st_ino;
    p->size = st.st_size;
    p->mtime = st.st_mtim;
    p->file = strdup(c->so);
    rc = asprintf(&p->copy, "%s/plugins/%lu-%ld-%lu.so", m->conf.work_dir,
                  m->next_gen, (long)getpid(), ++seq);
    if (rc < 0)
        p->copy = NULL;
    if (p->file == NULL || p->copy == NULL) {
        plugin_free(p);
        return AGORA_ENOMEM;
    }
    if (plugin_copy_file(c->so, p->copy) < 0) {
        snprintf(err, errlen, "cannot copy %s to %s: %s", c->so, p->copy,
                 strerror(errno));
        free(p->copy);
        p->copy = NULL;
        plugin_free(p);
        return AGORA_EIO;
    }
    rc = plugin_dlopen(p, err, errlen);
    if (rc == 0)
        rc = plugin_conf_apply(c, p->desc, &p->conf_block, err, errlen);
    if (rc == 0)
        rc = plugin_port(c, &p->port, err, errlen);
    if (rc == 0)
        rc = plugin_routes(p, err, errlen);
    if (rc == 0 && ((p->name = strdup(p->desc->name)) == NULL ||
                    (p->version = strdup(p->desc->version)) == NULL))
        rc = AGORA_ENOMEM;
    if (rc < 0) {
        plugin_free(p);
        return rc;
    }
    p->conf = *c;
    memset(c, 0, sizeof(*c));
    *out = p;
    return 0;
}

/* ---- lifecycle of one plugin ---- */

static int plugin_init(struct plugin *p)
{
    int rc;

    p->state = NULL;
    /* The default framework exists before init, so that init may set it
     * up (explicit acknowledgements) before anything reaches it; nothing
     * is delivered to it during init, and its state is init's. */
    rc = plugin_framework_default(p);
    if (rc < 0) {
        log_error("plugins", "refused %s: plugin %s cannot register its "
                  "framework: %s", p->file, p->name,
                  plugin_api_table.strerror(rc));
        plugin_release(p);
        return rc;
    }
    rc = p->desc->init((struct agora_host *)p, &plugin_api_table,
                       p->conf_block, &p->state);
    if (rc != 0) {
        log_error("plugins", "refused %s: init of plugin %s failed: %s",
                  p->file, p->name, plugin_api_table.strerror(rc));
        plugin_release(p);
        free(p->not_ready);
        p->not_ready = NULL;
        return rc < 0 ? rc : AGORA_EINVAL;
    }
    if (p->fw_default)
        p->fw_default->state = p->state;
    p->live = 1;
    p->loaded_at = master_now(p->m);
    if (p->m->elected && p->desc->on_leader)
        p->desc->on_leader(p->state, 1);
    return 0;
}

static void plugin_fini(struct plugin *p)
{
    if (!p->live)
        return;
    p->live = 0;
    p->desc->fini(p->state);
    plugin_release(p);
    p->state = NULL;
    free(p->not_ready);
    p->not_ready = NULL;
}

/* ---- generations ---- */

/* 1 when old is the same file and conf as c: nothing to reload. */
static int plugin_unchanged(const struct plugin *old,
                            const struct plugin_conf *c)
{
    struct stat st;

    if (strcmp(old->file, c->so) != 0 || stat(c->so, &st) < 0)
        return 0;
    if (st.st_dev != old->dev || st.st_ino != old->ino ||
        st.st_size != old->size ||
        st.st_mtim.tv_sec != old->mtime.tv_sec ||
        st.st_mtim.tv_nsec != old->mtime.tv_nsec)
        return 0;
    if ((old->conf.text == NULL) != (c->text == NULL))
        return 0;
    return old->conf.text == NULL || strcmp(old->conf.text, c->text) == 0;
}

static struct plugin *plugin_gen_find(const struct plugin_gen *g,
                                      const char *name)
{
    size_t i;

    for (i = 0; i < g->n; i++)
        if (g->v[i] && strcmp(g->v[i]->name, name) == 0)
            return g->v[i];
    return NULL;
}

static int plugin_gen_contains(const struct plugin_gen *g,
                               const struct plugin *p)
{
    size_t i;

    for (i = 0; i < g->n; i++)
        if (g->v[i] == p)
            return 1;
    return 0;
}

/* Opens (or carries over) every scanned plugin into next. */
static int plugin_gen_open(struct master *m, struct plugin_scan *sc,
                           int strict, struct plugin_gen *next)
{
    char err[PLUGIN_ERR];
    size_t i, j;

    next->v = calloc(sc->n ? sc->n : 1, sizeof(*next->v));
    if (next->v == NULL)
        return AGORA_ENOMEM;
    for (i = 0; i < sc->n; i++) {
        struct plugin *p = NULL;
        int rc;

        for (j = 0; j < m->gen.n && !p; j++)
            if (plugin_unchanged(m->gen.v[j], &sc->v[i]))
                p = m->gen.v[j];
        if (p == NULL) {
            err[0] = '\0';
            rc = plugin_open(m, &sc->v[i], &p, err, sizeof(err));
            if (rc < 0) {
                log_error("plugins", "refused %s: %s", sc->v[i].so, err);
                if (strict || rc == AGORA_ENOMEM)
                    return rc;
                continue;
            }
        }
        next->v[next->n++] = p;
    }
    return 0;
}

/* Stops a plugin's own port: first what a standby holds on it. */
static void plugin_server_stop(struct plugin *p)
{
    struct plugins_hooks *h = &p->m->plugin_hooks;

    h->port_closing(h->arg, p->srv);
    http_server_stop(p->srv);
}

/* Closes what next opened that the current generation does not hold. */
static void plugin_gen_discard(struct master *m, struct plugin_gen *next)
{
    size_t i;

    for (i = 0; i < next->n; i++) {
        struct plugin *p = next->v[i];

        if (plugin_gen_contains(&m->gen, p))
            continue;
        if (p->srv)
            plugin_server_stop(p);
        plugin_free(p);
    }
    free(next->v);
    next->v = NULL;
    next->n = 0;
}

/* Drops next->v[i] (a refused plugin) without holes. */
static void plugin_gen_drop(struct master *m, struct plugin_gen *next,
                            size_t i)
{
    struct plugin *p = next->v[i];

    if (!plugin_gen_contains(&m->gen, p)) {
        if (p->srv)
            plugin_server_stop(p);
        plugin_free(p);
    }
    memmove(&next->v[i], &next->v[i + 1],
            (next->n - i - 1) * sizeof(next->v[0]));
    next->n--;
}

/* Names are unique; the first wins. */
static int plugin_gen_names(struct master *m, struct plugin_gen *next,
                            int strict)
{
    size_t i, j;

    for (i = 0; i < next->n; i++) {
        for (j = 0; j < i; j++) {
            if (strcmp(next->v[i]->name, next->v[j]->name) != 0)
                continue;
            log_error("plugins",
                      "refused %s: duplicate plugin name '%s' (already "
                      "loaded from %s)",
                      next->v[i]->file, next->v[i]->name, next->v[j]->file);
            if (strict)
                return AGORA_EEXIST;
            plugin_gen_drop(m, next, i--);
            break;
        }
    }
    return 0;
}

/*
 * Gives every plugin with a port its listener: the one its predecessor
 * of the same name and port had, or a new one bound now.
 */
static int plugin_gen_ports(struct master *m, struct plugin_gen *next,
                            int strict)
{
    size_t i, j;

    for (i = 0; i < next->n; i++) {
        struct plugin *p = next->v[i];
        struct http_server_conf hc;
        int clash = p->port && p->port == m->conf.port;

        for (j = 0; j < i && !clash; j++)
            clash = p->port && next->v[j]->port == p->port;
        if (clash) {
            log_error("plugins", "refused %s: port %u is already in use by "
                      "the master or another plugin", p->file, p->port);
            if (strict)
                return AGORA_EEXIST;
            plugin_gen_drop(m, next, i--);
            continue;
        }
        if (p->port == 0 || p->srv)
            continue;
        {
            struct plugin *old = plugin_gen_find(&m->gen, p->name);

            if (old && old->port == p->port && old->srv)
                continue; /* handed over at the swap */
        }
        memset(&hc, 0, sizeof(hc));
        hc.name = p->name;
        hc.ip = m->conf.ip;
        hc.port = p->port;
        hc.max_body = (size_t)m->conf.max_body_size;
        /* The master's connection limits hold on a plugin's port too. */
        hc.max_conns_per_ip = (unsigned)m->conf.http_max_connections_per_ip;
        hc.header_timeout = m->conf.http_header_timeout;
        hc.idle_timeout = 6 * m->conf.http_header_timeout;
        master_auth_tls_conf(m, &hc);
        if (http_server_start(m->loop, &hc, &p->router, &p->srv) == 0) {
            http_server_set_filter(p->srv, m->plugin_hooks.port_filter, p);
            http_server_set_gate(p->srv, m->plugin_hooks.port_gate, p);
        } else {
            log_error("plugins", "refused %s: cannot listen on port %u",
                      p->file, p->port);
            if (strict)
                return AGORA_EIO;
            plugin_gen_drop(m, next, i--);
        }
    }
    return 0;
}

/* Moves a listener from the plugin it served to its successor. */
static void plugin_take_listener(struct plugin *to, struct plugin *from)
{
    if (from == NULL || to->srv || !from->srv || from->port != to->port)
        return;
    to->srv = from->srv;
    from->srv = NULL;
    http_server_set_router(to->srv, &to->router);
    http_server_set_filter(to->srv, to->m->plugin_hooks.port_filter, to);
    http_server_set_gate(to->srv, to->m->plugin_hooks.port_gate, to);
}

static void plugin_unload(struct plugin *p)
{
    plugin_fini(p);
    if (p->srv)
        plugin_server_stop(p);
    p->srv = NULL;
    plugin_free(p);
}

/*
 * Undoes a failed strict swap: the new plugins that started are
 * finished, the old ones started again from the store.
 */
static void plugin_swap_rollback(struct master *m, struct plugin_gen *next)
{
    size_t i;

    for (i = 0; i < next->n; i++) {
        struct plugin *p = next->v[i], *old;

        if (plugin_gen_contains(&m->gen, p))
            continue;
        plugin_fini(p);
        old = plugin_gen_find(&m->gen, p->name);
        if (old)
            plugin_take_listener(old, p);
    }
    for (i = 0; i < m->gen.n; i++) {
        struct plugin *p = m->gen.v[i];

        if (m->elected && !p->live && plugin_init(p) < 0)
            log_error("plugins", "plugin %s could not be restarted after the "
                      "failed reload", p->name);
    }
}

/* Finishes the plugins that leave, starts the new ones. */
static int plugin_swap(struct master *m, struct plugin_gen *next, int strict)
{
    size_t i;

    for (i = 0; i < m->gen.n; i++)
        if (!plugin_gen_contains(next, m->gen.v[i]))
            plugin_fini(m->gen.v[i]);
    for (i = 0; i < next->n; i++) {
        struct plugin *p = next->v[i];

        if (p->live)
            continue;
        plugin_take_listener(p, plugin_gen_find(&m->gen, p->name));
        /* A standby loads its plugins (their ports answer with redirects)
         * but starts them only when it is elected. */
        if (!m->elected || plugin_init(p) == 0)
            continue;
        if (strict) {
            plugin_swap_rollback(m, next);
            return AGORA_EINVAL;
        }
        plugin_gen_drop(m, next, i--);
    }
    return 0;
}

static void plugin_log_gen(struct master *m)
{
    size_t i;

    for (i = 0; i < m->gen.n; i++) {
        struct plugin *p = m->gen.v[i];

        char port[32] = "";

        if (p->port)
            snprintf(port, sizeof(port), ", own port %u", p->port);
        log_info("plugins", "%s %s (abi %u.%u) from %s%s", p->name,
                 p->version, p->desc->abi_major, p->desc->abi_minor, p->file,
                 port);
    }
}

int plugins_load(struct master *m, int flags)
{
    int strict = flags & PLUGINS_STRICT;
    struct plugin_scan sc;
    struct plugin_gen next = {NULL, 0, 0};
    size_t i;
    int rc;

    m->next_gen++;
    rc = plugin_scan(m, strict, &sc);
    if (rc < 0)
        return rc;
    rc = plugin_gen_open(m, &sc, strict, &next);
    plugin_scan_free(&sc);
    if (rc == 0)
        rc = plugin_gen_names(m, &next, strict);
    if (rc == 0)
        rc = plugin_gen_ports(m, &next, strict);
    if (rc < 0) {
        plugin_gen_discard(m, &next);
        log_error("plugins", "reload failed: keeping the current plugins");
        return rc;
    }
    rc = plugin_swap(m, &next, strict);
    if (rc < 0) {
        /* Changed plugins were finished before the new ones started;
         * their old versions were started again (plugin_swap_rollback). */
        plugin_gen_discard(m, &next);
        log_error("plugins", "reload failed: an init failed; the plugins it "
                             "replaced were started again (fini, then a "
                             "fresh init), the others kept running");
        return rc;
    }
    /* Committed: free the plugins that left. */
    for (i = 0; i < m->gen.n; i++) {
        struct plugin *p = m->gen.v[i];

        if (plugin_gen_contains(&next, p))
            continue;
        if (!plugin_gen_find(&next, p->name)) {
            char prefix[80];

            snprintf(prefix, sizeof(prefix), "%s/", p->name);
            metrics_remove_prefix(&m->metrics, prefix);
        }
        plugin_unload(p);
    }
    free(m->gen.v);
    next.id = m->next_gen;
    m->gen = next;
    rc = m->plugin_hooks.routes_changed(m->plugin_hooks.arg);
    plugin_log_gen(m);
    return rc;
}

void plugins_unload_all(struct master *m)
{
    size_t i;

    for (i = m->gen.n; i > 0; i--)
        plugin_unload(m->gen.v[i - 1]);
    free(m->gen.v);
    m->gen.v = NULL;
    m->gen.n = 0;
}

/*
 * Plugins run only on the leader: elected, they are started (init reads
 * their state from the store, then on_leader(1)); deposed, they hear
 * on_leader(0) and are finished, so no timer of theirs fires and nothing
 * they would launch or kill goes out on a stale view.
 */
void plugins_notify_leader(struct master *m, int leading)
{
    size_t i;

    for (i = 0; i < m->gen.n; i++) {
        struct plugin *p = m->gen.v[i];

        if (leading && !p->live) {
            /* An init that fails refuses the plugin, as at a start. */
            if (plugin_init(p) < 0) {
                memmove(&m->gen.v[i], &m->gen.v[i + 1],
                        (m->gen.n - i - 1) * sizeof(m->gen.v[0]));
                m->gen.n--;
                i--;
                plugin_unload(p);
                m->plugin_hooks.routes_changed(m->plugin_hooks.arg);
            }
        } else if (!leading && p->live) {
            if (p->desc->on_leader)
                p->desc->on_leader(p->state, 0);
            plugin_fini(p);
        }
    }
}

struct plugin *plugins_find(struct master *m, const char *name)
{
    return plugin_gen_find(&m->gen, name);
}
