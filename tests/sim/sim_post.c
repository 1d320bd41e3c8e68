/*
 * sim_post.c - the agents' send queues, and the pool of keep-alive
 * connections that POST them to /api/agent/updates.
 *
 * Updates travel as a real agent sends them: per agent, everything that
 * accumulated during one loop iteration goes in one POST (at most 1,000
 * updates, at most one POST in flight per agent, in order). An agent
 * with something to send (updates, a pong) goes on the dirty FIFO, which
 * sim_post_flush() hands to free connections before the loop blocks. The
 * POSTs share a pool of --updates_conns connections, not one per agent:
 * the master needs one stream per agent, and descriptors are limited. An
 * agent's POST goes to the master its stream is subscribed to, never
 * redirected: a pool connection open to another master is closed and
 * opened again to that one (a free connection already open to it is
 * preferred).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <agora/json.h>

#include "sim.h"

struct pconn {
    int fd;
    int master;   /* the master fd is open to                    */
    int busy;     /* a request is assigned                       */
    double since; /* when the request was assigned               */
    int connected;
    ev_io io;
    struct sim_buf out; /* the request                             */
    size_t out_off;
    struct sim_buf in; /* the answer                              */
    struct sim_agent *ag;
    struct sim_update **carried;
    size_t ncarried, capcarried;
    int pong;
    struct pconn *fnext; /* free list                                  */
};

static struct pconn *pconns, *pconn_free;
static struct sim_agent *dirty_head, *dirty_tail;

static void pconn_on_io(struct ev_loop *l, ev_io *w, int events);

/* ------------------------------------------------------------------ */
/* The agents' send queues                                              */
/* ------------------------------------------------------------------ */

void sim_post_dirty(struct sim_agent *ag)
{
    if (ag->dirty || ag->posting || ag->phase != SIM_AGENT_STREAM ||
        (ag->nqueued == 0 && !ag->pong))
        return;
    ag->dirty = 1;
    ag->dnext = NULL;
    if (dirty_tail)
        dirty_tail->dnext = ag;
    else
        dirty_head = ag;
    dirty_tail = ag;
}

void sim_post_enqueue(struct sim_agent *ag, struct sim_update *u)
{
    u->phase = SIM_UPDATE_QUEUED;
    u->held = 1;
    u->qnext = NULL;
    *ag->q_tail = u;
    ag->q_tail = &u->qnext;
    ag->nqueued++;
    sim_post_dirty(ag);
}

/* ------------------------------------------------------------------ */
/* The connections                                                      */
/* ------------------------------------------------------------------ */

void sim_post_init(void)
{
    long i;

    pconns = calloc((size_t)sim_opt.updates_conns, sizeof(*pconns));
    if (pconns == NULL)
        sim_die("out of memory");
    for (i = sim_opt.updates_conns - 1; i >= 0; i--) {
        pconns[i].fd = -1;
        pconns[i].master = -1;
        pconns[i].fnext = pconn_free;
        pconn_free = &pconns[i];
    }
}

static void pconn_release(struct pconn *c)
{
    c->busy = 0;
    c->ag = NULL;
    c->ncarried = 0;
    c->pong = 0;
    c->fnext = pconn_free;
    pconn_free = c;
}

static void pconn_close(struct pconn *c)
{
    if (c->fd >= 0) {
        ev_io_stop(sim_loop, &c->io);
        close(c->fd);
    }
    c->fd = -1;
    c->connected = 0;
    c->in.len = 0;
}

/* The POST ended: answered with `status` (0 when the connection broke). */
static void pconn_done(struct pconn *c, int status)
{
    struct sim_agent *ag = c->ag;
    int ok = status >= 200 && status < 300;
    size_t i;

    sim_st.posts++;
    if (!ok) {
        sim_st.posts_failed++;
        if (status) {
            char s[16];

            snprintf(s, sizeof(s), "%d", status);
            sim_error("%s: updates answered %s", ag->id, s);
        }
    }
    for (i = 0; i < c->ncarried; i++)
        sim_task_posted(c->carried[i]);
    if (!ok && c->pong)
        ag->pong = 1;
    ag->posting = 0;
    pconn_release(c);
    sim_post_dirty(ag);
}

static void pconn_fail(struct pconn *c)
{
    sim_st.pconn_errors++;
    pconn_close(c);
    if (c->busy)
        pconn_done(c, 0);
}

