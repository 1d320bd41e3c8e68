/*
 * agents.c - the registry of agents: records, the stored registry, pings,
 * liveness and event streams (see agents.h).
 */
#include "agents.h"

#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/resources.h>
#include <agora/sdk.h>

#include "attr_json.h"
#include "http.h"
#include "log.h"
#include "clock.h"
#include "master.h"
#include "master_api_v1.h"
#include "res_json.h"
#include "store.h"
#include "uuid.h"

#define AGENTS_NS "_core"
/* Seconds between readings of the agent registry while they fail. */
#define AGENTS_LOAD_RETRY 1.0
#define AGENT_STREAM_MAX (64u << 20)

static const char *const agent_state_names[] = {"recovering", "active",
                                                "unreachable", "gone"};
static const char *const drain_names[] = {"", "DRAINING", "DRAINED"};

const char *agents_state_name(enum agent_state s)
{
    return s <= AGENT_GONE ? agent_state_names[s] : "unknown";
}

struct agent_rec *agents_find(struct master *m, const char *id)
{
    return id ? map_get(&m->agents.by_id, id) : NULL;
}

static void agent_attrs_free(struct agent_rec *ag)
{
    size_t i;

    for (i = 0; i < ag->nattrs; i++) {
        free((char *)ag->attrs[i].key);
        free((char *)ag->attrs[i].value);
    }
    free(ag->attrs);
    ag->attrs = NULL;
    ag->nattrs = 0;
}

static int set_str(char **dst, const char *s);

/*
 * One reading of the registry: a list, then a get for each agent. Its
 * callbacks hold it; a reading made stale by a step-down is kept (its
 * callbacks still come) but ignored, and freed with its last callback,
 * or by agents_stop, after which the closed store runs no callbacks.
 */
struct agents_load {
    struct master *m;
    size_t pending;            /* store callbacks still to come       */
    int stale;                 /* the leadership it was for has ended */
    int failed;                /* a read failed: read it all again    */
    struct agents_load *next;  /* older, stale readings               */
};

static void agent_free(struct agent_rec *ag)
{
    if (ag->save)
        store_cancel(ag->save); /* written all the same; not reported */
    if (ag->state == AGENT_RECOVERING)
        ag->m->agents.recovering--;
    agent_attrs_free(ag);
    free(ag->saved);
    agora_resources_free(&ag->total);
    map_free(&ag->tasks);
    free(ag->id);
    free(ag->hostname);
    free(ag->ip);
    free(ag->version);
    free(ag->resources_text);
    free(ag->alloc_text);
    free(ag);
}

static struct agent_rec *agent_new(struct master *m, const char *id)
{
    struct agent_rec *ag = calloc(1, sizeof(*ag));

    if (ag == NULL || (ag->id = strdup(id)) == NULL) {
        free(ag);
        return NULL;
    }
    ag->m = m;
    ag->state = AGENT_RECOVERING;
    ag->drain_grace = -1;
    m->agents.recovering++;
    if (map_put(&m->agents.by_id, ag->id, ag, NULL) < 0) {
        agent_free(ag);
        return NULL;
    }
    return ag;
}

/*
 * Tells the event bus (GET /master/events, and plugins that listen) that
 * ag came, came back or went: {"agent_id", "hostname", "state"}.
 */
static void agent_announce(struct agent_rec *ag, const char *type)
{
    struct agents *as = &ag->m->agents;
    struct agora_jw *w;
    const char *json;

    /* Mesos' master/slave_registrations, _reregistrations, _unreachable. */
    if (strcmp(type, "agent_added") == 0) {
        as->registrations++;
        api_v1_agent_added(ag->m, ag);
    } else if (strcmp(type, "agent_reregistered") == 0) {
        as->reregistrations++;
        api_v1_agent_added(ag->m, ag);
    } else if (strcmp(type, "agent_unreachable") == 0) {
        as->unreachable++;
        api_v1_agent_removed(ag->m, ag->id);
    }
    if ((w = agora_jw_new()) == NULL)
        return;
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "agent_id", ag->id);
    agora_jw_kstr(w, "hostname", ag->hostname ? ag->hostname : "");
    agora_jw_kstr(w, "state", agents_state_name(ag->state));
    agora_jw_obj_close(w);
    if ((json = agora_jw_result(w, NULL)) != NULL)
        events_publish(&ag->m->events, type, json);
    else
        log_error("agents", "out of memory: event %s of agent %s lost", type,
                  ag->id);
    agora_jw_free(w);
}

/* Moves ag to state s; the last agent out of AGENT_RECOVERING ends the
 * recovery (held reconciliation answers go out). */
static void agent_set_state(struct agent_rec *ag, enum agent_state s)
{
    struct master *m = ag->m;
    int was_recovering = ag->state == AGENT_RECOVERING;

    ag->state = s;
    if (was_recovering && s != AGENT_RECOVERING) {
        m->agents.recovering--;
        if (!agents_recovering(m))
            m->agents.hooks.recovered(m->agents.hooks.arg);
    }
}

/* ---- persistence ---- */

