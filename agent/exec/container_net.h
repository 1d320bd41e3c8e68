/*
 * container_net.h - the network hook of docs/containers.md §3 as the
 * container's shim calls it: net.h (agent/exec/net.h, the network part)
 * when it is there, else its declarations as the contract gives them,
 * with container_net_stub.c's definitions failing "BRIDGE networking is
 * not built". The stub and this fallback go when net_bridge.c is merged.
 */
#ifndef AGORA_EXEC_CONTAINER_NET_H
#define AGORA_EXEC_CONTAINER_NET_H

#if __has_include("net.h")
#include "net.h"
#else
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct net_conf;
struct net_port_map {
    uint16_t host_port, container_port;
    int udp;
};
int net_bridge_attach(const struct net_conf *c, pid_t pid,
                      const char *task_id, const struct net_port_map *m,
                      size_t n, char *ip, size_t iplen, char *err,
                      size_t errlen);
int net_bridge_detach(const struct net_conf *c, const char *task_id);
#endif

#endif /* AGORA_EXEC_CONTAINER_NET_H */
