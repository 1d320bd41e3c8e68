/*
 * agent_proto.h - the agent protocol's master side (docs/agent-protocol.md),
 * as agent/link.c is the agent's.
 *
 * POST /api/agent/subscribe registers an agent (agents.h keeps the
 * record) and opens its event stream; the tasks it reports are handed to
 * the task table. POST /api/agent/updates applies its status updates to
 * the task table and acknowledges, on the stream, those the frameworks
 * have seen. The registry's hooks, given at agents_start(), bring back
 * up here what it finds by itself (an agent gone silent, the end of the
 * recovery after an election), and this layer tells tasks.c.
 *
 * It sits above tasks.c and agents.c and calls both; neither calls it.
 */
#ifndef AGORA_AGENT_PROTO_H
#define AGORA_AGENT_PROTO_H

struct master;
struct http_req;

/*
 * Starts the agent registry (agents_start) with this layer's hooks: an
 * unreachable agent's live tasks go TASK_UNREACHABLE, the end of the
 * recovery sends the reconciliation answers held. Returns 0 or
 * AGORA_EINVAL for bad ping flags (logged).
 */
int agent_proto_start(struct master *m);

/*
 * Route handlers, arg the struct master (master_http.c mounts them).
 * Each answers req or keeps it as the agent's event stream; the JSON body
 * is parsed and freed within the call.
 */
void agent_proto_http_subscribe(void *arg, struct http_req *req);
void agent_proto_http_updates(void *arg, struct http_req *req);

#endif /* AGORA_AGENT_PROTO_H */
