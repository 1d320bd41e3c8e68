/*
 * mar_apply.c - turns changes of apps into one deployment.
 *
 * The API handlers (POST/PUT/PATCH/DELETE of apps, restart, rollback,
 * scale by killing) all describe what they want as a list of target
 * definitions; this file decides, per app, which action that is (§3.1:
 * a new app starts then scales, a changed `instances` alone scales,
 * anything else restarts, an identical definition does nothing, no
 * target stops), stamps versions, assigns service ports, saves the apps
 * and starts the deployment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marathon.h"

void mar_version_now(struct mar *m, char out[32])
{
    mar_time_format(mar_now(m), out);
}

static int set_str(char **dst, const char *src)
{
    char *s = src ? strdup(src) : NULL;

    if (src && !s)
        return AGORA_ENOMEM;
    free(*dst);
    *dst = s;
    return 0;
}

/* Service ports for port definitions with port 0 (§3.13), unique among
 * all apps, from [local_port_min, local_port_max]: the lowest that no
 * other app (the index's counts, old's taken back) and no port of def
 * holds. old is the definition def replaces, or NULL. */
static void assign_service_ports(struct mar *m, const struct mar_app *old,
                                 struct mar_app *def)
{
    int64_t lo = m->conf->local_port_min, hi = m->conf->local_port_max, p;
    size_t j;

    if (def->require_ports || hi < lo)
        return;
    for (j = 0, p = lo; j < def->nport_defs; j++) {
        if (def->port_defs[j].port != 0)
            continue;
        while (p <= hi && mar_index_port_taken(m, old, def, p))
            p++;
        if (p > hi)
            break;
        def->port_defs[j].port = (int)p;
    }
}

/* A port definition that asks for a service port (0) keeps the one its
 * predecessor at the same place had: an update that restates `port: 0`
 * is not a change. */
static void inherit_service_ports(const struct mar_app *old,
                                  struct mar_app *t)
{
    size_t i;

    if (t->require_ports)
        return;
    for (i = 0; i < t->nport_defs && i < old->nport_defs; i++) {
        if (t->port_defs[i].port == 0)
            t->port_defs[i].port = old->port_defs[i].port;
    }
}

static char *app_json(const struct mar_app *a)
{
    struct agora_jw *w = agora_jw_new();
    const char *doc;
    char *s = NULL;

    if (w == NULL)
        return NULL;
    mar_app_write(w, a);
    doc = agora_jw_result(w, NULL);
    if (doc)
        s = strdup(doc);
    agora_jw_free(w);
    return s;
}

static void event_api_post(struct mar *m, const struct mar_app *a)
{
    struct agora_jw *w;

    if (!mar_events_on(m))
        return;
    w = mar_events_begin(m, "api_post_event");
    agora_jw_kstr(w, "clientIp", "");
    agora_jw_kstr(w, "uri", "/v2/apps");
    agora_jw_key(w, "appDefinition");
    mar_app_write(w, a);
    mar_events_end(m, "api_post_event");
}

/* The health checks of an app's version come and go with it (§4.2):
 * remove_health_check_event for old's, add_health_check_event for each
 * of t's (either may be NULL). */
void mar_events_health_checks(struct mar *m, const struct mar_app *old,
                              const struct mar_app *t)
{
    struct agora_jw *w;
    size_t i;

    if (!mar_events_on(m))
        return;
    if (old && old->nhealth_checks > 0) {
        w = mar_events_begin(m, "remove_health_check_event");
        agora_jw_kstr(w, "appId", old->id);
        mar_events_end(m, "remove_health_check_event");
    }
    for (i = 0; t && i < t->nhealth_checks; i++) {
        w = mar_events_begin(m, "add_health_check_event");
        agora_jw_kstr(w, "appId", t->id);
        agora_jw_kstr(w, "version", t->version);
        agora_jw_key(w, "healthCheck");
        mar_app_write_health_check(w, &t->health_checks[i]);
        mar_events_end(m, "add_health_check_event");
    }
}

