/*
 * marathon.h - marathon.so's runtime: apps, instances, deployments.
 *
 * The plugin keeps Marathon's state in memory, owned by the master's loop
 * (every callback of the SDK runs there), and in the store, one key per
 * app, app version, instance and deployment:
 *
 *   apps/<key>                 the app's current definition (mar_app JSON)
 *   versions/<key>/<version>   every version kept (at most max_versions)
 *   instances/<instance id>    one instance: app, version, agent, ports
 *   deployments/<id>           a running deployment: steps, originals
 *
 * where <key> is the app id without its leading '/', '/' written ':'
 * ("/prod/web" -> "prod:web"): app ids are [a-z0-9.-] segments, so the
 * mapping is one to one.
 *
 * The scheduler works by reconciliation, as Marathon's does: each app has
 * a target (its definition's instances and config version); whenever
 * something changes (an API call, a status update, a backoff expiring) the
 * app is marked dirty and one pass on a later turn of the loop launches,
 * kills and advances deployments until the instances match the target.
 *
 * What a restart relies on (a new leader, a reloaded plugin): the
 * store's apps, versions, deployments and groups, and of each instance
 * what cannot be learned again: its ids, app, version and config
 * version, agent and host, ports and stagedAt. Those are written when
 * the instance is launched (or adopted) and again only when one of them
 * changes; its record is deleted when the task ends. The live state
 * (STARTING, RUNNING, health, addresses, startedAt) is not written: the
 * new leader reconciles with the master before it acts, and the answers
 * bring it (startedAt then becomes the time of the task's latest status
 * update). So a task launched costs one write, and its end one delete.
 *
 * Files: marathon.c (descriptor, init, leadership), mar_state.c (tables,
 * store), mar_sched.c (offers, launches, status updates, backoff),
 * mar_deploy.c (deployment plans), mar_events.c (the SSE bus),
 * mar_json.c (AppInfo and Task documents), mar_http_*.c (routes),
 */
#ifndef MARATHON_H
#define MARATHON_H

#include <stddef.h>
#include <stdint.h>

#include <agora/json.h>
#include <agora/map.h>
#include <agora/pending.h>
#include <agora/plugin.h>
#include <agora/resources.h>
#include <agora/sdk.h>

#include "mar_app.h"
#include "mar_constraint.h"

/* ---- configuration (conf.d/marathon.conf) ---- */

struct mar_conf {
    int64_t max_versions;         /* versions kept per app (50)            */
    int64_t local_port_min;       /* service ports assigned from here      */
    int64_t local_port_max;
    double health_kill_rate;      /* unhealthy kills per second, at most   */
    double task_launch_timeout;   /* s a task may take to run (300)        */
    const char *framework_name;   /* shown in /v2/info                     */
    double offer_hold;            /* s an unused offer is kept in a burst  */
};

/* ---- instances ---- */

struct mar_rapp;

/* A time and its text as the API shows it ("" while t is 0): formatted
 * once when the time is set, not for every document that shows it (the
 * formatting was most of a GET /v2/apps?embed=apps.tasks). */
struct mar_stamp {
    double t;
    char text[32];
};

/* Sets st to t (0 = none) and formats it. */
void mar_stamp_set(struct mar_stamp *st, double t);

struct mar_inst {
    char *instance_id;       /* "<safe app id>.instance-<uuid>"            */
    char *task_id;           /* instance_id + "._app.1"                    */
    struct mar_rapp *app;
    char *version;           /* the app version it was launched with       */
    char *config_version;    /* that version's lastConfigChangeAt          */
    char *agent_id;
    char *host;
    char *ip;                /* the first IP address its status gave      */
    enum agora_task_state state;
    int healthy;             /* -1 unknown, 0, 1                           */
    int killing;             /* a kill was sent                            */
    double kill_at;          /* when it was last sent                      */
    int scale_kill;          /* killed to scale down: no replacement       */
    int health_kill;         /* killed as unhealthy                        */
    double unhealthy_since;  /* when its check began to fail, 0 = not     */
    double unreachable_since; /* when its agent became unreachable        */
    int inactive;            /* unreachable past inactiveAfterSeconds: it
                              * is replaced, though not forgotten         */
    struct mar_stamp staged, started; /* 0 = not yet                       */
    double launch_from;      /* task_launch_timeout counts from here: the
                              * launch, or the load that read it (its
                              * stored state may be older than the task's) */
    uint32_t *ports;         /* host ports, nports of them                 */
    size_t nports;
    struct mar_stamp first_success, last_success, last_failure; /* health */
    int consecutive_failures;
    char *last_failure_cause;
    /* Readiness (mar_ready.c): 1 ready or nothing to check, 0 not yet. */
    int ready;
    int ready_checked;       /* a check has answered (or failed)           */
    int ready_status;        /* its last HTTP status, 0 = none             */
    char *ready_ctype, *ready_body; /* its last response, when preserved  */
    double ready_next;       /* no check before this time                  */
    struct mar_probe *probe; /* the check in flight, or NULL               */
    unsigned counted;        /* MAR_C_* it adds to its app's counts now    */
    /* Its Task document as the API shows it, built when first asked for
     * and dropped (mar_inst_changed()) whenever it may change: a list of
     * 10,000 tasks copies these instead of formatting 10,000 instances
     * from memory scattered over the heap. NULL = not built. */
    char *doc;
    size_t doc_len;
};

