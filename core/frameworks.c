/*
 * frameworks.c - registry of frameworks and the statuses queued for them.
 */
#include "frameworks.h"
#include "master_api_v1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "log.h"
#include "alloc.h"
#include "clock.h"
#include "master.h"

/* A status the master generated, waiting for delivery: st points into
 * block, which holds a copy of everything it points to. */
struct fw_pending {
    struct agora_status st;
    void *block;
    struct fw_pending *next;
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

static void framework_pending_free(struct fw_pending *p)
{
    free(p->block);
    free(p);
}

static void framework_pending_drop(struct agora_framework *fw)
{
    while (fw->pending) {
        struct fw_pending *p = fw->pending;

        fw->pending = p->next;
        framework_pending_free(p);
    }
    fw->pending_tail = &fw->pending;
}

static void framework_free(struct agora_framework *fw)
{
    framework_pending_drop(fw);
    free(fw->id);
    free(fw->name);
    free(fw->role);
    free(fw->principal);
    free(fw);
}

void framework_deliver(struct agora_framework *fw,
                       const struct agora_status *st)
{
    if (fw->on_status)
        fw->on_status(fw->state, fw, st);
}

/* Delivers the queued statuses, oldest first. */
static void framework_on_pending(struct ev_loop *loop, ev_timer *w,
                                 int events)
{
    struct agora_framework *fw = w->data;

    (void)loop;
    (void)events;
    while (fw->pending) {
        struct fw_pending *p = fw->pending;

        fw->pending = p->next;
        if (fw->pending == NULL)
            fw->pending_tail = &fw->pending;
        framework_deliver(fw, &p->st);
        framework_pending_free(p);
    }
}

static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* Copies s to *cursor (advanced), or gives NULL for NULL. */
static const char *str_put(char **cursor, const char *s)
{
    size_t n = str_size(s);
    char *d = *cursor;

    if (s == NULL)
        return NULL;
    memcpy(d, s, n);
    *cursor += n;
    return d;
}

/*
 * Makes p->st a copy of st whose strings and arrays all live in one
 * block: the address pointers first, then the ports, then the text.
 * 0 or AGORA_ENOMEM.
 */
static int pending_copy(struct fw_pending *p, const struct agora_status *st)
{
    const char **fields[] = {
        &p->st.task_id,
        &p->st.agent_id,
        &p->st.hostname,
        &p->st.reason,
        &p->st.message,
        &p->st.source,
        &p->st.container_status_json,
        &p->st.health_output,
    };
    size_t i, n = sizeof(fields) / sizeof(fields[0]), size = 0;
    const char **ips;
    uint32_t *ports;
    char *text;

    p->st = *st;
    for (i = 0; i < n; i++)
        size += str_size(*fields[i]);
    for (i = 0; i < st->nip_addresses; i++)
        size += str_size(st->ip_addresses[i]);
    size += st->nip_addresses * sizeof(*ips) + st->nports * sizeof(*ports);
    if ((p->block = malloc(size ? size : 1)) == NULL)
        return AGORA_ENOMEM;
    ips = p->block;
    ports = (uint32_t *)(void *)(ips + st->nip_addresses);
    text = (char *)(ports + st->nports);
    for (i = 0; i < st->nip_addresses; i++)
        ips[i] = str_put(&text, st->ip_addresses[i]);
    if (st->nports)
        memcpy(ports, st->ports, st->nports * sizeof(*ports));
    for (i = 0; i < n; i++)
        *fields[i] = str_put(&text, *fields[i]);
    p->st.ip_addresses = st->nip_addresses ? ips : NULL;
    p->st.ports = st->nports ? ports : NULL;
    return 0;
}

int framework_post_status(struct master *m, struct agora_framework *fw,
                          const struct agora_status *st)
{
    struct fw_pending *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return AGORA_ENOMEM;
    if (pending_copy(p, st) < 0) {
        framework_pending_free(p);
        return AGORA_ENOMEM;
    }
    p->st.uuid = NULL; /* master statuses need no acknowledgement */
    *fw->pending_tail = p;
    fw->pending_tail = &p->next;
    if (!ev_is_active(&fw->pending_timer)) {
        ev_timer_set(&fw->pending_timer, 0., 0.);
        ev_timer_start(m->loop, &fw->pending_timer);
    }
    return 0;
}

struct fw_unacked *framework_unacked_find(struct agora_framework *fw,
                                          const char *uuid)
{
    return map_get(&fw->unacked, uuid);
}

static void unacked_free(struct fw_unacked *e)
{
    free(e->task_id);
    free(e->agent_id);
    free(e);
}

int framework_unacked_add(struct master *m, struct agora_framework *fw,
                          const char *uuid, const char *task_id,
                          const char *agent_id)
{
    size_t n = strlen(uuid) + 1;
    struct fw_unacked *e;

    if (map_get(&fw->unacked, uuid))
        return 0;
    e = calloc(1, sizeof(*e) + n);
    if (e == NULL)
        return AGORA_ENOMEM;
    memcpy(e->uuid, uuid, n);
    e->task_id = strdup(task_id);
    e->agent_id = strdup(agent_id);
    if (!e->task_id || !e->agent_id ||
        map_put(&fw->unacked, e->uuid, e, NULL) < 0) {
        unacked_free(e);
        return AGORA_ENOMEM;
    }
    m->frameworks.unacked++;
    return 0;
}

void framework_unacked_remove(struct master *m, struct agora_framework *fw,
                              const char *uuid)
{
    struct fw_unacked *e = map_get(&fw->unacked, uuid);

    if (e == NULL)
        return;
    map_remove(&fw->unacked, e->uuid);
    unacked_free(e);
    m->frameworks.unacked--;
}

void framework_unacked_clear(struct master *m, struct agora_framework *fw)
{
    size_t pos = 0;
    void *v;

    while (map_next(&fw->unacked, &pos, NULL, &v)) {
        unacked_free(v);
        m->frameworks.unacked--;
    }
    map_free(&fw->unacked);
}

int framework_set_explicit(struct master *m, struct agora_framework *fw,
                           int on)
{
    static char mark; /* the value: only presence matters */

    if (on && map_put(&m->frameworks.explicit_ids, fw->id, &mark, NULL) < 0)
        return AGORA_ENOMEM;
    if (!on)
        map_remove(&m->frameworks.explicit_ids, fw->id);
    fw->explicit_acks = on;
    return 0;
}

int framework_explicit_id(struct master *m, const char *id)
{
    return map_get(&m->frameworks.explicit_ids, id) != NULL;
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
    if (!acls_allow(&m->acls, ACL_REGISTER_FRAMEWORKS, fw->principal,
                    fw->role)) {
        log_warn("frameworks", "framework %s refused: principal %s may not "
                               "register with role %s (ACLs)", fw->id,
                 fw->principal ? fw->principal : "(none)", fw->role);
        framework_free(fw);
        return AGORA_EPERM;
    }
    if (map_put(&m->frameworks.by_id, fw->id, fw, NULL) < 0) {
        framework_free(fw);
        return AGORA_ENOMEM;
    }
    /* A new registration starts without explicit acks. */
    map_remove(&m->frameworks.explicit_ids, fw->id);
    fw->p = p;
    fw->on_offer = spec->on_offer;
    fw->on_status = spec->on_status;
    fw->on_rescind = spec->on_rescind;
    fw->state = spec->state;
    fw->registered_at = master_now(m);
    fw->pending_tail = &fw->pending;
    ev_init(&fw->pending_timer, framework_on_pending);
    fw->pending_timer.data = fw;
    if (alloc_fw_add(m->alloc, fw->id, fw->role, fw, &fw->alloc) < 0) {
        map_remove(&m->frameworks.by_id, fw->id);
        framework_free(fw);
        return AGORA_ENOMEM;
    }
    /* Without on_offer it places its tasks itself: no offers for it. */
    if (fw->on_offer == NULL) {
        alloc_fw_suppress(m->alloc, fw->alloc);
        fw->suppressed = 1;
    }
    frameworks_mesos_registered(m, fw);
    api_v1_framework_added(m, fw);
    log_info("frameworks", "registered framework %s (role %s)", fw->id,
             fw->role);
    *out = fw;
    return 0;
}

void framework_remove(struct master *m, struct agora_framework *fw)
{
    ev_timer_stop(m->loop, &fw->pending_timer);
    if (fw->unacked.len)
        log_info("frameworks", "framework %s leaves %zu update(s) "
                 "unacknowledged: their agents will send them again",
                 fw->id, fw->unacked.len);
    framework_unacked_clear(m, fw);
    if (fw->alloc)
        alloc_fw_remove(m->alloc, fw->alloc);
    map_remove(&m->frameworks.by_id, fw->id);
    frameworks_mesos_removed(m, fw);
    api_v1_framework_removed(m, fw);
    log_info("frameworks", "unregistered framework %s", fw->id);
    framework_free(fw);
}

struct agora_framework *framework_find(struct master *m, const char *id)
{
    return map_get(&m->frameworks.by_id, id);
}

void frameworks_write(struct master *m, struct agora_jw *w,
                      frameworks_write_fn extra, void *arg)
{
    size_t pos = 0;
    void *v;

    agora_jw_arr_open(w);
    while (map_next(&m->frameworks.by_id, &pos, NULL, &v))
        frameworks_write_full(m, w, v, extra, arg);
    agora_jw_arr_close(w);
}

void frameworks_free(struct master *m)
{
    size_t pos = 0;
    void *v;

    while (map_next(&m->frameworks.by_id, &pos, NULL, &v)) {
        struct agora_framework *fw = v;

        ev_timer_stop(m->loop, &fw->pending_timer);
        framework_unacked_clear(m, fw);
        framework_free(fw);
    }
    map_free(&m->frameworks.by_id);
    map_free(&m->frameworks.explicit_ids);
    frameworks_mesos_free(m);
}
