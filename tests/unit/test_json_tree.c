/*
 * test_json_tree.c - a parsed value written back (core/base/json_tree.c):
 * the same JSON out, numbers as they were written, and a bounded depth.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>

#include "json_tree.h"

static char *round_trip(const char *in)
{
    char err[128];
    yajl_val v = agora_json_parse(in, err, sizeof(err));
    char *out;

    ck_assert_msg(v != NULL, "%s: %s", in, err);
    out = json_tree_text(v);
    yajl_tree_free(v);
    return out;
}

START_TEST(same_json_back)
{
    static const char *const docs[] = {
        "{}", "[]", "null", "true", "\"x\"", "1.50", "-0", "1e300",
        "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"busybox:1\","
        "\"network\":\"BRIDGE\",\"forcePullImage\":false},\"portMappings\":"
        "[{\"containerPort\":8080,\"hostPort\":31002,\"name\":\"http\"}],"
        "\"volumes\":[],\"labels\":{\"a\\\"b\":\"\\u00e9\\n\"},\"n\":null}",
        "[[[[]]],{\"a\":[{},{\"b\":[1,2,3]}]}]",
    };

    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        char *out = round_trip(docs[i]), *again;

        ck_assert_ptr_nonnull(out);
        /* Written once, the text is a fixed point. */
        again = round_trip(out);
        ck_assert_str_eq(out, again);
        free(again);
        if (strstr(docs[i], "\\u00e9") == NULL)
            ck_assert_str_eq(out, docs[i]);
        free(out);
    }
}
END_TEST

START_TEST(depth_bounded)
{
    char deep[2 * (JSON_TREE_DEPTH + 1) + 1];
    char *out;

    for (size_t d = JSON_TREE_DEPTH; d <= JSON_TREE_DEPTH + 1; d++) {
        memset(deep, '[', d);
        memset(deep + d, ']', d);
        deep[2 * d] = '\0';
        out = round_trip(deep);
        if (d == JSON_TREE_DEPTH) {
            ck_assert_ptr_nonnull(out);
            ck_assert_str_eq(out, deep);
        } else {
            ck_assert_ptr_null(out);
        }
        free(out);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_tree");
    TCase *tc = tcase_create("json_tree");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, same_json_back);
    tcase_add_test(tc, depth_bounded);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
