/*
 * test_fetch_image.c - the pure pieces of agora-fetcher's image pulls
 * (fetcher/fetch_image.h): Docker's reference normalisation, the store's
 * %XX names, whiteout names, WWW-Authenticate challenges, and the choice
 * of a manifest in an index.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <check.h>

#include "fetch_image.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct fetch_ref parse_ok(const char *ref, const char *dflt)
{
    struct fetch_ref r;
    const char *why = NULL;

    ck_assert_msg(fetch_ref_parse(ref, dflt, &r, &why) == 0, "%s: %s", ref,
                  why);
    return r;
}

START_TEST(ref_docker_normalisation)
{
    struct fetch_ref r = parse_ok("busybox", "registry-1.docker.io");

    ck_assert_str_eq(r.registry, "registry-1.docker.io");
    ck_assert_str_eq(r.repo, "library/busybox");
    ck_assert_str_eq(r.tag, "latest");
    ck_assert_str_eq(r.digest, "");
    r = parse_ok("docker.io/jdeathe/centos-ssh:2.6.1", "registry-1.docker.io");
    ck_assert_str_eq(r.registry, "registry-1.docker.io");
    ck_assert_str_eq(r.repo, "jdeathe/centos-ssh");
    ck_assert_str_eq(r.tag, "2.6.1");
    r = parse_ok("index.docker.io/busybox:1.35", "x");
    ck_assert_str_eq(r.repo, "library/busybox");
    /* A default registry other than the Hub: no library/. */
    r = parse_ok("busybox:1", "127.0.0.1:5000");
    ck_assert_str_eq(r.registry, "127.0.0.1:5000");
    ck_assert_str_eq(r.repo, "busybox");
    ck_assert_str_eq(r.tag, "1");
    /* host:port, localhost, a dotted host; a first part without either
     * is a namespace. */
    r = parse_ok("localhost:5000/a/b/c:t", "registry-1.docker.io");
    ck_assert_str_eq(r.registry, "localhost:5000");
    ck_assert_str_eq(r.repo, "a/b/c");
    r = parse_ok("localhost/x", "registry-1.docker.io");
    ck_assert_str_eq(r.registry, "localhost");
    r = parse_ok("quay.io/coreos/etcd", "registry-1.docker.io");
    ck_assert_str_eq(r.registry, "quay.io");
    ck_assert_str_eq(r.tag, "latest");
    r = parse_ok("myorg/app", "registry-1.docker.io");
    ck_assert_str_eq(r.registry, "registry-1.docker.io");
    ck_assert_str_eq(r.repo, "myorg/app");
}
END_TEST

START_TEST(ref_digests)
{
    struct fetch_ref r = parse_ok("h:5000/busybox@sha256:" HEX64, "x");
    const char *why;

    ck_assert_str_eq(r.digest, "sha256:" HEX64);
    ck_assert_str_eq(r.tag, "");
    ck_assert_str_eq(r.repo, "busybox");
    r = parse_ok("busybox:1@sha256:" HEX64, "docker.io");
    ck_assert_str_eq(r.tag, "1");
    ck_assert_str_eq(r.digest, "sha256:" HEX64);
    ck_assert_int_eq(fetch_ref_parse("busybox@sha256:abc", "x", &r, &why), -1);
    ck_assert_int_eq(
        fetch_ref_parse("busybox@md5:" HEX64, "x", &r, &why), -1);
    ck_assert_ptr_null(fetch_digest_hex("sha256:" HEX64 "0"));
    ck_assert_ptr_null(fetch_digest_hex("sha256:ABCDEF" HEX64 + 6));
    ck_assert_str_eq(fetch_digest_hex("sha256:" HEX64), HEX64);
}
END_TEST

