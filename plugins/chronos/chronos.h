/*
 * chronos.h - chronos.so's runtime: jobs, their due times, runs and the
 * dependency joins.
 *
 * State lives in memory, owned by the master's loop, and in the store:
 *
 *   jobs/<name>                 the job (chr_job JSON), its schedule
 *                               rewritten after each launch, its counters
 *   launches/<ms>-<seq>         the runs started in one turn, written
 *                               before their tasks are launched
 *                               (chr_launch.c), deleted once each has
 *                               its own record or has ended
 *   runs/<name>@<due>-<attempt> a run in flight, from its first change
 *                               on; deleted when it has ended
 *   joins/<name>                a dependent job's parents that succeeded
 *                               since it last started (the AND-join)
 *   history/<name>              its last runs, at most `history` of them
 *                               (chr_history.h): job/stat and stats/
 *                               come from it, after a restart too
 *
 * Exactly once per nominal instant (chronos-api.md §6 #1): a run is
 * recorded (in its turn's launch record) before its task is launched,
 * its task id is derived from (job, instant, attempt), and the job's
 * advanced schedule is written after that record; a new leader loads
 * every record, so it holds the run under its task id, never starts that
 * instant again (a run's task id is unique among live runs) and
 * reconciles its task instead; fencing keeps a deposed leader's late
 * writes out, and the SDK's idempotent launches answer a second launch
 * of an id with its status.
 * Store completions come in call order, so a run's record is deleted only
 * after the schedule that moved past its instant is stored.
 *
 * Due times wait in a binary heap (chr_heap.h); one SDK timer is armed for
 * the earliest, so an idle plugin with any number of jobs uses no CPU.
 */
#ifndef CHRONOS_H
#define CHRONOS_H

#include <stddef.h>
#include <stdint.h>

#include <agora/json.h>
#include <agora/map.h>
#include <agora/pending.h>
#include <agora/plugin.h>
#include <agora/resources.h>
#include <agora/sdk.h>

#include "chr_heap.h"
#include "chr_history.h"
#include "chr_job.h"
#include "chr_time.h"

struct chr_conf {
    double failure_retry;       /* s between a failure and its retry (60) */
    double cpus, mem, disk;     /* defaults of jobs that give 0           */
    const char *user;           /* runAsUser's default                    */
    const char *epsilon;        /* epsilon's default ("PT60S")            */
    int64_t history;            /* runs kept per job (history/<name>)     */
};

struct chr_rjob;

enum chr_run_state {
    CHR_RUN_RECORDING = 0,      /* its record is being written            */
    CHR_RUN_QUEUED,             /* waiting for an offer                   */
    CHR_RUN_LAUNCHED,           /* sent to an agent                       */
    CHR_RUN_RUNNING
};

struct chr_run {
    struct chr_rjob *rj;        /* NULL once its job was deleted          */
    char *job_name;             /* its job's, kept for its store key      */
    char *task_id;
    int64_t due;                /* the nominal instant, ms UTC            */
    int attempt;
    char *args;                 /* for "run now" with arguments           */
    enum chr_run_state state;
    int64_t started;            /* ms; 0 = not yet                        */
    char *agent_id;
    int killing;
    int timed_out;              /* killed past maxCompletionTime: a failure */
    int task_ended;             /* async: its task finished, the callback
                                 * is awaited (kept in its record)        */
    int reported;               /* its outcome came by callback and is
                                 * counted; its task's end forgets it     */
    struct chr_run *next_queued; /* in the launch queue                   */
    struct chr_launch *launch;  /* its launch record while it has no own */
};

struct chr_rjob {
    struct chr_job *job;
    int64_t store_version;
    size_t heap_index;          /* CHR_HEAP_NONE when not waiting         */
    int64_t next_due;           /* the instant it waits for, 0 = none     */
    int64_t held_due;           /* due while a run goes (QUEUE): runs once
                                 * the current one ends; 0 = none         */
    struct chr_run **runs;      /* live runs                              */
    size_t nruns, capruns;
    char **joined;              /* parents succeeded since it started     */
    size_t njoined;
    struct chr_hist hist;       /* its last runs                          */
};

