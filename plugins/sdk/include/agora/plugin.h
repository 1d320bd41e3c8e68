/*
 * agora/plugin.h - the whole contract between agora-master and a plugin.
 *
 * A plugin is a shared object that exports one function,
 * agora_plugin_entry(), returning its descriptor (struct agora_plugin).
 * The master checks the descriptor's ABI numbers, then calls init() with
 * a handle (struct agora_host) and a table of services (struct agora_api).
 * Everything a plugin does - serve HTTP, run timers, keep state, receive
 * offers and task status, launch and kill tasks - goes through that table.
 *
 * Threading: every callback runs on the master's event loop thread, one at
 * a time. A plugin never sees a thread or a lock, and must never block:
 * no sleeping, no synchronous network or disk I/O. Work that waits uses a
 * timer, a deferred reply, an asynchronous store call, or (ABI 2.1) the
 * HTTP client, an fd watcher or a child process's exit callback.
 *
 * Compatibility: AGORA_ABI_MAJOR changes only when an existing member
 * changes; the master refuses a plugin whose major differs. AGORA_ABI_MINOR
 * grows when members are appended to a struct; the master refuses a
 * plugin built against a newer minor than its own, and serves older ones.
 * A plugin that may run on an older master reads what a later minor
 * appended only after checking the master has it: a member of the
 * services table when offsetof(struct agora_api, member) < api->size, a
 * field of a struct the master fills (agora_status, agora_task_info)
 * when agora_api_minor(api) is at least the field's minor.
 *
 * This header compiles as C99 and as C++.
 */
#ifndef AGORA_PLUGIN_H
#define AGORA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AGORA_ABI_MAJOR 2
#define AGORA_ABI_MINOR 4

/* The symbol the master looks up with dlsym(). */
#define AGORA_PLUGIN_ENTRY_SYMBOL "agora_plugin_entry"

#if defined(__GNUC__)
#define AGORA_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define AGORA_EXPORT __attribute__((visibility("default")))
#else
#define AGORA_PRINTF(fmt, args)
#define AGORA_EXPORT
#endif

/* ------------------------------------------------------------------ */
/* Errors: every call that can fail returns 0 or one of these.         */
/* ------------------------------------------------------------------ */

enum agora_err {
    AGORA_OK = 0,
    AGORA_ENOMEM = -1,     /* out of memory                                */
    AGORA_EINVAL = -2,     /* an argument is invalid                       */
    AGORA_ENOENT = -3,     /* no such key, offer, task, framework          */
    AGORA_EEXIST = -4,     /* already exists                               */
    AGORA_EVERSION = -5,   /* compare-and-set: the version did not match   */
    AGORA_ETOOBIG = -6,    /* value or body over its limit                 */
    AGORA_EIO = -7,        /* the store or a file failed                   */
    AGORA_ECANCELED = -8,  /* the operation was cancelled (unload, exit)   */
    AGORA_ENOTLEADER = -9, /* this master does not lead (or no longer led
                            * when a store write was to be applied)      */
    AGORA_ESTATE = -10,    /* not valid now (e.g. a second reply)          */
    AGORA_ENOTSUP = -11,   /* not supported by this master or backend      */
    AGORA_EUNAVAIL = -12,  /* backend temporarily unreachable              */
    AGORA_EURL = -13,      /* not a URL this client takes                  */
    AGORA_ERESOLVE = -14,  /* a host name does not resolve                 */
    AGORA_ECONNECT = -15,  /* no address of the host accepted a connection */
    AGORA_ETIMEDOUT = -16, /* a timeout expired                            */
    AGORA_ECLOSED = -17,   /* the peer closed before the end of a reply    */
    AGORA_EPROTO = -18,    /* the peer broke its protocol                  */
    AGORA_EPERM = -19      /* not allowed (the master's ACLs); a master of
                            * an older minor never returns it             */
};

/* ------------------------------------------------------------------ */
/* Opaque handles owned by the master.                                 */
/* ------------------------------------------------------------------ */

struct agora_host;      /* one loaded plugin; valid from init to fini     */
struct agora_req;       /* one HTTP request; valid until it is answered   */
struct agora_timer;     /* valid until stopped or (one-shot) fired        */
struct agora_stream;    /* valid until closed or its on_close has run     */
struct agora_framework; /* valid until removed or the plugin unloads      */
struct agora_sub;       /* an event subscription; valid until unsubscribed
                         * or the plugin unloads (ABI 2.1)                */
struct agora_http;      /* an outbound HTTP request; valid until its
                         * callback has begun or it is cancelled (2.1)   */
struct agora_watch;     /* a watched fd; valid until stopped (2.1)        */
struct agora_proc;      /* a child process; valid until its exit callback
                         * returns (2.1)                                  */

/* ------------------------------------------------------------------ */
/* Logging                                                              */
/* ------------------------------------------------------------------ */

enum agora_log_level {
    AGORA_LOG_DEBUG = 0,
    AGORA_LOG_INFO = 1,
    AGORA_LOG_WARN = 2,
    AGORA_LOG_ERROR = 3
};

/* ------------------------------------------------------------------ */
/* Configuration: typed keys of conf.d/<name>.conf                      */
/* ------------------------------------------------------------------ */

enum agora_conf_type {
    AGORA_CONF_STRING = 1, /* const char * (owned by the master)          */
    AGORA_CONF_INT,        /* int64_t                                      */
    AGORA_CONF_DOUBLE,     /* double                                       */
    AGORA_CONF_BOOL,       /* int: 0 or 1 ("true", "false", "1", "0")     */
    AGORA_CONF_DURATION    /* double seconds ("5secs", "200ms", "2mins")  */
};

/*
 * One key a plugin accepts in its conf file. The master allocates a block
 * of conf_size bytes, writes each key's default then its configured value
 * at `offset`, and passes the block to init(). A key the table does not
 * name is refused (with the core keys plugin, port, role and principal
 * always allowed), so a typo fails the load instead of being ignored.
 */
struct agora_conf_field {
    const char *key;
    enum agora_conf_type type;
    const char *dflt; /* default, written as in the file; NULL = zero      */
    size_t offset;    /* offsetof(struct my_conf, field)                   */
    const char *help; /* one line, shown by the docs and error messages   */
};

