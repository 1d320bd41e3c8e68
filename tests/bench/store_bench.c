/*
 * store_bench - how fast the store takes puts: its local backend (a
 * directory, core/store_local.c) or its ZooKeeper backend
 * (core/store_zk.c). scripts/bench/store runs it against both.
 *
 *   store_bench --backend=local --dir=DIR
 *   store_bench --backend=zk --zk=HOST:PORT [--root=/storebench]
 *   store_bench --backend=zk_raw --zk=HOST:PORT [--root=/storebench]
 *               [--puts=10000] [--inflight=100] [--value_size=1024]
 *               [--latency_puts=1000] [--session_timeout=10] [--fenced=1]
 *
 * --fenced=1 writes in a term (store.h's fencing), as the master does:
 * with ZooKeeper every put is then a multi that first checks a fence
 * znode (an ephemeral <root>/leader/member_N the bench makes); 0 writes
 * unfenced, as before fencing existed.
 *
 * Three runs, through the store's own interface (core/store.h), on the
 * loop as the master uses it, each on keys of its own:
 *   throughput  --puts puts of --value_size bytes, each to a key that does
 *               not exist yet ("t/k<i>"), at most --inflight outstanding: a
 *               new put starts as each one completes. puts/s from the
 *               first call to the last completion, and each put's latency
 *               under that load.
 *   latency     --latency_puts puts to new keys ("l/k<i>"), one at a
 *               time: the next is called from the completion of the last.
 *               p50, p99 and max from the call to the completion.
 *   overwrite   the same keys put again (AGORA_STORE_ANY), one at a time:
 *               a value that exists (ZooKeeper: setData, one round trip;
 *               a new key needs more, see store_zk.c).
 * Prints "name: value unit" lines, named after the backend. Exits 1 when
 * any put fails, 2 on bad arguments.
 *
 * --backend=zk_raw is the ceiling of the zk backend's throughput, the
 * same ZooKeeper taking raw writes without the store: --puts zoo_acreate()
 * calls of --value_size bytes, each a new znode "<root>/raw/k<i>" (its
 * parent made first), at most --inflight outstanding, from one thread
 * that sends the next as each one completes. creates/s from the first
 * call to the last completion.
 */
/* The synchronous calls of libzookeeper_mt, for the fence's setup. */
#define THREADED

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#include <agora/sdk.h>

#include "log.h"
#include "store.h"
#include "zk.h"

#define NS "bench"
#define RUN_TIMEOUT 600.0    /* seconds a run may take before we give up */
#define CONNECT_TIMEOUT 15.0 /* seconds for the ZooKeeper session        */

static struct {
    const char *backend, *dir, *zk, *root;
    long puts, inflight, value_size, latency_puts;
    double session_timeout;
    long fenced;
} opt = {NULL, NULL, NULL, "/storebench", 10000, 100, 1024, 1000, 10.0, 0};

/* One run: n puts to "<prefix>/k<i>", at most inflight outstanding. */
struct run {
    const char *prefix;
    long n, inflight;
    int64_t version;
    long next, done, outstanding, errors;
    int first_err;
    double *start, *lat; /* per put, seconds                     */
    double t0, t1;
};

static struct ev_loop *loop;
static struct store *store;
static char *value;
static struct run *cur;
static int zk_connected;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what, int err)
{
    fprintf(stderr, "store_bench: %s: %s\n", what,
            err ? agora_strerror(err) : "failed");
    exit(1);
}

static void on_put(void *arg, int err, const store_result *r);

/* Starts put number i of the current run. */
static void put_one(long i)
{
    char key[64];
    int rc;

    snprintf(key, sizeof(key), "%s/k%ld", cur->prefix, i);
    cur->start[i] = now();
    cur->outstanding++;
    rc = store_put(store, NS, key, value, (size_t)opt.value_size, cur->version,
                   on_put, (void *)(intptr_t)i, NULL);
    if (rc < 0)
        fail("store_put refused a put at once", rc);
}

