/*
 * master_policy.c - role weights and quotas set at run time, kept in the
 * store, and Mesos' v0 endpoints for them:
 *
 *   GET /master/weights           [{"role", "weight"}]
 *   PUT /master/weights           the same: sets them
 *   GET /master/quota             {"infos": [{"role", "guarantee": [..]}]}
 *   POST /master/quota            {"role", "guarantee": [Resource]}
 *   DELETE /master/quota/<role>
 *
 * and the storing of every part of master_policy.h (the maintenance
 * schedule's endpoints are master_maintenance.c's). Errors are plain
 * text, as Mesos' v0 endpoints give them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "alloc.h"
#include "http.h"
#include "log.h"
#include "master.h"
#include "master_mesos.h"
#include "master_policy.h"
#include "master_teardown.h"
#include "router.h"
#include "store.h"

#define POLICY_NS "_core"

static const char *const part_keys[POLICY_PARTS] = {
    "policy/weights", "policy/quota", "policy/maintenance"};

/* A change waiting on its store write, then answered. */
struct policy_save {
    struct master *m;
    struct http_req *req;          /* NULL: nobody to answer             */
    struct store_op *op;
    char *content_type, *body;
    struct policy_save *next;
};

/* A part being read on election; stale once the leadership it was read
 * for has ended (policy.gen moved on). */
struct policy_read {
    struct master *m;
    enum policy_part part;
    unsigned gen;
    struct store_op *op;
    struct policy_read *next;
};

static void read_unlink(struct master *m, struct policy_read *rd)
{
    struct policy_read **pp = &m->policy.reads;

    while (*pp && *pp != rd)
        pp = &(*pp)->next;
    if (*pp)
        *pp = rd->next;
}

static void text_reply(struct http_req *req, int status, const char *msg)
{
    http_reply(req, status, "text/plain", msg, strlen(msg));
}

/* ---- the store ---- */

static void save_unlink(struct master *m, struct policy_save *s)
{
    struct policy_save **pp = &m->policy.saves;

    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp)
        *pp = s->next;
}

static void save_free(struct policy_save *s)
{
    free(s->content_type);
    free(s->body);
    free(s);
}

static void on_saved(void *arg, int err, const store_result *r)
{
    struct policy_save *s = arg;

    (void)r;
    save_unlink(s->m, s);
    if (err)
        log_error("policy", "cannot store the operator's change: %s",
                  agora_strerror(err));
    if (s->req && err)
        text_reply(s->req, 503, "the change could not be stored");
    else if (s->req)
        http_reply(s->req, 200, s->content_type, s->body ? s->body : "",
                   s->body ? strlen(s->body) : 0);
    save_free(s);
}

/* The part's document as it is now (malloc'd), or NULL. */
static char *part_doc(struct master *m, enum policy_part part, size_t *len)
{
    struct agora_jw *w;
    const char *json;
    char *doc = NULL;

    if (part == POLICY_MAINTENANCE)
        return maint_doc(m, len);
    if ((w = agora_jw_new()) == NULL)
        return NULL;
    agora_jw_obj_open(w);
    agora_jw_key(w, part == POLICY_WEIGHTS ? "weight_infos" : "infos");
    if (part == POLICY_WEIGHTS)
        alloc_write_weights_v1(m->alloc, w);
    else
        alloc_write_quota_v1(m->alloc, w);
    agora_jw_obj_close(w);
    if ((json = agora_jw_result(w, len)) != NULL)
        doc = strdup(json);
    agora_jw_free(w);
    return doc;
}

void policy_save(struct master *m, enum policy_part part,
                 struct http_req *req, const char *content_type,
                 const char *body)
{
    struct policy_save *s = calloc(1, sizeof(*s));
    size_t len = 0;
    char *doc = part_doc(m, part, &len);

    if (s == NULL || doc == NULL ||
        (content_type && (s->content_type = strdup(content_type)) == NULL) ||
        (body && (s->body = strdup(body)) == NULL) ||
        (req && http_defer(req) < 0)) {
        if (req)
            text_reply(req, 503, "out of memory");
        if (s)
            save_free(s);
        free(doc);
        return;
    }
    s->m = m;
    s->req = req;
    if (store_put(m->store, POLICY_NS, part_keys[part], doc, len,
                  AGORA_STORE_ANY, on_saved, s, &s->op) < 0) {
        if (req)
            text_reply(req, 503, "the change could not be stored");
        save_free(s);
    } else {
        s->next = m->policy.saves;
        m->policy.saves = s;
    }
    free(doc);
}

