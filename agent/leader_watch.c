/*
 * leader_watch.c - follows the masters' ZooKeeper election for the agent
 * (see leader_watch.h).
 *
 * Every ZooKeeper answer arrives on one of libzookeeper's threads; it is
 * copied into one allocation and posted to the loop (zk_post), where the
 * watcher's state lives. The threads only read w->z, which is set before
 * the first call and stays until the session is closed. Answers carry
 * the session generation they were asked in: one from an expired
 * session is dropped.
 *
 * One look: get the children of <root>/leader; pick the lowest member;
 * watch it (exists) and read its data. No member: look again with a
 * child watch. No <root>/leader: watch for it (exists). Each watch that
 * fires, and each session that (re)connects, brings a new look.
 */
#include "leader_watch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include <agora/json.h>
#include <agora/plugin.h>
#include <agora/sdk.h>

#include "log.h"
#include "zk.h"

/* A look that could not be asked is asked again after this (seconds). */
#define LW_RETRY 1.0

struct leader_watch {
    struct ev_loop *loop;
    struct zk *z;
    leader_watch_fn cb;
    void *arg;
    char *url;         /* as given, for logs                      */
    char *hosts;       /* "h1:2181,h2:2181"                        */
    char *dir;         /* <root>/leader                            */
    char *want;        /* the lowest member of the last look       */
    char *node;        /* the leading member reported              */
    char *master;      /* its "host:port", NULL when unknown       */
    unsigned long gen; /* bumped when a session expires            */
    int stopped;
    int reported;   /* cb ran at least once                     */
    ev_timer retry; /* a look that failed to be asked           */
};

enum lw_kind {
    LW_CHILDREN, /* the lowest member in text (none: len 0), n members */
    LW_DATA,     /* a member's data: "node\0data"; n = 1 when too big  */
    LW_LOOK      /* something watched changed: look again              */
};

/* One answer, posted to the loop; freed whole if never run. */
struct lw_msg {
    struct leader_watch *w;
    enum lw_kind kind;
    unsigned long gen;
    int rc;
    int watched; /* LW_CHILDREN: asked with a child watch              */
    size_t n;
    size_t len;
    char text[];
};

/* The context of one ZooKeeper call; node is the znode's name, if any. */
struct lw_ask {
    struct leader_watch *w;
    unsigned long gen;
    int watched;
    int want_rc; /* exists: the answer that needs no new look         */
    char node[];
};

static void lw_on_msg(void *arg);
static void lw_look(struct leader_watch *w, int watch_children);

/* ------------------------------------------------------------------ */
/* On libzookeeper's threads: copy, post, nothing else                 */
/* ------------------------------------------------------------------ */

static struct lw_msg *lw_msg_new(struct leader_watch *w, enum lw_kind kind,
                                 unsigned long gen, int rc, size_t len)
{
    struct lw_msg *m = malloc(sizeof(*m) + len + 1);

    if (m == NULL)
        return NULL;
    memset(m, 0, sizeof(*m));
    m->w = w;
    m->kind = kind;
    m->gen = gen;
    m->rc = rc;
    m->len = len;
    m->text[len] = '\0';
    return m;
}

static void lw_post(struct leader_watch *w, struct lw_msg *m)
{
    if (m == NULL || zk_post(w->z, lw_on_msg, m) < 0) {
        free(m);
        log_error("leader", "out of memory: a ZooKeeper answer is lost");
    }
}

static void lw_children_done(int rc, const struct String_vector *names,
                             const void *data)
{
    struct lw_ask *a = (struct lw_ask *)data;
    const char *lowest = NULL;
    long long lo = -1;
    size_t members = 0;
    struct lw_msg *m;
    int i;

    for (i = 0; rc == ZOK && names && i < names->count; i++) {
        long long s = zk_leader_member_seq(names->data[i]);

        if (s < 0)
            continue;
        members++;
        if (lo < 0 || s < lo) {
            lo = s;
            lowest = names->data[i];
        }
    }
    m = lw_msg_new(a->w, LW_CHILDREN, a->gen, rc, lowest ? strlen(lowest) : 0);
    if (m) {
        m->watched = a->watched;
        m->n = members;
        if (lowest)
            memcpy(m->text, lowest, m->len);
    }
    lw_post(a->w, m);
    free(a);
}

static void lw_data_done(int rc, const char *value, int value_len,
                         const struct Stat *stat, const void *data)
{
    struct lw_ask *a = (struct lw_ask *)data;
    size_t nl = strlen(a->node), vl = 0;
    int big = 0;
    struct lw_msg *m;

    (void)stat;
    if (rc == ZOK && value && value_len > 0) {
        vl = (size_t)value_len;
        if (vl > LEADER_WATCH_DATA_MAX) {
            big = 1;
            vl = 0;
        }
    }
    m = lw_msg_new(a->w, LW_DATA, a->gen, rc, nl + 1 + vl);
    if (m) {
        m->n = (size_t)big;
        memcpy(m->text, a->node, nl + 1);
        if (vl)
            memcpy(m->text + nl + 1, value, vl);
    }
    lw_post(a->w, m);
    free(a);
}

