/*
 * cgroups.c - detection of the cgroup hierarchies and one cgroup a task
 * (see cgroups.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups.h"
#include "exec.h"
#include "proc.h"
#include "log.h"

#define CG_LOG "cgroups"
/* Cgroup knobs and stat files are small; memory.stat is the biggest. */
#define CG_FILE_MAX 16384

static const char *const ctl_names[CG_NCTL] = {"memory", "cpu", "cpuacct",
                                               "pids"};

static void pool_clear_old(const struct cgroups *cg);
static int pool_orphan(const struct cgroups *cg, const char *name);
static void pool_rmdir(const struct cgroups *cg, const struct cg_pooled *e);

/* ---- mountinfo ---- */

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
    char *o = s;

    while (*s) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
            s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
}

static int has_token(const char *list, const char *tok, char sep)
{
    size_t n = strlen(tok);
    const char *p = list;

    while (p && *p) {
        const char *e = strchr(p, sep);
        size_t len = e ? (size_t)(e - p) : strlen(p);

        if (len == n && memcmp(p, tok, n) == 0)
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* A whitespace-separated list ("cpu memory pids") has tok. */
static int has_word(const char *list, const char *tok)
{
    size_t n = strlen(tok);
    const char *p = list;

    while (*p) {
        while (*p == ' ' || *p == '\n' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ' ' && *e != '\n' && *e != '\t')
            e++;
        if ((size_t)(e - p) == n && memcmp(p, tok, n) == 0)
            return 1;
        p = e;
    }
    return 0;
}

struct mounts {
    char *v2;
    char *v1[CG_NCTL];
};

static void mounts_free(struct mounts *m)
{
    free(m->v2);
    for (int i = 0; i < CG_NCTL; i++)
        free(m->v1[i]);
}

/* One mountinfo line: "id parent maj:min root mnt opts [tags] - fs src
 * superopts". */
static int mount_line(char *line, struct mounts *m)
{
    char *f[6] = {0}, *save = NULL, *tok;
    char *dash = strstr(line, " - ");
    char *fstype, *superopts;
    int n = 0;

    if (!dash)
        return 0;
    *dash = '\0';
    for (tok = strtok_r(line, " ", &save); tok && n < 6;
         tok = strtok_r(NULL, " ", &save))
        f[n++] = tok;
    if (n < 5)
        return 0;
    save = NULL;
    fstype = strtok_r(dash + 3, " ", &save);
    (void)strtok_r(NULL, " ", &save); /* source */
    superopts = strtok_r(NULL, " \n", &save);
    if (!fstype)
        return 0;
    unescape(f[4]);
    if (strcmp(fstype, "cgroup2") == 0) {
        if (!m->v2 && !(m->v2 = strdup(f[4])))
            return -ENOMEM;
    } else if (strcmp(fstype, "cgroup") == 0 && superopts) {
        for (int i = 0; i < CG_NCTL; i++) {
            if (!m->v1[i] && has_token(superopts, ctl_names[i], ',') &&
                !(m->v1[i] = strdup(f[4])))
                return -ENOMEM;
        }
    }
    return 0;
}

static int read_mounts(struct mounts *m)
{
    FILE *fp = fopen("/proc/self/mountinfo", "re");
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;

    if (!fp)
        return -errno;
    while (rc == 0 && getline(&line, &cap, fp) > 0)
        rc = mount_line(line, m);
    free(line);
    fclose(fp);
    return rc;
}

/* ---- helpers ---- */

static char *path_join(const char *a, const char *b)
{
    char *p;

    if (asprintf(&p, "%s/%s", a, b) < 0)
        return NULL;
    return p;
}

/* Writes value to <dir>/<file>. 0 or -errno. */
static int knob_write(const char *dir, const char *file, const char *value)
{
    char path[PATH_MAX];

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >=
        sizeof(path))
        return -ENAMETOOLONG;
    return exec_write_file(path, value, strlen(value));
}

static ssize_t knob_read(const char *dir, const char *file, char *buf,
                         size_t cap)
{
    char path[PATH_MAX];

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >=
        sizeof(path))
        return -ENAMETOOLONG;
    return exec_read_file(AT_FDCWD, path, buf, cap);
}

