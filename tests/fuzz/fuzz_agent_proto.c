/*
 * fuzz_agent_proto.c - libFuzzer target: the agent protocol's messages
 * (docs/agent-protocol.md), both ways.
 *
 * One input is read twice:
 *
 * As a body an agent posts to the master (core/agent_proto.c): parsed
 * with agora_json_parse(); as POST /api/agent/subscribe, the agent id
 * checked with agora_id_valid(), agents_check_info(), then, on the
 * record of a real (minimal) master, agents_take_info(), the reported
 * `tasks` through tasks_agent_report() and tasks_agent_reported_all();
 * as POST /api/agent/updates, read by agent_updates_parse() (which
 * must take every body the tree takes, and read with json_scan() first
 * what yajl alone reads), each of `updates` through
 * tasks_agent_update() into the real task table.
 *
 * As the event stream the master sends an agent (agent/link.c): split
 * into lines as link_on_data() does, each parsed, typed by "type" or
 * "event"; a launch checked as link_on_launch() checks it, made a task
 * with agent_task_new() (name, resources) and read by the exec layer's
 * exec_spec_parse() (command, env, user, grace, resources, ports,
 * health check) and exec_task_env(), exactly as a launch is before any
 * process starts; kill and subscribed members read as link.c reads them.
 * A line "Location: <url>" is a redirect's header: resolved and parsed
 * as link_redirect() and link_request() do (core/base/http_url.c).
 *
 * The master's state is reset after each input, so an input means the
 * same on every run. Nothing is spawned and nothing is written to disk.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "agent.h"
#include "agent_update.h"
#include "agents.h"
#include "clock.h"
#include "exec_int.h"
#include "http_client.h"
#include "http_url.h"
#include "log.h"
#include "master.h"
#include "tasks.h"
#include "task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The agent's flag table lives in agent/main.c, which is not linked:
 * agent.c refers to it for agent_stop() and /flags, never called here. */
const conf_field agent_flags[] = {{0}};

/* Launches with more ports are parsed, their environment not built. */
#define FZ_ENV_PORTS_MAX 1024

static struct master fz_master;
static struct agent fz_agent;
static struct exec *fz_exec;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Refusals are logged at warn: quiet, or the log is the run time. */
    log_set_level((enum agora_log_level)(AGORA_LOG_ERROR + 1));
    fz_master.loop = ev_default_loop(0);
    tasks_init(&fz_master);
    fz_agent.loop = fz_master.loop;
    fz_agent.conf.work_dir = (char *)"/nonexistent/agora-fuzz";
    fz_agent.id = (char *)"fuzz-agent";
    fz_exec = calloc(1, sizeof(*fz_exec));
    if (fz_exec == NULL)
        abort();
    fz_exec->loop = fz_master.loop;
    fz_exec->path = (char *)"/usr/bin:/bin";
    fz_exec->hostname = (char *)"fuzz-host";
    fz_exec->agent_id = (char *)"fuzz-agent";
    fz_agent.exec = fz_exec;
    return 0;
}

/* ---- the master's side ---- */

static void fz_subscribe(struct master *m, yajl_val doc)
{
    const char *id = agora_json_get_str(doc, "agent_id");
    struct agent_rec *ag;
    yajl_val tasks;
    char why[256];
    size_t i;

    if (!agora_id_valid(id, AGENT_ID_MAX) ||
        agents_check_info(doc, why, sizeof(why)) < 0)
        return;
    if ((ag = agents_add(m, id)) == NULL ||
        agents_take_info(ag, doc, why, sizeof(why)) < 0)
        return;
    agents_subscribing(ag, master_now(m));
    m->tasks.mark++;
    tasks = agora_json_get(doc, "tasks");
    for (i = 0; YAJL_IS_ARRAY(tasks) && i < tasks->u.array.len; i++)
        tasks_agent_report(m, ag, tasks->u.array.values[i]);
    tasks_agent_reported_all(m, ag, master_now(m));
}

