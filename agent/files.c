/*
 * files.c - sandbox paths and files for the /files endpoints (files.h).
 *
 * Resolution is two steps. realpath(3) gives the canonical location of
 * what a path names, and that is compared, component-wise, with the
 * canonical sandboxes directory: this is what decides 403, and it allows
 * symlinks, absolute or relative, that stay within the sandboxes. Then
 * the canonical path, which has no symlinks left, is opened from the
 * sandboxes directory down, one component at a time with O_NOFOLLOW: if a
 * task swapped a component for a symlink in between, the open fails
 * instead of leaving the sandboxes.
 */
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <agora/json.h>

#include "fs.h"

/* Sets the reason and returns status. */
static int ferr(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int ferr(char *err, size_t errlen, int status, const char *fmt, ...)
{
    va_list ap;

    if (errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return status;
}

/* The status for an errno of a lookup within the sandboxes. */
static int errno_status(int e, char *err, size_t errlen)
{
    switch (e) {
    case ENOENT:
        return ferr(err, errlen, 404, "no such file or directory");
    case EACCES:
    case EPERM:
        return ferr(err, errlen, 403, "permission denied");
    case ELOOP:
    case ENOTDIR:
        /* The canonical path had no symlink and named directories: the
         * tree changed under us, maybe to escape. Refuse. */
        return ferr(err, errlen, 403, "the path changed while opening it");
    case ENAMETOOLONG:
        return ferr(err, errlen, 400, "path is too long");
    default:
        return ferr(err, errlen, 500, "cannot open the path: %s", strerror(e));
    }
}

/* 1 when the canonical path p is croot or below it, whole components. */
static int within(const char *croot, const char *p)
{
    size_t n = strlen(croot);

    if (n == 1 && croot[0] == '/')
        return 1;
    return strncmp(p, croot, n) == 0 && (p[n] == '/' || p[n] == '\0');
}

static int is_virtual(const char *path)
{
    size_t n = strlen(FILES_VIRTUAL_ROOT);

    return strncmp(path, FILES_VIRTUAL_ROOT, n) == 0 &&
           (path[n] == '\0' || path[n] == '/');
}

/* The real-path spelling of path: the virtual form mapped onto root,
 * any other path as it is. malloc'ed; NULL when out of memory. */
static char *candidate(const char *root, const char *path)
{
    char *c;

    if (!is_virtual(path))
        return strdup(path);
    path += strlen(FILES_VIRTUAL_ROOT);
    if (asprintf(&c, "%s%s", root, path) < 0)
        return NULL;
    return c;
}

/* Removes the last component of p in place; 0 when none is left. */
static int strip_last(char *p)
{
    size_t n = strlen(p);

    while (n > 1 && p[n - 1] == '/')
        n--;
    while (n > 0 && p[n - 1] != '/')
        n--;
    while (n > 1 && p[n - 1] == '/')
        n--;
    if (n == 0) {
        if (p[0] == '\0' || strcmp(p, ".") == 0)
            return 0;
        strcpy(p, ".");
        return 1;
    }
    p[n] = '\0';
    return 1;
}

/*
 * Why cand (which realpath could not resolve with error e) is refused.
 * For a missing path, the deepest part of it that exists decides: 403
 * when that lies outside the sandboxes, so a request cannot learn which
 * files exist elsewhere, else 404.
 */
static int missing_status(const char *croot, char *cand, int e, char *err,
                          size_t errlen)
{
    char *r;

    while (e == ENOENT || e == ENOTDIR) {
        if (!strip_last(cand))
            return ferr(err, errlen, 403, "path is outside the sandboxes");
        r = realpath(cand, NULL);
        if (r) {
            int in = within(croot, r);

            free(r);
            if (!in)
                return ferr(err, errlen, 403, "path is outside the sandboxes");
            return ferr(err, errlen, 404, "no such file or directory");
        }
        e = errno;
    }
    if (e == ELOOP)
        return ferr(err, errlen, 403, "too many levels of symbolic links");
    if (e == ENOMEM)
        return ferr(err, errlen, 500, "out of memory");
    return errno_status(e, err, errlen);
}

/* files_resolve(), also giving the canonical root (*croot, malloc'ed). */
static int resolve(const char *root, const char *path, char **croot,
                   char **real, char *err, size_t errlen)
{
    char *cand, *r;
    int st = 0;

    *croot = *real = NULL;
    if (path == NULL || *path == '\0')
        return ferr(err, errlen, 400, "no path given");
    if (strlen(path) >= PATH_MAX)
        return ferr(err, errlen, 400, "path is too long");
    while (path[0] == '/' && path[1] == '/')
        path++;
    *croot = realpath(root, NULL);
    if (*croot == NULL) {
        if (errno == ENOENT)
            return ferr(err, errlen, 404, "no sandboxes yet");
        return ferr(err, errlen, 500, "cannot resolve the sandboxes: %s",
                    strerror(errno));
    }
    cand = candidate(root, path);
    if (cand == NULL) {
        st = ferr(err, errlen, 500, "out of memory");
    } else if ((r = realpath(cand, NULL)) == NULL) {
        st = missing_status(*croot, cand, errno, err, errlen);
    } else if (!within(*croot, r)) {
        free(r);
        st = ferr(err, errlen, 403, "path is outside the sandboxes");
    } else {
        *real = r;
    }
    free(cand);
    if (st != 0) {
        free(*croot);
        *croot = NULL;
    }
    return st;
}

int files_resolve(const char *root, const char *path, char **real, char *err,
                  size_t errlen)
{
    char *croot;
    int st = resolve(root, path, &croot, real, err, errlen);

    free(croot);
    return st;
}

/* Opens the last component `name` of a canonical path from dfd. */
static int open_last(int dfd, const char *name, int *fd, struct stat *st,
                     char *err, size_t errlen)
{
    struct stat ls;
    int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

    if (fstatat(dfd, name, &ls, AT_SYMLINK_NOFOLLOW) < 0)
        return errno_status(errno, err, errlen);
    if (S_ISLNK(ls.st_mode))
        return ferr(err, errlen, 403, "the path changed while opening it");
    if (!S_ISREG(ls.st_mode) && !S_ISDIR(ls.st_mode))
        return ferr(err, errlen, 400, "not a regular file or a directory");
    if (S_ISDIR(ls.st_mode))
        flags |= O_DIRECTORY;
    *fd = openat(dfd, name, flags);
    if (*fd < 0)
        return errno_status(errno, err, errlen);
    if (fstat(*fd, st) < 0 || st->st_dev != ls.st_dev ||
        st->st_ino != ls.st_ino) {
        close(*fd);
        *fd = -1;
        return ferr(err, errlen, 403, "the path changed while opening it");
    }
    return 0;
}

/* Opens the canonical path real (within croot) from croot down without
 * following symlinks. */
static int open_beneath(const char *croot, const char *real, int *fd,
                        struct stat *st, char *err, size_t errlen)
{
    char *rel, *comp, *next, *save = NULL;
    int dfd, nfd, rc;

    rel = strdup(real + (strcmp(croot, "/") == 0 ? 0 : strlen(croot)));
    if (rel == NULL)
        return ferr(err, errlen, 500, "out of memory");
    dfd = open(croot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        free(rel);
        return ferr(err, errlen, 500, "cannot open the sandboxes: %s",
                    strerror(errno));
    }
    comp = strtok_r(rel, "/", &save);
    if (comp == NULL) {
        /* The sandboxes directory itself. */
        rc = open_last(dfd, ".", fd, st, err, errlen);
        close(dfd);
        free(rel);
        return rc;
    }
    while ((next = strtok_r(NULL, "/", &save)) != NULL) {
        nfd =
            openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(dfd);
        if (nfd < 0) {
            rc = errno_status(errno, err, errlen);
            free(rel);
            return rc;
        }
        dfd = nfd;
        comp = next;
    }
    rc = open_last(dfd, comp, fd, st, err, errlen);
    close(dfd);
    free(rel);
    return rc;
}

int files_open(const char *root, const char *path, int *fd, struct stat *st,
               char **real, char *err, size_t errlen)
{
    char *croot, *r;
    int rc;

    *fd = -1;
    if (real)
        *real = NULL;
    rc = resolve(root, path, &croot, &r, err, errlen);
    if (rc != 0)
        return rc;
    rc = open_beneath(croot, r, fd, st, err, errlen);
    free(croot);
    if (rc == 0 && real)
        *real = r;
    else
        free(r);
    return rc;
}

/* ---- browse ---- */

void files_mode_string(mode_t mode, char *out)
{
    static const char rwx[] = "rwxrwxrwx";
    char type = '-';
    int i;

    if (S_ISDIR(mode))
        type = 'd';
    else if (S_ISCHR(mode))
        type = 'c';
    else if (S_ISBLK(mode))
        type = 'b';
    else if (S_ISFIFO(mode))
        type = 'p';
    else if (S_ISLNK(mode))
        type = 'l';
    else if (S_ISSOCK(mode))
        type = 's';
    out[0] = type;
    for (i = 0; i < 9; i++)
        out[1 + i] = (mode & (0400 >> i)) ? rwx[i] : '-';
    out[10] = '\0';
}

/* User and group names seen in one listing: most entries share them. */
struct names {
    struct {
        int group;
        unsigned id;
        char name[64];
    } v[16];
    size_t n;
};

static const char *id_name(struct names *c, int group, unsigned id)
{
    char buf[4096];
    const char *found = NULL;
    size_t i;

    for (i = 0; i < c->n; i++)
        if (c->v[i].group == group && c->v[i].id == id)
            return c->v[i].name;
    i = c->n < 16 ? c->n++ : 15; /* a full cache reuses its last slot */
    if (group) {
        struct group g, *gp = NULL;

        if (getgrgid_r((gid_t)id, &g, buf, sizeof(buf), &gp) == 0 && gp)
            found = gp->gr_name;
    } else {
        struct passwd p, *pp = NULL;

        if (getpwuid_r((uid_t)id, &p, buf, sizeof(buf), &pp) == 0 && pp)
            found = pp->pw_name;
    }
    c->v[i].group = group;
    c->v[i].id = id;
    if (found)
        snprintf(c->v[i].name, sizeof(c->v[i].name), "%s", found);
    else
        snprintf(c->v[i].name, sizeof(c->v[i].name), "%u", id);
    return c->v[i].name;
}

/* One entry: /files/browse gives mtime in seconds and mode as text, v1's
 * FileInfo a TimeInfo and the st_mode number. */
static void write_entry(struct agora_jw *w, struct names *names,
                        enum files_style style, const char *path,
                        const struct stat *st)
{
    char mode[11];

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "path", path);
    agora_jw_kint(w, "nlink", (int64_t)st->st_nlink);
    agora_jw_kint(w, "size", (int64_t)st->st_size);
    if (style == FILES_V1) {
        agora_jw_key(w, "mtime");
        agora_jw_obj_open(w);
        agora_jw_kint(w, "nanoseconds",
                      (int64_t)st->st_mtim.tv_sec * 1000000000 +
                          st->st_mtim.tv_nsec);
        agora_jw_obj_close(w);
        agora_jw_kint(w, "mode", (int64_t)st->st_mode);
    } else {
        files_mode_string(st->st_mode, mode);
        agora_jw_kint(w, "mtime", (int64_t)st->st_mtime);
        agora_jw_kstr(w, "mode", mode);
    }
    agora_jw_kstr(w, "uid", id_name(names, 0, (unsigned)st->st_uid));
    agora_jw_kstr(w, "gid", id_name(names, 1, (unsigned)st->st_gid));
    agora_jw_obj_close(w);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory fd (which it takes over), sorted. */
static int read_names(int fd, char ***out, size_t *n, int *truncated, char *err,
                      size_t errlen)
{
    DIR *d = fdopendir(fd);
    struct dirent *e;
    char **v = NULL, **nv;
    size_t cap = 0;

    *n = 0;
    *truncated = 0;
    if (d == NULL) {
        close(fd);
        return errno_status(errno, err, errlen);
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (*n == FILES_BROWSE_MAX) {
            *truncated = 1;
            break;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            nv = realloc(v, cap * sizeof(*v));
            if (nv == NULL)
                goto nomem;
            v = nv;
        }
        if ((v[*n] = strdup(e->d_name)) == NULL)
            goto nomem;
        (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(v, *n, sizeof(*v), cmp_names);
    *out = v;
    return 0;
nomem:
    closedir(d);
    while (*n > 0)
        free(v[--*n]);
    free(v);
    return ferr(err, errlen, 500, "out of memory");
}

/* The stat an entry is listed with: its target's when it is a symlink
 * to something within the sandboxes, else its own. */
static int entry_stat(const char *root, int dfd, const char *dir_real,
                      const char *name, struct stat *st)
{
    char *joined;
    struct stat ts;
    char e[8];
    int fd;

    if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    if (!S_ISLNK(st->st_mode))
        return 0;
    if (asprintf(&joined, "%s/%s", dir_real, name) < 0)
        return 0;
    if (files_open(root, joined, &fd, &ts, NULL, e, sizeof(e)) == 0) {
        *st = ts;
        close(fd);
    }
    free(joined);
    return 0;
}

int files_browse(const char *root, const char *path, struct agora_jw *w,
                 int *truncated, char *err, size_t errlen)
{
    return files_list(root, path, FILES_V0, w, truncated, err, errlen);
}

int files_list(const char *root, const char *path, enum files_style style,
               struct agora_jw *w, int *truncated, char *err, size_t errlen)
{
    struct names names = {.n = 0};
    struct stat st;
    char **v = NULL, *real, *vp;
    size_t n = 0, i, plen;
    int fd, dfd, rc, trunc = 0;

    if (truncated)
        *truncated = 0;
    rc = files_open(root, path, &fd, &st, &real, err, errlen);
    if (rc != 0)
        return rc;
    if (!S_ISDIR(st.st_mode)) {
        close(fd);
        free(real);
        agora_jw_arr_open(w);
        write_entry(w, &names, style, path, &st);
        agora_jw_arr_close(w);
        return 0;
    }
    dfd = dup(fd);
    if (dfd < 0) {
        close(fd);
        free(real);
        return ferr(err, errlen, 500, "cannot list: %s", strerror(errno));
    }
    rc = read_names(fd, &v, &n, &trunc, err, errlen);
    if (rc != 0) {
        close(dfd);
        free(real);
        return rc;
    }
    plen = strlen(path);
    while (plen > 1 && path[plen - 1] == '/')
        plen--;
    agora_jw_arr_open(w);
    for (i = 0; i < n; i++) {
        if (entry_stat(root, dfd, real, v[i], &st) == 0 &&
            asprintf(&vp, "%.*s%s%s", (int)plen, path,
                     path[plen - 1] == '/' ? "" : "/", v[i]) >= 0) {
            write_entry(w, &names, style, vp, &st);
            free(vp);
        }
        free(v[i]);
    }
    agora_jw_arr_close(w);
    free(v);
    close(dfd);
    free(real);
    if (truncated)
        *truncated = trunc;
    return 0;
}

/* ---- read ---- */

size_t files_utf8_clean(const unsigned char *in, size_t n, char *out,
                        size_t *used)
{
    static const char repl[] = "\xEF\xBF\xBD";
    size_t i = 0, o = 0, need, j;
    unsigned char c, lo, hi;

    while (i < n) {
        c = in[i];
        if (c < 0x80) {
            out[o++] = (char)c;
            i++;
            continue;
        }
        need = 0;
        lo = 0x80;
        hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* no overlong forms */
            else if (c == 0xED)
                hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F; /* nothing over U+10FFFF */
        }
        for (j = 1; need > 0 && j <= need && i + j < n; j++) {
            unsigned char b = in[i + j];

            if (b < (j == 1 ? lo : 0x80) || b > (j == 1 ? hi : 0xBF))
                break;
        }
        if (need > 0 && j > need) {
            memcpy(out + o, in + i, need + 1);
            o += need + 1;
            i += need + 1;
            continue;
        }
        if (need > 0 && i + j == n && o > 0)
            break; /* a character cut at the end: left for the next read */
        memcpy(out + o, repl, 3);
        o += 3;
        i++;
    }
    *used = i;
    return o;
}

int files_read_raw(const char *root, const char *path, int64_t offset,
                   size_t max, unsigned char **buf, size_t *n,
                   uint64_t *size, char *err, size_t errlen)
{
    struct stat st;
    ssize_t got;
    size_t want;
    int fd, rc;

    *buf = NULL;
    *n = 0;
    if (offset < -1)
        return ferr(err, errlen, 400, "offset must be -1 or more");
    rc = files_open(root, path, &fd, &st, NULL, err, errlen);
    if (rc != 0)
        return rc;
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return ferr(err, errlen, 400, "cannot read a directory");
    }
    *size = (uint64_t)st.st_size;
    if (offset == -1 || offset >= (int64_t)st.st_size) {
        close(fd);
        return 0;
    }
    want = (size_t)((int64_t)st.st_size - offset);
    if (want > max)
        want = max;
    if ((*buf = malloc(want ? want : 1)) == NULL) {
        close(fd);
        return ferr(err, errlen, 500, "out of memory");
    }
    got = fs_read_full(fd, *buf, want, (off_t)offset);
    close(fd);
    if (got < 0) {
        rc = ferr(err, errlen, 500, "cannot read: %s", strerror(errno));
        free(*buf);
        *buf = NULL;
        return rc;
    }
    *n = (size_t)got;
    return 0;
}

int files_read(const char *root, const char *path, int64_t offset,
               int64_t length, struct agora_jw *w, char *err, size_t errlen)
{
    unsigned char *buf;
    uint64_t size = 0;
    size_t n, tlen, used, max = FILES_READ_MAX;
    char *text;
    int rc;

    if (length < -1)
        return ferr(err, errlen, 400, "length must be -1 or more");
    if (length >= 0 && (uint64_t)length < max)
        max = (size_t)length;
    rc = files_read_raw(root, path, offset, max, &buf, &n, &size, err, errlen);
    if (rc != 0)
        return rc;
    if (buf == NULL) {
        /* At or past the end: the size, as the Mesos UI tails a file. */
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "data", "");
        agora_jw_kint(w, "offset", (int64_t)size);
        agora_jw_obj_close(w);
        return 0;
    }
    if ((text = malloc(3 * n + 1)) == NULL) {
        free(buf);
        return ferr(err, errlen, 500, "out of memory");
    }
    tlen = files_utf8_clean(buf, n, text, &used);
    agora_jw_obj_open(w);
    agora_jw_key(w, "data");
    agora_jw_strn(w, text, tlen);
    agora_jw_kint(w, "offset", offset);
    agora_jw_obj_close(w);
    free(buf);
    free(text);
    return 0;
}
