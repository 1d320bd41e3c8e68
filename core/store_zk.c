/*
 * store_zk.c - the ZooKeeper backend: keys are znodes under
 * <root>/state/<namespace>/.
 *
 * Layout:
 *     <root>/state/<ns>/<seg1>/<seg2>       the key "seg1/seg2"
 *     <root>/state/<ns>/<seg1>/<seg2>/.v    its value, when it has one
 * A key's value lives in a child ".v" (a segment never starts with '.', so
 * no key is ever named so), not in the key's own znode. That gives the
 * local backend's semantics with ZooKeeper's own atomic operations:
 *   - versions: ours is the .v znode's version + 1. Creating a value makes
 *     a new .v (version 1), each put is one setData (+1), a delete removes
 *     .v, so a key put again after a delete starts again at 1 - also a key
 *     that has children, whose own znode stays. Compare-and-set is
 *     ZooKeeper's version check: no read-modify-write anywhere.
 *   - a key's znode holds no data; it exists while the key has a value or
 *     children, so "a/b" can have a value and children, and "a" of a key
 *     "a/b" alone reads as absent (get: AGORA_ENOENT) but lists "b".
 *   - every znode under <root>/state/<ns> is a .v or has a child: a put
 *     creates the missing parents and the .v in one multi, and a delete
 *     removes the .v and the parents it leaves empty in one multi, so a
 *     list never shows an empty key. (One exception: a put whose parents
 *     and value together exceed ZooKeeper's request limit creates the
 *     parents first; if its .v then fails, empty parents stay behind.)
 *
 * Operations (RTT = one round trip to ZooKeeper):
 *   get     getData(.v)                                          1 RTT
 *   list    getChildren(key), minus ".v", sorted                 1 RTT
 *   put     ANY/version: multi(setData(.v, version - 1))         1 RTT
 *           new key: multi(create(.v)); if its parent is missing:
 *           exists() of each ancestor (in parallel), then
 *           multi(create parents, .v)
 *   delete  exists() of the key and its ancestors below the namespace (in
 *           parallel), then multi(delete .v at version, delete the
 *           ancestors left empty, deepest first)                 2 RTT
 * A race with another writer (a sibling's delete pruning a shared parent)
 * fails a multi as a whole; the op starts again, at most MAX_TRIES times.
 *
 * Fencing (store.h): every write is a multi, so that in a term with a
 * fence (this master's election znode) its first op checks the fence
 * exists; when it does not, the multi fails as a whole and the op with
 * AGORA_ENOTLEADER. A write of an ended term fails before each request
 * it would send. The fence's result is taken off the multi's results
 * before a step reads them, so steps see their own ops only.
 *
 * Order: ops of one store are started in call order, and an op waits for
 * every earlier unfinished op it conflicts with: same namespace, one key a
 * prefix of the other (or equal; "" is everyone's prefix) and one of the
 * two a put or a delete. So a get after a put sees the put, as with the
 * local backend, while unrelated keys proceed in parallel.
 *
 * Threads: libzookeeper calls our completions on its thread; each only
 * copies its result into its request and queues it on this backend's own
 * queue (a mutex, an ev_async, and a condition variable for close()). The
 * loop thread does everything else: it issues every zoo_a*() call, runs
 * the steps of each op and completes ops with store_complete(). We use our
 * own queue rather than zk_post() so that close() can wait on it, and so
 * that results that arrive after close() are dropped here with everything
 * they own.
 *
 * Fail fast: while the session is not ZK_CONNECTED, an op (or the next
 * step of one) fails at once with AGORA_EUNAVAIL; nothing is queued for
 * later. A write that fails with AGORA_EUNAVAIL after it was sent may or
 * may not have happened (ZooKeeper cannot tell after a lost connection).
 * Each op also has a deadline of two session timeouts plus a second, past
 * which it fails with AGORA_EUNAVAIL whatever libzookeeper does.
 */
#include "store.h"

#include <ev.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "zk.h"

#define VALUE_NODE ".v"
/* Races lost before an op gives up with AGORA_EIO. */
#define MAX_TRIES 16
/* How long close() waits for ops already started, in seconds. */
#define CLOSE_DRAIN 3.0
/*
 * ZooKeeper refuses a request bigger than jute.maxbuffer (0xfffff by
 * default). A value of AGORA_STORE_VALUE_MAX with its path fits; a multi
 * that also creates many parents may not: above this estimate the parents
 * are made in a request of their own.
 */
#define REQUEST_BUDGET (0xfffff - 4096)
/* A multi's overhead an op (header, ACL, version, flags), generously. */
#define OP_OVERHEAD 64
/* Reads of a children op in flight at once: bounds what waits in memory
 * for the loop to 16 values. */
#define CHILDREN_WINDOW 16

struct zstore;
struct zop;

/* One zoo_a*() call and, once it completed, its result. */
struct zreq {
    struct zstore *b;
    struct zop *zop; /* not read once b is closed */
    int index;       /* an exists() of a scan: which ancestor */
    int rc;          /* ZOK or a ZooKeeper error */
    int nomem;       /* the completion could not copy the result */
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

enum step {
    ST_GET,
    ST_LIST,
    ST_PUT_SET,
    ST_PUT_CREATE,
    ST_PUT_SCAN,
    ST_PUT_MULTI,
    ST_PUT_PARENTS,
    ST_DEL_EXISTS,
    ST_DEL_SCAN,
    ST_DEL_MULTI,
    ST_CH_LIST,
    ST_CH_GET,
    ST_TXN_SCAN,
    ST_TXN_MULTI
};

/* A znode a transaction's scan read; then as the multi will leave it. */
struct tnode {
    char *path;
    int parent; /* index, -1 above the scanned nodes */
    int exists;
    int nchildren;
    int version; /* ZooKeeper's, -1 when missing */
};

/* The backend's state of one op. Loop thread only. */
struct zop {
    struct store_op *op; /* NULL once completed */
    char *kpath;         /* <base>/<ns>[/<key>] */
    char *vpath;         /* kpath + "/.v" */
    size_t ns_len;       /* strlen("<base>/<ns>") */
    enum step step;
    int started;
    int outstanding; /* requests whose results are not handled yet */
    int tries;
    ev_tstamp deadline;
    /* A scan: exists() of ancestors, top-down; each is a prefix of kpath. */
    int nanc;
    size_t *anc_len;
    int *anc_children; /* numChildren, -1 when missing */
    int scan_rc;
    /* children */
    size_t next_child; /* the next child to read */
    size_t bytes;      /* names and values read so far */
    /* txn: the scanned nodes (sorted by path), and of the multi sent: the
     * txn op of each multi op, its MB_* role, each txn op's version
     * after it. */
    struct tnode *tn;
    int ntn;
    int *mowner;
    char *mis_v;
    int64_t *vafter;
    struct zop *prev, *next;
};

struct zstore {
    struct ev_loop *loop; /* borrowed until close */
    struct zk *z;         /* borrowed: must outlive the store */
    char *base;           /* <root>/state */
    uint64_t term;        /* the term open (store.h), 0: none */
    char *fence;          /* its fence's path, or NULL */

    /* Loop thread only. */
    struct zop *head, *tail; /* ops not freed yet, in call order */
    int running;             /* started and not completed */
    int scheduling, again;   /* schedule() re-entered */
    ev_async wake;
    ev_timer tick; /* deadlines, while ops run */

    /* Shared with libzookeeper's threads. */
    pthread_mutex_t mu;
    pthread_cond_t cv;         /* a result arrived (close() waits on it) */
    struct zreq *rhead, *rtail; /* results for the loop */
    int inflight;              /* requests libzookeeper has not answered */
    int closed; /* results are dropped; the last one frees the backend */
};

static void schedule(struct zstore *b);
static void put_set(struct zstore *b, struct zop *zo);
static void put_create(struct zstore *b, struct zop *zo);
static void del_scan(struct zstore *b, struct zop *zo);
static char *path3(const char *a, const char *b, const char *c);

/* ------------------------------------------------------------------ */
/* Requests and their completions (libzookeeper's threads)             */
/* ------------------------------------------------------------------ */

static void req_free(struct zreq *r)
{
    int i;

    for (i = 0; i < r->nnames; i++)
        free(r->names[i]);
    free(r->names);
    free(r->data);
    free(r->results);
    free(r->stats);
    free(r);
}

static void zstore_destroy(struct zstore *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b->fence);
    free(b->base);
    free(b);
}

