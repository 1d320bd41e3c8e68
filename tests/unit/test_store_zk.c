/*
 * test_store_zk.c - the ZooKeeper session (core/zk.c) and the store's zk
 * backend, against a real ZooKeeper server; and one case of the election
 * (core/leader.c) that only a real server shows.
 *
 * main() starts a standalone server with scripts/zk on a free loopback
 * port in a temporary directory; a watchdog process stops it and removes
 * the directory when this program ends, however it ends. Each test (run
 * in a process of its own by check) opens its own session and a store
 * under a root of its own, so tests never see each other's keys. The
 * tests that stop or freeze the server come last.
 *
 * The store's semantics are the suite every backend runs (store_suite.c,
 * where every store call goes through CALL(), and every callback checks
 * that it does not run inside the call that started it); this file adds
 * what only ZooKeeper shows: its URLs and errors, its znodes, a server
 * that stops or freezes, a session that expires.
 *
 * Java and ZooKeeper are required (scripts/setup installs them): without
 * them this test fails, it does not skip. AGORA_TEST_LOG=info shows our
 * log; AGORA_TEST_KEEP=1 keeps the server's directory (and its log).
 */
/* The synchronous calls of libzookeeper_mt, for the test's own checks. */
#define THREADED

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <agora/sdk.h>

#include "leader.h"
#include "log.h"
#include "store_suite.h"
#include "store_zk_order.h"
#include "zk.h"

/* Short, so that the expiry tests are quick (the server allows >= 1 s). */
#define SESSION_TIMEOUT 2.0

static char zk_dir[256];   /* the server's directory (scripts/zk) */
static char zk_hosts[64];  /* 127.0.0.1:<port> */
static int test_seq;

/* ------------------------------------------------------------------ */
/* The server                                                          */
/* ------------------------------------------------------------------ */

/* Runs scripts/zk <verb> <dir> [port]; its exit status. */
static int zk_script(const char *verb, int port)
{
    char cmd[1024];

    if (port > 0)
        snprintf(cmd, sizeof(cmd), "%s %s %s %d >/dev/null", AGORA_ZK_SCRIPT,
                 verb, zk_dir, port);
    else
        snprintf(cmd, sizeof(cmd), "%s %s %s >/dev/null", AGORA_ZK_SCRIPT,
                 verb, zk_dir);
    return system(cmd);
}

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("test_store_zk: a free port");
        exit(EXIT_FAILURE);
    }
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static pid_t server_pid(void)
{
    char path[300];
    FILE *f;
    long pid = 0;

    snprintf(path, sizeof(path), "%s/zk.pid", zk_dir);
    f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

/*
 * A process that waits for the end of this one (the pipe's other end
 * closes then, even on a crash), then stops the server and removes its
 * directory.
 */
static int start_watchdog(const char *tmp)
{
    int fds[2];
    char c, cmd[600];
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[1]);
        setsid(); /* out of ctest's way: it may kill our group */
        while (read(fds[0], &c, 1) > 0)
            ;
        zk_script("stop", 0);
        if (getenv("AGORA_TEST_KEEP") != NULL) {
            fprintf(stderr, "test_store_zk: kept %s\n", tmp);
            _exit(0);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        _exit(system(cmd) == 0 ? 0 : 1);
    }
    close(fds[0]);
    return fds[1];
}

/* Fails the program, with the reason, when Java or ZooKeeper is not
 * installed: a broken setup must not pass as a skipped test. */
static void check_prerequisites(void)
{
    if (access("/usr/share/java/zookeeper.jar", R_OK) != 0) {
        fprintf(stderr, "test_store_zk: FAILED: /usr/share/java/zookeeper.jar "
                        "is missing: install Debian's zookeeper package "
                        "(scripts/setup does)\n");
        exit(EXIT_FAILURE);
    }
    if (system("java -version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_store_zk: FAILED: `java -version` fails: "
                        "install default-jre-headless (scripts/setup does)\n");
        exit(EXIT_FAILURE);
    }
}

/* ------------------------------------------------------------------ */
/* The backend                                                         */
/* ------------------------------------------------------------------ */

/* A struct ctx's b: a session, and the root of the test's store. */
struct session {
    struct zk *z;
    char root[64];
    /* Session states reported, in order. */
    enum zk_state states[32];
    int nstates;
};

#define ZK(c) ((struct session *)(c)->b)

static void on_state(void *arg, enum zk_state state)
{
    struct session *zs = arg;

    if (zs->nstates < (int)(sizeof(zs->states) / sizeof(zs->states[0])))
        zs->states[zs->nstates++] = state;
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    *(int *)w->data = 1;
}

/*
 * Waits up to `seconds` for the session to report `state` in report
 * number `from` or later; the number of that report, or -1.
 */
static int wait_state_from(struct ctx *c, int from, enum zk_state state,
                           double seconds)
{
    struct session *zs = ZK(c);
    int seen = -1, i, expired = 0;
    ev_timer t;

    /* The timer also keeps ev_run() from returning early. */
    ev_timer_init(&t, on_timeout, seconds, 0.);
    t.data = &expired;
    ev_timer_start(c->loop, &t);
    while (seen < 0 && !expired) {
        for (i = from; i < zs->nstates && seen < 0; i++)
            if (zs->states[i] == state)
                seen = i;
        if (seen < 0)
            ev_run(c->loop, EVRUN_ONCE);
    }
    ev_timer_stop(c->loop, &t);
    return seen;
}

/* Opens a session on c->loop and waits until it is connected. */
static void session_open(struct ctx *c)
{
    struct session *zs = ZK(c);

    zs->nstates = 0;
    ck_assert_int_eq(
        zk_open(c->loop, zk_hosts, SESSION_TIMEOUT, on_state, zs, &zs->z), 0);
    ck_assert_int_eq(zk_state(zs->z), ZK_CONNECTING);
    ck_assert_msg(wait_state_from(c, 0, ZK_CONNECTED, 10) >= 0,
                  "no session with ZooKeeper at %s", zk_hosts);
    ck_assert(zk_session_timeout(zs->z) > 0);
}

static void zk_backend_init(struct ctx *c)
{
    struct session *zs = calloc(1, sizeof(*zs));

    ck_assert_ptr_nonnull(zs);
    /* A root of its own: tests share the server. */
    snprintf(zs->root, sizeof(zs->root), "/t%ld-%d", (long)getpid(),
             ++test_seq);
    c->b = zs;
    session_open(c);
}

static void zk_backend_open(struct ctx *c)
{
    ck_assert_int_eq(store_open_zk(c->loop, ZK(c)->z, ZK(c)->root, &c->s),
                     0);
}

/* Another session, as another master would have. */
static void zk_backend_restart(struct ctx *c)
{
    zk_close(ZK(c)->z);
    session_open(c);
}

static void zk_backend_fini(struct ctx *c)
{
    zk_close(ZK(c)->z);
    free(c->b);
    c->b = NULL;
}

/* Whether the znode <root><suffix> exists (synchronous: a test may block). */
static int znode_exists(struct ctx *c, const char *suffix)
{
    char path[1024];
    struct Stat st;
    int rc;

    snprintf(path, sizeof(path), "%s%s", ZK(c)->root, suffix);
    rc = zoo_exists(zk_handle(ZK(c)->z), path, 0, &st);
    ck_assert_msg(rc == ZOK || rc == ZNONODE, "exists %s: %s", path,
                  zerror(rc));
    return rc == ZOK;
}