/* ------------------------------------------------------------------ */
/* HTTP                                                                 */
/* ------------------------------------------------------------------ */

/*
 * A route handler. It must, before returning, do exactly one of: reply,
 * defer (then reply later, exactly once), or open a stream. A handler
 * that does none of these is answered 500 by the master and logged.
 */
typedef void (*agora_route_fn)(void *state, struct agora_req *req);

/*
 * One route. Patterns are '/'-separated segments: a literal, ":name"
 * (exactly one segment) or "*name" (one or more segments, so that app
 * ids with slashes work when "*id" is followed by a literal "tasks").
 * When several patterns match, the more specific wins, segment by
 * segment: literal over :param over *wildcard, then the longer pattern.
 * The method is "GET", "POST", ... or "*" for any. A table ends with an
 * entry whose path is NULL.
 */
struct agora_route {
    const char *method;
    const char *path;
    agora_route_fn handler;
};

/* Called when a stream's client went away or the stream was closed. */
typedef void (*agora_stream_close_fn)(void *arg, struct agora_stream *s);

/* ------------------------------------------------------------------ */
/* Timers                                                               */
/* ------------------------------------------------------------------ */

/* A one-shot timer's handle is invalid once its callback has begun. */
typedef void (*agora_timer_fn)(void *arg, struct agora_timer *t);

/* ------------------------------------------------------------------ */
/* Store: durable key/value state in the plugin's own namespace         */
/* ------------------------------------------------------------------ */

/*
 * Keys are '/'-separated segments of [A-Za-z0-9_.:@-], no segment empty
 * or starting with '.' or longer than 255 bytes, at most 512 bytes in all.
 * Values are at most AGORA_STORE_VALUE_MAX bytes; a bigger one is refused when
 * put() is called (AGORA_ETOOBIG), never later.
 *
 * Versions make compare-and-set possible: every put gives the key a new
 * version (1 on creation). A put or delete names the version it expects:
 * AGORA_STORE_ANY (no check), AGORA_STORE_NEW (the key must not exist), or
 * the version last read; a mismatch completes with AGORA_EVERSION.
 *
 * Completions run later on the loop, never inside the call that started
 * them, and in the order the calls were made. A plugin that is unloaded
 * first gets no completion: the write still happens (unless this master
 * was deposed: below), the callback is cancelled.
 *
 * Fencing (ABI 2.2): a write (put, delete, txn) belongs to the term of
 * leadership in which it was called. Once this master is deposed - it
 * lost its ZooKeeper session, abdicated, or its election znode went - a
 * write of that term the store has not yet applied completes with
 * AGORA_ENOTLEADER and changes nothing, and so does one called after
 * the deposition (in on_leader(0) or fini). With ZooKeeper every write
 * checks, in the same atomic multi, that this master's election znode
 * still exists, so a write ZooKeeper receives after the lead was lost
 * fails even before the master hears of it. So no write of a deposed
 * master lands after the next leader read the store. A 2.1 plugin gets
 * these completions too: AGORA_ENOTLEADER was already in agora_err.
 * Reads are not fenced.
 */
#define AGORA_STORE_VALUE_MAX 1000000
#define AGORA_STORE_KEY_MAX 512
#define AGORA_STORE_SEGMENT_MAX 255
#define AGORA_STORE_ANY (-1)
#define AGORA_STORE_NEW 0

/*
 * ABI 2.1 adds three calls (see the end of struct agora_api):
 *
 * store_get_children(key): in one completion, every child of key ("" =
 * the namespace's top level) that has a value, with its value and
 * version, sorted by name (strcmp). One level: a child without a value
 * (only children of its own) is left out, and grandchildren are not
 * read; call it again on a child to go deeper. The values and names
 * together are at most AGORA_STORE_CHILDREN_MAX bytes: past that the
 * completion is AGORA_ETOOBIG and hands nothing out, so that no amount
 * of state makes the master allocate without bound.
 *
 * store_txn(ops, n): up to AGORA_STORE_TXN_MAX operations on distinct
 * keys (a key twice is AGORA_EINVAL), applied all or nothing: a put
 * (value, expected version as for put), a delete (expected version) or a
 * check (the key must be at that version; AGORA_STORE_NEW: must have no
 * value; AGORA_STORE_ANY: always true). The values and keys together are
 * at most AGORA_STORE_VALUE_MAX bytes (else AGORA_ETOOBIG at the call).
 * It completes with 0 and, in versions[i], op i's key version after it
 * (put: the new one; delete: 0; check: the one checked, 0 when absent),
 * or with AGORA_EVERSION and, in failed, the index of the first op whose
 * expectation did not hold, nothing applied. In a transaction a delete of
 * a key without a value is AGORA_EVERSION too (not AGORA_ENOENT).
 *
 * store_watch(prefix): fn(arg, event, key, version) for each put and
 * delete of prefix itself or of a key below it ("" = the namespace) that
 * this master makes - from any plugin's call on this namespace, a
 * transaction's included - after the completion of the write that made
 * it, in the order of the writes. A new value is AGORA_STORE_CREATED
 * (version 1), a changed one AGORA_STORE_CHANGED, a deleted one
 * AGORA_STORE_DELETED (version 0). Writes by another process (another
 * master sharing ZooKeeper) are not seen: plugins run on the leader only,
 * and a new leader reads the store again in init(). store_unwatch()
 * stops it: no event after the call. Watches end with the plugin.
 */
#define AGORA_STORE_CHILDREN_MAX (64u * 1024u * 1024u)
#define AGORA_STORE_TXN_MAX 64

struct agora_store_entry {
    const char *name;  /* the child's segment name                          */
    const char *value; /* its value, NUL-terminated                         */
    size_t len;        /* its length                                        */
    int64_t version;   /* its version                                       */
};

struct agora_store_result {
    const char *value;         /* get: the value (NUL-terminated), else NULL */
    size_t len;                /* get: its length                            */
    int64_t version;           /* get/put: the key's version now             */
    const char *const *names;  /* list: child segment names, sorted          */
    size_t nnames;
    /* ABI 2.1: store_get_children() and store_txn() */
    const struct agora_store_entry *entries; /* children, sorted by name   */
    size_t nentries;
    const int64_t *versions;   /* txn, on success: each op's version after  */
    size_t nversions;
    size_t failed;             /* txn, AGORA_EVERSION: the op's index       */
};

