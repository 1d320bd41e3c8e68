/*
 * tasks.h - the master's task table.
 *
 * Every task the master launched or an agent reported: its framework,
 * agent, state, health and a bounded history of statuses. Like Mesos'
 * master, the table lives in memory only; after a master restart it is
 * rebuilt from what agents report when they subscribe again.
 *
 * Status updates from agents are delivered to the owning framework's
 * on_status exactly once per master lifetime (the agent's per-task `seq`
 * tells a re-sent update from a new one) and acknowledged to the agent
 * only after the framework has seen them. A framework with explicit
 * acknowledgements (fw->explicit_acks) acknowledges each update itself
 * (tasks_acknowledge); until it does, every re-sent copy is delivered
 * to it again. An update whose framework is away (its plugin unloaded)
 * still changes the table, so reconciliation answers the latest state
 * known; it is delivered when its agent re-sends it to the framework
 * back.
 */
#ifndef AGORA_TASKS_H
#define AGORA_TASKS_H

#include <stdint.h>

#include <yajl/yajl_tree.h>

#include <agora/plugin.h>

#include "map.h"

struct master;
struct agent_rec;
struct agent_update;
struct agora_jw;
struct http_req;

#define TASK_HISTORY 4

/* Who sent a status (Mesos' TaskStatus.source). */
enum task_source {
    TASK_SOURCE_MASTER,
    TASK_SOURCE_AGENT
};

struct task_status_rec {
    enum agora_task_state state;
    double timestamp;
    int healthy;
    unsigned char source;          /* enum task_source                   */
    unsigned char has_uuid;
    unsigned char uuid[16];        /* the agent's update's, when sent    */
};

/* The latest status of t (t->nhistory > 0). */
#define TASK_LATEST(t) (&(t)->history[((t)->nhistory - 1) % TASK_HISTORY])

/* Writes the "source" and (when it has one) "uuid" of status h as Mesos
 * does, the source as v0 (v1 0) or v1 (1) names it. */
void tasks_write_status_origin(struct agora_jw *w,
                               const struct task_status_rec *h, int v1);

/* The most IP addresses a task's status carries (Mesos has a list; an
 * agent reports its one advertised address). */
#define TASK_IPS_MAX 8

/*
 * A list of IP addresses, interned in the table (tasks.ips): tasks share
 * their agent's, so 100,000 tasks hold a few lists. Never freed before
 * the table (tasks_free).
 */
struct task_ips {
    size_t n;
    const char *v[TASK_IPS_MAX]; /* into text                          */
    char text[];                 /* the key ("a,b"), then "a\0b\0"   */
};

/*
 * One task. A master holds 100,000 of them, so a task is kept small:
 * framework and agent ids are interned (shared, never freed), the name is
 * NULL when it is the id, and identical resources are shared.
 */
struct task {
    char *id;
    char *name;                    /* NULL: same as id                  */
    const char *framework_id;      /* interned                          */
    const char *agent_id;          /* interned                          */
    const char *user;              /* interned; NULL: it names none     */
    const struct agora_resources *resources; /* shared: see tasks_res_*() */
    enum agora_task_state state;
    int healthy;
    char *reason;
    char *message;
    double timestamp;              /* of the latest status             */
    double launched;
    int64_t seq;                   /* highest agent seq delivered       */
    int64_t applied;               /* highest agent seq in the table (>=
                                    * seq: its framework may be away)    */
    struct task_status_rec history[TASK_HISTORY];
    unsigned nhistory;             /* total statuses; ring of TASK_HISTORY */
    int32_t executor_pid;          /* its shim, as reported; 0: unknown  */
    unsigned long mark;            /* last subscription that reported it */
    const struct task_ips *ips;    /* interned; NULL: none reported     */
    char *health_output;           /* its last check's result, or NULL  */
    double kill_grace;             /* its kill_grace_period; -1 unknown  */
    char *container;               /* its launch's container JSON, or
                                    * NULL (most tasks: none)            */
    struct task *prev, *next;      /* launch order, for /master/tasks   */
};

/* Terminal tasks kept for /master/tasks, as Mesos keeps completed ones. */
#define TASKS_COMPLETED_MAX 10000

