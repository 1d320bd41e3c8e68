/*
 * test_json.c - agora/json.h (writer, readers, quote) and the helpers of
 * agora/sdk.h that sit on top of it.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/map.h>
#include <agora/sdk.h>

/* Checks that w's document is exactly `want`, then frees w. */
static void expect_doc(struct agora_jw *w, const char *want)
{
    size_t len = 99;
    const char *got = agora_jw_result(w, &len);

    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    ck_assert_uint_eq(len, strlen(want));
    agora_jw_free(w);
}

/* Checks that w failed: no document, length 0. Frees w. */
static void expect_failed(struct agora_jw *w)
{
    size_t len = 99;

    ck_assert_ptr_null(agora_jw_result(w, &len));
    ck_assert_uint_eq(len, 0);
    agora_jw_free(w);
}

/* The document of one number. */
static void expect_num(double v, const char *want)
{
    struct agora_jw *w = agora_jw_new();

    ck_assert_ptr_nonnull(w);
    agora_jw_num(w, v);
    expect_doc(w, want);
}

/* ---- writer ---- */

START_TEST(test_jw_object)
{
    struct agora_jw *w = agora_jw_new();

    ck_assert_ptr_nonnull(w);
    agora_jw_obj_open(w);
    agora_jw_kstr(w, "id", "/app");
    agora_jw_kint(w, "instances", 3);
    agora_jw_knum(w, "cpus", 0.5);
    agora_jw_kbool(w, "ok", 1);
    agora_jw_key(w, "list");
    agora_jw_arr_open(w);
    agora_jw_bool(w, 0);
    agora_jw_null(w);
    agora_jw_str(w, NULL);
    agora_jw_obj_open(w);
    agora_jw_obj_close(w);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    expect_doc(w, "{\"id\":\"/app\",\"instances\":3,\"cpus\":0.5,\"ok\":true,"
                  "\"list\":[false,null,null,{}]}");
}
END_TEST

START_TEST(test_jw_empty_and_partial)
{
    struct agora_jw *w = agora_jw_new();

    expect_doc(w, "");
    w = agora_jw_new();
    agora_jw_arr_open(w);
    agora_jw_int(w, 1);
    /* The document so far, containers still open. */
    ck_assert_str_eq(agora_jw_result(w, NULL), "[1");
    agora_jw_int(w, 2);
    agora_jw_arr_close(w);
    expect_doc(w, "[1,2]");
}
END_TEST

START_TEST(test_jw_numbers)
{
    expect_num(2.0, "2");
    expect_num(-3.0, "-3");
    expect_num(0.0, "0");
    expect_num(0.1, "0.1");
    expect_num(2.5, "2.5");
    expect_num(1.0 / 3.0, "0.3333333333333333");
    expect_num(123456789012.0, "123456789012");
    expect_num(9007199254740992.0, "9007199254740992");
    expect_num(1e20, "1e+20");
    expect_num(1.5e-7, "1.5e-07");
    expect_num(NAN, "null");
    expect_num(INFINITY, "null");
    expect_num(-INFINITY, "null");
}
END_TEST

/* Every double written reads back as itself. */
START_TEST(test_jw_number_roundtrip)
{
    static const double vals[] = {0.1,
                                  0.2,
                                  0.3,
                                  1.0 / 3,
                                  2.0 / 3,
                                  1e-300,
                                  1.7976931348623157e308,
                                  5e-324,
                                  123.456,
                                  0.1 + 0.2};
    char err[128];
    size_t i;

    for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        struct agora_jw *w = agora_jw_new();
        yajl_val v;
        double d = 0;

        agora_jw_obj_open(w);
        agora_jw_knum(w, "v", vals[i]);
        agora_jw_obj_close(w);
        v = agora_json_parse(agora_jw_result(w, NULL), err, sizeof(err));
        ck_assert_ptr_nonnull(v);
        ck_assert_int_eq(agora_json_num(v, "v", &d), 0);
        ck_assert_msg(d == vals[i], "%.17g read back as %.17g", vals[i], d);
        yajl_tree_free(v);
        agora_jw_free(w);
    }
}
END_TEST

START_TEST(test_jw_integers)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_arr_open(w);
    agora_jw_int(w, INT64_MIN);
    agora_jw_int(w, INT64_MAX);
    agora_jw_int(w, 0);
    agora_jw_arr_close(w);
    expect_doc(w, "[-9223372036854775808,9223372036854775807,0]");
}
END_TEST

START_TEST(test_jw_strings)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_arr_open(w);
    agora_jw_str(w, "a\"b\\c\nd\te\x01/");
    agora_jw_str(w, "caf\xc3\xa9");
    agora_jw_strn(w, "x\0y", 3);
    agora_jw_strn(w, "abcdef", 2);
    agora_jw_str(w, "");
    agora_jw_arr_close(w);
    expect_doc(w, "[\"a\\\"b\\\\c\\nd\\te\\u0001/\",\"caf\xc3\xa9\","
                  "\"x\\u0000y\",\"ab\",\"\"]");
}
END_TEST

START_TEST(test_jw_raw)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_obj_open(w);
    agora_jw_key(w, "a");
    agora_jw_raw(w, "{\"x\":[1,2]}", 11);
    agora_jw_key(w, "b");
    agora_jw_arr_open(w);
    agora_jw_raw(w, "true", 4);
    agora_jw_raw(w, "\"s\"", 3);
    agora_jw_arr_close(w);
    agora_jw_obj_close(w);
    expect_doc(w, "{\"a\":{\"x\":[1,2]},\"b\":[true,\"s\"]}");
}
END_TEST

START_TEST(test_jw_members)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_obj_open(w);
    agora_jw_members(w, "\"a\":1,\"b\":[2]", 13);
    agora_jw_kint(w, "c", 3);
    agora_jw_members(w, "\"d\":{}", 6);
    agora_jw_obj_close(w);
    expect_doc(w, "{\"a\":1,\"b\":[2],\"c\":3,\"d\":{}}");

    /* Only where a key may come, and never empty. */
    w = agora_jw_new();
    agora_jw_arr_open(w);
    agora_jw_members(w, "\"a\":1", 5);
    expect_failed(w);
    w = agora_jw_new();
    agora_jw_obj_open(w);
    agora_jw_key(w, "k");
    agora_jw_members(w, "\"a\":1", 5);
    expect_failed(w);
    w = agora_jw_new();
    agora_jw_obj_open(w);
    agora_jw_members(w, "", 0);
    expect_failed(w);
}
END_TEST

/* Growth of the buffer and of the container stack. */
START_TEST(test_jw_large)
{
    struct agora_jw *w = agora_jw_new();
    const char *doc;
    size_t len, i;

    agora_jw_arr_open(w);
    for (i = 0; i < 100000; i++)
        agora_jw_str(w, "0123456789");
    agora_jw_arr_close(w);
    doc = agora_jw_result(w, &len);
    ck_assert_ptr_nonnull(doc);
    /* 100000 strings of 12 bytes, 99999 commas, 2 brackets. */
    ck_assert_uint_eq(len, 100000 * 13 + 1);
    ck_assert_uint_eq(strlen(doc), len);
    agora_jw_free(w);

    w = agora_jw_new();
    for (i = 0; i < 100; i++)
        agora_jw_arr_open(w);
    for (i = 0; i < 100; i++)
        agora_jw_arr_close(w);
    doc = agora_jw_result(w, &len);
    ck_assert_ptr_nonnull(doc);
    ck_assert_uint_eq(len, 200);
    agora_jw_free(w);
}
END_TEST

