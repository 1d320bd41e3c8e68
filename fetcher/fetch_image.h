/*
 * fetch_image.h - agora-fetcher's image pulls: the image store of
 * docs/containers.md §2, filled from a Docker Registry (HTTP API v2) or
 * from a local docker-archive or OCI layout, and its garbage collection.
 *
 * The job's `image` member (agent/task_fetch.c writes it):
 *   {"ref": "127.0.0.1:5000/busybox:1", "force_pull": false,
 *    "store": "<work_dir>/images", "registry": "https://registry-1.docker.io"
 *    | "/local/dir", "docker_config": "/root/.docker/config.json" | "",
 *    "ca_file": "/etc/ssl/reg-ca.pem" | "", "max_bytes": bytes}
 * It is pulled as root, before the fetcher becomes the task's user.
 *
 * The reference (Docker's normalisation): `busybox` is
 * registry-1.docker.io/library/busybox:latest when the default registry
 * is Docker Hub's, else <registry>/busybox:latest; `host[:port]/name[:tag]`
 * names its registry (the first component holds a '.' or a ':' or is
 * localhost); `name@sha256:<hex>` pins a digest. Local sources:
 * `docker-archive:/path.tar`, `oci-archive:/path.tar[:tag]`,
 * `oci:/path/dir[:tag]`; and with a registry that is a directory (Mesos'
 * --docker_registry=/dir), `name:tag` is the docker-archive
 * <dir>/<name>:<tag>.tar.
 *
 * Store locking: a pull holds tmp/.store.lock shared for its whole run,
 * the collector holds it exclusive (and gives up when it cannot have it
 * at once), so nothing is collected while a pull runs. Each layer is
 * unpacked under an exclusive flock of tmp/<hex>.lock, rechecked under
 * it, so two pulls sharing a layer unpack it once.
 */
#ifndef AGORA_FETCH_IMAGE_H
#define AGORA_FETCH_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <yajl/yajl_tree.h>

#include "fetch.h"

#define FETCH_HEX_LEN 64

/* A registry reference, normalised. */
struct fetch_ref {
    char registry[256]; /* "registry-1.docker.io", "127.0.0.1:5000" */
    char repo[256];     /* "library/busybox"                        */
    char tag[129];      /* "latest" when neither tag nor digest     */
    char digest[72];    /* "sha256:<64 hex>" or ""                  */
};

/* A WWW-Authenticate challenge. */
struct fetch_challenge {
    int bearer; /* 1 Bearer, 0 Basic */
    char realm[512];
    char service[256];
    char scope[512];
};

/* What a whiteout entry of a layer means (fetch_whiteout()). */
enum fetch_wh { FETCH_WH_NONE = 0, FETCH_WH_DELETE, FETCH_WH_OPAQUE };

/* The kinds of manifest a registry or a layout gives. */
enum fetch_manifest {
    FETCH_MF_UNKNOWN = 0,
    FETCH_MF_IMAGE, /* Docker v2 schema 2, or OCI image manifest */
    FETCH_MF_INDEX  /* Docker manifest list, or OCI index        */
};

/* ---- pure pieces (fetch_ref.c) ---- */

/*
 * Parses ref with Docker's normalisation; dflt_host is the registry of
 * references without one (Docker Hub's when "docker.io" or
 * "registry-1.docker.io": then `name` becomes `library/name`). 0, or -1
 * with a static reason in *why.
 */
int fetch_ref_parse(const char *ref, const char *dflt_host,
                    struct fetch_ref *out, const char **why);

/* The store's file name of ref: every byte outside [A-Za-z0-9._-]
 * written %XX (uppercase). 0, or -1 when out is too small. */
int fetch_ref_name(const char *ref, char *out, size_t outlen);

/*
 * What the layer entry path means: FETCH_WH_DELETE with the deleted
 * path in target for `dir/.wh.name`; FETCH_WH_OPAQUE with the directory
 * in target ("" for the root) for `dir/.wh..wh..opq`; FETCH_WH_NONE
 * otherwise. -1 when target is too small or the name is `.wh.` alone.
 */
int fetch_whiteout(const char *path, char *target, size_t tlen);

/* Parses a WWW-Authenticate header value. 0, or -1 when it is neither
 * Bearer (with a realm) nor Basic. */
int fetch_challenge_parse(const char *hdr, struct fetch_challenge *c);

/* The kind of a manifest document by its mediaType (or the HTTP
 * Content-Type given) and shape. */
enum fetch_manifest fetch_manifest_kind(yajl_val doc, const char *ctype);

/*
 * From an index or manifest list, the digest of the linux/arch image
 * (arch as OCI names it: amd64, arm64, ...), into digest. 0, or -1 when
 * none matches.
 */
int fetch_manifest_pick(yajl_val index, const char *arch, char *digest,
                        size_t dlen);

/* "sha256:<64 lowercase hex>" -> the hex (borrowed), or NULL. */
const char *fetch_digest_hex(const char *digest);

/* The OCI name of this machine's architecture ("amd64", "arm64", ...). */
const char *fetch_arch(void);

/* ---- the store (fetch_store.c) ---- */

struct fetch_store {
    int fd;      /* images/                           */
    int lock_fd; /* tmp/.store.lock, shared or excl.  */
    char path[1024];
};

