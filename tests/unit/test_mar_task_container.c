/*
 * test_mar_task_container.c - a task's container JSON with concrete host
 * ports and its port variables (plugins/marathon/mar_task_container.c),
 * from apps parsed by marathon.so's real model.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>

#include "mar_app.h"
#include "mar_task_container.h"

static struct mar_app *app(const char *text)
{
    struct mar_errs e = {0};
    char err[256];
    yajl_val v = agora_json_parse(text, err, sizeof(err));
    struct mar_app *a;

    ck_assert_msg(v != NULL, "%s", err);
    a = mar_app_parse(v, "/", NULL, "", &e);
    yajl_tree_free(v);
    ck_assert_msg(a != NULL, "the app was refused: %s", text);
    return a;
}

static const char *env(const struct mar_task_ctr *c, const char *key)
{
    size_t i;

    for (i = 0; i < c->nenv; i++)
        if (strcmp(c->env[i].key, key) == 0)
            return c->env[i].value;
    return NULL;
}

/* Member i of the container's portMappings. */
static yajl_val mapping(yajl_val ct, size_t i)
{
    yajl_val pm = agora_json_get(ct, "portMappings");

    ck_assert(YAJL_IS_ARRAY(pm));
    ck_assert_uint_gt(pm->u.array.len, i);
    return pm->u.array.values[i];
}

static int64_t num(yajl_val o, const char *key)
{
    int64_t v = -1;

    ck_assert_int_eq(agora_json_int(o, key, &v), 0);
    return v;
}

struct table_row {
    const char *name;
    const char *app;
    uint32_t ports[4];
    size_t nports;
    const char *network;            /* docker.network                  */
    int64_t host[4], cport[4];      /* per mapping; host -1: none       */
    size_t nmappings;
    const char *env_keys[5], *env_values[5];
};

static const struct table_row rows[] = {
    {
        .name = "legacy docker BRIDGE: hostPort 0 takes the offer's ports "
                "in order, an explicit one stays",
        .app = "{\"id\":\"/web\",\"cmd\":\"httpd\",\"container\":{\"type\":"
               "\"DOCKER\",\"docker\":{\"image\":\"busybox\",\"network\":"
               "\"BRIDGE\",\"portMappings\":[{\"containerPort\":80,"
               "\"hostPort\":0,\"name\":\"http-api\"},{\"containerPort\":161,"
               "\"hostPort\":31555,\"protocol\":\"udp\"},{\"containerPort\":0,"
               "\"hostPort\":0}]}}}",
        .ports = {31001, 31555, 31002},
        .nports = 3,
        .network = "BRIDGE",
        .host = {31001, 31555, 31002},
        .cport = {80, 161, 31002},
        .nmappings = 3,
        .env_keys = {"PORT_80", "PORT_HTTP_API", "PORT_161", "PORT_31002"},
        .env_values = {"31001", "31001", "31555", "31002"},
    },
    {
        .name = "networks container/bridge, mappings at the top level",
        .app = "{\"id\":\"/b\",\"cmd\":\"x\",\"networks\":[{\"mode\":"
               "\"container/bridge\"}],\"container\":{\"type\":\"DOCKER\","
               "\"docker\":{\"image\":\"busybox\"},\"portMappings\":[{"
               "\"containerPort\":8080,\"hostPort\":0}]}}",
        .ports = {31900},
        .nports = 1,
        .network = "BRIDGE",
        .host = {31900},
        .cport = {8080},
        .nmappings = 1,
        .env_keys = {"PORT_8080"},
        .env_values = {"31900"},
    },
    {
        .name = "host networking: docker.network HOST, no mappings",
        .app = "{\"id\":\"/h\",\"cmd\":\"x\",\"portDefinitions\":[{\"port\":"
               "10001}],\"container\":{\"type\":\"DOCKER\",\"docker\":{"
               "\"image\":\"busybox\"}}}",
        .ports = {31077},
        .nports = 1,
        .network = "HOST",
        .nmappings = 0,
        .env_keys = {"PORT_10001"},
        .env_values = {"31077"},
    },
    {
        .name = "container networks: USER, a mapping without hostPort gets "
                "none",
        .app = "{\"id\":\"/u\",\"cmd\":\"x\",\"networks\":[{\"mode\":"
               "\"container\",\"name\":\"dcos\"}],\"container\":{\"type\":"
               "\"DOCKER\",\"docker\":{\"image\":\"busybox\"},"
               "\"portMappings\":[{\"containerPort\":80},{\"containerPort\":"
               "81,\"hostPort\":0}]}}",
        .ports = {31200},
        .nports = 1,
        .network = "USER",
        .host = {-1, 31200},
        .cport = {80, 81},
        .nmappings = 2,
        .env_keys = {"PORT_81"},
        .env_values = {"31200"},
    },
};

