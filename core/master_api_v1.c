/*
 * master_api_v1.c - POST /api/v1: the v1 operator API's calls, in JSON
 * (protobuf bodies are not taken: 415, as for any other type).
 *
 * As Mesos answers: 405 for another method (the router), 415 without
 * Content-Type application/json, 406 when Accept allows no JSON, 400
 * with a plain-text reason for a call that does not parse or validate,
 * 200 with {"type": <call>, "<call in lower case>": {...}} for a read,
 * 200 with an empty body for a change, 202 for a drain begun.
 *
 * Reads: GET_HEALTH, GET_FLAGS, GET_VERSION, GET_METRICS, GET_STATE,
 * GET_AGENTS, GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS, GET_ROLES,
 * GET_WEIGHTS, GET_MASTER, GET_QUOTA. Changes: UPDATE_WEIGHTS,
 * UPDATE_QUOTA, DEACTIVATE_AGENT, REACTIVATE_AGENT, DRAIN_AGENT,
 * MARK_AGENT_GONE. And SUBSCRIBE (master_api_v1_stream.c).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agents.h"
#include "alloc.h"
#include "api_v1_model.h"
#include "conf.h"
#include "frameworks.h"
#include "http.h"
#include "log.h"
#include "master.h"
#include "master_auth.h"
#include "master_api_v1.h"
#include "master_http.h"
#include "master_mesos.h"
#include "master_teardown.h"
#include "tasks.h"
#include "v1_call.h"

#define M(arg) ((struct master *)(arg))

/* {"type": type, "<type in lower case>": (what fn writes)}. */
static void reply_read(struct http_req *req, const char *type,
                       void (*fn)(struct agora_jw *, struct master *),
                       struct master *m)
{
    struct agora_jw *w = agora_jw_new();

    v1_reply_open(w, type);
    fn(w, m);
    agora_jw_obj_close(w);
    http_reply_jw(req, 200, w);
}

/* ---- reads ---- */

static void get_health(struct agora_jw *w, struct master *m)
{
    (void)m;
    agora_jw_obj_open(w);
    agora_jw_kbool(w, "healthy", 1);
    agora_jw_obj_close(w);
}

static void get_version(struct agora_jw *w, struct master *m)
{
    (void)m;
    agora_jw_obj_open(w);
    agora_jw_key(w, "version_info");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "version", AGORA_VERSION);
    agora_jw_kstr(w, "build_date", __DATE__ " " __TIME__);
    master_mesos_write_build(w);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
}

static void get_flags(struct agora_jw *w, struct master *m)
{
    struct agora_jw *f = agora_jw_new();

    conf_write_json(master_flags, &m->conf, f);
    v1_write_pairs(w, "flags", f);
}

static void get_metrics(struct agora_jw *w, struct master *m)
{
    struct agora_jw *f = agora_jw_new();

    master_write_metrics(m, f);
    v1_write_pairs(w, "metrics", f);
}

static void get_state(struct agora_jw *w, struct master *m)
{
    api_v1_write_get_state(w, m);
}

static void get_agents(struct agora_jw *w, struct master *m)
{
    api_v1_write_get_agents(w, m);
}

static void get_frameworks(struct agora_jw *w, struct master *m)
{
    api_v1_write_get_frameworks(w, m);
}

static void get_executors(struct agora_jw *w, struct master *m)
{
    (void)m;
    api_v1_write_get_executors(w);
}

static void get_tasks(struct agora_jw *w, struct master *m)
{
    api_v1_write_get_tasks(w, m);
}

/* {"roles": [...]}: the roles of /master/roles, as v1 lists them. */
static void get_roles(struct agora_jw *w, struct master *m)
{
    agora_jw_obj_open(w);
    agora_jw_key(w, "roles");
    alloc_write_roles_v1(m->alloc, w);
    agora_jw_obj_close(w);
}

static void get_weights(struct agora_jw *w, struct master *m)
{
    agora_jw_obj_open(w);
    agora_jw_key(w, "weight_infos");
    alloc_write_weights_v1(m->alloc, w);
    agora_jw_obj_close(w);
}

