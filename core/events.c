/*
 * events.c - server-sent events to subscribers (see events.h).
 */
#include "events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/plugin.h>

#include "http.h"
#include "log.h"

static int events_type_valid(const char *t);

static void events_unlink(struct events *ev, struct events_sub *sub)
{
    struct events_sub **pp;

    for (pp = &ev->subs; *pp; pp = &(*pp)->next) {
        if (*pp == sub) {
            *pp = sub->next;
            ev->nsubs--;
            return;
        }
    }
}

static void events_sub_free(struct events_sub *sub)
{
    free(sub->filter);
    free(sub);
}

/* The client went away: forget its subscription. */
static void events_on_close(void *arg, struct http_stream *s)
{
    struct events *ev = arg;
    struct events_sub *sub;

    for (sub = ev->subs; sub; sub = sub->next) {
        if (sub->stream == s) {
            events_unlink(ev, sub);
            events_sub_free(sub);
            return;
        }
    }
}

int events_subscribe(struct events *ev, struct http_req *req)
{
    const char *filter = http_req_query(req, "event_type", 0);
    struct events_sub *sub = calloc(1, sizeof(*sub));

    if (sub == NULL)
        return AGORA_ENOMEM;
    if (filter && *filter && (sub->filter = strdup(filter)) == NULL) {
        free(sub);
        return AGORA_ENOMEM;
    }
    sub->stream = http_stream_open(req, "text/event-stream", ev->keepalive,
                                   ":\n\n", 0, events_on_close, ev);
    if (sub->stream == NULL) {
        events_sub_free(sub);
        return AGORA_ENOMEM;
    }
    sub->next = ev->subs;
    ev->subs = sub;
    ev->nsubs++;
    return 0;
}

/* ---- listeners ---- */

static void events_queued_free(struct events_queued *q)
{
    if (q == NULL)
        return;
    free(q->type);
    free(q->json);
    free(q);
}

static void events_listener_free(struct events_listener *l)
{
    free(l->filter);
    free(l);
}

/* Frees the listeners removed while the queue was being delivered. */
static void events_sweep(struct events *ev)
{
    struct events_listener **pp = &ev->listeners;

    while (*pp) {
        struct events_listener *l = *pp;

        if (l->fn == NULL) {
            *pp = l->next;
            events_listener_free(l);
        } else {
            pp = &l->next;
        }
    }
}

/* Delivers what was queued before this turn; events published by a
 * listener wait for the next turn, so a feedback loop cannot spin here. */
static void events_on_deliver(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct events *ev = w->data;
    struct events_queued *q = ev->head, *last = ev->tail;

    (void)loop;
    (void)revents;
    ev->delivering = 1;
    while (q) {
        struct events_listener *l;
        int end = q == last;

        for (l = ev->listeners; l; l = l->next)
            if (l->fn && (l->filter == NULL || strcmp(l->filter, q->type) == 0))
                l->fn(l->arg, q->type, q->json);
        ev->head = q->next;
        if (ev->head == NULL)
            ev->tail = NULL;
        events_queued_free(q);
        if (end)
            break;
        q = ev->head;
    }
    ev->delivering = 0;
    events_sweep(ev);
    if (ev->head && !ev_is_active(&ev->deliver)) {
        ev_timer_set(&ev->deliver, 0, 0);
        ev_timer_start(ev->loop, &ev->deliver);
    }
}

int events_listen(struct events *ev, const char *type, events_fn fn,
                  void *arg, struct events_listener **out)
{
    struct events_listener *l;

    if (fn == NULL || (type && !events_type_valid(type)))
        return AGORA_EINVAL;
    if ((l = calloc(1, sizeof(*l))) == NULL)
        return AGORA_ENOMEM;
    if (type && (l->filter = strdup(type)) == NULL) {
        free(l);
        return AGORA_ENOMEM;
    }
    l->fn = fn;
    l->arg = arg;
    /* Appended: listeners hear an event in the order they listened. */
    {
        struct events_listener **pp = &ev->listeners;

        while (*pp)
            pp = &(*pp)->next;
        *pp = l;
    }
    *out = l;
    return 0;
}

void events_unlisten(struct events *ev, struct events_listener *l)
{
    struct events_listener **pp;

    l->fn = NULL;
    if (ev->delivering)
        return; /* freed by events_sweep() once the delivery is over */
    for (pp = &ev->listeners; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            events_listener_free(l);
            return;
        }
    }
}

static int events_type_valid(const char *t)
{
    if (*t == '\0')
        return 0;
    for (; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') ||
              (*t >= '0' && *t <= '9') || *t == '_' || *t == '.' ||
              *t == '-'))
            return 0;
    return 1;
}

void events_init(struct events *ev, struct ev_loop *loop, double keepalive)
{
    ev->loop = loop;
    ev->keepalive = keepalive;
    ev_init(&ev->deliver, events_on_deliver);
    ev->deliver.data = ev;
}

/* Queues a copy of the event for the listeners and wakes the loop. */
static int events_queue(struct events *ev, const char *type, const char *json)
{
    struct events_queued *q = calloc(1, sizeof(*q));

    if (q == NULL || (q->type = strdup(type)) == NULL ||
        (q->json = strdup(json)) == NULL) {
        events_queued_free(q);
        return AGORA_ENOMEM;
    }
    if (ev->tail)
        ev->tail->next = q;
    else
        ev->head = q;
    ev->tail = q;
    if (!ev_is_active(&ev->deliver)) {
        ev_timer_set(&ev->deliver, 0, 0);
        ev_timer_start(ev->loop, &ev->deliver);
    }
    return 0;
}

int events_publish(struct events *ev, const char *type, const char *json)
{
    struct events_sub *sub, *next;
    char *msg;
    int n;

    if (!events_type_valid(type) || strpbrk(json, "\r\n"))
        return AGORA_EINVAL;
    ev->published++;
    if (ev->listeners && events_queue(ev, type, json) < 0)
        log_error("events", "out of memory: event %s not delivered to "
                            "plugins", type);
    if (ev->subs == NULL)
        return 0;
    n = asprintf(&msg, "event: %s\ndata: %s\n\n", type, json);
    if (n < 0)
        return AGORA_ENOMEM;
    for (sub = ev->subs; sub; sub = next) {
        next = sub->next; /* a write may end the stream and free sub */
        if (sub->filter && strcmp(sub->filter, type) != 0)
            continue;
        http_stream_write(sub->stream, msg, (size_t)n);
    }
    free(msg);
    return 0;
}

void events_close(struct events *ev)
{
    while (ev->subs) {
        struct events_sub *sub = ev->subs;

        ev->subs = sub->next;
        http_stream_close(sub->stream);
        events_sub_free(sub);
    }
    ev->nsubs = 0;
    while (ev->listeners) {
        struct events_listener *l = ev->listeners;

        ev->listeners = l->next;
        events_listener_free(l);
    }
    while (ev->head) {
        struct events_queued *q = ev->head;

        ev->head = q->next;
        events_queued_free(q);
    }
    ev->tail = NULL;
    if (ev->loop)
        ev_timer_stop(ev->loop, &ev->deliver);
}
