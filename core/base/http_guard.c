/*
 * http_guard.c - per-address limits, a reserve and header deadlines for
 * one HTTP server (see http_guard.h).
 *
 * Each connection has an entry (libmicrohttpd's socket context) counted
 * under its address. An entry waiting for headers is on one of two FIFO
 * lists, new connections and kept-alive ones, each in deadline order
 * since its timeout is the same for all: a tick looks only at the heads.
 */
#include "http_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "log.h"
#include "map.h"

#define GUARD_TICK 0.25
#define GUARD_ADDR_MAX 48

struct guard_ip {
    char addr[GUARD_ADDR_MAX];
    unsigned n;
};

struct guard_conn;

struct guard_list {
    struct guard_conn *head, *tail;
};

struct guard_conn {
    struct http_guard *g;
    struct guard_ip *ip;
    int fd;
    double deadline;
    struct guard_list *list; /* the list it is on, NULL when none */
    struct guard_conn *prev, *next;
};

struct http_guard {
    struct ev_loop *loop;
    struct http_guard_conf conf;
    char *name;
    struct map by_ip;            /* address -> struct guard_ip (borrowed keys) */
    struct guard_list fresh, idle;
    ev_timer tick;
    unsigned conns;
    struct http_guard_stats st;
};

static void guard_addr(const struct sockaddr *sa, char *out, size_t len)
{
    const void *a = NULL;

    snprintf(out, len, "?");
    if (sa && sa->sa_family == AF_INET)
        a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (sa && sa->sa_family == AF_INET6)
        a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (a && inet_ntop(sa->sa_family, a, out, (socklen_t)len) == NULL)
        snprintf(out, len, "?");
}

/* ---- the deadline lists ---- */

static void guard_unlist(struct guard_conn *c)
{
    struct guard_list *l = c->list;

    if (l == NULL)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    c->list = NULL;
}

static void guard_list_add(struct guard_list *l, struct guard_conn *c,
                           double deadline)
{
    guard_unlist(c);
    c->deadline = deadline;
    c->prev = l->tail;
    c->next = NULL;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    c->list = l;
}

/* Shuts the sockets of the head entries past their deadline. shutdown()
 * and not close(): libmicrohttpd still owns the descriptor, sees the end
 * and frees the connection itself. */
static void guard_expire(struct http_guard *g, struct guard_list *l,
                         double now)
{
    while (l->head && l->head->deadline <= now) {
        struct guard_conn *c = l->head;

        guard_unlist(c);
        g->st.header_timeouts++;
        log_debug("http", "%s: %s sent no complete request in time: closed",
                  g->name, c->ip ? c->ip->addr : "?");
        shutdown(c->fd, SHUT_RDWR);
    }
}

/* Shuts the oldest connection that has not sent a request (kept-alive
 * ones first); its place is free once libmicrohttpd has seen it end. */
static void guard_evict(struct http_guard *g)
{
    struct guard_conn *c = g->idle.head ? g->idle.head : g->fresh.head;

    if (c == NULL)
        return;
    guard_unlist(c);
    g->st.evicted++;
    shutdown(c->fd, SHUT_RDWR);
}

static void guard_on_tick(struct ev_loop *loop, ev_timer *w, int events)
{
    struct http_guard *g = w->data;
    double now = ev_now(loop);

    (void)events;
    guard_expire(g, &g->fresh, now);
    guard_expire(g, &g->idle, now);
}

/* ---- life ---- */

struct http_guard *http_guard_new(struct ev_loop *loop,
                                  const struct http_guard_conf *conf)
{
    struct http_guard *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return NULL;
    g->loop = loop;
    g->conf = *conf;
    g->name = strdup(conf->name ? conf->name : "http");
    if (g->name == NULL) {
        free(g);
        return NULL;
    }
    g->by_ip.borrowed = 1;
    ev_timer_init(&g->tick, guard_on_tick, GUARD_TICK, GUARD_TICK);
    g->tick.data = g;
    ev_timer_start(loop, &g->tick);
    return g;
}

void http_guard_free(struct http_guard *g)
{
    size_t pos = 0;
    void *v;

    if (g == NULL)
        return;
    ev_timer_stop(g->loop, &g->tick);
    while (map_next(&g->by_ip, &pos, NULL, &v))
        free(v);
    map_free(&g->by_ip);
    free(g->name);
    free(g);
}