void policy_stop(struct master *m)
{
    while (m->policy.saves) {
        struct policy_save *s = m->policy.saves;

        m->policy.saves = s->next;
        store_cancel(s->op); /* written all the same; not reported */
        if (s->req)
            text_reply(s->req, 503, "the master stopped leading");
        save_free(s);
    }
    while (m->policy.reads) {
        struct policy_read *rd = m->policy.reads;

        m->policy.reads = rd->next;
        store_cancel(rd->op); /* its callback does not run */
        free(rd);
    }
    m->policy.gen++;
}

/* ---- reading on election ---- */

/* Mesos' Resource list [{"name", "scalar": {"value"}}] into q (cpus,
 * mem, disk, gpus). 0, or -1 with why. */
static int guarantee_read(yajl_val list, double *q, const char **why)
{
    static const char *const names[] = {"cpus", "mem", "disk", "gpus"};
    size_t i;
    int k;

    memset(q, 0, 4 * sizeof(*q));
    if (!YAJL_IS_ARRAY(list)) {
        *why = "Failed to validate request: 'guarantee' must be an array "
               "of resources";
        return -1;
    }
    for (i = 0; i < list->u.array.len; i++) {
        yajl_val res = list->u.array.values[i];
        const char *name = agora_json_get_str(res, "name");
        double v;

        for (k = 0; k < 4 && (name == NULL || strcmp(name, names[k])); k++)
            ;
        if (k == 4 ||
            agora_json_num(agora_json_get(res, "scalar"), "value", &v) != 0 ||
            v < 0) {
            *why = "Failed to validate request: quota guarantees are cpus, "
                   "mem, disk and gpus, each {\"scalar\": {\"value\": >= 0}}";
            return -1;
        }
        q[k] += v;
    }
    return 0;
}

static void apply_weights(struct master *m, yajl_val infos)
{
    size_t i;

    for (i = 0; YAJL_IS_ARRAY(infos) && i < infos->u.array.len; i++) {
        yajl_val info = infos->u.array.values[i];
        const char *role = agora_json_get_str(info, "role");
        double weight;

        if (role && agora_json_num(info, "weight", &weight) == 0 &&
            alloc_set_weight(m->alloc, role, weight) < 0)
            log_error("policy", "stored weight of role %s not applied", role);
    }
}

static void apply_quota(struct master *m, yajl_val infos)
{
    const char *why;
    double q[4];
    size_t i;

    for (i = 0; YAJL_IS_ARRAY(infos) && i < infos->u.array.len; i++) {
        yajl_val info = infos->u.array.values[i];
        const char *role = agora_json_get_str(info, "role");

        if (role &&
            guarantee_read(agora_json_get(info, "guarantee"), q, &why) == 0 &&
            alloc_set_quota(m->alloc, role, q) < 0)
            log_error("policy", "stored quota of role %s not applied", role);
    }
}

static void on_read(void *arg, int err, const store_result *r)
{
    struct policy_read *rd = arg;
    struct master *m = rd->m;
    char why[200];
    yajl_val doc;

    read_unlink(m, rd);
    if (rd->gen != m->policy.gen || err == AGORA_ENOENT) {
        free(rd);
        return;
    }
    if (err) {
        log_error("policy", "cannot read %s: %s; the flags' values hold",
                  part_keys[rd->part], agora_strerror(err));
        free(rd);
        return;
    }
    if (rd->part == POLICY_MAINTENANCE) {
        maint_load(m, r->value);
    } else if ((doc = agora_json_parse(r->value, why, sizeof(why))) == NULL) {
        log_error("policy", "stored %s does not parse: %s",
                  part_keys[rd->part], why);
    } else {
        if (rd->part == POLICY_WEIGHTS)
            apply_weights(m, agora_json_get(doc, "weight_infos"));
        else
            apply_quota(m, agora_json_get(doc, "infos"));
        yajl_tree_free(doc);
    }
    free(rd);
}

void policy_load(struct master *m)
{
    int part;

    for (part = 0; part < POLICY_PARTS; part++) {
        struct policy_read *rd = calloc(1, sizeof(*rd));

        if (rd == NULL) {
            log_error("policy", "out of memory reading %s", part_keys[part]);
            continue;
        }
        rd->m = m;
        rd->part = (enum policy_part)part;
        rd->gen = m->policy.gen;
        if (store_get(m->store, POLICY_NS, part_keys[part], on_read, rd,
                      &rd->op) < 0) {
            log_error("policy", "cannot read %s", part_keys[part]);
            free(rd);
            continue;
        }
        rd->next = m->policy.reads;
        m->policy.reads = rd;
    }
}

/* ---- /master/weights ---- */

