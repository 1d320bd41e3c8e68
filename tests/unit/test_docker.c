/*
 * test_docker.c - the docker containerizer's command lines
 * (agent/exec/docker_cmd.c), table-driven: the container JSON a
 * framework posts, the argv built, or the refusal and its message; the
 * environment file's contents and mode; and the probe against a CLI
 * that has no engine (the probe's failure is the agent's "docker is
 * unavailable").
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <agora/json.h>

#include "docker.h"

static char sandbox[] = "/tmp/agora-test-docker-XXXXXX";

/* argv joined with '|' (no element here contains one). */
static char *joined(char **argv)
{
    size_t i, len = 1;
    char *s;

    for (i = 0; argv[i]; i++)
        len += strlen(argv[i]) + 1;
    s = calloc(1, len);
    ck_assert_ptr_nonnull(s);
    for (i = 0; argv[i]; i++) {
        if (i)
            strcat(s, "|");
        strcat(s, argv[i]);
    }
    return s;
}

struct row {
    const char *name;
    const char *container; /* JSON */
    const char *command;   /* or */
    const char *argv;      /* JSON array */
    double cpus;
    unsigned long long mem;
    const char *allowed;
    /* Expected: the argv with "SB" for the sandbox, or NULL when refused
     * with `error`. */
    const char *want;
    const char *error;
};

#define SBV "--volume=SB:/mnt/mesos/sandbox"
#define ENVF "--env-file=SB/.docker_env"

