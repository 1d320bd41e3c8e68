/*
 * master_mesos.c - the master's endpoints that exist for Mesos' tools:
 *
 *   GET /master/flags          the flags, as Mesos writes them
 *   GET /master/state-summary  agents and frameworks with task counts
 *   the /metrics/snapshot keys of Mesos that the master's own do not name
 *   the keys of Mesos' /master/state that describe its build, and the
 *   lists of it agora keeps empty
 *
 * and the paths Mesos serves each master endpoint at: under /master/, at
 * the root (libprocess' delegate), and with .json for old tools
 * (master_mesos_alias()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>

#include <agora/json.h>
#include <agora/resources.h>
#include <agora/sdk.h>

#include "agents.h"
#include "alloc.h"
#include "conf.h"
#include "frameworks.h"
#include "http.h"
#include "master.h"
#include "master_auth.h"
#include "master_mesos.h"
#include "store.h"
#include "tasks.h"

#define M(arg) ((struct master *)(arg))

void master_mesos_flags(void *arg, struct http_req *req)
{
    struct agora_jw *w;

    if (!master_auth_allow(M(arg), req, ACL_GET_FLAGS, NULL)) {
        master_auth_forbid(req);
        return;
    }
    w = agora_jw_new();
    agora_jw_obj_open(w);
    agora_jw_key(w, "flags");
    conf_write_json(master_flags, &M(arg)->conf, w);
    agora_jw_obj_close(w);
    http_reply_jw(req, 200, w);
}

/* ---- /master/state: what Mesos writes beside the master's own ---- */

/* Seconds since the epoch of this file's compilation (__DATE__ and
 * __TIME__ are the build machine's local time), 0 if unreadable. */
static int64_t build_time(void)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    struct tm tm;
    char mon[4];
    const char *p;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(__DATE__, "%3s %d %d", mon, &tm.tm_mday, &tm.tm_year) != 3 ||
        sscanf(__TIME__, "%d:%d:%d", &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec) != 3 ||
        (p = strstr(months, mon)) == NULL)
        return 0;
    tm.tm_mon = (int)(p - months) / 3;
    tm.tm_year -= 1900;
    tm.tm_isdst = -1;
    t = mktime(&tm);
    return t == (time_t)-1 ? 0 : (int64_t)t;
}

void master_mesos_write_build(struct agora_jw *w)
{
    agora_jw_kstr(w, "build_date", __DATE__ " " __TIME__);
    agora_jw_kint(w, "build_time", build_time());
    /* A build of agora records no user (builds are to be reproducible):
     * the key is there, as Mesos' tools read it, and empty. */
    agora_jw_kstr(w, "build_user", "");
}

void master_mesos_state_lists(struct master *m, struct agora_jw *w)
{
    const struct task *t;

    /* Live tasks whose framework is not registered: those of a plugin
     * unloaded while they run (a reload kills no task), listed under no
     * framework until it is loaded again. */
    agora_jw_key(w, "orphan_tasks");
    agora_jw_arr_open(w);
    for (t = m->tasks.first; t; t = t->next)
        if (!agora_task_state_terminal(t->state) &&
            map_get(&m->frameworks.by_id, t->framework_id) == NULL &&
            master_task_viewable(m, t))
            tasks_write_one(w, t);
    agora_jw_arr_close(w);
    /* Frameworks with tasks that have not re-registered since a failover:
     * plugins register with the master itself, before any agent. */
    agora_jw_key(w, "unregistered_frameworks");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
}

/* ---- /state-summary ---- */

/* Task counts by state, as "TASK_RUNNING": n keys. */
static void write_counts(struct agora_jw *w, const uint64_t *n)
{
    int s;

    for (s = 0; s < AGORA_TASK_STATE_COUNT; s++)
        agora_jw_kint(w, agora_task_state_name((enum agora_task_state)s),
                      (int64_t)n[s]);
}