static int pconn_connect(struct pconn *c, int mi)
{
    c->fd = sim_master_connect(mi);
    c->master = mi;
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    sim_st.pconn_connects++;
    ev_io_init(&c->io, pconn_on_io, c->fd, EV_READ | EV_WRITE);
    c->io.data = c;
    ev_io_start(sim_loop, &c->io);
    return 0;
}

/* The answer in c->in: 1 when complete (status in *status), 0 if not. */
static int pconn_parse(struct pconn *c, int *status, int *close_after)
{
    const char *end = memmem(c->in.p, c->in.len, "\r\n\r\n", 4), *p;
    size_t hl, clen = 0;

    if (end == NULL)
        return 0;
    hl = (size_t)(end - c->in.p) + 4;
    *status = 0;
    if (sscanf(c->in.p, "HTTP/1.%*d %d", status) != 1)
        *status = 0;
    *close_after = strncmp(c->in.p, "HTTP/1.0", 8) == 0;
    for (p = c->in.p; p && p < end; p++) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (p == NULL)
            break;
        if (strncasecmp(p + 1, "content-length:", 15) == 0)
            clen = strtoul(p + 16, NULL, 10);
        else if (strncasecmp(p + 1, "connection:", 11) == 0 &&
                 strncasecmp(p + 12 + strspn(p + 12, " "), "close", 5) == 0)
            *close_after = 1;
    }
    if (c->in.len < hl + clen)
        return 0;
    sim_buf_consume(&c->in, hl + clen);
    return 1;
}

