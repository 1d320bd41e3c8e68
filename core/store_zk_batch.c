/*
 * store_zk_batch.c - the ZooKeeper store's writes, batched: the puts,
 * deletes and transactions that may start (store_zk_order.h: none of
 * them conflicts with another unfinished op) go to ZooKeeper together.
 *
 * One batch at a time, started once the loop has run the callbacks
 * ready (so that writes made together go together), in one or two
 * round trips:
 *   scan   exists() of every znode the batch's writes may touch that the
 *          cache does not know (store_zk_cache.c): each prefix of each
 *          key's value path (<root>, <root>/state, ..., the key, its
 *          .v), each path once however many writes share it. None when
 *          all is known (a new key under a parent we made, an overwrite
 *          of a key we wrote); a put at a version (>= 1) needs nothing:
 *          it is a setData that checks the version itself.
 *   multi  one zoo_amulti(): the fence's check first (store.h), then each
 *          write in turn, planned on that view (store_zk_plan.c) so
 *          that writes sharing parents agree: the first put under a
 *          missing parent creates it, the others find it made; of
 *          sibling deletes, only the one that leaves a parent empty
 *          prunes it (the race of sibling deletes, each seeing the other
 *          still there, cannot happen inside one batch).
 * A write the scan shows must fail (a version that does not match, a
 * NEW on a value that exists, a delete of a missing value) completes at
 * once with its answer and is left out of the multi: the scan was made
 * after it could start, so the answer holds then. When only the cache
 * says so, the write is scanned again first.
 *
 * A multi fails as a whole, at its first failing op (ZooKeeper reports
 * ZOK before it and ZRUNTIMEINCONSISTENCY after it). The write that op
 * belongs to is taken out: it completes with its answer when the op was
 * its own value's (a version, NEW, a missing value), or, when it lost a
 * race with another writer (a parent made or removed meanwhile), goes
 * back to the queue to be scanned again (MAX_TRIES at most). The rest is
 * planned again on the same view (the failed multi changed nothing) and
 * sent again; or, when the view took anything from the cache, which the
 * failure shows wrong, every write goes back to be scanned. Every write
 * gets exactly its own outcome, and each resend has one write fewer.
 *
 * Bounds: a batch takes writes while their estimated size (values, and
 * paths times the parents they may create or prune) stays within
 * REQUEST_BUDGET (ZooKeeper's jute.maxbuffer) and their ops within
 * BATCH_SUBS_MAX (and the multi within BATCH_OPS_MAX ops); one write too
 * big alone is a put whose parents are made first in a multi of their
 * own, or a transaction (AGORA_ETOOBIG).
 *
 * Loop thread only.
 */
#include "store_zk_plan.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The transaction ops (a put or delete is one) a batch takes at most. */
#define BATCH_SUBS_MAX 512
/* The ops of one multi at most. */
#define BATCH_OPS_MAX 4096

/* ------------------------------------------------------------------ */
/* The queue of writes that may start                                  */
/* ------------------------------------------------------------------ */

/* Each queued write is held (outstanding) by the queue, then the batch. */
void zbatch_queue(struct zstore *b, struct zop *zo)
{
    zo->outstanding++;
    zo->next_w = NULL;
    if (b->wq_tail != NULL)
        b->wq_tail->next_w = zo;
    else
        b->wq_head = zo;
    b->wq_tail = zo;
}

static struct zop *wq_pop(struct zstore *b)
{
    struct zop *zo = b->wq_head;

    if (zo != NULL) {
        b->wq_head = zo->next_w;
        if (b->wq_head == NULL)
            b->wq_tail = NULL;
    }
    return zo;
}

/* Back to the head of the queue, held as before. */
static void wq_push_front(struct zstore *b, struct zop *zo)
{
    zo->next_w = b->wq_head;
    b->wq_head = zo;
    if (b->wq_tail == NULL)
        b->wq_tail = zo;
}

/* Lets go of zo (it is completed, or never was queued by us again). */
static void unhold(struct zstore *b, struct zop *zo)
{
    zo->outstanding--;
    zs_release(b, zo);
}

/* Completes zo with err and lets go of it. */
static void end_write(struct zstore *b, struct zop *zo, int err)
{
    zs_finish(b, zo, err);
    unhold(b, zo);
}

