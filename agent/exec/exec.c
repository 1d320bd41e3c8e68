/*
 * exec.c - the exec layer's contract (exec.h): launch, watch, kill,
 * recover and measure tasks, each under its own shim (shim.c).
 *
 * A task's life on the agent's side:
 *   exec_launch   validates the spec (TASK_ERROR when invalid), makes the
 *                 sandbox (0750, the task user's) and cgroups, spawns the
 *                 shim (posix_spawn: new session, fd 0 a pipe that carries
 *                 the launch document, 1-2 /dev/null, fd 3 the status
 *                 pipe, nothing else) and writes the document to it
 *                 (what the pipe does not take at once, from the loop as
 *                 the shim reads) -> TASK_STARTING
 *   status pipe   "R <pid>" once the command was executed -> TASK_RUNNING
 *                 (pid, shim_pid, start_time checkpointed), health checks
 *   shim exit     ev_child (a shim this agent spawned) or a pidfd (one
 *                 adopted after a restart); the meta file gives the status
 *                 -> FINISHED / FAILED / KILLED, cgroups removed
 * Nothing here waits: the loop only does short local file operations.
 *
 * Choices where Mesos leaves room, or where agora differs:
 *   - When a task's command exits, what is left of it (its process group
 *     and, with cgroups, everything in its cgroups) is killed by its shim,
 *     as Mesos destroys a container: nothing of a task outlives it.
 *   - A kill is TASK_KILLING, SIGTERM to the process group, SIGKILL to
 *     the group and every process of the task's cgroups after the grace
 *     period; any end after a kill is TASK_KILLED (as Mesos' command
 *     executor). A second kill may shorten the grace, never extend it.
 *     Killed before its command ran, the shim is told (SIGTERM) and never
 *     starts it.
 *   - Killed by its health check: TASK_KILLED with healthy=false and no
 *     reason, as Mesos' command executor does.
 *   - Over its memory limit: TASK_FAILED, REASON_CONTAINER_LIMITATION_
 *     MEMORY, and the whole task is killed (v1: on the OOM eventfd; v2:
 *     memory.oom.group).
 *   - --recover=cleanup: a task whose shim still runs is killed and
 *     reported TASK_KILLED with REASON_AGENT_RESTARTED; one that ended by
 *     itself is reported with its real status.
 *   - A shim that died without writing the end (kill -9): TASK_FAILED with
 *     REASON_EXECUTOR_TERMINATED and "its exit status is unknown"; what is
 *     left of the task is killed.
 *
 * posix isolation (no writable cgroup hierarchy, or --isolation=posix):
 * no limits are enforced; a kill reaches the task's process group only,
 * so a process that left it (setsid) survives; usage is the leader's own
 * /proc/<pid>/stat (its children are not counted).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "docker.h"
#include "exec_int.h"
#include "fs.h"
#include "log.h"
#include "launcher.h"
#include "net.h"

extern char **environ;

#define DEFAULT_PATH                                                           \
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PROBE_INTERVAL 0.1
#define PROBE_TIMEOUT 5.0
#define RMDIR_INTERVAL 0.5
#define RMDIR_TRIES 120
/* v1's kept cgroups (cgroups.h) are brought back to what an agent at
 * rest keeps once launches pause for POOL_QUIET: those beyond
 * CG_POOL_KEEP removed, TRIM_STEP a second (896 go in half a minute, 3 ms
 * of the loop a second); with exec_conf.cgroups_ahead, up to CG_POOL_KEEP
 * made while fewer are kept, FILL_STEP
 * every FILL_INTERVAL (about 2 ms of the loop each, 128 in under a
 * second). */
#define POOL_QUIET 1.0
#define TRIM_INTERVAL 1.0
#define TRIM_STEP 32
#define FILL_INTERVAL 0.05
#define FILL_STEP 8

#define MSG_UNKNOWN                                                            \
    "task ended while the agent was down; its exit status is unknown"

struct rmdir_pending {
    struct rmdir_pending *next;
    int tries;
    char id[];
};

/* The launch trace's times a task, wall clock (see trace_line). */
enum { TR_LAUNCH, TR_SPAWNED, TR_SHIM_STARTED, TR_SHIM_READ, TR_TASK_EXEC,
       TR_RUNNING, TR_N };

struct task_exec {
    struct task_exec *next, *prev;
    struct exec *x;
    struct agent_task *t;
    ev_child child;       /* a shim this agent spawned */
    ev_io pidfd_io;       /* a shim adopted after a restart */
    ev_io status_io;      /* the shim's "R <pid>" pipe */
    ev_io launch_io;      /* the launch document's pipe, while it is
                           * bigger than what the pipe took at once */
    char *launch_doc;     /* its bytes from launch_off on */
    size_t launch_len, launch_off;
    char *docker_name;    /* a docker task's container (kill: docker
                           * stop), or NULL */
    struct launcher_req *fork_req; /* its shim asked of the launcher,
                                    * unanswered (launcher.h) */
    char *cgname;         /* its cgroups' name (cgroups.h), NULL: none */
    ev_io oom_io;         /* v1 OOM eventfd */
    ev_timer kill_timer;  /* SIGKILL after the grace, then sweeps */
    ev_timer probe_timer; /* recovery: waiting for the shim */
    double grace;         /* the spec's kill grace period */
    double kill_start, kill_deadline;
    double probe_deadline;
    double cpus;
    uint64_t mem_bytes;
    struct health_conf *hc; /* NULL: no health check */
    struct health *health;
    double tr[TR_N]; /* the launch trace's times (trace_line) */
    unsigned running : 1, ended : 1, kill_requested : 1, sigkill_sent : 1,
        health_kill : 1, cleanup : 1, recovered : 1, found_dead : 1, oom : 1,
        is_ctr : 1; /* a container: its directory removed at the end */
};

static void finish(struct task_exec *te, int have_status, int status);
static void kill_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void probe_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void pidfd_cb(struct ev_loop *loop, ev_io *w, int revents);

/* ------------------------------------------------------------------ */
/* Small helpers */
/* ------------------------------------------------------------------ */

void exec_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

void exec_report(struct exec *x, struct agent_task *t,
                 enum agora_task_state state, const char *reason,
                 const char *message, int healthy)
{
    x->hooks.task_update(x->hooks.arg, t, state, reason, message, healthy);
}

double exec_now(struct exec *x)
{
    return x->hooks.now(x->hooks.arg);
}

static void update(struct task_exec *te, enum agora_task_state st,
                   const char *reason, const char *msg, int healthy)
{
    exec_report(te->x, te->t, st, reason, msg, healthy);
}

/* Checkpoints t after a change of its pids or start time: a failure is
 * logged, and the task goes on (the next checkpoint may succeed). */
static void checkpoint(struct task_exec *te)
{
    struct exec *x = te->x;
    int rc = x->hooks.task_checkpoint(x->hooks.arg, te->t);

    if (rc != 0)
        log_warn(EXEC_LOG, "task %s: checkpoint: %s", te->t->id,
                 agora_strerror(rc));
}

/* ------------------------------------------------------------------ */
/* Init */
/* ------------------------------------------------------------------ */

static void rmdir_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void pool_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void pool_check(struct exec *x);

/*
 * The shim's binary: agora-shim beside the agent's (it links libc and
 * yajl only, so it starts in well under a millisecond), else the agent
 * itself (/proc/self/exe --shim), whose shared libraries (libmicrohttpd,
 * libev...) take longer to load on every launch.
 */
static char *find_shim(void)
{
    char self[PATH_MAX], *slash, *p;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n > 0) {
        self[n] = '\0';
        if ((slash = strrchr(self, '/')) &&
            asprintf(&p, "%.*s/%s", (int)(slash - self), self,
                     EXEC_SHIM_ARGV0) >= 0) {
            if (access(p, X_OK) == 0)
                return p;
            free(p);
        }
    }
    return strdup("/proc/self/exe");
}

/* The tasks' HOST: conf's hostname, else this host's name. */
static char *host_name(const char *conf_hostname)
{
    char host[256];

    if (conf_hostname && *conf_hostname)
        return strdup(conf_hostname);
    if (gethostname(host, sizeof(host)) != 0)
        return strdup("localhost");
    host[sizeof(host) - 1] = '\0';
    return strdup(host);
}

static void exec_free(struct exec *x)
{
    if (x->trace)
        fclose(x->trace);
    cg_free(&x->cg);
    free(x->agent_id);
    free(x->hostname);
    free(x->path);
    free(x->shim_path);
    free(x->default_user);
    exec_users_free(x);
    free(x->docker_cli);
    free(x->net_bridge);
    free(x->net_cidr);
    free(x->work_dir);
    free(x->images_dir);
    free(x->containers_dir);
    free(x->allowed_volume_paths);
    free(x);
}

/* A task naming no user runs as --default_user; on a root agent that is
 * nobody unless said otherwise, never root by default. A non-root agent
 * runs it as itself (it can switch to no one). */
