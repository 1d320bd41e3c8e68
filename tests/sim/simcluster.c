/*
 * simcluster - a simulated cluster: N agents speaking the real agent
 * protocol (docs/agent-protocol.md) to a real agora-master, from one
 * process, without running anything.
 *
 *   simcluster --master=127.0.0.1:5050 --agents=10000
 *              [--resources="cpus:8;mem:32768;disk:100000;ports:[31000-32000]"]
 *              [--finish_after=SECONDS] [--id_prefix=sim] [--updates_conns=64]
 *              [--subscribe_window=512] [--resend_after=1]
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
 * master needs one stream per agent, and descriptors are limited.
 *
 * The hot path is cheap: events are found with a scanner for the
 * members the master writes (`"type":"…"` first, then the task id), with
 * yajl only as the fallback for a line the scanner does not recognise;
 * tasks live in one hash table; no allocation per event but the task's.
 *
 * A subscription answered with anything but 200 (a 307 from a master that
 * does not lead included: simcluster follows no redirect), a stream that
 * ends, or one without a ping for ping_interval x max_ping_misses is
 * subscribed again after a backoff (1 s doubling to 60 s, jittered), with
 * the tasks the agent holds, as agora-agent does.
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

#define SIM_READ_BUF (256u << 10)
#define SIM_LINE_MAX (4u << 20)   /* a longer line drops the stream     */
#define SIM_POST_MAX_UPDATES 1000 /* the protocol's limit per POST      */
#define SIM_RESEND_MAX 60.0
#define SIM_SUBSCRIBE_TIMEOUT 30.0
#define SIM_BACKOFF_MAX 60.0
#define SIM_POST_TIMEOUT 30.0 /* a POST not answered by then fails  */

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
} opt = {NULL, 0,     "cpus:8;mem:32768;disk:100000;ports:[31000-32000]",
         0,    "sim", 64,
         512,  1.0,   2.0,
         NULL, NULL};

static struct {
    uint64_t launches, launch_dups, launch_bad, kills, kills_unknown;
    uint64_t acks, acks_unknown, pings, pongs, shutdowns, keepalives;
    uint64_t sent_running, sent_finished, sent_killed;
    uint64_t updates_posted, posts, posts_failed, resends;
    uint64_t subscribes, subscribed, reconnects, stream_errors;
    uint64_t refused[6]; /* subscribe answers by status class        */
    uint64_t pconn_connects, pconn_errors;
    uint64_t bytes_in, lines, slow_lines;
    double first_launch, last_launch, last_running_sent, last_ack;
    double start, all_subscribed;
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
    A_DONE        /* shut down by the master                           */
};

enum chunk_phase { C_SIZE, C_EXT, C_DATA, C_CRLF, C_RAW, C_END };

