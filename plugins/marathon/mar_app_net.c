/*
 * mar_app_net.c - the networking of an app: container, networks, the
 * deprecated ipAddress and container.docker.network, ports,
 * portDefinitions and port mappings, normalised as Marathon 1.8 does
 * (AppNormalization.scala) and validated with its messages
 * (AppValidation.scala, NetworkValidation.scala).
 *
 * The container is kept as JSON text without its port mappings (and
 * without the deprecated docker.network and docker.portMappings); the
 * mappings live in the struct, where the scheduler assigns service
 * ports, and the writer puts them back as container.portMappings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mar_app_int.h"

#define PORT_NAME_RE "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
#define MESOS_BRIDGE_NAME "mesos-bridge"

/* ---- the container ---- */

/* 1 when one of the volumes asks for a persistent (local) volume. */
static int has_persistent_volume(yajl_val volumes)
{
    size_t i;

    if (!YAJL_IS_ARRAY(volumes))
        return 0;
    for (i = 0; i < volumes->u.array.len; i++) {
        if (YAJL_IS_OBJECT(
                agora_json_get(volumes->u.array.values[i], "persistent")))
            return 1;
    }
    return 0;
}

/* The docker object's members but the deprecated ones, then the
 * defaults Marathon writes for the Docker containerizer. */
static void write_docker(struct agora_jw *w, yajl_val d, int docker_type)
{
    size_t i;
    const char *k;

    agora_jw_obj_open(w);
    for (i = 0; i < d->u.object.len; i++) {
        k = d->u.object.keys[i];
        if (strcmp(k, "portMappings") == 0 || strcmp(k, "network") == 0 ||
            YAJL_IS_NULL(d->u.object.values[i]))
            continue;
        agora_jw_key(w, k);
        mar_json_write(w, d->u.object.values[i]);
    }
    if (docker_type && !mar_pc_member(d, "forcePullImage"))
        agora_jw_kbool(w, "forcePullImage", 0);
    if (docker_type && !mar_pc_member(d, "privileged"))
        agora_jw_kbool(w, "privileged", 0);
    if (docker_type && !mar_pc_member(d, "parameters")) {
        agora_jw_key(w, "parameters");
        agora_jw_arr_open(w);
        agora_jw_arr_close(w);
    }
    agora_jw_obj_close(w);
}

/* The container as kept: as given, less the port mappings and null
 * members (absent ones, for Marathon and for clients that check enum
 * values), with the defaults of type and volumes. */
static void container_text(struct mar_pc *c, yajl_val ct, struct mar_app *a,
                           int docker_type)
{
    struct agora_jw *w;
    const char *k, *res;
    size_t i;

    if (!mar_json_depth_ok(ct, MAR_JSON_MAX_DEPTH)) {
        mar_pc_fail(c, "", "container",
                    "is nested too deeply (more than %d levels)",
                    MAR_JSON_MAX_DEPTH);
        return;
    }
    w = agora_jw_new();
    if (!w) {
        mar_pc_nomem(c);
        return;
    }
    agora_jw_obj_open(w);
    for (i = 0; i < ct->u.object.len; i++) {
        k = ct->u.object.keys[i];
        if (strcmp(k, "portMappings") == 0 ||
            YAJL_IS_NULL(ct->u.object.values[i]))
            continue;
        agora_jw_key(w, k);
        if (strcmp(k, "docker") == 0 && YAJL_IS_OBJECT(ct->u.object.values[i]))
            write_docker(w, ct->u.object.values[i], docker_type);
        else
            mar_json_write(w, ct->u.object.values[i]);
    }
    if (!mar_pc_member(ct, "type"))
        agora_jw_kstr(w, "type", "DOCKER");
    if (!mar_pc_member(ct, "volumes")) {
        agora_jw_key(w, "volumes");
        agora_jw_arr_open(w);
        agora_jw_arr_close(w);
    }
    agora_jw_obj_close(w);
    res = agora_jw_result(w, NULL);
    a->container_json = mar_strdup(res);
    if (!a->container_json)
        mar_pc_nomem(c);
    agora_jw_free(w);
}

/* container.type, and whether the container names an image the way the
 * cmd/args rule wants (AppValidation.containsCmdArgsOrContainer). */
