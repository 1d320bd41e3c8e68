/*
 * net_bridge.c - BRIDGE networking (net.h): a task's address, its veth on
 * the agent's bridge, its NAT, and undoing them.
 *
 * The state is the directory <work_dir>/net/: one file an address taken,
 * named after it ("172.31.0.2"), created with O_EXCL (so two shims never
 * take one address) and holding
 *
 *   <task id>\n
 *   <host port> <container port> tcp|udp\n   (one line a mapping)
 *
 * written before any link or rule exists, so whatever a crash leaves
 * half done, detach (or the sweep at agent start) can undo from it.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "net.h"
#include "proc.h"

extern char **environ;

/* Bounds: a task id, a state file, a script, nft's output kept. */
#define NET_ID_MAX 255
#define NET_FILE_MAX (NET_ID_MAX + 2 + NET_PORTS_MAX * 24)
#define NET_SCRIPT_MAX 8192
#define NET_NFT_TIMEOUT_MS 10000

int net_conf_init(struct net_conf *c, const char *bridge, const char *cidr,
                  const char *work_dir, char *err, size_t errlen)
{
    char buf[32], *slash, *end;
    struct in_addr a;
    long prefix;
    size_t i;

    memset(c, 0, sizeof(*c));
    if (bridge == NULL || bridge[0] == '\0')
        bridge = NET_DEFAULT_BRIDGE;
    if (cidr == NULL || cidr[0] == '\0')
        cidr = NET_DEFAULT_CIDR;
    if (strlen(bridge) >= IFNAMSIZ) {
        exec_errf(err, errlen, "--network_bridge: longer than %d bytes",
                IFNAMSIZ - 1);
        return -1;
    }
    for (i = 0; bridge[i] != '\0'; i++) {
        if (bridge[i] <= ' ' || bridge[i] == '/' || bridge[i] == ':' ||
            bridge[i] > '~' || bridge[i] == '"') {
            exec_errf(err, errlen, "--network_bridge: not a link name: %s",
                    bridge);
            return -1;
        }
    }
    memcpy(c->bridge, bridge, strlen(bridge) + 1);
    /* nft names: the bridge's with anything but [A-Za-z0-9] as '_'. */
    for (i = 0; bridge[i] != '\0'; i++)
        c->tag[i] = (char)(isalnum((unsigned char)bridge[i]) ? bridge[i]
                                                              : '_');
    c->tag[i] = '\0';
    if (strlen(cidr) >= sizeof(buf) || strchr(cidr, '/') == NULL) {
        exec_errf(err, errlen, "--network_cidr: not a.b.c.d/len: %s", cidr);
        return -1;
    }
    memcpy(buf, cidr, strlen(cidr) + 1);
    slash = strchr(buf, '/');
    *slash = '\0';
    errno = 0;
    prefix = strtol(slash + 1, &end, 10);
    if (inet_pton(AF_INET, buf, &a) != 1 || *end != '\0' ||
        end == slash + 1 || prefix < 8 || prefix > 30) {
        exec_errf(err, errlen,
                "--network_cidr: not a.b.c.d/len with len 8..30: %s", cidr);
        return -1;
    }
    c->net = ntohl(a.s_addr);
    c->prefix = (int)prefix;
    if ((c->net & (0xffffffffu >> prefix)) != 0) {
        exec_errf(err, errlen, "--network_cidr: host bits set in %s", cidr);
        return -1;
    }
    if (work_dir == NULL || work_dir[0] != '/' ||
        (size_t)snprintf(c->state_dir, sizeof(c->state_dir), "%s/net",
                         work_dir) >= sizeof(c->state_dir)) {
        exec_errf(err, errlen, "network: work_dir must be an absolute path");
        return -1;
    }
    memcpy(c->table, NET_DEFAULT_TABLE, sizeof(NET_DEFAULT_TABLE));
    memcpy(c->nft, "nft", 4);
    return 0;
}

static void ip_text(uint32_t ip, char *buf, size_t len)
{
    struct in_addr a = {.s_addr = htonl(ip)};

    inet_ntop(AF_INET, &a, buf, (socklen_t)len);
}

static uint32_t host_mask(const struct net_conf *c)
{
    return 0xffffffffu >> c->prefix;
}

/* The host end of the veth of address ip: "ag" + 4 hex digits of the
 * bridge's name + "_" + the host number in hex. Unique while ip is taken,
 * and apart from another agent's with a bridge of its own. */
