/*
 * updates.c - reliable, batched status updates (see updates.h).
 *
 * Life of an update: created by agent_task_update() -> journaled ->
 * durable (journal callback) -> sent in a POST (slot set while in flight)
 * -> 202: waits for its ack until `due`, then is sent again with a doubled
 * backoff -> ack: journaled as acked and freed.
 *
 * The manager keeps the tasks that have pending updates in a FIFO list,
 * so a POST walks only those, never the whole task table.
 */
#include "uuid.h"
#include "updates.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <ev.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agent.h"
#include "http_client.h"
#include "journal.h"
#include "link.h"
#include "log.h"
#include "task.h"

/* Time allowed for a POST (seconds), and for its connect. */
#define UPDATES_POST_TIMEOUT 30.0
#define UPDATES_CONNECT_TIMEOUT 10.0

struct agent_updates {
    struct agent *a;
    struct task_updates *head, *tail; /* tasks with pending updates     */
    struct hc_req *req;               /* the POST in flight             */
    int inflight;
    int stale; /* a new subscription began during the POST     */
    struct agent_update **slots; /* the updates of the POST        */
    size_t nslots;
    int pong_pending, pong_inflight;
    double post_backoff; /* after failed POSTs; 0 = none   */
    ev_timer kick;       /* send soon (coalesces)          */
    ev_timer retry;      /* every second while pending     */
    struct updates_stats st;
    char resp[256];
    size_t resplen;
};

/* ------------------------------------------------------------------ */
/* Lists                                                                */
/* ------------------------------------------------------------------ */

static void updates_list(struct agent_updates *m, struct task_updates *tu)
{
    if (tu->listed)
        return;
    tu->listed = 1;
    tu->next = NULL;
    tu->prev = m->tail;
    if (m->tail)
        m->tail->next = tu;
    else
        m->head = tu;
    m->tail = tu;
}

static void updates_unlist(struct agent_updates *m, struct task_updates *tu)
{
    if (!tu->listed)
        return;
    tu->listed = 0;
    if (tu->prev)
        tu->prev->next = tu->next;
    else
        m->head = tu->next;
    if (tu->next)
        tu->next->prev = tu->prev;
    else
        m->tail = tu->prev;
    tu->prev = tu->next = NULL;
}

static void update_free(struct agent_update *u)
{
    free(u->reason);
    free(u->message);
    free(u->health_output);
    free(u);
}

/* Unlinks u (after prev, NULL for the head) from its task's list. */
static void update_unlink(struct agent_updates *m, struct task_updates *tu,
                          struct agent_update *prev, struct agent_update *u)
{
    if (prev)
        prev->next = u->next;
    else
        tu->head = u->next;
    if (tu->tail == u)
        tu->tail = prev;
    tu->n--;
    if (m && u->slot >= 0 && (size_t)u->slot < m->nslots)
        m->slots[u->slot] = NULL;
    if (m && tu->n == 0)
        updates_unlist(m, tu);
}

static void update_append(struct task_updates *tu, struct agent_update *u)
{
    u->owner = tu;
    if (tu->tail)
        tu->tail->next = u;
    else
        tu->head = u;
    tu->tail = u;
    tu->n++;
}

/* ------------------------------------------------------------------ */
/* Tasks                                                                */
/* ------------------------------------------------------------------ */

int updates_task_init(struct agent *a, struct agent_task *t)
{
    t->updates = calloc(1, sizeof(*t->updates));
    if (t->updates == NULL)
        return AGORA_ENOMEM;
    t->updates->agent = a;
    t->updates->task = t;
    t->updates->next_seq = 1;
    return 0;
}

void updates_task_free(struct agent *a, struct agent_task *t)
{
    struct task_updates *tu = t->updates;
    struct agent_updates *m = a ? a->updates : NULL;

    if (tu == NULL)
        return;
    while (tu->head) {
        struct agent_update *u = tu->head;

        update_unlink(m, tu, NULL, u);
        update_free(u);
    }
    if (m)
        updates_unlist(m, tu);
    free(tu);
    t->updates = NULL;
}

