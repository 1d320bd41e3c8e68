/*
 * store_migrate.c - moves a store of the old layout into store.mdb.
 *
 * The old local backend kept a directory per key:
 *     <root>/<ns>/<seg1>/<seg2>/.value    the value of key "seg1/seg2"
 * each .value a 24-byte header - "AGKV", the format (1), the version and
 * the length, little-endian - then the value; temporary files .tmp.*;
 * and a transaction committed but maybe not applied in <root>/.txn (a
 * 24-byte header - "AGTX", the format (1), the body's length and its
 * FNV-1a 64 checksum - then the number of ops, 4 bytes, and per op its
 * kind (1 put, 2 delete), the version (8), the lengths of ns (2), key (2)
 * and value (4), then those bytes).
 *
 * At open, unless store.mdb says it was done ("agora.format" in LMDB's
 * main database), every .value goes into store.mdb with its version, a
 * committed .txn is applied on top of them, as the old backend would have
 * at its next open, and the marker is written: all in one LMDB
 * transaction, so a crash leaves the old store whole and the migration to
 * do again. Then the old files are removed: .value, .tmp.*, .txn,
 * .txn.tmp and the directories they leave empty; anything else stays
 * where it is. A crash in that removal leaves files the next open removes
 * (the marker is there): they are never read again.
 *
 * Damage is not guessed at: a value file or journal that does not check
 * out fails the open, naming the file, with nothing removed.
 */
#include "store_local_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"

#define MARKER "agora.format"
#define MARKER_VALUE "lmdb-1"
#define VALUE_NAME ".value"
#define TMP_PREFIX ".tmp."
#define JOURNAL ".txn"
#define JOURNAL_TMP ".txn.tmp"
#define HDR_LEN 24
#define JOURNAL_OP_HDR 17
#define JOURNAL_MAX                                                          \
    (HDR_LEN + 4 + AGORA_STORE_VALUE_MAX +                                   \
     AGORA_STORE_TXN_MAX * (JOURNAL_OP_HDR + 64 + AGORA_STORE_KEY_MAX))

/* What a walk does: read the values into txn, or remove the files. */
struct walk {
    struct local *l;
    MDB_txn *txn; /* NULL: remove */
    const char *ns;
    char key[AGORA_STORE_KEY_MAX + 1];
    size_t klen;
    size_t values; /* read, or removed */
};

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    int i;

    for (i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int io_fail(const struct local *l, const char *what, const char *ns,
                   const char *key)
{
    char msg[128];

    log_error("store", "migrating %s: %s %s/%s: %s", l->root, what, ns, key,
              strerror_r(errno, msg, sizeof(msg)));
    return AGORA_EIO;
}

static int damaged(const struct local *l, const char *ns, const char *key,
                   const char *why)
{
    log_error("store", "migrating %s: %s/%s: damaged (%s); move it away "
                       "to start without it",
              l->root, ns, key, why);
    return AGORA_EIO;
}

/* Reads fd whole when it is a regular file of at most max bytes. */
static int read_small(int fd, size_t max, unsigned char **out, size_t *len)
{
    struct stat st;
    ssize_t got;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (uint64_t)st.st_size > max)
        return -1;
    *out = malloc((size_t)st.st_size + 1);
    if (*out == NULL)
        return -1;
    got = fs_read_full(fd, *out, (size_t)st.st_size, 0);
    if (got != st.st_size) {
        free(*out);
        return -1;
    }
    *len = (size_t)got;
    return 0;
}

