/*
 * store_zk_plan.c - how a batch of the ZooKeeper store's writes becomes
 * one multi (see store_zk_batch.c for the batch's life).
 *
 * The view: every prefix of each write's value path (<root>, ..., the
 * key, its .v), each once, with what is known of it: read by the
 * batch's scan, or from the cache (store_zk_cache.c). The plan simulates
 * the writes in turn on that view, so that each sees what the ones
 * before it leave: a put creates the missing ancestors and its .v, or
 * sets the .v at its version; a delete removes the .v and each ancestor
 * below the namespace it leaves empty; a transaction does its ops so,
 * and checks a .v's version with a check op (NEW: creates the .v and
 * deletes it). Whether a write must fail is decided on its own .v nodes
 * alone, which no other write of the batch touches (it would conflict).
 * No recursion: a chain of parents is walked with a bounded array.
 */
#include "store_zk_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* <base>/<ns>/<key of sub i>[/.v], malloc'd. */
static char *sub_path(const struct zop *zo, size_t i, int value)
{
    const char *key = zo->sub[i].key;
    size_t n = zo->ns_len + strlen(key) + sizeof("/" VALUE_NODE) + 1;
    char *p = malloc(n);

    if (p == NULL)
        return NULL;
    snprintf(p, n, "%.*s/%s%s", (int)zo->ns_len, zo->kpath, key,
             value ? "/" VALUE_NODE : "");
    return p;
}

/* A put at a version needs no scan: its setData checks the version. */
int zplan_needs_scan(const struct zop *zo)
{
    return !(zo->op->kind == STORE_PUT && zo->one.version >= 1);
}

static int depth_of(const char *path)
{
    int n = 0;

    for (; *path != '\0'; path++)
        n += *path == '/';
    return n;
}

/* An upper bound of the bytes zo adds to a multi: its values, and an op
 * for each prefix of each value's path (created or pruned; twice for a
 * check of NEW, which creates and deletes), each at most the whole
 * path long. */
size_t zplan_estimate(const struct zop *zo)
{
    size_t i, k, size = 0, vlen, nodes, ns_depth = 0;

    for (k = 0; k < zo->ns_len; k++)
        ns_depth += zo->kpath[k] == '/';
    for (i = 0; i < zo->nsub; i++) {
        const struct store_txn_op *t = &zo->sub[i];

        /* <ns path>/<key>/.v: a prefix at each '/' and the whole. */
        vlen = zo->ns_len + 1 + strlen(t->key) + sizeof("/" VALUE_NODE);
        nodes = ns_depth + (size_t)depth_of(t->key) + 2;
        if (t->kind == AGORA_STORE_TXN_CHECK)
            nodes *= 2;
        size += t->len + nodes * (OP_OVERHEAD + vlen);
    }
    return size;
}

static int tnode_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tnode *)a)->path,
                  ((const struct tnode *)b)->path);
}

static int tnode_find(const struct zbatch *bt, const char *path)
{
    struct tnode key = {.path = (char *)path}, *t;

    t = bsearch(&key, bt->tn, (size_t)bt->ntn, sizeof(*bt->tn), tnode_cmp);
    return t == NULL ? -1 : (int)(t - bt->tn);
}

void zplan_nodes_free(struct zbatch *bt)
{
    int i;

    for (i = 0; i < bt->ntn; i++)
        free(bt->tn[i].path);
    free(bt->tn);
    bt->tn = NULL;
    bt->ntn = 0;
}

/* Adds every prefix of path (at a '/' or its end) to the nodes. */
static int tnodes_add(struct zbatch *bt, const char *path, int fresh, int *cap)
{
    size_t len = strlen(path), k;

    for (k = 1; k <= len; k++) {
        if (k < len && path[k] != '/')
            continue;
        if (bt->ntn >= *cap) {
            int ncap = *cap ? 2 * *cap : 64;
            struct tnode *tn = realloc(bt->tn, (size_t)ncap * sizeof(*tn));

            if (tn == NULL)
                return AGORA_ENOMEM;
            bt->tn = tn;
            *cap = ncap;
        }
        memset(&bt->tn[bt->ntn], 0, sizeof(bt->tn[0]));
        bt->tn[bt->ntn].fresh = fresh;
        bt->tn[bt->ntn].path = strndup(path, k);
        if (bt->tn[bt->ntn].path == NULL)
            return AGORA_ENOMEM;
        bt->ntn++;
    }
    return 0;
}