/* One change into d; the target is taken. */
static int apply_change(struct mar *m, struct mar_deploy *d,
                        struct mar_change *c, const char *version,
                        size_t level)
{
    struct mar_rapp *a = mar_state_app(m, c->id);
    struct mar_app *t = c->target;
    char *orig = NULL;
    int upgrade, scale, rc;

    c->target = NULL;
    if (a == NULL && t == NULL)
        return 0;
    if (a && (orig = app_json(a->def)) == NULL) {
        mar_app_free(t);
        return AGORA_ENOMEM;
    }
    rc = mar_deploy_add_affected(d, c->id, orig);
    free(orig);
    if (rc != 0) {
        mar_app_free(t);
        return rc;
    }
    if (t == NULL)
        return mar_deploy_add_step(d, MAR_A_STOP, c->id, 0);
    assign_service_ports(m, a ? a->def : NULL, t);
    if (a == NULL) {
        if (set_str(&t->version, version) || set_str(&t->last_scaling_at,
                                                     version) ||
            set_str(&t->last_config_change_at, version)) {
            mar_app_free(t);
            return AGORA_ENOMEM;
        }
        event_api_post(m, t);
        mar_events_health_checks(m, NULL, t);
        a = mar_state_app_add(m, t);
        if (a == NULL)
            return AGORA_ENOMEM;
        a->versions_known = 1; /* none yet: its first save writes one */
        mar_state_app_save(m, a);
        rc = mar_deploy_add_step(d, MAR_A_START, c->id, 0);
        return rc ? rc : mar_deploy_add_step(d, MAR_A_SCALE, c->id, level);
    }
    inherit_service_ports(a->def, t);
    upgrade = c->restart || mar_app_is_upgrade(a->def, t);
    scale = t->instances != a->def->instances;
    if (!upgrade && !scale) {
        mar_app_free(t);
        return 0;
    }
    rc = set_str(&t->version, version);
    rc = rc ? rc : set_str(&t->last_scaling_at, version);
    rc = rc ? rc : set_str(&t->last_config_change_at,
                           upgrade ? version : a->def->last_config_change_at);
    if (rc) {
        mar_app_free(t);
        return rc;
    }
    event_api_post(m, t);
    if (upgrade)
        mar_events_health_checks(m, a->def, t);
    mar_index_def(m, a->def, -1);
    mar_app_free(a->def);
    a->def = t;
    mar_index_def(m, t, 1);
    mar_state_app_redefined(a);
    if (upgrade)
        mar_sched_backoff_reset(m, a);
    mar_state_app_save(m, a);
    return mar_deploy_add_step(d, upgrade ? MAR_A_RESTART : MAR_A_SCALE,
                               c->id, level);
}

/* c->id may point into the definition being replaced: work on a copy. */
static int apply_one(struct mar *m, struct mar_deploy *d,
                     struct mar_change *c, const char *version, size_t level)
{
    struct mar_change copy = *c;
    int rc;

    copy.id = strdup(c->id);
    c->target = NULL;
    if (copy.id == NULL) {
        mar_app_free(copy.target);
        return AGORA_ENOMEM;
    }
    rc = apply_change(m, d, &copy, version, level);
    free((char *)copy.id);
    return rc;
}

int mar_apply(struct mar *m, struct mar_change *c, size_t n, int force,
              struct mar_deploy **out, int *owned,
              struct mar_deploy **locked, size_t *nlocked)
{
    const char **ids = calloc(n + 1, sizeof(*ids));
    size_t *levels = calloc(n + 1, sizeof(*levels));
    struct mar_deploy *d;
    char version[32];
    size_t i, k;
    int rc = 0;

    *out = NULL;
    *owned = 0;
    *nlocked = 0;
    if (ids == NULL || levels == NULL) {
        rc = AGORA_ENOMEM;
        goto out;
    }
    for (i = 0; i < n; i++)
        ids[i] = c[i].id;
    rc = mar_group_levels(m, c, n, NULL, 0, levels);
    if (rc != 0)
        goto out;
    k = mar_deploy_conflicts(m, ids, n, locked, 16);
    if (k > 0 && !force) {
        *nlocked = k;
        rc = AGORA_ESTATE;
        goto out;
    }
    for (i = 0; i < k; i++)
        mar_deploy_cancel(m, locked[i]);
    mar_version_now(m, version);
    d = mar_deploy_new(m, version);
    if (d == NULL) {
        rc = AGORA_ENOMEM;
        goto out;
    }
    for (i = 0; i < n && rc == 0; i++)
        rc = apply_one(m, d, &c[i], version, levels[i]);
    *out = d;
    *owned = mar_deploy_start(m, d) == 0;
out:
    for (i = 0; i < n; i++) {
        mar_app_free(c[i].target);
        c[i].target = NULL;
    }
    free(ids);
    free(levels);
    return rc == AGORA_ESTATE || *out == NULL ? rc : 0;
}

/* The action apply_change() would take for c, or -1 for none. */
static int planned_kind(struct mar *m, struct mar_change *c)
{
    struct mar_rapp *a = mar_state_app(m, c->id);

    if (c->target == NULL)
        return a ? MAR_A_STOP : -1;
    if (a == NULL)
        return MAR_A_START;
    inherit_service_ports(a->def, c->target);
    if (c->restart || mar_app_is_upgrade(a->def, c->target))
        return MAR_A_RESTART;
    return c->target->instances != a->def->instances ? MAR_A_SCALE : -1;
}

int mar_apply_plan(struct mar *m, struct mar_change *c, size_t n,
                   struct agora_jw *w)
{
    size_t *levels = calloc(n + 1, sizeof(*levels));
    struct mar_deploy *d = mar_deploy_new(m, "dry-run");
    size_t i;
    int rc, k;

    if (levels == NULL || d == NULL) {
        free(levels);
        mar_deploy_free(d);
        return AGORA_ENOMEM;
    }
    rc = mar_group_levels(m, c, n, NULL, 0, levels);
    for (i = 0; rc == 0 && i < n; i++) {
        k = planned_kind(m, &c[i]);
        if (k == MAR_A_START) {
            rc = mar_deploy_add_step(d, MAR_A_START, c[i].id, 0);
            k = MAR_A_SCALE;
        }
        if (rc == 0 && k >= 0)
            rc = mar_deploy_add_step(d, (enum mar_action_kind)k, c[i].id,
                                     levels[i]);
    }
    if (rc == 0)
        mar_deploy_write_steps(w, d);
    free(levels);
    mar_deploy_free(d);
    return rc;
}