/* What an instance counts toward in its app (struct mar_rapp's counts). */
enum {
    MAR_C_ALIVE = 1,         /* not terminal, not inactive: takes room     */
    MAR_C_ACTIVE = 2,        /* alive and not being killed                 */
    MAR_C_FRESH = 4,         /* active and on the current config           */
    MAR_C_STAGED = 8,        /* STAGING or STARTING (tasksStaged)          */
    MAR_C_RUNNING = 16,      /* RUNNING (tasksRunning)                     */
    MAR_C_HEALTHY = 32,      /* its check passes (tasksHealthy)            */
    MAR_C_UNHEALTHY = 64     /* its check fails (tasksUnhealthy)           */
};
#define MAR_C_KINDS 7

/* ---- apps ---- */

struct mar_deploy;

/* Why offers were not used for an app (the queue's reject summary). */
enum mar_reject {
    MAR_R_ROLE = 0,
    MAR_R_CONSTRAINT,
    MAR_R_CPUS,
    MAR_R_MEM,
    MAR_R_DISK,
    MAR_R_GPUS,
    MAR_R_PORTS,
    MAR_R_COUNT
};

struct mar_ready;
struct mar_probe;

struct mar_rapp {
    struct mar_app *def;     /* the current definition (owned)              */
    struct mar_ready *ready; /* def's readiness check, parsed, or NULL     */
    char *def_doc;           /* def's members as the API writes them, or
                              * NULL until asked for (mar_json.c)        */
    size_t def_doc_len;
    char *tasks_doc;         /* its "tasks" array, the same way; dropped
                              * when an instance changes, comes or goes */
    size_t tasks_doc_len;
    char *key;               /* store key segment ("prod:web")             */
    char *safe_id;           /* task id prefix ("prod_web")                */
    int64_t store_version;   /* of apps/<key>                              */
    /* One task's resources without ports, taken from res_role (NULL:
     * none yet), parsed once per definition (mar_sched.c). */
    struct agora_resources res;
    char *res_role;
    struct mar_envc *envc;   /* its tasks' environment from def alone    */
    /* Its versions in the store, when known (an app created here): the
     * trim after a save lists them only when there may be too many. */
    int versions_known;
    size_t nversions;
    struct mar_inst **inst;  /* live instances, launch order               */
    size_t ninst, capinst;
    /* Instances by what they count toward (MAR_C_*), kept as instances
     * change (mar_sched_count()) so that an offer does not walk them. */
    size_t nalive, nactive, nfresh;
    size_t nstaged, nrunning, nhealthy, nunhealthy;

    struct mar_deploy *deploy; /* the deployment holding the lock, or NULL */
    int restarting;          /* a RestartApplication action runs          */
    size_t restart_cap;      /* its maxCapacity, fixed when it began       */
    int stopping;            /* a StopApplication action runs             */
    int held;                /* its deployment step has not begun: it
                              * neither launches nor kills yet            */
    int dirty;               /* queued for a scheduler pass               */
    struct mar_rapp *next_dirty;

    double backoff;          /* current delay, 0 = none                    */
    double launch_after;     /* no launch before this time                 */
    double queued_since;     /* when it began to wait for offers, 0 = not */
    char *last_failure;      /* lastTaskFailure JSON, or NULL              */

    /* offers seen while it waited (GET /v2/queue) */
    uint64_t offers_processed, offers_unused;
    double last_unused_at, last_used_at;
    uint64_t reject_declined[MAR_R_COUNT], reject_processed[MAR_R_COUNT];
};

