/*
 * agent.c - agora-agent's life: start, signals, tasks, completed tasks,
 * shutdown by the master, stop.
 *
 * Stopping (SIGTERM, SIGINT) never kills a task: the tasks run under
 * their shims, and the next agent re-adopts them from the journal. Only
 * the master's `shutdown` event kills them.
 */
#include "agent.h"
#include "fs.h"
#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/resources.h>
#include <agora/sdk.h>

#include "exec.h"
#include "http.h"
#include "http_client.h"
#include "http_api.h"
#include "journal.h"
#include "link.h"
#include "log.h"
#include "task.h"
#include "updates.h"

/* How long a shutdown waits for the tasks to end before leaving. */
#define AGENT_SHUTDOWN_WAIT 60.0

double agent_now(const struct agent *a)
{
    return ev_now(a->loop);
}

/* ------------------------------------------------------------------ */
/* Tasks                                                                */
/* ------------------------------------------------------------------ */

void agent_task_free(struct agent_task *t)
{
    if (t == NULL)
        return;
    free(t->id);
    free(t->framework_id);
    free(t->spec_json);
    free(t->name);
    agora_resources_free(&t->resources);
    free(t->sandbox);
    free(t->meta_dir);
    free(t->updates); /* emptied by updates_task_free() when it had any */
    free(t);
}

/* The spec's "name", for /state; 0 or AGORA_ENOMEM. */
static int agent_task_name(struct agent_task *t, yajl_val spec)
{
    const char *name;

    if (agora_json_str(spec, "name", &name) < 0 || *name == '\0')
        return 0;
    return (t->name = strdup(name)) ? 0 : AGORA_ENOMEM;
}

/* Parses the spec's "resources"; a reason in *why when they are bad. */
static int agent_task_resources(struct agent_task *t, yajl_val spec, char **why)
{
    const char *text = NULL;
    char err[256];

    if (agora_json_str(spec, "resources", &text) < 0)
        return 0; /* none asked for */
    if (agora_resources_parse(text, &t->resources, err, sizeof(err)) == 0)
        return 0;
    if (asprintf(why, "invalid resources: %s", err) < 0)
        return AGORA_ENOMEM;
    return 0;
}

/*
 * What the control layer needs of the spec (name, resources) is read
 * here; the parsed tree is not kept: about 1 KB a task against the 200
 * bytes of the text, and only launch and recovery (exec_spec_parse), a
 * COMMAND health check and /state's labels read the spec again.
 */
int agent_task_new(struct agent *a, const char *id, const char *framework_id,
                   const char *spec_json, struct agent_task **out, char **why)
{
    struct agent_task *t = calloc(1, sizeof(*t));
    yajl_val spec = NULL;
    char err[256];
    int rc = AGORA_ENOMEM;

    *why = NULL;
    if (t == NULL)
        return AGORA_ENOMEM;
    t->healthy = -1;
    t->state = AGORA_TASK_STAGING;
    if ((t->id = strdup(id)) && (t->framework_id = strdup(framework_id)) &&
        (t->spec_json = strdup(spec_json)) &&
        asprintf(&t->sandbox, "%s/sandboxes/%s", a->conf.work_dir, id) >= 0 &&
        asprintf(&t->meta_dir, "%s/meta/tasks/%s", a->conf.work_dir, id) >= 0 &&
        updates_task_init(a, t) == 0)
        rc = 0;
    if (rc == 0) {
        spec = agora_json_parse(spec_json, err, sizeof(err));
        if (!YAJL_IS_OBJECT(spec))
            rc = AGORA_EINVAL;
    }
    if (rc == 0)
        rc = agent_task_name(t, spec);
    if (rc == 0)
        rc = agent_task_resources(t, spec, why);
    if (spec)
        yajl_tree_free(spec);
    if (rc < 0) {
        agent_task_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* Adds t (already out of a->tasks) to the ring, dropping the oldest. */
static void agent_completed_add(struct agent *a, struct agent_task *t)
{
    size_t slot = a->completed_next;

    if (a->completed == NULL) {
        a->completed = calloc(AGENT_COMPLETED_MAX, sizeof(*a->completed));
        if (a->completed == NULL) {
            agent_task_free(t);
            return;
        }
    }
    agent_task_free(a->completed[slot]);
    a->completed[slot] = t;
    a->completed_next = (slot + 1) % AGENT_COMPLETED_MAX;
    if (a->ncompleted < AGENT_COMPLETED_MAX)
        a->ncompleted++;
}

const struct agent_task *agent_completed(const struct agent *a, size_t i)
{
    size_t oldest;

    if (i >= a->ncompleted)
        return NULL;
    oldest = a->ncompleted < AGENT_COMPLETED_MAX ? 0 : a->completed_next;
    return a->completed[(oldest + i) % AGENT_COMPLETED_MAX];
}

static void agent_journal_forget(struct agent *a, const char *id)
{
    struct agora_jw *w = agora_jw_new();
    const char *json = NULL;
    size_t len;
    int rc = AGORA_ENOMEM;

    if (w) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "task_id", id);
        agora_jw_obj_close(w);
        json = agora_jw_result(w, &len);
    }
    /* Lost, the task is only reported once more after a restart. */
    if (json)
        rc = journal_append(a->journal, JOURNAL_FORGET, json, len, NULL, NULL);
    if (rc < 0 && rc != AGORA_ECANCELED)
        log_warn("agent", "cannot journal the end of task %s: %s", id,
                 agora_strerror(rc));
    agora_jw_free(w);
}

