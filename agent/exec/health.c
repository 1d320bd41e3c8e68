/*
 * health.c - health checks the agent runs against its tasks, with Mesos'
 * semantics (docs/health-checks.md, src/checks/health_checker.cpp):
 *
 *   - the first check runs `delay` seconds after the task started, then
 *     one every `interval` seconds after the previous one ended;
 *   - a check that takes longer than `timeout` fails (a COMMAND check is
 *     killed);
 *   - failures within `grace_period` of the start are ignored until the
 *     first success;
 *   - every change of health (unknown -> healthy or unhealthy, healthy <->
 *     unhealthy) is a TASK_RUNNING update with
 *     REASON_TASK_HEALTH_CHECK_STATUS_UPDATED and `healthy` set;
 *   - after `max_consecutive_failures` failures in a row (0: never) the
 *     task is killed with its kill grace period. As Mesos' command
 *     executor does, the end is then TASK_KILLED with healthy=false.
 *
 * COMMAND runs `/bin/sh -c` in the sandbox with the task's environment
 * and user, inside the task's cgroups, as a child of the agent (not of
 * the shim), watched by ev_child; a container task's check runs inside
 * its container (its namespaces, its image's /bin/sh, the sandbox at
 * /mnt/mesos/sandbox), and a docker CLI task's as `docker exec
 * <container> sh -c <command>`. HTTP sends "GET <path>" to
 * 127.0.0.1:<port> on a non-blocking socket (200-399 is healthy). TCP
 * only connects. Nothing blocks the loop.
 *
 * Each check's result, passed or failed, becomes t->health_output
 * (health_result.c), which the task's next status update carries: the
 * HTTP status line, "connected to 127.0.0.1:<port>", a COMMAND's exit
 * status and the first bytes of what it wrote to stdout and stderr, or
 * why the check failed (a connect error, a timeout).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora/json.h>

#include "docker.h"
#include "exec_int.h"
#include "log.h"

#define HEALTH_LOG "health"

struct health {
    struct exec *x;
    struct agent_task *t;
    struct health_conf c;
    ev_timer next;    /* the next check */
    ev_timer timeout; /* the running check's deadline */
    ev_io io;         /* HTTP / TCP socket */
    ev_child child;   /* COMMAND */
    ev_io out;        /* COMMAND: the read end of its stdout and stderr */
    pid_t pid;        /* running COMMAND check, 0 when none */
    int timed_out;
    int initializing;  /* no success yet */
    int reported;      /* the last health reported: -1, 0, 1 */
    uint32_t failures; /* consecutive, counted ones */
    /* HTTP */
    char *req;
    size_t reqlen, sent;
    /* What the check answered: HTTP, the start of the response; COMMAND,
     * the first bytes of its output (the rest is read and dropped). */
    char resp[256];
    size_t resplen;
    /* COMMAND: what the child needs, prepared once */
    char **env;
    int switch_user;
    uid_t uid;
    gid_t gid;
    gid_t *groups; /* supplementary groups of the user */
    int ngroups;
    char *cgdirs[CG_MAX_DIRS];
    size_t ncg;
    /* COMMAND in a container: run in the task's namespaces (the paths of
     * its /proc/<pid>/ns/ files, made before each fork) */
    int in_ctr;
    char ns[5][48];
    /* COMMAND of a task the docker CLI runs: `docker exec <container> sh
     * -c <command>` (argv[0] the CLI's path), with the CLI's environment
     * in env, as Mesos' docker executor: the task's namespaces are the
     * engine's container's, not those of its `docker run` process. */
    char **docker_argv;
};

/* ------------------------------------------------------------------ */
/* Configuration */
/* ------------------------------------------------------------------ */

static int num(yajl_val hc, const char *key, double dflt, double min,
               double *out, char *err, size_t errlen)
{
    int rc = agora_json_num(hc, key, out);

    if (rc == AGORA_ENOENT) {
        *out = dflt;
        return 0;
    }
    if (rc != 0 || !(*out >= min) || *out > 86400.0 * 365) {
        snprintf(err, errlen, "\"%s\" must be a number >= %g", key, min);
        return AGORA_EINVAL;
    }
    return 0;
}

