/*
 * test_mar_app.c - marathon.so's app definition model (mar_app.h):
 * defaults, ids, every validation message and its path, 400 against
 * 422, write/parse round trips, merge, is_upgrade, ports, timestamps,
 * and hostile input that must never crash.
 */
/* dladdr(): the build defines _GNU_SOURCE */
#include <check.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>

#include "mar_app.h"

/*
 * Allocation failures, injected: this program's malloc family fails the
 * (n+1)th allocation after fail_after is set to n, and counts live
 * blocks so that a test can see that a failed call leaked nothing. Not
 * under AddressSanitizer, whose allocator must stay in charge.
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

/* yajl does not survive a failed allocation (yajl_alloc() writes
 * through what malloc returned): its own allocations are never failed,
 * which leaves the model's. */
static int alloc_ok(void *caller)
{
    Dl_info info;

    if (fail_after < 0)
        return 1;
    if (dladdr(caller, &info) && info.dli_fname &&
        strstr(info.dli_fname, "libyajl"))
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

/* ---- helpers ---- */

static yajl_val json(const char *text)
{
    char err[128];
    yajl_val v = agora_json_parse(text, err, sizeof(err));

    ck_assert_msg(v != NULL, "bad test JSON (%s): %s", err, text);
    return v;
}

/* The failures as their 400/422 body, malloc'ed, for messages. */
static char *errs_text(const struct mar_errs *e)
{
    struct agora_jw *w = agora_jw_new();
    const char *r;
    char *s;

    mar_errs_write(e, w);
    r = agora_jw_result(w, NULL);
    s = strdup(r ? r : "(writer failed)");
    agora_jw_free(w);
    return s;
}

static char *app_text(const struct mar_app *a)
{
    struct agora_jw *w = agora_jw_new();
    const char *r;
    char *s;

    mar_app_write(w, a);
    r = agora_jw_result(w, NULL);
    ck_assert_ptr_nonnull(r);
    s = strdup(r);
    agora_jw_free(w);
    return s;
}

static struct mar_app *parse_in(const char *text, const char *base,
                                struct mar_errs *e)
{
    yajl_val v = json(text);
    struct mar_app *a = mar_app_parse(v, base, NULL, "", e);

    yajl_tree_free(v);
    return a;
}

/* Parses text at the top; the test fails when it is rejected. */
static struct mar_app *ok_in(const char *text, const char *base)
{
    struct mar_errs e = {0};
    struct mar_app *a = parse_in(text, base, &e);
    char *why;

    if (!a) {
        why = errs_text(&e);
        ck_abort_msg("rejected %s: %s", text, why);
    }
    ck_assert_uint_eq(e.n, 0);
    mar_errs_free(&e);
    return a;
}

static struct mar_app *ok(const char *text)
{
    return ok_in(text, "/");
}

static int has_error(const struct mar_errs *e, const char *path,
                     const char *msg)
{
    size_t i;

    for (i = 0; i < e->n; i++) {
        if (strcmp(e->v[i].path, path) == 0 &&
            strcmp(e->v[i].message, msg) == 0)
            return 1;
    }
    return 0;
}

/* text is refused with msg at path, as a 400 (json) or a 422. */
static void fails_in(const char *text, const char *base, int json400,
                     const char *path, const char *msg)
{
    struct mar_errs e = {0};
    struct mar_app *a = parse_in(text, base, &e);
    char *got = errs_text(&e);

    ck_assert_msg(a == NULL, "accepted: %s", text);
    ck_assert_msg(e.json == json400, "%s: want %d, got %s", text,
                  json400 ? 400 : 422, got);
    ck_assert_msg(has_error(&e, path, msg), "%s: want %s: %s, got %s", text,
                  path, msg, got);
    ck_assert_int_eq(e.nomem, 0);
    free(got);
    mar_errs_free(&e);
}

static void fails(const char *text, int json400, const char *path,
                  const char *msg)
{
    fails_in(text, "/", json400, path, msg);
}

/* write(parse(text)) is a fixed point: parse(write) writes the same. */
static char *round_trip(const char *text, const char *base)
{
    struct mar_app *a = ok_in(text, base), *b;
    char *one = app_text(a), *two;

    b = ok(one);
    two = app_text(b);
    ck_assert_str_eq(one, two);
    free(two);
    mar_app_free(a);
    mar_app_free(b);
    return one;
}

#define MIN_APP                                                                \
    "{\"id\":\"bbotte\",\"cmd\":\"echo bbotte.com; sleep 30\","                \
    "\"cpus\":1,\"mem\":128,\"disk\":0,\"instances\":1}"

#define MIN_WRITTEN                                                            \
    "{\"id\":\"/bbotte\",\"cmd\":\"echo bbotte.com; sleep 30\",\"args\":null," \
    "\"user\":null,\"env\":{},\"instances\":1,\"cpus\":1,\"mem\":128,"         \
    "\"disk\":0,\"gpus\":0,\"executor\":\"\",\"constraints\":[],"              \
    "\"acceptedResourceRoles\":null,\"fetch\":[],\"storeUrls\":[],"            \
    "\"backoffSeconds\":1,\"backoffFactor\":1.15,"                             \
    "\"maxLaunchDelaySeconds\":300,\"container\":null,\"healthChecks\":[],"    \
    "\"readinessChecks\":[],\"dependencies\":[],"                              \
    "\"upgradeStrategy\":{\"minimumHealthCapacity\":1,"                        \
    "\"maximumOverCapacity\":1},\"labels\":{},\"ipAddress\":null,"             \
    "\"residency\":null,\"secrets\":{},\"taskKillGracePeriodSeconds\":null,"   \
    "\"unreachableStrategy\":{\"inactiveAfterSeconds\":0,"                     \
    "\"expungeAfterSeconds\":0},\"killSelection\":\"YOUNGEST_FIRST\","         \
    "\"networks\":[{\"mode\":\"host\"}],\"ports\":[0],"                        \
    "\"portDefinitions\":[{\"port\":0,\"protocol\":\"tcp\","                   \
    "\"name\":\"default\"}],\"requirePorts\":false}"

/* ---- defaults ---- */

START_TEST(test_defaults_written)
{
    struct mar_app *a = ok(MIN_APP);
    char *t = app_text(a);

    ck_assert_str_eq(t, MIN_WRITTEN);
    free(t);
    mar_app_free(a);
}
END_TEST

START_TEST(test_defaults_struct)
{
    struct mar_app *a = ok("{\"id\":\"/x\",\"cmd\":\"c\"}");

    ck_assert_str_eq(a->id, "/x");
    ck_assert_int_eq(a->instances, 1);
    ck_assert(a->cpus == 1 && a->mem == 128 && a->disk == 0);
    ck_assert_int_eq(a->gpus, 0);
    ck_assert_str_eq(a->executor, "");
    ck_assert_ptr_null(a->args);
    ck_assert_ptr_null(a->user);
    ck_assert_ptr_null(a->accepted_roles);
    ck_assert_uint_eq(a->nport_defs, 1);
    ck_assert_int_eq(a->port_defs[0].port, 0);
    ck_assert_str_eq(a->port_defs[0].name, "default");
    ck_assert_str_eq(a->port_defs[0].protocol, "tcp");
    ck_assert_int_eq(a->require_ports, 0);
    ck_assert(a->backoff_seconds == 1 && a->backoff_factor == 1.15);
    ck_assert(a->max_launch_delay == 300);
    ck_assert_ptr_null(a->container_json);
    ck_assert_int_eq(a->bridge, 0);
    ck_assert(a->min_health_capacity == 1 && a->max_over_capacity == 1);
    ck_assert(a->kill_grace_period == -1);
    ck_assert_int_eq(a->kill_selection, MAR_KILL_YOUNGEST_FIRST);
    ck_assert_int_eq(a->unreachable_disabled, 0);
    ck_assert(a->unreachable_inactive_after == 0);
    ck_assert(a->unreachable_expunge_after == 0);
    ck_assert_int_eq(a->tty, -1);
    ck_assert_ptr_null(a->version);
    ck_assert_uint_eq(mar_app_host_ports(a), 1);
    mar_app_free(a);
}
END_TEST

START_TEST(test_health_check_defaults)
{
    struct mar_app *a = ok("{\"id\":\"x\",\"cmd\":\"c\",\"healthChecks\":[{},"
                           "{\"protocol\":\"TCP\",\"port\":8080},"
                           "{\"command\":{\"value\":\"true\"}}]}");
    struct mar_health_check *h = a->health_checks;

    ck_assert_uint_eq(a->nhealth_checks, 3);
    ck_assert_int_eq(h[0].protocol, MAR_HC_HTTP);
    ck_assert_str_eq(h[0].path, "/");
    ck_assert_int_eq(h[0].port_index, 0);
    ck_assert(h[0].grace_period == 300 && h[0].interval == 60);
    ck_assert(h[0].timeout == 20 && h[0].delay == 15);
    ck_assert_int_eq(h[0].max_consecutive_failures, 3);
    ck_assert_int_eq(h[0].ignore_http1xx, 0);
    ck_assert_str_eq(h[0].ip_protocol, "IPv4");
    ck_assert_int_eq(h[1].protocol, MAR_HC_TCP);
    ck_assert_ptr_null(h[1].path);
    ck_assert_int_eq(h[1].port_index, -1);
    ck_assert_int_eq(h[1].port, 8080);
    ck_assert_int_eq(h[2].protocol, MAR_HC_COMMAND);
    ck_assert_str_eq(h[2].command, "true");
    mar_app_free(a);
}
END_TEST

/* ---- ids ---- */

static const struct {
    const char *base, *id, *want; /* want NULL: refused */
} resolve_cases[] = {
    {"/", "b", "/b"},
    {"/", "/a/b", "/a/b"},
    {"/a/b", "c", "/a/b/c"},
    {"/a/b", "../x", "/a/x"},
    {"/a/b", "./y", "/a/b/y"},
    {"/a/b", "../../z", "/z"},
    {"/a", "/x/./y/../z", "/x/z"},
    {"/", "/a//b/", "/a/b"},
    {"/", "//a", "/a"},
    {"/", "/", "/"},
    {"/a", ".", "/a"},
    {"/", "..", NULL},
    {"/a", "../..", NULL},
    {"/", "/a/../..", NULL},
    {"/", "", NULL},
};

START_TEST(test_id_resolve)
{
    const char *why = NULL;
    char *got =
        mar_id_resolve(resolve_cases[_i].base, resolve_cases[_i].id, &why);

    if (!resolve_cases[_i].want) {
        ck_assert_msg(got == NULL, "%s in %s gave %s", resolve_cases[_i].id,
                      resolve_cases[_i].base, got);
        ck_assert_ptr_nonnull(why);
        return;
    }
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, resolve_cases[_i].want);
    free(got);
}
END_TEST

