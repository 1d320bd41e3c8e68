/*
 * simcluster - a simulated cluster: N agents speaking the real agent
 * protocol (docs/agent-protocol.md) to a real agora-master, from one
 * process, without running anything.
 *
 *   simcluster --master=127.0.0.1:5050[,host:port...] --agents=10000
 *   simcluster --master=zk://127.0.0.1:2181[,host:port...]/agora ...
 *              [--resources="cpus:8;mem:32768;disk:100000;ports:[31000-32000]"]
 *              [--finish_after=SECONDS] [--id_prefix=sim] [--updates_conns=64]
 *              [--subscribe_window=512] [--resend_after=1]
 *              [--backoff_min=0.1 (zk://: 0.25)] [--backoff_max=2]
 *              [--stats_interval=2] [--report=FILE]
 *
 * Every agent `<prefix>-<i>` holds one subscription: a long-lived POST
 * /api/agent/subscribe whose chunked NDJSON answer carries its events.
 * A `launch` is answered with TASK_RUNNING (seq 1) and, finish_after
 * seconds later when that is not 0, TASK_FINISHED (seq 2); a `kill` of a
 * live task with TASK_KILLED; a `ping` with a pong. Nothing is forked, so
 * what a benchmark measures is the master and its plugins.
 *
 * Updates travel as a real agent sends them: per agent, everything that
 * accumulated during one loop iteration goes in one POST
 * /api/agent/updates (at most 1,000 updates, at most one POST in flight
 * per agent, in order), and stays pending until the master acknowledges
 * it on the stream; an update not acknowledged resend_after seconds after
 * its POST was answered is sent again (doubling to 60 s), and everything
 * pending is sent again after a new subscription. The POSTs share a pool
 * of keep-alive connections (--updates_conns), not one per agent: the
 * master needs one stream per agent, and descriptors are limited. An
 * agent's POST goes to the master its stream is subscribed to, never
 * redirected: a pool connection open to another master is closed and
 * opened again to that one (a free connection already open to it is
 * preferred).
 *
 * The hot path is cheap: events are found with a scanner for the
 * members the master writes (`"type":"…"` first, then the task id), with
 * yajl only as the fallback for a line the scanner does not recognise;
 * tasks live in one hash table; no allocation per event but the task's.
 *
 * Several masters: --master is a comma list. Agent i first subscribes to
 * the list's master i mod n, so the first answers come from leader and
 * standbys alike. A 301, 302, 303, 307 or 308 (a standby names the
 * leader) is followed at once to its Location, http://host:port/...
 * (the POST and its body kept; at most 5 redirects an attempt). A 503 (a
 * standby that knows no leader), any other status, a connection that
 * fails, or a redirect that leads nowhere sends the agent to the next
 * master of the list after a backoff: --backoff_min (100 ms) doubling to
 * --backoff_max (2 s) each time the whole list was tried at it (a dead
 * master on the list costs a wait, not a doubling), each wait drawn in
 * [backoff/2, backoff] per agent so that a thousand agents whose leader
 * died together do not come back in lockstep. A stream that ends (its master
 * died, or dropped it) or stays without a ping for ping_interval x
 * max_ping_misses is subscribed again the same way, to the list master after
 * the one it was on, carrying the tasks the agent holds, as agora-agent does.
 * The backoff is reset when a `subscribed` line arrives.
 *
 * ZooKeeper: --master=zk://hosts/root, as agora-agent takes it. One
 * watch of the masters' election under root (agent/leader_watch.c, the
 * agent's own code) stands for every agent's: each real agent would hear
 * the same news at the same moment. No agent subscribes before a leader
 * is known. When the watch reports a leader "host:port" (a new address,
 * or a new term of the same one), as agent/link.c's link_on_leader does
 * for each agent: a stream or attempt to that master already is kept;
 * every other agent drops what it has (its stream to the old leader, an
 * attempt, a backoff wait) and subscribes to the new leader at once,
 * carrying its tasks, its backoff reset: a failure after that waits
 * --backoff_min (default here 250 ms, the agent's first backoff after a
 * leader change), doubling at each failure to --backoff_max, jittered
 * as above. A failed attempt (connection refused, a 503, a redirect that
 * leads nowhere; a 307 is followed as above) or a stream that ends is
 * retried, after that backoff, to the leader the watch shows then. A
 * report of no leader stops nothing: attempts that fail afterwards wait
 * for the next leader. All of zk mode's subscriptions, first ones and
 * retries, go through the subscribe window: at most --subscribe_window
 * in flight (connecting, or waiting for the `subscribed` line), the
 * rest queued in order, so a leader change that moves every agent at
 * once sends a window of them at a time. (List mode windows the first
 * subscriptions only.) ZooKeeper's own log lines come on stderr too.
 *
 * stderr gets a stats line every --stats_interval seconds and a final one
 * on SIGTERM or SIGINT; --report=FILE gets the same counters as JSON
 * (rewritten at every stats line, and at exit).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "leader_watch.h"

#define SIM_READ_BUF (256u << 10)
#define SIM_LINE_MAX (4u << 20)   /* a longer line drops the stream     */
#define SIM_POST_MAX_UPDATES 1000 /* the protocol's limit per POST      */
#define SIM_RESEND_MAX 60.0
#define SIM_SUBSCRIBE_TIMEOUT 30.0
#define SIM_POST_TIMEOUT 30.0 /* a POST not answered by then fails  */
#define SIM_MASTERS_MAX 64    /* listed ones and redirect targets   */
#define SIM_REDIRECTS_MAX 5   /* followed by one subscribe attempt  */
/* zk mode's first backoff after a new leader, as agora-agent's
 * LINK_LEADER_BACKOFF (agent/link.c); list mode starts at 100 ms. */
#define SIM_LEADER_BACKOFF 0.25
#define SIM_LIST_BACKOFF 0.1

/* ------------------------------------------------------------------ */
/* Options and counters                                                 */
/* ------------------------------------------------------------------ */

static struct {
    const char *master;
    long agents;
    const char *resources;
    double finish_after;
    const char *prefix;
    long updates_conns;
    long window;
    double resend_after;
    double stats_interval;
    const char *report;
    const char *hostname;
    double backoff_min, backoff_max;
} opt = {NULL, 0,     "cpus:8;mem:32768;disk:100000;ports:[31000-32000]",
         0,    "sim", 64,
         512,  1.0,   2.0,
         NULL, NULL,  0, /* backoff_min: 0 = the mode's default */
         2.0};

static struct {
    uint64_t launches, launch_dups, launch_bad, kills, kills_unknown;
    uint64_t acks, acks_unknown, pings, pongs, shutdowns, keepalives;
    uint64_t sent_running, sent_finished, sent_killed;
    uint64_t updates_posted, posts, posts_failed, resends;
    uint64_t subscribes, subscribed, reconnects, stream_errors;
    uint64_t refused[6]; /* subscribe answers by status class        */
    uint64_t redirects, connect_errors, unavailable;
    uint64_t leader_reports, leader_moves; /* zk mode                   */
    double leader_at; /* when the last leader was reported         */
    uint64_t pconn_connects, pconn_errors;
    uint64_t bytes_in, lines, slow_lines;
    double first_launch, last_launch, last_running_sent, last_ack;
    double start, all_subscribed;
    double resubscribed; /* the last time all agents were subscribed   */
    char last_error[512];
} st;

/* ------------------------------------------------------------------ */
/* Small growable buffers                                               */
/* ------------------------------------------------------------------ */

struct buf {
    char *p;
    size_t len, cap;
};

static void die(const char *what)
{
    fprintf(stderr, "simcluster: %s\n", what);
    exit(1);
}

static void buf_reserve(struct buf *b, size_t extra)
{
    size_t cap = b->cap ? b->cap : 256;

    if (b->len + extra <= b->cap)
        return;
    while (cap < b->len + extra)
        cap *= 2;
    b->p = realloc(b->p, cap);
    if (b->p == NULL)
        die("out of memory");
    b->cap = cap;
}

/* Appends, keeping a NUL after the bytes (for sscanf and strtoul). */
static void buf_add(struct buf *b, const void *s, size_t n)
{
    buf_reserve(b, n + 1);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Drops the first n bytes. */
static void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        if (b->p)
            b->p[0] = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    b->p[b->len] = 0;
}

/* ------------------------------------------------------------------ */
/* Tasks and their updates                                              */
/* ------------------------------------------------------------------ */

enum sim_state { S_RUNNING = 0, S_FINISHED, S_KILLED };

static const char *const state_names[] = {"TASK_RUNNING", "TASK_FINISHED",
                                          "TASK_KILLED"};

enum upd_phase {
    U_QUEUED,   /* on its agent's send queue                         */
    U_INFLIGHT, /* in a POST not answered yet                        */
    U_WAITING,  /* POSTed (or the POST failed): waiting for an ack   */
    U_ACKED
};

struct sim_task;

