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
 *   children  getChildren(key), then getData of each child's .v,
 *           CHILDREN_WINDOW at a time                            2+ RTT
 *   writes  (put, delete, transaction) go in batches
 *           (store_zk_batch.c): every write that may start joins the
 *           next batch, which reads with exists() the znodes it does not
 *           know yet (in parallel; store_zk_cache.c keeps what scans and
 *           our own multis showed, so a new key under a parent we made,
 *           or an overwrite of a key we wrote, needs none), then sends
 *           one multi: the fence's check, then each write's ops,
 *           planned on that view so that writes sharing parents agree:
 *             put     create the missing parents and .v, or setData(.v)
 *                     (a put at a version: setData, never a read first)
 *             delete  delete .v (at its version) and the parents it
 *                     leaves empty, deepest first; of sibling deletes in
 *                     one batch only the last prunes their parent
 *             txn     all its ops, as above, and checks of its .v's
 *           1 RTT (known znodes) or 2 for the whole batch. One batch at a
 *           time, started in the loop's next turn (an ev_prepare), so
 *           that the writes one turn's callbacks make go together;
 *           writes made while a batch is out wait for the next.
 *   delete of NEW, or at a version no znode can have: exists(.v), no
 *           write (the answer is ENOENT or EVERSION)             1 RTT
 * A multi fails as a whole: the write whose op failed it gets its own
 * answer (or, when it lost a race with another writer, is scanned again,
 * at most MAX_TRIES times), and the rest is sent again without it.
 *
 * Fencing (store.h): every write is in a multi, so that in a term with a
 * fence (this master's election znode) its first op checks the fence
 * exists; when it does not, the multi fails as a whole and its writes
 * with AGORA_ENOTLEADER. A write of an ended term fails before each
 * request it would send (its batch's scan and multi).
 *
 * Order: ops of one store start in call order as far as conflicts go:
 * an op waits for every earlier unfinished op it conflicts with (same
 * namespace, one key a prefix of the other, or equal; "" is everyone's
 * prefix, and one of the two a put, delete or transaction; a
 * transaction by each of its keys), and only for those
 * (store_zk_order.c: O(depth) an op, not a scan of the queue). So
 * a get after a put sees the put, as with the local backend, while
 * unrelated keys proceed in parallel, and the writes of a batch never
 * conflict with one another.
 *
 * Threads: libzookeeper calls our completions on its thread; each only
 * copies its result into its request and queues it on this backend's own
 * queue (a mutex, an ev_async, and a condition variable for close()). The
 * loop thread does everything else: it issues every zoo_a*() call, runs
 * the steps of each op and batch and completes ops with
 * store_complete(). We use our own queue rather than zk_post() so that
 * close() can wait on it, and so that results that arrive after close()
 * are dropped here with everything they own.
 *
 * Fail fast: while the session is not ZK_CONNECTED, an op (or the next
 * step of one, or a batch) fails at once with AGORA_EUNAVAIL; nothing is
 * queued for later. A write that fails with AGORA_EUNAVAIL after it was
 * sent may or may not have happened (ZooKeeper cannot tell after a lost
 * connection).
 * Each op, and each batch, also has a deadline of two session timeouts
 * plus a second, past which it fails with AGORA_EUNAVAIL whatever
 * libzookeeper does.
 */
#include "store_zk_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* How long close() waits for ops already started, in seconds. */
#define CLOSE_DRAIN 3.0
/* Reads of a children op in flight at once: bounds what waits in memory
 * for the loop to 16 values. */
#define CHILDREN_WINDOW 16

static void schedule(struct zstore *b);

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

void zs_on_stat(int rc, const struct Stat *stat, const void *data)
{
    struct zreq *r = (struct zreq *)data;

    r->rc = rc;
    if (rc == ZOK && stat != NULL)
        r->stat = *stat;
    req_done(r);
}

void zs_on_void(int rc, const void *data)
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

/* A request for zo (NULL: a batch's, which counts it), counted as in
 * flight: libzookeeper may complete it before the zoo_a*() call returns.
 * NULL when out of memory. */
struct zreq *zs_req_begin(struct zstore *b, struct zop *zo)
{
    struct zreq *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->b = b;
    r->zop = zo;
    pthread_mutex_lock(&b->mu);
    b->inflight++;
    pthread_mutex_unlock(&b->mu);
    if (zo != NULL)
        zo->outstanding++;
    return r;
}

/*
 * After the zoo_a*() call of r returned zrc: 0 when it went out. Otherwise
 * the completion will never run: uncount and free r. ZMARSHALLINGERROR
 * (out of memory) is the exception: libzookeeper may have registered the
 * completion already, so r stays counted and the op's deadline ends it.
 */
int zs_req_sent(struct zstore *b, struct zop *zo, struct zreq *r,
                    int zrc)
{
    if (zrc == ZOK || zrc == ZMARSHALLINGERROR)
        return zrc;
    pthread_mutex_lock(&b->mu);
    b->inflight--;
    pthread_mutex_unlock(&b->mu);
    if (zo != NULL)
        zo->outstanding--;
    req_free(r);
    return zrc;
}

/* The handle to use now, or NULL when the session is not connected. */
zhandle_t *zs_handle(struct zstore *b)
{
    return zk_state(b->z) == ZK_CONNECTED ? zk_handle(b->z) : NULL;
}

/* ------------------------------------------------------------------ */
/* Ops: start, finish, free                                              */
/* ------------------------------------------------------------------ */

static void zop_free(struct zop *zo)
{
    free(zo->after);
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
void zs_release(struct zstore *b, struct zop *zo)
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
void zs_finish(struct zstore *b, struct zop *zo, int err)
{
    struct store_op *op = zo->op;

    if (op == NULL)
        return;
    op->err = err;
    zo->op = NULL;
    if (zo->started)
        b->running--;
    if (zo->order != NULL) {
        order_done(&b->order, zo->order);
        zo->order = NULL;
    }
    store_complete(op); /* op is the store's again */
    zs_release(b, zo);
    schedule(b);
}

/* A ZooKeeper error ends zo: logged when it is not an answer. */
void zs_finish_zk(struct zstore *b, struct zop *zo, int zrc,
                      const char *what)
{
    int err = zk_err(zrc);

    if (err != AGORA_EUNAVAIL && err != AGORA_ENOENT &&
        err != AGORA_EVERSION)
        log_warn("store", "%s %s: %s", what, zo->kpath, zerror(zrc));
    zs_finish(b, zo, err);
}

/* The ZooKeeper version for our version v (>= 1); -2 when no znode can
 * have it (ZooKeeper's versions are 32-bit), which is a mismatch. */
int zs_zk_version(int64_t v)
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

    if (zs_handle(b) == NULL || (r = zs_req_begin(b, zo)) == NULL) {
        zs_finish(b, zo, zs_handle(b) == NULL ? AGORA_EUNAVAIL : AGORA_ENOMEM);
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
    zhandle_t *zh = zs_handle(b);
    struct zreq *r;
    int zrc;

    if ((r = step_begin(b, zo, ST_GET)) == NULL)
        return;
    zrc = zs_req_sent(b, zo, r, zoo_aget(zh, zo->vpath, 0, on_data, r));
    if (zrc != ZOK)
        zs_finish_zk(b, zo, zrc, "get");
}

static void get_done(struct zstore *b, struct zop *zo, struct zreq *r)
{
    struct store_op *op = zo->op;

    if (r->rc != ZOK) {
        zs_finish_zk(b, zo, r->rc, "get");
        return;
    }
    op->value = r->data; /* the store frees it */
    op->len = (size_t)r->len;
    op->version = (int64_t)r->stat.version + 1;
    r->data = NULL;
    zs_finish(b, zo, 0);
}

/* Asks for the children of the op's key, as step `step`. */
static void ask_children(struct zstore *b, struct zop *zo, enum step step,
                         const char *what)
{
    zhandle_t *zh = zs_handle(b);
    struct zreq *r;
    int zrc;

    if ((r = step_begin(b, zo, step)) == NULL)
        return;
    zrc = zs_req_sent(b, zo, r,
                   zoo_aget_children(zh, zo->kpath, 0, on_strings, r));
    if (zrc != ZOK)
        zs_finish_zk(b, zo, zrc, what);
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
        zs_finish(b, zo, 0);
    else if (r->rc != ZOK)
        zs_finish_zk(b, zo, r->rc, what);
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
    zs_finish(b, zo, 0);
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
    zhandle_t *zh = zs_handle(b);
    struct zreq *r;
    int zrc;

    if ((r = step_begin(b, zo, ST_DEL_EXISTS)) == NULL)
        return;
    zrc = zs_req_sent(b, zo, r, zoo_aexists(zh, zo->vpath, 0, zs_on_stat, r));
    if (zrc != ZOK)
        zs_finish_zk(b, zo, zrc, "delete");
}

static void del_exists_done(struct zstore *b, struct zop *zo,
                            struct zreq *r)
{
    if (r->rc == ZOK)
        zs_finish(b, zo, AGORA_EVERSION);
    else
        zs_finish_zk(b, zo, r->rc, "delete");
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

    if (path == NULL || (r = zs_req_begin(b, zo)) == NULL) {
        free(path);
        return ZSYSTEMERROR;
    }
    sprintf(path, "%s/%s/" VALUE_NODE, zo->kpath, name);
    r->index = (int)i;
    zrc = zs_req_sent(b, zo, r, zoo_aget(zs_handle(b), path, 0, on_data, r));
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
        if (zs_handle(b) == NULL) {
            zs_finish(b, zo, AGORA_EUNAVAIL);
            return;
        }
        zrc = children_send(b, zo, zo->next_child);
        if (zrc != ZOK) {
            zs_finish_zk(b, zo, zrc, "get children");
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
    zs_finish(b, zo, 0);
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
            zs_finish(b, zo, AGORA_ENOMEM);
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
            zs_finish(b, zo, AGORA_ETOOBIG);
            return;
        }
        e->value = r->data;
        e->len = (size_t)r->len;
        e->version = (int64_t)r->stat.version + 1;
        r->data = NULL;
    } else if (r->rc != ZNONODE) { /* ZNONODE: no value, or deleted */
        zs_finish_zk(b, zo, r->rc, "get children");
        return;
    }
    children_pump(b, zo);
}

/* ------------------------------------------------------------------ */
/* Results, order, deadlines (loop thread)                               */
/* ------------------------------------------------------------------ */

/* What an answer does next, by the step that asked. */
static void (*const step_done[])(struct zstore *, struct zop *,
                                 struct zreq *) = {
    [ST_GET] = get_done,
    [ST_LIST] = list_done,
    [ST_DEL_EXISTS] = del_exists_done,
    [ST_CH_LIST] = children_list_done,
    [ST_CH_GET] = children_get_done,
};

static void handle_result(struct zstore *b, struct zreq *r)
{
    struct zop *zo = r->zop;

    if (r->batch != NULL) {
        zbatch_result(b, r);
        return;
    }
    zo->outstanding--;
    if (zo->op == NULL) {
        zs_release(b, zo); /* completed already (deadline) */
        return;
    }
    if (r->nomem) {
        zs_finish(b, zo, AGORA_ENOMEM); /* later results are dropped */
        return;
    }
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
    return op->kind == STORE_PUT || op->kind == STORE_DELETE ||
           op->kind == STORE_TXN;
}

/* The first step of each kind of read. */
static void (*const kind_start[])(struct zstore *, struct zop *) = {
    [STORE_GET] = get_start,
    [STORE_LIST] = list_start,
    [STORE_CHILDREN] = children_start,
    [STORE_DELETE] = del_exists,
};

/*
 * Starts zo, which its order lets go: a read sends its request, a write
 * joins the queue of the next batch. A delete of NEW, or at a version no
 * znode can have, writes nothing: a read answers it; a put at such a
 * version fails at once.
 */
static void start(struct zstore *b, struct zop *zo)
{
    double timeout = zk_session_timeout(b->z);
    struct store_op *op = zo->op;

    zo->started = 1;
    b->running++;
    zo->deadline = ev_now(b->loop) + 2 * timeout + 1;
    if (is_write(op) && op->term != 0 && op->term != b->term) {
        /* a write that waited for an earlier op past its term */
        zs_finish(b, zo, AGORA_ENOTLEADER);
        return;
    }
    if (op->kind == STORE_PUT && zs_zk_version(op->version) == -2 &&
        op->version >= 1) {
        zs_finish(b, zo, AGORA_EVERSION);
        return;
    }
    if (op->kind == STORE_DELETE &&
        (op->version == AGORA_STORE_NEW ||
         (op->version >= 1 && zs_zk_version(op->version) == -2))) {
        del_exists(b, zo);
        return;
    }
    if (is_write(op)) {
        zbatch_queue(b, zo);
        return;
    }
    kind_start[op->kind](b, zo);
}

/* Starts every op its order lets go, then a batch of the writes among
 * them. An op may complete inside start() and call this again: the
 * call only marks that there is more to do. */
static void schedule(struct zstore *b)
{
    struct zop *zo;

    if (b->scheduling) {
        b->again = 1;
        return;
    }
    b->scheduling = 1;
    do {
        b->again = 0;
        while ((zo = order_next(&b->order)) != NULL)
            start(b, zo);
        if (b->kick_now || b->closing)
            zbatch_kick(b);
        else if (b->wq_head != NULL && b->batch == NULL &&
                 !ev_is_active(&b->kick))
            ev_prepare_start(b->loop, &b->kick);
    } while (b->again);
    b->scheduling = 0;
    tick_update(b);
}

/* The loop ran the callbacks ready: the writes they made are queued. */
static void on_kick(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct zstore *b = w->data;

    ev_prepare_stop(loop, w);
    b->kick_now = 1;
    schedule(b);
    b->kick_now = 0;
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
            zs_finish(b, zo, AGORA_EUNAVAIL);
            zo->outstanding--;
            next = zo->next;
            zs_release(b, zo);
        }
    }
    zbatch_expire(b, now);
    schedule(b);
}