#define REGEX_MSG                                                              \
    "must fully match regular expression "                                     \
    "'^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*"                          \
    "([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])$'"
#define RESERVED_MSG                                                           \
    "must not end with any of the following reserved keywords: restart, "      \
    "tasks, versions"

static const struct {
    const char *id, *why; /* why NULL: valid */
} valid_cases[] = {
    {"/a", NULL},
    {"/a/b/c", NULL},
    {"/a-b.c-d/e9", NULL},
    {"/0", NULL},
    {"/restart/a", NULL},
    {"/a/tasksx", NULL},
    {"/", "must not be root"},
    {"/A", REGEX_MSG},
    {"/a_b", REGEX_MSG},
    {"/-a", REGEX_MSG},
    {"/a-", REGEX_MSG},
    {"/a..b", REGEX_MSG},
    {"/.a", REGEX_MSG},
    {"/a.", REGEX_MSG},
    {"/a/b c", REGEX_MSG},
    {"/a/restart", RESERVED_MSG},
    {"/tasks", RESERVED_MSG},
    {"/a/versions", RESERVED_MSG},
};

START_TEST(test_id_valid)
{
    const char *why = NULL;
    int v = mar_id_valid(valid_cases[_i].id, &why);

    if (!valid_cases[_i].why) {
        ck_assert_msg(v == 1, "%s: %s", valid_cases[_i].id, why);
        return;
    }
    ck_assert_int_eq(v, 0);
    ck_assert_str_eq(why, valid_cases[_i].why);
}
END_TEST

START_TEST(test_id_safe_and_under)
{
    char *s = mar_id_safe("/a/b/c");

    ck_assert_str_eq(s, "a_b_c");
    free(s);
    ck_assert_int_eq(mar_id_under("/a/b", "/a"), 1);
    ck_assert_int_eq(mar_id_under("/a/b/c", "/a"), 1);
    ck_assert_int_eq(mar_id_under("/a/b", "/"), 1);
    ck_assert_int_eq(mar_id_under("/a", "/a"), 0);
    ck_assert_int_eq(mar_id_under("/ab", "/a"), 0);
    ck_assert_int_eq(mar_id_under("/", "/"), 0);
}
END_TEST

START_TEST(test_id_in_app)
{
    struct mar_app *a = ok_in("{\"id\":\"web\",\"cmd\":\"c\","
                              "\"dependencies\":[\"db\",\"../q\",\"/z\"]}",
                              "/prod");

    ck_assert_str_eq(a->id, "/prod/web");
    ck_assert_uint_eq(a->ndependencies, 3);
    ck_assert_str_eq(a->dependencies[0], "/prod/db");
    ck_assert_str_eq(a->dependencies[1], "/q");
    ck_assert_str_eq(a->dependencies[2], "/z");
    mar_app_free(a);
    fails("{\"id\":\"Bad_Id\",\"cmd\":\"c\"}", 0, "/id", REGEX_MSG);
    fails("{\"id\":\"/a/versions\",\"cmd\":\"c\"}", 0, "/id", RESERVED_MSG);
    fails("{\"id\":\"/\",\"cmd\":\"c\"}", 0, "/id", "must not be root");
    fails("{\"id\":\"..\",\"cmd\":\"c\"}", 0, "/id",
          "Path climbs above the root");
    fails("{\"id\":\"\",\"cmd\":\"c\"}", 0, "/id",
          "Path must contain at least one path element");
    fails("{\"cmd\":\"c\"}", 1, "/id", "error.path.missing");
    fails("{\"id\":5,\"cmd\":\"c\"}", 1, "/id", "error.expected.jsstring");
    fails_in("{\"id\":\"/other/x\",\"cmd\":\"c\"}", "/prod", 0, "/id",
             "Identifier is not child of /prod. Hint: use relative paths.");
    fails_in("{\"id\":\"a/b\",\"cmd\":\"c\"}", "/prod", 0, "/id",
             "Identifier is not child of /prod. Hint: use relative paths.");
    fails("{\"id\":\"x\",\"cmd\":\"c\",\"dependencies\":[\"Bad\"]}", 0,
          "/dependencies(0)", REGEX_MSG);
    fails("{\"id\":\"x\",\"cmd\":\"c\",\"dependencies\":[\"../..\"]}", 0,
          "/dependencies(0)", "Path climbs above the root");
}
END_TEST

START_TEST(test_id_override)
{
    yajl_val v = json("{\"id\":\"/ignored\",\"cmd\":\"c\"}");
    struct mar_errs e = {0};
    struct mar_app *a = mar_app_parse(v, "/", "/from/url", "", &e);

    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->id, "/from/url");
    mar_app_free(a);
    yajl_tree_free(v);
    v = json("{\"cmd\":\"c\"}"); /* no id in the body: the URL's */
    a = mar_app_parse(v, "/", "x", "", &e);
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->id, "/x");
    mar_app_free(a);
    yajl_tree_free(v);
}
END_TEST

/* ---- validation: Marathon's messages and paths (422) ---- */

#define CMD_MSG                                                                \
    "AppDefinition must either contain one of 'cmd' or 'args', and/or a "      \
    "'container'."
#define HC_PORT_MSG                                                            \
    "Health check port indices must address an element of the ports array "    \
    "or container port mappings."
#define BRIDGE                                                                 \
    "\"container\":{\"docker\":{\"image\":\"i\",\"network\":\"BRIDGE\"}}"

