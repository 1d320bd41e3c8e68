/*
 * journal.c - group-commit journal: the loop queues, one thread writes
 * and syncs, the loop completes (see journal.h).
 *
 * Locking: `mu` guards the queue, the done list, `stopping` and `shared`
 * (the writer's figures for the loop). The file descriptor, size and
 * record count belong to the writer thread once it runs.
 */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include <agora/json.h>
#include <agora/plugin.h>

#include "log.h"

#define JOURNAL_MAGIC "AGJRNL1\n"
#define JOURNAL_MAGIC_LEN 8
#define JOURNAL_HDR 12
#define JOURNAL_DEFAULT_BYTES (8u * 1024 * 1024)
#define JOURNAL_DEFAULT_RECORDS 100000u
#define JOURNAL_IOV 512 /* iovecs per writev: 256 records */

/* A queued record, or (type 0) a compaction carrying a snapshot. */
struct jrec {
    struct jrec *next;
    int type;
    int err;
    journal_done_fn done;
    void *arg;
    char *data; /* payload; a snapshot's framed records for type 0  */
    size_t len;
    uint64_t nrec; /* type 0: records in the snapshot                   */
    unsigned char hdr[JOURNAL_HDR];
};

struct journal_snap {
    char *buf;
    size_t len, cap;
    uint64_t n;
};

struct journal {
    struct ev_loop *loop;
    struct journal_conf c;
    char *path, *tmp_path, *dir;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct jrec *qhead, *qtail; /* queued for the writer               */
    struct jrec *dhead, *dtail; /* written, for the loop to complete   */
    int stopping;
    struct journal_stats shared; /* the writer's figures, under mu     */

    /* writer thread only */
    int fd;
    uint64_t size, records;

    /* loop only */
    ev_async async;
    ev_prepare flush;           /* hands `pending` to the writer once a
                                 * loop iteration, before the loop waits */
    struct jrec *phead, *ptail; /* appended in this iteration          */
    struct journal_stats st;
    int closing, compacting;
    uint64_t next_bytes, next_records;
};

