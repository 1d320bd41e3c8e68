/*
 * test_conf.c - flags, environment and config directories, in that order.
 */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"

struct tconf {
    char *ip;
    int64_t port;
    double timeout;
    int verbose;
    double ratio;
};

static const conf_field table[] = {
    {"ip", AGORA_CONF_STRING, "0.0.0.0", offsetof(struct tconf, ip), "ip"},
    {"port", AGORA_CONF_INT, "5050", offsetof(struct tconf, port), "port"},
    {"timeout", AGORA_CONF_DURATION, "15secs",
     offsetof(struct tconf, timeout), "timeout"},
    {"verbose", AGORA_CONF_BOOL, "false", offsetof(struct tconf, verbose),
     "verbose"},
    {"ratio", AGORA_CONF_DOUBLE, "0.5", offsetof(struct tconf, ratio),
     "ratio"},
    {NULL, 0, NULL, 0, NULL},
};

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    strcpy(dir, "/tmp/agora-conf-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    unsetenv("AGORA_PORT");
    unsetenv("AGORA_IP");
    unsetenv("AGORA_TIMEOUT");
    unsetenv("AGORA_CONFIG_DIR");
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static int parse(struct tconf *c, int argc, char **argv, char *err)
{
    memset(c, 0, sizeof(*c));
    return conf_parse(table, c, argc, argv, dir, "test", err, 256);
}

START_TEST(defaults)
{
    char *argv[] = {"prog", NULL};
    struct tconf c;
    char err[256];

    ck_assert_int_eq(parse(&c, 1, argv, err), 0);
    ck_assert_str_eq(c.ip, "0.0.0.0");
    ck_assert_int_eq(c.port, 5050);
    ck_assert_double_eq(c.timeout, 15);
    ck_assert_int_eq(c.verbose, 0);
    ck_assert_double_eq(c.ratio, 0.5);
    conf_release(table, &c);
}
END_TEST

START_TEST(precedence)
{
    char *with_flag[] = {"prog", "--port=7000", NULL};
    char *no_flag[] = {"prog", NULL};
    struct tconf c;
    char err[256];

    write_file("port", "9000\n");
    write_file("ip", "  10.0.0.1  \n");
    /* file only */
    ck_assert_int_eq(parse(&c, 1, no_flag, err), 0);
    ck_assert_int_eq(c.port, 9000);
    ck_assert_str_eq(c.ip, "10.0.0.1");
    conf_release(table, &c);
    /* env over file */
    setenv("AGORA_PORT", "8000", 1);
    ck_assert_int_eq(parse(&c, 1, no_flag, err), 0);
    ck_assert_int_eq(c.port, 8000);
    ck_assert_str_eq(c.ip, "10.0.0.1");
    conf_release(table, &c);
    /* flag over env */
    ck_assert_int_eq(parse(&c, 2, with_flag, err), 0);
    ck_assert_int_eq(c.port, 7000);
    conf_release(table, &c);
    unsetenv("AGORA_PORT");
}
END_TEST

START_TEST(config_dir_flag)
{
    char other[64], path[128], arg[96];
    char *argv[] = {"prog", arg, NULL};
    struct tconf c;
    char err[256];
    FILE *f;

    strcpy(other, "/tmp/agora-conf2-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(other));
    snprintf(path, sizeof(path), "%s/port", other);
    f = fopen(path, "w");
    fputs("6000", f);
    fclose(f);
    snprintf(arg, sizeof(arg), "--config_dir=%s", other);
    write_file("port", "9000");
    ck_assert_int_eq(parse(&c, 2, argv, err), 0);
    ck_assert_int_eq(c.port, 6000);
    conf_release(table, &c);
    unlink(path);
    rmdir(other);
}
END_TEST

START_TEST(flag_forms)
{
    char *argv[] = {"prog", "--port", "81", "--verbose", "--timeout=250ms",
                    "--ip=::1", NULL};
    char *neg[] = {"prog", "--verbose=true", "--no-verbose", NULL};
    struct tconf c;
    char err[256];

    ck_assert_int_eq(parse(&c, 6, argv, err), 0);
    ck_assert_int_eq(c.port, 81);
    ck_assert_int_eq(c.verbose, 1);
    ck_assert_double_eq_tol(c.timeout, 0.25, 1e-9);
    ck_assert_str_eq(c.ip, "::1");
    conf_release(table, &c);
    ck_assert_int_eq(parse(&c, 3, neg, err), 0);
    ck_assert_int_eq(c.verbose, 0);
    conf_release(table, &c);
}
END_TEST

START_TEST(errors)
{
    char *unknown[] = {"prog", "--nope=1", NULL};
    char *badint[] = {"prog", "--port=80x", NULL};
    char *baddur[] = {"prog", "--timeout=5 parsecs", NULL};
    char *missing[] = {"prog", "--port", NULL};
    char *positional[] = {"prog", "serve", NULL};
    struct tconf c;
    char err[256];

    ck_assert_int_eq(parse(&c, 2, unknown, err), AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "unknown flag --nope"));
    conf_release(table, &c);
    ck_assert_int_eq(parse(&c, 2, badint, err), AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "'80x' is not an integer"));
    conf_release(table, &c);
    ck_assert_int_eq(parse(&c, 2, baddur, err), AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not a duration"));
    conf_release(table, &c);
    ck_assert_int_eq(parse(&c, 2, missing, err), AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "needs a value"));
    conf_release(table, &c);
    ck_assert_int_eq(parse(&c, 2, positional, err), AGORA_EINVAL);
    conf_release(table, &c);
    /* A bad value in the environment names its source. */
    setenv("AGORA_PORT", "eighty", 1);
    ck_assert_int_eq(parse(&c, 1, unknown, err), AGORA_EINVAL);
    conf_release(table, &c);
    {
        char *ok[] = {"prog", NULL};

        ck_assert_int_eq(parse(&c, 1, ok, err), AGORA_EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "AGORA_PORT"));
        conf_release(table, &c);
    }
    unsetenv("AGORA_PORT");
}
END_TEST

