/*
 * test_chr_job.c - chronos.so's job definition (chr_job.h): defaults,
 * every validation message, wrong types, write/parse round trips,
 * fetch/uris mirroring, schedules (ISO 8601, cron, zones, empty starts),
 * what each endpoint requires, task ids, status helpers, copies and
 * equality, and hostile input that must never crash.
 */
/* dladdr(): the build defines _GNU_SOURCE */
#include <check.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>

#include "chr_job.h"

/*
 * Allocation failures, injected as test_mar_app.c does: the (n+1)th
 * allocation after fail_after is set to n fails, and live blocks are
 * counted so that a failed call is seen to leak nothing. Not under
 * AddressSanitizer, whose allocator must stay in charge.
 */
#ifndef __SANITIZE_ADDRESS__
#define OOM_TESTS 1
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

static long fail_after = -1; /* -1: no failures */
static int failed_alloc;     /* an allocation was refused */
static long live;            /* blocks allocated and not freed */

/*
 * yajl does not survive a failed allocation, and glibc's regcomp() leaks
 * a block when one of its own fails: allocations made inside those
 * libraries are never failed, which leaves the model's (and the time
 * library's) own.
 */
static int alloc_ok(void *caller)
{
    Dl_info info;

    if (fail_after < 0)
        return 1;
    if (dladdr(caller, &info) && info.dli_fname &&
        (strstr(info.dli_fname, "libyajl") ||
         strstr(info.dli_fname, "libc.so")))
        return 1;
    if (fail_after == 0) {
        failed_alloc = 1;
        return 0;
    }
    fail_after--;
    return 1;
}

void *malloc(size_t n)
{
    void *p = alloc_ok(__builtin_return_address(0)) ? __libc_malloc(n) : NULL;

    live += p != NULL;
    return p;
}

void *calloc(size_t n, size_t size)
{
    void *p =
        alloc_ok(__builtin_return_address(0)) ? __libc_calloc(n, size) : NULL;

    live += p != NULL;
    return p;
}

void *realloc(void *p, size_t n)
{
    void *q;

    if (!alloc_ok(__builtin_return_address(0)))
        return NULL;
    q = __libc_realloc(p, n);
    if (!p && q)
        live++;
    else if (p && !q && n == 0)
        live--;
    return q;
}

void free(void *p)
{
    live -= p != NULL;
    __libc_free(p);
}
#endif

/* 2023-11-14T22:13:20.000Z */
#define NOW INT64_C(1700000000000)

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- helpers ---- */

static yajl_val json(const char *text)
{
    char err[128];
    yajl_val v = agora_json_parse(text, err, sizeof(err));

    ck_assert_msg(v != NULL, "bad test JSON (%s): %s", err, text);
    return v;
}

/* Parses text in mode with conf (NULL: Chronos' defaults); the job, or
 * NULL and *msg (the caller frees it). */
static struct chr_job *parse_conf(const char *text, enum chr_job_mode mode,
                                  const struct chr_job_conf *conf, char **msg)
{
    yajl_val v = json(text);
    struct chr_job *j = NULL;
    char *m = NULL;
    int rc = chr_job_parse(v, mode, NOW, conf, &j, &m);

    yajl_tree_free(v);
    ck_assert_msg(rc == 0 || rc == AGORA_EINVAL, "rc %d for %s", rc, text);
    ck_assert_msg((rc == 0) == (j != NULL) && (rc == 0) == (m == NULL), "%s",
                  text);
    if (msg)
        *msg = m;
    else
        free(m);
    return j;
}

/* A job that must parse. */
static struct chr_job *ok_mode(const char *text, enum chr_job_mode mode)
{
    char *msg = NULL;
    struct chr_job *j = parse_conf(text, mode, NULL, &msg);

    ck_assert_msg(j != NULL, "refused %s: %s", text, msg);
    return j;
}

static struct chr_job *ok(const char *text)
{
    return ok_mode(text, CHR_JOB_ANY);
}

/* The message of a body that must be refused (malloc'ed). */
static char *refused(const char *text, enum chr_job_mode mode)
{
    char *msg = NULL;
    struct chr_job *j = parse_conf(text, mode, NULL, &msg);

    ck_assert_msg(j == NULL, "accepted %s", text);
    ck_assert_ptr_nonnull(msg);
    return msg;
}

static char *job_text(const struct chr_job *j)
{
    char *s = chr_job_text(j);

    ck_assert_ptr_nonnull(s);
    return s;
}

/* The JSON text a writer call produced, malloc'ed. */
static char *written(void (*fn)(struct agora_jw *, const void *),
                     const void *arg)
{
    struct agora_jw *w = agora_jw_new();
    const char *r;
    char *s;

    fn(w, arg);
    r = agora_jw_result(w, NULL);
    ck_assert_ptr_nonnull(r);
    s = strdup(r);
    agora_jw_free(w);
    return s;
}

/* ---- defaults ---- */

static const char minimal_written[] =
    "{\"name\":\"a\",\"command\":\"\",\"shell\":true,\"executor\":\"\","
    "\"executorFlags\":\"\",\"taskInfoData\":\"\",\"retries\":2,"
    "\"owner\":\"\",\"ownerName\":\"\",\"description\":\"\","
    "\"successCount\":0,\"errorCount\":0,\"lastSuccess\":\"\","
    "\"lastError\":\"\",\"cpus\":0.1,\"disk\":256,\"mem\":128,"
    "\"disabled\":false,\"softError\":false,"
    "\"dataProcessingJobType\":false,\"errorsSinceLastSuccess\":0,"
    "\"fetch\":[],\"uris\":[],\"environmentVariables\":[],\"arguments\":[],"
    "\"highPriority\":false,\"runAsUser\":\"root\",\"concurrent\":false,"
    "\"maxCompletionTime\":0,\"constraints\":[],"
    "\"schedule\":\"R1/2023-11-14T22:13:20.000Z/PT24H\","
    "\"scheduleTimeZone\":\"\",\"epsilon\":\"PT60S\",\"async\":false,"
    "\"concurrencyPolicy\":\"QUEUE\",\"startingDeadlineSeconds\":null}";

START_TEST(test_defaults_struct)
{
    struct chr_job *j = ok("{\"name\":\"a\"}");

    ck_assert_str_eq(j->name, "a");
    ck_assert_str_eq(j->command, "");
    ck_assert_int_eq(j->shell, 1);
    ck_assert_uint_eq(j->narguments, 0);
    ck_assert_int_eq(j->retries, 2);
    ck_assert_str_eq(j->owner, "");
    ck_assert_str_eq(j->owner_name, "");
    ck_assert_str_eq(j->description, "");
    ck_assert_int_eq(j->success_count, 0);
    ck_assert_int_eq(j->error_count, 0);
    ck_assert_int_eq(j->errors_since_last_success, 0);
    ck_assert_int_eq(j->last_success, 0);
    ck_assert_int_eq(j->last_error, 0);
    ck_assert_double_eq(j->cpus, 0.1);
    ck_assert_double_eq(j->mem, 128);
    ck_assert_double_eq(j->disk, 256);
    ck_assert_int_eq(j->disabled, 0);
    ck_assert_int_eq(j->soft_error, 0);
    ck_assert_int_eq(j->data_processing, 0);
    ck_assert_int_eq(j->concurrent, 0);
    ck_assert_int_eq(j->high_priority, 0);
    ck_assert_str_eq(j->run_as_user, "root");
    ck_assert_int_eq(j->max_completion_time, 0);
    ck_assert_str_eq(j->executor, "");
    ck_assert_str_eq(j->executor_flags, "");
    ck_assert_str_eq(j->task_info_data, "");
    ck_assert_uint_eq(j->nfetch, 0);
    ck_assert_uint_eq(j->nenv, 0);
    ck_assert_uint_eq(j->nconstraints, 0);
    ck_assert_ptr_null(j->container_json);
    ck_assert_uint_eq(j->nparents, 0);
    ck_assert_int_eq(chr_job_dependent(j), 0);
    /* neither schedule nor parents: run once, now */
    ck_assert_str_eq(j->schedule, "R1/2023-11-14T22:13:20.000Z/PT24H");
    ck_assert_int_eq(j->iso.repeat, 1);
    ck_assert_int_eq(j->iso.start, NOW);
    ck_assert_int_eq(j->iso.period.hours, 24);
    ck_assert_ptr_null(j->cron);
    ck_assert_str_eq(j->schedule_tz, "");
    ck_assert_str_eq(j->epsilon, "PT60S");
    ck_assert_int_eq(j->epsilon_period.ms, 60000);
    ck_assert_int_eq(j->async, 0);
    ck_assert_int_eq(j->concurrency, CHR_CONC_QUEUE);
    ck_assert_int_eq(j->starting_deadline, -1);
    chr_job_free(j);
}
END_TEST

START_TEST(test_defaults_written)
{
    struct chr_job *j = ok("{\"name\":\"a\"}");
    char *s = job_text(j);

    ck_assert_str_eq(s, minimal_written);
    free(s);
    chr_job_free(j);
}
END_TEST

/* The flags' defaults come from the conf; zero resources and an empty
 * runAsUser mean "the default", given values stay. */
START_TEST(test_conf_defaults)
{
    struct chr_job_conf conf = CHR_JOB_CONF_DEFAULTS;
    struct chr_job *j;
    char *msg;

    conf.cpus = 0.5;
    conf.mem = 64;
    conf.disk = 1024;
    conf.user = "chronos";
    conf.epsilon = "PT5M";
    j = parse_conf("{\"name\":\"a\",\"cpus\":0,\"mem\":0,\"runAsUser\":\"\"}",
                   CHR_JOB_ANY, &conf, &msg);
    ck_assert_ptr_nonnull(j);
    ck_assert_double_eq(j->cpus, 0.5);
    ck_assert_double_eq(j->mem, 64);
    ck_assert_double_eq(j->disk, 1024);
    ck_assert_str_eq(j->run_as_user, "chronos");
    ck_assert_str_eq(j->epsilon, "PT5M");
    ck_assert_int_eq(j->epsilon_period.minutes, 5);
    chr_job_free(j);

    j = parse_conf("{\"name\":\"a\",\"cpus\":2,\"mem\":\"512.5\",\"disk\":1,"
                   "\"runAsUser\":\"nobody\",\"epsilon\":\"PT1H\"}",
                   CHR_JOB_ANY, &conf, &msg);
    ck_assert_ptr_nonnull(j);
    ck_assert_double_eq(j->cpus, 2);
    ck_assert_double_eq(j->mem, 512.5);
    ck_assert_double_eq(j->disk, 1);
    ck_assert_str_eq(j->run_as_user, "nobody");
    ck_assert_str_eq(j->epsilon, "PT1H");
    chr_job_free(j);
}
END_TEST