/* The znode of a namespace or a key: <root>/state/<path>. */
static int zk_backend_holds(struct ctx *c, const char *path)
{
    char suffix[900]; /* fits in znode_exists()'s path, after the root */

    snprintf(suffix, sizeof(suffix), "/state/%s", path);
    return znode_exists(c, suffix);
}

/* Creates <root><path> unless it exists (synchronous). */
static void znode_ensure(struct ctx *c, const char *suffix)
{
    char path[256];
    int rc;

    snprintf(path, sizeof(path), "%s%s", ZK(c)->root, suffix);
    rc = zoo_create(zk_handle(ZK(c)->z), path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0,
                    NULL, 0);
    ck_assert_msg(rc == ZOK || rc == ZNODEEXISTS, "create %s: %s", path,
                  zerror(rc));
}

/* Key of NS set to value behind the store's back, as another writer
 * would: its node made, then its value node (".v"). */
static void znode_key_new(struct ctx *c, const char *key, const char *value)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/state/" NS "/%s", ZK(c)->root, key);
    ck_assert_int_eq(zoo_create(zk_handle(ZK(c)->z), path, "", 0,
                                &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0),
                     ZOK);
    snprintf(path, sizeof(path), "%s/state/" NS "/%s/.v", ZK(c)->root, key);
    ck_assert_int_eq(zoo_create(zk_handle(ZK(c)->z), path, value,
                                (int)strlen(value), &ZOO_OPEN_ACL_UNSAFE, 0,
                                NULL, 0),
                     ZOK);
}

/* A fence as the master's election makes it: an ephemeral sequential
 * <root>/leader/member_N of c's session. */
static char *zk_backend_fence(struct ctx *c)
{
    char path[256], made[256];

    znode_ensure(c, "");
    znode_ensure(c, "/" ZK_LEADER_DIR);
    snprintf(path, sizeof(path),
             "%s/" ZK_LEADER_DIR "/" ZK_LEADER_MEMBER_PREFIX, ZK(c)->root);
    ck_assert_int_eq(
        zoo_create(zk_handle(ZK(c)->z), path, "", 0, &ZOO_OPEN_ACL_UNSAFE,
                   ZOO_EPHEMERAL | ZOO_SEQUENCE, made, (int)sizeof(made)),
        ZOK);
    return strdup(made);
}

static const struct suite_backend zk_backend = {
    .name = "zk",
    .init = zk_backend_init,
    .open = zk_backend_open,
    .restart = zk_backend_restart,
    .fini = zk_backend_fini,
    .holds = zk_backend_holds,
    .fence = zk_backend_fence,
};

/* ------------------------------------------------------------------ */
/* URLs and errors                                                      */
/* ------------------------------------------------------------------ */

static void expect_url(const char *url, const char *hosts, const char *root)
{
    char *h = NULL, *r = NULL;

    ck_assert_msg(zk_parse_url(url, &h, &r) == 0, "refused: %s", url);
    ck_assert_str_eq(h, hosts);
    ck_assert_str_eq(r, root);
    free(h);
    free(r);
}

START_TEST(test_parse_url)
{
    static const char *const bad[] = {
        "zk://h:2181",         "zk://h:2181/",      "zk://h:2181//",
        "http://h:2181/agora", "zk:///agora",       "zk://u:p@h:2181/agora",
        "zk://h:x/agora",      "zk://h:0/agora",    "zk://h:70000/agora",
        "zk://h:2181,/agora",  "zk://h:2181/a//b",  "zk://h:2181/a/./b",
        "zk://h:2181/a/..",    "zk://h:2181/zookeeper", "zk://:2181/agora",
        "",                    "zk://h:/agora"};
    char *h = (char *)"x", *r = (char *)"y";
    size_t i;

    expect_url("zk://h1:2181,h2:2182/agora", "h1:2181,h2:2182", "/agora");
    expect_url("zk://10.0.0.1:2181/mesos/agora", "10.0.0.1:2181",
               "/mesos/agora");
    expect_url("zk://h1,h2:2182/agora/", "h1:2181,h2:2182", "/agora");
    expect_url("zk://localhost:2181/zookeeper-not", "localhost:2181",
               "/zookeeper-not");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(zk_parse_url(bad[i], &h, &r) == AGORA_EINVAL,
                      "accepted: %s", bad[i]);
        ck_assert_ptr_null(h);
        ck_assert_ptr_null(r);
    }
    ck_assert_int_eq(zk_parse_url(NULL, &h, &r), AGORA_EINVAL);
}
END_TEST

START_TEST(test_zk_err)
{
    ck_assert_int_eq(zk_err(ZOK), 0);
    ck_assert_int_eq(zk_err(ZNONODE), AGORA_ENOENT);
    ck_assert_int_eq(zk_err(ZNODEEXISTS), AGORA_EEXIST);
    ck_assert_int_eq(zk_err(ZBADVERSION), AGORA_EVERSION);
    ck_assert_int_eq(zk_err(ZNOTEMPTY), AGORA_ESTATE);
    ck_assert_int_eq(zk_err(ZCONNECTIONLOSS), AGORA_EUNAVAIL);
    ck_assert_int_eq(zk_err(ZOPERATIONTIMEOUT), AGORA_EUNAVAIL);
    ck_assert_int_eq(zk_err(ZSESSIONEXPIRED), AGORA_EUNAVAIL);
    ck_assert_int_eq(zk_err(ZCLOSING), AGORA_EUNAVAIL);
    ck_assert_int_eq(zk_err(ZINVALIDSTATE), AGORA_EUNAVAIL);
    ck_assert_int_eq(zk_err(ZNOAUTH), AGORA_EIO);
    ck_assert_int_eq(zk_err(ZMARSHALLINGERROR), AGORA_EIO);
}
END_TEST

START_TEST(test_open_errors)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct store *s = NULL;
    struct zk *z = NULL;
    struct ctx c;

    ck_assert_int_eq(zk_open(loop, "", 2, NULL, NULL, &z), AGORA_EINVAL);
    ck_assert_int_eq(zk_open(loop, zk_hosts, 0, NULL, NULL, &z),
                     AGORA_EINVAL);
    ck_assert_int_eq(zk_open(loop, "no-port-here", 2, NULL, NULL, &z),
                     AGORA_EINVAL);
    ck_assert_ptr_null(z);
    ev_loop_destroy(loop);

    ctx_init(&c);
    ck_assert_int_eq(store_open_zk(c.loop, ZK(&c)->z, "/", &s), AGORA_EINVAL);
    ck_assert_int_eq(store_open_zk(c.loop, ZK(&c)->z, "agora", &s),
                     AGORA_EINVAL);
    ck_assert_int_eq(store_open_zk(c.loop, ZK(&c)->z, "/agora/", &s),
                     AGORA_EINVAL);
    ck_assert_int_eq(store_open_zk(c.loop, NULL, "/agora", &s), AGORA_EINVAL);
    ck_assert_ptr_null(s);
    ctx_fini(&c);
}
END_TEST

