/*
 * link.c - the master connection: subscribe, read the event stream,
 * dispatch events, and subscribe again when it breaks (see link.h).
 *
 * Events are dispatched from the HTTP client's data callback
 * (http_client.h): a handler may start requests (status updates, pongs
 * only arm timers anyway); ending the stream is asked with l->drop.
 * Redirects are followed here, POST kept, at most LINK_REDIRECTS_MAX.
 *
 * With --master=zk://... the masters are not listed: leader_watch.h
 * reports the leading one, and each new leader is subscribed to at once
 * (the stream to the old one dropped). While no leader is known the
 * link waits; a stream that breaks is retried, with backoff, to the
 * leader known then.
 */
#include "link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <ev.h>

#include <agora/json.h>
#include <agora/resources.h>
#include <agora/sdk.h>

#include "agent.h"
#include "exec.h"
#include "http.h"
#include "http_client.h"
#include "json_tree.h"
#include "leader_watch.h"
#include "log.h"
#include "task.h"
#include "task_fetch.h"
#include "updates.h"

/* Nesting accepted in a task spec (yajl_tree itself recurses). */
#define LINK_JSON_DEPTH 64
/* Redirects followed by one subscription attempt (a 307 to the leader). */
#define LINK_REDIRECTS_MAX 5
/* Time allowed to connect to a master. */
#define LINK_CONNECT_TIMEOUT 10.0
/* First backoff after a leader change: a new leader may need a moment to
 * know it leads, and its first answer may be a 503. */
#define LINK_LEADER_BACKOFF 0.25

struct agent_link {
    struct agent *a;
    char **masters; /* --master's list; NULL with zk://     */
    size_t nmasters, cur;
    struct leader_watch *lw; /* zk://: the election followed */
    struct hc_req *req; /* the subscription, while it runs     */
    char *body;         /* its body, kept to follow redirects  */
    size_t body_len;
    char *req_url; /* the URL it was sent to              */
    int redirects;
    int subscribed;
    int stopping; /* no more subscriptions               */
    int drop;     /* a handler asked to end the stream   */
    char *url;    /* base URL of the subscribed master   */
    char *session; /* the subscription's token (`subscribed`) */
    char *line;   /* bytes of the line being received    */
    size_t len, cap;
    long code;         /* HTTP status of the current stream   */
    char errbody[256]; /* start of a non-200 body, for logs   */
    size_t errlen;
    double timeout; /* ping_interval * max_ping_misses     */
    double backoff;
    uint64_t rng;
    unsigned long attempts, subscriptions;
    ev_timer watchdog;     /* no event within `timeout`: drop     */
    ev_timer retry;        /* the next subscription attempt       */
    ev_timer launch_timer; /* launches the queue, a slice a time      */
    struct task_updates *lq_head, *lq_tail; /* durable, to launch     */
};

/* ------------------------------------------------------------------ */
/* --master                                                             */
/* ------------------------------------------------------------------ */

