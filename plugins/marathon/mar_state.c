/*
 * mar_state.c - apps and instances in memory and in the store.
 *
 * Every write is a put or delete of one small key (one app, one version,
 * one instance), never a document of the whole state, so that no value
 * grows with the number of apps (Marathon's 1 MB znode limit). Writes
 * are fire-and-forget except where a status update waits on them: its
 * acknowledgement goes out in the write's completion, so an update is
 * never acknowledged before what it changed is durable. Updates that
 * change nothing a restart needs (marathon.h) write nothing and are
 * acknowledged at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "marathon.h"

/* ---- keys ---- */

char *mar_state_key(const char *id)
{
    char *k, *p;

    while (*id == '/')
        id++;
    k = strdup(id);
    if (k == NULL)
        return NULL;
    for (p = k; *p; p++) {
        if (*p == '/')
            *p = ':';
    }
    return k;
}

/* ---- acknowledgements after writes ---- */

struct ack_ctx {
    struct agora_pending pend;
    struct mar *m;
    char *task_id;
    char *uuid;
};

static void ack_free(struct agora_pending *p)
{
    struct ack_ctx *c = (struct ack_ctx *)p;

    free(c->task_id);
    free(c->uuid);
    free(c);
}

static struct ack_ctx *ack_new(struct mar *m, const char *task_id,
                               const char *uuid)
{
    struct ack_ctx *c;

    if (uuid == NULL)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->m = m;
    c->task_id = strdup(task_id);
    c->uuid = strdup(uuid);
    if (!c->task_id || !c->uuid) {
        ack_free(&c->pend);
        return NULL;
    }
    agora_pending_add(&m->pend, &c->pend, ack_free);
    return c;
}

/* The write landed (or failed: the update is then left unacknowledged,
 * and the agent sends it again). */
static void ack_done(void *arg, int err, const struct agora_store_result *r)
{
    struct ack_ctx *c = arg;

    (void)r;
    if (c == NULL)
        return;
    agora_pending_del(&c->pend);
    if (err == 0 || err == AGORA_ENOENT)
        c->m->api->acknowledge(c->m->fw, c->task_id, c->uuid);
    else
        MAR_LOG(c->m, AGORA_LOG_WARN, "store write for %s failed: %s",
                c->task_id, c->m->api->strerror(err));
    ack_free(&c->pend);
}

static void write_done(void *arg, int err, const struct agora_store_result *r)
{
    struct mar *m = arg;

    (void)r;
    if (err != 0 && err != AGORA_ENOENT)
        MAR_LOG(m, AGORA_LOG_WARN, "store write failed: %s",
                m->api->strerror(err));
}

/* ---- apps ---- */

struct mar_rapp *mar_state_app(struct mar *m, const char *id)
{
    return agora_map_get(&m->apps, id);
}

static int app_cmp(const void *x, const void *y)
{
    const struct mar_rapp *a = *(struct mar_rapp *const *)x;
    const struct mar_rapp *b = *(struct mar_rapp *const *)y;

    return strcmp(a->def->id, b->def->id);
}

/* Sorted once per change of the set of apps, not per list request (the
 * sort was 3-4% of GET /v2/apps with 1,000 apps). An app's id never
 * changes while it is an app. */
struct mar_rapp *const *mar_state_apps_sorted(struct mar *m, size_t *n)
{
    struct mar_rapp **v, *a;
    size_t i = 0, k = 0;

    if (!m->sorted_ok) {
        v = realloc(m->sorted, (m->apps.n + 1) * sizeof(*v));
        if (v == NULL) {
            *n = 0;
            return NULL;
        }
        while ((a = agora_map_next(&m->apps, &i)) != NULL)
            v[k++] = a;
        qsort(v, k, sizeof(*v), app_cmp);
        m->sorted = v;
        m->nsorted = k;
        m->sorted_ok = 1;
    }
    *n = m->nsorted;
    return m->sorted;
}

