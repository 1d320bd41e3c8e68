/*
 * mar_app.c - an app definition from JSON (marathon-api.md §2): every
 * field read with its default, then Marathon's rules checked
 * (AppValidation.scala, AppDefinition.scala), every failure collected.
 * Also the PATCH merge, the upgrade test and the host port count.
 *
 * A parse runs in two halves that mirror Marathon's: the JSON's shape
 * (types, enums: play-json's failures, 400) and the rules (422). Both
 * are collected in one pass; when the shape failed, only its failures
 * are reported, as Marathon never gets to its rules then.
 *
 * The networking fields are in mar_app_net.c, health checks, fetch and
 * the other lists in mar_app_parts.c, writing in mar_app_write.c.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mar_app_int.h"
#include "mar_constraint.h"

#define SINGLE_INSTANCE_LABEL "MARATHON_SINGLE_INSTANCE_APP"
#define EXECUTOR_RE "^(//cmd)|(/?[^/]+(/[^/]+)*)|$"

/* ---- small rules ---- */

/* "got -1.0, expected 0.0 or more" for a double below its minimum. */
static void min_double(struct mar_pc *c, const char *at, const char *key,
                       double v, double min)
{
    char got[40], want[40];

    if (v >= min)
        return;
    mar_fmt_double(v, got);
    mar_fmt_double(min, want);
    mar_pc_fail(c, at, key, "got %s, expected %s or more", got, want);
}

static void min_int(struct mar_pc *c, const char *at, const char *key, double v,
                    int min)
{
    if (v < min)
        mar_pc_fail(c, at, key, "got %.0f, expected %d or more", v, min);
}

/* "got 1.5, expected between 0.0 and 1.0" (accord's `between`). */
static void unit_interval(struct mar_pc *c, const char *at, const char *key,
                          double v)
{
    char got[40];

    if (v >= 0 && v <= 1)
        return;
    mar_fmt_double(v, got);
    mar_pc_fail(c, at, key, "got %s, expected between 0.0 and 1.0", got);
}

/* The executor against ^(//cmd)|(/?[^/]+(/[^/]+)*)|$, which Java's
 * matches() reads as: "//cmd", an optionally rooted path of non-empty
 * segments, or nothing. */
static int executor_ok(const char *s)
{
    const char *p = s;

    if (*s == '\0' || strcmp(s, "//cmd") == 0)
        return 1;
    if (*p == '/')
        p++;
    if (*p == '\0')
        return 0;
    for (; *p; p++) {
        if (*p == '/' && (p[1] == '/' || p[1] == '\0'))
            return 0;
    }
    return 1;
}

static void set_str(struct mar_pc *c, char **dst, const char *s)
{
    if (!s)
        return;
    *dst = mar_strdup(s);
    if (!*dst)
        mar_pc_nomem(c);
}

/* ---- the top-level fields ---- */

/* 1 when id lies directly in group: Marathon's childOf for apps of a
 * group (PathId.validPathWithBase). */
static int direct_child(const char *id, const char *group)
{
    size_t n = strlen(group);

    return mar_id_under(id, group) && !strchr(id + n + 1, '/');
}

static void parse_id(struct mar_pc *c, yajl_val o, struct mar_app *a,
                     const char *base, const char *id_override)
{
    const char *id = NULL, *why = NULL;
    int r = mar_pc_str(c, mar_pc_member(o, "id"), "", "id", &id);

    if (id_override)
        id = id_override;
    else if (r == 0)
        mar_pc_type(c, "", "id", MAR_E_MISSING);
    if (!id)
        return;
    a->id = mar_id_resolve(base, id, &why);
    if (!a->id && why && strcmp(why, "out of memory") == 0)
        mar_pc_nomem(c);
    else if (!a->id)
        mar_pc_fail(c, "", "id", "%s", why ? why : "invalid");
    else if (!mar_id_valid(a->id, &why))
        mar_pc_fail(c, "", "id", "%s", why);
    else if (base && strcmp(base, "/") != 0 && !direct_child(a->id, base))
        mar_pc_fail(c, "", "id",
                    "Identifier is not child of %s. Hint: use relative "
                    "paths.",
                    base);
}