/* Jackson's lenient reads: numbers and booleans as strings. */
START_TEST(test_lenient_values)
{
    struct chr_job *j =
        ok("{\"name\":\"a\",\"retries\":\"5\",\"cpus\":\"0.25\","
           "\"shell\":\"false\",\"disabled\":\"true\","
           "\"successCount\":3.0,\"maxCompletionTime\":\"60\","
           "\"dataJob\":true}");

    ck_assert_int_eq(j->retries, 5);
    ck_assert_double_eq(j->cpus, 0.25);
    ck_assert_int_eq(j->shell, 0);
    ck_assert_int_eq(j->disabled, 1);
    ck_assert_int_eq(j->success_count, 3);
    ck_assert_int_eq(j->max_completion_time, 60);
    ck_assert_int_eq(j->data_processing, 1);
    chr_job_free(j);
}
END_TEST

/* JSON null is absent; unknown fields are ignored. */
START_TEST(test_null_and_unknown)
{
    static const char *const keys[] = {"command",
                                       "shell",
                                       "executor",
                                       "executorFlags",
                                       "taskInfoData",
                                       "retries",
                                       "owner",
                                       "ownerName",
                                       "description",
                                       "successCount",
                                       "errorCount",
                                       "lastSuccess",
                                       "lastError",
                                       "cpus",
                                       "disk",
                                       "mem",
                                       "disabled",
                                       "softError",
                                       "dataProcessingJobType",
                                       "errorsSinceLastSuccess",
                                       "fetch",
                                       "uris",
                                       "environmentVariables",
                                       "arguments",
                                       "highPriority",
                                       "runAsUser",
                                       "concurrent",
                                       "maxCompletionTime",
                                       "container",
                                       "constraints",
                                       "schedule",
                                       "scheduleTimeZone",
                                       "parents",
                                       "epsilon",
                                       "async",
                                       "concurrencyPolicy",
                                       "startingDeadlineSeconds",
                                       "cron",
                                       "dataJob"};
    char buf[4096];
    struct chr_job *j;
    char *s;
    size_t p = 0;
    int i;

    p += (size_t)snprintf(buf, sizeof(buf), "{\"name\":\"a\"");
    for (i = 0; i < N(keys); i++)
        p +=
            (size_t)snprintf(buf + p, sizeof(buf) - p, ",\"%s\":null", keys[i]);
    snprintf(buf + p, sizeof(buf) - p,
             ",\"somethingElse\":{\"deep\":[1,2]},\"version\":\"x\"}");
    j = ok(buf);
    s = job_text(j);
    ck_assert_str_eq(s, minimal_written);
    free(s);
    chr_job_free(j);
}
END_TEST

/* ---- validation messages ---- */

struct msg_case {
    enum chr_job_mode mode;
    const char *body;
    const char *msg; /* exact; a trailing '*' makes it a prefix */
};

static const struct msg_case msg_cases[] = {
    {CHR_JOB_ANY, "[]", "a job must be a JSON object"},
    {CHR_JOB_ANY, "\"a\"", "a job must be a JSON object"},
    {CHR_JOB_ANY, "{}", "name is required"},
    {CHR_JOB_ANY, "{\"name\":null}", "name is required"},
    {CHR_JOB_ANY, "{\"name\":5}", "name must be a string"},
    {CHR_JOB_ANY, "{\"name\":\"a b\"}", "name must match [\\w.-]+, not 'a b'"},
    {CHR_JOB_ANY, "{\"name\":\"\"}", "name must match [\\w.-]+, not ''"},
    {CHR_JOB_ANY, "{\"name\":\"j\\u00e9\"}",
     "name must match [\\w.-]+, not 'j\xc3\xa9'"},
    {CHR_JOB_ANY, "{\"name\":\"a/b\"}", "name must match [\\w.-]+, not 'a/b'"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"schedule\":\"x\"}",
     "Cannot parse schedule 'x' (*"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"schedule\":\"R/now/PT1H\"}",
     "Cannot parse schedule 'R/now/PT1H' (*"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"schedule\":\"R/2014-01-01T00:00:00Z/1H\"}",
     "Cannot parse schedule 'R/2014-01-01T00:00:00Z/1H' (*"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"schedule\":\"R/1969-12-31T00:00:00Z/PT1H\"}",
     "Cannot parse schedule 'R/1969-12-31T00:00:00Z/PT1H' (*"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"schedule\":\"cron:* * *\"}",
     "Cannot parse schedule 'cron:* * *' (*"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"cron\":\"0 0 30 2 *\"}",
     "Cannot parse schedule 'cron:0 0 30 2 *' (*"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"schedule\":\"R//PT1H\",\"cron\":\"* * * * *\"}",
     "cannot set both schedule and cron"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"scheduleTimeZone\":\"Mars/Olympus\"}",
     "unknown time zone 'Mars/Olympus'"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"schedule\":\"R//PT1H\",\"scheduleTimeZone\":\"Mars/"
     "Olympus\"}",
     "unknown time zone 'Mars/Olympus'"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"scheduleTimeZone\":\"PST\"}",
     "unknown time zone 'PST'"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"scheduleTimeZone\":\"../../etc/passwd\"}",
     "* '../../etc/passwd'"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"scheduleTimeZone\":7}",
     "scheduleTimeZone must be a string"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"uris\":[\"u\"],\"fetch\":[{\"uri\":\"f\"}]}",
     "cannot set both uris and fetch"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"uris\":[\"f\",\"g\"],\"fetch\":[{\"uri\":\"f\"}]}",
     "cannot set both uris and fetch"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"schedule\":\"R//PT1H\",\"parents\":[\"b\"]}",
     "cannot set both schedule and parents"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"cron\":\"@daily\",\"parents\":[\"b\"]}",
     "cannot set both schedule and parents"},
    {CHR_JOB_DEPENDENCY, "{\"name\":\"a\"}",
     "a dependent job needs parents: a non-empty list of job names"},
    {CHR_JOB_DEPENDENCY, "{\"name\":\"a\",\"parents\":[]}",
     "a dependent job needs parents: a non-empty list of job names"},
    {CHR_JOB_DEPENDENCY,
     "{\"name\":\"a\",\"parents\":[\"b\"],\"schedule\":\"R//PT1H\"}",
     "cannot set both schedule and parents"},
    {CHR_JOB_ISO8601, "{\"name\":\"a\",\"parents\":[\"b\"]}",
     "a job with parents is posted to /scheduler/dependency, not "
     "/scheduler/iso8601"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"parents\":[\"b\",\"c d\"]}",
     "parents[1] must match [\\w.-]+, not 'c d'"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"parents\":[\"a\"]}",
     "a job cannot be its own parent"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"parents\":\"b\"}",
     "parents must be an array of strings"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"parents\":[\"b\",3]}",
     "parents[1] must be a string"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"lastSuccess\":\"yesterday\"}",
     "lastSuccess must be an ISO 8601 time such as 2014-03-08T16:57:17.507Z, "
     "or \"\", not 'yesterday'"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"lastError\":\"2014-01-01T00:00:00Z/PT1H\"}",
     "lastError must be an ISO 8601 time such as 2014-03-08T16:57:17.507Z, "
     "or \"\", not '2014-01-01T00:00:00Z/PT1H'"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"epsilon\":\"5m\"}",
     "epsilon must be an ISO 8601 duration such as PT60S, not '5m'"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"epsilon\":\"\"}",
     "epsilon must be an ISO 8601 duration such as PT60S, not ''"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"epsilon\":\"PT1M/x\"}",
     "epsilon must be an ISO 8601 duration such as PT60S, not 'PT1M/x'"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"retries\":-1}",
     "retries must be an integer from 0 to 2147483647, not -1"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"retries\":2147483648}",
     "retries must be an integer from 0 to 2147483647, not 2147483648"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"retries\":1.5}",
     "retries must be an integer"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"retries\":\"many\"}",
     "retries must be an integer"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"successCount\":-3}",
     "successCount must be an integer from 0 to 9223372036854775807, not -3"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"maxCompletionTime\":-1}",
     "maxCompletionTime must be an integer from 0 to 9223372036854775807, "
     "not -1"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"cpus\":-1}", "cpus must not be negative"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"mem\":\"lots\"}", "mem must be a number"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"disk\":\"nan\"}", "disk must be a number"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"disk\":1e999}", "disk must be a number"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"shell\":\"maybe\"}",
     "shell must be a boolean"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"shell\":1}", "shell must be a boolean"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"dataJob\":\"x\"}",
     "dataJob must be a boolean"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"fetch\":{}}",
     "fetch must be an array of objects"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"fetch\":[5]}",
     "fetch[0] must be an object"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"fetch\":[{\"uri\":\"u\"},{}]}",
     "fetch[1].uri is required"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"fetch\":[{\"uri\":\"\"}]}",
     "fetch[0].uri is required"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"fetch\":[{\"uri\":1}]}",
     "fetch[0].uri must be a string"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"fetch\":[{\"uri\":\"u\",\"cache\":\"no\"}]}",
     "fetch[0].cache must be a boolean"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"fetch\":[{\"uri\":\"u\",\"output_file\":false}]}",
     "fetch[0].output_file must be a string"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"uris\":[\"\"]}",
     "uris[0] must not be empty"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"uris\":[\"u\",{}]}",
     "uris[1] must be a string"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"environmentVariables\":{\"A\":\"b\"}}",
     "environmentVariables must be an array of {\"name\",\"value\"} objects"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"environmentVariables\":[1]}",
     "environmentVariables[0] must be an object"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"environmentVariables\":[{\"value\":\"v\"}]}",
     "environmentVariables[0].name is required"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"environmentVariables\":[{\"name\":\"A\"}]}",
     "environmentVariables[0].value is required"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"environmentVariables\":[{\"name\":\"A\",\"value\":1}]}",
     "environmentVariables[0].value must be a string"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"constraints\":{}}",
     "constraints must be an array of [attribute, operator, value]"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"constraints\":[[\"a\",\"EQUALS\"]]}",
     "constraints[0] must be [attribute, operator, value], three strings"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"constraints\":[[\"a\",\"EQUALS\",1]]}",
     "constraints[0] must be [attribute, operator, value], three strings"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"constraints\":[\"a\"]}",
     "constraints[0] must be [attribute, operator, value], three strings"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"constraints\":[[\"a\",\"GROUP_BY\",\"x\"]]}",
     "constraints[0]: the operator must be EQUALS, LIKE or UNLIKE, not "
     "'GROUP_BY'"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"constraints\":[[\"\",\"EQUALS\",\"x\"]]}",
     "constraints[0]: the attribute is empty"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"constraints\":[[\"r\",\"LIKE\",\"(\"]]}",
     "constraints[0]: '(' is not a regular expression (*"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"constraints\":[[\"r\",\"UNLIKE\",\"a{1000}{1000}\"]]}",
     "constraints[0]: 'a{1000}{1000}' is not a regular expression (longer "
     "than 1024 bytes or repeating more than 1000 times)"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"constraints\":[[\"r\",\"LIKE\",\"a+++++++++++++++++++"
     "+++++++++++\"]]}",
     "constraints[0]: 'a++++++++++++++++++++++++++++++' is not a regular "
     "expression (longer than 1024 bytes or repeating more than 1000 times)"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"container\":5}",
     "container must be an object"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"container\":{\"image\":\"\"}}",
     "container.image must be a non-empty string"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"container\":{\"image\":[\"i\"]}}",
     "container.image must be a non-empty string"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"container\":{\"image\":\"i\",\"type\":\"RKT\"}}",
     "container.type must be DOCKER or MESOS, not 'RKT'"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"container\":{\"image\":\"i\",\"network\":\"NAT\"}}",
     "container.network must be HOST, BRIDGE or USER, not 'NAT'"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"container\":{\"image\":\"i\",\"forcePullImage\":"
     "\"yes\"}}",
     "container.forcePullImage must be a boolean"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"container\":{\"image\":\"i\",\"volumes\":{}}}",
     "container.volumes must be an array"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"concurrencyPolicy\":\"SOMETIMES\"}",
     "concurrencyPolicy must be ALLOW, FORBID, REPLACE or QUEUE, not "
     "'SOMETIMES'"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"concurrent\":true,\"concurrencyPolicy\":\"FORBID\"}",
     "concurrent true conflicts with concurrencyPolicy FORBID"},
    {CHR_JOB_ANY,
     "{\"name\":\"a\",\"concurrent\":false,\"concurrencyPolicy\":\"ALLOW\"}",
     "concurrent false conflicts with concurrencyPolicy ALLOW"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"startingDeadlineSeconds\":-5}",
     "startingDeadlineSeconds must be an integer from 0 to 9223372036854775, "
     "not -5"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"arguments\":\"x\"}",
     "arguments must be an array of strings"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"arguments\":[\"x\",null]}",
     "arguments[1] must be a string"},
    /* every failure, in one message */
    {CHR_JOB_ANY, "{\"name\":\"a b\",\"retries\":\"x\",\"cpus\":-1}",
     "retries must be an integer; cpus must not be negative; name must match "
     "[\\w.-]+, not 'a b'"},
    {CHR_JOB_ANY, "{\"name\":\"a\",\"arguments\":[1,2,3,4,5,6,7,8,9,10,11,12]}",
     "arguments[0] must be a string; arguments[1] must be a string; "
     "arguments[2] must be a string; arguments[3] must be a string; "
     "arguments[4] must be a string; arguments[5] must be a string; "
     "arguments[6] must be a string; arguments[7] must be a string; ..."},
};

