/*
 * master_maintenance.c - Mesos' maintenance primitives, v0:
 *
 *   GET/POST /master/maintenance/schedule  {"windows": [{"machine_ids":
 *            [{"hostname", "ip"}], "unavailability": {"start":
 *            {"nanoseconds"}, "duration": {"nanoseconds"}}}]}
 *   GET /master/maintenance/status  {"draining_machines": [{"id", ..}],
 *                                    "down_machines": [..]}
 *   POST /master/machine/down  [{"hostname", "ip"}]
 *   POST /master/machine/up    [{"hostname", "ip"}]
 *
 * A machine in the schedule is draining; brought down, the agents on it
 * are gone (agents_mark_gone(): their tasks are killed, they shut down)
 * and none of its agents may subscribe until it is brought up, which
 * also takes it out of the schedule. agora sends no inverse offers: a
 * draining machine's resources are offered as before (plugins see the
 * schedule through the master's endpoints). Stored by master_policy.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agents.h"
#include "http.h"
#include "log.h"
#include "map.h"
#include "master.h"
#include "master_policy.h"

struct maint_machine {
    char *hostname; /* either may be NULL, not both */
    char *ip;
};

struct maint_window {
    struct maint_machine *ms;
    size_t n;
    int64_t start_ns;
    int64_t duration_ns; /* -1: none given */
};

/* ---- machines ---- */

static void machine_free(struct maint_machine *mm)
{
    free(mm->hostname);
    free(mm->ip);
}

static int machine_same(const struct maint_machine *a,
                        const struct maint_machine *b)
{
    return ((a->hostname == NULL) == (b->hostname == NULL)) &&
           ((a->ip == NULL) == (b->ip == NULL)) &&
           (a->hostname == NULL || strcasecmp(a->hostname, b->hostname) == 0) &&
           (a->ip == NULL || strcmp(a->ip, b->ip) == 0);
}

/* Whether an agent at hostname/ip is on the machine (what the machine id
 * names must match). */
static int machine_has(const struct maint_machine *mm, const char *hostname,
                       const char *ip)
{
    if (mm->hostname && (hostname == NULL ||
                         strcasecmp(mm->hostname, hostname) != 0))
        return 0;
    return mm->ip == NULL || (ip && strcmp(mm->ip, ip) == 0);
}

/* A MachineID {"hostname", "ip"} into mm; 0, or -1 with why. */
static int machine_read(yajl_val v, struct maint_machine *mm,
                        const char **why)
{
    const char *h = agora_json_get_str(v, "hostname");
    const char *ip = agora_json_get_str(v, "ip");

    memset(mm, 0, sizeof(*mm));
    if ((h == NULL || !*h) && (ip == NULL || !*ip)) {
        *why = "each machine id needs a 'hostname' or an 'ip'";
        return -1;
    }
    if ((h && *h && (mm->hostname = strdup(h)) == NULL) ||
        (ip && *ip && (mm->ip = strdup(ip)) == NULL)) {
        machine_free(mm);
        *why = "out of memory";
        return -1;
    }
    return 0;
}

/* A JSON array of MachineIDs into a new array (*out, *n). */
static int machines_read(yajl_val arr, struct maint_machine **out, size_t *n,
                         const char **why)
{
    size_t i;

    *out = NULL;
    *n = 0;
    if (!YAJL_IS_ARRAY(arr) || arr->u.array.len == 0) {
        *why = "expecting a non-empty array of machine ids";
        return -1;
    }
    *out = calloc(arr->u.array.len, sizeof(**out));
    if (*out == NULL) {
        *why = "out of memory";
        return -1;
    }
    for (i = 0; i < arr->u.array.len; i++) {
        if (machine_read(arr->u.array.values[i], &(*out)[i], why) < 0)
            return -1; /* the caller frees the *n read */
        (*n)++;
    }
    return 0;
}

