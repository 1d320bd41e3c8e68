/*
 * sim.h - what simcluster's files share: its limits, options and
 * counters, the agent, task and update structs, and the functions each
 * file exports. The program's overview is in simcluster.c.
 *
 * Files, and the prefix of the names they export:
 *   simcluster.c  sim_         options, counters, timers, stats, main
 *   sim_buf.c     sim_buf_     small growable buffers
 *   sim_master.c  sim_master_  the masters table, redirect targets, and
 *                              zk mode's watch of the election
 *   sim_agent.c   sim_agent_   the agents' subscriptions: connecting,
 *                              backoff, the subscribe window, following
 *                              a new leader
 *   sim_stream.c  sim_stream_  a subscription's answer: its headers,
 *                              the chunked coding, the event lines
 *   sim_task.c    sim_task_    the task table, and the updates of tasks
 *                              until they are acknowledged
 *   sim_post.c    sim_post_    the agents' send queues and the pool of
 *                              keep-alive connections that POST them
 *
 * Everything runs on one loop, sim_loop: nothing here is thread-safe.
 */
#ifndef AGORA_SIM_H
#define AGORA_SIM_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

struct agora_jw;

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
/* Options and counters (simcluster.c)                                  */
/* ------------------------------------------------------------------ */

/* The flags, --name=value (simcluster.c's usage() lists them). */
struct sim_options {
    const char *master;    /* --master: host:port,... or zk://hosts/root */
    long agents;           /* --agents                                 */
    const char *resources; /* --resources: each agent's                */
    double finish_after;   /* --finish_after: 0 for never              */
    const char *prefix;    /* --id_prefix: agents are <prefix>-<i>     */
    long updates_conns;    /* --updates_conns: the POST pool's size    */
    long window;           /* --subscribe_window                       */
    double resend_after;   /* --resend_after: the first resend delay   */
    double stats_interval; /* --stats_interval                         */
    const char *report;    /* --report: a file, or NULL                */
    const char *hostname;  /* --hostname: NULL for the agent's id      */
    double backoff_min, backoff_max; /* --backoff_min, --backoff_max   */
};

struct sim_counters {
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
};

/* The command line's options, read-only once main parsed them. */
extern struct sim_options sim_opt;
/* What the stats line and the report show; every file counts in it. */
extern struct sim_counters sim_st;
/* The one event loop. */
extern struct ev_loop *sim_loop;
/* The JSON writer request bodies are built with, one body at a time:
 * each is copied out before the next is begun. */
extern struct agora_jw *sim_jw;
/* The read buffer of every socket: what a recv() brings is consumed
 * (or copied) before the next recv(). */
extern char sim_rbuf[SIM_READ_BUF];

/* Prints "simcluster: what" and exits 1 (out of memory, no loop). */
void sim_die(const char *what) __attribute__((noreturn));
/* Sets sim_st.last_error to fmt with a and b (two %s, both borrowed). */
void sim_error(const char *fmt, const char *a, const char *b);

/* The loop's time of the current iteration. */
static inline double sim_now(void)
{
    return ev_now(sim_loop);
}

/* ------------------------------------------------------------------ */
/* Small growable buffers (sim_buf.c)                                   */
/* ------------------------------------------------------------------ */

/* Bytes p[0..len), followed by a NUL once anything was added. */
struct sim_buf {
    char *p;
    size_t len, cap;
};

/* Appends n bytes of s (copied), keeping a NUL after the bytes (for
 * sscanf and strtoul). Dies when out of memory. */
void sim_buf_add(struct sim_buf *b, const void *s, size_t n);
/* Drops the first n bytes. */
void sim_buf_consume(struct sim_buf *b, size_t n);
/* Frees the bytes; b is empty and usable again. */
void sim_buf_free(struct sim_buf *b);

/* ------------------------------------------------------------------ */
/* Tasks, updates and agents                                            */
/* ------------------------------------------------------------------ */

enum sim_task_state {
    SIM_TASK_RUNNING = 0,
    SIM_TASK_FINISHED,
    SIM_TASK_KILLED
};

/* Where an update is on its way to the master's ack. */
enum sim_update_phase {
    SIM_UPDATE_QUEUED,   /* on its agent's send queue                  */
    SIM_UPDATE_INFLIGHT, /* in a POST not answered yet                 */
    SIM_UPDATE_WAITING,  /* POSTed (or the POST failed): for an ack    */
    SIM_UPDATE_ACKED
};

