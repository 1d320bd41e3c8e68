/*
 * recovery.c - checkpoints and recovery: the agent id, the task records
 * of the journal, and the replay that rebuilds a->tasks after a restart.
 *
 * Replay applies the journal's records in order:
 *   task    creates the task or replaces its checkpointed fields;
 *   update  adds a pending update (durable, to be sent again) and makes
 *           its state the task's state;
 *   ack     drops that update;
 *   forget  drops the task.
 * Then every task that is not terminal goes to exec_recover(), and every
 * terminal one whose updates were all acknowledged is finished off.
 */
#include "uuid.h"
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "exec.h"
#include "journal.h"
#include "log.h"
#include "task.h"
#include "updates.h"

/* ------------------------------------------------------------------ */
/* Task records                                                         */
/* ------------------------------------------------------------------ */

void agent_task_record(struct agora_jw *w, const struct agent_task *t)
{
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", t->id);
    agora_jw_kstr(w, "framework_id", t->framework_id);
    /* A string, so replay gets the very text back. */
    agora_jw_kstr(w, "spec_json", t->spec_json);
    agora_jw_kint(w, "shim_pid", t->shim_pid);
    agora_jw_kint(w, "pid", t->pid);
    agora_jw_knum(w, "start_time", t->start_time);
    agora_jw_kstr(w, "state", agora_task_state_name(t->state));
    agora_jw_key(w, "healthy");
    if (t->healthy < 0)
        agora_jw_null(w);
    else
        agora_jw_bool(w, t->healthy);
    agora_jw_kint(w, "next_seq",
                  t->updates ? (int64_t)t->updates->next_seq : 1);
    agora_jw_obj_close(w);
}

int agent_task_journal(struct agent *a, struct agent_task *t,
                       void (*done)(void *arg, int err), void *arg)
{
    struct agora_jw *w = agora_jw_new();
    const char *json = NULL;
    size_t len = 0;
    int rc = AGORA_ENOMEM;

    if (w) {
        agent_task_record(w, t);
        json = agora_jw_result(w, &len);
    }
    if (json)
        rc = journal_append(a->journal, JOURNAL_TASK, json, len, done, arg);
    agora_jw_free(w);
    if (rc < 0 && rc != AGORA_ECANCELED)
        log_error("recovery", "cannot checkpoint task %s: %s", t->id,
                  agora_strerror(rc));
    return rc;
}

