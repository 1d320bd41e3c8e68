/*
 * dirlock.h - one process per work directory.
 *
 * A daemon holds an exclusive flock(2) on <dir>/lock for as long as it
 * runs, with "<pid> <program>\n" written in the file, so that a second
 * master or agent started on the same directory stops at once and says
 * who holds it, instead of both writing the same store or journal. The
 * lock goes with the process (the kernel drops it on exit, even on
 * kill -9); the descriptor is close-on-exec, so a task's shim never
 * inherits it.
 */
#ifndef AGORA_DIRLOCK_H
#define AGORA_DIRLOCK_H

#include <stddef.h>

/*
 * Creates dir (mkdir -p, 0755 for new parts: task users cross the
 * agent's to their sandboxes) and locks <dir>/lock
 * (0600, opened relative to dir's descriptor with O_NOFOLLOW) for
 * program. Returns the descriptor holding the lock (keep it open until
 * exit), or -1 with the reason in err: "work_dir /x is in use by
 * agora-master (pid 123)" when another process holds it.
 */
int dirlock_take(const char *dir, const char *program, char *err,
                 size_t errlen);

#endif /* AGORA_DIRLOCK_H */