/* The value of "key N" in a key-value file (memory.stat, cpu.stat). */
static int kv_get(const char *buf, const char *key, uint64_t *out)
{
    size_t n = strlen(key);
    const char *p = buf;

    while (p && *p) {
        if (strncmp(p, key, n) == 0 && p[n] == ' ') {
            *out = strtoull(p + n + 1, NULL, 10);
            return 0;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -ENOENT;
}

static int knob_u64(const char *dir, const char *file, uint64_t *out)
{
    char buf[64];
    ssize_t n = knob_read(dir, file, buf, sizeof(buf));

    if (n < 0)
        return (int)n;
    if (strncmp(buf, "max", 3) == 0) {
        *out = 0;
        return 0;
    }
    *out = strtoull(buf, NULL, 10);
    return 0;
}

static char *task_dir(const struct cgroups *cg, int ctl, const char *name)
{
    if (!cg->dir[ctl])
        return NULL;
    return path_join(cg->dir[ctl], name);
}

/* ---- detection ---- */

static int make_root(const char *mnt, const char *root, char **out)
{
    char *dir = path_join(mnt, root);

    if (!dir)
        return -ENOMEM;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        int e = -errno;
        free(dir);
        return e;
    }
    *out = dir;
    return 0;
}

static int try_v2(struct cgroups *cg, const char *mnt, const char *root,
                  char *why, size_t whylen)
{
    static const char *const need[] = {"memory", "cpu", "pids"};
    char buf[512];
    char *dir = NULL;
    ssize_t n = knob_read(mnt, "cgroup.controllers", buf, sizeof(buf));
    int rc;

    if (n < 0) {
        snprintf(why, whylen, "%s/cgroup.controllers: %s", mnt,
                 strerror((int)-n));
        return -1;
    }
    for (size_t i = 0; i < 3; i++) {
        if (!has_word(buf, need[i])) {
            snprintf(why, whylen,
                     "cgroup2 at %s lacks the %s controller (has \"%.*s\")",
                     mnt, need[i], (int)strcspn(buf, "\n"), buf);
            return -1;
        }
    }
    n = knob_read(mnt, "cgroup.subtree_control", buf, sizeof(buf));
    for (size_t i = 0; n >= 0 && i < 3; i++) {
        char add[16];
        if (has_word(buf, need[i]))
            continue;
        snprintf(add, sizeof(add), "+%s", need[i]);
        if ((rc = knob_write(mnt, "cgroup.subtree_control", add)) != 0) {
            snprintf(why, whylen, "enabling %s in %s: %s", need[i], mnt,
                     strerror(-rc));
            return -1;
        }
    }
    if ((rc = make_root(mnt, root, &dir)) != 0) {
        snprintf(why, whylen, "mkdir %s/%s: %s", mnt, root, strerror(-rc));
        return -1;
    }
    rc = knob_write(dir, "cgroup.subtree_control", "+memory +cpu +pids");
    if (rc != 0) {
        snprintf(why, whylen, "%s/cgroup.subtree_control: %s", dir,
                 strerror(-rc));
        free(dir);
        return -1;
    }
    cg->kind = CG_V2;
    cg->dir[CG_MEMORY] = dir;
    return 0;
}

/*
 * v1's pids hierarchy is not joined (as Mesos, which joins it only with
 * its cgroups/pids isolator): agora set no limit there and only counted a
 * task's processes, which cgroup.procs of its memory cgroup tells, and a
 * fourth hierarchy was a quarter of a launch's cgroup work (a mkdir, a
 * join, a css_set). What earlier agents left there goes when empty: slots
 * of agents no longer running, and cgroups named by task id (older
 * still); a task still running in one keeps it until a later start.
 */
static void pids_v1_sweep(const struct cgroups *cg, const char *mnt,
                          const char *root)
{
    char *dir = mnt ? path_join(mnt, root) : NULL;
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;

    while (d && (e = readdir(d))) {
        if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 ||
            strcmp(e->d_name, "..") == 0)
            continue;
        if (e->d_name[0] != '.' || pool_orphan(cg, e->d_name))
            (void)unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
    }
    if (d) {
        closedir(d);
        (void)rmdir(dir); /* when nothing is left */
    }
    free(dir);
}

