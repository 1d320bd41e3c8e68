/*
 * auth.c - credentials files, HTTP Basic and HS256 bearer tokens (see
 * auth.h). HMAC-SHA256 is GnuTLS's, the library libmicrohttpd already
 * brings into the process.
 */
#include "auth.h"
#include "b64.h"
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <agora/json.h>
#include <agora/sdk.h>

/* Largest credentials or key file read. */
#define AUTH_FILE_MAX (1u << 20)

/* ---- files ---- */

/*
 * Reads path whole (NUL-terminated, malloc'ed) into *out. A file every
 * user may read is refused: it holds secrets.
 */
int auth_read_secret_file(const char *path, char **out, size_t *len,
                          char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    ssize_t n = 0, got;

    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return AGORA_EIO;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        goto fail;
    }
    if (st.st_mode & S_IROTH) {
        snprintf(err, errlen, "%s holds secrets and every user may read "
                              "it: chmod o-r it", path);
        goto fail;
    }
    if (st.st_size > (off_t)AUTH_FILE_MAX) {
        snprintf(err, errlen, "%s is over %u bytes", path, AUTH_FILE_MAX);
        goto fail;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    while (n < st.st_size &&
           (got = read(fd, buf + n, (size_t)(st.st_size - n))) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(err, errlen, "cannot read %s: %s", path,
                     strerror(errno));
            goto fail;
        }
        n += got;
    }
    buf[n] = '\0';
    close(fd);
    *out = buf;
    *len = (size_t)n;
    return 0;
fail:
    free(buf);
    close(fd);
    return AGORA_EINVAL;
}

static int add_cred(struct auth *a, const char *principal, const char *secret)
{
    struct auth_cred *c = realloc(a->creds, (a->ncreds + 1) * sizeof(*c));

    if (c == NULL)
        return AGORA_ENOMEM;
    a->creds = c;
    c = &a->creds[a->ncreds];
    c->principal = strdup(principal);
    c->secret = strdup(secret);
    if (c->principal == NULL || c->secret == NULL) {
        free(c->principal);
        free(c->secret);
        return AGORA_ENOMEM;
    }
    a->ncreds++;
    return 0;
}

/* Mesos' JSON forms: {"credentials": [{"principal", "secret"}]}, and an
 * agent's one {"principal", "secret"}. */
static int creds_json(struct auth *a, const char *text, const char *path,
                      char *err, size_t errlen)
{
    char why[200];
    yajl_val doc = agora_json_parse(text, why, sizeof(why));
    yajl_val list = doc ? agora_json_get(doc, "credentials") : NULL;
    const char *one = doc ? agora_json_get_str(doc, "principal") : NULL;
    size_t i;
    int rc = 0;

    if (one && *one && agora_json_get_str(doc, "secret")) {
        rc = add_cred(a, one, agora_json_get_str(doc, "secret"));
        yajl_tree_free(doc);
        return rc;
    }
    if (!YAJL_IS_ARRAY(list)) {
        snprintf(err, errlen, "%s: expecting {\"credentials\": [...]}%s%s",
                 path, doc ? "" : ": ", doc ? "" : why);
        rc = AGORA_EINVAL;
    }
    for (i = 0; rc == 0 && i < list->u.array.len; i++) {
        const char *p = agora_json_get_str(list->u.array.values[i],
                                           "principal");
        const char *s = agora_json_get_str(list->u.array.values[i],
                                           "secret");

        if (p == NULL || !*p || s == NULL) {
            snprintf(err, errlen, "%s: credential %zu needs a principal and "
                                  "a secret", path, i + 1);
            rc = AGORA_EINVAL;
        } else {
            rc = add_cred(a, p, s);
        }
    }
    if (doc)
        yajl_tree_free(doc);
    return rc;
}

