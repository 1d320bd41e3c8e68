/*
 * test_container.c - the mesos containerizer's pure pieces (container.h):
 * the launch's `container` in both shapes and every refusal, refs/ names,
 * the command resolution table (cmd, args, Entrypoint, Cmd, Env, User,
 * WorkingDir), the user looked up in the image's /etc/passwd, an image
 * read from a store laid out as docs/containers.md §2 says, and the
 * container shown in Mesos' shape (ctr_json.h).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <agora/json.h>
#include <agora/sdk.h>

#include "container.h"
#include "ctr_json.h"
#include "exec_int.h"

/* The test's paths are short (a mkdtemp under TMPDIR) and a truncated
 * one fails the assertion that uses it. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static char tmp[PATH_MAX]; /* a fresh directory a test */

static void mk_tmp(void)
{
    const char *base = getenv("TMPDIR");

    snprintf(tmp, sizeof(tmp), "%s/agora-ctr-XXXXXX", base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void rm_tmp(void)
{
    ck_assert_int_eq(ctr_tree_remove(tmp), 0);
}

static yajl_val parse(const char *text)
{
    char err[128];
    yajl_val v = agora_json_parse(text, err, sizeof(err));

    ck_assert_msg(v != NULL, "%s: %s", text, err);
    return v;
}

/* ---- the launch's container ---- */

static int spec_of(const char *text, const char *allowed, struct ctr_spec *s,
                   char *err, size_t errlen)
{
    yajl_val c = parse(text);
    int rc = ctr_spec_parse(c, allowed, tmp, s, err, errlen);

    /* s borrows from c: the tests only look at what is not borrowed
     * after this, or keep c (see below). */
    yajl_tree_free(c);
    return rc;
}

static void expect_refused(const char *text, const char *allowed,
                           const char *want)
{
    struct ctr_spec s;
    char err[512] = "";
    int rc = spec_of(text, allowed, &s, err, sizeof(err));

    ck_assert_msg(rc == AGORA_EINVAL, "%s accepted", text);
    ck_assert_msg(strstr(err, want) != NULL, "%s: '%s' lacks '%s'", text, err,
                  want);
    ctr_spec_free(&s);
}

START_TEST(marathon_shape)
{
    char text[2048], err[256], vol[PATH_MAX];
    struct ctr_spec s;
    yajl_val c;

    mk_tmp();
    snprintf(vol, sizeof(vol), "%s/data", tmp);
    ck_assert_int_eq(mkdir(vol, 0755), 0);
    snprintf(text, sizeof(text),
             "{\"type\":\"DOCKER\",\"docker\":{\"image\":\"busybox:1.35\","
             "\"network\":\"BRIDGE\",\"forcePullImage\":true,"
             "\"privileged\":false,\"parameters\":[]},"
             "\"portMappings\":[{\"containerPort\":80,\"hostPort\":31001,"
             "\"protocol\":\"tcp\",\"name\":\"http\"}],"
             "\"volumes\":[{\"containerPath\":\"/data\",\"hostPath\":\"%s\","
             "\"mode\":\"RO\"},{\"containerPath\":\"/scratch\","
             "\"hostPath\":\"work/here\",\"mode\":\"RW\"}]}",
             vol);
    c = parse(text);
    ck_assert_int_eq(ctr_spec_parse(c, tmp, tmp, &s, err, sizeof(err)), 0);
    ck_assert_int_eq(s.type, CTR_DOCKER);
    ck_assert_str_eq(s.image, "busybox:1.35");
    ck_assert_int_eq(s.net, CTR_NET_BRIDGE);
    ck_assert_int_eq(s.force_pull, 1);
    ck_assert_uint_eq(s.nports, 1);
    ck_assert_uint_eq(s.ports[0].host_port, 31001);
    ck_assert_uint_eq(s.ports[0].container_port, 80);
    ck_assert_uint_eq(s.nvolumes, 2);
    ck_assert_str_eq(s.volumes[0].container_path, "/data");
    ck_assert_str_eq(s.volumes[0].host_path, vol);
    ck_assert_int_eq(s.volumes[0].ro, 1);
    ck_assert_int_eq(s.volumes[0].in_sandbox, 0);
    /* relative: a path in the sandbox, made by the shim */
    ck_assert_int_eq(s.volumes[1].in_sandbox, 1);
    ck_assert_int_eq(s.volumes[1].ro, 0);
    snprintf(vol, sizeof(vol), "%s/work/here", tmp);
    ck_assert_str_eq(s.volumes[1].host_path, vol);
    ctr_spec_free(&s);
    yajl_tree_free(c);

    /* legacy: portMappings under docker */
    c = parse("{\"type\":\"MESOS\",\"docker\":{\"image\":\"a/b\","
              "\"network\":\"BRIDGE\",\"portMappings\":[{\"containerPort\":"
              "53,\"hostPort\":31002,\"protocol\":\"udp\"}]}}");
    ck_assert_int_eq(ctr_spec_parse(c, NULL, tmp, &s, err, sizeof(err)), 0);
    ck_assert_int_eq(s.type, CTR_MESOS);
    ck_assert_uint_eq(s.nports, 1);
    ck_assert_int_eq(s.ports[0].udp, 1);
    ctr_spec_free(&s);
    yajl_tree_free(c);
    rm_tmp();
}
END_TEST

START_TEST(chronos_shape)
{
    char err[256];
    struct ctr_spec s;
    yajl_val c;

    mk_tmp();
    c = parse("{\"type\":\"DOCKER\",\"image\":\"libmesos/ubuntu\","
              "\"network\":\"HOST\",\"forcePullImage\":false,"
              "\"volumes\":[]}");
    ck_assert_int_eq(ctr_spec_parse(c, "", tmp, &s, err, sizeof(err)), 0);
    ck_assert_str_eq(s.image, "libmesos/ubuntu");
    ck_assert_int_eq(s.net, CTR_NET_HOST);
    ck_assert_int_eq(s.force_pull, 0);
    ck_assert_uint_eq(s.nvolumes, 0);
    ctr_spec_free(&s);
    yajl_tree_free(c);
    /* Marathon's container without an image (networks: container) */
    c = parse("{\"type\":\"MESOS\",\"volumes\":[]}");
    ck_assert_int_eq(ctr_spec_parse(c, "", tmp, &s, err, sizeof(err)), 0);
    ck_assert_ptr_null(s.image);
    ctr_spec_free(&s);
    yajl_tree_free(c);
    rm_tmp();
}
END_TEST

START_TEST(refusals)
{
    char allowed[PATH_MAX + 16], inside[PATH_MAX], text[2048];

    mk_tmp();
    snprintf(inside, sizeof(inside), "%s/ok", tmp);
    ck_assert_int_eq(mkdir(inside, 0755), 0);
    snprintf(allowed, sizeof(allowed), "/nonexistent:%s", inside);
    expect_refused("[]", NULL, "container must be an object");
    expect_refused("{\"type\":\"APPC\"}", NULL,
                   "container.type 'APPC' is not supported");
    expect_refused("{\"docker\":{\"image\":\"x\",\"privileged\":true}}", NULL,
                   "container.docker.privileged");
    expect_refused("{\"image\":\"x\",\"privileged\":true}", NULL,
                   "container.privileged");
    expect_refused("{\"docker\":{\"image\":\"x\",\"parameters\":[{\"key\":"
                   "\"a\",\"value\":\"b\"}]}}",
                   NULL, "container.docker.parameters");
    expect_refused("{\"image\":\"x\",\"parameters\":[{\"key\":\"a\"}]}", NULL,
                   "container.parameters");
    expect_refused("{\"docker\":{\"image\":\"x\",\"network\":\"USER\"}}", NULL,
                   "container.docker.network 'USER' is not supported");
    expect_refused("{\"image\":\"x\",\"network\":\"NONE\"}", NULL,
                   "container.network 'NONE'");
    expect_refused("{\"docker\":{\"image\":3}}", NULL,
                   "container.docker.image must be a string");
    expect_refused("{\"docker\":{\"image\":\"\"}}", NULL, "container image");
    expect_refused("{\"docker\":{\"image\":\"x\"},\"portMappings\":"
                   "[{\"containerPort\":80,\"hostPort\":1}]}",
                   NULL, "need the BRIDGE network");
    expect_refused("{\"docker\":{\"image\":\"x\",\"network\":\"BRIDGE\"},"
                   "\"portMappings\":[{\"containerPort\":0}]}",
                   NULL, "container.portMappings[0]");
    expect_refused("{\"image\":\"x\",\"volumes\":[{\"containerPath\":\"/a\","
                   "\"hostPath\":\"/tmp\",\"mode\":\"RX\"}]}",
                   allowed, "container.volumes[0].mode must be RO or RW");
    expect_refused("{\"image\":\"x\",\"volumes\":[{\"containerPath\":\"a\","
                   "\"hostPath\":\"/tmp\",\"mode\":\"RO\"}]}",
                   allowed, "containerPath must be an absolute");
    expect_refused("{\"image\":\"x\",\"volumes\":[{\"containerPath\":"
                   "\"/a/../b\",\"hostPath\":\"/tmp\",\"mode\":\"RO\"}]}",
                   allowed, "containerPath");
    expect_refused("{\"image\":\"x\",\"volumes\":[{\"containerPath\":\"/a\","
                   "\"persistent\":{\"size\":10},\"mode\":\"RW\"}]}",
                   allowed, "only host volumes");
    /* outside --allowed_volume_paths: named */
    snprintf(text, sizeof(text),
             "{\"image\":\"x\",\"volumes\":[{\"containerPath\":\"/a\","
             "\"hostPath\":\"%s\",\"mode\":\"RO\"}]}",
             tmp);
    expect_refused(text, allowed, "is not under the agent's "
                                  "--allowed_volume_paths");
    expect_refused(text, NULL, tmp);
    /* a symlink under an allowed directory that leads out of it */
    snprintf(text, sizeof(text), "%s/ok/escape", tmp);
    ck_assert_int_eq(symlink("/etc", text), 0);
    snprintf(text, sizeof(text),
             "{\"image\":\"x\",\"volumes\":[{\"containerPath\":\"/a\","
             "\"hostPath\":\"%s/ok/escape\",\"mode\":\"RO\"}]}",
             tmp);
    expect_refused(text, allowed, "--allowed_volume_paths");
    snprintf(text, sizeof(text),
             "{\"image\":\"x\",\"volumes\":[{\"containerPath\":\"/a\","
             "\"hostPath\":\"%s/ok/../..\",\"mode\":\"RO\"}]}",
             tmp);
    expect_refused(text, allowed, "without '.' or '..'");
    expect_refused("{\"image\":\"x\",\"volumes\":[{\"containerPath\":\"/a\","
                   "\"hostPath\":\"../up\",\"mode\":\"RO\"}]}",
                   allowed, "must stay in the sandbox");
    expect_refused("{\"image\":\"x\",\"volumes\":[{\"containerPath\":\"/a\","
                   "\"hostPath\":\"/no/such/dir\",\"mode\":\"RO\"}]}",
                   "/", "No such file");
    /* inside: accepted */
    {
        struct ctr_spec s;
        char err[256];
        snprintf(text, sizeof(text),
                 "{\"image\":\"x\",\"volumes\":[{\"containerPath\":\"/a\","
                 "\"hostPath\":\"%s\",\"mode\":\"rw\"}]}",
                 inside);
        ck_assert_int_eq(spec_of(text, allowed, &s, err, sizeof(err)), 0);
        ck_assert_int_eq(s.volumes[0].ro, 0);
        ctr_spec_free(&s);
    }
    rm_tmp();
}
END_TEST

START_TEST(ref_names)
{
    char out[256];

    ck_assert_uint_eq(ctr_ref_name("busybox", out, sizeof(out)), 7);
    ck_assert_str_eq(out, "busybox");
    ctr_ref_name("127.0.0.1:5000/busybox:1.35", out, sizeof(out));
    ck_assert_str_eq(out, "127.0.0.1%3A5000%2Fbusybox%3A1.35");
    ctr_ref_name("a_b-c.d@sha256:ff", out, sizeof(out));
    ck_assert_str_eq(out, "a_b-c.d%40sha256%3Aff");
    ctr_ref_name("\xc3\xa9 %", out, sizeof(out));
    ck_assert_str_eq(out, "%C3%A9%20%25");
    /* truncated as snprintf: the length needed is returned */
    ck_assert_uint_eq(ctr_ref_name("a/b", out, 3), 5);
    ck_assert_str_eq(out, "a%");
}
END_TEST

/* ---- what runs ---- */

static void expect_argv(const char *cmd, const char *args_json,
                        const char *config_json, const char *want)
{
    yajl_val args = args_json ? parse(args_json) : NULL;
    yajl_val config = config_json ? parse(config_json) : NULL;
    const char **argv;
    char got[1024] = "", err[256];
    int rc = ctr_cmd_argv(cmd, args, config, &argv, err, sizeof(err));

    ck_assert_msg(rc == 0, "%s", err);
    for (const char **a = argv; *a; a++) {
        strcat(got, *a);
        strcat(got, "|");
    }
    ck_assert_str_eq(got, want);
    free(argv);
    if (args)
        yajl_tree_free(args);
    if (config)
        yajl_tree_free(config);
}

START_TEST(command_table)
{
    const char *ep_cmd = "{\"Entrypoint\":[\"/ep\",\"-x\"],\"Cmd\":[\"c1\"]}";
    const char *cmd_only = "{\"Cmd\":[\"/bin/run\",\"c1\"]}";
    const char **argv;
    char err[256];
    yajl_val c;

    /* cmd: /bin/sh -c, the Entrypoint ignored (Mesos, shell command) */
    expect_argv("echo $$", NULL, ep_cmd, "/bin/sh|-c|echo $$|");
    expect_argv("echo hi", NULL, NULL, "/bin/sh|-c|echo hi|");
    /* args: Entrypoint + args, the Cmd replaced */
    expect_argv(NULL, "[\"a1\",\"a2\"]", ep_cmd, "/ep|-x|a1|a2|");
    expect_argv(NULL, "[\"/bin/echo\",\"a\"]", cmd_only, "/bin/echo|a|");
    /* neither: Entrypoint + Cmd */
    expect_argv(NULL, NULL, ep_cmd, "/ep|-x|c1|");
    expect_argv(NULL, NULL, cmd_only, "/bin/run|c1|");
    expect_argv(NULL, NULL, "{\"Entrypoint\":[\"/only\"],\"Cmd\":null}",
                "/only|");
    /* nothing to run */
    c = parse("{\"Env\":[]}");
    ck_assert_int_eq(ctr_cmd_argv(NULL, NULL, c, &argv, err, sizeof(err)),
                     AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "nothing to run"));
    yajl_tree_free(c);
    ck_assert_int_eq(ctr_cmd_argv(NULL, NULL, NULL, &argv, err, sizeof(err)),
                     AGORA_EINVAL);
    c = parse("{\"Entrypoint\":\"/bin/sh\"}");
    ck_assert_int_eq(ctr_cmd_argv(NULL, NULL, c, &argv, err, sizeof(err)),
                     AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "Entrypoint must be an array"));
    yajl_tree_free(c);
    c = parse("{\"Cmd\":[\"\"]}");
    ck_assert_int_eq(ctr_cmd_argv(NULL, NULL, c, &argv, err, sizeof(err)),
                     AGORA_EINVAL);
    yajl_tree_free(c);
}
END_TEST

