/*
 * test_net.c - BRIDGE networking (agent/exec/net.h) against the real
 * kernel: tasks are children in new network namespaces, traffic is real
 * TCP and UDP through the bridge, the veths and the nftables DNAT.
 *
 * Needs root (CAP_NET_ADMIN) and Debian's nft; the namespace tests are
 * skipped with a message otherwise. They use a bridge, subnet
 * (198.18.<pid % 256>.0/24, RFC 2544's benchmark range) and table of
 * their own, so they never touch an agent's agora0 or `table ip agora`.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"

/* Per process (main() fills them): two runs at once (a plain and an
 * ASan build) share neither bridge, subnet, host ports nor chains. */
static char T_BRIDGE[16], T_CIDR[32], T_NET[16], T_TABLE[32];
static unsigned T_HP; /* the first of three host ports */
#define T_CPORT 8080

static char work_dir[] = "/tmp/agora-test-net-XXXXXX";

static void setup_conf(struct net_conf *c)
{
    char err[256];

    ck_assert_msg(net_conf_init(c, T_BRIDGE, T_CIDR, work_dir, err,
                                sizeof(err)) == 0,
                  "%s", err);
    snprintf(c->table, sizeof(c->table), "%s", T_TABLE);
}

/* "198.18.x.<host>" of this run. */
static const char *addr(int host)
{
    static char buf[4][32];
    static int next;
    char *b = buf[next++ % 4];

    snprintf(b, 32, "%s.%d", T_NET, host);
    return b;
}

/* The host end of the veth of host number host. */
static const char *veth(const struct net_conf *c, int host)
{
    static char buf[2][IFNAMSIZ];
    static int next;
    char *b = buf[next++ % 2];

    net_bridge_veth_name(c, c->net | (uint32_t)host, b, IFNAMSIZ);
    return b;
}

static int can_run(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_net: SKIP namespace tests: not root\n");
        return 0;
    }
    if (system("nft --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_net: SKIP namespace tests: no nft "
                        "(scripts/setup installs nftables)\n");
        return 0;
    }
    return 1;
}

START_TEST(conf_defaults_and_refusals)
{
    struct net_conf c;
    char err[256];

    ck_assert_int_eq(net_conf_init(&c, NULL, NULL, "/w", err, sizeof(err)),
                     0);
    ck_assert_str_eq(c.bridge, "agora0");
    ck_assert_int_eq(c.prefix, 16);
    ck_assert_uint_eq(c.net, 0xac1f0000u);
    ck_assert_str_eq(c.state_dir, "/w/net");
    ck_assert_str_eq(c.table, "agora");

    ck_assert_int_eq(net_conf_init(&c, "br", "10.1.0.1/16", "/w", err,
                                   sizeof(err)), -1);
    ck_assert_str_eq(err, "--network_cidr: host bits set in 10.1.0.1/16");
    ck_assert_int_eq(net_conf_init(&c, "br", "10.1.0.0/31", "/w", err,
                                   sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "len 8..30"));
    ck_assert_int_eq(net_conf_init(&c, "br", "10.1.0.0", "/w", err,
                                   sizeof(err)), -1);
    ck_assert_int_eq(net_conf_init(&c, "br", "10.1.0.0/x", "/w", err,
                                   sizeof(err)), -1);
    ck_assert_int_eq(net_conf_init(&c, "br", "300.1.0.0/16", "/w", err,
                                   sizeof(err)), -1);
    ck_assert_int_eq(net_conf_init(&c, "a-very-long-bridge-name", NULL, "/w",
                                   err, sizeof(err)), -1);
    ck_assert_str_eq(err, "--network_bridge: longer than 15 bytes");
    ck_assert_int_eq(net_conf_init(&c, "bad name", NULL, "/w", err,
                                   sizeof(err)), -1);
    ck_assert_int_eq(net_conf_init(&c, NULL, NULL, "rel", err, sizeof(err)),
                     -1);
}
END_TEST

