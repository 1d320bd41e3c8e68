/*
 * store_zk_int.h - what the ZooKeeper store's files share: store_zk.c
 * (the backend, its requests, reads, order and deadlines) and
 * store_zk_batch.c (writes, batched into multis). Not for anyone else.
 */
#ifndef AGORA_STORE_ZK_INT_H
#define AGORA_STORE_ZK_INT_H

#include <ev.h>
#include <pthread.h>

#include "store.h"
#include "store_zk_order.h"
#include "zk.h"

#define VALUE_NODE ".v"
/* Races lost before an op gives up with AGORA_EIO. */
#define MAX_TRIES 16
/*
 * ZooKeeper refuses a request bigger than jute.maxbuffer (0xfffff by
 * default). A value of AGORA_STORE_VALUE_MAX with its path fits; a multi
 * that also creates many parents may not: above this estimate the parents
 * are made in a request of their own.
 */
#define REQUEST_BUDGET (0xfffff - 4096)
/* A multi's overhead an op (header, ACL, version, flags), generously. */
#define OP_OVERHEAD 64
/* Znodes the cache knows at most (about 100 bytes each) before it is
 * cleared (store_zk_cache.c). */
#define CACHE_MAX 32768

struct zstore;
struct zop;
struct zbatch;

/* One zoo_a*() call and, once it completed, its result. */
struct zreq {
    struct zstore *b;
    struct zop *zop;      /* not read once b is closed */
    struct zbatch *batch; /* a batch's request: zop is NULL */
    int index;            /* an exists() of a scan: which node */
    int rc;               /* ZOK or a ZooKeeper error */
    int nomem;            /* the completion could not copy the result */
    struct Stat stat;
    char *data; /* getData: the bytes, NUL-terminated */
    int len;
    char **names; /* getChildren */
    int nnames;
    zoo_op_result_t *results; /* multi */
    struct Stat *stats;       /* multi: filled for its set ops */
    int nops;
    int fenced; /* multi: its first op is the fence's check */
    struct zreq *next;
};

/* What the cache knows of a znode. */
struct znode_info {
    int exists;
    int nchildren; /* when it exists */
    int version;   /* ZooKeeper's, of a .v; -1 when missing */
    int complete;  /* it exists and every child of it that does is known */
};

/* The step of a read whose answer is awaited. */
enum step { ST_GET, ST_LIST, ST_DEL_EXISTS, ST_CH_LIST, ST_CH_GET };

/* The backend's state of one op. Loop thread only. */
struct zop {
    struct store_op *op; /* NULL once completed */
    char *kpath;         /* <base>/<ns>[/<key>] */
    char *vpath;         /* kpath + "/.v" */
    size_t ns_len;       /* strlen("<base>/<ns>") */
    enum step step;
    int started;
    int outstanding; /* requests (or a batch) that still refer to it */
    int tries;
    int fresh; /* a write whose next batch must scan, not use the cache */
    ev_tstamp deadline;
    struct order_ent *order; /* its place in the order, until finished */
    /* children */
    size_t next_child; /* the next child to read */
    size_t bytes;      /* names and values read so far */
    /* A write, as a transaction's ops (a put or a delete is one, `one`,
     * on the op's own key, relative to the namespace), and each one's
     * version once the batch's multi is applied. */
    struct store_txn_op *sub;
    size_t nsub;
    struct store_txn_op one;
    int64_t *after;
    struct zop *next_w; /* the queue of writes waiting for a batch */
    struct zop *prev, *next;
};

struct zstore {
    struct ev_loop *loop; /* borrowed until close */
    struct zk *z;         /* borrowed: must outlive the store */
    char *base;           /* <root>/state */
    uint64_t term;        /* the term open (store.h), 0: none */
    char *fence;          /* its fence's path, or NULL */

    /* Loop thread only. */
    struct zop *head, *tail;       /* ops not freed yet, in call order */
    struct order order;            /* which ops may start */
    struct zop *wq_head, *wq_tail; /* writes that may start, in order */
    struct zbatch *batch;          /* the one batch in progress, or NULL */
    struct zbatch *dead;           /* batches given up (zbatch_expire) */
    struct map cache;              /* path -> what we know of it */
    int running;                   /* started and not completed */
    int scheduling, again;         /* schedule() re-entered */
    /* A batch starts from `kick`, once the loop has run every callback
     * ready, so that the writes those make go together; at once while
     * closing. */
    ev_prepare kick;
    int kick_now, closing;
    ev_async wake;
    ev_timer tick; /* deadlines, while ops run */

    /* Shared with libzookeeper's threads. */
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* a result arrived (close() waits on it) */
    struct zreq *rhead, *rtail; /* results for the loop */
    int inflight;               /* requests libzookeeper has not answered */
    int closed; /* results are dropped; the last one frees the backend */
};

/* store_zk.c, for the batch. */
struct zreq *zs_req_begin(struct zstore *b, struct zop *zo);
int zs_req_sent(struct zstore *b, struct zop *zo, struct zreq *r, int zrc);
zhandle_t *zs_handle(struct zstore *b);
void zs_finish(struct zstore *b, struct zop *zo, int err);
void zs_finish_zk(struct zstore *b, struct zop *zo, int zrc, const char *what);
void zs_release(struct zstore *b, struct zop *zo);
int zs_zk_version(int64_t v);
char *zs_path3(const char *a, const char *b, const char *c);
void zs_on_stat(int rc, const struct Stat *stat, const void *data);
void zs_on_void(int rc, const void *data);

/*
 * store_zk_cache.c, over a map that borrows its keys. zcache_lookup():
 * 1, with *out filled, when path is known (cached, or its parent is
 * cached and missing or complete), else 0.
 */
int zcache_lookup(const struct map *c, const char *path,
                  struct znode_info *out);
int zcache_set(struct map *c, const char *path, const struct znode_info *in);
void zcache_clear(struct map *c);

/*
 * store_zk_batch.c. zbatch_queue() takes a write that may start (its
 * order allows it); zbatch_kick() starts a batch of the writes queued
 * when none is in progress; zbatch_result() handles an answer to a
 * batch's request (r->batch); zbatch_close() drops the batch for close()
 * (its writers are completed by close()).
 */
void zbatch_queue(struct zstore *b, struct zop *zo);
void zbatch_kick(struct zstore *b);
void zbatch_result(struct zstore *b, struct zreq *r);
void zbatch_close(struct zstore *b);
void zbatch_expire(struct zstore *b, ev_tstamp now);

#endif /* AGORA_STORE_ZK_INT_H */
