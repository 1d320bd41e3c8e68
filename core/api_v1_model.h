/*
 * api_v1_model.h - the master's state in the v1 operator API's JSON
 * (include/mesos/v1/master/master.proto, mesos.proto, as protobuf's JSON
 * mapping writes them: ids as {"value": ...}, times as {"nanoseconds"},
 * resources as full Resource objects).
 */
#ifndef AGORA_API_V1_MODEL_H
#define AGORA_API_V1_MODEL_H

#include <agora/json.h>

struct master;
struct task;
struct agent_rec;
struct agora_framework;

/* One object each. */
void api_v1_write_task(struct agora_jw *w, struct master *m,
                       const struct task *t);
void api_v1_write_task_status(struct agora_jw *w, struct master *m,
                              const struct task *t);
void api_v1_write_agent(struct agora_jw *w, struct master *m,
                        struct agent_rec *ag);
void api_v1_write_framework(struct agora_jw *w, struct master *m,
                            const struct agora_framework *fw);
void api_v1_write_framework_info(struct agora_jw *w, struct master *m,
                                 const struct agora_framework *fw);

/* The payloads of GET_TASKS, GET_AGENTS, GET_FRAMEWORKS, GET_EXECUTORS
 * and GET_STATE (the inside of "get_tasks" etc.), one object each. */
void api_v1_write_get_tasks(struct agora_jw *w, struct master *m);
void api_v1_write_get_agents(struct agora_jw *w, struct master *m);
void api_v1_write_get_frameworks(struct agora_jw *w, struct master *m);
void api_v1_write_get_executors(struct agora_jw *w);
void api_v1_write_get_state(struct agora_jw *w, struct master *m);

#endif /* AGORA_API_V1_MODEL_H */