static int users_init(struct exec *x, const struct exec_conf *conf)
{
    const char *def = conf->default_user;

    x->switch_user = conf->switch_user;
    if (!x->switch_user)
        return 0;
    if ((!def || !*def) && x->is_root)
        def = "nobody";
    if (!def || !*def)
        return 0;
    return (x->default_user = strdup(def)) ? 0 : -1;
}

/* Every task holds an fd or two here (status pipe, OOM eventfd, pidfd):
 * take the hard limit, and give tasks the original one (x->nofile). */
static void raise_nofile(struct exec *x)
{
    struct rlimit raised;

    if (getrlimit(RLIMIT_NOFILE, &x->nofile) != 0)
        return;
    raised = x->nofile;
    raised.rlim_cur = raised.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0)
        log_warn(EXEC_LOG, "raising RLIMIT_NOFILE: %s", strerror(errno));
}

/*
 * AGORA_EXEC_TRACE=<file>: a line a task that started, written when it
 * ends, for scripts/bench/agent's breakdown of a launch:
 *   <task_id> <launch> <spawned> <shim_started> <shim_read> <task_exec>
 *   <running>
 * wall-clock seconds: exec_launch() entered (the task's checkpoint was
 * durable), the shim spawned (or the launcher asked to fork it), the shim's main()
 * ran, it had read its document, the task's command was executed (the
 * shim's vfork returned), the agent read its "R". Buffered; a
 * measurement aid, off unless asked for.
 */
static void trace_open(struct exec *x)
{
    const char *path = getenv("AGORA_EXEC_TRACE");
    int fd;

    if (!path || !*path)
        return;
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
              0600);
    if (fd < 0 || !(x->trace = fdopen(fd, "a"))) {
        log_warn(EXEC_LOG, "AGORA_EXEC_TRACE=%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
}

static void trace_line(struct task_exec *te)
{
    const double *tr = te->tr;

    if (!te->x->trace || tr[TR_LAUNCH] == 0 || tr[TR_RUNNING] == 0)
        return;
    fprintf(te->x->trace, "%s %.6f %.6f %.6f %.6f %.6f %.6f\n", te->t->id,
            tr[TR_LAUNCH], tr[TR_SPAWNED], tr[TR_SHIM_STARTED],
            tr[TR_SHIM_READ], tr[TR_TASK_EXEC], tr[TR_RUNNING]);
}

/* Where container tasks' images and directories are. 0 or -1 (out of
 * memory); a containers/ that cannot be made fails the launches. */
static int containers_init(struct exec *x, const struct exec_conf *conf)
{
    const char *copy = getenv("AGORA_CONTAINER_COPY");

    x->ctr_copy = copy && !strcmp(copy, "1");
    if (conf->allowed_volume_paths && *conf->allowed_volume_paths &&
        !(x->allowed_volume_paths = strdup(conf->allowed_volume_paths)))
        return -1;
    if (!conf->work_dir || !*conf->work_dir)
        return 0;
    if (!(x->work_dir = strdup(conf->work_dir)) ||
        !(x->net_bridge = strdup(conf->network_bridge && *conf->network_bridge
                                     ? conf->network_bridge
                                     : NET_DEFAULT_BRIDGE)) ||
        !(x->net_cidr = strdup(conf->network_cidr && *conf->network_cidr
                                   ? conf->network_cidr
                                   : NET_DEFAULT_CIDR)))
        return -1;
    if (asprintf(&x->images_dir, "%s/images", conf->work_dir) < 0) {
        x->images_dir = NULL;
        return -1;
    }
    if (asprintf(&x->containers_dir, "%s/containers", conf->work_dir) < 0) {
        x->containers_dir = NULL;
        return -1;
    }
    if (fs_mkdirs(x->containers_dir, 0700) != 0)
        log_warn(EXEC_LOG, "%s: %s", x->containers_dir, strerror(errno));
    return 0;
}

/* cgroups unless iso is "posix"; 0 or an agora_err, logged. */
static int isolation_init(struct exec *x, const char *iso, const char *root,
                          int enable_cfs)
{
    char err[1024] = "";
    int rc;

    if (strcmp(iso, "posix") == 0)
        return 0;
    if ((rc = cg_detect(&x->cg, iso, root, err, sizeof(err))) != 0) {
        log_error(EXEC_LOG, "--isolation=cgroups: %s", err);
        return rc;
    }
    if (x->cg.kind == CG_NONE)
        log_warn(EXEC_LOG, "using posix isolation: %s", err);
    x->cg.enable_cfs = enable_cfs;
    return 0;
}

int exec_init(struct exec **out, struct ev_loop *loop,
              const struct exec_conf *conf, const struct exec_hooks *hooks)
{
    struct exec *x;
    const char *iso = conf->isolation ? conf->isolation : "";
    const char *root = conf->cgroups_root && *conf->cgroups_root
                           ? conf->cgroups_root
                           : "agora";
    const char *path = getenv("PATH");
    int rc;

    *out = NULL;
    if (*iso && strcmp(iso, "cgroups") != 0 && strcmp(iso, "posix") != 0) {
        log_error(EXEC_LOG, "--isolation=%s: expected cgroups or posix", iso);
        return AGORA_EINVAL;
    }
    if (strstr(root, "..") || root[0] == '/') {
        log_error(EXEC_LOG, "--cgroups_root=%s: a relative name without '..'",
                  root);
        return AGORA_EINVAL;
    }
    if (!(x = calloc(1, sizeof(*x))))
        return AGORA_ENOMEM;
    x->loop = loop;
    x->hooks = *hooks;
    x->is_root = geteuid() == 0;
    x->default_loop = ev_is_default_loop(loop);
    x->hostname = host_name(conf->hostname);
    x->path = strdup(path && *path ? path : DEFAULT_PATH);
    x->shim_path = find_shim();
    if (!x->hostname || !x->path || !x->shim_path || users_init(x, conf) ||
        (conf->agent_id && !(x->agent_id = strdup(conf->agent_id))) ||
        containers_init(x, conf) != 0) {
        exec_free(x);
        return AGORA_ENOMEM;
    }
    raise_nofile(x);
    trace_open(x);
    /* The launch pipe's reader (a shim) may die: EPIPE, not a signal. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        log_warn(EXEC_LOG, "ignoring SIGPIPE: %s", strerror(errno));
    if ((rc = isolation_init(x, iso, root, conf->cgroups_enable_cfs)) != 0) {
        exec_free(x);
        return rc;
    }
    ev_timer_init(&x->rmdir_timer, rmdir_cb, RMDIR_INTERVAL, RMDIR_INTERVAL);
    x->rmdir_timer.data = x;
    ev_init(&x->pool_timer, pool_cb);
    x->pool_timer.repeat = FILL_INTERVAL;
    x->pool_timer.data = x;
    x->cgroups_ahead = conf->cgroups_ahead ? CG_POOL_KEEP : 0;
    pool_check(x);
    log_info(EXEC_LOG, "isolation %s%s%s, shim %s, tasks run as %s%s",
             cg_name(&x->cg), x->cg.kind != CG_NONE ? ", cgroups under " : "",
             x->cg.kind != CG_NONE ? x->cg.dir[CG_MEMORY] : "", x->shim_path,
             x->switch_user ? "their users, by default " : "the agent's user",
             !x->switch_user ? "" : x->default_user ? x->default_user
                                                    : "the agent's");
    /* AGORA_SHIM_LAUNCHER=0: every shim spawned (the bench's comparison) */
    if (!getenv("AGORA_SHIM_LAUNCHER") ||
        strcmp(getenv("AGORA_SHIM_LAUNCHER"), "0") != 0)
        x->launcher = launcher_start(loop, x->shim_path);
    *out = x;
    return 0;
}

const char *exec_isolation_name(const struct exec *x)
{
    return x ? cg_name(&x->cg) : "posix";
}

/* ------------------------------------------------------------------ */
/* Cgroups left behind: removed when their last process is gone */
/* ------------------------------------------------------------------ */

static void cgroup_release(struct exec *x, const char *name)
{
    struct rmdir_pending *r;
    size_t n;

    if (x->cg.kind == CG_NONE || !name)
        return;
    n = strlen(name);
    /* The shim swept its task's cgroups before it ended: usually they are
     * empty and go at once, without reading their process lists. */
    if (cg_remove(&x->cg, name) == 0)
        return;
    (void)cg_kill(&x->cg, name);
    if (cg_remove(&x->cg, name) == 0)
        return;
    log_debug(EXEC_LOG, "cgroup %s is busy, removing it later", name);
    if (!(r = malloc(sizeof(*r) + n + 1))) {
        log_warn(EXEC_LOG, "out of memory: cgroup %s left", name);
        return;
    }
    r->tries = 0;
    memcpy(r->id, name, n + 1);
    r->next = x->rmdirs;
    x->rmdirs = r;
    if (!ev_is_active(&x->rmdir_timer))
        ev_timer_again(x->loop, &x->rmdir_timer);
}

static void rmdir_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct exec *x = w->data;
    struct rmdir_pending **pp = &x->rmdirs, *r;

    while ((r = *pp)) {
        (void)cg_kill(&x->cg, r->id);
        int rc = cg_remove(&x->cg, r->id);
        if (rc == 0 || ++r->tries >= RMDIR_TRIES) {
            if (rc != 0)
                log_warn(EXEC_LOG, "giving up removing cgroup %s: %s", r->id,
                         strerror(-rc));
            *pp = r->next;
            free(r);
        } else {
            pp = &r->next;
        }
    }
    if (!x->rmdirs)
        ev_timer_stop(loop, w);
}

