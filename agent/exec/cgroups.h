/*
 * cgroups.h - the agent's cgroups: detection, one cgroup a task, limits,
 * usage, OOM, kill and removal (exec layer, see exec.h).
 *
 * Layout: <hierarchy>/<cgroups_root>/<name>, where a hierarchy is the
 * cgroup2 mount (v2, when its cgroup.controllers offers memory, cpu and
 * pids) or each v1 controller's mount (memory required; cpu, cpuacct and
 * pids used when mounted). Mount points come from /proc/self/mountinfo.
 *
 * Every function here does short, local file operations only (cgroupfs),
 * which is acceptable on the agent's loop. The kill sweep the shim uses,
 * which has no struct cgroups, takes plain directories (proc.h).
 */
#ifndef AGORA_AGENT_CGROUPS_H
#define AGORA_AGENT_CGROUPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum cg_kind { CG_NONE = 0, CG_V1, CG_V2 };

/* v1 controllers agora knows; in v2 only dir[CG_MEMORY] is set (the one
 * unified directory). CG_PIDS is only found, never joined in v1
 * (cgroups.c: pids_v1_sweep). */
enum cg_ctl { CG_MEMORY = 0, CG_CPU, CG_CPUACCT, CG_PIDS, CG_NCTL };

#define CG_MAX_DIRS CG_NCTL

/*
 * v1: empty cgroups of ended tasks kept for the next tasks (cgroups.c):
 * up to CG_POOL_MAX, so that a burst's ended tasks do not remove the
 * cgroups the next burst would make again, trimmed to CG_POOL_KEEP while
 * the agent is quieter (cg_pool_trim(); an empty cgroup holds about
 * 10 KB of kernel memory a hierarchy set). An agent with fewer makes
 * them up to CG_POOL_KEEP while it is idle (cg_pool_fill()), so that a
 * first burst finds what a later one would.
 */
#define CG_POOL_MAX 1024
#define CG_POOL_KEEP 128

/* Bytes of a v1 slot name, `.t.<agent pid>.<serial>`, with its NUL. */
#define CG_SLOT_NAME_MAX 32

/* One kept cgroup, the slot <root>/.t.<agent pid>.<serial> in each
 * hierarchy, and the limits written in it (what a fresh cgroup has: 0,
 * 1024, -1). */
struct cg_pooled {
    unsigned serial;
    int oom_fd;      /* its OOM eventfd, registered (cg_oom_eventfd), or -1 */
    uint64_t mem;    /* memory.limit_in_bytes, 0: none */
    uint64_t shares; /* cpu.shares */
    long quota;      /* cpu.cfs_quota_us, -1: none */
    int fresh;       /* made ahead (cg_pool_fill), no task's yet: no
                      * counter to reset */
};

struct cgroups {
    enum cg_kind kind;
    char *dir[CG_NCTL]; /* <mount>/<root>, NULL where not mounted */
    long cfs_period_us; /* v1 cpu.cfs_period_us of the root, or 100000 */
    /* cpus also become a CFS quota (--cgroups_enable_cfs); set after
     * cg_detect(). Off, as in Mesos: a hard cap of 0.1 cpu throttles a
     * task's own exec and start-up for up to a period (100 ms). */
    int enable_cfs;
    struct cg_pooled pool[CG_POOL_MAX];
    size_t npool;
    unsigned pool_serial;
    pid_t pool_pid; /* the agent's, in the kept cgroups' names */
};

/*
 * Detects the cgroups to use. `mode` is "cgroups" (required), "" or NULL
 * (best available). On success cg->kind is CG_V2 or CG_V1 with the root
 * directories created; with mode "" and nothing usable, cg->kind is
 * CG_NONE and 0 is returned. Returns an agora_err with a reason in err
 * when mode is "cgroups" and no hierarchy is usable.
 */
int cg_detect(struct cgroups *cg, const char *mode, const char *root, char *err,
              size_t errlen);
void cg_free(struct cgroups *cg);