struct sim_update {
    struct sim_task *task;
    uint64_t uuid; /* counter; its text is derived   */
    double timestamp;
    double backoff; /* the next resend delay          */
    double due;     /* resend time while U_WAITING    */
    uint8_t state;  /* enum sim_state                 */
    uint8_t seq;
    uint8_t phase;                    /* enum upd_phase                 */
    uint8_t held;                     /* on a send queue or in a POST   */
    struct sim_update *qnext;         /* agent's send queue             */
    struct sim_update *wprev, *wnext; /* the waiting list               */
};

struct sim_agent;

struct sim_task {
    struct sim_task *hnext;         /* hash chain                     */
    struct sim_task *aprev, *anext; /* its agent's tasks              */
    struct sim_task *fnext;         /* the finish FIFO                */
    struct sim_agent *ag;
    const char *fw;  /* interned framework id          */
    const char *res; /* resources text (in name[])     */
    double finish_at;
    uint32_t hash;
    uint8_t state; /* latest state, enum sim_state   */
    uint8_t nupd;
    uint8_t in_fifo;
    struct sim_update upd[2]; /* RUNNING, then a terminal one   */
    char name[];              /* id NUL resources NUL           */
};

static struct {
    struct sim_task **b;
    size_t mask, n;
} tasks;

/* The finish FIFO: due times only grow, as finish_after is constant. */
static struct sim_task *fifo_head, *fifo_tail;
/* Updates waiting for their ack, oldest first. */
static struct sim_update *wait_head, *wait_tail;
static size_t nwaiting;
static uint64_t uuid_next = 1;
static char uuid_salt[25]; /* the first 24 characters of every uuid */