static void agent_write_info(struct agora_jw *w, const struct agent_rec *ag)
{
    size_t i;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", ag->id);
    agora_jw_kstr(w, "hostname", ag->hostname);
    agora_jw_kstr(w, "ip", ag->ip);
    agora_jw_kint(w, "port", ag->port);
    if (ag->https)
        agora_jw_kstr(w, "scheme", "https");
    agora_jw_kstr(w, "resources", ag->resources_text);
    agora_jw_key(w, "attributes");
    agora_jw_obj_open(w);
    for (i = 0; i < ag->nattrs; i++)
        agora_jw_kstr(w, ag->attrs[i].key, ag->attrs[i].value);
    agora_jw_obj_close(w);
    agora_jw_kstr(w, "state", agents_state_name(ag->state));
    agora_jw_knum(w, "registered_time", ag->registered_time);
    agora_jw_kstr(w, "version", ag->version);
    /* The operator's say outlives this leader. */
    if (ag->deactivated)
        agora_jw_kbool(w, "deactivated", 1);
    if (ag->drain != AGENT_DRAIN_NONE) {
        agora_jw_key(w, "drain");
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "state", drain_names[ag->drain]);
        if (ag->drain_grace >= 0)
            agora_jw_knum(w, "max_grace_period", ag->drain_grace);
        agora_jw_kbool(w, "mark_gone", ag->drain_mark_gone);
        agora_jw_obj_close(w);
    }
    agora_jw_obj_close(w);
}

/* What agent_write_info() stored of the operator's say. */
struct agent_said {
    int gone, deactivated, mark_gone;
    enum agent_drain drain;
    double grace; /* -1: none */
};

static void agent_said_read(struct agent_said *s, yajl_val doc)
{
    yajl_val d = agora_json_get(doc, "drain");
    const char *state = agora_json_get_str(doc, "state");
    const char *ds = d ? agora_json_get_str(d, "state") : NULL;

    memset(s, 0, sizeof(*s));
    s->drain = AGENT_DRAIN_NONE;
    s->grace = -1;
    s->gone = state && strcmp(state, agent_state_names[AGENT_GONE]) == 0;
    agora_json_bool(doc, "deactivated", &s->deactivated);
    if (ds && strcmp(ds, drain_names[AGENT_DRAIN_DRAINING]) == 0)
        s->drain = AGENT_DRAIN_DRAINING;
    else if (ds && strcmp(ds, drain_names[AGENT_DRAIN_DRAINED]) == 0)
        s->drain = AGENT_DRAIN_DRAINED;
    if (d && agora_json_num(d, "max_grace_period", &s->grace) != 0)
        s->grace = -1;
    if (d)
        agora_json_bool(d, "mark_gone", &s->mark_gone);
}

/* The stored say, back into a record just made from the store. */
static void agent_read_operator(struct agent_rec *ag, yajl_val doc)
{
    struct agent_said s;

    agent_said_read(&s, doc);
    ag->deactivated = s.deactivated;
    ag->drain = s.drain;
    ag->drain_grace = s.grace;
    ag->drain_mark_gone = s.mark_gone;
    if (s.gone)
        agent_set_state(ag, AGENT_GONE);
}

/* arg is the agent: freeing it cancels this callback (agent_free). */
static void agent_saved(void *arg, int err, const store_result *r)
{
    struct agent_rec *ag = arg;

    (void)r;
    ag->save = NULL;
    if (err) {
        log_error("agents", "saving agent %s failed: %s", ag->id,
                  agora_strerror(err));
        free(ag->saved); /* not stored after all: write it next time */
        ag->saved = NULL;
    }
}

static int agents_loading(const struct master *m)
{
    return (m->agents.load && !m->agents.load->stale) ||
           m->agents.load_failed;
}

/*
 * Keeps the agent's registration in the store (asynchronously) when it
 * changed: an agent that subscribes again as it was costs no write, which
 * matters when a thousand come back to a new leader at once. While the
 * registry is being read the write waits for the reading, which says
 * what is stored.
 */
static void agent_persist(struct agent_rec *ag)
{
    struct agora_jw *w;
    char key[AGENT_ID_MAX + 16];
    const char *doc;
    size_t len;

    if (agents_loading(ag->m)) {
        ag->dirty = 1;
        return;
    }
    ag->dirty = 0;
    w = agora_jw_new();
    if (w == NULL) {
        log_error("agents", "cannot save agent %s: out of memory", ag->id);
        return;
    }
    agent_write_info(w, ag);
    doc = agora_jw_result(w, &len);
    if (doc && ag->saved && strcmp(ag->saved, doc) == 0) {
        agora_jw_free(w);
        return;
    }
    snprintf(key, sizeof(key), "agents/%s", ag->id);
    if (ag->save) {
        /* Puts complete in call order: the newer one's report will do. */
        store_cancel(ag->save);
        ag->save = NULL;
    }
    if (doc == NULL || set_str(&ag->saved, doc) < 0 ||
        store_put(ag->m->store, AGENTS_NS, key, doc, len, AGORA_STORE_ANY,
                  agent_saved, ag, &ag->save) < 0) {
        log_error("agents", "cannot save agent %s", ag->id);
        free(ag->saved);
        ag->saved = NULL;
    }
    agora_jw_free(w);
}