/* The plugin's store writes, numbered in call order, and the answers
 * waiting for them (chr_stored.c). */
struct chr_held;
struct chr_stored {
    uint64_t issued;  /* writes made that will complete */
    uint64_t refused; /* writes that could not be made  */
    /* Answers waiting, in the order of the writes they wait for. */
    struct chr_held *held, **held_tail;
};

/* Where a request's writes begin: chr_stored_mark(). */
struct chr_mark {
    uint64_t writes, refused;
};

struct chr {
    struct agora_host *h;
    const struct agora_api *api;
    const struct chr_conf *conf;
    struct chr_job_conf jconf;
    struct agora_framework *fw;
    int loaded;
    int load_step;

    struct agora_map jobs;      /* name -> struct chr_rjob                */
    struct agora_map tasks;     /* task id -> struct chr_run              */
    struct agora_map zones;     /* name -> struct chr_tz (shared)         */
    struct chr_heap heap;
    struct agora_timer *due_timer;
    int64_t due_timer_at;
    struct chr_run *queue_high, *queue;  /* launch queues (FIFO heads)   */
    struct chr_run **queue_high_tail, **queue_tail;
    int suppressed;
    struct agora_pending pend;  /* callbacks in flight                   */
    struct chr_stored stored;
    struct chr_launch *launch_next; /* the launch record being gathered  */
    struct chr_launch *launches;    /* written, still needed by a run    */
    struct agora_timer *launch_timer; /* writes launch_next this turn    */
    uint64_t launch_seq;
    size_t ndependent;          /* dependent jobs: none, no join to look at */
    uint64_t launched, finished, failed, skipped;
};

/* Runs kept per job: the `history` setting within [1, 1000], so that a
 * history/<name> value (entries of at most ~600 bytes) stays well under
 * the store's 1 MB. */
#define CHR_HISTORY_MAX 1000
static inline size_t chr_hist_limit(const struct chr *c)
{
    int64_t n = c->conf->history;

    return n < 1 ? 1 : n > CHR_HISTORY_MAX ? CHR_HISTORY_MAX : (size_t)n;
}

#define CHR_LOG(c, lvl, ...) (c)->api->log((c)->h, (lvl), __VA_ARGS__)

/* ---- chr_state.c ---- */

int64_t chr_now(struct chr *c);
struct chr_rjob *chr_job_get(struct chr *c, const char *name);
/* Adds or replaces a job (taken); saves it; (re)computes its due time. */
struct chr_rjob *chr_job_put(struct chr *c, struct chr_job *j);
/* Kills its runs, removes it from memory and the store. */
void chr_job_remove(struct chr *c, struct chr_rjob *rj);
void chr_job_save(struct chr *c, struct chr_rjob *rj);
void chr_joins_save(struct chr *c, struct chr_rjob *rj);
/* Writes the run's own record, runs/<name>@<due>-<attempt> (chr_launch.c
 * says when), and with _ack then acknowledges (task_id, uuid). */
void chr_run_record(struct chr *c, struct chr_run *r);
void chr_run_record_ack(struct chr *c, struct chr_run *r,
                        const char *task_id, const char *uuid);
/* Adds e (copied) to rj's history, bounded by conf->history, and stores
 * the history. */
void chr_history_add(struct chr *c, struct chr_rjob *rj,
                     const struct chr_hist_ent *e);
/* The run as its record holds it (a JSON object). */
void chr_run_write(struct agora_jw *w, const struct chr_run *r);
void chr_run_forget(struct chr *c, struct chr_run *r, const char *ack_task,
                    const char *ack_uuid);
void chr_state_load(struct chr *c);
void chr_state_free(struct chr *c);
const struct chr_tz *chr_zone(void *ctx, const char *name, const char **why);

/* ---- chr_sched.c ---- */

/* Re-arms the job's due time from its schedule (none for dependents,
 * disabled or exhausted jobs). */
void chr_sched_arm(struct chr *c, struct chr_rjob *rj);
void chr_sched_disarm(struct chr *c, struct chr_rjob *rj);
/* Starts a run of rj now for instant due (run now, a dependent's turn). */
int chr_sched_run(struct chr *c, struct chr_rjob *rj, int64_t due,
                  int attempt, const char *args);