enum agora_store_txn_kind {
    AGORA_STORE_TXN_PUT = 0,
    AGORA_STORE_TXN_DELETE = 1,
    AGORA_STORE_TXN_CHECK = 2
};

/* One operation of store_txn(); borrowed for the call only. */
struct agora_store_txn_op {
    enum agora_store_txn_kind kind;
    const char *key;
    const void *value; /* put: its bytes (NULL allowed when len is 0)   */
    size_t len;
    int64_t version;   /* expected: AGORA_STORE_ANY, _NEW or a version  */
};

enum agora_store_event {
    AGORA_STORE_CREATED = 1,
    AGORA_STORE_CHANGED = 2,
    AGORA_STORE_DELETED = 3
};

/* key is borrowed for the call; version is 0 for AGORA_STORE_DELETED. */
typedef void (*agora_store_watch_fn)(void *arg, enum agora_store_event event,
                                     const char *key, int64_t version);

struct agora_store_watch; /* valid until store_unwatch() or unload       */

/* err is 0 or an agora_err; r is valid only during the call. */
typedef void (*agora_store_fn)(void *arg, int err,
                               const struct agora_store_result *r);

/* ------------------------------------------------------------------ */
/* Resources, offers, tasks                                             */
/* ------------------------------------------------------------------ */

enum agora_value_type {
    AGORA_SCALAR = 0, /* cpus:2.5                                          */
    AGORA_RANGES = 1, /* ports:[31000-31009,31020-31020]                   */
    AGORA_SET = 2     /* disks:{ssd1,ssd2}                                 */
};

struct agora_range {
    uint64_t begin, end; /* inclusive */
};

/*
 * One named resource, reserved for `role` ("*" = unreserved). Scalars
 * are kept to three decimals as in Mesos. The SDK's resources.h parses,
 * formats and does arithmetic on these.
 */
struct agora_resource {
    char *name;
    char *role;
    enum agora_value_type type;
    double scalar;
    struct agora_range *ranges;
    size_t nranges;
    char **items;
    size_t nitems;
};

struct agora_resources {
    struct agora_resource *v;
    size_t n;
};

struct agora_kv {
    const char *key;
    const char *value;
};

enum agora_task_state {
    AGORA_TASK_STAGING = 0,
    AGORA_TASK_STARTING,
    AGORA_TASK_RUNNING,
    AGORA_TASK_KILLING,
    AGORA_TASK_FINISHED,
    AGORA_TASK_FAILED,
    AGORA_TASK_KILLED,
    AGORA_TASK_ERROR,
    AGORA_TASK_LOST,
    AGORA_TASK_DROPPED,
    AGORA_TASK_UNREACHABLE,
    AGORA_TASK_GONE,
    AGORA_TASK_GONE_BY_OPERATOR,
    AGORA_TASK_UNKNOWN,
    AGORA_TASK_STATE_COUNT
};

/* An offer: free resources of one agent, for one framework. */
struct agora_offer {
    const char *id;
    const char *agent_id;
    const char *hostname;
    const struct agora_resources *resources;
    const struct agora_kv *attributes;
    size_t nattributes;
};

enum agora_check_type {
    AGORA_CHECK_NONE = 0,
    AGORA_CHECK_COMMAND,
    AGORA_CHECK_HTTP,
    AGORA_CHECK_TCP
};

/* A health check the agent runs against a task (Mesos semantics). */
struct agora_health_check {
    enum agora_check_type type;
    const char *command;   /* COMMAND: run by /bin/sh -c in the sandbox     */
    const char *path;      /* HTTP: request path                            */
    const char *scheme;    /* HTTP: "http" (default)                        */
    uint32_t port;         /* HTTP/TCP: port; 0 = use port_index            */
    uint32_t port_index;   /* HTTP/TCP: index into the task's ports         */
    double delay;          /* seconds before the first check                */
    double grace_period;   /* failures ignored this long after start        */
    double interval;       /* seconds between checks                        */
    double timeout;        /* seconds one check may take                    */
    uint32_t max_consecutive_failures; /* then the task is killed; 0 = never */
};

/*
 * The most bytes of a health check's result text the agent reports (a
 * status's health_output, ABI 2.2): the HTTP status line, "connected
 * to ...", a COMMAND's exit status and the first bytes of its output, or
 * why the check failed; longer text is cut, at a character boundary.
 */
#define AGORA_HEALTH_OUTPUT_MAX 256

/*
 * A URI the agent fetches into the task's sandbox before it starts it
 * (ABI 2.3; Mesos' CommandInfo.URI, Marathon's and Chronos' `fetch`),
 * with agora-fetcher: http, https or file. A fetch that fails ends the
 * task TASK_FAILED, reason REASON_FETCHER_FAILED, with a message naming
 * the URI (its userinfo and query left out).
 */
struct agora_fetch_uri {
    const char *uri;
    const char *output_file; /* NULL: the last segment of the URI's path;
                              * else a path relative to the sandbox      */
    int extract;    /* unpack .tar(.gz|.bz2|.xz), .tgz, .txz, .zip, and
                     * decompress a lone .gz (Mesos' default is 1)   */
    int executable; /* chmod 0755; never unpacked                     */
    int cache;      /* keep a copy on the agent for the next task      */
};

/* What a framework asks an agent to run. Borrowed by the call. */
struct agora_task_spec {
    const char *task_id;     /* unique in the cluster                        */
    const char *name;
    const char *command;     /* run by /bin/sh -c; NULL when argv is used
                              * (both NULL: only with a container, whose
                              * image brings its entrypoint)               */
    const char *const *argv; /* NULL-terminated; used when command is NULL   */
    const struct agora_kv *env;
    size_t nenv;
    const char *user;        /* NULL: the agent's user                       */
    const struct agora_resources *resources; /* includes the task's ports    */
    const struct agora_kv *labels;
    size_t nlabels;
    double kill_grace_period; /* seconds between SIGTERM and SIGKILL         */
    const struct agora_health_check *health; /* NULL: none                   */
    const char *container_json; /* NULL: none; a JSON container description  */
    /* ---- ABI 2.3: the master reads these only from a plugin of 2.3 or
     *      later, and reads an older plugin's array at its own stride ---- */
    const struct agora_fetch_uri *fetch; /* nfetch of them, fetched in order */
    size_t nfetch;
};

