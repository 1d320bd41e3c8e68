/*
 * fetch.h - agora-fetcher, the helper the agent runs once per task
 * before its shim (as Mesos runs mesos-fetcher): it fetches the task's
 * URIs into its sandbox. Run as `agora-fetcher`, with its job on fd 0
 * (JSON, below), it exits 0 when every URI is in place, else 1 with one
 * line on fd 3 naming the URI that failed and why (userinfo and query of
 * the URI left out: they may hold secrets). What it does on the way goes
 * to the sandbox's `stderr`.
 *
 * The job (the agent writes it; docs/agent-protocol.md has the `fetch`
 * list of a task):
 *   {"sandbox": "/abs/dir", "user": "name" | null,
 *    "cache_dir": "/abs/dir" | "", "cache_size": bytes,
 *    "max_size": bytes a URI, "max_total": bytes of everything,
 *    "stall_timeout": seconds,
 *    "fetch": [{"uri", "extract", "executable", "cache", "output_file"}],
 *    "image": {...} (optional: fetch_image.h)}
 * With an `image`, the fetcher first pulls it into the image store
 * (docs/containers.md §2) as whoever started it (root: the store is
 * root's), and only then becomes the task's user for the URIs. Run as
 * `agora-fetcher --gc` it is the store's collector instead
 * (fetch_image.h).
 *
 * Mesos' semantics (docs/fetcher.md): http, https and file URIs; the
 * file is named after the last segment of the URI's path, or
 * output_file, a relative path under the sandbox; `executable` makes it
 * 0755 and is never extracted; `extract` (the default) unpacks archives
 * by their name's extension (.tar, .tar.gz/.tgz, .tar.bz2/.tbz2,
 * .tar.xz/.txz, .zip) into the directory of the file, and decompresses
 * a lone .gz beside it; the fetched file stays. `cache` keeps the bytes
 * under cache_dir, keyed by user and URI, for the next task, the least
 * recently used ones evicted past cache_size.
 *
 * Safety: started as root with a user, it makes the sandbox that user's
 * and drops to the user (and no_new_privs) before it touches the
 * network or a file: a file:// URI reads only what the task's user may.
 * Everything it writes is reached from the sandbox's descriptor with
 * O_NOFOLLOW one component at a time, and put in place by rename, which
 * replaces a planted symlink instead of following it. Output paths and
 * archive entries that are absolute or hold `..`, archive symlinks that
 * lead out of their tree, hard links likewise, and devices or FIFOs are
 * refused. Redirects go to http and https only. Each URI is bounded by
 * max_size, all of them and what they extract to by max_total, and a
 * download that moves no byte for stall_timeout fails.
 */
#ifndef AGORA_FETCH_H
#define AGORA_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How a fetched file is unpacked, by its name's extension. */
enum fetch_archive {
    FETCH_PLAIN = 0, /* left as it is                         */
    FETCH_TAR,       /* .tar and its compressed forms: unpack  */
    FETCH_ZIP,       /* .zip: unpack                           */
    FETCH_GZ         /* a lone .gz: decompress beside it       */
};

/* One URI of the job; strings borrowed from the parsed job. */
struct fetch_item {
    const char *uri;
    const char *output_file; /* NULL: the URI's last path segment */
    int extract, executable, cache;
};

/* The job's limits and places. */
struct fetch_conf {
    const char *sandbox;
    const char *user;      /* NULL: whoever runs the fetcher          */
    const char *cache_dir; /* NULL or "": no cache                    */
    uint64_t cache_size;
    uint64_t max_size;
    uint64_t max_total;
    double stall_timeout;
};

/* A run: the conf, the sandbox's descriptor, what was written so far and
 * the reason of the first failure. */
struct fetch_ctx {
    struct fetch_conf conf;
    int sandbox_fd;
    int cache_fd;   /* <cache_dir>/u<uid>, or -1 */
    uint64_t total; /* bytes downloaded and extracted so far */
    char err[1024];
};

/* ---- names and paths (fetch_uri.c): pure, no I/O ---- */

/* "http", "https" or "file" when uri starts with one of them and "://",
 * else NULL (an unsupported scheme). */
const char *fetch_uri_scheme(const char *uri);

/*
 * The last segment of uri's path (query and fragment left out) into
 * out. 0, or -1 when there is none usable ("http://h/", "..").
 */
int fetch_uri_name(const char *uri, char *out, size_t outlen);

/* uri for a log or a status message: userinfo becomes "***@", a query
 * "?***", the fragment goes. Malloc'ed (the caller frees), or NULL. */
char *fetch_uri_redact(const char *uri);

/* The archive kind of a file named name (its extension, any case). */
enum fetch_archive fetch_archive_kind(const char *name);

