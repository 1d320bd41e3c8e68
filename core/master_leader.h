/*
 * master_leader.h - the master's state and leadership: the store (local,
 * or ZooKeeper's with --zk, and its session) and the election. Elected,
 * the master reads the agent registry and starts its plugins; deposed,
 * it forgets agents and tasks and finishes its plugins. standby.h is the
 * rest of leadership: what a master that does not lead does with
 * requests; this file drives it, never the other way.
 */
#ifndef AGORA_MASTER_LEADER_H
#define AGORA_MASTER_LEADER_H

struct master;

/* Opens the store: local, or ZooKeeper's with --zk (and its session).
 * 0 or an agora_err, logged; m->store is set until master_state_close. */
int master_state_open(struct master *m);

/* Starts contending, after the plugins are loaded (standalone: leads at
 * once, reported soon). 0 or an agora_err. */
int master_leader_start(struct master *m);

/*
 * Gives up the lead on a later turn of the loop (plugins are deposed and
 * finished then, so a plugin may ask from its own handler); with ZooKeeper
 * the next contender is elected, alone this master again. 0, or
 * AGORA_ENOTLEADER when it does not lead.
 */
int master_leader_abdicate(struct master *m);

/* Stops the election, closes the store and the ZooKeeper session. The
 * plugins must be unloaded first: their fini may still write. */
void master_state_close(struct master *m);

#endif /* AGORA_MASTER_LEADER_H */
