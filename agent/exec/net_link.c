/*
 * net_link.c - the rtnetlink part of BRIDGE networking (net.h): the
 * bridge, a task's veth pair, addresses, routes, links up and down.
 *
 * Plain NETLINK_ROUTE requests, one at a time, each acknowledged
 * (NLM_F_ACK) with a receive timeout so a call is bounded. Requests for
 * the task's namespace go through a socket created inside it (a netlink
 * socket stays bound to the namespace it was made in), so this process
 * enters the namespace only for the socket() call and comes straight
 * back.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "net.h"

/* A request: the header, its body and attributes, in one bounded buffer. */
struct nl_req {
    struct nlmsghdr *h;
    char buf[1024];
};

static void nl_init(struct nl_req *r, int type, int flags)
{
    memset(r->buf, 0, sizeof(r->buf));
    r->h = (struct nlmsghdr *)r->buf;
    r->h->nlmsg_len = NLMSG_LENGTH(0);
    r->h->nlmsg_type = (unsigned short)type;
    r->h->nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
}

/* Appends len bytes of data (the body) at the end, aligned. */
static void *nl_put(struct nl_req *r, const void *data, size_t len)
{
    char *p = r->buf + NLMSG_ALIGN(r->h->nlmsg_len);

    /* The requests here are fixed and small: overflowing is a bug. */
    if ((size_t)(p - r->buf) + NLMSG_ALIGN(len) > sizeof(r->buf))
        return NULL;
    if (data != NULL)
        memcpy(p, data, len);
    r->h->nlmsg_len = (unsigned)((p - r->buf) + NLMSG_ALIGN(len));
    return p;
}

static struct rtattr *nl_attr(struct nl_req *r, int type, const void *data,
                              size_t len)
{
    struct rtattr *a;

    a = nl_put(r, NULL, RTA_LENGTH(len));
    if (a == NULL)
        return NULL;
    a->rta_type = (unsigned short)type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len > 0)
        memcpy(RTA_DATA(a), data, len);
    return a;
}

/* Closes a nested attribute opened by nl_attr(r, type, NULL, 0). */
static void nl_nest_end(struct nl_req *r, struct rtattr *a)
{
    a->rta_len = (unsigned short)((r->buf + r->h->nlmsg_len) - (char *)a);
}

static int nl_socket(void)
{
    struct timeval tv = {.tv_sec = 5};
    int fd;

    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Sends r on fd and waits for its acknowledgement: 0 or -errno. */
static int nl_talk(int fd, struct nl_req *r)
{
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    char buf[4096];
    struct nlmsghdr *h;
    ssize_t got;
    static unsigned seq;

    if (r->h == NULL)
        return -EINVAL;
    r->h->nlmsg_seq = ++seq;
    if (sendto(fd, r->buf, r->h->nlmsg_len, 0, (struct sockaddr *)&sa,
               sizeof(sa)) < 0)
        return -errno;
    for (;;) {
        got = recv(fd, buf, sizeof(buf), 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        }
        for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)got);
             h = NLMSG_NEXT(h, got)) {
            if (h->nlmsg_seq != r->h->nlmsg_seq)
                continue;
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = NLMSG_DATA(h);

                return e->error;
            }
        }
    }
}

static int nl_one(struct nl_req *r)
{
    int fd = nl_socket(), rc;

    if (fd < 0)
        return fd;
    rc = nl_talk(fd, r);
    close(fd);
    return rc;
}

unsigned net_link_index(const char *name)
{
    return if_nametoindex(name);
}

/* RTM_NEWLINK setting index up (IFF_UP), on socket fd. */
static int link_up(int fd, unsigned index)
{
    struct nl_req r;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC,
                            .ifi_index = (int)index,
                            .ifi_flags = IFF_UP,
                            .ifi_change = IFF_UP};

    nl_init(&r, RTM_NEWLINK, 0);
    nl_put(&r, &ifi, sizeof(ifi));
    return nl_talk(fd, &r);
}

/* RTM_NEWADDR addr/prefix on index; an address already there is fine. */
static int addr_add(int fd, unsigned index, uint32_t addr, int prefix)
{
    struct nl_req r;
    struct ifaddrmsg ifa = {.ifa_family = AF_INET,
                            .ifa_prefixlen = (unsigned char)prefix,
                            .ifa_scope = RT_SCOPE_UNIVERSE,
                            .ifa_index = index};
    uint32_t a = htonl(addr);
    uint32_t bcast = htonl(addr | (0xffffffffu >> prefix));
    int rc;

    nl_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    nl_put(&r, &ifa, sizeof(ifa));
    nl_attr(&r, IFA_LOCAL, &a, 4);
    nl_attr(&r, IFA_ADDRESS, &a, 4);
    nl_attr(&r, IFA_BROADCAST, &bcast, 4);
    rc = nl_talk(fd, &r);
    return rc == -EEXIST ? 0 : rc;
}

static int route_default(int fd, uint32_t gw)
{
    struct nl_req r;
    struct rtmsg rt = {.rtm_family = AF_INET,
                       .rtm_table = RT_TABLE_MAIN,
                       .rtm_protocol = RTPROT_BOOT,
                       .rtm_scope = RT_SCOPE_UNIVERSE,
                       .rtm_type = RTN_UNICAST};
    uint32_t g = htonl(gw);
    int rc;

    nl_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
    nl_put(&r, &rt, sizeof(rt));
    nl_attr(&r, RTA_GATEWAY, &g, 4);
    rc = nl_talk(fd, &r);
    return rc == -EEXIST ? 0 : rc;
}