/* ---- deployments ---- */

enum mar_action_kind {
    MAR_A_START = 0,
    MAR_A_STOP,
    MAR_A_SCALE,
    MAR_A_RESTART
};

struct mar_action {
    enum mar_action_kind kind;
    char *app_id;
};

struct mar_step {
    struct mar_action *actions;
    size_t n;
};

struct mar_deploy {
    char *id;
    char *version;
    struct mar_step *steps;
    size_t nsteps;
    size_t current;          /* index of the running step                 */
    char **affected;         /* app ids                                    */
    size_t naffected;
    /* The definitions before (JSON text, or NULL: the app did not exist),
     * one per affected app, for rollback. */
    char **original;
    int64_t store_version;
    struct mar_deploy *next;
};

/* ---- SSE clients (mar_events.c) ---- */

struct mar_sse;

/* ---- puts gathered into transactions (mar_store.c) ---- */

struct mar_wop {
    char *key;
    size_t klen;
    uint64_t tail; /* its last eight bytes (mar_store.c) */
    char *value;
    size_t len;
    agora_store_fn cb;
    void *arg;
};

/* Called once the writes made before it are in the store (mar_store_after):
 * err 0, or the error of the transaction it waited for. */
typedef void (*mar_after_fn)(void *arg, int err);

struct mar_after {
    mar_after_fn fn;
    void *arg;
};

struct mar_wbatch {
    struct mar_wop ops[AGORA_STORE_TXN_MAX];
    size_t n;
    struct mar_after *after; /* run when these puts landed             */
    size_t nafter, after_cap;
    size_t bytes;              /* keys and values waiting                  */
    struct agora_timer *timer; /* sends them at the end of this pass       */
};

/* ---- the plugin ---- */

struct mar {
    struct agora_host *h;
    const struct agora_api *api;
    const struct mar_conf *conf;
    struct agora_framework *fw;
    int leading;
    int loaded;              /* the store has been read                    */
    int loading;             /* store reads outstanding                    */
    int load_failed;

    struct agora_map apps;     /* canonical id -> struct mar_rapp            */
    struct agora_map tasks;    /* task id -> struct mar_inst                 */
    struct agora_map agents;   /* agent id -> struct mar_agent (offers seen) */
    struct agora_map groups;   /* canonical id -> struct mar_group          */
    /* What the definitions imply, kept as they change (mar_index.c). */
    struct agora_map under;    /* group id -> apps under it (as a pointer) */
    size_t ndeps_apps;         /* apps that name dependencies              */
    uint32_t *svc_used;        /* service ports' holders, from local_port_min */
    size_t nsvc;
    struct mar_rapp **sorted;  /* every app by id (mar_state_apps_sorted) */
    size_t nsorted;
    int sorted_ok;             /* 0: an app came or went since it was made */
    struct mar_deploy *deploys;
    size_t ndeploys;

    struct mar_rapp *dirty;  /* apps queued for a pass                     */
    struct agora_timer *pass_timer;
    struct agora_timer *tick;
    int suppressed;
    int want_revive;         /* an app began to wait: clear the filters   */
    size_t nqueued;          /* apps with queued_since set                */
    double demand_at;        /* when an app last began to wait            */
    struct mar_held **held;  /* offers kept for apps still arriving       */
    size_t nheld, capheld;
    double health_kill_budget; /* kills allowed now (a token bucket)       */

    struct mar_wbatch wb;    /* puts waiting for the end of the pass       */
    uint64_t store_puts, store_txns; /* puts, and the transactions of two+ */
    struct mar_sse *sse;     /* SSE clients                                */
    struct agora_pending pend; /* callbacks in flight                      */
    struct agora_jw *jw;     /* scratch writer for events                  */
    struct agora_jw *jw_doc; /* scratch writer for cached documents        */
    uint64_t tasks_launched;
    uint64_t status_counts[AGORA_TASK_STATE_COUNT];
    uint64_t offers_in, offers_used, offers_declined, offers_held;
    double start_time;
    double elected_time;
    uint16_t next_service_port;
};

/* The offer attributes of an agent, cached for constraints. */
struct mar_agent {
    char *hostname;
    struct agora_kv *attrs;
    size_t nattrs;
};

/* ---- mar_store.c ---- */

