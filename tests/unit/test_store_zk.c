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
 * As in test_store.c, every store call goes through CALL(), and every
 * callback checks that it does not run inside the call that started it.
 *
 * Java and ZooKeeper are required (scripts/setup installs them): without
 * them this test fails, it does not skip. AGORA_TEST_LOG=info shows our
 * log; AGORA_TEST_KEEP=1 keeps the server's directory (and its log).
 */
/* The synchronous calls of libzookeeper_mt, for the test's own checks. */
#define THREADED

#include <check.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "leader.h"
#include "log.h"
#include "store.h"
#include "zk.h"

#define NS "test"
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
/* Fixture                                                             */
/* ------------------------------------------------------------------ */

struct ctx {
    struct ev_loop *loop;
    struct zk *z;
    struct store *s;
    char root[64];
    int in_call; /* 1 while a store_* call runs */
    int inside;  /* completions seen while in_call was set */
    int seq;     /* completions so far; numbers them in run order */
    /* Session states reported, in order. */
    enum zk_state states[32];
    int nstates;
};

struct rec {
    struct ctx *c;
    int called;
    int err;
    int seq;
    char *value;
    size_t len;
    int64_t version;
    char **names;
    size_t nnames;
};

static int call_rc;
#define CALL(c, expr)                                                        \
    ((c)->in_call = 1, call_rc = (expr), (c)->in_call = 0, call_rc)
#define START(c, expr) ck_assert_int_eq(CALL(c, expr), 0)

static void on_state(void *arg, enum zk_state state)
{
    struct ctx *c = arg;

    if (c->nstates < (int)(sizeof(c->states) / sizeof(c->states[0])))
        c->states[c->nstates++] = state;
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
    int seen = -1, i, expired = 0;
    ev_timer t;

    /* The timer also keeps ev_run() from returning early. */
    ev_timer_init(&t, on_timeout, seconds, 0.);
    t.data = &expired;
    ev_timer_start(c->loop, &t);
    while (seen < 0 && !expired) {
        for (i = from; i < c->nstates && seen < 0; i++)
            if (c->states[i] == state)
                seen = i;
        if (seen < 0)
            ev_run(c->loop, EVRUN_ONCE);
    }
    ev_timer_stop(c->loop, &t);
    return seen;
}

static void ctx_open_store(struct ctx *c)
{
    ck_assert_int_eq(store_open_zk(c->loop, c->z, c->root, &c->s), 0);
    ck_assert_str_eq(store_backend_name(c->s), "zk");
}

static void ctx_init(struct ctx *c)
{
    memset(c, 0, sizeof(*c));
    /* A root of its own: tests share the server. */
    snprintf(c->root, sizeof(c->root), "/t%ld-%d", (long)getpid(),
             ++test_seq);
    c->loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(c->loop);
    ck_assert_int_eq(
        zk_open(c->loop, zk_hosts, SESSION_TIMEOUT, on_state, c, &c->z), 0);
    ck_assert_int_eq(zk_state(c->z), ZK_CONNECTING);
    ck_assert_msg(wait_state_from(c, 0, ZK_CONNECTED, 10) >= 0,
                  "no session with ZooKeeper at %s", zk_hosts);
    ck_assert(zk_session_timeout(c->z) > 0);
    ctx_open_store(c);
}

static void ctx_close_store(struct ctx *c)
{
    store_close(c->s);
    c->s = NULL;
}

static void ctx_fini(struct ctx *c)
{
    ctx_close_store(c);
    zk_close(c->z);
    ck_assert_int_eq(c->inside, 0);
    ev_loop_destroy(c->loop);
}

static void rec_init(struct rec *r, struct ctx *c)
{
    memset(r, 0, sizeof(*r));
    r->c = c;
    r->seq = -1;
}

static void rec_free(struct rec *r)
{
    size_t i;

    for (i = 0; i < r->nnames; i++)
        free(r->names[i]);
    free(r->names);
    free(r->value);
    rec_init(r, r->c);
}

static void on_done(void *arg, int err, const store_result *res)
{
    struct rec *r = arg;
    size_t i;

    if (r->c->in_call)
        r->c->inside++;
    r->called++;
    r->err = err;
    r->seq = r->c->seq++;
    r->version = res->version;
    if (res->value != NULL) {
        ck_assert_int_eq(res->value[res->len], '\0');
        r->value = malloc(res->len + 1);
        ck_assert_ptr_nonnull(r->value);
        memcpy(r->value, res->value, res->len + 1);
        r->len = res->len;
    }
    if (res->nnames > 0) {
        r->names = calloc(res->nnames, sizeof(*r->names));
        ck_assert_ptr_nonnull(r->names);
        for (i = 0; i < res->nnames; i++)
            r->names[i] = strdup(res->names[i]);
        r->nnames = res->nnames;
    }
}