static uint32_t hash_str(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static struct sim_task *task_find(const char *id, size_t n)
{
    uint32_t h = hash_str(id, n);
    struct sim_task *t;

    if (tasks.b == NULL)
        return NULL;
    for (t = tasks.b[h & tasks.mask]; t; t = t->hnext)
        if (t->hash == h && strncmp(t->name, id, n) == 0 && t->name[n] == 0)
            return t;
    return NULL;
}

static void tasks_grow(void)
{
    size_t nb = tasks.b ? (tasks.mask + 1) * 2 : 1024, i;
    struct sim_task **b = calloc(nb, sizeof(*b));

    if (b == NULL)
        die("out of memory");
    for (i = 0; tasks.b && i <= tasks.mask; i++) {
        struct sim_task *t = tasks.b[i], *next;

        for (; t; t = next) {
            next = t->hnext;
            t->hnext = b[t->hash & (nb - 1)];
            b[t->hash & (nb - 1)] = t;
        }
    }
    free(tasks.b);
    tasks.b = b;
    tasks.mask = nb - 1;
}

static void task_unhash(struct sim_task *t)
{
    struct sim_task **pp = &tasks.b[t->hash & tasks.mask];

    while (*pp && *pp != t)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = t->hnext;
    tasks.n--;
}

/* The uuid of an update: a per-run salt and the counter. */
static void uuid_text(uint64_t u, char out[37])
{
    memcpy(out, uuid_salt, 24);
    snprintf(out + 24, 13, "%012llx",
             (unsigned long long)(u & 0xffffffffffffULL));
}

/* The counter of one of our uuids, or 0. */
static uint64_t uuid_parse(const char *s, size_t n)
{
    uint64_t v = 0;
    size_t i;

    if (n != 36 || memcmp(s, uuid_salt, 24) != 0)
        return 0;
    for (i = 24; i < 36; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
        if (d < 0)
            return 0;
        v = v * 16 + (uint64_t)d;
    }
    return v;
}

static void wait_add(struct sim_update *u)
{
    u->wnext = NULL;
    u->wprev = wait_tail;
    if (wait_tail)
        wait_tail->wnext = u;
    else
        wait_head = u;
    wait_tail = u;
    nwaiting++;
}

static void wait_remove(struct sim_update *u)
{
    if (u->wprev)
        u->wprev->wnext = u->wnext;
    else
        wait_head = u->wnext;
    if (u->wnext)
        u->wnext->wprev = u->wprev;
    else
        wait_tail = u->wprev;
    u->wprev = u->wnext = NULL;
    nwaiting--;
}

/* ------------------------------------------------------------------ */
/* Agents and the update connections                                    */
/* ------------------------------------------------------------------ */

enum agent_phase {
    A_IDLE,       /* not started yet                                   */
    A_CONNECTING, /* connect() in progress                             */
    A_SENDING,    /* writing the subscribe request                     */
    A_HEADERS,    /* reading the answer's headers                      */
    A_STREAM,     /* reading events                                    */
    A_BACKOFF,    /* waiting to subscribe again                        */
    A_DONE,       /* shut down by the master                           */
    A_QUEUED      /* zk: waiting for a window slot, or for a leader     */
};

enum chunk_phase { C_SIZE, C_EXT, C_DATA, C_CRLF, C_RAW, C_END };

struct sim_agent {
    int idx;
    int fd;
    char id[64];
    uint8_t master;     /* the master subscribed to (or being asked)  */
    uint8_t listpos;    /* the list master the last attempt began at   */
    uint8_t hops;       /* redirects followed in this attempt          */
    uint8_t tries;      /* failed attempts at the current backoff      */
    uint8_t phase;      /* enum agent_phase                            */
    uint8_t cphase;     /* enum chunk_phase                            */
    uint8_t subscribed; /* the `subscribed` line came                  */
    uint8_t in_window;  /* counted among the subscriptions in progress */
    uint8_t dirty;      /* on the dirty FIFO                           */
    uint8_t posting;    /* a POST of its updates is in flight          */
    uint8_t pong;       /* a pong is owed                              */
    size_t chunk_left;
    struct sim_agent *rnext; /* zk: the queue of agents to subscribe  */
    ev_io io;
    ev_timer timer; /* reconnect backoff / subscribe watchdog      */
    double backoff;
    double last_event;  /* any line from the master                    */
    double ping_window; /* ping_interval x max_ping_misses             */
    struct buf out;     /* the subscribe request being written         */
    size_t out_off;
    struct buf in; /* headers, then a partial line                */
    struct sim_update *q_head, **q_tail; /* updates to POST            */
    size_t nqueued;
    struct sim_task *tasks; /* its tasks, newest first                 */
    size_t ntasks;
    struct sim_agent *dnext; /* the dirty FIFO                         */
};

struct pconn {
    int fd;
    int master;   /* the master fd is open to                    */
    int busy;     /* a request is assigned                       */
    double since; /* when the request was assigned               */
    int connected;
    ev_io io;
    struct buf out; /* the request                                 */
    size_t out_off;
    struct buf in; /* the answer                                  */
    struct sim_agent *ag;
    struct sim_update **carried;
    size_t ncarried, capcarried;
    int pong;
    struct pconn *fnext; /* free list                                  */
};

/* A master: one of --master's list (the first nlisted), or a redirect's
 * target. Agents and connections name them by index. */
struct sim_master {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char host[300]; /* "host:port": the Host header, and the key      */
};

static struct ev_loop *loop;
static struct sim_master masters[SIM_MASTERS_MAX];
static int nmasters, nlisted;
/* zk mode: one watch of the election stands for every agent's own (each
 * would hear the same at the same moment); the leader's index in
 * masters[], -1 while none is known; the agents waiting to subscribe to
 * it (for a window slot, or for a leader), oldest first. */
static struct leader_watch *lwatch;
static int leader_mi = -1;
static struct sim_agent *ready_head, *ready_tail;
static struct sim_agent *agents;
static long started, in_window, nsubscribed;
static struct pconn *pconns, *pconn_free;
static struct sim_agent *dirty_head, *dirty_tail;
static struct agora_jw *jw;
static char *subscribe_static; /* the body's constant middle part   */
static char rbuf[SIM_READ_BUF];
static const char **fw_names;
static size_t nfw_names;

static double now(void)
{
    return ev_now(loop);
}

static void set_error(const char *fmt, const char *a, const char *b)
{
    snprintf(st.last_error, sizeof(st.last_error), fmt, a, b);
}

static const char *fw_intern(const char *s, size_t n)
{
    static size_t last;
    size_t i;
    char *c;

    if (last < nfw_names && strncmp(fw_names[last], s, n) == 0 &&
        fw_names[last][n] == 0)
        return fw_names[last];
    for (i = 0; i < nfw_names; i++)
        if (strncmp(fw_names[i], s, n) == 0 && fw_names[i][n] == 0)
            return fw_names[last = i];
    fw_names = realloc(fw_names, (nfw_names + 1) * sizeof(*fw_names));
    c = strndup(s, n);
    if (fw_names == NULL || c == NULL)
        die("out of memory");
    fw_names[nfw_names] = c;
    last = nfw_names;
    return fw_names[nfw_names++];
}

static void agent_dirty(struct sim_agent *ag)
{
    if (ag->dirty || ag->posting || ag->phase != A_STREAM ||
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

static void agent_enqueue(struct sim_agent *ag, struct sim_update *u)
{
    u->phase = U_QUEUED;
    u->held = 1;
    u->qnext = NULL;
    *ag->q_tail = u;
    ag->q_tail = &u->qnext;
    ag->nqueued++;
    agent_dirty(ag);
}

/* A new update of t in state s, queued for its agent. */
static void task_update(struct sim_task *t, enum sim_state s)
{
    struct sim_update *u = &t->upd[t->nupd];

    u->task = t;
    u->uuid = uuid_next++;
    u->timestamp = now();
    u->backoff = opt.resend_after;
    u->state = (uint8_t)s;
    u->seq = (uint8_t)(t->nupd + 1);
    t->nupd++;
    t->state = (uint8_t)s;
    if (s == S_RUNNING) {
        st.sent_running++;
        st.last_running_sent = u->timestamp;
    } else if (s == S_FINISHED) {
        st.sent_finished++;
    } else {
        st.sent_killed++;
    }
    agent_enqueue(t->ag, u);
}

static void task_free(struct sim_task *t)
{
    struct sim_agent *ag = t->ag;

    if (t->aprev)
        t->aprev->anext = t->anext;
    else
        ag->tasks = t->anext;
    if (t->anext)
        t->anext->aprev = t->aprev;
    ag->ntasks--;
    task_unhash(t);
    free(t);
}

/* Frees t once it ended, every update was acknowledged, and the finish
 * FIFO no longer points at it. */
static void task_maybe_free(struct sim_task *t)
{
    int i;

    if (t->state == S_RUNNING || t->in_fifo)
        return;
    for (i = 0; i < t->nupd; i++)
        if (t->upd[i].phase != U_ACKED || t->upd[i].held)
            return;
    task_free(t);
}

static void task_launch(struct sim_agent *ag, const char *id, size_t idn,
                        const char *fw, size_t fwn, const char *res,
                        size_t resn)
{
    struct sim_task *t;
    size_t i;

    if (idn == 0 || (idn == 1 && id[0] == '.') ||
        (idn == 2 && id[0] == '.' && id[1] == '.') || memchr(id, '/', idn) ||
        fwn == 0) {
        st.launch_bad++;
        return;
    }
    if (task_find(id, idn)) {
        st.launch_dups++;
        return;
    }
    t = calloc(1, sizeof(*t) + idn + resn + 2);
    if (t == NULL)
        die("out of memory");
    memcpy(t->name, id, idn);
    memcpy(t->name + idn + 1, res, resn);
    t->res = t->name + idn + 1;
    t->fw = fw_intern(fw, fwn);
    t->ag = ag;
    t->hash = hash_str(id, idn);
    if (tasks.n >= tasks.mask)
        tasks_grow();
    i = t->hash & tasks.mask;
    t->hnext = tasks.b[i];
    tasks.b[i] = t;
    tasks.n++;
    t->anext = ag->tasks;
    if (ag->tasks)
        ag->tasks->aprev = t;
    ag->tasks = t;
    ag->ntasks++;
    st.launches++;
    if (st.first_launch == 0)
        st.first_launch = now();
    st.last_launch = now();
    task_update(t, S_RUNNING);
    if (opt.finish_after > 0) {
        t->finish_at = now() + opt.finish_after;
        t->in_fifo = 1;
        t->fnext = NULL;
        if (fifo_tail)
            fifo_tail->fnext = t;
        else
            fifo_head = t;
        fifo_tail = t;
    }
}

/* ------------------------------------------------------------------ */
/* Masters                                                              */
/* ------------------------------------------------------------------ */

/*
 * Adds master "host:port" (hp, n bytes; the host may be a bracketed IPv6
 * address) to the table and returns its index, or -1 when the table is
 * full, the text is not host:port, or the host does not resolve. The
 * name is resolved here, blocking: --master at start, and redirect
 * targets, which masters write as their --ip (an address) and which are
 * resolved once each.
 */
static int master_add(const char *hp, size_t n)
{
    char host[256], port[16];
    const char *colon = n ? memrchr(hp, ':', n) : NULL, *h = hp;
    size_t hn, pn;
    struct addrinfo hints, *res;
    struct sim_master *mm = &masters[nmasters];

    if (nmasters == SIM_MASTERS_MAX || colon == NULL || n >= sizeof(mm->host))
        return -1;
    hn = (size_t)(colon - hp);
    pn = n - hn - 1;
    if (hn >= 2 && hp[0] == '[' && hp[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    if (hn == 0 || hn >= sizeof(host) || pn == 0 || pn >= sizeof(port))
        return -1;
    memcpy(host, h, hn);
    host[hn] = 0;
    memcpy(port, colon + 1, pn);
    port[pn] = 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
        return -1;
    memcpy(&mm->addr, res->ai_addr, res->ai_addrlen);
    mm->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    memcpy(mm->host, hp, n);
    mm->host[n] = 0;
    return nmasters++;
}

/* The index of master "host:port" (hp, n bytes), added when new. */
static int master_lookup(const char *hp, size_t n)
{
    int i;

    for (i = 0; i < nmasters; i++)
        if (strncmp(masters[i].host, hp, n) == 0 && masters[i].host[n] == 0)
            return i;
    return master_add(hp, n);
}

/* --master's comma list: the first entries of the table, in order. */
static void masters_parse(const char *list)
{
    const char *p = list;

    while (*p) {
        size_t n = strcspn(p, ",");

        if (n > 0 && master_add(p, n) < 0) {
            fprintf(stderr,
                    "simcluster: --master: cannot use '%.*s' (want "
                    "host:port, at most %d of them)\n",
                    (int)n, p, SIM_MASTERS_MAX);
            exit(2);
        }
        p += n;
        if (*p == ',')
            p++;
    }
    nlisted = nmasters;
    if (nlisted == 0)
        die("--master wants host:port[,host:port...]");
}

/* ------------------------------------------------------------------ */
/* Reading events                                                       */
/* ------------------------------------------------------------------ */

/* The string value after `key` (which includes `"name":"`) in s[0..n),
 * or NULL. The value ends at the next quote: the ids the master writes
 * never hold an escaped quote. */
static const char *scan_str(const char *s, size_t n, const char *key,
                            size_t keylen, size_t *len)
{
    const char *p = memmem(s, n, key, keylen), *e;

    if (p == NULL)
        return NULL;
    p += keylen;
    e = memchr(p, '"', (size_t)(s + n - p));
    if (e == NULL)
        return NULL;
    *len = (size_t)(e - p);
    return p;
}

#define SCAN(s, n, key, len) scan_str(s, n, key, sizeof(key) - 1, len)

static void on_ack_one(const char *s, size_t n)
{
    const char *id, *uu;
    size_t idn = 0, uun = 0;
    struct sim_task *t;
    uint64_t u;
    int i;

    id = SCAN(s, n, "\"task_id\":\"", &idn);
    uu = SCAN(s, n, "\"uuid\":\"", &uun);
    if (id == NULL || uu == NULL || (u = uuid_parse(uu, uun)) == 0 ||
        (t = task_find(id, idn)) == NULL) {
        st.acks_unknown++;
        return;
    }
    for (i = 0; i < t->nupd; i++) {
        struct sim_update *up = &t->upd[i];

        if (up->uuid != u || up->phase == U_ACKED)
            continue;
        /* A queued or in-flight copy is acknowledged all the same: the
         * POST that carries it only finds it acknowledged. */
        if (up->phase == U_WAITING)
            wait_remove(up);
        up->phase = U_ACKED;
        st.acks++;
        st.last_ack = now();
        task_maybe_free(t);
        return;
    }
    st.acks_unknown++;
}

/* {"type":"ack","updates":[{"task_id":..,"uuid":..},...]}: flat objects. */
static void on_ack(const char *s, size_t n)
{
    const char *p = memmem(s, n, "\"updates\"", 9), *end = s + n;

    if (p == NULL)
        return;
    for (p += 9; p < end;) {
        const char *o = memchr(p, '{', (size_t)(end - p)), *c;

        if (o == NULL)
            break;
        c = memchr(o, '}', (size_t)(end - o));
        if (c == NULL)
            break;
        on_ack_one(o, (size_t)(c - o + 1));
        p = c + 1;
    }
}

static void on_kill(const char *id, size_t idn)
{
    struct sim_task *t = id ? task_find(id, idn) : NULL;

    st.kills++;
    if (t == NULL || t->state != S_RUNNING) {
        st.kills_unknown++;
        return;
    }
    task_update(t, S_KILLED);
}

static void agent_stream_end(struct sim_agent *ag, const char *why);
static void window_leave(struct sim_agent *ag);

static void on_subscribed(struct sim_agent *ag, const char *s, size_t n)
{
    double interval = 0, misses = 5;
    const char *p;
    struct sim_task *t;

    if ((p = memmem(s, n, "\"ping_interval\":", 16)) != NULL)
        interval = strtod(p + 16, NULL);
    if ((p = memmem(s, n, "\"max_ping_misses\":", 18)) != NULL)
        misses = strtod(p + 18, NULL);
    ag->ping_window = interval > 0 ? interval * (misses > 0 ? misses : 5) : 0;
    if (!ag->subscribed) {
        ag->subscribed = 1;
        nsubscribed++;
        st.subscribed++;
        if (nsubscribed == opt.agents && st.all_subscribed == 0)
            st.all_subscribed = now();
        if (nsubscribed == opt.agents)
            st.resubscribed = ev_time(); /* not now(): a busy iteration */
    }
    ag->backoff = 0;
    ev_timer_stop(loop, &ag->timer);
    window_leave(ag);
    /* A new subscription: everything unacknowledged goes again now. */
    for (t = ag->tasks; t; t = t->anext) {
        int i;

        for (i = 0; i < t->nupd; i++)
            if (t->upd[i].phase == U_WAITING) {
                wait_remove(&t->upd[i]);
                st.resends++;
                agent_enqueue(ag, &t->upd[i]);
            }
    }
    agent_dirty(ag);
}

/* A line the scanner did not recognise: parse it for real. */
static void on_line_slow(struct sim_agent *ag, const char *s, size_t n)
{
    char *text = strndup(s, n), err[128];
    yajl_val doc = text ? agora_json_parse(text, err, sizeof(err)) : NULL;
    const char *type = NULL, *id = NULL, *fw = NULL, *res = "";
    yajl_val task;

    st.slow_lines++;
    if (doc == NULL) {
        set_error("%s: unparsable event: %s", ag->id, err);
        free(text);
        return;
    }
    if (agora_json_str(doc, "type", &type) != 0)
        agora_json_str(doc, "event", &type);
    task = agora_json_get(doc, "task");
    if (type == NULL) {
        set_error("%s: event without a type%s", ag->id, "");
    } else if (strcmp(type, "launch") == 0) {
        agora_json_str(doc, "framework_id", &fw);
        agora_json_str(task, "task_id", &id);
        agora_json_str(task, "resources", &res);
        if (id && fw)
            task_launch(ag, id, strlen(id), fw, strlen(fw), res, strlen(res));
        else
            st.launch_bad++;
    } else if (strcmp(type, "kill") == 0) {
        agora_json_str(doc, "task_id", &id);
        on_kill(id, id ? strlen(id) : 0);
    } else if (strcmp(type, "ack") == 0) {
        yajl_val ups = agora_json_get(doc, "updates");
        size_t i;

        for (i = 0; YAJL_IS_ARRAY(ups) && i < ups->u.array.len; i++) {
            const char *uu = NULL;
            char one[512];
            int k;

            agora_json_str(ups->u.array.values[i], "task_id", &id);
            agora_json_str(ups->u.array.values[i], "uuid", &uu);
            k = snprintf(one, sizeof(one),
                         "{\"task_id\":\"%s\",\"uuid\":\"%s\"}", id ? id : "",
                         uu ? uu : "");
            if (k > 0 && (size_t)k < sizeof(one))
                on_ack_one(one, (size_t)k);
        }
    } else if (strcmp(type, "ping") == 0) {
        st.pings++;
        ag->pong = 1;
        agent_dirty(ag);
    } else if (strcmp(type, "subscribed") == 0) {
        on_subscribed(ag, s, n);
    } else if (strcmp(type, "shutdown") == 0) {
        st.shutdowns++;
        agent_stream_end(ag, NULL);
    }
    yajl_tree_free(doc);
    free(text);
}

/* One event line. The master writes compact JSON with "type" first. */
static void on_line(struct sim_agent *ag, const char *s, size_t n)
{
    const char *type, *id, *fw, *res;
    size_t tn = 0, idn = 0, fwn = 0, resn = 0;

    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' '))
        n--;
    st.lines++;
    ag->last_event = now();
    if (n == 0) {
        st.keepalives++;
        return;
    }
    type = SCAN(s, n, "\"type\":\"", &tn);
    if (type == NULL || type - s > 16) {
        on_line_slow(ag, s, n);
        return;
    }
    if (tn == 6 && memcmp(type, "launch", 6) == 0) {
        fw = SCAN(s, n, "\"framework_id\":\"", &fwn);
        id = SCAN(s, n, "\"task_id\":\"", &idn);
        res = SCAN(s, n, "\"resources\":\"", &resn);
        if (fw == NULL || id == NULL) {
            on_line_slow(ag, s, n);
            return;
        }
        task_launch(ag, id, idn, fw, fwn, res ? res : "", res ? resn : 0);
    } else if (tn == 3 && memcmp(type, "ack", 3) == 0) {
        on_ack(s, n);
    } else if (tn == 4 && memcmp(type, "ping", 4) == 0) {
        st.pings++;
        ag->pong = 1;
        agent_dirty(ag);
    } else if (tn == 4 && memcmp(type, "kill", 4) == 0) {
        id = SCAN(s, n, "\"task_id\":\"", &idn);
        on_kill(id, idn);
    } else {
        on_line_slow(ag, s, n);
    }
}

/* Stream data (de-chunked): split into lines, copying only the partial
 * line a read or chunk boundary cuts. Returns -1 when the agent must
 * drop the stream (a line too long). */
static int on_data(struct sim_agent *ag, const char *d, size_t m)
{
    while (m > 0 && ag->phase == A_STREAM) {
        const char *nl = memchr(d, '\n', m);
        size_t len;

        if (nl == NULL) {
            if (ag->in.len + m > SIM_LINE_MAX)
                return -1;
            buf_add(&ag->in, d, m);
            return 0;
        }
        len = (size_t)(nl - d);
        if (ag->in.len) {
            buf_add(&ag->in, d, len);
            on_line(ag, ag->in.p, ag->in.len);
            ag->in.len = 0;
        } else {
            on_line(ag, d, len);
        }
        d += len + 1;
        m -= len + 1;
    }
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The chunked transfer coding, byte by byte between chunks and in bulk
 * inside them. Returns -1 on a framing error or the end of the stream. */
static int on_body(struct sim_agent *ag, const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && ag->phase == A_STREAM) {
        char c;
        int v;

        switch (ag->cphase) {
        case C_RAW:
            return on_data(ag, p + i, n - i);
        case C_SIZE:
            c = p[i++];
            if ((v = hexval(c)) >= 0) {
                if (ag->chunk_left > (SIZE_MAX >> 5))
                    return -1;
                ag->chunk_left = ag->chunk_left * 16 + (size_t)v;
            } else if (c == '\n') {
                if (ag->chunk_left == 0)
                    return -1; /* the last chunk: the stream ended */
                ag->cphase = C_DATA;
            } else if (c == ';') {
                ag->cphase = C_EXT;
            } else if (c != '\r' && c != ' ' && c != '\t') {
                return -1;
            }
            break;
        case C_EXT:
            if (p[i++] == '\n') {
                if (ag->chunk_left == 0)
                    return -1;
                ag->cphase = C_DATA;
            }
            break;
        case C_DATA: {
            size_t k = n - i < ag->chunk_left ? n - i : ag->chunk_left;

            if (on_data(ag, p + i, k) < 0)
                return -1;
            i += k;
            ag->chunk_left -= k;
            if (ag->chunk_left == 0)
                ag->cphase = C_CRLF;
            break;
        }
        case C_CRLF:
            if (p[i++] == '\n') {
                ag->cphase = C_SIZE;
                ag->chunk_left = 0;
            }
            break;
        default:
            return -1;
        }
    }
    return 0;
}

/* The master a redirect's Location (in the headers before end) names:
 * http://host:port/... or a path on the same master; -1 for anything
 * else (https:// included: agents speak plain HTTP). */
static int redirect_target(struct sim_agent *ag, const char *end)
{
    const char *p, *v, *e, *slash;

    for (p = ag->in.p; p && p < end; p++) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (p == NULL || strncasecmp(p + 1, "location:", 9) != 0)
            continue;
        v = p + 10;
        v += strspn(v, " \t");
        e = v + strcspn(v, "\r\n");
        if (v < e && *v == '/')
            return ag->master;
        if (e - v < 8 || strncasecmp(v, "http://", 7) != 0)
            return -1;
        v += 7;
        slash = memchr(v, '/', (size_t)(e - v));
        return master_lookup(v, (size_t)((slash ? slash : e) - v));
    }
    return -1;
}

static int is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 ||
           status == 308;
}

/* The subscribe answer's headers in ag->in. Returns the header length,
 * 0 when incomplete, -1 when the answer is not a stream, -2 for a
 * redirect to follow (ag->master is then its target). */
static long on_headers(struct sim_agent *ag)
{
    const char *end = memmem(ag->in.p, ag->in.len, "\r\n\r\n", 4), *p;
    int status = 0, to;
    size_t hl;

    if (end == NULL)
        return ag->in.len > 65536 ? -1 : 0;
    hl = (size_t)(end - ag->in.p) + 4;
    if (sscanf(ag->in.p, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    st.refused[status >= 100 && status < 600 ? status / 100 : 0]++;
    if (status == 503)
        st.unavailable++;
    if (is_redirect(status) && ag->hops < SIM_REDIRECTS_MAX &&
        (to = redirect_target(ag, end)) >= 0) {
        ag->hops++;
        ag->master = (uint8_t)to;
        st.redirects++;
        return -2;
    }
    if (status != 200) {
        char head[200];
        size_t k =
            ag->in.len < sizeof(head) - 1 ? ag->in.len : sizeof(head) - 1;
        size_t j;

        memcpy(head, ag->in.p, k);
        head[k] = 0;
        for (j = 0; j < k; j++)
            if (head[j] == '\r' || head[j] == '\n')
                head[j] = ' ';
        set_error("%s: subscribe answered: %s", ag->id, head);
        return -1;
    }
    ag->cphase = C_RAW;
    for (p = ag->in.p; p < end; p++) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (p == NULL)
            break;
        if (strncasecmp(p + 1, "transfer-encoding:", 18) == 0) {
            const char *v = p + 19;

            while (*v == ' ')
                v++;
            if (strncasecmp(v, "chunked", 7) == 0)
                ag->cphase = C_SIZE;
        }
    }
    ag->chunk_left = 0;
    return (long)hl;
}

/* ------------------------------------------------------------------ */
/* Subscriptions                                                        */
/* ------------------------------------------------------------------ */

static void agent_start(struct sim_agent *ag);
static void agent_queue(struct sim_agent *ag);
static void agent_on_io(struct ev_loop *l, ev_io *w, int events);

static void window_leave(struct sim_agent *ag)
{
    if (!ag->in_window)
        return;
    ag->in_window = 0;
    in_window--;
}

/* A non-blocking connection to master mi, in progress. */
static int sock_open(int mi)
{
    const struct sim_master *mm = &masters[mi];
    int fd = socket(mm->addr.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)&mm->addr, mm->addrlen) < 0 &&
        errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Closes the agent's connection and stops its timer. */
static void agent_close(struct sim_agent *ag)
{
    if (ag->fd >= 0) {
        ev_io_stop(loop, &ag->io);
        close(ag->fd);
        ag->fd = -1;
    }
    ev_timer_stop(loop, &ag->timer);
    buf_free(&ag->out);
    buf_free(&ag->in);
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

/* Drops the stream or the attempt; subscribes again after a backoff, to
 * the next master of the list (zk mode: to the leader known then),
 * unless why is NULL (the master shut the agent down). */
static void agent_stream_end(struct sim_agent *ag, const char *why)
{
    int stream_ended = ag->phase == A_STREAM;
    double delay;

    agent_drop(ag);
    if (why == NULL) {
        ag->phase = A_DONE;
        return;
    }
    st.stream_errors++;
    {
        char who[400];

        snprintf(who, sizeof(who), "%s (master %s)", ag->id,
                 masters[ag->master].host);
        set_error("%s: %s", who, why);
    }
    ag->phase = A_BACKOFF;
    if (lwatch == NULL)
        agent_next_master(ag, stream_ended);
    /* The backoff doubles once every master of the list was tried at it:
     * a dead master of the list costs one wait, not a doubling. In zk
     * mode there is one target, the leader: it doubles at each failure,
     * as agora-agent's does. */
    if (ag->backoff == 0) {
        ag->backoff = opt.backoff_min;
        ag->tries = 0;
    } else if (++ag->tries >= (lwatch ? 1 : nlisted)) {
        ag->tries = 0;
        ag->backoff *= 2;
        if (ag->backoff > opt.backoff_max)
            ag->backoff = opt.backoff_max;
    }
    /* In [backoff/2, backoff], drawn per agent: agents that lost their
     * master together spread out, and none waits longer than backoff. */
    delay = ag->backoff * (0.5 + 0.5 * (double)rand() / RAND_MAX);
    ev_timer_set(&ag->timer, delay, 0);
    ev_timer_start(loop, &ag->timer);
}

static void agent_on_timer(struct ev_loop *l, ev_timer *w, int events)
{
    struct sim_agent *ag = w->data;

    (void)l;
    (void)events;
    if (ag->phase == A_BACKOFF) {
        st.reconnects++;
        if (lwatch)
            agent_queue(ag); /* within the window, to the leader */
        else
            agent_start(ag);
    } else if (!ag->subscribed) {
        agent_stream_end(ag, "no `subscribed` line within 30 s");
    }
}

/* The subscribe request, with the tasks the agent holds. */
static void agent_request(struct sim_agent *ag)
{
    char id[160], host[600], head[800], req[512];
    struct sim_task *t;
    const char *tasks_json;
    size_t len;
    int n, k;

    /* The tasks list; the constant members are spliced in around it. */
    agora_jw_reset(jw);
    agora_jw_arr_open(jw);
    for (t = ag->tasks; t; t = t->anext) {
        int i, pending = 0;

        for (i = 0; i < t->nupd; i++)
            pending |= t->upd[i].phase != U_ACKED;
        if (t->state != S_RUNNING && !pending)
            continue;
        agora_jw_obj_open(jw);
        agora_jw_kstr(jw, "task_id", t->name);
        agora_jw_kstr(jw, "framework_id", t->fw);
        agora_jw_kstr(jw, "state", state_names[t->state]);
        agora_jw_kstr(jw, "resources", t->res);
        agora_jw_obj_close(jw);
    }
    agora_jw_arr_close(jw);
    tasks_json = agora_jw_result(jw, &len);
    if (tasks_json == NULL)
        die("out of memory");
    agora_json_quote(ag->id, id, sizeof(id));
    agora_json_quote(opt.hostname ? opt.hostname : ag->id, host, sizeof(host));
    n = snprintf(head, sizeof(head), "{\"agent_id\":%s,\"hostname\":%s,", id,
                 host);
    k = snprintf(req, sizeof(req),
                 "POST /api/agent/subscribe HTTP/1.1\r\nHost: %s\r\n"
                 "Content-Type: application/json\r\n"
                 "Accept: application/x-ndjson\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 masters[ag->master].host,
                 (size_t)n + strlen(subscribe_static) + len + 1);
    ag->out.len = 0;
    buf_add(&ag->out, req, (size_t)k);
    buf_add(&ag->out, head, (size_t)n);
    buf_add(&ag->out, subscribe_static, strlen(subscribe_static));
    buf_add(&ag->out, tasks_json, len);
    buf_add(&ag->out, "}", 1);
    ag->out_off = 0;
}

/* Sends the subscribe request to ag->master. */
static void agent_connect(struct sim_agent *ag)
{
    ag->fd = sock_open(ag->master);
    st.subscribes++;
    if (!ag->in_window) {
        ag->in_window = 1;
        in_window++;
    }
    ag->phase = A_CONNECTING;
    ag->cphase = C_SIZE;
    ag->in.len = 0;
    if (ag->fd < 0) {
        st.connect_errors++;
        agent_stream_end(ag, strerror(errno));
        return;
    }
    agent_request(ag);
    ev_io_init(&ag->io, agent_on_io, ag->fd, EV_WRITE);
    ag->io.data = ag;
    ev_io_start(loop, &ag->io);
    ev_timer_set(&ag->timer, SIM_SUBSCRIBE_TIMEOUT, 0);
    ev_timer_start(loop, &ag->timer);
}

/* A subscription attempt, to ag->master; in zk mode to the leader, or
 * none while no leader is known (the agent waits for one, queued). */
static void agent_start(struct sim_agent *ag)
{
    if (lwatch) {
        if (leader_mi < 0) {
            agent_queue(ag);
            return;
        }
        ag->master = (uint8_t)leader_mi;
    }
    ag->hops = 0;
    agent_connect(ag);
}

/* ------------------------------------------------------------------ */
/* zk mode: following the election                                     */
/* ------------------------------------------------------------------ */

/* The agent waits for its turn to subscribe (agents_admit). Never
 * called for an agent already queued. */
static void agent_queue(struct sim_agent *ag)
{
    ag->phase = A_QUEUED;
    ag->rnext = NULL;
    if (ready_tail)
        ready_tail->rnext = ag;
    else
        ready_head = ag;
    ready_tail = ag;
}

/*
 * Starts subscriptions while the subscribe window has room: in zk mode
 * first the queued agents (when a leader is known: a new leader moves
 * every agent at once, and the window spreads them out), then the agents
 * not started yet.
 */
static void agents_admit(void)
{
    if (lwatch && leader_mi < 0)
        return; /* no leader known: the watch's next report admits */
    while (ready_head && in_window < opt.window) {
        struct sim_agent *ag = ready_head;

        ready_head = ag->rnext;
        if (ready_head == NULL)
            ready_tail = NULL;
        agent_start(ag);
    }
    while (started < opt.agents && in_window < opt.window)
        agent_start(&agents[started++]);
}

/* The agent's stream, or its attempt, is to master mi. */
static int agent_on_master(const struct sim_agent *ag, int mi)
{
    return ag->master == mi &&
           (ag->phase == A_CONNECTING || ag->phase == A_SENDING ||
            ag->phase == A_HEADERS || ag->phase == A_STREAM);
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
    if (ag->phase == A_DONE || agent_on_master(ag, mi))
        return 0;
    ag->backoff = 0;
    ag->tries = 0;
    if (ag->phase == A_QUEUED)
        return 1; /* it goes to mi when admitted */
    agent_drop(ag);
    agent_queue(ag);
    return 1;
}

/* leader_watch_fn: the election's news, heard for every agent at once.
 * NULL (no leader known) stops nothing: attempts that fail from now on
 * wait for the next report. */
static void on_leader(void *arg, const char *master)
{
    long i, moved = 0;
    int mi;

    (void)arg;
    st.leader_reports++;
    st.leader_at = ev_time();
    leader_mi = -1;
    if (master == NULL) {
        fprintf(stderr, "simcluster: t=%.3fs no leader known: waiting\n",
                st.leader_at - st.start);
        return;
    }
    if ((mi = master_lookup(master, strlen(master))) < 0) {
        set_error("the leader %s: unresolvable, or over %s masters seen",
                  master, "64");
        fprintf(stderr, "simcluster: %s\n", st.last_error);
        return;
    }
    leader_mi = mi;
    for (i = 0; i < started; i++)
        moved += agent_follow(&agents[i], mi);
    st.leader_moves += (uint64_t)moved;
    fprintf(stderr,
            "simcluster: t=%.3fs the leader is %s: %ld agents go to it, "
            "%ld stay subscribed\n",
            st.leader_at - st.start, master, moved, nsubscribed);
    agents_admit();
}

/* A redirect's target is in ag->master: the same request goes there at
 * once, on a new connection. */
static void agent_redirect(struct sim_agent *ag)
{
    agent_close(ag);
    agent_connect(ag);
}

static void agent_write(struct sim_agent *ag)
{
    while (ag->out_off < ag->out.len) {
        ssize_t k = send(ag->fd, ag->out.p + ag->out_off,
                         ag->out.len - ag->out_off, MSG_NOSIGNAL);

        if (k < 0 && errno == EAGAIN)
            return;
        if (k <= 0) {
            agent_stream_end(ag, strerror(errno));
            return;
        }
        ag->out_off += (size_t)k;
    }
    buf_free(&ag->out);
    ag->phase = A_HEADERS;
    ev_io_stop(loop, &ag->io);
    ev_io_set(&ag->io, ag->fd, EV_READ);
    ev_io_start(loop, &ag->io);
}

static void agent_read(struct sim_agent *ag)
{
    for (;;) {
        ssize_t k = recv(ag->fd, rbuf, sizeof(rbuf), 0);
        const char *p = rbuf;
        size_t n;

        if (k < 0 && errno == EAGAIN)
            return;
        if (k <= 0) {
            agent_stream_end(ag, k == 0 ? "the master closed the stream"
                                        : strerror(errno));
            return;
        }
        st.bytes_in += (uint64_t)k;
        n = (size_t)k;
        if (ag->phase == A_HEADERS) {
            long hl;

            buf_add(&ag->in, p, n);
            if ((hl = on_headers(ag)) == 0)
                continue;
            if (hl == -2) {
                agent_redirect(ag);
                return;
            }
            if (hl < 0) {
                agent_stream_end(ag, "the subscription was refused");
                return;
            }
            /* What followed the headers is stream data. */
            ag->phase = A_STREAM;
            n = ag->in.len - (size_t)hl;
            memmove(rbuf, ag->in.p + hl, n);
            ag->in.len = 0;
        }
        if (on_body(ag, p, n) < 0 && ag->phase == A_STREAM) {
            agent_stream_end(ag, "the stream ended or broke");
            return;
        }
        if (ag->phase != A_STREAM || (size_t)k < sizeof(rbuf))
            return;
    }
}

static void agent_on_io(struct ev_loop *l, ev_io *w, int events)
{
    struct sim_agent *ag = w->data;

    (void)l;
    if (ag->phase == A_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof(err);

        getsockopt(ag->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            st.connect_errors++;
            agent_stream_end(ag, strerror(err));
            return;
        }
        ag->phase = A_SENDING;
    }
    if (ag->phase == A_SENDING && (events & EV_WRITE))
        agent_write(ag);
    else if ((ag->phase == A_HEADERS || ag->phase == A_STREAM) &&
             (events & EV_READ))
        agent_read(ag);
}

/* ------------------------------------------------------------------ */
/* Posting updates                                                      */
/* ------------------------------------------------------------------ */

static void pconn_on_io(struct ev_loop *l, ev_io *w, int events);

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
        ev_io_stop(loop, &c->io);
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

    st.posts++;
    if (!ok) {
        st.posts_failed++;
        if (status) {
            char s[16];

            snprintf(s, sizeof(s), "%d", status);
            set_error("%s: updates answered %s", ag->id, s);
        }
    }
    for (i = 0; i < c->ncarried; i++) {
        struct sim_update *u = c->carried[i];

        u->held = 0;
        if (u->phase != U_INFLIGHT) {
            /* Acknowledged before its POST was answered, as is usual:
             * the master acks on the stream before it answers. */
            task_maybe_free(u->task);
            continue;
        }
        u->phase = U_WAITING;
        u->due = now() + u->backoff;
        u->backoff =
            u->backoff * 2 > SIM_RESEND_MAX ? SIM_RESEND_MAX : u->backoff * 2;
        wait_add(u);
    }
    if (!ok && c->pong)
        ag->pong = 1;
    ag->posting = 0;
    pconn_release(c);
    agent_dirty(ag);
}

static void pconn_fail(struct pconn *c)
{
    st.pconn_errors++;
    pconn_close(c);
    if (c->busy)
        pconn_done(c, 0);
}

static int pconn_connect(struct pconn *c, int mi)
{
    c->fd = sock_open(mi);
    c->master = mi;
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    st.pconn_connects++;
    ev_io_init(&c->io, pconn_on_io, c->fd, EV_READ | EV_WRITE);
    c->io.data = c;
    ev_io_start(loop, &c->io);
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
    buf_consume(&c->in, hl + clen);
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
            set_error("updates connection: %s%s", strerror(err), "");
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
        ev_io_stop(loop, &c->io);
        ev_io_set(&c->io, c->fd, EV_READ);
        ev_io_start(loop, &c->io);
    }
    if (events & EV_READ) {
        for (;;) {
            ssize_t k = recv(c->fd, rbuf, sizeof(rbuf), 0);
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
            buf_add(&c->in, rbuf, (size_t)k);
            if (c->busy && pconn_parse(c, &status, &close_after)) {
                if (close_after)
                    pconn_close(c);
                pconn_done(c, status);
                return;
            }
        }
    }
}

/* Builds ag's POST on c and starts it. */
static void post_updates(struct sim_agent *ag, struct pconn *c)
{
    const char *body;
    char head[256];
    size_t len, n = 0;
    int k;

    agora_jw_reset(jw);
    agora_jw_obj_open(jw);
    agora_jw_kstr(jw, "agent_id", ag->id);
    agora_jw_key(jw, "updates");
    agora_jw_arr_open(jw);
    while (ag->q_head && n < SIM_POST_MAX_UPDATES) {
        struct sim_update *u = ag->q_head;
        char uuid[37];

        ag->q_head = u->qnext;
        ag->nqueued--;
        if (u->phase != U_QUEUED) {
            u->held = 0; /* acknowledged while queued */
            task_maybe_free(u->task);
            continue;
        }
        uuid_text(u->uuid, uuid);
        agora_jw_obj_open(jw);
        agora_jw_kstr(jw, "uuid", uuid);
        agora_jw_kstr(jw, "task_id", u->task->name);
        agora_jw_kstr(jw, "framework_id", u->task->fw);
        agora_jw_kstr(jw, "state", state_names[u->state]);
        agora_jw_knum(jw, "timestamp", u->timestamp);
        agora_jw_kint(jw, "seq", u->seq);
        if (u->state == S_KILLED)
            agora_jw_kstr(jw, "message", "killed by simcluster");
        agora_jw_obj_close(jw);
        u->phase = U_INFLIGHT;
        if (c->ncarried == c->capcarried) {
            c->capcarried = c->capcarried ? c->capcarried * 2 : 64;
            c->carried =
                realloc(c->carried, c->capcarried * sizeof(*c->carried));
            if (c->carried == NULL)
                die("out of memory");
        }
        c->carried[c->ncarried++] = u;
        n++;
    }
    if (ag->q_head == NULL)
        ag->q_tail = &ag->q_head;
    agora_jw_arr_close(jw);
    if (ag->pong) {
        agora_jw_kbool(jw, "pong", 1);
        c->pong = 1;
        ag->pong = 0;
        st.pongs++;
    }
    agora_jw_obj_close(jw);
    body = agora_jw_result(jw, &len);
    if (body == NULL)
        die("out of memory");
    k = snprintf(head, sizeof(head),
                 "POST /api/agent/updates HTTP/1.1\r\nHost: %s\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 masters[ag->master].host, len);
    c->out.len = 0;
    buf_add(&c->out, head, (size_t)k);
    buf_add(&c->out, body, len);
    c->out_off = 0;
    c->busy = 1;
    c->since = now();
    c->ag = ag;
    ag->posting = 1;
    st.updates_posted += n;
    /* The agent's stream master gets its updates, never another. */
    if (c->fd >= 0 && c->master != ag->master)
        pconn_close(c);
    if (c->fd < 0 && pconn_connect(c, ag->master) < 0) {
        set_error("updates connection: %s%s", strerror(errno), "");
        pconn_fail(c);
        return;
    }
    ev_io_stop(loop, &c->io);
    ev_io_set(&c->io, c->fd, EV_READ | EV_WRITE);
    ev_io_start(loop, &c->io);
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

/* Before the loop blocks: hand dirty agents to free connections. */
static void on_prepare(struct ev_loop *l, ev_prepare *w, int events)
{
    (void)l;
    (void)w;
    (void)events;
    agents_admit();
    while (dirty_head && pconn_free) {
        struct sim_agent *ag = dirty_head;

        dirty_head = ag->dnext;
        if (dirty_head == NULL)
            dirty_tail = NULL;
        ag->dirty = 0;
        if (ag->phase != A_STREAM || ag->posting ||
            (ag->nqueued == 0 && !ag->pong))
            continue;
        post_updates(ag, pconn_take(ag->master));
    }
}

/* ------------------------------------------------------------------ */
/* Timers: finishing tasks, resending, watching pings, stats            */
/* ------------------------------------------------------------------ */

static ev_timer tick_timer, slow_timer, stats_timer;

/* Every 50 ms: the tasks whose time is up finish. */
static void on_tick(struct ev_loop *l, ev_timer *w, int events)
{
    double t = now();

    (void)l;
    (void)w;
    (void)events;
    while (fifo_head && fifo_head->finish_at <= t) {
        struct sim_task *task = fifo_head;

        fifo_head = task->fnext;
        if (fifo_head == NULL)
            fifo_tail = NULL;
        task->in_fifo = 0;
        if (task->state == S_RUNNING)
            task_update(task, S_FINISHED);
        else
            task_maybe_free(task);
    }
}

/* Every 250 ms: resend what was not acknowledged in time, and drop the
 * streams of a master that stopped pinging. */
static void on_slow(struct ev_loop *l, ev_timer *w, int events)
{
    double t = now();
    struct sim_update *u, *next;
    long i;

    (void)l;
    (void)w;
    (void)events;
    for (u = wait_head; u; u = next) {
        next = u->wnext;
        if (u->due > t || u->task->ag->phase != A_STREAM)
            continue;
        wait_remove(u);
        st.resends++;
        agent_enqueue(u->task->ag, u);
    }
    for (i = 0; i < opt.updates_conns; i++) {
        struct pconn *c = &pconns[i];

        if (c->busy && t - c->since > SIM_POST_TIMEOUT) {
            set_error("updates connection: no answer to a POST within "
                      "%s s%s",
                      "30", "");
            pconn_fail(c);
        }
    }
    for (i = 0; i < started; i++) {
        struct sim_agent *ag = &agents[i];

        if (ag->phase == A_STREAM && ag->subscribed && ag->ping_window > 0 &&
            t - ag->last_event > ag->ping_window)
            agent_stream_end(ag, "no ping from the master in time");
    }
}

static void write_report(const char *path, int final)
{
    char tmp[4096];
    FILE *f;
    double t = now();

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL)
        return;
    fprintf(
        f,
        "{\"agents\": %ld, \"subscribed\": %ld, \"final\": %s,\n"
        " \"elapsed\": %.3f, \"start\": %.6f, \"all_subscribed\": %.6f,\n"
        " \"launches\": %llu, \"launch_dups\": %llu, \"launch_bad\": %llu,\n"
        " \"first_launch\": %.6f, \"last_launch\": %.6f,\n"
        " \"last_running_sent\": %.6f, \"last_ack\": %.6f,\n"
        " \"kills\": %llu, \"kills_unknown\": %llu,\n"
        " \"sent_running\": %llu, \"sent_finished\": %llu, "
        "\"sent_killed\": %llu,\n"
        " \"updates_posted\": %llu, \"posts\": %llu, \"posts_failed\": %llu,\n"
        " \"acks\": %llu, \"acks_unknown\": %llu, \"waiting_acks\": %zu,\n"
        " \"resends\": %llu, \"pings\": %llu, \"pongs\": %llu,\n"
        " \"subscribes\": %llu, \"reconnects\": %llu, "
        "\"stream_errors\": %llu, \"shutdowns\": %llu,\n"
        " \"refused_3xx\": %llu, \"refused_4xx\": %llu, "
        "\"refused_5xx\": %llu,\n"
        " \"redirects\": %llu, \"unavailable\": %llu, "
        "\"connect_errors\": %llu,\n"
        " \"pconn_connects\": %llu, \"pconn_errors\": %llu,\n"
        " \"tasks\": %zu, \"lines\": %llu, \"slow_lines\": %llu, "
        "\"bytes_in\": %llu,\n",
        opt.agents, nsubscribed, final ? "true" : "false", t - st.start,
        st.start, st.all_subscribed, (unsigned long long)st.launches,
        (unsigned long long)st.launch_dups, (unsigned long long)st.launch_bad,
        st.first_launch, st.last_launch, st.last_running_sent, st.last_ack,
        (unsigned long long)st.kills, (unsigned long long)st.kills_unknown,
        (unsigned long long)st.sent_running,
        (unsigned long long)st.sent_finished,
        (unsigned long long)st.sent_killed,
        (unsigned long long)st.updates_posted, (unsigned long long)st.posts,
        (unsigned long long)st.posts_failed, (unsigned long long)st.acks,
        (unsigned long long)st.acks_unknown, nwaiting,
        (unsigned long long)st.resends, (unsigned long long)st.pings,
        (unsigned long long)st.pongs, (unsigned long long)st.subscribes,
        (unsigned long long)st.reconnects, (unsigned long long)st.stream_errors,
        (unsigned long long)st.shutdowns, (unsigned long long)st.refused[3],
        (unsigned long long)st.refused[4], (unsigned long long)st.refused[5],
        (unsigned long long)st.redirects, (unsigned long long)st.unavailable,
        (unsigned long long)st.connect_errors,
        (unsigned long long)st.pconn_connects,
        (unsigned long long)st.pconn_errors, tasks.n,
        (unsigned long long)st.lines, (unsigned long long)st.slow_lines,
        (unsigned long long)st.bytes_in);
    {
        char q[1100], lead[700];

        /* leader_*: zk mode's reports. leader_at and resubscribed are
         * wall-clock seconds, as start is. */
        agora_json_quote(leader_mi >= 0 ? masters[leader_mi].host : "", lead,
                         sizeof(lead));
        fprintf(f,
                " \"leader_reports\": %llu, \"leader_moves\": %llu, "
                "\"leader_at\": %.6f, \"leader\": %s,\n"
                " \"resubscribed\": %.6f,\n",
                (unsigned long long)st.leader_reports,
                (unsigned long long)st.leader_moves, st.leader_at, lead,
                st.resubscribed);
        agora_json_quote(st.last_error, q, sizeof(q));
        fprintf(f, " \"last_error\": %s}\n", q);
    }
    if (fclose(f) == 0)
        rename(tmp, path);
}

static void print_stats(const char *tag)
{
    static double last_t;
    static uint64_t last_launches, last_acks;
    double t = now(), dt = last_t ? t - last_t : t - st.start;
    char lead[400] = "";

    if (dt <= 0)
        dt = 1e-9;
    if (lwatch)
        snprintf(lead, sizeof(lead), ", leader %s (%llu reports, %llu moves)",
                 leader_mi >= 0 ? masters[leader_mi].host : "unknown",
                 (unsigned long long)st.leader_reports,
                 (unsigned long long)st.leader_moves);
    fprintf(stderr,
            "simcluster: %s t=%.1fs agents %ld/%ld subscribed, launches %llu "
            "(%.0f/s), sent running %llu finished %llu killed %llu, posts %llu "
            "(%llu failed), acks %llu (%.0f/s), waiting %zu, resends %llu, "
            "pings %llu, reconnects %llu (redirects %llu, 503s %llu, "
            "connect errors %llu), tasks %zu%s%s%s\n",
            tag, t - st.start, nsubscribed, opt.agents,
            (unsigned long long)st.launches,
            (double)(st.launches - last_launches) / dt,
            (unsigned long long)st.sent_running,
            (unsigned long long)st.sent_finished,
            (unsigned long long)st.sent_killed, (unsigned long long)st.posts,
            (unsigned long long)st.posts_failed, (unsigned long long)st.acks,
            (double)(st.acks - last_acks) / dt, nwaiting,
            (unsigned long long)st.resends, (unsigned long long)st.pings,
            (unsigned long long)st.reconnects, (unsigned long long)st.redirects,
            (unsigned long long)st.unavailable,
            (unsigned long long)st.connect_errors, tasks.n, lead,
            st.last_error[0] ? "; last error: " : "", st.last_error);
    last_t = t;
    last_launches = st.launches;
    last_acks = st.acks;
}

static void on_stats(struct ev_loop *l, ev_timer *w, int events)
{
    (void)l;
    (void)w;
    (void)events;
    print_stats("stats");
    if (opt.report)
        write_report(opt.report, 0);
}

static void on_signal(struct ev_loop *l, ev_signal *w, int events)
{
    (void)w;
    (void)events;
    ev_break(l, EVBREAK_ALL);
}

/* ------------------------------------------------------------------ */
/* Start                                                                */
/* ------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(
        stderr,
        "usage: simcluster --master=HOST:PORT[,HOST:PORT...] --agents=N\n"
        "       simcluster --master=zk://HOST:PORT[,HOST:PORT...]/ROOT "
        "--agents=N\n"
        "  (zk://: follow the masters' election in ZooKeeper under ROOT,\n"
        "   as agora-agent --master=zk://... does)\n"
        "  [--resources=\"cpus:8;mem:32768;disk:100000;ports:[31000-32000]\"]\n"
        "  [--finish_after=SECONDS (0: never)] [--id_prefix=sim]\n"
        "  [--updates_conns=64] [--subscribe_window=512]\n"
        "  [--resend_after=1] [--stats_interval=2] [--report=FILE]\n"
        "  [--backoff_min=0.1 (zk://: 0.25)] [--backoff_max=2]\n"
        "     (seconds, resubscribing)\n"
        "  [--hostname=NAME (default: the agent id)]\n");
    exit(2);
}

/* --master names ZooKeeper (zk mode), not a list of masters. */
static int is_zk(const char *master)
{
    return strncmp(master, "zk://", 5) == 0;
}

/* Matches "--name=value" (argv is left as it is, so ps shows it). */
static const char *flag(const char *arg, const char *name)
{
    size_t n = strlen(name);

    if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, name, n) != 0 ||
        arg[2 + n] != '=')
        return NULL;
    return arg + 3 + n;
}

