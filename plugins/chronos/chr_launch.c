/*
 * chr_launch.c - launch records: what makes a launch exactly once, in
 * one store write per turn of the loop rather than one per run.
 *
 * The runs started in one turn (every job due at that instant, a run
 * now, a retry) are written together as one key, launches/<ms>-<seq>:
 *
 *   {"runs":[<a run's record, as runs/<...> holds it>, ...]}
 *
 * and are launched only once it is stored. A new leader reads these
 * records with the runs/ ones and follows their tasks instead of
 * launching them again; fencing (plugin.h) keeps a deposed leader's
 * writes out of the store it reads. A run gets its own record,
 * runs/<name>@<due>-<attempt>, at its first change (TASK_RUNNING, a
 * callback) or is forgotten; once every run of a launch record has its
 * own record or has ended, the launch record is deleted - after those
 * writes, store completions keeping call order. A leader that loads a
 * launch record gives its runs their own records and deletes it.
 *
 * Why: the local store makes every put durable on its own (two fsyncs);
 * 1,000 jobs due in the same second were 1,000 such writes before their
 * launches, the last one seconds late (docs/benchmarks.md, Chronos).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chronos.h"

struct chr_launch {
    struct chr_launch *next, **pprev; /* c->launches                  */
    struct chr *c;
    char *key;
    char **ids;                 /* the runs' task ids                 */
    size_t n, cap;
    size_t left;                /* runs still pointing at it          */
    int written;                /* its write completed                */
};

static void launch_free(struct chr_launch *b)
{
    size_t i;

    if (b->pprev) {
        *b->pprev = b->next;
        if (b->next)
            b->next->pprev = b->pprev;
    }
    for (i = 0; i < b->n; i++)
        free(b->ids[i]);
    free(b->ids);
    free(b->key);
    free(b);
}

/* No run needs b any more: the record goes. */
static void launch_done(struct chr *c, struct chr_launch *b)
{
    chr_store_delete(c, b->key, AGORA_STORE_ANY, NULL, NULL);
    launch_free(b);
}

void chr_launch_unref(struct chr *c, struct chr_run *r)
{
    struct chr_launch *b = r->launch;

    if (b == NULL)
        return;
    r->launch = NULL;
    if (--b->left == 0 && b->written)
        launch_done(c, b);
}

static void flush_fire(void *arg, struct agora_timer *t)
{
    struct chr *c = arg;

    (void)t;
    c->launch_timer = NULL;
    chr_launch_flush(c);
}

int chr_launch_add(struct chr *c, struct chr_run *r)
{
    struct chr_launch *b = c->launch_next;
    char *id = strdup(r->task_id);

    if (id == NULL)
        return AGORA_ENOMEM;
    if (b == NULL && (b = c->launch_next = calloc(1, sizeof(*b))) == NULL) {
        free(id);
        return AGORA_ENOMEM;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        char **v = realloc(b->ids, cap * sizeof(*v));

        if (v == NULL) {
            free(id);
            return AGORA_ENOMEM;
        }
        b->ids = v;
        b->cap = cap;
    }
    b->ids[b->n++] = id;
    b->left++;
    r->launch = b;
    /* Written at the end of this turn, with whatever else it starts. */
    if (c->launch_timer == NULL &&
        c->api->timer_start(c->h, 0, 0, flush_fire, c, &c->launch_timer) != 0)
        c->launch_timer = NULL;
    return 0;
}

static void launch_written(void *arg, int err,
                           const struct agora_store_result *res)
{
    struct chr_launch *b = arg;
    struct chr *c = b->c;
    size_t i;

    (void)res;
    b->written = 1;
    b->left++; /* held while its runs go on */
    for (i = 0; i < b->n; i++) {
        struct chr_run *r = agora_map_get(&c->tasks, b->ids[i]);

        if (r == NULL || r->state != CHR_RUN_RECORDING)
            continue;
        if (err == 0) {
            chr_sched_queue_push(c, r);
            continue;
        }
        CHR_LOG(c, AGORA_LOG_ERROR, "cannot record %s: %s; not launched",
                r->task_id, c->api->strerror(err));
        chr_run_forget(c, r, NULL, NULL);
    }
    if (--b->left == 0)
        launch_done(c, b);
}

/* The record's value: {"runs":[...]} of the runs still recording. */
static char *launch_json(struct chr *c, const struct chr_launch *b)
{
    struct agora_jw *w = agora_jw_new();
    const char *doc;
    char *s = NULL;
    size_t i;

    if (w == NULL)
        return NULL;
    agora_jw_obj_open(w);
    agora_jw_key(w, "runs");
    agora_jw_arr_open(w);
    for (i = 0; i < b->n; i++) {
        struct chr_run *r = agora_map_get(&c->tasks, b->ids[i]);

        if (r)
            chr_run_write(w, r);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    doc = agora_jw_result(w, NULL);
    if (doc)
        s = strdup(doc);
    agora_jw_free(w);
    return s;
}

void chr_launch_flush(struct chr *c)
{
    struct chr_launch *b = c->launch_next;
    char *json;
    int rc = AGORA_ENOMEM;

    if (c->launch_timer) {
        c->api->timer_stop(c->h, c->launch_timer);
        c->launch_timer = NULL;
    }
    if (b == NULL)
        return;
    c->launch_next = NULL;
    b->c = c;
    b->next = c->launches;
    if (b->next)
        b->next->pprev = &b->next;
    b->pprev = &c->launches;
    c->launches = b;
    json = launch_json(c, b);
    if (json && asprintf(&b->key, "launches/%lld-%llu",
                         (long long)chr_now(c),
                         (unsigned long long)++c->launch_seq) >= 0)
        rc = chr_store_put(c, b->key, json, strlen(json), AGORA_STORE_NEW,
                           launch_written, b);
    else
        chr_store_refused(c);
    free(json);
    if (rc != 0)
        launch_written(b, rc, NULL);
}

void chr_launch_free_all(struct chr *c)
{
    size_t i;

    if (c->launch_next) {
        for (i = 0; i < c->launch_next->n; i++)
            free(c->launch_next->ids[i]);
        free(c->launch_next->ids);
        free(c->launch_next);
        c->launch_next = NULL;
    }
    while (c->launches)
        launch_free(c->launches);
}
