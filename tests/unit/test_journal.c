/*
 * test_journal.c - the agent's group-commit journal on a real loop and a
 * real file: completion order, group commit, replay, torn tails, crash
 * atomicity under SIGKILL, and compaction.
 */
#include <check.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"

/* ------------------------------------------------------------------ */
/* Fixture                                                             */
/* ------------------------------------------------------------------ */

struct ctx {
    struct ev_loop *loop;
    struct journal *j;
    char *tmp;
    char *path;
    int in_append; /* 1 while journal_append runs                     */
    int inside;    /* completions seen inside journal_append           */
    size_t done;   /* completions so far                               */
    size_t next;   /* the index the next completion must carry         */
    size_t issued; /* tags handed out by live_change()                 */
    int order_ok;
    int errs;
    /* live state for compaction tests: key i is live when live[i] */
    unsigned char *live;
    size_t nkeys;
};

/* One completion's argument: its index, checked against ctx->next. */
struct tag {
    struct ctx *c;
    size_t i;
};

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static void ctx_init(struct ctx *c)
{
    char tmpl[] = "/tmp/agora-journal-XXXXXX";

    memset(c, 0, sizeof(*c));
    c->order_ok = 1;
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    c->tmp = strdup(tmpl);
    ck_assert_int_ge(asprintf(&c->path, "%s/journal", c->tmp), 0);
    c->loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(c->loop);
}

