/*
 * alloc_bench.c - the DRF allocator alone (core/alloc.c, no HTTP, no
 * loop): how long one allocation cycle takes with many agents and many
 * frameworks. Run by scripts/bench/allocator; alone:
 *
 *     alloc_bench [--agents 1000,10000] [--frameworks 1,100] [--roles own]
 *                 [--full 20] [--steady 200] [--dirty 0.05] [--warmup 10]
 *                 [--seed 1]
 *
 * The workload (printed at the start):
 *   - agents of cpus:8;mem:32768;disk:100000;ports:[31000-32000], no
 *     reservations;
 *   - F frameworks, each in its own role of weight 1 (--roles own, the
 *     default) or all in role "*" (--roles shared); none is suppressed,
 *     so every framework wants offers in every cycle;
 *   - a cycle is alloc_run() timed alone (it includes handing the offers
 *     to the frameworks: the callback files each offer under its agent).
 *     Between cycles, untimed, a set of agents is "touched": each offer
 *     outstanding on a touched agent is answered by its framework, half
 *     the time by accepting one task of cpus:1;mem:2048 and one port of
 *     the offer (the rest of the offer is free at once), otherwise by
 *     declining it (refuse_seconds 0: no filter); then one task running
 *     there (if any) finishes with probability 1/2. A touched agent is
 *     dirty in the next cycle, an untouched one is not;
 *   - full cycles: every agent touched (all dirty); steady cycles: a
 *     random --dirty fraction of the agents touched (5% by default).
 *   - before measuring: one cycle of all agents (the first offers) and
 *     --warmup full cycles (10), so that agents run tasks; then the
 *     steady cycles, then the full ones.
 * Prints `name: value unit` lines: alloc_<A>x<F>_{full,steady}_{p50,p99}
 * (wall clock) and ..._cpu_{p50,p99} (the thread's CPU time: the same on
 * an idle machine, but not inflated by other processes on a busy one) in
 * ms, and per scenario the offers made per cycle and the setup time.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <agora/resources.h>

#include "alloc.h"

#define AGENT_RES "cpus:8;mem:32768;disk:100000;ports:[31000-32000]"
#define MAX_OFFERS 8
#define MAX_TASKS 16

struct btask {
    struct alloc_fw *fw;
    struct agora_resources placed;
};

struct bagent {
    struct alloc_agent *ag;
    struct alloc_offer *offers[MAX_OFFERS];
    struct alloc_fw *offer_fw[MAX_OFFERS]; /* who holds offers[i] */
    int noffers;
    struct btask tasks[MAX_TASKS];
    int ntasks;
};

struct bench {
    struct alloc *a;
    struct bagent *agents;
    size_t nagents;
    struct alloc_fw **fws;
    size_t nfws;
    uint64_t rng;
    size_t offers_cycle; /* offers delivered in the last cycle */
    size_t *touched;
};

static uint64_t rnd(struct bench *b)
{
    b->rng ^= b->rng << 13;
    b->rng ^= b->rng >> 7;
    b->rng ^= b->rng << 17;
    return b->rng;
}