static int set_str(char **dst, const char *s)
{
    char *c = s ? strdup(s) : NULL;

    if (s && c == NULL)
        return AGORA_ENOMEM;
    free(*dst);
    *dst = c;
    return 0;
}

static int agent_set_attrs(struct agent_rec *ag, yajl_val attrs)
{
    size_t i;

    agent_attrs_free(ag);
    if (!YAJL_IS_OBJECT(attrs) || attrs->u.object.len == 0)
        return 0;
    ag->attrs = calloc(attrs->u.object.len, sizeof(*ag->attrs));
    if (ag->attrs == NULL)
        return AGORA_ENOMEM;
    for (i = 0; i < attrs->u.object.len; i++) {
        yajl_val v = attrs->u.object.values[i];
        const char *val = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : "";

        ag->attrs[i].key = strdup(attrs->u.object.keys[i]);
        ag->attrs[i].value = strdup(val);
        ag->nattrs++;
        if (!ag->attrs[i].key || !ag->attrs[i].value)
            return AGORA_ENOMEM;
    }
    return 0;
}

int agents_check_info(yajl_val doc, char *err, size_t errlen)
{
    const char *res = agora_json_get_str(doc, "resources");
    struct agora_resources total = {NULL, 0};
    char why[200];

    if (res == NULL ||
        agora_resources_parse(res, &total, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "invalid resources: %s",
                 res ? why : "missing");
        return AGORA_EINVAL;
    }
    agora_resources_free(&total);
    return 0;
}

int agents_take_info(struct agent_rec *ag, yajl_val doc, char *err,
                     size_t errlen)
{
    const char *res = agora_json_get_str(doc, "resources"), *scheme;
    struct agora_resources total = {NULL, 0};
    int64_t port = 0;
    char why[200];

    if (res == NULL ||
        agora_resources_parse(res, &total, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "invalid resources: %s",
                 res ? why : "missing");
        return AGORA_EINVAL;
    }
    agora_json_int(doc, "port", &port);
    agora_resources_free(&ag->total);
    ag->total = total;
    ag->port = (int)port;
    scheme = agora_json_get_str(doc, "scheme");
    ag->https = scheme && strcmp(scheme, "https") == 0;
    if (set_str(&ag->resources_text, res) < 0 ||
        set_str(&ag->hostname, agora_json_get_str(doc, "hostname")) < 0 ||
        set_str(&ag->ip, agora_json_get_str(doc, "ip")) < 0 ||
        set_str(&ag->version, agora_json_get_str(doc, "version")) < 0 ||
        agent_set_attrs(ag, agora_json_get(doc, "attributes")) < 0)
        return AGORA_ENOMEM;
    if (ag->hostname == NULL && set_str(&ag->hostname, ag->ip) < 0)
        return AGORA_ENOMEM;
    return 0;
}

/* ---- loading the registry on election ---- */

static void load_unlink(struct master *m, struct agents_load *l)
{
    struct agents_load **pp = &m->agents.load;

    while (*pp && *pp != l)
        pp = &(*pp)->next;
    if (*pp)
        *pp = l->next;
}

/* The agents that subscribed while the registry was read: written now
 * if what they said differs from what is stored. */
static void agents_persist_dirty(struct master *m)
{
    size_t pos = 0;
    void *v;

    while (map_next(&m->agents.by_id, &pos, NULL, &v)) {
        struct agent_rec *ag = v;

        if (ag->dirty)
            agent_persist(ag);
    }
}

/* A callback of l came; the last one ends the reading. */
static void load_done(struct agents_load *l)
{
    struct master *m = l->m;

    if (--l->pending > 0)
        return;
    load_unlink(m, l);
    if (!l->stale && l->failed) {
        /* Without the registry nobody knows which agents to wait for:
         * the recovery lasts until a reading succeeds. */
        m->agents.load_failed = 1;
        ev_timer_set(&m->agents.load_retry, AGENTS_LOAD_RETRY, 0.);
        ev_timer_start(m->loop, &m->agents.load_retry);
    } else if (!l->stale) {
        m->agents.load_failed = 0;
        log_info("agents", "agent registry read: %zu agent(s) expected back",
                 m->agents.recovering);
        agents_persist_dirty(m);
        if (!agents_recovering(m))
            m->agents.hooks.recovered(m->agents.hooks.arg);
    }
    free(l);
}

/*
 * ag subscribed while the registry was being read, and was taken as it
 * said it was; what the operator had said of it still stands. Without
 * this a gone agent quick enough after a restart came back, and the
 * registry's write of the dirty record then erased the mark for good.
 */
static void agent_keep_operator(struct master *m, struct agent_rec *ag,
                                yajl_val doc)
{
    struct agent_said said;

    agent_said_read(&said, doc);
    if (said.gone) {
        agents_mark_gone(m, ag);
    } else if (said.drain != AGENT_DRAIN_NONE &&
               ag->drain == AGENT_DRAIN_NONE) {
        agents_drain(m, ag, said.grace, said.mark_gone);
    } else if (said.deactivated && !ag->deactivated) {
        agents_deactivate(m, ag, 1);
    }
}

