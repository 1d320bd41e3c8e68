/*
 * api_v1_model.c - the master's state in the v1 operator API's JSON (see
 * api_v1_model.h). The same state as the v0 documents of master_http.c,
 * in protobuf's JSON mapping.
 */
#include "api_v1_model.h"

#include <stdio.h>
#include <string.h>

#include <agora/resources.h>
#include <agora/sdk.h>

#include "agents.h"
#include "alloc.h"
#include "b64.h"
#include "frameworks.h"
#include "master.h"
#include "master_auth.h"
#include "plugins.h"
#include "res_json.h"
#include "tasks.h"

static void write_id(struct agora_jw *w, const char *key, const char *id)
{
    agora_jw_key(w, key);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "value", id);
    agora_jw_obj_close(w);
}

static void write_time(struct agora_jw *w, const char *key, double secs)
{
    agora_jw_key(w, key);
    agora_jw_obj_open(w);
    agora_jw_kint(w, "nanoseconds", (int64_t)(secs * 1e9));
    agora_jw_obj_close(w);
}

static void write_resources(struct agora_jw *w, const char *key,
                            const struct agora_resources *r)
{
    agora_jw_key(w, key);
    res_json_write_list(w, r);
}

/* ---- tasks ---- */

void api_v1_write_task_status(struct agora_jw *w, struct master *m,
                              const struct task *t)
{
    struct task_extra x;

    (void)m;
    tasks_extra_of(t, &x);
    agora_jw_obj_open(w);
    write_id(w, "task_id", t->id);
    agora_jw_kstr(w, "state", agora_task_state_name(t->state));
    write_id(w, "agent_id", t->agent_id);
    agora_jw_knum(w, "timestamp", t->timestamp);
    if (t->reason)
        agora_jw_kstr(w, "reason", t->reason);
    if (t->message)
        agora_jw_kstr(w, "message", t->message);
    if (t->healthy >= 0)
        agora_jw_kbool(w, "healthy", t->healthy);
    if (x.container_json) {
        agora_jw_key(w, "container_status");
        agora_jw_raw(w, x.container_json, strlen(x.container_json));
    }
    if (t->nhistory > 0)
        tasks_write_status_origin(w, TASK_LATEST(t), 1);
    agora_jw_obj_close(w);
    tasks_extra_free(&x);
}

void api_v1_write_task(struct agora_jw *w, struct master *m,
                       const struct task *t)
{
    static const struct agora_resources none = {NULL, 0};

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "name", t->name ? t->name : t->id);
    write_id(w, "task_id", t->id);
    write_id(w, "framework_id", t->framework_id);
    write_id(w, "agent_id", t->agent_id);
    agora_jw_kstr(w, "state", agora_task_state_name(t->state));
    write_resources(w, "resources", t->resources ? t->resources : &none);
    /* The table keeps the latest status whole (the v0 history keeps
     * states and times only). */
    agora_jw_key(w, "statuses");
    agora_jw_arr_open(w);
    if (t->nhistory > 0)
        api_v1_write_task_status(w, m, t);
    agora_jw_arr_close(w);
    agora_jw_kstr(w, "status_update_state",
                  agora_task_state_name(t->state));
    if (t->nhistory > 0 && TASK_LATEST(t)->has_uuid) {
        char b64[B64_ENCODED_LEN(16)];

        b64_encode(TASK_LATEST(t)->uuid, 16, b64);
        agora_jw_kstr(w, "status_update_uuid", b64);
    }
    agora_jw_obj_close(w);
}

void api_v1_write_get_tasks(struct agora_jw *w, struct master *m)
{
    static const char *const lists[] = {"tasks", "unreachable_tasks",
                                        "completed_tasks"};
    const struct task *t;
    int l;

    agora_jw_obj_open(w);
    agora_jw_key(w, "pending_tasks");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    for (l = 0; l < 3; l++) {
        agora_jw_key(w, lists[l]);
        agora_jw_arr_open(w);
        for (t = m->tasks.first; t; t = t->next) {
            int which = t->state == AGORA_TASK_UNREACHABLE ? 1
                        : agora_task_state_terminal(t->state) ? 2
                                                              : 0;
            if (which == l && master_task_viewable(m, t))
                api_v1_write_task(w, m, t);
        }
        agora_jw_arr_close(w);
    }
    agora_jw_key(w, "orphan_tasks");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
}

/* ---- agents ---- */

static void write_agent_info(struct agora_jw *w, const struct agent_rec *ag)
{
    size_t i;

    agora_jw_key(w, "agent_info");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "hostname", ag->hostname);
    agora_jw_kint(w, "port", ag->port);
    write_id(w, "id", ag->id);
    write_resources(w, "resources", &ag->total);
    agora_jw_key(w, "attributes");
    agora_jw_arr_open(w);
    for (i = 0; i < ag->nattrs; i++) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "name", ag->attrs[i].key);
        agora_jw_kstr(w, "type", "TEXT");
        agora_jw_key(w, "text");
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "value", ag->attrs[i].value);
        agora_jw_obj_close(w);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
}

/* What runs on ag: its live tasks' resources. */
static void agent_used(struct agent_rec *ag, struct agora_resources *sum)
{
    size_t pos = 0;
    void *v;

    while (map_next(&ag->tasks, &pos, NULL, &v)) {
        const struct task *t = v;

        if (!agora_task_state_terminal(t->state) && t->resources)
            agora_resources_add(sum, t->resources);
    }
}

