/*
 * store.h - durable key/value state, asynchronous, one namespace a plugin.
 *
 * One interface, several backends:
 *   local  an LMDB file under --work_dir (one master, no ZooKeeper): the
 *          ops queued together commit together, one fsync for all of
 *          them (group commit); a crash leaves each commit whole or not
 *          at all.
 *   zk     ZooKeeper znodes under <root>/state/<namespace>/<key>.
 *
 * Every call returns at once. Its completion runs later on the loop
 * thread, never inside the call that started it, and completions of one
 * store run in the order their calls were made. Backends do their I/O off
 * the loop (the local one in a thread of its own, ZooKeeper in its own
 * threads) and hand results back through an ev_async queue.
 *
 * Keys, versions and limits are those of agora/plugin.h (AGORA_STORE_*).
 * A namespace is a plugin name ([a-z0-9_]+) or "_core" for the master.
 */
#ifndef AGORA_STORE_H
#define AGORA_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <agora/plugin.h>

struct ev_loop;
struct store;
struct store_op;

enum store_kind {
    STORE_GET,
    STORE_PUT,
    STORE_DELETE,
    STORE_LIST,
    STORE_CHILDREN,
    STORE_TXN
};

/* A child read by store_get_children(); the backend mallocs name and
 * value (NUL-terminated), the store frees them. */
struct store_entry {
    char *name;
    char *value;
    size_t len;
    int64_t version;
};

/* One op of a transaction, as the store copied it (key and value its
 * own). version is the expected one; after a success, the backend sets
 * it to the key's version now (put: the new one, delete: 0, check: the
 * one checked). */
struct store_txn_op {
    enum agora_store_txn_kind kind;
    char *key;
    char *value;
    size_t len;
    int64_t version;
};

/* The result handed to a completion; borrowed for the call only. */
typedef struct agora_store_result store_result;

/* err: 0 or an agora_err. */
typedef void (*store_cb)(void *arg, int err, const store_result *r);

/* A backend: the store calls these on the loop thread. */
struct store_backend {
    const char *name;
    /* Starts op; the backend completes it with store_complete(), from any
     * thread, exactly once. */
    void (*submit)(void *impl, struct store_op *op);
    /* Finishes every submitted op (a write already submitted still
     * happens), then frees impl. Called once, on the loop thread. */
    void (*close)(void *impl);
    /* The term now open, and its fence (borrowed for the call), or 0 and
     * NULL when none is (see store_term_begin). From then on a write of
     * another term (op->term, not 0) completes with AGORA_ENOTLEADER
     * unless the backend had begun applying it. 0 or AGORA_ENOMEM. */
    int (*term)(void *impl, uint64_t term, const char *fence);
};

/* What a backend reads of an op and fills in. */
struct store_op {
    enum store_kind kind;
    char *ns;
    char *key;
    char *value; /* put: the value; get: filled by the backend (malloc)  */
    size_t len;
    int64_t version; /* put/delete: expected; get/put: filled           */
    char **names;    /* list: filled by the backend (malloc each + array) */
    size_t nnames;
    /* children: filled by the backend (malloc'd array, sorted by name);
     * limit is the most bytes of names and values it may hand back,
     * AGORA_ETOOBIG past it. */
    struct store_entry *entries;
    size_t nentries;
    size_t limit;
    /* txn: the ops, in order (key is "" for a txn); failed is filled
     * with the index of the op that failed, on AGORA_EVERSION. */
    struct store_txn_op *txn;
    size_t ntxn;
    size_t failed;
    int err;         /* filled by the backend                            */
    /* The term a put, delete or txn was called in (see store_term_begin):
     * 0 when the store is not fenced. */
    uint64_t term;
    /* The backend's own link, for its queues. */
    struct store_op *be_next;

    /* Owned by the store. */
    store_cb cb;
    void *arg;
    int canceled;
    struct store *store;
    struct store_op *next;
};

/*
 * Opens the local backend rooted at `dir` (created when missing) and
 * returns the store in *out. The store borrows loop until store_close().
 */
int store_open_local(struct ev_loop *loop, const char *dir,
                     struct store **out);

struct zk;

/*
 * Opens the ZooKeeper backend: keys under <root>/state/ (root as
 * zk_parse_url() gives it, "/agora"), over the session z, which it borrows:
 * close the store before z. Nothing is created until the first put. Ops
 * fail with AGORA_EUNAVAIL while the session is not connected (see
 * store_zk.c for the layout and the semantics).
 */
int store_open_zk(struct ev_loop *loop, struct zk *z, const char *root,
                  struct store **out);

/* Opens a store over any backend; used by the backends' open functions. */
int store_open_backend(struct ev_loop *loop, const struct store_backend *be,
                       void *impl, struct store **out);

/* The name of the backend, "local" or "zk". */
const char *store_backend_name(const struct store *s);

/* The backend's own state, as its open function handed it. */
void *store_backend_impl(const struct store *s);

/*
 * For tests of the local backend: 1 when the namespace (path "ns") was
 * made, or when ns/key has a value or keys below it (path "ns/key"),
 * else 0. Call it while no op is in flight.
 */
int store_local_holds(struct store *s, const char *path);

