/*
 * alloc.h - offers by Dominant Resource Fairness (Mesos' hierarchical
 * DRF allocator, reference mesos-core.md A.1-A.3).
 *
 * The allocator knows agents (their resources: unreserved, and reserved
 * per role), frameworks (their role, what they hold), and roles (weight,
 * quota). It hands an agent's free resources to one framework at a time
 * as an offer; the framework accepts part of an offer (the rest is free
 * again at once) or declines it with a refuse filter.
 *
 * Cycles are event driven and batched: something that may produce an
 * offer (resources freed, an agent added, a revive, a filter expiring)
 * marks agents dirty and schedules a cycle at most once per interval; a
 * cycle visits only the dirty agents. Roles are served in order of
 * quota need, then weighted dominant share; frameworks within a role by
 * dominant share, kept in heaps updated as offers go out, so a cycle
 * costs O(dirty agents x log frameworks), never a re-sort of everything.
 *
 * Offered resources count as allocated to the framework (Mesos does the
 * same): a framework sitting on offers does not get more.
 *
 * Scalars are kept in thousandths (Mesos' fixed point); cpus, mem, disk
 * and gpus are fast fields, ports are ranges, any other resource rides
 * along in a generic list. The allocator never calls plugins itself: it
 * reports offers and rescinds through callbacks (offers.c turns them into
 * on_offer calls).
 */
#ifndef AGORA_ALLOC_H
#define AGORA_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include <agora/plugin.h>

struct ev_loop;
struct agora_jw;
struct alloc;
struct alloc_agent;
struct alloc_fw;
struct alloc_offer;

struct alloc_conf {
    double interval;         /* least time between cycles (s)            */
    double offer_timeout;    /* rescind offers older than this; 0 = never */
    double refuse_default;   /* decline's default filter (s), Mesos 5    */
    double min_cpus;         /* smallest offer worth making (Mesos 0.01) */
    double min_mem;          /*                           (Mesos 32 MB)  */
    const char *weights;     /* "role=2,other=0.5"                       */
    const char *quota;       /* "role:cpus=4;mem=4096,other:cpus=1"      */
};

/* Offers for one framework from one cycle; the arrays are borrowed. */
typedef void (*alloc_offer_fn)(void *arg, struct alloc_fw *fw,
                               struct alloc_offer *const *offers, size_t n);
/* An offer taken back (agent lost, timeout): it is freed after the call. */
typedef void (*alloc_rescind_fn)(void *arg, struct alloc_fw *fw,
                                 struct alloc_offer *offer);

struct alloc_stats {
    uint64_t runs;
    uint64_t offers_sent, offers_accepted, offers_declined, offers_rescinded;
    uint64_t outstanding;
    double run_ms_p50, run_ms_p99; /* over the last 1,024 cycles */
    double run_ms_last;
};

/*
 * A new allocator. loop is borrowed (for the cycle and filter timers;
 * NULL for tests that drive alloc_run() by hand). Parses weights and
 * quota: AGORA_EINVAL with the reason in err when malformed.
 */
int alloc_new(struct ev_loop *loop, const struct alloc_conf *conf,
              alloc_offer_fn on_offer, alloc_rescind_fn on_rescind,
              void *arg, struct alloc **out, char *err, size_t errlen);
void alloc_free(struct alloc *a);

/* ---- agents ---- */

/* Adds an agent with its total resources (copied; reservations are
 * resources with a role). id is copied; owner is the caller's. */
int alloc_agent_add(struct alloc *a, const char *id,
                    const struct agora_resources *total, void *owner,
                    struct alloc_agent **out);
void *alloc_agent_owner(const struct alloc_agent *ag);
struct alloc_agent *alloc_agent_find(struct alloc *a, const char *id);
/* Removes an agent: its offers are rescinded first. */
void alloc_agent_remove(struct alloc *a, struct alloc_agent *ag);
/* Takes an agent out of (0) or back into (1) offers without forgetting
 * what runs on it (unreachable agents, for instance). */
void alloc_agent_activate(struct alloc *a, struct alloc_agent *ag, int on);

/*
 * Resources a task of fw holds on ag without an offer (a direct launch,
 * or a task an agent reported after a master restart). fw may be NULL
 * (its framework is not registered: role "*"). Plain resources come from
 * the role's reservation first, then unreserved; *placed (empty on entry)
 * receives them annotated with where they came from, which is what
 * alloc_release() takes back. AGORA_EINVAL when they do not fit, and
 * nothing changes. force: take them even beyond what is free (a task an
 * agent reports must be counted, fitting or not).
 */
int alloc_use(struct alloc *a, struct alloc_agent *ag, struct alloc_fw *fw,
              const struct agora_resources *r, int force,
              struct agora_resources *placed);
/* A task ended: its placed resources are free again. */
void alloc_release(struct alloc *a, struct alloc_agent *ag,
                   struct alloc_fw *fw, const struct agora_resources *placed);

/* ---- frameworks ---- */

/* Registers a framework in role ("*" when NULL); owner is returned by
 * alloc_fw_owner(). */
int alloc_fw_add(struct alloc *a, const char *id, const char *role,
                 void *owner, struct alloc_fw **out);