static const struct {
    const char *body, *path, *msg;
} rule_cases[] = {
    {"{\"id\":\"a\"}", "/", CMD_MSG},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"args\":[\"y\"]}", "/", CMD_MSG},
    {"{\"id\":\"a\",\"args\":[]}", "/", CMD_MSG},
    {"{\"id\":\"a\",\"container\":{\"type\":\"MESOS\"}}", "/", CMD_MSG},
    {"{\"id\":\"a\",\"cmd\":\"\"}", "/cmd", "must not be an empty string"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"instances\":-1}", "/instances",
     "got -1, expected 0 or more"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"cpus\":-1}", "/cpus",
     "got -1.0, expected 0.0 or more"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"mem\":-0.5}", "/mem",
     "got -0.5, expected 0.0 or more"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"disk\":-2}", "/disk",
     "got -2.0, expected 0.0 or more"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"gpus\":-1}", "/gpus",
     "got -1, expected 0 or more"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"backoffSeconds\":-1}", "/backoffSeconds",
     "got -1, expected 0 or more"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"backoffFactor\":0.5}", "/backoffFactor",
     "got 0.5, expected 1.0 or more"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"maxLaunchDelaySeconds\":-5}",
     "/maxLaunchDelaySeconds", "got -5, expected 0 or more"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"upgradeStrategy\":"
     "{\"minimumHealthCapacity\":1.5}}",
     "/upgradeStrategy/minimumHealthCapacity",
     "got 1.5, expected between 0.0 and 1.0"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"upgradeStrategy\":"
     "{\"minimumHealthCapacity\":0,\"maximumOverCapacity\":-0.1}}",
     "/upgradeStrategy/maximumOverCapacity",
     "got -0.1, expected between 0.0 and 1.0"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"ports\":[80,80]}", "/",
     "ports must be unique"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"portDefinitions\":[{\"port\":80},"
     "{\"port\":80}]}",
     "/portDefinitions", "Ports must be unique."},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"portDefinitions\":[{\"name\":\"h\"},"
     "{\"name\":\"h\"}]}",
     "/portDefinitions", "Port names must be unique."},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"portDefinitions\":[{\"name\":\"Bad_N\"}]}",
     "/portDefinitions(0)/name",
     "must fully match regular expression '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"portDefinitions\":[{\"port\":70000}]}",
     "/portDefinitions(0)/port", "got 70000, expected between 0 and 65535"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"ports\":[1],\"portDefinitions\":"
     "[{\"port\":2}]}",
     "/", "cannot specify both ports and port definitions"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"uris\":[\"http://u\"],\"fetch\":"
     "[{\"uri\":\"http://f\"}]}",
     "/uris", "may not be set in conjunction with fetch"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"healthChecks\":[{\"portIndex\":1}]}",
     "/healthChecks(0)", HC_PORT_MSG},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"portDefinitions\":[],"
     "\"healthChecks\":[{\"protocol\":\"TCP\"}]}",
     "/healthChecks(0)", HC_PORT_MSG},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"healthChecks\":[{\"protocol\":"
     "\"MESOS_HTTP\"},{\"protocol\":\"MESOS_TCP\"}]}",
     "/", "AppDefinition can contain at most one Mesos health check"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"healthChecks\":[{\"protocol\":\"HTTP\","
     "\"ipProtocol\":\"IPv6\"}]}",
     "/healthChecks(0)",
     "IPv6 can only be used for container type DOCKER and Mesos "
     "http/https/tcp health checks"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"healthChecks\":[{\"protocol\":"
     "\"COMMAND\"}]}",
     "/healthChecks(0)/command",
     "A command is required when using the COMMAND protocol"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"unreachableStrategy\":"
     "{\"inactiveAfterSeconds\":10,\"expungeAfterSeconds\":5}}",
     "/unreachableStrategy/inactiveAfterSeconds",
     "inactiveAfterSeconds (10) must be less or equal to "
     "expungeAfterSeconds, which is 5"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"unreachableStrategy\":"
     "{\"inactiveAfterSeconds\":-1}}",
     "/unreachableStrategy/inactiveAfterSeconds",
     "inactiveAfterSeconds (-1) must be greater than or equal to 0"},
    {"{\"id\":\"a\",\"cmd\":\"x\"," BRIDGE ",\"portDefinitions\":"
     "[{\"port\":1}]}",
     "/", "portDefinitions are only allowed with host-networking"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"container\":{\"docker\":{\"image\":\"i\"},"
     "\"portMappings\":[{\"containerPort\":80}]}}",
     "/", "portMappings are not allowed with host-networking"},
    {"{\"id\":\"a\",\"cmd\":\"x\"," BRIDGE ",\"networks\":"
     "[{\"mode\":\"container/bridge\"}]}",
     "/", "must not specify both container.docker.network and networks"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"ipAddress\":{},\"networks\":"
     "[{\"mode\":\"container\"}]}",
     "/", "must not specify both networks and ipAddress"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"networks\":[{\"mode\":\"host\","
     "\"name\":\"n\"}]}",
     "/networks", "Host networks may not have names or labels"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"networks\":[{\"mode\":"
     "\"container/bridge\",\"name\":\"n\"}]}",
     "/networks", "Bridge networks may not have names"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"networks\":[{\"mode\":\"container\","
     "\"name\":\"n\"},{\"mode\":\"container\",\"name\":\"n\"}]}",
     "/networks", "Duplicate networks are not allowed"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"networks\":[{\"mode\":\"host\"},"
     "{\"mode\":\"container/bridge\"}]}",
     "/networks",
     "May specify a single host network, single bridge network, or else "
     "1-to-n container networks"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"container\":{\"docker\":{\"image\":\"i\"}},"
     "\"networks\":[{\"mode\":\"container\",\"name\":\"a\"},"
     "{\"mode\":\"container\",\"name\":\"b\"}]}",
     "/",
     "may only specify a single container network when using the "
     "Docker container engine"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"container\":{\"docker\":{\"image\":\"i\","
     "\"network\":\"NONE\"}}}",
     "/container/docker/network", "unsupported docker network type NONE"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"container\":{\"portMappings\":[{}],"
     "\"docker\":{\"image\":\"i\",\"network\":\"BRIDGE\",\"portMappings\":"
     "[{}]}}}",
     "/container", "cannot specify both portMappings and docker.portMappings"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"ports\":[],"
     "\"container\":{\"docker\":{\"image\":\"i\",\"network\":\"BRIDGE\","
     "\"portMappings\":[{\"name\":\"p\"},{\"name\":\"p\"}]}}}",
     "/container/portMappings", "Port names must be unique."},
    {"{\"id\":\"a\",\"container\":{\"docker\":{\"image\":\"\"}}}",
     "/container/docker/image", "must not be empty"},
    {"{\"id\":\"a\",\"container\":{\"type\":\"DOCKER\"}}", "/container/docker",
     "must not be empty"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"executor\":\"a//b\"}", "/executor",
     "must fully match regular expression '^(//cmd)|(/?[^/]+(/[^/]+)*)|$'"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"acceptedResourceRoles\":[]}",
     "/acceptedResourceRoles", "must not be empty"},
    {"{\"id\":\"a\",\"gpus\":1,\"container\":{\"docker\":{\"image\":\"i\"}}}",
     "/", "GPU resources only work with the Mesos containerizer"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"readinessChecks\":[{}]}",
     "/readinessChecks(0)/portName",
     "No port definition reference for portName http-api"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"portDefinitions\":[{\"name\":\"p\"}],"
     "\"readinessChecks\":[{\"portName\":\"p\",\"timeoutSeconds\":30,"
     "\"intervalSeconds\":30}]}",
     "/readinessChecks(0)/timeoutSeconds", "got 30, expected less than 30"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"portDefinitions\":[{\"name\":\"p\"}],"
     "\"readinessChecks\":[{\"portName\":\"p\"},{\"portName\":\"p\"}]}",
     "/readinessChecks", "got 2, expected 1 or less"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"portDefinitions\":[{\"name\":\"p\"}],"
     "\"readinessChecks\":[{\"portName\":\"p\",\"protocol\":\"HTTPS\"}]}",
     "/readinessChecks(0)/protocol",
     "HTTPS readiness checks are not supported: agora-master's HTTP client "
     "has no TLS"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"residency\":{}}", "/",
     "App must contain persistent volumes and define residency"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"container\":{\"type\":\"MESOS\","
     "\"volumes\":[{\"containerPath\":\"d\",\"persistent\":{\"size\":1}}]},"
     "\"unreachableStrategy\":{}}",
     "/", "unreachableStrategy must be disabled for resident tasks"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"container\":{\"type\":\"MESOS\","
     "\"volumes\":[{\"containerPath\":\"d\",\"persistent\":{\"size\":1}}]},"
     "\"upgradeStrategy\":{\"minimumHealthCapacity\":0.5}}",
     "/upgradeStrategy/maximumOverCapacity", "got 1.0, expected 0.0"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"instances\":2,\"labels\":"
     "{\"MARATHON_SINGLE_INSTANCE_APP\":\"true\"}}",
     "/", "Single instance app may only have one instance"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"ipAddress\":{},\"ports\":[1]}", "/",
     "cannot specify both an IP address and port"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"ipAddress\":{\"discovery\":{\"ports\":"
     "[{\"number\":80}]}},\"container\":{\"docker\":{\"image\":\"i\"}}}",
     "/ipAddress", "ipAddress/discovery is not allowed for Docker containers"},
};

START_TEST(test_rule)
{
    fails(rule_cases[_i].body, 0, rule_cases[_i].path, rule_cases[_i].msg);
}
END_TEST

/* The valid counterparts of some rules above. */
static const char *const accepted_cases[] = {
    "{\"id\":\"a\",\"args\":[\"x\"]}",
    "{\"id\":\"a\",\"container\":{\"docker\":{\"image\":\"i\"}}}",
    "{\"id\":\"a\",\"args\":[\"x\"],\"container\":{\"docker\":"
    "{\"image\":\"i\"}}}",
    "{\"id\":\"a\",\"container\":{\"type\":\"MESOS\",\"docker\":"
    "{\"image\":\"i\"}}}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"ports\":[0,0,80]}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"ports\":[80],\"portDefinitions\":"
    "[{\"port\":80}]}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"upgradeStrategy\":"
    "{\"minimumHealthCapacity\":0,\"maximumOverCapacity\":1}}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"unreachableStrategy\":"
    "{\"inactiveAfterSeconds\":5,\"expungeAfterSeconds\":5}}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"unreachableStrategy\":\"disabled\"}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"healthChecks\":[{\"protocol\":\"COMMAND\","
    "\"command\":{\"value\":\"a\"}},{\"protocol\":\"COMMAND\","
    "\"command\":{\"value\":\"b\"}},{\"protocol\":\"MESOS_HTTP\"}]}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"portDefinitions\":[],\"healthChecks\":"
    "[{\"protocol\":\"HTTP\",\"port\":8080},{\"protocol\":\"MESOS_TCP\"}]}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"executor\":\"//cmd\"}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"executor\":\"/opt/exec\"}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"killSelection\":\"OLDEST_FIRST\"}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"gpus\":1}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"instances\":0}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"labels\":"
    "{\"MARATHON_SINGLE_INSTANCE_APP\":\"true\"}}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"env\":{\"P\":{\"secret\":\"s\"}},"
    "\"secrets\":{\"s\":{\"source\":\"/x\"}}}",
    "{\"id\":\"a\",\"cmd\":\"x\",\"cpus\":null,\"args\":null,\"user\":null}",
};

START_TEST(test_accepted)
{
    mar_app_free(ok(accepted_cases[_i]));
}
END_TEST

/* ---- the JSON's shape: play-json's keys (400) ---- */

