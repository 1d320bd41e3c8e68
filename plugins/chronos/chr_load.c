/*
 * chr_load.c - reading the store when the plugin starts (a restart, a
 * failover, a reload): jobs, then runs in flight (their own records,
 * then launch records), then joins, then histories; then every job's
 * due time is armed and the runs the previous leader left are
 * reconciled, so that they are followed, not repeated.
 *
 * Each prefix is read with one store_get_children(). Past
 * AGORA_STORE_CHILDREN_MAX bytes (100,000 jobs, or a few thousand full
 * histories, are more) that is AGORA_ETOOBIG: the prefix is then read
 * key by key, store_list() for the names and at most LOAD_WINDOW
 * store_get()s in flight, so no amount of state stops a leader from
 * starting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chronos.h"

#define LOAD_WINDOW 64

typedef void (*load_entry_fn)(struct chr *c, const char *name,
                              const char *value, int64_t version);

struct loader {
    struct agora_pending pend;
    struct chr *c;
    const char *prefix;         /* static */
    load_entry_fn entry;
    char **names;               /* the key-by-key read */
    size_t n, sent, got;
};

static void load_next(struct chr *c);

static void load_failed(struct chr *c, const char *what, int err)
{
    CHR_LOG(c, AGORA_LOG_ERROR, "cannot read %s from the store: %s", what,
            c->api->strerror(err));
    c->api->set_ready(c->h, 0, "the store could not be read");
}

static void loader_free(struct agora_pending *p)
{
    struct loader *l = (struct loader *)p;
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l);
}

/* The loader is done with its prefix: the next step. */
static void loader_done(struct loader *l)
{
    struct chr *c = l->c;

    agora_pending_del(&l->pend);
    loader_free(&l->pend);
    c->load_step++;
    load_next(c);
}

static void got_one(void *arg, int err, const struct agora_store_result *r);

/* Keeps up to LOAD_WINDOW gets in flight. */
static void loader_send(struct loader *l)
{
    while (l->sent < l->n && l->sent - l->got < LOAD_WINDOW) {
        char *key = NULL;
        int rc = AGORA_ENOMEM;

        if (asprintf(&key, "%s/%s", l->prefix, l->names[l->sent]) >= 0)
            rc = l->c->api->store_get(l->c->h, key, got_one, l);
        free(key);
        if (rc != 0) {
            load_failed(l->c, l->prefix, rc);
            return;
        }
        l->sent++;
    }
}

static void got_one(void *arg, int err, const struct agora_store_result *r)
{
    struct loader *l = arg;
    const char *name = l->names[l->got++];

    if (err != 0 && err != AGORA_ENOENT) {
        load_failed(l->c, l->prefix, err);
        return;
    }
    if (err == 0 && r->value)
        l->entry(l->c, name, r->value, r->version);
    if (l->got == l->n) {
        loader_done(l);
        return;
    }
    loader_send(l);
}

static void listed(void *arg, int err, const struct agora_store_result *r)
{
    struct loader *l = arg;
    size_t i;

    if (err == AGORA_ENOENT || (err == 0 && r->nnames == 0)) {
        loader_done(l);
        return;
    }
    if (err != 0) {
        load_failed(l->c, l->prefix, err);
        return;
    }
    l->names = calloc(r->nnames, sizeof(*l->names));
    for (i = 0; l->names && i < r->nnames; i++) {
        if ((l->names[i] = strdup(r->names[i])) == NULL)
            break;
        l->n++;
    }
    if (l->n < r->nnames) {
        load_failed(l->c, l->prefix, AGORA_ENOMEM);
        return;
    }
    loader_send(l);
}

static void got_children(void *arg, int err,
                         const struct agora_store_result *r)
{
    struct loader *l = arg;
    size_t i;
    int rc;

    if (err == AGORA_ETOOBIG) {
        CHR_LOG(l->c, AGORA_LOG_INFO, "%s is too big to read at once; "
                "reading it key by key", l->prefix);
        rc = l->c->api->store_list(l->c->h, l->prefix, listed, l);
        if (rc != 0)
            load_failed(l->c, l->prefix, rc);
        return;
    }
    if (err != 0 && err != AGORA_ENOENT) {
        load_failed(l->c, l->prefix, err);
        return;
    }
    for (i = 0; err == 0 && i < r->nentries; i++)
        l->entry(l->c, r->entries[i].name, r->entries[i].value,
                 r->entries[i].version);
    loader_done(l);
}

