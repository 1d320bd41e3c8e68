/*
 * leader.c - leader election: standalone, or ZooKeeper's recipe (see
 * leader.h).
 *
 * Every ZooKeeper answer arrives on one of libzookeeper's threads; it is
 * copied into a message and posted to the loop (zk_post), where the
 * election's state is kept. Messages carry the session generation they
 * were asked in, so an answer from an expired session is ignored.
 */
#include "leader.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include <agora/plugin.h>

#include "log.h"
#include "zk.h"


struct leader {
    struct ev_loop *loop;
    struct zk *z;
    leader_fn cb;
    void *arg;
    int standalone;
    int leading;
    int stopped;

    char *dir;          /* <root>/leader                               */
    char **ensure;      /* paths to create before contending            */
    size_t nensure;
    char *info;         /* my znode's data                              */
    char *mine;         /* my znode's name, NULL when I have none       */
    int creating;
    char *current;      /* the leader's data, NULL when unknown         */
    char *current_node; /* the leader's znode name                      */
    pthread_mutex_t asks_lock; /* asks: completions run on ZooKeeper's  */
    struct ask *asks;          /* calls asked and not yet answered      */
    void (*changed)(void *arg);
    void *changed_arg;
    unsigned long gen;  /* bumped when a session expires                */
    ev_timer report;    /* standalone: the one report                   */
    ev_timer stepdown;  /* disconnected: step down when it fires        */
    /* Leading: a frozen process is noticed (see "a frozen process"). */
    ev_timer beat;
    ev_prepare before;
    ev_check after;
    double polled_at;   /* when the loop last went to poll              */
};

enum msg_kind {
    MSG_ENSURED,  /* a path of `ensure` exists (rc), index in n          */
    MSG_CREATED,  /* my member znode: its path in text                   */
    MSG_CHILDREN, /* the members: names in text, NUL-separated, n of them */
    MSG_DATA,     /* the leader's data: node in text, data after its NUL  */
    MSG_WATCH     /* something watched changed: look again               */
};

/* One answer from ZooKeeper, posted to the loop; one allocation, so a
 * message dropped at close is freed whole. */
struct msg {
    struct leader *l;
    enum msg_kind kind;
    unsigned long gen;
    int rc;
    size_t n;
    size_t len;
    char text[];
};

static void leader_refresh(struct leader *l);
static void leader_contend(struct leader *l);
static void on_msg(void *arg);

/* ---- reporting ---- */

static void freeze_watch(struct leader *l, int on);

static void set_leading(struct leader *l, int on)
{
    if (l->leading == on || l->stopped)
        return;
    l->leading = on;
    if (!l->standalone)
        freeze_watch(l, on);
    log_info("leader", "%s", on ? "elected: this master leads"
                                : "no longer leading");
    l->cb(l->arg, on);
}

/* ---- messages from libzookeeper's threads ---- */

static struct msg *msg_new(struct leader *l, enum msg_kind kind,
                           unsigned long gen, int rc, size_t len)
{
    struct msg *m = malloc(sizeof(*m) + len + 1);

    if (m == NULL)
        return NULL;
    m->l = l;
    m->kind = kind;
    m->gen = gen;
    m->rc = rc;
    m->n = 0;
    m->len = len;
    m->text[len] = '\0';
    return m;
}

static void post(struct leader *l, struct msg *m)
{
    if (m == NULL || zk_post(l->z, on_msg, m) < 0) {
        free(m);
        log_error("leader", "out of memory: an election answer is lost");
    }
}

/*
 * The context of a ZooKeeper call: who asked, in which session, what.
 * Its completion frees it, on libzookeeper's thread; one that never
 * comes (libzookeeper drops what is pending when it closes) is freed by
 * leader_free(), so the leader keeps every ask on a list under a lock.
 */
struct ask {
    struct leader *l;
    unsigned long gen;
    size_t index;
    struct ask *prev, *next;
};

static void ask_track(struct leader *l, struct ask *a)
{
    pthread_mutex_lock(&l->asks_lock);
    a->prev = NULL;
    a->next = l->asks;
    if (l->asks)
        l->asks->prev = a;
    l->asks = a;
    pthread_mutex_unlock(&l->asks_lock);
}