/* Runs the loop until r's completion has run (the store keeps the loop
 * running while an op is pending). */
static void wait_for(struct ctx *c, struct rec *r)
{
    while (!r->called)
        ev_run(c->loop, EVRUN_ONCE);
    ck_assert_int_eq(r->called, 1);
}

static void spin(struct ctx *c)
{
    int i;

    for (i = 0; i < 10; i++)
        ev_run(c->loop, EVRUN_NOWAIT);
}

static int get(struct ctx *c, const char *ns, const char *key, struct rec *r)
{
    rec_init(r, c);
    ck_assert_int_eq(CALL(c, store_get(c->s, ns, key, on_done, r, NULL)), 0);
    ck_assert_int_eq(r->called, 0);
    wait_for(c, r);
    return r->err;
}

static int put_n(struct ctx *c, const char *ns, const char *key,
                 const void *value, size_t len, int64_t version,
                 int64_t *new_version)
{
    struct rec r;
    int err;

    rec_init(&r, c);
    ck_assert_int_eq(CALL(c, store_put(c->s, ns, key, value, len, version,
                                       on_done, &r, NULL)),
                     0);
    ck_assert_int_eq(r.called, 0);
    wait_for(c, &r);
    if (new_version != NULL)
        *new_version = r.version;
    err = r.err;
    rec_free(&r);
    return err;
}

static int put(struct ctx *c, const char *ns, const char *key,
               const char *value, int64_t version, int64_t *new_version)
{
    return put_n(c, ns, key, value, strlen(value), version, new_version);
}

static int del(struct ctx *c, const char *ns, const char *key,
               int64_t version)
{
    struct rec r;

    rec_init(&r, c);
    ck_assert_int_eq(
        CALL(c, store_delete(c->s, ns, key, version, on_done, &r, NULL)), 0);
    ck_assert_int_eq(r.called, 0);
    wait_for(c, &r);
    return r.err;
}

static int list(struct ctx *c, const char *ns, const char *key,
                struct rec *r)
{
    rec_init(r, c);
    ck_assert_int_eq(CALL(c, store_list(c->s, ns, key, on_done, r, NULL)),
                     0);
    ck_assert_int_eq(r->called, 0);
    wait_for(c, r);
    return r->err;
}

static void expect_value(struct ctx *c, const char *ns, const char *key,
                         const char *value, int64_t version)
{
    struct rec r;

    ck_assert_int_eq(get(c, ns, key, &r), 0);
    ck_assert_uint_eq(r.len, strlen(value));
    ck_assert_str_eq(r.value, value);
    ck_assert_int_eq(r.version, version);
    rec_free(&r);
}

static void expect_absent(struct ctx *c, const char *ns, const char *key)
{
    struct rec r;

    ck_assert_int_eq(get(c, ns, key, &r), AGORA_ENOENT);
    ck_assert_ptr_null(r.value);
    rec_free(&r);
}

static void expect_list(struct ctx *c, const char *ns, const char *key,
                        const char *const *want, size_t n)
{
    struct rec r;
    size_t i;

    ck_assert_int_eq(list(c, ns, key, &r), 0);
    ck_assert_uint_eq(r.nnames, n);
    for (i = 0; i < n; i++)
        ck_assert_str_eq(r.names[i], want[i]);
    rec_free(&r);
}

/* Whether the znode <root><suffix> exists (synchronous: a test may block). */
static int znode_exists(struct ctx *c, const char *suffix)
{
    char path[1024];
    struct Stat st;
    int rc;

    snprintf(path, sizeof(path), "%s%s", c->root, suffix);
    rc = zoo_exists(zk_handle(c->z), path, 0, &st);
    ck_assert_msg(rc == ZOK || rc == ZNONODE, "exists %s: %s", path,
                  zerror(rc));
    return rc == ZOK;
}

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
    ck_assert_int_eq(store_open_zk(c.loop, c.z, "/", &s), AGORA_EINVAL);
    ck_assert_int_eq(store_open_zk(c.loop, c.z, "agora", &s), AGORA_EINVAL);
    ck_assert_int_eq(store_open_zk(c.loop, c.z, "/agora/", &s), AGORA_EINVAL);
    ck_assert_int_eq(store_open_zk(c.loop, NULL, "/agora", &s), AGORA_EINVAL);
    ck_assert_ptr_null(s);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Round trips                                                         */
/* ------------------------------------------------------------------ */