size_t updates_count(const struct agent_task *t)
{
    return t->updates ? t->updates->n : 0;
}

void updates_maybe_done(struct agent *a, struct agent_task *t)
{
    struct task_updates *tu = t->updates;

    if (tu == NULL || tu->n > 0 || tu->launch_pending ||
        !agora_task_state_terminal(t->state))
        return;
    agent_task_done(a, t);
}

/* ------------------------------------------------------------------ */
/* Creating updates                                                     */
/* ------------------------------------------------------------------ */

void updates_write_container(struct agora_jw *w, const char *ip,
                             pid_t executor_pid)
{
    agora_jw_key(w, "container_status");
    agora_jw_obj_open(w);
    agora_jw_key(w, "network_infos");
    agora_jw_arr_open(w);
    agora_jw_obj_open(w);
    agora_jw_key(w, "ip_addresses");
    agora_jw_arr_open(w);
    if (ip && *ip) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "ip_address", ip);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    agora_jw_arr_close(w);
    if (executor_pid > 0)
        agora_jw_kint(w, "executor_pid", executor_pid);
    agora_jw_obj_close(w);
}

/*
 * The IP written in an update is the agent's as it is when the update is
 * written (sent, or journaled): the address where the task is reached
 * now, also for an update made before an agent restart.
 */
void updates_write_json(struct agora_jw *w, const struct agent_task *t,
                        const struct agent_update *u)
{
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "uuid", u->uuid);
    agora_jw_kstr(w, "task_id", t->id);
    agora_jw_kstr(w, "framework_id", t->framework_id);
    agora_jw_kstr(w, "state", agora_task_state_name(u->state));
    agora_jw_kstr(w, "reason", u->reason);
    agora_jw_kstr(w, "message", u->message);
    agora_jw_key(w, "healthy");
    if (u->healthy < 0)
        agora_jw_null(w);
    else
        agora_jw_bool(w, u->healthy);
    agora_jw_knum(w, "timestamp", u->timestamp);
    agora_jw_kint(w, "seq", (int64_t)u->seq);
    agora_jw_key(w, "pid");
    if (u->pid > 0)
        agora_jw_int(w, u->pid);
    else
        agora_jw_null(w);
    /* The exec layer reports exit codes in the message for now. */
    agora_jw_key(w, "exit_status");
    agora_jw_null(w);
    updates_write_container(w,
                            t->container_ip[0] ? t->container_ip
                            : t->updates ? t->updates->agent->advertise_ip
                                         : NULL,
                            u->executor_pid);
    agora_jw_kstr(w, "health_output", u->health_output);
    agora_jw_obj_close(w);
}

static void updates_kick(struct agent *a);

/* journal callback: the record is on disk, so u may be sent (soon:
 * updates that become durable together share a POST). */
static void updates_on_durable(void *arg, int err)
{
    struct agent_update *u = arg;

    if (err != 0)
        return; /* the journal closed first: the next agent recovers it */
    u->durable = 1;
    updates_kick(u->owner->agent);
}

static struct agent_update *update_new(struct agent *a, struct agent_task *t,
                                       enum agora_task_state state,
                                       const char *reason, const char *message,
                                       int healthy)
{
    struct agent_update *u = calloc(1, sizeof(*u));

    if (u == NULL)
        return NULL;
    if ((reason && (u->reason = strdup(reason)) == NULL) ||
        (message && (u->message = strdup(message)) == NULL) ||
        (t->health_output &&
         (u->health_output = strdup(t->health_output)) == NULL)) {
        update_free(u);
        return NULL;
    }
    uuid_v4(u->uuid);
    u->state = state;
    u->healthy = healthy;
    /* To the microsecond, finer than a status needs: such a time is
     * written without printf (the SDK's JSON writer), which took about
     * 5% of the agent's CPU in a burst of launches. */
    u->timestamp = floor(agent_now(a) * 1e6 + 0.5) / 1e6;
    u->seq = t->updates->next_seq++;
    u->pid = t->pid;
    u->executor_pid = t->shim_pid;
    u->slot = -1;
    u->backoff = UPDATES_RETRY_MIN;
    return u;
}