/*
 * The store's znodes: a call refused reaches nothing (not even the
 * store's root is made), and a key's value is the znode .v below the
 * key's own.
 */
START_TEST(test_znodes)
{
    struct ctx c;
    struct rec never;

    ctx_init(&c);
    rec_init(&never, &c);
    ck_assert_int_eq(CALL(&c, store_put(c.s, NS, "a/.v", "v", 1,
                                        AGORA_STORE_ANY, on_done, &never,
                                        NULL)),
                     AGORA_EINVAL);
    ck_assert_int_eq(
        CALL(&c, store_get(c.s, "Bad", "k", on_done, &never, NULL)),
        AGORA_EINVAL);
    spin(&c);
    ck_assert_int_eq(never.called, 0);
    ck_assert(!znode_exists(&c, ""));
    ck_assert_int_eq(put(&c, NS, "a", "hello", AGORA_STORE_ANY, NULL), 0);
    ck_assert(znode_exists(&c, "/state/" NS "/a/.v"));
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The session: the server stops, freezes, expires it                   */
/* ------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An op started now fails with AGORA_EUNAVAIL, without waiting. */
static void expect_unavailable(struct ctx *c)
{
    struct rec r;
    double t0 = now_s();

    ck_assert_int_eq(get(c, NS, "k", &r), AGORA_EUNAVAIL);
    rec_free(&r);
    ck_assert_int_eq(put(c, NS, "k", "v", AGORA_STORE_ANY, NULL),
                     AGORA_EUNAVAIL);
    ck_assert_int_eq(list(c, NS, "", &r), AGORA_EUNAVAIL);
    rec_free(&r);
    ck_assert_int_eq(del(c, NS, "k", AGORA_STORE_ANY), AGORA_EUNAVAIL);
    ck_assert(now_s() - t0 < 0.5);
}

/* Polls until the znode <root><suffix> is gone; the seconds it took, or -1
 * when it is still there after `seconds`. */
static double wait_gone(struct ctx *c, const char *suffix, double seconds)
{
    double t0 = now_s();

    while (now_s() - t0 < seconds) {
        if (!znode_exists(c, suffix))
            return now_s() - t0;
        usleep(50000);
    }
    return -1;
}

/* What the server logged of session id (its tail), on stderr. */
static void server_log_of_session(int64_t id)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd),
             "grep -i '%llx' '%s/zookeeper.log' | tail -n 40 >&2",
             (unsigned long long)id, zk_dir);
    fprintf(stderr, "the server's log of session 0x%llx:\n",
            (unsigned long long)id);
    if (system(cmd) != 0)
        fprintf(stderr, "(cannot read it)\n");
}

/*
 * The server stops: the session reports ZK_DISCONNECTED and ops fail at
 * once; one session timeout later, ZK_EXPIRED (the servers have expired
 * it by then); the server back, ZK_CONNECTED with a new session, ops work
 * and the data is still there. The old session's ephemeral node goes as
 * soon as the server is back (the reaper closes that session).
 */
START_TEST(test_server_stops)
{
    struct ctx c;
    char eph[128];
    int from, rc;
    double t0, took;
    int64_t old_id;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "k", "kept", AGORA_STORE_ANY, NULL), 0);
    snprintf(eph, sizeof(eph), "%s/ephemeral", ZK(&c)->root);
    rc = zoo_create(zk_handle(ZK(&c)->z), eph, "", 0, &ZOO_OPEN_ACL_UNSAFE,
                    ZOO_EPHEMERAL, NULL, 0);
    ck_assert_int_eq(rc, ZOK);
    old_id = zoo_client_id(zk_handle(ZK(&c)->z))->client_id;

    from = ZK(&c)->nstates;
    t0 = now_s();
    ck_assert_int_eq(zk_script("stop", 0), 0);
    from = wait_state_from(&c, from, ZK_DISCONNECTED, 5);
    ck_assert_msg(from >= 0, "no ZK_DISCONNECTED after the server stopped");
    ck_assert_int_eq(zk_state(ZK(&c)->z), ZK_DISCONNECTED);
    expect_unavailable(&c);
    ck_assert_msg(wait_state_from(&c, from + 1, ZK_EXPIRED,
                                  SESSION_TIMEOUT + 3) == from + 1,
                  "no ZK_EXPIRED one session timeout after the stop");
    ck_assert(now_s() - t0 >= SESSION_TIMEOUT - 0.1);
    expect_unavailable(&c);
    ck_assert_int_eq(zk_state(ZK(&c)->z), ZK_EXPIRED);
    ck_assert_int_eq(ZK(&c)->states[ZK(&c)->nstates - 1], ZK_EXPIRED);

    from = ZK(&c)->nstates;
    ck_assert_int_eq(zk_script("start", 0), 0);
    ck_assert_msg(wait_state_from(&c, from, ZK_CONNECTED, 15) == from,
                  "no ZK_CONNECTED after the server came back");
    ck_assert(zoo_client_id(zk_handle(ZK(&c)->z))->client_id != old_id);
    expect_value(&c, NS, "k", "kept", 1);
    ck_assert_int_eq(put(&c, NS, "k", "again", AGORA_STORE_ANY, NULL), 0);
    expect_value(&c, NS, "k", "again", 2);
    /* The server restored the old session; the reaper ends it, or, when
     * the reaper gave up on it (a later expiry replaces it), the server
     * expires it within its longest session timeout (scripts/zk: 10 s).
     * Either way the node goes; it stays only if a handle keeps the old
     * session alive. */
    took = wait_gone(&c, "/ephemeral", 30.0);
    if (took < 0)
        server_log_of_session(old_id); /* why, for the next reader */
    ck_assert_msg(took >= 0, "the old session's ephemeral node stays");
    fprintf(stderr, "test_server_stops: old session's node gone after "
                    "%.2fs\n",
            took);
    ctx_fini(&c);
}
END_TEST

/* The state letter of process pid in /proc ('T': stopped), '?' if none. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512], *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return '?';
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' ? p[2] : '?';
}

/*
 * The server freezes (SIGSTOP): an op in flight fails within a bounded
 * time (libzookeeper drops a silent connection after 2/3 of the session
 * timeout). Thawed, the session comes back (the same or a new one).
 */
START_TEST(test_server_freezes)
{
    struct ctx c;
    struct rec r;
    pid_t pid = server_pid();
    double t0;
    int from, i;

    ck_assert_int_gt(pid, 0);
    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "k", "v", AGORA_STORE_ANY, NULL), 0);
    from = ZK(&c)->nstates;
    ck_assert_int_eq(kill(pid, SIGSTOP), 0);
    /* kill() returns before every thread of the JVM has stopped. */
    for (i = 0; i < 500 && proc_state(pid) != 'T'; i++)
        usleep(1000);
    ck_assert_int_eq(proc_state(pid), 'T');
    t0 = now_s();
    rec_init(&r, &c);
    START(&c, store_get(c.s, NS, "k", on_done, &r, NULL));
    wait_for(&c, &r);
    ck_assert_int_eq(kill(pid, SIGCONT), 0);
    ck_assert_int_eq(r.err, AGORA_EUNAVAIL);
    ck_assert_msg(now_s() - t0 < 2 * SESSION_TIMEOUT + 1.5,
                  "the op took %.1fs", now_s() - t0);
    rec_free(&r);
    from = wait_state_from(&c, from, ZK_DISCONNECTED, 1);
    ck_assert(from >= 0);
    ck_assert(wait_state_from(&c, from + 1, ZK_CONNECTED, 10) >= 0);
    expect_value(&c, NS, "k", "v", 1);
    ctx_fini(&c);
}
END_TEST

