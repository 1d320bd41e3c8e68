/*
 * dirlock.c - the work directory's lock file (see dirlock.h).
 */
#include "dirlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

#define DIRLOCK_NAME "lock"

/* What the holder wrote: "<pid> <program>", cut to one line. */
static void dirlock_holder(int fd, char *out, size_t outlen)
{
    char buf[128];
    ssize_t n = fs_read_full(fd, buf, sizeof(buf) - 1, 0);
    unsigned long pid = 0;
    char prog[64] = "";

    snprintf(out, outlen, "another process");
    if (n <= 0)
        return;
    buf[n] = '\0';
    if (sscanf(buf, "%lu %63[A-Za-z0-9_.-]", &pid, prog) >= 1 && pid > 0)
        snprintf(out, outlen, "%s (pid %lu)", prog[0] ? prog : "a process",
                 pid);
}

static int dirlock_write(int fd, const char *program)
{
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "%ld %s\n", (long)getpid(), program);

    if (n < 0 || (size_t)n >= sizeof(buf) || ftruncate(fd, 0) < 0)
        return -1;
    return pwrite(fd, buf, (size_t)n, 0) == n ? 0 : -1;
}

int dirlock_take(const char *dir, const char *program, char *err,
                 size_t errlen)
{
    char holder[96];
    int dfd, fd;

    if (fs_mkdirs(dir, 0755) < 0 ||
        (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "work_dir %s: %s", dir, strerror(errno));
        return -1;
    }
    fd = openat(dfd, DIRLOCK_NAME,
                O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    close(dfd);
    if (fd < 0) {
        snprintf(err, errlen, "work_dir %s: cannot open its lock file: %s",
                 dir, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;

        if (e == EWOULDBLOCK) {
            dirlock_holder(fd, holder, sizeof(holder));
            snprintf(err, errlen, "work_dir %s is in use by %s", dir, holder);
        } else {
            snprintf(err, errlen, "work_dir %s: cannot lock it: %s", dir,
                     strerror(e));
        }
        close(fd);
        return -1;
    }
    /* A lock file left by an older run may have other modes. */
    if (fchmod(fd, 0600) < 0 || dirlock_write(fd, program) < 0) {
        snprintf(err, errlen, "work_dir %s: cannot write its lock file: %s",
                 dir, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}