/* The watch is set either way; an answer other than the expected one
 * means the world moved before it was: look again. */
static void lw_exists_done(int rc, const struct Stat *stat, const void *data)
{
    struct lw_ask *a = (struct lw_ask *)data;

    (void)stat;
    if (rc != a->want_rc && (rc == ZOK || rc == ZNONODE))
        lw_post(a->w, lw_msg_new(a->w, LW_LOOK, a->gen, rc, 0));
    free(a);
}

static void lw_watched(zhandle_t *zh, int type, int state, const char *path,
                       void *ctx)
{
    struct leader_watch *w = ctx;

    (void)zh;
    (void)state;
    (void)path;
    if (type == ZOO_SESSION_EVENT)
        return; /* reported through the session's state callback */
    lw_post(w, lw_msg_new(w, LW_LOOK, 0, ZOK, 0));
}

/* ------------------------------------------------------------------ */
/* Asking ZooKeeper (on the loop)                                      */
/* ------------------------------------------------------------------ */

static struct lw_ask *lw_ask_new(struct leader_watch *w, const char *node)
{
    size_t nl = node ? strlen(node) : 0;
    struct lw_ask *a = malloc(sizeof(*a) + nl + 1);

    if (a == NULL)
        return NULL;
    a->w = w;
    a->gen = w->gen;
    a->watched = 0;
    a->want_rc = ZOK;
    memcpy(a->node, node ? node : "", nl + 1);
    return a;
}

/*
 * A call could not be made. Without a session (lost, closing, expired)
 * the next one brings a look; otherwise (out of memory, say) look again
 * a little later.
 */
static void lw_failed(struct leader_watch *w, struct lw_ask *a, int zrc,
                      const char *what)
{
    free(a);
    if (zrc == ZCONNECTIONLOSS || zrc == ZINVALIDSTATE || zrc == ZCLOSING ||
        zrc == ZSESSIONEXPIRED) {
        log_debug("leader", "ZooKeeper %s: %s", what, zerror(zrc));
        return;
    }
    if (zrc != ZOK)
        log_warn("leader", "ZooKeeper %s: %s", what, zerror(zrc));
    else
        log_error("leader", "out of memory asking ZooKeeper (%s)", what);
    if (!w->stopped && !ev_is_active(&w->retry)) {
        ev_timer_set(&w->retry, LW_RETRY, 0.);
        ev_timer_start(w->loop, &w->retry);
    }
}

/*
 * A new ask about dir/node, and its path in *path (NULL when node is
 * NULL: the ask is about dir itself; else the caller frees it). NULL,
 * the failure of `what` handled, when memory is short.
 */
static struct lw_ask *lw_ask_path(struct leader_watch *w, const char *node,
                                  const char *what, char **path)
{
    struct lw_ask *a = lw_ask_new(w, node);

    *path = NULL;
    if (a == NULL || (node && asprintf(path, "%s/%s", w->dir, node) < 0)) {
        lw_failed(w, a, ZOK, what);
        return NULL;
    }
    return a;
}

static void lw_look(struct leader_watch *w, int watch_children)
{
    zhandle_t *zh = zk_handle(w->z);
    struct lw_ask *a;
    int rc;

    if (zh == NULL)
        return;
    if ((a = lw_ask_new(w, NULL)) == NULL) {
        lw_failed(w, NULL, ZOK, "children");
        return;
    }
    a->watched = watch_children;
    rc = watch_children ? zoo_awget_children(zh, w->dir, lw_watched, w,
                                             lw_children_done, a)
                        : zoo_aget_children(zh, w->dir, 0, lw_children_done, a);
    if (rc != ZOK)
        lw_failed(w, a, rc, "children");
}

/* Watches path (dir when node is NULL, else dir/node) with exists:
 * want_rc is the answer expected now (ZNONODE for a missing dir). */
static void lw_watch(struct leader_watch *w, const char *node, int want_rc)
{
    zhandle_t *zh = zk_handle(w->z);
    struct lw_ask *a;
    char *path;
    int rc;

    if (zh == NULL || (a = lw_ask_path(w, node, "exists", &path)) == NULL)
        return;
    a->want_rc = want_rc;
    rc = zoo_awexists(zh, path ? path : w->dir, lw_watched, w, lw_exists_done,
                      a);
    if (rc != ZOK)
        lw_failed(w, a, rc, "exists");
    free(path);
}