START_TEST(attach_refuses_bad_input)
{
    struct net_conf c;
    struct net_port_map m[2] = {{31000, 80, 0}, {31000, 81, 0}};
    char ip[32], err[256];

    setup_conf(&c);
    ck_assert_int_eq(net_bridge_attach(&c, 1, "bad id", m, 1, ip, sizeof(ip),
                                       err, sizeof(err)), -1);
    ck_assert_str_eq(err, "network: bad task id");
    ck_assert_int_eq(net_bridge_attach(&c, 1, "t", m, 2, ip, sizeof(ip), err,
                                       sizeof(err)), -1);
    ck_assert_str_eq(err, "network: host port 31000 mapped twice");
    m[1].host_port = 0;
    ck_assert_int_eq(net_bridge_attach(&c, 1, "t", m, 2, ip, sizeof(ip), err,
                                       sizeof(err)), -1);
    ck_assert_str_eq(err, "network: port mapping 1: port 0");
    /* Nothing of a refused attach is left. */
    ck_assert_int_eq(net_bridge_detach(&c, "t"), 0);
}
END_TEST

/* ---- a task: a child in its own network namespace ---- */

struct task {
    pid_t pid;
    int ready, go; /* child -> parent, parent -> child */
};

static void wait_byte(int fd)
{
    char b;

    if (read(fd, &b, 1) != 1)
        _exit(3);
}

/* The child: serves TCP echo on T_CPORT and UDP echo on T_CPORT + 1,
 * after telling the parent it listens; first dials out to host:port
 * when host is set, sending "hello". */
static void task_main(int ready, int go, const char *host, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    int l, u, one = 1;
    char buf[64];

    /* check's SIGALRM handler came with fork(): the default again, so a
     * task a failed test leaves behind ends by itself. */
    signal(SIGALRM, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(60);
    if (unshare(CLONE_NEWNET) < 0)
        _exit(2);
    if (write(ready, "n", 1) != 1)
        _exit(2);
    wait_byte(go); /* attached */
    l = socket(AF_INET, SOCK_STREAM, 0);
    u = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_port = htons(T_CPORT);
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 8) < 0)
        _exit(4);
    a.sin_port = htons(T_CPORT + 1);
    if (bind(u, (struct sockaddr *)&a, sizeof(a)) < 0)
        _exit(4);
    if (host != NULL) {
        int s = socket(AF_INET, SOCK_STREAM, 0);

        a.sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, host, &a.sin_addr);
        if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            write(s, "hello", 5) != 5)
            _exit(5);
        close(s);
    }
    if (write(ready, "l", 1) != 1)
        _exit(2);
    if (fork() == 0) {
        /* fork() cleared the death signal: set it again. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        alarm(60);
        for (;;) {
            struct sockaddr_in from;
            socklen_t fl = sizeof(from);
            ssize_t n = recvfrom(u, buf, sizeof(buf), 0,
                                 (struct sockaddr *)&from, &fl);

            if (n > 0)
                sendto(u, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
        }
    }
    for (;;) {
        int s = accept(l, NULL, NULL);
        ssize_t n;

        if (s < 0)
            continue;
        n = read(s, buf, sizeof(buf));
        if (n > 0 && write(s, buf, (size_t)n) != n)
            _exit(6);
        close(s);
    }
}

static void task_start(struct task *t, const char *host, int port)
{
    int r[2], g[2];
    char b;

    ck_assert_int_eq(pipe(r), 0);
    ck_assert_int_eq(pipe(g), 0);
    t->pid = fork();
    ck_assert_int_ge(t->pid, 0);
    if (t->pid == 0) {
        close(r[0]);
        close(g[1]);
        /* Its own process group: the UDP child goes with it. */
        setpgid(0, 0);
        task_main(r[1], g[0], host, port);
        _exit(0);
    }
    setpgid(t->pid, t->pid);
    close(r[1]);
    close(g[0]);
    t->ready = r[0];
    t->go = g[1];
    ck_assert_int_eq(read(t->ready, &b, 1), 1); /* in its namespace */
}

/* Lets the task go on after attach and waits until it listens. */
static void task_go(struct task *t)
{
    char b;

    ck_assert_int_eq(write(t->go, "g", 1), 1);
    ck_assert_msg(read(t->ready, &b, 1) == 1, "the task died before "
                                              "listening (no route out?)");
}

static void task_stop(struct task *t)
{
    kill(-t->pid, SIGKILL);
    waitpid(t->pid, NULL, 0);
    close(t->ready);
    close(t->go);
}

/* Why the last tcp_echo() failed, for the assertions' messages. */
static char echo_why[128];

/* A TCP round trip "ping" -> echo to ip:port; 0 when it came back.
 * Timeouts are long (a loaded machine), not measured. */