static void quiet_watcher(zhandle_t *zh, int type, int state,
                          const char *path, void *ctx)
{
}

static void quiet_log(const char *message)
{
}

/*
 * Takes the session of c over with another handle and closes it there,
 * which ends it on the server. c's handle reconnects with the session too
 * and may take it back first (then the close is refused): the caller
 * tries again.
 */
static void close_session_elsewhere(struct ctx *c, const clientid_t *id)
{
    zhandle_t *other = zookeeper_init2(zk_hosts, quiet_watcher, 2000, id,
                                       NULL, 0, quiet_log);
    int i;

    ck_assert_ptr_nonnull(other);
    for (i = 0; i < 3000 && zoo_state(other) != ZOO_CONNECTED_STATE; i++)
        usleep(1000);
    zookeeper_close(other);
}

/*
 * ZooKeeper expires the session itself (here: closed by another handle).
 * The owner hears ZK_EXPIRED then ZK_CONNECTED, and the store works on
 * the new session.
 */
START_TEST(test_server_expires_session)
{
    struct ctx c;
    clientid_t id;
    int from, tries, expired = -1;

    ctx_init(&c);
    id = *zoo_client_id(zk_handle(ZK(&c)->z));
    from = ZK(&c)->nstates;
    for (tries = 0; tries < 5; tries++) {
        close_session_elsewhere(&c, &id);
        expired = wait_state_from(&c, from, ZK_EXPIRED, 3);
        if (expired >= 0)
            break;
    }
    ck_assert_msg(expired >= 0, "no ZK_EXPIRED after the session was closed");
    /* The new session's; the old one may have reconnected before. */
    ck_assert(wait_state_from(&c, expired + 1, ZK_CONNECTED, 10) ==
              expired + 1);
    ck_assert(zoo_client_id(zk_handle(ZK(&c)->z))->client_id != id.client_id);
    ck_assert_int_eq(put(&c, NS, "k", "v", AGORA_STORE_NEW, NULL), 0);
    expect_value(&c, NS, "k", "v", 1);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Fencing                                                              */
/* ------------------------------------------------------------------ */

/*
 * The fence goes (the session expired, the master abdicated, someone
 * deleted it) while the store's term is still open, before the master
 * hears of it: every kind of write still fails, with AGORA_ENOTLEADER,
 * and ZooKeeper keeps nothing of it - no value, no parent made for a new
 * deep key. Reads go on. A new term with a live fence writes again.
 */
START_TEST(test_fence_gone_refuses_writes)
{
    const struct agora_store_txn_op txn_op = {.kind = AGORA_STORE_TXN_PUT,
                                              .key = "t",
                                              .value = "2",
                                              .len = 1,
                                              .version = AGORA_STORE_ANY};
    struct ctx c;
    struct rec r;
    char *fence;

    ctx_init(&c);
    fence = zk_backend_fence(&c);
    ck_assert_int_eq(store_term_begin(c.s, fence), 0);
    ck_assert_int_eq(put(&c, NS, "a", "1", AGORA_STORE_NEW, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "b", "1", AGORA_STORE_NEW, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "t", "1", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "a", "2", AGORA_STORE_ANY, NULL), 0);

    ck_assert_int_eq(zoo_delete(zk_handle(ZK(&c)->z), fence, -1), ZOK);
    ck_assert_int_eq(put(&c, NS, "a", "3", AGORA_STORE_ANY, NULL),
                     AGORA_ENOTLEADER); /* a set */
    ck_assert_int_eq(put(&c, NS, "a", "3", 2, NULL),
                     AGORA_ENOTLEADER); /* a compare-and-set that holds */
    ck_assert_int_eq(put(&c, NS, "x", "1", AGORA_STORE_NEW, NULL),
                     AGORA_ENOTLEADER); /* a create */
    ck_assert_int_eq(put(&c, NS, "deep/new/key", "1", AGORA_STORE_NEW, NULL),
                     AGORA_ENOTLEADER); /* parents and value */
    ck_assert_int_eq(del(&c, NS, "b", AGORA_STORE_ANY), AGORA_ENOTLEADER);
    rec_init(&r, &c);
    START(&c, store_txn(c.s, NS, &txn_op, 1, on_done, &r, NULL));
    wait_for(&c, &r);
    ck_assert_int_eq(r.err, AGORA_ENOTLEADER);
    rec_free(&r);

    expect_value(&c, NS, "a", "2", 2);
    expect_value(&c, NS, "b", "1", 1);
    expect_value(&c, NS, "t", "1", 1);
    expect_absent(&c, NS, "x");
    ck_assert(!znode_exists(&c, "/state/" NS "/x"));
    ck_assert(!znode_exists(&c, "/state/" NS "/deep"));

    /* Elected again: a new znode, a new term. */
    store_term_end(c.s);
    free(fence);
    fence = zk_backend_fence(&c);
    ck_assert_int_eq(store_term_begin(c.s, fence), 0);
    ck_assert_int_eq(put(&c, NS, "a", "3", 2, NULL), 0);
    expect_value(&c, NS, "a", "3", 3);
    free(fence);
    ctx_fini(&c);
}
END_TEST

/*
 * A write called in the term but held back behind an earlier one (the
 * same key) starts after the term ended: it is never sent, and fails with
 * AGORA_ENOTLEADER. The earlier one, sent while the fence stood (in the
 * loop's next turn, as the batch of the writes called in this one: a put
 * at a version needs no scan first), landed.
 */
START_TEST(test_term_end_fails_queued_write)
{
    struct ctx c;
    struct rec first, second;
    char *fence;

    ctx_init(&c);
    fence = zk_backend_fence(&c);
    ck_assert_int_eq(store_term_begin(c.s, fence), 0);
    ck_assert_int_eq(put(&c, NS, "k", "zero", AGORA_STORE_NEW, NULL), 0);
    rec_init(&first, &c);
    rec_init(&second, &c);
    START(&c, store_put(c.s, NS, "k", "first", 5, 1, on_done, &first,
                        NULL));
    START(&c, store_put(c.s, NS, "k", "second", 6, AGORA_STORE_ANY, on_done,
                        &second, NULL));
    ev_run(c.loop, EVRUN_NOWAIT); /* the first goes out */
    store_term_end(c.s);
    wait_for(&c, &first);
    wait_for(&c, &second);
    ck_assert_int_eq(first.err, 0);
    ck_assert_int_eq(second.err, AGORA_ENOTLEADER);
    expect_value(&c, NS, "k", "first", 2);
    rec_free(&first);
    rec_free(&second);
    free(fence);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The order of ops (store_zk_order.c), alone                           */
/* ------------------------------------------------------------------ */

/* The owners order_next() gives now, as a string of their names. */
static void expect_ready(struct order *o, const char *want)
{
    char got[64] = "";
    const char *name;

    while ((name = order_next(o)) != NULL)
        strncat(got, name, sizeof(got) - strlen(got) - 1);
    ck_assert_str_eq(got, want);
}

/*
 * An op waits for exactly the earlier unfinished ops it conflicts with:
 * a read waits for writes to its key, its ancestors and descendants, a
 * write for every op on them, a write of "" (the namespace) for the
 * whole namespace; nothing waits for an unrelated key, nor a read for a read,
 * even one that itself waits behind a write.
 */
START_TEST(test_order_index)
{
    struct order o = ORDER_INIT;
    struct order_ent *e[12];

    ck_assert_int_eq(order_add(&o, "ns", "a/b", 1, "A", &e[0]), 0);
    ck_assert_int_eq(order_add(&o, "ns", "a/c", 0, "B", &e[1]), 0);
    ck_assert_int_eq(order_add(&o, "ns", "a", 1, "C", &e[2]), 0);
    ck_assert_int_eq(order_add(&o, "ns", "a/b", 0, "D", &e[3]), 0);
    ck_assert_int_eq(order_add(&o, "ns", "x", 1, "E", &e[4]), 0);
    ck_assert_int_eq(order_add(&o, "ns2", "a", 1, "F", &e[5]), 0);
    ck_assert_int_eq(order_add(&o, "ns", "", 0, "G", &e[6]), 0);
    ck_assert_int_eq(order_add(&o, "ns", "ab", 0, "H", &e[7]), 0);
    expect_ready(&o, "ABEFH"); /* "ab" is not under "a" */
    order_done(&o, e[0]);
    expect_ready(&o, ""); /* C waits for B too, D for C, G for C, E */
    order_done(&o, e[1]);
    expect_ready(&o, "C");
    order_done(&o, e[4]);
    expect_ready(&o, "");
    order_done(&o, e[2]);
    expect_ready(&o, "DG");
    /* A read of the parent runs; a write below waits for it; a read
     * beside that write goes, although the write waits. */
    ck_assert_int_eq(order_add(&o, "ns", "p", 0, "I", &e[8]), 0);
    ck_assert_int_eq(order_add(&o, "ns", "p/q", 1, "J", &e[9]), 0);
    ck_assert_int_eq(order_add(&o, "ns", "p/r", 0, "K", &e[10]), 0);
    expect_ready(&o, "IK");
    /* A write of "" waits for everything of its namespace before it. */
    ck_assert_int_eq(order_add(&o, "ns", "", 1, "L", &e[11]), 0);
    expect_ready(&o, "");
    order_done(&o, e[8]);
    expect_ready(&o, ""); /* J: G, the list of "", still runs */
    order_done(&o, e[6]);
    expect_ready(&o, "J");
    order_done(&o, e[3]);
    order_done(&o, e[5]);
    order_done(&o, e[7]);
    order_done(&o, e[9]);
    expect_ready(&o, "");
    order_done(&o, e[10]);
    expect_ready(&o, "L");
    order_done(&o, e[11]);
    ck_assert_uint_eq(o.nodes.len, 0); /* every node freed */
    order_free(&o);
}
END_TEST

/*
 * A transaction waits for, and holds back, the ops on each of its keys
 * (and above and below them) as a write of each would, and only those:
 * two transactions on unrelated keys, or one beside a write under the
 * same parent, run together. A key twice in its paths (v, v/w) is asked
 * once, at the stronger mode.
 */
START_TEST(test_order_keys)
{
    static const char *const b_keys[] = {"p/r", "s"};
    static const char *const f_keys[] = {"t/u", "p/q/z"};
    static const char *const g_keys[] = {"v", "v/w"};
    struct order o = ORDER_INIT;
    struct order_ent *e[8];

    ck_assert_int_eq(order_add(&o, "ns", "p/q", 1, "A", &e[0]), 0);
    ck_assert_int_eq(order_add_keys(&o, "ns", b_keys, 2, 1, "B", &e[1]), 0);
    ck_assert_int_eq(order_add(&o, "ns", "s", 0, "C", &e[2]), 0);
    ck_assert_int_eq(order_add(&o, "ns", "p", 0, "D", &e[3]), 0);
    ck_assert_int_eq(order_add(&o, "ns", "t", 0, "E", &e[4]), 0);
    ck_assert_int_eq(order_add_keys(&o, "ns", f_keys, 2, 1, "F", &e[5]), 0);
    ck_assert_int_eq(order_add_keys(&o, "ns", g_keys, 2, 1, "G", &e[6]), 0);
    ck_assert_int_eq(order_add(&o, "ns", "v/w/x", 0, "H", &e[7]), 0);
    expect_ready(&o, "ABEG");
    order_done(&o, e[0]);
    expect_ready(&o, ""); /* D still waits for B (p/r), F for E and D */
    order_done(&o, e[1]);
    expect_ready(&o, "CD");
    order_done(&o, e[4]);
    expect_ready(&o, ""); /* F: the read of p, before it, runs */
    order_done(&o, e[3]);
    expect_ready(&o, "F");
    order_done(&o, e[6]);
    expect_ready(&o, "H");
    order_done(&o, e[2]);
    order_done(&o, e[5]);
    order_done(&o, e[7]);
    ck_assert_uint_eq(o.nodes.len, 0); /* every node freed */
    order_free(&o);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Batches: writes that may start go together in one multi              */
/* ------------------------------------------------------------------ */

/*
 * Deletes of many keys under one parent, all started at once (the race
 * of sibling deletes that each prune the parent gave up after MAX_TRIES
 * before batching): every one succeeds, and the parents they leave empty
 * go. 500 under one parent, 600 under another: more than one batch.
 */
START_TEST(test_many_deletes_one_parent)
{
    enum { NA = 500, NB = 600, N = NA + NB };
    struct rec *w = calloc(N, sizeof(*w)), *d = calloc(N, sizeof(*d));
    char key[64];
    struct ctx c;
    int i;

    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(d);
    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "keep", "k", AGORA_STORE_NEW, NULL), 0);
    for (i = 0; i < N; i++) {
        if (i < NA)
            snprintf(key, sizeof(key), "a/x/k%d", i);
        else
            snprintf(key, sizeof(key), "b/k%d", i);
        rec_init(&w[i], &c);
        START(&c, store_put(c.s, NS, key, "v", 1, AGORA_STORE_NEW, on_done,
                           &w[i], NULL));
    }
    wait_for(&c, &w[N - 1]);
    for (i = 0; i < N; i++) {
        ck_assert_int_eq(w[i].err, 0);
        rec_free(&w[i]);
    }
    for (i = 0; i < N; i++) {
        if (i < NA)
            snprintf(key, sizeof(key), "a/x/k%d", i);
        else
            snprintf(key, sizeof(key), "b/k%d", i);
        rec_init(&d[i], &c);
        START(&c, store_delete(c.s, NS, key, i % 2 ? 1 : AGORA_STORE_ANY,
                              on_done, &d[i], NULL));
    }
    wait_for(&c, &d[N - 1]);
    for (i = 0; i < N; i++) {
        ck_assert_msg(d[i].err == 0, "delete %d: %s", i,
                      agora_strerror(d[i].err));
        ck_assert_int_eq(d[i].seq, d[N - 1].seq - (N - 1 - i));
    }
    for (i = 0; i < N; i++)
        rec_free(&d[i]);
    expect_list(&c, NS, "", (const char *const[]){"keep"}, 1);
    ck_assert(!zk_backend_holds(&c, NS "/a"));
    ck_assert(!zk_backend_holds(&c, NS "/b"));
    ck_assert(zk_backend_holds(&c, NS "/keep"));
    free(w);
    free(d);
    ctx_fini(&c);
}
END_TEST

/*
 * Writes started together go in one batch, where some fail their
 * compare-and-set inside the multi (a put at a stale version, a put at a
 * version of a missing key), some by what the scan or the cache shows
 * (NEW on a value that exists, a delete of a missing key): each gets its
 * own outcome, in call order, and the others land.
 */
START_TEST(test_batch_one_cas_fails)
{
    enum { N = 10 };
    struct rec r[N];
    struct ctx c;
    int i;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "a", "a1", AGORA_STORE_NEW, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "b", "b1", AGORA_STORE_NEW, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "c", "c1", AGORA_STORE_NEW, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "e", "e1", AGORA_STORE_NEW, NULL), 0);
    for (i = 0; i < N; i++)
        rec_init(&r[i], &c);
    START(&c, store_put(c.s, NS, "a", "a2", 2, 1, on_done, &r[0], NULL));
    START(&c, store_put(c.s, NS, "b", "bad", 3, 7, on_done, &r[1], NULL));
    START(&c, store_put(c.s, NS, "c", "c2", 2, AGORA_STORE_ANY, on_done,
                       &r[2], NULL));
    START(&c, store_put(c.s, NS, "d", "d1", 2, AGORA_STORE_NEW, on_done,
                       &r[3], NULL));
    START(&c, store_put(c.s, NS, "e", "bad", 3, AGORA_STORE_NEW, on_done,
                       &r[4], NULL));
    START(&c, store_delete(c.s, NS, "f", AGORA_STORE_ANY, on_done, &r[5],
                          NULL));
    START(&c, store_put(c.s, NS, "g/h", "deep", 4, AGORA_STORE_ANY, on_done,
                       &r[6], NULL));
    /* After r[1], on the same key: its own batch, at the version left. */
    START(&c, store_put(c.s, NS, "b", "b2", 2, 1, on_done, &r[7], NULL));
    START(&c, store_put(c.s, NS, "x", "bad", 3, 9, on_done, &r[8], NULL));
    START(&c, store_delete(c.s, NS, "c", 5, on_done, &r[9], NULL));
    wait_for(&c, &r[N - 1]);
    for (i = 0; i < N; i++)
        ck_assert_int_eq(r[i].seq, r[0].seq + i);
    ck_assert_int_eq(r[0].err, 0);
    ck_assert_int_eq(r[0].version, 2);
    ck_assert_int_eq(r[1].err, AGORA_EVERSION);
    ck_assert_int_eq(r[2].err, 0);
    ck_assert_int_eq(r[2].version, 2);
    ck_assert_int_eq(r[3].err, 0);
    ck_assert_int_eq(r[3].version, 1);
    ck_assert_int_eq(r[4].err, AGORA_EVERSION);
    ck_assert_int_eq(r[5].err, AGORA_ENOENT);
    ck_assert_int_eq(r[6].err, 0);
    ck_assert_int_eq(r[6].version, 1);
    ck_assert_int_eq(r[7].err, 0);
    ck_assert_int_eq(r[7].version, 2);
    ck_assert_int_eq(r[8].err, AGORA_EVERSION);
    ck_assert_int_eq(r[9].err, AGORA_EVERSION);
    for (i = 0; i < N; i++)
        rec_free(&r[i]);
    expect_value(&c, NS, "a", "a2", 2);
    expect_value(&c, NS, "b", "b2", 2);
    expect_value(&c, NS, "c", "c2", 2);
    expect_value(&c, NS, "d", "d1", 1);
    expect_value(&c, NS, "e", "e1", 1);
    expect_value(&c, NS, "g/h", "deep", 1);
    expect_absent(&c, NS, "f");
    expect_absent(&c, NS, "x");
    ck_assert(!zk_backend_holds(&c, NS "/x"));
    ck_assert(!zk_backend_holds(&c, NS "/f"));
    ctx_fini(&c);
}
END_TEST

