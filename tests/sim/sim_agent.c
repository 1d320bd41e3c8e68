/*
 * sim_agent.c - the agents' subscriptions: connecting, the subscribe
 * request, redirects, the backoff after a failure, the subscribe window,
 * and in zk mode following a new leader.
 *
 * Every agent `<prefix>-<i>` holds one subscription: a long-lived POST
 * /api/agent/subscribe carrying the tasks it holds, whose chunked NDJSON
 * answer carries its events (sim_stream.c).
 *
 * List mode: agent i first subscribes to the list's master i mod n. A
 * redirect is followed at once, on a new connection; any other failure,
 * or a stream that ends, sends the agent to the next master of the list
 * after a backoff, doubling each time the whole list was tried at it.
 * The window (--subscribe_window) spreads the first subscriptions only.
 *
 * zk mode: every attempt goes to the leader the watch shows then, none
 * while no leader is known; a new leader takes every agent not on it at
 * once (sim_agent_follow). Every subscription, first ones and retries,
 * goes through the window: at most --subscribe_window in flight
 * (connecting, or waiting for the `subscribed` line), the rest queued in
 * order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <agora/json.h>

#include "sim.h"

static struct sim_agent *agents;
static long started, in_window, nsubscribed;
/* zk mode: the agents waiting to subscribe to the leader (for a window
 * slot, or for a leader), oldest first. */
static struct sim_agent *ready_head, *ready_tail;
static char *subscribe_static; /* the body's constant middle part   */

static void agent_start(struct sim_agent *ag);
static void agent_queue(struct sim_agent *ag);
static void agent_on_io(struct ev_loop *l, ev_io *w, int events);
static void agent_on_timer(struct ev_loop *l, ev_timer *w, int events);

/* ------------------------------------------------------------------ */
/* The agents                                                           */
/* ------------------------------------------------------------------ */

/* The members every subscribe body shares, written once. */
static void subscribe_static_init(void)
{
    struct agora_jw *sw = agora_jw_new();
    const char *s;

    if (sw == NULL)
        sim_die("out of memory");
    agora_jw_obj_open(sw);
    agora_jw_kstr(sw, "ip", "127.0.0.1");
    agora_jw_kint(sw, "port", 5051);
    agora_jw_kstr(sw, "resources", sim_opt.resources);
    agora_jw_key(sw, "attributes");
    agora_jw_obj_open(sw);
    agora_jw_kstr(sw, "simulated", "true");
    agora_jw_obj_close(sw);
    agora_jw_kstr(sw, "version", "simcluster");
    agora_jw_key(sw, "tasks");
    agora_jw_null(sw);
    agora_jw_obj_close(sw);
    s = agora_jw_result(sw, NULL);
    /* {"ip":...,"tasks":null} -> "ip":...,"tasks": */
    if (s == NULL || (subscribe_static = strdup(s + 1)) == NULL)
        sim_die("out of memory");
    subscribe_static[strlen(subscribe_static) - 5] = 0; /* "null}" */
    agora_jw_free(sw);
}

void sim_agent_init(void)
{
    int nlisted = sim_master_listed();
    long i;

    subscribe_static_init();
    agents = calloc((size_t)sim_opt.agents, sizeof(*agents));
    if (agents == NULL)
        sim_die("out of memory");
    for (i = 0; i < sim_opt.agents; i++) {
        struct sim_agent *ag = &agents[i];

        ag->idx = (int)i;
        ag->fd = -1;
        /* Spread over the list: leader and standbys are all asked. In
         * zk mode each attempt goes to the leader (agent_start). */
        if (nlisted > 0)
            ag->master = ag->listpos = (uint8_t)(i % nlisted);
        snprintf(ag->id, sizeof(ag->id), "%s-%ld", sim_opt.prefix, i);
        ag->q_tail = &ag->q_head;
        ev_init(&ag->timer, agent_on_timer);
        ag->timer.data = ag;
    }
}