/* The nodes the batch's writes may touch: sorted, unique, linked. */
int zplan_nodes(struct zbatch *bt)
{
    size_t k, i;
    int cap = 0, j, n, rc = 0;

    for (k = 0; k < bt->nw && rc == 0; k++) {
        struct zop *zo = bt->w[k];

        if (zo == NULL || !zplan_needs_scan(zo))
            continue;
        for (i = 0; i < zo->nsub && rc == 0; i++) {
            char *v = sub_path(zo, i, 1);

            /* A check reports the version it read, which no op of the
             * multi confirms when it is of ANY: read fresh, as is a
             * write the cache misled. A transaction's puts and deletes
             * use the cache as a put's or a delete's do (a multi the
             * cache misled fails, and every write is scanned again). */
            rc = v != NULL
                     ? tnodes_add(bt, v,
                                  zo->fresh ||
                                      zo->sub[i].kind == AGORA_STORE_TXN_CHECK,
                                  &cap)
                     : AGORA_ENOMEM;
            free(v);
        }
    }
    if (rc != 0 || bt->ntn == 0)
        return rc;
    qsort(bt->tn, (size_t)bt->ntn, sizeof(*bt->tn), tnode_cmp);
    for (j = 0, n = 0; j < bt->ntn; j++) {
        if (n > 0 && strcmp(bt->tn[n - 1].path, bt->tn[j].path) == 0) {
            bt->tn[n - 1].fresh |= bt->tn[j].fresh;
            free(bt->tn[j].path);
        } else {
            bt->tn[n++] = bt->tn[j];
        }
    }
    bt->ntn = n;
    for (j = 0; j < n; j++) {
        const char *p = bt->tn[j].path, *slash = strrchr(p, '/');
        char *up;

        bt->tn[j].parent = -1;
        if (slash == NULL || slash == p)
            continue;
        /* A copy: bsearch() must see the nodes' paths intact. */
        if ((up = strndup(p, (size_t)(slash - p))) == NULL)
            return AGORA_ENOMEM;
        bt->tn[j].parent = tnode_find(bt, up);
        free(up);
    }
    return 0;
}

/* Fills what the cache knows; 1 when node j must be scanned. */
int zplan_known(struct zstore *b, struct tnode *t)
{
    struct znode_info in;

    if (t->fresh || !zcache_lookup(&b->cache, t->path, &in))
        return 0;
    t->cached = 1;
    t->s_exists = in.exists;
    t->s_nchildren = in.nchildren;
    t->s_version = in.version;
    t->s_complete = in.complete;
    return 1;
}

/* Keeps what the scan read of t; a node that contradicts what the cache
 * said of it (someone else wrote) clears the cache. */
void zplan_learn(struct zstore *b, const struct tnode *t)
{
    struct znode_info in, was;

    in.exists = t->s_exists;
    in.nchildren = t->s_nchildren;
    in.version = t->s_version;
    in.complete = t->s_complete;
    if (zcache_lookup(&b->cache, t->path, &was) &&
        (was.exists != in.exists || was.version != in.version))
        zcache_clear(&b->cache);
    if (zcache_set(&b->cache, t->path, &in) != 0)
        zcache_clear(&b->cache); /* out of memory: know less */
}

/* The multi is applied: what it left is known. */
void zplan_commit(struct zstore *b, const struct zbatch *bt)
{
    struct znode_info in;
    int j;

    for (j = 0; j < bt->ntn; j++) {
        const struct tnode *t = &bt->tn[j];

        in.exists = t->exists;
        in.nchildren = t->exists ? t->nchildren : 0;
        in.version = t->exists ? t->version : -1;
        in.complete =
            t->exists && (t->nchildren == 0 || t->created || t->s_complete);
        if (zcache_set(&b->cache, t->path, &in) != 0) {
            zcache_clear(&b->cache);
            return;
        }
    }
}

