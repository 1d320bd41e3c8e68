/*
 * test_mar_constraint.c - placement constraints (parse, validate, write,
 * match, scale-down selection) and label selectors, on realistic places:
 * three agents with hostnames, a rack and a scalar attribute, and one
 * agent without attributes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mar_constraint.h"

/* ---- fixtures ---- */

static const struct agora_kv attrs_a[] = {{"rack_id", "rack-1"},
                                          {"level", "0.8"}};
static const struct agora_kv attrs_b[] = {{"rack_id", "rack-2"},
                                          {"level", "1.000"}};
static const struct agora_kv attrs_c[] = {{"rack_id", "rack-1"}};
static const struct agora_kv attrs_e[] = {{"rack_id", "rack-3"}};

static const struct mar_place A = {"agent-a.dc1", attrs_a, 2};
static const struct mar_place B = {"agent-b.dc1", attrs_b, 2};
static const struct mar_place C = {"agent-c.dc1", attrs_c, 1};
static const struct mar_place D = {"agent-d.dc1", NULL, 0}; /* none */
static const struct mar_place E = {"agent-e.dc1", attrs_e, 1};

static yajl_val doc(const char *json)
{
    char err[256];
    yajl_val v = agora_json_parse(json, err, sizeof err);

    ck_assert_msg(v != NULL, "bad test JSON %s: %s", json, err);
    return v;
}

/* Parses json, which must be valid constraints. */
static struct mar_constraint *parse_ok(const char *json, size_t *n)
{
    struct mar_errs e = {0};
    struct mar_constraint *c = NULL;
    yajl_val v = doc(json);
    int rc = mar_constraints_parse(v, "", &c, n, &e);

    ck_assert_msg(rc == 0, "%s refused: %s %s", json, e.n ? e.v[0].path : "",
                  e.n ? e.v[0].message : "");
    ck_assert_uint_eq(e.n, 0);
    yajl_tree_free(v);
    return c;
}

/* json must be refused with exactly one failure (path, msg). */
static void expect_err(const char *json, const char *prefix, const char *path,
                       const char *msg, int is_json)
{
    struct mar_errs e = {0};
    struct mar_constraint *c = (struct mar_constraint *)1;
    size_t n = 99;
    yajl_val v = doc(json);

    ck_assert_int_eq(mar_constraints_parse(v, prefix, &c, &n, &e), -1);
    ck_assert_ptr_null(c);
    ck_assert_uint_eq(n, 0);
    ck_assert_msg(e.n == 1, "%s: %zu failures", json, e.n);
    ck_assert_str_eq(e.v[0].path, path);
    ck_assert_str_eq(e.v[0].message, msg);
    ck_assert_int_eq(e.json, is_json);
    ck_assert_int_eq(e.nomem, 0);
    mar_errs_free(&e);
    yajl_tree_free(v);
}

/* Whether one more task may go to cand, given the tasks at placed. */
static int fits(const char *json, const struct mar_place *cand,
                const struct mar_place *placed, size_t nplaced)
{
    size_t n;
    struct mar_constraint *c = parse_ok(json, &n);
    int ok = mar_constraints_match(c, n, cand, placed, nplaced, NULL);

    mar_constraints_free(c, n);
    return ok;
}

static char *written(const struct mar_constraint *c, size_t n)
{
    struct agora_jw *w = agora_jw_new();
    const char *r;
    char *out;

    ck_assert_ptr_nonnull(w);
    mar_constraints_write(w, c, n);
    r = agora_jw_result(w, NULL);
    ck_assert_ptr_nonnull(r);
    out = strdup(r);
    agora_jw_free(w);
    return out;
}

/* ---- parsing and writing ---- */

START_TEST(test_parse_all_operators)
{
    size_t n;
    struct mar_constraint *c = parse_ok(
        "[[\"hostname\",\"unique\"],[\"rack_id\",\"Cluster\",\"rack-1\"],"
        "[\"@hostname\",\"CLUSTER\"],[\"rack_id\",\"GROUP_BY\"],"
        "[\"rack_id\",\"group_by\",\"3\"],"
        "[\"rack_id\",\"LIKE\",\"rack-[1-3]\"],"
        "[\"rack_id\",\"UNLIKE\",\"rack-[7-9]\"],"
        "[\"rack_id\",\"MAX_PER\",\"2\"],"
        "[\"level\",\"is\",\"0.8\"]]",
        &n);
    char *out = written(c, n);

    ck_assert_uint_eq(n, 9);
    ck_assert_int_eq(c[0].op, MAR_C_UNIQUE);
    ck_assert_ptr_null(c[0].value);
    ck_assert_int_eq(c[3].n, 0);
    ck_assert_int_eq(c[4].n, 3);
    ck_assert_int_eq(c[5].has_re, 1);
    ck_assert_int_eq(c[7].op, MAR_C_MAX_PER);
    ck_assert_int_eq(c[7].n, 2);
    ck_assert_int_eq(c[8].op, MAR_C_IS);
    ck_assert_str_eq(
        out, "[[\"hostname\",\"UNIQUE\"],[\"rack_id\",\"CLUSTER\",\"rack-1\"],"
             "[\"@hostname\",\"CLUSTER\"],[\"rack_id\",\"GROUP_BY\"],"
             "[\"rack_id\",\"GROUP_BY\",\"3\"],"
             "[\"rack_id\",\"LIKE\",\"rack-[1-3]\"],"
             "[\"rack_id\",\"UNLIKE\",\"rack-[7-9]\"],"
             "[\"rack_id\",\"MAX_PER\",\"2\"],[\"level\",\"IS\",\"0.8\"]]");
    free(out);
    mar_constraints_free(c, n);
}
END_TEST

