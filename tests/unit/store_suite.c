/*
 * store_suite.c - the store's semantics, run against every backend (see
 * store_suite.h): the fixture, the helpers, and the tests.
 */
#include "store_suite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The backend under test: set before the run, read in each test's
 * process. */
static const struct suite_backend *backend;
/* Stores open in a term (store_suite_fenced): set by a TCase's fixture. */
static int fenced;

int store_call_rc;

/* ------------------------------------------------------------------ */
/* Fixture                                                             */
/* ------------------------------------------------------------------ */

/* Begins a term on c's store with a new fence of the backend's. */
static void begin_term(struct ctx *c)
{
    char *fence = backend->fence ? backend->fence(c) : NULL;

    ck_assert_int_eq(store_term_begin(c->s, fence), 0);
    free(fence);
}

void ctx_open(struct ctx *c)
{
    backend->open(c);
    ck_assert_str_eq(store_backend_name(c->s), backend->name);
    if (fenced)
        begin_term(c);
}

static void fenced_on(void)
{
    fenced = 1;
}
static void fenced_off(void)
{
    fenced = 0;
}

void store_suite_fenced(TCase *tc)
{
    tcase_add_checked_fixture(tc, fenced_on, fenced_off);
}

void ctx_init(struct ctx *c)
{
    memset(c, 0, sizeof(*c));
    c->loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(c->loop);
    backend->init(c);
    ctx_open(c);
}

void ctx_close_store(struct ctx *c)
{
    store_close(c->s);
    c->s = NULL;
}

void ctx_fini(struct ctx *c)
{
    ctx_close_store(c);
    backend->fini(c);
    ck_assert_int_eq(c->inside, 0);
    ev_loop_destroy(c->loop);
}

void rec_init(struct rec *r, struct ctx *c)
{
    memset(r, 0, sizeof(*r));
    r->c = c;
    r->seq = -1;
}

void rec_free(struct rec *r)
{
    size_t i;

    for (i = 0; i < r->nnames; i++)
        free(r->names[i]);
    free(r->names);
    free(r->value);
    for (i = 0; i < r->nentries; i++) {
        free(r->entries[i].name);
        free(r->entries[i].value);
    }
    free(r->entries);
    free(r->versions);
    rec_init(r, r->c);
}

void on_done(void *arg, int err, const store_result *res)
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
    r->failed = res->failed;
    if (res->nentries > 0) {
        r->entries = calloc(res->nentries, sizeof(*r->entries));
        ck_assert_ptr_nonnull(r->entries);
        for (i = 0; i < res->nentries; i++) {
            const struct agora_store_entry *e = &res->entries[i];

            ck_assert_int_eq(e->value[e->len], '\0');
            r->entries[i].name = strdup(e->name);
            r->entries[i].value = malloc(e->len + 1);
            ck_assert_ptr_nonnull(r->entries[i].value);
            memcpy(r->entries[i].value, e->value, e->len + 1);
            r->entries[i].len = e->len;
            r->entries[i].version = e->version;
        }
        r->nentries = res->nentries;
    }
    if (res->nversions > 0) {
        r->versions = calloc(res->nversions, sizeof(*r->versions));
        ck_assert_ptr_nonnull(r->versions);
        memcpy(r->versions, res->versions,
               res->nversions * sizeof(*r->versions));
        r->nversions = res->nversions;
    }
}

void wait_for(struct ctx *c, struct rec *r)
{
    while (!r->called)
        ev_run(c->loop, EVRUN_ONCE);
    ck_assert_int_eq(r->called, 1);
}

void spin(struct ctx *c)
{
    int i;

    for (i = 0; i < 10; i++)
        ev_run(c->loop, EVRUN_NOWAIT);
}

int get(struct ctx *c, const char *ns, const char *key, struct rec *r)
{
    rec_init(r, c);
    ck_assert_int_eq(CALL(c, store_get(c->s, ns, key, on_done, r, NULL)), 0);
    ck_assert_int_eq(r->called, 0);
    wait_for(c, r);
    return r->err;
}

int put_n(struct ctx *c, const char *ns, const char *key, const void *value,
          size_t len, int64_t version, int64_t *new_version)
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

int put(struct ctx *c, const char *ns, const char *key, const char *value,
        int64_t version, int64_t *new_version)
{
    return put_n(c, ns, key, value, strlen(value), version, new_version);
}

int del(struct ctx *c, const char *ns, const char *key, int64_t version)
{
    struct rec r;

    rec_init(&r, c);
    ck_assert_int_eq(
        CALL(c, store_delete(c->s, ns, key, version, on_done, &r, NULL)), 0);
    ck_assert_int_eq(r.called, 0);
    wait_for(c, &r);
    return r.err;
}

int list(struct ctx *c, const char *ns, const char *key, struct rec *r)
{
    rec_init(r, c);
    ck_assert_int_eq(CALL(c, store_list(c->s, ns, key, on_done, r, NULL)),
                     0);
    ck_assert_int_eq(r->called, 0);
    wait_for(c, r);
    return r->err;
}

void expect_value(struct ctx *c, const char *ns, const char *key,
                  const char *value, int64_t version)
{
    struct rec r;

    ck_assert_int_eq(get(c, ns, key, &r), 0);
    ck_assert_uint_eq(r.len, strlen(value));
    ck_assert_str_eq(r.value, value);
    ck_assert_int_eq(r.version, version);
    rec_free(&r);
}

void expect_absent(struct ctx *c, const char *ns, const char *key)
{
    struct rec r;

    ck_assert_int_eq(get(c, ns, key, &r), AGORA_ENOENT);
    ck_assert_ptr_null(r.value);
    rec_free(&r);
}

