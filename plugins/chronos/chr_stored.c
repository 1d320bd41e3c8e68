/*
 * chr_stored.c - the plugin's store writes, and answers that wait for
 * them.
 *
 * Chronos persists a change before it answers: a client told 204 must
 * find its job after the master dies. So a route that changes state
 * takes a mark (chr_stored_mark()) before its first write and answers
 * through chr_reply_stored(), which holds the answer until every write
 * made since the mark has completed, and answers 503 instead if any of
 * them failed (ENOENT, a delete of what was not there, is no failure).
 *
 * Every write goes through chr_store_put()/chr_store_delete(), which
 * number it. The host completes store calls in the order they were made
 * (plugin.h), so the completion of write n says that writes 1..n are
 * done: an answer waits for the number of the last write before it, and
 * the answers wait in that order. A request's writes are the numbers
 * between its mark and its answer: a handler runs in one call, so these
 * windows do not overlap, and a failed write counts against the one
 * window that holds it (a write made by a timer between two requests
 * holds no answer back with its error, though it is waited for).
 *
 * Memory is left as it is when a write fails, as marathon.so does: the
 * client was told 503, the job's next save writes it again, and a
 * restart reads what the store has. An unload (reload, or this master
 * deposed) frees the waiting answers with the plugin's pending
 * contexts, and the host answers their requests 503.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chronos.h"

struct chr_write {
    struct agora_pending pend;
    struct chr *c;
    uint64_t seq;
    agora_store_fn cb;
    void *arg;
};

struct chr_held {
    struct agora_pending pend;
    struct chr_held *next;
    struct chr *c;
    struct agora_req *r;
    uint64_t since, upto; /* the writes of its window: (since, upto]   */
    int err;              /* the first failure among them              */
    int status;
    const char *ctype;
    size_t len;
    char body[]; /* NUL-terminated */
};

static void pending_free(struct agora_pending *p)
{
    free(p);
}

static void held_send(struct chr_held *h)
{
    struct chr *c = h->c;
    char msg[160];

    if (h->err != 0) {
        snprintf(msg, sizeof(msg), "the change could not be stored: %s",
                 c->api->strerror(h->err));
        agora_reply_error(c->api, h->r, 503, msg);
    } else {
        c->api->reply(h->r, h->status, h->ctype, h->body, h->len);
    }
}

/* Write seq completed with err: it counts against the answer whose
 * window holds it, and every answer waiting for it or an earlier one
 * goes. */
static void held_settle(struct chr *c, uint64_t seq, int err)
{
    struct chr_stored *s = &c->stored;
    struct chr_held *h;

    for (h = s->held; err != 0 && h && h->since < seq; h = h->next) {
        if (seq <= h->upto && h->err == 0)
            h->err = err;
    }
    while ((h = s->held) != NULL && h->upto <= seq) {
        if ((s->held = h->next) == NULL)
            s->held_tail = &s->held;
        agora_pending_del(&h->pend);
        held_send(h);
        free(h);
    }
}

static void wrote(void *arg, int err, const struct agora_store_result *res)
{
    struct chr_write *w = arg;
    struct chr *c = w->c;
    agora_store_fn cb = w->cb;
    void *cb_arg = w->arg;
    uint64_t seq = w->seq;

    agora_pending_del(&w->pend);
    free(w);
    if (cb)
        cb(cb_arg, err, res);
    else if (err != 0 && err != AGORA_ENOENT)
        CHR_LOG(c, AGORA_LOG_WARN, "store write failed: %s",
                c->api->strerror(err));
    held_settle(c, seq, err == AGORA_ENOENT ? 0 : err);
}

void chr_store_refused(struct chr *c)
{
    c->stored.refused++;
}

/* The store refused a write at the call (or there was no memory to make
 * it): no completion will come. */
static int refused(struct chr *c, const char *key, int err)
{
    CHR_LOG(c, AGORA_LOG_ERROR, "cannot write %s: %s", key ? key : "a key",
            c->api->strerror(err));
    chr_store_refused(c);
    return err;
}

/* A numbered write's context, on the pending list; NULL when out of
 * memory. */
static struct chr_write *write_new(struct chr *c, agora_store_fn cb, void *arg)
{
    struct chr_write *w = malloc(sizeof(*w));

    if (w == NULL)
        return NULL;
    w->c = c;
    w->seq = c->stored.issued + 1;
    w->cb = cb;
    w->arg = arg;
    agora_pending_add(&c->pend, &w->pend, pending_free);
    return w;
}

/* The store call for key returned rc for w: numbered if it will
 * complete. */
static int write_sent(struct chr *c, const char *key, struct chr_write *w,
                      int rc)
{
    if (rc == 0) {
        c->stored.issued = w->seq;
        return 0;
    }
    agora_pending_del(&w->pend);
    free(w);
    return refused(c, key, rc);
}

int chr_store_put(struct chr *c, const char *key, const void *value, size_t len,
                  int64_t version, agora_store_fn cb, void *arg)
{
    struct chr_write *w = write_new(c, cb, arg);

    if (w == NULL)
        return refused(c, key, AGORA_ENOMEM);
    return write_sent(
        c, key, w, c->api->store_put(c->h, key, value, len, version, wrote, w));
}

int chr_store_delete(struct chr *c, const char *key, int64_t version,
                     agora_store_fn cb, void *arg)
{
    struct chr_write *w = write_new(c, cb, arg);

    if (w == NULL)
        return refused(c, key, AGORA_ENOMEM);
    return write_sent(c, key, w,
                      c->api->store_delete(c->h, key, version, wrote, w));
}

struct chr_mark chr_stored_mark(const struct chr *c)
{
    struct chr_mark m = {c->stored.issued, c->stored.refused};

    return m;
}

void chr_reply_stored(struct chr *c, struct agora_req *r, struct chr_mark since,
                      int status, const char *ctype, const char *body)
{
    size_t len = strlen(body);
    struct chr_held *h;
    int rc;

    /* The runs it started are written with this turn's launch record:
     * write it now, inside the window. */
    chr_launch_flush(c);
    if (c->stored.refused != since.refused) {
        agora_reply_error(c->api, r, 503, "the change could not be stored");
        return;
    }
    if (since.writes == c->stored.issued) {
        /* It wrote nothing: nothing to wait for. */
        c->api->reply(r, status, ctype, body, len);
        return;
    }
    h = malloc(sizeof(*h) + len + 1);
    if (h == NULL) {
        agora_reply_error(c->api, r, 503, "out of memory");
        return;
    }
    h->next = NULL;
    h->c = c;
    h->r = r;
    h->since = since.writes;
    h->upto = c->stored.issued;
    h->err = 0;
    h->status = status;
    h->ctype = ctype;
    h->len = len;
    memcpy(h->body, body, len + 1);
    rc = c->api->defer(r);
    if (rc != 0) {
        free(h);
        agora_reply_error(c->api, r, 503, "cannot wait for the store");
        return;
    }
    agora_pending_add(&c->pend, &h->pend, pending_free);
    *c->stored.held_tail = h;
    c->stored.held_tail = &h->next;
}