struct tasks {
    struct map by_id;
    struct map strings;            /* interned ids                      */
    struct map resources;          /* text -> shared resources          */
    struct map ips;                /* text -> struct task_ips           */
    struct task *first, *last;     /* launch order                      */
    /* Live states: tasks in the state now. Terminal states: tasks that
     * ever reached it (Mesos' counters), even once forgotten. */
    uint64_t count[AGORA_TASK_STATE_COUNT];
    uint64_t completed;            /* terminal tasks still in the table */
    uint64_t launched, updates, duplicates;
    uint64_t redelivered;          /* re-sent updates delivered again   */
    uint64_t launches_existing;    /* launches answered with a status   */
    unsigned long mark;
    /* Reconciliation answers about tasks unknown while agents may still
     * report them: task id -> struct task_held list. */
    struct map held;
    /* While agent_proto.c applies an agent's updates POST: the ack
     * event it is writing for that agent, which acknowledgements of
     * the same agent join (send_ack) instead of one event each. */
    struct agent_rec *ack_agent;
    struct agora_jw *ack_into;
};

/* An empty table in m (at start, and after a step-down with tasks_free). */
void tasks_init(struct master *m);
/* Frees every task and what the table holds (held answers too). */
void tasks_free(struct master *m);

/* The task of that id, or NULL. Owned by the table: valid until the
 * next change of the table (an update may trim terminal tasks). */
struct task *tasks_find(struct master *m, const char *id);

/*
 * The ABI 2.2 part of a status or task view (agora/plugin.h): IP
 * addresses, ports, container status, health output. ips and
 * health_output are borrowed from the table (valid until it changes);
 * ports and container_json are x's own, for tasks_extra_free() to
 * release once the status or view was handed out. A field whose memory
 * cannot be had stays empty.
 */
struct task_extra {
    const char *const *ips;
    size_t nips;
    uint32_t *ports;
    size_t nports;
    char *container_json;
    const char *health_output;
};

/* What the table knows of t's container, ports and health output. */
void tasks_extra_of(const struct task *t, struct task_extra *x);
void tasks_extra_free(struct task_extra *x);

/*
 * Launches tasks of fw on an agent (the services table's launch). A
 * task whose id is in the table is answered with its status, not run
 * again (tasks_launch_known). A problem with one task (invalid spec,
 * too few free resources, agent not connected) is reported to fw as a
 * TASK_ERROR or TASK_DROPPED status, delivered from the loop. Returns 0,
 * or AGORA_EINVAL / AGORA_ENOMEM for bad arguments.
 */
int tasks_launch(struct master *m, struct agora_framework *fw,
                 const char *agent_id, const struct agora_task_spec *specs,
                 size_t n);

/* Asks the task's agent to kill it (the services table's kill). */
int tasks_kill(struct master *m, struct agora_framework *fw,
               const char *task_id);
/* The same, within grace seconds at most when grace >= 0 (a drain's
 * max_grace_period) instead of the task's own kill grace period. */
int tasks_kill_grace(struct master *m, struct agora_framework *fw,
                     const char *task_id, double grace);

/*
 * Applies one update posted by an agent (read by agent_update.h; u is
 * borrowed for the call). Returns 1
 * when it should be acknowledged (delivered now or already delivered),
 * 0 when it must wait (its framework is not registered, or acknowledges
 * explicitly and has not yet), or an error for a malformed update
 * (acknowledged too: it can never succeed).
 */
int tasks_agent_update(struct master *m, struct agent_rec *ag,
                       const struct agent_update *u);

/* Takes in a task an agent reports on subscribing (reconciliation). */
void tasks_agent_report(struct master *m, struct agent_rec *ag, yajl_val t);

/* The agent subscribed again: its tasks it did not report are lost. */
void tasks_agent_reported_all(struct master *m, struct agent_rec *ag,
                              double since);

/* The agent's resources changed: count its live tasks again. */
void tasks_agent_recount(struct master *m, struct agent_rec *ag);

/*
 * Launches one task whose resources are already placed by the allocator
 * (an accepted offer): takes `placed` over. The spec was checked with
 * tasks_spec_problem(). 0 or AGORA_ENOMEM.
 */
int tasks_launch_placed(struct master *m, struct agora_framework *fw,
                        struct agent_rec *ag,
                        const struct agora_task_spec *sp,
                        struct agora_resources *placed);

/*
 * Idempotent launches: when sp's task id is in the table, answers fw
 * (from the loop) with the task's current status, reason
 * REASON_TASK_ALREADY_EXISTS, or with TASK_ERROR when the task is
 * another framework's, and returns 1: the task must not be launched.
 * 0 when the id is new.
 */