/*
 * ABI 2.2 appends to agora_status and agora_task_info what Mesos'
 * TaskStatus and Marathon's task carry beyond the state: where the task
 * is reached, its ports, its container's status and its last health
 * check's result. The master allocates both structs at its own size, so
 * a plugin reads these fields only from a master of 2.2 or later
 * (agora_api_minor(api) >= 2); a 2.1 plugin never sees them. All are
 * borrowed like the rest of the struct, and empty (NULL, 0) when unknown.
 *
 * ip_addresses: the IP addresses of the task, as its agent reported them
 *   in the status (Mesos' container_status.network_infos[].ip_addresses):
 *   tasks share their agent's network, so it is the agent's advertised IP
 *   (--ip, or its host's first address).
 * ports: the task's ports, from its port resources ("ports" of every
 *   role), ascending, each once: $PORT0... in the task's environment
 *   when it has one role of ports.
 * container_status_json: Mesos' ContainerStatus as JSON, the part agora
 *   has: {"network_infos":[{"ip_addresses":[{"ip_address":"10.0.0.5"}]}],
 *   "executor_pid":4321}, executor_pid being the task's supervising
 *   process (its shim) and absent before it has one; NULL when the agent
 *   reported nothing of the container.
 * health_output: the result of the task's last health check when the
 *   status was made, UTF-8 text of at most AGORA_HEALTH_OUTPUT_MAX bytes:
 *   "HTTP/1.1 200 OK", "connected to 127.0.0.1:31000", "command exited
 *   with status 1: <first bytes of its output>", "connect
 *   127.0.0.1:31000: Connection refused", "no answer within 20s"...; NULL
 *   for a task without checks or before the first one. Every status of
 *   the task carries the latest one, not only health changes.
 *
 * A status the master makes (a reconciliation answer, a lost agent)
 * carries the latest of each it knows, as does agora_task_info.
 */

/* A task status update, as the framework receives it. */
struct agora_status {
    const char *task_id;
    const char *agent_id;
    const char *hostname;
    enum agora_task_state state;
    const char *reason;  /* "REASON_..." or NULL                            */
    const char *message; /* human readable, or NULL                         */
    int healthy;         /* -1 unknown, 0 unhealthy, 1 healthy               */
    double timestamp;    /* seconds since the epoch                          */
    const char *uuid;    /* NULL for reconciliation answers                   */
    const char *source;  /* "SOURCE_AGENT", "SOURCE_MASTER"                 */
    /* ---- ABI 2.2: only when agora_api_minor(api) >= 2 (see above) ---- */
    const char *const *ip_addresses;   /* nip_addresses of them          */
    size_t nip_addresses;
    const uint32_t *ports;             /* nports of them, ascending      */
    size_t nports;
    const char *container_status_json; /* or NULL                        */
    const char *health_output;         /* or NULL                        */
};

/* Offers are valid until accepted, declined or rescinded; accept or
 * decline each by its id (the structs themselves are borrowed for the
 * call only). */
typedef void (*agora_offer_fn)(void *state, struct agora_framework *fw,
                               const struct agora_offer *offers, size_t n);
/* An offer taken back (its agent was lost, or it was held past
 * --offer_timeout): accepting it now fails with AGORA_ENOENT. */
typedef void (*agora_rescind_fn)(void *state, struct agora_framework *fw,
                                 const char *offer_id);
typedef void (*agora_status_fn)(void *state, struct agora_framework *fw,
                                const struct agora_status *status);

/*
 * A framework a plugin registers beyond its default one (a plugin with
 * on_offer or on_status in its descriptor gets one framework named after
 * itself, in the role of its conf). Borrowed by framework_add().
 */
struct agora_framework_spec {
    const char *name;      /* unique among this plugin's frameworks         */
    const char *role;      /* "*" when NULL                                 */
    const char *principal; /* may be NULL                                   */
    agora_offer_fn on_offer;
    agora_status_fn on_status;
    void *state;           /* passed back to on_offer / on_status           */
    agora_rescind_fn on_rescind; /* may be NULL                             */
};

/* ------------------------------------------------------------------ */
/* What the master knows: agents, tasks, itself (ABI 2.1)               */
/* ------------------------------------------------------------------ */

enum agora_agent_state {
    AGORA_AGENT_RECOVERING = 0, /* known from before a failover, not back yet */
    AGORA_AGENT_ACTIVE,
    AGORA_AGENT_UNREACHABLE,    /* not heard of past the ping timeout        */
    AGORA_AGENT_GONE
};

/* An agent, borrowed for the call it is passed to. */
struct agora_agent_info {
    const char *id;
    const char *hostname;
    enum agora_agent_state state;
    const struct agora_kv *attributes;
    size_t nattributes;
    /* All it has, reservations with their role ("cpus(web):2"). */
    const struct agora_resources *total;
    /* Neither used by tasks nor in an offer, by role likewise. */
    const struct agora_resources *free;
    double registered_time;     /* seconds since the epoch                   */
};
typedef void (*agora_agent_fn)(void *arg, const struct agora_agent_info *a);

/* A task in the master's table, borrowed for the call it is passed to. */
struct agora_task_info {
    const char *task_id;
    const char *name;
    const char *agent_id;
    const char *hostname;       /* its agent's; NULL when the agent is gone  */
    enum agora_task_state state;
    int healthy;                /* -1 unknown, 0 unhealthy, 1 healthy        */
    const char *reason;         /* of the latest status, or NULL             */
    const char *message;        /* of the latest status, or NULL             */
    double timestamp;           /* of the latest status                      */
    double launched;            /* when the master sent it to its agent      */
    const struct agora_resources *resources; /* its ports among them        */
    /* ---- ABI 2.2: only when agora_api_minor(api) >= 2; as in
     *      agora_status, the latest the master knows ---- */
    const char *const *ip_addresses;
    size_t nip_addresses;
    const uint32_t *ports;
    size_t nports;
    const char *container_status_json;
    const char *health_output;
};
typedef void (*agora_task_fn)(void *arg, const struct agora_task_info *t);