static void machines_free(struct maint_machine *ms, size_t n)
{
    size_t i;

    for (i = 0; ms && i < n; i++)
        machine_free(&ms[i]);
    free(ms);
}

static void machine_write(struct agora_jw *w, const struct maint_machine *mm)
{
    agora_jw_obj_open(w);
    if (mm->hostname)
        agora_jw_kstr(w, "hostname", mm->hostname);
    if (mm->ip)
        agora_jw_kstr(w, "ip", mm->ip);
    agora_jw_obj_close(w);
}

/* ---- the schedule ---- */

static void windows_free(struct maint_window *ws, size_t n)
{
    size_t i;

    for (i = 0; ws && i < n; i++)
        machines_free(ws[i].ms, ws[i].n);
    free(ws);
}

/* {"nanoseconds": n} */
static int nanos_read(yajl_val v, int64_t *out)
{
    return agora_json_int(v, "nanoseconds", out) == 0 ? 0 : -1;
}

static int window_read(yajl_val v, struct maint_window *win, const char **why)
{
    yajl_val un = agora_json_get(v, "unavailability");
    yajl_val dur = un ? agora_json_get(un, "duration") : NULL;

    win->duration_ns = -1;
    if (machines_read(agora_json_get(v, "machine_ids"), &win->ms, &win->n,
                      why) < 0)
        return -1;
    if (!YAJL_IS_OBJECT(un) || nanos_read(agora_json_get(un, "start"),
                                          &win->start_ns) < 0) {
        *why = "each window needs unavailability.start.nanoseconds";
        return -1;
    }
    if (dur && (nanos_read(dur, &win->duration_ns) < 0 ||
                win->duration_ns < 0)) {
        *why = "unavailability.duration.nanoseconds must be >= 0";
        return -1;
    }
    return 0;
}

/* The machine of the schedule equal to mm, or NULL. */
static const struct maint_machine *sched_find(const struct maint_window *ws,
                                              size_t nw,
                                              const struct maint_machine *mm)
{
    size_t i, j;

    for (i = 0; i < nw; i++)
        for (j = 0; j < ws[i].n; j++)
            if (machine_same(&ws[i].ms[j], mm))
                return &ws[i].ms[j];
    return NULL;
}

/* The machines down must stay in a new schedule (m NULL: no check). */
static int schedule_keeps_down(const struct master *m,
                               const struct maint_window *ws, size_t nw,
                               const char **why)
{
    size_t i;

    for (i = 0; m && i < m->policy.ndown; i++)
        if (sched_find(ws, nw, &m->policy.down[i]) == NULL) {
            *why = "a machine that is down cannot be removed from the "
                   "schedule: bring it up first";
            return -1;
        }
    return 0;
}

/*
 * A schedule {"windows": [...]} into ws/nw: each machine in one window
 * at most, as Mesos validates. The machines down must stay in it.
 */
static int schedule_read(struct master *m, yajl_val doc,
                         struct maint_window **ws, size_t *nw,
                         const char **why)
{
    yajl_val arr = agora_json_get(doc, "windows");
    size_t i, j;

    *ws = NULL;
    *nw = 0;
    if (arr != NULL && !YAJL_IS_ARRAY(arr)) {
        *why = "'windows' must be an array";
        return -1;
    }
    if (arr == NULL || arr->u.array.len == 0) /* {}: no schedule */
        return schedule_keeps_down(m, NULL, 0, why);
    if ((*ws = calloc(arr->u.array.len, sizeof(**ws))) == NULL) {
        *why = "out of memory";
        return -1;
    }
    for (i = 0; i < arr->u.array.len; i++) {
        (*nw)++;
        if (window_read(arr->u.array.values[i], &(*ws)[i], why) < 0)
            return -1;
        for (j = 0; j < (*ws)[i].n; j++)
            if (sched_find(*ws, i, &(*ws)[i].ms[j]) ||
                sched_find(&(*ws)[i], 1, &(*ws)[i].ms[j]) !=
                    &(*ws)[i].ms[j]) {
                *why = "a machine appears more than once in the schedule";
                return -1;
            }
    }
    return schedule_keeps_down(m, *ws, *nw, why);
}