/* Opens (making them, 0700) the store and its directories. 0 or -1. */
int fetch_store_open(struct fetch_store *s, const char *path, char *err,
                     size_t errlen);
void fetch_store_close(struct fetch_store *s);

/* Reads refs/<name> into hex when it points at an image present. */
int fetch_store_ref_get(struct fetch_store *s, const char *ref, char *hex);

/* Writes rel (under the store) atomically: tmp file, fsync, rename. */
int fetch_store_write(struct fetch_store *s, const char *rel, const char *data,
                      size_t len);

/* A new directory tmp/<prefix>.<random> (0700); its path relative to
 * the store in rel. 0 or -1. */
int fetch_store_tmpdir(struct fetch_store *s, const char *prefix, char *rel,
                       size_t rellen);

/* Removes rel under the store and everything under it. */
void fetch_store_rmtree(struct fetch_store *s, const char *rel);

/* Whether layers/<hex> exists. */
int fetch_store_has_layer(struct fetch_store *s, const char *hex);

/* ---- hashing (fetch_store.c): GnuTLS' SHA-256 ---- */

/* The lowercase hex SHA-256 of fd's contents from offset 0. 0 or -1. */
int fetch_sha256_fd(int fd, char hex[FETCH_HEX_LEN + 1]);
void fetch_sha256_hex(const unsigned char *d, char hex[FETCH_HEX_LEN + 1]);

/* ---- a layer (fetch_layer.c) ---- */

/* Takes the layer's lock (tmp/<hex>.lock, flock exclusive, waiting):
 * its descriptor, closed to release, or -1 with errno. */
int fetch_layer_lock(struct fetch_store *s, const char *hex);

/*
 * Puts the layer blob in fd (tar: plain, gzip, zstd) into layers/<hex>,
 * unless it is there: its SHA-256 is checked against hex first (unless
 * the caller hashed these very bytes already: verified), then it
 * is unpacked under tmp/ with its whiteouts in overlayfs' form and
 * renamed into place. The caller holds the layer's lock. 0, or -1 with
 * ctx->err set.
 */
int fetch_layer_put(struct fetch_ctx *ctx, struct fetch_store *s,
                    const char *hex, int fd, int verified);

/* ---- the pull (fetch_image.c, fetch_registry.c, fetch_local.c) ---- */

struct fetch_image_job {
    const char *ref;
    int force_pull;
    const char *store;
    const char *registry;      /* default registry URL, or a directory */
    const char *docker_config; /* NULL: anonymous                      */
    const char *ca_file;       /* NULL: the system's CAs               */
    uint64_t max_bytes;
    /* Local sources (docker-archive:, oci-archive:, oci:) are files the
     * task names: opened with the task user's file system identity
     * (setfsuid), so a task reads no image its user could not. -1: the
     * fetcher's own. */
    uid_t src_uid;
    gid_t src_gid;
};

/* The image of a pull, as its source describes it. */
struct fetch_image {
    char config_hex[FETCH_HEX_LEN + 1];
    char (*layers)[FETCH_HEX_LEN + 1];
    size_t nlayers;
    yajl_val config; /* the parsed config blob, owned */
};

/* Pulls job's image into the store unless refs/ has it (force_pull
 * pulls anyway). 0, or -1 with ctx->err naming the image. */
int fetch_image_run(struct fetch_ctx *ctx, const struct fetch_image_job *job);

/* After the layers are in: blobs/<config>, images/<hex>.json, refs/. */
int fetch_image_commit(struct fetch_ctx *ctx, struct fetch_store *s,
                       const char *ref, struct fetch_image *img,
                       const char *config, size_t config_len);

/* A manifest's config digest and layers into img. 0 or -1 (ctx->err). */
int fetch_image_manifest(struct fetch_ctx *ctx, yajl_val mf,
                         struct fetch_image *img);
void fetch_image_free(struct fetch_image *img);

/* Registry pull of ref (parsed) into the store. */
int fetch_registry_pull(struct fetch_ctx *ctx, struct fetch_store *s,
                        const struct fetch_image_job *job,
                        const struct fetch_ref *ref);

/* Local sources: docker-archive:, oci-archive:, oci:, or a directory
 * registry. 1 when ref is none of them (nothing done), 0 pulled, -1
 * failed (ctx->err). */
int fetch_local_pull(struct fetch_ctx *ctx, struct fetch_store *s,
                     const struct fetch_image_job *job);

/* Reads a whole (small) file under dirfd, at most max bytes, NUL
 * terminated. Malloc'ed, or NULL with errno. */
char *fetch_read_small(int dirfd, const char *rel, size_t max, size_t *len);
/* The same from a descriptor (a regular file), read from offset 0. */
char *fetch_read_fd(int fd, size_t max, size_t *len);

/* ---- garbage collection (fetch_gc.c) ---- */

/*
 * `agora-fetcher --gc`, its job on fd 0: {"store", "keep": [refs in
 * use], "max_bytes": bytes, "collect": bool (false: tmp/ only)}. Removes the refs not
 * kept, least recently pulled first, until the store holds at most
 * max_bytes (0: every ref not kept), then the images, configs and
 * layers no remaining ref reaches, and everything in tmp/ but its lock
 * (no pull runs: each holds the lock). Gives up (0) when a pull runs.
 */
int fetch_gc_main(void);

#endif /* AGORA_FETCH_IMAGE_H */
