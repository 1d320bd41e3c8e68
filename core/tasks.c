/*
 * tasks.c - the master's task table: launch, kill, updates, answers.
 */
#include "tasks.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/resources.h>
#include <agora/sdk.h>

#include "agent_update.h"
#include "agents.h"
#include "alloc.h"
#include "b64.h"
#include "frameworks.h"
#include "master_api_v1.h"
#include "http.h"
#include "json_tree.h"
#include "log.h"
#include "clock.h"
#include "ctr_json.h"
#include "master.h"
#include "master_auth.h"
#include "res_json.h"
#include "tasks_extra.h"
#include "uuid.h"

#define TASK_ID_MAX AGORA_ID_MAX

void tasks_init(struct master *m) { memset(&m->tasks, 0, sizeof(m->tasks)); }

/* ---- shared strings and resources ---- */

/* The interned copy of s (ids of frameworks and agents: few, kept). */
static const char *intern(struct master *m, const char *s)
{
    char *c = map_get(&m->tasks.strings, s);

    if (c)
        return c;
    if ((c = strdup(s)) == NULL)
        return NULL;
    if (map_put(&m->tasks.strings, c, c, NULL) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

struct res_shared {
    struct agora_resources r; /* first: tasks point at it */
    unsigned long refs;
    char *key;
};

/*
 * A shared copy of r: tasks with the same resources (most of them, in a
 * big app) hold one object. NULL when out of memory.
 */
static const struct agora_resources *res_get(struct master *m,
                                             const struct agora_resources *r)
{
    char local[256], *key = local;
    size_t need = agora_resources_format(r, local, sizeof(local));
    struct res_shared *sh;

    if (need >= sizeof(local)) {
        if ((key = malloc(need + 1)) == NULL)
            return NULL;
        agora_resources_format(r, key, need + 1);
    }
    sh = map_get(&m->tasks.resources, key);
    if (sh == NULL && (sh = calloc(1, sizeof(*sh))) != NULL) {
        if ((sh->key = strdup(key)) == NULL ||
            agora_resources_copy(&sh->r, r) < 0 ||
            map_put(&m->tasks.resources, sh->key, sh, NULL) < 0) {
            agora_resources_free(&sh->r);
            free(sh->key);
            free(sh);
            sh = NULL;
        }
    }
    if (key != local)
        free(key);
    if (sh == NULL)
        return NULL;
    sh->refs++;
    return &sh->r;
}

static void res_put(struct master *m, const struct agora_resources *r)
{
    struct res_shared *sh = (struct res_shared *)r;

    if (sh == NULL || --sh->refs > 0)
        return;
    map_remove(&m->tasks.resources, sh->key);
    agora_resources_free(&sh->r);
    free(sh->key);
    free(sh);
}

static const struct agora_resources no_resources = {NULL, 0};

/* The task's resources, never NULL. */
static const struct agora_resources *task_res(const struct task *t)
{
    return t->resources ? t->resources : &no_resources;
}

static const char *task_name(const struct task *t)
{
    return t->name ? t->name : t->id;
}

static void task_free(struct master *m, struct task *t)
{
    res_put(m, t->resources);
    free(t->id);
    free(t->name);
    free(t->reason);
    free(t->message);
    free(t->health_output);
    free(t->container);
    free(t);
}

/* ---- reconciliation answers held during a recovery ---- */

/* A framework waiting for its answer about one task. */
struct task_held {
    struct task_held *next;
    char fw_id[];
};

static void held_list_free(struct task_held *h)
{
    while (h) {
        struct task_held *next = h->next;

        free(h);
        h = next;
    }
}

static void held_free_all(struct master *m)
{
    size_t pos = 0;
    void *v;

    while (map_next(&m->tasks.held, &pos, NULL, &v))
        held_list_free(v);
    map_free(&m->tasks.held);
}

/* Holds fw's question about task_id; 0, or AGORA_ENOMEM. */
static int held_add(struct master *m, const char *fw_id, const char *task_id)
{
    struct task_held *first = map_get(&m->tasks.held, task_id), *h;
    size_t n = strlen(fw_id) + 1;

    for (h = first; h; h = h->next)
        if (strcmp(h->fw_id, fw_id) == 0)
            return 0; /* asked twice: answered once */
    h = malloc(sizeof(*h) + n);
    if (h == NULL)
        return AGORA_ENOMEM;
    memcpy(h->fw_id, fw_id, n);
    h->next = first;
    if (map_put(&m->tasks.held, task_id, h, NULL) < 0) {
        free(h);
        return AGORA_ENOMEM;
    }
    return 0;
}

/* Answers the questions held about task_id, to frameworks still here. */
static void held_answer(struct master *m, const char *task_id)
{
    struct task_held *h = map_get(&m->tasks.held, task_id), *p;

    for (p = h; p; p = p->next) {
        struct agora_framework *fw = framework_find(m, p->fw_id);

        if (fw)
            tasks_answer(m, fw, task_id);
    }
    /* Last: task_id may be the map's own copy of the key. */
    map_remove(&m->tasks.held, task_id);
    held_list_free(h);
}

void tasks_recovered(struct master *m)
{
    const char *id;
    size_t pos = 0, n = m->tasks.held.len;
    void *v;

    if (n == 0)
        return;
    log_info("tasks", "recovery over: answering %zu reconciliation(s) of "
                      "tasks no agent reported", n);
    /* Each is removed as it is answered, which iteration allows; the
     * answers are posted, never delivered inside this loop. */
    while (map_next(&m->tasks.held, &pos, &id, &v))
        held_answer(m, id);
}

void tasks_free(struct master *m)
{
    struct task *t = m->tasks.first;
    size_t pos = 0;
    void *v;

    while (t) {
        struct task *next = t->next;

        task_free(m, t);
        t = next;
    }
    while (map_next(&m->tasks.strings, &pos, NULL, &v))
        free(v);
    map_free(&m->tasks.strings);
    map_free(&m->tasks.by_id);
    map_free(&m->tasks.resources);
    tasks_ips_free(m);
    held_free_all(m);
    memset(&m->tasks, 0, sizeof(m->tasks));
}

struct task *tasks_find(struct master *m, const char *id)
{
    return map_get(&m->tasks.by_id, id);
}

static int task_live(const struct task *t)
{
    return !agora_task_state_terminal(t->state);
}

/* ---- the table ---- */

static void task_unlink(struct master *m, struct task *t)
{
    struct agent_rec *ag = agents_find(m, t->agent_id);

    if (ag)
        map_remove(&ag->tasks, t->id);
    map_remove(&m->tasks.by_id, t->id);
    if (t->prev)
        t->prev->next = t->next;
    else
        m->tasks.first = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        m->tasks.last = t->prev;
}

/* Forgets the oldest terminal tasks past the retention limit. Frees
 * tasks: call it only where no task pointer is held. */
static void tasks_trim(struct master *m)
{
    struct task *t = m->tasks.first;

    while (t && m->tasks.completed > TASKS_COMPLETED_MAX) {
        struct task *next = t->next;

        if (!task_live(t)) {
            task_unlink(m, t);
            task_free(m, t);
            m->tasks.completed--;
        }
        t = next;
    }
}

static struct task *task_new(struct master *m, const char *id,
                             const char *fw_id, const char *agent_id)
{
    struct task *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->id = strdup(id);
    t->framework_id = intern(m, fw_id);
    t->agent_id = intern(m, agent_id);
    t->healthy = -1;
    t->kill_grace = -1;
    t->state = AGORA_TASK_STAGING;
    t->launched = master_now(m);
    t->timestamp = t->launched;
    if (!t->id || !t->framework_id || !t->agent_id ||
        map_put(&m->tasks.by_id, t->id, t, NULL) < 0) {
        task_free(m, t);
        return NULL;
    }
    t->prev = m->tasks.last;
    if (m->tasks.last)
        m->tasks.last->next = t;
    else
        m->tasks.first = t;
    m->tasks.last = t;
    m->tasks.count[t->state]++;
    return t;
}

static struct alloc_fw *task_alloc_fw(struct master *m, const struct task *t)
{
    struct agora_framework *fw = framework_find(m, t->framework_id);

    return fw ? fw->alloc : NULL;
}

/* Counts t's resources in the allocator again (its agent came back with
 * other resources, or the task came back to life), fitting or not. */
static void task_recount(struct master *m, struct task *t)
{
    struct agent_rec *ag = agents_find(m, t->agent_id);
    struct agora_resources placed = {NULL, 0};

    if (ag == NULL || ag->alloc == NULL)
        return;
    if (alloc_use(m->alloc, ag->alloc, task_alloc_fw(m, t), task_res(t), 1,
                  &placed) == 0) {
        const struct agora_resources *sh = res_get(m, &placed);

        if (sh) {
            res_put(m, t->resources);
            t->resources = sh;
        }
    }
    agora_resources_free(&placed);
}

void tasks_drain_kill(struct master *m, struct agent_rec *ag)
{
    size_t pos = 0;
    void *v;

    if (ag->drain != AGENT_DRAIN_DRAINING)
        return;
    while (map_next(&ag->tasks, &pos, NULL, &v)) {
        const struct task *t = v;
        struct agora_framework *fw;

        if (task_live(t) && (fw = framework_find(m, t->framework_id)))
            tasks_kill_grace(m, fw, t->id, ag->drain_grace);
    }
    tasks_drain_settle(m, ag);
}

void tasks_drain_settle(struct master *m, struct agent_rec *ag)
{
    size_t pos = 0;
    void *v;

    while (map_next(&ag->tasks, &pos, NULL, &v))
        if (task_live(v))
            return;
    agents_drained(m, ag);
}

/*
 * Moves t to a new state, keeping the counts, the history and the
 * allocator's account of its agent. A terminal task stays counted under
 * the first terminal state it reached; one that comes back (TASK_LOST,
 * then RUNNING after its agent returns) is live again.
 */
static void task_set_state(struct master *m, struct task *t,
                           enum agora_task_state state, double when,
                           int healthy, const char *agent_uuid)
{
    int was_live = task_live(t), is_live = !agora_task_state_terminal(state);
    struct task_status_rec *h = &t->history[t->nhistory % TASK_HISTORY];
    struct agent_rec *ag = agents_find(m, t->agent_id);

    if (was_live)
        m->tasks.count[t->state]--;
    if (was_live || is_live)
        m->tasks.count[state]++;
    if (was_live && !is_live) {
        if (ag && ag->alloc)
            alloc_release(m->alloc, ag->alloc, task_alloc_fw(m, t),
                          task_res(t));
        m->tasks.completed++;
    } else if (!was_live && is_live) {
        task_recount(m, t);
        m->tasks.completed--;
    }
    t->state = state;
    t->healthy = healthy;
    t->timestamp = when;
    h->state = state;
    h->timestamp = when;
    h->healthy = healthy;
    h->source = agent_uuid ? TASK_SOURCE_AGENT : TASK_SOURCE_MASTER;
    h->has_uuid = agent_uuid && uuid_parse(agent_uuid, h->uuid) == 0;
    t->nhistory++;
    api_v1_task_updated(m, t);
    if (was_live && !is_live && ag && ag->drain == AGENT_DRAIN_DRAINING)
        tasks_drain_settle(m, ag);
}

void tasks_agent_recount(struct master *m, struct agent_rec *ag)
{
    size_t pos = 0;
    void *v;

    while (map_next(&ag->tasks, &pos, NULL, &v))
        if (task_live(v))
            task_recount(m, v);
}

static void task_set_text(char **dst, const char *s)
{
    free(*dst);
    *dst = s ? strdup(s) : NULL;
}

/* ---- statuses to frameworks ---- */

/* The master's latest status of t, but for its ABI 2.2 fields (NULL). */
static void status_base(struct master *m, const struct task *t,
                        struct agora_status *st)
{
    struct agent_rec *ag = agents_find(m, t->agent_id);

    memset(st, 0, sizeof(*st));
    st->task_id = t->id;
    st->agent_id = t->agent_id;
    st->hostname = ag ? ag->hostname : NULL;
    st->state = t->state;
    st->reason = t->reason;
    st->message = t->message;
    st->healthy = t->healthy;
    st->timestamp = t->timestamp;
    st->source = "SOURCE_MASTER";
}

/* The master's latest status of t; its ABI 2.2 fields point into x,
 * which the caller frees (tasks_extra_free) once st was posted. */
static void status_of(struct master *m, const struct task *t,
                      struct agora_status *st, struct task_extra *x)
{
    status_base(m, t, st);
    tasks_extra_of(t, x);
    tasks_extra_status(x, st);
}

/* Queues a master-made status of a task that never reached the table. */
void tasks_refuse(struct master *m, struct agora_framework *fw,
                  const char *task_id, const char *agent_id,
                  enum agora_task_state state, const char *reason,
                  const char *message)
{
    struct agora_status st;

    memset(&st, 0, sizeof(st));
    st.task_id = task_id ? task_id : "";
    st.agent_id = agent_id;
    st.state = state;
    st.reason = reason;
    st.message = message;
    st.healthy = -1;
    st.timestamp = master_now(m);
    st.source = "SOURCE_MASTER";
    log_info("tasks", "task %s of %s refused: %s", st.task_id, fw->id,
             message);
    framework_post_status(m, fw, &st);
}

/* Changes t on the master's own authority and tells its framework. */
static void task_master_change(struct master *m, struct task *t,
                               enum agora_task_state state,
                               const char *reason, const char *message)
{
    struct agora_framework *fw = framework_find(m, t->framework_id);
    struct agora_status st;
    struct task_extra x;

    task_set_text(&t->reason, reason);
    task_set_text(&t->message, message);
    task_set_state(m, t, state, master_now(m), t->healthy, NULL);
    if (fw) {
        status_of(m, t, &st, &x);
        framework_post_status(m, fw, &st);
        tasks_extra_free(&x);
    }
}

/* Tells t's framework, if registered, its state, for a reason. */
static void task_tell(struct master *m, struct task *t, const char *reason,
                      const char *message)
{
    struct agora_framework *fw = framework_find(m, t->framework_id);
    struct agora_status st;
    struct task_extra x;

    if (fw == NULL)
        return;
    status_of(m, t, &st, &x);
    st.reason = reason;
    st.message = message;
    framework_post_status(m, fw, &st);
    tasks_extra_free(&x);
}

void tasks_answer(struct master *m, struct agora_framework *fw,
                  const char *task_id)
{
    struct task *t = tasks_find(m, task_id);
    struct agora_status st;
    struct task_extra x;

    if (t == NULL && agents_recovering(m) &&
        held_add(m, fw->id, task_id) == 0)
        return;
    if (t == NULL || strcmp(t->framework_id, fw->id) != 0) {
        memset(&st, 0, sizeof(st));
        st.task_id = task_id;
        st.state = AGORA_TASK_UNKNOWN;
        st.reason = "REASON_RECONCILIATION";
        st.message = "Reconciliation: task is unknown to the master";
        st.healthy = -1;
        st.timestamp = master_now(m);
        st.source = "SOURCE_MASTER";
        framework_post_status(m, fw, &st);
        return;
    }
    status_of(m, t, &st, &x);
    st.reason = "REASON_RECONCILIATION";
    framework_post_status(m, fw, &st);
    tasks_extra_free(&x);
}

/* Calls fn for every live task of framework fw_id. */
static void tasks_each_live(struct master *m, const char *fw_id,
                            void (*fn)(void *arg, struct task *t),
                            void *arg)
{
    struct task *t, *next;

    for (t = m->tasks.first; t; t = next) {
        next = t->next;
        if (task_live(t) && strcmp(t->framework_id, fw_id) == 0)
            fn(arg, t);
    }
}

static void reconcile_one(void *arg, struct task *t)
{
    struct agora_framework *fw = arg;

    tasks_answer(fw->p->m, fw, t->id);
}

int tasks_reconcile(struct master *m, struct agora_framework *fw,
                    const char *const *task_ids, size_t n)
{
    size_t i;

    if (n == 0) {
        tasks_each_live(m, fw->id, reconcile_one, fw);
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (task_ids[i] == NULL)
            return AGORA_EINVAL;
        tasks_answer(m, fw, task_ids[i]);
    }
    return 0;
}

/* ---- launch ---- */

static void write_kv_object(struct agora_jw *w, const char *key,
                            const struct agora_kv *kv, size_t n)
{
    size_t i;

    agora_jw_key(w, key);
    agora_jw_obj_open(w);
    for (i = 0; i < n; i++)
        agora_jw_kstr(w, kv[i].key, kv[i].value);
    agora_jw_obj_close(w);
}

static const char *check_type_name(enum agora_check_type t)
{
    switch (t) {
    case AGORA_CHECK_COMMAND: return "COMMAND";
    case AGORA_CHECK_HTTP: return "HTTP";
    case AGORA_CHECK_TCP: return "TCP";
    default: return NULL;
    }
}

static void write_health(struct agora_jw *w, const struct agora_health_check *h)
{
    agora_jw_key(w, "health_check");
    if (h == NULL || check_type_name(h->type) == NULL) {
        agora_jw_null(w);
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "type", check_type_name(h->type));
    if (h->command)
        agora_jw_kstr(w, "command", h->command);
    if (h->path)
        agora_jw_kstr(w, "path", h->path);
    if (h->scheme)
        agora_jw_kstr(w, "scheme", h->scheme);
    agora_jw_kint(w, "port", h->port);
    agora_jw_kint(w, "port_index", h->port_index);
    agora_jw_knum(w, "delay", h->delay);
    agora_jw_knum(w, "grace_period", h->grace_period);
    agora_jw_knum(w, "interval", h->interval);
    agora_jw_knum(w, "timeout", h->timeout);
    agora_jw_kint(w, "max_consecutive_failures", h->max_consecutive_failures);
    agora_jw_obj_close(w);
}

/* The task's "fetch" list (ABI 2.3), when it has one. */
static void write_fetch(struct agora_jw *w, const struct agora_task_spec *sp)
{
    if (sp->nfetch == 0)
        return;
    agora_jw_key(w, "fetch");
    agora_jw_arr_open(w);
    for (size_t i = 0; i < sp->nfetch; i++) {
        const struct agora_fetch_uri *f = &sp->fetch[i];
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "uri", f->uri);
        agora_jw_kbool(w, "extract", f->extract != 0);
        agora_jw_kbool(w, "executable", f->executable != 0);
        agora_jw_kbool(w, "cache", f->cache != 0);
        if (f->output_file && *f->output_file)
            agora_jw_kstr(w, "output_file", f->output_file);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

/* The launch event for one task, one line of JSON (docs/agent-protocol.md). */
static int launch_event(const char *fw_id, const struct agora_task_spec *sp,
                        struct agora_jw *w)
{
    char *res = agora_resources_text(sp->resources);
    size_t i;

    if (res == NULL)
        return AGORA_ENOMEM;
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "type", "launch");
    agora_jw_kstr(w, "framework_id", fw_id);
    agora_jw_key(w, "task");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "task_id", sp->task_id);
    agora_jw_kstr(w, "name", sp->name ? sp->name : sp->task_id);
    if (sp->command) {
        agora_jw_kstr(w, "command", sp->command);
    } else if (sp->argv && sp->argv[0]) {
        agora_jw_key(w, "argv");
        agora_jw_arr_open(w);
        for (i = 0; sp->argv[i]; i++)
            agora_jw_str(w, sp->argv[i]);
        agora_jw_arr_close(w);
    }
    write_kv_object(w, "env", sp->env, sp->nenv);
    agora_jw_kstr(w, "user", sp->user);
    agora_jw_kstr(w, "resources", res);
    write_kv_object(w, "labels", sp->labels, sp->nlabels);
    agora_jw_knum(w, "kill_grace_period", sp->kill_grace_period);
    write_health(w, sp->health);
    agora_jw_key(w, "container");
    if (sp->container_json)
        agora_jw_raw(w, sp->container_json, strlen(sp->container_json));
    else
        agora_jw_null(w);
    write_fetch(w, sp);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
    free(res);
    return 0;
}

const char *tasks_spec_unauthorized(struct master *m,
                                    const struct agora_framework *fw,
                                    const struct agora_task_spec *sp)
{
    const char *user = sp->user && *sp->user ? sp->user : NULL;

    /* root only where a rule says so: not by default, nor permissive. */
    if (user && strcmp(user, "root") == 0 &&
        !acls_allow_explicit(&m->acls, ACL_RUN_TASKS, fw->principal, user)) {
        log_warn("tasks", "task %s of %s refused: running tasks as root "
                          "needs a run_tasks ACL that allows it",
                 sp->task_id, fw->id);
        return "running tasks as root needs a run_tasks ACL that allows "
               "it (the master's --acls)";
    }
    if (acls_allow(&m->acls, ACL_RUN_TASKS, fw->principal, user))
        return NULL;
    log_warn("tasks", "task %s of %s refused: principal %s may not run "
                      "tasks as %s (ACLs)", sp->task_id, fw->id,
             fw->principal ? fw->principal : "(none)",
             user ? user : "the agent's default user");
    return "not authorized to run tasks as this user (the master's ACLs)";
}

const char *tasks_spec_problem(struct master *m,
                               const struct agora_task_spec *sp)
{
    if (!agora_id_valid(sp->task_id, TASK_ID_MAX))
        return "invalid task id (want 1-200 of [A-Za-z0-9_.:@-], not "
               "starting with '.')";
    if (tasks_find(m, sp->task_id))
        return "a task with this id already exists";
    /* A container's image may bring its own entrypoint. */
    if (sp->command == NULL && (sp->argv == NULL || sp->argv[0] == NULL) &&
        sp->container_json == NULL)
        return "the task has neither a command nor argv";
    if (sp->resources == NULL || sp->resources->n == 0)
        return "the task asks for no resources";
    if (sp->nfetch > 0 && sp->fetch == NULL)
        return "the task's fetch list is missing";
    for (size_t i = 0; i < sp->nfetch; i++)
        if (sp->fetch[i].uri == NULL || sp->fetch[i].uri[0] == '\0')
            return "a fetch entry of the task has no uri";
    return NULL;
}

int tasks_launch_known(struct master *m, struct agora_framework *fw,
                       const struct agora_task_spec *sp,
                       const char *agent_id)
{
    struct task *t = sp->task_id ? tasks_find(m, sp->task_id) : NULL;
    struct agora_status st;
    struct task_extra x;

    if (t == NULL)
        return 0;
    if (strcmp(t->framework_id, fw->id) != 0) {
        tasks_refuse(m, fw, sp->task_id, agent_id, AGORA_TASK_ERROR,
                     "REASON_TASK_INVALID",
                     "a task with this id already exists (of another "
                     "framework)");
        return 1;
    }
    /* Never run twice: the framework hears where its task is. */
    status_of(m, t, &st, &x);
    st.reason = "REASON_TASK_ALREADY_EXISTS";
    st.message = "a task with this id exists: not launched again; this "
                 "is its latest status";
    m->tasks.launches_existing++;
    log_info("tasks", "launch of task %s of %s, which exists (%s): "
                      "answered with its status", t->id, fw->id,
             agora_task_state_name(t->state));
    framework_post_status(m, fw, &st);
    tasks_extra_free(&x);
    return 1;
}

/*
 * Sends one task to ag and enters it in the table; takes `placed` (its
 * resources as the allocator placed them) over. A task whose id entered
 * the table since it was checked (twice in one accept) is not sent.
 */
static int launch_one(struct master *m, struct agora_framework *fw,
                      struct agent_rec *ag, const struct agora_task_spec *sp,
                      struct agora_resources *placed)
{
    struct agora_jw *w = agora_jw_new();
    const char *line = NULL;
    struct task *t;
    size_t len;
    int rc;

    if (tasks_launch_known(m, fw, sp, ag->id)) {
        agora_jw_free(w);
        alloc_release(m->alloc, ag->alloc, fw->alloc, placed);
        agora_resources_free(placed);
        return 0;
    }
    if (w && launch_event(fw->id, sp, w) == 0)
        line = agora_jw_result(w, &len);
    t = line ? task_new(m, sp->task_id, fw->id, ag->id) : NULL;
    if (t == NULL || map_put(&ag->tasks, t->id, t, NULL) < 0) {
        agora_jw_free(w);
        alloc_release(m->alloc, ag->alloc, fw->alloc, placed);
        agora_resources_free(placed);
        return AGORA_ENOMEM;
    }
    t->resources = res_get(m, placed);
    t->kill_grace = sp->kill_grace_period;
    if (sp->user && *sp->user)
        t->user = intern(m, sp->user);
    agora_resources_free(placed);
    if (sp->name && strcmp(sp->name, sp->task_id) != 0)
        t->name = strdup(sp->name);
    /* Shown in Mesos' shape with the task (ctr_json.h); out of memory,
     * the task is only shown without it. */
    if (sp->container_json)
        t->container = strdup(sp->container_json);
    rc = agents_send(ag, line, len);
    agora_jw_free(w);
    m->tasks.launched++;
    api_v1_task_added(m, t);
    if (rc < 0)
        task_master_change(m, t, AGORA_TASK_DROPPED, "REASON_AGENT_DISCONNECTED",
                           "the agent's stream broke while launching");
    return 0;
}

int tasks_launch_placed(struct master *m, struct agora_framework *fw,
                        struct agent_rec *ag,
                        const struct agora_task_spec *sp,
                        struct agora_resources *placed)
{
    int rc = launch_one(m, fw, ag, sp, placed);

    tasks_trim(m);
    return rc;
}

/* One task of a direct launch: checked, placed, sent. */
static int launch_direct(struct master *m, struct agora_framework *fw,
                         struct agent_rec *ag, const char *agent_id,
                         const struct agora_task_spec *sp)
{
    struct agora_resources placed = {NULL, 0};
    const char *why;

    if (tasks_launch_known(m, fw, sp, agent_id))
        return 0;
    if (ag == NULL || ag->state != AGENT_ACTIVE || ag->stream == NULL ||
        ag->alloc == NULL) {
        tasks_refuse(m, fw, sp->task_id, agent_id, AGORA_TASK_DROPPED,
                     "REASON_AGENT_UNKNOWN",
                     ag ? "the agent is not connected" : "no such agent");
        return 0;
    }
    if ((why = tasks_spec_unauthorized(m, fw, sp)) != NULL) {
        tasks_refuse(m, fw, sp->task_id, agent_id, AGORA_TASK_ERROR,
                     "REASON_TASK_UNAUTHORIZED", why);
        return 0;
    }
    why = tasks_spec_problem(m, sp);
    if (why == NULL &&
        alloc_use(m->alloc, ag->alloc, fw->alloc, sp->resources, 0,
                  &placed) < 0)
        why = "not enough free resources on the agent for the task "
              "(or resources reserved for another role)";
    if (why) {
        tasks_refuse(m, fw, sp->task_id, agent_id, AGORA_TASK_ERROR,
                     "REASON_TASK_INVALID", why);
        return 0;
    }
    return launch_one(m, fw, ag, sp, &placed);
}

int tasks_launch(struct master *m, struct agora_framework *fw,
                 const char *agent_id, const struct agora_task_spec *specs,
                 size_t n)
{
    struct agent_rec *ag;
    size_t i;
    int rc = 0;

    if (fw == NULL || agent_id == NULL || (specs == NULL && n > 0))
        return AGORA_EINVAL;
    ag = agents_find(m, agent_id);
    for (i = 0; i < n && rc == 0; i++)
        rc = launch_direct(m, fw, ag, agent_id, &specs[i]);
    tasks_trim(m);
    return rc;
}

int tasks_kill(struct master *m, struct agora_framework *fw,
               const char *task_id)
{
    return tasks_kill_grace(m, fw, task_id, -1);
}

int tasks_kill_grace(struct master *m, struct agora_framework *fw,
                     const char *task_id, double grace)
{
    struct task *t = task_id ? tasks_find(m, task_id) : NULL;
    struct agent_rec *ag;
    char line[TASK_ID_MAX + 96];
    int n;

    if (task_id == NULL)
        return AGORA_EINVAL;
    if (t == NULL || strcmp(t->framework_id, fw->id) != 0)
        return AGORA_ENOENT;
    if (!task_live(t))
        return 0;
    ag = agents_find(m, t->agent_id);
    if (ag == NULL || ag->stream == NULL)
        return AGORA_EUNAVAIL;
    /* Mesos' max_grace_period bounds the task's own grace period. */
    if (grace >= 0 && t->kill_grace >= 0 && t->kill_grace < grace)
        grace = t->kill_grace;
    if (grace >= 0)
        n = snprintf(line, sizeof(line),
                     "{\"type\":\"kill\",\"task_id\":\"%s\","
                     "\"grace_period\":%.3f}", t->id, grace);
    else
        n = snprintf(line, sizeof(line),
                     "{\"type\":\"kill\",\"task_id\":\"%s\"}", t->id);
    return agents_send(ag, line, (size_t)n);
}

/* ---- updates from agents ---- */

static int json_healthy(yajl_val u)
{
    int b;

    return agora_json_bool(u, "healthy", &b) == 0 ? b : -1;
}

/* The status of update u of task t, as the agent sent it (the table
 * may hold a later one), for fw->on_status. Borrows from t, u and x,
 * which the caller frees (tasks_extra_free) after the delivery; seen is
 * what u says of the container and health output. */
static void status_of_update(struct master *m, const struct task *t,
                             const struct agent_update *u,
                             const struct task_seen *seen,
                             enum agora_task_state state, double ts,
                             struct agora_status *st, struct task_extra *x)
{
    status_base(m, t, st);
    tasks_extra_build(t, seen, x);
    tasks_extra_status(x, st);
    st->state = state;
    st->reason = u->reason;
    st->message = u->message;
    st->healthy = u->healthy;
    st->timestamp = ts;
    st->uuid = u->uuid;
    st->source = "SOURCE_AGENT";
}

/* Adds one acknowledgement to an ack event's "updates" array. */
static void ack_write(struct agora_jw *w, const char *task_id,
                      const char *uuid)
{
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "task_id", task_id);
    agora_jw_kstr(w, "uuid", uuid);
    agora_jw_obj_close(w);
}

