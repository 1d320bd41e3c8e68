/*
 * updates.h - the reliable status update manager (Mesos semantics,
 * batched; docs/agent-protocol.md "Status updates").
 *
 * Every state change of a task becomes an update with a random UUID and
 * a per-task sequence number. It is journaled first; only once its record
 * is durable may it be sent. All pending durable updates of all tasks
 * (per task in seq order) go in one POST /api/agent/updates, at most one
 * POST in flight; pongs ride on the same POST. An update stays until an
 * `ack` event names it, and is re-sent with exponential backoff (1 s
 * doubling to 60 s: faster than Mesos' 10 s to 10 min, because the master
 * takes updates in batches and deduplicates by seq) and at once after
 * every new subscription. A terminal task whose updates are all acked is
 * handed to agent_task_done().
 */
#ifndef AGORA_AGENT_UPDATES_H
#define AGORA_AGENT_UPDATES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <yajl/yajl_tree.h>

#include <agora/plugin.h>

struct agent;
struct agent_task;
struct agora_jw;
struct journal_snap;

#define UPDATES_RETRY_MIN 1.0
#define UPDATES_RETRY_MAX 60.0
/* Updates in one POST, and a soft bound on its body. */
#define UPDATES_BATCH_MAX 1000
#define UPDATES_BODY_MAX (512 * 1024)

/* One status update, pending until acknowledged. */
struct agent_update {
    struct agent_update *next; /* the task's updates, in seq order      */
    struct task_updates *owner;
    char uuid[37];
    enum agora_task_state state;
    char *reason, *message; /* NULL when none                        */
    int healthy;            /* -1 unknown                            */
    double timestamp;
    uint64_t seq;
    pid_t pid;
    pid_t executor_pid;  /* the task's shim, 0 before it has one  */
    char *health_output; /* its last health check's result, or NULL */
    int durable; /* its journal record is on disk         */
    int sent;    /* in a POST; waiting for its ack        */
    int slot;    /* index in the POST in flight, or -1    */
    double due;  /* re-send when still unacked by then    */
    double backoff;
};

/* The control layer's per-task state (task.h: t->updates). */
struct task_updates {
    struct agent *agent;
    struct agent_task *task;
    struct agent_update *head, *tail;
    size_t n;
    uint64_t next_seq;                /* the seq of the next update (1..)  */
    struct task_updates *prev, *next; /* tasks with pending updates      */
    int listed;
    /* Not handed to exec_launch() yet: its record is not durable, or it
     * waits in link.c's launch queue. */
    int launch_pending;
    struct task_updates *launch_next; /* link.c's launch queue           */
};

/* Creates and frees the manager (a->updates). 0 or AGORA_ENOMEM. */
int updates_init(struct agent *a);
void updates_fini(struct agent *a);

/* Gives t its (empty) update state; 0 or AGORA_ENOMEM. */
int updates_task_init(struct agent *a, struct agent_task *t);
/* Frees t->updates and every update in it. */
void updates_task_free(struct agent *a, struct agent_task *t);

/* Pending (unacknowledged) updates of t. */
size_t updates_count(const struct agent_task *t);

/* The link subscribed: re-send everything unacknowledged now. */
void updates_on_subscribed(struct agent *a);

/* A ping arrived: send a pong (on the next updates POST, soon). */
void updates_pong(struct agent *a);

/* An `ack` named this update: drop it for good. */
void updates_ack(struct agent *a, const char *task_id, const char *uuid);

/* If t is terminal and nothing of it is pending, agent_task_done(). */
void updates_maybe_done(struct agent *a, struct agent_task *t);

/* ---- journal records (recovery.c replays them) ---- */

/* Writes u as the JSON object of the protocol (and of its record). */
void updates_write_json(struct agora_jw *w, const struct agent_task *t,
                        const struct agent_update *u);

/*
 * Writes the key "container_status" of a task into w's open object, in
 * Mesos' shape: {"network_infos": [{"ip_addresses": [{"ip_address":
 * ip}]}], "executor_pid": executor_pid}, the pid left out when 0
 * (docs/agent-protocol.md). Shared by updates and the subscribe body.
 */
void updates_write_container(struct agora_jw *w, const char *ip,
                             pid_t executor_pid);

/* Replay: a durable, unacknowledged update record of task t. */
int updates_replay_update(struct agent *a, struct agent_task *t, yajl_val rec);
/* Replay: an ack record. */
void updates_replay_ack(struct agent *a, struct agent_task *t,
                        const char *uuid);

/* The journal's snapshot: every task record and every pending update. */
int updates_snapshot(void *agent, struct journal_snap *s);

/* Figures for /metrics and tests. */
struct updates_stats {
    uint64_t created, sent, acked, posts, post_failures, pongs;
    size_t pending;
};
void updates_get_stats(const struct agent *a, struct updates_stats *out);

#endif /* AGORA_AGENT_UPDATES_H */
