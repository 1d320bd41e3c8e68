/*
 * offers.c - between the allocator and the frameworks: offers become
 * on_offer calls, accepts become launches.
 */
#include "offers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/resources.h>
#include <agora/sdk.h>

#include "agents.h"
#include "alloc.h"
#include "frameworks.h"
#include "log.h"
#include "master.h"
#include "tasks.h"

/* The allocator made offers for fw: hand them over in one call. */
static void offers_deliver(void *arg, struct alloc_fw *afw,
                           struct alloc_offer *const *offers, size_t n)
{
    struct master *m = arg;
    struct agora_framework *fw = alloc_fw_owner(afw);
    struct agora_offer *v;
    size_t i;

    if (fw->on_offer == NULL) {
        for (i = 0; i < n; i++)
            alloc_decline(m->alloc, afw, offers[i], -1);
        return;
    }
    v = calloc(n, sizeof(*v));
    if (v == NULL) {
        log_error("offers", "out of memory: declining %zu offers of %s", n,
                  fw->id);
        for (i = 0; i < n; i++)
            alloc_decline(m->alloc, afw, offers[i], 0);
        return;
    }
    for (i = 0; i < n; i++) {
        struct agent_rec *ag = agents_find(m, alloc_offer_agent_id(offers[i]));

        v[i].id = alloc_offer_id(offers[i]);
        v[i].agent_id = alloc_offer_agent_id(offers[i]);
        v[i].hostname = ag ? ag->hostname : NULL;
        v[i].resources = alloc_offer_resources(offers[i]);
        v[i].attributes = ag ? ag->attrs : NULL;
        v[i].nattributes = ag ? ag->nattrs : 0;
    }
    fw->on_offer(fw->state, fw, v, n);
    free(v);
}

static void offers_rescind(void *arg, struct alloc_fw *afw,
                           struct alloc_offer *o)
{
    struct agora_framework *fw = alloc_fw_owner(afw);

    (void)arg;
    if (fw->on_rescind)
        fw->on_rescind(fw->state, fw, alloc_offer_id(o));
}

int offers_start(struct master *m)
{
    struct alloc_conf c;
    char err[256];
    int rc;

    memset(&c, 0, sizeof(c));
    c.interval = m->conf.allocation_interval;
    c.offer_timeout = m->conf.offer_timeout;
    c.refuse_default = 5.0;
    c.min_cpus = 0.01;
    c.min_mem = 32;
    c.weights = m->conf.weights;
    c.quota = m->conf.quota;
    rc = alloc_new(m->loop, &c, offers_deliver, offers_rescind, m, &m->alloc,
                   err, sizeof(err));
    if (rc < 0)
        log_error("master", "%s", rc == AGORA_EINVAL ? err : "out of memory");
    return rc;
}

/* Every task of an accept that cannot be placed hears why. */
static void refuse_all(struct master *m, struct agora_framework *fw,
                       const char *agent_id,
                       const struct agora_task_spec *const *v, size_t n,
                       enum agora_task_state state, const char *why)
{
    size_t i;

    for (i = 0; i < n; i++)
        tasks_refuse(m, fw, v[i]->task_id, agent_id, state,
                     state == AGORA_TASK_ERROR ? "REASON_TASK_INVALID"
                                               : "REASON_INVALID_OFFERS",
                     why);
}

/*
 * Places the tasks in the offer. A task that does not fit is refused
 * (TASK_ERROR, with why) and the others placed without it.
 */
static int accept_placed(struct master *m, struct agora_framework *fw,
                         struct alloc_offer *o,
                         const struct agora_task_spec **v, size_t n,
                         struct agora_resources *placed)
{
    const struct agora_resources **rs = calloc(n ? n : 1, sizeof(*rs));
    const char *agent_id = alloc_offer_agent_id(o);
    char err[256];
    size_t i, bad;
    int rc;

    if (rs == NULL)
        return AGORA_ENOMEM;
    for (;;) {
        for (i = 0; i < n; i++)
            rs[i] = v[i]->resources;
        rc = alloc_accept(m->alloc, fw->alloc, o, rs, n, placed, &bad, err,
                          sizeof(err));
        if (rc != AGORA_EINVAL)
            break;
        tasks_refuse(m, fw, v[bad]->task_id, agent_id, AGORA_TASK_ERROR,
                     "REASON_TASK_INVALID", err);
        memmove(&v[bad], &v[bad + 1], (n - bad - 1) * sizeof(*v));
        n--;
    }
    free(rs);
    return rc < 0 ? rc : (int)n;
}

int offers_accept(struct master *m, struct agora_framework *fw,
                  const char *offer_id, const struct agora_task_spec *tasks,
                  size_t n)
{
    struct alloc_offer *o = alloc_offer_find(m->alloc, offer_id);
    const struct agora_task_spec **v;
    struct agora_resources *placed;
    struct agent_rec *ag;
    size_t i, k = 0;
    int rc;

    if (offer_id == NULL || (tasks == NULL && n > 0))
        return AGORA_EINVAL;
    v = calloc(n ? n : 1, sizeof(*v));
    placed = calloc(n ? n : 1, sizeof(*placed));
    if (v == NULL || placed == NULL) {
        free(v);
        free(placed);
        return AGORA_ENOMEM;
    }
    for (i = 0; i < n; i++)
        v[i] = &tasks[i];
    ag = o ? agents_find(m, alloc_offer_agent_id(o)) : NULL;
    if (o == NULL || fw->alloc == NULL || ag == NULL) {
        refuse_all(m, fw, NULL, v, n, AGORA_TASK_DROPPED,
                   "the offer is no longer valid (accepted, declined or "
                   "rescinded already)");
        rc = AGORA_ENOENT;
        goto out;
    }
    /* Specs that can never run are refused before anything is placed. */
    for (i = 0; i < n; i++) {
        const char *why;

        if (tasks_launch_known(m, fw, v[i], alloc_offer_agent_id(o)))
            continue; /* never run twice: answered with its status */
        if ((why = tasks_spec_unauthorized(m, fw, v[i])) != NULL)
            tasks_refuse(m, fw, v[i]->task_id, alloc_offer_agent_id(o),
                         AGORA_TASK_ERROR, "REASON_TASK_UNAUTHORIZED", why);
        else if ((why = tasks_spec_problem(m, v[i])) != NULL)
            tasks_refuse(m, fw, v[i]->task_id, alloc_offer_agent_id(o),
                         AGORA_TASK_ERROR, "REASON_TASK_INVALID", why);
        else
            v[k++] = v[i];
    }
    rc = accept_placed(m, fw, o, v, k, placed);
    for (i = 0; rc >= 0 && i < (size_t)rc; i++)
        tasks_launch_placed(m, fw, ag, v[i], &placed[i]);
    rc = rc < 0 ? rc : 0;
out:
    for (i = 0; i < n; i++)
        agora_resources_free(&placed[i]);
    free(placed);
    free(v);
    return rc;
}
