/*
 * fetch_gc.c - `agora-fetcher --gc`: the image store's collector, run by
 * the agent as a child now and then (the agent's loop never walks a
 * tree). It holds the store's lock exclusive, so it never runs beside a
 * pull; refs the agent's live tasks use are kept; of the others the
 * least recently pulled or used (refs/ mtimes: a hit touches its ref)
 * go first, until the store fits max_bytes (0: all of them go); then
 * the images, configs and layers no remaining ref reaches, and tmp/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <agora/json.h>

#include "fetch_image.h"

#define GC_JOB_MAX (4u << 20)
#define GC_MAX 4096 /* refs, images or layers looked at in one run */

struct gc_ref {
    char name[256];
    char image[FETCH_HEX_LEN + 1];
    time_t mtime;
    int keep, gone;
};

struct gc {
    struct fetch_store s;
    struct gc_ref *refs;
    size_t nrefs;
    char (*live)[FETCH_HEX_LEN + 1]; /* images and layers reached */
    size_t nlive;
};

static uint64_t du_sum;

static int du_one(const char *p, const struct stat *st, int f, struct FTW *w)
{
    (void)p;
    (void)f;
    (void)w;
    du_sum += (uint64_t)st->st_blocks * 512;
    return 0;
}

/* Bytes under rel of the store. */
static uint64_t du(struct gc *g, const char *rel)
{
    char path[2048];

    snprintf(path, sizeof(path), "%s/%s", g->s.path, rel);
    du_sum = 0;
    (void)nftw(path, du_one, 16, FTW_PHYS | FTW_MOUNT);
    return du_sum;
}

static int live_has(struct gc *g, const char *hex)
{
    for (size_t i = 0; i < g->nlive; i++)
        if (strcmp(g->live[i], hex) == 0)
            return 1;
    return 0;
}

static void live_add(struct gc *g, const char *hex)
{
    if (g->nlive < GC_MAX && !live_has(g, hex))
        strcpy(g->live[g->nlive++], hex);
}

/* Marks image hex and its layers live. */
static void mark_image(struct gc *g, const char *hex)
{
    char rel[128], err[128], *text;
    yajl_val doc, layers;

    live_add(g, hex);
    snprintf(rel, sizeof(rel), "images/%s.json", hex);
    if (!(text = fetch_read_small(g->s.fd, rel, GC_JOB_MAX, NULL)))
        return;
    doc = agora_json_parse(text, err, sizeof(err));
    free(text);
    layers = agora_json_get(doc, "layers");
    for (size_t i = 0; YAJL_IS_ARRAY(layers) && i < layers->u.array.len; i++) {
        const char *l = YAJL_GET_STRING(layers->u.array.values[i]);
        if (l && strlen(l) == FETCH_HEX_LEN)
            live_add(g, l);
    }
    if (doc)
        yajl_tree_free(doc);
}

static void mark(struct gc *g)
{
    g->nlive = 0;
    for (size_t i = 0; i < g->nrefs; i++)
        if (!g->refs[i].gone)
            mark_image(g, g->refs[i].image);
}