static int try_v1(struct cgroups *cg, struct mounts *m, const char *root,
                  char *why, size_t whylen)
{
    int rc;

    if (!m->v1[CG_MEMORY]) {
        snprintf(why, whylen, "no cgroup v1 memory hierarchy is mounted");
        return -1;
    }
    if ((rc = make_root(m->v1[CG_MEMORY], root, &cg->dir[CG_MEMORY])) != 0) {
        snprintf(why, whylen, "mkdir %s/%s: %s", m->v1[CG_MEMORY], root,
                 strerror(-rc));
        return -1;
    }
    for (int i = CG_CPU; i < CG_NCTL; i++) {
        if (!m->v1[i] || i == CG_PIDS)
            continue;
        rc = make_root(m->v1[i], root, &cg->dir[i]);
        if (rc != 0)
            log_warn(CG_LOG, "not using the %s controller: mkdir %s/%s: %s",
                     ctl_names[i], m->v1[i], root, strerror(-rc));
    }
    if (cg->dir[CG_CPU]) {
        uint64_t p = 0;
        if (knob_u64(cg->dir[CG_CPU], "cpu.cfs_period_us", &p) == 0 && p > 0)
            cg->cfs_period_us = (long)p;
    }
    cg->kind = CG_V1;
    cg->pool_pid = getpid();
    pool_clear_old(cg);
    pids_v1_sweep(cg, m->v1[CG_PIDS], root);
    return 0;
}

int cg_detect(struct cgroups *cg, const char *mode, const char *root, char *err,
              size_t errlen)
{
    struct mounts m;
    char why2[512] = "no cgroup2 mount", why1[512] = "";
    int required = mode && strcmp(mode, "cgroups") == 0;
    int rc;

    memset(cg, 0, sizeof(*cg));
    memset(&m, 0, sizeof(m));
    cg->cfs_period_us = 100000;
    if (!root || !*root || strchr(root, '.') == root)
        root = "agora";
    if ((rc = read_mounts(&m)) != 0) {
        snprintf(err, errlen, "reading /proc/self/mountinfo: %s",
                 strerror(-rc));
        mounts_free(&m);
        return required ? AGORA_EIO : 0;
    }
    if (m.v2 && try_v2(cg, m.v2, root, why2, sizeof(why2)) == 0)
        goto done;
    if (try_v1(cg, &m, root, why1, sizeof(why1)) == 0) {
        if (m.v2)
            log_info(CG_LOG, "not using cgroups v2: %s", why2);
        goto done;
    }
    cg_free(cg);
    snprintf(err, errlen, "no usable cgroup hierarchy (%s; %s)", why2, why1);
    mounts_free(&m);
    return required ? AGORA_ENOTSUP : 0;
done:
    mounts_free(&m);
    return 0;
}

void cg_free(struct cgroups *cg)
{
    while (cg->npool > 0)
        pool_rmdir(cg, &cg->pool[--cg->npool]);
    for (int i = 0; i < CG_NCTL; i++) {
        free(cg->dir[i]);
        cg->dir[i] = NULL;
    }
    cg->kind = CG_NONE;
}

const char *cg_name(const struct cgroups *cg)
{
    switch (cg->kind) {
    case CG_V2:
        return "cgroups-v2";
    case CG_V1:
        return "cgroups-v1";
    default:
        return "posix";
    }
}

size_t cg_task_dirs(const struct cgroups *cg, const char *name,
                    char *out[CG_MAX_DIRS])
{
    size_t n = 0;

    for (int i = 0; i < CG_NCTL; i++) {
        int dup = 0;
        if (!cg->dir[i])
            continue;
        for (int j = 0; j < i; j++)
            dup |= cg->dir[j] && strcmp(cg->dir[j], cg->dir[i]) == 0;
        if (dup)
            continue;
        if (!(out[n] = path_join(cg->dir[i], name))) {
            cg_dirs_free(out, n);
            return 0;
        }
        n++;
    }
    return n;
}

void cg_dirs_free(char *dirs[], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(dirs[i]);
        dirs[i] = NULL;
    }
}

/* ---- one task ---- */