static void ctx_fini(struct ctx *c)
{
    journal_close(c->j);
    ev_loop_destroy(c->loop);
    nftw(c->tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(c->tmp);
    free(c->path);
    free(c->live);
}

static void on_done(void *arg, int err)
{
    struct tag *t = arg;
    struct ctx *c = t->c;

    if (c->in_append)
        c->inside++;
    if (t->i != c->next)
        c->order_ok = 0;
    if (err != 0)
        c->errs++;
    c->next = t->i + 1;
    c->done++;
    free(t);
}

/* Appends record i ("rec <i>"). */
static int append_one(struct ctx *c, size_t i)
{
    struct tag *t = malloc(sizeof(*t));
    char buf[64];
    int n, rc;

    ck_assert_ptr_nonnull(t);
    t->c = c;
    t->i = i;
    n = snprintf(buf, sizeof(buf), "rec %zu", i);
    c->in_append = 1;
    rc = journal_append(c->j, JOURNAL_UPDATE, buf, (size_t)n, on_done, t);
    c->in_append = 0;
    if (rc < 0)
        free(t);
    return rc;
}

/* Runs the loop until `want` completions or 10 s. */
static void run_until(struct ctx *c, size_t want)
{
    double end = ev_time() + 10;

    while (c->done < want && ev_time() < end)
        ev_run(c->loop, EVRUN_ONCE);
    ck_assert_uint_eq(c->done, want);
}

/* Replay collector: checks records are "rec 0", "rec 1", ..., each
 * possibly padded with 'p's. */
struct seen {
    size_t n;
    int bad;
};

static int collect(void *arg, int type, const char *data, size_t len)
{
    struct seen *s = arg;
    char want[64];
    int n = snprintf(want, sizeof(want), "rec %zu", s->n);

    size_t k;

    if (type != JOURNAL_UPDATE || (size_t)n > len ||
        memcmp(want, data, (size_t)n) != 0 || data[len] != '\0')
        s->bad++;
    for (k = (size_t)n; k < len; k++)
        if (data[k] != 'p')
            s->bad++;
    s->n++;
    return 0;
}

static void open_plain(struct ctx *c, journal_replay_fn fn, void *arg)
{
    struct journal_conf jc;

    memset(&jc, 0, sizeof(jc));
    jc.path = c->path;
    jc.replay = fn;
    jc.arg = arg;
    ck_assert_int_eq(journal_open(c->loop, &jc, &c->j), 0);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

START_TEST(test_order_and_replay)
{
    struct ctx c;
    struct seen s = {0, 0};
    size_t i;

    ctx_init(&c);
    open_plain(&c, NULL, NULL);
    for (i = 0; i < 1000; i++)
        ck_assert_int_eq(append_one(&c, i), 0);
    run_until(&c, 1000);
    ck_assert_int_eq(c.inside, 0);
    ck_assert(c.order_ok);
    ck_assert_int_eq(c.errs, 0);
    journal_close(c.j);
    c.j = NULL;
    ck_assert_int_eq(journal_read(c.path, collect, &s, NULL), 0);
    ck_assert_uint_eq(s.n, 1000);
    ck_assert_int_eq(s.bad, 0);

    /* Reopening replays the same records, then appends follow them. */
    s.n = 0;
    open_plain(&c, collect, &s);
    ck_assert_uint_eq(s.n, 1000);
    c.next = 1000;
    ck_assert_int_eq(append_one(&c, 1000), 0);
    run_until(&c, 1001);
    journal_close(c.j);
    c.j = NULL;
    s.n = 0;
    ck_assert_int_eq(journal_read(c.path, collect, &s, NULL), 0);
    ck_assert_uint_eq(s.n, 1001);
    ck_assert_int_eq(s.bad, 0);
    ctx_fini(&c);
}
END_TEST

/* Many records queued at once share few writes and fsyncs. */
START_TEST(test_group_commit)
{
    struct ctx c;
    struct journal_stats st;
    const size_t n = 20000;
    double t0, dt;
    size_t i;

    ctx_init(&c);
    open_plain(&c, NULL, NULL);
    t0 = ev_time();
    for (i = 0; i < n; i++)
        ck_assert_int_eq(append_one(&c, i), 0);
    run_until(&c, n);
    dt = ev_time() - t0;
    journal_get_stats(c.j, &st);
    ck_assert(c.order_ok);
    ck_assert_uint_eq(st.appended, n);
    ck_assert_uint_eq(st.records, n);
    ck_assert_uint_lt(st.batches, n / 10);
    fprintf(stderr,
            "group commit: %zu records in %llu batches, %.0f "
            "records/s\n",
            n, (unsigned long long)st.batches, (double)n / dt);
    ctx_fini(&c);
}
END_TEST

/* A trickle of appends, each waited for, is still durable one by one. */
START_TEST(test_durable_each)
{
    struct ctx c;
    struct journal_stats st;
    size_t i;

    ctx_init(&c);
    open_plain(&c, NULL, NULL);
    for (i = 0; i < 50; i++) {
        ck_assert_int_eq(append_one(&c, i), 0);
        run_until(&c, i + 1);
    }
    journal_get_stats(c.j, &st);
    ck_assert_uint_eq(st.batches, 50);
    ctx_fini(&c);
}
END_TEST

/* Garbage after the last record (a torn write) is dropped at open. */
START_TEST(test_torn_tail)
{
    struct ctx c;
    struct seen s = {0, 0};
    struct journal_stats st;
    uint64_t valid;
    int fd;
    size_t i;

    ctx_init(&c);
    open_plain(&c, NULL, NULL);
    for (i = 0; i < 10; i++)
        append_one(&c, i);
    run_until(&c, 10);
    journal_close(c.j);
    c.j = NULL;
    /* A header promising 100 bytes, followed by only 5 of them. */
    fd = open(c.path, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "\x64\0\0\0\x01\x02\x03\x04\x02\0\0\0abcde", 17),
                     17);
    close(fd);
    ck_assert_int_eq(journal_read(c.path, collect, &s, &valid), 0);
    ck_assert_uint_eq(s.n, 10);

    s.n = 0;
    open_plain(&c, collect, &s);
    ck_assert_uint_eq(s.n, 10);
    journal_get_stats(c.j, &st);
    ck_assert_uint_eq(st.torn_bytes, 17);
    c.next = 10;
    append_one(&c, 10);
    run_until(&c, 11);
    journal_close(c.j);
    c.j = NULL;
    s.n = 0;
    ck_assert_int_eq(journal_read(c.path, collect, &s, NULL), 0);
    ck_assert_uint_eq(s.n, 11);
    ck_assert_int_eq(s.bad, 0);

    /* A flipped byte inside a record ends the replay before it. */
    fd = open(c.path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, "X", 1, (off_t)valid - 2), 1);
    close(fd);
    s.n = 0;
    ck_assert_int_eq(journal_read(c.path, collect, &s, NULL), 0);
    ck_assert_uint_eq(s.n, 9);
    ctx_fini(&c);
}
END_TEST