static void parse_args(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v;

        if ((v = flag(a, "master")))
            opt.master = v;
        else if ((v = flag(a, "agents")))
            opt.agents = strtol(v, NULL, 10);
        else if ((v = flag(a, "resources")))
            opt.resources = v;
        else if ((v = flag(a, "finish_after")))
            opt.finish_after = strtod(v, NULL);
        else if ((v = flag(a, "id_prefix")))
            opt.prefix = v;
        else if ((v = flag(a, "updates_conns")))
            opt.updates_conns = strtol(v, NULL, 10);
        else if ((v = flag(a, "subscribe_window")))
            opt.window = strtol(v, NULL, 10);
        else if ((v = flag(a, "resend_after")))
            opt.resend_after = strtod(v, NULL);
        else if ((v = flag(a, "stats_interval")))
            opt.stats_interval = strtod(v, NULL);
        else if ((v = flag(a, "report")))
            opt.report = v;
        else if ((v = flag(a, "hostname")))
            opt.hostname = v;
        else if ((v = flag(a, "backoff_min"))) {
            if ((opt.backoff_min = strtod(v, NULL)) <= 0)
                usage(); /* 0 stands for "not given" */
        } else if ((v = flag(a, "backoff_max")))
            opt.backoff_max = strtod(v, NULL);
        else
            usage();
    }
    /* Not given: the mode's default, within a --backoff_max given. */
    if (opt.backoff_min == 0) {
        opt.backoff_min = opt.master && is_zk(opt.master) ? SIM_LEADER_BACKOFF
                                                          : SIM_LIST_BACKOFF;
        if (opt.backoff_max > 0 && opt.backoff_min > opt.backoff_max)
            opt.backoff_min = opt.backoff_max;
    }
    if (opt.master == NULL || opt.agents <= 0 || opt.updates_conns <= 0 ||
        opt.window <= 0 || opt.resend_after <= 0 || opt.stats_interval <= 0 ||
        opt.backoff_min <= 0 || opt.backoff_max < opt.backoff_min ||
        strlen(opt.prefix) > 40 || (opt.hostname && strlen(opt.hostname) > 250))
        usage();
}

