/*
 * master_leader.c - the master's state and leadership: the local store
 * and a standalone leader without --zk; a ZooKeeper session, the zk
 * store and a ZooKeeper election with it. What changes when this master
 * is elected or deposed, and the redirects a standby answers with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agents.h"
#include "http.h"
#include "leader.h"
#include "log.h"
#include "master.h"
#include "store.h"
#include "tasks.h"
#include "zk.h"

/* ---- elected and deposed ---- */

static void master_elected(struct master *m)
{
    m->elected = 1;
    m->elected_time = master_now(m);
    /* The registry says which agents to expect back; plugins rebuild
     * from the store and reconcile once their agents report. */
    if (agents_load(m) < 0)
        log_error("master", "cannot read the agent registry");
    plugins_notify_leader(m, 1);
    events_publish(&m->events, "leader_elected", "{\"elected\":true}");
}

static void master_deposed(struct master *m)
{
    m->elected = 0;
    plugins_notify_leader(m, 0);
    agents_drop(m);
    tasks_free(m);
    tasks_init(m);
    events_publish(&m->events, "leader_deposed", "{\"elected\":false}");
}

static void master_on_leader(void *arg, int leading)
{
    struct master *m = arg;

    if (m->stopping || !leading == !m->elected)
        return;
    if (leading)
        master_elected(m);
    else
        master_deposed(m);
}

static void master_on_zk(void *arg, enum zk_state state)
{
    static const char *const names[] = {"connecting", "connected",
                                        "disconnected", "expired"};
    struct master *m = arg;

    log_info("master", "ZooKeeper session %s", names[state]);
    if (m->leader)
        leader_zk_state(m->leader, (int)state);
}

/* ---- opening ---- */

static int master_open_local(struct master *m)
{
    char *dir;
    int rc;

    if (asprintf(&dir, "%s/store", m->conf.work_dir) < 0)
        return AGORA_ENOMEM;
    rc = store_open_local(m->loop, dir, &m->store);
    if (rc < 0)
        log_error("master", "cannot open the local store in %s", dir);
    free(dir);
    return rc;
}

static int master_open_zk(struct master *m)
{
    int rc = zk_parse_url(m->conf.zk, &m->zk_hosts, &m->zk_root);

    if (rc < 0) {
        log_error("master", "--zk '%s' is not zk://host:port[,host:port]/path",
                  m->conf.zk);
        return rc;
    }
    rc = zk_open(m->loop, m->zk_hosts, m->conf.zk_session_timeout,
                 master_on_zk, m, &m->zk);
    if (rc == 0)
        rc = store_open_zk(m->loop, m->zk, m->zk_root, &m->store);
    if (rc < 0)
        log_error("master", "cannot use ZooKeeper at %s: %s", m->conf.zk,
                  agora_strerror(rc));
    return rc;
}

int master_state_open(struct master *m)
{
    return m->conf.zk && *m->conf.zk ? master_open_zk(m)
                                     : master_open_local(m);
}

/* What this master's znode holds: where to find it and its plugins. */
static char *master_info_json(struct master *m)
{
    struct agora_jw *w = agora_jw_new();
    char pid[300];
    char *out = NULL;
    const char *doc;
    size_t i;

    snprintf(pid, sizeof(pid), "master@%s:%u", m->advertise_ip,
             (unsigned)m->conf.port);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", m->id);
    agora_jw_kstr(w, "hostname", m->conf.hostname);
    agora_jw_kstr(w, "ip", m->advertise_ip);
    agora_jw_kint(w, "port", m->conf.port);
    agora_jw_kstr(w, "pid", pid);
    agora_jw_kstr(w, "version", AGORA_VERSION);
    agora_jw_key(w, "plugin_ports");
    agora_jw_obj_open(w);
    for (i = 0; i < m->gen.n; i++)
        if (m->gen.v[i]->port)
            agora_jw_kint(w, m->gen.v[i]->name, m->gen.v[i]->port);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
    doc = w ? agora_jw_result(w, NULL) : NULL;
    if (doc)
        out = strdup(doc);
    agora_jw_free(w);
    return out;
}

int master_leader_start(struct master *m)
{
    char *info;
    int rc;

    if (m->zk == NULL) {
        /* The only master: it leads from the start, so the plugins are
         * up before the first request (the report that follows is a
         * no-op). */
        rc = leader_open_standalone(m->loop, master_on_leader, m, &m->leader);
        if (rc == 0)
            master_on_leader(m, 1);
        return rc;
    }
    if ((info = master_info_json(m)) == NULL)
        return AGORA_ENOMEM;
    rc = leader_open_zk(m->loop, m->zk, m->zk_root, info, master_on_leader, m,
                        &m->leader);
    free(info);
    return rc;
}