struct envrec {
    char text[512];
};

static void env_rec(void *arg, const char *key, const char *value)
{
    struct envrec *r = arg;

    strcat(r->text, key);
    strcat(r->text, "=");
    strcat(r->text, value);
    strcat(r->text, ";");
}

START_TEST(env_workdir_user)
{
    yajl_val c = parse("{\"Env\":[\"PATH=/opt/bin:/bin\",\"A=b=c\","
                       "\"EMPTY=\"],\"WorkingDir\":\"/srv\","
                       "\"User\":\"app\"}");
    struct envrec r = {""};
    char err[256];

    ck_assert_int_eq(ctr_cmd_env(c, env_rec, &r, err, sizeof(err)), 0);
    ck_assert_str_eq(r.text, "PATH=/opt/bin:/bin;A=b=c;EMPTY=;");
    ck_assert_str_eq(ctr_cmd_workdir(c), "/srv");
    ck_assert_str_eq(ctr_cmd_user(c), "app");
    yajl_tree_free(c);
    c = parse("{\"WorkingDir\":\"\",\"User\":\"\"}");
    ck_assert_str_eq(ctr_cmd_workdir(c), "/");
    ck_assert_ptr_null(ctr_cmd_user(c));
    ck_assert_str_eq(ctr_cmd_workdir(NULL), "/");
    yajl_tree_free(c);
    c = parse("{\"Env\":[\"NOEQUALS\"]}");
    ck_assert_int_eq(ctr_cmd_env(c, env_rec, &r, err, sizeof(err)),
                     AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "Env[0]"));
    yajl_tree_free(c);
    c = parse("{\"Env\":[\"=x\"]}");
    ck_assert_int_eq(ctr_cmd_env(c, env_rec, &r, err, sizeof(err)),
                     AGORA_EINVAL);
    yajl_tree_free(c);
}
END_TEST

