/*
 * exec_int.h - what the exec layer's files (exec.c, exec_spec.c, shim.c,
 * health.c) share; nothing here is for the control layer (see exec.h).
 *
 * A task's meta file, <work_dir>/meta/tasks/<task_id> (0600 in a 0700
 * directory; meta.c), created by its shim, removed by the agent before a
 * launch under the same id. What the shim needs to start the task, with
 * the task's environment, comes through the shim's fd 0 and is never on
 * disk. Lines, each written with one write() (no fsync: they matter while
 * the machine stays up), a line without its '\n' being not written yet:
 *   "cgroup <name>\n" (cgroups.h: the task's cgroups, a v1 slot or the
 *       task id), in the same write() as the pids line that follows;
 *       older shims wrote none (their cgroups were named by task id).
 *   "<shim_pid> <shim_starttime> <task_pid> <task_starttime> <wall>
 *    [<ip>]\n" (ip: a BRIDGE container's address)
 *       once the task's command was executed. Starttimes are field 22 of
 *       /proc/<pid>/stat, so a reused pid is never mistaken for the shim
 *       or the task after an agent restart. Before this line exists, a
 *       shim is known by its argv ("agora-shim --shim <meta_file>",
 *       unique to the task).
 *   "exited <code>\n", "signaled <signo>\n", or "failed <stage>
 *       <errno>[ <why>]\n" (it could not be started; why: at most
 *       EXEC_WHY_MAX printable bytes, a container's setup), when the
 *       task ended.
 */
#ifndef AGORA_EXEC_INT_H
#define AGORA_EXEC_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <ev.h>
#include <yajl/yajl_tree.h>

#include "cgroups.h"
#include "container.h"
#include "exec.h"
#include "proc.h"
#include "task.h"

#define EXEC_LOG "exec"

/* The shim's argv[0]; recovery checks /proc/<pid>/cmdline against it. */
#define EXEC_SHIM_ARGV0 "agora-shim"
/* The shim's status pipe to the agent, as the shim sees it. */
#define EXEC_STATUS_FD 3

/* Stages of a failed start, as written in the meta file. */
enum exec_stage {
    STAGE_EXEC = 1,
    STAGE_USER,
    STAGE_CGROUP,
    STAGE_CHDIR,
    STAGE_FILES,
    STAGE_FORK,
    STAGE_SETUP,
    STAGE_CONTAINER,
    STAGE_PIVOT,
    STAGE_PROC,
    STAGE_HOSTNAME
};
const char *exec_stage_name(int stage);

/* ---- the agent-wide state (exec.h's struct exec) ---- */

struct rmdir_pending;
struct task_exec;
struct exec_users;

struct exec {
    struct ev_loop *loop;
    struct exec_hooks hooks; /* the control layer's, copied */
    char *agent_id;          /* NULL: none */
    struct cgroups cg; /* kind CG_NONE: posix isolation */
    char *hostname;
    char *path;           /* PATH given to tasks */
    struct rlimit nofile; /* the agent's limit before it raised it */
    char *shim_path;      /* agora-shim beside the agent, else
                           * /proc/self/exe (the agent binary) */
    int is_root;
    int switch_user;    /* tasks run as their users (root only)   */
    /* BRIDGE containers' network, passed to their shims (net.h) */
    char *net_bridge, *net_cidr, *work_dir;
    char *docker_cli; /* the docker CLI when its engine answered, or NULL */
    char *default_user; /* of tasks naming none; NULL: the agent's */
    int default_loop;        /* ev_child works (libev's default loop) */
    struct task_exec *tasks; /* every task with exec state, linked */
    struct rmdir_pending *rmdirs;
    ev_timer rmdir_timer;
    ev_timer pool_timer;  /* v1's kept cgroups trimmed or made (exec.c) */
    size_t cgroups_ahead; /* kept cgroups made ahead: CG_POOL_KEEP or 0 */
    double last_launch;  /* ev_now() of the last exec_launch() */
    FILE *trace; /* AGORA_EXEC_TRACE: a line of times a task (exec.c) */
    /* the mesos containerizer (container.h) */
    char *images_dir;     /* <work_dir>/images, or NULL: no work_dir */
    char *containers_dir; /* <work_dir>/containers (0700) */
    char *allowed_volume_paths; /* --allowed_volume_paths, or NULL */
    int ctr_copy; /* AGORA_CONTAINER_COPY=1: no overlayfs (tests) */
    struct exec_users *users;  /* the users tasks ran as (exec_user.c) */
    struct launcher *launcher; /* forks shims (launcher.h), or NULL */
    double launcher_retry;     /* ev_time() after which to start one again */
};

