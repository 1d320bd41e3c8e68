/*
 * test_store.c - the store and its local backend, driven through a real
 * libev loop on a fresh temporary directory per test.
 *
 * Every store call in these tests goes through CALL(), which raises a
 * flag around it; every callback checks the flag, so each test also
 * checks that no completion ever runs inside the call that started it.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"

#define NS "test"

/* ------------------------------------------------------------------ */
/* Fixture                                                             */
/* ------------------------------------------------------------------ */

struct ctx {
    struct ev_loop *loop;
    struct store *s;
    char *tmp;  /* a mkdtemp() directory, removed by ctx_fini() */
    char *root; /* <tmp>/state: made by the store when it opens */
    int in_call; /* 1 while a store_* call runs */
    int inside;  /* completions seen while in_call was set */
    int seq;     /* completions so far; numbers them in run order */
};

/* What one completion handed its callback, copied. */
struct rec {
    struct ctx *c;
    int called;
    int err;
    int seq;
    char *value;
    size_t len;
    int64_t version;
    char **names;
    size_t nnames;
};

static int call_rc;
#define CALL(c, expr)                                                        \
    ((c)->in_call = 1, call_rc = (expr), (c)->in_call = 0, call_rc)
/* A call that must be accepted. */
#define START(c, expr) ck_assert_int_eq(CALL(c, expr), 0)

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);

    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static void ctx_open(struct ctx *c)
{
    ck_assert_int_eq(store_open_local(c->loop, c->root, &c->s), 0);
    ck_assert_str_eq(store_backend_name(c->s), "local");
}

static void ctx_init(struct ctx *c)
{
    const char *base = getenv("TMPDIR");
    char *tmpl;

    memset(c, 0, sizeof(*c));
    tmpl = join(base && *base ? base : "/tmp", "agora-store-XXXXXX");
    c->tmp = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(c->tmp);
    c->root = join(c->tmp, "state");
    c->loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(c->loop);
    ctx_open(c);
}

