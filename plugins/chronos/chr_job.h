/*
 * chr_job.h - Chronos' job definition: parse, validate, default, write;
 * task ids; a job's status from its counters (chronos-api.md §1.3, §2.1,
 * §2.2, §2.4, §7).
 *
 * A job arrives as JSON (POST /scheduler/iso8601 and /scheduler/dependency,
 * the store) and leaves as JSON (GET, the store). chr_job_parse() turns
 * the JSON into a struct chr_job with every default of §2.1 filled in and
 * every validation failure gathered into one message, which the HTTP
 * layer answers as Chronos does:
 *
 *   400 {"status":"Bad Request","message":"<message>"}
 *
 * Unknown fields are ignored and JSON null is read as absent, as Chronos'
 * JobDeserializer does; a value of the wrong type is a 400, never a crash.
 * chr_job_write() writes every field in Chronos' order (§1.3); what it
 * writes parses back to an equal job and writes the same bytes again,
 * which is how the store keeps jobs.
 *
 * Schedules. A scheduled job has `schedule`: an ISO 8601 repeating
 * interval (§2.3, parsed by chr_iso_parse()) or a cron expression written
 * as "cron:<expr>" in the same field. The cron form is the stored and
 * served one: it keeps `schedule` the one field clients read to show
 * when a job runs, and keeps "exactly one of schedule and parents" a rule
 * about two fields. A `cron` field is accepted on input as a shorthand
 * ({"cron":"0 3 * * *"} is {"schedule":"cron:0 3 * * *"}) and never
 * written. scheduleTimeZone must name an IANA zone the system has
 * (chr_tz_load()); an unknown one is a 400 (Chronos silently used GMT).
 * It applies to both forms: the ISO start's wall-clock fields are read in
 * it, cron fields are matched in it.
 *
 * The stored `schedule` is the string as given, with one exception: an
 * empty start ("R//PT1H", meaning "now") is replaced by the instant it
 * stood for, so that parsing the stored job again gives the same start.
 * A job with neither schedule nor parents gets R1/<now>/PT24H (run once,
 * now), as in Chronos.
 *
 * Deliberate differences from Chronos, each a 400 with its reason where
 * Chronos accepted and misbehaved: unknown zones; both `schedule` and
 * `parents` set; `uris` and `fetch` both set (unless `uris` is exactly
 * the mirror of `fetch`, which is what GET returns); constraint operators
 * other than EQUALS, LIKE and UNLIKE (Chronos dropped them silently);
 * negative numbers; a job naming itself as a parent.
 *
 * Memory: everything a struct chr_job points to is owned by it and freed
 * by chr_job_free(); nothing is shared with the yajl tree it came from or
 * with another job (chr_job_dup() copies deeply).
 */
#ifndef CHR_JOB_H
#define CHR_JOB_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include <agora/json.h>
#include <agora/plugin.h>

#include "chr_time.h"

/* ---- configuration: the flags Chronos takes its defaults from ---- */

struct chr_job_conf {
    double cpus;         /* --mesos_task_cpu: 0.1                     */
    double mem;          /* --mesos_task_mem: 128 (MB)                */
    double disk;         /* --mesos_task_disk: 256 (MB)               */
    const char *user;    /* --user: "root"; runAsUser when absent/""  */
    const char *epsilon; /* --task_epsilon (2.x): "PT60S"             */
    /*
     * Optional: where zones come from, so that many jobs share one
     * loaded zone. Returns a zone borrowed from the caller's cache, or
     * NULL with *why (static) when name is no zone. NULL: each parse
     * loads the zone with chr_tz_load() and frees it before returning.
     */
    const struct chr_tz *(*zone)(void *ctx, const char *name,
                                 const char **why);
    void *zone_ctx;
};

/* Chronos' defaults, for a designated initializer:
 * struct chr_job_conf conf = CHR_JOB_CONF_DEFAULTS; */
#define CHR_JOB_CONF_DEFAULTS                                                \
    {                                                                        \
        .cpus = 0.1, .mem = 128, .disk = 256, .user = "root",                \
        .epsilon = "PT60S", .zone = NULL, .zone_ctx = NULL                   \
    }

/* ---- the definition ---- */

struct chr_fetch {            /* fetch[i]; `uris` become these too       */
    char *uri;                /* required, non-empty                     */
    int executable;           /* 0 */
    int cache;                /* 0 */
    int extract;              /* 1 */
    char *output_file;        /* "" (written only when not empty)        */
};

struct chr_env {              /* environmentVariables[i]                 */
    char *name;               /* non-empty                               */
    char *value;              /* may be ""                               */
};

enum chr_constraint_op { CHR_C_EQUALS = 0, CHR_C_LIKE, CHR_C_UNLIKE };

