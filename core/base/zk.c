/*
 * zk.c - a ZooKeeper session on the event loop.
 *
 * libzookeeper_mt runs two threads a handle: one for the socket, one that
 * calls completions and watchers. Our watcher runs there and only copies
 * the event into a message for the loop (zk_post); everything else -
 * state, reports, closing and making handles - happens on the loop.
 *
 * Sessions:
 *   - A handle is made with no session id and connects on its own; the
 *     first ZOO_CONNECTED_STATE of a handle starts its session.
 *   - Connection lost (ZOO_CONNECTING_STATE after a connection): the
 *     client reconnects by itself, and the session survives if it does so
 *     within the session timeout. We report ZK_DISCONNECTED and arm a timer
 *     of one session timeout: when it fires still disconnected we treat the
 *     session as expired, as Mesos does (the servers, if any can see each
 *     other, have expired it by then, and its ephemeral nodes are gone; a
 *     client cut off from every server never hears it otherwise).
 *   - Expired (by the server, or by that timer) or authentication failed:
 *     the handle is dead for good. We close it here on the loop (never from
 *     a ZooKeeper thread), make a new one and report ZK_EXPIRED; the new
 *     session's ZK_CONNECTED follows when it connects.
 *   - A session we expired ourselves may still live on the servers (they
 *     were all down and restarted, say, and restored it): a "reaper" handle
 *     reconnects with its id when ZooKeeper answers again and closes it, so
 *     that its ephemeral nodes (an election's) go at once instead of one
 *     session timeout later.
 *
 * Every message of a handle carries the handle's generation; a message of
 * a handle closed since is dropped.
 */
#include "zk.h"

#include <ctype.h>
#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* Seconds between attempts to make a handle, when zookeeper_init fails. */
#define ZK_RETRY_DELAY 1.0

/* libzookeeper's identical error lines (connection refused, again and
 * again while a server is down) are logged once in this many seconds. */
#define ZK_LOG_REPEAT 10

struct zk_msg {
    void (*fn)(void *arg);
    void *arg;
    struct zk_msg *next;
};

/* The watcher context of one handle. Freed after zookeeper_close() of the
 * handle, which joins its threads: no watcher call outlives it. */
struct zk_hctx {
    struct zk *z;
    unsigned gen;
    int reaper; /* the handle that closes an old session */
};

/* A session event, copied for the loop. */
struct zk_event {
    struct zk *z;
    unsigned gen;
    int reaper;
    int state; /* ZOO_*_STATE */
};

struct zk {
    struct ev_loop *loop; /* borrowed until zk_close() */
    char *hosts;
    int timeout_ms; /* the session timeout asked for */
    zk_state_fn cb;
    void *arg;

    /* Loop thread only. */
    zhandle_t *zh; /* the current handle; NULL between a failure and a retry */
    struct zk_hctx *hctx;
    unsigned gen; /* of the current handle; bumped when one is closed */
    enum zk_state state;
    int negotiated_ms; /* of the last session; 0 before any */
    clientid_t session; /* the current handle's, once connected */
    int has_session;
    zhandle_t *reaper;
    struct zk_hctx *reaper_ctx;
    ev_timer expire; /* armed while disconnected */
    ev_timer retry;  /* armed while zh is NULL */
    int draining;    /* inside on_wake() */
    int closed;

    /* Messages for the loop: any thread. */
    ev_async wake;
    pthread_mutex_t mu;
    struct zk_msg *head, *tail;
};

/* ------------------------------------------------------------------ */
/* libzookeeper's log                                                  */
/* ------------------------------------------------------------------ */

static pthread_mutex_t zlog_mu = PTHREAD_MUTEX_INITIALIZER;
static char zlog_last[256];
static time_t zlog_last_at;

/*
 * libzookeeper's lines, from any thread, as "<time>:<pid>(<tid>):ZOO_ERROR
 * @<function>@<line>: <text>". We keep "<function>: <text>", log it at
 * WARN (what it calls an error is mostly a server that is down, which
 * agora reports by itself) and drop repeats.
 */