/* Puts key (with AGORA_STORE_ANY) with the other puts of this pass of
 * the loop, in one transaction; cb(arg, err, NULL) once it landed. 0, or
 * an error and cb is not called. */
int mar_store_put(struct mar *m, const char *key, const void *value,
                  size_t len, agora_store_fn cb, void *arg);
/* Sends the waiting puts now: before any other store call of the plugin
 * (a delete, a read, a put not through mar_store_put), so that the
 * store sees the plugin's calls in the order it made them. */
void mar_store_flush(struct mar *m);
/* fn(arg, err) once every store write the plugin made so far has landed
 * (err 0) or failed: an answer that says a change was made waits for it.
 * Never called inside this call, nor after an unload (arg's owner frees
 * it then). 0, or an error and fn is not called. */
int mar_store_after(struct mar *m, mar_after_fn fn, void *arg);
void mar_store_fini(struct mar *m);

/* ---- mar_offers.c ---- */

struct mar_held;

/* Keeps an offer nothing can use now while apps are arriving (an app
 * began to wait within conf->offer_hold s): 0, or an error and the
 * caller declines it. */
int mar_offers_hold(struct mar *m, const struct agora_offer *o);
size_t mar_offers_n(const struct mar *m);
const struct agora_offer *mar_offers_at(const struct mar *m, size_t i);
/* Kept offer i was accepted (or its accept failed): forget it. The last
 * one takes its place. */
void mar_offers_spent(struct mar *m, size_t i);
/* Declines the kept offers past their time (all: every one). */
void mar_offers_expire(struct mar *m, double now, int all);
void mar_offers_rescind(struct mar *m, const char *offer_id);
void mar_offers_free(struct mar *m);

#define MAR_LOG(m, lvl, ...) (m)->api->log((m)->h, (lvl), __VA_ARGS__)

/* ---- mar_state.c ---- */

/* A new runtime app for def (taken), added to m->apps. NULL when out of
 * memory (def freed). */
struct mar_rapp *mar_state_app_add(struct mar *m, struct mar_app *def);
/* Removes an app without instances from memory and the store. */
void mar_state_app_remove(struct mar *m, struct mar_rapp *a);
struct mar_rapp *mar_state_app(struct mar *m, const char *id);
/* Every app, sorted by id, in *n; NULL when out of memory. Borrowed:
 * valid until an app is added or removed. */
struct mar_rapp *const *mar_state_apps_sorted(struct mar *m, size_t *n);
/* Drops what launches keep from a->def (a->res, a->envc): the
 * definition, or the role its resources came from, changed. */
void mar_state_app_res_drop(struct mar_rapp *a);
/* a->def was replaced: recounts its instances, drops their documents. */
void mar_state_app_redefined(struct mar_rapp *a);
/* Writes apps/<key> and versions/<key>/<version> for a->def. */
void mar_state_app_save(struct mar *m, struct mar_rapp *a);
/* A new instance of a (STAGING once launched); NULL when out of memory. */
struct mar_inst *mar_state_inst_new(struct mar *m, struct mar_rapp *a);
/* A random version 4 UUID's text into out (instances' and deployments'
 * ids), from a pool of getrandom() bytes; 0, or -1 when getrandom
 * fails. */
int mar_state_uuid4(char out[37]);
/* Writes instances/<id> (coalesced while a write is in flight); ack, when
 * not NULL, is acknowledged after the write lands. */
void mar_state_inst_save(struct mar *m, struct mar_inst *in,
                         const char *ack_task, const char *ack_uuid);
/* Adds a new instance to its app and the task table; 0 or AGORA_ENOMEM. */
int mar_state_inst_attach(struct mar *m, struct mar_inst *in);
/* Terminal: drops the instance from its app and the table, deletes its
 * key, then frees it. */
void mar_state_inst_remove(struct mar *m, struct mar_inst *in,
                           const char *ack_task, const char *ack_uuid);
/* Reads the whole store, then reconciles with the master's task table;
 * done(m) when finished. */
void mar_state_load(struct mar *m);
void mar_state_free(struct mar *m);
/* The store key segment of an app id, malloc'ed. */
char *mar_state_key(const char *id);
/* Writes / deletes a deployment record. */
void mar_state_deploy_save(struct mar *m, struct mar_deploy *d);
void mar_state_deploy_delete(struct mar *m, struct mar_deploy *d);
/* Keeps at most conf->max_versions versions of the app. */
void mar_state_versions_trim(struct mar *m, struct mar_rapp *a);
/* How many versions an app keeps (max_versions, at least 1). */
size_t mar_state_versions_kept(const struct mar *m);