/* Journals u; once durable it is sent. */
static void updates_journal(struct agent *a, struct agent_task *t,
                            struct agent_update *u)
{
    struct agora_jw *w = agora_jw_new();
    const char *json = NULL;
    size_t len = 0;
    int rc = AGORA_ENOMEM;

    if (w) {
        updates_write_json(w, t, u);
        json = agora_jw_result(w, &len);
    }
    if (json)
        rc = journal_append(a->journal, JOURNAL_UPDATE, json, len,
                            updates_on_durable, u);
    agora_jw_free(w);
    if (rc == AGORA_ECANCELED)
        return; /* stopping: the next agent recovers the state */
    if (rc < 0) {
        /* Better sent without a checkpoint than never sent. */
        log_error("updates", "cannot journal the update of task %s: %s", t->id,
                  agora_strerror(rc));
        u->durable = 1;
        updates_kick(a);
    }
}

static void updates_log(const struct agent_task *t,
                        const struct agent_update *u)
{
    enum agora_log_level level = AGORA_LOG_DEBUG;

    if (u->state == AGORA_TASK_RUNNING || agora_task_state_terminal(u->state))
        level = AGORA_LOG_INFO;
    log_msg(level, "updates", "task %s is %s%s%s%s%s (seq %llu)", t->id,
            agora_task_state_name(u->state), u->reason ? " " : "",
            u->reason ? u->reason : "", u->message ? ": " : "",
            u->message ? u->message : "", (unsigned long long)u->seq);
}

void agent_task_update(struct agent *a, struct agent_task *t,
                       enum agora_task_state state, const char *reason,
                       const char *message, int healthy)
{
    struct agent_update *u;

    /* Mesos: nothing follows a terminal state (a late health result,
     * a second exit report). */
    if (agora_task_state_terminal(t->state)) {
        log_debug("updates", "task %s is already %s: dropping %s", t->id,
                  agora_task_state_name(t->state),
                  agora_task_state_name(state));
        return;
    }
    t->state = state;
    t->healthy = healthy;
    u = update_new(a, t, state, reason, message, healthy);
    if (u == NULL) {
        log_error("updates", "out of memory: the %s update of task %s is lost",
                  agora_task_state_name(state), t->id);
        return;
    }
    update_append(t->updates, u);
    updates_list(a->updates, t->updates);
    a->updates->st.created++;
    updates_log(t, u);
    updates_journal(a, t, u);
}

/* ------------------------------------------------------------------ */
/* Sending                                                              */
/* ------------------------------------------------------------------ */

/* Sends soon, unless a failed POST's backoff holds the timer. */
static void updates_kick(struct agent *a)
{
    struct agent_updates *m = a->updates;

    if (m == NULL || ev_is_active(&m->kick))
        return;
    ev_timer_set(&m->kick, 0., 0.);
    ev_timer_start(a->loop, &m->kick);
}

/* hc_data_fn: only the start of the answer is kept, for the log. */
static int updates_on_body(void *arg, struct hc_req *r, const char *p,
                           size_t len)
{
    struct agent_updates *m = ((struct agent *)arg)->updates;
    size_t room = sizeof(m->resp) - 1 - m->resplen;

    (void)r;
    if (len < room)
        room = len;
    memcpy(m->resp + m->resplen, p, room);
    m->resplen += room;
    m->resp[m->resplen] = '\0';
    return 0;
}

/* First update of tu to send: durable, and not sent or due again. */
static struct agent_update *updates_first_unsent(struct task_updates *tu)
{
    struct agent_update *u;