/* Untracks and frees a (NULL is ignored); any thread. */
static void ask_free(struct ask *a)
{
    struct leader *l;

    if (a == NULL)
        return;
    l = a->l;
    pthread_mutex_lock(&l->asks_lock);
    if (a->prev)
        a->prev->next = a->next;
    else
        l->asks = a->next;
    if (a->next)
        a->next->prev = a->prev;
    pthread_mutex_unlock(&l->asks_lock);
    free(a);
}

static struct ask *ask_new(struct leader *l, size_t index)
{
    struct ask *a = malloc(sizeof(*a));

    if (a) {
        a->l = l;
        a->gen = l->gen;
        a->index = index;
        ask_track(l, a);
    }
    return a;
}

static void ensured(int rc, const char *value, const void *data)
{
    struct ask *a = (struct ask *)data;
    struct msg *m = msg_new(a->l, MSG_ENSURED, a->gen, rc, 0);

    (void)value;
    if (m)
        m->n = a->index;
    post(a->l, m);
    ask_free(a);
}

static void created(int rc, const char *value, const void *data)
{
    struct ask *a = (struct ask *)data;
    const char *name = rc == ZOK && value ? strrchr(value, '/') : NULL;
    size_t len = name ? strlen(name + 1) : 0;
    struct msg *m = msg_new(a->l, MSG_CREATED, a->gen, rc, len);

    if (m && name)
        memcpy(m->text, name + 1, len);
    post(a->l, m);
    ask_free(a);
}

static void children(int rc, const struct String_vector *names,
                     const void *data)
{
    struct ask *a = (struct ask *)data;
    size_t len = 0, off = 0;
    struct msg *m;
    int i;

    for (i = 0; rc == ZOK && names && i < names->count; i++)
        len += strlen(names->data[i]) + 1;
    m = msg_new(a->l, MSG_CHILDREN, a->gen, rc, len);
    for (i = 0; m && rc == ZOK && names && i < names->count; i++) {
        size_t k = strlen(names->data[i]) + 1;

        memcpy(m->text + off, names->data[i], k);
        off += k;
        m->n++;
    }
    post(a->l, m);
    ask_free(a);
}

/* The node's name travels with its data: "node\0data". */
struct data_ask {
    struct ask a;
    char node[64];
};

static void got_data(int rc, const char *value, int value_len,
                     const struct Stat *stat, const void *data)
{
    struct data_ask *d = (struct data_ask *)data;
    size_t nl = strlen(d->node), vl = rc == ZOK && value_len > 0
                                          ? (size_t)value_len
                                          : 0;
    struct msg *m = msg_new(d->a.l, MSG_DATA, d->a.gen, rc, nl + 1 + vl);

    (void)stat;
    if (m) {
        memcpy(m->text, d->node, nl + 1);
        if (vl)
            memcpy(m->text + nl + 1, value, vl);
    }
    post(d->a.l, m);
    ask_free(&d->a); /* the first member: frees d */
}

static void exists_done(int rc, const struct Stat *stat, const void *data)
{
    struct ask *a = (struct ask *)data;

    (void)stat;
    /* Gone before the watch was set: look again. */
    if (rc == ZNONODE)
        post(a->l, msg_new(a->l, MSG_WATCH, a->gen, rc, 0));
    ask_free(a);
}

static void watched(zhandle_t *zh, int type, int state, const char *path,
                    void *ctx)
{
    struct leader *l = ctx;

    (void)zh;
    (void)state;
    (void)path;
    if (type == ZOO_SESSION_EVENT)
        return; /* the session's owner hears about those */
    post(l, msg_new(l, MSG_WATCH, 0, ZOK, 0));
}

/* ---- asking ZooKeeper (on the loop) ---- */

static int zcall_failed(struct leader *l, int zrc, const char *what)
{
    if (zrc == ZOK)
        return 0;
    log_warn("leader", "ZooKeeper %s: %s", what, zerror(zrc));
    return -1;
}