/*
 * Tells ag that the update uuid of task_id is acknowledged. A framework
 * acknowledging while ag's updates POST is applied (marathon.so does, on
 * RUNNING) joins the ack event the POST's handler sends at its end: one
 * stream write a POST, not one an update. That event goes out in the
 * same loop turn; if it cannot, the agent sends the update again and
 * it is acknowledged then as already delivered.
 */
static int send_ack(struct master *m, struct agent_rec *ag,
                    const char *task_id, const char *uuid)
{
    struct agora_jw *w;
    const char *line;
    size_t len;
    int rc = AGORA_ENOMEM;

    if (ag == NULL || ag->stream == NULL)
        return AGORA_EUNAVAIL;
    if (ag == m->tasks.ack_agent && m->tasks.ack_into != NULL) {
        ack_write(m->tasks.ack_into, task_id, uuid);
        return 0;
    }
    w = agora_jw_new();
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "type", "ack");
    agora_jw_key(w, "updates");
    agora_jw_arr_open(w);
    ack_write(w, task_id, uuid);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    line = w ? agora_jw_result(w, &len) : NULL;
    if (line)
        rc = agents_send(ag, line, len);
    agora_jw_free(w);
    return rc;
}

/*
 * Delivers status st of t to fw, whose acknowledgement it then waits on.
 * 0 (wait for it); 1 when the plugin acknowledged it while its agent was
 * away (acknowledge it now, undelivered); -1 out of memory (undelivered:
 * wait, the agent sends it again).
 */