START_TEST(user_resolution)
{
    const char *passwd = "root:x:0:0:root:/root:/bin/sh\n"
                         "app:x:1000:1001:app:/home/app:/bin/sh\n"
                         "web:x:33:33::/:/bin/false";
    const char *group = "root:x:0:\nstaff:x:50:app\napp:x:1001:\n";
    char err[256];
    uid_t u;
    gid_t g;

    ck_assert_int_eq(ctr_cmd_user_resolve("app", passwd, group, &u, &g, err,
                                          sizeof(err)), 0);
    ck_assert_int_eq(u, 1000);
    ck_assert_int_eq(g, 1001);
    ck_assert_int_eq(ctr_cmd_user_resolve("web", passwd, group, &u, &g, err,
                                          sizeof(err)), 0);
    ck_assert_int_eq(u, 33);
    /* numeric: its passwd entry's group, else 0 */
    ck_assert_int_eq(ctr_cmd_user_resolve("1000", passwd, group, &u, &g, err,
                                          sizeof(err)), 0);
    ck_assert_int_eq(g, 1001);
    ck_assert_int_eq(ctr_cmd_user_resolve("4242", passwd, NULL, &u, &g, err,
                                          sizeof(err)), 0);
    ck_assert_int_eq(u, 4242);
    ck_assert_int_eq(g, 0);
    ck_assert_int_eq(ctr_cmd_user_resolve("4242", NULL, NULL, &u, &g, err,
                                          sizeof(err)), 0);
    /* user:group, by name or number */
    ck_assert_int_eq(ctr_cmd_user_resolve("app:staff", passwd, group, &u, &g,
                                          err, sizeof(err)), 0);
    ck_assert_int_eq(u, 1000);
    ck_assert_int_eq(g, 50);
    ck_assert_int_eq(ctr_cmd_user_resolve("0:7", passwd, group, &u, &g, err,
                                          sizeof(err)), 0);
    ck_assert_int_eq(u, 0);
    ck_assert_int_eq(g, 7);
    /* unknown */
    ck_assert_int_eq(ctr_cmd_user_resolve("nobody", passwd, group, &u, &g,
                                          err, sizeof(err)), AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "'nobody' is not in the container's"));
    ck_assert_int_eq(ctr_cmd_user_resolve("app", NULL, NULL, &u, &g, err,
                                          sizeof(err)), AGORA_EINVAL);
    ck_assert_int_eq(ctr_cmd_user_resolve("app:wheel", passwd, group, &u, &g,
                                          err, sizeof(err)), AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "group 'wheel'"));
    /* a prefix of a name is not the name */
    ck_assert_int_eq(ctr_cmd_user_resolve("ap", passwd, group, &u, &g, err,
                                          sizeof(err)), AGORA_EINVAL);
}
END_TEST

