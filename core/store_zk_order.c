/*
 * store_zk_order.c - the ZooKeeper store's conflict index (see
 * store_zk_order.h for what it promises).
 *
 * Why a request is granted: requests of one mode at one node are granted
 * in call order (a later one conflicts with whatever the earlier one
 * does), so each mode's list is a granted prefix then a waiting suffix,
 * and `wait` points at the first waiting one. Whether a request may go
 * depends only on the oldest unfinished request of each mode in conflict
 * with it (the heads of those lists): it goes once each is newer than it
 * or gone. A head changes only when the head itself finishes; then, and
 * only then, the waiting requests of the modes in conflict with it are
 * looked at again, from their first waiting one on.
 */
#include "store_zk_order.h"

#include <stdlib.h>
#include <string.h>

#include <agora/sdk.h>

enum { M_IS, M_IX, M_S, M_X, NMODES };

/* conflicts[a] has bit b when modes a and b conflict. */
static const unsigned char conflicts[NMODES] = {
    [M_IS] = 1u << M_X,
    [M_IX] = 1u << M_S | 1u << M_X,
    [M_S] = 1u << M_IX | 1u << M_X,
    [M_X] = 1u << M_IS | 1u << M_IX | 1u << M_S | 1u << M_X,
};

struct order_req;

struct order_node {
    char *path; /* the map's key, borrowed by it */
    struct order_req *head[NMODES], *tail[NMODES], *wait[NMODES];
    int nreq;
};

struct order_req {
    struct order_node *node;
    struct order_ent *ent;
    int mode;
    int granted;
    struct order_req *prev, *next; /* in the node's list of its mode */
};

struct order_ent {
    void *owner;
    unsigned long long seq;
    int nreq;
    int waiting; /* requests not granted yet */
    int queued;  /* on the ready list */
    struct order_ent *next_ready;
    struct order_req req[]; /* root first */
};

static void ready_push(struct order *o, struct order_ent *e)
{
    e->queued = 1;
    e->next_ready = NULL;
    if (o->ready_tail != NULL)
        o->ready_tail->next_ready = e;
    else
        o->ready_head = e;
    o->ready_tail = e;
}

void *order_next(struct order *o)
{
    struct order_ent *e = o->ready_head;

    if (e == NULL)
        return NULL;
    o->ready_head = e->next_ready;
    if (o->ready_head == NULL)
        o->ready_tail = NULL;
    e->queued = 0;
    return e->owner;
}

/* Whether no older request of a mode in conflict with r's is left. */
static int grantable(const struct order_req *r)
{
    int m;

    for (m = 0; m < NMODES; m++)
        if ((conflicts[r->mode] & (1u << m)) && r->node->head[m] != NULL &&
            r->node->head[m]->ent->seq < r->ent->seq)
            return 0;
    return 1;
}

static void grant(struct order *o, struct order_req *r)
{
    r->granted = 1;
    if (--r->ent->waiting == 0)
        ready_push(o, r->ent);
}

/* The node of path[0..len), made when missing; NULL when out of memory. */
static struct order_node *node_get(struct order *o, const char *path,
                                   size_t len)
{
    struct order_node *n;
    char *p = strndup(path, len);

    if (p == NULL)
        return NULL;
    n = map_get(&o->nodes, p);
    if (n != NULL) {
        free(p);
        return n;
    }
    n = calloc(1, sizeof(*n));
    if (n == NULL || map_put(&o->nodes, p, n, NULL) != 0) {
        free(n);
        free(p);
        return NULL;
    }
    n->path = p;
    return n;
}

static void node_put(struct order *o, struct order_node *n)
{
    if (n->nreq > 0)
        return;
    map_remove(&o->nodes, n->path);
    free(n->path);
    free(n);
}

/* Appends r to its node; granted at once when nothing there holds it. */
static void req_link(struct order_req *r)
{
    struct order_node *n = r->node;

    r->prev = n->tail[r->mode];
    r->next = NULL;
    if (n->tail[r->mode] != NULL)
        n->tail[r->mode]->next = r;
    else
        n->head[r->mode] = r;
    n->tail[r->mode] = r;
    n->nreq++;
    if (n->wait[r->mode] == NULL && grantable(r)) {
        r->granted = 1;
        r->ent->waiting--;
    } else if (n->wait[r->mode] == NULL) {
        n->wait[r->mode] = r;
    }
}

/* Grants, in order, the waiting requests of mode m that nothing holds
 * now. */
static void wake_mode(struct order *o, struct order_node *n, int m)
{
    struct order_req *r;

    while ((r = n->wait[m]) != NULL && grantable(r)) {
        n->wait[m] = r->next;
        grant(o, r);
    }
}

static void req_unlink(struct order *o, struct order_req *r)
{
    struct order_node *n = r->node;
    int was_head = n->head[r->mode] == r, m;

    if (n->wait[r->mode] == r)
        n->wait[r->mode] = r->next;
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        n->head[r->mode] = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    else
        n->tail[r->mode] = r->prev;
    n->nreq--;
    if (was_head)
        for (m = 0; m < NMODES; m++)
            if (conflicts[r->mode] & (1u << m))
                wake_mode(o, n, m);
    node_put(o, n);
}