    for (u = tu->head; u && u->durable; u = u->next)
        if (!u->sent)
            return u;
    return NULL;
}

/*
 * Writes the batch into w: from each task's first unsent update on,
 * every durable one (sent or not, so each task's updates keep their
 * order within the POST). Returns the number written; fills m->slots.
 */
static size_t updates_fill(struct agent_updates *m, struct agora_jw *w)
{
    struct task_updates *tu;
    size_t n = 0, len = 0;

    for (tu = m->head; tu && n < UPDATES_BATCH_MAX; tu = tu->next) {
        struct agent_update *u = updates_first_unsent(tu);

        for (; u && u->durable && n < UPDATES_BATCH_MAX; u = u->next) {
            updates_write_json(w, tu->task, u);
            u->sent = 1;
            u->slot = (int)n;
            m->slots[n++] = u;
        }
        if (agora_jw_result(w, &len) == NULL || len > UPDATES_BODY_MAX)
            break;
    }
    m->nslots = n;
    return n;
}

/* The body: {"agent_id", "updates": [...], "pong": true?}; NULL when
 * there is nothing to send. Caller frees the writer. */
static struct agora_jw *updates_body(struct agent *a, size_t *count)
{
    struct agent_updates *m = a->updates;
    struct agora_jw *w = agora_jw_new();

    if (w == NULL)
        return NULL;
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "agent_id", a->id);
    if (link_session(a))
        agora_jw_kstr(w, "session", link_session(a));
    agora_jw_key(w, "updates");
    agora_jw_arr_open(w);
    *count = updates_fill(m, w);
    agora_jw_arr_close(w);
    if (m->pong_pending)
        agora_jw_kbool(w, "pong", 1);
    agora_jw_obj_close(w);
    if (*count == 0 && !m->pong_pending) {
        agora_jw_free(w);
        return NULL;
    }
    return w;
}

/* Puts the updates of the POST back to "not sent". */
static void updates_unsend(struct agent_updates *m)
{
    size_t i;

    for (i = 0; i < m->nslots; i++) {
        if (m->slots[i]) {
            m->slots[i]->sent = 0;
            m->slots[i]->slot = -1;
        }
    }
    m->nslots = 0;
}

static void updates_on_post_done(void *arg, struct hc_req *r, int err);

/* Starts the POST; 0 or an hc_err. */
static int updates_post(struct agent *a, const char *url, const char *body,
                        size_t len)
{
    const char *hdrs[] = {"Content-Type: application/json", a->auth_header,
                          NULL};
    struct agent_updates *m = a->updates;
    struct hc_opts o;

    memset(&o, 0, sizeof(o));
    o.method = "POST";
    o.url = url;
    o.headers = hdrs;
    o.body = body;
    o.body_len = len;
    o.connect_timeout = UPDATES_CONNECT_TIMEOUT;
    o.timeout = UPDATES_POST_TIMEOUT;
    o.keepalive = 1;
    o.on_data = updates_on_body;
    o.on_done = updates_on_post_done;
    o.arg = a;
    m->resplen = 0;
    m->resp[0] = '\0';
    return hc_request(a->hc, &o, &m->req);
}

/* Sends one POST with everything that is due, if none is in flight. */
static void updates_send(struct agent *a)
{
    struct agent_updates *m = a->updates;
    const char *base = link_master_url(a), *body;
    struct agora_jw *w;
    size_t count = 0, len;
    char *url;
    int rc;

    if (m->inflight || a->stopping || base == NULL)
        return; /* a new subscription sends everything again */
    w = updates_body(a, &count);
    if (w == NULL)
        return;
    body = agora_jw_result(w, &len);
    rc = AGORA_ENOMEM;
    if (body && asprintf(&url, "%s/api/agent/updates", base) >= 0) {
        rc = updates_post(a, url, body, len);
        free(url);
    }
    agora_jw_free(w);
    if (rc < 0) {
        log_error("updates", "cannot post updates: %s", agora_strerror(rc));
        updates_unsend(m);
        return;
    }
    m->inflight = 1;
    m->stale = 0;
    m->pong_inflight = m->pong_pending;
    m->pong_pending = 0;
    m->st.posts++;
}