/*
 * Starts an operation. ns, key and value are copied. On success returns 0
 * and, when op is not NULL, a handle for store_cancel() that stays valid
 * until the completion has run. On failure returns an agora_err at once
 * (invalid key, value too big, out of memory) and cb is never called.
 */
int store_get(struct store *s, const char *ns, const char *key, store_cb cb,
              void *arg, struct store_op **op);
int store_put(struct store *s, const char *ns, const char *key,
              const void *value, size_t len, int64_t version, store_cb cb,
              void *arg, struct store_op **op);
int store_delete(struct store *s, const char *ns, const char *key,
                 int64_t version, store_cb cb, void *arg,
                 struct store_op **op);
/* Lists the child segments of key ("" = the namespace's top level). */
int store_list(struct store *s, const char *ns, const char *key, store_cb cb,
               void *arg, struct store_op **op);

/*
 * Every child of key ("" = the top level) that has a value, with its
 * value and version, sorted by name: one level (see agora/plugin.h).
 * Names and values together past the store's limit (see
 * store_set_children_max()) complete with AGORA_ETOOBIG.
 */
int store_get_children(struct store *s, const char *ns, const char *key,
                       store_cb cb, void *arg, struct store_op **op);

/*
 * n ops on distinct keys of ns, all or nothing (see agora/plugin.h for
 * the semantics and limits; ops are copied). Crash safety is the
 * backend's: ZooKeeper's multi is atomic, and the local backend commits
 * it inside one LMDB transaction (see store_local.c):
 *   - killed before that commit is durable: nothing of it happened;
 *   - killed after: all of it is there when the store opens again. Its
 *     completion may never have run in that case, so a caller that saw
 *     no completion must read the keys again.
 * Either way no reader ever sees a part of a transaction applied.
 */
int store_txn(struct store *s, const char *ns,
              const struct agora_store_txn_op *ops, size_t n, store_cb cb,
              void *arg, struct store_op **op);

/* The most bytes a store_get_children() hands back; starts at
 * AGORA_STORE_CHILDREN_MAX. For tests, which cannot write 64 MB. */
void store_set_children_max(struct store *s, size_t bytes);

/*
 * Watches: cb(arg, event, key, version) for each put or delete of ns/key
 * made through this store, where key is prefix or below it ("" = the
 * whole namespace). It runs on the loop right after the completion of the
 * write (cancelled or not: the write happened), in the order of the
 * writes, once a key for a transaction. Writes of another process are not
 * seen, whatever the backend. key is borrowed for the call. The handle in
 * *out stays valid until store_unwatch(); after that call cb never runs,
 * even when it is made from a watch callback. store_close() frees the
 * watches left.
 */
typedef void (*store_watch_cb)(void *arg, enum agora_store_event event,
                               const char *key, int64_t version);
struct store_watch;
int store_watch(struct store *s, const char *ns, const char *prefix,
                store_watch_cb cb, void *arg, struct store_watch **out);
void store_unwatch(struct store *s, struct store_watch *w);

/*
 * Fencing: a store serves one leader's term at a time, so that writes
 * started by a master that has since been deposed never land. The
 * master calls store_term_begin() when it is elected, before its
 * plugins start, and store_term_end() when it is deposed, before they
 * are finished. A write (put, delete, txn) belongs to the term open when
 * it was called:
 *   - called while no term is open, it completes with AGORA_ENOTLEADER
 *     and changes nothing;
 *   - once its term has ended, so does every write of it the backend had
 *     not begun applying (the local backend's worker had not taken it,
 *     ZooKeeper had not been sent it);
 *   - with a fence (the ZooKeeper backend: the path of this master's
 *     election znode, "<root>/leader/member_N"), every write is one multi
 *     that first checks the fence exists, so that a write ZooKeeper
 *     applies after the znode went - the session expired, the master
 *     abdicated, or someone deleted it, before this master heard of it -
 *     fails too (AGORA_ENOTLEADER), and one applied before it went is a
 *     write of a master that led. While the znode exists, no other
 *     master can have been elected: it is the lowest of the election.
 * So no write of an ended term lands after a write or read of a later
 * one. Reads are not fenced. A store on which no term ever began is not
 * fenced at all (tests, tools). 0, or AGORA_ENOMEM (no term is open then,
 * and writes fail).
 */
int store_term_begin(struct store *s, const char *fence);
void store_term_end(struct store *s);

/* The callback of op will not run; the operation itself still happens. */
void store_cancel(struct store_op *op);

/*
 * Called by a backend, from any thread, when op is done (op->err and the
 * results filled in). The completion runs on the loop.
 */
void store_complete(struct store_op *op);

/*
 * Waits for every submitted operation to finish, runs no more callbacks,
 * and frees the store. For shutdown: writes made before it are durable.
 */
void store_close(struct store *s);

/* 0 when key is a valid key (list also accepts ""), else AGORA_EINVAL. */
int store_key_valid(const char *key, int allow_empty);

/* 0 when ns is a valid namespace, else AGORA_EINVAL. */
int store_ns_valid(const char *ns);

/* Counters for /metrics/snapshot. */
struct store_stats {
    uint64_t gets, puts, deletes, lists, children, txns, errors, pending;
};
void store_get_stats(const struct store *s, struct store_stats *out);

#endif /* AGORA_STORE_H */
