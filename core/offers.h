/*
 * offers.h - the allocator's offers as frameworks see them: created with
 * the master's flags, sent to frameworks' on_offer, rescinded, and
 * accepted through the services table (which launches tasks).
 */
#ifndef AGORA_OFFERS_H
#define AGORA_OFFERS_H

#include <stddef.h>

#include <agora/plugin.h>

struct master;

/* Creates the allocator from the flags (weights, quota, interval, offer
 * timeout) into m->alloc. 0 or an agora_err, logged. */
int offers_start(struct master *m);

/*
 * The services table's accept: launches tasks of fw on the offer's
 * agent with resources placed from the offer; the rest goes back to the
 * allocator. tasks are borrowed for the call. Returns 0, AGORA_EINVAL
 * for bad arguments, AGORA_ENOMEM, or AGORA_ENOENT when the offer is no
 * longer valid (each task then hears TASK_DROPPED); a spec that can
 * never run is refused alone (TASK_ERROR). Statuses go out from the loop.
 */
int offers_accept(struct master *m, struct agora_framework *fw,
                  const char *offer_id, const struct agora_task_spec *tasks,
                  size_t n);

#endif /* AGORA_OFFERS_H */