static int term_ok(const struct zstore *b, const struct zop *zo)
{
    return zo->op->term == 0 || zo->op->term == b->term;
}

/* ------------------------------------------------------------------ */
/* The batch's life                                                     */
/* ------------------------------------------------------------------ */

static void batch_plan(struct zstore *b, struct zbatch *bt);

static int live(const struct zbatch *bt)
{
    size_t k;
    int n = 0;

    for (k = 0; k < bt->nw; k++)
        n += bt->w[k] != NULL;
    return n;
}

/* Takes write k out of the batch, completed with err. */
static void drop(struct zstore *b, struct zbatch *bt, size_t k, int err)
{
    struct zop *zo = bt->w[k];

    bt->w[k] = NULL;
    end_write(b, zo, err);
}

/* Takes write k out of the batch, back to the queue: it lost a race
 * with another writer and is scanned again, or gives up. */
static void drop_retry(struct zstore *b, struct zbatch *bt, size_t k)
{
    struct zop *zo = bt->w[k];

    bt->w[k] = NULL;
    if (zo->op == NULL) {
        unhold(b, zo);
    } else if (++zo->tries >= MAX_TRIES) {
        log_error("store", "%s: gave up after %d concurrent changes", zo->kpath,
                  zo->tries);
        end_write(b, zo, AGORA_EIO);
    } else {
        wq_push_front(b, zo);
    }
}

/* Every write left completes with err (a ZooKeeper error: zrc != ZOK). */
static void drop_all(struct zstore *b, struct zbatch *bt, int err, int zrc,
                     const char *what)
{
    size_t k;

    if (zrc != ZOK || err == AGORA_EUNAVAIL)
        zcache_clear(&b->cache); /* writes may or may not have happened */
    for (k = 0; k < bt->nw; k++) {
        struct zop *zo = bt->w[k];

        if (zo == NULL)
            continue;
        bt->w[k] = NULL;
        if (zrc != ZOK && zo->op != NULL)
            zs_finish_zk(b, zo, zrc, what);
        else
            zs_finish(b, zo, err);
        unhold(b, zo);
    }
}

static void batch_free(struct zbatch *bt)
{
    zplan_nodes_free(bt);
    free(bt->m);
    free(bt->w);
    free(bt);
}

/* The batch is over: its writes are completed or queued again. Another
 * may start (zbatch_kick). */
static void batch_end(struct zstore *b, struct zbatch *bt)
{
    size_t k;

    for (k = 0; k < bt->nw; k++)
        if (bt->w[k] != NULL)
            drop_retry(b, bt, k);
    batch_free(bt);
    b->batch = NULL;
}

/* A request of the batch, counted as in flight. */
static struct zreq *breq_begin(struct zstore *b, struct zbatch *bt)
{
    struct zreq *r = zs_req_begin(b, NULL);

    if (r != NULL) {
        r->batch = bt;
        bt->outstanding++;
    }
    return r;
}

static int breq_sent(struct zstore *b, struct zbatch *bt, struct zreq *r,
                     int zrc)
{
    zrc = zs_req_sent(b, NULL, r, zrc);
    if (zrc != ZOK && zrc != ZMARSHALLINGERROR)
        bt->outstanding--;
    return zrc;
}

/* exists() of every node; the plan once the last answer is in. */
static void batch_scan(struct zstore *b, struct zbatch *bt)
{
    zhandle_t *zh = zs_handle(b);
    int j, zrc = ZOK;

    bt->phase = PH_SCAN;
    if (zplan_nodes(bt) != 0) {
        drop_all(b, bt, AGORA_ENOMEM, ZOK, NULL);
        batch_end(b, bt);
        return;
    }
    if (bt->ntn == 0) {
        batch_plan(b, bt);
        return;
    }
    if (zh == NULL) {
        drop_all(b, bt, AGORA_EUNAVAIL, ZOK, NULL);
        batch_end(b, bt);
        return;
    }
    bt->scan_rc = ZOK;
    for (j = 0; j < bt->ntn && zrc == ZOK; j++) {
        struct zreq *r;

        if (zplan_known(b, &bt->tn[j]))
            continue;
        if ((r = breq_begin(b, bt)) == NULL) {
            zrc = ZMARSHALLINGERROR; /* "out of memory", for zk_err() */
            break;
        }
        r->index = j;
        zrc = breq_sent(b, bt, r,
                        zoo_aexists(zh, bt->tn[j].path, 0, zs_on_stat, r));
    }
    if (zrc != ZOK) {
        /* What was sent still comes back; the batch ends in error then. */
        bt->scan_rc = zrc;
        if (bt->outstanding == 0) {
            drop_all(b, bt, 0, zrc, "exists");
            batch_end(b, bt);
        }
    } else if (bt->outstanding == 0) {
        batch_plan(b, bt); /* all known */
    }
}