/* Puts the value file name (in dfd) of w's key into the transaction. */
static int import_value(struct walk *w, int dfd)
{
    unsigned char *buf;
    size_t len;
    uint64_t version, vlen;
    int fd, rc;

    fd = openat(dfd, VALUE_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return io_fail(w->l, "open", w->ns, w->key);
    rc = read_small(fd, HDR_LEN + AGORA_STORE_VALUE_MAX, &buf, &len);
    close(fd);
    if (rc != 0)
        return damaged(w->l, w->ns, w->key, "unreadable");
    version = len >= HDR_LEN ? get_le(buf + 8, 8) : 0;
    vlen = len >= HDR_LEN ? get_le(buf + 16, 8) : 0;
    if (len < HDR_LEN || memcmp(buf, "AGKV", 4) != 0 ||
        get_le(buf + 4, 4) != 1 || version < 1 ||
        version >= (uint64_t)INT64_MAX || vlen != len - HDR_LEN) {
        free(buf);
        return damaged(w->l, w->ns, w->key, "bad header");
    }
    rc = local_raw_put(w->l, w->txn, w->ns, w->key, (int64_t)version,
                       buf + HDR_LEN, (size_t)vlen);
    free(buf);
    if (rc != 0)
        return local_mdb_fail(w->l, "writing a migrated value", rc);
    w->values++;
    return 0;
}

static int walk_dir(struct walk *w, int fd);

/* A child directory of w's key: the key gains a segment. */
static int walk_child(struct walk *w, int dfd, const char *name)
{
    size_t n = strlen(name), klen = w->klen;
    int fd, rc;

    if (w->klen + (w->klen > 0) + n > AGORA_STORE_KEY_MAX)
        return damaged(w->l, w->ns, w->key, "a key too long");
    fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOTDIR || errno == ELOOP
                   ? 0 /* not ours: left alone */
                   : io_fail(w->l, "open", w->ns, name);
    if (w->klen > 0)
        w->key[w->klen++] = '/';
    memcpy(w->key + w->klen, name, n + 1);
    w->klen += n;
    rc = walk_dir(w, fd);
    w->klen = klen;
    w->key[klen] = '\0';
    /* Removing: the directory goes when nothing is left in it. */
    if (rc == 0 && w->txn == NULL)
        unlinkat(dfd, name, AT_REMOVEDIR);
    return rc;
}

static int walk_entry(struct walk *w, int dfd, const char *name)
{
    if (strcmp(name, VALUE_NAME) == 0) {
        if (w->klen == 0)
            return 0; /* a namespace has no value */
        if (w->txn != NULL)
            return import_value(w, dfd);
        if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
            return io_fail(w->l, "unlink", w->ns, w->key);
        w->values++;
        return 0;
    }
    if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
        if (w->txn == NULL)
            unlinkat(dfd, name, 0);
        return 0;
    }
    if (name[0] == '.' || store_key_valid(name, 0) != 0 ||
        strchr(name, '/') != NULL)
        return 0; /* not a key's: left alone */
    return walk_child(w, dfd, name);
}

/*
 * Walks the directory fd (w's key) and closes it. The recursion is as
 * deep as a key of the old store has segments (at most
 * AGORA_STORE_KEY_MAX / 2), one open fd a level: bounded by the key
 * length, and what it reads is our own work dir.
 */
static int walk_dir(struct walk *w, int fd)
{
    DIR *d = fdopendir(fd);
    struct dirent *e;
    int rc = 0;

    if (d == NULL) {
        close(fd);
        return io_fail(w->l, "opendir", w->ns, w->key);
    }
    errno = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            rc = walk_entry(w, dirfd(d), e->d_name);
        errno = 0;
    }
    if (rc == 0 && errno != 0)
        rc = io_fail(w->l, "readdir", w->ns, w->key);
    closedir(d);
    return rc;
}

/* Walks each namespace directory of the root. */
static int walk_root(struct walk *w)
{
    int fd = fcntl(w->l->rootfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    int rc = 0;

    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return io_fail(w->l, "opendir", ".", "");
    }
    /* The duplicate shares rootfd's offset: an earlier walk left it at
     * the end. */
    rewinddir(d);
    while (rc == 0 && (e = readdir(d)) != NULL) {
        int nfd;

        if (store_ns_valid(e->d_name) != 0)
            continue;
        nfd = openat(dirfd(d), e->d_name,
                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0)
            continue; /* not a directory: not ours */
        w->ns = e->d_name;
        w->klen = 0;
        w->key[0] = '\0';
        rc = walk_dir(w, nfd);
        if (rc == 0 && w->txn == NULL)
            unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR); /* when empty */
    }
    closedir(d);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The journal                                                          */
/* ------------------------------------------------------------------ */

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

/* Applies one op of the journal at p (n bytes left); *used: its size. */
static int journal_op(struct local *l, MDB_txn *txn, const unsigned char *p,
                      size_t n, size_t *used)
{
    char ns[65], key[AGORA_STORE_KEY_MAX + 1];
    size_t nslen, klen, vlen;
    uint64_t version;
    int rc;

    if (n < JOURNAL_OP_HDR)
        return damaged(l, ".", JOURNAL, "op cut short");
    version = get_le(p + 1, 8);
    nslen = (size_t)get_le(p + 9, 2);
    klen = (size_t)get_le(p + 11, 2);
    vlen = (size_t)get_le(p + 13, 4);
    if (n - JOURNAL_OP_HDR < nslen + klen + vlen || nslen >= sizeof(ns) ||
        klen >= sizeof(key) || (p[0] != 1 && p[0] != 2) ||
        version >= INT64_MAX)
        return damaged(l, ".", JOURNAL, "bad op");
    memcpy(ns, p + JOURNAL_OP_HDR, nslen);
    ns[nslen] = '\0';
    memcpy(key, p + JOURNAL_OP_HDR + nslen, klen);
    key[klen] = '\0';
    if (store_ns_valid(ns) != 0 || store_key_valid(key, 0) != 0)
        return damaged(l, ".", JOURNAL, "bad key");
    rc = p[0] == 1 ? local_raw_put(l, txn, ns, key, (int64_t)version,
                                   p + JOURNAL_OP_HDR + nslen + klen, vlen)
                   : local_raw_delete(l, txn, ns, key);
    if (rc != 0)
        return local_mdb_fail(l, "applying the old journal", rc);
    *used = JOURNAL_OP_HDR + nslen + klen + vlen;
    return 0;
}

