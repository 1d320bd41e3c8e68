/*
 * net.h - BRIDGE networking for container tasks (docs/containers.md §3).
 *
 * A BRIDGE task lives in its own network namespace. The shim, as root and
 * in the host's namespaces, calls net_bridge_attach() once the task's
 * process exists (created with CLONE_NEWNET, waiting), and
 * net_bridge_detach() once it has ended. Both are libc only (rtnetlink
 * for links, addresses and routes; Debian's `nft -f -` as a child for the
 * NAT rules), bounded in time, and safe to run from several shims at once:
 *
 *   - the bridge (--network_bridge, default agora0) is created by the
 *     first attach, with the subnet's first host address, and kept;
 *   - a task's address is taken by creating <work_dir>/net/<a.b.c.d>
 *     with O_EXCL (no daemon: the file system is the allocator, and it
 *     survives an agent restart); the file holds the task id and its
 *     port mappings, so a detach, or the sweep at agent start, knows
 *     what to undo without any other state;
 *   - a veth pair per task: the host end (ag<bridge hash>_<host number
 *     in hex>) on
 *     the bridge, the peer created directly in the task's namespace as
 *     eth0, with the address, lo up and a default route via the bridge;
 *   - NAT in one nftables table of our own (`table ip agora`): the
 *     operator's rules are never touched. Its chains and maps are named
 *     after the bridge (pre_agora0, tcp_agora0, ...), so agents with
 *     bridges of their own share the table and nothing in it. Outbound
 *     traffic of the subnet is masqueraded; each host port is a DNAT map
 *     element (tcp and udp maps) applied in prerouting (other hosts) and
 *     output (this host,
 *     127.0.0.1 included: route_localnet on the bridge, and traffic from
 *     127/8 into the bridge is masqueraded so replies come back). Kernel
 *     DNAT, not a userland proxy: no process a port, no copy of the data,
 *     nothing to restart after an agent crash.
 */
#ifndef AGORA_EXEC_NET_H
#define AGORA_EXEC_NET_H

#include <limits.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NET_DEFAULT_BRIDGE "agora0"
/* 172.31/16: the top of RFC 1918's 172.16/12, which Docker (172.17 and
 * up, counting upwards) and Mesos' CNI examples (10.x) reach last. */
#define NET_DEFAULT_CIDR "172.31.0.0/16"
#define NET_DEFAULT_TABLE "agora"

/* Most port mappings a task may have. */
#define NET_PORTS_MAX 64

/* What the agent's flags say of the network; filled by net_conf_init(). */
struct net_conf {
    char bridge[IFNAMSIZ];   /* --network_bridge                          */
    char tag[IFNAMSIZ];      /* the bridge's name as nft names take it    */
    uint32_t net;            /* --network_cidr's network, host order      */
    int prefix;              /* its length, 8..30                          */
    char table[32];          /* nftables table (tests use their own)      */
    char state_dir[PATH_MAX]; /* <work_dir>/net                           */
    char nft[PATH_MAX];      /* the nft program: "nft" (PATH) by default  */
};

struct net_port_map {
    uint16_t host_port, container_port;
    int udp;
};

/*
 * Fills c from the flags: bridge (NULL/"": agora0), cidr (NULL/"":
 * 172.31.0.0/16, a network of 8 to 30 bits with no host bits set),
 * work_dir (absolute). Touches nothing on the host. 0, or -1 with err.
 */
int net_conf_init(struct net_conf *c, const char *bridge, const char *cidr,
                  const char *work_dir, char *err, size_t errlen);

/*
 * Give the network namespace of pid (created with CLONE_NEWNET and
 * waiting) a veth on the agent's bridge, an address from the agent's
 * subnet, a default route through the bridge, outbound NAT, and each
 * host port forwarded to its container port (from other hosts and from
 * the agent's own host, 127.0.0.1 included). Writes the address to ip.
 * 0, or -1 with err set (what was done is undone).
 */
int net_bridge_attach(const struct net_conf *c, pid_t pid,
                      const char *task_id, const struct net_port_map *m,
                      size_t n, char *ip, size_t iplen, char *err,
                      size_t errlen);

/* Undo attach: the forwards and the address. Idempotent: 0 when the task
 * has nothing attached. -1 with err when something could not be undone
 * (its address stays taken, so a later sweep tries again). */
int net_bridge_detach(const struct net_conf *c, const char *task_id);

/*
 * At agent start: detaches every task with an address whose alive(arg,
 * task_id) says 0 (its shim is gone). Returns how many were detached, or
 * -1 when the state directory cannot be read (a missing one is 0).
 */
int net_bridge_sweep(const struct net_conf *c,
                     int (*alive)(void *arg, const char *task_id), void *arg);

/* The host end of the veth of address ip (host order) in c: "ag" + 4 hex
 * digits of a hash of the bridge's name + "_" + ip's host number in hex. */
void net_bridge_veth_name(const struct net_conf *c, uint32_t ip, char *buf,
                          size_t len);

/* ---- net_link.c: the rtnetlink part (used by net_bridge.c) ---- */

/* Creates bridge `name` if missing, gives it addr/prefix, sets it up.
 * 0 or -errno. */
int net_link_bridge(const char *name, uint32_t addr, int prefix);
/* Creates veth host_name (enslaved to bridge, up) whose peer is eth0 in
 * the network namespace of pid, then, inside that namespace: eth0 gets
 * addr/prefix and a default route via gw, eth0 and lo go up. 0 or
 * -errno; *step names the step that failed. */
int net_link_veth(const char *host_name, const char *bridge, pid_t pid,
                  uint32_t addr, int prefix, uint32_t gw, const char **step);
/* Deletes link name (its veth peer goes with it). 0 (also when missing)
 * or -errno. */
int net_link_del(const char *name);
/* Forgets the neighbour (ARP) entry of addr on dev: an address taken
 * again comes with a new MAC, which a cached entry would miss for
 * seconds. 0 (also when there is none) or -errno. */
int net_link_neigh_del(const char *dev, uint32_t addr);
/* The index of link name in the host's namespace, 0 when missing. */
unsigned net_link_index(const char *name);

#endif /* AGORA_EXEC_NET_H */
