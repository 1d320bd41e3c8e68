/*
 * agent_tasks.c - the agent's task table: a task made from a launch, its
 * end (a->tasks -> the ring of completed tasks kept for /state), and the
 * table's teardown. The daemon's life is agent.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/resources.h>
#include <agora/sdk.h>

#include "agent.h"
#include "exec.h"
#include "journal.h"
#include "log.h"
#include "task.h"
#include "task_fetch.h"
#include "updates.h"

void agent_task_free(struct agent_task *t)
{
    if (t == NULL)
        return;
    free(t->id);
    free(t->framework_id);
    free(t->spec_json);
    free(t->name);
    agora_resources_free(&t->resources);
    free(t->sandbox);
    free(t->meta_file);
    free(t->health_output);
    free(t->updates); /* emptied by updates_task_free() when it had any */
    free(t);
}

/* The spec's "name", for /state; 0 or AGORA_ENOMEM. */
static int agent_task_name(struct agent_task *t, yajl_val spec)
{
    const char *name;

    if (agora_json_str(spec, "name", &name) < 0 || *name == '\0')
        return 0;
    return (t->name = strdup(name)) ? 0 : AGORA_ENOMEM;
}

/* Parses the spec's "resources"; a reason in *why when they are bad. */
static int agent_task_resources(struct agent_task *t, yajl_val spec, char **why)
{
    const char *text = NULL;
    char err[256];

    if (agora_json_str(spec, "resources", &text) < 0)
        return 0; /* none asked for */
    if (agora_resources_parse(text, &t->resources, err, sizeof(err)) == 0)
        return 0;
    if (asprintf(why, "invalid resources: %s", err) < 0)
        return AGORA_ENOMEM;
    return 0;
}

/*
 * What the control layer needs of the spec (name, resources) is read
 * here; the parsed tree is not kept: about 1 KB a task against the 200
 * bytes of the text, and only launch and recovery (exec_spec_parse), a
 * COMMAND health check and /state's labels read the spec again.
 */
int agent_task_new(struct agent *a, const char *id, const char *framework_id,
                   const char *spec_json, struct agent_task **out, char **why)
{
    struct agent_task *t = calloc(1, sizeof(*t));
    yajl_val spec = NULL;
    char err[256];
    int rc = AGORA_ENOMEM;

    *why = NULL;
    if (t == NULL)
        return AGORA_ENOMEM;
    t->healthy = -1;
    t->state = AGORA_TASK_STAGING;
    if ((t->id = strdup(id)) && (t->framework_id = strdup(framework_id)) &&
        (t->spec_json = strdup(spec_json)) &&
        asprintf(&t->sandbox, "%s/sandboxes/%s", a->conf.work_dir, id) >= 0 &&
        asprintf(&t->meta_file, "%s/meta/tasks/%s", a->conf.work_dir, id) >= 0 &&
        updates_task_init(a, t) == 0)
        rc = 0;
    if (rc == 0) {
        spec = agora_json_parse(spec_json, err, sizeof(err));
        if (!YAJL_IS_OBJECT(spec))
            rc = AGORA_EINVAL;
    }
    if (rc == 0)
        rc = agent_task_name(t, spec);
    if (rc == 0)
        rc = agent_task_resources(t, spec, why);
    if (spec)
        yajl_tree_free(spec);
    if (rc < 0) {
        agent_task_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* Adds t (already out of a->tasks) to the ring, dropping the oldest. */
static void agent_completed_add(struct agent *a, struct agent_task *t)
{
    size_t slot = a->completed_next;

    if (a->completed == NULL) {
        a->completed = calloc(AGENT_COMPLETED_MAX, sizeof(*a->completed));
        if (a->completed == NULL) {
            agent_task_free(t);
            return;
        }
    }
    agent_task_free(a->completed[slot]);
    a->completed[slot] = t;
    a->completed_next = (slot + 1) % AGENT_COMPLETED_MAX;
    if (a->ncompleted < AGENT_COMPLETED_MAX)
        a->ncompleted++;
}

const struct agent_task *agent_completed(const struct agent *a, size_t i)
{
    size_t oldest;

    if (i >= a->ncompleted)
        return NULL;
    oldest = a->ncompleted < AGENT_COMPLETED_MAX ? 0 : a->completed_next;
    return a->completed[(oldest + i) % AGENT_COMPLETED_MAX];
}

static void agent_journal_forget(struct agent *a, const char *id)
{
    int rc = journal_append_ids(a->journal, JOURNAL_FORGET, id, NULL);

    /* Lost, the task is only reported once more after a restart. */
    if (rc < 0 && rc != AGORA_ECANCELED)
        log_warn("agent", "cannot journal the end of task %s: %s", id,
                 agora_strerror(rc));
}

void agent_task_done(struct agent *a, struct agent_task *t)
{
    exec_forget(a->exec, t);
    t->exec = NULL; /* freed by exec_forget() */
    agent_journal_forget(a, t->id);
    map_remove(&a->tasks, t->id);
    updates_task_free(a, t);
    /* Keep what /state shows of a completed task; drop the rest. */
    free(t->spec_json);
    t->spec_json = NULL;
    free(t->meta_file);
    t->meta_file = NULL;
    log_debug("agent", "task %s done (%s)", t->id,
              agora_task_state_name(t->state));
    agent_completed_add(a, t);
}

void agent_tasks_free(struct agent *a)
{
    const char *id;
    void *value;
    size_t pos = 0, i;

    while (map_next(&a->tasks, &pos, &id, &value)) {
        updates_task_free(a, value);
        agent_task_free(value);
    }
    map_free(&a->tasks);
    for (i = 0; a->completed && i < AGENT_COMPLETED_MAX; i++)
        agent_task_free(a->completed[i]);
    free(a->completed);
    a->completed = NULL;
    a->ncompleted = 0;
}

size_t agent_tasks_live(struct agent *a)
{
    const char *id;
    void *value;
    size_t pos = 0, n = 0;

    while (map_next(&a->tasks, &pos, &id, &value))
        if (!agora_task_state_terminal(((struct agent_task *)value)->state))
            n++;
    return n;
}

int agent_task_kill(struct agent *a, struct agent_task *t, double grace)
{
    int rc;

    if (agora_task_state_terminal(t->state))
        return 0;
    if (t->updates && t->updates->launch_pending) {
        /* Its checkpoint is not durable yet: it never runs. */
        agent_task_update(a, t, AGORA_TASK_KILLED,
                          "REASON_TASK_KILLED_DURING_LAUNCH",
                          "killed before it was launched", -1);
        return 0;
    }
    if (agent_fetch_kill(a, t)) /* still fetching: it never starts */
        return 0;
    rc = exec_kill(a->exec, t, grace);
    if (rc < 0)
        log_error("agent", "cannot kill task %s: %s", t->id,
                  agora_strerror(rc));
    return rc;
}