START_TEST(test_parse_none)
{
    struct mar_errs e = {0};
    struct mar_constraint *c = (struct mar_constraint *)1;
    size_t n = 5;
    yajl_val null = doc("null"), empty = doc("[]");
    char *out;

    ck_assert_int_eq(mar_constraints_parse(NULL, "", &c, &n, &e), 0);
    ck_assert_ptr_null(c);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(mar_constraints_parse(null, "", &c, &n, &e), 0);
    ck_assert_int_eq(mar_constraints_parse(empty, "", &c, &n, &e), 0);
    ck_assert_ptr_null(c);
    ck_assert_uint_eq(e.n, 0);
    out = written(NULL, 0);
    ck_assert_str_eq(out, "[]");
    free(out);
    yajl_tree_free(null);
    yajl_tree_free(empty);
}
END_TEST

#define M_FIELDS "Each constraint must have either 2 or 3 fields"
#define M_OP                                                                   \
    "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, "  \
    "MAX_PER, UNLIKE or IS"
#define M_MAX_PER "MAX_PER requires an integer value"
#define M_GROUP_BY                                                             \
    "GROUP BY must define an integer value or else no value at all"
#define M_LIKE "LIKE and UNLIKE require a non-empty, regular expression value"
#define M_IS                                                                   \
    "IS only supports Mesos text and float values (see "                       \
    "http://mesos.apache.org/documentation/latest/attributes-resources/)"

START_TEST(test_err_fields)
{
    expect_err("[[\"hostname\"]]", "", "/constraints(0)", M_FIELDS, 0);
    expect_err("[[\"hostname\",\"UNIQUE\"],[\"a\",\"LIKE\",\"x\",\"y\"]]", "",
               "/constraints(1)", M_FIELDS, 0);
    expect_err("[[]]", "/apps(1)", "/apps(1)/constraints(0)", M_FIELDS, 0);
    expect_err("[[\"\",\"UNIQUE\"]]", "", "/constraints(0)",
               "illegal constraint specification", 0);
}
END_TEST

START_TEST(test_err_operator)
{
    expect_err("[[\"hostname\",\"FOO\"]]", "", "/constraints(0)", M_OP, 0);
    expect_err("[[\"hostname\",\"GROUPBY\"]]", "/apps(3)",
               "/apps(3)/constraints(0)", M_OP, 0);
    expect_err("[[\"hostname\",\"\"]]", "", "/constraints(0)", M_OP, 0);
}
END_TEST