static void container_type(struct mar_pc *c, yajl_val ct, struct mar_raw *r)
{
    const char *type = "DOCKER";
    int has_docker = YAJL_IS_OBJECT(mar_pc_member(ct, "docker"));
    int has_appc = YAJL_IS_OBJECT(mar_pc_member(ct, "appc"));

    if (mar_pc_str(c, mar_pc_member(ct, "type"), "/container", "type", &type) <
        0)
        return;
    if (strcmp(type, "DOCKER") == 0) {
        r->docker_type = 1;
        r->container_image = has_docker && !has_appc;
        if (!has_docker)
            mar_pc_fail(c, "/container", "docker", "must not be empty");
    } else if (strcmp(type, "MESOS") == 0) {
        r->container_image = has_docker != has_appc;
    } else {
        mar_pc_type(c, "/container", "type", MAR_E_ENUM);
    }
}

/* container.docker: the image, the deprecated network and mappings. */
static void container_docker(struct mar_pc *c, yajl_val d, struct mar_app *a,
                             struct mar_raw *r)
{
    const char *image = NULL, *net = NULL;

    if (mar_pc_obj(c, d, "/container", "docker") <= 0)
        return;
    if (mar_pc_str(c, mar_pc_member(d, "image"), "/container/docker", "image",
                   &image) > 0) {
        if (!*image)
            mar_pc_fail(c, "/container/docker", "image", "must not be empty");
        a->docker_image = mar_strdup(image);
        if (!a->docker_image)
            mar_pc_nomem(c);
    } else if (r->docker_type) {
        mar_pc_type(c, "/container/docker", "image", MAR_E_MISSING);
    }
    if (mar_pc_str(c, mar_pc_member(d, "network"), "/container/docker",
                   "network", &net) > 0) {
        if (strcmp(net, "HOST") && strcmp(net, "BRIDGE") &&
            strcmp(net, "USER") && strcmp(net, "NONE"))
            mar_pc_type(c, "/container/docker", "network", MAR_E_ENUM);
        else
            r->docker_network = net;
    }
    r->docker_pmaps = mar_pc_member(d, "portMappings");
    if (mar_pc_arr(c, r->docker_pmaps, "/container/docker", "portMappings") < 0)
        r->docker_pmaps = NULL;
}

void mar_net_container(struct mar_pc *c, yajl_val app, struct mar_app *a,
                       struct mar_raw *r)
{
    yajl_val ct = mar_pc_member(app, "container");

    if (mar_pc_obj(c, ct, "", "container") <= 0)
        return;
    container_type(c, ct, r);
    container_docker(c, mar_pc_member(ct, "docker"), a, r);
    r->pmaps = mar_pc_member(ct, "portMappings");
    if (mar_pc_arr(c, r->pmaps, "/container", "portMappings") < 0)
        r->pmaps = NULL;
    if (mar_pc_arr(c, mar_pc_member(ct, "volumes"), "/container", "volumes") >
        0)
        r->resident = has_persistent_volume(mar_pc_member(ct, "volumes"));
    container_text(c, ct, a, r->docker_type);
}

/* ---- networks ---- */

/* One element of `networks`: its mode, checked. */
static int network_mode(struct mar_pc *c, yajl_val n, const char *at,
                        enum mar_netmode *mode)
{
    const char *m = NULL, *name = NULL;

    if (mar_pc_obj(c, n, at, NULL) <= 0)
        return -1;
    if (mar_pc_str(c, mar_pc_member(n, "mode"), at, "mode", &m) == 0)
        m = "container";
    if (mar_pc_str(c, mar_pc_member(n, "name"), at, "name", &name) < 0 ||
        mar_pc_obj(c, mar_pc_member(n, "labels"), at, "labels") < 0 || !m)
        return -1;
    if (strcmp(m, "host") == 0)
        *mode = MAR_NET_HOST;
    else if (strcmp(m, "container/bridge") == 0)
        *mode = MAR_NET_BRIDGE;
    else if (strcmp(m, "container") == 0)
        *mode = MAR_NET_CONTAINER;
    else {
        mar_pc_type(c, at, "mode", MAR_E_ENUM);
        return -1;
    }
    return 0;
}

/* 1 when name (NULL for none) names an earlier container network of
 * nets too: "Duplicate networks are not allowed". */
