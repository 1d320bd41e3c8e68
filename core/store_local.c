/*
 * store_local.c - the local backend: a directory tree on this machine,
 * worked by one thread of its own.
 *
 * Layout under the root directory:
 *     <root>/<ns>/<seg1>/<seg2>/.value    the value of key "seg1/seg2"
 * A key may have a value and children at once, as a ZooKeeper znode can:
 * its directory holds its .value beside its children's directories. A
 * segment never starts with '.', so .value and the temporary files
 * (.tmp.<random>) never collide with a child.
 *
 * A value file is a 24-byte header - the magic "AGKV", the format (1), the
 * key's version and the value's length, integers little-endian - followed
 * by the value's bytes. The length lets a get tell a damaged file from a
 * good one.
 *
 * Durability: a put writes a temporary file in the key's directory,
 * fsyncs it, renames it over .value and fsyncs the directory, so after a
 * crash .value is the old file or the new one, never a mix. Temporary
 * files a crash leaves behind are removed when the backend opens.
 *
 * Threads: the loop thread only queues ops (submit). One worker thread
 * runs them in FIFO order, so the loop never waits on the disk, and a
 * compare-and-set needs no lock: nothing else touches the tree between
 * reading a key's version and renaming its new value into place.
 *
 * Transactions are journaled. The worker checks every expected version,
 * then writes the whole transaction - each put's value and new version,
 * each delete - to <root>/.txn.tmp, fsyncs it, renames it to <root>/.txn
 * and fsyncs the root: that rename is the commit point. It then applies
 * the journal's ops one by one (each put as above, each delete as a
 * delete), and removes the journal. Applying is idempotent (a put writes
 * the version the journal names, a delete of a missing value is done), so
 * a journal found at open is applied again, whole, before the sweep and
 * before any op; a .txn.tmp found then never committed and is removed.
 * So after kill -9 a transaction is all there or not there at all. If
 * applying fails (a full disk), the journal stays and every later op
 * first tries again to apply it, failing with AGORA_EIO while it cannot:
 * no op ever sees half a transaction. A damaged .txn (its checksum) makes
 * the open fail with AGORA_EIO rather than guess. A transaction that
 * completed with AGORA_EIO after its commit is still applied later.
 *
 * Results the store reads after store_complete(): op->err always; for a
 * get op->value (malloc'd, NUL-terminated), op->len and op->version; for
 * a put op->version, the new version; for a list op->names (a malloc'd
 * array of malloc'd names, sorted) and op->nnames. The store frees them.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"

#define VALUE_NAME ".value"
#define TMP_PREFIX ".tmp."
#define HDR_LEN 24
#define HDR_FORMAT 1u

static const unsigned char hdr_magic[4] = {'A', 'G', 'K', 'V'};

/* One queued op; the op's own next pointer belongs to the store. */
struct job {
    struct store_op *op;
    struct job *next;
};

struct local {
    char *root; /* as given to open; for log lines */
    int journal_pending; /* worker: a committed .txn is not applied yet */
    int rootfd; /* every path below is relative to it */
    pthread_t worker;
    pthread_mutex_t mu; /* guards head, tail, stopping, term */
    pthread_cond_t cv;  /* signalled when a job is queued or on stop */
    struct job *head, *tail;
    int stopping;
    uint64_t term;    /* the term open (store.h's fencing), 0: none */
    uint64_t tmp_seq; /* worker only: fallback for temporary names */
};

/* ------------------------------------------------------------------ */
/* Errors and I/O                                                      */
/* ------------------------------------------------------------------ */

/*
 * Logs a failed system call on <root>/<dir>/<name> (dir and name may be
 * NULL) and maps errno to an agora_err. Call it before anything else can
 * change errno.
 */
static int io_fail(const struct local *l, const char *what, const char *dir,
                   const char *name)
{
    int e = errno;
    char msg[128];

    log_error("store", "%s %s%s%s%s%s: %s", what, l->root, dir ? "/" : "",
              dir ? dir : "", name ? "/" : "", name ? name : "",
              strerror_r(e, msg, sizeof(msg)));
    return e == ENOMEM ? AGORA_ENOMEM : AGORA_EIO;
}

/* A value file that is not one this backend wrote whole. */
static int corrupt(const struct local *l, const char *path, const char *why)
{
    log_error("store", "%s/%s: damaged value file: %s", l->root, path, why);
    return AGORA_EIO;
}

