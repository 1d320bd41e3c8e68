/*
 * proc.h - small file and /proc helpers, and the cgroup kill sweeps,
 * shared by the exec layer's agent side (exec.c, cgroups.c) and the shim
 * (shim.c). proc.c uses libc only, so agora-shim stays small.
 */
#ifndef AGORA_EXEC_PROC_H
#define AGORA_EXEC_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Reads the whole file `path` (relative to dirfd, or AT_FDCWD) into buf,
 * NUL-terminated. Returns its length, or -errno (-EFBIG when it does not
 * fit in cap - 1 bytes).
 */
ssize_t exec_read_file(int dirfd, const char *path, char *buf, size_t cap);

/* Formats a reason into err (errlen bytes; nothing when err is NULL or
 * errlen 0), cut to fit. */
void exec_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes len bytes to an existing file (a cgroup knob). 0 or -errno. */
int exec_write_file(const char *path, const char *data, size_t len);

/* Writes all len bytes to fd, through partial writes and EINTR. 0 or
 * -errno (-EIO when write() makes no progress). */
int exec_write_all(int fd, const char *data, size_t len);

/*
 * Moves the calling single-threaded process into the cgroup at dir. On
 * v1 it writes "0" (itself) to dir/tasks: moving one thread skips the
 * global threadgroup lock, whose write side waits for an RCU grace
 * period (about 4 ms when no migration ran in the last few ms, measured
 * on 6.18). v2 has no tasks file for a domain cgroup: its pid goes to
 * cgroup.procs. Async-signal-safe (for a child between fork and exec).
 * 0 or an errno value.
 */
int exec_cgroup_join_self(const char *dir);

struct proc_stat {
    char state;
    pid_t ppid, pgrp;
    uint64_t utime, stime; /* clock ticks */
    uint64_t starttime;    /* clock ticks after boot */
    uint64_t rss_pages;
};
/* Parses /proc/<pid>/stat into st. 0 or -errno (-ESRCH when gone). */
int exec_proc_stat(pid_t pid, struct proc_stat *st);

/*
 * Sends sig (0: none) to every pid listed in <dir>/cgroup.procs, reading
 * it in pieces (it may be long). Returns how many were listed (0 when
 * the directory is gone) or -errno.
 */
int exec_procs_signal(const char *dir, int sig);

/*
 * SIGKILLs every process in the cgroup directories dirs[0..n) (v2 is 1
 * for cgroup2 directories: cgroup.kill where the kernel has it). The
 * plain-directory form of cg_kill(), for the shim, which has no struct
 * cgroups. Returns how many processes were found (0: all empty) or
 * -errno.
 */
int exec_procs_kill(char *const dirs[], size_t n, int v2);

#endif /* AGORA_EXEC_PROC_H */