static int fz_str_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Whether json_scan() and yajl read the same records. */
static int fz_same(const struct agent_updates *a, const struct agent_updates *b)
{
    size_t i, k;

    if (!fz_str_same(a->agent_id, b->agent_id) ||
        !fz_str_same(a->session, b->session) || a->n != b->n)
        return 0;
    for (i = 0; i < a->n; i++) {
        const struct agent_update *x = &a->v[i], *y = &b->v[i];

        if (!fz_str_same(x->uuid, y->uuid) ||
            !fz_str_same(x->task_id, y->task_id) ||
            !fz_str_same(x->framework_id, y->framework_id) ||
            !fz_str_same(x->state, y->state) ||
            !fz_str_same(x->reason, y->reason) ||
            !fz_str_same(x->message, y->message) ||
            !fz_str_same(x->health_output, y->health_output) ||
            x->seq != y->seq || x->has_timestamp != y->has_timestamp ||
            memcmp(&x->timestamp, &y->timestamp, sizeof(double)) != 0 ||
            x->healthy != y->healthy || x->executor_pid != y->executor_pid ||
            x->n_ips != y->n_ips)
            return 0;
        for (k = 0; k < x->n_ips; k++)
            if (!fz_str_same(x->ips[k], y->ips[k]))
                return 0;
    }
    return 1;
}

/*
 * The body read as agent_proto_http_updates() reads it (no tree). It
 * must take every body agora_json_parse() takes but for comments, which
 * its prescan reads as text (a quote in one shifts where it sees
 * strings) and agent_updates_parse() skips; and json_scan() must read
 * what yajl alone reads, or refuse it with the same reason.
 */
static void fz_updates(struct master *m, const char *text, int tree_ok)
{
    struct agent_rec *ag = agents_add(m, "fuzz-agent");
    struct agent_updates ups, alone;
    char why[256], why_alone[256];
    int rc = agent_updates_parse(text, &ups, why, sizeof(why));
    int rc_alone = agent_updates_parse_with(text, &alone, 0, why_alone,
                                            sizeof(why_alone));
    size_t i;

    if (rc != rc_alone || (rc < 0 && strcmp(why, why_alone) != 0) ||
        (rc == 0 && !fz_same(&ups, &alone)))
        abort(); /* the scan read it otherwise than yajl */
    if (rc == 0)
        agent_updates_free(&alone);
    if (rc < 0) {
        if (tree_ok && strchr(text, '/') == NULL)
            abort(); /* the tree took it: the updates must too */
        return;
    }
    for (i = 0; ag && i < ups.n; i++)
        tasks_agent_update(m, ag, &ups.v[i]);
    agent_updates_free(&ups);
}

static void fz_master_side(const char *text)
{
    char why[256];
    yajl_val doc = agora_json_parse(text, why, sizeof(why));

    if (doc != NULL)
        fz_subscribe(&fz_master, doc);
    fz_updates(&fz_master, text, doc != NULL);
    yajl_tree_free(doc);
    /* A fresh master for the next input. */
    agents_stop(&fz_master);
    tasks_free(&fz_master);
    tasks_init(&fz_master);
    memset(&fz_master.agents, 0, sizeof(fz_master.agents));
}

/* ---- the agent's side ---- */

/* link.c's link_json_dump() (static there): the task spec back to text,
 * as the agent keeps it. */
static int fz_dump(struct agora_jw *w, yajl_val v, int depth)
{
    size_t i;

    if (depth > 64)
        return -1;
    if (v == NULL || YAJL_IS_NULL(v)) {
        agora_jw_null(w);
    } else if (YAJL_IS_STRING(v)) {
        agora_jw_str(w, YAJL_GET_STRING(v));
    } else if (YAJL_IS_NUMBER(v)) {
        agora_jw_raw(w, v->u.number.r, strlen(v->u.number.r));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        agora_jw_bool(w, YAJL_IS_TRUE(v));
    } else if (YAJL_IS_OBJECT(v)) {
        agora_jw_obj_open(w);
        for (i = 0; i < v->u.object.len; i++) {
            agora_jw_key(w, v->u.object.keys[i]);
            if (fz_dump(w, v->u.object.values[i], depth + 1) < 0)
                return -1;
        }
        agora_jw_obj_close(w);
    } else if (YAJL_IS_ARRAY(v)) {
        agora_jw_arr_open(w);
        for (i = 0; i < v->u.array.len; i++)
            if (fz_dump(w, v->u.array.values[i], depth + 1) < 0)
                return -1;
        agora_jw_arr_close(w);
    }
    return 0;
}

