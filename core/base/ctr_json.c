/*
 * ctr_json.c - a task's container in Mesos' ContainerInfo shape
 * (ctr_json.h).
 */
#include <string.h>
#include <strings.h>

#include <agora/json.h>

#include "ctr_json.h"

static void write_ports(struct agora_jw *w, yajl_val list)
{
    agora_jw_key(w, "port_mappings");
    agora_jw_arr_open(w);
    for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
        yajl_val p = list->u.array.values[i];
        int64_t v;
        const char *proto = agora_json_get_str(p, "protocol");

        if (!YAJL_IS_OBJECT(p))
            continue;
        agora_jw_obj_open(w);
        if (agora_json_int(p, "hostPort", &v) == 0)
            agora_jw_kint(w, "host_port", v);
        if (agora_json_int(p, "containerPort", &v) == 0)
            agora_jw_kint(w, "container_port", v);
        agora_jw_kstr(w, "protocol", proto ? proto : "tcp");
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

static void write_volumes(struct agora_jw *w, yajl_val list)
{
    agora_jw_key(w, "volumes");
    agora_jw_arr_open(w);
    for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
        yajl_val v = list->u.array.values[i];
        const char *mode = agora_json_get_str(v, "mode");

        if (!YAJL_IS_OBJECT(v))
            continue;
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "container_path",
                      agora_json_get_str(v, "containerPath"));
        if (agora_json_get_str(v, "hostPath"))
            agora_jw_kstr(w, "host_path", agora_json_get_str(v, "hostPath"));
        agora_jw_kstr(w, "mode", mode && !strcasecmp(mode, "RO") ? "RO"
                                                                 : "RW");
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

void ctr_json_write(struct agora_jw *w, const char *key, yajl_val c)
{
    yajl_val d = agora_json_get(c, "docker");
    const char *type = agora_json_get_str(c, "type");
    int mesos = type && !strcasecmp(type, "MESOS");
    const char *image, *net;
    int b = 0;

    if (!YAJL_IS_OBJECT(c))
        return;
    if (!YAJL_IS_OBJECT(d))
        d = c; /* Chronos' shape: image and network at the top */
    image = agora_json_get_str(d, "image");
    net = agora_json_get_str(d, "network");
    agora_jw_key(w, key);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "type", mesos ? "MESOS" : "DOCKER");
    if (mesos) {
        agora_jw_key(w, "mesos");
        agora_jw_obj_open(w);
        if (image) {
            agora_jw_key(w, "image");
            agora_jw_obj_open(w);
            agora_jw_kstr(w, "type", "DOCKER");
            agora_jw_key(w, "docker");
            agora_jw_obj_open(w);
            agora_jw_kstr(w, "name", image);
            agora_jw_obj_close(w);
            agora_jw_obj_close(w);
        }
        agora_jw_obj_close(w);
    } else {
        agora_jw_key(w, "docker");
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "image", image);
        agora_jw_kstr(w, "network", net ? net : "HOST");
        (void)agora_json_bool(d, "privileged", &b);
        agora_jw_kbool(w, "privileged", b);
        b = 0;
        (void)agora_json_bool(d, "forcePullImage", &b);
        agora_jw_kbool(w, "force_pull_image", b);
        write_ports(w, agora_json_get(c, "portMappings")
                           ? agora_json_get(c, "portMappings")
                           : agora_json_get(d, "portMappings"));
        agora_jw_obj_close(w);
    }
    write_volumes(w, agora_json_get(c, "volumes"));
    if (net && !strcasecmp(net, "BRIDGE")) {
        agora_jw_key(w, "network_infos");
        agora_jw_arr_open(w);
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "name", "bridge");
        agora_jw_obj_close(w);
        agora_jw_arr_close(w);
    }
    agora_jw_obj_close(w);
}

void ctr_json_write_spec(struct agora_jw *w, const char *key,
                         const char *spec_json)
{
    yajl_val spec;
    char err[64];

    /* Specs as the master writes them say "container":null when there is
     * none: those are not parsed. */
    if (!spec_json || !strstr(spec_json, "\"container\"") ||
        strstr(spec_json, "\"container\":null"))
        return;
    spec = agora_json_parse(spec_json, err, sizeof(err));
    if (!spec)
        return;
    ctr_json_write(w, key, agora_json_get(spec, "container"));
    yajl_tree_free(spec);
}