/* cmd, args, user, executor, role, tty */
static void parse_command(struct mar_pc *c, yajl_val o, struct mar_app *a)
{
    const char *s = NULL;

    if (mar_pc_str(c, mar_pc_member(o, "cmd"), "", "cmd", &s) > 0) {
        if (!*s)
            mar_pc_fail(c, "", "cmd", "must not be an empty string");
        set_str(c, &a->cmd, s);
    }
    mar_parts_strv(c, mar_pc_member(o, "args"), "args", &a->args, &a->nargs);
    s = NULL;
    if (mar_pc_str(c, mar_pc_member(o, "user"), "", "user", &s) > 0)
        set_str(c, &a->user, s);
    s = "";
    if (mar_pc_str(c, mar_pc_member(o, "executor"), "", "executor", &s) > 0 &&
        !executor_ok(s))
        mar_pc_fail(c, "", "executor",
                    "must fully match regular expression '" EXECUTOR_RE "'");
    set_str(c, &a->executor, s);
    s = NULL;
    if (mar_pc_str(c, mar_pc_member(o, "role"), "", "role", &s) > 0)
        set_str(c, &a->role, s);
    a->tty = -1;
    mar_pc_bool(c, mar_pc_member(o, "tty"), "", "tty", &a->tty);
}

/* instances, cpus, mem, disk, gpus */
static void parse_resources(struct mar_pc *c, yajl_val o, struct mar_app *a)
{
    a->instances = 1;
    a->cpus = 1;
    a->mem = 128;
    if (mar_pc_int(c, mar_pc_member(o, "instances"), "", "instances",
                   &a->instances) > 0)
        min_int(c, "", "instances", a->instances, 0);
    if (mar_pc_num(c, mar_pc_member(o, "cpus"), "", "cpus", &a->cpus) > 0)
        min_double(c, "", "cpus", a->cpus, 0);
    if (mar_pc_num(c, mar_pc_member(o, "mem"), "", "mem", &a->mem) > 0)
        min_double(c, "", "mem", a->mem, 0);
    if (mar_pc_num(c, mar_pc_member(o, "disk"), "", "disk", &a->disk) > 0)
        min_double(c, "", "disk", a->disk, 0);
    if (mar_pc_int(c, mar_pc_member(o, "gpus"), "", "gpus", &a->gpus) > 0)
        min_int(c, "", "gpus", a->gpus, 0);
}

/* An int32 number of seconds at key, kept as a double. */
static int seconds(struct mar_pc *c, yajl_val o, const char *at,
                   const char *key, double *out)
{
    int v, r = mar_pc_int(c, mar_pc_member(o, key), at, key, &v);

    if (r > 0) {
        *out = v;
        min_int(c, at, key, v, 0);
    }
    return r;
}

/* backoff*, maxLaunchDelaySeconds, taskKillGracePeriodSeconds,
 * killSelection, requirePorts */
static void parse_scheduling(struct mar_pc *c, yajl_val o, struct mar_app *a)
{
    const char *ks = NULL;

    a->backoff_seconds = 1;
    a->backoff_factor = 1.15;
    a->max_launch_delay = 300;
    a->kill_grace_period = -1;
    seconds(c, o, "", "backoffSeconds", &a->backoff_seconds);
    if (mar_pc_num(c, mar_pc_member(o, "backoffFactor"), "", "backoffFactor",
                   &a->backoff_factor) > 0)
        min_double(c, "", "backoffFactor", a->backoff_factor, 1);
    seconds(c, o, "", "maxLaunchDelaySeconds", &a->max_launch_delay);
    seconds(c, o, "", "taskKillGracePeriodSeconds", &a->kill_grace_period);
    if (mar_pc_str(c, mar_pc_member(o, "killSelection"), "", "killSelection",
                   &ks) > 0) {
        if (strcmp(ks, "OLDEST_FIRST") == 0)
            a->kill_selection = MAR_KILL_OLDEST_FIRST;
        else if (strcmp(ks, "YOUNGEST_FIRST") != 0)
            mar_pc_type(c, "", "killSelection", MAR_E_ENUM);
    }
    mar_pc_bool(c, mar_pc_member(o, "requirePorts"), "", "requirePorts",
                &a->require_ports);
}

static void parse_upgrade(struct mar_pc *c, yajl_val o, struct mar_app *a,
                          struct mar_raw *r)
{
    yajl_val us = mar_pc_member(o, "upgradeStrategy");
    const char *at = "/upgradeStrategy";

