/*
 * container_spec.c - the launch's `container` (docs/containers.md §1),
 * read and validated: Marathon's shape ({"type", "docker": {"image",
 * "network", "portMappings", "parameters", "privileged",
 * "forcePullImage"}, "portMappings", "volumes"}) and Chronos' ({"type",
 * "image", "network", "volumes", "parameters", "forcePullImage"}).
 *
 * Everything the agent cannot honour is refused with a message naming
 * the field, never ignored: a type other than DOCKER or MESOS,
 * privileged, parameters (docker run options: the mesos containerizer
 * has no docker run), a network other than HOST or BRIDGE, a volume
 * whose host path is outside --allowed_volume_paths, a mode other than
 * RO or RW.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "container.h"

#define CTR_VOLUMES_MAX 64
#define CTR_PORTS_MAX 1024

size_t ctr_ref_name(const char *ref, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)ref; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
                    *p == '-';
        char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        size_t k = plain ? 1 : 3;

        for (size_t i = 0; i < k; i++, n++)
            if (n + 1 < outlen)
                out[n] = plain ? (char)*p : enc[i];
    }
    if (outlen)
        out[n < outlen ? n : outlen - 1] = '\0';
    return n;
}

/* A path without "..", "." or empty components, absolute. */
static int path_clean(const char *p)
{
    if (p[0] != '/')
        return 0;
    for (const char *c = p + 1; *c;) {
        const char *e = strchr(c, '/');
        size_t len = e ? (size_t)(e - c) : strlen(c);

        if (len == 0 && e)
            return 0;
        if ((len == 1 && c[0] == '.') || (len == 2 && !strncmp(c, "..", 2)))
            return 0;
        c += len + (e ? 1 : 0);
    }
    return 1;
}

/* Is path (resolved) equal to or under one of allowed's directories
 * (each resolved too)? */
