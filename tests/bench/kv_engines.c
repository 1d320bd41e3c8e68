/*
 * kv_engines.c - which embedded key/value library the local store is
 * built on: LMDB, LevelDB and SQLite (WAL) side by side, each writing
 * 1 KB values to new keys durably, in commits of BATCH puts (group
 * commit) and one put at a time, beside the disk's raw rate of a 1 KB
 * append + fdatasync. Not built by default: scripts/bench/store-engines
 * compiles it against Debian's liblmdb-dev, libleveldb-dev and
 * libsqlite3-dev.
 *
 * usage: kv_engines DIR [PUTS] [BATCH]
 * Prints `engine batch=B: N puts/s, commit p50 X ms p99 Y ms`, and each
 * engine's rate as a ratio to the raw loop's of the same batch size,
 * measured first in the same run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <leveldb/c.h>
#include <lmdb.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#define VALUE_LEN 1024

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "kv_engines: %s: %s\n", what, why);
    exit(1);
}

/* One engine: begin a commit, put a key, end the commit (durably). */
struct engine {
    const char *name;
    void (*open)(const char *dir);
    void (*begin)(void);
    void (*put)(const char *key, const char *val, size_t len);
    void (*commit)(void);
    void (*close)(void);
};

/* ---- raw: append + fdatasync ------------------------------------- */

static int raw_fd;

static void raw_open(const char *dir)
{
    char p[4096];

    snprintf(p, sizeof(p), "%s/raw.log", dir);
    raw_fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0600);
    if (raw_fd < 0)
        die(p, strerror(errno));
}
static void raw_begin(void) {}
static void raw_put(const char *key, const char *val, size_t len)
{
    (void)key;
    if (write(raw_fd, val, len) != (ssize_t)len)
        die("raw write", strerror(errno));
}
static void raw_commit(void)
{
    if (fdatasync(raw_fd) != 0)
        die("fdatasync", strerror(errno));
}
static void raw_close(void) { close(raw_fd); }

/* ---- LMDB -------------------------------------------------------- */

static MDB_env *lm_env;
static MDB_dbi lm_dbi;
static MDB_txn *lm_txn;
static unsigned lm_flags;

static void lm_check(int rc, const char *what)
{
    if (rc != 0)
        die(what, mdb_strerror(rc));
}
static void lm_open(const char *dir)
{
    char p[4096];
    MDB_txn *t;

    snprintf(p, sizeof(p), "%s/lmdb", dir);
    lm_check(mdb_env_create(&lm_env), "mdb_env_create");
    lm_check(mdb_env_set_mapsize(lm_env, (size_t)8 << 30), "mapsize");
    lm_check(mdb_env_open(lm_env, p, MDB_NOSUBDIR | lm_flags, 0600),
             "mdb_env_open");
    lm_check(mdb_txn_begin(lm_env, NULL, 0, &t), "begin");
    lm_check(mdb_dbi_open(t, NULL, 0, &lm_dbi), "dbi");
    lm_check(mdb_txn_commit(t), "commit");
}
static void lm_begin(void)
{
    lm_check(mdb_txn_begin(lm_env, NULL, 0, &lm_txn), "begin");
}
static void lm_put(const char *key, const char *val, size_t len)
{
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};

    lm_check(mdb_put(lm_txn, lm_dbi, &k, &v, 0), "mdb_put");
}
static void lm_commit(void) { lm_check(mdb_txn_commit(lm_txn), "commit"); }
static void lm_close(void) { mdb_env_close(lm_env); }

/* ---- LevelDB ----------------------------------------------------- */

static leveldb_t *ld;
static leveldb_writebatch_t *ld_batch;
static leveldb_writeoptions_t *ld_wo;

static void ld_open(const char *dir)
{
    char p[4096], *err = NULL;
    leveldb_options_t *o = leveldb_options_create();

    snprintf(p, sizeof(p), "%s/leveldb", dir);
    leveldb_options_set_create_if_missing(o, 1);
    ld = leveldb_open(o, p, &err);
    if (err != NULL)
        die("leveldb_open", err);
    leveldb_options_destroy(o);
    ld_wo = leveldb_writeoptions_create();
    leveldb_writeoptions_set_sync(ld_wo, 1);
}
static void ld_begin(void) { ld_batch = leveldb_writebatch_create(); }
static void ld_put(const char *key, const char *val, size_t len)
{
    leveldb_writebatch_put(ld_batch, key, strlen(key), val, len);
}
static void ld_commit(void)
{
    char *err = NULL;

    leveldb_write(ld, ld_wo, ld_batch, &err);
    if (err != NULL)
        die("leveldb_write", err);
    leveldb_writebatch_destroy(ld_batch);
}
static void ld_close(void)
{
    leveldb_writeoptions_destroy(ld_wo);
    leveldb_close(ld);
}

/* ---- SQLite, WAL, synchronous=FULL -------------------------------- */