static int network_dup(yajl_val nets, size_t i)
{
    const char *name = agora_json_get_str(nets->u.array.values[i], "name");
    const char *other;
    size_t j;

    if (!name)
        return 0;
    for (j = 0; j < i; j++) {
        other = agora_json_get_str(nets->u.array.values[j], "name");
        if (other && strcmp(other, name) == 0)
            return 1;
    }
    return 0;
}

/* NetworkValidation.ramlNetworksValidator, on the modes found. */
static void networks_rules(struct mar_pc *c, const int *count, int named_host,
                           int named_bridge, int dup)
{
    if (named_host)
        mar_pc_fail(c, "", "networks",
                    "Host networks may not have names or labels");
    if (named_bridge)
        mar_pc_fail(c, "", "networks", "Bridge networks may not have names");
    if (dup)
        mar_pc_fail(c, "", "networks", "Duplicate networks are not allowed");
    if (!((count[MAR_NET_HOST] <= 1 && !count[MAR_NET_BRIDGE] &&
           !count[MAR_NET_CONTAINER]) ||
          (!count[MAR_NET_HOST] && count[MAR_NET_BRIDGE] <= 1 &&
           !count[MAR_NET_CONTAINER]) ||
          (!count[MAR_NET_HOST] && !count[MAR_NET_BRIDGE])))
        mar_pc_fail(c, "", "networks",
                    "May specify a single host network, single bridge "
                    "network, or else 1-to-n container networks");
}

static int has_members(yajl_val o)
{
    return YAJL_IS_OBJECT(o) && o->u.object.len > 0;
}

/* The canonical `networks` field. Unnamed container networks take the
 * default network's name, so two of them are duplicates too. */
static void networks_given(struct mar_pc *c, yajl_val nets, struct mar_app *a,
                           struct mar_raw *r)
{
    int count[3] = {0, 0, 0}, named_host = 0, named_bridge = 0, dup = 0;
    int unnamed = 0;
    enum mar_netmode mode;
    yajl_val n;
    char at[64];
    size_t i;

    for (i = 0; i < nets->u.array.len; i++) {
        n = nets->u.array.values[i];
        mar_pc_elem(at, sizeof(at), "", "networks", i);
        if (network_mode(c, n, at, &mode) != 0)
            continue;
        count[mode]++;
        if (mode == MAR_NET_HOST && (agora_json_get_str(n, "name") ||
                                     has_members(mar_pc_member(n, "labels"))))
            named_host = 1;
        if (mode == MAR_NET_BRIDGE && agora_json_get_str(n, "name"))
            named_bridge = 1;
        if (mode == MAR_NET_CONTAINER) {
            unnamed += !agora_json_get_str(n, "name");
            dup |= network_dup(nets, i) || unnamed > 1;
        }
    }
    networks_rules(c, count, named_host, named_bridge, dup);
    r->ncontainer_nets = count[MAR_NET_CONTAINER];
    r->net = count[MAR_NET_CONTAINER] ? MAR_NET_CONTAINER
             : count[MAR_NET_BRIDGE]  ? MAR_NET_BRIDGE
                                      : MAR_NET_HOST;
    mar_pc_text(c, nets, "", "networks", &a->networks_json);
}

/* Writes [{"mode":…,"name":…,"labels":…}] for a network asked for the
 * deprecated way; name and labels come from ipAddress. */
static void network_translated(struct mar_pc *c, struct mar_app *a,
                               const char *mode, const char *name,
                               yajl_val labels)
{
    struct agora_jw *w = agora_jw_new();

    if (!w) {
        mar_pc_nomem(c);
        return;
    }
    agora_jw_arr_open(w);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "mode", mode);
    if (name)
        agora_jw_kstr(w, "name", name);
    if (has_members(labels)) {
        agora_jw_key(w, "labels");
        mar_json_write(w, labels);
    }
    agora_jw_obj_close(w);
    agora_jw_arr_close(w);
    a->networks_json = mar_strdup(agora_jw_result(w, NULL));
    if (!a->networks_json)
        mar_pc_nomem(c);
    agora_jw_free(w);
}

/* ipAddress.labels: an object of strings, checked before it is copied
 * into networks. */
static int labels_ok(struct mar_pc *c, yajl_val labels)
{
    struct mar_kv *kv = NULL;
    size_t n = 0;
    size_t before = c->typ.n;
    int r = mar_pc_kv(c, labels, "/ipAddress", "labels", &kv, &n);

    mar_kv_free(kv, n);
    return r > 0 && c->typ.n == before;
}

