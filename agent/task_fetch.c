/*
 * task_fetch.c - runs agora-fetcher for a task before its launch (see
 * task_fetch.h): the job on a memfd as its fd 0, its reason on a pipe as
 * its fd 3, its exit watched by the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agent.h"
#include "exec.h"
#include "fetch.h"
#include "log.h"
#include "task.h"
#include "task_fetch.h"
#include "task_image.h"

#define FETCHER_ARGV0 "agora-fetcher"
#define FETCH_STATUS_FD 3
#define FETCH_REASON_MAX 1024

extern char **environ;

struct fetch_run {
    struct agent *a;
    struct agent_task *t;
    ev_child child;
    int status_fd; /* the read end of the fetcher's fd 3 */
    int killed;    /* a kill came while it ran */
    struct fetch_run *next;
};

struct agent_fetches {
    struct fetch_run *head;
    unsigned running;
    char *fetcher; /* the binary, found once */
};

char *agent_fetcher_path(void)
{
    char self[PATH_MAX], *slash, *p;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n <= 0)
        return NULL;
    self[n] = '\0';
    if (!(slash = strrchr(self, '/')) ||
        asprintf(&p, "%.*s/%s", (int)(slash - self), self, FETCHER_ARGV0) < 0)
        return NULL;
    if (access(p, X_OK) == 0)
        return p;
    free(p);
    return NULL;
}

static struct agent_fetches *fetches(struct agent *a)
{
    if (a->fetches == NULL && (a->fetches = calloc(1, sizeof(*a->fetches))))
        a->fetches->fetcher = agent_fetcher_path();
    return a->fetches;
}

/* The entries of list, as the fetcher reads them. */
static void job_list(struct agora_jw *w, yajl_val list)
{
    agora_jw_key(w, "fetch");
    agora_jw_arr_open(w);
    for (size_t i = 0; i < list->u.array.len; i++) {
        yajl_val v = list->u.array.values[i];
        int extract = 1, executable = 0, cache = 0;

        agora_json_bool(v, "extract", &extract);
        agora_json_bool(v, "executable", &executable);
        agora_json_bool(v, "cache", &cache);
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "uri", agora_json_get_str(v, "uri"));
        agora_jw_kstr(w, "output_file", agora_json_get_str(v, "output_file"));
        agora_jw_kbool(w, "extract", extract);
        agora_jw_kbool(w, "executable", executable);
        agora_jw_kbool(w, "cache", cache);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

/*
 * Why entry i of a fetch list cannot be fetched (into why), checked
 * before any fetcher runs: a task that asks for what no fetch can give
 * is invalid (TASK_ERROR), not failed. The fetcher checks again. 0 or -1.
 */
static int entry_check(yajl_val v, size_t i, char *why, size_t len)
{
    const char *uri = agora_json_get_str(v, "uri");
    const char *out = agora_json_get_str(v, "output_file"), *bad = NULL;
    char name[256], *shown;

    if (uri == NULL || *uri == '\0') {
        snprintf(why, len, "fetch[%zu] has no uri", i);
        return -1;
    }
    if (fetch_uri_scheme(uri) &&
        (out && *out ? fetch_path_check(out, &bad)
                     : fetch_uri_name(uri, name, sizeof(name))) == 0)
        return 0;
    shown = fetch_uri_redact(uri);
    if (!fetch_uri_scheme(uri))
        snprintf(why, len,
                 "fetch[%zu]: unsupported scheme in '%s' (http, "
                 "https and file are)",
                 i, shown ? shown : "?");
    else if (out && *out)
        snprintf(why, len, "fetch[%zu]: output_file '%.200s' is %s", i, out,
                 bad);
    else
        snprintf(why, len,
                 "fetch[%zu]: '%s' names no file (give an "
                 "output_file)",
                 i, shown ? shown : "?");
    free(shown);
    return -1;
}

static int list_check(yajl_val list, char *why, size_t len)
{
    for (size_t i = 0; i < list->u.array.len; i++)
        if (entry_check(list->u.array.values[i], i, why, len) != 0)
            return -1;
    return 0;
}

/* The job's `image` (fetcher/fetch_image.h). */
static void job_image(struct agent *a, struct agora_jw *w, const char *ref,
                      int force)
{
    char *store = agent_image_store(a);

    agora_jw_key(w, "image");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "ref", ref);
    agora_jw_kbool(w, "force_pull", force);
    agora_jw_kstr(w, "store", store);
    agora_jw_kstr(w, "registry", a->conf.docker_registry);
    agora_jw_kstr(w, "docker_config", a->conf.docker_config);
    agora_jw_kstr(w, "ca_file", a->conf.docker_registry_ca_file);
    agora_jw_kint(w, "max_bytes", a->conf.image_max_bytes);
    agora_jw_obj_close(w);
    free(store);
}

/*
 * Whom the fetcher becomes for t's URIs: nobody else than the agent
 * unless it is root; else the task's user (exec_task_user()). A
 * container's user names a user of its image: where the host has no
 * such user, the URIs are fetched as root (into the sandbox only, as
 * ever), as the image's user is no one here.
 */
