/*
 * test_store.c - the store's local backend, driven through a real libev
 * loop on a fresh temporary directory per test: the suite every backend
 * runs (store_suite.c), then what only this backend shows: a crash in
 * the middle of puts and transactions (kill -9), a full disk, the
 * migration from the old layout, damaged and foreign files, a second
 * process on the same store, and the key packing's order.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "fs.h"
#include "log.h"
#include "store_key.h"
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

/* A namespace made, or a key with a value or keys below it. */
static int local_holds(struct ctx *c, const char *path)
{
    return store_local_holds(c->s, path);
}

static const struct suite_backend local_backend = {
    .name = "local",
    .init = local_init,
    .open = local_open,
    .restart = local_restart,
    .fini = local_fini,
    .holds = local_holds,
};

#define HDR 24

/* join() for a call whose result is used once: freed at the next. */
static char *join_tmp(const char *a, const char *b)
{
    static char *last;

    free(last);
    last = join(a, b);
    return last;
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    ck_assert_int_eq(close(fd), 0);
}

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
    *torn += last > 0;

    ck_assert_int_eq(store_open_local(c->loop, root, &c->s), 0);
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
            "crash: %d rounds, %d with completed puts (%ld in all)\n",
            CRASH_ROUNDS, with_puts, puts);
    (void)torn;
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
    *pending += last > 0;

    ck_assert_int_eq(store_open_local(c->loop, root, &c->s), 0);
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
        /* Later rounds wait longer, so that some kills come after
         * commits. */
        delay = 1 + (int)(rand_r(&seed) % (unsigned)(20 + 30 * round));
        last = txn_crash_round(&c, round, delay, &pending);
        txns += last;
        with_txns += last > 0;
    }
    fprintf(stderr,
            "txn crash: %d rounds, %d with completed transactions (%ld in "
            "all)\n",
            CRASH_ROUNDS, with_txns, txns);
    (void)pending;
    ck_assert_int_gt(with_txns, 0);
    ctx_open(&c);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* A crash in a stream of puts, many in flight                          */
/* ------------------------------------------------------------------ */

#define STREAM_ROUNDS 10
#define STREAM_INFLIGHT 100

struct streamer {
    struct store *s;
    int fd;       /* the pipe: each completed put's number */
    long next;    /* the next put to start */
    char buf[64];
};

static void stream_start(struct streamer *st);

static void stream_done(void *arg, int err, const store_result *res)
{
    struct streamer *st = arg;
    long i;

    /* The completions come in call order: the oldest in flight. */
    i = st->next - STREAM_INFLIGHT;
    if (err != 0 || res->version != 1)
        _exit(3);
    if (write(st->fd, &i, sizeof(i)) != (ssize_t)sizeof(i))
        _exit(4);
    stream_start(st);
}

/* Put i writes "value-<i>" padded to 1 KB under key k<i>. */
static size_t stream_value(long i, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "value-%ld", i);

    return (size_t)n;
}

static void stream_start(struct streamer *st)
{
    char key[32];
    size_t len = stream_value(st->next, st->buf, sizeof(st->buf));

    snprintf(key, sizeof(key), "k%ld", st->next);
    if (store_put(st->s, CRASH_NS, key, st->buf, len, AGORA_STORE_NEW,
                  stream_done, st, NULL) != 0)
        _exit(2);
    st->next++;
}

static void stream_child(const char *root, int fd)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct streamer st;
    int i;

    alarm(10);
    st.fd = fd;
    st.next = 1;
    if (loop == NULL || store_open_local(loop, root, &st.s) != 0)
        _exit(1);
    for (i = 0; i < STREAM_INFLIGHT; i++)
        stream_start(&st);
    ev_run(loop, 0);
    _exit(5);
}

/* Every put the child saw complete is there, and every key there holds
 * its own value whole. */
