/*
 * shim.c - the per-task supervisor: `agora-agent --shim <meta_file>`.
 *
 * The agent spawns one shim a task, in a session of its own, with fd 0
 * the read end of a pipe that carries the launch document (JSON: argv,
 * env, cwd, user, cgroups, rlimits; nothing of it is written to disk,
 * it holds the task's secrets) and fd 3 the write end of a pipe to the
 * agent. The shim:
 *   1. reads the launch document to EOF and forks the task: its own
 *      process group, its cgroups joined, stdin /dev/null, stdout and
 *      stderr appended to the sandbox's files, cwd the sandbox, the
 *      task's environment only, and the task's user (its groups, setgid,
 *      setuid) when one is given; then exec (vfork: the shim resumes
 *      once the command was executed, see start_child). stdout and
 *      stderr are opened
 *      relative to the sandbox's directory fd with O_NOFOLLOW, with the
 *      task user's file system identity (setfsuid), and must be regular
 *      files of their own owner with one link: anything else there (a
 *      symlink or hard link the task left to someone else's file) is
 *      removed and the file created anew. The shim never chowns;
 *   2. writes the first line of its meta file (its own and the task's
 *      pid and starttime; exec_int.h), tells the agent "R <pid>\n";
 *   3. waits for the task, then kills what is left of it (its process
 *      group, then every process in its cgroups), so nothing of a task
 *      outlives it;
 *   4. appends the task's end to its meta file and exits.
 * It ignores SIGHUP, SIGPIPE and SIGINT, forwards SIGTERM to the task's
 * process group, and never needs the agent: when the agent dies, the
 * shim goes on and the meta file keeps the status for the next agent.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <spawn.h>
#include <time.h>
#include <unistd.h>

#include <agora/json.h>

#include "container_int.h"
#include "exec_int.h"
#include "launcher.h"

/* The launch document holds argv and env: big, but not unbounded. */
#define LAUNCH_MAX (16u << 20)
#define LAUNCH_FD 0

extern char **environ;

struct launch {
    yajl_val root;
    char **argv;
    char **env;
    const char *cwd, *user;
    uid_t uid;
    gid_t gid;
    gid_t *groups; /* the user's groups, given by the agent */
    int ngroups;
    int switch_user;
    char *cgroups[CG_MAX_DIRS];
    size_t ncgroups;
    int v2;
    int has_nofile;
    struct rlimit nofile;
    int is_ctr; /* a container task (container_shim.c) */
    char **cleanup; /* run once the task ended (`docker rm`), or NULL */
    const char *cleanup_file; /* removed then (its env file), or NULL */
    char **inspect; /* a docker task's `docker inspect`, or NULL */
    char ip[64];    /* its address, as inspect says */
    struct ctr_run ctr;
    /* wall clock: main() ran, document read, the task's command executed */
    double t_started, t_read, t_exec;
};

/* ------------------------------------------------------------------ */
/* Stages of a failed start (exec_int.h) */
/* ------------------------------------------------------------------ */

const char *exec_stage_name(int stage)
{
    switch (stage) {
    case STAGE_EXEC:
        return "exec";
    case STAGE_USER:
        return "switching user";
    case STAGE_CGROUP:
        return "joining its cgroup";
    case STAGE_CHDIR:
        return "entering the sandbox";
    case STAGE_FILES:
        return "opening stdin/stdout/stderr";
    case STAGE_FORK:
        return "fork";
    case STAGE_CONTAINER:
        return "setting up its container";
    case STAGE_PIVOT:
        return "entering its image (pivot_root)";
    case STAGE_PROC:
        return "mounting its /proc";
    case STAGE_HOSTNAME:
        return "setting its host name";
    default:
        return "setting up";
    }
}

/* ------------------------------------------------------------------ */
/* The shim */
/* ------------------------------------------------------------------ */

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
    (void)sig;
    got_term = 1;
}