static void zlog(const char *message)
{
    const char *p = strstr(message, "ZOO_");
    const char *fn, *text;
    char line[512];
    time_t now = time(NULL);
    size_t n;
    int repeat;

    if (p == NULL || (fn = strchr(p, '@')) == NULL ||
        (text = strchr(fn + 1, '@')) == NULL ||
        (text = strchr(text, ' ')) == NULL) {
        fn = NULL;
        text = message;
    } else {
        text++;
    }
    if (fn != NULL)
        snprintf(line, sizeof(line), "%.*s: %s",
                 (int)(strchr(fn + 1, '@') - fn - 1), fn + 1, text);
    else
        snprintf(line, sizeof(line), "%s", text);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
        line[--n] = '\0';

    pthread_mutex_lock(&zlog_mu);
    repeat = strncmp(line, zlog_last, sizeof(zlog_last) - 1) == 0 &&
             now - zlog_last_at < ZK_LOG_REPEAT;
    if (!repeat) {
        memcpy(zlog_last, line, sizeof(zlog_last) - 1);
        zlog_last[sizeof(zlog_last) - 1] = '\0';
        zlog_last_at = now;
    }
    pthread_mutex_unlock(&zlog_mu);
    if (!repeat)
        log_warn("zk", "libzookeeper: %s", line);
}

/* ------------------------------------------------------------------ */
/* Messages to the loop                                                 */
/* ------------------------------------------------------------------ */

int zk_post(struct zk *z, void (*fn)(void *arg), void *arg)
{
    struct zk_msg *m = malloc(sizeof(*m));

    if (m == NULL)
        return AGORA_ENOMEM;
    m->fn = fn;
    m->arg = arg;
    m->next = NULL;
    pthread_mutex_lock(&z->mu);
    if (z->tail != NULL)
        z->tail->next = m;
    else
        z->head = m;
    z->tail = m;
    /* Under the lock: zk_close() stops wake only after taking it. */
    ev_async_send(z->loop, &z->wake);
    pthread_mutex_unlock(&z->mu);
    return 0;
}

static struct zk_msg *pop_msg(struct zk *z)
{
    struct zk_msg *m;

    pthread_mutex_lock(&z->mu);
    m = z->head;
    if (m != NULL) {
        z->head = m->next;
        if (z->head == NULL)
            z->tail = NULL;
    }
    pthread_mutex_unlock(&z->mu);
    return m;
}

static void zk_free(struct zk *z)
{
    pthread_mutex_destroy(&z->mu);
    free(z->hosts);
    free(z);
}

/* Runs the messages in the order posted; a message may close z. */
static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    struct zk *z = w->data;
    struct zk_msg *m;

    z->draining = 1;
    while (!z->closed && (m = pop_msg(z)) != NULL) {
        m->fn(m->arg);
        free(m);
    }
    z->draining = 0;
    if (z->closed)
        zk_free(z);
}

/* ------------------------------------------------------------------ */
/* Handles                                                              */
/* ------------------------------------------------------------------ */

static void on_event(void *arg);

/* libzookeeper's thread: hand a session event to the loop. Node watches
 * set with the global watcher are not ours to handle (users of the
 * session set their own watchers with zoo_aw*()). */
static void watcher(zhandle_t *zh, int type, int state, const char *path,
                    void *ctx)
{
    struct zk_hctx *h = ctx;
    struct zk_event *ev;

    if (type != ZOO_SESSION_EVENT || h == NULL)
        return;
    ev = malloc(sizeof(*ev));
    if (ev == NULL)
        return; /* the expiry timer still bounds how long we miss it */
    ev->z = h->z;
    ev->gen = h->gen;
    ev->reaper = h->reaper;
    ev->state = state;
    if (zk_post(h->z, on_event, ev) != 0)
        free(ev);
}

/* A handle for session id (NULL: a new session); NULL on failure, logged. */
static zhandle_t *make_handle(struct zk *z, const clientid_t *id,
                              struct zk_hctx **hctx, int reaper)
{
    struct zk_hctx *h = calloc(1, sizeof(*h));
    zhandle_t *zh;

    if (h == NULL)
        return NULL;
    h->z = z;
    h->gen = z->gen;
    h->reaper = reaper;
    errno = 0;
    zh = zookeeper_init2(z->hosts, watcher, z->timeout_ms, id, h, 0, zlog);
    if (zh == NULL) {
        log_error("zk", "cannot make a ZooKeeper handle for %s: %s",
                  z->hosts, strerror(errno ? errno : EINVAL));
        free(h);
        return NULL;
    }
    *hctx = h;
    return zh;
}

/* Closes zh and frees its context; blocks while libzookeeper joins its
 * threads (and, when connected, sends the close of the session). */
static void close_handle(zhandle_t **zh, struct zk_hctx **hctx)
{
    if (*zh != NULL)
        zookeeper_close(*zh);
    *zh = NULL;
    free(*hctx);
    *hctx = NULL;
}

