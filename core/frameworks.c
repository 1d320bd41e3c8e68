/*
 * frameworks.c - registry of frameworks and reconciliation answers.
 */
#include "frameworks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>

#include "log.h"
#include "master.h"

/* One queued reconciliation answer. */
struct fw_answer {
    char *task_id;
    struct fw_answer *next;
};

static int framework_name_valid(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
              (s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '-' ||
              s[n] == '.'))
            return 0;
    return n > 0 && n <= 128;
}

static void framework_answers_free(struct agora_framework *fw)
{
    while (fw->answers) {
        struct fw_answer *a = fw->answers;

        fw->answers = a->next;
        free(a->task_id);
        free(a);
    }
}

static void framework_free(struct agora_framework *fw)
{
    framework_answers_free(fw);
    free(fw->id);
    free(fw->name);
    free(fw->role);
    free(fw->principal);
    free(fw);
}

/*
 * Delivers queued answers. Until the agents' task table exists no task
 * is known to the master, so each is TASK_UNKNOWN, as Mesos answers for
 * a task it has never heard of.
 */
static void framework_answer(struct ev_loop *loop, ev_timer *w, int events)
{
    struct agora_framework *fw = w->data;
    struct master *m = fw->p->m;

    (void)loop;
    (void)events;
    while (fw->answers) {
        struct fw_answer *a = fw->answers;
        struct agora_status st;

        fw->answers = a->next;
        memset(&st, 0, sizeof(st));
        st.task_id = a->task_id;
        st.state = AGORA_TASK_UNKNOWN;
        st.reason = "REASON_RECONCILIATION";
        st.message = "Reconciliation: task is unknown to the master";
        st.healthy = -1;
        st.timestamp = master_now(m);
        st.source = "SOURCE_MASTER";
        if (fw->on_status)
            fw->on_status(fw->state, fw, &st);
        free(a->task_id);
        free(a);
    }
}

int framework_add(struct master *m, struct plugin *p,
                  const struct agora_framework_spec *spec, int is_default,
                  struct agora_framework **out)
{
    struct agora_framework *fw;
    int rc;

    if (spec->name == NULL || !framework_name_valid(spec->name))
        return AGORA_EINVAL;
    fw = calloc(1, sizeof(*fw));
    if (fw == NULL)
        return AGORA_ENOMEM;
    rc = is_default ? asprintf(&fw->id, "%s", p->name)
                    : asprintf(&fw->id, "%s.%s", p->name, spec->name);
    if (rc < 0)
        fw->id = NULL;
    fw->name = strdup(spec->name);
    fw->role = strdup(spec->role ? spec->role : "*");
    fw->principal = spec->principal ? strdup(spec->principal) : NULL;
    if (!fw->id || !fw->name || !fw->role ||
        (spec->principal && !fw->principal)) {
        framework_free(fw);
        return AGORA_ENOMEM;
    }
    if (map_get(&m->frameworks.by_id, fw->id)) {
        framework_free(fw);
        return AGORA_EEXIST;
    }
    if (map_put(&m->frameworks.by_id, fw->id, fw, NULL) < 0) {
        framework_free(fw);
        return AGORA_ENOMEM;
    }
    fw->p = p;
    fw->on_offer = spec->on_offer;
    fw->on_status = spec->on_status;
    fw->state = spec->state;
    fw->registered_at = master_now(m);
    ev_init(&fw->answer_timer, framework_answer);
    fw->answer_timer.data = fw;
    log_info("frameworks", "registered framework %s (role %s)", fw->id,
             fw->role);
    *out = fw;
    return 0;
}

void framework_remove(struct master *m, struct agora_framework *fw)
{
    ev_timer_stop(m->loop, &fw->answer_timer);
    map_remove(&m->frameworks.by_id, fw->id);
    log_info("frameworks", "unregistered framework %s", fw->id);
    framework_free(fw);
}

struct agora_framework *framework_find(struct master *m, const char *id)
{
    return map_get(&m->frameworks.by_id, id);
}

int framework_reconcile(struct master *m, struct agora_framework *fw,
                        const char *const *task_ids, size_t n)
{
    struct fw_answer **tail = &fw->answers;
    size_t i;

    while (*tail)
        tail = &(*tail)->next;
    /* Implicit reconciliation (n == 0) answers the tasks the master
     * knows of: none yet. */
    for (i = 0; i < n; i++) {
        struct fw_answer *a = calloc(1, sizeof(*a));

        if (a == NULL || (a->task_id = strdup(task_ids[i])) == NULL) {
            free(a);
            return AGORA_ENOMEM;
        }
        *tail = a;
        tail = &a->next;
    }
    if (fw->answers && !ev_is_active(&fw->answer_timer)) {
        ev_timer_set(&fw->answer_timer, 0., 0.);
        ev_timer_start(m->loop, &fw->answer_timer);
    }
    return 0;
}

void frameworks_write(struct master *m, struct agora_jw *w)
{
    size_t pos = 0;
    void *v;

    agora_jw_arr_open(w);
    while (map_next(&m->frameworks.by_id, &pos, NULL, &v)) {
        struct agora_framework *fw = v;

        agora_jw_obj_open(w);
        agora_jw_kstr(w, "id", fw->id);
        agora_jw_kstr(w, "name", fw->name);
        agora_jw_kstr(w, "role", fw->role);
        agora_jw_kstr(w, "principal", fw->principal);
        agora_jw_kstr(w, "plugin", fw->p->name);
        agora_jw_kbool(w, "active", !fw->suppressed);
        agora_jw_kbool(w, "suppressed", fw->suppressed);
        agora_jw_knum(w, "registered_time", fw->registered_at);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

void frameworks_free(struct master *m)
{
    size_t pos = 0;
    void *v;

    while (map_next(&m->frameworks.by_id, &pos, NULL, &v)) {
        struct agora_framework *fw = v;

        ev_timer_stop(m->loop, &fw->answer_timer);
        framework_free(fw);
    }
    map_free(&m->frameworks.by_id);
}
