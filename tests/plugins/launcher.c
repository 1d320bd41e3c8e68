/*
 * launcher - a test plugin that launches tasks on the agents the tests
 * name and records every status it receives, so end-to-end tests can
 * drive real agents through the master and check what a framework sees.
 *
 *   POST /launch      {"agent_id": "...", "tasks": [{task spec}...]}
 *   POST /kill/:id
 *   POST /reconcile   {"task_ids": [...]}   (empty: implicit)
 *   GET  /statuses    [{task_id, state, reason, message, healthy, uuid,
 *                       source, agent_id, timestamp, and from ABI 2.2
 *                       ip_addresses, ports, container_status,
 *                       health_output}...] in arrival order
 *                     (?task_id= filters; ?from=K: the K-th on, cut
 *                     from the log, so a poller reads each status once)
 *   POST /store/:key?size=N   puts N bytes ('x') under key in the store:
 *                     201 {"version"}, or the store's refusal as JSON
 *                     (413 for a value over the limit, at the call)
 *   GET  /store/:key  {"len", "version"}, 404 when absent
 *   POST /txn         [{"op": "put"|"delete"|"check", "key", "value",
 *                       "version"}...] as one store_txn(): 200
 *                     {"versions": [...]}, 409 {"failed": index}
 *   GET  /children?key=K  store_get_children(K): {"entries": [{name,
 *                     value, version}...]}, 413 past the limit
 *   GET  /store_events  [{event, key, version}] of every write its watch
 *                     on the whole namespace (made in init) heard
 *   GET  /agents, /agents/:id   the master's agents (agents_each, agent_get)
 *   GET  /tasks, /tasks/:id     its framework's tasks (tasks_each, task_get),
 *                     with the ABI 2.2 fields as /statuses has them
 *   GET  /master                master_info, agora_api_minor() and (2.4)
 *                               the request's principal
 *   POST /abdicate    202, then gives up the lead (abdicate)
 *   POST /ready?why=  set_ready(0, why), or set_ready(1) without why
 *   POST /observe/:name?v=X     metric_observe(name, X)
 *   GET  /events      [{type, data}] of every event it was told of since
 *                     init (subscribe to all)
 *   POST /explicit_acks?on=1|0   framework_set_explicit_acks on its
 *                     framework (also at init with `explicit_acks = true`
 *                     in its conf)
 *   GET  /unacked     [{task_id, uuid}] of the agents' updates it received
 *                     with explicit acks on and has not acknowledged
 *   POST /ack         {"task_id", "uuid"}: acknowledge(); 200, or 404 for
 *                     AGORA_ENOENT
 *
 * With `fini_key = K` in its conf, fini puts "fini" under K (fencing
 * tests: it must not land when the master was deposed).
 *
 * Launching twice is POST /launch twice with the same task id.
 *
 * The task spec is the agent protocol's (docs/agent-protocol.md):
 * task_id, name, command | argv, env {}, user, resources, labels {},
 * kill_grace_period, health_check {type, command, path, port,
 * port_index, delay, grace_period, interval, timeout,
 * max_consecutive_failures}, container_json (the container as JSON
 * text). It is test code, not a default plugin.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/plugin.h>
#include <agora/resources.h>
#include <agora/sdk.h>

struct launcher {
    struct agora_host *h;
    const struct agora_api *api;
    const char *fini_key;          /* conf's, valid until fini */
    struct agora_jw *store_events; /* an array left open */
    struct agora_jw *log; /* the statuses, as an open JSON array */
    size_t nstatuses;
    size_t *offs;  /* where each status begins in log's text */
    size_t noffs;  /* offs' room */
    int offs_lost; /* offs could not grow: ?from= answers 500 */
    struct agora_jw *events; /* the events heard, as an open JSON array */
    int explicit_acks;
    struct unacked { char *task_id, *uuid; } *unacked; /* not acked yet */
    size_t nunacked, capunacked;
};

struct launcher_conf {
    int explicit_acks;
    const char *fini_key;
};

static const struct agora_conf_field conf_fields[] = {
    {"explicit_acks", AGORA_CONF_BOOL, "false",
     offsetof(struct launcher_conf, explicit_acks),
     "acknowledge agents' updates explicitly (POST /ack)"},
    {"fini_key", AGORA_CONF_STRING, NULL,
     offsetof(struct launcher_conf, fini_key),
     "a key fini puts \"fini\" under (without waiting for it)"},
    {NULL, 0, NULL, 0, NULL},
};

/* Remembers an update to acknowledge (once per uuid). */
static void unacked_add(struct launcher *l, const char *task_id,
                        const char *uuid)
{
    size_t i;

    for (i = 0; i < l->nunacked; i++)
        if (strcmp(l->unacked[i].uuid, uuid) == 0)
            return;
    if (l->nunacked == l->capunacked) {
        size_t cap = l->capunacked ? l->capunacked * 2 : 16;
        struct unacked *v = realloc(l->unacked, cap * sizeof(*v));

        if (v == NULL)
            return;
        l->unacked = v;
        l->capunacked = cap;
    }
    l->unacked[l->nunacked].task_id = strdup(task_id);
    l->unacked[l->nunacked].uuid = strdup(uuid);
    if (!l->unacked[l->nunacked].task_id || !l->unacked[l->nunacked].uuid) {
        free(l->unacked[l->nunacked].task_id);
        free(l->unacked[l->nunacked].uuid);
        return;
    }
    l->nunacked++;
}

