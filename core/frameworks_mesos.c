/*
 * frameworks_mesos.c - frameworks as Mesos' /master/state models them
 * (src/master/http.cpp: Summary<Framework> and FullFrameworkWriter), and
 * the completed frameworks it keeps.
 *
 * A plugin's framework lives in the master's process: its hostname is the
 * master's, its pid "<plugin>@<ip>:<port>" (the port that serves its
 * routes), its web UI the plugin's own port or /<plugin>/ on the master.
 * It is active and connected while registered. A SIGHUP reload registers
 * it again under the same id: registered_time stays the first
 * registration's, reregistered_time is the latest.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/resources.h>

#include "alloc.h"
#include "clock.h"
#include "frameworks.h"
#include "master.h"
#include "plugins.h"
#include "res_json.h"
#include "tasks.h"

/* The user tasks run as unless they say otherwise: this process's. */
static const char *process_user(struct frameworks *f)
{
    struct passwd pw, *res = NULL;
    char buf[1024];

    if (f->user[0] == '\0') {
        if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 && res)
            snprintf(f->user, sizeof(f->user), "%s", pw.pw_name);
        else
            snprintf(f->user, sizeof(f->user), "%ld", (long)geteuid());
    }
    return f->user;
}

static void gone_free(struct fw_gone *g)
{
    free(g->id);
    free(g->name);
    free(g->role);
    free(g->pid);
}

void frameworks_mesos_registered(struct master *m, struct agora_framework *fw)
{
    struct frameworks *f = &m->frameworks;
    double *first = map_get(&f->first_registered, fw->id);
    size_t i;

    if (first == NULL && (first = malloc(sizeof(*first))) != NULL) {
        *first = fw->registered_at;
        if (map_put(&f->first_registered, fw->id, first, NULL) < 0)
            free(first);
    }
    for (i = 0; i < f->ngone; i++)
        if (strcmp(f->gone[i].id, fw->id) == 0) {
            gone_free(&f->gone[i]);
            memmove(&f->gone[i], &f->gone[i + 1],
                    (f->ngone - i - 1) * sizeof(f->gone[0]));
            f->ngone--;
            break;
        }
}

void frameworks_mesos_removed(struct master *m, struct agora_framework *fw)
{
    struct frameworks *f = &m->frameworks;
    struct fw_gone g;
    char pid[512];

    frameworks_address(m, fw, 0, pid, sizeof(pid));
    g.pid = strdup(pid);
    g.id = strdup(fw->id);
    g.name = strdup(fw->name);
    g.role = strdup(fw->role);
    g.registered = frameworks_first_registered(m, fw);
    g.unregistered = master_now(m);
    if (!g.id || !g.name || !g.role || !g.pid) {
        gone_free(&g);
        return;
    }
    /* The oldest goes, as Mesos' --max_completed_frameworks bounds. */
    if (f->ngone == FRAMEWORKS_COMPLETED_MAX) {
        gone_free(&f->gone[0]);
        memmove(&f->gone[0], &f->gone[1], (f->ngone - 1) * sizeof(g));
        f->ngone--;
    }
    f->gone[f->ngone++] = g;
}

double frameworks_first_registered(struct master *m,
                                   const struct agora_framework *fw)
{
    const double *first = map_get(&m->frameworks.first_registered, fw->id);

    return first ? *first : fw->registered_at;
}

void frameworks_mesos_free(struct master *m)
{
    struct frameworks *f = &m->frameworks;
    size_t pos = 0, i;
    void *v;

    while (map_next(&f->first_registered, &pos, NULL, &v))
        free(v);
    map_free(&f->first_registered);
    for (i = 0; i < f->ngone; i++)
        gone_free(&f->gone[i]);
    f->ngone = 0;
}

/* ---- writing ---- */

static void write_resources(struct agora_jw *w, const char *key,
                            const struct agora_resources *r)
{
    agora_jw_key(w, key);
    res_json_write(w, r);
}

/* Its "pid" (web 0) or "webui_url" (web 1): where the plugin's routes
 * are served, its own port or /<plugin>/ on the master's. */
void frameworks_address(struct master *m, const struct agora_framework *fw,
                        int web, char *buf, size_t len)
{
    unsigned port = fw->p->port ? fw->p->port : (unsigned)m->conf.port;

    if (!web)
        snprintf(buf, len, "%s@%s:%u", fw->p->name, m->advertise_ip, port);
    else if (fw->p->port)
        snprintf(buf, len, "http://%s:%u/", m->advertise_ip, port);
    else
        snprintf(buf, len, "http://%s:%u/%s/", m->advertise_ip, port,
                 fw->p->name);
}

static void write_address(struct master *m, struct agora_jw *w,
                          const struct agora_framework *fw)
{
    char buf[512];

    frameworks_address(m, fw, 0, buf, sizeof(buf));
    agora_jw_kstr(w, "pid", buf);
    frameworks_address(m, fw, 1, buf, sizeof(buf));
    agora_jw_kstr(w, "webui_url", buf);
}

