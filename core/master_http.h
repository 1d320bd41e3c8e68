/*
 * master_http.h - the master's own endpoints (/health, /master/state,
 * /metrics/snapshot, ...: master_http.c lists them), and the agent
 * protocol's and the registries' routes, in one table.
 */
#ifndef AGORA_MASTER_HTTP_H
#define AGORA_MASTER_HTTP_H

struct master;
struct router;

/* Adds the core's routes to r, each with m as its arg. 0 or
 * AGORA_ENOMEM (r then holds those added so far: free it). */
int master_http_routes(struct master *m, struct router *r);

/* The /metrics/snapshot object (also GET_METRICS of the v1 API). */
struct agora_jw;
void master_write_metrics(struct master *m, struct agora_jw *w);

#endif /* AGORA_MASTER_HTTP_H */
