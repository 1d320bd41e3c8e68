/*
 * launcher.c - shims forked by a resident launcher instead of exec'd:
 * the launcher process, and the agent's side (see launcher.h).
 *
 * The protocol, on a SOCK_SEQPACKET socket pair (one message each way a
 * launch, in turn): the agent sends the meta file's path (no NUL) with
 * two fds (SCM_RIGHTS: the launch pipe's reading end, the status pipe's
 * writing end); the launcher answers a struct launcher_reply, with the
 * shim's pidfd when pid > 0.
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "exec_int.h"
#include "log.h"

#define LAUNCHER_LOG "exec"

/* The launcher's socket, as the status pipe is a shim's. */
#define LAUNCHER_FD 3

/* Bytes of room in the launcher's argv for a forked shim's argv
 * (`agora-shim --shim <meta_file>`): a meta file path longer than this
 * leaves the launcher's argv in place. */
#define LAUNCHER_ROOM 1024

struct launcher_reply {
    int32_t pid; /* the shim's, or -1 */
    int32_t err; /* errno value when pid is -1 */
};

struct launcher {
    pid_t pid;
    int pidfd; /* of the launcher, to signal and reap it safely */
    int fd;    /* the agent's end of the socket */
};

/* ---- messages with fds ---- */

/* Most fds a message carries (a request's two pipe ends). */
#define MSG_FDS 2

/* Sends len bytes with nfds fds (SCM_RIGHTS; none when 0). Returns what
 * sendmsg() did: the bytes sent, or -1 with errno. */
static ssize_t msg_send(int sock, const void *buf, size_t len, const int *fds,
                        size_t nfds)
{
    union {
        char buf[CMSG_SPACE(MSG_FDS * sizeof(int))];
        struct cmsghdr align;
    } c;
    struct iovec iov = {(void *)buf, len};
    struct msghdr mh;
    ssize_t n;

    memset(&c, 0, sizeof(c));
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (nfds > 0 && nfds <= MSG_FDS) {
        struct cmsghdr *cm;

        mh.msg_control = c.buf;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
    }
    do
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
}

/* Receives one message into buf (len bytes at most) and up to nfds fds
 * (close-on-exec; -1 where none came; any more are closed). Returns the
 * bytes received (0: the peer is gone), or -1 with errno; *cut is set
 * when the message or its fds were cut. */
static ssize_t msg_recv(int sock, void *buf, size_t len, int *fds, size_t nfds,
                        int *cut)
{
    union {
        char buf[CMSG_SPACE(MSG_FDS * sizeof(int))];
        struct cmsghdr align;
    } c;
    struct iovec iov = {buf, len};
    struct msghdr mh;
    struct cmsghdr *cm;
    size_t got = 0;
    ssize_t n;

    for (size_t i = 0; i < nfds; i++)
        fds[i] = -1;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = c.buf;
    mh.msg_controllen = sizeof(c.buf);
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        for (size_t i = 0; i < k; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (got < nfds)
                fds[got++] = fd;
            else
                close(fd);
        }
    }
    *cut = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
    return n;
}

/* ---- the launcher process ---- */

/* Writes `agora-shim\0--shim\0<meta>\0` over the argv area, zeros after:
 * what /proc/<pid>/cmdline shows of an exec'd shim (recovery reads it). */
static void rewrite_argv(int argc, char **argv, const char *meta)
{
    char *start = argv[0];
    char *end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
    size_t a0 = sizeof(EXEC_SHIM_ARGV0), a1 = sizeof("--shim");
    size_t ml = strlen(meta) + 1;

    if (a0 + a1 + ml > (size_t)(end - start))
        return;
    memcpy(start, EXEC_SHIM_ARGV0, a0);
    memcpy(start + a0, "--shim", a1);
    memcpy(start + a0 + a1, meta, ml);
    memset(start + a0 + a1 + ml, 0, (size_t)(end - start) - a0 - a1 - ml);
}

/* In the forked child: what posix_spawn gave an exec'd shim (its own
 * session, default signals, fd 0 and the status pipe), then the shim. */
static void __attribute__((noreturn))
shim_child(int argc, char **argv, char *meta, int lfd, int sfd)
{
    char *sargv[] = {EXEC_SHIM_ARGV0, "--shim", meta, NULL};
    struct sigaction dfl;
    sigset_t none;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    if (setsid() < 0)
        _exit(111);
    for (int s = 1; s < NSIG; s++)
        (void)sigaction(s, &dfl, NULL); /* EINVAL for KILL, STOP: fine */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(lfd, 0) < 0 || dup2(sfd, EXEC_STATUS_FD) < 0)
        _exit(111);
    closefrom(EXEC_STATUS_FD + 1);
    rewrite_argv(argc, argv, meta);
    exit(shim_main(3, sargv));
}

/* One request: 0 with meta and the two fds, 1 for a malformed one (its
 * fds closed), -1 when the agent is gone. */
