/*
 * launcher.h - shims forked by a resident launcher instead of exec'd
 * (exec layer).
 *
 * Exec'ing agora-shim for every task costs the loader's work each time
 * (mapping, relocating, glibc's CPU feature probes: CPUID traps under a
 * hypervisor), 30-40% of a shim's CPU, and posix_spawn() holds the
 * agent's loop until that exec is done. The launcher is agora-shim
 * started once (`agora-shim --shim --launcher <room>`); for each launch
 * the agent sends it the task's meta file and the two pipe ends a shim
 * gets (the launch document's reading end, the status pipe's writing
 * end), and it forks a shim, which runs shim_main() as an exec'd one
 * would, in its own session with default signals. The agent gets the
 * shim's pid and a pidfd of it back, and blocks only for the fork.
 *
 * The shim is the launcher's child, not the agent's: the agent watches
 * it through the pidfd (its exit status is the launcher's to reap, so a
 * shim killed by a signal is reported without the signal's number). A
 * forked shim rewrites its argv to `agora-shim --shim <meta_file>` in
 * the room the launcher's last argument keeps, so that recovery finds a
 * shim that had not written its pids yet by its argv, as an exec'd one.
 *
 * The launcher dies with the agent (PR_SET_PDEATHSIG) or when the agent
 * closes its socket; its shims go on. When it cannot be started or
 * fails, launches spawn agora-shim as before.
 */
#ifndef AGORA_AGENT_LAUNCHER_H
#define AGORA_AGENT_LAUNCHER_H

#include <sys/types.h>

struct launcher;

/* The launcher process: argv as `<shim> --shim --launcher <room>`, its
 * socket on fd 3. Returns its exit status. */
int launcher_main(int argc, char **argv);

/* Starts one, of the program at shim_path; NULL (logged) on failure. */
struct launcher *launcher_start(const char *shim_path);

/*
 * Has the launcher fork a shim for meta_file with launch_fd as its fd 0
 * and status_fd as its status pipe (both borrowed: the caller closes its
 * copies). 0 with *pid and *pidfd (the caller's to close), or an errno
 * value: the launcher is then broken, and the caller stops it. On an
 * error *sent says whether the launcher took the request: if it did, a
 * shim may have been forked (the launcher died or hung before it could
 * answer), and another shim must not be started with the same meta file.
 */
int launcher_spawn(struct launcher *l, const char *meta_file, int launch_fd,
                   int status_fd, pid_t *pid, int *pidfd, int *sent);

/* Stops and reaps it; its shims go on. NULL ok. */
void launcher_stop(struct launcher *l);

#endif