START_TEST(test_err_values)
{
    expect_err("[[\"hostname\",\"UNIQUE\",\"x\"]]", "", "/constraints(0)",
               "UNIQUE does not accept a value", 0);
    expect_err("[[\"hostname\",\"UNIQUE\",\"\"]]", "", "/constraints(0)",
               "UNIQUE does not accept a value", 0);
    expect_err("[[\"rack_id\",\"MAX_PER\"]]", "", "/constraints(0)", M_MAX_PER,
               0);
    expect_err("[[\"rack_id\",\"MAX_PER\",\"two\"]]", "", "/constraints(0)",
               M_MAX_PER, 0);
    expect_err("[[\"rack_id\",\"MAX_PER\",\"1.5\"]]", "", "/constraints(0)",
               M_MAX_PER, 0);
    expect_err("[[\"rack_id\",\"MAX_PER\",\"2147483648\"]]", "",
               "/constraints(0)", M_MAX_PER, 0);
    expect_err("[[\"rack_id\",\"MAX_PER\",\" 2\"]]", "", "/constraints(0)",
               M_MAX_PER, 0);
    expect_err("[[\"rack_id\",\"GROUP_BY\",\"x\"]]", "", "/constraints(0)",
               M_GROUP_BY, 0);
    expect_err("[[\"rack_id\",\"GROUP_BY\",\"\"]]", "", "/constraints(0)",
               M_GROUP_BY, 0);
    expect_err("[[\"rack_id\",\"LIKE\"]]", "", "/constraints(0)", M_LIKE, 0);
    expect_err("[[\"rack_id\",\"UNLIKE\"]]", "", "/constraints(0)", M_LIKE, 0);
    expect_err("[[\"rack_id\",\"LIKE\",\"rack-[1\"]]", "", "/constraints(0)",
               "is not a valid regular expression", 0);
    expect_err("[[\"rack_id\",\"UNLIKE\",\"(a\"]]", "", "/constraints(0)",
               "is not a valid regular expression", 0);
    /* regcomp() would copy the operand of each stacked or nested `+`:
     * 2^30 nodes, all memory (found by tests/fuzz/fuzz_json). */
    expect_err("[[\"rack_id\",\"LIKE\",\"a++++++++++++++++++++++++++++++\"]]",
               "", "/constraints(0)", "is not a valid regular expression", 0);
    expect_err("[[\"rack_id\",\"UNLIKE\",\"((((((((((((((((((((a+)+)+)+)+)+)+)+)"
               "+)+)+)+)+)+)+)+)+)+)+)+)+\"]]",
               "", "/constraints(0)", "is not a valid regular expression", 0);
    /* 3,673 nodes: 68 MB and 0.35 s of regcomp() (a longer fuzz_json
     * run, out of its 2 GB under ASan). */
    expect_err("[[\"host\",\"LIKE\",\"a.88844.888888888.8888networks.7Q8888/"
               "8844444++++++++q?++++++++++888888e88887.8888888888/8/88/8/"
               "888888888e888?.*\"]]",
               "", "/constraints(0)", "is not a valid regular expression", 0);
    /* Small trees, but repetitions of operands that match empty nested
     * in one another: regcomp()'s closures took over 20 s (found by
     * fuzz_json: the first two; the others measured by hand). */
    expect_err("[[\"rack_id\",\"LIKE\",\"a.88845#444+++++++++++++"
               "?????????????|||~||||||\"]]",
               "", "/constraints(0)", "is not a valid regular expression", 0);
    expect_err("[[\"rack_id\",\"UNLIKE\",\"a.88845??????????????????????"
               "????+++a++++++++88*\"]]",
               "", "/constraints(0)", "is not a valid regular expression", 0);
    expect_err("[[\"rack_id\",\"LIKE\",\"a??????????+++\"]]", "",
               "/constraints(0)", "is not a valid regular expression", 0);
    expect_err("[[\"rack_id\",\"LIKE\",\"(((((a?)+)+)+)+)+\"]]", "",
               "/constraints(0)", "is not a valid regular expression", 0);
    expect_err("[[\"rack_id\",\"LIKE\",\"(((a|)+){0,2}){1,}*\"]]", "",
               "/constraints(0)", "is not a valid regular expression", 0);
    expect_err("[[\"rack_id\",\"LIKE\",\"1?+{31}\"]]", "",
               "/constraints(0)", "is not a valid regular expression", 0);
    expect_err("[[\"rack_id\",\"LIKE\",\"(a*?){20}+\"]]", "",
               "/constraints(0)", "is not a valid regular expression", 0);
    expect_err("[[\"rack_id\",\"LIKE\",\"x{,30000}\"]]", "",
               "/constraints(0)", "is not a valid regular expression", 0);
    /* An unmatched ')' would close the "^(...)$" the value is wrapped in
     * and leave what follows it unsized. */
    expect_err("[[\"rack_id\",\"LIKE\",\"b**){20})0?|\"]]", "",
               "/constraints(0)", "is not a valid regular expression", 0);
    expect_err("[[\"rack_id\",\"LIKE\",\"(a{100}){100}\"]]", "",
               "/constraints(0)", "is not a valid regular expression", 0);
    expect_err("[[\"level\",\"IS\",\"{a,b}\"]]", "", "/constraints(0)", M_IS,
               0);
    expect_err("[[\"level\",\"IS\",\"a b\"]]", "", "/constraints(0)", M_IS, 0);
}
END_TEST

START_TEST(test_values_accepted)
{
    size_t n;
    struct mar_constraint *c = parse_ok(
        "[[\"rack_id\",\"MAX_PER\",\"-1\"],[\"rack_id\",\"MAX_PER\",\"+4\"],"
        "[\"rack_id\",\"GROUP_BY\",\"2147483647\"],[\"level\",\"IS\"],"
        "[\"level\",\"IS\",\"a/b.c_d-9\"],[\"rack_id\",\"CLUSTER\",\"\"],"
        "[\"host\",\"LIKE\",\"[a-z]{1,63}(\\\\.[a-z]{1,63})*\"],"
        "[\"host\",\"LIKE\",\"(a?b?)+(c|)*x??" "(y{0,3}z)*\"]]",
        &n);

    ck_assert_uint_eq(n, 8);
    ck_assert_int_eq(c[7].has_re, 1);
    ck_assert_int_eq(c[6].has_re, 1);
    ck_assert_int_eq(c[0].n, -1);
    ck_assert_int_eq(c[1].n, 4);
    ck_assert_int_eq(c[2].n, 2147483647);
    ck_assert_ptr_null(c[3].value);
    ck_assert_str_eq(c[5].value, "");
    mar_constraints_free(c, n);
}
END_TEST

START_TEST(test_err_many)
{
    struct mar_errs e = {0};
    struct mar_constraint *c;
    size_t n;
    yajl_val v = doc("[[\"a\",\"FOO\"],[\"hostname\",\"UNIQUE\"],"
                     "[\"b\",\"MAX_PER\"],[\"c\"]]");

    ck_assert_int_eq(mar_constraints_parse(v, "/apps(0)", &c, &n, &e), -1);
    ck_assert_uint_eq(e.n, 3);
    ck_assert_str_eq(e.v[0].path, "/apps(0)/constraints(0)");
    ck_assert_str_eq(e.v[0].message, M_OP);
    ck_assert_str_eq(e.v[1].path, "/apps(0)/constraints(2)");
    ck_assert_str_eq(e.v[1].message, M_MAX_PER);
    ck_assert_str_eq(e.v[2].path, "/apps(0)/constraints(3)");
    ck_assert_str_eq(e.v[2].message, M_FIELDS);
    ck_assert_int_eq(e.json, 0);
    mar_errs_free(&e);
    yajl_tree_free(v);
}
END_TEST

