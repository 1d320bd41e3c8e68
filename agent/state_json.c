/*
 * state_json.c - the agent's /state document, in the Mesos agent's shape
 * (see state_json.h).
 *
 * Mesos groups tasks as frameworks -> executors -> tasks; here each task
 * runs under a command executor of its own whose id is the task's id and
 * whose directory is the task's sandbox. Live tasks sit in a framework's
 * "executors", terminal ones (those still waiting for the master's
 * acknowledgement, then the last AGENT_COMPLETED_MAX that ended) in
 * "completed_executors". The agent does not know framework names, so a
 * framework's "name" is "".
 */
#include "state_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/resources.h>
#include <agora/sdk.h>

#include "agent.h"
#include "attr_json.h"
#include "ctr_json.h"
#include "exec.h"
#include "task.h"
#include "v1_call.h"

/* ---- resources ---- */

static const char *res_role(const struct agora_resource *r)
{
    return r->role ? r->role : "*";
}

/*
 * The resources of r with roles dropped (same names added up), of every
 * role (role NULL) or only of `role`. Into the empty *out; on failure
 * *out holds what could be added.
 */
static void merge_roles(const struct agora_resources *r, const char *role,
                        struct agora_resources *out)
{
    struct agora_resources one;
    struct agora_resource tmp;
    size_t i;

    for (i = 0; i < r->n; i++) {
        if (role && strcmp(res_role(&r->v[i]), role) != 0)
            continue;
        tmp = r->v[i];
        tmp.role = (char *)"*";
        one.v = &tmp;
        one.n = 1;
        if (agora_resources_add(out, &one) != 0)
            return;
    }
}

/* "[31000-32000, 33000-33010]" and "{a, b}", as Mesos prints them. */
static void write_ranges(struct agora_jw *w, const struct agora_resource *r)
{
    char *buf;
    size_t i, cap = 3 + r->nranges * 44, o = 0;

    buf = malloc(cap);
    if (buf == NULL) {
        agora_jw_null(w);
        return;
    }
    buf[o++] = '[';
    for (i = 0; i < r->nranges; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%llu-%llu", i ? ", " : "",
                              (unsigned long long)r->ranges[i].begin,
                              (unsigned long long)r->ranges[i].end);
    buf[o++] = ']';
    agora_jw_strn(w, buf, o);
    free(buf);
}

static void write_set(struct agora_jw *w, const struct agora_resource *r)
{
    char *buf;
    size_t i, cap = 3, o = 0;

    for (i = 0; i < r->nitems; i++)
        cap += strlen(r->items[i]) + 2;
    buf = malloc(cap);
    if (buf == NULL) {
        agora_jw_null(w);
        return;
    }
    buf[o++] = '{';
    for (i = 0; i < r->nitems; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "",
                              r->items[i]);
    buf[o++] = '}';
    agora_jw_strn(w, buf, o);
    free(buf);
}

/* Every role's resources are merged into one list without roles first,
 * so a name reserved for two roles shows once, added up. */
void state_json_resources(struct agora_jw *w, const struct agora_resources *r,
                          const char *role)
{
    static const char *const always[] = {"cpus", "gpus", "mem", "disk"};
    struct agora_resources m = {NULL, 0};
    const struct agora_resource *x;
    size_t i, k;

    merge_roles(r, role, &m);
    agora_jw_obj_open(w);
    for (k = 0; k < 4; k++)
        agora_jw_knum(w, always[k], agora_resources_scalar(&m, always[k]));
    for (i = 0; i < m.n; i++) {
        x = &m.v[i];
        for (k = 0; k < 4 && strcmp(x->name, always[k]) != 0; k++)
            ;
        if (k < 4 && x->type == AGORA_SCALAR)
            continue;
        agora_jw_key(w, x->name);
        if (x->type == AGORA_SCALAR)
            agora_jw_num(w, x->scalar);
        else if (x->type == AGORA_RANGES)
            write_ranges(w, x);
        else
            write_set(w, x);
    }
    agora_jw_obj_close(w);
    agora_resources_free(&m);
}

