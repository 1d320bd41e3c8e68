/*
 * fetch_store.c - the image store on disk (docs/containers.md §2): its
 * directories, its lock, atomic writes, and SHA-256 with GnuTLS.
 * Everything is reached from the store's descriptor without following
 * symlinks; the store is root's and 0700.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "fetch_image.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static const char *const store_dirs[] = {"blobs", "layers", "images", "refs",
                                         "tmp"};

/* mkdir -p of an absolute path, the missing parts 0700 (root's). */
static int mkdirs(const char *path)
{
    char buf[1024];
    size_t n = strlen(path);

    if (n >= sizeof(buf))
        return -1;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int fetch_store_open(struct fetch_store *s, const char *path, char *err,
                     size_t errlen)
{
    s->fd = s->lock_fd = -1;
    if (snprintf(s->path, sizeof(s->path), "%s", path) >= (int)sizeof(s->path) ||
        path[0] != '/' || mkdirs(path) != 0 ||
        (s->fd = open(path, DIR_FLAGS)) < 0 || fchmod(s->fd, 0700) != 0)
        goto fail;
    for (size_t i = 0; i < sizeof(store_dirs) / sizeof(*store_dirs); i++)
        if (mkdirat(s->fd, store_dirs[i], 0700) != 0 && errno != EEXIST)
            goto fail;
    s->lock_fd = openat(s->fd, "tmp/.store.lock",
                        O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (s->lock_fd < 0)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "the image store %s: %s", path, strerror(errno));
    fetch_store_close(s);
    return -1;
}

void fetch_store_close(struct fetch_store *s)
{
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = s->lock_fd = -1;
}

char *fetch_read_fd(int fd, size_t max, size_t *len)
{
    struct stat st;
    char *buf;
    size_t off = 0;

    if (fstat(fd, &st) != 0)
        return NULL;
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        return NULL;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
        return NULL;
    while (off < (size_t)st.st_size) {
        ssize_t n = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    buf[off] = '\0';
    if (len)
        *len = off;
    return buf;
}

char *fetch_read_small(int dirfd, const char *rel, size_t max, size_t *len)
{
    int fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    char *buf;
    int e;

    if (fd < 0)
        return NULL;
    buf = fetch_read_fd(fd, max, len);
    e = errno;
    close(fd);
    errno = e;
    return buf;
}

int fetch_store_ref_get(struct fetch_store *s, const char *ref, char *hex)
{
    char name[1024], rel[1100], img[128];
    char *text;
    struct stat st;

    if (fetch_ref_name(ref, name, sizeof(name)) != 0)
        return -1;
    snprintf(rel, sizeof(rel), "refs/%s", name);
    if ((text = fetch_read_small(s->fd, rel, 256, NULL)) == NULL)
        return -1;
    text[strcspn(text, "\n")] = '\0';
    if (strlen(text) != FETCH_HEX_LEN || strspn(text, "0123456789abcdef") !=
                                             FETCH_HEX_LEN) {
        free(text);
        return -1;
    }
    snprintf(img, sizeof(img), "images/%s.json", text);
    strcpy(hex, text);
    free(text);
    if (fstatat(s->fd, img, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return -1;
    /* A hit is a use: the collector removes the least recent first. */
    (void)utimensat(s->fd, rel, NULL, AT_SYMLINK_NOFOLLOW);
    return 0;
}

int fetch_store_write(struct fetch_store *s, const char *rel, const char *data,
                      size_t len)
{
    char tmp[128];
    unsigned r = 0;
    int fd, rc = -1;

    (void)!getrandom(&r, sizeof(r), 0);
    snprintf(tmp, sizeof(tmp), "tmp/w.%d.%08x", (int)getpid(), r);
    fd = openat(s->fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                0600);
    if (fd < 0)
        return -1;
    if (fetch_write_all(fd, data, len) == 0 && fsync(fd) == 0 &&
        renameat(s->fd, tmp, s->fd, rel) == 0)
        rc = 0;
    close(fd);
    if (rc != 0)
        unlinkat(s->fd, tmp, 0);
    return rc;
}

int fetch_store_tmpdir(struct fetch_store *s, const char *prefix, char *rel,
                       size_t rellen)
{
    for (int i = 0; i < 8; i++) {
        unsigned r = 0;
        (void)!getrandom(&r, sizeof(r), 0);
        if (snprintf(rel, rellen, "tmp/%s.%08x", prefix, r) >= (int)rellen)
            return -1;
        if (mkdirat(s->fd, rel, 0700) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void fetch_store_rmtree(struct fetch_store *s, const char *rel)
{
    char path[2048];

    /* The store is root's 0700: nobody else can swap a directory for a
     * symlink under it, and FTW_PHYS never follows one. */
    snprintf(path, sizeof(path), "%s/%s", s->path, rel);
    (void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int fetch_store_has_layer(struct fetch_store *s, const char *hex)
{
    char rel[128];
    struct stat st;

    snprintf(rel, sizeof(rel), "layers/%s/rootfs", hex);
    return fstatat(s->fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISDIR(st.st_mode);
}

void fetch_sha256_hex(const unsigned char *d, char hex[FETCH_HEX_LEN + 1])
{
    static const char x[] = "0123456789abcdef";

    for (int i = 0; i < 32; i++) {
        hex[2 * i] = x[d[i] >> 4];
        hex[2 * i + 1] = x[d[i] & 15];
    }
    hex[FETCH_HEX_LEN] = '\0';
}

int fetch_sha256_fd(int fd, char hex[FETCH_HEX_LEN + 1])
{
    gnutls_hash_hd_t h;
    unsigned char d[32];
    char buf[65536];
    off_t off = 0;

    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
        return -1;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof(buf), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            gnutls_hash_deinit(h, d);
            return -1;
        }
        if (n == 0)
            break;
        gnutls_hash(h, buf, (size_t)n);
        off += n;
    }
    gnutls_hash_deinit(h, d);
    fetch_sha256_hex(d, hex);
    return 0;
}