/* ---- mar_sched.c ---- */

void mar_sched_dirty(struct mar *m, struct mar_rapp *a);
void mar_sched_on_offer(void *state, struct agora_framework *fw,
                        const struct agora_offer *offers, size_t n);
void mar_sched_on_status(void *state, struct agora_framework *fw,
                         const struct agora_status *st);
void mar_sched_on_rescind(void *state, struct agora_framework *fw,
                          const char *offer_id);
void mar_sched_kill(struct mar *m, struct mar_inst *in);
struct mar_envc;
/* Frees an app's cached task environment (NULL allowed). */
void mar_sched_envc_free(struct mar_envc *c);
/* Instances of a active (not terminal, not being killed). */
size_t mar_sched_active(const struct mar_rapp *a);
/* Updates in's app's counts after in changed (state, killing, inactive,
 * attached); gone = 1 takes it out of them (it is being removed). */
void mar_sched_count(struct mar_inst *in, int gone);
/* Counts every instance of a again (its current config changed). */
void mar_sched_count_app(struct mar_rapp *a);
/* How many tasks a still has to launch now (0 while backing off too). */
size_t mar_sched_wanted(struct mar *m, const struct mar_rapp *a);
/* An instance counts as healthy for deployments: running, and healthy
 * when the app has health checks. */
int mar_sched_inst_ok(const struct mar_rapp *a, const struct mar_inst *in);
/* 1 when in runs a with its current config. */
int mar_sched_inst_current(const struct mar_rapp *a,
                           const struct mar_inst *in);
/* A RestartApplication action begins for a: fixes its capacity (§3.2). */
void mar_sched_restart_begin(struct mar *m, struct mar_rapp *a);
/* Resets an app's backoff (new version, DELETE /v2/queue/…/delay). */
void mar_sched_backoff_reset(struct mar *m, struct mar_rapp *a);
void mar_sched_tick(void *arg, struct agora_timer *t);
/* Orders a's instances as scale-down victims and marks `k` of them for
 * killing (scale_kill), constraints kept balanced. */
void mar_sched_scale_down(struct mar *m, struct mar_rapp *a, size_t k);

/* ---- mar_ready.c: readiness checks ---- */

/* The first readiness check of d, parsed (free with mar_ready_free());
 * NULL when d has none (or out of memory). */
struct mar_ready *mar_ready_parse(const struct mar_app *d);
void mar_ready_free(struct mar_ready *r);
/* The readiness a new instance of a begins with (in->ready). */
int mar_ready_inst_new(const struct mar_rapp *a);
/* Checks in at once if it should be (it just began to run). */
void mar_ready_kick(struct mar *m, struct mar_inst *in);
/* Every second: checks the instances of apps in deployments that are
 * due. */
void mar_ready_tick(struct mar *m);
/* in goes: cancels its check in flight, frees its results. */
void mar_ready_forget(struct mar *m, struct mar_inst *in);
/* readinessCheckResults of a: [{name, taskId, ready, lastResponse}]. */
void mar_ready_write_results(struct agora_jw *w, const struct mar_rapp *a);

/* ---- mar_deploy.c ---- */

/* A deployment of one action on one app (original: the definition
 * before, JSON, or NULL). NULL when out of memory. */
struct mar_deploy *mar_deploy_new(struct mar *m, const char *version);
int mar_deploy_add_step(struct mar_deploy *d, enum mar_action_kind k,
                        const char *app_id, size_t level);
int mar_deploy_add_affected(struct mar_deploy *d, const char *app_id,
                            const char *original_json);
/* Starts d: takes the locks, persists, emits deployment_info, runs its
 * first step; returns 0 and d is owned by m from here. A plan without
 * steps (nothing changed) returns 1: the caller replies and frees it. */
int mar_deploy_start(struct mar *m, struct mar_deploy *d);
/* The deployments holding a lock on any of these apps. */
size_t mar_deploy_conflicts(struct mar *m, const char *const *app_ids,
                            size_t n, struct mar_deploy **out, size_t max);
/* Cancels d (force): releases its locks, emits deployment_failed, deletes
 * its record. */