/* Trims or fills the pool while launches pause (they take and keep
 * cgroups themselves); stops once the pool is as an agent at rest keeps
 * it. */
static void pool_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct exec *x = w->data;
    size_t left;

    (void)revents;
    if (ev_now(loop) - x->last_launch < POOL_QUIET)
        return;
    if (x->cg.npool > CG_POOL_KEEP) {
        left = cg_pool_trim(&x->cg, TRIM_STEP);
        w->repeat = TRIM_INTERVAL;
    } else {
        left = cg_pool_fill(&x->cg, x->cgroups_ahead, FILL_STEP);
        w->repeat = FILL_INTERVAL;
    }
    if (left == 0)
        ev_timer_stop(loop, w);
    else
        ev_timer_again(loop, w);
}

/* A launch took a kept cgroup, or a task's was kept: pool_cb brings the
 * pool back once launches pause. */
static void pool_check(struct exec *x)
{
    if (x->cg.kind == CG_V1 && !ev_is_active(&x->pool_timer) &&
        (x->cg.npool > CG_POOL_KEEP || x->cg.npool < x->cgroups_ahead))
        ev_timer_again(x->loop, &x->pool_timer);
}

/* ------------------------------------------------------------------ */
/* Launch */
/* ------------------------------------------------------------------ */

static struct task_exec *te_new(struct exec *x, struct agent_task *t)
{
    struct task_exec *te = calloc(1, sizeof(*te));

    if (!te)
        return NULL;
    te->x = x;
    te->t = t;
    te->grace = EXEC_DEFAULT_GRACE;
    ev_io_init(&te->pidfd_io, NULL, -1, EV_READ);
    ev_io_init(&te->status_io, NULL, -1, EV_READ);
    ev_io_init(&te->oom_io, NULL, -1, EV_READ);
    ev_io_init(&te->launch_io, NULL, -1, EV_WRITE);
    te->pidfd_io.data = te->status_io.data = te->oom_io.data = te;
    te->launch_io.data = te;
    te->child.data = te;
    te->kill_timer.data = te->probe_timer.data = te;
    ev_init(&te->kill_timer, kill_cb);
    ev_init(&te->probe_timer, probe_cb);
    te->next = x->tasks;
    if (x->tasks)
        x->tasks->prev = te;
    x->tasks = te;
    t->exec = te;
    return te;
}

static void io_close(struct ev_loop *loop, ev_io *w)
{
    ev_io_stop(loop, w);
    if (w->fd >= 0)
        close(w->fd);
    ev_io_set(w, -1, EV_READ);
}

/* Stops everything that watches te; kills nothing. */
static void te_quiet(struct task_exec *te)
{
    struct ev_loop *loop = te->x->loop;

    if (ev_is_active(&te->child))
        ev_child_stop(loop, &te->child);
    io_close(loop, &te->pidfd_io);
    io_close(loop, &te->status_io);
    ev_io_stop(loop, &te->oom_io); /* its fd may go with the cgroup */
    io_close(loop, &te->launch_io);
    free(te->launch_doc);
    te->launch_doc = NULL;
    ev_timer_stop(loop, &te->kill_timer);
    ev_timer_stop(loop, &te->probe_timer);
    health_stop(te->health);
    te->health = NULL;
    launcher_cancel(te->fork_req);
    te->fork_req = NULL;
}

static void te_free(struct task_exec *te)
{
    struct exec *x = te->x;

    te_quiet(te);
    io_close(x->loop, &te->oom_io);
    if (te->prev)
        te->prev->next = te->next;
    else
        x->tasks = te->next;
    if (te->next)
        te->next->prev = te->prev;
    if (te->t->exec == te)
        te->t->exec = NULL;
    free(te->hc);
    free(te->docker_name);
    free(te->cgname);
    free(te);
}

/* A recovered task's cgroups: the name its shim gave in the meta file (a
 * slot), else its id (an older agent named them so). A launched task's
 * name is known from cg_create(). */
static void te_cgroup_known(struct task_exec *te, const struct exec_meta *m)
{
    const char *name;
    char *dup;

    if (te->x->cg.kind == CG_NONE || !te->recovered)
        return;
    if (m && m->cgroup[0])
        name = m->cgroup;
    else if (te->cgname)
        return; /* the meta file says nothing new */
    else
        name = te->t->id;
    if (te->cgname && strcmp(te->cgname, name) == 0)
        return;
    if ((dup = strdup(name))) {
        free(te->cgname);
        te->cgname = dup;
    }
}

/* The launch document's "container" (container_int.h). */
static void launch_doc_container(struct exec *x, struct agent_task *t,
                                 const struct exec_spec *s,
                                 struct agora_jw *w)
{
    char dir[4096];

    snprintf(dir, sizeof(dir), "%s/%s", x->containers_dir, t->id);
    agora_jw_key(w, "container");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "dir", dir);
    agora_jw_key(w, "layers");
    agora_jw_arr_open(w);
    for (size_t i = 0; i < s->img.nlayers; i++)
        agora_jw_str(w, s->img.layers[i]);
    agora_jw_arr_close(w);
    agora_jw_kbool(w, "copy", x->ctr_copy);
    agora_jw_kstr(w, "sandbox", t->sandbox);
    agora_jw_kstr(w, "workdir", s->ctr_workdir);
    agora_jw_kstr(w, "hostname", x->hostname);
    agora_jw_kstr(w, "task_id", t->id);
    agora_jw_kbool(w, "bridge", s->ctr.net == CTR_NET_BRIDGE);
    if (s->ctr.net == CTR_NET_BRIDGE) {
        agora_jw_kstr(w, "net_bridge", x->net_bridge);
        agora_jw_kstr(w, "net_cidr", x->net_cidr);
        agora_jw_kstr(w, "net_work_dir", x->work_dir);
    }
    agora_jw_key(w, "ports");
    agora_jw_arr_open(w);
    for (size_t i = 0; i < s->ctr.nports; i++) {
        agora_jw_arr_open(w);
        agora_jw_int(w, s->ctr.ports[i].host_port);
        agora_jw_int(w, s->ctr.ports[i].container_port);
        agora_jw_int(w, s->ctr.ports[i].udp);
        agora_jw_arr_close(w);
    }
    agora_jw_arr_close(w);
    agora_jw_key(w, "volumes");
    agora_jw_arr_open(w);
    for (size_t i = 0; i < s->ctr.nvolumes; i++) {
        const struct ctr_volume *v = &s->ctr.volumes[i];
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "host", v->host_path);
        agora_jw_kstr(w, "container", v->container_path);
        agora_jw_kbool(w, "ro", v->ro);
        agora_jw_kbool(w, "in_sandbox", v->in_sandbox);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
}

/* A docker task's process: `docker run` (its environment in the
 * sandbox's env file, never in argv), the docker CLI's own environment,
 * and the `docker rm` its shim runs once it ended. */
struct docker_run {
    char **argv, **env, **rm, **inspect;
    char env_file[4096]; /* removed by the shim with the container */
};

static void docker_run_free(struct docker_run *dr)
{
    docker_argv_free(dr->argv);
    exec_strv_free(dr->env);
    docker_argv_free(dr->rm);
    docker_argv_free(dr->inspect);
}