START_TEST(ref_refused)
{
    static const char *const bad[] = {
        "", "Busybox", "busy box", "a//b", "/abs", "name:", "name:-x",
        "name:t@", "h:5000/", "h:5000/x:" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bad_host!/x", "x/../y"};
    struct fetch_ref r;
    const char *why;

    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        why = NULL;
        ck_assert_msg(fetch_ref_parse(bad[i], "registry-1.docker.io", &r,
                                      &why) == -1,
                      "'%s' was taken", bad[i]);
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

START_TEST(ref_store_names)
{
    char out[256];

    ck_assert_int_eq(fetch_ref_name("127.0.0.1:5000/busybox:1.35", out,
                                    sizeof(out)), 0);
    ck_assert_str_eq(out, "127.0.0.1%3A5000%2Fbusybox%3A1.35");
    ck_assert_int_eq(fetch_ref_name("a_b-c.D", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "a_b-c.D");
    ck_assert_int_eq(fetch_ref_name("x@sha256:1 \xff", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "x%40sha256%3A1%20%FF");
    ck_assert_int_eq(fetch_ref_name("oci:/d", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "oci%3A%2Fd");
    /* Never "." or "..", never empty, never past the buffer. */
    ck_assert_int_eq(fetch_ref_name(".", out, sizeof(out)), -1);
    ck_assert_int_eq(fetch_ref_name("..", out, sizeof(out)), -1);
    ck_assert_int_eq(fetch_ref_name("", out, sizeof(out)), -1);
    ck_assert_int_eq(fetch_ref_name("a/b", out, 5), -1);
    ck_assert_int_eq(fetch_ref_name("a/b", out, 6), 0);
    ck_assert_str_eq(out, "a%2Fb");
}
END_TEST

START_TEST(whiteout_paths)
{
    char t[64];

    ck_assert_int_eq(fetch_whiteout("etc/.wh.hello", t, sizeof(t)),
                     FETCH_WH_DELETE);
    ck_assert_str_eq(t, "etc/hello");
    ck_assert_int_eq(fetch_whiteout(".wh.top", t, sizeof(t)), FETCH_WH_DELETE);
    ck_assert_str_eq(t, "top");
    ck_assert_int_eq(fetch_whiteout("a/b/.wh..wh..opq", t, sizeof(t)),
                     FETCH_WH_OPAQUE);
    ck_assert_str_eq(t, "a/b");
    ck_assert_int_eq(fetch_whiteout(".wh..wh..opq", t, sizeof(t)),
                     FETCH_WH_OPAQUE);
    ck_assert_str_eq(t, "");
    ck_assert_int_eq(fetch_whiteout("etc/hello.wh.x", t, sizeof(t)),
                     FETCH_WH_NONE);
    ck_assert_int_eq(fetch_whiteout("etc/.whx", t, sizeof(t)), FETCH_WH_NONE);
    ck_assert_int_eq(fetch_whiteout("etc/.wh.", t, sizeof(t)), -1);
    ck_assert_int_eq(fetch_whiteout("dir/.wh.longer-than-this", t, 10), -1);
}
END_TEST

START_TEST(challenges)
{
    struct fetch_challenge c;

    ck_assert_int_eq(
        fetch_challenge_parse("Bearer realm=\"https://auth.docker.io/token\","
                              "service=\"registry.docker.io\",scope=\"repository"
                              ":library/busybox:pull\"",
                              &c),
        0);
    ck_assert_int_eq(c.bearer, 1);
    ck_assert_str_eq(c.realm, "https://auth.docker.io/token");
    ck_assert_str_eq(c.service, "registry.docker.io");
    ck_assert_str_eq(c.scope, "repository:library/busybox:pull");
    ck_assert_int_eq(fetch_challenge_parse("bearer Realm=http://h/t, "
                                           "service=s",
                                           &c),
                     0);
    ck_assert_str_eq(c.realm, "http://h/t");
    ck_assert_str_eq(c.service, "s");
    ck_assert_str_eq(c.scope, "");
    ck_assert_int_eq(fetch_challenge_parse("Basic realm=\"x\"", &c), 0);
    ck_assert_int_eq(c.bearer, 0);
    ck_assert_int_eq(fetch_challenge_parse("Bearer service=\"s\"", &c), -1);
    ck_assert_int_eq(fetch_challenge_parse("Negotiate", &c), -1);
    ck_assert_int_eq(fetch_challenge_parse("Bearer realm=\"unterminated", &c),
                     0);
    ck_assert_str_eq(c.realm, "unterminated");
}
END_TEST

static yajl_val parse(const char *text)
{
    char err[128];
    yajl_val v = agora_json_parse(text, err, sizeof(err));

    ck_assert_msg(v != NULL, "%s", err);
    return v;
}

START_TEST(manifest_kinds_and_pick)
{
    yajl_val v = parse(
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker."
        "distribution.manifest.list.v2+json\",\"manifests\":["
        "{\"digest\":\"sha256:" HEX64 "\",\"platform\":{\"os\":\"windows\","
        "\"architecture\":\"amd64\"}},"
        "{\"digest\":\"sha256:1" HEX64 "\",\"platform\":{\"os\":\"linux\","
        "\"architecture\":\"amd64\"}},"
        "{\"digest\":\"sha256:aaaa" HEX64 "\",\"platform\":{\"os\":\"linux\","
        "\"architecture\":\"arm64\"}}]}");
    char d[80];

    ck_assert_int_eq(fetch_manifest_kind(v, NULL), FETCH_MF_INDEX);
    /* Bad digests are skipped, as are other systems. */
    ck_assert_int_eq(fetch_manifest_pick(v, "amd64", d, sizeof(d)), -1);
    ck_assert_int_eq(fetch_manifest_pick(v, "riscv64", d, sizeof(d)), -1);
    yajl_tree_free(v);
    v = parse("{\"schemaVersion\":2,\"manifests\":["
              "{\"digest\":\"sha256:" HEX64 "\",\"platform\":{\"os\":\"linux\","
              "\"architecture\":\"arm64\"}},"
              "{\"digest\":\"sha256:" HEX64 "\",\"platform\":{\"os\":\"linux\","
              "\"architecture\":\"amd64\"}}]}");
    ck_assert_int_eq(fetch_manifest_kind(v, NULL), FETCH_MF_INDEX);
    ck_assert_int_eq(fetch_manifest_pick(v, "amd64", d, sizeof(d)), 0);
    ck_assert_str_eq(d, "sha256:" HEX64);
    ck_assert_int_eq(fetch_manifest_pick(v, "amd64", d, 10), -1);
    yajl_tree_free(v);
    v = parse("{\"schemaVersion\":2,\"config\":{},\"layers\":[]}");
    ck_assert_int_eq(fetch_manifest_kind(v, NULL), FETCH_MF_IMAGE);
    yajl_tree_free(v);
    v = parse("{\"schemaVersion\":1,\"fsLayers\":[]}");
    ck_assert_int_eq(fetch_manifest_kind(v, NULL), FETCH_MF_UNKNOWN);
    ck_assert_int_eq(fetch_manifest_kind(v, "application/vnd.oci.image."
                                            "manifest.v1+json"),
                     FETCH_MF_IMAGE);
    yajl_tree_free(v);
    ck_assert_int_eq(fetch_manifest_kind(NULL, NULL), FETCH_MF_UNKNOWN);
    ck_assert_ptr_nonnull(fetch_arch());
}
END_TEST

static Suite *image_suite(void)
{
    Suite *s = suite_create("fetch_image");
    TCase *tc = tcase_create("pure");

    tcase_add_test(tc, ref_docker_normalisation);
    tcase_add_test(tc, ref_digests);
    tcase_add_test(tc, ref_refused);
    tcase_add_test(tc, ref_store_names);
    tcase_add_test(tc, whiteout_paths);
    tcase_add_test(tc, challenges);
    tcase_add_test(tc, manifest_kinds_and_pick);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(image_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
