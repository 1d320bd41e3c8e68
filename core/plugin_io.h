/*
 * plugin_io.h - the services table's outbound I/O (plugin_io.c): HTTP
 * requests through core/base/http_client, fd watchers, child processes.
 * Each is a plugin item (plugin_item.h); the table's members are below,
 * with the contracts <agora/plugin.h> states.
 */
#ifndef AGORA_PLUGIN_IO_H
#define AGORA_PLUGIN_IO_H

#include <agora/plugin.h>

struct master;
struct plugin_item;

int plugin_io_http_request(struct agora_host *h,
                           const struct agora_http_request *rq,
                           agora_http_fn cb, void *arg,
                           struct agora_http **out);
void plugin_io_http_cancel(struct agora_host *h, struct agora_http *rq);
const char *plugin_io_http_header(const struct agora_http_response *r,
                                  const char *name);

int plugin_io_fd_watch(struct agora_host *h, int fd, int events,
                       agora_fd_fn fn, void *arg, struct agora_watch **out);
int plugin_io_fd_watch_set(struct agora_host *h, struct agora_watch *w,
                           int events);
void plugin_io_fd_watch_stop(struct agora_host *h, struct agora_watch *w);

int plugin_io_spawn(struct agora_host *h, const struct agora_spawn *sp,
                    agora_exit_fn fn, void *arg, struct agora_proc **out);
int plugin_io_proc_kill(struct agora_host *h, struct agora_proc *pr,
                        int sig);
long plugin_io_proc_pid(struct agora_host *h, struct agora_proc *pr);

/* Releases an item of kind PLUGIN_ITEM_HTTP, _FD or _PROC at unload and
 * frees it: the request is cancelled, the watcher stopped (its fd left
 * open), the child sent SIGTERM and forgotten. No callback runs. */
void plugin_io_release(struct plugin_item *it);

/* Frees m's HTTP client (at stop, after every plugin was unloaded, so no
 * request of a plugin is left). */
void plugin_io_close(struct master *m);

#endif /* AGORA_PLUGIN_IO_H */