/* AppNormalization.NetworkTranslation: ipAddress and docker.network to
 * networks. ipAddress itself is then dropped, as Marathon does. */
static void networks_deprecated(struct mar_pc *c, struct mar_app *a,
                                struct mar_raw *r)
{
    const char *dn = r->docker_network, *name = NULL;
    yajl_val ip = r->ip_address, labels = NULL;

    if (ip) {
        mar_pc_str(c, mar_pc_member(ip, "networkName"), "/ipAddress",
                   "networkName", &name);
        labels = mar_pc_member(ip, "labels");
        if (!labels_ok(c, labels))
            labels = NULL;
    }
    if (dn && strcmp(dn, "HOST") == 0) {
        r->net = MAR_NET_HOST;
    } else if ((dn && strcmp(dn, "BRIDGE") == 0) ||
               (!dn && name && strcmp(name, MESOS_BRIDGE_NAME) == 0)) {
        r->net = MAR_NET_BRIDGE;
        network_translated(c, a, "container/bridge", NULL, labels);
    } else if ((dn && strcmp(dn, "USER") == 0) || !dn) {
        r->net = MAR_NET_CONTAINER;
        r->ncontainer_nets = 1;
        network_translated(c, a, "container", name, labels);
    } else {
        mar_pc_fail(c, "/container/docker", "network",
                    "unsupported docker network type %s", dn);
    }
}

/* ipAddress.discovery.ports become the port mappings of a Mesos
 * container (AppNormalization.migrateIpDiscovery). */
static yajl_val discovery_ports(struct mar_pc *c, struct mar_raw *r)
{
    yajl_val d = mar_pc_member(r->ip_address, "discovery");
    yajl_val ports = mar_pc_member(d, "ports");

    if (mar_pc_obj(c, d, "/ipAddress", "discovery") <= 0 ||
        mar_pc_arr(c, ports, "/ipAddress/discovery", "ports") <= 0 ||
        ports->u.array.len == 0)
        return NULL;
    if (r->docker_type) {
        mar_pc_fail(c, "", "ipAddress",
                    "ipAddress/discovery is not allowed for Docker "
                    "containers");
        return NULL;
    }
    if (r->pmaps && r->pmaps->u.array.len > 0) {
        mar_pc_fail(c, "", "container",
                    "container.portMappings and ipAddress.discovery.ports "
                    "must not both be set");
        return NULL;
    }
    return ports;
}

/* The rules between the networking fields, then the mode. */
static void networking(struct mar_pc *c, yajl_val app, struct mar_app *a,
                       struct mar_raw *r)
{
    yajl_val nets = mar_pc_member(app, "networks");

    r->ip_address = mar_pc_member(app, "ipAddress");
    if (mar_pc_obj(c, r->ip_address, "", "ipAddress") < 0)
        r->ip_address = NULL;
    if (mar_pc_arr(c, nets, "", "networks") <= 0 || nets->u.array.len == 0)
        nets = NULL;
    if (r->docker_network && nets)
        mar_pc_fail(c, "", NULL,
                    "must not specify both "
                    "container.docker.network and networks");
    if (r->ip_address && nets)
        mar_pc_fail(c, "", NULL,
                    "must not specify both networks and ipAddress");
    if (nets)
        networks_given(c, nets, a, r);
    else if (r->ip_address || r->docker_network)
        networks_deprecated(c, a, r);
    if (r->docker_type && r->ncontainer_nets > 1)
        mar_pc_fail(c, "", NULL,
                    "may only specify a single container "
                    "network when using the Docker container engine");
}

/* ---- ports ---- */

static int is_protocol(const char *p)
{
    return strcmp(p, "tcp") == 0 || strcmp(p, "udp") == 0 ||
           strcmp(p, "udp,tcp") == 0;
}

/* A port number at at/key: 0..65535. */
static int port_number(struct mar_pc *c, yajl_val v, const char *at,
                       const char *key, int *out)
{
    int r = mar_pc_int(c, v, at, key, out);

    if (r > 0 && (*out < 0 || *out > 65535)) {
        mar_pc_fail(c, at, key, "got %d, expected between 0 and 65535", *out);
        return -1;
    }
    return r;
}

