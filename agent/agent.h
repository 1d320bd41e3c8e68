/*
 * agent.h - agora-agent: configuration and the state its loop owns.
 *
 * The agent is two layers over one libev loop:
 *   control  (agent/: main.c, agent.c, agent_tasks.c, resources.c,
 *             link.c, leader_watch.c, updates.c, journal.c, recovery.c,
 *             agent_http.c, state_json.c, files.c, api_v1*.c): talks
 *             to the master over core/base/'s HTTP client, keeps every
 *             status update until the master acknowledges it,
 *             checkpoints tasks, serves /state, /files, /monitor and
 *             the v1 operator API.
 *   exec     (exec/, the agora_exec library; exec/exec.h): runs tasks
 *             under a per-task shim process, isolates them, kills them,
 *             checks their health, re-adopts them after a restart.
 * Calls go one way, control -> exec: the exec layer reports every state
 * change through the hooks given to exec_init() (agent.c fills them with
 * agent_task_update() and friends); the control layer never touches a
 * process.
 *
 * On-disk layout under --work_dir:
 *   meta/agent_id                 the agent's id, created once
 *   meta/journal                  the control layer's checkpoint (journal.h):
 *                                 task records (spec, framework, pids,
 *                                 start time, state) and pending status
 *                                 updates, replayed at start
 *   meta/tasks/<task_id>          the exec layer's meta file (pids, end)
 *   sandboxes/<task_id>/          the task's sandbox (stdout, stderr, cwd)
 * meta/ and what it holds are the agent's alone (0700, files 0600: the
 * journal holds the tasks' environments); sandboxes/ is 0711 and a
 * sandbox 0750, owned by the task's user.
 */
#ifndef AGORA_AGENT_H
#define AGORA_AGENT_H

#include <stdint.h>
#include <sys/types.h>

#include <ev.h>

#include <agora/plugin.h>

#include "auth.h"
#include "conf.h"
#include "map.h"
#include "router.h"

struct http_server;
struct agent_link;
struct exec;
struct hc_client;
struct journal;
struct agent_updates;
struct agent_task;
struct agent_fetches;
struct agent_images;

/* Completed tasks kept for /state (the newest ones). */
#define AGENT_COMPLETED_MAX 1000

/* Flags of agora-agent; the table in main.c describes each. */
struct agent_conf {
    char *master;      /* host:port, a comma list, or zk://...          */
    char *ip;
    int64_t port;
    char *hostname;
    char *work_dir;
    char *resources;   /* "cpus:4;mem:2048;..."; unset ones are detected */
    char *attributes;  /* "rack:r1;zone:a"                              */
    char *isolation;   /* "cgroups", "posix", or "" for the best one    */
    char *recover;     /* "reconnect" or "cleanup"                      */
    char *cgroups_root; /* name of agora's cgroup under each hierarchy  */
    int cgroups_enable_cfs; /* cpus also a CFS quota (hard limit)       */
    char *log_level;
    double registration_backoff_max;
    int64_t max_body_size;
    char *credential;  /* file of the principal and secret, or ""    */
    int switch_user;   /* tasks run as their user (root agents only)  */
    char *default_user; /* of tasks that name none; "": nobody as root */
    char *ssl_cert_file, *ssl_key_file, *ssl_ca_file;
    int ssl_require_client_cert;
    char *fetcher_cache_dir;      /* "": <work_dir>/fetch_cache          */
    int64_t fetcher_cache_size;   /* bytes a user's cache keeps          */
    int64_t fetcher_max_size;     /* bytes one URI may have              */
    int64_t fetcher_max_total;    /* bytes a task's fetch may write      */
    double fetcher_stall_timeout; /* a download moving no byte fails     */
    char *allowed_volume_paths;   /* container volumes' host dirs, ':'    */
    /* Images (task_image.h, fetcher/fetch_image.h). */
    char *docker_registry;         /* default registry URL, or a dir     */
    char *docker_config;           /* credentials file, or ""            */
    char *docker_registry_ca_file; /* CA a registry's TLS is checked by  */
    int64_t image_max_bytes;       /* bytes one image may unpack to      */
    double image_gc_interval;      /* between collections; 0: off        */
    int64_t image_gc_max_bytes;    /* unused images kept up to this      */
    char *containerizers;         /* "mesos", "docker,mesos"; "": mesos
                                   * and docker where an engine answers */
    char *docker;                 /* the docker CLI                       */
    char *network_bridge;         /* BRIDGE tasks' bridge (exec/net.h)    */
    char *network_cidr;           /* its subnet                           */
};