void chr_sched_kill_all(struct chr *c, struct chr_rjob *rj);
/* Queues r for an offer (high priority first), reviving offers. */
void chr_sched_queue_push(struct chr *c, struct chr_run *r);
/* An instant of rj fell due (from the heap, or held until a run ended). */
void chr_sched_due(struct chr *c, struct chr_rjob *rj, int64_t due);
void chr_sched_on_offer(void *state, struct agora_framework *fw,
                        const struct agora_offer *offers, size_t n);
void chr_sched_timer_update(struct chr *c);
void chr_sched_free(struct chr *c);

/* ---- chr_stored.c: writes, and answers once they are stored ---- */

/* The store's put and delete (borrowing key and value for the call),
 * numbered so that an answer can wait for them. cb(arg, err, result) as
 * the store's; NULL logs a failure (not ENOENT). 0, or the store's
 * error at the call (logged; cb is not called). */
int chr_store_put(struct chr *c, const char *key, const void *value, size_t len,
                  int64_t version, agora_store_fn cb, void *arg);
int chr_store_delete(struct chr *c, const char *key, int64_t version,
                     agora_store_fn cb, void *arg);
/* A write the caller could not make (no memory for its value): the
 * answer of the request that made it is a 503. */
void chr_store_refused(struct chr *c);
/* Taken by a route that changes state, before its first write. */
struct chr_mark chr_stored_mark(const struct chr *c);
/* Answers r with status and body (copied; ctype kept: a literal, or
 * NULL for JSON) once every write made since `since` is stored, or 503
 * {"message"} if one failed; at once when it made none. Writes this
 * turn's launch record first (chr_launch_flush()): the runs the request
 * started are part of its change. */
void chr_reply_stored(struct chr *c, struct agora_req *r, struct chr_mark since,
                      int status, const char *ctype, const char *body);

/* ---- chr_launch.c ---- */

struct chr_launch;
/* Puts the new run r (CHR_RUN_RECORDING) in this turn's launch record,
 * written at the end of the turn or by chr_launch_flush(); once it is
 * stored, r is queued for an offer. 0 or AGORA_ENOMEM. */
int chr_launch_add(struct chr *c, struct chr_run *r);
/* Writes the launch record gathered so far, now. */
void chr_launch_flush(struct chr *c);
/* r no longer needs its launch record (it has its own, or has ended). */
void chr_launch_unref(struct chr *c, struct chr_run *r);
/* Frees every launch record's memory (unload; no store call). */
void chr_launch_free_all(struct chr *c);

/* ---- chr_run_end.c ---- */

void chr_sched_on_status(void *state, struct agora_framework *fw,
                         const struct agora_status *st);
/* The 2.x completion callback for run r: statusCode 0 a success, any
 * other a failure. 0, or AGORA_ESTATE when r was not launched yet or its
 * outcome is decided already. */
int chr_run_report(struct chr *c, struct chr_run *r, int64_t status_code);
/* Ends run r, whose async task finished, without waiting for its
 * callback: killed on request (a delete, task/kill), nothing counted.
 * Frees r (it leaves its job's runs). */
void chr_run_cancel(struct chr *c, struct chr_run *r);
/* An instant of rj skipped past its deadline: counted and in its
 * history. */
void chr_run_skipped(struct chr *c, struct chr_rjob *rj, int64_t due);

/* ---- chr_http.c ---- */

extern const struct agora_route chr_routes[];

/* Chronos' 400 {"status":"Bad Request","message":<fmt...>}. */
void chr_reply_bad(struct chr *c, struct agora_req *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 1 when the jobs are loaded; else answers 503 and returns 0. */
int chr_http_ready(struct chr *c, struct agora_req *r);
/* The job named by the path's :name, or NULL, answered 400 (Chronos). */
struct chr_rjob *chr_http_job(struct chr *c, struct agora_req *r);

/* ---- chr_http_task.c: the completion callback and the statistics ---- */

void chr_h_task_report(void *st, struct agora_req *r);
void chr_h_job_stat(void *st, struct agora_req *r);
void chr_h_stats(void *st, struct agora_req *r);

#endif /* CHRONOS_H */