static int deliver_explicit(struct master *m, struct agora_framework *fw,
                            struct task *t, const struct agora_status *st)
{
    struct fw_unacked *e = framework_unacked_find(fw, st->uuid);

    if (e && e->acked) {
        framework_unacked_remove(m, fw, st->uuid);
        return 1;
    }
    if (e == NULL &&
        framework_unacked_add(m, fw, st->uuid, t->id, t->agent_id) < 0)
        return -1;
    framework_deliver(fw, st);
    return 0;
}

int tasks_agent_update(struct master *m, struct agent_rec *ag,
                       const struct agent_update *u)
{
    const char *id = u->task_id, *fw_id = u->framework_id, *uuid = u->uuid;
    int state = u->state ? agora_task_state_parse(u->state) : -1;
    struct agora_framework *fw;
    struct agora_status st;
    struct task_extra x;
    struct task_seen seen;
    struct task *t;
    int64_t seq = u->seq;
    double ts = u->has_timestamp ? u->timestamp : master_now(m);
    int explicit_acks, rc;

    if (id == NULL || fw_id == NULL || state < 0)
        return AGORA_EINVAL;
    tasks_seen_make(m, u->ips, u->n_ips, u->executor_pid, u->health_output,
                    &seen);
    t = tasks_find(m, id);
    if (t && strcmp(t->agent_id, ag->id) != 0)
        return AGORA_EINVAL; /* another agent's task: never deliverable */
    fw = framework_find(m, fw_id);
    explicit_acks = fw && fw->explicit_acks && uuid;
    if (t && seq <= t->seq) {
        m->tasks.duplicates++;
        if (fw == NULL && framework_explicit_id(m, fw_id))
            return 0; /* maybe unacknowledged: for the next generation */
        if (!explicit_acks)
            return 1;
        /* Not acknowledged yet (the agent sends only those): again. */
        status_of_update(m, t, u, &seen, (enum agora_task_state)state, ts, &st,
                         &x);
        rc = deliver_explicit(m, fw, t, &st);
        tasks_extra_free(&x);
        if (rc == 0)
            m->tasks.redelivered++;
        return rc < 0 ? 0 : rc;
    }
    if (t == NULL) {
        t = task_new(m, id, fw_id, ag->id);
        if (t == NULL || map_put(&ag->tasks, t->id, t, NULL) < 0)
            return AGORA_ENOMEM;
        api_v1_task_added(m, t);
    }
    if (seq > t->applied || seq == 0) {
        /* The table takes it even while its framework is away, so that
         * a reconciliation answers the latest state known. */
        task_set_text(&t->reason, u->reason);
        task_set_text(&t->message, u->message);
        task_set_state(m, t, (enum agora_task_state)state, ts, u->healthy,
                       uuid ? uuid : "");
        tasks_seen_take(t, &seen);
        t->applied = seq;
    }
    if (fw == NULL) {
        tasks_trim(m);
        return 0; /* held by the agent until its framework is back */
    }
    status_of_update(m, t, u, &seen, (enum agora_task_state)state, ts, &st, &x);
    if (explicit_acks) {
        rc = deliver_explicit(m, fw, t, &st) < 0 ? -1 : 0;
    } else {
        framework_deliver(fw, &st);
        rc = 1;
    }
    tasks_extra_free(&x);
    if (rc < 0)
        return 0; /* out of memory: undelivered, sent again later */
    /* t->seq is set after delivery: the status borrows from u, not t. */
    if ((t = tasks_find(m, id)) != NULL && seq > t->seq)
        t->seq = seq;
    m->tasks.updates++;
    tasks_trim(m); /* t may be gone from here on */
    return rc;
}

