/*
 * container_shim.c - a container task's process, started by its shim
 * (shim.c) after container_fs.c built the rootfs:
 *
 *   clone(CLONE_NEWPID | NEWNS | NEWUTS | NEWIPC [| NEWNET for BRIDGE])
 *   the child waits on a pipe while the shim joins it to the task's
 *   cgroups and (BRIDGE) attaches its network namespace (net.h), then:
 *   its own process group, the task's host name, pivot_root into the
 *   rootfs (the old root detached), /proc of its pid namespace, stdin,
 *   stdout, stderr, WorkingDir, default signals, the user, exec.
 *
 * The task is pid 1 of its pid namespace (`echo $$` prints 1): killing it
 * ends the namespace and every process in it. As under Docker, a pid 1
 * without a SIGTERM handler ignores SIGTERM; the kill's SIGKILL after
 * the grace period ends it.
 *
 * After the clone the child makes system calls only, on what the shim
 * prepared before it (no malloc, no stdio): the clone copies the shim's
 * memory as fork does, and ASan and libc locks stay out of the way. A
 * failure is written to an O_CLOEXEC pipe as (stage, errno); EOF on it
 * means the command was executed.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora/json.h>

#include "container_int.h"
#include "net.h"
#include "exec_int.h"

extern char **environ;

void ctr_fail(struct ctr_run *c, const char *fmt, ...)
{
    va_list ap;

    if (c->why[0])
        return;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
}

/* ---- the launch document's "container" ---- */

static int volumes_read(yajl_val v, struct ctr_run *c)
{
    if (!v || YAJL_IS_NULL(v) || v->u.array.len == 0)
        return 0;
    if (!YAJL_IS_ARRAY(v))
        return -EINVAL;
    if (!(c->volumes = calloc(v->u.array.len, sizeof(*c->volumes))))
        return -ENOMEM;
    for (size_t i = 0; i < v->u.array.len; i++) {
        yajl_val o = v->u.array.values[i];
        struct ctr_mount *m = &c->volumes[c->nvolumes++];

        m->host = agora_json_get_str(o, "host");
        m->container = agora_json_get_str(o, "container");
        (void)agora_json_bool(o, "ro", &m->ro);
        (void)agora_json_bool(o, "in_sandbox", &m->in_sandbox);
        if (!m->host || !m->container || m->container[0] != '/')
            return -EINVAL;
    }
    return 0;
}

static int ports_read(yajl_val v, struct ctr_run *c)
{
    if (!YAJL_IS_ARRAY(v) || v->u.array.len == 0)
        return 0;
    if (!(c->ports = calloc(v->u.array.len, sizeof(*c->ports))))
        return -ENOMEM;
    for (size_t i = 0; i < v->u.array.len; i++) {
        yajl_val p = v->u.array.values[i];
        if (!YAJL_IS_ARRAY(p) || p->u.array.len != 3)
            return -EINVAL;
        c->ports[i].host_port = (uint16_t)YAJL_GET_INTEGER(p->u.array.values[0]);
        c->ports[i].container_port =
            (uint16_t)YAJL_GET_INTEGER(p->u.array.values[1]);
        c->ports[i].udp = YAJL_GET_INTEGER(p->u.array.values[2]) != 0;
        c->nports++;
    }
    return 0;
}

static int run_read(yajl_val doc, struct ctr_run *c);

int ctr_run_read(yajl_val doc, struct ctr_run *c)
{
    int rc = run_read(doc, c);

    if (rc != 0)
        ctr_run_free(c);
    return rc;
}

static int run_read(yajl_val doc, struct ctr_run *c)
{
    yajl_val l = agora_json_get(doc, "layers");
    int rc;

    memset(c, 0, sizeof(*c));
    c->rootfd = -1;
    c->dir = agora_json_get_str(doc, "dir");
    c->sandbox = agora_json_get_str(doc, "sandbox");
    c->workdir = agora_json_get_str(doc, "workdir");
    c->hostname = agora_json_get_str(doc, "hostname");
    c->task_id = agora_json_get_str(doc, "task_id");
    (void)agora_json_bool(doc, "copy", &c->copy);
    (void)agora_json_bool(doc, "bridge", &c->bridge);
    c->net_bridge = agora_json_get_str(doc, "net_bridge");
    c->net_cidr = agora_json_get_str(doc, "net_cidr");
    c->net_work_dir = agora_json_get_str(doc, "net_work_dir");
    if (!c->dir || !c->sandbox || !c->workdir || c->workdir[0] != '/' ||
        !c->hostname || !c->task_id || !YAJL_IS_ARRAY(l) ||
        l->u.array.len == 0)
        return -EINVAL;
    if (!(c->layers = calloc(l->u.array.len, sizeof(*c->layers))))
        return -ENOMEM;
    for (size_t i = 0; i < l->u.array.len; i++)
        if (!(c->layers[c->nlayers++] =
                  YAJL_GET_STRING(l->u.array.values[i])))
            return -EINVAL;
    if ((rc = volumes_read(agora_json_get(doc, "volumes"), c)) != 0 ||
        (rc = ports_read(agora_json_get(doc, "ports"), c)) != 0)
        return rc;
    if (asprintf(&c->rootfs, "%s/rootfs", c->dir) < 0) {
        c->rootfs = NULL;
        return -ENOMEM;
    }
    return 0;
}

void ctr_run_free(struct ctr_run *c)
{
    if (c->rootfd >= 0)
        close(c->rootfd);
    free(c->layers);
    free(c->volumes);
    free(c->ports);
    free(c->rootfs);
    memset(c, 0, sizeof(*c));
    c->rootfd = -1;
}

/* ---- the task's process, after the clone ---- */