char **exec_docker_cli_env(const struct exec *x)
{
    static const char *const keep[] = {"DOCKER_HOST", "DOCKER_CONFIG",
                                       "DOCKER_CERT_PATH",
                                       "DOCKER_TLS_VERIFY"};
    size_t n = 0, cap = 3 + sizeof(keep) / sizeof(keep[0]);
    char **v = calloc(cap, sizeof(*v));
    const char *val;

    if (!v || asprintf(&v[n++], "PATH=%s", x->path) < 0 ||
        !(v[n++] = strdup("HOME=/root"))) {
        exec_strv_free(v);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if ((val = getenv(keep[i])) &&
            asprintf(&v[n++], "%s=%s", keep[i], val) < 0) {
            v[n - 1] = NULL;
            exec_strv_free(v);
            return NULL;
        }
    return v;
}

static int docker_run_build(struct exec *x, const struct agent_task *t,
                            const struct exec_spec *s, char **env,
                            struct docker_run *dr, char *err, size_t errlen)
{
    char name[EXEC_DOCKER_NAME];
    struct docker_task d;

    if (exec_docker_task(x, t, s->tree, name, &d) != 0) {
        snprintf(err, errlen, "the task id makes no docker container name");
        return -1;
    }
    d.env = env;
    d.cpus = s->cpus;
    d.mem_bytes = s->mem_bytes;
    /* Beside the meta file (0700 meta/): the task's secrets stay out of
     * the sandbox, which /files serves. The shim removes it at the end. */
    snprintf(dr->env_file, sizeof(dr->env_file), "%s" DOCKER_ENV_SUFFIX,
             t->meta_file);
    d.env_file = dr->env_file;
    if (docker_task_argv(&d, &dr->argv, err, errlen) != 0)
        return -1;
    if (!(dr->env = exec_docker_cli_env(x)) ||
        docker_rm_argv(x->docker_cli, name, &dr->rm) != 0 ||
        docker_inspect_argv(x->docker_cli, name, &dr->inspect) != 0) {
        snprintf(err, errlen, "out of memory");
        docker_run_free(dr);
        return -1;
    }
    return 0;
}

/* The launch document the shim reads from its fd 0 (shim.c), in *doc
 * (malloc'ed, *len bytes). 0 or AGORA_ENOMEM. */
static int launch_doc(struct exec *x, struct agent_task *t,
                      const struct exec_spec *s, char **env,
                      const struct docker_run *dr, const char *cgname,
                      char **out, size_t *outlen)
{
    struct agora_jw *w = agora_jw_new();
    char *dirs[CG_MAX_DIRS];
    size_t n = cgname ? cg_task_dirs(&x->cg, cgname, dirs) : 0, len;
    const char *doc;
    int rc = AGORA_ENOMEM;

    if (!w)
        goto out;
    agora_jw_obj_open(w);
    agora_jw_key(w, "argv");
    agora_jw_arr_open(w);
    if (dr) {
        for (char **a = dr->argv; *a; a++)
            agora_jw_str(w, *a);
    } else if (s->has_ctr) {
        for (const char **a = s->ctr_argv; *a; a++)
            agora_jw_str(w, *a);
    } else if (s->command) {
        agora_jw_str(w, "/bin/sh");
        agora_jw_str(w, "-c");
        agora_jw_str(w, s->command);
    } else {
        for (size_t i = 0; i < s->argv->u.array.len; i++)
            agora_jw_str(w, YAJL_GET_STRING(s->argv->u.array.values[i]));
    }
    agora_jw_arr_close(w);
    agora_jw_key(w, "env");
    agora_jw_arr_open(w);
    for (char **e = dr ? dr->env : env; *e; e++)
        agora_jw_str(w, *e);
    agora_jw_arr_close(w);
    if (dr) { /* run by the shim once the task ended */
        agora_jw_key(w, "cleanup");
        agora_jw_arr_open(w);
        for (char **a = dr->rm; *a; a++)
            agora_jw_str(w, *a);
        agora_jw_arr_close(w);
        agora_jw_kstr(w, "cleanup_file", dr->env_file);
        agora_jw_key(w, "inspect"); /* its address, before RUNNING */
        agora_jw_arr_open(w);
        for (char **a = dr->inspect; *a; a++)
            agora_jw_str(w, *a);
        agora_jw_arr_close(w);
    }
    agora_jw_kstr(w, "cwd", t->sandbox);
    if (s->switch_user) {
        agora_jw_kstr(w, "user", s->user);
        agora_jw_kint(w, "uid", (int64_t)s->uid);
        agora_jw_kint(w, "gid", (int64_t)s->gid);
        agora_jw_key(w, "groups"); /* none: a container's, its gid */
        agora_jw_arr_open(w);
        for (int i = 0; i < s->ngroups; i++)
            agora_jw_int(w, (int64_t)s->groups[i]);
        agora_jw_arr_close(w);
    }
    agora_jw_key(w, "cgroups");
    agora_jw_arr_open(w);
    for (size_t i = 0; i < n; i++)
        agora_jw_str(w, dirs[i]);
    agora_jw_arr_close(w);
    agora_jw_kbool(w, "cgroup_v2", x->cg.kind == CG_V2);
    agora_jw_key(w, "nofile");
    agora_jw_arr_open(w);
    agora_jw_int(w, (int64_t)x->nofile.rlim_cur);
    agora_jw_int(w, (int64_t)x->nofile.rlim_max);
    agora_jw_arr_close(w);
    if (s->has_ctr)
        launch_doc_container(x, t, s, w);
    agora_jw_obj_close(w);
    if (!(doc = agora_jw_result(w, &len)) || !(*out = malloc(len)))
        goto out;
    memcpy(*out, doc, len);
    *outlen = len;
    rc = 0;
out:
    agora_jw_free(w);
    cg_dirs_free(dirs, n);
    return rc;
}

/*
 * Makes directory path (mode, owned by uid:gid; uid -1: by whoever makes
 * it) or brings an existing one to that: an earlier run under the same
 * id, or an older agent that made it 0755. The directory itself is
 * opened with O_NOFOLLOW (its parent is the agent's). 0 or -1 (errno).
 */
static int dir_prepare(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
    struct stat st;
    int fd, rc = 0;

    if (fs_mkdirs(path, mode) != 0)
        return -1;
    if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return -1;
    if (fstat(fd, &st) != 0)
        rc = -1;
    else if (uid != (uid_t)-1 && (st.st_uid != uid || st.st_gid != gid) &&
             fchown(fd, uid, gid) != 0)
        rc = -1;
    else if ((st.st_mode & 07777) != mode && fchmod(fd, mode) != 0)
        rc = -1;
    if (rc != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    close(fd);
    return 0;
}

/* Sandbox, meta dir, cgroups (their name in *cgname and a kept one's OOM
 * eventfd in *oom_fd, the caller's to free, release and close, also on
 * a failure), the launch document (in *doc, *len). 0, or -1 with err
 * set. */
static int prepare(struct exec *x, struct agent_task *t,
                   const struct exec_spec *s, char **cgname, int *oom_fd,
                   char **doc, size_t *len, char *err, size_t errlen)
{
    struct docker_run dr = {NULL, NULL, NULL, NULL, ""};
    char **env;
    int rc;

    if (!t->sandbox || !t->meta_file) {
        snprintf(err, errlen, "the task has no sandbox or meta directory");
        return -1;
    }
    /* The sandbox is the task user's and its group's; meta/ the agent's
     * alone (it names pids the agent signals). */
    if (dir_prepare(t->sandbox, 0750, s->switch_user ? s->uid : (uid_t)-1,
                    s->gid) != 0) {
        snprintf(err, errlen, "creating the sandbox: %s", strerror(errno));
        return -1;
    }
    /* What an earlier run under this id left would mislead recovery (and
     * an older agent's launch.json held the task's environment). */
    if ((rc = exec_meta_reset(t->meta_file)) != 0) {
        snprintf(err, errlen, "removing %s: %s", t->meta_file, strerror(-rc));
        return -1;
    }
    if (x->cg.kind != CG_NONE &&
        cg_create(&x->cg, t->id, s->cpus, s->mem_bytes, cgname, oom_fd, err,
                  errlen) != 0)
        return -1;
    pool_check(x);
    if (!(env = exec_task_env(x, t, s))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (s->docker && docker_run_build(x, t, s, env, &dr, err, errlen) != 0) {
        exec_strv_free(env);
        return -1;
    }
    rc = launch_doc(x, t, s, env, s->docker ? &dr : NULL, *cgname, doc, len);
    if (s->docker)
        docker_run_free(&dr);
    exec_strv_free(env);
    if (rc != 0) {
        snprintf(err, errlen, "the launch document: %s", agora_strerror(rc));
        return -1;
    }
    return 0;
}

/* A shim's two pipes: p the status pipe, l the launch pipe (the agent's
 * ends non-blocking). 0 or an errno value. */
static int shim_pipes(int p[2], int l[2])
{
    int rc;

    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
        return errno;
    if (pipe2(l, O_CLOEXEC) != 0) {
        rc = errno;
        close(p[0]);
        close(p[1]);
        return rc;
    }
    /* The agent's end only: the shim reads its end blocking. */
    (void)fcntl(l[1], F_SETFL, O_NONBLOCK);
    return 0;
}

/* Spawns t's shim, the agent's child, in a session of its own: fd 0 the
 * launch pipe, 1-2 /dev/null, 3 the status pipe. 0 with *pid,
 * *status_fd (the status pipe's read end) and *launch_fd (the launch
 * pipe's write end), or an errno value. */
static int spawn_shim(struct exec *x, struct agent_task *t, pid_t *pid,
                      int *status_fd, int *launch_fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    char *argv[] = {EXEC_SHIM_ARGV0, "--shim", t->meta_file, NULL};
    int p[2], l[2], rc;

    if ((rc = shim_pipes(p, l)) != 0)
        return rc;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_adddup2(&fa, l[0], 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_adddup2(&fa, p[1], EXEC_STATUS_FD);
    posix_spawn_file_actions_addclosefrom_np(&fa, EXEC_STATUS_FD + 1);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    rc = posix_spawn(pid, x->shim_path, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(p[1]);
    close(l[0]);
    if (rc != 0) {
        close(p[0]);
        close(l[1]);
        return rc;
    }
    *status_fd = p[0];
    *launch_fd = l[1];
    return 0;
}

/* The launch failed before the shim ran: te is freed, t reported. */
static void launch_failed(struct task_exec *te, const char *msg)
{
    struct exec *x = te->x;
    struct agent_task *t = te->t;

    log_warn(EXEC_LOG, "task %s: %s", t->id, msg);
    cgroup_release(x, te->cgname);
    te_free(te);
    exec_report(x, t, AGORA_TASK_FAILED, "REASON_CONTAINER_LAUNCH_FAILED", msg,
                -1);
}

static void shim_started(struct task_exec *te, pid_t pid, int pidfd,
                         int status_fd, int launch_fd);

/* The launcher's answer for te (launcher_cb). */
static void fork_done(void *arg, pid_t pid, int pidfd, int err, int lost)
{
    struct task_exec *te = arg;
    struct exec *x = te->x;
    int sfd = te->status_io.fd, lfd = te->launch_io.fd;
    char msg[256];

    te->fork_req = NULL;
    if (pid > 0) {
        ev_io_set(&te->status_io, -1, EV_READ);
        ev_io_set(&te->launch_io, -1, EV_WRITE);
        shim_started(te, pid, pidfd, sfd, lfd);
        return;
    }
    /* A shim forked unanswered reads EOF here and ends unstarted. */
    io_close(x->loop, &te->status_io);
    io_close(x->loop, &te->launch_io);
    if (lost) {
        snprintf(msg, sizeof(msg),
                 "the shim launcher stopped before it answered (%s); a shim "
                 "may have been forked, so none is started again",
                 strerror(err));
        launch_failed(te, msg);
        return;
    }
    /* It answered that it forked nothing: spawn the shim here. */
    if ((err = spawn_shim(x, te->t, &pid, &sfd, &lfd)) != 0) {
        snprintf(msg, sizeof(msg), "cannot spawn the task's shim: %s",
                 strerror(err));
        launch_failed(te, msg);
        return;
    }
    shim_started(te, pid, -1, sfd, lfd);
}

/* A launcher that broke goes; a new one may start a second after. */
static void launcher_drop_broken(struct exec *x)
{
    if (x->launcher && launcher_broken(x->launcher)) {
        x->launcher_retry = launcher_broken(x->launcher) + 1.0;
        launcher_stop(x->launcher);
        x->launcher = NULL;
    }
}

/* Asks the launcher to fork te's shim (launcher.h): 0 when asked, and
 * fork_done() follows on the loop; else an errno value, nothing was
 * sent, and the caller spawns the shim itself. A broken launcher is
 * replaced a second after it broke. */
static int fork_shim(struct exec *x, struct task_exec *te)
{
    int p[2], l[2], rc;

    launcher_drop_broken(x);
    if (!x->launcher && x->launcher_retry > 0 &&
        ev_time() >= x->launcher_retry) {
        x->launcher_retry = 0;
        x->launcher = launcher_start(x->loop, x->shim_path);
    }
    if (!x->launcher)
        return ENOENT;
    if ((rc = shim_pipes(p, l)) != 0)
        return rc;
    rc = launcher_request(x->launcher, te->t->meta_file, l[0], p[1], fork_done,
                          te, &te->fork_req);
    close(p[1]);
    close(l[0]);
    if (rc != 0) {
        close(p[0]);
        close(l[1]);
        launcher_drop_broken(x); /* it may have broken just now */
        return rc;
    }
    ev_io_set(&te->status_io, p[0], EV_READ);
    ev_io_set(&te->launch_io, l[1], EV_WRITE);
    if (x->trace) /* the agent's part ends here; the fork is the shim's */
        te->tr[TR_SPAWNED] = ev_time();
    return 0;
}

static void launch_cb(struct ev_loop *loop, ev_io *w, int revents);

/* Writes what the launch pipe takes of te's document; closes the pipe
 * once all is written (the shim reads to EOF) or the shim is gone. */
static void launch_write(struct task_exec *te)
{
    ssize_t n;

    while (te->launch_off < te->launch_len) {
        n = write(te->launch_io.fd, te->launch_doc + te->launch_off,
                  te->launch_len - te->launch_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!ev_is_active(&te->launch_io)) {
                ev_set_cb(&te->launch_io, launch_cb);
                ev_io_start(te->x->loop, &te->launch_io);
            }
            return;
        }
        if (n <= 0)
            break; /* EPIPE: the shim died, its end reports it */
        te->launch_off += (size_t)n;
    }
    io_close(te->x->loop, &te->launch_io);
    free(te->launch_doc);
    te->launch_doc = NULL;
}

static void launch_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    launch_write(w->data);
}

static void status_cb(struct ev_loop *loop, ev_io *w, int revents);
static void child_cb(struct ev_loop *loop, ev_child *w, int revents);
static void oom_cb(struct ev_loop *loop, ev_io *w, int revents);

static void watch_oom(struct task_exec *te)
{
    /* A kept cgroup's is registered already (cg_create()). */
    int fd = te->oom_io.fd >= 0 ? te->oom_io.fd
             : te->cgname       ? cg_oom_eventfd(&te->x->cg, te->cgname)
                                : -1;

    if (fd < 0)
        return;
    ev_io_init(&te->oom_io, oom_cb, fd, EV_READ);
    ev_io_start(te->x->loop, &te->oom_io);
}

/* A docker task's container name, kept for its kill. 0 or -1. */
static int te_docker_name(struct task_exec *te, const struct agent_task *t)
{
    char name[EXEC_DOCKER_NAME];

    if (docker_name(t->id, name, sizeof(name)) != 0)
        return -1;
    return (te->docker_name = strdup(name)) ? 0 : -1;
}

void exec_set_docker(struct exec *x, const char *cli)
{
    free(x->docker_cli);
    x->docker_cli = cli ? strdup(cli) : NULL;
}

int exec_launch(struct exec *x, struct agent_task *t)
{
    struct exec_spec s;
    struct task_exec *te;
    char err[512], *doc = NULL, *cgname = NULL;
    size_t doclen = 0;
    pid_t pid;
    int rc, fd, lfd, oom_fd = -1;

    double t0 = x && x->trace ? ev_time() : 0;

    if (!x)
        return AGORA_ESTATE;
    if (t->exec)
        return AGORA_EEXIST;
    x->last_launch = ev_now(x->loop);
    rc = exec_spec_parse(x, t, &s, err, sizeof(err));
    if (rc == AGORA_ENOMEM) {
        exec_spec_free(&s);
        return rc;
    }
    if (rc != 0) {
        exec_spec_free(&s);
        log_info(EXEC_LOG, "task %s is invalid: %s", t->id ? t->id : "?", err);
        exec_report(x, t, AGORA_TASK_ERROR, "REASON_TASK_INVALID", err, -1);
        return 0;
    }
    if ((rc = exec_spec_image(x, &s, err, sizeof(err))) != 0) {
        int failed = rc == AGORA_ENOENT || rc == AGORA_EIO;
        exec_spec_free(&s);
        if (rc == AGORA_ENOMEM)
            return rc;
        log_info(EXEC_LOG, "task %s: %s", t->id, err);
        exec_report(x, t, failed ? AGORA_TASK_FAILED : AGORA_TASK_ERROR,
                    failed ? "REASON_CONTAINER_LAUNCH_FAILED"
                           : "REASON_TASK_INVALID",
                    err, -1);
        return 0;
    }
    if (prepare(x, t, &s, &cgname, &oom_fd, &doc, &doclen, err,
                sizeof(err)) != 0) {
        exec_spec_free(&s);
        cgroup_release(x, cgname);
        free(cgname);
        if (oom_fd >= 0)
            close(oom_fd);
        log_warn(EXEC_LOG, "task %s: %s", t->id, err);
        exec_report(x, t, AGORA_TASK_FAILED, "REASON_CONTAINER_LAUNCH_FAILED",
                    err, -1);
        return 0;
    }
    if (!(te = te_new(x, t))) {
        exec_spec_free(&s);
        cgroup_release(x, cgname);
        free(cgname);
        if (oom_fd >= 0)
            close(oom_fd);
        free(doc);
        return AGORA_ENOMEM;
    }
    te->cgname = cgname;
    ev_io_set(&te->oom_io, oom_fd, EV_READ); /* a kept cgroup's, or -1 */
    te->tr[TR_LAUNCH] = t0;
    te->launch_doc = doc;
    te->launch_len = doclen;
    te->grace = s.grace;
    te->cpus = s.cpus;
    te->mem_bytes = s.mem_bytes;
    te->is_ctr = s.has_ctr;
    if ((s.docker && te_docker_name(te, t) != 0) ||
        (s.has_health && !(te->hc = health_conf_dup(&s.hc)))) {
        cgroup_release(x, te->cgname);
        te_free(te);
        exec_spec_free(&s);
        return AGORA_ENOMEM;
    }
    exec_spec_free(&s);
    if (fork_shim(x, te) == 0)
        return 0; /* fork_done() goes on */
    if ((rc = spawn_shim(x, t, &pid, &fd, &lfd)) != 0) {
        snprintf(err, sizeof(err), "cannot spawn the task's shim: %s",
                 strerror(rc));
        launch_failed(te, err);
        return 0;
    }
    shim_started(te, pid, -1, fd, lfd);
    return 0;
}

/*
 * t's shim runs (forked by the launcher: pidfd >= 0; else the agent's
 * child): its launch document goes down the launch pipe, its status pipe
 * and its end are watched, and STARTING is reported. A kill that came
 * while the launcher forked it reaches it now.
 */
static void shim_started(struct task_exec *te, pid_t pid, int pidfd,
                         int status_fd, int launch_fd)
{
    struct exec *x = te->x;
    struct agent_task *t = te->t;
    char err[256];
    int pfd;

    t->shim_pid = pid;
    t->pid = 0;
    /* Killed while the launcher forked it: signalled before it has its
     * document, it never starts the task (shim.c). */
    if (te->kill_requested)
        (void)kill(pid, te->sigkill_sent ? SIGKILL : SIGTERM);
    ev_io_set(&te->launch_io, launch_fd, EV_WRITE);
    launch_write(te);
    if (x->trace && !te->tr[TR_SPAWNED])
        te->tr[TR_SPAWNED] = ev_time();
    ev_io_init(&te->status_io, status_cb, status_fd, EV_READ);
    ev_io_start(x->loop, &te->status_io);
    if (pidfd < 0 && x->default_loop) {
        ev_child_init(&te->child, child_cb, pid, 0);
        ev_child_start(x->loop, &te->child);
    } else {
        pfd = pidfd >= 0 ? pidfd : (int)syscall(SYS_pidfd_open, pid, 0);
        if (pfd < 0) {
            snprintf(err, sizeof(err), "cannot watch the task's shim: %s",
                     strerror(errno));
            (void)kill(pid, SIGKILL);
            (void)waitpid(pid, NULL, 0); /* no child watcher to reap it */
            launch_failed(te, err);
            return;
        }
        ev_io_init(&te->pidfd_io, pidfd_cb, pfd, EV_READ);
        ev_io_start(x->loop, &te->pidfd_io);
    }
    watch_oom(te);
    log_debug(EXEC_LOG, "task %s: shim %d", t->id, (int)pid);
    if (!te->kill_requested) /* else KILLING was reported */
        update(te, AGORA_TASK_STARTING, NULL, NULL, t->healthy);
}

/* ------------------------------------------------------------------ */
/* Running */
/* ------------------------------------------------------------------ */

static void signal_task(struct task_exec *te, int sig)
{
    struct agent_task *t = te->t;

    if (t->pid > 0 && kill(-t->pid, sig) != 0 && errno != ESRCH)
        log_warn(EXEC_LOG, "task %s: kill(-%d, %d): %s", t->id, (int)t->pid,
                 sig, strerror(errno));
}

static void start_health(struct task_exec *te)
{
    if (te->hc && !te->health && !te->kill_requested && !te->ended)
        te->health = health_start(te->x, te->t, te->hc);
}

/* The command was executed: RUNNING, checkpointed. */
static void became_running(struct task_exec *te, pid_t pid, double start,
                           int live)
{
    struct agent_task *t = te->t;

    te->running = 1;
    t->pid = pid;
    t->start_time = start;
    checkpoint(te);
    update(te, AGORA_TASK_RUNNING, NULL, NULL, t->healthy);
    /* live: the shim still runs (else its task is gone: no signals). */
    if (!live || te->ended)
        return;
    if (te->kill_requested)
        signal_task(te, te->sigkill_sent ? SIGKILL : SIGTERM);
    else
        start_health(te);
}

/* Reads the shim's pipe: "R <pid>\n" once; EOF when the shim is gone. */
static void read_status(struct task_exec *te, int live)
{
    char buf[128], ip[46] = "";
    ssize_t n;
    int pid;

    if (te->status_io.fd < 0)
        return;
    do
        n = read(te->status_io.fd, buf, sizeof(buf) - 1);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return;
    io_close(te->x->loop, &te->status_io);
    if (n <= 0)
        return;
    buf[n] = '\0';
    if (sscanf(buf, "R %d %lf %lf %lf %45s", &pid, &te->tr[TR_SHIM_STARTED],
               &te->tr[TR_SHIM_READ], &te->tr[TR_TASK_EXEC], ip) >= 1 &&
        pid > 0 && !te->running) {
        snprintf(te->t->container_ip, sizeof(te->t->container_ip), "%s",
                 strcmp(ip, "-") ? ip : "");
        if (te->x->trace)
            te->tr[TR_RUNNING] = ev_time();
        became_running(te, pid, exec_now(te->x), live);
    }
}

static void status_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    read_status(w->data, 1);
}

static void shim_gone(struct task_exec *te, int have_status, int status)
{
    if (te->ended)
        return;
    /* The pipe may still hold "R": RUNNING comes before the end. */
    read_status(te, 0);
    te_quiet(te);
    finish(te, have_status, status);
}

static void child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
    struct task_exec *te = w->data;

    ev_child_stop(loop, w);
    shim_gone(te, 1, w->rstatus);
}

/* The shim ended. Its status is known when it is the agent's child (a
 * spawned shim under another loop than libev's default one); a forked
 * one is the launcher's, a recovered one init's: ECHILD. The pidfd, not
 * the pid, names it: a pid reused by another child is never reaped. */
static void pidfd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct task_exec *te = w->data;
    siginfo_t si;
    int status = 0, have;

    memset(&si, 0, sizeof(si));
    have = waitid(P_PIDFD, (id_t)w->fd, &si, WEXITED | WNOHANG) == 0 &&
           si.si_pid != 0;
    if (have)
        status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8
                                          : si.si_status & 0x7f;
    shim_gone(te, have, status);
}