static void updates_on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    updates_send(w->data);
}

/* The master took the batch: each waits for its ack until `due`. */
static void updates_post_ok(struct agent *a)
{
    struct agent_updates *m = a->updates;
    double now = agent_now(a);
    size_t i;

    for (i = 0; i < m->nslots; i++) {
        struct agent_update *u = m->slots[i];

        if (u == NULL)
            continue;
        u->slot = -1;
        u->due = now + u->backoff;
        u->backoff = u->backoff * 2 > UPDATES_RETRY_MAX ? UPDATES_RETRY_MAX
                                                        : u->backoff * 2;
        m->st.sent++;
    }
    m->nslots = 0;
    if (m->pong_inflight)
        m->st.pongs++;
    m->post_backoff = 0;
    if (m->head && !ev_is_active(&m->retry))
        ev_timer_again(a->loop, &m->retry);
    updates_kick(a);
}

/* The POST failed (transport error `why`, or HTTP code): everything in
 * it goes again, after a backoff. */
static void updates_post_failed(struct agent *a, int code, const char *why)
{
    struct agent_updates *m = a->updates;

    updates_unsend(m);
    m->pong_pending |= m->pong_inflight;
    m->st.post_failures++;
    m->post_backoff =
        m->post_backoff == 0 ? UPDATES_RETRY_MIN : m->post_backoff * 2;
    if (m->post_backoff > UPDATES_RETRY_MAX)
        m->post_backoff = UPDATES_RETRY_MAX;
    if (why)
        log_warn("updates", "posting updates failed: %s; again in %.0f s", why,
                 m->post_backoff);
    else
        log_warn("updates", "posting updates: HTTP %d %s; again in %.0f s",
                 code, m->resp, m->post_backoff);
    ev_timer_stop(a->loop, &m->kick);
    ev_timer_set(&m->kick, m->post_backoff, 0.);
    ev_timer_start(a->loop, &m->kick);
}

/* hc_done_fn: the POST was answered or failed (r goes on return). */
static void updates_on_post_done(void *arg, struct hc_req *r, int err)
{
    struct agent *a = arg;
    struct agent_updates *m = a->updates;
    int code = hc_status(r);

    m->req = NULL;
    m->inflight = 0;
    m->pong_inflight = m->pong_inflight && err == 0;
    if (m->stale) {
        /* Sent to the master of an older subscription: send again. */
        updates_unsend(m);
        updates_kick(a);
        return;
    }
    if (err == 0 && code >= 200 && code < 300)
        updates_post_ok(a);
    else
        updates_post_failed(a, code, err ? hc_error(r) : NULL);
}

/* Every second while updates are pending: those due go again. */
static void updates_on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct agent *a = w->data;
    struct agent_updates *m = a->updates;
    double now = agent_now(a);
    struct task_updates *tu;
    int any = 0;

    (void)revents;
    if (m->head == NULL) {
        ev_timer_stop(loop, w);
        return;
    }
    for (tu = m->head; tu; tu = tu->next) {
        struct agent_update *u;

        for (u = tu->head; u; u = u->next) {
            if (u->sent && u->slot < 0 && u->due <= now) {
                u->sent = 0;
                any = 1;
            }
        }
    }
    if (any)
        updates_kick(a);
}

void updates_on_subscribed(struct agent *a)
{
    struct agent_updates *m = a->updates;
    struct task_updates *tu;

    for (tu = m->head; tu; tu = tu->next) {
        struct agent_update *u;

        for (u = tu->head; u; u = u->next) {
            if (u->slot < 0)
                u->sent = 0;
            u->backoff = UPDATES_RETRY_MIN;
        }
    }
    m->stale = m->inflight;
    m->post_backoff = 0;
    ev_timer_stop(a->loop, &m->kick);
    updates_kick(a);
}