START_TEST(test_err_json_types)
{
    struct mar_errs e = {0};
    struct mar_constraint *c;
    size_t n;
    yajl_val v;

    expect_err("{\"hostname\":\"UNIQUE\"}", "", "/constraints",
               "error.expected.jsarray", 1);
    expect_err("\"hostname\"", "/apps(2)", "/apps(2)/constraints",
               "error.expected.jsarray", 1);
    expect_err("[\"hostname\"]", "", "/constraints(0)",
               "error.expected.jsarray", 1);
    expect_err("[[\"hostname\",\"UNIQUE\"],[\"rack_id\",\"MAX_PER\",2]]", "",
               "/constraints(1)(2)", "error.expected.jsstring", 1);
    /* Type errors come alone: the rules are not checked after them. */
    v = doc("[[\"a\",\"FOO\"],[null,\"UNIQUE\"],[\"b\",true,1]]");
    ck_assert_int_eq(mar_constraints_parse(v, "", &c, &n, &e), -1);
    ck_assert_uint_eq(e.n, 3);
    ck_assert_str_eq(e.v[0].path, "/constraints(1)(0)");
    ck_assert_str_eq(e.v[1].path, "/constraints(2)(1)");
    ck_assert_str_eq(e.v[2].path, "/constraints(2)(2)");
    ck_assert_str_eq(e.v[2].message, "error.expected.jsstring");
    ck_assert_int_eq(e.json, 1);
    mar_errs_free(&e);
    yajl_tree_free(v);
}
END_TEST

/* ---- matching, one operator at a time ---- */

START_TEST(test_unique_hostname)
{
    const struct mar_place *agents[] = {&A, &B, &C};
    struct mar_place placed[4];
    size_t np = 0;
    size_t n;
    struct mar_constraint *c = parse_ok("[[\"hostname\",\"UNIQUE\"]]", &n);

    /* Four tasks, three agents: each agent takes one, the 4th waits. */
    for (int task = 0; task < 4; task++) {
        int done = 0;
        for (size_t a = 0; a < 3 && !done; a++) {
            if (mar_constraints_match(c, n, agents[a], placed, np, NULL)) {
                placed[np++] = *agents[a];
                done = 1;
            }
        }
        ck_assert_int_eq(done, task < 3);
    }
    ck_assert_uint_eq(np, 3);
    ck_assert_str_eq(placed[0].hostname, "agent-a.dc1");
    ck_assert_str_eq(placed[2].hostname, "agent-c.dc1");
    mar_constraints_free(c, n);
}
END_TEST

START_TEST(test_unique_attribute)
{
    const char *j = "[[\"rack_id\",\"UNIQUE\"]]";
    struct mar_place p[] = {A};

    ck_assert(fits(j, &A, NULL, 0));
    ck_assert(!fits(j, &C, p, 1)); /* rack-1 taken by A */
    ck_assert(fits(j, &B, p, 1));
    ck_assert(!fits(j, &D, NULL, 0)); /* no rack: refused */
    ck_assert(!fits("[[\"@hostname\",\"UNIQUE\"]]", &A, p, 1));
    ck_assert(fits("[[\"@hostname\",\"UNIQUE\"]]", &C, p, 1));
}
END_TEST

START_TEST(test_cluster)
{
    const char *j = "[[\"rack_id\",\"CLUSTER\",\"rack-1\"]]";
    const char *pin = "[[\"hostname\",\"CLUSTER\"]]";
    struct mar_place p[] = {A};

    ck_assert(fits(j, &A, NULL, 0));
    ck_assert(fits(j, &C, p, 1));
    ck_assert(!fits(j, &B, NULL, 0));
    ck_assert(!fits(j, &D, NULL, 0));
    /* Without a value, the first task pins the rest. */
    ck_assert(fits(pin, &B, NULL, 0));
    ck_assert(fits(pin, &A, p, 1));
    ck_assert(!fits(pin, &C, p, 1));
    ck_assert(fits("[[\"rack_id\",\"CLUSTER\"]]", &C, p, 1));
    ck_assert(!fits("[[\"rack_id\",\"CLUSTER\"]]", &B, p, 1));
    ck_assert(fits("[[\"rack_id\",\"CLUSTER\",\"\"]]", &C, p, 1));
    ck_assert(!fits("[[\"rack_id\",\"CLUSTER\",\"\"]]", &B, p, 1));
    /* A given value alone decides: tasks placed before the constraint
     * was set do not keep others away from it. */
    ck_assert(fits("[[\"rack_id\",\"CLUSTER\",\"rack-2\"]]", &B, p, 1));
    ck_assert(!fits("[[\"rack_id\",\"CLUSTER\"]]", &A, &D, 1));
    /* A scalar attribute: the value as Marathon formats it. */
    ck_assert(fits("[[\"level\",\"CLUSTER\",\"1\"]]", &B, NULL, 0));
}
END_TEST

/* Places tasks one by one, agents tried in the order A, C, B, E, and
 * returns how many found a place; every choice is written to placed. */
