/*
 * api_v1.c - POST /api/v1 on the agent: a call's checks and dispatch
 * (api_v1.h lists the calls and where each lives), and the reads that
 * are the v0 documents again.
 *
 * As Mesos answers: 405 for another method (the router), 415 without
 * Content-Type application/json, 406 when Accept allows no JSON, 400
 * with a plain-text reason for a call that does not parse or validate
 * (v1_call.h), 200 with {"type": <call>, "<call in lower case>": {...}}
 * for a read, 200 with an empty body for KILL_CONTAINER. A call agora
 * does not serve (the nested and standalone container calls, logging
 * level, resource providers) is a 400 that names it.
 */
#include "api_v1.h"

#include <stdio.h>
#include <string.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agent.h"
#include "agent_http.h"
#include "http.h"
#include "state_json.h"
#include "v1_call.h"

static int get_health(struct agent *a, yajl_val msg, struct agora_jw *w,
                      char *why, size_t whylen)
{
    (void)a, (void)msg, (void)why, (void)whylen;
    agora_jw_obj_open(w);
    agora_jw_kbool(w, "healthy", 1);
    agora_jw_obj_close(w);
    return 0;
}

static int get_version(struct agent *a, yajl_val msg, struct agora_jw *w,
                       char *why, size_t whylen)
{
    (void)a, (void)msg, (void)why, (void)whylen;
    v1_write_version(w);
    return 0;
}

/* {"flags": [{"name", "value"}]}: /flags as v1 lists it. */
static int get_flags(struct agent *a, yajl_val msg, struct agora_jw *w,
                     char *why, size_t whylen)
{
    struct agora_jw *f = agora_jw_new();

    (void)msg, (void)why, (void)whylen;
    state_json_flags(f, a);
    v1_write_pairs(w, "flags", f);
    return 0;
}

/* {"metrics": [{"name", "value"}]}: /metrics/snapshot's keys. */
static int get_metrics(struct agent *a, yajl_val msg, struct agora_jw *w,
                       char *why, size_t whylen)
{
    struct agora_jw *f = agora_jw_new();

    (void)msg, (void)why, (void)whylen;
    agent_http_metrics(f, a);
    v1_write_pairs(w, "metrics", f);
    return 0;
}

static const struct {
    const char *type;
    int answers; /* 1: a read's document; 0: 200 with an empty body */
    agent_v1_call *fn;
} calls[] = {
    {"GET_HEALTH", 1, get_health},
    {"GET_FLAGS", 1, get_flags},
    {"GET_VERSION", 1, get_version},
    {"GET_METRICS", 1, get_metrics},
    {"GET_STATE", 1, agent_v1_get_state},
    {"GET_FRAMEWORKS", 1, agent_v1_get_frameworks},
    {"GET_EXECUTORS", 1, agent_v1_get_executors},
    {"GET_TASKS", 1, agent_v1_get_tasks},
    {"GET_CONTAINERS", 1, agent_v1_get_containers},
    {"KILL_CONTAINER", 0, agent_v1_kill_container},
    {"LIST_FILES", 1, agent_v1_list_files},
    {"READ_FILE", 1, agent_v1_read_file},
};

/* Runs call i of doc and answers req. */
static void run(struct agent *a, struct http_req *req, size_t i, yajl_val doc)
{
    yajl_val msg = v1_call_message(doc, calls[i].type);
    struct agora_jw *w = agora_jw_new();
    char why[512] = "";
    int st;

    if (w == NULL) {
        http_reply(req, 503, "text/plain", "out of memory", 13);
        return;
    }
    if (calls[i].answers)
        v1_reply_open(w, calls[i].type);
    st = calls[i].fn(a, msg, w, why, sizeof(why));
    if (st != 0) {
        agora_jw_free(w);
        http_reply(req, st, "text/plain", why, strlen(why));
    } else if (calls[i].answers) {
        agora_jw_obj_close(w);
        http_reply_jw(req, 200, w);
    } else {
        agora_jw_free(w);
        http_reply(req, 200, NULL, "", 0);
    }
}

void agent_api_v1(void *arg, struct http_req *req)
{
    yajl_val doc = v1_call_read(req, "agent::Call");
    const char *type;
    size_t i;

    if (doc == NULL)
        return;
    type = agora_json_get_str(doc, "type");
    for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
        if (strcmp(type, calls[i].type) == 0)
            break;
    if (i < sizeof(calls) / sizeof(calls[0]))
        run(arg, req, i, doc);
    else
        v1_call_bad(req, "Failed to validate agent::Call: '%.64s' is not a "
                         "call agora serves", type);
    yajl_tree_free(doc);
}