/* Raises RLIMIT_NOFILE to the hard limit and checks it is enough. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
        rl.rlim_cur < (rlim_t)(opt.agents + opt.updates_conns + 16)) {
        fprintf(stderr,
                "simcluster: %ld agents and %ld update connections "
                "need more descriptors than RLIMIT_NOFILE allows "
                "(%llu)\n",
                opt.agents, opt.updates_conns, (unsigned long long)rl.rlim_cur);
        exit(1);
    }
}

static void make_salt(void)
{
    unsigned char r[10];
    size_t i;

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        for (i = 0; i < sizeof(r); i++)
            r[i] = (unsigned char)rand();
    snprintf(uuid_salt, sizeof(uuid_salt),
             "%02x%02x%02x%02x-%02x%02x-4%02x%x-8%02x%x-", r[0], r[1], r[2],
             r[3], r[4], r[5], r[6], r[7] & 0xf, r[8], r[9] & 0xf);
}

/* zk mode: the watch of the masters' election (agent/leader_watch.c),
 * reporting to on_leader. */
static void watch_open(void)
{
    char err[512];
    int rc;

    err[0] = '\0';
    rc = leader_watch_open(loop, opt.master, on_leader, NULL, &lwatch, err,
                           sizeof(err));
    if (rc < 0) {
        if (err[0])
            fprintf(stderr, "simcluster: %s\n", err);
        else
            fprintf(stderr, "simcluster: cannot follow the election: %s\n",
                    agora_strerror(rc));
        exit(2);
    }
}

