/*
 * main.c - agora-fetcher: reads its job on fd 0, makes the sandbox,
 * becomes the task's user, fetches each URI, and says on fd 3 why it
 * failed (fetch.h has the job and the rules).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <agora/json.h>

#include "fetch.h"
#include "fetch_image.h"

#define JOB_MAX (4u << 20) /* the agent's job: a task's fetch list */
#define STATUS_FD 3

/* Writes why the run failed to the agent's pipe (and to stderr); the
 * agent reports a failure without the reason when the write fails. */
static int fail(const char *why)
{
    char msg[1024];
    size_t n;

    snprintf(msg, sizeof(msg), "%s", why);
    fetch_text_clean(msg);
    n = strlen(msg);
    fprintf(stderr, "agora-fetcher: %s\n", msg);
    (void)!write(STATUS_FD, msg, n);
    return 1;
}

static char *read_job(void)
{
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap + 1), *grown;

    while (buf) {
        ssize_t n = read(0, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            return NULL;
        }
        if (n == 0) {
            buf[len] = '\0';
            return buf;
        }
        len += (size_t)n;
        if (len == cap) {
            if (cap >= JOB_MAX || !(grown = realloc(buf, 2 * cap + 1))) {
                free(buf);
                return NULL;
            }
            buf = grown;
            cap *= 2;
        }
    }
    return NULL;
}

/* A number of the job, or dflt when absent. */
static uint64_t job_bytes(yajl_val job, const char *key, uint64_t dflt)
{
    int64_t v;

    return agora_json_int(job, key, &v) == 0 && v > 0 ? (uint64_t)v : dflt;
}

static int job_conf(yajl_val job, struct fetch_conf *c, char *err,
                    size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (agora_json_str(job, "sandbox", &c->sandbox) != 0 ||
        c->sandbox[0] != '/') {
        snprintf(err, errlen, "the job has no absolute sandbox");
        return -1;
    }
    if (agora_json_str(job, "user", &c->user) != 0 || *c->user == '\0')
        c->user = NULL;
    if (agora_json_str(job, "cache_dir", &c->cache_dir) != 0 ||
        c->cache_dir[0] != '/')
        c->cache_dir = NULL;
    c->cache_size = job_bytes(job, "cache_size", 2ull << 30);
    c->max_size = job_bytes(job, "max_size", 4ull << 30);
    c->max_total = job_bytes(job, "max_total", 8ull << 30);
    if (agora_json_num(job, "stall_timeout", &c->stall_timeout) != 0 ||
        c->stall_timeout <= 0)
        c->stall_timeout = 60;
    return 0;
}

/* mkdir path (its parent must exist) or keep it, then open it without
 * following a symlink, owned by uid:gid (uid -1: leave) with mode. */
static int dir_own(int at, const char *path, mode_t mode, uid_t uid, gid_t gid)
{
    struct stat st;
    int fd;

    if (mkdirat(at, path, mode) != 0 && errno != EEXIST)
        return -1;
    fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 ||
        (uid != (uid_t)-1 && (st.st_uid != uid || st.st_gid != gid) &&
         fchown(fd, uid, gid) != 0) ||
        ((st.st_mode & 07777) != mode && fchmod(fd, mode) != 0)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* The job's `image` (fetch_image.h), when it has one; uid:gid the
 * task's user (-1: the fetcher's own). 0 or -1. */
static int pull_image(struct fetch_ctx *ctx, yajl_val job, uid_t uid,
                      gid_t gid)
{
    yajl_val v = agora_json_get(job, "image");
    struct fetch_image_job ij = {0};
    int64_t max = 0;
    mode_t old;
    int rc;

    if (!YAJL_IS_OBJECT(v))
        return 0;
    ij.ref = agora_json_get_str(v, "ref");
    ij.store = agora_json_get_str(v, "store");
    ij.registry = agora_json_get_str(v, "registry");
    ij.docker_config = agora_json_get_str(v, "docker_config");
    ij.ca_file = agora_json_get_str(v, "ca_file");
    agora_json_bool(v, "force_pull", &ij.force_pull);
    if (agora_json_int(v, "max_bytes", &max) != 0 || max <= 0)
        max = 8ll << 30;
    ij.max_bytes = (uint64_t)max;
    ij.src_uid = uid;
    ij.src_gid = gid;
    if (!ij.registry || !*ij.registry)
        ij.registry = "https://registry-1.docker.io";
    if (!ij.ref || !*ij.ref || !ij.store || ij.store[0] != '/') {
        snprintf(ctx->err, sizeof(ctx->err),
                 "the job's image has no ref or no absolute store");
        return -1;
    }
    /* Layers keep the modes their tars give (ARCHIVE_EXTRACT_PERM); what
     * the fetcher makes itself in a rootfs (its root, a whiteout's
     * missing parent) is 0755 as Docker makes it. The store's own
     * directories are 0700 whatever the umask. */
    old = umask(022);
    rc = fetch_image_run(ctx, &ij);
    umask(old);
    return rc;
}

/*
 * The sandbox and the user's cache directory, made while the fetcher may
 * still be root, then the switch to the user for good.
 */
