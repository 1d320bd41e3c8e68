/*
 * fetch_extract.c - unpacking with libarchive: tar (plain, gzip, bzip2,
 * xz), zip, and a lone gzip file. libarchive's archive_write_disk does
 * the writing with its SECURE_* checks (no "..", no absolute path, no
 * write through a symlink already on disk, no owner or setuid bits
 * restored); each entry is checked here first too, so a refusal names
 * the entry, and symlinks or hard links leading out of the tree, devices
 * and FIFOs never reach the disk. Bytes written count against the run's
 * max_total, so a small archive cannot fill the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "fetch.h"

#define EXTRACT_FLAGS                                                          \
    (ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |                  \
     ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS)

/* Whether entry e may be written; the reason in ctx->err when not. */
static int entry_ok(struct fetch_ctx *ctx, struct archive_entry *e,
                    const char *what)
{
    const char *path = archive_entry_pathname(e), *why = NULL;
    const char *hard = archive_entry_hardlink(e);
    const char *sym = archive_entry_symlink(e);
    mode_t type = archive_entry_filetype(e);
    char clean[4096];
    size_t n;

    if (path == NULL) {
        snprintf(ctx->err, sizeof(ctx->err),
                 "%s: an entry without a readable name", what);
        return -1;
    }
    /* Directories come as "dir/", and "./x" is common: normalise those. */
    n = strlen(path);
    while (n > 2 && path[0] == '.' && path[1] == '/') {
        path += 2;
        n -= 2;
    }
    if (n >= sizeof(clean)) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: an entry name too long",
                 what);
        return -1;
    }
    memcpy(clean, path, n + 1);
    while (n > 1 && clean[n - 1] == '/')
        clean[--n] = '\0';
    if (strcmp(clean, ".") == 0 && type == AE_IFDIR)
        return 0;
    if (fetch_path_check(clean, &why) != 0)
        ;
    else if (hard && fetch_path_check(hard, &why) != 0)
        why = "a hard link out of the archive's tree";
    else if (sym && fetch_link_check(clean, sym) != 0)
        why = "a symlink that leads out of the archive's tree";
    else if (!hard && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
        why = "not a file, directory or link";
    if (why == NULL)
        return 0;
    snprintf(ctx->err, sizeof(ctx->err), "%s: refused the entry '%.512s': %s",
             what, archive_entry_pathname(e), why);
    return -1;
}

int fetch_archive_copy(struct fetch_ctx *ctx, struct archive *in,
                       struct archive *out, const char *what,
                       const char *too_big)
{
    const void *buf;
    size_t len;
    la_int64_t off;
    int rc;

    while ((rc = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK) {
        if (ctx->total + len > ctx->conf.max_total) {
            snprintf(ctx->err, sizeof(ctx->err),
                     "%s: %s the limit of %llu bytes", what, too_big,
                     (unsigned long long)ctx->conf.max_total);
            return -1;
        }
        if (archive_write_data_block(out, buf, len, off) != ARCHIVE_OK) {
            snprintf(ctx->err, sizeof(ctx->err), "%s: %s", what,
                     archive_error_string(out));
            return -1;
        }
        ctx->total += len;
    }
    if (rc == ARCHIVE_EOF)
        return 0;
    snprintf(ctx->err, sizeof(ctx->err), "%s: %s", what,
             archive_error_string(in));
    return -1;
}

static int unpack(struct fetch_ctx *ctx, struct archive *in, const char *what)
{
    struct archive *out = archive_write_disk_new();
    struct archive_entry *e;
    int rc = -1, r;

    if (out == NULL) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: out of memory", what);
        return -1;
    }
    archive_write_disk_set_options(out, EXTRACT_FLAGS);
    while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
        if (entry_ok(ctx, e, what) != 0)
            goto out;
        if (archive_write_header(out, e) != ARCHIVE_OK) {
            snprintf(ctx->err, sizeof(ctx->err), "%s: '%.512s': %s", what,
                     archive_entry_pathname(e), archive_error_string(out));
            goto out;
        }
        if (archive_entry_size(e) > 0 &&
            fetch_archive_copy(ctx, in, out, what, "unpacks to more than") != 0)
            goto out;
        if (archive_write_finish_entry(out) != ARCHIVE_OK) {
            snprintf(ctx->err, sizeof(ctx->err), "%s: %s", what,
                     archive_error_string(out));
            goto out;
        }
    }
    if (r == ARCHIVE_EOF)
        rc = 0;
    else
        snprintf(ctx->err, sizeof(ctx->err), "%s: %s", what,
                 archive_error_string(in));
