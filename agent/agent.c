/*
 * agent.c - agora-agent's life: start, signals, shutdown by the master,
 * stop. The task table is agent_tasks.c.
 *
 * Stopping (SIGTERM, SIGINT) never kills a task: the tasks run under
 * their shims, and the next agent re-adopts them from the journal. Only
 * the master's `shutdown` event kills them.
 */
#include "agent.h"
#include "auth.h"
#include "fs.h"
#include "http_tls.h"
#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

#include "agent_http.h"
#include "exec.h"
#include "http.h"
#include "http_client.h"
#include "journal.h"
#include "link.h"
#include "log.h"
#include "task.h"
#include "task_fetch.h"
#include "task_image.h"
#include "updates.h"

/* How long a shutdown waits for the tasks to end before leaving. */
#define AGENT_SHUTDOWN_WAIT 60.0

double agent_now(const struct agent *a)
{
    return ev_now(a->loop);
}

/* ------------------------------------------------------------------ */
/* Shutdown by the master                                               */
/* ------------------------------------------------------------------ */

static void agent_on_shutdown_tick(struct ev_loop *loop, ev_timer *w,
                                   int revents)
{
    struct agent *a = w->data;
    size_t live = agent_tasks_live(a);

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
        else if (!agent_fetch_kill(a, t))
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
        .cgroups_enable_cfs = a->conf.cgroups_enable_cfs,
        .cgroups_ahead = 1,
        .hostname = a->conf.hostname,
        .agent_id = a->id,
        .switch_user = a->conf.switch_user,
        .default_user = a->conf.default_user,
        .work_dir = a->conf.work_dir,
        .allowed_volume_paths = a->conf.allowed_volume_paths,
        .network_bridge = a->conf.network_bridge,
        .network_cidr = a->conf.network_cidr,
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

/*
 * The work_dir's layout and modes: meta/ (the journal, with the tasks'
 * environments, and the shims' pid files) is the agent's alone, 0700
 * with 0600 files, also when an older agent made it 0755/0644;
 * sandboxes/ can be crossed by the tasks' users to reach their own
 * sandbox (0750, see exec.c) but not listed.
 */
static int agent_dirs(struct agent *a)
{
    static const struct {
        const char *name;
        mode_t mode;
        int dir;
    } subs[] = {{"", 0755, 1},          {"meta", 0700, 1},
                {"meta/tasks", 0700, 1}, {"sandboxes", 0711, 1},
                {"meta/journal", 0600, 0}, {"meta/agent_id", 0600, 0}};
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < sizeof(subs) / sizeof(subs[0]); i++) {
        char *path;

        if (asprintf(&path, "%s/%s", a->conf.work_dir, subs[i].name) < 0)
            return AGORA_ENOMEM;
        if (subs[i].dir && fs_mkdirs(path, subs[i].mode) != 0)
            rc = AGORA_EIO;
        else if (*subs[i].name &&
                 fchmodat(AT_FDCWD, path, subs[i].mode, AT_SYMLINK_NOFOLLOW) !=
                     0 &&
                 errno != ENOENT && errno != EOPNOTSUPP)
            rc = AGORA_EIO;
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
/*
 * HTTPS to the masters: when --master names https:// ones, or with
 * --ssl_ca_file (a leader in ZooKeeper may serve HTTPS: its data says
 * so). The CA is --ssl_ca_file's, else the system's; the agent's own
 * certificate, when it has one, is its client certificate (mutual TLS).
 */
static int agent_client_tls(struct agent *a)
{
    const struct agent_conf *c = &a->conf;
    struct hc_tls *t;
    char err[512];
    int rc;

    if (!(c->ssl_ca_file && *c->ssl_ca_file) &&
        !(c->master && strstr(c->master, "https://")))
        return 0;
    rc = hc_tls_new(c->ssl_ca_file, c->ssl_cert_file, c->ssl_key_file, &t,
                    err, sizeof(err));
    if (rc < 0) {
        log_error("agent", "TLS to the masters: %s", err);
        return rc;
    }
    hc_client_set_tls(a->hc, t);
    return 0;
}

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
        rc = agent_client_tls(a);
    if (rc == 0)
        rc = updates_init(a);
    if (rc == 0)
        rc = agent_journal_open(a);
    return rc;
}

/* --credential: the header that proves this agent to its masters. */
static int agent_load_credential(struct agent *a)
{
    struct auth creds;
    char err[512], *basic;

    if (a->conf.credential == NULL || *a->conf.credential == '\0')
        return 0;
    memset(&creds, 0, sizeof(creds));
    if (auth_load_credentials(&creds, a->conf.credential, err,
                              sizeof(err)) < 0) {
        log_error("agent", "--credential: %s", err);
        auth_free(&creds);
        return AGORA_EINVAL;
    }
    basic = auth_basic_header(creds.creds[0].principal,
                              creds.creds[0].secret);
    if (basic == NULL || asprintf(&a->auth_header, "Authorization: %s",
                                  basic) < 0)
        a->auth_header = NULL;
    if (basic)
        explicit_bzero(basic, strlen(basic));
    free(basic);
    log_info("agent", "authenticating to the masters as %s",
             creds.creds[0].principal);
    auth_free(&creds);
    return a->auth_header ? 0 : AGORA_ENOMEM;
}

/* --ssl_*: the HTTPS of the agent's own API. */
static int agent_load_tls(struct agent *a)
{
    char err[512];
    int rc = auth_tls_load(&a->tls, a->conf.ssl_cert_file,
                           a->conf.ssl_key_file, a->conf.ssl_ca_file, err,
                           sizeof(err));

    if (rc < 0)
        log_error("agent", "--ssl_*_file: %s", err);
    else if (a->conf.ssl_require_client_cert && (!a->tls.cert || !a->tls.ca)) {
        log_error("agent", "--ssl_require_client_cert needs --ssl_cert_file, "
                           "--ssl_key_file and --ssl_ca_file");
        rc = AGORA_EINVAL;
    }
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
    rc = agent_load_credential(a);
    if (rc == 0)
        rc = agent_load_tls(a);
    if (rc == 0)
        rc = agent_prepare(a);
    if (rc == 0 && (rc = agent_exec_init(a)) == 0)
        a->exec_ready = 1;
    if (rc == 0)
        rc = agent_recover(a);
    if (rc == 0)
        agent_containers_start(a);
    if (rc == 0)
        rc = agent_http_start(a);
    if (rc < 0)
        return rc;
    agent_signals(a);
    agent_image_start(a);
    res = agora_resources_text(&a->total);
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
    agent_fetch_fini(a);
    agent_image_fini(a);
    agent_containers_stop(a);
    if (a->exec_ready)
        exec_fini(a->exec);
    a->exec = NULL;
    /* Writes what is queued; callbacks see a->stopping and launch nothing. */
    journal_close(a->journal);
    a->journal = NULL;
    agent_tasks_free(a);
    updates_fini(a);
    hc_client_free(a->hc);
    a->hc = NULL;
    if (a->auth_header)
        explicit_bzero(a->auth_header, strlen(a->auth_header));
    free(a->auth_header);
    a->auth_header = NULL;
    auth_tls_free(&a->tls);
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
