/*
 * test_chr_history.c - chronos.so's run history (chr_history.h): the
 * bound, the store form's round trip, a stored history longer than the
 * limit, invalid store values, durations, and Chronos' TaskStat formats.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/plugin.h>

#include "chr_history.h"

static struct chr_hist_ent ent(int i, enum chr_hist_status st)
{
    static char ids[64][64];
    struct chr_hist_ent e = {0};

    snprintf(ids[i % 64], sizeof(ids[0]), "ct:%d:0:j:", 1000 * i);
    e.task_id = ids[i % 64];
    e.agent_id = "a1";
    e.due = 1000 * i;
    e.start = st == CHR_HIST_SKIPPED ? 0 : 1000 * i + 10;
    e.end = 1000 * i + 10 + i;
    e.status = st;
    return e;
}

static char *store_form(const struct chr_hist *h)
{
    struct agora_jw *w = agora_jw_new();
    char *s;

    chr_hist_write(w, h);
    s = strdup(agora_jw_result(w, NULL));
    agora_jw_free(w);
    return s;
}

START_TEST(test_bounded)
{
    struct chr_hist h = {0};
    struct chr_hist_ent e;
    int i;

    for (i = 1; i <= 1000; i++) {
        e = ent(i, CHR_HIST_SUCCESS);
        ck_assert_int_eq(chr_hist_add(&h, 5, &e), 0);
        ck_assert_uint_le(h.n, 5);
        ck_assert_uint_le(h.cap, 5);
    }
    ck_assert_uint_eq(h.n, 5);
    ck_assert_int_eq(h.v[0].due, 996000); /* the oldest kept */
    ck_assert_int_eq(h.v[4].due, 1000000);
    /* A smaller limit drops the oldest at once. */
    e = ent(1001, CHR_HIST_FAILURE);
    ck_assert_int_eq(chr_hist_add(&h, 2, &e), 0);
    ck_assert_uint_eq(h.n, 2);
    ck_assert_int_eq(h.v[0].due, 1000000);
    ck_assert_int_eq(h.v[1].status, CHR_HIST_FAILURE);
    chr_hist_clear(&h);
    ck_assert_uint_eq(h.n, 0);
    ck_assert_ptr_null(h.v);
}
END_TEST

START_TEST(test_round_trip)
{
    struct chr_hist h = {0}, back = {0};
    struct chr_hist_ent e;
    char *a, *b;
    int i;

    for (i = 1; i <= 4; i++) {
        e = ent(i, (enum chr_hist_status)(i - 1));
        e.attempt = i;
        ck_assert_int_eq(chr_hist_add(&h, 10, &e), 0);
    }
    a = store_form(&h);
    ck_assert_ptr_nonnull(strstr(a, "\"status\":\"skipped\""));
    ck_assert_ptr_nonnull(strstr(a, "\"duration\":3,"));
    ck_assert_int_eq(chr_hist_parse(a, 10, &back), 0);
    ck_assert_uint_eq(back.n, 4);
    b = store_form(&back);
    ck_assert_str_eq(a, b);
    /* Longer than the limit: the last ones are kept. */
    ck_assert_int_eq(chr_hist_parse(a, 2, &back), 0);
    ck_assert_uint_eq(back.n, 2);
    ck_assert_int_eq(back.v[0].due, 3000);
    ck_assert_int_eq(back.v[1].status, CHR_HIST_SKIPPED);
    free(a);
    free(b);
    chr_hist_clear(&h);
    chr_hist_clear(&back);
}
END_TEST

START_TEST(test_invalid)
{
    struct chr_hist h = {0};
    struct chr_hist_ent e = ent(1, CHR_HIST_SUCCESS);

    ck_assert_int_eq(chr_hist_add(&h, 3, &e), 0);
    ck_assert_int_eq(chr_hist_parse("{}", 3, &h), AGORA_EINVAL);
    ck_assert_uint_eq(h.n, 0);
    ck_assert_int_eq(chr_hist_parse("[", 3, &h), AGORA_EINVAL);
    /* Not objects: left out; wrong types read as 0 or "". */
    ck_assert_int_eq(chr_hist_parse("[1,\"x\",null,{\"taskId\":5,"
                                    "\"due\":\"x\",\"status\":\"wat\"}]",
                                    3, &h), 0);
    ck_assert_uint_eq(h.n, 1);
    ck_assert_str_eq(h.v[0].task_id, "");
    ck_assert_int_eq(h.v[0].due, 0);
    ck_assert_int_eq(h.v[0].status, CHR_HIST_FAILURE);
    chr_hist_clear(&h);
}
END_TEST