/*
 * The memory cgroup's OOM notification. v1 signals it on an OOM and when
 * the cgroup is removed, which is never while the task runs (a kept
 * cgroup's eventfd is closed before its removal): it is the OOM. The
 * oom_kill counter is not read here: it is raised after the notification,
 * and was found still 0 in 3 of 5 runs of oom_in_kept_cgroup.
 */
static void oom_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct task_exec *te = w->data;
    uint64_t n;

    if (read(w->fd, &n, sizeof(n)) < 0 && errno == EAGAIN)
        return;
    /* As Mesos: a task over its memory limit is ended, all of it. */
    log_info(EXEC_LOG, "task %s: out of memory, killing it", te->t->id);
    te->oom = 1;
    io_close(loop, w);
    signal_task(te, SIGKILL);
    (void)cg_kill(&te->x->cg, te->cgname);
}

/* ------------------------------------------------------------------ */
/* The end */
/* ------------------------------------------------------------------ */

/* Whether the OOM eventfd fd was signalled (and not yet read). */
static int oom_notified(int fd)
{
    uint64_t n = 0;

    return read(fd, &n, sizeof(n)) == (ssize_t)sizeof(n) && n > 0;
}

static void describe(const struct exec_meta *ex, char *msg, size_t len)
{
    if (ex->end == EXEC_END_EXITED)
        snprintf(msg, len, "Command exited with status %d", ex->a);
    else if (ex->end == EXEC_END_SIGNALED)
        snprintf(msg, len, "Command terminated by signal %d (%s)", ex->a,
                 strsignal(ex->a));
    else
        snprintf(msg, len, "Command could not be started (%s): %s",
                 exec_stage_name(ex->a), ex->why[0] ? ex->why
                                                    : strerror(ex->b));
}