long sim_agent_nsubscribed(void)
{
    return nsubscribed;
}

/* ------------------------------------------------------------------ */
/* Failures and the backoff                                             */
/* ------------------------------------------------------------------ */

static void window_leave(struct sim_agent *ag)
{
    if (!ag->in_window)
        return;
    ag->in_window = 0;
    in_window--;
}

/* Closes the agent's connection and stops its timer. */
static void agent_close(struct sim_agent *ag)
{
    if (ag->fd >= 0) {
        ev_io_stop(sim_loop, &ag->io);
        close(ag->fd);
        ag->fd = -1;
    }
    ev_timer_stop(sim_loop, &ag->timer);
    sim_buf_free(&ag->out);
    sim_buf_free(&ag->in);
}

/*
 * Points the agent at the next master of the list: the one after the
 * master its stream was on when a stream ended (that master is likely
 * dead), else the one after the list master its attempt began at (a
 * redirect may have taken it off the list, or to a leader that is gone:
 * the list goes on in order, so every listed master gets asked).
 */
static void agent_next_master(struct sim_agent *ag, int stream_ended)
{
    int nlisted = sim_master_listed();

    if (stream_ended && ag->master < nlisted)
        ag->listpos = ag->master;
    ag->listpos = (uint8_t)((ag->listpos + 1) % nlisted);
    ag->master = ag->listpos;
}

/* Drops whatever the agent has: its stream or attempt, its timer, its
 * place in the window. */
static void agent_drop(struct sim_agent *ag)
{
    agent_close(ag);
    if (ag->subscribed) {
        ag->subscribed = 0;
        nsubscribed--;
    }
    window_leave(ag);
}

/* The next attempt goes to the next master of the list; in zk mode to
 * the leader known then. */
void sim_agent_stream_end(struct sim_agent *ag, const char *why)
{
    int stream_ended = ag->phase == SIM_AGENT_STREAM;
    int zk = sim_master_zk();
    double delay;

    agent_drop(ag);
    if (why == NULL) {
        ag->phase = SIM_AGENT_DONE;
        return;
    }
    sim_st.stream_errors++;
    {
        char who[400];

        snprintf(who, sizeof(who), "%s (master %s)", ag->id,
                 sim_master_host(ag->master));
        sim_error("%s: %s", who, why);
    }
    ag->phase = SIM_AGENT_BACKOFF;
    if (!zk)
        agent_next_master(ag, stream_ended);
    /* The backoff doubles once every master of the list was tried at it:
     * a dead master of the list costs one wait, not a doubling. In zk
     * mode there is one target, the leader: it doubles at each failure,
     * as agora-agent's does. */
    if (ag->backoff == 0) {
        ag->backoff = sim_opt.backoff_min;
        ag->tries = 0;
    } else if (++ag->tries >= (zk ? 1 : sim_master_listed())) {
        ag->tries = 0;
        ag->backoff *= 2;
        if (ag->backoff > sim_opt.backoff_max)
            ag->backoff = sim_opt.backoff_max;
    }
    /* In [backoff/2, backoff], drawn per agent: agents that lost their
     * master together spread out, and none waits longer than backoff. */
    delay = ag->backoff * (0.5 + 0.5 * (double)rand() / RAND_MAX);
    ev_timer_set(&ag->timer, delay, 0);
    ev_timer_start(sim_loop, &ag->timer);
}

/* The backoff is over, or the `subscribed` line is late. */
static void agent_on_timer(struct ev_loop *l, ev_timer *w, int events)
{
    struct sim_agent *ag = w->data;

    (void)l;
    (void)events;
    if (ag->phase == SIM_AGENT_BACKOFF) {
        sim_st.reconnects++;
        if (sim_master_zk())
            agent_queue(ag); /* within the window, to the leader */
        else
            agent_start(ag);
    } else if (!ag->subscribed) {
        sim_agent_stream_end(ag, "no `subscribed` line within 30 s");
    }
}