    a->min_health_capacity = 1;
    a->max_over_capacity = 1;
    if (mar_pc_obj(c, us, "", "upgradeStrategy") <= 0)
        return;
    r->upgrade_given = 1;
    if (mar_pc_num(c, mar_pc_member(us, "minimumHealthCapacity"), at,
                   "minimumHealthCapacity", &a->min_health_capacity) > 0)
        unit_interval(c, at, "minimumHealthCapacity", a->min_health_capacity);
    if (mar_pc_num(c, mar_pc_member(us, "maximumOverCapacity"), at,
                   "maximumOverCapacity", &a->max_over_capacity) > 0)
        unit_interval(c, at, "maximumOverCapacity", a->max_over_capacity);
}

/* "disabled", or {inactiveAfterSeconds, expungeAfterSeconds}
 * (UnreachableStrategy.scala's messages). */
static void parse_unreachable(struct mar_pc *c, yajl_val o, struct mar_app *a,
                              struct mar_raw *r)
{
    yajl_val us = mar_pc_member(o, "unreachableStrategy");
    const char *at = "/unreachableStrategy", *str;
    double in = 0, ex = 0;

    if (!us)
        return;
    r->unreachable_given = 1;
    if (YAJL_IS_STRING(us)) {
        str = YAJL_GET_STRING(us);
        if (str && strcmp(str, "disabled") == 0)
            a->unreachable_disabled = 1;
        else
            mar_pc_type(c, "", "unreachableStrategy", MAR_E_ENUM);
        return;
    }
    if (mar_pc_obj(c, us, "", "unreachableStrategy") <= 0)
        return;
    mar_pc_num(c, mar_pc_member(us, "inactiveAfterSeconds"), at,
               "inactiveAfterSeconds", &in);
    mar_pc_num(c, mar_pc_member(us, "expungeAfterSeconds"), at,
               "expungeAfterSeconds", &ex);
    if (in < 0)
        mar_pc_fail(c, at, "inactiveAfterSeconds",
                    "inactiveAfterSeconds (%.0f) must be greater than or "
                    "equal to 0",
                    trunc(in));
    else if (in > ex)
        mar_pc_fail(c, at, "inactiveAfterSeconds",
                    "inactiveAfterSeconds (%.0f) must be less or equal to "
                    "expungeAfterSeconds, which is %.0f",
                    trunc(in), trunc(ex));
    a->unreachable_inactive_after = in;
    a->unreachable_expunge_after = ex;
}

/* version and versionInfo: the store's copy has them. */
static void parse_version(struct mar_pc *c, yajl_val o, struct mar_app *a)
{
    static const char *const keys[] = {"lastScalingAt", "lastConfigChangeAt"};
    char **dst[] = {&a->last_scaling_at, &a->last_config_change_at};
    yajl_val vi = mar_pc_member(o, "versionInfo");
    const char *s = NULL;
    double t;
    size_t i;

    if (mar_pc_str(c, mar_pc_member(o, "version"), "", "version", &s) > 0) {
        if (mar_time_parse(s, &t) != 0)
            mar_pc_type(c, "", "version", MAR_E_DATE);
        set_str(c, &a->version, s);
    }
    if (mar_pc_obj(c, vi, "", "versionInfo") <= 0)
        return;
    for (i = 0; i < 2; i++) {
        s = NULL;
        if (mar_pc_str(c, mar_pc_member(vi, keys[i]), "/versionInfo", keys[i],
                       &s) <= 0)
            continue;
        if (mar_time_parse(s, &t) != 0)
            mar_pc_type(c, "/versionInfo", keys[i], MAR_E_DATE);
        set_str(c, dst[i], s);
    }
}

/* Constraints are mar_constraint.c's; its failures are sorted into the
 * shape's and the rules' by its json flag. */
static void parse_constraints(struct mar_pc *c, yajl_val o, struct mar_app *a)
{
    struct mar_errs ce = {0};
    struct mar_errs *to;
    size_t i;

    if (mar_constraints_parse(mar_pc_member(o, "constraints"), c->prefix,
                              &a->constraints, &a->nconstraints, &ce) != 0) {
        a->constraints = NULL;
        a->nconstraints = 0;
    }
    to = ce.json ? &c->typ : &c->sem;
    for (i = 0; i < ce.n; i++)
        mar_errs_add(to, ce.v[i].path, "%s", ce.v[i].message);
    to->json |= ce.json;
    c->sem.nomem |= ce.nomem;
    mar_errs_free(&ce);
}