void link_masters_free(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* A master entry or leader address "https://host:port" (plain ones are
 * "host:port", HTTP). */
static int link_is_https(const char *target)
{
    return strncmp(target, "https://", 8) == 0;
}

/* One "host:port" entry (after "https://" when it has it): a host, then
 * a port 1..65535. */
static int link_entry_valid(const char *e)
{
    const char *colon;

    if (strncmp(e, "https://", 8) == 0)
        e += 8;
    colon = strrchr(e, ':');
    char *end;
    long port;

    if (colon == NULL || colon == e)
        return 0;
    port = strtol(colon + 1, &end, 10);
    return *end == '\0' && colon[1] != '\0' && port > 0 && port <= 65535;
}

int link_parse_masters(const char *spec, char ***out, size_t *n, char *err,
                       size_t errlen)
{
    char *copy, *save = NULL, *tok;
    char **v = NULL;
    size_t count = 0;

    if (spec == NULL || *spec == '\0') {
        snprintf(err, errlen,
                 "--master is required (host:port, a comma "
                 "list of them, or zk://...)");
        return AGORA_EINVAL;
    }
    if (strncmp(spec, "zk://", 5) == 0) {
        snprintf(err, errlen,
                 "--master=%s is not a list of host:port (link_init "
                 "follows zk:// through ZooKeeper)",
                 spec);
        return AGORA_EINVAL;
    }
    if ((copy = strdup(spec)) == NULL)
        return AGORA_ENOMEM;
    for (tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char **nv;

        tok = conf_trim(tok);
        if (strncmp(tok, "http://", 7) == 0)
            tok += 7;
        if (!link_entry_valid(tok)) {
            snprintf(err, errlen, "--master: '%s' is not host:port", tok);
            link_masters_free(v, count);
            free(copy);
            return AGORA_EINVAL;
        }
        nv = realloc(v, (count + 1) * sizeof(*v));
        if (nv == NULL || (nv[count] = strdup(tok)) == NULL) {
            link_masters_free(nv ? nv : v, count);
            free(copy);
            return AGORA_ENOMEM;
        }
        v = nv;
        count++;
    }
    free(copy);
    if (count == 0) {
        snprintf(err, errlen, "--master: no host:port in '%s'", spec);
        return AGORA_EINVAL;
    }
    *out = v;
    *n = count;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* A uniform double in [0, 1) (xorshift64*, seeded from getrandom). */
static double link_random(struct agent_link *l)
{
    l->rng ^= l->rng >> 12;
    l->rng ^= l->rng << 25;
    l->rng ^= l->rng >> 27;
    return (double)((l->rng * 2685821657736338717ULL) >> 11) /
           (double)(1ULL << 53);
}

/* Writes a parsed JSON value back as text (for a task's spec_json). */
static int link_json_dump(struct agora_jw *w, yajl_val v, int depth)
{
    size_t i;

    if (depth > LINK_JSON_DEPTH)
        return AGORA_EINVAL;
    if (v == NULL || YAJL_IS_NULL(v)) {
        agora_jw_null(w);
    } else if (YAJL_IS_STRING(v)) {
        agora_jw_str(w, YAJL_GET_STRING(v));
    } else if (YAJL_IS_NUMBER(v)) {
        agora_jw_raw(w, v->u.number.r, strlen(v->u.number.r));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        agora_jw_bool(w, YAJL_IS_TRUE(v));
    } else if (YAJL_IS_OBJECT(v)) {
        agora_jw_obj_open(w);
        for (i = 0; i < v->u.object.len; i++) {
            agora_jw_key(w, v->u.object.keys[i]);
            if (link_json_dump(w, v->u.object.values[i], depth + 1) < 0)
                return AGORA_EINVAL;
        }
        agora_jw_obj_close(w);
    } else if (YAJL_IS_ARRAY(v)) {
        agora_jw_arr_open(w);
        for (i = 0; i < v->u.array.len; i++)
            if (link_json_dump(w, v->u.array.values[i], depth + 1) < 0)
                return AGORA_EINVAL;
        agora_jw_arr_close(w);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The subscribe body                                                   */
/* ------------------------------------------------------------------ */

/* What a master that did not launch t (a new leader) learns of it from
 * its spec: the user it names (view_tasks ACLs) and its container (the
 * task JSON shows it), as the framework gave them. */
static void link_write_spec_parts(struct agora_jw *w,
                                  const struct agent_task *t)
{
    char why[64], *ctr = NULL;
    yajl_val spec = t->spec_json ? agora_json_parse(t->spec_json, why,
                                                    sizeof(why))
                                 : NULL;
    const char *user = spec ? agora_json_get_str(spec, "user") : NULL;
    yajl_val c = spec ? agora_json_get(spec, "container") : NULL;

    if (user && *user)
        agora_jw_kstr(w, "user", user);
    if (YAJL_IS_OBJECT(c) && (ctr = json_tree_text(c)) != NULL) {
        agora_jw_key(w, "container");
        agora_jw_raw(w, ctr, strlen(ctr));
    }
    free(ctr);
    if (spec)
        yajl_tree_free(spec);
}

static void link_write_tasks(struct agora_jw *w, struct agent *a)
{
    const char *id;
    void *value;
    size_t pos = 0;

    agora_jw_key(w, "tasks");
    agora_jw_arr_open(w);
    while (map_next(&a->tasks, &pos, &id, &value)) {
        struct agent_task *t = value;
        char *res = agora_resources_text(&t->resources);

        agora_jw_obj_open(w);
        agora_jw_kstr(w, "task_id", t->id);
        agora_jw_kstr(w, "framework_id", t->framework_id);
        agora_jw_kstr(w, "state", agora_task_state_name(t->state));
        agora_jw_kstr(w, "resources", res ? res : "");
        link_write_spec_parts(w, t);
        agora_jw_key(w, "healthy");
        if (t->healthy < 0)
            agora_jw_null(w);
        else
            agora_jw_bool(w, t->healthy);
        updates_write_container(w, t->container_ip[0] ? t->container_ip
                                                      : a->advertise_ip,
                                t->shim_pid);
        agora_jw_kstr(w, "health_output", t->health_output);
        agora_jw_obj_close(w);
        free(res);
    }
    agora_jw_arr_close(w);
}

/* The body of POST /api/agent/subscribe; NULL when out of memory. */
static struct agora_jw *link_body(struct agent *a)
{
    struct agora_jw *w = agora_jw_new();
    char *res = agora_resources_text(&a->total);
    size_t i;

    if (w == NULL || res == NULL) {
        agora_jw_free(w);
        free(res);
        return NULL;
    }
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "agent_id", a->id);
    agora_jw_kstr(w, "hostname", a->conf.hostname);
    agora_jw_kstr(w, "ip", a->advertise_ip);
    agora_jw_kint(w, "port",
                  a->http ? http_server_port(a->http) : a->conf.port);
    /* Where the master's UI reaches the agent's files. */
    if (a->conf.ssl_cert_file && *a->conf.ssl_cert_file)
        agora_jw_kstr(w, "scheme", "https");
    agora_jw_kstr(w, "resources", res);
    agora_jw_key(w, "attributes");
    agora_jw_obj_open(w);
    for (i = 0; i < a->nattrs; i++)
        agora_jw_kstr(w, a->attrs[i].key, a->attrs[i].value);
    agora_jw_obj_close(w);
    agora_jw_kstr(w, "version", AGORA_VERSION);
    link_write_tasks(w, a);
    agora_jw_obj_close(w);
    free(res);
    return w;
}

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

/* Launches started per loop iteration: a burst of launch events must
 * not keep the loop from the stream, the updates and the children. Two,
 * so that the shims' "R" lines are read between launches: with 16, a
 * task's RUNNING waited behind up to 15 launches (the bench's paced
 * "report" step, p50/p99 5/20 ms, is 2/6 ms with 2). */
#define LINK_LAUNCH_SLICE 2

/* Hands t to the exec layer, unless it ended (killed, invalid) first. */
static void link_exec_launch(struct agent *a, struct agent_task *t)
{
    int rc;

    t->updates->launch_pending = 0;
    if (agora_task_state_terminal(t->state)) {
        updates_maybe_done(a, t);
        return;
    }
    if (agent_fetch_begin(a, t)) /* launched when its URIs are in place */
        return;
    rc = exec_launch(a->exec, t);
    if (rc < 0)
        agent_task_update(a, t, AGORA_TASK_FAILED,
                          "REASON_CONTAINER_LAUNCH_FAILED", agora_strerror(rc),
                          -1);
}

static void link_on_launch_slice(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct agent_link *l = w->data;
    int n;

    (void)revents;
    for (n = 0; l->lq_head && n < LINK_LAUNCH_SLICE; n++) {
        struct task_updates *tu = l->lq_head;

        l->lq_head = tu->launch_next;
        if (l->lq_head == NULL)
            l->lq_tail = NULL;
        tu->launch_next = NULL;
        if (!l->a->stopping)
            link_exec_launch(l->a, tu->task);
    }
    if (l->lq_head) {
        ev_timer_set(w, 0., 0.);
        ev_timer_start(loop, w);
    }
}

/* The task record is on disk: queue the task for launching. */
static void link_on_task_durable(void *arg, int err)
{
    struct agent_task *t = arg;
    struct agent *a = t->updates->agent;
    struct agent_link *l = a->link;

    if (err != 0 || a->stopping || l == NULL)
        return; /* the next agent recovers it from the checkpoint */
    if (l->lq_tail)
        l->lq_tail->launch_next = t->updates;
    else
        l->lq_head = t->updates;
    l->lq_tail = t->updates;
    if (!ev_is_active(&l->launch_timer)) {
        ev_timer_set(&l->launch_timer, 0., 0.);
        ev_timer_start(a->loop, &l->launch_timer);
    }
}

/* Creates the task from its spec; NULL when it cannot even be made. */
static struct agent_task *link_new_task(struct agent *a, const char *id,
                                        const char *fw, yajl_val spec,
                                        char **why)
{
    struct agora_jw *w = agora_jw_new();
    struct agent_task *t = NULL;
    const char *json = NULL;
    int rc = AGORA_ENOMEM;

    if (w && link_json_dump(w, spec, 0) == 0)
        json = agora_jw_result(w, NULL);
    if (json)
        rc = agent_task_new(a, id, fw, json, &t, why);
    agora_jw_free(w);
    if (rc < 0) {
        log_error("link", "cannot create task %s: %s", id, agora_strerror(rc));
        return NULL;
    }
    if (map_put(&a->tasks, id, t, NULL) < 0) {
        log_error("link", "cannot create task %s: out of memory", id);
        free(*why);
        *why = NULL;
        agent_task_free(t);
        return NULL;
    }
    return t;
}

/*
 * launch: checkpoint the task, report STAGING, and launch it once the
 * checkpoint is durable (a crash in between then finds the task).
 */
static void link_on_launch(struct agent_link *l, yajl_val ev)
{
    struct agent *a = l->a;
    yajl_val spec = agora_json_get(ev, "task");
    const char *fw, *id;
    struct agent_task *t;
    char *why = NULL;

    if (agora_json_str(ev, "framework_id", &fw) < 0 || !YAJL_IS_OBJECT(spec) ||
        agora_json_str(spec, "task_id", &id) < 0 || *id == '\0' ||
        strchr(id, '/') || strcmp(id, "..") == 0 || strcmp(id, ".") == 0) {
        log_warn("link", "launch without framework_id or a valid "
                         "task.task_id: ignored");
        return;
    }
    if (map_get(&a->tasks, id)) {
        log_warn("link", "launch of task %s, which already runs: ignored", id);
        return;
    }
    if ((t = link_new_task(a, id, fw, spec, &why)) == NULL)
        return;
    t->updates->launch_pending = 1;
    if (agent_task_journal(a, t, link_on_task_durable, t) < 0)
        t->updates->launch_pending = 0;
    agent_task_update(a, t, AGORA_TASK_STAGING, NULL, NULL, -1);
    if (why) {
        agent_task_update(a, t, AGORA_TASK_ERROR, "REASON_TASK_INVALID", why,
                          -1);
        free(why);
    }
    if (!t->updates->launch_pending)
        link_exec_launch(a, t); /* not journaled: launch anyway */
}

static void link_on_kill(struct agent_link *l, yajl_val ev)
{
    struct agent *a = l->a;
    struct agent_task *t;
    const char *id;
    double grace = -1;

    if (agora_json_str(ev, "task_id", &id) < 0) {
        log_warn("link", "kill without task_id: ignored");
        return;
    }
    agora_json_num(ev, "grace_period", &grace);
    t = map_get(&a->tasks, id);
    if (t == NULL) {
        log_warn("link", "kill of unknown task %s: ignored", id);
        return;
    }
    agent_task_kill(a, t, grace);
}

static void link_on_ack(struct agent_link *l, yajl_val ev)
{
    yajl_val list = agora_json_get(ev, "updates");
    size_t i;

    if (!YAJL_IS_ARRAY(list)) {
        log_warn("link", "ack without an updates array: ignored");
        return;
    }
    for (i = 0; i < list->u.array.len; i++) {
        const char *task_id, *uuid;

        if (agora_json_str(list->u.array.values[i], "task_id", &task_id) == 0 &&
            agora_json_str(list->u.array.values[i], "uuid", &uuid) == 0)
            updates_ack(l->a, task_id, uuid);
    }
}

static void link_on_subscribed(struct agent_link *l, yajl_val ev)
{
    struct agent *a = l->a;
    const char *id = NULL, *master_id = "?", *session = NULL;
    double interval = LINK_PING_INTERVAL;
    int64_t misses = LINK_PING_MISSES;

    agora_json_str(ev, "agent_id", &id);
    agora_json_str(ev, "master_id", &master_id);
    agora_json_str(ev, "session", &session);
    free(l->session);
    l->session = session ? strdup(session) : NULL;
    if (session && l->session == NULL) {
        log_error("link", "out of memory: dropping the subscription");
        l->drop = 1;
        return;
    }
    if (agora_json_num(ev, "ping_interval", &interval) < 0 || interval <= 0)
        interval = LINK_PING_INTERVAL;
    if (agora_json_int(ev, "max_ping_misses", &misses) < 0 || misses < 1)
        misses = LINK_PING_MISSES;
    if (id && strcmp(id, a->id) != 0)
        log_warn("link", "the master calls this agent %s; its id stays %s", id,
                 a->id);
    free(l->url);
    l->url = NULL;
    free(l->body); /* no redirect to follow any more */
    l->body = NULL;
    if (hc_url_base(l->req_url, &l->url) != 0) {
        log_error("link", "cannot tell the master's address: dropping");
        l->drop = 1;
        return;
    }
    l->subscribed = 1;
    l->subscriptions++;
    l->backoff = 1;
    l->timeout = interval * (double)misses;
    log_info("link",
             "subscribed to master %s at %s (ping every %g s, "
             "%lld may be missed); %zu tasks",
             master_id, l->url, interval, (long long)misses, a->tasks.len);
    updates_on_subscribed(a);
}

static void link_on_shutdown(struct agent_link *l, yajl_val ev)
{
    const char *why = "no reason given";

    agora_json_str(ev, "message", &why);
    log_error("link", "the master shuts this agent down: %s", why);
    l->stopping = 1;
    l->drop = 1;
    agent_shutdown(l->a, why);
}

static void link_dispatch(struct agent_link *l, const char *type, yajl_val ev)
{
    if (strcmp(type, "subscribed") == 0) {
        link_on_subscribed(l, ev);
    } else if (!l->subscribed) {
        log_warn("link", "event %s before subscribed: ignored", type);
    } else if (strcmp(type, "launch") == 0) {
        link_on_launch(l, ev);
    } else if (strcmp(type, "kill") == 0) {
        link_on_kill(l, ev);
    } else if (strcmp(type, "ack") == 0) {
        link_on_ack(l, ev);
    } else if (strcmp(type, "ping") == 0) {
        updates_pong(l->a);
    } else if (strcmp(type, "shutdown") == 0) {
        link_on_shutdown(l, ev);
    } else {
        log_debug("link", "unknown event %s: ignored", type);
    }
}

/* Any line, a blank keep-alive included, shows the master is there. */
static void link_alive(struct agent_link *l)
{
    if (!l->subscribed || l->req == NULL)
        return;
    l->watchdog.repeat = l->timeout;
    ev_timer_again(l->a->loop, &l->watchdog);
}

/* One line of the stream (NUL-terminated in place). */
static void link_line(struct agent_link *l, char *line, size_t len)
{
    char err[256];
    const char *type;
    yajl_val ev;

    if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';
    if (len == 0) {
        link_alive(l);
        return;
    }
    ev = agora_json_parse(line, err, sizeof(err));
    if (ev == NULL) {
        log_warn("link", "bad event from the master (%s): ignored", err);
        return;
    }
    if (agora_json_str(ev, "type", &type) == 0 ||
        agora_json_str(ev, "event", &type) == 0)
        link_dispatch(l, type, ev);
    else
        log_warn("link", "event without a type: ignored");
    yajl_tree_free(ev);
    link_alive(l);
}

/* ------------------------------------------------------------------ */
/* The stream                                                           */
/* ------------------------------------------------------------------ */

static int link_buf_append(struct agent_link *l, const char *p, size_t n)
{
    if (l->len + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 16384;
        char *nb;

        while (cap < l->len + n + 1)
            cap *= 2;
        nb = realloc(l->line, cap);
        if (nb == NULL)
            return -1;
        l->line = nb;
        l->cap = cap;
    }
    memcpy(l->line + l->len, p, n);
    l->len += n;
    return 0;
}

/* Keeps the start of an error body for the log. */
static void link_keep_error(struct agent_link *l, const char *p, size_t n)
{
    size_t room = sizeof(l->errbody) - 1 - l->errlen;

    if (n > room)
        n = room;
    memcpy(l->errbody + l->errlen, p, n);
    l->errlen += n;
    l->errbody[l->errlen] = '\0';
}

/* hc_data_fn: split the stream into lines and dispatch them. Non-zero
 * ends the request (AGORA_ECANCELED). */
static int link_on_data(void *arg, struct hc_req *r, const char *p, size_t n)
{
    struct agent_link *l = arg;
    size_t start = 0, scan = l->len;
    char *nl;

    l->code = hc_status(r);
    if (l->code != 200) {
        link_keep_error(l, p, n);
        return 0;
    }
    if (link_buf_append(l, p, n) < 0) {
        log_error("link", "out of memory reading the event stream");
        return -1;
    }
    while ((nl = memchr(l->line + scan, '\n', l->len - scan)) != NULL) {
        size_t end = (size_t)(nl - l->line);

        *nl = '\0';
        link_line(l, l->line + start, end - start);
        start = scan = end + 1;
        if (l->drop)
            return -1;
    }
    memmove(l->line, l->line + start, l->len - start);
    l->len -= start;
    if (l->len > LINK_LINE_MAX) {
        log_error("link",
                  "an event line over %u bytes: dropping the "
                  "connection",
                  LINK_LINE_MAX);
        return -1;
    }
    return 0;
}

static void link_lost(struct agent_link *l, const char *why);
static void link_reset(struct agent_link *l);
static int link_request(struct agent_link *l, char *url);

static int link_is_redirect(long code)
{
    return code == 301 || code == 302 || code == 303 || code == 307 ||
           code == 308;
}

/*
 * A non-leading master answers 307 with the leader's address: subscribe
 * there, POST and body kept (as for every redirect status). 1 when the
 * redirect is followed, else 0 with the reason in why.
 */
static int link_redirect(struct agent_link *l, struct hc_req *r, char *why,
                         size_t len)
{
    const char *loc = hc_header(r, "Location");
    char *url = NULL;
    int rc;

    if (loc == NULL || *loc == '\0') {
        snprintf(why, len, "HTTP %ld without a Location", l->code);
        return 0;
    }
    if (l->redirects >= LINK_REDIRECTS_MAX) {
        snprintf(why, len, "more than %d redirects (the last to %s)",
                 LINK_REDIRECTS_MAX, loc);
        return 0;
    }
    if ((rc = hc_url_resolve(l->req_url, loc, &url)) == 0)
        rc = link_request(l, url);
    if (rc != 0) {
        snprintf(why, len, "cannot follow the redirect to %s: %s", loc,
                 agora_strerror(rc));
        return 0;
    }
    l->redirects++;
    log_info("link", "redirected to %s", url);
    return 1;
}

/* hc_done_fn: the stream ended (r goes when this returns). */
static void link_on_done(void *arg, struct hc_req *r, int err)
{
    struct agent_link *l = arg;
    char why[512];

    l->req = NULL;
    l->code = hc_status(r);
    if (l->drop)
        snprintf(why, sizeof(why), "dropped by the agent");
    else if (err != 0)
        snprintf(why, sizeof(why), "%s", hc_error(r));
    else if (link_is_redirect(l->code)) {
        if (link_redirect(l, r, why, sizeof(why)))
            return;
    } else if (l->code == 410) {
        /* Marked gone: as a Mesos agent told to shut down. */
        log_error("link", "the master refuses this agent: %s", l->errbody);
        l->stopping = 1;
        link_reset(l);
        agent_shutdown(l->a, "marked gone by the operator");
        return;
    } else if (l->code != 200)
        snprintf(why, sizeof(why), "HTTP %ld %s", l->code, l->errbody);
    else
        snprintf(why, sizeof(why), "the master ended the stream");
    link_lost(l, why);
}

/* The master to subscribe to next: --master's current entry, or the
 * leader ZooKeeper shows (NULL while none is known). */
static const char *link_target(const struct agent_link *l)
{
    return l->lw ? leader_watch_current(l->lw) : l->masters[l->cur];
}

/* Forgets the subscription whose request has ended or been cancelled. */
static void link_reset(struct agent_link *l)
{
    l->subscribed = 0;
    free(l->url);
    l->url = NULL;
    free(l->session);
    l->session = NULL;
    free(l->body);
    l->body = NULL;
    l->len = 0;
    l->drop = 0;
    ev_timer_stop(l->a->loop, &l->watchdog);
}

/* Ends the current subscription (if any) and schedules the next one. */
static void link_lost(struct agent_link *l, const char *why)
{
    double delay, max = l->a->conf.registration_backoff_max;
    const char *next;

    if (l->subscribed)
        log_warn("link", "lost master %s: %s", l->url, why);
    else if (l->lw)
        log_warn("link", "cannot subscribe to %s: %s",
                 l->req_url ? l->req_url : "the leader", why);
    else
        log_warn("link", "cannot subscribe to %s: %s", l->masters[l->cur], why);
    link_reset(l);
    if (l->stopping)
        return;
    if (l->lw == NULL)
        l->cur = (l->cur + 1) % l->nmasters;
    delay = l->backoff * (0.5 + 0.5 * link_random(l));
    l->backoff = l->backoff * 2 > max ? max : l->backoff * 2;
    next = link_target(l);
    log_info("link", "subscribing to %s in %.1f s",
             next ? next : "the leader (once one is known)", delay);
    ev_timer_set(&l->retry, delay, 0.);
    ev_timer_start(l->a->loop, &l->retry);
}

/* POSTs l->body to url (taken over) as the subscription. 0 or hc_err. */
static int link_request(struct agent_link *l, char *url)
{
    const char *hdrs[] = {"Content-Type: application/json",
                          "Accept: application/x-ndjson", l->a->auth_header,
                          NULL};
    struct hc_opts o;
    int rc;

    memset(&o, 0, sizeof(o));
    o.method = "POST";
    o.url = url;
    o.headers = hdrs;
    o.body = l->body;
    o.body_len = l->body_len;
    o.connect_timeout = LINK_CONNECT_TIMEOUT;
    o.on_data = link_on_data;
    o.on_done = link_on_done;
    o.arg = l;
    l->errbody[0] = '\0';
    l->errlen = 0;
    l->code = 0;
    l->len = 0;
    rc = hc_request(l->a->hc, &o, &l->req);
    free(l->req_url);
    l->req_url = rc == 0 ? url : NULL;
    if (rc != 0) {
        l->req = NULL;
        free(url);
    }
    return rc;
}

static void link_subscribe(struct agent_link *l)
{
    struct agent *a = l->a;
    const char *target = link_target(l);
    struct agora_jw *w;
    const char *body;
    char *url = NULL;
    int rc = AGORA_ENOMEM;

    if (target == NULL) {
        /* zk:// without a leader: its report brings the subscription. */
        log_info("link", "no leading master known: waiting for one");
        return;
    }
    w = link_body(a);
    body = w ? agora_jw_result(w, &l->body_len) : NULL;
    l->drop = 0;
    l->redirects = 0;
    free(l->body);
    l->body = body ? strdup(body) : NULL;
    agora_jw_free(w);
    if (l->body && asprintf(&url, "%s%s/api/agent/subscribe",
                            link_is_https(target) ? "" : "http://",
                            target) >= 0)
        rc = link_request(l, url);
    if (rc != 0) {
        link_lost(l, agora_strerror(rc));
        return;
    }
    l->attempts++;
    log_info("link", "subscribing to master %s (agent %s, %zu tasks)", target,
             a->id, a->tasks.len);
    l->watchdog.repeat = LINK_SUBSCRIBE_TIMEOUT;
    ev_timer_again(a->loop, &l->watchdog);
}

static void link_on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct agent_link *l = w->data;

    (void)loop;
    (void)revents;
    if (!l->stopping && l->req == NULL)
        link_subscribe(l);
}

/* No event in time: the master or the network is gone. */
static void link_on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct agent_link *l = w->data;
    char why[128];

    (void)revents;
    ev_timer_stop(loop, w);
    if (l->req == NULL)
        return;
    snprintf(why, sizeof(why), "no %s from the master in %.0f s",
             l->subscribed ? "ping" : "answer", w->repeat);
    hc_cancel(l->req);
    l->req = NULL;
    link_lost(l, why);
}

/* 1 when the running request (stream or subscription) is to master. */
static int link_on_master(const struct agent_link *l, const char *master)
{
    char *base = NULL, *want = NULL;
    int same;

    if (l->req == NULL || l->req_url == NULL ||
        hc_url_base(l->req_url, &base) != 0)
        return 0;
    same = asprintf(&want, "%s%s", link_is_https(master) ? "" : "http://",
                    master) >= 0 &&
           strcmp(base, want) == 0;
    free(base);
    free(want);
    return same;
}

/*
 * leader_watch_fn: ZooKeeper shows a new leader. A stream to it already
 * is kept; any other one is dropped and the new leader subscribed to at
 * once. No leader: whatever runs stays (a deposed master drops its
 * agents itself) and the next attempt waits for one.
 */
static void link_on_leader(void *arg, const char *master)
{
    struct agent_link *l = arg;

    if (l->stopping || l->a->stopping || master == NULL ||
        link_on_master(l, master))
        return;
    if (l->req) {
        log_info("link", "leaving master %s for the new leader %s",
                 l->subscribed ? l->url : l->req_url, master);
        hc_cancel(l->req);
        l->req = NULL;
        link_reset(l);
    }
    ev_timer_stop(l->a->loop, &l->retry);
    l->backoff = LINK_LEADER_BACKOFF;
    link_subscribe(l);
}

/* ------------------------------------------------------------------ */
/* Life                                                                 */
/* ------------------------------------------------------------------ */

int link_init(struct agent *a)
{
    struct agent_link *l = calloc(1, sizeof(*l));
    char err[512];
    int rc;

    if (l == NULL)
        return AGORA_ENOMEM;
    l->a = a;
    a->link = l;
    err[0] = '\0';
    if (a->conf.master && strncmp(a->conf.master, "zk://", 5) == 0)
        rc = leader_watch_open(a->loop, a->conf.master, link_on_leader, l,
                               &l->lw, err, sizeof(err));
    else
        rc = link_parse_masters(a->conf.master, &l->masters, &l->nmasters, err,
                                sizeof(err));
    if (rc < 0) {
        log_error("link", "%s",
                  rc == AGORA_ENOMEM || err[0] == '\0' ? agora_strerror(rc)
                                                       : err);
        return rc;
    }
    if (getrandom(&l->rng, sizeof(l->rng), GRND_NONBLOCK) !=
            (ssize_t)sizeof(l->rng) ||
        l->rng == 0)
        l->rng = (uint64_t)ev_time() * 2654435761u + 1;
    l->backoff = 1;
    ev_init(&l->watchdog, link_on_watchdog);
    l->watchdog.data = l;
    ev_init(&l->retry, link_on_retry);
    l->retry.data = l;
    ev_init(&l->launch_timer, link_on_launch_slice);
    l->launch_timer.data = l;
    return 0;
}

void link_start(struct agent *a)
{
    struct agent_link *l = a->link;

    ev_timer_set(&l->retry, 0., 0.);
    ev_timer_start(a->loop, &l->retry);
}

void link_stop(struct agent *a)
{
    struct agent_link *l = a->link;

    if (l == NULL)
        return;
    l->stopping = 1;
    ev_timer_stop(a->loop, &l->watchdog);
    ev_timer_stop(a->loop, &l->retry);
    ev_timer_stop(a->loop, &l->launch_timer);
    hc_cancel(l->req);
    leader_watch_close(l->lw);
    link_masters_free(l->masters, l->nmasters);
    free(l->url);
    free(l->session);
    free(l->req_url);
    free(l->body);
    free(l->line);
    free(l);
    a->link = NULL;
}

const char *link_master_url(const struct agent *a)
{
    return a->link && a->link->subscribed ? a->link->url : NULL;
}

const char *link_session(const struct agent *a)
{
    return a->link && a->link->subscribed ? a->link->session : NULL;
}

int link_subscribed(const struct agent *a)
{
    return a->link && a->link->subscribed;
}