static int tcp_echo(const char *ip, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {.tv_sec = 20};
    char buf[8] = "";
    int s = socket(AF_INET, SOCK_STREAM, 0), rc = -1;
    const char *step = "connect";

    inet_pton(AF_INET, ip, &a.sin_addr);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        (step = "write", write(s, "ping", 4) == 4) &&
        (step = "read", read(s, buf, 4) == 4) && memcmp(buf, "ping", 4) == 0)
        rc = 0;
    snprintf(echo_why, sizeof(echo_why), "%s:%d: %s: %s", ip, port, step,
             strerror(errno));
    close(s);
    return rc;
}

static int udp_echo(const char *ip, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {.tv_sec = 20};
    char buf[8] = "";
    int s = socket(AF_INET, SOCK_DGRAM, 0), rc = -1;

    inet_pton(AF_INET, ip, &a.sin_addr);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (sendto(s, "pong", 4, 0, (struct sockaddr *)&a, sizeof(a)) == 4 &&
        recv(s, buf, 4, 0) == 4 && memcmp(buf, "pong", 4) == 0)
        rc = 0;
    close(s);
    return rc;
}

/* This host's first IPv4 address that is neither loopback nor a test
 * bridge's. */
static int host_ip(char *buf, size_t len)
{
    struct ifaddrs *ifs, *i;
    int found = -1;

    if (getifaddrs(&ifs) < 0)
        return -1;
    for (i = ifs; i != NULL && found < 0; i = i->ifa_next) {
        struct sockaddr_in *sa = (struct sockaddr_in *)i->ifa_addr;

        /* Not a bridge of a test_net or net_bench running beside us
         * (198.18/15), which may go at any time. */
        if (sa == NULL || sa->sin_family != AF_INET ||
            strcmp(i->ifa_name, "lo") == 0 ||
            (ntohl(sa->sin_addr.s_addr) & 0xfffe0000u) == 0xc6120000u)
            continue;
        inet_ntop(AF_INET, &sa->sin_addr, buf, (socklen_t)len);
        found = 0;
    }
    freeifaddrs(ifs);
    return found;
}

static int nft_has(const char *what)
{
    char cmd[256], out[8192];
    FILE *p;
    size_t n;

    snprintf(cmd, sizeof(cmd), "nft list table ip %s 2>&1", T_TABLE);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    return strstr(out, what) != NULL;
}

static void cleanup_host(void)
{
    char cmd[256];

    net_link_del(T_BRIDGE);
    snprintf(cmd, sizeof(cmd),
             "nft delete table ip %s 2>/dev/null; rm -rf %s", T_TABLE,
             work_dir);
    if (system(cmd) < 0)
        return;
}

/* The sweep's question: is the task alive? Only the one named by arg. */
static int alive_if(void *arg, const char *task_id)
{
    return strcmp(arg, task_id) == 0;
}