static void unacked_remove(struct launcher *l, const char *uuid)
{
    size_t i;

    for (i = 0; i < l->nunacked; i++) {
        if (strcmp(l->unacked[i].uuid, uuid) == 0) {
            free(l->unacked[i].task_id);
            free(l->unacked[i].uuid);
            l->unacked[i] = l->unacked[--l->nunacked];
            return;
        }
    }
}

/* ---- statuses ---- */

/*
 * What ABI 2.2 appended to statuses and task views, as JSON keys:
 * "ip_addresses", "ports", "container_status" (the JSON text parsed) and
 * "health_output"; nothing on a master older than 2.2.
 */
static void write_extra(struct agora_jw *w, const struct agora_api *api,
                        const char *const *ips, size_t nips,
                        const uint32_t *ports, size_t nports,
                        const char *container, const char *health)
{
    size_t i;

    if (agora_api_minor(api) < 2)
        return;
    agora_jw_key(w, "ip_addresses");
    agora_jw_arr_open(w);
    for (i = 0; i < nips; i++)
        agora_jw_str(w, ips[i]);
    agora_jw_arr_close(w);
    agora_jw_key(w, "ports");
    agora_jw_arr_open(w);
    for (i = 0; i < nports; i++)
        agora_jw_int(w, ports[i]);
    agora_jw_arr_close(w);
    agora_jw_key(w, "container_status");
    if (container)
        agora_jw_raw(w, container, strlen(container));
    else
        agora_jw_null(w);
    agora_jw_kstr(w, "health_output", health);
}

/* Notes where the status just opened in the log begins (its '{'). */
static void log_offset(struct launcher *l)
{
    size_t len;

    if (l->offs_lost || !agora_jw_result(l->log, &len))
        return;
    if (l->nstatuses == l->noffs) {
        size_t n = l->noffs ? l->noffs * 2 : 1024;
        size_t *o = realloc(l->offs, n * sizeof(*o));

        if (o == NULL) {
            l->offs_lost = 1;
            return;
        }
        l->offs = o;
        l->noffs = n;
    }
    l->offs[l->nstatuses] = len - 1;
}

static void on_status(void *state, struct agora_framework *fw,
                      const struct agora_status *s)
{
    struct launcher *l = state;

    (void)fw;
    agora_jw_obj_open(l->log);
    log_offset(l);
    agora_jw_kstr(l->log, "task_id", s->task_id);
    agora_jw_kstr(l->log, "state", agora_task_state_name(s->state));
    agora_jw_kstr(l->log, "reason", s->reason);
    agora_jw_kstr(l->log, "message", s->message);
    agora_jw_key(l->log, "healthy");
    if (s->healthy < 0)
        agora_jw_null(l->log);
    else
        agora_jw_bool(l->log, s->healthy);
    agora_jw_kstr(l->log, "uuid", s->uuid);
    agora_jw_kstr(l->log, "source", s->source);
    agora_jw_kstr(l->log, "agent_id", s->agent_id);
    agora_jw_knum(l->log, "timestamp", s->timestamp);
    write_extra(l->log, l->api, s->ip_addresses, s->nip_addresses, s->ports,
                s->nports, s->container_status_json, s->health_output);
    agora_jw_obj_close(l->log);
    l->nstatuses++;
    if (l->explicit_acks && s->uuid)
        unacked_add(l, s->task_id, s->uuid);
}

/* Writes v, any JSON value, into w. */
static void jw_value(struct agora_jw *w, yajl_val v)
{
    size_t k;

    if (YAJL_IS_OBJECT(v)) {
        agora_jw_obj_open(w);
        for (k = 0; k < v->u.object.len; k++) {
            agora_jw_key(w, v->u.object.keys[k]);
            jw_value(w, v->u.object.values[k]);
        }
        agora_jw_obj_close(w);
    } else if (YAJL_IS_ARRAY(v)) {
        agora_jw_arr_open(w);
        for (k = 0; k < v->u.array.len; k++)
            jw_value(w, v->u.array.values[k]);
        agora_jw_arr_close(w);
    } else if (YAJL_IS_STRING(v)) {
        agora_jw_str(w, YAJL_GET_STRING(v));
    } else if (YAJL_IS_NUMBER(v)) {
        agora_jw_num(w, YAJL_GET_DOUBLE(v));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        agora_jw_bool(w, YAJL_IS_TRUE(v));
    } else {
        agora_jw_null(w);
    }
}

