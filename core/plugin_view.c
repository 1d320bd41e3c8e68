/*
 * plugin_view.c - what the master knows, as plugins read it: agents,
 * a framework's tasks, the master itself (the services table's
 * agents_each, agent_get, tasks_each, task_get and master_info).
 *
 * Every view is built on the caller's stack and borrowed for the one
 * callback it is passed to; nothing here keeps a pointer a plugin holds.
 */
#include "plugin_view.h"

#include <stdlib.h>
#include <string.h>

#include <agora/resources.h>

#include "agents.h"
#include "alloc.h"
#include "frameworks.h"
#include "master.h"
#include "plugins.h"
#include "tasks.h"

#define HOST(h) ((struct plugin *)(h))

/* ---- agents ---- */

static enum agora_agent_state view_agent_state(enum agent_state s)
{
    switch (s) {
    case AGENT_RECOVERING:
        return AGORA_AGENT_RECOVERING;
    case AGENT_ACTIVE:
        return AGORA_AGENT_ACTIVE;
    case AGENT_UNREACHABLE:
        return AGORA_AGENT_UNREACHABLE;
    default:
        return AGORA_AGENT_GONE;
    }
}

/* Calls fn with a view of ag; its free resources live for the call. */
static int view_agent(struct agent_rec *ag, agora_agent_fn fn, void *arg)
{
    struct agora_resources free_res = {NULL, 0};
    struct agora_agent_info a;

    if (ag->alloc && alloc_agent_free_resources(ag->alloc, &free_res) < 0) {
        agora_resources_free(&free_res);
        return AGORA_ENOMEM;
    }
    memset(&a, 0, sizeof(a));
    a.id = ag->id;
    a.hostname = ag->hostname;
    a.state = view_agent_state(ag->state);
    a.attributes = ag->attrs;
    a.nattributes = ag->nattrs;
    a.total = &ag->total;
    a.free = &free_res;
    a.registered_time = ag->registered_time;
    fn(arg, &a);
    agora_resources_free(&free_res);
    return 0;
}

int plugin_view_agents_each(struct agora_host *h, agora_agent_fn fn,
                            void *arg)
{
    struct master *m = HOST(h)->m;
    size_t pos = 0;
    void *v;
    int rc = 0;

    if (fn == NULL)
        return AGORA_EINVAL;
    while (rc == 0 && map_next(&m->agents.by_id, &pos, NULL, &v))
        rc = view_agent(v, fn, arg);
    return rc;
}

int plugin_view_agent_get(struct agora_host *h, const char *agent_id,
                          agora_agent_fn fn, void *arg)
{
    struct agent_rec *ag;

    if (fn == NULL || agent_id == NULL)
        return AGORA_EINVAL;
    ag = agents_find(HOST(h)->m, agent_id);
    return ag ? view_agent(ag, fn, arg) : AGORA_ENOENT;
}

/* ---- tasks ---- */

static void view_task(struct master *m, const struct task *t,
                      agora_task_fn fn, void *arg)
{
    struct agent_rec *ag = agents_find(m, t->agent_id);
    struct agora_task_info ti;
    struct task_extra x;

    memset(&ti, 0, sizeof(ti));
    tasks_extra_of(t, &x);
    ti.ip_addresses = x.ips;
    ti.nip_addresses = x.nips;
    ti.ports = x.ports;
    ti.nports = x.nports;
    ti.container_status_json = x.container_json;
    ti.health_output = x.health_output;
    ti.task_id = t->id;
    ti.name = t->name ? t->name : t->id;
    ti.agent_id = t->agent_id;
    ti.hostname = ag ? ag->hostname : NULL;
    ti.state = t->state;
    ti.healthy = t->healthy;
    ti.reason = t->reason;
    ti.message = t->message;
    ti.timestamp = t->timestamp;
    ti.launched = t->launched;
    ti.resources = t->resources;
    fn(arg, &ti);
    tasks_extra_free(&x);
}

int plugin_view_tasks_each(struct agora_framework *fw, agora_task_fn fn,
                           void *arg)
{
    struct master *m;
    struct task *t, *next;

    if (fw == NULL || fn == NULL)
        return AGORA_EINVAL;
    m = fw->p->m;
    /* The next task is read first: fn may kill or launch tasks. */
    for (t = m->tasks.first; t; t = next) {
        next = t->next;
        if (strcmp(t->framework_id, fw->id) == 0)
            view_task(m, t, fn, arg);
    }
    return 0;
}

int plugin_view_task_get(struct agora_framework *fw, const char *task_id,
                         agora_task_fn fn, void *arg)
{
    struct task *t;

    if (fw == NULL || fn == NULL || task_id == NULL)
        return AGORA_EINVAL;
    t = tasks_find(fw->p->m, task_id);
    if (t == NULL || strcmp(t->framework_id, fw->id) != 0)
        return AGORA_ENOENT;
    view_task(fw->p->m, t, fn, arg);
    return 0;
}

/* ---- the master ---- */

int plugin_view_master_info(struct agora_host *h,
                            struct agora_master_info *out)
{
    struct master *m = HOST(h)->m;

    memset(out, 0, sizeof(*out));
    out->id = m->id;
    out->hostname = m->conf.hostname;
    out->ip = m->advertise_ip;
    out->port = (int)m->conf.port;
    out->version = AGORA_VERSION;
    out->leading = m->elected;
    out->zk = m->conf.zk && *m->conf.zk ? m->conf.zk : NULL;
    out->start_time = m->start_time;
    out->elected_time = m->elected_time;
    return 0;
}