static const struct {
    const char *body, *path, *msg;
} type_cases[] = {
    {"[1]", "/", "error.expected.jsobject"},
    {"\"app\"", "/", "error.expected.jsobject"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"instances\":\"2\"}", "/instances",
     "error.expected.jsnumber"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"instances\":1.5}", "/instances",
     "error.expected.int"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"instances\":3000000000}", "/instances",
     "error.expected.int"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"cpus\":1e400}", "/cpus",
     "error.expected.jsnumber"},
    {"{\"id\":\"a\",\"cmd\":5}", "/cmd", "error.expected.jsstring"},
    {"{\"id\":\"a\",\"args\":\"x\"}", "/args", "error.expected.jsarray"},
    {"{\"id\":\"a\",\"args\":[1]}", "/args(0)", "error.expected.jsstring"},
    {"{\"id\":\"a\",\"args\":[\"x\",null]}", "/args(1)",
     "error.expected.jsstring"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"env\":{\"A\":1}}", "/env/A",
     "error.expected.jsstring"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"env\":[]}", "/env",
     "error.expected.jsobject"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"labels\":{\"k\":true}}", "/labels/k",
     "error.expected.jsstring"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"requirePorts\":\"yes\"}", "/requirePorts",
     "error.expected.jsboolean"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"container\":\"x\"}", "/container",
     "error.expected.jsobject"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"container\":{\"type\":\"RKT\"}}",
     "/container/type", "error.unknown.enum.literal"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"healthChecks\":[{\"portIndex\":\"0\"}]}",
     "/healthChecks(0)/portIndex", "error.expected.jsnumber"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"healthChecks\":[{\"protocol\":\"UDP\"}]}",
     "/healthChecks(0)/protocol", "error.unknown.enum.literal"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"healthChecks\":[7]}", "/healthChecks(0)",
     "error.expected.jsobject"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"killSelection\":\"RANDOM\"}",
     "/killSelection", "error.unknown.enum.literal"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"unreachableStrategy\":\"never\"}",
     "/unreachableStrategy", "error.unknown.enum.literal"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"upgradeStrategy\":"
     "{\"minimumHealthCapacity\":\"1\"}}",
     "/upgradeStrategy/minimumHealthCapacity", "error.expected.jsnumber"},
    {"{\"id\":\"a\",\"container\":{\"docker\":{}}}", "/container/docker/image",
     "error.path.missing"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"fetch\":[{}]}", "/fetch(0)/uri",
     "error.path.missing"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"fetch\":[{\"uri\":\"u\",\"cache\":1}]}",
     "/fetch(0)/cache", "error.expected.jsboolean"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"version\":\"yesterday\"}", "/version",
     "error.expected.date.isoformat"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"versionInfo\":{\"lastScalingAt\":1}}",
     "/versionInfo/lastScalingAt", "error.expected.jsstring"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"networks\":[{\"mode\":\"overlay\"}]}",
     "/networks(0)/mode", "error.unknown.enum.literal"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"portDefinitions\":[{\"protocol\":\"sctp\"}]"
     "}",
     "/portDefinitions(0)/protocol", "error.unknown.enum.literal"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"ports\":[\"80\"]}", "/ports(0)",
     "error.expected.jsnumber"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"ipAddress\":{\"labels\":{\"l\":[1]}}}",
     "/ipAddress/labels/l", "error.expected.jsstring"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"secrets\":[]}", "/secrets",
     "error.expected.jsobject"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"constraints\":\"hostname\"}",
     "/constraints", "error.expected.jsarray"},
    {"{\"id\":\"a\",\"cmd\":\"x\",\"taskKillGracePeriodSeconds\":\"5\"}",
     "/taskKillGracePeriodSeconds", "error.expected.jsnumber"},
};

START_TEST(test_type)
{
    fails(type_cases[_i].body, 1, type_cases[_i].path, type_cases[_i].msg);
}
END_TEST

/* A body with both kinds of failure is a 400 with the shape's alone, as
 * Marathon never reaches its rules then; without, a 422 with all. */
START_TEST(test_400_wins_over_422)
{
    struct mar_errs e = {0};
    struct mar_app *a =
        parse_in("{\"id\":\"a\",\"cpus\":-1,\"mem\":\"x\"}", "/", &e);

    ck_assert_ptr_null(a);
    ck_assert_int_eq(e.json, 1);
    ck_assert_uint_eq(e.n, 1);
    ck_assert(has_error(&e, "/mem", "error.expected.jsnumber"));
    mar_errs_free(&e);
    a = parse_in("{\"id\":\"a\",\"cpus\":-1,\"mem\":-1,\"instances\":-1}", "/",
                 &e);
    ck_assert_ptr_null(a);
    ck_assert_int_eq(e.json, 0);
    ck_assert_uint_eq(e.n, 4);
    ck_assert(has_error(&e, "/cpus", "got -1.0, expected 0.0 or more"));
    ck_assert(has_error(&e, "/mem", "got -1.0, expected 0.0 or more"));
    ck_assert(has_error(&e, "/instances", "got -1, expected 0 or more"));
    ck_assert(has_error(&e, "/", CMD_MSG));
    mar_errs_free(&e);
}
END_TEST

START_TEST(test_path_prefix)
{
    yajl_val v = json("{\"id\":\"a\",\"cmd\":\"x\",\"cpus\":-1,"
                      "\"constraints\":[[\"hostname\"]]}");
    struct mar_errs e = {0};

    ck_assert_ptr_null(mar_app_parse(v, "/", NULL, "/apps(3)", &e));
    ck_assert(has_error(&e, "/apps(3)/cpus", "got -1.0, expected 0.0 or more"));
    ck_assert(has_error(&e, "/apps(3)/constraints(0)",
                        "Each constraint must have either 2 or 3 fields"));
    mar_errs_free(&e);
    yajl_tree_free(v);
}
END_TEST

START_TEST(test_errs_write)
{
    struct mar_errs e = {0};
    char *t;

    mar_errs_add(&e, "/cpus", "first %d", 1);
    mar_errs_add(&e, "/", "app");
    mar_errs_add(&e, "/cpus", "second");
    t = errs_text(&e);
    ck_assert_str_eq(t, "{\"message\":\"Object is not valid\",\"details\":["
                        "{\"path\":\"/cpus\",\"errors\":[\"first 1\","
                        "\"second\"]},{\"path\":\"/\",\"errors\":[\"app\"]}]}");
    free(t);
    e.json = 1;
    t = errs_text(&e);
    ck_assert(strncmp(t, "{\"message\":\"Invalid JSON\"", 25) == 0);
    free(t);
    mar_errs_free(&e);
    ck_assert_uint_eq(e.n, 0);
    ck_assert_int_eq(e.json, 0);
}
END_TEST

/* ---- round trips ---- */

static const char *const trip_cases[] = {
    MIN_APP,
    "{\"id\":\"/prod/web\",\"instances\":2,\"cpus\":0.5,\"mem\":256,"
    "\"container\":{\"type\":\"DOCKER\",\"docker\":{\"image\":\"nginx\","
    "\"network\":\"BRIDGE\",\"portMappings\":[{\"containerPort\":80,"
    "\"servicePort\":9000,\"name\":\"http\",\"labels\":{\"VIP_0\":\"1.2.3.4:"
    "80\"}"
    "}],\"parameters\":[{\"key\":\"a\",\"value\":\"b\"}]},\"volumes\":"
    "[{\"containerPath\":\"/a\",\"hostPath\":\"/b\",\"mode\":\"RO\"}]},"
    "\"healthChecks\":[{\"protocol\":\"HTTP\",\"path\":\"/h\","
    "\"portIndex\":0,\"ignoreHttp1xx\":true},{\"protocol\":\"MESOS_TCP\"}],"
    "\"labels\":{\"HAPROXY_GROUP\":\"external\"},\"env\":{\"A\":\"1\","
    "\"S\":{\"secret\":\"s1\"}},\"secrets\":{\"s1\":{\"source\":\"/p\"}},"
    "\"constraints\":[[\"hostname\",\"unique\"],[\"rack\",\"GROUP_BY\",\"3\"]],"
    "\"uris\":[\"http://x/a.tar.gz\"],\"upgradeStrategy\":"
    "{\"minimumHealthCapacity\":0.5,\"maximumOverCapacity\":0.25},"
    "\"readinessChecks\":[{\"portName\":\"http\",\"timeoutSeconds\":5}],"
    "\"dependencies\":[\"/db\"],\"killSelection\":\"OLDEST_FIRST\","
    "\"taskKillGracePeriodSeconds\":10,\"acceptedResourceRoles\":[\"*\"],"
    "\"version\":\"2015-09-25T15:13:48.343Z\",\"versionInfo\":"
    "{\"lastScalingAt\":\"2015-09-25T15:13:48.343Z\","
    "\"lastConfigChangeAt\":\"2015-09-25T15:13:48.343Z\"}}",
    "{\"id\":\"ip\",\"cmd\":\"sleep "
    "1\",\"ipAddress\":{\"networkName\":\"dcos\","
    "\"labels\":{\"a\":\"b\"},\"discovery\":{\"ports\":[{\"number\":80,"
    "\"name\":\"http\",\"protocol\":\"udp\"}]}}}",
    "{\"id\":\"pg\",\"cmd\":\"x\",\"container\":{\"type\":\"MESOS\","
    "\"volumes\":[{\"containerPath\":\"d\",\"mode\":\"RW\",\"persistent\":"
    "{\"size\":100}}]},\"ports\":[5432,0],\"healthChecks\":[{\"protocol\":"
    "\"COMMAND\",\"command\":{\"value\":\"true\"}}]}",
    "{\"id\":\"c\",\"args\":[\"a\",\"b\\n\\u0001\\\"q\"],\"user\":\"nobody\","
    "\"networks\":[{\"mode\":\"container\",\"name\":\"n1\",\"labels\":"
    "{\"x\":\"y\"}}],\"container\":{\"type\":\"MESOS\",\"docker\":{\"image\":"
    "\"busybox\"},\"portMappings\":[{\"containerPort\":1,\"hostPort\":0},"
    "{\"containerPort\":2}]},\"fetch\":[{\"uri\":\"u\",\"extract\":false,"
    "\"executable\":true,\"cache\":true,\"destPath\":\"d\"}],\"storeUrls\":"
    "[\"s\"],\"tty\":true,\"role\":\"r\",\"check\":{\"http\":{\"portIndex\":0}}"
    ","
    "\"executorResources\":{\"cpus\":0.1},\"resourceLimits\":{\"cpus\":"
    "\"unlimited\"},\"residency\":null,\"backoffSeconds\":3,\"backoffFactor\":"
    "2,"
    "\"maxLaunchDelaySeconds\":3600,\"gpus\":2,\"disk\":1.5e3,"
    "\"unreachableStrategy\":{\"inactiveAfterSeconds\":60,"
    "\"expungeAfterSeconds\":120},\"requirePorts\":true}",
    "{\"id\":\"h\",\"cmd\":\"x\",\"requirePorts\":true,\"portDefinitions\":"
    "[{\"port\":8080,\"protocol\":\"udp,tcp\",\"name\":\"a\",\"labels\":"
    "{\"l\":\"v\"}},{\"port\":0}],\"healthChecks\":[{\"protocol\":\"HTTPS\","
    "\"portIndex\":1,\"gracePeriodSeconds\":0.5},{\"protocol\":\"MESOS_HTTPS\","
    "\"ipProtocol\":\"IPv4\"}]}",
};

