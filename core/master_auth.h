/*
 * master_auth.h - authentication of the master's routes and the plugins'
 * ports (master_auth.c: realms, flags, 401s).
 */
#ifndef AGORA_MASTER_AUTH_H
#define AGORA_MASTER_AUTH_H

#include "acl.h"

struct master;
struct http_req;

/* Reads --credentials and --jwt_secret_key; checks the --authenticate_*
 * flags have someone to let in. 0, or an agora_err (logged). */
int master_auth_start(struct master *m);
void master_auth_stop(struct master *m);

/* The gates (http_server_set_gate): the master's port (arg: the master)
 * and a plugin's own port (arg: its struct plugin). */
int master_auth_gate(void *arg, struct http_req *req);
int master_auth_plugin_gate(void *arg, struct http_req *req);

/* Whether req's principal may do act on object (acls_allow(); a refusal
 * is logged), and the 403 for when not. */
int master_auth_allow(struct master *m, struct http_req *req,
                      enum acl_action act, const char *object);
void master_auth_forbid(struct http_req *req);

/*
 * Between these, the task lists written (/master/state, /master/tasks,
 * /master/frameworks, the v1 reads) hold only the tasks req's principal
 * may view (view_tasks, whose object is the task's user): for replies
 * built synchronously. master_task_viewable() answers it for one task,
 * for who (NULL: unauthenticated) or, with the master's viewer off,
 * always 1.
 */
void master_view_begin(struct master *m, struct http_req *req);
void master_view_end(struct master *m);
struct task;
int master_task_viewable(const struct master *m, const struct task *t);
int master_task_viewable_by(const struct master *m, const char *who,
                            const struct task *t);

/* The TLS of the master's ports (--ssl_*) into a server's conf. */
struct http_server_conf;
void master_auth_tls_conf(const struct master *m, struct http_server_conf *hc);

/* With --ssl_ca_file, c (a new client of the master's: plugins' requests,
 * the UI's proxy to agents) speaks https:// trusting that CA, with the
 * master's certificate as its own. */
struct hc_client;
void master_auth_client_tls(struct master *m, struct hc_client *c);

#endif /* AGORA_MASTER_AUTH_H */