static size_t place_all(const char *json, const struct mar_place *const *ag,
                        size_t nag, size_t tasks, struct mar_place *placed)
{
    size_t n, np = 0;
    struct mar_constraint *c = parse_ok(json, &n);

    for (size_t t = 0; t < tasks; t++) {
        size_t a = 0;
        while (a < nag && !mar_constraints_match(c, n, ag[a], placed, np, NULL))
            a++;
        if (a == nag)
            break;
        placed[np++] = *ag[a];
    }
    mar_constraints_free(c, n);
    return np;
}

static size_t on_rack(const struct mar_place *p, size_t n, const char *rack)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].attributes[0].value, rack) == 0)
            k++;
    return k;
}

START_TEST(test_group_by_balances)
{
    /* Rack 1 has two agents and is offered first, yet with two racks
     * expected the tasks alternate between the racks. */
    const struct mar_place *ag[] = {&A, &C, &B};
    struct mar_place placed[8];
    size_t np =
        place_all("[[\"rack_id\",\"GROUP_BY\",\"2\"]]", ag, 3, 8, placed);

    ck_assert_uint_eq(np, 8);
    for (size_t k = 1; k <= np; k++) {
        size_t r1 = on_rack(placed, k, "rack-1");
        size_t r2 = on_rack(placed, k, "rack-2");
        ck_assert_msg(r1 == (k + 1) / 2 && r2 == k / 2, "after %zu: %zu/%zu", k,
                      r1, r2);
    }
}
END_TEST

START_TEST(test_group_by_fewest)
{
    const char *j = "[[\"rack_id\",\"GROUP_BY\"]]";
    struct mar_place p[] = {A, B, A};

    /* Once both racks hold tasks, only the one with fewer takes more. */
    ck_assert(!fits(j, &A, p, 3));
    ck_assert(!fits(j, &C, p, 3));
    ck_assert(fits(j, &B, p, 3));
    ck_assert(fits(j, &E, p, 3)); /* a rack not yet used */
    ck_assert(fits(j, &A, p, 2)); /* a tie: both accepted */
    ck_assert(fits(j, &B, p, 2));
    /* Without a count, one rack alone is the least used one (Marathon's
     * documented caveat; the count is the cure). */
    ck_assert(fits(j, &C, p, 1));
}
END_TEST

START_TEST(test_group_by_waits_for_n)
{
    const struct mar_place *ag[] = {&A, &C, &B};
    const struct mar_place *more[] = {&A, &C, &B, &E};
    const char *j = "[[\"rack_id\",\"GROUP_BY\",\"3\"]]";
    struct mar_place placed[8];

    /* Two racks known, three expected: no rack takes a second task. */
    ck_assert_uint_eq(place_all(j, ag, 3, 8, placed), 2);
    ck_assert_uint_eq(on_rack(placed, 2, "rack-1"), 1);
    ck_assert_uint_eq(on_rack(placed, 2, "rack-2"), 1);
    /* A third rack appears: then balance as usual. */
    ck_assert_uint_eq(place_all(j, more, 4, 6, placed), 6);
    ck_assert_uint_eq(on_rack(placed, 6, "rack-3"), 2);
    ck_assert_uint_eq(on_rack(placed, 6, "rack-1"), 2);
    ck_assert(!fits(j, &D, NULL, 0));
}
END_TEST

START_TEST(test_like_unlike)
{
    const char *like = "[[\"rack_id\",\"LIKE\",\"rack-[1-2]\"]]";
    const char *unlike = "[[\"rack_id\",\"UNLIKE\",\"rack-1\"]]";
    static const struct agora_kv empty[] = {{"rack_id", ""}};
    struct mar_place pe = {"z", empty, 1};

    ck_assert(fits(like, &A, NULL, 0));
    ck_assert(fits(like, &B, NULL, 0));
    ck_assert(!fits(like, &E, NULL, 0));
    ck_assert(!fits(like, &D, NULL, 0));
    ck_assert(!fits(unlike, &A, NULL, 0));
    ck_assert(!fits(unlike, &C, NULL, 0));
    ck_assert(fits(unlike, &B, NULL, 0));
    ck_assert(fits(unlike, &D, NULL, 0)); /* missing: only UNLIKE passes */
    ck_assert(
        fits("[[\"hostname\",\"LIKE\",\"agent-[ab]\\\\.dc1\"]]", &B, NULL, 0));
    ck_assert(
        !fits("[[\"hostname\",\"LIKE\",\"agent-[ab]\\\\.dc1\"]]", &C, NULL, 0));
    /* An empty pattern passes validation and then fits nowhere. */
    ck_assert(!fits("[[\"rack_id\",\"LIKE\",\"\"]]", &pe, NULL, 0));
    ck_assert(!fits("[[\"rack_id\",\"UNLIKE\",\"\"]]", &A, NULL, 0));
    ck_assert(fits("[[\"rack_id\",\"UNLIKE\",\"\"]]", &D, NULL, 0));
}
END_TEST