/* ---- the image store ---- */

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_I "1111111111111111111111111111111111111111111111111111111111111111"

static void put(const char *rel, const char *text)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmp, rel);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fputs(text, f);
    fclose(f);
}

static void mkd(const char *rel)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", tmp, rel);
    ck_assert_int_eq(mkdir(path, 0700), 0);
}

START_TEST(image_store)
{
    struct ctr_image img;
    char err[256], *text, path[PATH_MAX];

    mk_tmp();
    mkd("refs");
    mkd("images");
    mkd("layers");
    mkd("layers/" HEX_A);
    mkd("layers/" HEX_A "/rootfs");
    mkd("layers/" HEX_A "/rootfs/etc");
    mkd("layers/" HEX_B);
    mkd("layers/" HEX_B "/rootfs");
    mkd("layers/" HEX_B "/rootfs/etc");
    put("layers/" HEX_A "/rootfs/etc/passwd", "root:x:0:0::/:/bin/sh\n");
    put("layers/" HEX_A "/rootfs/etc/group", "root:x:0:\n");
    put("layers/" HEX_B "/rootfs/etc/passwd", "app:x:7:7::/:/bin/sh\n");
    put("images/" HEX_I ".json",
        "{\"ref\":\"reg:5000/app:1\",\"config\":\"" HEX_I "\","
        "\"layers\":[\"" HEX_A "\",\"" HEX_B "\"],"
        "\"config_json\":{\"Cmd\":[\"/x\"],\"User\":\"app\"}}");
    put("refs/reg%3A5000%2Fapp%3A1", HEX_I "\n");

    ck_assert_int_eq(ctr_image_load(tmp, "reg:5000/app:1", &img, err,
                                    sizeof(err)), 0);
    ck_assert_str_eq(img.id, HEX_I);
    ck_assert_uint_eq(img.nlayers, 2);
    snprintf(path, sizeof(path), "%s/layers/" HEX_A "/rootfs", tmp);
    ck_assert_str_eq(img.layers[0], path);
    ck_assert_str_eq(ctr_cmd_user(img.config), "app");
    /* the topmost layer's passwd; the lower one's group */
    text = ctr_image_etc_file(&img, "passwd");
    ck_assert_str_eq(text, "app:x:7:7::/:/bin/sh\n");
    free(text);
    text = ctr_image_etc_file(&img, "group");
    ck_assert_str_eq(text, "root:x:0:\n");
    free(text);
    ck_assert_ptr_null(ctr_image_etc_file(&img, "shadow"));
    ctr_image_free(&img);

    /* a whiteout in the top layer hides the lower layer's file */
    if (geteuid() == 0) {
        snprintf(path, sizeof(path), "%s/layers/" HEX_B "/rootfs/etc/group",
                 tmp);
        ck_assert_int_eq(mknod(path, S_IFCHR | 0600, makedev(0, 0)), 0);
        ck_assert_int_eq(ctr_image_load(tmp, "reg:5000/app:1", &img, err,
                                        sizeof(err)), 0);
        ck_assert_ptr_null(ctr_image_etc_file(&img, "group"));
        ctr_image_free(&img);
    }

    /* not in the store */
    ck_assert_int_eq(ctr_image_load(tmp, "reg:5000/app:2", &img, err,
                                    sizeof(err)), AGORA_ENOENT);
    ctr_image_free(&img);
    /* a ref that is a symlink is not followed */
    snprintf(path, sizeof(path), "%s/refs/link", tmp);
    ck_assert_int_eq(symlink(tmp, path), 0);
    ck_assert_int_eq(ctr_image_load(tmp, "link", &img, err, sizeof(err)),
                     AGORA_EINVAL);
    ctr_image_free(&img);
    /* damaged: not a digest, a layer missing */
    put("refs/bad", "../../etc\n");
    ck_assert_int_eq(ctr_image_load(tmp, "bad", &img, err, sizeof(err)),
                     AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "damaged"));
    ctr_image_free(&img);
    put("images/" HEX_I ".json", "{\"layers\":[\"" HEX_I "\"]}");
    ck_assert_int_eq(ctr_image_load(tmp, "reg:5000/app:1", &img, err,
                                    sizeof(err)), AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "is not in the store"));
    ctr_image_free(&img);
    put("images/" HEX_I ".json", "{\"layers\":[\"../x\"]}");
    ck_assert_int_eq(ctr_image_load(tmp, "reg:5000/app:1", &img, err,
                                    sizeof(err)), AGORA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not a digest"));
    ctr_image_free(&img);
    /* no store at all */
    ck_assert_int_eq(ctr_image_load("/nonexistent/images", "x", &img, err,
                                    sizeof(err)), AGORA_ENOENT);
    ctr_image_free(&img);
    rm_tmp();
}
END_TEST

