/*
 * test_abi.c - what the loader refuses, and the message it gives.
 */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin_api.h"
#include "plugins.h"

static int t_init(struct agora_host *h, const struct agora_api *api,
                  const void *conf, void **state)
{
    (void)h;
    (void)api;
    (void)conf;
    *state = NULL;
    return 0;
}

static void t_fini(void *state) { (void)state; }

struct tconf {
    const char *greeting;
    int64_t workers;
    int enabled;
    double interval;
};

static const struct agora_conf_field fields[] = {
    {"greeting", AGORA_CONF_STRING, "hi", offsetof(struct tconf, greeting),
     ""},
    {"workers", AGORA_CONF_INT, "4", offsetof(struct tconf, workers), ""},
    {"enabled", AGORA_CONF_BOOL, "true", offsetof(struct tconf, enabled), ""},
    {"interval", AGORA_CONF_DURATION, "1secs",
     offsetof(struct tconf, interval), ""},
    {NULL, 0, NULL, 0, NULL},
};

static struct agora_plugin good(void)
{
    struct agora_plugin d;

    memset(&d, 0, sizeof(d));
    d.abi_major = AGORA_ABI_MAJOR;
    d.abi_minor = AGORA_ABI_MINOR;
    d.size = sizeof(d);
    d.name = "good_one";
    d.version = "1.0";
    d.conf = fields;
    d.conf_size = sizeof(struct tconf);
    d.init = t_init;
    d.fini = t_fini;
    return d;
}

static void expect_refused(const struct agora_plugin *d, const char *words)
{
    char err[512] = "";

    ck_assert_int_eq(plugin_check_descriptor(d, err, sizeof(err)),
                     AGORA_EINVAL);
    ck_assert_msg(strstr(err, words) != NULL, "'%s' not in '%s'", words, err);
}

START_TEST(accepts_current)
{
    struct agora_plugin d = good();
    char err[512];

    ck_assert_int_eq(plugin_check_descriptor(&d, err, sizeof(err)), 0);
}
END_TEST

START_TEST(major_mismatch)
{
    struct agora_plugin d = good();
    char want[64];

    d.abi_major = AGORA_ABI_MAJOR + 1;
    expect_refused(&d, "ABI mismatch");
    snprintf(want, sizeof(want), "ABI %d.%d, this master speaks %d.%d",
             AGORA_ABI_MAJOR + 1, AGORA_ABI_MINOR, AGORA_ABI_MAJOR,
             AGORA_ABI_MINOR);
    expect_refused(&d, want);
    d.abi_major = 0;
    expect_refused(&d, "ABI mismatch");
}
END_TEST

START_TEST(newer_minor)
{
    struct agora_plugin d = good();

    d.abi_minor = AGORA_ABI_MINOR + 1;
    expect_refused(&d, "minor not newer");
}
END_TEST

START_TEST(size_mismatch)
{
    struct agora_plugin d = good();

    d.size = sizeof(d) - 8;
    expect_refused(&d, "descriptor size");
    d.size = 12;
    expect_refused(&d, "descriptor size");
}
END_TEST

START_TEST(names)
{
    struct agora_plugin d = good();

    d.name = "Bad-Name";
    expect_refused(&d, "invalid plugin name 'Bad-Name'");
    d.name = "";
    expect_refused(&d, "invalid plugin name");
    d.name = NULL;
    expect_refused(&d, "invalid plugin name '(null)'");
    d = good();
    d.version = "";
    expect_refused(&d, "no version");
}
END_TEST

START_TEST(required_callbacks)
{
    struct agora_plugin d = good();

    d.init = NULL;
    expect_refused(&d, "lacks a required callback (init)");
    d = good();
    d.fini = NULL;
    expect_refused(&d, "lacks a required callback (fini)");
    d = good();
    d.conf_size = 0;
    expect_refused(&d, "conf_size 0");
}
END_TEST

/* Writes text to a temporary conf file and reads it. */
static int read_conf(const char *text, struct plugin_conf *c, char *err)
{
    char path[] = "/tmp/agora-abi-XXXXXX";
    int fd = mkstemp(path), rc;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    rc = plugin_conf_read(path, c, err, 512);
    unlink(path);
    return rc;
}

