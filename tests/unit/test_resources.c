/*
 * test_resources.c - agora/resources.h: parsing and its error messages,
 * formatting, and the arithmetic (add, subtract, contains, find, scalar).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <agora/resources.h>

/* Parses text, which must be valid. */
static struct agora_resources parse(const char *text)
{
    struct agora_resources r = {NULL, 0};
    char err[256] = "";
    int rc = agora_resources_parse(text, &r, err, sizeof(err));

    ck_assert_msg(rc == 0, "'%s' refused (%d): %s", text, rc, err);
    ck_assert_str_eq(err, "");
    return r;
}

/* The text of r, in a buffer that stays valid until the next call. */
static const char *fmt(const struct agora_resources *r)
{
    static char out[1024];
    size_t n = agora_resources_format(r, out, sizeof(out));

    ck_assert_uint_lt(n, sizeof(out));
    ck_assert_uint_eq(n, strlen(out));
    return out;
}

/* text parses and formats as want. */
static void expect_norm(const char *text, const char *want)
{
    struct agora_resources r = parse(text);

    ck_assert_msg(strcmp(fmt(&r), want) == 0, "'%s' gave '%s', want '%s'", text,
                  fmt(&r), want);
    agora_resources_free(&r);
}

/* text is refused with a message holding want; out stays empty. */
static void expect_error(const char *text, const char *want)
{
    struct agora_resources r = {NULL, 0};
    char err[256] = "";
    int rc = agora_resources_parse(text, &r, err, sizeof(err));

    ck_assert_msg(rc == AGORA_EINVAL, "'%s' gave %d, want EINVAL", text, rc);
    ck_assert_msg(r.v == NULL && r.n == 0, "'%s' left output", text);
    ck_assert_msg(strstr(err, want) != NULL, "'%s' said '%s', want '%s'", text,
                  err, want);
    ck_assert_msg(strchr(err, '\n') == NULL, "two lines: %s", err);
}

/* ---- parsing ---- */

START_TEST(test_parse_basic)
{
    struct agora_resources r =
        parse("cpus:2;mem:1024;disk:10000;ports:[31000-32000,33000-33010]");
    const struct agora_resource *p = agora_resources_find(&r, "ports", NULL);
    const struct agora_resource *c = agora_resources_find(&r, "cpus", "*");

    ck_assert_uint_eq(r.n, 4);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->type, AGORA_SCALAR);
    ck_assert(c->scalar == 2);
    ck_assert_str_eq(c->role, "*");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->type, AGORA_RANGES);
    ck_assert_uint_eq(p->nranges, 2);
    ck_assert(p->ranges[0].begin == 31000 && p->ranges[0].end == 32000);
    ck_assert(p->ranges[1].begin == 33000 && p->ranges[1].end == 33010);
    /* Held sorted by name, then role. */
    ck_assert_str_eq(fmt(&r), "cpus:2;disk:10000;mem:1024;ports:[31000-32000,"
                              "33000-33010]");
    agora_resources_free(&r);
    ck_assert_ptr_null(r.v);
    ck_assert_uint_eq(r.n, 0);
}
END_TEST

START_TEST(test_parse_roles)
{
    struct agora_resources r = parse("cpus(analytics):2;cpus:2");
    const struct agora_resource *a, *u;

    ck_assert_uint_eq(r.n, 2);
    a = agora_resources_find(&r, "cpus", "analytics");
    u = agora_resources_find(&r, "cpus", NULL);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(u);
    ck_assert_ptr_ne(a, u);
    ck_assert_str_eq(a->role, "analytics");
    ck_assert(a->scalar == 2 && u->scalar == 2);
    ck_assert(agora_resources_scalar(&r, "cpus") == 4);
    /* "*" first, then the roles in strcmp order. */
    ck_assert_str_eq(fmt(&r), "cpus:2;cpus(analytics):2");
    agora_resources_free(&r);

    expect_norm("cpus(*):1", "cpus:1");
    expect_norm("cpus(b):1;cpus(a):1;cpus(*):1;cpus(A-1.x_y):1",
                "cpus:1;cpus(A-1.x_y):1;cpus(a):1;cpus(b):1");
    expect_norm("mem(r1):512;mem(r1):512", "mem(r1):1024");
}
END_TEST