/* Any thread: r has its result; hand it to the loop, or drop it (and
 * free the backend with the last one) once the backend is closed. */
static void req_done(struct zreq *r)
{
    struct zstore *b = r->b;
    int destroy = 0;

    pthread_mutex_lock(&b->mu);
    b->inflight--;
    if (b->closed) {
        destroy = b->inflight == 0;
    } else {
        if (b->rtail != NULL)
            b->rtail->next = r;
        else
            b->rhead = r;
        b->rtail = r;
        pthread_cond_signal(&b->cv);
        /* Under the lock: close() stops wake only after taking it. */
        ev_async_send(b->loop, &b->wake);
        r = NULL;
    }
    pthread_mutex_unlock(&b->mu);
    if (r != NULL)
        req_free(r);
    if (destroy)
        zstore_destroy(b);
}

static void on_data(int rc, const char *value, int len,
                    const struct Stat *stat, const void *data)
{
    struct zreq *r = (struct zreq *)data;

    r->rc = rc;
    if (rc == ZOK) {
        r->len = value != NULL && len > 0 ? len : 0;
        r->data = malloc((size_t)r->len + 1);
        if (r->data == NULL) {
            r->nomem = 1;
        } else {
            if (r->len > 0)
                memcpy(r->data, value, (size_t)r->len);
            r->data[r->len] = '\0';
        }
        if (stat != NULL)
            r->stat = *stat;
    }
    req_done(r);
}

static void on_stat(int rc, const struct Stat *stat, const void *data)
{
    struct zreq *r = (struct zreq *)data;

    r->rc = rc;
    if (rc == ZOK && stat != NULL)
        r->stat = *stat;
    req_done(r);
}

static void on_void(int rc, const void *data)
{
    struct zreq *r = (struct zreq *)data;

    r->rc = rc;
    req_done(r);
}

static void on_strings(int rc, const struct String_vector *v,
                       const void *data)
{
    struct zreq *r = (struct zreq *)data;
    int i;

    r->rc = rc;
    if (rc == ZOK && v != NULL && v->count > 0) {
        r->names = calloc((size_t)v->count, sizeof(*r->names));
        for (i = 0; r->names != NULL && i < v->count; i++) {
            r->names[i] = strdup(v->data[i]);
            if (r->names[i] == NULL)
                break;
            r->nnames++;
        }
        if (r->names == NULL || r->nnames < v->count)
            r->nomem = 1;
    }
    req_done(r);
}

/* ------------------------------------------------------------------ */
/* Issuing requests (loop thread)                                        */
/* ------------------------------------------------------------------ */

/* A request for zo, counted as in flight: libzookeeper may complete it
 * before the zoo_a*() call returns. NULL when out of memory. */
static struct zreq *req_begin(struct zstore *b, struct zop *zo)
{
    struct zreq *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->b = b;
    r->zop = zo;
    pthread_mutex_lock(&b->mu);
    b->inflight++;
    pthread_mutex_unlock(&b->mu);
    zo->outstanding++;
    return r;
}

/*
 * After the zoo_a*() call of r returned zrc: 0 when it went out. Otherwise
 * the completion will never run: uncount and free r. ZMARSHALLINGERROR
 * (out of memory) is the exception: libzookeeper may have registered the
 * completion already, so r stays counted and the op's deadline ends it.
 */
static int req_sent(struct zstore *b, struct zop *zo, struct zreq *r,
                    int zrc)
{
    if (zrc == ZOK || zrc == ZMARSHALLINGERROR)
        return zrc;
    pthread_mutex_lock(&b->mu);
    b->inflight--;
    pthread_mutex_unlock(&b->mu);
    zo->outstanding--;
    req_free(r);
    return zrc;
}

/* The handle to use now, or NULL when the session is not connected. */
static zhandle_t *handle(struct zstore *b)
{
    return zk_state(b->z) == ZK_CONNECTED ? zk_handle(b->z) : NULL;
}

/* ------------------------------------------------------------------ */
/* Ops: start, finish, free                                              */
/* ------------------------------------------------------------------ */

static void tnodes_free(struct zop *zo);

static void zop_free(struct zop *zo)
{
    tnodes_free(zo);
    free(zo->mowner);
    free(zo->mis_v);
    free(zo->vafter);
    free(zo->anc_len);
    free(zo->anc_children);
    free(zo->vpath);
    free(zo->kpath);
    free(zo);
}

static void zop_unlink(struct zstore *b, struct zop *zo)
{
    if (zo->prev != NULL)
        zo->prev->next = zo->next;
    else
        b->head = zo->next;
    if (zo->next != NULL)
        zo->next->prev = zo->prev;
    else
        b->tail = zo->prev;
}

/* Frees zo once it is completed and no result of it is pending. */
static void zop_release(struct zstore *b, struct zop *zo)
{
    if (zo->op == NULL && zo->outstanding == 0) {
        zop_unlink(b, zo);
        zop_free(zo);
    }
}

static void tick_update(struct zstore *b)
{
    if (b->running > 0 && !ev_is_active(&b->tick)) {
        ev_timer_set(&b->tick, 1., 1.);
        ev_timer_start(b->loop, &b->tick);
    } else if (b->running == 0 && ev_is_active(&b->tick)) {
        ev_timer_stop(b->loop, &b->tick);
    }
}

/* Completes zo's op with err; later ops it held back may start. */
static void finish(struct zstore *b, struct zop *zo, int err)
{
    struct store_op *op = zo->op;

    if (op == NULL)
        return;
    op->err = err;
    zo->op = NULL;
    if (zo->started)
        b->running--;
    store_complete(op); /* op is the store's again */
    zop_release(b, zo);
    schedule(b);
}

/* A ZooKeeper error ends zo: logged when it is not an answer. */
static void finish_zk(struct zstore *b, struct zop *zo, int zrc,
                      const char *what)
{
    int err = zk_err(zrc);

    if (err != AGORA_EUNAVAIL && err != AGORA_ENOENT &&
        err != AGORA_EVERSION)
        log_warn("store", "%s %s: %s", what, zo->kpath, zerror(zrc));
    finish(b, zo, err);
}

/* One more try of a step that lost a race, or AGORA_EIO after too many. */
static void retry(struct zstore *b, struct zop *zo,
                  void (*step)(struct zstore *, struct zop *))
{
    if (++zo->tries >= MAX_TRIES) {
        log_error("store", "%s: gave up after %d concurrent changes",
                  zo->kpath, zo->tries);
        finish(b, zo, AGORA_EIO);
        return;
    }
    step(b, zo);
}

/* 1, with zo finished (AGORA_ENOTLEADER), when zo is a write of a term
 * that ended: it must send nothing more. */
static int term_over(struct zstore *b, struct zop *zo)
{
    if (zo->op->term == 0 || zo->op->term == b->term)
        return 0;
    finish(b, zo, AGORA_ENOTLEADER);
    return 1;
}

/* The ZooKeeper version for our version v (>= 1); -2 when no znode can
 * have it (ZooKeeper's versions are 32-bit), which is a mismatch. */
static int zk_version(int64_t v)
{
    return v - 1 <= INT_MAX ? (int)(v - 1) : -2;
}

/*
 * The first request of zo's next step: NULL, with zo finished, when there
 * is no session (AGORA_EUNAVAIL) or no memory.
 */
static struct zreq *step_begin(struct zstore *b, struct zop *zo,
                               enum step step)
{
    struct zreq *r;

    if (handle(b) == NULL || (r = req_begin(b, zo)) == NULL) {
        finish(b, zo, handle(b) == NULL ? AGORA_EUNAVAIL : AGORA_ENOMEM);
        return NULL;
    }
    zo->step = step;
    return r;
}

/* ------------------------------------------------------------------ */
/* get and list                                                          */
/* ------------------------------------------------------------------ */

static void get_start(struct zstore *b, struct zop *zo)
{
    zhandle_t *zh = handle(b);
    struct zreq *r;
    int zrc;

    if ((r = step_begin(b, zo, ST_GET)) == NULL)
        return;
    zrc = req_sent(b, zo, r, zoo_aget(zh, zo->vpath, 0, on_data, r));
    if (zrc != ZOK)
        finish_zk(b, zo, zrc, "get");
}

