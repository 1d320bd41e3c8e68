/*
 * store_local.c - the local backend: one LMDB environment on this
 * machine, worked by one thread of its own, with group commit.
 *
 * Layout: <root>/store.mdb (LMDB's data file, 0600) and store.mdb-lock
 * (LMDB's reader table). What is in it: store_local_ops.c. A store of the
 * old layout, a directory per key, is moved into it at open
 * (store_migrate.c).
 *
 * Why LMDB: a copy-on-write B+tree in one file, crash-safe without a
 * log to replay or a compaction thread, and a write transaction can hold
 * any number of puts for the price of one commit. Measured beside
 * LevelDB and SQLite (WAL) in docs/benchmarks.md (tests/bench/kv_engines.c).
 *
 * Group commit: the loop thread only queues ops (submit). The worker
 * takes every op queued when it wakes (up to LOCAL_BATCH_MAX) and runs
 * them, in order, inside one LMDB write transaction, then commits it -
 * one pair of fdatasyncs for the whole batch - and only then completes
 * them, in order. So a completion means durable, and puts that arrive
 * while a commit is on the disk go together in the next one. Ops of one
 * batch see the writes of those before them, as they would one at a
 * time; a compare-and-set needs no lock, since nothing else writes.
 *
 * A batch that fails as a whole (the disk full, the map full, out of
 * memory) does not fail its ops with it: after growing the map when that
 * was the cause, each op runs again in a transaction of its own, so each
 * gets its own outcome - and a store_txn(), in one LMDB transaction, is
 * all or nothing. What a failed transaction wrote is gone with it; what
 * was committed before is untouched (LMDB never writes over live pages).
 *
 * Results the store reads after store_complete(): op->err always; for a
 * get op->value (malloc'd, NUL-terminated), op->len and op->version; for
 * a put op->version, the new version; for a list op->names (a malloc'd
 * array of malloc'd names, sorted) and op->nnames; for children
 * op->entries; for a txn each op's version. The store frees them.
 */
#include "store_local_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "store_key.h"

#define LOCAL_FILE "store.mdb"
#define LOCAL_BATCH_MAX 1024
/* Bytes of values one batch carries at most: a bound on the memory a
 * write transaction dirties before its commit. */
#define LOCAL_BATCH_BYTES (64u << 20)
/* The map is address space, not disk: it starts large and doubles when
 * full, up to a size no work dir should reach. */
#define LOCAL_MAP_START ((size_t)1 << 30)
#define LOCAL_MAP_MAX ((size_t)1 << 40)

/* ------------------------------------------------------------------ */
/* Batches                                                              */
/* ------------------------------------------------------------------ */

/*
 * Whether op is a write of a term that has ended. Checked when the
 * worker takes the op into a batch, which it then applies before it
 * takes the next: a write taken while its term was open lands before
 * any op called later, so none of a later term sees the store without it.
 */
static int term_over(const struct store_op *op, uint64_t term)
{
    return op->term != 0 && op->term != term &&
           (op->kind == STORE_PUT || op->kind == STORE_DELETE ||
            op->kind == STORE_TXN);
}

static int is_write(const struct store_op *op)
{
    return op->kind == STORE_PUT || op->kind == STORE_DELETE ||
           op->kind == STORE_TXN;
}

/* Hands the outcome of slot to its op, now that it stands. */
static void slot_settle(struct local_slot *s)
{
    struct store_op *op = s->op;
    size_t i;

    op->err = s->err;
    if (s->err != 0)
        return;
    if (op->kind == STORE_PUT)
        op->version = s->version;
    else if (op->kind == STORE_TXN)
        for (i = 0; i < op->ntxn; i++)
            op->txn[i].version = s->tv[i];
}

/* Doubles the map after MDB_MAP_FULL; 0 when it could. */
static int map_grow(struct local *l)
{
    int rc;

    if (l->mapsize >= LOCAL_MAP_MAX)
        return -1;
    rc = mdb_env_set_mapsize(l->env, l->mapsize * 2);
    if (rc != 0) {
        local_mdb_fail(l, "growing the map", rc);
        return -1;
    }
    l->mapsize *= 2;
    log_info("store", "%s: map grown to %zu MB", l->root, l->mapsize >> 20);
    return 0;
}

/*
 * Runs the slots of slots[0..n) still to run in one transaction and
 * commits it. 0 when it committed (each slot's err is its op's outcome),
 * else the LMDB error that failed it, with what the ops received undone.
 */
