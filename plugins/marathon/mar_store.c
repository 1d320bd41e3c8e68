/*
 * mar_store.c - the plugin's puts, gathered into store transactions.
 *
 * A new app cost four store writes (its record, its version, its
 * deployment's record and, later, its deletion) and each instance one
 * write per launch and per update: 14,000 store operations for 1,000
 * apps of 10 instances, each a round through the store thread (and with
 * ZooKeeper a multi of its own, with the leadership check). The puts of
 * one pass of the loop - a POST's app, version and deployment, the
 * instances one offer launched, a batch of status updates - now go as
 * one store_txn() at the end of it (a timer of 0 s), up to
 * AGORA_STORE_TXN_MAX puts or AGORA_STORE_VALUE_MAX bytes each.
 *
 * Order is kept: a put of a key already waiting, every delete (in a
 * transaction a delete of a missing key fails it all) and every read go
 * only after what waits was sent (mar_store_flush()). Completions come
 * in the order of the calls, each op's callback with the transaction's
 * outcome; callbacks get no result (none of the plugin's uses one).
 *
 * The host delivers completions in call order (core/store.c), so "all
 * the writes so far landed" is the completion of the last one made:
 * mar_store_after() hangs its callback on the waiting batch, or, with
 * none waiting, on a read made after everything sent.
 */
#include <stdlib.h>
#include <string.h>

#include "marathon.h"

struct txn_ctx {
    struct agora_pending pend;
    struct mar *m;
    struct mar_after *after; /* the batch's, run after the ops' callbacks */
    size_t nafter;
    size_t n;
    struct mar_wcb {
        agora_store_fn cb;
        void *arg;
    } cbs[];
};

static void txn_free(struct agora_pending *p)
{
    struct txn_ctx *c = (struct txn_ctx *)p;

    free(c->after); /* unloading: their owners free their args */
    free(c);
}

static void after_run(struct mar_after *a, size_t n, int err)
{
    size_t i;

    for (i = 0; i < n; i++)
        a[i].fn(a[i].arg, err);
    free(a);
}

static void txn_done(void *arg, int err, const struct agora_store_result *r)
{
    struct txn_ctx *c = arg;
    size_t i;

    (void)r;
    agora_pending_del(&c->pend);
    for (i = 0; i < c->n; i++) {
        if (c->cbs[i].cb)
            c->cbs[i].cb(c->cbs[i].arg, err, NULL);
    }
    after_run(c->after, c->nafter, err);
    free(c);
}

static void ops_clear(struct mar_wbatch *b)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        free(b->ops[i].key);
        free(b->ops[i].value);
    }
    b->n = 0;
    b->bytes = 0;
    b->after = NULL; /* handed to the transaction, or run */
    b->nafter = b->after_cap = 0;
}

/* Each waiting op's callback with err, when nothing could be sent. */
static void ops_fail(struct mar_wbatch *b, int err)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        if (b->ops[i].cb)
            b->ops[i].cb(b->ops[i].arg, err, NULL);
    }
    after_run(b->after, b->nafter, err);
}

static int send_one(struct mar *m, struct mar_wop *op)
{
    return m->api->store_put(m->h, op->key, op->value, op->len,
                             AGORA_STORE_ANY, op->cb, op->arg);
}

static int send_txn(struct mar *m, struct mar_wbatch *b)
{
    struct agora_store_txn_op ops[AGORA_STORE_TXN_MAX];
    struct txn_ctx *c;
    size_t i;
    int rc;

    c = malloc(sizeof(*c) + b->n * sizeof(c->cbs[0]));
    if (c == NULL)
        return AGORA_ENOMEM;
    c->m = m;
    c->after = b->after;
    c->nafter = b->nafter;
    c->n = b->n;
    for (i = 0; i < b->n; i++) {
        ops[i].kind = AGORA_STORE_TXN_PUT;
        ops[i].key = b->ops[i].key;
        ops[i].value = b->ops[i].value;
        ops[i].len = b->ops[i].len;
        ops[i].version = AGORA_STORE_ANY;
        c->cbs[i].cb = b->ops[i].cb;
        c->cbs[i].arg = b->ops[i].arg;
    }
    agora_pending_add(&m->pend, &c->pend, txn_free);
    rc = m->api->store_txn(m->h, ops, b->n, txn_done, c);
    if (rc != 0) {
        agora_pending_del(&c->pend);
        free(c); /* b->after stays the batch's: ops_fail() runs it */
    }
    return rc;
}

void mar_store_flush(struct mar *m)
{
    struct mar_wbatch *b = &m->wb;
    int rc;

    if (b->timer) {
        m->api->timer_stop(m->h, b->timer);
        b->timer = NULL;
    }
    if (b->n == 0)
        return;
    rc = b->n == 1 && b->nafter == 0 ? send_one(m, &b->ops[0])
                                      : send_txn(m, b);
    if (rc != 0) {
        MAR_LOG(m, AGORA_LOG_ERROR, "cannot write %zu keys (%s first): %s",
                b->n, b->ops[0].key, m->api->strerror(rc));
        ops_fail(b, rc); /* completes now, failed: contexts are freed */
    } else if (b->n > 1) {
        m->store_txns++;
    }
    ops_clear(b);
}

