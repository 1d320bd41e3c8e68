/*
 * mar_app_parts.c - the lists and sub-objects of an app definition:
 * env, labels, roles, dependencies, fetch (and the deprecated uris),
 * health checks (marathon-api.md §2.4) and readiness checks (§2.5),
 * with their defaults and Marathon's rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mar_app_int.h"

#define HC_PORT_MSG                                                            \
    "Health check port indices must address an element of the ports array "    \
    "or container port mappings."
#define HC_IPV6_MSG                                                            \
    "IPv6 can only be used for container type DOCKER and Mesos "               \
    "http/https/tcp health checks"

/* ---- lists ---- */

static void strv_free(char **v, size_t n)
{
    size_t i;

    for (i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

int mar_parts_strv(struct mar_pc *c, yajl_val v, const char *key, char ***out,
                   size_t *n)
{
    char at[64];
    const char *s;
    size_t i, len;
    int r = mar_pc_arr(c, v, "", key);

    if (r <= 0)
        return r;
    len = v->u.array.len;
    /* NULL-terminated too: the list is a launch's argv (agora_task_spec). */
    *out = calloc(len + 1, sizeof(**out));
    if (!*out) {
        mar_pc_nomem(c);
        return -1;
    }
    *n = len;
    for (i = 0; i < len; i++) {
        mar_pc_elem(at, sizeof(at), "", key, i);
        s = NULL;
        if (!v->u.array.values[i] || YAJL_IS_NULL(v->u.array.values[i]))
            mar_pc_type(c, at, NULL, MAR_E_STR);
        else if (mar_pc_str(c, v->u.array.values[i], at, NULL, &s) > 0 &&
                 !((*out)[i] = mar_strdup(s)))
            mar_pc_nomem(c);
    }
    return 1;
}

/* env: strings, or {"secret": name} references to `secrets`; with a
 * reference, the whole env is kept as text (env_json). */
static void parse_env(struct mar_pc *c, yajl_val app, struct mar_app *a)
{
    yajl_val env = mar_pc_member(app, "env"), v;
    struct mar_kv *kv;
    size_t i, n;
    int secret = 0;

    if (mar_pc_obj(c, env, "", "env") <= 0 || env->u.object.len == 0)
        return;
    n = env->u.object.len;
    a->env = calloc(n, sizeof(*a->env));
    if (!a->env) {
        mar_pc_nomem(c);
        return;
    }
    for (i = 0; i < n; i++) {
        v = env->u.object.values[i];
        if (YAJL_IS_OBJECT(v) && YAJL_IS_STRING(agora_json_get(v, "secret"))) {
            secret = 1;
            continue;
        }
        if (!YAJL_IS_STRING(v)) {
            mar_pc_type(c, "/env", env->u.object.keys[i], MAR_E_STR);
            continue;
        }
        kv = &a->env[a->nenv++];
        kv->key = mar_strdup(env->u.object.keys[i]);
        kv->value = mar_strdup(YAJL_GET_STRING(v));
        if (!kv->key || !kv->value)
            mar_pc_nomem(c);
    }
    if (secret)
        mar_pc_text(c, env, "", "env", &a->env_json);
}

/* Dependencies resolve against the group as the id does. */
static void parse_dependencies(struct mar_pc *c, yajl_val app,
                               struct mar_app *a, const char *base)
{
    const char *why;
    char at[64], *id;
    size_t i;

    if (mar_parts_strv(c, mar_pc_member(app, "dependencies"), "dependencies",
                       &a->dependencies, &a->ndependencies) <= 0)
        return;
    for (i = 0; i < a->ndependencies; i++) {
        if (!a->dependencies[i])
            continue;
        mar_pc_elem(at, sizeof(at), "", "dependencies", i);
        id = mar_id_resolve(base, a->dependencies[i], &why);
        if (!id) {
            mar_pc_fail(c, at, NULL, "%s", why ? why : "invalid");
            continue;
        }
        free(a->dependencies[i]);
        a->dependencies[i] = id;
        if (!mar_id_valid(id, &why))
            mar_pc_fail(c, at, NULL, "%s", why);
    }
}

/* Mesos' fetcher extracts these (FetchUri.isExtract). */
static int uri_extracts(const char *uri)
{
    static const char *const ext[] = {".tgz", ".tar.gz", ".tbz2", ".tar.bz2",
                                      ".txz", ".tar.xz", ".zip"};
    size_t i, n = strlen(uri), e;

    for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
        e = strlen(ext[i]);
        if (n >= e && strcmp(uri + n - e, ext[i]) == 0)
            return 1;
    }
    return 0;
}

/* One element of fetch. */
static void parse_artifact(struct mar_pc *c, yajl_val o, const char *at,
                           struct mar_fetch *f)
{
    const char *uri = NULL, *dest = NULL;

    f->extract = 1;
    if (mar_pc_obj(c, o, at, NULL) <= 0) {
        if (!o)
            mar_pc_type(c, at, NULL, MAR_E_OBJ);
        return;
    }
    if (mar_pc_str(c, mar_pc_member(o, "uri"), at, "uri", &uri) == 0)
        mar_pc_type(c, at, "uri", MAR_E_MISSING);
    mar_pc_bool(c, mar_pc_member(o, "extract"), at, "extract", &f->extract);
    mar_pc_bool(c, mar_pc_member(o, "executable"), at, "executable",
                &f->executable);
    mar_pc_bool(c, mar_pc_member(o, "cache"), at, "cache", &f->cache);
    if (mar_pc_str(c, mar_pc_member(o, "destPath"), at, "destPath", &dest) == 0)
        mar_pc_str(c, mar_pc_member(o, "outputFile"), at, "outputFile", &dest);
    f->uri = mar_strdup(uri ? uri : "");
    f->dest_path = mar_strdup(dest);
    if (!f->uri || (dest && !f->dest_path))
        mar_pc_nomem(c);
}

/* fetch, or the deprecated uris turned into fetch entries
 * (AppNormalization.Artifacts). */
static void parse_fetch(struct mar_pc *c, yajl_val app, struct mar_app *a)
{
    yajl_val fetch = mar_pc_member(app, "fetch");
    char **uris = NULL, at[64];
    size_t i, nuris = 0;

    if (mar_pc_arr(c, fetch, "", "fetch") <= 0)
        fetch = NULL;
    mar_parts_strv(c, mar_pc_member(app, "uris"), "uris", &uris, &nuris);
    if (nuris && fetch && fetch->u.array.len)
        mar_pc_fail(c, "", "uris", "may not be set in conjunction with fetch");
    a->nfetch = fetch && fetch->u.array.len ? fetch->u.array.len : nuris;
    if (a->nfetch && !(a->fetch = calloc(a->nfetch, sizeof(*a->fetch)))) {
        a->nfetch = 0;
        mar_pc_nomem(c);
    }
    for (i = 0; i < a->nfetch; i++) {
        if (fetch && fetch->u.array.len) {
            mar_pc_elem(at, sizeof(at), "", "fetch", i);
            parse_artifact(c, fetch->u.array.values[i], at, &a->fetch[i]);
            continue;
        }
        a->fetch[i].uri = uris[i];
        uris[i] = NULL;
        a->fetch[i].extract = a->fetch[i].uri && uri_extracts(a->fetch[i].uri);
    }
    strv_free(uris, nuris);
}

void mar_parts_lists(struct mar_pc *c, yajl_val app, struct mar_app *a,
                     const char *base)
{
    yajl_val v = mar_pc_member(app, "storeUrls");
    char **urls = NULL;
    size_t nurls = 0;

    parse_env(c, app, a);
    mar_pc_kv(c, mar_pc_member(app, "labels"), "", "labels", &a->labels,
              &a->nlabels);
    mar_parts_strv(c, mar_pc_member(app, "acceptedResourceRoles"),
                   "acceptedResourceRoles", &a->accepted_roles,
                   &a->naccepted_roles);
    parse_dependencies(c, app, a, base);
    /* Kept as text; read as strings only to check their type. */
    if (mar_parts_strv(c, v, "storeUrls", &urls, &nurls) > 0)
        mar_pc_text(c, v, "", "storeUrls", &a->store_urls_json);
    strv_free(urls, nurls);
    parse_fetch(c, app, a);
}

/* ---- health checks ---- */

static int hc_is_http(enum mar_hc_protocol p)
{
    return p == MAR_HC_HTTP || p == MAR_HC_HTTPS || p == MAR_HC_MESOS_HTTP ||
           p == MAR_HC_MESOS_HTTPS;
}

/* protocol, defaulting to COMMAND when a command is given, else HTTP. */
static void hc_protocol(struct mar_pc *c, yajl_val o, const char *at,
                        struct mar_health_check *h)
{
    const char *p = NULL;
    size_t i;

    if (mar_pc_str(c, mar_pc_member(o, "protocol"), at, "protocol", &p) <= 0) {
        h->protocol = h->command ? MAR_HC_COMMAND : MAR_HC_HTTP;
        return;
    }
    for (i = 0; i < sizeof(mar_hc_names) / sizeof(mar_hc_names[0]); i++) {
        if (strcmp(p, mar_hc_names[i]) == 0) {
            h->protocol = (enum mar_hc_protocol)i;
            return;
        }
    }
    mar_pc_type(c, at, "protocol", MAR_E_ENUM);
}

/* command.value, path and ipProtocol */
static void hc_strings(struct mar_pc *c, yajl_val o, const char *at,
                       struct mar_health_check *h)
{
    yajl_val cmd = mar_pc_member(o, "command");
    const char *v = NULL, *path = "/", *ip = "IPv4";
    char cat[96];

    if (mar_pc_obj(c, cmd, at, "command") > 0) {
        snprintf(cat, sizeof(cat), "%s/command", at);
        if (mar_pc_str(c, mar_pc_member(cmd, "value"), cat, "value", &v) == 0)
            mar_pc_type(c, cat, "value", MAR_E_MISSING);
        if (v && !(h->command = mar_strdup(v)))
            mar_pc_nomem(c);
    }
    hc_protocol(c, o, at, h);
    mar_pc_str(c, mar_pc_member(o, "path"), at, "path", &path);
    if (hc_is_http(h->protocol) && !(h->path = mar_strdup(path)))
        mar_pc_nomem(c);
    if (mar_pc_str(c, mar_pc_member(o, "ipProtocol"), at, "ipProtocol", &ip) >
            0 &&
        strcmp(ip, "IPv4") != 0 && strcmp(ip, "IPv6") != 0)
        mar_pc_type(c, at, "ipProtocol", MAR_E_ENUM);
    if (!(h->ip_protocol = mar_strdup(ip)))
        mar_pc_nomem(c);
    if (h->protocol == MAR_HC_COMMAND && !h->command)
        mar_pc_fail(c, at, "command",
                    "A command is required when using the "
                    "COMMAND protocol");
}

/* A non-negative number of seconds at key. */
static void hc_seconds(struct mar_pc *c, yajl_val o, const char *at,
                       const char *key, double *out)
{
    if (mar_pc_num(c, mar_pc_member(o, key), at, key, out) > 0 && *out < 0)
        mar_pc_fail(c, at, key, "got %.0f, expected 0 or more", *out);
}

/* One health check, defaults of §2.4; portIndex is -2 until the ports
 * are known (mar_parts_health_rules). */
static void parse_hc(struct mar_pc *c, yajl_val o, const char *at,
                     struct mar_health_check *h)
{
    h->grace_period = 300;
    h->interval = 60;
    h->timeout = 20;
    h->max_consecutive_failures = 3;
    h->delay = 15;
    h->port_index = -2;
    if (mar_pc_obj(c, o, at, NULL) <= 0)
        return;
    hc_strings(c, o, at, h);
    if (mar_pc_int(c, mar_pc_member(o, "portIndex"), at, "portIndex",
                   &h->port_index) > 0 &&
        h->port_index < 0)
        mar_pc_fail(c, at, "portIndex", "got %d, expected 0 or more",
                    h->port_index);
    if (mar_pc_int(c, mar_pc_member(o, "port"), at, "port", &h->port) > 0 &&
        (h->port < 0 || h->port > 65535))
        mar_pc_fail(c, at, "port", "got %d, expected between 0 and 65535",
                    h->port);
    hc_seconds(c, o, at, "gracePeriodSeconds", &h->grace_period);
    hc_seconds(c, o, at, "intervalSeconds", &h->interval);
    hc_seconds(c, o, at, "timeoutSeconds", &h->timeout);
    hc_seconds(c, o, at, "delaySeconds", &h->delay);
    if (mar_pc_int(c, mar_pc_member(o, "maxConsecutiveFailures"), at,
                   "maxConsecutiveFailures",
                   &h->max_consecutive_failures) > 0 &&
        h->max_consecutive_failures < 0)
        mar_pc_fail(c, at, "maxConsecutiveFailures",
                    "got %d, expected 0 or more", h->max_consecutive_failures);
    mar_pc_bool(c, mar_pc_member(o, "ignoreHttp1xx"), at, "ignoreHttp1xx",
                &h->ignore_http1xx);
}

void mar_parts_health(struct mar_pc *c, yajl_val app, struct mar_app *a)
{
    yajl_val hcs = mar_pc_member(app, "healthChecks");
    char at[64];
    size_t i, n;

    if (mar_pc_arr(c, hcs, "", "healthChecks") <= 0 || hcs->u.array.len == 0)
        return;
    n = hcs->u.array.len;
    a->health_checks = calloc(n, sizeof(*a->health_checks));
    if (!a->health_checks) {
        mar_pc_nomem(c);
        return;
    }
    a->nhealth_checks = n;
    for (i = 0; i < n; i++) {
        mar_pc_elem(at, sizeof(at), "", "healthChecks", i);
        parse_hc(c, hcs->u.array.values[i], at, &a->health_checks[i]);
    }
}

/*
 * AppValidation.portIndexIsValid for the checks Marathon runs itself
 * (HTTP, HTTPS, TCP): an explicit portIndex must address a port; none
 * is 0 when there are ports (AppNormalization's default) unless `port`
 * is given. Mesos-level checks are not held to it.
 */
static void hc_port(struct mar_pc *c, struct mar_health_check *h,
                    const char *at, size_t nports)
{
    int marathon = h->protocol <= MAR_HC_TCP;
    int given = h->port_index != -2;

    if (h->protocol == MAR_HC_COMMAND) {
        h->port_index = -1;
        return;
    }
    if (marathon &&
        (given ? (size_t)h->port_index >= nports : h->port == 0 && nports == 0))
        mar_pc_fail(c, at, NULL, HC_PORT_MSG);
    if (h->port > 0)
        h->port_index = -1;
    else if (!given)
        h->port_index = nports > 0 ? 0 : -1;
}

void mar_parts_health_rules(struct mar_pc *c, struct mar_app *a,
                            int docker_type)
{
    struct mar_health_check *h;
    size_t i, nports = mar_net_nports(a), nmesos = 0;
    char at[64];

    for (i = 0; i < a->nhealth_checks; i++) {
        h = &a->health_checks[i];
        mar_pc_elem(at, sizeof(at), "", "healthChecks", i);
        hc_port(c, h, at, nports);
        /* COMMAND checks do not count: Marathon once let apps have
         * several and keeps them valid. */
        nmesos += h->protocol >= MAR_HC_MESOS_HTTP;
        if (h->ip_protocol && strcmp(h->ip_protocol, "IPv6") == 0 &&
            !(h->protocol >= MAR_HC_MESOS_HTTP && docker_type))
            mar_pc_fail(c, at, NULL, HC_IPV6_MSG);
    }
    if (nmesos > 1)
        mar_pc_fail(c, "", NULL,
                    "AppDefinition can contain at most one Mesos health check");
}

/* ---- readiness checks ---- */

/* 1 when name names a port: a mapping's when there are mappings, else
 * a definition's. */
static int port_named(const struct mar_app *a, const char *name)
{
    size_t i;

    for (i = 0; i < a->nport_mappings; i++) {
        if (a->port_mappings[i].name &&
            strcmp(a->port_mappings[i].name, name) == 0)
            return 1;
    }
    for (i = 0; !a->nport_mappings && i < a->nport_defs; i++) {
        if (a->port_defs[i].name && strcmp(a->port_defs[i].name, name) == 0)
            return 1;
    }
    return 0;
}

/* One readiness check's rules, with the defaults of §2.5. */
static void readiness_rules(struct mar_pc *c, yajl_val o, const char *at,
                            const struct mar_app *a)
{
    const char *port = "http-api", *proto = "HTTP";
    int interval = 30, timeout = 10;

    if (mar_pc_obj(c, o, at, NULL) <= 0)
        return;
    mar_pc_str(c, mar_pc_member(o, "protocol"), at, "protocol", &proto);
    /* The checks are sent by the master, whose HTTP client has no TLS:
     * an HTTPS check could never pass, and its deployment would wait
     * forever. */
    if (strcmp(proto, "HTTPS") == 0)
        mar_pc_fail(c, at, "protocol", "HTTPS readiness checks are not "
                    "supported: agora-master's HTTP client has no TLS");
    else if (strcmp(proto, "HTTP") != 0)
        mar_pc_type(c, at, "protocol", MAR_E_ENUM);
    mar_pc_str(c, mar_pc_member(o, "portName"), at, "portName", &port);
    mar_pc_int(c, mar_pc_member(o, "intervalSeconds"), at, "intervalSeconds",
               &interval);
    mar_pc_int(c, mar_pc_member(o, "timeoutSeconds"), at, "timeoutSeconds",
               &timeout);
    if (!port_named(a, port))
        mar_pc_fail(c, at, "portName",
                    "No port definition reference for portName %s", port);
    if (timeout >= interval)
        mar_pc_fail(c, at, "timeoutSeconds", "got %d, expected less than %d",
                    timeout, interval);
}

/* Kept as text; checked against the ports, so read after them. */
void mar_parts_readiness(struct mar_pc *c, yajl_val app, struct mar_app *a)
{
    yajl_val rc = mar_pc_member(app, "readinessChecks");
    char at[64];
    size_t i;

    if (mar_pc_arr(c, rc, "", "readinessChecks") <= 0)
        return;
    if (rc->u.array.len > 1)
        mar_pc_fail(c, "", "readinessChecks", "got %zu, expected 1 or less",
                    rc->u.array.len);
    for (i = 0; i < rc->u.array.len; i++) {
        mar_pc_elem(at, sizeof(at), "", "readinessChecks", i);
        readiness_rules(c, rc->u.array.values[i], at, a);
    }
    mar_pc_text(c, rc, "", "readinessChecks", &a->readiness_checks_json);
}
