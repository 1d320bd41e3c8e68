/*
 * mar_task_container.c - one task's `container` with its concrete host
 * ports, and Marathon's port variables (mar_task_container.h).
 *
 * The app keeps its container as normalised JSON text without the port
 * mappings (mar_app_net.c); they live in the struct. A task's container
 * puts them back, at the container's top level (Marathon 1.5+; the agent
 * reads them there or under docker), each hostPort the port the task
 * took from its offer, and says the network in docker.network, which the
 * agent reads (docs/containers.md §1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>

#include "mar_app_int.h"
#include "mar_task_container.h"

/* "HOST", "BRIDGE" or "USER" from the app's `networks`. */
static const char *network_name(const struct mar_app *d)
{
    const char *name = d->bridge ? "BRIDGE" : "HOST", *mode;
    yajl_val v;
    size_t i;

    if (d->networks_json == NULL ||
        (v = agora_json_parse(d->networks_json, NULL, 0)) == NULL)
        return name;
    for (i = 0; YAJL_IS_ARRAY(v) && i < v->u.array.len; i++) {
        mode = agora_json_get_str(v->u.array.values[i], "mode");
        if (mode != NULL && strcmp(mode, "container/bridge") == 0)
            name = "BRIDGE";
        else if (mode != NULL && strcmp(mode, "container") == 0)
            name = "USER";
    }
    yajl_tree_free(v);
    return name;
}

/* The host port of mapping j, or -1 when it has none. */
static int64_t mapping_host_port(const struct mar_app *d, size_t j,
                                 const uint32_t *ports)
{
    size_t k, i = 0;

    if (d->port_mappings[j].host_port < 0)
        return -1;
    for (k = 0; k < j; k++)
        i += d->port_mappings[k].host_port >= 0;
    return ports[i];
}

/* containerPort 0 means "the same as the host port" (Marathon). */
static int64_t mapping_container_port(const struct mar_app *d, size_t j,
                                      int64_t host)
{
    int cp = d->port_mappings[j].container_port;

    return cp == 0 && host > 0 ? host : cp;
}