/* Deeper than AGORA_JW_MAX_DEPTH: a failure, not a crash. */
START_TEST(test_jw_too_deep)
{
    struct agora_jw *w = agora_jw_new();
    int i;

    for (i = 0; i < 1000; i++)
        agora_jw_arr_open(w);
    expect_failed(w);
}
END_TEST

START_TEST(test_jw_key_outside_object)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_key(w, "a");
    expect_failed(w);

    w = agora_jw_new();
    agora_jw_arr_open(w);
    agora_jw_key(w, "a");
    agora_jw_arr_close(w);
    expect_failed(w);

    w = agora_jw_new();
    agora_jw_kint(w, "a", 1);
    expect_failed(w);
}
END_TEST

START_TEST(test_jw_value_without_key)
{
    static const int kinds = 6;
    int k;

    for (k = 0; k < kinds; k++) {
        struct agora_jw *w = agora_jw_new();

        agora_jw_obj_open(w);
        switch (k) {
        case 0:
            agora_jw_str(w, "v");
            break;
        case 1:
            agora_jw_int(w, 1);
            break;
        case 2:
            agora_jw_num(w, 1.5);
            break;
        case 3:
            agora_jw_null(w);
            break;
        case 4:
            agora_jw_arr_open(w);
            break;
        default:
            agora_jw_raw(w, "1", 1);
            break;
        }
        agora_jw_obj_close(w);
        expect_failed(w);
    }
}
END_TEST

START_TEST(test_jw_unbalanced)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_obj_close(w);
    expect_failed(w);

    w = agora_jw_new();
    agora_jw_obj_open(w);
    agora_jw_arr_close(w);
    expect_failed(w);

    w = agora_jw_new();
    agora_jw_arr_open(w);
    agora_jw_obj_close(w);
    expect_failed(w);

    /* A key whose value never came. */
    w = agora_jw_new();
    agora_jw_obj_open(w);
    agora_jw_key(w, "a");
    agora_jw_obj_close(w);
    expect_failed(w);

    /* Two keys in a row. */
    w = agora_jw_new();
    agora_jw_obj_open(w);
    agora_jw_key(w, "a");
    agora_jw_key(w, "b");
    expect_failed(w);
}
END_TEST

START_TEST(test_jw_second_document)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_int(w, 1);
    agora_jw_int(w, 2);
    expect_failed(w);
}
END_TEST

/* Once failed, a writer stays failed whatever comes next. */
START_TEST(test_jw_latch)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_obj_open(w);
    agora_jw_str(w, "no key");
    agora_jw_key(w, "a");
    agora_jw_int(w, 1);
    agora_jw_obj_close(w);
    expect_failed(w);
}
END_TEST

START_TEST(test_jw_bad_arguments)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_obj_open(w);
    agora_jw_key(w, NULL);
    expect_failed(w);

    w = agora_jw_new();
    agora_jw_raw(w, NULL, 0);
    expect_failed(w);

    /* A NULL writer is ignored everywhere. */
    agora_jw_obj_open(NULL);
    agora_jw_key(NULL, "a");
    agora_jw_str(NULL, "s");
    agora_jw_num(NULL, 1);
    agora_jw_arr_close(NULL);
    ck_assert_ptr_null(agora_jw_result(NULL, NULL));
    agora_jw_free(NULL);
}
END_TEST

/* The quoted form of s[0..len) by agora_json_quote(), which shares no
 * code with the writer: the oracle for the writer's strings. The text
 * must hold no NUL, as agora_json_quote() stops there. */
static char *quote_oracle(const char *s)
{
    size_t n = agora_json_quote(s, NULL, 0);
    char *out = malloc(n + 1);

    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(agora_json_quote(s, out, n + 1), n);
    return out;
}

/* One string as a whole document must be exactly what the oracle says. */
static void expect_str_doc(const char *s)
{
    struct agora_jw *w = agora_jw_new();
    char *want = quote_oracle(s);

    agora_jw_str(w, s);
    expect_doc(w, want);
    free(want);
}

/* As deep as allowed, objects and arrays taking turns, then one more. */
START_TEST(test_jw_deep)
{
    static const char head[] = "{\"n\":0,\"in\":[1,{\"n\":2,\"in\":[3,";
    static const char tail[] = "\"after\"],\"b\":true},\"after\"],\"b\":true}";
    struct agora_jw *w = agora_jw_new();
    const char *doc;
    char err[128];
    size_t len, i;
    yajl_val v;

    for (i = 0; i < AGORA_JW_MAX_DEPTH; i++) {
        if (i % 2 == 0) {
            agora_jw_obj_open(w);
            agora_jw_kint(w, "n", (int64_t)i);
            agora_jw_key(w, "in");
        } else {
            agora_jw_arr_open(w);
            agora_jw_int(w, (int64_t)i);
        }
    }
    /* Closing each one must leave its parent wanting a comma. */
    for (i = AGORA_JW_MAX_DEPTH; i-- > 0;) {
        if (i % 2 == 0) {
            agora_jw_obj_close(w);
            if (i > 0)
                agora_jw_str(w, "after");
        } else {
            agora_jw_arr_close(w);
            agora_jw_kbool(w, "b", 1);
        }
    }
    doc = agora_jw_result(w, &len);
    ck_assert_ptr_nonnull(doc);
    ck_assert_uint_eq(strlen(doc), len);
    ck_assert(strncmp(doc, head, strlen(head)) == 0);
    ck_assert(len > strlen(tail));
    ck_assert_str_eq(doc + len - strlen(tail), tail);
    v = agora_json_parse(doc, err, sizeof(err));
    ck_assert_msg(v != NULL, "parse: %s", err);
    yajl_tree_free(v);
    agora_jw_free(w);

    /* Exactly the limit, then one past it. */
    w = agora_jw_new();
    for (i = 0; i < AGORA_JW_MAX_DEPTH; i++)
        agora_jw_arr_open(w);
    ck_assert_ptr_nonnull(agora_jw_result(w, NULL));
    agora_jw_arr_open(w);
    expect_failed(w);
}
END_TEST

/* Separators around containers that have just closed. */
START_TEST(test_jw_separators)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_arr_open(w);
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_arr_open(w);
    agora_jw_int(w, 1);
    agora_jw_arr_close(w);
    agora_jw_obj_open(w);
    agora_jw_obj_close(w);
    agora_jw_obj_open(w);
    agora_jw_key(w, "a");
    agora_jw_obj_open(w);
    agora_jw_obj_close(w);
    agora_jw_key(w, "b");
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_kstr(w, "k\"\n", "v");
    agora_jw_obj_close(w);
    agora_jw_null(w);
    agora_jw_arr_close(w);
    expect_doc(w, "[[],[1],{},{\"a\":{},\"b\":[],\"k\\\"\\n\":\"v\"},null]");

    /* A lone value is a whole document. */
    w = agora_jw_new();
    agora_jw_str(w, "s");
    expect_doc(w, "\"s\"");
    w = agora_jw_new();
    agora_jw_num(w, 2.5);
    expect_doc(w, "2.5");

    /* Nothing may follow a closed top-level container. */
    w = agora_jw_new();
    agora_jw_arr_open(w);
    agora_jw_arr_close(w);
    agora_jw_obj_open(w);
    expect_failed(w);
    w = agora_jw_new();
    agora_jw_obj_open(w);
    agora_jw_obj_close(w);
    agora_jw_arr_close(w);
    expect_failed(w);
}
END_TEST