void mar_deploy_cancel(struct mar *m, struct mar_deploy *d);
struct mar_deploy *mar_deploy_find(struct mar *m, const char *id);
/* Checks whether the current step of the app's deployment is done. */
void mar_deploy_progress(struct mar *m, struct mar_rapp *a);
void mar_deploy_write(struct mar *m, struct agora_jw *w,
                      const struct mar_deploy *d);
/* {"steps": [...]} of d. */
void mar_deploy_write_steps(struct agora_jw *w, const struct mar_deploy *d);
/* DeploymentInfo as GET /v2/deployments shows it (readiness results of
 * the current actions from m's apps). */
void mar_deploy_write_info(struct mar *m, struct agora_jw *w,
                           const struct mar_deploy *d);
void mar_deploy_write_plan(struct agora_jw *w, const struct mar_deploy *d);
const char *mar_action_name(enum mar_action_kind k);
void mar_deploy_free(struct mar_deploy *d);
/* Rebuilds a deployment from its stored JSON; NULL when invalid. */
struct mar_deploy *mar_deploy_parse(const char *json);
/* Applies each step's effect to its app when the step begins. */
void mar_deploy_begin_step(struct mar *m, struct mar_deploy *d);

/* One app's change: target NULL stops (removes) the app; restart forces
 * a RestartApplication even when the definition is the same. */
struct mar_change {
    const char *id;          /* canonical */
    struct mar_app *target;  /* taken (freed by mar_apply) */
    int restart;
};

/* ---- groups (mar_group.c) ---- */

/*
 * A group record: what a group has beyond its apps (dependencies, its
 * version). Groups without a record exist implicitly while apps are
 * under them; the root always exists. Kept as groups/<key> ("@root" for
 * the root); every version of a group changed through /v2/groups as
 * groupversions/<key>/<version> (the whole subtree, for rollback).
 */
struct mar_group {
    char *id;
    char **deps;             /* canonical ids of apps or groups */
    size_t ndeps;
    char *version;
};

struct mar_group *mar_group_get(struct mar *m, const char *id);
/* Sets (replacing) the record of id with these dependencies (copied);
 * saves it. 0 or AGORA_ENOMEM. */
int mar_group_set(struct mar *m, const char *id, char *const *deps,
                  size_t ndeps, const char *version);
/* Removes the records of id and every group under it. */
void mar_group_remove_tree(struct mar *m, const char *id);
/* 1 when id is a group: the root, a record, or an ancestor of an app. */
int mar_group_exists(struct mar *m, const char *id);
/* Reads groups/ from the store (part of loading). */
void mar_group_load(struct mar *m, void (*done)(struct mar *m));
void mar_group_free_all(struct mar *m);
/* The store key segment of a group id ("@root" for "/"). */
char *mar_group_key(const char *id);

/*
 * The dependency level of each change's app in the world after the
 * changes (apps, plus group records and `extra` ones not stored yet):
 * 0 for an app that depends on nothing, else one more than the highest
 * level among what it depends on (its own dependencies and its groups').
 * levels has room for n. Returns 0, AGORA_EINVAL for a cycle, or
 * AGORA_ENOMEM.
 */
int mar_group_levels(struct mar *m, const struct mar_change *c, size_t n,
                     const struct mar_group *extra, size_t nextra,
                     size_t *levels);

/* ---- mar_index.c: what the apps' definitions imply ---- */

/* Allocates the service port counts; 0 or AGORA_ENOMEM. */
int mar_index_init(struct mar *m);
void mar_index_free(struct mar *m);
/* An app enters m->apps: counts its ancestors, dependencies and service
 * ports. 0, or AGORA_ENOMEM with nothing counted. */
int mar_index_add(struct mar *m, const struct mar_app *d);
/* It leaves m->apps. */
void mar_index_del(struct mar *m, const struct mar_app *d);
/* The parts of a definition that can change under the same id: delta
 * +1 counts d, -1 takes it back (around a replacement). */
void mar_index_def(struct mar *m, const struct mar_app *d, int delta);
/* Apps under group (a canonical id, not the root). */
size_t mar_index_apps_under(const struct mar *m, const char *group);
/* 1 and *above (malloc'ed, the caller frees) when an ancestor of id is
 * an app; 0 when none is; AGORA_ENOMEM. */
int mar_index_app_above(struct mar *m, const char *id, char **above);
/* 1 when service port p is held by a definition other than old (the one
 * t replaces, or NULL), or by t itself. */
int mar_index_port_taken(const struct mar *m, const struct mar_app *old,
                         const struct mar_app *t, int64_t p);

