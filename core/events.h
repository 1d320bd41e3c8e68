/*
 * events.h - the master's event bus: GET /master/events.
 *
 * Subscribers are server-sent-event streams. Each event is written as
 *     event: <type>
 *     data: <one line of JSON>
 * followed by a blank line; a ":\n\n" comment keeps idle streams open
 * through proxies and tells a departed client's socket apart.
 *
 * Listeners are functions on the loop (plugins' subscriptions). They get
 * each event on a later turn of the loop, never inside events_publish():
 * a publisher is often halfway through a change of state (an agent
 * becoming unreachable), and a listener may call back into the master.
 */
#ifndef AGORA_EVENTS_H
#define AGORA_EVENTS_H

#include <stddef.h>

#include <ev.h>

struct http_req;
struct http_stream;

/* type and json are borrowed for the call. */
typedef void (*events_fn)(void *arg, const char *type, const char *json);

struct events_listener {
    char *filter;  /* only this event type, or NULL for all       */
    events_fn fn;  /* NULL once removed during a delivery          */
    void *arg;
    struct events_listener *next;
};

struct events_queued {
    char *type, *json;
    struct events_queued *next;
};

struct events_sub {
    struct http_stream *stream;
    char *filter; /* only this event type, or NULL for all */
    struct events_sub *next;
};

struct events {
    struct events_sub *subs;
    size_t nsubs;
    unsigned long long published;
    double keepalive;

    struct ev_loop *loop;
    struct events_listener *listeners;
    struct events_queued *head, *tail; /* for listeners, not yet delivered */
    ev_timer deliver;                   /* delivers the queue next turn      */
    int delivering;
};

/* Readies ev on loop; SSE streams send a keepalive every `keepalive` s. */
void events_init(struct events *ev, struct ev_loop *loop, double keepalive);

/* Turns req into a subscription (query ?event_type= filters). */
int events_subscribe(struct events *ev, struct http_req *req);

/*
 * Sends an event to every subscriber. type is [A-Za-z0-9_.-]+ and json a
 * JSON document without newlines (both checked: AGORA_EINVAL).
 */
int events_publish(struct events *ev, const char *type, const char *json);

/*
 * Calls fn(arg, type, json) for each event of `type` (NULL: every event)
 * published from now on, on a later turn of the loop. The listener in
 * *out is valid until events_unlisten() or events_close(). 0, or
 * AGORA_EINVAL (no fn) or AGORA_ENOMEM.
 */
int events_listen(struct events *ev, const char *type, events_fn fn,
                  void *arg, struct events_listener **out);

/* Stops l at once (no event reaches it after this call); frees it. */
void events_unlisten(struct events *ev, struct events_listener *l);

/* Ends every subscription and listener; drops undelivered events. */
void events_close(struct events *ev);

#endif /* AGORA_EVENTS_H */