static int parse_port(yajl_val hc, const uint32_t *ports, size_t nports,
                      struct health_conf *c, char *err, size_t errlen)
{
    int64_t port = 0, idx = 0;
    int rc = agora_json_int(hc, "port", &port);

    if (rc == AGORA_EINVAL || (rc == 0 && (port < 0 || port > 65535))) {
        snprintf(err, errlen, "\"port\" must be a port number");
        return AGORA_EINVAL;
    }
    if (port > 0) {
        c->port = (uint32_t)port;
        return 0;
    }
    rc = agora_json_int(hc, "port_index", &idx);
    if (rc == AGORA_EINVAL || idx < 0) {
        snprintf(err, errlen, "\"port_index\" must be an integer >= 0");
        return AGORA_EINVAL;
    }
    if ((size_t)idx >= nports) {
        snprintf(err, errlen, "port_index %lld but the task has %zu port(s)",
                 (long long)idx, nports);
        return AGORA_EINVAL;
    }
    c->port = ports[idx];
    return 0;
}

int health_conf_parse(yajl_val hc, const uint32_t *ports, size_t nports,
                      struct health_conf *c, char *err, size_t errlen)
{
    const char *type = NULL, *scheme = NULL;
    double mcf;
    int rc;

    memset(c, 0, sizeof(*c));
    if (!YAJL_IS_OBJECT(hc)) {
        snprintf(err, errlen, "must be an object");
        return AGORA_EINVAL;
    }
    if (agora_json_str(hc, "type", &type) != 0) {
        snprintf(err, errlen, "\"type\" must be COMMAND, HTTP or TCP");
        return AGORA_EINVAL;
    }
    if (!strncasecmp(type, "MESOS_", 6))
        type += 6; /* Marathon's names */
    if (!strcasecmp(type, "COMMAND")) {
        yajl_val cmd = agora_json_get(hc, "command");
        c->type = AGORA_CHECK_COMMAND;
        if (YAJL_IS_OBJECT(cmd)) /* Mesos' CommandInfo {"value": ...} */
            (void)agora_json_str(cmd, "value", &c->command);
        else
            (void)agora_json_str(hc, "command", &c->command);
        if (!c->command || !*c->command) {
            snprintf(err, errlen, "a COMMAND check needs a \"command\"");
            return AGORA_EINVAL;
        }
    } else if (!strcasecmp(type, "HTTP") || !strcasecmp(type, "TCP")) {
        c->type =
            !strcasecmp(type, "HTTP") ? AGORA_CHECK_HTTP : AGORA_CHECK_TCP;
        if ((rc = parse_port(hc, ports, nports, c, err, errlen)) != 0)
            return rc;
    } else if (!strcasecmp(type, "HTTPS") || !strcasecmp(type, "MESOS_HTTPS")) {
        snprintf(err, errlen, "HTTPS health checks are not supported yet");
        return AGORA_EINVAL;
    } else {
        snprintf(err, errlen, "unknown type \"%s\"", type);
        return AGORA_EINVAL;
    }
    if (c->type == AGORA_CHECK_HTTP) {
        if (agora_json_str(hc, "scheme", &scheme) == 0 &&
            strcasecmp(scheme, "http") != 0) {
            snprintf(err, errlen, "scheme \"%s\" is not supported", scheme);
            return AGORA_EINVAL;
        }
        if (agora_json_str(hc, "path", &c->path) != 0 || !*c->path)
            c->path = "/";
        if (c->path[0] != '/' || strpbrk(c->path, " \r\n\t")) {
            snprintf(err, errlen,
                     "\"path\" must start with '/' and hold no "
                     "spaces");
            return AGORA_EINVAL;
        }
    }
    /* Mesos' defaults (HealthCheck in mesos.proto). */
    if ((rc = num(hc, "delay", 15, 0, &c->delay, err, errlen)) != 0 ||
        (rc = num(hc, "grace_period", 10, 0, &c->grace, err, errlen)) != 0 ||
        (rc = num(hc, "interval", 10, 0.01, &c->interval, err, errlen)) != 0 ||
        (rc = num(hc, "timeout", 20, 0.01, &c->timeout, err, errlen)) != 0 ||
        (rc = num(hc, "max_consecutive_failures", 3, 0, &mcf, err, errlen)) !=
            0)
        return rc;
    c->max_failures = mcf > 1e6 ? 1000000u : (uint32_t)mcf;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Results */
/* ------------------------------------------------------------------ */

static void schedule(struct health *h, double after)
{
    ev_timer_stop(h->x->loop, &h->next);
    ev_timer_set(&h->next, after > 0 ? after : 0., 0.);
    ev_timer_start(h->x->loop, &h->next);
}

static void report(struct health *h, int healthy)
{
    if (h->reported == healthy)
        return;
    h->reported = healthy;
    exec_report(h->x, h->t, AGORA_TASK_RUNNING,
                "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED", NULL, healthy);
}

/* The end of one check, whose result (passed or not) is `why`. May free
 * h (the task is killed): return after. */
static void done(struct health *h, int ok, const char *why)
{
    double now = ev_now(h->x->loop);

    ev_timer_stop(h->x->loop, &h->timeout);
    health_result_set(h->t, why);
    if (ok) {
        h->initializing = 0;
        h->failures = 0;
        report(h, 1);
        schedule(h, h->c.interval);
        return;
    }
    if (h->initializing && h->c.grace > 0 &&
        now - h->t->start_time <= h->c.grace) {
        log_debug(HEALTH_LOG, "task %s: check failed in its grace period: %s",
                  h->t->id, why);
        schedule(h, h->c.interval);
        return;
    }
    h->failures++;
    log_info(HEALTH_LOG, "task %s: health check failed (%u in a row): %s",
             h->t->id, h->failures, why);
    report(h, 0);
    if (h->c.max_failures && h->failures >= h->c.max_failures) {
        log_warn(HEALTH_LOG,
                 "task %s: %u consecutive failed health checks, "
                 "killing it",
                 h->t->id, h->failures);
        exec_health_kill(h->x, h->t); /* frees h */
        return;
    }
    schedule(h, h->c.interval);
}

/* ------------------------------------------------------------------ */
/* HTTP and TCP */
/* ------------------------------------------------------------------ */

static void sock_close(struct health *h)
{
    if (h->io.fd < 0)
        return;
    ev_io_stop(h->x->loop, &h->io);
    close(h->io.fd);
    ev_io_set(&h->io, -1, EV_READ);
}

static void sock_fail(struct health *h, const char *what, int err)
{
    char why[128];

    snprintf(why, sizeof(why), "%s 127.0.0.1:%u: %s", what, h->c.port,
             strerror(err));
    sock_close(h);
    done(h, 0, why);
}

/* The status line "HTTP/1.x NNN ..." once it is complete. */
static int http_status(const char *resp, size_t len, int *code)
{
    const char *eol = memchr(resp, '\n', len);

    if (!eol)
        return len >= 255 ? -1 : 0;
    if (len < 12 || strncmp(resp, "HTTP/", 5) != 0)
        return -1;
    const char *sp = memchr(resp, ' ', (size_t)(eol - resp));
    if (!sp || sscanf(sp + 1, "%3d", code) != 1)
        return -1;
    return 1;
}

/* The connect finished (TCP: that is the check) or the request goes on. */
static void on_writable(struct health *h)
{
    int err = 0;
    socklen_t len = sizeof(err);
    ssize_t n;

    if (h->sent == 0) {
        if (getsockopt(h->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err) {
            sock_fail(h, "connect", err);
            return;
        }
        if (h->c.type == AGORA_CHECK_TCP) {
            char what[64];

            snprintf(what, sizeof(what), "connected to 127.0.0.1:%u",
                     h->c.port);
            sock_close(h);
            done(h, 1, what);
            return;
        }
    }
    n = send(h->io.fd, h->req + h->sent, h->reqlen - h->sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        sock_fail(h, "send to", errno);
        return;
    }
    h->sent += (size_t)n;
    if (h->sent == h->reqlen) {
        ev_io_stop(h->x->loop, &h->io);
        ev_io_set(&h->io, h->io.fd, EV_READ);
        ev_io_start(h->x->loop, &h->io);
    }
}

/* The response's status line (complete: http_status() said so), without
 * its line end, into out (NUL-terminated). */
static void status_line(const struct health *h, char *out, size_t cap)
{
    const char *eol = memchr(h->resp, '\n', h->resplen);
    size_t n = (size_t)(eol - h->resp);

    if (n > 0 && h->resp[n - 1] == '\r')
        n--;
    snprintf(out, cap, "%.*s", (int)n, h->resp);
}

/* Reads until the status line is complete (or the server closes). */
static void on_readable(struct health *h)
{
    char line[sizeof(h->resp)];
    int code = 0, rc;
    ssize_t n = recv(h->io.fd, h->resp + h->resplen,
                     sizeof(h->resp) - 1 - h->resplen, 0);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        sock_fail(h, "recv from", errno);
        return;
    }
    h->resplen += (size_t)n;
    rc = http_status(h->resp, h->resplen, &code);
    if (rc == 0 && n > 0)
        return;
    sock_close(h);
    if (rc <= 0) {
        done(h, 0,
             n == 0 ? "connection closed before a status line"
                    : "not an HTTP response");
    } else {
        status_line(h, line, sizeof(line));
        done(h, code >= 200 && code < 400, line);
    }
}

static void sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    if (revents & EV_WRITE)
        on_writable(w->data);
    else
        on_readable(w->data);
}

