/*
 * fetch_local.c - images from local files, for machines without a
 * registry: `docker-archive:/x.tar` (what `docker save` and `skopeo copy
 * ... docker-archive:` write: manifest.json naming a config file and
 * layer tars), `oci-archive:/x.tar[:tag]` and `oci:/dir[:tag]` (an OCI
 * image layout: index.json, blobs/sha256/<hex>), and Mesos' local
 * registry, --docker_registry=/dir holding <name>:<tag>.tar
 * docker-archives. An archive is unpacked under the store's tmp/ first
 * (fetch_extract.c's checks, the image's size bound), then read as a
 * directory. OCI blobs are checked against their digests; a
 * docker-archive's files are named by the digests of their contents.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <agora/json.h>

#include "fetch_image.h"

#define DOC_MAX (4u << 20)
#define OCI_REF_NAME "org.opencontainers.image.ref.name"

/* Whose file system identity opens the task's own files: set for a
 * source the task names (an oci: directory, an archive's path), not for
 * what the fetcher unpacked under the store's tmp/. */
static struct {
    int on;
    uid_t uid;
    gid_t gid;
} src_user;

/* Becomes (on) or stops being (!on) the task's user for file access. */
static void as_user(int on)
{
    if (!src_user.on)
        return;
    if (on) {
        (void)setfsgid(src_user.gid);
        (void)setfsuid(src_user.uid);
    } else {
        (void)setfsuid(geteuid());
        (void)setfsgid(getegid());
    }
}

/* open(2) of a path the task gave, as its user, a regular file or a
 * directory only (not a FIFO that blocks, not a device). */
