/*
 * master_api_v1.h - the v1 operator API on the master: POST /api/v1 with
 * JSON calls, and SUBSCRIBE's RecordIO event stream (see
 * master_api_v1.c and master_api_v1_stream.c).
 */
#ifndef AGORA_MASTER_API_V1_H
#define AGORA_MASTER_API_V1_H

#include <stddef.h>

#include <ev.h>

struct master;
struct http_req;
struct task;
struct agent_rec;
struct agora_framework;
struct api_v1_sub;
struct api_v1_leaving;

/* The subscribers of SUBSCRIBE (a member of struct master). */
struct api_v1 {
    struct api_v1_sub *subs;
    size_t nsubs;
    struct api_v1_leaving *leaving; /* FRAMEWORK_REMOVED held back     */
    ev_timer leave_timer;
    int leave_timer_init;
};

/* A framework that registers again within this many seconds of leaving
 * (a plugin's reload) is FRAMEWORK_UPDATED, not removed and added, as a
 * Mesos scheduler that fails over within its failover_timeout. */
#define API_V1_REREGISTER_WINDOW 2.0

/* Mesos' --max_operator_event_stream_subscribers. */
#define API_V1_SUBSCRIBERS_MAX 1000

/* POST /api/v1 (arg: the struct master). */
void master_api_v1(void *arg, struct http_req *req);

/* SUBSCRIBE: turns req into a stream of events; 0 or an HTTP status to
 * answer with (the reason in why). */
int api_v1_subscribe(struct master *m, struct http_req *req,
                     const char **why);

/* What SUBSCRIBE's streams hear: called by the task table, the agent
 * registry and the framework registry on each change (cheap when no one
 * subscribes). */
void api_v1_task_added(struct master *m, const struct task *t);
void api_v1_task_updated(struct master *m, const struct task *t);
void api_v1_agent_added(struct master *m, struct agent_rec *ag);
void api_v1_agent_removed(struct master *m, const char *agent_id);
void api_v1_framework_added(struct master *m,
                            const struct agora_framework *fw);
void api_v1_framework_removed(struct master *m,
                              const struct agora_framework *fw);

/* Closes every stream (the master stops leading or exits). */
void api_v1_close_all(struct master *m);

#endif /* AGORA_MASTER_API_V1_H */
