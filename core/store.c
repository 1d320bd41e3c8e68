/*
 * store.c - the half of the store that every backend shares: argument
 * checks, the life of an op, and the queue that brings completions back
 * to the loop in call order.
 *
 * The life of an op:
 *   1. store_get/put/delete/list (loop thread) check the arguments, copy
 *      them into a new op, append it to the store's pending list and hand
 *      it to the backend (submit).
 *   2. The backend works on its own threads and calls store_complete(),
 *      which marks the op done under the store's mutex and wakes the loop
 *      with ev_async_send().
 *   3. The async watcher delivers, from the head of the pending list,
 *      every op that is done: it runs the callback (unless cancelled) and
 *      frees the op.
 * Because delivery walks the pending list from its head, callbacks run in
 * call order even for a backend that finishes ops out of order, and a
 * callback never runs inside the store_* call that started its op, even
 * when the backend completes the op inside submit().
 */
#include "store.h"

#include <ev.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <agora/sdk.h>

#include "log.h"

/* A namespace is a directory name for the local backend and a znode name
 * for ZooKeeper: keep it far below both limits. */
#define STORE_NS_MAX 64

/*
 * An op as the store allocates it. The public part comes first, so that
 * the struct store_op * a backend hands back converts to its slot.
 */
struct op_slot {
    struct store_op op;
    int done; /* set by store_complete(), under store.mu */
};

struct store {
    struct ev_loop *loop; /* borrowed until store_close() */
    const struct store_backend *be;
    void *impl; /* the backend's; freed by be->close() */
    ev_async wake;
    pthread_mutex_t mu; /* guards op_slot.done of this store's ops */

    /* Started and not yet delivered, in call order: loop thread only. */
    struct store_op *head, *tail;

    struct store_stats stats;
    size_t children_max;       /* see store_set_children_max() */
    struct store_watch *watches; /* newest first; loop thread only */
    int firing;                /* inside fire_watches(): unwatch defers */
    /* Fencing (store_term_begin): terms are numbered from 1; term is
     * the last one begun, in_term whether it is still open. */
    int fenced;
    int in_term;
    uint64_t term;
    int loop_ref; /* 1 while wake keeps the loop running (ops pending) */
    int draining; /* inside on_wake(): store_close() must not free s */
    int closed;   /* store_close() ran; on_wake() frees s when it ends */
};

/* ------------------------------------------------------------------ */
/* Validation                                                          */
/* ------------------------------------------------------------------ */

int store_ns_valid(const char *ns)
{
    size_t i;

    if (ns == NULL || ns[0] == '\0')
        return AGORA_EINVAL;
    for (i = 0; ns[i] != '\0'; i++) {
        char c = ns[i];

        if (i >= STORE_NS_MAX)
            return AGORA_EINVAL;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return AGORA_EINVAL;
    }
    return 0;
}

static int key_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
           c == '@' || c == '-';
}

int store_key_valid(const char *key, int allow_empty)
{
    size_t i, seg_start = 0;

    if (key == NULL)
        return AGORA_EINVAL;
    if (key[0] == '\0')
        return allow_empty ? 0 : AGORA_EINVAL;
    if (strnlen(key, AGORA_STORE_KEY_MAX + 1) > AGORA_STORE_KEY_MAX)
        return AGORA_EINVAL;
    /* One pass: i == seg_start means "at the first byte of a segment". */
    for (i = 0;; i++) {
        char c = key[i];

        if (c == '/' || c == '\0') {
            if (i == seg_start)
                return AGORA_EINVAL; /* empty segment: "/a", "a//b", "a/" */
            if (i - seg_start > AGORA_STORE_SEGMENT_MAX)
                return AGORA_EINVAL; /* a file name, in the local backend */
            if (c == '\0')
                return 0;
            seg_start = i + 1;
            continue;
        }
        /* A leading '.' is refused so that "..", and the backends' own
         * names (.value, .tmp.*), can never be a segment. */
        if (i == seg_start && c == '.')
            return AGORA_EINVAL;
        if (!key_char_ok(c))
            return AGORA_EINVAL;
    }
}