/*
 * Starts a batch of the writes queued, when none is in progress: in
 * order, as many as fit (see the top of the file), all of one term.
 * Writes of an ended term fail here, before anything is sent for them.
 */
void zbatch_kick(struct zstore *b)
{
    if (b->batch == NULL && b->cache.len > CACHE_MAX)
        zcache_clear(&b->cache);
    while (b->batch == NULL && b->wq_head != NULL) {
        struct zbatch *bt = calloc(1, sizeof(*bt));
        size_t size = 0, subs = 0, cap = 0;
        uint64_t term = 0;
        struct zop *zo;

        if (bt == NULL) {
            while ((zo = wq_pop(b)) != NULL)
                end_write(b, zo, AGORA_ENOMEM);
            return;
        }
        while ((zo = b->wq_head) != NULL) {
            size_t est;

            if (zo->op == NULL) { /* past its deadline */
                unhold(b, wq_pop(b));
                continue;
            }
            if (!term_ok(b, zo)) {
                end_write(b, wq_pop(b), AGORA_ENOTLEADER);
                continue;
            }
            if (zs_handle(b) == NULL) {
                end_write(b, wq_pop(b), AGORA_EUNAVAIL);
                continue;
            }
            est = zplan_estimate(zo);
            if (bt->nw > 0 &&
                (zo->op->term != term || size + est > REQUEST_BUDGET ||
                 subs + zo->nsub > BATCH_SUBS_MAX))
                break;
            if (bt->nw == cap) {
                size_t ncap = cap ? 2 * cap : 16;
                struct zop **w = realloc(bt->w, ncap * sizeof(*w));

                if (w == NULL && bt->nw == 0)
                    end_write(b, wq_pop(b), AGORA_ENOMEM);
                if (w == NULL)
                    break;
                bt->w = w;
                cap = ncap;
            }
            term = zo->op->term;
            bt->w[bt->nw++] = wq_pop(b);
            size += est;
            subs += zo->nsub;
        }
        b->batch = bt;
        bt->deadline = ev_now(b->loop) + 2 * zk_session_timeout(b->z) + 1;
        if (bt->nw == 0)
            batch_end(b, bt);
        else
            batch_scan(b, bt);
    }
}

/* ------------------------------------------------------------------ */
/* Planned: results, sending                                            */
/* ------------------------------------------------------------------ */

/* The writes' versions once the multi is applied; each completes. */
static void batch_done(struct zstore *b, struct zbatch *bt, struct zreq *r)
{
    int off = r->fenced, k;
    size_t i;

    zplan_commit(b, bt);
    for (k = 0; k < bt->nm; k++) {
        const struct mop *o = &bt->m[k];
        struct znode_info in = {1, 0, r->stats[k + off].version, 1};

        if (o->role != R_SET_V)
            continue;
        if (zcache_set(&b->cache, o->path, &in) != 0)
            zcache_clear(&b->cache);
        if (bt->w[o->writer] != NULL)
            bt->w[o->writer]->after[o->sub] =
                (int64_t)r->stats[k + off].version + 1;
    }
    for (i = 0; i < bt->nw; i++) {
        struct zop *zo = bt->w[i];
        size_t j;

        if (zo == NULL || zo->op == NULL)
            continue;
        if (zo->op->kind == STORE_PUT)
            zo->op->version = zo->after[0];
        else if (zo->op->kind == STORE_TXN)
            for (j = 0; j < zo->nsub; j++)
                zo->op->txn[j].version = zo->after[j];
        drop(b, bt, i, 0);
    }
}

/* Write k wrote nothing (checks of ANY only): done, with the versions
 * the scan read. */
