/*
 * tasks_extra.h - what the task table keeps of a task beyond its state
 * (ABI 2.2): the IP addresses and executor pid of its container status,
 * and its last health check's output, as agents report them in updates
 * and subscriptions (docs/agent-protocol.md); and how a status or a task
 * view carries them, with the task's ports. For tasks.c and
 * plugin_view.c; struct task_extra itself is in tasks.h.
 */
#ifndef AGORA_TASKS_EXTRA_H
#define AGORA_TASKS_EXTRA_H

#include <yajl/yajl_tree.h>

#include "tasks.h"

/*
 * What one update or reported task says (a field it does not say is
 * empty): ips interned in the table, health_output borrowed from the
 * JSON it was read from.
 */
struct task_seen {
    const struct task_ips *ips;
    int32_t executor_pid;
    const char *health_output;
};

/*
 * Reads u's "container_status" (at most TASK_IPS_MAX addresses, each an
 * IPv4 or IPv6 address in text; anything else is ignored) and
 * "health_output" (ignored past AGORA_HEALTH_OUTPUT_MAX bytes) into s.
 * Never fails: what cannot be read or interned (out of memory) is left
 * unsaid.
 */
void tasks_seen_parse(struct master *m, yajl_val u, struct task_seen *s);

/*
 * The same from what was read already (agent_update.h): ips[0..n)
 * (n <= TASK_IPS_MAX, each valid by tasks_ip_valid()), the executor pid
 * (taken in 1..INT32_MAX), the health output (borrowed, as s is).
 */
void tasks_seen_make(struct master *m, const char *const *ips, size_t n,
                     int64_t pid, const char *health_output,
                     struct task_seen *s);

/* Whether s is an IPv4 or IPv6 address in text (so it needs no JSON
 * escaping); NULL is not. */
int tasks_ip_valid(const char *s);

/* t keeps what s says, and what it knew of the rest. */
void tasks_seen_take(struct task *t, const struct task_seen *s);

/*
 * The extra of a status of t: what s says (NULL: nothing), the table's
 * values for the rest, t's ports. Free x with tasks_extra_free().
 */
void tasks_extra_build(const struct task *t, const struct task_seen *s,
                       struct task_extra *x);

/* Points st's ABI 2.2 fields at x's. */
void tasks_extra_status(const struct task_extra *x, struct agora_status *st);

/* Frees the interned lists (tasks_free). */
void tasks_ips_free(struct master *m);

#endif /* AGORA_TASKS_EXTRA_H */
