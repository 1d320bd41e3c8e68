/*
 * mar_app.h - Marathon's AppDefinition: parse, validate, default, write.
 *
 * An app arrives as JSON (POST/PUT /v2/apps, groups, the store) and
 * leaves as JSON (every GET, events, the store). mar_app_parse() turns
 * the JSON into a struct mar_app with every default of marathon-api.md
 * §2.2 filled in, and collects every validation failure (not only the
 * first) as (path, message) pairs, which the HTTP layer answers as
 * Marathon does:
 *
 *   422 {"message":"Object is not valid",
 *        "details":[{"path":"/cpus","errors":["…"]}]}
 *   400 {"message":"Invalid JSON","details":[{"path":"/id",
 *        "errors":["error.expected.jsstring"]}]}      (a value's type)
 *
 * mar_app_write() writes the definition back with every field, defaults
 * included, in the shape Marathon serves (unset optionals as null, [] or
 * {}); what it writes parses back to an equal app, which is how the store
 * keeps apps. Fields agora does not act on (secrets, residency, ipAddress,
 * networks, readinessChecks, check, tty, role, ...) are kept as their
 * JSON text and written back unchanged.
 *
 * Ids (§2.1): canonical absolute paths "/a/b"; relative ones resolve
 * against a base group; segments match Marathon's regular expression.
 */
#ifndef MAR_APP_H
#define MAR_APP_H

#include <stddef.h>
#include <stdint.h>

#include <agora/json.h>

struct mar_constraint; /* mar_constraint.h */

/* ---- validation failures ---- */

struct mar_err_item {
    char *path;    /* "/cpus", "/healthChecks(0)/portIndex", "/" */
    char *message;
};

struct mar_errs {
    struct mar_err_item *v;
    size_t n, cap;
    int json;      /* 1: a type error: answer 400 "Invalid JSON"      */
    int nomem;     /* an allocation failed: answer 500                */
};

/* Appends a failure; path and message are copied. On allocation
 * failure sets nomem. */