struct mar_rapp *mar_state_app_add(struct mar *m, struct mar_app *def)
{
    struct mar_rapp *a = calloc(1, sizeof(*a));

    if (a == NULL) {
        mar_app_free(def);
        return NULL;
    }
    a->def = def;
    a->ready = mar_ready_parse(def);
    a->key = mar_state_key(def->id);
    a->safe_id = mar_id_safe(def->id);
    if (!a->key || !a->safe_id || mar_index_add(m, def) != 0) {
        mar_ready_free(a->ready);
        free(a->key);
        free(a->safe_id);
        mar_app_free(def);
        free(a);
        return NULL;
    }
    if (agora_map_put(&m->apps, def->id, a) < 0) {
        mar_index_del(m, def);
        mar_ready_free(a->ready);
        free(a->key);
        free(a->safe_id);
        mar_app_free(def);
        free(a);
        return NULL;
    }
    m->sorted_ok = 0;
    return a;
}

void mar_state_app_res_drop(struct mar_rapp *a)
{
    agora_resources_free(&a->res);
    memset(&a->res, 0, sizeof(a->res));
    free(a->res_role);
    a->res_role = NULL;
    mar_sched_envc_free(a->envc);
    a->envc = NULL;
}

static void app_free(struct mar_rapp *a)
{
    mar_state_app_res_drop(a);
    mar_ready_free(a->ready);
    free(a->def_doc);
    free(a->tasks_doc);
    mar_app_free(a->def);
    free(a->key);
    free(a->safe_id);
    free(a->inst);
    free(a->last_failure);
    free(a);
}

static void put_json(struct mar *m, const char *key, struct agora_jw *w,
                     agora_store_fn cb, void *arg)
{
    size_t len;
    const char *doc = agora_jw_result(w, &len);
    int rc;

    if (doc == NULL) {
        MAR_LOG(m, AGORA_LOG_ERROR, "cannot write %s: out of memory", key);
        if (cb)
            cb(arg, AGORA_ENOMEM, NULL);
        return;
    }
    rc = mar_store_put(m, key, doc, len, cb, arg);
    if (rc != 0) {
        MAR_LOG(m, AGORA_LOG_ERROR, "cannot write %s: %s", key,
                m->api->strerror(rc));
        if (cb) /* completes now, failed, so that its context is freed */
            cb(arg, rc, NULL);
    }
}

void mar_state_app_save(struct mar *m, struct mar_rapp *a)
{
    struct agora_jw *w = agora_jw_new();
    char *key = NULL;

    if (w == NULL) {
        MAR_LOG(m, AGORA_LOG_ERROR, "cannot save %s: out of memory",
                a->def->id);
        return;
    }
    mar_app_write(w, a->def);
    if (asprintf(&key, "apps/%s", a->key) >= 0) {
        put_json(m, key, w, write_done, m);
        free(key);
    }
    if (a->def->version &&
        asprintf(&key, "versions/%s/%s", a->key, a->def->version) >= 0) {
        put_json(m, key, w, write_done, m);
        free(key);
    }
    agora_jw_free(w);
    if (a->versions_known && a->def->version) {
        a->nversions++;
        if (a->nversions <= mar_state_versions_kept(m))
            return;
        a->nversions = mar_state_versions_kept(m);
    }
    mar_state_versions_trim(m, a);
}

/* Deletes the oldest versions past max_versions (or all, max 0). */
struct trim_ctx {
    struct agora_pending pend;
    struct mar *m;
    char *key;
    size_t keep;
};

static void trim_free(struct agora_pending *p)
{
    struct trim_ctx *c = (struct trim_ctx *)p;

    free(c->key);
    free(c);
}