void agent_task_done(struct agent *a, struct agent_task *t)
{
    exec_forget(a->exec, t);
    t->exec = NULL; /* freed by exec_forget() */
    agent_journal_forget(a, t->id);
    map_remove(&a->tasks, t->id);
    updates_task_free(a, t);
    /* Keep what /state shows of a completed task; drop the rest. */
    free(t->spec_json);
    t->spec_json = NULL;
    free(t->meta_dir);
    t->meta_dir = NULL;
    log_debug("agent", "task %s done (%s)", t->id,
              agora_task_state_name(t->state));
    agent_completed_add(a, t);
}

static void agent_free_tasks(struct agent *a)
{
    const char *id;
    void *value;
    size_t pos = 0, i;

    while (map_next(&a->tasks, &pos, &id, &value)) {
        updates_task_free(a, value);
        agent_task_free(value);
    }
    map_free(&a->tasks);
    for (i = 0; a->completed && i < AGENT_COMPLETED_MAX; i++)
        agent_task_free(a->completed[i]);
    free(a->completed);
    a->completed = NULL;
    a->ncompleted = 0;
}

/* ------------------------------------------------------------------ */
/* Shutdown by the master                                               */
/* ------------------------------------------------------------------ */

static size_t agent_live_tasks(struct agent *a)
{
    const char *id;
    void *value;
    size_t pos = 0, n = 0;

    while (map_next(&a->tasks, &pos, &id, &value))
        if (!agora_task_state_terminal(((struct agent_task *)value)->state))
            n++;
    return n;
}

static void agent_on_shutdown_tick(struct ev_loop *loop, ev_timer *w,
                                   int revents)
{
    struct agent *a = w->data;
    size_t live = agent_live_tasks(a);

    (void)revents;
    if (live > 0 && agent_now(a) < a->shutdown_deadline)
        return;
    if (live > 0)
        log_error("agent", "%zu tasks still running after %.0f s; leaving",
                  live, AGENT_SHUTDOWN_WAIT);
    ev_timer_stop(loop, w);
    a->stopping = 1;
    ev_break(loop, EVBREAK_ALL);
}