/* ---- shown in Mesos' shape ---- */

static void expect_json(const char *container, const char *want)
{
    struct agora_jw *w = agora_jw_new();
    yajl_val c = parse(container);
    const char *got;

    agora_jw_obj_open(w);
    ctr_json_write(w, "container", c);
    agora_jw_obj_close(w);
    got = agora_jw_result(w, NULL);
    ck_assert_str_eq(got, want);
    agora_jw_free(w);
    yajl_tree_free(c);
}

START_TEST(mesos_shape)
{
    expect_json("{\"type\":\"DOCKER\",\"docker\":{\"image\":\"bb\","
                "\"network\":\"BRIDGE\"},\"portMappings\":[{\"containerPort\":"
                "80,\"hostPort\":31000}],\"volumes\":[{\"containerPath\":"
                "\"/d\",\"hostPath\":\"/h\",\"mode\":\"RO\"}]}",
                "{\"container\":{\"type\":\"DOCKER\",\"docker\":{\"image\":"
                "\"bb\",\"network\":\"BRIDGE\",\"privileged\":false,"
                "\"force_pull_image\":false,\"port_mappings\":[{\"host_port\":"
                "31000,\"container_port\":80,\"protocol\":\"tcp\"}]},"
                "\"volumes\":[{\"container_path\":\"/d\",\"host_path\":\"/h\","
                "\"mode\":\"RO\"}],\"network_infos\":[{\"name\":\"bridge\"}]}}");
    expect_json("{\"type\":\"MESOS\",\"image\":\"x/y:1\",\"network\":"
                "\"HOST\"}",
                "{\"container\":{\"type\":\"MESOS\",\"mesos\":{\"image\":{"
                "\"type\":\"DOCKER\",\"docker\":{\"name\":\"x/y:1\"}}},"
                "\"volumes\":[]}}");
    expect_json("[]", "{}");
}
END_TEST

