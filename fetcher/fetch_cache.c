/*
 * fetch_cache.c - the fetcher's cache (Mesos' fetcher cache): a URI
 * fetched with `cache: true` is kept under <cache_dir>/u<uid>/<key>,
 * key the SHA-256 of uid and URI, so that the next task of that user
 * asking for it copies it instead of downloading it again.
 *
 * Each user's directory is that user's (0700; the fetcher runs as the
 * task's user), and so is its bound: cache_size bytes, the least
 * recently used entries (by mtime, which a hit refreshes) evicted past
 * it. An entry larger than the bound alone is used once and not kept.
 * One lock (flock on ".lock") is held from the look-up to the eviction:
 * two tasks that want one URI at once download it once, the second
 * waiting for the first. An entry is opened before the lock is let go,
 * so an eviction by another fetcher never takes it from under a reader.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "fetch.h"

#define KEY_LEN 64

int fetch_cache_key(uid_t uid, const char *uri, char *out, size_t outlen)
{
    unsigned char digest[32];
    char *text;
    int n;

    if (outlen < KEY_LEN + 1 ||
        (n = asprintf(&text, "%u\n%s", (unsigned)uid, uri)) < 0)
        return -1;
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, text, (size_t)n, digest) != 0) {
        free(text);
        return -1;
    }
    free(text);
    for (size_t i = 0; i < sizeof(digest); i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

static int is_key(const char *name)
{
    size_t n = strspn(name, "0123456789abcdef");

    return n == KEY_LEN && name[n] == '\0';
}

struct entry {
    char name[KEY_LEN + 1];
    struct timespec mtime;
    uint64_t size;
};

static int by_age(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;

    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The entries of dirfd (keys only), oldest first, `keep` last. */
static struct entry *list_entries(int dirfd, const char *keep, size_t *n,
                                  uint64_t *total)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct entry *v = NULL, *grown;
    size_t cap = 0;
    struct dirent *de;
    struct stat st;

    *n = 0;
    *total = 0;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    while ((de = readdir(d))) {
        if (!is_key(de->d_name) ||
            fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            if (!(grown = realloc(v, cap * sizeof(*v)))) {
                free(v);
                closedir(d);
                errno = ENOMEM;
                return NULL;
            }
            v = grown;
        }
        memcpy(v[*n].name, de->d_name, KEY_LEN + 1);
        v[*n].mtime = st.st_mtim;
        /* `keep` sorts last: the newest by construction. */
        if (keep && strcmp(de->d_name, keep) == 0)
            v[*n].mtime.tv_sec = INT64_MAX;
        v[*n].size = (uint64_t)st.st_size;
        *total += v[*n].size;
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof(*v), by_age);
    if (v == NULL)
        errno = 0;
    return v;
}

int64_t fetch_cache_evict(int dirfd, uint64_t bound, const char *keep)
{
    uint64_t total;
    size_t n, i;
    struct entry *v = list_entries(dirfd, keep, &n, &total);

    if (v == NULL && errno != 0)
        return -1;
    for (i = 0; i < n && total > bound; i++)
        if (unlinkat(dirfd, v[i].name, 0) == 0 || errno == ENOENT)
            total -= v[i].size;
    free(v);
    return (int64_t)total;
}

/* Downloads uri into the cache's file key (through a temporary one). */
static int cache_fill(struct fetch_ctx *ctx, const char *uri, const char *key)
{
    char tmp[300];
    int fd = fetch_tmp_create(ctx->cache_fd, key, tmp, sizeof(tmp));
    uint64_t before = ctx->total;
    int rc;

    if (fd < 0) {
        snprintf(ctx->err, sizeof(ctx->err), "the fetcher cache: %s",
                 strerror(errno));
        return -1;
    }
    rc = fetch_get(ctx, uri, fd);
    ctx->total = before; /* counted when copied to the sandbox */
    if (rc == 0 && renameat(ctx->cache_fd, tmp, ctx->cache_fd, key) != 0) {
        snprintf(ctx->err, sizeof(ctx->err), "the fetcher cache: %s",
                 strerror(errno));
        rc = -1;
    }
    close(fd);
    if (rc != 0)
        unlinkat(ctx->cache_fd, tmp, 0);
    return rc;
}

int fetch_cache_open(struct fetch_ctx *ctx, const char *uri)
{
    char key[KEY_LEN + 1];
    int lock, fd;

    if (fetch_cache_key(getuid(), uri, key, sizeof(key)) != 0) {
        snprintf(ctx->err, sizeof(ctx->err), "the fetcher cache: no key");
        return -1;
    }
    lock = openat(ctx->cache_fd, ".lock",
                  O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX) != 0) {
        snprintf(ctx->err, sizeof(ctx->err), "the fetcher cache's lock: %s",
                 strerror(errno));
        if (lock >= 0)
            close(lock);
        return -1;
    }
    fd = openat(ctx->cache_fd, key, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        (void)futimens(fd, NULL); /* most recently used */
        fprintf(stderr, "agora-fetcher: cache hit %s\n", key);
    } else if (cache_fill(ctx, uri, key) == 0) {
        fd = openat(ctx->cache_fd, key, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            snprintf(ctx->err, sizeof(ctx->err), "the fetcher cache: %s",
                     strerror(errno));
    }
    if (fd >= 0 && fetch_cache_evict(ctx->cache_fd, ctx->conf.cache_size, key) >
                       (int64_t)ctx->conf.cache_size)
        unlinkat(ctx->cache_fd, key, 0); /* alone over the bound */
    close(lock);
    return fd;
}
