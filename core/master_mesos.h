/*
 * master_mesos.h - the master's endpoints for Mesos' tools (see
 * master_mesos.c).
 */
#ifndef AGORA_MASTER_MESOS_H
#define AGORA_MASTER_MESOS_H

#include "http.h"
#include "router.h"

void master_mesos_flags(void *arg, struct http_req *req);
void master_mesos_state_summary(void *arg, struct http_req *req);

/* Mesos' metric keys that the master's own writers do not name. */
struct master;
struct agora_jw;
void master_mesos_metrics(struct master *m, struct agora_jw *w);

/*
 * Mesos' build keys of /master/state and /version, in the object open in
 * w: "build_date" (text), "build_time" (seconds since the epoch),
 * "build_user" (empty: agora's builds record no user).
 */
void master_mesos_write_build(struct agora_jw *w);

/* Two lists of Mesos' /master/state, in the object open in w:
 * "orphan_tasks" (live tasks of no registered framework) and
 * "unregistered_frameworks" (always empty). */
void master_mesos_state_lists(struct master *m, struct agora_jw *w);

/*
 * Adds fn under every path Mesos serves the master endpoint `name` at:
 * /master/<name>, /<name>, and both with ".json". 0 or AGORA_ENOMEM.
 */
int master_mesos_alias(struct router *r, const char *method, const char *name,
                       http_handler_fn fn, void *arg);

#endif /* AGORA_MASTER_MESOS_H */
