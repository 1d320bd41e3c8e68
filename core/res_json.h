/*
 * res_json.h - resources in JSON as Mesos writes them, for the agents'
 * and the tasks' documents alike.
 */
#ifndef AGORA_RES_JSON_H
#define AGORA_RES_JSON_H

#include <agora/json.h>
#include <agora/resources.h>

/*
 * Writes r's unreserved resources into w as one object: scalars as
 * numbers, ranges and sets as Mesos' text ({"cpus": 1, "ports":
 * "[31000-32000]"}). Reservations are left out: they are listed apart.
 * r is borrowed for the call; w receives copies.
 */
void res_json_write(struct agora_jw *w, const struct agora_resources *r);

#endif /* AGORA_RES_JSON_H */
