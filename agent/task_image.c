/*
 * task_image.c - the image a task names, and the image store's garbage
 * collection as a watched child (see task_image.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agent.h"
#include "log.h"
#include "task.h"
#include "task_fetch.h"
#include "task_image.h"

extern char **environ;

struct agent_images {
    ev_timer timer;
    ev_child child;
    int running; /* a collector runs (child is active) */
    int cleared; /* the first run (tmp/ emptied at start) has started */
    char *fetcher;
};

const char *agent_image_of(yajl_val spec, int *force)
{
    yajl_val c = agora_json_get(spec, "container");
    yajl_val d = agora_json_get(c, "docker");
    const char *img = agora_json_get_str(d, "image");

    *force = 0;
    if (img && *img) {
        agora_json_bool(d, "forcePullImage", force);
        return img;
    }
    img = agora_json_get_str(c, "image"); /* Chronos' */
    if (img && *img) {
        agora_json_bool(c, "forcePullImage", force);
        return img;
    }
    return NULL;
}

char *agent_image_store(const struct agent *a)
{
    char *p;

    return asprintf(&p, "%s/images", a->conf.work_dir) < 0 ? NULL : p;
}

/* The collector's job: the refs live tasks use are kept. */
static char *gc_job(struct agent *a)
{
    struct agora_jw *w = agora_jw_new();
    char *store = agent_image_store(a), *out = NULL;
    const char *id, *doc;
    void *value;
    size_t pos = 0;

    if (!w || !store) {
        agora_jw_free(w);
        free(store);
        return NULL;
    }
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "store", store);
    agora_jw_kint(w, "max_bytes", a->conf.image_gc_max_bytes);
    /* --image_gc_interval=0: the start's run empties tmp/ only. */
    agora_jw_kbool(w, "collect", a->conf.image_gc_interval > 0);
    agora_jw_key(w, "keep");
    agora_jw_arr_open(w);
    while (map_next(&a->tasks, &pos, &id, &value)) {
        struct agent_task *t = value;
        char err[64];
        yajl_val spec;
        const char *ref;
        int force;

        if (agora_task_state_terminal(t->state) || !t->spec_json ||
            !strstr(t->spec_json, "\"image\":"))
            continue;
        spec = agora_json_parse(t->spec_json, err, sizeof(err));
        if ((ref = agent_image_of(spec, &force)))
            agora_jw_str(w, ref);
        if (spec)
            yajl_tree_free(spec);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    if ((doc = agora_jw_result(w, NULL)))
        out = strdup(doc);
    agora_jw_free(w);
    free(store);
    return out;
}

static void gc_done(struct ev_loop *loop, ev_child *w, int revents)
{
    struct agent *a = w->data;

    (void)revents;
    ev_child_stop(loop, w);
    a->images->running = 0;
    if (!WIFEXITED(w->rstatus) || WEXITSTATUS(w->rstatus) != 0)
        log_warn("image", "the image collector ended with status %d",
                 w->rstatus);
}

/* Spawns `agora-fetcher --gc` with its job on a memfd as fd 0. */
static int gc_spawn(struct agent *a, const char *job, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    char *argv[] = {"agora-fetcher", "--gc", NULL};
    int fd = memfd_create("agora-gc-job", MFD_CLOEXEC), rc;
    size_t len = strlen(job);

    if (fd < 0)
        return errno;
    if (write(fd, job, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return EIO;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_adddup2(&fa, fd, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    rc = posix_spawn(pid, a->images->fetcher, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(fd);
    return rc;
}

static void gc_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct agent *a = w->data;
    struct agent_images *im = a->images;
    char *job;
    pid_t pid;
    int rc;

    (void)revents;
    if (a->conf.image_gc_interval > 0) {
        w->repeat = a->conf.image_gc_interval;
        ev_timer_again(loop, w);
    }
    /* The store's lock keeps it from a pull; skipping while fetchers run
     * spares it the try. The first run (tmp/) waits for none. */
    if (im->running || !im->fetcher ||
        (im->cleared && agent_fetch_running(a) > 0))
        return;
    if ((job = gc_job(a)) == NULL)
        return;
    rc = gc_spawn(a, job, &pid);
    free(job);
    if (rc != 0) {
        log_warn("image", "cannot start the image collector: %s",
                 strerror(rc));
        return;
    }
    im->cleared = 1;
    im->running = 1;
    ev_child_init(&im->child, gc_done, pid, 0);
    im->child.data = a;
    ev_child_start(loop, &im->child);
    log_debug("image", "image collector %d started", (int)pid);
}

void agent_image_start(struct agent *a)
{
    struct agent_images *im = calloc(1, sizeof(*im));

    if (im == NULL)
        return;
    a->images = im;
    im->fetcher = agent_fetcher_path();
    ev_init(&im->timer, gc_tick);
    im->timer.data = a;
    /* The first run (tmp/ emptied) at once, whatever the interval. */
    ev_timer_set(&im->timer, 0., 0.);
    ev_timer_start(a->loop, &im->timer);
}

void agent_image_fini(struct agent *a)
{
    struct agent_images *im = a->images;

    if (im == NULL)
        return;
    ev_timer_stop(a->loop, &im->timer);
    if (im->running) {
        (void)kill(-im->child.pid, SIGKILL);
        ev_child_stop(a->loop, &im->child);
    }
    free(im->fetcher);
    free(im);
    a->images = NULL;
}