START_TEST(conf_typed)
{
    struct agora_plugin d = good();
    struct plugin_conf c;
    struct tconf *t;
    char err[512];
    void *block;

    ck_assert_int_eq(read_conf("# comment\nplugin = x.so\n\nport = 8080\n"
                               "greeting = \"hello world\"\nworkers=9\n"
                               "interval = 250ms\n",
                               &c, err),
                     0);
    ck_assert_str_eq(plugin_conf_get(&c, "port"), "8080");
    ck_assert_int_eq(plugin_conf_apply(&c, &d, &block, err, sizeof(err)), 0);
    t = block;
    ck_assert_str_eq(t->greeting, "hello world");
    ck_assert_int_eq(t->workers, 9);
    ck_assert_int_eq(t->enabled, 1); /* default */
    ck_assert_double_eq_tol(t->interval, 0.25, 1e-9);
    plugin_conf_block_free(&d, block);
    plugin_conf_free(&c);
}
END_TEST

START_TEST(conf_refusals)
{
    struct agora_plugin d = good();
    struct plugin_conf c;
    char err[512];
    void *block = NULL;

    ck_assert_int_eq(read_conf("plugin = x.so\ncolour = blue\n", &c, err),
                     0);
    ck_assert_int_eq(plugin_conf_apply(&c, &d, &block, err, sizeof(err)),
                     AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "unknown key 'colour'"));
    ck_assert_ptr_null(block);
    plugin_conf_free(&c);

    ck_assert_int_eq(read_conf("workers = many\n", &c, err), 0);
    ck_assert_int_eq(plugin_conf_apply(&c, &d, &block, err, sizeof(err)),
                     AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "workers: 'many' is not an integer"));
    plugin_conf_free(&c);

    ck_assert_int_eq(read_conf("port = 1\nno equals sign\n", &c, err),
                     AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, ":2: expected 'key = value'"));
    ck_assert_int_eq(read_conf("port = 1\nport = 2\n", &c, err),
                     AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "given twice"));
}
END_TEST

/*
 * agora_api_minor() on the master's table and on tables as masters of
 * 2.0 and 2.1 built them (cut where their minor ended): the minor each
 * says, so that a plugin knows which fields of a status it may read.
 */
START_TEST(api_minor)
{
    struct agora_api t = plugin_api_table;

    ck_assert_uint_eq(agora_api_minor(&plugin_api_table), AGORA_ABI_MINOR);
    ck_assert_uint_eq(plugin_api_table.abi_minor, 4);
    t.size = (uint32_t)offsetof(struct agora_api, abi_minor);
    t.abi_minor = 99; /* past a 2.1 table's end: never read */
    ck_assert_uint_eq(agora_api_minor(&t), 1);
    t.size = (uint32_t)offsetof(struct agora_api, subscribe);
    ck_assert_uint_eq(agora_api_minor(&t), 0);
}
END_TEST

START_TEST(conf_table_outside_block)
{
    static const struct agora_conf_field wild[] = {
        {"far", AGORA_CONF_INT, "1", 4096, ""},
        {NULL, 0, NULL, 0, NULL},
    };
    struct agora_plugin d = good();
    struct plugin_conf c;
    char err[512];
    void *block = NULL;

    memset(&c, 0, sizeof(c));
    d.conf = wild;
    ck_assert_int_eq(plugin_conf_apply(&c, &d, &block, err, sizeof(err)),
                     AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "outside the conf block"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("abi");
    TCase *tc = tcase_create("refusals");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, accepts_current);
    tcase_add_test(tc, major_mismatch);
    tcase_add_test(tc, newer_minor);
    tcase_add_test(tc, size_mismatch);
    tcase_add_test(tc, names);
    tcase_add_test(tc, required_callbacks);
    tcase_add_test(tc, conf_typed);
    tcase_add_test(tc, conf_refusals);
    tcase_add_test(tc, conf_table_outside_block);
    tcase_add_test(tc, api_minor);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
