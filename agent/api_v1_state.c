/*
 * api_v1_state.c - the agent's state in the v1 API's JSON: GET_STATE,
 * GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS (agent.proto's Response
 * messages; Task, ExecutorInfo and FrameworkInfo of mesos.proto, in
 * protobuf's JSON mapping: ids as {"value"}, resources as full Resource
 * objects).
 *
 * The same tasks as /state (state_json.c), grouped as v1 groups them:
 *   GET_TASKS      pending_tasks: launched by the master, waiting for
 *                  their checkpoint; queued_tasks: STAGING, handed to
 *                  the exec layer; launched_tasks: STARTING to KILLING;
 *                  terminated_tasks: ended, updates not yet all
 *                  acknowledged; completed_tasks: the ring of the last
 *                  AGENT_COMPLETED_MAX that ended and were acknowledged.
 *   GET_EXECUTORS  one command executor a task (the live ones, then the
 *                  completed ones).
 *   GET_FRAMEWORKS every framework that has a task here. The agent knows
 *                  a framework by its id only: "user" and "name" are "".
 */
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agent.h"
#include "api_v1.h"
#include "ctr_json.h"
#include "res_json.h"
#include "state_json.h"
#include "task.h"
#include "updates.h"
#include "v1_call.h"

enum task_list { PENDING, QUEUED, LAUNCHED, TERMINATED, COMPLETED, NLISTS };

/* Where a task of a->tasks stands in GET_TASKS (the ring's tasks are
 * all COMPLETED). */
static enum task_list list_of(const struct agent_task *t)
{
    if (agora_task_state_terminal(t->state))
        return TERMINATED;
    if (t->updates && t->updates->launch_pending)
        return PENDING;
    return t->state == AGORA_TASK_STAGING ? QUEUED : LAUNCHED;
}

/* Mesos' Task. executor_id is left out, as Mesos leaves it out of a
 * command task. */
static void write_task(struct agora_jw *w, const struct agent *a,
                       const struct agent_task *t)
{
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "name", t->name ? t->name : t->id);
    v1_write_id(w, "task_id", t->id);
    v1_write_id(w, "framework_id", t->framework_id);
    v1_write_id(w, "agent_id", a->id);
    agora_jw_kstr(w, "state", agora_task_state_name(t->state));
    agora_jw_key(w, "resources");
    res_json_write_list(w, &t->resources);
    agora_jw_key(w, "statuses");
    state_json_statuses(w, a, t, 1);
    state_json_labels(w, t, 1);
    ctr_json_write_spec(w, "container", t->spec_json);
    agora_jw_obj_close(w);
}

static void write_task_list(struct agora_jw *w, struct agent *a,
                            enum task_list l)
{
    const struct agent_task *t;
    size_t pos = 0, i;
    void *v;

    agora_jw_arr_open(w);
    if (l == COMPLETED) {
        for (i = 0; (t = agent_completed(a, i)) != NULL; i++)
            write_task(w, a, t);
    } else {
        while (map_next(&a->tasks, &pos, NULL, &v))
            if (list_of(v) == l)
                write_task(w, a, v);
    }
    agora_jw_arr_close(w);
}

int agent_v1_get_tasks(struct agent *a, yajl_val msg, struct agora_jw *w,
                       char *why, size_t whylen)
{
    static const char *const keys[NLISTS] = {
        "pending_tasks", "queued_tasks", "launched_tasks", "terminated_tasks",
        "completed_tasks"};
    int l;

    (void)msg, (void)why, (void)whylen;
    agora_jw_obj_open(w);
    for (l = 0; l < NLISTS; l++) {
        agora_jw_key(w, keys[l]);
        write_task_list(w, a, (enum task_list)l);
    }
    agora_jw_obj_close(w);
    return 0;
}

/* {"executor_info": ExecutorInfo} of t's command executor. */
static void write_executor(struct agora_jw *w, const struct agent_task *t)
{
    char name[300];

    state_json_executor_name(t, name, sizeof(name));
    agora_jw_obj_open(w);
    agora_jw_key(w, "executor_info");
    agora_jw_obj_open(w);
    v1_write_id(w, "executor_id", t->id);
    v1_write_id(w, "framework_id", t->framework_id);
    agora_jw_kstr(w, "name", name);
    agora_jw_kstr(w, "source", t->id);
    agora_jw_key(w, "resources");
    res_json_write_list(w, &t->resources);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
}

int agent_v1_get_executors(struct agent *a, yajl_val msg, struct agora_jw *w,
                           char *why, size_t whylen)
{
    const struct agent_task **v;
    size_t n, i;
    int done;

    (void)msg, (void)why, (void)whylen;
    v = state_json_tasks(a, &n);
    agora_jw_obj_open(w);
    for (done = 0; done < 2; done++) {
        agora_jw_key(w, done ? "completed_executors" : "executors");
        agora_jw_arr_open(w);
        for (i = 0; i < n; i++)
            if (agora_task_state_terminal(v[i]->state) == done)
                write_executor(w, v[i]);
        agora_jw_arr_close(w);
    }
    agora_jw_obj_close(w);
    free(v);
    return 0;
}

/* {"framework_info": FrameworkInfo} of the framework of id fw. */
static void write_framework(struct agora_jw *w, const char *fw)
{
    agora_jw_obj_open(w);
    agora_jw_key(w, "framework_info");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "user", "");
    agora_jw_kstr(w, "name", "");
    v1_write_id(w, "id", fw);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
}

static const char *fw_of(const struct agent_task *t)
{
    return t->framework_id ? t->framework_id : "";
}

int agent_v1_get_frameworks(struct agent *a, yajl_val msg, struct agora_jw *w,
                            char *why, size_t whylen)
{
    const struct agent_task **v;
    size_t n, i;

    (void)msg, (void)why, (void)whylen;
    v = state_json_tasks(a, &n); /* sorted by framework */
    agora_jw_obj_open(w);
    agora_jw_key(w, "frameworks");
    agora_jw_arr_open(w);
    for (i = 0; i < n; i++)
        if (i == 0 || strcmp(fw_of(v[i]), fw_of(v[i - 1])) != 0)
            write_framework(w, fw_of(v[i]));
    agora_jw_arr_close(w);
    agora_jw_key(w, "completed_frameworks");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    free(v);
    return 0;
}

int agent_v1_get_state(struct agent *a, yajl_val msg, struct agora_jw *w,
                       char *why, size_t whylen)
{
    agora_jw_obj_open(w);
    agora_jw_key(w, "get_tasks");
    agent_v1_get_tasks(a, msg, w, why, whylen);
    agora_jw_key(w, "get_executors");
    agent_v1_get_executors(a, msg, w, why, whylen);
    agora_jw_key(w, "get_frameworks");
    agent_v1_get_frameworks(a, msg, w, why, whylen);
    agora_jw_obj_close(w);
    return 0;
}
