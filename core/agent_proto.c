/*
 * agent_proto.c - the agent protocol's master side: subscriptions,
 * reported tasks, status updates and their acks (see agent_proto.h).
 */
#include "agent_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agent_update.h"
#include "agents.h"
#include "clock.h"
#include "http.h"
#include "log.h"
#include "master.h"
#include "tasks.h"

/* ---- what the registry finds by itself ---- */

static void proto_on_unreachable(void *arg, struct agent_rec *ag)
{
    tasks_agent_unreachable(arg, ag);
}

static void proto_on_recovered(void *arg) { tasks_recovered(arg); }

static void proto_on_gone(void *arg, struct agent_rec *ag)
{
    tasks_agent_gone(arg, ag);
}

static void proto_on_drain(void *arg, struct agent_rec *ag)
{
    tasks_drain_kill(arg, ag);
}

int agent_proto_start(struct master *m)
{
    const struct agents_hooks hooks = {
        .unreachable = proto_on_unreachable,
        .recovered = proto_on_recovered,
        .gone = proto_on_gone,
        .drain = proto_on_drain,
        .arg = m,
    };

    return agents_start(m, &hooks);
}

/* ---- POST /api/agent/subscribe ---- */

/* Gives the allocator the agent's resources; changed ones mean its live
 * tasks are counted again. */
static int proto_allocate(struct master *m, struct agent_rec *ag)
{
    int rc = agents_allocate(m, ag);

    if (rc > 0)
        tasks_agent_recount(m, ag);
    return rc < 0 ? rc : 0;
}

static void proto_reconcile(struct master *m, struct agent_rec *ag,
                            yajl_val tasks)
{
    size_t i;

    m->tasks.mark++;
    if (YAJL_IS_ARRAY(tasks))
        for (i = 0; i < tasks->u.array.len; i++)
            tasks_agent_report(m, ag, tasks->u.array.values[i]);
    tasks_agent_reported_all(m, ag, master_now(m));
}

static void proto_subscribed(struct master *m, struct agent_rec *ag,
                             yajl_val doc, struct http_req *req)
{
    enum agent_state was = ag->state;

    agents_subscribing(ag, master_now(m));
    /* Its tasks first: becoming active may end the recovery, which
     * answers reconciliations about tasks still unknown. */
    proto_reconcile(m, ag, agora_json_get(doc, "tasks"));
    if (agents_activate(m, ag, req) < 0) {
        http_reply_error(req, 500, "cannot open the event stream");
        return;
    }
    tasks_drain_kill(m, ag);
    log_info("agents", "agent %s (%s, %s:%d) subscribed%s: %s", ag->id,
             ag->hostname, ag->ip ? ag->ip : "?", ag->port,
             was == AGENT_UNREACHABLE ? " again after being unreachable"
             : ag->reregistered_time ? " again" : "",
             ag->resources_text);
}

/*
 * Whether this subscribe may go on; answers req (and returns 0) when
 * not. A connected agent is not taken over from another address while
 * its stream lives (an impostor who knows the id would get its
 * launches); an agent never seen before takes a token of the join rate.
 * *ag is the known record, or NULL.
 */
static int proto_may_subscribe(struct master *m, struct http_req *req,
                               const char *id, struct agent_rec **ag,
                               const char *peer)
{
    double now = master_now(m);

    *ag = agents_find(m, id);
    if (*ag && (*ag)->state == AGENT_GONE) {
        /* As Mesos shuts down an agent marked gone that comes back:
         * the agent kills its tasks and starts again as a new one. */
        log_warn("agents", "agent %s (from %s) was marked gone: refused",
                 id, peer);
        http_reply_errorf(req, 410, "agent %s was marked gone by the "
                                    "operator: start it as a new agent", id);
        return 0;
    }
    if (*ag && !agents_takeover_allowed(m, *ag, peer, now)) {
        log_warn("agents", "agent %s: a subscribe from %s refused: it is "
                           "connected from %s", id, peer, (*ag)->peer);
        http_reply_errorf(req, 409, "agent %s is connected from another "
                                    "address", id);
        return 0;
    }
    if (*ag == NULL && !agents_join_allowed(m, now)) {
        http_reply_header(req, "Retry-After", "1");
        http_reply_error(req, 429, "too many new agents: try again later");
        return 0;
    }
    return 1;
}