/* msg matches want: exactly, or by its prefix when want ends in '*', or
 * by its suffix when want starts with '*'. */
static int msg_matches(const char *msg, const char *want)
{
    size_t n = strlen(want), m = strlen(msg);

    if (n > 0 && want[n - 1] == '*')
        return strncmp(msg, want, n - 1) == 0;
    if (want[0] == '*')
        return m >= n - 1 && strcmp(msg + m - (n - 1), want + 1) == 0;
    return strcmp(msg, want) == 0;
}

START_TEST(test_messages)
{
    const struct msg_case *c = &msg_cases[_i];
    char *msg = refused(c->body, c->mode);

    ck_assert_msg(msg_matches(msg, c->msg), "%s:\n got  %s\n want %s", c->body,
                  msg, c->msg);
    free(msg);
}
END_TEST

/* Each scalar field given an object: the message names the field and
 * the type it wants; nothing crashes. */
struct type_case {
    const char *key;
    const char *type;
};

static const struct type_case type_cases[] = {
    {"command", "a string"},
    {"shell", "a boolean"},
    {"executor", "a string"},
    {"executorFlags", "a string"},
    {"taskInfoData", "a string"},
    {"retries", "an integer"},
    {"owner", "a string"},
    {"ownerName", "a string"},
    {"description", "a string"},
    {"successCount", "an integer"},
    {"errorCount", "an integer"},
    {"lastSuccess", "a string"},
    {"lastError", "a string"},
    {"cpus", "a number"},
    {"disk", "a number"},
    {"mem", "a number"},
    {"disabled", "a boolean"},
    {"softError", "a boolean"},
    {"dataProcessingJobType", "a boolean"},
    {"errorsSinceLastSuccess", "an integer"},
    {"highPriority", "a boolean"},
    {"runAsUser", "a string"},
    {"concurrent", "a boolean"},
    {"maxCompletionTime", "an integer"},
    {"schedule", "a string"},
    {"cron", "a string"},
    {"epsilon", "a string"},
    {"async", "a boolean"},
    {"concurrencyPolicy", "a string"},
    {"startingDeadlineSeconds", "an integer"},
    {"arguments", "an array of strings"},
    {"parents", "an array of strings"},
    {"uris", "an array of strings"},
};

START_TEST(test_wrong_types)
{
    static const char *const values[] = {"{}", "[1]", "{\"a\":[{}]}"};
    const struct type_case *c = &type_cases[_i];
    char body[256], want[128], *msg;
    size_t v;

    for (v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
        if (strstr(c->type, "array") && values[v][0] == '[')
            continue;
        snprintf(body, sizeof(body), "{\"name\":\"a\",\"%s\":%s}", c->key,
                 values[v]);
        snprintf(want, sizeof(want), "%s must be %s", c->key, c->type);
        msg = refused(body, CHR_JOB_ANY);
        ck_assert_msg(strcmp(msg, want) == 0, "%s: %s", body, msg);
        free(msg);
    }
}
END_TEST

/* Client values are echoed cut to 64 bytes, never inside a UTF-8
 * character. */
START_TEST(test_echo_cut)
{
    char body[512], want[256], *msg;
    char name[200];

    memset(name, 'x', 150);
    name[150] = '\0';
    name[10] = ' ';
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
    msg = refused(body, CHR_JOB_ANY);
    snprintf(want, sizeof(want), "name must match [\\w.-]+, not '%.64s...'",
             name);
    ck_assert_str_eq(msg, want);
    free(msg);

    /* 63 ASCII bytes, then two-byte characters: the cut backs off to 63 */
    memset(name, 'y', 63);
    name[0] = ' ';
    strcpy(name + 63, "\xc3\xa9\xc3\xa9\xc3\xa9");
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
    msg = refused(body, CHR_JOB_ANY);
    snprintf(want, sizeof(want), "name must match [\\w.-]+, not '%.63s...'",
             name);
    ck_assert_str_eq(msg, want);
    free(msg);
}
END_TEST

/* ---- round trips ---- */