static void agent_loaded(void *arg, int err, const store_result *r)
{
    struct agents_load *l = arg;
    struct master *m = l->m;
    char why[256];
    yajl_val doc = NULL;
    struct agent_rec *ag;
    const char *id;

    if (err == 0 && !l->stale) {
        doc = agora_json_parse(r->value, why, sizeof(why));
        id = doc ? agora_json_get_str(doc, "id") : NULL;
        ag = id ? agents_find(m, id) : NULL;
        if (ag == NULL && id && agora_id_valid(id, AGENT_ID_MAX) &&
            (ag = agent_new(m, id)) != NULL) {
            if (agents_take_info(ag, doc, why, sizeof(why)) < 0)
                log_warn("agents", "stored agent %s: %s", id, why);
            agora_json_num(doc, "registered_time", &ag->registered_time);
            agent_read_operator(ag, doc);
            if (ag->state != AGENT_GONE)
                log_info("agents", "expecting agent %s (%s) to subscribe "
                                   "again%s", id,
                         ag->hostname ? ag->hostname : "?",
                         ag->deactivated ? " (deactivated)" : "");
        } else if (ag && doc)
            agent_keep_operator(m, ag, doc);
        if (ag && set_str(&ag->saved, r->value) < 0)
            ag->saved = NULL; /* unknown: written next time */
    } else if (err && err != AGORA_ENOENT && !l->stale) {
        log_error("agents", "cannot read a stored agent: %s; reading the "
                            "registry again",
                  agora_strerror(err));
        l->failed = 1;
    }
    if (doc)
        yajl_tree_free(doc);
    load_done(l);
}

static void agents_listed(void *arg, int err, const store_result *r)
{
    struct agents_load *l = arg;
    struct master *m = l->m;
    size_t i;

    if (err && err != AGORA_ENOENT && !l->stale) {
        log_error("agents", "cannot list the agent registry: %s; trying "
                            "again in %.0f s",
                  agora_strerror(err), AGENTS_LOAD_RETRY);
        l->failed = 1;
    }
    for (i = 0; err == 0 && !l->stale && i < r->nnames; i++) {
        char key[AGENT_ID_MAX + 16];

        snprintf(key, sizeof(key), "agents/%s", r->names[i]);
        if (store_get(m->store, AGENTS_NS, key, agent_loaded, l, NULL) == 0)
            l->pending++;
    }
    load_done(l);
}

int agents_load(struct master *m)
{
    struct agents_load *l = calloc(1, sizeof(*l));
    int rc;

    if (l == NULL)
        return AGORA_ENOMEM;
    l->m = m;
    l->pending = 1;
    rc = store_list(m->store, AGENTS_NS, "agents", agents_listed, l, NULL);
    if (rc < 0) {
        free(l);
        return rc;
    }
    l->next = m->agents.load;
    m->agents.load = l;
    return 0;
}

int agents_recovering(const struct master *m)
{
    return agents_loading(m) || m->agents.recovering > 0;
}

static void on_load_retry(struct ev_loop *loop, ev_timer *w, int events)
{
    struct master *m = w->data;

    (void)loop;
    (void)events;
    if (!m->elected || (m->agents.load && !m->agents.load->stale))
        return;
    if (agents_load(m) < 0) {
        ev_timer_set(&m->agents.load_retry, AGENTS_LOAD_RETRY, 0.);
        ev_timer_start(m->loop, &m->agents.load_retry);
    }
}

/* Marks every reading stale (a step-down). */
static void agents_load_abandon(struct master *m)
{
    struct agents_load *l;

    ev_timer_stop(m->loop, &m->agents.load_retry);
    m->agents.load_failed = 0;
    for (l = m->agents.load; l; l = l->next)
        l->stale = 1;
}

/* ---- the stream ---- */

int agents_send(struct agent_rec *ag, const char *json, size_t len)
{
    int rc;

    if (ag->stream == NULL)
        return AGORA_EUNAVAIL;
    rc = http_stream_write(ag->stream, json, len);
    if (rc == 0)
        rc = http_stream_write(ag->stream, "\n", 1);
    return rc;
}

static void agent_stream_closed(void *arg, struct http_stream *s)
{
    struct agent_rec *ag = arg;

    if (ag->stream != s)
        return;
    ag->stream = NULL;
    log_info("agents", "agent %s (%s) disconnected", ag->id, ag->hostname);
}

static void agent_unreachable(struct master *m, struct agent_rec *ag)
{
    double now = master_now(m);

    log_warn("agents", "agent %s (%s) is unreachable: not heard of for "
                       "%.1f s",
             ag->id, ag->hostname ? ag->hostname : "?", now - ag->last_seen);
    agent_set_state(ag, AGENT_UNREACHABLE);
    ag->unreachable_time = now;
    agent_announce(ag, "agent_unreachable");
    if (ag->stream) {
        struct http_stream *s = ag->stream;

        /* It must subscribe again, with the tasks it has, to return. */
        ag->stream = NULL;
        http_stream_close(s);
    }
    m->agents.hooks.unreachable(m->agents.hooks.arg, ag);
    if (ag->alloc)
        alloc_agent_activate(m->alloc, ag->alloc, 0);
    agent_persist(ag);
}