/* Each control character on its own, and the bytes that need none. */
START_TEST(test_jw_control_chars)
{
    static const char *const want[32] = {
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005",
        "\\u0006", "\\u0007", "\\b",     "\\t",     "\\n",     "\\u000B",
        "\\f",     "\\r",     "\\u000E", "\\u000F", "\\u0010", "\\u0011",
        "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
        "\\u0018", "\\u0019", "\\u001A", "\\u001B", "\\u001C", "\\u001D",
        "\\u001E", "\\u001F"};
    char in[4], doc[16];
    int c;

    for (c = 0; c < 32; c++) {
        struct agora_jw *w = agora_jw_new();

        /* In the middle of a run, where the word-at-a-time scan looks. */
        in[0] = 'a';
        in[1] = (char)c;
        in[2] = 'b';
        agora_jw_strn(w, in, 3);
        snprintf(doc, sizeof(doc), "\"a%sb\"", want[c]);
        expect_doc(w, doc);
    }
    /* DEL and everything from 0x80 up stand for themselves. */
    for (c = 0x20; c < 0x100; c++) {
        struct agora_jw *w = agora_jw_new();

        in[0] = (char)c;
        agora_jw_strn(w, in, 1);
        if (c == '"')
            expect_doc(w, "\"\\\"\"");
        else if (c == '\\')
            expect_doc(w, "\"\\\\\"");
        else {
            snprintf(doc, sizeof(doc), "\"%c\"", c);
            expect_doc(w, doc);
        }
    }
}
END_TEST

/* Invalid UTF-8 is passed through, not checked or replaced. */
START_TEST(test_jw_invalid_utf8)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_arr_open(w);
    agora_jw_str(w, "\xff\xfe");
    agora_jw_str(w, "lone \xc3");
    agora_jw_str(w, "\xed\xa0\x80 surrogate, \xc0\xaf overlong");
    agora_jw_arr_close(w);
    expect_doc(w, "[\"\xff\xfe\",\"lone \xc3\","
                  "\"\xed\xa0\x80 surrogate, \xc0\xaf overlong\"]");
}
END_TEST

/* Where an escape falls relative to the 8-byte words, and long strings
 * full of escapes that outgrow the buffer while being escaped. */
START_TEST(test_jw_escape_positions)
{
    static const char specials[] = {'"',    '\\',   '\n',   '\x01',
                                    '\x1f', '\x7f', '\x80', ' '};
    char s[40], *big;
    size_t len, pos, k, i;

    for (k = 0; k < sizeof(specials); k++) {
        for (len = 1; len < 26; len++) {
            for (pos = 0; pos < len; pos++) {
                memset(s, 'x', len);
                s[len] = '\0';
                s[pos] = specials[k];
                expect_str_doc(s);
            }
        }
    }

    /* Every byte but NUL, many times over: 64 KiB in, far more out. */
    big = malloc(65536);
    ck_assert_ptr_nonnull(big);
    for (i = 0; i < 65535; i++)
        big[i] = (char)(i % 255 + 1);
    big[65535] = '\0';
    expect_str_doc(big);
    /* Nothing but escapes. */
    memset(big, '\x02', 65535);
    expect_str_doc(big);
    memset(big, '"', 65535);
    expect_str_doc(big);
    free(big);
}
END_TEST

/* Long strings with escapes read back as themselves, around the size of
 * the writer's first buffer too. */
START_TEST(test_jw_long_strings_roundtrip)
{
    char *in = malloc(5000);
    const char *got = NULL;
    size_t len, i;

    ck_assert_ptr_nonnull(in);
    for (len = 230; len < 5000; len += len < 300 ? 1 : 397) {
        struct agora_jw *w = agora_jw_new();
        yajl_val v;

        for (i = 0; i < len; i++)
            in[i] = "ab\"c\\d\ne\tf\x01g\xc3\xa9"[i % 15];
        in[len] = '\0';
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "s", in);
        agora_jw_obj_close(w);
        v = agora_json_parse(agora_jw_result(w, NULL), NULL, 0);
        ck_assert_ptr_nonnull(v);
        ck_assert_int_eq(agora_json_str(v, "s", &got), 0);
        ck_assert_str_eq(got, in);
        yajl_tree_free(v);
        agora_jw_free(w);
    }
    free(in);
}
END_TEST

/* Integers against printf's %lld, including every power-of-ten edge. */
START_TEST(test_jw_integers_all_widths)
{
    char want[32];
    int64_t p = 1;
    int d, k;

    /* 10^0 to 10^18, the largest power of ten in an int64_t. */
    for (d = 0; d <= 18; d++) {
        const int64_t vals[] = {p - 1, p, p + 1, -p + 1, -p, -p - 1};

        for (k = 0; k < 6; k++) {
            struct agora_jw *w = agora_jw_new();

            agora_jw_int(w, vals[k]);
            snprintf(want, sizeof(want), "%lld", (long long)vals[k]);
            expect_doc(w, want);
        }
        if (d < 18)
            p *= 10;
    }
    {
        const int64_t edges[] = {
            INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - 1, -1, 0};

        for (k = 0; k < 6; k++) {
            struct agora_jw *w = agora_jw_new();

            agora_jw_int(w, edges[k]);
            snprintf(want, sizeof(want), "%lld", (long long)edges[k]);
            expect_doc(w, want);
        }
    }
}
END_TEST

/* Integral doubles, which skip printf below 1e15, are written as
 * %.15g/%.16g/%.17g would write them: the same text on either side of
 * that bound, and -0 keeps its sign. */
START_TEST(test_jw_numbers_integral)
{
    static const double vals[] = {-0.0,
                                  1.0,
                                  -1.0,
                                  10.0,
                                  99.0,
                                  1e14,
                                  999999999999999.0,
                                  -999999999999999.0,
                                  1e15,
                                  -1e15,
                                  1000000000000001.0,
                                  1.5e15,
                                  4503599627370497.0,
                                  9007199254740993.0,
                                  9223372036854775808.0,
                                  -9223372036854775808.0,
                                  1e300};
    char want[32];
    size_t i;
    int prec;

    expect_num(-0.0, "-0");
    expect_num(1e15, "1e+15");
    expect_num(999999999999999.0, "999999999999999");
    for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        for (prec = 15; prec <= 17; prec++) {
            snprintf(want, sizeof(want), "%.*g", prec, vals[i]);
            if (strtod(want, NULL) == vals[i])
                break;
        }
        expect_num(vals[i], want);
    }
}
END_TEST

/* What format_double() writes: the shortest of %.15g-%.17g that reads
 * back, the writer's text for any double before it had a shortcut. */
