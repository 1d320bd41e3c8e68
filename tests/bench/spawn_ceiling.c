/*
 * spawn_ceiling.c - what this machine allows a process launcher: the
 * ceiling scripts/bench/agent divides the agent's figures by.
 *
 *   spawn_ceiling N K [DIR]
 *
 * 1. sequential: N times posix_spawn("/bin/sh", "-c", "true") + waitpid;
 * 2. in flight: N spawns with up to K children running at once (a new
 *    one as soon as one is reaped), as the agent's burst runs its shims;
 * 3. with DIR: sequential again, each spawn after the four inodes a
 *    launch needs are made in DIR (a directory <i>, its stdout and
 *    stderr, and a file <i>.meta), on DIR's file system: where making an
 *    inode is costly (ext4 without a journal scans past every inode freed
 *    in the last minutes), this is the ceiling a launcher with files has.
 * For each, prints `name: value unit` lines: spawns/s, and the CPU time
 * of one spawn, the spawner's own (RUSAGE_SELF) and its children's
 * (/bin/sh, RUSAGE_CHILDREN), in microseconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double cpu_of(int who)
{
    struct rusage ru;

    if (getrusage(who, &ru) != 0)
        return 0;
    return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

static int spawn_one(pid_t *pid)
{
    char *argv[] = {"/bin/sh", "-c", "true", NULL};
    int rc = posix_spawn(pid, "/bin/sh", NULL, NULL, argv, environ);

    if (rc != 0)
        fprintf(stderr, "spawn_ceiling: posix_spawn: %s\n", strerror(rc));
    return rc;
}

/* The four inodes of launch i under dir. 0, or -1 (reported). */
static int make_files(const char *dir, long i)
{
    static const char *const files[] = {"%s/%ld/stdout", "%s/%ld/stderr",
                                        "%s/%ld.meta"};
    char path[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/%ld", dir, i);
    if (mkdir(path, 0750) != 0) {
        perror("spawn_ceiling: mkdir");
        return -1;
    }
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        snprintf(path, sizeof(path), files[f], dir, i);
        if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) <
            0) {
            perror("spawn_ceiling: open");
            return -1;
        }
        close(fd);
    }
    return 0;
}

static int reap_one(void)
{
    int status;

    while (waitpid(-1, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("spawn_ceiling: waitpid");
            return -1;
        }
    }
    return 0;
}

/* N spawns, at most k at once, each after its files under dir (NULL:
 * none). 0, or -1 on an error (reported). */
static int run(const char *name, long n, long k, const char *dir)
{
    double t0 = mono(), self0 = cpu_of(RUSAGE_SELF),
           kids0 = cpu_of(RUSAGE_CHILDREN), took;
    long started = 0, running = 0;
    pid_t pid;

    while (started < n || running > 0) {
        if (started < n && running < k) {
            if ((dir && make_files(dir, started) != 0) || spawn_one(&pid) != 0)
                return -1;
            started++;
            running++;
            continue;
        }
        if (reap_one() != 0)
            return -1;
        running--;
    }
    took = mono() - t0;
    printf("ceiling_%s_spawns_per_second: %.0f spawns/s\n", name,
           (double)n / took);
    printf("ceiling_%s_cpu_self_per_spawn: %.0f us\n", name,
           (cpu_of(RUSAGE_SELF) - self0) / (double)n * 1e6);
    printf("ceiling_%s_cpu_children_per_spawn: %.0f us\n", name,
           (cpu_of(RUSAGE_CHILDREN) - kids0) / (double)n * 1e6);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    long k = argc > 2 ? strtol(argv[2], NULL, 10) : n;

    if (n <= 0 || k <= 0) {
        fprintf(stderr, "usage: spawn_ceiling N [in_flight [dir]]\n");
        return 2;
    }
    if (run("sequential", n, 1, NULL) != 0 || run("in_flight", n, k, NULL) != 0)
        return 1;
    if (argc > 3 && run("sequential_with_files", n, 1, argv[3]) != 0)
        return 1;
    return 0;
}