int tasks_launch_known(struct master *m, struct agora_framework *fw,
                       const struct agora_task_spec *sp,
                       const char *agent_id);

/*
 * The services table's acknowledge: fw acknowledges update uuid of
 * task_id (borrowed for the call). The agent hears it now, or when it
 * re-sends the update if it is not connected. 0, AGORA_EINVAL,
 * AGORA_ENOENT (fw waits on no such update) or AGORA_ENOMEM.
 */
int tasks_acknowledge(struct master *m, struct agora_framework *fw,
                      const char *task_id, const char *uuid);

/*
 * The services table's framework_set_explicit_acks. Turning them off
 * acknowledges every update fw still waits on. On, fw's id is
 * remembered past its removal: while it is away, its updates re-sent by
 * agents wait for its next registration instead of being acknowledged
 * as already delivered. 0, AGORA_EINVAL or AGORA_ENOMEM.
 */
int tasks_set_explicit_acks(struct master *m, struct agora_framework *fw,
                            int on);

/* Why fw may not run sp (the ACLs' run_tasks, as its principal and for
 * the task's user), or NULL: it may. */
const char *tasks_spec_unauthorized(struct master *m,
                                    const struct agora_framework *fw,
                                    const struct agora_task_spec *sp);

/* Why a spec can never run (bad id, duplicate, no command), or NULL. */
const char *tasks_spec_problem(struct master *m,
                               const struct agora_task_spec *sp);

/* Reports a task that never reached the table to fw (TASK_ERROR, ...). */
void tasks_refuse(struct master *m, struct agora_framework *fw,
                  const char *task_id, const char *agent_id,
                  enum agora_task_state state, const char *reason,
                  const char *message);

/* The agent was marked gone: its live tasks (unreachable ones too) go
 * TASK_GONE_BY_OPERATOR. */
void tasks_agent_gone(struct master *m, struct agent_rec *ag);

/* Kills the live tasks of a draining agent, each within its drain's
 * max_grace_period (DRAIN_AGENT, and again when it subscribes: a kill
 * sent before a failover may not have reached it). */
void tasks_drain_kill(struct master *m, struct agent_rec *ag);

/* A draining agent with no live task left is drained (called as its
 * tasks end, and once after DRAIN_AGENT for an agent with none). */
void tasks_drain_settle(struct master *m, struct agent_rec *ag);

/* The agent is unreachable: its live tasks go TASK_UNREACHABLE. */
void tasks_agent_unreachable(struct master *m, struct agent_rec *ag);

/*
 * Sends fw the master's latest status of a task (reconciliation). A task
 * the master does not know is TASK_UNKNOWN, but not while the agents of
 * a new leader may still report it (agents_recovering()): the answer
 * then waits, as Mesos' does, for the task to be reported or for the
 * recovery to end.
 */
void tasks_answer(struct master *m, struct agora_framework *fw,
                  const char *task_id);

/* The recovery after an election ended: the answers held go out. */
void tasks_recovered(struct master *m);

/*
 * Queues the current status of each task for fw->on_status, delivered
 * from the loop (never inside the call), as tasks_answer() does for one.
 * n == 0 asks for every live task of fw. task_ids are borrowed for the
 * call. 0, or AGORA_EINVAL for a NULL id (the ids before it are asked).
 */
int tasks_reconcile(struct master *m, struct agora_framework *fw,
                    const char *const *task_ids, size_t n);

/* JSON writers (Mesos shapes). tasks_write_one writes t as one object
 * into w (copies); tasks_http_list answers GET /master/tasks (arg: the
 * struct master); tasks_write_metrics adds the master/tasks_* keys. */
void tasks_write_one(struct agora_jw *w, const struct task *t);
/* Adds the resources of fw_id's live tasks (not unreachable) to *sum: 0
 * or AGORA_ENOMEM. */
int tasks_used_of_framework(struct master *m, const char *fw_id,
                            struct agora_resources *sum);
/* Writes the keys "tasks" (live), "unreachable_tasks" and
 * "completed_tasks" (terminal) of framework fw_id into the open object
 * of w, as Mesos does. */
void tasks_write_of_framework(struct master *m, struct agora_jw *w,
                              const char *fw_id);
void tasks_http_list(void *arg, struct http_req *req); /* /master/tasks */
void tasks_write_metrics(struct master *m, struct agora_jw *w);

#endif /* AGORA_TASKS_H */