START_TEST(attach_forward_detach)
{
    struct net_conf c;
    struct net_port_map m[2] = {{(uint16_t)T_HP, T_CPORT, 0},
                                {(uint16_t)(T_HP + 1), T_CPORT + 1, 1}};
    char want[128];
    struct task t1, t2, t3;
    char ip1[32], ip2[32], ip3[32], err[512], host[64], elem[PATH_MAX + 32], buf[16];
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof(a);
    int l, s, have_host;

    if (!can_run())
        return;
    setup_conf(&c);
    have_host = host_ip(host, sizeof(host)) == 0;

    /* The host listens for the task's outbound connection. */
    l = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(l, 4), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);

    task_start(&t1, have_host ? host : NULL, ntohs(a.sin_port));
    ck_assert_msg(net_bridge_attach(&c, t1.pid, "app.task-1", m, 2, ip1,
                                    sizeof(ip1), err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_str_eq(ip1, addr(2));
    task_go(&t1);
    if (have_host) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        char peer[32];

        s = accept(l, (struct sockaddr *)&from, &fl);
        ck_assert_int_ge(s, 0);
        ck_assert_int_eq(read(s, buf, 5), 5);
        ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
        inet_ntop(AF_INET, &from.sin_addr, peer, sizeof(peer));
        ck_assert_str_eq(peer, ip1);
        close(s);
    }
    close(l);

    /* This host: loopback, the host's address, the task's own. */
    ck_assert_msg(tcp_echo("127.0.0.1", (int)T_HP) == 0, "%s", echo_why);
    ck_assert_msg(tcp_echo(ip1, T_CPORT) == 0, "%s", echo_why);
    if (have_host)
        ck_assert_msg(tcp_echo(host, (int)T_HP) == 0, "%s", echo_why);
    ck_assert_int_eq(udp_echo("127.0.0.1", (int)T_HP + 1), 0);
    /* An unmapped port is not forwarded. */
    ck_assert_int_ne(tcp_echo("127.0.0.1", (int)T_HP + 2), 0);

    /* A second task: its own address; from it, like another host would,
     * the first task's host port (prerouting, not output). */
    task_start(&t2, NULL, 0);
    ck_assert_msg(net_bridge_attach(&c, t2.pid, "app.task-2", NULL, 0, ip2,
                                    sizeof(ip2), err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_str_eq(ip2, addr(3));
    task_go(&t2);
    if (have_host) {
        pid_t p = fork();
        int st;

        if (p == 0) {
            char path[64];
            int fd;

            snprintf(path, sizeof(path), "/proc/%d/ns/net", t2.pid);
            fd = open(path, O_RDONLY);
            if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
                _exit(2);
            _exit(tcp_echo(host, (int)T_HP) == 0 ? 0 : 1);
        }
        ck_assert_int_eq(waitpid(p, &st, 0), p);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "task 2 cannot reach task 1 through %s:%u", host, T_HP);
    }
    /* A host port taken by another task is refused, nothing kept. */
    task_start(&t3, NULL, 0);
    ck_assert_int_eq(net_bridge_attach(&c, t3.pid, "app.task-3", m, 1, ip3,
                                       sizeof(ip3), err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%u", T_HP);
    ck_assert_msg(strstr(err, want) != NULL, "%s", err);
    snprintf(elem, sizeof(elem), "%s/%s", c.state_dir, addr(4));
    ck_assert_int_eq(access(elem, F_OK), -1);
    ck_assert_uint_eq(net_link_index(veth(&c, 4)), 0);

    /* Detach: the links, the forwards and the address go. */
    ck_assert_uint_ne(net_link_index(veth(&c, 2)), 0);
    snprintf(want, sizeof(want), "%u : %s . 8080", T_HP, addr(2));
    ck_assert_int_eq(nft_has(want), 1);
    ck_assert_int_eq(net_bridge_detach(&c, "app.task-1"), 0);
    ck_assert_uint_eq(net_link_index(veth(&c, 2)), 0);
    snprintf(want, sizeof(want), "%u :", T_HP);
    ck_assert_int_eq(nft_has(want), 0);
    snprintf(want, sizeof(want), "%u :", T_HP + 1);
    ck_assert_int_eq(nft_has(want), 0);
    ck_assert_int_ne(tcp_echo("127.0.0.1", (int)T_HP), 0);
    ck_assert_int_eq(net_bridge_detach(&c, "app.task-1"), 0);
    task_stop(&t1);

    /* The address is taken again, and so is the host port. */
    ck_assert_msg(net_bridge_attach(&c, t3.pid, "app.task-3", m, 1, ip3,
                                    sizeof(ip3), err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_str_eq(ip3, addr(2));
    task_go(&t3);
    ck_assert_msg(tcp_echo("127.0.0.1", (int)T_HP) == 0, "%s", echo_why);

    /* The sweep at agent start: task 3 is alive, task 2 is not. */
    task_stop(&t2);
    ck_assert_int_eq(net_bridge_sweep(&c, alive_if, "app.task-3"), 1);
    ck_assert_uint_eq(net_link_index(veth(&c, 3)), 0);
    ck_assert_uint_ne(net_link_index(veth(&c, 2)), 0);
    ck_assert_int_eq(net_bridge_detach(&c, "app.task-3"), 0);
    ck_assert_int_eq(nft_has("elements"), 0);
    task_stop(&t3);
    cleanup_host();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("net");
    SRunner *r;
    int failed;

    if (mkdtemp(work_dir) == NULL)
        return 1;
    snprintf(T_BRIDGE, sizeof(T_BRIDGE), "agt%d", (int)(getpid() % 100000));
    snprintf(T_NET, sizeof(T_NET), "198.18.%d", (int)(getpid() % 256));
    snprintf(T_CIDR, sizeof(T_CIDR), "%s.0/24", T_NET);
    snprintf(T_TABLE, sizeof(T_TABLE), "agora_test_%d", (int)getpid());
    T_HP = 33000 + (unsigned)(getpid() % 1000) * 4;
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, conf_defaults_and_refusals);
    tcase_add_test(tc, attach_refuses_bad_input);
    tcase_add_test(tc, attach_forward_detach);
    suite_add_tcase(s, tc);
    r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    cleanup_host();
    return failed == 0 ? 0 : 1;
}