/* ------------------------------------------------------------------ */
/* CRC-32 and framing                                                   */
/* ------------------------------------------------------------------ */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    uint32_t i, k, c;

    for (i = 0; i < 256; i++) {
        c = i;
        for (k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t journal_crc32(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* The header of one record: the CRC covers len, type and payload. */
static void frame_header(unsigned char hdr[JOURNAL_HDR], int type,
                         const char *data, size_t len)
{
    uint32_t crc;

    put_le32(hdr, (uint32_t)len);
    put_le32(hdr + 8, (uint32_t)type);
    crc = journal_crc32(0, hdr, 4);
    crc = journal_crc32(crc, hdr + 8, 4);
    crc = journal_crc32(crc, data, len);
    put_le32(hdr + 4, crc);
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */
/* ------------------------------------------------------------------ */

/* Reads the whole file into a malloc'ed buffer with one spare byte. */
static int read_all(int fd, char **out, size_t *outlen)
{
    struct stat sb;
    size_t n = 0, cap;
    char *buf;

    if (fstat(fd, &sb) < 0)
        return AGORA_EIO;
    cap = (size_t)sb.st_size + 1;
    buf = malloc(cap);
    if (buf == NULL)
        return AGORA_ENOMEM;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return AGORA_EIO;
        }
        if (r == 0 || n + (size_t)r == cap - 1) {
            n += (size_t)r;
            break;
        }
        n += (size_t)r;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

/*
 * Calls fn for each intact record of buf (n bytes, one spare byte after
 * them): stops at the first short or damaged one. *valid is the length
 * of the intact prefix, *count the number of records in it.
 */
static int parse_records(char *buf, size_t n, journal_replay_fn fn, void *arg,
                         uint64_t *valid, uint64_t *count)
{
    size_t off = JOURNAL_MAGIC_LEN;

    *count = 0;
    while (off + JOURNAL_HDR <= n) {
        unsigned char *h = (unsigned char *)buf + off;
        uint32_t len = get_le32(h), crc = get_le32(h + 4);
        uint32_t check;
        char *data = buf + off + JOURNAL_HDR, saved;
        int rc = 0;

        if (len > JOURNAL_RECORD_MAX || n - off - JOURNAL_HDR < len)
            break;
        check = journal_crc32(journal_crc32(0, h, 4), h + 8, 4);
        if (journal_crc32(check, data, len) != crc)
            break;
        /* NUL-terminate in place for the callback, then restore. */
        saved = data[len];
        data[len] = '\0';
        if (fn)
            rc = fn(arg, (int)get_le32(h + 8), data, len);
        data[len] = saved;
        if (rc < 0)
            return rc;
        off += JOURNAL_HDR + len;
        (*count)++;
    }
    *valid = off;
    return 0;
}

static int journal_read_fd(int fd, const char *path, journal_replay_fn fn,
                           void *arg, uint64_t *valid, uint64_t *count,
                           uint64_t *size)
{
    char *buf;
    size_t n;
    int rc = read_all(fd, &buf, &n);

    if (rc < 0) {
        log_error("journal", "cannot read %s: %s", path, strerror(errno));
        return rc;
    }
    *size = n;
    if (n < JOURNAL_MAGIC_LEN ||
        memcmp(buf, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN) != 0) {
        log_error("journal", "%s is not an agora journal; move it away", path);
        free(buf);
        return AGORA_EIO;
    }
    rc = parse_records(buf, n, fn, arg, valid, count);
    free(buf);
    return rc;
}

int journal_read(const char *path, journal_replay_fn fn, void *arg,
                 uint64_t *valid)
{
    uint64_t v = 0, count, size;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

    if (fd < 0)
        return errno == ENOENT ? AGORA_ENOENT : AGORA_EIO;
    rc = journal_read_fd(fd, path, fn, arg, &v, &count, &size);
    close(fd);
    if (valid)
        *valid = v;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Writer thread                                                        */
/* ------------------------------------------------------------------ */

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* writev of iov[0..n), resuming after short writes. */
static int writev_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

static int journal_reopen(struct journal *j)
{
    if (j->fd >= 0)
        return 0;
    j->fd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    return j->fd < 0 ? -1 : 0;
}

/* Writes records [from, to) with writev, then one fdatasync. */
static int journal_write_run(struct journal *j, struct jrec *from,
                             struct jrec *to)
{
    struct iovec iov[JOURNAL_IOV];
    uint64_t added = 0, bytes = 0;
    struct jrec *r;
    int n = 0;

    if (journal_reopen(j) < 0)
        return -1;
    for (r = from; r != to; r = r->next) {
        frame_header(r->hdr, r->type, r->data, r->len);
        iov[n].iov_base = r->hdr;
        iov[n++].iov_len = JOURNAL_HDR;
        iov[n].iov_base = r->data;
        iov[n++].iov_len = r->len;
        bytes += JOURNAL_HDR + r->len;
        added++;
        if (n == JOURNAL_IOV || r->next == to) {
            if (writev_all(j->fd, iov, n) < 0)
                return -1;
            n = 0;
        }
    }
    if (added == 0)
        return 0;
    if (fdatasync(j->fd) < 0)
        return -1;
    j->size += bytes;
    j->records += added;
    return 0;
}

/* Waits up to `secs` or until stopping; returns stopping. */
static int journal_pause(struct journal *j, int secs)
{
    struct timespec ts;
    int stopping;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += secs;
    pthread_mutex_lock(&j->mu);
    if (!j->stopping)
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
    stopping = j->stopping;
    pthread_mutex_unlock(&j->mu);
    return stopping;
}

static void journal_count_error(struct journal *j)
{
    pthread_mutex_lock(&j->mu);
    j->shared.write_errors++;
    pthread_mutex_unlock(&j->mu);
}

/*
 * Writes a run of records until it is durable. A failed write may have
 * left part of it in the file: cut the file back so nothing torn sits
 * in the middle, and retry every second (the records' callbacks wait:
 * an update is never sent before it is on disk). Once the journal is
 * closing, a failure is final.
 */
static void journal_write_durable(struct journal *j, struct jrec *from,
                                  struct jrec *to)
{
    struct jrec *r;

    for (;;) {
        uint64_t before = j->size;
        int stopping;

        if (journal_write_run(j, from, to) == 0)
            return;
        log_error("journal", "cannot write %s: %s; retrying", j->path,
                  strerror(errno));
        journal_count_error(j);
        if (j->fd >= 0 && ftruncate(j->fd, (off_t)before) < 0) {
            close(j->fd);
            j->fd = -1;
        }
        stopping = journal_pause(j, 1);
        if (stopping)
            break;
    }
    for (r = from; r != to; r = r->next)
        r->err = AGORA_EIO;
}

/* Writes the snapshot to <path>.new and renames it over the journal. */
static int journal_swap(struct journal *j, struct jrec *snap)
{
    int fd = open(j->tmp_path,
                  O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0)
        return -1;
    if (write_all(fd, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN) < 0 ||
        write_all(fd, snap->data, snap->len) < 0 || fsync(fd) < 0) {
        close(fd);
        unlink(j->tmp_path);
        return -1;
    }
    close(fd);
    if (rename(j->tmp_path, j->path) < 0) {
        unlink(j->tmp_path);
        return -1;
    }
    if (fsync_dir(j->dir) < 0)
        log_warn("journal", "cannot sync %s: %s", j->dir, strerror(errno));
    /* Later appends go to the new file (the old fd names the old one). */
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    j->size = JOURNAL_MAGIC_LEN + snap->len;
    j->records = snap->nrec;
    if (journal_reopen(j) < 0)
        log_error("journal", "cannot reopen %s: %s", j->path, strerror(errno));
    return 0;
}

static void journal_compact_now(struct journal *j, struct jrec *snap)
{
    if (journal_swap(j, snap) == 0)
        return;
    snap->err = AGORA_EIO;
    log_error("journal", "compaction of %s failed: %s; keeping it as is",
              j->path, strerror(errno));
}

/* One batch: runs of records, each made durable, and compactions. */
static void journal_process(struct journal *j, struct jrec *batch)
{
    struct jrec *from = batch, *r;

    for (r = batch; r; r = r->next) {
        if (r->type != 0)
            continue;
        journal_write_durable(j, from, r);
        journal_compact_now(j, r);
        from = r->next;
    }
    journal_write_durable(j, from, NULL);
}

static void *journal_thread(void *p)
{
    struct journal *j = p;

    pthread_mutex_lock(&j->mu);
    for (;;) {
        struct jrec *batch, *last;

        while (j->qhead == NULL && !j->stopping)
            pthread_cond_wait(&j->cv, &j->mu);
        if (j->qhead == NULL)
            break;
        batch = j->qhead;
        last = j->qtail;
        j->qhead = j->qtail = NULL;
        pthread_mutex_unlock(&j->mu);

        journal_process(j, batch);

        pthread_mutex_lock(&j->mu);
        if (j->dtail)
            j->dtail->next = batch;
        else
            j->dhead = batch;
        j->dtail = last;
        j->shared.batches++;
        j->shared.size = j->size;
        j->shared.records = j->records;
        pthread_mutex_unlock(&j->mu);
        ev_async_send(j->loop, &j->async);
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Loop side                                                            */
/* ------------------------------------------------------------------ */

static void journal_maybe_compact(struct journal *j)
{
    if (j->compacting || j->closing || j->c.snapshot == NULL)
        return;
    if (j->st.size <= j->next_bytes && j->st.records <= j->next_records)
        return;
    journal_compact(j);
}

/* After a compaction: the next one when the file doubles, at least. */
static void journal_after_compaction(struct journal *j, int err)
{
    uint64_t b = j->c.compact_bytes, r = j->c.compact_records;

    j->compacting = 0;
    if (err == 0) {
        j->st.compactions++;
        log_info("journal", "compacted %s: %llu records, %llu bytes",
                 j->path, (unsigned long long)j->st.records,
                 (unsigned long long)j->st.size);
    }
    j->next_bytes = j->st.size * 2 > b ? j->st.size * 2 : b;
    j->next_records = j->st.records * 2 > r ? j->st.records * 2 : r;
}

static void journal_free_rec(struct jrec *r)
{
    if (r->type == 0)
        free(r->data);
    free(r);
}

/* Runs the callbacks of records the writer finished, in order. */
static void journal_complete(struct journal *j)
{
    struct jrec *list, *r;

    pthread_mutex_lock(&j->mu);
    list = j->dhead;
    j->dhead = j->dtail = NULL;
    j->st.batches = j->shared.batches;
    j->st.size = j->shared.size;
    j->st.records = j->shared.records;
    j->st.write_errors = j->shared.write_errors;
    pthread_mutex_unlock(&j->mu);
    while ((r = list) != NULL) {
        list = r->next;
        if (r->type == 0)
            journal_after_compaction(j, r->err);
        else if (r->done)
            r->done(r->arg, r->err);
        journal_free_rec(r);
    }
}

static void journal_on_async(struct ev_loop *loop, ev_async *w, int revents)
{
    struct journal *j = w->data;

    (void)loop;
    (void)revents;
    journal_complete(j);
    journal_maybe_compact(j);
}

/* Hands the records appended in this loop iteration to the writer: one
 * lock, one wake-up, and so one write and one fdatasync for all of them
 * (a burst of launches appends several records a task, each a syscall
 * and a disk flush when handed over one by one). */
static void journal_flush(struct journal *j)
{
    struct jrec *head = j->phead, *tail = j->ptail;

    if (head == NULL)
        return;
    j->phead = j->ptail = NULL;
    pthread_mutex_lock(&j->mu);
    if (j->qtail)
        j->qtail->next = head;
    else
        j->qhead = head;
    j->qtail = tail;
    /* The writer only sleeps on an empty queue. */
    if (j->qhead == head)
        pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static void journal_on_prepare(struct ev_loop *loop, ev_prepare *w,
                               int revents)
{
    (void)revents;
    ev_prepare_stop(loop, w);
    journal_flush(w->data);
}

static void journal_enqueue(struct journal *j, struct jrec *r)
{
    if (j->ptail)
        j->ptail->next = r;
    else
        j->phead = r;
    j->ptail = r;
    if (!ev_is_active(&j->flush))
        ev_prepare_start(j->loop, &j->flush);
}

int journal_append(struct journal *j, int type, const char *data, size_t len,
                   journal_done_fn done, void *arg)
{
    struct jrec *r;

    if (j->closing)
        return AGORA_ECANCELED;
    if (len > JOURNAL_RECORD_MAX || type <= 0)
        return len > JOURNAL_RECORD_MAX ? AGORA_ETOOBIG : AGORA_EINVAL;
    r = malloc(sizeof(*r) + len + 1);
    if (r == NULL)
        return AGORA_ENOMEM;
    memset(r, 0, sizeof(*r));
    r->type = type;
    r->done = done;
    r->arg = arg;
    r->data = (char *)(r + 1);
    r->len = len;
    memcpy(r->data, data, len);
    r->data[len] = '\0';
    j->st.appended++;
    journal_enqueue(j, r);
    return 0;
}

int journal_append_ids(struct journal *j, int type, const char *task_id,
                       const char *uuid)
{
    struct agora_jw *w = agora_jw_new();
    const char *json = NULL;
    size_t len;
    int rc = AGORA_ENOMEM;

    if (w) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "task_id", task_id);
        if (uuid)
            agora_jw_kstr(w, "uuid", uuid);
        agora_jw_obj_close(w);
        json = agora_jw_result(w, &len);
    }
    if (json)
        rc = journal_append(j, type, json, len, NULL, NULL);
    agora_jw_free(w);
    return rc;
}

int journal_snap_add(struct journal_snap *s, int type, const char *data,
                     size_t len)
{
    size_t need;

    if (len > JOURNAL_RECORD_MAX)
        return AGORA_ETOOBIG;
    need = s->len + JOURNAL_HDR + len;
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : 64 * 1024;
        char *p;

        while (cap < need)
            cap *= 2;
        p = realloc(s->buf, cap);
        if (p == NULL)
            return AGORA_ENOMEM;
        s->buf = p;
        s->cap = cap;
    }
    frame_header((unsigned char *)s->buf + s->len, type, data, len);
    memcpy(s->buf + s->len + JOURNAL_HDR, data, len);
    s->len = need;
    s->n++;
    return 0;
}

int journal_compact(struct journal *j)
{
    struct journal_snap s = {NULL, 0, 0, 0};
    struct jrec *r;
    int rc;

    if (j->compacting || j->closing || j->c.snapshot == NULL)
        return AGORA_ESTATE;
    rc = j->c.snapshot(j->c.arg, &s);
    r = rc == 0 ? calloc(1, sizeof(*r)) : NULL;
    if (r == NULL) {
        free(s.buf);
        log_warn("journal", "cannot take a snapshot for compaction: %s",
                 rc < 0 ? "the snapshot failed" : "out of memory");
        /* Try again when the file has grown as much again. */
        journal_after_compaction(j, AGORA_ENOMEM);
        return rc < 0 ? rc : AGORA_ENOMEM;
    }
    r->type = 0;
    r->data = s.buf;
    r->len = s.len;
    r->nrec = s.n;
    j->compacting = 1;
    journal_enqueue(j, r);
    return 0;
}

void journal_get_stats(const struct journal *j, struct journal_stats *out)
{
    *out = j->st;
}

/* ------------------------------------------------------------------ */
/* Open and close                                                       */
/* ------------------------------------------------------------------ */

/* A new, empty journal: header to <path>.new, synced, renamed. */
static int journal_create(struct journal *j)
{
    int fd = open(j->tmp_path,
                  O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0)
        return AGORA_EIO;
    if (write_all(fd, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN) < 0 || fsync(fd) < 0) {
        close(fd);
        unlink(j->tmp_path);
        return AGORA_EIO;
    }
    close(fd);
    if (rename(j->tmp_path, j->path) < 0 || fsync_dir(j->dir) < 0)
        return AGORA_EIO;
    return 0;
}

/* Opens the file, creating it when missing or empty. */
static int journal_open_file(struct journal *j)
{
    struct stat sb;
    int missing = 0;

    /* A compaction that did not reach its rename: the old file rules. */
    unlink(j->tmp_path);
    if (stat(j->path, &sb) < 0) {
        if (errno != ENOENT) {
            log_error("journal", "cannot stat %s: %s", j->path,
                      strerror(errno));
            return AGORA_EIO;
        }
        missing = 1;
    }
    if ((missing || sb.st_size == 0) && journal_create(j) < 0) {
        log_error("journal", "cannot create %s: %s", j->path, strerror(errno));
        return AGORA_EIO;
    }
    j->fd = open(j->path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (j->fd < 0) {
        log_error("journal", "cannot open %s: %s", j->path, strerror(errno));
        return AGORA_EIO;
    }
    return 0;
}

/* Replays the file and cuts any torn tail, so appends follow intact data. */
static int journal_replay(struct journal *j)
{
    uint64_t valid = 0, count = 0, size = 0;
    int rc = journal_read_fd(j->fd, j->path, j->c.replay, j->c.arg, &valid,
                             &count, &size);

    if (rc < 0)
        return rc;
    if (valid < size) {
        log_warn("journal",
                 "%s: dropping %llu bytes after the last intact "
                 "record (torn by a crash)",
                 j->path, (unsigned long long)(size - valid));
        if (ftruncate(j->fd, (off_t)valid) < 0 || fdatasync(j->fd) < 0) {
            log_error("journal", "cannot truncate %s: %s", j->path,
                      strerror(errno));
            return AGORA_EIO;
        }
        j->st.torn_bytes = size - valid;
    }
    j->size = valid;
    j->records = count;
    j->st.replayed = count;
    j->st.size = j->shared.size = valid;
    j->st.records = j->shared.records = count;
    return 0;
}

static int journal_paths(struct journal *j, const struct journal_conf *c)
{
    char *slash;

    j->c = *c;
    j->path = strdup(c->path);
    if (j->path == NULL || asprintf(&j->tmp_path, "%s.new", c->path) < 0)
        return AGORA_ENOMEM;
    j->dir = strdup(c->path);
    if (j->dir == NULL)
        return AGORA_ENOMEM;
    slash = strrchr(j->dir, '/');
    if (slash == NULL)
        strcpy(j->dir, ".");
    else if (slash == j->dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    j->c.path = j->path;
    if (j->c.compact_bytes == 0)
        j->c.compact_bytes = JOURNAL_DEFAULT_BYTES;
    if (j->c.compact_records == 0)
        j->c.compact_records = JOURNAL_DEFAULT_RECORDS;
    return 0;
}

static void journal_free(struct journal *j)
{
    if (j->fd >= 0)
        close(j->fd);
    free(j->path);
    free(j->tmp_path);
    free(j->dir);
    free(j);
}

/* Starts the writer with every signal blocked: they belong to the loop. */
static int journal_start_thread(struct journal *j)
{
    sigset_t all, old;
    int rc;

    if (pthread_mutex_init(&j->mu, NULL) != 0)
        return AGORA_ENOMEM;
    if (pthread_cond_init(&j->cv, NULL) != 0) {
        pthread_mutex_destroy(&j->mu);
        return AGORA_ENOMEM;
    }
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&j->thread, NULL, journal_thread, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&j->cv);
        pthread_mutex_destroy(&j->mu);
        log_error("journal", "cannot start the writer thread: %s",
                  strerror(rc));
        return AGORA_ENOMEM;
    }
    return 0;
}

int journal_open(struct ev_loop *loop, const struct journal_conf *c,
                 struct journal **out)
{
    struct journal *j = calloc(1, sizeof(*j));
    int rc;

    if (j == NULL)
        return AGORA_ENOMEM;
    j->fd = -1;
    j->loop = loop;
    ev_prepare_init(&j->flush, journal_on_prepare);
    j->flush.data = j;
    rc = journal_paths(j, c);
    if (rc == 0)
        rc = journal_open_file(j);
    if (rc == 0)
        rc = journal_replay(j);
    if (rc == 0)
        rc = journal_start_thread(j);
    if (rc < 0) {
        journal_free(j);
        return rc;
    }
    journal_after_compaction(j, AGORA_ECANCELED);
    ev_async_init(&j->async, journal_on_async);
    j->async.data = j;
    ev_async_start(loop, &j->async);
    *out = j;
    return 0;
}

void journal_close(struct journal *j)
{
    if (j == NULL)
        return;
    j->closing = 1;
    ev_prepare_stop(j->loop, &j->flush);
    journal_flush(j);
    pthread_mutex_lock(&j->mu);
    j->stopping = 1;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thread, NULL);
    journal_complete(j);
    ev_async_stop(j->loop, &j->async);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    journal_free(j);
}