void sim_agent_check_pings(double now)
{
    long i;

    for (i = 0; i < started; i++) {
        struct sim_agent *ag = &agents[i];

        if (ag->phase == SIM_AGENT_STREAM && ag->subscribed &&
            ag->ping_window > 0 && now - ag->last_event > ag->ping_window)
            sim_agent_stream_end(ag, "no ping from the master in time");
    }
}

/* ------------------------------------------------------------------ */
/* Subscribing                                                          */
/* ------------------------------------------------------------------ */

/* The subscribe request, with the tasks the agent holds. */
static void agent_request(struct sim_agent *ag)
{
    char id[160], host[600], head[800], req[512];
    struct sim_task *t;
    const char *tasks_json;
    size_t len;
    int n, k;

    /* The tasks list; the constant members are spliced in around it. */
    agora_jw_reset(sim_jw);
    agora_jw_arr_open(sim_jw);
    for (t = ag->tasks; t; t = t->anext) {
        int i, pending = 0;

        for (i = 0; i < t->nupd; i++)
            pending |= t->upd[i].phase != SIM_UPDATE_ACKED;
        if (t->state != SIM_TASK_RUNNING && !pending)
            continue;
        agora_jw_obj_open(sim_jw);
        agora_jw_kstr(sim_jw, "task_id", t->name);
        agora_jw_kstr(sim_jw, "framework_id", t->fw);
        agora_jw_kstr(sim_jw, "state", sim_task_state_name(t->state));
        agora_jw_kstr(sim_jw, "resources", t->res);
        agora_jw_obj_close(sim_jw);
    }
    agora_jw_arr_close(sim_jw);
    tasks_json = agora_jw_result(sim_jw, &len);
    if (tasks_json == NULL)
        sim_die("out of memory");
    agora_json_quote(ag->id, id, sizeof(id));
    agora_json_quote(sim_opt.hostname ? sim_opt.hostname : ag->id, host,
                     sizeof(host));
    n = snprintf(head, sizeof(head), "{\"agent_id\":%s,\"hostname\":%s,", id,
                 host);
    k = snprintf(req, sizeof(req),
                 "POST /api/agent/subscribe HTTP/1.1\r\nHost: %s\r\n"
                 "Content-Type: application/json\r\n"
                 "Accept: application/x-ndjson\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 sim_master_host(ag->master),
                 (size_t)n + strlen(subscribe_static) + len + 1);
    ag->out.len = 0;
    sim_buf_add(&ag->out, req, (size_t)k);
    sim_buf_add(&ag->out, head, (size_t)n);
    sim_buf_add(&ag->out, subscribe_static, strlen(subscribe_static));
    sim_buf_add(&ag->out, tasks_json, len);
    sim_buf_add(&ag->out, "}", 1);
    ag->out_off = 0;
}

/* Sends the subscribe request to ag->master. */
static void agent_connect(struct sim_agent *ag)
{
    ag->fd = sim_master_connect(ag->master);
    sim_st.subscribes++;
    if (!ag->in_window) {
        ag->in_window = 1;
        in_window++;
    }
    ag->phase = SIM_AGENT_CONNECTING;
    ag->cphase = SIM_CHUNK_SIZE;
    ag->in.len = 0;
    if (ag->fd < 0) {
        sim_st.connect_errors++;
        sim_agent_stream_end(ag, strerror(errno));
        return;
    }
    agent_request(ag);
    ev_io_init(&ag->io, agent_on_io, ag->fd, EV_WRITE);
    ag->io.data = ag;
    ev_io_start(sim_loop, &ag->io);
    ev_timer_set(&ag->timer, SIM_SUBSCRIBE_TIMEOUT, 0);
    ev_timer_start(sim_loop, &ag->timer);
}

/* A subscription attempt, to ag->master; in zk mode to the leader, or
 * none while no leader is known (the agent waits for one, queued). */