static double agents_window(struct master *m)
{
    return m->conf.agent_ping_timeout * (double)m->conf.max_agent_ping_timeouts;
}

/* Every ping interval: ping the agents, find the silent ones. */
static void agents_on_ping(struct ev_loop *loop, ev_timer *w, int events)
{
    struct master *m = w->data;
    double now = master_now(m), window = agents_window(m);
    static const char ping[] = "{\"type\":\"ping\"}";
    size_t pos = 0;
    void *v;

    (void)loop;
    (void)events;
    while (map_next(&m->agents.by_id, &pos, NULL, &v)) {
        struct agent_rec *ag = v;

        if (ag->state == AGENT_RECOVERING &&
            now - m->elected_time > m->conf.agent_reregister_timeout) {
            /* Known from the store but not back since this master was
             * elected: its tasks are unreachable to their frameworks. */
            ag->last_seen = m->elected_time;
            agent_unreachable(m, ag);
        } else if (ag->state == AGENT_ACTIVE && now - ag->last_seen > window) {
            agent_unreachable(m, ag);
        } else if (ag->state == AGENT_ACTIVE && ag->stream) {
            agents_send(ag, ping, sizeof(ping) - 1);
            m->agents.pings_sent++;
        }
    }
}

int agents_start(struct master *m, const struct agents_hooks *hooks)
{
    double every = m->conf.agent_ping_timeout;

    if (every <= 0) {
        log_error("agents", "--agent_ping_timeout must be positive");
        return AGORA_EINVAL;
    }
    if (m->conf.max_agent_ping_timeouts < 1) {
        log_error("agents", "--max_agent_ping_timeouts must be at least 1");
        return AGORA_EINVAL;
    }
    m->agents.hooks = *hooks;
    ev_timer_init(&m->agents.ping_timer, agents_on_ping, every, every);
    m->agents.ping_timer.data = m;
    ev_timer_init(&m->agents.load_retry, on_load_retry, 0., 0.);
    m->agents.load_retry.data = m;
    ev_timer_start(m->loop, &m->agents.ping_timer);
    return 0;
}

/* Forgets every agent (the master stepped down): their streams end, so
 * they look for the new leader; nothing is sent to them first. */
void agents_drop(struct master *m)
{
    size_t pos = 0;
    void *v;

    agents_load_abandon(m);
    while (map_next(&m->agents.by_id, &pos, NULL, &v)) {
        struct agent_rec *ag = v;

        map_remove(&m->agents.by_id, ag->id);
        if (ag->stream) {
            struct http_stream *s = ag->stream;

            ag->stream = NULL;
            http_stream_close(s);
        }
        if (ag->alloc)
            alloc_agent_remove(m->alloc, ag->alloc);
        agent_free(ag);
    }
}

void agents_stop(struct master *m)
{
    size_t pos = 0;
    void *v;

    ev_timer_stop(m->loop, &m->agents.ping_timer);
    ev_timer_stop(m->loop, &m->agents.load_retry);
    while (m->agents.load) {
        struct agents_load *l = m->agents.load;

        m->agents.load = l->next;
        free(l);
    }
    while (map_next(&m->agents.by_id, &pos, NULL, &v)) {
        struct agent_rec *ag = v;

        if (ag->stream)
            http_stream_close(ag->stream);
        if (ag->alloc)
            alloc_agent_remove(m->alloc, ag->alloc);
        agent_free(ag);
    }
    map_free(&m->agents.by_id);
}

/* ---- what the protocol asks of the registry ---- */

int agents_join_allowed(struct master *m, double now)
{
    struct agents *r = &m->agents;
    double rate = m->conf.agent_join_rate;
    double burst = m->conf.agent_join_burst > 0
                       ? (double)m->conf.agent_join_burst : 1.0;

    if (rate <= 0)
        return 1;
    if (r->join_last == 0)
        r->join_tokens = burst; /* a new cluster starts all at once */
    else if (now > r->join_last)
        r->join_tokens += (now - r->join_last) * rate;
    if (r->join_tokens > burst)
        r->join_tokens = burst;
    r->join_last = now;
    if (r->join_tokens < 1) {
        r->joins_refused++;
        return 0;
    }
    r->join_tokens -= 1;
    return 1;
}

int agents_takeover_allowed(struct master *m, struct agent_rec *ag,
                            const char *peer, double now)
{
    if (ag->stream == NULL || ag->state != AGENT_ACTIVE ||
        strcmp(ag->peer, peer) == 0)
        return 1;
    /* The old stream's host may be gone without a close (a crash, a
     * cable): after two silent ping intervals it no longer holds the id. */
    if (http_stream_peer_gone(ag->stream) ||
        now - ag->last_seen > 2 * m->conf.agent_ping_timeout)
        return 1;
    m->agents.takeovers_refused++;
    return 0;
}

int agents_session_ok(struct master *m, struct agent_rec *ag,
                      const char *session)
{
    if (ag->session[0] && session &&
        strcmp(session, ag->session) == 0)
        return 1;
    m->agents.sessions_refused++;
    return 0;
}

struct agent_rec *agents_add(struct master *m, const char *id)
{
    struct agent_rec *ag = agents_find(m, id);

