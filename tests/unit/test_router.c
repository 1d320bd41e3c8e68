/*
 * test_router.c - route matching, parameters and precedence.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <agora/plugin.h>

#include "router.h"

static int tags[16];

static struct router r;

static void setup(void)
{
    static const struct {
        const char *method, *path;
    } routes[] = {
        {"GET", "/v2/apps"},              /* 0 */
        {"GET", "/v2/apps/*id"},          /* 1 */
        {"GET", "/v2/apps/*id/tasks"},    /* 2 */
        {"DELETE", "/v2/apps/*id/tasks/:task"}, /* 3 */
        {"POST", "/v2/apps/*id/restart"}, /* 4 */
        {"GET", "/v2/apps/:id/versions"}, /* 5 */
        {"GET", "/scheduler/job/:name"},  /* 6 */
        {"GET", "/scheduler/job/stats"},  /* 7: literal beats :name */
        {"*", "/ping"},                   /* 8 */
        {"GET", "/"},                     /* 9 */
        {"PUT", "/v2/apps/*id"},          /* 10 */
    };
    size_t i;

    memset(&r, 0, sizeof(r));
    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        tags[i] = (int)i;
        ck_assert_int_eq(router_add(&r, routes[i].method, NULL,
                                    routes[i].path, NULL, &tags[i]),
                         0);
    }
}

static void teardown(void) { router_free(&r); }

/* The tag of the route matched, -404 or -405. */
static int match(const char *method, const char *path,
                 struct router_match *m)
{
    ck_assert_int_eq(router_match(&r, method, path, m), 0);
    if (m->status)
        return -m->status;
    return *(int *)m->arg;
}

START_TEST(literal_and_wildcard)
{
    struct router_match m;

    ck_assert_int_eq(match("GET", "/v2/apps", &m), 0);
    router_match_free(&m);
    ck_assert_int_eq(match("GET", "/v2/apps/", &m), 0);
    router_match_free(&m);
    ck_assert_int_eq(match("GET", "/v2/apps/web", &m), 1);
    ck_assert_str_eq(router_param(&m, "id"), "web");
    router_match_free(&m);
    ck_assert_int_eq(match("GET", "/v2/apps/prod/web/api", &m), 1);
    ck_assert_str_eq(router_param(&m, "id"), "prod/web/api");
    router_match_free(&m);
}
END_TEST

START_TEST(wildcard_then_literal)
{
    struct router_match m;

    ck_assert_int_eq(match("GET", "/v2/apps/prod/web/tasks", &m), 2);
    ck_assert_str_eq(router_param(&m, "id"), "prod/web");
    router_match_free(&m);
    ck_assert_int_eq(match("DELETE", "/v2/apps/a/b/tasks/t-1", &m), 3);
    ck_assert_str_eq(router_param(&m, "id"), "a/b");
    ck_assert_str_eq(router_param(&m, "task"), "t-1");
    router_match_free(&m);
    ck_assert_int_eq(match("POST", "/v2/apps/x/restart", &m), 4);
    ck_assert_str_eq(router_param(&m, "id"), "x");
    router_match_free(&m);
}
END_TEST

START_TEST(precedence)
{
    struct router_match m;

    /* :param beats *wildcard at the same position. */
    ck_assert_int_eq(match("GET", "/v2/apps/web/versions", &m), 5);
    ck_assert_str_eq(router_param(&m, "id"), "web");
    router_match_free(&m);
    /* A deeper id only the wildcard takes. */
    ck_assert_int_eq(match("GET", "/v2/apps/a/b/versions", &m), 1);
    ck_assert_str_eq(router_param(&m, "id"), "a/b/versions");
    router_match_free(&m);
    /* Literal beats :param, whatever the order of adding. */
    ck_assert_int_eq(match("GET", "/scheduler/job/stats", &m), 7);
    router_match_free(&m);
    ck_assert_int_eq(match("GET", "/scheduler/job/backup", &m), 6);
    ck_assert_str_eq(router_param(&m, "name"), "backup");
    router_match_free(&m);
}
END_TEST