static void shortest_g(double v, char *out, size_t size)
{
    int prec;

    for (prec = 15; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static void expect_num_as_printf(double v)
{
    char want[40];

    shortest_g(v, want, sizeof(want));
    expect_num(v, want);
}

/* Short decimals, which the writer formats without printf, give the
 * text printf gave: every thousandth to 100, millionths, both signs,
 * timestamps to the microsecond, the edges of the shortcut's range
 * (1e-4, 1e9, 2^33) and values with more than six decimals, which take
 * printf still. */
START_TEST(test_jw_numbers_short)
{
    /* clang-format off */
    static const double edges[] = {
        1e-4, -1e-4, 0.0001000001, 0.000099999, 0.00015, 999999999.5,
        999999999.999999, 1e9 + 0.5, 1e9 - 0.25, 0.1 + 0.2, 1.0 / 3,
        123.456789, 123.4567891, 0.000123, 5e-5, 1.15, -0.5, 64.1,
        1e9 + 1e-6, 1765100000.5, 1765100000.000001, 8589934591.999999,
        8589934591.5, 8589934592.5, 8589934592.000001};
    /* clang-format on */
    unsigned seed = 7;
    long i;

    for (i = 1; i <= 100000; i++)
        expect_num_as_printf((double)i / 1000);
    for (i = 1; i <= 100000; i += 7) {
        expect_num_as_printf((double)i / 1e6);
        expect_num_as_printf(-(double)i / 1e6);
        expect_num_as_printf((double)i * 9973 / 1e6);
    }
    for (i = 0; i < (long)(sizeof(edges) / sizeof(edges[0])); i++)
        expect_num_as_printf(edges[i]);
    for (i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        expect_num_as_printf((double)(seed % 1000000000u) /
                             (double)(1u << (seed % 30)));
    }
    /* timestamps to the microsecond (the agent's), across [1e9, 2^33) */
    for (i = 0; i < 200000; i++) {
        uint64_t us;

        seed = seed * 1103515245u + 12345u;
        us = (1000000000ull + (uint64_t)seed * 2ull) * 1000000ull +
             (uint64_t)(i * 7919 % 1000000);
        expect_num_as_printf((double)us / 1e6);
    }
}
END_TEST

/* A member written in one step (key and value without escapes) and one
 * written by key() then str() are the same text, with an escape at
 * every place in either, around the writer's first buffer (256 bytes),
 * as the first member and after another; and kstr() where no member
 * may be written fails the writer as key() did. */
START_TEST(test_jw_kstr_as_key_str)
{
    static const char specials[] = {'x', '"', '\\', '\n', '\x01', '\x80'};
    char key[300], val[300];
    size_t kn, vn, pos, k;
    int first;

    for (first = 0; first < 2; first++)
        for (k = 0; k < sizeof(specials); k++)
            for (kn = 1; kn < 300; kn += kn < 20 ? 1 : 37)
                for (vn = 0; vn < 300; vn += vn < 20 ? 1 : 41)
                    for (pos = 0; pos < kn + vn; pos += 1 + (kn + vn) / 5) {
                        struct agora_jw *a = agora_jw_new();
                        struct agora_jw *b = agora_jw_new();

                        memset(key, 'k', kn);
                        memset(val, 'v', vn);
                        key[kn] = val[vn] = '\0';
                        if (pos < kn)
                            key[pos] = specials[k];
                        else
                            val[pos - kn] = specials[k];
                        agora_jw_obj_open(a);
                        agora_jw_obj_open(b);
                        if (!first) {
                            agora_jw_kint(a, "n", 1);
                            agora_jw_kint(b, "n", 1);
                        }
                        agora_jw_kstr(a, key, val);
                        agora_jw_key(b, key);
                        agora_jw_str(b, val);
                        agora_jw_obj_close(a);
                        agora_jw_obj_close(b);
                        ck_assert_str_eq(agora_jw_result(a, NULL),
                                         agora_jw_result(b, NULL));
                        agora_jw_free(a);
                        agora_jw_free(b);
                    }
    {
        struct agora_jw *w = agora_jw_new();

        agora_jw_arr_open(w);
        agora_jw_kstr(w, "k", "v");
        expect_failed(w);
        w = agora_jw_new();
        agora_jw_obj_open(w);
        agora_jw_key(w, "k");
        agora_jw_kstr(w, "k2", "v");
        expect_failed(w);
        w = agora_jw_new();
        agora_jw_obj_open(w);
        agora_jw_kstr(w, "k", NULL);
        agora_jw_obj_close(w);
        expect_doc(w, "{\"k\":null}");
    }
}
END_TEST

/* Raw text as the first, a middle and the last value, nested, and at the
 * top level; it counts as a value for what may come next. */
START_TEST(test_jw_raw_positions)
{
    struct agora_jw *w = agora_jw_new();

    agora_jw_arr_open(w);
    agora_jw_raw(w, "1", 1);
    agora_jw_raw(w, "[2,3]", 5);
    agora_jw_obj_open(w);
    agora_jw_key(w, "r");
    agora_jw_raw(w, "{}", 2);
    agora_jw_kint(w, "n", 4);
    agora_jw_key(w, "last");
    agora_jw_raw(w, "null", 4);
    agora_jw_obj_close(w);
    agora_jw_raw(w, "\"end\"", 5);
    agora_jw_arr_close(w);
    expect_doc(w, "[1,[2,3],{\"r\":{},\"n\":4,\"last\":null},\"end\"]");

    /* Only the first len bytes are used. */
    w = agora_jw_new();
    agora_jw_raw(w, "truex", 4);
    expect_doc(w, "true");

    /* A whole document: nothing may follow. */
    w = agora_jw_new();
    agora_jw_raw(w, "{}", 2);
    agora_jw_raw(w, "{}", 2);
    expect_failed(w);

    /* Empty raw text inside a container. */
    w = agora_jw_new();
    agora_jw_arr_open(w);
    agora_jw_raw(w, "x", 0);
    agora_jw_arr_close(w);
    expect_failed(w);

    /* A large raw value, [1,1,...,1], grows the buffer in one step. */
    {
        char *big = malloc(10000), *want = malloc(10010);
        size_t i;

        ck_assert_ptr_nonnull(big);
        ck_assert_ptr_nonnull(want);
        big[0] = '[';
        for (i = 1; i < 9998; i++)
            big[i] = i % 2 ? '1' : ',';
        big[9998] = ']';
        big[9999] = '\0';
        snprintf(want, 10010, "[0,%s]", big);
        w = agora_jw_new();
        agora_jw_arr_open(w);
        agora_jw_int(w, 0);
        agora_jw_raw(w, big, strlen(big));
        agora_jw_arr_close(w);
        expect_doc(w, want);
        free(big);
        free(want);
    }
}
END_TEST

/* A reset writer is as new, failures included, and keeps its buffer. */
START_TEST(test_jw_reset)
{
    struct agora_jw *w = agora_jw_new();
    uintptr_t first;
    size_t len, i;

    agora_jw_reset(NULL);
    agora_jw_obj_open(w);
    agora_jw_kint(w, "a", 1);
    agora_jw_obj_close(w);
    ck_assert_str_eq(agora_jw_result(w, NULL), "{\"a\":1}");

    agora_jw_reset(w);
    ck_assert_str_eq(agora_jw_result(w, &len), "");
    ck_assert_uint_eq(len, 0);
    agora_jw_arr_open(w);
    agora_jw_int(w, 2);
    agora_jw_arr_close(w);
    ck_assert_str_eq(agora_jw_result(w, NULL), "[2]");

    /* A latched failure is cleared. */
    agora_jw_reset(w);
    agora_jw_key(w, "outside");
    ck_assert_ptr_null(agora_jw_result(w, NULL));
    agora_jw_reset(w);
    agora_jw_str(w, "ok");
    ck_assert_str_eq(agora_jw_result(w, NULL), "\"ok\"");

    /* Reset with containers open, as deep as allowed. */
    agora_jw_reset(w);
    for (i = 0; i < AGORA_JW_MAX_DEPTH; i++)
        agora_jw_arr_open(w);
    agora_jw_reset(w);
    agora_jw_obj_open(w);
    agora_jw_obj_close(w);
    ck_assert_str_eq(agora_jw_result(w, NULL), "{}");

    /* A document past the first buffer, written twice: the second time
     * needs no new memory, so it lands in the same place. */
    agora_jw_reset(w);
    agora_jw_arr_open(w);
    for (i = 0; i < 1000; i++)
        agora_jw_str(w, "0123456789");
    agora_jw_arr_close(w);
    first = (uintptr_t)agora_jw_result(w, &len);
    ck_assert_uint_eq(len, 1000 * 13 + 1);
    agora_jw_reset(w);
    agora_jw_arr_open(w);
    for (i = 0; i < 1000; i++)
        agora_jw_str(w, "0123456789");
    agora_jw_arr_close(w);
    ck_assert((uintptr_t)agora_jw_result(w, &len) == first);
    ck_assert_uint_eq(len, 1000 * 13 + 1);
    agora_jw_free(w);
}
END_TEST

/* ---- readers ---- */

static const char sample[] =
    "{\"s\":\"text\",\"i\":42,\"neg\":-7,\"d\":2.5,\"whole\":3.0,"
    "\"big\":1e300,\"huge\":1e400,\"t\":true,\"f\":false,\"n\":null,"
    "\"o\":{\"k\":1},\"a\":[1],\"max\":9223372036854775807,"
    "\"dup\":1,\"dup\":2}";

static yajl_val parse_sample(void)
{
    char err[128];
    yajl_val v = agora_json_parse(sample, err, sizeof(err));

    ck_assert_msg(v != NULL, "parse: %s", err);
    return v;
}

START_TEST(test_parse_ok)
{
    char err[64] = "junk";
    yajl_val v = agora_json_parse("[1, 2]", err, sizeof(err));

    ck_assert(YAJL_IS_ARRAY(v));
    ck_assert_str_eq(err, "");
    yajl_tree_free(v);
    v = agora_json_parse("  {}  ", NULL, 0);
    ck_assert(YAJL_IS_OBJECT(v));
    yajl_tree_free(v);
}
END_TEST

/* Bad documents give NULL and a reason on one line. */
START_TEST(test_parse_errors)
{
    static const char *const bad[] = {
        "",          "{",     "{\"a\":}", "[1,]",
        "{\"a\" 1}", "nul",   "[1] [2]",  "{\"a\":1}x",
        "\"\\q\"",   "{1:2}", "[\"a\",",  "{\"a\":[1,{\"b\":",
    };
    char err[256];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        yajl_val v = agora_json_parse(bad[i], err, sizeof(err));

        ck_assert_msg(v == NULL, "'%s' parsed", bad[i]);
        ck_assert_msg(err[0] != '\0', "no reason for '%s'", bad[i]);
        ck_assert_msg(strchr(err, '\n') == NULL, "two lines: %s", err);
    }
    ck_assert_ptr_null(agora_json_parse(NULL, err, sizeof(err)));
    ck_assert_str_eq(err, "no text");
}
END_TEST

/* A lone UTF-16 surrogate escape is refused (yajl would decode it into
 * bytes that are not UTF-8); a pair, other escapes and an escaped
 * backslash before "u" are not. */
START_TEST(test_parse_lone_surrogate)
{
    static const char *const bad[] = {
        "{\"a\":\"\\udfff\"}", "[\"\\uD800\"]", "[\"x\\ud83dy\"]",
        "[\"\\ud83d\\u0041\"]", "{\"\\udc00\":1}", "[\"\\ud83d\\ud83d\"]",
        "[\"\\ud83d\\",
    };
    static const char *const good[] = {
        "[\"\\ud83d\\ude00\"]", "[\"\\u00e9\\n\\\\udfff\"]", "[\"\\uFFFF\"]",
    };
    char err[128];
    size_t i;
    yajl_val v;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = agora_json_parse(bad[i], err, sizeof(err));
        ck_assert_msg(v == NULL, "accepted %s", bad[i]);
        if (i < 6)
            ck_assert_msg(strstr(err, "lone UTF-16 surrogate") != NULL,
                          "%s: %s", bad[i], err);
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        v = agora_json_parse(good[i], err, sizeof(err));
        ck_assert_msg(v != NULL, "refused %s: %s", good[i], err);
        yajl_tree_free(v);
    }
}
END_TEST

