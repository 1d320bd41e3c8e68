/*
 * fetch_ref.c - the pure pieces of image pulls: references and their
 * store names, whiteout names, WWW-Authenticate challenges, manifest
 * kinds and the choice in an index. No I/O.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include <agora/json.h>

#include "fetch_image.h"

#define MT_DOCKER_V2 "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST                                                         \
    "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"

static int is_hub(const char *host)
{
    return strcmp(host, "docker.io") == 0 ||
           strcmp(host, "index.docker.io") == 0 ||
           strcmp(host, "registry-1.docker.io") == 0;
}

/* Docker: the first component is a registry when it has '.' or ':' or
 * is localhost. */
static int is_host(const char *s, size_t n)
{
    return memchr(s, '.', n) || memchr(s, ':', n) ||
           (n == 9 && memcmp(s, "localhost", 9) == 0);
}

/* Docker's grammar: components of [a-z0-9] joined by '/', each
 * starting and ending with a letter or digit, with '.', '_' or '-'
 * inside (so never "." or ".."). */
static int repo_ok(const char *r)
{
    int prev_alnum = 0;

    for (const char *p = r;; p++) {
        int alnum = islower((unsigned char)*p) || isdigit((unsigned char)*p);

        if (*p == '\0' || *p == '/') {
            if (!prev_alnum)
                return 0;
            if (*p == '\0')
                return 1;
            prev_alnum = 0;
            if (!(islower((unsigned char)p[1]) || isdigit((unsigned char)p[1])))
                return 0;
        } else if (alnum) {
            prev_alnum = 1;
        } else if (strchr("._-", *p) && p != r && p[-1] != '/') {
            prev_alnum = 0;
        } else {
            return 0;
        }
    }
}

static int tag_ok(const char *t)
{
    size_t n = strlen(t);

    if (n == 0 || n > 128 || t[0] == '.' || t[0] == '-')
        return 0;
    for (; *t; t++)
        if (!(isalnum((unsigned char)*t) || strchr("._-", *t)))
            return 0;
    return 1;
}

const char *fetch_digest_hex(const char *d)
{
    if (d == NULL || strncmp(d, "sha256:", 7) != 0 ||
        strlen(d + 7) != FETCH_HEX_LEN)
        return NULL;
    for (const char *p = d + 7; *p; p++)
        if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
            return NULL;
    return d + 7;
}

/* Splits "name[:tag][@digest]" (the part after the registry). */
static int ref_rest(const char *rest, struct fetch_ref *out, const char **why)
{
    char buf[512];
    const char *at = strchr(rest, '@'), *slash, *colon;
    size_t n = at ? (size_t)(at - rest) : strlen(rest);

    if (at && (!fetch_digest_hex(at + 1) ||
               strlen(at + 1) >= sizeof(out->digest))) {
        *why = "its digest is not sha256:<64 hex digits>";
        return -1;
    }
    if (at)
        strcpy(out->digest, at + 1);
    if (n >= sizeof(buf)) {
        *why = "it is too long";
        return -1;
    }
    memcpy(buf, rest, n);
    buf[n] = '\0';
    slash = strrchr(buf, '/');
    colon = strrchr(slash ? slash : buf, ':');
    if (colon) {
        if (!tag_ok(colon + 1)) {
            *why = "its tag is not [A-Za-z0-9_.-]";
            return -1;
        }
        snprintf(out->tag, sizeof(out->tag), "%s", colon + 1);
        buf[colon - buf] = '\0';
    } else if (!at) {
        strcpy(out->tag, "latest");
    }
    if (!repo_ok(buf) || strlen(buf) >= sizeof(out->repo)) {
        *why = "its name is not lowercase [a-z0-9._-/]";
        return -1;
    }
    strcpy(out->repo, buf);
    return 0;
}

int fetch_ref_parse(const char *ref, const char *dflt_host,
                    struct fetch_ref *out, const char **why)
{
    size_t n = strcspn(ref, "/");
    const char *rest = ref;

    memset(out, 0, sizeof(*out));
    *why = "it is empty";
    if (*ref == '\0')
        return -1;
    if (ref[n] == '/' && is_host(ref, n)) {
        if (n >= sizeof(out->registry)) {
            *why = "its registry is too long";
            return -1;
        }
        memcpy(out->registry, ref, n);
        rest = ref + n + 1;
    } else {
        snprintf(out->registry, sizeof(out->registry), "%s", dflt_host);
    }
    for (const char *p = out->registry; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p)) {
            *why = "its registry is not a host[:port]";
            return -1;
        }
    if (ref_rest(rest, out, why) != 0)
        return -1;
    if (is_hub(out->registry)) {
        strcpy(out->registry, "registry-1.docker.io");
        if (!strchr(out->repo, '/')) {
            char tmp[sizeof(out->repo)];
            if (snprintf(tmp, sizeof(tmp), "library/%s", out->repo) >=
                (int)sizeof(tmp)) {
                *why = "it is too long";
                return -1;
            }
            strcpy(out->repo, tmp);
        }
    }
    return 0;
}

int fetch_ref_name(const char *ref, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)ref; *p; p++) {
        if (isalnum(*p) || *p == '.' || *p == '_' || *p == '-') {
            if (o + 1 >= outlen)
                return -1;
            out[o++] = (char)*p;
        } else {
            if (o + 3 >= outlen)
                return -1;
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= outlen || o == 0)
        return -1;
    out[o] = '\0';
    /* "." and ".." are not names a file may have. */
    return strcmp(out, ".") && strcmp(out, "..") ? 0 : -1;
}

