/*
 * test_agent_update.c - the updates POST's body read without a tree
 * (core/agent_update.c) reads what the tree's getters read, and refuses
 * what agora_json_parse() refuses.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>

#include "agent_update.h"

static struct agent_updates ups;

static void parse_ok(const char *body)
{
    char why[256] = "";

    ck_assert_msg(agent_updates_parse(body, &ups, why, sizeof(why)) == 0,
                  "refused: %s", why);
}

static void parse_refused(const char *body, const char *reason)
{
    char why[256] = "", tree_why[256] = "";
    yajl_val tree = agora_json_parse(body, tree_why, sizeof(tree_why));

    ck_assert_int_eq(agent_updates_parse(body, &ups, why, sizeof(why)), -1);
    ck_assert_msg(strstr(why, reason) != NULL, "reason %s", why);
    /* The tree refuses it too, with the same reason. */
    ck_assert_ptr_null(tree);
    ck_assert_str_eq(why, tree_why);
}

static void teardown(void) { agent_updates_free(&ups); }

START_TEST(test_full_update)
{
    parse_ok("{\"agent_id\": \"a1\", \"session\": \"s1\", \"updates\": ["
             "{\"uuid\": \"u1\", \"task_id\": \"t1\", \"framework_id\": "
             "\"marathon\", \"state\": \"TASK_RUNNING\", \"reason\": null, "
             "\"message\": \"hi \\\"there\\\"\", \"healthy\": true, "
             "\"timestamp\": 1795703456.5, \"seq\": 3, \"pid\": 1234, "
             "\"exit_status\": null, \"container_status\": "
             "{\"network_infos\": [{\"ip_addresses\": [{\"ip_address\": "
             "\"10.0.0.5\"}, {\"ip_address\": \"not an ip\"}, "
             "{\"ip_address\": \"::1\"}]}], \"executor_pid\": 1230}, "
             "\"health_output\": \"HTTP/1.1 200 OK\"}], \"pong\": true}");
    ck_assert_str_eq(ups.agent_id, "a1");
    ck_assert_str_eq(ups.session, "s1");
    ck_assert_uint_eq(ups.n, 1);
    ck_assert_str_eq(ups.v[0].uuid, "u1");
    ck_assert_str_eq(ups.v[0].task_id, "t1");
    ck_assert_str_eq(ups.v[0].framework_id, "marathon");
    ck_assert_str_eq(ups.v[0].state, "TASK_RUNNING");
    ck_assert_ptr_null(ups.v[0].reason);
    ck_assert_str_eq(ups.v[0].message, "hi \"there\"");
    ck_assert_int_eq(ups.v[0].healthy, 1);
    ck_assert_int_eq(ups.v[0].has_timestamp, 1);
    ck_assert(ups.v[0].timestamp == 1795703456.5);
    ck_assert_int_eq(ups.v[0].seq, 3);
    ck_assert_int_eq(ups.v[0].executor_pid, 1230);
    ck_assert_uint_eq(ups.v[0].n_ips, 2);
    ck_assert_str_eq(ups.v[0].ips[0], "10.0.0.5");
    ck_assert_str_eq(ups.v[0].ips[1], "::1");
    ck_assert_str_eq(ups.v[0].health_output, "HTTP/1.1 200 OK");
}
END_TEST

/* As the getters read the tree: the first of a key given twice, null or
 * another type is missing, a string cut at an escaped NUL, integral
 * doubles taken as integers. */
