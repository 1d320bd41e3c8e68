/*
 * proc.c - small file and /proc helpers, and the cgroup kill sweeps, that
 * the agent's side of the exec layer and the shim share (see proc.h).
 * Only libc here: agora-shim links this file and must stay light.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

ssize_t exec_read_file(int dirfd, const char *path, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t n;
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    if (cap == 0) {
        close(fd);
        return -EFBIG;
    }
    for (;;) {
        if (len == cap - 1) {
            /* Full: the file fits only if nothing follows. */
            char extra;
            do
                n = read(fd, &extra, 1);
            while (n < 0 && errno == EINTR);
            close(fd);
            if (n != 0)
                return n < 0 ? -errno : -EFBIG;
            break;
        }
        n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
        if (n == 0) {
            close(fd);
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

int exec_write_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -errno;
    do
        n = write(fd, data, len);
    while (n < 0 && errno == EINTR);
    if (n < 0 || (size_t)n != len) {
        int e = n < 0 ? -errno : -EIO;
        close(fd);
        return e;
    }
    return close(fd) == 0 ? 0 : -errno;
}

int exec_write_all(int fd, const char *data, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        off += (size_t)n;
    }
    return 0;
}

/* dir + "/" + name into buf (cap bytes); 0, or -1 when it does not fit.
 * No stdio: async-signal-safe. */
static int path_join(char *buf, size_t cap, const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);

    if (dl + 1 + nl + 1 > cap)
        return -1;
    memcpy(buf, dir, dl);
    buf[dl] = '/';
    memcpy(buf + dl + 1, name, nl + 1);
    return 0;
}

static int write_knob(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC), e = 0;

    if (fd < 0)
        return errno;
    if (write(fd, data, len) != (ssize_t)len)
        e = errno ? errno : EIO;
    close(fd);
    return e;
}

void exec_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int exec_cgroup_join_self(const char *dir)
{
    char path[4096], num[24], *p = num + sizeof(num);
    long v = (long)getpid();
    int rc;

    if (path_join(path, sizeof(path), dir, "tasks") != 0)
        return ENAMETOOLONG;
    if ((rc = write_knob(path, "0", 1)) != ENOENT)
        return rc;
    do /* the pid in decimal, without stdio */
        *--p = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    if (path_join(path, sizeof(path), dir, "cgroup.procs") != 0)
        return ENAMETOOLONG;
    return write_knob(path, p, (size_t)(num + sizeof(num) - p));
}

int exec_proc_stat(pid_t pid, struct proc_stat *st)
{
    char path[64], buf[1024];
    unsigned long long v[22];
    char *p;
    int n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (exec_read_file(AT_FDCWD, path, buf, sizeof(buf)) < 0)
        return -ESRCH;
    /* The name (field 2) may hold anything: parse after its ')'. */
    if (!(p = strrchr(buf, ')')) || p[1] != ' ')
        return -EINVAL;
    memset(st, 0, sizeof(*st));
    st->state = p[2];
    /* fields 4..25: ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime cutime cstime priority nice threads
     * itrealvalue starttime vsize rss ... */
    n = sscanf(p + 4,
               "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
               "%llu %llu %llu %llu %llu %llu %llu %llu %llu",
               &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
               &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15], &v[16],
               &v[17], &v[18], &v[19], &v[20]);
    if (n < 21)
        return -EINVAL;
    st->ppid = (pid_t)v[0];
    st->pgrp = (pid_t)v[1];
    st->utime = v[10];
    st->stime = v[11];
    st->starttime = v[18];
    st->rss_pages = v[20];
    return 0;
}

int exec_procs_signal(const char *dir, int sig)
{
    char path[4096], buf[4096];
    int fd, count = 0, digits = 0;
    long pid = 0;
    ssize_t n;

    if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >=
        sizeof(path))
        return -ENAMETOOLONG;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : -errno;
    /* Any length, with a fixed buffer: a number may span two reads. */
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            return e;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] >= '0' && buf[i] <= '9') {
                if (pid < INT_MAX / 10)
                    pid = pid * 10 + (buf[i] - '0');
                digits = 1;
            } else if (digits) {
                if (pid > 0 && sig)
                    (void)kill((pid_t)pid, sig);
                count++;
                pid = 0;
                digits = 0;
            }
        }
    }
    if (digits && pid > 0) {
        if (sig)
            (void)kill((pid_t)pid, sig);
        count++;
    }
    close(fd);
    return count;
}

int exec_procs_kill(char *const dirs[], size_t n, int v2)
{
    char path[4096];
    int total = 0;

    for (size_t i = 0; i < n; i++) {
        int c;
        if (v2) {
            c = exec_procs_signal(dirs[i], 0);
            if (c > 0 &&
                (size_t)snprintf(path, sizeof(path), "%s/cgroup.kill",
                                 dirs[i]) < sizeof(path) &&
                exec_write_file(path, "1", 1) == 0) {
                total += c;
                continue;
            }
        }
        c = exec_procs_signal(dirs[i], SIGKILL);
        if (c < 0)
            return c;
        total += c;
    }
    return total;
}