static void agent_start(struct sim_agent *ag)
{
    if (sim_master_zk()) {
        int leader = sim_master_leader();

        if (leader < 0) {
            agent_queue(ag);
            return;
        }
        ag->master = (uint8_t)leader;
    }
    ag->hops = 0;
    agent_connect(ag);
}

/* A redirect's target is in ag->master: the same request goes there at
 * once, on a new connection. */
static void agent_redirect(struct sim_agent *ag)
{
    agent_close(ag);
    agent_connect(ag);
}

/* The backoff is reset: the next failure waits the first backoff. */
void sim_agent_subscribed(struct sim_agent *ag, const char *s, size_t n)
{
    double interval = 0, misses = 5;
    const char *p;

    if ((p = memmem(s, n, "\"ping_interval\":", 16)) != NULL)
        interval = strtod(p + 16, NULL);
    if ((p = memmem(s, n, "\"max_ping_misses\":", 18)) != NULL)
        misses = strtod(p + 18, NULL);
    ag->ping_window = interval > 0 ? interval * (misses > 0 ? misses : 5) : 0;
    ag->session[0] = '\0';
    if ((p = memmem(s, n, "\"session\":\"", 11)) != NULL) {
        const char *q = p + 11, *end = memchr(q, '"', (size_t)(s + n - q));

        if (end && (size_t)(end - q) < sizeof(ag->session)) {
            memcpy(ag->session, q, (size_t)(end - q));
            ag->session[end - q] = '\0';
        }
    }
    if (!ag->subscribed) {
        ag->subscribed = 1;
        nsubscribed++;
        sim_st.subscribed++;
        if (nsubscribed == sim_opt.agents && sim_st.all_subscribed == 0)
            sim_st.all_subscribed = sim_now();
        /* ev_time(), not sim_now(): this iteration may be a long one. */
        if (nsubscribed == sim_opt.agents)
            sim_st.resubscribed = ev_time();
    }
    ag->backoff = 0;
    ev_timer_stop(sim_loop, &ag->timer);
    window_leave(ag);
    /* A new subscription: everything unacknowledged goes again now. */
    sim_task_requeue(ag);
    sim_post_dirty(ag);
}

/* ------------------------------------------------------------------ */
/* The window, and zk mode's new leaders                                */
/* ------------------------------------------------------------------ */

/* The agent waits for its turn to subscribe (sim_agent_admit). Never
 * called for an agent already queued. */
static void agent_queue(struct sim_agent *ag)
{
    ag->phase = SIM_AGENT_QUEUED;
    ag->rnext = NULL;
    if (ready_tail)
        ready_tail->rnext = ag;
    else
        ready_head = ag;
    ready_tail = ag;
}

/* A new leader moves every agent at once: the window spreads them out. */
void sim_agent_admit(void)
{
    if (sim_master_zk() && sim_master_leader() < 0)
        return; /* no leader known: the watch's next report admits */
    while (ready_head && in_window < sim_opt.window) {
        struct sim_agent *ag = ready_head;

        ready_head = ag->rnext;
        if (ready_head == NULL)
            ready_tail = NULL;
        agent_start(ag);
    }
    while (started < sim_opt.agents && in_window < sim_opt.window)
        agent_start(&agents[started++]);
}

/* The agent's stream, or its attempt, is to master mi. */
static int agent_on_master(const struct sim_agent *ag, int mi)
{
    return ag->master == mi &&
           (ag->phase == SIM_AGENT_CONNECTING ||
            ag->phase == SIM_AGENT_SENDING || ag->phase == SIM_AGENT_HEADERS ||
            ag->phase == SIM_AGENT_STREAM);
}

/*
 * A new leader, mi. As agora-agent's link_on_leader: a stream or attempt
 * to it already is kept; any other agent drops what it has (a stream to
 * a deposed master, an attempt, a backoff wait) and subscribes to mi at
 * once (queued for the window), carrying its tasks, its next failure
 * waiting the first backoff again. 1 when the agent goes to mi now
 * (queued already, or moved).
 */
