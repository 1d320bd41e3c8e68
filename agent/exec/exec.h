/*
 * exec.h - the agent's exec layer as its control layer sees it: runs
 * tasks (task.h) under per-task shims, isolates them, kills them, checks
 * their health, re-adopts them after a restart.
 *
 * Calls go one way, control -> exec. The exec layer reports back only
 * through the hooks the control layer gives exec_init(), never through
 * symbols of the control layer, so agora_exec links (and is tested)
 * without it. Hooks run on the loop's thread, from the exec layer's
 * watchers or from inside an exec_* call.
 */
#ifndef AGORA_EXEC_H
#define AGORA_EXEC_H

#include <stdint.h>

#include <ev.h>
#include <yajl/yajl_tree.h>

#include <agora/plugin.h>

#include "task.h"

/* The exec layer's state (exec_int.h); one an agent. */
struct exec;

struct exec_hooks {
    /*
     * Records a new state (or health) of t, checkpoints it and reports it
     * to the master reliably. reason and message may be NULL and are
     * borrowed for the call; healthy is -1 when unknown. Must not block.
     */
    void (*task_update)(void *arg, struct agent_task *t,
                        enum agora_task_state state, const char *reason,
                        const char *message, int healthy);
    /* Checkpoints t again after the exec layer changed its pids or start
     * time. 0 or an agora_err (the exec layer logs it and goes on). */
    int (*task_checkpoint)(void *arg, struct agent_task *t);
    /* The loop's wall clock, seconds since the epoch. */
    double (*now)(void *arg);
    void *arg; /* given back to every hook */
};

/* What exec_init() needs of the agent's flags; borrowed for the call. */
struct exec_conf {
    const char *isolation;    /* "cgroups", "posix", or NULL/"": the best */
    const char *cgroups_root; /* NULL/"": "agora"                          */
    int cgroups_enable_cfs;   /* cpus also a CFS quota (hard CPU limit)    */
    /* v1: up to CG_POOL_KEEP empty cgroups made ahead while launches
     * pause, for the next launches to take (cgroups.h: cg_pool_fill) */
    int cgroups_ahead;
    const char *hostname;     /* tasks' HOST; NULL/"": gethostname()       */
    const char *agent_id;     /* tasks' MESOS_AGENT_ID, or NULL: unset     */
    int switch_user;          /* 0: every task runs as the agent's user    */
    const char *default_user; /* of tasks naming none; NULL/"": "nobody"
                               * when the agent is root                    */
    const char *work_dir;     /* images/ and containers/ under it, or NULL:
                               * no container tasks                       */
    /* Host directories container volumes may bind (colon-separated
     * absolute paths); NULL/"": none (sandbox-relative volumes only). */
    const char *allowed_volume_paths;
    /* BRIDGE containers' bridge and subnet (net.h; NULL: its defaults). */
    const char *network_bridge, *network_cidr;
};

/*
 * Detects the isolation (conf->isolation: cgroups v2 where its memory,
 * cpu and pids controllers are available, else the v1 hierarchies, else
 * posix) and prepares it. The layer runs on loop and keeps a copy of
 * hooks. Returns 0 with *out (free with exec_fini()), or an agora_err
 * with a log line.
 */
int exec_init(struct exec **out, struct ev_loop *loop,
              const struct exec_conf *conf, const struct exec_hooks *hooks);

/* Frees x (NULL: nothing) and what it holds of every task; the tasks go
 * on under their shims. Calls no hook. */
void exec_fini(struct exec *x);

/*
 * The user a task of this spec runs as: the one it names when users are
 * switched, else --default_user (nobody for a root agent); NULL: the
 * agent's own user (no switch). Borrowed from spec or x.
 */
const char *exec_task_user(const struct exec *x, yajl_val spec);

/*
 * The docker CLI whose `docker version` reached an engine (the agent's
 * probe): from now on a container of type DOCKER runs through it
 * (docker.h); NULL: every image under the mesos containerizer.
 */
void exec_set_docker(struct exec *x, const char *cli);
/* 1 when a task of this `container` runs through the docker CLI (set,
 * and type DOCKER): then the engine, not agora-fetcher, pulls its image. */
int exec_runs_docker(const struct exec *x, yajl_val container);

/* "cgroups-v2", "cgroups-v1" or "posix" (also for x NULL). */
const char *exec_isolation_name(const struct exec *x);

/*
 * Starts t: validates its spec (TASK_ERROR with a reason when invalid),
 * resolves its container's image from the store (TASK_FAILED naming the
 * image when it is not there), makes its sandbox and cgroup, spawns its
 * shim. Reports STARTING, then RUNNING once the
 * command has been executed, then the terminal state. Returns 0 when the
 * task is on its way (even if it will fail), an agora_err only when the
 * agent itself cannot proceed. t stays borrowed until exec_forget().
 */
int exec_launch(struct exec *x, struct agent_task *t);

/*
 * Kills t: TASK_KILLING, SIGTERM to its process group, SIGKILL to
 * everything of the task after grace seconds (< 0: the spec's
 * kill_grace_period, default 3 s), then TASK_KILLED.
 */
int exec_kill(struct exec *x, struct agent_task *t, double grace);

/*
 * After an agent restart, for a task read from its checkpoint (with
 * shim_pid, pid and state set): re-adopts it if its shim still runs
 * (`cleanup` false), or kills it (`cleanup` true). A task that ended
 * meanwhile is reported with its real exit status when the shim wrote
 * one, else TASK_FAILED with a message saying it is unknown. t stays
 * borrowed until exec_forget().
 */
int exec_recover(struct exec *x, struct agent_task *t, int cleanup);

/*
 * After every task went through exec_recover(): removes the container
 * directories (<work_dir>/containers/<id>) of tasks that are not running,
 * such as those a machine crash left (their shims, which remove them,
 * died with it). Before any launch.
 */
void exec_sweep_containers(struct exec *x);

/* Frees what the exec layer holds for t (after the task is terminal);
 * t->exec is NULL after. */
void exec_forget(struct exec *x, struct agent_task *t);

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
/* Fills u for t. 0, AGORA_ESTATE when t is not running, or an
 * agora_err. */
int exec_usage(struct exec *x, struct agent_task *t, struct exec_usage *u);

/* The shim's entry point: `agora-agent --shim <meta_file>` (main.c calls
 * it before parsing flags). Never returns to the agent's code. */
int shim_main(int argc, char **argv);

#endif /* AGORA_EXEC_H */