/* The checks every call shares; 0 or the agora_err to return at once. */
static int check_call(const struct store *s, const char *ns, const char *key,
                      int allow_empty)
{
    if (s == NULL || s->closed)
        return AGORA_EINVAL;
    if (store_ns_valid(ns) != 0)
        return AGORA_EINVAL;
    return store_key_valid(key, allow_empty);
}

/* A put or delete expects AGORA_STORE_ANY, AGORA_STORE_NEW or a version. */
static int check_version(int64_t version)
{
    return version >= AGORA_STORE_ANY ? 0 : AGORA_EINVAL;
}

/* ------------------------------------------------------------------ */
/* Ops                                                                 */
/* ------------------------------------------------------------------ */

static struct op_slot *slot_of(struct store_op *op)
{
    /* op is the first member of its slot. */
    return (struct op_slot *)(void *)op;
}

/* Frees op and everything it owns: its copies of the arguments and the
 * results the backend allocated. */
static void op_free(struct store_op *op)
{
    size_t i;

    for (i = 0; i < op->nnames; i++)
        free(op->names[i]);
    free(op->names);
    for (i = 0; i < op->nentries; i++) {
        free(op->entries[i].name);
        free(op->entries[i].value);
    }
    free(op->entries);
    for (i = 0; i < op->ntxn; i++) {
        free(op->txn[i].key);
        free(op->txn[i].value);
    }
    free(op->txn);
    free(op->value);
    free(op->key);
    free(op->ns);
    free(slot_of(op));
}

/* A new op holding copies of ns and key; NULL when out of memory. */
static struct store_op *op_new(struct store *s, enum store_kind kind,
                               const char *ns, const char *key, store_cb cb,
                               void *arg)
{
    struct op_slot *slot = calloc(1, sizeof(*slot));
    struct store_op *op;

    if (slot == NULL)
        return NULL;
    op = &slot->op;
    op->kind = kind;
    op->ns = strdup(ns);
    op->key = strdup(key);
    if (op->ns == NULL || op->key == NULL) {
        op_free(op);
        return NULL;
    }
    op->cb = cb;
    op->arg = arg;
    op->store = s;
    return op;
}

/*
 * The loop runs while wake is active and referenced. The store holds that
 * reference only while ops are pending, so an idle store does not keep
 * ev_run() from returning, and a pending one does until its completions
 * have run.
 */
static void update_loop_ref(struct store *s)
{
    int want = s->stats.pending > 0 && !s->closed;

    if (want && !s->loop_ref)
        ev_ref(s->loop);
    else if (!want && s->loop_ref)
        ev_unref(s->loop);
    s->loop_ref = want;
}

/* A write called while no term is open: never given to the backend. */
#define TERM_NONE UINT64_MAX

static int is_write(enum store_kind kind)
{
    return kind == STORE_PUT || kind == STORE_DELETE || kind == STORE_TXN;
}

/* The term a write called now belongs to (see store.h). */
static uint64_t call_term(const struct store *s)
{
    if (!s->fenced)
        return 0;
    return s->in_term ? s->term : TERM_NONE;
}

/* Appends op to the pending list and hands it to the backend, or, for a
 * write called outside a term, completes it (later, on the loop). */
static int op_start(struct store *s, struct store_op *op,
                    struct store_op **handle)
{
    if (is_write(op->kind))
        op->term = call_term(s);
    if (s->tail != NULL)
        s->tail->next = op;
    else
        s->head = op;
    s->tail = op;
    s->stats.pending++;
    update_loop_ref(s);
    if (handle != NULL)
        *handle = op;
    if (op->term == TERM_NONE) {
        /* Rare: only a plugin's on_leader(0) or fini writes then. */
        log_info("store",
                 "refused a write of %s/%s: this master's term "
                 "ended (AGORA_ENOTLEADER)",
                 op->ns, op->kind == STORE_TXN ? "(transaction)" : op->key);
        op->err = AGORA_ENOTLEADER;
        store_complete(op);
        return 0;
    }
    /* Last: the backend may complete op before submit() returns; the
     * callback still waits for the loop. */
    s->be->submit(s->impl, op);
    return 0;
}