static void stream_check(struct ctx *c, long last, int round)
{
    char want[64];
    struct rec r;
    size_t k;
    long i, seen = 0;

    rec_init(&r, c);
    START(c, store_get_children(c->s, CRASH_NS, "", on_done, &r, NULL));
    wait_for(c, &r);
    ck_assert_int_eq(r.err, 0);
    for (k = 0; k < r.nentries; k++) {
        i = strtol(r.entries[k].name + 1, NULL, 10);
        stream_value(i, want, sizeof(want));
        ck_assert_msg(strcmp(r.entries[k].value, want) == 0,
                      "round %d: k%ld holds %s", round, i,
                      r.entries[k].value);
        ck_assert_int_eq(r.entries[k].version, 1);
        seen += i <= last;
    }
    ck_assert_msg(seen == last, "round %d: %ld of %ld completed puts there",
                  round, seen, last);
    rec_free(&r);
}

START_TEST(test_crash_stream)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    struct ctx c;
    char name[32];
    char *root;
    int round;
    long last, puts = 0;

    ctx_init(&c);
    ctx_close_store(&c);
    for (round = 0; round < STREAM_ROUNDS; round++) {
        snprintf(name, sizeof(name), "stream-%d", round);
        root = join(LOCAL(&c)->tmp, name);
        last = crash_run(root, stream_child, round,
                         5 + (int)(rand_r(&seed) % 200));
        ck_assert_int_eq(store_open_local(c.loop, root, &c.s), 0);
        stream_check(&c, last, round);
        ctx_close_store(&c);
        puts += last;
        free(root);
    }
    fprintf(stderr, "stream crash: %d rounds, %ld completed puts checked\n",
            STREAM_ROUNDS, puts);
    ck_assert_int_gt(puts, 0);
    ctx_open(&c);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* A full disk                                                          */
/* ------------------------------------------------------------------ */

/*
 * In a child with a mount namespace of its own: the store on a 2 MB
 * tmpfs. Puts fail with AGORA_EIO once it is full, what was written
 * stays readable, and after a delete frees room puts work again.
 * Exit 0 when all of that held, 77 when mounts are not allowed here.
 */
static void full_disk_child(const char *dir)
{
    struct ctx c;
    char key[32], value[16384];
    long i, ok = 0;
    int rc = 0;

    if (unshare(CLONE_NEWNS) != 0 ||
        mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=2m,mode=0700") != 0)
        _exit(77);
    memset(value, 'x', sizeof(value));
    ctx_init(&c);
    ctx_close_store(&c);
    ck_assert_int_eq(store_open_local(c.loop, dir, &c.s), 0);
    for (i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "k%ld", i);
        rc = put_n(&c, NS, key, value, sizeof(value), AGORA_STORE_NEW, NULL);
        if (rc != 0)
            break;
        ok++;
    }
    ck_assert_int_eq(rc, AGORA_EIO);
    ck_assert_int_gt(ok, 10);
    fprintf(stderr, "full disk: %ld puts of 16 KB fit in 2 MB\n", ok);
    /* What completed is there, whole. */
    for (i = 0; i < ok; i++) {
        struct rec r;

        snprintf(key, sizeof(key), "k%ld", i);
        ck_assert_int_eq(get(&c, NS, key, &r), 0);
        ck_assert_uint_eq(r.len, sizeof(value));
        ck_assert_mem_eq(r.value, value, sizeof(value));
        rec_free(&r);
    }
    /* Room again: the store goes on. */
    for (i = 0; i < ok / 2; i++) {
        snprintf(key, sizeof(key), "k%ld", i);
        ck_assert_int_eq(del(&c, NS, key, AGORA_STORE_ANY), 0);
    }
    ck_assert_int_eq(put_n(&c, NS, "after", value, sizeof(value),
                           AGORA_STORE_NEW, NULL),
                     0);
    ctx_close_store(&c);
    ck_assert_int_eq(store_open_local(c.loop, dir, &c.s), 0);
    snprintf(key, sizeof(key), "k%ld", ok - 1);
    for (i = 0; i < 2; i++) {
        struct rec r;

        ck_assert_int_eq(get(&c, NS, i ? key : "after", &r), 0);
        ck_assert_uint_eq(r.len, sizeof(value));
        rec_free(&r);
    }
    ctx_close_store(&c);
    _exit(0);
}

