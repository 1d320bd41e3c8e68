/*
 * container_image.c - an image in the store (docs/containers.md §2), as
 * the mesos containerizer reads it at a launch: refs/<name> ->
 * images/<hex>.json -> layers/<hex>/rootfs. The store is written by
 * agora-fetcher only; the agent trusts nothing in it to be a symlink
 * (every file is opened with O_NOFOLLOW below a directory opened the
 * same way) and checks every name it builds a path of is hex.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "container.h"

#define IMAGE_JSON_MAX (4u << 20)
#define ETC_FILE_MAX (1u << 20)
#define IMAGE_LAYERS_MAX 256

/* Reads dirfd/name (a regular file, not a symlink) of at most max bytes
 * into a malloc'ed string; NULL with errno. */
static char *read_at(int dirfd, const char *name, size_t max)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    ssize_t n;

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (size_t)st.st_size > max) {
        errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        goto fail;
    }
    if (!(buf = malloc((size_t)st.st_size + 1)))
        goto fail;
    while (len < (size_t)st.st_size) {
        n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(fd);
    return buf;
fail:
    free(buf);
    n = errno;
    close(fd);
    errno = (int)n;
    return NULL;
}

static int opendir_at(int dirfd, const char *name)
{
    return openat(dirfd, name,
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int is_hex64(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 64;
}

/* The hex an image ref stands for (refs/<name>), in hex[65]. */
static int ref_lookup(int store, const char *ref, char *hex, char *err,
                      size_t errlen)
{
    char name[4096], *text;
    int refs, e;

    if (ctr_ref_name(ref, name, sizeof(name)) >= sizeof(name)) {
        snprintf(err, errlen, "image '%s': reference too long", ref);
        return AGORA_EINVAL;
    }
    if ((refs = opendir_at(store, "refs")) < 0)
        return AGORA_ENOENT;
    text = read_at(refs, name, 256);
    e = errno;
    close(refs);
    if (!text)
        return e == ENOENT ? AGORA_ENOENT : AGORA_EINVAL;
    text[strcspn(text, "\n")] = '\0';
    if (!is_hex64(text)) {
        free(text);
        snprintf(err, errlen, "image '%s': refs/%s is damaged", ref, name);
        return AGORA_EINVAL;
    }
    memcpy(hex, text, 65);
    free(text);
    return 0;
}

static int layers_of(const char *dir, int store, struct ctr_image *img,
                     char *err, size_t errlen)
{
    yajl_val l = agora_json_get(img->tree, "layers");
    int layers;

    if (!YAJL_IS_ARRAY(l) || l->u.array.len == 0 ||
        l->u.array.len > IMAGE_LAYERS_MAX) {
        snprintf(err, errlen, "image %s has no layers", img->id);
        return AGORA_EINVAL;
    }
    if (!(img->layers = calloc(l->u.array.len, sizeof(*img->layers))))
        return AGORA_ENOMEM;
    if ((layers = opendir_at(store, "layers")) < 0) {
        snprintf(err, errlen, "the image store has no layers/");
        return AGORA_EINVAL;
    }
    for (size_t i = 0; i < l->u.array.len; i++) {
        const char *hex = YAJL_GET_STRING(l->u.array.values[i]);
        char rel[80];
        int fd;

        if (!hex || !is_hex64(hex)) {
            close(layers);
            snprintf(err, errlen, "image %s: layer %zu is not a digest",
                     img->id, i);
            return AGORA_EINVAL;
        }
        snprintf(rel, sizeof(rel), "%s/rootfs", hex);
        if ((fd = opendir_at(layers, hex)) < 0 ||
            (close(fd), fd = opendir_at(layers, rel)) < 0) {
            close(layers);
            snprintf(err, errlen, "image %s: layer %s is not in the store",
                     img->id, hex);
            return AGORA_EINVAL;
        }
        close(fd);
        if (asprintf(&img->layers[i], "%s/layers/%s", dir, rel) < 0) {
            img->layers[i] = NULL;
            close(layers);
            return AGORA_ENOMEM;
        }
        img->nlayers++;
    }
    close(layers);
    return 0;
}

int ctr_image_load(const char *dir, const char *ref, struct ctr_image *img,
                   char *err, size_t errlen)
{
    char hex[65], name[80], why[128], *text;
    int store, images, rc;

    memset(img, 0, sizeof(*img));
    if ((store = opendir_at(AT_FDCWD, dir)) < 0)
        return AGORA_ENOENT;
    if ((rc = ref_lookup(store, ref, hex, err, errlen)) != 0)
        goto out;
    rc = AGORA_EINVAL;
    snprintf(name, sizeof(name), "%s.json", hex);
    if ((images = opendir_at(store, "images")) < 0) {
        snprintf(err, errlen, "image '%s': the store has no images/", ref);
        goto out;
    }
    text = read_at(images, name, IMAGE_JSON_MAX);
    close(images);
    if (!text) {
        snprintf(err, errlen, "image '%s': images/%s: %s", ref, name,
                 strerror(errno));
        goto out;
    }
    img->tree = agora_json_parse(text, why, sizeof(why));
    free(text);
    if (!(img->id = strdup(hex))) {
        rc = AGORA_ENOMEM;
        goto out;
    }
    if (!YAJL_IS_OBJECT(img->tree)) {
        snprintf(err, errlen, "image '%s': images/%s is not a JSON object",
                 ref, name);
        goto out;
    }
    img->config = agora_json_get(img->tree, "config_json");
    if (img->config && !YAJL_IS_OBJECT(img->config))
        img->config = NULL;
    rc = layers_of(dir, store, img, err, errlen);
out:
    close(store);
    return rc;
}

void ctr_image_free(struct ctr_image *img)
{
    for (size_t i = 0; i < img->nlayers; i++)
        free(img->layers[i]);
    free(img->layers);
    free(img->id);
    if (img->tree)
        yajl_tree_free(img->tree);
    memset(img, 0, sizeof(*img));
}

char *ctr_image_etc_file(const struct ctr_image *img, const char *name)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    char rel[64];

    snprintf(rel, sizeof(rel), "etc/%s", name);
    for (size_t i = img->nlayers; i-- > 0;) {
        int root = opendir_at(AT_FDCWD, img->layers[i]);
        int fd = root < 0 ? -1
                          : (int)syscall(SYS_openat2, root, rel, &how,
                                         sizeof(how));
        struct stat st;
        char *text;

        if (root >= 0)
            close(root);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            if (errno != ELOOP) /* a symlink'ed passwd: not followed */
                return NULL;
            continue;
        }
        if (fstat(fd, &st) != 0 || S_ISCHR(st.st_mode)) {
            close(fd); /* a whiteout: the file is deleted */
            return NULL;
        }
        text = S_ISREG(st.st_mode) && (size_t)st.st_size <= ETC_FILE_MAX
                   ? malloc((size_t)st.st_size + 1)
                   : NULL;
        if (text) {
            ssize_t n = pread(fd, text, (size_t)st.st_size, 0);
            text[n > 0 ? n : 0] = '\0';
        }
        close(fd);
        return text;
    }
    return NULL;
}