START_TEST(test_put_get_list_delete)
{
    static const char *const top[] = {"a"};
    static const char *const under_a[] = {"b"};
    struct ctx c;
    struct rec r;
    int64_t v;

    ctx_init(&c);
    expect_absent(&c, NS, "a");
    expect_list(&c, NS, "", NULL, 0);

    ck_assert_int_eq(put(&c, NS, "a", "hello", AGORA_STORE_ANY, &v), 0);
    ck_assert_int_eq(v, 1);
    expect_value(&c, NS, "a", "hello", 1);
    ck_assert(znode_exists(&c, "/state/" NS "/a/.v"));

    /* A key with a value and a child at once. */
    ck_assert_int_eq(put(&c, NS, "a/b", "child", AGORA_STORE_ANY, &v), 0);
    ck_assert_int_eq(v, 1);
    expect_list(&c, NS, "", top, 1);
    expect_list(&c, NS, "a", under_a, 1);
    expect_list(&c, NS, "a/b", NULL, 0);

    ck_assert_int_eq(del(&c, NS, "a/b", AGORA_STORE_ANY), 0);
    expect_absent(&c, NS, "a/b");
    expect_list(&c, NS, "a", NULL, 0);
    expect_value(&c, NS, "a", "hello", 1);
    ck_assert(!znode_exists(&c, "/state/" NS "/a/b"));

    ck_assert_int_eq(del(&c, NS, "a", AGORA_STORE_ANY), 0);
    expect_absent(&c, NS, "a");
    expect_list(&c, NS, "", NULL, 0);
    ck_assert_int_eq(del(&c, NS, "a", AGORA_STORE_ANY), AGORA_ENOENT);
    /* The namespace itself stays. */
    ck_assert(!znode_exists(&c, "/state/" NS "/a"));
    ck_assert(znode_exists(&c, "/state/" NS));

    /* An empty value is a value. */
    ck_assert_int_eq(put_n(&c, NS, "empty", NULL, 0, AGORA_STORE_NEW, &v), 0);
    expect_value(&c, NS, "empty", "", 1);

    /* Binary bytes, NUL included, come back as written. */
    ck_assert_int_eq(put_n(&c, NS, "bin", "x\0y\n", 4, AGORA_STORE_ANY, &v),
                     0);
    ck_assert_int_eq(get(&c, NS, "bin", &r), 0);
    ck_assert_uint_eq(r.len, 4);
    ck_assert_mem_eq(r.value, "x\0y\n", 4);
    rec_free(&r);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_deep_keys_prune)
{
    static const char *const top[] = {"x"};
    static const char *const under_x[] = {"y", "y2"};
    struct ctx c;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "x/y/z/w", "deep", AGORA_STORE_ANY, NULL),
                     0);
    expect_list(&c, NS, "", top, 1);
    /* The parents are keys without a value. */
    expect_absent(&c, NS, "x");
    expect_absent(&c, NS, "x/y/z");
    ck_assert_int_eq(del(&c, NS, "x/y/z/w", AGORA_STORE_ANY), 0);
    /* The parents it alone kept went with it, in the same request. */
    expect_list(&c, NS, "", NULL, 0);
    ck_assert(!znode_exists(&c, "/state/" NS "/x"));

    /* A parent with another child stays, and only it. */
    ck_assert_int_eq(put(&c, NS, "x/y/z", "1", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "x/y2", "2", AGORA_STORE_ANY, NULL), 0);
    expect_list(&c, NS, "x", under_x, 2);
    ck_assert_int_eq(del(&c, NS, "x/y/z", AGORA_STORE_ANY), 0);
    expect_list(&c, NS, "x", under_x + 1, 1);
    ck_assert(!znode_exists(&c, "/state/" NS "/x/y"));
    expect_value(&c, NS, "x/y2", "2", 1);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Versions                                                             */
/* ------------------------------------------------------------------ */

