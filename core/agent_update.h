/*
 * agent_update.h - the body of POST /api/agent/updates, read in one pass
 * (docs/agent-protocol.md, "Status updates").
 *
 * The agents' updates are most of what the master parses (about 12 to
 * 37 updates a POST, one POST every few ms in a burst): a yajl tree
 * allocated every node, key and number of them and freed each again.
 * This reads the body with yajl's callback parser into flat records
 * instead, keeping only the members the master uses; everything else
 * is skipped without being stored. Plain JSON, what agents send, is
 * fed to the same callbacks by json_scan() without yajl's lexer.
 *
 * It reads what agora_json_parse() and the agora_json_* getters read
 * from the tree, member for member: the first of a key given twice
 * wins (whatever its type), a null or a member of another type is
 * absent, a string is cut at an escaped NUL, integers are taken as
 * agora_json_int() takes them (a double with an integral value too).
 * Refused as the tree refuses: invalid JSON, nesting deeper than
 * AGORA_JSON_MAX_DEPTH, a lone UTF-16 surrogate escape (comments are
 * allowed, as yajl_tree_parse allows them).
 *
 * Memory: the strings kept are copied into one block the size of the
 * body (a string's copy is never longer than its text with quotes), the
 * records into one array grown by doubling (one record an element of
 * "updates", so at most one per two bytes of body); the body's size is
 * bounded by the HTTP server. Nothing recurses.
 */
#ifndef AGORA_AGENT_UPDATE_H
#define AGORA_AGENT_UPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "tasks.h" /* TASK_IPS_MAX */

/* One element of "updates". Every pointer is NULL when the member is
 * missing, null or not a string; an element that is not an object has
 * them all NULL (the caller drops it as malformed). */
struct agent_update {
    const char *uuid;
    const char *task_id;
    const char *framework_id;
    const char *state;
    const char *reason;
    const char *message;
    const char *health_output;
    int64_t seq;           /* 0 when missing or not an integer             */
    double timestamp;      /* valid when has_timestamp                     */
    int has_timestamp;
    int healthy;           /* 1, 0, or -1 when missing or not a boolean    */
    int64_t executor_pid;  /* container_status.executor_pid, 0 when none   */
    /* container_status.network_infos[].ip_addresses[].ip_address, in
     * order, each an IPv4 or IPv6 address (the others skipped), at most
     * TASK_IPS_MAX as tasks_seen_parse() takes them. */
    const char *ips[TASK_IPS_MAX];
    size_t n_ips;
};

/* A whole body. */
struct agent_updates {
    const char *agent_id;    /* NULL when missing or not a string */
    const char *session;
    struct agent_update *v;  /* "updates"' elements, n of them (0 when
                              * it is missing or not an array)     */
    size_t n;
    size_t cap;              /* internal */
    char *text;              /* internal: the strings' block         */
    size_t used, size;       /* internal */
};

/*
 * Reads body (NUL-terminated; NULL is refused as "no text") into *out.
 * 0, or -1 with a one-line reason in err (errlen bytes) and nothing to
 * free. On 0 the caller frees *out with agent_updates_free(); every
 * pointer in it lives until then and none points into body.
 */
int agent_updates_parse(const char *body, struct agent_updates *out,
                        char *err, size_t errlen);

/* The same, with scan 0: read by yajl alone, not json_scan() first
 * (for tests, which check that both read the same). */
int agent_updates_parse_with(const char *body, struct agent_updates *out,
                             int scan, char *err, size_t errlen);

/* Frees what agent_updates_parse() kept; *u may be zeroed or freed twice. */
void agent_updates_free(struct agent_updates *u);

#endif /* AGORA_AGENT_UPDATE_H */