void mar_errs_add(struct mar_errs *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes the 400/422 body ({"message":…,"details":[…]}) with failures
 * of the same path grouped under one "path", in first-seen order. */
void mar_errs_write(const struct mar_errs *e, struct agora_jw *w);
void mar_errs_free(struct mar_errs *e);

/* ---- ids ---- */

/*
 * Resolves id (absolute "/a/b", or relative "b", "../x", "./y") against
 * the group base ("/" for the top), canonical: leading '/', no trailing
 * '/', no "." or ".." left. Returns a malloc'ed string, or NULL when the
 * id is empty, climbs above the root, or out of memory (*why says which,
 * a static string, when why is not NULL).
 */
char *mar_id_resolve(const char *base, const char *id, const char **why);

/* 1 when every segment of the canonical id matches Marathon's rule
 * (§2.1) and the id is not the root; else 0 and *why (static) the
 * message Marathon gives, e.g. "must fully match regular expression
 * '^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])$'". */
int mar_id_valid(const char *canonical, const char **why);

/* "/a/b" -> "a_b" (Marathon's task id prefix), malloc'ed, or NULL. */
char *mar_id_safe(const char *canonical);

/* 1 when child lies strictly under group ("/a/b" under "/a" and "/"). */
int mar_id_under(const char *child, const char *group);

/* ---- the definition ---- */

struct mar_kv {
    char *key;
    char *value;
};

struct mar_port_def {         /* portDefinitions[i] (from `ports` too)   */
    int port;                 /* the service port; 0 = assign one        */
    char *protocol;           /* "tcp" (default), "udp", "udp,tcp"       */
    char *name;               /* NULL when none                          */
    struct mar_kv *labels;
    size_t nlabels;
};

struct mar_port_mapping {     /* container(.docker).portMappings[i]       */
    int container_port;       /* 0 default                               */
    int host_port;            /* -1 when absent (none in container mode) */
    int service_port;         /* 0 default                               */
    char *protocol;
    char *name;
    struct mar_kv *labels;
    size_t nlabels;
};

enum mar_hc_protocol {
    MAR_HC_HTTP = 0,
    MAR_HC_HTTPS,
    MAR_HC_TCP,
    MAR_HC_COMMAND,
    MAR_HC_MESOS_HTTP,
    MAR_HC_MESOS_HTTPS,
    MAR_HC_MESOS_TCP
};

struct mar_health_check {
    enum mar_hc_protocol protocol;    /* HTTP                           */
    char *path;                       /* "/" for the HTTP kinds; else NULL */
    int port_index;                   /* 0; -1 when `port` is given     */
    int port;                         /* 0 = none                       */
    char *command;                    /* COMMAND: command.value         */
    double grace_period;              /* 300 */
    double interval;                  /* 60 */
    double timeout;                   /* 20 */
    int max_consecutive_failures;     /* 3 */
    int ignore_http1xx;               /* 0 */
    double delay;                     /* 15 */
    char *ip_protocol;                /* "IPv4" */
};

struct mar_fetch {
    char *uri;
    int extract;                      /* 1 */
    int executable;                   /* 0 */
    int cache;                        /* 0 */
    char *dest_path;                  /* outputFile / destPath, or NULL */
};

enum mar_kill_selection { MAR_KILL_YOUNGEST_FIRST = 0, MAR_KILL_OLDEST_FIRST };

struct mar_app {
    char *id;                 /* canonical                                */
    char *version;            /* ISO 8601 with ms, or NULL before stored  */
    char *last_scaling_at;    /* versionInfo, or NULL                     */
    char *last_config_change_at;

    char *cmd;                /* NULL when absent                         */
    char **args;              /* NULL when absent; else nargs strings     */
    size_t nargs;
    char *user;               /* NULL */
    struct mar_kv *env;       /* string values; secret refs kept in env_json */
    size_t nenv;
    int instances;            /* 1 */
    double cpus, mem, disk;   /* 1, 128, 0 */
    int gpus;                 /* 0 */
    char *executor;           /* "" */

    struct mar_constraint *constraints;  /* mar_constraint.h */
    size_t nconstraints;

    char **accepted_roles;    /* NULL = null */
    size_t naccepted_roles;
    struct mar_fetch *fetch;  /* `uris` are turned into fetch entries     */
    size_t nfetch;

    struct mar_port_def *port_defs;   /* [{port:0,name:"default"}] for host
                                       * networking when none was given   */
    size_t nport_defs;
    int require_ports;        /* 0 */

    double backoff_seconds;   /* 1 */
    double backoff_factor;    /* 1.15 */
    double max_launch_delay;  /* 300 (1.8+) */

    char *container_json;     /* container object as given, normalised; NULL */
    char *docker_image;       /* container.docker.image, or NULL          */
    int bridge;               /* 1: BRIDGE/container networking: port
                               * mappings, not port definitions          */
    struct mar_port_mapping *port_mappings;
    size_t nport_mappings;

    struct mar_health_check *health_checks;
    size_t nhealth_checks;
    char **dependencies;      /* canonical ids */
    size_t ndependencies;
    double min_health_capacity;  /* 1.0 */
    double max_over_capacity;    /* 1.0 */
    struct mar_kv *labels;
    size_t nlabels;
    double kill_grace_period;    /* -1 = null */
    enum mar_kill_selection kill_selection;
    int unreachable_disabled;    /* "disabled" */
    double unreachable_inactive_after;  /* 0 (1.6+) */
    double unreachable_expunge_after;   /* 0 */

    /* Kept as JSON text, written back as given (NULL = the default). */
    char *env_json;              /* env when it holds secret references */
    char *readiness_checks_json; /* [] */
    char *secrets_json;          /* {} */
    char *networks_json;         /* [{"mode":"host"}] or as given */
    char *ip_address_json;       /* null */
    char *residency_json;        /* null */
    char *executor_resources_json;
    char *resource_limits_json;
    char *check_json;
    char *role;                  /* NULL */
    int tty;                     /* -1 = absent */
    char *store_urls_json;       /* [] */
};

/*
 * Parses an app from v (an object). base is the group relative ids
 * resolve against ("/" at the top); id_override, when not NULL, is the
 * id from the URL and wins over the body's. Fills every default. On any
 * failure returns NULL and records why in e (every failure found, with
 * its JSON path, prefixed by path_prefix, e.g. "/apps(0)", or "" at the
 * top); an app is returned only when e gained nothing. `version` and
 * `versionInfo` are read when present (the store's copy has them).
 * The caller frees the app with mar_app_free().
 */
struct mar_app *mar_app_parse(yajl_val v, const char *base,
                              const char *id_override,
                              const char *path_prefix, struct mar_errs *e);

/*
 * PUT ?partialUpdate=true and PATCH: the app old with every top-level
 * field present in patch replaced by patch's (Marathon's merge: a
 * top-level field replaces the whole field; nested objects are not
 * merged). Returns the merged app, validated as mar_app_parse() does
 * (NULL and e filled on failure); id stays old's; version and
 * versionInfo are old's until the caller sets them.
 */
struct mar_app *mar_app_merge(const struct mar_app *old, yajl_val patch,
                              struct mar_errs *e);

/* A deep copy, or NULL when out of memory. */
struct mar_app *mar_app_dup(const struct mar_app *a);

/*
 * Writes the definition's members (not the enclosing braces) into an
 * open object: every field of §2.2 with its value or default, version
 * and versionInfo when set. The AppInfo extras (tasks, counts,
 * deployments, ...) are the caller's to add after it.
 */
void mar_app_write_fields(struct agora_jw *w, const struct mar_app *a);
/* One health check as the definition shows it (events carry it too). */
void mar_app_write_health_check(struct agora_jw *w,
                                const struct mar_health_check *h);

/* The whole definition as one JSON object: {…}. */
void mar_app_write(struct agora_jw *w, const struct mar_app *a);

/*
 * 1 when b differs from a in anything that needs new tasks (Marathon's
 * isUpgrade: everything but instances, version and versionInfo), 0 when
 * they differ only in instances (a scale) or not at all.
 */
int mar_app_is_upgrade(const struct mar_app *a, const struct mar_app *b);

/* The number of host ports a task of a needs (port definitions, or port
 * mappings with a host port). */
size_t mar_app_host_ports(const struct mar_app *a);

void mar_app_free(struct mar_app *a);

/* ---- time ---- */

/* t (seconds since the epoch) as "2015-09-25T15:13:48.343Z" into out
 * (at least 25 bytes). */
void mar_time_format(double t, char out[32]);
/* The inverse; 0 on success, -1 when s is not such a timestamp (the
 * 'Z' form, with or without milliseconds). */
int mar_time_parse(const char *s, double *t);

#endif /* MAR_APP_H */
