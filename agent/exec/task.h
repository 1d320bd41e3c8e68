/*
 * task.h - one task on the agent, and the contract between the agent's
 * control layer and its exec layer (see agent.h).
 *
 * The control layer creates a task when the master sends `launch` (or
 * when recovery reads a checkpoint), owns the struct, and frees it after
 * the task is terminal and every update of it is acknowledged. The exec
 * layer runs it and reports each change with agent_task_update().
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

struct agent;
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
    char *meta_dir;               /* <work_dir>/meta/tasks/<task_id>      */

    struct task_exec *exec;       /* owned by the exec layer             */
    struct task_updates *updates; /* owned by the control layer          */
};

/* ---- implemented by the control layer ---- */

/*
 * Records a new state (or health) of t, writes the status update to t's
 * checkpoint, and sends it to the master reliably. reason and message may
 * be NULL; healthy is -1 when unknown. Never blocks on the network.
 */
void agent_task_update(struct agent *a, struct agent_task *t,
                       enum agora_task_state state, const char *reason,
                       const char *message, int healthy);

/* Writes t's task.json (spec, framework, pids, start time, state) again,
 * after the exec layer changed pids or start time. 0 or an agora_err. */
int agent_task_checkpoint(struct agent *a, struct agent_task *t);

/* ---- implemented by the exec layer ---- */

/*
 * Detects the isolation (--isolation: cgroups v2 where its memory, cpu
 * and pids controllers are available, else the v1 hierarchies, else
 * posix) and prepares it. Returns 0 or an agora_err with a log line.
 */
int exec_init(struct agent *a);
void exec_fini(struct agent *a);

/* "cgroups-v2", "cgroups-v1" or "posix". */
const char *exec_isolation_name(const struct agent *a);

/*
 * Starts t: validates its spec (TASK_ERROR with a reason when invalid,
 * TASK_ERROR for a container, not supported yet), makes its sandbox and
 * cgroup, spawns its shim. Reports STARTING, then RUNNING once the
 * command has been executed, then the terminal state. Returns 0 when the
 * task is on its way (even if it will fail), an agora_err only when the
 * agent itself cannot proceed.
 */
int exec_launch(struct agent *a, struct agent_task *t);

/*
 * Kills t: TASK_KILLING, SIGTERM to its process group, SIGKILL to
 * everything of the task after grace seconds (< 0: the spec's
 * kill_grace_period, default 3 s), then TASK_KILLED.
 */
int exec_kill(struct agent *a, struct agent_task *t, double grace);

/*
 * After an agent restart, for a task read from its checkpoint (with
 * shim_pid, pid and state set): re-adopts it if its shim still runs
 * (`cleanup` false), or kills it (`cleanup` true). A task that ended
 * meanwhile is reported with its real exit status when the shim wrote
 * one, else TASK_FAILED with a message saying it is unknown.
 */
int exec_recover(struct agent *a, struct agent_task *t, int cleanup);

/* Frees what the exec layer holds for t (after the task is terminal). */
void exec_forget(struct agent *a, struct agent_task *t);

/* Usage of a running task for /monitor/statistics (Mesos shape). */
struct exec_usage {
    double cpus_user_time_secs;
    double cpus_system_time_secs;
    double cpus_limit;
    uint64_t mem_rss_bytes;
    uint64_t mem_limit_bytes;
    uint64_t processes;
    double timestamp;
};
int exec_usage(struct agent *a, struct agent_task *t, struct exec_usage *u);

/* The shim's entry point: `agora-agent --shim <meta_dir>` (main.c calls
 * it before parsing flags). Never returns to the agent's code. */
int shim_main(int argc, char **argv);

#endif /* AGORA_AGENT_TASK_H */
