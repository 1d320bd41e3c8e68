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
 * (rewritten at every stats line, and at exit). *
 * The files (sim.h lists what each exports): this one holds the options,
 * the counters, the timers, the stats line and the report, and main;
 * sim_master.c the masters and the election's watch; sim_agent.c the
 * subscriptions; sim_stream.c what comes on them; sim_task.c the tasks
 * and their updates; sim_post.c the POSTs of updates; sim_buf.c buffers.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <agora/json.h>

#include "sim.h"

/* ------------------------------------------------------------------ */
/* Options and counters                                                 */
/* ------------------------------------------------------------------ */

struct sim_options sim_opt = {
    .resources = "cpus:8;mem:32768;disk:100000;ports:[31000-32000]",
    .prefix = "sim",
    .updates_conns = 64,
    .window = 512,
    .resend_after = 1.0,
    .stats_interval = 2.0,
    .backoff_min = 0, /* the mode's default, set by parse_args */
    .backoff_max = 2.0,
};
struct sim_counters sim_st;
struct ev_loop *sim_loop;
struct agora_jw *sim_jw;
char sim_rbuf[SIM_READ_BUF];

void sim_die(const char *what)
{
    fprintf(stderr, "simcluster: %s\n", what);
    exit(1);
}

void sim_error(const char *fmt, const char *a, const char *b)
{
    snprintf(sim_st.last_error, sizeof(sim_st.last_error), fmt, a, b);
}

/* ------------------------------------------------------------------ */
/* Timers: finishing tasks, resending, watching pings, stats            */
/* ------------------------------------------------------------------ */

static ev_timer tick_timer, slow_timer, stats_timer;

/* Before the loop blocks: start subscriptions the window has room for,
 * and hand dirty agents to free connections. */
static void on_prepare(struct ev_loop *l, ev_prepare *w, int events)
{
    (void)l;
    (void)w;
    (void)events;
    sim_agent_admit();
    sim_post_flush();
}

/* Every 50 ms: the tasks whose time is up finish. */
static void on_tick(struct ev_loop *l, ev_timer *w, int events)
{
    (void)l;
    (void)w;
    (void)events;
    sim_task_finish_due(sim_now());
}

/* Every 250 ms: resend what was not acknowledged in time, fail the POSTs
 * not answered in time, and drop the streams of a master that stopped
 * pinging. */
static void on_slow(struct ev_loop *l, ev_timer *w, int events)
{
    double t = sim_now();

    (void)l;
    (void)w;
    (void)events;
    sim_task_resend_due(t);
    sim_post_check_timeouts(t);
    sim_agent_check_pings(t);
}

/* ------------------------------------------------------------------ */
/* Stats and the report                                                 */
/* ------------------------------------------------------------------ */

/* zk mode's leader as "host:port", or none (a constant) while none is
 * known. */
static const char *leader_host(const char *none)
{
    int mi = sim_master_leader();

    return mi >= 0 ? sim_master_host(mi) : none;
}

/* The counters as JSON in path, replaced at once (written to path.tmp,
 * then renamed); final says whether the run is over. */
