/*
 * fetch_fs.c - the fetcher's writes under the sandbox: directories
 * reached one component at a time with O_NOFOLLOW, temporary files put
 * in place by rename, and bounded copies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

int fetch_open_parent(int dirfd, const char *rel, const char **leaf)
{
    return fetch_open_parent_mode(dirfd, rel, leaf, 0750);
}

int fetch_open_parent_mode(int dirfd, const char *rel, const char **leaf,
                           mode_t mode)
{
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    const char *p = rel;
    char part[256];

    while (fd >= 0) {
        size_t n = strcspn(p, "/");
        int next;

        if (p[n] == '\0') {
            *leaf = p;
            return fd;
        }
        if (n >= sizeof(part)) {
            close(fd);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(part, p, n);
        part[n] = '\0';
        if (mkdirat(fd, part, mode) != 0 && errno != EEXIST) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        next = openat(fd, part, DIR_FLAGS);
        close(fd);
        fd = next;
        p += n + 1;
    }
    return -1;
}

int fetch_tmp_create(int dirfd, const char *name, char *tmp, size_t tmplen)
{
    for (int round = 0; round < 8; round++) {
        unsigned int r;
        int fd;

        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
            r = (unsigned int)getpid() ^ (unsigned int)round;
        if ((size_t)snprintf(tmp, tmplen, ".%.200s.fetch-%08x", name, r) >=
            tmplen) {
            errno = ENAMETOOLONG;
            return -1;
        }
        fd = openat(dirfd, tmp,
                    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

int fetch_write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

int fetch_copy(struct fetch_ctx *ctx, int in, int out, const char *what)
{
    char buf[65536];
    off_t off = 0;

    for (;;) {
        ssize_t n = pread(in, buf, sizeof(buf), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(ctx->err, sizeof(ctx->err), "%s: reading the cache: %s",
                     what, strerror(errno));
            return -1;
        }
        if (n == 0)
            return 0;
        if (ctx->total + (uint64_t)n > ctx->conf.max_total) {
            snprintf(ctx->err, sizeof(ctx->err),
                     "%s: over the fetcher's limit of %llu bytes for a task",
                     what, (unsigned long long)ctx->conf.max_total);
            return -1;
        }
        if (fetch_write_all(out, buf, (size_t)n) != 0) {
            snprintf(ctx->err, sizeof(ctx->err), "%s: writing the sandbox: %s",
                     what, strerror(errno));
            return -1;
        }
        ctx->total += (uint64_t)n;
        off += n;
    }
}