static void get_done(struct zstore *b, struct zop *zo, struct zreq *r)
{
    struct store_op *op = zo->op;

    if (r->rc != ZOK) {
        finish_zk(b, zo, r->rc, "get");
        return;
    }
    op->value = r->data; /* the store frees it */
    op->len = (size_t)r->len;
    op->version = (int64_t)r->stat.version + 1;
    r->data = NULL;
    finish(b, zo, 0);
}

/* Asks for the children of the op's key, as step `step`. */
static void ask_children(struct zstore *b, struct zop *zo, enum step step,
                         const char *what)
{
    zhandle_t *zh = handle(b);
    struct zreq *r;
    int zrc;

    if ((r = step_begin(b, zo, step)) == NULL)
        return;
    zrc = req_sent(b, zo, r,
                   zoo_aget_children(zh, zo->kpath, 0, on_strings, r));
    if (zrc != ZOK)
        finish_zk(b, zo, zrc, what);
}

static void list_start(struct zstore *b, struct zop *zo)
{
    ask_children(b, zo, ST_LIST, "list");
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct store_entry *)a)->name,
                  ((const struct store_entry *)b)->name);
}

/*
 * 1 when a children list's answer ended the op: the children of a
 * missing key are an empty list, as in the local backend (a key exists
 * only through its value and children), and an error is the op's.
 */
static int list_ended(struct zstore *b, struct zop *zo, struct zreq *r,
                      const char *what)
{
    if (r->rc == ZNONODE)
        finish(b, zo, 0);
    else if (r->rc != ZOK)
        finish_zk(b, zo, r->rc, what);
    return r->rc != ZOK;
}

static void list_done(struct zstore *b, struct zop *zo, struct zreq *r)
{
    struct store_op *op = zo->op;
    int i, n = 0;

    if (list_ended(b, zo, r, "list"))
        return;
    for (i = 0; i < r->nnames; i++) {
        if (strcmp(r->names[i], VALUE_NODE) == 0)
            free(r->names[i]);
        else
            r->names[n++] = r->names[i];
    }
    if (n > 1)
        qsort(r->names, (size_t)n, sizeof(*r->names), name_cmp);
    if (n > 0) {
        op->names = r->names; /* the store frees them */
        op->nnames = (size_t)n;
    } else {
        free(r->names);
    }
    r->names = NULL;
    r->nnames = 0;
    finish(b, zo, 0);
}

/* ------------------------------------------------------------------ */
/* Scans: exists() of ancestors                                          */
/* ------------------------------------------------------------------ */

/*
 * Sends exists() for each prefix of kpath ending at a '/' or at its end,
 * longer than min_len, top-down. step is set before sending: a result may
 * come back before this returns (it is handled on the loop, later).
 */
static void scan(struct zstore *b, struct zop *zo, size_t min_len,
                 enum step step)
{
    zhandle_t *zh = handle(b);
    size_t i, n = 0, len = strlen(zo->kpath);
    char *path;
    int k, zrc = ZOK;

    if (zh == NULL) {
        finish(b, zo, AGORA_EUNAVAIL);
        return;
    }
    free(zo->anc_len);
    free(zo->anc_children);
    zo->anc_len = calloc(len, sizeof(*zo->anc_len));
    zo->anc_children = calloc(len, sizeof(*zo->anc_children));
    path = strdup(zo->kpath);
    if (zo->anc_len == NULL || zo->anc_children == NULL || path == NULL) {
        free(path);
        finish(b, zo, AGORA_ENOMEM);
        return;
    }
    for (i = 1; i <= len; i++)
        if ((i == len || zo->kpath[i] == '/') && i > min_len)
            zo->anc_len[n++] = i;
    zo->nanc = (int)n;
    zo->scan_rc = ZOK;
    zo->step = step;
    for (k = 0; k < zo->nanc && zrc == ZOK; k++) {
        struct zreq *r = req_begin(b, zo);

        if (r == NULL) {
            zrc = ZMARSHALLINGERROR; /* "out of memory", for zk_err() */
            break;
        }
        r->index = k;
        path[zo->anc_len[k]] = '\0';
        zrc = req_sent(b, zo, r, zoo_aexists(zh, path, 0, on_stat, r));
        path[zo->anc_len[k]] = zo->kpath[zo->anc_len[k]];
    }
    free(path);
    if (zrc != ZOK) {
        /* What was sent still comes back; the scan ends in error then. */
        zo->scan_rc = zrc;
        if (zo->outstanding == 0)
            finish_zk(b, zo, zrc, "exists");
    }
}

/*
 * A scan's exists() answer r came in: the first error is kept; 1 when it
 * was the last answer and every one was good, 0 otherwise (the op is
 * finished with the error once the last one is in).
 */
static int scan_end(struct zstore *b, struct zop *zo, struct zreq *r)
{
    if (r->rc != ZOK && r->rc != ZNONODE && zo->scan_rc == ZOK)
        zo->scan_rc = r->rc;
    if (zo->outstanding > 0)
        return 0;
    if (zo->scan_rc != ZOK) {
        finish_zk(b, zo, zo->scan_rc, "exists");
        return 0;
    }
    return 1;
}

/* One exists() result of an ancestor; 1 when the scan is complete and
 * good. */
static int scan_result(struct zstore *b, struct zop *zo, struct zreq *r)
{
    if (r->rc == ZOK)
        zo->anc_children[r->index] = r->stat.numChildren;
    else if (r->rc == ZNONODE)
        zo->anc_children[r->index] = -1;
    return scan_end(b, zo, r);
}

/* Ancestor k's path (malloc'ed), NULL when out of memory. */
static char *anc_path(const struct zop *zo, int k)
{
    return strndup(zo->kpath, zo->anc_len[k]);
}

/* The first op of a multi that failed for itself, -1 if none did. */
static int multi_failed_at(const struct zreq *r)
{
    int i;

    for (i = 0; i < r->nops; i++)
        if (r->results[i].err != ZOK &&
            r->results[i].err != ZRUNTIMEINCONSISTENCY)
            return i;
    return -1;
}

/*
 * Sends a multi of n ops, whose paths are freed afterwards (paths[i] may
 * be NULL: not ours), and stats (the Stat of each set op, or NULL), which
 * the request owns. Returns the zoo_amulti() code.
 */
static int send_multi_stats(struct zstore *b, struct zop *zo, zoo_op_t *ops,
                            char **paths, int n, struct Stat *stats)
{
    zhandle_t *zh = handle(b);
    int fenced = zo->op->term != 0 && b->fence != NULL;
    zoo_op_t *all = NULL;
    struct zreq *r;
    int i, zrc;

    if (zh == NULL)
        zrc = ZCONNECTIONLOSS;
    else if (fenced && (all = calloc((size_t)n + 1, sizeof(*all))) == NULL)
        zrc = ZSYSTEMERROR;
    else if ((r = req_begin(b, zo)) == NULL)
        zrc = ZSYSTEMERROR;
    else if ((r->results = calloc((size_t)(n + fenced), sizeof(*r->results))) ==
             NULL)
        zrc = req_sent(b, zo, r, ZSYSTEMERROR);
    else {
        r->stats = stats; /* freed with r from here */
        stats = NULL;
        r->nops = n + fenced;
        r->fenced = fenced;
        if (fenced) {
            /* The fence first; a set op keeps its Stat pointer, in it. */
            zoo_check_op_init(&all[0], b->fence, -1);
            memcpy(all + 1, ops, (size_t)n * sizeof(*ops));
            ops = all;
        }
        zrc = req_sent(b, zo, r,
                       zoo_amulti(zh, n + fenced, ops, r->results, on_void, r));
    }
    for (i = 0; i < n; i++)
        free(paths[i]);
    free(stats);
    free(all);
    return zrc;
}

static int send_multi(struct zstore *b, struct zop *zo, zoo_op_t *ops,
                      char **paths, int n)
{
    return send_multi_stats(b, zo, ops, paths, n, NULL);
}

/* Sends a multi as step `step`, frees the arrays (their paths belong to
 * the request now), and ends the op on a refusal. */
