/*
 * chr_next.c - GET /v1/scheduler/next: the next runs of a schedule, for
 * the New Job form's preview. The scheduler's own grammar and zone
 * rules (chr_iso_parse, chr_cron_next, chr_period_add) compute them, so
 * what the form previews is what the job will do, DST included; a
 * second implementation in the page could only disagree with it.
 *
 * An ISO 8601 interval runs at its start and every period after, as
 * many times as R<n> says. The list starts at now: a start in the past
 * is moved on by whole periods to the first instant not before now (a
 * job whose start was missed by less than its epsilon also runs once at
 * once, which this list, knowing no epsilon, does not show).
 * A cron expression ("cron:..." as a job's schedule, or bare) runs at
 * each match after now.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "chronos.h"
#include "chr_time.h"
#include "chr_ui.h"

#define CHR(st) ((struct chr *)(st))

#define NEXT_DEFAULT 5
#define NEXT_MAX 50
/* Periods stepped over to pass now; a tiny period after a distant start
 * is then jumped over in one multiplication (fixed-length periods). */
#define NEXT_SKIP_STEPS 1000

/* Is s a cron expression: "cron:..." or five space-separated fields? */
static const char *cron_expr(const char *s)
{
    int fields = 0, in = 0;
    const char *p;

    if (strncmp(s, "cron:", 5) == 0)
        return s + 5;
    for (p = s; *p; p++) {
        if (*p == ' ' || *p == '\t') {
            in = 0;
        } else if (!in) {
            in = 1;
            fields++;
        }
    }
    return fields == 5 ? s : NULL;
}

static int next_cron(const char *expr, const struct chr_tz *z, int64_t now,
                     int64_t *out, int n, const char **why)
{
    struct chr_cron *cr = chr_cron_parse(expr, why);
    int64_t t = now;
    int k = 0;

    if (cr == NULL)
        return -1;
    while (k < n && (t = chr_cron_next(cr, z, t)) > 0)
        out[k++] = t;
    chr_cron_free(cr);
    return k;
}

/* The first instant of iso at or after now. */
static int64_t iso_skip(const struct chr_iso *iso, const struct chr_tz *z,
                        int64_t now, int64_t *left)
{
    const struct chr_period *p = &iso->period;
    int64_t t = iso->start, step;
    int guard = 0;

    while (t < now && *left != 0 && guard++ < NEXT_SKIP_STEPS) {
        t = chr_period_add(p, z, t);
        if (*left > 0)
            (*left)--;
    }
    if (t < now && *left < 0 && !p->years && !p->months && !p->weeks &&
        !p->days && (step = chr_period_add(p, NULL, 0)) > 0)
        t += ((now - t) / step + 1) * step;
    return t;
}

static int next_iso(const char *s, const struct chr_tz *z, int64_t now,
                    int64_t *out, int n, const char **why)
{
    struct chr_iso iso;
    int64_t left, t;
    int k = 0;

    if (chr_iso_parse(s, now, z, &iso, why) != 0)
        return -1;
    left = iso.repeat;
    if (chr_period_zero(&iso.period)) { /* one run, at its start */
        if (left == 0 || iso.start < now)
            return 0;
        out[0] = iso.start;
        return 1;
    }
    t = iso_skip(&iso, z, now, &left);
    while (k < n && left != 0 && t >= now) {
        out[k++] = t;
        t = chr_period_add(&iso.period, z, t);
        if (left > 0)
            left--;
    }
    return k;
}

static void reply_next(struct chr *c, struct agora_req *r, const char *sched,
                       const char *tz, const int64_t *t, int n)
{
    struct agora_jw *w = agora_jw_new();
    char buf[32];
    int i;

    if (w == NULL) {
        agora_reply_error(c->api, r, 503, "out of memory");
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "schedule", sched);
    agora_jw_kstr(w, "timezone", tz ? tz : "");
    agora_jw_key(w, "next");
    agora_jw_arr_open(w);
    for (i = 0; i < n; i++) {
        chr_time_format(t[i], buf);
        agora_jw_str(w, buf);
    }
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    agora_reply_jw(c->api, r, 200, w);
    agora_jw_free(w);
}

void chr_h_next(void *st, struct agora_req *r)
{
    struct chr *c = CHR(st);
    const char *sched = c->api->req_query(r, "schedule", 0);
    const char *tz = c->api->req_query(r, "timezone", 0);
    const char *cnt = c->api->req_query(r, "count", 0);
    const struct chr_tz *z = NULL;
    const char *why = NULL, *expr;
    int64_t t[NEXT_MAX];
    char msg[256];
    int n = cnt ? atoi(cnt) : NEXT_DEFAULT;

    if (sched == NULL || !*sched)
        return (void)agora_reply_error(c->api, r, 400, "schedule is required");
    if (n < 1 || n > NEXT_MAX)
        n = n < 1 ? 1 : NEXT_MAX;
    if (tz && *tz && (z = chr_zone(c, tz, &why)) == NULL) {
        snprintf(msg, sizeof(msg), "%s '%.64s'",
                 why ? why : "unknown time zone", tz);
        return (void)agora_reply_error(c->api, r, 400, msg);
    }
    expr = cron_expr(sched);
    n = expr ? next_cron(expr, z, chr_now(c), t, n, &why)
             : next_iso(sched, z, chr_now(c), t, n, &why);
    if (n < 0) {
        snprintf(msg, sizeof(msg), "Cannot parse schedule '%.64s' (%s)", sched,
                 why ? why : "not ISO 8601 nor cron");
        return (void)agora_reply_error(c->api, r, 400, msg);
    }
    reply_next(c, r, sched, tz, t, n);
}