/* A small or absent error buffer is never overrun. */
/* Nesting past the bound is refused before a tree exists; at the bound
 * it parses; brackets inside strings do not count. */
START_TEST(test_parse_depth)
{
    size_t n = 300000, i;
    char *doc = malloc(2 * n + 16), err[128];
    yajl_val v;

    ck_assert_ptr_nonnull(doc);
    for (i = 0; i < n; i++) {
        doc[i] = '[';
        doc[n + i] = ']';
    }
    doc[2 * n] = '\0';
    v = agora_json_parse(doc, err, sizeof(err));
    ck_assert_ptr_null(v);
    ck_assert_str_eq(err, "nested deeper than 512 levels");

    n = AGORA_JSON_MAX_DEPTH;
    for (i = 0; i < n; i++) {
        doc[i] = '[';
        doc[n + i] = ']';
    }
    doc[2 * n] = '\0';
    v = agora_json_parse(doc, err, sizeof(err));
    ck_assert_ptr_nonnull(v);
    yajl_tree_free(v);

    v = agora_json_parse("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"\"}",
                         err, sizeof(err));
    ck_assert_msg(v != NULL, "%s", err);
    yajl_tree_free(v);
    free(doc);
}
END_TEST

/* The SDK's map: put, replace, get, delete, walk, and growth past many
 * deletions (deleted slots are reclaimed, lookups stay right). */