static void multi_go(struct zstore *b, struct zop *zo, enum step step,
                     zoo_op_t *ops, char **paths, int n, const char *what)
{
    int zrc;

    zo->step = step;
    zrc = send_multi(b, zo, ops, paths, n);
    free(ops);
    free(paths);
    if (zrc != ZOK)
        finish_zk(b, zo, zrc, what);
}

/* ------------------------------------------------------------------ */
/* put                                                                   */
/* ------------------------------------------------------------------ */

static void put_start(struct zstore *b, struct zop *zo)
{
    int64_t v = zo->op->version;

    if (v == AGORA_STORE_NEW)
        put_create(b, zo);
    else
        put_set(b, zo);
}

/* setData(.v) at the version asked (-1: any), as a multi (fencing). */
static void put_set(struct zstore *b, struct zop *zo)
{
    struct store_op *op = zo->op;
    int version = op->version == AGORA_STORE_ANY ? -1
                                                 : zk_version(op->version);
    struct Stat *stat;
    zoo_op_t set;
    char *path = NULL;
    int zrc;

    if (term_over(b, zo))
        return;
    if (version == -2) {
        finish(b, zo, AGORA_EVERSION);
        return;
    }
    if ((stat = calloc(1, sizeof(*stat))) == NULL) {
        finish(b, zo, AGORA_ENOMEM);
        return;
    }
    zoo_set_op_init(&set, zo->vpath, op->value, (int)op->len, version, stat);
    zo->step = ST_PUT_SET;
    zrc = send_multi_stats(b, zo, &set, &path, 1, stat);
    if (zrc != ZOK)
        finish_zk(b, zo, zrc, "put");
}

static void put_set_done(struct zstore *b, struct zop *zo, struct zreq *r)
{
    if (r->rc == ZOK) {
        zo->op->version = (int64_t)r->stats[0].version + 1;
        finish(b, zo, 0);
    } else if (r->rc == ZNONODE && zo->op->version == AGORA_STORE_ANY) {
        put_create(b, zo);
    } else if (r->rc == ZNONODE) {
        finish(b, zo, AGORA_EVERSION); /* a version of a missing key */
    } else {
        finish_zk(b, zo, r->rc, "put");
    }
}

