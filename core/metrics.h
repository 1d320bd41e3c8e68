/*
 * metrics.h - named numbers for /metrics/snapshot.
 *
 * Keys are Mesos style, "<component>/<name>" ("master/uptime_secs",
 * "hello/requests"). Values set here are kept until removed; values that
 * are cheaper to compute on demand are added by the snapshot writer.
 *
 * A histogram keeps its last METRICS_WINDOW observations, as a Mesos
 * timer keeps a window of its series, and is written as <key> (the last
 * one), <key>/count (all ever observed), and /min, /max, /p50, /p90,
 * /p95, /p99, /p999 of the window.
 */
#ifndef AGORA_METRICS_H
#define AGORA_METRICS_H

#include "map.h"

struct agora_jw;

#define METRICS_WINDOW 1000

struct metrics {
    struct map values; /* key -> double *                    */
    struct map hists;  /* key -> struct metrics_hist *       */
};

#define METRICS_INIT {MAP_INIT, MAP_INIT}

/* Sets or adds to a key; 0 or AGORA_ENOMEM / AGORA_EINVAL (bad key). */
int metrics_set(struct metrics *m, const char *key, double value);
int metrics_add(struct metrics *m, const char *key, double delta);

/* Adds an observation to the histogram key; 0 or AGORA_ENOMEM /
 * AGORA_EINVAL (a bad key, or one that already names a plain value). */
int metrics_observe(struct metrics *m, const char *key, double value);

/* The value of key, 0 when absent. */
double metrics_get(const struct metrics *m, const char *key);

/* Removes every key that starts with prefix ("hello/"). */
void metrics_remove_prefix(struct metrics *m, const char *prefix);

/* Writes each key and value as members of the open object w. */
void metrics_write(const struct metrics *m, struct agora_jw *w);

void metrics_free(struct metrics *m);

#endif /* AGORA_METRICS_H */