/* {"<role>": {resources}} for each role other than "*". */
static void write_reserved(struct agora_jw *w, const struct agora_resources *r)
{
    size_t i, j;

    agora_jw_obj_open(w);
    for (i = 0; i < r->n; i++) {
        const char *role = res_role(&r->v[i]);

        if (strcmp(role, "*") == 0)
            continue;
        for (j = 0; j < i && strcmp(res_role(&r->v[j]), role) != 0; j++)
            ;
        if (j < i)
            continue; /* this role was written already */
        agora_jw_key(w, role);
        state_json_resources(w, r, role);
    }
    agora_jw_obj_close(w);
}

/* ---- tasks ---- */

static const char *task_name(const struct agent_task *t)
{
    return t->name ? t->name : "";
}

static int task_terminal(const struct agent_task *t)
{
    return agora_task_state_terminal(t->state);
}

static int cmp_tasks(const void *x, const void *y)
{
    const struct agent_task *a = *(const struct agent_task *const *)x;
    const struct agent_task *b = *(const struct agent_task *const *)y;
    int c = strcmp(a->framework_id ? a->framework_id : "",
                   b->framework_id ? b->framework_id : "");

    return c ? c : strcmp(a->id, b->id);
}

const struct agent_task **state_json_tasks(const struct agent *a, size_t *n)
{
    const struct agent_task **v, *t;
    const char *key;
    void *val;
    size_t pos = 0, cap = a->tasks.len + a->ncompleted, i;

    *n = 0;
    if (cap == 0 || (v = malloc(cap * sizeof(*v))) == NULL)
        return NULL;
    while (*n < a->tasks.len && map_next(&a->tasks, &pos, &key, &val))
        v[(*n)++] = val;
    for (i = 0; *n < cap && (t = agent_completed(a, i)) != NULL; i++)
        v[(*n)++] = t;
    qsort(v, *n, sizeof(*v), cmp_tasks);
    return v;
}

/* Mesos' labels: [{"key", "value"}] from the spec's {"k": "v"}; v1's
 * Labels message wraps the list: {"labels": [...]}. */
static void write_labels_of(struct agora_jw *w, yajl_val spec, int v1)
{
    yajl_val l = agora_json_get(spec, "labels");
    size_t i;

    if (!YAJL_IS_OBJECT(l))
        return;
    agora_jw_key(w, "labels");
    if (v1) {
        agora_jw_obj_open(w);
        agora_jw_key(w, "labels");
    }
    agora_jw_arr_open(w);
    for (i = 0; i < l->u.object.len; i++) {
        yajl_val v = l->u.object.values[i];

        if (!YAJL_IS_STRING(v))
            continue;
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "key", l->u.object.keys[i]);
        agora_jw_kstr(w, "value", v->u.string);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    if (v1)
        agora_jw_obj_close(w);
}

/* From the spec's text (the task keeps no parsed spec): parsed only when
 * it names labels. Completed tasks keep no spec, so no labels. */
void state_json_labels(struct agora_jw *w, const struct agent_task *t, int v1)
{
    char err[128];
    yajl_val spec;

    if (t->spec_json == NULL || strstr(t->spec_json, "\"labels\"") == NULL)
        return;
    spec = agora_json_parse(t->spec_json, err, sizeof(err));
    write_labels_of(w, spec, v1);
    if (spec)
        yajl_tree_free(spec);
}

/* Opens one status of t with its state; v1's TaskStatus names the task
 * and the agent too. */
static void status_open(struct agora_jw *w, const struct agent *a,
                        const struct agent_task *t, enum agora_task_state s,
                        int v1)
{
    agora_jw_obj_open(w);
    if (v1) {
        v1_write_id(w, "task_id", t->id);
        v1_write_id(w, "agent_id", a->id);
    }
    agora_jw_kstr(w, "state", agora_task_state_name(s));
}

/*
 * Only RUNNING has a time; the others are the latest state without one
 * (the agent keeps no history of a task's updates once acknowledged).
 */