static const char *fetch_user(struct agent *a, yajl_val spec,
                              const char *image)
{
    const char *user = geteuid() == 0 ? exec_task_user(a->exec, spec) : NULL;
    struct passwd pw, *res = NULL;
    char buf[4096];

    if (user && image &&
        (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || !res))
        return NULL;
    return user;
}

/*
 * The fetcher's job for t (fetcher/fetch.h), or NULL with *none set
 * when t has nothing to fetch: no `fetch` list and no image in its
 * `container`. The user goes along only when the agent is root:
 * otherwise tasks run as the agent's user (exec_spec.c). The image is
 * pulled by the same fetcher run, as root, before it becomes the user
 * for the URIs (fetcher/main.c).
 */
static char *job_of(struct agent *a, struct agent_task *t, int *none, char *why,
                    size_t whylen)
{
    char err[128], *out = NULL, *cache_dir = NULL;
    yajl_val spec = agora_json_parse(t->spec_json, err, sizeof(err));
    yajl_val list = spec ? agora_json_get(spec, "fetch") : NULL;
    int has_list = YAJL_IS_ARRAY(list) && list->u.array.len > 0, force = 0;
    const char *image = spec ? agent_image_of(spec, &force) : NULL;
    struct agora_jw *w;
    const char *doc;

    /* The docker CLI pulls the images it runs itself. */
    if (image && a->exec_ready &&
        exec_runs_docker(a->exec, agora_json_get(spec, "container")))
        image = NULL;
    *none = !has_list && !image;
    if (*none || (has_list && list_check(list, why, whylen) != 0) ||
        !(w = agora_jw_new())) {
        if (spec)
            yajl_tree_free(spec);
        return NULL;
    }
    if (*a->conf.fetcher_cache_dir == '\0' &&
        asprintf(&cache_dir, "%s/fetch_cache", a->conf.work_dir) < 0)
        cache_dir = NULL;
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "sandbox", t->sandbox);
    agora_jw_kstr(w, "user", has_list ? fetch_user(a, spec, image) : NULL);
    agora_jw_kstr(w, "cache_dir",
                  cache_dir ? cache_dir : a->conf.fetcher_cache_dir);
    agora_jw_kint(w, "cache_size", a->conf.fetcher_cache_size);
    agora_jw_kint(w, "max_size", a->conf.fetcher_max_size);
    agora_jw_kint(w, "max_total", a->conf.fetcher_max_total);
    agora_jw_knum(w, "stall_timeout", a->conf.fetcher_stall_timeout);
    if (image)
        job_image(a, w, image, force);
    if (has_list)
        job_list(w, list);
    agora_jw_obj_close(w);
    if ((doc = agora_jw_result(w, NULL)))
        out = strdup(doc);
    agora_jw_free(w);
    free(cache_dir);
    yajl_tree_free(spec);
    return out;
}

/* The job in an anonymous file at offset 0 (the job may hold secrets: no
 * path, no argv). -1 with errno. */