static int mop_add(struct zbatch *bt, enum prim prim, const char *path,
                   const char *value, size_t len, int version, int writer,
                   int sub, enum role role)
{
    struct mop *o;

    if (bt->nm >= bt->mcap) {
        int ncap = bt->mcap ? 2 * bt->mcap : 64;
        struct mop *m = realloc(bt->m, (size_t)ncap * sizeof(*m));

        if (m == NULL)
            return AGORA_ENOMEM;
        bt->m = m;
        bt->mcap = ncap;
    }
    o = &bt->m[bt->nm++];
    o->prim = prim;
    o->path = path;
    o->value = value;
    o->len = (int)len;
    o->version = version;
    o->writer = writer;
    o->sub = sub;
    o->role = role;
    bt->size += OP_OVERHEAD + strlen(path) + len;
    return 0;
}

/* Creates node j's missing ancestors and j itself, top-down (no
 * recursion: at most one chain of parents). */
static int create_chain(struct zbatch *bt, int j, const char *value, size_t len,
                        int writer, int sub, enum role role)
{
    int chain[AGORA_STORE_KEY_MAX + 64], n = 0, k, rc;

    for (k = j; k >= 0 && !bt->tn[k].exists; k = bt->tn[k].parent) {
        if (n >= (int)(sizeof(chain) / sizeof(chain[0])))
            return AGORA_EINVAL;
        chain[n++] = k;
    }
    while (n-- > 0) {
        struct tnode *t = &bt->tn[chain[n]];
        int own = chain[n] == j;

        rc = mop_add(bt, P_CREATE, t->path, own ? value : "", own ? len : 0, 0,
                     writer, sub, own ? role : R_PARENT);
        if (rc != 0)
            return rc;
        t->exists = 1;
        t->nchildren = 0;
        t->version = 0;
        t->created = 1;
        if (t->parent >= 0)
            bt->tn[t->parent].nchildren++;
    }
    return 0;
}

/* Deletes node j (a .v, at version), then, when prune, its ancestors
 * below the namespace that it leaves empty. */
static int delete_chain(struct zbatch *bt, const struct zop *zo, int j,
                        int version, int writer, int sub, int prune)
{
    struct tnode *t = &bt->tn[j];
    enum role role = R_DELETE_V;
    int rc;

    for (;;) {
        rc =
            mop_add(bt, P_DELETE, t->path, NULL, 0, version, writer, sub, role);
        if (rc != 0)
            return rc;
        t->exists = 0;
        if (t->parent < 0)
            return 0;
        t = &bt->tn[t->parent];
        t->nchildren--;
        if (!prune || t->nchildren > 0 || strlen(t->path) <= zo->ns_len)
            return 0;
        version = -1;
        role = R_PARENT;
    }
}

/* The node of sub i's .v, or -1 (out of memory, or a write not scanned). */
static int sub_node(const struct zbatch *bt, const struct zop *zo, size_t i)
{
    char *v = sub_path(zo, i, 1);
    int j = v != NULL ? tnode_find(bt, v) : -1;

    free(v);
    return j;
}

static int zversion(int64_t v)
{
    return v == AGORA_STORE_ANY ? -1 : zs_zk_version(v);
}

/*
 * Whether write zo must fail, by the scan: 0, or its answer, with
 * op->failed set for a transaction. Only its own .v nodes decide it, and
 * no other write of the batch touches those (they conflict otherwise).
 */
int zplan_predict(const struct zbatch *bt, struct zop *zo)
{
    size_t i;

    if (!zplan_needs_scan(zo))
        return 0;
    for (i = 0; i < zo->nsub; i++) {
        const struct store_txn_op *t = &zo->sub[i];
        int j = sub_node(bt, zo, i), fails;
        const struct tnode *v;

        if (j < 0)
            return AGORA_ENOMEM;
        v = &bt->tn[j];
        fails = (t->version >= 1 &&
                 (!v->exists || zversion(t->version) != v->version)) ||
                (t->version == AGORA_STORE_NEW && v->exists) ||
                (t->kind == AGORA_STORE_TXN_DELETE && !v->exists);
        if (!fails)
            continue;
        if (v->cached)
            return PREDICT_RESCAN; /* only a scan may answer */
        if (zo->op->kind == STORE_DELETE)
            return v->exists ? AGORA_EVERSION : AGORA_ENOENT;
        zo->op->failed = i;
        return AGORA_EVERSION;
    }
    return 0;
}