static void close_reaper(struct zk *z)
{
    close_handle(&z->reaper, &z->reaper_ctx);
}

/* Makes the current handle, or arms the retry timer. */
static void open_handle(struct zk *z)
{
    z->has_session = 0;
    z->zh = make_handle(z, NULL, &z->hctx, 0);
    if (z->zh == NULL && !ev_is_active(&z->retry)) {
        ev_timer_set(&z->retry, ZK_RETRY_DELAY, 0.);
        ev_timer_start(z->loop, &z->retry);
    }
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct zk *z = w->data;

    if (z->zh == NULL)
        open_handle(z);
}

/* ------------------------------------------------------------------ */
/* States                                                               */
/* ------------------------------------------------------------------ */

static const char *state_name(enum zk_state s)
{
    switch (s) {
    case ZK_CONNECTING:
        return "connecting";
    case ZK_CONNECTED:
        return "connected";
    case ZK_DISCONNECTED:
        return "disconnected";
    case ZK_EXPIRED:
        return "expired";
    }
    return "?";
}

/* Records s and reports it when it changed. Last thing a handler does:
 * the callback may close z. */
static void set_state(struct zk *z, enum zk_state s)
{
    if (z->state == s)
        return;
    z->state = s;
    log_debug("zk", "session %s", state_name(s));
    if (z->cb != NULL)
        z->cb(z->arg, s);
}

/*
 * The session is gone: close its handle, start a new one, report
 * ZK_EXPIRED. ours: we gave up on it ourselves (it may live on the
 * servers: reap it).
 */
static void expire(struct zk *z, const char *why, int ours)
{
    clientid_t old = z->session;
    int reap = ours && z->has_session;

    log_warn("zk", "session 0x%llx %s", (unsigned long long)old.client_id,
             why);
    ev_timer_stop(z->loop, &z->expire);
    close_handle(&z->zh, &z->hctx);
    z->gen++;
    if (reap) {
        close_reaper(z); /* an older one still waiting: give it up */
        z->reaper = make_handle(z, &old, &z->reaper_ctx, 1);
    }
    open_handle(z);
    set_state(z, ZK_EXPIRED);
}

static void on_expire_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct zk *z = w->data;

    if (z->state == ZK_DISCONNECTED)
        expire(z, "expired: no connection for a whole session timeout", 1);
}

static void on_connected(struct zk *z)
{
    const clientid_t *id = zoo_client_id(z->zh);

    ev_timer_stop(z->loop, &z->expire);
    z->negotiated_ms = zoo_recv_timeout(z->zh);
    if (!z->has_session || id->client_id != z->session.client_id) {
        z->session = *id;
        z->has_session = 1;
        log_info("zk", "session 0x%llx with %s, timeout %.1fs",
                 (unsigned long long)id->client_id, z->hosts,
                 z->negotiated_ms / 1000.0);
    } else {
        log_info("zk", "session 0x%llx reconnected",
                 (unsigned long long)id->client_id);
    }
    set_state(z, ZK_CONNECTED);
}

static void on_connection_lost(struct zk *z)
{
    double timeout = (z->negotiated_ms > 0 ? z->negotiated_ms
                                           : z->timeout_ms) /
                     1000.0;

    if (z->state != ZK_CONNECTED)
        return; /* still connecting: nothing changes */
    log_warn("zk", "lost the connection to ZooKeeper (session 0x%llx); "
             "reconnecting for up to %.1fs",
             (unsigned long long)z->session.client_id, timeout);
    ev_timer_stop(z->loop, &z->expire);
    ev_timer_set(&z->expire, timeout, 0.);
    ev_timer_start(z->loop, &z->expire);
    set_state(z, ZK_DISCONNECTED);
}

/* The reaper's session is connected (still alive: close it, which ends it
 * on the server) or dead: either way the reaper is done. */
static void on_reaper_event(struct zk *z, int state)
{
    if (state == ZOO_CONNECTED_STATE) {
        log_info("zk", "closed the old session 0x%llx",
                 (unsigned long long)zoo_client_id(z->reaper)->client_id);
        close_reaper(z);
    } else if (state == ZOO_EXPIRED_SESSION_STATE ||
               state == ZOO_AUTH_FAILED_STATE) {
        close_reaper(z);
    }
}

