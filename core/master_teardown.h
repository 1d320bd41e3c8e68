/*
 * master_teardown.h - tearing a framework down (Mesos' /teardown and v1
 * TEARDOWN): its tasks killed, its plugin unloaded until the operator's
 * next reload. See master_teardown.c.
 */
#ifndef AGORA_MASTER_TEARDOWN_H
#define AGORA_MASTER_TEARDOWN_H

struct master;
struct http_req;

/* Tears framework id down for req's principal: 200, or an HTTP status
 * with *why (400 no such framework, 403 by the ACLs). */
int master_teardown(struct master *m, struct http_req *req, const char *id,
                    const char **why);
/* POST /master/teardown and /teardown (frameworkId=<id>). */
void master_teardown_http(void *arg, struct http_req *req);

/* Whether the plugin of this .so was torn down (plugins.c leaves it
 * out of reloads), and forgetting them all (an operator's reload). */
int master_torn_down(const struct master *m, const char *file);
void master_torn_down_clear(struct master *m);

#endif /* AGORA_MASTER_TEARDOWN_H */