int store_term_begin(struct store *s, const char *fence)
{
    int rc;

    s->fenced = 1;
    s->in_term = 0;
    s->term++;
    rc = s->be->term ? s->be->term(s->impl, s->term, fence) : 0;
    if (rc < 0) {
        log_error("store", "cannot begin term %llu: %s: writes fail",
                  (unsigned long long)s->term, agora_strerror(rc));
        s->be->term(s->impl, 0, NULL);
        return rc;
    }
    s->in_term = 1;
    log_info("store", "term %llu begins%s%s", (unsigned long long)s->term,
             fence ? ": writes check " : "", fence ? fence : "");
    return 0;
}

void store_term_end(struct store *s)
{
    if (!s->in_term)
        return;
    s->in_term = 0;
    if (s->be->term)
        s->be->term(s->impl, 0, NULL);
    log_info("store", "term %llu ended: its writes not yet applied fail",
             (unsigned long long)s->term);
}

/* Counts a call refused at once; returns err. */
static int refuse(struct store *s, int err)
{
    if (s != NULL)
        s->stats.errors++;
    return err;
}

int store_get(struct store *s, const char *ns, const char *key, store_cb cb,
              void *arg, struct store_op **op)
{
    struct store_op *o;
    int rc = check_call(s, ns, key, 0);

    if (rc != 0)
        return refuse(s, rc);
    o = op_new(s, STORE_GET, ns, key, cb, arg);
    if (o == NULL)
        return refuse(s, AGORA_ENOMEM);
    s->stats.gets++;
    return op_start(s, o, op);
}

int store_put(struct store *s, const char *ns, const char *key,
              const void *value, size_t len, int64_t version, store_cb cb,
              void *arg, struct store_op **op)
{
    struct store_op *o;
    int rc = check_call(s, ns, key, 0);

    if (rc == 0)
        rc = check_version(version);
    if (rc == 0 && value == NULL && len > 0)
        rc = AGORA_EINVAL;
    if (rc == 0 && len > AGORA_STORE_VALUE_MAX) {
        log_warn("store", "refused to store %s/%s: %zu bytes, over the "
                          "limit of %u for a value",
                 ns, key, len, (unsigned)AGORA_STORE_VALUE_MAX);
        rc = AGORA_ETOOBIG;
    }
    if (rc != 0)
        return refuse(s, rc);
    o = op_new(s, STORE_PUT, ns, key, cb, arg);
    if (o == NULL)
        return refuse(s, AGORA_ENOMEM);
    /* malloc(0) may return NULL: always allocate at least one byte. */
    o->value = malloc(len > 0 ? len : 1);
    if (o->value == NULL) {
        op_free(o);
        return refuse(s, AGORA_ENOMEM);
    }
    if (len > 0)
        memcpy(o->value, value, len);
    o->len = len;
    o->version = version;
    s->stats.puts++;
    return op_start(s, o, op);
}

int store_delete(struct store *s, const char *ns, const char *key,
                 int64_t version, store_cb cb, void *arg,
                 struct store_op **op)
{
    struct store_op *o;
    int rc = check_call(s, ns, key, 0);

    if (rc == 0)
        rc = check_version(version);
    if (rc != 0)
        return refuse(s, rc);
    o = op_new(s, STORE_DELETE, ns, key, cb, arg);
    if (o == NULL)
        return refuse(s, AGORA_ENOMEM);
    o->version = version;
    s->stats.deletes++;
    return op_start(s, o, op);
}

int store_list(struct store *s, const char *ns, const char *key, store_cb cb,
               void *arg, struct store_op **op)
{
    struct store_op *o;
    int rc = check_call(s, ns, key, 1);

    if (rc != 0)
        return refuse(s, rc);
    o = op_new(s, STORE_LIST, ns, key, cb, arg);
    if (o == NULL)
        return refuse(s, AGORA_ENOMEM);
    s->stats.lists++;
    return op_start(s, o, op);
}

