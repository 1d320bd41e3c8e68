/*
 * launcher_agent.c - the agent's side of the shim launcher (launcher.h):
 * starting it, sending requests without waiting, and reading its
 * answers on the loop.
 *
 * Requests wait in a FIFO (the launcher answers in turn) until their
 * answer; one timer, restarted by every answer, notices a launcher that
 * has work and stopped answering. A launcher that died, hung or answered
 * out of turn is broken: it is killed, and each request it had is ended
 * as lost (its shim may have been forked; the caller's closing of the
 * launch pipe makes that shim end unstarted).
 */
#include "launcher.h"
#include "launcher_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "exec_int.h"
#include "log.h"

#define LAUNCHER_LOG "exec"

struct launcher_req {
    struct launcher_req *next;
    uint32_t seq;
    launcher_cb cb; /* NULL once cancelled */
    void *arg;
};

struct launcher {
    struct ev_loop *loop;
    pid_t pid;
    int pidfd;      /* of the launcher, to signal and reap it safely */
    ev_io io;       /* the agent's end of the socket: answers, or EOF */
    ev_timer timer; /* LAUNCHER_TIMEOUT without an answer while some wait */
    struct launcher_req *head, *tail; /* sent, unanswered, in order */
    uint32_t seq;                     /* the last request's */
    double broken;                    /* ev_time() it broke at, or 0 */
};

static void answers_cb(struct ev_loop *loop, ev_io *w, int revents);

