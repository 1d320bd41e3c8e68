/*
 * chr_job_write.c - a job as JSON, in the order Chronos' JobSerializer
 * writes its fields (chronos-api.md §1.3), then what 2.x added (epsilon,
 * async) and the policies agora adds; the summary entry; the 400 body.
 * The table below is that order, and the parser, the copy, the
 * comparison and the free walk its scalar entries too.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "chr_job_int.h"

static void w_fetch(struct agora_jw *w, const struct chr_job *j)
{
    const struct chr_fetch *f;
    size_t i;

    agora_jw_key(w, "fetch");
    agora_jw_arr_open(w);
    for (i = 0; i < j->nfetch; i++) {
        f = &j->fetch[i];
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "uri", f->uri);
        agora_jw_kbool(w, "executable", f->executable);
        agora_jw_kbool(w, "cache", f->cache);
        agora_jw_kbool(w, "extract", f->extract);
        if (f->output_file[0] != '\0')
            agora_jw_kstr(w, "output_file", f->output_file);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

/* The deprecated uris, mirrored from fetch for clients that read only
 * them (§1.2 #1). */
static void w_uris(struct agora_jw *w, const struct chr_job *j)
{
    size_t i;

    agora_jw_key(w, "uris");
    agora_jw_arr_open(w);
    for (i = 0; i < j->nfetch; i++)
        agora_jw_str(w, j->fetch[i].uri);
    agora_jw_arr_close(w);
}

static void w_env(struct agora_jw *w, const struct chr_job *j)
{
    size_t i;

    agora_jw_key(w, "environmentVariables");
    agora_jw_arr_open(w);
    for (i = 0; i < j->nenv; i++) {
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "name", j->env[i].name);
        agora_jw_kstr(w, "value", j->env[i].value);
        agora_jw_obj_close(w);
    }
    agora_jw_arr_close(w);
}

static void w_strv(struct agora_jw *w, const char *key, char *const *v,
                   size_t n)
{
    size_t i;

    agora_jw_key(w, key);
    agora_jw_arr_open(w);
    for (i = 0; i < n; i++)
        agora_jw_str(w, v[i]);
    agora_jw_arr_close(w);
}

static void w_args(struct agora_jw *w, const struct chr_job *j)
{
    w_strv(w, "arguments", j->arguments, j->narguments);
}

/* Written only when there is one, as Chronos does. */
static void w_container(struct agora_jw *w, const struct chr_job *j)
{
    if (!j->container_json)
        return;
    agora_jw_key(w, "container");
    agora_jw_raw(w, j->container_json, strlen(j->container_json));
}

static void w_constraints(struct agora_jw *w, const struct chr_job *j)
{
    const struct chr_constraint *c;
    size_t i;

    agora_jw_key(w, "constraints");
    agora_jw_arr_open(w);
    for (i = 0; i < j->nconstraints; i++) {
        c = &j->constraints[i];
        agora_jw_arr_open(w);
        agora_jw_str(w, c->attribute);
        agora_jw_str(w, chr_constraint_ops[c->op]);
        agora_jw_str(w, c->value);
        agora_jw_arr_close(w);
    }
    agora_jw_arr_close(w);
}

/* Either parents (dependent) or schedule and scheduleTimeZone. */
static void w_kind(struct agora_jw *w, const struct chr_job *j)
{
    if (chr_job_dependent(j)) {
        w_strv(w, "parents", j->parents, j->nparents);
        return;
    }
    agora_jw_kstr(w, "schedule", j->schedule ? j->schedule : "");
    agora_jw_kstr(w, "scheduleTimeZone", j->schedule_tz ? j->schedule_tz : "");
}

static void w_policy(struct agora_jw *w, const struct chr_job *j)
{
    agora_jw_kstr(w, "concurrencyPolicy",
                  chr_concurrency_names[j->concurrency]);
}

/* null when none, so that the field is visible with its default. */
static void w_deadline(struct agora_jw *w, const struct chr_job *j)
{
    agora_jw_key(w, "startingDeadlineSeconds");
    if (j->starting_deadline < 0)
        agora_jw_null(w);
    else
        agora_jw_int(w, j->starting_deadline);
}

/* clang-format off */
#define S(key, member) {key, CHR_F_STR, offsetof(struct chr_job, member), NULL}
#define B(key, member) {key, CHR_F_BOOL, offsetof(struct chr_job, member), NULL}
#define I(key, member) {key, CHR_F_INT, offsetof(struct chr_job, member), NULL}
#define C(key, member)                                                       \
    {key, CHR_F_COUNT, offsetof(struct chr_job, member), NULL}