/* create(.v): the key's value is new. A multi, for fencing. */
static void put_create(struct zstore *b, struct zop *zo)
{
    struct store_op *op = zo->op;
    zoo_op_t create;
    char *path = NULL;
    int zrc;

    if (term_over(b, zo))
        return;
    zoo_create_op_init(&create, zo->vpath, op->value, (int)op->len,
                       &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    zo->step = ST_PUT_CREATE;
    zrc = send_multi(b, zo, &create, &path, 1);
    if (zrc != ZOK)
        finish_zk(b, zo, zrc, "put");
}

/* The value exists already: NEW loses; ANY sets it after all. */
static void put_exists(struct zstore *b, struct zop *zo)
{
    if (zo->op->version == AGORA_STORE_NEW)
        finish(b, zo, AGORA_EVERSION);
    else
        retry(b, zo, put_set);
}

static void put_scan(struct zstore *b, struct zop *zo)
{
    scan(b, zo, 0, ST_PUT_SCAN);
}

static void put_create_done(struct zstore *b, struct zop *zo,
                            struct zreq *r)
{
    if (r->rc == ZOK) {
        zo->op->version = 1;
        finish(b, zo, 0);
    } else if (r->rc == ZNODEEXISTS) {
        put_exists(b, zo);
    } else if (r->rc == ZNONODE) {
        retry(b, zo, put_scan); /* a parent is missing */
    } else {
        finish_zk(b, zo, r->rc, "put");
    }
}

/*
 * The scan is in: create the missing ancestors and the value in one
 * multi, or, when that request would be too big for ZooKeeper, the
 * ancestors alone first.
 */
static void put_scan_done(struct zstore *b, struct zop *zo)
{
    struct store_op *op = zo->op;
    zoo_op_t *ops;
    char **paths;
    size_t size = (size_t)OP_OVERHEAD + strlen(zo->vpath) + op->len;
    int k, n = 0;

    if (term_over(b, zo))
        return;
    ops = calloc((size_t)zo->nanc + 1, sizeof(*ops));
    paths = calloc((size_t)zo->nanc + 1, sizeof(*paths));
    if (ops == NULL || paths == NULL) {
        free(ops);
        free(paths);
        finish(b, zo, AGORA_ENOMEM);
        return;
    }
    for (k = 0; k < zo->nanc; k++) {
        if (zo->anc_children[k] >= 0)
            continue;
        paths[n] = anc_path(zo, k);
        if (paths[n] == NULL)
            break;
        zoo_create_op_init(&ops[n], paths[n], "", 0, &ZOO_OPEN_ACL_UNSAFE,
                           0, NULL, 0);
        size += OP_OVERHEAD + zo->anc_len[k];
        n++;
    }
    if (k < zo->nanc) {
        for (k = 0; k < n; k++)
            free(paths[k]);
        free(ops);
        free(paths);
        finish(b, zo, AGORA_ENOMEM);
        return;
    }
    if (size > REQUEST_BUDGET && n > 0) {
        multi_go(b, zo, ST_PUT_PARENTS, ops, paths, n, "put");
        return;
    }
    zoo_create_op_init(&ops[n], zo->vpath, op->value, (int)op->len,
                       &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    paths[n++] = NULL;
    multi_go(b, zo, ST_PUT_MULTI, ops, paths, n, "put");
}

static void put_multi_done(struct zstore *b, struct zop *zo, struct zreq *r)
{
    int at = multi_failed_at(r);

    if (r->rc == ZOK) {
        zo->op->version = 1;
        finish(b, zo, 0);
    } else if (at == r->nops - 1 && r->rc == ZNODEEXISTS) {
        put_exists(b, zo); /* the value: made by someone else meanwhile */
    } else if (r->rc == ZNODEEXISTS || r->rc == ZNONODE) {
        retry(b, zo, put_create); /* a parent, made or removed meanwhile */
    } else {
        finish_zk(b, zo, r->rc, "put");
    }
}

/* The parents alone are made (or someone made them): now the value. */
static void put_parents_done(struct zstore *b, struct zop *zo,
                             struct zreq *r)
{
    if (r->rc == ZOK || r->rc == ZNODEEXISTS || r->rc == ZNONODE)
        retry(b, zo, put_create);
    else
        finish_zk(b, zo, r->rc, "put");
}

/* ------------------------------------------------------------------ */
/* delete                                                                */
/* ------------------------------------------------------------------ */

/*
 * NEW, or a version no znode can have: there is nothing to delete, so the
 * answer is AGORA_ENOENT for a missing key and AGORA_EVERSION otherwise,
 * as in the local backend.
 */
static void del_exists(struct zstore *b, struct zop *zo)
{
    zhandle_t *zh = handle(b);
    struct zreq *r;
    int zrc;

    if ((r = step_begin(b, zo, ST_DEL_EXISTS)) == NULL)
        return;
    zrc = req_sent(b, zo, r, zoo_aexists(zh, zo->vpath, 0, on_stat, r));
    if (zrc != ZOK)
        finish_zk(b, zo, zrc, "delete");
}

static void del_exists_done(struct zstore *b, struct zop *zo,
                            struct zreq *r)
{
    if (r->rc == ZOK)
        finish(b, zo, AGORA_EVERSION);
    else
        finish_zk(b, zo, r->rc, "delete");
}

static void del_start(struct zstore *b, struct zop *zo)
{
    int64_t v = zo->op->version;

    if (v == AGORA_STORE_NEW || (v != AGORA_STORE_ANY && zk_version(v) == -2))
        del_exists(b, zo);
    else
        del_scan(b, zo);
}

/* exists() of the key and of its ancestors below the namespace. */
static void del_scan(struct zstore *b, struct zop *zo)
{
    scan(b, zo, zo->ns_len, ST_DEL_SCAN);
}

/*
 * The scan is in: delete the value and, deepest first, the key and each
 * ancestor that has nothing else (one child: the one on our path). After
 * half the tries, only the value: a delete must end even if someone keeps
 * adding siblings.
 */
static void del_scan_done(struct zstore *b, struct zop *zo)
{
    struct store_op *op = zo->op;
    zoo_op_t *ops;
    char **paths;
    int version = op->version == AGORA_STORE_ANY ? -1
                                                 : zk_version(op->version);
    int k, n = 1;

    if (term_over(b, zo))
        return;
    ops = calloc((size_t)zo->nanc + 1, sizeof(*ops));
    paths = calloc((size_t)zo->nanc + 1, sizeof(*paths));
    if (ops == NULL || paths == NULL) {
        free(ops);
        free(paths);
        finish(b, zo, AGORA_ENOMEM);
        return;
    }
    if (zo->anc_children[zo->nanc - 1] < 0) {
        free(ops);
        free(paths);
        finish(b, zo, AGORA_ENOENT); /* not even the key's znode */
        return;
    }
    zoo_delete_op_init(&ops[0], zo->vpath, version);
    for (k = zo->nanc - 1; k >= 0 && zo->tries < MAX_TRIES / 2; k--) {
        if (zo->anc_children[k] != 1)
            break;
        paths[n] = anc_path(zo, k);
        if (paths[n] == NULL)
            break;
        zoo_delete_op_init(&ops[n], paths[n], -1);
        n++;
    }
    multi_go(b, zo, ST_DEL_MULTI, ops, paths, n, "delete");
}

static void del_multi_done(struct zstore *b, struct zop *zo, struct zreq *r)
{
    int at = multi_failed_at(r);

    if (r->rc == ZOK)
        finish(b, zo, 0);
    else if (at == 0 && (r->rc == ZNONODE || r->rc == ZBADVERSION))
        finish_zk(b, zo, r->rc, "delete"); /* the value: the answer */
    else if (r->rc == ZNOTEMPTY || r->rc == ZNONODE)
        retry(b, zo, del_scan); /* an ancestor changed meanwhile */
    else
        finish_zk(b, zo, r->rc, "delete");
}

/* ------------------------------------------------------------------ */
/* children: getChildren(key), then getData of each child's .v          */
/* ------------------------------------------------------------------ */

/* getData() of child i's .v. 0 or the zoo_aget() code. */
static int children_send(struct zstore *b, struct zop *zo, size_t i)
{
    const char *name = zo->op->entries[i].name;
    char *path = malloc(strlen(zo->kpath) + strlen(name) + 8);
    struct zreq *r;
    int zrc;

    if (path == NULL || (r = req_begin(b, zo)) == NULL) {
        free(path);
        return ZSYSTEMERROR;
    }
    sprintf(path, "%s/%s/" VALUE_NODE, zo->kpath, name);
    r->index = (int)i;
    zrc = req_sent(b, zo, r, zoo_aget(handle(b), path, 0, on_data, r));
    free(path);
    return zrc;
}

/* Keeps up to CHILDREN_WINDOW reads in flight, so that what the loop
 * holds at once stays bounded; finishes zo once every child is read. */
static void children_pump(struct zstore *b, struct zop *zo)
{
    struct store_op *op = zo->op;
    size_t i, n = 0;
    int zrc;

    while (zo->next_child < op->nentries &&
           zo->outstanding < CHILDREN_WINDOW) {
        if (handle(b) == NULL) {
            finish(b, zo, AGORA_EUNAVAIL);
            return;
        }
        zrc = children_send(b, zo, zo->next_child);
        if (zrc != ZOK) {
            finish_zk(b, zo, zrc, "get children");
            return;
        }
        zo->next_child++;
    }
    if (zo->outstanding > 0 || zo->next_child < op->nentries)
        return;
    /* All in: drop the children without a value, keep the order. */
    for (i = 0; i < op->nentries; i++) {
        if (op->entries[i].value == NULL) {
            free(op->entries[i].name);
            continue;
        }
        op->entries[n++] = op->entries[i];
    }
    op->nentries = n;
    finish(b, zo, 0);
}

static void children_start(struct zstore *b, struct zop *zo)
{
    ask_children(b, zo, ST_CH_LIST, "get children");
}

static void children_list_done(struct zstore *b, struct zop *zo,
                               struct zreq *r)
{
    struct store_op *op = zo->op;
    int i, n = 0;

    if (list_ended(b, zo, r, "get children"))
        return;
    if (r->nnames > 0) {
        op->entries = calloc((size_t)r->nnames, sizeof(*op->entries));
        if (op->entries == NULL) {
            finish(b, zo, AGORA_ENOMEM);
            return;
        }
    }
    for (i = 0; i < r->nnames; i++) {
        if (strcmp(r->names[i], VALUE_NODE) == 0)
            continue;
        op->entries[n++].name = r->names[i]; /* the store frees it */
        r->names[i] = NULL;
    }
    op->nentries = (size_t)n;
    if (n > 1)
        qsort(op->entries, (size_t)n, sizeof(*op->entries), entry_cmp);
    zo->step = ST_CH_GET;
    zo->next_child = 0;
    children_pump(b, zo);
}

static void children_get_done(struct zstore *b, struct zop *zo,
                              struct zreq *r)
{
    struct store_entry *e = &zo->op->entries[r->index];

    if (r->rc == ZOK) {
        zo->bytes += (size_t)r->len + strlen(e->name);
        if (zo->bytes > zo->op->limit) {
            log_warn("store", "%s: children over the limit of %zu bytes",
                     zo->kpath, zo->op->limit);
            finish(b, zo, AGORA_ETOOBIG);
            return;
        }
        e->value = r->data;
        e->len = (size_t)r->len;
        e->version = (int64_t)r->stat.version + 1;
        r->data = NULL;
    } else if (r->rc != ZNONODE) { /* ZNONODE: no value, or deleted */
        finish_zk(b, zo, r->rc, "get children");
        return;
    }
    children_pump(b, zo);
}

/* ------------------------------------------------------------------ */
/* Transactions: one scan, then one multi                                */
/* ------------------------------------------------------------------ */

/*
 * The scan reads, with exists(), every znode a transaction may touch:
 * each ancestor of each key from the root down, the key, its .v. From
 * those it builds one multi, simulating it on the scanned tree as it
 * goes so that the multi keeps the layout's rules: a put creates the
 * missing ancestors and its .v (or sets it, checking the version), a
 * delete removes the .v and every ancestor below the namespace it leaves
 * empty, a check checks the .v's version. A check of AGORA_STORE_NEW
 * creates and deletes the .v in the multi (ZooKeeper has no "does not
 * exist" check): another writer who made it meanwhile fails the multi.
 * A failure the scan predicts completes at once with AGORA_EVERSION; one
 * of the multi on a .v of an op that named a version is AGORA_EVERSION
 * too; any other (a race with another writer) starts over, at most
 * MAX_TRIES times.
 */

static int tnode_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tnode *)a)->path,
                  ((const struct tnode *)b)->path);
}

static void tnodes_free(struct zop *zo)
{
    int i;

    for (i = 0; i < zo->ntn; i++)
        free(zo->tn[i].path);
    free(zo->tn);
    zo->tn = NULL;
    zo->ntn = 0;
}

/* The node of path, -1 when not scanned. */
static int tnode_find(const struct zop *zo, const char *path)
{
    struct tnode key, *t;

    key.path = (char *)path;
    t = bsearch(&key, zo->tn, (size_t)zo->ntn, sizeof(*zo->tn), tnode_cmp);
    return t == NULL ? -1 : (int)(t - zo->tn);
}

/* Adds path[0..len) to the nodes to scan. */
static int tnode_add(struct zop *zo, const char *path, size_t len, int cap)
{
    if (zo->ntn >= cap)
        return AGORA_ENOMEM;
    zo->tn[zo->ntn].path = strndup(path, len);
    if (zo->tn[zo->ntn].path == NULL)
        return AGORA_ENOMEM;
    zo->ntn++;
    return 0;
}

/* The key path and .v path of txn op i, malloc'd. */
static char *txn_path(const struct zop *zo, size_t i, int value)
{
    return path3(zo->kpath, zo->op->txn[i].key, value ? VALUE_NODE : NULL);
}

