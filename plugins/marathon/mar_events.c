/*
 * mar_events.c - GET /v2/events, Marathon's server-sent event stream.
 *
 * Each event is written once, as `event: <type>\ndata: <json>\n\n`, and
 * handed to every client whose filter (?event_type=, repeatable) takes
 * it. A client that does not read is not waited for: the master keeps at
 * most event_buffer bytes pending for it and then disconnects it
 * (marathon-api.md §6 #7), and the plugin forgets it in on_close. An
 * idle stream gets a comment every 15 s so that proxies keep it open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "marathon.h"

#define MAR_SSE_FILTERS 32

struct mar_sse {
    struct mar *m;
    struct agora_stream *s;
    char *filters[MAR_SSE_FILTERS];
    size_t nfilters;
    struct mar_sse *next;
};

static void sse_free(struct mar_sse *c)
{
    size_t i;

    for (i = 0; i < c->nfilters; i++)
        free(c->filters[i]);
    free(c);
}

static void sse_unlink(struct mar *m, struct mar_sse *c)
{
    struct mar_sse **pp;

    for (pp = &m->sse; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            return;
        }
    }
}

/* Set while an event goes out: a client closed by that write is not
 * announced then, since announcing would write to the list being walked. */
static int emitting;

static void sse_closed(void *arg, struct agora_stream *s)
{
    struct mar_sse *c = arg;
    struct mar *m = c->m;
    struct agora_jw *w;

    (void)s;
    sse_unlink(m, c);
    sse_free(c);
    if (emitting)
        return;
    w = mar_events_begin(m, "event_stream_detached");
    agora_jw_kstr(w, "remoteAddress", "");
    mar_events_end(m, "event_stream_detached");
}

static int sse_wants(const struct mar_sse *c, const char *type)
{
    size_t i;

    if (c->nfilters == 0)
        return 1;
    for (i = 0; i < c->nfilters; i++) {
        if (strcmp(c->filters[i], type) == 0)
            return 1;
    }
    return 0;
}

/* Marathon needs the client to ask for text/event-stream. */
static int accepts_sse(const char *accept)
{
    return accept == NULL || strstr(accept, "text/event-stream") ||
           strstr(accept, "*/*");
}

void mar_events_get(struct mar *m, struct agora_req *r)
{
    const struct agora_api *api = m->api;
    struct mar_sse *c;
    const char *f;
    struct agora_jw *w;
    size_t i;

    if (!accepts_sse(api->req_header(r, "Accept"))) {
        mar_reply_msg(m, r, 406, "Events are served as text/event-stream");
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        mar_reply_msg(m, r, 503, "out of memory");
        return;
    }
    c->m = m;
    for (i = 0; (f = api->req_query(r, "event_type", i)) != NULL; i++) {
        if (c->nfilters == MAR_SSE_FILTERS) {
            sse_free(c);
            mar_reply_msg(m, r, 400, "at most %d event_type filters",
                          MAR_SSE_FILTERS);
            return;
        }
        c->filters[c->nfilters] = strdup(f);
        if (c->filters[c->nfilters] == NULL) {
            sse_free(c);
            mar_reply_msg(m, r, 503, "out of memory");
            return;
        }
        c->nfilters++;
    }
    if (api->stream_open(r, "text/event-stream", 15.0, ":\n\n", sse_closed, c,
                         &c->s) != 0) {
        sse_free(c);
        mar_reply_msg(m, r, 503, "cannot open the stream");
        return;
    }
    c->next = m->sse;
    m->sse = c;
    w = mar_events_begin(m, "event_stream_attached");
    agora_jw_kstr(w, "remoteAddress", "");
    mar_events_end(m, "event_stream_attached");
}

static struct agora_jw *ev_writer;
static char ev_type[64];

struct agora_jw *mar_events_begin(struct mar *m, const char *type)
{
    char ts[32];

    if (ev_writer == NULL)
        ev_writer = agora_jw_new();
    agora_jw_reset(ev_writer);
    snprintf(ev_type, sizeof(ev_type), "%s", type);
    mar_time_format(mar_now(m), ts);
    agora_jw_obj_open(ev_writer);
    agora_jw_kstr(ev_writer, "eventType", type);
    agora_jw_kstr(ev_writer, "timestamp", ts);
    return ev_writer;
}

void mar_events_end(struct mar *m, const char *type)
{
    const char *doc;
    size_t len;

    agora_jw_obj_close(ev_writer);
    doc = agora_jw_result(ev_writer, &len);
    if (doc)
        mar_events_emit(m, type, doc);
}

void mar_events_emit(struct mar *m, const char *type, const char *json)
{
    struct mar_sse *c, *next;
    char *frame = NULL;
    int n;

    if (m->sse == NULL)
        return;
    n = asprintf(&frame, "event: %s\ndata: %s\n\n", type, json);
    if (n < 0)
        return;
    emitting = 1;
    for (c = m->sse; c; c = next) {
        next = c->next; /* a slow client is closed and freed in the write */
        if (sse_wants(c, type))
            m->api->stream_write(c->s, frame, (size_t)n);
    }
    emitting = 0;
    free(frame);
}

int mar_events_on(const struct mar *m)
{
    return m->sse != NULL;
}

size_t mar_events_clients(const struct mar *m)
{
    const struct mar_sse *c;
    size_t n = 0;

    for (c = m->sse; c; c = c->next)
        n++;
    return n;
}

void mar_events_free(struct mar *m)
{
    struct mar_sse *c;

    while ((c = m->sse) != NULL) {
        m->sse = c->next;
        m->api->stream_close(c->s);
        sse_free(c);
    }
    agora_jw_free(ev_writer);
    ev_writer = NULL;
}
