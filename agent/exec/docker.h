/*
 * docker.h - the docker containerizer's command lines (docker_cmd.c) and
 * the agent's probe of the docker CLI (docker_probe.c).
 *
 * As Mesos' docker containerizer (src/docker/docker.cpp), agora drives
 * the `docker` CLI: the shim runs `docker run` in the foreground as the
 * task's process (its stdout and stderr are the sandbox's files), stops
 * it with `docker stop -t <grace>`, removes it with `docker rm -f -v`,
 * and reads its pid and address with `docker inspect --format`. Nothing
 * here runs a program: the functions build argv vectors, check the
 * container JSON (docs/containers.md §1) and write the environment file,
 * so they are tested without an engine.
 *
 * The environment goes through `--env-file <file>` (mode 0600, owned by
 * the agent's user; the agent puts it beside the task's meta file, out of
 * the sandbox), never `-e K=V`: a task's secrets are not in any process's
 * argv, which every user can read in /proc.
 */
#ifndef AGORA_EXEC_DOCKER_H
#define AGORA_EXEC_DOCKER_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <yajl/yajl_tree.h>

/* Where the sandbox is mounted in the container, as Mesos. */
#define DOCKER_SANDBOX_DIR "/mnt/mesos/sandbox"
/* The environment file, in the sandbox. */
#define DOCKER_ENV_FILE ".docker_env"
/* The agent's: beside the task's meta file, whose name it extends with a
 * character no task id has, so no task's file can be another's. */
#define DOCKER_ENV_SUFFIX "#docker_env"
/* Mesos' floors: MIN_CPU_SHARES and MIN_MEMORY (32 MB). */
#define DOCKER_MIN_CPU_SHARES 2
#define DOCKER_MIN_MEMORY (32ull << 20)

/* One task, as the shim knows it. Everything is borrowed for the call. */
struct docker_task {
    const char *docker;    /* the CLI (--docker), "docker" when NULL      */
    yajl_val container;    /* the launch's container (type DOCKER)        */
    const char *name;      /* docker_name() of the task                   */
    char *const *env;      /* "K=V" strings, NULL-terminated, or NULL     */
    const char *command;   /* a shell command (sh -c), or NULL            */
    yajl_val argv;         /* array of strings when command is NULL, or
                            * NULL: the image's entrypoint and cmd       */
    double cpus;           /* 0: no --cpu-shares                          */
    uint64_t mem_bytes;    /* 0: no --memory                              */
    const char *sandbox;   /* absolute host path                          */
    /* --allowed_volume_paths: a comma list of absolute directories a
     * hostPath must be in; NULL or "": any absolute path. */
    const char *allowed_volume_paths;
    /* 1: check and build only, writing no environment file (the agent's
     * check at the launch). */
    int dry_run;
    /* Where the environment file goes; NULL: <sandbox>/.docker_env. The
     * agent puts it beside the task's meta file, out of the sandbox that
     * /files serves. */
    const char *env_file;
};

/*
 * The container's name for task_id: "mesos-" + the id with every byte
 * outside [A-Za-z0-9_.-] as '_', and, when one was replaced, "-" + 8 hex
 * digits of a hash of the id (so "a/b" and "a_b" differ). 0, or -1 when
 * it does not fit in len.
 */
int docker_name(const char *task_id, char *buf, size_t len);

/*
 * Checks t->container and builds the `docker run` argv for t (argv[0] is
 * t->docker), writing t's environment to <sandbox>/.docker_env (created
 * anew, 0600, not following a link). Returns 0 with *argv_out (free with
 * docker_argv_free()), or -1 with err naming the field that cannot be
 * honoured (the task is then TASK_ERROR) or the file that could not be
 * written.
 */
int docker_task_argv(const struct docker_task *t, char ***argv_out,
                     char *err, size_t errlen);

/* `docker stop -t <grace, whole seconds rounded up> name`. 0 or -1 (out
 * of memory, or a bad name). */
int docker_stop_argv(const char *docker, const char *name, double grace,
                     char ***argv_out);
/* `docker exec name sh -c command`: a COMMAND health check in the
 * container, as Mesos' docker executor runs it. */
int docker_exec_argv(const char *docker, const char *name, const char *command,
                     char ***argv_out);
/* `docker rm -f -v name`. */
int docker_rm_argv(const char *docker, const char *name, char ***argv_out);
/* `docker inspect --type=container --format '{{.State.Pid}}
 * {{.NetworkSettings.IPAddress}}' name`: the container's pid and IP on
 * one line. */
int docker_inspect_argv(const char *docker, const char *name,
                        char ***argv_out);
void docker_argv_free(char **argv);

/* ---- the probe (docker_probe.c) ---- */

struct docker_probe;

/*
 * Runs `<docker> version --format {{.Server.Version}}` as a child watched
 * by loop (never blocking it; killed after 10 s), and calls done(arg,
 * ok, detail) once: ok 1 with the engine's version, or 0 with why (the
 * CLI missing, no engine). detail is borrowed for the call. Returns 0
 * with *out (free with docker_probe_free(), which cancels a running
 * probe without calling done), or -1 when the child cannot be started
 * (done is called first, with ok 0).
 */
int docker_probe_start(struct docker_probe **out, struct ev_loop *loop,
                       const char *docker,
                       void (*done)(void *arg, int ok, const char *detail),
                       void *arg);
void docker_probe_free(struct docker_probe *p);

#endif /* AGORA_EXEC_DOCKER_H */
