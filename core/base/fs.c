/*
 * fs.c - mkdir -p, whole-file reads and full reads.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <agora/plugin.h>

int fs_mkdirs(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf)) {
        errno = len == 0 ? ENOENT : ENAMETOOLONG;
        return -1;
    }
    /* The common case first: the parent exists. */
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return 0;
    if (errno != ENOENT)
        return -1;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, mode) == 0 || errno == EEXIST ? 0 : -1;
}

int fs_read_file(const char *path, size_t max, char **out, size_t *len)
{
    char *buf;
    size_t n = 0;
    ssize_t r;
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? AGORA_ENOENT : AGORA_EIO;
    /* One byte more than max tells a file of max bytes from a longer one. */
    if ((buf = malloc(max + 2)) == NULL) {
        close(fd);
        return AGORA_ENOMEM;
    }
    while ((r = read(fd, buf + n, max + 1 - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = AGORA_EIO;
            break;
        }
        n += (size_t)r;
        if (n > max) {
            rc = AGORA_ETOOBIG;
            break;
        }
    }
    close(fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

ssize_t fs_read_full(int fd, void *buf, size_t n, off_t off)
{
    char *p = buf;
    size_t got = 0;
    ssize_t r;

    while (got < n) {
        r = off < 0 ? read(fd, p + got, n - got)
                    : pread(fd, p + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}