static int batch_try(struct local *l, struct local_slot *slots, size_t n)
{
    MDB_txn *txn;
    size_t i, writes = 0;
    int rc;

    for (i = 0; i < n; i++)
        writes += slots[i].todo && is_write(slots[i].op);
    rc = mdb_txn_begin(l->env, NULL, writes ? 0 : MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    for (i = 0; i < n && rc == 0; i++)
        if (slots[i].todo)
            rc = local_run_op(l, txn, &slots[i]);
    /* Read-only transactions commit too: that keeps their handles. */
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    local_dbs_settle(l, rc == 0);
    if (rc != 0)
        for (i = 0; i < n; i++)
            if (slots[i].todo)
                local_op_reset(slots[i].op);
    return rc;
}

/*
 * Runs a batch: together when it can, else each op alone (see the top
 * of the file). Slots not to run (writes of an ended term) are skipped.
 */
static void batch_run(struct local *l, struct local_slot *slots, size_t n)
{
    size_t i;
    int rc;

    for (;;) {
        rc = batch_try(l, slots, n);
        if (rc != MDB_MAP_FULL || map_grow(l) != 0)
            break;
    }
    if (rc == 0)
        return;
    if (n == 1 && rc == LOCAL_UNDO)
        return; /* its err is its outcome, what it wrote undone */
    if (n == 1 || rc == MDB_MAP_FULL) {
        for (i = 0; i < n; i++)
            if (slots[i].todo)
                slots[i].err = local_mdb_fail(l, "commit", rc);
        return;
    }
    log_warn("store", "%s: a batch of %zu failed (%s): each op alone",
             l->root, n,
             rc == LOCAL_UNDO ? "a transaction met a damaged record"
                              : mdb_strerror(rc));
    for (i = 0; i < n; i++)
        if (slots[i].todo)
            batch_run(l, &slots[i], 1);
}

/* ------------------------------------------------------------------ */
/* The worker                                                           */
/* ------------------------------------------------------------------ */

/*
 * Takes the ops queued now into slots, waiting for one; 0 once stopping
 * and the queue is empty, so that every op queued before close() runs.
 * Writes of an ended term get their outcome here.
 */
static size_t batch_take(struct local *l, struct local_slot *slots)
{
    size_t n = 0, bytes = 0;

    pthread_mutex_lock(&l->mu);
    while (l->head == NULL && !l->stopping)
        pthread_cond_wait(&l->cv, &l->mu);
    while (l->head != NULL && n < LOCAL_BATCH_MAX &&
           (n == 0 || bytes + l->head->len <= LOCAL_BATCH_BYTES)) {
        struct store_op *op = l->head;

        l->head = op->be_next;
        bytes += op->len;
        slots[n].op = op;
        slots[n].todo = !term_over(op, l->term);
        slots[n].err = slots[n].todo ? 0 : AGORA_ENOTLEADER;
        n++;
    }
    if (l->head == NULL)
        l->tail = NULL;
    pthread_mutex_unlock(&l->mu);
    return n;
}

static void *worker_main(void *arg)
{
    struct local *l = arg;
    size_t i, n;

    while ((n = batch_take(l, l->slots)) > 0) {
        batch_run(l, l->slots, n);
        for (i = 0; i < n; i++) {
            slot_settle(&l->slots[i]);
            store_complete(l->slots[i].op); /* the store's again */
        }
    }
    return NULL;
}

/* backend.submit, loop thread: queue op for the worker. */
static void local_submit(void *impl, struct store_op *op)
{
    struct local *l = impl;

    op->be_next = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->tail != NULL)
        l->tail->be_next = op;
    else
        l->head = op;
    l->tail = op;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* ------------------------------------------------------------------ */
/* Open and close                                                       */
/* ------------------------------------------------------------------ */

/* Frees what local_new() made before the worker started. */
static void local_free(struct local *l)
{
    if (l->env != NULL)
        mdb_env_close(l->env);
    if (l->rootfd >= 0)
        close(l->rootfd);
    free(l->slots);
    free(l->root);
    free(l);
}

/* backend.close, loop thread: run what is queued, stop, free. */
static void local_close(void *impl)
{
    struct local *l = impl;

    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->worker, NULL);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    local_free(l);
}

/* backend.term, loop thread: the worker reads it as it takes ops. */
static int local_term(void *impl, uint64_t term, const char *fence)
{
    struct local *l = impl;

    (void)fence; /* nothing but this process writes the file */
    pthread_mutex_lock(&l->mu);
    l->term = term;
    pthread_mutex_unlock(&l->mu);
    return 0;
}

static const struct store_backend local_backend = {
    .name = "local",
    .submit = local_submit,
    .close = local_close,
    .term = local_term,
};