static void ctx_close_store(struct ctx *c)
{
    store_close(c->s);
    c->s = NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void ctx_fini(struct ctx *c)
{
    ctx_close_store(c);
    ck_assert_int_eq(c->inside, 0);
    ev_loop_destroy(c->loop);
    ck_assert_int_eq(nftw(c->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(c->root);
    free(c->tmp);
}

static void rec_init(struct rec *r, struct ctx *c)
{
    memset(r, 0, sizeof(*r));
    r->c = c;
    r->seq = -1;
}

static void rec_free(struct rec *r)
{
    size_t i;

    for (i = 0; i < r->nnames; i++)
        free(r->names[i]);
    free(r->names);
    free(r->value);
    rec_init(r, r->c);
}

static void on_done(void *arg, int err, const store_result *res)
{
    struct rec *r = arg;
    size_t i;

    if (r->c->in_call)
        r->c->inside++;
    r->called++;
    r->err = err;
    r->seq = r->c->seq++;
    r->version = res->version;
    if (res->value != NULL) {
        ck_assert_int_eq(res->value[res->len], '\0');
        r->value = malloc(res->len + 1);
        ck_assert_ptr_nonnull(r->value);
        memcpy(r->value, res->value, res->len + 1);
        r->len = res->len;
    }
    if (res->nnames > 0) {
        r->names = calloc(res->nnames, sizeof(*r->names));
        ck_assert_ptr_nonnull(r->names);
        for (i = 0; i < res->nnames; i++)
            r->names[i] = strdup(res->names[i]);
        r->nnames = res->nnames;
    }
}

/* Runs the loop until r's completion has run. */
static void wait_for(struct ctx *c, struct rec *r)
{
    while (!r->called)
        ev_run(c->loop, EVRUN_ONCE);
    ck_assert_int_eq(r->called, 1);
}

/* Lets the loop run whatever is ready, without waiting. */
static void spin(struct ctx *c)
{
    int i;

    for (i = 0; i < 10; i++)
        ev_run(c->loop, EVRUN_NOWAIT);
}

/* Synchronous wrappers: start the op, check it was accepted, wait. */
static int get(struct ctx *c, const char *ns, const char *key, struct rec *r)
{
    rec_init(r, c);
    ck_assert_int_eq(CALL(c, store_get(c->s, ns, key, on_done, r, NULL)), 0);
    ck_assert_int_eq(r->called, 0);
    wait_for(c, r);
    return r->err;
}

static int put_n(struct ctx *c, const char *ns, const char *key,
                 const void *value, size_t len, int64_t version,
                 int64_t *new_version)
{
    struct rec r;
    int err;

    rec_init(&r, c);
    ck_assert_int_eq(CALL(c, store_put(c->s, ns, key, value, len, version,
                                       on_done, &r, NULL)),
                     0);
    ck_assert_int_eq(r.called, 0);
    wait_for(c, &r);
    if (new_version != NULL)
        *new_version = r.version;
    err = r.err;
    rec_free(&r);
    return err;
}

static int put(struct ctx *c, const char *ns, const char *key,
               const char *value, int64_t version, int64_t *new_version)
{
    return put_n(c, ns, key, value, strlen(value), version, new_version);
}

static int del(struct ctx *c, const char *ns, const char *key,
               int64_t version)
{
    struct rec r;

    rec_init(&r, c);
    ck_assert_int_eq(
        CALL(c, store_delete(c->s, ns, key, version, on_done, &r, NULL)), 0);
    ck_assert_int_eq(r.called, 0);
    wait_for(c, &r);
    return r.err;
}

static int list(struct ctx *c, const char *ns, const char *key,
                struct rec *r)
{
    rec_init(r, c);
    ck_assert_int_eq(CALL(c, store_list(c->s, ns, key, on_done, r, NULL)),
                     0);
    ck_assert_int_eq(r->called, 0);
    wait_for(c, r);
    return r->err;
}

/* Checks that ns/key holds value at version. */
static void expect_value(struct ctx *c, const char *ns, const char *key,
                         const char *value, int64_t version)
{
    struct rec r;

    ck_assert_int_eq(get(c, ns, key, &r), 0);
    ck_assert_uint_eq(r.len, strlen(value));
    ck_assert_str_eq(r.value, value);
    ck_assert_int_eq(r.version, version);
    rec_free(&r);
}

/* Checks that list(ns, key) gives exactly the n names of want, in order. */
static void expect_list(struct ctx *c, const char *ns, const char *key,
                        const char *const *want, size_t n)
{
    struct rec r;
    size_t i;

    ck_assert_int_eq(list(c, ns, key, &r), 0);
    ck_assert_uint_eq(r.nnames, n);
    for (i = 0; i < n; i++)
        ck_assert_str_eq(r.names[i], want[i]);
    rec_free(&r);
}

/* How many .tmp.* files are under root. */
static int tmp_count;
static int count_tmp_entry(const char *path, const struct stat *st, int flag,
                           struct FTW *ftw)
{
    if (strncmp(path + ftw->base, ".tmp.", 5) == 0)
        tmp_count++;
    return 0;
}

static int count_tmp(const char *root)
{
    tmp_count = 0;
    if (nftw(root, count_tmp_entry, 16, FTW_PHYS) != 0)
        ck_assert_int_eq(errno, ENOENT); /* never made: nothing in it */
    return tmp_count;
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    ck_assert_int_eq(close(fd), 0);
}

/* ------------------------------------------------------------------ */
/* Round trips                                                         */
/* ------------------------------------------------------------------ */

START_TEST(test_put_get_list_delete)
{
    static const char *const top[] = {"a"};
    static const char *const under_a[] = {"b"};
    struct ctx c;
    struct rec r;
    int64_t v;

    ctx_init(&c);
    ck_assert_int_eq(get(&c, NS, "a", &r), AGORA_ENOENT);
    ck_assert_ptr_null(r.value);
    rec_free(&r);
    expect_list(&c, NS, "", NULL, 0);

    ck_assert_int_eq(put(&c, NS, "a", "hello", AGORA_STORE_ANY, &v), 0);
    ck_assert_int_eq(v, 1);
    expect_value(&c, NS, "a", "hello", 1);

    /* A key with a value and a child at once. */
    ck_assert_int_eq(put(&c, NS, "a/b", "child", AGORA_STORE_ANY, &v), 0);
    expect_list(&c, NS, "", top, 1);
    expect_list(&c, NS, "a", under_a, 1);
    expect_list(&c, NS, "a/b", NULL, 0);

    ck_assert_int_eq(del(&c, NS, "a/b", AGORA_STORE_ANY), 0);
    ck_assert_int_eq(get(&c, NS, "a/b", &r), AGORA_ENOENT);
    rec_free(&r);
    expect_list(&c, NS, "a", NULL, 0);
    expect_value(&c, NS, "a", "hello", 1);

    ck_assert_int_eq(del(&c, NS, "a", AGORA_STORE_ANY), 0);
    ck_assert_int_eq(get(&c, NS, "a", &r), AGORA_ENOENT);
    rec_free(&r);
    expect_list(&c, NS, "", NULL, 0);
    ck_assert_int_eq(del(&c, NS, "a", AGORA_STORE_ANY), AGORA_ENOENT);

    /* An empty value is a value. */
    ck_assert_int_eq(put_n(&c, NS, "empty", NULL, 0, AGORA_STORE_NEW, &v), 0);
    expect_value(&c, NS, "empty", "", 1);

    /* Binary bytes, NUL included, come back as written. */
    ck_assert_int_eq(put_n(&c, NS, "bin", "x\0y\n", 4, AGORA_STORE_ANY, &v),
                     0);
    ck_assert_int_eq(get(&c, NS, "bin", &r), 0);
    ck_assert_uint_eq(r.len, 4);
    ck_assert_mem_eq(r.value, "x\0y\n", 4);
    rec_free(&r);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_deep_keys_prune)
{
    static const char *const top[] = {"x"};
    struct ctx c;
    struct stat st;
    char *dir;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "x/y/z/w", "deep", AGORA_STORE_ANY, NULL),
                     0);
    expect_list(&c, NS, "", top, 1);
    ck_assert_int_eq(del(&c, NS, "x/y/z/w", AGORA_STORE_ANY), 0);
    /* The empty directories went with the value. */
    expect_list(&c, NS, "", NULL, 0);
    dir = join(c.root, NS "/x");
    ck_assert_int_eq(stat(dir, &st), -1);
    free(dir);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Versions                                                             */
/* ------------------------------------------------------------------ */

START_TEST(test_versions)
{
    struct ctx c;
    int64_t v = -7;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "k", "one", AGORA_STORE_NEW, &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(put(&c, NS, "k", "two", AGORA_STORE_ANY, &v), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(put(&c, NS, "k", "three", 2, &v), 0);
    ck_assert_int_eq(v, 3);

    /* A stale version: refused, value untouched. */
    ck_assert_int_eq(put(&c, NS, "k", "stale", 2, &v), AGORA_EVERSION);
    expect_value(&c, NS, "k", "three", 3);
    /* NEW on an existing key, a version on a missing key. */
    ck_assert_int_eq(put(&c, NS, "k", "new", AGORA_STORE_NEW, &v),
                     AGORA_EVERSION);
    ck_assert_int_eq(put(&c, NS, "missing", "x", 1, &v), AGORA_EVERSION);
    expect_value(&c, NS, "k", "three", 3);

    ck_assert_int_eq(del(&c, NS, "k", 2), AGORA_EVERSION);
    ck_assert_int_eq(del(&c, NS, "k", AGORA_STORE_NEW), AGORA_EVERSION);
    expect_value(&c, NS, "k", "three", 3);
    ck_assert_int_eq(del(&c, NS, "k", 3), 0);
    ck_assert_int_eq(del(&c, NS, "k", 3), AGORA_ENOENT);

    /* A key made again starts again at 1. */
    ck_assert_int_eq(put(&c, NS, "k", "again", AGORA_STORE_NEW, &v), 0);
    ck_assert_int_eq(v, 1);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Refusals at call time                                                */
/* ------------------------------------------------------------------ */

START_TEST(test_value_max)
{
    struct ctx c;
    struct rec r, never;
    char *big = malloc(AGORA_STORE_VALUE_MAX + 1);
    size_t i;

    ck_assert_ptr_nonnull(big);
    for (i = 0; i < AGORA_STORE_VALUE_MAX + 1; i++)
        big[i] = (char)('a' + i % 26);
    ctx_init(&c);
    ck_assert_int_eq(put_n(&c, NS, "big", big, AGORA_STORE_VALUE_MAX,
                           AGORA_STORE_ANY, NULL),
                     0);
    ck_assert_int_eq(get(&c, NS, "big", &r), 0);
    ck_assert_uint_eq(r.len, AGORA_STORE_VALUE_MAX);
    ck_assert_int_eq(memcmp(r.value, big, AGORA_STORE_VALUE_MAX), 0);
    rec_free(&r);

    rec_init(&never, &c);
    ck_assert_int_eq(CALL(&c, store_put(c.s, NS, "big", big,
                                        AGORA_STORE_VALUE_MAX + 1,
                                        AGORA_STORE_ANY, on_done, &never,
                                        NULL)),
                     AGORA_ETOOBIG);
    spin(&c);
    ck_assert_int_eq(never.called, 0);
    ck_assert_int_eq(get(&c, NS, "big", &r), 0);
    ck_assert_uint_eq(r.len, AGORA_STORE_VALUE_MAX);
    rec_free(&r);
    free(big);
    ctx_fini(&c);
}
END_TEST

/* Every call of the store refuses key (when it is not valid). */
static void expect_key_refused(struct ctx *c, const char *key,
                               struct rec *never)
{
    struct store_op *op = NULL;

    ck_assert_int_eq(store_key_valid(key, 0), AGORA_EINVAL);
    ck_assert_int_eq(
        CALL(c, store_get(c->s, NS, key, on_done, never, &op)), AGORA_EINVAL);
    ck_assert_int_eq(CALL(c, store_put(c->s, NS, key, "v", 1, AGORA_STORE_ANY,
                                       on_done, never, &op)),
                     AGORA_EINVAL);
    ck_assert_int_eq(CALL(c, store_delete(c->s, NS, key, AGORA_STORE_ANY,
                                          on_done, never, &op)),
                     AGORA_EINVAL);
    if (key[0] != '\0')
        ck_assert_int_eq(
            CALL(c, store_list(c->s, NS, key, on_done, never, &op)),
            AGORA_EINVAL);
    ck_assert_ptr_null(op);
}

START_TEST(test_invalid_refused_at_call)
{
    static const char *const bad_keys[] = {
        "",    "/a",  "a/",   "a//b", "a/.b", "../x", ".x",
        "..",  "a b", "a\n",  "a/b/", "é",    "a*b",  "a\\b"};
    static const char *const bad_ns[] = {"", "Test", "a-b", "../x", "a/b",
                                         "a.b"};
    char long_key[AGORA_STORE_KEY_MAX + 2];
    struct store_stats st;
    struct ctx c;
    struct rec never;
    size_t i;

    ctx_init(&c);
    rec_init(&never, &c);
    for (i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++)
        expect_key_refused(&c, bad_keys[i], &never);

    /* 512 bytes is the limit: segments of 100 'k' and a 7-byte tail. */
    memset(long_key, 'k', sizeof(long_key));
    for (i = 100; i < AGORA_STORE_KEY_MAX; i += 101)
        long_key[i] = '/';
    long_key[AGORA_STORE_KEY_MAX] = '\0';
    ck_assert_int_eq(store_key_valid(long_key, 0), 0);
    ck_assert_int_eq(put(&c, NS, long_key, "long", AGORA_STORE_ANY, NULL), 0);
    expect_value(&c, NS, long_key, "long", 1);
    long_key[AGORA_STORE_KEY_MAX] = 'k';
    long_key[AGORA_STORE_KEY_MAX + 1] = '\0';
    expect_key_refused(&c, long_key, &never);

    for (i = 0; i < sizeof(bad_ns) / sizeof(bad_ns[0]); i++) {
        ck_assert_int_eq(store_ns_valid(bad_ns[i]), AGORA_EINVAL);
        ck_assert_int_eq(
            CALL(&c, store_get(c.s, bad_ns[i], "k", on_done, &never, NULL)),
            AGORA_EINVAL);
    }
    ck_assert_int_eq(store_ns_valid(NULL), AGORA_EINVAL);
    ck_assert_int_eq(store_ns_valid("_core"), 0);
    ck_assert_int_eq(store_key_valid(NULL, 1), AGORA_EINVAL);
    ck_assert_int_eq(store_key_valid("", 1), 0);
    ck_assert_int_eq(store_key_valid("A-Z_a.b:c@d/e.f", 0), 0);

    /* Versions below AGORA_STORE_ANY, and a NULL value with a length. */
    ck_assert_int_eq(CALL(&c, store_put(c.s, NS, "k", "v", 1, -2, on_done,
                                        &never, NULL)),
                     AGORA_EINVAL);
    ck_assert_int_eq(
        CALL(&c, store_delete(c.s, NS, "k", -2, on_done, &never, NULL)),
        AGORA_EINVAL);
    ck_assert_int_eq(CALL(&c, store_put(c.s, NS, "k", NULL, 3,
                                        AGORA_STORE_ANY, on_done, &never,
                                        NULL)),
                     AGORA_EINVAL);

    spin(&c);
    ck_assert_int_eq(never.called, 0);
    store_get_stats(c.s, &st);
    ck_assert_uint_eq(st.pending, 0);
    ck_assert_uint_gt(st.errors, 0);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Completions: never inside the call, in call order                    */
/* ------------------------------------------------------------------ */

START_TEST(test_never_inside_call)
{
    struct ctx c;
    struct rec r[4];
    int i;

    ctx_init(&c);
    for (i = 0; i < 4; i++)
        rec_init(&r[i], &c);
    /* Even the answers that need no disk (a missing key). */
    ck_assert_int_eq(CALL(&c, store_get(c.s, NS, "none", on_done, &r[0],
                                        NULL)),
                     0);
    ck_assert_int_eq(CALL(&c, store_list(c.s, NS, "", on_done, &r[1], NULL)),
                     0);
    ck_assert_int_eq(CALL(&c, store_put(c.s, NS, "k", "v", 1,
                                        AGORA_STORE_ANY, on_done, &r[2],
                                        NULL)),
                     0);
    ck_assert_int_eq(CALL(&c, store_delete(c.s, NS, "k", AGORA_STORE_ANY,
                                           on_done, &r[3], NULL)),
                     0);
    for (i = 0; i < 4; i++)
        ck_assert_int_eq(r[i].called, 0);
    wait_for(&c, &r[3]);
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(r[i].called, 1);
        ck_assert_int_eq(r[i].seq, i);
        rec_free(&r[i]);
    }
    ctx_fini(&c);
}
END_TEST

#define NPUTS 200

START_TEST(test_call_order)
{
    struct ctx c;
    struct rec *r = calloc(NPUTS + 8, sizeof(*r));
    char value[32];
    size_t n = 0, i;

    ck_assert_ptr_nonnull(r);
    ctx_init(&c);
    for (i = 0; i < NPUTS; i++, n++) {
        snprintf(value, sizeof(value), "value-%zu", i);
        rec_init(&r[n], &c);
        ck_assert_int_eq(CALL(&c, store_put(c.s, NS, "same", value,
                                            strlen(value), AGORA_STORE_ANY,
                                            on_done, &r[n], NULL)),
                         0);
    }
    /* Mixed ops after the puts, all started before any completion. */
    rec_init(&r[n], &c);
    START(&c, store_get(c.s, NS, "same", on_done, &r[n++], NULL));
    rec_init(&r[n], &c);
    START(&c, store_delete(c.s, NS, "same", NPUTS, on_done, &r[n++], NULL));
    rec_init(&r[n], &c);
    START(&c, store_get(c.s, NS, "same", on_done, &r[n++], NULL));
    rec_init(&r[n], &c);
    START(&c, store_put(c.s, NS, "other", "o", 1, AGORA_STORE_NEW, on_done,
                       &r[n++], NULL));
    rec_init(&r[n], &c);
    START(&c, store_list(c.s, NS, "", on_done, &r[n++], NULL));
    wait_for(&c, &r[n - 1]);

    for (i = 0; i < n; i++) {
        ck_assert_int_eq(r[i].called, 1);
        ck_assert_int_eq(r[i].seq, (int)i);
    }
    for (i = 0; i < NPUTS; i++) {
        ck_assert_int_eq(r[i].err, 0);
        ck_assert_int_eq(r[i].version, (int64_t)i + 1);
    }
    snprintf(value, sizeof(value), "value-%d", NPUTS - 1);
    ck_assert_int_eq(r[NPUTS].err, 0);
    ck_assert_str_eq(r[NPUTS].value, value);
    ck_assert_int_eq(r[NPUTS].version, NPUTS);
    ck_assert_int_eq(r[NPUTS + 1].err, 0);
    ck_assert_int_eq(r[NPUTS + 2].err, AGORA_ENOENT);
    ck_assert_int_eq(r[NPUTS + 3].err, 0);
    ck_assert_uint_eq(r[NPUTS + 4].nnames, 1);
    ck_assert_str_eq(r[NPUTS + 4].names[0], "other");
    for (i = 0; i < n; i++)
        rec_free(&r[i]);
    free(r);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Cancel and close                                                     */
/* ------------------------------------------------------------------ */

START_TEST(test_cancel)
{
    struct ctx c;
    struct rec canceled, after;
    struct store_op *op = NULL;
    struct store_stats st;

    ctx_init(&c);
    rec_init(&canceled, &c);
    rec_init(&after, &c);
    ck_assert_int_eq(CALL(&c, store_put(c.s, NS, "k", "written", 7,
                                        AGORA_STORE_ANY, on_done, &canceled,
                                        &op)),
                     0);
    ck_assert_ptr_nonnull(op);
    store_cancel(op);
    /* Completions keep call order: once this one has run, the put's
     * would have. */
    START(&c, store_get(c.s, NS, "k", on_done, &after, NULL));
    wait_for(&c, &after);
    spin(&c);
    ck_assert_int_eq(canceled.called, 0);
    ck_assert_int_eq(after.err, 0);
    ck_assert_str_eq(after.value, "written");
    rec_free(&after);
    store_get_stats(c.s, &st);
    ck_assert_uint_eq(st.pending, 0);
    ck_assert_uint_eq(st.puts, 1);
    ck_assert_uint_eq(st.gets, 1);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_close_drains)
{
    struct ctx c;
    struct rec never;
    char value[32];
    int i;

    ctx_init(&c);
    rec_init(&never, &c);
    for (i = 0; i < 20; i++) {
        snprintf(value, sizeof(value), "v%d", i);
        ck_assert_int_eq(CALL(&c, store_put(c.s, NS, "k", value,
                                            strlen(value), AGORA_STORE_ANY,
                                            on_done, &never, NULL)),
                         0);
    }
    /* Without running the loop once. */
    ctx_close_store(&c);
    spin(&c);
    ck_assert_int_eq(never.called, 0);
    ctx_open(&c);
    expect_value(&c, NS, "k", "v19", 20);
    ctx_fini(&c);
}
END_TEST

struct closer {
    struct rec rec;
    struct ctx *c;
};

static void close_in_cb(void *arg, int err, const store_result *res)
{
    struct closer *cl = arg;

    on_done(&cl->rec, err, res);
    ctx_close_store(cl->c);
}

START_TEST(test_close_inside_callback)
{
    struct ctx c;
    struct closer cl;
    struct rec later;

    ctx_init(&c);
    rec_init(&cl.rec, &c);
    rec_init(&later, &c);
    cl.c = &c;
    START(&c, store_put(c.s, NS, "a", "1", 1, AGORA_STORE_ANY, close_in_cb,
                       &cl, NULL));
    START(&c, store_put(c.s, NS, "b", "2", 1, AGORA_STORE_ANY, on_done, &later,
                       NULL));
    /* The loop ends by itself: the store frees its watcher. */
    ev_run(c.loop, 0);
    ck_assert_int_eq(cl.rec.called, 1);
    ck_assert_int_eq(later.called, 0);
    ck_assert_ptr_null(c.s);
    ctx_open(&c);
    expect_value(&c, NS, "b", "2", 1);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_idle_store_lets_loop_end)
{
    struct ctx c;
    struct rec r;

    ctx_init(&c);
    /* Nothing pending: ev_run() returns at once. */
    ev_run(c.loop, 0);
    rec_init(&r, &c);
    START(&c, store_put(c.s, NS, "k", "v", 1, AGORA_STORE_ANY, on_done, &r,
                       NULL));
    /* Something pending: ev_run() returns once it has completed. */
    ev_run(c.loop, 0);
    ck_assert_int_eq(r.called, 1);
    ck_assert_int_eq(r.err, 0);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Layout: persistence, lists, namespaces, recovery                     */
/* ------------------------------------------------------------------ */

START_TEST(test_persistence)
{
    static const char *const names[] = {"a", "b"};
    struct ctx c;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "a", "1", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "a", "11", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "b/c", "2", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, "_core", "m", "3", AGORA_STORE_ANY, NULL), 0);
    ctx_close_store(&c);
    /* A new loop too, as after a restart. */
    ev_loop_destroy(c.loop);
    c.loop = ev_loop_new(EVFLAG_AUTO);
    ctx_open(&c);
    expect_value(&c, NS, "a", "11", 2);
    expect_value(&c, NS, "b/c", "2", 1);
    expect_value(&c, "_core", "m", "3", 1);
    expect_list(&c, NS, "", names, 2);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_list_sorted)
{
    static const char *const top[] = {"Mid", "alpha", "beta", "zeta"};
    static const char *const under_alpha[] = {"a", "b", "c"};
    struct ctx c;
    struct rec r;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "zeta", "z", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "alpha/c", "", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "beta/x/y", "", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "Mid", "", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "alpha/a", "", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "alpha/b/deep", "", AGORA_STORE_ANY, NULL),
                     0);
    expect_list(&c, NS, "", top, 4);
    expect_list(&c, NS, "alpha", under_alpha, 3);
    /* The children of a missing key: none, not an error. */
    ck_assert_int_eq(list(&c, NS, "nothing/here", &r), 0);
    ck_assert_uint_eq(r.nnames, 0);
    rec_free(&r);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_namespaces_isolated)
{
    static const char *const one[] = {"k"};
    struct ctx c;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, "ns1", "k", "first", AGORA_STORE_NEW, NULL), 0);
    ck_assert_int_eq(put(&c, "ns2", "k", "second", AGORA_STORE_NEW, NULL), 0);
    expect_value(&c, "ns1", "k", "first", 1);
    expect_value(&c, "ns2", "k", "second", 1);
    expect_list(&c, "ns3", "", NULL, 0);
    ck_assert_int_eq(del(&c, "ns1", "k", AGORA_STORE_ANY), 0);
    expect_value(&c, "ns2", "k", "second", 1);
    expect_list(&c, "ns1", "", NULL, 0);
    expect_list(&c, "ns2", "", one, 1);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_open_sweeps_leftovers)
{
    static const char *const names[] = {"keep"};
    struct ctx c;
    struct stat st;
    char *p;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "keep", "kept", AGORA_STORE_ANY, NULL), 0);
    ctx_close_store(&c);
    /* What a crash leaves: temporary files, empty directories. */
    p = join(c.root, NS "/keep/.tmp.0123456789abcdef");
    write_file(p, "junk", 4);
    free(p);
    p = join(c.root, NS "/empty");
    ck_assert_int_eq(mkdir(p, 0700), 0);
    free(p);
    p = join(c.root, NS "/empty/nested");
    ck_assert_int_eq(mkdir(p, 0700), 0);
    free(p);
    p = join(c.root, NS "/empty/nested/.tmp.x");
    write_file(p, "junk", 4);
    free(p);
    /* Not the store's: the top level is left alone. */
    p = join(c.root, "Other");
    ck_assert_int_eq(mkdir(p, 0700), 0);
    free(p);
    p = join(c.root, "Other/.tmp.y");
    write_file(p, "theirs", 6);
    free(p);
    ck_assert_int_eq(count_tmp(c.root), 3);

    ctx_open(&c);
    ck_assert_int_eq(count_tmp(c.root), 1);
    p = join(c.root, "Other/.tmp.y");
    ck_assert_int_eq(stat(p, &st), 0);
    free(p);
    p = join(c.root, NS "/empty");
    ck_assert_int_eq(stat(p, &st), -1);
    free(p);
    expect_list(&c, NS, "", names, 1);
    expect_value(&c, NS, "keep", "kept", 1);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_damaged_value_is_eio)
{
    struct ctx c;
    struct rec r;
    char *p;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "k", "fine", AGORA_STORE_ANY, NULL), 0);
    p = join(c.root, NS "/k/.value");
    write_file(p, "not a value file", 16);
    free(p);
    ck_assert_int_eq(get(&c, NS, "k", &r), AGORA_EIO);
    ck_assert_ptr_null(r.value);
    rec_free(&r);
    /* Not overwritten blindly either: the damage stays for a human. */
    ck_assert_int_eq(put(&c, NS, "k", "new", AGORA_STORE_ANY, NULL),
                     AGORA_EIO);
    ctx_fini(&c);
}
END_TEST