static void load_prefix(struct chr *c, const char *prefix, load_entry_fn fn)
{
    struct loader *l = calloc(1, sizeof(*l));
    int rc;

    if (l == NULL) {
        load_failed(c, prefix, AGORA_ENOMEM);
        return;
    }
    l->c = c;
    l->prefix = prefix;
    l->entry = fn;
    agora_pending_add(&c->pend, &l->pend, loader_free);
    rc = c->api->store_get_children(c->h, prefix, got_children, l);
    if (rc != 0)
        load_failed(c, prefix, rc);
}

/* ---- the entries ---- */

static void load_job(struct chr *c, const char *name, const char *value,
                     int64_t version)
{
    struct chr_job *j = NULL;
    struct chr_rjob *rj;
    char *msg = NULL;

    if (chr_job_parse_text(value, CHR_JOB_ANY, chr_now(c), &c->jconf, &j,
                           &msg) != 0) {
        CHR_LOG(c, AGORA_LOG_ERROR, "job %s in the store is invalid (%s); "
                "left out", name, msg ? msg : "no memory");
        free(msg);
        return;
    }
    rj = calloc(1, sizeof(*rj));
    if (rj == NULL || agora_map_put(&c->jobs, j->name, rj) != 0) {
        free(rj);
        chr_job_free(j);
        return;
    }
    rj->job = j;
    rj->heap_index = CHR_HEAP_NONE;
    rj->store_version = version;
    c->ndependent += chr_job_dependent(j);
}

static int64_t json_i64(yajl_val v, const char *key)
{
    int64_t x = 0;

    return agora_json_int(v, key, &x) == 0 ? x : 0;
}

static struct chr_run *run_from(struct chr_rjob *rj, yajl_val v,
                                const char *tid, const struct chr_task_id *id)
{
    struct chr_run *r = calloc(1, sizeof(*r));
    const char *args = agora_json_get_str(v, "args");
    const char *agent = agora_json_get_str(v, "agentId");

    if (r == NULL)
        return NULL;
    r->task_id = strdup(tid);
    r->job_name = strdup(rj->job->name);
    r->args = strdup(args ? args : "");
    r->agent_id = agent && *agent ? strdup(agent) : NULL;
    if (!r->task_id || !r->job_name || !r->args || (agent && *agent &&
                                                    !r->agent_id)) {
        free(r->task_id);
        free(r->job_name);
        free(r->args);
        free(r->agent_id);
        free(r);
        return NULL;
    }
    r->rj = rj;
    r->due = id->due;
    r->attempt = id->attempt;
    r->started = json_i64(v, "started");
    r->task_ended = json_i64(v, "taskEnded") != 0;
    r->reported = json_i64(v, "reported") != 0;
    r->state = r->started > 0 ? CHR_RUN_RUNNING : CHR_RUN_LAUNCHED;
    return r;
}

/* A run the previous leader recorded (a JSON object): followed by its
 * task id. Returns it, or NULL (invalid, its job gone, known already,
 * no memory). */
static struct chr_run *load_run_obj(struct chr *c, yajl_val v)
{
    struct chr_rjob *rj = chr_job_get(c, agora_json_get_str(v, "job"));
    const char *tid = agora_json_get_str(v, "taskId");
    struct chr_task_id id;
    struct chr_run *r = NULL, **vv;

    if (!rj || !tid || agora_map_get(&c->tasks, tid) ||
        chr_task_id_parse(tid, &id) != 0)
        return NULL;
    r = run_from(rj, v, tid, &id);
    chr_task_id_clear(&id);
    vv = r ? realloc(rj->runs, (rj->nruns + 1) * sizeof(*vv)) : NULL;
    if (vv && agora_map_put(&c->tasks, r->task_id, r) == 0) {
        rj->runs = vv;
        rj->capruns = rj->nruns + 1;
        rj->runs[rj->nruns++] = r;
        return r;
    }
    if (vv)
        rj->runs = vv;
    if (r) {
        free(r->task_id);
        free(r->job_name);
        free(r->args);
        free(r->agent_id);
        free(r);
    }
    return NULL;
}

