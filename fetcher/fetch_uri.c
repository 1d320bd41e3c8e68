/*
 * fetch_uri.c - the fetcher's names and paths: a URI's scheme and file
 * name, its redacted form, the archive kind of a name, and the checks
 * that keep output paths and archive links under the sandbox. Pure
 * functions, unit tested alone (tests/unit/test_fetch.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetch.h"

const char *fetch_uri_scheme(const char *uri)
{
    static const char *const ok[] = {"http", "https", "file"};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        size_t n = strlen(ok[i]);
        if (strncasecmp(uri, ok[i], n) == 0 && strncmp(uri + n, "://", 3) == 0)
            return ok[i];
    }
    return NULL;
}

/* Where the path of uri starts (after "scheme://authority"), and where
 * it ends (at '?', '#' or the end). */
static void uri_path(const char *uri, const char **begin, const char **end)
{
    const char *p = strstr(uri, "://");

    p = p ? p + 3 : uri;
    p += strcspn(p, "/?#");
    *begin = p;
    *end = p + strcspn(p, "?#");
}

int fetch_uri_name(const char *uri, char *out, size_t outlen)
{
    const char *b, *e, *s;
    size_t n;

    uri_path(uri, &b, &e);
    for (s = e; s > b && s[-1] != '/'; s--)
        ;
    n = (size_t)(e - s);
    if (n == 0 || n >= outlen || (n == 1 && s[0] == '.') ||
        (n == 2 && s[0] == '.' && s[1] == '.'))
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

char *fetch_uri_redact(const char *uri)
{
    const char *sep = strstr(uri, "://");
    const char *auth = sep ? sep + 3 : uri;
    const char *auth_end = auth + strcspn(auth, "/?#");
    const char *at = NULL, *path_end, *p;
    char *out;
    size_t len = strlen(uri) + 8;

    for (p = auth; p < auth_end; p++)
        if (*p == '@')
            at = p; /* the last '@' ends the userinfo */
    if (!(out = malloc(len)))
        return NULL;
    path_end = auth_end + strcspn(auth_end, "?#");
    snprintf(out, len, "%.*s%s%.*s%.*s%s", (int)(auth - uri), uri,
             at ? "***@" : "", (int)(auth_end - (at ? at + 1 : auth)),
             at ? at + 1 : auth, (int)(path_end - auth_end), auth_end,
             *path_end == '?' ? "?***" : "");
    return out;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n > k && strcasecmp(s + n - k, suffix) == 0;
}

enum fetch_archive fetch_archive_kind(const char *name)
{
    static const char *const tars[] = {".tar",  ".tar.gz", ".tgz", ".tar.bz2",
                                       ".tbz2", ".tar.xz", ".txz"};

    for (size_t i = 0; i < sizeof(tars) / sizeof(tars[0]); i++)
        if (ends_with(name, tars[i]))
            return FETCH_TAR;
    if (ends_with(name, ".zip"))
        return FETCH_ZIP;
    if (ends_with(name, ".gz"))
        return FETCH_GZ;
    return FETCH_PLAIN;
}

int fetch_gz_target(const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);

    if (!ends_with(name, ".gz") || n - 3 >= outlen)
        return -1;
    memcpy(out, name, n - 3);
    out[n - 3] = '\0';
    return 0;
}

int fetch_path_check(const char *rel, const char **why)
{
    const char *p = rel;

    if (*rel == '\0') {
        *why = "an empty path";
        return -1;
    }
    if (*rel == '/') {
        *why = "an absolute path";
        return -1;
    }
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.')) {
            *why = "an empty or '.' component";
            return -1;
        }
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            *why = "a '..' component";
            return -1;
        }
        p += n;
        if (*p == '/' && *++p == '\0') {
            *why = "a trailing '/'";
            return -1;
        }
    }
    return 0;
}

/*
 * A symlink's target is resolved from the entry's directory, one
 * component at a time, without looking at the disk: the depth below the
 * root must never go negative. (A link through another link of the
 * archive is caught when that entry is written: libarchive's
 * SECURE_SYMLINKS refuses to write through a symlink on disk.)
 */
int fetch_link_check(const char *entry, const char *target)
{
    long depth = 0;
    const char *p;

    if (*target == '\0' || *target == '/')
        return -1;
    for (p = entry; (p = strchr(p, '/')); p++)
        depth++; /* the directories entry sits in */
    for (p = target; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0)
                return -1;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            depth++;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

/* The bytes a shortest-form UTF-8 sequence starting with c continues
 * with (0: c starts none), and the range of its second byte. */
static size_t utf8_tail(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80; /* overlong */
    *hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF; /* surrogates, max */
    return c >= 0xC2 && c <= 0xDF   ? 1
           : c >= 0xE0 && c <= 0xEF ? 2
           : c >= 0xF0 && c <= 0xF4 ? 3
                                    : 0;
}

void fetch_text_clean(char *text)
{
    unsigned char *s = (unsigned char *)text;
    size_t i = 0, len = strlen(text);

    while (i < len) {
        unsigned char lo, hi;
        size_t n = utf8_tail(s[i], &lo, &hi), k;

        if (s[i] < 0x80) {
            if (s[i] < 0x20 || s[i] == 0x7F)
                s[i] = '?';
            i++;
            continue;
        }
        for (k = 1; n && k <= n; k++)
            if (i + k >= len || s[i + k] < (k == 1 ? lo : 0x80) ||
                s[i + k] > (k == 1 ? hi : 0xBF))
                n = 0;
        if (n == 0) {
            s[i++] = '?';
            continue;
        }
        i += n + 1;
    }
}