/* Under posix, a task whose shim died may still run: kill its group,
 * if its leader is still the process the shim started. */
static void kill_orphan_group(struct task_exec *te, const struct exec_meta *p)
{
    struct proc_stat st;

    if (!p->has_pids || p->task <= 0)
        return;
    if (exec_proc_stat(p->task, &st) == 0 && st.starttime == p->task_start &&
        st.pgrp == p->task)
        (void)kill(-p->task, SIGKILL);
}

/*
 * A container's directory, which its shim removes after the task; here
 * when the shim could not (killed). Its mounts were in the shim's mount
 * namespace and the task's, gone with them.
 */
static void container_dir_remove(struct exec *x, struct agent_task *t)
{
    char dir[4096];
    int rc;

    snprintf(dir, sizeof(dir), "%s/%s", x->containers_dir, t->id);
    if ((rc = ctr_tree_remove(dir)) != 0)
        log_warn(EXEC_LOG, "task %s: removing %s: %s", t->id, dir,
                 strerror(-rc));
}

/*
 * The shim is gone: reports the terminal state from its meta file (and
 * the cgroup's OOM counter), and kills and removes what is left. te is
 * freed by exec_forget() later; nothing touches it after the update.
 */
static void finish(struct task_exec *te, int have_status, int status)
{
    struct exec *x = te->x;
    struct agent_task *t = te->t;
    struct exec_meta ex;
    struct cg_oom o = {0, 0, 0};
    const char *reason = NULL;
    enum agora_task_state st;
    char msg[384];
    int healthy = t->healthy, oom_fd, keep;

    te->ended = 1;
    trace_line(te);
    (void)exec_meta_read(t->meta_file, &ex);
    te_cgroup_known(te, &ex);
    /* v1: the OOM eventfd, watched since before the task started, tells
     * (its notification may still wait behind this one); as for Mesos, a
     * kill by the machine's own OOM killer is not the task's limit. A
     * task without one (v2, recovered) asks its cgroup's counter. */
    if (!te->oom && te->oom_io.fd >= 0)
        te->oom = oom_notified(te->oom_io.fd);
    if (te->cgname && (te->oom || te->oom_io.fd < 0))
        (void)cg_oom_info(&x->cg, te->cgname, &o);
    if (ex.end == EXEC_END_NONE)
        kill_orphan_group(te, &ex);
    if (te->is_ctr)
        container_dir_remove(x, t);
    /* v1: kept for the next task, when this agent made them (it knows
     * their limits) and they saw no OOM; else removed. */
    ev_io_stop(x->loop, &te->oom_io);
    oom_fd = te->oom_io.fd;
    ev_io_set(&te->oom_io, -1, EV_READ);
    keep = te->cgname && !te->recovered && !o.oom_killed && !te->oom;
    if (!keep && oom_fd >= 0)
        close(oom_fd); /* else cg_release() takes it */
    if (keep && cg_release(&x->cg, te->cgname, te->cpus, te->mem_bytes,
                           oom_fd) == 0)
        pool_check(x);
    else if (te->cgname)
        cgroup_release(x, te->cgname);

    if (ex.end == EXEC_END_NONE) {
        st = te->kill_requested ? AGORA_TASK_KILLED : AGORA_TASK_FAILED;
        reason = "REASON_EXECUTOR_TERMINATED";
        if (te->found_dead)
            snprintf(msg, sizeof(msg), MSG_UNKNOWN);
        else if (have_status && WIFSIGNALED(status))
            snprintf(msg, sizeof(msg),
                     "the task's shim was killed by signal %d; the task's "
                     "exit status is unknown",
                     WTERMSIG(status));
        else
            snprintf(msg, sizeof(msg),
                     "the task's shim ended without an "
                     "exit status; it is unknown");
    } else if (te->oom || (o.oom_killed && ex.end != EXEC_END_FAILED)) {
        st = AGORA_TASK_FAILED;
        reason = "REASON_CONTAINER_LIMITATION_MEMORY";
        snprintf(msg, sizeof(msg),
                 "Memory limit exceeded: Requested: %" PRIu64
                 "MB Maximum Used: %" PRIu64 "MB",
                 (o.limit ? o.limit : te->mem_bytes) >> 20, o.max_used >> 20);
    } else {
        describe(&ex, msg, sizeof(msg));
        if (te->cleanup) {
            st = AGORA_TASK_KILLED;
            reason = "REASON_AGENT_RESTARTED";
        } else if (te->kill_requested) {
            st = AGORA_TASK_KILLED;
            if (te->health_kill)
                healthy = 0;
        } else if (ex.end == EXEC_END_FAILED) {
            st = AGORA_TASK_FAILED;
            reason = "REASON_CONTAINER_LAUNCH_FAILED";
        } else if (ex.end == EXEC_END_EXITED && ex.a == 0) {
            st = AGORA_TASK_FINISHED;
        } else {
            st = AGORA_TASK_FAILED;
        }
    }
    log_info(EXEC_LOG, "task %s: %s", t->id, msg);
    update(te, st, reason, msg, healthy);
}

