/*
 * mar_task_container.h - one task's `container` as the agent gets it
 * (docs/containers.md §1), and the port variables Marathon adds for it.
 *
 * The app keeps its port mappings with hostPort 0 ("pick one"); a task
 * has concrete ports from its offer. Marathon's rule: the mappings that
 * have a hostPort take the task's host ports in order (an explicit one
 * was asked of the offer as such), so the i-th such mapping gets
 * ports[i]; a mapping without hostPort (container networks) gets none.
 */
#ifndef MAR_TASK_CONTAINER_H
#define MAR_TASK_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#include <agora/plugin.h>

#include "mar_app.h"

struct mar_task_ctr {
    /* The container JSON with every hostPort concrete, portMappings at
     * its top level, and docker.network HOST, BRIDGE or USER from the
     * app's networks. NULL when the app has no container. */
    char *json;
    /* PORT_<containerPort> and PORT_<NAME> of each mapping (bridge), or
     * PORT_<port> of each port definition (host), each = the host port,
     * as Marathon's EnvironmentHelper.portsEnv. Owned. */
    struct agora_kv *env;
    size_t nenv;
};

/*
 * Fills out for one task of app d whose host ports are ports[0..n) (in
 * the order mar_app_host_ports() counts them). Returns 0, or
 * AGORA_ENOMEM, or AGORA_EINVAL when n is less than the app needs (out
 * is empty then). Free out with mar_task_container_free().
 */
int mar_task_container(const struct mar_app *d, const uint32_t *ports,
                       size_t n, struct mar_task_ctr *out);

/* Frees what out holds (and zeroes it); an empty one is fine. */
void mar_task_container_free(struct mar_task_ctr *out);

#endif /* MAR_TASK_CONTAINER_H */