START_TEST(task_container_table)
{
    const struct table_row *r = &rows[_i];
    struct mar_app *a = app(r->app);
    struct mar_task_ctr c;
    yajl_val ct, docker, m, pm;
    size_t i, nenv = 0;

    ck_assert_int_eq(mar_task_container(a, r->ports, r->nports, &c), 0);
    ck_assert_msg(c.json != NULL, "%s", r->name);
    ct = agora_json_parse(c.json, NULL, 0);
    ck_assert_ptr_nonnull(ct);
    docker = agora_json_get(ct, "docker");
    ck_assert_str_eq(agora_json_get_str(docker, "network"), r->network);
    ck_assert_ptr_null(agora_json_get(docker, "portMappings"));
    ck_assert_str_eq(agora_json_get_str(docker, "image"), "busybox");
    pm = agora_json_get(ct, "portMappings");
    if (r->nmappings == 0)
        ck_assert_ptr_null(pm);
    for (i = 0; i < r->nmappings; i++) {
        m = mapping(ct, i);
        ck_assert_int_eq(num(m, "containerPort"), r->cport[i]);
        if (r->host[i] < 0)
            ck_assert_ptr_null(agora_json_get(m, "hostPort"));
        else
            ck_assert_int_eq(num(m, "hostPort"), r->host[i]);
        ck_assert_ptr_nonnull(agora_json_get_str(m, "protocol"));
    }
    for (i = 0; i < 5 && r->env_keys[i] != NULL; i++, nenv++) {
        ck_assert_msg(env(&c, r->env_keys[i]) != NULL, "%s: no %s", r->name,
                      r->env_keys[i]);
        ck_assert_str_eq(env(&c, r->env_keys[i]), r->env_values[i]);
    }
    ck_assert_uint_eq(c.nenv, nenv);
    yajl_tree_free(ct);
    mar_task_container_free(&c);
    ck_assert_ptr_null(c.json);
    mar_app_free(a);
}
END_TEST

START_TEST(no_container_and_too_few_ports)
{
    struct mar_app *a = app("{\"id\":\"/p\",\"cmd\":\"x\"}");
    struct mar_app *b = app(rows[0].app);
    uint32_t ports[3] = {31001, 31555, 31002};
    struct mar_task_ctr c;

    /* A plain command: no container, PORT_<port> of its definition. */
    ck_assert_int_eq(mar_task_container(a, ports, 1, &c), 0);
    ck_assert_ptr_null(c.json);
    mar_task_container_free(&c);
    /* Fewer ports than the mappings with host ports: refused, empty. */
    ck_assert_int_eq(mar_task_container(b, ports, 2, &c), AGORA_EINVAL);
    ck_assert_ptr_null(c.json);
    ck_assert_uint_eq(c.nenv, 0);
    mar_task_container_free(&c);
    mar_app_free(a);
    mar_app_free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mar_task_container");
    TCase *tc = tcase_create("container");
    SRunner *r;
    int failed;

    tcase_add_loop_test(tc, task_container_table, 0,
                        (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, no_container_and_too_few_ports);
    suite_add_tcase(s, tc);
    r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? 0 : 1;
}