/* The v1 limits a task asks for, as written to its cgroup. */
static struct cg_pooled limits_v1(const struct cgroups *cg, double cpus,
                                  uint64_t mem)
{
    struct cg_pooled l = {.mem = mem, .shares = 1024, .quota = -1,
                          .oom_fd = -1};

    if (cpus > 0) {
        l.shares = (uint64_t)(cpus * 1024);
        if (l.shares < 2)
            l.shares = 2;
        if (cg->enable_cfs) {
            l.quota = (long)(cpus * (double)cg->cfs_period_us);
            if (l.quota < 1000)
                l.quota = 1000;
        }
    }
    return l;
}

/*
 * Writes the limits of want that differ from have (a fresh cgroup's
 * defaults, or what a kept one was given). The CFS quota is the costly
 * one: the kernel walks every task group of the machine on each write.
 */
static int set_limits_v1(const struct cgroups *cg, const char *name,
                         const struct cg_pooled *want,
                         const struct cg_pooled *have, char *err, size_t errlen)
{
    char val[64], *d;
    int rc = 0;

    if (want->mem != have->mem && (d = task_dir(cg, CG_MEMORY, name))) {
        if (want->mem)
            snprintf(val, sizeof(val), "%" PRIu64, want->mem);
        else
            snprintf(val, sizeof(val), "-1");
        rc = knob_write(d, "memory.limit_in_bytes", val);
        if (rc)
            snprintf(err, errlen, "%s/memory.limit_in_bytes: %s", d,
                     strerror(-rc));
        free(d);
        if (rc)
            return rc;
    }
    if ((d = task_dir(cg, CG_CPU, name))) {
        if (want->shares != have->shares) {
            snprintf(val, sizeof(val), "%" PRIu64, want->shares);
            rc = knob_write(d, "cpu.shares", val);
        }
        if (rc == 0 && want->quota != have->quota) {
            snprintf(val, sizeof(val), "%ld", want->quota);
            rc = knob_write(d, "cpu.cfs_quota_us", val);
        }
        if (rc)
            snprintf(err, errlen, "%s: cpu limits: %s", d, strerror(-rc));
        free(d);
    }
    return rc;
}

static int set_limits_v2(const struct cgroups *cg, const char *dir, double cpus,
                         uint64_t mem, char *err, size_t errlen)
{
    char val[64];
    int rc = 0;

    if (mem > 0) {
        snprintf(val, sizeof(val), "%" PRIu64, mem);
        if ((rc = knob_write(dir, "memory.max", val)) != 0) {
            snprintf(err, errlen, "%s/memory.max: %s", dir, strerror(-rc));
            return rc;
        }
        (void)knob_write(dir, "memory.swap.max", "0");
    }
    /* The whole task dies on an OOM, as Mesos destroys the container. */
    (void)knob_write(dir, "memory.oom.group", "1");
    if (cpus > 0) {
        uint64_t shares = (uint64_t)(cpus * 1024);
        uint64_t weight;
        long quota = (long)(cpus * (double)cg->cfs_period_us);

        if (shares < 2)
            shares = 2;
        if (shares > 262144)
            shares = 262144;
        /* The conversion systemd and Kubernetes use. */
        weight = 1 + ((shares - 2) * 9999) / 262142;
        snprintf(val, sizeof(val), "%" PRIu64, weight);
        rc = knob_write(dir, "cpu.weight", val);
        if (rc == 0 && cg->enable_cfs) {
            snprintf(val, sizeof(val), "%ld %ld", quota < 1000 ? 1000 : quota,
                     cg->cfs_period_us);
            rc = knob_write(dir, "cpu.max", val);
        }
        if (rc)
            snprintf(err, errlen, "%s: cpu limits: %s", dir, strerror(-rc));
    }
    return rc;
}

/* ---- v1: cgroups named by slot, and kept for the next task ---- */

/* A v1 task's cgroups are named `.t.<agent pid>.<serial>` (a name no
 * task id is given here), so that an ended task's can serve the next
 * one as they are: a rename of a cgroup directory costs as much as a
 * mkdir, and one a hierarchy at each start and end was a seventh of the
 * agent's loop in a burst. An older agent kept them as `.free.<pid>.<n>`
 * and renamed them to task ids. */
#define SLOT_PREFIX ".t."
#define OLD_POOL_PREFIX ".free."

static void slot_name(const struct cgroups *cg, unsigned serial,
                      char name[CG_SLOT_NAME_MAX])
{
    snprintf(name, CG_SLOT_NAME_MAX, SLOT_PREFIX "%d.%u", (int)cg->pool_pid,
             serial);
}