/* ---- libmicrohttpd's callbacks ---- */

enum MHD_Result http_guard_accept(void *cls, const struct sockaddr *addr,
                                  socklen_t len)
{
    struct http_guard *g = cls;
    char a[GUARD_ADDR_MAX];
    struct guard_ip *ip;
    unsigned reserve, held;

    (void)len;
    guard_addr(addr, a, sizeof(a));
    ip = map_get(&g->by_ip, a);
    held = ip ? ip->n : 0;
    if (g->conf.per_ip && held >= g->conf.per_ip) {
        g->st.refused_per_ip++;
        return MHD_NO;
    }
    reserve = g->conf.max_conns / 20;
    if (reserve < 16)
        reserve = 16;
    if (g->conf.max_conns <= reserve || g->conns < g->conf.max_conns - reserve)
        return MHD_YES;
    /* In the reserve: only an address that holds few gets in, and it
     * takes the place of a connection that has not sent a request (the
     * oldest), so that many such addresses cannot fill the reserve
     * either. */
    if (held >= HTTP_GUARD_RESERVE_PER_IP || g->conns + 1 >= g->conf.max_conns) {
        if (held < HTTP_GUARD_RESERVE_PER_IP)
            guard_evict(g); /* room for the next one */
        g->st.refused_reserve++;
        return MHD_NO;
    }
    guard_evict(g);
    return MHD_YES;
}

static struct guard_ip *guard_ip_get(struct http_guard *g, const char *a)
{
    struct guard_ip *ip = map_get(&g->by_ip, a);

    if (ip)
        return ip;
    ip = calloc(1, sizeof(*ip));
    if (ip == NULL)
        return NULL;
    snprintf(ip->addr, sizeof(ip->addr), "%s", a);
    if (map_put(&g->by_ip, ip->addr, ip, NULL) < 0) {
        free(ip);
        return NULL;
    }
    return ip;
}

static void guard_started(struct http_guard *g, struct MHD_Connection *conn,
                          void **ctx)
{
    const union MHD_ConnectionInfo *ci;
    struct guard_conn *c = calloc(1, sizeof(*c));
    char a[GUARD_ADDR_MAX];

    *ctx = c;
    if (c == NULL)
        return; /* not counted: it cannot be shut, nor tell its address */
    c->g = g;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    guard_addr(ci ? ci->client_addr : NULL, a, sizeof(a));
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->fd = ci ? ci->connect_fd : -1;
    if ((c->ip = guard_ip_get(g, a)) != NULL)
        c->ip->n++;
    g->conns++;
    if (c->fd >= 0)
        guard_list_add(&g->fresh, c, ev_now(g->loop) + g->conf.header_timeout);
}

static void guard_closed(struct http_guard *g, struct guard_conn *c)
{
    guard_unlist(c);
    g->conns--;
    if (c->ip && --c->ip->n == 0) {
        map_remove(&g->by_ip, c->ip->addr);
        free(c->ip);
    }
    free(c);
}

void http_guard_notify(void *cls, struct MHD_Connection *conn,
                       void **socket_context,
                       enum MHD_ConnectionNotificationCode toe)
{
    struct http_guard *g = cls;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        guard_started(g, conn, socket_context);
    else if (*socket_context)
        guard_closed(g, *socket_context);
    if (toe != MHD_CONNECTION_NOTIFY_STARTED)
        *socket_context = NULL;
}

static struct guard_conn *guard_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? ci->socket_context : NULL;
}

void http_guard_headers_done(struct MHD_Connection *conn)
{
    struct guard_conn *c = guard_of(conn);

    if (c)
        guard_unlist(c);
}

void http_guard_request_done(struct MHD_Connection *conn)
{
    struct guard_conn *c = guard_of(conn);

    if (c && c->fd >= 0)
        guard_list_add(&c->g->idle, c,
                       ev_now(c->g->loop) + c->g->conf.idle_timeout);
}

void http_guard_stats(const struct http_guard *g, struct http_guard_stats *out)
{
    *out = g->st;
    out->conns = g->conns;
}