static void sock_start(struct health *h)
{
    struct sockaddr_in sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        sock_fail(h, "socket for", errno);
        return;
    }
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)h->c.port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->sent = 0;
    h->resplen = 0;
    ev_io_set(&h->io, fd, EV_WRITE);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 &&
        errno != EINPROGRESS) {
        sock_fail(h, "connect", errno);
        return;
    }
    ev_io_start(h->x->loop, &h->io);
}

/* ------------------------------------------------------------------ */
/* COMMAND */
/* ------------------------------------------------------------------ */

/* Reads per callback, at most: a check that writes without end must
 * not hold the loop. */
#define OUT_READS 16

static void out_close(struct health *h)
{
    if (h->out.fd < 0)
        return;
    ev_io_stop(h->x->loop, &h->out);
    close(h->out.fd);
    ev_io_set(&h->out, -1, EV_READ);
}

/*
 * Reads what the check wrote: the first bytes stay in resp, the rest is
 * read and dropped, so that the check never blocks on a full pipe. The
 * pipe is closed at its end (or on an error).
 */
static void out_read(struct health *h)
{
    char drop[4096];
    int i;

    for (i = 0; i < OUT_READS && h->out.fd >= 0; i++) {
        size_t room = sizeof(h->resp) - 1 - h->resplen;
        ssize_t n = read(h->out.fd, room ? h->resp + h->resplen : drop,
                         room ? room : sizeof(drop));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            out_close(h);
            return;
        }
        if (room)
            h->resplen += (size_t)n;
    }
}

