/*
 * master_leader.c - the master's state and leadership: the local store
 * and a standalone leader without --zk; a ZooKeeper session, the zk
 * store and a ZooKeeper election with it. What changes when this master
 * is elected or deposed (see master_leader.h). What a standby does with
 * requests is standby.c's, which this file drives and which calls
 * nothing here.
 */
#include "master_api_v1.h"
#include "master_leader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agents.h"
#include "http.h"
#include "leader.h"
#include "log.h"
#include "clock.h"
#include "master.h"
#include "standby.h"
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
    policy_load(m);
    plugins_notify_leader(m, 1);
    events_publish(&m->events, "leader_elected", "{\"elected\":true}");
}

static void master_deposed(struct master *m)
{
    m->elected = 0;
    plugins_notify_leader(m, 0);
    agents_drop(m);
    api_v1_close_all(m); /* their state was the leader's */
    policy_stop(m);
    maint_free(m);
    tasks_free(m);
    tasks_init(m);
    events_publish(&m->events, "leader_deposed", "{\"elected\":false}");
}

/*
 * The store's term (store.h's fencing) opens before the plugins start
 * and closes before they are finished: a write one of them starts
 * afterwards - in on_leader(0) or fini, or one queued behind others -
 * fails with AGORA_ENOTLEADER instead of landing.
 */
static void master_term_begin(struct master *m)
{
    char *fence = NULL;

    if (leader_fence(m->leader, &fence) < 0 ||
        store_term_begin(m->store, fence) < 0)
        log_error("master", "out of memory for the store's term: its "
                            "writes fail until the next election");
    free(fence);
}

static void master_on_leader(void *arg, int leading)
{
    struct master *m = arg;

    if (m->stopping || !leading == !m->elected)
        return;
    if (leading) {
        master_term_begin(m);
        master_elected(m);
    } else {
        store_term_end(m->store);
        master_deposed(m);
    }
    standby_update(m);
}

/* Another term began: held requests go to the new leader. */
static void master_on_leader_change(void *arg)
{
    struct master *m = arg;

    if (!m->stopping)
        standby_update(m);
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
    if (m->tls.cert) /* agents and standbys speak HTTPS to it */
        agora_jw_kstr(w, "scheme", "https");
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

static void master_on_abdicate(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct master *m = w->data;

    (void)loop;
    (void)revents;
    if (!m->stopping && m->leader && leader_abdicate(m->leader) == 0)
        log_info("master", "abdicated, as asked");
}

int master_leader_abdicate(struct master *m)
{
    if (!m->elected || m->leader == NULL)
        return AGORA_ENOTLEADER;
    /* On a later turn: the asker (a plugin's handler) is finished by it. */
    if (!ev_is_active(&m->abdicate_timer)) {
        ev_timer_set(&m->abdicate_timer, 0., 0.);
        ev_timer_start(m->loop, &m->abdicate_timer);
    }
    return 0;
}

int master_leader_start(struct master *m)
{
    char *info;
    int rc;

    ev_init(&m->abdicate_timer, master_on_abdicate);
    m->abdicate_timer.data = m;
    if (m->zk == NULL) {
        /* The only master: it leads from the start, so the plugins are
         * up before the first request (the report that follows is a
         * no-op). */
        rc = leader_open_standalone(m->loop, master_on_leader, m, &m->leader);
        if (rc == 0)
            master_on_leader(m, 1);
        return rc;
    }
    if ((info = master_info_json(m)) == NULL ||
        standby_open(m) < 0) {
        free(info);
        return AGORA_ENOMEM;
    }
    rc = leader_open_zk(m->loop, m->zk, m->zk_root, info, master_on_leader, m,
                        &m->leader);
    free(info);
    if (rc == 0)
        leader_on_change(m->leader, master_on_leader_change, m);
    return rc;
}

/*
 * Stops the election (no more reports), then the store, then the
 * session (its ephemeral znode goes with it, so another master is
 * elected at once). Plugins must be unloaded before: their fini writes.
 */
void master_state_close(struct master *m)
{
    ev_timer_stop(m->loop, &m->abdicate_timer);
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