START_TEST(test_sdk_map)
{
    struct agora_map m = {0};
    char key[32];
    size_t i, n, walked = 0;
    long *v;

    for (i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "k%zu", i);
        ck_assert_int_eq(agora_map_put(&m, key, (void *)(i + 1)), 0);
    }
    ck_assert_uint_eq(m.n, 5000);
    ck_assert_ptr_eq(agora_map_get(&m, "k42"), (void *)43);
    ck_assert_int_eq(agora_map_put(&m, "k42", (void *)7), 0);
    ck_assert_ptr_eq(agora_map_get(&m, "k42"), (void *)7);
    ck_assert_uint_eq(m.n, 5000);
    for (i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof(key), "k%zu", i);
        ck_assert_ptr_nonnull(agora_map_del(&m, key));
    }
    ck_assert_ptr_null(agora_map_del(&m, "k0"));
    ck_assert_ptr_null(agora_map_get(&m, "k0"));
    ck_assert_uint_eq(m.n, 2500);
    for (i = 0; i < 20000; i++) { /* churn: tombstones must not fill it */
        snprintf(key, sizeof(key), "t%zu", i);
        ck_assert_int_eq(agora_map_put(&m, key, (void *)1), 0);
        ck_assert_ptr_nonnull(agora_map_del(&m, key));
    }
    ck_assert_uint_le(m.cap, 16384);
    n = 0;
    while ((v = agora_map_next(&m, &n)) != NULL)
        walked++;
    ck_assert_uint_eq(walked, 2500);
    ck_assert_ptr_eq(agora_map_get(&m, "k4999"), (void *)5000);
    agora_map_free(&m);
    ck_assert_ptr_null(agora_map_get(&m, "k1"));
}
END_TEST

START_TEST(test_parse_error_small_buffer)
{
    char err[8];

    memset(err, 'x', sizeof(err));
    ck_assert_ptr_null(agora_json_parse("{", err, 4));
    ck_assert_uint_lt(strlen(err), 4);
    ck_assert_int_eq(err[4], 'x');
    ck_assert_ptr_null(agora_json_parse("{", err, 1));
    ck_assert_str_eq(err, "");
    ck_assert_ptr_null(agora_json_parse("{", NULL, 0));
    ck_assert_ptr_null(agora_json_parse("{", err, 0));
}
END_TEST

START_TEST(test_get)
{
    yajl_val v = parse_sample();
    yajl_val o = agora_json_get(v, "o");
    int64_t i = 0;

    ck_assert(YAJL_IS_OBJECT(o));
    ck_assert(YAJL_IS_INTEGER(agora_json_get(o, "k")));
    ck_assert_ptr_null(agora_json_get(v, "missing"));
    ck_assert_ptr_null(agora_json_get(v, NULL));
    ck_assert_ptr_null(agora_json_get(NULL, "o"));
    ck_assert_ptr_null(agora_json_get(agora_json_get(v, "a"), "0"));
    ck_assert_ptr_null(agora_json_get(agora_json_get(v, "s"), "s"));
    /* A key given twice: the first one. */
    ck_assert_int_eq(agora_json_int(v, "dup", &i), 0);
    ck_assert_int_eq(i, 1);
    yajl_tree_free(v);
}
END_TEST

START_TEST(test_read_str)
{
    yajl_val v = parse_sample();
    const char *s = "untouched";

    ck_assert_int_eq(agora_json_str(v, "s", &s), 0);
    ck_assert_str_eq(s, "text");
    s = "untouched";
    ck_assert_int_eq(agora_json_str(v, "missing", &s), AGORA_ENOENT);
    ck_assert_int_eq(agora_json_str(v, "n", &s), AGORA_ENOENT);
    ck_assert_int_eq(agora_json_str(v, "i", &s), AGORA_EINVAL);
    ck_assert_int_eq(agora_json_str(v, "o", &s), AGORA_EINVAL);
    ck_assert_int_eq(agora_json_str(NULL, "s", &s), AGORA_ENOENT);
    ck_assert_str_eq(s, "untouched");
    yajl_tree_free(v);
}
END_TEST

START_TEST(test_read_int)
{
    yajl_val v = parse_sample();
    int64_t i = 0;

    ck_assert_int_eq(agora_json_int(v, "i", &i), 0);
    ck_assert_int_eq(i, 42);
    ck_assert_int_eq(agora_json_int(v, "neg", &i), 0);
    ck_assert_int_eq(i, -7);
    ck_assert_int_eq(agora_json_int(v, "max", &i), 0);
    ck_assert(i == INT64_MAX);
    /* An integral double is accepted. */
    ck_assert_int_eq(agora_json_int(v, "whole", &i), 0);
    ck_assert_int_eq(i, 3);
    i = 5;
    ck_assert_int_eq(agora_json_int(v, "d", &i), AGORA_EINVAL);
    ck_assert_int_eq(agora_json_int(v, "big", &i), AGORA_EINVAL);
    ck_assert_int_eq(agora_json_int(v, "s", &i), AGORA_EINVAL);
    ck_assert_int_eq(agora_json_int(v, "t", &i), AGORA_EINVAL);
    ck_assert_int_eq(agora_json_int(v, "n", &i), AGORA_ENOENT);
    ck_assert_int_eq(agora_json_int(v, "missing", &i), AGORA_ENOENT);
    ck_assert_int_eq(i, 5);
    yajl_tree_free(v);
}
END_TEST

START_TEST(test_read_num)
{
    yajl_val v = parse_sample();
    int64_t i = 0;
    double d = 0;

    ck_assert_int_eq(agora_json_num(v, "d", &d), 0);
    ck_assert(d == 2.5);
    ck_assert_int_eq(agora_json_num(v, "i", &d), 0);
    ck_assert(d == 42);
    ck_assert_int_eq(agora_json_num(v, "big", &d), 0);
    ck_assert(d == 1e300);
    d = 9;
    /* Beyond a double: refused rather than read as infinity. */
    ck_assert_int_eq(agora_json_num(v, "huge", &d), AGORA_EINVAL);
    ck_assert_int_eq(agora_json_int(v, "huge", &i), AGORA_EINVAL);
    ck_assert_int_eq(agora_json_num(v, "s", &d), AGORA_EINVAL);
    ck_assert_int_eq(agora_json_num(v, "a", &d), AGORA_EINVAL);
    ck_assert_int_eq(agora_json_num(v, "n", &d), AGORA_ENOENT);
    ck_assert_int_eq(agora_json_num(v, "missing", &d), AGORA_ENOENT);
    ck_assert(d == 9);
    yajl_tree_free(v);
}
END_TEST