enum sim_agent_phase {
    SIM_AGENT_IDLE,       /* not started yet                           */
    SIM_AGENT_CONNECTING, /* connect() in progress                     */
    SIM_AGENT_SENDING,    /* writing the subscribe request             */
    SIM_AGENT_HEADERS,    /* reading the answer's headers              */
    SIM_AGENT_STREAM,     /* reading events                            */
    SIM_AGENT_BACKOFF,    /* waiting to subscribe again                */
    SIM_AGENT_DONE,       /* shut down by the master                   */
    SIM_AGENT_QUEUED      /* zk: waiting for a window slot, or a leader */
};

/* Where the stream's chunked coding is (sim_stream.c); SIM_CHUNK_RAW
 * for an answer that is not chunked. */
enum sim_chunk_phase {
    SIM_CHUNK_SIZE,
    SIM_CHUNK_EXT,
    SIM_CHUNK_DATA,
    SIM_CHUNK_CRLF,
    SIM_CHUNK_RAW,
    SIM_CHUNK_END
};

struct sim_task;

struct sim_update {
    struct sim_task *task;
    uint64_t uuid; /* counter; its text is derived   */
    double timestamp;
    double backoff; /* the next resend delay          */
    double due;     /* resend time while WAITING      */
    uint8_t state;  /* enum sim_task_state            */
    uint8_t seq;
    uint8_t phase;                    /* enum sim_update_phase          */
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
    uint8_t state; /* latest state, enum sim_task_state */
    uint8_t nupd;
    uint8_t in_fifo;
    struct sim_update upd[2]; /* RUNNING, then a terminal one   */
    char name[];              /* id NUL resources NUL           */
};

struct sim_agent {
    int idx;
    int fd;
    char id[64];
    uint8_t master;     /* the master subscribed to (or being asked)  */
    uint8_t listpos;    /* the list master the last attempt began at   */
    uint8_t hops;       /* redirects followed in this attempt          */
    uint8_t tries;      /* failed attempts at the current backoff      */
    uint8_t phase;      /* enum sim_agent_phase                        */
    uint8_t cphase;     /* enum sim_chunk_phase                        */
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
    char session[40];   /* the `subscribed` line's token, sent with updates */
    struct sim_buf out; /* the subscribe request being written         */
    size_t out_off;
    struct sim_buf in; /* headers, then a partial line                */
    struct sim_update *q_head, **q_tail; /* updates to POST            */
    size_t nqueued;
    struct sim_task *tasks; /* its tasks, newest first                 */
    size_t ntasks;
    struct sim_agent *dnext; /* the dirty FIFO                         */
};

/* ------------------------------------------------------------------ */
/* The masters (sim_master.c)                                           */
/* ------------------------------------------------------------------ */

/* --master's comma list (borrowed) becomes the first entries of the
 * table, in order, resolved now; exits 2 on an entry it cannot use. */
void sim_master_parse(const char *list);
/* The index of master "host:port" (hp, n bytes, borrowed), added and
 * resolved (blocking) when new; -1 when unusable or the table is full. */
int sim_master_lookup(const char *hp, size_t n);
/* The master a redirect's Location names, read in the answer's headers
 * head[0..end): http://host:port/..., or a path on master `from`; -1
 * for anything else. */
int sim_master_redirect(const char *head, const char *end, int from);
/* A non-blocking connection to master mi, in progress; -1 (errno set)
 * when it failed at once. The caller owns the descriptor. */
int sim_master_connect(int mi);
/* Master mi's "host:port": the Host header. Valid while the program
 * runs. */
const char *sim_master_host(int mi);
/* How many masters --master listed (0 in zk mode). */
int sim_master_listed(void);

/* zk mode: starts the watch of the masters' election under --master
 * (zk://...); exits 2 when it cannot. */
void sim_master_watch_open(void);
/* Closes the watch's session now, not on expiry; a no-op in list mode. */
void sim_master_watch_close(void);
/* 1 in zk mode once the watch is open. */
int sim_master_zk(void);
/* zk mode: the leader's index, -1 while none is known. */
int sim_master_leader(void);

/* ------------------------------------------------------------------ */
/* Agents and their subscriptions (sim_agent.c)                         */
/* ------------------------------------------------------------------ */