static int open_root(struct local *l)
{
    char msg[128];

    if (fs_mkdirs(l->root, 0700) != 0) {
        log_error("store", "mkdir %s: %s", l->root,
                  strerror_r(errno, msg, sizeof(msg)));
        return AGORA_EIO;
    }
    l->rootfd = open(l->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (l->rootfd < 0) {
        log_error("store", "open %s: %s", l->root,
                  strerror_r(errno, msg, sizeof(msg)));
        return AGORA_EIO;
    }
    return 0;
}

/*
 * LMDB opens its files by name: refuse names that are not plain files
 * (a symlink planted in the work dir would have it write elsewhere).
 */
static int files_plain(const struct local *l)
{
    static const char *const names[] = {LOCAL_FILE, LOCAL_FILE "-lock"};
    struct stat st;
    size_t i;

    for (i = 0; i < 2; i++) {
        if (fstatat(l->rootfd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (!S_ISREG(st.st_mode)) {
            log_error("store", "%s/%s: not a regular file", l->root,
                      names[i]);
            return AGORA_EIO;
        }
    }
    return 0;
}

/* One process a store: a second one would share LMDB's writer lock and
 * interleave its commits with ours. */
static int lock_file(const struct local *l)
{
    int fd;

    if (mdb_env_get_fd(l->env, &fd) != 0)
        return AGORA_EIO;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    log_error("store", "%s/%s: in use by another process", l->root,
              LOCAL_FILE);
    return AGORA_EIO;
}

static int open_env(struct local *l)
{
    char *path;
    int rc;

    if (asprintf(&path, "%s/%s", l->root, LOCAL_FILE) < 0)
        return AGORA_ENOMEM;
    l->mapsize = LOCAL_MAP_START;
    rc = mdb_env_create(&l->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(l->env, LOCAL_DBS_MAX);
    if (rc == 0)
        rc = mdb_env_set_mapsize(l->env, l->mapsize);
    /* NOTLS: read transactions are the worker's, not a thread's. */
    if (rc == 0)
        rc = mdb_env_open(l->env, path, MDB_NOSUBDIR | MDB_NOTLS, 0600);
    free(path);
    if (rc != 0) {
        local_mdb_fail(l, "opening " LOCAL_FILE, rc);
        return rc == ENOMEM ? AGORA_ENOMEM : AGORA_EIO;
    }
    return lock_file(l);
}

static int start_worker(struct local *l)
{
    sigset_t all, old;
    int rc;

    if (pthread_mutex_init(&l->mu, NULL) != 0)
        return AGORA_ENOMEM;
    if (pthread_cond_init(&l->cv, NULL) != 0) {
        pthread_mutex_destroy(&l->mu);
        return AGORA_ENOMEM;
    }
    /* The worker blocks every signal, so that signals reach the loop
     * thread and the worker's system calls are not interrupted. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&l->worker, NULL, worker_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        return 0;
    log_error("store", "starting the worker for %s: %s", l->root,
              strerror(rc));
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    return AGORA_EIO;
}

static int local_new(const char *root, struct local **out)
{
    struct local *l = calloc(1, sizeof(*l));
    int rc;

    if (l == NULL)
        return AGORA_ENOMEM;
    l->rootfd = -1;
    l->root = strdup(root);
    l->slots = calloc(LOCAL_BATCH_MAX, sizeof(*l->slots));
    rc = l->root == NULL || l->slots == NULL ? AGORA_ENOMEM : open_root(l);
    if (rc == 0)
        rc = files_plain(l);
    if (rc == 0)
        rc = open_env(l);
    if (rc == 0)
        rc = local_migrate(l);
    if (rc == 0)
        rc = start_worker(l);
    if (rc != 0) {
        local_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int store_local_holds(struct store *s, const char *path)
{
    struct local *l = store_backend_impl(s);
    char ns[65], name[8 * SKEY_PACKED_MAX / 7 + 2];
    unsigned char kb[SKEY_PACKED_MAX];
    const char *key = strchr(path, '/');
    size_t nslen = key != NULL ? (size_t)(key - path) : strlen(path);
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    MDB_dbi dbi;
    int held = 0;

    if (strcmp(store_backend_name(s), "local") != 0 || nslen >= sizeof(ns))
        return 0;
    memcpy(ns, path, nslen);
    ns[nslen] = '\0';
    key = key != NULL ? key + 1 : "";
    if (mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    if (mdb_dbi_open(txn, ns, 0, &dbi) == 0) {
        k.mv_size = skey_pack(key, strlen(key), 0, kb);
        k.mv_data = kb;
        held = key[0] == '\0';
        if (!held && mdb_cursor_open(txn, dbi, &cur) == 0 &&
            mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) == 0 &&
            k.mv_size < SKEY_PACKED_MAX &&
            skey_unpack(k.mv_data, k.mv_size, name) >= 0) {
            size_t n = strlen(key);

            held = strncmp(name, key, n) == 0 &&
                   (name[n] == '\0' || name[n] == '/');
        }
        if (cur != NULL)
            mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return held;
}

int store_open_local(struct ev_loop *loop, const char *dir,
                     struct store **out)
{
    struct local *l;
    int rc;

    if (loop == NULL || dir == NULL || dir[0] == '\0' || out == NULL)
        return AGORA_EINVAL;
    rc = local_new(dir, &l);
    if (rc != 0)
        return rc;
    rc = store_open_backend(loop, &local_backend, l, out);
    if (rc != 0) {
        local_close(l);
        return rc;
    }
    log_info("store", "local store at %s/%s", dir, LOCAL_FILE);
    return 0;
}