/* ?from=K: the statuses from the K-th on, cut from the log's text. */
static void get_statuses_from(struct launcher *l, struct agora_req *req,
                              const char *from)
{
    size_t len, k, n;
    const char *doc = agora_jw_result(l->log, &len);
    char *end, *body;
    unsigned long long v = strtoull(from, &end, 10);

    if (*from < '0' || *from > '9' || *end) {
        agora_reply_error(l->api, req, 400, "from: not a count");
        return;
    }
    if (doc == NULL || l->offs_lost) {
        agora_reply_error(l->api, req, 500, "status log broken");
        return;
    }
    k = v < l->nstatuses ? (size_t)v : l->nstatuses;
    n = k < l->nstatuses ? len - l->offs[k] : 0;
    if ((body = malloc(n + 2)) == NULL) {
        agora_reply_error(l->api, req, 500, "out of memory");
        return;
    }
    body[0] = '[';
    if (n)
        memcpy(body + 1, doc + l->offs[k], n);
    body[n + 1] = ']';
    l->api->reply(req, 200, NULL, body, n + 2);
    free(body);
}

/* The array so far, closed, optionally filtered by task id. */
static void get_statuses(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    const char *want = l->api->req_query(req, "task_id", 0);
    const char *from = l->api->req_query(req, "from", 0);
    const char *doc = agora_jw_result(l->log, NULL);
    char err[128];
    struct agora_jw *out;
    yajl_val all;
    char *text;
    size_t i, len;

    if (from && !want) {
        get_statuses_from(l, req, from);
        return;
    }
    if (doc == NULL) {
        agora_reply_error(l->api, req, 500, "status log broken");
        return;
    }
    len = strlen(doc);
    text = malloc(len + 2);
    if (text == NULL) {
        agora_reply_error(l->api, req, 500, "out of memory");
        return;
    }
    memcpy(text, doc, len);
    memcpy(text + len, "]", 2);
    all = agora_json_parse(text, err, sizeof(err));
    free(text);
    out = agora_jw_new();
    agora_jw_arr_open(out);
    for (i = 0; all && i < all->u.array.len; i++) {
        yajl_val s = all->u.array.values[i];
        const char *id = NULL;

        agora_json_str(s, "task_id", &id);
        if (want == NULL || (id && strcmp(id, want) == 0))
            jw_value(out, s); /* re-emitted as it was */
    }
    agora_jw_arr_close(out);
    agora_reply_jw(l->api, req, 200, out);
    agora_jw_free(out);
    if (all)
        yajl_tree_free(all);
}

/* ---- launching ---- */

/* Everything one spec borrows, freed after the launch call. */
struct spec_buf {
    struct agora_task_spec spec;
    struct agora_resources res;
    struct agora_health_check hc;
    struct agora_kv *env, *labels;
    const char **argv;
};

static struct agora_kv *kv_list(yajl_val obj, size_t *n)
{
    struct agora_kv *kv;
    size_t i;

    *n = 0;
    if (!YAJL_IS_OBJECT(obj) || obj->u.object.len == 0)
        return NULL;
    kv = calloc(obj->u.object.len, sizeof(*kv));
    if (kv == NULL)
        return NULL;
    for (i = 0; i < obj->u.object.len; i++) {
        yajl_val v = obj->u.object.values[i];

        kv[*n].key = obj->u.object.keys[i];
        kv[(*n)++].value = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : "";
    }
    return kv;
}

static double num(yajl_val o, const char *key, double dflt)
{
    double v;

    return agora_json_num(o, key, &v) == 0 ? v : dflt;
}

static void health_of(yajl_val h, struct agora_health_check *hc)
{
    const char *type = NULL;

    memset(hc, 0, sizeof(*hc));
    agora_json_str(h, "type", &type);
    hc->type = !type                       ? AGORA_CHECK_NONE
               : strcmp(type, "HTTP") == 0 ? AGORA_CHECK_HTTP
               : strcmp(type, "TCP") == 0  ? AGORA_CHECK_TCP
                                           : AGORA_CHECK_COMMAND;
    agora_json_str(h, "command", &hc->command);
    agora_json_str(h, "path", &hc->path);
    hc->port = (uint32_t)num(h, "port", 0);
    hc->port_index = (uint32_t)num(h, "port_index", 0);
    hc->delay = num(h, "delay", 0);
    hc->grace_period = num(h, "grace_period", 0);
    hc->interval = num(h, "interval", 1);
    hc->timeout = num(h, "timeout", 1);
    hc->max_consecutive_failures =
        (uint32_t)num(h, "max_consecutive_failures", 0);
}