void api_v1_write_agent(struct agora_jw *w, struct master *m,
                        struct agent_rec *ag)
{
    struct agora_resources used = {NULL, 0}, offered = {NULL, 0};
    char pid[300];

    (void)m;
    agent_used(ag, &used);
    if (ag->alloc)
        alloc_agent_offered(ag->alloc, &offered);
    snprintf(pid, sizeof(pid), "slave(1)@%s:%d", ag->ip ? ag->ip : "",
             ag->port);
    agora_jw_obj_open(w);
    write_agent_info(w, ag);
    agora_jw_kbool(w, "active", ag->state == AGENT_ACTIVE);
    agora_jw_kbool(w, "deactivated", ag->deactivated);
    agora_jw_kstr(w, "version", ag->version);
    agora_jw_kstr(w, "pid", pid);
    write_time(w, "registered_time", ag->registered_time);
    if (ag->reregistered_time)
        write_time(w, "reregistered_time", ag->reregistered_time);
    write_resources(w, "total_resources", &ag->total);
    write_resources(w, "allocated_resources", &used);
    write_resources(w, "offered_resources", &offered);
    agora_jw_key(w, "capabilities");
    agora_jw_arr_open(w);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "type", "MULTI_ROLE");
    agora_jw_obj_close(w);
    agora_jw_arr_close(w);
    agents_write_drain_info(w, ag);
    agora_jw_obj_close(w);
    agora_resources_free(&used);
    agora_resources_free(&offered);
}

void api_v1_write_get_agents(struct agora_jw *w, struct master *m)
{
    size_t pos = 0;
    void *v;

    agora_jw_obj_open(w);
    agora_jw_key(w, "agents");
    agora_jw_arr_open(w);
    while (map_next(&m->agents.by_id, &pos, NULL, &v))
        if (((struct agent_rec *)v)->state != AGENT_GONE)
            api_v1_write_agent(w, m, v);
    agora_jw_arr_close(w);
    agora_jw_key(w, "recovered_agents");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
}

/* ---- frameworks ---- */

void api_v1_write_framework_info(struct agora_jw *w, struct master *m,
                                 const struct agora_framework *fw)
{
    char buf[512];

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "user", "");
    agora_jw_kstr(w, "name", fw->name);
    write_id(w, "id", fw->id);
    agora_jw_knum(w, "failover_timeout", 0);
    agora_jw_kbool(w, "checkpoint", 1);
    agora_jw_kstr(w, "role", fw->role);
    agora_jw_kstr(w, "hostname", m->conf.hostname);
    if (fw->principal)
        agora_jw_kstr(w, "principal", fw->principal);
    frameworks_address(m, fw, 1, buf, sizeof(buf));
    agora_jw_kstr(w, "webui_url", buf);
    frameworks_write_capabilities(w);
    agora_jw_obj_close(w);
}

void api_v1_write_framework(struct agora_jw *w, struct master *m,
                            const struct agora_framework *fw)
{
    struct agora_resources used = {NULL, 0}, offered = {NULL, 0};
    double first = frameworks_first_registered(m, fw);

    tasks_used_of_framework(m, fw->id, &used);
    if (fw->alloc)
        alloc_fw_offered(fw->alloc, &offered);
    agora_jw_obj_open(w);
    agora_jw_key(w, "framework_info");
    api_v1_write_framework_info(w, m, fw);
    agora_jw_kbool(w, "active", 1);
    agora_jw_kbool(w, "connected", 1);
    agora_jw_kbool(w, "recovered", 0);
    write_time(w, "registered_time", first);
    /* Always, as Mesos: its Framework starts with reregisteredTime equal
     * to registeredTime, and v1 writes it whenever it is set (v0 only
     * when they differ: frameworks_mesos.c). */
    write_time(w, "reregistered_time", fw->registered_at);
    agora_jw_key(w, "offers");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_key(w, "inverse_offers");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    write_resources(w, "allocated_resources", &used);
    write_resources(w, "offered_resources", &offered);
    agora_jw_obj_close(w);
    agora_resources_free(&used);
    agora_resources_free(&offered);
}

void api_v1_write_get_frameworks(struct agora_jw *w, struct master *m)
{
    size_t pos = 0;
    void *v;

    agora_jw_obj_open(w);
    agora_jw_key(w, "frameworks");
    agora_jw_arr_open(w);
    while (map_next(&m->frameworks.by_id, &pos, NULL, &v))
        api_v1_write_framework(w, m, v);
    agora_jw_arr_close(w);
    agora_jw_key(w, "completed_frameworks");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
}

/* Tasks run under agora's shim, not a framework's executor. */
void api_v1_write_get_executors(struct agora_jw *w)
{
    agora_jw_obj_open(w);
    agora_jw_key(w, "executors");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_key(w, "orphan_executors");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
}

void api_v1_write_get_state(struct agora_jw *w, struct master *m)
{
    agora_jw_obj_open(w);
    agora_jw_key(w, "get_tasks");
    api_v1_write_get_tasks(w, m);
    agora_jw_key(w, "get_executors");
    api_v1_write_get_executors(w);
    agora_jw_key(w, "get_frameworks");
    api_v1_write_get_frameworks(w, m);
    agora_jw_key(w, "get_agents");
    api_v1_write_get_agents(w, m);
    agora_jw_obj_close(w);
}
