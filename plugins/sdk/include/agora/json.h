/*
 * agora/json.h - small helpers for building and reading JSON.
 *
 * Part of libagora-sdk.a; the master uses the same code. Writing goes
 * through struct agora_jw, which appends to a buffer of its own and
 * latches the first error so a caller can emit a whole document and
 * check once at the end. Reading uses yajl's tree (yajl_val) with typed
 * getters that never crash on a missing key or a value of the wrong type.
 *
 * This header exposes yajl: yajl_val is yajl's own type, the readers
 * take and return yajl's tree as it is, and a plugin frees a parsed
 * document with yajl_tree_free(). The SDK's pkg-config file requires
 * yajl, so `pkg-config --cflags --libs agora-plugin` brings it along.
 */
#ifndef AGORA_JSON_H
#define AGORA_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- writing ---- */

struct agora_jw;

/*
 * The most containers (objects and arrays) a writer holds open at once;
 * opening one more fails the writer, as a misuse does.
 */
#define AGORA_JW_MAX_DEPTH 512

/* A new writer, or NULL when out of memory. Free with agora_jw_free(). */
struct agora_jw *agora_jw_new(void);
void agora_jw_free(struct agora_jw *w);
/*
 * Empties w for a new document, as if just made, failure included, but
 * keeps the memory it has grown: a caller writing many documents
 * allocates once. A pointer from agora_jw_result() is invalid after it.
 * After an unusually large document, free the writer instead, or it
 * keeps that much memory. A NULL w is ignored.
 */
void agora_jw_reset(struct agora_jw *w);

void agora_jw_obj_open(struct agora_jw *w);
void agora_jw_obj_close(struct agora_jw *w);
void agora_jw_arr_open(struct agora_jw *w);
void agora_jw_arr_close(struct agora_jw *w);
/* A key inside an object; the next value call gives its value. */
void agora_jw_key(struct agora_jw *w, const char *key);
/* A string; NULL writes null. Quote, backslash and control characters
 * are escaped; other bytes, 0x80 and above included, are copied as they
 * are, so invalid UTF-8 in s is passed through, not checked. */
void agora_jw_str(struct agora_jw *w, const char *s);
void agora_jw_strn(struct agora_jw *w, const char *s, size_t len);
void agora_jw_int(struct agora_jw *w, int64_t v);
/* A number; integral values are written without a fraction, non-finite
 * ones as null (JSON has no NaN). */
void agora_jw_num(struct agora_jw *w, double v);
void agora_jw_bool(struct agora_jw *w, int v);
void agora_jw_null(struct agora_jw *w);
/* Inserts already-encoded JSON as one value (it is not checked). */
void agora_jw_raw(struct agora_jw *w, const char *json, size_t len);
/* Inserts already-encoded members ("\"a\":1,\"b\":2", no braces, not
 * checked) into the open object, where a key may come: a document kept
 * from an earlier writer can then be extended. An empty text or a call
 * outside an object fails the writer. */
void agora_jw_members(struct agora_jw *w, const char *json, size_t len);

/* key + value in one call, inside an object. */
void agora_jw_kstr(struct agora_jw *w, const char *key, const char *s);
void agora_jw_kint(struct agora_jw *w, const char *key, int64_t v);
void agora_jw_knum(struct agora_jw *w, const char *key, double v);
void agora_jw_kbool(struct agora_jw *w, const char *key, int v);

/*
 * The document so far, NUL-terminated, and its length in *len (NULL
 * allowed). Borrowed: valid until the next write, agora_jw_reset() or
 * agora_jw_free().
 * NULL when any call failed (out of memory, a key outside an object, an
 * unbalanced close).
 */
const char *agora_jw_result(struct agora_jw *w, size_t *len);

/* ---- reading ---- */

/* The deepest nesting agora_json_parse() takes. */
#define AGORA_JSON_MAX_DEPTH 512 /* = AGORA_JW_MAX_DEPTH: what is written is read */

/*
 * Parses a NUL-terminated document. Returns the tree (free it with
 * yajl_tree_free()) or NULL, with a one-line reason in err (of errlen
 * bytes, always NUL-terminated when errlen > 0). A document nested
 * deeper than AGORA_JSON_MAX_DEPTH is refused ("nested deeper than 512
 * levels") before any tree is built, so that code walking the tree
 * recursively (yajl_tree_free() does) is bounded by that depth, whatever
 * a client sends.
 */
yajl_val agora_json_parse(const char *text, char *err, size_t errlen);

/* The member `key` of an object, or NULL (not an object, no such key). */
yajl_val agora_json_get(yajl_val obj, const char *key);

/* Typed reads of a member; each returns 0, or AGORA_ENOENT when the key
 * is missing or null, or AGORA_EINVAL when the value has another type
 * (out is then untouched). The string is borrowed from the tree. */
int agora_json_str(yajl_val obj, const char *key, const char **out);
int agora_json_int(yajl_val obj, const char *key, int64_t *out);
int agora_json_num(yajl_val obj, const char *key, double *out);
int agora_json_bool(yajl_val obj, const char *key, int *out);

/* The string member `key`, borrowed from the tree, or NULL when it is
 * missing, null or not a string (for optional fields). */
const char *agora_json_get_str(yajl_val obj, const char *key);

/*
 * Writes s as a quoted, escaped JSON string into out (outlen bytes,
 * NUL-terminated when outlen > 0), without a writer. Returns the length
 * it needs without the NUL, as snprintf does; the result is complete
 * only when that is < outlen.
 */
size_t agora_json_quote(const char *s, char *out, size_t outlen);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_JSON_H */
