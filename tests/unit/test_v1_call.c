/*
 * test_v1_call.c - what the master's and the agent's v1 API share
 * (v1_call.h): a call's message and keys, integers as protobuf's JSON
 * mapping gives them, and the name/value lists of GET_FLAGS.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/plugin.h>

#include "v1_call.h"

static yajl_val parse(const char *text)
{
    char err[128];
    yajl_val v = agora_json_parse(text, err, sizeof(err));

    ck_assert_msg(v != NULL, "%s: %s", err, text);
    return v;
}

START_TEST(keys_and_messages)
{
    yajl_val doc = parse("{\"type\": \"READ_FILE\", \"read_file\": {\"path\":"
                         " \"x\"}, \"kill_container\": 3}");
    char key[8];

    v1_call_key("GET_STATE", key, sizeof(key));
    ck_assert_str_eq(key, "get_sta"); /* cut, never overrun */
    ck_assert_str_eq(agora_json_get_str(v1_call_message(doc, "READ_FILE"),
                                        "path"),
                     "x");
    ck_assert_ptr_null(v1_call_message(doc, "KILL_CONTAINER")); /* not {} */
    ck_assert_ptr_null(v1_call_message(doc, "LIST_FILES"));
    yajl_tree_free(doc);
}
END_TEST

START_TEST(unsigned_integers)
{
    yajl_val m = parse("{\"a\": 7, \"b\": \"18446744073709551615\", \"c\": -1,"
                       " \"d\": 1.5, \"e\": \"12x\", \"f\": null, \"g\": "
                       "\"-3\", \"h\": true, \"i\": 18446744073709551615,"
                       " \"j\": \"99999999999999999999\"}");
    uint64_t v = 42;

    ck_assert_int_eq(v1_call_u64(m, "a", &v), 0);
    ck_assert_uint_eq(v, 7);
    ck_assert_int_eq(v1_call_u64(m, "b", &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    ck_assert_int_eq(v1_call_u64(m, "i", &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    v = 42;
    ck_assert_int_eq(v1_call_u64(m, "c", &v), AGORA_EINVAL);
    ck_assert_int_eq(v1_call_u64(m, "d", &v), AGORA_EINVAL);
    ck_assert_int_eq(v1_call_u64(m, "e", &v), AGORA_EINVAL);
    ck_assert_int_eq(v1_call_u64(m, "g", &v), AGORA_EINVAL);
    ck_assert_int_eq(v1_call_u64(m, "h", &v), AGORA_EINVAL);
    ck_assert_int_eq(v1_call_u64(m, "j", &v), AGORA_EINVAL); /* overflow */
    ck_assert_int_eq(v1_call_u64(m, "f", &v), AGORA_ENOENT);
    ck_assert_int_eq(v1_call_u64(m, "zz", &v), AGORA_ENOENT);
    ck_assert_uint_eq(v, 42); /* untouched by a refusal */
    yajl_tree_free(m);
}
END_TEST

START_TEST(pairs_and_answers)
{
    struct agora_jw *w = agora_jw_new(), *f = agora_jw_new();
    const char *out;

    agora_jw_obj_open(f);
    agora_jw_kstr(f, "port", "5051");
    agora_jw_knum(f, "slave/uptime_secs", 2.5);
    agora_jw_key(f, "nested");
    agora_jw_arr_open(f);
    agora_jw_arr_close(f);
    agora_jw_obj_close(f);
    v1_reply_open(w, "GET_FLAGS");
    v1_write_pairs(w, "flags", f); /* frees f */
    agora_jw_obj_close(w);
    out = agora_jw_result(w, NULL);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out, "{\"type\":\"GET_FLAGS\",\"get_flags\":{\"flags\":"
                          "[{\"name\":\"port\",\"value\":\"5051\"},{\"name\":"
                          "\"slave/uptime_secs\",\"value\":2.5}]}}");
    agora_jw_free(w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("v1_call");
    TCase *tc = tcase_create("v1_call");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, keys_and_messages);
    tcase_add_test(tc, unsigned_integers);
    tcase_add_test(tc, pairs_and_answers);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