/* Adds id to the ids v[0..*n) unless it is there. Ids are interned by
 * the task table, so equal ids are one pointer. v has room for every
 * agent or framework there is. */
static void add_id(const char **v, size_t *n, const char *id)
{
    size_t i;

    for (i = 0; i < *n; i++)
        if (v[i] == id)
            return;
    v[(*n)++] = id;
}

static void write_ids(struct agora_jw *w, const char *key, const char **v,
                      size_t n)
{
    size_t i;

    agora_jw_key(w, key);
    agora_jw_arr_open(w);
    for (i = 0; i < n; i++)
        agora_jw_str(w, v[i]);
    agora_jw_arr_close(w);
}

static void summary_agent(struct master *m, struct agora_jw *w,
                          struct agent_rec *ag, const char **ids)
{
    uint64_t n[AGORA_TASK_STATE_COUNT] = {0};
    size_t pos = 0, nids = 0;
    void *v;

    (void)m;
    while (map_next(&ag->tasks, &pos, NULL, &v)) {
        const struct task *t = v;

        n[t->state]++;
        add_id(ids, &nids, t->framework_id);
    }
    agora_jw_obj_open(w);
    agents_write_summary(w, ag);
    write_counts(w, n);
    write_ids(w, "framework_ids", ids, nids);
    agora_jw_obj_close(w);
}

static void summary_framework(struct master *m, struct agora_jw *w,
                              const struct agora_framework *fw,
                              const char **ids)
{
    struct agora_resources used = {NULL, 0}, offered = {NULL, 0};
    uint64_t n[AGORA_TASK_STATE_COUNT] = {0};
    size_t nids = 0;
    struct task *t;

    for (t = m->tasks.first; t; t = t->next) {
        if (strcmp(t->framework_id, fw->id) != 0)
            continue;
        n[t->state]++;
        if (!agora_task_state_terminal(t->state))
            add_id(ids, &nids, t->agent_id);
    }
    agora_jw_obj_open(w);
    frameworks_write_summary(m, w, fw, &used, &offered);
    write_counts(w, n);
    write_ids(w, "slave_ids", ids, nids);
    agora_jw_obj_close(w);
    agora_resources_free(&used);
    agora_resources_free(&offered);
}

void master_mesos_state_summary(void *arg, struct http_req *req)
{
    struct master *m = M(arg);
    size_t cap = m->agents.by_id.len + m->frameworks.by_id.len + 1, pos = 0;
    const char **ids = malloc(cap * sizeof(*ids));
    struct agora_jw *w;
    void *v;

    if (ids == NULL) {
        http_reply_error(req, 503, "out of memory");
        return;
    }
    w = agora_jw_new();
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "hostname", m->conf.hostname);
    agora_jw_key(w, "slaves");
    agora_jw_arr_open(w);
    while (map_next(&m->agents.by_id, &pos, NULL, &v))
        if (((struct agent_rec *)v)->state != AGENT_GONE)
            summary_agent(m, w, v, ids);
    agora_jw_arr_close(w);
    agora_jw_key(w, "frameworks");
    agora_jw_arr_open(w);
    pos = 0;
    while (map_next(&m->frameworks.by_id, &pos, NULL, &v))
        summary_framework(m, w, v, ids);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    free(ids);
    http_reply_jw(req, 200, w);
}

/* ---- the paths ---- */

