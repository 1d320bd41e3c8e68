/*
 * api_v1.h - the agent's v1 operator API: POST /api/v1 (also
 * /slave(1)/api/v1) with JSON calls, as the Mesos agent serves them
 * (include/mesos/v1/agent/agent.proto; v0 shapes are agent_http.h's).
 *
 *   api_v1.c             the route: checks, dispatch, GET_HEALTH,
 *                        GET_FLAGS, GET_VERSION, GET_METRICS
 *   api_v1_state.c       GET_STATE, GET_FRAMEWORKS, GET_EXECUTORS,
 *                        GET_TASKS
 *   api_v1_containers.c  GET_CONTAINERS, KILL_CONTAINER
 *   api_v1_files.c       LIST_FILES, READ_FILE
 *
 * Each task runs under a command executor of its own (state_json.h), so
 * a task's id is also its executor's id and its container's id.
 *
 * A call's function gets the agent, the call's message (the object under
 * the lower-case key of its type, NULL when absent) and, for a read, w
 * opened where the message's answer goes. It returns 0 when done (a read
 * wrote one value into w), or the HTTP status to answer with and a
 * one-line reason in why (whylen bytes; w is then dropped). Everything
 * runs on the loop and borrows a for the call.
 */
#ifndef AGORA_AGENT_API_V1_H
#define AGORA_AGENT_API_V1_H

#include <stddef.h>

#include <yajl/yajl_tree.h>

struct agent;
struct agora_jw;
struct http_req;

/* POST /api/v1 (arg: the struct agent). */
void agent_api_v1(void *arg, struct http_req *req);

/* A call, in the shape above; the files beside api_v1.c define these. */
typedef int agent_v1_call(struct agent *a, yajl_val msg, struct agora_jw *w,
                          char *why, size_t whylen);

agent_v1_call agent_v1_get_state, agent_v1_get_frameworks,
    agent_v1_get_executors, agent_v1_get_tasks;   /* api_v1_state.c      */
agent_v1_call agent_v1_get_containers,
    agent_v1_kill_container;                      /* api_v1_containers.c */
agent_v1_call agent_v1_list_files, agent_v1_read_file; /* api_v1_files.c */

#endif /* AGORA_AGENT_API_V1_H */