/* The file system refuses a segment over NAME_MAX: the local backend
 * completes with EINVAL rather than an I/O error. */
START_TEST(test_segment_length)
{
    char key[300];
    struct ctx c;

    memset(key, 's', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    ctx_init(&c);
    /* Refused when called, for every backend, never later. */
    ck_assert_int_eq(store_key_valid(key, 0), AGORA_EINVAL);
    ck_assert_int_eq(CALL(&c, store_put(c.s, NS, key, "v", 1, AGORA_STORE_ANY,
                                        NULL, NULL, NULL)),
                     AGORA_EINVAL);
    key[AGORA_STORE_SEGMENT_MAX] = '\0';
    ck_assert_int_eq(store_key_valid(key, 0), 0);
    ck_assert_int_eq(put(&c, NS, key, "v", AGORA_STORE_ANY, NULL), 0);
    expect_list(&c, NS, "", (const char *const[]){key}, 1);
    ctx_fini(&c);
}
END_TEST

/* A write the file system refuses completes with EIO and changes
 * nothing. */
START_TEST(test_write_refused_is_eio)
{
    static const char *const names[] = {"k"};
    struct ctx c;
    char *dir;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "k", "old", AGORA_STORE_ANY, NULL), 0);
    /* A file where a key's directory must go (stops root too); not a key
     * for list either. */
    dir = join(c.root, NS "/blocked");
    write_file(dir, "x", 1);
    free(dir);
    ck_assert_int_eq(put(&c, NS, "blocked/x", "v", AGORA_STORE_ANY, NULL),
                     AGORA_EIO);
    expect_list(&c, NS, "", names, 1);
    /* Permissions do not stop root. */
    if (geteuid() == 0) {
        ctx_fini(&c);
        return;
    }
    dir = join(c.root, NS "/k");
    ck_assert_int_eq(chmod(dir, 0500), 0);
    ck_assert_int_eq(put(&c, NS, "k", "new", AGORA_STORE_ANY, NULL),
                     AGORA_EIO);
    ck_assert_int_eq(put(&c, NS, "k/child", "c", AGORA_STORE_ANY, NULL),
                     AGORA_EIO);
    ck_assert_int_eq(chmod(dir, 0700), 0);
    free(dir);
    expect_value(&c, NS, "k", "old", 1);
    expect_list(&c, NS, "", names, 1);
    expect_list(&c, NS, "k", NULL, 0);
    ck_assert_int_eq(count_tmp(c.root), 0);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_open_errors)
{
    struct ctx c;
    struct store *s = NULL;
    char *file;

    ctx_init(&c);
    ck_assert_int_eq(store_open_local(c.loop, "", &s), AGORA_EINVAL);
    ck_assert_int_eq(store_open_local(c.loop, NULL, &s), AGORA_EINVAL);
    file = join(c.tmp, "a-file");
    write_file(file, "x", 1);
    ck_assert_int_eq(store_open_local(c.loop, file, &s), AGORA_EIO);
    ck_assert_ptr_null(s);
    free(file);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_stats)
{
    struct ctx c;
    struct rec r;
    struct store_stats st;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "k", "v", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "k", "v", 7, NULL), AGORA_EVERSION);
    ck_assert_int_eq(get(&c, NS, "k", &r), 0);
    rec_free(&r);
    ck_assert_int_eq(list(&c, NS, "", &r), 0);
    rec_free(&r);
    ck_assert_int_eq(del(&c, NS, "k", AGORA_STORE_ANY), 0);
    ck_assert_int_eq(CALL(&c, store_get(c.s, NS, "", on_done, &r, NULL)),
                     AGORA_EINVAL);
    store_get_stats(c.s, &st);
    ck_assert_uint_eq(st.puts, 2);
    ck_assert_uint_eq(st.gets, 1);
    ck_assert_uint_eq(st.lists, 1);
    ck_assert_uint_eq(st.deletes, 1);
    ck_assert_uint_eq(st.pending, 0);
    ck_assert_uint_eq(st.errors, 1); /* the refusal; EVERSION is an answer */
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Crash atomicity                                                      */
/* ------------------------------------------------------------------ */