START_TEST(methods)
{
    struct router_match m;
    char allow[64];

    ck_assert_int_eq(match("DELETE", "/v2/apps", &m), -405);
    router_methods_format(m.allowed, allow, sizeof(allow));
    ck_assert_str_eq(allow, "GET");
    router_match_free(&m);
    ck_assert_int_eq(match("PUT", "/v2/apps/web", &m), 10);
    router_match_free(&m);
    ck_assert_int_eq(match("DELETE", "/v2/apps/web", &m), -405);
    router_methods_format(m.allowed, allow, sizeof(allow));
    ck_assert_str_eq(allow, "GET, PUT");
    router_match_free(&m);
    ck_assert_int_eq(match("PATCH", "/ping", &m), 8);
    router_match_free(&m);
    /* HEAD falls back to GET. */
    ck_assert_int_eq(match("HEAD", "/v2/apps", &m), 0);
    router_match_free(&m);
}
END_TEST

START_TEST(not_found)
{
    struct router_match m;

    ck_assert_int_eq(match("GET", "/v3/apps", &m), -404);
    router_match_free(&m);
    ck_assert_int_eq(match("GET", "/scheduler/job", &m), -404);
    router_match_free(&m);
    ck_assert_int_eq(match("GET", "/", &m), 9);
    router_match_free(&m);
    ck_assert_int_eq(match("GET", "//", &m), 9);
    router_match_free(&m);
}
END_TEST

START_TEST(prefix_mount)
{
    struct router pr = ROUTER_INIT;
    struct router_match m;
    int tag = 42;

    ck_assert_int_eq(router_add(&pr, "GET", "/hello", "/", NULL, &tag), 0);
    ck_assert_int_eq(router_add(&pr, "GET", "/hello", "/x/:y", NULL, &tag),
                     0);
    ck_assert_int_eq(router_match(&pr, "GET", "/hello/", &m), 0);
    ck_assert_int_eq(m.status, 0);
    router_match_free(&m);
    ck_assert_int_eq(router_match(&pr, "GET", "/hello/x/z", &m), 0);
    ck_assert_str_eq(router_param(&m, "y"), "z");
    router_match_free(&m);
    ck_assert_int_eq(router_match(&pr, "GET", "/x/z", &m), 0);
    ck_assert_int_eq(m.status, 404);
    router_match_free(&m);
    router_free(&pr);
}
END_TEST

START_TEST(bad_patterns)
{
    struct router pr = ROUTER_INIT;

    ck_assert_int_eq(router_add(&pr, "GET", NULL, "nope", NULL, NULL),
                     AGORA_EINVAL);
    ck_assert_int_eq(router_add(&pr, "FETCH", NULL, "/a", NULL, NULL),
                     AGORA_EINVAL);
    ck_assert_int_eq(router_add(&pr, "GET", NULL, "/a/:", NULL, NULL),
                     AGORA_EINVAL);
    ck_assert_int_eq(router_add(&pr, "GET", NULL, "/a/*", NULL, NULL),
                     AGORA_EINVAL);
    ck_assert_uint_eq(pr.n, 0);
    router_free(&pr);
}
END_TEST

START_TEST(params_outlive_router)
{
    struct router pr = ROUTER_INIT;
    struct router_match m;
    int tag = 7;

    ck_assert_int_eq(router_add(&pr, "GET", NULL, "/a/:name", NULL, &tag), 0);
    ck_assert_int_eq(router_match(&pr, "GET", "/a/b", &m), 0);
    router_free(&pr);
    /* A reload may free the router while a deferred request holds m. */
    ck_assert_str_eq(router_param(&m, "name"), "b");
    ck_assert_ptr_eq(m.arg, &tag);
    router_match_free(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("match");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, literal_and_wildcard);
    tcase_add_test(tc, wildcard_then_literal);
    tcase_add_test(tc, precedence);
    tcase_add_test(tc, methods);
    tcase_add_test(tc, not_found);
    tcase_add_test(tc, prefix_mount);
    tcase_add_test(tc, bad_patterns);
    tcase_add_test(tc, params_outlive_router);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