int master_mesos_alias(struct router *r, const char *method, const char *name,
                       http_handler_fn fn, void *arg)
{
    static const char *const forms[] = {"/master/%s", "/%s", "/master/%s.json",
                                        "/%s.json"};
    char path[128];
    size_t i;
    int rc;

    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        snprintf(path, sizeof(path), forms[i], name);
        rc = router_add(r, method, NULL, path, (void *)fn, arg);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- /metrics/snapshot: the keys Mesos' tools read ---- */

static void write_system(struct agora_jw *w)
{
    struct sysinfo si;

    agora_jw_kint(w, "system/cpus_total", get_nprocs());
    if (sysinfo(&si) != 0)
        return;
    agora_jw_kint(w, "system/mem_total_bytes",
                  (int64_t)si.totalram * si.mem_unit);
    agora_jw_kint(w, "system/mem_free_bytes",
                  (int64_t)si.freeram * si.mem_unit);
    /* sysinfo's loads are fixed point, 1 << SI_LOAD_SHIFT for 1.0. */
    agora_jw_knum(w, "system/load_1min", si.loads[0] / 65536.0);
    agora_jw_knum(w, "system/load_5min", si.loads[1] / 65536.0);
    agora_jw_knum(w, "system/load_15min", si.loads[2] / 65536.0);
}

static void write_frameworks(struct master *m, struct agora_jw *w)
{
    size_t n = m->frameworks.by_id.len;

    /* A plugin's framework is active and connected while registered. */
    agora_jw_kint(w, "master/frameworks_active", (int64_t)n);
    agora_jw_kint(w, "master/frameworks_inactive", 0);
    agora_jw_kint(w, "master/frameworks_connected", (int64_t)n);
    agora_jw_kint(w, "master/frameworks_disconnected", 0);
    agora_jw_kint(w, "master/frameworks_completed",
                  (int64_t)m->frameworks.ngone);
}

/* Mesos names for the allocator figures (allocator/mesos/...). */
static void write_allocator(struct master *m, struct agora_jw *w)
{
    static const char *const names[] = {"cpus", "mem", "disk", "gpus"};
    struct alloc_totals t;
    struct alloc_stats st;
    char key[96];
    int k;

    alloc_get_stats(m->alloc, &st);
    alloc_get_totals(m->alloc, &t);
    agora_jw_kint(w, "allocator/mesos/allocation_runs", (int64_t)st.runs);
    agora_jw_knum(w, "allocator/mesos/allocation_run_ms", st.run_ms_last);
    /* The allocator runs on the loop: it has no queue of its own. */
    agora_jw_kint(w, "allocator/mesos/event_queue_dispatches", 0);
    for (k = 0; k < 4; k++) {
        snprintf(key, sizeof(key), "allocator/mesos/resources/%s/total",
                 names[k]);
        agora_jw_knum(w, key, t.total[k]);
        snprintf(key, sizeof(key),
                 "allocator/mesos/resources/%s/offered_or_allocated",
                 names[k]);
        agora_jw_knum(w, key, t.used[k] + t.offered[k]);
    }
}

void master_mesos_metrics(struct master *m, struct agora_jw *w)
{
    struct store_stats ss;
    struct http_stats hs;

    write_frameworks(m, w);
    write_allocator(m, w);
    write_system(w);
    store_get_stats(m->store, &ss);
    /* The registry is the store: its writes in flight. */
    agora_jw_kint(w, "registrar/queued_operations", (int64_t)ss.pending);
    agora_jw_kint(w, "master/messages_status_update",
                  (int64_t)m->tasks.updates);
    agora_jw_kint(w, "master/messages_launch_tasks",
                  (int64_t)m->tasks.launched);
    agora_jw_kint(w, "master/messages_register_slave",
                  (int64_t)m->agents.registrations);
    agora_jw_kint(w, "master/messages_reregister_slave",
                  (int64_t)m->agents.reregistrations);
    /* libprocess queues events to the master's actor; agora's loop runs
     * each when it comes, and holds only HTTP requests that wait (a
     * deferred reply). Nothing is dropped unanswered: a refused update
     * gets its HTTP error. */
    http_server_stats(m->http, &hs);
    agora_jw_kint(w, "master/event_queue_messages", 0);
    agora_jw_kint(w, "master/event_queue_dispatches", 0);
    agora_jw_kint(w, "master/event_queue_http_requests",
                  (int64_t)hs.deferred_open);
    agora_jw_kint(w, "master/dropped_messages", 0);
}