double exec_wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t starttime_of(pid_t pid)
{
    struct proc_stat st;

    return exec_proc_stat(pid, &st) == 0 ? st.starttime : 0;
}

/* The meta file's lines (exec_int.h), one write() each, appended. No
 * fsync: they are read by this agent, or by the next one after a restart
 * of the agent, not of the machine (after a crash of the machine the
 * task is reported with an unknown status, as when its shim is killed),
 * and a synchronous disk write a task cost more than all the rest of its
 * shim on a VM. */
static void write_pids(int mfd, pid_t task, uint64_t task_start, const char *ip,
                       const struct launch *l)
{
    char buf[EXEC_CGROUP_NAME_MAX + 256];
    const char *cg = l->ncgroups ? strrchr(l->cgroups[0], '/') : NULL;
    int n = 0;

    /* The agent after a restart finds the cgroups by this name. */
    if (cg && strlen(cg + 1) <= EXEC_CGROUP_NAME_MAX)
        n = snprintf(buf, sizeof(buf), "cgroup %s\n", cg + 1);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                  "%d %" PRIu64 " %d %" PRIu64 " %.3f%s%s\n", (int)getpid(),
                  starttime_of(getpid()), (int)task, task_start,
                  exec_wall_now(), *ip ? " " : "", ip);
    (void)exec_write_all(mfd, buf, (size_t)n);
}

static int write_exit(int mfd, const char *fmt, int a, int b)
{
    char buf[64];
    int n = snprintf(buf, sizeof(buf), fmt, a, b);

    return exec_write_all(mfd, buf, (size_t)n);
}

/* "failed <stage> <errno> <why>": why cut to EXEC_WHY_MAX bytes, every
 * byte that is not printable ASCII (a path given by the task may hold a
 * newline) made '?'. */
static int write_failed(int mfd, int stage, int err, const char *why)
{
    char buf[64 + EXEC_WHY_MAX];
    int n = snprintf(buf, 64, "failed %d %d", stage, err);
    size_t i;

    if (why && *why) {
        buf[n++] = ' ';
        for (i = 0; why[i] && i < EXEC_WHY_MAX; i++)
            buf[n++] = why[i] >= 0x20 && why[i] < 0x7f ? why[i] : '?';
    }
    buf[n++] = '\n';
    return exec_write_all(mfd, buf, (size_t)n);
}

/* ---- the launch document ---- */

static char **strv_of(yajl_val arr)
{
    char **v;
    size_t n;

    if (!YAJL_IS_ARRAY(arr))
        return NULL;
    n = arr->u.array.len;
    if (!(v = calloc(n + 1, sizeof(*v))))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!YAJL_IS_STRING(arr->u.array.values[i])) {
            free(v);
            return NULL;
        }
        v[i] = YAJL_GET_STRING(arr->u.array.values[i]);
    }
    return v;
}

/* Reads fd to EOF into a NUL-terminated buffer; NULL with errno. */
static char *read_all(int fd, size_t max)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap), *nb;
    ssize_t n;

    while (buf) {
        if (len + 1 == cap) {
            if (cap > max) {
                free(buf);
                errno = EFBIG;
                return NULL;
            }
            if (!(nb = realloc(buf, cap * 2)))
                break;
            buf = nb;
            cap *= 2;
        }
        n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            errno = e;
            return NULL;
        }
        if (n == 0) {
            buf[len] = '\0';
            return buf;
        }
        len += (size_t)n;
    }
    free(buf);
    errno = ENOMEM;
    return NULL;
}

/* The user's groups the agent looked up (exec_user.c), as initgroups()
 * would set them: the child only calls setgroups(). */