static int spec_of(yajl_val t, struct spec_buf *b)
{
    yajl_val argv = agora_json_get(t, "argv");
    const char *res = "";
    size_t i;

    memset(b, 0, sizeof(*b));
    agora_json_str(t, "task_id", &b->spec.task_id);
    agora_json_str(t, "name", &b->spec.name);
    agora_json_str(t, "command", &b->spec.command);
    agora_json_str(t, "user", &b->spec.user);
    /* the launch's container, as JSON text (docs/containers.md §1) */
    agora_json_str(t, "container_json", &b->spec.container_json);
    agora_json_str(t, "resources", &res);
    if (agora_resources_parse(res, &b->res, NULL, 0) < 0)
        return AGORA_EINVAL;
    b->spec.resources = &b->res;
    if (YAJL_IS_ARRAY(argv)) {
        b->argv = calloc(argv->u.array.len + 1, sizeof(*b->argv));
        if (b->argv == NULL)
            return AGORA_ENOMEM;
        for (i = 0; i < argv->u.array.len; i++)
            b->argv[i] = YAJL_GET_STRING(argv->u.array.values[i]);
        b->spec.argv = b->argv;
    }
    b->env = kv_list(agora_json_get(t, "env"), &b->spec.nenv);
    b->spec.env = b->env;
    b->labels = kv_list(agora_json_get(t, "labels"), &b->spec.nlabels);
    b->spec.labels = b->labels;
    b->spec.kill_grace_period = num(t, "kill_grace_period", 3);
    if (YAJL_IS_OBJECT(agora_json_get(t, "health_check"))) {
        health_of(agora_json_get(t, "health_check"), &b->hc);
        b->spec.health = &b->hc;
    }
    return 0;
}

static void spec_free(struct spec_buf *b)
{
    agora_resources_free(&b->res);
    free(b->env);
    free(b->labels);
    free(b->argv);
}

static void post_launch(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    char err[128];
    yajl_val doc = agora_json_parse(l->api->req_body(req, NULL), err,
                                    sizeof(err));
    const char *agent = NULL;
    yajl_val tasks = doc ? agora_json_get(doc, "tasks") : NULL;
    struct spec_buf *bufs;
    struct agora_task_spec *specs;
    size_t i, n;
    int rc = 0;

    agora_json_str(doc, "agent_id", &agent);
    if (doc == NULL || agent == NULL || !YAJL_IS_ARRAY(tasks)) {
        agora_reply_error(l->api, req, 400, "want {agent_id, tasks: [...]}");
        if (doc)
            yajl_tree_free(doc);
        return;
    }
    n = tasks->u.array.len;
    bufs = calloc(n ? n : 1, sizeof(*bufs));
    specs = calloc(n ? n : 1, sizeof(*specs));
    for (i = 0; bufs && specs && i < n && rc == 0; i++) {
        rc = spec_of(tasks->u.array.values[i], &bufs[i]);
        specs[i] = bufs[i].spec;
    }
    if (!bufs || !specs || rc < 0)
        agora_reply_error(l->api, req, 400, "bad task spec");
    else if ((rc = l->api->launch(l->api->framework_default(l->h), agent,
                                  specs, n)) < 0)
        agora_reply_error(l->api, req, 500, l->api->strerror(rc));
    else
        l->api->reply(req, 202, NULL, "{}", 2);
    for (i = 0; bufs && i < n; i++)
        spec_free(&bufs[i]);
    free(bufs);
    free(specs);
    yajl_tree_free(doc);
}

static void post_kill(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    int rc = l->api->kill(l->api->framework_default(l->h),
                          l->api->req_param(req, "id"));

    if (rc < 0)
        agora_reply_error(l->api, req, rc == AGORA_ENOENT ? 404 : 409,
                          l->api->strerror(rc));
    else
        l->api->reply(req, 202, NULL, "{}", 2);
}

static void post_reconcile(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    char err[128];
    yajl_val doc = agora_json_parse(l->api->req_body(req, NULL), err,
                                    sizeof(err));
    yajl_val ids = doc ? agora_json_get(doc, "task_ids") : NULL;
    const char **v = NULL;
    size_t i, n = YAJL_IS_ARRAY(ids) ? ids->u.array.len : 0;

    if (n)
        v = calloc(n, sizeof(*v));
    for (i = 0; v && i < n; i++)
        v[i] = YAJL_GET_STRING(ids->u.array.values[i]);
    l->api->reconcile(l->api->framework_default(l->h), v, v ? n : 0);
    l->api->reply(req, 202, NULL, "{}", 2);
    free(v);
    if (doc)
        yajl_tree_free(doc);
}

/* ---- the store, through the services table ---- */

struct store_req {
    struct launcher *l;
    struct agora_req *req;
};

static void reply_store_err(struct launcher *l, struct agora_req *req,
                            int status, int err)
{
    char body[160];
    int n = snprintf(body, sizeof(body), "{\"message\":\"store: %s\"}",
                     agora_strerror(err));

    l->api->reply(req, status, NULL, body, (size_t)n);
}

static void store_done(void *arg, int err, const struct agora_store_result *r)
{
    struct store_req *sr = arg;
    char body[96];
    int n;

    if (err) {
        reply_store_err(sr->l, sr->req, err == AGORA_ENOENT ? 404 : 503, err);
    } else if (r->value) {
        n = snprintf(body, sizeof(body), "{\"len\":%zu,\"version\":%lld}",
                     r->len, (long long)r->version);
        sr->l->api->reply(sr->req, 200, NULL, body, (size_t)n);
    } else {
        n = snprintf(body, sizeof(body), "{\"version\":%lld}",
                     (long long)r->version);
        sr->l->api->reply(sr->req, 201, NULL, body, (size_t)n);
    }
    free(sr);
}