extern const conf_field agent_flags[];

struct agent_attr {
    char *key, *value;
};

struct agent {
    struct ev_loop *loop;
    struct agent_conf conf;
    char *id;                       /* from meta/agent_id                */
    double start_time;
    struct agora_resources total;   /* what the agent offers             */
    struct agent_attr *attrs;
    size_t nattrs;

    struct map tasks;               /* task_id -> struct agent_task      */
    struct http_server *http;
    struct router router;
    struct hc_client *hc;           /* HTTP to the masters               */
    struct agent_link *link;        /* the master connection             */
    char *auth_header;              /* "Authorization: Basic ..." sent
                                     * to the masters, or NULL          */
    struct auth_tls tls;            /* HTTPS of the agent's API          */
    struct exec *exec;              /* the exec layer (exec/exec.h)      */
    struct agent_fetches *fetches;  /* running fetchers (task_fetch.h)   */
    struct agent_images *images;    /* the image store's upkeep
                                     * (task_image.h)                    */

    ev_signal sig_term, sig_int;
    int stopping;

    struct journal *journal;        /* <work_dir>/meta/journal            */
    struct agent_updates *updates;  /* the status update manager          */
    char *advertise_ip;             /* --ip, or this host's address when
                                     * --ip is 0.0.0.0                    */
    /* Ring of the last AGENT_COMPLETED_MAX tasks that ended and whose
     * updates were all acknowledged (read with agent_completed()). Each
     * keeps id, framework_id, name, state, healthy, pids, start_time,
     * resources and sandbox; spec_json, meta_file, exec and updates are
     * NULL. */
    struct agent_task **completed;
    size_t ncompleted, completed_next;
    int wipe;                       /* the master shut this agent down:
                                     * forget its id and journal at exit  */
    int exec_ready;                 /* exec_init() succeeded              */
    ev_timer shutdown_timer;        /* after `shutdown`: waits for tasks  */
    /* The docker containerizer (agent_containers.c): on when
     * --containerizers names docker (or is empty: the default) and the
     * probe found an engine. */
    struct docker_probe *docker_probe; /* started at start, or NULL       */
    int docker_ready;
    int docker_auto;                /* --containerizers empty            */
    char *docker_version;           /* the engine's, once ready           */
    double shutdown_deadline;
};

/* The loop's wall clock, seconds since the epoch. */
double agent_now(const struct agent *a);

/* ---- what the exec layer's hooks lead to (exec/exec.h) ---- */

/*
 * Records a new state (or health) of t, writes the status update to t's
 * checkpoint, and sends it to the master reliably (updates.c). reason
 * and message may be NULL; healthy is -1 when unknown. Never blocks on
 * the network.
 */
void agent_task_update(struct agent *a, struct agent_task *t,
                       enum agora_task_state state, const char *reason,
                       const char *message, int healthy);

/* Journals t's record again, after the exec layer changed pids or start
 * time (recovery.c). 0 or an agora_err. */
int agent_task_checkpoint(struct agent *a, struct agent_task *t);

/*
 * Builds the agent from its flags (taken over: a owns conf's strings):
 * work directories, agent id, resources, journal replay, exec layer,
 * recovery of the tasks, HTTP API, then the master link. Returns 0, or
 * an agora_err with the reason logged (agent_stop() cleans up anyway).
 */
int agent_start(struct agent *a, struct ev_loop *loop,
                struct agent_conf *conf);

/* Stops serving and talking to the master, syncs the journal, frees a.
 * Tasks keep running: the next agent re-adopts them. */
void agent_stop(struct agent *a);

/* ---- containerizers and networks (agent_containers.c) ---- */

/* Checks --containerizers, --network_bridge and --network_cidr before
 * the agent starts: 0, or -1 with err. */