static const struct row rows[] = {
    {"marathon BRIDGE app with a shell command, limits, ports, volumes, "
     "parameters",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"busybox:1.35\","
     "\"network\":\"BRIDGE\",\"parameters\":[{\"key\":\"label\",\"value\":"
     "\"a=b c\"}],\"forcePullImage\":true,\"privileged\":false},"
     "\"portMappings\":[{\"containerPort\":80,\"hostPort\":31001,"
     "\"protocol\":\"tcp\"},{\"containerPort\":53,\"hostPort\":31002,"
     "\"protocol\":\"udp,tcp\"}],\"volumes\":[{\"containerPath\":\"/data\","
     "\"hostPath\":\"/srv/data\",\"mode\":\"RO\"},{\"containerPath\":"
     "\"/scratch\",\"hostPath\":\"/srv/scratch\",\"mode\":\"RW\"}]}",
     "httpd -f -p 80", NULL, 0.5, 64ull << 20, "/srv",
     "docker|run|--cpu-shares=512|--memory=67108864|" SBV
     "|--volume=/srv/data:/data:ro|--volume=/srv/scratch:/scratch:rw"
     "|--net=bridge|--publish=31001:80/tcp|--publish=31002:53/tcp"
     "|--publish=31002:53/udp|--label=a=b c|--pull=always"
     "|--name=mesos-web.1|--entrypoint=/bin/sh|" ENVF
     "|busybox:1.35|-c|httpd -f -p 80",
     NULL},
    {"legacy docker.portMappings; argv keeps the image's entrypoint; "
     "floors of shares and memory",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"r/x\",\"network\":"
     "\"BRIDGE\",\"portMappings\":[{\"containerPort\":8080,\"hostPort\":"
     "31005}]}}",
     NULL, "[\"serve\",\"--port\",\"8080\"]", 0.001, 1 << 20, NULL,
     "docker|run|--cpu-shares=2|--memory=33554432|" SBV
     "|--net=bridge|--publish=31005:8080/tcp|--name=mesos-web.1|" ENVF
     "|r/x|serve|--port|8080",
     NULL},
    {"chronos' shape: image and network at the top, HOST, no command",
     "{\"type\":\"DOCKER\",\"image\":\"busybox\",\"network\":\"HOST\"}",
     NULL, NULL, 0, 0, NULL,
     "docker|run|" SBV "|--net=host|--name=mesos-web.1|" ENVF "|busybox",
     NULL},
    {"a parameter key with a space",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"b\",\"parameters\":[{"
     "\"key\":\"cap add\",\"value\":\"x\"}]}}",
     "true", NULL, 0, 0, NULL, NULL,
     "container.docker.parameters[0].key: not a docker run option name "
     "([a-z0-9][a-z0-9-]*)"},
    {"a parameter key that is an option already",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"b\",\"parameters\":[{"
     "\"key\":\"--rm\",\"value\":\"x\"}]}}",
     "true", NULL, 0, 0, NULL, NULL,
     "container.docker.parameters[0].key: not a docker run option name "
     "([a-z0-9][a-z0-9-]*)"},
    {"a parameter overriding the name the agent stops",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"b\",\"parameters\":[{"
     "\"key\":\"name\",\"value\":\"x\"}]}}",
     "true", NULL, 0, 0, NULL, NULL,
     "container.docker.parameters[0].key: name is set by the agent"},
    {"a parameter value with a newline",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"b\",\"parameters\":[{"
     "\"key\":\"label\",\"value\":\"a\\nb\"}]}}",
     "true", NULL, 0, 0, NULL, NULL,
     "container.docker.parameters[0].value: not a string of printable "
     "characters"},
    {"an image that docker would read as an option",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"--privileged\"}}", "true",
     NULL, 0, 0, NULL, NULL,
     "container.docker.image: missing, or not an image reference"},
    {"no image", "{\"type\":\"DOCKER\",\"docker\":{}}", "true", NULL, 0, 0,
     NULL, NULL, "container.docker.image: missing, or not an image reference"},
    {"privileged", "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"b\","
                   "\"privileged\":true}}",
     "true", NULL, 0, 0, NULL, NULL,
     "container.docker.privileged: not supported"},
    {"type MESOS is not the docker containerizer's",
     "{\"type\":\"MESOS\",\"docker\":{\"image\":\"b\"}}", "true", NULL, 0, 0,
     NULL, NULL,
     "container.type: MESOS is not run by the docker containerizer"},
    {"network USER",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"b\",\"network\":\"USER\"}}",
     "true", NULL, 0, 0, NULL, NULL,
     "container.docker.network: USER is not HOST, BRIDGE or NONE"},
    {"port mappings under HOST",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"b\"},\"portMappings\":[{"
     "\"containerPort\":80,\"hostPort\":31000}]}",
     "true", NULL, 0, 0, NULL, NULL,
     "container.portMappings: only with network BRIDGE, not HOST"},
    {"a hostPort 0 the framework did not replace",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"b\",\"network\":"
     "\"BRIDGE\"},\"portMappings\":[{\"containerPort\":80,\"hostPort\":0}]}",
     "true", NULL, 0, 0, NULL, NULL,
     "container.portMappings[0]: hostPort and containerPort must be "
     "1..65535 (a hostPort 0 is the framework's to replace)"},
    {"a protocol docker does not know",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"b\",\"network\":"
     "\"BRIDGE\"},\"portMappings\":[{\"containerPort\":80,\"hostPort\":1,"
     "\"protocol\":\"sctp\"}]}",
     "true", NULL, 0, 0, NULL, NULL,
     "container.portMappings[0].protocol: sctp is not tcp, udp or udp,tcp"},
    {"a volume outside --allowed_volume_paths",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"b\"},\"volumes\":[{"
     "\"containerPath\":\"/d\",\"hostPath\":\"/srvx/d\",\"mode\":\"RO\"}]}",
     "true", NULL, 0, 0, "/srv,/data", NULL,
     "container.volumes[0].hostPath: /srvx/d is outside "
     "--allowed_volume_paths"},
    {"a volume path with '..'",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"b\"},\"volumes\":[{"
     "\"containerPath\":\"/d\",\"hostPath\":\"/srv/../etc\"}]}",
     "true", NULL, 0, 0, "/srv", NULL,
     "container.volumes[0]: containerPath and hostPath must be absolute, "
     "without ':', ',' or '..'"},
    {"a volume path with ':' (docker's separator)",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"b\"},\"volumes\":[{"
     "\"containerPath\":\"/d:rw\",\"hostPath\":\"/srv\"}]}",
     "true", NULL, 0, 0, NULL, NULL,
     "container.volumes[0]: containerPath and hostPath must be absolute, "
     "without ':', ',' or '..'"},
    {"a volume mode docker does not know",
     "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"b\"},\"volumes\":[{"
     "\"containerPath\":\"/d\",\"hostPath\":\"/srv\",\"mode\":\"rw\"}]}",
     "true", NULL, 0, 0, NULL, NULL,
     "container.volumes[0].mode: rw is not RO or RW"},
};

