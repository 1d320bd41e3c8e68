/*
 * task_image.h - the agent's side of container images (docs/containers.md
 * §2): which image a task's `container` names, and the image store's
 * upkeep. Pulls run in agora-fetcher (task_fetch.c puts the image in its
 * job); the store's garbage collection runs as `agora-fetcher --gc`, a
 * child the loop watches, once at start (emptying images/tmp) and every
 * --image_gc_interval after. The loop itself never walks the store.
 */
#ifndef AGORA_AGENT_TASK_IMAGE_H
#define AGORA_AGENT_TASK_IMAGE_H

#include <yajl/yajl_tree.h>

struct agent;

/* The image store's upkeep (one an agent, in struct agent). */
struct agent_images;

/*
 * The image the task spec's `container` names, borrowed from spec:
 * Marathon's container.docker.image (types DOCKER and MESOS) or
 * Chronos' container.image; *force from docker.forcePullImage or
 * container.forcePullImage. NULL when it names none.
 */
const char *agent_image_of(yajl_val spec, int *force);

/* <work_dir>/images, malloc'ed, or NULL. */
char *agent_image_store(const struct agent *a);

/* Starts the collector's timer; its first run empties images/tmp. */
void agent_image_start(struct agent *a);

/* Stops the timer and kills a running collector. */
void agent_image_fini(struct agent *a);

#endif /* AGORA_AGENT_TASK_IMAGE_H */