static void ask_ensure(struct leader *l, size_t i)
{
    zhandle_t *zh = zk_handle(l->z);
    struct ask *a = ask_new(l, i);

    if (zh == NULL || a == NULL ||
        zcall_failed(l, zoo_acreate(zh, l->ensure[i], "", 0,
                                    &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                                    ensured, a),
                     "create")) {
        ask_free(a);
        l->creating = 0;
    }
}

static void ask_create(struct leader *l)
{
    zhandle_t *zh = zk_handle(l->z);
    struct ask *a = ask_new(l, 0);
    char *path = NULL;

    if (zh == NULL || a == NULL ||
        asprintf(&path, "%s/" ZK_LEADER_MEMBER_PREFIX, l->dir) < 0 ||
        zcall_failed(l, zoo_acreate(zh, path, l->info, (int)strlen(l->info),
                                    &ZOO_OPEN_ACL_UNSAFE,
                                    ZOO_EPHEMERAL_SEQUENTIAL, created, a),
                     "create")) {
        ask_free(a);
        l->creating = 0;
    }
    free(path);
}

static void ask_watch(struct leader *l, const char *node)
{
    zhandle_t *zh = zk_handle(l->z);
    struct ask *a = ask_new(l, 0);
    char *path = NULL;

    if (zh == NULL || a == NULL || asprintf(&path, "%s/%s", l->dir, node) < 0 ||
        zcall_failed(l, zoo_awexists(zh, path, watched, l, exists_done, a),
                     "exists"))
        ask_free(a);
    free(path);
}

static void ask_data(struct leader *l, const char *node)
{
    zhandle_t *zh = zk_handle(l->z);
    struct data_ask *d = calloc(1, sizeof(*d));
    char *path = NULL;

    if (zh == NULL || d == NULL || strlen(node) >= sizeof(d->node) ||
        asprintf(&path, "%s/%s", l->dir, node) < 0) {
        free(d);
        free(path);
        return;
    }
    d->a.l = l;
    d->a.gen = l->gen;
    strcpy(d->node, node);
    ask_track(l, &d->a);
    if (zcall_failed(l, zoo_aget(zh, path, 0, got_data, d), "get"))
        ask_free(&d->a);
    free(path);
}

static void leader_refresh(struct leader *l)
{
    zhandle_t *zh = zk_handle(l->z);
    struct ask *a = ask_new(l, 0);

    if (zh == NULL || a == NULL ||
        zcall_failed(l, zoo_aget_children(zh, l->dir, 0, children, a),
                     "children"))
        ask_free(a);
}

static void leader_contend(struct leader *l)
{
    if (l->creating || l->mine || l->stopped)
        return;
    l->creating = 1;
    ask_ensure(l, 0);
}

/* ---- answers, on the loop ---- */

static void on_children(struct leader *l, struct msg *m)
{
    const char *lowest = NULL, *pred = NULL, *p = m->text;
    long long lo = -1, best = -1;
    long long mine = l->mine ? zk_leader_member_seq(l->mine) : -1;
    int have_mine = 0;
    size_t i;

    for (i = 0; i < m->n; i++, p += strlen(p) + 1) {
        long long s = zk_leader_member_seq(p);

        if (s < 0)
            continue;
        if (lo < 0 || s < lo) {
            lo = s;
            lowest = p;
        }
        if (l->mine && strcmp(p, l->mine) == 0)
            have_mine = 1;
        else if (s < mine && s > best) {
            best = s;
            pred = p;
        }
    }
    if (l->mine && !have_mine) {
        /* Our node is gone (the session changed under us): again. */
        free(l->mine);
        l->mine = NULL;
        set_leading(l, 0);
        leader_contend(l);
        return;
    }
    if (lowest) {
        ask_data(l, lowest);
        ask_watch(l, lowest); /* to follow the leader for redirects */
    }
    if (pred)
        ask_watch(l, pred);
    set_leading(l, l->mine && lowest && strcmp(lowest, l->mine) == 0);
}

static void deleted(int rc, const void *data)
{
    struct ask *a = (struct ask *)data;

    (void)rc; /* either way the watch on the node brings a new look */
    ask_free(a);
}

