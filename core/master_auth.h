/*
 * master_auth.h - authentication of the master's routes and the plugins'
 * ports (master_auth.c: realms, flags, 401s).
 */
#ifndef AGORA_MASTER_AUTH_H
#define AGORA_MASTER_AUTH_H

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

#endif /* AGORA_MASTER_AUTH_H */