static void weights_get(struct master *m, struct http_req *req)
{
    struct agora_jw *w = agora_jw_new();

    alloc_write_weights_v1(m->alloc, w);
    http_reply_jw(req, 200, w);
}

static void weights_put(struct master *m, struct http_req *req)
{
    char err[200];
    yajl_val doc = agora_json_parse(http_req_body(req, NULL), err,
                                    sizeof(err));
    size_t i;

    if (doc == NULL || !YAJL_IS_ARRAY(doc)) {
        text_reply(req, 400, "Failed to parse update weights request: "
                             "expecting a JSON array of {\"role\", "
                             "\"weight\"}");
        if (doc)
            yajl_tree_free(doc);
        return;
    }
    for (i = 0; i < doc->u.array.len; i++) {
        yajl_val info = doc->u.array.values[i];
        double weight;

        if (agora_json_get_str(info, "role") == NULL ||
            agora_json_num(info, "weight", &weight) != 0 || !(weight > 0)) {
            text_reply(req, 400, "Failed to validate update weights "
                                 "request: each needs a role and a "
                                 "weight > 0");
            yajl_tree_free(doc);
            return;
        }
    }
    apply_weights(m, doc);
    yajl_tree_free(doc);
    policy_save(m, POLICY_WEIGHTS, req, NULL, NULL);
}

static void h_weights(void *arg, struct http_req *req)
{
    if (strcmp(http_req_method(req), "PUT") == 0)
        weights_put(arg, req);
    else
        weights_get(arg, req);
}

/* ---- /master/quota ---- */

static void quota_get(struct master *m, struct http_req *req)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_obj_open(w);
    agora_jw_key(w, "infos");
    alloc_write_quota_v1(m->alloc, w);
    agora_jw_obj_close(w);
    http_reply_jw(req, 200, w);
}

static void quota_post(struct master *m, struct http_req *req)
{
    char err[200];
    yajl_val doc = agora_json_parse(http_req_body(req, NULL), err,
                                    sizeof(err));
    const char *role = doc ? agora_json_get_str(doc, "role") : NULL;
    const char *why = NULL;
    double q[4];

    if (doc == NULL)
        why = "Failed to parse set quota request JSON";
    else if (role == NULL || !*role)
        why = "Failed to validate set quota request: 'role' is missing";
    else if (alloc_has_quota(m->alloc, role))
        why = "Failed to validate set quota request: Can not set quota for "
              "a role that already has quota";
    else
        guarantee_read(agora_json_get(doc, "guarantee"), q, &why);
    if (why == NULL && alloc_set_quota(m->alloc, role, q) < 0)
        why = "Failed to validate set quota request: invalid role";
    if (doc)
        yajl_tree_free(doc);
    if (why) {
        text_reply(req, 400, why);
        return;
    }
    policy_save(m, POLICY_QUOTA, req, NULL, NULL);
}

static void h_quota(void *arg, struct http_req *req)
{
    if (strcmp(http_req_method(req), "POST") == 0)
        quota_post(arg, req);
    else
        quota_get(arg, req);
}

static void h_quota_remove(void *arg, struct http_req *req)
{
    static const double none[4];
    struct master *m = arg;
    const char *role = http_req_param(req, "role");

    if (role == NULL || !alloc_has_quota(m->alloc, role)) {
        text_reply(req, 400, "Failed to validate remove quota request: "
                             "no quota is set for the role");
        return;
    }
    alloc_set_quota(m->alloc, role, none);
    policy_save(m, POLICY_QUOTA, req, NULL, NULL);
}

/* ---- the routes ---- */

int policy_routes(struct master *m, struct router *r)
{
    static const struct {
        const char *method, *name;
        http_handler_fn fn;
    } routes[] = {
        {"GET", "weights", h_weights},
        {"PUT", "weights", h_weights},
        {"GET", "quota", h_quota},
        {"POST", "quota", h_quota},
        {"GET", "maintenance/schedule", maint_http_schedule},
        {"POST", "maintenance/schedule", maint_http_schedule},
        {"GET", "maintenance/status", maint_http_status},
        {"POST", "machine/down", maint_http_down},
        {"POST", "machine/up", maint_http_up},
        {"POST", "teardown", master_teardown_http},
    };
    size_t i;
    int rc;

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        rc = master_mesos_alias(r, routes[i].method, routes[i].name,
                                routes[i].fn, m);
        if (rc < 0)
            return rc;
    }
    /* A path with a parameter has no .json forms. */
    rc = router_add(r, "DELETE", NULL, "/master/quota/:role",
                    (void *)h_quota_remove, m);
    if (rc == 0)
        rc = router_add(r, "DELETE", NULL, "/quota/:role",
                        (void *)h_quota_remove, m);
    return rc;
}