#define N(key, member) {key, CHR_F_NUM, offsetof(struct chr_job, member), NULL}
#define T(key, member) {key, CHR_F_TIME, offsetof(struct chr_job, member), NULL}
#define P(key, fn) {key, CHR_F_PART, 0, fn}

const struct chr_field chr_job_fields[] = {
    S("name", name),
    S("command", command),
    B("shell", shell),
    S("executor", executor),
    S("executorFlags", executor_flags),
    S("taskInfoData", task_info_data),
    I("retries", retries),
    S("owner", owner),
    S("ownerName", owner_name),
    S("description", description),
    C("successCount", success_count),
    C("errorCount", error_count),
    T("lastSuccess", last_success),
    T("lastError", last_error),
    N("cpus", cpus),
    N("disk", disk),
    N("mem", mem),
    B("disabled", disabled),
    B("softError", soft_error),
    B("dataProcessingJobType", data_processing),
    C("errorsSinceLastSuccess", errors_since_last_success),
    P("fetch", w_fetch),
    P("uris", w_uris),
    P("environmentVariables", w_env),
    P("arguments", w_args),
    B("highPriority", high_priority),
    S("runAsUser", run_as_user),
    B("concurrent", concurrent),
    C("maxCompletionTime", max_completion_time),
    P("container", w_container),
    P("constraints", w_constraints),
    P("schedule", w_kind),
    S("epsilon", epsilon),
    B("async", async),
    P("concurrencyPolicy", w_policy),
    P("startingDeadlineSeconds", w_deadline),
};
/* clang-format on */

const size_t chr_job_nfields =
    sizeof(chr_job_fields) / sizeof(chr_job_fields[0]);

static void w_time(struct agora_jw *w, const char *key, int64_t t)
{
    char ts[32];

    if (t == 0) {
        agora_jw_kstr(w, key, "");
        return;
    }
    chr_time_format(t, ts);
    agora_jw_kstr(w, key, ts);
}

static void w_field(struct agora_jw *w, const struct chr_field *f,
                    const struct chr_job *j)
{
    switch (f->type) {
    case CHR_F_STR:
        agora_jw_kstr(w, f->key, *CHR_CFIELD(j, f, char *));
        break;
    case CHR_F_BOOL:
        agora_jw_kbool(w, f->key, *CHR_CFIELD(j, f, int));
        break;
    case CHR_F_INT:
        agora_jw_kint(w, f->key, *CHR_CFIELD(j, f, int));
        break;
    case CHR_F_COUNT:
        agora_jw_kint(w, f->key, *CHR_CFIELD(j, f, int64_t));
        break;
    case CHR_F_NUM:
        agora_jw_knum(w, f->key, *CHR_CFIELD(j, f, double));
        break;
    case CHR_F_TIME:
        w_time(w, f->key, *CHR_CFIELD(j, f, int64_t));
        break;
    case CHR_F_PART:
        f->write(w, j);
        break;
    }
}

void chr_job_write(struct agora_jw *w, const struct chr_job *j)
{
    size_t k;

    agora_jw_obj_open(w);
    for (k = 0; k < chr_job_nfields; k++)
        w_field(w, &chr_job_fields[k], j);
    agora_jw_obj_close(w);
}

char *chr_job_text(const struct chr_job *j)
{
    struct agora_jw *w = agora_jw_new();
    const char *res;
    char *s = NULL;

    if (!w)
        return NULL;
    chr_job_write(w, j);
    res = agora_jw_result(w, NULL);
    if (res)
        s = chr_strdup(res);
    agora_jw_free(w);
    return s;
}

void chr_job_write_summary(struct agora_jw *w, const struct chr_job *j,
                           const char *state)
{
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "name", j->name);
    agora_jw_kstr(w, "status", chr_job_status_name(chr_job_status(j)));
    agora_jw_kstr(w, "state", state ? state : "idle");
    agora_jw_kstr(w, "schedule",
                  chr_job_dependent(j) || !j->schedule ? "" : j->schedule);
    w_strv(w, "parents", j->parents, j->nparents);
    agora_jw_kbool(w, "disabled", j->disabled);
    agora_jw_obj_close(w);
}

void chr_write_bad_request(struct agora_jw *w, const char *msg)
{
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "status", "Bad Request");
    agora_jw_kstr(w, "message", msg ? msg : "");
    agora_jw_obj_close(w);
}