START_TEST(test_round_trip)
{
    free(round_trip(trip_cases[_i], "/prod"));
}
END_TEST

/* The written docker app: docker.network and docker.portMappings are
 * normalised into networks and container.portMappings, with the
 * defaults Marathon writes. */
START_TEST(test_docker_normalised)
{
    char *t = round_trip(trip_cases[1], "/");

    ck_assert_ptr_nonnull(strstr(t, "\"container\":{\"type\":\"DOCKER\","
                                    "\"docker\":{\"image\":\"nginx\","
                                    "\"parameters\":[{\"key\":\"a\","
                                    "\"value\":\"b\"}],"
                                    "\"forcePullImage\":false,"
                                    "\"privileged\":false},"));
    ck_assert_ptr_nonnull(strstr(t,
                                 "\"portMappings\":[{\"containerPort\":80,"
                                 "\"hostPort\":0,\"servicePort\":9000,"
                                 "\"protocol\":\"tcp\",\"name\":\"http\","
                                 "\"labels\":{\"VIP_0\":\"1.2.3.4:80\"}}]}"));
    ck_assert_ptr_nonnull(strstr(t, "\"networks\":[{\"mode\":"
                                    "\"container/bridge\"}],\"ports\":[],"
                                    "\"portDefinitions\":[],"));
    ck_assert_ptr_null(strstr(t, "\"network\":\"BRIDGE\""));
    ck_assert_ptr_nonnull(strstr(t, "\"fetch\":[{\"uri\":\"http://x/a.tar.gz\","
                                    "\"extract\":true,"));
    ck_assert_ptr_null(strstr(t, "\"uris\""));
    ck_assert_ptr_nonnull(strstr(t, "[\"hostname\",\"UNIQUE\"]"));
    ck_assert_ptr_nonnull(strstr(t, "\"env\":{\"A\":\"1\",\"S\":"
                                    "{\"secret\":\"s1\"}}"));
    ck_assert_ptr_nonnull(strstr(t, "\"version\":\"2015-09-25T15:13:48.343Z\","
                                    "\"versionInfo\":{\"lastScalingAt\":"));
    free(t);
}
END_TEST

/* Null members of the container are absent ones: not written back as
 * null, where a client checking enum values would choke. */
START_TEST(test_container_nulls)
{
    struct mar_app *a = ok("{\"id\":\"n\",\"container\":{\"type\":null,"
                           "\"volumes\":null,\"docker\":{\"image\":\"i\","
                           "\"network\":null,\"privileged\":null}}}");

    ck_assert_str_eq(a->container_json,
                     "{\"docker\":{\"image\":\"i\",\"forcePullImage\":false,"
                     "\"privileged\":false,\"parameters\":[]},"
                     "\"type\":\"DOCKER\",\"volumes\":[]}");
    ck_assert_int_eq(a->bridge, 0);
    mar_app_free(a);
}
END_TEST

/* The AppInfo extras go after the definition's members, in one object. */
START_TEST(test_write_fields)
{
    struct mar_app *a = ok(MIN_APP);
    struct agora_jw *w = agora_jw_new();
    const char *t;
    yajl_val v;

    agora_jw_obj_open(w);
    mar_app_write_fields(w, a);
    agora_jw_kint(w, "tasksRunning", 2);
    agora_jw_obj_close(w);
    t = agora_jw_result(w, NULL);
    ck_assert_ptr_nonnull(t);
    v = json(t);
    ck_assert_str_eq(agora_json_get_str(v, "id"), "/bbotte");
    ck_assert(YAJL_IS_INTEGER(agora_json_get(v, "tasksRunning")));
    yajl_tree_free(v);
    agora_jw_free(w);
    mar_app_free(a);
}
END_TEST

/* ---- ports ---- */

START_TEST(test_ports_legacy)
{
    struct mar_app *a = ok("{\"id\":\"p\",\"cmd\":\"x\",\"ports\":[8080,0]}");
    char *t = app_text(a);

    ck_assert_uint_eq(a->nport_defs, 2);
    ck_assert_int_eq(a->port_defs[0].port, 8080);
    ck_assert_int_eq(a->port_defs[1].port, 0);
    ck_assert_str_eq(a->port_defs[1].protocol, "tcp");
    ck_assert_ptr_null(a->port_defs[0].name);
    ck_assert_uint_eq(mar_app_host_ports(a), 2);
    ck_assert_ptr_nonnull(strstr(t, "\"ports\":[8080,0],\"portDefinitions\":"
                                    "[{\"port\":8080,\"protocol\":\"tcp\"},"
                                    "{\"port\":0,\"protocol\":\"tcp\"}]"));
    free(t);
    mar_app_free(a);
    /* An empty list asks for no port; portDefinitions wins over ports
     * that say the same. */
    a = ok("{\"id\":\"p\",\"cmd\":\"x\",\"ports\":[]}");
    ck_assert_uint_eq(a->nport_defs, 0);
    ck_assert_uint_eq(mar_app_host_ports(a), 0);
    mar_app_free(a);
    a = ok("{\"id\":\"p\",\"cmd\":\"x\",\"ports\":[80],\"portDefinitions\":"
           "[{\"port\":80,\"name\":\"web\"}]}");
    ck_assert_str_eq(a->port_defs[0].name, "web");
    mar_app_free(a);
}
END_TEST

START_TEST(test_port_mappings)
{
    struct mar_app *a;

    /* Bridge: a missing hostPort is 0; one default mapping when none. */
    a = ok("{\"id\":\"b\",\"container\":{\"docker\":{\"image\":\"i\","
           "\"network\":\"BRIDGE\"}}}");
    ck_assert_int_eq(a->bridge, 1);
    ck_assert_uint_eq(a->nport_defs, 0);
    ck_assert_uint_eq(a->nport_mappings, 1);
    ck_assert_int_eq(a->port_mappings[0].host_port, 0);
    ck_assert_str_eq(a->port_mappings[0].name, "default");
    ck_assert_ptr_nonnull(a->docker_image);
    ck_assert_str_eq(a->docker_image, "i");
    ck_assert_uint_eq(mar_app_host_ports(a), 1);
    mar_app_free(a);
    /* Container networks: no hostPort, no host port used. */
    a = ok("{\"id\":\"b\",\"cmd\":\"x\",\"networks\":[{\"mode\":"
           "\"container\",\"name\":\"n\"}],\"container\":{\"type\":\"MESOS\","
           "\"portMappings\":[{\"containerPort\":80},{\"containerPort\":81,"
           "\"hostPort\":0}]}}");
    ck_assert_int_eq(a->port_mappings[0].host_port, -1);
    ck_assert_int_eq(a->port_mappings[1].host_port, 0);
    ck_assert_uint_eq(mar_app_host_ports(a), 1);
    mar_app_free(a);
    /* Deprecated ports in bridge mode become mappings, not an error. */
    a = ok("{\"id\":\"b\",\"ports\":[0,0],\"container\":{\"docker\":"
           "{\"image\":\"i\",\"network\":\"BRIDGE\",\"portMappings\":"
           "[{\"containerPort\":80}]}}}");
    ck_assert_uint_eq(a->nport_mappings, 2);
    ck_assert_uint_eq(a->nport_defs, 0);
    mar_app_free(a);
    /* Container networking without a container: an empty Mesos one. */
    a = ok("{\"id\":\"b\",\"cmd\":\"x\",\"networks\":[{\"mode\":"
           "\"container/bridge\"}],\"requirePorts\":true}");
    ck_assert_str_eq(a->container_json, "{\"type\":\"MESOS\",\"volumes\":[]}");
    ck_assert_int_eq(a->require_ports, 0);
    mar_app_free(a);
}
END_TEST

START_TEST(test_uris_to_fetch)
{
    struct mar_app *a = ok("{\"id\":\"u\",\"cmd\":\"x\",\"uris\":["
                           "\"http://a/b.tgz\",\"http://a/c.sh\","
                           "\"http://a/d.zip\"],\"fetch\":[]}");

    ck_assert_uint_eq(a->nfetch, 3);
    ck_assert_str_eq(a->fetch[0].uri, "http://a/b.tgz");
    ck_assert_int_eq(a->fetch[0].extract, 1);
    ck_assert_int_eq(a->fetch[1].extract, 0);
    ck_assert_int_eq(a->fetch[2].extract, 1);
    ck_assert_int_eq(a->fetch[0].executable, 0);
    mar_app_free(a);
}
END_TEST

/* ---- merge, dup, is_upgrade ---- */

static struct mar_app *merge(const struct mar_app *old, const char *patch,
                             struct mar_errs *e)
{
    yajl_val v = json(patch);
    struct mar_app *a = mar_app_merge(old, v, e);

    yajl_tree_free(v);
    return a;
}

