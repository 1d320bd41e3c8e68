/*
 * container_int.h - the shim's side of the mesos containerizer
 * (container_fs.c, container_shim.c): what it reads of the launch
 * document's "container" object and builds from it.
 *
 * The launch document's "container" (written by the agent, exec.c):
 *   {"dir": "<work_dir>/containers/<task_id>",
 *    "layers": ["<store>/layers/<hex>/rootfs", ...],   lowest first
 *    "copy": false,        copy the layers, no overlayfs (tests)
 *    "sandbox": "<the task's sandbox>",
 *    "workdir": "/", "hostname": "…", "task_id": "…",
 *    "bridge": false, "ports": [[host, container, udp], ...],
 *    "volumes": [{"host", "container", "ro", "in_sandbox"}]}
 */
#ifndef AGORA_EXEC_CONTAINER_INT_H
#define AGORA_EXEC_CONTAINER_INT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <yajl/yajl_tree.h>

#include "container.h"

struct ctr_mount {
    const char *host, *container; /* borrowed from the document */
    int ro, in_sandbox;
};

struct ctr_run {
    /* from the launch document (borrowed from its tree) */
    const char *dir, *sandbox, *workdir, *hostname, *task_id;
    const char **layers;
    size_t nlayers;
    struct ctr_mount *volumes;
    size_t nvolumes;
    int copy, bridge;
    const char *net_bridge, *net_cidr, *net_work_dir; /* BRIDGE's conf */
    struct ctr_port *ports;
    size_t nports;
    /* built by the shim */
    char *rootfs;  /* <dir>/rootfs */
    int rootfd;    /* rootfs, O_PATH, once mounted */
    int copied;    /* overlayfs refused: a copy */
    char ip[64];   /* BRIDGE: the container's address */
    int attached;  /* BRIDGE: net_bridge_attach() succeeded */
    char why[512]; /* the first failure, for the sandbox's stderr */
};

/* Reads the launch document's "container" into c (borrowing from it).
 * 0, or -EINVAL / -ENOMEM with c freed. Free c with ctr_run_free(). */
int ctr_run_read(yajl_val doc, struct ctr_run *c);
void ctr_run_free(struct ctr_run *c);

/* Records the first failure in c->why; returns nothing useful. */
void ctr_fail(struct ctr_run *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * In the shim, before the clone: a mount namespace of the shim's own,
 * the rootfs and every mount in it but /proc (container_fs.c). 0, or -1
 * with c->why set.
 */
int ctr_fs_setup(struct ctr_run *c);
/* After the task: its BRIDGE address and forwards given back (nothing
 * when it had none). */
void ctr_net_teardown(struct ctr_run *c);
/* After the task: the rootfs unmounted, <dir> removed. */
void ctr_fs_teardown(struct ctr_run *c);

/* What the task's process needs, prepared by the shim before the clone
 * (the child only makes system calls on it). */
struct ctr_exec {
    char **argv, **env;
    int in, out, err;
    int switch_user;
    uid_t uid;
    gid_t gid;
    int has_nofile;
    struct rlimit nofile;
    char *const *cgroups;
    size_t ncgroups;
};

/*
 * Clones the task into new pid, mount, uts and ipc namespaces (and net
 * for BRIDGE), joins it to its cgroups and attaches its network while it
 * waits, then lets it pivot into the rootfs and exec. Returns its pid (in
 * the agent's namespace) once the command was executed or failed: on a
 * failure *stage and *err say where (exec_int.h's stages); -1 when the
 * clone failed (errno) or the cgroup or network could not be set up
 * (c->why), the child then killed and reaped.
 */
pid_t ctr_start(struct ctr_run *c, const struct ctr_exec *e, int *stage,
                int *err);

/* rel opened under root without following symlinks, made as needed
 * (see container_fs.c). */
int ctr_open_in(int root, const char *rel, int file);

#endif /* AGORA_EXEC_CONTAINER_INT_H */