int store_get_children(struct store *s, const char *ns, const char *key,
                       store_cb cb, void *arg, struct store_op **op)
{
    struct store_op *o;
    int rc = check_call(s, ns, key, 1);

    if (rc != 0)
        return refuse(s, rc);
    o = op_new(s, STORE_CHILDREN, ns, key, cb, arg);
    if (o == NULL)
        return refuse(s, AGORA_ENOMEM);
    o->limit = s->children_max;
    s->stats.children++;
    return op_start(s, o, op);
}

void store_set_children_max(struct store *s, size_t bytes)
{
    s->children_max = bytes;
}

/* Checks one op of a transaction; adds its bytes to *size, sets *klen
 * to its key's length. */
static int check_txn_op(const struct agora_store_txn_op *t, size_t *size,
                        size_t *klen)
{
    if (store_key_valid(t->key, 0) != 0 || check_version(t->version) != 0)
        return AGORA_EINVAL;
    switch (t->kind) {
    case AGORA_STORE_TXN_PUT:
        if (t->value == NULL && t->len > 0)
            return AGORA_EINVAL;
        if (t->len > AGORA_STORE_VALUE_MAX)
            return AGORA_ETOOBIG;
        *size += t->len;
        break;
    case AGORA_STORE_TXN_DELETE:
    case AGORA_STORE_TXN_CHECK:
        break;
    default:
        return AGORA_EINVAL;
    }
    *klen = strlen(t->key);
    *size += *klen;
    return 0;
}

/* The last eight bytes of a key of n bytes (fewer, zero-padded, for a
 * shorter one), as one word: keys of a batch share long prefixes and
 * differ at their end (a plugin's instance ids), so this word and the
 * length tell nearly every pair apart without a compare of the whole. */
static uint64_t key_tail(const char *key, size_t n)
{
    uint64_t t = 0;

    if (n >= 8)
        memcpy(&t, key + n - 8, 8);
    else
        memcpy(&t, key, n);
    return t;
}

/* 0 when ops are valid, on distinct keys, and within the limits. */
static int check_txn(const struct agora_store_txn_op *ops, size_t n)
{
    size_t i, j, size = 0, klen[AGORA_STORE_TXN_MAX];
    uint64_t tail[AGORA_STORE_TXN_MAX];
    int rc;

    if (n == 0 || ops == NULL)
        return AGORA_EINVAL;
    if (n > AGORA_STORE_TXN_MAX)
        return AGORA_ETOOBIG;
    for (i = 0; i < n; i++) {
        rc = check_txn_op(&ops[i], &size, &klen[i]);
        if (rc != 0)
            return rc;
        tail[i] = key_tail(ops[i].key, klen[i]);
        /* n is at most AGORA_STORE_TXN_MAX: quadratic is fine. */
        for (j = 0; j < i; j++)
            if (klen[j] == klen[i] && tail[j] == tail[i] &&
                memcmp(ops[j].key, ops[i].key, klen[i]) == 0)
                return AGORA_EINVAL;
    }
    return size > AGORA_STORE_VALUE_MAX ? AGORA_ETOOBIG : 0;
}

/* Copies ops into o->txn; AGORA_ENOMEM or 0. */
static int copy_txn(struct store_op *o, const struct agora_store_txn_op *ops,
                    size_t n)
{
    size_t i;

    o->txn = calloc(n, sizeof(*o->txn));
    if (o->txn == NULL)
        return AGORA_ENOMEM;
    o->ntxn = n;
    for (i = 0; i < n; i++) {
        struct store_txn_op *t = &o->txn[i];

        t->kind = ops[i].kind;
        t->version = ops[i].version;
        t->key = strdup(ops[i].key);
        if (t->key == NULL)
            return AGORA_ENOMEM;
        if (t->kind != AGORA_STORE_TXN_PUT)
            continue;
        t->value = malloc(ops[i].len > 0 ? ops[i].len : 1);
        if (t->value == NULL)
            return AGORA_ENOMEM;
        if (ops[i].len > 0)
            memcpy(t->value, ops[i].value, ops[i].len);
        t->len = ops[i].len;
    }
    return 0;
}