/* The serial of one of this agent's slot names; -1 for another name. */
static long slot_serial(const struct cgroups *cg, const char *name)
{
    char mine[CG_SLOT_NAME_MAX];
    size_t n;
    char *end;
    unsigned long v;

    n = (size_t)snprintf(mine, sizeof(mine), SLOT_PREFIX "%d.",
                         (int)cg->pool_pid);
    if (strncmp(name, mine, n) != 0 || name[n] < '0' || name[n] > '9')
        return -1;
    errno = 0;
    v = strtoul(name + n, &end, 10);
    return *end || errno || v > UINT_MAX ? -1 : (long)v;
}

static size_t pool_dirs(const struct cgroups *cg, unsigned serial,
                        char *out[CG_MAX_DIRS])
{
    char name[CG_SLOT_NAME_MAX];

    slot_name(cg, serial, name);
    return cg_task_dirs(cg, name, out);
}

/* Removes a kept cgroup, and closes its OOM eventfd. */
static void pool_rmdir(const struct cgroups *cg, const struct cg_pooled *e)
{
    char *dirs[CG_MAX_DIRS];
    size_t n = pool_dirs(cg, e->serial, dirs);

    if (e->oom_fd >= 0)
        close(e->oom_fd);
    for (size_t i = 0; i < n; i++)
        if (rmdir(dirs[i]) != 0 && errno != ENOENT)
            log_warn(CG_LOG, "rmdir %s: %s", dirs[i], strerror(errno));
    cg_dirs_free(dirs, n);
}

/* Resets what a kept cgroup counted for its last task: the CPU time
 * (cpuacct.usage_user/_sys, which cg_usage reads) and the memory peak. */
static void pool_reset(const struct cgroups *cg, const char *name)
{
    char *d;

    if ((d = task_dir(cg, CG_CPUACCT, name))) {
        (void)knob_write(d, "cpuacct.usage", "0");
        free(d);
    }
    if ((d = task_dir(cg, CG_MEMORY, name))) {
        (void)knob_write(d, "memory.max_usage_in_bytes", "0");
        free(d);
    }
}

/* A kept cgroup for a task, limits set: 0 with its name and OOM eventfd
 * (or -1), or -errno when there was none to take (or it could not be
 * used, and was removed). */
static int pool_take(struct cgroups *cg, const struct cg_pooled *want,
                     char name[CG_SLOT_NAME_MAX], int *oom_fd)
{
    char err[256];
    struct cg_pooled e;
    int rc;

    if (cg->kind != CG_V1 || cg->npool == 0)
        return -ENOENT;
    e = cg->pool[--cg->npool];
    slot_name(cg, e.serial, name);
    if (!e.fresh)
        pool_reset(cg, name);
    /* A lower memory limit the kernel cannot reclaim down to (pages the
     * last task left in tmpfs): this one goes, a fresh one is made. */
    if ((rc = set_limits_v1(cg, name, want, &e, err, sizeof(err))) != 0)
        pool_rmdir(cg, &e);
    else
        *oom_fd = e.oom_fd;
    return rc;
}

/* The memory hierarchy holds every process of a task (the shim joins it
 * first): its cgroup.procs is empty when the task is all gone. */
static int is_empty(const struct cgroups *cg, const char *name)
{
    char buf[16];
    char *d = task_dir(cg, CG_MEMORY, name);
    ssize_t n = d ? knob_read(d, "cgroup.procs", buf, sizeof(buf)) : -1;

    free(d);
    return n == 0;
}

size_t cg_pool_trim(struct cgroups *cg, size_t max)
{
    size_t n = 0;

    while (n < max && cg->npool - n > CG_POOL_KEEP)
        pool_rmdir(cg, &cg->pool[n++]);
    if (n > 0) {
        cg->npool -= n;
        memmove(cg->pool, cg->pool + n, cg->npool * sizeof(cg->pool[0]));
    }
    return cg->npool > CG_POOL_KEEP ? cg->npool - CG_POOL_KEEP : 0;
}