START_TEST(test_parse_ranges)
{
    expect_norm("ports:[33000-33010,31000-32000]",
                "ports:[31000-32000,33000-33010]");
    /* Overlapping and adjacent ranges merge. */
    expect_norm("ports:[1-5,3-8,9-10,20-20,12-12,11-11]", "ports:[1-12,20-20]");
    expect_norm("ports:[5-5]", "ports:[5-5]");
    expect_norm("ports:[1-2];ports:[3-4];ports:[10-11]", "ports:[1-4,10-11]");
    expect_norm("ports:[0-0,18446744073709551615-18446744073709551615]",
                "ports:[0-0,18446744073709551615-18446744073709551615]");
    expect_norm("ports:[0-18446744073709551615,5-6]",
                "ports:[0-18446744073709551615]");
    /* Empty ranges are dropped like any empty resource. */
    expect_norm("ports:[];cpus:1", "cpus:1");
}
END_TEST

START_TEST(test_parse_sets)
{
    struct agora_resources r = parse("disks:{ssd2,ssd1}");
    const struct agora_resource *d = agora_resources_find(&r, "disks", NULL);

    ck_assert_int_eq(d->type, AGORA_SET);
    ck_assert_uint_eq(d->nitems, 2);
    ck_assert_str_eq(d->items[0], "ssd1");
    ck_assert_str_eq(d->items[1], "ssd2");
    agora_resources_free(&r);

    expect_norm("disks:{b,a,b,c}", "disks:{a,b,c}");
    expect_norm("disks:{a};disks:{c,b}", "disks:{a,b,c}");
    expect_norm("disks:{}", "");
    expect_norm("gpus:{nvidia/0:x@y}", "gpus:{nvidia/0:x@y}");
}
END_TEST

START_TEST(test_parse_duplicates_add)
{
    expect_norm("cpus:1;cpus:1.5", "cpus:2.5");
    expect_norm("mem:512;cpus:1;mem:512", "cpus:1;mem:1024");
    expect_norm("cpus:0.1;cpus:0.2", "cpus:0.3");
    expect_norm("cpus(a):1;cpus:1;cpus(a):2", "cpus:1;cpus(a):3");
}
END_TEST

START_TEST(test_parse_whitespace)
{
    expect_norm("  cpus : 2 ; mem( r1 ) :\t1024 ;\n"
                "ports : [ 1 - 2 , 4 - 5 ] ; s : { a , b } ;  ",
                "cpus:2;mem(r1):1024;ports:[1-2,4-5];s:{a,b}");
    expect_norm("cpus:1;;mem:2;", "cpus:1;mem:2");
    expect_norm("", "");
    expect_norm(" ; ;\t", "");
}
END_TEST

START_TEST(test_parse_scalars)
{
    struct agora_resources r = parse("cpus:0.1;cpus:0.2");

    ck_assert(agora_resources_scalar(&r, "cpus") == 0.3);
    agora_resources_free(&r);

    expect_norm("cpus:0.1234", "cpus:0.123");
    expect_norm("cpus:0.1236", "cpus:0.124");
    expect_norm("cpus:0.0005", "cpus:0.001");
    expect_norm("cpus:2.5000", "cpus:2.5");
    expect_norm("cpus:0.125", "cpus:0.125");
    expect_norm("cpus:2.", "cpus:2");
    expect_norm("cpus:.5", "cpus:0.5");
    expect_norm("cpus:1e2", "cpus:100");
    expect_norm("cpus:1.5E-1", "cpus:0.15");
    expect_norm("mem:1048576", "mem:1048576");
    /* Zero, or less than half a thousandth, is nothing. */
    expect_norm("cpus:0;mem:1", "mem:1");
    expect_norm("cpus:0.0004", "");
    expect_norm("cpus:-0", "");
}
END_TEST

START_TEST(test_parse_error_name)
{
    expect_error(":2", "empty name");
    expect_error("(r):2", "empty name");
    expect_error("cpus:1; :2", "empty name in ':2'");
    expect_error("c$pus:2", "unexpected character after 'c'");
    expect_error("$:2", "invalid resource name");
    expect_error("{a}:2", "invalid resource name");
}
END_TEST

START_TEST(test_parse_error_colon)
{
    expect_error("cpus", "missing ':' after 'cpus'");
    expect_error("cpus 2", "missing ':' after 'cpus'");
    expect_error("cpus:1;mem", "missing ':' after 'mem' in 'mem'");
    expect_error("cpus(r)", "missing ':'");
    expect_error("cpus(r)x:1", "missing ':'");
}
END_TEST

START_TEST(test_parse_error_scalar)
{
    expect_error("cpus:-1", "negative value in 'cpus:-1'");
    expect_error("cpus:-0.5", "negative value");
    expect_error("cpus:abc", "not a number in 'cpus:abc'");
    expect_error("cpus:1.2.3", "not a number");
    expect_error("cpus:0x10", "not a number");
    expect_error("cpus:inf", "not a number");
    expect_error("cpus:nan", "not a number");
    expect_error("cpus:+1", "not a number");
    expect_error("cpus:1 2", "not a number");
    expect_error("cpus:1e", "not a number");
    expect_error("cpus:.", "not a number");
    expect_error("cpus:-", "not a number");
    expect_error("cpus:", "missing value");
    expect_error("cpus: ;mem:1", "missing value");
    expect_error("cpus:1e400", "value out of range");
}
END_TEST