static void trim_listed(void *arg, int err, const struct agora_store_result *r)
{
    struct trim_ctx *c = arg;
    size_t i;
    char *k;

    agora_pending_del(&c->pend);
    if (err == 0 && r->nnames > c->keep) {
        /* Timestamps sort as they read: the first names are the oldest. */
        for (i = 0; i < r->nnames - c->keep; i++) {
            if (asprintf(&k, "versions/%s/%s", c->key, r->names[i]) < 0)
                break;
            mar_store_flush(c->m);
            c->m->api->store_delete(c->m->h, k, AGORA_STORE_ANY, write_done,
                                    c->m);
            free(k);
        }
    }
    trim_free(&c->pend);
}

static void trim(struct mar *m, const char *app_key, size_t keep)
{
    struct trim_ctx *c = calloc(1, sizeof(*c));
    char *k = NULL;

    if (c == NULL || (c->key = strdup(app_key)) == NULL ||
        asprintf(&k, "versions/%s", app_key) < 0) {
        if (c)
            free(c->key);
        free(c);
        return;
    }
    c->m = m;
    c->keep = keep;
    agora_pending_add(&m->pend, &c->pend, trim_free);
    mar_store_flush(m);
    if (m->api->store_list(m->h, k, trim_listed, c) != 0) {
        agora_pending_del(&c->pend);
        trim_free(&c->pend);
    }
    free(k);
}

size_t mar_state_versions_kept(const struct mar *m)
{
    return m->conf->max_versions > 0 ? (size_t)m->conf->max_versions : 1;
}

void mar_state_versions_trim(struct mar *m, struct mar_rapp *a)
{
    trim(m, a->key, mar_state_versions_kept(m));
}

void mar_state_app_remove(struct mar *m, struct mar_rapp *a)
{
    char *k = NULL;

    mar_store_flush(m);
    if (asprintf(&k, "apps/%s", a->key) >= 0) {
        m->api->store_delete(m->h, k, AGORA_STORE_ANY, write_done, m);
        free(k);
    }
    trim(m, a->key, 0);
    if (a->dirty) {
        struct mar_rapp **pp;

        for (pp = &m->dirty; *pp; pp = &(*pp)->next_dirty) {
            if (*pp == a) {
                *pp = a->next_dirty;
                break;
            }
        }
    }
    if (a->queued_since > 0)
        m->nqueued--;
    agora_map_del(&m->apps, a->def->id);
    mar_index_del(m, a->def);
    m->sorted_ok = 0;
    app_free(a);
}

/* ---- instances ---- */

/* 16 random bytes from the kernel's generator, drawn 4 KB at a time:
 * one getrandom() per instance was a syscall per task launched (and a
 * file opened per instance before it, a quarter of a burst's time,
 * scripts/bench/marathon). The loop thread is the only caller. */
/* a, b and c joined in a new string (the caller frees it), or NULL.
 * For the ids and keys made for every instance: asprintf() parsed its
 * format each time, three times a launch. */
static char *join3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);

    if (s == NULL)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

static int random16(unsigned char out[16])
{
    static unsigned char pool[4096];
    static size_t left;
    ssize_t n;

    if (left < 16) {
        n = getrandom(pool, sizeof(pool), 0);
        if (n < 16)
            return -1;
        left = (size_t)n;
    }
    left -= 16;
    memcpy(out, pool + left, 16);
    memset(pool + left, 0, 16); /* used bytes are not kept */
    return 0;
}

/* A version 4 UUID's text (36 characters and a NUL) without printf. */
static void uuid_v4(unsigned char b[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t i, k = 0;

    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = hex[b[i] >> 4];
        out[k++] = hex[b[i] & 15];
    }
    out[k] = '\0';
}

int mar_state_uuid4(char out[37])
{
    unsigned char b[16];

    if (random16(b) != 0)
        return -1;
    uuid_v4(b, out);
    return 0;
}

struct mar_inst *mar_state_inst_new(struct mar *m, struct mar_rapp *a)
{
    struct mar_inst *in = calloc(1, sizeof(*in));
    char uuid[37];

