/*
 * leader.h - which master leads.
 *
 * standalone: this master always leads (one master, no ZooKeeper).
 * zk: each master creates an ephemeral sequential znode
 *     <root>/leader/member_NNNNNNNNNN holding its info as JSON; the lowest
 *     leads; each contender watches its predecessor (no herd effect) and
 *     the leader's znode (to know where to redirect). A leader whose
 *     session expires, or whose link stays down until the server may
 *     expire it (a session timeout after it last heard from us), stops
 *     leading at once and contends again.
 *
 * Leadership changes are reported on the loop, never inside a call.
 */
#ifndef AGORA_LEADER_H
#define AGORA_LEADER_H

struct ev_loop;
struct leader;
struct zk;

typedef void (*leader_fn)(void *arg, int leading);

/* Always leading; reports leading = 1 soon after. */
int leader_open_standalone(struct ev_loop *loop, leader_fn cb, void *arg,
                           struct leader **out);

/*
 * Contends through ZooKeeper session z (borrowed; it must outlive the
 * leader until leader_free) under root, with my_info (JSON, copied) as
 * its znode's data.
 */
int leader_open_zk(struct ev_loop *loop, struct zk *z, const char *root,
                   const char *my_info, leader_fn cb, void *arg,
                   struct leader **out);

int leader_leading(const struct leader *l);

/*
 * The fence of this master's term, for store_term_begin(): with
 * ZooKeeper, the path of its election znode ("<root>/leader/member_N",
 * which goes with its session or its abdication), malloc'ed in *out for
 * the caller to free; standalone, or without a znode, NULL. 0 or
 * AGORA_ENOMEM.
 */
int leader_fence(const struct leader *l, char **out);

/*
 * Gives up the lead (Marathon's DELETE /v2/leader): the callback hears
 * "not leading" before this returns; with ZooKeeper the master's znode
 * is deleted and it contends again behind the others, so the next in
 * line leads (or this master again when it is the only one); alone, it
 * leads again on a later turn. 0, or AGORA_ENOTLEADER.
 */
int leader_abdicate(struct leader *l);

/* The leading master's info (JSON, borrowed until the next change), or
 * NULL when no leader is known. */
const char *leader_current(const struct leader *l);

/* fn(arg) runs on the loop each time leader_current() changes: another
 * term began (a new leading znode, maybe of the same master). */
void leader_on_change(struct leader *l, void (*fn)(void *arg), void *arg);

/* A ZooKeeper session event, passed on by the session's owner. */
void leader_zk_state(struct leader *l, int zk_state);

/* No more reports after this; then close the session, then free. */
void leader_stop(struct leader *l);
void leader_free(struct leader *l);

#endif /* AGORA_LEADER_H */
