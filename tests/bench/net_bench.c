/*
 * net_bench.c - what a BRIDGE network costs a task (agent/exec/net.h):
 * net_bridge_attach() with two port mappings plus net_bridge_detach(),
 * beside, in the same run and interleaved, its floor: a new network
 * namespace alone (every BRIDGE task pays it) plus the two `nft -f -`
 * children an attach and a detach run (an empty transaction each).
 * Prints `name: value unit` lines with the ratio to the floor and the
 * load average. Root only; its own bridge, subnet and table.
 *
 *     build/tests/net_bench [N]     (N = 50 rounds)
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct rusage s, c;

    getrusage(RUSAGE_SELF, &s);
    getrusage(RUSAGE_CHILDREN, &c);
    return (double)(s.ru_utime.tv_sec + s.ru_stime.tv_sec + c.ru_utime.tv_sec +
                    c.ru_stime.tv_sec) +
           (double)(s.ru_utime.tv_usec + s.ru_stime.tv_usec +
                    c.ru_utime.tv_usec + c.ru_stime.tv_usec) / 1e6;
}

/* A child in a new network namespace, waiting; its pid. */
static pid_t netns_child(void)
{
    int p[2];
    pid_t pid;
    char b;

    if (pipe(p) < 0)
        exit(1);
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        if (unshare(CLONE_NEWNET) < 0 || write(p[1], "r", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(p[1]);
    if (read(p[0], &b, 1) != 1)
        exit(1);
    close(p[0]);
    return pid;
}

static void reap(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* `nft -f -` with script on its stdin, as net_bridge.c runs it. */
static int nft(const char *script)
{
    int p[2], st;
    pid_t pid;

    if (pipe(p) < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        dup2(p[0], 0);
        close(p[0]);
        close(p[1]);
        execlp("nft", "nft", "-f", "-", (char *)NULL);
        _exit(127);
    }
    close(p[0]);
    if (write(p[1], script, strlen(script)) < 0)
        return -1;
    close(p[1]);
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, size_t n, double cpu_s,
                   double floor_p50)
{
    qsort(v, n, sizeof(*v), cmp);
    printf("%s p50: %.2f ms\n", name, v[n / 2] * 1e3);
    printf("%s p99: %.2f ms\n", name, v[(n * 99) / 100] * 1e3);
    printf("%s cpu: %.2f ms/op\n", name, cpu_s / (double)n * 1e3);
    if (floor_p50 > 0)
        printf("%s p50 / floor p50: %.2f\n", name, v[n / 2] / floor_p50);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atoi(argv[1]) : 50, i;
    struct net_port_map m[2] = {{32701, 80, 0}, {32702, 53, 1}};
    double *a = calloc(n, sizeof(double)), *f = calloc(n, sizeof(double));
    double t, c, cpu_a = 0, cpu_f = 0, load[3];
    char dir[] = "/tmp/agora-net-bench-XXXXXX", ip[32], err[512];
    struct net_conf conf;

    if (geteuid() != 0) {
        fprintf(stderr, "net_bench: needs root\n");
        return 2;
    }
    if (a == NULL || f == NULL || mkdtemp(dir) == NULL ||
        net_conf_init(&conf, "agbench0", "198.18.7.0/24", dir, err,
                      sizeof(err)) < 0) {
        fprintf(stderr, "net_bench: setup: %s\n", err);
        return 1;
    }
    snprintf(conf.table, sizeof(conf.table), "agora_bench");
    for (i = 0; i < n; i++) {
        pid_t pid;

        /* The floor: a namespace and two empty nft transactions. */
        t = now();
        c = cpu();
        pid = netns_child();
        if (nft("add table ip agora_bench\n") < 0 ||
            nft("add table ip agora_bench\n") < 0)
            return 1;
        reap(pid);
        f[i] = now() - t;
        cpu_f += cpu() - c;

        t = now();
        c = cpu();
        pid = netns_child();
        if (net_bridge_attach(&conf, pid, "bench-task", m, 2, ip, sizeof(ip),
                              err, sizeof(err)) < 0) {
            fprintf(stderr, "net_bench: attach: %s\n", err);
            return 1;
        }
        if (net_bridge_detach(&conf, "bench-task") < 0) {
            fprintf(stderr, "net_bench: detach failed\n");
            return 1;
        }
        reap(pid);
        a[i] = now() - t;
        cpu_a += cpu() - c;
    }
    getloadavg(load, 3);
    printf("rounds: %zu\n", n);
    printf("load average: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
    qsort(f, n, sizeof(*f), cmp);
    report("floor (netns + 2 nft)", f, n, cpu_f, 0);
    report("attach+detach", a, n, cpu_a, f[n / 2]);
    if (nft("delete table ip agora_bench\n") < 0 ||
        net_link_del("agbench0") < 0)
        return 1;
    snprintf(err, sizeof(err), "rm -rf %s", dir);
    return system(err) == 0 ? 0 : 1;
}