void updates_pong(struct agent *a)
{
    a->updates->pong_pending = 1;
    updates_kick(a);
}

/* ------------------------------------------------------------------ */
/* Acknowledgements                                                     */
/* ------------------------------------------------------------------ */

/* Finds uuid in tu; *prev gets its predecessor. */
static struct agent_update *updates_find(struct task_updates *tu,
                                         const char *uuid,
                                         struct agent_update **prev)
{
    struct agent_update *u, *p = NULL;

    for (u = tu->head; u; p = u, u = u->next) {
        if (strcmp(u->uuid, uuid) == 0) {
            *prev = p;
            return u;
        }
    }
    return NULL;
}

static void updates_journal_ack(struct agent *a, const char *task_id,
                                const char *uuid)
{
    int rc = journal_append_ids(a->journal, JOURNAL_ACK, task_id, uuid);

    /* Lost, it only means the update is sent once more after a restart. */
    if (rc < 0 && rc != AGORA_ECANCELED)
        log_warn("updates", "cannot journal an ack: %s", agora_strerror(rc));
}

void updates_ack(struct agent *a, const char *task_id, const char *uuid)
{
    struct agent_task *t = map_get(&a->tasks, task_id);
    struct agent_update *u, *prev = NULL;

    if (t == NULL || t->updates == NULL ||
        (u = updates_find(t->updates, uuid, &prev)) == NULL) {
        log_debug("updates", "ack of an unknown update %s of task %s", uuid,
                  task_id);
        return;
    }
    if (!u->durable) {
        /* Never sent, so this cannot be its ack. */
        log_warn("updates",
                 "ack of update %s of task %s before it was "
                 "sent: ignored",
                 uuid, task_id);
        return;
    }
    update_unlink(a->updates, t->updates, prev, u);
    updates_journal_ack(a, task_id, uuid);
    update_free(u);
    a->updates->st.acked++;
    updates_maybe_done(a, t);
}

/* ------------------------------------------------------------------ */
/* Replay and snapshot                                                  */
/* ------------------------------------------------------------------ */

/* The record's container status and health output (records written
 * before they existed have neither). */
static int updates_replay_extra(struct agent_update *u, yajl_val rec)
{
    yajl_val cs = agora_json_get(rec, "container_status");
    const char *out = NULL;
    int64_t pid = 0;

    if (YAJL_IS_OBJECT(cs) && agora_json_int(cs, "executor_pid", &pid) == 0 &&
        pid > 0 && pid <= INT32_MAX)
        u->executor_pid = (pid_t)pid;
    agora_json_str(rec, "health_output", &out);
    if (out && (u->health_output = strdup(out)) == NULL)
        return AGORA_ENOMEM;
    return 0;
}

static int updates_replay_fields(struct agent_update *u, yajl_val rec)
{
    const char *uuid, *state, *reason = NULL, *message = NULL;
    int64_t seq = 0, pid = 0;
    int healthy, st;

    if (agora_json_str(rec, "uuid", &uuid) < 0 || strlen(uuid) != 36 ||
        agora_json_str(rec, "state", &state) < 0 ||
        (st = agora_task_state_parse(state)) < 0 ||
        agora_json_int(rec, "seq", &seq) < 0 || seq < 1)
        return AGORA_EINVAL;
    memcpy(u->uuid, uuid, 37);
    u->state = (enum agora_task_state)st;
    u->seq = (uint64_t)seq;
    agora_json_str(rec, "reason", &reason);
    agora_json_str(rec, "message", &message);
    if ((reason && (u->reason = strdup(reason)) == NULL) ||
        (message && (u->message = strdup(message)) == NULL))
        return AGORA_ENOMEM;
    u->healthy = agora_json_bool(rec, "healthy", &healthy) == 0 ? healthy : -1;
    agora_json_num(rec, "timestamp", &u->timestamp);
    if (agora_json_int(rec, "pid", &pid) == 0)
        u->pid = (pid_t)pid;
    return updates_replay_extra(u, rec);
}