/* The nodes to scan, sorted and unique, parents linked. */
static int txn_nodes(struct zop *zo)
{
    struct store_op *op = zo->op;
    size_t i, k, len;
    int cap = 0, j, n, rc = 0;
    char *v;

    tnodes_free(zo);
    for (i = 0; i < op->ntxn; i++)
        cap += (int)(strlen(zo->kpath) + strlen(op->txn[i].key)) / 2 + 4;
    zo->tn = calloc((size_t)cap, sizeof(*zo->tn));
    if (zo->tn == NULL)
        return AGORA_ENOMEM;
    for (i = 0; i < op->ntxn && rc == 0; i++) {
        v = txn_path(zo, i, 1);
        if (v == NULL)
            return AGORA_ENOMEM;
        len = strlen(v);
        for (k = 1; k <= len && rc == 0; k++)
            if (k == len || v[k] == '/')
                rc = tnode_add(zo, v, k, cap);
        free(v);
    }
    if (rc != 0)
        return rc;
    qsort(zo->tn, (size_t)zo->ntn, sizeof(*zo->tn), tnode_cmp);
    for (j = 0, n = 0; j < zo->ntn; j++) {
        if (n > 0 && strcmp(zo->tn[n - 1].path, zo->tn[j].path) == 0)
            free(zo->tn[j].path);
        else
            zo->tn[n++] = zo->tn[j];
    }
    zo->ntn = n;
    for (j = 0; j < n; j++) {
        const char *p = zo->tn[j].path, *slash = strrchr(p, '/');
        char *up;

        zo->tn[j].parent = -1;
        if (slash == NULL || slash == p)
            continue;
        /* A copy: bsearch() must see the nodes' paths intact. */
        if ((up = strndup(p, (size_t)(slash - p))) == NULL)
            return AGORA_ENOMEM;
        zo->tn[j].parent = tnode_find(zo, up);
        free(up);
    }
    return 0;
}

static void txn_scan(struct zstore *b, struct zop *zo)
{
    zhandle_t *zh = handle(b);
    int j, zrc = ZOK;

    if (zh == NULL) {
        finish(b, zo, AGORA_EUNAVAIL);
        return;
    }
    if (txn_nodes(zo) != 0) {
        finish(b, zo, AGORA_ENOMEM);
        return;
    }
    zo->scan_rc = ZOK;
    zo->step = ST_TXN_SCAN;
    for (j = 0; j < zo->ntn && zrc == ZOK; j++) {
        struct zreq *r = req_begin(b, zo);

        if (r == NULL) {
            zrc = ZMARSHALLINGERROR;
            break;
        }
        r->index = j;
        zrc = req_sent(b, zo, r,
                       zoo_aexists(zh, zo->tn[j].path, 0, on_stat, r));
    }
    if (zrc != ZOK) {
        zo->scan_rc = zrc;
        if (zo->outstanding == 0)
            finish_zk(b, zo, zrc, "exists");
    }
}

/* One exists() of the scan; 1 when the scan is complete and good. */
static int txn_scan_result(struct zstore *b, struct zop *zo, struct zreq *r)
{
    struct tnode *t = &zo->tn[r->index];

    t->exists = r->rc == ZOK;
    t->nchildren = r->rc == ZOK ? r->stat.numChildren : 0;
    t->version = r->rc == ZOK ? r->stat.version : -1;
    return scan_end(b, zo, r);
}

/* What a multi op is to its txn op: is_v. */
#define MB_PARENT 0
#define MB_VALUE 1 /* the .v: create, delete, check */
#define MB_SET 2   /* the .v, set: its new version is in the reply */

/* The multi being built. */
struct mbuild {
    zoo_op_t *ops;
    char **paths;  /* owned: freed by send_multi() */
    int *owner;    /* the txn op each multi op serves */
    char *is_v;    /* MB_* */
    int n, cap;
    size_t size;   /* the request's estimated size */
};

/* The next slot, or NULL when full (never: cap counts the worst case). */
static zoo_op_t *mb_next(struct mbuild *m, const char *path, int owner,
                         int is_v, size_t data)
{
    if (m->n >= m->cap)
        return NULL;
    m->paths[m->n] = strdup(path);
    if (m->paths[m->n] == NULL)
        return NULL;
    m->owner[m->n] = owner;
    m->is_v[m->n] = (char)is_v;
    m->size += OP_OVERHEAD + strlen(path) + data;
    return &m->ops[m->n++];
}