static void flush_timer(void *arg, struct agora_timer *t)
{
    struct mar *m = arg;

    (void)t;
    m->wb.timer = NULL; /* a one-shot timer is gone once it ran */
    mar_store_flush(m);
}

/* The last eight bytes of a key of n bytes (fewer, zero-padded), as one
 * word. Keys of a batch share long prefixes and differ at their end (an
 * instance's UUID): this word and the length tell nearly every pair
 * apart before a compare of the whole (a strcmp through the prefix for
 * each waiting key was 9 M instructions of a 10,000-task burst). */
static uint64_t key_tail(const char *key, size_t n)
{
    uint64_t t = 0;

    if (n >= 8)
        memcpy(&t, key + n - 8, 8);
    else
        memcpy(&t, key, n);
    return t;
}

/* Whether key (klen bytes, tail its key_tail()) waits already. */
static int waiting(const struct mar_wbatch *b, const char *key, size_t klen,
                   uint64_t tail)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        const struct mar_wop *op = &b->ops[i];

        if (op->tail == tail && op->klen == klen &&
            memcmp(op->key, key, klen) == 0)
            return 1;
    }
    return 0;
}

int mar_store_put(struct mar *m, const char *key, const void *value,
                  size_t len, agora_store_fn cb, void *arg)
{
    struct mar_wbatch *b = &m->wb;
    struct mar_wop *op;
    size_t klen = strlen(key);
    uint64_t tail = key_tail(key, klen);

    if (b->n == AGORA_STORE_TXN_MAX || waiting(b, key, klen, tail) ||
        b->bytes + klen + len > AGORA_STORE_VALUE_MAX)
        mar_store_flush(m);
    if (klen + len > AGORA_STORE_VALUE_MAX) /* alone: the store says no */
        return m->api->store_put(m->h, key, value, len, AGORA_STORE_ANY, cb,
                                 arg);
    op = &b->ops[b->n];
    op->key = malloc(klen + 1);
    op->value = malloc(len ? len : 1);
    if (op->key == NULL || op->value == NULL) {
        free(op->key);
        free(op->value);
        return AGORA_ENOMEM;
    }
    memcpy(op->key, key, klen + 1);
    op->klen = klen;
    op->tail = tail;
    memcpy(op->value, value, len);
    op->len = len;
    op->cb = cb;
    op->arg = arg;
    b->n++;
    b->bytes += klen + len;
    m->store_puts++;
    if (b->timer == NULL &&
        m->api->timer_start(m->h, 0, 0, flush_timer, m, &b->timer) != 0) {
        b->timer = NULL;
        mar_store_flush(m); /* no timer: sent now rather than late */
    }
    return 0;
}

/* The read a barrier waits for when no put waits. */
struct after_read {
    struct agora_pending pend;
    struct mar_after a;
};

static void after_read_free(struct agora_pending *p)
{
    free(p);
}

static void after_read_done(void *arg, int err,
                            const struct agora_store_result *r)
{
    struct after_read *ar = arg;
    struct mar_after a = ar->a;

    (void)r;
    agora_pending_del(&ar->pend);
    free(ar);
    /* The key is nobody's: not found is the answer expected. */
    a.fn(a.arg, err == AGORA_ENOENT ? 0 : err);
}

int mar_store_after(struct mar *m, mar_after_fn fn, void *arg)
{
    struct mar_wbatch *b = &m->wb;
    struct after_read *ar;
    int rc;

    if (b->n > 0) {
        if (b->nafter == b->after_cap) {
            size_t cap = b->after_cap ? b->after_cap * 2 : 8;
            struct mar_after *a = realloc(b->after, cap * sizeof(*a));

            if (a == NULL)
                return AGORA_ENOMEM;
            b->after = a;
            b->after_cap = cap;
        }
        b->after[b->nafter].fn = fn;
        b->after[b->nafter++].arg = arg;
        return 0;
    }
    if ((ar = malloc(sizeof(*ar))) == NULL)
        return AGORA_ENOMEM;
    ar->a.fn = fn;
    ar->a.arg = arg;
    agora_pending_add(&m->pend, &ar->pend, after_read_free);
    rc = m->api->store_get(m->h, "marathon-barrier", after_read_done, ar);
    if (rc != 0) {
        agora_pending_del(&ar->pend);
        free(ar);
    }
    return rc;
}

void mar_store_fini(struct mar *m)
{
    /* Sent, not dropped: the host still makes the writes of a plugin
     * being unloaded (their callbacks are cancelled), and a POST that
     * was answered must not lose its app. */
    mar_store_flush(m);
}