int tasks_acknowledge(struct master *m, struct agora_framework *fw,
                      const char *task_id, const char *uuid)
{
    struct fw_unacked *e;

    if (fw == NULL || task_id == NULL || uuid == NULL)
        return AGORA_EINVAL;
    e = framework_unacked_find(fw, uuid);
    if (e == NULL || e->acked || strcmp(e->task_id, task_id) != 0)
        return AGORA_ENOENT;
    if (send_ack(m, agents_find(m, e->agent_id), task_id, uuid) == 0)
        framework_unacked_remove(m, fw, uuid);
    else
        e->acked = 1; /* the agent hears it when it sends it again */
    return 0;
}

int tasks_set_explicit_acks(struct master *m, struct agora_framework *fw,
                            int on)
{
    size_t pos = 0;
    void *v;

    if (fw == NULL)
        return AGORA_EINVAL;
    if (on)
        return framework_set_explicit(m, fw, 1);
    framework_set_explicit(m, fw, 0);
    /* Off: everything waiting is acknowledged. An agent away re-sends
     * its updates, which are acknowledged then as already delivered. */
    while (map_next(&fw->unacked, &pos, NULL, &v)) {
        struct fw_unacked *e = v;

        if (!e->acked)
            send_ack(m, agents_find(m, e->agent_id), e->task_id, e->uuid);
    }
    framework_unacked_clear(m, fw);
    return 0;
}