/*
 * Another writer under the root (here: raw calls, in the test's session)
 * changes znodes the store knows from its own writes: its multis fail on
 * what it assumed, and its writes still get their own outcomes - a put
 * of ANY makes the value again, a NEW fails as it must, a write beside
 * them in the same batch lands.
 */
START_TEST(test_cache_other_writer)
{
    zhandle_t *zh;
    char path[256];
    struct rec r[3];
    struct ctx c;
    int i;

    ctx_init(&c);
    zh = zk_handle(ZK(&c)->z);
    ck_assert_int_eq(put(&c, NS, "q/a", "a1", AGORA_STORE_ANY, NULL), 0);
    /* Behind the store's back: q/a's value goes, q/b comes. */
    snprintf(path, sizeof(path), "%s/state/" NS "/q/a/.v", ZK(&c)->root);
    ck_assert_int_eq(zoo_delete(zh, path, -1), ZOK);
    znode_key_new(&c, "q/b", "b0");
    for (i = 0; i < 3; i++)
        rec_init(&r[i], &c);
    START(&c, store_put(c.s, NS, "q/a", "a2", 2, AGORA_STORE_ANY, on_done,
                       &r[0], NULL));
    START(&c, store_put(c.s, NS, "q/b", "b1", 2, AGORA_STORE_NEW, on_done,
                       &r[1], NULL));
    START(&c, store_put(c.s, NS, "q/c", "c1", 2, AGORA_STORE_ANY, on_done,
                       &r[2], NULL));
    wait_for(&c, &r[2]);
    ck_assert_int_eq(r[0].err, 0);
    ck_assert_int_eq(r[0].version, 1); /* made again */
    ck_assert_int_eq(r[1].err, AGORA_EVERSION);
    ck_assert_int_eq(r[2].err, 0);
    ck_assert_int_eq(r[2].version, 1);
    for (i = 0; i < 3; i++)
        rec_free(&r[i]);
    expect_value(&c, NS, "q/a", "a2", 1);
    expect_value(&c, NS, "q/b", "b0", 1);
    expect_value(&c, NS, "q/c", "c1", 1);
    expect_list(&c, NS, "q", (const char *const[]){"a", "b", "c"}, 3);
    ctx_fini(&c);
}
END_TEST