/* This master (borrowed: valid until the plugin returns to the loop). */
struct agora_master_info {
    const char *id;             /* new at each start, as Mesos' master id    */
    const char *hostname;
    const char *ip;             /* where agents and clients reach it         */
    int port;
    const char *version;        /* agora's                                   */
    int leading;                /* 1: plugins run only on the leader         */
    const char *zk;             /* --zk (zk://...), or NULL when standalone  */
    double start_time;          /* seconds since the epoch                   */
    double elected_time;
};

/*
 * An event of the master's event bus (GET /master/events): its type and
 * one line of JSON, borrowed for the call. The master's own types:
 * agent_added, agent_reregistered, agent_unreachable ({"agent_id",
 * "hostname", "state"}), leader_elected, leader_deposed,
 * plugins_reloaded; and whatever plugins publish.
 */
typedef void (*agora_event_fn)(void *arg, const char *type, const char *json);

/* ------------------------------------------------------------------ */
/* Reaching outside: HTTP, fds, processes (ABI 2.1)                     */
/* ------------------------------------------------------------------ */

/*
 * An outbound HTTP/1.1 request, borrowed by http_request() (everything
 * is copied). Zero it, then set what you need: later minors append
 * fields, and the master reads only those of the minor a plugin was
 * built against, so a zeroed field always means "the default".
 *
 * http:// only for now: an https:// URL is refused with AGORA_ENOTSUP
 * when http_request() is called (https through the same interface where
 * the build has TLS is for later). Redirects are not followed: read the
 * status and the Location header. Host names are resolved without
 * blocking the loop.
 */
struct agora_http_request {
    const char *method;         /* NULL: "GET"                             */
    const char *url;            /* http://host[:port][/path][?query]       */
    const char *const *headers; /* "Name: value" strings, NULL-terminated;
                                 * NULL: none (Host and Content-Length are
                                 * added by the master)                    */
    const void *body;           /* may be NULL                             */
    size_t body_len;
    double timeout;             /* seconds for the whole request; 0: the
                                 * default AGORA_HTTP_TIMEOUT; < 0: none   */
    double connect_timeout;     /* seconds to connect (resolution
                                 * included); 0: AGORA_HTTP_CONNECT_TIMEOUT */
    size_t max_body;            /* largest response body taken; a bigger
                                 * one ends with AGORA_ETOOBIG; 0: the
                                 * default AGORA_HTTP_BODY_MAX             */
    int keepalive;              /* 1: the connection may be reused by a
                                 * later request to the same host:port     */
};

#define AGORA_HTTP_TIMEOUT 30.0
#define AGORA_HTTP_CONNECT_TIMEOUT 10.0
#define AGORA_HTTP_BODY_MAX (8u * 1024 * 1024)

/* What came back, borrowed for the callback it is passed to. */
struct agora_http_response {
    int status;        /* 0 when no status line arrived                    */
    const char *body;  /* the whole body, NUL-terminated ("" when empty);
                        * NULL when err != 0                               */
    size_t len;
    const char *error; /* err != 0: why, e.g. "connect to 127.0.0.1:9:
                        * Connection refused"; "" otherwise               */
};

/*
 * The request ended. err is 0 when the whole response arrived, whatever
 * its status, else an agora_err: AGORA_ECONNECT (no address accepted a
 * connection), AGORA_ERESOLVE, AGORA_ETIMEDOUT, AGORA_ECLOSED (the peer
 * closed early), AGORA_EPROTO (not HTTP), AGORA_ETOOBIG (the body, or
 * the header block, over its limit), AGORA_ENOMEM. r is never NULL.
 * The handle is invalid once this has begun.
 */
typedef void (*agora_http_fn)(void *arg, int err,
                              const struct agora_http_response *r);

/* fd watchers: what to wait for, and what happened. */
#define AGORA_FD_READ 1
#define AGORA_FD_WRITE 2
#define AGORA_FD_ERROR 4 /* the fd is not valid (closed under the watcher):
                          * the watcher is stopped, its handle invalid once
                          * the callback has begun                        */

/* events: the AGORA_FD_* bits that are ready. The watcher stays active
 * (level-triggered: called again while the fd stays ready) until
 * fd_watch_stop(), which the callback may call. */
typedef void (*agora_fd_fn)(void *arg, struct agora_watch *w, int fd,
                            int events);

/* A child process to start, borrowed by spawn() (everything is copied). */
struct agora_spawn {
    const char *const *argv; /* NULL-terminated, at least argv[0]: a path,
                              * or a name looked up in the master's PATH  */
    const char *const *env;  /* "NAME=value", NULL-terminated; NULL: the
                              * master's environment                       */
    const char *cwd;         /* NULL: the master's working directory      */
};

/* The child ended: exit_code (0-255) and sig 0 when it exited, or
 * exit_code -1 and sig the signal that killed it. The handle is valid
 * until this returns (proc_pid() works, proc_kill() is AGORA_ENOENT). */
typedef void (*agora_exit_fn)(void *arg, struct agora_proc *pr,
                              int exit_code, int sig);

/* ------------------------------------------------------------------ */
/* The services table                                                   */
/* ------------------------------------------------------------------ */

/*
 * Passed to init(); valid until fini() returns. `size` is the table's
 * size as the master built it: a plugin that uses a member appended in a
 * later minor checks `offsetof(struct agora_api, member) < api->size`.
 *
 * Strings returned by the master are borrowed: valid for the life of the
 * object they belong to (request, plugin) unless a comment says otherwise.
 */
struct agora_api {
    uint32_t size;

    /* -- logging and errors -- */
    void (*log)(struct agora_host *h, enum agora_log_level level,
                const char *fmt, ...) AGORA_PRINTF(3, 4);
    const char *(*strerror)(int err);

    /* -- configuration: the raw value of any key of the plugin's conf,
     *    core keys included ("port", "role"); NULL when unset -- */
    const char *(*conf_get)(struct agora_host *h, const char *key);