static void write_report(const char *path, int final)
{
    char tmp[4096];
    FILE *f;
    double t = sim_now();

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
        sim_opt.agents, sim_agent_nsubscribed(), final ? "true" : "false",
        t - sim_st.start, sim_st.start, sim_st.all_subscribed,
        (unsigned long long)sim_st.launches,
        (unsigned long long)sim_st.launch_dups,
        (unsigned long long)sim_st.launch_bad, sim_st.first_launch,
        sim_st.last_launch, sim_st.last_running_sent, sim_st.last_ack,
        (unsigned long long)sim_st.kills,
        (unsigned long long)sim_st.kills_unknown,
        (unsigned long long)sim_st.sent_running,
        (unsigned long long)sim_st.sent_finished,
        (unsigned long long)sim_st.sent_killed,
        (unsigned long long)sim_st.updates_posted,
        (unsigned long long)sim_st.posts,
        (unsigned long long)sim_st.posts_failed,
        (unsigned long long)sim_st.acks,
        (unsigned long long)sim_st.acks_unknown, sim_task_waiting(),
        (unsigned long long)sim_st.resends, (unsigned long long)sim_st.pings,
        (unsigned long long)sim_st.pongs, (unsigned long long)sim_st.subscribes,
        (unsigned long long)sim_st.reconnects,
        (unsigned long long)sim_st.stream_errors,
        (unsigned long long)sim_st.shutdowns,
        (unsigned long long)sim_st.refused[3],
        (unsigned long long)sim_st.refused[4],
        (unsigned long long)sim_st.refused[5],
        (unsigned long long)sim_st.redirects,
        (unsigned long long)sim_st.unavailable,
        (unsigned long long)sim_st.connect_errors,
        (unsigned long long)sim_st.pconn_connects,
        (unsigned long long)sim_st.pconn_errors, sim_task_count(),
        (unsigned long long)sim_st.lines, (unsigned long long)sim_st.slow_lines,
        (unsigned long long)sim_st.bytes_in);
    {
        char q[1100], lead[700];

        /* leader_*: zk mode's reports. leader_at and resubscribed are
         * wall-clock seconds, as start is. */
        agora_json_quote(leader_host(""), lead, sizeof(lead));
        fprintf(f,
                " \"leader_reports\": %llu, \"leader_moves\": %llu, "
                "\"leader_at\": %.6f, \"leader\": %s,\n"
                " \"resubscribed\": %.6f,\n",
                (unsigned long long)sim_st.leader_reports,
                (unsigned long long)sim_st.leader_moves, sim_st.leader_at, lead,
                sim_st.resubscribed);
        agora_json_quote(sim_st.last_error, q, sizeof(q));
        fprintf(f, " \"last_error\": %s}\n", q);
    }
    if (fclose(f) == 0)
        rename(tmp, path);
}

/* The stats line on stderr, tagged "stats" or "final"; the rates are
 * since the previous line. */
static void print_stats(const char *tag)
{
    static double last_t;
    static uint64_t last_launches, last_acks;
    double t = sim_now(), dt = last_t ? t - last_t : t - sim_st.start;
    char lead[400] = "";

    if (dt <= 0)
        dt = 1e-9;
    if (sim_master_zk())
        snprintf(lead, sizeof(lead), ", leader %s (%llu reports, %llu moves)",
                 leader_host("unknown"),
                 (unsigned long long)sim_st.leader_reports,
                 (unsigned long long)sim_st.leader_moves);
    fprintf(
        stderr,
        "simcluster: %s t=%.1fs agents %ld/%ld subscribed, launches %llu "
        "(%.0f/s), sent running %llu finished %llu killed %llu, posts %llu "
        "(%llu failed), acks %llu (%.0f/s), waiting %zu, resends %llu, "
        "pings %llu, reconnects %llu (redirects %llu, 503s %llu, "
        "connect errors %llu), tasks %zu%s%s%s\n",
        tag, t - sim_st.start, sim_agent_nsubscribed(), sim_opt.agents,
        (unsigned long long)sim_st.launches,
        (double)(sim_st.launches - last_launches) / dt,
        (unsigned long long)sim_st.sent_running,
        (unsigned long long)sim_st.sent_finished,
        (unsigned long long)sim_st.sent_killed,
        (unsigned long long)sim_st.posts,
        (unsigned long long)sim_st.posts_failed,
        (unsigned long long)sim_st.acks, (double)(sim_st.acks - last_acks) / dt,
        sim_task_waiting(), (unsigned long long)sim_st.resends,
        (unsigned long long)sim_st.pings, (unsigned long long)sim_st.reconnects,
        (unsigned long long)sim_st.redirects,
        (unsigned long long)sim_st.unavailable,
        (unsigned long long)sim_st.connect_errors, sim_task_count(), lead,
        sim_st.last_error[0] ? "; last error: " : "", sim_st.last_error);
    last_t = t;
    last_launches = sim_st.launches;
    last_acks = sim_st.acks;
}

