/*
 * meta.c - a task's meta file, <work_dir>/meta/tasks/<task_id>: what its
 * shim tells whoever reads it after the agent (see exec_int.h for the
 * format). One file a task, in place of the directory of pids and exit
 * files agents kept before (each an inode to allocate, a tmp file and a
 * rename): the agent reads both, so that tasks started by an older agent
 * are recovered.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "exec_int.h"

/* Names in the directory an older agent kept at the meta file's path. */
static const char *const old_files[] = {"pids", "exit", "launch.json",
                                        "pids.tmp", "exit.tmp"};

/* The meta file's text (or the old directory's pids then exit) in buf.
 * Bytes read, or -errno. */
static ssize_t meta_text(const char *path, char *buf, size_t cap)
{
    ssize_t n = exec_read_file(AT_FDCWD, path, buf, cap), m;
    char old[PATH_MAX];

    if (n != -EISDIR)
        return n;
    n = 0;
    buf[0] = '\0';
    for (int i = 0; i < 2; i++) {
        if ((size_t)snprintf(old, sizeof(old), "%s/%s", path, old_files[i]) >=
            sizeof(old))
            return -ENAMETOOLONG;
        m = exec_read_file(AT_FDCWD, old, buf + n, cap - (size_t)n);
        if (m > 0)
            n += m;
    }
    return n;
}

/* "cgroup <name>": a name of one path component only. */
static void cgroup_line(const char *name, struct exec_meta *m)
{
    size_t n = strlen(name);

    if (n == 0 || n > EXEC_CGROUP_NAME_MAX || strchr(name, '/') ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return;
    memcpy(m->cgroup, name, n + 1);
}

/* Parses one complete line (NUL-terminated in place) into m. */
static void meta_line(const char *line, struct exec_meta *m)
{
    int shim, task, off = 0;

    if (strncmp(line, "cgroup ", 7) == 0) {
        cgroup_line(line + 7, m);
        return;
    }
    /* A BRIDGE container's line ends with its address. */
    if (sscanf(line, "%d %" SCNu64 " %d %" SCNu64 " %lf %45s", &shim,
               &m->shim_start, &task, &m->task_start, &m->wall,
               m->ip) >= 5) {
        m->shim = shim;
        m->task = task;
        m->has_pids = 1;
    } else if (sscanf(line, "exited %d", &m->a) == 1) {
        m->end = EXEC_END_EXITED;
    } else if (sscanf(line, "signaled %d", &m->a) == 1) {
        m->end = EXEC_END_SIGNALED;
    } else if (sscanf(line, "failed %d %d%n", &m->a, &m->b, &off) >= 2) {
        m->end = EXEC_END_FAILED;
        if (off > 0 && line[off] == ' ')
            snprintf(m->why, sizeof(m->why), "%s", line + off + 1);
    }
}

int exec_meta_read(const char *path, struct exec_meta *m)
{
    char buf[1024], *line, *nl;
    ssize_t n;

    memset(m, 0, sizeof(*m));
    if ((n = meta_text(path, buf, sizeof(buf))) < 0)
        return (int)n;
    /* A line without its '\n' is still being written: not read yet. */
    for (line = buf; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        meta_line(line, m);
    }
    return 0;
}

int exec_meta_reset(const char *path)
{
    char old[PATH_MAX];

    if (unlink(path) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -errno;
    for (size_t i = 0; i < sizeof(old_files) / sizeof(old_files[0]); i++)
        if ((size_t)snprintf(old, sizeof(old), "%s/%s", path, old_files[i]) <
            sizeof(old))
            (void)unlink(old);
    return rmdir(path) == 0 || errno == ENOENT ? 0 : -errno;
}