START_TEST(test_durations)
{
    struct chr_hist h = {0};
    struct chr_hist_ent e;
    int64_t *v;
    size_t n;

    v = chr_hist_durations(&h, &n);
    ck_assert_ptr_null(v);
    ck_assert_uint_eq(n, 0);
    e = ent(1, CHR_HIST_SUCCESS);
    chr_hist_add(&h, 10, &e);
    e = ent(2, CHR_HIST_FAILURE);
    chr_hist_add(&h, 10, &e);
    e = ent(3, CHR_HIST_SKIPPED);
    chr_hist_add(&h, 10, &e);
    e = ent(4, CHR_HIST_SUCCESS);
    chr_hist_add(&h, 10, &e);
    v = chr_hist_durations(&h, &n);
    ck_assert_uint_eq(n, 2); /* successes only, as Chronos' histogram */
    ck_assert_int_eq(v[0], 1);
    ck_assert_int_eq(v[1], 4);
    free(v);
    chr_hist_clear(&h);
}
END_TEST

START_TEST(test_formats)
{
    char b[32];
    struct chr_hist h = {0};
    struct chr_hist_ent e = ent(1, CHR_HIST_SUCCESS);
    struct agora_jw *w;
    const char *s;

    ck_assert_str_eq(chr_hist_fmt_time(0, b, sizeof(b)), "N/A");
    /* 2014-03-08T16:57:17.507Z */
    ck_assert_str_eq(chr_hist_fmt_time(1394297837507LL, b, sizeof(b)),
                     "03/08/14 16:57:17");
    ck_assert_str_eq(chr_hist_fmt_duration(0, b, sizeof(b)), "0s");
    ck_assert_str_eq(chr_hist_fmt_duration(999, b, sizeof(b)), "0s");
    ck_assert_str_eq(chr_hist_fmt_duration(90000, b, sizeof(b)), "1m30s");
    ck_assert_str_eq(chr_hist_fmt_duration(3600000, b, sizeof(b)), "1h0s");
    ck_assert_str_eq(chr_hist_fmt_duration(3723000, b, sizeof(b)), "1h2m3s");
    ck_assert_str_eq(chr_hist_fmt_duration(90000000, b, sizeof(b)),
                     "25h0s");
    chr_hist_add(&h, 5, &e);
    e = ent(2, CHR_HIST_SKIPPED);
    chr_hist_add(&h, 5, &e);
    e = ent(3, CHR_HIST_KILLED);
    chr_hist_add(&h, 5, &e);
    w = agora_jw_new();
    agora_jw_arr_open(w);
    chr_hist_write_stat(w, &h, "j");
    agora_jw_arr_close(w);
    s = agora_jw_result(w, NULL);
    /* Newest first, the skipped instant left out. */
    ck_assert_str_eq(s,
        "[{\"taskId\":\"ct:3000:0:j:\",\"jobName\":\"j\",\"slaveId\":\"a1\","
        "\"startTime\":\"01/01/70 00:00:03\",\"endTime\":"
        "\"01/01/70 00:00:03\",\"duration\":\"0s\",\"status\":\"Fail\"},"
        "{\"taskId\":\"ct:1000:0:j:\",\"jobName\":\"j\",\"slaveId\":\"a1\","
        "\"startTime\":\"01/01/70 00:00:01\",\"endTime\":"
        "\"01/01/70 00:00:01\",\"duration\":\"0s\",\"status\":\"Success\"}]");
    agora_jw_free(w);
    chr_hist_clear(&h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("chr_history");
    TCase *tc = tcase_create("history");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_bounded);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_invalid);
    tcase_add_test(tc, test_durations);
    tcase_add_test(tc, test_formats);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