START_TEST(test_full_disk)
{
    struct ctx c;
    char *dir;
    pid_t pid;
    int status;

    ctx_init(&c);
    ctx_close_store(&c);
    dir = join(LOCAL(&c)->tmp, "small");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        full_disk_child(dir);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "the child died: %d", status);
    if (WEXITSTATUS(status) == 77)
        fprintf(stderr, "full disk: SKIPPED, no mount namespace here "
                        "(not root)\n");
    else
        ck_assert_int_eq(WEXITSTATUS(status), 0);
    free(dir);
    ctx_open(&c);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The old layout                                                       */
/* ------------------------------------------------------------------ */

static void put_le(unsigned char *p, uint64_t v, int n)
{
    int i;

    for (i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Writes <root>/<rel>/.value as the old backend did. */
static void old_value(const char *root, const char *rel, const char *value,
                      uint64_t version)
{
    unsigned char buf[HDR + 256];
    size_t len = strlen(value);
    char *dir = join(root, rel), *path;

    ck_assert_int_eq(fs_mkdirs(dir, 0700), 0);
    memcpy(buf, "AGKV", 4);
    put_le(buf + 4, 1, 4);
    put_le(buf + 8, version, 8);
    put_le(buf + 16, len, 8);
    memcpy(buf + HDR, value, len);
    path = join(dir, ".value");
    write_file(path, buf, HDR + len);
    free(path);
    free(dir);
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* A committed .txn of the old backend: put ns/key=value at version, and
 * delete ns/gone. */
static void old_journal(const char *root, const char *key, const char *value,
                        uint64_t version, const char *gone)
{
    unsigned char buf[1024], *p = buf + HDR + 4;
    size_t n;
    char *path;

    p[0] = 1;
    put_le(p + 1, version, 8);
    put_le(p + 9, strlen(NS), 2);
    put_le(p + 11, strlen(key), 2);
    put_le(p + 13, strlen(value), 4);
    p += 17;
    memcpy(p, NS, strlen(NS));
    p += strlen(NS);
    memcpy(p, key, strlen(key));
    p += strlen(key);
    memcpy(p, value, strlen(value));
    p += strlen(value);
    p[0] = 2;
    put_le(p + 1, 0, 8);
    put_le(p + 9, strlen(NS), 2);
    put_le(p + 11, strlen(gone), 2);
    put_le(p + 13, 0, 4);
    p += 17;
    memcpy(p, NS, strlen(NS));
    p += strlen(NS);
    memcpy(p, gone, strlen(gone));
    p += strlen(gone);
    n = (size_t)(p - buf);
    put_le(buf + HDR, 2, 4);
    memcpy(buf, "AGTX", 4);
    put_le(buf + 4, 1, 4);
    put_le(buf + 8, n - HDR, 8);
    put_le(buf + 16, fnv1a(buf + HDR, n - HDR), 8);
    path = join(root, ".txn");
    write_file(path, buf, n);
    free(path);
}

static int exists(const char *dir, const char *name)
{
    char *p = join(dir, name);
    struct stat st;
    int rc = lstat(p, &st);

    free(p);
    return rc == 0;
}

START_TEST(test_migrate)
{
    static const char *const top[] = {"a", "deep", "txn"};
    struct ctx c;
    const char *root;
    char *p;

    ctx_init(&c);
    ctx_close_store(&c);
    root = LOCAL(&c)->root;
    unlink(join_tmp(root, "store.mdb"));
    unlink(join_tmp(root, "store.mdb-lock"));
    old_value(root, NS "/a", "A", 3);
    old_value(root, NS "/a/b", "AB", 1);
    old_value(root, NS "/deep/x/y", "XY", 7);
    old_value(root, NS "/gone", "G", 1);
    old_value(root, "other_ns/k", "K", 2);
    /* A put that never renamed, and what is not the store's. */
    p = join(root, NS "/a/.tmp.0123");
    write_file(p, "junk", 4);
    free(p);
    p = join(root, "Other");
    ck_assert_int_eq(mkdir(p, 0700), 0);
    free(p);
    p = join(root, NS "/a/README");
    write_file(p, "mine", 4);
    free(p);
    old_journal(root, "txn", "T", 5, "gone");

    ctx_open(&c);
    expect_value(&c, NS, "a", "A", 3);
    expect_value(&c, NS, "a/b", "AB", 1);
    expect_value(&c, NS, "deep/x/y", "XY", 7);
    expect_value(&c, NS, "txn", "T", 5);
    expect_absent(&c, NS, "gone");
    expect_value(&c, "other_ns", "k", "K", 2);
    expect_list(&c, NS, "", top, 3);
    /* The versions go on from there. */
    ck_assert_int_eq(put(&c, NS, "a", "A4", 3, NULL), 0);
    expect_value(&c, NS, "a", "A4", 4);
    /* The old files are gone, what was not the store's stays. */
    ck_assert(!exists(root, NS "/a/.value"));
    ck_assert(!exists(root, NS "/a/.tmp.0123"));
    ck_assert(!exists(root, NS "/deep"));
    ck_assert(!exists(root, "other_ns"));
    ck_assert(!exists(root, ".txn"));
    ck_assert(exists(root, NS "/a/README"));
    ck_assert(exists(root, "Other"));

    /* Once only: old files that show up again are not read. */
    ctx_close_store(&c);
    old_value(root, NS "/a", "stale", 1);
    ctx_open(&c);
    expect_value(&c, NS, "a", "A4", 4);
    ck_assert(!exists(root, NS "/a/.value"));
    ctx_fini(&c);
}
END_TEST

/* Damage in the old store is not guessed at: the open fails and leaves
 * every file where it was. */
START_TEST(test_migrate_damaged)
{
    struct ctx c;
    struct store *s = NULL;
    const char *root;
    char *p;

    ctx_init(&c);
    ctx_close_store(&c);
    root = LOCAL(&c)->root;
    unlink(join_tmp(root, "store.mdb"));
    unlink(join_tmp(root, "store.mdb-lock"));
    old_value(root, NS "/good", "G", 1);
    p = join(root, NS "/bad");
    ck_assert_int_eq(mkdir(p, 0700), 0);
    free(p);
    p = join(root, NS "/bad/.value");
    write_file(p, "not a value file", 16);
    free(p);
    ck_assert_int_eq(store_open_local(c.loop, root, &s), AGORA_EIO);
    ck_assert_ptr_null(s);
    ck_assert(exists(root, NS "/good/.value"));
    ck_assert(exists(root, NS "/bad/.value"));

    /* Moved away, the rest migrates. */
    p = join(root, NS "/bad/.value");
    ck_assert_int_eq(unlink(p), 0);
    free(p);
    p = join(root, ".txn");
    write_file(p, "AGTX\1\0\0\0garbage garbage garbage", 32);
    ck_assert_int_eq(store_open_local(c.loop, root, &s), AGORA_EIO);
    ck_assert_int_eq(unlink(p), 0);
    free(p);
    ctx_open(&c);
    expect_value(&c, NS, "good", "G", 1);
    ctx_fini(&c);
}
END_TEST

/* A store file that is not LMDB's fails the open; nothing is guessed or
 * overwritten. */
START_TEST(test_damaged_file)
{
    struct ctx c;
    struct store *s = NULL;
    char *p;
    struct stat st;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "k", "v", AGORA_STORE_ANY, NULL), 0);
    ctx_close_store(&c);
    p = join(LOCAL(&c)->root, "store.mdb");
    write_file(p, "this is not an LMDB file at all, is it? no.", 43);
    ck_assert_int_eq(store_open_local(c.loop, LOCAL(&c)->root, &s),
                     AGORA_EIO);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_size, 43);
    ck_assert_int_eq(unlink(p), 0);
    free(p);
    ctx_open(&c);
    ctx_fini(&c);
}
END_TEST

