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
 * shim's pid and a pidfd of it back, read on its loop: a launch never
 * waits for the fork, and a launcher that hangs holds no loop.
 *
 * The shim is the launcher's child, not the agent's: the agent watches
 * it through the pidfd (its exit status is the launcher's to reap, so a
 * shim killed by a signal is reported without the signal's number). A
 * forked shim rewrites its argv to `agora-shim --shim <meta_file>` in
 * the room the launcher's last argument keeps, so that recovery finds a
 * shim that had not written its pids yet by its argv, as an exec'd one.
 * It reads its launch document before it starts anything, so a shim
 * whose answer was lost (the launcher died or hung) reads EOF once the
 * agent closes that pipe, and ends without starting its task.
 *
 * The launcher dies with the agent (PR_SET_PDEATHSIG) or when the agent
 * closes its socket; its shims go on. When it cannot be started or
 * fails, launches spawn agora-shim as before.
 */
#ifndef AGORA_AGENT_LAUNCHER_H
#define AGORA_AGENT_LAUNCHER_H

#include <sys/types.h>

#include <ev.h>

struct launcher;
struct launcher_req;

/* The launcher process: argv as `<shim> --shim --launcher <room>`, its
 * socket on fd 3. Returns its exit status. */
int launcher_main(int argc, char **argv);

/* Seconds a launcher may leave a request unanswered before the agent
 * takes it for hung. */
#define LAUNCHER_TIMEOUT 5.0

/*
 * A request's end, called on the loop once: pid > 0 with pidfd (the
 * callee's to close) when the shim was forked; else pid -1 and err (an
 * errno value) with lost 0 when the launcher answered that it forked
 * nothing, or lost 1 when it died or hung before answering: a shim may
 * have been forked then, and another one must not be started with the
 * same meta file.
 */
typedef void (*launcher_cb)(void *arg, pid_t pid, int pidfd, int err, int lost);

/* Starts one, of the program at shim_path, its answers read on loop;
 * NULL (logged) on failure. */
struct launcher *launcher_start(struct ev_loop *loop, const char *shim_path);

/*
 * Asks for a shim for meta_file with launch_fd as its fd 0 and status_fd
 * as its status pipe (both borrowed: the caller closes its copies once
 * this returns). 0 with *req set (its handle until cb is called), or an
 * errno value when nothing was sent: EAGAIN when the launcher is that far
 * behind, anything else when it is broken (launcher_broken()).
 */
int launcher_request(struct launcher *l, const char *meta_file, int launch_fd,
                     int status_fd, launcher_cb cb, void *arg,
                     struct launcher_req **req);

/* The caller no longer wants req's answer (its task is gone): a shim
 * forked for it is killed when the answer comes. */
void launcher_cancel(struct launcher_req *req);

/* 0 while it works; else the ev_time() it broke at (died, hung, or an
 * answer out of turn), its pending requests ended as lost. */
double launcher_broken(const struct launcher *l);

/* Stops and reaps it; its shims go on, pending requests are ended as
 * lost. NULL ok. */
void launcher_stop(struct launcher *l);

#endif
