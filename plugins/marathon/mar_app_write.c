/*
 * mar_app_write.c - an app definition as Marathon serves it: every
 * field, defaults included (marathon-api.md §2.2, §2.6), in one fixed
 * order so that writing what was parsed from a write gives the same
 * bytes. Also the bounded writer of pass-through JSON values.
 *
 * Fields marathon-python's MarathonApp does not know (tty, check,
 * executorResources, resourceLimits) are written only when the app has
 * them: that client refuses unknown keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mar_app_int.h"
#include "mar_constraint.h"

/* ---- pass-through values ---- */

int mar_json_depth_ok(yajl_val v, int max)
{
    size_t i, n;
    yajl_val *kids;

    if (!YAJL_IS_OBJECT(v) && !YAJL_IS_ARRAY(v))
        return 1;
    if (max <= 0)
        return 0;
    n = YAJL_IS_OBJECT(v) ? v->u.object.len : v->u.array.len;
    kids = YAJL_IS_OBJECT(v) ? v->u.object.values : v->u.array.values;
    for (i = 0; i < n; i++) {
        if (!mar_json_depth_ok(kids[i], max - 1))
            return 0;
    }
    return 1;
}

/* The recursion is bounded by depth: a caller that skipped
 * mar_json_depth_ok() gets a failed writer, not a blown stack. */
static void json_write(struct agora_jw *w, yajl_val v, int depth)
{
    size_t i;

    if (depth > MAR_JSON_MAX_DEPTH) {
        agora_jw_raw(w, NULL, 0); /* fails the writer */
        return;
    }
    if (YAJL_IS_STRING(v)) {
        agora_jw_str(w, YAJL_GET_STRING(v));
    } else if (YAJL_IS_NUMBER(v) && v->u.number.r) {
        agora_jw_raw(w, v->u.number.r, strlen(v->u.number.r));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        agora_jw_bool(w, YAJL_IS_TRUE(v));
    } else if (YAJL_IS_OBJECT(v)) {
        agora_jw_obj_open(w);
        for (i = 0; i < v->u.object.len; i++) {
            agora_jw_key(w, v->u.object.keys[i]);
            json_write(w, v->u.object.values[i], depth + 1);
        }
        agora_jw_obj_close(w);
    } else if (YAJL_IS_ARRAY(v)) {
        agora_jw_arr_open(w);
        for (i = 0; i < v->u.array.len; i++)
            json_write(w, v->u.array.values[i], depth + 1);
        agora_jw_arr_close(w);
    } else {
        agora_jw_null(w);
    }
}

void mar_json_write(struct agora_jw *w, yajl_val v)
{
    json_write(w, v, 1);
}

int mar_json_text(yajl_val v, char **out)
{
    struct agora_jw *w;
    const char *res;

    *out = NULL;
    if (!mar_json_depth_ok(v, MAR_JSON_MAX_DEPTH))
        return -2;
    w = agora_jw_new();
    if (!w)
        return -1;
    mar_json_write(w, v);
    res = agora_jw_result(w, NULL);
    *out = mar_strdup(res);
    agora_jw_free(w);
    return *out ? 0 : -1;
}

/* ---- the definition ---- */

const char *const mar_hc_names[7] = {
    [MAR_HC_HTTP] = "HTTP",
    [MAR_HC_HTTPS] = "HTTPS",
    [MAR_HC_TCP] = "TCP",
    [MAR_HC_COMMAND] = "COMMAND",
    [MAR_HC_MESOS_HTTP] = "MESOS_HTTP",
    [MAR_HC_MESOS_HTTPS] = "MESOS_HTTPS",
    [MAR_HC_MESOS_TCP] = "MESOS_TCP",
};

/* Text kept from the client, or def when there is none. */
static void raw_val(struct agora_jw *w, const char *json, const char *def)
{
    const char *t = json ? json : def;

    agora_jw_raw(w, t, strlen(t));
}