/* The text form: "principal secret" a line. text is modified. */
static int creds_text(struct auth *a, char *text, const char *path,
                      char *err, size_t errlen)
{
    char *line, *save = NULL;
    unsigned no = 0;
    int rc = 0;

    for (line = strtok_r(text, "\n", &save); line && rc == 0;
         line = strtok_r(NULL, "\n", &save)) {
        char *p, *s, *extra, *ws = NULL;

        no++;
        if ((p = strchr(line, '#')) != NULL)
            *p = '\0';
        p = strtok_r(line, " \t\r", &ws);
        if (p == NULL)
            continue;
        s = strtok_r(NULL, " \t\r", &ws);
        extra = strtok_r(NULL, " \t\r", &ws);
        if (s == NULL || extra != NULL) {
            snprintf(err, errlen, "%s:%u: expecting \"principal secret\"",
                     path, no);
            return AGORA_EINVAL;
        }
        rc = add_cred(a, p, s);
    }
    return rc;
}

int auth_load_credentials(struct auth *a, const char *path, char *err,
                          size_t errlen)
{
    char *text, *p;
    size_t len;
    int rc = auth_read_secret_file(path, &text, &len, err, errlen);

    if (rc < 0)
        return rc;
    for (p = text; *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'; p++)
        ;
    rc = *p == '{' ? creds_json(a, p, path, err, errlen)
                   : creds_text(a, p, path, err, errlen);
    if (rc == 0 && a->ncreds == 0) {
        snprintf(err, errlen, "%s holds no credential", path);
        rc = AGORA_EINVAL;
    }
    explicit_bzero(text, len);
    free(text);
    return rc;
}

int auth_load_jwt_key(struct auth *a, const char *path, char *err,
                      size_t errlen)
{
    char *text;
    size_t len;
    int rc = auth_read_secret_file(path, &text, &len, err, errlen);

    if (rc < 0)
        return rc;
    if (len && text[len - 1] == '\n')
        len--;
    if (len && text[len - 1] == '\r')
        len--;
    if (len == 0) {
        snprintf(err, errlen, "%s is empty", path);
        free(text);
        return AGORA_EINVAL;
    }
    free(a->jwt_key);
    a->jwt_key = (unsigned char *)text;
    a->jwt_key_len = len;
    return 0;
}

/* A public file (a certificate), read whole. */
static int read_public_file(const char *path, char **out, char *err,
                            size_t errlen)
{
    size_t len;

    if (fs_read_file(path, AUTH_FILE_MAX, out, &len) < 0) {
        snprintf(err, errlen, "cannot read %s", path);
        return AGORA_EIO;
    }
    return 0;
}

int auth_tls_load(struct auth_tls *t, const char *cert_path,
                  const char *key_path, const char *ca_path, char *err,
                  size_t errlen)
{
    size_t len;
    int rc;

    memset(t, 0, sizeof(*t));
    if (cert_path == NULL || *cert_path == '\0')
        return 0;
    if (key_path == NULL || *key_path == '\0') {
        snprintf(err, errlen, "a certificate without its key file");
        return AGORA_EINVAL;
    }
    if ((rc = read_public_file(cert_path, &t->cert, err, errlen)) < 0 ||
        (rc = auth_read_secret_file(key_path, &t->key, &len, err,
                                    errlen)) < 0 ||
        (ca_path && *ca_path &&
         (rc = read_public_file(ca_path, &t->ca, err, errlen)) < 0)) {
        auth_tls_free(t);
        return rc;
    }
    return 0;
}

void auth_tls_free(struct auth_tls *t)
{
    if (t->key)
        explicit_bzero(t->key, strlen(t->key));
    free(t->cert);
    free(t->key);
    free(t->ca);
    memset(t, 0, sizeof(*t));
}

void auth_free(struct auth *a)
{
    size_t i;

    for (i = 0; i < a->ncreds; i++) {
        explicit_bzero(a->creds[i].secret, strlen(a->creds[i].secret));
        free(a->creds[i].principal);
        free(a->creds[i].secret);
    }
    free(a->creds);
    if (a->jwt_key)
        explicit_bzero(a->jwt_key, a->jwt_key_len);
    free(a->jwt_key);
    memset(a, 0, sizeof(*a));
}

int auth_configured(const struct auth *a)
{
    return a->ncreds > 0 || a->jwt_key != NULL;
}

/* ---- encodings ---- */

int auth_equal(const void *x, const void *y, size_t len)
{
    const volatile unsigned char *p = x, *q = y;
    unsigned char d = 0;
    size_t i;

    for (i = 0; i < len; i++)
        d |= p[i] ^ q[i];
    return d == 0;
}

char *auth_basic_header(const char *principal, const char *secret)
{
    size_t plen = strlen(principal), slen = strlen(secret), n = plen + 1 + slen;
    unsigned char *raw = malloc(n);
    char *out = malloc(6 + B64_ENCODED_LEN(n));

    if (raw == NULL || out == NULL) {
        free(raw);
        free(out);
        return NULL;
    }
    memcpy(raw, principal, plen);
    raw[plen] = ':';
    memcpy(raw + plen + 1, secret, slen);
    memcpy(out, "Basic ", 6);
    b64_encode(raw, n, out + 6);
    explicit_bzero(raw, n);
    free(raw);
    return out;
}

/* ---- Basic ---- */

static const struct auth_cred *find_cred(const struct auth *a,
                                         const char *principal)
{
    size_t i;

    for (i = 0; i < a->ncreds; i++)
        if (strcmp(a->creds[i].principal, principal) == 0)
            return &a->creds[i];
    return NULL;
}

static enum auth_result check_basic(const struct auth *a, const char *b64,
                                    char *principal, size_t len,
                                    const char **why)
{
    size_t n = strlen(b64);
    unsigned char *raw = malloc(n + 1);
    const struct auth_cred *c;
    char *colon;
    long got;
    enum auth_result res = AUTH_DENIED;

    if (raw == NULL) {
        *why = "out of memory";
        return AUTH_DENIED;
    }
    got = b64_decode(b64, n, 0, raw, n);
    raw[got < 0 ? 0 : got] = '\0';
    if (got < 0 || (colon = strchr((char *)raw, ':')) == NULL ||
        memchr(raw, '\0', (size_t)got) != NULL) {
        *why = "a Basic header that does not decode to principal:secret";
    } else {
        const char *given = colon + 1;
        size_t gl = strlen(given);
        int ok;

        *colon = '\0';
        c = find_cred(a, (char *)raw);
        /* Compared whatever the principal, so that the time does not
         * tell which principals exist. */
        ok = c != NULL && strlen(c->secret) == gl;
        ok &= auth_equal(ok ? c->secret : given, given, gl);
        if (ok) {
            snprintf(principal, len, "%s", (char *)raw);
            res = AUTH_OK;
        } else {
            *why = "wrong principal or secret";
        }
    }
    explicit_bzero(raw, n + 1);
    free(raw);
    return res;
}

/* ---- bearer JWT, HS256 ---- */

/* Decodes one base64url part [p, p+n) into a new NUL-terminated buffer. */
static unsigned char *jwt_part(const char *p, size_t n, long *len)
{
    unsigned char *out = malloc(n + 1);

    if (out == NULL)
        return NULL;
    *len = b64_decode(p, n, 1, out, n);
    if (*len < 0) {
        free(out);
        return NULL;
    }
    out[*len] = '\0';
    return out;
}

/* The claims of a token whose signature checks, or NULL with why. */
static yajl_val jwt_claims(const struct auth *a, const char *tok,
                           const char **why)
{
    const char *dot1 = strchr(tok, '.'), *dot2;
    unsigned char mac[32], *head = NULL, *body = NULL, *sig = NULL;
    long hl, bl, sl = 0;
    yajl_val h = NULL, claims = NULL;
    char err[100];

    dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL || strchr(dot2 + 1, '.')) {
        *why = "a bearer token that is not a JWT";
        return NULL;
    }
    head = jwt_part(tok, (size_t)(dot1 - tok), &hl);
    body = jwt_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), &bl);
    sig = jwt_part(dot2 + 1, strlen(dot2 + 1), &sl);
    if (!head || !body || !sig ||
        (h = agora_json_parse((char *)head, err, sizeof(err))) == NULL) {
        *why = "a JWT that does not decode";
    } else if (agora_json_get_str(h, "alg") == NULL ||
               strcmp(agora_json_get_str(h, "alg"), "HS256") != 0) {
        *why = "a JWT not signed with HS256";
    } else if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, a->jwt_key,
                                a->jwt_key_len, tok, (size_t)(dot2 - tok),
                                mac) != 0 ||
               sl != (long)sizeof(mac) || !auth_equal(mac, sig, sizeof(mac))) {
        *why = "a JWT whose signature does not match";
    } else if ((claims = agora_json_parse((char *)body, err,
                                          sizeof(err))) == NULL ||
               !YAJL_IS_OBJECT(claims)) {
        *why = "a JWT whose claims do not parse";
        if (claims)
            yajl_tree_free(claims);
        claims = NULL;
    }
    if (h)
        yajl_tree_free(h);
    free(head);
    free(body);
    free(sig);
    return claims;
}

