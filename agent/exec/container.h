/*
 * container.h - the mesos containerizer: a task run inside its image,
 * without a daemon (docs/containers.md: §1 the launch's `container`, §2
 * the image store, §3 the network hook, "How it runs" the whole path).
 *
 * The parts, one concept a file:
 *   container_spec.c   the launch's `container` read and validated (pure)
 *   container_cmd.c    what runs: argv, env, WorkingDir, User, as Docker
 *                      and Mesos decide it from the task and the image
 *                      (pure)
 *   container_image.c  an image looked up in <work_dir>/images and its
 *                      user resolved in its /etc/passwd (agent side)
 *   container_fs.c     the rootfs the shim builds and removes: overlayfs
 *                      or a copy of the layers, the mounts, the tree
 *                      removed (shim side, also the agent's cleanup)
 *   container_shim.c   the task cloned into its namespaces, a BRIDGE
 *                      one attached by net_bridge.c (shim side)
 *
 * The agent resolves everything (image, layers, command, user, volumes)
 * before it spawns the shim; the shim only mounts and clones, from the
 * launch document's "container" object.
 */
#ifndef AGORA_EXEC_CONTAINER_H
#define AGORA_EXEC_CONTAINER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <yajl/yajl_tree.h>

/* Where the task's sandbox is inside its container, as Mesos. */
#define CTR_SANDBOX "/mnt/mesos/sandbox"
/* Docker's PATH when neither the image nor the task sets one. */
#define CTR_DEFAULT_PATH                                                       \
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- the launch's `container` (container_spec.c) ---- */

enum ctr_type { CTR_DOCKER = 1, CTR_MESOS };
enum ctr_net { CTR_NET_HOST = 0, CTR_NET_BRIDGE };

struct ctr_volume {
    const char *container_path; /* absolute, borrowed from the tree */
    char *host_path;            /* absolute and resolved, owned      */
    int ro;
    int in_sandbox; /* relative hostPath: made in the sandbox if missing */
};

struct ctr_port {
    uint16_t host_port, container_port;
    int udp;
};

struct ctr_spec {
    enum ctr_type type;
    const char *image; /* NULL: no image (the host's filesystem) */
    enum ctr_net net;
    int force_pull;
    struct ctr_volume *volumes;
    size_t nvolumes;
    struct ctr_port *ports;
    size_t nports;
};

/*
 * Reads the launch's `container` c (Marathon's or Chronos' shape) into s.
 * allowed is --allowed_volume_paths (a colon-separated list of absolute
 * directories; NULL or "": none), sandbox the task's sandbox (a relative
 * hostPath is a path in it, as in Mesos). Every host path is resolved
 * (realpath: symlinks cannot lead out of an allowed directory) and must
 * exist. Returns 0, AGORA_EINVAL with a message naming the field in err
 * (the task is TASK_ERROR), or AGORA_ENOMEM. s borrows strings from c;
 * free it with ctr_spec_free() either way.
 */
int ctr_spec_parse(yajl_val c, const char *allowed, const char *sandbox,
                   struct ctr_spec *s, char *err, size_t errlen);
void ctr_spec_free(struct ctr_spec *s);

/*
 * A reference's name under refs/ (§2): every byte outside [A-Za-z0-9._-]
 * written %XX, uppercase. Returns the length it needs without the NUL,
 * as snprintf; the result is complete only when that is < outlen.
 */
size_t ctr_ref_name(const char *ref, char *out, size_t outlen);

/* ---- what runs (container_cmd.c) ---- */

/*
 * The task's process as Docker and Mesos decide it, from the task's
 * command (a shell string, or NULL), args (an array of strings, or NULL:
 * appended to the image's Entrypoint, replacing its Cmd), and the image's
 * config (its "config" object, or NULL for an image without one):
 *   command         /bin/sh -c command (the Entrypoint ignored, as Mesos
 *                   with a shell command)
 *   args            Entrypoint + args
 *   neither         Entrypoint + Cmd
 * *argv is a NULL-terminated array of borrowed strings (free the array
 * only). Returns 0, AGORA_EINVAL with a reason in err (nothing to run, an
 * image config of the wrong shape), or AGORA_ENOMEM.
 */
int ctr_cmd_argv(const char *command, yajl_val args, yajl_val config,
                 const char ***argv, char *err, size_t errlen);

/* The image's WorkingDir, "/" when it gives none (borrowed). */
const char *ctr_cmd_workdir(yajl_val config);

/* The image's User, NULL when it gives none (borrowed). */
const char *ctr_cmd_user(yajl_val config);

/*
 * The image's Env, as setenv(key, value) calls on the task's environment
 * before the task's own (which wins). Returns 0 or AGORA_EINVAL (an entry
 * without '=', or not a string) with a reason in err.
 */
int ctr_cmd_env(yajl_val config,
                void (*set)(void *arg, const char *key, const char *value),
                void *arg, char *err, size_t errlen);

/*
 * Resolves user ("name", "uid", "name:group" or "uid:gid") against the
 * text of the container's /etc/passwd and /etc/group (either NULL: not in
 * the image). 0 with *uid, *gid; AGORA_EINVAL with a reason in err.
 */
int ctr_cmd_user_resolve(const char *user, const char *passwd,
                         const char *group, uid_t *uid, gid_t *gid, char *err,
                         size_t errlen);

/* ---- the image store (container_image.c) ---- */

struct ctr_image {
    char *id;           /* the image's hex digest */
    char **layers;      /* <store>/layers/<hex>/rootfs, lowest first */
    size_t nlayers;
    yajl_val tree;      /* images/<hex>.json */
    yajl_val config;    /* its config_json, or NULL */
};

/*
 * Finds ref in the store at dir (<work_dir>/images): refs/<name> ->
 * images/<hex>.json -> layers/<hex>/rootfs, every file opened without
 * following symlinks. 0; AGORA_ENOENT when the image is not in the store;
 * AGORA_EINVAL when what is there is damaged (a reason in err); or
 * AGORA_ENOMEM. Free img with ctr_image_free() either way.
 */
int ctr_image_load(const char *dir, const char *ref, struct ctr_image *img,
                   char *err, size_t errlen);
void ctr_image_free(struct ctr_image *img);

/*
 * The text of etc/<name> as the container will see it: from the topmost
 * layer that has it (a whiteout hides it), resolved inside each layer
 * (RESOLVE_IN_ROOT). Malloc'ed (the caller frees it), or NULL.
 */
char *ctr_image_etc_file(const struct ctr_image *img, const char *name);

/* ---- the rootfs (container_fs.c) ---- */

/*
 * Removes the tree at path (a container's per-task directory), without
 * following symlinks or crossing mount points. 0, or -errno of the first
 * failure (the rest is still removed). ENOENT is success.
 */
int ctr_tree_remove(const char *path);

#endif /* AGORA_EXEC_CONTAINER_H */
