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

int events_publish(struct events *ev, const char *type, const char *json)
{
    struct events_sub *sub, *next;
    char *msg;
    int n;

    if (!events_type_valid(type) || strpbrk(json, "\r\n"))
        return AGORA_EINVAL;
    ev->published++;
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
}