static int job_fd(const char *job)
{
    int fd = memfd_create("agora-fetch-job", MFD_CLOEXEC);
    size_t len = strlen(job), off = 0;

    while (fd >= 0 && off < len) {
        ssize_t n = write(fd, job + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        off += (size_t)n;
    }
    if (fd >= 0 && lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Spawns the fetcher in its own session: 0 the job, 1 /dev/null, 2 the
 * agent's (until it moves to the sandbox's stderr), 3 the reason. */
static int spawn(const char *path, int job, int reason, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    char *argv[] = {FETCHER_ARGV0, NULL};
    int rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_adddup2(&fa, job, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, reason, FETCH_STATUS_FD);
    posix_spawn_file_actions_addclosefrom_np(&fa, FETCH_STATUS_FD + 1);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    rc = posix_spawn(pid, path, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

static void run_unlink(struct agent_fetches *f, struct fetch_run *r)
{
    for (struct fetch_run **p = &f->head; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    f->running--;
}

/* The fetcher's reason, or a description of how it ended. */
static void run_reason(struct fetch_run *r, int status, char *out, size_t len)
{
    ssize_t n = read(r->status_fd, out, len - 1);

    if (n > 0) {
        out[n] = '\0';
        out[strcspn(out, "\n")] = '\0';
        fetch_text_clean(out); /* a status message is UTF-8 text */
        return;
    }
    if (WIFSIGNALED(status))
        snprintf(out, len, "the fetcher was killed by signal %d",
                 WTERMSIG(status));
    else
        snprintf(out, len, "the fetcher exited with status %d",
                 WEXITSTATUS(status));
}

static void run_done(struct ev_loop *loop, ev_child *w, int revents)
{
    struct fetch_run *r = w->data;
    struct agent *a = r->a;
    struct agent_task *t = r->t;
    char reason[FETCH_REASON_MAX];
    int status = w->rstatus, killed = r->killed, rc;

    (void)revents;
    ev_child_stop(loop, w);
    run_unlink(a->fetches, r);
    run_reason(r, status, reason, sizeof(reason));
    close(r->status_fd);
    free(r);
    if (a->stopping || agora_task_state_terminal(t->state))
        return;
    if (killed || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (killed)
            agent_task_update(a, t, AGORA_TASK_KILLED,
                              "REASON_TASK_KILLED_DURING_LAUNCH",
                              "killed while its image or URIs were fetched", -1);
        else
            agent_task_update(a, t, AGORA_TASK_FAILED, "REASON_FETCHER_FAILED",
                              reason, -1);
        return;
    }
    log_debug("fetch", "task %s: fetched", t->id);
    rc = exec_launch(a->exec, t);
    if (rc < 0)
        agent_task_update(a, t, AGORA_TASK_FAILED,
                          "REASON_CONTAINER_LAUNCH_FAILED", agora_strerror(rc),
                          -1);
}

/* Starts the fetcher of t with job; a reason in err when it cannot. */
static int run_start(struct agent *a, struct agent_task *t, const char *job,
                     char *err, size_t errlen)
{
    struct agent_fetches *f = fetches(a);
    struct fetch_run *r = f ? calloc(1, sizeof(*r)) : NULL;
    int jfd = -1, p[2] = {-1, -1}, rc;
    pid_t pid;

    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (f->fetcher == NULL) {
        snprintf(err, errlen, "no %s beside the agent's binary", FETCHER_ARGV0);
        free(r);
        return -1;
    }
    if ((jfd = job_fd(job)) < 0 || pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "cannot start the fetcher: %s", strerror(errno));
        if (jfd >= 0)
            close(jfd);
        free(r);
        return -1;
    }
    rc = spawn(f->fetcher, jfd, p[1], &pid);
    close(jfd);
    close(p[1]);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the fetcher: %s", strerror(rc));
        close(p[0]);
        free(r);
        return -1;
    }
    r->a = a;
    r->t = t;
    r->status_fd = p[0];
    ev_child_init(&r->child, run_done, pid, 0);
    r->child.data = r;
    ev_child_start(a->loop, &r->child);
    r->next = f->head;
    f->head = r;
    f->running++;
    log_info("fetch", "task %s: fetcher %d started", t->id, (int)pid);
    return 0;
}

int agent_fetch_begin(struct agent *a, struct agent_task *t)
{
    char err[512] = "";
    int none = 0;
    char *job;

    /* Most tasks fetch nothing: spare the launch path a second parse of
     * the spec. The spec is compact JSON (link.c writes it), where a key
     * "fetch" of any object reads "fetch": and a string value holding it
     * would read \"fetch\": instead. */
    if (t->spec_json == NULL || (strstr(t->spec_json, "\"fetch\":") == NULL &&
                                 strstr(t->spec_json, "\"image\":") == NULL))
        return 0;
    if ((job = job_of(a, t, &none, err, sizeof(err))) == NULL && none)
        return 0;
    if (job == NULL && err[0]) {
        log_info("fetch", "task %s is invalid: %s", t->id, err);
        agent_task_update(a, t, AGORA_TASK_ERROR, "REASON_TASK_INVALID", err,
                          -1);
        return 1;
    }
    if (job == NULL)
        snprintf(err, sizeof(err), "out of memory");
    if (job == NULL || run_start(a, t, job, err, sizeof(err)) != 0) {
        log_warn("fetch", "task %s: %s", t->id, err);
        agent_task_update(a, t, AGORA_TASK_FAILED, "REASON_FETCHER_FAILED", err,
                          -1);
    }
    free(job);
    return 1;
}

static struct fetch_run *run_of(struct agent *a, const struct agent_task *t)
{
    for (struct fetch_run *r = a->fetches ? a->fetches->head : NULL; r;
         r = r->next)
        if (r->t == t)
            return r;
    return NULL;
}

int agent_fetch_kill(struct agent *a, struct agent_task *t)
{
    struct fetch_run *r = run_of(a, t);

    if (r == NULL)
        return 0;
    if (!r->killed) {
        r->killed = 1;
        agent_task_update(a, t, AGORA_TASK_KILLING, NULL, NULL, -1);
        /* Its own session: the group is the fetcher alone. */
        (void)kill(-r->child.pid, SIGKILL);
    }
    return 1;
}

unsigned agent_fetch_running(const struct agent *a)
{
    return a->fetches ? a->fetches->running : 0;
}

void agent_fetch_fini(struct agent *a)
{
    struct agent_fetches *f = a->fetches;

    if (f == NULL)
        return;
    while (f->head) {
        struct fetch_run *r = f->head;
        f->head = r->next;
        (void)kill(-r->child.pid, SIGKILL);
        ev_child_stop(a->loop, &r->child);
        close(r->status_fd);
        free(r);
    }
    free(f->fetcher);
    free(f);
    a->fetches = NULL;
}