/*
 * The same for transactions, which plan on the cache as puts and
 * deletes do: a put of ANY over a value gone behind the store's back
 * makes it again, a delete of a key the cache never saw lands, and a
 * check of ANY reports the version ZooKeeper holds, not the one the
 * store last wrote (a check is always read fresh: no op of the multi
 * would confirm it).
 */
START_TEST(test_txn_cache_other_writer)
{
    const struct agora_store_txn_op t1[] = {
        {.kind = AGORA_STORE_TXN_PUT, .key = "t/a", .value = "a1", .len = 2,
         .version = AGORA_STORE_ANY},
        {.kind = AGORA_STORE_TXN_PUT, .key = "t/b", .value = "b1", .len = 2,
         .version = AGORA_STORE_ANY}};
    const struct agora_store_txn_op t2[] = {
        {.kind = AGORA_STORE_TXN_PUT, .key = "t/a", .value = "a2", .len = 2,
         .version = AGORA_STORE_ANY},
        {.kind = AGORA_STORE_TXN_CHECK, .key = "t/b",
         .version = AGORA_STORE_ANY},
        {.kind = AGORA_STORE_TXN_DELETE, .key = "t/c",
         .version = AGORA_STORE_ANY}};
    const struct agora_store_txn_op t3[] = {{.kind = AGORA_STORE_TXN_CHECK,
                                             .key = "t/b",
                                             .version = AGORA_STORE_ANY}};
    zhandle_t *zh;
    char path[256];
    struct rec r;
    struct ctx c;

    ctx_init(&c);
    zh = zk_handle(ZK(&c)->z);
    rec_init(&r, &c);
    START(&c, store_txn(c.s, NS, t1, 2, on_done, &r, NULL));
    wait_for(&c, &r);
    ck_assert_int_eq(r.err, 0);
    rec_free(&r);
    /* Behind the store's back: t/a's value goes, t/b's is set again, t/c
     * comes. */
    snprintf(path, sizeof(path), "%s/state/" NS "/t/a/.v", ZK(&c)->root);
    ck_assert_int_eq(zoo_delete(zh, path, -1), ZOK);
    snprintf(path, sizeof(path), "%s/state/" NS "/t/b/.v", ZK(&c)->root);
    ck_assert_int_eq(zoo_set(zh, path, "bx", 2, -1), ZOK);
    znode_key_new(&c, "t/c", "c0");
    rec_init(&r, &c);
    START(&c, store_txn(c.s, NS, t2, 3, on_done, &r, NULL));
    wait_for(&c, &r);
    ck_assert_int_eq(r.err, 0);
    ck_assert_uint_eq(r.nversions, 3);
    ck_assert_int_eq(r.versions[0], 1); /* made again */
    ck_assert_int_eq(r.versions[1], 2); /* ZooKeeper's, not the store's 1 */
    ck_assert_int_eq(r.versions[2], 0);
    rec_free(&r);
    expect_value(&c, NS, "t/a", "a2", 1);
    expect_value(&c, NS, "t/b", "bx", 2);
    expect_absent(&c, NS, "t/c");
    expect_list(&c, NS, "t", (const char *const[]){"a", "b"}, 2);
    /* A check alone (no multi: it writes nothing), after t/b is set
     * again behind the store's back. */
    snprintf(path, sizeof(path), "%s/state/" NS "/t/b/.v", ZK(&c)->root);
    ck_assert_int_eq(zoo_set(zh, path, "by", 2, -1), ZOK);
    rec_init(&r, &c);
    START(&c, store_txn(c.s, NS, t3, 1, on_done, &r, NULL));
    wait_for(&c, &r);
    ck_assert_int_eq(r.err, 0);
    ck_assert_uint_eq(r.nversions, 1);
    ck_assert_int_eq(r.versions[0], 3);
    rec_free(&r);
    ctx_fini(&c);
}
END_TEST