/* A container's lines of the meta file: its address after the pids, and
 * the shim's reason after a failed start. */
START_TEST(meta_lines)
{
    struct exec_meta m;
    char path[PATH_MAX];

    mk_tmp();
    snprintf(path, sizeof(path), "%s/meta", tmp);
    put("meta", "10 20 30 40 5.5 172.31.0.7\n"
                "failed 9 22 /data in the image: Not a directory\n");
    ck_assert_int_eq(exec_meta_read(path, &m), 0);
    ck_assert_int_eq(m.has_pids, 1);
    ck_assert_int_eq(m.task, 30);
    ck_assert_str_eq(m.ip, "172.31.0.7");
    ck_assert_int_eq(m.end, EXEC_END_FAILED);
    ck_assert_int_eq(m.a, 9);
    ck_assert_int_eq(m.b, 22);
    ck_assert_str_eq(m.why, "/data in the image: Not a directory");
    /* a command task's lines, as before */
    put("meta", "10 20 30 40 5.5\nfailed 1 2\n");
    ck_assert_int_eq(exec_meta_read(path, &m), 0);
    ck_assert_int_eq(m.has_pids, 1);
    ck_assert_str_eq(m.ip, "");
    ck_assert_str_eq(m.why, "");
    ck_assert_int_eq(m.b, 2);
    rm_tmp();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("container");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, marathon_shape);
    tcase_add_test(tc, chronos_shape);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, ref_names);
    tcase_add_test(tc, command_table);
    tcase_add_test(tc, env_workdir_user);
    tcase_add_test(tc, user_resolution);
    tcase_add_test(tc, image_store);
    tcase_add_test(tc, mesos_shape);
    tcase_add_test(tc, meta_lines);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
