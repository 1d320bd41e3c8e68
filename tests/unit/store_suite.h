/*
 * store_suite.h - the store's semantics, one suite for every backend.
 *
 * store_suite.c holds the fixture, the synchronous helpers and the tests
 * of what every backend promises (put, get, delete, list, versions,
 * refusals, completion order, cancel, close). test_store.c (the local
 * backend) and test_store_zk.c (ZooKeeper) each describe their backend in
 * a struct suite_backend, add the suite's tests to a TCase of theirs with
 * store_suite_add(), and keep the tests only their backend can run.
 *
 * Every store call in these tests goes through CALL(), which raises a
 * flag around it; every callback checks the flag, so each test also
 * checks that no completion ever runs inside the call that started it.
 */
#ifndef AGORA_TESTS_STORE_SUITE_H
#define AGORA_TESTS_STORE_SUITE_H

#include <check.h>
#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define NS "test"

struct ctx {
    struct ev_loop *loop;
    struct store *s;
    void *b;     /* the backend's state, from its init() */
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
    /* children: copies; txn: versions and the failed index */
    struct store_entry *entries;
    size_t nentries;
    int64_t *versions;
    size_t nversions;
    size_t failed;
};

/*
 * A backend under test. Each function fails the test (ck_assert) rather
 * than return an error.
 */
struct suite_backend {
    /* What store_backend_name() says of a store it opened. */
    const char *name;
    /* Makes c->b, on c->loop: fresh, empty data (a directory, a root). */
    void (*init)(struct ctx *c);
    /* Opens c->s on c->b's data, first or again. */
    void (*open)(struct ctx *c);
    /* With the store closed: what a restart changes (a new loop, a new
     * session), the data kept. */
    void (*restart)(struct ctx *c);
    /* With the store closed: releases c->b, removes its data; the loop
     * is destroyed after. */
    void (*fini)(struct ctx *c);
    /* Whether the backend keeps anything (a directory, a znode) for path:
     * a namespace, or a namespace, '/' and a key. */
    int (*holds)(struct ctx *c, const char *path);
    /* A fence for a new term (store_term_begin), malloc'ed, as the
     * master's election gives it: ZooKeeper's, a live ephemeral znode of
     * c's session; NULL for a backend that takes none. */
    char *(*fence)(struct ctx *c);
};

extern int store_call_rc;
#define CALL(c, expr)                                                        \
    ((c)->in_call = 1, store_call_rc = (expr), (c)->in_call = 0,             \
     store_call_rc)
/* A call that must be accepted. */
#define START(c, expr) ck_assert_int_eq(CALL(c, expr), 0)

/* Adds the suite's tests to tc, run against b (which must outlive the
 * run: tests read it from a global). */
void store_suite_add(TCase *tc, const struct suite_backend *b);

/*
 * Runs tc's tests fenced, as the master's writes are: every store the
 * fixture opens begins a term with a fence of the backend's, so every
 * write goes the fenced way (ZooKeeper: a multi checking the fence
 * first). Adds a checked fixture to tc.
 */
void store_suite_fenced(TCase *tc);

/* The fixture: a loop, the backend's data and a store open on it. */
void ctx_init(struct ctx *c);
void ctx_open(struct ctx *c);
void ctx_close_store(struct ctx *c);
void ctx_fini(struct ctx *c);

void rec_init(struct rec *r, struct ctx *c);
void rec_free(struct rec *r);
/* A store_cb: copies what it is handed into the struct rec arg. */
void on_done(void *arg, int err, const store_result *res);
/* Runs the loop until r's completion has run (the store keeps the loop
 * running while an op is pending). */
void wait_for(struct ctx *c, struct rec *r);
/* Lets the loop run whatever is ready, without waiting. */
void spin(struct ctx *c);

/* Synchronous wrappers: start the op, check it was accepted, wait; the
 * op's error. get() and list() fill r, which the caller rec_free()s. */
int get(struct ctx *c, const char *ns, const char *key, struct rec *r);
int put_n(struct ctx *c, const char *ns, const char *key, const void *value,
          size_t len, int64_t version, int64_t *new_version);
int put(struct ctx *c, const char *ns, const char *key, const char *value,
        int64_t version, int64_t *new_version);
int del(struct ctx *c, const char *ns, const char *key, int64_t version);
int list(struct ctx *c, const char *ns, const char *key, struct rec *r);

/* Checks that ns/key holds value at version. */
void expect_value(struct ctx *c, const char *ns, const char *key,
                  const char *value, int64_t version);
/* Checks that ns/key has no value. */
void expect_absent(struct ctx *c, const char *ns, const char *key);
/* Checks that list(ns, key) gives exactly the n names of want, in order. */
void expect_list(struct ctx *c, const char *ns, const char *key,
                 const char *const *want, size_t n);

#endif