static double clock_ms(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

/* The CPU time of this thread: what a cycle costs even when other
 * processes take the CPU from it (wall time then counts their turns). */
static double cpu_ms(void)
{
    return clock_ms(CLOCK_THREAD_CPUTIME_ID);
}

static void die(const char *what)
{
    fprintf(stderr, "alloc_bench: %s\n", what);
    exit(1);
}

/* Agent ids are "a<index>": the index, back from an offer. */
static struct bagent *offer_agent(struct bench *b, const struct alloc_offer *o)
{
    unsigned long i = strtoul(alloc_offer_agent_id(o) + 1, NULL, 10);

    if (i >= b->nagents)
        die("offer for an unknown agent");
    return &b->agents[i];
}

static void on_offer(void *arg, struct alloc_fw *fw,
                     struct alloc_offer *const *offers, size_t n)
{
    struct bench *b = arg;
    size_t i;

    for (i = 0; i < n; i++) {
        struct bagent *ag = offer_agent(b, offers[i]);

        if (ag->noffers == MAX_OFFERS) {
            alloc_decline(b->a, fw, offers[i], 0);
            continue;
        }
        ag->offer_fw[ag->noffers] = fw;
        ag->offers[ag->noffers++] = offers[i];
    }
    b->offers_cycle += n;
}

static void on_rescind(void *arg, struct alloc_fw *fw, struct alloc_offer *o)
{
    (void)arg;
    (void)fw;
    (void)o;
    die("unexpected rescind");
}

/* Accepts one task of cpus:1;mem:2048 and the offer's first port, or
 * declines when it does not fit. */
static void answer(struct bench *b, struct bagent *ag, struct alloc_fw *fw,
                   struct alloc_offer *o)
{
    const struct agora_resources *r = alloc_offer_resources(o);
    const struct agora_resource *ports = agora_resources_find(r, "ports", NULL);
    struct agora_range port;
    struct agora_resource v[3];
    struct agora_resources task = {v, 3};
    const struct agora_resources *tp = &task;
    struct agora_resources placed = {NULL, 0};
    char err[256];
    size_t bad;

    if (rnd(b) % 2 || ports == NULL || ports->nranges == 0 ||
        ag->ntasks == MAX_TASKS || agora_resources_scalar(r, "cpus") < 1 ||
        agora_resources_scalar(r, "mem") < 2048)
        goto decline;
    memset(v, 0, sizeof(v));
    v[0].name = "cpus";
    v[0].role = "*";
    v[0].type = AGORA_SCALAR;
    v[0].scalar = 1;
    v[1].name = "mem";
    v[1].role = "*";
    v[1].type = AGORA_SCALAR;
    v[1].scalar = 2048;
    port.begin = port.end = ports->ranges[0].begin;
    v[2].name = "ports";
    v[2].role = "*";
    v[2].type = AGORA_RANGES;
    v[2].ranges = &port;
    v[2].nranges = 1;
    if (alloc_accept(b->a, fw, o, &tp, 1, &placed, &bad, err, sizeof(err)) < 0)
        die(err);
    ag->tasks[ag->ntasks].fw = fw;
    ag->tasks[ag->ntasks].placed = placed;
    ag->ntasks++;
    return;
decline:
    if (alloc_decline(b->a, fw, o, 0) < 0)
        die("alloc_decline failed");
}

/* Answers the agent's offers, then a task there may finish. */
static void touch(struct bench *b, struct bagent *ag)
{
    while (ag->noffers) {
        ag->noffers--;
        answer(b, ag, ag->offer_fw[ag->noffers], ag->offers[ag->noffers]);
    }
    if (ag->ntasks && rnd(b) % 2) {
        int t = (int)(rnd(b) % (uint64_t)ag->ntasks);

        alloc_release(b->a, ag->ag, ag->tasks[t].fw, &ag->tasks[t].placed);
        agora_resources_free(&ag->tasks[t].placed);
        ag->tasks[t] = ag->tasks[--ag->ntasks];
    }
}

static void touch_some(struct bench *b, double fraction)
{
    size_t i, n;

    if (fraction >= 1) {
        for (i = 0; i < b->nagents; i++)
            touch(b, &b->agents[i]);
        return;
    }
    /* A random sample without repeats: a partial Fisher-Yates. */
    n = (size_t)((double)b->nagents * fraction + 0.5);
    if (n == 0)
        n = 1;
    for (i = 0; i < n; i++) {
        size_t j = i + (size_t)(rnd(b) % (uint64_t)(b->nagents - i));
        size_t t = b->touched[i];

        b->touched[i] = b->touched[j];
        b->touched[j] = t;
        touch(b, &b->agents[b->touched[i]]);
    }
}

static int dbl_cmp(const void *x, const void *y)
{
    double p = *(const double *)x, q = *(const double *)y;

    return (p > q) - (p < q);
}

/* The q-quantile of v (n > 0), nearest rank. */
static double quantile(double *v, size_t n, double q)
{
    size_t k;

    qsort(v, n, sizeof(*v), dbl_cmp);
    k = (size_t)((double)n * q + 0.999999);
    if (k == 0)
        k = 1;
    return v[k > n ? n - 1 : k - 1];
}

/* Runs cycles cycles, touching fraction of the agents before each:
 * wall and CPU milliseconds of each into ms and cpu. */
static void measure(struct bench *b, int cycles, double fraction, double *ms,
                    double *cpu, double *offers)
{
    int i;

    *offers = 0;
    for (i = 0; i < cycles; i++) {
        double t0, c0;

        touch_some(b, fraction);
        b->offers_cycle = 0;
        t0 = now_ms();
        c0 = cpu_ms();
        alloc_run(b->a);
        cpu[i] = cpu_ms() - c0;
        ms[i] = now_ms() - t0;
        *offers += (double)b->offers_cycle;
    }
    *offers /= cycles;
}

/* Prints the p50 and p99 of n wall and CPU samples as name_p50 ... */
static void report(const char *name, const char *kind, double *ms, double *cpu,
                   size_t n)
{
    printf("%s_%s_p50: %.3f ms\n", name, kind, quantile(ms, n, 0.50));
    printf("%s_%s_p99: %.3f ms\n", name, kind, quantile(ms, n, 0.99));
    printf("%s_%s_cpu_p50: %.3f ms\n", name, kind, quantile(cpu, n, 0.50));
    printf("%s_%s_cpu_p99: %.3f ms\n", name, kind, quantile(cpu, n, 0.99));
}

static void scenario(size_t nagents, size_t nfws, int own_roles, int full,
                     int steady, int warmup, double dirty, uint64_t seed)
{
    struct bench b;
    struct alloc_conf c;
    struct agora_resources res = {NULL, 0};
    char err[256], id[32], role[32], name[64];
    double t0 = now_ms(), setup, offers, *ms, *cpu;
    size_t i;
    int n = full > steady ? full : steady;

    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    b.rng = seed * 0x9e3779b97f4a7c15ull + 1;
    c.refuse_default = 5;
    c.min_cpus = 0.01;
    c.min_mem = 32;
    if (alloc_new(NULL, &c, on_offer, on_rescind, &b, &b.a, err, sizeof(err)) <
        0)
        die(err);
    if (agora_resources_parse(AGENT_RES, &res, err, sizeof(err)) < 0)
        die(err);
    b.nagents = nagents;
    b.agents = calloc(nagents, sizeof(*b.agents));
    b.touched = calloc(nagents, sizeof(*b.touched));
    b.nfws = nfws;
    b.fws = calloc(nfws, sizeof(*b.fws));
    ms = calloc((size_t)n, sizeof(*ms));
    cpu = calloc((size_t)n, sizeof(*cpu));
    if (!b.agents || !b.touched || !b.fws || !ms || !cpu)
        die("out of memory");
    for (i = 0; i < nagents; i++) {
        snprintf(id, sizeof(id), "a%zu", i);
        b.touched[i] = i;
        if (alloc_agent_add(b.a, id, &res, &b.agents[i], &b.agents[i].ag) < 0)
            die("alloc_agent_add");
    }
    for (i = 0; i < nfws; i++) {
        snprintf(id, sizeof(id), "fw-%05zu", i);
        snprintf(role, sizeof(role), "role-%05zu", i);
        if (alloc_fw_add(b.a, id, own_roles ? role : "*", NULL, &b.fws[i]) < 0)
            die("alloc_fw_add");
    }
    setup = now_ms() - t0;
    alloc_run(b.a);
    for (i = 0; i < (size_t)warmup; i++) {
        touch_some(&b, 1);
        alloc_run(b.a);
    }

    snprintf(name, sizeof(name), "alloc_%zux%zu", nagents, nfws);
    printf("%s_setup: %.1f ms\n", name, setup);
    measure(&b, steady, dirty, ms, cpu, &offers);
    report(name, "steady", ms, cpu, (size_t)steady);
    printf("%s_steady_offers_per_cycle: %.0f offers\n", name, offers);
    measure(&b, full, 1, ms, cpu, &offers);
    report(name, "full", ms, cpu, (size_t)full);
    printf("%s_full_offers_per_cycle: %.0f offers\n", name, offers);
    {
        size_t tasks = 0;

        for (i = 0; i < nagents; i++)
            tasks += (size_t)b.agents[i].ntasks;
        printf("%s_tasks_running: %zu tasks\n", name, tasks);
    }
    fflush(stdout);

    alloc_free(b.a);
    for (i = 0; i < nagents; i++) {
        int t;

        for (t = 0; t < b.agents[i].ntasks; t++)
            agora_resources_free(&b.agents[i].tasks[t].placed);
    }
    agora_resources_free(&res);
    free(b.agents);
    free(b.touched);
    free(b.fws);
    free(ms);
    free(cpu);
}

/* "1000,10000" -> values (at most max). */
static size_t parse_list(const char *s, size_t *out, size_t max)
{
    size_t n = 0;
    char *end;

    while (*s && n < max) {
        errno = 0;
        out[n++] = (size_t)strtoull(s, &end, 10);
        if (errno || end == s || (*end && *end != ','))
            die("bad list (want 1000,10000)");
        s = *end ? end + 1 : end;
    }
    return n;
}

int main(int argc, char **argv)
{
    size_t agents[8] = {1000, 10000, 50000}, fws[8] = {1, 10, 100, 1000};
    size_t na = 3, nf = 4, i, j;
    int full = 20, steady = 200, warmup = 10, own = 1, k;
    double dirty = 0.05;
    uint64_t seed = 1;

    for (k = 1; k < argc; k++) {
        const char *v = k + 1 < argc ? argv[k + 1] : NULL;

        if (v == NULL)
            die("an option needs a value");
        if (strcmp(argv[k], "--agents") == 0)
            na = parse_list(v, agents, 8);
        else if (strcmp(argv[k], "--frameworks") == 0)
            nf = parse_list(v, fws, 8);
        else if (strcmp(argv[k], "--roles") == 0)
            own = strcmp(v, "shared") != 0;
        else if (strcmp(argv[k], "--full") == 0)
            full = atoi(v);
        else if (strcmp(argv[k], "--steady") == 0)
            steady = atoi(v);
        else if (strcmp(argv[k], "--warmup") == 0)
            warmup = atoi(v);
        else if (strcmp(argv[k], "--dirty") == 0)
            dirty = atof(v);
        else if (strcmp(argv[k], "--seed") == 0)
            seed = strtoull(v, NULL, 10);
        else
            die("unknown option (see the comment at the top of alloc_bench.c)");
        k++;
    }
    if (full < 1 || steady < 1 || warmup < 0 || !(dirty > 0 && dirty <= 1))
        die("--full and --steady must be >= 1, --warmup >= 0, --dirty in "
            "(0, 1]");
    printf("# workload: agents %s; frameworks %s, never suppressed, no "
           "filters; between cycles (untimed) touched agents have their "
           "offers answered (1/2 accept 1 task cpus:1;mem:2048 + 1 port, "
           "1/2 decline refuse 0) and a task finishes with p 1/2\n",
           AGENT_RES,
           own ? "each in its own role (weight 1)" : "all in role *");
    printf("# cycles: %d full (every agent dirty), %d steady (%.0f%% of "
           "agents dirty), after %d warm-up cycles; the time is alloc_run() "
           "including the offer callback; p99 is nearest-rank (below 100 "
           "samples, the largest)\n",
           full, steady, dirty * 100, warmup + 1);
    fflush(stdout);
    for (i = 0; i < na; i++)
        for (j = 0; j < nf; j++)
            scenario(agents[i], fws[j], own, full, steady, warmup, dirty, seed);
    return 0;
}
