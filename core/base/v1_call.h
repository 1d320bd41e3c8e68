/*
 * v1_call.h - what the v1 operator API of the master and of the agent
 * share (Mesos' POST /api/v1, JSON only): the checks a call's request
 * must pass, its parse, the shape of a read's answer, and the small
 * writers of protobuf's JSON mapping (ids, times, name/value lists).
 *
 * The errors are Mesos' own: 400 with a plain-text reason when the
 * Content-Type is missing or the body does not parse or validate, 415
 * for a Content-Type other than application/json (protobuf bodies are
 * not taken), 406 when Accept allows no JSON. A read answers
 * {"type": <call>, "<call in lower case>": {...}}.
 */
#ifndef AGORA_V1_CALL_H
#define AGORA_V1_CALL_H

#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

struct agora_jw;
struct http_req;

/*
 * Checks req's media types and parses its body as a call with a string
 * "type". Returns the tree (free with yajl_tree_free()), or NULL after
 * answering 400, 406 or 415. `call` names the message in the reasons
 * ("master::Call", "agent::Call").
 */
yajl_val v1_call_read(struct http_req *req, const char *call);

/* Answers 400 with the plain-text reason fmt makes. */
void v1_call_bad(struct http_req *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The key of a call's message: its type in lower case ("GET_STATE" ->
 * "get_state"), into key (len bytes, always terminated). */
void v1_call_key(const char *type, char *key, size_t len);

/* The call's message: the object under the lower-case key of its type,
 * borrowed from doc, or NULL when it is missing or not an object. */
yajl_val v1_call_message(yajl_val doc, const char *type);

/*
 * An unsigned integer member of a message, as protobuf's JSON mapping
 * gives one: a number, or a string of digits (how it writes 64-bit
 * ones). 0 with *out, AGORA_ENOENT when missing or null, AGORA_EINVAL
 * for anything else (negative, fractional, not a number).
 */
int v1_call_u64(yajl_val msg, const char *key, uint64_t *out);

/* Opens a read's answer in w: {"type": type, "<type in lower case>":
 * what the caller writes next; the caller closes the outer object. */
void v1_reply_open(struct agora_jw *w, const char *type);

/* {key: {"value": id}}, as protobuf writes an id message. */
void v1_write_id(struct agora_jw *w, const char *key, const char *id);

/* {key: {"nanoseconds": secs * 1e9}}, a TimeInfo. */
void v1_write_time(struct agora_jw *w, const char *key, double secs);

/* GET_VERSION's message: {"version_info": {"version", "build_date"}}. */
void v1_write_version(struct agora_jw *w);

/*
 * {key: [{"name", "value"}]}: the flat object that f holds (a v0
 * document: /flags, /metrics/snapshot) as v1 lists it, each value a
 * string or a number as it is there (other values are left out). Frees f.
 */
void v1_write_pairs(struct agora_jw *w, const char *key, struct agora_jw *f);

#endif /* AGORA_V1_CALL_H */