/* What a .gz decompresses to: name without ".gz" into out. 0 or -1. */
int fetch_gz_target(const char *name, char *out, size_t outlen);

/*
 * Whether rel is a path that stays under the directory it is relative
 * to: not empty, not absolute, no "..", "." or empty component. 0, or -1
 * with the reason in *why (static text).
 */
int fetch_path_check(const char *rel, const char **why);

/*
 * Whether a symlink at entry (a checked relative path) pointing at
 * target stays under the root entry is relative to. 0 or -1.
 */
int fetch_link_check(const char *entry, const char *target);

/*
 * Makes text printable UTF-8 in place, for a status message (the
 * master's JSON parser refuses anything else, and an archive's entry
 * names are any bytes): a byte that starts no complete shortest-form
 * UTF-8 sequence, and a control character, becomes '?'.
 */
void fetch_text_clean(char *text);

/* ---- the sandbox (fetch_fs.c) ---- */

/*
 * Opens, under dirfd, the directory that will hold rel's last
 * component, making the missing ones (0750), each opened with
 * O_NOFOLLOW. Returns its descriptor with *leaf pointing into rel, or -1
 * with errno (ENOTDIR or ELOOP: a symlink on the way).
 */
int fetch_open_parent(int dirfd, const char *rel, const char **leaf);
/* The same, the missing directories made with mode (a layer's: 0755, as
 * Docker makes a whiteout's missing parents). */
int fetch_open_parent_mode(int dirfd, const char *rel, const char **leaf,
                           mode_t mode);

/*
 * A new temporary file in dirfd for name (".name.fetch-XXXXXX", 0600),
 * its name in tmp. The descriptor, or -1 with errno.
 */
int fetch_tmp_create(int dirfd, const char *name, char *tmp, size_t tmplen);

/* Copies all of in (from offset 0) to out, counting against the run's
 * total. 0 or -1 with ctx->err set. */
int fetch_copy(struct fetch_ctx *ctx, int in, int out, const char *what);
/* Writes all of buf to fd through short writes and EINTR. 0 or -1. */
int fetch_write_all(int fd, const char *buf, size_t n);

/* ---- download (fetch_get.c): libcurl ---- */

/* Global curl setup, once a process. 0 or -1. */
int fetch_get_init(void);
void fetch_get_fini(void);

/*
 * Downloads uri into fd (truncated first), at most conf.max_size bytes
 * and what is left of max_total. 0, or -1 with ctx->err naming the
 * redacted URI and the reason.
 */
int fetch_get(struct fetch_ctx *ctx, const char *uri, int fd);

/* ---- unpacking (fetch_extract.c): libarchive ---- */

/*
 * Unpacks the archive in fd (kind TAR or ZIP) into dirfd, or for GZ
 * decompresses it into dirfd's file gz_out. Entries are checked first
 * (see the header); bytes written count against max_total. 0, or -1
 * with ctx->err set (what names the archive).
 */
/* Copies the data of the current entry of in to out, counted against
 * the job's total: over it, ctx->err says "<what>: <too_big> the limit
 * of N bytes". 0 or -1 (ctx->err set). Unpacked URIs and image layers
 * alike. */
struct archive;
int fetch_archive_copy(struct fetch_ctx *ctx, struct archive *in,
                       struct archive *out, const char *what,
                       const char *too_big);

int fetch_extract(struct fetch_ctx *ctx, int fd, enum fetch_archive kind,
                  int dirfd, const char *gz_out, const char *what);

/* ---- the cache (fetch_cache.c) ---- */

/* The cache's file name for uri fetched as uid: 64 hex digits of the
 * SHA-256 of "<uid>\n<uri>", into out (at least 65 bytes). 0 or -1. */
int fetch_cache_key(uid_t uid, const char *uri, char *out, size_t outlen);

/*
 * Removes the least recently used entries of the cache directory dirfd
 * (regular files whose names are keys; by mtime, oldest first) until
 * they hold at most bound bytes; `keep` (a key, or NULL) goes last.
 * Returns how many bytes remain, or -1 with errno.
 */
int64_t fetch_cache_evict(int dirfd, uint64_t bound, const char *keep);

/*
 * Opens ctx's cached copy of uri (read only), fetching it into the cache
 * first when it is not there; a hit refreshes its place in the LRU
 * order. Holds the cache's lock meanwhile, so two tasks asking for one
 * URI fetch it once. The descriptor, or -1 with ctx->err set.
 */
int fetch_cache_open(struct fetch_ctx *ctx, const char *uri);

/* ---- one item (fetch_run.c) ---- */

/* Fetches item into the sandbox as the header says. 0 or -1 with
 * ctx->err set. */
int fetch_item_run(struct fetch_ctx *ctx, const struct fetch_item *item);

#endif /* AGORA_FETCH_H */