START_TEST(test_regex_anchored)
{
    static const struct agora_kv r10[] = {{"rack_id", "rack-10"}};
    static const struct agora_kv ab[] = {{"rack_id", "ab"}};
    struct mar_place p10 = {"x", r10, 1}, pab = {"y", ab, 1};

    ck_assert(!fits("[[\"rack_id\",\"LIKE\",\"rack\"]]", &A, NULL, 0));
    ck_assert(!fits("[[\"rack_id\",\"LIKE\",\"ack-1\"]]", &A, NULL, 0));
    ck_assert(!fits("[[\"rack_id\",\"LIKE\",\"rack-1\"]]", &p10, NULL, 0));
    ck_assert(fits("[[\"rack_id\",\"LIKE\",\"rack-.*\"]]", &p10, NULL, 0));
    ck_assert(fits("[[\"rack_id\",\"UNLIKE\",\"rack-1\"]]", &p10, NULL, 0));
    /* The whole alternation is anchored, not its ends alone. */
    ck_assert(!fits("[[\"rack_id\",\"LIKE\",\"a|b\"]]", &pab, NULL, 0));
    ck_assert(fits("[[\"rack_id\",\"LIKE\",\"a|ab\"]]", &pab, NULL, 0));
    ck_assert(fits("[[\"rack_id\",\"LIKE\",\"xy|ab\"]]", &pab, NULL, 0));
}
END_TEST

START_TEST(test_max_per)
{
    const char *j = "[[\"rack_id\",\"MAX_PER\",\"2\"]]";
    const struct mar_place *ag[] = {&A, &C, &B};
    struct mar_place placed[8];
    struct mar_place two[] = {A, C};

    ck_assert(fits(j, &A, NULL, 0));
    ck_assert(fits(j, &C, two, 1));
    ck_assert(!fits(j, &A, two, 2));
    ck_assert(fits(j, &B, two, 2));
    /* Two racks of at most two: four tasks, the fifth waits. */
    ck_assert_uint_eq(place_all(j, ag, 3, 8, placed), 4);
    ck_assert(!fits("[[\"rack_id\",\"MAX_PER\",\"0\"]]", &A, NULL, 0));
    ck_assert(!fits(j, &D, NULL, 0));
}
END_TEST

START_TEST(test_is)
{
    ck_assert(fits("[[\"level\",\"IS\",\"0.8\"]]", &A, NULL, 0));
    ck_assert(fits("[[\"level\",\"IS\",\"0.800\"]]", &A, NULL, 0));
    ck_assert(fits("[[\"level\",\"IS\",\"0.8001\"]]", &A, NULL, 0));
    ck_assert(!fits("[[\"level\",\"IS\",\"0.801\"]]", &A, NULL, 0));
    ck_assert(fits("[[\"level\",\"IS\",\"1\"]]", &B, NULL, 0));
    ck_assert(!fits("[[\"level\",\"IS\",\"0.8\"]]", &B, NULL, 0));
    ck_assert(!fits("[[\"level\",\"IS\",\"0.8\"]]", &C, NULL, 0));
    ck_assert(fits("[[\"rack_id\",\"IS\",\"rack-2\"]]", &B, NULL, 0));
    ck_assert(!fits("[[\"rack_id\",\"IS\",\"rack\"]]", &B, NULL, 0));
    ck_assert(fits("[[\"hostname\",\"IS\",\"agent-c.dc1\"]]", &C, NULL, 0));
    ck_assert(!fits("[[\"hostname\",\"IS\",\"agent-c.dc1\"]]", &A, NULL, 0));
}
END_TEST

START_TEST(test_missing_attribute)
{
    const char *ops[] = {
        "[[\"zone\",\"UNIQUE\"]]",        "[[\"zone\",\"CLUSTER\"]]",
        "[[\"zone\",\"CLUSTER\",\"z\"]]", "[[\"zone\",\"GROUP_BY\"]]",
        "[[\"zone\",\"LIKE\",\".*\"]]",   "[[\"zone\",\"MAX_PER\",\"9\"]]",
        "[[\"zone\",\"IS\",\"z\"]]",      "[[\"zone\",\"IS\"]]"};

    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        ck_assert_msg(!fits(ops[i], &A, NULL, 0), "%s accepted", ops[i]);
    ck_assert(fits("[[\"zone\",\"UNLIKE\",\".*\"]]", &A, NULL, 0));
}
END_TEST

START_TEST(test_why_and_all)
{
    size_t n;
    struct mar_constraint *c =
        parse_ok("[[\"hostname\",\"UNIQUE\"],[\"rack_id\",\"LIKE\",\"rack-1\"],"
                 "[\"rack_id\",\"MAX_PER\",\"1\"]]",
                 &n);
    const struct mar_constraint *why = NULL;
    struct mar_place p[] = {A};

    ck_assert(!mar_constraints_match(c, n, &B, NULL, 0, &why));
    ck_assert_ptr_eq(why, &c[1]);
    ck_assert(!mar_constraints_match(c, n, &A, p, 1, &why));
    ck_assert_ptr_eq(why, &c[0]);
    ck_assert(!mar_constraints_match(c, n, &C, p, 1, &why));
    ck_assert_ptr_eq(why, &c[2]);
    why = NULL;
    ck_assert(mar_constraints_match(c, n, &C, NULL, 0, &why));
    ck_assert_ptr_null(why);
    ck_assert(mar_constraints_match(NULL, 0, &D, p, 1, NULL));
    mar_constraints_free(c, n);
}
END_TEST

/* ---- scale-down ---- */

static long victims(const char *json, const struct mar_place *placed, size_t np,
                    size_t k, size_t *out)
{
    size_t n = 0;
    struct mar_constraint *c = json ? parse_ok(json, &n) : NULL;
    long r = mar_constraints_select_kill(c, n, placed, np, k, out);

    mar_constraints_free(c, n);
    return r;
}