/* A file that is not a journal is refused and left alone. */
START_TEST(test_not_a_journal)
{
    struct ctx c;
    struct journal_conf jc;
    struct stat sb;
    FILE *f;

    ctx_init(&c);
    f = fopen(c.path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("hello, not a journal\n", f);
    fclose(f);
    memset(&jc, 0, sizeof(jc));
    jc.path = c.path;
    ck_assert_int_eq(journal_open(c.loop, &jc, &c.j), AGORA_EIO);
    c.j = NULL;
    ck_assert_int_eq(stat(c.path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 21);
    ck_assert_int_eq(journal_read("/nonexistent/journal", NULL, NULL, NULL),
                     AGORA_ENOENT);
    ctx_fini(&c);
}
END_TEST

/* Child of test_crash: appends forever, reporting each durable count. */
static int crash_pipe = -1;

static void crash_done(void *arg, int err)
{
    struct tag *t = arg;
    size_t durable = t->i + 1;

    (void)err;
    if (write(crash_pipe, &durable, sizeof(durable)) < 0)
        _exit(3);
    free(t);
}

static void crash_child(const char *path, int wfd)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct journal_conf jc;
    struct journal *j;
    size_t i = 0;

    crash_pipe = wfd;
    memset(&jc, 0, sizeof(jc));
    jc.path = path;
    if (loop == NULL || journal_open(loop, &jc, &j) < 0)
        _exit(2);
    for (;;) {
        size_t k;

        /* Bursts of records of varied sizes, so kills land mid-write. */
        for (k = 0; k < 200; k++, i++) {
            struct tag *t = malloc(sizeof(*t));
            char buf[64100];
            int n = snprintf(buf, sizeof(buf), "rec %zu", i);

            if (t == NULL)
                _exit(4);
            t->i = i;
            if (i % 7 == 0) {
                memset(buf + n, 'p', 64000);
                n += 64000;
            }
            journal_append(j, JOURNAL_UPDATE, buf, (size_t)n, crash_done, t);
        }
        ev_run(loop, EVRUN_NOWAIT);
    }
}

START_TEST(test_crash_atomicity)
{
    int round;

    for (round = 0; round < 5; round++) {
        struct ctx c;
        struct seen s = {0, 0};
        size_t durable = 0, got;
        int p[2], status;
        pid_t pid;

        ctx_init(&c);
        ck_assert_int_eq(pipe(p), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(c.path, p[1]);
        }
        close(p[1]);
        /* Kill only once something is durable, at varying points after. */
        ck_assert_int_eq(read(p[0], &durable, sizeof(durable)),
                         sizeof(durable));
        usleep(50000 + 50000 * (useconds_t)round);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_assert(WIFSIGNALED(status));
        while (read(p[0], &got, sizeof(got)) == sizeof(got))
            durable = got;
        close(p[0]);
        ck_assert_uint_gt(durable, 0);
        /* A prefix of what was appended, holding all that was durable. */
        ck_assert_int_eq(journal_read(c.path, collect, &s, NULL), 0);
        ck_assert_int_eq(s.bad, 0);
        ck_assert_uint_ge(s.n, durable);
        /* And the journal opens and grows from there. */
        s.n = 0;
        s.bad = 0;
        open_plain(&c, collect, &s);
        c.next = s.n;
        c.done = 0;
        append_one(&c, s.n);
        run_until(&c, 1);
        journal_close(c.j);
        c.j = NULL;
        got = s.n;
        s.n = 0;
        ck_assert_int_eq(journal_read(c.path, collect, &s, NULL), 0);
        ck_assert_uint_eq(s.n, got + 1);
        ck_assert_int_eq(s.bad, 0);
        ctx_fini(&c);
    }
}
END_TEST

/* ---- compaction: records "set <k>" and "del <k>" over c->live ---- */

static int live_apply(void *arg, int type, const char *data, size_t len)
{
    struct ctx *c = arg;
    size_t k;

    (void)len;
    if (sscanf(data + 4, "%zu", &k) != 1 || k >= c->nkeys)
        return AGORA_EINVAL;
    if (type == JOURNAL_TASK && strncmp(data, "set ", 4) == 0)
        c->live[k] = 1;
    else if (type == JOURNAL_FORGET && strncmp(data, "del ", 4) == 0)
        c->live[k] = 0;
    else
        return AGORA_EINVAL;
    return 0;
}

static int live_snapshot(void *arg, struct journal_snap *s)
{
    struct ctx *c = arg;
    size_t k;

    for (k = 0; k < c->nkeys; k++) {
        char buf[64];
        int n;

        if (!c->live[k])
            continue;
        /* Padding makes "set" records big, so the file grows fast. */
        n = snprintf(buf, sizeof(buf), "set %zu %40s", k, "");
        if (journal_snap_add(s, JOURNAL_TASK, buf, (size_t)n) < 0)
            return AGORA_ENOMEM;
    }
    return 0;
}

static void live_change(struct ctx *c, size_t k, int set)
{
    struct tag *t = malloc(sizeof(*t));
    char buf[64];
    int n;

    ck_assert_ptr_nonnull(t);
    t->c = c;
    t->i = c->issued++;
    c->live[k] = (unsigned char)set;
    n = set ? snprintf(buf, sizeof(buf), "set %zu %40s", k, "")
            : snprintf(buf, sizeof(buf), "del %zu", k);
    ck_assert_int_eq(journal_append(c->j, set ? JOURNAL_TASK : JOURNAL_FORGET,
                                    buf, (size_t)n, on_done, t),
                     0);
}

static void open_live(struct ctx *c, size_t compact_bytes)
{
    struct journal_conf jc;

    memset(&jc, 0, sizeof(jc));
    jc.path = c->path;
    jc.compact_bytes = compact_bytes;
    jc.replay = live_apply;
    jc.snapshot = live_snapshot;
    jc.arg = c;
    ck_assert_int_eq(journal_open(c->loop, &jc, &c->j), 0);
}

START_TEST(test_compaction)
{
    struct ctx c;
    struct journal_stats st;
    unsigned char *want;
    size_t k, round, changes = 0;
    struct stat sb;

    ctx_init(&c);
    c.nkeys = 500;
    c.live = calloc(c.nkeys, 1);
    want = calloc(c.nkeys, 1);
    ck_assert_ptr_nonnull(want);
    open_live(&c, 16 * 1024);
    /* Churn: keys come and go; completions stay in order throughout. */
    for (round = 0; round < 40; round++) {
        for (k = 0; k < c.nkeys; k++) {
            if ((k + round) % 3 == 0) {
                live_change(&c, k, (int)((k * 7 + round) % 2));
                changes++;
            }
        }
        ev_run(c.loop, EVRUN_NOWAIT);
    }
    run_until(&c, changes);
    ck_assert_int_eq(c.errs, 0);
    ck_assert(c.order_ok);
    journal_get_stats(c.j, &st);
    ck_assert_uint_ge(st.compactions, 1);
    /* How much the file grew while the last automatic compaction ran
     * depends on the machine's load; one more compaction, waited for,
     * leaves only the live state, whatever the load. */
    {
        uint64_t before;
        double end = ev_time() + 10;
        int rc;

        /* One may be running still (AGORA_ESTATE): let it end first. The
         * count is read before each try, so the one started is awaited. */
        for (;;) {
            journal_get_stats(c.j, &st);
            before = st.compactions;
            rc = journal_compact(c.j);
            if (rc != AGORA_ESTATE || ev_time() > end)
                break;
            ev_run(c.loop, EVRUN_ONCE);
        }
        ck_assert_int_eq(rc, 0);
        while (st.compactions == before && ev_time() < end) {
            ev_run(c.loop, EVRUN_ONCE);
            journal_get_stats(c.j, &st);
        }
        ck_assert_uint_gt(st.compactions, before);
    }
    memcpy(want, c.live, c.nkeys);
    journal_close(c.j);
    c.j = NULL;
    ck_assert_int_eq(stat(c.path, &sb), 0);
    ck_assert_int_lt(sb.st_size, 200 * 1024);
    ck_assert_int_ne(access(c.tmp, F_OK), -1);

    /* Replay after compaction rebuilds exactly the live state. */
    memset(c.live, 0, c.nkeys);
    open_live(&c, 16 * 1024);
    ck_assert_mem_eq(c.live, want, c.nkeys);

    /* An explicit compaction, then more records, replay the same. */
    ck_assert_int_eq(journal_compact(c.j), 0);
    c.done = 0;
    live_change(&c, 3, 1);
    live_change(&c, 4, 0);
    run_until(&c, 2);
    memcpy(want, c.live, c.nkeys);
    journal_get_stats(c.j, &st);
    ck_assert_uint_eq(st.compactions, 1);
    journal_close(c.j);
    c.j = NULL;
    memset(c.live, 0, c.nkeys);
    ck_assert_int_eq(journal_read(c.path, live_apply, &c, NULL), 0);
    ck_assert_mem_eq(c.live, want, c.nkeys);
    free(want);
    ctx_fini(&c);
}
END_TEST

/* A leftover <path>.new (a compaction cut short) is ignored and removed. */
START_TEST(test_leftover_new)
{
    struct ctx c;
    struct seen s = {0, 0};
    char *tmp;
    FILE *f;

    ctx_init(&c);
    open_plain(&c, NULL, NULL);
    append_one(&c, 0);
    run_until(&c, 1);
    journal_close(c.j);
    c.j = NULL;
    ck_assert_int_ge(asprintf(&tmp, "%s.new", c.path), 0);
    f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    fputs("AGJRNL1\ngarbage", f);
    fclose(f);
    open_plain(&c, collect, &s);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_int_eq(access(tmp, F_OK), -1);
    free(tmp);
    ctx_fini(&c);
}
END_TEST

/* Closing writes what is queued and runs its callbacks; later appends
 * are refused. */
static struct journal *close_j;
static int close_refused;

static void close_done(void *arg, int err)
{

    if (err == 0 && journal_append(close_j, JOURNAL_ACK, "x", 1, NULL, NULL) ==
                        AGORA_ECANCELED)
        close_refused++;
    on_done(arg, err);
}

START_TEST(test_close_drains)
{
    struct ctx c;
    struct seen s = {0, 0};
    size_t i;

    ctx_init(&c);
    open_plain(&c, NULL, NULL);
    close_j = c.j;
    for (i = 0; i < 100; i++) {
        struct tag *t = malloc(sizeof(*t));
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "rec %zu", i);

        t->c = &c;
        t->i = i;
        ck_assert_int_eq(
            journal_append(c.j, JOURNAL_UPDATE, buf, (size_t)n, close_done, t),
            0);
    }
    journal_close(c.j);
    c.j = NULL;
    ck_assert_uint_eq(c.done, 100);
    ck_assert(c.order_ok);
    ck_assert_int_eq(close_refused, 100);
    ck_assert_int_eq(journal_read(c.path, collect, &s, NULL), 0);
    ck_assert_uint_eq(s.n, 100);
    ctx_fini(&c);
}
END_TEST

START_TEST(test_crc32)
{
    /* The standard check value of CRC-32/IEEE. */
    ck_assert_uint_eq(journal_crc32(0, "123456789", 9), 0xCBF43926u);
    ck_assert_uint_eq(journal_crc32(journal_crc32(0, "1234", 4), "56789", 5),
                      0xCBF43926u);
}
END_TEST

static Suite *journal_suite(void)
{
    Suite *s = suite_create("journal");
    TCase *tc = tcase_create("journal");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_crc32);
    tcase_add_test(tc, test_order_and_replay);
    tcase_add_test(tc, test_group_commit);
    tcase_add_test(tc, test_durable_each);
    tcase_add_test(tc, test_torn_tail);
    tcase_add_test(tc, test_not_a_journal);
    tcase_add_test(tc, test_crash_atomicity);
    tcase_add_test(tc, test_compaction);
    tcase_add_test(tc, test_leftover_new);
    tcase_add_test(tc, test_close_drains);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(journal_suite());
    int failed;

    log_set_level(AGORA_LOG_WARN);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