static const char *const trip_cases[] = {
    "{\"name\":\"a\"}",
    /* everything, with non-defaults */
    "{\"name\":\"full.job-1_x\",\"command\":\"echo $HOME; exit 0\","
    "\"shell\":false,\"arguments\":[\"-v\",\"two words\",\"\"],"
    "\"executor\":\"/usr/bin/exec\",\"executorFlags\":\"--flag\","
    "\"taskInfoData\":\"data\",\"retries\":0,\"owner\":\"a@b.c,d@e.f\","
    "\"ownerName\":\"Ann\",\"description\":\"d\\\"q\\\\\\n\\u0001\\u00e9\","
    "\"successCount\":7,\"errorCount\":3,\"errorsSinceLastSuccess\":1,"
    "\"lastSuccess\":\"2014-03-08T16:57:17.507Z\","
    "\"lastError\":\"2014-03-08T17:57:17.507+01:00\","
    "\"cpus\":\"0.5\",\"mem\":1024.25,\"disk\":1,\"disabled\":true,"
    "\"softError\":true,\"dataProcessingJobType\":true,"
    "\"highPriority\":true,\"runAsUser\":\"nobody\",\"concurrent\":true,"
    "\"maxCompletionTime\":3600,"
    "\"fetch\":[{\"uri\":\"http://x/a.tgz\",\"executable\":true,"
    "\"cache\":true,\"extract\":false,\"output_file\":\"b.tgz\"},"
    "{\"uri\":\"hdfs://y\"}],"
    "\"environmentVariables\":[{\"name\":\"A\",\"value\":\"1\"},"
    "{\"name\":\"B\",\"value\":\"\"}],"
    "\"constraints\":[[\"hostname\",\"EQUALS\",\"h1\"],"
    "[\"rack\",\"like\",\"rack-[0-9]+\"],[\"zone\",\"UNLIKE\",\"z(1|2)\"]],"
    "\"container\":{\"type\":\"DOCKER\",\"image\":\"busybox\",\"network\":"
    "\"BRIDGE\",\"volumes\":[{\"containerPath\":\"/d\",\"hostPath\":\"/h\","
    "\"mode\":\"RO\"}],\"forcePullImage\":\"true\",\"parameters\":[{\"key\":"
    "\"k\",\"value\":\"v\"}],\"x\":1.50}," /* 1.50 stays as written */
    "\"schedule\":\"R10/2014-10-10T18:32:00Z/PT60M\","
    "\"scheduleTimeZone\":\"America/Los_Angeles\",\"epsilon\":\"PT5M\","
    "\"async\":true,\"startingDeadlineSeconds\":120}",
    /* dependent */
    "{\"name\":\"child\",\"parents\":[\"p1\",\"p2\",\"p1\"],"
    "\"command\":\"true\"}",
    /* cron, in a zone */
    "{\"name\":\"c\",\"schedule\":\"cron:30 2 * * 1-5\","
    "\"scheduleTimeZone\":\"Europe/Berlin\"}",
    "{\"name\":\"c2\",\"cron\":\"@hourly\",\"concurrencyPolicy\":\"replace\"}",
    /* uris only: become fetch entries */
    "{\"name\":\"u\",\"uris\":[\"http://a/b\",\"s3://c\"],"
    "\"schedule\":\"R/2014-03-08T20:00:00.000Z/PT2H\"}",
    /* empty starts, written out */
    "{\"name\":\"e\",\"schedule\":\"R//PT1H\"}",
    "{\"name\":\"e2\",\"schedule\":\"R5//P1D\","
    "\"scheduleTimeZone\":\"Europe/Berlin\"}",
    "{\"name\":\"e3\",\"scheduleTimeZone\":\"Asia/Kathmandu\"}",
    /* date only, offsets, fractions */
    "{\"name\":\"d\",\"schedule\":\"R0/2016-07-01/P1Y2M3DT4H5M6.5S\"}",
    "{\"name\":\"o\",\"schedule\":\"R/2016-07-01T11:00:00+05:30/P1W\","
    "\"concurrencyPolicy\":\"FORBID\",\"concurrent\":false}",
};

/* write -> parse -> write gives the same bytes and an equal job, and a
 * copy writes the same bytes too. */
START_TEST(test_round_trip)
{
    struct chr_job *a = ok(trip_cases[_i]), *b, *c;
    char *one = job_text(a), *two, *three;

    b = ok(one);
    two = job_text(b);
    ck_assert_msg(strcmp(one, two) == 0, "\n%s\n%s", one, two);
    ck_assert_msg(chr_job_equal(a, b), "%s", one);
    c = chr_job_dup(a);
    ck_assert_ptr_nonnull(c);
    ck_assert(chr_job_equal(a, c));
    three = job_text(c);
    ck_assert_str_eq(one, three);
    chr_job_free(a);
    /* the copy shares nothing: it outlives its original */
    free(three);
    three = job_text(c);
    ck_assert_str_eq(one, three);
    free(one);
    free(two);
    free(three);
    chr_job_free(b);
    chr_job_free(c);
}
END_TEST

START_TEST(test_full_fields)
{
    struct chr_job *j = ok(trip_cases[1]);
    char *s = job_text(j);

    ck_assert_int_eq(j->shell, 0);
    ck_assert_uint_eq(j->narguments, 3);
    ck_assert_str_eq(j->arguments[1], "two words");
    ck_assert_int_eq(j->retries, 0);
    ck_assert_int_eq(j->last_success, INT64_C(1394297837507));
    ck_assert_int_eq(j->last_error, INT64_C(1394297837507));
    ck_assert_double_eq(j->cpus, 0.5);
    ck_assert_int_eq(j->concurrency, CHR_CONC_ALLOW);
    ck_assert_int_eq(j->starting_deadline, 120);
    ck_assert_int_eq(j->async, 1);
    ck_assert_str_eq(j->schedule, "R10/2014-10-10T18:32:00Z/PT60M");
    ck_assert_str_eq(j->schedule_tz, "America/Los_Angeles");
    /* 18:32 in Los Angeles (PDT), not 18:32Z */
    ck_assert_int_eq(j->iso.start, INT64_C(1412991120000));
    ck_assert_int_eq(j->iso.repeat, 10);
    ck_assert_int_eq(j->iso.period.minutes, 60);
    ck_assert_str_eq(j->epsilon, "PT5M");
    ck_assert_uint_eq(j->nconstraints, 3);
    ck_assert_int_eq(j->constraints[1].op, CHR_C_LIKE);
    ck_assert_ptr_nonnull(
        strstr(s, "\"lastError\":\"2014-03-08T16:57:17.507Z\""));
    ck_assert_ptr_nonnull(strstr(s, "[\"rack\",\"LIKE\",\"rack-[0-9]+\"]"));
    ck_assert_ptr_nonnull(strstr(s, "\"x\":1.50}"));
    ck_assert_ptr_nonnull(strstr(
        s, "\"maxCompletionTime\":3600,\"container\":{\"type\":\"DOCKER\","));
    ck_assert_ptr_nonnull(
        strstr(s, "\"uris\":[\"http://x/a.tgz\",\"hdfs://y\"]"));
    ck_assert_ptr_nonnull(strstr(
        s, "\"schedule\":\"R10/2014-10-10T18:32:00Z/PT60M\","
           "\"scheduleTimeZone\":\"America/Los_Angeles\",\"epsilon\":\"PT5M\","
           "\"async\":true,\"concurrencyPolicy\":\"ALLOW\","
           "\"startingDeadlineSeconds\":120}"));
    free(s);
    chr_job_free(j);
}
END_TEST

/* ---- fetch and uris ---- */

START_TEST(test_uris_become_fetch)
{
    struct chr_job *j = ok("{\"name\":\"u\",\"uris\":[\"http://a/b\"]}");
    char *s = job_text(j);

    ck_assert_uint_eq(j->nfetch, 1);
    ck_assert_str_eq(j->fetch[0].uri, "http://a/b");
    ck_assert_int_eq(j->fetch[0].extract, 1);
    ck_assert_int_eq(j->fetch[0].executable, 0);
    ck_assert_int_eq(j->fetch[0].cache, 0);
    ck_assert_str_eq(j->fetch[0].output_file, "");
    ck_assert_ptr_nonnull(strstr(
        s, "\"fetch\":[{\"uri\":\"http://a/b\",\"executable\":false,"
           "\"cache\":false,\"extract\":true}],\"uris\":[\"http://a/b\"],"));
    free(s);
    chr_job_free(j);
}
END_TEST

START_TEST(test_fetch_mirrored)
{
    struct chr_job *j = ok("{\"name\":\"f\",\"fetch\":[{\"uri\":\"x\","
                           "\"output_file\":\"y\"},{\"uri\":\"z\"}]}");
    struct chr_job *k;
    char *s = job_text(j);

    ck_assert_ptr_nonnull(strstr(
        s, "\"fetch\":[{\"uri\":\"x\",\"executable\":false,\"cache\":false,"
           "\"extract\":true,\"output_file\":\"y\"},{\"uri\":\"z\","
           "\"executable\":false,\"cache\":false,\"extract\":true}],"
           "\"uris\":[\"x\",\"z\"],"));
    /* GET's output, posted back: uris mirroring fetch is no conflict */
    k = ok(s);
    ck_assert(chr_job_equal(j, k));
    chr_job_free(k);
    /* empty uris beside fetch is no conflict either */
    k = ok("{\"name\":\"f\",\"uris\":[],\"fetch\":[{\"uri\":\"x\"}]}");
    ck_assert_uint_eq(k->nfetch, 1);
    chr_job_free(k);
    free(s);
    chr_job_free(j);
}
END_TEST

/* ---- schedules ---- */

START_TEST(test_empty_start)
{
    struct chr_job *j = ok("{\"name\":\"e\",\"schedule\":\"R//PT1H\"}");

    /* Chronos' empty start is now - 1 s, written out */
    ck_assert_str_eq(j->schedule, "R/2023-11-14T22:13:19.000Z/PT1H");
    ck_assert_int_eq(j->iso.start, NOW - 1000);
    ck_assert_int_eq(j->iso.repeat, -1);
    chr_job_free(j);

    j = ok("{\"name\":\"e\",\"schedule\":\"R5//P1D\","
           "\"scheduleTimeZone\":\"Europe/Berlin\"}");
    ck_assert_str_eq(j->schedule, "R5/2023-11-14T23:13:19.000+01:00/P1D");
    ck_assert_int_eq(j->iso.start, NOW - 1000);
    ck_assert_int_eq(j->iso.repeat, 5);
    chr_job_free(j);
}
END_TEST

START_TEST(test_default_schedule)
{
    struct chr_job *j;

    j = ok("{\"name\":\"e\",\"scheduleTimeZone\":\"America/New_York\"}");
    ck_assert_str_eq(j->schedule, "R1/2023-11-14T17:13:20.000-05:00/PT24H");
    ck_assert_int_eq(j->iso.start, NOW);
    ck_assert_str_eq(j->schedule_tz, "America/New_York");
    chr_job_free(j);

    /* "" and null are no schedule */
    j = ok_mode("{\"name\":\"e\",\"schedule\":\"\"}", CHR_JOB_ISO8601);
    ck_assert_str_eq(j->schedule, "R1/2023-11-14T22:13:20.000Z/PT24H");
    chr_job_free(j);
}
END_TEST

