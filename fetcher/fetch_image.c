/*
 * fetch_image.c - an image pull end to end: the store's lock, the refs/
 * lookup, the source (a registry, or a local archive or layout), and
 * the commit in the contract's order: layers (already renamed in by
 * fetch_layer.c), blobs/<config>, images/<hex>.json, refs/<name>.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <agora/json.h>

#include "fetch_image.h"

#define IMAGE_LAYERS_MAX 512

void fetch_image_free(struct fetch_image *img)
{
    free(img->layers);
    img->layers = NULL;
    if (img->config)
        yajl_tree_free(img->config);
    img->config = NULL;
}

int fetch_image_manifest(struct fetch_ctx *ctx, yajl_val mf,
                         struct fetch_image *img)
{
    yajl_val layers = agora_json_get(mf, "layers");
    const char *cfg =
        fetch_digest_hex(agora_json_get_str(agora_json_get(mf, "config"),
                                            "digest"));
    size_t n;

    if (cfg == NULL || !YAJL_IS_ARRAY(layers)) {
        snprintf(ctx->err, sizeof(ctx->err),
                 "its manifest has no sha256 config or no layers");
        return -1;
    }
    n = layers->u.array.len;
    if (n > IMAGE_LAYERS_MAX ||
        (n && !(img->layers = calloc(n, sizeof(*img->layers))))) {
        snprintf(ctx->err, sizeof(ctx->err), "its manifest has %zu layers", n);
        return -1;
    }
    strcpy(img->config_hex, cfg);
    for (size_t i = 0; i < n; i++) {
        const char *d = fetch_digest_hex(
            agora_json_get_str(layers->u.array.values[i], "digest"));
        if (d == NULL) {
            snprintf(ctx->err, sizeof(ctx->err),
                     "its layer %zu has no sha256 digest", i);
            return -1;
        }
        strcpy(img->layers[i], d);
    }
    img->nlayers = n;
    return 0;
}

/* A string or an array of strings of the config, as JSON. */
static void config_member(struct agora_jw *w, yajl_val cfg, const char *key)
{
    yajl_val v = agora_json_get(cfg, key);

    if (YAJL_IS_STRING(v)) {
        agora_jw_kstr(w, key, YAJL_GET_STRING(v));
    } else if (YAJL_IS_ARRAY(v)) {
        agora_jw_key(w, key);
        agora_jw_arr_open(w);
        for (size_t i = 0; i < v->u.array.len; i++)
            if (YAJL_IS_STRING(v->u.array.values[i]))
                agora_jw_str(w, YAJL_GET_STRING(v->u.array.values[i]));
        agora_jw_arr_close(w);
    }
}

/* images/<hex>.json as the contract has it. Malloc'ed or NULL. */
static char *image_doc(const char *ref, const struct fetch_image *img)
{
    static const char *const keys[] = {"Entrypoint", "Cmd", "Env",
                                       "WorkingDir", "User"};
    yajl_val cfg = agora_json_get(img->config, "config");
    struct agora_jw *w = agora_jw_new();
    const char *doc;
    char *out = NULL;

    if (w == NULL)
        return NULL;
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "ref", ref);
    agora_jw_kstr(w, "config", img->config_hex);
    agora_jw_key(w, "layers");
    agora_jw_arr_open(w);
    for (size_t i = 0; i < img->nlayers; i++)
        agora_jw_str(w, img->layers[i]);
    agora_jw_arr_close(w);
    agora_jw_key(w, "config_json");
    agora_jw_obj_open(w);
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
        config_member(w, cfg, keys[i]);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
    if ((doc = agora_jw_result(w, NULL)))
        out = strdup(doc);
    agora_jw_free(w);
    return out;
}