/* What the exec layer reads of a task before it starts anything. */
static void fz_exec_read(struct agent_task *t)
{
    struct exec_spec s;
    char err[256];
    char **env;

    /* The environment of more ports is the same code (linear since
     * exec_spec.c's index), at 2 allocations a port: 65,535 ports held
     * the target at 300 executions/s, for no new path. */
    if (exec_spec_parse(fz_exec, t, &s, err, sizeof(err)) == 0 &&
        s.nports <= FZ_ENV_PORTS_MAX) {
        env = exec_task_env(fz_exec, t, &s);
        exec_strv_free(env);
    }
    exec_spec_free(&s);
}

static void fz_launch(yajl_val ev)
{
    yajl_val spec = agora_json_get(ev, "task");
    struct agora_jw *w;
    struct agent_task *t = NULL;
    const char *fw, *id, *json;
    char *why = NULL;

    /* link_on_launch()'s checks, in its order. */
    if (agora_json_str(ev, "framework_id", &fw) < 0 || !YAJL_IS_OBJECT(spec) ||
        agora_json_str(spec, "task_id", &id) < 0 || *id == '\0' ||
        strchr(id, '/') || strcmp(id, "..") == 0 || strcmp(id, ".") == 0)
        return;
    if ((w = agora_jw_new()) == NULL)
        return;
    if (fz_dump(w, spec, 0) == 0 && (json = agora_jw_result(w, NULL)) &&
        agent_task_new(&fz_agent, id, fw, json, &t, &why) == 0) {
        if (why == NULL)
            fz_exec_read(t);
        agent_task_free(t);
    }
    free(why);
    agora_jw_free(w);
}

/*
 * A master's redirect (link_redirect()): the Location made absolute
 * against the subscribe URL, then parsed as link_request() parses it.
 */
static void fz_location(const char *loc)
{
    struct hc_url u;
    char *url = NULL, *base = NULL;

    if (hc_url_resolve("http://master:5050/api/agent/subscribe", loc, &url) !=
        0)
        return;
    if (hc_url_parse(url, &u) == 0)
        hc_url_clear(&u);
    hc_url_base(url, &base);
    free(base);
    free(url);
}

static void fz_event(char *line, size_t len)
{
    const char *type, *s;
    char err[256];
    double d;
    int64_t i;
    yajl_val ev;

    if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';
    if (strncmp(line, "Location: ", 10) == 0) {
        fz_location(line + 10);
        return;
    }
    if (len == 0 || (ev = agora_json_parse(line, err, sizeof(err))) == NULL)
        return;
    if (agora_json_str(ev, "type", &type) == 0 ||
        agora_json_str(ev, "event", &type) == 0) {
        if (strcmp(type, "launch") == 0) {
            fz_launch(ev);
        } else if (strcmp(type, "kill") == 0) {
            agora_json_str(ev, "task_id", &s);
            agora_json_num(ev, "grace_period", &d);
        } else if (strcmp(type, "subscribed") == 0) {
            agora_json_str(ev, "session", &s);
            agora_json_num(ev, "ping_interval", &d);
            agora_json_int(ev, "max_ping_misses", &i);
        }
    }
    yajl_tree_free(ev);
}

/* The stream split at newlines, in place, as link_on_data() does. */
static void fz_agent_side(char *text, size_t size)
{
    size_t start = 0, i;

    for (i = 0; i < size; i++) {
        if (text[i] != '\n')
            continue;
        text[i] = '\0';
        fz_event(text + start, i - start);
        start = i + 1;
    }
    /* An unterminated last line waits for more in link.c: not read. */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    fz_master_side(text);
    fz_agent_side(text, size);
    free(text);
    return 0;
}
