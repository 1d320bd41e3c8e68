/*
 * fetch_layer.c - one image layer into layers/<hex>/rootfs: its digest
 * checked, its tar (plain, gzip or zstd: libarchive's filters) unpacked
 * under tmp/ with the owners and modes it gives, its whiteouts written
 * in overlayfs' form (a deleted path a character device 0/0, an opaque
 * directory the xattr trusted.overlay.opaque=y), then renamed into
 * place. Entries that are absolute, hold "..", or are hard links out of
 * the layer are refused (as fetch_extract.c does, with libarchive's
 * SECURE_* checks beneath), and the layer's bytes count against the
 * image's bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "fetch_image.h"

#define LAYER_FLAGS                                                            \
    (ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_XATTR |     \
     ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |       \
     ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_UNLINK)

/* An entry's path without "./" and trailing '/' into out. 0 or -1. */
static int entry_path(const char *path, char *out, size_t outlen)
{
    size_t n;

    while (path[0] == '.' && path[1] == '/')
        path += 2;
    n = strlen(path);
    if (n >= outlen)
        return -1;
    memcpy(out, path, n + 1);
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
    return 0;
}

/* Writes a whiteout, reached without following a symlink. */
static int whiteout(int root, int kind, const char *target)
{
    const char *leaf;
    int dir, fd, rc = -1;

    if (kind == FETCH_WH_OPAQUE && *target == '\0')
        fd = fcntl(root, F_DUPFD_CLOEXEC, 0);
    else if ((dir = fetch_open_parent_mode(root, target, &leaf, 0755)) < 0)
        return -1;
    else if (kind == FETCH_WH_DELETE) {
        rc = mknodat(dir, leaf, S_IFCHR | 0000, makedev(0, 0));
        close(dir);
        return rc;
    } else {
        if (mkdirat(dir, leaf, 0755) != 0 && errno != EEXIST) {
            close(dir);
            return -1;
        }
        fd = openat(dir, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(dir);
    }
    if (fd < 0)
        return -1;
    rc = fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0);
    close(fd);
    return rc;
}

/* Whether entry e (path clean) may be written; why in ctx->err. */
static int entry_ok(struct fetch_ctx *ctx, struct archive_entry *e,
                    const char *clean, const char *what)
{
    const char *hard = archive_entry_hardlink(e), *why = NULL;
    mode_t type = archive_entry_filetype(e);

    if (fetch_path_check(clean, &why) != 0)
        ;
    else if (hard && fetch_path_check(hard, &why) != 0)
        why = "a hard link out of the layer";
    else if (!hard && type != AE_IFREG && type != AE_IFDIR &&
             type != AE_IFLNK && type != AE_IFIFO)
        why = "a device (only whiteouts may be)";
    if (why == NULL)
        return 0;
    snprintf(ctx->err, sizeof(ctx->err), "%s: refused the entry '%.512s': %s",
             what, clean, why);
    return -1;
}

/* One entry: a whiteout, or written by archive_write_disk. */
static int entry_put(struct fetch_ctx *ctx, int root, struct archive *in,
                     struct archive *out, struct archive_entry *e,
                     const char *what)
{
    char clean[4096], target[4096];
    int kind;

    if (!archive_entry_pathname(e) ||
        entry_path(archive_entry_pathname(e), clean, sizeof(clean)) != 0) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: an entry without a name",
                 what);
        return -1;
    }
    if (strcmp(clean, ".") == 0 || strcmp(clean, "/") == 0)
        return 0;
    /* `tar -C dir .` names hard link targets "./x" as it names entries. */
    if (archive_entry_hardlink(e)) {
        if (entry_path(archive_entry_hardlink(e), target, sizeof(target))) {
            snprintf(ctx->err, sizeof(ctx->err), "%s: a link name too long",
                     what);
            return -1;
        }
        archive_entry_set_hardlink(e, target);
    }
    if (entry_ok(ctx, e, clean, what) != 0)
        return -1;
    kind = fetch_whiteout(clean, target, sizeof(target));
    if (kind == FETCH_WH_DELETE || kind == FETCH_WH_OPAQUE) {
        if (whiteout(root, kind, target) == 0)
            return 0;
        snprintf(ctx->err, sizeof(ctx->err), "%s: the whiteout '%.512s': %s",
                 what, clean, strerror(errno));
        return -1;
    }
    if (kind < 0) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: a bad whiteout '%.512s'",
                 what, clean);
        return -1;
    }
    archive_entry_set_pathname(e, clean);
    if (archive_write_header(out, e) != ARCHIVE_OK) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: '%.512s': %s", what, clean,
                 archive_error_string(out));
        return -1;
    }
    if (archive_entry_size(e) > 0 &&
        fetch_archive_copy(ctx, in, out, what, "the image is larger than") !=
            0)
        return -1;
    if (archive_write_finish_entry(out) != ARCHIVE_OK) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: '%.512s': %s", what, clean,
                 archive_error_string(out));
        return -1;
    }
    return 0;
}