    /* -- time: the loop's wall clock, seconds since the epoch -- */
    double (*now)(struct agora_host *h);

    /* -- timers: first after `after` seconds, then every `repeat`
     *    seconds (0 = once); the handle in *out. 0, AGORA_EINVAL (no fn,
     *    a negative time) or AGORA_ENOMEM. -- */
    int (*timer_start)(struct agora_host *h, double after, double repeat,
                       agora_timer_fn fn, void *arg, struct agora_timer **out);
    void (*timer_stop)(struct agora_host *h, struct agora_timer *t);

    /* -- HTTP requests (borrowed strings, valid until the reply) -- */
    const char *(*req_method)(struct agora_req *r);
    const char *(*req_path)(struct agora_req *r); /* decoded, no query      */
    const char *(*req_param)(struct agora_req *r, const char *name);
    /* The n-th (from 0) value of a query argument, decoded; NULL past it. */
    const char *(*req_query)(struct agora_req *r, const char *name,
                             size_t n);
    const char *(*req_header)(struct agora_req *r, const char *name);
    /* The body, NUL-terminated; *len its length (NULL allowed). */
    const char *(*req_body)(struct agora_req *r, size_t *len);

    /* -- HTTP replies -- */
    int (*reply_header)(struct agora_req *r, const char *name,
                        const char *value);
    /* Copies body; content_type NULL means "application/json". */
    int (*reply)(struct agora_req *r, int status, const char *content_type,
                 const void *body, size_t len);
    /* Keep the request open past the handler; reply() later. */
    int (*defer)(struct agora_req *r);

    /* -- streams: a chunked response fed over time (SSE, NDJSON).
     *    Every `keepalive` seconds without a write, keepalive_text is
     *    sent (e.g. ":\n\n" for SSE); 0 disables. The handle in *out.
     *    0, AGORA_ESTATE (r is not a pending request of this plugin, or
     *    was answered) or AGORA_ENOMEM. -- */
    int (*stream_open)(struct agora_req *r, const char *content_type,
                       double keepalive, const char *keepalive_text,
                       agora_stream_close_fn on_close, void *arg,
                       struct agora_stream **out);
    int (*stream_write)(struct agora_stream *s, const void *data, size_t len);
    /* Ends the stream; on_close is not called for a close the plugin made. */
    void (*stream_close)(struct agora_stream *s);

    /* -- store, in the plugin's namespace (see above) -- */
    int (*store_get)(struct agora_host *h, const char *key,
                     agora_store_fn cb, void *arg);
    int (*store_put)(struct agora_host *h, const char *key, const void *value,
                     size_t len, int64_t version, agora_store_fn cb,
                     void *arg);
    int (*store_delete)(struct agora_host *h, const char *key,
                        int64_t version, agora_store_fn cb, void *arg);
    int (*store_list)(struct agora_host *h, const char *key,
                      agora_store_fn cb, void *arg);

    /* -- events: published on the master's event stream (GET
     *    /master/events) as `event: <type>` with `json` as data -- */
    int (*publish)(struct agora_host *h, const char *type, const char *json);

    /* -- metrics: "<plugin>/<name>" in /metrics/snapshot -- */
    int (*metric_set)(struct agora_host *h, const char *name, double value);
    int (*metric_add)(struct agora_host *h, const char *name, double delta);

    /* -- frameworks, offers and tasks -- */
    /* The plugin's default framework, or NULL when it has none. */
    struct agora_framework *(*framework_default)(struct agora_host *h);
    int (*framework_add)(struct agora_host *h,
                         const struct agora_framework_spec *spec,
                         struct agora_framework **out);
    void (*framework_remove)(struct agora_host *h,
                             struct agora_framework *fw);
    const char *(*framework_id)(struct agora_framework *fw);
    /* Launch tasks on an offer; the unused rest returns to the allocator. */
    int (*accept)(struct agora_framework *fw, const char *offer_id,
                  const struct agora_task_spec *tasks, size_t n);
    /* Declines an offer, refusing for refuse_seconds (< 0: the default
     * 5 s; 0: none) any offer of its agent that holds no more than this
     * one did, as Mesos' filters do: when more is free there (a task
     * ended), the agent is offered again at once. */
    int (*decline)(struct agora_framework *fw, const char *offer_id,
                   double refuse_seconds);
    /* No more offers until revive. */
    int (*suppress)(struct agora_framework *fw);
    /* Offers again, and clears every refuse filter of the framework. */
    int (*revive)(struct agora_framework *fw);
    int (*kill)(struct agora_framework *fw, const char *task_id);
    /* Ask for the latest status of these tasks (n == 0: of all of them);
     * the answers arrive through on_status. */
    int (*reconcile)(struct agora_framework *fw, const char *const *task_ids,
                     size_t n);
    /* Launches tasks on an agent of the plugin's choosing, without an
     * offer (for plugins that place tasks themselves). A task that cannot
     * run (invalid, too few free resources, agent gone) is answered with
     * a TASK_ERROR or TASK_DROPPED status, not an error.
     *
     * Launches (here and in accept) are idempotent by task id: a task
     * whose id is in the master's table (live, or ended and still kept)
     * is not run again; the framework gets its current status instead,
     * from the master (uuid NULL, source SOURCE_MASTER, reason
     * REASON_TASK_ALREADY_EXISTS). The id of another framework's task is
     * answered with TASK_ERROR (REASON_TASK_INVALID). */
    int (*launch)(struct agora_framework *fw, const char *agent_id,
                  const struct agora_task_spec *tasks, size_t n);

    /* ---- appended in ABI 2.1: check offsetof() < size before use ---- */

    /* -- the master's events: fn(arg, type, json) for each event of
     *    `type` (NULL: all) published from now on. It runs on a later
     *    turn of the loop, never inside the call that published the
     *    event, so it may call anything in this table. 0, AGORA_EINVAL
     *    or AGORA_ENOMEM; the subscription in *out. -- */
    int (*subscribe)(struct agora_host *h, const char *type,
                     agora_event_fn fn, void *arg, struct agora_sub **out);
    /* No event reaches the subscription after this call. */
    void (*unsubscribe)(struct agora_host *h, struct agora_sub *s);