int cg_release(struct cgroups *cg, const char *name, double cpus,
               uint64_t mem_bytes, int oom_fd)
{
    long serial = slot_serial(cg, name);
    int rc = 0;

    if (cg->kind != CG_V1 || cg->npool == CG_POOL_MAX || serial < 0)
        rc = -ENOSPC;
    else if (!is_empty(cg, name))
        rc = -EBUSY;
    if (rc != 0) {
        if (oom_fd >= 0)
            close(oom_fd);
        return rc;
    }
    cg->pool[cg->npool] = limits_v1(cg, cpus, mem_bytes);
    cg->pool[cg->npool].oom_fd = oom_fd;
    cg->pool[cg->npool++].serial = (unsigned)serial;
    return 0;
}

/* A slot (or an older agent's kept cgroup, .free.<pid>.<serial>) of no
 * live agent: its pid is gone, or is this agent's (an earlier one's). */
static int pool_orphan(const struct cgroups *cg, const char *name)
{
    size_t np = strlen(SLOT_PREFIX);
    char *end;
    long pid;

    if (strncmp(name, SLOT_PREFIX, np) != 0) {
        np = strlen(OLD_POOL_PREFIX);
        if (strncmp(name, OLD_POOL_PREFIX, np) != 0)
            return 0;
    }
    pid = strtol(name + np, &end, 10);
    if (end == name + np || *end != '.' || pid <= 0)
        return 0;
    return pid == (long)cg->pool_pid ||
           (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

/* What an earlier agent kept, and the slots of its tasks that ended
 * while no agent ran: removed when empty (a running task's stays, EBUSY;
 * its agent's recovery knows it by the name in its meta file). Several
 * agents may share a root (tests): each names its own by its pid. */
static void pool_clear_old(const struct cgroups *cg)
{
    for (int i = 0; i < CG_NCTL; i++) {
        DIR *d = cg->dir[i] ? opendir(cg->dir[i]) : NULL;
        struct dirent *e;

        while (d && (e = readdir(d))) {
            if (!pool_orphan(cg, e->d_name))
                continue;
            if (unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) != 0 &&
                errno != EBUSY)
                log_warn(CG_LOG, "rmdir %s/%s: %s", cg->dir[i], e->d_name,
                         strerror(errno));
        }
        if (d)
            closedir(d);
    }
}

/* Makes the cgroups at name (one a hierarchy). 0, -EEXIST when the
 * first exists (a slot name: the caller tries another), or -errno. */
static int make_dirs(const struct cgroups *cg, const char *name, int slot,
                     char *err, size_t errlen)
{
    char *dirs[CG_MAX_DIRS];
    size_t n = cg_task_dirs(cg, name, dirs);
    int rc = 0;

    if (n == 0) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (mkdir(dirs[i], 0755) == 0 || (errno == EEXIST && !(slot && i == 0)))
            continue;
        rc = -errno;
        snprintf(err, errlen, "mkdir %s: %s", dirs[i], strerror(errno));
    }
    cg_dirs_free(dirs, n);
    return rc;
}

/* v2: the task's cgroup is named by its id (nothing is kept). */
static int create_v2(struct cgroups *cg, const char *task_id, double cpus,
                     uint64_t mem_bytes, char **name, char *err, size_t errlen)
{
    char *d = task_dir(cg, CG_MEMORY, task_id);
    int rc = d ? make_dirs(cg, task_id, 0, err, errlen) : -ENOMEM;

    if (rc == 0)
        rc = set_limits_v2(cg, d, cpus, mem_bytes, err, errlen);
    if (rc == 0 && !(*name = strdup(task_id)))
        rc = -ENOMEM;
    if (rc != 0)
        (void)cg_remove(cg, task_id);
    free(d);
    return rc;
}

/* Tries of a new slot name whose cgroup exists already (an earlier
 * agent with this pid left a running task's). */
#define SLOT_TRIES 64

/* What a new cgroup has: no memory limit, 1024 shares, no quota. */
static const struct cg_pooled fresh_limits = {.mem = 0, .shares = 1024,
                                              .quota = -1};

/* A new slot: its name in slot, its serial in *serial. 0 or -errno with
 * a reason in err. */
static int slot_make(struct cgroups *cg, char slot[CG_SLOT_NAME_MAX],
                     unsigned *serial, char *err, size_t errlen)
{
    int rc = -EEXIST;

    for (int i = 0; i < SLOT_TRIES && rc == -EEXIST; i++) {
        *serial = cg->pool_serial++;
        slot_name(cg, *serial, slot);
        rc = make_dirs(cg, slot, 1, err, errlen);
    }
    if (rc != 0)
        (void)cg_remove(cg, slot);
    return rc;
}

