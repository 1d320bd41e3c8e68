/*
 * http_guard.h - who may hold a server's connections, and for how long
 * without a request.
 *
 * libmicrohttpd's own limits are one total (past it everyone is refused)
 * and an idle timeout that every byte resets, so ~20,000 idle
 * connections from one host, or a few thousand that send a header byte
 * now and then, locked everyone out. The guard adds, per server:
 *   - a limit of connections per client address (refused at accept);
 *   - a reserve (5% of the total, at least 16): past (limit - reserve)
 *     connections in all, only an address holding fewer than
 *     HTTP_GUARD_RESERVE_PER_IP gets in, in the place of the oldest
 *     connection that has sent no request (shut), so a health checker
 *     or an agent (one stream, one updates connection) still reaches
 *     the server while others hold every place with idle connections;
 *   - a deadline for a request's headers to be complete, from the accept
 *     (or from the end of the previous request on a kept-alive
 *     connection), which no trickle of bytes extends: past it the socket
 *     is shut down and libmicrohttpd closes the connection.
 * It runs on the loop thread, inside libmicrohttpd's callbacks and on a
 * timer of its own.
 */
#ifndef AGORA_HTTP_GUARD_H
#define AGORA_HTTP_GUARD_H

#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

struct ev_loop;
struct http_guard;

/* Addresses holding fewer connections than this may use the reserve. */
#define HTTP_GUARD_RESERVE_PER_IP 4

struct http_guard_conf {
    const char *name;      /* for logs                                  */
    unsigned max_conns;    /* the server's total (libmicrohttpd's)      */
    unsigned per_ip;       /* 0: no limit per address                   */
    double header_timeout; /* seconds from accept to complete headers   */
    double idle_timeout;   /* seconds from a request's end to the next
                            * one's complete headers (kept-alive)       */
};

struct http_guard_stats {
    uint64_t refused_per_ip;   /* over the per-address limit          */
    uint64_t refused_reserve;  /* over the total less the reserve     */
    uint64_t header_timeouts;  /* shut for not sending headers in time */
    uint64_t evicted;          /* shut to make room in the reserve     */
    unsigned conns;            /* connections open now                 */
};

/* A guard on loop; NULL when out of memory. conf is copied. */
struct http_guard *http_guard_new(struct ev_loop *loop,
                                  const struct http_guard_conf *conf);
/* Frees g (after its server stopped: no callback may come). */
void http_guard_free(struct http_guard *g);

/* libmicrohttpd's accept policy and connection notifications, cls g. */
enum MHD_Result http_guard_accept(void *cls, const struct sockaddr *addr,
                                  socklen_t len);
void http_guard_notify(void *cls, struct MHD_Connection *conn,
                       void **socket_context,
                       enum MHD_ConnectionNotificationCode toe);

/* conn's request headers are complete: its deadline is off. */
void http_guard_headers_done(struct MHD_Connection *conn);
/* conn's request ended: the next one's headers are due within the idle
 * timeout (the connection ends otherwise). */
void http_guard_request_done(struct MHD_Connection *conn);

void http_guard_stats(const struct http_guard *g, struct http_guard_stats *out);

#endif /* AGORA_HTTP_GUARD_H */