START_TEST(test_versions)
{
    struct ctx c;
    int64_t v = -7;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "k", "one", AGORA_STORE_NEW, &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(put(&c, NS, "k", "two", AGORA_STORE_ANY, &v), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(put(&c, NS, "k", "three", 2, &v), 0);
    ck_assert_int_eq(v, 3);

    ck_assert_int_eq(put(&c, NS, "k", "stale", 2, &v), AGORA_EVERSION);
    expect_value(&c, NS, "k", "three", 3);
    ck_assert_int_eq(put(&c, NS, "k", "new", AGORA_STORE_NEW, &v),
                     AGORA_EVERSION);
    ck_assert_int_eq(put(&c, NS, "missing", "x", 1, &v), AGORA_EVERSION);
    expect_absent(&c, NS, "missing");
    /* Versions past ZooKeeper's 32 bits never match. */
    ck_assert_int_eq(put(&c, NS, "k", "far", (int64_t)1 << 40, &v),
                     AGORA_EVERSION);
    ck_assert_int_eq(del(&c, NS, "k", (int64_t)1 << 40), AGORA_EVERSION);
    ck_assert_int_eq(del(&c, NS, "missing", (int64_t)1 << 40), AGORA_ENOENT);
    expect_value(&c, NS, "k", "three", 3);

    ck_assert_int_eq(del(&c, NS, "k", 2), AGORA_EVERSION);
    ck_assert_int_eq(del(&c, NS, "k", AGORA_STORE_NEW), AGORA_EVERSION);
    ck_assert_int_eq(del(&c, NS, "missing", AGORA_STORE_NEW), AGORA_ENOENT);
    expect_value(&c, NS, "k", "three", 3);
    ck_assert_int_eq(del(&c, NS, "k", 3), 0);
    ck_assert_int_eq(del(&c, NS, "k", 3), AGORA_ENOENT);

    ck_assert_int_eq(put(&c, NS, "k", "again", AGORA_STORE_NEW, &v), 0);
    ck_assert_int_eq(v, 1);
    ctx_fini(&c);
}
END_TEST

/* A key that has children: its value comes and goes, its children stay,
 * and its versions are those of a key without children. */
START_TEST(test_versions_with_children)
{
    static const char *const kids[] = {"c1", "c2"};
    static const char *const top[] = {"p"};
    struct ctx c;
    int64_t v;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "p/c1", "1", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "p/c2", "2", AGORA_STORE_ANY, NULL), 0);
    /* An intermediate key reads as absent, lists its children. */
    expect_absent(&c, NS, "p");
    expect_list(&c, NS, "p", kids, 2);
    ck_assert_int_eq(del(&c, NS, "p", AGORA_STORE_ANY), AGORA_ENOENT);
    ck_assert_int_eq(put(&c, NS, "p", "x", 1, &v), AGORA_EVERSION);
    /* NEW on it succeeds: it has no value. */
    ck_assert_int_eq(put(&c, NS, "p", "parent", AGORA_STORE_NEW, &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(put(&c, NS, "p", "parent2", 1, &v), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(put(&c, NS, "p", "x", AGORA_STORE_NEW, &v),
                     AGORA_EVERSION);
    expect_list(&c, NS, "p", kids, 2);

    /* Deleting its value keeps its children. */
    ck_assert_int_eq(del(&c, NS, "p", 2), 0);
    expect_absent(&c, NS, "p");
    expect_list(&c, NS, "", top, 1);
    expect_list(&c, NS, "p", kids, 2);
    expect_value(&c, NS, "p/c1", "1", 1);
    expect_value(&c, NS, "p/c2", "2", 1);
    /* Made again, it starts again at 1. */
    ck_assert_int_eq(put(&c, NS, "p", "reborn", AGORA_STORE_ANY, &v), 0);
    ck_assert_int_eq(v, 1);
    /* Its last child gone, the value keeps it. */
    ck_assert_int_eq(del(&c, NS, "p/c1", AGORA_STORE_ANY), 0);
    ck_assert_int_eq(del(&c, NS, "p/c2", AGORA_STORE_ANY), 0);
    expect_list(&c, NS, "p", NULL, 0);
    expect_value(&c, NS, "p", "reborn", 1);
    ck_assert_int_eq(del(&c, NS, "p", AGORA_STORE_ANY), 0);
    expect_list(&c, NS, "", NULL, 0);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Refusals at call time; limits                                        */
/* ------------------------------------------------------------------ */

START_TEST(test_value_max)
{
    struct ctx c;
    struct rec r, never;
    char *big = malloc(AGORA_STORE_VALUE_MAX + 1);
    char deep[AGORA_STORE_KEY_MAX + 1];
    size_t i;

    ck_assert_ptr_nonnull(big);
    for (i = 0; i < AGORA_STORE_VALUE_MAX + 1; i++)
        big[i] = (char)('a' + i % 26);
    ctx_init(&c);
    ck_assert_int_eq(put_n(&c, NS, "big", big, AGORA_STORE_VALUE_MAX,
                           AGORA_STORE_ANY, NULL),
                     0);
    ck_assert_int_eq(get(&c, NS, "big", &r), 0);
    ck_assert_uint_eq(r.len, AGORA_STORE_VALUE_MAX);
    ck_assert_int_eq(memcmp(r.value, big, AGORA_STORE_VALUE_MAX), 0);
    rec_free(&r);

    rec_init(&never, &c);
    ck_assert_int_eq(CALL(&c, store_put(c.s, NS, "big", big,
                                        AGORA_STORE_VALUE_MAX + 1,
                                        AGORA_STORE_ANY, on_done, &never,
                                        NULL)),
                     AGORA_ETOOBIG);
    spin(&c);
    ck_assert_int_eq(never.called, 0);

    /*
     * The biggest request: a value of the limit under the longest key,
     * with 256 parents to create. Too big for one ZooKeeper request: the
     * parents go first.
     */
    for (i = 0; i < AGORA_STORE_KEY_MAX; i++)
        deep[i] = i % 2 ? '/' : 'd';
    deep[AGORA_STORE_KEY_MAX - 1] = 'e';
    deep[AGORA_STORE_KEY_MAX] = '\0';
    ck_assert_int_eq(store_key_valid(deep, 0), 0);
    ck_assert_int_eq(put_n(&c, NS, deep, big, AGORA_STORE_VALUE_MAX,
                           AGORA_STORE_NEW, NULL),
                     0);
    ck_assert_int_eq(get(&c, NS, deep, &r), 0);
    ck_assert_uint_eq(r.len, AGORA_STORE_VALUE_MAX);
    ck_assert_int_eq(r.version, 1);
    ck_assert_int_eq(memcmp(r.value, big, AGORA_STORE_VALUE_MAX), 0);
    rec_free(&r);
    ck_assert_int_eq(put_n(&c, NS, deep, big + 1, AGORA_STORE_VALUE_MAX,
                           AGORA_STORE_ANY, NULL),
                     0);
    ck_assert_int_eq(del(&c, NS, deep, 2), 0);
    expect_list(&c, NS, "", (const char *const[]){"big"}, 1);
    free(big);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_invalid_refused_at_call)
{
    static const char *const bad_keys[] = {"",     "/a",   "a/",  "a//b",
                                           "a/.b", "../x", ".v",  "a/.v",
                                           "a b",  "é",    "a*b", "a\\b"};
    struct store_stats st;
    struct store_op *op = NULL;
    struct ctx c;
    struct rec never;
    size_t i;

    ctx_init(&c);
    rec_init(&never, &c);
    for (i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        const char *key = bad_keys[i];

        ck_assert_int_eq(
            CALL(&c, store_get(c.s, NS, key, on_done, &never, &op)),
            AGORA_EINVAL);
        ck_assert_int_eq(CALL(&c, store_put(c.s, NS, key, "v", 1,
                                            AGORA_STORE_ANY, on_done, &never,
                                            &op)),
                         AGORA_EINVAL);
        ck_assert_int_eq(CALL(&c, store_delete(c.s, NS, key, AGORA_STORE_ANY,
                                               on_done, &never, &op)),
                         AGORA_EINVAL);
    }
    ck_assert_int_eq(
        CALL(&c, store_get(c.s, "Bad", "k", on_done, &never, &op)),
        AGORA_EINVAL);
    ck_assert_int_eq(CALL(&c, store_put(c.s, NS, "k", "v", 1, -2, on_done,
                                        &never, &op)),
                     AGORA_EINVAL);
    ck_assert_int_eq(CALL(&c, store_put(c.s, NS, "k", NULL, 3,
                                        AGORA_STORE_ANY, on_done, &never,
                                        &op)),
                     AGORA_EINVAL);
    ck_assert_ptr_null(op);
    spin(&c);
    ck_assert_int_eq(never.called, 0);
    store_get_stats(c.s, &st);
    ck_assert_uint_eq(st.pending, 0);
    /* Nothing reached ZooKeeper. */
    ck_assert(!znode_exists(&c, ""));
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Completions: never inside the call, in call order; cancel, close      */
/* ------------------------------------------------------------------ */

START_TEST(test_never_inside_call)
{
    struct ctx c;
    struct rec r[5];
    int i;

    ctx_init(&c);
    for (i = 0; i < 5; i++)
        rec_init(&r[i], &c);
    START(&c, store_get(c.s, NS, "none", on_done, &r[0], NULL));
    START(&c, store_list(c.s, NS, "", on_done, &r[1], NULL));
    START(&c, store_put(c.s, NS, "k", "v", 1, AGORA_STORE_ANY, on_done, &r[2],
                       NULL));
    START(&c, store_delete(c.s, NS, "k", AGORA_STORE_ANY, on_done, &r[3],
                          NULL));
    /* Answered without ZooKeeper: still later, in order. */
    START(&c, store_put(c.s, NS, "k", "v", 1, (int64_t)1 << 40, on_done,
                       &r[4], NULL));
    for (i = 0; i < 5; i++)
        ck_assert_int_eq(r[i].called, 0);
    wait_for(&c, &r[4]);
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(r[i].called, 1);
        ck_assert_int_eq(r[i].seq, i);
        rec_free(&r[i]);
    }
    ctx_fini(&c);
}
END_TEST

#define NPUTS 200

START_TEST(test_call_order)
{
    struct ctx c;
    struct rec *r = calloc(NPUTS + 8, sizeof(*r));
    char value[32];
    size_t n = 0, i;

    ck_assert_ptr_nonnull(r);
    ctx_init(&c);
    for (i = 0; i < NPUTS; i++, n++) {
        snprintf(value, sizeof(value), "value-%zu", i);
        rec_init(&r[n], &c);
        START(&c, store_put(c.s, NS, "same", value, strlen(value),
                           AGORA_STORE_ANY, on_done, &r[n], NULL));
    }
    rec_init(&r[n], &c);
    START(&c, store_get(c.s, NS, "same", on_done, &r[n++], NULL));
    rec_init(&r[n], &c);
    START(&c, store_delete(c.s, NS, "same", NPUTS, on_done, &r[n++], NULL));
    rec_init(&r[n], &c);
    START(&c, store_get(c.s, NS, "same", on_done, &r[n++], NULL));
    rec_init(&r[n], &c);
    START(&c, store_put(c.s, NS, "other", "o", 1, AGORA_STORE_NEW, on_done,
                       &r[n++], NULL));
    rec_init(&r[n], &c);
    START(&c, store_list(c.s, NS, "", on_done, &r[n++], NULL));
    wait_for(&c, &r[n - 1]);

    for (i = 0; i < n; i++) {
        ck_assert_int_eq(r[i].called, 1);
        ck_assert_int_eq(r[i].seq, (int)i);
    }
    for (i = 0; i < NPUTS; i++) {
        ck_assert_int_eq(r[i].err, 0);
        ck_assert_int_eq(r[i].version, (int64_t)i + 1);
    }
    snprintf(value, sizeof(value), "value-%d", NPUTS - 1);
    ck_assert_int_eq(r[NPUTS].err, 0);
    ck_assert_str_eq(r[NPUTS].value, value);
    ck_assert_int_eq(r[NPUTS].version, NPUTS);
    ck_assert_int_eq(r[NPUTS + 1].err, 0);
    ck_assert_int_eq(r[NPUTS + 2].err, AGORA_ENOENT);
    ck_assert_int_eq(r[NPUTS + 3].err, 0);
    ck_assert_uint_eq(r[NPUTS + 4].nnames, 1);
    ck_assert_str_eq(r[NPUTS + 4].names[0], "other");
    for (i = 0; i < n; i++)
        rec_free(&r[i]);
    free(r);
    ctx_fini(&c);
}
END_TEST

/* Unrelated keys do not wait for each other; a read of a key waits for
 * the writes to it and to its parents and children. */
START_TEST(test_parallel_keys)
{
    enum { N = 50 };
    struct ctx c;
    struct rec w[N], g[N], l;
    char key[32], value[32];
    int i;

    ctx_init(&c);
    for (i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "dir%d/k%d", i % 5, i);
        snprintf(value, sizeof(value), "v%d", i);
        rec_init(&w[i], &c);
        rec_init(&g[i], &c);
        START(&c, store_put(c.s, NS, key, value, strlen(value),
                           AGORA_STORE_NEW, on_done, &w[i], NULL));
        START(&c, store_get(c.s, NS, key, on_done, &g[i], NULL));
    }
    rec_init(&l, &c);
    START(&c, store_list(c.s, NS, "dir3", on_done, &l, NULL));
    wait_for(&c, &l);
    for (i = 0; i < N; i++) {
        snprintf(value, sizeof(value), "v%d", i);
        ck_assert_int_eq(w[i].err, 0);
        ck_assert_int_eq(g[i].err, 0);
        ck_assert_str_eq(g[i].value, value);
        ck_assert_int_eq(g[i].seq, w[i].seq + 1);
        rec_free(&w[i]);
        rec_free(&g[i]);
    }
    ck_assert_int_eq(l.err, 0);
    ck_assert_uint_eq(l.nnames, N / 5);
    rec_free(&l);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_cancel)
{
    struct ctx c;
    struct rec canceled, after;
    struct store_op *op = NULL;
    struct store_stats st;

    ctx_init(&c);
    rec_init(&canceled, &c);
    rec_init(&after, &c);
    START(&c, store_put(c.s, NS, "k", "written", 7, AGORA_STORE_ANY, on_done,
                       &canceled, &op));
    ck_assert_ptr_nonnull(op);
    store_cancel(op);
    START(&c, store_get(c.s, NS, "k", on_done, &after, NULL));
    wait_for(&c, &after);
    spin(&c);
    ck_assert_int_eq(canceled.called, 0);
    ck_assert_int_eq(after.err, 0);
    ck_assert_str_eq(after.value, "written");
    rec_free(&after);
    store_get_stats(c.s, &st);
    ck_assert_uint_eq(st.pending, 0);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_close_drains)
{
    struct ctx c;
    struct rec never;
    char value[32];
    int i;

    ctx_init(&c);
    rec_init(&never, &c);
    for (i = 0; i < 20; i++) {
        snprintf(value, sizeof(value), "v%d", i);
        START(&c, store_put(c.s, NS, "k", value, strlen(value),
                           AGORA_STORE_ANY, on_done, &never, NULL));
    }
    /* Without running the loop once: the writes still happen. */
    ctx_close_store(&c);
    spin(&c);
    ck_assert_int_eq(never.called, 0);
    ctx_open_store(&c);
    expect_value(&c, NS, "k", "v19", 20);
    ctx_fini(&c);
}
END_TEST

struct closer {
    struct rec rec;
    struct ctx *c;
};

static void close_in_cb(void *arg, int err, const store_result *res)
{
    struct closer *cl = arg;

    on_done(&cl->rec, err, res);
    ctx_close_store(cl->c);
}

START_TEST(test_close_inside_callback)
{
    struct ctx c;
    struct closer cl;
    struct rec later;

    ctx_init(&c);
    rec_init(&cl.rec, &c);
    rec_init(&later, &c);
    cl.c = &c;
    START(&c, store_put(c.s, NS, "a", "1", 1, AGORA_STORE_ANY, close_in_cb,
                       &cl, NULL));
    START(&c, store_put(c.s, NS, "b", "2", 1, AGORA_STORE_ANY, on_done, &later,
                       NULL));
    /* The loop ends by itself: the store and the session hold nothing. */
    ev_run(c.loop, 0);
    ck_assert_int_eq(cl.rec.called, 1);
    ck_assert_int_eq(later.called, 0);
    ck_assert_ptr_null(c.s);
    ctx_open_store(&c);
    expect_value(&c, NS, "b", "2", 1);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_idle_store_lets_loop_end)
{
    struct ctx c;
    struct rec r;

    ctx_init(&c);
    ev_run(c.loop, 0);
    rec_init(&r, &c);
    START(&c, store_put(c.s, NS, "k", "v", 1, AGORA_STORE_ANY, on_done, &r,
                       NULL));
    ev_run(c.loop, 0);
    ck_assert_int_eq(r.called, 1);
    ck_assert_int_eq(r.err, 0);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Layout: persistence, lists, namespaces                               */
/* ------------------------------------------------------------------ */

START_TEST(test_persistence)
{
    static const char *const names[] = {"a", "b"};
    struct ctx c;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "a", "1", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "a", "11", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "b/c", "2", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, "_core", "m", "3", AGORA_STORE_ANY, NULL), 0);
    ctx_close_store(&c);
    /* Another session, as another master would have. */
    zk_close(c.z);
    c.nstates = 0;
    ck_assert_int_eq(
        zk_open(c.loop, zk_hosts, SESSION_TIMEOUT, on_state, &c, &c.z), 0);
    ck_assert(wait_state_from(&c, 0, ZK_CONNECTED, 10) >= 0);
    ctx_open_store(&c);
    expect_value(&c, NS, "a", "11", 2);
    expect_value(&c, NS, "b/c", "2", 1);
    expect_value(&c, "_core", "m", "3", 1);
    expect_list(&c, NS, "", names, 2);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_list_sorted)
{
    static const char *const top[] = {"Mid", "alpha", "beta", "zeta"};
    static const char *const under_alpha[] = {"a", "b", "c"};
    struct ctx c;
    struct rec r;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, NS, "zeta", "z", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "alpha/c", "", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "beta/x/y", "", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "Mid", "", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "alpha/a", "", AGORA_STORE_ANY, NULL), 0);
    ck_assert_int_eq(put(&c, NS, "alpha/b/deep", "", AGORA_STORE_ANY, NULL),
                     0);
    ck_assert_int_eq(put(&c, NS, "alpha", "has a value", AGORA_STORE_ANY,
                         NULL),
                     0);
    expect_list(&c, NS, "", top, 4);
    expect_list(&c, NS, "alpha", under_alpha, 3);
    ck_assert_int_eq(list(&c, NS, "nothing/here", &r), 0);
    ck_assert_uint_eq(r.nnames, 0);
    rec_free(&r);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_namespaces_isolated)
{
    static const char *const one[] = {"k"};
    struct ctx c;

    ctx_init(&c);
    ck_assert_int_eq(put(&c, "ns1", "k", "first", AGORA_STORE_NEW, NULL), 0);
    ck_assert_int_eq(put(&c, "ns2", "k", "second", AGORA_STORE_NEW, NULL), 0);
    expect_value(&c, "ns1", "k", "first", 1);
    expect_value(&c, "ns2", "k", "second", 1);
    expect_list(&c, "ns3", "", NULL, 0);
    ck_assert_int_eq(del(&c, "ns1", "k", AGORA_STORE_ANY), 0);
    expect_value(&c, "ns2", "k", "second", 1);
    expect_list(&c, "ns1", "", NULL, 0);
    expect_list(&c, "ns2", "", one, 1);
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
    snprintf(eph, sizeof(eph), "%s/ephemeral", c.root);
    rc = zoo_create(zk_handle(c.z), eph, "", 0, &ZOO_OPEN_ACL_UNSAFE,
                    ZOO_EPHEMERAL, NULL, 0);
    ck_assert_int_eq(rc, ZOK);
    old_id = zoo_client_id(zk_handle(c.z))->client_id;

    from = c.nstates;
    t0 = now_s();
    ck_assert_int_eq(zk_script("stop", 0), 0);
    from = wait_state_from(&c, from, ZK_DISCONNECTED, 5);
    ck_assert_msg(from >= 0, "no ZK_DISCONNECTED after the server stopped");
    ck_assert_int_eq(zk_state(c.z), ZK_DISCONNECTED);
    expect_unavailable(&c);
    ck_assert_msg(wait_state_from(&c, from + 1, ZK_EXPIRED,
                                  SESSION_TIMEOUT + 3) == from + 1,
                  "no ZK_EXPIRED one session timeout after the stop");
    ck_assert(now_s() - t0 >= SESSION_TIMEOUT - 0.1);
    expect_unavailable(&c);
    ck_assert_int_eq(zk_state(c.z), ZK_EXPIRED);
    ck_assert_int_eq(c.states[c.nstates - 1], ZK_EXPIRED);

    from = c.nstates;
    ck_assert_int_eq(zk_script("start", 0), 0);
    ck_assert_msg(wait_state_from(&c, from, ZK_CONNECTED, 15) == from,
                  "no ZK_CONNECTED after the server came back");
    ck_assert(zoo_client_id(zk_handle(c.z))->client_id != old_id);
    expect_value(&c, NS, "k", "kept", 1);
    ck_assert_int_eq(put(&c, NS, "k", "again", AGORA_STORE_ANY, NULL), 0);
    expect_value(&c, NS, "k", "again", 2);
    /* The server restored the old session; the reaper ends it. */
    took = wait_gone(&c, "/ephemeral", 5 * SESSION_TIMEOUT);
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
    from = c.nstates;
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
    id = *zoo_client_id(zk_handle(c.z));
    from = c.nstates;
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
    ck_assert(zoo_client_id(zk_handle(c.z))->client_id != id.client_id);
    ck_assert_int_eq(put(&c, NS, "k", "v", AGORA_STORE_NEW, NULL), 0);
    expect_value(&c, NS, "k", "v", 1);
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
    snprintf(dir, sizeof(dir), "%s/leader", c.root);
    snprintf(path, sizeof(path), "%s/member_", dir);
    ck_assert_int_eq(zoo_create(zk_handle(c.z), c.root, "", 0,
                                &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    ck_assert_int_eq(zoo_create(zk_handle(c.z), dir, "", 0,
                                &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    ck_assert_int_eq(zoo_create(zk_handle(c.z), path, info,
                                (int)strlen(info), &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_EPHEMERAL | ZOO_SEQUENCE, orphan,
                                (int)sizeof(orphan)),
                     ZOK);
    ck_assert_int_eq(leader_open_zk(c.loop, c.z, c.root, info, on_leading,
                                    &leading, &l),
                     0);
    for (i = 0; i < 200 && !leading; i++) {
        ev_run(c.loop, EVRUN_NOWAIT);
        usleep(10000);
    }
    ck_assert_msg(leading, "the orphan %s kept this master from leading",
                  orphan);
    ck_assert_int_eq(zoo_exists(zk_handle(c.z), orphan, 0, NULL), ZNONODE);
    leader_stop(l);
    leader_free(l);
    ctx_fini(&c);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *store_zk_suite(void)
{
    Suite *s = suite_create("store_zk");
    TCase *tc = tcase_create("zk");
    TCase *down = tcase_create("server down");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_parse_url);
    tcase_add_test(tc, test_zk_err);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_put_get_list_delete);
    tcase_add_test(tc, test_deep_keys_prune);
    tcase_add_test(tc, test_versions);
    tcase_add_test(tc, test_versions_with_children);
    tcase_add_test(tc, test_value_max);
    tcase_add_test(tc, test_invalid_refused_at_call);
    tcase_add_test(tc, test_never_inside_call);
    tcase_add_test(tc, test_call_order);
    tcase_add_test(tc, test_parallel_keys);
    tcase_add_test(tc, test_cancel);
    tcase_add_test(tc, test_close_drains);
    tcase_add_test(tc, test_close_inside_callback);
    tcase_add_test(tc, test_idle_store_lets_loop_end);
    tcase_add_test(tc, test_persistence);
    tcase_add_test(tc, test_list_sorted);
    tcase_add_test(tc, test_namespaces_isolated);
    tcase_add_test(tc, test_leader_orphan);
    suite_add_tcase(s, tc);
    /* Last: they stop and freeze the server. */
    tcase_set_timeout(down, 30);
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
