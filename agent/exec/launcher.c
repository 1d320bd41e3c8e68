/*
 * launcher.c - the launcher process (launcher.h), and the messages it
 * and the agent's side (launcher_agent.c) exchange (launcher_int.h).
 */
#include "launcher.h"
#include "launcher_int.h"

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

/* ---- messages with fds ---- */

ssize_t launcher_msg_send(int sock, const void *buf, size_t len, const int *fds,
                          size_t nfds, int flags)
{
    union {
        char buf[CMSG_SPACE(LAUNCHER_MSG_FDS * sizeof(int))];
        struct cmsghdr align;
    } c;
    struct iovec iov = {(void *)buf, len};
    struct msghdr mh;
    ssize_t n;

    memset(&c, 0, sizeof(c));
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (nfds > 0 && nfds <= LAUNCHER_MSG_FDS) {
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
        n = sendmsg(sock, &mh, MSG_NOSIGNAL | flags);
    while (n < 0 && errno == EINTR);
    return n;
}

ssize_t launcher_msg_recv(int sock, void *buf, size_t len, int *fds,
                          size_t nfds, int flags, int *cut)
{
    union {
        char buf[CMSG_SPACE(LAUNCHER_MSG_FDS * sizeof(int))];
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
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
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

/* A request as received: its path NUL-terminated after the header. */
struct request {
    struct launcher_req_hdr h;
    char meta[PATH_MAX + 1];
};

/* One request: 0 with r and the two fds, 1 for a malformed one (its fds
 * closed; r->h.seq as far as it came), -1 when the agent is gone. */
static int recv_request(struct request *r, int *lfd, int *sfd)
{
    int fds[2], cut;
    ssize_t n = launcher_msg_recv(LAUNCHER_FD, r, sizeof(r->h) + PATH_MAX, fds,
                                  2, 0, &cut);
    size_t len = n > (ssize_t)sizeof(r->h) ? (size_t)n - sizeof(r->h) : 0;

    if (n <= 0)
        return -1;
    if (n < (ssize_t)sizeof(r->h))
        r->h.seq = 0;
    r->meta[len] = '\0';
    if (fds[0] < 0 || fds[1] < 0 || cut || len == 0 || r->meta[0] != '/' ||
        strlen(r->meta) != len) {
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

static void send_reply(uint32_t seq, pid_t pid, int err, int pidfd)
{
    struct launcher_reply r = {seq, (int32_t)pid, (int32_t)err};

    (void)launcher_msg_send(LAUNCHER_FD, &r, sizeof(r), &pidfd,
                            pidfd >= 0 ? 1 : 0, 0);
}

/* Forks the shim of one request and answers it. */
static void launch_one(int argc, char **argv, struct request *r, int lfd,
                       int sfd)
{
    pid_t pid = fork();
    int err = pid < 0 ? errno : 0, pidfd = -1;

    if (pid == 0)
        shim_child(argc, argv, r->meta, lfd, sfd);
    close(lfd);
    close(sfd);
    if (pid > 0 && (pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) {
        /* A shim the agent cannot watch would be lost: none, and the
         * agent spawns one itself. */
        err = errno;
        (void)kill(pid, SIGKILL);
        pid = -1;
    }
    send_reply(r->h.seq, pid, err, pidfd);
    if (pidfd >= 0)
        close(pidfd);
}

int launcher_main(int argc, char **argv)
{
    static struct request r;

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
        rc = recv_request(&r, &lfd, &sfd);
        if (rc < 0)
            return 0;
        if (rc > 0)
            send_reply(r.h.seq, -1, EINVAL, -1);
        else
            launch_one(argc, argv, &r, lfd, sfd);
    }
}