static void schedule_write(struct agora_jw *w, const struct master *m)
{
    size_t i, j;

    agora_jw_obj_open(w);
    if (m->policy.nwindows) {
        agora_jw_key(w, "windows");
        agora_jw_arr_open(w);
    }
    for (i = 0; i < m->policy.nwindows; i++) {
        const struct maint_window *win = &m->policy.windows[i];

        agora_jw_obj_open(w);
        agora_jw_key(w, "machine_ids");
        agora_jw_arr_open(w);
        for (j = 0; j < win->n; j++)
            machine_write(w, &win->ms[j]);
        agora_jw_arr_close(w);
        agora_jw_key(w, "unavailability");
        agora_jw_obj_open(w);
        agora_jw_key(w, "start");
        agora_jw_obj_open(w);
        agora_jw_kint(w, "nanoseconds", win->start_ns);
        agora_jw_obj_close(w);
        if (win->duration_ns >= 0) {
            agora_jw_key(w, "duration");
            agora_jw_obj_open(w);
            agora_jw_kint(w, "nanoseconds", win->duration_ns);
            agora_jw_obj_close(w);
        }
        agora_jw_obj_close(w);
        agora_jw_obj_close(w);
    }
    if (m->policy.nwindows)
        agora_jw_arr_close(w);
    agora_jw_obj_close(w);
}

/* ---- down machines ---- */

static int down_index(const struct master *m, const struct maint_machine *mm)
{
    size_t i;

    for (i = 0; i < m->policy.ndown; i++)
        if (machine_same(&m->policy.down[i], mm))
            return (int)i;
    return -1;
}

int maint_is_down(struct master *m, const char *hostname, const char *ip)
{
    size_t i;

    for (i = 0; i < m->policy.ndown; i++)
        if (machine_has(&m->policy.down[i], hostname, ip))
            return 1;
    return 0;
}

/* The agents on mm are gone: killed, shut down, refused. */
static void down_agents(struct master *m, const struct maint_machine *mm)
{
    size_t pos = 0;
    void *v;

    while (map_next(&m->agents.by_id, &pos, NULL, &v)) {
        struct agent_rec *ag = v;

        if (ag->state != AGENT_GONE &&
            machine_has(mm, ag->hostname, ag->ip))
            agents_mark_gone(m, ag);
    }
}

/* Takes mm out of the schedule (it was brought up). */
static void sched_remove(struct master *m, const struct maint_machine *mm)
{
    size_t i, j;

    for (i = 0; i < m->policy.nwindows; i++) {
        struct maint_window *win = &m->policy.windows[i];

        for (j = 0; j < win->n; j++)
            if (machine_same(&win->ms[j], mm)) {
                machine_free(&win->ms[j]);
                win->ms[j] = win->ms[--win->n];
                break;
            }
        if (win->n == 0) {
            free(win->ms);
            *win = m->policy.windows[--m->policy.nwindows];
            i--;
        }
    }
}

/* ---- storing ---- */

/* The machines down, as an array. */
static void down_write(struct agora_jw *w, const struct master *m)
{
    size_t i;

    agora_jw_arr_open(w);
    for (i = 0; i < m->policy.ndown; i++)
        machine_write(w, &m->policy.down[i]);
    agora_jw_arr_close(w);
}

char *maint_doc(struct master *m, size_t *len)
{
    struct agora_jw *w = agora_jw_new();
    const char *json;
    char *doc = NULL;

    if (w == NULL)
        return NULL;
    agora_jw_obj_open(w);
    agora_jw_key(w, "schedule");
    schedule_write(w, m);
    agora_jw_key(w, "down");
    down_write(w, m);
    agora_jw_obj_close(w);
    if ((json = agora_jw_result(w, len)) != NULL)
        doc = strdup(json);
    agora_jw_free(w);
    return doc;
}

