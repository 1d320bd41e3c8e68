/*
 * res_json.h - resources in JSON as Mesos writes them, for the agents'
 * and the tasks' documents alike.
 */
#ifndef AGORA_RES_JSON_H
#define AGORA_RES_JSON_H

#include <agora/json.h>
#include <agora/resources.h>

/*
 * Writes r into w as one object, as Mesos' model(Resources) does:
 * "cpus", "gpus", "mem" and "disk" always (0 when r has none), scalars
 * summed over roles, ranges and sets as Mesos' text ({"cpus": 1,
 * "ports": "[31000-32000]"}). r is borrowed for the call; w receives
 * copies.
 */
void res_json_write(struct agora_jw *w, const struct agora_resources *r);

/* The same of r's resources of one role ("*": the unreserved ones). */
void res_json_write_role(struct agora_jw *w, const struct agora_resources *r,
                         const char *role);

/* Mesos' "reserved_resources": an object of role -> resources. */
void res_json_write_reserved(struct agora_jw *w,
                             const struct agora_resources *r);

/* One resource as Mesos' protobuf JSON writes a Resource: {"name",
 * "type": "SCALAR", "scalar": {"value"}, "role"} (or "ranges": {"range":
 * [{"begin", "end"}]}, "set": {"item": [...]}). */
void res_json_write_full(struct agora_jw *w, const struct agora_resource *x);

/* r as an array of those (the v1 API's repeated Resource). */
void res_json_write_list(struct agora_jw *w, const struct agora_resources *r);

#endif /* AGORA_RES_JSON_H */