START_TEST(test_zone_keeps_wall_clock)
{
    struct chr_job *j, *k;

    /* the offset in the string is discarded; the zone decides */
    j = ok("{\"name\":\"z\",\"schedule\":\"R/2014-10-10T18:32:00+09:00/PT1H\","
           "\"scheduleTimeZone\":\"America/Los_Angeles\"}");
    k = ok("{\"name\":\"z\",\"schedule\":\"R/2014-10-10T18:32:00Z/PT1H\","
           "\"scheduleTimeZone\":\"America/Los_Angeles\"}");
    ck_assert_int_eq(j->iso.start, INT64_C(1412991120000));
    ck_assert_int_eq(k->iso.start, j->iso.start);
    /* the stored strings differ: they are kept as given */
    ck_assert(!chr_job_equal(j, k));
    chr_job_free(j);
    chr_job_free(k);

    /* UTC by name is fine, and without a zone the offset counts */
    j = ok("{\"name\":\"z\",\"schedule\":\"R/2014-10-10T18:32:00Z/PT1H\","
           "\"scheduleTimeZone\":\"UTC\"}");
    ck_assert_int_eq(j->iso.start, INT64_C(1412965920000));
    chr_job_free(j);
    j = ok(
        "{\"name\":\"z\",\"schedule\":\"R/2014-10-10T18:32:00-07:00/PT1H\"}");
    ck_assert_int_eq(j->iso.start, INT64_C(1412991120000));
    chr_job_free(j);
}
END_TEST

START_TEST(test_set_iso)
{
    struct chr_job *j =
        ok("{\"name\":\"s\",\"schedule\":\"R3/2014-03-08T20:00:00Z/PT2H\"}");
    struct chr_iso next;
    struct chr_tz *z;
    char *s;

    next = j->iso;
    next.repeat = 2;
    next.start += 2 * 3600 * 1000;
    ck_assert_int_eq(chr_job_set_iso(j, &next, NULL), 0);
    ck_assert_str_eq(j->schedule, "R2/2014-03-08T22:00:00.000Z/PT2H");
    ck_assert_int_eq(j->iso.start, next.start);
    /* and the store reads back what the scheduler wrote */
    s = job_text(j);
    chr_job_free(j);
    j = ok(s);
    ck_assert_int_eq(j->iso.start, next.start);
    ck_assert_int_eq(j->iso.repeat, 2);
    free(s);
    chr_job_free(j);

    /* in a zone: its wall clock and offset, read back to the instant */
    z = chr_tz_load("Europe/Berlin", NULL);
    ck_assert_ptr_nonnull(z);
    j = ok("{\"name\":\"s\",\"schedule\":\"R/2014-07-01T10:00:00Z/P1D\","
           "\"scheduleTimeZone\":\"Europe/Berlin\"}");
    next = j->iso;
    next.start += 24 * 3600 * 1000;
    ck_assert_int_eq(chr_job_set_iso(j, &next, z), 0);
    ck_assert_str_eq(j->schedule, "R/2014-07-02T10:00:00.000+02:00/P1D");
    ck_assert_int_eq(j->iso.start, next.start);
    /* infinite stays infinite */
    ck_assert_int_eq(j->iso.repeat, -1);
    chr_job_free(j);

    /* refused: dependent and cron jobs, starts before 1970 */
    j = ok("{\"name\":\"d\",\"parents\":[\"p\"]}");
    ck_assert_int_eq(chr_job_set_iso(j, &next, NULL), AGORA_EINVAL);
    ck_assert_ptr_null(j->schedule);
    chr_job_free(j);
    j = ok("{\"name\":\"c\",\"cron\":\"* * * * *\"}");
    ck_assert_int_eq(chr_job_set_iso(j, &next, NULL), AGORA_EINVAL);
    ck_assert_str_eq(j->schedule, "cron:* * * * *");
    chr_job_free(j);
    j = ok("{\"name\":\"s\"}");
    next.start = -5000;
    ck_assert_int_eq(chr_job_set_iso(j, &next, NULL), AGORA_EINVAL);
    ck_assert_str_eq(j->schedule, "R1/2023-11-14T22:13:20.000Z/PT24H");
    chr_job_free(j);
    chr_tz_free(z);
}
END_TEST

START_TEST(test_cron)
{
    struct chr_job *j, *k;
    char *s;

    j = ok("{\"name\":\"c\",\"schedule\":\"cron:*/5 * * * *\"}");
    ck_assert_ptr_nonnull(j->cron);
    ck_assert_str_eq(j->schedule, "cron:*/5 * * * *");
    ck_assert_int_eq(j->iso.start, 0);
    /* 22:13:20 -> 22:15:00 */
    ck_assert_int_eq(chr_cron_next(j->cron, NULL, NOW), NOW + 100000);
    s = job_text(j);
    ck_assert_ptr_nonnull(strstr(s, "\"schedule\":\"cron:*/5 * * * *\","
                                    "\"scheduleTimeZone\":\"\""));
    free(s);

    /* the `cron` field is the same schedule, written as schedule */
    k = ok_mode("{\"name\":\"c\",\"cron\":\"*/5 * * * *\"}", CHR_JOB_ISO8601);
    ck_assert(chr_job_equal(j, k));
    s = job_text(k);
    ck_assert_ptr_null(strstr(s, "\"cron\""));
    free(s);
    chr_job_free(k);
    chr_job_free(j);
}
END_TEST

/* ---- what each endpoint requires ---- */

START_TEST(test_modes)
{
    struct chr_job *j;

    j = ok_mode("{\"name\":\"d\",\"parents\":[\"p\"]}", CHR_JOB_DEPENDENCY);
    ck_assert(chr_job_dependent(j));
    ck_assert_ptr_null(j->schedule);
    chr_job_free(j);
    j = ok_mode("{\"name\":\"s\",\"schedule\":\"R/2014-03-08T20:00:00Z/PT2H\"}",
                CHR_JOB_ISO8601);
    ck_assert(!chr_job_dependent(j));
    chr_job_free(j);
    /* the store takes either kind */
    j = ok("{\"name\":\"d\",\"parents\":[\"p\"]}");
    ck_assert(chr_job_dependent(j));
    chr_job_free(j);
    /* an empty parents list is no parents for a scheduled job */
    j = ok_mode("{\"name\":\"s\",\"parents\":[]}", CHR_JOB_ISO8601);
    ck_assert(!chr_job_dependent(j));
    chr_job_free(j);
}
END_TEST

START_TEST(test_parents_set)
{
    struct chr_job *j =
        ok("{\"name\":\"d\",\"parents\":[\"b\",\"c\",\"b\",\"a\",\"c\"]}");

    ck_assert_uint_eq(j->nparents, 3);
    ck_assert_str_eq(j->parents[0], "b");
    ck_assert_str_eq(j->parents[1], "c");
    ck_assert_str_eq(j->parents[2], "a");
    chr_job_free(j);
}
END_TEST

/* A dependent job has no zone: a zone given with it is not read. */
START_TEST(test_dependent_ignores_zone)
{
    struct chr_job *j = ok("{\"name\":\"d\",\"parents\":[\"p\"],"
                           "\"scheduleTimeZone\":\"Mars/Olympus\"}");
    char *s = job_text(j);

    ck_assert_str_eq(j->schedule_tz, "");
    ck_assert_ptr_null(strstr(s, "scheduleTimeZone"));
    ck_assert_ptr_nonnull(strstr(s, "\"constraints\":[],\"parents\":[\"p\"],"
                                    "\"epsilon\""));
    free(s);
    chr_job_free(j);
}
END_TEST

/* ---- policies, constraints, container ---- */

START_TEST(test_concurrency)
{
    static const struct {
        const char *body;
        enum chr_concurrency policy;
        int concurrent;
    } cases[] = {
        {"{\"name\":\"a\"}", CHR_CONC_QUEUE, 0},
        {"{\"name\":\"a\",\"concurrent\":true}", CHR_CONC_ALLOW, 1},
        {"{\"name\":\"a\",\"concurrent\":false}", CHR_CONC_QUEUE, 0},
        {"{\"name\":\"a\",\"concurrencyPolicy\":\"allow\"}", CHR_CONC_ALLOW, 1},
        {"{\"name\":\"a\",\"concurrencyPolicy\":\"FORBID\"}", CHR_CONC_FORBID,
         0},
        {"{\"name\":\"a\",\"concurrencyPolicy\":\"REPLACE\","
         "\"concurrent\":false}",
         CHR_CONC_REPLACE, 0},
        {"{\"name\":\"a\",\"concurrencyPolicy\":\"ALLOW\","
         "\"concurrent\":\"true\"}",
         CHR_CONC_ALLOW, 1},
        {"{\"name\":\"a\",\"concurrencyPolicy\":\"QUEUE\"}", CHR_CONC_QUEUE, 0},
    };
    struct chr_job *j;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        j = ok(cases[i].body);
        ck_assert_msg(j->concurrency == cases[i].policy, "%s", cases[i].body);
        ck_assert_int_eq(j->concurrent, cases[i].concurrent);
        chr_job_free(j);
    }
}
END_TEST

START_TEST(test_constraints)
{
    struct chr_job *j = ok("{\"name\":\"a\",\"constraints\":["
                           "[\"hostname\",\"EQUALS\",\"h1\"],"
                           "[\"rack\",\"LIKE\",\"rack-[0-9]+\"],"
                           "[\"zone\",\"unlike\",\"a|b\"]]}");
    struct chr_job *k;

    ck_assert_int_eq(j->constraints[0].op, CHR_C_EQUALS);
    ck_assert_int_eq(j->constraints[0].has_re, 0);
    ck_assert_int_eq(j->constraints[1].has_re, 1);
    /* anchored: the whole attribute must match */
    ck_assert_int_eq(regexec(&j->constraints[1].re, "rack-12", 0, NULL, 0), 0);
    ck_assert_int_ne(regexec(&j->constraints[1].re, "xrack-12", 0, NULL, 0), 0);
    ck_assert_int_ne(regexec(&j->constraints[1].re, "rack-12x", 0, NULL, 0), 0);
    ck_assert_int_eq(j->constraints[2].op, CHR_C_UNLIKE);
    /* the alternation is anchored as a whole: ^(a|b)$ */
    ck_assert_int_eq(regexec(&j->constraints[2].re, "b", 0, NULL, 0), 0);
    ck_assert_int_ne(regexec(&j->constraints[2].re, "ab", 0, NULL, 0), 0);
    /* a copy compiles its own */
    k = chr_job_dup(j);
    ck_assert_ptr_nonnull(k);
    chr_job_free(j);
    ck_assert_int_eq(regexec(&k->constraints[1].re, "rack-3", 0, NULL, 0), 0);
    chr_job_free(k);
}
END_TEST