START_TEST(test_kill_plain)
{
    struct mar_place p[] = {A, A, C, B};
    size_t out[4];

    ck_assert_int_eq(victims(NULL, p, 4, 2, out), 2);
    ck_assert_uint_eq(out[0], 0);
    ck_assert_uint_eq(out[1], 1);
    ck_assert_int_eq(victims("[[\"hostname\",\"UNIQUE\"]]", p, 4, 1, out), 1);
    ck_assert_uint_eq(out[0], 0);
    ck_assert_int_eq(victims("[[\"rack_id\",\"GROUP_BY\"]]", p, 4, 9, out), 4);
    ck_assert_int_eq(victims("[[\"rack_id\",\"GROUP_BY\"]]", p, 0, 2, out), 0);
}
END_TEST

START_TEST(test_kill_keeps_balance)
{
    /* rack-1 holds 1, 2, 3; rack-2 holds 0 and 4. */
    struct mar_place p[] = {B, A, C, A, B};
    size_t out[5];

    ck_assert_int_eq(victims("[[\"rack_id\",\"GROUP_BY\"]]", p, 5, 1, out), 1);
    ck_assert_uint_eq(out[0], 1);
    /* 2/2 then: the caller's first, then rack-1's next. */
    ck_assert_int_eq(victims("[[\"rack_id\",\"GROUP_BY\"]]", p, 5, 3, out), 3);
    ck_assert_uint_eq(out[0], 1);
    ck_assert_uint_eq(out[1], 0);
    ck_assert_uint_eq(out[2], 2);
    /* MAX_PER balances by hostname: agent-a holds 1 and 3. */
    ck_assert_int_eq(
        victims("[[\"hostname\",\"MAX_PER\",\"2\"]]", p, 5, 1, out), 1);
    ck_assert_uint_eq(out[0], 0); /* agent-b holds 0 and 4: first tie */
}
END_TEST

START_TEST(test_kill_scale_down_stays_even)
{
    /* Nine tasks: 5 on rack-1, 3 on rack-2, 1 on rack-3; down to 6. */
    struct mar_place p[] = {A, B, C, E, A, B, C, B, A};
    size_t out[3], left[3] = {0};
    int gone[9] = {0};

    ck_assert_int_eq(victims("[[\"rack_id\",\"GROUP_BY\"]]", p, 9, 3, out), 3);
    for (size_t i = 0; i < 3; i++)
        gone[out[i]] = 1;
    for (size_t i = 0; i < 9; i++) {
        const char *r = p[i].attributes[0].value;
        if (!gone[i])
            left[r[5] - '1']++;
    }
    ck_assert_uint_eq(left[0], 3);
    ck_assert_uint_eq(left[1], 2);
    ck_assert_uint_eq(left[2], 1);
}
END_TEST

/* ---- copies ---- */

START_TEST(test_dup_equal_free)
{
    size_t n, m;
    struct mar_constraint *a = parse_ok(
        "[[\"hostname\",\"UNIQUE\"],[\"rack_id\",\"LIKE\",\"rack-[12]\"],"
        "[\"rack_id\",\"GROUP_BY\",\"2\"]]",
        &n);
    struct mar_constraint *b = NULL, *other;

    ck_assert_int_eq(mar_constraints_dup(a, n, &b), 0);
    ck_assert(mar_constraints_equal(a, n, b, n));
    ck_assert_ptr_ne(a[1].value, b[1].value);
    ck_assert_int_eq(b[2].n, 2);
    /* The copy's regex stands alone once the original is gone. */
    mar_constraints_free(a, n);
    ck_assert(mar_constraints_match(b, n, &B, NULL, 0, NULL));
    ck_assert(!mar_constraints_match(b, n, &E, NULL, 0, NULL));

    other = parse_ok("[[\"hostname\",\"UNIQUE\"],[\"rack_id\",\"LIKE\","
                     "\"rack-[12]\"],[\"rack_id\",\"GROUP_BY\"]]",
                     &m);
    ck_assert(!mar_constraints_equal(b, n, other, m));
    ck_assert(!mar_constraints_equal(b, n, other, m - 1));
    ck_assert(mar_constraints_equal(b, 2, other, 2));
    ck_assert(!mar_constraints_equal(b + 1, 1, other, 1));
    mar_constraints_free(other, m);
    mar_constraints_free(b, n);

    ck_assert_int_eq(mar_constraints_dup(NULL, 0, &b), 0);
    ck_assert_ptr_null(b);
    ck_assert(mar_constraints_equal(NULL, 0, NULL, 0));
    mar_constraints_free(NULL, 0);
}
END_TEST

/* ---- label selectors ---- */

static int sel(const char *text, const struct mar_kv *labels, size_t n)
{
    const char *why = NULL;
    struct mar_label_sel *s = mar_label_sel_parse(text, &why);
    int r;

    ck_assert_msg(s != NULL, "%s: %s", text, why ? why : "");
    r = mar_label_sel_match(s, labels, n);
    mar_label_sel_free(s);
    return r;
}

static struct mar_kv prod[] = {{"env", "prod"}, {"tier", "web"}};
static struct mar_kv stage[] = {{"env", "stage"}};

