/*
 * fetch_run.c - one URI of a job, end to end: its place in the sandbox,
 * its bytes (downloaded, or copied from the cache), its mode, and what
 * it unpacks to.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"

/* The bytes of uri into fd: from the cache when asked and on, else
 * downloaded. A cache that fails for its own sake (its lock, its disk)
 * costs the task nothing: the URI is downloaded straight to the sandbox,
 * as Mesos' fetcher falls back. */
static int item_bytes(struct fetch_ctx *ctx, const struct fetch_item *it,
                      int fd)
{
    int src, rc;

    if (!it->cache || ctx->cache_fd < 0)
        return fetch_get(ctx, it->uri, fd);
    if ((src = fetch_cache_open(ctx, it->uri)) < 0) {
        if (strncmp(ctx->err, "failed to fetch", 15) == 0)
            return -1; /* the URI's own failure */
        fprintf(stderr, "agora-fetcher: %s; fetching without the cache\n",
                ctx->err);
        return fetch_get(ctx, it->uri, fd);
    }
    rc = fetch_copy(ctx, src, fd, "copying from the cache");
    close(src);
    return rc;
}

/* Unpacks the file name (in dirfd, open as fd) when it is an archive. */
static int item_unpack(struct fetch_ctx *ctx, int dirfd, int fd,
                       const char *name)
{
    enum fetch_archive kind = fetch_archive_kind(name);
    char gz_out[256];

    if (kind == FETCH_PLAIN)
        return 0;
    if (kind == FETCH_GZ && fetch_gz_target(name, gz_out, sizeof(gz_out)))
        return 0;
    fprintf(stderr, "agora-fetcher: extracting %s\n", name);
    return fetch_extract(ctx, fd, kind, dirfd, gz_out, name);
}

/* The item's path under the sandbox: output_file, or the URI's name. */
static int item_path(struct fetch_ctx *ctx, const struct fetch_item *it,
                     char *name, size_t namelen, const char *shown)
{
    const char *why = NULL;

    if (it->output_file && *it->output_file) {
        if (fetch_path_check(it->output_file, &why) == 0 &&
            strlen(it->output_file) < namelen) {
            strcpy(name, it->output_file);
            return 0;
        }
        snprintf(ctx->err, sizeof(ctx->err),
                 "failed to fetch '%s': output_file '%.256s' is %s", shown,
                 it->output_file, why ? why : "too long");
        return -1;
    }
    if (fetch_uri_name(it->uri, name, namelen) == 0 &&
        fetch_path_check(name, &why) == 0)
        return 0;
    snprintf(ctx->err, sizeof(ctx->err),
             "failed to fetch '%s': its path names no file (give an "
             "output_file)",
             shown);
    return -1;
}

static int item_fetch(struct fetch_ctx *ctx, const struct fetch_item *it,
                      const char *shown)
{
    char rel[1024], tmp[300];
    const char *leaf;
    int dirfd, fd, rc = -1;

    if (!fetch_uri_scheme(it->uri)) {
        snprintf(ctx->err, sizeof(ctx->err),
                 "failed to fetch '%s': unsupported scheme (http, https and "
                 "file are)",
                 shown);
        return -1;
    }
    if (item_path(ctx, it, rel, sizeof(rel), shown) != 0)
        return -1;
    if ((dirfd = fetch_open_parent(ctx->sandbox_fd, rel, &leaf)) < 0) {
        snprintf(ctx->err, sizeof(ctx->err),
                 "failed to fetch '%s': the directory of '%s': %s", shown, rel,
                 strerror(errno));
        return -1;
    }
    if ((fd = fetch_tmp_create(dirfd, leaf, tmp, sizeof(tmp))) < 0) {
        snprintf(ctx->err, sizeof(ctx->err),
                 "failed to fetch '%s': creating '%s': %s", shown, rel,
                 strerror(errno));
        close(dirfd);
        return -1;
    }
    fprintf(stderr, "agora-fetcher: fetching %s to %s\n", shown, rel);
    if (item_bytes(ctx, it, fd) != 0)
        goto out;
    /* rename replaces whatever has the name (a planted symlink too)
     * instead of writing through it. */
    if (fchmod(fd, it->executable ? 0755 : 0640) != 0 ||
        renameat(dirfd, tmp, dirfd, leaf) != 0) {
        snprintf(ctx->err, sizeof(ctx->err),
                 "failed to fetch '%s': placing '%s': %s", shown, rel,
                 strerror(errno));
        goto out;
    }
    tmp[0] = '\0';
    rc = 0;
    if (it->extract && !it->executable)
        rc = item_unpack(ctx, dirfd, fd, leaf);
out:
    close(fd);
    if (tmp[0])
        unlinkat(dirfd, tmp, 0);
    close(dirfd);
    return rc;
}

int fetch_item_run(struct fetch_ctx *ctx, const struct fetch_item *it)
{
    char *shown = fetch_uri_redact(it->uri);
    int rc;

    if (shown == NULL) {
        snprintf(ctx->err, sizeof(ctx->err), "out of memory");
        return -1;
    }
    rc = item_fetch(ctx, it, shown);
    if (rc != 0 && strncmp(ctx->err, "failed to fetch", 15) != 0) {
        /* Name the URI in every failure. */
        char why[sizeof(ctx->err)];
        snprintf(why, sizeof(why), "%s", ctx->err);
        snprintf(ctx->err, sizeof(ctx->err), "failed to fetch '%s': %.900s",
                 shown, why);
    }
    free(shown);
    return rc;
}