static void batch_done_one(struct zstore *b, struct zbatch *bt, size_t k)
{
    struct zop *zo = bt->w[k];
    size_t j;

    if (zo->op->kind == STORE_TXN)
        for (j = 0; j < zo->nsub; j++)
            zo->op->txn[j].version = zo->after[j];
    drop(b, bt, k, 0);
}

/* Sends the multi planned, the fence's check first. */
static int batch_send(struct zstore *b, struct zbatch *bt, enum phase phase)
{
    zhandle_t *zh = zs_handle(b);
    int fenced = b->term != 0 && b->fence != NULL, n = 0, k, off;
    zoo_op_t *ops;
    struct zreq *r;

    if (zh == NULL)
        return ZCONNECTIONLOSS;
    for (k = 0; k < bt->nm; k++)
        n += phase != PH_PARENTS || bt->m[k].role == R_PARENT;
    ops = calloc((size_t)(n + fenced), sizeof(*ops));
    if (ops == NULL || (r = breq_begin(b, bt)) == NULL) {
        free(ops);
        return ZSYSTEMERROR;
    }
    r->results = calloc((size_t)(n + fenced), sizeof(*r->results));
    r->stats = calloc((size_t)(n + fenced), sizeof(*r->stats));
    if (r->results == NULL || r->stats == NULL) {
        free(ops);
        return breq_sent(b, bt, r, ZSYSTEMERROR);
    }
    r->nops = n + fenced;
    r->fenced = fenced;
    if (fenced)
        zoo_check_op_init(&ops[0], b->fence, -1);
    for (k = 0, off = fenced; k < bt->nm; k++) {
        const struct mop *o = &bt->m[k];

        if (phase == PH_PARENTS && o->role != R_PARENT)
            continue;
        switch (o->prim) {
        case P_CREATE:
            zoo_create_op_init(&ops[off], o->path, o->value, o->len,
                               &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
            break;
        case P_DELETE:
            zoo_delete_op_init(&ops[off], o->path, o->version);
            break;
        case P_SET:
            zoo_set_op_init(&ops[off], o->path, o->value, o->len, o->version,
                            &r->stats[off]);
            break;
        case P_CHECK:
            zoo_check_op_init(&ops[off], o->path, o->version);
            break;
        }
        off++;
    }
    bt->phase = phase;
    k = breq_sent(b, bt, r,
                  zoo_amulti(zh, n + fenced, ops, r->results, zs_on_void, r));
    free(ops);
    return k;
}

/* The last live write, back to the queue: the multi is over a bound. */
static void shed_last(struct zstore *b, struct zbatch *bt)
{
    size_t k = bt->nw;

    while (k-- > 0) {
        if (bt->w[k] != NULL) {
            struct zop *zo = bt->w[k];

            bt->w[k] = NULL;
            wq_push_front(b, zo);
            return;
        }
    }
}

/* One write over ZooKeeper's request size, alone in its batch. */
static void batch_too_big(struct zstore *b, struct zbatch *bt)
{
    size_t k;
    int zrc;

    for (k = 0; bt->w[k] == NULL; k++)
        ;
    if (bt->w[k]->op->kind != STORE_PUT) {
        log_warn("store",
                 "%s: a transaction of %zu bytes is over what "
                 "ZooKeeper takes in one request",
                 bt->w[k]->kpath, bt->size);
        drop(b, bt, k, AGORA_ETOOBIG);
        batch_end(b, bt);
        return;
    }
    /* A put with many parents: the parents first, then (scanned again)
     * the value. If the value then fails, the parents stay. */
    zrc = batch_send(b, bt, PH_PARENTS);
    if (zrc != ZOK) {
        drop_all(b, bt, 0, zrc, "put");
        batch_end(b, bt);
    }
}

/*
 * Plans the multi on the scan (again, after a write was taken out) and
 * sends it. Writes the scan shows must fail complete here; a write that
 * writes nothing (a transaction of checks of ANY) completes here too.
 */
static void batch_plan(struct zstore *b, struct zbatch *bt)
{
    size_t k;
    int j, rc, zrc;

    for (;;) {
        for (j = 0; j < bt->ntn; j++) {
            struct tnode *t = &bt->tn[j];

            t->exists = t->s_exists;
            t->nchildren = t->s_nchildren;
            t->version = t->s_version;
            t->created = 0;
        }
        bt->nm = 0;
        bt->size = 0;
        for (k = 0; k < bt->nw; k++) {
            struct zop *zo = bt->w[k];
            int before = bt->nm;

            if (zo == NULL)
                continue;
            if (zo->op == NULL) {
                bt->w[k] = NULL;
                unhold(b, zo);
                continue;
            }
            if (!term_ok(b, zo)) {
                drop(b, bt, k, AGORA_ENOTLEADER);
                continue;
            }
            if ((rc = zplan_predict(bt, zo)) == PREDICT_RESCAN) {
                zo->fresh = 1;
                drop_retry(b, bt, k);
                continue;
            }
            if (rc != 0) {
                drop(b, bt, k, rc);
                continue;
            }
            if ((rc = zplan_write(bt, k)) != 0) {
                drop_all(b, bt, AGORA_ENOMEM, ZOK, NULL);
                batch_end(b, bt);
                return;
            }
            if (bt->nm == before) /* checks of ANY only: done */
                batch_done_one(b, bt, k);
        }
        if (live(bt) == 0 || bt->nm == 0) {
            batch_end(b, bt);
            return;
        }
        if (bt->size <= REQUEST_BUDGET && bt->nm <= BATCH_OPS_MAX)
            break;
        if (live(bt) == 1) {
            batch_too_big(b, bt);
            return;
        }
        shed_last(b, bt);
    }
    zrc = batch_send(b, bt, PH_MULTI);
    if (zrc != ZOK) {
        drop_all(b, bt, 0, zrc, "write");
        batch_end(b, bt);
    }
}

/* ------------------------------------------------------------------ */
/* Answers                                                              */
/* ------------------------------------------------------------------ */

/* A scan's exists() answer; the plan once the last one is in. */
static void scan_result(struct zstore *b, struct zbatch *bt, struct zreq *r)
{
    struct tnode *t = &bt->tn[r->index];

    t->s_exists = r->rc == ZOK;
    t->s_nchildren = r->rc == ZOK ? r->stat.numChildren : 0;
    t->s_version = r->rc == ZOK ? r->stat.version : -1;
    t->s_complete = r->rc == ZOK && r->stat.numChildren == 0;
    if (r->rc != ZOK && r->rc != ZNONODE && bt->scan_rc == ZOK)
        bt->scan_rc = r->rc;
    if (r->rc == ZOK || r->rc == ZNONODE)
        zplan_learn(b, t);
    if (bt->outstanding > 0)
        return;
    if (bt->scan_rc != ZOK) {
        drop_all(b, bt, 0, bt->scan_rc, "exists");
        batch_end(b, bt);
        return;
    }
    batch_plan(b, bt);
}

/* Whether the batch's view took anything from the cache. */
static int any_cached(const struct zbatch *bt)
{
    int j;

    for (j = 0; j < bt->ntn; j++)
        if (bt->tn[j].cached)
            return 1;
    return 0;
}

/* Every write left back to the queue, no try counted. */
static void requeue_all(struct zstore *b, struct zbatch *bt)
{
    size_t k = bt->nw;

    while (k-- > 0) {
        struct zop *zo = bt->w[k];

        if (zo == NULL)
            continue;
        bt->w[k] = NULL;
        if (zo->op == NULL)
            unhold(b, zo);
        else
            wq_push_front(b, zo);
    }
}

/* The first op of a multi that failed for itself, -1 if none did. */
static int failed_at(const struct zreq *r)
{
    int i;

    for (i = r->fenced; i < r->nops; i++)
        if (r->results[i].err != ZOK &&
            r->results[i].err != ZRUNTIMEINCONSISTENCY)
            return i - r->fenced;
    return -1;
}

static int node_error(int zrc)
{
    return zrc == ZNONODE || zrc == ZNODEEXISTS || zrc == ZBADVERSION ||
           zrc == ZNOTEMPTY;
}

/* The multi's answer: all done; or one write out and the rest again. */
static void multi_result(struct zstore *b, struct zbatch *bt, struct zreq *r)
{
    int at, k;

    if (r->fenced && r->results[0].err == ZNONODE) {
        log_info("store",
                 "a batch of %d writes of a deposed leader refused: its "
                 "election znode %s is gone",
                 live(bt), b->fence ? b->fence : "(of an ended term)");
        drop_all(b, bt, AGORA_ENOTLEADER, ZOK, NULL);
        batch_end(b, bt);
        return;
    }
    if (r->rc == ZOK) {
        batch_done(b, bt, r);
        batch_end(b, bt);
        return;
    }
    at = failed_at(r);
    if (at < 0 || at >= bt->nm || !node_error(r->rc)) {
        drop_all(b, bt, 0, r->rc, "write");
        batch_end(b, bt);
        return;
    }
    k = bt->m[at].writer;
    if (bt->w[k] != NULL) {
        int err = bt->w[k]->op != NULL
                      ? zplan_verdict(bt->w[k], &bt->m[at],
                                      r->results[at + r->fenced].err)
                      : 1;

        if (err != 1) {
            drop(b, bt, (size_t)k, err);
            batch_plan(b, bt); /* the rest, on the same view */
            return;
        }
        log_info("store",
                 "%s: another writer changed a znode a batch "
                 "counted on (%s): scanned again",
                 bt->w[k]->kpath, zerror(r->results[at + r->fenced].err));
        zcache_clear(&b->cache); /* it learned from the same view */
        drop_retry(b, bt, (size_t)k);
        if (any_cached(bt)) {
            /* Every write of the batch may stand on what the cache said:
             * all are scanned again (only k lost a try). */
            requeue_all(b, bt);
            batch_end(b, bt);
            return;
        }
    }
    batch_plan(b, bt); /* the rest, on the same view */
}

/* The parents of a put too big for one request are made (or someone
 * made them, or its key went meanwhile): the put again, scanned again. */
static void parents_result(struct zstore *b, struct zbatch *bt, struct zreq *r)
{
    zcache_clear(&b->cache); /* rare: no need to know what it made */
    if (r->fenced && r->results[0].err == ZNONODE)
        drop_all(b, bt, AGORA_ENOTLEADER, ZOK, NULL);
    else if (r->rc != ZOK && !node_error(r->rc))
        drop_all(b, bt, 0, r->rc, "put");
    batch_end(b, bt); /* what is left goes back to the queue */
}

void zbatch_result(struct zstore *b, struct zreq *r)
{
    struct zbatch *bt = r->batch;

    bt->outstanding--;
    if (bt->phase == PH_DEAD) {
        struct zbatch **p = &b->dead;

        if (bt->outstanding > 0)
            return;
        while (*p != bt)
            p = &(*p)->next_dead;
        *p = bt->next_dead;
        batch_free(bt);
    } else if (bt->phase == PH_SCAN)
        scan_result(b, bt, r);
    else if (bt->phase == PH_MULTI)
        multi_result(b, bt, r);
    else
        parents_result(b, bt, r);
}

/* close(): results that come later are dropped unread (r->batch is not
 * read once the backend is closed); the writes are close()'s. */
void zbatch_close(struct zstore *b)
{
    struct zbatch *bt;
    struct zop *zo;

    while ((zo = wq_pop(b)) != NULL)
        zo->outstanding--;
    while ((bt = b->dead) != NULL) {
        b->dead = bt->next_dead;
        batch_free(bt);
    }
    if ((bt = b->batch) == NULL)
        return;
    batch_free(bt);
    b->batch = NULL;
}

/*
 * on_tick: a batch past its deadline (two session timeouts and a second)
 * is given up, whatever libzookeeper does: its writes fail with
 * AGORA_EUNAVAIL (they may have happened), and the next batch may
 * start. Answers that still come for it are dropped.
 */
void zbatch_expire(struct zstore *b, ev_tstamp now)
{
    struct zbatch *bt = b->batch;

    if (bt == NULL || now <= bt->deadline)
        return;
    log_warn("store",
             "a batch of %d writes: no answer from ZooKeeper in "
             "time",
             live(bt));
    drop_all(b, bt, AGORA_EUNAVAIL, ZOK, NULL);
    b->batch = NULL;
    bt->phase = PH_DEAD;
    if (bt->outstanding == 0) {
        batch_free(bt);
    } else {
        bt->next_dead = b->dead;
        b->dead = bt;
    }
}