static int recv_request(char *meta, int *lfd, int *sfd)
{
    int fds[2], cut;
    ssize_t n = msg_recv(LAUNCHER_FD, meta, PATH_MAX, fds, 2, &cut);

    if (n <= 0)
        return -1;
    meta[n] = '\0';
    if (fds[0] < 0 || fds[1] < 0 || cut || meta[0] != '/' ||
        strlen(meta) != (size_t)n) {
        if (fds[0] >= 0)
            close(fds[0]);
        if (fds[1] >= 0)
            close(fds[1]);
        return 1;
    }
    *lfd = fds[0];
    *sfd = fds[1];
    return 0;
}

static void send_reply(pid_t pid, int err, int pidfd)
{
    struct launcher_reply r = {(int32_t)pid, (int32_t)err};

    (void)msg_send(LAUNCHER_FD, &r, sizeof(r), &pidfd, pidfd >= 0 ? 1 : 0);
}

/* Forks the shim of one request and answers it. */
static void launch_one(int argc, char **argv, char *meta, int lfd, int sfd)
{
    pid_t pid = fork();
    int err = pid < 0 ? errno : 0, pidfd = -1;

    if (pid == 0)
        shim_child(argc, argv, meta, lfd, sfd);
    close(lfd);
    close(sfd);
    if (pid > 0 && (pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) {
        /* A shim the agent cannot watch would be lost: none, and the
         * agent spawns one itself. */
        err = errno;
        (void)kill(pid, SIGKILL);
        pid = -1;
    }
    send_reply(pid, err, pidfd);
    if (pidfd >= 0)
        close(pidfd);
}

int launcher_main(int argc, char **argv)
{
    char meta[PATH_MAX + 1];

    if (argc < 4)
        return 2;
    /* The agent gone, no launch can come: go too (the shims stay). */
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        struct pollfd pfd = {LAUNCHER_FD, POLLIN, 0};
        int lfd, sfd, rc = poll(&pfd, 1, 1000);

        while (waitpid(-1, NULL, WNOHANG) > 0) /* ended shims */
            ;
        if (rc < 0 && errno != EINTR)
            return 1;
        if (rc <= 0)
            continue;
        rc = recv_request(meta, &lfd, &sfd);
        if (rc < 0)
            return 0;
        if (rc > 0)
            send_reply(-1, EINVAL, -1);
        else
            launch_one(argc, argv, meta, lfd, sfd);
    }
}

/* ---- the agent's side ---- */

struct launcher *launcher_start(const char *shim_path)
{
    static char room[LAUNCHER_ROOM + 1];
    char *argv[] = {EXEC_SHIM_ARGV0, "--shim", "--launcher", room, NULL};
    const struct timeval tv = {5, 0};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    struct launcher *l;
    int sv[2], rc;

    if (!(l = calloc(1, sizeof(*l))))
        return NULL;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        log_info(LAUNCHER_LOG, "no shim launcher: socketpair: %s",
                 strerror(errno));
        free(l);
        return NULL;
    }
    memset(room, ' ', LAUNCHER_ROOM);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_adddup2(&fa, sv[1], LAUNCHER_FD);
    posix_spawn_file_actions_addclosefrom_np(&fa, LAUNCHER_FD + 1);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    rc = posix_spawn(&l->pid, shim_path, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
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
    l->fd = sv[0];
    /* A launcher that stopped answering costs a launch 5 s at most. */
    (void)setsockopt(l->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(l->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return l;
}

int launcher_spawn(struct launcher *l, const char *meta_file, int launch_fd,
                   int status_fd, pid_t *pid, int *pidfd, int *sent)
{
    const int fds[2] = {launch_fd, status_fd};
    size_t len = strlen(meta_file);
    struct launcher_reply r;
    int fd, cut;
    ssize_t n;

    *sent = 0;
    if (len == 0 || len > PATH_MAX)
        return ENAMETOOLONG;
    if ((n = msg_send(l->fd, meta_file, len, fds, 2)) != (ssize_t)len)
        return n < 0 ? errno : EIO;
    *sent = 1;
    if ((n = msg_recv(l->fd, &r, sizeof(r), &fd, 1, &cut)) < 0)
        return errno;
    if (n != (ssize_t)sizeof(r) || r.pid <= 0 || fd < 0) {
        if (fd >= 0)
            close(fd);
        if (n == (ssize_t)sizeof(r) && r.pid <= 0) {
            *sent = 0; /* it answered: no shim was left */
            return r.err > 0 ? r.err : EPROTO;
        }
        return EPROTO;
    }
    *pid = r.pid;
    *pidfd = fd;
    return 0;
}

void launcher_stop(struct launcher *l)
{
    siginfo_t si;

    if (!l)
        return;
    close(l->fd);
    (void)syscall(SYS_pidfd_send_signal, l->pidfd, SIGKILL, NULL, 0);
    /* ECHILD when libev's SIGCHLD handling reaped it first. */
    while (waitid(P_PIDFD, (id_t)l->pidfd, &si, WEXITED) < 0 && errno == EINTR)
        ;
    close(l->pidfd);
    free(l);
}
