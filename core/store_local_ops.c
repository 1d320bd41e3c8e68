/*
 * store_local_ops.c - the local backend's operations, each run inside the
 * LMDB transaction of its batch (see store_local.c).
 *
 * A namespace is an LMDB named database, made by its first write. A
 * key's record is its packed name (store_key.h) and the value: the
 * version, 8 bytes little-endian, then the value's bytes. A key without
 * a value has no record; it lives only through the records below it, so
 * a delete leaves no empty parent behind (what ZooKeeper needs a prune
 * for), and a namespace stays once made, as its znode does.
 *
 * Each function leaves its outcome (0 or an agora_err) in slot->err and
 * returns 0, or returns the LMDB error that failed the transaction: the
 * caller aborts it, whatever the op wrote in it goes with it.
 */
#include "store_local_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_key.h"

#define VER_LEN 8

/* ------------------------------------------------------------------ */
/* Records                                                              */
/* ------------------------------------------------------------------ */

static void put_le64(unsigned char *p, uint64_t v)
{
    int i;

    for (i = 0; i < VER_LEN; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;

    for (i = VER_LEN - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

int local_mdb_fail(const struct local *l, const char *what, int rc)
{
    log_error("store", "%s: %s: %s", l->root, what, mdb_strerror(rc));
    return rc == ENOMEM ? AGORA_ENOMEM : AGORA_EIO;
}

/* A record this backend did not write whole. */
static int damaged(const struct local *l, const char *ns, const char *key)
{
    log_error("store", "%s: %s/%s: damaged record", l->root, ns, key);
    return AGORA_EIO;
}

/* The version in a record, 0 when it is not one of ours. */
static int64_t rec_version(const MDB_val *v)
{
    uint64_t ver;

    if (v->mv_size < VER_LEN)
        return 0;
    ver = get_le64(v->mv_data);
    return ver >= 1 && ver < (uint64_t)INT64_MAX ? (int64_t)ver : 0;
}

/* ------------------------------------------------------------------ */
/* Namespaces                                                           */
/* ------------------------------------------------------------------ */

static struct local_db *db_cached(struct local *l, const char *ns)
{
    size_t i;

    for (i = 0; i < l->ndbs; i++)
        if (strcmp(l->dbs[i].name, ns) == 0)
            return &l->dbs[i];
    return NULL;
}

/*
 * The database of ns in *dbi: 0; AGORA_ENOENT in *missing when it does
 * not exist and create is 0; else the LMDB error.
 */
static int db_open(struct local *l, MDB_txn *txn, const char *ns, int create,
                   MDB_dbi *dbi, int *missing)
{
    struct local_db *d = db_cached(l, ns);
    int rc;

    *missing = 0;
    if (d != NULL) {
        *dbi = d->dbi;
        return 0;
    }
    if (l->ndbs == LOCAL_DBS_MAX) {
        log_error("store", "%s: more than %d namespaces", l->root,
                  LOCAL_DBS_MAX);
        return MDB_DBS_FULL;
    }
    rc = mdb_dbi_open(txn, ns, create ? MDB_CREATE : 0, dbi);
    if (rc == MDB_NOTFOUND && !create) {
        *missing = 1;
        return 0;
    }
    if (rc != 0)
        return rc;
    d = &l->dbs[l->ndbs++];
    snprintf(d->name, sizeof(d->name), "%s", ns);
    d->dbi = *dbi;
    d->fresh = 1;
    return 0;
}

void local_dbs_settle(struct local *l, int committed)
{
    size_t i, n = 0;

    for (i = 0; i < l->ndbs; i++) {
        if (l->dbs[i].fresh && !committed)
            continue; /* LMDB closed it with the transaction */
        l->dbs[n] = l->dbs[i];
        l->dbs[n++].fresh = 0;
    }
    l->ndbs = n;
}

/* ------------------------------------------------------------------ */
/* One key                                                              */
/* ------------------------------------------------------------------ */

/* A key's packed name, borrowed from buf. */
static MDB_val pack(const char *key, unsigned char *buf)
{
    MDB_val k;

    k.mv_size = skey_pack(key, strlen(key), 0, buf);
    k.mv_data = buf;
    return k;
}

/*
 * The version of ns/key in *cur (0: no value) and its record in *val
 * when val is not NULL. 0, AGORA_EIO in *err for a damaged record, or
 * the LMDB error.
 */
static int current(struct local *l, MDB_txn *txn, const char *ns,
                   const char *key, int64_t *cur, MDB_val *val, int *err)
{
    unsigned char kb[SKEY_PACKED_MAX];
    MDB_val k = pack(key, kb), v;
    MDB_dbi dbi;
    int missing, rc = db_open(l, txn, ns, 0, &dbi, &missing);

    *cur = 0;
    *err = 0;
    if (rc != 0 || missing)
        return rc;
    rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    *cur = rec_version(&v);
    if (*cur == 0)
        *err = damaged(l, ns, key);
    if (val != NULL)
        *val = v;
    return 0;
}

static int version_matches(int64_t expected, int64_t cur)
{
    if (expected == AGORA_STORE_ANY)
        return 1;
    if (expected == AGORA_STORE_NEW)
        return cur == 0;
    return expected == cur;
}

int local_raw_put(struct local *l, MDB_txn *txn, const char *ns,
                  const char *key, int64_t version, const void *value,
                  size_t len)
{
    unsigned char kb[SKEY_PACKED_MAX];
    MDB_val k = pack(key, kb), v = {VER_LEN + len, NULL};
    MDB_dbi dbi;
    int missing, rc = db_open(l, txn, ns, 1, &dbi, &missing);

    if (rc != 0)
        return rc;
    /* MDB_RESERVE: LMDB hands the space, we write the record in place. */
    rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);
    if (rc != 0)
        return rc;
    put_le64(v.mv_data, (uint64_t)version);
    if (len > 0)
        memcpy((unsigned char *)v.mv_data + VER_LEN, value, len);
    return 0;
}

int local_raw_delete(struct local *l, MDB_txn *txn, const char *ns,
                     const char *key)
{
    unsigned char kb[SKEY_PACKED_MAX];
    MDB_val k = pack(key, kb);
    MDB_dbi dbi;
    int missing, rc = db_open(l, txn, ns, 0, &dbi, &missing);

    if (rc != 0 || missing)
        return rc;
    rc = mdb_del(txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int op_get(struct local *l, MDB_txn *txn, struct local_slot *s)
{
    struct store_op *op = s->op;
    int64_t cur;
    MDB_val v;
    int rc = current(l, txn, op->ns, op->key, &cur, &v, &s->err);

    if (rc != 0 || s->err != 0)
        return rc;
    if (cur == 0) {
        s->err = AGORA_ENOENT;
        return 0;
    }
    op->len = v.mv_size - VER_LEN;
    op->value = malloc(op->len + 1);
    if (op->value == NULL) {
        s->err = AGORA_ENOMEM;
        return 0;
    }
    memcpy(op->value, (unsigned char *)v.mv_data + VER_LEN, op->len);
    op->value[op->len] = '\0'; /* the SDK promises a NUL-terminated value */
    op->version = cur;
    return 0;
}

/*
 * Writes ns/key = value at the version after the one it has, when that
 * is expected (AGORA_STORE_ANY or AGORA_STORE_NEW), in one descent of
 * the tree for a new key: MDB_NOOVERWRITE finds the place and writes
 * there, or hands back the record that is there. current() and then
 * local_raw_put() were two descents and two packings of the key for
 * every put, and most puts are of new keys (an instance, an app's
 * version). *version gets the version written. 0 with AGORA_EVERSION
 * or AGORA_EIO (a damaged record) in *err and nothing written, or the
 * LMDB error.
 */
static int put_next(struct local *l, MDB_txn *txn, const char *ns,
                    const char *key, int64_t expected, const void *value,
                    size_t len, int64_t *version, int *err)
{
    unsigned char kb[SKEY_PACKED_MAX];
    MDB_val k = pack(key, kb), v = {VER_LEN + len, NULL};
    MDB_dbi dbi;
    int64_t cur = 0;
    int missing, rc = db_open(l, txn, ns, 1, &dbi, &missing);

    *err = 0;
    if (rc != 0)
        return rc;
    rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE | MDB_RESERVE);
    if (rc == MDB_KEYEXIST) {
        if ((cur = rec_version(&v)) == 0)
            *err = damaged(l, ns, key);
        else if (!version_matches(expected, cur))
            *err = AGORA_EVERSION;
        if (*err != 0)
            return 0;
        v.mv_size = VER_LEN + len;
        v.mv_data = NULL;
        rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);
    }
    if (rc != 0)
        return rc;
    put_le64(v.mv_data, (uint64_t)(cur + 1));
    if (len > 0)
        memcpy((unsigned char *)v.mv_data + VER_LEN, value, len);
    *version = cur + 1;
    return 0;
}

/* Whether put_next() can write a put that expects this version. */
static int put_next_takes(int64_t expected)
{
    return expected == AGORA_STORE_ANY || expected == AGORA_STORE_NEW;
}

static int op_put(struct local *l, MDB_txn *txn, struct local_slot *s)
{
    struct store_op *op = s->op;
    int64_t cur;
    int rc;

    if (put_next_takes(op->version))
        return put_next(l, txn, op->ns, op->key, op->version, op->value,
                        op->len, &s->version, &s->err);
    rc = current(l, txn, op->ns, op->key, &cur, NULL, &s->err);

    if (rc != 0 || s->err != 0)
        return rc;
    if (!version_matches(op->version, cur)) {
        s->err = AGORA_EVERSION;
        return 0;
    }
    s->version = cur + 1;
    return local_raw_put(l, txn, op->ns, op->key, s->version, op->value,
                         op->len);
}

/* A missing key is AGORA_ENOENT whatever version was named: there is
 * nothing to compare against, and ZooKeeper answers the same. */
static int op_delete(struct local *l, MDB_txn *txn, struct local_slot *s)
{
    struct store_op *op = s->op;
    int64_t cur;
    int rc = current(l, txn, op->ns, op->key, &cur, NULL, &s->err);

    if (rc != 0 || s->err != 0)
        return rc;
    if (cur == 0)
        s->err = AGORA_ENOENT;
    else if (!version_matches(op->version, cur))
        s->err = AGORA_EVERSION;
    else
        rc = local_raw_delete(l, txn, op->ns, op->key);
    return rc;
}

/* ------------------------------------------------------------------ */
/* One level: list and children                                         */
/* ------------------------------------------------------------------ */

/*
 * Walks the children of op's key: for each, fn(arg, name, rec) with rec
 * the child's own record or NULL when it has none (only keys below it).
 * A child's subtree is jumped over with one seek, so a level costs a
 * seek per child whatever lies below them.
 */
typedef int (*child_fn)(void *arg, const char *name, const MDB_val *rec);

static int each_child(struct local *l, MDB_txn *txn, const struct store_op *op,
                      child_fn fn, void *arg, int *err)
{
    char prefix[AGORA_STORE_KEY_MAX + 2], name[8 * SKEY_PACKED_MAX / 7 + 2];
    unsigned char kb[SKEY_PACKED_MAX];
    size_t plen = strlen(op->key);
    MDB_cursor *cur;
    MDB_val k, v;
    MDB_dbi dbi;
    int missing, rc = db_open(l, txn, op->ns, 0, &dbi, &missing);

    if (rc != 0 || missing)
        return rc;
    memcpy(prefix, op->key, plen);
    if (plen > 0)
        prefix[plen++] = '/';
    prefix[plen] = '\0';
    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return rc;
    k.mv_size = skey_pack(prefix, plen, 0, kb);
    k.mv_data = kb;
    for (rc = mdb_cursor_get(cur, &k, &v, k.mv_size ? MDB_SET_RANGE : MDB_FIRST);
         rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) {
        long n = k.mv_size < SKEY_PACKED_MAX
                     ? skey_unpack(k.mv_data, k.mv_size, name)
                     : -1;
        char *seg, *slash;

        if (n < 0) {
            *err = damaged(l, op->ns, "(a key)");
            break;
        }
        if ((size_t)n <= plen || memcmp(name, prefix, plen) != 0)
            break; /* past the level */
        seg = name + plen;
        slash = strchr(seg, '/');
        if (slash != NULL)
            *slash = '\0';
        *err = fn(arg, seg, slash == NULL ? &v : NULL);
        if (*err != 0)
            break;
        /* The next sibling: prefix + seg, then the code after '/'. */
        k.mv_size = skey_pack(name, strlen(name), SKEY_AFTER_SLASH, kb);
        k.mv_data = kb;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

struct names {
    char **v;
    size_t n, cap;
};

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    size_t c = *cap ? *cap * 2 : 16;
    void *p;

    if (n < *cap)
        return 0;
    p = realloc(*v, c * size);
    if (p == NULL)
        return AGORA_ENOMEM;
    *v = p;
    *cap = c;
    return 0;
}

static int name_one(void *arg, const char *name, const MDB_val *rec)
{
    struct names *ns = arg;

    (void)rec;
    if (grow((void **)&ns->v, &ns->cap, ns->n, sizeof(*ns->v)) != 0)
        return AGORA_ENOMEM;
    ns->v[ns->n] = strdup(name);
    if (ns->v[ns->n] == NULL)
        return AGORA_ENOMEM;
    ns->n++;
    return 0;
}

static void names_free(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The children of a missing key (or of an empty namespace) are an empty
 * list, not AGORA_ENOENT: a key exists only through its value and
 * children, so "nothing below" is the honest answer. */
static int op_list(struct local *l, MDB_txn *txn, struct local_slot *s)
{
    struct names ns = {NULL, 0, 0};
    int rc = each_child(l, txn, s->op, name_one, &ns, &s->err);

    if (rc != 0 || s->err != 0) {
        names_free(ns.v, ns.n);
        return rc;
    }
    s->op->names = ns.v;
    s->op->nnames = ns.n;
    return 0;
}

struct gather {
    const struct local *l;
    const struct store_op *op;
    struct store_entry *v;
    size_t n, cap, bytes;
};

static int gather_one(void *arg, const char *name, const MDB_val *rec)
{
    struct gather *g = arg;
    struct store_entry *e;
    size_t len;

    if (rec == NULL)
        return 0; /* only keys below it: not a child with a value */
    if (rec_version(rec) == 0)
        return damaged(g->l, g->op->ns, name);
    len = rec->mv_size - VER_LEN;
    g->bytes += strlen(name) + len;
    if (g->bytes > g->op->limit) {
        log_warn("store", "%s: %s/%s: children over the limit of %zu bytes",
                 g->l->root, g->op->ns, g->op->key, g->op->limit);
        return AGORA_ETOOBIG;
    }
    if (grow((void **)&g->v, &g->cap, g->n, sizeof(*g->v)) != 0)
        return AGORA_ENOMEM;
    e = &g->v[g->n];
    e->name = strdup(name);
    e->value = malloc(len + 1);
    if (e->name == NULL || e->value == NULL) {
        free(e->name);
        free(e->value);
        return AGORA_ENOMEM;
    }
    memcpy(e->value, (const unsigned char *)rec->mv_data + VER_LEN, len);
    e->value[len] = '\0';
    e->len = len;
    e->version = rec_version(rec);
    g->n++;
    return 0;
}

static void entries_free(struct store_entry *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
}

static int op_children(struct local *l, MDB_txn *txn, struct local_slot *s)
{
    struct gather g;
    int rc;

    memset(&g, 0, sizeof(g));
    g.l = l;
    g.op = s->op;
    rc = each_child(l, txn, s->op, gather_one, &g, &s->err);
    if (rc != 0 || s->err != 0) {
        entries_free(g.v, g.n);
        return rc;
    }
    s->op->entries = g.v;
    s->op->nentries = g.n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Transactions                                                         */
/* ------------------------------------------------------------------ */

static int txn_holds(const struct store_txn_op *t, int64_t cur)
{
    if (t->kind == AGORA_STORE_TXN_DELETE && cur == 0)
        return 0;
    return version_matches(t->version, cur);
}

/* A put of a transaction that put_next() writes: one of any version,
 * which only a damaged record can fail. */
static int txn_put_any(const struct store_txn_op *t)
{
    return t->kind == AGORA_STORE_TXN_PUT && t->version == AGORA_STORE_ANY;
}

/*
 * Checks every op that a version can fail, then writes the puts and
 * deletes: the batch's LMDB transaction makes them all or nothing. Puts
 * of any version are not looked up first but written by put_next(),
 * which finds their version on its way; one that meets a damaged record
 * has written the ops before it into the batch's transaction, so it
 * fails the transaction (LOCAL_UNDO): the batch runs again, and this op
 * alone then keeps its AGORA_EIO.
 */
static int op_txn(struct local *l, MDB_txn *txn, struct local_slot *s)
{
    struct store_op *op = s->op;
    size_t i;
    int rc;

    for (i = 0; i < op->ntxn; i++) {
        const struct store_txn_op *t = &op->txn[i];
        int64_t cur;

        if (txn_put_any(t))
            continue;
        rc = current(l, txn, op->ns, t->key, &cur, NULL, &s->err);
        if (rc != 0 || s->err != 0)
            return rc;
        if (!txn_holds(t, cur)) {
            op->failed = i;
            s->err = AGORA_EVERSION;
            return 0;
        }
        s->tv[i] = t->kind == AGORA_STORE_TXN_PUT      ? cur + 1
                   : t->kind == AGORA_STORE_TXN_DELETE ? 0
                                                       : cur;
    }
    for (i = 0, rc = 0; i < op->ntxn && rc == 0; i++) {
        const struct store_txn_op *t = &op->txn[i];

        if (txn_put_any(t)) {
            rc = put_next(l, txn, op->ns, t->key, t->version, t->value,
                          t->len, &s->tv[i], &s->err);
            if (rc == 0 && s->err != 0)
                return LOCAL_UNDO;
        } else if (t->kind == AGORA_STORE_TXN_PUT) {
            rc = local_raw_put(l, txn, op->ns, t->key, s->tv[i], t->value,
                               t->len);
        } else if (t->kind == AGORA_STORE_TXN_DELETE) {
            rc = local_raw_delete(l, txn, op->ns, t->key);
        }
    }
    return rc;
}

/* ------------------------------------------------------------------ */

int local_run_op(struct local *l, MDB_txn *txn, struct local_slot *s)
{
    s->err = 0;
    switch (s->op->kind) {
    case STORE_GET:
        return op_get(l, txn, s);
    case STORE_PUT:
        return op_put(l, txn, s);
    case STORE_DELETE:
        return op_delete(l, txn, s);
    case STORE_LIST:
        return op_list(l, txn, s);
    case STORE_CHILDREN:
        return op_children(l, txn, s);
    case STORE_TXN:
        return op_txn(l, txn, s);
    }
    s->err = AGORA_EINVAL;
    return 0;
}

void local_op_reset(struct store_op *op)
{
    if (op->kind == STORE_GET) {
        free(op->value);
        op->value = NULL;
    } else if (op->kind == STORE_LIST) {
        names_free(op->names, op->nnames);
        op->names = NULL;
        op->nnames = 0;
    } else if (op->kind == STORE_CHILDREN) {
        entries_free(op->entries, op->nentries);
        op->entries = NULL;
        op->nentries = 0;
    }
}