START_TEST(test_parse_error_ranges)
{
    expect_error("ports:[5-1]", "bad range 5-1: begin > end");
    expect_error("ports:[1-2,9-3]", "begin > end");
    expect_error("ports:[1-2", "bad range: missing ']'");
    expect_error("ports:[1-2,3-4;cpus:1", "bad range: missing ']'");
    expect_error("ports:[1-", "bad range: missing ']'");
    expect_error("ports:[a-b]", "bad range: expected begin-end");
    expect_error("ports:[1]", "bad range");
    expect_error("ports:[1-2,]", "bad range");
    expect_error("ports:[-1-2]", "bad range");
    expect_error("ports:[1-2 3-4]", "bad range");
    expect_error("ports:[1-18446744073709551616]", "bad range");
    expect_error("ports:[1-2]x", "unexpected text after the value");
}
END_TEST

START_TEST(test_parse_error_sets)
{
    expect_error("disks:{a,,b}", "empty set item");
    expect_error("disks:{a, }", "empty set item");
    expect_error("disks:{a", "missing '}'");
    expect_error("disks:{a;b}", "missing '}'");
    expect_error("disks:{a{b}", "'{' inside a set");
    expect_error("disks:{a}}", "unexpected text after the value");
}
END_TEST

START_TEST(test_parse_error_roles)
{
    expect_error("cpus(a:2", "unbalanced parentheses");
    expect_error("cpus(a", "unbalanced parentheses");
    expect_error("cpus):2", "unbalanced parentheses");
    expect_error("cpus(a)):2", "unbalanced parentheses");
    expect_error("cpus((a)):2", "unbalanced parentheses");
    expect_error("cpus(a)(b):2", "unbalanced parentheses");
    expect_error("cpus():2", "empty role in 'cpus():2'");
    expect_error("cpus( ):2", "empty role");
    expect_error("cpus(..):2", "invalid role '..'");
    expect_error("cpus(.):2", "invalid role '.'");
    expect_error("cpus(a b):2", "invalid role");
    expect_error("cpus(a/b):2", "invalid role");
    expect_error("cpus(*a):2", "invalid role");
}
END_TEST

START_TEST(test_parse_error_type_conflict)
{
    expect_error("ports:2;ports:[1-2]",
                 "'ports' given as scalar and as ranges in 'ports:[1-2]'");
    expect_error("disks:{a};disks:3", "'disks' given as set and as scalar");
    /* A name has one type under every role. */
    expect_error("ports(a):[1-2];ports:{x}",
                 "'ports' given as ranges and as set");
    /* Even when the first one was zero. */
    expect_error("cpus:0;cpus:[1-2]", "given as scalar and as ranges");
}
END_TEST

/* Long items are cut in the message; a short buffer is never overrun. */
START_TEST(test_parse_error_buffers)
{
    struct agora_resources r = {NULL, 0};
    char text[300], err[256], small[8];

    memset(text, 'a', sizeof(text));
    memcpy(text, "cpus:", 5);
    text[sizeof(text) - 1] = '\0';
    ck_assert_int_eq(agora_resources_parse(text, &r, err, sizeof(err)),
                     AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not a number in 'cpus:aaa"));
    ck_assert_ptr_nonnull(strstr(err, "...'"));
    ck_assert_uint_lt(strlen(err), 100);

    memset(small, 'x', sizeof(small));
    ck_assert_int_eq(agora_resources_parse("cpus:-1", &r, small, 4),
                     AGORA_EINVAL);
    ck_assert_str_eq(small, "neg");
    ck_assert_int_eq(small[4], 'x');
    ck_assert_int_eq(agora_resources_parse("cpus:-1", &r, NULL, 0),
                     AGORA_EINVAL);
    ck_assert_int_eq(agora_resources_parse("cpus:-1", &r, small, 0),
                     AGORA_EINVAL);
    ck_assert_int_eq(agora_resources_parse(NULL, &r, err, sizeof(err)),
                     AGORA_EINVAL);
    ck_assert_ptr_null(r.v);
}
END_TEST

/* A failure after some good items leaves nothing behind (ASan checks
 * that nothing leaks either). */
START_TEST(test_parse_error_cleans)
{
    expect_error("cpus:1;mem:2;ports:[1-2];disks:{a};cpus(x):1;bad:",
                 "missing value in 'bad:'");
    expect_error("cpus:1;disks:{a,b", "missing '}'");
    expect_error("cpus:1;ports:[1-2,3-", "missing ']'");
}
END_TEST

/* ---- formatting ---- */

START_TEST(test_format_roundtrip)
{
    static const char *const texts[] = {
        ("cpus:2;cpus(analytics):2.5;disk:10000;disks:{a,b};mem:1024;"
         "ports:[31000-32000,33000-33010]"),
        "cpus:0.001",
        "gpus(r.1):{x}",
        "",
    };
    size_t i;

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct agora_resources a = parse(texts[i]), b;
        char once[512];

        strcpy(once, fmt(&a));
        ck_assert_str_eq(once, texts[i]);
        b = parse(once);
        ck_assert_str_eq(fmt(&b), once);
        agora_resources_free(&a);
        agora_resources_free(&b);
    }
}
END_TEST

