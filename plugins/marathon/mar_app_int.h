/*
 * mar_app_int.h - what the model's files share and nobody else needs:
 * string helpers, the bounded JSON text writer for pass-through fields,
 * and the parse entry point with the options mar_app_merge() needs.
 * Not part of marathon.so's interface to the rest of the plugin.
 */
#ifndef MAR_APP_INT_H
#define MAR_APP_INT_H

#include <stdarg.h>
#include <stddef.h>

#include <agora/json.h>

#include "mar_app.h"

/*
 * The deepest a pass-through value (container, secrets, ...) may nest,
 * counted from the field itself. A client's document can nest without
 * limit; the writers below recurse, so they refuse anything deeper and
 * the parser answers it with a 422.
 */
#define MAR_JSON_MAX_DEPTH 64

/* A malloc'ed copy of s, or NULL (s NULL, or out of memory). */
char *mar_strdup(const char *s);

/* printf into a malloc'ed string, or NULL when out of memory. */
char *mar_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* mar_errs_add() with a va_list; path and the message are copied. */
void mar_errs_vadd(struct mar_errs *e, const char *path, const char *fmt,
                   va_list ap);

/* 1 when v (a yajl tree, borrowed) nests no deeper than max levels of
 * arrays and objects below itself; v's own level counts as one. */
int mar_json_depth_ok(yajl_val v, int max);

/*
 * Writes v as JSON into w (numbers as their original text, strings
 * re-escaped). The caller checks mar_json_depth_ok(v, MAR_JSON_MAX_DEPTH)
 * first; a deeper v fails the writer rather than recursing further.
 */
void mar_json_write(struct agora_jw *w, yajl_val v);

/*
 * v as one line of JSON text: 0 and *out (malloc'ed, the caller frees);
 * -1 out of memory; -2 nested deeper than MAR_JSON_MAX_DEPTH.
 */
int mar_json_text(yajl_val v, char **out);

/* Options of mar_app_parse_opt(). */
enum {
    /* ports/portDefinitions came from the old app of a merge: dropped
     * when the merged app uses container networking, as Marathon's
     * normalisation drops them, instead of rejected. */
    MAR_PARSE_OLD_PORTS = 1u << 0,
    /* the container came from the old app of a merge: its port mappings
     * are dropped when the merged app uses host networking. */
    MAR_PARSE_OLD_CONTAINER = 1u << 1,
};

/* mar_app_parse() with options (MAR_PARSE_*); same contract. */
struct mar_app *mar_app_parse_opt(yajl_val v, const char *base,
                                  const char *id_override,
                                  const char *path_prefix, unsigned opts,
                                  struct mar_errs *e);

/* The members of the definition as mar_app_write_fields() writes them;
 * with for_compare, without instances, version and versionInfo (what
 * mar_app_is_upgrade() compares). */
void mar_app_write_members(struct agora_jw *w, const struct mar_app *a,
                           int for_compare);

/* ---- the parser's shared state (mar_app.c, mar_app_net.c) ---- */

/* play-json's keys for a value of the wrong shape (answered 400). */
#define MAR_E_STR "error.expected.jsstring"
#define MAR_E_NUM "error.expected.jsnumber"
#define MAR_E_INT "error.expected.int"
#define MAR_E_ARR "error.expected.jsarray"
#define MAR_E_OBJ "error.expected.jsobject"
#define MAR_E_BOOL "error.expected.jsboolean"
#define MAR_E_ENUM "error.unknown.enum.literal"
#define MAR_E_MISSING "error.path.missing"
#define MAR_E_DATE "error.expected.date.isoformat"

/* How the tasks of an app are networked (marathon-api.md §3.13). */
enum mar_netmode { MAR_NET_HOST = 0, MAR_NET_BRIDGE, MAR_NET_CONTAINER };

/*
 * One parse. Failures of the JSON's shape and of Marathon's rules are
 * kept apart so that a body with both is answered as Marathon answers
 * it: 400 with the shape's failures alone. Paths are built as prefix +
 * at + "/" + key; `at` is always made of literal keys and indices, so
 * the fixed buffers that hold it are enough; client keys (env, labels)
 * only ever come as `key`.
 */
struct mar_pc {
    struct mar_errs typ; /* shape: play-json keys, 400 */
    struct mar_errs sem; /* rules: Marathon's messages, 422 */
    const char *prefix;  /* e.g. "/apps(0)", or "" */
    unsigned opts;       /* MAR_PARSE_* */
};

/* What validation needs that the struct does not keep (borrowed from
 * the tree being parsed). */