void agent_shutdown(struct agent *a, const char *why)
{
    const char *id;
    void *value;
    size_t pos = 0;

    log_warn("agent", "shutting down (%s): killing every task", why);
    a->wipe = 1;
    while (map_next(&a->tasks, &pos, &id, &value)) {
        struct agent_task *t = value;

        if (agora_task_state_terminal(t->state))
            continue;
        if (t->updates->launch_pending)
            agent_task_update(a, t, AGORA_TASK_KILLED, "REASON_AGENT_REMOVED",
                              "the agent shut down", -1);
        else
            exec_kill(a->exec, t, -1);
    }
    a->shutdown_deadline = agent_now(a) + AGENT_SHUTDOWN_WAIT;
    ev_timer_set(&a->shutdown_timer, 0.1, 0.1);
    ev_timer_start(a->loop, &a->shutdown_timer);
}

/* After a shutdown: the next start is a new agent with no tasks. */
static void agent_wipe(struct agent *a)
{
    char *path;

    if (asprintf(&path, "%s/meta/agent_id", a->conf.work_dir) >= 0) {
        unlink(path);
        free(path);
    }
    if (asprintf(&path, "%s/meta/journal", a->conf.work_dir) >= 0) {
        unlink(path);
        free(path);
    }
    log_info("agent", "agent id %s forgotten", a->id);
}

/* ------------------------------------------------------------------ */
/* Start and stop                                                       */
/* ------------------------------------------------------------------ */

/* The exec layer's hooks (exec/exec.h): its only ways back up here. */
static void agent_hook_task_update(void *arg, struct agent_task *t,
                                   enum agora_task_state state,
                                   const char *reason, const char *message,
                                   int healthy)
{
    agent_task_update(arg, t, state, reason, message, healthy);
}

static int agent_hook_task_checkpoint(void *arg, struct agent_task *t)
{
    return agent_task_checkpoint(arg, t);
}

static double agent_hook_now(void *arg)
{
    return agent_now(arg);
}

/* After agent_prepare(): a->id and the host name are known. */
static int agent_exec_init(struct agent *a)
{
    const struct exec_conf conf = {
        .isolation = a->conf.isolation,
        .cgroups_root = a->conf.cgroups_root,
        .hostname = a->conf.hostname,
        .agent_id = a->id,
    };
    const struct exec_hooks hooks = {
        .task_update = agent_hook_task_update,
        .task_checkpoint = agent_hook_task_checkpoint,
        .now = agent_hook_now,
        .arg = a,
    };

    return exec_init(&a->exec, a->loop, &conf, &hooks);
}

static void agent_on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct agent *a = w->data;

    (void)revents;
    log_info("agent", "signal %d: stopping (tasks keep running)", w->signum);
    a->stopping = 1;
    ev_break(loop, EVBREAK_ALL);
}

static void agent_signals(struct agent *a)
{
    signal(SIGPIPE, SIG_IGN);
    ev_signal_init(&a->sig_term, agent_on_signal, SIGTERM);
    ev_signal_init(&a->sig_int, agent_on_signal, SIGINT);
    a->sig_term.data = a->sig_int.data = a;
    ev_signal_start(a->loop, &a->sig_term);
    ev_signal_start(a->loop, &a->sig_int);
}

static int agent_dirs(struct agent *a)
{
    static const char *const subs[] = {"meta/tasks", "sandboxes"};
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < sizeof(subs) / sizeof(subs[0]); i++) {
        char *path;

        if (asprintf(&path, "%s/%s", a->conf.work_dir, subs[i]) < 0)
            return AGORA_ENOMEM;
        rc = fs_mkdirs(path, 0755) == 0 ? 0 : AGORA_EIO;
        if (rc < 0)
            log_error("agent", "cannot create %s: %s", path, strerror(errno));
        free(path);
    }
    return rc;
}

static int agent_check_conf(struct agent *a)
{
    struct agent_conf *c = &a->conf;
    int level = log_level_parse(c->log_level);

    if (level < 0) {
        log_error("agent",
                  "--log_level '%s' is not debug, info, warn or "
                  "error",
                  c->log_level);
        return AGORA_EINVAL;
    }
    log_set_level((enum agora_log_level)level);
    if (c->port < 0 || c->port > 65535) {
        log_error("agent", "--port %lld is not 0..65535", (long long)c->port);
        return AGORA_EINVAL;
    }
    if (strcmp(c->recover, "reconnect") != 0 &&
        strcmp(c->recover, "cleanup") != 0) {
        log_error("agent", "--recover '%s' is not reconnect or cleanup",
                  c->recover);
        return AGORA_EINVAL;
    }
    if (c->registration_backoff_max < 1) {
        log_error("agent", "--registration_backoff_max must be at least 1s");
        return AGORA_EINVAL;
    }
    if (c->work_dir == NULL || c->work_dir[0] != '/') {
        log_error("agent", "--work_dir must be an absolute path");
        return AGORA_EINVAL;
    }
    return 0;
}

