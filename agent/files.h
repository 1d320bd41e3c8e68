/*
 * files.h - the sandbox files behind /files/browse, /files/read and
 * /files/download: which paths a client may reach, and what it gets.
 *
 * A path names something under the sandboxes directory
 * (<work_dir>/sandboxes) in one of two ways:
 *   /sandboxes/<task_id>/stdout        the virtual form, always the same;
 *   <work_dir>/sandboxes/<task_id>/stdout   the real path, as /state gives
 *       a task's "directory" and as the Mesos UI sends it back (any
 *       spelling of it: relative to the agent's cwd, through symlinks).
 * Anything whose real location (after `..` and every symlink) is not the
 * sandboxes directory or below it is refused with 403, whether it exists
 * or not. The check compares whole path components ("/x/sandboxesX" is not
 * under "/x/sandboxes") of canonical paths, and the file is then opened
 * one component at a time without following any symlink, so a sandbox
 * component swapped for a symlink between the check and the open (a task
 * can write its own sandbox) is refused rather than followed.
 *
 * Not covered: a task that runs as the agent's user (root) can hard-link
 * any file of its filesystem into its sandbox; confinement here is
 * against path tricks in requests, not against such a task.
 *
 * Functions that answer a request return 0 or the HTTP status to answer
 * with (400, 403, 404, 413, 500), with a one-line reason in err (errlen
 * bytes, always NUL-terminated when errlen > 0).
 */
#ifndef AGORA_AGENT_FILES_H
#define AGORA_AGENT_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct agora_jw;

/* The virtual directory that stands for <work_dir>/sandboxes. */
#define FILES_VIRTUAL_ROOT "/sandboxes"

/* /files/read returns at most this many bytes of a file per request. */
#define FILES_READ_MAX (1024 * 1024)

/* /files/download refuses (413) files bigger than this. */
#define FILES_DOWNLOAD_MAX ((int64_t)64 * 1024 * 1024)

/* /files/browse lists at most this many entries of a directory. */
#define FILES_BROWSE_MAX 10000

/*
 * The canonical real path of `path` (see above) when it lies within
 * `root` (the sandboxes directory as configured; it need not be
 * canonical). Returns 0 with *real set (malloc'ed; the caller frees it),
 * or 400 (empty or over-long path), 403 (outside root, or not
 * searchable), 404 (missing, within root; also a missing root) or 500,
 * with *real NULL. Only resolves: nothing is opened, so use files_open()
 * to read what it names.
 */
int files_resolve(const char *root, const char *path, char **real, char *err,
                  size_t errlen);

/*
 * Resolves `path` as files_resolve() does and opens it read-only and
 * non-blocking, walking down from root without following symlinks. Only
 * regular files and directories are opened (anything else is 400, so a
 * FIFO in a sandbox cannot stall the loop). Returns 0 with *fd (the
 * caller closes it), *st (its fstat) and, when real is not NULL, *real
 * (malloc'ed), or a status as above with *fd -1.
 */
int files_open(const char *root, const char *path, int *fd, struct stat *st,
               char **real, char *err, size_t errlen);

/*
 * Writes the Mesos listing of `path` to w: an array, sorted by name, of
 *   {"path": <path>/<name>, "nlink", "size", "mtime" (seconds), "mode"
 *    ("drwxr-xr-x"), "uid" and "gid" (names, or numbers as text)}
 * A symlink is described by its target when that lies within root, else
 * as the link itself ("lrwxrwxrwx"). A regular file lists as itself (as
 * the v1 LIST_FILES call does). At most FILES_BROWSE_MAX entries are
 * listed; *truncated (when not NULL) says whether some were left out.
 * Returns 0 or a status as above; w is then unchanged.
 */
int files_browse(const char *root, const char *path, struct agora_jw *w,
                 int *truncated, char *err, size_t errlen);

/* The shapes of a listing's entries: /files/browse's, or the v1 API's
 * FileInfo (mtime {"nanoseconds"}, mode the st_mode number). */
enum files_style { FILES_V0, FILES_V1 };

/* files_browse() with the entries in the given style. */
int files_list(const char *root, const char *path, enum files_style style,
               struct agora_jw *w, int *truncated, char *err, size_t errlen);

/*
 * Reads at most max bytes of the regular file `path` from offset into
 * *buf (malloc'ed; the caller frees it) and their count into *n, with the
 * file's size in *size. offset -1, or one at or past the end, reads
 * nothing: *buf is then NULL (how Mesos answers a tail). Returns 0, 400
 * (offset below -1, a directory) or a status as above.
 */
int files_read_raw(const char *root, const char *path, int64_t offset,
                   size_t max, unsigned char **buf, size_t *n,
                   uint64_t *size, char *err, size_t errlen);

/*
 * Writes the Mesos /files/read answer {"data": ..., "offset": ...} for
 * `path` to w. offset -1 (or one at or past the end) gives no data and the
 * file's size as the offset, which is how the Mesos UI tails a file;
 * length -1 reads to the end. At most FILES_READ_MAX bytes are read. data
 * is the file's bytes as UTF-8 text (see files_utf8_clean()). Returns 0,
 * 400 (offset or length below -1, a directory, not a regular file) or a
 * status as above.
 */
int files_read(const char *root, const char *path, int64_t offset,
               int64_t length, struct agora_jw *w, char *err, size_t errlen);

/*
 * Makes the n bytes at in valid UTF-8 for a JSON string, into out (which
 * must hold 3 * n bytes). Valid UTF-8 is copied as it is; every byte that
 * is not part of a valid sequence (a stray continuation, an overlong form,
 * a surrogate, a code point over U+10FFFF) becomes U+FFFD, one per byte.
 * An incomplete but so far valid sequence at the very end is left out
 * when something comes before it (the next read starts with it, so a
 * character cut by `length` is not mangled); *used says how many input
 * bytes the output stands for. Returns the output's length.
 */
size_t files_utf8_clean(const unsigned char *in, size_t n, char *out,
                        size_t *used);

/* Mesos' "-rw-r--r--" for st_mode, into out (at least 11 bytes). */
void files_mode_string(mode_t mode, char *out);

#endif /* AGORA_AGENT_FILES_H */
