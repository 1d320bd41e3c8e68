/*
 * task_fetch.h - the fetch step of a launch: a task whose spec has a
 * `fetch` list gets agora-fetcher (fetcher/fetch.h), one child process
 * per task, before the exec layer starts its shim. The agent never
 * fetches anything itself: libcurl and libarchive stay in the child, the
 * loop only watches the child's exit (ev_child, as for shims).
 *
 * While its URIs are fetched a task is TASK_STAGING. The fetcher's exit
 * decides: 0 hands the task to exec_launch(); anything else ends it
 * TASK_FAILED, reason REASON_FETCHER_FAILED, with the fetcher's one-line
 * reason (it names the URI, without userinfo or query). A kill meanwhile
 * kills the fetcher and ends the task TASK_KILLED.
 *
 * Recovery: a fetcher dies with its agent (PR_SET_PDEATHSIG), and the
 * restarted agent finds the task with no shim and fails it
 * (REASON_EXECUTOR_TERMINATED, "the agent restarted before the task was
 * started"), as any task caught before its shim; the framework launches
 * it again, and the fetch runs again. Nothing is left half-placed in the
 * sandbox: the fetcher renames each file into place only when complete.
 */
#ifndef AGORA_AGENT_TASK_FETCH_H
#define AGORA_AGENT_TASK_FETCH_H

struct agent;
struct agent_task;

/* The fetches running now (one an agent, in struct agent). */
struct agent_fetches;

/*
 * Starts t's fetcher when its spec has a non-empty `fetch` list or its
 * `container` names an image (task_image.h), and
 * returns 1: the task is then launched (or failed) when the fetcher
 * ends. Returns 0 when there is nothing to fetch: the caller launches t
 * now. A list no fetch can satisfy (no uri, a scheme other than http,
 * https and file, an output_file that is absolute or holds "..") ends
 * the task TASK_ERROR (REASON_TASK_INVALID) at once, and a fetcher that
 * cannot be started TASK_FAILED; both return 1.
 */
int agent_fetch_begin(struct agent *a, struct agent_task *t);

/* Kills t's fetcher if one runs (t ends TASK_KILLED when it has exited)
 * and returns 1; 0 when none runs for t. */
int agent_fetch_kill(struct agent *a, struct agent_task *t);

/* agora-fetcher beside the agent's binary (malloc'ed), or NULL. */
char *agent_fetcher_path(void);

/* How many fetchers run now. */
unsigned agent_fetch_running(const struct agent *a);

/* Kills every running fetcher and frees what the agent holds of them;
 * their tasks are left as they are (recovery fails them). */
void agent_fetch_fini(struct agent *a);

#endif /* AGORA_AGENT_TASK_FETCH_H */