/* ---- mar_apply.c: changes to apps become deployments ---- */


/*
 * Applies the changes as one deployment. When an app is locked by a
 * deployment and force is 0, nothing changes and AGORA_ESTATE returns with
 * the blocking deployments in locked (up to 16, *nlocked). Otherwise 0
 * and *out: the deployment (owned by m), or, when nothing changed, a
 * deployment without steps that the caller frees after replying
 * (*owned == 0). AGORA_EINVAL: the dependencies would form a cycle.
 * Every target is taken, whatever the result.
 */
int mar_apply(struct mar *m, struct mar_change *c, size_t n, int force,
              struct mar_deploy **out, int *owned,
              struct mar_deploy **locked, size_t *nlocked);
/* Writes {"steps": [...]}: the plan the changes would make, without
 * applying anything (PUT /v2/groups?dryRun=true). 0, AGORA_EINVAL (a
 * cycle) or AGORA_ENOMEM. */
int mar_apply_plan(struct mar *m, struct mar_change *c, size_t n,
                   struct agora_jw *w);
/* The current time as a version string. */
void mar_version_now(struct mar *m, char out[32]);

/* ---- mar_events.c ---- */

void mar_events_get(struct mar *m, struct agora_req *r);
/* Sends one event (json: an object text with eventType and timestamp)
 * to every client whose filter takes type. */
void mar_events_emit(struct mar *m, const char *type, const char *json);
/* A writer, reset, with "{" open and eventType/timestamp written; finish
 * with mar_events_end(). */
struct agora_jw *mar_events_begin(struct mar *m, const char *type);
/* 1 while a client listens: the writers of events on hot paths (status
 * updates, POSTs, deployments) build nothing when none does. */
int mar_events_on(const struct mar *m);
void mar_events_end(struct mar *m, const char *type);
void mar_events_free(struct mar *m);
/* remove_health_check_event for old's checks, add_health_check_event
 * for each of t's (mar_apply.c; either may be NULL). */
void mar_events_health_checks(struct mar *m, const struct mar_app *old,
                              const struct mar_app *t);
size_t mar_events_clients(const struct mar *m);

/* ---- mar_json.c ---- */

enum {
    MAR_EMBED_TASKS = 1,
    MAR_EMBED_COUNTS = 2,
    MAR_EMBED_DEPLOYMENTS = 4,
    MAR_EMBED_LAST_FAILURE = 8,
    MAR_EMBED_TASK_STATS = 16,
    MAR_EMBED_READINESS = 32
};

/* Writes a's AppInfo with what embed asks for; the definition's part
 * from its cache (a->def_doc) when built. */
void mar_json_app_info(struct mar *m, struct agora_jw *w,
                       struct mar_rapp *a, unsigned embed);
/* Writes in's Task document, from its cache when built (in->doc). */
void mar_json_task(struct mar *m, struct agora_jw *w, struct mar_inst *in);
/* Drops in's cached document (and its app's tasks array): call after
 * changing anything it shows (its fields, or its app's definition). */
void mar_inst_changed(struct mar_inst *in);
/* Drops a's cached tasks array: an instance came or went. */
void mar_app_tasks_changed(struct mar_rapp *a);
void mar_json_deployment_result(struct agora_jw *w, const struct mar_deploy *d);
/* Answers r with w (status, and the Location and Marathon-Deployment-Id
 * headers when not NULL) once the plugin's store writes so far landed
 * (mar_store_after()), or 503 if they failed. */
void mar_reply_stored(struct mar *m, struct agora_req *r, int status,
                      const char *loc, const char *dep_id, struct agora_jw *w);
