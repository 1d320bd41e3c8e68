/*
 * test_exec.c - the agent's exec layer with real processes: launch,
 * exit statuses, environment, kill with grace, OOM under a memory limit,
 * health checks (HTTP, TCP, COMMAND), recovery after a simulated agent
 * restart, usage, and launch latency.
 *
 * The test links the agora_exec library and stands in for the control
 * layer with its own hooks table (exec.h), whose hooks record what the
 * exec layer reports. The test binary is also the shim: main() hands
 * `--shim` to shim_main(), as agora-agent's main does.
 *
 * Cgroup tests run where a hierarchy is writable (root on this machine)
 * and print why they are skipped elsewhere.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/resources.h>
#include <agora/sdk.h>

#include "cgroups.h"
#include "exec.h"
#include "exec_int.h"
#include "launcher.h"
#include "fs.h"
#include "log.h"
#include "task.h"

/* ---- the control layer: the hooks ---- */

struct upd {
    const struct agent_task *t;
    enum agora_task_state state;
    char reason[64];
    char msg[256];
    int healthy;
    char health[AGORA_HEALTH_OUTPUT_MAX + 1]; /* t->health_output then */
    double at; /* monotonic */
    pid_t executor_pid; /* t->shim_pid then (the update's executor_pid) */
};

#define MAX_UPDS 8192
static struct upd upds[MAX_UPDS];
static size_t nupds;
static int checkpoints;

static double mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hook_task_update(void *arg, struct agent_task *t,
                             enum agora_task_state state, const char *reason,
                             const char *message, int healthy)
{
    struct upd *u;

    ck_assert_uint_lt(nupds, MAX_UPDS);
    u = &upds[nupds++];
    u->t = t;
    u->state = state;
    snprintf(u->reason, sizeof(u->reason), "%s", reason ? reason : "");
    snprintf(u->msg, sizeof(u->msg), "%s", message ? message : "");
    u->healthy = healthy;
    snprintf(u->health, sizeof(u->health), "%s",
             t->health_output ? t->health_output : "");
    u->at = mono();
    u->executor_pid = t->shim_pid;
    t->state = state;
    t->healthy = healthy;
}

static int hook_task_checkpoint(void *arg, struct agent_task *t)
{
    checkpoints++;
    return 0;
}

static double hook_now(void *arg)
{
    return ev_now(arg);
}

/* ---- fixture ---- */

static struct exec *X;
static struct ev_loop *Loop;
static char workdir[256], metadir[300];
static char cgroot[64];
static int run_id; /* main()'s pid: names this run's dirs and cgroups */
static char hostname_[] = "testhost";

/* Where work dirs go: AGORA_TEST_TMP, else /dev/shm (tmpfs: the figures
 * then measure agora, not a disk's inode allocator), else /tmp. */
