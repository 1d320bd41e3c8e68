/*
 * mar_id.c - Marathon's path ids (marathon-api.md §2.1, PathId.scala):
 * resolution of relative ids against a group, the segment rule, the
 * task-id prefix and the "lies under" test.
 */
#include <stdlib.h>
#include <string.h>

#include "mar_app_int.h"

#define ID_REGEX_MSG                                                           \
    "must fully match regular expression "                                     \
    "'^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*"                          \
    "([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])$'"
#define ID_RESERVED_MSG                                                        \
    "must not end with any of the following reserved keywords: "               \
    "restart, tasks, versions"

/*
 * Appends the segment [s, s+n) to the canonical path being built in out
 * (whose length is *len), or pops the last one for "..". "." and empty
 * segments ("a//b", a trailing '/') are skipped, as PathId does.
 * Returns -1 when ".." climbs above the root.
 */
static int push_segment(char *out, size_t *len, const char *s, size_t n)
{
    if (n == 0 || (n == 1 && s[0] == '.'))
        return 0;
    if (n == 2 && s[0] == '.' && s[1] == '.') {
        if (*len == 0)
            return -1;
        while (*len > 0 && out[*len - 1] != '/')
            (*len)--;
        (*len)--; /* the '/' before the popped segment */
        return 0;
    }
    out[(*len)++] = '/';
    memcpy(out + *len, s, n);
    *len += n;
    return 0;
}

/* Pushes every '/'-separated segment of path; -1 as push_segment(). */
static int push_path(char *out, size_t *len, const char *path)
{
    const char *p = path, *slash;

    while (*p) {
        slash = strchr(p, '/');
        if (!slash)
            slash = p + strlen(p);
        if (push_segment(out, len, p, (size_t)(slash - p)) != 0)
            return -1;
        p = *slash ? slash + 1 : slash;
    }
    return 0;
}

/* The buffer holds base and id side by side plus a '/' per segment, at
 * most; resolution only removes from that. */
char *mar_id_resolve(const char *base, const char *id, const char **why)
{
    size_t len = 0;
    char *out;

    if (why)
        *why = NULL;
    if (!id || !*id) {
        if (why)
            *why = "Path must contain at least one path element";
        return NULL;
    }
    if (!base)
        base = "/";
    out = malloc(strlen(base) + strlen(id) + 3);
    if (!out) {
        if (why)
            *why = "out of memory";
        return NULL;
    }
    if ((id[0] != '/' && push_path(out, &len, base) != 0) ||
        push_path(out, &len, id) != 0) {
        free(out);
        if (why)
            *why = "Path climbs above the root";
        return NULL;
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    return out;
}

static int is_label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * One segment against ^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*
 * ([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$: dot-separated labels, none
 * empty, each of [a-z0-9-] that starts and ends with [a-z0-9].
 */
static int segment_valid(const char *s, size_t n)
{
    size_t i, start = 0;

    if (n == 0)
        return 0;
    for (i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            if (!is_label_char(s[i]) && s[i] != '-')
                return 0;
            continue;
        }
        /* The label [start, i) */
        if (i == start || !is_label_char(s[start]) || !is_label_char(s[i - 1]))
            return 0;
        start = i + 1;
    }
    return 1;
}

static int is_reserved(const char *s, size_t n)
{
    static const char *const words[] = {"restart", "tasks", "versions"};
    size_t i;

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strlen(words[i]) == n && memcmp(words[i], s, n) == 0)
            return 1;
    }
    return 0;
}

int mar_id_valid(const char *canonical, const char **why)
{
    const char *p, *slash, *last = NULL;
    size_t n, last_n = 0;

    if (why)
        *why = NULL;
    if (!canonical || canonical[0] != '/' || canonical[1] == '\0') {
        if (why)
            *why = "must not be root";
        return 0;
    }
    for (p = canonical + 1;; p = slash + 1) {
        slash = strchr(p, '/');
        n = slash ? (size_t)(slash - p) : strlen(p);
        if (!segment_valid(p, n)) {
            if (why)
                *why = ID_REGEX_MSG;
            return 0;
        }
        last = p;
        last_n = n;
        if (!slash)
            break;
    }
    if (is_reserved(last, last_n)) {
        if (why)
            *why = ID_RESERVED_MSG;
        return 0;
    }
    return 1;
}

char *mar_id_safe(const char *canonical)
{
    char *s, *p;

    if (!canonical)
        return NULL;
    s = mar_strdup(canonical[0] == '/' ? canonical + 1 : canonical);
    for (p = s; p && *p; p++) {
        if (*p == '/')
            *p = '_';
    }
    return s;
}

int mar_id_under(const char *child, const char *group)
{
    size_t n;

    if (!child || !group)
        return 0;
    if (strcmp(group, "/") == 0)
        return child[0] == '/' && child[1] != '\0';
    n = strlen(group);
    return strncmp(child, group, n) == 0 && child[n] == '/' &&
           child[n + 1] != '\0';
}