static void __attribute__((noreturn)) child_fail(int fd, int stage, int err)
{
    int msg[2] = {stage, err};

    (void)!write(fd, msg, sizeof(msg));
    _exit(127);
}

static void __attribute__((noreturn))
child_run(const struct ctr_run *c, const struct ctr_exec *e, int sync,
          int res)
{
    sigset_t none;
    char go;

    if (read(sync, &go, 1) != 1)
        _exit(127); /* the shim gave up on us */
    close(sync);
    if (setpgid(0, 0) != 0)
        child_fail(res, STAGE_SETUP, errno);
    if (sethostname(c->hostname, strlen(c->hostname)) != 0)
        child_fail(res, STAGE_HOSTNAME, errno);
    if (e->has_nofile && setrlimit(RLIMIT_NOFILE, &e->nofile) != 0)
        child_fail(res, STAGE_SETUP, errno);
    /* pivot_root(".", "."): the old root ends up under the new one, and
     * is detached at once. By path: the shim's rootfd is a mount of the
     * shim's namespace, not of this copy of it. */
    if (chdir(c->rootfs) != 0 ||
        syscall(SYS_pivot_root, ".", ".") != 0 ||
        umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
        child_fail(res, STAGE_PIVOT, errno);
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              NULL) != 0)
        child_fail(res, STAGE_PROC, errno);
    if (dup2(e->in, 0) < 0 || dup2(e->out, 1) < 0 || dup2(e->err, 2) < 0)
        child_fail(res, STAGE_FILES, errno);
    if (chdir(c->workdir) != 0)
        child_fail(res, STAGE_CHDIR, errno);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (e->switch_user) {
        if (setgroups(1, &e->gid) != 0 || setgid(e->gid) != 0 ||
            setuid(e->uid) != 0)
            child_fail(res, STAGE_USER, errno);
    }
    /* The shim killed (kill -9), the container dies with it, as a
     * command task's group is killed then (exec.c). Set after setuid(),
     * which clears it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        child_fail(res, STAGE_SETUP, errno);
    environ = e->env;
    execvp(e->argv[0], e->argv);
    child_fail(res, STAGE_EXEC, errno);
}

/* ---- the shim's side ---- */

static int cgroup_join(pid_t pid, const char *dir)
{
    char path[4096], num[32];
    int n = snprintf(num, sizeof(num), "%d", (int)pid);

    if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >=
        sizeof(path))
        return -ENAMETOOLONG;
    return exec_write_file(path, num, (size_t)n);
}

/* The cgroups and the network, while the child waits. 0 or -1. */
static int child_setup(struct ctr_run *c, const struct ctr_exec *e, pid_t pid)
{
    int rc;

    for (size_t i = 0; i < e->ncgroups; i++) {
        if ((rc = cgroup_join(pid, e->cgroups[i])) != 0) {
            ctr_fail(c, "joining the cgroup %s: %s", e->cgroups[i],
                     strerror(-rc));
            return -1;
        }
    }
    if (c->bridge) {
        struct net_conf net;
        struct net_port_map m[64];
        char why[256] = "";
        size_t n = c->nports < 64 ? c->nports : 64;

        for (size_t i = 0; i < n; i++) {
            m[i].host_port = c->ports[i].host_port;
            m[i].container_port = c->ports[i].container_port;
            m[i].udp = c->ports[i].udp;
        }
        if (net_conf_init(&net, c->net_bridge, c->net_cidr, c->net_work_dir,
                          why, sizeof(why)) != 0 ||
            net_bridge_attach(&net, pid, c->task_id, m, n, c->ip,
                              sizeof(c->ip), why, sizeof(why)) != 0) {
            ctr_fail(c, "the BRIDGE network: %s", why);
            return -1;
        }
        c->attached = 1;
    }
    return 0;
}

void ctr_net_teardown(struct ctr_run *c)
{
    struct net_conf net;
    char why[256];

    if (!c->bridge || !c->attached)
        return;
    c->attached = 0;
    if (net_conf_init(&net, c->net_bridge, c->net_cidr, c->net_work_dir, why,
                      sizeof(why)) == 0)
        (void)net_bridge_detach(&net, c->task_id);
}

pid_t ctr_start(struct ctr_run *c, const struct ctr_exec *e, int *stage,
                int *err)
{
    int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                (c->bridge ? CLONE_NEWNET : 0) | SIGCHLD;
    int sync[2], res[2], msg[2];
    ssize_t n;
    pid_t pid;

    *stage = *err = 0;
    if (pipe2(sync, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(res, O_CLOEXEC) != 0) {
        close(sync[0]);
        close(sync[1]);
        return -1;
    }
    /* No stack: the child runs on a copy of the shim's, as after fork. */
    pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
    if (pid == 0) {
        close(sync[1]);
        close(res[0]);
        child_run(c, e, sync[0], res[1]);
    }
    close(sync[0]);
    close(res[1]);
    if (pid < 0) {
        int saved = errno;
        close(sync[1]);
        close(res[0]);
        ctr_fail(c, "clone: %s", strerror(saved));
        errno = saved;
        return -1;
    }
    if (child_setup(c, e, pid) != 0) {
        close(sync[1]); /* the child reads EOF and exits */
        close(res[0]);
        (void)kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        ctr_net_teardown(c);
        return -1;
    }
    (void)!write(sync[1], "g", 1);
    close(sync[1]);
    do
        n = read(res[0], msg, sizeof(msg));
    while (n < 0 && errno == EINTR);
    close(res[0]);
    if (n == (ssize_t)sizeof(msg)) {
        *stage = msg[0];
        *err = msg[1];
    }
    return pid;
}