/* Replies {"message": msg}. */
void mar_reply_msg(struct mar *m, struct agora_req *r, int status,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void mar_reply_errs(struct mar *m, struct agora_req *r,
                    const struct mar_errs *e);
void mar_reply_jw(struct mar *m, struct agora_req *r, int status,
                  struct agora_jw *w);
/* A deployment's result: the Marathon-Deployment-Id header and body,
 * once stored (mar_reply_stored()). */
void mar_reply_deployment(struct mar *m, struct agora_req *r, int status,
                          const struct mar_deploy *d);
/* 422: the dependencies would form a cycle. */
void mar_reply_cycle(struct mar *m, struct agora_req *r);
/* How mar_apply_reply() answers success. */
enum mar_answer {
    MAR_ANSWER_RESULT = 0,   /* 200 DeploymentResult                      */
    MAR_ANSWER_APP_CREATED,  /* 201 + Location + the one app's AppInfo    */
    MAR_ANSWER_RESULT_CREATED /* 201 DeploymentResult                     */
};

/* Applies the changes (mar_apply) and replies as `how` says, with the
 * Marathon-Deployment-Id header; 409 when locked, 422 for a dependency
 * cycle. */
void mar_apply_reply(struct mar *m, struct agora_req *r,
                     struct mar_change *c, size_t n, int force,
                     enum mar_answer how);
/* 409 "App is locked by one or more deployments…" */
void mar_reply_locked(struct mar *m, struct agora_req *r,
                      struct mar_deploy *const *d, size_t n);
/* 1 when the query argument is "true" (or "" / "1"), 0 when absent or
 * "false"; dflt when absent. */
int mar_query_bool(struct mar *m, struct agora_req *r, const char *name,
                   int dflt);
double mar_now(struct mar *m);
/* The task state as Marathon's instance condition ("Running"). */
const char *mar_condition(enum agora_task_state s);

/* ---- mar_http_*.c ---- */

extern const struct agora_route mar_routes[];
/* 1 when the plugin can serve; else it has replied 503. */
int mar_http_ready(struct mar *m, struct agora_req *r);
/* Parses the body as JSON; replies 400 and returns NULL on failure. */
yajl_val mar_http_body(struct mar *m, struct agora_req *r);
/* The app id of the route's *id parameter, canonical; NULL after a 4xx
 * reply. */
char *mar_http_app_id(struct mar *m, struct agora_req *r);

/* Kills the chosen instances of a (mar_http_apps.c): with scale, as a
 * deployment lowering `instances` by their number, else they are
 * replaced; replies with the deployment or the killed tasks. */
void mar_kill_tasks(struct mar *m, struct agora_req *r, struct mar_rapp *a,
                    struct mar_inst **v, size_t n, int scale, int force,
                    int single);
/* Replies with the text/plain task list of every app. */
void mar_tasks_plain(struct mar *m, struct agora_req *r);

/* Route handlers (mar_http_apps.c, mar_http.c). */
void mar_h_apps_list(void *st, struct agora_req *r);
void mar_h_apps_create(void *st, struct agora_req *r);
void mar_h_apps_put_many(void *st, struct agora_req *r);
void mar_h_apps_patch_many(void *st, struct agora_req *r);
void mar_h_app_get(void *st, struct agora_req *r);
void mar_h_app_put(void *st, struct agora_req *r);
void mar_h_app_patch(void *st, struct agora_req *r);
void mar_h_app_delete(void *st, struct agora_req *r);
void mar_h_app_restart(void *st, struct agora_req *r);
void mar_h_app_tasks(void *st, struct agora_req *r);
void mar_h_app_tasks_kill(void *st, struct agora_req *r);
void mar_h_app_task_get(void *st, struct agora_req *r);
void mar_h_app_task_kill(void *st, struct agora_req *r);
void mar_h_app_versions(void *st, struct agora_req *r);
void mar_h_app_version(void *st, struct agora_req *r);
void mar_h_groups_get(void *st, struct agora_req *r);
void mar_h_groups_create(void *st, struct agora_req *r);
void mar_h_groups_put(void *st, struct agora_req *r);
void mar_h_groups_delete(void *st, struct agora_req *r);
void mar_h_groups_versions(void *st, struct agora_req *r);
void mar_h_groups_version(void *st, struct agora_req *r);
void mar_h_groups_version_put(void *st, struct agora_req *r);
void mar_h_tasks(void *st, struct agora_req *r);
void mar_h_tasks_delete(void *st, struct agora_req *r);
void mar_h_deployments(void *st, struct agora_req *r);
void mar_h_deployment_delete(void *st, struct agora_req *r);
void mar_h_queue(void *st, struct agora_req *r);
void mar_h_queue_delay(void *st, struct agora_req *r);
void mar_h_events(void *st, struct agora_req *r);
void mar_h_info(void *st, struct agora_req *r);
void mar_h_leader(void *st, struct agora_req *r);
void mar_h_leader_delete(void *st, struct agora_req *r);
void mar_h_ping(void *st, struct agora_req *r);
void mar_h_metrics(void *st, struct agora_req *r);
void mar_h_metrics_prometheus(void *st, struct agora_req *r);

#endif /* MARATHON_H */
