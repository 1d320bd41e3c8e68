/*
 * leader_watch.h - the agent's view of the masters' ZooKeeper election
 * (--master=zk://host1:2181,host2:2181/agora).
 *
 * Masters contend under <root>/leader: each holds an ephemeral
 * sequential znode member_NNNNNNNNNN whose data is JSON {"id",
 * "hostname", "ip", "port", ...} (core/leader.h); the lowest sequence
 * number leads. The watcher reads the members, fetches the lowest one's
 * data and watches that znode (its deletion or change means a new
 * leader); when there is no member, or no <root>/leader yet, it watches
 * for one to appear. A new member never comes before the lowest (the
 * sequence only grows), so joins wake nobody: no herd effect.
 *
 * ZooKeeper being down is not an error: libzookeeper keeps trying, and
 * the watcher looks again whenever a session (re)connects. Until then,
 * and while the session is merely disconnected or being re-made after
 * it expired, the last leader known stays the answer. ZooKeeper's
 * threads never touch the watcher: each answer is copied into a message
 * run on the loop (zk.h).
 */
#ifndef AGORA_AGENT_LEADER_WATCH_H
#define AGORA_AGENT_LEADER_WATCH_H

#include <stddef.h>

struct ev_loop;
struct leader_watch;

/* Session timeout asked of ZooKeeper (seconds), as Mesos' default. */
#define LEADER_WATCH_SESSION_TIMEOUT 10.0
/* Largest leader znode data read (bytes); a larger one is unusable. */
#define LEADER_WATCH_DATA_MAX (64u * 1024)

/*
 * The leader changed: master is its "host:port" (an IPv6 address in
 * brackets), borrowed for the call, or NULL when ZooKeeper shows no
 * usable leader (no member, or the lowest one's data does not say where
 * it listens). Runs on the loop, never inside a leader_watch_ call.
 * Reported when the address changes, and when the leading znode does
 * (a new term, maybe of the same master): an unchanged answer is not
 * reported again.
 */
typedef void (*leader_watch_fn)(void *arg, const char *master);

/*
 * Starts watching the election at url ("zk://hosts/root"): opens a
 * ZooKeeper session on loop; reports go to cb(arg, ...). Returns 0 with
 * the watcher in *out, AGORA_EINVAL when url is not such a URL (a reason
 * in err), AGORA_ENOMEM, or zk_open's error.
 */
int leader_watch_open(struct ev_loop *loop, const char *url, leader_watch_fn cb,
                      void *arg, struct leader_watch **out, char *err,
                      size_t errlen);

/* The leader's "host:port", or NULL when none is known. Borrowed: valid
 * until the next report. */
const char *leader_watch_current(const struct leader_watch *w);

/* Stops reporting, closes the session (blocks as long as libzookeeper
 * takes to close: at shutdown only) and frees w. NULL is a no-op. */
void leader_watch_close(struct leader_watch *w);

#endif /* AGORA_AGENT_LEADER_WATCH_H */
