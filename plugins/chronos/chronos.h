/*
 * chronos.h - chronos.so's runtime: jobs, their schedules, runs and the
 * dependency joins.
 *
 * State lives in memory, owned by the master's loop, and in the store:
 *
 *   jobs/<name>                 the job (chr_job JSON), its schedule
 *                               rewritten after each launch, its counters
 *   runs/<name>/<due>-<attempt> one run of one nominal instant: launched,
 *                               finished, failed, killed or skipped
 *   joins/<name>                a dependent job's parents that succeeded
 *                               since it last started (the AND-join)
 *
 * Exactly once per nominal instant (chronos-api.md §6 #1): a run's record
 * is written with AGORA_STORE_NEW before its task is launched, and the
 * task id is derived from (job, instant, attempt); a new leader that finds
 * a record reconciles its task instead of launching, and a launch of an
 * id the master already has is answered with its status (the SDK's
 * idempotent launches), never run twice.
 *
 * Due times wait in a binary heap; one SDK timer is armed for the
 * earliest, so an idle plugin with any number of jobs uses no CPU.
 */
#ifndef CHRONOS_H
#define CHRONOS_H

#include <stddef.h>
#include <stdint.h>

#include <agora/json.h>
#include <agora/plugin.h>
#include <agora/resources.h>
#include <agora/sdk.h>

#include "chr_job.h"
#include "chr_time.h"

#endif /* CHRONOS_H */