out:
    if (archive_write_close(out) != ARCHIVE_OK && rc == 0) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: %s", what,
                 archive_error_string(out));
        rc = -1;
    }
    archive_write_free(out);
    return rc;
}

/* Decompresses the single stream of in into dirfd's file name. */
static int gunzip(struct fetch_ctx *ctx, struct archive *in, int dirfd,
                  const char *name, const char *what)
{
    struct archive_entry *e;
    char tmp[300];
    const void *buf;
    size_t len;
    la_int64_t off;
    int fd, r, rc = -1;

    if (archive_read_next_header(in, &e) != ARCHIVE_OK) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: %s", what,
                 archive_error_string(in));
        return -1;
    }
    if ((fd = fetch_tmp_create(dirfd, name, tmp, sizeof(tmp))) < 0) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: creating %s: %s", what, name,
                 strerror(errno));
        return -1;
    }
    while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK) {
        if (ctx->total + len > ctx->conf.max_total) {
            snprintf(ctx->err, sizeof(ctx->err),
                     "%s: decompresses to more than the limit of %llu bytes",
                     what, (unsigned long long)ctx->conf.max_total);
            goto out;
        }
        if (pwrite(fd, buf, len, off) != (ssize_t)len) {
            snprintf(ctx->err, sizeof(ctx->err), "%s: writing %s: %s", what,
                     name, strerror(errno));
            goto out;
        }
        ctx->total += len;
    }
    if (r != ARCHIVE_EOF) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: %s", what,
                 archive_error_string(in));
        goto out;
    }
    if (fchmod(fd, 0640) == 0 && renameat(dirfd, tmp, dirfd, name) == 0)
        rc = 0;
    else
        snprintf(ctx->err, sizeof(ctx->err), "%s: placing %s: %s", what, name,
                 strerror(errno));
out:
    close(fd);
    if (rc != 0)
        unlinkat(dirfd, tmp, 0);
    return rc;
}

int fetch_extract(struct fetch_ctx *ctx, int fd, enum fetch_archive kind,
                  int dirfd, const char *gz_out, const char *what)
{
    struct archive *in = archive_read_new();
    int rc = -1;

    if (in == NULL) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: out of memory", what);
        return -1;
    }
    archive_read_support_filter_all(in);
    if (kind == FETCH_GZ) {
        archive_read_support_format_raw(in);
    } else {
        archive_read_support_format_tar(in);
        archive_read_support_format_gnutar(in);
        archive_read_support_format_zip(in);
    }
    if (lseek(fd, 0, SEEK_SET) != 0 ||
        archive_read_open_fd(in, fd, 65536) != ARCHIVE_OK) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: %s", what,
                 archive_error_string(in) ? archive_error_string(in)
                                          : strerror(errno));
    } else if (kind == FETCH_GZ) {
        rc = gunzip(ctx, in, dirfd, gz_out, what);
    } else if (fchdir(dirfd) != 0) {
        /* archive_write_disk writes relative to the working directory */
        snprintf(ctx->err, sizeof(ctx->err), "%s: %s", what, strerror(errno));
    } else {
        rc = unpack(ctx, in, what);
    }
    archive_read_free(in);
    return rc;
}