/* ------------------------------------------------------------------ */
/* Kill */
/* ------------------------------------------------------------------ */

static void kill_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct task_exec *te = w->data;
    struct exec *x = te->x;

    if (!te->sigkill_sent)
        log_info(EXEC_LOG,
                 "task %s: still running after its grace period, "
                 "SIGKILL",
                 te->t->id);
    te->sigkill_sent = 1;
    if (te->running) {
        signal_task(te, SIGKILL);
    } else if (te->t->shim_pid > 0 && !te->recovered) {
        /* Still not started after the grace: end the shim, whatever it is
         * doing; the cgroup sweeps (here and until the cgroup is removed)
         * catch a task it may have forked meanwhile. */
        (void)kill(te->t->shim_pid, SIGKILL);
    }
    if (te->cgname)
        (void)cg_kill(&x->cg, te->cgname);
    /* Forks may race a kill: sweep again until the shim reports. */
    ev_timer_set(w, 1.0, 0.);
    ev_timer_start(loop, w);
}

/* A docker task's kill, as Mesos': `docker stop -t <grace> <name>` (the
 * engine's SIGTERM, then SIGKILL), a child libev reaps; the SIGKILL
 * after the grace still ends `docker run`, and its shim's `docker rm`
 * the container. 0, or -1 (then SIGTERM as for any task). */
static int docker_stop(struct task_exec *te, double grace)
{
    char **argv = NULL;
    pid_t pid;
    int rc;

    if (!te->x->docker_cli ||
        docker_stop_argv(te->x->docker_cli, te->docker_name, grace, &argv))
        return -1;
    rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    docker_argv_free(argv);
    if (rc != 0) {
        log_warn(EXEC_LOG, "task %s: docker stop: %s", te->t->id,
                 strerror(rc));
        return -1;
    }
    return 0;
}

static void kill_begin(struct task_exec *te, double grace)
{
    struct ev_loop *loop = te->x->loop;
    double now = ev_now(loop);

    te->kill_requested = 1;
    te->kill_start = now;
    te->kill_deadline = now + grace;
    health_stop(te->health);
    te->health = NULL;
    if (te->running && te->docker_name && docker_stop(te, grace) == 0)
        ; /* the engine stops it */
    else if (te->running)
        signal_task(te, SIGTERM);
    else if (te->t->shim_pid > 0 && !te->recovered)
        /* Not started yet: the shim forwards it, or never starts it. */
        (void)kill(te->t->shim_pid, SIGTERM);
    ev_timer_stop(loop, &te->kill_timer);
    ev_timer_set(&te->kill_timer, grace, 0.);
    ev_timer_start(loop, &te->kill_timer);
}

int exec_kill(struct exec *x, struct agent_task *t, double grace)
{
    struct task_exec *te = t->exec;
    double now;

    if (!te || te->ended)
        return AGORA_ESTATE;
    if (grace < 0)
        grace = te->grace;
    if (te->kill_requested) {
        /* A later kill may only shorten the grace (as Mesos). */
        now = ev_now(x->loop);
        if (te->sigkill_sent || te->kill_start + grace >= te->kill_deadline)
            return 0;
        te->kill_deadline = te->kill_start + grace;
        ev_timer_stop(x->loop, &te->kill_timer);
        ev_timer_set(&te->kill_timer,
                     te->kill_deadline > now ? te->kill_deadline - now : 0.,
                     0.);
        ev_timer_start(x->loop, &te->kill_timer);
        return 0;
    }
    log_info(EXEC_LOG, "task %s: killing, grace %.3gs", t->id, grace);
    kill_begin(te, grace);
    update(te, AGORA_TASK_KILLING, NULL, NULL, t->healthy);
    return 0;
}

void exec_health_kill(struct exec *x, struct agent_task *t)
{
    struct task_exec *te = t->exec;

    if (!te || te->ended || te->kill_requested)
        return;
    te->health_kill = 1;
    (void)exec_kill(x, t, -1);
}

/* ------------------------------------------------------------------ */
/* Recovery */
/* ------------------------------------------------------------------ */

/* pid is the shim of t: same starttime as recorded, else same argv. */
static int is_our_shim(pid_t pid, const struct exec_meta *p,
                       const struct agent_task *t)
{
    char path[64], buf[PATH_MAX + 64];
    struct proc_stat st;
    ssize_t n;
    size_t a0 = sizeof(EXEC_SHIM_ARGV0), a1 = sizeof("--shim");

    if (p && p->shim == pid && p->shim_start)
        return exec_proc_stat(pid, &st) == 0 && st.starttime == p->shim_start;
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    n = exec_read_file(AT_FDCWD, path, buf, sizeof(buf));
    return n > 0 && (size_t)n == a0 + a1 + strlen(t->meta_file) + 1 &&
           memcmp(buf, EXEC_SHIM_ARGV0, a0) == 0 &&
           memcmp(buf + a0, "--shim", a1) == 0 &&
           strcmp(buf + a0 + a1, t->meta_file) == 0;
}

/* A shim of t that started but has not written its pids line yet (the
 * agent died right after spawning it): found by its argv. 0 if none. */
static pid_t find_starting_shim(const struct agent_task *t)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;

    while (d && !found && (e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1)
            continue;
        if (is_our_shim((pid_t)pid, NULL, t))
            found = (pid_t)pid;
    }
    if (d)
        closedir(d);
    return found;
}

