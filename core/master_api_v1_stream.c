/*
 * master_api_v1_stream.c - SUBSCRIBE of the v1 operator API: a stream of
 * RecordIO records ("<length>\n<JSON>", the length in bytes of the JSON)
 * that starts with SUBSCRIBED (the whole state, as GET_STATE) and then
 * carries TASK_ADDED, TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED,
 * FRAMEWORK_ADDED, FRAMEWORK_UPDATED and FRAMEWORK_REMOVED as they
 * happen, and a HEARTBEAT every --event_keepalive of silence.
 *
 * Each stream's unsent bytes are bounded (the snapshot plus 8 MB): a
 * subscriber that does not read is cut off, never buffered without end.
 * At most API_V1_SUBSCRIBERS_MAX streams, as Mesos bounds them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agents.h"
#include "api_v1_model.h"
#include "clock.h"
#include "frameworks.h"
#include "http.h"
#include "log.h"
#include "master.h"
#include "master_auth.h"
#include "master_api_v1.h"
#include "tasks.h"

#define HEARTBEAT "{\"type\":\"HEARTBEAT\"}"
#define STREAM_SLACK ((size_t)8 << 20)

struct api_v1_sub {
    struct http_stream *stream;
    char *principal; /* who subscribed (view_tasks); NULL: none */
    struct api_v1_sub *next;
};

/* The client went away, or read too slowly: forget it. */
static void sub_on_close(void *arg, struct http_stream *s)
{
    struct master *m = arg;
    struct api_v1_sub **pp;

    for (pp = &m->api_v1.subs; *pp; pp = &(*pp)->next)
        if ((*pp)->stream == s) {
            struct api_v1_sub *sub = *pp;

            *pp = sub->next;
            m->api_v1.nsubs--;
            free(sub->principal);
            free(sub);
            return;
        }
}

/* One record of json (len bytes) to one stream. */
static int send_record(struct http_stream *s, const char *json, size_t len)
{
    char head[32];
    int n = snprintf(head, sizeof(head), "%zu\n", len);

    if (http_stream_write(s, head, (size_t)n) < 0)
        return -1;
    return http_stream_write(s, json, len);
}

/* Sends w's document (an event) to every subscriber that may view t
 * (NULL: an event of no task), and frees w. */
static void broadcast_of(struct master *m, struct agora_jw *w,
                         const struct task *t)
{
    struct api_v1_sub *sub, *next;
    const char *json;
    size_t len;

    if ((json = agora_jw_result(w, &len)) == NULL) {
        log_error("api", "out of memory: an operator event was lost");
        agora_jw_free(w);
        return;
    }
    for (sub = m->api_v1.subs; sub; sub = next) {
        next = sub->next;
        if (t == NULL || master_task_viewable_by(m, sub->principal, t))
            send_record(sub->stream, json, len);
    }
    agora_jw_free(w);
}

static void broadcast(struct master *m, struct agora_jw *w)
{
    broadcast_of(m, w, NULL);
}

/* A writer with {"type": type, key: { opened, or NULL when none
 * subscribes: events cost nothing then. */
static struct agora_jw *event_open(struct master *m, const char *type,
                                   const char *key)
{
    struct agora_jw *w;

    if (m->api_v1.subs == NULL || (w = agora_jw_new()) == NULL)
        return NULL;
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "type", type);
    agora_jw_key(w, key);
    agora_jw_obj_open(w);
    return w;
}

static void event_close(struct master *m, struct agora_jw *w)
{
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
    broadcast(m, w);
}

/* The event of task t: only to subscribers who may view it. */
static void event_close_task(struct master *m, struct agora_jw *w,
                             const struct task *t)
{
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
    broadcast_of(m, w, t);
}

void api_v1_task_added(struct master *m, const struct task *t)
{
    struct agora_jw *w = event_open(m, "TASK_ADDED", "task_added");

    if (w == NULL)
        return;
    agora_jw_key(w, "task");
    api_v1_write_task(w, m, t);
    event_close_task(m, w, t);
}

void api_v1_task_updated(struct master *m, const struct task *t)
{
    struct agora_jw *w = event_open(m, "TASK_UPDATED", "task_updated");

    if (w == NULL)
        return;
    agora_jw_key(w, "framework_id");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "value", t->framework_id);
    agora_jw_obj_close(w);
    /* The docs' sample has them beside the status too. */
    agora_jw_key(w, "task_id");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "value", t->id);
    agora_jw_obj_close(w);
    agora_jw_key(w, "agent_id");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "value", t->agent_id);
    agora_jw_obj_close(w);
    agora_jw_key(w, "status");
    api_v1_write_task_status(w, m, t);
    agora_jw_kstr(w, "state", agora_task_state_name(t->state));
    event_close_task(m, w, t);
}

void api_v1_agent_added(struct master *m, struct agent_rec *ag)
{
    struct agora_jw *w = event_open(m, "AGENT_ADDED", "agent_added");

    if (w == NULL)
        return;
    agora_jw_key(w, "agent");
    api_v1_write_agent(w, m, ag);
    event_close(m, w);
}

void api_v1_agent_removed(struct master *m, const char *agent_id)
{
    struct agora_jw *w = event_open(m, "AGENT_REMOVED", "agent_removed");

    if (w == NULL)
        return;
    agora_jw_key(w, "agent_id");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "value", agent_id);
    agora_jw_obj_close(w);
    event_close(m, w);
}

/* A FRAMEWORK_REMOVED record waiting out API_V1_REREGISTER_WINDOW. */
struct api_v1_leaving {
    char *fw_id;
    struct agora_jw *event;
    double at;
    struct api_v1_leaving *next;
};