static int become(struct fetch_ctx *ctx, yajl_val job, char *err,
                  size_t errlen)
{
    const struct fetch_conf *c = &ctx->conf;
    uid_t uid = getuid();
    gid_t gid = getgid();
    int root = geteuid() == 0 && c->user != NULL;
    char cache_name[32];

    if (root) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (getpwnam_r(c->user, &pw, buf, sizeof(buf), &res) != 0 || !res) {
            snprintf(err, errlen, "user '%s' does not exist on this agent",
                     c->user);
            return -1;
        }
        uid = res->pw_uid;
        gid = res->pw_gid;
    }
    ctx->sandbox_fd =
        dir_own(AT_FDCWD, c->sandbox, 0750, root ? uid : (uid_t)-1, gid);
    if (ctx->sandbox_fd < 0) {
        snprintf(err, errlen, "creating the sandbox: %s", strerror(errno));
        return -1;
    }
    snprintf(cache_name, sizeof(cache_name), "u%u", (unsigned)uid);
    if (c->cache_dir) {
        int top = dir_own(AT_FDCWD, c->cache_dir, 0711, (uid_t)-1, 0);
        ctx->cache_fd = top < 0 ? -1
                                : dir_own(top, cache_name, 0700,
                                          root ? uid : (uid_t)-1, gid);
        if (top >= 0)
            close(top);
        if (ctx->cache_fd < 0)
            fprintf(stderr, "agora-fetcher: no cache (%s): %s\n", c->cache_dir,
                    strerror(errno));
    }
    /* The image is pulled first, as whoever started the fetcher (root:
     * the store is root's), and only then the task's user takes over
     * for its URIs: dropped for good (setuid(0) must fail after), unless
     * that user is root itself (an agent's --default_user=root). */
    if (pull_image(ctx, job, root ? uid : (uid_t)-1, gid) != 0) {
        snprintf(err, errlen, "%s", ctx->err);
        return -1;
    }
    if (root && uid != 0 &&
        (initgroups(c->user, gid) != 0 || setgid(gid) != 0 ||
         setuid(uid) != 0 || setuid(0) == 0)) {
        snprintf(err, errlen, "cannot become user '%s'", c->user);
        return -1;
    }
    (void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return 0;
}

/* stderr from now on: the sandbox's, appended, as the task's user. */
static void log_to_sandbox(int sandbox_fd)
{
    int fd =
        openat(sandbox_fd, "stderr",
               O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);

    if (fd >= 0) {
        dup2(fd, 2);
        close(fd);
    }
}

static int run(yajl_val job, struct fetch_ctx *ctx)
{
    yajl_val list = agora_json_get(job, "fetch");
    char err[1100];
    size_t i;

    /* Dies with the agent during a pull too. */
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (become(ctx, job, err, sizeof(err)) != 0)
        return fail(err);
    /* A fetcher whose agent died stops too (the agent fails the task
     * when it comes back); set after the switch, which clears it. */
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return fail("the agent is gone");
    log_to_sandbox(ctx->sandbox_fd);
    for (i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
        yajl_val v = list->u.array.values[i];
        struct fetch_item it = {.extract = 1};

        if (agora_json_str(v, "uri", &it.uri) != 0 || *it.uri == '\0')
            return fail("a fetch entry without a uri");
        if (agora_json_str(v, "output_file", &it.output_file) != 0)
            it.output_file = NULL;
        agora_json_bool(v, "extract", &it.extract);
        agora_json_bool(v, "executable", &it.executable);
        agora_json_bool(v, "cache", &it.cache);
        if (fetch_item_run(ctx, &it) != 0)
            return fail(ctx->err);
    }
    fprintf(stderr, "agora-fetcher: %zu URIs fetched, %llu bytes\n", i,
            (unsigned long long)ctx->total);
    return 0;
}

int main(int argc, char **argv)
{
    struct fetch_ctx ctx = {.sandbox_fd = -1, .cache_fd = -1};
    char err[512], *text;
    yajl_val job;
    int rc;

    if (argc == 2 && strcmp(argv[1], "--gc") == 0) {
        umask(077);
        return fetch_gc_main();
    }
    if (argc > 1) {
        fprintf(stderr,
                "usage: %s [--gc] < job.json (see fetcher/fetch.h and "
                "fetcher/fetch_image.h)\n",
                argv[0]);
        return 2;
    }
    umask(027);
    if ((text = read_job()) == NULL)
        return fail("cannot read the fetch job");
    job = agora_json_parse(text, err, sizeof(err));
    free(text);
    if (!YAJL_IS_OBJECT(job)) {
        if (job)
            yajl_tree_free(job);
        return fail("the fetch job is not a JSON object");
    }
    if (job_conf(job, &ctx.conf, err, sizeof(err)) != 0 ||
        (fetch_get_init() != 0 &&
         snprintf(err, sizeof(err), "cannot initialise libcurl") > 0)) {
        yajl_tree_free(job);
        return fail(err);
    }
    rc = run(job, &ctx);
    fetch_get_fini();
    if (ctx.sandbox_fd >= 0)
        close(ctx.sandbox_fd);
    if (ctx.cache_fd >= 0)
        close(ctx.cache_fd);
    yajl_tree_free(job);
    return rc;
}