START_TEST(test_container)
{
    struct chr_job *j;
    char *s;

    /* Chronos reads a container only when it has an image */
    j = ok("{\"name\":\"a\",\"container\":{\"type\":\"DOCKER\"}}");
    ck_assert_ptr_null(j->container_json);
    s = job_text(j);
    ck_assert_ptr_null(strstr(s, "container"));
    free(s);
    chr_job_free(j);

    j = ok("{\"name\":\"a\",\"container\":{\"image\":\"i\",\"type\":\"mesos\","
           "\"networkInfos\":[{\"name\":\"n\",\"labels\":[{\"key\":\"k\","
           "\"value\":\"v\"}]}],\"n\":null,\"e\":1e3,\"t\":[true,false]}}");
    ck_assert_str_eq(j->container_json,
                     "{\"image\":\"i\",\"type\":\"mesos\",\"networkInfos\":"
                     "[{\"name\":\"n\",\"labels\":[{\"key\":\"k\",\"value\":"
                     "\"v\"}]}],\"n\":null,\"e\":1e3,\"t\":[true,false]}");
    chr_job_free(j);
}
END_TEST

/* ---- task ids ---- */

START_TEST(test_task_id_make)
{
    char *s;

    s = chr_task_id_make(NOW, 0, "job.1", "a;b ; c");
    ck_assert_str_eq(s, "ct:1700000000000:0:job.1:ab  c");
    free(s);
    s = chr_task_id_make(5, 2, "j", NULL);
    ck_assert_str_eq(s, "ct:5:2:j:");
    free(s);
    ck_assert_ptr_null(chr_task_id_make(5, 0, "a b", ""));
    ck_assert_ptr_null(chr_task_id_make(5, 0, "", ""));
    ck_assert_ptr_null(chr_task_id_make(5, 0, NULL, ""));
    ck_assert_ptr_null(chr_task_id_make(-1, 0, "a", ""));
    ck_assert_ptr_null(chr_task_id_make(5, -1, "a", ""));
}
END_TEST

static const struct {
    const char *id;
    int64_t due;
    int attempt;
    const char *name, *args;
} good_ids[] = {
    {"ct:1700000000000:0:job:", NOW, 0, "job", ""},
    {"ct:1:2:abc", 1, 2, "abc", ""},
    {"ct:1:2:a.b-c_D9:x:y z", 1, 2, "a.b-c_D9", "x:y z"},
    {"ct:1:0:a b", 1, 0, "a", " b"}, /* Chronos' regex does this too */
    {"ct:0:2147483647:a::", 0, 2147483647, "a", ":"},
    {"ct:9223372036854775807:0:a:", INT64_MAX, 0, "a", ""},
    {"ct:007:01:a:\xc3\xa9", 7, 1, "a", "\xc3\xa9"},
};

START_TEST(test_task_id_parse)
{
    struct chr_task_id t;

    ck_assert_int_eq(chr_task_id_parse(good_ids[_i].id, &t), 0);
    ck_assert_int_eq(t.due, good_ids[_i].due);
    ck_assert_int_eq(t.attempt, good_ids[_i].attempt);
    ck_assert_str_eq(t.name, good_ids[_i].name);
    ck_assert_str_eq(t.args, good_ids[_i].args);
    chr_task_id_clear(&t);
    ck_assert_ptr_null(t.name);
}
END_TEST

static const char *const bad_ids[] = {
    "",
    "ct:",
    "ct:1",
    "ct:1:",
    "ct:1:0",
    "ct:1:0:",
    "ct:1:0::x",
    "ct::0:a",
    "ct:1::a",
    "ct:x:0:a",
    "ct:-1:0:a",
    "ct:1:+1:a",
    "ct:9223372036854775808:0:a",
    "ct:1:2147483648:a",
    "xt:1:0:a",
    "CT:1:0:a",
    " ct:1:0:a",
    "ct:1:0:a:line\nbreak",
    "ct:1:0:a:cr\r",
    "ct:1:0:!a",
};

START_TEST(test_task_id_bad)
{
    struct chr_task_id t;

    ck_assert_msg(chr_task_id_parse(bad_ids[_i], &t) == AGORA_EINVAL, "%s",
                  bad_ids[_i]);
    ck_assert_ptr_null(t.name);
    ck_assert_ptr_null(t.args);
}
END_TEST

START_TEST(test_task_id_trip)
{
    struct chr_job *j =
        ok("{\"name\":\"t-1\",\"arguments\":[\"--x\",\"a;b\"]}");
    char *args = chr_job_args(j), *id;
    struct chr_task_id t;

    ck_assert_str_eq(args, "--x a;b");
    id = chr_task_id_make(NOW, 1, j->name, args);
    ck_assert_str_eq(id, "ct:1700000000000:1:t-1:--x ab");
    ck_assert_int_eq(chr_task_id_parse(id, &t), 0);
    ck_assert_int_eq(t.due, NOW);
    ck_assert_int_eq(t.attempt, 1);
    ck_assert_str_eq(t.name, "t-1");
    ck_assert_str_eq(t.args, "--x ab");
    chr_task_id_clear(&t);
    free(id);
    free(args);
    chr_job_free(j);

    j = ok("{\"name\":\"t\"}");
    args = chr_job_args(j);
    ck_assert_str_eq(args, "");
    free(args);
    chr_job_free(j);
}
END_TEST

/* ---- outcomes ---- */

START_TEST(test_status)
{
    struct chr_job *j = ok("{\"name\":\"a\",\"retries\":2}");

    ck_assert_int_eq(chr_job_status(j), CHR_STATUS_FRESH);
    ck_assert_str_eq(chr_job_status_name(chr_job_status(j)), "fresh");
    ck_assert(chr_job_may_retry(j, 0));
    ck_assert(chr_job_may_retry(j, 1));
    ck_assert(!chr_job_may_retry(j, 2));

    chr_job_record_failure(j, NOW);
    ck_assert_int_eq(j->error_count, 1);
    ck_assert_int_eq(j->errors_since_last_success, 1);
    ck_assert_int_eq(j->last_error, NOW);
    ck_assert_str_eq(chr_job_status_name(chr_job_status(j)), "failure");
    /* Chronos' quirk: after a failure, no retries until a success */
    ck_assert(!chr_job_may_retry(j, 0));

    chr_job_record_failure(j, NOW + 1);
    ck_assert_int_eq(j->errors_since_last_success, 2);
    chr_job_record_success(j, NOW + 2);
    ck_assert_int_eq(j->success_count, 1);
    ck_assert_int_eq(j->errors_since_last_success, 0);
    ck_assert_int_eq(j->last_success, NOW + 2);
    ck_assert_int_eq(j->error_count, 2);
    ck_assert_str_eq(chr_job_status_name(chr_job_status(j)), "success");
    ck_assert(chr_job_may_retry(j, 1));
    chr_job_free(j);

    /* from posted counters: a success alone, an error alone */
    j = ok("{\"name\":\"a\",\"lastSuccess\":\"2014-03-08T16:57:17.507Z\"}");
    ck_assert_int_eq(chr_job_status(j), CHR_STATUS_SUCCESS);
    chr_job_free(j);
    j = ok("{\"name\":\"a\",\"lastError\":\"2014-03-08T16:57:17.507Z\","
           "\"lastSuccess\":\"2014-03-08T16:57:17.507Z\"}");
    ck_assert_int_eq(chr_job_status(j), CHR_STATUS_FAILURE);
    ck_assert(chr_job_may_retry(j, 0)); /* lastSuccess >= lastError */
    chr_job_free(j);
    ck_assert_str_eq(chr_job_status_name(CHR_STATUS_SUCCESS), "success");
}
END_TEST

static void w_summary_idle(struct agora_jw *w, const void *j)
{
    chr_job_write_summary(w, j, NULL);
}

static void w_summary_running(struct agora_jw *w, const void *j)
{
    chr_job_write_summary(w, j, "2 running");
}

static void w_bad(struct agora_jw *w, const void *msg)
{
    chr_write_bad_request(w, msg);
}

START_TEST(test_summary)
{
    struct chr_job *j =
        ok("{\"name\":\"s\",\"schedule\":\"R/2014-03-08T20:00:00Z/PT2H\","
           "\"disabled\":true}");
    struct chr_job *d = ok("{\"name\":\"d\",\"parents\":[\"s\",\"t\"]}");
    char *s;

    s = written(w_summary_idle, j);
    ck_assert_str_eq(s,
                     "{\"name\":\"s\",\"status\":\"fresh\",\"state\":\"idle\","
                     "\"schedule\":\"R/2014-03-08T20:00:00Z/PT2H\","
                     "\"parents\":[],\"disabled\":true}");
    free(s);
    chr_job_record_success(d, NOW);
    s = written(w_summary_running, d);
    ck_assert_str_eq(s, "{\"name\":\"d\",\"status\":\"success\",\"state\":"
                        "\"2 running\",\"schedule\":\"\",\"parents\":[\"s\","
                        "\"t\"],\"disabled\":false}");
    free(s);
    s = written(w_bad, "unknown time zone 'X'");
    ck_assert_str_eq(s, "{\"status\":\"Bad Request\",\"message\":"
                        "\"unknown time zone 'X'\"}");
    free(s);
    chr_job_free(j);
    chr_job_free(d);
}
END_TEST