START_TEST(test_getters_rules)
{
    parse_ok("{\"updates\": [{\"task_id\": 5, \"task_id\": \"late\", "
             "\"uuid\": \"a\\u0000b\", \"seq\": 4.0, \"seq\": 9, "
             "\"healthy\": \"yes\", \"timestamp\": \"1\", "
             "\"state\\u0000x\": \"TASK_FAILED\", \"container_status\": "
             "{\"executor_pid\": 1.5}}, 7, null, [1, {\"uuid\": \"x\"}], "
             "{\"seq\": 1e400, \"timestamp\": 5e-324, \"container_status\": "
             "[{\"executor_pid\": 3}]}],"
             " \"agent_id\": [\"a\"], \"agent_id\": \"second\"}");
    ck_assert_ptr_null(ups.agent_id);
    ck_assert_ptr_null(ups.session);
    ck_assert_uint_eq(ups.n, 5);
    ck_assert_ptr_null(ups.v[0].task_id);
    ck_assert_str_eq(ups.v[0].uuid, "a");
    ck_assert_int_eq(ups.v[0].seq, 4);
    ck_assert_int_eq(ups.v[0].healthy, -1);
    ck_assert_int_eq(ups.v[0].has_timestamp, 0);
    ck_assert_str_eq(ups.v[0].state, "TASK_FAILED");
    ck_assert_int_eq(ups.v[0].executor_pid, 0);
    /* Elements that are not objects: records with nothing. */
    ck_assert_ptr_null(ups.v[1].uuid);
    ck_assert_ptr_null(ups.v[2].uuid);
    ck_assert_ptr_null(ups.v[3].uuid);
    ck_assert_int_eq(ups.v[4].seq, 0);
    ck_assert_int_eq(ups.v[4].has_timestamp, 1);
    ck_assert(ups.v[4].timestamp > 0);
    ck_assert_int_eq(ups.v[4].executor_pid, 0);
}
END_TEST

START_TEST(test_no_updates)
{
    parse_ok("{\"agent_id\": \"a\", \"updates\": {\"uuid\": \"x\"}}");
    ck_assert_uint_eq(ups.n, 0);
    agent_updates_free(&ups);
    parse_ok("/* comments, as the tree allows */ [\"agent_id\", 1]");
    ck_assert_uint_eq(ups.n, 0);
    ck_assert_ptr_null(ups.agent_id);
}
END_TEST

/* Many records (the array grows), and a number longer than the stack's
 * copy of it: 7 and 70 zeros, times 1e-70, an integral 7.0. */
START_TEST(test_many_and_long)
{
    size_t n = 5000, i, len;
    char *body = malloc(n * 120 + 200), num[80];

    ck_assert_ptr_nonnull(body);
    num[0] = '7';
    memset(num + 1, '0', 70);
    strcpy(num + 71, ".0e-70");
    len = (size_t)sprintf(body, "{\"updates\": [");
    for (i = 0; i < n; i++)
        len += (size_t)sprintf(body + len, "%s{\"task_id\": \"t%zu\", "
                               "\"seq\": %s}", i ? "," : "", i, num);
    strcpy(body + len, "]}");
    parse_ok(body);
    ck_assert_uint_eq(ups.n, n);
    ck_assert_str_eq(ups.v[n - 1].task_id, "t4999");
    ck_assert_int_eq(ups.v[n - 1].seq, 7);
    free(body);
}
END_TEST

START_TEST(test_refusals)
{
    char why[64];
    char *deep;
    size_t i;

    ck_assert_int_eq(agent_updates_parse(NULL, &ups, why, sizeof(why)), -1);
    ck_assert_str_eq(why, "no text");
    parse_refused("{\"updates\": [", "premature EOF");
    parse_refused("{\"updates\": []} x", "trailing garbage");
    parse_refused("{\"updates\": [{\"task_id\": \"\\ud800\"}]}",
                  "a lone UTF-16 surrogate (\\ud800) in a string");
    parse_refused("{\"updates\": [{\"task_id\": \"x\\ud800\\u0041\"}]}",
                  "a lone UTF-16 surrogate (\\ud800) in a string");
    parse_refused("{\"\\\\\\\"\\udc00\": 1}",
                  "a lone UTF-16 surrogate (\\udc00) in a string");
    /* A pair is a character. */
    parse_ok("{\"agent_id\": \"\\\\\\ud83d\\ude00\"}");
    ck_assert_str_eq(ups.agent_id, "\\\xF0\x9F\x98\x80");
    agent_updates_free(&ups);
    deep = malloc(2 * 600 + 1);
    ck_assert_ptr_nonnull(deep);
    for (i = 0; i < 600; i++) {
        deep[i] = '[';
        deep[600 + i] = ']';
    }
    deep[1200] = '\0';
    parse_refused(deep, "nested deeper than 512 levels");
    free(deep);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("agent_update");
    TCase *tc = tcase_create("parse");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_full_update);
    tcase_add_test(tc, test_getters_rules);
    tcase_add_test(tc, test_no_updates);
    tcase_add_test(tc, test_many_and_long);
    tcase_add_test(tc, test_refusals);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : 0;
}