START_TEST(durations)
{
    static const struct {
        const char *text;
        double secs;
    } ok[] = {{"10", 10},         {"10secs", 10},   {"2mins", 120},
              {"50ms", 0.05},     {"1hrs", 3600},   {"1.5days", 129600},
              {"2weeks", 1209600}, {"100us", 1e-4}, {"3 s", 3}};
    static const char *bad[] = {"", "secs", "-1secs", "5 parsecs", "1e999"};
    size_t i;
    double v;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_int_eq(conf_duration_parse(ok[i].text, &v), 0);
        ck_assert_double_eq_tol(v, ok[i].secs, 1e-9);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(conf_duration_parse(bad[i], &v), AGORA_EINVAL);
}
END_TEST

/* Mesos' file:///path form: the file's one line, trimmed. */
START_TEST(file_values)
{
    char url[160], err[256];
    char *v;

    write_file("zk", "  zk://10.0.0.1:2181,10.0.0.2:2181/mesos\n");
    snprintf(url, sizeof(url), "file://%s/zk", dir);
    v = strdup(url);
    ck_assert_int_eq(conf_resolve_file(&v, err, sizeof(err)), 0);
    ck_assert_str_eq(v, "zk://10.0.0.1:2181,10.0.0.2:2181/mesos");
    /* Anything else is left as it is. */
    ck_assert_int_eq(conf_resolve_file(&v, err, sizeof(err)), 0);
    ck_assert_str_eq(v, "zk://10.0.0.1:2181,10.0.0.2:2181/mesos");
    free(v);
    v = NULL;
    ck_assert_int_eq(conf_resolve_file(&v, err, sizeof(err)), 0);

    write_file("two", "zk://a:1/x\nzk://b:1/y\n");
    snprintf(url, sizeof(url), "file://%s/two", dir);
    v = strdup(url);
    ck_assert_int_lt(conf_resolve_file(&v, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(err, "want one line"));
    ck_assert_str_eq(v, url); /* unchanged on error */
    free(v);

    snprintf(url, sizeof(url), "file://%s/absent", dir);
    v = strdup(url);
    ck_assert_int_lt(conf_resolve_file(&v, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(err, "no such file"));
    free(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("parse");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, precedence);
    tcase_add_test(tc, config_dir_flag);
    tcase_add_test(tc, flag_forms);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, durations);
    tcase_add_test(tc, file_values);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