struct chr_constraint {       /* [attribute, OPERATOR, value]            */
    char *attribute;          /* "hostname" or an agent attribute        */
    enum chr_constraint_op op;
    char *value;
    int has_re;               /* LIKE/UNLIKE: re is compiled             */
    regex_t re;               /* POSIX ERE, anchored: ^(value)$, as Java's
                               * String.matches() wants the whole value */
};

/*
 * What a non-concurrent job does when it falls due while a run is still
 * going (§6 pain point 7). QUEUE is Chronos' `concurrent: false`: the run
 * waits and then runs once; ALLOW is `concurrent: true`; FORBID skips the
 * new run and REPLACE kills the old one (Kubernetes' meanings).
 */
enum chr_concurrency {
    CHR_CONC_QUEUE = 0,
    CHR_CONC_ALLOW,
    CHR_CONC_FORBID,
    CHR_CONC_REPLACE
};

struct chr_job {
    char *name;                 /* [\w.-]+                                */
    char *command;              /* ""                                     */
    int shell;                  /* 1                                      */
    char *executor;             /* ""                                     */
    char *executor_flags;       /* ""                                     */
    char *task_info_data;       /* ""                                     */
    int retries;                /* 2                                      */
    char *owner;                /* ""                                     */
    char *owner_name;           /* ""                                     */
    char *description;          /* ""                                     */
    int64_t success_count;      /* 0: counters are accepted from clients, */
    int64_t error_count;        /*    as Chronos accepts them             */
    int64_t last_success;       /* ms UTC; 0 = never (written "")         */
    int64_t last_error;         /* ms UTC; 0 = never                      */
    double cpus, disk, mem;     /* 0 or absent: the conf's defaults       */
    int disabled;               /* 0 */
    int soft_error;             /* 0 */
    int data_processing;        /* dataProcessingJobType (doc: dataJob)   */
    int64_t errors_since_last_success; /* 0 */
    struct chr_fetch *fetch;    /* NULL when none                         */
    size_t nfetch;
    struct chr_env *env;        /* environmentVariables                   */
    size_t nenv;
    char **arguments;           /* NULL when none                         */
    size_t narguments;
    int high_priority;          /* 0 */
    char *run_as_user;          /* the conf's user when absent or ""      */
    int concurrent;             /* 0; 1 exactly when concurrency is ALLOW */
    int64_t max_completion_time;/* seconds; 0 = none                      */
    char *container_json;       /* the container object as JSON text, or
                                 * NULL (none, or one without `image`)    */
    struct chr_constraint *constraints;
    size_t nconstraints;

    /* A dependent job has parents (nparents > 0) and no schedule; a
     * scheduled job has a schedule and no parents. */
    char **parents;             /* distinct job names, as given           */
    size_t nparents;
    char *schedule;             /* NULL for dependent jobs                */
    struct chr_iso iso;         /* the ISO schedule parsed; zero for cron */
    struct chr_cron *cron;      /* "cron:<expr>" parsed, or NULL          */
    char *schedule_tz;          /* scheduleTimeZone; "" = UTC             */

    char *epsilon;              /* ISO duration as given; conf's default  */
    struct chr_period epsilon_period; /* epsilon parsed                   */
    int async;                  /* 0 (2.x)                                */
    enum chr_concurrency concurrency; /* QUEUE, or from `concurrent`      */
    int64_t starting_deadline;  /* startingDeadlineSeconds; -1 = none     */
};

/* What a parse expects of the body, by endpoint. */
enum chr_job_mode {
    /* The store: either kind; neither gets R1/<now>/PT24H. */
    CHR_JOB_ANY = 0,
    /* POST /scheduler/iso8601: a scheduled job; `parents` is refused,
     * and neither gets R1/<now>/PT24H as in Chronos. */
    CHR_JOB_ISO8601,
    /* POST /scheduler/dependency: non-empty `parents` required. */
    CHR_JOB_DEPENDENCY
};

/*
 * Parses the job in v (a yajl tree, borrowed) as mode says, with the
 * defaults of conf (borrowed for the call) and now (ms UTC: the start of
 * an empty-start schedule and of the R1 default). Returns 0 and *out (the
 * caller frees it with chr_job_free()); AGORA_EINVAL and *msg, a
 * malloc'ed message for the 400 body (every failure found, "; "-joined,
 * client values quoted and cut to 64 bytes), which the caller frees; or
 * AGORA_ENOMEM (answer 500), *msg NULL. *out is NULL on failure.
 */
int chr_job_parse(yajl_val v, enum chr_job_mode mode, int64_t now,
                  const struct chr_job_conf *conf, struct chr_job **out,
                  char **msg);

/* chr_job_parse() of JSON text (the store's value, a request's body):
 * text that is not JSON is AGORA_EINVAL with a message saying why. */
int chr_job_parse_text(const char *text, enum chr_job_mode mode, int64_t now,
                       const struct chr_job_conf *conf, struct chr_job **out,
                       char **msg);

/* A deep copy (regular expressions compiled again, cron parsed again),
 * or NULL when out of memory. */