/* Writes all n bytes, through partial writes and EINTR. 0 or -1. */
static int write_full(int fd, const void *buf, size_t n)
{
    const char *p = buf;

    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fsync_full(int fd)
{
    int r;

    do
        r = fsync(fd);
    while (r < 0 && errno == EINTR);
    return r;
}

/* ------------------------------------------------------------------ */
/* Paths                                                               */
/* ------------------------------------------------------------------ */

/*
 * "<ns>/<key><suffix>", or "<ns><suffix>" for the empty key, relative to
 * the root. Returns a malloc'd string the caller frees, or NULL.
 */
static char *rel_path(const char *ns, const char *key, const char *suffix)
{
    size_t n = strlen(ns) + 1 + strlen(key) + strlen(suffix) + 1;
    char *p = malloc(n);

    if (p == NULL)
        return NULL;
    if (key[0] != '\0')
        snprintf(p, n, "%s/%s%s", ns, key, suffix);
    else
        snprintf(p, n, "%s%s", ns, suffix);
    return p;
}

/*
 * The store admits segments of up to AGORA_STORE_KEY_MAX bytes; a
 * directory name is at most NAME_MAX. Such a key is refused here (EINVAL)
 * rather than failing in the file system as an I/O error.
 */
static int segments_fit(const char *key)
{
    size_t n;

    while (*key != '\0') {
        n = strcspn(key, "/");
        if (n > NAME_MAX)
            return 0;
        key += n;
        if (*key == '/')
            key++;
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* Value files                                                         */
/* ------------------------------------------------------------------ */

static void put_le(unsigned char *p, uint64_t v, int n)
{
    int i;

    for (i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    int i;

    for (i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void hdr_encode(unsigned char *h, int64_t version, size_t len)
{
    memcpy(h, hdr_magic, sizeof(hdr_magic));
    put_le(h + 4, HDR_FORMAT, 4);
    put_le(h + 8, (uint64_t)version, 8);
    put_le(h + 16, (uint64_t)len, 8);
}

/* Reads and checks the header of the value file fd (path, for logs). */
static int read_header(const struct local *l, int fd, const char *path,
                       int64_t *version, size_t *len)
{
    unsigned char h[HDR_LEN];
    uint64_t v, n;
    ssize_t got = fs_read_full(fd, h, sizeof(h), -1);

    if (got < 0)
        return io_fail(l, "read", path, NULL);
    if ((size_t)got < sizeof(h) || memcmp(h, hdr_magic, sizeof(hdr_magic)) != 0 ||
        get_le(h + 4, 4) != HDR_FORMAT)
        return corrupt(l, path, "bad header");
    v = get_le(h + 8, 8);
    n = get_le(h + 16, 8);
    /* INT64_MAX itself is refused too: a put must be able to add one. */
    if (v < 1 || v >= (uint64_t)INT64_MAX)
        return corrupt(l, path, "bad version");
    if (n > AGORA_STORE_VALUE_MAX)
        return corrupt(l, path, "bad length");
    *version = (int64_t)v;
    *len = (size_t)n;
    return 0;
}

/* Reads the rest of the value file fd into op (value, len, version). */
static int read_value(const struct local *l, int fd, const char *path,
                      struct store_op *op)
{
    int64_t version;
    size_t len;
    ssize_t got;
    char *buf;
    int rc = read_header(l, fd, path, &version, &len);

    if (rc != 0)
        return rc;
    buf = malloc(len + 1);
    if (buf == NULL)
        return AGORA_ENOMEM;
    got = fs_read_full(fd, buf, len, -1);
    if (got < 0) {
        rc = io_fail(l, "read", path, NULL);
        free(buf);
        return rc;
    }
    if ((size_t)got != len) {
        free(buf);
        return corrupt(l, path, "shorter than its header says");
    }
    buf[len] = '\0'; /* the SDK promises a NUL-terminated value */
    op->value = buf;
    op->len = len;
    op->version = version;
    return 0;
}

/* The version of ns/key in *version, 0 when the key has no value. */
static int current_version(const struct local *l, const char *ns,
                           const char *key, int64_t *version)
{
    char *path = rel_path(ns, key, "/" VALUE_NAME);
    size_t len;
    int fd, rc;

    if (path == NULL)
        return AGORA_ENOMEM;
    fd = openat(l->rootfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        *version = 0;
        rc = 0;
    } else if (fd < 0) {
        rc = io_fail(l, "open", path, NULL);
    } else {
        rc = read_header(l, fd, path, version, &len);
        close(fd);
    }
    free(path);
    return rc;
}

/*
 * Compare-and-set. A missing key has version 0, which is also
 * AGORA_STORE_NEW, so one comparison covers every case: NEW on an
 * existing key and a numbered version on a missing key both mismatch.
 * Every mismatch is AGORA_EVERSION (never EEXIST or ENOENT), as in
 * ZooKeeper, so that a caller tests for one code.
 */
static int version_matches(int64_t expected, int64_t current)
{
    return expected == AGORA_STORE_ANY || expected == current;
}

/* ------------------------------------------------------------------ */
/* Directories                                                         */
/* ------------------------------------------------------------------ */

/* Opens dir (relative to the root) for *at() calls and fsync. */
static int open_dir(const struct local *l, const char *dir, int *fd)
{
    *fd = openat(l->rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        return io_fail(l, "open", dir, NULL);
    return 0;
}

/* fsyncs the directory that holds path, so that an entry made or
 * removed in it survives a crash. path is modified and restored. */
static int sync_parent(const struct local *l, char *path)
{
    char *slash = strrchr(path, '/');
    int fd, rc = 0;

    if (slash == NULL) {
        if (fsync_full(l->rootfd) < 0)
            rc = io_fail(l, "fsync", NULL, NULL);
        return rc;
    }
    *slash = '\0';
    rc = open_dir(l, path, &fd);
    if (rc == 0) {
        if (fsync_full(fd) < 0)
            rc = io_fail(l, "fsync", path, NULL);
        close(fd);
    }
    *slash = '/';
    return rc;
}

/* mkdir -p of dir below the root, each new directory made durable. */
static int make_dirs(const struct local *l, const char *dir)
{
    char *p = strdup(dir);
    char *seg, *slash;
    int rc = 0;

    if (p == NULL)
        return AGORA_ENOMEM;
    for (seg = p; rc == 0; seg = slash + 1) {
        slash = strchr(seg, '/');
        if (slash != NULL)
            *slash = '\0';
        if (mkdirat(l->rootfd, p, 0700) == 0)
            rc = sync_parent(l, p);
        else if (errno != EEXIST)
            rc = io_fail(l, "mkdir", p, NULL);
        if (slash == NULL)
            break;
        *slash = '/';
    }
    free(p);
    return rc;
}

/*
 * Removes dir, then its parents, while they are empty, stopping at the
 * namespace, so that a list shows only keys with a value or children.
 * A directory left behind is harmless (list skips it, the next open
 * removes it), so failures are only logged.
 */
static void prune(const struct local *l, const char *dir)
{
    char *p = strdup(dir);
    char *slash;
    char msg[128];

    if (p == NULL)
        return;
    while ((slash = strrchr(p, '/')) != NULL) {
        /* ENOENT: a failed put may not have made every level. */
        if (unlinkat(l->rootfd, p, AT_REMOVEDIR) < 0 && errno != ENOENT) {
            if (errno != ENOTEMPTY && errno != EEXIST)
                log_warn("store", "rmdir %s/%s: %s", l->root, p,
                         strerror_r(errno, msg, sizeof(msg)));
            break;
        }
        *slash = '\0';
    }
    free(p);
}

/* ------------------------------------------------------------------ */
/* put                                                                  */
/* ------------------------------------------------------------------ */

/* A name for a temporary file. O_EXCL makes any name safe; randomness
 * makes a clash with a leftover, or with another process that opened the
 * same root by mistake, rare. */
static uint64_t tmp_random(struct local *l)
{
    uint64_t v;
    struct timespec ts;

    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
        return v;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)getpid() << 40) ^ (uint64_t)ts.tv_nsec ^
           (++l->tmp_seq << 20);
}

/* Creates a new temporary file in dfd (dir, for logs); its name in name. */
static int create_tmp(struct local *l, int dfd, const char *dir, char *name,
                      size_t size, int *fd)
{
    int tries;

    for (tries = 0; tries < 16; tries++) {
        snprintf(name, size, TMP_PREFIX "%016" PRIx64, tmp_random(l));
        *fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                     0600);
        if (*fd >= 0)
            return 0;
        if (errno != EEXIST)
            return io_fail(l, "create", dir, name);
    }
    return io_fail(l, "create", dir, name);
}

/* Writes the header and value into fd, fsyncs and closes it. */
static int write_tmp(const struct local *l, int fd, const char *dir,
                     const char *name, const struct store_op *op,
                     int64_t version)
{
    unsigned char h[HDR_LEN];
    int rc = 0;

    hdr_encode(h, version, op->len);
    if (write_full(fd, h, sizeof(h)) < 0 ||
        write_full(fd, op->value, op->len) < 0)
        rc = io_fail(l, "write", dir, name);
    else if (fsync_full(fd) < 0)
        rc = io_fail(l, "fsync", dir, name);
    /* close() can report a failed write-back on some file systems. */
    if (close(fd) < 0 && rc == 0)
        rc = io_fail(l, "close", dir, name);
    return rc;
}

/*
 * Replaces dir/.value with op's value at version: temporary file, fsync,
 * rename, fsync of the directory. On failure the old value is intact and
 * the temporary file removed. A failed directory fsync is reported even
 * though the new value is in place: it may not survive a power loss.
 */
static int replace_value(struct local *l, const char *dir,
                         const struct store_op *op, int64_t version)
{
    /* ".tmp." + 16 hex digits + NUL */
    char name[sizeof(TMP_PREFIX) + 16];
    int dfd, fd, rc;

    rc = open_dir(l, dir, &dfd);
    if (rc != 0)
        return rc;
    rc = create_tmp(l, dfd, dir, name, sizeof(name), &fd);
    if (rc != 0) {
        close(dfd);
        return rc;
    }
    rc = write_tmp(l, fd, dir, name, op, version);
    if (rc == 0 && renameat(dfd, name, dfd, VALUE_NAME) < 0)
        rc = io_fail(l, "rename", dir, name);
    if (rc != 0)
        unlinkat(dfd, name, 0); /* best effort: the next open sweeps it */
    else if (fsync_full(dfd) < 0)
        rc = io_fail(l, "fsync", dir, NULL);
    close(dfd);
    return rc;
}

static int local_put(struct local *l, struct store_op *op)
{
    int64_t cur;
    char *dir;
    int rc = current_version(l, op->ns, op->key, &cur);

    if (rc != 0)
        return rc;
    if (!version_matches(op->version, cur))
        return AGORA_EVERSION;
    dir = rel_path(op->ns, op->key, "");
    if (dir == NULL)
        return AGORA_ENOMEM;
    rc = make_dirs(l, dir);
    if (rc == 0)
        rc = replace_value(l, dir, op, cur + 1);
    if (rc == 0)
        op->version = cur + 1;
    else if (cur == 0)
        prune(l, dir); /* undo the directories of a key that never was */
    free(dir);
    return rc;
}

/* ------------------------------------------------------------------ */
/* get, delete                                                          */
/* ------------------------------------------------------------------ */

static int local_get(struct local *l, struct store_op *op)
{
    char *path = rel_path(op->ns, op->key, "/" VALUE_NAME);
    int fd, rc;

    if (path == NULL)
        return AGORA_ENOMEM;
    fd = openat(l->rootfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? AGORA_ENOENT : io_fail(l, "open", path, NULL);
    } else {
        rc = read_value(l, fd, path, op);
        close(fd);
    }
    free(path);
    return rc;
}

/* Removes dir/.value durably. */
static int remove_value(const struct local *l, const char *dir)
{
    int dfd, rc = open_dir(l, dir, &dfd);

    if (rc != 0)
        return rc;
    if (unlinkat(dfd, VALUE_NAME, 0) < 0)
        rc = io_fail(l, "unlink", dir, VALUE_NAME);
    else if (fsync_full(dfd) < 0)
        rc = io_fail(l, "fsync", dir, NULL);
    close(dfd);
    return rc;
}

/*
 * A missing key is AGORA_ENOENT whatever version was named: there is
 * nothing to compare against, and ZooKeeper answers the same.
 */
static int local_delete(struct local *l, struct store_op *op)
{
    int64_t cur;
    char *dir;
    int rc = current_version(l, op->ns, op->key, &cur);

    if (rc != 0)
        return rc;
    if (cur == 0)
        return AGORA_ENOENT;
    if (!version_matches(op->version, cur))
        return AGORA_EVERSION;
    dir = rel_path(op->ns, op->key, "");
    if (dir == NULL)
        return AGORA_ENOMEM;
    rc = remove_value(l, dir);
    if (rc == 0)
        prune(l, dir);
    free(dir);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Walking directories: list, and the sweep at open                     */
/* ------------------------------------------------------------------ */

/*
 * Called for each entry of a directory but "." and "..", with dfd the
 * directory. 0 goes on; anything else stops the walk and is its result.
 */
typedef int (*entry_fn)(const struct local *l, int dfd, const char *name,
                        void *arg);

/*
 * Calls fn for each entry of the directory fd, which it takes ownership
 * of; path is the directory relative to the root (NULL: the root), for
 * logs. Returns fn's result that stopped the walk, 0 at the end, or an
 * agora_err when the directory cannot be read.
 */
static int each_entry(const struct local *l, int fd, const char *path,
                      entry_fn fn, void *arg)
{
    DIR *d = fdopendir(fd);
    struct dirent *e;
    int rc = 0;

    if (d == NULL) {
        rc = io_fail(l, "opendir", path, NULL);
        close(fd);
        return rc;
    }
    while (rc == 0) {
        errno = 0; /* readdir() tells the end from an error only so */
        e = readdir(d);
        if (e == NULL) {
            if (errno != 0)
                rc = io_fail(l, "readdir", path, NULL);
            break;
        }
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            rc = fn(l, dirfd(d), e->d_name, arg);
    }
    closedir(d);
    return rc;
}

/* A name not starting with '.' is a child key's directory. */
static int is_child(const struct local *l, int dfd, const char *name,
                    void *arg)
{
    return name[0] != '.';
}

/* ------------------------------------------------------------------ */
/* list                                                                 */
/* ------------------------------------------------------------------ */

/*
 * Whether name, in the directory dfd (dir, for logs), is a key: a
 * directory holding a .value or children. Empty directories are left only
 * by a failure or a crash. 1, 0 or an agora_err.
 */
static int is_key_dir(const struct local *l, int dfd, const char *dir,
                      const char *name)
{
    int fd = openat(dfd, name,
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    char *path;
    int rc;

    if (fd < 0) {
        /* Not a directory: nothing this backend made; not a key. */
        if (errno == ENOTDIR || errno == ELOOP || errno == ENOENT)
            return 0;
        return io_fail(l, "open", dir, name);
    }
    if (faccessat(fd, VALUE_NAME, F_OK, 0) == 0) {
        close(fd);
        return 1;
    }
    path = rel_path(dir, name, "");
    if (path == NULL) {
        close(fd);
        return AGORA_ENOMEM;
    }
    rc = each_entry(l, fd, path, is_child, NULL);
    free(path);
    return rc;
}

/* A growing array of malloc'd names. */
struct names {
    char **v;
    size_t n, cap;
};

static void names_free(struct names *ns)
{
    size_t i;

    for (i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
    ns->v = NULL;
    ns->n = ns->cap = 0;
}

static int names_add(struct names *ns, const char *name)
{
    char *copy;

    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 16;
        char **v;

        if (cap > SIZE_MAX / sizeof(*v))
            return AGORA_ENOMEM;
        v = realloc(ns->v, cap * sizeof(*v));
        if (v == NULL)
            return AGORA_ENOMEM;
        ns->v = v;
        ns->cap = cap;
    }
    copy = strdup(name);
    if (copy == NULL)
        return AGORA_ENOMEM;
    ns->v[ns->n++] = copy;
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What a list gathers: dir is the listed directory, for logs. */
struct collect {
    const char *dir;
    struct names names;
};

static int collect_one(const struct local *l, int dfd, const char *name,
                       void *arg)
{
    struct collect *c = arg;
    int is_key;

    if (name[0] == '.')
        return 0; /* .value, .tmp.* */
    is_key = is_key_dir(l, dfd, c->dir, name);
    if (is_key <= 0)
        return is_key;
    return names_add(&c->names, name);
}

/*
 * The children of a missing key (or of an empty namespace) are an empty
 * list, not AGORA_ENOENT: a key exists only through its value and
 * children, so "nothing below" is the honest answer.
 */
static int local_list(struct local *l, struct store_op *op)
{
    struct collect c = {NULL, {NULL, 0, 0}};
    char *dir = rel_path(op->ns, op->key, "");
    int fd, rc = 0;

    if (dir == NULL)
        return AGORA_ENOMEM;
    c.dir = dir;
    fd = openat(l->rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT)
        rc = io_fail(l, "open", dir, NULL);
    else if (fd >= 0)
        rc = each_entry(l, fd, dir, collect_one, &c);
    free(dir);
    if (rc != 0) {
        names_free(&c.names);
        return rc;
    }
    if (c.names.n > 1)
        qsort(c.names.v, c.names.n, sizeof(*c.names.v), name_cmp);
    op->names = c.names.v;
    op->nnames = c.names.n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* children                                                             */
/* ------------------------------------------------------------------ */

/* What a children read gathers: dir is the directory read, for logs. */
struct gather {
    const char *dir;
    struct store_entry *v;
    size_t n, cap;
    size_t bytes, limit;
};

static void gather_free(struct gather *g)
{
    size_t i;

    for (i = 0; i < g->n; i++) {
        free(g->v[i].name);
        free(g->v[i].value);
    }
    free(g->v);
}

static int gather_grow(struct gather *g)
{
    size_t cap = g->cap ? g->cap * 2 : 16;
    struct store_entry *v;

    if (g->n < g->cap)
        return 0;
    if (cap > SIZE_MAX / sizeof(*v))
        return AGORA_ENOMEM;
    v = realloc(g->v, cap * sizeof(*v));
    if (v == NULL)
        return AGORA_ENOMEM;
    g->v = v;
    g->cap = cap;
    return 0;
}

/* One entry of the directory: a child with a value joins the result. */
static int gather_one(const struct local *l, int dfd, const char *name,
                      void *arg)
{
    struct gather *g = arg;
    struct store_op tmp;
    struct store_entry *e;
    char *path, *vpath;
    int fd, rc;

    if (name[0] == '.')
        return 0; /* .value, .tmp.* */
    vpath = rel_path(name, "", "/" VALUE_NAME);
    if (vpath == NULL)
        return AGORA_ENOMEM;
    fd = openat(dfd, vpath, O_RDONLY | O_CLOEXEC);
    free(vpath);
    if (fd < 0)
        /* No value (only children), or not a directory of ours. */
        return errno == ENOENT || errno == ENOTDIR
                   ? 0
                   : io_fail(l, "open", g->dir, name);
    path = rel_path(g->dir, name, "/" VALUE_NAME);
    memset(&tmp, 0, sizeof(tmp));
    rc = path == NULL ? AGORA_ENOMEM : read_value(l, fd, path, &tmp);
    close(fd);
    free(path);
    if (rc == 0 && (rc = gather_grow(g)) == 0) {
        g->bytes += tmp.len + strlen(name);
        if (g->bytes > g->limit)
            rc = AGORA_ETOOBIG;
    }
    if (rc == 0) {
        e = &g->v[g->n];
        e->name = strdup(name);
        if (e->name == NULL)
            rc = AGORA_ENOMEM;
    }
    if (rc != 0) {
        free(tmp.value);
        return rc;
    }
    e->value = tmp.value;
    e->len = tmp.len;
    e->version = tmp.version;
    g->n++;
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct store_entry *)a)->name,
                  ((const struct store_entry *)b)->name);
}

/* Children of a missing key: none, as for a list. Stops at the limit. */
static int local_children(struct local *l, struct store_op *op)
{
    struct gather g;
    char *dir = rel_path(op->ns, op->key, "");
    int fd, rc = 0;

    if (dir == NULL)
        return AGORA_ENOMEM;
    memset(&g, 0, sizeof(g));
    g.dir = dir;
    g.limit = op->limit;
    fd = openat(l->rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT)
        rc = io_fail(l, "open", dir, NULL);
    else if (fd >= 0)
        rc = each_entry(l, fd, dir, gather_one, &g);
    if (rc == AGORA_ETOOBIG)
        log_warn("store", "%s/%s: children over the limit of %zu bytes",
                 l->root, dir, g.limit);
    free(dir);
    if (rc != 0) {
        gather_free(&g);
        return rc;
    }
    if (g.n > 1)
        qsort(g.v, g.n, sizeof(*g.v), entry_cmp);
    op->entries = g.v;
    op->nentries = g.n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Transactions: the journal                                            */
/* ------------------------------------------------------------------ */

/*
 * <root>/.txn: a 24-byte header - "AGTX", the format (1), the body's
 * length and its FNV-1a 64 checksum - then the body: the number of ops
 * (4 bytes), and for each op its kind (1: put, 2: delete), the version to
 * write (8), the lengths of ns (2), key (2) and value (4), then those
 * bytes. Integers little-endian.
 */
#define JOURNAL ".txn"
#define JOURNAL_TMP ".txn.tmp"
#define JOURNAL_HDR 24
#define JOURNAL_OP_HDR 17
#define J_PUT 1
#define J_DELETE 2
/* A journal holds at most AGORA_STORE_VALUE_MAX bytes of values and
 * keys, plus headers: anything bigger is not one we wrote. */
#define JOURNAL_MAX                                                          \
    (JOURNAL_HDR + 4 + AGORA_STORE_VALUE_MAX +                               \
     AGORA_STORE_TXN_MAX * (JOURNAL_OP_HDR + 64 + AGORA_STORE_KEY_MAX))

static const unsigned char journal_magic[4] = {'A', 'G', 'T', 'X'};

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The journal of op's puts and deletes (versions set), malloc'd. */
static int journal_encode(const struct store_op *op, unsigned char **out,
                          size_t *outlen)
{
    size_t i, n = JOURNAL_HDR + 4, nslen = strlen(op->ns), count = 0;
    unsigned char *buf, *p;

    for (i = 0; i < op->ntxn; i++)
        if (op->txn[i].kind != AGORA_STORE_TXN_CHECK)
            n += JOURNAL_OP_HDR + nslen + strlen(op->txn[i].key) +
                 op->txn[i].len;
    buf = malloc(n);
    if (buf == NULL)
        return AGORA_ENOMEM;
    p = buf + JOURNAL_HDR + 4;
    for (i = 0; i < op->ntxn; i++) {
        const struct store_txn_op *t = &op->txn[i];
        size_t klen = strlen(t->key);

        if (t->kind == AGORA_STORE_TXN_CHECK)
            continue;
        p[0] = t->kind == AGORA_STORE_TXN_PUT ? J_PUT : J_DELETE;
        put_le(p + 1, (uint64_t)t->version, 8);
        put_le(p + 9, nslen, 2);
        put_le(p + 11, klen, 2);
        put_le(p + 13, t->len, 4);
        p += JOURNAL_OP_HDR;
        memcpy(p, op->ns, nslen);
        memcpy(p + nslen, t->key, klen);
        if (t->len > 0)
            memcpy(p + nslen + klen, t->value, t->len);
        p += nslen + klen + t->len;
        count++;
    }
    put_le(buf + JOURNAL_HDR, count, 4);
    memcpy(buf, journal_magic, 4);
    put_le(buf + 4, 1, 4);
    put_le(buf + 8, n - JOURNAL_HDR, 8);
    put_le(buf + 16, fnv1a(buf + JOURNAL_HDR, n - JOURNAL_HDR), 8);
    *out = buf;
    *outlen = n;
    return 0;
}

/* Commits the journal: .txn.tmp written and fsync'ed, renamed to .txn,
 * the root fsync'ed. Nothing of it counts before the rename. */
static int journal_commit(struct local *l, const unsigned char *buf,
                          size_t len)
{
    int fd, rc = 0;

    fd = openat(l->rootfd, JOURNAL_TMP,
                O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_fail(l, "create", JOURNAL_TMP, NULL);
    if (write_full(fd, buf, len) < 0)
        rc = io_fail(l, "write", JOURNAL_TMP, NULL);
    else if (fsync_full(fd) < 0)
        rc = io_fail(l, "fsync", JOURNAL_TMP, NULL);
    if (close(fd) < 0 && rc == 0)
        rc = io_fail(l, "close", JOURNAL_TMP, NULL);
    if (rc == 0 && renameat(l->rootfd, JOURNAL_TMP, l->rootfd, JOURNAL) < 0)
        rc = io_fail(l, "rename", JOURNAL_TMP, NULL);
    if (rc != 0) {
        unlinkat(l->rootfd, JOURNAL_TMP, 0);
        return rc;
    }
    /* Committed from here, even if the fsync fails: apply it. */
    l->journal_pending = 1;
    if (fsync_full(l->rootfd) < 0)
        return io_fail(l, "fsync", NULL, NULL);
    return 0;
}

/* Applies one put of the journal: dir's value becomes value at version. */
static int journal_put(struct local *l, const char *dir, const char *value,
                       size_t len, int64_t version)
{
    struct store_op tmp;
    int rc = make_dirs(l, dir);

    memset(&tmp, 0, sizeof(tmp));
    tmp.value = (char *)value; /* read only: write_tmp() */
    tmp.len = len;
    if (rc == 0)
        rc = replace_value(l, dir, &tmp, version);
    return rc;
}

/* Applies one delete of the journal: done already is done. */
static int journal_delete(struct local *l, const char *dir)
{
    char *path = rel_path(dir, "", "/" VALUE_NAME);
    int rc = 0;

    if (path == NULL)
        return AGORA_ENOMEM;
    if (faccessat(l->rootfd, path, F_OK, 0) == 0)
        rc = remove_value(l, dir);
    else if (errno != ENOENT && errno != ENOTDIR)
        rc = io_fail(l, "access", path, NULL);
    free(path);
    if (rc == 0)
        prune(l, dir);
    return rc;
}

/* Applies one op at p (n bytes left); *used: its size. */
static int journal_apply_one(struct local *l, const unsigned char *p,
                             size_t n, size_t *used)
{
    size_t nslen, klen, vlen;
    char *dir;
    uint64_t version;
    int rc;

    if (n < JOURNAL_OP_HDR)
        return corrupt(l, JOURNAL, "op cut short");
    version = get_le(p + 1, 8);
    nslen = (size_t)get_le(p + 9, 2);
    klen = (size_t)get_le(p + 11, 2);
    vlen = (size_t)get_le(p + 13, 4);
    if (n - JOURNAL_OP_HDR < nslen + klen + vlen ||
        (p[0] != J_PUT && p[0] != J_DELETE) || version >= INT64_MAX)
        return corrupt(l, JOURNAL, "bad op");
    dir = malloc(nslen + 1 + klen + 1);
    if (dir == NULL)
        return AGORA_ENOMEM;
    memcpy(dir, p + JOURNAL_OP_HDR, nslen);
    dir[nslen] = '/';
    memcpy(dir + nslen + 1, p + JOURNAL_OP_HDR + nslen, klen);
    dir[nslen + 1 + klen] = '\0';
    /* Checked as a call would be: the journal names paths to write. */
    dir[nslen] = '\0';
    rc = store_ns_valid(dir) != 0 || store_key_valid(dir + nslen + 1, 0) != 0;
    dir[nslen] = '/';
    if (rc != 0) {
        free(dir);
        return corrupt(l, JOURNAL, "bad key");
    }
    if (p[0] == J_PUT)
        rc = journal_put(l, dir,
                         (const char *)p + JOURNAL_OP_HDR + nslen + klen,
                         vlen, (int64_t)version);
    else
        rc = journal_delete(l, dir);
    free(dir);
    *used = JOURNAL_OP_HDR + nslen + klen + vlen;
    return rc;
}

/* Checks the journal buf (len bytes) and applies each of its ops. */
static int journal_apply(struct local *l, const unsigned char *buf,
                         size_t len)
{
    size_t off, used = 0;
    uint64_t count, i;
    int rc;

    if (len < JOURNAL_HDR + 4 || memcmp(buf, journal_magic, 4) != 0 ||
        get_le(buf + 4, 4) != 1 || get_le(buf + 8, 8) != len - JOURNAL_HDR ||
        get_le(buf + 16, 8) != fnv1a(buf + JOURNAL_HDR, len - JOURNAL_HDR))
        return corrupt(l, JOURNAL, "bad header or checksum");
    count = get_le(buf + JOURNAL_HDR, 4);
    off = JOURNAL_HDR + 4;
    for (i = 0; i < count; i++, off += used) {
        rc = journal_apply_one(l, buf + off, len - off, &used);
        if (rc != 0)
            return rc;
    }
    return off == len ? 0 : corrupt(l, JOURNAL, "trailing bytes");
}

/* Reads the journal fd into a malloc'd buffer. */
static int journal_read(struct local *l, int fd, unsigned char **out,
                        size_t *len)
{
    struct stat st;
    unsigned char *buf;
    ssize_t got;

    if (fstat(fd, &st) < 0)
        return io_fail(l, "stat", JOURNAL, NULL);
    if (st.st_size < 0 || (uint64_t)st.st_size > JOURNAL_MAX)
        return corrupt(l, JOURNAL, "bad size");
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL)
        return AGORA_ENOMEM;
    got = fs_read_full(fd, buf, (size_t)st.st_size, -1);
    if (got < 0 || (size_t)got != (size_t)st.st_size) {
        free(buf);
        return io_fail(l, "read", JOURNAL, NULL);
    }
    *out = buf;
    *len = (size_t)got;
    return 0;
}

/*
 * Applies a committed journal, if there is one, then removes it; removes
 * a .txn.tmp that never committed. At open and, after a failure, before
 * each op. 0, or the error that keeps the journal (journal_pending).
 */
static int journal_recover(struct local *l)
{
    unsigned char *buf;
    size_t len;
    int fd, rc;

    if (unlinkat(l->rootfd, JOURNAL_TMP, 0) == 0)
        log_info("store", "removed %s/%s: a transaction that never "
                          "committed", l->root, JOURNAL_TMP);
    fd = openat(l->rootfd, JOURNAL, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        l->journal_pending = 0;
        return 0;
    }
    if (fd < 0)
        return io_fail(l, "open", JOURNAL, NULL);
    l->journal_pending = 1;
    rc = journal_read(l, fd, &buf, &len);
    close(fd);
    if (rc != 0)
        return rc;
    rc = journal_apply(l, buf, len);
    free(buf);
    if (rc == 0 && unlinkat(l->rootfd, JOURNAL, 0) < 0)
        rc = io_fail(l, "unlink", JOURNAL, NULL);
    if (rc == 0 && fsync_full(l->rootfd) < 0)
        rc = io_fail(l, "fsync", NULL, NULL);
    if (rc == 0)
        l->journal_pending = 0;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Transactions                                                         */
/* ------------------------------------------------------------------ */

/* Whether op t holds at the key's current version cur. */
static int txn_holds(const struct store_txn_op *t, int64_t cur)
{
    if (t->kind == AGORA_STORE_TXN_DELETE && cur == 0)
        return 0;
    return version_matches(t->version, cur);
}

/*
 * Checks every op; when all hold, sets each op's version to the one after
 * and journals, applies and forgets the puts and deletes. The worker runs
 * one op at a time, so nothing changes between the checks and the writes.
 */
static int local_txn(struct local *l, struct store_op *op)
{
    int64_t cur;
    unsigned char *buf;
    size_t i, len, writes = 0;
    int rc;

    for (i = 0; i < op->ntxn; i++) {
        struct store_txn_op *t = &op->txn[i];

        if (!segments_fit(t->key))
            return AGORA_EINVAL;
        rc = current_version(l, op->ns, t->key, &cur);
        if (rc != 0)
            return rc;
        if (!txn_holds(t, cur)) {
            op->failed = i;
            return AGORA_EVERSION;
        }
        t->version = t->kind == AGORA_STORE_TXN_PUT      ? cur + 1
                     : t->kind == AGORA_STORE_TXN_DELETE ? 0
                                                         : cur;
        writes += t->kind != AGORA_STORE_TXN_CHECK;
    }
    if (writes == 0)
        return 0;
    rc = journal_encode(op, &buf, &len);
    if (rc != 0)
        return rc;
    rc = journal_commit(l, buf, len);
    free(buf);
    /* Applied from the file, as a recovery would: one path for both. */
    if (rc == 0)
        rc = journal_recover(l);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The worker                                                           */
/* ------------------------------------------------------------------ */

/*
 * Whether op is a write of a term that has ended. Checked when the
 * worker takes the op, which it then applies before it takes the next:
 * a write taken while its term was open lands before any op called
 * later, so none of a later term ever sees the store without it.
 */
static int term_over(struct local *l, const struct store_op *op)
{
    uint64_t term;

    if (op->term == 0)
        return 0;
    pthread_mutex_lock(&l->mu);
    term = l->term;
    pthread_mutex_unlock(&l->mu);
    return op->term != term;
}

static int run_op(struct local *l, struct store_op *op)
{
    if (term_over(l, op))
        return AGORA_ENOTLEADER;
    /* A transaction committed but not applied comes first, whole. */
    if (l->journal_pending && journal_recover(l) != 0)
        return AGORA_EIO;
    if (!segments_fit(op->key))
        return AGORA_EINVAL;
    switch (op->kind) {
    case STORE_GET:
        return local_get(l, op);
    case STORE_PUT:
        return local_put(l, op);
    case STORE_DELETE:
        return local_delete(l, op);
    case STORE_LIST:
        return local_list(l, op);
    case STORE_CHILDREN:
        return local_children(l, op);
    case STORE_TXN:
        return local_txn(l, op);
    }
    return AGORA_EINVAL;
}

/* The next job, waiting for one; NULL once stopping and the queue is
 * empty, so that every job queued before close() still runs. */
static struct job *next_job(struct local *l)
{
    struct job *j;

    pthread_mutex_lock(&l->mu);
    while (l->head == NULL && !l->stopping)
        pthread_cond_wait(&l->cv, &l->mu);
    j = l->head;
    if (j != NULL) {
        l->head = j->next;
        if (l->head == NULL)
            l->tail = NULL;
    }
    pthread_mutex_unlock(&l->mu);
    return j;
}

static void *worker_main(void *arg)
{
    struct local *l = arg;
    struct job *j;

    while ((j = next_job(l)) != NULL) {
        struct store_op *op = j->op;

        free(j);
        op->err = run_op(l, op);
        store_complete(op); /* op is the store's again */
    }
    return NULL;
}

/* backend.submit, loop thread: queue op for the worker. */
static void local_submit(void *impl, struct store_op *op)
{
    struct local *l = impl;
    struct job *j = malloc(sizeof(*j));

    if (j == NULL) {
        op->err = AGORA_ENOMEM;
        store_complete(op);
        return;
    }
    j->op = op;
    j->next = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->tail != NULL)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* ------------------------------------------------------------------ */
/* Open and close                                                       */
/* ------------------------------------------------------------------ */

/* Frees what local_new() made before the worker started. */
static void local_free(struct local *l)
{
    if (l->rootfd >= 0)
        close(l->rootfd);
    free(l->root);
    free(l);
}

/* backend.close, loop thread: run what is queued, stop, free. */
static void local_close(void *impl)
{
    struct local *l = impl;

    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->worker, NULL);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    local_free(l);
}

/* backend.term, loop thread: the worker reads it before each op. */
static int local_term(void *impl, uint64_t term, const char *fence)
{
    struct local *l = impl;

    (void)fence; /* nothing but this process writes the directory */
    pthread_mutex_lock(&l->mu);
    l->term = term;
    pthread_mutex_unlock(&l->mu);
    return 0;
}

static const struct store_backend local_backend = {
    .name = "local",
    .submit = local_submit,
    .close = local_close,
    .term = local_term,
};

/* mkdir -p of the root directory; path is modified and restored. */
static int make_root(char *path)
{
    char msg[128];
    char *p;

    for (p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        if (p[-1] != '/') {
            char c = *p;

            *p = '\0';
            if (mkdir(path, 0700) < 0 && errno != EEXIST) {
                log_error("store", "mkdir %s: %s", path,
                          strerror_r(errno, msg, sizeof(msg)));
                *p = c;
                return AGORA_EIO;
            }
            *p = c;
        }
        if (*p == '\0')
            return 0;
    }
}

static int open_root(struct local *l)
{
    char *path = strdup(l->root);
    int rc;

    if (path == NULL)
        return AGORA_ENOMEM;
    rc = make_root(path);
    free(path);
    if (rc != 0)
        return rc;
    l->rootfd = open(l->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (l->rootfd < 0)
        return io_fail(l, "open", NULL, NULL);
    return 0;
}

/* A sweep of one directory: dir relative to the root, kept set when
 * something stays in it. */
struct sweep {
    const char *dir;
    int kept;
};

static int sweep(const struct local *l, int fd, const char *dir,
                 int *empty);

/* Sweeps the child directory name of dfd and removes it when nothing is
 * left in it; anything not a directory stays. */
static int sweep_child(const struct local *l, int dfd, struct sweep *sw,
                       const char *name)
{
    char *child = rel_path(sw->dir, name, "");
    int fd, empty = 0, rc = 0;

    if (child == NULL)
        return AGORA_ENOMEM;
    fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno != ENOTDIR && errno != ELOOP)
        rc = io_fail(l, "open", child, NULL);
    else if (fd >= 0)
        rc = sweep(l, fd, child, &empty);
    if (rc == 0 && empty && unlinkat(dfd, name, AT_REMOVEDIR) < 0)
        rc = io_fail(l, "rmdir", child, NULL);
    if (rc != 0 || !empty)
        sw->kept = 1;
    free(child);
    return rc;
}

static int sweep_one(const struct local *l, int dfd, const char *name,
                     void *arg)
{
    struct sweep *sw = arg;

    if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
        if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
            return io_fail(l, "unlink", sw->dir, name);
        log_info("store", "removed %s/%s/%s, left by a crash", l->root,
                 sw->dir, name);
        return 0;
    }
    if (name[0] == '.') {
        sw->kept = 1; /* .value, or a file not ours */
        return 0;
    }
    return sweep_child(l, dfd, sw, name);
}

/*
 * Removes what a crash can leave in the tree: temporary files of puts
 * that never renamed, and directories a delete or a failed put did not
 * prune. Walks the directory fd (dir relative to the root) and takes
 * ownership of fd. *empty tells the caller whether fd holds nothing any
 * more. The recursion is as deep as a key has segments
 * (at most AGORA_STORE_KEY_MAX / 2), one open fd a level.
 */
static int sweep(const struct local *l, int fd, const char *dir, int *empty)
{
    struct sweep sw = {dir, 0};
    int rc = each_entry(l, fd, dir, sweep_one, &sw);

    *empty = !sw.kept;
    return rc;
}

/*
 * Sweeps each namespace. Nothing at the top level itself is touched: the
 * root may be shared with other files of the master, and no put writes
 * there nor prunes a namespace's directory.
 */
static int sweep_ns(const struct local *l, int dfd, const char *name,
                    void *arg)
{
    int fd, empty;

    if (store_ns_valid(name) != 0)
        return 0;
    fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOTDIR || errno == ELOOP
                   ? 0
                   : io_fail(l, "open", name, NULL);
    return sweep(l, fd, name, &empty);
}

/* Opens the root, sweeps it and starts the worker. */
static int local_new(const char *root, struct local **out)
{
    struct local *l = calloc(1, sizeof(*l));
    sigset_t all, old;
    int rc, fd = -1;

    if (l == NULL)
        return AGORA_ENOMEM;
    l->rootfd = -1;
    l->root = strdup(root);
    rc = l->root == NULL ? AGORA_ENOMEM : open_root(l);
    /* each_entry() closes the fd it is given: hand it a duplicate. */
    if (rc == 0 && (fd = fcntl(l->rootfd, F_DUPFD_CLOEXEC, 0)) < 0)
        rc = io_fail(l, "dup", NULL, NULL);
    if (rc == 0)
        rc = journal_recover(l);
    if (rc == 0)
        rc = each_entry(l, fd, NULL, sweep_ns, NULL);
    else if (fd >= 0)
        close(fd);
    if (rc == 0 && pthread_mutex_init(&l->mu, NULL) != 0)
        rc = AGORA_ENOMEM;
    if (rc == 0 && pthread_cond_init(&l->cv, NULL) != 0) {
        pthread_mutex_destroy(&l->mu);
        rc = AGORA_ENOMEM;
    }
    if (rc != 0) {
        local_free(l);
        return rc;
    }
    /* The worker blocks every signal, so that signals reach the loop
     * thread and the worker's system calls are not interrupted. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&l->worker, NULL, worker_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_error("store", "starting the worker for %s: %s", l->root,
                  strerror(rc));
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        local_free(l);
        return AGORA_EIO;
    }
    *out = l;
    return 0;
}

int store_open_local(struct ev_loop *loop, const char *dir,
                     struct store **out)
{
    struct local *l;
    int rc;

    if (loop == NULL || dir == NULL || dir[0] == '\0' || out == NULL)
        return AGORA_EINVAL;
    rc = local_new(dir, &l);
    if (rc != 0)
        return rc;
    rc = store_open_backend(loop, &local_backend, l, out);
    if (rc != 0) {
        local_close(l);
        return rc;
    }
    log_info("store", "local store at %s", dir);
    return 0;
}