static void leaving_free(struct api_v1_leaving *l)
{
    free(l->fw_id);
    agora_jw_free(l->event);
    free(l);
}

/* Sends the removals whose window has passed (all when flush). */
static void leaving_send(struct master *m, int flush)
{
    struct api_v1_leaving **pp = &m->api_v1.leaving, *l;
    double now = master_now(m), next = 0;

    while ((l = *pp) != NULL) {
        if (flush || now - l->at >= API_V1_REREGISTER_WINDOW) {
            *pp = l->next;
            if (!flush) {
                broadcast(m, l->event); /* frees it */
                l->event = NULL;
            }
            leaving_free(l);
            continue;
        }
        if (next == 0 || l->at < next)
            next = l->at;
        pp = &l->next;
    }
    if (!m->api_v1.leave_timer_init)
        return;
    ev_timer_stop(m->loop, &m->api_v1.leave_timer);
    if (next > 0) {
        ev_timer_set(&m->api_v1.leave_timer,
                     next + API_V1_REREGISTER_WINDOW - now + 0.01, 0.);
        ev_timer_start(m->loop, &m->api_v1.leave_timer);
    }
}

static void on_leave_timer(struct ev_loop *loop, ev_timer *w, int events)
{
    (void)loop;
    (void)events;
    leaving_send(w->data, 0);
}

/* Takes fw_id's held-back removal away; 1 when there was one. */
static int leaving_cancel(struct master *m, const char *fw_id)
{
    struct api_v1_leaving **pp, *l;

    for (pp = &m->api_v1.leaving; (l = *pp) != NULL; pp = &l->next)
        if (strcmp(l->fw_id, fw_id) == 0) {
            *pp = l->next;
            leaving_free(l);
            return 1;
        }
    return 0;
}

void api_v1_framework_added(struct master *m,
                            const struct agora_framework *fw)
{
    int back = leaving_cancel(m, fw->id);
    struct agora_jw *w =
        back ? event_open(m, "FRAMEWORK_UPDATED", "framework_updated")
             : event_open(m, "FRAMEWORK_ADDED", "framework_added");

    if (w == NULL)
        return;
    agora_jw_key(w, "framework");
    api_v1_write_framework(w, m, fw);
    event_close(m, w);
}

void api_v1_framework_removed(struct master *m,
                              const struct agora_framework *fw)
{
    struct agora_jw *w =
        event_open(m, "FRAMEWORK_REMOVED", "framework_removed");
    struct api_v1_leaving *l;

    if (w == NULL)
        return;
    agora_jw_key(w, "framework_info");
    api_v1_write_framework_info(w, m, fw);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
    l = calloc(1, sizeof(*l));
    if (l == NULL || (l->fw_id = strdup(fw->id)) == NULL) {
        free(l);
        broadcast(m, w); /* no memory to wait: say it now */
        return;
    }
    if (!m->api_v1.leave_timer_init) {
        ev_init(&m->api_v1.leave_timer, on_leave_timer);
        m->api_v1.leave_timer.data = m;
        m->api_v1.leave_timer_init = 1;
    }
    l->event = w;
    l->at = master_now(m);
    l->next = m->api_v1.leaving;
    m->api_v1.leaving = l;
    leaving_send(m, 0);
}

/* The SUBSCRIBED record: the whole state and the heartbeat interval. */
static struct agora_jw *subscribed(struct master *m)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "type", "SUBSCRIBED");
    agora_jw_key(w, "subscribed");
    agora_jw_obj_open(w);
    agora_jw_key(w, "get_state");
    api_v1_write_get_state(w, m);
    agora_jw_knum(w, "heartbeat_interval_seconds", m->conf.event_keepalive);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
    return w;
}

int api_v1_subscribe(struct master *m, struct http_req *req,
                     const char **why)
{
    char beat[64];
    struct agora_jw *w;
    struct api_v1_sub *sub;
    const char *json;
    size_t len;

    if (m->api_v1.nsubs >= API_V1_SUBSCRIBERS_MAX) {
        *why = "too many subscribers to the operator event stream";
        return 503;
    }
    w = subscribed(m);
    sub = calloc(1, sizeof(*sub));
    if (sub && http_req_principal(req) &&
        !(sub->principal = strdup(http_req_principal(req)))) {
        free(sub);
        sub = NULL;
    }
    if (sub == NULL || (json = agora_jw_result(w, &len)) == NULL) {
        if (sub)
            free(sub->principal);
        free(sub);
        agora_jw_free(w);
        *why = "out of memory";
        return 503;
    }
    snprintf(beat, sizeof(beat), "%zu\n%s", strlen(HEARTBEAT), HEARTBEAT);
    sub->stream = http_stream_open(req, "application/json",
                                   m->conf.event_keepalive, beat,
                                   len + STREAM_SLACK, sub_on_close, m);
    if (sub->stream == NULL) {
        free(sub->principal);
        free(sub);
        agora_jw_free(w);
        *why = "cannot open the stream";
        return 503;
    }
    send_record(sub->stream, json, len);
    agora_jw_free(w);
    sub->next = m->api_v1.subs;
    m->api_v1.subs = sub;
    m->api_v1.nsubs++;
    return 0;
}

void api_v1_close_all(struct master *m)
{
    leaving_send(m, 1);
    while (m->api_v1.subs) {
        struct api_v1_sub *sub = m->api_v1.subs;

        m->api_v1.subs = sub->next;
        http_stream_close(sub->stream);
        free(sub->principal);
        free(sub);
    }
    m->api_v1.nsubs = 0;
}
