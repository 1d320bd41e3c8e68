/*
 * store_zk_order.h - which ops of the ZooKeeper store may run: an op
 * waits for every earlier unfinished op it conflicts with (same
 * namespace, one key a prefix of the other or equal - "" is everyone's
 * prefix - and one of the two a write), and only for those. An op on
 * several keys (a transaction) conflicts as one on each of them would.
 *
 * Multi-granularity locking, in call order: an op on "ns/a/b" asks at
 * each node of its path ("ns", "ns/a", "ns/a/b") for a mode - S (read)
 * or X (write) at its own key, IS or IX at each ancestor - and two modes
 * at one node conflict as two such ops do (IS-X, IX-S, IX-X, S-X, X-any).
 * Each node keeps, a mode, its requests in call order; a request is
 * granted once no earlier request of a mode in conflict with it is left
 * at the node. So an op costs O(depth) to add and to finish, plus each
 * grant once: no walk over the queued ops (the scan it replaces was
 * O(n) an op and O(n^2) a completion).
 *
 * Loop thread only; no callback runs inside order_add() or order_done().
 */
#ifndef AGORA_STORE_ZK_ORDER_H
#define AGORA_STORE_ZK_ORDER_H

#include "map.h"

struct order_ent;

struct order {
    struct map nodes;       /* path -> struct order_node, while requested */
    unsigned long long seq; /* of the last op added */
    /* Ops whose every request is granted, oldest first; order_next()
     * takes them. */
    struct order_ent *ready_head, *ready_tail;
};

/* The map borrows its keys: each node's path. */
#define ORDER_INIT                                                             \
    {                                                                          \
        {NULL, 0, 0, 0, 1}, 0, NULL, NULL                                      \
    }

/*
 * Adds an op (owner, borrowed) on ns/key ("" = the namespace) that reads
 * or writes; *out is its place, for order_done(). 0 or AGORA_ENOMEM
 * (nothing added then).
 */
int order_add(struct order *o, const char *ns, const char *key, int write,
              void *owner, struct order_ent **out);

/*
 * The same for an op on several keys of ns at once (a transaction's, on
 * distinct keys, none ""): it asks S or X at each key and IS or IX
 * above them, so it waits for, and holds back, the ops that conflict
 * with any of its keys, and only those. keys are borrowed for the call.
 */
int order_add_keys(struct order *o, const char *ns, const char *const *keys,
                   size_t nkeys, int write, void *owner,
                   struct order_ent **out);

/* The owner of the oldest op that may run now and was not taken yet, or
 * NULL; takes it. */
void *order_next(struct order *o);

/* The op of e finished (or will never run): later ops it held back may
 * become ready. Frees e. */
void order_done(struct order *o, struct order_ent *e);

/* Frees what is left (every op still added is dropped). */
void order_free(struct order *o);

#endif /* AGORA_STORE_ZK_ORDER_H */