void tasks_agent_report(struct master *m, struct agent_rec *ag, yajl_val r)
{
    const char *id = agora_json_get_str(r, "task_id"), *fw_id = agora_json_get_str(r, "framework_id");
    const char *state_name = agora_json_get_str(r, "state"), *res = agora_json_get_str(r, "resources");
    int state = state_name ? agora_task_state_parse(state_name) : -1;
    struct task_seen seen;
    struct task *t;

    if (id == NULL || fw_id == NULL || state < 0)
        return;
    tasks_seen_parse(m, r, &seen);
    t = tasks_find(m, id);
    if (t != NULL && strcmp(t->agent_id, ag->id) == 0)
        tasks_seen_take(t, &seen); /* its agent's word is the latest */
    if (t == NULL) {
        /* A master that restarted learns the task from its agent. */
        const char *user = agora_json_get_str(r, "user");
        yajl_val ctr = agora_json_get(r, "container");

        t = task_new(m, id, fw_id, ag->id);
        if (t == NULL || map_put(&ag->tasks, t->id, t, NULL) < 0)
            return;
        if (user && *user)
            t->user = intern(m, user);
        if (YAJL_IS_OBJECT(ctr))
            t->container = json_tree_text(ctr);
        if (res) {
            struct agora_resources parsed = {NULL, 0};

            if (agora_resources_parse(res, &parsed, NULL, 0) == 0)
                t->resources = res_get(m, &parsed);
            agora_resources_free(&parsed);
        }
        if (agora_json_get_str(r, "name") && strcmp(agora_json_get_str(r, "name"), id) != 0)
            task_set_text(&t->name, agora_json_get_str(r, "name"));
        tasks_seen_take(t, &seen);
        if (!agora_task_state_terminal((enum agora_task_state)state))
            task_recount(m, t);
        else
            m->tasks.completed++;
        m->tasks.count[AGORA_TASK_STAGING]--;
        m->tasks.count[state]++;
        t->state = (enum agora_task_state)state;
        t->healthy = json_healthy(r);
        api_v1_task_added(m, t);
        if (map_get(&m->tasks.held, id))
            held_answer(m, id);
        else if (ag->state == AGENT_UNREACHABLE &&
                 !agora_task_state_terminal(t->state))
            /* Its framework may have been told it is unknown. */
            task_tell(m, t, "REASON_AGENT_REREGISTERED",
                      "the agent is reachable again");
    } else if (t->state == AGORA_TASK_UNREACHABLE &&
               !agora_task_state_terminal((enum agora_task_state)state)) {
        /* Back from a partition: the framework hears the real state.
         * Terminal states arrive as the agent's own reliable updates. */
        t->healthy = json_healthy(r);
        task_master_change(m, t, (enum agora_task_state)state,
                           "REASON_AGENT_REREGISTERED",
                           "the agent is reachable again");
    }
    t->mark = m->tasks.mark;
}