    /* -- agents: fn(arg, agent) for each agent the master knows, now,
     *    before the call returns. 0 or AGORA_ENOMEM. -- */
    int (*agents_each)(struct agora_host *h, agora_agent_fn fn, void *arg);
    /* fn(arg, agent) once, before the call returns; AGORA_ENOENT when
     * the master knows no such agent. */
    int (*agent_get)(struct agora_host *h, const char *agent_id,
                     agora_agent_fn fn, void *arg);

    /* -- tasks of a framework in the master's table, live ones and
     *    ended ones it still keeps, in launch order; fn runs before the
     *    call returns. -- */
    int (*tasks_each)(struct agora_framework *fw, agora_task_fn fn,
                      void *arg);
    /* AGORA_ENOENT when the framework has no such task. */
    int (*task_get)(struct agora_framework *fw, const char *task_id,
                    agora_task_fn fn, void *arg);

    /* -- this master: fills *out. 0. -- */
    int (*master_info)(struct agora_host *h, struct agora_master_info *out);
    /* Gives up the lead (Marathon's DELETE /v2/leader), on a later turn
     * of the loop: reply to the request first. Every plugin then gets
     * on_leader(0) and fini, and store writes not yet applied fail with
     * AGORA_ENOTLEADER (see fencing in the store section); the next
     * master in line is elected (with --zk), or this one again when it
     * is alone. 0 or AGORA_ENOTLEADER. */
    int (*abdicate)(struct agora_host *h);

    /* -- readiness: a plugin is ready from init on; one that is not
     *    (still loading its state, say) says why, and the master's GET
     *    /health answers 503 naming it, and /plugins shows it, until it
     *    says it is ready again. 0 or AGORA_ENOMEM. -- */
    int (*set_ready)(struct agora_host *h, int ready, const char *why);

    /* -- a histogram "<plugin>/<name>" (a latency, a size): the master
     *    keeps the last 1,000 observations and /metrics/snapshot shows
     *    <name> (the last), <name>/count, /min, /max, /p50, /p90, /p95,
     *    /p99 and /p999 of them. AGORA_EINVAL for a name already used by
     *    metric_set/metric_add, or a value that is not finite. -- */
    int (*metric_observe)(struct agora_host *h, const char *name,
                          double value);

    /* ---- ABI 2.1: outbound I/O ---- */

    /* -- HTTP client (see struct agora_http_request). cb(arg, err, r)
     *    runs once, on a later turn of the loop, never inside this call.
     *    Returns 0 with the handle in *out (out may be NULL), or at once,
     *    without a callback: AGORA_EINVAL (no url or cb), AGORA_EURL (not
     *    a URL), AGORA_ENOTSUP (https://), AGORA_ENOMEM. Unloading the
     *    plugin cancels what is pending: no callback after unload. -- */
    int (*http_request)(struct agora_host *h,
                        const struct agora_http_request *rq,
                        agora_http_fn cb, void *arg, struct agora_http **out);
    /* Ends rq at once, its connection closed; cb is not called. Not once
     * cb has begun (the handle is gone); an unknown handle is ignored. */
    void (*http_cancel)(struct agora_host *h, struct agora_http *rq);
    /* The first response header called name (any case), or NULL. Only
     * inside the callback r was passed to; borrowed for that call. */
    const char *(*http_header)(const struct agora_http_response *r,
                               const char *name);

    /* -- fd watchers: fn(arg, w, fd, events) when fd, which the plugin
     *    owns and keeps open, is ready for `events` (AGORA_FD_READ and/or
     *    AGORA_FD_WRITE); on a later turn of the loop, never inside this
     *    call. 0, AGORA_EINVAL (no fn, no event, fd not open) or
     *    AGORA_ENOMEM; the watcher in *out. Stop the watcher before
     *    closing the fd; unloading stops it, and never closes the fd. -- */
    int (*fd_watch)(struct agora_host *h, int fd, int events, agora_fd_fn fn,
                    void *arg, struct agora_watch **out);
    /* Changes what w waits for. 0 or AGORA_EINVAL. */
    int (*fd_watch_set)(struct agora_host *h, struct agora_watch *w,
                        int events);
    /* No callback after this; allowed inside w's own callback. */
    void (*fd_watch_stop)(struct agora_host *h, struct agora_watch *w);

    /* -- child processes: started without blocking, in a new session
     *    (their own process group), stdin and stdout on /dev/null, stderr
     *    the master's log. fn(arg, pr, exit_code, sig) runs once, on a
     *    later turn of the loop. 0 with the handle in *out (out may be
     *    NULL), or at once: AGORA_EINVAL (no argv[0] or fn), AGORA_ENOENT
     *    (no such program or cwd), AGORA_ENOTSUP (the master's loop
     *    cannot watch children), AGORA_ENOMEM, AGORA_EIO (any other
     *    failure to start). Unloading the plugin sends SIGTERM to the
     *    process group of each child still running and forgets it: no
     *    exit callback, and no zombie (the master reaps it). -- */
    int (*spawn)(struct agora_host *h, const struct agora_spawn *sp,
                 agora_exit_fn fn, void *arg, struct agora_proc **out);
    /* Sends sig to pr's process group (the child and what it started).
     * 0, AGORA_EINVAL (not a signal) or AGORA_ENOENT (it has already
     * exited, its callback is on its way). */
    int (*proc_kill)(struct agora_host *h, struct agora_proc *pr, int sig);
    /* Its process id. */
    long (*proc_pid)(struct agora_host *h, struct agora_proc *pr);

    /* ---- ABI 2.1: explicit acknowledgements ---- */