static void store_req(struct launcher *l, struct agora_req *req, int put)
{
    const char *key = l->api->req_param(req, "key");
    const char *size = l->api->req_query(req, "size", 0);
    size_t len = size ? strtoul(size, NULL, 10) : 0;
    struct store_req *sr = malloc(sizeof(*sr));
    char *value = put ? malloc(len + 1) : NULL;
    int rc;

    if (sr == NULL || (put && value == NULL)) {
        free(sr);
        free(value);
        reply_store_err(l, req, 500, AGORA_ENOMEM);
        return;
    }
    sr->l = l;
    sr->req = req;
    if (put)
        memset(value, 'x', len);
    rc = put ? l->api->store_put(l->h, key, value, len, AGORA_STORE_ANY,
                                 store_done, sr)
             : l->api->store_get(l->h, key, store_done, sr);
    free(value);
    if (rc < 0) {
        free(sr);
        reply_store_err(l, req, rc == AGORA_ETOOBIG ? 413 : 400, rc);
        return;
    }
    l->api->defer(req);
}

static void post_store(void *state, struct agora_req *req)
{
    store_req(state, req, 1);
}

static void get_store(void *state, struct agora_req *req)
{
    store_req(state, req, 0);
}

/* ---- the store, continued (ABI 2.1) ---- */

static void reply_jw(struct launcher *l, struct agora_req *req, int status,
                     struct agora_jw *w)
{
    size_t len;
    const char *body = agora_jw_result(w, &len);

    if (body == NULL)
        agora_reply_error(l->api, req, 500, "out of memory");
    else
        l->api->reply(req, status, NULL, body, len);
    agora_jw_free(w);
}

static void txn_done(void *arg, int err, const struct agora_store_result *r)
{
    struct store_req *sr = arg;
    struct agora_jw *w = agora_jw_new();
    size_t i;

    if (err != 0 && err != AGORA_EVERSION) {
        agora_jw_free(w);
        reply_store_err(sr->l, sr->req, 503, err);
        free(sr);
        return;
    }
    if (w == NULL) {
        reply_store_err(sr->l, sr->req, 500, AGORA_ENOMEM);
        free(sr);
        return;
    }
    agora_jw_obj_open(w);
    if (err == AGORA_EVERSION) {
        agora_jw_kint(w, "failed", (int64_t)r->failed);
    } else {
        agora_jw_key(w, "versions");
        agora_jw_arr_open(w);
        for (i = 0; i < r->nversions; i++)
            agora_jw_int(w, r->versions[i]);
        agora_jw_arr_close(w);
    }
    agora_jw_obj_close(w);
    reply_jw(sr->l, sr->req, err ? 409 : 200, w);
    free(sr);
}

/* One op of a /txn body into *op (strings borrowed from the document). */
static int txn_op_of(yajl_val v, struct agora_store_txn_op *op)
{
    const char *kind = NULL, *value = NULL;
    yajl_val ver = agora_json_get(v, "version");

    memset(op, 0, sizeof(*op));
    op->version = AGORA_STORE_ANY;
    if (agora_json_str(v, "op", &kind) < 0 ||
        agora_json_str(v, "key", &op->key) < 0 || kind == NULL ||
        op->key == NULL)
        return -1;
    if (YAJL_IS_INTEGER(ver))
        op->version = YAJL_GET_INTEGER(ver);
    if (strcmp(kind, "put") == 0) {
        op->kind = AGORA_STORE_TXN_PUT;
        agora_json_str(v, "value", &value);
        op->value = value ? value : "";
        op->len = strlen(op->value);
    } else if (strcmp(kind, "delete") == 0) {
        op->kind = AGORA_STORE_TXN_DELETE;
    } else if (strcmp(kind, "check") == 0) {
        op->kind = AGORA_STORE_TXN_CHECK;
    } else {
        return -1;
    }
    return 0;
}

static void post_txn(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    char err[128];
    yajl_val doc = agora_json_parse(l->api->req_body(req, NULL), err,
                                    sizeof(err));
    size_t i, n = YAJL_IS_ARRAY(doc) ? doc->u.array.len : 0;
    struct agora_store_txn_op *ops = calloc(n ? n : 1, sizeof(*ops));
    struct store_req *sr = malloc(sizeof(*sr));
    int rc = doc && YAJL_IS_ARRAY(doc) && ops && sr ? 0 : -1;

    for (i = 0; rc == 0 && i < n; i++)
        rc = txn_op_of(doc->u.array.values[i], &ops[i]);
    if (rc == 0) {
        sr->l = l;
        sr->req = req;
        /* The ops are copied: the document may go. */
        rc = l->api->store_txn(l->h, ops, n, txn_done, sr);
        if (rc == 0)
            l->api->defer(req);
        else
            reply_store_err(l, req, rc == AGORA_ETOOBIG ? 413 : 400, rc);
    } else {
        agora_reply_error(l->api, req, 400, "want [{op, key, ...}...]");
    }
    if (rc != 0)
        free(sr);
    free(ops);
    if (doc)
        yajl_tree_free(doc);
}