/* Kills the process of pidfd (a shim nobody will watch) and closes it. */
static void pidfd_kill_close(int pidfd)
{
    (void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    close(pidfd);
}
static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* Spawns `<shim> --shim --launcher <room>` with sock as its fd 3. */
static int spawn_launcher(const char *shim_path, int sock, pid_t *pid)
{
    static char room[LAUNCHER_ROOM + 1];
    char *argv[] = {EXEC_SHIM_ARGV0, "--shim", "--launcher", room, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    int rc;

    memset(room, ' ', LAUNCHER_ROOM);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_adddup2(&fa, sock, LAUNCHER_FD);
    posix_spawn_file_actions_addclosefrom_np(&fa, LAUNCHER_FD + 1);
    posix_spawnattr_setflags(&at,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    rc = posix_spawn(pid, shim_path, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

struct launcher *launcher_start(struct ev_loop *loop, const char *shim_path)
{
    struct launcher *l;
    int sv[2], rc;

    if (!(l = calloc(1, sizeof(*l))))
        return NULL;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                   sv) != 0) {
        log_info(LAUNCHER_LOG, "no shim launcher: socketpair: %s",
                 strerror(errno));
        free(l);
        return NULL;
    }
    /* The launcher's end blocks: it waits for requests, and for the
     * agent to read its answers. */
    (void)fcntl(sv[1], F_SETFL, 0);
    rc = spawn_launcher(shim_path, sv[1], &l->pid);
    close(sv[1]);
    if (rc == 0 && (l->pidfd = (int)syscall(SYS_pidfd_open, l->pid, 0)) < 0) {
        rc = errno;
        (void)kill(l->pid, SIGKILL);
        (void)waitpid(l->pid, NULL, 0);
    }
    if (rc != 0) {
        log_info(LAUNCHER_LOG, "no shim launcher: %s: %s", shim_path,
                 strerror(rc));
        close(sv[0]);
        free(l);
        return NULL;
    }
    l->loop = loop;
    ev_io_init(&l->io, answers_cb, sv[0], EV_READ);
    l->io.data = l;
    ev_io_start(loop, &l->io);
    ev_init(&l->timer, timeout_cb);
    l->timer.repeat = LAUNCHER_TIMEOUT;
    l->timer.data = l;
    return l;
}

/* Kills and reaps the launcher process and closes its socket; the
 * requests stay queued. */
static void launcher_kill(struct launcher *l)
{
    siginfo_t si;

    if (l->io.fd < 0)
        return;
    ev_io_stop(l->loop, &l->io);
    ev_timer_stop(l->loop, &l->timer);
    close(l->io.fd);
    ev_io_set(&l->io, -1, EV_READ);
    (void)syscall(SYS_pidfd_send_signal, l->pidfd, SIGKILL, NULL, 0);
    /* Quick after SIGKILL; ECHILD when libev's SIGCHLD handling reaped
     * it first. */
    while (waitid(P_PIDFD, (id_t)l->pidfd, &si, WEXITED) < 0 && errno == EINTR)
        ;
    close(l->pidfd);
    l->pidfd = -1;
}

/* Ends every queued request as lost, in order. A callback may cancel
 * requests still queued (their tasks gone): the queue is taken first. */
static void end_all_lost(struct launcher *l, int err)
{
    struct launcher_req *r = l->head, *next;

    l->head = l->tail = NULL;
    for (; r; r = next) {
        next = r->next;
        if (r->cb)
            r->cb(r->arg, -1, -1, err, 1);
        free(r);
    }
}

static void launcher_break(struct launcher *l, int err, const char *why)
{
    log_warn(LAUNCHER_LOG, "the shim launcher %s: stopping it (%s)", why,
             strerror(err));
    l->broken = ev_time();
    launcher_kill(l);
    end_all_lost(l, err);
}

int launcher_request(struct launcher *l, const char *meta_file, int launch_fd,
                     int status_fd, launcher_cb cb, void *arg,
                     struct launcher_req **req)
{
    const int fds[2] = {launch_fd, status_fd};
    struct {
        struct launcher_req_hdr h;
        char meta[PATH_MAX];
    } m;
    size_t len = strlen(meta_file);
    struct launcher_req *r;
    ssize_t n;

    if (l->broken)
        return EPIPE;
    if (len == 0 || len > PATH_MAX)
        return ENAMETOOLONG;
    if (!(r = calloc(1, sizeof(*r))))
        return ENOMEM;
    r->seq = m.h.seq = ++l->seq;
    memcpy(m.meta, meta_file, len);
    n = launcher_msg_send(l->io.fd, &m, sizeof(m.h) + len, fds, 2,
                          MSG_DONTWAIT);
    if (n != (ssize_t)(sizeof(m.h) + len)) {
        int err = n < 0 ? errno : EIO;

        free(r);
        l->seq--;
        if (err != EAGAIN)
            launcher_break(l, err, "cannot take a request");
        return err;
    }
    r->cb = cb;
    r->arg = arg;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    if (!ev_is_active(&l->timer))
        ev_timer_again(l->loop, &l->timer);
    *req = r;
    return 0;
}

void launcher_cancel(struct launcher_req *req)
{
    if (req)
        req->cb = NULL;
}

double launcher_broken(const struct launcher *l)
{
    return l ? l->broken : 0;
}

/* One answer for the queue's head: 0, or an errno value when it does not
 * belong to it (the launcher is then broken). */
static int answer(struct launcher *l, const struct launcher_reply *a, int pidfd)
{
    struct launcher_req *r = l->head;

    if (!r || a->seq != r->seq || (a->pid > 0) != (pidfd >= 0)) {
        if (pidfd >= 0)
            pidfd_kill_close(pidfd);
        return EPROTO;
    }
    if (!(l->head = r->next))
        l->tail = NULL;
    if (r->cb && a->pid > 0)
        r->cb(r->arg, (pid_t)a->pid, pidfd, 0, 0);
    else if (r->cb)
        r->cb(r->arg, -1, -1, a->err > 0 ? a->err : EPROTO, 0);
    else if (pidfd >= 0) /* its task is gone: so is its shim */
        pidfd_kill_close(pidfd);
    free(r);
    return 0;
}

/* Reads every answer there is. A callback may launch again (a request
 * queued behind) but never stops the launcher: only this file does. */
static void answers_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct launcher *l = w->data;
    struct launcher_reply a;
    int pidfd, cut, rc = 0;
    ssize_t n;

    for (;;) {
        n = launcher_msg_recv(w->fd, &a, sizeof(a), &pidfd, 1, MSG_DONTWAIT,
                              &cut);
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0 || n != (ssize_t)sizeof(a) || cut) {
            if (pidfd >= 0)
                close(pidfd);
            rc = n < 0 ? errno : n == 0 ? EPIPE : EPROTO;
            break;
        }
        if ((rc = answer(l, &a, pidfd)) != 0)
            break;
    }
    if (rc != 0)
        launcher_break(l, rc, rc == EPIPE ? "ended" : "failed");
    else if (l->head)
        ev_timer_again(loop, &l->timer);
    else
        ev_timer_stop(loop, &l->timer);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    launcher_break(w->data, ETIMEDOUT, "stopped answering");
}

void launcher_stop(struct launcher *l)
{
    if (!l)
        return;
    launcher_kill(l);
    end_all_lost(l, ECANCELED);
    free(l);
}
