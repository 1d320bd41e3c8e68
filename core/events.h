/*
 * events.h - the master's event bus: GET /master/events.
 *
 * Subscribers are server-sent-event streams. Each event is written as
 *     event: <type>
 *     data: <one line of JSON>
 * followed by a blank line; a ":\n\n" comment keeps idle streams open
 * through proxies and tells a departed client's socket apart.
 */
#ifndef AGORA_EVENTS_H
#define AGORA_EVENTS_H

#include <stddef.h>

struct http_req;
struct http_stream;

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
};

/* Turns req into a subscription (query ?event_type= filters). */
int events_subscribe(struct events *ev, struct http_req *req);

/*
 * Sends an event to every subscriber. type is [A-Za-z0-9_.-]+ and json a
 * JSON document without newlines (both checked: AGORA_EINVAL).
 */
int events_publish(struct events *ev, const char *type, const char *json);

/* Ends every subscription. */
void events_close(struct events *ev);

#endif /* AGORA_EVENTS_H */