void net_bridge_veth_name(const struct net_conf *c, uint32_t ip, char *buf,
                          size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    const char *p;

    for (p = c->bridge; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    snprintf(buf, len, "ag%04x_%x", (h ^ (h >> 16)) & 0xffff,
             ip & host_mask(c));
}

/* ---- nft ---- */

/*
 * Runs `nft -f -` with script on its stdin; its output (at most errlen - 1
 * bytes of it) goes to err. Bounded by NET_NFT_TIMEOUT_MS: past it nft is
 * killed. 0 when nft exited 0.
 */
static int nft_run(const struct net_conf *c, const char *script, char *err,
                   size_t errlen)
{
    posix_spawn_file_actions_t fa;
    char *argv[] = {(char *)c->nft, "-f", "-", NULL};
    int in[2], out[2], status = 0, rc;
    size_t used = 0, len = strlen(script), sent = 0;
    struct timespec t0, t, zero = {0, 0};
    sigset_t pipe_set, old_set;
    char sink[512];
    pid_t pid;

    if (pipe2(in, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    rc = posix_spawnp(&pid, c->nft, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        exec_errf(err, errlen, "cannot run %s: %s", c->nft, strerror(rc));
        return -1;
    }
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    /* The script is small (< a pipe's buffer): written at once, then nft's
     * output read until it closes or the deadline passes. An nft that
     * exited before reading must not kill the shim with SIGPIPE: it is
     * blocked meanwhile, and a pending one consumed. */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_set, &old_set);
    while (sent < len) {
        ssize_t w = write(in[1], script + sent, len - sent);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        sent += (size_t)w;
    }
    if (sent < len)
        sigtimedwait(&pipe_set, NULL, &zero);
    sigprocmask(SIG_SETMASK, &old_set, NULL);
    close(in[1]);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        long ms;
        ssize_t r;

        clock_gettime(CLOCK_MONOTONIC, &t);
        ms = (t.tv_sec - t0.tv_sec) * 1000 +
             (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= NET_NFT_TIMEOUT_MS) {
            kill(pid, SIGKILL);
            exec_errf(err, errlen, "%s did not finish in %d ms", c->nft,
                    NET_NFT_TIMEOUT_MS);
            status = -1;
            break;
        }
        if (poll(&p, 1, (int)(NET_NFT_TIMEOUT_MS - ms)) <= 0)
            continue;
        if (err != NULL && used + 1 < errlen) {
            r = read(out[0], err + used, errlen - 1 - used);
            if (r > 0) {
                used += (size_t)r;
                err[used] = '\0';
            }
        } else {
            r = read(out[0], sink, sizeof(sink));
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
    }
    close(out[0]);
    while (waitpid(pid, &rc, 0) < 0 && errno == EINTR)
        ;
    if (status < 0)
        return -1;
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
        if (err != NULL && errlen > 0 && err[0] == '\0')
            exec_errf(err, errlen, "%s failed", c->nft);
        return -1;
    }
    return 0;
}

/* Appends to a bounded script; -1 once it would not fit. */
static int sput(char *s, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(s + *used, NET_SCRIPT_MAX - *used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= NET_SCRIPT_MAX - *used)
        return -1;
    *used += (size_t)n;
    return 0;
}

/* The table and this bridge's maps, idempotently (existing ones are
 * kept). Every name of a bridge ends in its tag: agents with bridges of
 * their own share the table, never a chain or a map. */
static int nft_base(const struct net_conf *c, char *s, size_t *u)
{
    const char *t = c->table, *g = c->tag;

    return sput(s, u,
                "add table ip %s\n"
                "add map ip %s tcp_%s { type inet_service : "
                "ipv4_addr . inet_service; }\n"
                "add map ip %s udp_%s { type inet_service : "
                "ipv4_addr . inet_service; }\n",
                t, t, g, t, g);
}

/*
 * This bridge's chains, rewritten in the same transaction (flush, then
 * add): the rules stay exactly these however many attaches ran, and the
 * maps, which hold the tasks' ports, are never flushed.
 */
static int nft_chains(const struct net_conf *c, char *s, size_t *u)
{
    const char *t = c->table, *g = c->tag, *br = c->bridge;
    char net[INET_ADDRSTRLEN];
    static const char *const hooks[3][3] = {
        {"pre", "prerouting", "dstnat"},
        {"out", "output", "-100"},
        {"post", "postrouting", "srcnat"},
    };
    size_t i;

    ip_text(c->net, net, sizeof(net));
    for (i = 0; i < 3; i++) {
        if (sput(s, u,
                 "add chain ip %s %s_%s { type nat hook %s priority %s; }\n"
                 "flush chain ip %s %s_%s\n",
                 t, hooks[i][0], g, hooks[i][1], hooks[i][2], t, hooks[i][0],
                 g) < 0)
            return -1;
    }
    /* A host port on any of this host's addresses, from other hosts
     * (prerouting) and from this one (output). */
    for (i = 0; i < 2; i++) {
        if (sput(s, u,
                 "add rule ip %s %s_%s fib daddr type local "
                 "dnat ip to tcp dport map @tcp_%s\n"
                 "add rule ip %s %s_%s fib daddr type local "
                 "dnat ip to udp dport map @udp_%s\n",
                 t, hooks[i][0], g, g, t, hooks[i][0], g, g) < 0)
            return -1;
    }
    /* Outbound; this host's 127.0.0.1:port into the bridge; a task
     * reaching another, or itself, through a host port. */
    return sput(s, u,
                "add rule ip %s post_%s ip saddr %s/%d oifname != \"%s\" "
                "masquerade\n"
                "add rule ip %s post_%s oifname \"%s\" ip saddr 127.0.0.0/8 "
                "masquerade\n"
                "add rule ip %s post_%s oifname \"%s\" ip saddr %s/%d "
                "ct status dnat masquerade\n",
                t, g, net, c->prefix, br, t, g, br, t, g, br, net, c->prefix);
}

/* Each mapping as a map element: add (attach) or add then delete
 * (detach: deleting a missing element would fail the transaction). */
static int nft_ports(const struct net_conf *c, char *s, size_t *u,
                     uint32_t ip, const struct net_port_map *m, size_t n,
                     int remove)
{
    char addr[INET_ADDRSTRLEN];
    size_t i;

    ip_text(ip, addr, sizeof(addr));
    for (i = 0; i < n; i++) {
        const char *proto = m[i].udp ? "udp" : "tcp";

        if (sput(s, u, "add element ip %s %s_%s { %u : %s . %u }\n",
                 c->table, proto, c->tag, m[i].host_port, addr,
                 m[i].container_port) < 0)
            return -1;
        if (remove &&
            sput(s, u, "delete element ip %s %s_%s { %u : %s . %u }\n",
                 c->table, proto, c->tag, m[i].host_port, addr,
                 m[i].container_port) < 0)
            return -1;
    }
    return 0;
}

/* ---- the state directory ---- */

static int state_dir_open(const struct net_conf *c, int create)
{
    int fd;

    if (create && mkdir(c->state_dir, 0700) < 0 && errno != EEXIST)
        return -1;
    fd = open(c->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd;
}

struct net_entry {
    char id[NET_ID_MAX + 1];
    uint32_t ip;
    struct net_port_map m[NET_PORTS_MAX];
    size_t n;
};

/* Reads the state file `name` of dir into e. 0, or -1 when it is not one
 * of ours (a name that is no address, a malformed body). */
static int entry_read(int dir, const char *name, struct net_entry *e)
{
    char buf[NET_FILE_MAX + 1], *line, *nl, proto[4];
    struct in_addr a;
    unsigned hp, cp;
    ssize_t len;
    int fd;

    if (inet_pton(AF_INET, name, &a) != 1)
        return -1;
    e->ip = ntohl(a.s_addr);
    fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (len <= 0 || (size_t)len >= sizeof(buf) - 1)
        return -1;
    buf[len] = '\0';
    nl = strchr(buf, '\n');
    if (nl == NULL || (size_t)(nl - buf) > NET_ID_MAX)
        return -1;
    memcpy(e->id, buf, (size_t)(nl - buf));
    e->id[nl - buf] = '\0';
    e->n = 0;
    for (line = nl + 1; *line != '\0'; line = nl + 1) {
        nl = strchr(line, '\n');
        if (nl == NULL || e->n == NET_PORTS_MAX)
            return -1;
        *nl = '\0';
        if (sscanf(line, "%u %u %3s", &hp, &cp, proto) != 3 || hp == 0 ||
            hp > 65535 || cp == 0 || cp > 65535)
            return -1;
        e->m[e->n].host_port = (uint16_t)hp;
        e->m[e->n].container_port = (uint16_t)cp;
        e->m[e->n].udp = strcmp(proto, "udp") == 0;
        e->n++;
    }
    return 0;
}

/* Takes the lowest free address for e (O_EXCL) and writes e into its
 * file. 0, or -1 with err. */
static int entry_take(const struct net_conf *c, int dir, struct net_entry *e,
                      char *err, size_t errlen)
{
    char name[INET_ADDRSTRLEN], body[NET_FILE_MAX];
    uint32_t h, last = host_mask(c) - 1;
    size_t used = 0, i;
    int fd = -1, n;

    n = snprintf(body, sizeof(body), "%s\n", e->id);
    used = (size_t)n;
    for (i = 0; i < e->n; i++) {
        n = snprintf(body + used, sizeof(body) - used, "%u %u %s\n",
                     e->m[i].host_port, e->m[i].container_port,
                     e->m[i].udp ? "udp" : "tcp");
        used += (size_t)n;
    }
    for (h = 2; h <= last; h++) {
        ip_text(c->net | h, name, sizeof(name));
        fd = openat(dir, name,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    0600);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        ip_text(c->net, name, sizeof(name));
        exec_errf(err, errlen, "no free address in %s/%d: %s", name, c->prefix,
                strerror(errno));
        return -1;
    }
    e->ip = c->net | h;
    if (write(fd, body, used) != (ssize_t)used) {
        exec_errf(err, errlen, "cannot write %s/%s: %s", c->state_dir, name,
                strerror(errno));
        close(fd);
        unlinkat(dir, name, 0);
        return -1;
    }
    close(fd);
    return 0;
}

/* Undoes e: its ports, its veth, then its file (last, so a failure
 * leaves the address taken for the next sweep). 0 or -1 with err. */
static int entry_undo(const struct net_conf *c, int dir,
                      const struct net_entry *e, char *err, size_t errlen)
{
    char script[NET_SCRIPT_MAX], veth[IFNAMSIZ], name[INET_ADDRSTRLEN];
    size_t u = 0;
    int rc = 0, lrc;

    if (e->n > 0) {
        if (nft_base(c, script, &u) < 0 ||
            nft_ports(c, script, &u, e->ip, e->m, e->n, 1) < 0 ||
            nft_run(c, script, err, errlen) < 0)
            rc = -1;
    }
    net_bridge_veth_name(c, e->ip, veth, sizeof(veth));
    lrc = net_link_del(veth);
    /* The next task at this address has another MAC. */
    if (lrc == 0)
        lrc = net_link_neigh_del(c->bridge, e->ip);
    if (lrc < 0) {
        exec_errf(err, errlen,
                  "cannot delete link %s or its neighbour entry: %s", veth,
                  strerror(-lrc));
        rc = -1;
    }
    if (rc == 0) {
        ip_text(e->ip, name, sizeof(name));
        unlinkat(dir, name, 0);
    }
    return rc;
}

static int task_id_ok(const char *id)
{
    size_t i;

    for (i = 0; id[i] != '\0'; i++)
        if (id[i] < '!' || id[i] > '~')
            return 0;
    return i > 0 && i <= NET_ID_MAX;
}

/* Writes 1 to a /proc/sys knob (ip_forward, route_localnet). */
static int sysctl_one(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return -1;
    if (write(fd, "1", 1) != 1)
        rc = -1;
    close(fd);
    return rc;
}

/* The host side every task shares: the bridge and forwarding (the
 * table's chains go with the task's ports, in one nft transaction). */
static int host_setup(const struct net_conf *c, char *err, size_t errlen)
{
    char path[128];
    int rc;

    rc = net_link_bridge(c->bridge, c->net | 1, c->prefix);
    if (rc < 0) {
        exec_errf(err, errlen, "bridge %s: %s", c->bridge, strerror(-rc));
        return -1;
    }
    snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet",
             c->bridge);
    if (sysctl_one("/proc/sys/net/ipv4/ip_forward") < 0 ||
        sysctl_one(path) < 0) {
        exec_errf(err, errlen, "cannot turn on ip_forward and %s: %s", path,
                strerror(errno));
        return -1;
    }
    return 0;
}

int net_bridge_attach(const struct net_conf *c, pid_t pid,
                      const char *task_id, const struct net_port_map *m,
                      size_t n, char *ip, size_t iplen, char *err,
                      size_t errlen)
{
    char script[NET_SCRIPT_MAX], veth[IFNAMSIZ], e2[256];
    struct net_entry *e;
    const char *step = "";
    size_t i, j, u = 0;
    int dir, rc;

    if (task_id == NULL || !task_id_ok(task_id)) {
        exec_errf(err, errlen, "network: bad task id");
        return -1;
    }
    if (n > NET_PORTS_MAX) {
        exec_errf(err, errlen, "network: more than %d port mappings",
                NET_PORTS_MAX);
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (m[i].host_port == 0 || m[i].container_port == 0) {
            exec_errf(err, errlen, "network: port mapping %zu: port 0", i);
            return -1;
        }
        for (j = 0; j < i; j++) {
            if (m[j].host_port == m[i].host_port && m[j].udp == m[i].udp) {
                exec_errf(err, errlen, "network: host port %u mapped twice",
                        m[i].host_port);
                return -1;
            }
        }
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        exec_errf(err, errlen, "network: out of memory");
        return -1;
    }
    memcpy(e->id, task_id, strlen(task_id) + 1);
    if (n > 0)
        memcpy(e->m, m, n * sizeof(*m));
    e->n = n;
    dir = state_dir_open(c, 1);
    if (dir < 0) {
        exec_errf(err, errlen, "network: %s: %s", c->state_dir,
                strerror(errno));
        free(e);
        return -1;
    }
    if (entry_take(c, dir, e, err, errlen) < 0) {
        close(dir);
        free(e);
        return -1;
    }
    rc = host_setup(c, err, errlen);
    if (rc == 0) {
        /* A link of this name is a leftover of a crash: the address it
         * is named after was free. */
        net_bridge_veth_name(c, e->ip, veth, sizeof(veth));
        net_link_del(veth);
        net_link_neigh_del(c->bridge, e->ip);
        rc = net_link_veth(veth, c->bridge, pid, e->ip, c->prefix, c->net | 1,
                           &step);
        if (rc < 0)
            exec_errf(err, errlen, "network: %s: %s", step, strerror(-rc));
        rc = rc < 0 ? -1 : 0;
    }
    /* One nft child and one commit a task: the table, its chains
     * (rewritten, so always these) and the task's ports together. */
    if (rc == 0) {
        if (nft_base(c, script, &u) < 0 || nft_chains(c, script, &u) < 0 ||
            nft_ports(c, script, &u, e->ip, m, n, 0) < 0) {
            exec_errf(err, errlen, "network: nft script too long");
            rc = -1;
        } else if (nft_run(c, script, err, errlen) < 0) {
            rc = -1;
        }
    }
    if (rc == 0) {
        ip_text(e->ip, ip, iplen);
    } else {
        /* The ports went in one transaction, the last step: when
         * anything failed none of them is ours (a host port another task
         * holds must stay its). */
        e->n = 0;
        entry_undo(c, dir, e, e2, sizeof(e2));
    }
    close(dir);
    free(e);
    return rc;
}

/* Calls fn for every entry of the state directory; stops at fn's first
 * non-zero. Returns that, 0, or -1 when the directory cannot be read. */
static int entries_each(const struct net_conf *c,
                        int (*fn)(const struct net_conf *, int,
                                  struct net_entry *, void *),
                        void *arg)
{
    struct net_entry *e;
    struct dirent *d;
    DIR *dp;
    int dir, rc = 0;

    dir = state_dir_open(c, 0);
    if (dir < 0)
        return errno == ENOENT ? 0 : -1;
    dp = fdopendir(dir);
    e = malloc(sizeof(*e));
    if (dp == NULL || e == NULL) {
        if (dp != NULL)
            closedir(dp);
        else
            close(dir);
        free(e);
        return -1;
    }
    while (rc == 0 && (d = readdir(dp)) != NULL) {
        if (d->d_name[0] == '.' || entry_read(dir, d->d_name, e) < 0)
            continue;
        rc = fn(c, dir, e, arg);
    }
    closedir(dp);
    free(e);
    return rc;
}

struct detach_arg {
    const char *id;
    int failed;
};

static int detach_one(const struct net_conf *c, int dir, struct net_entry *e,
                      void *arg)
{
    struct detach_arg *d = arg;
    char err[256];

    if (strcmp(e->id, d->id) != 0)
        return 0;
    if (entry_undo(c, dir, e, err, sizeof(err)) < 0)
        d->failed = 1;
    /* Go on: a crash between two attaches of one id may leave two. */
    return 0;
}

int net_bridge_detach(const struct net_conf *c, const char *task_id)
{
    struct detach_arg d = {.id = task_id};

    if (task_id == NULL || !task_id_ok(task_id))
        return 0;
    if (entries_each(c, detach_one, &d) < 0)
        return -1;
    return d.failed ? -1 : 0;
}

struct sweep_arg {
    int (*alive)(void *, const char *);
    void *arg;
    int count;
};

static int sweep_one(const struct net_conf *c, int dir, struct net_entry *e,
                     void *arg)
{
    struct sweep_arg *s = arg;
    char err[256];

    if (s->alive(s->arg, e->id))
        return 0;
    if (entry_undo(c, dir, e, err, sizeof(err)) == 0)
        s->count++;
    return 0;
}

int net_bridge_sweep(const struct net_conf *c,
                     int (*alive)(void *arg, const char *task_id), void *arg)
{
    struct sweep_arg s = {.alive = alive, .arg = arg};

    if (entries_each(c, sweep_one, &s) < 0)
        return -1;
    return s.count;
}