/* ---- the users tasks run as (exec_user.c) ---- */

#define EXEC_GROUPS_MAX 65536 /* a user's groups: the kernel's NGROUPS_MAX */

struct exec_user {
    uid_t uid;
    gid_t gid;
    gid_t *groups; /* supplementary groups, as initgroups() sets them */
    int ngroups;
};

/* name's ids and groups, looked up at most every few seconds: 0 with *u
 * (valid until the next call), -ENOENT for no such user, or -errno. */
int exec_user_get(struct exec *x, const char *name, const struct exec_user **u);
void exec_users_free(struct exec *x);

/* ---- a task's spec, as the exec layer reads it (exec_spec.c) ---- */

#define EXEC_DEFAULT_GRACE 3.0 /* seconds, as Mesos' command executor */

struct health_conf {
    int type;            /* AGORA_CHECK_COMMAND, _HTTP, _TCP */
    const char *command; /* borrowed from the spec */
    const char *path;
    uint32_t port; /* resolved (port or ports[port_index]) */
    double delay, grace, interval, timeout;
    uint32_t max_failures; /* 0: never kill */
};

struct exec_spec {
    const char *command; /* shell string, or NULL when argv is used */
    yajl_val argv;       /* array of strings, or NULL */
    yajl_val env;        /* object of strings, or NULL */
    const char *user;    /* NULL: run as the agent's user */
    uid_t uid;
    gid_t gid;
    gid_t *groups; /* switch_user: the user's groups, owned (none in a
                    * container: its gid only) */
    int ngroups;
    int switch_user; /* the agent is root and a user was given */
    double grace;    /* kill_grace_period, 3 s by default */
    double cpus;
    uint64_t mem_bytes; /* 0: no limit */
    uint32_t *ports;    /* the task's ports, ranges expanded */
    size_t nports;
    int has_health;
    struct health_conf hc;
    struct agora_resources own; /* parsed here when t->resources is empty */
    yajl_val tree;              /* t->spec_json parsed; s's strings are in it */
    /* A container task (has_ctr): its `container`; with an image, what
     * exec_spec_image() resolved of it. */
    int has_ctr;
    struct ctr_spec ctr;
    struct ctr_image img;
    const char **ctr_argv;   /* borrowed strings, the array owned */
    const char *ctr_workdir; /* borrowed */
    /* A type DOCKER container run by the docker CLI (x->docker_cli):
     * `docker run` is the task's process (docker.h). */
    int docker;
};

/* A docker task's `docker run` as its spec gives it (docker.h), name
 * filled with its container's name; the caller adds what it has (env,
 * limits) or asks for a dry run. 0, or -1 when the id makes no name. */
#define EXEC_DOCKER_NAME 256

/* The docker CLI's environment: the agent's PATH, root's HOME, and the
 * DOCKER_* variables the agent has (where the engine is). NULL-terminated,
 * free with exec_strv_free(); NULL when out of memory. */
char **exec_docker_cli_env(const struct exec *x);
struct docker_task;
int exec_docker_task(const struct exec *x, const struct agent_task *t,
                     yajl_val spec, char name[EXEC_DOCKER_NAME],
                     struct docker_task *d);

/*
 * Parses t->spec_json into s (which owns the tree its strings borrow
 * from). Returns 0, or
 * AGORA_EINVAL with what is wrong in err (the task is then TASK_ERROR),
 * or AGORA_ENOMEM. Free s with exec_spec_free() either way.
 */
int exec_spec_parse(struct exec *x, const struct agent_task *t,
                    struct exec_spec *s, char *err, size_t errlen);
void exec_spec_free(struct exec_spec *s);

/*
 * For a container task with an image, at its launch: the image from the
 * store, what runs (argv, WorkingDir) and as whom (the task's or the
 * image's User, resolved in the image). 0; AGORA_ENOENT (not in the
 * store) or AGORA_EIO (the store's files are damaged): the task is
 * TASK_FAILED; AGORA_EINVAL: TASK_ERROR; AGORA_ENOMEM. err says why.
 */
