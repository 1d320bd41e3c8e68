/*
 * agora/sdk.h - conveniences over the services table, in libagora-sdk.a.
 *
 * None of this is needed to write a plugin; it saves the lines every
 * plugin would otherwise repeat.
 */
#ifndef AGORA_SDK_H
#define AGORA_SDK_H

#include "json.h"
#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Replies with the writer's document (application/json); if the writer
 * failed, replies 500 {"message": "out of memory"} instead. */
int agora_reply_jw(const struct agora_api *api, struct agora_req *r,
                   int status, struct agora_jw *w);

/* Replies {"message": msg} with the given status. */
int agora_reply_error(const struct agora_api *api, struct agora_req *r,
                      int status, const char *msg);

/* The name of a task state, "TASK_RUNNING"; "TASK_UNKNOWN" when out of range. */
const char *agora_task_state_name(enum agora_task_state s);

/* The state of that name, or -1. */
int agora_task_state_parse(const char *name);

/* 1 for the states a task never leaves (FINISHED, FAILED, KILLED, ...). */
int agora_task_state_terminal(enum agora_task_state s);

/* The longest id agora takes for a task, an agent or a framework. */
#define AGORA_ID_MAX 200

/*
 * 1 when id is 1 to max bytes of [A-Za-z0-9_.:@-] and does not start
 * with '.', else 0 (NULL too). Such an id names a file, a store key or a
 * URL segment as it is: no '/', no "..", nothing to escape.
 */
int agora_id_valid(const char *id, size_t max);

/* The message of an agora_err, "unknown error" for anything else. */
const char *agora_strerror(int err);

/*
 * An upper bound of the nodes glibc's regcomp() builds for the POSIX
 * extended regular expression pattern, which copies the operand of each
 * `+` and counted repetition (stacked ones grow it exponentially: "a"
 * and 30 `+` exhaust memory). Counting stops past limit: the result is
 * then limit + 1. Also limit + 1 (refused) for what regcomp() takes
 * exponential time over in a small tree: a repetition of an operand
 * that can match empty inside another such ("(a?)+" passes, "(a?)+?"
 * and "((a*)+){3}" do not), and for an unmatched ')', which would close
 * the "^(...)$" a caller wraps a pattern in. Check a client's pattern
 * with it before regcomp().
 */
size_t agora_regex_size(const char *pattern, size_t limit);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_SDK_H */