static void lw_get(struct leader_watch *w, const char *node)
{
    zhandle_t *zh = zk_handle(w->z);
    struct lw_ask *a;
    char *path;
    int rc;

    if (zh == NULL || (a = lw_ask_path(w, node, "get", &path)) == NULL)
        return;
    rc = zoo_aget(zh, path, 0, lw_data_done, a);
    if (rc != ZOK)
        lw_failed(w, a, rc, "get");
    free(path);
}

/* ------------------------------------------------------------------ */
/* Answers, on the loop                                                */
/* ------------------------------------------------------------------ */

static int lw_same(const char *x, const char *y)
{
    return x == y || (x && y && strcmp(x, y) == 0);
}

/* The leader is node (NULL: none) at master (NULL: unknown); reported
 * when either changed. */
static void lw_set(struct leader_watch *w, const char *node, const char *master)
{
    char *n = NULL, *ma = NULL;

    if (w->reported && lw_same(node, w->node) && lw_same(master, w->master))
        return;
    if ((node && (n = strdup(node)) == NULL) ||
        (master && (ma = strdup(master)) == NULL)) {
        free(n);
        lw_failed(w, NULL, ZOK, "the leader's address");
        return;
    }
    free(w->node);
    free(w->master);
    w->node = n;
    w->master = ma;
    w->reported = 1;
    if (master)
        log_info("leader", "the leading master is %s (%s/%s)", master, w->dir,
                 node);
    else if (node)
        log_warn("leader",
                 "the leading member %s/%s gives no usable "
                 "address: waiting",
                 w->dir, node);
    else
        log_warn("leader", "no master contends in %s: waiting", w->dir);
    w->cb(w->arg, master);
}

/* A host name (letters, digits, '-', '.', '_') or an IPv6 address. */
static int lw_host_valid(const char *h)
{
    int v6 = strchr(h, ':') != NULL;
    const char *p;

    if (*h == '\0' || strlen(h) > 255)
        return 0;
    for (p = h; *p; p++) {
        unsigned char c = (unsigned char)*p;

        if (v6 ? !(isxdigit(c) || c == ':' || c == '.')
               : !(isalnum(c) || c == '-' || c == '.' || c == '_'))
            return 0;
    }
    return 1;
}

/* An address that names no host to connect to. */
static int lw_unspecified(const char *ip)
{
    return *ip == '\0' || strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0;
}

/*
 * The "host:port" a leader's znode data points to (malloc'ed), or NULL
 * with a reason in why. ip, else hostname when ip names no host; the
 * members of Mesos' "address" object when the top level lacks them.
 * "https://host:port" when the data says "scheme": "https".
 */
static int lw_https(yajl_val doc)
{
    const char *scheme = agora_json_get_str(doc, "scheme");

    return scheme && strcmp(scheme, "https") == 0;
}

static char *lw_address(const char *data, char *why, size_t len)
{
    yajl_val doc = agora_json_parse(data, why, len), o;
    const char *ip = NULL, *host = NULL, *h;
    int64_t port = 0;
    char *out = NULL;

    if (doc == NULL)
        return NULL;
    o = agora_json_get(doc, "port") ? doc : agora_json_get(doc, "address");
    if (o == NULL || agora_json_int(o, "port", &port) < 0 || port < 1 ||
        port > 65535) {
        snprintf(why, len, "no port 1..65535");
        yajl_tree_free(doc);
        return NULL;
    }
    agora_json_str(o, "ip", &ip);
    agora_json_str(o, "hostname", &host);
    h = ip && !lw_unspecified(ip) ? ip : host;
    if (h == NULL || !lw_host_valid(h))
        snprintf(why, len, "no valid ip or hostname");
    else if (asprintf(&out,
                      strchr(h, ':') ? "%s[%s]:%" PRId64 : "%s%s:%" PRId64,
                      lw_https(doc) ? "https://" : "", h, port) < 0) {
        snprintf(why, len, "out of memory");
        out = NULL;
    }
    yajl_tree_free(doc);
    return out;
}

static void lw_on_children(struct leader_watch *w, struct lw_msg *m)
{
    if (m->rc == ZNONODE) {
        /* No master has contended yet: wait for the directory. */
        free(w->want);
        w->want = NULL;
        lw_set(w, NULL, NULL);
        lw_watch(w, NULL, ZNONODE);
        return;
    }
    if (m->rc != ZOK) {
        lw_failed(w, NULL, m->rc, "children");
        return;
    }
    free(w->want);
    w->want = NULL;
    if (m->len == 0) {
        lw_set(w, NULL, NULL);
        if (!m->watched)
            lw_look(w, 1); /* and hear of the first member to come */
        return;
    }
    if ((w->want = strdup(m->text)) == NULL) {
        lw_failed(w, NULL, ZOK, "children");
        return;
    }
    lw_watch(w, w->want, ZOK);
    lw_get(w, w->want);
}