int exec_spec_image(struct exec *x, struct exec_spec *s, char *err,
                    size_t errlen);

/*
 * The task's environment as a NULL-terminated array of "K=V" strings
 * (see exec.c for what it holds). Free with exec_strv_free(). NULL when
 * out of memory.
 */
char **exec_task_env(struct exec *x, const struct agent_task *t,
                     const struct exec_spec *s);
void exec_strv_free(char **v);

/* Called by health.c when the task failed max_failures checks in a row. */
void exec_health_kill(struct exec *x, struct agent_task *t);

/* Reports a change of t through the task_update hook (exec.h). */
void exec_report(struct exec *x, struct agent_task *t,
                 enum agora_task_state state, const char *reason,
                 const char *message, int healthy);

/* The loop's wall clock, through the now hook (exec.h). */
double exec_now(struct exec *x);

/* ---- health checks (health.c) ---- */

struct health;

/*
 * Reads a spec's "health_check" into c. ports are the task's ports (for
 * port_index). 0, or AGORA_EINVAL with a reason in err.
 */
int health_conf_parse(yajl_val hc, const uint32_t *ports, size_t nports,
                      struct health_conf *c, char *err, size_t errlen);

/*
 * A copy of c that owns its strings, in one block (free() it): the task
 * keeps it while the spec c borrowed from is gone. NULL when out of
 * memory.
 */
struct health_conf *health_conf_dup(const struct health_conf *c);

/*
 * Starts checking t (which is RUNNING) by c. The first check runs `delay`
 * seconds after t->start_time; failures within `grace` of it are ignored
 * until the first success. Every change of t->healthy is reported with
 * exec_report(TASK_RUNNING, REASON_TASK_HEALTH_CHECK_STATUS_UPDATED).
 * Returns NULL when out of memory (logged).
 */
struct health *health_start(struct exec *x, struct agent_task *t,
                            const struct health_conf *c);
/* Stops checking (kills a running COMMAND check) and frees h. */
void health_stop(struct health *h);

/*
 * Makes text (NUL-terminated, borrowed) t->health_output: cut to
 * AGORA_HEALTH_OUTPUT_MAX bytes at a character boundary, a byte that is
 * not part of UTF-8 text or a control character other than newline and
 * tab made '?'. The same text as before (a check that keeps passing)
 * costs no allocation; out of memory, t keeps no result (logged).
 */
void health_result_set(struct agent_task *t, const char *text);

/* The name of t's cgroups (cgroups.h), NULL when it has none: valid
 * while t's exec state lives (exec.c). */
const char *exec_task_cgroup(const struct agent_task *t);

/* ---- the meta file (meta.c) ---- */

/* The longest reason a "failed" line carries (a container's setup). */
#define EXEC_WHY_MAX 200

/* The longest cgroup name a meta file gives (a task id, at most). */
#define EXEC_CGROUP_NAME_MAX 255

enum exec_end { EXEC_END_NONE, EXEC_END_EXITED, EXEC_END_SIGNALED,
                EXEC_END_FAILED };

struct exec_meta {
    int has_pids;            /* the first line was read */
    pid_t shim, task;
    uint64_t shim_start, task_start;
    double wall;
    enum exec_end end;       /* EXEC_END_NONE: not ended (or unknown) */
    int a, b;                /* code or signal; failed: stage, errno */
    char ip[46];             /* a BRIDGE container's address, or "" */
    char why[EXEC_WHY_MAX + 1]; /* failed: what the shim said, or "" */
    char cgroup[EXEC_CGROUP_NAME_MAX + 1]; /* the cgroups' name, or "" */
};

/* Reads path (also the directory an older agent kept there). 0, or
 * -errno (m then says nothing). */
int exec_meta_read(const char *path, struct exec_meta *m);

/* Removes what an earlier run under the same id left at path (file or
 * older directory). 0 or -errno. */
int exec_meta_reset(const char *path);

/* ---- the shim (shim.c) ---- */

/* The wall-clock second, for the meta file's pids line. */
double exec_wall_now(void);

#endif /* AGORA_EXEC_INT_H */