/* The loop: a session event of some handle. */
static void on_event(void *arg)
{
    struct zk_event *ev = arg;
    struct zk *z = ev->z;
    unsigned gen = ev->gen;
    int state = ev->state, reaper = ev->reaper;

    free(ev);
    if (reaper) {
        if (z->reaper_ctx != NULL && z->reaper_ctx->gen == gen)
            on_reaper_event(z, state);
        return;
    }
    if (gen != z->gen || z->zh == NULL)
        return; /* an event of a handle closed since */
    if (state == ZOO_CONNECTED_STATE)
        on_connected(z);
    else if (state == ZOO_EXPIRED_SESSION_STATE)
        expire(z, "expired (ZooKeeper says so)", 0);
    else if (state == ZOO_AUTH_FAILED_STATE)
        expire(z, "failed to authenticate", 0);
    else
        on_connection_lost(z);
}

/* ------------------------------------------------------------------ */
/* The interface                                                        */
/* ------------------------------------------------------------------ */

int zk_open(struct ev_loop *loop, const char *hosts, double session_timeout,
            zk_state_fn cb, void *arg, struct zk **out)
{
    struct zk *z;

    if (loop == NULL || hosts == NULL || hosts[0] == '\0' || out == NULL ||
        !(session_timeout > 0 && session_timeout < 3600))
        return AGORA_EINVAL;
    z = calloc(1, sizeof(*z));
    if (z == NULL)
        return AGORA_ENOMEM;
    z->hosts = strdup(hosts);
    if (z->hosts == NULL || pthread_mutex_init(&z->mu, NULL) != 0) {
        free(z->hosts);
        free(z);
        return AGORA_ENOMEM;
    }
    z->loop = loop;
    z->timeout_ms = (int)(session_timeout * 1000 + 0.5);
    z->cb = cb;
    z->arg = arg;
    z->state = ZK_CONNECTING;
    ev_async_init(&z->wake, on_wake);
    z->wake.data = z;
    ev_timer_init(&z->expire, on_expire_timer, 0., 0.);
    z->expire.data = z;
    ev_timer_init(&z->retry, on_retry, 0., 0.);
    z->retry.data = z;

    /* Started before the handle: libzookeeper's thread may connect and
     * post at once, and ev_async_start() forgets a send made before it
     * (the session's first report was then lost on a loaded machine). */
    ev_async_start(loop, &z->wake);
    /* A session alone does not keep ev_run() going. */
    ev_unref(loop);
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    z->zh = make_handle(z, NULL, &z->hctx, 0);
    if (z->zh == NULL) {
        ev_ref(loop);
        ev_async_stop(loop, &z->wake);
        zk_free(z);
        return AGORA_EINVAL;
    }
    log_info("zk", "connecting to %s (session timeout %.1fs)", hosts,
             session_timeout);
    *out = z;
    return 0;
}

zhandle_t *zk_handle(struct zk *z)
{
    return z->zh;
}

enum zk_state zk_state(const struct zk *z)
{
    return z->state;
}

double zk_session_timeout(const struct zk *z)
{
    return z->negotiated_ms / 1000.0;
}

void zk_close(struct zk *z)
{
    struct zk_msg *m;

    if (z == NULL || z->closed)
        return;
    z->closed = 1;
    ev_timer_stop(z->loop, &z->expire);
    ev_timer_stop(z->loop, &z->retry);
    close_reaper(z);
    close_handle(&z->zh, &z->hctx);
    /* No thread of libzookeeper is left: what was posted stays unrun. */
    while ((m = pop_msg(z)) != NULL) {
        free(m->arg);
        free(m);
    }
    ev_ref(z->loop);
    ev_async_stop(z->loop, &z->wake);
    log_info("zk", "closed the session with %s", z->hosts);
    if (!z->draining)
        zk_free(z);
}

/* ------------------------------------------------------------------ */
/* URLs and errors                                                      */
/* ------------------------------------------------------------------ */

/* host:port or host (port 2181 then); host non-empty, port 1-65535. */
static int host_valid(const char *h, size_t n)
{
    const char *colon = memrchr(h, ':', n);
    size_t i, hn = colon ? (size_t)(colon - h) : n;
    long port = 0;

    if (n == 0 || hn == 0)
        return 0;
    for (i = 0; i < hn; i++)
        if (h[i] <= ' ' || h[i] == '/' || h[i] == '@' || h[i] == ',')
            return 0;
    if (colon == NULL)
        return 1;
    if (colon + 1 == h + n)
        return 0;
    for (i = (size_t)(colon - h) + 1; i < n; i++) {
        if (h[i] < '0' || h[i] > '9')
            return 0;
        port = port * 10 + (h[i] - '0');
        if (port > 65535)
            return 0;
    }
    return port > 0;
}

