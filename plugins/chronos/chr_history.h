/*
 * chr_history.h - a job's last runs: what job/stat and stats/{percentile}
 * are computed from, kept in the store so that they survive a restart
 * and a failover (chronos-api.md §1.2 #8, #15).
 *
 * One entry per task that ended (every attempt is its own task) and per
 * instant skipped past its deadline, oldest first, at most `limit` (the
 * plugin's `history` setting): adding one more drops the oldest, so the
 * store's history/<name> never grows past limit entries, whatever the
 * job's age. The store form is a JSON array of
 *
 *   {"taskId","agentId","due","start","end","duration","attempt","status"}
 *
 * times in ms UTC (0: none; a skipped instant never started), status one
 * of "success", "failure", "killed", "skipped". What Chronos serves in
 * job/stat's taskStatHistory (TaskStat: times as MM/dd/yy HH:mm:ss in UTC
 * or "N/A", durations as Joda prints them, "Success"/"Fail") is written
 * from it by chr_hist_write_stat().
 *
 * Memory: a history owns its entries and their strings; the array grows
 * by doubling up to limit, so a job that never ran costs nothing.
 */
#ifndef CHR_HISTORY_H
#define CHR_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include <agora/json.h>

enum chr_hist_status {
    CHR_HIST_SUCCESS = 0,
    CHR_HIST_FAILURE,   /* failed, lost, timed out (retried or not)     */
    CHR_HIST_KILLED,    /* killed on request (delete, task/kill)        */
    CHR_HIST_SKIPPED    /* an instant past its deadline: never launched */
};

struct chr_hist_ent {
    char *task_id;      /* "" for a skipped instant                     */
    char *agent_id;     /* "" when unknown                              */
    int64_t due;        /* the nominal instant                          */
    int64_t start;      /* TASK_RUNNING; 0 = never started              */
    int64_t end;        /* ended (or skipped)                           */
    int attempt;
    enum chr_hist_status status;
};

struct chr_hist {
    struct chr_hist_ent *v; /* oldest first */
    size_t n, cap;
};

/* Appends a copy of e (its strings copied; NULL reads ""), dropping the
 * oldest entries so that at most limit (>= 1) remain. 0 or AGORA_ENOMEM
 * (the history is unchanged). */
int chr_hist_add(struct chr_hist *h, size_t limit,
                 const struct chr_hist_ent *e);
/* Frees every entry; h is empty and reusable. */
void chr_hist_clear(struct chr_hist *h);

/* The store form of h (a JSON array). */
void chr_hist_write(struct agora_jw *w, const struct chr_hist *h);
/* Replaces h by the store form in json, keeping its last `limit`
 * entries; entries that are not objects are left out. 0, AGORA_EINVAL
 * (not a JSON array: h emptied) or AGORA_ENOMEM. */
int chr_hist_parse(const char *json, size_t limit, struct chr_hist *h);

/* The durations (end - start, ms) of h's successful runs, oldest first,
 * in a malloc'ed array of *n (NULL with *n 0 when none or no memory). */
int64_t *chr_hist_durations(const struct chr_hist *h, size_t *n);

/* job/stat's taskStatHistory entries for h, newest first (job borrowed
 * for jobName). Skipped instants are left out: Chronos has no such
 * TaskStat. */
void chr_hist_write_stat(struct agora_jw *w, const struct chr_hist *h,
                         const char *job);

/* "MM/dd/yy HH:mm:ss" of ms in UTC, or "N/A" for 0 (buf >= 20 bytes). */
const char *chr_hist_fmt_time(int64_t ms, char *buf, size_t len);
/* A duration as Chronos prints one (Joda's Duration.toPeriod(): hours,
 * minutes, whole seconds; hours and minutes left out when zero, hours
 * past 24 not folded into days): 3723000 -> "1h2m3s", 3600000 -> "1h0s". */
const char *chr_hist_fmt_duration(int64_t ms, char *buf, size_t len);

/* "success", "failure", "killed", "skipped" (static). */
const char *chr_hist_status_name(enum chr_hist_status s);

#endif /* CHR_HISTORY_H */