    return ag ? ag : agent_new(m, id);
}

int agents_allocate(struct master *m, struct agent_rec *ag)
{
    int changed = 0;

    if (ag->alloc && ag->alloc_text &&
        strcmp(ag->alloc_text, ag->resources_text) != 0) {
        alloc_agent_remove(m->alloc, ag->alloc);
        ag->alloc = NULL;
        changed = 1;
    }
    if (ag->alloc) {
        alloc_agent_activate(m->alloc, ag->alloc, !ag->deactivated);
        return 0;
    }
    if (set_str(&ag->alloc_text, ag->resources_text) < 0 ||
        alloc_agent_add(m->alloc, ag->id, &ag->total, ag, &ag->alloc) < 0)
        return AGORA_ENOMEM;
    if (ag->deactivated)
        alloc_agent_activate(m->alloc, ag->alloc, 0);
    return changed;
}

void agents_deactivate(struct master *m, struct agent_rec *ag, int off)
{
    ag->deactivated = off;
    if (!off) {
        ag->drain = AGENT_DRAIN_NONE;
        ag->drain_grace = -1;
        ag->drain_mark_gone = 0;
    }
    if (ag->alloc)
        alloc_agent_activate(m->alloc, ag->alloc,
                             !off && ag->state == AGENT_ACTIVE);
    agent_persist(ag);
    log_info("agents", "agent %s (%s) %s by the operator", ag->id,
             ag->hostname ? ag->hostname : "?",
             off ? "deactivated" : "reactivated");
}

void agents_drain(struct master *m, struct agent_rec *ag, double grace,
                  int mark_gone)
{
    ag->drain = AGENT_DRAIN_DRAINING;
    ag->drain_grace = grace;
    ag->drain_mark_gone = mark_gone;
    agents_deactivate(m, ag, 1);
    log_info("agents", "draining agent %s (%s): its tasks are killed%s",
             ag->id, ag->hostname ? ag->hostname : "?",
             mark_gone ? ", then it is marked gone" : "");
    m->agents.hooks.drain(m->agents.hooks.arg, ag);
}

void agents_drained(struct master *m, struct agent_rec *ag)
{
    if (ag->drain != AGENT_DRAIN_DRAINING)
        return;
    ag->drain = AGENT_DRAIN_DRAINED;
    log_info("agents", "agent %s (%s) is drained", ag->id,
             ag->hostname ? ag->hostname : "?");
    if (ag->drain_mark_gone)
        agents_mark_gone(m, ag);
    else
        agent_persist(ag);
}

/* Tells ag's agent it is shut down, and ends its stream. */
static void agent_tell_shutdown(struct agent_rec *ag, const char *why)
{
    struct http_stream *s = ag->stream;
    struct agora_jw *w;
    const char *line;
    size_t len;

    if (s == NULL)
        return;
    if ((w = agora_jw_new()) != NULL) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "type", "shutdown");
        agora_jw_kstr(w, "message", why);
        agora_jw_obj_close(w);
        if ((line = agora_jw_result(w, &len)) != NULL)
            agents_send(ag, line, len);
        agora_jw_free(w);
    }
    ag->stream = NULL;
    http_stream_close(s);
}

void agents_mark_gone(struct master *m, struct agent_rec *ag)
{
    if (ag->state == AGENT_GONE)
        return;
    log_warn("agents", "agent %s (%s) marked gone by the operator", ag->id,
             ag->hostname ? ag->hostname : "?");
    agent_set_state(ag, AGENT_GONE);
    ag->deactivated = 1;
    agent_tell_shutdown(ag, "the agent was marked gone by the operator");
    m->agents.removals++;
    api_v1_agent_removed(m, ag->id);
    m->agents.hooks.gone(m->agents.hooks.arg, ag);
    if (ag->alloc) {
        alloc_agent_remove(m->alloc, ag->alloc);
        ag->alloc = NULL;
    }
    agent_persist(ag);
}

void agents_write_drain_info(struct agora_jw *w, const struct agent_rec *ag)
{
    if (ag->drain == AGENT_DRAIN_NONE)
        return;
    agora_jw_key(w, "drain_info");
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "state", drain_names[ag->drain]);
    agora_jw_key(w, "config");
    agora_jw_obj_open(w);
    if (ag->drain_grace >= 0) {
        agora_jw_key(w, "max_grace_period");
        agora_jw_obj_open(w);
        agora_jw_kint(w, "nanoseconds", (int64_t)(ag->drain_grace * 1e9));
        agora_jw_obj_close(w);
    }
    agora_jw_kbool(w, "mark_gone", ag->drain_mark_gone);
    agora_jw_obj_close(w);
    agora_jw_obj_close(w);
}

void agents_subscribing(struct agent_rec *ag, double now)
{
    ag->is_new = ag->registered_time == 0;
    if (ag->is_new)
        ag->registered_time = now;
    else
        ag->reregistered_time = now;
    ag->last_seen = now;
}

void agents_heard(struct agent_rec *ag, double now) { ag->last_seen = now; }

static int agent_open_stream(struct master *m, struct agent_rec *ag,
                             struct http_req *req)
{
    char line[256];
    int n;