/* "h1,h2:2182" -> "h1:2181,h2:2182" (malloc'ed); NULL when invalid. */
static char *hosts_normalize(const char *s, size_t n)
{
    char *out = malloc(n * 2 + 16), *p = out;
    size_t i = 0;

    if (out == NULL)
        return NULL;
    while (i <= n) {
        size_t j = i;

        while (j < n && s[j] != ',')
            j++;
        if (!host_valid(s + i, j - i)) {
            free(out);
            return NULL;
        }
        if (p != out)
            *p++ = ',';
        memcpy(p, s + i, j - i);
        p += j - i;
        if (memchr(s + i, ':', j - i) == NULL) {
            memcpy(p, ":2181", 5);
            p += 5;
        }
        i = j + 1;
    }
    *p = '\0';
    return out;
}

/* A ZooKeeper path for agora's root: "/seg[/seg...]", no empty, "." or
 * ".." segment, no control character, and not ZooKeeper's own /zookeeper. */
static int root_valid(const char *r, size_t n)
{
    size_t i, seg = 1;

    if (n < 2 || r[0] != '/')
        return 0;
    for (i = 1; i <= n; i++) {
        if (i == n || r[i] == '/') {
            size_t len = i - seg;

            if (len == 0 || (len == 1 && r[seg] == '.') ||
                (len == 2 && r[seg] == '.' && r[seg + 1] == '.'))
                return 0;
            if (seg == 1 && len == 9 && memcmp(r + 1, "zookeeper", 9) == 0)
                return 0;
            seg = i + 1;
        } else if ((unsigned char)r[i] < 0x20 || r[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

int zk_parse_url(const char *url, char **hosts, char **root)
{
    static const char scheme[] = "zk://";
    const char *h, *slash;
    size_t rn;

    if (url == NULL || hosts == NULL || root == NULL)
        return AGORA_EINVAL;
    *hosts = *root = NULL;
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
        log_error("zk", "%s: not a zk://host:port[,host:port...]/path URL",
                  url);
        return AGORA_EINVAL;
    }
    h = url + sizeof(scheme) - 1;
    slash = strchr(h, '/');
    if (memchr(h, '@', slash ? (size_t)(slash - h) : strlen(h)) != NULL) {
        log_error("zk", "%s: credentials (zk://user:pass@...) are not "
                  "supported", url);
        return AGORA_EINVAL;
    }
    rn = slash ? strlen(slash) : 0;
    while (rn > 1 && slash[rn - 1] == '/')
        rn--; /* zk://h/agora/ is zk://h/agora */
    if (slash == NULL || rn <= 1) {
        log_error("zk", "%s: a path is required (zk://host:2181/agora)",
                  url);
        return AGORA_EINVAL;
    }
    if (!root_valid(slash, rn)) {
        log_error("zk", "%s: invalid path", url);
        return AGORA_EINVAL;
    }
    *hosts = hosts_normalize(h, (size_t)(slash - h));
    if (*hosts == NULL) {
        log_error("zk", "%s: invalid host list", url);
        return AGORA_EINVAL;
    }
    *root = strndup(slash, rn);
    if (*root == NULL) {
        free(*hosts);
        *hosts = NULL;
        return AGORA_ENOMEM;
    }
    return 0;
}

int zk_err(int zrc)
{
    switch (zrc) {
    case ZOK:
        return 0;
    case ZNONODE:
        return AGORA_ENOENT;
    case ZNODEEXISTS:
        return AGORA_EEXIST;
    case ZBADVERSION:
        return AGORA_EVERSION;
    case ZNOTEMPTY:
        return AGORA_ESTATE; /* the node has children: a state, not an arg */
    case ZBADARGUMENTS:
        return AGORA_EINVAL;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZSESSIONEXPIRED:
    case ZSESSIONMOVED:
    case ZCLOSING:
    case ZINVALIDSTATE:
    case ZTHROTTLEDOP:
        return AGORA_EUNAVAIL;
    default:
        return AGORA_EIO;
    }
}

long long zk_leader_member_seq(const char *name)
{
    const char *p;
    long long seq = 0;

    if (strncmp(name, ZK_LEADER_MEMBER_PREFIX, strlen(ZK_LEADER_MEMBER_PREFIX)) != 0)
        return -1;
    p = name + strlen(ZK_LEADER_MEMBER_PREFIX);
    if (*p == '\0')
        return -1;
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p) || seq > (INT64_MAX - 9) / 10)
            return -1;
        seq = seq * 10 + (*p - '0');
    }
    return seq;
}