static const char *tmp_base(void)
{
    const char *env = getenv("AGORA_TEST_TMP");

    if (env && *env)
        return env;
    return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

static void agent_up(const char *isolation)
{
    struct ev_loop *loop = Loop = ev_default_loop(0);
    const struct exec_hooks hooks = {
        .task_update = hook_task_update,
        .task_checkpoint = hook_task_checkpoint,
        .now = hook_now,
        .arg = loop,
    };
    const struct exec_conf conf = {
        .isolation = isolation,
        .cgroups_root = cgroot,
        .hostname = hostname_,
        /* Users switched as the agent's default, but tasks naming none
         * run as root here, as these tests' commands expect. */
        .switch_user = 1,
        .default_user = "root",
    };

    nupds = 0;
    checkpoints = 0;
    snprintf(workdir, sizeof(workdir), "%s/agora-exec-test-%d-%d", tmp_base(),
             run_id, (int)getpid());
    ck_assert_int_eq(mkdir(workdir, 0755) == 0 || errno == EEXIST, 1);
    /* The agent makes meta/tasks at start (agent.c); the shims write
     * their meta files there. */
    snprintf(metadir, sizeof(metadir), "%s/meta/tasks", workdir);
    ck_assert_int_eq(fs_mkdirs(metadir, 0700), 0);
    ck_assert_int_eq(exec_init(&X, loop, &conf, &hooks), 0);
    /* AGORA_TEST_SHIM: the agora-shim program instead of this binary */
    if (getenv("AGORA_TEST_SHIM") && *getenv("AGORA_TEST_SHIM")) {
        free(X->shim_path);
        X->shim_path = strdup(getenv("AGORA_TEST_SHIM"));
        /* the launcher of that program, too (launcher.h) */
        launcher_stop(X->launcher);
        X->launcher = launcher_start(Loop, X->shim_path);
        ck_assert_ptr_nonnull(X->launcher);
    }
}

static void agent_down(void)
{
    char cmd[512];

    exec_fini(X);
    X = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", workdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void setup(void)
{
    const char *iso = getenv("AGORA_TEST_ISOLATION");

    agent_up(iso ? iso : "");
}

static void setup_posix(void)
{
    agent_up("posix");
}

static int cgroups_on(void)
{
    return strcmp(exec_isolation_name(X), "posix") != 0;
}

static struct agent_task *task_new(const char *id, const char *spec)
{
    struct agent_task *t = calloc(1, sizeof(*t));
    char err[256];
    const char *res;
    yajl_val tree;

    ck_assert_ptr_nonnull(t);
    t->id = strdup(id);
    t->spec_json = strdup(spec); /* the task keeps only the text */
    tree = agora_json_parse(spec, err, sizeof(err));
    ck_assert_msg(tree != NULL, "bad test spec: %s", err);
    if (agora_json_str(tree, "resources", &res) == 0)
        (void)agora_resources_parse(res, &t->resources, err, sizeof(err));
    yajl_tree_free(tree);
    t->healthy = -1;
    t->state = AGORA_TASK_STAGING;
    ck_assert_int_ge(asprintf(&t->sandbox, "%s/sandboxes/%s", workdir, id), 0);
    ck_assert_int_ge(asprintf(&t->meta_file, "%s/meta/tasks/%s", workdir, id),
                     0);
    return t;
}

static void task_free(struct agent_task *t)
{
    exec_forget(X, t);
    agora_resources_free(&t->resources);
    free(t->id);
    free(t->spec_json);
    free(t->sandbox);
    free(t->meta_file);
    free(t->health_output);
    free(t);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {}

/* Runs the loop until cond(arg) or `secs` pass; returns cond's value. */
static int spin(double secs, int (*cond)(void *), void *arg)
{
    ev_timer tick;
    double end = mono() + secs;
    int ok;

    ev_timer_init(&tick, tick_cb, 0.01, 0.01);
    ev_timer_start(Loop, &tick);
    while (!(ok = cond(arg)) && mono() < end)
        ev_run(Loop, EVRUN_ONCE);
    ev_timer_stop(Loop, &tick);
    return ok;
}

static int never(void *arg)
{
    return 0;
}

static int is_terminal(void *arg)
{
    return agora_task_state_terminal(((struct agent_task *)arg)->state);
}

static const struct upd *last(const struct agent_task *t, int state);

/* RUNNING was reported (the task may have ended since). */
static int was_running(void *arg)
{
    return last(arg, AGORA_TASK_RUNNING) != NULL;
}

static int was_starting(void *arg)
{
    return last(arg, AGORA_TASK_STARTING) != NULL;
}

static void wait_end(struct agent_task *t, double secs)
{
    ck_assert_msg(spin(secs, is_terminal, t), "task %s did not end (state %d)",
                  t->id, t->state);
}

static void wait_running(struct agent_task *t)
{
    ck_assert_msg(spin(10, was_running, t), "task %s not running (state %d)",
                  t->id, t->state);
}

/* The last update of t, or its last one in `state`. */
static const struct upd *last(const struct agent_task *t, int state)
{
    for (size_t i = nupds; i-- > 0;)
        if (upds[i].t == t && (state < 0 || upds[i].state == (unsigned)state))
            return &upds[i];
    return NULL;
}

static size_t count_upds(const struct agent_task *t)
{
    size_t n = 0;

    for (size_t i = 0; i < nupds; i++)
        n += upds[i].t == t;
    return n;
}

static char *slurp(const char *dir, const char *name)
{
    static char buf[65536];
    char path[1024];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), *name ? "%s/%s" : "%s", dir, name);
    if (!(f = fopen(path, "r")))
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void touch(const char *dir, const char *name)
{
    char path[512];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

/* pid is gone: no such process, or a zombie nobody reaped yet. */
static int gone(pid_t pid)
{
    char path[64], buf[512], *p;
    FILE *f;

    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return 1;
    p = fgets(buf, sizeof(buf), f);
    fclose(f);
    return p && (p = strrchr(buf, ')')) && (p[2] == 'Z' || p[2] == 'X');
}

static int gone_cond(void *arg)
{
    return gone(*(pid_t *)arg);
}

static void assert_gone(pid_t pid)
{
    ck_assert_msg(spin(3, gone_cond, &pid), "process %d survived", (int)pid);
}

static int reaped_cond(void *arg)
{
    return kill(*(pid_t *)arg, 0) != 0 && errno == ESRCH;
}

/*
 * Waits for a shim's end while the agent is "down" (the loop does not
 * run): the test reaps a shim it spawned; one the launcher forked was
 * handed to init when restart() stopped the launcher (launcher.h).
 */
static void wait_shim_end(pid_t shim)
{
    int st;

    if (waitpid(shim, &st, 0) == shim)
        return;
    ck_assert_int_eq(errno, ECHILD);
    /* reaped, not a zombie: recovery would take a zombie for a shim */
    ck_assert_msg(spin(10, reaped_cond, &shim), "shim %d was not reaped",
                  (int)shim);
}

static pid_t read_pid(const char *dir, const char *name)
{
    char *s = slurp(dir, name);

    return s ? (pid_t)atoi(s) : 0;
}

struct file_arg {
    const char *dir, *name;
};

static int file_cond(void *arg)
{
    struct file_arg *f = arg;
    char *s = slurp(f->dir, f->name);

    return s && *s && strchr(s, '\n');
}

static void wait_file(const char *dir, const char *name)
{
    struct file_arg f = {dir, name};

    ck_assert_msg(spin(10, file_cond, &f), "no %s/%s", dir, name);
}

static int free_port(void)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    port = ntohs(sin.sin_port);
    close(fd);
    return port;
}

static struct agent_task *run(const char *id, const char *spec)
{
    struct agent_task *t = task_new(id, spec);

    ck_assert_int_eq(exec_launch(X, t), 0);
    return t;
}

/* ---- launch and exit ---- */

START_TEST(echo_finished)
{
    struct agent_task *t = run("echo", "{\"command\": \"echo hello; echo oops "
                                       ">&2\", \"resources\": \"cpus:0.1;"
                                       "mem:64\"}");

    /* STARTING once the shim runs (the launcher's answer, on the loop) */
    ck_assert_msg(spin(10, was_starting, t), "no STARTING");
    ck_assert_int_gt(t->shim_pid, 0);
    ck_assert_int_eq(last(t, AGORA_TASK_STARTING)->executor_pid, t->shim_pid);
    wait_end(t, 10);
    ck_assert_int_eq(t->state, AGORA_TASK_FINISHED);
    ck_assert_ptr_nonnull(last(t, AGORA_TASK_RUNNING));
    ck_assert_uint_eq(count_upds(t), 3); /* STARTING RUNNING FINISHED */
    ck_assert_str_eq(last(t, -1)->msg, "Command exited with status 0");
    ck_assert_int_gt(t->pid, 0);
    ck_assert(t->start_time > 0);
    ck_assert_int_ge(checkpoints, 1);
    ck_assert_str_eq(slurp(t->sandbox, "stdout"), "hello\n");
    ck_assert_str_eq(slurp(t->sandbox, "stderr"), "oops\n");
    /* The meta file: the pids line, then the end (exec_int.h). */
    ck_assert_ptr_nonnull(strstr(slurp(t->meta_file, ""), "\nexited 0\n"));
    task_free(t);
}
END_TEST

START_TEST(exit_3_failed)
{
    struct agent_task *t = run("three", "{\"command\": \"exit 3\"}");

    wait_end(t, 10);
    ck_assert_int_eq(t->state, AGORA_TASK_FAILED);
    ck_assert_str_eq(last(t, -1)->msg, "Command exited with status 3");
    task_free(t);
}
END_TEST

START_TEST(signaled_failed)
{
    struct agent_task *t = run("sig", "{\"argv\": [\"sh\", \"-c\", "
                                      "\"kill -9 $$\"]}");

    wait_end(t, 10);
    ck_assert_int_eq(t->state, AGORA_TASK_FAILED);
    ck_assert_str_eq(last(t, -1)->msg,
                     "Command terminated by signal 9 (Killed)");
    task_free(t);
}
END_TEST

START_TEST(not_found_failed)
{
    struct agent_task *t = run("nf1", "{\"argv\": [\"/nonexistent/cmd\"]}");
    struct agent_task *u = run("nf2", "{\"command\": \"no-such-cmd-zz\"}");

    wait_end(t, 10);
    wait_end(u, 10);
    ck_assert_int_eq(t->state, AGORA_TASK_FAILED);
    ck_assert_ptr_null(last(t, AGORA_TASK_RUNNING));
    ck_assert_str_eq(last(t, -1)->reason, "REASON_CONTAINER_LAUNCH_FAILED");
    ck_assert_msg(strstr(last(t, -1)->msg, "No such file or directory"),
                  "message: %s", last(t, -1)->msg);
    ck_assert_ptr_nonnull(strstr(slurp(t->sandbox, "stderr"), "cannot start"));
    ck_assert_int_eq(u->state, AGORA_TASK_FAILED);
    ck_assert_str_eq(last(u, -1)->msg, "Command exited with status 127");
    task_free(t);
    task_free(u);
}
END_TEST

static void expect_error(const char *spec, const char *what)
{
    struct agent_task *t = run("bad", spec);

    ck_assert_int_eq(t->state, AGORA_TASK_ERROR);
    ck_assert_str_eq(last(t, -1)->reason, "REASON_TASK_INVALID");
    ck_assert_msg(strstr(last(t, -1)->msg, what), "spec %s: message '%s'", spec,
                  last(t, -1)->msg);
    ck_assert_ptr_null(t->exec);
    ck_assert_int_eq(t->shim_pid, 0);
    task_free(t);
}

START_TEST(spec_errors)
{
    expect_error("{}", "no command");
    expect_error("{\"command\": \"\"}", "no command");
    expect_error("{\"command\": 3}", "must be a string");
    expect_error("{\"argv\": []}", "non-empty array");
    expect_error("{\"argv\": [\"a\", 1]}", "strings only");
    expect_error("{\"command\": \"true\", \"argv\": [\"true\"]}", "not both");
    expect_error("{\"command\": \"true\", \"container\": {\"type\": "
                 "\"APPC\"}}",
                 "container.type 'APPC' is not supported");
    expect_error("{\"command\": \"true\", \"container\": {\"type\": "
                 "\"DOCKER\", \"docker\": {\"image\": \"busybox\", "
                 "\"privileged\": true}}}",
                 "container.docker.privileged");
    /* No work_dir given to exec_init: no image store, no containers. */
    expect_error("{\"command\": \"true\", \"container\": {\"type\": "
                 "\"MESOS\", \"docker\": {\"image\": \"busybox\"}}}",
                 "runs no containers");
    expect_error("{\"command\": \"true\", \"user\": \"no-such-user-zz\"}",
                 "user 'no-such-user-zz' does not exist");
    expect_error("{\"command\": \"true\", \"resources\": \"ports:[abc]\"}",
                 "invalid resources");
    /* Out of range of the byte count and the cgroup knobs they become. */
    expect_error("{\"command\": \"true\", \"resources\": "
                 "\"cpus:0.1;mem:9.32068e55\"}",
                 "mem over 2^44 MB");
    expect_error("{\"command\": \"true\", \"resources\": \"cpus:1e20\"}",
                 "cpus over 2^32");
    expect_error("{\"command\": \"true\", \"env\": {\"A\": 1}}",
                 "must be a string");
    expect_error("{\"command\": \"true\", \"kill_grace_period\": -1}",
                 "kill_grace_period");
    expect_error("{\"command\": \"true\", \"health_check\": {\"type\": "
                 "\"HTTP\", \"port_index\": 1}, \"resources\": "
                 "\"ports:[31000-31000]\"}",
                 "port_index 1 but the task has 1 port");
    expect_error("{\"command\": \"true\", \"health_check\": {\"type\": "
                 "\"PING\"}}",
                 "unknown type");
}
END_TEST

START_TEST(environment)
{
    struct agent_task *t;
    char *env, want[512];

    setenv("AGORA_TEST_SECRET", "leak", 1);
    t = run("envt", "{\"command\": \"env > env.txt\", \"resources\": "
                    "\"cpus:0.1;mem:64;ports:[31000-31001,31005-31005]\", "
                    "\"env\": {\"FOO\": \"bar baz\", \"HOST_X\": \"1\"}}");
    wait_end(t, 10);
    ck_assert_int_eq(t->state, AGORA_TASK_FINISHED);
    env = slurp(t->sandbox, "env.txt");
    ck_assert_ptr_nonnull(env);
    const char *expect[] = {"PORT0=31000\n",
                            "PORT1=31001\n",
                            "PORT2=31005\n",
                            "PORT=31000\n",
                            "PORTS=31000,31001,31005\n",
                            "HOST=testhost\n",
                            "MESOS_TASK_ID=envt\n",
                            "FOO=bar baz\n"};
    for (size_t i = 0; i < sizeof(expect) / sizeof(*expect); i++)
        ck_assert_msg(strstr(env, expect[i]), "missing %s in\n%s", expect[i],
                      env);
    snprintf(want, sizeof(want), "MESOS_SANDBOX=%s\n", t->sandbox);
    ck_assert_ptr_nonnull(strstr(env, want));
    snprintf(want, sizeof(want), "AGORA_SANDBOX=%s\n", t->sandbox);
    ck_assert_ptr_nonnull(strstr(env, want));
    ck_assert_ptr_nonnull(strstr(env, "PATH="));
    ck_assert_ptr_null(strstr(env, "AGORA_TEST_SECRET"));
    task_free(t);
}
END_TEST

/*
 * Every port of a task with all 65,535 of them is a PORTn variable, once,
 * and the spec's env still wins over them. The environment used to be
 * built with a scan per variable (O(ports^2) on the agent's loop: 2e9
 * comparisons here), found by tests/fuzz/fuzz_agent_proto.
 */
START_TEST(environment_all_ports)
{
    struct agent_task *t = task_new("ports", "{\"command\": \"true\", "
                                    "\"resources\": \"cpus:0.1;mem:64;"
                                    "ports:[1-65535]\", \"env\": "
                                    "{\"PORT7\": \"mine\", \"X\": \"y\"}}");
    struct exec_spec s;
    char err[256];
    char **env;
    size_t n, p0 = 0, nport = 0, plen;

    ck_assert_int_eq(exec_spec_parse(X, t, &s, err, sizeof(err)), 0);
    ck_assert_uint_eq(s.nports, 65535);
    env = exec_task_env(X, t, &s);
    ck_assert_ptr_nonnull(env);
    for (n = 0; env[n]; n++) {
        if (strncmp(env[n], "PORT", 4) != 0 || env[n][4] < '0' ||
            env[n][4] > '9')
            continue;
        if (nport++ == 0)
            p0 = n;
    }
    ck_assert_uint_eq(nport, 65535);
    ck_assert_str_eq(env[p0], "PORT0=1");
    ck_assert_str_eq(env[p0 + 7], "PORT7=mine"); /* replaced in its place */
    ck_assert_str_eq(env[p0 + 65534], "PORT65534=65535");
    ck_assert_str_eq(env[n - 3], "PORT=1");
    plen = strlen(env[n - 2]);
    ck_assert_msg(strncmp(env[n - 2], "PORTS=1,2,3,", 12) == 0 && plen > 6 &&
                      strcmp(env[n - 2] + plen - 6, ",65535") == 0,
                  "PORTS is %.40s...", env[n - 2]);
    ck_assert_str_eq(env[n - 1], "X=y");
    exec_strv_free(env);
    exec_spec_free(&s);
    task_free(t);
}
END_TEST

/* gid, then the other groups of g, into out: what `id -G` prints. */
static const char *id_g(char *out, size_t size, gid_t gid, const gid_t *g,
                        int n)
{
    size_t len = (size_t)snprintf(out, size, "%u", (unsigned)gid);

    for (int i = 0; i < n && len < size; i++)
        if (g[i] != gid)
            len += (size_t)snprintf(out + len, size - len, " %u",
                                    (unsigned)g[i]);
    return out;
}

/* What `id -G` prints for pw: its gid, then its other groups. */
static const char *user_groups(const struct passwd *pw)
{
    static char out[1024];
    gid_t g[64];
    int n = 64;

    ck_assert_int_ge(getgrouplist(pw->pw_name, pw->pw_gid, g, &n), 0);
    return id_g(out, sizeof(out), pw->pw_gid, g, n);
}

/* u's groups as `id -G` prints them (user_groups()). */
static const char *groups_text(const struct exec_user *u)
{
    static char out[1024];

    return id_g(out, sizeof(out), u->gid, u->groups, u->ngroups);
}

START_TEST(as_user)
{
    struct passwd *pw = getpwnam("nobody");
    struct agent_task *t;
    struct stat sb;
    char path[1600];

    if (geteuid() != 0 || !pw) {
        printf("as_user: skipped (needs root and a user 'nobody')\n");
        return;
    }
    t = run("user", "{\"command\": \"id -un; id -u; id -G; touch mine\", "
                    "\"user\": \"nobody\"}");
    wait_end(t, 10);
    ck_assert_msg(t->state == AGORA_TASK_FINISHED, "%s", last(t, -1)->msg);
    /* id -G: the gid, then the groups the shim set (root's 0 would
     * show if it set none) */
    snprintf(path, sizeof(path), "nobody\n%u\n%s\n", (unsigned)pw->pw_uid,
             user_groups(pw));
    ck_assert_str_eq(slurp(t->sandbox, "stdout"), path);
    snprintf(path, sizeof(path), "%s/mine", t->sandbox);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq(sb.st_uid, pw->pw_uid);
    task_free(t);
}
END_TEST

/* The users tasks run as, looked up once and kept (exec_user.c). */
START_TEST(user_cache)
{
    const struct exec_user *a, *b;
    struct passwd *pw;
    int has_gid = 0;

    ck_assert_int_eq(exec_user_get(X, "root", &a), 0);
    ck_assert_uint_eq(a->uid, 0);
    ck_assert_uint_eq(a->gid, 0);
    for (int i = 0; i < a->ngroups; i++)
        has_gid |= a->groups[i] == 0;
    ck_assert(has_gid); /* as initgroups(): the gid too */
    ck_assert_int_eq(exec_user_get(X, "root", &b), 0);
    ck_assert_ptr_eq(a, b); /* kept */
    if ((pw = getpwnam("nobody"))) {
        ck_assert_int_eq(exec_user_get(X, "nobody", &b), 0);
        ck_assert_ptr_ne(a, b);
        ck_assert_uint_eq(b->uid, pw->pw_uid);
        ck_assert_str_eq(user_groups(pw), groups_text(b));
    }
    /* not found, every time: nothing kept of it */
    ck_assert_int_eq(exec_user_get(X, "no-such-user-agora", &b), -ENOENT);
    ck_assert_int_eq(exec_user_get(X, "no-such-user-agora", &b), -ENOENT);
}
END_TEST

/* ---- kill ---- */

/* A leader trapping TERM, a child ignoring TERM, and (cgroups only) a
 * grandchild in a session of its own. */
#define STUBBORN                                                               \
    "trap 'echo got-term' TERM; "                                              \
    "sh -c 'trap \\\"\\\" TERM; echo $$ > child.pid; exec sleep 300' & "       \
    "%s"                                                                       \
    "while :; do sleep 0.05; done"
#define ESCAPER "setsid sh -c 'echo $$ > gchild.pid; exec sleep 300' & "

static void kill_test(int with_escaper)
{
    char spec[1024], cmd[512];
    struct agent_task *t;
    pid_t child, gchild = 0;
    double t0, took;

    snprintf(cmd, sizeof(cmd), STUBBORN, with_escaper ? ESCAPER : "");
    snprintf(spec, sizeof(spec),
             "{\"command\": \"%s\", \"kill_grace_period\":"
             " 5, \"resources\": \"mem:64\"}",
             cmd);
    t = run("stubborn", spec);
    wait_running(t);
    wait_file(t->sandbox, "child.pid");
    child = read_pid(t->sandbox, "child.pid");
    if (with_escaper) {
        wait_file(t->sandbox, "gchild.pid");
        gchild = read_pid(t->sandbox, "gchild.pid");
    }
    ck_assert_int_gt(child, 0);
    t0 = mono();
    ck_assert_int_eq(exec_kill(X, t, 1.0), 0);
    ck_assert_int_eq(t->state, AGORA_TASK_KILLING);
    /* a longer grace cannot extend the kill */
    ck_assert_int_eq(exec_kill(X, t, 30.0), 0);
    wait_end(t, 10);
    took = last(t, -1)->at - t0;
    ck_assert_int_eq(t->state, AGORA_TASK_KILLED);
    ck_assert_msg(took >= 1.0 && took < 3.0, "kill took %.3fs", took);
    ck_assert_str_eq(last(t, -1)->msg,
                     "Command terminated by signal 9 (Killed)");
    ck_assert_ptr_nonnull(strstr(slurp(t->sandbox, "stdout"), "got-term"));
    assert_gone(t->pid);
    assert_gone(child);
    if (gchild)
        assert_gone(gchild);
    printf("kill: SIGKILL after %.3fs, child%s gone\n", took,
           gchild ? " and setsid grandchild" : "");
    task_free(t);
}

START_TEST(kill_grace)
{
    kill_test(cgroups_on());
}
END_TEST

START_TEST(kill_before_running)
{
    struct agent_task *t = run("early", "{\"command\": \"sleep 300\"}");

    ck_assert_int_eq(exec_kill(X, t, 0), 0);
    wait_end(t, 10);
    ck_assert_int_eq(t->state, AGORA_TASK_KILLED);
    if (t->pid)
        assert_gone(t->pid);
    ck_assert_int_eq(exec_kill(X, t, 0), AGORA_ESTATE);
    task_free(t);
}
END_TEST

/* ---- isolation ---- */

START_TEST(oom_memory_limit)
{
    struct agent_task *t;

    if (!cgroups_on()) {
        printf("oom_memory_limit: skipped, isolation is posix (no writable "
               "cgroup hierarchy)\n");
        return;
    }
    t = run("hog", "{\"command\": \"head -c 300M /dev/zero | tail\", "
                   "\"resources\": \"cpus:0.5;mem:32\"}");
    wait_end(t, 20);
    ck_assert_int_eq(t->state, AGORA_TASK_FAILED);
    ck_assert_str_eq(last(t, -1)->reason, "REASON_CONTAINER_LIMITATION_MEMORY");
    ck_assert_msg(strncmp(last(t, -1)->msg,
                          "Memory limit exceeded: Requested: 32MB Maximum "
                          "Used: ",
                          48) == 0,
                  "message: %s", last(t, -1)->msg);
    printf("oom: %s\n", last(t, -1)->msg);
    task_free(t);
}
END_TEST

/* v1: a kept cgroup's OOM eventfd, registered for an earlier task, still
 * ends all of the next task on its OOM: its other process (a sleep of
 * 30 s the shell waits for) is killed at once. */
START_TEST(oom_in_kept_cgroup)
{
    struct agent_task *a, *t;
    char slot[CG_SLOT_NAME_MAX];

    if (!cgroups_on() || X->cg.kind != CG_V1) {
        printf("oom_in_kept_cgroup: skipped, needs cgroups v1\n");
        return;
    }
    a = run("okept", "{\"command\": \"true\", \"resources\": "
                     "\"cpus:0.5;mem:32\"}");
    wait_end(a, 10);
    snprintf(slot, sizeof(slot), "%s", exec_task_cgroup(a));
    task_free(a);
    ck_assert_uint_eq(X->cg.npool, 1);
    t = run("ohog", "{\"command\": \"sleep 30 & head -c 300M /dev/zero | "
                    "tail; wait\", \"resources\": \"cpus:0.5;mem:32\"}");
    wait_running(t);
    ck_assert_str_eq(exec_task_cgroup(t), slot);
    wait_end(t, 10);
    ck_assert_str_eq(last(t, -1)->reason, "REASON_CONTAINER_LIMITATION_MEMORY");
    task_free(t);
}
END_TEST

START_TEST(usage)
{
    /* 20 MB touched, then busy: memcg statistics may lag ~2 s behind for
     * small amounts (the kernel flushes them lazily). */
    struct agent_task *t =
        run("busy", "{\"command\": \"exec /usr/bin/python3 -c 'b = b\\\"x\\\" "
                    "* (20 << 20)\\nwhile True: pass'\", \"resources\": "
                    "\"cpus:0.5;mem:64\"}");
    struct exec_usage u;

    wait_running(t);
    spin(0.7, never, NULL);
    ck_assert_int_eq(exec_usage(X, t, &u), 0);
    ck_assert(u.cpus_user_time_secs + u.cpus_system_time_secs > 0.05);
    ck_assert(u.cpus_limit > 0.49 && u.cpus_limit < 0.51);
    ck_assert_uint_eq(u.mem_limit_bytes, 64u << 20);
    ck_assert_uint_ge(u.processes, 1);
    ck_assert_uint_gt(u.mem_rss_bytes, 10u << 20);
    ck_assert(u.timestamp > 0);
    printf("usage (%s): user %.2fs system %.2fs rss %llu limit %llu procs "
           "%llu\n",
           exec_isolation_name(X), u.cpus_user_time_secs,
           u.cpus_system_time_secs, (unsigned long long)u.mem_rss_bytes,
           (unsigned long long)u.mem_limit_bytes,
           (unsigned long long)u.processes);
    ck_assert_int_eq(exec_kill(X, t, 0), 0);
    wait_end(t, 10);
    ck_assert_int_eq(exec_usage(X, t, &u), AGORA_ESTATE);
    task_free(t);
}
END_TEST

/* The first line of <cg dir ctl>/<task>/<knob>, as a number. */
static long long knob_of(int ctl, const char *task, const char *knob)
{
    char dir[512];
    const char *text;

    snprintf(dir, sizeof(dir), "%s/%s", X->cg.dir[ctl], task);
    text = slurp(dir, knob);
    ck_assert_msg(text != NULL, "%s/%s unreadable", dir, knob);
    return strtoll(text, NULL, 10);
}

static int dir_exists(int ctl, const char *task)
{
    char dir[512];
    struct stat st;

    snprintf(dir, sizeof(dir), "%s/%s", X->cg.dir[ctl], task);
    return stat(dir, &st) == 0;
}

static int pool_full(void *arg)
{
    (void)arg;
    return X->cg.npool == CG_POOL_KEEP;
}

/* v1: a task's cgroups are a slot, `.t.<agent pid>.<n>`, never renamed:
 * an ended task's serve the next task as they are, with that task's
 * limits (the ones that differ rewritten) and fresh counters. With
 * --cgroups_enable_cfs the cpus are also a CFS quota; without it (the
 * default, as Mesos') they are shares only. */
START_TEST(cgroup_reused)
{
    struct agent_task *a, *b, *c;
    struct exec_usage u;
    char slot[CG_SLOT_NAME_MAX], prefix[32];

    if (!cgroups_on() || X->cg.kind != CG_V1 || !X->cg.dir[CG_CPU] ||
        !X->cg.dir[CG_CPUACCT]) {
        printf("cgroup_reused: skipped, needs cgroups v1 with cpu and "
               "cpuacct\n");
        return;
    }
    X->cg.enable_cfs = 1;
    a = run("ra", "{\"command\": \"i=0; while [ $i -lt 20000 ]; do "
                  "i=$((i+1)); done\", \"resources\": \"cpus:0.5;mem:32\"}");
    wait_end(a, 20);
    ck_assert_int_eq(a->state, AGORA_TASK_FINISHED);
    ck_assert_uint_eq(X->cg.npool, 1);
    ck_assert_ptr_nonnull(exec_task_cgroup(a));
    snprintf(slot, sizeof(slot), "%s", exec_task_cgroup(a));
    snprintf(prefix, sizeof(prefix), ".t.%d.", (int)getpid());
    ck_assert_msg(strncmp(slot, prefix, strlen(prefix)) == 0, "slot %s", slot);
    ck_assert(dir_exists(CG_MEMORY, slot) && dir_exists(CG_CPU, slot));
    ck_assert(!dir_exists(CG_MEMORY, "ra") && !dir_exists(CG_CPU, "ra"));

    b = run("rb", "{\"command\": \"sleep 30\", \"resources\": "
                  "\"cpus:0.25;mem:64\"}");
    wait_running(b);
    ck_assert_uint_eq(X->cg.npool, 0);
    ck_assert_str_eq(exec_task_cgroup(b), slot); /* kept, not renamed */
    ck_assert(!dir_exists(CG_MEMORY, "rb"));
    ck_assert_int_eq(knob_of(CG_MEMORY, slot, "memory.limit_in_bytes"),
                     64ll << 20);
    ck_assert_int_eq(knob_of(CG_CPU, slot, "cpu.shares"), 256);
    ck_assert_int_eq(knob_of(CG_CPU, slot, "cpu.cfs_quota_us"),
                     X->cg.cfs_period_us / 4);
    ck_assert_int_eq(knob_of(CG_MEMORY, slot, "cgroup.procs"), b->pid);
    /* ra's busy loop is not counted for rb */
    ck_assert_int_eq(exec_usage(X, b, &u), 0);
    ck_assert_msg(u.cpus_user_time_secs + u.cpus_system_time_secs < 0.02,
                  "rb counts %.3fs of CPU", u.cpus_user_time_secs);
    ck_assert_int_eq(exec_kill(X, b, 0), 0);
    wait_end(b, 10);
    ck_assert_uint_eq(X->cg.npool, 1);

    /* No memory limit asked for, and CFS off: the kept cgroup's limit
     * and quota are taken off, the cpus are shares only. */
    X->cg.enable_cfs = 0;
    c = run("rc", "{\"command\": \"sleep 30\", \"resources\": "
                  "\"cpus:0.5\"}");
    wait_running(c);
    ck_assert_str_eq(exec_task_cgroup(c), slot);
    ck_assert_int_gt(knob_of(CG_MEMORY, slot, "memory.limit_in_bytes"),
                     1ll << 40);
    ck_assert_int_eq(knob_of(CG_CPU, slot, "cpu.cfs_quota_us"), -1);
    ck_assert_int_eq(knob_of(CG_CPU, slot, "cpu.shares"), 512);
    ck_assert_int_eq(exec_kill(X, c, 0), 0);
    wait_end(c, 10);
    task_free(a);
    task_free(b);
    task_free(c);
}
END_TEST

/* v1: up to CG_POOL_MAX ended tasks' cgroups are kept (a burst's, for
 * the next burst) with their OOM eventfds, and trimmed to CG_POOL_KEEP,
 * the longest kept first. */
START_TEST(cgroup_pool_trim)
{
    enum { N = CG_POOL_KEEP + 12 };
    char *names[N], *name, err[256], id[32];
    int oom_fd, fds[N];

    if (!cgroups_on() || X->cg.kind != CG_V1) {
        printf("cgroup_pool_trim: skipped, needs cgroups v1\n");
        return;
    }
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "trim%d", i);
        ck_assert_int_eq(cg_create(&X->cg, id, 0.1, 32 << 20, &names[i],
                                   &oom_fd, err, sizeof(err)),
                         0);
        ck_assert_int_eq(oom_fd, -1); /* none kept yet */
        fds[i] = cg_oom_eventfd(&X->cg, names[i]);
        ck_assert_int_ge(fds[i], 0);
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(
            cg_release(&X->cg, names[i], 0.1, 32 << 20, fds[i]), 0);
    ck_assert_uint_eq(X->cg.npool, N);
    ck_assert_uint_eq(cg_pool_trim(&X->cg, 5), N - CG_POOL_KEEP - 5);
    ck_assert_uint_eq(X->cg.npool, N - 5);
    for (int i = 0; i < N; i++) /* the first kept went first */
        ck_assert_int_eq(dir_exists(CG_MEMORY, names[i]), i >= 5);
    ck_assert_uint_eq(cg_pool_trim(&X->cg, 100), 0);
    ck_assert_uint_eq(X->cg.npool, CG_POOL_KEEP);
    ck_assert(!dir_exists(CG_MEMORY, names[N - CG_POOL_KEEP - 1]));
    ck_assert(dir_exists(CG_MEMORY, names[N - CG_POOL_KEEP]));
    /* the fds of the trimmed ones were closed, the kept ones' are open */
    ck_assert_int_eq(fcntl(fds[0], F_GETFD), -1);
    ck_assert_int_ge(fcntl(fds[N - 1], F_GETFD), 0);
    /* The last kept is taken first, with its OOM eventfd registered. */
    ck_assert_int_eq(cg_create(&X->cg, "trimx", 0.1, 32 << 20, &name, &oom_fd,
                               err, sizeof(err)),
                     0);
    ck_assert_str_eq(name, names[N - 1]);
    ck_assert_int_eq(oom_fd, fds[N - 1]);
    ck_assert_int_eq(cg_release(&X->cg, name, 0.1, 32 << 20, oom_fd), 0);
    free(name);
    for (int i = 0; i < N; i++)
        free(names[i]);
}
END_TEST

/* v1, exec_conf.cgroups_ahead: once launches pause, empty cgroups are
 * made up to CG_POOL_KEEP with their OOM eventfds, and the next launch
 * takes one (its limits written) instead of making its own; an OOM in
 * it ends the task as the memory limit's. */
START_TEST(cgroup_pool_ahead)
{
    struct agent_task *a, *b;
    char slot[CG_SLOT_NAME_MAX];
    unsigned serials;

    if (!cgroups_on() || X->cg.kind != CG_V1 || !X->cg.dir[CG_CPU]) {
        printf("cgroup_pool_ahead: skipped, needs cgroups v1 with cpu\n");
        return;
    }
    X->cgroups_ahead = CG_POOL_KEEP;
    a = run("ahead", "{\"command\": \"true\", \"resources\": "
                     "\"cpus:0.5;mem:32\"}");
    wait_end(a, 10);
    task_free(a);
    ck_assert_msg(spin(10, pool_full, NULL), "%zu kept after 10 s",
                  X->cg.npool);
    serials = X->cg.pool_serial;
    ck_assert_uint_eq(serials, CG_POOL_KEEP); /* the task's and 127 made */
    ck_assert_int_ge(X->cg.pool[CG_POOL_KEEP - 1].oom_fd, 0);
    snprintf(slot, sizeof(slot), ".t.%d.%u", (int)getpid(),
             X->cg.pool[CG_POOL_KEEP - 1].serial);
    ck_assert(dir_exists(CG_MEMORY, slot) && dir_exists(CG_CPU, slot));

    b = run("ahead-hog", "{\"command\": \"head -c 300M /dev/zero | tail\", "
                         "\"resources\": \"cpus:0.25;mem:32\"}");
    wait_running(b);
    ck_assert_str_eq(exec_task_cgroup(b), slot);
    ck_assert_uint_eq(X->cg.pool_serial, serials); /* none made */
    ck_assert_int_eq(knob_of(CG_CPU, slot, "cpu.shares"), 256);
    wait_end(b, 10);
    ck_assert_str_eq(last(b, -1)->reason, "REASON_CONTAINER_LIMITATION_MEMORY");
    task_free(b);
}
END_TEST

/* v1's pids hierarchy is not joined: a new agent removes what earlier
 * ones left there (their dead slots, cgroups named by task id), keeps a
 * running agent's slot, and makes none of its own. */
START_TEST(cgroup_pids_v1_swept)
{
    char root[PATH_MAX], path[PATH_MAX + 64], err[256], *name;
    const char *mnt = "/sys/fs/cgroup/pids";
    struct cgroups cg;
    int oom_fd;

    if (!cgroups_on() || X->cg.kind != CG_V1 || access(mnt, W_OK) != 0) {
        printf("cgroup_pids_v1_swept: skipped, needs a v1 pids hierarchy\n");
        return;
    }
    snprintf(root, sizeof(root), "%s/%s-pids", mnt, cgroot);
    ck_assert_int_eq(mkdir(root, 0755), 0);
    snprintf(path, sizeof(path), "%s/.t.1.0", root); /* init: running */
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/.t.%d.0", root, INT_MAX - 1); /* dead */
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/old-task-id", root);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s-pids", cgroot);
    ck_assert_int_eq(cg_detect(&cg, "cgroups", path, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/old-task-id", root);
    ck_assert_int_ne(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/.t.%d.0", root, INT_MAX - 1);
    ck_assert_int_ne(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/.t.1.0", root);
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert_ptr_null(cg.dir[CG_PIDS]);
    ck_assert_int_eq(cg_create(&cg, "p1", 0.1, 32 << 20, &name, &oom_fd, err,
                               sizeof(err)),
                     0);
    snprintf(path, sizeof(path), "%s/%s", root, name);
    ck_assert_int_ne(access(path, F_OK), 0); /* not made there */
    ck_assert_int_eq(cg_remove(&cg, name), 0);
    free(name);
    for (int i = 0; i < CG_NCTL; i++)
        if (cg.dir[i])
            ck_assert_int_eq(rmdir(cg.dir[i]), 0);
    cg_free(&cg);
    snprintf(path, sizeof(path), "%s/.t.1.0", root);
    ck_assert_int_eq(rmdir(path), 0);
    ck_assert_int_eq(rmdir(root), 0);
}
END_TEST

/* A cgroup that saw an OOM is not kept: its counter cannot be reset. */
START_TEST(cgroup_oom_not_reused)
{
    struct agent_task *t;

    if (!cgroups_on() || X->cg.kind != CG_V1) {
        printf("cgroup_oom_not_reused: skipped, needs cgroups v1\n");
        return;
    }
    t = run("hog2", "{\"command\": \"head -c 300M /dev/zero | tail\", "
                    "\"resources\": \"cpus:0.5;mem:32\"}");
    wait_end(t, 20);
    ck_assert_str_eq(last(t, -1)->reason, "REASON_CONTAINER_LIMITATION_MEMORY");
    ck_assert_uint_eq(X->cg.npool, 0);
    task_free(t);
    t = run("after_hog", "{\"command\": \"true\", \"resources\": "
                         "\"cpus:0.5;mem:32\"}");
    wait_end(t, 20);
    ck_assert_int_eq(t->state, AGORA_TASK_FINISHED);
    ck_assert_str_eq(last(t, -1)->msg, "Command exited with status 0");
    task_free(t);
}
END_TEST

/* ---- health checks ---- */

static int health_is(void *arg)
{
    const struct agent_task *t = ((void **)arg)[0];
    int want = *(int *)((void **)arg)[1];

    return t->healthy == want;
}

static void wait_health(struct agent_task *t, int want, double secs)
{
    void *arg[2] = {t, &want};

    ck_assert_msg(spin(secs, health_is, arg), "task %s: healthy %d, not %d",
                  t->id, t->healthy, want);
}

/* The health values reported, in order, as a string ("10"). */
static void health_trail(const struct agent_task *t, char *out, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < nupds && n + 1 < len; i++)
        if (upds[i].t == t &&
            !strcmp(upds[i].reason, "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"))
            out[n++] = (char)('0' + upds[i].healthy);
    out[n] = '\0';
}

/* A service on PORT0 that goes away when the file "stop" appears. */
#define SERVICE                                                                \
    "/usr/bin/python3 -m http.server $PORT0 --bind 127.0.0.1 "                 \
    ">/dev/null 2>&1 & P=$!; while [ ! -e stop ]; do sleep 0.05; done; "       \
    "kill $P; wait $P; exec sleep 300"

/* The health output the last health report of t carried. */
static const char *reported_output(const struct agent_task *t)
{
    for (size_t i = nupds; i-- > 0;)
        if (upds[i].t == t &&
            !strcmp(upds[i].reason, "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"))
            return upds[i].health;
    return NULL;
}

/*
 * A check of `type` against SERVICE: healthy, then unhealthy once the
 * service stops, each change reported once. `up` and `down` are the
 * results the two reports carry, %d standing for the port.
 */
static void health_test(const char *type, const char *extra, const char *up,
                        const char *down)
{
    char spec[1024], trail[16], want[128];
    struct agent_task *t;
    int port = free_port();

    snprintf(spec, sizeof(spec),
             "{\"command\": \"%s\", \"resources\": \"ports:[%d-%d]\", "
             "\"health_check\": {\"type\": \"%s\", %s \"delay\": 0, "
             "\"interval\": 0.1, \"timeout\": 1, \"grace_period\": 10, "
             "\"max_consecutive_failures\": 0}}",
             SERVICE, port, port, type, extra);
    t = run(type, spec);
    wait_running(t);
    wait_health(t, 1, 15);
    snprintf(want, sizeof(want), up, port);
    ck_assert_str_eq(reported_output(t), want);
    touch(t->sandbox, "stop");
    wait_health(t, 0, 10);
    snprintf(want, sizeof(want), down, port);
    ck_assert_str_eq(reported_output(t), want);
    spin(0.3, never, NULL); /* no repeated reports */
    health_trail(t, trail, sizeof(trail));
    ck_assert_str_eq(trail, "10");
    ck_assert_int_eq(t->state, AGORA_TASK_RUNNING);
    ck_assert_int_eq(exec_kill(X, t, 0), 0);
    wait_end(t, 10);
    ck_assert_int_eq(t->state, AGORA_TASK_KILLED);
    /* The kill's updates carry the last result too. */
    ck_assert_str_eq(last(t, AGORA_TASK_KILLED)->health, want);
    task_free(t);
}

START_TEST(health_http)
{
    /* Python's http.server answers HTTP/1.0. */
    health_test("HTTP", "\"port_index\": 0, \"path\": \"/\",",
                "HTTP/1.0 200 OK", "connect 127.0.0.1:%d: Connection refused");
}
END_TEST

START_TEST(health_tcp)
{
    health_test("TCP", "\"port_index\": 0,", "connected to 127.0.0.1:%d",
                "connect 127.0.0.1:%d: Connection refused");
}
END_TEST

START_TEST(health_command)
{
    health_test("COMMAND",
                "\"command\": \"test ! -e stop && "
                "test -n \\\"$MESOS_SANDBOX\\\"\",",
                "command exited with status 0", "command exited with status 1");
}
END_TEST

/* A COMMAND check whose result is `want` once it has run: it passes
 * (healthy 1) when pass is set, else fails. */
static void command_output_test(const char *id, const char *command, int pass,
                                const char *want)
{
    char spec[1024];
    struct agent_task *t;

    snprintf(spec, sizeof(spec),
             "{\"command\": \"sleep 300\", \"health_check\": {\"type\": "
             "\"COMMAND\", \"command\": \"%s\", \"delay\": 0, "
             "\"interval\": 0.1, \"timeout\": 5, \"grace_period\": 0, "
             "\"max_consecutive_failures\": 0}}",
             command);
    t = run(id, spec);
    wait_running(t);
    wait_health(t, pass, 15);
    ck_assert_str_eq(reported_output(t), want);
    ck_assert_str_eq(t->health_output, want);
    ck_assert_int_eq(exec_kill(X, t, 0), 0);
    wait_end(t, 10);
    task_free(t);
}

/* A COMMAND check runs as the task's user, with the user's groups. */
START_TEST(health_command_as_user)
{
    struct passwd *pw = getpwnam("nobody");
    struct agent_task *t;
    char want[1200];

    if (geteuid() != 0 || !pw) {
        printf("health_command_as_user: skipped (needs root and 'nobody')\n");
        return;
    }
    t = run("hc-user", "{\"command\": \"sleep 300\", \"user\": \"nobody\", "
                       "\"health_check\": {\"type\": \"COMMAND\", "
                       "\"command\": \"echo $(id -un) $(id -G)\", "
                       "\"delay\": 0, \"interval\": 0.1, \"timeout\": 5, "
                       "\"grace_period\": 0, \"max_consecutive_failures\": 0}}");
    wait_running(t);
    wait_health(t, 1, 15);
    snprintf(want, sizeof(want), "command exited with status 0: nobody %s",
             user_groups(pw));
    ck_assert_str_eq(reported_output(t), want);
    ck_assert_int_eq(exec_kill(X, t, 0), 0);
    wait_end(t, 10);
    task_free(t);
}
END_TEST

/* Its stdout and stderr, in the order written; bytes that are not UTF-8
 * text become '?'; trailing blanks go. */
START_TEST(health_command_output)
{
    command_output_test(
        "cmdout",
        "echo out; printf 'bad \\\\377\\\\001 \\\\303\\\\251\\\\n'; "
        "echo err >&2; exit 3",
        0, "command exited with status 3: out\nbad ?? \xc3\xa9\nerr");
}
END_TEST

/* 100 KB of output, more than a pipe holds: the check is not blocked
 * (it passes), and its result is cut to the limit. */
START_TEST(health_command_output_cut)
{
    char want[AGORA_HEALTH_OUTPUT_MAX + 1];
    const char *head = "command exited with status 0: ";
    size_t n = strlen(head);

    memcpy(want, head, n);
    memset(want + n, 'x', sizeof(want) - 1 - n);
    want[sizeof(want) - 1] = '\0';
    command_output_test("cmdcut", "head -c 100000 /dev/zero | tr '\\\\000' x",
                        1, want);
}
END_TEST

/* Cut inside a two-byte character: the character goes whole. */
START_TEST(health_command_output_utf8_cut)
{
    char cmd[160], want[AGORA_HEALTH_OUTPUT_MAX + 1];
    const char *head = "command exited with status 0: x";
    size_t n = strlen(head), i;

    /* "x" then 200 e-acutes: the limit falls on the second byte of one
     * (256 - 31 = 225 = 112 characters and a half). */
    snprintf(cmd, sizeof(cmd),
             "printf x; i=0; while [ $i -lt 200 ]; do printf '\\\\303\\\\251'; "
             "i=$((i+1)); done");
    memcpy(want, head, n);
    for (i = 0; i < 112; i++)
        memcpy(want + n + 2 * i, "\xc3\xa9", 2);
    want[n + 224] = '\0';
    command_output_test("cmdutf8", cmd, 1, want);
}
END_TEST

START_TEST(health_kills)
{
    struct agent_task *t = run(
        "sick", "{\"command\": \"sleep 300\", \"kill_grace_period\": 1, "
                "\"health_check\": {\"type\": \"COMMAND\", \"command\": "
                "\"false\", \"delay\": 0, \"interval\": 0.1, \"timeout\": "
                "1, \"grace_period\": 0, \"max_consecutive_failures\": 3}}");

    wait_end(t, 10);
    ck_assert_int_eq(t->state, AGORA_TASK_KILLED);
    ck_assert_int_eq(last(t, -1)->healthy, 0);
    ck_assert_ptr_nonnull(last(t, AGORA_TASK_KILLING));
    task_free(t);
}
END_TEST

/* ---- recovery ---- */

#define WAITER                                                                 \
    "{\"command\": \"while [ ! -e done ]; do sleep 0.05; done; exit 7\", "     \
    "\"resources\": \"mem:64\"}"

/* The agent "restarts": its exec state of t is dropped, nothing killed. */
static void restart(struct agent_task *t)
{
    exec_forget(X, t);
    ck_assert_ptr_null(t->exec);
}

/* A running task is adopted, with its cgroups: their name (a v1 slot)
 * comes from its meta file, and its usage is read from them. */
START_TEST(recover_adopt)
{
    struct agent_task *t = run("adopt", WAITER);
    struct exec_usage u;
    char *cg = NULL;
    pid_t pid, shim;
    size_t n;

    wait_running(t);
    pid = t->pid;
    shim = t->shim_pid;
    if (exec_task_cgroup(t))
        cg = strdup(exec_task_cgroup(t));
    restart(t);
    n = count_upds(t);
    ck_assert_int_eq(exec_recover(X, t, 0), 0);
    ck_assert_ptr_nonnull(t->exec);
    ck_assert_uint_eq(count_upds(t), n); /* nothing to report */
    ck_assert_int_eq(t->pid, pid);
    ck_assert_int_eq(t->shim_pid, shim);
    if (cgroups_on()) {
        ck_assert_ptr_nonnull(cg);
        ck_assert_str_eq(exec_task_cgroup(t), cg);
        ck_assert_int_eq(exec_usage(X, t, &u), 0);
        ck_assert_uint_ge(u.processes, 1);
    }
    free(cg);
    spin(0.3, never, NULL);
    ck_assert_int_eq(t->state, AGORA_TASK_RUNNING);
    touch(t->sandbox, "done");
    wait_end(t, 10);
    ck_assert_int_eq(t->state, AGORA_TASK_FAILED);
    ck_assert_str_eq(last(t, -1)->msg, "Command exited with status 7");
    task_free(t);
}
END_TEST

START_TEST(recover_then_kill)
{
    struct agent_task *t = run("adoptk", "{\"command\": \"sleep 300\"}");
    pid_t pid;

    wait_running(t);
    pid = t->pid;
    restart(t);
    ck_assert_int_eq(exec_recover(X, t, 0), 0);
    ck_assert_int_eq(exec_kill(X, t, 0.5), 0);
    wait_end(t, 10);
    ck_assert_int_eq(t->state, AGORA_TASK_KILLED);
    assert_gone(pid);
    task_free(t);
}
END_TEST

START_TEST(recover_exited_while_down)
{
    struct agent_task *t = run("down", WAITER);
    pid_t shim;

    wait_running(t);
    shim = t->shim_pid;
    restart(t);
    touch(t->sandbox, "done");
    /* the agent is "down": the loop does not run, nobody else reaps */
    wait_shim_end(shim);
    ck_assert_int_eq(exec_recover(X, t, 0), 0);
    ck_assert_int_eq(t->state, AGORA_TASK_FAILED);
    ck_assert_str_eq(last(t, -1)->msg, "Command exited with status 7");
    task_free(t);
}
END_TEST

/* A task the journal says ended, whose cgroups an agent that died left:
 * recovery removes them, found by the name in its meta file (a slot). */
START_TEST(recover_ended_removes_cgroups)
{
    struct agent_task *t = run("endcg", WAITER);
    char slot[CG_SLOT_NAME_MAX];
    pid_t shim;

    wait_running(t);
    if (!cgroups_on() || X->cg.kind != CG_V1) {
        printf("recover_ended_removes_cgroups: skipped, needs cgroups v1\n");
        ck_assert_int_eq(exec_kill(X, t, 0), 0);
        wait_end(t, 10);
        task_free(t);
        return;
    }
    snprintf(slot, sizeof(slot), "%s", exec_task_cgroup(t));
    shim = t->shim_pid;
    restart(t);
    touch(t->sandbox, "done");
    wait_shim_end(shim);
    ck_assert(dir_exists(CG_MEMORY, slot));
    t->state = AGORA_TASK_FAILED; /* as the journal says */
    ck_assert_int_eq(exec_recover(X, t, 0), 0);
    ck_assert_ptr_null(t->exec);
    ck_assert(!dir_exists(CG_MEMORY, slot) && !dir_exists(CG_CPU, slot));
    task_free(t);
}
END_TEST

START_TEST(recover_shim_killed)
{
    struct agent_task *t = run("shimkill", WAITER);
    pid_t shim, pid;

    wait_running(t);
    shim = t->shim_pid;
    pid = t->pid;
    restart(t);
    ck_assert_int_eq(kill(shim, SIGKILL), 0);
    wait_shim_end(shim);
    ck_assert_int_eq(exec_recover(X, t, 0), 0);
    wait_end(t, 5);
    ck_assert_int_eq(t->state, AGORA_TASK_FAILED);
    ck_assert_str_eq(last(t, -1)->reason, "REASON_EXECUTOR_TERMINATED");
    ck_assert_str_eq(last(t, -1)->msg, "task ended while the agent was down; "
                                       "its exit status is unknown");
    assert_gone(pid); /* the orphaned task is not left running */
    task_free(t);
}
END_TEST

START_TEST(recover_cleanup)
{
    struct agent_task *t = run("clean", "{\"command\": \"sleep 300\"}");
    pid_t pid;

    wait_running(t);
    pid = t->pid;
    restart(t);
    ck_assert_int_eq(exec_recover(X, t, 1), 0);
    wait_end(t, 10);
    ck_assert_int_eq(t->state, AGORA_TASK_KILLED);
    ck_assert_str_eq(last(t, -1)->reason, "REASON_AGENT_RESTARTED");
    assert_gone(pid);
    task_free(t);
}
END_TEST

START_TEST(recover_unknown_pid_reuse)
{
    /* A checkpoint naming a live process that is not the shim. */
    struct agent_task *t = task_new("reuse", "{\"command\": \"true\"}");

    t->state = AGORA_TASK_RUNNING;
    t->shim_pid = getpid();
    t->pid = getpid();
    ck_assert_int_eq(exec_recover(X, t, 0), 0);
    wait_end(t, 5);
    ck_assert_int_eq(t->state, AGORA_TASK_FAILED);
    ck_assert_str_eq(last(t, -1)->reason, "REASON_EXECUTOR_TERMINATED");
    task_free(t);
}
END_TEST

START_TEST(recover_older_agents_layout)
{
    /* An older agent kept a directory at the meta file's path, with pids
     * and exit files (and the launch document): its task, ended while
     * the agent was down, is reported with its real status, and a launch
     * under the same id replaces that directory. */
    struct agent_task *t = task_new("older", WAITER);
    char path[600];
    FILE *f;

    ck_assert_int_eq(fs_mkdirs(t->meta_file, 0755), 0);
    snprintf(path, sizeof(path), "%s/pids", t->meta_file);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fprintf(f, "%d 1 %d 1 1.0\n", 999999, 999999);
    fclose(f);
    snprintf(path, sizeof(path), "%s/exit", t->meta_file);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fprintf(f, "exited 4\n");
    fclose(f);
    touch(t->meta_file, "launch.json");
    t->state = AGORA_TASK_RUNNING;
    t->shim_pid = 999999;
    t->pid = 999999;
    ck_assert_int_eq(exec_recover(X, t, 0), 0);
    wait_end(t, 5);
    ck_assert_int_eq(t->state, AGORA_TASK_FAILED);
    ck_assert_str_eq(last(t, -1)->msg, "Command exited with status 4");
    task_free(t);

    t = task_new("older", "{\"command\": \"exit 0\"}");
    ck_assert_int_eq(exec_launch(X, t), 0);
    wait_end(t, 10);
    ck_assert_int_eq(t->state, AGORA_TASK_FINISHED);
    ck_assert_ptr_nonnull(strstr(slurp(t->meta_file, ""), "\nexited 0\n"));
    task_free(t);
}
END_TEST

START_TEST(launch_document_not_on_disk)
{
    /* The task's environment goes to the shim through a pipe: nothing
     * under meta/ holds it (issue 15: secrets readable by every user). */
    struct agent_task *t =
        run("secret", "{\"command\": \"exit 0\", "
                      "\"env\": {\"DB_PASSWORD\": \"hunter2-unit\"}}");
    char *text;
    struct stat st;

    wait_end(t, 10);
    ck_assert_int_eq(t->state, AGORA_TASK_FINISHED);
    ck_assert_int_eq(stat(t->meta_file, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_ptr_nonnull(text = slurp(t->meta_file, ""));
    ck_assert_ptr_null(strstr(text, "hunter2"));
    ck_assert_int_eq(stat(t->sandbox, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0750);
    task_free(t);
}
END_TEST

/* The parent of pid, from /proc/<pid>/stat; 0 if unknown. */
static pid_t ppid_of(pid_t pid)
{
    char path[64], buf[512], *p;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    n = exec_read_file(AT_FDCWD, path, buf, sizeof(buf) - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if (!(p = strrchr(buf, ')')))
        return 0;
    return (pid_t)atoi(p + 4); /* ") S <ppid>" */
}

static void assert_shim_argv(const struct agent_task *t)
{
    char path[64], buf[PATH_MAX + 64];
    size_t a0 = sizeof("agora-shim"), a1 = sizeof("--shim");
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)t->shim_pid);
    n = exec_read_file(AT_FDCWD, path, buf, sizeof(buf) - 1);
    ck_assert_int_gt(n, (ssize_t)(a0 + a1));
    buf[n] = '\0';
    ck_assert_str_eq(buf, "agora-shim");
    ck_assert_str_eq(buf + a0, "--shim");
    ck_assert_str_eq(buf + a0 + a1, t->meta_file);
}

/* pid is listed in <cg dir ctl>/<task>/cgroup.procs. */
static int procs_has(int ctl, const char *task, pid_t pid)
{
    char dir[512];
    const char *p;

    snprintf(dir, sizeof(dir), "%s/%s", X->cg.dir[ctl], task);
    for (p = slurp(dir, "cgroup.procs"); p;) { /* a pid a line */
        char *end;
        long v = strtol(p, &end, 10);

        if (end == p)
            return 0;
        if (v == (long)pid)
            return 1;
        p = end;
    }
    return 0;
}

/* How many of pid's open files are in a cgroup file system. */
static int cgroup_fds_of(pid_t pid)
{
    char dir[64], path[PATH_MAX], target[PATH_MAX];
    struct dirent *e;
    DIR *d;
    int n = 0;

    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    ck_assert_ptr_nonnull(d = opendir(dir));
    while ((e = readdir(d)) != NULL) {
        ssize_t len;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        len = readlink(path, target, sizeof(target) - 1);
        if (len < 0)
            continue;
        target[len] = '\0';
        n += strncmp(target, "/sys/fs/cgroup", 14) == 0;
    }
    closedir(d);
    return n;
}

/* A running task (with cgroups) is in each of its slot's cgroups, and
 * neither it nor its shim keeps a cgroup file open. */
static void assert_joined(const struct agent_task *t)
{
    const char *slot = exec_task_cgroup(t);

    if (!cgroups_on())
        return;
    ck_assert_ptr_nonnull(slot);
    for (int ctl = 0; ctl < CG_NCTL; ctl++)
        if (X->cg.dir[ctl])
            ck_assert_msg(procs_has(ctl, slot, t->pid), "%d not in %s/%s",
                          (int)t->pid, X->cg.dir[ctl], slot);
    ck_assert_int_eq(cgroup_fds_of(t->pid), 0);
    ck_assert_int_eq(cgroup_fds_of(t->shim_pid), 0);
}

/* Shims are forked by the launcher (launcher.h): not this process's
 * children, with the argv of an exec'd shim (recovery reads it). The
 * launcher dead, the next launch spawns its shim; one a second later
 * has a launcher again. Every shim's end is reported. */
START_TEST(launcher_forks_shims)
{
    struct agent_task *t[3];
    pid_t launcher;

    ck_assert_ptr_nonnull(X->launcher);
    t[0] = run("lf_a", "{\"command\": \"sleep 30\"}");
    wait_running(t[0]);
    launcher = ppid_of(t[0]->shim_pid);
    ck_assert_int_gt(launcher, 1);
    ck_assert_int_ne(launcher, getpid());
    assert_shim_argv(t[0]);
    assert_joined(t[0]);

    /* Dead before the launch: the request cannot reach it, so the agent
     * spawns the shim (one the launcher took unanswered fails instead). */
    ck_assert_int_eq(kill(launcher, SIGKILL), 0);
    ck_assert(spin(5, gone_cond, &launcher));
    t[1] = run("lf_b", "{\"command\": \"sleep 30\"}");
    wait_running(t[1]);
    ck_assert_ptr_null(X->launcher);
    ck_assert_int_eq(ppid_of(t[1]->shim_pid), getpid());
    assert_joined(t[1]); /* spawned by the agent */

    usleep(1100 * 1000);
    t[2] = run("lf_c", "{\"command\": \"sleep 30\"}");
    wait_running(t[2]);
    ck_assert_ptr_nonnull(X->launcher);
    ck_assert_int_ne(ppid_of(t[2]->shim_pid), getpid());
    ck_assert_int_ne(ppid_of(t[2]->shim_pid), launcher);
    assert_shim_argv(t[2]);
    assert_joined(t[2]);

    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(exec_kill(X, t[i], 0), 0);
        wait_end(t[i], 10);
        ck_assert_int_eq(t[i]->state, AGORA_TASK_KILLED);
        task_free(t[i]);
    }
}
END_TEST

/* A launcher that takes a request and does not answer (stopped here)
 * may have forked a shim: the launch does not wait for it (the loop goes
 * on), after LAUNCHER_TIMEOUT the task fails rather than get a second
 * shim, and the next launch a second later has a new launcher. */
START_TEST(launcher_hung)
{
    struct agent_task *a, *b;
    pid_t launcher;

    a = run("lh_a", "{\"command\": \"sleep 30\"}");
    wait_running(a);
    launcher = ppid_of(a->shim_pid);
    ck_assert_int_eq(kill(launcher, SIGSTOP), 0);
    b = run("lh_b", "{\"command\": \"sleep 30\"}");
    ck_assert_int_eq(b->state, AGORA_TASK_STAGING); /* exec_launch returned */
    ck_assert_int_eq(b->shim_pid, 0);
    wait_end(b, LAUNCHER_TIMEOUT + 5);
    ck_assert_int_eq(b->state, AGORA_TASK_FAILED);
    ck_assert_str_eq(last(b, -1)->reason, "REASON_CONTAINER_LAUNCH_FAILED");
    ck_assert(launcher_broken(X->launcher) > 0);
    assert_gone(launcher);
    task_free(b);

    usleep(1100 * 1000);
    b = run("lh_c", "{\"command\": \"sleep 30\"}");
    wait_running(b);
    ck_assert(X->launcher && !launcher_broken(X->launcher));
    ck_assert_int_ne(ppid_of(b->shim_pid), getpid());
    ck_assert_int_ne(ppid_of(b->shim_pid), launcher);
    ck_assert_int_eq(exec_kill(X, b, 0), 0);
    ck_assert_int_eq(exec_kill(X, a, 0), 0);
    wait_end(b, 10);
    wait_end(a, 10);
    ck_assert_int_eq(a->state, AGORA_TASK_KILLED);
    task_free(a);
    task_free(b);
}
END_TEST

/* A live shim (not a zombie) whose argv names meta_file. */
static int shim_of_meta_runs(const char *meta_file)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int found = 0;

    ck_assert_ptr_nonnull(d);
    while (!found && (e = readdir(d))) {
        char path[300], buf[PATH_MAX + 64];
        size_t a0 = sizeof("agora-shim"), a1 = sizeof("--shim");
        pid_t pid = (pid_t)atoi(e->d_name);
        ssize_t n;

        if (pid <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        n = exec_read_file(AT_FDCWD, path, buf, sizeof(buf) - 1);
        if (n <= (ssize_t)(a0 + a1))
            continue;
        buf[n] = '\0';
        found = strcmp(buf + a0 + a1, meta_file) == 0 && !gone(pid);
    }
    closedir(d);
    return found;
}

static int no_shim_of_meta(void *arg)
{
    return !shim_of_meta_runs(arg);
}

/* A kill while the launcher forks the shim (stopped here): KILLING at
 * once, and once the shim is forked it ends without starting the task.
 * A task forgotten meanwhile: the shim forked for it is killed. */
START_TEST(launcher_kill_while_forking)
{
    struct agent_task *a, *k, *f;
    pid_t launcher;
    char marker[512];

    a = run("lk_a", "{\"command\": \"sleep 30\"}");
    wait_running(a);
    launcher = ppid_of(a->shim_pid);
    ck_assert_int_eq(kill(launcher, SIGSTOP), 0);
    snprintf(marker, sizeof(marker), "%s/lk_ran", workdir);
    k = task_new("lk_k", "{\"command\": \"touch ../../lk_ran\"}");
    ck_assert_int_eq(exec_launch(X, k), 0);
    f = run("lk_f", "{\"command\": \"sleep 30\"}");
    ck_assert_int_eq(exec_kill(X, k, 5), 0);
    ck_assert_int_eq(last(k, -1)->state, AGORA_TASK_KILLING);
    exec_forget(X, f);
    ck_assert_int_eq(kill(launcher, SIGCONT), 0);

    wait_end(k, 10);
    ck_assert_int_eq(k->state, AGORA_TASK_KILLED);
    ck_assert_ptr_null(last(k, AGORA_TASK_STARTING));
    ck_assert_ptr_null(last(k, AGORA_TASK_RUNNING));
    ck_assert_int_ne(access(marker, F_OK), 0);
    ck_assert_msg(spin(5, no_shim_of_meta, f->meta_file),
                  "the shim of a forgotten task runs");
    ck_assert_int_eq(count_upds(f), 0);
    ck_assert(!launcher_broken(X->launcher));

    ck_assert_int_eq(exec_kill(X, a, 0), 0);
    wait_end(a, 10);
    task_free(a);
    task_free(k);
    task_free(f);
}
END_TEST

/* After recovery, the container directories of tasks that are not
 * running go (a machine crash leaves them); a running task's stays. */
START_TEST(sweep_containers)
{
    struct agent_task *t = run("swept_live", "{\"command\": \"sleep 30\"}");
    char dir[300], path[400];
    struct stat st;

    wait_running(t);
    snprintf(dir, sizeof(dir), "%s/containers", workdir);
    ck_assert_int_eq(fs_mkdirs(dir, 0700), 0);
    free(X->containers_dir);
    ck_assert_ptr_nonnull(X->containers_dir = strdup(dir));
    snprintf(path, sizeof(path), "%s/swept_live/rootfs/etc", dir);
    ck_assert_int_eq(fs_mkdirs(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/swept_dead/rootfs/etc", dir);
    ck_assert_int_eq(fs_mkdirs(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/swept_dead/rootfs/etc", dir);
    touch(path, "passwd");
    snprintf(path, sizeof(path), "%s/swept_dead/rootfs/host", dir);
    ck_assert_int_eq(symlink("/etc", path), 0); /* not followed */

    exec_sweep_containers(X);
    snprintf(path, sizeof(path), "%s/swept_dead", dir);
    ck_assert_int_ne(lstat(path, &st), 0);
    ck_assert_int_eq(stat("/etc/passwd", &st), 0);
    snprintf(path, sizeof(path), "%s/swept_live/rootfs/etc", dir);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert_int_eq(exec_kill(X, t, 0), 0);
    wait_end(t, 10);
    task_free(t);
}
END_TEST

/* ---- figures ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* A field of /proc/<pid>/status in kB ("VmRSS", "RssAnon"), or -1. */
static long status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    long kb = -1;
    size_t n = strlen(field);
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, field, n) && line[n] == ':' &&
            sscanf(line + n + 1, "%ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static long rss_kb(pid_t pid)
{
    return status_kb(pid, "VmRSS");
}

#define NLAT 200

static double tv(struct timeval t)
{
    return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

struct pacer {
    struct agent_task **ts;
    double *start;
    int n, next;
};

static void pace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct pacer *p = w->data;
    char id[32];

    /* catch up when the loop was late: the rate is what is measured */
    while (p->next < p->n && mono() >= p->start[0] + p->next * w->repeat) {
        snprintf(id, sizeof(id), "paced%d", p->next);
        p->ts[p->next] = task_new(id, getenv("AGORA_TEST_PACED_SPEC")
                                          ? getenv("AGORA_TEST_PACED_SPEC")
                                          : "{\"command\": \"true\", "
                                            "\"resources\": "
                                            "\"cpus:0.1;mem:32\"}");
        p->start[p->next] = mono();
        ck_assert_int_eq(exec_launch(X, p->ts[p->next]), 0);
        p->next++;
    }
    if (p->next == p->n)
        ev_timer_stop(loop, w);
}

static int pacer_done(void *arg)
{
    struct pacer *p = arg;

    if (p->next < p->n)
        return 0;
    for (int i = 0; i < p->n; i++)
        if (!agora_task_state_terminal(p->ts[i]->state))
            return 0;
    return 1;
}

static void paced(int n, double rate)
{
    struct pacer p = {calloc((size_t)n, sizeof(*p.ts)),
                      calloc((size_t)n, sizeof(double)), n, 0};
    double *lat = calloc((size_t)n, sizeof(double)), t0 = mono();
    ev_timer w;
    int late = 0;

    p.start[0] = t0;
    ev_timer_init(&w, pace_cb, 0., 1.0 / rate);
    w.data = &p;
    ev_timer_start(Loop, &w);
    ck_assert(spin(60, pacer_done, &p));
    double took = mono() - t0;
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(p.ts[i]->state, AGORA_TASK_FINISHED);
        lat[i] = last(p.ts[i], AGORA_TASK_RUNNING)->at - p.start[i];
        late += lat[i] > 0.020;
        task_free(p.ts[i]);
    }
    qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
    printf("launch_latency (%s, paced %d at %.0f/s): done in %.2f s, "
           "launch->RUNNING p50 %.2f ms p99 %.2f ms max %.2f ms (%d over "
           "20 ms)\n",
           exec_isolation_name(X), n, rate, took, lat[n / 2] * 1e3,
           lat[n * 99 / 100] * 1e3, lat[n - 1] * 1e3, late);
    free(lat);
    free(p.ts);
    free(p.start);
}

START_TEST(launch_latency)
{
    static struct agent_task *ts[NLAT];
    static double lat[NLAT];
    char id[32];
    double t0, start[NLAT];
    struct agent_task *probe;

    /* one after another: spawn -> RUNNING */
    for (int i = 0; i < NLAT; i++) {
        snprintf(id, sizeof(id), "lat%d", i);
        ts[i] = task_new(id, "{\"command\": \"true\", \"resources\": "
                             "\"cpus:0.1;mem:32\"}");
        start[i] = mono();
        ck_assert_int_eq(exec_launch(X, ts[i]), 0);
        wait_running(ts[i]);
        lat[i] = last(ts[i], AGORA_TASK_RUNNING)->at - start[i];
    }
    for (int i = 0; i < NLAT; i++) {
        wait_end(ts[i], 10);
        ck_assert_int_eq(ts[i]->state, AGORA_TASK_FINISHED);
        task_free(ts[i]);
    }
    qsort(lat, NLAT, sizeof(*lat), cmp_double);
    printf("launch_latency (%s, sequential): p50 %.2f ms, p99 %.2f ms, max "
           "%.2f ms\n",
           exec_isolation_name(X), lat[NLAT / 2] * 1e3,
           lat[NLAT * 99 / 100] * 1e3, lat[NLAT - 1] * 1e3);

    /* a burst: all launched at once, until all finished */
    struct rusage ru0, ru1, rc0, rc1;
    getrusage(RUSAGE_SELF, &ru0);
    getrusage(RUSAGE_CHILDREN, &rc0);
    t0 = mono();
    for (int i = 0; i < NLAT; i++) {
        snprintf(id, sizeof(id), "burst%d", i);
        ts[i] = task_new(id, "{\"command\": \"true\", \"resources\": "
                             "\"cpus:0.1;mem:32\"}");
        start[i] = mono();
        ck_assert_int_eq(exec_launch(X, ts[i]), 0);
    }
    double launched = mono() - t0;
    for (int i = 0; i < NLAT; i++) {
        wait_end(ts[i], 30);
        ck_assert_int_eq(ts[i]->state, AGORA_TASK_FINISHED);
        lat[i] = last(ts[i], AGORA_TASK_RUNNING)->at - start[i];
    }
    double all = mono() - t0;
    spin(0.2, never, NULL); /* the last shims reaped */
    getrusage(RUSAGE_SELF, &ru1);
    getrusage(RUSAGE_CHILDREN, &rc1);
    for (int i = 0; i < NLAT; i++)
        task_free(ts[i]);
    qsort(lat, NLAT, sizeof(*lat), cmp_double);
    printf("launch_latency (%s, burst of %d): exec_launch %.0f/s, all "
           "finished in %.3f s (%.0f tasks/s), launch->RUNNING p50 %.2f ms "
           "p99 %.2f ms\n",
           exec_isolation_name(X), NLAT, NLAT / launched, all, NLAT / all,
           lat[NLAT / 2] * 1e3, lat[NLAT * 99 / 100] * 1e3);
    printf("launch_latency: cpu per task: agent %.2f ms, shim+task %.2f ms\n",
           (tv(ru1.ru_utime) + tv(ru1.ru_stime) - tv(ru0.ru_utime) -
            tv(ru0.ru_stime)) *
               1e3 / NLAT,
           (tv(rc1.ru_utime) + tv(rc1.ru_stime) - tv(rc0.ru_utime) -
            tv(rc0.ru_stime)) *
               1e3 / NLAT);

    /* paced: 500 launches at 500/s, as the benchmark */
    paced(500, 500.0);

    /* a shim's footprint */
    probe = run("probe", "{\"command\": \"sleep 300\"}");
    wait_running(probe);
    spin(0.2, never, NULL);
    printf("shim RSS: %ld kB (anon %ld kB, file %ld kB; %s)\n",
           rss_kb(probe->shim_pid), status_kb(probe->shim_pid, "RssAnon"),
           status_kb(probe->shim_pid, "RssFile"), X->shim_path);
    exec_kill(X, probe, 0);
    wait_end(probe, 10);
    task_free(probe);
}
END_TEST

/* AGORA_EXEC_BENCH=1: 1,000 `sleep 600` tasks, the agent's RSS. */
START_TEST(bench_thousand)
{
    enum { N = 1000 };
    static struct agent_task *ts[N];
    char id[32];
    long before, after;
    double t0;

    if (!getenv("AGORA_EXEC_BENCH")) {
        printf("bench_thousand: skipped (set AGORA_EXEC_BENCH=1)\n");
        return;
    }
    before = rss_kb(getpid());
    t0 = mono();
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "k%d", i);
        ts[i] = run(id, "{\"command\": \"sleep 600\", \"resources\": "
                        "\"cpus:0.01;mem:32\"}");
    }
    for (int i = 0; i < N; i++)
        wait_running(ts[i]);
    after = rss_kb(getpid());
    printf("bench_thousand: %d running in %.2f s (%.0f launches/s); test "
           "process RSS %ld kB -> %ld kB (+%ld kB, %.0f B/task)\n",
           N, mono() - t0, N / (mono() - t0), before, after, after - before,
           (after - before) * 1024.0 / N);
    for (int i = 0; i < N; i++)
        exec_kill(X, ts[i], 0);
    for (int i = 0; i < N; i++) {
        wait_end(ts[i], 60);
        task_free(ts[i]);
    }
}
END_TEST

/* ---- posix isolation ---- */

START_TEST(posix_basics)
{
    struct agent_task *t, *u;

    ck_assert_str_eq(exec_isolation_name(X), "posix");
    t = run("p3", "{\"command\": \"exit 3\", \"resources\": \"mem:64\"}");
    u = run("p0", "{\"command\": \"echo hi\"}");
    wait_end(t, 10);
    wait_end(u, 10);
    ck_assert_int_eq(t->state, AGORA_TASK_FAILED);
    ck_assert_int_eq(u->state, AGORA_TASK_FINISHED);
    ck_assert_str_eq(slurp(u->sandbox, "stdout"), "hi\n");
    task_free(t);
    task_free(u);
}
END_TEST

START_TEST(posix_recover_shim_killed)
{
    struct agent_task *t = run("pshim", WAITER);
    pid_t shim, pid;

    wait_running(t);
    shim = t->shim_pid;
    pid = t->pid;
    restart(t);
    ck_assert_int_eq(kill(shim, SIGKILL), 0);
    wait_shim_end(shim);
    ck_assert_int_eq(exec_recover(X, t, 0), 0);
    wait_end(t, 5);
    ck_assert_int_eq(t->state, AGORA_TASK_FAILED);
    assert_gone(pid); /* its process group was killed */
    task_free(t);
}
END_TEST

static void teardown(void)
{
    agent_down();
}

static Suite *suite(void)
{
    Suite *s = suite_create("exec");
    TCase *tc = tcase_create("cgroups-or-best");
    TCase *tp = tcase_create("posix");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, echo_finished);
    tcase_add_test(tc, exit_3_failed);
    tcase_add_test(tc, signaled_failed);
    tcase_add_test(tc, not_found_failed);
    tcase_add_test(tc, spec_errors);
    tcase_add_test(tc, environment);
    tcase_add_test(tc, environment_all_ports);
    tcase_add_test(tc, as_user);
    tcase_add_test(tc, user_cache);
    tcase_add_test(tc, kill_grace);
    tcase_add_test(tc, kill_before_running);
    tcase_add_test(tc, oom_memory_limit);
    tcase_add_test(tc, usage);
    tcase_add_test(tc, cgroup_reused);
    tcase_add_test(tc, cgroup_oom_not_reused);
    tcase_add_test(tc, cgroup_pool_trim);
    tcase_add_test(tc, cgroup_pool_ahead);
    tcase_add_test(tc, cgroup_pids_v1_swept);
    tcase_add_test(tc, oom_in_kept_cgroup);
    tcase_add_test(tc, health_http);
    tcase_add_test(tc, health_tcp);
    tcase_add_test(tc, health_command);
    tcase_add_test(tc, health_command_output);
    tcase_add_test(tc, health_command_as_user);
    tcase_add_test(tc, health_command_output_cut);
    tcase_add_test(tc, health_command_output_utf8_cut);
    tcase_add_test(tc, health_kills);
    tcase_add_test(tc, recover_adopt);
    tcase_add_test(tc, recover_then_kill);
    tcase_add_test(tc, recover_exited_while_down);
    tcase_add_test(tc, recover_ended_removes_cgroups);
    tcase_add_test(tc, recover_shim_killed);
    tcase_add_test(tc, recover_cleanup);
    tcase_add_test(tc, recover_unknown_pid_reuse);
    tcase_add_test(tc, recover_older_agents_layout);
    tcase_add_test(tc, launch_document_not_on_disk);
    tcase_add_test(tc, launcher_forks_shims);
    tcase_add_test(tc, launcher_hung);
    tcase_add_test(tc, launcher_kill_while_forking);
    tcase_add_test(tc, sweep_containers);
    tcase_add_test(tc, launch_latency);
    tcase_add_test(tc, bench_thousand);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(tp, setup_posix, teardown);
    tcase_set_timeout(tp, 60);
    tcase_add_test(tp, posix_basics);
    tcase_add_test(tp, kill_grace);
    tcase_add_test(tp, usage);
    tcase_add_test(tp, posix_recover_shim_killed);
    suite_add_tcase(s, tp);
    return s;
}

static int has(const char *path, const char *needle, size_t nlen)
{
    char buf[32768];
    int fd = open(path, O_RDONLY);
    ssize_t n;

    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf));
    close(fd);
    for (ssize_t i = 0; n > 0 && i + (ssize_t)nlen <= n; i++)
        if (memcmp(buf + i, needle, nlen) == 0)
            return 1;
    return 0;
}

/* A failed test may leave tasks running: kill every process of this
 * run (a shim of its work dirs, or a task whose sandbox is in them). */
static void sweep_leftovers(void)
{
    char shim[256], sandbox[256], path[64];
    DIR *d = opendir("/proc");
    struct dirent *e;
    int ns = snprintf(shim, sizeof(shim), "--shim%c%s/agora-exec-test-%d-", 0,
                      tmp_base(), run_id);
    int nb =
        snprintf(sandbox, sizeof(sandbox),
                 "AGORA_SANDBOX=%s/agora-exec-test-%d-", tmp_base(), run_id);

    while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 1 || pid == getpid())
            continue;
        snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
        int hit = has(path, shim, (size_t)ns);
        snprintf(path, sizeof(path), "/proc/%d/environ", pid);
        hit = hit || has(path, sandbox, (size_t)nb);
        if (hit) {
            printf("sweeping leftover process %d\n", pid);
            kill(pid, SIGKILL);
        }
    }
    if (d)
        closedir(d);
}

