/*
 * test_fetch.c - agora-fetcher's pieces (fetcher/fetch.h): names from
 * URIs, their redaction, the extraction decision, path and link safety,
 * the cache's key and LRU eviction, and unpacking and placing files in a
 * real directory with symlinks planted in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <check.h>

#include "fetch.h"

static char tmpdir[256];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/agora-test-fetch-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *path_of(const char *name)
{
    static char buf[4][1024];
    static int i;

    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
    return buf[i];
}

static int open_dir(const char *name)
{
    int fd;

    mkdir(path_of(name), 0750);
    fd = open(path_of(name), O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    return fd;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void ctx_init(struct fetch_ctx *ctx, int sandbox_fd)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->sandbox_fd = sandbox_fd;
    ctx->cache_fd = -1;
    ctx->conf.max_size = 1 << 20;
    ctx->conf.max_total = 1 << 20;
    ctx->conf.cache_size = 1 << 20;
    ctx->conf.stall_timeout = 5;
}

/* ---- names ---- */

START_TEST(name_from_uri)
{
    char out[64];

    ck_assert_int_eq(
        fetch_uri_name("http://h:1/a/b.tar.gz?x=/y#z", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "b.tar.gz");
    ck_assert_int_eq(fetch_uri_name("file:///opt/tool", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "tool");
    ck_assert_int_eq(fetch_uri_name("https://h/x.zip#frag", out, sizeof(out)),
                     0);
    ck_assert_str_eq(out, "x.zip");
    ck_assert_int_eq(fetch_uri_name("http://h/", out, sizeof(out)), -1);
    ck_assert_int_eq(fetch_uri_name("http://h", out, sizeof(out)), -1);
    ck_assert_int_eq(fetch_uri_name("http://h?q=a/b", out, sizeof(out)), -1);
    ck_assert_int_eq(fetch_uri_name("file:///a/..", out, sizeof(out)), -1);
    ck_assert_int_eq(fetch_uri_name("http://h/a/.", out, sizeof(out)), -1);
    ck_assert_int_eq(fetch_uri_name("http://h/averylongname", out, 8), -1);
}
END_TEST

START_TEST(scheme)
{
    ck_assert_str_eq(fetch_uri_scheme("http://h/x"), "http");
    ck_assert_str_eq(fetch_uri_scheme("HTTPS://h/x"), "https");
    ck_assert_str_eq(fetch_uri_scheme("file:///x"), "file");
    ck_assert_ptr_null(fetch_uri_scheme("ftp://h/x"));
    ck_assert_ptr_null(fetch_uri_scheme("/local/path"));
    ck_assert_ptr_null(fetch_uri_scheme("http:/h/x"));
}
END_TEST

START_TEST(redaction)
{
    struct {
        const char *in, *out;
    } cases[] = {
        {"https://u:p@h:1/p?q=s#f", "https://***@h:1/p?***"},
        {"http://h/p", "http://h/p"},
        {"http://h/p@x?", "http://h/p@x?***"},
        {"http://a@b@h/x", "http://***@h/x"},
        {"http://h?tok=1", "http://h?***"},
        {"file:///etc/x#frag", "file:///etc/x"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *r = fetch_uri_redact(cases[i].in);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r, cases[i].out);
        free(r);
    }
}
END_TEST

START_TEST(extraction_decision)
{
    char out[64];

    ck_assert_int_eq(fetch_archive_kind("a.tar"), FETCH_TAR);
    ck_assert_int_eq(fetch_archive_kind("a.tar.gz"), FETCH_TAR);
    ck_assert_int_eq(fetch_archive_kind("a.TGZ"), FETCH_TAR);
    ck_assert_int_eq(fetch_archive_kind("a.tar.bz2"), FETCH_TAR);
    ck_assert_int_eq(fetch_archive_kind("a.tbz2"), FETCH_TAR);
    ck_assert_int_eq(fetch_archive_kind("a.tar.xz"), FETCH_TAR);
    ck_assert_int_eq(fetch_archive_kind("a.txz"), FETCH_TAR);
    ck_assert_int_eq(fetch_archive_kind("a.zip"), FETCH_ZIP);
    ck_assert_int_eq(fetch_archive_kind("a.gz"), FETCH_GZ);
    ck_assert_int_eq(fetch_archive_kind("a.sh"), FETCH_PLAIN);
    ck_assert_int_eq(fetch_archive_kind("tar"), FETCH_PLAIN);
    ck_assert_int_eq(fetch_archive_kind(".gz"), FETCH_PLAIN);
    ck_assert_int_eq(fetch_gz_target("data.json.gz", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "data.json");
    ck_assert_int_eq(fetch_gz_target("data.json", out, sizeof(out)), -1);
}
END_TEST

START_TEST(text_cleaning)
{
    char a[] = "entry '\xff\xfe' \xc3\xa9t\xc3\xa9 \xe2\x82\xac \x01\x7f\n";
    char b[] = "cut \xe2\x82";
    char c[] = "overlong \xc0\xaf \xe0\x80\xaf surrogate \xed\xa0\x80";

    fetch_text_clean(a);
    ck_assert_str_eq(a, "entry '?"
                        "?' \xc3\xa9t\xc3\xa9 \xe2\x82\xac ???");
    fetch_text_clean(b);
    ck_assert_str_eq(b, "cut ??");
    fetch_text_clean(c);
    ck_assert_str_eq(c, "overlong ?? ??? surrogate ???");
}
END_TEST

/* ---- path safety ---- */

START_TEST(paths)
{
    const char *ok[] = {"a", "a/b", "a.b/c..d", "...", "a/.b"};
    const char *bad[] = {"",    "/a", "..",   "a/../b", "a//b",
                         "./a", "a/", "a/..", "a/./b"};
    const char *why;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ck_assert_msg(fetch_path_check(ok[i], &why) == 0, "%s", ok[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        ck_assert_msg(fetch_path_check(bad[i], &why) == -1, "%s", bad[i]);
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

START_TEST(links)
{
    ck_assert_int_eq(fetch_link_check("a/l", "../x"), 0);
    ck_assert_int_eq(fetch_link_check("a/b/l", "../../x"), 0);
    ck_assert_int_eq(fetch_link_check("l", "x/y"), 0);
    ck_assert_int_eq(fetch_link_check("l", "./x"), 0);
    ck_assert_int_eq(fetch_link_check("l", "../x"), -1);
    ck_assert_int_eq(fetch_link_check("a/l", "../../x"), -1);
    ck_assert_int_eq(fetch_link_check("a/l", "x/../../.."), -1);
    ck_assert_int_eq(fetch_link_check("l", "/etc"), -1);
    ck_assert_int_eq(fetch_link_check("l", ""), -1);
}
END_TEST

START_TEST(parent_refuses_planted_symlink)
{
    int sb = open_dir("sb"), fd;
    const char *leaf;

    mkdir(path_of("outside"), 0755);
    ck_assert_int_eq(symlink(path_of("outside"), path_of("sb/d")), 0);
    errno = 0;
    ck_assert_int_eq(fetch_open_parent(sb, "d/x", &leaf), -1);
    ck_assert(errno == ELOOP || errno == ENOTDIR); /* O_DIRECTORY wins */
    fd = fetch_open_parent(sb, "new/deeper/x", &leaf);
    ck_assert_int_ge(fd, 0);
    ck_assert_str_eq(leaf, "x");
    close(fd);
    ck_assert_int_eq(access(path_of("sb/new/deeper"), F_OK), 0);
    close(sb);
}
END_TEST

/* A file:// fetch onto a name that is a planted symlink replaces the
 * link; the file it pointed at is untouched. */
START_TEST(file_fetch_replaces_planted_symlink)
{
    int sb = open_dir("sb");
    struct fetch_ctx ctx;
    struct fetch_item it = {.extract = 1};
    char uri[1100];
    struct stat st;

    write_text(path_of("victim"), "victim\n");
    write_text(path_of("src.txt"), "fetched\n");
    ck_assert_int_eq(symlink(path_of("victim"), path_of("sb/out")), 0);
    ck_assert_int_eq(fetch_get_init(), 0);
    ctx_init(&ctx, sb);
    snprintf(uri, sizeof(uri), "file://%s", path_of("src.txt"));
    it.uri = uri;
    it.output_file = "out";
    ck_assert_msg(fetch_item_run(&ctx, &it) == 0, "%s", ctx.err);
    ck_assert_int_eq(lstat(path_of("sb/out"), &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    ck_assert_int_eq(stat(path_of("victim"), &st), 0);
    ck_assert_int_eq(st.st_size, 7);
    /* executable: 0755 */
    it.output_file = "bin/tool";
    it.executable = 1;
    ck_assert_msg(fetch_item_run(&ctx, &it) == 0, "%s", ctx.err);
    ck_assert_int_eq(stat(path_of("sb/bin/tool"), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0755);
    /* output_file escaping, a missing file, a bad scheme */
    it.output_file = "../escape";
    ck_assert_int_eq(fetch_item_run(&ctx, &it), -1);
    ck_assert_ptr_nonnull(strstr(ctx.err, "'..' component"));
    it.output_file = NULL;
    snprintf(uri, sizeof(uri), "file://%s", path_of("nothing"));
    ck_assert_int_eq(fetch_item_run(&ctx, &it), -1);
    ck_assert_ptr_nonnull(strstr(ctx.err, uri));
    it.uri = "ftp://h/x";
    ck_assert_int_eq(fetch_item_run(&ctx, &it), -1);
    ck_assert_ptr_nonnull(strstr(ctx.err, "unsupported scheme"));
    fetch_get_fini();
    close(sb);
}
END_TEST

/* ---- unpacking ---- */

struct member {
    const char *name;
    const char *data; /* a file's */
    const char *link; /* a symlink's target, or NULL */
};

/* Writes a tar.gz of members to path; returns an open fd on it. */
static int make_tgz(const char *path, const struct member *m, size_t n)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e;

    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        if (m[i].link) {
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, m[i].link);
            archive_entry_set_perm(e, 0777);
        } else {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0755);
            archive_entry_set_size(e, (la_int64_t)strlen(m[i].data));
        }
        archive_write_header(a, e);
        if (!m[i].link)
            archive_write_data(a, m[i].data, strlen(m[i].data));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return open(path, O_RDONLY);
}

static int extract(const struct member *m, size_t n, struct fetch_ctx *ctx,
                   int sb)
{
    int fd = make_tgz(path_of("a.tar.gz"), m, n), rc;
    int cwd = open(".", O_RDONLY | O_DIRECTORY);

    ck_assert_int_ge(fd, 0);
    rc = fetch_extract(ctx, fd, FETCH_TAR, sb, NULL, "a.tar.gz");
    close(fd);
    ck_assert_int_eq(fchdir(cwd), 0);
    close(cwd);
    return rc;
}

START_TEST(unpacks_a_tree)
{
    struct member m[] = {{"app/run.sh", "#!/bin/sh\n", NULL},
                         {"app/lib/x", "x", NULL},
                         {"app/link", NULL, "lib/x"},
                         {"up", NULL, "app/../app/run.sh"}};
    int sb = open_dir("sb");
    struct fetch_ctx ctx;
    struct stat st;

    ctx_init(&ctx, sb);
    ck_assert_msg(extract(m, 4, &ctx, sb) == 0, "%s", ctx.err);
    ck_assert_int_eq(stat(path_of("sb/app/run.sh"), &st), 0);
    ck_assert(st.st_mode & S_IXUSR);
    ck_assert_int_eq(lstat(path_of("sb/app/link"), &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_uint_eq(ctx.total, 11);
    close(sb);
}
END_TEST

START_TEST(refuses_escaping_entries)
{
    struct {
        struct member m;
        const char *why;
    } cases[] = {
        {{"../evil", "e", NULL}, "'..' component"},
        {{"ok/../../evil", "e", NULL}, "'..' component"},
        {{"/tmp/agora-test-fetch-abs-evil", "e", NULL}, "absolute path"},
        {{"l", NULL, "/etc"}, "symlink that leads out"},
        {{"d/l", NULL, "../../x"}, "symlink that leads out"},
    };
    int sb = open_dir("sb");
    struct fetch_ctx ctx;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct member m[2] = {{"fine", "f", NULL}, cases[i].m};
        ctx_init(&ctx, sb);
        ck_assert_int_eq(extract(m, 2, &ctx, sb), -1);
        ck_assert_msg(strstr(ctx.err, cases[i].why) &&
                          strstr(ctx.err, "refused the entry"),
                      "%s: %s", cases[i].m.name, ctx.err);
    }
    ck_assert_int_ne(access(path_of("evil"), F_OK), 0);
    ck_assert_int_ne(access("/tmp/agora-test-fetch-abs-evil", F_OK), 0);
    close(sb);
}
END_TEST

/* An archive writing through a symlink already in the sandbox (planted
 * by an earlier task of the user, or by an earlier entry) is refused by
 * libarchive's SECURE_SYMLINKS; nothing lands outside. */
START_TEST(refuses_writing_through_symlink)
{
    struct member m[] = {{"d/x", "evil", NULL}};
    struct member chain[] = {{"l", NULL, "."}, {"l/y", "evil", NULL}};
    int sb = open_dir("sb");
    struct fetch_ctx ctx;

    mkdir(path_of("outside"), 0755);
    ck_assert_int_eq(symlink(path_of("outside"), path_of("sb/d")), 0);
    ctx_init(&ctx, sb);
    ck_assert_int_eq(extract(m, 1, &ctx, sb), -1);
    ck_assert_int_ne(access(path_of("outside/x"), F_OK), 0);
    ctx_init(&ctx, sb);
    ck_assert_int_eq(extract(chain, 2, &ctx, sb), -1);
    ck_assert_int_ne(access(path_of("sb/y"), F_OK), 0);
    close(sb);
}
END_TEST

START_TEST(bounded_by_max_total)
{
    static char big[4096];
    struct member m[] = {{"big", big, NULL}};
    int sb = open_dir("sb");
    struct fetch_ctx ctx;

    memset(big, 'a', sizeof(big) - 1);
    ctx_init(&ctx, sb);
    ctx.conf.max_total = 1000;
    ck_assert_int_eq(extract(m, 1, &ctx, sb), -1);
    ck_assert_ptr_nonnull(strstr(ctx.err, "more than the limit of 1000"));
    close(sb);
}
END_TEST

/* ---- the cache ---- */

START_TEST(cache_key)
{
    char a[65], b[65], c[65];

    ck_assert_int_eq(fetch_cache_key(1000, "http://h/x", a, sizeof(a)), 0);
    ck_assert_int_eq(fetch_cache_key(1000, "http://h/x", b, sizeof(b)), 0);
    ck_assert_str_eq(a, b);
    ck_assert_uint_eq(strlen(a), 64);
    ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 64);
    ck_assert_int_eq(fetch_cache_key(1001, "http://h/x", c, sizeof(c)), 0);
    ck_assert_str_ne(a, c);
    ck_assert_int_eq(fetch_cache_key(1000, "http://h/y", c, sizeof(c)), 0);
    ck_assert_str_ne(a, c);
    ck_assert_int_eq(fetch_cache_key(1000, "http://h/x", c, 64), -1);
}
END_TEST

/* Three entries of 10 bytes, aged by mtime; a file that is not a key
 * stays whatever its size. */
static void cache_fill3(char keys[3][65])
{
    char path[256];

    for (int i = 0; i < 3; i++) {
        struct timespec ts[2] = {{1000 + i, 0}, {1000 + i, 0}};
        char uri[32];
        snprintf(uri, sizeof(uri), "http://h/%d", i);
        ck_assert_int_eq(fetch_cache_key(0, uri, keys[i], 65), 0);
        snprintf(path, sizeof(path), "cache/%s", keys[i]);
        write_text(path_of(path), "0123456789");
        ck_assert_int_eq(utimensat(AT_FDCWD, path_of(path), ts, 0), 0);
    }
    write_text(path_of("cache/not-a-key"), "a long file that is not a key");
}

static int cache_has(const char *key)
{
    char path[256];

    snprintf(path, sizeof(path), "cache/%s", key);
    return access(path_of(path), F_OK) == 0;
}

START_TEST(cache_eviction_lru)
{
    int dir = open_dir("cache");
    char keys[3][65];

    cache_fill3(keys);
    ck_assert_int_eq(fetch_cache_evict(dir, 30, NULL), 30);
    ck_assert(cache_has(keys[0]) && cache_has(keys[1]) && cache_has(keys[2]));
    ck_assert_int_eq(fetch_cache_evict(dir, 25, NULL), 20);
    ck_assert(!cache_has(keys[0]) && cache_has(keys[1]) && cache_has(keys[2]));
    /* `keep` (the entry just used) goes last even when oldest. */
    ck_assert_int_eq(fetch_cache_evict(dir, 10, keys[1]), 10);
    ck_assert(cache_has(keys[1]) && !cache_has(keys[2]));
    ck_assert_int_eq(fetch_cache_evict(dir, 0, NULL), 0);
    ck_assert(!cache_has(keys[1]));
    ck_assert_int_eq(access(path_of("cache/not-a-key"), F_OK), 0);
    close(dir);
}
END_TEST

/* A cached file:// URI: the first fetch fills the cache, a second one
 * after the source is gone is served from it. */
START_TEST(cache_serves_second_fetch)
{
    int sb = open_dir("sb");
    struct fetch_ctx ctx;
    struct fetch_item it = {.cache = 1};
    char uri[1100];
    struct stat st;

    write_text(path_of("src"), "cached bytes\n");
    ck_assert_int_eq(fetch_get_init(), 0);
    ctx_init(&ctx, sb);
    ctx.cache_fd = open_dir("cache");
    snprintf(uri, sizeof(uri), "file://%s", path_of("src"));
    it.uri = uri;
    it.output_file = "one";
    ck_assert_msg(fetch_item_run(&ctx, &it) == 0, "%s", ctx.err);
    ck_assert_uint_eq(ctx.total, 13); /* counted once, not twice */
    ck_assert_int_eq(unlink(path_of("src")), 0);
    it.output_file = "two";
    ck_assert_msg(fetch_item_run(&ctx, &it) == 0, "%s", ctx.err);
    ck_assert_int_eq(stat(path_of("sb/two"), &st), 0);
    ck_assert_int_eq(st.st_size, 13);
    /* An entry over the bound is used once, not kept. */
    ctx.conf.cache_size = 4;
    write_text(path_of("src2"), "too big for the cache\n");
    snprintf(uri, sizeof(uri), "file://%s", path_of("src2"));
    it.output_file = "three";
    ck_assert_msg(fetch_item_run(&ctx, &it) == 0, "%s", ctx.err);
    ck_assert_int_eq(fetch_cache_evict(ctx.cache_fd, 1 << 20, NULL), 0);
    /* A cache that cannot be used (its lock is a directory here) is
     * passed by: the URI is fetched straight to the sandbox. */
    ctx.conf.cache_size = 1 << 20;
    ck_assert_int_eq(unlink(path_of("cache/.lock")), 0);
    ck_assert_int_eq(mkdir(path_of("cache/.lock"), 0700), 0);
    it.output_file = "four";
    ck_assert_msg(fetch_item_run(&ctx, &it) == 0, "%s", ctx.err);
    ck_assert_int_eq(stat(path_of("sb/four"), &st), 0);
    ck_assert_int_eq(st.st_size, 22);
    fetch_get_fini();
    close(ctx.cache_fd);
    close(sb);
}
END_TEST

static Suite *fetch_suite(void)
{
    Suite *s = suite_create("fetch");
    TCase *names = tcase_create("names");
    TCase *fs = tcase_create("fs");

    tcase_add_test(names, name_from_uri);
    tcase_add_test(names, scheme);
    tcase_add_test(names, redaction);
    tcase_add_test(names, extraction_decision);
    tcase_add_test(names, paths);
    tcase_add_test(names, links);
    tcase_add_test(names, cache_key);
    tcase_add_test(names, text_cleaning);
    suite_add_tcase(s, names);
    tcase_add_checked_fixture(fs, setup, teardown);
    tcase_add_test(fs, parent_refuses_planted_symlink);
    tcase_add_test(fs, file_fetch_replaces_planted_symlink);
    tcase_add_test(fs, unpacks_a_tree);
    tcase_add_test(fs, refuses_escaping_entries);
    tcase_add_test(fs, refuses_writing_through_symlink);
    tcase_add_test(fs, bounded_by_max_total);
    tcase_add_test(fs, cache_eviction_lru);
    tcase_add_test(fs, cache_serves_second_fetch);
    suite_add_tcase(s, fs);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fetch_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
