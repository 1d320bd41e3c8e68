/*
 * master_ui.h - the master's web UI (core/ui/, embedded at build time)
 * and the proxy it reads agents' sandboxes through.
 *
 *   GET /, /ui, /ui/...      the UI's files, by <agora/static.h>'s rules
 *                            (ETag and 304, gzip, CSP; index.html for the
 *                            page's own routes), the SDK's code shared
 *   GET /agents/<agent_id>/files/{browse,read,download}?path=...
 *                            the agent's /files answer, passed through
 *
 * A browser then needs only the master's address: Mesos' UI asks each
 * agent directly, which fails whenever the agents' addresses are not
 * reachable from the operator's desk. The agent alone decides which
 * paths may be read (its sandboxes); the master adds no rule of its own
 * but refuses a request without a path (400). The agent's answer is
 * held in memory up to MASTER_UI_PROXY_MAX bytes (more: 502), at most
 * MASTER_UI_PROXIES at once (more: 503), never blocking the loop.
 */
#ifndef AGORA_MASTER_UI_H
#define AGORA_MASTER_UI_H

#include <stddef.h>

struct master;
struct router;

#define MASTER_UI_PROXY_MAX ((size_t)8 * 1024 * 1024)
#define MASTER_UI_PROXIES 32
/* Seconds an agent has to answer a /files request, all of it. */
#define MASTER_UI_PROXY_TIMEOUT 30.0

/* Adds the UI's and the proxy's routes to r. 0 or an agora_err. */
int master_ui_routes(struct master *m, struct router *r);

/* Frees the proxy's client, after the HTTP server stopped (which ended
 * every proxied request). */
void master_ui_close(struct master *m);

#endif /* AGORA_MASTER_UI_H */