/* Unregisters fw: its offers return (no rescind callback), its filters go. */
void alloc_fw_remove(struct alloc *a, struct alloc_fw *fw);
void alloc_fw_suppress(struct alloc *a, struct alloc_fw *fw);
/* Wants offers again; all its refuse filters are cleared. */
void alloc_fw_revive(struct alloc *a, struct alloc_fw *fw);
void *alloc_fw_owner(const struct alloc_fw *fw);
const char *alloc_fw_id(const struct alloc_fw *fw);

/* ---- offers ---- */

const char *alloc_offer_id(const struct alloc_offer *o);
const char *alloc_offer_agent_id(const struct alloc_offer *o);
/* The offered resources, valid while the offer lives. */
const struct agora_resources *alloc_offer_resources(const struct alloc_offer *o);
struct alloc_offer *alloc_offer_find(struct alloc *a, const char *id);

/*
 * Accepts an offer for n tasks whose resources are rs[i]: each must fit
 * in what remains of the offer (ports within the offered ranges), in
 * order; plain resources are taken from the framework role's reservation
 * first, then unreserved. On success placed[i] (n empty entries on
 * entry) holds each task's resources annotated with their origin, the
 * rest of the offer is free again, and the offer is gone. When task i
 * does not fit, *bad = i, nothing changes, the offer stays, and
 * AGORA_EINVAL is returned with the reason in err.
 */
int alloc_accept(struct alloc *a, struct alloc_fw *fw, struct alloc_offer *o,
                 const struct agora_resources *const *rs, size_t n,
                 struct agora_resources *placed, size_t *bad, char *err,
                 size_t errlen);

/* Declines an offer; the framework gets nothing of that agent for
 * refuse_seconds (< 0: the default). */
int alloc_decline(struct alloc *a, struct alloc_fw *fw, struct alloc_offer *o,
                  double refuse_seconds);

/* ---- cycles ---- */

/* Runs a cycle now (the timer calls this; tests and benches too). */
void alloc_run(struct alloc *a);

/* Schedules a cycle of every agent (after a configuration change). */
void alloc_dirty_all(struct alloc *a);

void alloc_get_stats(const struct alloc *a, struct alloc_stats *out);

/* Metrics (allocator/...) and per-role figures, for /metrics/snapshot. */
void alloc_write_metrics(struct alloc *a, struct agora_jw *w);
/* {"roles": [{"name", "weight", "quota", "allocated", "offered",
 *  "dominant_share", "frameworks": [{"id", "dominant_share"}]}]} */
void alloc_write_roles(struct alloc *a, struct agora_jw *w);
/* A framework's dominant share, for /master/state. */
double alloc_fw_share(const struct alloc_fw *fw);

/* Run-time changes of a role's weight (> 0) and quota (q[k] for the
 * scalars cpus, mem, disk, gpus in ar_names' order; all 0: none), as
 * the v1 API's UPDATE_WEIGHTS and UPDATE_QUOTA make them. 0,
 * AGORA_EINVAL or AGORA_ENOMEM. */
int alloc_set_weight(struct alloc *a, const char *role, double weight);
int alloc_set_quota(struct alloc *a, const char *role, const double *q);
/* 1 when role has a quota (some guarantee above 0). */
int alloc_has_quota(struct alloc *a, const char *role);
/* The weights set and the quotas, as v1's weight_infos and quota infos
 * arrays. */
void alloc_write_weights_v1(struct alloc *a, struct agora_jw *w);
void alloc_write_quota_v1(struct alloc *a, struct agora_jw *w);
/* v1's QuotaStatus.configs [{role, guarantees: {name: {value}}, limits}]
 * and Role list [{name, weight, frameworks: [{value}], resources}]. */
void alloc_write_quota_configs_v1(struct alloc *a, struct agora_jw *w);
void alloc_write_roles_v1(struct alloc *a, struct agora_jw *w);
/* Adds the resources of ag's outstanding offers to *sum. */
int alloc_agent_offered(const struct alloc_agent *ag,
                        struct agora_resources *sum);

/* Adds the resources of fw's outstanding offers to *sum (0 or
 * AGORA_ENOMEM), and writes them as Mesos' "offers" array. */
int alloc_fw_offered(const struct alloc_fw *fw, struct agora_resources *sum);
void alloc_fw_write_offers(const struct alloc_fw *fw, struct agora_jw *w);

/* The resources of an agent that are neither used by tasks nor offered,
 * pool by pool with their role, appended to *out (the caller frees it
 * with agora_resources_free). 0 or AGORA_ENOMEM. */
int alloc_agent_free_resources(const struct alloc_agent *ag,
                               struct agora_resources *out);

/* An agent's resources for /master/slaves: "total", "used", "offered"
 * or "free", as Mesos writes them ({"cpus": 4, "ports": "[..]"}). */
void alloc_agent_write(struct alloc_agent *ag, const char *which,
                       struct agora_jw *w);

/* Cluster scalars (cpus, mem, disk, gpus) of active agents. */
struct alloc_totals {
    double total[4], used[4], offered[4];
};
void alloc_get_totals(const struct alloc *a, struct alloc_totals *out);

#endif /* AGORA_ALLOC_H */