/* secrets, residency and the fields kept only as text */
static void parse_passthrough(struct mar_pc *c, yajl_val o, struct mar_app *a)
{
    static const struct {
        const char *key;
        size_t off;
    } objs[] = {
        {"secrets", offsetof(struct mar_app, secrets_json)},
        {"residency", offsetof(struct mar_app, residency_json)},
        {"executorResources",
         offsetof(struct mar_app, executor_resources_json)},
        {"resourceLimits", offsetof(struct mar_app, resource_limits_json)},
        {"check", offsetof(struct mar_app, check_json)},
    };
    yajl_val v;
    size_t i;

    for (i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
        v = mar_pc_member(o, objs[i].key);
        if (mar_pc_obj(c, v, "", objs[i].key) > 0)
            mar_pc_text(c, v, "", objs[i].key,
                        (char **)((char *)a + objs[i].off));
    }
}

/* ---- the rules across fields ---- */

/* AppValidation.containsCmdArgsOrContainer */
static void rule_command(struct mar_pc *c, const struct mar_app *a,
                         const struct mar_raw *r)
{
    int cmd = a->cmd && *a->cmd, args = a->nargs > 0;

    if (!((cmd != args) || (!(cmd && args) && r->container_image)))
        mar_pc_fail(c, "", NULL,
                    "AppDefinition must either contain one of 'cmd' or "
                    "'args', and/or a 'container'.");
}

/* Persistent volumes make an app resident: residency, upgrade and
 * unreachable defaults change, and their rules apply. */
static void rule_resident(struct mar_pc *c, struct mar_app *a,
                          const struct mar_raw *r)
{
    char got[40];

    if (!r->resident) {
        if (a->residency_json)
            mar_pc_fail(c, "", NULL,
                        "App must contain persistent volumes "
                        "and define residency");
        return;
    }
    if (!a->residency_json)
        set_str(c, &a->residency_json,
                "{\"relaunchEscalationTimeoutSeconds\":3600,"
                "\"taskLostBehavior\":\"WAIT_FOREVER\"}");
    if (!r->upgrade_given) {
        a->min_health_capacity = 0.5;
        a->max_over_capacity = 0;
    } else if (a->max_over_capacity != 0) {
        mar_fmt_double(a->max_over_capacity, got);
        mar_pc_fail(c, "/upgradeStrategy", "maximumOverCapacity",
                    "got %s, expected 0.0", got);
    }
    if (!r->unreachable_given)
        a->unreachable_disabled = 1;
    else if (!a->unreachable_disabled)
        mar_pc_fail(c, "", NULL,
                    "unreachableStrategy must be disabled for resident tasks");
}

/* The label MARATHON_SINGLE_INSTANCE_APP=true: one instance at most,
 * and no overlap during upgrades. */
static void rule_single_instance(struct mar_pc *c, struct mar_app *a,
                                 const struct mar_raw *r)
{
    char got[40];
    size_t i;

    /* A copy that failed for want of memory leaves NULLs; the parse
     * fails then, but the rules still run. */
    for (i = 0; i < a->nlabels; i++) {
        if (a->labels[i].key && a->labels[i].value &&
            strcmp(a->labels[i].key, SINGLE_INSTANCE_LABEL) == 0)
            break;
    }
    if (i == a->nlabels || strcmp(a->labels[i].value, "true") != 0)
        return;
    if (a->instances > 1)
        mar_pc_fail(c, "", NULL,
                    "Single instance app may only have one instance");
    if (!r->upgrade_given) {
        a->min_health_capacity = 0;
        a->max_over_capacity = 0;
        return;
    }
    if (a->min_health_capacity != 0) {
        mar_fmt_double(a->min_health_capacity, got);
        mar_pc_fail(c, "/upgradeStrategy", "minimumHealthCapacity",
                    "got %s, expected 0.0", got);
    }
    if (a->max_over_capacity != 0) {
        mar_fmt_double(a->max_over_capacity, got);
        mar_pc_fail(c, "/upgradeStrategy", "maximumOverCapacity",
                    "got %s, expected 0.0", got);
    }
}

static void rules(struct mar_pc *c, struct mar_app *a, const struct mar_raw *r)
{
    rule_command(c, a, r);
    mar_parts_health_rules(c, a, r->docker_type);
    rule_resident(c, a, r);
    rule_single_instance(c, a, r);
    if (a->gpus > 0 && r->docker_type)
        mar_pc_fail(c, "", NULL,
                    "GPU resources only work with the Mesos containerizer");
    if (a->accepted_roles && a->naccepted_roles == 0)
        mar_pc_fail(c, "", "acceptedResourceRoles", "must not be empty");
}