START_TEST(test_merge)
{
    struct mar_app *old = ok("{\"id\":\"m\",\"cmd\":\"x\",\"instances\":2,"
                             "\"labels\":{\"a\":\"b\"},\"version\":"
                             "\"2015-09-25T15:13:48.343Z\"}");
    struct mar_errs e = {0};
    struct mar_app *a = merge(old,
                              "{\"instances\":5,\"cmd\":null,"
                              "\"id\":\"/other\",\"version\":"
                              "\"2016-01-01T00:00:00.000Z\"}",
                              &e);

    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->instances, 5);
    ck_assert_str_eq(a->cmd, "x");
    ck_assert_str_eq(a->id, "/m");
    ck_assert_str_eq(a->version, "2015-09-25T15:13:48.343Z");
    ck_assert_str_eq(a->labels[0].value, "b");
    ck_assert_int_eq(mar_app_is_upgrade(old, a), 0);
    mar_app_free(a);
    /* A top-level field replaces the whole of it: labels not merged. */
    a = merge(old, "{\"labels\":{\"c\":\"d\"}}", &e);
    ck_assert_uint_eq(a->nlabels, 1);
    ck_assert_str_eq(a->labels[0].key, "c");
    ck_assert_int_eq(mar_app_is_upgrade(old, a), 1);
    mar_app_free(a);
    /* New port definitions replace the old ports and definitions. */
    a = merge(old, "{\"portDefinitions\":[{\"port\":8080,\"name\":\"h\"}]}",
              &e);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->nport_defs, 1);
    ck_assert_int_eq(a->port_defs[0].port, 8080);
    mar_app_free(a);
    ck_assert_uint_eq(e.n, 0);
    mar_app_free(old);
}
END_TEST

START_TEST(test_merge_networking)
{
    struct mar_app *old = ok("{\"id\":\"m\",\"cmd\":\"x\"}"), *a, *b;
    struct mar_errs e = {0};

    /* To bridge: the old (host) port definitions go, mappings come. */
    a = merge(old, "{" BRIDGE "}", &e);
    ck_assert_msg(a != NULL, "%s", errs_text(&e));
    ck_assert_int_eq(a->bridge, 1);
    ck_assert_uint_eq(a->nport_defs, 0);
    ck_assert_uint_eq(a->nport_mappings, 1);
    /* And back to host: the old container's mappings go. */
    b = merge(a, "{\"networks\":[{\"mode\":\"host\"}]}", &e);
    ck_assert_msg(b != NULL, "%s", errs_text(&e));
    ck_assert_int_eq(b->bridge, 0);
    ck_assert_uint_eq(b->nport_mappings, 0);
    ck_assert_uint_eq(b->nport_defs, 1);
    mar_app_free(b);
    /* The patch's own definitions with bridge networking are refused. */
    b = merge(a, "{\"portDefinitions\":[{\"port\":1}]}", &e);
    ck_assert_ptr_null(b);
    ck_assert(has_error(&e, "/",
                        "portDefinitions are only allowed with "
                        "host-networking"));
    mar_errs_free(&e);
    mar_app_free(a);
    mar_app_free(old);
}
END_TEST

START_TEST(test_merge_refused)
{
    struct mar_app *old = ok("{\"id\":\"m\",\"cmd\":\"x\"}");
    struct mar_errs e = {0};

    ck_assert_ptr_null(merge(old, "{\"cpus\":-1}", &e));
    ck_assert_int_eq(e.json, 0);
    ck_assert(has_error(&e, "/cpus", "got -1.0, expected 0.0 or more"));
    mar_errs_free(&e);
    ck_assert_ptr_null(merge(old, "{\"cpus\":\"lots\"}", &e));
    ck_assert_int_eq(e.json, 1);
    mar_errs_free(&e);
    ck_assert_ptr_null(merge(old, "[]", &e));
    ck_assert(has_error(&e, "/", "error.expected.jsobject"));
    mar_errs_free(&e);
    mar_app_free(old);
}
END_TEST

START_TEST(test_is_upgrade)
{
    struct mar_app *a = ok(trip_cases[1]), *b = mar_app_dup(a);
    char *ta, *tb;

    ck_assert_ptr_nonnull(b);
    ta = app_text(a);
    tb = app_text(b);
    ck_assert_str_eq(ta, tb);
    free(ta);
    free(tb);
    ck_assert_int_eq(mar_app_is_upgrade(a, b), 0);
    b->instances = 7; /* a scale */
    free(b->version);
    b->version = strdup("2020-01-01T00:00:00.000Z");
    ck_assert_int_eq(mar_app_is_upgrade(a, b), 0);
    b->cpus = 0.25;
    ck_assert_int_eq(mar_app_is_upgrade(a, b), 1);
    b->cpus = a->cpus;
    free(b->health_checks[0].path);
    b->health_checks[0].path = strdup("/other");
    ck_assert_int_eq(mar_app_is_upgrade(a, b), 1);
    mar_app_free(a);
    mar_app_free(b);
}
END_TEST

START_TEST(test_dup_all_trips)
{
    struct mar_app *a = ok_in(trip_cases[_i], "/prod"), *b = mar_app_dup(a);
    char *ta = app_text(a), *tb;

    mar_app_free(a); /* the copy shares nothing */
    tb = app_text(b);
    ck_assert_str_eq(ta, tb);
    free(ta);
    free(tb);
    mar_app_free(b);
    ck_assert_ptr_null(mar_app_dup(NULL));
}
END_TEST

/* ---- time ---- */

START_TEST(test_time)
{
    char buf[32];
    double t;

    mar_time_format(1443194028.343, buf);
    ck_assert_str_eq(buf, "2015-09-25T15:13:48.343Z");
    mar_time_format(0, buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    mar_time_format(59.9996, buf);
    ck_assert_str_eq(buf, "1970-01-01T00:01:00.000Z");
    ck_assert_int_eq(mar_time_parse("2015-09-25T15:13:48.343Z", &t), 0);
    ck_assert(t > 1443194028.342 && t < 1443194028.344);
    mar_time_format(t, buf);
    ck_assert_str_eq(buf, "2015-09-25T15:13:48.343Z");
    ck_assert_int_eq(mar_time_parse("2015-09-25T15:13:48Z", &t), 0);
    ck_assert(t == 1443194028.0);
    ck_assert_int_eq(mar_time_parse("2016-02-29T00:00:00.5Z", &t), 0);
    ck_assert(t == 1456704000.5);
    /* Within the second last formatted only the milliseconds are written
     * again; the next second, or an earlier one, is formatted whole. */
    mar_time_format(1443194028.343, buf);
    mar_time_format(1443194028.9, buf);
    ck_assert_str_eq(buf, "2015-09-25T15:13:48.900Z");
    mar_time_format(1443194028.0071, buf);
    ck_assert_str_eq(buf, "2015-09-25T15:13:48.007Z");
    mar_time_format(1443194028.9996, buf);
    ck_assert_str_eq(buf, "2015-09-25T15:13:49.000Z");
    mar_time_format(1443194028.5, buf);
    ck_assert_str_eq(buf, "2015-09-25T15:13:48.500Z");
    mar_time_format(1443190000.25, buf);
    ck_assert_str_eq(buf, "2015-09-25T14:06:40.250Z");
}
END_TEST

static const char *const bad_times[] = {
    "",
    "2015-09-25",
    "2015-09-25 15:13:48Z",
    "2015-09-25T15:13:48",
    "2015-09-25T15:13:48.343",
    "2015-09-25T15:13:48.Z",
    "2015-09-25T15:13:48.343Zx",
    "2015-09-25T15:13:48+00:00",
    "2015-13-01T00:00:00Z",
    "2015-02-31T00:00:00Z",
    "2015-09-25T24:00:00Z",
    "2015-09-25T23:60:00Z",
    "x015-09-25T15:13:48Z",
};

START_TEST(test_time_refused)
{
    double t = 42;

    ck_assert_int_eq(mar_time_parse(bad_times[_i], &t), -1);
    ck_assert(t == 42);
}
END_TEST

/* ---- hostile input ---- */

/* "[[[…1…]]]" n deep inside {"id":…, key: here}. */
static char *nested(const char *key, size_t n)
{
    size_t len = strlen(key) + 2 * n + 64, i, p = 0;
    char *s = malloc(len);

    ck_assert_ptr_nonnull(s);
    p += (size_t)sprintf(s, "{\"id\":\"d\",\"cmd\":\"x\",\"%s\":", key);
    for (i = 0; i < n; i++)
        s[p++] = '[';
    s[p++] = '1';
    for (i = 0; i < n; i++)
        s[p++] = ']';
    strcpy(s + p, "}");
    return s;
}

/* {"id":…,"container":{"type":"MESOS","x":{"a":{"a":…1…}}}}, the
 * container object `levels` deep counting itself. */
static char *deep_container(size_t levels)
{
    char *body = malloc(64 + levels * 8);
    size_t p, i;

    ck_assert_ptr_nonnull(body);
    p = (size_t)sprintf(body, "{\"id\":\"d\",\"cmd\":\"x\",\"container\":"
                              "{\"type\":\"MESOS\",\"x\":");
    for (i = 1; i < levels; i++)
        p += (size_t)sprintf(body + p, "{\"a\":");
    p += (size_t)sprintf(body + p, "1");
    for (i = 1; i < levels; i++)
        body[p++] = '}';
    strcpy(body + p, "}}");
    return body;
}

START_TEST(test_deep_passthrough)
{
    struct mar_errs e = {0};
    char *body = deep_container(10000), *t, err[128];
    struct mar_app *a;

    /* Nested 10000 deep: the SDK's parser refuses it before any tree. */
    ck_assert_ptr_null(agora_json_parse(body, err, sizeof(err)));
    free(body);
    /* Nested 500 deep, which the parser takes: refused with a 422, not
     * recursed into. */
    body = deep_container(500);
    ck_assert_ptr_null(parse_in(body, "/", &e));
    ck_assert_int_eq(e.json, 0);
    ck_assert(has_error(&e, "/container",
                        "is nested too deeply (more than 64 levels)"));
    mar_errs_free(&e);
    free(body);
    /* The bound itself: 64 levels are kept, 65 are not. */
    body = deep_container(64);
    a = ok(body);
    t = app_text(a);
    ck_assert_ptr_nonnull(strstr(t, "{\"a\":{\"a\":1}}"));
    free(t);
    mar_app_free(a);
    free(body);
    body = deep_container(65);
    ck_assert_ptr_null(parse_in(body, "/", &e));
    ck_assert(has_error(&e, "/container",
                        "is nested too deeply (more than 64 levels)"));
    mar_errs_free(&e);
    free(body);
}
END_TEST

START_TEST(test_deep_elsewhere)
{
    static const char *const keys[] = {
        "secrets",   "networks", "readinessChecks", "env",
        "labels",    "args",     "healthChecks",    "constraints",
        "residency", "check",    "storeUrls",       "ports",
        "fetch"};
    struct mar_errs e = {0};
    struct mar_app *old = ok("{\"id\":\"m\",\"cmd\":\"x\"}");
    char *body;
    size_t i;
    yajl_val v;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        body = nested(keys[i], 500); /* the parser takes up to 512 */
        ck_assert_msg(parse_in(body, "/", &e) == NULL, "%s", keys[i]);
        ck_assert_uint_gt(e.n, 0);
        mar_errs_free(&e);
        /* And as a PATCH. */
        v = json(body);
        ck_assert_ptr_null(mar_app_merge(old, v, &e));
        ck_assert_uint_gt(e.n, 0);
        mar_errs_free(&e);
        yajl_tree_free(v);
        free(body);
    }
    mar_app_free(old);
}
END_TEST