static void on_put(void *arg, int err, const store_result *r)
{
    long i = (long)(intptr_t)arg;

    (void)r;
    cur->lat[i] = now() - cur->start[i];
    cur->outstanding--;
    cur->done++;
    if (err) {
        if (cur->errors++ == 0)
            cur->first_err = err;
    }
    if (cur->next < cur->n)
        put_one(cur->next++);
    if (cur->done == cur->n) {
        cur->t1 = now();
        ev_break(loop, EVBREAK_ALL);
    }
}

static void on_run_timeout(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)w;
    (void)revents;
    fprintf(stderr,
            "store_bench: %s: %ld of %ld puts completed within %.0f s\n",
            cur->prefix, cur->done, cur->n, RUN_TIMEOUT);
    exit(1);
}

/* Runs r to its end on the loop. */
static void run(struct run *r)
{
    ev_timer guard;

    r->start = calloc((size_t)r->n, sizeof(double));
    r->lat = calloc((size_t)r->n, sizeof(double));
    if (r->start == NULL || r->lat == NULL)
        fail("out of memory", AGORA_ENOMEM);
    cur = r;
    /* The timer also keeps ev_run() going while the store works. */
    ev_timer_init(&guard, on_run_timeout, RUN_TIMEOUT, 0.);
    ev_timer_start(loop, &guard);
    r->t0 = now();
    while (r->next < r->n && r->outstanding < r->inflight)
        put_one(r->next++);
    ev_run(loop, 0);
    ev_timer_stop(loop, &guard);
    if (r->errors) {
        fprintf(stderr,
                "store_bench: %s: %ld of %ld puts failed, the first "
                "with %s\n",
                r->prefix, r->errors, r->n, agora_strerror(r->first_err));
        exit(1);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of the sorted v[0..n), nearest rank. */
static double quantile(const double *v, long n, double q)
{
    long k = (long)(q * (double)n + 0.999999) - 1;

    if (k < 0)
        k = 0;
    if (k >= n)
        k = n - 1;
    return v[k];
}

/* "<backend>_<name>_p50/_p99/_max: x ms" lines for r's latencies. */
static void print_latency(const struct run *r, const char *name)
{
    qsort(r->lat, (size_t)r->n, sizeof(double), cmp_double);
    printf("%s_%s_p50: %.3f ms\n", opt.backend, name,
           quantile(r->lat, r->n, 0.50) * 1000);
    printf("%s_%s_p99: %.3f ms\n", opt.backend, name,
           quantile(r->lat, r->n, 0.99) * 1000);
    printf("%s_%s_max: %.3f ms\n", opt.backend, name, r->lat[r->n - 1] * 1000);
}

/* ---- opening the store ---- */

static void on_zk_state(void *arg, enum zk_state state)
{
    (void)arg;
    if (state == ZK_CONNECTED)
        zk_connected = 1;
}

static void on_connect_timeout(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(l, EVBREAK_ALL);
}

static void on_prepare_connected(struct ev_loop *l, ev_prepare *w, int revents)
{
    (void)w;
    (void)revents;
    if (zk_connected)
        ev_break(l, EVBREAK_ALL);
}

/* A ZooKeeper session to opt.zk, connected. */
static struct zk *open_zk(void)
{
    ev_timer t;
    ev_prepare p;
    struct zk *z;
    int rc;

    rc = zk_open(loop, opt.zk, opt.session_timeout, on_zk_state, NULL, &z);
    if (rc < 0)
        fail("zk_open", rc);
    ev_timer_init(&t, on_connect_timeout, CONNECT_TIMEOUT, 0.);
    ev_timer_start(loop, &t);
    ev_prepare_init(&p, on_prepare_connected);
    ev_prepare_start(loop, &p);
    if (!zk_connected)
        ev_run(loop, 0);
    ev_prepare_stop(loop, &p);
    ev_timer_stop(loop, &t);
    if (!zk_connected) {
        fprintf(stderr,
                "store_bench: no ZooKeeper session with %s within %.0f s\n",
                opt.zk, CONNECT_TIMEOUT);
        exit(1);
    }
    return z;
}

/*
 * A term for the store, as an election gives the master: with ZooKeeper
 * its fence is an ephemeral sequential <root>/leader/member_N of the
 * bench's session (made synchronously: this is a benchmark's setup).
 */
static void begin_term(struct zk *z)
{
    char path[256], made[256];
    int rc;

    if (z != NULL) {
        snprintf(path, sizeof(path), "%s", opt.root);
        zoo_create(zk_handle(z), path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
        snprintf(path, sizeof(path), "%s/" ZK_LEADER_DIR, opt.root);
        zoo_create(zk_handle(z), path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
        snprintf(path, sizeof(path),
                 "%s/" ZK_LEADER_DIR "/" ZK_LEADER_MEMBER_PREFIX, opt.root);
        rc = zoo_create(zk_handle(z), path, "", 0, &ZOO_OPEN_ACL_UNSAFE,
                        ZOO_EPHEMERAL | ZOO_SEQUENCE, made, (int)sizeof(made));
        if (rc != ZOK) {
            fprintf(stderr, "store_bench: create %s: %s\n", path, zerror(rc));
            exit(1);
        }
    }
    rc = store_term_begin(store, z != NULL ? made : NULL);
    if (rc < 0)
        fail("cannot begin a term", rc);
}

/* ---- the ceiling: raw creates, no store ---- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long outstanding, done, errors;
    int first_rc;
} raw = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};

/* libzookeeper's completion thread. */
static void on_raw_create(int rc, const char *name, const void *data)
{
    (void)name;
    (void)data;
    pthread_mutex_lock(&raw.mu);
    raw.outstanding--;
    raw.done++;
    if (rc != ZOK && raw.errors++ == 0)
        raw.first_rc = rc;
    pthread_cond_signal(&raw.cv);
    pthread_mutex_unlock(&raw.mu);
}

/* --puts zoo_acreate() of new znodes, --inflight at most outstanding. */
static void raw_creates(struct zk *z)
{
    zhandle_t *zh = zk_handle(z);
    char path[256];
    double t0, t1;
    long i;
    int rc;

    snprintf(path, sizeof(path), "%s", opt.root);
    zoo_create(zh, path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    snprintf(path, sizeof(path), "%s/raw", opt.root);
    rc = zoo_create(zh, path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    if (rc != ZOK && rc != ZNODEEXISTS) {
        fprintf(stderr, "store_bench: create %s: %s\n", path, zerror(rc));
        exit(1);
    }
    t0 = now();
    for (i = 0; i < opt.puts; i++) {
        pthread_mutex_lock(&raw.mu);
        while (raw.outstanding >= opt.inflight)
            pthread_cond_wait(&raw.cv, &raw.mu);
        raw.outstanding++;
        pthread_mutex_unlock(&raw.mu);
        snprintf(path, sizeof(path), "%s/raw/k%ld", opt.root, i);
        rc = zoo_acreate(zh, path, value, (int)opt.value_size,
                         &ZOO_OPEN_ACL_UNSAFE, 0, on_raw_create, NULL);
        if (rc != ZOK) {
            fprintf(stderr, "store_bench: zoo_acreate: %s\n", zerror(rc));
            exit(1);
        }
    }
    pthread_mutex_lock(&raw.mu);
    while (raw.done < opt.puts)
        pthread_cond_wait(&raw.cv, &raw.mu);
    pthread_mutex_unlock(&raw.mu);
    t1 = now();
    if (raw.errors) {
        fprintf(stderr, "store_bench: %ld of %ld creates failed, the first "
                        "with %s\n",
                raw.errors, opt.puts, zerror(raw.first_rc));
        exit(1);
    }
    printf("zk_raw_create_throughput: %.0f creates/s (%ld zoo_acreate of "
           "%ld B to new znodes, up to %ld in flight, %.2f s)\n",
           (double)opt.puts / (t1 - t0), opt.puts, opt.value_size,
           opt.inflight, t1 - t0);
}

/* ---- arguments ---- */

static void usage(void)
{
    fprintf(
        stderr,
        "usage: store_bench --backend=local --dir=DIR\n"
        "       store_bench --backend=zk --zk=HOST:PORT [--root=/storebench]\n"
        "       store_bench --backend=zk_raw --zk=HOST:PORT [--root=...]\n"
        "  [--puts=10000] [--inflight=100] [--value_size=1024]\n"
        "  [--latency_puts=1000] [--session_timeout=10 (seconds, zk)]\n"
        "  [--fenced=0|1 (write in a term, as the master does)]\n");
    exit(2);
}

/* Matches "--name=value". */
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

        if ((v = flag(a, "backend")))
            opt.backend = v;
        else if ((v = flag(a, "dir")))
            opt.dir = v;
        else if ((v = flag(a, "zk")))
            opt.zk = v;
        else if ((v = flag(a, "root")))
            opt.root = v;
        else if ((v = flag(a, "puts")))
            opt.puts = strtol(v, NULL, 10);
        else if ((v = flag(a, "inflight")))
            opt.inflight = strtol(v, NULL, 10);
        else if ((v = flag(a, "value_size")))
            opt.value_size = strtol(v, NULL, 10);
        else if ((v = flag(a, "latency_puts")))
            opt.latency_puts = strtol(v, NULL, 10);
        else if ((v = flag(a, "session_timeout")))
            opt.session_timeout = strtod(v, NULL);
        else if ((v = flag(a, "fenced")))
            opt.fenced = strtol(v, NULL, 10);
        else
            usage();
    }
    if (opt.backend == NULL || opt.puts <= 0 || opt.inflight <= 0 ||
        opt.value_size <= 0 || opt.value_size > AGORA_STORE_VALUE_MAX ||
        opt.latency_puts <= 0 || opt.session_timeout <= 0)
        usage();
    if (strcmp(opt.backend, "local") == 0 ? opt.dir == NULL
        : strcmp(opt.backend, "zk") == 0  ? opt.zk == NULL
        : strcmp(opt.backend, "zk_raw") == 0 ? opt.zk == NULL
                                          : 1)
        usage();
}

int main(int argc, char **argv)
{
    struct run tput = {"t",  0, 0, AGORA_STORE_ANY, 0, 0, 0, 0, 0, NULL,
                       NULL, 0, 0};
    struct run lat = tput, over = tput;
    struct store_stats stats;
    struct zk *z = NULL;
    long i;
    int rc;

    parse_args(argc, argv);
    log_set_level(AGORA_LOG_WARN);
    loop = ev_default_loop(0);
    value = malloc((size_t)opt.value_size);
    if (loop == NULL || value == NULL)
        fail("cannot start", AGORA_ENOMEM);
    for (i = 0; i < opt.value_size; i++)
        value[i] = (char)('a' + i % 26);

    if (strcmp(opt.backend, "zk_raw") == 0) {
        z = open_zk();
        raw_creates(z);
        zk_close(z);
        return 0;
    }
    if (strcmp(opt.backend, "local") == 0) {
        rc = store_open_local(loop, opt.dir, &store);
    } else {
        z = open_zk();
        rc = store_open_zk(loop, z, opt.root, &store);
    }
    if (rc < 0)
        fail("cannot open the store", rc);
    if (opt.fenced)
        begin_term(z);

    tput.n = opt.puts;
    tput.inflight = opt.inflight;
    run(&tput);
    printf("%s_put_throughput: %.0f puts/s (%ld puts of %ld B to new keys, "
           "up to %ld in flight, %.2f s)\n",
           opt.backend, (double)tput.n / (tput.t1 - tput.t0), tput.n,
           opt.value_size, opt.inflight, tput.t1 - tput.t0);
    print_latency(&tput, "put_latency_under_load");

    lat.prefix = "l";
    lat.n = opt.latency_puts;
    lat.inflight = 1;
    run(&lat);
    print_latency(&lat, "put_latency");

    over.prefix = "l";
    over.n = opt.latency_puts;
    over.inflight = 1;
    run(&over);
    print_latency(&over, "overwrite_latency");

    store_get_stats(store, &stats);
    printf("%s_store_stats: %llu puts, %llu errors\n", opt.backend,
           (unsigned long long)stats.puts, (unsigned long long)stats.errors);
    store_close(store);
    if (z)
        zk_close(z);
    return 0;
}