    /*
     * Explicit acknowledgements, opt-in per framework (Mesos' explicit
     * acks). Off (the default), the master acknowledges an agent's update
     * to the agent as soon as on_status returns. On, it waits until the
     * plugin calls acknowledge() for the update's uuid, typically once
     * its own store write completed; until then the agent keeps the
     * update on disk and re-sends it (1 s doubling to 60 s, and at once
     * when it subscribes again), and each re-sent update is delivered to
     * on_status again, with the same uuid: on_status is at-least-once,
     * so a framework recognises an update it already handled by its uuid
     * and acknowledges it again. An update re-sent after the plugin
     * acknowledged it while its agent was away is acknowledged by the
     * master, not delivered again. Statuses the master makes (uuid NULL:
     * reconciliation answers, refused launches, lost agents) need no
     * acknowledgement.
     *
     * The default framework exists from the start of init() on a master
     * that has these calls, so init() may turn it on before any update
     * can arrive; a framework from framework_add() is turned on right
     * after it is added. Turning it off acknowledges every update still
     * waiting. Unloading the plugin (or removing the framework) forgets
     * the updates waiting, unacknowledged: their agents re-send them and
     * the next generation receives them again if it turned explicit
     * acknowledgements on too (without it, the master acknowledges a
     * re-sent update it delivered before without delivering it again).
     * 0, AGORA_EINVAL for a NULL fw, or AGORA_ENOMEM.
     */
    int (*framework_set_explicit_acks)(struct agora_framework *fw, int on);
    /*
     * Acknowledges one update delivered to fw's on_status (its task_id
     * and uuid, as the status gave them; they are copied). The agent
     * hears it on its stream now, or, if it is not connected, when it
     * re-sends the update. 0; AGORA_EINVAL for a NULL argument;
     * AGORA_ENOENT for an update fw does not wait on (an unknown uuid,
     * another task's, one acknowledged already, or any when explicit
     * acknowledgements are off); AGORA_ENOMEM.
     */
    int (*acknowledge)(struct agora_framework *fw, const char *task_id,
                       const char *uuid);

    /* ---- ABI 2.1: store, continued (see the store section) ---- */

    /* -- every child of key with a value, in r->entries. -- */
    int (*store_get_children)(struct agora_host *h, const char *key,
                              agora_store_fn cb, void *arg);
    /* -- n operations, all or nothing; ops are copied. -- */
    int (*store_txn)(struct agora_host *h,
                     const struct agora_store_txn_op *ops, size_t n,
                     agora_store_fn cb, void *arg);
    /* -- fn for each write of prefix or below it; the handle in *out.
     *    0, AGORA_EINVAL (bad prefix, no fn) or AGORA_ENOMEM. -- */
    int (*store_watch)(struct agora_host *h, const char *prefix,
                       agora_store_watch_fn fn, void *arg,
                       struct agora_store_watch **out);
    void (*store_unwatch)(struct agora_host *h, struct agora_store_watch *w);

    /* ---- appended in ABI 2.2 ---- */

    /* The master's AGORA_ABI_MINOR. Later minors keep it here, so that a
     * plugin learns which fields of the structs the master fills it may
     * read, also when a minor appends no member to this table. Read it
     * through agora_api_minor(), which knows the masters before it. */
    uint32_t abi_minor;

    /* ---- appended in ABI 2.4 (check offsetof against size) ---- */

    /*
     * Who r is: the principal the master authenticated it as (from its
     * --credentials, a bearer token's "sub", or the user of the plugin's
     * own http_credentials), or NULL when r's realm asks for none
     * (docs/security.md). Borrowed until r is answered.
     */
    const char *(*req_principal)(struct agora_req *r);
};

/*
 * The ABI minor of the master behind api: its abi_minor from 2.2 on;
 * before, what the table's size says (2.1 appended subscribe). A field
 * appended in minor N to a struct the master fills is there only when
 * this is >= N.
 */
static inline uint32_t agora_api_minor(const struct agora_api *api)
{
    if (offsetof(struct agora_api, abi_minor) < api->size)
        return api->abi_minor;
    return offsetof(struct agora_api, subscribe) < api->size ? 1u : 0u;
}

/* ------------------------------------------------------------------ */
/* The descriptor                                                       */
/* ------------------------------------------------------------------ */

struct agora_plugin {
    uint32_t abi_major; /* AGORA_ABI_MAJOR; always the first field        */
    uint32_t abi_minor; /* AGORA_ABI_MINOR                                 */
    uint32_t size;      /* sizeof(struct agora_plugin) as built            */
    const char *name;   /* [a-z0-9_]+: store namespace, URL prefix          */
    const char *version;
    const char *description;

    const struct agora_conf_field *conf; /* ends with key == NULL; or NULL  */
    size_t conf_size;                    /* size of the plugin's conf block */
    const struct agora_route *routes;    /* ends with path == NULL; or NULL */

    /* Required. Builds the plugin's state (from the store, for anything
     * that must survive a restart). Returns 0, or an agora_err to refuse
     * the load; `conf` is valid until fini. */
    int (*init)(struct agora_host *h, const struct agora_api *api,
                const void *conf, void **state);
    /* Required. Frees the state. Timers, streams, deferred requests,
     * store callbacks, subscriptions, outbound HTTP requests, fd watchers
     * and children still open are released by the master afterwards
     * (see the table's comments). */
    void (*fini)(void *state);

    /* Optional: a framework named after the plugin. */
    agora_offer_fn on_offer;
    agora_status_fn on_status;
    /* Optional: this master was elected (1) or deposed (0). When
     * deposed, the store already refuses the plugin's writes (fencing,
     * ABI 2.2): AGORA_ENOTLEADER. */
    void (*on_leader)(void *state, int leading);
    /* Optional: an offer of the default framework was taken back. */
    agora_rescind_fn on_rescind;

    uintptr_t reserved[8]; /* zero; room to grow */
};

/*
 * Fills the ABI fields of a descriptor by name; every other field follows
 * by name too, so that no field can shift into another's place:
 *
 *     static const struct agora_plugin hello = {
 *         AGORA_PLUGIN_INIT,
 *         .name = "hello",
 *         .version = "1.0",
 *         .init = hello_init,
 *         .fini = hello_fini,
 *     };
 *
 * (C99 and C++20; before C++20, set the fields of a static descriptor by
 * assignment in agora_plugin_entry().)
 */
#define AGORA_PLUGIN_INIT                                                    \
    .abi_major = AGORA_ABI_MAJOR, .abi_minor = AGORA_ABI_MINOR,              \
    .size = (uint32_t)sizeof(struct agora_plugin)

/* The entry point a plugin defines. */
AGORA_EXPORT const struct agora_plugin *agora_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* AGORA_PLUGIN_H */