/* Removes the cgroups and directories the tests made. */
static void remove_roots(void)
{
    char cmd[512];

    struct cgroups cg;
    char err[256];

    snprintf(cmd, sizeof(cmd), "rm -rf %s/agora-exec-test-%d-*", tmp_base(),
             run_id);
    if (system(cmd) != 0)
        printf("could not remove the test directories\n");
    if (cg_detect(&cg, "", cgroot, err, sizeof(err)) != 0)
        return;
    for (int i = 0; i < CG_NCTL; i++) {
        if (!cg.dir[i])
            continue;
        snprintf(cmd, sizeof(cmd),
                 "find %s -mindepth 1 -depth -type d "
                 "-exec rmdir {} + 2>/dev/null",
                 cg.dir[i]);
        (void)system(cmd);
        if (rmdir(cg.dir[i]) != 0 && errno != ENOENT)
            printf("cgroup %s left: %s\n", cg.dir[i], strerror(errno));
    }
    cg_free(&cg);
}

int main(int argc, char **argv)
{
    SRunner *sr;
    int failed;

    if (argc >= 2 && strcmp(argv[1], "--shim") == 0)
        return shim_main(argc, argv);
    run_id = (int)getpid();
    snprintf(cgroot, sizeof(cgroot), "agora-test-%d", run_id);
    if (!getenv("AGORA_TEST_VERBOSE"))
        log_set_level(AGORA_LOG_WARN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    sweep_leftovers();
    usleep(200 * 1000);
    remove_roots();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