static int read_groups(struct launch *l, yajl_val v)
{
    size_t n = YAJL_IS_ARRAY(v) ? v->u.array.len : 0;

    if (n == 0 || n > EXEC_GROUPS_MAX ||
        !(l->groups = calloc(n, sizeof(*l->groups))))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        yajl_val g = v->u.array.values[i];

        if (!YAJL_IS_INTEGER(g) || YAJL_GET_INTEGER(g) < 0 ||
            YAJL_GET_INTEGER(g) >= (long long)(gid_t)-1)
            return -EINVAL;
        l->groups[i] = (gid_t)YAJL_GET_INTEGER(g);
    }
    l->ngroups = (int)n;
    return 0;
}

static int launch_read(struct launch *l)
{
    char *text = read_all(LAUNCH_FD, LAUNCH_MAX);
    int64_t i64;
    yajl_val v;

    if (!text)
        return -errno;
    l->root = agora_json_parse(text, NULL, 0);
    free(text);
    if (!l->root)
        return -EINVAL;
    l->argv = strv_of(agora_json_get(l->root, "argv"));
    l->env = strv_of(agora_json_get(l->root, "env"));
    if (YAJL_IS_ARRAY(agora_json_get(l->root, "cleanup")) &&
        !(l->cleanup = strv_of(agora_json_get(l->root, "cleanup"))))
        return -EINVAL;
    l->cleanup_file = agora_json_get_str(l->root, "cleanup_file");
    if (YAJL_IS_ARRAY(agora_json_get(l->root, "inspect")) &&
        !(l->inspect = strv_of(agora_json_get(l->root, "inspect"))))
        return -EINVAL;
    if (!l->argv || !l->argv[0] || !l->env ||
        agora_json_str(l->root, "cwd", &l->cwd) != 0)
        return -EINVAL;
    v = agora_json_get(l->root, "container");
    if (YAJL_IS_OBJECT(v)) {
        int rc = ctr_run_read(v, &l->ctr);
        if (rc != 0)
            return rc;
        l->is_ctr = 1;
    }
    if (agora_json_str(l->root, "user", &l->user) == 0) {
        int64_t g;
        if (agora_json_int(l->root, "uid", &i64) != 0 ||
            agora_json_int(l->root, "gid", &g) != 0)
            return -EINVAL;
        l->uid = (uid_t)i64;
        l->gid = (gid_t)g;
        l->switch_user = 1;
        /* A container's user is one of the image's: its group only. */
        if (!l->is_ctr && read_groups(l, agora_json_get(l->root, "groups")))
            return -EINVAL;
    }
    v = agora_json_get(l->root, "cgroups");
    for (size_t k = 0;
         YAJL_IS_ARRAY(v) && k < v->u.array.len && l->ncgroups < CG_MAX_DIRS;
         k++) {
        if (YAJL_IS_STRING(v->u.array.values[k]))
            l->cgroups[l->ncgroups++] = YAJL_GET_STRING(v->u.array.values[k]);
    }
    (void)agora_json_bool(l->root, "cgroup_v2", &l->v2);
    v = agora_json_get(l->root, "nofile");
    if (YAJL_IS_ARRAY(v) && v->u.array.len == 2 &&
        YAJL_IS_INTEGER(v->u.array.values[0]) &&
        YAJL_IS_INTEGER(v->u.array.values[1])) {
        l->nofile.rlim_cur = (rlim_t)YAJL_GET_INTEGER(v->u.array.values[0]);
        l->nofile.rlim_max = (rlim_t)YAJL_GET_INTEGER(v->u.array.values[1]);
        l->has_nofile = 1;
    }
    return 0;
}

static void launch_free(struct launch *l)
{
    if (l->is_ctr)
        ctr_run_free(&l->ctr);
    free(l->argv);
    free(l->env);
    free(l->cleanup);
    free(l->inspect);
    free(l->groups);
    if (l->root)
        yajl_tree_free(l->root);
    memset(l, 0, sizeof(*l));
}

/* ---- the task's process, between vfork and exec ---- */