void expect_list(struct ctx *c, const char *ns, const char *key,
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
    expect_absent(&c, NS, "a");
    expect_list(&c, NS, "", NULL, 0);

    ck_assert_int_eq(put(&c, NS, "a", "hello", AGORA_STORE_ANY, &v), 0);
    ck_assert_int_eq(v, 1);
    expect_value(&c, NS, "a", "hello", 1);

    /* A key with a value and a child at once. */
    ck_assert_int_eq(put(&c, NS, "a/b", "child", AGORA_STORE_ANY, &v), 0);
    ck_assert_int_eq(v, 1);
    expect_list(&c, NS, "", top, 1);
    expect_list(&c, NS, "a", under_a, 1);
    expect_list(&c, NS, "a/b", NULL, 0);

    ck_assert_int_eq(del(&c, NS, "a/b", AGORA_STORE_ANY), 0);
    expect_absent(&c, NS, "a/b");
    expect_list(&c, NS, "a", NULL, 0);
    expect_value(&c, NS, "a", "hello", 1);
    ck_assert(!backend->holds(&c, NS "/a/b"));

    ck_assert_int_eq(del(&c, NS, "a", AGORA_STORE_ANY), 0);
    expect_absent(&c, NS, "a");
    expect_list(&c, NS, "", NULL, 0);
    ck_assert_int_eq(del(&c, NS, "a", AGORA_STORE_ANY), AGORA_ENOENT);
    /* The namespace itself stays. */
    ck_assert(!backend->holds(&c, NS "/a"));
    ck_assert(backend->holds(&c, NS));

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
    static const char *const under_x[] = {"y", "y2"};
    struct ctx c;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "x/y/z/w", "deep", AGORA_STORE_ANY, NULL),
                     0);
    expect_list(&c, NS, "", top, 1);
    /* The parents are keys without a value. */
    expect_absent(&c, NS, "x");
    expect_absent(&c, NS, "x/y/z");
    ck_assert_int_eq(del(&c, NS, "x/y/z/w", AGORA_STORE_ANY), 0);
    /* The parents it alone kept (empty directories, znodes) went with
     * it. */
    expect_list(&c, NS, "", NULL, 0);
    ck_assert(!backend->holds(&c, NS "/x"));

    /* A parent with another child stays, and only it. */
    ck_assert_int_eq(put(&c, NS, "x/y/z", "1", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "x/y2", "2", AGORA_STORE_ANY, NULL), 0);
    expect_list(&c, NS, "x", under_x, 2);
    ck_assert_int_eq(del(&c, NS, "x/y/z", AGORA_STORE_ANY), 0);
    expect_list(&c, NS, "x", under_x + 1, 1);
    ck_assert(!backend->holds(&c, NS "/x/y"));
    expect_value(&c, NS, "x/y2", "2", 1);
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
    expect_absent(&c, NS, "missing");
    /* Versions past 32 bits (ZooKeeper's) never match. */
    ck_assert_int_eq(put(&c, NS, "k", "far", (int64_t)1 << 40, &v),
                     AGORA_EVERSION);
    ck_assert_int_eq(del(&c, NS, "k", (int64_t)1 << 40), AGORA_EVERSION);
    ck_assert_int_eq(del(&c, NS, "missing", (int64_t)1 << 40), AGORA_ENOENT);
    expect_value(&c, NS, "k", "three", 3);

    ck_assert_int_eq(del(&c, NS, "k", 2), AGORA_EVERSION);
    ck_assert_int_eq(del(&c, NS, "k", AGORA_STORE_NEW), AGORA_EVERSION);
    ck_assert_int_eq(del(&c, NS, "missing", AGORA_STORE_NEW), AGORA_ENOENT);
    expect_value(&c, NS, "k", "three", 3);
    ck_assert_int_eq(del(&c, NS, "k", 3), 0);
    ck_assert_int_eq(del(&c, NS, "k", 3), AGORA_ENOENT);

    /* A key made again starts again at 1. */
    ck_assert_int_eq(put(&c, NS, "k", "again", AGORA_STORE_NEW, &v), 0);
    ck_assert_int_eq(v, 1);
    ctx_fini(&c);
}
END_TEST

/* A key that has children: its value comes and goes, its children stay,
 * and its versions are those of a key without children. */
