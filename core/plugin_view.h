/*
 * plugin_view.h - the services table's views of the master's state for
 * plugins (plugin_view.c): agents, a framework's tasks, the master.
 * Each calls its callback before it returns, with a view borrowed for
 * that call; each returns 0 or an agora_err (see <agora/plugin.h>).
 */
#ifndef AGORA_PLUGIN_VIEW_H
#define AGORA_PLUGIN_VIEW_H

#include <agora/plugin.h>

int plugin_view_agents_each(struct agora_host *h, agora_agent_fn fn,
                            void *arg);
int plugin_view_agent_get(struct agora_host *h, const char *agent_id,
                          agora_agent_fn fn, void *arg);
int plugin_view_tasks_each(struct agora_framework *fw, agora_task_fn fn,
                           void *arg);
int plugin_view_task_get(struct agora_framework *fw, const char *task_id,
                         agora_task_fn fn, void *arg);
int plugin_view_master_info(struct agora_host *h,
                            struct agora_master_info *out);

#endif /* AGORA_PLUGIN_VIEW_H */
