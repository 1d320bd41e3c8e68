/*
 * docker_probe.c - does this agent have docker? (docker.h)
 *
 * `docker version --format {{.Server.Version}}` answers with the engine's
 * version when the CLI reaches an engine, and fails (exit 1, "Cannot
 * connect to the Docker daemon ...") when it does not. The agent runs it
 * once at start as a child the loop watches (ev_child, an ev_io on its
 * output, an ev_timer that kills it after DOCKER_PROBE_TIMEOUT): the loop
 * never waits for it. Its output is kept up to DOCKER_PROBE_OUT bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "docker.h"

#define DOCKER_PROBE_TIMEOUT 10.0
#define DOCKER_PROBE_OUT 512

extern char **environ;

struct docker_probe {
    struct ev_loop *loop;
    ev_child child;
    ev_io out;
    ev_timer timer;
    pid_t pid;
    int fd;
    int timed_out;
    char buf[DOCKER_PROBE_OUT + 1];
    size_t len;
    void (*done)(void *, int, const char *);
    void *arg;
};

static void probe_stop(struct docker_probe *p)
{
    ev_child_stop(p->loop, &p->child);
    ev_io_stop(p->loop, &p->out);
    ev_timer_stop(p->loop, &p->timer);
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

/* Reads what the pipe holds; the rest past DOCKER_PROBE_OUT is dropped.
 * 0 at EOF or error, 1 when more may come. */
static int probe_read(struct docker_probe *p)
{
    char sink[512];
    ssize_t n;

    for (;;) {
        if (p->len < DOCKER_PROBE_OUT)
            n = read(p->fd, p->buf + p->len, DOCKER_PROBE_OUT - p->len);
        else
            n = read(p->fd, sink, sizeof(sink));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? 1 : 0;
        if (n == 0)
            return 0;
        if (p->len < DOCKER_PROBE_OUT)
            p->len += (size_t)n;
    }
}

static void on_out(struct ev_loop *loop, ev_io *w, int revents)
{
    struct docker_probe *p = w->data;

    if (!probe_read(p))
        ev_io_stop(loop, w);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct docker_probe *p = w->data;

    p->timed_out = 1;
    kill(p->pid, SIGKILL);
}

/* The first non-blank line of the output, in place ("" when none):
 * without an engine, `docker version` prints an empty version first. */
static const char *first_line(struct docker_probe *p)
{
    char *line = p->buf, *nl;

    p->buf[p->len] = '\0';
    while (*line == '\n' || *line == ' ' || *line == '\r')
        line++;
    nl = strchr(line, '\n');
    if (nl != NULL)
        *nl = '\0';
    return line;
}

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
    struct docker_probe *p = w->data;
    char why[DOCKER_PROBE_OUT + 64];
    int st = w->rstatus, ok;
    const char *line;

    probe_read(p);
    probe_stop(p);
    p->pid = 0;
    line = first_line(p);
    ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && line[0] != '\0';
    if (ok)
        p->done(p->arg, 1, line);
    else if (p->timed_out)
        p->done(p->arg, 0, "docker version did not answer in 10 s");
    else {
        snprintf(why, sizeof(why), "docker version exited %d: %s",
                 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
                 line[0] != '\0' ? line : "no output");
        p->done(p->arg, 0, why);
    }
}

int docker_probe_start(struct docker_probe **out, struct ev_loop *loop,
                       const char *docker,
                       void (*done)(void *arg, int ok, const char *detail),
                       void *arg)
{
    char *argv[] = {(char *)(docker ? docker : "docker"), "version",
                    "--format", "{{.Server.Version}}", NULL};
    posix_spawn_file_actions_t fa;
    struct docker_probe *p;
    char why[256];
    int fds[2], rc;

    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL || pipe2(fds, O_CLOEXEC) < 0) {
        free(p);
        done(arg, 0, "out of memory or descriptors");
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    rc = posix_spawnp(&p->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        free(p);
        snprintf(why, sizeof(why), "cannot run %s: %s", argv[0],
                 strerror(rc));
        done(arg, 0, why);
        return -1;
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    p->loop = loop;
    p->fd = fds[0];
    p->done = done;
    p->arg = arg;
    ev_child_init(&p->child, on_child, p->pid, 0);
    ev_io_init(&p->out, on_out, p->fd, EV_READ);
    ev_timer_init(&p->timer, on_timer, DOCKER_PROBE_TIMEOUT, 0.);
    p->child.data = p->out.data = p->timer.data = p;
    ev_child_start(loop, &p->child);
    ev_io_start(loop, &p->out);
    ev_timer_start(loop, &p->timer);
    *out = p;
    return 0;
}

void docker_probe_free(struct docker_probe *p)
{
    if (p == NULL)
        return;
    if (p->pid > 0) {
        /* Cancelled: the child is killed, and reaped here (it is ours,
         * and exits at once on SIGKILL). */
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    probe_stop(p);
    free(p);
}