static void get_quota(struct agora_jw *w, struct master *m)
{
    agora_jw_obj_open(w);
    agora_jw_key(w, "status");
    agora_jw_obj_open(w);
    agora_jw_key(w, "infos");
    alloc_write_quota_v1(m->alloc, w);
    agora_jw_key(w, "configs");
    alloc_write_quota_configs_v1(m->alloc, w);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
}

static void get_master(struct agora_jw *w, struct master *m)
{
    struct in_addr ip4;
    char pid[300];

    snprintf(pid, sizeof(pid), "master@%s:%u", m->advertise_ip,
             (unsigned)m->conf.port);
    agora_jw_obj_open(w);
    agora_jw_key(w, "master_info");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", m->id);
    /* MasterInfo.ip: the IPv4 address as a uint32 in network order. */
    if (inet_pton(AF_INET, m->advertise_ip, &ip4) == 1)
        agora_jw_kint(w, "ip", (int64_t)ip4.s_addr);
    agora_jw_kint(w, "port", m->conf.port);
    agora_jw_kstr(w, "pid", pid);
    agora_jw_kstr(w, "hostname", m->conf.hostname);
    agora_jw_kstr(w, "version", AGORA_VERSION);
    agora_jw_key(w, "address");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "hostname", m->conf.hostname);
    agora_jw_kstr(w, "ip", m->advertise_ip);
    agora_jw_kint(w, "port", m->conf.port);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
    agora_jw_knum(w, "start_time", m->start_time);
    if (m->elected)
        agora_jw_knum(w, "elected_time", m->elected_time);
    agora_jw_obj_close(w);
}

static void get_maintenance_status(struct agora_jw *w, struct master *m)
{
    agora_jw_obj_open(w);
    agora_jw_key(w, "status");
    maint_write_status(w, m);
    agora_jw_obj_close(w);
}

static void get_maintenance_schedule(struct agora_jw *w, struct master *m)
{
    agora_jw_obj_open(w);
    agora_jw_key(w, "schedule");
    maint_write_schedule(w, m);
    agora_jw_obj_close(w);
}

static const struct {
    const char *type;
    void (*fn)(struct agora_jw *, struct master *);
} reads[] = {
    {"GET_HEALTH", get_health},       {"GET_FLAGS", get_flags},
    {"GET_VERSION", get_version},     {"GET_METRICS", get_metrics},
    {"GET_STATE", get_state},         {"GET_AGENTS", get_agents},
    {"GET_FRAMEWORKS", get_frameworks}, {"GET_EXECUTORS", get_executors},
    {"GET_TASKS", get_tasks},         {"GET_ROLES", get_roles},
    {"GET_WEIGHTS", get_weights},     {"GET_MASTER", get_master},
    {"GET_QUOTA", get_quota},
    {"GET_MAINTENANCE_STATUS", get_maintenance_status},
    {"GET_MAINTENANCE_SCHEDULE", get_maintenance_schedule},
};

/* ---- changes ---- */

/* The agent a call names ({"agent_id": {"value"}} in its message). */
static struct agent_rec *named_agent(struct master *m, yajl_val msg)
{
    const char *id = agora_json_get_str(agora_json_get(msg, "agent_id"),
                                        "value");

    struct agent_rec *ag = id ? agents_find(m, id) : NULL;

    return ag && ag->state != AGENT_GONE ? ag : NULL;
}

static int update_weights(struct master *m, yajl_val msg, const char **why)
{
    yajl_val infos = agora_json_get(msg, "weight_infos");
    size_t i;

    if (!YAJL_IS_ARRAY(infos)) {
        *why = "update_weights.weight_infos must be an array";
        return 400;
    }
    for (i = 0; i < infos->u.array.len; i++) {
        yajl_val info = infos->u.array.values[i];
        const char *role = agora_json_get_str(info, "role");
        double weight;

        if (!role || agora_json_num(info, "weight", &weight) != 0 ||
            !(weight > 0)) {
            *why = "each weight_info needs a role and a weight > 0";
            return 400;
        }
    }
    for (i = 0; i < infos->u.array.len; i++) {
        yajl_val info = infos->u.array.values[i];
        double weight = 0;

        agora_json_num(info, "weight", &weight);
        if (alloc_set_weight(m->alloc, agora_json_get_str(info, "role"),
                             weight) < 0) {
            *why = "out of memory";
            return 503;
        }
    }
    return 200;
}