int main(int argc, char **argv)
{
    ev_signal sigterm, sigint;
    ev_prepare prep;
    struct agora_jw *sw;
    const char *s;
    long i;

    parse_args(argc, argv);
    raise_fd_limit();
    if (!is_zk(opt.master))
        masters_parse(opt.master);
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    make_salt();
    loop = ev_default_loop(EVBACKEND_EPOLL);
    if (loop == NULL)
        die("cannot create the event loop");
    jw = agora_jw_new();
    sw = agora_jw_new();
    if (jw == NULL || sw == NULL)
        die("out of memory");
    /* The members every subscribe body shares, written once. */
    agora_jw_obj_open(sw);
    agora_jw_kstr(sw, "ip", "127.0.0.1");
    agora_jw_kint(sw, "port", 5051);
    agora_jw_kstr(sw, "resources", opt.resources);
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
        die("out of memory");
    subscribe_static[strlen(subscribe_static) - 5] = 0; /* "null}" */
    agora_jw_free(sw);

    agents = calloc((size_t)opt.agents, sizeof(*agents));
    pconns = calloc((size_t)opt.updates_conns, sizeof(*pconns));
    if (agents == NULL || pconns == NULL)
        die("out of memory");
    for (i = 0; i < opt.agents; i++) {
        struct sim_agent *ag = &agents[i];

        ag->idx = (int)i;
        ag->fd = -1;
        /* Spread over the list: leader and standbys are all asked. In
         * zk mode each attempt goes to the leader (agent_start). */
        if (nlisted > 0)
            ag->master = ag->listpos = (uint8_t)(i % nlisted);
        snprintf(ag->id, sizeof(ag->id), "%s-%ld", opt.prefix, i);
        ag->q_tail = &ag->q_head;
        ev_init(&ag->timer, agent_on_timer);
        ag->timer.data = ag;
    }
    for (i = opt.updates_conns - 1; i >= 0; i--) {
        pconns[i].fd = -1;
        pconns[i].master = -1;
        pconns[i].fnext = pconn_free;
        pconn_free = &pconns[i];
    }
    st.start = ev_time();
    if (is_zk(opt.master))
        watch_open();
    ev_now_update(loop);
    ev_prepare_init(&prep, on_prepare);
    ev_prepare_start(loop, &prep);
    ev_timer_init(&tick_timer, on_tick, 0.05, 0.05);
    ev_timer_start(loop, &tick_timer);
    ev_timer_init(&slow_timer, on_slow, 0.25, 0.25);
    ev_timer_start(loop, &slow_timer);
    ev_timer_init(&stats_timer, on_stats, opt.stats_interval,
                  opt.stats_interval);
    ev_timer_start(loop, &stats_timer);
    ev_signal_init(&sigterm, on_signal, SIGTERM);
    ev_signal_start(loop, &sigterm);
    ev_signal_init(&sigint, on_signal, SIGINT);
    ev_signal_start(loop, &sigint);
    fprintf(stderr,
            "simcluster: %ld agents (%s-0..%s-%ld) of %s against %s, "
            "finish_after %g s, %ld update connections\n",
            opt.agents, opt.prefix, opt.prefix, opt.agents - 1, opt.resources,
            opt.master, opt.finish_after, opt.updates_conns);

    ev_run(loop, 0);

    ev_now_update(loop);
    print_stats("final");
    if (opt.report)
        write_report(opt.report, 1);
    leader_watch_close(lwatch); /* the session goes now, not on expiry */
    return 0;
}
