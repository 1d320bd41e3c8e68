/*
 * master_policy.h - what the operator sets at run time and a new leader
 * must keep: role weights and quotas (master_policy.c), the maintenance
 * schedule and the machines that are down (master_maintenance.c).
 *
 * Each part is one key of the store's "_core" namespace, written whole
 * when it changes (one entry a role or machine: small) and read on
 * election. A change is answered once it is stored, as Mesos answers
 * once its registry holds it: a 200 is never lost by a failover.
 */
#ifndef AGORA_MASTER_POLICY_H
#define AGORA_MASTER_POLICY_H

#include <stddef.h>

#include <yajl/yajl_tree.h>

struct master;
struct agora_jw;
struct http_req;
struct router;
struct policy_save;
struct policy_read;
struct maint_machine;
struct maint_window;

enum policy_part {
    POLICY_WEIGHTS,
    POLICY_QUOTA,
    POLICY_MAINTENANCE,
    POLICY_PARTS
};

/* A member of struct master. */
struct master_policy {
    struct policy_save *saves;      /* writes waiting on the store      */
    struct policy_read *reads;      /* reads of an election, under way  */
    struct maint_window *windows;   /* the maintenance schedule         */
    size_t nwindows;
    struct maint_machine *down;     /* machines down                    */
    size_t ndown;
    unsigned gen;                   /* moves on when leadership ends     */
};

/* Reads every part from the store and applies it (on election). */
void policy_load(struct master *m);

/*
 * Stores part as it is now and answers req (deferred until then) with
 * 200 and body (may be NULL: empty), or 503 when it could not be stored.
 * req NULL: nothing to answer.
 */
void policy_save(struct master *m, enum policy_part part,
                 struct http_req *req, const char *content_type,
                 const char *body);

/* Answers every waiting change with 503 and forgets them (the master
 * stops leading or exits). */
void policy_stop(struct master *m);

/* Mounts Mesos' v0 /weights, /quota, /maintenance/schedule,
 * /maintenance/status, /machine/down and /machine/up (each under
 * /master/ and at the root). */
int policy_routes(struct master *m, struct router *r);

/* ---- master_maintenance.c ---- */

/* 1 when the machine of hostname/ip is down for maintenance: its agents
 * may not subscribe. */
int maint_is_down(struct master *m, const char *hostname, const char *ip);

/* The part's document to store, and reading it back (0, or -1 when it
 * does not parse: logged, ignored). */
char *maint_doc(struct master *m, size_t *len);
int maint_load(struct master *m, const char *doc);
void maint_free(struct master *m);

/*
 * The operations of the v0 endpoints and the v1 calls: a new schedule
 * ({"windows": [...]}), machines (an array of {"hostname", "ip"})
 * brought down or up. 0, or -1 with why (nothing changed). The caller
 * stores the result (policy_save(POLICY_MAINTENANCE)).
 */
int maint_set_schedule(struct master *m, yajl_val doc, const char **why);
int maint_down(struct master *m, yajl_val machines, const char **why);
int maint_up(struct master *m, yajl_val machines, const char **why);
/* The schedule, and Mesos' ClusterStatus, as one object into w. */
void maint_write_schedule(struct agora_jw *w, struct master *m);
void maint_write_status(struct agora_jw *w, struct master *m);

void maint_http_schedule(void *arg, struct http_req *req);
void maint_http_status(void *arg, struct http_req *req);
void maint_http_down(void *arg, struct http_req *req);
void maint_http_up(void *arg, struct http_req *req);

#endif /* AGORA_MASTER_POLICY_H */