int net_link_bridge(const char *name, uint32_t addr, int prefix)
{
    struct nl_req r;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
    struct rtattr *info;
    unsigned index;
    int fd, rc;

    fd = nl_socket();
    if (fd < 0)
        return fd;
    nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    nl_put(&r, &ifi, sizeof(ifi));
    nl_attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
    info = nl_attr(&r, IFLA_LINKINFO, NULL, 0);
    nl_attr(&r, IFLA_INFO_KIND, "bridge", 6);
    nl_nest_end(&r, info);
    rc = nl_talk(fd, &r);
    if (rc == -EEXIST)
        rc = 0;
    index = rc == 0 ? net_link_index(name) : 0;
    if (rc == 0 && index == 0)
        rc = -ENODEV;
    if (rc == 0)
        rc = addr_add(fd, index, addr, prefix);
    if (rc == 0)
        rc = link_up(fd, index);
    close(fd);
    return rc;
}

/* A NETLINK_ROUTE socket inside the network namespace of pid. */
static int nl_socket_in(pid_t pid, unsigned *eth0, unsigned *lo)
{
    char path[64];
    int self, target, fd = -ENOENT, rc;

    self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return -errno;
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    target = open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0) {
        rc = -errno;
        close(self);
        return rc;
    }
    if (setns(target, CLONE_NEWNET) < 0) {
        fd = -errno;
    } else {
        fd = nl_socket();
        *eth0 = if_nametoindex("eth0");
        *lo = if_nametoindex("lo");
        /* Coming back cannot fail for root with a descriptor of its own
         * namespace; if it did, nothing after would be right. */
        if (setns(self, CLONE_NEWNET) < 0) {
            if (fd >= 0)
                close(fd);
            fd = -errno;
        }
    }
    close(target);
    close(self);
    return fd;
}

int net_link_veth(const char *host_name, const char *bridge, pid_t pid,
                  uint32_t addr, int prefix, uint32_t gw, const char **step)
{
    struct nl_req r;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
    struct rtattr *info, *data, *peer;
    unsigned br, host, eth0 = 0, lo = 0;
    uint32_t ns_pid = (uint32_t)pid;
    int fd, rc;

    *step = "bridge";
    br = net_link_index(bridge);
    if (br == 0)
        return -ENODEV;
    *step = "veth";
    nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    nl_put(&r, &ifi, sizeof(ifi));
    nl_attr(&r, IFLA_IFNAME, host_name, strlen(host_name) + 1);
    nl_attr(&r, IFLA_MASTER, &br, 4);
    info = nl_attr(&r, IFLA_LINKINFO, NULL, 0);
    nl_attr(&r, IFLA_INFO_KIND, "veth", 4);
    data = nl_attr(&r, IFLA_INFO_DATA, NULL, 0);
    peer = nl_attr(&r, VETH_INFO_PEER, NULL, 0);
    nl_put(&r, &ifi, sizeof(ifi));
    nl_attr(&r, IFLA_IFNAME, "eth0", 5);
    nl_attr(&r, IFLA_NET_NS_PID, &ns_pid, 4);
    nl_nest_end(&r, peer);
    nl_nest_end(&r, data);
    nl_nest_end(&r, info);
    rc = nl_one(&r);
    if (rc < 0)
        return rc;
    host = net_link_index(host_name);
    fd = host == 0 ? -ENODEV : nl_socket();
    if (fd < 0)
        return fd;
    *step = "host link up";
    rc = link_up(fd, host);
    close(fd);
    if (rc < 0)
        return rc;

    *step = "task's namespace";
    fd = nl_socket_in(pid, &eth0, &lo);
    if (fd < 0)
        return fd;
    rc = eth0 == 0 || lo == 0 ? -ENODEV : 0;
    *step = "eth0 address";
    if (rc == 0)
        rc = addr_add(fd, eth0, addr, prefix);
    *step = "eth0 up";
    if (rc == 0)
        rc = link_up(fd, eth0);
    *step = "lo up";
    if (rc == 0)
        rc = link_up(fd, lo);
    *step = "default route";
    if (rc == 0)
        rc = route_default(fd, gw);
    close(fd);
    return rc;
}

int net_link_del(const char *name)
{
    struct nl_req r;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
    int rc;

    ifi.ifi_index = (int)net_link_index(name);
    if (ifi.ifi_index == 0)
        return 0;
    nl_init(&r, RTM_DELLINK, 0);
    nl_put(&r, &ifi, sizeof(ifi));
    rc = nl_one(&r);
    return rc == -ENODEV ? 0 : rc;
}

int net_link_neigh_del(const char *dev, uint32_t addr)
{
    struct nl_req r;
    struct ndmsg nd = {.ndm_family = AF_INET};
    uint32_t a = htonl(addr);
    int rc;

    nd.ndm_ifindex = (int)net_link_index(dev);
    if (nd.ndm_ifindex == 0)
        return 0;
    nl_init(&r, RTM_DELNEIGH, 0);
    nl_put(&r, &nd, sizeof(nd));
    nl_attr(&r, NDA_DST, &a, 4);
    rc = nl_one(&r);
    return rc == -ENOENT || rc == -ESRCH ? 0 : rc;
}