static void on_stats(struct ev_loop *l, ev_timer *w, int events)
{
    (void)l;
    (void)w;
    (void)events;
    print_stats("stats");
    if (sim_opt.report)
        write_report(sim_opt.report, 0);
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
            sim_opt.master = v;
        else if ((v = flag(a, "agents")))
            sim_opt.agents = strtol(v, NULL, 10);
        else if ((v = flag(a, "resources")))
            sim_opt.resources = v;
        else if ((v = flag(a, "finish_after")))
            sim_opt.finish_after = strtod(v, NULL);
        else if ((v = flag(a, "id_prefix")))
            sim_opt.prefix = v;
        else if ((v = flag(a, "updates_conns")))
            sim_opt.updates_conns = strtol(v, NULL, 10);
        else if ((v = flag(a, "subscribe_window")))
            sim_opt.window = strtol(v, NULL, 10);
        else if ((v = flag(a, "resend_after")))
            sim_opt.resend_after = strtod(v, NULL);
        else if ((v = flag(a, "stats_interval")))
            sim_opt.stats_interval = strtod(v, NULL);
        else if ((v = flag(a, "report")))
            sim_opt.report = v;
        else if ((v = flag(a, "hostname")))
            sim_opt.hostname = v;
        else if ((v = flag(a, "backoff_min"))) {
            if ((sim_opt.backoff_min = strtod(v, NULL)) <= 0)
                usage(); /* 0 stands for "not given" */
        } else if ((v = flag(a, "backoff_max")))
            sim_opt.backoff_max = strtod(v, NULL);
        else
            usage();
    }
    /* Not given: the mode's default, within a --backoff_max given. */
    if (sim_opt.backoff_min == 0) {
        sim_opt.backoff_min = sim_opt.master && is_zk(sim_opt.master)
                                  ? SIM_LEADER_BACKOFF
                                  : SIM_LIST_BACKOFF;
        if (sim_opt.backoff_max > 0 &&
            sim_opt.backoff_min > sim_opt.backoff_max)
            sim_opt.backoff_min = sim_opt.backoff_max;
    }
    if (sim_opt.master == NULL || sim_opt.agents <= 0 ||
        sim_opt.updates_conns <= 0 || sim_opt.window <= 0 ||
        sim_opt.resend_after <= 0 || sim_opt.stats_interval <= 0 ||
        sim_opt.backoff_min <= 0 || sim_opt.backoff_max < sim_opt.backoff_min ||
        strlen(sim_opt.prefix) > 40 ||
        (sim_opt.hostname && strlen(sim_opt.hostname) > 250))
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
        rl.rlim_cur < (rlim_t)(sim_opt.agents + sim_opt.updates_conns + 16)) {
        fprintf(stderr,
                "simcluster: %ld agents and %ld update connections "
                "need more descriptors than RLIMIT_NOFILE allows "
                "(%llu)\n",
                sim_opt.agents, sim_opt.updates_conns,
                (unsigned long long)rl.rlim_cur);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    ev_signal sigterm, sigint;
    ev_prepare prep;

    parse_args(argc, argv);
    raise_fd_limit();
    if (!is_zk(sim_opt.master))
        sim_master_parse(sim_opt.master);
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    sim_task_make_salt();
    sim_loop = ev_default_loop(EVBACKEND_EPOLL);
    if (sim_loop == NULL)
        sim_die("cannot create the event loop");
    sim_jw = agora_jw_new();
    if (sim_jw == NULL)
        sim_die("out of memory");
    sim_agent_init();
    sim_post_init();
    sim_st.start = ev_time();
    if (is_zk(sim_opt.master))
        sim_master_watch_open();
    ev_now_update(sim_loop);
    ev_prepare_init(&prep, on_prepare);
    ev_prepare_start(sim_loop, &prep);
    ev_timer_init(&tick_timer, on_tick, 0.05, 0.05);
    ev_timer_start(sim_loop, &tick_timer);
    ev_timer_init(&slow_timer, on_slow, 0.25, 0.25);
    ev_timer_start(sim_loop, &slow_timer);
    ev_timer_init(&stats_timer, on_stats, sim_opt.stats_interval,
                  sim_opt.stats_interval);
    ev_timer_start(sim_loop, &stats_timer);
    ev_signal_init(&sigterm, on_signal, SIGTERM);
    ev_signal_start(sim_loop, &sigterm);
    ev_signal_init(&sigint, on_signal, SIGINT);
    ev_signal_start(sim_loop, &sigint);
    fprintf(stderr,
            "simcluster: %ld agents (%s-0..%s-%ld) of %s against %s, "
            "finish_after %g s, %ld update connections\n",
            sim_opt.agents, sim_opt.prefix, sim_opt.prefix, sim_opt.agents - 1,
            sim_opt.resources, sim_opt.master, sim_opt.finish_after,
            sim_opt.updates_conns);

    ev_run(sim_loop, 0);

    ev_now_update(sim_loop);
    print_stats("final");
    if (sim_opt.report)
        write_report(sim_opt.report, 1);
    sim_master_watch_close(); /* the session goes now, not on expiry */
    return 0;
}