/* protocol, name and labels, shared by definitions and mappings. */
static void port_common(struct mar_pc *c, yajl_val o, const char *at,
                        char **protocol, char **name, struct mar_kv **labels,
                        size_t *nlabels)
{
    const char *p = "tcp", *n = NULL;

    if (mar_pc_str(c, mar_pc_member(o, "protocol"), at, "protocol", &p) > 0 &&
        !is_protocol(p))
        mar_pc_type(c, at, "protocol", MAR_E_ENUM);
    if (mar_pc_str(c, mar_pc_member(o, "name"), at, "name", &n) > 0 && *n) {
        *name = mar_strdup(n);
        if (!*name)
            mar_pc_nomem(c);
    }
    *protocol = mar_strdup(p);
    if (!*protocol)
        mar_pc_nomem(c);
    mar_pc_kv(c, mar_pc_member(o, "labels"), at, "labels", labels, nlabels);
}

/* One port mapping; hostPort left out is 0 in bridge mode, none (-1)
 * with container networks. */
static void port_mapping(struct mar_pc *c, yajl_val o, const char *at,
                         enum mar_netmode net, struct mar_port_mapping *m)
{
    m->host_port = net == MAR_NET_BRIDGE ? 0 : -1;
    if (mar_pc_obj(c, o, at, NULL) <= 0)
        return;
    port_number(c, mar_pc_member(o, "containerPort"), at, "containerPort",
                &m->container_port);
    if (!mar_pc_member(o, "containerPort"))
        port_number(c, mar_pc_member(o, "number"), at, "number",
                    &m->container_port);
    port_number(c, mar_pc_member(o, "hostPort"), at, "hostPort", &m->host_port);
    port_number(c, mar_pc_member(o, "servicePort"), at, "servicePort",
                &m->service_port);
    port_common(c, o, at, &m->protocol, &m->name, &m->labels, &m->nlabels);
}

/* n more default mappings ({containerPort 0, name "default"} for the
 * first of an app); 0 or -1 when out of memory. */
static int add_default_mappings(struct mar_app *a, size_t n, const char *name,
                                enum mar_netmode net)
{
    struct mar_port_mapping *v, *m;

    if (n == 0)
        return 0;
    v = realloc(a->port_mappings, (a->nport_mappings + n) * sizeof(*v));
    if (!v)
        return -1;
    a->port_mappings = v;
    for (; n > 0; n--) {
        m = &a->port_mappings[a->nport_mappings++];
        memset(m, 0, sizeof(*m));
        m->host_port = net == MAR_NET_BRIDGE ? 0 : -1;
        m->protocol = mar_strdup("tcp");
        m->name = mar_strdup(name);
        if (!m->protocol || (name && !m->name))
            return -1;
        name = NULL;
    }
    return 0;
}

/* The port mappings given (or discovered), in container networking. */
static void mappings_parse(struct mar_pc *c, yajl_val pm, const char *at,
                           struct mar_app *a, enum mar_netmode net)
{
    char elem[96];
    size_t i, n = pm->u.array.len;

    if (n == 0)
        return;
    a->port_mappings = calloc(n, sizeof(*a->port_mappings));
    if (!a->port_mappings) {
        mar_pc_nomem(c);
        return;
    }
    a->nport_mappings = n;
    for (i = 0; i < n; i++) {
        snprintf(elem, sizeof(elem), "%s(%zu)", at, i);
        port_mapping(c, pm->u.array.values[i], elem, net, &a->port_mappings[i]);
    }
}

/* Which mappings apply: container.portMappings, else the deprecated
 * docker.portMappings, else ipAddress.discovery.ports; NULL for none
 * given. *at is the path they came from. */
static yajl_val mappings_source(struct mar_pc *c, struct mar_raw *r,
                                const char **at)
{
    yajl_val disc = r->ip_address ? discovery_ports(c, r) : NULL;

    if (r->pmaps && r->pmaps->u.array.len > 0 && r->docker_pmaps &&
        r->docker_pmaps->u.array.len > 0)
        mar_pc_fail(c, "", "container",
                    "cannot specify both portMappings "
                    "and docker.portMappings");
    *at = "/container/portMappings";
    if (r->pmaps && (r->pmaps->u.array.len > 0 || !r->docker_pmaps))
        return r->pmaps;
    if (r->docker_pmaps) {
        *at = "/container/docker/portMappings";
        return r->docker_pmaps;
    }
    *at = "/ipAddress/discovery/ports";
    return disc;
}