static void out_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    out_read(w->data);
}

/* "<how it ended>: <the start of its output>", or only the first part
 * when it wrote nothing (but blanks). */
static void command_result(struct health *h, const char *how, char *out,
                           size_t cap)
{
    size_t n = h->resplen;

    while (n > 0 && (h->resp[n - 1] == '\n' || h->resp[n - 1] == ' ' ||
                     h->resp[n - 1] == '\r' || h->resp[n - 1] == '\t'))
        n--;
    if (n == 0)
        snprintf(out, cap, "%s", how);
    else
        snprintf(out, cap, "%s: %.*s", how, (int)n, h->resp);
}

static void child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
    struct health *h = w->data;
    int st = w->rstatus;
    char how[96], why[AGORA_HEALTH_OUTPUT_MAX + 1];

    ev_child_stop(loop, w);
    h->pid = 0;
    /* What it wrote before it ended is in the pipe now; a process it
     * left behind may hold the pipe open, so no waiting for its end. */
    out_read(h);
    out_close(h);
    if (h->timed_out)
        snprintf(how, sizeof(how), "command timed out after %gs", h->c.timeout);
    else if (WIFEXITED(st))
        snprintf(how, sizeof(how), "command exited with status %d",
                 WEXITSTATUS(st));
    else
        snprintf(how, sizeof(how), "command terminated by signal %d",
                 WTERMSIG(st));
    command_result(h, how, why, sizeof(why));
    done(h, !h->timed_out && WIFEXITED(st) && WEXITSTATUS(st) == 0, why);
}

