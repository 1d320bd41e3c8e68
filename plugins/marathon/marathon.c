/*
 * marathon.c - the plugin's descriptor, configuration and life.
 *
 * marathon.so serves Marathon's REST API (marathon-api.md) on its own
 * port (conf.d/marathon.conf: port = 8080) and under /marathon/ on the
 * master's. It runs on the leading master only: init() reads the store,
 * reconciles with the master's task table and only then serves; until
 * then requests are answered 503 and /health names the plugin as not
 * ready. Tasks are the master's, not the plugin's: unloading the plugin
 * (a reload, a lost election) leaves every task running, and the next
 * init() adopts them again.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "marathon.h"

#ifndef MARATHON_VERSION
#define MARATHON_VERSION "1.10.0-agora"
#endif

static int mar_init(struct agora_host *h, const struct agora_api *api,
                    const void *conf, void **state)
{
    struct mar *m;
    int rc;

    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return AGORA_ENOMEM;
    m->h = h;
    m->api = api;
    m->conf = conf;
    m->fw = api->framework_default(h);
    m->start_time = api->now(h);
    m->elected_time = m->start_time;
    m->leading = 1;
    m->next_service_port = (uint16_t)m->conf->local_port_min;
    m->health_kill_budget = 1;
    m->jw = agora_jw_new();
    m->jw_doc = agora_jw_new();
    if (m->fw == NULL || m->jw == NULL || m->jw_doc == NULL ||
        mar_index_init(m) != 0) {
        rc = m->fw == NULL ? AGORA_EINVAL : AGORA_ENOMEM;
        mar_index_free(m);
        agora_jw_free(m->jw);
        agora_jw_free(m->jw_doc);
        free(m);
        return rc;
    }
    /* Status updates are acknowledged once the instance they change is
     * in the store: a failover between the two re-delivers them. */
    rc = api->framework_set_explicit_acks(m->fw, 1);
    if (rc == 0)
        rc = api->timer_start(h, 1.0, 1.0, mar_sched_tick, m, &m->tick);
    if (rc != 0) {
        agora_jw_free(m->jw);
        agora_jw_free(m->jw_doc);
        mar_index_free(m);
        free(m);
        return rc;
    }
    /* No offers until the state is loaded and something waits. */
    api->suppress(m->fw);
    m->suppressed = 1;
    api->set_ready(h, 0, "loading apps and instances from the store");
    *state = m;
    mar_state_load(m);
    return 0;
}

static void mar_fini(void *state)
{
    struct mar *m = state;

    mar_store_fini(m);
    mar_events_free(m);
    mar_offers_free(m);
    agora_pending_free_all(&m->pend);
    mar_state_free(m);
    agora_jw_free(m->jw);
    agora_jw_free(m->jw_doc);
    free(m);
}

static void mar_on_leader(void *state, int leading)
{
    struct mar *m = state;

    m->leading = leading;
}

static const struct agora_conf_field mar_conf_fields[] = {
    {"max_versions", AGORA_CONF_INT, "50",
     offsetof(struct mar_conf, max_versions),
     "versions kept per app (Marathon's --zk_max_versions)"},
    {"local_port_min", AGORA_CONF_INT, "10000",
     offsetof(struct mar_conf, local_port_min),
     "first service port assigned to port definitions with port 0"},
    {"local_port_max", AGORA_CONF_INT, "20000",
     offsetof(struct mar_conf, local_port_max),
     "last service port assigned"},
    {"health_kill_rate", AGORA_CONF_DOUBLE, "1",
     offsetof(struct mar_conf, health_kill_rate),
     "unhealthy tasks killed per second at most, so that a partition "
     "cannot kill a whole app at once"},
    {"task_launch_timeout", AGORA_CONF_DURATION, "300secs",
     offsetof(struct mar_conf, task_launch_timeout),
     "a task not running this long after its launch is killed"},
    {"framework_name", AGORA_CONF_STRING, "marathon",
     offsetof(struct mar_conf, framework_name),
     "the name /v2/info gives"},
    {"offer_hold", AGORA_CONF_DURATION, "1secs",
     offsetof(struct mar_conf, offer_hold),
     "an offer no waiting app can use is kept this long (to twice it) "
     "while apps keep arriving, instead of declined: a burst of new "
     "apps is filled from the kept offers rather than each reviving "
     "every agent's offer; 0 declines at once"},
    {NULL, 0, NULL, 0, NULL},
};

static const struct agora_plugin mar_plugin = {
    AGORA_PLUGIN_INIT,
    .name = "marathon",
    .version = MARATHON_VERSION,
    .description = "long-running services with Marathon's REST API",
    .conf = mar_conf_fields,
    .conf_size = sizeof(struct mar_conf),
    .routes = mar_routes,
    .init = mar_init,
    .fini = mar_fini,
    .on_offer = mar_sched_on_offer,
    .on_status = mar_sched_on_status,
    .on_leader = mar_on_leader,
    .on_rescind = mar_sched_on_rescind,
};

const struct agora_plugin *agora_plugin_entry(void) { return &mar_plugin; }
