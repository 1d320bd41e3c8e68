/*
 * fetch_registry.c - a pull through the Docker Registry HTTP API v2
 * with libcurl: the manifest (Docker v2 schema 2, OCI, or a list/index
 * from which the linux image of this machine's architecture is taken),
 * the config blob and the layers, each blob's SHA-256 checked with
 * GnuTLS as it streams. Auth as Docker's: a 401's WWW-Authenticate says
 * Bearer (a token from its realm, anonymous or with the docker config's
 * credentials for the registry) or Basic (those credentials). One curl
 * handle for the whole pull, so its connection is reused. Credentials
 * go in headers only, never in a URL, a log or a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <agora/json.h>

#include "fetch_image.h"

#define DOC_MAX (4u << 20) /* a manifest, an index, a config, a token */
#define ACCEPT                                                                 \
    "Accept: application/vnd.docker.distribution.manifest.v2+json, "           \
    "application/vnd.docker.distribution.manifest.list.v2+json, "              \
    "application/vnd.oci.image.manifest.v1+json, "                             \
    "application/vnd.oci.image.index.v1+json"

struct reg {
    struct fetch_ctx *ctx;
    const struct fetch_image_job *job;
    const struct fetch_ref *ref;
    CURL *c;
    char base[300];     /* "https://host:port"                */
    char auth[8200];    /* "Authorization: ..." or ""          */
    char userpwd[1024]; /* from the docker config, or ""       */
    int authed;         /* the challenge was answered          */
    int basic;          /* ... with Basic: userpwd every time  */
};

/* Where a response goes: memory (doc) or a file (fd), hashed. */
struct sink {
    char *buf;
    size_t len, max;
    int fd;
    gnutls_hash_hd_t h;
    int over, werr;
    char ctype[128];
    char www[1024];
};

static size_t sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sink *k = arg;
    size_t n = size * nmemb;

    if (k->len + n > k->max) {
        k->over = 1;
        return 0;
    }
    if (k->fd >= 0) {
        for (size_t off = 0; off < n;) {
            ssize_t w = write(k->fd, data + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                k->werr = errno ? errno : EIO;
                return 0;
            }
            off += (size_t)w;
        }
    } else {
        memcpy(k->buf + k->len, data, n);
        k->buf[k->len + n] = '\0';
    }
    gnutls_hash(k->h, data, n);
    k->len += n;
    return n;
}

/* Keeps Content-Type and WWW-Authenticate of the last response. */
static size_t sink_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sink *k = arg;
    size_t n = size * nmemb, v;
    char *dst = NULL;
    size_t dlen = 0;

    if (n > 13 && strncasecmp(data, "Content-Type:", 13) == 0)
        dst = k->ctype, dlen = sizeof(k->ctype), v = 13;
    else if (n > 17 && strncasecmp(data, "WWW-Authenticate:", 17) == 0)
        dst = k->www, dlen = sizeof(k->www), v = 17;
    else
        return n;
    while (v < n && data[v] == ' ')
        v++;
    snprintf(dst, dlen, "%.*s", (int)(n - v), data + v);
    dst[strcspn(dst, "\r\n")] = '\0';
    return n;
}

/* Resets the sink for one more response. */
static int sink_reset(struct sink *k)
{
    if (k->fd >= 0 && (ftruncate(k->fd, 0) != 0 || lseek(k->fd, 0, SEEK_SET)))
        return -1;
    if (k->h)
        gnutls_hash_deinit(k->h, NULL);
    k->h = NULL;
    k->len = 0;
    k->over = k->werr = 0;
    k->ctype[0] = k->www[0] = '\0';
    if (k->buf)
        k->buf[0] = '\0';
    return gnutls_hash_init(&k->h, GNUTLS_DIG_SHA256) < 0 ? -1 : 0;
}

static void sink_hex(struct sink *k, char hex[FETCH_HEX_LEN + 1])
{
    unsigned char d[32];

    gnutls_hash_deinit(k->h, d);
    k->h = NULL;
    fetch_sha256_hex(d, hex);
}