void maint_free(struct master *m)
{
    windows_free(m->policy.windows, m->policy.nwindows);
    machines_free(m->policy.down, m->policy.ndown);
    m->policy.windows = NULL;
    m->policy.nwindows = 0;
    m->policy.down = NULL;
    m->policy.ndown = 0;
}

int maint_load(struct master *m, const char *doc)
{
    char err[200];
    yajl_val v = agora_json_parse(doc, err, sizeof(err));
    yajl_val down = v ? agora_json_get(v, "down") : NULL;
    struct maint_window *ws = NULL;
    struct maint_machine *ms = NULL;
    size_t nw = 0, nd = 0;
    const char *why = err;

    if (v == NULL ||
        schedule_read(NULL, agora_json_get(v, "schedule"), &ws, &nw,
                      &why) < 0 ||
        (YAJL_IS_ARRAY(down) && down->u.array.len &&
         machines_read(down, &ms, &nd, &why) < 0)) {
        log_error("policy", "the stored maintenance does not read: %s", why);
        windows_free(ws, nw);
        machines_free(ms, nd);
        if (v)
            yajl_tree_free(v);
        return -1;
    }
    maint_free(m);
    m->policy.windows = ws;
    m->policy.nwindows = nw;
    m->policy.down = ms;
    m->policy.ndown = nd;
    yajl_tree_free(v);
    if (nw || nd)
        log_info("policy", "maintenance: %zu window(s), %zu machine(s) "
                 "down", nw, nd);
    return 0;
}

/* ---- the operations (v0 endpoints and v1 calls) ---- */

int maint_set_schedule(struct master *m, yajl_val doc, const char **why)
{
    struct maint_window *ws = NULL;
    size_t nw = 0;

    if (!YAJL_IS_OBJECT(doc)) {
        *why = "a schedule is an object: {\"windows\": [...]}";
        return -1;
    }
    if (schedule_read(m, doc, &ws, &nw, why) < 0) {
        windows_free(ws, nw);
        return -1;
    }
    windows_free(m->policy.windows, m->policy.nwindows);
    m->policy.windows = ws;
    m->policy.nwindows = nw;
    log_info("policy", "maintenance schedule: %zu window(s)", nw);
    return 0;
}

/* Machine ids, each checked for a move down (down 1) or up (0); NULL
 * with why when one may not move. */
static struct maint_machine *read_moving(struct master *m, yajl_val arr,
                                         int down, size_t *n,
                                         const char **why)
{
    struct maint_machine *ms = NULL;
    size_t i;

    if (machines_read(arr, &ms, n, why) < 0)
        goto fail;
    for (i = 0; i < *n; i++) {
        if (sched_find(&(struct maint_window){ms, i, 0, 0}, 1, &ms[i])) {
            *why = "a machine is named twice";
            goto fail;
        }
        if (down && sched_find(m->policy.windows, m->policy.nwindows,
                               &ms[i]) == NULL) {
            *why = "a machine must be in the maintenance schedule to be "
                   "brought down";
            goto fail;
        }
        if (down && down_index(m, &ms[i]) >= 0) {
            *why = "a machine is down already";
            goto fail;
        }
        if (!down && down_index(m, &ms[i]) < 0) {
            *why = "a machine is not down";
            goto fail;
        }
    }
    return ms;
fail:
    machines_free(ms, *n);
    return NULL;
}

int maint_down(struct master *m, yajl_val machines, const char **why)
{
    struct maint_machine *ms, *grown;
    size_t n, i;

    if ((ms = read_moving(m, machines, 1, &n, why)) == NULL)
        return -1;
    grown = realloc(m->policy.down, (m->policy.ndown + n) * sizeof(*grown));
    if (grown == NULL) {
        machines_free(ms, n);
        *why = "out of memory";
        return -1;
    }
    m->policy.down = grown;
    for (i = 0; i < n; i++) {
        log_warn("policy", "machine %s/%s down for maintenance",
                 ms[i].hostname ? ms[i].hostname : "",
                 ms[i].ip ? ms[i].ip : "");
        m->policy.down[m->policy.ndown++] = ms[i];
        down_agents(m, &ms[i]);
    }
    free(ms); /* the machines' strings moved to the down list */
    return 0;
}