/* Adds write k's ops to the multi and notes its versions after it. */
int zplan_write(struct zbatch *bt, size_t k)
{
    struct zop *zo = bt->w[k];
    size_t i;
    int rc = 0;

    if (!zplan_needs_scan(zo)) { /* a put at a version: one setData */
        zo->after[0] = zo->one.version + 1;
        return mop_add(bt, P_SET, zo->vpath, zo->one.value, zo->one.len,
                       zversion(zo->one.version), (int)k, 0, R_SET_V);
    }
    for (i = 0; i < zo->nsub && rc == 0; i++) {
        const struct store_txn_op *t = &zo->sub[i];
        int j = sub_node(bt, zo, i), zv = zversion(t->version);
        struct tnode *v;

        if (j < 0)
            return AGORA_ENOMEM;
        v = &bt->tn[j];
        switch (t->kind) {
        case AGORA_STORE_TXN_PUT:
            zo->after[i] = 1; /* a create; a set's comes in the reply */
            if (!v->exists)
                rc = create_chain(bt, j, t->value, t->len, (int)k, (int)i,
                                  R_CREATE_V);
            else
                rc = mop_add(bt, P_SET, v->path, t->value, t->len, zv, (int)k,
                             (int)i, R_SET_V);
            break;
        case AGORA_STORE_TXN_DELETE:
            zo->after[i] = 0;
            /* After half the tries, only the value: a delete must end
             * even if someone keeps adding siblings. */
            rc = delete_chain(bt, zo, j, zv, (int)k, (int)i,
                              zo->tries < MAX_TRIES / 2);
            break;
        case AGORA_STORE_TXN_CHECK:
            zo->after[i] = v->version >= 0 ? (int64_t)v->version + 1 : 0;
            if (t->version >= 1) {
                rc = mop_add(bt, P_CHECK, v->path, NULL, 0, zv, (int)k, (int)i,
                             R_CHECK_V);
            } else if (t->version == AGORA_STORE_NEW) {
                /* ZooKeeper has no "does not exist" check: create the
                 * .v and delete it, which fails if someone made it. */
                rc = create_chain(bt, j, "", 0, (int)k, (int)i, R_CREATE_V);
                if (rc == 0)
                    rc = delete_chain(bt, zo, j, 0, (int)k, (int)i, 1);
            }
            break;
        }
    }
    return rc;
}

/*
 * The answer of a write whose own op failed the multi with zrc, or 1
 * when it lost a race with another writer (a parent made or removed
 * meanwhile, the .v made or removed under a put of ANY): it is scanned
 * again then.
 */
int zplan_verdict(const struct zop *zo, const struct mop *o, int zrc)
{
    int64_t version = zo->sub[o->sub].version;
    int err = 1;

    switch (o->role) {
    case R_PARENT:
        return 1;
    case R_CREATE_V: /* NONODE: its parent went */
        if (zrc == ZNODEEXISTS && version != AGORA_STORE_ANY)
            err = AGORA_EVERSION;
        break;
    case R_SET_V:
        if (version != AGORA_STORE_ANY &&
            (zrc == ZBADVERSION || zrc == ZNONODE))
            err = AGORA_EVERSION;
        break;
    case R_DELETE_V:
        if (zrc == ZBADVERSION)
            err = AGORA_EVERSION;
        else if (zrc == ZNONODE)
            err = zo->op->kind == STORE_DELETE ? AGORA_ENOENT : AGORA_EVERSION;
        break;
    case R_CHECK_V:
        if (zrc == ZBADVERSION || zrc == ZNONODE)
            err = AGORA_EVERSION;
        break;
    }
    if (err != 1 && zo->op->kind == STORE_TXN)
        zo->op->failed = (size_t)o->sub;
    return err;
}