/* Writes ns/key = value straight into the store file's LMDB, bypassing
 * the backend's record header: a record it did not write whole. */
static void plant_raw(const char *root, const char *ns, const char *key,
                      const char *value)
{
    unsigned char kb[SKEY_PACKED_MAX];
    char *file = join(root, "store.mdb");
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k, v;

    k.mv_size = skey_pack(key, strlen(key), 0, kb);
    k.mv_data = kb;
    v.mv_size = strlen(value);
    v.mv_data = (void *)value;
    ck_assert_uint_gt(k.mv_size, 0);
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 64), 0);
    ck_assert_int_eq(mdb_env_set_mapsize(env, (size_t)1 << 30), 0);
    ck_assert_int_eq(mdb_env_open(env, file, MDB_NOSUBDIR, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, ns, MDB_CREATE, &dbi), 0);
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(file);
}

/*
 * Puts of any version and of a new key find the version on their way
 * (one descent, MDB_NOOVERWRITE): a new key gets 1, an existing one the
 * next, a NEW put of an existing key fails with nothing written, and a
 * damaged record fails the put (AGORA_EIO) as a lookup first did. In a
 * transaction, the puts before the damaged one are undone, and an op of
 * the same batch is not: it commits.
 */
START_TEST(test_put_damaged_record)
{
    struct agora_store_txn_op t[] = {
        {AGORA_STORE_TXN_PUT, "fresh", "F", 1, AGORA_STORE_ANY},
        {AGORA_STORE_TXN_PUT, "a", "A3", 2, AGORA_STORE_ANY},
        {AGORA_STORE_TXN_PUT, "bad", "B", 1, AGORA_STORE_ANY},
    };
    struct rec r, other;
    struct ctx c;
    int64_t ver = 0;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "a", "A1", AGORA_STORE_ANY, &ver), 0);
    ck_assert_int_eq(ver, 1);
    ck_assert_int_eq(put(&c, NS, "a", "A2", AGORA_STORE_ANY, &ver), 0);
    ck_assert_int_eq(ver, 2);
    ck_assert_int_eq(put(&c, NS, "a", "X", AGORA_STORE_NEW, NULL),
                     AGORA_EVERSION);
    expect_value(&c, NS, "a", "A2", 2);
    ck_assert_int_eq(put(&c, NS, "n", "N", AGORA_STORE_NEW, &ver), 0);
    ck_assert_int_eq(ver, 1);
    ctx_close_store(&c);
    plant_raw(LOCAL(&c)->root, NS, "bad", "xyz");
    ctx_open(&c);

    ck_assert_int_eq(put(&c, NS, "bad", "B", AGORA_STORE_ANY, NULL),
                     AGORA_EIO);
    ck_assert_int_eq(put(&c, NS, "bad", "B", AGORA_STORE_NEW, NULL),
                     AGORA_EIO);

    /* The transaction and another put, queued together: in one batch
     * when the worker takes both (else each in its own). */
    rec_init(&r, &c);
    rec_init(&other, &c);
    START(&c, store_txn(c.s, NS, t, 3, on_done, &r, NULL));
    START(&c, store_put(c.s, NS, "other", "O", 1, AGORA_STORE_ANY, on_done,
                        &other, NULL));
    wait_for(&c, &r);
    wait_for(&c, &other);
    ck_assert_int_eq(r.err, AGORA_EIO);
    ck_assert_int_eq(other.err, 0);
    ck_assert_int_eq(other.version, 1);
    rec_free(&r);
    rec_free(&other);
    expect_absent(&c, NS, "fresh");
    expect_value(&c, NS, "a", "A2", 2);
    expect_value(&c, NS, "other", "O", 1);
    ctx_fini(&c);
}
END_TEST