void agent_proto_http_subscribe(void *arg, struct http_req *req)
{
    struct master *m = arg;
    char why[256];
    yajl_val doc = agora_json_parse(http_req_body(req, NULL), why, sizeof(why));
    const char *id = doc ? agora_json_get_str(doc, "agent_id") : NULL;
    struct agent_rec *ag = NULL;
    char peer[48];

    if (doc == NULL) {
        http_reply_errorf(req, 400, "invalid JSON: %s", why);
        return;
    }
    /* Everything that can refuse the body runs before agents_add(): a
     * record made for a refused subscribe would be awaited after a
     * restart. */
    if (!agora_id_valid(id, AGENT_ID_MAX)) {
        http_reply_error(req, 400, "agent_id missing or invalid (1-128 of "
                                   "[A-Za-z0-9_.-])");
    } else if (agents_check_info(doc, why, sizeof(why)) < 0) {
        http_reply_error(req, 400, why);
    } else if (maint_is_down(m, agora_json_get_str(doc, "hostname"),
                             agora_json_get_str(doc, "ip"))) {
        http_reply_errorf(req, 410, "the machine of agent %s is down for "
                                    "maintenance", id);
    } else if (!proto_may_subscribe(m, req, id, &ag,
                                    http_req_peer(req, peer, sizeof(peer)))) {
        /* answered */
    } else if (ag == NULL && (ag = agents_add(m, id)) == NULL) {
        http_reply_error(req, 500, "out of memory");
    } else if (agents_take_info(ag, doc, why, sizeof(why)) < 0) {
        http_reply_error(req, 400, why);
    } else if (proto_allocate(m, ag) < 0) {
        http_reply_error(req, 500, "out of memory");
    } else {
        proto_subscribed(m, ag, doc, req);
    }
    yajl_tree_free(doc);
}

/* ---- POST /api/agent/updates ---- */

/* Applies the updates and builds one ack event for those delivered,
 * and for those their framework acknowledged while they were applied
 * (tasks.c's send_ack writes those into acks). */
static void proto_apply_updates(struct master *m, struct agent_rec *ag,
                                const struct agent_updates *ups,
                                struct agora_jw *acks)
{
    size_t i;

    agora_jw_obj_open(acks);
    agora_jw_kstr(acks, "type", "ack");
    agora_jw_key(acks, "updates");
    agora_jw_arr_open(acks);
    if (acks != NULL) {
        m->tasks.ack_agent = ag;
        m->tasks.ack_into = acks;
    }
    for (i = 0; i < ups->n; i++) {
        const struct agent_update *u = &ups->v[i];
        int rc = tasks_agent_update(m, ag, u);

        if (rc == 0)
            continue; /* held: no ack, the agent sends it again later */
        if (rc < 0)
            log_warn("agents", "agent %s: dropping a malformed update of "
                               "task %s", ag->id,
                     u->task_id ? u->task_id : "?");
        if (u->uuid && u->task_id) {
            agora_jw_obj_open(acks);
            agora_jw_kstr(acks, "task_id", u->task_id);
            agora_jw_kstr(acks, "uuid", u->uuid);
            agora_jw_obj_close(acks);
        }
    }
    m->tasks.ack_agent = NULL;
    m->tasks.ack_into = NULL;
    agora_jw_arr_close(acks);
    agora_jw_obj_close(acks);
}

static void proto_updates(struct master *m, struct agent_rec *ag,
                          const struct agent_updates *ups,
                          struct http_req *req)
{
    struct agora_jw *acks;
    const char *line;
    size_t len;

    agents_heard(ag, master_now(m));
    if (ups->n == 0) {
        http_reply(req, 202, NULL, "{}", 2);
        return;
    }
    acks = agora_jw_new();
    proto_apply_updates(m, ag, ups, acks);
    line = acks ? agora_jw_result(acks, &len) : NULL;
    if (line == NULL) {
        http_reply_error(req, 500, "out of memory");
    } else {
        agents_send(ag, line, len);
        http_reply(req, 202, NULL, "{}", 2);
    }
    agora_jw_free(acks);
}

/* The body is read without a tree (agent_update.h): an agent in a burst
 * posts one every few ms, and the tree's allocations were a sixth of the
 * master's instructions. */
void agent_proto_http_updates(void *arg, struct http_req *req)
{
    struct master *m = arg;
    struct agent_updates ups;
    struct agent_rec *ag;
    char why[256];

    if (agent_updates_parse(http_req_body(req, NULL), &ups, why,
                            sizeof(why)) < 0) {
        http_reply_errorf(req, 400, "invalid JSON: %s", why);
        return;
    }
    ag = agents_find(m, ups.agent_id);
    if (ag == NULL || ag->state != AGENT_ACTIVE)
        http_reply_error(req, 409, "the agent is not subscribed: subscribe "
                                   "first");
    else if (!agents_session_ok(m, ag, ups.session))
        http_reply_error(req, 409, "not the agent's current session: "
                                   "subscribe first");
    else
        proto_updates(m, ag, &ups, req);
    agent_updates_free(&ups);
}