/* Applies <root>/.txn, when there is one, in txn. */
static int journal_apply(struct local *l, MDB_txn *txn)
{
    unsigned char *buf;
    size_t len, off, used = 0;
    uint64_t count, i;
    int fd, rc = 0;

    fd = openat(l->rootfd, JOURNAL, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : io_fail(l, "open", ".", JOURNAL);
    rc = read_small(fd, JOURNAL_MAX, &buf, &len);
    close(fd);
    if (rc != 0)
        return damaged(l, ".", JOURNAL, "unreadable");
    if (len < HDR_LEN + 4 || memcmp(buf, "AGTX", 4) != 0 ||
        get_le(buf + 4, 4) != 1 || get_le(buf + 8, 8) != len - HDR_LEN ||
        get_le(buf + 16, 8) != fnv1a(buf + HDR_LEN, len - HDR_LEN)) {
        free(buf);
        return damaged(l, ".", JOURNAL, "bad header or checksum");
    }
    count = get_le(buf + HDR_LEN, 4);
    off = HDR_LEN + 4;
    for (i = 0; i < count && rc == 0; i++, off += used)
        rc = journal_op(l, txn, buf + off, len - off, &used);
    free(buf);
    if (rc == 0 && off != len)
        rc = damaged(l, ".", JOURNAL, "trailing bytes");
    return rc;
}

/* ------------------------------------------------------------------ */

/* Whether store.mdb holds the marker: 1, 0, or an LMDB error. */
static int marked(MDB_txn *txn, MDB_dbi main)
{
    MDB_val k = {strlen(MARKER), MARKER}, v;
    int rc = mdb_get(txn, main, &k, &v);

    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : rc;
}

/* Reads the old store into txn, with the marker. */
static int import(struct local *l, MDB_txn *txn, MDB_dbi main, size_t *n)
{
    struct walk w;
    MDB_val k = {strlen(MARKER), MARKER};
    MDB_val v = {strlen(MARKER_VALUE), MARKER_VALUE};
    int rc;

    memset(&w, 0, sizeof(w));
    w.l = l;
    w.txn = txn;
    rc = walk_root(&w);
    if (rc == 0)
        rc = journal_apply(l, txn);
    if (rc == 0 && (rc = mdb_put(txn, main, &k, &v, 0)) != 0)
        rc = local_mdb_fail(l, "writing the format marker", rc);
    *n = w.values;
    return rc;
}

/* Removes the old store's files, once store.mdb holds them. */
static void remove_old(struct local *l)
{
    struct walk w;

    memset(&w, 0, sizeof(w));
    w.l = l;
    if (walk_root(&w) != 0)
        log_warn("store", "%s: old files left; the next open removes them",
                 l->root);
    unlinkat(l->rootfd, JOURNAL, 0);
    unlinkat(l->rootfd, JOURNAL_TMP, 0);
    if (w.values > 0)
        log_info("store", "%s: removed %zu value files of the old layout",
                 l->root, w.values);
    if (fsync(l->rootfd) != 0)
        log_warn("store", "%s: fsync after removing the old files failed",
                 l->root);
}

int local_migrate(struct local *l)
{
    MDB_txn *txn;
    MDB_dbi main;
    size_t n = 0;
    int rc, done;

    rc = mdb_txn_begin(l->env, NULL, 0, &txn);
    if (rc != 0)
        return local_mdb_fail(l, "beginning the migration", rc);
    rc = mdb_dbi_open(txn, NULL, 0, &main);
    done = rc == 0 ? marked(txn, main) : rc;
    if (done < 0 || done > 1) {
        mdb_txn_abort(txn);
        return local_mdb_fail(l, "reading the format marker", done);
    }
    if (done) {
        mdb_txn_abort(txn);
    } else {
        rc = import(l, txn, main, &n);
        if (rc != 0) {
            mdb_txn_abort(txn);
            local_dbs_settle(l, 0);
            return rc;
        }
        rc = mdb_txn_commit(txn);
        local_dbs_settle(l, rc == 0);
        if (rc != 0)
            return local_mdb_fail(l, "committing the migration", rc);
        if (n > 0)
            log_info("store", "%s: moved %zu keys of the old layout into "
                              "store.mdb",
                     l->root, n);
    }
    remove_old(l);
    return 0;
}