/* ---- parse ---- */

static void parse_fields(struct mar_pc *c, yajl_val o, struct mar_app *a,
                         const char *base, const char *id_override)
{
    struct mar_raw r;

    memset(&r, 0, sizeof(r));
    parse_id(c, o, a, base, id_override);
    parse_command(c, o, a);
    parse_resources(c, o, a);
    parse_scheduling(c, o, a);
    parse_upgrade(c, o, a, &r);
    parse_unreachable(c, o, a, &r);
    parse_version(c, o, a);
    parse_constraints(c, o, a);
    parse_passthrough(c, o, a);
    mar_parts_lists(c, o, a, base);
    mar_net_container(c, o, a, &r);
    mar_net_parse(c, o, a, &r);
    mar_parts_health(c, o, a);
    mar_parts_readiness(c, o, a);
    rules(c, a, &r);
}

/* Moves the failures that answer this parse into e: the shape's when
 * there are any (400), else the rules' (422). */
static void report(struct mar_pc *c, struct mar_errs *e)
{
    struct mar_errs *from = c->typ.n ? &c->typ : &c->sem;
    size_t i;

    for (i = 0; i < from->n; i++)
        mar_errs_add(e, from->v[i].path, "%s", from->v[i].message);
    e->json |= c->typ.n > 0;
    e->nomem |= c->typ.nomem || c->sem.nomem;
}

struct mar_app *mar_app_parse_opt(yajl_val v, const char *base,
                                  const char *id_override,
                                  const char *path_prefix, unsigned opts,
                                  struct mar_errs *e)
{
    struct mar_pc c;
    struct mar_app *a = calloc(1, sizeof(*a));
    int failed;

    memset(&c, 0, sizeof(c));
    c.prefix = path_prefix ? path_prefix : "";
    c.opts = opts;
    if (!a) {
        e->nomem = 1;
        return NULL;
    }
    if (!YAJL_IS_OBJECT(v))
        mar_pc_type(&c, "", NULL, MAR_E_OBJ);
    else
        parse_fields(&c, v, a, base ? base : "/", id_override);
    report(&c, e);
    failed = c.typ.n || c.sem.n || c.typ.nomem || c.sem.nomem;
    mar_errs_free(&c.typ);
    mar_errs_free(&c.sem);
    if (failed) {
        mar_app_free(a);
        return NULL;
    }
    return a;
}

struct mar_app *mar_app_parse(yajl_val v, const char *base,
                              const char *id_override, const char *path_prefix,
                              struct mar_errs *e)
{
    return mar_app_parse_opt(v, base, id_override, path_prefix, 0, e);
}

/* ---- merge ---- */

/* 1 when patch sets key (a member that is not null: null leaves the old
 * value, as Marathon's AppUpdate reads it). */
static int patch_sets(yajl_val patch, const char *key)
{
    return mar_pc_member(patch, key) != NULL;
}

/* Old members the patch replaces, directly or by a field they cannot
 * be combined with. */
static int replaced(yajl_val patch, const char *key)
{
    yajl_val ct = mar_pc_member(patch, "container");

    if (patch_sets(patch, key))
        return 1;
    if (strcmp(key, "ports") == 0 || strcmp(key, "portDefinitions") == 0)
        return patch_sets(patch, "ports") ||
               patch_sets(patch, "portDefinitions");
    if (strcmp(key, "uris") == 0 || strcmp(key, "fetch") == 0)
        return patch_sets(patch, "uris") || patch_sets(patch, "fetch");
    if (strcmp(key, "networks") == 0)
        return patch_sets(patch, "ipAddress") ||
               mar_pc_member(mar_pc_member(ct, "docker"), "network");
    return 0;
}

/* The patch's own members, but those that stay old's. */
static int patch_keeps_old(const char *key)
{
    return strcmp(key, "id") == 0 || strcmp(key, "version") == 0 ||
           strcmp(key, "versionInfo") == 0;
}

/* 1 for an old bridged app's (empty) port lists: left out, so that a
 * patch back to host networking gets the default port definition. */
static int bridge_ports(const struct mar_app *a, const char *key)
{
    return a->bridge &&
           (strcmp(key, "ports") == 0 || strcmp(key, "portDefinitions") == 0);
}

/* The merged object's text into w: old's members (from its written
 * form, ot) the patch does not replace, then the patch's. */
