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
#include "json_scan.h"

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

/* ---- json_scan() reads what yajl reads ---- */

static int str_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int update_same(const struct agent_update *a,
                       const struct agent_update *b)
{
    size_t i;

    if (!str_same(a->uuid, b->uuid) || !str_same(a->task_id, b->task_id) ||
        !str_same(a->framework_id, b->framework_id) ||
        !str_same(a->state, b->state) || !str_same(a->reason, b->reason) ||
        !str_same(a->message, b->message) ||
        !str_same(a->health_output, b->health_output) || a->seq != b->seq ||
        a->has_timestamp != b->has_timestamp ||
        (a->has_timestamp && a->timestamp != b->timestamp) ||
        a->healthy != b->healthy || a->executor_pid != b->executor_pid ||
        a->n_ips != b->n_ips)
        return 0;
    for (i = 0; i < a->n_ips; i++)
        if (!str_same(a->ips[i], b->ips[i]))
            return 0;
    return 1;
}

/* body read with the scan first and by yajl alone: the same outcome,
 * the same reason when refused, the same records when read. */
static void both_ways(const char *body)
{
    struct agent_updates a, b;
    char wa[256] = "", wb[256] = "";
    int ra = agent_updates_parse_with(body, &a, 1, wa, sizeof(wa));
    int rb = agent_updates_parse_with(body, &b, 0, wb, sizeof(wb));
    size_t i;

    ck_assert_msg(ra == rb, "%s: scan %d (%s), yajl %d (%s)", body, ra, wa,
                  rb, wb);
    if (ra < 0) {
        ck_assert_str_eq(wa, wb);
        return;
    }
    ck_assert(str_same(a.agent_id, b.agent_id));
    ck_assert(str_same(a.session, b.session));
    ck_assert_uint_eq(a.n, b.n);
    for (i = 0; i < a.n; i++)
        ck_assert_msg(update_same(&a.v[i], &b.v[i]), "%s: update %zu", body,
                      i);
    agent_updates_free(&a);
    agent_updates_free(&b);
}

/* Every callback as a line of text, to compare json_scan() with yajl. */
static char ev_log[8192];
static size_t ev_len;

static int ev_add(const char *kind, const void *s, size_t len)
{
    ev_len += (size_t)snprintf(ev_log + ev_len, sizeof(ev_log) - ev_len,
                               "%s%.*s\n", kind, (int)len, (const char *)s);
    ck_assert_uint_lt(ev_len, sizeof(ev_log) - 1);
    return 1;
}

static int ev_null(void *c) { (void)c; return ev_add("null", "", 0); }
static int ev_bool(void *c, int b) { (void)c; return ev_add(b ? "true" : "false", "", 0); }
static int ev_num(void *c, const char *s, size_t n) { (void)c; return ev_add("n:", s, n); }
static int ev_str(void *c, const unsigned char *s, size_t n) { (void)c; return ev_add("s:", s, n); }
static int ev_key(void *c, const unsigned char *s, size_t n) { (void)c; return ev_add("k:", s, n); }
static int ev_om(void *c) { (void)c; return ev_add("{", "", 0); }
static int ev_cm(void *c) { (void)c; return ev_add("}", "", 0); }
static int ev_oa(void *c) { (void)c; return ev_add("[", "", 0); }
static int ev_ca(void *c) { (void)c; return ev_add("]", "", 0); }

static const yajl_callbacks ev_cbs = {
    .yajl_null = ev_null, .yajl_boolean = ev_bool, .yajl_number = ev_num,
    .yajl_string = ev_str, .yajl_start_map = ev_om, .yajl_map_key = ev_key,
    .yajl_end_map = ev_cm, .yajl_start_array = ev_oa, .yajl_end_array = ev_ca,
};

/* json_scan() of body: JSON_SCAN_OK with want_ok, and then the same
 * callbacks as yajl's, which must take body too. */