START_TEST(test_versions_with_children)
{
    static const char *const kids[] = {"c1", "c2"};
    static const char *const top[] = {"p"};
    struct ctx c;
    int64_t v;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "p/c1", "1", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "p/c2", "2", AGORA_STORE_ANY, NULL), 0);
    /* An intermediate key reads as absent, lists its children. */
    expect_absent(&c, NS, "p");
    expect_list(&c, NS, "p", kids, 2);
    ck_assert_int_eq(del(&c, NS, "p", AGORA_STORE_ANY), AGORA_ENOENT);
    ck_assert_int_eq(put(&c, NS, "p", "x", 1, &v), AGORA_EVERSION);
    /* NEW on it succeeds: it has no value. */
    ck_assert_int_eq(put(&c, NS, "p", "parent", AGORA_STORE_NEW, &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(put(&c, NS, "p", "parent2", 1, &v), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(put(&c, NS, "p", "x", AGORA_STORE_NEW, &v),
                     AGORA_EVERSION);
    expect_list(&c, NS, "p", kids, 2);

    /* Deleting its value keeps its children. */
    ck_assert_int_eq(del(&c, NS, "p", 2), 0);
    expect_absent(&c, NS, "p");
    expect_list(&c, NS, "", top, 1);
    expect_list(&c, NS, "p", kids, 2);
    expect_value(&c, NS, "p/c1", "1", 1);
    expect_value(&c, NS, "p/c2", "2", 1);
    /* Made again, it starts again at 1. */
    ck_assert_int_eq(put(&c, NS, "p", "reborn", AGORA_STORE_ANY, &v), 0);
    ck_assert_int_eq(v, 1);
    /* Its last child gone, the value keeps it. */
    ck_assert_int_eq(del(&c, NS, "p/c1", AGORA_STORE_ANY), 0);
    ck_assert_int_eq(del(&c, NS, "p/c2", AGORA_STORE_ANY), 0);
    expect_list(&c, NS, "p", NULL, 0);
    expect_value(&c, NS, "p", "reborn", 1);
    ck_assert_int_eq(del(&c, NS, "p", AGORA_STORE_ANY), 0);
    expect_list(&c, NS, "", NULL, 0);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Refusals at call time; limits                                        */
/* ------------------------------------------------------------------ */

START_TEST(test_value_max)
{
    struct ctx c;
    struct rec r, never;
    char *big = malloc(AGORA_STORE_VALUE_MAX + 1);
    char deep[AGORA_STORE_KEY_MAX + 1];
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

    /*
     * The biggest request: a value of the limit under the longest key,
     * with 256 parents to create. Too big for one ZooKeeper request: the
     * parents go first.
     */
    for (i = 0; i < AGORA_STORE_KEY_MAX; i++)
        deep[i] = i % 2 ? '/' : 'd';
    deep[AGORA_STORE_KEY_MAX - 1] = 'e';
    deep[AGORA_STORE_KEY_MAX] = '\0';
    ck_assert_int_eq(store_key_valid(deep, 0), 0);
    ck_assert_int_eq(put_n(&c, NS, deep, big, AGORA_STORE_VALUE_MAX,
                           AGORA_STORE_NEW, NULL),
                     0);
    ck_assert_int_eq(get(&c, NS, deep, &r), 0);
    ck_assert_uint_eq(r.len, AGORA_STORE_VALUE_MAX);
    ck_assert_int_eq(r.version, 1);
    ck_assert_int_eq(memcmp(r.value, big, AGORA_STORE_VALUE_MAX), 0);
    rec_free(&r);
    ck_assert_int_eq(put_n(&c, NS, deep, big + 1, AGORA_STORE_VALUE_MAX,
                           AGORA_STORE_ANY, NULL),
                     0);
    ck_assert_int_eq(del(&c, NS, deep, 2), 0);
    expect_list(&c, NS, "", (const char *const[]){"big"}, 1);
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
        "",    "/a",  "a/",   "a//b", "a/.b", "../x", ".x",  "..",
        ".v",  "a/.v", "a b", "a\n",  "a/b/", "é",    "a*b", "a\\b"};
    static const char *const bad_ns[] = {"", "Test", "Bad", "a-b", "../x",
                                         "a/b", "a.b"};
    char long_key[AGORA_STORE_KEY_MAX + 2];
    struct store_stats st;
    struct store_op *op = NULL;
    struct ctx c;
    struct rec never;
    size_t i;

    ctx_init(&c);
    rec_init(&never, &c);
    for (i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++)
        expect_key_refused(&c, bad_keys[i], &never);

    for (i = 0; i < sizeof(bad_ns) / sizeof(bad_ns[0]); i++) {
        ck_assert_int_eq(store_ns_valid(bad_ns[i]), AGORA_EINVAL);
        ck_assert_int_eq(
            CALL(&c, store_get(c.s, bad_ns[i], "k", on_done, &never, &op)),
            AGORA_EINVAL);
    }
    ck_assert_int_eq(store_ns_valid(NULL), AGORA_EINVAL);
    ck_assert_int_eq(store_ns_valid("_core"), 0);
    ck_assert_int_eq(store_key_valid(NULL, 1), AGORA_EINVAL);
    ck_assert_int_eq(store_key_valid("", 1), 0);
    ck_assert_int_eq(store_key_valid("A-Z_a.b:c@d/e.f", 0), 0);
    /* Every byte inside a segment: exactly [A-Za-z0-9_.:@-] are taken. */
    for (i = 1; i < 256; i++) {
        char key[4] = {'a', (char)i, 'b', '\0'};
        int ok = (i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z') ||
                 (i >= '0' && i <= '9') || i == '_' || i == '.' ||
                 i == ':' || i == '@' || i == '-' || i == '/';

        ck_assert_msg(store_key_valid(key, 0) == (ok ? 0 : AGORA_EINVAL),
                      "byte %zu", i);
    }

    /* Versions below AGORA_STORE_ANY, and a NULL value with a length. */
    ck_assert_int_eq(CALL(&c, store_put(c.s, NS, "k", "v", 1, -2, on_done,
                                        &never, &op)),
                     AGORA_EINVAL);
    ck_assert_int_eq(
        CALL(&c, store_delete(c.s, NS, "k", -2, on_done, &never, &op)),
        AGORA_EINVAL);
    ck_assert_int_eq(CALL(&c, store_put(c.s, NS, "k", NULL, 3,
                                        AGORA_STORE_ANY, on_done, &never,
                                        &op)),
                     AGORA_EINVAL);
    ck_assert_ptr_null(op);
    /* Nothing reached the backend: not even the namespace was made. */
    ck_assert(!backend->holds(&c, NS));

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

    spin(&c);
    ck_assert_int_eq(never.called, 0);
    store_get_stats(c.s, &st);
    ck_assert_uint_eq(st.pending, 0);
    ck_assert_uint_gt(st.errors, 0);
    ctx_fini(&c);
}
END_TEST

/* A segment is at most AGORA_STORE_SEGMENT_MAX bytes, refused at call
 * time past that, for every backend, never later: the file system would
 * refuse a segment over NAME_MAX, and the local backend would complete
 * with an I/O error. */
START_TEST(test_segment_length)
{
    char key[300];
    struct ctx c;

    memset(key, 's', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    ctx_init(&c);
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

/* ------------------------------------------------------------------ */
/* Completions: never inside the call, in call order; cancel, close      */
/* ------------------------------------------------------------------ */

START_TEST(test_never_inside_call)
{
    struct ctx c;
    struct rec r[5];
    int i;

    ctx_init(&c);
    for (i = 0; i < 5; i++)
        rec_init(&r[i], &c);
    /* Even the answers that need no disk (a missing key). */
    START(&c, store_get(c.s, NS, "none", on_done, &r[0], NULL));
    START(&c, store_list(c.s, NS, "", on_done, &r[1], NULL));
    START(&c, store_put(c.s, NS, "k", "v", 1, AGORA_STORE_ANY, on_done, &r[2],
                       NULL));
    START(&c, store_delete(c.s, NS, "k", AGORA_STORE_ANY, on_done, &r[3],
                          NULL));
    /* Answered without ZooKeeper: still later, in order. */
    START(&c, store_put(c.s, NS, "k", "v", 1, (int64_t)1 << 40, on_done,
                       &r[4], NULL));
    for (i = 0; i < 5; i++)
        ck_assert_int_eq(r[i].called, 0);
    wait_for(&c, &r[4]);
    for (i = 0; i < 5; i++) {
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
        START(&c, store_put(c.s, NS, "same", value, strlen(value),
                           AGORA_STORE_ANY, on_done, &r[n], NULL));
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

/* A read of a key waits for the writes to it and to its parents and
 * children (a backend may run unrelated keys in parallel). */
START_TEST(test_parallel_keys)
{
    enum { N = 50 };
    struct ctx c;
    struct rec w[N], g[N], l;
    char key[32], value[32];
    int i;

    ctx_init(&c);
    for (i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "dir%d/k%d", i % 5, i);
        snprintf(value, sizeof(value), "v%d", i);
        rec_init(&w[i], &c);
        rec_init(&g[i], &c);
        START(&c, store_put(c.s, NS, key, value, strlen(value),
                           AGORA_STORE_NEW, on_done, &w[i], NULL));
        START(&c, store_get(c.s, NS, key, on_done, &g[i], NULL));
    }
    rec_init(&l, &c);
    START(&c, store_list(c.s, NS, "dir3", on_done, &l, NULL));
    wait_for(&c, &l);
    for (i = 0; i < N; i++) {
        snprintf(value, sizeof(value), "v%d", i);
        ck_assert_int_eq(w[i].err, 0);
        ck_assert_int_eq(g[i].err, 0);
        ck_assert_str_eq(g[i].value, value);
        ck_assert_int_eq(g[i].seq, w[i].seq + 1);
        rec_free(&w[i]);
        rec_free(&g[i]);
    }
    ck_assert_int_eq(l.err, 0);
    ck_assert_uint_eq(l.nnames, N / 5);
    rec_free(&l);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_cancel)
{
    struct ctx c;
    struct rec canceled, after;
    struct store_op *op = NULL;
    struct store_stats st;

    ctx_init(&c);
    rec_init(&canceled, &c);
    rec_init(&after, &c);
    START(&c, store_put(c.s, NS, "k", "written", 7, AGORA_STORE_ANY, on_done,
                       &canceled, &op));
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
        START(&c, store_put(c.s, NS, "k", value, strlen(value),
                           AGORA_STORE_ANY, on_done, &never, NULL));
    }
    /* Without running the loop once: the writes still happen. */
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
    /* The loop ends by itself: the store (and the backend: its watcher,
     * its session) holds nothing. */
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
/* Layout: persistence, lists, namespaces                               */
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
    backend->restart(&c);
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
    ck_assert_int_eq(put(&c, NS, "alpha", "has a value", AGORA_STORE_ANY,
                         NULL),
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

/* ------------------------------------------------------------------ */
/* Transactions                                                         */
/* ------------------------------------------------------------------ */

#define TXN_PUT(k, v, ver)                                                   \
    {.kind = AGORA_STORE_TXN_PUT, .key = (k), .value = (v),                  \
     .len = strlen(v), .version = (ver)}
#define TXN_DEL(k, ver)                                                      \
    {.kind = AGORA_STORE_TXN_DELETE, .key = (k), .version = (ver)}
#define TXN_CHECK(k, ver)                                                    \
    {.kind = AGORA_STORE_TXN_CHECK, .key = (k), .version = (ver)}

/* Runs a transaction to its completion; its error. r is filled. */
static int txn(struct ctx *c, const struct agora_store_txn_op *ops, size_t n,
               struct rec *r)
{
    rec_init(r, c);
    START(c, store_txn(c->s, NS, ops, n, on_done, r, NULL));
    ck_assert_int_eq(r->called, 0);
    wait_for(c, r);
    return r->err;
}

START_TEST(test_txn_commits_all)
{
    struct agora_store_txn_op t1[] = {
        TXN_PUT("a", "A2", 1), TXN_PUT("b", "B1", AGORA_STORE_NEW),
        TXN_CHECK("c", AGORA_STORE_NEW), TXN_DEL("d", AGORA_STORE_ANY),
        TXN_PUT("x/y/z", "deep", AGORA_STORE_NEW)};
    struct agora_store_txn_op t2[] = {TXN_CHECK("a", 2),
                                      TXN_DEL("x/y/z", 1),
                                      TXN_PUT("x/w", "w", AGORA_STORE_ANY),
                                      TXN_CHECK("b", AGORA_STORE_ANY)};
    struct agora_store_txn_op t3[] = {TXN_CHECK("a", AGORA_STORE_ANY),
                                      TXN_CHECK("none", AGORA_STORE_ANY)};
    struct ctx c;
    struct rec r;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "a", "A1", AGORA_STORE_NEW, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "d", "D1", AGORA_STORE_NEW, NULL), 0);

    ck_assert_int_eq(txn(&c, t1, 5, &r), 0);
    ck_assert_uint_eq(r.nversions, 5);
    ck_assert_int_eq(r.versions[0], 2);
    ck_assert_int_eq(r.versions[1], 1);
    ck_assert_int_eq(r.versions[2], 0);
    ck_assert_int_eq(r.versions[3], 0);
    ck_assert_int_eq(r.versions[4], 1);
    rec_free(&r);
    expect_value(&c, NS, "a", "A2", 2);
    expect_value(&c, NS, "b", "B1", 1);
    expect_absent(&c, NS, "c");
    expect_absent(&c, NS, "d");
    expect_value(&c, NS, "x/y/z", "deep", 1);
    /* The check of NEW left nothing behind, nor did the delete. */
    ck_assert(!backend->holds(&c, NS "/c"));
    ck_assert(!backend->holds(&c, NS "/d"));
    expect_list(&c, NS, "", (const char *const[]){"a", "b", "x"}, 3);

    /* A delete prunes the parents it alone kept, beside a put. */
    ck_assert_int_eq(txn(&c, t2, 4, &r), 0);
    ck_assert_int_eq(r.versions[0], 2);
    ck_assert_int_eq(r.versions[1], 0);
    ck_assert_int_eq(r.versions[2], 1);
    ck_assert_int_eq(r.versions[3], 1);
    rec_free(&r);
    expect_absent(&c, NS, "x/y/z");
    ck_assert(!backend->holds(&c, NS "/x/y"));
    expect_list(&c, NS, "x", (const char *const[]){"w"}, 1);

    /* Only checks: the versions as they are, 0 for a missing key. */
    ck_assert_int_eq(txn(&c, t3, 2, &r), 0);
    ck_assert_int_eq(r.versions[0], 2);
    ck_assert_int_eq(r.versions[1], 0);
    rec_free(&r);

    /* A put in a transaction counts like a put: the next is 3. */
    ck_assert_int_eq(put(&c, NS, "a", "A3", 2, NULL), 0);
    expect_value(&c, NS, "a", "A3", 3);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_txn_conflict_applies_nothing)
{
    struct agora_store_txn_op t1[] = {
        TXN_PUT("a", "new", 1), TXN_DEL("b", 1),
        TXN_PUT("c/deep/key", "c", AGORA_STORE_NEW), TXN_CHECK("e", 7)};
    struct agora_store_txn_op t2[] = {TXN_PUT("a", "x", AGORA_STORE_ANY),
                                      TXN_PUT("b", "x", AGORA_STORE_NEW)};
    struct agora_store_txn_op t3[] = {TXN_DEL("missing", AGORA_STORE_ANY)};
    struct agora_store_txn_op t4[] = {TXN_CHECK("a", AGORA_STORE_NEW)};
    struct agora_store_txn_op t5[] = {TXN_PUT("a", "x", 2)};
    struct agora_store_txn_op t6[] = {TXN_PUT("n/m", "x", AGORA_STORE_ANY),
                                      TXN_CHECK("a", (int64_t)1 << 40)};
    struct ctx c;
    struct rec r;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "a", "A", AGORA_STORE_NEW, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "b", "B", AGORA_STORE_NEW, NULL), 0);

    ck_assert_int_eq(txn(&c, t1, 4, &r), AGORA_EVERSION);
    ck_assert_uint_eq(r.failed, 3);
    ck_assert_uint_eq(r.nversions, 0);
    rec_free(&r);
    ck_assert_int_eq(txn(&c, t2, 2, &r), AGORA_EVERSION);
    ck_assert_uint_eq(r.failed, 1);
    rec_free(&r);
    ck_assert_int_eq(txn(&c, t3, 1, &r), AGORA_EVERSION);
    ck_assert_uint_eq(r.failed, 0);
    rec_free(&r);
    ck_assert_int_eq(txn(&c, t4, 1, &r), AGORA_EVERSION);
    ck_assert_uint_eq(r.failed, 0);
    rec_free(&r);
    ck_assert_int_eq(txn(&c, t5, 1, &r), AGORA_EVERSION);
    ck_assert_uint_eq(r.failed, 0);
    rec_free(&r);
    ck_assert_int_eq(txn(&c, t6, 2, &r), AGORA_EVERSION);
    ck_assert_uint_eq(r.failed, 1);
    rec_free(&r);

    /* Nothing of any of them. */
    expect_value(&c, NS, "a", "A", 1);
    expect_value(&c, NS, "b", "B", 1);
    expect_absent(&c, NS, "c/deep/key");
    expect_absent(&c, NS, "n/m");
    ck_assert(!backend->holds(&c, NS "/c"));
    ck_assert(!backend->holds(&c, NS "/n"));
    expect_list(&c, NS, "", (const char *const[]){"a", "b"}, 2);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_txn_refused_at_call)
{
    struct agora_store_txn_op ops[AGORA_STORE_TXN_MAX + 1];
    struct agora_store_txn_op dup[] = {TXN_PUT("a", "1", AGORA_STORE_ANY),
                                       TXN_CHECK("a", AGORA_STORE_ANY)};
    struct agora_store_txn_op bad[] = {TXN_PUT("a", "1", AGORA_STORE_ANY),
                                       TXN_CHECK("a//b", AGORA_STORE_ANY)};
    struct agora_store_txn_op badv[] = {TXN_DEL("a", -2)};
    struct agora_store_txn_op kind[] = {TXN_DEL("a", AGORA_STORE_ANY)};
    struct agora_store_txn_op big[2];
    char *value = malloc(AGORA_STORE_VALUE_MAX);
    char keys[AGORA_STORE_TXN_MAX + 1][16];
    struct store_op *op = NULL;
    struct ctx c;
    struct rec never;
    size_t i;

    ck_assert_ptr_nonnull(value);
    memset(value, 'v', AGORA_STORE_VALUE_MAX);
    ctx_init(&c);
    rec_init(&never, &c);
    for (i = 0; i <= AGORA_STORE_TXN_MAX; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
        ops[i] = (struct agora_store_txn_op)TXN_CHECK(keys[i], 1);
    }
    kind[0].kind = (enum agora_store_txn_kind)7;
    ck_assert_int_eq(CALL(&c, store_txn(c.s, NS, ops, AGORA_STORE_TXN_MAX + 1,
                                        on_done, &never, &op)),
                     AGORA_ETOOBIG);
    ck_assert_int_eq(
        CALL(&c, store_txn(c.s, NS, ops, 0, on_done, &never, &op)),
        AGORA_EINVAL);
    ck_assert_int_eq(
        CALL(&c, store_txn(c.s, NS, NULL, 1, on_done, &never, &op)),
        AGORA_EINVAL);
    ck_assert_int_eq(
        CALL(&c, store_txn(c.s, NS, dup, 2, on_done, &never, &op)),
        AGORA_EINVAL);
    ck_assert_int_eq(
        CALL(&c, store_txn(c.s, NS, bad, 2, on_done, &never, &op)),
        AGORA_EINVAL);
    ck_assert_int_eq(
        CALL(&c, store_txn(c.s, NS, badv, 1, on_done, &never, &op)),
        AGORA_EINVAL);
    ck_assert_int_eq(
        CALL(&c, store_txn(c.s, NS, kind, 1, on_done, &never, &op)),
        AGORA_EINVAL);
    ck_assert_int_eq(
        CALL(&c, store_txn(c.s, "Bad", dup, 1, on_done, &never, &op)),
        AGORA_EINVAL);
    /* Two values that fit alone, not together. */
    big[0] = (struct agora_store_txn_op){.kind = AGORA_STORE_TXN_PUT,
                                         .key = "b1",
                                         .value = value,
                                         .len = AGORA_STORE_VALUE_MAX / 2,
                                         .version = AGORA_STORE_ANY};
    big[1] = big[0];
    big[1].key = "b2";
    ck_assert_int_eq(
        CALL(&c, store_txn(c.s, NS, big, 2, on_done, &never, &op)),
        AGORA_ETOOBIG);
    ck_assert_ptr_null(op);
    /* The most it takes: AGORA_STORE_TXN_MAX checks. */
    ck_assert_int_eq(txn(&c, ops, AGORA_STORE_TXN_MAX, &never),
                     AGORA_EVERSION);
    ck_assert_uint_eq(never.failed, 0);
    rec_free(&never);
    ck_assert(!backend->holds(&c, NS "/b1"));
    free(value);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Children                                                             */
/* ------------------------------------------------------------------ */

static int children(struct ctx *c, const char *key, struct rec *r)
{
    rec_init(r, c);
    START(c, store_get_children(c->s, NS, key, on_done, r, NULL));
    ck_assert_int_eq(r->called, 0);
    wait_for(c, r);
    return r->err;
}

static void expect_entry(const struct rec *r, size_t i, const char *name,
                         const char *value, int64_t version)
{
    ck_assert_uint_gt(r->nentries, i);
    ck_assert_str_eq(r->entries[i].name, name);
    ck_assert_uint_eq(r->entries[i].len, strlen(value));
    ck_assert_str_eq(r->entries[i].value, value);
    ck_assert_int_eq(r->entries[i].version, version);
}

START_TEST(test_children)
{
    struct ctx c;
    struct rec r;

    ctx_init(&c);
    ck_assert_int_eq(children(&c, "", &r), 0);
    ck_assert_uint_eq(r.nentries, 0);
    rec_free(&r);
    ck_assert_int_eq(put(&c, NS, "apps/zeta", "z", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "apps/Mid", "m1", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "apps/Mid", "m2", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "apps/alpha", "", AGORA_STORE_ANY, NULL), 0);
    /* Only children below: left out; a grandchild is not read. */
    ck_assert_int_eq(put(&c, NS, "apps/group/g1", "g", AGORA_STORE_ANY, NULL),
                     0);
    ck_assert_int_eq(put(&c, NS, "apps", "the parent", AGORA_STORE_ANY, NULL),
                     0);
    ck_assert_int_eq(put(&c, NS, "other", "o", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, "ns2", "apps/x", "x", AGORA_STORE_ANY, NULL), 0);

    ck_assert_int_eq(children(&c, "apps", &r), 0);
    ck_assert_uint_eq(r.nentries, 3);
    expect_entry(&r, 0, "Mid", "m2", 2);
    expect_entry(&r, 1, "alpha", "", 1);
    expect_entry(&r, 2, "zeta", "z", 1);
    rec_free(&r);

    ck_assert_int_eq(children(&c, "", &r), 0);
    ck_assert_uint_eq(r.nentries, 2);
    expect_entry(&r, 0, "apps", "the parent", 1);
    expect_entry(&r, 1, "other", "o", 1);
    rec_free(&r);

    ck_assert_int_eq(children(&c, "apps/group", &r), 0);
    ck_assert_uint_eq(r.nentries, 1);
    expect_entry(&r, 0, "g1", "g", 1);
    rec_free(&r);
    ck_assert_int_eq(children(&c, "nothing/here", &r), 0);
    ck_assert_uint_eq(r.nentries, 0);
    rec_free(&r);
    ck_assert_int_eq(CALL(&c, store_get_children(c.s, NS, "a//b", on_done,
                                                 &r, NULL)),
                     AGORA_EINVAL);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_children_limit)
{
    char value[400];
    struct ctx c;
    struct rec r;

    memset(value, 'v', sizeof(value));
    ctx_init(&c);
    /* Names and values count: 2 * (400 + 2) = 804 bytes. */
    store_set_children_max(c.s, 804);
    ck_assert_int_eq(put_n(&c, NS, "d/k1", value, sizeof(value),
                           AGORA_STORE_ANY, NULL),
                     0);
    ck_assert_int_eq(put_n(&c, NS, "d/k2", value, sizeof(value),
                           AGORA_STORE_ANY, NULL),
                     0);
    ck_assert_int_eq(children(&c, "d", &r), 0);
    ck_assert_uint_eq(r.nentries, 2);
    ck_assert_uint_eq(r.entries[1].len, sizeof(value));
    rec_free(&r);
    ck_assert_int_eq(put(&c, NS, "d/k3", "x", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(children(&c, "d", &r), AGORA_ETOOBIG);
    ck_assert_uint_eq(r.nentries, 0);
    rec_free(&r);
    /* A sibling directory is not counted. */
    ck_assert_int_eq(children(&c, "", &r), 0);
    ck_assert_uint_eq(r.nentries, 0);
    rec_free(&r);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Watches                                                              */
/* ------------------------------------------------------------------ */

#define NEVENTS 16

struct watcher {
    struct ctx *c;
    int n;
    int event[NEVENTS];
    char key[NEVENTS][32];
    int64_t version[NEVENTS];
    int seq[NEVENTS];
    struct store_watch *other; /* unwatched by the first event, if set */
};

static void on_event(void *arg, enum agora_store_event ev, const char *key,
                     int64_t version)
{
    struct watcher *w = arg;

    if (w->c->in_call)
        w->c->inside++;
    ck_assert_int_lt(w->n, NEVENTS);
    w->event[w->n] = ev;
    snprintf(w->key[w->n], sizeof(w->key[0]), "%s", key);
    w->version[w->n] = version;
    w->seq[w->n] = w->c->seq++;
    w->n++;
    if (w->other != NULL) {
        store_unwatch(w->c->s, w->other);
        w->other = NULL;
    }
}

static void expect_event(const struct watcher *w, int i, int ev,
                         const char *key, int64_t version)
{
    ck_assert_int_gt(w->n, i);
    ck_assert_int_eq(w->event[i], ev);
    ck_assert_str_eq(w->key[i], key);
    ck_assert_int_eq(w->version[i], version);
}

START_TEST(test_watch)
{
    struct agora_store_txn_op t[] = {TXN_PUT("apps/b", "b", AGORA_STORE_NEW),
                                     TXN_DEL("apps/a", 2),
                                     TXN_CHECK("apps/c", AGORA_STORE_NEW)};
    struct agora_store_txn_op bad[] = {TXN_PUT("apps/b", "b", 7)};
    struct watcher apps, all, gone;
    struct store_watch *h_apps, *h_all, *h_gone;
    struct rec r[8];
    struct ctx c;
    int i;

    ctx_init(&c);
    memset(&apps, 0, sizeof(apps));
    memset(&all, 0, sizeof(all));
    memset(&gone, 0, sizeof(gone));
    apps.c = all.c = gone.c = &c;
    ck_assert_int_eq(
        store_watch(c.s, NS, "apps", on_event, &apps, &h_apps), 0);
    ck_assert_int_eq(store_watch(c.s, NS, "", on_event, &all, &h_all), 0);
    ck_assert_int_eq(
        store_watch(c.s, NS, "apps", on_event, &gone, &h_gone), 0);
    ck_assert_int_eq(store_watch(c.s, NS, "a//b", on_event, &gone, &h_gone),
                     AGORA_EINVAL);
    ck_assert_int_eq(store_watch(c.s, NS, "", NULL, &gone, &h_gone),
                     AGORA_EINVAL);
    store_unwatch(c.s, h_gone);

    for (i = 0; i < 8; i++)
        rec_init(&r[i], &c);
    /* All started at once: each completion, then its events. */
    START(&c, store_put(c.s, NS, "apps/a", "1", 1, AGORA_STORE_NEW, on_done,
                       &r[0], NULL));
    START(&c, store_put(c.s, NS, "apps/a", "2", 1, 1, on_done, &r[1], NULL));
    START(&c, store_put(c.s, NS, "apps2", "x", 1, AGORA_STORE_ANY, on_done,
                       &r[2], NULL));
    START(&c, store_put(c.s, "ns2", "apps/a", "x", 1, AGORA_STORE_ANY,
                       on_done, &r[3], NULL));
    START(&c, store_txn(c.s, NS, t, 3, on_done, &r[4], NULL));
    /* Failures write nothing: no event. */
    START(&c, store_txn(c.s, NS, bad, 1, on_done, &r[5], NULL));
    START(&c, store_delete(c.s, NS, "apps/none", AGORA_STORE_ANY, on_done,
                          &r[6], NULL));
    START(&c, store_delete(c.s, NS, "apps/b", 1, on_done, &r[7], NULL));
    wait_for(&c, &r[7]);
    spin(&c);

    ck_assert_int_eq(r[4].err, 0);
    ck_assert_int_eq(r[5].err, AGORA_EVERSION);
    ck_assert_int_eq(r[6].err, AGORA_ENOENT);
    ck_assert_int_eq(apps.n, 5);
    expect_event(&apps, 0, AGORA_STORE_CREATED, "apps/a", 1);
    expect_event(&apps, 1, AGORA_STORE_CHANGED, "apps/a", 2);
    expect_event(&apps, 2, AGORA_STORE_CREATED, "apps/b", 1);
    expect_event(&apps, 3, AGORA_STORE_DELETED, "apps/a", 0);
    expect_event(&apps, 4, AGORA_STORE_DELETED, "apps/b", 0);
    /* Each after its write's completion, before the next one's. */
    ck_assert_int_gt(apps.seq[0], r[0].seq);
    ck_assert_int_lt(apps.seq[0], r[1].seq);
    ck_assert_int_gt(apps.seq[1], r[1].seq);
    ck_assert_int_lt(apps.seq[1], r[2].seq);
    ck_assert_int_gt(apps.seq[2], r[4].seq);
    ck_assert_int_lt(apps.seq[3], r[5].seq);
    ck_assert_int_gt(apps.seq[4], r[7].seq);

    ck_assert_int_eq(all.n, 6);
    expect_event(&all, 2, AGORA_STORE_CREATED, "apps2", 1);
    ck_assert_int_eq(gone.n, 0);

    /* Unwatched: no more events; the other still hears. */
    store_unwatch(c.s, h_apps);
    ck_assert_int_eq(put(&c, NS, "apps/c", "c", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(apps.n, 5);
    ck_assert_int_eq(all.n, 7);
    for (i = 0; i < 8; i++)
        rec_free(&r[i]);
    ctx_fini(&c);
}
END_TEST

/* A watch unwatched by an earlier watch's callback, for the same write,
 * does not run; closing the store frees the watches left. */
START_TEST(test_unwatch_inside_callback)
{
    struct watcher first, second;
    struct store_watch *h1, *h2;
    struct ctx c;

    ctx_init(&c);
    memset(&first, 0, sizeof(first));
    memset(&second, 0, sizeof(second));
    first.c = second.c = &c;
    /* Newest first: h1 (made last) runs first. */
    ck_assert_int_eq(store_watch(c.s, NS, "k", on_event, &second, &h2), 0);
    ck_assert_int_eq(store_watch(c.s, NS, "k", on_event, &first, &h1), 0);
    first.other = h2;
    ck_assert_int_eq(put(&c, NS, "k", "v", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(first.n, 1);
    ck_assert_int_eq(second.n, 0);
    ck_assert_int_eq(put(&c, NS, "k/child", "v", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(first.n, 2);
    ck_assert_int_eq(second.n, 0);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Fencing                                                             */
/* ------------------------------------------------------------------ */

/* Starts a txn putting key=value; its error once done. */
static int txn_put(struct ctx *c, const char *key, const char *value)
{
    const struct agora_store_txn_op op = {.kind = AGORA_STORE_TXN_PUT,
                                          .key = key,
                                          .value = value,
                                          .len = strlen(value),
                                          .version = AGORA_STORE_ANY};
    struct rec r;
    int err;

    rec_init(&r, c);
    START(c, store_txn(c->s, NS, &op, 1, on_done, &r, NULL));
    wait_for(c, &r);
    err = r.err;
    rec_free(&r);
    return err;
}

/*
 * A store whose term ended refuses every write (put of a new or an
 * existing key, delete, transaction) with AGORA_ENOTLEADER and changes
 * nothing, still reads, and writes again in the next term. A store on
 * which no term began was not fenced: its first writes worked.
 */
START_TEST(test_term_fences_writes)
{
    struct ctx c;
    struct rec r;

    ctx_init(&c);
    if (!fenced) /* unfenced till now: writes need no term */
        ck_assert_int_eq(put(&c, NS, "k", "v0", AGORA_STORE_ANY, NULL), 0);
    begin_term(&c);
    ck_assert_int_eq(put(&c, NS, "k", "v1", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "gone", "x", AGORA_STORE_NEW, NULL), 0);
    store_term_end(c.s);

    ck_assert_int_eq(put(&c, NS, "k", "v2", AGORA_STORE_ANY, NULL),
                     AGORA_ENOTLEADER);
    ck_assert_int_eq(put(&c, NS, "new/deep/key", "v", AGORA_STORE_NEW, NULL),
                     AGORA_ENOTLEADER);
    ck_assert_int_eq(del(&c, NS, "gone", AGORA_STORE_ANY), AGORA_ENOTLEADER);
    ck_assert_int_eq(txn_put(&c, "t", "v"), AGORA_ENOTLEADER);
    expect_value(&c, NS, "k", "v1", fenced ? 1 : 2);
    expect_value(&c, NS, "gone", "x", 1);
    expect_absent(&c, NS, "new/deep/key");
    ck_assert(!backend->holds(&c, NS "/new"));
    expect_absent(&c, NS, "t");
    ck_assert_int_eq(list(&c, NS, "", &r), 0);
    ck_assert_uint_eq(r.nnames, 2); /* gone, k */
    rec_free(&r);

    begin_term(&c);
    ck_assert_int_eq(put(&c, NS, "k", "v3", AGORA_STORE_ANY, NULL), 0);
    expect_value(&c, NS, "k", "v3", fenced ? 2 : 3);
    ck_assert_int_eq(del(&c, NS, "gone", AGORA_STORE_ANY), 0);
    ck_assert_int_eq(txn_put(&c, "t", "v"), 0);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */

void store_suite_add(TCase *tc, const struct suite_backend *b)
{
    backend = b;
    tcase_add_test(tc, test_put_get_list_delete);
    tcase_add_test(tc, test_deep_keys_prune);
    tcase_add_test(tc, test_versions);
    tcase_add_test(tc, test_versions_with_children);
    tcase_add_test(tc, test_value_max);
    tcase_add_test(tc, test_invalid_refused_at_call);
    tcase_add_test(tc, test_segment_length);
    tcase_add_test(tc, test_never_inside_call);
    tcase_add_test(tc, test_call_order);
    tcase_add_test(tc, test_parallel_keys);
    tcase_add_test(tc, test_cancel);
    tcase_add_test(tc, test_close_drains);
    tcase_add_test(tc, test_close_inside_callback);
    tcase_add_test(tc, test_idle_store_lets_loop_end);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_persistence);
    tcase_add_test(tc, test_list_sorted);
    tcase_add_test(tc, test_namespaces_isolated);
    tcase_add_test(tc, test_txn_commits_all);
    tcase_add_test(tc, test_txn_conflict_applies_nothing);
    tcase_add_test(tc, test_txn_refused_at_call);
    tcase_add_test(tc, test_children);
    tcase_add_test(tc, test_children_limit);
    tcase_add_test(tc, test_watch);
    tcase_add_test(tc, test_unwatch_inside_callback);
    tcase_add_test(tc, test_term_fences_writes);
}