START_TEST(test_read_bool)
{
    yajl_val v = parse_sample();
    int b = 7;

    ck_assert_int_eq(agora_json_bool(v, "t", &b), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(agora_json_bool(v, "f", &b), 0);
    ck_assert_int_eq(b, 0);
    b = 7;
    ck_assert_int_eq(agora_json_bool(v, "i", &b), AGORA_EINVAL);
    ck_assert_int_eq(agora_json_bool(v, "s", &b), AGORA_EINVAL);
    ck_assert_int_eq(agora_json_bool(v, "n", &b), AGORA_ENOENT);
    ck_assert_int_eq(agora_json_bool(v, "missing", &b), AGORA_ENOENT);
    ck_assert_int_eq(b, 7);
    yajl_tree_free(v);
}
END_TEST

/* What the writer writes, the reader reads. */
START_TEST(test_roundtrip)
{
    struct agora_jw *w = agora_jw_new();
    const char *s = NULL;
    int64_t i = 0;
    yajl_val v;

    agora_jw_obj_open(w);
    agora_jw_kstr(w, "s", "q\"uo\\te\n\x1f");
    agora_jw_kint(w, "i", -12345678901234LL);
    agora_jw_obj_close(w);
    v = agora_json_parse(agora_jw_result(w, NULL), NULL, 0);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(agora_json_str(v, "s", &s), 0);
    ck_assert_str_eq(s, "q\"uo\\te\n\x1f");
    ck_assert_int_eq(agora_json_int(v, "i", &i), 0);
    ck_assert(i == -12345678901234LL);
    yajl_tree_free(v);
    agora_jw_free(w);
}
END_TEST

/* ---- quote ---- */

START_TEST(test_quote)
{
    char out[64];

    ck_assert_uint_eq(agora_json_quote("abc", out, sizeof(out)), 5);
    ck_assert_str_eq(out, "\"abc\"");
    ck_assert_uint_eq(agora_json_quote("", out, sizeof(out)), 2);
    ck_assert_str_eq(out, "\"\"");
    agora_json_quote("a\"b\\c/\b\f\n\r\t\x01\x7f\xc3\xa9", out, sizeof(out));
    ck_assert_str_eq(out, "\"a\\\"b\\\\c/\\b\\f\\n\\r\\t\\u0001\x7f\xc3\xa9\"");
    ck_assert_uint_eq(agora_json_quote(NULL, out, sizeof(out)), 4);
    ck_assert_str_eq(out, "null");
}
END_TEST

/* Like snprintf: the needed length, a truncated but terminated text. */
START_TEST(test_quote_truncated)
{
    char out[8];

    memset(out, 'x', sizeof(out));
    ck_assert_uint_eq(agora_json_quote("hello\n", out, 5), 9);
    ck_assert_str_eq(out, "\"hel");
    ck_assert_int_eq(out[5], 'x');
    ck_assert_uint_eq(agora_json_quote("hello\n", out, 1), 9);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(agora_json_quote("hello\n", NULL, 0), 9);
    /* Exactly enough: 9 characters and the NUL. */
    {
        char fit[10];

        ck_assert_uint_eq(agora_json_quote("hello\n", fit, sizeof(fit)), 9);
        ck_assert_str_eq(fit, "\"hello\\n\"");
    }
}
END_TEST

/* The quoted text parses back to the original. */
START_TEST(test_quote_parses)
{
    char in[40], out[256], doc[300];
    const char *s = NULL;
    yajl_val v;
    int c;

    for (c = 1; c < 40; c++)
        in[c - 1] = (char)c;
    in[39] = '\0';
    agora_json_quote(in, out, sizeof(out));
    snprintf(doc, sizeof(doc), "{\"k\":%s}", out);
    v = agora_json_parse(doc, NULL, 0);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(agora_json_str(v, "k", &s), 0);
    ck_assert_str_eq(s, in);
    yajl_tree_free(v);
}
END_TEST

/* ---- sdk.h ---- */

/* A services table whose reply() records what it was given. */
static struct {
    int calls, status;
    const char *type;
    char body[256];
    size_t len;
} replied;

static int fake_reply(struct agora_req *r, int status, const char *content_type,
                      const void *body, size_t len)
{
    replied.calls++;
    replied.status = status;
    replied.type = content_type;
    replied.len = len;
    ck_assert_uint_lt(len, sizeof(replied.body));
    memcpy(replied.body, body, len);
    replied.body[len] = '\0';
    return 0;
}

static struct agora_api fake_api(void)
{
    struct agora_api api;

    memset(&api, 0, sizeof(api));
    memset(&replied, 0, sizeof(replied));
    api.size = sizeof(api);
    api.reply = fake_reply;
    return api;
}

START_TEST(test_reply_jw)
{
    struct agora_api api = fake_api();
    struct agora_jw *w = agora_jw_new();

    agora_jw_obj_open(w);
    agora_jw_kint(w, "n", 1);
    agora_jw_obj_close(w);
    ck_assert_int_eq(agora_reply_jw(&api, NULL, 201, w), 0);
    ck_assert_int_eq(replied.calls, 1);
    ck_assert_int_eq(replied.status, 201);
    ck_assert_ptr_null(replied.type);
    ck_assert_str_eq(replied.body, "{\"n\":1}");
    ck_assert_uint_eq(replied.len, 7);
    agora_jw_free(w);
}
END_TEST

START_TEST(test_reply_jw_failed)
{
    struct agora_api api = fake_api();
    struct agora_jw *w = agora_jw_new();

    agora_jw_key(w, "outside");
    ck_assert_int_eq(agora_reply_jw(&api, NULL, 200, w), 0);
    ck_assert_int_eq(replied.status, 500);
    ck_assert_str_eq(replied.body, "{\"message\":\"out of memory\"}");
    agora_jw_free(w);

    /* A writer that could not be made at all. */
    ck_assert_int_eq(agora_reply_jw(&api, NULL, 200, NULL), 0);
    ck_assert_int_eq(replied.calls, 2);
    ck_assert_int_eq(replied.status, 500);
    ck_assert_int_eq(agora_reply_jw(NULL, NULL, 200, NULL), AGORA_EINVAL);
}
END_TEST

START_TEST(test_reply_error)
{
    struct agora_api api = fake_api();

    ck_assert_int_eq(agora_reply_error(&api, NULL, 404, "app '/x' not found"),
                     0);
    ck_assert_int_eq(replied.status, 404);
    ck_assert_str_eq(replied.body, "{\"message\":\"app '/x' not found\"}");
    ck_assert_uint_eq(replied.len, strlen(replied.body));
    agora_reply_error(&api, NULL, 422, "bad \"id\"\n");
    ck_assert_str_eq(replied.body, "{\"message\":\"bad \\\"id\\\"\\n\"}");
    agora_reply_error(&api, NULL, 400, NULL);
    ck_assert_str_eq(replied.body, "{\"message\":\"\"}");
    ck_assert_int_eq(replied.calls, 3);
    ck_assert_int_eq(agora_reply_error(NULL, NULL, 400, "x"), AGORA_EINVAL);
}
END_TEST

START_TEST(test_task_states)
{
    int i;

    ck_assert_str_eq(agora_task_state_name(AGORA_TASK_STAGING), "TASK_STAGING");
    ck_assert_str_eq(agora_task_state_name(AGORA_TASK_RUNNING), "TASK_RUNNING");
    ck_assert_str_eq(agora_task_state_name(AGORA_TASK_GONE_BY_OPERATOR),
                     "TASK_GONE_BY_OPERATOR");
    ck_assert_str_eq(agora_task_state_name(AGORA_TASK_UNKNOWN), "TASK_UNKNOWN");
    ck_assert_str_eq(agora_task_state_name(AGORA_TASK_STATE_COUNT),
                     "TASK_UNKNOWN");
    ck_assert_str_eq(agora_task_state_name((enum agora_task_state)(-1)),
                     "TASK_UNKNOWN");
    for (i = 0; i < AGORA_TASK_STATE_COUNT; i++) {
        const char *name = agora_task_state_name((enum agora_task_state)i);

        ck_assert_int_eq(agora_task_state_parse(name), i);
    }
    ck_assert_int_eq(agora_task_state_parse("TASK_KILLING"),
                     AGORA_TASK_KILLING);
    ck_assert_int_eq(agora_task_state_parse("task_running"), -1);
    ck_assert_int_eq(agora_task_state_parse("RUNNING"), -1);
    ck_assert_int_eq(agora_task_state_parse(""), -1);
    ck_assert_int_eq(agora_task_state_parse(NULL), -1);
}
END_TEST

START_TEST(test_task_terminal)
{
    static const enum agora_task_state terminal[] = {
        AGORA_TASK_FINISHED, AGORA_TASK_FAILED,
        AGORA_TASK_KILLED,   AGORA_TASK_ERROR,
        AGORA_TASK_LOST,     AGORA_TASK_DROPPED,
        AGORA_TASK_GONE,     AGORA_TASK_GONE_BY_OPERATOR};
    int i, n = 0;
    size_t j;

    for (j = 0; j < sizeof(terminal) / sizeof(terminal[0]); j++)
        ck_assert_int_eq(agora_task_state_terminal(terminal[j]), 1);
    for (i = 0; i < AGORA_TASK_STATE_COUNT; i++)
        n += agora_task_state_terminal((enum agora_task_state)i);
    ck_assert_int_eq(n, 8);
    ck_assert_int_eq(agora_task_state_terminal(AGORA_TASK_UNREACHABLE), 0);
    ck_assert_int_eq(agora_task_state_terminal(AGORA_TASK_KILLING), 0);
    ck_assert_int_eq(agora_task_state_terminal(AGORA_TASK_UNKNOWN), 0);
}
END_TEST

START_TEST(test_strerror)
{
    int e;

    ck_assert_str_eq(agora_strerror(AGORA_OK), "success");
    ck_assert_str_eq(agora_strerror(AGORA_ENOMEM), "out of memory");
    ck_assert_str_eq(agora_strerror(AGORA_ENOENT), "not found");
    ck_assert_str_eq(agora_strerror(1), "unknown error");
    ck_assert_str_eq(agora_strerror(AGORA_EPERM - 1), "unknown error");
    /* Every code has its own message. */
    for (e = AGORA_OK; e >= AGORA_EPERM; e--) {
        ck_assert_str_ne(agora_strerror(e), "unknown error");
        if (e < AGORA_OK)
            ck_assert_str_ne(agora_strerror(e), agora_strerror(e + 1));
    }
}
END_TEST

/* The one id check of master and agent: safe as a file or URL segment. */
START_TEST(test_id_valid)
{
    char longest[AGORA_ID_MAX + 2];

    ck_assert_int_eq(agora_id_valid("web.1f2e-3d:x@y_Z", AGORA_ID_MAX), 1);
    ck_assert_int_eq(agora_id_valid(NULL, AGORA_ID_MAX), 0);
    ck_assert_int_eq(agora_id_valid("", AGORA_ID_MAX), 0);
    ck_assert_int_eq(agora_id_valid(".hidden", AGORA_ID_MAX), 0);
    ck_assert_int_eq(agora_id_valid("..", AGORA_ID_MAX), 0);
    ck_assert_int_eq(agora_id_valid("a/b", AGORA_ID_MAX), 0);
    ck_assert_int_eq(agora_id_valid("a b", AGORA_ID_MAX), 0);
    ck_assert_int_eq(agora_id_valid("a\nb", AGORA_ID_MAX), 0);
    ck_assert_int_eq(agora_id_valid("caf\xc3\xa9", AGORA_ID_MAX), 0);
    memset(longest, 'a', AGORA_ID_MAX);
    longest[AGORA_ID_MAX] = '\0';
    ck_assert_int_eq(agora_id_valid(longest, AGORA_ID_MAX), 1);
    ck_assert_int_eq(agora_id_valid(longest, AGORA_ID_MAX - 1), 0);
    longest[AGORA_ID_MAX] = 'a';
    longest[AGORA_ID_MAX + 1] = '\0';
    ck_assert_int_eq(agora_id_valid(longest, AGORA_ID_MAX), 0);
}
END_TEST

START_TEST(test_json_get_str)
{
    char err[128];
    yajl_val doc = agora_json_parse(
        "{\"s\": \"x\", \"n\": 1, \"z\": null}", err, sizeof(err));

    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(agora_json_get_str(doc, "s"), "x");
    ck_assert_ptr_null(agora_json_get_str(doc, "n"));
    ck_assert_ptr_null(agora_json_get_str(doc, "z"));
    ck_assert_ptr_null(agora_json_get_str(doc, "missing"));
    yajl_tree_free(doc);
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *w = tcase_create("writer");
    TCase *r = tcase_create("reader");
    TCase *q = tcase_create("quote");
    TCase *k = tcase_create("sdk");

    tcase_add_test(k, test_id_valid);
    tcase_add_test(k, test_json_get_str);
    tcase_add_test(w, test_jw_object);
    tcase_add_test(w, test_jw_empty_and_partial);
    tcase_add_test(w, test_jw_numbers);
    tcase_add_test(w, test_jw_number_roundtrip);
    tcase_add_test(w, test_jw_integers);
    tcase_add_test(w, test_jw_strings);
    tcase_add_test(w, test_jw_raw);
    tcase_add_test(w, test_jw_members);
    tcase_add_test(w, test_jw_large);
    tcase_add_test(w, test_jw_too_deep);
    tcase_add_test(w, test_jw_key_outside_object);
    tcase_add_test(w, test_jw_value_without_key);
    tcase_add_test(w, test_jw_unbalanced);
    tcase_add_test(w, test_jw_second_document);
    tcase_add_test(w, test_jw_latch);
    tcase_add_test(w, test_jw_bad_arguments);
    tcase_add_test(w, test_jw_deep);
    tcase_add_test(w, test_jw_separators);
    tcase_add_test(w, test_jw_control_chars);
    tcase_add_test(w, test_jw_invalid_utf8);
    tcase_add_test(w, test_jw_escape_positions);
    tcase_add_test(w, test_jw_long_strings_roundtrip);
    tcase_add_test(w, test_jw_integers_all_widths);
    tcase_add_test(w, test_jw_numbers_integral);
    tcase_add_test(w, test_jw_numbers_short);
    tcase_add_test(w, test_jw_kstr_as_key_str);
    tcase_add_test(w, test_jw_raw_positions);
    tcase_add_test(w, test_jw_reset);
    suite_add_tcase(s, w);

    tcase_add_test(r, test_parse_ok);
    tcase_add_test(r, test_parse_errors);
    tcase_add_test(r, test_parse_error_small_buffer);
    tcase_add_test(r, test_parse_depth);
    tcase_add_test(r, test_sdk_map);
    tcase_add_test(r, test_get);
    tcase_add_test(r, test_read_str);
    tcase_add_test(r, test_read_int);
    tcase_add_test(r, test_read_num);
    tcase_add_test(r, test_read_bool);
    tcase_add_test(r, test_roundtrip);
    suite_add_tcase(s, r);

    tcase_add_test(q, test_quote);
    tcase_add_test(q, test_quote_truncated);
    tcase_add_test(q, test_quote_parses);
    suite_add_tcase(s, q);

    tcase_add_test(k, test_reply_jw);
    tcase_add_test(k, test_reply_jw_failed);
    tcase_add_test(k, test_reply_error);
    tcase_add_test(k, test_task_states);
    tcase_add_test(k, test_task_terminal);
    tcase_add_test(k, test_strerror);
    tcase_add_test(k, test_parse_lone_surrogate);
    suite_add_tcase(s, k);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(json_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
