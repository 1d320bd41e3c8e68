/*
 * standby.c - what a master that does not lead does with requests:
 * redirects them to the leader, or holds them while the leader is gone
 * and ZooKeeper has not named the next one yet.
 *
 * A leader that dies keeps its znode until its session expires, up to a
 * session timeout later. A standby that redirected clients to it in that
 * time would send them to a dead address, and they would retry with a
 * backoff that outlasts the election. So a standby keeps a connection to
 * the leader it knows (GET /master/events, a stream the leader holds
 * open, filtered to the rare leader_deposed so that the leader sends
 * little but its keep-alives): when it ends, and a new connection is
 * refused, the leader is gone, and the requests the standby would
 * redirect wait until ZooKeeper names a leader (then each goes to it, or
 * to this master itself if it was elected), or for a session timeout and
 * a second. A hold that runs out means the
 * connection lied (the leader lives but is out of this master's reach):
 * then nothing more is held until the next leader.
 */
#include "standby.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "http.h"
#include "leader.h"
#include "log.h"
#include "master.h"
#include "zk.h"

/* A request waiting for the next leader; plugin: the name of the plugin
 * whose port it came to (a copy: a reload may free the plugin), or NULL
 * for the master's port. */
struct held {
    struct held *next;
    struct http_req *req;
    char *plugin;
};

struct standby {
    struct master *m;
    int fd;          /* the connection to the leader, -1 when none */
    ev_io io;
    int sent;        /* its request went out                       */
    int retried;     /* it ended once already in this term         */
    int gone;        /* it ended: the leader is gone               */
    int trust;       /* holding is allowed in this leader's term   */
    struct held *held, **tail;
    size_t nheld;
    ev_timer hold_timer;
};

/* ---- who leads, for /master/state and redirects ---- */

int standby_leader_info(struct master *m, char **ip, int64_t *port,
                       char **hostname, yajl_val *doc)
{
    const char *cur = m->leader ? leader_current(m->leader) : NULL;
    const char *id;
    char why[128];
    yajl_val d;

    *doc = NULL;
    if (m->elected || cur == NULL) {
        *ip = m->advertise_ip;
        *port = m->conf.port;
        *hostname = m->conf.hostname;
        return m->elected ? 0 : AGORA_ENOENT;
    }
    d = agora_json_parse(cur, why, sizeof(why));
    if (d == NULL || agora_json_str(d, "ip", (const char **)ip) < 0 ||
        agora_json_int(d, "port", port) < 0 ||
        /* our own znode of a term that ended: nobody we know leads */
        (agora_json_str(d, "id", &id) == 0 && strcmp(id, m->id) == 0)) {
        if (d)
            yajl_tree_free(d);
        return AGORA_ENOENT;
    }
    if (agora_json_str(d, "hostname", (const char **)hostname) < 0)
        *hostname = *ip;
    *doc = d;
    return 0;
}

/* ---- the answers ---- */

/* Paths a standby serves itself: its own state, not the cluster's. */
static int standby_serves(const char *path)
{
    static const char *const own[] = {"/health", "/version",
                                      "/metrics/snapshot", "/master/state",
                                      "/master/state.json", "/state",
                                      "/state.json", "/master/redirect"};
    size_t i;

    for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (strcmp(path, own[i]) == 0)
            return 1;
    return 0;
}

/* To the request's path and query, as it came, on host:port, with the
 * scheme the leader serves (its data says "scheme": "https" then). */
static void redirect_to(struct http_req *req, yajl_val doc, const char *host,
                        int64_t port, const char *path)
{
    const char *query = http_req_query_string(req);
    const char *scheme = doc ? agora_json_get_str(doc, "scheme") : NULL;
    char *loc;

    if (scheme == NULL || strcmp(scheme, "https") != 0)
        scheme = "http";
    if (asprintf(&loc, "%s://%s:%lld%s%s%s", scheme, host, (long long)port,
                 path,
                 query && *query ? "?" : "", query ? query : "") < 0) {
        http_reply_error(req, 503, "out of memory");
        return;
    }
    http_reply_header(req, "Location", loc);
    http_reply_errorf(req, 307, "this master does not lead: %s", loc);
    free(loc);
}

static void no_leader(struct http_req *req)
{
    http_reply_error(req, 503, "no leading master is known yet");
}