/* Creates node j's missing ancestors and j itself, top-down. */
static int mb_create_chain(struct zop *zo, struct mbuild *m, int j, int i,
                           const char *value, size_t len, int is_v)
{
    struct tnode *t = &zo->tn[j];
    zoo_op_t *o;

    if (t->exists)
        return 0;
    if (t->parent >= 0 &&
        mb_create_chain(zo, m, t->parent, i, "", 0, 0) != 0)
        return AGORA_ENOMEM;
    if ((o = mb_next(m, t->path, i, is_v, len)) == NULL)
        return AGORA_ENOMEM;
    zoo_create_op_init(o, m->paths[m->n - 1], value, (int)len,
                       &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    t->exists = 1;
    t->nchildren = 0;
    t->version = 0;
    if (t->parent >= 0)
        zo->tn[t->parent].nchildren++;
    return 0;
}

/* Deletes node j (a .v, at version), then its ancestors below the
 * namespace that it leaves empty. */
static int mb_delete_chain(struct zop *zo, struct mbuild *m, int j, int i,
                           int version)
{
    struct tnode *t = &zo->tn[j];
    zoo_op_t *o;
    int is_v = 1;

    for (;;) {
        if ((o = mb_next(m, t->path, i, is_v, 0)) == NULL)
            return AGORA_ENOMEM;
        zoo_delete_op_init(o, m->paths[m->n - 1], version);
        t->exists = 0;
        if (t->parent < 0)
            return 0;
        t = &zo->tn[t->parent];
        t->nchildren--;
        if (t->nchildren > 0 || strlen(t->path) <= zo->ns_len)
            return 0;
        version = -1;
        is_v = 0;
    }
}

/* Adds txn op i to the multi; AGORA_EVERSION when the scan says it
 * cannot hold. */
static int mb_add(struct zop *zo, struct mbuild *m, size_t i, int vj,
                  struct Stat *stats)
{
    struct store_txn_op *t = &zo->op->txn[i];
    struct tnode *v = &zo->tn[vj];
    int zv = t->version == AGORA_STORE_ANY ? -1 : zk_version(t->version);
    zoo_op_t *o;

    if (t->version >= 1 && (!v->exists || zv != v->version))
        return AGORA_EVERSION;
    if (t->version == AGORA_STORE_NEW && v->exists)
        return AGORA_EVERSION;
    switch (t->kind) {
    case AGORA_STORE_TXN_PUT:
        if (!v->exists)
            return mb_create_chain(zo, m, vj, (int)i, t->value, t->len, 1);
        if ((o = mb_next(m, v->path, (int)i, MB_SET, t->len)) == NULL)
            return AGORA_ENOMEM;
        zoo_set_op_init(o, m->paths[m->n - 1], t->value, (int)t->len, zv,
                        &stats[m->n - 1]);
        return 0;
    case AGORA_STORE_TXN_DELETE:
        if (!v->exists)
            return AGORA_EVERSION;
        return mb_delete_chain(zo, m, vj, (int)i, zv);
    case AGORA_STORE_TXN_CHECK:
        if (t->version >= 1) {
            if ((o = mb_next(m, v->path, (int)i, 1, 0)) == NULL)
                return AGORA_ENOMEM;
            zoo_check_op_init(o, m->paths[m->n - 1], zv);
        } else if (t->version == AGORA_STORE_NEW) {
            if (mb_create_chain(zo, m, vj, (int)i, "", 0, 1) != 0)
                return AGORA_ENOMEM;
            return mb_delete_chain(zo, m, vj, (int)i, 0);
        }
        return 0;
    }
    return AGORA_EINVAL;
}

/* The version txn op i will have, by the scan; a set's is in the reply. */
static int64_t txn_version_after(const struct zop *zo, size_t i, int vj)
{
    const struct store_txn_op *t = &zo->op->txn[i];
    const struct tnode *v = &zo->tn[vj];

    if (t->kind == AGORA_STORE_TXN_DELETE)
        return 0;
    if (t->kind == AGORA_STORE_TXN_PUT)
        return 1; /* a create; a set overwrites it from the reply */
    return v->version >= 0 ? (int64_t)v->version + 1 : 0;
}

static void txn_scan_done(struct zstore *b, struct zop *zo)
{
    struct store_op *op = zo->op;
    struct mbuild m;
    struct Stat *stats;
    size_t i;
    int rc = 0, zrc, k;
    int *vj;
    int64_t *after;

    if (term_over(b, zo))
        return;
    memset(&m, 0, sizeof(m));
    m.cap = 2 * zo->ntn + 4 * (int)op->ntxn + 8;
    m.ops = calloc((size_t)m.cap, sizeof(*m.ops));
    m.paths = calloc((size_t)m.cap, sizeof(*m.paths));
    free(zo->mowner);
    free(zo->mis_v);
    free(zo->vafter);
    zo->mowner = m.owner = calloc((size_t)m.cap, sizeof(*m.owner));
    zo->mis_v = m.is_v = calloc((size_t)m.cap, 1);
    vj = calloc(op->ntxn, sizeof(*vj));
    zo->vafter = after = calloc(op->ntxn, sizeof(*after));
    stats = calloc((size_t)m.cap, sizeof(*stats));
    if (m.ops == NULL || m.paths == NULL || m.owner == NULL ||
        m.is_v == NULL || vj == NULL || after == NULL || stats == NULL)
        rc = AGORA_ENOMEM;
    /* Versions first, from the scan, before the simulation changes it. */
    for (i = 0; i < op->ntxn && rc == 0; i++) {
        char *v = txn_path(zo, i, 1);

        if (v == NULL) {
            rc = AGORA_ENOMEM;
            break;
        }
        vj[i] = tnode_find(zo, v);
        free(v);
        after[i] = txn_version_after(zo, i, vj[i]);
    }
    for (i = 0; i < op->ntxn && rc == 0; i++) {
        rc = mb_add(zo, &m, i, vj[i], stats);
        if (rc == AGORA_EVERSION)
            op->failed = i;
    }
    if (rc == 0 && m.size > REQUEST_BUDGET) {
        log_warn("store", "%s: a transaction of %zu bytes is over what "
                          "ZooKeeper takes in one request",
                 zo->kpath, m.size);
        rc = AGORA_ETOOBIG;
    }
    if (rc == 0 && m.n == 0) { /* only checks of ANY */
        for (i = 0; i < op->ntxn; i++)
            op->txn[i].version = after[i];
    }
    free(vj);
    if (rc != 0 || m.n == 0) {
        for (k = 0; k < m.n; k++)
            free(m.paths[k]);
        free(m.ops);
        free(m.paths);
        free(stats);
        finish(b, zo, rc);
        return;
    }
    zo->step = ST_TXN_MULTI;
    zrc = send_multi_stats(b, zo, m.ops, m.paths, m.n, stats);
    free(m.ops);
    free(m.paths);
    if (zrc != ZOK)
        finish_zk(b, zo, zrc, "transaction");
}

static void txn_multi_done(struct zstore *b, struct zop *zo, struct zreq *r)
{
    struct store_op *op = zo->op;
    int at = multi_failed_at(r), owner;
    size_t i;
    int k;

    if (r->rc == ZOK) {
        for (i = 0; i < op->ntxn; i++)
            op->txn[i].version = zo->vafter[i];
        for (k = 0; k < r->nops; k++)
            if (zo->mis_v[k] == MB_SET)
                op->txn[zo->mowner[k]].version =
                    (int64_t)r->stats[k].version + 1;
        finish(b, zo, 0);
        return;
    }
    owner = at >= 0 ? zo->mowner[at] : -1;
    if (at >= 0 && zo->mis_v[at] &&
        op->txn[owner].version != AGORA_STORE_ANY &&
        (r->rc == ZBADVERSION || r->rc == ZNODEEXISTS || r->rc == ZNONODE)) {
        op->failed = (size_t)owner;
        finish(b, zo, AGORA_EVERSION);
    } else if (r->rc == ZBADVERSION || r->rc == ZNODEEXISTS ||
               r->rc == ZNONODE || r->rc == ZNOTEMPTY) {
        retry(b, zo, txn_scan); /* another writer, meanwhile */
    } else {
        finish_zk(b, zo, r->rc, "transaction");
    }
}

/* ------------------------------------------------------------------ */
/* Results, order, deadlines (loop thread)                               */
/* ------------------------------------------------------------------ */

/* The two scans end when their last read is in. */
static void put_scan_step(struct zstore *b, struct zop *zo, struct zreq *r)
{
    if (scan_result(b, zo, r))
        put_scan_done(b, zo);
}

static void del_scan_step(struct zstore *b, struct zop *zo, struct zreq *r)
{
    if (scan_result(b, zo, r))
        del_scan_done(b, zo);
}

static void txn_scan_step(struct zstore *b, struct zop *zo, struct zreq *r)
{
    if (txn_scan_result(b, zo, r))
        txn_scan_done(b, zo);
}

/* What an answer does next, by the step that asked. */
static void (*const step_done[])(struct zstore *, struct zop *,
                                 struct zreq *) = {
    [ST_GET] = get_done,
    [ST_LIST] = list_done,
    [ST_PUT_SET] = put_set_done,
    [ST_PUT_CREATE] = put_create_done,
    [ST_PUT_SCAN] = put_scan_step,
    [ST_PUT_MULTI] = put_multi_done,
    [ST_PUT_PARENTS] = put_parents_done,
    [ST_DEL_EXISTS] = del_exists_done,
    [ST_DEL_SCAN] = del_scan_step,
    [ST_DEL_MULTI] = del_multi_done,
    [ST_CH_LIST] = children_list_done,
    [ST_CH_GET] = children_get_done,
    [ST_TXN_SCAN] = txn_scan_step,
    [ST_TXN_MULTI] = txn_multi_done,
};

/*
 * A fenced multi's answer: 1, with zo finished (AGORA_ENOTLEADER), when
 * the fence was gone; else 0, with the fence's result taken off r, so
 * that the step reads the results of its own ops, as it sent them.
 */
static int fence_verdict(struct zstore *b, struct zop *zo, struct zreq *r)
{
    /* A check of version -1 fails only when its node is missing. */
    if (r->results[0].err == ZNONODE) {
        log_info("store",
                 "%s: a write of a deposed leader refused: its "
                 "election znode %s is gone",
                 zo->kpath, b->fence ? b->fence : "(of an ended term)");
        finish(b, zo, AGORA_ENOTLEADER);
        return 1;
    }
    memmove(r->results, r->results + 1,
            (size_t)(r->nops - 1) * sizeof(*r->results));
    r->nops--;
    r->fenced = 0;
    return 0;
}

static void handle_result(struct zstore *b, struct zreq *r)
{
    struct zop *zo = r->zop;

    zo->outstanding--;
    if (zo->op == NULL) {
        zop_release(b, zo); /* completed already (deadline) */
        return;
    }
    if (r->nomem) {
        finish(b, zo, AGORA_ENOMEM); /* later results are dropped */
        return;
    }
    if (r->fenced && fence_verdict(b, zo, r))
        return;
    step_done[zo->step](b, zo, r);
}

/* Handles every result queued so far. */
static void handle_results(struct zstore *b)
{
    struct zreq *r, *next;

    pthread_mutex_lock(&b->mu);
    r = b->rhead;
    b->rhead = b->rtail = NULL;
    pthread_mutex_unlock(&b->mu);
    for (; r != NULL; r = next) {
        next = r->next;
        handle_result(b, r);
        req_free(r);
    }
}

static int is_write(const struct store_op *op)
{
    /* A transaction's key is "": it waits for, and holds back, every op
     * of its namespace. */
    return op->kind == STORE_PUT || op->kind == STORE_DELETE ||
           op->kind == STORE_TXN;
}

/* Whether key a is b, or a prefix of b at a segment boundary, or the
 * reverse ("" is everyone's prefix). */
static int keys_related(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;

    if (n == 0)
        return 1;
    if (strncmp(a, b, n) != 0)
        return 0;
    return (a[n] == '\0' || a[n] == '/') && (b[n] == '\0' || b[n] == '/');
}

static int conflict(const struct store_op *a, const struct store_op *b)
{
    return (is_write(a) || is_write(b)) && strcmp(a->ns, b->ns) == 0 &&
           keys_related(a->key, b->key);
}

/* Whether an earlier, unfinished op must finish before zo starts. */
static int blocked(const struct zstore *b, const struct zop *zo)
{
    const struct zop *p;

    for (p = b->head; p != zo; p = p->next)
        if (p->op != NULL && conflict(p->op, zo->op))
            return 1;
    return 0;
}

/* The first step of each kind of op. */
static void (*const kind_start[])(struct zstore *, struct zop *) = {
    [STORE_GET] = get_start,
    [STORE_PUT] = put_start,
    [STORE_DELETE] = del_start,
    [STORE_LIST] = list_start,
    [STORE_CHILDREN] = children_start,
    [STORE_TXN] = txn_scan,
};

static void start(struct zstore *b, struct zop *zo)
{
    double timeout = zk_session_timeout(b->z);

    zo->started = 1;
    b->running++;
    zo->deadline = ev_now(b->loop) + 2 * timeout + 1;
    if (term_over(b, zo))
        return; /* a write that waited for an earlier op past its term */
    kind_start[zo->op->kind](b, zo);
}

/* Starts, in call order, every op nothing earlier holds back. An op may
 * complete inside start() and call this again: it then starts over. */
static void schedule(struct zstore *b)
{
    struct zop *zo, *next;

    if (b->scheduling) {
        b->again = 1;
        return;
    }
    b->scheduling = 1;
    do {
        b->again = 0;
        for (zo = b->head; zo != NULL && !b->again; zo = next) {
            /* start() may complete and free zo, never another op. */
            next = zo->next;
            if (zo->op != NULL && !zo->started && !blocked(b, zo))
                start(b, zo);
        }
    } while (b->again);
    b->scheduling = 0;
    tick_update(b);
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    struct zstore *b = w->data;

    handle_results(b);
    schedule(b);
}

/* Every second while ops run: fail those past their deadline. */
static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct zstore *b = w->data;
    ev_tstamp now = ev_now(loop);
    struct zop *zo, *next;

    for (zo = b->head; zo != NULL; zo = next) {
        next = zo->next;
        if (zo->op != NULL && zo->started && now > zo->deadline) {
            log_warn("store", "%s: no answer from ZooKeeper in time",
                     zo->kpath);
            /* Held by its outstanding requests: next stays valid. */
            zo->outstanding++;
            finish(b, zo, AGORA_EUNAVAIL);
            zo->outstanding--;
            next = zo->next;
            zop_release(b, zo);
        }
    }
}