/* A symlink planted as the store file is refused, not followed; a second
 * process on the same store is refused while the first has it. */
START_TEST(test_foreign_files)
{
    struct ctx c;
    struct store *s = NULL;
    char *p, *target;
    pid_t pid;
    int status;

    ctx_init(&c);
    /* While this process holds it. */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);

        _exit(store_open_local(loop, LOCAL(&c)->root, &s) == AGORA_EIO ? 0
                                                                        : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ctx_close_store(&c);

    p = join(LOCAL(&c)->root, "store.mdb");
    ck_assert_int_eq(unlink(p), 0);
    target = join(LOCAL(&c)->tmp, "elsewhere");
    write_file(target, "", 0);
    ck_assert_int_eq(symlink(target, p), 0);
    ck_assert_int_eq(store_open_local(c.loop, LOCAL(&c)->root, &s),
                     AGORA_EIO);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(unlink(p), 0);
    free(target);
    free(p);
    ctx_open(&c);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Packed keys                                                          */
/* ------------------------------------------------------------------ */

static const char key_chars[] =
    "/-.0123456789:@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/* The order the store needs: '/' before every other character. */
static int slash_cmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int x = *a == '/' ? 1 : (unsigned char)*a;
        int y = *b == '/' ? 1 : (unsigned char)*b;

        if (x != y || x == 0)
            return x - y;
    }
}