/*
 * A container's check enters the task's namespaces (setns), then forks:
 * only a child of a setns(CLONE_NEWPID) is in the pid namespace. This
 * process waits for it and ends as it did, so the agent's ev_child sees
 * the check's status. Returns in the child (the one to exec).
 */
static void enter_container(const struct health *h)
{
    static const int types[5] = {CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET,
                                 CLONE_NEWPID, CLONE_NEWNS};
    int fds[5], st;
    pid_t pid;

    /* All opened first: after the mount namespace, /proc is the
     * container's. */
    for (int i = 0; i < 5; i++)
        if ((fds[i] = open(h->ns[i], O_RDONLY | O_CLOEXEC)) < 0)
            _exit(126);
    for (int i = 0; i < 5; i++)
        if (setns(fds[i], types[i]) != 0)
            _exit(126);
    if ((pid = fork()) < 0)
        _exit(126);
    if (pid == 0)
        return;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            _exit(126);
    if (WIFSIGNALED(st)) {
        signal(WTERMSIG(st), SIG_DFL);
        kill(getpid(), WTERMSIG(st));
    }
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 126);
}

/* In the forked child: only async-signal-safe calls, then exec. */
/* out: the write end of the output pipe, or -1 (then /dev/null). */
static void __attribute__((noreturn)) run_check(const struct health *h, int out)
{
    char *argv[] = {"sh", "-c", (char *)h->c.command, NULL};
    int fd;
    sigset_t none;

    setpgid(0, 0);
    for (size_t i = 0; i < h->ncg; i++)
        if (exec_cgroup_join_self(h->cgdirs[i]) != 0)
            _exit(126);
    if ((fd = open("/dev/null", O_RDWR)) < 0 || dup2(fd, 0) < 0 ||
        dup2(out >= 0 ? out : fd, 1) < 0 || dup2(out >= 0 ? out : fd, 2) < 0)
        _exit(126);
    if (h->in_ctr)
        enter_container(h);
    if (chdir(h->in_ctr ? CTR_SANDBOX : h->t->sandbox) != 0)
        _exit(126);
    close_range(3, ~0U, 0);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (h->switch_user && (setgroups((size_t)h->ngroups, h->groups) != 0 ||
                           setgid(h->gid) != 0 || setuid(h->uid) != 0))
        _exit(126);
    if (h->docker_argv)
        execve(h->docker_argv[0], h->docker_argv, h->env);
    else
        execve("/bin/sh", argv, h->env);
    _exit(127);
}

/* A pipe for the check's output: fds[0] (non-blocking) for the agent,
 * fds[1] for the child; both -1 when none can be had, and the check
 * then runs with its output on /dev/null (a result without it beats no
 * check). */
static void out_pipe(struct health *h, int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) == 0 && fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0)
        return;
    log_warn(HEALTH_LOG, "task %s: no pipe for its check's output: %s",
             h->t->id, strerror(errno));
    if (fds[0] >= 0) {
        close(fds[0]);
        close(fds[1]);
    }
    fds[0] = fds[1] = -1;
}