START_TEST(test_sel_exists)
{
    ck_assert(sel("env", prod, 2));
    ck_assert(sel(" env , tier ", prod, 2));
    ck_assert(!sel("tier", stage, 1));
    ck_assert(!sel("en", prod, 2));
    ck_assert(sel("", stage, 1)); /* no selector: every app */
    ck_assert(sel("  ", NULL, 0));
}
END_TEST

START_TEST(test_sel_equality)
{
    ck_assert(sel("env==prod", prod, 2));
    ck_assert(sel("env == prod", prod, 2));
    ck_assert(!sel("env==prod", stage, 1));
    ck_assert(!sel("env==pro", prod, 2));
    ck_assert(sel("env!=prod", stage, 1));
    ck_assert(!sel("env!=prod", prod, 2));
    /* != needs the label, as in Marathon. */
    ck_assert(!sel("tier!=web", stage, 1));
    ck_assert(sel("env==prod,tier!=db", prod, 2));
    ck_assert(!sel("env==prod,tier!=web", prod, 2));
}
END_TEST

START_TEST(test_sel_sets)
{
    ck_assert(sel("env in (stage,prod)", prod, 2));
    ck_assert(sel("env in (stage, prod)", stage, 1));
    ck_assert(sel("env in(prod)", prod, 2));
    ck_assert(!sel("env in (qa)", prod, 2));
    ck_assert(!sel("env in ()", prod, 2));
    ck_assert(sel("tier notin (a,b)", prod, 2));
    ck_assert(!sel("tier notin (a, web)", prod, 2));
    ck_assert(!sel("tier notin (a,b)", stage, 1)); /* needs the label */
    ck_assert(sel("env in (stage,prod), tier notin (db), tier", prod, 2));
    ck_assert(sel("in", (struct mar_kv[]){{"in", "x"}}, 1)); /* a name */
}
END_TEST

START_TEST(test_sel_escapes)
{
    struct mar_kv odd[] = {
        {"{{{", "&&&"}, {"^^^", "&&&"}, {"###", "four"}, {"a b", "x,y"}};

    ck_assert(sel("\\{\\{\\{ in (\\*\\*\\*, \\&\\&\\&, \\$\\$\\$), "
                  "\\^\\^\\^ notin (\\-\\-\\-, \\!\\!\\!), \\#\\#\\#",
                  odd, 4));
    ck_assert(sel("a\\ b==x\\,y", odd, 4));
    ck_assert(!sel("a\\ b==x", odd, 4));
    ck_assert(sel("foo in (one, three\\ is\\ cool)",
                  (struct mar_kv[]){{"foo", "three is cool"}}, 1));
}
END_TEST

static void sel_bad(const char *text)
{
    const char *why = NULL;
    struct mar_label_sel *s = mar_label_sel_parse(text, &why);

    ck_assert_msg(s == NULL, "%s parsed", text);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strncmp(why, "Invalid label selector: ", 24) == 0, "%s", why);
}

START_TEST(test_sel_syntax_errors)
{
    sel_bad("foo some (one, two)");
    sel_bad("foo in one");
    sel_bad("foo test");
    sel_bad("foo==");
    sel_bad("foo!=");
    sel_bad("foo=bar");
    sel_bad("a,,b");
    sel_bad("a,");
    sel_bad(",a");
    sel_bad("foo in (a");
    sel_bad("foo in (a b)");
    sel_bad("foo in (a,)");
    sel_bad("foo\\");
    sel_bad("\\");
    sel_bad("env==prod)");
    sel_bad("a:b");
}
END_TEST

static Suite *constraint_suite(void)
{
    Suite *s = suite_create("mar_constraint");
    TCase *p = tcase_create("parse");
    TCase *m = tcase_create("match");
    TCase *k = tcase_create("kill");
    TCase *l = tcase_create("labels");

    tcase_add_test(p, test_parse_all_operators);
    tcase_add_test(p, test_parse_none);
    tcase_add_test(p, test_err_fields);
    tcase_add_test(p, test_err_operator);
    tcase_add_test(p, test_err_values);
    tcase_add_test(p, test_values_accepted);
    tcase_add_test(p, test_err_many);
    tcase_add_test(p, test_err_json_types);
    tcase_add_test(p, test_dup_equal_free);
    suite_add_tcase(s, p);

    tcase_add_test(m, test_unique_hostname);
    tcase_add_test(m, test_unique_attribute);
    tcase_add_test(m, test_cluster);
    tcase_add_test(m, test_group_by_balances);
    tcase_add_test(m, test_group_by_fewest);
    tcase_add_test(m, test_group_by_waits_for_n);
    tcase_add_test(m, test_like_unlike);
    tcase_add_test(m, test_regex_anchored);
    tcase_add_test(m, test_max_per);
    tcase_add_test(m, test_is);
    tcase_add_test(m, test_missing_attribute);
    tcase_add_test(m, test_why_and_all);
    suite_add_tcase(s, m);

    tcase_add_test(k, test_kill_plain);
    tcase_add_test(k, test_kill_keeps_balance);
    tcase_add_test(k, test_kill_scale_down_stays_even);
    suite_add_tcase(s, k);

    tcase_add_test(l, test_sel_exists);
    tcase_add_test(l, test_sel_equality);
    tcase_add_test(l, test_sel_sets);
    tcase_add_test(l, test_sel_escapes);
    tcase_add_test(l, test_sel_syntax_errors);
    suite_add_tcase(s, l);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(constraint_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