static int user_open(const char *path, int flags)
{
    struct stat st;
    int fd;

    as_user(1);
    fd = open(path, flags | O_CLOEXEC | O_NONBLOCK);
    as_user(0);
    if (fd >= 0 && (fstat(fd, &st) != 0 ||
                    (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    if (fd >= 0)
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

/* A file of the source, by a path it names (checked), read only. */
static int src_open(struct fetch_ctx *ctx, int dirfd, const char *rel)
{
    const char *why = NULL;
    struct stat st;
    int fd;

    if (fetch_path_check(rel, &why) != 0) {
        snprintf(ctx->err, sizeof(ctx->err), "it names the file '%.200s': %s",
                 rel, why);
        return -1;
    }
    as_user(1);
    fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    as_user(0);
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
        errno = EINVAL;
    }
    if (fd < 0)
        snprintf(ctx->err, sizeof(ctx->err), "its file '%.200s': %s", rel,
                 strerror(errno));
    return fd;
}

/* A small file of the source (a document), verified against hex when
 * given. Malloc'ed or NULL (ctx->err). */
static char *src_doc(struct fetch_ctx *ctx, int dirfd, const char *rel,
                     const char *hex, size_t *len)
{
    char got[FETCH_HEX_LEN + 1];
    char *text;
    int fd = src_open(ctx, dirfd, rel);

    if (fd < 0)
        return NULL;
    if (hex && (fetch_sha256_fd(fd, got) != 0 || strcmp(got, hex) != 0)) {
        snprintf(ctx->err, sizeof(ctx->err),
                 "its blob %.12s does not have its digest (corrupt?)", hex);
        close(fd);
        return NULL;
    }
    /* Read what was hashed: the descriptor, not the name again. */
    text = fetch_read_fd(fd, DOC_MAX, len);
    close(fd);
    if (!text)
        snprintf(ctx->err, sizeof(ctx->err), "reading '%.200s': %s", rel,
                 strerror(errno));
    return text;
}

/* A layer file of the source into the store, under the layer's lock;
 * hex NULL: named by its content's digest (written to out). */
static int src_layer(struct fetch_ctx *ctx, struct fetch_store *s, int dirfd,
                     const char *rel, const char *hex, char *out)
{
    char got[FETCH_HEX_LEN + 1];
    int fd = src_open(ctx, dirfd, rel), lfd, rc, verified = hex == NULL;

    if (fd < 0)
        return -1;
    if (hex == NULL) {
        if (fetch_sha256_fd(fd, got) != 0) {
            snprintf(ctx->err, sizeof(ctx->err), "reading '%.200s': %s", rel,
                     strerror(errno));
            close(fd);
            return -1;
        }
        hex = got;
    }
    if (out)
        strcpy(out, hex);
    if ((lfd = fetch_layer_lock(s, hex)) < 0) {
        snprintf(ctx->err, sizeof(ctx->err), "layer %.12s: its lock: %s", hex,
                 strerror(errno));
        close(fd);
        return -1;
    }
    rc = fetch_layer_put(ctx, s, hex, fd, verified);
    close(lfd);
    close(fd);
    return rc;
}

/* The manifest descriptor's digest of an OCI index for tag (NULL: the
 * first), going through a nested index for this architecture. */
static int oci_pick(struct fetch_ctx *ctx, int dirfd, yajl_val index,
                    const char *tag, char *digest, size_t dlen)
{
    yajl_val list = agora_json_get(index, "manifests"), nested;
    char rel[128], err[128];
    const char *d = NULL, *mt = NULL;
    char *text;

    for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
        yajl_val m = list->u.array.values[i];
        const char *name = agora_json_get_str(
            agora_json_get(m, "annotations"), OCI_REF_NAME);
        if (tag == NULL || (name && strcmp(name, tag) == 0)) {
            d = agora_json_get_str(m, "digest");
            mt = agora_json_get_str(m, "mediaType");
            break;
        }
    }
    if (!fetch_digest_hex(d) || strlen(d) >= dlen) {
        snprintf(ctx->err, sizeof(ctx->err), "its index.json has no %s%s",
                 tag ? "image tagged " : "image", tag ? tag : "");
        return -1;
    }
    strcpy(digest, d);
    if (!mt || !strstr(mt, "index"))
        return 0;
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", fetch_digest_hex(d));
    if (!(text = src_doc(ctx, dirfd, rel, fetch_digest_hex(d), NULL)))
        return -1;
    nested = agora_json_parse(text, err, sizeof(err));
    free(text);
    if (fetch_manifest_pick(nested, fetch_arch(), digest, dlen) != 0) {
        snprintf(ctx->err, sizeof(ctx->err),
                 "its index has no linux image for this architecture");
        if (nested)
            yajl_tree_free(nested);
        return -1;
    }
    yajl_tree_free(nested);
    return 0;
}

/* An OCI image layout in dirfd. */
static int oci_dir(struct fetch_ctx *ctx, struct fetch_store *s, int dirfd,
                   const char *tag, const char *ref)
{
    struct fetch_image img = {0};
    yajl_val index = NULL, mf = NULL;
    char digest[80], rel[128], err[128], *text, *config = NULL;
    size_t clen = 0;
    int rc = -1;

    if (!(text = src_doc(ctx, dirfd, "index.json", NULL, NULL)))
        return -1;
    index = agora_json_parse(text, err, sizeof(err));
    free(text);
    if (oci_pick(ctx, dirfd, index, tag, digest, sizeof(digest)) != 0)
        goto out;
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", fetch_digest_hex(digest));
    if (!(text = src_doc(ctx, dirfd, rel, fetch_digest_hex(digest), NULL)))
        goto out;
    mf = agora_json_parse(text, err, sizeof(err));
    free(text);
    if (fetch_image_manifest(ctx, mf, &img) != 0)
        goto out;
    for (size_t i = 0; i < img.nlayers; i++) {
        snprintf(rel, sizeof(rel), "blobs/sha256/%s", img.layers[i]);
        if (src_layer(ctx, s, dirfd, rel, img.layers[i], NULL) != 0)
            goto out;
    }
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", img.config_hex);
    if ((config = src_doc(ctx, dirfd, rel, img.config_hex, &clen)))
        rc = fetch_image_commit(ctx, s, ref, &img, config, clen);
out:
    free(config);
    fetch_image_free(&img);
    if (mf)
        yajl_tree_free(mf);
    if (index)
        yajl_tree_free(index);
    return rc;
}

/* A docker-archive, unpacked in dirfd: manifest.json's first image. */
static int docker_dir(struct fetch_ctx *ctx, struct fetch_store *s, int dirfd,
                      const char *ref)
{
    struct fetch_image img = {0};
    yajl_val doc = NULL, m, layers;
    char err[128], got[FETCH_HEX_LEN + 1], *text, *config = NULL;
    const char *cfg;
    size_t clen = 0;
    int rc = -1, fd;

    if (!(text = src_doc(ctx, dirfd, "manifest.json", NULL, NULL)))
        return -1;
    doc = agora_json_parse(text, err, sizeof(err));
    free(text);
    m = YAJL_IS_ARRAY(doc) && doc->u.array.len ? doc->u.array.values[0] : NULL;
    cfg = agora_json_get_str(m, "Config");
    layers = agora_json_get(m, "Layers");
    if (!cfg || !YAJL_IS_ARRAY(layers) || layers->u.array.len > 512) {
        snprintf(ctx->err, sizeof(ctx->err),
                 "its manifest.json names no Config and Layers");
        goto out;
    }
    if ((fd = src_open(ctx, dirfd, cfg)) < 0)
        goto out;
    rc = fetch_sha256_fd(fd, got);
    close(fd);
    if (rc != 0 || !(config = src_doc(ctx, dirfd, cfg, got, &clen))) {
        rc = -1;
        goto out;
    }
    rc = -1;
    strcpy(img.config_hex, got);
    if (layers->u.array.len &&
        !(img.layers = calloc(layers->u.array.len, sizeof(*img.layers))))
        goto out;
    for (size_t i = 0; i < layers->u.array.len; i++) {
        const char *l = YAJL_GET_STRING(layers->u.array.values[i]);
        if (!l) {
            snprintf(ctx->err, sizeof(ctx->err), "its layer %zu has no path",
                     i);
            goto out;
        }
        if (src_layer(ctx, s, dirfd, l, NULL, img.layers[i]) != 0)
            goto out;
        img.nlayers = i + 1;
    }
    rc = fetch_image_commit(ctx, s, ref, &img, config, clen);
out:
    free(config);
    fetch_image_free(&img);
    if (doc)
        yajl_tree_free(doc);
    return rc;
}

/* "path[:tag]" of an oci source: the tag after the last '/'. */
static void split_tag(char *path, const char **tag)
{
    char *slash = strrchr(path, '/'), *colon = strrchr(slash ? slash : path,
                                                       ':');

    *tag = NULL;
    if (colon) {
        *colon = '\0';
        *tag = colon + 1;
    }
}

/* An archive unpacked into a tmp dir, then read as its kind says. */
static int from_archive(struct fetch_ctx *ctx, struct fetch_store *s,
                        const char *path, int oci, const char *tag,
                        const char *ref)
{
    char rel[128];
    int fd = user_open(path, O_RDONLY), dirfd = -1, rc = -1;

    if (fd < 0) {
        snprintf(ctx->err, sizeof(ctx->err), "opening %.300s: %s", path,
                 strerror(errno));
        return -1;
    }
    if (fetch_store_tmpdir(s, "archive", rel, sizeof(rel)) != 0 ||
        (dirfd = openat(s->fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                        O_CLOEXEC)) < 0) {
        snprintf(ctx->err, sizeof(ctx->err), "a directory in tmp: %s",
                 strerror(errno));
        close(fd);
        return -1;
    }
    /* Unpacked by the fetcher into root's tmp/: read as root. */
    src_user.on = 0;
    if (fetch_extract(ctx, fd, FETCH_TAR, dirfd, NULL, "the archive") == 0)
        rc = oci ? oci_dir(ctx, s, dirfd, tag, ref)
                 : docker_dir(ctx, s, dirfd, ref);
    (void)!chdir("/");
    close(dirfd);
    close(fd);
    fetch_store_rmtree(s, rel);
    return rc;
}

int fetch_local_pull(struct fetch_ctx *ctx, struct fetch_store *s,
                     const struct fetch_image_job *job)
{
    char path[1200];
    const char *ref = job->ref, *tag = NULL, *why = NULL;
    int dirfd, rc;

    src_user.on = job->src_uid != (uid_t)-1;
    src_user.uid = job->src_uid;
    src_user.gid = job->src_gid;
    if (strncmp(ref, "docker-archive:", 15) == 0)
        return from_archive(ctx, s, ref + 15, 0, NULL, ref);
    if (strncmp(ref, "oci-archive:", 12) == 0 ||
        strncmp(ref, "oci:", 4) == 0) {
        int archive = ref[3] == '-';
        snprintf(path, sizeof(path), "%s", ref + (archive ? 12 : 4));
        split_tag(path, &tag);
        if (archive)
            return from_archive(ctx, s, path, 1, tag, ref);
        if ((dirfd = user_open(path, O_RDONLY | O_DIRECTORY)) < 0) {
            snprintf(ctx->err, sizeof(ctx->err), "opening %.300s: %s", path,
                     strerror(errno));
            return -1;
        }
        rc = oci_dir(ctx, s, dirfd, tag, ref);
        close(dirfd);
        return rc;
    }
    if (job->registry[0] != '/')
        return 1;
    /* Mesos' local registry: <dir>/<name>:<tag>.tar, a docker-archive. */
    if (fetch_path_check(ref, &why) != 0 ||
        snprintf(path, sizeof(path), "%s/%s%s.tar", job->registry, ref,
                 strchr(strrchr(ref, '/') ? strrchr(ref, '/') : ref, ':')
                     ? ""
                     : ":latest") >= (int)sizeof(path)) {
        snprintf(ctx->err, sizeof(ctx->err), "not an image name: %s",
                 why ? why : "too long");
        return -1;
    }
    src_user.on = 0; /* the agent's --docker_registry, not the task's */
    return from_archive(ctx, s, path, 0, NULL, ref);
}