void state_json_statuses(struct agora_jw *w, const struct agent *a,
                         const struct agent_task *t, int v1)
{
    agora_jw_arr_open(w);
    if (t->start_time > 0) {
        status_open(w, a, t, AGORA_TASK_RUNNING, v1);
        agora_jw_knum(w, "timestamp", t->start_time);
        if (t->state == AGORA_TASK_RUNNING && t->healthy >= 0)
            agora_jw_kbool(w, "healthy", t->healthy);
        agora_jw_obj_close(w);
    }
    if (t->start_time <= 0 || t->state != AGORA_TASK_RUNNING) {
        status_open(w, a, t, t->state, v1);
        if (t->healthy >= 0)
            agora_jw_kbool(w, "healthy", t->healthy);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

/* A task as Mesos' agent /state shows it under its executor. */
static void write_mesos_task(struct agora_jw *w, const struct agent *a,
                             const struct agent_task *t)
{
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", t->id);
    agora_jw_kstr(w, "name", task_name(t));
    agora_jw_kstr(w, "framework_id", t->framework_id);
    agora_jw_kstr(w, "executor_id", ""); /* a command task, as in Mesos */
    agora_jw_kstr(w, "slave_id", a->id);
    agora_jw_kstr(w, "agent_id", a->id);
    agora_jw_kstr(w, "state", agora_task_state_name(t->state));
    agora_jw_key(w, "resources");
    state_json_resources(w, &t->resources, NULL);
    agora_jw_key(w, "statuses");
    state_json_statuses(w, a, t, 0);
    state_json_labels(w, t, 0);
    ctr_json_write_spec(w, "container", t->spec_json);
    agora_jw_obj_close(w);
}

void state_json_executor_name(const struct agent_task *t, char *out,
                              size_t len)
{
    snprintf(out, len, "Command Executor (Task: %s)", t->id);
}

/* The command executor of one task. */
static void write_executor(struct agora_jw *w, const struct agent *a,
                           const struct agent_task *t)
{
    char name[300];
    int done = task_terminal(t);

    state_json_executor_name(t, name, sizeof(name));
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", t->id);
    agora_jw_kstr(w, "name", name);
    agora_jw_kstr(w, "source", t->id);
    agora_jw_kstr(w, "directory", t->sandbox);
    agora_jw_key(w, "resources");
    state_json_resources(w, &t->resources, NULL);
    agora_jw_key(w, "tasks");
    agora_jw_arr_open(w);
    if (!done)
        write_mesos_task(w, a, t);
    agora_jw_arr_close(w);
    agora_jw_key(w, "queued_tasks");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_key(w, "completed_tasks");
    agora_jw_arr_open(w);
    if (done)
        write_mesos_task(w, a, t);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
}

/* One framework: the tasks v[0..n) all belong to it. */
static void write_framework(struct agora_jw *w, const struct agent *a,
                            const struct agent_task **v, size_t n)
{
    size_t i;
    int done;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", v[0]->framework_id);
    agora_jw_kstr(w, "name", "");
    for (done = 0; done < 2; done++) {
        agora_jw_key(w, done ? "completed_executors" : "executors");
        agora_jw_arr_open(w);
        for (i = 0; i < n; i++)
            if (task_terminal(v[i]) == done)
                write_executor(w, a, v[i]);
        agora_jw_arr_close(w);
    }
    agora_jw_obj_close(w);
}

static int same_framework(const struct agent_task *x,
                          const struct agent_task *y)
{
    return strcmp(x->framework_id ? x->framework_id : "",
                  y->framework_id ? y->framework_id : "") == 0;
}

static void write_frameworks(struct agora_jw *w, const struct agent *a,
                             const struct agent_task **v, size_t n)
{
    size_t i, j;

    agora_jw_arr_open(w);
    for (i = 0; i < n; i = j) {
        for (j = i + 1; j < n && same_framework(v[i], v[j]); j++)
            ;
        write_framework(w, a, v + i, j - i);
    }
    agora_jw_arr_close(w);
}

/* The flat task list of /state (see the top of the file). */
static void write_flat_tasks(struct agora_jw *w, const struct agent_task **v,
                             size_t n)
{
    size_t i;

    agora_jw_arr_open(w);
    for (i = 0; i < n; i++) {
        const struct agent_task *t = v[i];

        agora_jw_obj_open(w);
        agora_jw_kstr(w, "id", t->id);
        agora_jw_kstr(w, "name", task_name(t));
        agora_jw_kstr(w, "framework_id", t->framework_id);
        agora_jw_kstr(w, "state", agora_task_state_name(t->state));
        agora_jw_key(w, "healthy");
        if (t->healthy >= 0)
            agora_jw_bool(w, t->healthy);
        else
            agora_jw_null(w);
        agora_jw_key(w, "pid");
        if (t->pid > 0)
            agora_jw_int(w, t->pid);
        else
            agora_jw_null(w);
        agora_jw_key(w, "start_time");
        if (t->start_time > 0)
            agora_jw_num(w, t->start_time);
        else
            agora_jw_null(w);
        agora_jw_kstr(w, "sandbox", t->sandbox);
        agora_jw_key(w, "resources");
        state_json_resources(w, &t->resources, NULL);
        ctr_json_write_spec(w, "container", t->spec_json);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

void state_json_statistics(struct agora_jw *w, const struct exec_usage *u)
{
    agora_jw_obj_open(w);
    agora_jw_knum(w, "timestamp", u->timestamp);
    agora_jw_knum(w, "cpus_user_time_secs", u->cpus_user_time_secs);
    agora_jw_knum(w, "cpus_system_time_secs", u->cpus_system_time_secs);
    agora_jw_knum(w, "cpus_limit", u->cpus_limit);
    agora_jw_kint(w, "mem_rss_bytes", (int64_t)u->mem_rss_bytes);
    agora_jw_kint(w, "mem_limit_bytes", (int64_t)u->mem_limit_bytes);
    agora_jw_kint(w, "processes", (int64_t)u->processes);
    agora_jw_obj_close(w);
}

/* ---- the agent ---- */

/* Attribute values as Mesos types them: a number when the text is one. */
static void write_attributes(struct agora_jw *w, const struct agent *a)
{
    size_t i;

    agora_jw_obj_open(w);
    for (i = 0; i < a->nattrs; i++) {
        agora_jw_key(w, a->attrs[i].key);
        attr_json_value(w, a->attrs[i].value);
    }
    agora_jw_obj_close(w);
}

void state_json_flags(struct agora_jw *w, const struct agent *a)
{
    conf_write_json(agent_flags, &a->conf, w);
}

/* The address the agent is reached at, as in its Mesos pid. */
static const char *agent_ip(const struct agent *a)
{
    if (a->advertise_ip && *a->advertise_ip)
        return a->advertise_ip;
    return a->conf.ip && *a->conf.ip ? a->conf.ip : "0.0.0.0";
}

/* ---- the document ---- */

void state_json_write(struct agora_jw *w, const struct agent *a, unsigned port)
{
    const struct agent_task **v;
    const char *iso = exec_isolation_name(a->exec);
    char pid[320];
    size_t n;

    snprintf(pid, sizeof(pid), "slave(1)@%s:%u", agent_ip(a), port);
    v = state_json_tasks(a, &n);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "version", AGORA_VERSION);
    agora_jw_kstr(w, "id", a->id);
    agora_jw_kstr(w, "pid", pid);
    agora_jw_kstr(w, "hostname", a->conf.hostname);
    agora_jw_knum(w, "start_time", a->start_time);
    agora_jw_key(w, "resources");
    state_json_resources(w, &a->total, NULL);
    agora_jw_key(w, "unreserved_resources");
    state_json_resources(w, &a->total, "*");
    agora_jw_key(w, "reserved_resources");
    write_reserved(w, &a->total);
    agora_jw_key(w, "attributes");
    write_attributes(w, a);
    agora_jw_kstr(w, "isolation", iso ? iso : "");
    agora_jw_key(w, "flags");
    state_json_flags(w, a);
    agora_jw_key(w, "frameworks");
    write_frameworks(w, a, v, n);
    agora_jw_key(w, "completed_frameworks");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_key(w, "tasks");
    write_flat_tasks(w, v, n);
    agora_jw_obj_close(w);
    free(v);
}