static void command_start(struct health *h)
{
    int fds[2] = {-1, -1};
    pid_t pid;

    if (!h->x->default_loop) {
        done(h, 0, "COMMAND checks need libev's default loop");
        return;
    }
    if (h->in_ctr) {
        static const char *const names[5] = {"ipc", "uts", "net", "pid",
                                             "mnt"};
        if (h->t->pid <= 0) {
            done(h, 0, "the container has no process");
            return;
        }
        for (int i = 0; i < 5; i++)
            snprintf(h->ns[i], sizeof(h->ns[i]), "/proc/%d/ns/%s",
                     (int)h->t->pid, names[i]);
    }
    out_pipe(h, fds);
    if ((pid = fork()) < 0) {
        char why[64];
        snprintf(why, sizeof(why), "fork: %s", strerror(errno));
        if (fds[0] >= 0) {
            close(fds[0]);
            close(fds[1]);
        }
        done(h, 0, why);
        return;
    }
    if (pid == 0)
        run_check(h, fds[1]);
    (void)setpgid(pid, pid); /* so a timeout's kill reaches it at once */
    h->pid = pid;
    h->timed_out = 0;
    h->resplen = 0;
    if (fds[0] >= 0) {
        close(fds[1]);
        ev_io_set(&h->out, fds[0], EV_READ);
        ev_io_start(h->x->loop, &h->out);
    }
    ev_child_set(&h->child, pid, 0);
    ev_child_start(h->x->loop, &h->child);
}

/* ------------------------------------------------------------------ */
/* The schedule */
/* ------------------------------------------------------------------ */

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct health *h = w->data;
    char why[64];

    if (h->pid > 0) {
        /* child_cb reports it once the check is reaped */
        h->timed_out = 1;
        (void)kill(-h->pid, SIGKILL);
        return;
    }
    sock_close(h);
    snprintf(why, sizeof(why), "no answer within %gs", h->c.timeout);
    done(h, 0, why);
}

static void next_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct health *h = w->data;

    ev_timer_set(&h->timeout, h->c.timeout, 0.);
    ev_timer_start(loop, &h->timeout);
    if (h->c.type == AGORA_CHECK_COMMAND)
        command_start(h);
    else
        sock_start(h);
}

/* cli, or the first executable <dir>/<cli> of path when it names no
 * directory (the child cannot search: it may only make async-signal-safe
 * calls). Malloc'ed; NULL when none is found or out of memory. */