/*
 * The task is started with vfork(): no copy of the shim's memory, and the
 * shim resumes when the task's command was executed (or the child gave
 * up), which is when it can tell the agent. The child shares the shim's
 * memory until then: it only makes system calls on what the shim
 * prepared (no malloc, no locks), and says why it failed here.
 */
static volatile struct {
    int stage, err;
} child_res;

static void __attribute__((noreturn)) child_fail(int stage, int err)
{
    child_res.err = err;
    child_res.stage = stage;
    _exit(127);
}

static void __attribute__((noreturn))
run_child(const struct launch *l, int in, int out, int err)
{
    sigset_t none;

    if (setpgid(0, 0) != 0)
        child_fail(STAGE_SETUP, errno);
    for (size_t i = 0; i < l->ncgroups; i++) {
        int e = exec_cgroup_join_self(l->cgroups[i]);

        if (e != 0)
            child_fail(STAGE_CGROUP, e);
    }
    if (l->has_nofile && setrlimit(RLIMIT_NOFILE, &l->nofile) != 0)
        child_fail(STAGE_SETUP, errno);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        child_fail(STAGE_FILES, errno);
    if (chdir(l->cwd) != 0)
        child_fail(STAGE_CHDIR, errno);
    /* Ignored signals stay ignored across exec: give the task defaults. */
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (l->switch_user) {
        if (setgroups((size_t)l->ngroups, l->groups) != 0)
            child_fail(STAGE_USER, errno);
        if (setgid(l->gid) != 0)
            child_fail(STAGE_USER, errno);
        if (setuid(l->uid) != 0)
            child_fail(STAGE_USER, errno);
    }
    /* execvp searches the task's PATH, not the shim's. */
    environ = l->env;
    execvp(l->argv[0], l->argv);
    child_fail(STAGE_EXEC, errno);
}

/* Starts the task's process; -1 when vfork failed. */
static pid_t start_child(const struct launch *l, int in, int out, int err)
{
    char **saved = environ; /* the child sets the task's */
    pid_t pid;

    child_res.stage = 0;
    child_res.err = 0;
    if ((pid = vfork()) == 0)
        run_child(l, in, out, err);
    environ = saved;
    return pid;
}

/*
 * A container task: its rootfs and mounts (container_fs.c), then its
 * process (container_shim.c). -1 with errno when it could not be
 * started, the reason in the sandbox's stderr and nothing left behind.
 */
static pid_t start_container(struct launch *l, int in, int out, int err)
{
    struct ctr_exec e = {
        .argv = l->argv, .env = l->env, .in = in, .out = out, .err = err,
        .switch_user = l->switch_user, .uid = l->uid, .gid = l->gid,
        .has_nofile = l->has_nofile, .nofile = l->nofile,
        .cgroups = l->cgroups, .ncgroups = l->ncgroups,
    };
    int stage, cerr, saved;
    pid_t pid = -1;

    if (ctr_fs_setup(&l->ctr) == 0)
        pid = ctr_start(&l->ctr, &e, &stage, &cerr);
    if (pid < 0) {
        saved = errno;
        dprintf(err, "agora-shim: cannot start the container: %s\n",
                l->ctr.why[0] ? l->ctr.why : strerror(saved));
        ctr_fs_teardown(&l->ctr);
        errno = saved;
        return -1;
    }
    child_res.stage = stage;
    child_res.err = cerr;
    return pid;
}

/* ---- the shim ---- */

/* An existing stdout/stderr is used only when it is a regular file of
 * the expected owner with one link. */
static int out_usable(int fd, uid_t owner)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == owner &&
           st.st_nlink == 1;
}

/*
 * Opens the sandbox's file `name` for appending, with the file system
 * identity of whoever the task runs as (see the header): O_NOFOLLOW, and
 * O_NONBLOCK so a FIFO left there cannot hang the shim. -1 with errno.
 */