struct sim_agent {
    int idx;
    int fd;
    char id[64];
    uint8_t phase;      /* enum agent_phase                            */
    uint8_t cphase;     /* enum chunk_phase                            */
    uint8_t subscribed; /* the `subscribed` line came                  */
    uint8_t in_window;  /* counted among the subscriptions in progress */
    uint8_t dirty;      /* on the dirty FIFO                           */
    uint8_t posting;    /* a POST of its updates is in flight          */
    uint8_t pong;       /* a pong is owed                              */
    size_t chunk_left;
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

static struct ev_loop *loop;
static struct sockaddr_storage master_addr;
static socklen_t master_addrlen;
static char master_host[300];
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

/* The subscribe answer's headers in ag->in. Returns the header length,
 * 0 when incomplete, -1 when the answer is not a stream. */
static long on_headers(struct sim_agent *ag)
{
    const char *end = memmem(ag->in.p, ag->in.len, "\r\n\r\n", 4), *p;
    int status = 0;
    size_t hl;

    if (end == NULL)
        return ag->in.len > 65536 ? -1 : 0;
    hl = (size_t)(end - ag->in.p) + 4;
    if (sscanf(ag->in.p, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    st.refused[status >= 100 && status < 600 ? status / 100 : 0]++;
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
static void agent_on_io(struct ev_loop *l, ev_io *w, int events);

static void window_leave(struct sim_agent *ag)
{
    if (!ag->in_window)
        return;
    ag->in_window = 0;
    in_window--;
}

static int sock_open(void)
{
    int fd = socket(master_addr.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&master_addr, master_addrlen) < 0 &&
        errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Drops the stream; subscribes again after a backoff unless why is NULL
 * (the master shut the agent down). */
static void agent_stream_end(struct sim_agent *ag, const char *why)
{
    double delay;

    if (ag->fd >= 0) {
        ev_io_stop(loop, &ag->io);
        close(ag->fd);
        ag->fd = -1;
    }
    ev_timer_stop(loop, &ag->timer);
    buf_free(&ag->out);
    buf_free(&ag->in);
    if (ag->subscribed) {
        ag->subscribed = 0;
        nsubscribed--;
    }
    window_leave(ag);
    if (why == NULL) {
        ag->phase = A_DONE;
        return;
    }
    st.stream_errors++;
    set_error("%s: %s", ag->id, why);
    ag->phase = A_BACKOFF;
    ag->backoff = ag->backoff ? ag->backoff * 2 : 1;
    if (ag->backoff > SIM_BACKOFF_MAX)
        ag->backoff = SIM_BACKOFF_MAX;
    delay = ag->backoff * (0.5 + (double)rand() / RAND_MAX);
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
                 master_host, (size_t)n + strlen(subscribe_static) + len + 1);
    ag->out.len = 0;
    buf_add(&ag->out, req, (size_t)k);
    buf_add(&ag->out, head, (size_t)n);
    buf_add(&ag->out, subscribe_static, strlen(subscribe_static));
    buf_add(&ag->out, tasks_json, len);
    buf_add(&ag->out, "}", 1);
    ag->out_off = 0;
}

static void agent_start(struct sim_agent *ag)
{
    ag->fd = sock_open();
    st.subscribes++;
    if (!ag->in_window) {
        ag->in_window = 1;
        in_window++;
    }
    ag->phase = A_CONNECTING;
    ag->cphase = C_SIZE;
    ag->in.len = 0;
    if (ag->fd < 0) {
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

static int pconn_connect(struct pconn *c)
{
    c->fd = sock_open();
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
                 master_host, len);
    c->out.len = 0;
    buf_add(&c->out, head, (size_t)k);
    buf_add(&c->out, body, len);
    c->out_off = 0;
    c->busy = 1;
    c->since = now();
    c->ag = ag;
    ag->posting = 1;
    st.updates_posted += n;
    if (c->fd < 0 && pconn_connect(c) < 0) {
        set_error("updates connection: %s%s", strerror(errno), "");
        pconn_fail(c);
        return;
    }
    ev_io_stop(loop, &c->io);
    ev_io_set(&c->io, c->fd, EV_READ | EV_WRITE);
    ev_io_start(loop, &c->io);
}

/* Before the loop blocks: hand dirty agents to free connections. */
static void on_prepare(struct ev_loop *l, ev_prepare *w, int events)
{
    (void)l;
    (void)w;
    (void)events;
    while (started < opt.agents && in_window < opt.window)
        agent_start(&agents[started++]);
    while (dirty_head && pconn_free) {
        struct sim_agent *ag = dirty_head;
        struct pconn *c = pconn_free;

        dirty_head = ag->dnext;
        if (dirty_head == NULL)
            dirty_tail = NULL;
        ag->dirty = 0;
        if (ag->phase != A_STREAM || ag->posting ||
            (ag->nqueued == 0 && !ag->pong))
            continue;
        pconn_free = c->fnext;
        post_updates(ag, c);
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
        " \"refused_4xx\": %llu, \"refused_5xx\": %llu,\n"
        " \"pconn_connects\": %llu, \"pconn_errors\": %llu,\n"
        " \"tasks\": %zu, \"lines\": %llu, \"slow_lines\": %llu, "
        "\"bytes_in\": %llu,\n"
        " \"last_error\": ",
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
        (unsigned long long)st.shutdowns, (unsigned long long)st.refused[4],
        (unsigned long long)st.refused[5],
        (unsigned long long)st.pconn_connects,
        (unsigned long long)st.pconn_errors, tasks.n,
        (unsigned long long)st.lines, (unsigned long long)st.slow_lines,
        (unsigned long long)st.bytes_in);
    {
        char q[1100];

        agora_json_quote(st.last_error, q, sizeof(q));
        fprintf(f, "%s}\n", q);
    }
    if (fclose(f) == 0)
        rename(tmp, path);
}

static void print_stats(const char *tag)
{
    static double last_t;
    static uint64_t last_launches, last_acks;
    double t = now(), dt = last_t ? t - last_t : t - st.start;

    if (dt <= 0)
        dt = 1e-9;
    fprintf(stderr,
            "simcluster: %s t=%.1fs agents %ld/%ld subscribed, launches %llu "
            "(%.0f/s), sent running %llu finished %llu killed %llu, posts %llu "
            "(%llu failed), acks %llu (%.0f/s), waiting %zu, resends %llu, "
            "pings %llu, reconnects %llu, tasks %zu%s%s\n",
            tag, t - st.start, nsubscribed, opt.agents,
            (unsigned long long)st.launches,
            (double)(st.launches - last_launches) / dt,
            (unsigned long long)st.sent_running,
            (unsigned long long)st.sent_finished,
            (unsigned long long)st.sent_killed, (unsigned long long)st.posts,
            (unsigned long long)st.posts_failed, (unsigned long long)st.acks,
            (double)(st.acks - last_acks) / dt, nwaiting,
            (unsigned long long)st.resends, (unsigned long long)st.pings,
            (unsigned long long)st.reconnects, tasks.n,
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
        "usage: simcluster --master=HOST:PORT --agents=N\n"
        "  [--resources=\"cpus:8;mem:32768;disk:100000;ports:[31000-32000]\"]\n"
        "  [--finish_after=SECONDS (0: never)] [--id_prefix=sim]\n"
        "  [--updates_conns=64] [--subscribe_window=512]\n"
        "  [--resend_after=1] [--stats_interval=2] [--report=FILE]\n"
        "  [--hostname=NAME (default: the agent id)]\n");
    exit(2);
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
        else
            usage();
    }
    if (opt.master == NULL || opt.agents <= 0 || opt.updates_conns <= 0 ||
        opt.window <= 0 || opt.resend_after <= 0 || opt.stats_interval <= 0 ||
        strlen(opt.prefix) > 40 || (opt.hostname && strlen(opt.hostname) > 250))
        usage();
}

static void resolve_master(void)
{
    char host[256];
    const char *colon = strrchr(opt.master, ':');
    struct addrinfo hints, *res;
    size_t hn;

    if (colon == NULL || (hn = (size_t)(colon - opt.master)) >= sizeof(host))
        die("--master wants host:port");
    memcpy(host, opt.master, hn);
    host[hn] = 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || res == NULL)
        die("cannot resolve --master");
    memcpy(&master_addr, res->ai_addr, res->ai_addrlen);
    master_addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    snprintf(master_host, sizeof(master_host), "%s", opt.master);
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

int main(int argc, char **argv)
{
    ev_signal sigterm, sigint;
    ev_prepare prep;
    struct agora_jw *sw;
    const char *s;
    long i;

    parse_args(argc, argv);
    raise_fd_limit();
    resolve_master();
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
        snprintf(ag->id, sizeof(ag->id), "%s-%ld", opt.prefix, i);
        ag->q_tail = &ag->q_head;
        ev_init(&ag->timer, agent_on_timer);
        ag->timer.data = ag;
    }
    for (i = opt.updates_conns - 1; i >= 0; i--) {
        pconns[i].fd = -1;
        pconns[i].fnext = pconn_free;
        pconn_free = &pconns[i];
    }
    st.start = ev_time();
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
    return 0;
}