void tasks_agent_reported_all(struct master *m, struct agent_rec *ag,
                              double since)
{
    size_t pos = 0;
    void *v;

    (void)since;
    while (map_next(&ag->tasks, &pos, NULL, &v)) {
        struct task *t = v;

        if (task_live(t) && t->mark != m->tasks.mark && t->launched <= since)
            task_master_change(m, t, AGORA_TASK_LOST, "REASON_AGENT_RESTARTED",
                               "the agent did not report the task when it "
                               "subscribed again");
    }
    tasks_trim(m);
}

/* Every live task of ag to state, for a reason the master found. */
static void tasks_agent_change(struct master *m, struct agent_rec *ag,
                               enum agora_task_state state,
                               const char *reason, const char *message)
{
    size_t pos = 0;
    void *v;

    while (map_next(&ag->tasks, &pos, NULL, &v))
        if (task_live(v))
            task_master_change(m, v, state, reason, message);
}

void tasks_agent_gone(struct master *m, struct agent_rec *ag)
{
    tasks_agent_change(m, ag, AGORA_TASK_GONE_BY_OPERATOR,
                       "REASON_SLAVE_REMOVED_BY_OPERATOR",
                       "the agent was marked gone by the operator");
    /* No tasks_trim() here: a drain's last task may be what called. */
}