/* A small deterministic generator (xorshift) for the fuzz tests. */
static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const char *const app_keys[] = {
    "id",
    "cmd",
    "args",
    "user",
    "env",
    "instances",
    "cpus",
    "mem",
    "disk",
    "gpus",
    "executor",
    "constraints",
    "acceptedResourceRoles",
    "uris",
    "fetch",
    "storeUrls",
    "ports",
    "portDefinitions",
    "requirePorts",
    "backoffSeconds",
    "backoffFactor",
    "maxLaunchDelaySeconds",
    "container",
    "healthChecks",
    "readinessChecks",
    "dependencies",
    "upgradeStrategy",
    "labels",
    "taskKillGracePeriodSeconds",
    "killSelection",
    "unreachableStrategy",
    "secrets",
    "ipAddress",
    "networks",
    "residency",
    "version",
    "versionInfo",
    "tty",
    "role",
    "check",
    "docker",
    "image",
    "network",
    "portMappings",
    "containerPort",
    "hostPort",
    "servicePort",
    "name",
    "protocol",
    "mode",
    "portIndex",
    "port",
    "command",
    "value",
    "type",
    "volumes",
    "persistent",
    "discovery",
    "number",
    "secret",
    "inactiveAfterSeconds",
    "expungeAfterSeconds",
    "minimumHealthCapacity",
    "maximumOverCapacity",
    "labels",
    "uri",
    "extract",
};

static const char *const atoms[] = {
    "0",
    "1",
    "-1",
    "2",
    "0.5",
    "1e400",
    "65536",
    "\"\"",
    "\"a\"",
    "\"/a/b\"",
    "\"..\"",
    "\"BRIDGE\"",
    "\"HOST\"",
    "\"USER\"",
    "\"DOCKER\"",
    "\"MESOS\"",
    "\"HTTP\"",
    "\"COMMAND\"",
    "\"MESOS_TCP\"",
    "\"container\"",
    "\"host\"",
    "\"container/bridge\"",
    "\"tcp\"",
    "\"disabled\"",
    "\"OLDEST_FIRST\"",
    "\"2015-09-25T15:13:48.343Z\"",
    "true",
    "false",
    "null",
    "[]",
    "{}",
    "[\"hostname\",\"UNIQUE\"]",
    "\"http://x/y.tgz\"",
    "\"IPv6\"",
};

/* Appends a random value (depth-limited) to buf at *p, within cap. */
static void gen_value(char *buf, size_t cap, size_t *p, int depth)
{
    uint64_t r = rnd() % 10;
    size_t i, n;

    if (*p + 256 >= cap)
        r = 0;
    if (depth <= 0 || r < 5) {
        *p +=
            (size_t)snprintf(buf + *p, cap - *p, "%s",
                             atoms[rnd() % (sizeof(atoms) / sizeof(atoms[0]))]);
        return;
    }
    n = rnd() % 4;
    buf[(*p)++] = r < 7 ? '[' : '{';
    for (i = 0; i < n && *p + 256 < cap; i++) {
        if (i)
            buf[(*p)++] = ',';
        if (r >= 7)
            *p += (size_t)snprintf(
                buf + *p, cap - *p, "\"%s\":",
                app_keys[rnd() % (sizeof(app_keys) / sizeof(app_keys[0]))]);
        gen_value(buf, cap, p, depth - 1);
    }
    buf[(*p)++] = r < 7 ? ']' : '}';
    buf[*p] = '\0';
}

/* A random app: the keys of a definition with random values. */
static void gen_app(char *buf, size_t cap)
{
    size_t p = 0, i, n = 1 + rnd() % 12;

    p += (size_t)snprintf(buf, cap, "{\"id\":\"f\",\"cmd\":\"x\"");
    for (i = 0; i < n && p + 512 < cap; i++) {
        p += (size_t)snprintf(buf + p, cap - p,
                              ",\"%s\":", app_keys[rnd() % 40]);
        gen_value(buf, cap, &p, 4);
    }
    snprintf(buf + p, cap - p, "}");
}

/* Whatever random apps do, nothing crashes, and what is accepted is a
 * fixed point of write/parse and merges onto itself as no upgrade. */
START_TEST(test_fuzz_apps)
{
    static char buf[16384];
    struct mar_errs e = {0};
    struct mar_app *a, *b;
    char *one, *two;
    yajl_val v;
    int i, accepted = 0;

    for (i = 0; i < 4000; i++) {
        gen_app(buf, sizeof(buf));
        v = agora_json_parse(buf, NULL, 0);
        if (!v)
            continue;
        a = mar_app_parse(v, "/g", NULL, "", &e);
        if (a) {
            accepted++;
            one = app_text(a);
            b = ok(one);
            two = app_text(b);
            ck_assert_msg(strcmp(one, two) == 0, "%s\n%s\n%s", buf, one, two);
            mar_app_free(b);
            b = mar_app_merge(a, v, &e);
            if (b) {
                mar_app_free(b);
            }
            free(one);
            free(two);
            mar_app_free(a);
        } else {
            ck_assert_uint_gt(e.n + (size_t)e.nomem, 0);
        }
        mar_errs_free(&e);
        yajl_tree_free(v);
    }
    ck_assert_int_gt(accepted, 10);
}
END_TEST

/* Fields that are valid alone; together they may clash, which is the
 * point: every mix either fails with a reason or survives the laws. */
static const char *const snippets[] = {
    "\"instances\":3",
    "\"cpus\":0.25",
    "\"mem\":64.5",
    "\"disk\":10",
    "\"gpus\":1",
    "\"user\":\"u\"",
    "\"args\":[\"a\",\"b\"]",
    "\"env\":{\"A\":\"b\",\"C\":\"\"}",
    "\"env\":{\"S\":{\"secret\":\"s\"}}",
    "\"secrets\":{\"s\":{\"source\":\"/x\"}}",
    "\"labels\":{\"l\":\"v\"}",
    "\"ports\":[0,0]",
    "\"ports\":[]",
    "\"ports\":[8080]",
    "\"portDefinitions\":[{\"port\":0,\"name\":\"http\"}]",
    "\"portDefinitions\":[]",
    "\"requirePorts\":true",
    "\"container\":{\"docker\":{\"image\":\"i\",\"network\":\"BRIDGE\","
    "\"portMappings\":[{\"containerPort\":80,\"name\":\"http\"}]}}",
    "\"container\":{\"type\":\"MESOS\",\"docker\":{\"image\":\"i\"}}",
    "\"container\":{\"type\":\"MESOS\",\"volumes\":[{\"containerPath\":\"d\","
    "\"persistent\":{\"size\":5}}]}",
    "\"networks\":[{\"mode\":\"container\",\"name\":\"n\"}]",
    "\"networks\":[{\"mode\":\"container/bridge\"}]",
    "\"networks\":[{\"mode\":\"host\"}]",
    "\"ipAddress\":{\"networkName\":\"n\"}",
    "\"healthChecks\":[{\"protocol\":\"HTTP\"}]",
    "\"healthChecks\":[{\"protocol\":\"MESOS_TCP\",\"port\":9}]",
    "\"healthChecks\":[{\"command\":{\"value\":\"true\"}}]",
    "\"readinessChecks\":[{\"portName\":\"http\"}]",
    "\"dependencies\":[\"x\",\"/y/z\"]",
    "\"uris\":[\"http://a/b.zip\"]",
    "\"fetch\":[{\"uri\":\"http://a\",\"cache\":true}]",
    "\"constraints\":[[\"hostname\",\"UNIQUE\"]]",
    "\"upgradeStrategy\":{\"minimumHealthCapacity\":0,"
    "\"maximumOverCapacity\":0}",
    "\"unreachableStrategy\":\"disabled\"",
    "\"unreachableStrategy\":{\"inactiveAfterSeconds\":1,"
    "\"expungeAfterSeconds\":2}",
    "\"killSelection\":\"OLDEST_FIRST\"",
    "\"taskKillGracePeriodSeconds\":0",
    "\"acceptedResourceRoles\":[\"*\"]",
    "\"tty\":false",
    "\"role\":\"r\"",
    "\"residency\":{\"taskLostBehavior\":\"WAIT_FOREVER\"}",
    "\"version\":\"2015-09-25T15:13:48.343Z\"",
    "\"cmd\":null",
    "\"executor\":\"//cmd\"",
    "\"storeUrls\":[\"u\"]",
};