static char *cli_path(const char *cli, const char *path)
{
    const char *p = path;

    if (strchr(cli, '/'))
        return strdup(cli);
    while (p && *p) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *full;

        if (len > 0 && asprintf(&full, "%.*s/%s", (int)len, p, cli) >= 0) {
            if (access(full, X_OK) == 0)
                return full;
            free(full);
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

/* The task's cgroup directories, which the check's child joins. */
static size_t task_cgroup_dirs(struct health *h)
{
    const char *name = exec_task_cgroup(h->t);

    return name ? cg_task_dirs(&h->x->cg, name, h->cgdirs) : 0;
}

/* The docker task's check: `docker exec` of its container (docker.h). */
static int docker_prepare(struct health *h)
{
    char name[EXEC_DOCKER_NAME], *cli;
    int rc = 0;

    if (docker_name(h->t->id, name, sizeof(name)) != 0)
        return AGORA_EINVAL;
    if (!(cli = cli_path(h->x->docker_cli ? h->x->docker_cli : "docker",
                         h->x->path)))
        return AGORA_ENOENT;
    if (docker_exec_argv(cli, name, h->c.command, &h->docker_argv) != 0 ||
        !(h->env = exec_docker_cli_env(h->x)))
        rc = AGORA_ENOMEM;
    free(cli);
    return rc;
}

static int command_prepare(struct health *h)
{
    struct exec_spec s;
    char err[256];
    int rc = exec_spec_parse(h->x, h->t, &s, err, sizeof(err));

    if (rc == 0 && s.docker) {
        exec_spec_free(&s);
        if ((rc = docker_prepare(h)) != 0)
            return rc;
        h->ncg = task_cgroup_dirs(h);
        return 0;
    }
    /* In a container: its image's Env and user, run in its namespaces. */
    if (rc == 0 && s.has_ctr) {
        rc = exec_spec_image(h->x, &s, err, sizeof(err));
        h->in_ctr = 1;
    }
    if (rc == 0 && !(h->env = exec_task_env(h->x, h->t, &s)))
        rc = AGORA_ENOMEM;
    if (rc == 0 && s.switch_user) {
        h->switch_user = 1;
        h->uid = s.uid;
        h->gid = s.gid;
        if (s.groups) { /* the user's (exec_spec.c) */
            h->groups = s.groups;
            h->ngroups = s.ngroups;
            s.groups = NULL;
        } else if ((h->groups = malloc(sizeof(*h->groups)))) {
            h->groups[0] = s.gid; /* a container's user: its gid */
            h->ngroups = 1;
        } else {
            rc = AGORA_ENOMEM;
        }
    }
    exec_spec_free(&s);
    if (rc != 0)
        return rc;
    h->ncg = task_cgroup_dirs(h);
    return 0;
}

struct health_conf *health_conf_dup(const struct health_conf *c)
{
    size_t clen = c->command ? strlen(c->command) + 1 : 0;
    size_t plen = c->path ? strlen(c->path) + 1 : 0;
    struct health_conf *d = malloc(sizeof(*d) + clen + plen);
    char *p;

    if (d == NULL)
        return NULL;
    *d = *c;
    p = (char *)(d + 1);
    if (c->command) {
        d->command = memcpy(p, c->command, clen);
        p += clen;
    }
    if (c->path)
        d->path = memcpy(p, c->path, plen);
    return d;
}

struct health *health_start(struct exec *x, struct agent_task *t,
                            const struct health_conf *c)
{
    struct health *h = calloc(1, sizeof(*h));
    double first;

    if (!h) {
        log_error(HEALTH_LOG, "task %s: out of memory", t->id);
        return NULL;
    }
    h->x = x;
    h->t = t;
    h->c = *c;
    h->reported = t->healthy;
    h->initializing = t->healthy != 1;
    ev_init(&h->next, next_cb);
    ev_init(&h->timeout, timeout_cb);
    ev_io_init(&h->io, sock_cb, -1, EV_READ);
    ev_io_init(&h->out, out_cb, -1, EV_READ);
    ev_init(&h->child, child_cb);
    h->next.data = h->timeout.data = h->io.data = h->child.data = h;
    h->out.data = h;
    if (c->type == AGORA_CHECK_HTTP) {
        int n = asprintf(&h->req,
                         "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                         "User-Agent: agora-health\r\nConnection: close\r\n"
                         "\r\n",
                         c->path, c->port);
        if (n < 0) {
            h->req = NULL;
            health_stop(h);
            return NULL;
        }
        h->reqlen = (size_t)n;
    } else if (c->type == AGORA_CHECK_COMMAND && command_prepare(h) != 0) {
        log_error(HEALTH_LOG, "task %s: cannot prepare its COMMAND check",
                  t->id);
        health_stop(h);
        return NULL;
    }
    first = t->start_time + c->delay - exec_now(x);
    schedule(h, first);
    return h;
}

void health_stop(struct health *h)
{
    struct ev_loop *loop;

    if (!h)
        return;
    loop = h->x->loop;
    ev_timer_stop(loop, &h->next);
    ev_timer_stop(loop, &h->timeout);
    sock_close(h);
    out_close(h);
    if (h->pid > 0) {
        /* libev reaps it; its status no longer matters */
        (void)kill(-h->pid, SIGKILL);
        ev_child_stop(loop, &h->child);
    }
    free(h->req);
    free(h->groups);
    exec_strv_free(h->env);
    docker_argv_free(h->docker_argv);
    cg_dirs_free(h->cgdirs, h->ncg);
    free(h);
}
