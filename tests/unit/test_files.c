/*
 * test_files.c - /files paths stay within the sandboxes (agent/files.c):
 * the virtual and the real form, `..`, absolute paths, symlinks out and
 * in, the "/x/sandboxesX" prefix trick, trailing slashes, empty and odd
 * paths; then browse and read over the same tree, and the UTF-8 cleaning
 * of read data.
 *
 * The tree, under a fresh temporary directory B:
 *   B/secret                          outside
 *   B/sandboxesX/t1/stdout            outside, shares the prefix
 *   B/root_link -> sandboxes          the sandboxes through a symlink
 *   B/sandboxes/t1/stdout             "hello\n"
 *   B/sandboxes/t1/sub/deep/file.txt
 *   B/sandboxes/t1/out_abs -> /etc
 *   B/sandboxes/t1/out_rel -> ../../secret
 *   B/sandboxes/t1/out_dir -> ..  (the sandboxes root: inside)
 *   B/sandboxes/t1/in_rel -> ../t2/stdout
 *   B/sandboxes/t1/in_abs -> B/sandboxes/t2
 *   B/sandboxes/t1/fifo               a FIFO
 *   B/sandboxes/t2/stdout             "second\n"
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <agora/json.h>

#include "files.h"

static char base[256];      /* canonical; short, under /tmp */
static char root[PATH_MAX]; /* base/sandboxes */

