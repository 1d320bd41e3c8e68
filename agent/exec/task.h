/*
 * task.h - one task on the agent, the struct both layers share (the exec
 * layer's calls are in exec.h).
 *
 * The control layer creates a task when the master sends `launch` (or
 * when recovery reads a checkpoint), owns the struct, and frees it after
 * the task is terminal and every update of it is acknowledged. The exec
 * layer runs it and reports each change through its task_update hook
 * (exec.h).
 *
 * Task spec JSON (the `task` member of a launch event):
 *   {"task_id", "name", "command" | "argv": [...], "env": {..},
 *    "user", "resources": "cpus:0.1;mem:64;ports:[31000-31000]",
 *    "labels": {..}, "kill_grace_period": 3,
 *    "health_check": {"type": "COMMAND"|"HTTP"|"TCP", "command", "path",
 *        "scheme", "port", "port_index", "delay", "grace_period",
 *        "interval", "timeout", "max_consecutive_failures"},
 *    "container": null}
 */
#ifndef AGORA_AGENT_TASK_H
#define AGORA_AGENT_TASK_H

#include <stdint.h>
#include <sys/types.h>

#include <agora/plugin.h>

struct task_exec;
struct task_updates;

struct agent_task {
    char *id;
    char *framework_id;
    /* The spec as received (checkpointed). Only its text is kept: a
     * parsed tree costs about 1 KB a task, and the spec is read again
     * only to launch or recover the task (exec_spec_parse), by a COMMAND
     * health check and for /state's labels. */
    char *spec_json;
    char *name;            /* the spec's "name" (/state), or NULL        */
    struct agora_resources resources; /* parsed spec "resources"          */

    enum agora_task_state state;  /* the latest state reported           */
    int healthy;                  /* -1 unknown, 0, 1                     */
    pid_t shim_pid;               /* the supervising shim, 0 before      */
    pid_t pid;                    /* the task's process, 0 before        */
    double start_time;            /* when RUNNING was reached             */
    char *sandbox;                /* <work_dir>/sandboxes/<task_id>       */
    char *meta_file;               /* <work_dir>/meta/tasks/<task_id>      */
    /* The result of its last health check (health.c writes it, the
     * control layer frees it with the task): valid UTF-8 text of at most
     * AGORA_HEALTH_OUTPUT_MAX bytes, NULL before the first check. Each
     * status update carries the one of its time. */
    char *health_output;
    /* A BRIDGE container's address (its shim's net_bridge_attach()), ""
     * otherwise: statuses then carry the agent's. */
    char container_ip[46];

    struct task_exec *exec;       /* owned by the exec layer             */
    struct task_updates *updates; /* owned by the control layer          */
};

#endif /* AGORA_AGENT_TASK_H */