size_t cg_pool_fill(struct cgroups *cg, size_t want, size_t max)
{
    char slot[CG_SLOT_NAME_MAX], err[256];
    struct cg_pooled *e;
    unsigned serial;

    if (cg->kind != CG_V1)
        return 0;
    if (want > CG_POOL_MAX)
        want = CG_POOL_MAX;
    for (size_t n = 0; n < max && cg->npool < want; n++) {
        if (slot_make(cg, slot, &serial, err, sizeof(err)) != 0) {
            log_warn(CG_LOG, "making a cgroup ahead: %s", err);
            return 0;
        }
        e = &cg->pool[cg->npool++];
        *e = fresh_limits;
        e->fresh = 1;
        e->serial = serial;
        e->oom_fd = cg_oom_eventfd(cg, slot);
    }
    return cg->npool < want ? want - cg->npool : 0;
}

int cg_create(struct cgroups *cg, const char *task_id, double cpus,
              uint64_t mem_bytes, char **name, int *oom_fd, char *err,
              size_t errlen)
{
    struct cg_pooled want = limits_v1(cg, cpus, mem_bytes);
    char slot[CG_SLOT_NAME_MAX];
    unsigned serial;
    int rc;

    *name = NULL;
    *oom_fd = -1;
    if (cg->kind == CG_NONE)
        return 0;
    if (cg->kind == CG_V2)
        return create_v2(cg, task_id, cpus, mem_bytes, name, err, errlen);
    if (pool_take(cg, &want, slot, oom_fd) == 0) {
        if ((*name = strdup(slot)))
            return 0;
        if (*oom_fd >= 0)
            close(*oom_fd);
        *oom_fd = -1;
        (void)cg_remove(cg, slot);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    rc = slot_make(cg, slot, &serial, err, errlen);
    if (rc == 0)
        rc = set_limits_v1(cg, slot, &want, &fresh_limits, err, errlen);
    if (rc == 0 && !(*name = strdup(slot)))
        rc = -ENOMEM;
    if (rc != 0)
        (void)cg_remove(cg, slot);
    return rc;
}

int cg_kill(const struct cgroups *cg, const char *name)
{
    char *dirs[CG_MAX_DIRS];
    size_t n = cg_task_dirs(cg, name, dirs);
    int rc = exec_procs_kill(dirs, n, cg->kind == CG_V2);

    cg_dirs_free(dirs, n);
    return rc;
}

int cg_remove(const struct cgroups *cg, const char *name)
{
    char *dirs[CG_MAX_DIRS];
    size_t n = cg_task_dirs(cg, name, dirs);
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        if (rmdir(dirs[i]) != 0 && errno != ENOENT) {
            if (rc == 0)
                rc = -errno;
        }
    }
    cg_dirs_free(dirs, n);
    return rc;
}

int cg_oom_info(const struct cgroups *cg, const char *name, struct cg_oom *o)
{
    char buf[1024];
    char *d = task_dir(cg, CG_MEMORY, name);
    uint64_t v = 0;

    memset(o, 0, sizeof(*o));
    if (!d)
        return cg->kind == CG_NONE ? 0 : -ENOMEM;
    if (cg->kind == CG_V1) {
        if (knob_read(d, "memory.oom_control", buf, sizeof(buf)) >= 0 &&
            kv_get(buf, "oom_kill", &v) == 0) {
            o->oom_killed = v > 0;
        } else if (knob_u64(d, "memory.failcnt", &v) == 0) {
            /* Kernels before 4.13 have no oom_kill counter. */
            o->oom_killed = v > 0;
        }
        /* The figures only go into an OOM's message: read at every end
         * of a task, they were two more cgroupfs files a launch. */
        if (o->oom_killed) {
            (void)knob_u64(d, "memory.limit_in_bytes", &o->limit);
            (void)knob_u64(d, "memory.max_usage_in_bytes", &o->max_used);
        }
    } else {
        if (knob_read(d, "memory.events", buf, sizeof(buf)) >= 0 &&
            kv_get(buf, "oom_kill", &v) == 0)
            o->oom_killed = v > 0;
        if (o->oom_killed) {
            (void)knob_u64(d, "memory.max", &o->limit);
            if (knob_u64(d, "memory.peak", &o->max_used) != 0)
                (void)knob_u64(d, "memory.current", &o->max_used);
        }
    }
    free(d);
    return 0;
}