/* ---- kill -9 during a stream of puts ---- */

#define STREAM_INFLIGHT 100
#define STREAM_VALUE 600
#define STREAM_SEEN 500 /* completions the parent waits for, then kills */

/* The value of put i: its number, then bytes that depend on it. */
static void stream_value(int i, char *v)
{
    int n = snprintf(v, STREAM_VALUE, "%d:", i), j;

    for (j = n; j < STREAM_VALUE; j++)
        v[j] = (char)('a' + (i + j) % 26);
}

static struct {
    struct store *s;
    int fd, next;
} stream;

static void stream_put(void);

/* The child's completion: reports the put on the pipe, starts another. */
static void on_stream_put(void *arg, int err, const store_result *res)
{
    char line[32];
    int n;

    if (err != 0)
        _exit(3);
    n = snprintf(line, sizeof(line), "%d\n", (int)(intptr_t)arg);
    if (write(stream.fd, line, (size_t)n) != n) /* atomic: < PIPE_BUF */
        _exit(4);
    stream_put();
}

static void stream_put(void)
{
    char key[32], v[STREAM_VALUE];
    int i = stream.next++;

    snprintf(key, sizeof(key), "s/k%d", i);
    stream_value(i, v);
    if (store_put(stream.s, NS, key, v, STREAM_VALUE, AGORA_STORE_NEW,
                  on_stream_put, (void *)(intptr_t)i, NULL) != 0)
        _exit(5);
}

static void on_child_state(void *arg, enum zk_state state)
{
    if (state == ZK_CONNECTED)
        *(int *)arg = 1;
}

/* The child: puts new keys under root with STREAM_INFLIGHT in flight,
 * forever, reporting each completed put on fd. */
static void stream_child(const char *root, int fd)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct zk *z;
    int connected = 0, i;

    if (loop == NULL || zk_open(loop, zk_hosts, SESSION_TIMEOUT,
                                on_child_state, &connected, &z) != 0)
        _exit(2);
    for (i = 0; i < 1000 && !connected; i++) {
        ev_run(loop, EVRUN_NOWAIT);
        usleep(10000);
    }
    if (!connected || store_open_zk(loop, z, root, &stream.s) != 0)
        _exit(2);
    stream.fd = fd;
    for (i = 0; i < STREAM_INFLIGHT; i++)
        stream_put();
    ev_run(loop, 0);
    _exit(6);
}

/* Reads the child's reports until it has made `want` or the pipe ends;
 * marks each put reported. The count. */
static int read_reports(int fd, char *reported, int max, int want)
{
    static char buf[65536];
    static size_t have;
    int n = 0, i;
    ssize_t got;
    char *nl;

    for (;;) {
        while ((nl = memchr(buf, '\n', have)) != NULL) {
            *nl = '\0';
            i = atoi(buf);
            ck_assert(i >= 0 && i < max);
            reported[i] = 1;
            n++;
            have -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, have);
        }
        if (want > 0 && n >= want)
            return n;
        got = read(fd, buf + have, sizeof(buf) - have);
        if (got <= 0)
            return n;
        have += (size_t)got;
    }
}

/*
 * kill -9 of a process putting with 100 in flight: every put whose
 * completion it saw is in ZooKeeper, whole; every value there is whole
 * (a put it did not see completed may or may not be).
 */