/* The mappings of an app in container networking, with Marathon's
 * defaults: one mapping when none were given, and one per port asked
 * for with the deprecated `ports` beyond those. */
static void mappings(struct mar_pc *c, struct mar_app *a, struct mar_raw *r,
                     size_t nports)
{
    const char *at;
    yajl_val pm = mappings_source(c, r, &at);

    if (r->net == MAR_NET_HOST) {
        if (pm && pm->u.array.len > 0 && !(c->opts & MAR_PARSE_OLD_CONTAINER))
            mar_pc_fail(c, "", NULL,
                        "portMappings are not allowed with host-networking");
        return;
    }
    if (pm)
        mappings_parse(c, pm, at, a, r->net);
    else if (add_default_mappings(a, 1, "default", r->net) != 0)
        mar_pc_nomem(c);
    if (nports > a->nport_mappings &&
        add_default_mappings(a, nports - a->nport_mappings, NULL, r->net))
        mar_pc_nomem(c);
}

/* One element of portDefinitions. */
static void port_def(struct mar_pc *c, yajl_val o, const char *at,
                     struct mar_port_def *d)
{
    if (mar_pc_obj(c, o, at, NULL) <= 0)
        return;
    port_number(c, mar_pc_member(o, "port"), at, "port", &d->port);
    port_common(c, o, at, &d->protocol, &d->name, &d->labels, &d->nlabels);
}

/* The deprecated `ports`: numbers, each one a tcp port definition. */
static void ports_legacy(struct mar_pc *c, yajl_val ports, struct mar_app *a)
{
    char at[64];
    size_t i;

    for (i = 0; i < ports->u.array.len; i++) {
        mar_pc_elem(at, sizeof(at), "", "ports", i);
        port_number(c, ports->u.array.values[i], at, NULL,
                    &a->port_defs[i].port);
        a->port_defs[i].protocol = mar_strdup("tcp");
        if (!a->port_defs[i].protocol)
            mar_pc_nomem(c);
    }
}

/* 1 when the nonzero ports of the definitions repeat. */
static int ports_repeat(const struct mar_app *a)
{
    size_t i, j;

    for (i = 0; i < a->nport_defs; i++) {
        for (j = 0; j < i && a->port_defs[i].port != 0; j++) {
            if (a->port_defs[j].port == a->port_defs[i].port)
                return 1;
        }
    }
    return 0;
}

/* 1 when names of ports (definitions or mappings) repeat. */
static int names_repeat(const struct mar_app *a)
{
    size_t i, j, n = a->nport_defs ? a->nport_defs : a->nport_mappings;
    const char *ni, *nj;

    for (i = 0; i < n; i++) {
        ni = a->nport_defs ? a->port_defs[i].name : a->port_mappings[i].name;
        for (j = 0; j < i && ni; j++) {
            nj =
                a->nport_defs ? a->port_defs[j].name : a->port_mappings[j].name;
            if (nj && strcmp(ni, nj) == 0)
                return 1;
        }
    }
    return 0;
}

/* A port name against ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ */
static int port_name_ok(const char *s)
{
    size_t i, n = strlen(s);

    for (i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              (s[i] == '-' && i > 0 && i + 1 < n)))
            return 0;
    }
    return n > 0;
}

/* The rules of port definitions (portDefinitionsValidator) and of the
 * deprecated ports (validateOldAppAPI). */
static void port_defs_rules(struct mar_pc *c, struct mar_app *a, int legacy)
{
    char at[64];
    size_t i;

    if (ports_repeat(a)) {
        if (legacy)
            mar_pc_fail(c, "", NULL, "ports must be unique");
        else
            mar_pc_fail(c, "", "portDefinitions", "Ports must be unique.");
    }
    for (i = 0; i < a->nport_defs; i++) {
        if (a->port_defs[i].name && !port_name_ok(a->port_defs[i].name)) {
            mar_pc_elem(at, sizeof(at), "", "portDefinitions", i);
            mar_pc_fail(c, at, "name",
                        "must fully match regular expression "
                        "'" PORT_NAME_RE "'");
        }
    }
}