#define CRASH_ROUNDS 20
#define CRASH_NS "crash"
#define CRASH_KEY "big"

/* Put number i (from 1) writes crash_len(i) bytes, each crash_byte(i):
 * the two together name i among any few consecutive puts. */
static size_t crash_len(long i)
{
    return 500000 + (size_t)(i % 97) * 1009;
}

static unsigned char crash_byte(long i)
{
    return (unsigned char)(i % 251);
}

struct crasher {
    struct store *s;
    int fd; /* the pipe: each completed put's number, as a long */
    long i;
    char *buf;
};

static void crash_put_next(struct crasher *cr);

static void crash_on_put(void *arg, int err, const store_result *res)
{
    struct crasher *cr = arg;

    if (err != 0 || res->version != cr->i)
        _exit(3);
    if (write(cr->fd, &cr->i, sizeof(cr->i)) != (ssize_t)sizeof(cr->i))
        _exit(4);
    cr->i++;
    crash_put_next(cr);
}

/* One put at a time: the file holds put n or n + 1 when n completed. */
static void crash_put_next(struct crasher *cr)
{
    size_t len = crash_len(cr->i);

    memset(cr->buf, crash_byte(cr->i), len);
    if (store_put(cr->s, CRASH_NS, CRASH_KEY, cr->buf, len, AGORA_STORE_ANY,
                  crash_on_put, cr, NULL) != 0)
        _exit(2);
}