/* Kills everything of a task found at recovery with --recover=cleanup. */
static void cleanup_kill(struct task_exec *te, const struct exec_meta *p)
{
    struct proc_stat st;

    te->cleanup = 1;
    te->kill_requested = 1;
    te->sigkill_sent = 1;
    if (p->task > 0 && exec_proc_stat(p->task, &st) == 0 &&
        st.starttime == p->task_start)
        (void)kill(-p->task, SIGKILL);
    if (te->cgname)
        (void)cg_kill(&te->x->cg, te->cgname);
    ev_timer_stop(te->x->loop, &te->kill_timer);
    ev_timer_set(&te->kill_timer, 1.0, 0.);
    ev_timer_start(te->x->loop, &te->kill_timer);
}

/* The shim lives and its task was started: take it over. */
static void adopt_running(struct task_exec *te, const struct exec_meta *p)
{
    struct agent_task *t = te->t;

    ev_timer_stop(te->x->loop, &te->probe_timer);
    snprintf(t->container_ip, sizeof(t->container_ip), "%s", p->ip);
    if (t->state < AGORA_TASK_RUNNING || t->pid != p->task) {
        if (t->state < AGORA_TASK_RUNNING) {
            became_running(te, p->task, p->wall, 0);
        } else {
            t->pid = p->task;
            te->running = 1;
            checkpoint(te);
        }
    }
    te->running = 1;
    watch_oom(te);
    if (t->state == AGORA_TASK_KILLING)
        kill_begin(te, te->grace); /* the kill in progress goes on */
    else
        start_health(te);
}

/*
 * One look at a recovered task: adopt its shim if it lives, finish it if
 * its end is known, else look again shortly (a shim that was just being
 * spawned when the agent died).
 */
static void recover_step(struct task_exec *te)
{
    struct agent_task *t = te->t;
    struct ev_loop *loop = te->x->loop;
    struct exec_meta p;
    int have = exec_meta_read(t->meta_file, &p) == 0 && p.has_pids;
    pid_t shim = t->shim_pid > 0 ? t->shim_pid : (have ? p.shim : 0);

    te_cgroup_known(te, &p);
    if (shim <= 0 && te->pidfd_io.fd < 0 && t->state <= AGORA_TASK_STARTING)
        shim = find_starting_shim(t);
    if (te->pidfd_io.fd < 0 && shim > 0) {
        int fd = (int)syscall(SYS_pidfd_open, shim, 0);
        if (fd >= 0 && is_our_shim(shim, have ? &p : NULL, t)) {
            t->shim_pid = shim;
            ev_io_init(&te->pidfd_io, pidfd_cb, fd, EV_READ);
            ev_io_start(loop, &te->pidfd_io);
            log_info(EXEC_LOG, "task %s: adopted shim %d", t->id, (int)shim);
            if (te->cleanup)
                cleanup_kill(te, &p);
        } else if (fd >= 0) {
            close(fd);
        }
    }
    if (te->pidfd_io.fd >= 0) {
        if (te->cleanup)
            return;
        if (have && p.task > 0) {
            adopt_running(te, &p);
            return;
        }
    } else {
        int has_exit = p.end != EXEC_END_NONE;
        /* No shim found by its argv either: it was never spawned, or it
         * ended with nothing to say. A shim spawned just before the agent
         * died but not exec'ed yet reads EOF from the launch pipe, whose
         * writer died, and never starts the task. */
        if (!has_exit && !have && t->shim_pid <= 0) {
            te_quiet(te);
            te->ended = 1;
            update(te, AGORA_TASK_FAILED, "REASON_EXECUTOR_TERMINATED",
                   "the agent restarted before the task was started",
                   t->healthy);
            return;
        }
        if (has_exit || have || t->shim_pid > 0 ||
            ev_now(loop) >= te->probe_deadline) {
            te_quiet(te);
            te->found_dead = 1;
            finish(te, 0, 0);
            return;
        }
    }
    ev_timer_stop(loop, &te->probe_timer);
    ev_timer_set(&te->probe_timer, PROBE_INTERVAL, 0.);
    ev_timer_start(loop, &te->probe_timer);
}

static void probe_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    recover_step(w->data);
}

static int task_running(const struct exec *x, const char *id)
{
    for (const struct task_exec *te = x->tasks; te; te = te->next)
        if (!te->ended && strcmp(te->t->id, id) == 0)
            return 1;
    return 0;
}

void exec_sweep_containers(struct exec *x)
{
    DIR *d = x && x->containers_dir ? opendir(x->containers_dir) : NULL;
    struct dirent *e;
    char dir[4096];
    int rc;

    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' &&
            (e->d_name[1] == '\0' ||
             (e->d_name[1] == '.' && e->d_name[2] == '\0')))
            continue;
        if (task_running(x, e->d_name) ||
            (size_t)snprintf(dir, sizeof(dir), "%s/%s", x->containers_dir,
                             e->d_name) >= sizeof(dir))
            continue;
        log_info(EXEC_LOG, "removing %s, left by a task that is not running",
                 dir);
        if ((rc = ctr_tree_remove(dir)) != 0)
            log_warn(EXEC_LOG, "removing %s: %s", dir, strerror(-rc));
    }
    if (d)
        closedir(d);
}

/* An ended task's cgroups: the name in its meta file (read into m), else
 * its id (an older agent's layout). */
static const char *ended_task_cgroup(const struct agent_task *t,
                                     struct exec_meta *m)
{
    if (t->meta_file && exec_meta_read(t->meta_file, m) == 0 && m->cgroup[0])
        return m->cgroup;
    return t->id;
}

int exec_recover(struct exec *x, struct agent_task *t, int cleanup)
{
    struct exec_spec s;
    struct exec_meta m;
    struct task_exec *te;
    char err[256];
    int rc;

    if (!x)
        return AGORA_ESTATE;
    if (t->exec)
        return AGORA_EEXIST;
    if (agora_task_state_terminal(t->state)) {
        if (agora_id_valid(t->id, AGORA_ID_MAX))
            cgroup_release(x, ended_task_cgroup(t, &m));
        return 0;
    }
    if (!agora_id_valid(t->id, AGORA_ID_MAX) || !t->meta_file)
        return AGORA_EINVAL;
    if (!(te = te_new(x, t)))
        return AGORA_ENOMEM;
    te->recovered = 1;
    te_cgroup_known(te, NULL);
    te->cleanup = cleanup != 0;
    te->probe_deadline = ev_now(x->loop) + PROBE_TIMEOUT;
    rc = exec_spec_parse(x, t, &s, err, sizeof(err));
    if (rc == 0) {
        te->is_ctr = s.has_ctr;
        te->grace = s.grace;
        te->cpus = s.cpus;
        te->mem_bytes = s.mem_bytes;
        if (s.has_health)
            te->hc = health_conf_dup(&s.hc);
    } else {
        log_warn(EXEC_LOG, "task %s: recovering without its spec: %s", t->id,
                 err);
    }
    exec_spec_free(&s);
    recover_step(te);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Forget, usage, fini */
/* ------------------------------------------------------------------ */

const char *exec_task_cgroup(const struct agent_task *t)
{
    return t->exec ? t->exec->cgname : NULL;
}

void exec_forget(struct exec *x, struct agent_task *t)
{
    if (t->exec)
        te_free(t->exec);
}

int exec_usage(struct exec *x, struct agent_task *t, struct exec_usage *u)
{
    struct task_exec *te = t->exec;
    struct proc_stat st;
    long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);

    if (!te || te->ended || !te->running)
        return AGORA_ESTATE;
    memset(u, 0, sizeof(*u));
    u->cpus_limit = te->cpus;
    u->mem_limit_bytes = te->mem_bytes;
    u->timestamp = exec_now(x);
    if (te->cgname)
        return cg_usage(&x->cg, te->cgname, u);
    /* posix: the task's leader only (its children are not counted). */
    if (exec_proc_stat(t->pid, &st) != 0)
        return AGORA_ENOENT;
    if (hz <= 0)
        hz = 100;
    u->cpus_user_time_secs = (double)st.utime / (double)hz;
    u->cpus_system_time_secs = (double)st.stime / (double)hz;
    u->mem_rss_bytes = st.rss_pages * (uint64_t)(page > 0 ? page : 4096);
    u->processes = 1;
    return 0;
}

void exec_fini(struct exec *x)
{
    struct rmdir_pending *r;

    if (!x)
        return;
    while (x->tasks)
        te_free(x->tasks); /* the tasks go on under their shims */
    launcher_stop(x->launcher);
    x->launcher = NULL;
    ev_timer_stop(x->loop, &x->rmdir_timer);
    ev_timer_stop(x->loop, &x->pool_timer);
    /* Cgroups whose last processes were still dying: a last chance (the
     * agent is stopping, a short wait is fine), then they stay. */
    for (int round = 0; x->rmdirs && round < 20; round++) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
        rmdir_cb(x->loop, &x->rmdir_timer, 0);
    }
    while ((r = x->rmdirs)) {
        x->rmdirs = r->next;
        log_warn(EXEC_LOG, "cgroup %s is left behind", r->id);
        free(r);
    }
    exec_free(x);
}
