/*
 * state_json.h - the agent's /state document (state_json.c), in the
 * shape of the Mesos agent's /state:
 *
 *   {"version", "id", "pid": "slave(1)@ip:port", "hostname", "start_time",
 *    "resources", "unreserved_resources", "reserved_resources": {role:
 *    {...}}, "attributes", "isolation", "flags", "frameworks": [{"id",
 *    "name", "executors": [...], "completed_executors": [...]}],
 *    "completed_frameworks": [], "tasks": [...]}
 *
 * An executor is {"id", "name", "source", "directory", "resources",
 * "tasks", "queued_tasks", "completed_tasks"}; a task under it is {"id",
 * "name", "framework_id", "executor_id": "", "slave_id", "agent_id",
 * "state", "resources", "statuses": [{"state", "timestamp"?,
 * "healthy"?}], "labels"?: [{"key", "value"}]}.
 *
 * "tasks" at the top is agora's, not Mesos': every task of the
 * frameworks, flat, with the fields operators look for first:
 *   {"id", "name", "framework_id", "state", "healthy" (true, false or
 *    null), "pid" (null before launch), "start_time" (null before
 *    RUNNING), "sandbox", "resources"}
 */
#ifndef AGORA_AGENT_STATE_JSON_H
#define AGORA_AGENT_STATE_JSON_H

#include <stddef.h>

#include <agora/plugin.h>

struct agora_jw;
struct agent;

/* Writes the /state document of a (borrowed) to w; port is the one the
 * agent serves on, for "pid". */
void state_json_write(struct agora_jw *w, const struct agent *a, unsigned port);

/*
 * Writes r as Mesos models resources in /state: {"cpus": 4, "gpus": 0,
 * "mem": 2048, "disk": 10000, "ports": "[31000-32000, 33000-33010]",
 * "disks": "{ssd1, ssd2}"}, every role added up (role NULL) or only
 * `role`'s. cpus, gpus, mem and disk are always there.
 */
void state_json_resources(struct agora_jw *w, const struct agora_resources *r,
                          const char *role);

/* Writes the agent's flags as an object of text values, as Mesos' /flags
 * and /state "flags" give them ("port": "5051"). */
void state_json_flags(struct agora_jw *w, const struct agent *a);

/* ---- pieces the v1 API (api_v1_state.c) shares ---- */

struct agent_task;

/* The tasks of a->tasks and the completed ones, sorted by framework then
 * id (malloc'ed, the caller frees the array; the tasks stay a's: valid
 * until the loop runs again). NULL with *n 0 when there are none or
 * memory is short. */
const struct agent_task **state_json_tasks(const struct agent *a, size_t *n);

/* "Command Executor (Task: <id>)", the name of t's executor. */
void state_json_executor_name(const struct agent_task *t, char *out,
                              size_t len);

/*
 * t's statuses as far as the agent knows them: RUNNING at start_time
 * when it got there, then the current state if it is another one. v0:
 * [{"state", "timestamp"?, "healthy"?}]; v1 (TaskStatus) adds "task_id"
 * and "agent_id" ({"value"}).
 */
void state_json_statuses(struct agora_jw *w, const struct agent *a,
                         const struct agent_task *t, int v1);

struct exec_usage;

/* Mesos' ResourceStatistics of u: {"timestamp", "cpus_user_time_secs",
 * "cpus_system_time_secs", "cpus_limit", "mem_rss_bytes",
 * "mem_limit_bytes", "processes"}, as /monitor/statistics and the v1
 * GET_CONTAINERS write it. */
void state_json_statistics(struct agora_jw *w, const struct exec_usage *u);

/* The key "labels" of t's spec, when it has some: [{"key", "value"}]
 * (v0), or {"labels": [...]} (v1's Labels). */
void state_json_labels(struct agora_jw *w, const struct agent_task *t, int v1);

#endif /* AGORA_AGENT_STATE_JSON_H */