int store_txn(struct store *s, const char *ns,
              const struct agora_store_txn_op *ops, size_t n, store_cb cb,
              void *arg, struct store_op **op)
{
    struct store_op *o;
    int rc = check_call(s, ns, "", 1);

    if (rc == 0)
        rc = check_txn(ops, n);
    if (rc != 0)
        return refuse(s, rc);
    o = op_new(s, STORE_TXN, ns, "", cb, arg);
    if (o == NULL)
        return refuse(s, AGORA_ENOMEM);
    if (copy_txn(o, ops, n) != 0) {
        op_free(o);
        return refuse(s, AGORA_ENOMEM);
    }
    s->stats.txns++;
    return op_start(s, o, op);
}

void store_cancel(struct store_op *op)
{
    if (op != NULL)
        op->canceled = 1;
}

/* ------------------------------------------------------------------ */
/* Completion                                                          */
/* ------------------------------------------------------------------ */

void store_complete(struct store_op *op)
{
    struct store *s = op->store;

    /* After the unlock the loop may free op: read nothing of it later.
     * s lives until the backend's close() has returned, which waits for
     * this call. */
    pthread_mutex_lock(&s->mu);
    slot_of(op)->done = 1;
    pthread_mutex_unlock(&s->mu);
    ev_async_send(s->loop, &s->wake);
}

/* Whether the backend has completed op; loop thread. */
static int op_done(struct store *s, struct store_op *op)
{
    int done;

    pthread_mutex_lock(&s->mu);
    done = slot_of(op)->done;
    pthread_mutex_unlock(&s->mu);
    return done;
}

/* ------------------------------------------------------------------ */
/* Watches                                                             */
/* ------------------------------------------------------------------ */

struct store_watch {
    char *ns;
    char *prefix;
    store_watch_cb cb; /* NULL once unwatched inside fire_watches() */
    void *arg;
    struct store_watch *next;
};

static void watch_free(struct store_watch *w)
{
    free(w->prefix);
    free(w->ns);
    free(w);
}

int store_watch(struct store *s, const char *ns, const char *prefix,
                store_watch_cb cb, void *arg, struct store_watch **out)
{
    struct store_watch *w;

    if (cb == NULL || out == NULL || check_call(s, ns, prefix, 1) != 0)
        return AGORA_EINVAL;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return AGORA_ENOMEM;
    w->ns = strdup(ns);
    w->prefix = strdup(prefix);
    if (w->ns == NULL || w->prefix == NULL) {
        watch_free(w);
        return AGORA_ENOMEM;
    }
    w->cb = cb;
    w->arg = arg;
    w->next = s->watches;
    s->watches = w;
    *out = w;
    return 0;
}

/* Frees the watches unwatched while they fired. */
static void sweep_watches(struct store *s)
{
    struct store_watch **pp = &s->watches, *w;

    while ((w = *pp) != NULL) {
        if (w->cb == NULL) {
            *pp = w->next;
            watch_free(w);
        } else {
            pp = &w->next;
        }
    }
}

void store_unwatch(struct store *s, struct store_watch *w)
{
    if (s == NULL || w == NULL)
        return;
    w->cb = NULL;
    if (!s->firing)
        sweep_watches(s);
}

/* Whether key is prefix or below it ("" is everyone's prefix). */
static int under(const char *prefix, const char *key)
{
    size_t n = strlen(prefix);

    return n == 0 ||
           (strncmp(prefix, key, n) == 0 && (key[n] == '\0' || key[n] == '/'));
}

/* Runs the watches of ns that cover key. A watch made by a callback
 * here waits for the next write: the walk starts from the list as it
 * was. */