static void children_done(void *arg, int err,
                          const struct agora_store_result *r)
{
    struct store_req *sr = arg;
    struct agora_jw *w;
    size_t i;

    if (err != 0) {
        reply_store_err(sr->l, sr->req, err == AGORA_ETOOBIG ? 413 : 503,
                        err);
        free(sr);
        return;
    }
    if ((w = agora_jw_new()) == NULL) {
        reply_store_err(sr->l, sr->req, 500, AGORA_ENOMEM);
        free(sr);
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_key(w, "entries");
    agora_jw_arr_open(w);
    for (i = 0; i < r->nentries; i++) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "name", r->entries[i].name);
        agora_jw_key(w, "value");
        agora_jw_strn(w, r->entries[i].value, r->entries[i].len);
        agora_jw_kint(w, "version", r->entries[i].version);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    reply_jw(sr->l, sr->req, 200, w);
    free(sr);
}

static void get_children(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    const char *key = l->api->req_query(req, "key", 0);
    struct store_req *sr = malloc(sizeof(*sr));
    int rc;

    if (sr == NULL) {
        reply_store_err(l, req, 500, AGORA_ENOMEM);
        return;
    }
    sr->l = l;
    sr->req = req;
    rc = l->api->store_get_children(l->h, key ? key : "", children_done, sr);
    if (rc < 0) {
        free(sr);
        reply_store_err(l, req, 400, rc);
        return;
    }
    l->api->defer(req);
}

static void on_store_event(void *arg, enum agora_store_event ev,
                           const char *key, int64_t version)
{
    struct launcher *l = arg;
    static const char *const names[] = {"?", "created", "changed",
                                        "deleted"};

    agora_jw_obj_open(l->store_events);
    agora_jw_kstr(l->store_events, "event",
                  names[ev >= 1 && ev <= 3 ? ev : 0]);
    agora_jw_kstr(l->store_events, "key", key);
    agora_jw_kint(l->store_events, "version", version);
    agora_jw_obj_close(l->store_events);
}

/* Replies with a log kept as a JSON array left open, closed in a copy. */
static void reply_log(struct launcher *l, struct agora_req *req,
                      struct agora_jw *log)
{
    size_t len;
    const char *doc = agora_jw_result(log, &len);
    char *body = doc ? malloc(len + 2) : NULL;

    if (body == NULL) {
        agora_reply_error(l->api, req, 500, "event log broken");
        return;
    }
    memcpy(body, doc, len);
    body[len] = ']';
    l->api->reply(req, 200, NULL, body, len + 1);
    free(body);
}

static void get_store_events(void *state, struct agora_req *req)
{
    struct launcher *l = state;

    reply_log(l, req, l->store_events);
}

/* ---- what the master knows (ABI 2.1 views) ---- */

static void jw_res(struct agora_jw *w, const char *key,
                   const struct agora_resources *r)
{
    char *text = r ? agora_resources_text(r) : NULL;

    agora_jw_key(w, key);
    if (text == NULL)
        agora_jw_null(w);
    else
        agora_jw_str(w, text);
    free(text);
}

static void write_agent(void *arg, const struct agora_agent_info *a)
{
    static const char *const states[] = {"recovering", "active",
                                         "unreachable", "gone"};
    struct agora_jw *w = arg;
    size_t i;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", a->id);
    agora_jw_kstr(w, "hostname", a->hostname);
    agora_jw_kstr(w, "state", states[a->state]);
    agora_jw_key(w, "attributes");
    agora_jw_obj_open(w);
    for (i = 0; i < a->nattributes; i++)
        agora_jw_kstr(w, a->attributes[i].key, a->attributes[i].value);
    agora_jw_obj_close(w);
    jw_res(w, "total", a->total);
    jw_res(w, "free", a->free);
    agora_jw_knum(w, "registered_time", a->registered_time);
    agora_jw_obj_close(w);
}

/* What a view callback writes into, and with which master's table. */
struct view {
    struct agora_jw *w;
    const struct agora_api *api;
};

static void write_task(void *arg, const struct agora_task_info *t)
{
    struct view *v = arg;
    struct agora_jw *w = v->w;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "task_id", t->task_id);
    agora_jw_kstr(w, "name", t->name);
    agora_jw_kstr(w, "agent_id", t->agent_id);
    agora_jw_kstr(w, "hostname", t->hostname);
    agora_jw_kstr(w, "state", agora_task_state_name(t->state));
    agora_jw_kint(w, "healthy", t->healthy);
    agora_jw_kstr(w, "reason", t->reason);
    agora_jw_kstr(w, "message", t->message);
    agora_jw_knum(w, "timestamp", t->timestamp);
    agora_jw_knum(w, "launched", t->launched);
    jw_res(w, "resources", t->resources);
    write_extra(w, v->api, t->ip_addresses, t->nip_addresses, t->ports,
                t->nports, t->container_status_json, t->health_output);
    agora_jw_obj_close(w);
}

/* Replies with what `each` or `one` wrote: an array, or one object (404
 * when `one` did not find it). */