int updates_replay_update(struct agent *a, struct agent_task *t, yajl_val rec)
{
    struct agent_update *u = calloc(1, sizeof(*u));
    int rc;

    if (u == NULL)
        return AGORA_ENOMEM;
    rc = updates_replay_fields(u, rec);
    if (rc < 0) {
        update_free(u);
        return rc;
    }
    u->durable = 1;
    u->slot = -1;
    u->backoff = UPDATES_RETRY_MIN;
    t->state = u->state;
    t->healthy = u->healthy;
    if (u->seq >= t->updates->next_seq)
        t->updates->next_seq = u->seq + 1;
    update_append(t->updates, u);
    updates_list(a->updates, t->updates);
    return 0;
}

void updates_replay_ack(struct agent *a, struct agent_task *t, const char *uuid)
{
    struct agent_update *u, *prev = NULL;

    u = updates_find(t->updates, uuid, &prev);
    if (u == NULL)
        return;
    update_unlink(a->updates, t->updates, prev, u);
    update_free(u);
}

/* Adds what w holds as one record of the snapshot. */
static int updates_snap_add(struct journal_snap *s, int type,
                            struct agora_jw *w)
{
    size_t len;
    const char *json = agora_jw_result(w, &len);
    int rc = json ? journal_snap_add(s, type, json, len) : AGORA_ENOMEM;

    agora_jw_free(w);
    return rc;
}

int updates_snapshot(void *agent, struct journal_snap *s)
{
    struct agent *a = agent;
    const char *id;
    void *value;
    size_t pos = 0;
    int rc = 0;

    while (rc == 0 && map_next(&a->tasks, &pos, &id, &value)) {
        struct agent_task *t = value;
        struct agent_update *u;
        struct agora_jw *w = agora_jw_new();

        if (w == NULL)
            return AGORA_ENOMEM;
        agent_task_record(w, t);
        rc = updates_snap_add(s, JOURNAL_TASK, w);
        for (u = t->updates->head; rc == 0 && u; u = u->next) {
            if ((w = agora_jw_new()) == NULL)
                return AGORA_ENOMEM;
            updates_write_json(w, t, u);
            rc = updates_snap_add(s, JOURNAL_UPDATE, w);
        }
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Life                                                                 */
/* ------------------------------------------------------------------ */

int updates_init(struct agent *a)
{
    struct agent_updates *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return AGORA_ENOMEM;
    m->a = a;
    m->slots = calloc(UPDATES_BATCH_MAX, sizeof(*m->slots));
    if (m->slots == NULL) {
        a->updates = m;
        updates_fini(a);
        return AGORA_ENOMEM;
    }
    ev_init(&m->kick, updates_on_kick);
    m->kick.data = a;
    ev_init(&m->retry, updates_on_retry);
    m->retry.repeat = 1.0;
    m->retry.data = a;
    a->updates = m;
    return 0;
}

void updates_fini(struct agent *a)
{
    struct agent_updates *m = a->updates;

    if (m == NULL)
        return;
    ev_timer_stop(a->loop, &m->kick);
    ev_timer_stop(a->loop, &m->retry);
    hc_cancel(m->req);
    free(m->slots);
    /* Tasks still listed keep their updates; they are freed with them. */
    while (m->head)
        updates_unlist(m, m->head);
    free(m);
    a->updates = NULL;
}

void updates_get_stats(const struct agent *a, struct updates_stats *out)
{
    struct agent_updates *m = a->updates;
    struct task_updates *tu;

    *out = m->st;
    out->pending = 0;
    for (tu = m->head; tu; tu = tu->next)
        out->pending += tu->n;
}