static int agent_follow(struct sim_agent *ag, int mi)
{
    if (ag->phase == SIM_AGENT_DONE || agent_on_master(ag, mi))
        return 0;
    ag->backoff = 0;
    ag->tries = 0;
    if (ag->phase == SIM_AGENT_QUEUED)
        return 1; /* it goes to mi when admitted */
    agent_drop(ag);
    agent_queue(ag);
    return 1;
}

/* Agents not started yet go to the leader when admitted. */
long sim_agent_follow(int mi)
{
    long i, moved = 0;

    for (i = 0; i < started; i++)
        moved += agent_follow(&agents[i], mi);
    return moved;
}

/* ------------------------------------------------------------------ */
/* The connection                                                       */
/* ------------------------------------------------------------------ */

static void agent_write(struct sim_agent *ag)
{
    while (ag->out_off < ag->out.len) {
        ssize_t k = send(ag->fd, ag->out.p + ag->out_off,
                         ag->out.len - ag->out_off, MSG_NOSIGNAL);

        if (k < 0 && errno == EAGAIN)
            return;
        if (k <= 0) {
            sim_agent_stream_end(ag, strerror(errno));
            return;
        }
        ag->out_off += (size_t)k;
    }
    sim_buf_free(&ag->out);
    ag->phase = SIM_AGENT_HEADERS;
    ev_io_stop(sim_loop, &ag->io);
    ev_io_set(&ag->io, ag->fd, EV_READ);
    ev_io_start(sim_loop, &ag->io);
}

/* Reads the answer: headers (a redirect, a refusal, or the stream's
 * start), then the stream, while a read fills the buffer. */
static void agent_read(struct sim_agent *ag)
{
    for (;;) {
        ssize_t k = recv(ag->fd, sim_rbuf, sizeof(sim_rbuf), 0);
        const char *p = sim_rbuf;
        size_t n;

        if (k < 0 && errno == EAGAIN)
            return;
        if (k <= 0) {
            sim_agent_stream_end(ag, k == 0 ? "the master closed the stream"
                                            : strerror(errno));
            return;
        }
        sim_st.bytes_in += (uint64_t)k;
        n = (size_t)k;
        if (ag->phase == SIM_AGENT_HEADERS) {
            long hl;

            sim_buf_add(&ag->in, p, n);
            if ((hl = sim_stream_headers(ag)) == 0)
                continue;
            if (hl == -2) {
                agent_redirect(ag);
                return;
            }
            if (hl < 0) {
                sim_agent_stream_end(ag, "the subscription was refused");
                return;
            }
            /* What followed the headers is stream data. */
            ag->phase = SIM_AGENT_STREAM;
            n = ag->in.len - (size_t)hl;
            memmove(sim_rbuf, ag->in.p + hl, n);
            ag->in.len = 0;
        }
        if (sim_stream_body(ag, p, n) < 0 && ag->phase == SIM_AGENT_STREAM) {
            sim_agent_stream_end(ag, "the stream ended or broke");
            return;
        }
        if (ag->phase != SIM_AGENT_STREAM || (size_t)k < sizeof(sim_rbuf))
            return;
    }
}

static void agent_on_io(struct ev_loop *l, ev_io *w, int events)
{
    struct sim_agent *ag = w->data;

    (void)l;
    if (ag->phase == SIM_AGENT_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof(err);

        getsockopt(ag->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            sim_st.connect_errors++;
            sim_agent_stream_end(ag, strerror(err));
            return;
        }
        ag->phase = SIM_AGENT_SENDING;
    }
    if (ag->phase == SIM_AGENT_SENDING && (events & EV_WRITE))
        agent_write(ag);
    else if ((ag->phase == SIM_AGENT_HEADERS ||
              ag->phase == SIM_AGENT_STREAM) &&
             (events & EV_READ))
        agent_read(ag);
}