int agent_task_checkpoint(struct agent *a, struct agent_task *t)
{
    return agent_task_journal(a, t, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* The agent id                                                         */
/* ------------------------------------------------------------------ */

/* "<random uuid>-S0", as Mesos agent ids look. */
static void recovery_new_id(char out[48])
{
    char u[UUID_STR_LEN];

    uuid_v4(u);
    snprintf(out, 48, "%s-S0", u);
}

/* Writes path atomically: tmp file, fsync, rename, fsync of the dir. */
static int recovery_write_file(const char *dir, const char *path,
                               const char *text)
{
    char *tmp;
    int fd, rc = 0;
    size_t len = strlen(text);

    if (asprintf(&tmp, "%s.tmp", path) < 0)
        return AGORA_ENOMEM;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0 ||
        rename(tmp, path) < 0)
        rc = AGORA_EIO;
    if (fd >= 0)
        close(fd);
    if (rc == 0) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (dfd < 0 || fsync(dfd) < 0)
            rc = AGORA_EIO;
        if (dfd >= 0)
            close(dfd);
    } else {
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* Reads a one-line id file; AGORA_ENOENT when there is none. */
static int recovery_read_id(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "re");
    char *id;

    if (f == NULL)
        return errno == ENOENT ? AGORA_ENOENT : AGORA_EIO;
    if (fgets(out, (int)len, f) == NULL) {
        fclose(f);
        return AGORA_EIO;
    }
    fclose(f);
    id = conf_trim(out);
    memmove(out, id, strlen(id) + 1);
    return out[0] ? 0 : AGORA_EIO;
}

int agent_load_id(struct agent *a)
{
    char *dir, *path, id[128];
    int rc;

    if (asprintf(&dir, "%s/meta", a->conf.work_dir) < 0)
        return AGORA_ENOMEM;
    if (asprintf(&path, "%s/agent_id", dir) < 0) {
        free(dir);
        return AGORA_ENOMEM;
    }
    rc = recovery_read_id(path, id, sizeof(id));
    if (rc == AGORA_ENOENT) {
        recovery_new_id(id);
        strcat(id, "\n");
        rc = recovery_write_file(dir, path, id);
        id[strlen(id) - 1] = '\0';
        if (rc == 0)
            log_info("recovery", "new agent id %s", id);
    }
    if (rc < 0)
        log_error("recovery", "cannot read or create %s: %s", path,
                  agora_strerror(rc));
    else if ((a->id = strdup(id)) == NULL)
        rc = AGORA_ENOMEM;
    free(dir);
    free(path);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Replay                                                               */
/* ------------------------------------------------------------------ */

/* Fields a later task record may change. */
static void recovery_task_fields(struct agent_task *t, yajl_val rec)
{
    int64_t v;
    double start;
    const char *state;
    int healthy, st;

    if (agora_json_int(rec, "shim_pid", &v) == 0)
        t->shim_pid = (pid_t)v;
    if (agora_json_int(rec, "pid", &v) == 0)
        t->pid = (pid_t)v;
    if (agora_json_num(rec, "start_time", &start) == 0)
        t->start_time = start;
    if (agora_json_str(rec, "state", &state) == 0 &&
        (st = agora_task_state_parse(state)) >= 0)
        t->state = (enum agora_task_state)st;
    t->healthy = agora_json_bool(rec, "healthy", &healthy) == 0 ? healthy : -1;
    if (agora_json_int(rec, "next_seq", &v) == 0 && v > 0 &&
        (uint64_t)v > t->updates->next_seq)
        t->updates->next_seq = (uint64_t)v;
}

static int recovery_task(struct agent *a, yajl_val rec)
{
    const char *id, *fw, *spec;
    struct agent_task *t;
    char *why = NULL;
    int rc;

    if (agora_json_str(rec, "id", &id) < 0 ||
        agora_json_str(rec, "framework_id", &fw) < 0 ||
        agora_json_str(rec, "spec_json", &spec) < 0)
        return AGORA_EINVAL;
    t = map_get(&a->tasks, id);
    if (t == NULL) {
        rc = agent_task_new(a, id, fw, spec, &t, &why);
        free(why); /* it was reported when the task was launched */
        if (rc < 0)
            return rc;
        if (map_put(&a->tasks, id, t, NULL) < 0) {
            agent_task_free(t);
            return AGORA_ENOMEM;
        }
    }
    recovery_task_fields(t, rec);
    return 0;
}

static void recovery_forget(struct agent *a, const char *id)
{
    struct agent_task *t = map_remove(&a->tasks, id);

    if (t) {
        updates_task_free(a, t);
        agent_task_free(t);
    }
}

/* Applies one parsed record. */
static int recovery_apply(struct agent *a, int type, yajl_val rec)
{
    const char *task_id = NULL, *uuid;
    struct agent_task *t;

    if (type == JOURNAL_TASK)
        return recovery_task(a, rec);
    if (agora_json_str(rec, "task_id", &task_id) < 0)
        return AGORA_EINVAL;
    if (type == JOURNAL_FORGET) {
        recovery_forget(a, task_id);
        return 0;
    }
    t = map_get(&a->tasks, task_id);
    if (t == NULL)
        return 0; /* of a task forgotten before: nothing to do */
    if (type == JOURNAL_UPDATE)
        return updates_replay_update(a, t, rec);
    if (type == JOURNAL_ACK && agora_json_str(rec, "uuid", &uuid) == 0)
        updates_replay_ack(a, t, uuid);
    return 0;
}

/* journal_replay_fn: a record that does not make sense is skipped (its
 * CRC held, so it is as written: a bug, not a crash), not fatal. */
static int recovery_replay(void *arg, int type, const char *data, size_t len)
{
    struct agent *a = arg;
    char err[256];
    yajl_val rec = agora_json_parse(data, err, sizeof(err));
    int rc;

    (void)len;
    if (rec == NULL) {
        log_warn("recovery",
                 "journal record of type %d is not JSON (%s): "
                 "skipped",
                 type, err);
        return 0;
    }
    rc = recovery_apply(a, type, rec);
    yajl_tree_free(rec);
    if (rc == AGORA_ENOMEM)
        return rc;
    if (rc < 0)
        log_warn("recovery",
                 "journal record of type %d is invalid: "
                 "skipped",
                 type);
    return 0;
}

int agent_journal_open(struct agent *a)
{
    struct journal_conf jc;
    struct journal_stats st;
    char *path;
    int rc;

    if (asprintf(&path, "%s/meta/journal", a->conf.work_dir) < 0)
        return AGORA_ENOMEM;
    memset(&jc, 0, sizeof(jc));
    jc.path = path;
    jc.replay = recovery_replay;
    jc.snapshot = updates_snapshot;
    jc.arg = a;
    rc = journal_open(a->loop, &jc, &a->journal);
    free(path);
    if (rc < 0)
        return rc;
    journal_get_stats(a->journal, &st);
    log_info("recovery", "journal: %llu records replayed, %zu tasks",
             (unsigned long long)st.replayed, a->tasks.len);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Recovery                                                             */
/* ------------------------------------------------------------------ */

int agent_recover(struct agent *a)
{
    int cleanup = strcmp(a->conf.recover, "cleanup") == 0;
    size_t pos = 0, live = 0, ended = 0;
    const char *id;
    void *value;

    while (map_next(&a->tasks, &pos, &id, &value)) {
        struct agent_task *t = value;
        int rc;

        if (agora_task_state_terminal(t->state)) {
            ended++;
            /* May remove t: allowed for the entry just visited. */
            updates_maybe_done(a, t);
            continue;
        }
        live++;
        rc = exec_recover(a->exec, t, cleanup);
        if (rc < 0)
            log_error("recovery", "cannot recover task %s: %s", t->id,
                      agora_strerror(rc));
    }
    exec_sweep_containers(a->exec);
    log_info("recovery", "%zu running tasks %s, %zu ended ones to report", live,
             cleanup ? "cleaned up" : "recovered", ended);
    return 0;
}
