/*
 * chronos.c - the plugin's descriptor, configuration and life.
 *
 * chronos.so serves Chronos' REST API (chronos-api.md) on its own port
 * (conf.d/chronos.conf: port = 4400) and under /chronos/ on the master's.
 * It runs on the leading master only: init() reads the store, follows the
 * runs the previous leader left in flight, and only then serves.
 */
#include <stddef.h>
#include <stdlib.h>

#include "chronos.h"

#ifndef CHRONOS_VERSION
#define CHRONOS_VERSION "3.0.2-agora"
#endif

static int chr_init(struct agora_host *h, const struct agora_api *api,
                    const void *conf, void **state)
{
    struct chr *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL)
        return AGORA_ENOMEM;
    c->h = h;
    c->api = api;
    c->conf = conf;
    c->fw = api->framework_default(h);
    c->stored.held_tail = &c->stored.held;
    c->jconf.cpus = c->conf->cpus;
    c->jconf.mem = c->conf->mem;
    c->jconf.disk = c->conf->disk;
    c->jconf.user = c->conf->user;
    c->jconf.epsilon = c->conf->epsilon;
    c->jconf.zone = chr_zone;
    c->jconf.zone_ctx = c;
    if (c->fw == NULL) {
        free(c);
        return AGORA_EINVAL;
    }
    /* A status is acknowledged once what it changed is stored. */
    rc = api->framework_set_explicit_acks(c->fw, 1);
    if (rc != 0) {
        free(c);
        return rc;
    }
    api->suppress(c->fw);
    c->suppressed = 1;
    api->set_ready(h, 0, "loading jobs from the store");
    *state = c;
    chr_state_load(c);
    return 0;
}

static void chr_fini(void *state)
{
    struct chr *c = state;

    agora_pending_free_all(&c->pend);
    chr_sched_free(c);
    chr_state_free(c);
    free(c);
}

static const struct agora_conf_field chr_conf_fields[] = {
    {"failure_retry", AGORA_CONF_DURATION, "60secs",
     offsetof(struct chr_conf, failure_retry),
     "time between a failed run and its retry (Chronos' --failure_retry)"},
    {"task_cpus", AGORA_CONF_DOUBLE, "0.1", offsetof(struct chr_conf, cpus),
     "cpus of a job that gives none (--mesos_task_cpu)"},
    {"task_mem", AGORA_CONF_DOUBLE, "128", offsetof(struct chr_conf, mem),
     "MB of memory of a job that gives none (--mesos_task_mem)"},
    {"task_disk", AGORA_CONF_DOUBLE, "256", offsetof(struct chr_conf, disk),
     "MB of disk of a job that gives none (--mesos_task_disk)"},
    {"user", AGORA_CONF_STRING, "", offsetof(struct chr_conf, user),
     "runAsUser of a job that gives none (--user); empty: the agent's "
     "user"},
    {"task_epsilon", AGORA_CONF_STRING, "PT60S",
     offsetof(struct chr_conf, epsilon),
     "how late a run may start before it is skipped, for jobs without "
     "epsilon (--task_epsilon)"},
    {"history", AGORA_CONF_INT, "100", offsetof(struct chr_conf, history),
     "runs kept per job"},
    {NULL, 0, NULL, 0, NULL},
};

static const struct agora_plugin chr_plugin = {
    AGORA_PLUGIN_INIT,
    .name = "chronos",
    .version = CHRONOS_VERSION,
    .description = "scheduled and dependent jobs with Chronos' REST API",
    .conf = chr_conf_fields,
    .conf_size = sizeof(struct chr_conf),
    .routes = chr_routes,
    .init = chr_init,
    .fini = chr_fini,
    .on_offer = chr_sched_on_offer,
    .on_status = chr_sched_on_status,
};

const struct agora_plugin *agora_plugin_entry(void) { return &chr_plugin; }