/*
 * The leading znode holds this master's own info but is not the node it
 * knows as its own: a create whose answer was lost (the connection broke)
 * made it, in this very session, so it would lead as long as the session
 * lives with nobody acting for it. It goes; the watch on it brings the
 * next look, which elects this master's real node.
 */
static void delete_node(struct leader *l, const char *node)
{
    zhandle_t *zh = zk_handle(l->z);
    struct ask *a = ask_new(l, 0);
    char *path = NULL;

    if (zh == NULL || a == NULL || asprintf(&path, "%s/%s", l->dir, node) < 0 ||
        zcall_failed(l, zoo_adelete(zh, path, -1, deleted, a), "delete"))
        ask_free(a);
    free(path);
}

static void drop_orphan(struct leader *l, const char *node)
{
    log_warn("leader", "%s/%s holds this master's info but is not its "
                       "node (a create whose answer was lost): deleting it",
             l->dir, node);
    delete_node(l, node);
}

static void on_data(struct leader *l, struct msg *m)
{
    size_t nl = strlen(m->text);
    int same;

    if (m->rc != ZOK)
        return; /* gone already: a watch brings the next look */
    same = l->current_node && strcmp(l->current_node, m->text) == 0 &&
           l->current && strlen(l->current) == m->len - nl - 1 &&
           memcmp(l->current, m->text + nl + 1, m->len - nl - 1) == 0;
    if (same)
        return;
    if (l->mine && strcmp(m->text, l->mine) != 0 &&
        m->len - nl - 1 == strlen(l->info) &&
        memcmp(m->text + nl + 1, l->info, m->len - nl - 1) == 0) {
        drop_orphan(l, m->text);
        return;
    }
    free(l->current);
    free(l->current_node);
    l->current = strndup(m->text + nl + 1, m->len - nl - 1);
    l->current_node = strdup(m->text);
    if (l->changed && !l->stopped)
        l->changed(l->changed_arg);
}

static void on_ensured(struct leader *l, struct msg *m)
{
    if (m->rc != ZOK && m->rc != ZNODEEXISTS) {
        log_warn("leader", "cannot create %s: %s", l->ensure[m->n],
                 zerror(m->rc));
        l->creating = 0;
        return;
    }
    if (m->n + 1 < l->nensure)
        ask_ensure(l, m->n + 1);
    else
        ask_create(l);
}

static void on_msg(void *arg)
{
    struct msg *m = arg;
    struct leader *l = m->l;

    if (l->stopped || (m->kind != MSG_WATCH && m->gen != l->gen)) {
        free(m);
        return;
    }
    switch (m->kind) {
    case MSG_ENSURED:
        on_ensured(l, m);
        break;
    case MSG_CREATED:
        l->creating = 0;
        if (m->rc == ZOK) {
            l->mine = strdup(m->text);
            log_info("leader", "contending as %s/%s", l->dir, m->text);
        } else {
            log_warn("leader", "cannot create my znode: %s", zerror(m->rc));
        }
        leader_refresh(l);
        break;
    case MSG_CHILDREN:
        if (m->rc == ZOK)
            on_children(l, m);
        break;
    case MSG_DATA:
        on_data(l, m);
        break;
    case MSG_WATCH:
        leader_refresh(l);
        break;
    }
    free(m);
}

/* ---- a frozen process ---- */

/*
 * A process that is stopped (SIGSTOP, a paused VM, heavy swapping) stops
 * libzookeeper's heartbeats with it: the server may expire the session
 * and elect another master meanwhile, and when this one runs again its
 * loop would run its overdue timers before the news of the expiry
 * arrives. So a leader watches its own loop: a beat timer bounds each
 * poll, and a poll that overslept by 2/3 of the session timeout (the
 * most a session can outlive silence by, after the client's last ping)
 * means the session may be gone. The leader then steps down first
 * thing, before any other callback of that iteration (the check
 * watcher has the highest priority), and asks ZooKeeper again: if its
 * session survived, the answer elects it again.
 */