/* The child: puts until killed (or for 10 s, should the parent die). */
static void crash_child(const char *root, int fd)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct crasher cr;

    alarm(10);
    cr.fd = fd;
    cr.i = 1;
    cr.buf = malloc(crash_len(96));
    if (loop == NULL || cr.buf == NULL ||
        store_open_local(loop, root, &cr.s) != 0)
        _exit(1);
    crash_put_next(&cr);
    ev_run(loop, 0);
    _exit(5);
}

/* The number of the last put the child reported complete, 0 for none. */
static long crash_last_done(int fd)
{
    long i, last = 0;
    ssize_t n;

    while ((n = read(fd, &i, sizeof(i))) == (ssize_t)sizeof(i))
        last = i;
    ck_assert_int_eq(n, 0);
    return last;
}

/* The value must be put `last` or `last + 1`, whole. */
static void crash_check_value(const struct rec *r, long last, int round)
{
    long i;
    size_t k;

    if (r->err == AGORA_ENOENT) {
        ck_assert_msg(last == 0, "round %d: no value after put %ld", round,
                      last);
        return;
    }
    ck_assert_msg(r->err == 0, "round %d: get failed: %d", round, r->err);
    for (i = last > 0 ? last : 1; i <= last + 1; i++)
        if (r->len == crash_len(i) && (unsigned char)r->value[0] ==
                                          crash_byte(i))
            break;
    ck_assert_msg(i <= last + 1,
                  "round %d: %zu bytes of %u: not put %ld or the next",
                  round, r->len, (unsigned char)r->value[0], last);
    /* One assertion, not one a byte: check's are slow. */
    for (k = 0; k < r->len; k++)
        if ((unsigned char)r->value[k] != crash_byte(i))
            break;
    ck_assert_msg(k == r->len, "round %d: byte %zu of put %ld differs", round,
                  k, i);
    ck_assert_int_eq(r->version, i);
}