int maint_up(struct master *m, yajl_val machines, const char **why)
{
    struct maint_machine *ms;
    size_t n, i;
    int k;

    if ((ms = read_moving(m, machines, 0, &n, why)) == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        if ((k = down_index(m, &ms[i])) < 0)
            continue; /* named twice */
        log_info("policy", "machine %s/%s up again",
                 ms[i].hostname ? ms[i].hostname : "",
                 ms[i].ip ? ms[i].ip : "");
        machine_free(&m->policy.down[k]);
        m->policy.down[k] = m->policy.down[--m->policy.ndown];
        sched_remove(m, &ms[i]);
    }
    machines_free(ms, n);
    return 0;
}

void maint_write_schedule(struct agora_jw *w, struct master *m)
{
    schedule_write(w, m);
}

void maint_write_status(struct agora_jw *w, struct master *m)
{
    size_t i, j;

    agora_jw_obj_open(w);
    agora_jw_key(w, "draining_machines");
    agora_jw_arr_open(w);
    for (i = 0; i < m->policy.nwindows; i++)
        for (j = 0; j < m->policy.windows[i].n; j++) {
            const struct maint_machine *mm = &m->policy.windows[i].ms[j];

            if (down_index(m, mm) >= 0)
                continue;
            agora_jw_obj_open(w);
            agora_jw_key(w, "id");
            machine_write(w, mm);
            agora_jw_key(w, "statuses"); /* inverse offers: none sent */
            agora_jw_arr_open(w);
            agora_jw_arr_close(w);
            agora_jw_obj_close(w);
        }
    agora_jw_arr_close(w);
    agora_jw_key(w, "down_machines");
    down_write(w, m);
    agora_jw_obj_close(w);
}

/* ---- the v0 endpoints ---- */

typedef int (*maint_op_fn)(struct master *, yajl_val, const char **);

/* Parses the body, runs op on it and stores the result, or answers 400
 * with what (Mesos' "Failed to validate ..."). */
static void run_v0(struct master *m, struct http_req *req, maint_op_fn op,
                   const char *what)
{
    char err[200], msg[300];
    yajl_val doc = agora_json_parse(http_req_body(req, NULL), err,
                                    sizeof(err));
    const char *why = err;

    if (doc == NULL || op(m, doc, &why) < 0) {
        snprintf(msg, sizeof(msg), "Failed to validate %s: %s", what,
                 doc ? why : "not JSON");
        http_reply(req, 400, "text/plain", msg, strlen(msg));
    } else {
        policy_save(m, POLICY_MAINTENANCE, req, NULL, NULL);
    }
    if (doc)
        yajl_tree_free(doc);
}

void maint_http_schedule(void *arg, struct http_req *req)
{
    struct master *m = arg;
    struct agora_jw *w;

    if (strcmp(http_req_method(req), "POST") == 0) {
        run_v0(m, req, maint_set_schedule, "maintenance schedule");
        return;
    }
    w = agora_jw_new();
    schedule_write(w, m);
    http_reply_jw(req, 200, w);
}

void maint_http_status(void *arg, struct http_req *req)
{
    struct agora_jw *w = agora_jw_new();

    maint_write_status(w, arg);
    http_reply_jw(req, 200, w);
}

void maint_http_down(void *arg, struct http_req *req)
{
    run_v0(arg, req, maint_down, "machines to bring down");
}

void maint_http_up(void *arg, struct http_req *req)
{
    run_v0(arg, req, maint_up, "machines to bring up");
}