static void raw_or(struct agora_jw *w, const char *key, const char *json,
                   const char *def)
{
    agora_jw_key(w, key);
    raw_val(w, json, def);
}

static void write_strv(struct agora_jw *w, const char *key, char **v, size_t n)
{
    size_t i;

    agora_jw_key(w, key);
    agora_jw_arr_open(w);
    for (i = 0; i < n; i++)
        agora_jw_str(w, v[i]);
    agora_jw_arr_close(w);
}

static void write_kv(struct agora_jw *w, const char *key,
                     const struct mar_kv *kv, size_t n)
{
    size_t i;

    agora_jw_key(w, key);
    agora_jw_obj_open(w);
    for (i = 0; i < n; i++)
        agora_jw_kstr(w, kv[i].key, kv[i].value);
    agora_jw_obj_close(w);
}

static void write_fetch(struct agora_jw *w, const struct mar_app *a)
{
    const struct mar_fetch *f;
    size_t i;

    agora_jw_key(w, "fetch");
    agora_jw_arr_open(w);
    for (i = 0; i < a->nfetch; i++) {
        f = &a->fetch[i];
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "uri", f->uri);
        agora_jw_kbool(w, "extract", f->extract);
        agora_jw_kbool(w, "executable", f->executable);
        agora_jw_kbool(w, "cache", f->cache);
        if (f->dest_path)
            agora_jw_kstr(w, "destPath", f->dest_path);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

static void write_port_mappings(struct agora_jw *w, const struct mar_app *a)
{
    const struct mar_port_mapping *m;
    size_t i;

    agora_jw_arr_open(w);
    for (i = 0; i < a->nport_mappings; i++) {
        m = &a->port_mappings[i];
        agora_jw_obj_open(w);
        agora_jw_kint(w, "containerPort", m->container_port);
        if (m->host_port >= 0)
            agora_jw_kint(w, "hostPort", m->host_port);
        agora_jw_kint(w, "servicePort", m->service_port);
        agora_jw_kstr(w, "protocol", m->protocol ? m->protocol : "tcp");
        if (m->name)
            agora_jw_kstr(w, "name", m->name);
        if (m->nlabels)
            write_kv(w, "labels", m->labels, m->nlabels);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

/*
 * The container: its kept text with "portMappings" spliced in before the
 * closing brace when the app uses container networking. The text is the
 * model's own normalised output, an object, so its last byte is '}'.
 */
static void write_container(struct agora_jw *w, const struct mar_app *a)
{
    struct agora_jw *pm;
    const char *arr;
    size_t len, alen;
    char *t;

    agora_jw_key(w, "container");
    if (!a->container_json || !a->bridge) {
        raw_val(w, a->container_json, "null");
        return;
    }
    pm = agora_jw_new();
    if (pm)
        write_port_mappings(pm, a);
    arr = agora_jw_result(pm, &alen);
    len = strlen(a->container_json);
    t = arr && len >= 2 ? malloc(len + alen + 20) : NULL;
    if (t) {
        memcpy(t, a->container_json, len - 1);
        snprintf(t + len - 1, alen + 20, "%s\"portMappings\":%s}",
                 len > 2 ? "," : "", arr);
    }
    agora_jw_raw(w, t, t ? strlen(t) : 0); /* NULL fails the writer */
    free(t);
    agora_jw_free(pm);
}

static void write_health_check(struct agora_jw *w,
                               const struct mar_health_check *h)
{
    int mesos = h->protocol >= MAR_HC_MESOS_HTTP;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "protocol", mar_hc_names[h->protocol]);
    if (h->protocol == MAR_HC_COMMAND) {
        agora_jw_key(w, "command");
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "value", h->command);
        agora_jw_obj_close(w);
    }
    if (h->path)
        agora_jw_kstr(w, "path", h->path);
    if (h->port_index >= 0)
        agora_jw_kint(w, "portIndex", h->port_index);
    else if (h->port > 0)
        agora_jw_kint(w, "port", h->port);
    agora_jw_knum(w, "gracePeriodSeconds", h->grace_period);
    agora_jw_knum(w, "intervalSeconds", h->interval);
    agora_jw_knum(w, "timeoutSeconds", h->timeout);
    agora_jw_kint(w, "maxConsecutiveFailures", h->max_consecutive_failures);
    if (h->protocol == MAR_HC_HTTP || h->protocol == MAR_HC_HTTPS)
        agora_jw_kbool(w, "ignoreHttp1xx", h->ignore_http1xx);
    agora_jw_knum(w, "delaySeconds", h->delay);
    if (mesos)
        agora_jw_kstr(w, "ipProtocol",
                      h->ip_protocol ? h->ip_protocol : "IPv4");
    agora_jw_obj_close(w);
}

void mar_app_write_health_check(struct agora_jw *w,
                                const struct mar_health_check *h)
{
    write_health_check(w, h);
}

static void write_health_checks(struct agora_jw *w, const struct mar_app *a)
{
    size_t i;

    agora_jw_key(w, "healthChecks");
    agora_jw_arr_open(w);
    for (i = 0; i < a->nhealth_checks; i++)
        write_health_check(w, &a->health_checks[i]);
    agora_jw_arr_close(w);
}

/* `ports` (the deprecated list Marathon still writes) and then
 * portDefinitions: the same ports, so that both parse back. */
static void write_ports(struct agora_jw *w, const struct mar_app *a)
{
    const struct mar_port_def *d;
    size_t i;

    agora_jw_key(w, "ports");
    agora_jw_arr_open(w);
    for (i = 0; i < a->nport_defs; i++)
        agora_jw_int(w, a->port_defs[i].port);
    agora_jw_arr_close(w);
    agora_jw_key(w, "portDefinitions");
    agora_jw_arr_open(w);
    for (i = 0; i < a->nport_defs; i++) {
        d = &a->port_defs[i];
        agora_jw_obj_open(w);
        agora_jw_kint(w, "port", d->port);
        agora_jw_kstr(w, "protocol", d->protocol ? d->protocol : "tcp");
        if (d->name)
            agora_jw_kstr(w, "name", d->name);
        if (d->nlabels)
            write_kv(w, "labels", d->labels, d->nlabels);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
    agora_jw_kbool(w, "requirePorts", a->require_ports);
}

static void write_strategies(struct agora_jw *w, const struct mar_app *a)
{
    agora_jw_key(w, "upgradeStrategy");
    agora_jw_obj_open(w);
    agora_jw_knum(w, "minimumHealthCapacity", a->min_health_capacity);
    agora_jw_knum(w, "maximumOverCapacity", a->max_over_capacity);
    agora_jw_obj_close(w);
}

static void write_unreachable(struct agora_jw *w, const struct mar_app *a)
{
    agora_jw_key(w, "unreachableStrategy");
    if (a->unreachable_disabled) {
        agora_jw_str(w, "disabled");
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_knum(w, "inactiveAfterSeconds", a->unreachable_inactive_after);
    agora_jw_knum(w, "expungeAfterSeconds", a->unreachable_expunge_after);
    agora_jw_obj_close(w);
}

/* id through executor */
static void write_command(struct agora_jw *w, const struct mar_app *a,
                          int for_compare)
{
    agora_jw_kstr(w, "id", a->id);
    agora_jw_kstr(w, "cmd", a->cmd);
    if (a->args)
        write_strv(w, "args", a->args, a->nargs);
    else
        raw_or(w, "args", NULL, "null");
    agora_jw_kstr(w, "user", a->user);
    if (a->env_json)
        raw_or(w, "env", a->env_json, "{}");
    else
        write_kv(w, "env", a->env, a->nenv);
    if (!for_compare)
        agora_jw_kint(w, "instances", a->instances);
    agora_jw_knum(w, "cpus", a->cpus);
    agora_jw_knum(w, "mem", a->mem);
    agora_jw_knum(w, "disk", a->disk);
    agora_jw_kint(w, "gpus", a->gpus);
    agora_jw_kstr(w, "executor", a->executor ? a->executor : "");
}

/* constraints through labels */
static void write_placement(struct agora_jw *w, const struct mar_app *a)
{
    agora_jw_key(w, "constraints");
    mar_constraints_write(w, a->constraints, a->nconstraints);
    if (a->accepted_roles)
        write_strv(w, "acceptedResourceRoles", a->accepted_roles,
                   a->naccepted_roles);
    else
        raw_or(w, "acceptedResourceRoles", NULL, "null");
    write_fetch(w, a);
    raw_or(w, "storeUrls", a->store_urls_json, "[]");
    agora_jw_knum(w, "backoffSeconds", a->backoff_seconds);
    agora_jw_knum(w, "backoffFactor", a->backoff_factor);
    agora_jw_knum(w, "maxLaunchDelaySeconds", a->max_launch_delay);
    write_container(w, a);
    write_health_checks(w, a);
    raw_or(w, "readinessChecks", a->readiness_checks_json, "[]");
    write_strv(w, "dependencies", a->dependencies, a->ndependencies);
    write_strategies(w, a);
    write_kv(w, "labels", a->labels, a->nlabels);
}

/* the rest of §2.2, and the optional extras */
static void write_rest(struct agora_jw *w, const struct mar_app *a)
{
    raw_or(w, "ipAddress", a->ip_address_json, "null");
    raw_or(w, "residency", a->residency_json, "null");
    raw_or(w, "secrets", a->secrets_json, "{}");
    agora_jw_key(w, "taskKillGracePeriodSeconds");
    if (a->kill_grace_period >= 0)
        agora_jw_num(w, a->kill_grace_period);
    else
        agora_jw_null(w);
    write_unreachable(w, a);
    agora_jw_kstr(w, "killSelection",
                  a->kill_selection == MAR_KILL_OLDEST_FIRST
                      ? "OLDEST_FIRST"
                      : "YOUNGEST_FIRST");
    raw_or(w, "networks", a->networks_json, "[{\"mode\":\"host\"}]");
    write_ports(w, a);
    if (a->role)
        agora_jw_kstr(w, "role", a->role);
    if (a->tty >= 0)
        agora_jw_kbool(w, "tty", a->tty);
    if (a->check_json)
        raw_or(w, "check", a->check_json, "null");
    if (a->executor_resources_json)
        raw_or(w, "executorResources", a->executor_resources_json, "null");
    if (a->resource_limits_json)
        raw_or(w, "resourceLimits", a->resource_limits_json, "null");
}

static void write_version(struct agora_jw *w, const struct mar_app *a)
{
    if (a->version)
        agora_jw_kstr(w, "version", a->version);
    if (!a->last_scaling_at && !a->last_config_change_at)
        return;
    agora_jw_key(w, "versionInfo");
    agora_jw_obj_open(w);
    if (a->last_scaling_at)
        agora_jw_kstr(w, "lastScalingAt", a->last_scaling_at);
    if (a->last_config_change_at)
        agora_jw_kstr(w, "lastConfigChangeAt", a->last_config_change_at);
    agora_jw_obj_close(w);
}

void mar_app_write_members(struct agora_jw *w, const struct mar_app *a,
                           int for_compare)
{
    write_command(w, a, for_compare);
    write_placement(w, a);
    write_rest(w, a);
    if (!for_compare)
        write_version(w, a);
}

void mar_app_write_fields(struct agora_jw *w, const struct mar_app *a)
{
    mar_app_write_members(w, a, 0);
}

void mar_app_write(struct agora_jw *w, const struct mar_app *a)
{
    agora_jw_obj_open(w);
    mar_app_write_fields(w, a);
    agora_jw_obj_close(w);
}