/* ------------------------------------------------------------------ */
/* The backend                                                           */
/* ------------------------------------------------------------------ */

/* "<a>/<b>[/<c>]" (c skipped when NULL or empty); NULL when out of memory. */
static char *path3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + (c ? strlen(c) : 0) + 3;
    char *p = malloc(n);

    if (p == NULL)
        return NULL;
    if (c != NULL && c[0] != '\0')
        snprintf(p, n, "%s/%s/%s", a, b, c);
    else
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* backend.submit, loop thread. */
static void zs_submit(void *impl, struct store_op *op)
{
    struct zstore *b = impl;
    struct zop *zo = calloc(1, sizeof(*zo));

    if (zo != NULL) {
        zo->kpath = path3(b->base, op->ns, op->key);
        zo->vpath = zo->kpath ? path3(zo->kpath, VALUE_NODE, NULL) : NULL;
    }
    if (zo == NULL || zo->vpath == NULL) {
        if (zo != NULL)
            zop_free(zo);
        op->err = AGORA_ENOMEM;
        store_complete(op);
        return;
    }
    zo->op = op;
    zo->ns_len = strlen(b->base) + 1 + strlen(op->ns);
    zo->prev = b->tail;
    if (b->tail != NULL)
        b->tail->next = zo;
    else
        b->head = zo;
    b->tail = zo;
    schedule(b);
}

/* Whether an op is not completed yet. */
static int any_unfinished(const struct zstore *b)
{
    const struct zop *zo;

    for (zo = b->head; zo != NULL; zo = zo->next)
        if (zo->op != NULL)
            return 1;
    return 0;
}

/*
 * Waits up to `until` (CLOCK_MONOTONIC) for a result; 0 when one came.
 */
static int wait_result(struct zstore *b, const struct timespec *until)
{
    int rc = 0;

    pthread_mutex_lock(&b->mu);
    while (b->rhead == NULL && rc == 0)
        rc = pthread_cond_timedwait(&b->cv, &b->mu, until);
    if (b->rhead != NULL)
        rc = 0;
    pthread_mutex_unlock(&b->mu);
    return rc;
}

/*
 * backend.close, loop thread. Ops already sent (and those queued behind
 * them) go on for up to CLOSE_DRAIN seconds, so that writes made just
 * before a shutdown still happen; what is left then completes with
 * AGORA_ECANCELED (no callback runs after store_close() anyway). Results
 * that arrive later are dropped by libzookeeper's thread, and the last of
 * them frees the backend.
 */
static void zs_close(void *impl)
{
    struct zstore *b = impl;
    struct timespec until;
    struct zreq *r, *next;
    struct zop *zo;
    int destroy;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)CLOSE_DRAIN;
    while (any_unfinished(b) && wait_result(b, &until) == 0) {
        handle_results(b);
        schedule(b);
    }
    for (zo = b->head; zo != NULL; zo = zo->next) {
        if (zo->op != NULL) {
            zo->op->err = AGORA_ECANCELED;
            store_complete(zo->op);
            zo->op = NULL;
        }
    }
    while ((zo = b->head) != NULL) {
        b->head = zo->next;
        zop_free(zo);
    }
    b->tail = NULL;
    ev_timer_stop(b->loop, &b->tick);

    pthread_mutex_lock(&b->mu);
    b->closed = 1;
    r = b->rhead;
    b->rhead = b->rtail = NULL;
    destroy = b->inflight == 0;
    ev_ref(b->loop);
    ev_async_stop(b->loop, &b->wake);
    pthread_mutex_unlock(&b->mu);
    for (; r != NULL; r = next) {
        next = r->next;
        req_free(r);
    }
    if (destroy)
        zstore_destroy(b);
}

/* backend.term, loop thread. */
static int zs_term(void *impl, uint64_t term, const char *fence)
{
    struct zstore *b = impl;
    char *copy = fence ? strdup(fence) : NULL;

    if (fence && copy == NULL)
        return AGORA_ENOMEM;
    free(b->fence);
    b->fence = copy;
    b->term = term;
    return 0;
}

static const struct store_backend zk_backend = {
    .name = "zk",
    .submit = zs_submit,
    .close = zs_close,
    .term = zs_term,
};

/* A root as zk_parse_url() gives it: "/x[/y...]", no trailing '/'. */
static int root_ok(const char *root)
{
    size_t n = root ? strlen(root) : 0;

    return n >= 2 && root[0] == '/' && root[n - 1] != '/' &&
           strstr(root, "//") == NULL;
}

int store_open_zk(struct ev_loop *loop, struct zk *z, const char *root,
                  struct store **out)
{
    pthread_condattr_t ca;
    struct zstore *b;
    int rc;

    if (loop == NULL || z == NULL || !root_ok(root) || out == NULL)
        return AGORA_EINVAL;
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return AGORA_ENOMEM;
    b->base = path3(root, "state", NULL);
    if (b->base == NULL) {
        free(b);
        return AGORA_ENOMEM;
    }
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        free(b->base);
        free(b);
        return AGORA_ENOMEM;
    }
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        pthread_mutex_destroy(&b->mu);
        free(b->base);
        free(b);
        return AGORA_ENOMEM;
    }
    b->loop = loop;
    b->z = z;
    ev_async_init(&b->wake, on_wake);
    b->wake.data = b;
    ev_async_start(loop, &b->wake);
    /* The store keeps the loop running while ops are pending. */
    ev_unref(loop);
    ev_timer_init(&b->tick, on_tick, 1., 1.);
    b->tick.data = b;
    rc = store_open_backend(loop, &zk_backend, b, out);
    if (rc != 0) {
        zs_close(b);
        return rc;
    }
    log_info("store", "ZooKeeper store under %s", b->base);
    return 0;
}