static int mem_cmp(const unsigned char *a, size_t na, const unsigned char *b,
                   size_t nb)
{
    int r = memcmp(a, b, na < nb ? na : nb);

    return r != 0 ? r : (na > nb) - (na < nb);
}

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

START_TEST(test_key_order)
{
    unsigned seed = 12345;
    unsigned char pa[SKEY_PACKED_MAX], pb[SKEY_PACKED_MAX];
    char a[513], b[513], back[600];
    size_t na, nb, la, lb, i;
    int round;

    /* The longest key fits LMDB's 511 bytes. */
    memset(a, 'z', 512);
    a[512] = '\0';
    la = skey_pack(a, 512, 0, pa);
    ck_assert_uint_le(la, 448);
    ck_assert_int_eq(skey_unpack(pa, la, back), 512);
    ck_assert_str_eq(back, a);
    ck_assert_uint_eq(skey_pack("a b", 3, 0, pa), 0); /* not a key's */
    /* ... in a packed word of eight, or after one. */
    ck_assert_uint_eq(skey_pack("abcd efghijk", 12, 0, pa), 0);
    ck_assert_uint_eq(skey_pack("abcdefghij k", 12, 0, pa), 0);
    ck_assert_uint_eq(skey_pack("abcdefgh\x80", 9, 0, pa), 0);

    for (round = 0; round < 200000; round++) {
        /* Short strings of few characters: many shared prefixes; every
         * third round longer ones, packed eight characters a word. */
        na = rand_r(&seed) % (round % 3 ? 9 : 40);
        nb = rand_r(&seed) % (round % 3 ? 9 : 40);
        for (i = 0; i < na; i++)
            a[i] = key_chars[rand_r(&seed) % (round % 2 ? 4 : 68)];
        for (i = 0; i < nb; i++)
            b[i] = key_chars[rand_r(&seed) % (round % 2 ? 4 : 68)];
        a[na] = b[nb] = '\0';
        la = skey_pack(a, na, 0, pa);
        lb = skey_pack(b, nb, 0, pb);
        ck_assert_int_eq(skey_unpack(pa, la, back), (long)na);
        ck_assert_str_eq(back, a);
        ck_assert_msg(sign(mem_cmp(pa, la, pb, lb)) == sign(slash_cmp(a, b)),
                      "'%s' vs '%s'", a, b);
        /* b's subtree ends before b + SKEY_AFTER_SLASH. */
        lb = skey_pack(b, nb, SKEY_AFTER_SLASH, pb);
        if (strncmp(a, b, nb) == 0 && (a[nb] == '\0' || a[nb] == '/'))
            ck_assert(mem_cmp(pa, la, pb, lb) < 0);
    }
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
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_crash_atomicity);
    tcase_add_test(tc, test_crash_mid_transaction);
    tcase_add_test(tc, test_crash_stream);
    tcase_add_test(tc, test_full_disk);
    tcase_add_test(tc, test_migrate);
    tcase_add_test(tc, test_migrate_damaged);
    tcase_add_test(tc, test_damaged_file);
    tcase_add_test(tc, test_put_damaged_record);
    tcase_add_test(tc, test_foreign_files);
    tcase_add_test(tc, test_key_order);
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