static sqlite3 *sq;
static sqlite3_stmt *sq_put;

static void sq_exec(const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(sq, sql, NULL, NULL, &err) != SQLITE_OK)
        die(sql, err);
}
static void sq_open(const char *dir)
{
    char p[4096];

    snprintf(p, sizeof(p), "%s/sqlite.db", dir);
    if (sqlite3_open(p, &sq) != SQLITE_OK)
        die("sqlite3_open", sqlite3_errmsg(sq));
    sq_exec("PRAGMA journal_mode=WAL");
    sq_exec("PRAGMA synchronous=FULL");
    sq_exec("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID");
    if (sqlite3_prepare_v2(sq, "INSERT OR REPLACE INTO kv VALUES (?, ?)", -1,
                           &sq_put, NULL) != SQLITE_OK)
        die("prepare", sqlite3_errmsg(sq));
}
static void sq_begin(void) { sq_exec("BEGIN"); }
static void sq_put_one(const char *key, const char *val, size_t len)
{
    sqlite3_bind_blob(sq_put, 1, key, (int)strlen(key), SQLITE_STATIC);
    sqlite3_bind_blob(sq_put, 2, val, (int)len, SQLITE_STATIC);
    if (sqlite3_step(sq_put) != SQLITE_DONE)
        die("insert", sqlite3_errmsg(sq));
    sqlite3_reset(sq_put);
}
static void sq_commit(void) { sq_exec("COMMIT"); }
static void sq_close(void)
{
    sqlite3_finalize(sq_put);
    sqlite3_close(sq);
}

/* ------------------------------------------------------------------ */

/* The raw loop's puts/s one a commit [0] and BATCH a commit [1]. */
static double raw_rate[2];

static double run(const struct engine *e, const char *dir, long puts,
                  long batch)
{
    char val[VALUE_LEN], key[64];
    long ncommits = (puts + batch - 1) / batch, c, i, done = 0;
    double *lat = malloc(sizeof(*lat) * (size_t)ncommits), t0, t;

    if (lat == NULL)
        die("malloc", "out of memory");
    memset(val, 'v', sizeof(val));
    e->open(dir);
    t0 = now_ms();
    for (c = 0; c < ncommits; c++) {
        t = now_ms();
        e->begin();
        for (i = 0; i < batch && done < puts; i++, done++) {
            snprintf(key, sizeof(key), "apps/app-%08ld/instance", done);
            e->put(key, val, sizeof(val));
        }
        e->commit();
        lat[c] = now_ms() - t;
    }
    t = now_ms() - t0;
    e->close();
    qsort(lat, (size_t)ncommits, sizeof(*lat), dbl_cmp);
    if (e->open == raw_open)
        raw_rate[batch > 1] = (double)puts * 1e3 / t;
    printf("%-16s batch=%-4ld %8.0f puts/s  %5.2fx raw  commit p50 %.2f ms"
           "  p99 %.2f ms\n",
           e->name, batch, (double)puts * 1e3 / t,
           (double)puts * 1e3 / t / raw_rate[batch > 1], lat[ncommits / 2],
           lat[ncommits * 99 / 100]);
    fflush(stdout);
    free(lat);
    return (double)puts * 1e3 / t;
}

static void lm_open_default(const char *dir)
{
    lm_flags = 0;
    lm_open(dir);
}
static void lm_open_nometasync(const char *dir)
{
    lm_flags = MDB_NOMETASYNC;
    lm_open(dir);
}

static const struct engine engines[] = {
    {"raw fdatasync", raw_open, raw_begin, raw_put, raw_commit, raw_close},
    {"lmdb", lm_open_default, lm_begin, lm_put, lm_commit, lm_close},
    {"lmdb nometasync", lm_open_nometasync, lm_begin, lm_put, lm_commit,
     lm_close},
    {"leveldb sync", ld_open, ld_begin, ld_put, ld_commit, ld_close},
    {"sqlite wal full", sq_open, sq_begin, sq_put_one, sq_commit, sq_close},
};

int main(int argc, char **argv)
{
    long puts = argc > 2 ? atol(argv[2]) : 2000;
    long batch = argc > 3 ? atol(argv[3]) : 100;
    size_t i;
    char sub[4096];

    if (argc < 2)
        die("usage", "kv_engines DIR [PUTS] [BATCH]");
    for (i = 0; i < sizeof(engines) / sizeof(engines[0]); i++) {
        long b;

        for (b = 1; b <= batch; b = b == 1 ? batch : batch + 1) {
            snprintf(sub, sizeof(sub), "%s/%zu-%ld", argv[1], i, b);
            if (mkdir(sub, 0700) != 0)
                die(sub, strerror(errno));
            /* One at a time is slow: a tenth of the puts. */
            run(&engines[i], sub, b == 1 ? puts / 10 : puts, b);
        }
    }
    return 0;
}