START_TEST(test_kill_during_puts)
{
    enum { MAX = 1 << 20 };
    char root[64], *reported = calloc(MAX, 1), key[32], v[STREAM_VALUE];
    struct store *child_store;
    struct store *own;
    struct ctx c;
    struct rec r;
    int fds[2], status, seen, i, found = 0;
    pid_t pid;

    ck_assert_ptr_nonnull(reported);
    snprintf(root, sizeof(root), "/kill%ld", (long)getpid());
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork(); /* before this process has a session: threads */
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        stream_child(root, fds[1]);
    }
    close(fds[1]);
    seen = read_reports(fds[0], reported, MAX, STREAM_SEEN);
    if (seen < STREAM_SEEN && waitpid(pid, &status, WNOHANG) == pid)
        ck_abort_msg("the child reported %d puts, then exited with %d",
                     seen, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    ck_assert_msg(seen >= STREAM_SEEN, "the child reported %d puts", seen);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    seen += read_reports(fds[0], reported, MAX, 0);
    close(fds[0]);

    ctx_init(&c);
    ck_assert_int_eq(store_open_zk(c.loop, ZK(&c)->z, root, &child_store),
                     0);
    own = c.s;
    c.s = child_store;
    for (i = 0; i < MAX; i++) {
        if (!reported[i])
            continue;
        snprintf(key, sizeof(key), "s/k%d", i);
        stream_value(i, v);
        ck_assert_msg(get(&c, NS, key, &r) == 0, "completed put %d lost", i);
        ck_assert_uint_eq(r.len, STREAM_VALUE);
        ck_assert_int_eq(memcmp(r.value, v, STREAM_VALUE), 0);
        ck_assert_int_eq(r.version, 1);
        rec_free(&r);
    }
    rec_init(&r, &c);
    START(&c, store_get_children(c.s, NS, "s", on_done, &r, NULL));
    wait_for(&c, &r);
    ck_assert_int_eq(r.err, 0);
    for (i = 0; i < (int)r.nentries; i++) {
        int k = atoi(r.entries[i].name + 1);

        stream_value(k, v);
        ck_assert_uint_eq(r.entries[i].len, STREAM_VALUE);
        ck_assert_int_eq(memcmp(r.entries[i].value, v, STREAM_VALUE), 0);
        found += reported[k];
    }
    ck_assert_int_eq(found, seen);
    fprintf(stderr, "test_kill_during_puts: %d puts reported, %zu in "
                    "ZooKeeper\n",
            seen, r.nentries);
    rec_free(&r);
    c.s = own;
    store_close(child_store);
    free(reported);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The election                                                         */
/* ------------------------------------------------------------------ */

static void on_leading(void *arg, int leading)
{
    *(int *)arg = leading;
}

/*
 * A create whose answer is lost leaves a contender znode in the master's
 * own session, with its own info, lower than the node it then makes: the
 * election must delete it, or nobody would ever lead.
 */
START_TEST(test_leader_orphan)
{
    static const char info[] = "{\"id\":\"me\",\"ip\":\"127.0.0.1\"}";
    struct ctx c;
    struct leader *l;
    char dir[128], path[160], orphan[160];
    int leading = 0, i;

    ctx_init(&c);
    snprintf(dir, sizeof(dir), "%s/leader", ZK(&c)->root);
    snprintf(path, sizeof(path), "%s/member_", dir);
    ck_assert_int_eq(zoo_create(zk_handle(ZK(&c)->z), ZK(&c)->root, "", 0,
                                &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0),
                     ZOK);
    ck_assert_int_eq(zoo_create(zk_handle(ZK(&c)->z), dir, "", 0,
                                &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0),
                     ZOK);
    ck_assert_int_eq(zoo_create(zk_handle(ZK(&c)->z), path, info,
                                (int)strlen(info), &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_EPHEMERAL | ZOO_SEQUENCE, orphan,
                                (int)sizeof(orphan)),
                     ZOK);
    ck_assert_int_eq(leader_open_zk(c.loop, ZK(&c)->z, ZK(&c)->root, info,
                                    on_leading, &leading, &l),
                     0);
    for (i = 0; i < 200 && !leading; i++) {
        ev_run(c.loop, EVRUN_NOWAIT);
        usleep(10000);
    }
    ck_assert_msg(leading, "the orphan %s kept this master from leading",
                  orphan);
    ck_assert_int_eq(zoo_exists(zk_handle(ZK(&c)->z), orphan, 0, NULL),
                     ZNONODE);
    /* As the master does: stop, close the session, then free (answers
     * still in flight refer to the leader until the session is closed). */
    leader_stop(l);
    ctx_close_store(&c);
    zk_close(ZK(&c)->z);
    leader_free(l);
    free(c.b);
    c.b = NULL;
    ev_loop_destroy(c.loop);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *store_zk_suite(void)
{
    Suite *s = suite_create("store_zk");
    TCase *tc = tcase_create("zk");
    TCase *fenced = tcase_create("zk, in a term");
    TCase *down = tcase_create("server down");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_parse_url);
    tcase_add_test(tc, test_zk_err);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_znodes);
    tcase_add_test(tc, test_order_index);
    tcase_add_test(tc, test_order_keys);
    store_suite_add(tc, &zk_backend);
    tcase_add_test(tc, test_fence_gone_refuses_writes);
    tcase_add_test(tc, test_term_end_fails_queued_write);
    tcase_add_test(tc, test_many_deletes_one_parent);
    tcase_add_test(tc, test_batch_one_cas_fails);
    tcase_add_test(tc, test_cache_other_writer);
    tcase_add_test(tc, test_txn_cache_other_writer);
    tcase_add_test(tc, test_kill_during_puts);
    tcase_add_test(tc, test_leader_orphan);
    suite_add_tcase(s, tc);
    /* The suite again as the master writes: every write checks a fence. */
    tcase_set_timeout(fenced, 30);
    store_suite_add(fenced, &zk_backend);
    tcase_add_test(fenced, test_many_deletes_one_parent);
    tcase_add_test(fenced, test_batch_one_cas_fails);
    store_suite_fenced(fenced);
    suite_add_tcase(s, fenced);
    /* Last: they stop and freeze the server. test_server_stops alone may
     * wait 5 + (session timeout + 3) + 15 + 30 s by its own bounds (the
     * old session's node can take the server's longest session timeout
     * to go): the case's limit must be above their sum, or a slow run is
     * cut short before any of its own checks can fail. */
    tcase_set_timeout(down, 90);
    tcase_add_test(down, test_server_expires_session);
    tcase_add_test(down, test_server_freezes);
    tcase_add_test(down, test_server_stops);
    suite_add_tcase(s, down);
    return s;
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    char tmp[200];
    SRunner *sr;
    int failed, port, watchdog, level;

    check_prerequisites();
    snprintf(tmp, sizeof(tmp), "%s/agora-zk-XXXXXX",
             base && *base ? base : "/tmp");
    if (mkdtemp(tmp) == NULL) {
        perror("test_store_zk: mkdtemp");
        return EXIT_FAILURE;
    }
    snprintf(zk_dir, sizeof(zk_dir), "%s/zk", tmp);
    watchdog = start_watchdog(tmp);
    if (watchdog < 0) {
        perror("test_store_zk: the watchdog");
        return EXIT_FAILURE;
    }
    port = free_port();
    if (zk_script("start", port) != 0) {
        fprintf(stderr, "test_store_zk: FAILED: scripts/zk could not start "
                        "ZooKeeper (see above, and %s)\n",
                zk_dir);
        return EXIT_FAILURE;
    }
    snprintf(zk_hosts, sizeof(zk_hosts), "127.0.0.1:%d", port);

    /* Warnings and errors only, unless AGORA_TEST_LOG names a level. */
    level = getenv("AGORA_TEST_LOG") ? log_level_parse(getenv("AGORA_TEST_LOG"))
                                     : -1;
    log_set_level(level >= 0 ? (enum agora_log_level)level : AGORA_LOG_WARN);
    sr = srunner_create(store_zk_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    /* The watchdog stops the server and removes tmp. */
    close(watchdog);
    wait(NULL);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