void tasks_agent_unreachable(struct master *m, struct agent_rec *ag)
{
    tasks_agent_change(m, ag, AGORA_TASK_UNREACHABLE, "REASON_SLAVE_REMOVED",
                       "the agent is unreachable");
    tasks_trim(m);
}

/* ---- JSON ---- */

void tasks_write_status_origin(struct agora_jw *w,
                               const struct task_status_rec *h, int v1)
{
    char b64[B64_ENCODED_LEN(16)];

    agora_jw_kstr(w, "source", h->source == TASK_SOURCE_MASTER
                                   ? "SOURCE_MASTER"
                                   : v1 ? "SOURCE_AGENT" : "SOURCE_SLAVE");
    if (h->has_uuid) {
        b64_encode(h->uuid, sizeof(h->uuid), b64);
        agora_jw_kstr(w, "uuid", b64);
    }
}

/* A status as Mesos writes it: its container status once the task runs
 * (the table keeps the latest: every status shows it), and its health. */
static void write_status(struct agora_jw *w, const struct task_status_rec *h,
                         const char *container)
{
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "state", agora_task_state_name(h->state));
    agora_jw_knum(w, "timestamp", h->timestamp);
    if (container && h->state != AGORA_TASK_STAGING &&
        h->state != AGORA_TASK_STARTING) {
        agora_jw_key(w, "container_status");
        agora_jw_raw(w, container, strlen(container));
    }
    if (h->healthy >= 0)
        agora_jw_kbool(w, "healthy", h->healthy);
    tasks_write_status_origin(w, h, 0);
    agora_jw_obj_close(w);
}

/* Its container as Mesos shows a TaskInfo's (ctr_json.h). */
static void write_container(struct agora_jw *w, const struct task *t)
{
    char err[64];
    yajl_val c;

    if (!t->container || !(c = agora_json_parse(t->container, err,
                                                 sizeof(err))))
        return;
    ctr_json_write(w, "container", c);
    yajl_tree_free(c);
}