    if (in == NULL)
        return NULL;
    if (mar_state_uuid4(uuid) != 0) {
        free(in);
        return NULL;
    }
    in->app = a;
    in->state = AGORA_TASK_STAGING;
    in->healthy = -1;
    in->ready = mar_ready_inst_new(a);
    in->instance_id = join3(a->safe_id, ".instance-", uuid);
    if (in->instance_id)
        in->task_id = join3(in->instance_id, "._app.1", "");
    in->version = a->def->version ? strdup(a->def->version) : NULL;
    in->config_version = a->def->last_config_change_at
                             ? strdup(a->def->last_config_change_at)
                             : NULL;
    if (!in->instance_id || !in->task_id || !in->version ||
        !in->config_version) {
        free(in->instance_id);
        free(in->task_id);
        free(in->version);
        free(in->config_version);
        free(in);
        return NULL;
    }
    return in;
}

void mar_state_app_redefined(struct mar_rapp *a)
{
    size_t i;

    mar_sched_count_app(a);
    mar_state_app_res_drop(a);
    for (i = 0; i < a->ninst; i++)
        mar_inst_changed(a->inst[i]);
    mar_ready_free(a->ready);
    a->ready = mar_ready_parse(a->def);
    free(a->def_doc);
    a->def_doc = NULL;
    a->def_doc_len = 0;
    mar_app_tasks_changed(a);
}

/* Adds in to its app's list and the task table. */
static int inst_attach(struct mar *m, struct mar_inst *in)
{
    struct mar_rapp *a = in->app;

    if (a->ninst == a->capinst) {
        size_t cap = a->capinst ? a->capinst * 2 : 4;
        struct mar_inst **v = realloc(a->inst, cap * sizeof(*v));

        if (v == NULL)
            return AGORA_ENOMEM;
        a->inst = v;
        a->capinst = cap;
    }
    if (agora_map_put(&m->tasks, in->task_id, in) < 0)
        return AGORA_ENOMEM;
    a->inst[a->ninst++] = in;
    mar_app_tasks_changed(a);
    in->counted = 0;
    mar_sched_count(in, 0);
    return 0;
}

int mar_state_inst_attach(struct mar *m, struct mar_inst *in)
{
    return inst_attach(m, in);
}

static void inst_free(struct mar *m, struct mar_inst *in)
{
    mar_ready_forget(m, in);
    free(in->instance_id);
    free(in->task_id);
    free(in->version);
    free(in->config_version);
    free(in->agent_id);
    free(in->host);
    free(in->ip);
    free(in->ports);
    free(in->last_failure_cause);
    free(in->doc);
    free(in);
}

/* A time in seconds as JSON to the millisecond ("1765000000.123", as
 * the API shows it), without printf: agora_jw_num()'s %.17g and its
 * round-trip check were half the cost of an instance's record. */
static void stamp_json(struct agora_jw *w, const char *key, double t)
{
    char buf[32], *p = buf + sizeof(buf);
    int64_t ms;
    int i;

    if (!(t > 0 && t < 1e15)) {
        agora_jw_knum(w, key, t);
        return;
    }
    ms = (int64_t)(t * 1000.0 + 0.5);
    for (i = 0; i < 3; i++, ms /= 10)
        *--p = (char)('0' + ms % 10);
    *--p = '.';
    do {
        *--p = (char)('0' + ms % 10);
        ms /= 10;
    } while (ms > 0);
    agora_jw_key(w, key);
    agora_jw_raw(w, p, (size_t)(buf + sizeof(buf) - p));
}