START_TEST(run_argv_table)
{
    const struct row *r = &rows[_i];
    char *const env[] = {"SECRET=s3cret", "PORT0=31001", NULL};
    yajl_val ct = agora_json_parse(r->container, NULL, 0);
    yajl_val av = r->argv ? agora_json_parse(r->argv, NULL, 0) : NULL;
    struct docker_task t = {
        .container = ct, .name = "mesos-web.1", .env = env,
        .command = r->command, .argv = av, .cpus = r->cpus,
        .mem_bytes = r->mem, .sandbox = sandbox,
        .allowed_volume_paths = r->allowed,
    };
    char err[512] = "", **argv = NULL, *got, *want, *p;
    size_t i;
    int rc;

    ck_assert_ptr_nonnull(ct);
    rc = docker_task_argv(&t, &argv, err, sizeof(err));
    if (r->want == NULL) {
        ck_assert_msg(rc == -1, "%s: accepted", r->name);
        ck_assert_ptr_null(argv);
        ck_assert_str_eq(err, r->error);
    } else {
        ck_assert_msg(rc == 0, "%s: %s", r->name, err);
        got = joined(argv);
        /* "SB" in the table stands for the sandbox. */
        want = calloc(1, strlen(r->want) * 4 + 1);
        ck_assert_ptr_nonnull(want);
        for (p = (char *)r->want, i = 0; *p; p++) {
            if (p[0] == 'S' && p[1] == 'B') {
                strcpy(want + i, sandbox);
                i += strlen(sandbox);
                p++;
            } else {
                want[i++] = *p;
            }
        }
        ck_assert_str_eq(got, want);
        /* The secret is in no argv element. */
        ck_assert_ptr_null(strstr(got, "s3cret"));
        free(got);
        free(want);
    }
    docker_argv_free(argv);
    yajl_tree_free(ct);
    yajl_tree_free(av);
}
END_TEST

START_TEST(env_file_mode_and_contents)
{
    char *const env[] = {"SECRET=s3cret", "A=b=c", NULL};
    yajl_val ct = agora_json_parse("{\"docker\":{\"image\":\"b\"}}", NULL, 0);
    struct docker_task t = {.container = ct, .name = "mesos-x", .env = env,
                            .command = "true", .sandbox = sandbox};
    char path[512], buf[512], err[256], **argv = NULL;
    struct stat st;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s/.docker_env", sandbox);
    /* A link the task left where the file goes is replaced, not
     * followed. */
    unlink(path);
    ck_assert_int_eq(symlink("/tmp/agora-test-docker-victim", path), 0);
    ck_assert_int_eq(docker_task_argv(&t, &argv, err, sizeof(err)), 0);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(access("/tmp/agora-test-docker-victim", F_OK), -1);
    fd = open(path, O_RDONLY);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "MESOS_SANDBOX=/mnt/mesos/sandbox\n"
                          "MESOS_CONTAINER_NAME=mesos-x\n"
                          "SECRET=s3cret\nA=b=c\n");
    docker_argv_free(argv);

    /* A value docker's env file cannot carry: refused, nothing run. */
    {
        char *const bad[] = {"MULTI=a\nb", NULL};

        t.env = bad;
        argv = NULL;
        ck_assert_int_eq(docker_task_argv(&t, &argv, err, sizeof(err)), -1);
        ck_assert_ptr_null(argv);
        ck_assert_str_eq(err, "environment variable 0: not K=V on one line "
                              "(docker's --env-file cannot carry it)");
    }
    /* The agent's check at the launch (dry_run): the same argv, and no
     * file written. */
    {
        t.env = env;
        t.dry_run = 1;
        argv = NULL;
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(docker_task_argv(&t, &argv, err, sizeof(err)), 0);
        ck_assert_ptr_nonnull(argv);
        ck_assert_int_eq(access(path, F_OK), -1);
        docker_argv_free(argv);
    }
    yajl_tree_free(ct);
}
END_TEST

