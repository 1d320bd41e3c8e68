/*
 * minor1 - a framework plugin built against ABI 2.1, before 2.2 appended
 * fields to agora_status and agora_task_info. The master fills those
 * structs at its own, bigger size; a 2.1 plugin must read every field it
 * knows as before, and loads and runs tasks as it did.
 *
 *   POST /launch/:agent/:task?port=N  launches "sleep 60" with
 *                     cpus:0.1;mem:32;ports:[N-N] on the agent (launch)
 *   POST /launch2/:agent/:a/:b?port=N  two such tasks in one call, from
 *                     an array of 2.2's shorter agora_task_spec
 *   GET  /statuses    [{task_id, agent_id, hostname, state, healthy,
 *                      source, has_uuid}...] as on_status received them
 *   GET  /tasks/:id   task_get: {task_id, name, agent_id, hostname,
 *                      state, resources}
 *   GET  /            {"api_size", "has_store_unwatch"}: what a 2.1
 *                     plugin can tell of the master's table
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/plugin.h>
#include <agora/resources.h>
#include <agora/sdk.h>

static const struct agora_api *api;
static struct agora_host *host;
static struct agora_jw *seen; /* the statuses, an open JSON array */

static void on_status(void *state, struct agora_framework *fw,
                      const struct agora_status *s)
{
    (void)state;
    (void)fw;
    /* Only what ABI 2.1 has: the struct as this plugin was built. */
    agora_jw_obj_open(seen);
    agora_jw_kstr(seen, "task_id", s->task_id);
    agora_jw_kstr(seen, "agent_id", s->agent_id);
    agora_jw_kstr(seen, "hostname", s->hostname);
    agora_jw_kstr(seen, "state", agora_task_state_name(s->state));
    agora_jw_kint(seen, "healthy", s->healthy);
    agora_jw_kstr(seen, "source", s->source);
    agora_jw_kbool(seen, "has_uuid", s->uuid != NULL);
    agora_jw_obj_close(seen);
}

static void post_launch(void *state, struct agora_req *req)
{
    const char *port = api->req_query(req, "port", 0);
    char text[96];
    struct agora_resources res = {NULL, 0};
    struct agora_task_spec spec;
    int rc;

    (void)state;
    snprintf(text, sizeof(text), "cpus:0.1;mem:32;ports:[%s-%s]",
             port ? port : "0", port ? port : "0");
    if (agora_resources_parse(text, &res, NULL, 0) != 0) {
        agora_reply_error(api, req, 400, "bad port");
        return;
    }
    memset(&spec, 0, sizeof(spec));
    spec.task_id = api->req_param(req, "task");
    spec.command = "sleep 60";
    spec.resources = &res;
    rc = api->launch(api->framework_default(host), api->req_param(req, "agent"),
                     &spec, 1);
    agora_resources_free(&res);
    if (rc < 0)
        agora_reply_error(api, req, 500, api->strerror(rc));
    else
        api->reply(req, 202, NULL, "{}", 2);
}

/* agora_task_spec as ABI 2.1 and 2.2 had it, before 2.3 appended fetch
 * and nfetch: an array of these has the shorter stride. */
struct spec_2_2 {
    const char *task_id, *name, *command;
    const char *const *argv;
    const struct agora_kv *env;
    size_t nenv;
    const char *user;
    const struct agora_resources *resources;
    const struct agora_kv *labels;
    size_t nlabels;
    double kill_grace_period;
    const struct agora_health_check *health;
    const char *container_json;
};

/* POST /launch2/:agent/:a/:b?port=N: two tasks in one call, the second
 * on port N+1, from an array laid out as a 2.2 plugin lays it out. */