static void load_run(struct chr *c, const char *name, const char *value,
                     int64_t version)
{
    yajl_val v = agora_json_parse(value, NULL, 0);

    (void)name;
    (void)version;
    if (YAJL_IS_OBJECT(v))
        load_run_obj(c, v);
    yajl_tree_free(v);
}

static void deleted(void *arg, int err, const struct agora_store_result *r)
{
    struct chr *c = arg;

    (void)r;
    if (err != 0 && err != AGORA_ENOENT)
        CHR_LOG(c, AGORA_LOG_WARN, "cannot delete a launch record: %s",
                c->api->strerror(err));
}

/* A launch record (chr_launch.c): its runs without a record of their own
 * get one, then it goes. runs/ was read first: a run's own record is
 * newer than its launch record. */
static void load_launch(struct chr *c, const char *name, const char *value,
                        int64_t version)
{
    yajl_val v = agora_json_parse(value, NULL, 0);
    yajl_val runs = v ? agora_json_get(v, "runs") : NULL;
    char *key = NULL;
    size_t i;

    (void)version;
    for (i = 0; YAJL_IS_ARRAY(runs) && i < runs->u.array.len; i++) {
        struct chr_run *r = YAJL_IS_OBJECT(runs->u.array.values[i])
                                ? load_run_obj(c, runs->u.array.values[i])
                                : NULL;

        if (r)
            chr_run_record(c, r);
    }
    yajl_tree_free(v);
    if (asprintf(&key, "launches/%s", name) >= 0)
        chr_store_delete(c, key, AGORA_STORE_ANY, deleted, c);
    free(key);
}

static void load_join(struct chr *c, const char *name, const char *value,
                      int64_t version)
{
    struct chr_rjob *rj = chr_job_get(c, name);
    yajl_val v = rj ? agora_json_parse(value, NULL, 0) : NULL;
    size_t k;

    (void)version;
    if (YAJL_IS_ARRAY(v) &&
        (rj->joined = calloc(v->u.array.len + 1, sizeof(char *)))) {
        for (k = 0; k < v->u.array.len; k++) {
            const char *p = YAJL_GET_STRING(v->u.array.values[k]);

            if (p && (rj->joined[rj->njoined] = strdup(p)) != NULL)
                rj->njoined++;
        }
    }
    yajl_tree_free(v);
}

static void load_history(struct chr *c, const char *name, const char *value,
                         int64_t version)
{
    struct chr_rjob *rj = chr_job_get(c, name);

    (void)version;
    if (rj && chr_hist_parse(value, chr_hist_limit(c), &rj->hist) != 0)
        CHR_LOG(c, AGORA_LOG_WARN, "the history of %s in the store is "
                "invalid; started again", name);
}

static void load_done(struct chr *c)
{
    struct chr_rjob *rj;
    struct chr_run *r;
    const char **ids = calloc(c->tasks.n + 1, sizeof(*ids));
    size_t i = 0, n = 0;

    /* An async run whose task finished has no task to ask about. */
    while (ids && (r = agora_map_next(&c->tasks, &i)) != NULL) {
        if (!r->task_ended)
            ids[n++] = r->task_id;
    }
    c->loaded = 1;
    /* The runs of the previous leader: their state comes back as
     * statuses (held by the master until the agents are back). */
    if (n > 0)
        c->api->reconcile(c->fw, ids, n);
    free(ids);
    i = 0;
    while ((rj = agora_map_next(&c->jobs, &i)) != NULL)
        chr_sched_arm(c, rj);
    c->api->set_ready(c->h, 1, NULL);
    CHR_LOG(c, AGORA_LOG_INFO, "loaded %zu jobs, %zu runs in flight",
            c->jobs.n, c->tasks.n);
}

static void load_next(struct chr *c)
{
    switch (c->load_step) {
    case 0:
        load_prefix(c, "jobs", load_job);
        break;
    case 1:
        load_prefix(c, "runs", load_run);
        break;
    case 2:
        load_prefix(c, "launches", load_launch);
        break;
    case 3:
        load_prefix(c, "joins", load_join);
        break;
    case 4:
        load_prefix(c, "history", load_history);
        break;
    default:
        load_done(c);
    }
}

void chr_state_load(struct chr *c)
{
    c->load_step = 0;
    load_next(c);
}