/* ------------------------------------------------------------------ */
/* The backend                                                           */
/* ------------------------------------------------------------------ */

/* "<a>/<b>[/<c>]" (c skipped when NULL or empty); NULL when out of memory. */
char *zs_path3(const char *a, const char *b, const char *c)
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

/* A write's ops as a transaction's: a put or a delete is one, on its
 * own key. 0 or AGORA_ENOMEM. */
static int zop_write_init(struct zop *zo)
{
    struct store_op *op = zo->op;

    if (op->kind == STORE_TXN) {
        zo->sub = op->txn;
        zo->nsub = op->ntxn;
    } else if (op->kind == STORE_PUT || op->kind == STORE_DELETE) {
        zo->one.kind = op->kind == STORE_PUT ? AGORA_STORE_TXN_PUT
                                             : AGORA_STORE_TXN_DELETE;
        zo->one.key = op->key;
        zo->one.value = op->value;
        zo->one.len = op->len;
        zo->one.version = op->version;
        zo->sub = &zo->one;
        zo->nsub = 1;
    } else {
        return 0;
    }
    zo->after = calloc(zo->nsub ? zo->nsub : 1, sizeof(*zo->after));
    return zo->after != NULL ? 0 : AGORA_ENOMEM;
}

/*
 * zo's place in the order: its key; a transaction's, each of its keys
 * (its own key is ""), so that it waits only for the ops on those, as a
 * put or delete of each would: it is all or nothing at the server (one
 * multi), and no read of one of its keys, or of a key above one, runs
 * while it is out. 0 or AGORA_ENOMEM.
 */