/* Bytes of the layers reached now. */
static uint64_t live_bytes(struct gc *g)
{
    char rel[128];
    uint64_t sum = 0;

    mark(g);
    for (size_t i = 0; i < g->nlive; i++) {
        snprintf(rel, sizeof(rel), "layers/%s", g->live[i]);
        if (faccessat(g->s.fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
            sum += du(g, rel);
    }
    return sum;
}

static void load_refs(struct gc *g, yajl_val keep)
{
    DIR *d = fdopendir(openat(g->s.fd, "refs",
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct dirent *e;

    while (d && (e = readdir(d)) && g->nrefs < GC_MAX) {
        struct gc_ref *r = &g->refs[g->nrefs];
        char rel[300], *text;
        struct stat st;

        if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(r->name))
            continue;
        snprintf(rel, sizeof(rel), "refs/%s", e->d_name);
        if (fstatat(g->s.fd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !(text = fetch_read_small(g->s.fd, rel, 256, NULL)))
            continue;
        memset(r, 0, sizeof(*r));
        strcpy(r->name, e->d_name);
        snprintf(r->image, sizeof(r->image), "%.64s", text);
        free(text);
        r->mtime = st.st_mtime;
        for (size_t i = 0; YAJL_IS_ARRAY(keep) && i < keep->u.array.len; i++) {
            const char *k = YAJL_GET_STRING(keep->u.array.values[i]);
            char name[1024];
            if (k && fetch_ref_name(k, name, sizeof(name)) == 0 &&
                strcmp(name, r->name) == 0)
                r->keep = 1;
        }
        g->nrefs++;
    }
    if (d)
        closedir(d);
}

/* Removes the oldest unkept ref; 0 when none is left to remove. */
static int drop_oldest(struct gc *g)
{
    struct gc_ref *old = NULL;
    char rel[300];

    for (size_t i = 0; i < g->nrefs; i++) {
        struct gc_ref *r = &g->refs[i];
        if (!r->keep && !r->gone && (!old || r->mtime < old->mtime))
            old = r;
    }
    if (!old)
        return 0;
    snprintf(rel, sizeof(rel), "refs/%s", old->name);
    unlinkat(g->s.fd, rel, 0);
    old->gone = 1;
    fprintf(stderr, "agora-fetcher: gc: removed ref %s\n", old->name);
    return 1;
}

/* Removes the entries of dir no live hex names (suffix: ".json"). */
static void sweep(struct gc *g, const char *dir, const char *suffix)
{
    DIR *d = fdopendir(openat(g->s.fd, dir,
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct dirent *e;

    while (d && (e = readdir(d))) {
        char hex[FETCH_HEX_LEN + 1], rel[300];
        size_t n = strlen(e->d_name), sl = suffix ? strlen(suffix) : 0;

        if (e->d_name[0] == '.' || n != FETCH_HEX_LEN + sl ||
            (sl && strcmp(e->d_name + FETCH_HEX_LEN, suffix)))
            continue;
        snprintf(hex, sizeof(hex), "%.64s", e->d_name);
        if (live_has(g, hex))
            continue;
        snprintf(rel, sizeof(rel), "%s/%s", dir, e->d_name);
        fetch_store_rmtree(&g->s, rel);
    }
    if (d)
        closedir(d);
}

static void clear_tmp(struct gc *g)
{
    DIR *d = fdopendir(openat(g->s.fd, "tmp",
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct dirent *e;

    while (d && (e = readdir(d))) {
        char rel[300];
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            !strcmp(e->d_name, ".store.lock"))
            continue;
        snprintf(rel, sizeof(rel), "tmp/%s", e->d_name);
        fetch_store_rmtree(&g->s, rel);
    }
    if (d)
        closedir(d);
}

static int gc_run(yajl_val job)
{
    struct gc g = {0};
    const char *store = agora_json_get_str(job, "store");
    int64_t max = 0;
    int collect = 1;
    char err[512];

    agora_json_int(job, "max_bytes", &max);
    agora_json_bool(job, "collect", &collect);
    if (!store || fetch_store_open(&g.s, store, err, sizeof(err)) != 0) {
        fprintf(stderr, "agora-fetcher: gc: %s\n", store ? err : "no store");
        return 1;
    }
    if (flock(g.s.lock_fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "agora-fetcher: gc: a pull runs; next time\n");
        fetch_store_close(&g.s);
        return 0;
    }
    /* Every pull holds the lock shared for its whole run, and does all
     * its work in tmp/: with the lock ours, what tmp/ holds (layer locks,
     * what a killed pull left) belongs to no one. */
    clear_tmp(&g);
    g.refs = collect ? calloc(GC_MAX, sizeof(*g.refs)) : NULL;
    g.live = collect ? calloc(GC_MAX, sizeof(*g.live)) : NULL;
    if (g.refs && g.live) {
        load_refs(&g, agora_json_get(job, "keep"));
        if (max <= 0)
            while (drop_oldest(&g))
                ;
        else
            while (live_bytes(&g) > (uint64_t)max && drop_oldest(&g))
                ;
        mark(&g);
        sweep(&g, "images", ".json");
        sweep(&g, "blobs", NULL);
        sweep(&g, "layers", NULL);
    }
    free(g.refs);
    free(g.live);
    fetch_store_close(&g.s);
    return 0;
}

int fetch_gc_main(void)
{
    char *text = malloc(GC_JOB_MAX + 1), err[256];
    size_t len = 0;
    yajl_val job;
    int rc;

    if (text == NULL)
        return 1;
    for (;;) {
        ssize_t n = read(0, text + len, GC_JOB_MAX - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == GC_JOB_MAX)
            break;
    }
    text[len] = '\0';
    job = agora_json_parse(text, err, sizeof(err));
    free(text);
    if (!YAJL_IS_OBJECT(job)) {
        fprintf(stderr, "agora-fetcher: gc: the job is not a JSON object\n");
        if (job)
            yajl_tree_free(job);
        return 1;
    }
    rc = gc_run(job);
    yajl_tree_free(job);
    return rc;
}