static void reply_view(struct launcher *l, struct agora_req *req,
                       struct agora_jw *w, int rc)
{
    if (rc == AGORA_ENOENT) {
        agora_jw_free(w);
        agora_reply_error(l->api, req, 404, "no such thing");
        return;
    }
    if (rc < 0) {
        agora_jw_free(w);
        agora_reply_error(l->api, req, 500, l->api->strerror(rc));
        return;
    }
    agora_reply_jw(l->api, req, 200, w);
    agora_jw_free(w);
}

static void get_agents(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    struct agora_jw *w = agora_jw_new();
    int rc;

    agora_jw_arr_open(w);
    rc = l->api->agents_each(l->h, write_agent, w);
    agora_jw_arr_close(w);
    reply_view(l, req, w, rc);
}

static void get_agent(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    struct agora_jw *w = agora_jw_new();

    reply_view(l, req, w, l->api->agent_get(l->h, l->api->req_param(req, "id"),
                                            write_agent, w));
}

static void get_tasks(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    struct agora_jw *w = agora_jw_new();
    struct view v = {w, l->api};
    int rc;

    agora_jw_arr_open(w);
    rc = l->api->tasks_each(l->api->framework_default(l->h), write_task, &v);
    agora_jw_arr_close(w);
    reply_view(l, req, w, rc);
}

static void get_task(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    struct agora_jw *w = agora_jw_new();
    struct view v = {w, l->api};

    reply_view(l, req, w,
               l->api->task_get(l->api->framework_default(l->h),
                                l->api->req_param(req, "id"), write_task, &v));
}

static void get_master(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    struct agora_master_info mi;
    struct agora_jw *w = agora_jw_new();

    l->api->master_info(l->h, &mi);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", mi.id);
    agora_jw_kstr(w, "hostname", mi.hostname);
    agora_jw_kstr(w, "ip", mi.ip);
    agora_jw_kint(w, "port", mi.port);
    agora_jw_kstr(w, "version", mi.version);
    agora_jw_kbool(w, "leading", mi.leading);
    agora_jw_kstr(w, "zk", mi.zk);
    agora_jw_knum(w, "start_time", mi.start_time);
    agora_jw_knum(w, "elected_time", mi.elected_time);
    agora_jw_kint(w, "abi_minor", agora_api_minor(l->api));
    /* ABI 2.4: who asked (an older master's table has no such member). */
    if (offsetof(struct agora_api, req_principal) < l->api->size &&
        l->api->req_principal(req))
        agora_jw_kstr(w, "principal", l->api->req_principal(req));
    agora_jw_obj_close(w);
    reply_view(l, req, w, 0);
}

static void post_abdicate(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    int rc;

    /* Answered first: the abdication finishes this plugin on a later
     * turn, and the request with it. */
    l->api->reply(req, 202, NULL, "{}", 2);
    rc = l->api->abdicate(l->h);
    if (rc < 0)
        l->api->log(l->h, AGORA_LOG_ERROR, "abdicate: %s", l->api->strerror(rc));
}

static void post_ready(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    const char *why = l->api->req_query(req, "why", 0);
    int rc = l->api->set_ready(l->h, why == NULL, why);

    if (rc < 0)
        agora_reply_error(l->api, req, 500, l->api->strerror(rc));
    else
        l->api->reply(req, 200, NULL, "{}", 2);
}

static void post_observe(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    const char *v = l->api->req_query(req, "v", 0);
    int rc = l->api->metric_observe(l->h, l->api->req_param(req, "name"),
                                    v ? strtod(v, NULL) : 0);

    if (rc < 0)
        agora_reply_error(l->api, req, 400, l->api->strerror(rc));
    else
        l->api->reply(req, 200, NULL, "{}", 2);
}

static void on_event(void *arg, const char *type, const char *json)
{
    struct launcher *l = arg;

    agora_jw_obj_open(l->events);
    agora_jw_kstr(l->events, "type", type);
    agora_jw_kstr(l->events, "data", json);
    agora_jw_obj_close(l->events);
}

static void get_events(void *state, struct agora_req *req)
{
    struct launcher *l = state;

    reply_log(l, req, l->events);
}

/* ---- explicit acknowledgements ---- */

static int has_acks(const struct agora_api *api)
{
    return offsetof(struct agora_api, acknowledge) < api->size;
}

static void post_explicit_acks(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    const char *on = l->api->req_query(req, "on", 0);
    int rc;

    if (!has_acks(l->api)) {
        agora_reply_error(l->api, req, 501, "no explicit acks here");
        return;
    }
    l->explicit_acks = on && strcmp(on, "0") != 0;
    rc = l->api->framework_set_explicit_acks(l->api->framework_default(l->h),
                                             l->explicit_acks);
    if (rc < 0)
        agora_reply_error(l->api, req, 500, l->api->strerror(rc));
    else
        l->api->reply(req, 200, NULL, "{}", 2);
}

static void get_unacked(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    struct agora_jw *w = agora_jw_new();
    size_t i;

    agora_jw_arr_open(w);
    for (i = 0; i < l->nunacked; i++) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "task_id", l->unacked[i].task_id);
        agora_jw_kstr(w, "uuid", l->unacked[i].uuid);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    agora_reply_jw(l->api, req, 200, w);
    agora_jw_free(w);
}

