/*
 * attr_json.h - an agent attribute's value in JSON as Mesos types it, for
 * the master's /master/slaves and the agent's /state alike.
 */
#ifndef AGORA_ATTR_JSON_H
#define AGORA_ATTR_JSON_H

struct agora_jw;

/* Writes v (NULL: "") as a number when the whole text is one ("rack": 3),
 * else as a string ("zone": "a"): Mesos' SCALAR and TEXT attributes. */
void attr_json_value(struct agora_jw *w, const char *v);

#endif /* AGORA_ATTR_JSON_H */