/* One quota_config: {"role", "guarantees": {"cpus": {"value": 1}, ...}}
 * into q (cpus, mem, disk, gpus). */
static int quota_config(yajl_val c, double *q, const char **why)
{
    static const char *const names[] = {"cpus", "mem", "disk", "gpus"};
    yajl_val g = agora_json_get(c, "guarantees");
    size_t i;

    memset(q, 0, 4 * sizeof(*q));
    if (agora_json_get_str(c, "role") == NULL) {
        *why = "each quota_config needs a role";
        return 400;
    }
    if (g == NULL)
        g = agora_json_get(c, "limits");
    for (i = 0; g && YAJL_IS_OBJECT(g) && i < g->u.object.len; i++) {
        size_t k;

        for (k = 0; k < 4 && strcmp(g->u.object.keys[i], names[k]); k++)
            ;
        if (k == 4 || agora_json_num(g->u.object.values[i], "value", &q[k]) ||
            q[k] < 0) {
            *why = "guarantees are cpus, mem, disk, gpus: {\"value\": >= 0}";
            return 400;
        }
    }
    return 200;
}

static int update_quota(struct master *m, yajl_val msg, const char **why)
{
    yajl_val cs = agora_json_get(msg, "quota_configs");
    double q[4];
    size_t i;
    int rc;

    if (!YAJL_IS_ARRAY(cs)) {
        *why = "update_quota.quota_configs must be an array";
        return 400;
    }
    for (i = 0; i < cs->u.array.len; i++)
        if ((rc = quota_config(cs->u.array.values[i], q, why)) != 200)
            return rc;
    for (i = 0; i < cs->u.array.len; i++) {
        quota_config(cs->u.array.values[i], q, why);
        if (alloc_set_quota(m->alloc,
                            agora_json_get_str(cs->u.array.values[i], "role"),
                            q) < 0) {
            *why = "out of memory";
            return 503;
        }
    }
    return 200;
}

static int deactivate_agent(struct master *m, yajl_val msg, const char **why,
                            int off)
{
    struct agent_rec *ag = named_agent(m, msg);

    if (ag == NULL) {
        *why = "no such agent";
        return 400;
    }
    agents_deactivate(m, ag, off);
    return 200;
}

/* A DurationInfo {"nanoseconds": n} as seconds; -1 when absent. */
static int duration_secs(yajl_val d, double *secs, const char **why)
{
    double ns;

    *secs = -1;
    if (d == NULL)
        return 0;
    if (agora_json_num(d, "nanoseconds", &ns) != 0 || ns < 0) {
        *why = "max_grace_period must be {\"nanoseconds\": >= 0}";
        return -1;
    }
    *secs = ns / 1e9;
    return 0;
}

static int drain_agent(struct master *m, yajl_val msg, const char **why)
{
    struct agent_rec *ag = named_agent(m, msg);
    double grace;
    int gone = 0;

    if (ag == NULL) {
        *why = "no such agent";
        return 400;
    }
    if (duration_secs(agora_json_get(msg, "max_grace_period"), &grace,
                      why) < 0)
        return 400;
    agora_json_bool(msg, "mark_gone", &gone);
    agents_drain(m, ag, grace, gone);
    return 200;
}

static int mark_gone(struct master *m, yajl_val msg, const char **why)
{
    struct agent_rec *ag = named_agent(m, msg);

    if (ag == NULL) {
        *why = "no such agent";
        return 400;
    }
    agents_mark_gone(m, ag);
    return 200;
}

static int reactivate_agent(struct master *m, yajl_val msg, const char **why)
{
    return deactivate_agent(m, msg, why, 0);
}

static int deactivate_on(struct master *m, yajl_val msg, const char **why)
{
    return deactivate_agent(m, msg, why, 1);
}

/* A maintenance operation's outcome as a call's status. */
static int maint_status(int rc)
{
    return rc < 0 ? 400 : 200;
}