static int open_out_as(int sdfd, const char *name, uid_t owner)
{
    const int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC;

    for (int round = 0; round < 3; round++) {
        /* A new sandbox has none: made at once (a new file is no FIFO). */
        int fd = openat(sdfd, name, flags | O_CREAT | O_EXCL, 0640);

        if (fd >= 0 || errno != EEXIST)
            return fd;
        fd = openat(sdfd, name, flags | O_NONBLOCK);
        if (fd >= 0) {
            if (out_usable(fd, owner)) {
                (void)fcntl(fd, F_SETFL, O_WRONLY | O_APPEND);
                return fd;
            }
            close(fd);
        } else if (errno != ENOENT && errno != ELOOP && errno != ENXIO &&
                   errno != EACCES && errno != EPERM) {
            return -1;
        }
        /* Not ours to write (or gone): replaced by a new file. */
        if ((fd >= 0 || errno != ENOENT) && unlinkat(sdfd, name, 0) != 0 &&
            errno != ENOENT)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

/* Opens stdout and stderr in the sandbox as the task's user. */
static int open_outs(const struct launch *l, int *out, int *err)
{
    uid_t fsuid = 0;
    gid_t fsgid = 0;
    int sdfd, e = 0;

    if ((sdfd = open(l->cwd, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                 O_CLOEXEC)) < 0)
        return -1;
    if (l->switch_user) {
        fsgid = (gid_t)setfsgid(l->gid);
        fsuid = (uid_t)setfsuid(l->uid);
    }
    *out = open_out_as(sdfd, "stdout", l->switch_user ? l->uid : geteuid());
    if (*out < 0)
        e = errno;
    *err = open_out_as(sdfd, "stderr", l->switch_user ? l->uid : geteuid());
    if (*err < 0 && !e)
        e = errno;
    if (l->switch_user) {
        (void)setfsuid(fsuid);
        (void)setfsgid(fsgid);
    }
    close(sdfd);
    errno = e;
    return e ? -1 : 0;
}

/* Tells the sandbox's stderr why the task did not start. */
static void note_failure(int fd, const struct launch *l, int stage, int err)
{
    dprintf(fd, "agora-shim: cannot start '%s': %s: %s\n", l->argv[0],
            exec_stage_name(stage), strerror(err));
}

/* Waits for the task without reaping it, so its pid (its process
 * group's id) cannot be reused while the group is killed. */
static int wait_task(pid_t pid)
{
    siginfo_t si;

    for (;;) {
        if (got_term) {
            got_term = 0;
            (void)kill(-pid, SIGTERM);
        }
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

/* Kills what is left of the task: its group, then its cgroups, until
 * they are empty (a second at most: forks may race the kill). */
static void sweep(const struct launch *l, pid_t pid)
{
    (void)kill(-pid, SIGKILL);
    /* The first hierarchy (memory, which the task joined first) holds
     * every process of the task: one list to read, not one a v1
     * hierarchy. What left it is found by the agent, which removes the
     * cgroups after the shim and kills whatever keeps one busy. */
    for (int round = 0; l->ncgroups && round < 100; round++) {
        if (exec_procs_kill(l->cgroups, 1, l->v2) <= 0)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* How long a docker task's container may take to show up in `docker
 * inspect` (the engine may be pulling its image): its RUNNING waits. */
#define INSPECT_TIMEOUT 600

/* One `docker inspect` run: 1 with l->ip set once the container has a
 * pid ("<pid> <ip>", the ip possibly empty: host networking), 0 not yet,
 * -1 it cannot run. */
static int inspect_once(struct launch *l)
{
    posix_spawn_file_actions_t fa;
    char out[256];
    int fds[2], status, pid_c = 0;
    ssize_t n, got = 0;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    (void)posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    if (posix_spawnp(&pid, l->inspect[0], &fa, NULL, l->inspect, l->env)) {
        posix_spawn_file_actions_destroy(&fa);
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    while (got < (ssize_t)sizeof(out) - 1 &&
           ((n = read(fds[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0 ||
            (n < 0 && errno == EINTR)))
        got += n > 0 ? n : 0;
    close(fds[0]);
    out[got] = '\0';
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        sscanf(out, "%d %63s", &pid_c, l->ip) < 1 || pid_c <= 0) {
        l->ip[0] = '\0';
        return 0;
    }
    if (strcmp(l->ip, "<no") == 0) /* "<no value>": no address */
        l->ip[0] = '\0';
    return 1;
}

/* A docker task is RUNNING once its container runs, as Mesos reports it:
 * `docker inspect` asked every 100 ms until it has a pid, the task ends,
 * or INSPECT_TIMEOUT. */
static void inspect_wait(struct launch *l, pid_t task)
{
    struct timespec tick = {0, 100 * 1000 * 1000};
    siginfo_t info;

    for (int i = 0; l->inspect && i < INSPECT_TIMEOUT * 10; i++) {
        if (inspect_once(l) != 0 || got_term)
            return;
        /* Ended (left waitable for the shim's own wait): no container. */
        memset(&info, 0, sizeof(info));
        if (waitid(P_PID, (id_t)task, &info, WEXITED | WNOHANG | WNOWAIT) !=
                0 ||
            info.si_pid != 0)
            return;
        nanosleep(&tick, NULL);
    }
}

/* The most a cleanup command (`docker rm -f -v`) may take. */
#define CLEANUP_TIMEOUT 30

/*
 * Runs l->cleanup once the task ended (a docker task's `docker rm`, so
 * that no container outlives its task, even one whose `docker run` was
 * killed before it stopped it), its output to the task's stderr, killed
 * past CLEANUP_TIMEOUT seconds. The shim blocks here: the agent's loop
 * does not.
 */
static void run_cleanup(const struct launch *l, int err)
{
    posix_spawn_file_actions_t fa;
    struct timespec tick = {0, 50 * 1000 * 1000};
    pid_t pid;
    int status;

    if (!l->cleanup || !l->cleanup[0] ||
        posix_spawn_file_actions_init(&fa) != 0)
        return;
    if (err >= 0) {
        (void)posix_spawn_file_actions_adddup2(&fa, err, 1);
        (void)posix_spawn_file_actions_adddup2(&fa, err, 2);
    }
    if (posix_spawnp(&pid, l->cleanup[0], &fa, NULL, l->cleanup, l->env) ==
        0) {
        for (int i = 0; i < CLEANUP_TIMEOUT * 20; i++) {
            if (waitpid(pid, &status, WNOHANG) != 0)
                break;
            nanosleep(&tick, NULL);
            if (i == CLEANUP_TIMEOUT * 20 - 1) {
                (void)kill(pid, SIGKILL);
                (void)waitpid(pid, &status, 0);
            }
        }
    }
    posix_spawn_file_actions_destroy(&fa);
    if (l->cleanup_file)
        (void)unlink(l->cleanup_file);
}

/* fd 0 held the launch document: /dev/null again, so that no file
 * opened later lands on it. */
static int launch_fd_close(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    if (fd != LAUNCH_FD) {
        if (dup3(fd, LAUNCH_FD, O_CLOEXEC) < 0) {
            close(fd);
            return -1;
        }
        close(fd);
    }
    return 0;
}

static int run(int mfd, double started)
{
    struct launch l;
    int in = -1, out = -1, err = -1;
    int status = 0, rc;
    sigset_t term;
    pid_t pid;

    memset(&l, 0, sizeof(l));
    l.t_started = started;
    rc = launch_read(&l);
    l.t_read = exec_wall_now();
    if (launch_fd_close() != 0 && rc == 0)
        rc = -errno;
    if (rc != 0) {
        launch_free(&l);
        return write_exit(mfd, "failed %d %d\n", STAGE_SETUP, -rc) ? 1 : 0;
    }
    in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (in < 0 || open_outs(&l, &out, &err) != 0) {
        rc = write_exit(mfd, "failed %d %d\n", STAGE_FILES, errno);
        goto done;
    }
    /* A SIGTERM from here on waits until the child has its default
     * handler (it then dies of it), or the shim forwards it. */
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, NULL);
    if (got_term) {
        /* Killed before the task was started: it never will be. */
        rc = write_exit(mfd, "signaled %d\n", SIGTERM, 0);
        goto done;
    }
    if (l.is_ctr) {
        if ((pid = start_container(&l, in, out, err)) < 0) {
            rc = write_failed(mfd, STAGE_CONTAINER, errno ? errno : EINVAL,
                              l.ctr.why);
            goto done;
        }
    } else if ((pid = start_child(&l, in, out, err)) < 0) {
        rc = write_exit(mfd, "failed %d %d\n", STAGE_FORK, errno);
        goto done;
    }
    l.t_exec = exec_wall_now();
    sigprocmask(SIG_UNBLOCK, &term, NULL);
    if (child_res.stage) {
        note_failure(err, &l, child_res.stage, child_res.err);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (l.is_ctr) {
            ctr_net_teardown(&l.ctr);
            ctr_fs_teardown(&l.ctr);
        }
        run_cleanup(&l, err);
        rc = write_exit(mfd, "failed %d %d\n", child_res.stage, child_res.err);
        goto done;
    }
    /* Also here, so a SIGTERM to the group cannot precede the group. */
    (void)setpgid(pid, pid);
    inspect_wait(&l, pid);
    write_pids(mfd, pid, starttime_of(pid), l.is_ctr ? l.ctr.ip : l.ip, &l);
    /* The times let the agent's launch trace (exec.c) say where a
     * launch's time went; two vDSO reads. A BRIDGE container's address
     * follows. */
    dprintf(EXEC_STATUS_FD, "R %d %.6f %.6f %.6f %s\n", (int)pid, l.t_started,
            l.t_read, l.t_exec,
            l.is_ctr && l.ctr.ip[0] ? l.ctr.ip : l.ip[0] ? l.ip : "-");
    close(EXEC_STATUS_FD);
    if (wait_task(pid) != 0) {
        rc = -1;
        goto done;
    }
    sweep(&l, pid);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (l.is_ctr) { /* before the end is known: no leftovers */
        ctr_net_teardown(&l.ctr);
        ctr_fs_teardown(&l.ctr);
    }
    run_cleanup(&l, err);
    if (WIFSIGNALED(status))
        rc = write_exit(mfd, "signaled %d\n", WTERMSIG(status), 0);
    else
        rc = write_exit(mfd, "exited %d\n", WEXITSTATUS(status), 0);
done:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (err >= 0)
        close(err);
    launch_free(&l);
    return rc ? 1 : 0;
}

int shim_main(int argc, char **argv)
{
    struct sigaction sa;
    double started = exec_wall_now();
    int mfd, rc;

    if (argc < 3 || strcmp(argv[1], "--shim") != 0) {
        fprintf(stderr, "usage: agora-agent --shim <meta_file>\n");
        exit(2);
    }
    if (strcmp(argv[2], "--launcher") == 0) /* launcher.h */
        exit(launcher_main(argc, argv));
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_term; /* no SA_RESTART: waitid returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    /* 0-2 and the status pipe (3) must be taken, else files opened later
     * would land there; the pipe must not reach the task. */
    for (int fd = 0; fd <= EXEC_STATUS_FD; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        if (open("/dev/null", O_RDWR) != fd)
            exit(111);
    }
    if (fcntl(EXEC_STATUS_FD, F_SETFD, FD_CLOEXEC) != 0)
        exit(111);
    if ((mfd = open(argv[2],
                    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW |
                        O_CLOEXEC,
                    0600)) < 0)
        exit(111);
    if (chdir("/") != 0)
        exit(111);
    rc = run(mfd, started);
    close(mfd);
    exit(rc);
}
