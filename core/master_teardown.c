/*
 * master_teardown.c - Mesos' teardown of a framework: POST
 * /master/teardown (and /teardown) with frameworkId=<id>, and the v1
 * call TEARDOWN.
 *
 * A framework here is a plugin, so a teardown is what Mesos' does to a
 * scheduler, as far as a plugin allows: every live task of the framework
 * is killed, and its plugin is unloaded (a reload without it) until the
 * operator's next reload (SIGHUP or POST /master/reload), which loads it
 * again from conf.d/ as a new registration would. The `teardown` ACL
 * (object: the framework's principal) decides who may.
 */
#include <stdlib.h>
#include <string.h>

#include <agora/sdk.h>

#include "frameworks.h"
#include "http.h"
#include "log.h"
#include "map.h"
#include "master.h"
#include "master_auth.h"
#include "master_teardown.h"
#include "plugins.h"
#include "tasks.h"

#define FORM_KEY "frameworkId="

/* The frameworkId of a form body (Mesos' form) or of the query; NULL. */
static char *form_framework_id(struct http_req *req)
{
    size_t len = 0, k = strlen(FORM_KEY);
    const char *body = http_req_body(req, &len), *p, *end;
    const char *q = http_req_query(req, "frameworkId", 0);

    if (q)
        return strdup(q);
    for (p = body; p && p < body + len; p = end + 1) {
        if (!(end = memchr(p, '&', (size_t)(body + len - p))))
            end = body + len;
        if ((size_t)(end - p) > k && memcmp(p, FORM_KEY, k) == 0)
            return strndup(p + k, (size_t)(end - p) - k);
    }
    return NULL;
}

static int torn_down_add(struct master *m, const char *file)
{
    char **v;

    for (size_t i = 0; i < m->torn_down.n; i++)
        if (strcmp(m->torn_down.v[i], file) == 0)
            return 0;
    v = realloc(m->torn_down.v, (m->torn_down.n + 1) * sizeof(*v));
    if (v == NULL)
        return AGORA_ENOMEM;
    m->torn_down.v = v;
    if ((v[m->torn_down.n] = strdup(file)) == NULL)
        return AGORA_ENOMEM;
    m->torn_down.n++;
    return 0;
}

int master_torn_down(const struct master *m, const char *file)
{
    for (size_t i = 0; i < m->torn_down.n; i++)
        if (strcmp(m->torn_down.v[i], file) == 0)
            return 1;
    return 0;
}

void master_torn_down_clear(struct master *m)
{
    for (size_t i = 0; i < m->torn_down.n; i++)
        free(m->torn_down.v[i]);
    free(m->torn_down.v);
    m->torn_down.v = NULL;
    m->torn_down.n = 0;
}

int master_teardown(struct master *m, struct http_req *req, const char *id,
                    const char **why)
{
    struct agora_framework *fw = id ? map_get(&m->frameworks.by_id, id)
                                    : NULL;
    struct task *t, *next;
    unsigned killed = 0;

    if (fw == NULL) {
        *why = "No framework found with specified ID";
        return 400;
    }
    if (!master_auth_allow(m, req, ACL_TEARDOWN, fw->principal)) {
        *why = "not allowed by the master's ACLs";
        return 403;
    }
    if (torn_down_add(m, fw->p->file) < 0) {
        *why = "out of memory";
        return 503;
    }
    for (t = m->tasks.first; t; t = next) {
        next = t->next;
        if (strcmp(t->framework_id, fw->id) == 0 &&
            !agora_task_state_terminal(t->state) &&
            tasks_kill(m, fw, t->id) == 0)
            killed++;
    }
    log_warn("master", "framework %s torn down: %u tasks killed, plugin %s "
                       "unloaded until the next reload", fw->id, killed,
             fw->p->file);
    m->request_reload(m);
    return 200;
}

void master_teardown_http(void *arg, struct http_req *req)
{
    struct master *m = arg;
    char *id = form_framework_id(req);
    const char *why = NULL;
    int status = master_teardown(m, req, id, &why);

    free(id);
    if (status == 200)
        http_reply(req, 200, NULL, "", 0);
    else
        http_reply(req, status, "text/plain", why, strlen(why));
}
