/*
 * api_v1_containers.c - GET_CONTAINERS and KILL_CONTAINER on the agent.
 *
 * A task's container is its shim and what the shim runs; its id is the
 * task's id (as its executor's is). GET_CONTAINERS lists the containers
 * of live tasks that have a shim, each with container_status (the
 * agent's address and the shim's pid as executor_pid, as the status
 * updates carry them; no cgroup_info: Mesos' CgroupInfo holds net_cls
 * and blkio data, which agora does not set) and, while the task runs,
 * resource_statistics from its cgroup (posix isolation: its leader's
 * /proc). show_nested and show_standalone are taken and change nothing:
 * agora has neither kind.
 *
 * KILL_CONTAINER kills the task as the master's kill does
 * (agent_task_kill(): TASK_KILLING, then TASK_KILLED reported to the
 * master). Its `signal`: SIGKILL, Mesos' default, kills at once (no
 * grace); SIGTERM gives the task its kill grace period first; agora
 * sends no other signal (400). An unknown or ended container is 404, as
 * in Mesos.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agent.h"
#include "api_v1.h"
#include "ctr_json.h"
#include "exec.h"
#include "state_json.h"
#include "task.h"
#include "updates.h"
#include "v1_call.h"

static void write_container(struct agora_jw *w, struct agent *a,
                            struct agent_task *t)
{
    struct exec_usage u;
    char name[300];

    state_json_executor_name(t, name, sizeof(name));
    agora_jw_obj_open(w);
    v1_write_id(w, "framework_id", t->framework_id);
    v1_write_id(w, "executor_id", t->id);
    agora_jw_kstr(w, "executor_name", name);
    v1_write_id(w, "container_id", t->id);
    updates_write_container(w, t->container_ip[0] ? t->container_ip
                                                  : a->advertise_ip,
                            t->shim_pid);
    ctr_json_write_spec(w, "container_info", t->spec_json);
    memset(&u, 0, sizeof(u));
    if (exec_usage(a->exec, t, &u) == 0) {
        agora_jw_key(w, "resource_statistics");
        state_json_statistics(w, &u);
    }
    agora_jw_obj_close(w);
}

int agent_v1_get_containers(struct agent *a, yajl_val msg, struct agora_jw *w,
                            char *why, size_t whylen)
{
    size_t pos = 0;
    void *v;

    (void)msg, (void)why, (void)whylen;
    agora_jw_obj_open(w);
    agora_jw_key(w, "containers");
    agora_jw_arr_open(w);
    while (map_next(&a->tasks, &pos, NULL, &v)) {
        struct agent_task *t = v;

        if (!agora_task_state_terminal(t->state) && t->shim_pid > 0)
            write_container(w, a, t);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    return 0;
}

int agent_v1_kill_container(struct agent *a, yajl_val msg, struct agora_jw *w,
                            char *why, size_t whylen)
{
    const char *id = agora_json_get_str(agora_json_get(msg, "container_id"),
                                        "value");
    struct agent_task *t;
    int64_t sig = SIGKILL;
    int rc;

    (void)w;
    if (id == NULL) {
        snprintf(why, whylen, "Failed to validate agent::Call: Expecting "
                              "'kill_container.container_id' to be present");
        return 400;
    }
    rc = agora_json_int(msg, "signal", &sig);
    if (rc == AGORA_EINVAL || (rc == 0 && sig != SIGKILL && sig != SIGTERM)) {
        snprintf(why, whylen, "kill_container.signal must be %d (SIGKILL, "
                              "the default) or %d (SIGTERM, then SIGKILL "
                              "after the task's kill grace period)",
                 SIGKILL, SIGTERM);
        return 400;
    }
    t = map_get(&a->tasks, id);
    if (t == NULL || agora_task_state_terminal(t->state)) {
        snprintf(why, whylen, "Container '%.200s' not found", id);
        return 404;
    }
    rc = agent_task_kill(a, t, sig == SIGKILL ? 0 : -1);
    if (rc < 0 && rc != AGORA_ESTATE) {
        snprintf(why, whylen, "Failed to kill container: %s",
                 agora_strerror(rc));
        return 500;
    }
    return 0;
}