struct chr_job *chr_job_dup(const struct chr_job *j);

/* 1 when a and b hold the same definition, field by field. */
int chr_job_equal(const struct chr_job *a, const struct chr_job *b);

/* Frees j and all it owns; NULL is ignored. */
void chr_job_free(struct chr_job *j);

/* 1 when s is a whole job name: [\w.-]+ (ASCII letters, digits, _ . -). */
int chr_job_name_valid(const char *s);

/* 1 for a dependent job (it has parents), 0 for a scheduled one. */
int chr_job_dependent(const struct chr_job *j);

/*
 * Replaces j's ISO schedule by iso (the scheduler's rewrite after a
 * launch: start advanced, repeat decremented), written as
 * "R<n>/<start>/<period>": the start in UTC ("...Z") when z is NULL,
 * else as z's wall-clock time with its offset, so that reading it in
 * scheduleTimeZone gives the same instant back. z is the job's zone
 * (borrowed). j->iso becomes the stored string parsed again. 0;
 * AGORA_EINVAL (j is dependent or cron, or the start is before
 * 1970-01-01T00:00:01Z) or AGORA_ENOMEM, j unchanged.
 */
int chr_job_set_iso(struct chr_job *j, const struct chr_iso *iso,
                    const struct chr_tz *z);

/*
 * The latest instant a run due at `due` may start (ms UTC): due plus
 * epsilon, or plus startingDeadlineSeconds when that is set and sooner.
 */
int64_t chr_job_deadline(const struct chr_job *j, int64_t due);

/* ---- writing ---- */

/* The job as one JSON object, every field in Chronos' order (§1.3),
 * then epsilon, async, concurrencyPolicy, startingDeadlineSeconds. */
void chr_job_write(struct agora_jw *w, const struct chr_job *j);

/* chr_job_write() into a malloc'ed string (the store's value), or NULL
 * when out of memory. */
char *chr_job_text(const struct chr_job *j);

/* One entry of GET /scheduler/jobs/summary: {"name","status","state",
 * "schedule" ("" when dependent),"parents","disabled"}; state is the
 * scheduler's ("idle", "queued", "running", "2 running"). */
void chr_job_write_summary(struct agora_jw *w, const struct chr_job *j,
                           const char *state);

/* Chronos' error body {"status":"Bad Request","message":msg}. */
void chr_write_bad_request(struct agora_jw *w, const char *msg);

/* ---- outcomes ---- */

enum chr_job_status { CHR_STATUS_FRESH = 0, CHR_STATUS_SUCCESS,
                      CHR_STATUS_FAILURE };

/* fresh when it never ended, success when its last success is later than
 * its last error, else failure (Chronos' lastState). */
enum chr_job_status chr_job_status(const struct chr_job *j);
/* "fresh", "success", "failure" (static). */
const char *chr_job_status_name(enum chr_job_status s);

/* §2.4 on TASK_FINISHED: successCount++, errorsSinceLastSuccess = 0,
 * lastSuccess = now. */
void chr_job_record_success(struct chr_job *j, int64_t now);
/* §2.4 when retries are exhausted: errorCount++,
 * errorsSinceLastSuccess++, lastError = now. */
void chr_job_record_failure(struct chr_job *j, int64_t now);
/* 1 when a failed attempt (0 = the first run) is retried: attempt <
 * retries, and the job's last outcome was not a failure (Chronos' quirk:
 * lastError "" or lastSuccess >= lastError). */
int chr_job_may_retry(const struct chr_job *j, int attempt);

/* ---- task ids: ct:<dueMillis>:<attempt>:<name>:<args> ---- */

/* arguments joined by ' ' (Chronos' default args of a task id), malloc'ed
 * ("" when none), or NULL when out of memory. */
char *chr_job_args(const struct chr_job *j);

/*
 * "ct:<due>:<attempt>:<name>:<args>", malloc'ed (the caller frees), with
 * every ';' of args removed (args NULL = ""). NULL when due or attempt is
 * negative, name is not a job name, or out of memory.
 */
char *chr_task_id_make(int64_t due, int attempt, const char *name,
                       const char *args);

struct chr_task_id {
    int64_t due;      /* ms UTC */
    int attempt;
    char *name;       /* malloc'ed */
    char *args;       /* malloc'ed; "" when none */
};

/*
 * Parses s by Chronos' regex ct:(\d+):(\d+):([\w.-]+):?(.*)? over the
 * whole string (so "ct:1:0:a b" is job "a" with args " b", as in
 * Chronos). 0 and *out (free its strings with chr_task_id_clear());
 * AGORA_EINVAL when s does not match or a number overflows; AGORA_ENOMEM.
 */
int chr_task_id_parse(const char *s, struct chr_task_id *out);
void chr_task_id_clear(struct chr_task_id *t);

#endif /* CHR_JOB_H */
