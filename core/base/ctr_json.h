/*
 * ctr_json.h - a task's `container` as Mesos shows a TaskInfo's
 * ContainerInfo, for the agent's /state and v1 calls and the master's
 * task documents alike (docs/containers.md §1 gives the shapes read).
 */
#ifndef AGORA_CTR_JSON_H
#define AGORA_CTR_JSON_H

#include <agora/json.h>

/*
 * Writes the member key ("container"; v1 GET_CONTAINERS:
 * "container_info") into w (an object is open) from the
 * launch's container JSON c (Marathon's or Chronos' shape; borrowed):
 *   {"type": "DOCKER", "docker": {"image", "network", "privileged",
 *    "force_pull_image", "port_mappings": [{"host_port",
 *    "container_port", "protocol"}]}, "volumes": [{"container_path",
 *    "host_path", "mode"}]}
 * or for MESOS {"type": "MESOS", "mesos": {"image": {"type": "DOCKER",
 * "docker": {"name"}}}, "volumes", "network_infos": [{"name"}] (BRIDGE)}.
 * Nothing when c is not an object.
 */
void ctr_json_write(struct agora_jw *w, const char *key, yajl_val c);

/* The same from the text of a task spec (its "container" member), which
 * is parsed only when it names a container. */
void ctr_json_write_spec(struct agora_jw *w, const char *key,
                         const char *spec_json);

#endif /* AGORA_CTR_JSON_H */