/* Creates the --agents agents, none started; dies when out of memory. */
void sim_agent_init(void);
/* Starts subscriptions while the subscribe window has room: in zk mode
 * the queued agents first (when a leader is known), then the agents not
 * started yet. Called before the loop blocks, and at a new leader. */
void sim_agent_admit(void);
/* zk mode's new leader, mi: every started agent not on it goes to it
 * (queued for the window). Returns how many go. */
long sim_agent_follow(int mi);
/* The `subscribed` line s[0..n) came on ag's stream: the subscription
 * holds, and every update not acknowledged goes again. */
void sim_agent_subscribed(struct sim_agent *ag, const char *s, size_t n);
/* Drops ag's stream or attempt; subscribes again after a backoff,
 * unless why (borrowed, for last_error) is NULL: the master shut ag
 * down. */
void sim_agent_stream_end(struct sim_agent *ag, const char *why);
/* Drops the streams of masters that sent no ping in time (time t). */
void sim_agent_check_pings(double t);
/* How many agents hold a subscription now. */
long sim_agent_nsubscribed(void);

/* ------------------------------------------------------------------ */
/* A subscription's answer (sim_stream.c)                               */
/* ------------------------------------------------------------------ */

/* The answer's headers in ag->in. Returns the header length, 0 when
 * incomplete, -1 when the answer is not a stream, -2 for a redirect to
 * follow (ag->master is then its target). */
long sim_stream_headers(struct sim_agent *ag);
/* Body bytes p[0..n) (borrowed) of ag's stream, decoded and handled
 * event by event. Returns -1 on a framing error, a line too long, or
 * the end of the stream. */
int sim_stream_body(struct sim_agent *ag, const char *p, size_t n);

/* ------------------------------------------------------------------ */
/* Tasks and their updates (sim_task.c)                                 */
/* ------------------------------------------------------------------ */

/* Draws the per-run prefix of every update's uuid (after srand()). */
void sim_task_make_salt(void);
/* A `launch` for ag of task id, framework fw, resources res (all
 * borrowed, not NUL-terminated): the task runs, TASK_RUNNING is queued. */
void sim_task_launch(struct sim_agent *ag, const char *id, size_t idn,
                     const char *fw, size_t fwn, const char *res, size_t resn);
/* A `kill` of task id (borrowed; NULL for none): TASK_KILLED is queued
 * if it runs. */
void sim_task_kill(const char *id, size_t idn);
/* The master acknowledged update uuid of task id (both borrowed; NULL
 * for none). */
void sim_task_ack(const char *id, size_t idn, const char *uuid, size_t uuidn);
/* Queues again every update of ag's tasks waiting for an ack. */
void sim_task_requeue(struct sim_agent *ag);
/* u's POST was answered (or failed): u waits for its ack, to be sent
 * again after its backoff. u is no longer held by the POST. */
void sim_task_posted(struct sim_update *u);
/* Frees t once it ended, every update was acknowledged, and nothing
 * points at it any more. */
void sim_task_maybe_free(struct sim_task *t);
/* The tasks due to finish by time t finish. */
void sim_task_finish_due(double t);
/* The updates whose ack is overdue at time t go again. */
void sim_task_resend_due(double t);
/* The text of update uuid u. */
void sim_task_uuid_text(uint64_t u, char out[37]);
/* "TASK_RUNNING" and so on: a constant string. */
const char *sim_task_state_name(int state);
/* How many tasks are held; how many updates wait for an ack. */
size_t sim_task_count(void);
size_t sim_task_waiting(void);

/* ------------------------------------------------------------------ */
/* Posting updates (sim_post.c)                                         */
/* ------------------------------------------------------------------ */

/* Creates the pool of --updates_conns connections, none open. */
void sim_post_init(void);
/* Puts u at the end of its agent ag's send queue. */
void sim_post_enqueue(struct sim_agent *ag, struct sim_update *u);
/* ag may have something to POST (updates, a pong): it is looked at
 * before the loop blocks. */
void sim_post_dirty(struct sim_agent *ag);
/* Hands the agents with something to POST to free connections. */
void sim_post_flush(void);
/* Fails the POSTs not answered in time (time t). */
void sim_post_check_timeouts(double t);

#endif /* AGORA_SIM_H */