/* A node an op asks for: path[0..len), at one of its keys (S or X) or
 * above them (IS or IX). */
struct want {
    const char *path;
    size_t len;
    int key;
};

/* Parents first: a path sorts before the paths it is a prefix of. */
static int want_cmp(const void *a, const void *b)
{
    const struct want *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->path, y->path, n);

    if (c != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Appends the nodes of path "ns[/key]" (the namespace, each prefix of
 * the key at a '/', the key) to w at *n, root first. */
static void wants_of(const char *path, size_t nslen, size_t klen,
                     struct want *w, int *n)
{
    size_t i, end = nslen + 1 + klen;

    w[*n].path = path;
    w[*n].len = nslen;
    w[(*n)++].key = klen == 0;
    for (i = nslen + 1; klen > 0 && i <= end; i++) {
        if (i < end && path[i] != '/')
            continue;
        w[*n].path = path;
        w[*n].len = i;
        w[(*n)++].key = i == end;
    }
}

/* Sorts w[0..n) and merges its duplicates (a node is a key of the op if
 * any of them says so: S covers IS, X covers IX); the count left. */
static int wants_merge(struct want *w, int n)
{
    int i, m = 0;

    qsort(w, (size_t)n, sizeof(*w), want_cmp);
    for (i = 0; i < n; i++) {
        if (m > 0 && want_cmp(&w[m - 1], &w[i]) == 0)
            w[m - 1].key |= w[i].key;
        else
            w[m++] = w[i];
    }
    return m;
}

/* The entry of the requests w[0..n) (root first), added. 0 or
 * AGORA_ENOMEM (nothing added then). */
static int ent_add(struct order *o, const struct want *w, int n, int write,
                   void *owner, struct order_ent **out)
{
    struct order_ent *e = calloc(1, sizeof(*e) + (size_t)n * sizeof(e->req[0]));
    int k;

    if (e == NULL)
        return AGORA_ENOMEM;
    e->owner = owner;
    e->seq = ++o->seq;
    /* Nodes first: out of memory leaves no request behind. */
    for (k = 0; k < n; k++) {
        e->req[k].node = node_get(o, w[k].path, w[k].len);
        if (e->req[k].node == NULL)
            break;
        e->req[k].node->nreq++; /* held while we build */
    }
    if (k < n) {
        while (k-- > 0) {
            e->req[k].node->nreq--;
            node_put(o, e->req[k].node);
        }
        free(e);
        return AGORA_ENOMEM;
    }
    e->nreq = e->waiting = n;
    for (k = 0; k < n; k++) {
        e->req[k].ent = e;
        e->req[k].mode = w[k].key ? (write ? M_X : M_S) : (write ? M_IX : M_IS);
        e->req[k].node->nreq--;
        req_link(&e->req[k]);
    }
    if (e->waiting == 0)
        ready_push(o, e);
    *out = e;
    return 0;
}

int order_add(struct order *o, const char *ns, const char *key, int write,
              void *owner, struct order_ent **out)
{
    return order_add_keys(o, ns, &key, 1, write, owner, out);
}

int order_add_keys(struct order *o, const char *ns, const char *const *keys,
                   size_t nkeys, int write, void *owner, struct order_ent **out)
{
    size_t nslen = strlen(ns), bytes = 0, i, j, klen;
    struct want *w;
    char *path;
    int n = 0, rc;

    for (i = 0; i < nkeys; i++) {
        klen = strlen(keys[i]);
        bytes += nslen + klen + 2;
        n += 2;
        for (j = 0; j < klen; j++)
            n += keys[i][j] == '/';
    }
    /* The wants, then the paths they point into: one allocation. */
    w = malloc((size_t)n * sizeof(*w) + bytes);
    if (w == NULL)
        return AGORA_ENOMEM;
    path = (char *)(w + n);
    for (i = 0, n = 0; i < nkeys; i++) {
        klen = strlen(keys[i]);
        memcpy(path, ns, nslen);
        path[nslen] = '/';
        memcpy(path + nslen + 1, keys[i], klen + 1);
        wants_of(path, nslen, klen, w, &n);
        path += nslen + klen + 2;
    }
    if (nkeys > 1)
        n = wants_merge(w, n);
    rc = ent_add(o, w, n, write, owner, out);
    free(w);
    return rc;
}

void order_done(struct order *o, struct order_ent *e)
{
    struct order_ent **p;
    int k;

    if (e->queued) { /* finished before it was taken (close) */
        struct order_ent *prev = NULL;

        for (p = &o->ready_head; *p != e; p = &(*p)->next_ready)
            prev = *p;
        *p = e->next_ready;
        if (o->ready_tail == e)
            o->ready_tail = prev;
    }
    /* Deepest first: a node's requests go before its parent's. */
    for (k = e->nreq - 1; k >= 0; k--)
        req_unlink(o, &e->req[k]);
    free(e);
}

void order_free(struct order *o)
{
    size_t pos = 0;
    const char *key;
    void *v;

    while (map_next(&o->nodes, &pos, &key, &v)) {
        struct order_node *n = v;

        map_remove(&o->nodes, key);
        free(n->path);
        free(n);
    }
    map_free(&o->nodes);
    o->ready_head = o->ready_tail = NULL;
}