static void inst_write(struct agora_jw *w, const struct mar_inst *in)
{
    size_t i;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "instanceId", in->instance_id);
    agora_jw_kstr(w, "taskId", in->task_id);
    agora_jw_kstr(w, "appId", in->app->def->id);
    agora_jw_kstr(w, "version", in->version);
    agora_jw_kstr(w, "configVersion", in->config_version);
    agora_jw_kstr(w, "agentId", in->agent_id);
    agora_jw_kstr(w, "host", in->host);
    agora_jw_kstr(w, "state", agora_task_state_name(in->state));
    stamp_json(w, "stagedAt", in->staged.t);
    stamp_json(w, "startedAt", in->started.t);
    agora_jw_kbool(w, "scaleKill", in->scale_kill);
    agora_jw_key(w, "ports");
    agora_jw_arr_open(w);
    for (i = 0; i < in->nports; i++)
        agora_jw_int(w, in->ports[i]);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
}

void mar_state_inst_save(struct mar *m, struct mar_inst *in,
                         const char *ack_task, const char *ack_uuid)
{
    struct agora_jw *w = m->jw;
    struct ack_ctx *c = ack_new(m, ack_task, ack_uuid);
    char *key;

    agora_jw_reset(w);
    inst_write(w, in);
    if ((key = join3("instances/", in->instance_id, "")) == NULL) {
        ack_done(c, AGORA_ENOMEM, NULL);
        return;
    }
    if (c)
        put_json(m, key, w, ack_done, c);
    else
        put_json(m, key, w, write_done, m);
    free(key);
}

void mar_state_inst_remove(struct mar *m, struct mar_inst *in,
                           const char *ack_task, const char *ack_uuid)
{
    struct mar_rapp *a = in->app;
    struct ack_ctx *c = ack_new(m, ack_task, ack_uuid);
    char *key = NULL;
    size_t i;
    int rc;

    mar_sched_count(in, 1);
    for (i = 0; i < a->ninst; i++) {
        if (a->inst[i] == in) {
            memmove(&a->inst[i], &a->inst[i + 1],
                    (a->ninst - i - 1) * sizeof(*a->inst));
            a->ninst--;
            mar_app_tasks_changed(a);
            break;
        }
    }
    agora_map_del(&m->tasks, in->task_id);
    mar_store_flush(m);
    if (asprintf(&key, "instances/%s", in->instance_id) >= 0) {
        rc = m->api->store_delete(m->h, key, AGORA_STORE_ANY,
                                  c ? ack_done : write_done,
                                  c ? (void *)c : (void *)m);
        if (rc != 0 && c)
            ack_done(c, rc, NULL);
        free(key);
    } else if (c) {
        ack_done(c, AGORA_ENOMEM, NULL);
    }
    inst_free(m, in);
}

/* ---- deployments ---- */

void mar_state_deploy_save(struct mar *m, struct mar_deploy *d)
{
    struct agora_jw *w = agora_jw_new();
    char *key = NULL;

    if (w == NULL || asprintf(&key, "deployments/%s", d->id) < 0) {
        agora_jw_free(w);
        return;
    }
    mar_deploy_write(m, w, d);
    put_json(m, key, w, write_done, m);
    free(key);
    agora_jw_free(w);
}

void mar_state_deploy_delete(struct mar *m, struct mar_deploy *d)
{
    char *key = NULL;

    if (asprintf(&key, "deployments/%s", d->id) < 0)
        return;
    mar_store_flush(m);
    m->api->store_delete(m->h, key, AGORA_STORE_ANY, write_done, m);
    free(key);
}

/* ---- loading ---- */

static void load_step(struct mar *m);

static void load_failed(struct mar *m, const char *what, int err)
{
    MAR_LOG(m, AGORA_LOG_ERROR, "cannot read %s from the store: %s", what,
            m->api->strerror(err));
    m->load_failed = 1;
    m->api->set_ready(m->h, 0, "the store could not be read");
}

