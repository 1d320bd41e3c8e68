/*
 * link.h - the agent's connection to the master (docs/agent-protocol.md).
 *
 * One long-lived POST /api/agent/subscribe whose response is a stream of
 * NDJSON events (subscribed, launch, kill, ack, ping, shutdown). The
 * link follows a non-leading master's 307 to the leader, watches for
 * missing pings, and subscribes again with jittered exponential backoff
 * (1 s doubling to --registration_backoff_max), trying the next master of
 * --master each time. With --master=zk://hosts/path it follows the
 * masters' ZooKeeper election instead (leader_watch.h): it subscribes to
 * the leader, waits while none is known, and moves to a new leader as
 * soon as ZooKeeper shows it. Status updates and pongs go through
 * updates.c.
 */
#ifndef AGORA_AGENT_LINK_H
#define AGORA_AGENT_LINK_H

#include <stddef.h>

struct agent;

/* Longest event line accepted; a longer one drops the connection. */
#define LINK_LINE_MAX (4u * 1024 * 1024)
/* Time allowed for the `subscribed` event after connecting. */
#define LINK_SUBSCRIBE_TIMEOUT 30.0
/* Defaults when `subscribed` does not carry them. */
#define LINK_PING_INTERVAL 15.0
#define LINK_PING_MISSES 5

/*
 * Splits --master into "host:port" entries (malloc'ed array of malloc'ed
 * strings; free with link_masters_free). "zk://..." is no list: it is
 * AGORA_EINVAL here (link_init() follows it through ZooKeeper), as are an
 * empty entry and one without a port. A reason goes to err.
 */
int link_parse_masters(const char *spec, char ***out, size_t *n, char *err,
                       size_t errlen);
void link_masters_free(char **v, size_t n);

/* Validates --master and prepares the link (a->link); with zk:// opens
 * the ZooKeeper session (ZooKeeper down is no error: it is retried).
 * 0 or an agora_err with the reason logged. */
int link_init(struct agent *a);

/* Starts subscribing (on the loop, right away). */
void link_start(struct agent *a);

/* Drops the connection and frees a->link. NULL link is a no-op. */
void link_stop(struct agent *a);

/* "http://host:port" of the master this agent is subscribed to, or NULL
 * while it is not. Borrowed: valid until the link drops. */
const char *link_master_url(const struct agent *a);

/* The session token of the current subscription (its `subscribed`
 * event's), which updates carry; NULL while not subscribed. */
const char *link_session(const struct agent *a);

/* 1 while subscribed (the `subscribed` event arrived on a live stream). */
int link_subscribed(const struct agent *a);

#endif /* AGORA_AGENT_LINK_H */
