/*
 * clock.h - the loop's time, as every part of the master reads it.
 *
 * A static inline rather than a function of master.c, so that the layers
 * below master.c (agents, frameworks, tasks, plugins) read the time
 * without a call up into the file that starts them.
 */
#ifndef AGORA_CLOCK_H
#define AGORA_CLOCK_H

#include <ev.h>

#include "master.h"

/* The loop's wall clock, seconds since the epoch: the time the current
 * loop iteration began (ev_now), the same for every event it handles. */
static inline double master_now(const struct master *m)
{
    return ev_now(m->loop);
}

#endif /* AGORA_CLOCK_H */