START_TEST(test_deadline)
{
    struct chr_job *j = ok("{\"name\":\"a\"}");

    ck_assert_int_eq(chr_job_deadline(j, NOW), NOW + 60000);
    chr_job_free(j);
    j = ok("{\"name\":\"a\",\"startingDeadlineSeconds\":10}");
    ck_assert_int_eq(chr_job_deadline(j, NOW), NOW + 10000);
    chr_job_free(j);
    j = ok("{\"name\":\"a\",\"startingDeadlineSeconds\":600,\"epsilon\":"
           "\"PT2M\"}");
    ck_assert_int_eq(chr_job_deadline(j, NOW), NOW + 120000);
    chr_job_free(j);
    j = ok("{\"name\":\"a\",\"startingDeadlineSeconds\":9223372036854775}");
    ck_assert_int_eq(chr_job_deadline(j, NOW), NOW + 60000);
    chr_job_free(j);
}
END_TEST

/* ---- zones from the caller's cache ---- */

static struct chr_tz *cached_zone;
static int zone_calls;

static const struct chr_tz *zone_hook(void *ctx, const char *name,
                                      const char **why)
{
    zone_calls++;
    ck_assert_ptr_eq(ctx, &zone_calls);
    if (strcmp(name, "Europe/Berlin") == 0)
        return cached_zone;
    *why = "unknown time zone";
    return NULL;
}

START_TEST(test_zone_hook)
{
    struct chr_job_conf conf = CHR_JOB_CONF_DEFAULTS;
    struct chr_job *j;
    char *msg = NULL;

    cached_zone = chr_tz_load("Europe/Berlin", NULL);
    ck_assert_ptr_nonnull(cached_zone);
    conf.zone = zone_hook;
    conf.zone_ctx = &zone_calls;
    j = parse_conf("{\"name\":\"a\",\"schedule\":\"R/2014-07-01T10:00:00/P1D\","
                   "\"scheduleTimeZone\":\"Europe/Berlin\"}",
                   CHR_JOB_ANY, &conf, &msg);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(zone_calls, 1);
    /* 10:00 CEST */
    ck_assert_int_eq(j->iso.start, INT64_C(1404201600000));
    chr_job_free(j);
    j = parse_conf("{\"name\":\"a\",\"scheduleTimeZone\":\"Europe/Paris\"}",
                   CHR_JOB_ANY, &conf, &msg);
    ck_assert_ptr_null(j);
    ck_assert_str_eq(msg, "unknown time zone 'Europe/Paris'");
    free(msg);
    /* the zone is borrowed: it is still good */
    ck_assert_str_eq(chr_tz_name(cached_zone), "Europe/Berlin");
    chr_tz_free(cached_zone);
}
END_TEST

/* ---- equality ---- */

START_TEST(test_equal_differs)
{
    static const char *const variants[] = {
        "{\"name\":\"b\"}",
        "{\"name\":\"a\",\"command\":\"x\"}",
        "{\"name\":\"a\",\"shell\":false}",
        "{\"name\":\"a\",\"retries\":3}",
        "{\"name\":\"a\",\"cpus\":0.2}",
        "{\"name\":\"a\",\"lastError\":\"2014-03-08T16:57:17.507Z\"}",
        "{\"name\":\"a\",\"arguments\":[\"x\"]}",
        "{\"name\":\"a\",\"fetch\":[{\"uri\":\"u\"}]}",
        "{\"name\":\"a\",\"fetch\":[{\"uri\":\"u\",\"cache\":true}]}",
        "{\"name\":\"a\",\"environmentVariables\":[{\"name\":\"A\",\"value\":"
        "\"\"}]}",
        "{\"name\":\"a\",\"constraints\":[[\"h\",\"LIKE\",\"x\"]]}",
        "{\"name\":\"a\",\"constraints\":[[\"h\",\"UNLIKE\",\"x\"]]}",
        "{\"name\":\"a\",\"container\":{\"image\":\"i\"}}",
        "{\"name\":\"a\",\"parents\":[\"p\"]}",
        "{\"name\":\"a\",\"schedule\":\"R/2014-03-08T20:00:00Z/PT2H\"}",
        "{\"name\":\"a\",\"schedule\":\"R/2014-03-08T20:00:00Z/PT2H\","
        "\"scheduleTimeZone\":\"UTC\"}",
        "{\"name\":\"a\",\"cron\":\"* * * * *\"}",
        "{\"name\":\"a\",\"epsilon\":\"PT1S\"}",
        "{\"name\":\"a\",\"async\":true}",
        "{\"name\":\"a\",\"concurrencyPolicy\":\"FORBID\"}",
        "{\"name\":\"a\",\"startingDeadlineSeconds\":0}",
    };
    struct chr_job *base = ok("{\"name\":\"a\"}"), *j, *k;
    size_t i, m;

    for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        j = ok(variants[i]);
        ck_assert_msg(!chr_job_equal(base, j), "%s", variants[i]);
        ck_assert_msg(!chr_job_equal(j, base), "%s", variants[i]);
        for (m = 0; m < sizeof(variants) / sizeof(variants[0]); m++) {
            k = ok(variants[m]);
            ck_assert_msg(chr_job_equal(j, k) == (i == m), "%s vs %s",
                          variants[i], variants[m]);
            chr_job_free(k);
        }
        chr_job_free(j);
    }
    chr_job_free(base);
}
END_TEST

/* ---- hostile input ---- */

/* A container nested within the limit is kept, beyond it refused; a
 * document nested 512 deep anywhere never crashes. */
START_TEST(test_deep)
{
    char *buf = malloc(8192), *msg;
    struct chr_job *j;
    size_t p, d;

    for (d = 20; d <= 40; d += 20) {
        p = (size_t)sprintf(buf, "{\"name\":\"a\",\"container\":{\"image\":"
                                 "\"i\",\"x\":");
        memset(buf + p, '[', d);
        p += d;
        memset(buf + p, ']', d);
        p += d;
        strcpy(buf + p, "}}");
        j = parse_conf(buf, CHR_JOB_ANY, NULL, &msg);
        if (d == 20) {
            ck_assert_ptr_nonnull(j);
            ck_assert_ptr_nonnull(j->container_json);
            chr_job_free(j);
        } else {
            ck_assert_ptr_null(j);
            ck_assert_str_eq(msg, "container is nested too deeply (more than "
                                  "32 levels)");
            free(msg);
        }
    }
    /* 500 levels in each field */
    {
        static const char *const keys[] = {
            "command",     "parents",   "fetch",
            "uris",        "arguments", "environmentVariables",
            "constraints", "container", "schedule",
            "lastSuccess", "cpus",      "shell"};
        size_t k;

        for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            p = (size_t)sprintf(buf, "{\"name\":\"a\",\"%s\":", keys[k]);
            memset(buf + p, '[', 500);
            p += 500;
            memset(buf + p, ']', 500);
            p += 500;
            strcpy(buf + p, "}");
            j = parse_conf(buf, CHR_JOB_ANY, NULL, &msg);
            ck_assert_ptr_null(j);
            free(msg);
        }
    }
    memset(buf, '[', 500);
    memset(buf + 500, ']', 500);
    buf[1000] = '\0';
    msg = refused(buf, CHR_JOB_ANY);
    ck_assert_str_eq(msg, "a job must be a JSON object");
    free(msg);
    strcpy(buf, "{\"name\":");
    p = 8;
    for (d = 0; d < 500; d++)
        p += (size_t)sprintf(buf + p, "{\"k\":");
    buf[p++] = '1';
    memset(buf + p, '}', 501);
    strcpy(buf + p + 501, "");
    msg = refused(buf, CHR_JOB_ANY);
    ck_assert_str_eq(msg, "name must be a string");
    free(msg);
    free(buf);
}
END_TEST

/* 20,000 parents, one repeated: deduplicated in order, without a
 * quadratic search (yajl's own tree building is quadratic under ASan's
 * realloc, which keeps n modest). */
START_TEST(test_many_parents)
{
    size_t n = 20000, i, p;
    char *buf = malloc(n * 12 + 64);
    struct chr_job *j;

    p = (size_t)sprintf(buf, "{\"name\":\"a\",\"parents\":[");
    for (i = 0; i < n; i++)
        p +=
            (size_t)sprintf(buf + p, "%s\"p%zu\"", i ? "," : "", i % 2 ? i : 0);
    strcpy(buf + p, "]}");
    j = ok(buf);
    ck_assert_uint_eq(j->nparents, n / 2 + 1);
    ck_assert_str_eq(j->parents[0], "p0");
    ck_assert_str_eq(j->parents[1], "p1");
    ck_assert_str_eq(j->parents[2], "p3");
    chr_job_free(j);
    free(buf);
}
END_TEST

static unsigned long rnd_state = 12345;

static unsigned long rnd(void)
{
    rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
    return rnd_state >> 33;
}

static const char *const fuzz_keys[] = {"name",
                                        "command",
                                        "shell",
                                        "arguments",
                                        "schedule",
                                        "scheduleTimeZone",
                                        "parents",
                                        "epsilon",
                                        "async",
                                        "retries",
                                        "owner",
                                        "cpus",
                                        "mem",
                                        "disk",
                                        "disabled",
                                        "concurrent",
                                        "runAsUser",
                                        "maxCompletionTime",
                                        "fetch",
                                        "uris",
                                        "environmentVariables",
                                        "constraints",
                                        "container",
                                        "lastSuccess",
                                        "lastError",
                                        "successCount",
                                        "concurrencyPolicy",
                                        "startingDeadlineSeconds",
                                        "cron",
                                        "dataJob",
                                        "softError",
                                        "x"};

static const char *const fuzz_values[] = {"null",
                                          "true",
                                          "false",
                                          "0",
                                          "-1",
                                          "1.5",
                                          "1e400",
                                          "\"\"",
                                          "\"a\"",
                                          "\"true\"",
                                          "\"3\"",
                                          "\"P1D\"",
                                          "\"R//PT1S\"",
                                          "\"R5/2020-02-29/P1M\"",
                                          "\"cron:0 0 * * *\"",
                                          "\"Europe/Berlin\"",
                                          "\"Mars/X\"",
                                          "[]",
                                          "{}",
                                          "[\"a\"]",
                                          "[\"a\",\"a b\"]",
                                          "[{\"uri\":\"u\"}]",
                                          "[[\"h\",\"LIKE\",\"x\"]]",
                                          "[[\"h\",\"LIKE\",\"(\"]]",
                                          "{\"image\":\"i\"}",
                                          "{\"image\":5}",
                                          "[{\"name\":\"A\",\"value\":\"b\"}]",
                                          "\"2014-03-08T16:57:17.507Z\"",
                                          "\"ALLOW\"",
                                          "\"FORBID\"",
                                          "9223372036854775807",
                                          "[[[[[]]]]]",
                                          "\"\\u0000x\""};