/*
 * Stops the election (no more reports), then the store, then the
 * session (its ephemeral znode goes with it, so another master is
 * elected at once). Plugins must be unloaded before: their fini writes.
 */
void master_state_close(struct master *m)
{
    if (m->leader)
        leader_stop(m->leader);
    if (m->store)
        store_close(m->store);
    m->store = NULL;
    if (m->zk)
        zk_close(m->zk);
    m->zk = NULL;
    leader_free(m->leader);
    m->leader = NULL;
    free(m->zk_hosts);
    free(m->zk_root);
}

/* ---- who leads, for /master/state and redirects ---- */

int master_leader_info(struct master *m, char **ip, int64_t *port,
                       char **hostname, yajl_val *doc)
{
    const char *cur = m->leader ? leader_current(m->leader) : NULL;
    char why[128];
    yajl_val d;

    *doc = NULL;
    if (m->elected || cur == NULL) {
        *ip = m->advertise_ip;
        *port = m->conf.port;
        *hostname = m->conf.hostname;
        return m->elected ? 0 : AGORA_ENOENT;
    }
    d = agora_json_parse(cur, why, sizeof(why));
    if (d == NULL || agora_json_str(d, "ip", (const char **)ip) < 0 ||
        agora_json_int(d, "port", port) < 0) {
        if (d)
            yajl_tree_free(d);
        return AGORA_ENOENT;
    }
    if (agora_json_str(d, "hostname", (const char **)hostname) < 0)
        *hostname = *ip;
    *doc = d;
    return 0;
}

/* ---- the standby's answers ---- */

/* Paths a standby serves itself: its own state, not the cluster's. */
static int master_standby_serves(const char *path)
{
    static const char *const own[] = {"/health", "/version",
                                      "/metrics/snapshot", "/master/state",
                                      "/master/state.json", "/state",
                                      "/state.json", "/master/redirect"};
    size_t i;

    for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (strcmp(path, own[i]) == 0)
            return 1;
    return 0;
}

/* The request's path and query, as it came. */
static void redirect_to(struct http_req *req, const char *host, int64_t port,
                        const char *path)
{
    const char *query = http_req_query_string(req);
    char *loc;

    if (asprintf(&loc, "http://%s:%lld%s%s%s", host, (long long)port, path,
                 query && *query ? "?" : "", query ? query : "") < 0) {
        http_reply_error(req, 503, "out of memory");
        return;
    }
    http_reply_header(req, "Location", loc);
    http_reply_errorf(req, 307, "this master does not lead: %s", loc);
    free(loc);
}

static void no_leader(struct http_req *req)
{
    http_reply_error(req, 503, "no leading master is known yet");
}

int master_http_filter(void *arg, struct http_req *req)
{
    struct master *m = arg;
    char *ip, *host;
    int64_t port;
    yajl_val doc;

    if (m->elected || master_standby_serves(http_req_path(req)))
        return 0;
    if (master_leader_info(m, &ip, &port, &host, &doc) < 0)
        no_leader(req);
    else
        redirect_to(req, ip, port, http_req_path(req));
    if (doc)
        yajl_tree_free(doc);
    return 1;
}

/*
 * A plugin's own port on a standby: to the same plugin's port on the
 * leader, or to /<name>/... on the leader's master port when the leader
 * did not publish one.
 */
int master_plugin_filter(void *arg, struct http_req *req)
{
    struct plugin *p = arg;
    struct master *m = p->m;
    yajl_val doc, ports;
    char *ip, *host, *path;
    int64_t port, pport = 0;

    if (m->elected)
        return 0;
    if (master_leader_info(m, &ip, &port, &host, &doc) < 0) {
        no_leader(req);
        return 1;
    }
    ports = doc ? agora_json_get(doc, "plugin_ports") : NULL;
    if (ports && agora_json_int(ports, p->name, &pport) == 0 && pport > 0) {
        redirect_to(req, ip, pport, http_req_path(req));
    } else if (asprintf(&path, "/%s%s", p->name, http_req_path(req)) >= 0) {
        redirect_to(req, ip, port, path);
        free(path);
    } else {
        no_leader(req);
    }
    if (doc)
        yajl_tree_free(doc);
    return 1;
}