/*
 * Sends req to the leader (this master itself once elected). A plugin
 * port's request goes to the same plugin's port on the leader, or to
 * /<name>/... on the leader's master port when it published none.
 */
static void standby_answer(struct master *m, struct http_req *req,
                           const char *plugin)
{
    yajl_val doc, ports;
    char *ip, *host, *path;
    int64_t port, pport = 0;

    if (standby_leader_info(m, &ip, &port, &host, &doc) < 0) {
        no_leader(req);
        return;
    }
    ports = doc && plugin ? agora_json_get(doc, "plugin_ports") : NULL;
    if (plugin == NULL) {
        redirect_to(req, doc, ip, port, http_req_path(req));
    } else if (ports && agora_json_int(ports, plugin, &pport) == 0 &&
               pport > 0) {
        redirect_to(req, doc, ip, pport, http_req_path(req));
    } else if (asprintf(&path, "/%s%s", plugin, http_req_path(req)) >= 0) {
        redirect_to(req, doc, ip, port, path);
        free(path);
    } else {
        no_leader(req);
    }
    if (doc)
        yajl_tree_free(doc);
}

/* ---- holding ---- */

static void standby_release(struct standby *s)
{
    struct held *h = s->held;

    s->held = NULL;
    s->tail = &s->held;
    s->nheld = 0;
    ev_timer_stop(s->m->loop, &s->hold_timer);
    while (h) {
        struct held *next = h->next;

        standby_answer(s->m, h->req, h->plugin);
        free(h->plugin);
        free(h);
        h = next;
    }
}

/* Holds req when the leader is known to be gone; 0 when it is not held
 * (then it is answered at once). */
static int standby_hold(struct standby *s, struct http_req *req,
                        const char *plugin)
{
    struct held *h;
    double wait;

    if (s == NULL || !s->gone || !s->trust ||
        (h = calloc(1, sizeof(*h))) == NULL)
        return 0;
    if ((plugin && (h->plugin = strdup(plugin)) == NULL) ||
        http_defer(req) < 0) {
        free(h->plugin);
        free(h);
        return 0;
    }
    h->req = req;
    *s->tail = h;
    s->tail = &h->next;
    if (s->nheld++ == 0) {
        wait = zk_session_timeout(s->m->zk);
        ev_timer_set(&s->hold_timer, (wait > 0 ? wait : 10.) + 1., 0.);
        ev_timer_start(s->m->loop, &s->hold_timer);
    }
    return 1;
}

static void on_hold_timeout(struct ev_loop *loop, ev_timer *w, int events)
{
    struct standby *s = w->data;

    (void)loop;
    (void)events;
    log_warn("standby", "no new leader after the old one's connection "
                        "ended: redirecting %zu held request(s) to it, and "
                        "holding none until the next leader",
             s->nheld);
    s->trust = 0;
    standby_release(s);
}

/* ---- the connection to the leader ---- */

static void probe_close(struct standby *s)
{
    if (s->fd < 0)
        return;
    ev_io_stop(s->m->loop, &s->io);
    close(s->fd);
    s->fd = -1;
    s->sent = 0;
}

static void probe_gone(struct standby *s, const char *why)
{
    probe_close(s);
    if (s->gone)
        return;
    s->gone = 1;
    log_warn("standby", "the leader's connection ended (%s): holding "
                        "requests until ZooKeeper names the next leader",
             why);
}

static void probe_send(struct standby *s)
{
    char req[320];
    char *ip, *host;
    int64_t port;
    yajl_val doc;
    int n, err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
        probe_gone(s, strerror(err ? err : errno));
        return;
    }
    if (standby_leader_info(s->m, &ip, &port, &host, &doc) < 0) {
        probe_close(s);
        return;
    }
    n = snprintf(req, sizeof(req),
                 "GET /master/events?event_type=leader_deposed HTTP/1.1\r\n"
                 "Host: %s:%lld\r\n"
                 "Accept: text/event-stream\r\n\r\n",
                 ip, (long long)port);
    if (doc)
        yajl_tree_free(doc);
    /* A few bytes into an empty socket buffer: they all go at once. */
    if (n <= 0 || (size_t)n >= sizeof(req) ||
        send(s->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        probe_gone(s, "cannot send");
        return;
    }
    s->sent = 1;
    ev_io_stop(s->m->loop, &s->io);
    ev_io_set(&s->io, s->fd, EV_READ);
    ev_io_start(s->m->loop, &s->io);
}