static void write_mappings(struct agora_jw *w, const struct mar_app *d,
                           const uint32_t *ports)
{
    const struct mar_port_mapping *p;
    int64_t host;
    size_t j, k;

    agora_jw_key(w, "portMappings");
    agora_jw_arr_open(w);
    for (j = 0; j < d->nport_mappings; j++) {
        p = &d->port_mappings[j];
        host = mapping_host_port(d, j, ports);
        agora_jw_obj_open(w);
        agora_jw_kint(w, "containerPort",
                      mapping_container_port(d, j, host));
        if (host >= 0)
            agora_jw_kint(w, "hostPort", host);
        agora_jw_kint(w, "servicePort", p->service_port);
        agora_jw_kstr(w, "protocol", p->protocol ? p->protocol : "tcp");
        if (p->name)
            agora_jw_kstr(w, "name", p->name);
        if (p->nlabels > 0) {
            agora_jw_key(w, "labels");
            agora_jw_obj_open(w);
            for (k = 0; k < p->nlabels; k++)
                agora_jw_kstr(w, p->labels[k].key, p->labels[k].value);
            agora_jw_obj_close(w);
        }
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

/* The docker object as kept, with `network` and without the legacy
 * portMappings (they are at the top level). */
static void write_docker(struct agora_jw *w, yajl_val docker,
                         const char *network)
{
    size_t i;
    const char *k;

    agora_jw_obj_open(w);
    for (i = 0; i < docker->u.object.len; i++) {
        k = docker->u.object.keys[i];
        if (strcmp(k, "network") == 0 || strcmp(k, "portMappings") == 0)
            continue;
        agora_jw_key(w, k);
        mar_json_write(w, docker->u.object.values[i]);
    }
    agora_jw_kstr(w, "network", network);
    agora_jw_obj_close(w);
}

static char *container_json(const struct mar_app *d, const uint32_t *ports)
{
    const char *network = network_name(d), *k, *res;
    struct agora_jw *w;
    char *out = NULL;
    yajl_val ct, v;
    size_t i;

    ct = agora_json_parse(d->container_json, NULL, 0);
    if (!YAJL_IS_OBJECT(ct)) {
        /* Written by mar_app_net.c: only memory can make it unreadable. */
        yajl_tree_free(ct);
        return NULL;
    }
    w = agora_jw_new();
    if (w == NULL) {
        yajl_tree_free(ct);
        return NULL;
    }
    agora_jw_obj_open(w);
    for (i = 0; i < ct->u.object.len; i++) {
        k = ct->u.object.keys[i];
        v = ct->u.object.values[i];
        if (strcmp(k, "portMappings") == 0)
            continue;
        agora_jw_key(w, k);
        if (strcmp(k, "docker") == 0 && YAJL_IS_OBJECT(v))
            write_docker(w, v, network);
        else
            mar_json_write(w, v);
    }
    if (d->nport_mappings > 0)
        write_mappings(w, d, ports);
    agora_jw_obj_close(w);
    res = agora_jw_result(w, NULL);
    if (res != NULL)
        out = strdup(res);
    agora_jw_free(w);
    yajl_tree_free(ct);
    return out;
}

/* Adds "PORT_<suffix>" = port, the suffix upper-cased with '-' as '_'
 * (Marathon's names are [a-z0-9-]). 0 or AGORA_ENOMEM. */
static int env_port(struct mar_task_ctr *o, const char *suffix,
                    uint32_t port)
{
    char *key, *val, *p;
    size_t len = strlen(suffix) + 6;

    key = malloc(len);
    val = malloc(12);
    if (key == NULL || val == NULL) {
        free(key);
        free(val);
        return AGORA_ENOMEM;
    }
    snprintf(key, len, "PORT_%s", suffix);
    for (p = key + 5; *p; p++) {
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
        else if (*p == '-')
            *p = '_';
    }
    snprintf(val, 12, "%u", port);
    o->env[o->nenv].key = key;
    o->env[o->nenv].value = val;
    o->nenv++;
    return 0;
}

static int env_build(const struct mar_app *d, const uint32_t *ports,
                     struct mar_task_ctr *o)
{
    char num[24];
    int64_t host, cp;
    size_t j, n = d->bridge ? d->nport_mappings : d->nport_defs;

    if (n == 0)
        return 0;
    o->env = calloc(2 * n, sizeof(*o->env));
    if (o->env == NULL)
        return AGORA_ENOMEM;
    for (j = 0; j < n; j++) {
        if (d->bridge) {
            host = mapping_host_port(d, j, ports);
            if (host < 0)
                continue;
            cp = mapping_container_port(d, j, host);
            snprintf(num, sizeof(num), "%lld", (long long)cp);
            if ((cp > 0 && env_port(o, num, (uint32_t)host) != 0) ||
                (d->port_mappings[j].name &&
                 env_port(o, d->port_mappings[j].name, (uint32_t)host) != 0))
                return AGORA_ENOMEM;
        } else if (d->port_defs[j].port > 0) {
            /* Names of port definitions are env_build's (mar_sched.c). */
            snprintf(num, sizeof(num), "%d", d->port_defs[j].port);
            if (env_port(o, num, ports[j]) != 0)
                return AGORA_ENOMEM;
        }
    }
    return 0;
}

int mar_task_container(const struct mar_app *d, const uint32_t *ports,
                       size_t n, struct mar_task_ctr *out)
{
    memset(out, 0, sizeof(*out));
    if (n < mar_app_host_ports(d))
        return AGORA_EINVAL;
    if (d->container_json != NULL &&
        (out->json = container_json(d, ports)) == NULL)
        return AGORA_ENOMEM;
    if (env_build(d, ports, out) != 0) {
        mar_task_container_free(out);
        return AGORA_ENOMEM;
    }
    return 0;
}

void mar_task_container_free(struct mar_task_ctr *out)
{
    size_t i;

    for (i = 0; i < out->nenv; i++) {
        free((char *)out->env[i].key);
        free((char *)out->env[i].value);
    }
    free(out->env);
    free(out->json);
    memset(out, 0, sizeof(*out));
}