static void gen_job(char *buf, size_t cap)
{
    size_t p = 0, i, n = rnd() % 10;

    p += (size_t)snprintf(buf, cap, "{\"name\":\"f\"");
    for (i = 0; i < n && p + 256 < cap; i++)
        p += (size_t)snprintf(buf + p, cap - p, ",\"%s\":%s",
                              fuzz_keys[rnd() % N(fuzz_keys)],
                              fuzz_values[rnd() % N(fuzz_values)]);
    snprintf(buf + p, cap - p, "}");
}

/* Random fields with random values: nothing crashes; what is accepted
 * is a fixed point of write and parse, and copies equal it. */
START_TEST(test_fuzz)
{
    static char buf[8192];
    struct chr_job *a, *b, *c;
    char *one, *two, *msg;
    int i, accepted = 0;

    for (i = 0; i < 5000; i++) {
        gen_job(buf, sizeof(buf));
        a = parse_conf(buf, (enum chr_job_mode)(rnd() % 3), NULL, &msg);
        if (!a) {
            ck_assert_msg(msg && *msg, "%s", buf);
            free(msg);
            continue;
        }
        accepted++;
        one = job_text(a);
        b = ok(one);
        two = job_text(b);
        ck_assert_msg(strcmp(one, two) == 0, "%s\n%s\n%s", buf, one, two);
        ck_assert(chr_job_equal(a, b));
        c = chr_job_dup(b);
        ck_assert(chr_job_equal(a, c));
        chr_job_free(c);
        chr_job_free(b);
        free(one);
        free(two);
        chr_job_free(a);
    }
    ck_assert_int_gt(accepted, 300);
}
END_TEST

/* Random bytes and damaged copies of a valid job, as text. */
START_TEST(test_garbage)
{
    char buf[2048];
    const char *valid = trip_cases[1];
    struct chr_job *j;
    size_t i, k, n;
    char *msg;
    int rc;

    for (i = 0; i < 5000; i++) {
        if (i % 2) {
            n = rnd() % (sizeof(buf) - 1);
            for (k = 0; k < n; k++)
                buf[k] = (char)(rnd() % 255 + 1);
            buf[n] = '\0';
        } else {
            n = strlen(valid) < sizeof(buf) - 1 ? strlen(valid)
                                                : sizeof(buf) - 1;
            memcpy(buf, valid, n);
            buf[n] = '\0';
            for (k = 0; k < 3; k++)
                buf[rnd() % n] = "{}[],:\"0a\\"[rnd() % 10];
        }
        rc = chr_job_parse_text(buf, CHR_JOB_ANY, NOW, NULL, &j, &msg);
        ck_assert(rc == 0 || rc == AGORA_EINVAL);
        ck_assert((rc == 0) == (j != NULL));
        chr_job_free(j);
        free(msg);
    }
    rc = chr_job_parse_text("{\"name\":", CHR_JOB_ANY, NOW, NULL, &j, &msg);
    ck_assert_int_eq(rc, AGORA_EINVAL);
    ck_assert_msg(strncmp(msg, "the job is not valid JSON: ", 27) == 0, "%s",
                  msg);
    free(msg);
    rc = chr_job_parse_text(NULL, CHR_JOB_ANY, NOW, NULL, &j, &msg);
    ck_assert_int_eq(rc, AGORA_EINVAL);
    free(msg);
}
END_TEST

#ifdef OOM_TESTS
/* Runs fn with the nth allocation failing, n = 0, 1, ... until a run
 * sees no failure: each failed run must say so (fn returns 0 for
 * "reported the failure") and leak nothing. */
static const char *oom_what = "";

static void each_failure_of(int (*fn)(void), const char *name)
{
    long n, before;
    int reported;

    for (n = 0;; n++) {
        before = live;
        failed_alloc = 0;
        fail_after = n;
        reported = fn();
        fail_after = -1;
        ck_assert_msg(live == before,
                      "%s of %s: allocation %ld failed: %ld "
                      "leaked",
                      name, oom_what, n, live - before);
        if (!failed_alloc)
            break;
        ck_assert_msg(reported == 0,
                      "%s of %s: allocation %ld failed "
                      "unnoticed (%d)",
                      name, oom_what, n, reported);
    }
    ck_assert_int_gt(n, 2);
}

#define each_failure(fn) each_failure_of(fn, #fn)

static yajl_val oom_tree;
static struct chr_job *oom_job;

/* 0 when the call failed for want of memory, 1 when it succeeded, 2 when
 * it failed for another reason. */
static int oom_parse(void)
{
    struct chr_job *j = NULL;
    char *msg = NULL;
    int rc = chr_job_parse(oom_tree, CHR_JOB_ANY, NOW, NULL, &j, &msg);

    chr_job_free(j);
    free(msg);
    return rc == 0 ? 1 : rc == AGORA_ENOMEM ? 0 : 2;
}

static int oom_dup(void)
{
    struct chr_job *j = chr_job_dup(oom_job);

    chr_job_free(j);
    return j != NULL;
}

static int oom_text(void)
{
    char *s = chr_job_text(oom_job);

    free(s);
    return s != NULL;
}

static int oom_task_id(void)
{
    struct chr_task_id t;
    char *s = chr_task_id_make(NOW, 1, "a", "b;c");
    int rc;

    if (!s)
        return 0;
    rc = chr_task_id_parse(s, &t);
    free(s);
    chr_task_id_clear(&t);
    return rc == 0 ? 1 : rc == AGORA_ENOMEM ? 0 : 2;
}

/* A refused job under memory pressure: the 400 or a 500, never a job
 * and never a leak. Asserts wait until allocations work again. */
static int oom_refused(void)
{
    struct chr_job *j = NULL;
    char *msg = NULL;
    int rc = chr_job_parse(oom_tree, CHR_JOB_ANY, NOW, NULL, &j, &msg);

    free(msg);
    chr_job_free(j);
    if (j)
        return 3;
    return rc == AGORA_ENOMEM ? 0 : rc == AGORA_EINVAL ? 2 : 4;
}

START_TEST(test_out_of_memory)
{
    void *probe;
    int i;

    /* Under valgrind, its allocator replaces these hooks: nothing to do. */
    fail_after = 0;
    probe = malloc(1);
    fail_after = -1;
    if (probe) {
        free(probe);
        return;
    }
    for (i = 0; i < N(trip_cases); i++) {
        oom_what = trip_cases[i];
        oom_tree = json(trip_cases[i]);
        oom_job = ok(trip_cases[i]);
        each_failure(oom_parse);
        each_failure(oom_dup);
        each_failure(oom_text);
        chr_job_free(oom_job);
        yajl_tree_free(oom_tree);
    }
    oom_what = "a task id";
    each_failure(oom_task_id);
    oom_tree = json("{\"name\":\"a b\",\"retries\":-1,\"uris\":[\"\"]}");
    for (i = 0; i < 40; i++) {
        long before = live;
        int rc;

        fail_after = i;
        rc = oom_refused();
        fail_after = -1;
        ck_assert_int_eq(live, before);
        ck_assert_int_le(rc, 2);
    }
    yajl_tree_free(oom_tree);
}
END_TEST
#endif

static Suite *chr_job_suite(void)
{
    Suite *s = suite_create("chr_job");
    TCase *tc = tcase_create("model");
    TCase *fz = tcase_create("hostile");

    tcase_add_test(tc, test_defaults_struct);
    tcase_add_test(tc, test_defaults_written);
    tcase_add_test(tc, test_conf_defaults);
    tcase_add_test(tc, test_lenient_values);
    tcase_add_test(tc, test_null_and_unknown);
    tcase_add_loop_test(tc, test_messages, 0, N(msg_cases));
    tcase_add_loop_test(tc, test_wrong_types, 0, N(type_cases));
    tcase_add_test(tc, test_echo_cut);
    tcase_add_loop_test(tc, test_round_trip, 0, N(trip_cases));
    tcase_add_test(tc, test_full_fields);
    tcase_add_test(tc, test_uris_become_fetch);
    tcase_add_test(tc, test_fetch_mirrored);
    tcase_add_test(tc, test_empty_start);
    tcase_add_test(tc, test_default_schedule);
    tcase_add_test(tc, test_zone_keeps_wall_clock);
    tcase_add_test(tc, test_set_iso);
    tcase_add_test(tc, test_cron);
    tcase_add_test(tc, test_modes);
    tcase_add_test(tc, test_parents_set);
    tcase_add_test(tc, test_dependent_ignores_zone);
    tcase_add_test(tc, test_concurrency);
    tcase_add_test(tc, test_constraints);
    tcase_add_test(tc, test_container);
    tcase_add_test(tc, test_task_id_make);
    tcase_add_loop_test(tc, test_task_id_parse, 0, N(good_ids));
    tcase_add_loop_test(tc, test_task_id_bad, 0, N(bad_ids));
    tcase_add_test(tc, test_task_id_trip);
    tcase_add_test(tc, test_status);
    tcase_add_test(tc, test_summary);
    tcase_add_test(tc, test_deadline);
    tcase_add_test(tc, test_zone_hook);
    tcase_add_test(tc, test_equal_differs);
    suite_add_tcase(s, tc);
    tcase_add_test(fz, test_deep);
    tcase_add_test(fz, test_many_parents);
    tcase_add_test(fz, test_fuzz);
    tcase_add_test(fz, test_garbage);
#ifdef OOM_TESTS
    tcase_add_test(fz, test_out_of_memory);
#endif
    tcase_set_timeout(fz, 120);
    suite_add_tcase(s, fz);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(chr_job_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