static int update_schedule(struct master *m, yajl_val msg, const char **why)
{
    return maint_status(maint_set_schedule(m, agora_json_get(msg, "schedule"),
                                           why));
}

static int start_maintenance(struct master *m, yajl_val msg, const char **why)
{
    return maint_status(maint_down(m, agora_json_get(msg, "machines"), why));
}

static int stop_maintenance(struct master *m, yajl_val msg, const char **why)
{
    return maint_status(maint_up(m, agora_json_get(msg, "machines"), why));
}

/* A change, and the part of the stored policy it changes (answered
 * once stored), or -1 (the agent's record keeps it). */
static const struct {
    const char *type;
    int (*fn)(struct master *, yajl_val, const char **);
    int part;
} changes[] = {
    {"UPDATE_WEIGHTS", update_weights, POLICY_WEIGHTS},
    {"UPDATE_QUOTA", update_quota, POLICY_QUOTA},
    {"DEACTIVATE_AGENT", deactivate_on, -1},
    {"REACTIVATE_AGENT", reactivate_agent, -1},
    {"DRAIN_AGENT", drain_agent, -1},
    {"MARK_AGENT_GONE", mark_gone, -1},
    {"UPDATE_MAINTENANCE_SCHEDULE", update_schedule, POLICY_MAINTENANCE},
    {"START_MAINTENANCE", start_maintenance, POLICY_MAINTENANCE},
    {"STOP_MAINTENANCE", stop_maintenance, POLICY_MAINTENANCE},
};

/* A change: its message under the lower-case key of its type. 0 when
 * type is no change agora serves; *part the policy part it changed. */
static int run_change(struct master *m, const char *type, yajl_val doc,
                      const char **why, int *part)
{
    yajl_val msg;
    size_t i;

    for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
        if (strcmp(type, changes[i].type) == 0)
            break;
    if (i == sizeof(changes) / sizeof(changes[0]))
        return 0;
    *part = changes[i].part;
    if ((msg = v1_call_message(doc, type)) == NULL) {
        *why = "the call's message is missing";
        return 400;
    }
    return changes[i].fn(m, msg, why);
}

/* ---- the route ---- */

#define ACL_REFUSED "not allowed by the master's ACLs"

void master_api_v1(void *arg, struct http_req *req)
{
    struct master *m = M(arg);
    const char *why = NULL;
    yajl_val doc = v1_call_read(req, "master::Call");
    char type[64];
    size_t i;
    int status, part = -1;

    if (doc == NULL)
        return;
    snprintf(type, sizeof(type), "%s", agora_json_get_str(doc, "type"));
    for (i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
        if (strcmp(type, reads[i].type) == 0) {
            if (reads[i].fn == get_flags &&
                !master_auth_allow(m, req, ACL_GET_FLAGS, NULL))
                http_reply(req, 403, "text/plain", ACL_REFUSED,
                           strlen(ACL_REFUSED));
            else {
                master_view_begin(m, req);
                reply_read(req, type, reads[i].fn, m);
                master_view_end(m);
            }
            yajl_tree_free(doc);
            return;
        }
    if (strcmp(type, "TEARDOWN") == 0) {
        yajl_val msg = v1_call_message(doc, type);
        const char *id = agora_json_get_str(
            msg ? agora_json_get(msg, "framework_id") : NULL, "value");

        status = master_teardown(m, req, id, &why);
    } else if (strcmp(type, "SUBSCRIBE") == 0) {
        master_view_begin(m, req);
        status = api_v1_subscribe(m, req, &why);
        master_view_end(m);
    }
    else
        status = run_change(m, type, doc, &why, &part);
    yajl_tree_free(doc);
    if (status == 0 && why == NULL && strcmp(type, "SUBSCRIBE") != 0)
        v1_call_bad(req, "Failed to validate master::Call: '%s' is not a "
                         "call agora serves", type);
    else if (status == 200 && part >= 0)
        policy_save(m, (enum policy_part)part, req, NULL, NULL);
    else if (status == 200)
        http_reply(req, 200, NULL, "", 0);
    else if (status != 0)
        http_reply(req, status, "text/plain", why, strlen(why));
}