static void load_apps(void *arg, int err, const struct agora_store_result *r)
{
    struct mar *m = arg;
    size_t i;

    if (err != 0 && err != AGORA_ENOENT) {
        load_failed(m, "apps", err);
        return;
    }
    for (i = 0; err == 0 && i < r->nentries; i++) {
        struct mar_errs e = {0};
        char why[128];
        yajl_val v = agora_json_parse(r->entries[i].value, why, sizeof(why));
        struct mar_app *app = NULL;
        struct mar_rapp *a;

        if (v)
            app = mar_app_parse(v, "/", NULL, "", &e);
        yajl_tree_free(v);
        mar_errs_free(&e);
        if (app == NULL) {
            MAR_LOG(m, AGORA_LOG_ERROR, "app %s in the store is invalid; "
                    "left out", r->entries[i].name);
            continue;
        }
        a = mar_state_app_add(m, app);
        if (a)
            a->store_version = r->entries[i].version;
    }
    m->loading++;
    load_step(m);
}

static struct mar_inst *inst_parse(struct mar *m, const char *name,
                                   const char *json)
{
    char why[128];
    yajl_val v = agora_json_parse(json, why, sizeof(why)), p;
    struct mar_inst *in = NULL;
    struct mar_rapp *a;
    const char *s;
    double d;
    size_t i;
    int st;

    if (v == NULL)
        return NULL;
    a = mar_state_app(m, agora_json_get_str(v, "appId"));
    s = agora_json_get_str(v, "state");
    st = s ? agora_task_state_parse(s) : -1;
    if (a == NULL || st < 0 || !agora_json_get_str(v, "taskId"))
        goto out;
    in = calloc(1, sizeof(*in));
    if (in == NULL)
        goto out;
    in->app = a;
    in->state = (enum agora_task_state)st;
    in->healthy = -1;
    in->ready = a->ready ? 0 : 1; /* checked again if a deployment runs */
    in->instance_id = strdup(name);
    in->task_id = strdup(agora_json_get_str(v, "taskId"));
#define DUPS(field, key)                                                     \
    in->field = (s = agora_json_get_str(v, key)) ? strdup(s) : NULL
    DUPS(version, "version");
    DUPS(config_version, "configVersion");
    DUPS(agent_id, "agentId");
    DUPS(host, "host");
#undef DUPS
    if (agora_json_num(v, "stagedAt", &d) == 0)
        mar_stamp_set(&in->staged, d);
    in->launch_from = m->api->now(m->h);
    if (agora_json_num(v, "startedAt", &d) == 0)
        mar_stamp_set(&in->started, d);
    agora_json_bool(v, "scaleKill", &in->scale_kill);
    p = agora_json_get(v, "ports");
    if (YAJL_IS_ARRAY(p) && p->u.array.len > 0 &&
        (in->ports = calloc(p->u.array.len, sizeof(*in->ports)))) {
        for (i = 0; i < p->u.array.len; i++) {
            if (YAJL_IS_INTEGER(p->u.array.values[i]))
                in->ports[in->nports++] =
                    (uint32_t)YAJL_GET_INTEGER(p->u.array.values[i]);
        }
    }
    if (!in->instance_id || !in->task_id || !in->version ||
        !in->config_version || inst_attach(m, in) < 0) {
        inst_free(m, in);
        in = NULL;
    }
out:
    yajl_tree_free(v);
    return in;
}

static void load_instances(void *arg, int err,
                           const struct agora_store_result *r)
{
    struct mar *m = arg;
    size_t i;

    if (err != 0 && err != AGORA_ENOENT) {
        load_failed(m, "instances", err);
        return;
    }
    for (i = 0; err == 0 && i < r->nentries; i++) {
        if (inst_parse(m, r->entries[i].name, r->entries[i].value) == NULL) {
            char *k = NULL;

            MAR_LOG(m, AGORA_LOG_WARN, "instance %s in the store has no app;"
                    " dropped", r->entries[i].name);
            if (asprintf(&k, "instances/%s", r->entries[i].name) >= 0) {
                mar_store_flush(m);
                m->api->store_delete(m->h, k, AGORA_STORE_ANY, write_done, m);
                free(k);
            }
        }
    }
    m->loading++;
    load_step(m);
}

