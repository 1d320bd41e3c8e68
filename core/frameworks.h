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

#include <ev.h>

#include <agora/plugin.h>

#include "map.h"

struct master;
struct plugin;
struct agora_jw;

struct agora_framework {
    char *id;
    char *name;
    char *role;
    char *principal;
    struct plugin *p;
    agora_offer_fn on_offer;
    agora_status_fn on_status;
    void *state;
    int suppressed;
    double registered_at;
    struct fw_answer *answers; /* reconciliation answers to deliver */
    ev_timer answer_timer;
};

struct frameworks {
    struct map by_id; /* id -> struct agora_framework */
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

struct agora_framework *framework_find(struct master *m, const char *id);

/*
 * Queues the current status of each task for fw->on_status, delivered
 * from the loop (never inside the call). n == 0 asks for every task.
 */
int framework_reconcile(struct master *m, struct agora_framework *fw,
                        const char *const *task_ids, size_t n);

/* Writes the frameworks as a JSON array into w. */
void frameworks_write(struct master *m, struct agora_jw *w);

void frameworks_free(struct master *m);

#endif /* AGORA_FRAMEWORKS_H */