/* Unpacks the tar in fd into root (archive_write_disk writes relative
 * to the working directory: the fetcher's own, moved there). */
static int unpack(struct fetch_ctx *ctx, int fd, int root, const char *what)
{
    struct archive *in = archive_read_new(), *out = archive_write_disk_new();
    struct archive_entry *e;
    int rc = -1, r = ARCHIVE_FATAL;

    if (!in || !out) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: out of memory", what);
        goto done;
    }
    archive_read_support_filter_all(in);
    archive_read_support_format_tar(in);
    archive_read_support_format_gnutar(in);
    archive_write_disk_set_options(
        out, LAYER_FLAGS | (geteuid() == 0 ? ARCHIVE_EXTRACT_OWNER : 0));
    if (lseek(fd, 0, SEEK_SET) != 0 || fchdir(root) != 0 ||
        archive_read_open_fd(in, fd, 65536) != ARCHIVE_OK) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: not a tar: %s", what,
                 archive_error_string(in) ? archive_error_string(in)
                                          : strerror(errno));
        goto done;
    }
    while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK)
        if (entry_put(ctx, root, in, out, e, what) != 0)
            goto done;
    if (r == ARCHIVE_EOF)
        rc = 0;
    else
        snprintf(ctx->err, sizeof(ctx->err), "%s: %s", what,
                 archive_error_string(in));
done:
    if (out && archive_write_close(out) != ARCHIVE_OK && rc == 0) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: %s", what,
                 archive_error_string(out));
        rc = -1;
    }
    if (out)
        archive_write_free(out);
    if (in)
        archive_read_free(in);
    (void)!chdir("/");
    return rc;
}

/* Unpacks into a new tmp dir and renames it to layers/<hex>. */
static int layer_unpack(struct fetch_ctx *ctx, struct fetch_store *s,
                        const char *hex, int fd, const char *what)
{
    char tmp[128], rootfs[160], dst[128];
    int root, rc;

    if (fetch_store_tmpdir(s, hex, tmp, sizeof(tmp)) != 0) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: a directory in tmp: %s",
                 what, strerror(errno));
        return -1;
    }
    snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmp);
    if (mkdirat(s->fd, rootfs, 0755) != 0 ||
        (root = openat(s->fd, rootfs,
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: %s", what, strerror(errno));
        fetch_store_rmtree(s, tmp);
        return -1;
    }
    rc = unpack(ctx, fd, root, what);
    close(root);
    snprintf(dst, sizeof(dst), "layers/%s", hex);
    if (rc == 0 && renameat(s->fd, tmp, s->fd, dst) != 0 &&
        !fetch_store_has_layer(s, hex)) {
        snprintf(ctx->err, sizeof(ctx->err), "%s: placing it: %s", what,
                 strerror(errno));
        rc = -1;
    }
    fetch_store_rmtree(s, tmp); /* gone when renamed */
    return rc;
}

int fetch_layer_lock(struct fetch_store *s, const char *hex)
{
    char lock[128];
    int lfd;

    snprintf(lock, sizeof(lock), "tmp/%s.lock", hex);
    lfd = openat(s->fd, lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lfd >= 0 && flock(lfd, LOCK_EX) != 0) {
        int e = errno;
        close(lfd);
        errno = e;
        return -1;
    }
    return lfd;
}

int fetch_layer_put(struct fetch_ctx *ctx, struct fetch_store *s,
                    const char *hex, int fd, int verified)
{
    char what[96], got[FETCH_HEX_LEN + 1] = "";

    snprintf(what, sizeof(what), "layer sha256:%.12s", hex);
    if (fetch_store_has_layer(s, hex))
        return 0;
    if (!verified && (fetch_sha256_fd(fd, got) != 0 || strcmp(got, hex) != 0)) {
        snprintf(ctx->err, sizeof(ctx->err),
                 "%s: its content has the digest sha256:%.12s (corrupt or "
                 "tampered)",
                 what, got);
        return -1;
    }
    return layer_unpack(ctx, s, hex, fd, what);
}