int cg_oom_eventfd(const struct cgroups *cg, const char *name)
{
    char path[PATH_MAX], line[64];
    char *d;
    int efd, ofd, rc;

    if (cg->kind != CG_V1 || !(d = task_dir(cg, CG_MEMORY, name)))
        return -1;
    if ((size_t)snprintf(path, sizeof(path), "%s/memory.oom_control", d) >=
        sizeof(path)) {
        free(d);
        return -1;
    }
    if ((efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        log_warn(CG_LOG, "eventfd: %s", strerror(errno));
        free(d);
        return -1;
    }
    if ((ofd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        log_warn(CG_LOG, "%s: %s", path, strerror(errno));
        close(efd);
        free(d);
        return -1;
    }
    snprintf(line, sizeof(line), "%d %d", efd, ofd);
    rc = knob_write(d, "cgroup.event_control", line);
    close(ofd); /* the kernel holds what it needs */
    if (rc != 0) {
        log_warn(CG_LOG, "%s/cgroup.event_control: %s", d, strerror(-rc));
        close(efd);
        efd = -1;
    }
    free(d);
    return efd;
}

int cg_usage(const struct cgroups *cg, const char *name, struct exec_usage *u)
{
    char buf[CG_FILE_MAX];
    char *d;
    uint64_t v = 0;
    int c;

    if (cg->kind == CG_V2) {
        if (!(d = task_dir(cg, CG_MEMORY, name)))
            return AGORA_ENOMEM;
        if (knob_read(d, "cpu.stat", buf, sizeof(buf)) >= 0) {
            if (kv_get(buf, "user_usec", &v) == 0)
                u->cpus_user_time_secs = (double)v / 1e6;
            if (kv_get(buf, "system_usec", &v) == 0)
                u->cpus_system_time_secs = (double)v / 1e6;
        }
        if (knob_read(d, "memory.stat", buf, sizeof(buf)) >= 0 &&
            kv_get(buf, "anon", &v) == 0)
            u->mem_rss_bytes = v;
        if (knob_u64(d, "memory.max", &v) == 0 && v)
            u->mem_limit_bytes = v;
        if (knob_u64(d, "pids.current", &v) == 0)
            u->processes = v;
        free(d);
        return 0;
    }
    if (cg->kind != CG_V1)
        return AGORA_ENOTSUP;
    if ((d = task_dir(cg, CG_CPUACCT, name))) {
        long hz = sysconf(_SC_CLK_TCK);
        if (hz <= 0)
            hz = 100;
        /* Nanoseconds, and reset when a kept cgroup is reused (the
         * ticks of cpuacct.stat never go back). */
        if (knob_u64(d, "cpuacct.usage_user", &v) == 0) {
            u->cpus_user_time_secs = (double)v / 1e9;
            if (knob_u64(d, "cpuacct.usage_sys", &v) == 0)
                u->cpus_system_time_secs = (double)v / 1e9;
        } else if (knob_read(d, "cpuacct.stat", buf, sizeof(buf)) >= 0) {
            if (kv_get(buf, "user", &v) == 0)
                u->cpus_user_time_secs = (double)v / (double)hz;
            if (kv_get(buf, "system", &v) == 0)
                u->cpus_system_time_secs = (double)v / (double)hz;
        }
        free(d);
    }
    if ((d = task_dir(cg, CG_MEMORY, name))) {
        if (knob_read(d, "memory.stat", buf, sizeof(buf)) >= 0 &&
            (kv_get(buf, "total_rss", &v) == 0 || kv_get(buf, "rss", &v) == 0))
            u->mem_rss_bytes = v;
        if (knob_u64(d, "memory.limit_in_bytes", &v) == 0 &&
            v < (UINT64_C(1) << 62))
            u->mem_limit_bytes = v;
        if ((c = exec_procs_signal(d, 0)) >= 0)
            u->processes = (uint64_t)c;
        free(d);
    }
    return 0;
}