static void sink_free(struct sink *k)
{
    if (k->h)
        gnutls_hash_deinit(k->h, NULL);
    free(k->buf);
}

/* One GET of url into k. The HTTP status, or -1 with ctx->err set. */
static long reg_get(struct reg *r, const char *url, const char *accept,
                    const char *userpwd, struct sink *k, const char *what)
{
    struct curl_slist *hdrs = NULL, *h;
    char errbuf[CURL_ERROR_SIZE] = "";
    long code = 0;
    CURLcode rc;

    if (sink_reset(k) != 0) {
        snprintf(r->ctx->err, sizeof(r->ctx->err), "%s: %s", what,
                 strerror(errno));
        return -1;
    }
    if (accept && (h = curl_slist_append(hdrs, accept)))
        hdrs = h;
    if (!userpwd && r->auth[0] && (h = curl_slist_append(hdrs, r->auth)))
        hdrs = h;
    curl_easy_reset(r->c);
    curl_easy_setopt(r->c, CURLOPT_URL, url);
    curl_easy_setopt(r->c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(r->c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* Blobs redirect to storage: follow, and never send our
     * Authorization to another host (curl's default). */
    curl_easy_setopt(r->c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(r->c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(r->c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(r->c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(r->c, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(r->c, CURLOPT_HEADERFUNCTION, sink_header);
    curl_easy_setopt(r->c, CURLOPT_HEADERDATA, k);
    curl_easy_setopt(r->c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(r->c, CURLOPT_CONNECTTIMEOUT,
                     (long)(r->ctx->conf.stall_timeout + 0.5));
    curl_easy_setopt(r->c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(r->c, CURLOPT_LOW_SPEED_TIME,
                     (long)(r->ctx->conf.stall_timeout + 0.5));
    curl_easy_setopt(r->c, CURLOPT_USERAGENT, "agora-fetcher/" AGORA_VERSION);
    if (r->job->ca_file && *r->job->ca_file)
        curl_easy_setopt(r->c, CURLOPT_CAINFO, r->job->ca_file);
    if (userpwd) {
        curl_easy_setopt(r->c, CURLOPT_USERPWD, userpwd);
        curl_easy_setopt(r->c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    }
    rc = curl_easy_perform(r->c);
    curl_easy_getinfo(r->c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_setopt(r->c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(r->c, CURLOPT_USERPWD, NULL);
    curl_slist_free_all(hdrs);
    if (rc == CURLE_OK)
        return code;
    if (k->over)
        snprintf(r->ctx->err, sizeof(r->ctx->err),
                 "%s: larger than the limit of %zu bytes", what, k->max);
    else if (k->werr)
        snprintf(r->ctx->err, sizeof(r->ctx->err), "%s: writing: %s", what,
                 strerror(k->werr));
    else
        snprintf(r->ctx->err, sizeof(r->ctx->err), "registry %s: %s",
                 r->ref->registry, *errbuf ? errbuf : curl_easy_strerror(rc));
    return -1;
}

/* Answers a Bearer challenge: a token from its realm. 0 or -1. */
static int reg_token(struct reg *r, const struct fetch_challenge *ch)
{
    struct sink k = {.fd = -1, .max = DOC_MAX};
    char scope[600], url[2048], err[128];
    char *svc = NULL, *sc = NULL;
    const char *tok;
    yajl_val doc = NULL;
    long code;
    int rc = -1;

    if (strncmp(ch->realm, "http://", 7) && strncmp(ch->realm, "https://", 8)) {
        snprintf(r->ctx->err, sizeof(r->ctx->err),
                 "registry %s: its token realm is not http(s)",
                 r->ref->registry);
        return -1;
    }
    if (ch->scope[0])
        snprintf(scope, sizeof(scope), "%s", ch->scope);
    else
        snprintf(scope, sizeof(scope), "repository:%s:pull", r->ref->repo);
    if (!(k.buf = malloc(DOC_MAX + 1)) ||
        !(svc = curl_easy_escape(r->c, ch->service, 0)) ||
        !(sc = curl_easy_escape(r->c, scope, 0))) {
        snprintf(r->ctx->err, sizeof(r->ctx->err), "out of memory");
        goto out;
    }
    snprintf(url, sizeof(url), "%s%sservice=%s&scope=%s", ch->realm,
             strchr(ch->realm, '?') ? "&" : "?", svc, sc);
    code = reg_get(r, url, NULL, r->userpwd[0] ? r->userpwd : NULL, &k,
                   "its token");
    if (code < 0)
        goto out;
    if (code != 200) {
        snprintf(r->ctx->err, sizeof(r->ctx->err),
                 "registry %s: its token service said HTTP %ld%s",
                 r->ref->registry, code,
                 code == 401 ? " (wrong or no credentials)" : "");
        goto out;
    }
    doc = agora_json_parse(k.buf, err, sizeof(err));
    tok = agora_json_get_str(doc, "token");
    if (!tok || !*tok)
        tok = agora_json_get_str(doc, "access_token");
    if (!tok || !*tok || strlen(tok) > sizeof(r->auth) - 32 ||
        strpbrk(tok, "\r\n")) {
        snprintf(r->ctx->err, sizeof(r->ctx->err),
                 "registry %s: its token service gave no usable token",
                 r->ref->registry);
        goto out;
    }
    snprintf(r->auth, sizeof(r->auth), "Authorization: Bearer %s", tok);
    rc = 0;
out:
    if (doc)
        yajl_tree_free(doc);
    curl_free(svc);
    curl_free(sc);
    sink_free(&k);
    return rc;
}

/* GET path under /v2/<repo>/, answering one 401. Status or -1. */
static long reg_fetch(struct reg *r, const char *kind, const char *what,
                      const char *accept, struct sink *k)
{
    char url[1200];
    struct fetch_challenge ch;
    long code;

    snprintf(url, sizeof(url), "%s/v2/%s/%s/%s", r->base, r->ref->repo, kind,
             what);
    code = reg_get(r, url, accept, r->basic ? r->userpwd : NULL, k, what);
    if (code != 401 || r->authed)
        return code;
    r->authed = 1;
    if (fetch_challenge_parse(k->www, &ch) != 0) {
        snprintf(r->ctx->err, sizeof(r->ctx->err),
                 "registry %s: 401 with an unknown challenge",
                 r->ref->registry);
        return -1;
    }
    if (ch.bearer) {
        if (reg_token(r, &ch) != 0)
            return -1;
        return reg_get(r, url, accept, NULL, k, what);
    }
    if (!r->userpwd[0]) {
        snprintf(r->ctx->err, sizeof(r->ctx->err),
                 "registry %s: it asks for credentials and the agent's "
                 "--docker_config has none for it",
                 r->ref->registry);
        return -1;
    }
    r->basic = 1;
    return reg_get(r, url, accept, r->userpwd, k, what);
}

/* The status of a failed GET, as a reason. */
static int reg_status(struct reg *r, long code, const char *what)
{
    if (code < 0)
        return -1;
    snprintf(r->ctx->err, sizeof(r->ctx->err), "registry %s: %s: HTTP %ld%s",
             r->ref->registry, what, code,
             code == 404   ? " (no such image)"
             : code == 401 ? " (unauthorized)"
                           : "");
    return -1;
}

/* The docker config's credentials for the registry, as "user:pass". */
static void reg_creds(struct reg *r)
{
    char *text, err[128], host[256];
    yajl_val doc, auths;
    size_t len;

    if (!r->job->docker_config || !*r->job->docker_config ||
        !(text = fetch_read_small(AT_FDCWD, r->job->docker_config, 1u << 20,
                                  &len)))
        return;
    doc = agora_json_parse(text, err, sizeof(err));
    free(text);
    auths = agora_json_get(doc, "auths");
    for (size_t i = 0; YAJL_IS_OBJECT(auths) && i < auths->u.object.len; i++) {
        const char *key = auths->u.object.keys[i], *p = strstr(key, "://");
        yajl_val v = auths->u.object.values[i];
        const char *b64 = agora_json_get_str(v, "auth");
        const char *u = agora_json_get_str(v, "username");
        const char *pw = agora_json_get_str(v, "password");

        p = p ? p + 3 : key;
        snprintf(host, sizeof(host), "%.*s", (int)strcspn(p, "/"), p);
        if (strcmp(host, r->ref->registry) != 0 &&
            !(strcmp(r->ref->registry, "registry-1.docker.io") == 0 &&
              (!strcmp(host, "index.docker.io") || !strcmp(host, "docker.io"))))
            continue;
        if (b64) {
            gnutls_datum_t in = {(unsigned char *)b64, (unsigned)strlen(b64)};
            gnutls_datum_t out = {NULL, 0};
            if (gnutls_base64_decode2(&in, &out) == 0 &&
                out.size < sizeof(r->userpwd) && memchr(out.data, ':', out.size))
                snprintf(r->userpwd, sizeof(r->userpwd), "%.*s", (int)out.size,
                         out.data);
            gnutls_free(out.data);
        } else if (u && pw) {
            snprintf(r->userpwd, sizeof(r->userpwd), "%s:%s", u, pw);
        }
        break;
    }
    if (doc)
        yajl_tree_free(doc);
}

/* The manifest of the reference, through an index when it is one. */
static int reg_manifest(struct reg *r, struct sink *k, yajl_val *mf)
{
    const char *want = r->ref->digest[0] ? r->ref->digest : r->ref->tag;
    char digest[80], hex[FETCH_HEX_LEN + 1], err[128];
    long code;

    for (int round = 0; round < 2; round++) {
        enum fetch_manifest kind;

        if ((code = reg_fetch(r, "manifests", want, ACCEPT, k)) != 200)
            return reg_status(r, code, "its manifest");
        sink_hex(k, hex);
        if (strncmp(want, "sha256:", 7) == 0 && strcmp(want + 7, hex) != 0) {
            snprintf(r->ctx->err, sizeof(r->ctx->err),
                     "its manifest does not have the digest %.19s... "
                     "(corrupt or tampered)",
                     want);
            return -1;
        }
        *mf = agora_json_parse(k->buf, err, sizeof(err));
        kind = fetch_manifest_kind(*mf, k->ctype);
        if (kind == FETCH_MF_IMAGE)
            return 0;
        if (kind != FETCH_MF_INDEX || round > 0 ||
            fetch_manifest_pick(*mf, fetch_arch(), digest, sizeof(digest))) {
            snprintf(r->ctx->err, sizeof(r->ctx->err), "%s",
                     kind == FETCH_MF_INDEX
                         ? "its index has no linux image for this architecture"
                         : "its manifest is of a kind not supported (schema 1?)");
            return -1;
        }
        yajl_tree_free(*mf);
        *mf = NULL;
        want = digest;
    }
    return -1;
}

/* One layer: downloaded into tmp/ under its lock, then put. */
static int reg_layer(struct reg *r, struct fetch_store *s, const char *hex)
{
    struct sink k = {.fd = -1};
    char what[80], name[128], got[FETCH_HEX_LEN + 1];
    uint64_t left = r->ctx->conf.max_total - r->ctx->total;
    int lfd, rc = -1;
    long code;

    if ((lfd = fetch_layer_lock(s, hex)) < 0) {
        snprintf(r->ctx->err, sizeof(r->ctx->err), "layer %.12s: its lock: %s",
                 hex, strerror(errno));
        return -1;
    }
    if (fetch_store_has_layer(s, hex)) {
        close(lfd);
        return 0;
    }
    snprintf(name, sizeof(name), "tmp/%s.blob", hex);
    k.fd = openat(s->fd, name, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW |
                  O_CLOEXEC, 0600);
    k.max = left;
    snprintf(what, sizeof(what), "sha256:%s", hex);
    if (k.fd < 0) {
        snprintf(r->ctx->err, sizeof(r->ctx->err), "layer %.12s: %s", hex,
                 strerror(errno));
    } else if ((code = reg_fetch(r, "blobs", what, NULL, &k)) != 200) {
        reg_status(r, code, "a layer");
    } else {
        sink_hex(&k, got);
        if (strcmp(got, hex) != 0)
            snprintf(r->ctx->err, sizeof(r->ctx->err),
                     "layer sha256:%.12s: the registry sent content with the "
                     "digest sha256:%.12s (corrupt or tampered)",
                     hex, got);
        else
            rc = fetch_layer_put(r->ctx, s, hex, k.fd, 1); /* hashed as it came */
    }
    if (k.fd >= 0) {
        close(k.fd);
        unlinkat(s->fd, name, 0);
    }
    sink_free(&k);
    close(lfd);
    return rc;
}

/* The config blob into k (verified). 0 or -1. */
static int reg_config(struct reg *r, struct sink *k, const char *hex)
{
    char what[80], got[FETCH_HEX_LEN + 1];
    long code;

    snprintf(what, sizeof(what), "sha256:%s", hex);
    if ((code = reg_fetch(r, "blobs", what, NULL, k)) != 200)
        return reg_status(r, code, "its config");
    sink_hex(k, got);
    if (strcmp(got, hex) == 0)
        return 0;
    snprintf(r->ctx->err, sizeof(r->ctx->err),
             "its config does not have its digest (corrupt or tampered)");
    return -1;
}

/* The scheme for ref's registry: the --docker_registry's when it names
 * the same host, else https. */
static void reg_base(struct reg *r)
{
    const char *dflt = r->job->registry, *p = strstr(dflt, "://");
    size_t n;

    if (p) {
        n = strcspn(p + 3, "/");
        if (strlen(r->ref->registry) == n &&
            strncmp(p + 3, r->ref->registry, n) == 0) {
            snprintf(r->base, sizeof(r->base), "%.*s://%s", (int)(p - dflt),
                     dflt, r->ref->registry);
            return;
        }
    }
    snprintf(r->base, sizeof(r->base), "https://%s", r->ref->registry);
}

int fetch_registry_pull(struct fetch_ctx *ctx, struct fetch_store *s,
                        const struct fetch_image_job *job,
                        const struct fetch_ref *ref)
{
    struct reg r = {.ctx = ctx, .job = job, .ref = ref};
    struct sink k = {.fd = -1, .max = DOC_MAX};
    struct fetch_image img = {0};
    yajl_val mf = NULL;
    int rc = -1;

    reg_base(&r);
    reg_creds(&r);
    if (!(r.c = curl_easy_init()) || !(k.buf = malloc(DOC_MAX + 1))) {
        snprintf(ctx->err, sizeof(ctx->err), "out of memory");
        goto out;
    }
    if (reg_manifest(&r, &k, &mf) != 0 ||
        fetch_image_manifest(ctx, mf, &img) != 0)
        goto out;
    for (size_t i = 0; i < img.nlayers; i++)
        if (reg_layer(&r, s, img.layers[i]) != 0)
            goto out;
    if (reg_config(&r, &k, img.config_hex) != 0)
        goto out;
    rc = fetch_image_commit(ctx, s, job->ref, &img, k.buf, k.len);
out:
    fetch_image_free(&img);
    if (mf)
        yajl_tree_free(mf);
    sink_free(&k);
    if (r.c)
        curl_easy_cleanup(r.c);
    explicit_bzero(r.userpwd, sizeof(r.userpwd));
    explicit_bzero(r.auth, sizeof(r.auth));
    return rc;
}
