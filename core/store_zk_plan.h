/*
 * store_zk_plan.h - a batch of the ZooKeeper store's writes, and its
 * plan: the znodes it touches, what is known of them, and the multi that
 * applies its writes (store_zk_plan.c). Shared by store_zk_batch.c (the
 * batch's life: queue, scan, send, answers) and store_zk_plan.c. Loop
 * thread only; not for anyone else.
 */
#ifndef AGORA_STORE_ZK_PLAN_H
#define AGORA_STORE_ZK_PLAN_H

#include "store_zk_int.h"

/* A znode of the batch: as known before (s_*: scanned, or from the
 * cache), then as the multi leaves it. */
struct tnode {
    char *path;
    int parent; /* index, -1 above the batch's nodes */
    int fresh;  /* must be scanned: a write of it wants no cached answer */
    int cached; /* known from the cache, not scanned */
    int s_exists, s_nchildren, s_version, s_complete;
    int exists, nchildren;
    int version; /* ZooKeeper's, -1 when missing */
    int created; /* by the multi */
};

/* What an op of the multi is to its write. */
enum role {
    R_PARENT,   /* a key's znode or an ancestor: create or prune */
    R_CREATE_V, /* the value's .v, created */
    R_SET_V,    /* the .v, set: its new version is in the reply */
    R_DELETE_V, /* the .v, deleted */
    R_CHECK_V   /* the .v, its version checked */
};

enum prim { P_CREATE, P_DELETE, P_SET, P_CHECK };

/* One op of the multi being built; paths and values are borrowed. */
struct mop {
    enum prim prim;
    const char *path;
    const char *value;
    int len;
    int version;
    int writer, sub;
    enum role role;
};

enum phase { PH_SCAN, PH_MULTI, PH_PARENTS, PH_DEAD };

struct zbatch {
    struct zop **w; /* writes in order; NULL once out of the batch */
    size_t nw;
    struct tnode *tn; /* sorted by path */
    int ntn;
    enum phase phase;
    ev_tstamp deadline; /* see zbatch_expire() */
    int outstanding;    /* requests not answered yet */
    int scan_rc;
    /* The multi being built, then sent (fence excluded). */
    struct mop *m;
    int nm, mcap;
    size_t size;
    struct zbatch *next_dead; /* given up, answers still due */
};

/* The batch's view: each prefix of each of its writes' value paths,
 * sorted and unique, parents linked. 0 or AGORA_ENOMEM. */
int zplan_nodes(struct zbatch *bt);
void zplan_nodes_free(struct zbatch *bt);
/* 1, with t filled, when the cache knows t (and t is not to be scanned
 * fresh); 0 when it must be scanned. */
int zplan_known(struct zstore *b, struct tnode *t);
/* Keeps what a scan read of t in the cache. */
void zplan_learn(struct zstore *b, const struct tnode *t);
/* The multi planned is applied: what it left goes to the cache. */
void zplan_commit(struct zstore *b, const struct zbatch *bt);

/* Whether zo's writes need the view (a put at a version does not). */
int zplan_needs_scan(const struct zop *zo);
/* An upper bound of the bytes zo adds to a multi. */
size_t zplan_estimate(const struct zop *zo);

/* zplan_predict(): the cache, not a scan, says the write fails. */
#define PREDICT_RESCAN 1
/* 0, the answer of a write the view shows must fail (op->failed set for
 * a transaction), or PREDICT_RESCAN. */
int zplan_predict(const struct zbatch *bt, struct zop *zo);
/* Adds write k's ops to bt->m, on the simulated view, and notes its
 * versions after them; 0 or AGORA_ENOMEM. */
int zplan_write(struct zbatch *bt, size_t k);
/* The answer of a write whose own op o failed the multi with zrc, or 1
 * when it lost a race with another writer. */
int zplan_verdict(const struct zop *zo, const struct mop *o, int zrc);

#endif /* AGORA_STORE_ZK_PLAN_H */