/* The whole text, allocated: as agora_resources_format() writes it. */
START_TEST(test_text)
{
    struct agora_resources r = parse("cpus:2;mem:1024;ports:[1-3]");
    char out[64], *s = agora_resources_text(&r);

    ck_assert_ptr_nonnull(s);
    agora_resources_format(&r, out, sizeof(out));
    ck_assert_str_eq(s, out);
    free(s);
    s = agora_resources_text(NULL);
    ck_assert_str_eq(s, "");
    free(s);
    agora_resources_free(&r);
}
END_TEST

/* As snprintf: the needed length, and a terminated prefix. */
START_TEST(test_format_truncated)
{
    struct agora_resources r = parse("cpus:2;mem:1024");
    char out[8];

    memset(out, 'x', sizeof(out));
    ck_assert_uint_eq(agora_resources_format(&r, out, 5), 15);
    ck_assert_str_eq(out, "cpus");
    ck_assert_int_eq(out[5], 'x');
    ck_assert_uint_eq(agora_resources_format(&r, NULL, 0), 15);
    ck_assert_uint_eq(agora_resources_format(&r, out, 1), 15);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(agora_resources_format(NULL, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    agora_resources_free(&r);
}
END_TEST

/* A list built by hand is formatted in the order it is held; a NULL
 * role is "*". */
START_TEST(test_format_by_hand)
{
    struct agora_range ports[] = {{5, 6}, {1, 2}};
    char *items[] = {"z", "y"};
    struct agora_resource v[] = {
        {.name = "mem", .role = NULL, .type = AGORA_SCALAR, .scalar = 64},
        {.name = "ports",
         .role = "r",
         .type = AGORA_RANGES,
         .ranges = ports,
         .nranges = 2},
        {.name = "s",
         .role = "*",
         .type = AGORA_SET,
         .items = items,
         .nitems = 2},
        {.name = "cpus", .role = NULL, .type = AGORA_SCALAR, .scalar = 0.25},
    };
    struct agora_resources r = {v, 4};

    ck_assert_str_eq(fmt(&r), "mem:64;ports(r):[5-6,1-2];s:{z,y};cpus:0.25");
}
END_TEST

/* The scalar the format would write by snprintf("%.3f"), without
 * trailing zeros: what format_scalar's integer path must match. */
static void scalar_by_printf(double v, char *out, size_t size)
{
    double r = round(v * 1000) / 1000;
    size_t n;

    snprintf(out, size, "%.3f", r == 0 ? 0 : r);
    n = strlen(out);
    while (n > 0 && out[n - 1] == '0')
        n--;
    if (n > 0 && out[n - 1] == '.')
        n--;
    out[n] = '\0';
}

/* Scalars are written without snprintf() below 1e12 and with it above:
 * the same text either way, at every rounding edge. */
START_TEST(test_format_scalars_as_printf)
{
    static const double edges[] = {0,      0.0004,     0.0005,   0.0015,
                                   0.1,    0.125,      0.3,      0.9995,
                                   1,      2.5,        31000,    1e6 + 0.001,
                                   123456789.1239, 999999999999.9994,
                                   1e12,   1e15 + 0.5, -0.0004,  -2.5,
                                   1e300};
    struct agora_resource v = {.name = "x", .type = AGORA_SCALAR};
    struct agora_resources r = {&v, 1};
    char want[400], got[400];
    unsigned i;

    for (i = 0; i < sizeof(edges) / sizeof(edges[0]) + 20000; i++) {
        v.scalar = i < sizeof(edges) / sizeof(edges[0])
                       ? edges[i]
                       : (double)(i * 7919u % 100003u) / (i % 7 ? 1000 : 8);
        scalar_by_printf(v.scalar, want, sizeof(want));
        agora_resources_format(&r, got, sizeof(got));
        ck_assert_msg(strncmp(got, "x:", 2) == 0 && strcmp(got + 2, want) == 0,
                      "%.17g: '%s', printf '%s'", v.scalar, got, want);
    }
}
END_TEST

/* agora_resources_text() longer than its stack buffer: the whole text. */
START_TEST(test_text_long)
{
    struct agora_range ports[40];
    struct agora_resource v = {.name = "ports", .type = AGORA_RANGES,
                               .ranges = ports, .nranges = 40};
    struct agora_resources r = {&v, 1};
    char *text;
    unsigned i;

    for (i = 0; i < 40; i++)
        ports[i] = (struct agora_range){31000 + 10 * i, 31005 + 10 * i};
    text = agora_resources_text(&r);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_gt(strlen(text), 256);
    ck_assert_str_eq(text, fmt(&r));
    ck_assert(strncmp(text, "ports:[31000-31005,31010-31015,", 31) == 0);
    free(text);
}
END_TEST

/* ---- copy, add, subtract ---- */

START_TEST(test_copy)
{
    struct agora_resources a = parse("cpus:2;disks:{a};ports:[1-3]");
    struct agora_resources b = {NULL, 0};

    ck_assert_int_eq(agora_resources_copy(&b, &a), 0);
    ck_assert_str_eq(fmt(&b), "cpus:2;disks:{a};ports:[1-3]");
    ck_assert_ptr_ne(a.v, b.v);
    ck_assert_ptr_ne(a.v[0].name, b.v[0].name);
    ck_assert_ptr_ne(a.v[1].items, b.v[1].items);
    ck_assert_ptr_ne(a.v[2].ranges, b.v[2].ranges);
    agora_resources_free(&a);
    ck_assert_str_eq(fmt(&b), "cpus:2;disks:{a};ports:[1-3]");
    agora_resources_free(&b);

    ck_assert_int_eq(agora_resources_copy(&b, NULL), 0);
    ck_assert_uint_eq(b.n, 0);
    ck_assert_int_eq(agora_resources_copy(NULL, &a), AGORA_EINVAL);
}
END_TEST

/* A hand-built list comes out of copy in normal form. */
START_TEST(test_copy_normalizes)
{
    struct agora_range ports[] = {{5, 6}, {1, 4}};
    char *items[] = {"z", "y", "z"};
    struct agora_resource v[] = {
        {.name = "ports",
         .role = NULL,
         .type = AGORA_RANGES,
         .ranges = ports,
         .nranges = 2},
        {.name = "s", .type = AGORA_SET, .items = items, .nitems = 3},
        {.name = "cpus", .type = AGORA_SCALAR, .scalar = 0.25},
        {.name = "cpus", .type = AGORA_SCALAR, .scalar = 0.7504},
        {.name = "mem", .type = AGORA_SCALAR, .scalar = 0},
    };
    struct agora_resources r = {v, 5}, c = {NULL, 0};

    ck_assert_int_eq(agora_resources_copy(&c, &r), 0);
    ck_assert_str_eq(fmt(&c), "cpus:1;ports:[1-6];s:{y,z}");
    ck_assert_str_eq(c.v[0].role, "*");
    agora_resources_free(&c);
}
END_TEST

/* Invalid hand-built resources are refused, leaving dst empty. */
START_TEST(test_copy_invalid)
{
    struct agora_range bad_range[] = {{5, 1}};
    struct agora_resource v[] = {
        {.name = "cpus", .type = AGORA_SCALAR, .scalar = 1},
        {.name = NULL, .type = AGORA_SCALAR, .scalar = 1},
        {.name = "bad name", .type = AGORA_SCALAR, .scalar = 1},
        {.name = "cpus", .role = "..", .type = AGORA_SCALAR, .scalar = 1},
        {.name = "cpus", .type = AGORA_SCALAR, .scalar = -1},
        {.name = "ports",
         .type = AGORA_RANGES,
         .ranges = bad_range,
         .nranges = 1},
        {.name = "x", .type = (enum agora_value_type)7},
        {.name = "cpus", .type = AGORA_RANGES},
    };
    size_t i;

    for (i = 1; i < sizeof(v) / sizeof(v[0]); i++) {
        struct agora_resource two[2] = {v[0], v[i]};
        struct agora_resources r = {two, 2}, c = {NULL, 0};

        ck_assert_msg(agora_resources_copy(&c, &r) == AGORA_EINVAL,
                      "entry %zu taken", i);
        ck_assert(c.v == NULL && c.n == 0);
    }
}
END_TEST

START_TEST(test_add)
{
    struct agora_resources a = parse("cpus:1;ports:[1-5];disks:{a}");
    struct agora_resources b =
        parse("cpus:0.5;ports:[6-10,20-21];mem:10;disks:{b,a};cpus(r):1");

    ck_assert_int_eq(agora_resources_add(&a, &b), 0);
    ck_assert_str_eq(fmt(&a), "cpus:1.5;cpus(r):1;disks:{a,b};mem:10;"
                              "ports:[1-10,20-21]");
    /* b is untouched. */
    ck_assert_str_eq(fmt(&b), "cpus:0.5;cpus(r):1;disks:{a,b};mem:10;"
                              "ports:[6-10,20-21]");
    agora_resources_free(&b);

    /* Adding a list to itself doubles it. */
    ck_assert_int_eq(agora_resources_add(&a, &a), 0);
    ck_assert_str_eq(fmt(&a), "cpus:3;cpus(r):2;disks:{a,b};mem:20;"
                              "ports:[1-10,20-21]");
    ck_assert_int_eq(agora_resources_add(&a, NULL), 0);
    ck_assert_uint_eq(a.n, 5);
    agora_resources_free(&a);

    /* Into an empty list. */
    b = parse("cpus:0.1");
    ck_assert_int_eq(agora_resources_add(&a, &b), 0);
    ck_assert_int_eq(agora_resources_add(&a, &b), 0);
    ck_assert_int_eq(agora_resources_add(&a, &b), 0);
    ck_assert_str_eq(fmt(&a), "cpus:0.3");
    ck_assert(agora_resources_scalar(&a, "cpus") == 0.3);
    agora_resources_free(&a);
    agora_resources_free(&b);
    ck_assert_int_eq(agora_resources_add(NULL, &b), AGORA_EINVAL);
}
END_TEST

/* A type conflict is refused and dst is left as it was. */
START_TEST(test_add_conflict)
{
    struct agora_resources a = parse("cpus:1;ports:[1-5]");
    struct agora_resources b = parse("mem:5;ports(r):7");
    struct agora_resource *v = a.v;

    ck_assert_int_eq(agora_resources_add(&a, &b), AGORA_EINVAL);
    ck_assert_ptr_eq(a.v, v);
    ck_assert_str_eq(fmt(&a), "cpus:1;ports:[1-5]");
    agora_resources_free(&a);
    agora_resources_free(&b);
}
END_TEST

START_TEST(test_subtract)
{
    struct agora_resources a =
        parse("cpus:4;mem:1024;ports:[31000-32000];disks:{a,b,c}");
    struct agora_resources b = parse("cpus:1.5;ports:[31005-31005];"
                                     "disks:{b}");

    ck_assert_int_eq(agora_resources_subtract(&a, &b), 0);
    /* Taking a middle port splits its range in two. */
    ck_assert_str_eq(fmt(&a), "cpus:2.5;disks:{a,c};mem:1024;"
                              "ports:[31000-31004,31006-32000]");
    agora_resources_free(&b);

    /* Edges, and a range spanning what used to be one range. */
    b = parse("ports:[31000-31000,32000-32000,31003-31004,31006-31007]");
    ck_assert_int_eq(agora_resources_subtract(&a, &b), 0);
    ck_assert_str_eq(fmt(&a), "cpus:2.5;disks:{a,c};mem:1024;"
                              "ports:[31001-31002,31008-31999]");
    agora_resources_free(&b);

    /* What reaches zero or empty is removed. */
    b = parse("cpus:2.5;disks:{a,c};ports:[31001-31002,31008-31999]");
    ck_assert_int_eq(agora_resources_subtract(&a, &b), 0);
    ck_assert_str_eq(fmt(&a), "mem:1024");
    ck_assert_ptr_null(agora_resources_find(&a, "cpus", NULL));
    agora_resources_free(&b);
    agora_resources_free(&a);
}
END_TEST

START_TEST(test_subtract_rounding)
{
    struct agora_resources a = parse("cpus:0.3");
    struct agora_resources b = parse("cpus:0.1");
    struct agora_resources c = parse("cpus:0.2");

    ck_assert_int_eq(agora_resources_subtract(&a, &b), 0);
    ck_assert_str_eq(fmt(&a), "cpus:0.2");
    ck_assert_int_eq(agora_resources_subtract(&a, &c), 0);
    ck_assert_uint_eq(a.n, 0);
    ck_assert_ptr_null(a.v);
    agora_resources_free(&a);
    agora_resources_free(&b);
    agora_resources_free(&c);
}
END_TEST

/* Checks that a - b is refused and a unchanged. */
static void expect_not_subtracted(const char *a_text, const char *b_text)
{
    struct agora_resources a = parse(a_text), b = parse(b_text);
    char before[512];
    struct agora_resource *v = a.v;

    strcpy(before, fmt(&a));
    ck_assert_msg(agora_resources_subtract(&a, &b) == AGORA_EINVAL,
                  "'%s' - '%s' accepted", a_text, b_text);
    ck_assert_ptr_eq(a.v, v);
    ck_assert_str_eq(fmt(&a), before);
    agora_resources_free(&a);
    agora_resources_free(&b);
}

START_TEST(test_subtract_refused)
{
    expect_not_subtracted("cpus:1;mem:10", "cpus:1.001");
    expect_not_subtracted("cpus:1;mem:10", "cpus:1;disk:1");
    expect_not_subtracted("cpus:2", "cpus(a):1");
    expect_not_subtracted("cpus(a):2", "cpus:1");
    expect_not_subtracted("ports:[1-10]", "ports:[5-11]");
    expect_not_subtracted("ports:[1-10,12-20]", "ports:[10-12]");
    expect_not_subtracted("disks:{a,b}", "disks:{c}");
    expect_not_subtracted("ports:[1-10]", "ports:{1}");
    expect_not_subtracted("cpus:1", "cpus:[1-1]");
}
END_TEST

START_TEST(test_subtract_self_and_empty)
{
    struct agora_resources a = parse("cpus:1;ports:[1-2];s:{x}");
    struct agora_resources none = {NULL, 0};

    ck_assert_int_eq(agora_resources_subtract(&a, &none), 0);
    ck_assert_int_eq(agora_resources_subtract(&a, NULL), 0);
    ck_assert_str_eq(fmt(&a), "cpus:1;ports:[1-2];s:{x}");
    ck_assert_int_eq(agora_resources_subtract(&a, &a), 0);
    ck_assert_uint_eq(a.n, 0);
    ck_assert_int_eq(agora_resources_subtract(&none, &none), 0);
    ck_assert_int_eq(agora_resources_subtract(NULL, &a), AGORA_EINVAL);
}
END_TEST

/* ---- queries ---- */

static int contains(const char *a_text, const char *b_text)
{
    struct agora_resources a = parse(a_text), b = parse(b_text);
    int c = agora_resources_contains(&a, &b);

    agora_resources_free(&a);
    agora_resources_free(&b);
    return c;
}

START_TEST(test_contains)
{
    const char *offer = "cpus:4;cpus(r):1;mem:1024;ports:[31000-31010,"
                        "31020-31030];disks:{a,b}";

    ck_assert_int_eq(contains(offer, ""), 1);
    ck_assert_int_eq(contains(offer, offer), 1);
    ck_assert_int_eq(contains(offer, "cpus:4;mem:1024"), 1);
    ck_assert_int_eq(contains(offer, "cpus:4.001"), 0);
    ck_assert_int_eq(contains(offer, "cpus(r):1"), 1);
    ck_assert_int_eq(contains(offer, "cpus(r):2"), 0);
    ck_assert_int_eq(contains(offer, "cpus(other):1"), 0);
    ck_assert_int_eq(contains(offer, "gpus:1"), 0);
    ck_assert_int_eq(contains(offer, "ports:[31000-31010]"), 1);
    ck_assert_int_eq(contains(offer, "ports:[31005-31006,31030-31030]"), 1);
    ck_assert_int_eq(contains(offer, "ports:[31010-31020]"), 0);
    ck_assert_int_eq(contains(offer, "ports:[31031-31031]"), 0);
    ck_assert_int_eq(contains(offer, "disks:{b}"), 1);
    ck_assert_int_eq(contains(offer, "disks:{b,c}"), 0);
    ck_assert_int_eq(contains(offer, "mem:[1-2]"), 0);
    ck_assert_int_eq(contains("", "cpus:1"), 0);
    ck_assert_int_eq(contains("", ""), 1);
    ck_assert_int_eq(agora_resources_contains(NULL, NULL), 1);
}
END_TEST

/* Lists built by hand: ranges neither sorted nor merged, a name and
 * role held twice. */
START_TEST(test_contains_by_hand)
{
    struct agora_range ar[] = {{6, 10}, {1, 5}};
    struct agora_range br[] = {{4, 7}};
    struct agora_resource av[] = {
        {.name = "ports", .type = AGORA_RANGES, .ranges = ar, .nranges = 2},
        {.name = "cpus", .type = AGORA_SCALAR, .scalar = 1.5},
    };
    struct agora_resource bv[] = {
        {.name = "ports",
         .role = "*",
         .type = AGORA_RANGES,
         .ranges = br,
         .nranges = 1},
        {.name = "cpus", .type = AGORA_SCALAR, .scalar = 1},
        {.name = "cpus", .type = AGORA_SCALAR, .scalar = 1},
    };
    struct agora_resources a = {av, 2}, b = {bv, 2}, b2 = {bv, 3};

    ck_assert_int_eq(agora_resources_contains(&a, &b), 1);
    /* 1 + 1 is more than 1.5. */
    ck_assert_int_eq(agora_resources_contains(&a, &b2), 0);
}
END_TEST

START_TEST(test_find)
{
    struct agora_resources r = parse("cpus:1;cpus(a):2;ports:[1-2]");
    const struct agora_resource *f;

    f = agora_resources_find(&r, "cpus", NULL);
    ck_assert(f && f->scalar == 1);
    f = agora_resources_find(&r, "cpus", "*");
    ck_assert(f && f->scalar == 1);
    f = agora_resources_find(&r, "cpus", "a");
    ck_assert(f && f->scalar == 2);
    ck_assert_ptr_null(agora_resources_find(&r, "cpus", "b"));
    ck_assert_ptr_null(agora_resources_find(&r, "ports", "a"));
    ck_assert_ptr_null(agora_resources_find(&r, "mem", NULL));
    ck_assert_ptr_null(agora_resources_find(&r, NULL, NULL));
    ck_assert_ptr_null(agora_resources_find(NULL, "cpus", NULL));
    agora_resources_free(&r);
}
END_TEST

START_TEST(test_scalar)
{
    struct agora_resources r =
        parse("cpus:1.25;cpus(a):2;cpus(b):0.5;ports:[1-2];mem:64");

    ck_assert(agora_resources_scalar(&r, "cpus") == 3.75);
    ck_assert(agora_resources_scalar(&r, "mem") == 64);
    ck_assert(agora_resources_scalar(&r, "gpus") == 0);
    ck_assert(agora_resources_scalar(&r, "ports") == 0);
    ck_assert(agora_resources_scalar(&r, NULL) == 0);
    ck_assert(agora_resources_scalar(NULL, "cpus") == 0);
    agora_resources_free(&r);
    agora_resources_free(&r); /* freeing twice is harmless */
    agora_resources_free(NULL);
}
END_TEST

static Suite *resources_suite(void)
{
    Suite *s = suite_create("resources");
    TCase *p = tcase_create("parse");
    TCase *e = tcase_create("parse_errors");
    TCase *f = tcase_create("format");
    TCase *m = tcase_create("arithmetic");
    TCase *q = tcase_create("queries");

    tcase_add_test(p, test_parse_basic);
    tcase_add_test(p, test_parse_roles);
    tcase_add_test(p, test_parse_ranges);
    tcase_add_test(p, test_parse_sets);
    tcase_add_test(p, test_parse_duplicates_add);
    tcase_add_test(p, test_parse_whitespace);
    tcase_add_test(p, test_parse_scalars);
    suite_add_tcase(s, p);

    tcase_add_test(e, test_parse_error_name);
    tcase_add_test(e, test_parse_error_colon);
    tcase_add_test(e, test_parse_error_scalar);
    tcase_add_test(e, test_parse_error_ranges);
    tcase_add_test(e, test_parse_error_sets);
    tcase_add_test(e, test_parse_error_roles);
    tcase_add_test(e, test_parse_error_type_conflict);
    tcase_add_test(e, test_parse_error_buffers);
    tcase_add_test(e, test_parse_error_cleans);
    suite_add_tcase(s, e);

    tcase_add_test(f, test_format_roundtrip);
    tcase_add_test(f, test_format_truncated);
    tcase_add_test(f, test_text);
    tcase_add_test(f, test_format_by_hand);
    tcase_add_test(f, test_format_scalars_as_printf);
    tcase_add_test(f, test_text_long);
    suite_add_tcase(s, f);

    tcase_add_test(m, test_copy);
    tcase_add_test(m, test_copy_normalizes);
    tcase_add_test(m, test_copy_invalid);
    tcase_add_test(m, test_add);
    tcase_add_test(m, test_add_conflict);
    tcase_add_test(m, test_subtract);
    tcase_add_test(m, test_subtract_rounding);
    tcase_add_test(m, test_subtract_refused);
    tcase_add_test(m, test_subtract_self_and_empty);
    suite_add_tcase(s, m);

    tcase_add_test(q, test_contains);
    tcase_add_test(q, test_contains_by_hand);
    tcase_add_test(q, test_find);
    tcase_add_test(q, test_scalar);
    suite_add_tcase(s, q);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(resources_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