static void fire_watches(struct store *s, const char *ns, const char *key,
                         enum agora_store_event ev, int64_t version)
{
    struct store_watch *w, *first = s->watches;
    int outer = s->firing;

    s->firing = 1;
    for (w = first; w != NULL; w = w->next) {
        if (w->cb != NULL && strcmp(w->ns, ns) == 0 && under(w->prefix, key))
            w->cb(w->arg, ev, key, version);
        if (s->closed)
            break; /* the watches live on until store_free() */
    }
    s->firing = outer;
    if (!outer && !s->closed)
        sweep_watches(s);
}

/* The event of a put that gave a key version v. */
static enum agora_store_event put_event(int64_t v)
{
    return v == 1 ? AGORA_STORE_CREATED : AGORA_STORE_CHANGED;
}

/* After op's completion: the watches of what it wrote. */
static void notify(struct store *s, const struct store_op *op)
{
    size_t i;

    if (op->err != 0 || s->watches == NULL)
        return;
    if (op->kind == STORE_PUT)
        fire_watches(s, op->ns, op->key, put_event(op->version), op->version);
    else if (op->kind == STORE_DELETE)
        fire_watches(s, op->ns, op->key, AGORA_STORE_DELETED, 0);
    if (op->kind != STORE_TXN)
        return;
    for (i = 0; i < op->ntxn && !s->closed; i++) {
        const struct store_txn_op *t = &op->txn[i];

        if (t->kind == AGORA_STORE_TXN_PUT)
            fire_watches(s, op->ns, t->key, put_event(t->version),
                         t->version);
        else if (t->kind == AGORA_STORE_TXN_DELETE)
            fire_watches(s, op->ns, t->key, AGORA_STORE_DELETED, 0);
    }
}

/* ------------------------------------------------------------------ */
/* Delivery                                                            */
/* ------------------------------------------------------------------ */

/* Fills r->entries (a malloc'd array, in *entries) from op's children.
 * 0 or AGORA_ENOMEM. */
static int result_entries(const struct store_op *op, store_result *r,
                          struct agora_store_entry **entries)
{
    size_t i;

    *entries = NULL;
    if (op->nentries == 0)
        return 0;
    *entries = calloc(op->nentries, sizeof(**entries));
    if (*entries == NULL)
        return AGORA_ENOMEM;
    for (i = 0; i < op->nentries; i++) {
        (*entries)[i].name = op->entries[i].name;
        (*entries)[i].value = op->entries[i].value;
        (*entries)[i].len = op->entries[i].len;
        (*entries)[i].version = op->entries[i].version;
    }
    r->entries = *entries;
    r->nentries = op->nentries;
    return 0;
}

/* Fills r->versions (a malloc'd array, in *versions) from op's txn. */
static int result_versions(const struct store_op *op, store_result *r,
                           int64_t **versions)
{
    size_t i;

    *versions = calloc(op->ntxn, sizeof(**versions));
    if (*versions == NULL)
        return AGORA_ENOMEM;
    for (i = 0; i < op->ntxn; i++)
        (*versions)[i] = op->txn[i].version;
    r->versions = *versions;
    r->nversions = op->ntxn;
    return 0;
}

/* Fills r with what op hands out: only on success (and the failed index
 * of a txn's AGORA_EVERSION). May change *err to AGORA_ENOMEM; the
 * arrays it allocates are in *entries and *versions. */
static void fill_result(const struct store_op *op, store_result *r, int *err,
                        struct agora_store_entry **entries,
                        int64_t **versions)
{
    memset(r, 0, sizeof(*r));
    *entries = NULL;
    *versions = NULL;
    if (op->err == AGORA_EVERSION && op->kind == STORE_TXN)
        r->failed = op->failed;
    if (op->err != 0)
        return;
    if (op->kind == STORE_GET) {
        r->value = op->value;
        r->len = op->len;
    }
    if (op->kind == STORE_GET || op->kind == STORE_PUT)
        r->version = op->version;
    if (op->kind == STORE_LIST) {
        r->names = (const char *const *)op->names;
        r->nnames = op->nnames;
    }
    if (op->kind == STORE_CHILDREN && result_entries(op, r, entries) != 0)
        *err = AGORA_ENOMEM;
    if (op->kind == STORE_TXN && result_versions(op, r, versions) != 0)
        *err = AGORA_ENOMEM;
    if (*err != 0) {
        free(*entries);
        *entries = NULL;
        memset(r, 0, sizeof(*r));
    }
}