int fetch_whiteout(const char *path, char *target, size_t tlen)
{
    const char *base = strrchr(path, '/');
    size_t dlen;

    base = base ? base + 1 : path;
    dlen = (size_t)(base - path); /* with its trailing '/' */
    if (strncmp(base, ".wh.", 4) != 0)
        return FETCH_WH_NONE;
    if (strcmp(base, ".wh..wh..opq") == 0) {
        if (dlen >= tlen)
            return -1;
        memcpy(target, path, dlen);
        target[dlen ? dlen - 1 : 0] = '\0'; /* drop the '/' */
        return FETCH_WH_OPAQUE;
    }
    if (base[4] == '\0' || dlen + strlen(base + 4) >= tlen)
        return -1;
    memcpy(target, path, dlen);
    strcpy(target + dlen, base + 4);
    return FETCH_WH_DELETE;
}

/* One `key="value"` or `key=value` pair of a challenge, from *p. */
static int challenge_pair(const char **p, char *key, size_t klen, char *val,
                          size_t vlen)
{
    const char *s = *p;
    size_t k = 0, v = 0;

    while (*s == ' ' || *s == ',')
        s++;
    if (*s == '\0')
        return 0;
    while (*s && *s != '=' && k + 1 < klen)
        key[k++] = (char)tolower((unsigned char)*s++);
    key[k] = '\0';
    if (*s++ != '=')
        return -1;
    if (*s == '"') {
        for (s++; *s && *s != '"'; s++) {
            if (*s == '\\' && s[1])
                s++;
            if (v + 1 < vlen)
                val[v++] = *s;
        }
        if (*s == '"')
            s++;
    } else {
        while (*s && *s != ',' && *s != ' ')
            if (v + 1 < vlen)
                val[v++] = *s++;
            else
                s++;
    }
    val[v] = '\0';
    *p = s;
    return 1;
}

int fetch_challenge_parse(const char *hdr, struct fetch_challenge *c)
{
    char key[32], val[512];
    int r;

    memset(c, 0, sizeof(*c));
    while (*hdr == ' ')
        hdr++;
    if (strncasecmp(hdr, "Basic", 5) == 0 && (!hdr[5] || hdr[5] == ' '))
        return 0;
    if (strncasecmp(hdr, "Bearer ", 7) != 0)
        return -1;
    c->bearer = 1;
    hdr += 7;
    while ((r = challenge_pair(&hdr, key, sizeof(key), val, sizeof(val))) > 0) {
        if (strcmp(key, "realm") == 0)
            snprintf(c->realm, sizeof(c->realm), "%s", val);
        else if (strcmp(key, "service") == 0)
            snprintf(c->service, sizeof(c->service), "%.255s", val);
        else if (strcmp(key, "scope") == 0)
            snprintf(c->scope, sizeof(c->scope), "%s", val);
    }
    return r == 0 && c->realm[0] ? 0 : -1;
}

enum fetch_manifest fetch_manifest_kind(yajl_val doc, const char *ctype)
{
    const char *mt = agora_json_get_str(doc, "mediaType");
    int64_t ver = 0;

    if (!YAJL_IS_OBJECT(doc))
        return FETCH_MF_UNKNOWN;
    if (mt == NULL || *mt == '\0')
        mt = ctype;
    if (mt && (strncmp(mt, MT_DOCKER_LIST, strlen(MT_DOCKER_LIST)) == 0 ||
               strncmp(mt, MT_OCI_INDEX, strlen(MT_OCI_INDEX)) == 0))
        return FETCH_MF_INDEX;
    if (mt && (strncmp(mt, MT_DOCKER_V2, strlen(MT_DOCKER_V2)) == 0 ||
               strncmp(mt, MT_OCI_MANIFEST, strlen(MT_OCI_MANIFEST)) == 0))
        return FETCH_MF_IMAGE;
    /* An OCI document may leave mediaType out: its shape decides. */
    if (agora_json_int(doc, "schemaVersion", &ver) != 0 || ver != 2)
        return FETCH_MF_UNKNOWN;
    if (YAJL_IS_ARRAY(agora_json_get(doc, "manifests")))
        return FETCH_MF_INDEX;
    if (YAJL_IS_OBJECT(agora_json_get(doc, "config")) &&
        YAJL_IS_ARRAY(agora_json_get(doc, "layers")))
        return FETCH_MF_IMAGE;
    return FETCH_MF_UNKNOWN;
}

int fetch_manifest_pick(yajl_val index, const char *arch, char *digest,
                        size_t dlen)
{
    yajl_val list = agora_json_get(index, "manifests");

    for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
        yajl_val m = list->u.array.values[i];
        yajl_val pf = agora_json_get(m, "platform");
        const char *os = agora_json_get_str(pf, "os");
        const char *ar = agora_json_get_str(pf, "architecture");
        const char *d = agora_json_get_str(m, "digest");

        if (!os || !ar || !d || strcmp(os, "linux") || strcmp(ar, arch) ||
            !fetch_digest_hex(d) || strlen(d) >= dlen)
            continue;
        strcpy(digest, d);
        return 0;
    }
    return -1;
}

const char *fetch_arch(void)
{
    static const struct {
        const char *uname, *oci;
    } map[] = {{"x86_64", "amd64"},  {"aarch64", "arm64"},
               {"armv7l", "arm"},    {"i686", "386"},
               {"ppc64le", "ppc64le"}, {"s390x", "s390x"},
               {"riscv64", "riscv64"}};
    static char m[65];
    struct utsname u;

    if (uname(&u) != 0)
        return "amd64";
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(u.machine, map[i].uname) == 0)
            return map[i].oci;
    snprintf(m, sizeof(m), "%s", u.machine);
    return m;
}