    if (ag->stream) {
        struct http_stream *old = ag->stream;

        ag->stream = NULL; /* replaced: its close is not a disconnect */
        http_stream_close(old);
    }
    ag->stream = http_stream_open(req, "application/x-ndjson", 0, NULL,
                                  AGENT_STREAM_MAX, agent_stream_closed, ag);
    if (ag->stream == NULL)
        return AGORA_ENOMEM;
    /* A new token per subscription: updates of an older stream, or of
     * anyone who only knows the agent's id, are not taken. */
    uuid_v4(ag->session);
    http_req_peer(req, ag->peer, sizeof(ag->peer));
    n = snprintf(line, sizeof(line),
                 "{\"type\":\"subscribed\",\"agent_id\":\"%s\",\"master_id\":"
                 "\"%s\",\"session\":\"%s\",\"ping_interval\":%g,"
                 "\"max_ping_misses\":%lld}",
                 ag->id, m->id, ag->session, m->conf.agent_ping_timeout,
                 (long long)m->conf.max_agent_ping_timeouts);
    return agents_send(ag, line, (size_t)n);
}

int agents_activate(struct master *m, struct agent_rec *ag,
                    struct http_req *req)
{
    enum agent_state was = ag->state;
    int rc;

    agent_set_state(ag, AGENT_ACTIVE);
    rc = agent_open_stream(m, ag, req);
    if (rc < 0)
        return rc;
    agent_persist(ag);
    /* A new agent is added; one known (recovered after a failover, back
     * from unreachable) re-registers; a new stream of an active one is
     * neither. */
    if (ag->is_new)
        agent_announce(ag, "agent_added");
    else if (was != AGENT_ACTIVE)
        agent_announce(ag, "agent_reregistered");
    ag->is_new = 0;
    return 0;
}

/* ---- JSON ---- */

static void agents_write_view(struct agent_rec *ag, const char *which,
                              struct agora_jw *w)
{
    if (ag->alloc) {
        alloc_agent_write(ag->alloc, which, w);
        return;
    }
    agora_jw_obj_open(w);
    agora_jw_obj_close(w);
}

/* Attribute values as Mesos types them: a number when the text is one. */
static void write_attributes(struct agora_jw *w, const struct agent_rec *ag)
{
    size_t i;

    agora_jw_obj_open(w);
    for (i = 0; i < ag->nattrs; i++) {
        agora_jw_key(w, ag->attrs[i].key);
        attr_json_value(w, ag->attrs[i].value);
    }
    agora_jw_obj_close(w);
}

/* Mesos' "reserved_resources_full": role -> its resources in full. */
static void write_reserved_full(struct agora_jw *w,
                                const struct agora_resources *r)
{
    size_t i, j;

    agora_jw_obj_open(w);
    for (i = 0; i < r->n; i++) {
        if (strcmp(r->v[i].role, "*") == 0)
            continue;
        for (j = 0; j < i && strcmp(r->v[j].role, r->v[i].role) != 0; j++)
            ;
        if (j < i)
            continue;
        agora_jw_key(w, r->v[i].role);
        agora_jw_arr_open(w);
        for (j = i; j < r->n; j++)
            if (strcmp(r->v[j].role, r->v[i].role) == 0)
                res_json_write_full(w, &r->v[j]);
        agora_jw_arr_close(w);
    }
    agora_jw_obj_close(w);
}

/* What Mesos' agents declare they can do that agora's do too. */
static void write_agent_capabilities(struct agora_jw *w)
{
    static const char *const caps[] = {"MULTI_ROLE", "HIERARCHICAL_ROLE",
                                       "RESERVATION_REFINEMENT"};
    size_t i;

    agora_jw_key(w, "capabilities");
    agora_jw_arr_open(w);
    for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
        agora_jw_str(w, caps[i]);
    agora_jw_arr_close(w);
}

void agents_write_summary(struct agora_jw *w, struct agent_rec *ag)
{
    char pid[300];

    snprintf(pid, sizeof(pid), "slave(1)@%s:%d", ag->ip ? ag->ip : "", ag->port);
    agora_jw_kstr(w, "id", ag->id);
    agora_jw_kstr(w, "hostname", ag->hostname);
    agora_jw_kint(w, "port", ag->port);
    agora_jw_key(w, "attributes");
    write_attributes(w, ag);
    agora_jw_kstr(w, "pid", pid);
    agora_jw_knum(w, "registered_time", ag->registered_time);
    if (ag->reregistered_time)
        agora_jw_knum(w, "reregistered_time", ag->reregistered_time);
    agora_jw_key(w, "resources");
    res_json_write(w, &ag->total);
    agora_jw_key(w, "used_resources");
    agents_write_view(ag, "used", w);
    agora_jw_key(w, "offered_resources");
    agents_write_view(ag, "offered", w);
    agora_jw_key(w, "reserved_resources");
    res_json_write_reserved(w, &ag->total);
    agora_jw_key(w, "unreserved_resources");
    res_json_write_role(w, &ag->total, "*");
    agora_jw_key(w, "reserved_resources_full");
    write_reserved_full(w, &ag->total);
    agora_jw_kbool(w, "active", ag->state == AGENT_ACTIVE);
    agora_jw_kbool(w, "deactivated", ag->deactivated);
    agents_write_drain_info(w, ag);
    agora_jw_kstr(w, "version", ag->version);
    write_agent_capabilities(w);
}

