/*
 * store.h - durable key/value state, asynchronous, one namespace a plugin.
 *
 * One interface, several backends:
 *   local  a directory under --work_dir (one master, no ZooKeeper); each
 *          write goes to a temporary file, is fsync'ed, then renamed over
 *          the old value, so a crash leaves the old value or the new one.
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
    STORE_LIST
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
    int err;         /* filled by the backend                            */

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
    uint64_t gets, puts, deletes, lists, errors, pending;
};
void store_get_stats(const struct store *s, struct store_stats *out);

#endif /* AGORA_STORE_H */