static void post_ack(void *state, struct agora_req *req)
{
    struct launcher *l = state;
    char err[128];
    yajl_val doc = agora_json_parse(l->api->req_body(req, NULL), err,
                                    sizeof(err));
    const char *task_id = NULL, *uuid = NULL;
    int rc;

    agora_json_str(doc, "task_id", &task_id);
    agora_json_str(doc, "uuid", &uuid);
    if (!has_acks(l->api)) {
        agora_reply_error(l->api, req, 501, "no explicit acks here");
    } else if ((rc = l->api->acknowledge(l->api->framework_default(l->h),
                                         task_id, uuid)) < 0) {
        agora_reply_error(l->api, req, rc == AGORA_ENOENT ? 404 : 400,
                          l->api->strerror(rc));
    } else {
        unacked_remove(l, uuid);
        l->api->reply(req, 200, NULL, "{}", 2);
    }
    if (doc)
        yajl_tree_free(doc);
}

static int init(struct agora_host *h, const struct agora_api *api,
                const void *conf, void **state)
{
    struct launcher *l = calloc(1, sizeof(*l));
    const struct launcher_conf *c = conf;

    if (l == NULL || (l->log = agora_jw_new()) == NULL) {
        free(l);
        return AGORA_ENOMEM;
    }
    l->h = h;
    l->api = api;
    l->fini_key = c ? c->fini_key : NULL;
    agora_jw_arr_open(l->log);
    if ((l->events = agora_jw_new()) == NULL) {
        agora_jw_free(l->log);
        free(l);
        return AGORA_ENOMEM;
    }
    agora_jw_arr_open(l->events);
    if ((l->store_events = agora_jw_new()) == NULL) {
        agora_jw_free(l->events);
        agora_jw_free(l->log);
        free(l);
        return AGORA_ENOMEM;
    }
    agora_jw_arr_open(l->store_events);
    /* Built against ABI 2.1: a master of 2.0 has no subscribe. */
    if (offsetof(struct agora_api, subscribe) < api->size) {
        struct agora_sub *sub;
        int rc = api->subscribe(h, NULL, on_event, l, &sub);

        if (rc == 0 && offsetof(struct agora_api, store_watch) < api->size) {
            struct agora_store_watch *sw;

            rc = api->store_watch(h, "", on_store_event, l, &sw);
        }
        if (rc < 0) {
            agora_jw_free(l->store_events);
            agora_jw_free(l->events);
            agora_jw_free(l->log);
            free(l);
            return rc;
        }
    }
    /* The default framework exists during init on a master with
     * explicit acks: nothing reaches it before this. */
    if (c && c->explicit_acks && has_acks(api)) {
        int rc = api->framework_set_explicit_acks(api->framework_default(h),
                                                  1);

        if (rc < 0) {
            agora_jw_free(l->events);
            agora_jw_free(l->log);
            free(l);
            return rc;
        }
        l->explicit_acks = 1;
    }
    *state = l;
    return 0;
}

static void fini(void *state)
{
    struct launcher *l = state;
    size_t i;

    /* A plugin may write in fini (its completion never comes): it lands
     * at a reload or a shutdown, and not when the master was deposed. */
    if (l->fini_key)
        l->api->store_put(l->h, l->fini_key, "fini", 4, AGORA_STORE_ANY, NULL,
                          NULL);
    agora_jw_free(l->log);
    free(l->offs);
    agora_jw_free(l->events);
    for (i = 0; i < l->nunacked; i++) {
        free(l->unacked[i].task_id);
        free(l->unacked[i].uuid);
    }
    free(l->unacked);
    agora_jw_free(l->store_events);
    free(l);
}

static const struct agora_route routes[] = {
    {"POST", "/launch", post_launch},
    {"POST", "/kill/:id", post_kill},
    {"POST", "/reconcile", post_reconcile},
    {"GET", "/statuses", get_statuses},
    {"POST", "/store/:key", post_store},
    {"GET", "/store/:key", get_store},
    {"POST", "/txn", post_txn},
    {"GET", "/children", get_children},
    {"GET", "/store_events", get_store_events},
    {"GET", "/agents", get_agents},
    {"GET", "/agents/:id", get_agent},
    {"GET", "/tasks", get_tasks},
    {"GET", "/tasks/:id", get_task},
    {"GET", "/master", get_master},
    {"GET", "/events", get_events},
    {"POST", "/abdicate", post_abdicate},
    {"POST", "/ready", post_ready},
    {"POST", "/observe/:name", post_observe},
    {"POST", "/explicit_acks", post_explicit_acks},
    {"GET", "/unacked", get_unacked},
    {"POST", "/ack", post_ack},
    {NULL, NULL, NULL},
};

static const struct agora_plugin desc = {
    AGORA_PLUGIN_INIT,
    .name = "launcher",
    .version = "1.0",
    .description = "test plugin: launches tasks on named agents, records statuses",
    .routes = routes,
    .conf = conf_fields,
    .conf_size = sizeof(struct launcher_conf),
    .init = init,
    .fini = fini,
    .on_status = on_status,
};

const struct agora_plugin *agora_plugin_entry(void) { return &desc; }