/* Mesos' Summary<Slave>, and agora's own keys. */
static void agent_write_one(struct agora_jw *w, struct agent_rec *ag)
{
    agora_jw_obj_open(w);
    agents_write_summary(w, ag);
    agora_jw_kstr(w, "state", agents_state_name(ag->state));
    agora_jw_kbool(w, "connected", ag->stream != NULL);
    if (ag->state == AGENT_UNREACHABLE)
        agora_jw_knum(w, "unreachable_time", ag->unreachable_time);
    agora_jw_knum(w, "last_seen", ag->last_seen);
    agora_jw_kint(w, "tasks", (int64_t)ag->tasks.len);
    agora_jw_obj_close(w);
}

size_t agents_count_known(struct master *m)
{
    size_t pos = 0, n = 0;
    void *v;

    while (map_next(&m->agents.by_id, &pos, NULL, &v))
        n += ((struct agent_rec *)v)->state != AGENT_GONE;
    return n;
}

size_t agents_count_active(struct master *m)
{
    size_t pos = 0, n = 0;
    void *v;

    while (map_next(&m->agents.by_id, &pos, NULL, &v))
        n += ((struct agent_rec *)v)->state == AGENT_ACTIVE;
    return n;
}

void agents_write(struct master *m, struct agora_jw *w)
{
    size_t pos = 0;
    void *v;

    agora_jw_arr_open(w);
    while (map_next(&m->agents.by_id, &pos, NULL, &v))
        if (((struct agent_rec *)v)->state != AGENT_GONE)
            agent_write_one(w, v);
    agora_jw_arr_close(w);
}

static void agents_reply(struct master *m, struct http_req *req,
                         const char *key)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_obj_open(w);
    agora_jw_key(w, key);
    agents_write(m, w);
    agora_jw_obj_close(w);
    http_reply_jw(req, 200, w);
}

void agents_http_list(void *arg, struct http_req *req)
{
    agents_reply(arg, req, "agents");
}

void agents_http_slaves(void *arg, struct http_req *req)
{
    agents_reply(arg, req, "slaves");
}

void agents_write_metrics(struct master *m, struct agora_jw *w)
{
    size_t pos = 0, n[AGENT_GONE + 1] = {0}, connected = 0;
    struct alloc_totals t;
    void *v;
    int k;

    while (map_next(&m->agents.by_id, &pos, NULL, &v)) {
        struct agent_rec *ag = v;

        n[ag->state]++;
        connected += ag->stream != NULL;
    }
    agora_jw_kint(w, "master/slaves_active", (int64_t)n[AGENT_ACTIVE]);
    agora_jw_kint(w, "master/slaves_connected", (int64_t)connected);
    agora_jw_kint(w, "master/slaves_unreachable",
                  (int64_t)n[AGENT_UNREACHABLE]);
    agora_jw_kint(w, "master/slaves_recovering",
                  (int64_t)n[AGENT_RECOVERING]);
    /* Mesos: inactive = registered but deactivated; disconnected = no
     * link to it now. */
    agora_jw_kint(w, "master/slaves_inactive",
                  (int64_t)(m->agents.by_id.len - n[AGENT_GONE] -
                            n[AGENT_ACTIVE]));
    agora_jw_kint(w, "master/slaves_disconnected",
                  (int64_t)(m->agents.by_id.len - n[AGENT_GONE] - connected));
    agora_jw_kint(w, "master/slave_registrations",
                  (int64_t)m->agents.registrations);
    agora_jw_kint(w, "master/slave_reregistrations",
                  (int64_t)m->agents.reregistrations);
    agora_jw_kint(w, "master/slave_removals", (int64_t)m->agents.removals);
    agora_jw_kint(w, "master/slave_unreachable_completed",
                  (int64_t)m->agents.unreachable);
    agora_jw_kint(w, "master/agent_joins_refused",
                  (int64_t)m->agents.joins_refused);
    agora_jw_kint(w, "master/agent_takeovers_refused",
                  (int64_t)m->agents.takeovers_refused);
    agora_jw_kint(w, "master/agent_sessions_refused",
                  (int64_t)m->agents.sessions_refused);
    alloc_get_totals(m->alloc, &t);
    for (k = 0; k < 4; k++) {
        static const char *const names[] = {"cpus", "mem", "disk", "gpus"};
        char key[64];

        snprintf(key, sizeof(key), "master/%s_total", names[k]);
        agora_jw_knum(w, key, t.total[k]);
        snprintf(key, sizeof(key), "master/%s_used", names[k]);
        agora_jw_knum(w, key, t.used[k]);
        snprintf(key, sizeof(key), "master/%s_offered", names[k]);
        agora_jw_knum(w, key, t.offered[k]);
        snprintf(key, sizeof(key), "master/%s_percent", names[k]);
        agora_jw_knum(w, key, t.total[k] > 0 ? t.used[k] / t.total[k] : 0);
    }
}