int fetch_image_commit(struct fetch_ctx *ctx, struct fetch_store *s,
                       const char *ref, struct fetch_image *img,
                       const char *config, size_t config_len)
{
    char rel[1200], name[1024], line[FETCH_HEX_LEN + 2], err[256];
    char *doc;

    if (!img->config &&
        !(img->config = agora_json_parse(config, err, sizeof(err)))) {
        snprintf(ctx->err, sizeof(ctx->err), "its config is not JSON: %s",
                 err);
        return -1;
    }
    for (size_t i = 0; i < img->nlayers; i++)
        if (!fetch_store_has_layer(s, img->layers[i])) {
            snprintf(ctx->err, sizeof(ctx->err), "layer %.12s is missing",
                     img->layers[i]);
            return -1;
        }
    snprintf(rel, sizeof(rel), "blobs/%s", img->config_hex);
    if (fetch_store_write(s, rel, config, config_len) != 0)
        goto fail;
    if ((doc = image_doc(ref, img)) == NULL) {
        snprintf(ctx->err, sizeof(ctx->err), "out of memory");
        return -1;
    }
    snprintf(rel, sizeof(rel), "images/%s.json", img->config_hex);
    if (fetch_store_write(s, rel, doc, strlen(doc)) != 0) {
        free(doc);
        goto fail;
    }
    free(doc);
    if (fetch_ref_name(ref, name, sizeof(name)) != 0) {
        snprintf(ctx->err, sizeof(ctx->err), "its name is too long");
        return -1;
    }
    snprintf(rel, sizeof(rel), "refs/%s", name);
    snprintf(line, sizeof(line), "%s\n", img->config_hex);
    if (fetch_store_write(s, rel, line, strlen(line)) != 0)
        goto fail;
    return 0;
fail:
    snprintf(ctx->err, sizeof(ctx->err), "writing the store: %s",
             strerror(errno));
    return -1;
}

/* The host[:port] of a registry URL ("https://h:5000/" -> "h:5000"). */
static void url_host(const char *url, char *host, size_t len)
{
    const char *p = strstr(url, "://");

    p = p ? p + 3 : url;
    snprintf(host, len, "%.*s", (int)strcspn(p, "/"), p);
}

static int image_pull(struct fetch_ctx *ctx, struct fetch_store *s,
                      const struct fetch_image_job *job)
{
    struct fetch_ref ref;
    char host[256];
    const char *why;
    int rc;

    if ((rc = fetch_local_pull(ctx, s, job)) != 1)
        return rc;
    url_host(job->registry, host, sizeof(host));
    if (fetch_ref_parse(job->ref, host, &ref, &why) != 0) {
        snprintf(ctx->err, sizeof(ctx->err), "not an image reference: %s",
                 why);
        return -1;
    }
    return fetch_registry_pull(ctx, s, job, &ref);
}

int fetch_image_run(struct fetch_ctx *ctx, const struct fetch_image_job *job)
{
    struct fetch_store s;
    char hex[FETCH_HEX_LEN + 1], err[512], *shown;
    uint64_t saved = ctx->conf.max_total;
    int rc;

    if (fetch_store_open(&s, job->store, err, sizeof(err)) != 0) {
        snprintf(ctx->err, sizeof(ctx->err), "%s", err);
        rc = -1;
        goto named;
    }
    /* Shared: pulls run together, the collector waits for none. */
    if (flock(s.lock_fd, LOCK_SH) != 0) {
        snprintf(ctx->err, sizeof(ctx->err), "the store's lock: %s",
                 strerror(errno));
        fetch_store_close(&s);
        rc = -1;
        goto named;
    }
    if (!job->force_pull && fetch_store_ref_get(&s, job->ref, hex) == 0) {
        fprintf(stderr, "agora-fetcher: image %s is in the store\n", job->ref);
        fetch_store_close(&s);
        return 0;
    }
    fprintf(stderr, "agora-fetcher: pulling image %s\n", job->ref);
    ctx->conf.max_total = ctx->total + job->max_bytes;
    rc = image_pull(ctx, &s, job);
    ctx->conf.max_total = saved;
    fetch_store_close(&s);
    if (rc == 0) {
        fprintf(stderr, "agora-fetcher: image %s pulled\n", job->ref);
        return 0;
    }
named:
    /* Name the image in every failure (the reference holds no secret:
     * credentials come from the docker config, never the reference). */
    shown = strdup(ctx->err);
    snprintf(ctx->err, sizeof(ctx->err), "failed to pull image '%.300s': %.600s",
             job->ref, shown ? shown : "out of memory");
    free(shown);
    return -1;
}