struct mar_raw {
    enum mar_netmode net;
    int ncontainer_nets;        /* container networks asked for */
    int docker_type;            /* container.type is DOCKER */
    int container_image;        /* the container satisfies the cmd/args rule */
    const char *docker_network; /* container.docker.network (legacy) */
    yajl_val pmaps;             /* container.portMappings */
    yajl_val docker_pmaps;      /* container.docker.portMappings (legacy) */
    yajl_val ip_address;        /* ipAddress */
    int resident;               /* the container has persistent volumes */
    int upgrade_given;          /* upgradeStrategy was given */
    int unreachable_given;
};

/* The member key of obj, or NULL when absent or null (readNullable). */
yajl_val mar_pc_member(yajl_val obj, const char *key);
/* A shape failure (sets the 400 flag) at at/key with play-json's key. */
void mar_pc_type(struct mar_pc *c, const char *at, const char *key,
                 const char *what);
/* A rule failure at at/key (key may be NULL). */
void mar_pc_fail(struct mar_pc *c, const char *at, const char *key,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Out of memory: the parse fails with a 500. */
void mar_pc_nomem(struct mar_pc *c);
/* "<at>/<key>(<i>)" into buf: the path of an array's element. */
void mar_pc_elem(char *buf, size_t size, const char *at, const char *key,
                 size_t i);

/*
 * Typed reads of v (a member, or NULL when absent): 1 and *out when v
 * has the type, 0 when v is NULL, -1 (recorded at at/key) otherwise.
 * Integers are int32, as Marathon's; strings are borrowed from the tree.
 */
int mar_pc_str(struct mar_pc *c, yajl_val v, const char *at, const char *key,
               const char **out);
int mar_pc_num(struct mar_pc *c, yajl_val v, const char *at, const char *key,
               double *out);
int mar_pc_int(struct mar_pc *c, yajl_val v, const char *at, const char *key,
               int *out);
int mar_pc_bool(struct mar_pc *c, yajl_val v, const char *at, const char *key,
                int *out);
int mar_pc_arr(struct mar_pc *c, yajl_val v, const char *at, const char *key);
int mar_pc_obj(struct mar_pc *c, yajl_val v, const char *at, const char *key);
/* v as JSON text into *out (left NULL when v is NULL); a value nested
 * too deeply is a rule failure. */
void mar_pc_text(struct mar_pc *c, yajl_val v, const char *at, const char *key,
                 char **out);
/* An object of strings into a malloc'ed vector; 1, 0 or -1 as above. */
int mar_pc_kv(struct mar_pc *c, yajl_val v, const char *at, const char *key,
              struct mar_kv **out, size_t *n);

/* Scala's Double.toString for the messages Marathon builds from one:
 * "1.0", "0.5", "-1.0". */
void mar_fmt_double(double v, char buf[40]);

/*
 * The networking part (mar_app_net.c): container, networks, ipAddress,
 * ports, portDefinitions and their rules, into a and r. The container
 * fields of r are filled by mar_net_container() first, the rest by
 * mar_net_parse().
 */
void mar_net_container(struct mar_pc *c, yajl_val app, struct mar_app *a,
                       struct mar_raw *r);
void mar_net_parse(struct mar_pc *c, yajl_val app, struct mar_app *a,
                   struct mar_raw *r);
/* Port mappings (if any) else port definitions: what a health check's
 * portIndex addresses. */
size_t mar_net_nports(const struct mar_app *a);

/* Frees the members of one port definition / mapping / kv vector. */
void mar_kv_free(struct mar_kv *kv, size_t n);

/*
 * The lists and sub-objects (mar_app_parts.c). mar_parts_strv() reads
 * an array of strings at the top-level key: 1, 0 absent, -1 failed.
 * mar_parts_lists() reads env, labels, acceptedResourceRoles,
 * dependencies (resolved against base), storeUrls, fetch and uris;
 * mar_parts_health() the health checks, whose port rules
 * mar_parts_health_rules() checks once the ports are known;
 * mar_parts_readiness() the readiness checks and their rules.
 */
int mar_parts_strv(struct mar_pc *c, yajl_val v, const char *key, char ***out,
                   size_t *n);
void mar_parts_lists(struct mar_pc *c, yajl_val app, struct mar_app *a,
                     const char *base);
void mar_parts_health(struct mar_pc *c, yajl_val app, struct mar_app *a);
void mar_parts_health_rules(struct mar_pc *c, struct mar_app *a,
                            int docker_type);
void mar_parts_readiness(struct mar_pc *c, yajl_val app, struct mar_app *a);

/* The protocols' names, by enum mar_hc_protocol. */
extern const char *const mar_hc_names[7];

#endif /* MAR_APP_INT_H */