static void freeze_limit(struct leader *l, double *beat, double *limit)
{
    double timeout = zk_session_timeout(l->z);

    if (timeout <= 0)
        timeout = 10.;
    *beat = timeout / 6.;
    *limit = timeout * 2. / 3.;
}

static void on_beat(struct ev_loop *loop, ev_timer *w, int events)
{
    (void)loop; /* it only wakes the loop up */
    (void)w;
    (void)events;
}

static void on_before_poll(struct ev_loop *loop, ev_prepare *w, int events)
{
    struct leader *l = w->data;

    (void)events;
    ev_now_update(loop);
    l->polled_at = ev_now(loop);
}

static void on_after_poll(struct ev_loop *loop, ev_check *w, int events)
{
    struct leader *l = w->data;
    double beat, limit, slept = ev_now(loop) - l->polled_at;

    (void)events;
    freeze_limit(l, &beat, &limit);
    if (!l->leading || l->polled_at == 0 || slept <= beat + limit)
        return;
    log_warn("leader", "this process was frozen for %.1f s: the ZooKeeper "
                       "session may have expired; stepping down until "
                       "ZooKeeper answers", slept - beat);
    set_leading(l, 0);
    if (l->mine)
        leader_refresh(l);
}

static void freeze_watch(struct leader *l, int on)
{
    double beat, limit;

    if (!on) {
        ev_timer_stop(l->loop, &l->beat);
        ev_prepare_stop(l->loop, &l->before);
        ev_check_stop(l->loop, &l->after);
        l->polled_at = 0;
        return;
    }
    freeze_limit(l, &beat, &limit);
    ev_timer_set(&l->beat, beat, beat);
    ev_timer_start(l->loop, &l->beat);
    ev_prepare_start(l->loop, &l->before);
    ev_check_start(l->loop, &l->after);
}

/* ---- the session ---- */

static void on_stepdown(struct ev_loop *loop, ev_timer *w, int events)
{
    struct leader *l = w->data;

    (void)loop;
    (void)events;
    log_warn("leader", "disconnected from ZooKeeper past the session "
                       "timeout: stepping down");
    set_leading(l, 0);
}

void leader_zk_state(struct leader *l, int state)
{
    double timeout;

    if (l->standalone || l->stopped)
        return;
    switch ((enum zk_state)state) {
    case ZK_CONNECTED:
        ev_timer_stop(l->loop, &l->stepdown);
        if (l->mine)
            leader_refresh(l);
        else
            leader_contend(l);
        break;
    case ZK_DISCONNECTED:
        timeout = zk_session_timeout(l->z);
        if (l->leading && !ev_is_active(&l->stepdown)) {
            /* The server expires the session a timeout after it last
             * heard from us, and another master may lead then. The
             * client reports a silent link after 2/3 of the timeout, so
             * only 1/3 is left: step down then, before anyone can be
             * elected, unless the link comes back (to this server or
             * another of the ensemble) first. */
            if (timeout <= 0)
                timeout = 10.;
            ev_timer_set(&l->stepdown, timeout / 3., 0.);
            ev_timer_start(l->loop, &l->stepdown);
        }
        break;
    case ZK_EXPIRED:
        ev_timer_stop(l->loop, &l->stepdown);
        l->gen++;
        l->creating = 0;
        free(l->mine);
        l->mine = NULL;
        set_leading(l, 0);
        break;
    case ZK_CONNECTING:
        break;
    }
}

/* ---- life ---- */

static void on_report(struct ev_loop *loop, ev_timer *w, int events)
{
    (void)loop;
    (void)events;
    set_leading(w->data, 1);
}

static struct leader *leader_new(struct ev_loop *loop, leader_fn cb,
                                 void *arg)
{
    struct leader *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    if (pthread_mutex_init(&l->asks_lock, NULL) != 0) {
        free(l);
        return NULL;
    }
    l->loop = loop;
    l->cb = cb;
    l->arg = arg;
    ev_init(&l->report, on_report);
    l->report.data = l;
    ev_init(&l->stepdown, on_stepdown);
    l->stepdown.data = l;
    ev_init(&l->beat, on_beat);
    ev_prepare_init(&l->before, on_before_poll);
    l->before.data = l;
    ev_check_init(&l->after, on_after_poll);
    ev_set_priority(&l->after, EV_MAXPRI);
    l->after.data = l;
    return l;
}