static int agent_names(struct agent *a)
{
    struct agent_conf *c = &a->conf;

    if (c->hostname == NULL || c->hostname[0] == '\0') {
        char host[256];

        if (gethostname(host, sizeof(host)) < 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        free(c->hostname);
        if ((c->hostname = strdup(host)) == NULL)
            return AGORA_ENOMEM;
    }
    a->advertise_ip = netaddr_advertise(c->ip);
    return a->advertise_ip ? 0 : AGORA_ENOMEM;
}

/* Everything before the tasks: flags, names, directories, id, journal. */
static int agent_prepare(struct agent *a)
{
    int rc = agent_check_conf(a);

    if (rc == 0)
        rc = link_init(a); /* validates --master first */
    if (rc == 0)
        rc = agent_names(a);
    if (rc == 0)
        rc = agent_dirs(a);
    if (rc == 0)
        rc = agent_load_id(a);
    if (rc == 0)
        rc = agent_resources_init(a);
    if (rc == 0)
        rc = hc_client_new(a->loop, &a->hc) == 0 ? 0 : AGORA_ENOMEM;
    if (rc == 0)
        rc = updates_init(a);
    if (rc == 0)
        rc = agent_journal_open(a);
    return rc;
}

int agent_start(struct agent *a, struct ev_loop *loop, struct agent_conf *conf)
{
    char *res;
    int rc;

    memset(a, 0, sizeof(*a));
    a->loop = loop;
    a->conf = *conf;
    memset(conf, 0, sizeof(*conf));
    a->start_time = ev_time();
    ev_init(&a->shutdown_timer, agent_on_shutdown_tick);
    a->shutdown_timer.data = a;
    rc = agent_prepare(a);
    if (rc == 0 && (rc = agent_exec_init(a)) == 0)
        a->exec_ready = 1;
    if (rc == 0)
        rc = agent_recover(a);
    if (rc == 0)
        rc = agent_http_start(a);
    if (rc < 0)
        return rc;
    agent_signals(a);
    res = agent_resources_text(&a->total);
    log_info("agent",
             "agora-agent %s (id %s) on %s:%lld, work_dir %s, "
             "isolation %s, resources %s, master %s",
             AGORA_VERSION, a->id, a->advertise_ip,
             a->http ? (long long)http_server_port(a->http)
                     : (long long)a->conf.port,
             a->conf.work_dir, exec_isolation_name(a->exec), res ? res : "?",
             a->conf.master);
    free(res);
    link_start(a);
    return 0;
}

void agent_stop(struct agent *a)
{
    a->stopping = 1;
    if (a->loop) {
        ev_signal_stop(a->loop, &a->sig_term);
        ev_signal_stop(a->loop, &a->sig_int);
        ev_timer_stop(a->loop, &a->shutdown_timer);
    }
    link_stop(a);
    agent_http_stop(a);
    if (a->exec_ready)
        exec_fini(a->exec);
    a->exec = NULL;
    /* Writes what is queued; callbacks see a->stopping and launch nothing. */
    journal_close(a->journal);
    a->journal = NULL;
    agent_free_tasks(a);
    updates_fini(a);
    hc_client_free(a->hc);
    a->hc = NULL;
    if (a->wipe && a->id)
        agent_wipe(a);
    agora_resources_free(&a->total);
    agent_attrs_free(a->attrs, a->nattrs);
    router_free(&a->router);
    free(a->advertise_ip);
    free(a->id);
    conf_release(agent_flags, &a->conf);
    log_info("agent", "stopped");
}