START_TEST(names_and_other_commands)
{
    char name[128], *s, **argv;

    ck_assert_int_eq(docker_name("web.1f2e-3", name, sizeof(name)), 0);
    ck_assert_str_eq(name, "mesos-web.1f2e-3");
    ck_assert_int_eq(docker_name("a/b", name, sizeof(name)), 0);
    ck_assert_int_eq(strncmp(name, "mesos-a_b-", 10), 0);
    ck_assert_uint_eq(strlen(name), 18);
    s = strdup(name);
    ck_assert_int_eq(docker_name("a_b", name, sizeof(name)), 0);
    ck_assert_str_eq(name, "mesos-a_b");
    ck_assert_str_ne(s, name);
    free(s);
    ck_assert_int_eq(docker_name("", name, sizeof(name)), -1);
    ck_assert_int_eq(docker_name("long-id", name, 12), -1);

    ck_assert_int_eq(docker_stop_argv("/usr/bin/docker", "mesos-x", 2.5,
                                      &argv), 0);
    s = joined(argv);
    ck_assert_str_eq(s, "/usr/bin/docker|stop|-t=3|mesos-x");
    free(s);
    docker_argv_free(argv);
    ck_assert_int_eq(docker_rm_argv(NULL, "mesos-x", &argv), 0);
    s = joined(argv);
    ck_assert_str_eq(s, "docker|rm|-f|-v|mesos-x");
    free(s);
    docker_argv_free(argv);
    ck_assert_int_eq(docker_inspect_argv(NULL, "mesos-x", &argv), 0);
    s = joined(argv);
    ck_assert_str_eq(s, "docker|inspect|--type=container|--format={{.State."
                        "Pid}} {{.NetworkSettings.IPAddress}}|mesos-x");
    free(s);
    docker_argv_free(argv);
    ck_assert_int_eq(docker_stop_argv(NULL, "-x", 1, &argv), -1);
    /* a COMMAND health check, one argument whatever its spaces */
    ck_assert_int_eq(docker_exec_argv("/usr/bin/docker", "mesos-x",
                                      "test -f /a b; exit 1", &argv),
                     0);
    s = joined(argv);
    ck_assert_str_eq(s, "/usr/bin/docker|exec|mesos-x|sh|-c|test -f /a b; "
                        "exit 1");
    free(s);
    docker_argv_free(argv);
    ck_assert_int_eq(docker_exec_argv(NULL, "-x", "true", &argv), -1);
    ck_assert_int_eq(docker_exec_argv(NULL, "mesos-x", NULL, &argv), -1);
}
END_TEST

/* ---- the probe, on a real loop ---- */

struct probe_result {
    int called, ok;
    char detail[600];
};

static void probe_done(void *arg, int ok, const char *detail)
{
    struct probe_result *r = arg;

    r->called++;
    r->ok = ok;
    snprintf(r->detail, sizeof(r->detail), "%s", detail);
}

/* Runs a probe of `docker` to its end on the default loop. */
static void probe(const char *docker, struct probe_result *r)
{
    struct ev_loop *loop = ev_default_loop(0);
    struct docker_probe *p = NULL;

    memset(r, 0, sizeof(*r));
    if (docker_probe_start(&p, loop, docker, probe_done, r) == 0)
        while (r->called == 0)
            ev_run(loop, EVRUN_ONCE);
    docker_probe_free(p);
    ck_assert_int_eq(r->called, 1);
}

/* A fake CLI in the sandbox: a shell script. */
static void fake_cli(const char *path, const char *body)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0700);
}

START_TEST(probe_outcomes)
{
    struct probe_result r;
    char path[512];

    probe("/nonexistent/docker", &r);
    ck_assert_int_eq(r.ok, 0);
    ck_assert_str_eq(r.detail,
                     "cannot run /nonexistent/docker: No such file or directory");

    snprintf(path, sizeof(path), "%s/fake-docker", sandbox);
    fake_cli(path, "[ \"$1 $2 $3\" = 'version --format {{.Server.Version}}' ]"
                   " || exit 9; echo 24.0.7");
    probe(path, &r);
    ck_assert_int_eq(r.ok, 1);
    ck_assert_str_eq(r.detail, "24.0.7");

    /* What docker 24's CLI says without an engine: an empty version on
     * stdout, then the error. */
    fake_cli(path, "echo; echo 'Cannot connect to the Docker daemon' >&2; "
                   "exit 1");
    probe(path, &r);
    ck_assert_int_eq(r.ok, 0);
    ck_assert_str_eq(r.detail, "docker version exited 1: Cannot connect to "
                               "the Docker daemon");

    /* This machine's docker, when there is one: a CLI without an engine
     * must fail cleanly. */
    if (system("command -v docker >/dev/null 2>&1") == 0 &&
        system("docker version >/dev/null 2>&1") != 0) {
        probe("docker", &r);
        ck_assert_int_eq(r.ok, 0);
        ck_assert_msg(strstr(r.detail, "docker version exited 1: ") == r.detail &&
                          strlen(r.detail) > 25,
                      "%s", r.detail);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("docker");
    TCase *tc = tcase_create("docker");
    SRunner *r;
    int failed;
    char cmd[128];

    if (mkdtemp(sandbox) == NULL)
        return 1;
    tcase_add_loop_test(tc, run_argv_table, 0,
                        (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, env_file_mode_and_contents);
    tcase_add_test(tc, names_and_other_commands);
    tcase_add_test(tc, probe_outcomes);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", sandbox);
    if (system(cmd) != 0)
        failed++;
    return failed == 0 ? 0 : 1;
}