static int zop_order(struct zstore *b, struct zop *zo)
{
    const char *keys[AGORA_STORE_TXN_MAX];
    struct store_op *op = zo->op;
    size_t i;

    if (op->kind != STORE_TXN || op->ntxn == 0 ||
        op->ntxn > AGORA_STORE_TXN_MAX)
        return order_add(&b->order, op->ns, op->key, is_write(op), zo,
                         &zo->order);
    for (i = 0; i < op->ntxn; i++)
        keys[i] = op->txn[i].key;
    return order_add_keys(&b->order, op->ns, keys, op->ntxn, 1, zo, &zo->order);
}

/* backend.submit, loop thread. */
static void zs_submit(void *impl, struct store_op *op)
{
    struct zstore *b = impl;
    struct zop *zo = calloc(1, sizeof(*zo));

    if (zo != NULL) {
        zo->kpath = zs_path3(b->base, op->ns, op->key);
        zo->vpath = zo->kpath ? zs_path3(zo->kpath, VALUE_NODE, NULL) : NULL;
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
    if (zop_write_init(zo) != 0 || zop_order(b, zo) != 0) {
        zop_free(zo);
        op->err = AGORA_ENOMEM;
        store_complete(op);
        return;
    }
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
    b->closing = 1;
    ev_prepare_stop(b->loop, &b->kick);
    schedule(b);
    while (any_unfinished(b) && wait_result(b, &until) == 0) {
        handle_results(b);
        schedule(b);
    }
    zbatch_close(b);
    for (zo = b->head; zo != NULL; zo = zo->next) {
        if (zo->op != NULL) {
            zo->op->err = AGORA_ECANCELED;
            store_complete(zo->op);
            zo->op = NULL;
        }
        if (zo->order != NULL)
            order_done(&b->order, zo->order);
        zo->order = NULL;
    }
    order_free(&b->order);
    zcache_clear(&b->cache);
    map_free(&b->cache);
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
    /* Another master may have written between our terms. */
    zcache_clear(&b->cache);
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
    b->base = zs_path3(root, "state", NULL);
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
    b->order = (struct order)ORDER_INIT;
    b->cache.borrowed = 1;
    ev_async_init(&b->wake, on_wake);
    b->wake.data = b;
    ev_async_start(loop, &b->wake);
    /* The store keeps the loop running while ops are pending. */
    ev_unref(loop);
    ev_prepare_init(&b->kick, on_kick);
    b->kick.data = b;
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