/* "cgroups-v2", "cgroups-v1" or "posix". */
const char *cg_name(const struct cgroups *cg);

/*
 * A task's cgroup is known by its name (cg_create() gives it): the
 * functions below take it. The directories of name (one a hierarchy in
 * use), malloc'ed into out[0..n), n returned; the caller frees each. 0
 * under posix.
 */
size_t cg_task_dirs(const struct cgroups *cg, const char *name,
                    char *out[CG_MAX_DIRS]);
void cg_dirs_free(char *dirs[], size_t n);

/*
 * Creates a task's cgroups and sets the limits: memory (bytes, 0 =
 * none), cpus (shares/weight and CFS quota, 0 = none). *name gets their
 * name (malloc'ed, the caller's; NULL under posix): in v1 a slot,
 * `.t.<agent pid>.<serial>`, an ended task's kept by cg_release() when
 * there is one (its counters reset, only the limits that differ
 * written; *oom_fd its OOM eventfd still registered, the caller's, or
 * -1), else a new one; in v2 the task id (an existing, empty cgroup
 * reused). *oom_fd is -1 but for a kept one. Returns 0 or -errno with a
 * reason in err.
 */
int cg_create(struct cgroups *cg, const char *task_id, double cpus,
              uint64_t mem_bytes, char **name, int *oom_fd, char *err,
              size_t errlen);

/*
 * The task ended: v1 keeps its cgroups, one of this agent's slots, for a
 * later task when they are empty and the pool has room; cpus and
 * mem_bytes are what cg_create() was given for it. The caller keeps none
 * that saw an OOM (cg_oom_info()): the counter cannot be reset, and the
 * next task's end would look like one. oom_fd (the task's OOM eventfd,
 * or -1) is taken: kept with the cgroup (the next task's, registered
 * already), else closed.
 * Returns 0 when kept, else -errno and the caller removes them
 * (cg_remove).
 */
int cg_release(struct cgroups *cg, const char *name, double cpus,
               uint64_t mem_bytes, int oom_fd);

/*
 * SIGKILLs every process in the task's cgroups: one pass (v2 cgroup.kill
 * where the kernel has it). Returns how many processes were found (0:
 * the cgroups are empty) or -errno.
 */
int cg_kill(const struct cgroups *cg, const char *name);

/* v1: removes up to max kept cgroups beyond CG_POOL_KEEP, the longest
 * kept first; returns how many are still beyond it. */
size_t cg_pool_trim(struct cgroups *cg, size_t max);

/*
 * v1: makes up to max new empty cgroups (fresh limits, OOM eventfd
 * registered) while fewer than want are kept, so that the launches of a
 * burst take them instead of making their own; returns how many are
 * still missing (0 also when the pool cannot grow: v2, posix, an error,
 * logged).
 */
size_t cg_pool_fill(struct cgroups *cg, size_t want, size_t max);

/* Removes the task's cgroups. 0, or -EBUSY while processes remain. */
int cg_remove(const struct cgroups *cg, const char *name);

/* What the memory controller says about an OOM of the task. */
struct cg_oom {
    int oom_killed;    /* the OOM killer killed something in it */
    uint64_t limit;    /* bytes, 0 when none (read on an OOM only) */
    uint64_t max_used; /* the peak usage (bytes), 0 when unknown (same) */
};
int cg_oom_info(const struct cgroups *cg, const char *name, struct cg_oom *o);

/*
 * v1: an eventfd (non-blocking, close-on-exec) that becomes readable when
 * the task's memory cgroup hits an OOM; -1 where not available (v2 sets
 * memory.oom.group instead, so the kernel kills the whole task).
 */
int cg_oom_eventfd(const struct cgroups *cg, const char *name);

struct exec_usage;
/* Fills the cpu, memory and process figures of u from the cgroups. The
 * kernel flushes memory statistics lazily: rss may lag a second or two
 * behind for a task that allocates little. */
int cg_usage(const struct cgroups *cg, const char *name, struct exec_usage *u);

#endif /* AGORA_AGENT_CGROUPS_H */