static void gen_mix(char *buf, size_t cap, int open)
{
    size_t p = 0, i, n = rnd() % 9;

    p += (size_t)snprintf(buf, cap, open ? "{\"id\":\"f\",\"cmd\":\"x\"" : "{");
    for (i = 0; i < n; i++)
        p += (size_t)snprintf(
            buf + p, cap - p, "%s%s", (open || i) ? "," : "",
            snippets[rnd() % (sizeof(snippets) / sizeof(snippets[0]))]);
    snprintf(buf + p, cap - p, "}");
}

/* Mixes of valid fields: accepted ones are fixed points of write and
 * parse, an empty patch changes nothing, and a patch that parses is
 * either accepted or refused with a reason. */
START_TEST(test_fuzz_mixes)
{
    static char buf[8192], patch[8192];
    struct mar_errs e = {0};
    struct mar_app *a, *b;
    yajl_val v, pv, empty = json("{}");
    char *one, *two;
    int i, accepted = 0;

    for (i = 0; i < 3000; i++) {
        gen_mix(buf, sizeof(buf), 1);
        v = json(buf);
        a = mar_app_parse(v, "/g", NULL, "", &e);
        yajl_tree_free(v);
        if (!a) {
            ck_assert_uint_gt(e.n, 0);
            mar_errs_free(&e);
            continue;
        }
        accepted++;
        one = app_text(a);
        b = ok(one);
        two = app_text(b);
        ck_assert_msg(strcmp(one, two) == 0, "%s\n%s\n%s", buf, one, two);
        mar_app_free(b);
        free(two);
        b = mar_app_merge(a, empty, &e);
        ck_assert_msg(b != NULL, "%s: %s", one, errs_text(&e));
        two = app_text(b);
        ck_assert_str_eq(one, two);
        ck_assert_int_eq(mar_app_is_upgrade(a, b), 0);
        mar_app_free(b);
        free(two);
        gen_mix(patch, sizeof(patch), 0);
        pv = json(patch);
        b = mar_app_merge(a, pv, &e);
        ck_assert_msg(b != NULL || e.n > 0, "%s + %s", one, patch);
        mar_app_free(b);
        mar_errs_free(&e);
        yajl_tree_free(pv);
        free(one);
        mar_app_free(a);
    }
    yajl_tree_free(empty);
    ck_assert_int_gt(accepted, 300);
}
END_TEST

/* Random bytes and truncations of a valid app. */
START_TEST(test_garbage)
{
    char buf[512];
    const char *valid = trip_cases[1];
    struct mar_errs e = {0};
    struct mar_app *a;
    size_t i, j, n;
    yajl_val v;

    for (i = 0; i < 3000; i++) {
        if (i % 2) {
            n = rnd() % (sizeof(buf) - 1);
            for (j = 0; j < n; j++)
                buf[j] = (char)(rnd() % 255 + 1);
            buf[n] = '\0';
        } else {
            n = strlen(valid) < sizeof(buf) - 1 ? strlen(valid)
                                                : sizeof(buf) - 1;
            memcpy(buf, valid, n);
            buf[rnd() % n] = "{}[],:\"0a"[rnd() % 9];
            buf[n] = '\0';
        }
        v = agora_json_parse(buf, NULL, 0);
        if (!v)
            continue;
        a = mar_app_parse(v, "/", NULL, "", &e);
        mar_app_free(a);
        mar_errs_free(&e);
        yajl_tree_free(v);
    }
}
END_TEST

#ifdef OOM_TESTS
/* Runs fn with the nth allocation failing, for n = 0, 1, ... until a
 * run sees no failure: each failed run must say so (fn returns 0 for
 * "reported the failure") and leak nothing. */
static void each_failure(int (*fn)(void))
{
    long n, before;
    int reported;

    for (n = 0;; n++) {
        before = live;
        failed_alloc = 0;
        fail_after = n;
        reported = fn();
        fail_after = -1;
        ck_assert_msg(live == before, "allocation %ld failed: %ld leaked", n,
                      live - before);
        if (!failed_alloc)
            break;
        ck_assert_msg(reported == 0, "allocation %ld failed unnoticed", n);
    }
    ck_assert_int_gt(n, 2);
}

static yajl_val oom_tree;
static struct mar_app *oom_app;

/* 0 when the call failed and said so, 1 when it succeeded. */
static int oom_parse(void)
{
    struct mar_errs e = {0};
    struct mar_app *a = mar_app_parse(oom_tree, "/prod", NULL, "", &e);
    int ok = a != NULL;

    if (!ok && !e.nomem)
        ok = 2; /* refused, but not for want of memory */
    mar_app_free(a);
    mar_errs_free(&e);
    return ok;
}

static int oom_dup(void)
{
    struct mar_app *a = mar_app_dup(oom_app);
    int ok = a != NULL;

    mar_app_free(a);
    return ok;
}

static int oom_write(void)
{
    struct agora_jw *w = agora_jw_new();
    int ok;

    mar_app_write(w, oom_app);
    ok = agora_jw_result(w, NULL) != NULL;
    agora_jw_free(w);
    return ok;
}

static int oom_merge(void)
{
    struct mar_errs e = {0};
    struct mar_app *a = mar_app_merge(oom_app, oom_tree, &e);
    int ok = a != NULL;

    if (!ok && !e.nomem)
        ok = 2;
    mar_app_free(a);
    mar_errs_free(&e);
    return ok;
}

static int oom_is_upgrade(void)
{
    /* Out of memory, the answer is the safe one: an upgrade. */
    return mar_app_is_upgrade(oom_app, oom_app) == 0;
}

static int oom_errors(void)
{
    struct mar_errs e = {0};
    int ok;

    mar_errs_add(&e, "/a", "one %d", 1);
    mar_errs_add(&e, "/b", "two");
    ok = !e.nomem;
    mar_errs_free(&e);
    return ok;
}

START_TEST(test_out_of_memory)
{
    size_t i;
    void *probe;

    /* Under valgrind, its allocator replaces these hooks: nothing to do. */
    fail_after = 0;
    probe = malloc(1);
    fail_after = -1;
    if (probe) {
        free(probe);
        return;
    }

    for (i = 0; i < sizeof(trip_cases) / sizeof(trip_cases[0]); i++) {
        oom_tree = json(trip_cases[i]);
        oom_app = ok_in(trip_cases[i], "/prod");
        each_failure(oom_parse);
        each_failure(oom_dup);
        each_failure(oom_write);
        each_failure(oom_merge);
        each_failure(oom_is_upgrade);
        mar_app_free(oom_app);
        yajl_tree_free(oom_tree);
    }
    each_failure(oom_errors);
}
END_TEST
#endif

static Suite *mar_app_suite(void)
{
    Suite *s = suite_create("mar_app");
    TCase *tc = tcase_create("model");
    TCase *fz = tcase_create("hostile");

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
    tcase_add_test(tc, test_defaults_written);
    tcase_add_test(tc, test_defaults_struct);
    tcase_add_test(tc, test_health_check_defaults);
    tcase_add_loop_test(tc, test_id_resolve, 0, N(resolve_cases));
    tcase_add_loop_test(tc, test_id_valid, 0, N(valid_cases));
    tcase_add_test(tc, test_id_safe_and_under);
    tcase_add_test(tc, test_id_in_app);
    tcase_add_test(tc, test_id_override);
    tcase_add_loop_test(tc, test_rule, 0, N(rule_cases));
    tcase_add_loop_test(tc, test_accepted, 0, N(accepted_cases));
    tcase_add_loop_test(tc, test_type, 0, N(type_cases));
    tcase_add_test(tc, test_400_wins_over_422);
    tcase_add_test(tc, test_path_prefix);
    tcase_add_test(tc, test_errs_write);
    tcase_add_loop_test(tc, test_round_trip, 0, N(trip_cases));
    tcase_add_test(tc, test_docker_normalised);
    tcase_add_test(tc, test_container_nulls);
    tcase_add_test(tc, test_write_fields);
    tcase_add_test(tc, test_ports_legacy);
    tcase_add_test(tc, test_port_mappings);
    tcase_add_test(tc, test_uris_to_fetch);
    tcase_add_test(tc, test_merge);
    tcase_add_test(tc, test_merge_networking);
    tcase_add_test(tc, test_merge_refused);
    tcase_add_test(tc, test_is_upgrade);
    tcase_add_loop_test(tc, test_dup_all_trips, 0, N(trip_cases));
    tcase_add_test(tc, test_time);
    tcase_add_loop_test(tc, test_time_refused, 0, N(bad_times));
    suite_add_tcase(s, tc);
    tcase_add_test(fz, test_deep_passthrough);
    tcase_add_test(fz, test_deep_elsewhere);
    tcase_add_test(fz, test_fuzz_apps);
    tcase_add_test(fz, test_fuzz_mixes);
    tcase_add_test(fz, test_garbage);
#ifdef OOM_TESTS
    tcase_add_test(fz, test_out_of_memory);
#endif
    tcase_set_timeout(fz, 120);
    suite_add_tcase(s, fz);
#undef N
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mar_app_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