/* 1 when portDefinitions' ports are the `ports` list, in order: then
 * both may be given (Marathon's own output has both). */
static int same_ports(yajl_val ports, yajl_val defs)
{
    yajl_val p, d;
    size_t i;

    if (ports->u.array.len != defs->u.array.len)
        return 0;
    for (i = 0; i < ports->u.array.len; i++) {
        p = ports->u.array.values[i];
        d = agora_json_get(defs->u.array.values[i], "port");
        if (!YAJL_IS_INTEGER(p) || !YAJL_IS_INTEGER(d) ||
            YAJL_GET_INTEGER(p) != YAJL_GET_INTEGER(d))
            return 0;
    }
    return 1;
}

/* portDefinitions, else `ports`, else the one default definition. In
 * container networking there are none: asked-for ones are an error,
 * unless they are a merge's leftovers or the deprecated `ports`, which
 * Marathon turns into port mappings. Returns how many ports the
 * deprecated fields asked for. */
static size_t port_defs(struct mar_pc *c, yajl_val app, struct mar_app *a,
                        struct mar_raw *r)
{
    yajl_val ports = mar_pc_member(app, "ports");
    yajl_val defs = mar_pc_member(app, "portDefinitions");
    yajl_val use;
    char at[64];
    size_t i, n;

    if (mar_pc_arr(c, ports, "", "ports") <= 0)
        ports = NULL;
    if (mar_pc_arr(c, defs, "", "portDefinitions") <= 0)
        defs = NULL;
    if (ports && defs && ports->u.array.len && defs->u.array.len &&
        !same_ports(ports, defs))
        mar_pc_fail(c, "", NULL,
                    "cannot specify both ports and port definitions");
    use = defs ? defs : ports;
    n = use ? use->u.array.len : 1;
    if (r->ip_address && use && n > 0)
        mar_pc_fail(c, "", NULL, "cannot specify both an IP address and port");
    if (r->net != MAR_NET_HOST) {
        if (defs && defs->u.array.len && !(c->opts & MAR_PARSE_OLD_PORTS))
            mar_pc_fail(c, "", NULL,
                        "portDefinitions are only allowed with "
                        "host-networking");
        /* A merge's leftovers are no request for mappings. */
        return use && !(c->opts & MAR_PARSE_OLD_PORTS) ? n : 0;
    }
    if (n == 0)
        return 0;
    a->port_defs = calloc(n, sizeof(*a->port_defs));
    if (!a->port_defs) {
        mar_pc_nomem(c);
        return 0;
    }
    a->nport_defs = n;
    if (use && use == ports) {
        ports_legacy(c, ports, a);
    } else if (use) {
        for (i = 0; i < n; i++) {
            mar_pc_elem(at, sizeof(at), "", "portDefinitions", i);
            port_def(c, defs->u.array.values[i], at, &a->port_defs[i]);
        }
    } else {
        a->port_defs[0].protocol = mar_strdup("tcp");
        a->port_defs[0].name = mar_strdup("default");
        if (!a->port_defs[0].protocol || !a->port_defs[0].name)
            mar_pc_nomem(c);
    }
    port_defs_rules(c, a, use && use == ports);
    return 0;
}

void mar_net_parse(struct mar_pc *c, yajl_val app, struct mar_app *a,
                   struct mar_raw *r)
{
    size_t legacy_ports;

    networking(c, app, a, r);
    legacy_ports = port_defs(c, app, a, r);
    mappings(c, a, r, legacy_ports);
    if (r->net != MAR_NET_HOST && !a->container_json) {
        /* Container networking without a container: an empty Mesos one
         * (AppNormalization.NetworkedContainer). */
        a->container_json = mar_strdup("{\"type\":\"MESOS\",\"volumes\":[]}");
        if (!a->container_json)
            mar_pc_nomem(c);
    }
    if (names_repeat(a))
        mar_pc_fail(c, "",
                    a->nport_mappings ? "container/portMappings"
                                      : "portDefinitions",
                    "Port names must be unique.");
    a->bridge = r->net != MAR_NET_HOST;
    if (a->bridge)
        a->require_ports = 0;
}

size_t mar_net_nports(const struct mar_app *a)
{
    return a->nport_mappings ? a->nport_mappings : a->nport_defs;
}
