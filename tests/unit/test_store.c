/*
 * test_store.c - the store's local backend, driven through a real libev
 * loop on a fresh temporary directory per test: the suite every backend
 * runs (store_suite.c), then what only files show (leftovers swept at
 * open, damaged values, refused writes, a crash in the middle of a put).
 */
#include <errno.h>
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
#include "store_suite.h"

/* ------------------------------------------------------------------ */
/* The backend                                                         */
/* ------------------------------------------------------------------ */

/* A struct ctx's b. */
struct local {
    char *tmp;  /* a mkdtemp() directory, removed by local_fini() */
    char *root; /* <tmp>/state: made by the store when it opens */
};

#define LOCAL(c) ((struct local *)(c)->b)

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);

    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static void local_init(struct ctx *c)
{
    const char *base = getenv("TMPDIR");
    struct local *l = calloc(1, sizeof(*l));
    char *tmpl;

    ck_assert_ptr_nonnull(l);
    tmpl = join(base && *base ? base : "/tmp", "agora-store-XXXXXX");
    l->tmp = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(l->tmp);
    l->root = join(l->tmp, "state");
    c->b = l;
}

static void local_open(struct ctx *c)
{
    ck_assert_int_eq(store_open_local(c->loop, LOCAL(c)->root, &c->s), 0);
}