/* Forks a child that puts in a loop, kills it after delay_ms, then
 * checks what it left. Returns how many puts it completed. */
static long crash_round(struct ctx *c, int round, int delay_ms, int *torn)
{
    struct timespec ts = {0, (long)delay_ms * 1000000L};
    char name[32];
    char *root;
    struct rec r;
    long last;
    pid_t pid;
    int fds[2], status;

    snprintf(name, sizeof(name), "round-%d", round);
    root = join(c->tmp, name);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        crash_child(root, fds[1]);
    }
    close(fds[1]);
    nanosleep(&ts, NULL);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "round %d: the child failed by itself (status %d)", round,
                  status);
    last = crash_last_done(fds[0]);
    close(fds[0]);
    *torn += count_tmp(root) > 0;

    ck_assert_int_eq(store_open_local(c->loop, root, &c->s), 0);
    ck_assert_int_eq(count_tmp(root), 0);
    rec_init(&r, c);
    START(c, store_get(c->s, CRASH_NS, CRASH_KEY, on_done, &r, NULL));
    wait_for(c, &r);
    crash_check_value(&r, last, round);
    rec_free(&r);
    ctx_close_store(c);
    free(root);
    return last;
}

START_TEST(test_crash_atomicity)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    struct ctx c;
    int round, delay, torn = 0, with_puts = 0;
    long puts = 0, last;

    ctx_init(&c);
    /* Forking with the worker thread running would copy its state. */
    ctx_close_store(&c);
    for (round = 0; round < CRASH_ROUNDS; round++) {
        delay = 1 + (int)(rand_r(&seed) % 50);
        last = crash_round(&c, round, delay, &torn);
        puts += last;
        with_puts += last > 0;
    }
    fprintf(stderr,
            "crash: %d rounds, %d with completed puts (%ld in all), "
            "%d killed mid-write\n",
            CRASH_ROUNDS, with_puts, puts, torn);
    ctx_open(&c);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("local");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_put_get_list_delete);
    tcase_add_test(tc, test_deep_keys_prune);
    tcase_add_test(tc, test_versions);
    tcase_add_test(tc, test_value_max);
    tcase_add_test(tc, test_invalid_refused_at_call);
    tcase_add_test(tc, test_never_inside_call);
    tcase_add_test(tc, test_call_order);
    tcase_add_test(tc, test_cancel);
    tcase_add_test(tc, test_close_drains);
    tcase_add_test(tc, test_close_inside_callback);
    tcase_add_test(tc, test_idle_store_lets_loop_end);
    tcase_add_test(tc, test_persistence);
    tcase_add_test(tc, test_list_sorted);
    tcase_add_test(tc, test_namespaces_isolated);
    tcase_add_test(tc, test_open_sweeps_leftovers);
    tcase_add_test(tc, test_damaged_value_is_eio);
    tcase_add_test(tc, test_segment_length);
    tcase_add_test(tc, test_write_refused_is_eio);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_crash_atomicity);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    int failed;

    /* Warnings and errors only: the info lines of every open and close
     * would drown them. */
    log_set_level(AGORA_LOG_WARN);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