void tasks_write_one(struct agora_jw *w, const struct task *t)
{
    unsigned i, n = t->nhistory < TASK_HISTORY ? t->nhistory : TASK_HISTORY;
    struct task_extra x;

    tasks_extra_of(t, &x);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", t->id);
    agora_jw_kstr(w, "name", task_name(t));
    agora_jw_kstr(w, "framework_id", t->framework_id);
    agora_jw_kstr(w, "executor_id", "");
    agora_jw_kstr(w, "slave_id", t->agent_id);
    agora_jw_kstr(w, "agent_id", t->agent_id);
    agora_jw_kstr(w, "state", agora_task_state_name(t->state));
    if (t->healthy >= 0)
        agora_jw_kbool(w, "healthy", t->healthy);
    if (t->message)
        agora_jw_kstr(w, "message", t->message);
    agora_jw_key(w, "resources");
    res_json_write(w, task_res(t));
    agora_jw_key(w, "statuses");
    agora_jw_arr_open(w);
    for (i = n; i > 0; i--)
        write_status(w, &t->history[(t->nhistory - i) % TASK_HISTORY],
                     x.container_json);
    agora_jw_arr_close(w);
    write_container(w, t);
    agora_jw_obj_close(w);
    tasks_extra_free(&x);
}

/* Which of a framework's lists a task is in, as Mesos splits them. */
enum fw_list { FW_TASKS, FW_UNREACHABLE, FW_COMPLETED };

static enum fw_list task_list(const struct task *t)
{
    if (t->state == AGORA_TASK_UNREACHABLE)
        return FW_UNREACHABLE;
    return agora_task_state_terminal(t->state) ? FW_COMPLETED : FW_TASKS;
}

static void framework_write_tasks(struct master *m, struct agora_jw *w,
                                  const char *fw_id, enum fw_list list)
{
    struct task *t;

    agora_jw_arr_open(w);
    for (t = m->tasks.first; t; t = t->next)
        if (strcmp(t->framework_id, fw_id) == 0 && task_list(t) == list &&
            master_task_viewable(m, t))
            tasks_write_one(w, t);
    agora_jw_arr_close(w);
}

void tasks_write_of_framework(struct master *m, struct agora_jw *w,
                              const char *fw_id)
{
    agora_jw_key(w, "tasks");
    framework_write_tasks(m, w, fw_id, FW_TASKS);
    agora_jw_key(w, "unreachable_tasks");
    framework_write_tasks(m, w, fw_id, FW_UNREACHABLE);
    agora_jw_key(w, "completed_tasks");
    framework_write_tasks(m, w, fw_id, FW_COMPLETED);
}

int tasks_used_of_framework(struct master *m, const char *fw_id,
                            struct agora_resources *sum)
{
    struct task *t;

    for (t = m->tasks.first; t; t = t->next)
        if (strcmp(t->framework_id, fw_id) == 0 &&
            task_list(t) == FW_TASKS &&
            agora_resources_add(sum, task_res(t)) < 0)
            return AGORA_ENOMEM;
    return 0;
}

/* A non-negative integer query parameter, dflt when absent, -2 when not
 * a number; -1 ("all", as Mesos' limit takes it) only where allowed. */
static long query_long(struct http_req *req, const char *name, long dflt,
                       int minus_one)
{
    const char *v = http_req_query(req, name, 0);
    char *end;
    long n;

    if (v == NULL || *v == '\0')
        return dflt;
    n = strtol(v, &end, 10);
    if (*end != '\0' || n < -1 || (n == -1 && !minus_one))
        return -2;
    return n;
}

static int task_matches(const struct task *t, const char *fw, const char *id)
{
    return (!fw || strcmp(t->framework_id, fw) == 0) &&
           (!id || strcmp(t->id, id) == 0);
}

void tasks_http_list(void *arg, struct http_req *req)
{
    struct master *m = arg;
    const char *fw = http_req_query(req, "framework_id", 0);
    const char *id = http_req_query(req, "task_id", 0);
    const char *order = http_req_query(req, "order", 0);
    long limit = query_long(req, "limit", 100, 1);
    long offset = query_long(req, "offset", 0, 0);
    int asc = order && strcmp(order, "asc") == 0;
    struct agora_jw *w;
    struct task *t;
    long skipped = 0, n = 0;

    if (limit < -1 || offset < 0 || (order && !asc && strcmp(order, "desc"))) {
        http_reply_error(req, 400, "limit must be an integer >= -1 (-1: all), "
                                   "offset a non-negative integer, order asc "
                                   "or desc");
        return;
    }
    if (limit == -1)
        limit = LONG_MAX;
    master_view_begin(m, req);
    w = agora_jw_new();
    agora_jw_obj_open(w);
    agora_jw_key(w, "tasks");
    agora_jw_arr_open(w);
    for (t = asc ? m->tasks.first : m->tasks.last; t && n < limit;
         t = asc ? t->next : t->prev) {
        if (!task_matches(t, fw, id) || !master_task_viewable(m, t) ||
            skipped++ < offset)
            continue;
        tasks_write_one(w, t);
        n++;
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    master_view_end(m);
    http_reply_jw(req, 200, w);
}

void tasks_write_metrics(struct master *m, struct agora_jw *w)
{
    int s;

    for (s = 0; s < AGORA_TASK_STATE_COUNT; s++) {
        char key[64], *p;

        snprintf(key, sizeof(key), "master/tasks_%s",
                 agora_task_state_name((enum agora_task_state)s) + 5);
        for (p = key; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        agora_jw_kint(w, key, (int64_t)m->tasks.count[s]);
    }
    agora_jw_kint(w, "master/tasks_launched", (int64_t)m->tasks.launched);
    agora_jw_kint(w, "master/valid_status_updates", (int64_t)m->tasks.updates);
    agora_jw_kint(w, "master/duplicate_status_updates",
                  (int64_t)m->tasks.duplicates);
    agora_jw_kint(w, "master/status_updates_redelivered",
                  (int64_t)m->tasks.redelivered);
    agora_jw_kint(w, "master/status_updates_unacknowledged",
                  (int64_t)m->frameworks.unacked);
    agora_jw_kint(w, "master/launches_of_existing_tasks",
                  (int64_t)m->tasks.launches_existing);
}