static void merge_write(struct agora_jw *w, const struct mar_app *a,
                        yajl_val ot, yajl_val patch)
{
    size_t i;
    const char *k;

    agora_jw_obj_open(w);
    for (i = 0; i < ot->u.object.len; i++) {
        k = ot->u.object.keys[i];
        if ((replaced(patch, k) && !patch_keeps_old(k)) || bridge_ports(a, k))
            continue;
        agora_jw_key(w, k);
        mar_json_write(w, ot->u.object.values[i]);
    }
    for (i = 0; i < patch->u.object.len; i++) {
        k = patch->u.object.keys[i];
        if (YAJL_IS_NULL(patch->u.object.values[i]) || patch_keeps_old(k) ||
            agora_json_get(patch, k) != patch->u.object.values[i])
            continue;
        agora_jw_key(w, k);
        mar_json_write(w, patch->u.object.values[i]);
    }
    agora_jw_obj_close(w);
}

/* A patch member deeper than the pass-through bound is refused before
 * it is copied. */
static int patch_too_deep(yajl_val patch, struct mar_errs *e)
{
    size_t i;
    int deep = 0;
    char *path;

    for (i = 0; i < patch->u.object.len; i++) {
        if (mar_json_depth_ok(patch->u.object.values[i], MAR_JSON_MAX_DEPTH))
            continue;
        path = mar_printf("/%s", patch->u.object.keys[i]);
        if (!path)
            e->nomem = 1;
        else
            mar_errs_add(e, path, "is nested too deeply (more than %d levels)",
                         MAR_JSON_MAX_DEPTH);
        free(path);
        deep = 1;
    }
    return deep;
}

/* Writes a and parses it back as a tree; NULL when out of memory. */
static yajl_val app_tree(struct agora_jw *w, const struct mar_app *a)
{
    const char *text;

    agora_jw_reset(w);
    mar_app_write(w, a);
    text = agora_jw_result(w, NULL);
    return text ? agora_json_parse(text, NULL, 0) : NULL;
}

struct mar_app *mar_app_merge(const struct mar_app *old, yajl_val patch,
                              struct mar_errs *e)
{
    struct agora_jw *w;
    yajl_val ot, mt = NULL;
    struct mar_app *a = NULL;
    unsigned opts = 0;
    const char *text;

    if (!YAJL_IS_OBJECT(patch)) {
        mar_errs_add(e, "/", "%s", MAR_E_OBJ);
        e->json = 1;
        return NULL;
    }
    if (patch_too_deep(patch, e))
        return NULL;
    w = agora_jw_new();
    ot = w ? app_tree(w, old) : NULL;
    if (ot) {
        agora_jw_reset(w);
        merge_write(w, old, ot, patch);
        text = agora_jw_result(w, NULL);
        mt = text ? agora_json_parse(text, NULL, 0) : NULL;
    }
    if (!patch_sets(patch, "ports") && !patch_sets(patch, "portDefinitions"))
        opts |= MAR_PARSE_OLD_PORTS;
    if (!patch_sets(patch, "container"))
        opts |= MAR_PARSE_OLD_CONTAINER;
    if (mt)
        a = mar_app_parse_opt(mt, "/", old->id, "", opts, e);
    else
        e->nomem = 1;
    yajl_tree_free(mt);
    yajl_tree_free(ot);
    agora_jw_free(w);
    return a;
}

/* ---- comparisons and counts ---- */

int mar_app_is_upgrade(const struct mar_app *a, const struct mar_app *b)
{
    struct agora_jw *wa = agora_jw_new(), *wb = agora_jw_new();
    const char *ta, *tb;
    size_t la, lb;
    int up = 1; /* when in doubt (out of memory), replace the tasks */

    if (wa && wb) {
        agora_jw_obj_open(wa);
        mar_app_write_members(wa, a, 1);
        agora_jw_obj_close(wa);
        agora_jw_obj_open(wb);
        mar_app_write_members(wb, b, 1);
        agora_jw_obj_close(wb);
        ta = agora_jw_result(wa, &la);
        tb = agora_jw_result(wb, &lb);
        if (ta && tb)
            up = la != lb || memcmp(ta, tb, la) != 0;
    }
    agora_jw_free(wa);
    agora_jw_free(wb);
    return up;
}

size_t mar_app_host_ports(const struct mar_app *a)
{
    size_t i, n = 0;

    if (!a->bridge)
        return a->nport_defs;
    for (i = 0; i < a->nport_mappings; i++)
        n += a->port_mappings[i].host_port >= 0;
    return n;
}
