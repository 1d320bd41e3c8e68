/*
 * store_local_int.h - the local backend's parts: the worker and open
 * (store_local.c), the ops on one LMDB transaction (store_local_ops.c),
 * and the migration from the old directory layout (store_migrate.c).
 */
#ifndef AGORA_STORE_LOCAL_INT_H
#define AGORA_STORE_LOCAL_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>

#include "store.h"

/* Namespaces a store holds at most: each is an LMDB named database. */
#define LOCAL_DBS_MAX 256

/* A namespace's database handle, as the worker knows it. fresh: opened
 * by the write transaction now open, so gone again if it aborts. */
struct local_db {
    char name[65];
    MDB_dbi dbi;
    int fresh;
};

struct local {
    char *root;      /* as given to open; for log lines */
    int rootfd;      /* the directory, held open */
    MDB_env *env;
    size_t mapsize;  /* LMDB's map now; doubled when full */
    pthread_t worker;
    pthread_mutex_t mu; /* guards head, tail, stopping, term */
    pthread_cond_t cv;  /* signalled when an op is queued or on stop */
    struct store_op *head, *tail; /* linked by be_next */
    int stopping;
    uint64_t term; /* the term open (store.h's fencing), 0: none */

    /* Worker only. */
    struct local_db dbs[LOCAL_DBS_MAX];
    size_t ndbs;
    struct local_slot *slots; /* a batch: LOCAL_BATCH_MAX of them */
};

/* One op of a batch and what it produced, kept off the op until the
 * batch commits, so that a batch that fails can run again from the
 * op's own inputs. */
struct local_slot {
    struct store_op *op;
    int todo;        /* 0: not to run (a write of an ended term) */
    int err;         /* the op's outcome */
    int64_t version; /* put: the new version */
    int64_t tv[AGORA_STORE_TXN_MAX]; /* txn: each op's version after */
};

/* Runs slot's op in txn: 0 or an agora_err in slot->err (the op's own
 * outcome), or a negative LMDB or errno code that fails the whole
 * transaction (it must be aborted). LOCAL_UNDO: the op failed with
 * slot->err after writing into txn, which must be aborted for it; run
 * alone, it keeps that outcome. */
#define LOCAL_UNDO (MDB_LAST_ERRCODE - 100)
int local_run_op(struct local *l, MDB_txn *txn, struct local_slot *slot);

/* Frees what a get, list or children op received from local_run_op(),
 * when its transaction did not commit. */
void local_op_reset(struct store_op *op);

/* Writes ns/key = value at version, or deletes it, in txn: for the
 * migration. 0 or an LMDB error code. */
int local_raw_put(struct local *l, MDB_txn *txn, const char *ns,
                  const char *key, int64_t version, const void *value,
                  size_t len);
int local_raw_delete(struct local *l, MDB_txn *txn, const char *ns,
                     const char *key);

/* The transaction that opened them is gone: forget the handles it
 * opened (aborted) or keep them (committed). */
void local_dbs_settle(struct local *l, int committed);

/* Logs LMDB's error rc on what, and maps it to an agora_err. */
int local_mdb_fail(const struct local *l, const char *what, int rc);

/*
 * Moves a store of the old layout (a directory per key, see
 * store_migrate.c) into the LMDB environment, then removes it. Runs at
 * open, before the worker. 0 or an agora_err (the open fails: nothing
 * of the old layout was removed).
 */
int local_migrate(struct local *l);

#endif /* AGORA_STORE_LOCAL_INT_H */