/* A new loop too, as after a restart. */
static void local_restart(struct ctx *c)
{
    ev_loop_destroy(c->loop);
    c->loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(c->loop);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void local_fini(struct ctx *c)
{
    struct local *l = LOCAL(c);

    ck_assert_int_eq(nftw(l->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(l->root);
    free(l->tmp);
    free(l);
    c->b = NULL;
}

/* A directory for path below the root: what a key or a namespace is. */
static int local_holds(struct ctx *c, const char *path)
{
    struct stat st;
    char *p = join(LOCAL(c)->root, path);
    int rc = stat(p, &st);

    free(p);
    return rc == 0;
}

static const struct suite_backend local_backend = {
    .name = "local",
    .init = local_init,
    .open = local_open,
    .restart = local_restart,
    .fini = local_fini,
    .holds = local_holds,
};

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

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
    p = join(LOCAL(&c)->root, NS "/keep/.tmp.0123456789abcdef");
    write_file(p, "junk", 4);
    free(p);
    p = join(LOCAL(&c)->root, NS "/empty");
    ck_assert_int_eq(mkdir(p, 0700), 0);
    free(p);
    p = join(LOCAL(&c)->root, NS "/empty/nested");
    ck_assert_int_eq(mkdir(p, 0700), 0);
    free(p);
    p = join(LOCAL(&c)->root, NS "/empty/nested/.tmp.x");
    write_file(p, "junk", 4);
    free(p);
    /* Not the store's: the top level is left alone. */
    p = join(LOCAL(&c)->root, "Other");
    ck_assert_int_eq(mkdir(p, 0700), 0);
    free(p);
    p = join(LOCAL(&c)->root, "Other/.tmp.y");
    write_file(p, "theirs", 6);
    free(p);
    ck_assert_int_eq(count_tmp(LOCAL(&c)->root), 3);

    ctx_open(&c);
    ck_assert_int_eq(count_tmp(LOCAL(&c)->root), 1);
    p = join(LOCAL(&c)->root, "Other/.tmp.y");
    ck_assert_int_eq(stat(p, &st), 0);
    free(p);
    p = join(LOCAL(&c)->root, NS "/empty");
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
    p = join(LOCAL(&c)->root, NS "/k/.value");
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
    dir = join(LOCAL(&c)->root, NS "/blocked");
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
    dir = join(LOCAL(&c)->root, NS "/k");
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
    ck_assert_int_eq(count_tmp(LOCAL(&c)->root), 0);
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
    file = join(LOCAL(&c)->tmp, "a-file");
    write_file(file, "x", 1);
    ck_assert_int_eq(store_open_local(c.loop, file, &s), AGORA_EIO);
    ck_assert_ptr_null(s);
    free(file);
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

/* Forks child(root, fd) (it writes what it completed to fd and never
 * returns), SIGKILLs it after delay_ms, and returns the last operation
 * it said was done. */
static long crash_run(const char *root, void (*child)(const char *, int),
                      int round, int delay_ms)
{
    struct timespec ts = {0, (long)delay_ms * 1000000L};
    long last;
    pid_t pid;
    int fds[2], status;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        child(root, fds[1]);
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
    return last;
}

/* Forks a child that puts in a loop, kills it after delay_ms, then
 * checks what it left. Returns how many puts it completed. */
static long crash_round(struct ctx *c, int round, int delay_ms, int *torn)
{
    char name[32];
    char *root;
    struct rec r;
    long last;

    snprintf(name, sizeof(name), "round-%d", round);
    root = join(LOCAL(c)->tmp, name);
    last = crash_run(root, crash_child, round, delay_ms);
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
/* A crash in the middle of a transaction                               */
/* ------------------------------------------------------------------ */

#define TXN_KEYS 8

struct txn_crasher {
    struct store *s;
    int fd; /* the pipe: each completed transaction's number */
    long i;
    char keys[TXN_KEYS][8];
    char value[32];
};

static void txn_crash_next(struct txn_crasher *cr);

static void txn_crash_done(void *arg, int err, const store_result *res)
{
    struct txn_crasher *cr = arg;
    size_t k;

    if (err != 0 || res->nversions != TXN_KEYS)
        _exit(3);
    for (k = 0; k < TXN_KEYS; k++)
        if (res->versions[k] != cr->i)
            _exit(3);
    if (write(cr->fd, &cr->i, sizeof(cr->i)) != (ssize_t)sizeof(cr->i))
        _exit(4);
    cr->i++;
    txn_crash_next(cr);
}

/* Transaction i puts "i" under every key: versions and values agree. */
static void txn_crash_next(struct txn_crasher *cr)
{
    struct agora_store_txn_op ops[TXN_KEYS];
    size_t k;

    snprintf(cr->value, sizeof(cr->value), "%ld", cr->i);
    for (k = 0; k < TXN_KEYS; k++)
        ops[k] = (struct agora_store_txn_op){.kind = AGORA_STORE_TXN_PUT,
                                             .key = cr->keys[k],
                                             .value = cr->value,
                                             .len = strlen(cr->value),
                                             .version = AGORA_STORE_ANY};
    if (store_txn(cr->s, CRASH_NS, ops, TXN_KEYS, txn_crash_done, cr,
                  NULL) != 0)
        _exit(2);
}

static void txn_crash_child(const char *root, int fd)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct txn_crasher cr;
    size_t k;

    alarm(10);
    cr.fd = fd;
    cr.i = 1;
    for (k = 0; k < TXN_KEYS; k++)
        snprintf(cr.keys[k], sizeof(cr.keys[k]), "k%zu", k);
    if (loop == NULL || store_open_local(loop, root, &cr.s) != 0)
        _exit(1);
    txn_crash_next(&cr);
    ev_run(loop, 0);
    _exit(5);
}

/* Every key holds transaction last's value or last + 1's, the same. */
static void txn_crash_check(const struct rec *r, long last, int round)
{
    char want[32];
    long v;
    size_t k;

    ck_assert_msg(r->err == 0, "round %d: read failed: %d", round, r->err);
    if (r->nentries == 0) {
        ck_assert_msg(last == 0, "round %d: nothing after txn %ld", round,
                      last);
        return;
    }
    ck_assert_msg(r->nentries == TXN_KEYS, "round %d: %zu keys of %d",
                  round, r->nentries, TXN_KEYS);
    v = strtol(r->entries[0].value, NULL, 10);
    ck_assert_msg(v == last || v == last + 1,
                  "round %d: txn %ld after txn %ld completed", round, v,
                  last);
    snprintf(want, sizeof(want), "%ld", v);
    for (k = 0; k < TXN_KEYS; k++) {
        ck_assert_msg(strcmp(r->entries[k].value, want) == 0,
                      "round %d: key %zu holds txn %s, key 0 txn %ld", round,
                      k, r->entries[k].value, v);
        ck_assert_int_eq(r->entries[k].version, v);
    }
}

static int file_exists(const char *dir, const char *name)
{
    char *p = join(dir, name);
    struct stat st;
    int rc = stat(p, &st);

    free(p);
    return rc == 0;
}

/* Forks a child that runs transactions, kills it after delay_ms, checks
 * that the store holds all of one or none of it. Returns how many it
 * saw complete; *pending counts rounds killed with a journal on disk. */
static long txn_crash_round(struct ctx *c, int round, int delay_ms,
                            int *pending)
{
    char name[32];
    char *root;
    struct rec r;
    long last;

    snprintf(name, sizeof(name), "txn-round-%d", round);
    root = join(LOCAL(c)->tmp, name);
    last = crash_run(root, txn_crash_child, round, delay_ms);
    *pending += file_exists(root, ".txn");

    ck_assert_int_eq(store_open_local(c->loop, root, &c->s), 0);
    /* Applied (or discarded) at open. */
    ck_assert(!file_exists(root, ".txn"));
    ck_assert(!file_exists(root, ".txn.tmp"));
    rec_init(&r, c);
    START(c, store_get_children(c->s, CRASH_NS, "", on_done, &r, NULL));
    wait_for(c, &r);
    txn_crash_check(&r, last, round);
    rec_free(&r);
    ctx_close_store(c);
    free(root);
    return last;
}

START_TEST(test_crash_mid_transaction)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    struct ctx c;
    int round, delay, pending = 0, with_txns = 0;
    long txns = 0, last;

    ctx_init(&c);
    ctx_close_store(&c);
    for (round = 0; round < CRASH_ROUNDS; round++) {
        /* A transaction of 8 keys is some 30 fsyncs: later rounds wait
         * longer, so that some kills come after commits. */
        delay = 1 + (int)(rand_r(&seed) % (unsigned)(20 + 30 * round));
        last = txn_crash_round(&c, round, delay, &pending);
        txns += last;
        with_txns += last > 0;
    }
    fprintf(stderr,
            "txn crash: %d rounds, %d with completed transactions (%ld in "
            "all), %d killed with a journal on disk\n",
            CRASH_ROUNDS, with_txns, txns, pending);
    ck_assert_int_gt(with_txns, 0);
    ctx_open(&c);
    ctx_fini(&c);
}
END_TEST

/* A journal that does not check out fails the open, rather than guess. */
START_TEST(test_damaged_journal_fails_open)
{
    struct ctx c;
    struct store *s = NULL;
    char *path;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "k", "v", AGORA_STORE_ANY, NULL), 0);
    ctx_close_store(&c);
    path = join(LOCAL(&c)->root, ".txn");
    write_file(path, "AGTX\1\0\0\0garbage garbage garbage", 32);
    ck_assert_int_eq(store_open_local(c.loop, LOCAL(&c)->root, &s),
                     AGORA_EIO);
    ck_assert_ptr_null(s);
    /* A .txn.tmp never committed: removed, and the store opens. */
    ck_assert_int_eq(unlink(path), 0);
    free(path);
    path = join(LOCAL(&c)->root, ".txn.tmp");
    write_file(path, "anything", 8);
    ctx_open(&c);
    ck_assert(!file_exists(LOCAL(&c)->root, ".txn.tmp"));
    expect_value(&c, NS, "k", "v", 1);
    free(path);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("local");
    TCase *fenced = tcase_create("local, in a term");

    /* The suite again with every store in a term, as the master's is. */
    tcase_set_timeout(fenced, 30);
    store_suite_add(fenced, &local_backend);
    store_suite_fenced(fenced);
    suite_add_tcase(s, fenced);
    tcase_set_timeout(tc, 30);
    store_suite_add(tc, &local_backend);
    tcase_add_test(tc, test_open_sweeps_leftovers);
    tcase_add_test(tc, test_damaged_value_is_eio);
    tcase_add_test(tc, test_write_refused_is_eio);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_crash_atomicity);
    tcase_add_test(tc, test_crash_mid_transaction);
    tcase_add_test(tc, test_damaged_journal_fails_open);
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