static void load_deployments(void *arg, int err,
                             const struct agora_store_result *r)
{
    struct mar *m = arg;
    size_t i;

    if (err != 0 && err != AGORA_ENOENT) {
        load_failed(m, "deployments", err);
        return;
    }
    for (i = 0; err == 0 && i < r->nentries; i++) {
        struct mar_deploy *d = mar_deploy_parse(r->entries[i].value);

        if (d == NULL) {
            MAR_LOG(m, AGORA_LOG_ERROR, "deployment %s in the store is "
                    "invalid; dropped", r->entries[i].name);
            continue;
        }
        d->store_version = r->entries[i].version;
        /* Resumed: its locks taken again, its current step begun again. */
        d->next = m->deploys;
        m->deploys = d;
        m->ndeploys++;
        mar_deploy_begin_step(m, d);
    }
    m->loading++;
    load_step(m);
}

/* Asks the master for the state of every instance it knows of, and of
 * every live task of the framework: the answers arrive as status
 * updates, and the master holds them until the agents of a failover are
 * back, so none says "unknown" for a task that merely was not reported
 * yet. */
static void load_reconcile(struct mar *m)
{
    const char **ids;
    size_t n = 0, i = 0;
    struct mar_inst *in;

    ids = calloc(m->tasks.n + 1, sizeof(*ids));
    if (ids) {
        while ((in = agora_map_next(&m->tasks, &i)) != NULL)
            ids[n++] = in->task_id;
        if (n > 0)
            m->api->reconcile(m->fw, ids, n);
        free(ids);
    }
    m->api->reconcile(m->fw, NULL, 0);
}

static void groups_loaded(struct mar *m)
{
    m->loading++;
    load_step(m);
}

static void load_step(struct mar *m)
{
    struct mar_rapp *a;
    size_t i = 0;
    int rc = 0;

    switch (m->loading) {
    case 0:
        rc = m->api->store_get_children(m->h, "apps", load_apps, m);
        break;
    case 1:
        rc = m->api->store_get_children(m->h, "instances", load_instances, m);
        break;
    case 2:
        rc = m->api->store_get_children(m->h, "deployments",
                                        load_deployments, m);
        break;
    case 3:
        mar_group_load(m, groups_loaded);
        return;
    default:
        m->loaded = 1;
        load_reconcile(m);
        while ((a = agora_map_next(&m->apps, &i)) != NULL)
            mar_sched_dirty(m, a);
        m->api->set_ready(m->h, 1, NULL);
        MAR_LOG(m, AGORA_LOG_INFO, "loaded %zu apps, %zu instances, "
                "%zu deployments", m->apps.n, m->tasks.n, m->ndeploys);
        return;
    }
    if (rc != 0)
        load_failed(m, "the state", rc);
}

void mar_state_load(struct mar *m)
{
    m->loading = 0;
    load_step(m);
}

void mar_state_free(struct mar *m)
{
    struct mar_rapp *a;
    struct mar_deploy *d;
    size_t i = 0, j;

    while ((a = agora_map_next(&m->apps, &i)) != NULL) {
        for (j = 0; j < a->ninst; j++)
            inst_free(m, a->inst[j]);
        app_free(a);
    }
    while ((d = m->deploys) != NULL) {
        m->deploys = d->next;
        mar_deploy_free(d);
    }
    agora_map_free(&m->apps);
    agora_map_free(&m->tasks);
    free(m->sorted);
    m->sorted = NULL;
    m->sorted_ok = 0;
    i = 0;
    {
        struct mar_agent *ag;

        while ((ag = agora_map_next(&m->agents, &i)) != NULL) {
            for (j = 0; j < ag->nattrs; j++) {
                free((char *)ag->attrs[j].key);
                free((char *)ag->attrs[j].value);
            }
            free(ag->attrs);
            free(ag->hostname);
            free(ag);
        }
    }
    agora_map_free(&m->agents);
    mar_group_free_all(m);
    mar_index_free(m);
}