static int path_allowed(const char *path, const char *allowed)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *p = allowed;

    while (p && *p) {
        const char *e = strchr(p, ':');
        size_t len = e ? (size_t)(e - p) : strlen(p);

        if (len > 0 && len < sizeof(dir)) {
            memcpy(dir, p, len);
            dir[len] = '\0';
            if (dir[0] == '/' && realpath(dir, real)) {
                size_t rl = strlen(real);
                if (strcmp(real, "/") == 0 ||
                    (strncmp(path, real, rl) == 0 &&
                     (path[rl] == '\0' || path[rl] == '/')))
                    return 1;
            }
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static int volume_parse(yajl_val v, size_t i, const char *allowed,
                        const char *sandbox, struct ctr_volume *out,
                        char *err, size_t errlen)
{
    const char *cp = agora_json_get_str(v, "containerPath");
    const char *hp = agora_json_get_str(v, "hostPath");
    const char *mode = agora_json_get_str(v, "mode");
    char joined[PATH_MAX], real[PATH_MAX];

    if (!YAJL_IS_OBJECT(v) || !cp || !path_clean(cp) || !strcmp(cp, "/")) {
        snprintf(err, errlen,
                 "container.volumes[%zu].containerPath must be an absolute "
                 "path without '.' or '..'", i);
        return AGORA_EINVAL;
    }
    if (!mode || (strcasecmp(mode, "RO") && strcasecmp(mode, "RW"))) {
        snprintf(err, errlen, "container.volumes[%zu].mode must be RO or RW",
                 i);
        return AGORA_EINVAL;
    }
    if (agora_json_get(v, "persistent") || agora_json_get(v, "external") ||
        agora_json_get(v, "secret") || !hp || !*hp) {
        snprintf(err, errlen,
                 "container.volumes[%zu]: only host volumes (hostPath) are "
                 "supported", i);
        return AGORA_EINVAL;
    }
    /* A relative hostPath is a path in the sandbox, as in Mesos: made
     * by the shim when missing (the sandbox is the task's). */
    if (hp[0] != '/') {
        snprintf(joined, sizeof(joined), "/%s", hp);
        if (!path_clean(joined) ||
            snprintf(real, sizeof(real), "%s/%s", sandbox, hp) >=
                (int)sizeof(real)) {
            snprintf(err, errlen,
                     "container.volumes[%zu].hostPath '%s' must stay in the "
                     "sandbox", i, hp);
            return AGORA_EINVAL;
        }
        out->in_sandbox = 1;
    } else {
        if (!path_clean(hp) || !realpath(hp, real)) {
            snprintf(err, errlen,
                     "container.volumes[%zu].hostPath '%s': %s", i, hp,
                     path_clean(hp) ? strerror(errno)
                                    : "must be a path without '.' or '..'");
            return AGORA_EINVAL;
        }
        if (!path_allowed(real, allowed)) {
            snprintf(err, errlen,
                     "container.volumes[%zu].hostPath '%s' is not under the "
                     "agent's --allowed_volume_paths", i, hp);
            return AGORA_EINVAL;
        }
    }
    if (!(out->host_path = strdup(real)))
        return AGORA_ENOMEM;
    out->container_path = cp;
    out->ro = !strcasecmp(mode, "RO");
    return 0;
}

static int volumes_parse(yajl_val list, const char *allowed,
                         const char *sandbox, struct ctr_spec *s, char *err,
                         size_t errlen)
{
    int rc;

    if (!list || YAJL_IS_NULL(list))
        return 0;
    if (!YAJL_IS_ARRAY(list) || list->u.array.len > CTR_VOLUMES_MAX) {
        snprintf(err, errlen, "container.volumes must be an array of at most "
                              "%d volumes", CTR_VOLUMES_MAX);
        return AGORA_EINVAL;
    }
    if (list->u.array.len == 0)
        return 0;
    if (!(s->volumes = calloc(list->u.array.len, sizeof(*s->volumes))))
        return AGORA_ENOMEM;
    for (size_t i = 0; i < list->u.array.len; i++) {
        rc = volume_parse(list->u.array.values[i], i, allowed, sandbox,
                          &s->volumes[i], err, errlen);
        if (rc != 0)
            return rc;
        s->nvolumes++;
    }
    return 0;
}

static int port_parse(yajl_val v, const char *where, size_t i,
                      struct ctr_port *p, char *err, size_t errlen)
{
    int64_t hp = 0, cp = 0;
    const char *proto = agora_json_get_str(v, "protocol");

    if (!YAJL_IS_OBJECT(v) || agora_json_int(v, "containerPort", &cp) != 0 ||
        cp < 1 || cp > 65535 ||
        agora_json_int(v, "hostPort", &hp) == AGORA_EINVAL || hp < 0 ||
        hp > 65535) {
        snprintf(err, errlen,
                 "%s[%zu]: containerPort and hostPort must be ports", where,
                 i);
        return AGORA_EINVAL;
    }
    if (proto && strcasecmp(proto, "tcp") && strcasecmp(proto, "udp")) {
        snprintf(err, errlen, "%s[%zu].protocol must be tcp or udp", where,
                 i);
        return AGORA_EINVAL;
    }
    p->host_port = (uint16_t)hp;
    p->container_port = (uint16_t)cp;
    p->udp = proto && !strcasecmp(proto, "udp");
    return 0;
}

static int ports_parse(yajl_val list, const char *where, struct ctr_spec *s,
                       char *err, size_t errlen)
{
    struct ctr_port *np;
    size_t n;

    if (!list || YAJL_IS_NULL(list))
        return 0;
    if (!YAJL_IS_ARRAY(list) || list->u.array.len > CTR_PORTS_MAX) {
        snprintf(err, errlen, "%s must be an array of at most %d mappings",
                 where, CTR_PORTS_MAX);
        return AGORA_EINVAL;
    }
    if ((n = list->u.array.len) == 0)
        return 0;
    if (!(np = realloc(s->ports, (s->nports + n) * sizeof(*np))))
        return AGORA_ENOMEM;
    s->ports = np;
    for (size_t i = 0; i < n; i++) {
        int rc = port_parse(list->u.array.values[i], where, i,
                            &s->ports[s->nports], err, errlen);
        if (rc != 0)
            return rc;
        s->nports++;
    }
    return 0;
}

static int refuse_set(yajl_val o, const char *key, const char *field,
                      const char *why, char *err, size_t errlen)
{
    yajl_val v = agora_json_get(o, key);

    if (!v || YAJL_IS_NULL(v) || YAJL_IS_FALSE(v) ||
        (YAJL_IS_ARRAY(v) && v->u.array.len == 0))
        return 0;
    snprintf(err, errlen, "%s: %s", field, why);
    return AGORA_EINVAL;
}

static int type_parse(yajl_val c, struct ctr_spec *s, char *err,
                      size_t errlen)
{
    const char *type = agora_json_get_str(c, "type");

    if (!type || !strcasecmp(type, "DOCKER")) {
        s->type = CTR_DOCKER;
    } else if (!strcasecmp(type, "MESOS")) {
        s->type = CTR_MESOS;
    } else {
        snprintf(err, errlen,
                 "container.type '%s' is not supported (DOCKER or MESOS)",
                 type);
        return AGORA_EINVAL;
    }
    return 0;
}

static int net_parse(const char *net, const char *field, struct ctr_spec *s,
                     char *err, size_t errlen)
{
    if (!net || !strcasecmp(net, "HOST"))
        s->net = CTR_NET_HOST;
    else if (!strcasecmp(net, "BRIDGE"))
        s->net = CTR_NET_BRIDGE;
    else {
        snprintf(err, errlen,
                 "%s '%s' is not supported (HOST or BRIDGE)", field, net);
        return AGORA_EINVAL;
    }
    return 0;
}

int ctr_spec_parse(yajl_val c, const char *allowed, const char *sandbox,
                   struct ctr_spec *s, char *err, size_t errlen)
{
    yajl_val d, v;
    int rc;

    memset(s, 0, sizeof(*s));
    if (!YAJL_IS_OBJECT(c)) {
        snprintf(err, errlen, "container must be an object");
        return AGORA_EINVAL;
    }
    if ((rc = type_parse(c, s, err, errlen)) != 0)
        return rc;
    d = agora_json_get(c, "docker");
    if (d && !YAJL_IS_NULL(d) && !YAJL_IS_OBJECT(d)) {
        snprintf(err, errlen, "container.docker must be an object");
        return AGORA_EINVAL;
    }
    if (YAJL_IS_OBJECT(d)) { /* Marathon's shape */
        if ((rc = refuse_set(d, "privileged", "container.docker.privileged",
                             "privileged containers are not supported", err,
                             errlen)) != 0 ||
            (rc = refuse_set(d, "parameters", "container.docker.parameters",
                             "docker run options are not supported by the "
                             "mesos containerizer", err, errlen)) != 0 ||
            (rc = net_parse(agora_json_get_str(d, "network"),
                            "container.docker.network", s, err, errlen)) != 0 ||
            (rc = ports_parse(agora_json_get(d, "portMappings"),
                              "container.docker.portMappings", s, err,
                              errlen)) != 0)
            return rc;
        s->image = agora_json_get_str(d, "image");
        (void)agora_json_bool(d, "forcePullImage", &s->force_pull);
        if ((v = agora_json_get(d, "image")) && !YAJL_IS_NULL(v) &&
            !YAJL_IS_STRING(v)) {
            snprintf(err, errlen, "container.docker.image must be a string");
            return AGORA_EINVAL;
        }
    } else { /* Chronos' shape, or a container without an image */
        if ((rc = refuse_set(c, "parameters", "container.parameters",
                             "docker run options are not supported by the "
                             "mesos containerizer", err, errlen)) != 0 ||
            (rc = net_parse(agora_json_get_str(c, "network"),
                            "container.network", s, err, errlen)) != 0)
            return rc;
        s->image = agora_json_get_str(c, "image");
        (void)agora_json_bool(c, "forcePullImage", &s->force_pull);
    }
    if ((rc = refuse_set(c, "privileged", "container.privileged",
                         "privileged containers are not supported", err,
                         errlen)) != 0 ||
        (rc = ports_parse(agora_json_get(c, "portMappings"),
                          "container.portMappings", s, err, errlen)) != 0 ||
        (rc = volumes_parse(agora_json_get(c, "volumes"), allowed, sandbox, s,
                            err, errlen)) != 0)
        return rc;
    if (s->image && (!*s->image || strlen(s->image) > 1024)) {
        snprintf(err, errlen, "container image must be 1 to 1024 bytes");
        return AGORA_EINVAL;
    }
    if (s->nports && s->net != CTR_NET_BRIDGE) {
        snprintf(err, errlen, "container portMappings need the BRIDGE "
                              "network");
        return AGORA_EINVAL;
    }
    return 0;
}

void ctr_spec_free(struct ctr_spec *s)
{
    for (size_t i = 0; i < s->nvolumes; i++)
        free(s->volumes[i].host_path);
    free(s->volumes);
    free(s->ports);
    memset(s, 0, sizeof(*s));
}