int leader_open_standalone(struct ev_loop *loop, leader_fn cb, void *arg,
                           struct leader **out)
{
    struct leader *l = leader_new(loop, cb, arg);

    if (l == NULL)
        return AGORA_ENOMEM;
    l->standalone = 1;
    ev_timer_set(&l->report, 0., 0.);
    ev_timer_start(loop, &l->report);
    *out = l;
    return 0;
}

/* Every prefix of <root>/leader, to create in order. */
static int ensure_paths(struct leader *l, const char *root)
{
    const char *p;
    size_t n = 0;

    if (asprintf(&l->dir, "%s/" ZK_LEADER_DIR, root) < 0) {
        l->dir = NULL;
        return AGORA_ENOMEM;
    }
    for (p = l->dir + 1; *p; p++)
        n += *p == '/';
    l->ensure = calloc(n + 1, sizeof(*l->ensure));
    if (l->ensure == NULL)
        return AGORA_ENOMEM;
    for (p = l->dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        l->ensure[l->nensure] = strndup(l->dir, (size_t)(p - l->dir));
        if (l->ensure[l->nensure++] == NULL)
            return AGORA_ENOMEM;
        if (*p == '\0')
            break;
    }
    return 0;
}

int leader_open_zk(struct ev_loop *loop, struct zk *z, const char *root,
                   const char *my_info, leader_fn cb, void *arg,
                   struct leader **out)
{
    struct leader *l = leader_new(loop, cb, arg);

    if (l == NULL)
        return AGORA_ENOMEM;
    l->z = z;
    if ((l->info = strdup(my_info)) == NULL || ensure_paths(l, root) < 0) {
        leader_free(l);
        return AGORA_ENOMEM;
    }
    if (zk_state(z) == ZK_CONNECTED)
        leader_contend(l);
    *out = l;
    return 0;
}

int leader_abdicate(struct leader *l)
{
    char *node;

    if (l->stopped || !l->leading)
        return AGORA_ENOTLEADER;
    log_info("leader", "abdicating");
    set_leading(l, 0);
    if (l->standalone) {
        /* Alone, it is elected again on a later turn, as at its start. */
        ev_timer_set(&l->report, 0., 0.);
        ev_timer_start(l->loop, &l->report);
        return 0;
    }
    /* Its node goes and a new one queues behind the other contenders:
     * the next in line leads, or this master again when it is alone. */
    node = l->mine;
    l->mine = NULL;
    if (node)
        delete_node(l, node);
    free(node);
    leader_contend(l);
    return 0;
}

int leader_leading(const struct leader *l) { return l->leading; }

int leader_fence(const struct leader *l, char **out)
{
    *out = NULL;
    if (l->standalone || l->mine == NULL)
        return 0;
    if (asprintf(out, "%s/%s", l->dir, l->mine) < 0) {
        *out = NULL;
        return AGORA_ENOMEM;
    }
    return 0;
}

const char *leader_current(const struct leader *l) { return l->current; }

void leader_on_change(struct leader *l, void (*fn)(void *arg), void *arg)
{
    l->changed = fn;
    l->changed_arg = arg;
}

void leader_stop(struct leader *l)
{
    l->stopped = 1;
    ev_timer_stop(l->loop, &l->report);
    ev_timer_stop(l->loop, &l->stepdown);
    freeze_watch(l, 0);
}

void leader_free(struct leader *l)
{
    size_t i;

    if (l == NULL)
        return;
    leader_stop(l);
    for (i = 0; i < l->nensure; i++)
        free(l->ensure[i]);
    free(l->ensure);
    free(l->dir);
    free(l->info);
    free(l->mine);
    free(l->current);
    free(l->current_node);
    /* Asks whose answer never came: the session is closed by now, so
     * none can come any more (see leader.h). */
    while (l->asks)
        ask_free(l->asks);
    pthread_mutex_destroy(&l->asks_lock);
    free(l);
}
