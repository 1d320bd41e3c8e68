/*
 * http_url.c - the http:// URLs of the agent's HTTP client: parsing,
 * the "http://host:port" base of a URL, and resolving a Location header
 * against the URL that answered it (see http_client.h).
 */
#include "http_url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_client.h"

void hc_url_clear(struct hc_url *u)
{
    free(u->host);
    free(u->authority);
    free(u->path);
    memset(u, 0, sizeof(*u));
}

/* A host name (letters, digits, '-', '.', '_'), or the inside of an
 * [IPv6] literal (hex digits, ':', '.'). */
static int hc_host_valid(const char *h, size_t n, int v6)
{
    size_t i;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)h[i];

        if (v6 ? !(isxdigit(ch) || ch == ':' || ch == '.')
               : !(isalnum(ch) || ch == '-' || ch == '.' || ch == '_'))
            return 0;
    }
    return 1;
}

/* ":port" (digits, 1..65535) between p and end, or nothing: 80. */
static int hc_port_parse(const char *p, const char *end, uint16_t *port)
{
    unsigned long v = 0;

    if (p == end) {
        *port = 80;
        return 0;
    }
    if (*p++ != ':' || p == end || end - p > 5)
        return AGORA_EURL;
    for (; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return AGORA_EURL;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v == 0 || v > 65535)
        return AGORA_EURL;
    *port = (uint16_t)v;
    return 0;
}

/* The scheme of url, http or https (any case): the length of its
 * "scheme://" (*tls for https); another one is AGORA_ENOTSUP. */
static int hc_scheme(const char *url, int *tls)
{
    const char *sep;

    *tls = 0;
    if (strncasecmp(url, "http://", 7) == 0)
        return 7;
    if (strncasecmp(url, "https://", 8) == 0) {
        *tls = 1;
        return 8;
    }
    sep = strstr(url, "://");
    return sep && sep != url ? AGORA_ENOTSUP : AGORA_EURL;
}

/* The path and query (no fragment), "/" when empty. No control bytes
 * or spaces: they would break the request line. */
static int hc_path_parse(const char *p, struct hc_url *u)
{
    size_t n = strcspn(p, "#"), i;

    for (i = 0; i < n; i++)
        if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f)
            return AGORA_EURL;
    if (n == 0 || p[0] != '/') {
        u->path = malloc(n + 2);
        if (u->path == NULL)
            return AGORA_ENOMEM;
        u->path[0] = '/';
        memcpy(u->path + 1, p, n);
        u->path[n + 1] = '\0';
        return 0;
    }
    u->path = strndup(p, n);
    return u->path ? 0 : AGORA_ENOMEM;
}

int hc_url_parse(const char *url, struct hc_url *u)
{
    const char *auth, *end, *host, *hend, *after;
    int rc;

    memset(u, 0, sizeof(*u));
    if (url == NULL)
        return AGORA_EURL;
    if ((rc = hc_scheme(url, &u->tls)) < 0)
        return rc;
    auth = url + rc;
    end = auth + strcspn(auth, "/?#");
    host = auth;
    if (*auth == '[') {
        host = auth + 1;
        hend = memchr(host, ']', (size_t)(end - host));
        after = hend ? hend + 1 : NULL;
        u->v6 = 1;
    } else {
        hend = memchr(auth, ':', (size_t)(end - auth));
        hend = hend ? hend : end;
        after = hend;
    }
    if (after == NULL || !hc_host_valid(host, (size_t)(hend - host), u->v6) ||
        hc_port_parse(after, end, &u->port) != 0)
        return AGORA_EURL;
    if (u->tls && after == end)
        u->port = 443;
    u->host = strndup(host, (size_t)(hend - host));
    u->authority = strndup(auth, (size_t)(end - auth));
    if (u->host == NULL || u->authority == NULL ||
        (rc = hc_path_parse(end, u)) != 0) {
        hc_url_clear(u);
        return rc ? rc : AGORA_ENOMEM;
    }
    return 0;
}

int hc_url_base(const char *url, char **out)
{
    struct hc_url u;
    int rc = hc_url_parse(url, &u), n;

    if (rc != 0)
        return rc;
    n = asprintf(out, u.v6 ? "%s://[%s]:%u" : "%s://%s:%u",
                 u.tls ? "https" : "http", u.host,
                 (unsigned)u.port);
    hc_url_clear(&u);
    if (n < 0)
        *out = NULL;
    return n < 0 ? AGORA_ENOMEM : 0;
}

/* ref starts with a scheme ("[a-z][a-z0-9+.-]*:"). */
static int hc_has_scheme(const char *ref)
{
    const char *p = ref;

    if (!isalpha((unsigned char)*p))
        return 0;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '.' || *p == '-')
        p++;
    return *p == ':';
}

/* base cut to n bytes, then sep and ref: malloc'ed in *out. */
static int hc_join(const char *base, size_t n, const char *sep, const char *ref,
                   char **out)
{
    if (asprintf(out, "%.*s%s%s", (int)n, base, sep, ref) >= 0)
        return 0;
    *out = NULL;
    return AGORA_ENOMEM;
}

int hc_url_resolve(const char *base, const char *ref, char **out)
{
    const char *sep = strstr(base, "://"), *path, *slash;
    size_t cut;

    if (ref == NULL || *ref == '\0' || sep == NULL)
        return AGORA_EURL;
    if (hc_has_scheme(ref))
        return (*out = strdup(ref)) ? 0 : AGORA_ENOMEM;
    if (ref[0] == '/' && ref[1] == '/')
        return hc_join(base, (size_t)(sep + 1 - base), "", ref, out);
    path = sep + 3 + strcspn(sep + 3, "/?#");
    if (ref[0] == '/')
        return hc_join(base, (size_t)(path - base), "", ref, out);
    if (ref[0] == '?')
        return hc_join(base, (size_t)(path + strcspn(path, "?#") - base), "",
                       ref, out);
    /* A relative path replaces the last segment of base's path. */
    cut = strcspn(path, "?#");
    slash = NULL;
    for (sep = path; sep < path + cut; sep++)
        if (*sep == '/')
            slash = sep;
    if (slash == NULL)
        return hc_join(base, (size_t)(path - base), "/", ref, out);
    return hc_join(base, (size_t)(slash + 1 - base), "", ref, out);
}
