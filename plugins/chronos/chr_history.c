/*
 * chr_history.c - a job's last runs, bounded (chr_history.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <agora/plugin.h>

#include "chr_history.h"

static const char *const status_names[] = {"success", "failure", "killed",
                                           "skipped"};

const char *chr_hist_status_name(enum chr_hist_status s)
{
    return (unsigned)s < 4 ? status_names[s] : "failure";
}

static void ent_free(struct chr_hist_ent *e)
{
    free(e->task_id);
    free(e->agent_id);
}

/* Drops the oldest entry. */
static void drop_oldest(struct chr_hist *h)
{
    ent_free(&h->v[0]);
    memmove(h->v, h->v + 1, (h->n - 1) * sizeof(*h->v));
    h->n--;
}

int chr_hist_add(struct chr_hist *h, size_t limit,
                 const struct chr_hist_ent *e)
{
    struct chr_hist_ent c = *e;

    if (limit == 0)
        limit = 1;
    c.task_id = strdup(e->task_id ? e->task_id : "");
    c.agent_id = strdup(e->agent_id ? e->agent_id : "");
    if (c.task_id == NULL || c.agent_id == NULL)
        goto nomem;
    while (h->n >= limit)
        drop_oldest(h);
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 4;
        struct chr_hist_ent *v;

        if (cap > limit)
            cap = limit;
        v = realloc(h->v, cap * sizeof(*v));
        if (v == NULL)
            goto nomem;
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = c;
    return 0;
nomem:
    ent_free(&c);
    return AGORA_ENOMEM;
}

void chr_hist_clear(struct chr_hist *h)
{
    size_t i;

    for (i = 0; i < h->n; i++)
        ent_free(&h->v[i]);
    free(h->v);
    memset(h, 0, sizeof(*h));
}

void chr_hist_write(struct agora_jw *w, const struct chr_hist *h)
{
    size_t i;

    agora_jw_arr_open(w);
    for (i = 0; i < h->n; i++) {
        const struct chr_hist_ent *e = &h->v[i];

        agora_jw_obj_open(w);
        agora_jw_kstr(w, "taskId", e->task_id);
        agora_jw_kstr(w, "agentId", e->agent_id);
        agora_jw_kint(w, "due", e->due);
        agora_jw_kint(w, "start", e->start);
        agora_jw_kint(w, "end", e->end);
        agora_jw_kint(w, "duration",
                      e->start > 0 && e->end >= e->start ? e->end - e->start
                                                         : 0);
        agora_jw_kint(w, "attempt", e->attempt);
        agora_jw_kstr(w, "status", chr_hist_status_name(e->status));
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

static int64_t get_int(yajl_val v, const char *key)
{
    int64_t x = 0;

    return agora_json_int(v, key, &x) == 0 ? x : 0;
}

static enum chr_hist_status parse_status(const char *s)
{
    int i;

    for (i = 0; s && i < 4; i++) {
        if (strcmp(s, status_names[i]) == 0)
            return (enum chr_hist_status)i;
    }
    return CHR_HIST_FAILURE;
}

int chr_hist_parse(const char *json, size_t limit, struct chr_hist *h)
{
    yajl_val v = agora_json_parse(json, NULL, 0);
    size_t i, from;
    int rc = 0;

    chr_hist_clear(h);
    if (!YAJL_IS_ARRAY(v)) {
        yajl_tree_free(v);
        return AGORA_EINVAL;
    }
    if (limit == 0)
        limit = 1;
    from = v->u.array.len > limit ? v->u.array.len - limit : 0;
    for (i = from; rc == 0 && i < v->u.array.len; i++) {
        yajl_val o = v->u.array.values[i];
        struct chr_hist_ent e;

        if (!YAJL_IS_OBJECT(o))
            continue;
        e.task_id = (char *)agora_json_get_str(o, "taskId");
        e.agent_id = (char *)agora_json_get_str(o, "agentId");
        e.due = get_int(o, "due");
        e.start = get_int(o, "start");
        e.end = get_int(o, "end");
        e.attempt = (int)get_int(o, "attempt");
        e.status = parse_status(agora_json_get_str(o, "status"));
        rc = chr_hist_add(h, limit, &e);
    }
    yajl_tree_free(v);
    return rc;
}

int64_t *chr_hist_durations(const struct chr_hist *h, size_t *n)
{
    int64_t *v = h->n ? malloc(h->n * sizeof(*v)) : NULL;
    size_t i;

    *n = 0;
    for (i = 0; v && i < h->n; i++) {
        const struct chr_hist_ent *e = &h->v[i];

        if (e->status == CHR_HIST_SUCCESS && e->start > 0 &&
            e->end >= e->start)
            v[(*n)++] = e->end - e->start;
    }
    if (*n == 0) {
        free(v);
        return NULL;
    }
    return v;
}

const char *chr_hist_fmt_time(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || gmtime_r(&t, &tm) == NULL ||
        strftime(buf, len, "%m/%d/%y %H:%M:%S", &tm) == 0)
        snprintf(buf, len, "N/A");
    return buf;
}

const char *chr_hist_fmt_duration(int64_t ms, char *buf, size_t len)
{
    int64_t s = ms > 0 ? ms / 1000 : 0;
    long long h = (long long)(s / 3600), m = (long long)(s / 60 % 60);
    int n = 0;

    buf[0] = '\0';
    if (h > 0)
        n = snprintf(buf, len, "%lldh", h);
    if (m > 0 && n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, "%lldm", m);
    if (n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, "%llds", (long long)(s % 60));
    return buf;
}

void chr_hist_write_stat(struct agora_jw *w, const struct chr_hist *h,
                         const char *job)
{
    char b[32];
    size_t i;

    for (i = h->n; i-- > 0;) {
        const struct chr_hist_ent *e = &h->v[i];

        if (e->status == CHR_HIST_SKIPPED)
            continue;
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "taskId", e->task_id);
        agora_jw_kstr(w, "jobName", job);
        agora_jw_kstr(w, "slaveId", e->agent_id);
        agora_jw_kstr(w, "startTime", chr_hist_fmt_time(e->start, b,
                                                         sizeof(b)));
        agora_jw_kstr(w, "endTime", chr_hist_fmt_time(e->end, b, sizeof(b)));
        if (e->start > 0 && e->end >= e->start)
            agora_jw_kstr(w, "duration",
                          chr_hist_fmt_duration(e->end - e->start, b,
                                                sizeof(b)));
        agora_jw_kstr(w, "status",
                      e->status == CHR_HIST_SUCCESS ? "Success" : "Fail");
        agora_jw_obj_close(w);
    }
}