/* What agora does of Mesos' framework capabilities, for every plugin:
 * TASK_UNREACHABLE (partition awareness) and TASK_KILLING. */
void frameworks_write_capabilities(struct agora_jw *w)
{
    static const char *const caps[] = {"PARTITION_AWARE",
                                       "TASK_KILLING_STATE"};
    size_t i;

    agora_jw_key(w, "capabilities");
    agora_jw_arr_open(w);
    for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "type", caps[i]);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

void frameworks_write_summary(struct master *m, struct agora_jw *w,
                              const struct agora_framework *fw,
                              struct agora_resources *used,
                              struct agora_resources *offered)
{
    agora_jw_kstr(w, "id", fw->id);
    agora_jw_kstr(w, "name", fw->name);
    write_address(m, w, fw);
    tasks_used_of_framework(m, fw->id, used);
    if (fw->alloc)
        alloc_fw_offered(fw->alloc, offered);
    write_resources(w, "used_resources", used);
    write_resources(w, "offered_resources", offered);
    frameworks_write_capabilities(w);
    agora_jw_kstr(w, "hostname", m->conf.hostname);
    agora_jw_kbool(w, "active", 1);
    agora_jw_kbool(w, "connected", 1);
    agora_jw_kbool(w, "recovered", 0);
}

void frameworks_write_full(struct master *m, struct agora_jw *w,
                           const struct agora_framework *fw,
                           frameworks_write_fn tasks, void *arg)
{
    struct agora_resources used = {NULL, 0}, offered = {NULL, 0};
    double first = frameworks_first_registered(m, fw);

    agora_jw_obj_open(w);
    frameworks_write_summary(m, w, fw, &used, &offered);
    agora_jw_kstr(w, "user", process_user(&m->frameworks));
    agora_jw_knum(w, "failover_timeout", 0);
    agora_jw_kbool(w, "checkpoint", 1);
    agora_jw_knum(w, "registered_time", first);
    agora_jw_knum(w, "unregistered_time", 0);
    if (fw->principal)
        agora_jw_kstr(w, "principal", fw->principal);
    agora_resources_add(&used, &offered);
    write_resources(w, "resources", &used);
    if (fw->registered_at != first)
        agora_jw_knum(w, "reregistered_time", fw->registered_at);
    agora_jw_kstr(w, "role", fw->role);
    /* agora's own. */
    agora_jw_kstr(w, "plugin", fw->p->name);
    agora_jw_kbool(w, "suppressed", fw->suppressed);
    if (fw->alloc)
        agora_jw_knum(w, "dominant_share", alloc_fw_share(fw->alloc));
    if (tasks)
        tasks(arg, w, fw);
    agora_jw_key(w, "offers");
    if (fw->alloc) {
        alloc_fw_write_offers(fw->alloc, w);
    } else {
        agora_jw_arr_open(w);
        agora_jw_arr_close(w);
    }
    /* Tasks run under agora's shim, not a framework's executor. */
    agora_jw_key(w, "executors");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    agora_resources_free(&used);
    agora_resources_free(&offered);
}

void frameworks_write_completed(struct master *m, struct agora_jw *w)
{
    static const struct agora_resources none = {NULL, 0};
    const struct frameworks *f = &m->frameworks;
    size_t i;

    agora_jw_arr_open(w);
    for (i = f->ngone; i > 0; i--) {
        const struct fw_gone *g = &f->gone[i - 1];

        agora_jw_obj_open(w);
        agora_jw_kstr(w, "id", g->id);
        agora_jw_kstr(w, "name", g->name);
        agora_jw_kstr(w, "pid", g->pid);
        write_resources(w, "used_resources", &none);
        write_resources(w, "offered_resources", &none);
        agora_jw_key(w, "capabilities");
        agora_jw_arr_open(w);
        agora_jw_arr_close(w);
        agora_jw_kstr(w, "hostname", m->conf.hostname);
        agora_jw_kstr(w, "webui_url", "");
        agora_jw_kbool(w, "active", 0);
        agora_jw_kbool(w, "connected", 0);
        agora_jw_kbool(w, "recovered", 0);
        agora_jw_kstr(w, "user", process_user(&m->frameworks));
        agora_jw_knum(w, "failover_timeout", 0);
        agora_jw_kbool(w, "checkpoint", 1);
        agora_jw_knum(w, "registered_time", g->registered);
        agora_jw_knum(w, "unregistered_time", g->unregistered);
        write_resources(w, "resources", &none);
        agora_jw_kstr(w, "role", g->role);
        agora_jw_key(w, "tasks");
        agora_jw_arr_open(w);
        agora_jw_arr_close(w);
        agora_jw_key(w, "unreachable_tasks");
        agora_jw_arr_open(w);
        agora_jw_arr_close(w);
        agora_jw_key(w, "completed_tasks");
        agora_jw_arr_open(w);
        agora_jw_arr_close(w);
        agora_jw_key(w, "offers");
        agora_jw_arr_open(w);
        agora_jw_arr_close(w);
        agora_jw_key(w, "executors");
        agora_jw_arr_open(w);
        agora_jw_arr_close(w);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}