static void probe_open(struct standby *s);

static void on_probe(struct ev_loop *loop, ev_io *w, int events)
{
    struct standby *s = w->data;
    char buf[4096];
    ssize_t n;

    (void)loop;
    (void)events;
    if (!s->sent) {
        probe_send(s);
        return;
    }
    /* The stream's events are not needed: only that it lasts. */
    n = read(s->fd, buf, sizeof(buf));
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
        return;
    if (!s->retried) {
        /* A stream may end for other reasons (the leader restarted its
         * server, a proxy between): a dead leader also refuses a new
         * connection, a live one takes it. */
        s->retried = 1;
        probe_close(s);
        probe_open(s);
        return;
    }
    probe_gone(s, n == 0 ? "closed" : strerror(errno));
}

/* Connects to the leader's numeric address (no blocking lookup). */
static void probe_open(struct standby *s)
{
    struct addrinfo hints, *ai = NULL;
    char *ip, *host, portstr[16];
    int64_t port;
    yajl_val doc;
    int rc;

    if (standby_leader_info(s->m, &ip, &port, &host, &doc) < 0)
        return;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%lld", (long long)port);
    rc = getaddrinfo(ip, portstr, &hints, &ai);
    if (doc)
        yajl_tree_free(doc);
    if (rc != 0 || ai == NULL)
        return; /* not an address: nothing to watch, nothing held */
    s->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   0);
    rc = s->fd < 0 || connect(s->fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
                 errno == EINPROGRESS
             ? 0
             : errno;
    freeaddrinfo(ai);
    if (rc != 0) {
        probe_gone(s, strerror(rc));
        return;
    }
    if (s->fd < 0)
        return;
    ev_io_set(&s->io, s->fd, EV_WRITE);
    ev_io_start(s->m->loop, &s->io);
}

/* ---- the interface ---- */

void standby_update(struct master *m)
{
    struct standby *s = m->standby;

    if (s == NULL)
        return;
    probe_close(s);
    s->gone = 0;
    s->retried = 0;
    s->trust = 1;
    if (!m->elected && m->leader && leader_current(m->leader))
        probe_open(s);
    if (!s->gone)
        standby_release(s);
}

int standby_open(struct master *m)
{
    struct standby *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return AGORA_ENOMEM;
    s->m = m;
    s->fd = -1;
    s->trust = 1;
    s->tail = &s->held;
    ev_init(&s->io, on_probe);
    s->io.data = s;
    ev_init(&s->hold_timer, on_hold_timeout);
    s->hold_timer.data = s;
    m->standby = s;
    return 0;
}

void standby_close(struct master *m)
{
    struct standby *s = m->standby;
    struct held *h;

    if (s == NULL)
        return;
    probe_close(s);
    ev_timer_stop(m->loop, &s->hold_timer);
    while ((h = s->held) != NULL) {
        s->held = h->next;
        http_reply_error(h->req, 503, "this master is shutting down");
        free(h->plugin);
        free(h);
    }
    free(s);
    m->standby = NULL;
}

void standby_drop_server(struct master *m, struct http_server *srv)
{
    struct standby *s = m->standby;
    struct held **pp, *h;

    if (s == NULL)
        return;
    for (pp = &s->held; (h = *pp) != NULL;) {
        if (http_req_server(h->req) != srv) {
            pp = &h->next;
            continue;
        }
        *pp = h->next;
        s->nheld--;
        http_reply_error(h->req, 503, "this port is closing");
        free(h->plugin);
        free(h);
    }
    s->tail = pp;
    if (s->nheld == 0)
        ev_timer_stop(m->loop, &s->hold_timer);
}

int standby_http_filter(void *arg, struct http_req *req)
{
    struct master *m = arg;

    if (m->elected || standby_serves(http_req_path(req)))
        return 0;
    if (!standby_hold(m->standby, req, NULL))
        standby_answer(m, req, NULL);
    return 1;
}

int standby_plugin_filter(void *arg, struct http_req *req)
{
    struct plugin *p = arg;
    struct master *m = p->m;

    if (m->elected)
        return 0;
    if (!standby_hold(m->standby, req, p->name))
        standby_answer(m, req, p->name);
    return 1;
}