static void scan_events(const char *body, int want_ok)
{
    char scanned[sizeof(ev_log)];
    yajl_handle h;
    int rc;

    ev_len = 0;
    ev_log[0] = '\0';
    rc = json_scan(body, strlen(body), &ev_cbs, NULL);
    ck_assert_msg((rc == JSON_SCAN_OK) == want_ok, "%s: %d", body, rc);
    if (rc != JSON_SCAN_OK)
        return;
    memcpy(scanned, ev_log, ev_len + 1);
    ev_len = 0;
    ev_log[0] = '\0';
    h = yajl_alloc(&ev_cbs, NULL, NULL);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(yajl_parse(h, (const unsigned char *)body, strlen(body)),
                     yajl_status_ok);
    ck_assert_int_eq(yajl_complete_parse(h), yajl_status_ok);
    yajl_free(h);
    ck_assert_str_eq(scanned, ev_log);
}

START_TEST(test_scan_events)
{
    scan_events("{\"a\": [1, -0.5e+3, true, false, null, \"s t\", {}, []],"
                " \"b\": {\"c\": {\"d\": \"\"}}, \"\": 0}", 1);
    scan_events("\r\n{\"agent_id\":\"a-1\",\"updates\":[{\"seq\":3}]}\t", 1);
    /* Left to yajl: an escape, UTF-8, a comment, an error, not an object. */
    scan_events("{\"a\": \"x\\ny\"}", 0);
    scan_events("{\"a\": \"caf\xc3\xa9\"}", 0);
    scan_events("{\"a\": 1 /* c */}", 0);
    scan_events("{\"a\": 1,}", 0);
    scan_events("[1]", 0);
    scan_events("{\"a\": 1} {}", 0);
}
END_TEST

START_TEST(test_scan_reads_as_yajl)
{
    static const char *bodies[] = {
        "{}", " {} ", "{ } x", "{}}", "{\"a\":1,}", "{\"a\":[1,]}",
        "{\"a\" : [ ] , \"b\":{ }}", "\t{\"a\"\r\n:\n1}\n",
        "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":-0}",
        "{\"a\":1e}", "{\"a\":1E+5}", "{\"a\":1e-5x}", "{\"a\":truex}",
        "{\"a\":tru}", "{\"a\":nul}", "{\"a\":1/* c */}", "{\"a\":1}//",
        "{\"a\"}", "{\"a\" 1}", "{1:2}", "[{\"agent_id\":\"x\"}]",
        "{\"agent_id\":\"caf\xc3\xa9\"}", "{\"agent_id\":\"\xff\"}",
        "{\"agent_id\":\"a\\\"b\"}", "{\"agent_id\":\"a\x01\"}",
        "{\"agent_id\":\"a\vb\"}", "{\"agent_id\":\"x\"\v}",
        "{\"agent_id\":\"x\",\"session\":\"s\",\"updates\":[{\"uuid\":"
        "\"u\",\"task_id\":\"t\",\"framework_id\":\"f\",\"state\":"
        "\"TASK_RUNNING\",\"reason\":null,\"message\":\"m\",\"healthy\":"
        "false,\"timestamp\":1.5e9,\"seq\":-3,\"container_status\":{"
        "\"network_infos\":[{\"ip_addresses\":[{\"ip_address\":\"1.2.3.4\"},"
        "{\"ip_address\":\"fe80::1\"}]},{\"ip_addresses\":[]}],"
        "\"executor_pid\":99},\"health_output\":\"ok\"},true,[[]],{}]}",
        "{\"updates\":[{\"seq\":9223372036854775807,\"timestamp\":1e999},"
        "{\"seq\":-9223372036854775808},{\"seq\":9223372036854775808},"
        "{\"seq\":1e2},{\"seq\":1.5},{\"timestamp\":-0.0}]}",
    };
    char deep[1200];
    size_t i, d;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        both_ways(bodies[i]);
    /* Nesting around the limit: 511 and 512 levels read, 513 refused. */
    for (d = 511; d <= 513; d++) {
        deep[0] = '{';
        memcpy(deep + 1, "\"a\":", 4);
        memset(deep + 5, '[', d - 1);
        memset(deep + 5 + d - 1, ']', d - 1);
        strcpy(deep + 5 + 2 * (d - 1), "}");
        both_ways(deep);
    }
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
    tcase_add_test(tc, test_scan_reads_as_yajl);
    tcase_add_test(tc, test_scan_events);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : 0;
}