/*
 * Runs op's callback unless cancelled, then the watches of what it
 * wrote, then frees op. Results are handed out only on success; the SDK
 * promises value and names for get and list, version for get and put.
 */
static void op_deliver(struct store *s, struct store_op *op)
{
    struct agora_store_entry *entries;
    int64_t *versions;
    store_result r;
    int err = op->err;

    /* ENOENT and EVERSION answer the question asked; they are not
     * failures of the store. */
    if (op->err != 0 && op->err != AGORA_ENOENT && op->err != AGORA_EVERSION)
        s->stats.errors++;
    if (!op->canceled && op->cb != NULL) {
        fill_result(op, &r, &err, &entries, &versions);
        op->cb(op->arg, err, &r);
        free(entries);
        free(versions);
    }
    /* The callback may have closed the store: no watch runs then. */
    if (!s->closed)
        notify(s, op);
    op_free(op);
}

static void store_free(struct store *s)
{
    struct store_watch *w;

    /* Here, not in store_close(): a watch callback may close the store
     * while fire_watches() still holds a watch. */
    while ((w = s->watches) != NULL) {
        s->watches = w->next;
        watch_free(w);
    }
    /* libev: a watcher whose reference was dropped gets it back before
     * it is stopped. */
    if (!s->loop_ref)
        ev_ref(s->loop);
    ev_async_stop(s->loop, &s->wake);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/*
 * The async watcher: delivers the done ops at the head of the pending
 * list, one at a time, so that a callback may start new ops, cancel
 * later ones or close the store.
 */
static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    struct store *s = w->data;
    struct store_op *op;

    s->draining = 1;
    while (!s->closed && (op = s->head) != NULL && op_done(s, op)) {
        s->head = op->next;
        if (s->head == NULL)
            s->tail = NULL;
        s->stats.pending--;
        op_deliver(s, op);
    }
    s->draining = 0;
    if (s->closed) {
        store_free(s);
        return;
    }
    update_loop_ref(s);
}

int store_open_backend(struct ev_loop *loop, const struct store_backend *be,
                       void *impl, struct store **out)
{
    struct store *s;

    if (loop == NULL || be == NULL || out == NULL)
        return AGORA_EINVAL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return AGORA_ENOMEM;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return AGORA_ENOMEM;
    }
    s->loop = loop;
    s->be = be;
    s->impl = impl;
    s->children_max = AGORA_STORE_CHILDREN_MAX;
    ev_async_init(&s->wake, on_wake);
    s->wake.data = s;
    ev_async_start(loop, &s->wake);
    /* Idle: see update_loop_ref(). */
    ev_unref(loop);
    s->loop_ref = 0;
    log_info("store", "opened the %s backend", be->name);
    *out = s;
    return 0;
}

const char *store_backend_name(const struct store *s)
{
    return s->be->name;
}

void *store_backend_impl(const struct store *s)
{
    return s->impl;
}

void store_close(struct store *s)
{
    struct store_op *op;

    if (s == NULL || s->closed)
        return;
    /* The backend finishes (and store_complete()s) every op it holds:
     * after this no other thread touches s. */
    s->be->close(s->impl);
    s->impl = NULL;
    while ((op = s->head) != NULL) {
        s->head = op->next;
        op_free(op);
    }
    s->tail = NULL;
    s->stats.pending = 0;
    s->closed = 1;

    log_info("store", "closed the %s backend", s->be->name);
    /* Inside a callback on_wake() still walks s: it frees s when done. */
    if (!s->draining)
        store_free(s);
}

void store_get_stats(const struct store *s, struct store_stats *out)
{
    *out = s->stats;
}