int agent_containers_check(const struct agent_conf *c, char *err,
                           size_t errlen);
/* After recovery: undoes the BRIDGE networks of tasks that are no longer
 * alive, and starts the docker probe when --containerizers names docker.
 * Failures are logged; the agent goes on (without docker). */
void agent_containers_start(struct agent *a);
/* Cancels a running probe; frees what agent_containers_start() made. */
void agent_containers_stop(struct agent *a);

/*
 * The master refused this agent: kill every task, then leave the loop
 * and forget the agent id (the next start registers as a new agent).
 */
void agent_shutdown(struct agent *a, const char *why);

/* ---- the task table (agent_tasks.c) ---- */

/* The i-th completed task (0 = oldest), or NULL past the end; valid until
 * the next agent_task_done() or agent_tasks_free(). */
const struct agent_task *agent_completed(const struct agent *a, size_t i);

/*
 * A new task from a launch: copies id, framework_id and spec_json, reads
 * the spec's "name" and "resources" (the parsed spec is not kept: see
 * task.h), sets sandbox and meta_file. Returns 0 with
 * *out, AGORA_ENOMEM, or AGORA_EINVAL when spec_json is not a JSON object.
 * A spec whose resources do not parse still gives a task, with a reason
 * in *why (malloc'ed, the caller frees it) so it can be reported as
 * TASK_ERROR. Free with agent_task_free() unless moved to a->completed.
 */
int agent_task_new(struct agent *a, const char *id, const char *framework_id,
                   const char *spec_json, struct agent_task **out,
                   char **why);
void agent_task_free(struct agent_task *t);

/*
 * t is terminal and every update of it acknowledged: tells the exec layer
 * (exec_forget), journals its end, and moves it from a->tasks to the
 * completed ring.
 */
void agent_task_done(struct agent *a, struct agent_task *t);

/*
 * Kills t as a master's `kill` does: at once (TASK_KILLED) when its
 * launch waits for its checkpoint, else through exec_kill() with grace
 * seconds (< 0: the spec's kill_grace_period). Nothing for a terminal
 * task. 0, or the agora_err of exec_kill() (logged).
 */
int agent_task_kill(struct agent *a, struct agent_task *t, double grace);

/* How many tasks of a->tasks are not terminal yet. */
size_t agent_tasks_live(struct agent *a);

/* Frees every task of a->tasks (with its updates) and the completed
 * ring; the exec layer must hold none of them any more (exec_fini()). */
void agent_tasks_free(struct agent *a);

/* ---- resources and attributes (resources.c) ---- */

/* Sets a->total from --resources plus what is detected, and a->attrs from
 * --attributes. 0 or AGORA_EINVAL with the reason logged. */
int agent_resources_init(struct agent *a);

/* "rack:r1;zone:a" -> pairs (malloc'ed; free with agent_attrs_free).
 * 0, AGORA_ENOMEM or AGORA_EINVAL with a reason in err. */
int agent_attrs_parse(const char *text, struct agent_attr **out, size_t *n,
                      char *err, size_t errlen);
void agent_attrs_free(struct agent_attr *v, size_t n);


/* ---- checkpoints and recovery (recovery.c) ---- */

struct agora_jw;

/* Writes t's checkpoint record (the journal's task record) into w:
 * {"id", "framework_id", "spec_json", "shim_pid", "pid", "start_time",
 *  "state", "healthy", "next_seq"}. */
void agent_task_record(struct agora_jw *w, const struct agent_task *t);

/* Journals t's record; done(arg, err) runs once it is durable (NULL:
 * no callback). 0 or an agora_err (then done never runs).
 * agent_task_checkpoint() is this without a callback. */
int agent_task_journal(struct agent *a, struct agent_task *t,
                       void (*done)(void *arg, int err), void *arg);

/* Reads (or creates) meta/agent_id into a->id. 0 or an agora_err. */
int agent_load_id(struct agent *a);

/* Opens the journal, replaying it into a->tasks. 0 or an agora_err. */
int agent_journal_open(struct agent *a);

/* After exec_init(): re-adopts (or cleans up) every replayed task. */
int agent_recover(struct agent *a);

#endif /* AGORA_AGENT_H */