static void lw_on_data(struct leader_watch *w, struct lw_msg *m)
{
    size_t nl = strlen(m->text);
    char why[256], *addr;

    if (w->want == NULL || strcmp(m->text, w->want) != 0)
        return; /* another look made another member the lowest */
    if (m->rc == ZNONODE)
        return; /* gone already: its watch brings the next look */
    if (m->rc != ZOK) {
        lw_failed(w, NULL, m->rc, "get");
        return;
    }
    if (m->n) {
        log_warn("leader", "%s/%s holds over %u bytes: ignored", w->dir,
                 m->text, LEADER_WATCH_DATA_MAX);
        lw_set(w, m->text, NULL);
        return;
    }
    why[0] = '\0';
    addr = lw_address(m->text + nl + 1, why, sizeof(why));
    if (addr == NULL)
        log_warn("leader", "%s/%s: %s", w->dir, m->text,
                 why[0] ? why : "not JSON");
    lw_set(w, m->text, addr);
    free(addr);
}

static void lw_on_msg(void *arg)
{
    struct lw_msg *m = arg;
    struct leader_watch *w = m->w;

    if (w->stopped || (m->kind != LW_LOOK && m->gen != w->gen)) {
        free(m);
        return;
    }
    switch (m->kind) {
    case LW_CHILDREN:
        lw_on_children(w, m);
        break;
    case LW_DATA:
        lw_on_data(w, m);
        break;
    case LW_LOOK:
        lw_look(w, 0);
        break;
    }
    free(m);
}

static void lw_on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    lw_look(t->data, 0);
}

/* zk_state_fn: a session that comes up (first, again, or a new one after
 * an expiry) brings a look; the last leader known stays meanwhile. */
static void lw_on_state(void *arg, enum zk_state state)
{
    struct leader_watch *w = arg;

    if (w->stopped)
        return;
    switch (state) {
    case ZK_CONNECTED:
        log_info("leader", "ZooKeeper session up (%s)", w->hosts);
        lw_look(w, 0);
        break;
    case ZK_DISCONNECTED:
        log_warn("leader", "ZooKeeper link lost (%s): reconnecting", w->hosts);
        break;
    case ZK_EXPIRED:
        log_warn("leader", "ZooKeeper session expired: making a new one");
        w->gen++;
        free(w->want);
        w->want = NULL;
        break;
    case ZK_CONNECTING:
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Life                                                                */
/* ------------------------------------------------------------------ */

int leader_watch_open(struct ev_loop *loop, const char *url, leader_watch_fn cb,
                      void *arg, struct leader_watch **out, char *err,
                      size_t errlen)
{
    struct leader_watch *w = calloc(1, sizeof(*w));
    char *root = NULL;
    int rc;

    if (w == NULL)
        return AGORA_ENOMEM;
    w->loop = loop;
    w->cb = cb;
    w->arg = arg;
    ev_init(&w->retry, lw_on_retry);
    w->retry.data = w;
    rc = zk_parse_url(url, &w->hosts, &root);
    if (rc == AGORA_EINVAL)
        snprintf(err, errlen,
                 "--master=%s is not zk://host:port[,host:port...]/path", url);
    if (rc == 0 && ((w->url = strdup(url)) == NULL ||
                    asprintf(&w->dir, "%s/" ZK_LEADER_DIR, root) < 0)) {
        w->dir = NULL;
        rc = AGORA_ENOMEM;
    }
    free(root);
    if (rc == 0) {
        rc = zk_open(loop, w->hosts, LEADER_WATCH_SESSION_TIMEOUT, lw_on_state,
                     w, &w->z);
        if (rc < 0) {
            w->z = NULL;
            snprintf(err, errlen, "cannot open a ZooKeeper session to %s: %s",
                     w->hosts, agora_strerror(rc));
        }
    }
    if (rc < 0) {
        leader_watch_close(w);
        return rc;
    }
    log_info("leader", "following the masters' election in %s", w->url);
    *out = w;
    return 0;
}

const char *leader_watch_current(const struct leader_watch *w)
{
    return w->master;
}

void leader_watch_close(struct leader_watch *w)
{
    if (w == NULL)
        return;
    w->stopped = 1;
    ev_timer_stop(w->loop, &w->retry);
    /* Callbacks may still run during the close: w stays until after. */
    if (w->z)
        zk_close(w->z);
    free(w->url);
    free(w->hosts);
    free(w->dir);
    free(w->want);
    free(w->node);
    free(w->master);
    free(w);
}