static void pconn_on_io(struct ev_loop *l, ev_io *w, int events)
{
    struct pconn *c = w->data;

    (void)l;
    if (!c->connected && (events & EV_WRITE)) {
        int err = 0;
        socklen_t el = sizeof(err);

        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            sim_error("updates connection: %s%s", strerror(err), "");
            pconn_fail(c);
            return;
        }
        c->connected = 1;
    }
    if ((events & EV_WRITE) && c->busy && c->out_off < c->out.len) {
        while (c->out_off < c->out.len) {
            ssize_t k = send(c->fd, c->out.p + c->out_off,
                             c->out.len - c->out_off, MSG_NOSIGNAL);

            if (k < 0 && errno == EAGAIN)
                break;
            if (k <= 0) {
                pconn_fail(c);
                return;
            }
            c->out_off += (size_t)k;
        }
    }
    if (c->out_off >= c->out.len || !c->busy) {
        ev_io_stop(sim_loop, &c->io);
        ev_io_set(&c->io, c->fd, EV_READ);
        ev_io_start(sim_loop, &c->io);
    }
    if (events & EV_READ) {
        for (;;) {
            ssize_t k = recv(c->fd, sim_rbuf, sizeof(sim_rbuf), 0);
            int status, close_after;

            if (k < 0 && errno == EAGAIN)
                break;
            if (k <= 0) {
                /* An idle keep-alive connection the master timed out is
                 * no error; a busy one is. */
                if (c->busy)
                    pconn_fail(c);
                else
                    pconn_close(c);
                return;
            }
            sim_buf_add(&c->in, sim_rbuf, (size_t)k);
            if (c->busy && pconn_parse(c, &status, &close_after)) {
                if (close_after)
                    pconn_close(c);
                pconn_done(c, status);
                return;
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* The POSTs                                                            */
/* ------------------------------------------------------------------ */

/* Every simulated agent advertises 127.0.0.1 (sim_agent.c). */
#define SIM_CONTAINER_STATUS                                                   \
    "{\"network_infos\":[{\"ip_addresses\":[{\"ip_address\":"                  \
    "\"127.0.0.1\"}]}]}"

/* Takes ag's queued updates (at most SIM_POST_MAX_UPDATES) into the
 * body sim_jw is writing; c carries them until the POST ends. Returns
 * how many. */
static size_t post_take_updates(struct sim_agent *ag, struct pconn *c)
{
    size_t n = 0;

    while (ag->q_head && n < SIM_POST_MAX_UPDATES) {
        struct sim_update *u = ag->q_head;
        char uuid[37];

        ag->q_head = u->qnext;
        ag->nqueued--;
        if (u->phase != SIM_UPDATE_QUEUED) {
            u->held = 0; /* acknowledged while queued */
            sim_task_maybe_free(u->task);
            continue;
        }
        sim_task_uuid_text(u->uuid, uuid);
        agora_jw_obj_open(sim_jw);
        agora_jw_kstr(sim_jw, "uuid", uuid);
        agora_jw_kstr(sim_jw, "task_id", u->task->name);
        agora_jw_kstr(sim_jw, "framework_id", u->task->fw);
        agora_jw_kstr(sim_jw, "state", sim_task_state_name(u->state));
        agora_jw_knum(sim_jw, "timestamp", u->timestamp);
        agora_jw_kint(sim_jw, "seq", u->seq);
        if (u->state == SIM_TASK_KILLED)
            agora_jw_kstr(sim_jw, "message", "killed by simcluster");
        /* As a real agent's: its address (no executor: nothing forks). */
        agora_jw_key(sim_jw, "container_status");
        agora_jw_raw(sim_jw, SIM_CONTAINER_STATUS,
                     sizeof(SIM_CONTAINER_STATUS) - 1);
        agora_jw_obj_close(sim_jw);
        u->phase = SIM_UPDATE_INFLIGHT;
        if (c->ncarried == c->capcarried) {
            c->capcarried = c->capcarried ? c->capcarried * 2 : 64;
            c->carried =
                realloc(c->carried, c->capcarried * sizeof(*c->carried));
            if (c->carried == NULL)
                sim_die("out of memory");
        }
        c->carried[c->ncarried++] = u;
        n++;
    }
    if (ag->q_head == NULL)
        ag->q_tail = &ag->q_head;
    return n;
}

/* Builds ag's POST on c and starts it. */
static void post_updates(struct sim_agent *ag, struct pconn *c)
{
    const char *body;
    char head[256];
    size_t len, n;
    int k;

    agora_jw_reset(sim_jw);
    agora_jw_obj_open(sim_jw);
    agora_jw_kstr(sim_jw, "agent_id", ag->id);
    agora_jw_kstr(sim_jw, "session", ag->session);
    agora_jw_key(sim_jw, "updates");
    agora_jw_arr_open(sim_jw);
    n = post_take_updates(ag, c);
    agora_jw_arr_close(sim_jw);
    if (ag->pong) {
        agora_jw_kbool(sim_jw, "pong", 1);
        c->pong = 1;
        ag->pong = 0;
        sim_st.pongs++;
    }
    agora_jw_obj_close(sim_jw);
    body = agora_jw_result(sim_jw, &len);
    if (body == NULL)
        sim_die("out of memory");
    k = snprintf(head, sizeof(head),
                 "POST /api/agent/updates HTTP/1.1\r\nHost: %s\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 sim_master_host(ag->master), len);
    c->out.len = 0;
    sim_buf_add(&c->out, head, (size_t)k);
    sim_buf_add(&c->out, body, len);
    c->out_off = 0;
    c->busy = 1;
    c->since = sim_now();
    c->ag = ag;
    ag->posting = 1;
    sim_st.updates_posted += n;
    /* The agent's stream master gets its updates, never another. */
    if (c->fd >= 0 && c->master != ag->master)
        pconn_close(c);
    if (c->fd < 0 && pconn_connect(c, ag->master) < 0) {
        sim_error("updates connection: %s%s", strerror(errno), "");
        pconn_fail(c);
        return;
    }
    ev_io_stop(sim_loop, &c->io);
    ev_io_set(&c->io, c->fd, EV_READ | EV_WRITE);
    ev_io_start(sim_loop, &c->io);
}

/* A free connection for a POST to master mi: one already open to it if
 * there is one, else the most recently freed. */
static struct pconn *pconn_take(int mi)
{
    struct pconn **pp, **pick = &pconn_free, *c;

    for (pp = &pconn_free; *pp; pp = &(*pp)->fnext)
        if ((*pp)->fd >= 0 && (*pp)->master == mi) {
            pick = pp;
            break;
        }
    c = *pick;
    *pick = c->fnext;
    c->fnext = NULL;
    return c;
}

/* Agents left on the FIFO wait for a connection to come free. */
void sim_post_flush(void)
{
    while (dirty_head && pconn_free) {
        struct sim_agent *ag = dirty_head;

        dirty_head = ag->dnext;
        if (dirty_head == NULL)
            dirty_tail = NULL;
        ag->dirty = 0;
        if (ag->phase != SIM_AGENT_STREAM || ag->posting ||
            (ag->nqueued == 0 && !ag->pong))
            continue;
        post_updates(ag, pconn_take(ag->master));
    }
}

void sim_post_check_timeouts(double now)
{
    long i;

    for (i = 0; i < sim_opt.updates_conns; i++) {
        struct pconn *c = &pconns[i];

        if (c->busy && now - c->since > SIM_POST_TIMEOUT) {
            sim_error("updates connection: no answer to a POST within "
                      "%s s%s",
                      "30", "");
            pconn_fail(c);
        }
    }
}
