/*
 * frameworks.h - the frameworks registered by plugins.
 *
 * A framework is what receives offers and task status. Its identity is
 * its id, "<plugin>" for a plugin's default framework and
 * "<plugin>.<name>" for the others, so a reloaded plugin finds its
 * frameworks, and their tasks, under the same ids.
 */
#ifndef AGORA_FRAMEWORKS_H
#define AGORA_FRAMEWORKS_H

#include <stdint.h>

#include <ev.h>

#include <agora/plugin.h>

#include "map.h"

struct master;
struct plugin;
struct agora_jw;
struct alloc_fw;

struct agora_framework {
    char *id;
    char *name;
    char *role;
    char *principal;
    struct plugin *p;
    agora_offer_fn on_offer;
    agora_status_fn on_status;
    agora_rescind_fn on_rescind;
    void *state;
    int suppressed;
    struct alloc_fw *alloc;        /* its account in the allocator       */
    double registered_at;
    struct fw_pending *pending; /* master statuses to deliver          */
    struct fw_pending **pending_tail;
    ev_timer pending_timer;
    /* Explicit acknowledgements (opt-in): agents' updates delivered to
     * on_status and not acknowledged to their agent yet. */
    int explicit_acks;
    struct map unacked;            /* uuid -> struct fw_unacked          */
};

/*
 * An agent's update delivered to an explicit-acks framework that its
 * agent has not heard acknowledged. `acked`: the plugin acknowledged it
 * while the agent was away; the agent hears it when it re-sends it.
 */
struct fw_unacked {
    char *task_id;
    char *agent_id;
    int acked;
    char uuid[];
};

/* Frameworks no longer registered, as /master/state lists them. */
#define FRAMEWORKS_COMPLETED_MAX 50 /* Mesos' --max_completed_frameworks */

struct fw_gone {
    char *id, *name, *role, *pid;
    double registered, unregistered;
};

struct frameworks {
    struct map by_id; /* id -> struct agora_framework */
    struct map first_registered; /* id -> double: across reloads */
    struct fw_gone gone[FRAMEWORKS_COMPLETED_MAX]; /* oldest first */
    size_t ngone;
    char user[64]; /* the process's user name, once looked up */
    uint64_t unacked; /* entries of every framework's unacked map */
    /* Ids of frameworks whose last generation turned explicit acks on
     * (kept past an unload: their re-sent updates wait for the next). */
    struct map explicit_ids;
};

/*
 * Registers a framework of p. Returns 0 with *out, AGORA_EEXIST when the
 * id is taken, AGORA_EINVAL for a bad name.
 */
int framework_add(struct master *m, struct plugin *p,
                  const struct agora_framework_spec *spec, int is_default,
                  struct agora_framework **out);

/* Unregisters fw (its tasks stay: they belong to the id). */
void framework_remove(struct master *m, struct agora_framework *fw);

/* The framework of that id, or NULL. Owned by the registry: valid until
 * framework_remove() or frameworks_free(). */
struct agora_framework *framework_find(struct master *m, const char *id);

/*
 * Queues a status the master itself generates (a launch refused, a
 * reconciliation answer) for fw->on_status; st is copied. Delivered soon
 * from the loop, so never inside the plugin call that caused it.
 */
int framework_post_status(struct master *m, struct agora_framework *fw,
                          const struct agora_status *st);

/* Calls fw->on_status now (for updates that come from agents). */
void framework_deliver(struct agora_framework *fw,
                       const struct agora_status *st);

/*
 * The update uuid fw waits on, or NULL. Owned by fw: valid until
 * framework_unacked_remove() of that uuid, framework_unacked_clear() or
 * the framework's removal.
 */
struct fw_unacked *framework_unacked_find(struct agora_framework *fw,
                                          const char *uuid);

/*
 * Records that fw waits on update uuid of task_id, from agent_id (all
 * copied). An entry already there is kept as it is. 0, or AGORA_ENOMEM.
 */
int framework_unacked_add(struct master *m, struct agora_framework *fw,
                          const char *uuid, const char *task_id,
                          const char *agent_id);

/* Forgets one entry (a no-op for an unknown uuid). */
void framework_unacked_remove(struct master *m, struct agora_framework *fw,
                              const char *uuid);

/*
 * Turns explicit acknowledgements on or off for fw, and remembers it for
 * fw's id past its removal (framework_explicit_id). 0 or AGORA_ENOMEM.
 */
int framework_set_explicit(struct master *m, struct agora_framework *fw,
                           int on);

/* 1 when the framework of that id, registered or not, last had explicit
 * acknowledgements on in this master's life. */
int framework_explicit_id(struct master *m, const char *id);

/* Forgets every entry of fw (explicit acks turned off, or fw removed). */
void framework_unacked_clear(struct master *m, struct agora_framework *fw);

/* Writes more keys into fw's object (borrowed for the call). */
typedef void (*frameworks_write_fn)(void *arg, struct agora_jw *w,
                                    const struct agora_framework *fw);

/*
 * Writes the frameworks as a JSON array into w. extra, when not NULL, is
 * called with arg inside each framework's object, after its own keys:
 * the layer that knows the tasks adds them there (master_http.c).
 */
void frameworks_write(struct master *m, struct agora_jw *w,
                      frameworks_write_fn extra, void *arg);

/* Frees every framework and its queued statuses (at exit). */
void frameworks_free(struct master *m);

/* ---- Mesos' model (frameworks_mesos.c) ---- */

/* Called by framework_add() and framework_remove(). */
void frameworks_mesos_registered(struct master *m, struct agora_framework *fw);
void frameworks_mesos_removed(struct master *m, struct agora_framework *fw);
void frameworks_mesos_free(struct master *m);
/* fw's Mesos "pid" (web 0: "<plugin>@<ip>:<port>") or "webui_url" (web
 * 1): where the plugin's routes are served, into buf. */
void frameworks_address(struct master *m, const struct agora_framework *fw,
                        int web, char *buf, size_t len);
/* "capabilities": what agora does of Mesos' framework capabilities. */
void frameworks_write_capabilities(struct agora_jw *w);
/* When fw's id first registered with this master (a reload keeps it). */
double frameworks_first_registered(struct master *m,
                                   const struct agora_framework *fw);

/*
 * The keys of Mesos' Summary<Framework> into the open object of w, with
 * fw's used and offered resources added to *used and *offered (the
 * caller frees them).
 */
void frameworks_write_summary(struct master *m, struct agora_jw *w,
                              const struct agora_framework *fw,
                              struct agora_resources *used,
                              struct agora_resources *offered);
/* fw as one object of /master/state's "frameworks"; tasks(arg, w, fw)
 * writes its task lists. */
void frameworks_write_full(struct master *m, struct agora_jw *w,
                           const struct agora_framework *fw,
                           frameworks_write_fn tasks, void *arg);
/* The array of "completed_frameworks", newest first. */
void frameworks_write_completed(struct master *m, struct agora_jw *w);

#endif /* AGORA_FRAMEWORKS_H */