static enum auth_result check_bearer(const struct auth *a, const char *tok,
                                     double now, char *principal, size_t len,
                                     const char **why)
{
    yajl_val claims;
    const char *sub;
    double t;
    enum auth_result res = AUTH_DENIED;

    if (a->jwt_key == NULL) {
        *why = "a bearer token, and no --jwt_secret_key";
        return AUTH_DENIED;
    }
    if ((claims = jwt_claims(a, tok, why)) == NULL)
        return AUTH_DENIED;
    sub = agora_json_get_str(claims, "sub");
    if (sub == NULL || !*sub)
        *why = "a JWT without a \"sub\" claim (the principal)";
    else if (agora_json_num(claims, "exp", &t) == 0 && now >= t)
        *why = "an expired JWT";
    else if (agora_json_num(claims, "nbf", &t) == 0 && now < t)
        *why = "a JWT not valid yet";
    else {
        snprintf(principal, len, "%s", sub);
        res = AUTH_OK;
    }
    yajl_tree_free(claims);
    return res;
}

enum auth_result auth_check_pair(const char *authorization,
                                 const char *user_password, char *principal,
                                 size_t len, const char **why)
{
    struct auth one;
    struct auth_cred cred;
    char *colon, *copy;
    enum auth_result res;

    if (authorization == NULL || *authorization == '\0')
        return AUTH_MISSING;
    if (strncasecmp(authorization, "Basic ", 6) != 0) {
        *why = "this plugin takes HTTP Basic credentials only";
        return AUTH_DENIED;
    }
    if ((copy = strdup(user_password)) == NULL) {
        *why = "out of memory";
        return AUTH_DENIED;
    }
    if ((colon = strchr(copy, ':')) == NULL) {
        free(copy);
        *why = "the plugin's http_credentials are not user:password";
        return AUTH_DENIED;
    }
    *colon = '\0';
    cred.principal = copy;
    cred.secret = colon + 1;
    memset(&one, 0, sizeof(one));
    one.creds = &cred;
    one.ncreds = 1;
    res = auth_check(&one, authorization, 0, principal, len, why);
    explicit_bzero(copy, strlen(user_password));
    free(copy);
    return res;
}

enum auth_result auth_check(const struct auth *a, const char *authorization,
                            double now, char *principal, size_t len,
                            const char **why)
{
    const char *v = authorization;

    if (v == NULL || *v == '\0')
        return AUTH_MISSING;
    if (strlen(v) > AUTH_HEADER_MAX) {
        *why = "an Authorization header over 4096 bytes";
        return AUTH_DENIED;
    }
    if (strncasecmp(v, "Basic ", 6) == 0) {
        for (v += 6; *v == ' '; v++)
            ;
        return check_basic(a, v, principal, len, why);
    }
    if (strncasecmp(v, "Bearer ", 7) == 0) {
        for (v += 7; *v == ' '; v++)
            ;
        return check_bearer(a, v, now, principal, len, why);
    }
    *why = "an Authorization scheme other than Basic and Bearer";
    return AUTH_DENIED;
}