static void put(const char *rel, const char *text)
{
    char p[PATH_MAX];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", base, rel);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void dir(const char *rel)
{
    char p[PATH_MAX];

    snprintf(p, sizeof(p), "%s/%s", base, rel);
    ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void link_to(const char *target, const char *rel)
{
    char p[PATH_MAX];

    snprintf(p, sizeof(p), "%s/%s", base, rel);
    ck_assert_int_eq(symlink(target, p), 0);
}

static void setup(void)
{
    char tmpl[] = "/tmp/agora-files-XXXXXX", *r, abs_in[PATH_MAX + 16];

    umask(022);
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    r = realpath(tmpl, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_lt(strlen(r), sizeof(base));
    snprintf(base, sizeof(base), "%s", r);
    free(r);
    snprintf(root, sizeof(root), "%s/sandboxes", base);
    put("secret", "top secret\n");
    dir("sandboxesX");
    dir("sandboxesX/t1");
    put("sandboxesX/t1/stdout", "wrong sandbox\n");
    link_to("sandboxes", "root_link");
    dir("sandboxes");
    dir("sandboxes/t1");
    dir("sandboxes/t2");
    put("sandboxes/t1/stdout", "hello\n");
    put("sandboxes/t2/stdout", "second\n");
    dir("sandboxes/t1/sub");
    dir("sandboxes/t1/sub/deep");
    put("sandboxes/t1/sub/deep/file.txt", "deep\n");
    link_to("/etc", "sandboxes/t1/out_abs");
    link_to("../../secret", "sandboxes/t1/out_rel");
    link_to("..", "sandboxes/t1/out_dir");
    link_to("../t2/stdout", "sandboxes/t1/in_rel");
    snprintf(abs_in, sizeof(abs_in), "%s/t2", root);
    link_to(abs_in, "sandboxes/t1/in_abs");
    snprintf(abs_in, sizeof(abs_in), "%s/sandboxes/t1/fifo", base);
    ck_assert_int_eq(mkfifo(abs_in, 0644), 0);
}

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* files_resolve(root, path): the status, and the real path when 0. */
static int res(const char *path, char *real, size_t len)
{
    char err[256], *r = NULL;
    int st = files_resolve(root, path, &r, err, sizeof(err));

    if (st == 0) {
        ck_assert_ptr_nonnull(r);
        if (real)
            snprintf(real, len, "%s", r);
    } else {
        ck_assert_ptr_null(r);
        ck_assert_msg(err[0] != '\0', "no reason for %d", st);
    }
    free(r);
    return st;
}

/* A path under base (for the real-path forms). */
static const char *at(const char *rel)
{
    static char p[4][PATH_MAX + 64];
    static int i;

    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", base, rel);
    return p[i];
}

START_TEST(normal_files)
{
    char real[PATH_MAX];

    ck_assert_int_eq(res("/sandboxes/t1/stdout", real, sizeof(real)), 0);
    ck_assert_str_eq(real, at("sandboxes/t1/stdout"));
    /* The real path, as /state gives a task's directory. */
    ck_assert_int_eq(res(at("sandboxes/t1/stdout"), real, sizeof(real)), 0);
    ck_assert_str_eq(real, at("sandboxes/t1/stdout"));
    ck_assert_int_eq(res("/sandboxes/t1/sub/deep/file.txt", real, sizeof(real)),
                     0);
    ck_assert_str_eq(real, at("sandboxes/t1/sub/deep/file.txt"));
    ck_assert_int_eq(res("/sandboxes/t1/sub", real, sizeof(real)), 0);
    ck_assert_str_eq(real, at("sandboxes/t1/sub"));
    /* The sandboxes directory itself lists every sandbox. */
    ck_assert_int_eq(res("/sandboxes", real, sizeof(real)), 0);
    ck_assert_str_eq(real, root);
    ck_assert_int_eq(res(root, real, sizeof(real)), 0);
    ck_assert_str_eq(real, root);
}
END_TEST

START_TEST(dotdot)
{
    char real[PATH_MAX];

    /* `..` that stays within the sandboxes is fine. */
    ck_assert_int_eq(res("/sandboxes/t1/sub/../stdout", real, sizeof(real)), 0);
    ck_assert_str_eq(real, at("sandboxes/t1/stdout"));
    ck_assert_int_eq(res("/sandboxes/t1/../t2/stdout", real, sizeof(real)), 0);
    ck_assert_str_eq(real, at("sandboxes/t2/stdout"));
    /* Leaving them is not, whether the target exists or not. */
    ck_assert_int_eq(res("/sandboxes/..", NULL, 0), 403);
    ck_assert_int_eq(res("/sandboxes/../secret", NULL, 0), 403);
    ck_assert_int_eq(res("/sandboxes/t1/../../secret", NULL, 0), 403);
    ck_assert_int_eq(res("/sandboxes/t1/sub/deep/../../../../secret", NULL, 0),
                     403);
    ck_assert_int_eq(res("/sandboxes/../../../../../../etc/passwd", NULL, 0),
                     403);
    ck_assert_int_eq(res("/sandboxes/../nonexistent", NULL, 0), 403);
    ck_assert_int_eq(res("/sandboxes/t1/../../nonexistent/deeper", NULL, 0),
                     403);
    ck_assert_int_eq(res(at("sandboxes/t1/../../secret"), NULL, 0), 403);
    ck_assert_int_eq(res("../../etc/passwd", NULL, 0), 403);
    ck_assert_int_eq(res("..", NULL, 0), 403);
}
END_TEST

START_TEST(absolute_outside)
{
    ck_assert_int_eq(res("/etc/passwd", NULL, 0), 403);
    ck_assert_int_eq(res("/", NULL, 0), 403);
    ck_assert_int_eq(res(at("secret"), NULL, 0), 403);
    ck_assert_int_eq(res(base, NULL, 0), 403);
    /* Missing outside is 403 too: no probing what exists elsewhere. */
    ck_assert_int_eq(res("/etc/agora-no-such-file", NULL, 0), 403);
    ck_assert_int_eq(res("/no-such-dir/x/y", NULL, 0), 403);
    /* A relative path is relative to the agent's cwd. */
    ck_assert_int_eq(res("etc/passwd", NULL, 0), 403);
}
END_TEST

START_TEST(symlinks)
{
    char real[PATH_MAX];

    ck_assert_int_eq(res("/sandboxes/t1/out_abs", NULL, 0), 403);
    ck_assert_int_eq(res("/sandboxes/t1/out_abs/passwd", NULL, 0), 403);
    ck_assert_int_eq(res("/sandboxes/t1/out_abs/agora-nope", NULL, 0), 403);
    ck_assert_int_eq(res("/sandboxes/t1/out_rel", NULL, 0), 403);
    ck_assert_int_eq(res(at("sandboxes/t1/out_rel"), NULL, 0), 403);
    /* Symlinks that stay within are followed, relative or absolute. */
    ck_assert_int_eq(res("/sandboxes/t1/in_rel", real, sizeof(real)), 0);
    ck_assert_str_eq(real, at("sandboxes/t2/stdout"));
    ck_assert_int_eq(res("/sandboxes/t1/in_abs/stdout", real, sizeof(real)), 0);
    ck_assert_str_eq(real, at("sandboxes/t2/stdout"));
    ck_assert_int_eq(res("/sandboxes/t1/out_dir/t2/stdout", real, sizeof(real)),
                     0);
    ck_assert_str_eq(real, at("sandboxes/t2/stdout"));
    /* ... but `..` after one is physical: out_dir is the sandboxes. */
    ck_assert_int_eq(res("/sandboxes/t1/out_dir/../secret", NULL, 0), 403);
    ck_assert_int_eq(res("/sandboxes/t1/in_abs/../../secret", NULL, 0), 403);
}
END_TEST

START_TEST(prefix_trick)
{
    ck_assert_int_eq(res(at("sandboxesX/t1/stdout"), NULL, 0), 403);
    ck_assert_int_eq(res(at("sandboxesX"), NULL, 0), 403);
    ck_assert_int_eq(res(at("sandboxesX/nope"), NULL, 0), 403);
    /* Not the virtual root either. */
    ck_assert_int_eq(res("/sandboxesX/t1/stdout", NULL, 0), 403);
    ck_assert_int_eq(res("/sandboxes/../sandboxesX/t1/stdout", NULL, 0), 403);
}
END_TEST

START_TEST(slashes)
{
    char real[PATH_MAX];

    ck_assert_int_eq(res("/sandboxes/", real, sizeof(real)), 0);
    ck_assert_str_eq(real, root);
    ck_assert_int_eq(res("/sandboxes/t1/", real, sizeof(real)), 0);
    ck_assert_str_eq(real, at("sandboxes/t1"));
    ck_assert_int_eq(res("//sandboxes//t1///sub//", real, sizeof(real)), 0);
    ck_assert_str_eq(real, at("sandboxes/t1/sub"));
    ck_assert_int_eq(res("/sandboxes/./t1/./stdout", real, sizeof(real)), 0);
    ck_assert_str_eq(real, at("sandboxes/t1/stdout"));
    /* A file is not a directory. */
    ck_assert_int_eq(res("/sandboxes/t1/stdout/", NULL, 0), 404);
    ck_assert_int_eq(res("/sandboxes/t1/stdout/x", NULL, 0), 404);
}
END_TEST

START_TEST(empty_missing_odd)
{
    char err[64], *r = (char *)1;
    char *longp;

    ck_assert_int_eq(files_resolve(root, NULL, &r, err, sizeof(err)), 400);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(res("", NULL, 0), 400);
    ck_assert_int_eq(res("/sandboxes/t1/nope", NULL, 0), 404);
    ck_assert_int_eq(res("/sandboxes/nope/deeper/still", NULL, 0), 404);
    /* The HTTP layer decodes once; a still-encoded `..` is a name. */
    ck_assert_int_eq(res("/sandboxes/t1/%2e%2e/%2e%2e/secret", NULL, 0), 404);
    ck_assert_int_eq(res("/sandboxes/t1/..%2f..%2fsecret", NULL, 0), 404);
    ck_assert_int_eq(res("/sandboxes/t1/std\nout", NULL, 0), 404);
    /* A decoded %00 ends the C string: what follows is never seen. */
    ck_assert_int_eq(res("/sandboxes/t1/stdout\0/../../../secret", NULL, 0), 0);
    longp = malloc(PATH_MAX + 10);
    memset(longp, 'a', PATH_MAX + 9);
    longp[0] = '/';
    longp[PATH_MAX + 9] = '\0';
    ck_assert_int_eq(res(longp, NULL, 0), 400);
    free(longp);
}
END_TEST

START_TEST(root_forms)
{
    char err[128], *r = NULL, lroot[PATH_MAX + 16];

    /* The sandboxes through a symlink: both spellings resolve. */
    snprintf(lroot, sizeof(lroot), "%s/root_link", base);
    ck_assert_int_eq(
        files_resolve(lroot, "/sandboxes/t1/stdout", &r, err, sizeof(err)), 0);
    ck_assert_str_eq(r, at("sandboxes/t1/stdout"));
    free(r);
    ck_assert_int_eq(
        files_resolve(lroot, at("root_link/t1/stdout"), &r, err, sizeof(err)),
        0);
    free(r);
    ck_assert_int_eq(
        files_resolve(lroot, at("sandboxes/t1/stdout"), &r, err, sizeof(err)),
        0);
    free(r);
    ck_assert_int_eq(
        files_resolve(lroot, at("sandboxesX/t1/stdout"), &r, err, sizeof(err)),
        403);
    /* A relative work_dir: paths relative to the cwd work as well. */
    ck_assert_int_eq(chdir(base), 0);
    ck_assert_int_eq(files_resolve("sandboxes", "/sandboxes/t1/stdout", &r, err,
                                   sizeof(err)),
                     0);
    ck_assert_str_eq(r, at("sandboxes/t1/stdout"));
    free(r);
    ck_assert_int_eq(
        files_resolve("sandboxes", "sandboxes/t1/stdout", &r, err, sizeof(err)),
        0);
    free(r);
    ck_assert_int_eq(files_resolve("sandboxes", "sandboxesX/t1/stdout", &r, err,
                                   sizeof(err)),
                     403);
    ck_assert_int_eq(files_resolve("sandboxes", "secret", &r, err, sizeof(err)),
                     403);
    /* No sandboxes yet: nothing to find. */
    ck_assert_int_eq(
        files_resolve(at("nowhere"), "/sandboxes/t1", &r, err, sizeof(err)),
        404);
    ck_assert_ptr_null(r);
}
END_TEST

START_TEST(open_kinds)
{
    char err[128], buf[16], *real = NULL;
    struct stat st;
    int fd;

    ck_assert_int_eq(files_open(root, "/sandboxes/t1/stdout", &fd, &st, &real,
                                err, sizeof(err)),
                     0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_str_eq(real, at("sandboxes/t1/stdout"));
    ck_assert_int_eq(read(fd, buf, sizeof(buf)), 6);
    close(fd);
    free(real);
    ck_assert_int_eq(files_open(root, "/sandboxes/t1/in_rel", &fd, &st, NULL,
                                err, sizeof(err)),
                     0);
    ck_assert_int_eq(read(fd, buf, sizeof(buf)), 7);
    close(fd);
    ck_assert_int_eq(
        files_open(root, "/sandboxes/t1", &fd, &st, NULL, err, sizeof(err)), 0);
    ck_assert(S_ISDIR(st.st_mode));
    close(fd);
    ck_assert_int_eq(
        files_open(root, "/sandboxes", &fd, &st, NULL, err, sizeof(err)), 0);
    ck_assert(S_ISDIR(st.st_mode));
    close(fd);
    /* A FIFO would block a reader: refused without being opened. */
    ck_assert_int_eq(files_open(root, "/sandboxes/t1/fifo", &fd, &st, NULL, err,
                                sizeof(err)),
                     400);
    ck_assert_int_eq(fd, -1);
    ck_assert_int_eq(files_open(root, "/sandboxes/t1/out_rel", &fd, &st, NULL,
                                err, sizeof(err)),
                     403);
    ck_assert_int_eq(fd, -1);
}
END_TEST

/* Swaps sandboxes/t1/d (a directory) with sandboxes/t1/e (a symlink to
 * B/outside), and sandboxes/t1/g (a file) with sandboxes/t1/h (a symlink
 * to B/outside/f), back and forth until told to stop. */
static volatile int racing;

static void *swapper(void *arg)
{
    char d[PATH_MAX], e[PATH_MAX], g[PATH_MAX], h[PATH_MAX];

    (void)arg;
    snprintf(d, sizeof(d), "%s/sandboxes/t1/d", base);
    snprintf(e, sizeof(e), "%s/sandboxes/t1/e", base);
    snprintf(g, sizeof(g), "%s/sandboxes/t1/g", base);
    snprintf(h, sizeof(h), "%s/sandboxes/t1/h", base);
    while (racing) {
        syscall(SYS_renameat2, AT_FDCWD, d, AT_FDCWD, e, RENAME_EXCHANGE);
        syscall(SYS_renameat2, AT_FDCWD, g, AT_FDCWD, h, RENAME_EXCHANGE);
    }
    return NULL;
}

START_TEST(swap_race)
{
    char abs_out[PATH_MAX + 16], err[128], buf[32];
    struct stat st;
    pthread_t th;
    int i, fd, opened = 0, refused = 0;
    ssize_t n;

    dir("outside");
    put("outside/f", "secret");
    dir("sandboxes/t1/d");
    put("sandboxes/t1/d/f", "inside");
    snprintf(abs_out, sizeof(abs_out), "%s/outside", base);
    link_to(abs_out, "sandboxes/t1/e");
    put("sandboxes/t1/g", "inside");
    snprintf(abs_out, sizeof(abs_out), "%s/outside/f", base);
    link_to(abs_out, "sandboxes/t1/h");
    racing = 1;
    ck_assert_int_eq(pthread_create(&th, NULL, swapper, NULL), 0);
    /* Whatever the interleaving, nothing outside is ever opened. */
    for (i = 0; i < 20000; i++) {
        const char *p = i % 2 ? "/sandboxes/t1/d/f" : "/sandboxes/t1/g";

        if (files_open(root, p, &fd, &st, NULL, err, sizeof(err)) != 0) {
            refused++;
            continue;
        }
        opened++;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        ck_assert_int_ge(n, 0);
        buf[n] = '\0';
        ck_assert_str_eq(buf, "inside");
    }
    racing = 0;
    pthread_join(th, NULL);
    ck_assert_int_gt(opened + refused, 0);
}
END_TEST

/* Runs a writer-filling call and parses what it wrote. */
static yajl_val parsed(struct agora_jw *w)
{
    char perr[128];
    const char *doc = agora_jw_result(w, NULL);
    yajl_val v;

    ck_assert_ptr_nonnull(doc);
    v = agora_json_parse(doc, perr, sizeof(perr));
    ck_assert_msg(v != NULL, "bad JSON: %s: %s", perr, doc);
    return v;
}

static yajl_val entry(yajl_val arr, const char *path)
{
    size_t i;
    const char *p;

    for (i = 0; i < arr->u.array.len; i++)
        if (agora_json_str(arr->u.array.values[i], "path", &p) == 0 &&
            strcmp(p, path) == 0)
            return arr->u.array.values[i];
    return NULL;
}

START_TEST(browse)
{
    static const char *names[] = {"fifo",    "in_abs",  "in_rel", "out_abs",
                                  "out_dir", "out_rel", "stdout", "sub"};
    struct agora_jw *w = agora_jw_new();
    char err[128], want[64];
    const char *s;
    yajl_val v, e;
    int64_t n;
    size_t i;
    int trunc = -1;

    ck_assert_int_eq(
        files_browse(root, "/sandboxes/t1/", w, &trunc, err, sizeof(err)), 0);
    ck_assert_int_eq(trunc, 0);
    v = parsed(w);
    ck_assert(YAJL_IS_ARRAY(v));
    ck_assert_uint_eq(v->u.array.len, 8);
    for (i = 0; i < 8; i++) {
        snprintf(want, sizeof(want), "/sandboxes/t1/%s", names[i]);
        ck_assert_int_eq(agora_json_str(v->u.array.values[i], "path", &s), 0);
        ck_assert_str_eq(s, want);
    }
    e = entry(v, "/sandboxes/t1/stdout");
    ck_assert_int_eq(agora_json_int(e, "size", &n), 0);
    ck_assert_int_eq(n, 6);
    ck_assert_int_eq(agora_json_int(e, "nlink", &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(agora_json_int(e, "mtime", &n), 0);
    ck_assert(n > 1000000000);
    ck_assert_int_eq(agora_json_str(e, "mode", &s), 0);
    ck_assert_str_eq(s, "-rw-r--r--");
    ck_assert_int_eq(agora_json_str(e, "uid", &s), 0);
    ck_assert(s[0] != '\0');
    ck_assert_int_eq(agora_json_str(e, "gid", &s), 0);
    ck_assert(s[0] != '\0');
    ck_assert_int_eq(agora_json_str(entry(v, "/sandboxes/t1/sub"), "mode", &s),
                     0);
    ck_assert_str_eq(s, "drwxr-xr-x");
    ck_assert_int_eq(agora_json_str(entry(v, "/sandboxes/t1/fifo"), "mode", &s),
                     0);
    ck_assert_str_eq(s, "prw-r--r--");
    /* A link within shows its target; one outside only itself. */
    e = entry(v, "/sandboxes/t1/in_rel");
    ck_assert_int_eq(agora_json_str(e, "mode", &s), 0);
    ck_assert_str_eq(s, "-rw-r--r--");
    ck_assert_int_eq(agora_json_int(e, "size", &n), 0);
    ck_assert_int_eq(n, 7);
    ck_assert_int_eq(
        agora_json_str(entry(v, "/sandboxes/t1/in_abs"), "mode", &s), 0);
    ck_assert_str_eq(s, "drwxr-xr-x");
    ck_assert_int_eq(
        agora_json_str(entry(v, "/sandboxes/t1/out_abs"), "mode", &s), 0);
    ck_assert_int_eq(s[0], 'l');
    ck_assert_int_eq(
        agora_json_str(entry(v, "/sandboxes/t1/out_rel"), "mode", &s), 0);
    ck_assert_int_eq(s[0], 'l');
    yajl_tree_free(v);
    agora_jw_free(w);

    /* Paths keep the form they were asked in. */
    w = agora_jw_new();
    ck_assert_int_eq(
        files_browse(root, at("sandboxes/t1/sub"), w, NULL, err, sizeof(err)),
        0);
    v = parsed(w);
    ck_assert_uint_eq(v->u.array.len, 1);
    ck_assert_ptr_nonnull(entry(v, at("sandboxes/t1/sub/deep")));
    yajl_tree_free(v);
    agora_jw_free(w);

    /* A file lists as itself. */
    w = agora_jw_new();
    ck_assert_int_eq(
        files_browse(root, "/sandboxes/t2/stdout", w, NULL, err, sizeof(err)),
        0);
    v = parsed(w);
    ck_assert_uint_eq(v->u.array.len, 1);
    ck_assert_ptr_nonnull(entry(v, "/sandboxes/t2/stdout"));
    yajl_tree_free(v);
    agora_jw_free(w);

    /* Refusals leave the writer empty. */
    w = agora_jw_new();
    ck_assert_int_eq(
        files_browse(root, "/sandboxes/t1/out_abs", w, NULL, err, sizeof(err)),
        403);
    ck_assert_int_eq(
        files_browse(root, "/sandboxes/../", w, NULL, err, sizeof(err)), 403);
    ck_assert_int_eq(
        files_browse(root, "/sandboxes/t9", w, NULL, err, sizeof(err)), 404);
    ck_assert_int_eq(files_browse(root, "", w, NULL, err, sizeof(err)), 400);
    agora_jw_free(w);
}
END_TEST

/* v1's LIST_FILES entries: mtime a TimeInfo, mode the st_mode number. */
START_TEST(list_v1)
{
    struct agora_jw *w = agora_jw_new();
    char err[128], p[PATH_MAX + 32];
    struct stat st;
    yajl_val v, e;
    int64_t n;

    ck_assert_int_eq(files_list(root, "/sandboxes/t1", FILES_V1, w, NULL, err,
                                sizeof(err)),
                     0);
    v = parsed(w);
    ck_assert_uint_eq(v->u.array.len, 8);
    e = entry(v, "/sandboxes/t1/stdout");
    snprintf(p, sizeof(p), "%s/t1/stdout", root);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(agora_json_int(e, "mode", &n), 0);
    ck_assert_int_eq(n, (int64_t)st.st_mode);
    ck_assert_int_eq(agora_json_int(agora_json_get(e, "mtime"), "nanoseconds",
                                    &n),
                     0);
    ck_assert_int_eq(n, (int64_t)st.st_mtim.tv_sec * 1000000000 +
                            st.st_mtim.tv_nsec);
    ck_assert_int_eq(agora_json_int(e, "size", &n), 0);
    ck_assert_int_eq(n, 6);
    ck_assert_int_eq(agora_json_int(entry(v, "/sandboxes/t1/sub"), "mode", &n),
                     0);
    ck_assert(S_ISDIR(n));
    ck_assert_int_eq(
        agora_json_int(entry(v, "/sandboxes/t1/out_abs"), "mode", &n), 0);
    ck_assert(S_ISLNK(n));
    yajl_tree_free(v);
    agora_jw_free(w);
}
END_TEST

/* The raw bytes READ_FILE sends: the same checks as files_read. */
START_TEST(read_raw)
{
    unsigned char *buf;
    uint64_t size = 0;
    size_t n;
    char err[128];

    ck_assert_int_eq(files_read_raw(root, "/sandboxes/t1/stdout", 2, 3, &buf,
                                    &n, &size, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(size, 6);
    ck_assert_int_eq(memcmp(buf, "llo", 3), 0);
    free(buf);
    /* At or past the end: nothing, and the size. */
    size = 0;
    ck_assert_int_eq(files_read_raw(root, "/sandboxes/t1/stdout", 6, 10, &buf,
                                    &n, &size, err, sizeof(err)),
                     0);
    ck_assert_ptr_null(buf);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(size, 6);
    ck_assert_int_eq(files_read_raw(root, "/sandboxes/t1/stdout", 0, 100, &buf,
                                    &n, &size, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(n, 6);
    free(buf);
    ck_assert_int_eq(files_read_raw(root, "/sandboxes/t1", 0, 10, &buf, &n,
                                    &size, err, sizeof(err)),
                     400);
    ck_assert_ptr_null(buf);
    ck_assert_int_eq(files_read_raw(root, "/sandboxes/t1/out_rel", 0, 10, &buf,
                                    &n, &size, err, sizeof(err)),
                     403);
    ck_assert_int_eq(files_read_raw(root, "/sandboxes/t1/nope", 0, 10, &buf,
                                    &n, &size, err, sizeof(err)),
                     404);
    ck_assert_int_eq(files_read_raw(root, "/sandboxes/t1/stdout", -2, 10, &buf,
                                    &n, &size, err, sizeof(err)),
                     400);
}
END_TEST

/* files_read into a fresh writer; returns the status, and data/offset. */
static int rd(const char *path, int64_t off, int64_t len, char **data,
              size_t *dlen, int64_t *out_off)
{
    struct agora_jw *w = agora_jw_new();
    char err[128];
    yajl_val v, d;
    int st = files_read(root, path, off, len, w, err, sizeof(err));

    if (st == 0) {
        v = parsed(w);
        d = agora_json_get(v, "data");
        ck_assert(YAJL_IS_STRING(d));
        *dlen = strlen(d->u.string);
        *data = strdup(d->u.string);
        ck_assert_int_eq(agora_json_int(v, "offset", out_off), 0);
        yajl_tree_free(v);
    }
    agora_jw_free(w);
    return st;
}

START_TEST(read_pieces)
{
    char *d;
    size_t n;
    int64_t off;

    ck_assert_int_eq(rd("/sandboxes/t1/stdout", 0, -1, &d, &n, &off), 0);
    ck_assert_str_eq(d, "hello\n");
    ck_assert_int_eq(off, 0);
    free(d);
    ck_assert_int_eq(rd("/sandboxes/t1/stdout", 2, 3, &d, &n, &off), 0);
    ck_assert_str_eq(d, "llo");
    ck_assert_int_eq(off, 2);
    free(d);
    ck_assert_int_eq(rd("/sandboxes/t1/stdout", 0, 0, &d, &n, &off), 0);
    ck_assert_str_eq(d, "");
    free(d);
    /* -1 and past the end: no data, the size, to tail from. */
    ck_assert_int_eq(rd("/sandboxes/t1/stdout", -1, -1, &d, &n, &off), 0);
    ck_assert_str_eq(d, "");
    ck_assert_int_eq(off, 6);
    free(d);
    ck_assert_int_eq(rd("/sandboxes/t1/stdout", 600, 5, &d, &n, &off), 0);
    ck_assert_str_eq(d, "");
    ck_assert_int_eq(off, 6);
    free(d);
    ck_assert_int_eq(rd("/sandboxes/t1/in_rel", 0, 100, &d, &n, &off), 0);
    ck_assert_str_eq(d, "second\n");
    free(d);
    ck_assert_int_eq(rd("/sandboxes/t1", 0, 10, &d, &n, &off), 400);
    ck_assert_int_eq(rd("/sandboxes/t1/stdout", -2, 10, &d, &n, &off), 400);
    ck_assert_int_eq(rd("/sandboxes/t1/stdout", 0, -2, &d, &n, &off), 400);
    ck_assert_int_eq(rd("/sandboxes/t1/fifo", 0, 10, &d, &n, &off), 400);
    ck_assert_int_eq(rd("/sandboxes/t1/out_rel", 0, 10, &d, &n, &off), 403);
    ck_assert_int_eq(rd("/sandboxes/t1/nope", 0, 10, &d, &n, &off), 404);
}
END_TEST

START_TEST(read_bounded_and_binary)
{
    char p[PATH_MAX + 32], *d;
    size_t n;
    int64_t off;
    FILE *f;
    int i;

    /* Bigger than FILES_READ_MAX: one read returns the maximum. */
    snprintf(p, sizeof(p), "%s/t1/big", root);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    for (i = 0; i < FILES_READ_MAX + 5000; i++)
        fputc('a' + i % 26, f);
    fclose(f);
    ck_assert_int_eq(rd("/sandboxes/t1/big", 0, -1, &d, &n, &off), 0);
    ck_assert_uint_eq(n, FILES_READ_MAX);
    free(d);
    ck_assert_int_eq(rd("/sandboxes/t1/big", 10, 100000000, &d, &n, &off), 0);
    ck_assert_uint_eq(n, FILES_READ_MAX);
    ck_assert_int_eq(d[0], 'k');
    free(d);
    ck_assert_int_eq(rd("/sandboxes/t1/big", FILES_READ_MAX, -1, &d, &n, &off),
                     0);
    ck_assert_uint_eq(n, 5000);
    free(d);

    /* Binary: NUL and control bytes are escaped, bad UTF-8 replaced; the
     * document stays valid JSON. */
    snprintf(p, sizeof(p), "%s/t1/bin", root);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    {
        static const char bin[] = "a\0b\x01\"\\\xff\xc3\xa9z";

        fwrite(bin, 1, sizeof(bin) - 1, f);
    }
    fclose(f);
    ck_assert_int_eq(rd("/sandboxes/t1/bin", 0, -1, &d, &n, &off), 0);
    /* yajl stops the C string at the decoded NUL. */
    ck_assert_str_eq(d, "a");
    free(d);
    ck_assert_int_eq(rd("/sandboxes/t1/bin", 2, -1, &d, &n, &off), 0);
    ck_assert_str_eq(d, "b\x01\"\\\xEF\xBF\xBD\xc3\xa9z");
    free(d);
    /* A character cut by the length waits for the next read. */
    ck_assert_int_eq(rd("/sandboxes/t1/bin", 6, 2, &d, &n, &off), 0);
    ck_assert_str_eq(d, "\xEF\xBF\xBD");
    free(d);
    ck_assert_int_eq(rd("/sandboxes/t1/bin", 7, 2, &d, &n, &off), 0);
    ck_assert_str_eq(d, "\xc3\xa9");
    free(d);
}
END_TEST

static void clean(const char *in, size_t n, const char *want, size_t used)
{
    char out[64];
    size_t u, o;

    o = files_utf8_clean((const unsigned char *)in, n, out, &u);
    out[o] = '\0';
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(u, used);
}

#define FFFD "\xEF\xBF\xBD"

START_TEST(utf8)
{
    clean("", 0, "", 0);
    clean("plain", 5, "plain", 5);
    clean("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
          "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
    /* Cut at the end: held back when something comes before. */
    clean("ab\xe2\x82", 4, "ab", 2);
    clean("ab\xf0\x9f\x98", 5, "ab", 2);
    /* ... and replaced when it is all there is. */
    clean("\xe2\x82", 2, FFFD FFFD, 2);
    /* Invalid bytes, one replacement each. */
    clean("a\xffz", 3, "a" FFFD "z", 3);
    clean("\x80", 1, FFFD, 1);
    clean("\xc0\x80", 2, FFFD FFFD, 2);                   /* overlong NUL */
    clean("\xe0\x80\x80", 3, FFFD FFFD FFFD, 3);          /* overlong */
    clean("\xed\xa0\x80", 3, FFFD FFFD FFFD, 3);          /* a surrogate */
    clean("\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD, 4); /* > U+10FFFF */
    clean("\xf5\x80", 2, FFFD FFFD, 2);
    /* A broken sequence does not swallow the valid byte after it. */
    clean("\xe2\x82z", 3, FFFD FFFD "z", 3);
    clean("x\xc3", 2, "x", 1);
}
END_TEST

START_TEST(mode_strings)
{
    char m[11];

    files_mode_string(S_IFREG | 0644, m);
    ck_assert_str_eq(m, "-rw-r--r--");
    files_mode_string(S_IFDIR | 0755, m);
    ck_assert_str_eq(m, "drwxr-xr-x");
    files_mode_string(S_IFLNK | 0777, m);
    ck_assert_str_eq(m, "lrwxrwxrwx");
    files_mode_string(S_IFREG | 04711, m);
    ck_assert_str_eq(m, "-rwx--x--x");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("files");
    TCase *tc = tcase_create("confinement");
    TCase *tr = tcase_create("contents");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, normal_files);
    tcase_add_test(tc, dotdot);
    tcase_add_test(tc, absolute_outside);
    tcase_add_test(tc, symlinks);
    tcase_add_test(tc, prefix_trick);
    tcase_add_test(tc, slashes);
    tcase_add_test(tc, empty_missing_odd);
    tcase_add_test(tc, root_forms);
    tcase_add_test(tc, open_kinds);
    tcase_add_test(tc, swap_race);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(tr, setup, teardown);
    tcase_add_test(tr, browse);
    tcase_add_test(tr, read_pieces);
    tcase_add_test(tr, list_v1);
    tcase_add_test(tr, read_raw);
    tcase_add_test(tr, read_bounded_and_binary);
    tcase_add_test(tr, utf8);
    tcase_add_test(tr, mode_strings);
    suite_add_tcase(s, tr);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