static void post_launch2(void *state, struct agora_req *req)
{
    const char *port = api->req_query(req, "port", 0);
    long p = port ? strtol(port, NULL, 10) : 0;
    struct agora_resources res[2] = {{NULL, 0}, {NULL, 0}};
    struct spec_2_2 v[2];
    char text[96];
    int rc = 0;

    (void)state;
    memset(v, 0, sizeof(v));
    for (int i = 0; i < 2 && rc == 0; i++) {
        snprintf(text, sizeof(text), "cpus:0.1;mem:32;ports:[%ld-%ld]", p + i,
                 p + i);
        rc = agora_resources_parse(text, &res[i], NULL, 0);
        v[i].task_id = api->req_param(req, i ? "b" : "a");
        v[i].command = "sleep 60";
        v[i].resources = &res[i];
    }
    if (rc == 0)
        rc = api->launch(api->framework_default(host),
                         api->req_param(req, "agent"),
                         (const struct agora_task_spec *)(const void *)v, 2);
    agora_resources_free(&res[0]);
    agora_resources_free(&res[1]);
    if (rc < 0)
        agora_reply_error(api, req, 500, api->strerror(rc));
    else
        api->reply(req, 202, NULL, "{}", 2);
}

static void get_statuses(void *state, struct agora_req *req)
{
    const char *doc = agora_jw_result(seen, NULL);
    size_t len = doc ? strlen(doc) : 0;
    char *body = malloc(len + 2);

    (void)state;
    if (doc == NULL || body == NULL) {
        free(body);
        agora_reply_error(api, req, 500, "out of memory");
        return;
    }
    memcpy(body, doc, len);
    memcpy(body + len, "]", 2);
    api->reply(req, 200, NULL, body, len + 1);
    free(body);
}

static void write_task(void *arg, const struct agora_task_info *t)
{
    struct agora_jw *w = arg;
    char *res = t->resources ? agora_resources_text(t->resources) : NULL;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "task_id", t->task_id);
    agora_jw_kstr(w, "name", t->name);
    agora_jw_kstr(w, "agent_id", t->agent_id);
    agora_jw_kstr(w, "hostname", t->hostname);
    agora_jw_kstr(w, "state", agora_task_state_name(t->state));
    agora_jw_kstr(w, "resources", res);
    agora_jw_obj_close(w);
    free(res);
}

static void get_task(void *state, struct agora_req *req)
{
    struct agora_jw *w = agora_jw_new();
    int rc;

    (void)state;
    rc = api->task_get(api->framework_default(host), api->req_param(req, "id"),
                       write_task, w);
    if (rc < 0)
        agora_reply_error(api, req, rc == AGORA_ENOENT ? 404 : 500,
                          api->strerror(rc));
    else
        agora_reply_jw(api, req, 200, w);
    agora_jw_free(w);
}

static void get_root(void *state, struct agora_req *req)
{
    struct agora_jw *w = agora_jw_new();

    (void)state;
    agora_jw_obj_open(w);
    agora_jw_kint(w, "api_size", api->size);
    agora_jw_kbool(w, "has_store_unwatch",
                   offsetof(struct agora_api, store_unwatch) < api->size);
    agora_jw_obj_close(w);
    agora_reply_jw(api, req, 200, w);
    agora_jw_free(w);
}

static int minor1_init(struct agora_host *h, const struct agora_api *a,
                       const void *conf, void **state)
{
    (void)conf;
    api = a;
    host = h;
    if ((seen = agora_jw_new()) == NULL)
        return AGORA_ENOMEM;
    agora_jw_arr_open(seen);
    *state = NULL;
    return 0;
}

static void minor1_fini(void *state)
{
    (void)state;
    agora_jw_free(seen);
    seen = NULL;
}

static const struct agora_route routes[] = {
    {"POST", "/launch/:agent/:task", post_launch},
    {"POST", "/launch2/:agent/:a/:b", post_launch2},
    {"GET", "/statuses", get_statuses},
    {"GET", "/tasks/:id", get_task},
    {"GET", "/", get_root},
    {NULL, NULL, NULL},
};

static const struct agora_plugin minor1_plugin = {
    .abi_major = AGORA_ABI_MAJOR,
    .abi_minor = 1, /* as a plugin built against ABI 2.1 says */
    .size = (uint32_t)sizeof(struct agora_plugin),
    .name = "minor1",
    .version = "2.1",
    .description = "built against ABI 2.1",
    .routes = routes,
    .init = minor1_init,
    .fini = minor1_fini,
    .on_status = on_status,
};

const struct agora_plugin *agora_plugin_entry(void)
{
    return &minor1_plugin;
}
