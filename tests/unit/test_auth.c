/*
 * test_auth.c - credentials files, HTTP Basic, HS256 bearer tokens and
 * the base64 decoder they share.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <agora/plugin.h>

#include "acl.h"
#include "auth.h"
#include "b64.h"
#include "uuid.h"

static char dir[] = "/tmp/test_auth.XXXXXX";
static struct auth a;

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(strcpy(dir, "/tmp/test_auth.XXXXXX")));
    memset(&a, 0, sizeof(a));
}

static void teardown(void)
{
    char cmd[128];

    auth_free(&a);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Writes text into dir/name with mode; returns the path (static). */
static const char *file(const char *name, const char *text, mode_t mode)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

static enum auth_result check(const char *header, char *who)
{
    const char *why = NULL;

    return auth_check(&a, header, 1000.0, who, 64, &why);
}

START_TEST(credentials_json_and_text)
{
    char err[256], who[64];
    char *basic;

    ck_assert_int_eq(auth_load_credentials(&a, file("c.json",
        "{\"credentials\": [{\"principal\": \"ops\", \"secret\": \"s3\"},"
        " {\"principal\": \"ci\", \"secret\": \"pw\"}]}", 0600),
        err, sizeof(err)), 0);
    ck_assert_int_eq(auth_load_credentials(&a, file("c.txt",
        "# comment\nagent  topsecret\n\n", 0640), err, sizeof(err)), 0);
    ck_assert_uint_eq(a.ncreds, 3);
    basic = auth_basic_header("agent", "topsecret");
    ck_assert_int_eq(check(basic, who), AUTH_OK);
    ck_assert_str_eq(who, "agent");
    free(basic);
    basic = auth_basic_header("ops", "s3");
    ck_assert_int_eq(check(basic, who), AUTH_OK);
    ck_assert_str_eq(who, "ops");
    free(basic);
    basic = auth_basic_header("ops", "s4");
    ck_assert_int_eq(check(basic, who), AUTH_DENIED);
    free(basic);
    basic = auth_basic_header("nobody", "s3");
    ck_assert_int_eq(check(basic, who), AUTH_DENIED);
    free(basic);
    ck_assert_int_eq(check(NULL, who), AUTH_MISSING);
    ck_assert_int_eq(check("Basic !!!", who), AUTH_DENIED);
    ck_assert_int_eq(check("Basic b3Bz", who), AUTH_DENIED); /* "ops" */
    ck_assert_int_eq(check("Digest x", who), AUTH_DENIED);
}
END_TEST

START_TEST(files_refused)
{
    char err[256];

    ck_assert_int_lt(auth_load_credentials(&a, file("open.txt", "a b\n",
                                                    0644), err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(err, "every user may read"));
    ck_assert_ptr_null(strstr(err, "b\n"));
    ck_assert_int_lt(auth_load_credentials(&a, file("bad.txt", "a b c\n",
                                                    0600), err, sizeof(err)), 0);
    ck_assert_int_lt(auth_load_credentials(&a, file("none.txt", "# no\n",
                                                    0600), err, sizeof(err)), 0);
    ck_assert_int_lt(auth_load_credentials(&a, file("bad.json",
        "{\"credentials\": [{\"principal\": \"x\"}]}", 0600), err,
        sizeof(err)), 0);
    ck_assert_int_lt(auth_load_credentials(&a, "/nonexistent/x", err,
                                           sizeof(err)), 0);
    ck_assert_int_lt(auth_load_jwt_key(&a, file("k", "\n", 0600), err,
                                       sizeof(err)), 0);
}
END_TEST

START_TEST(base64)
{
    unsigned char out[16];

    ck_assert_int_eq(b64_decode("aGk=", 4, 0, out, sizeof(out)), 2);
    ck_assert(memcmp(out, "hi", 2) == 0);
    ck_assert_int_eq(b64_decode("aGk", 3, 0, out, sizeof(out)), 2);
    ck_assert_int_eq(b64_decode("-_8", 3, 1, out, sizeof(out)), 2);
    ck_assert_int_eq(out[0], 0xfb);
    ck_assert_int_eq(b64_decode("-_8", 3, 0, out, sizeof(out)), -1);
    ck_assert_int_eq(b64_decode("a", 1, 0, out, sizeof(out)), -1);
    ck_assert_int_eq(b64_decode("aGl", 3, 0, out, sizeof(out)), -1);
    ck_assert_int_eq(b64_decode("aGVsbG8=", 8, 0, out, 4), -1);
}
END_TEST

START_TEST(base64_encode_and_uuids)
{
    static const char *const texts[] = {"", "h", "hi", "hey", "hello"};
    static const char *const want[] = {"", "aA==", "aGk=", "aGV5",
                                       "aGVsbG8="};
    unsigned char raw[16], back[16];
    char out[B64_ENCODED_LEN(16)];
    size_t i;

    for (i = 0; i < 5; i++) {
        ck_assert_uint_eq(b64_encode((const unsigned char *)texts[i],
                                     strlen(texts[i]), out), strlen(want[i]));
        ck_assert_str_eq(out, want[i]);
    }
    ck_assert_int_eq(uuid_parse("0123abcd-4567-89AB-cdef-0123456789ab", raw),
                     0);
    ck_assert_int_eq(raw[0], 0x01);
    ck_assert_int_eq(raw[15], 0xab);
    b64_encode(raw, 16, out);
    ck_assert_int_eq(b64_decode(out, strlen(out), 0, back, sizeof(back)), 16);
    ck_assert(memcmp(raw, back, 16) == 0);
    ck_assert_int_eq(uuid_parse("0123abcd-4567-89ab-cdef-0123456789a", raw),
                     -1);
    ck_assert_int_eq(uuid_parse("0123abcd-4567-89ab-cdef-0123456789abc",
                                raw), -1);
    ck_assert_int_eq(uuid_parse("0123abcd+4567-89ab-cdef-0123456789ab", raw),
                     -1);
    ck_assert_int_eq(uuid_parse("0123abcg-4567-89ab-cdef-0123456789ab", raw),
                     -1);
}
END_TEST

/* base64url without padding. */
static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i;

    for (i = 0; i < n; i += 3) {
        unsigned long v = (unsigned long)in[i] << 16;

        v |= i + 1 < n ? (unsigned long)in[i + 1] << 8 : 0;
        v |= i + 2 < n ? in[i + 2] : 0;
        *out++ = tab[(v >> 18) & 63];
        *out++ = tab[(v >> 12) & 63];
        if (i + 1 < n)
            *out++ = tab[(v >> 6) & 63];
        if (i + 2 < n)
            *out++ = tab[v & 63];
    }
    *out = '\0';
}

/* "Bearer h.c.s" for header and claims, signed with key. */
static char *jwt(const char *header, const char *claims, const char *key)
{
    static char tok[1024];
    unsigned char mac[32];
    size_t n;

    strcpy(tok, "Bearer ");
    b64url((const unsigned char *)header, strlen(header), tok + 7);
    n = strlen(tok);
    tok[n] = '.';
    b64url((const unsigned char *)claims, strlen(claims), tok + n + 1);
    ck_assert_int_eq(gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, strlen(key),
                                      tok + 7, strlen(tok + 7), mac), 0);
    n = strlen(tok);
    tok[n] = '.';
    b64url(mac, sizeof(mac), tok + n + 1);
    return tok;
}

START_TEST(bearer_tokens)
{
    static const char hs[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char err[256], who[64];

    ck_assert_int_eq(check(jwt(hs, "{\"sub\":\"ci\"}", "k3y"), who),
                     AUTH_DENIED); /* no key configured */
    ck_assert_int_eq(auth_load_jwt_key(&a, file("key", "k3y\n", 0600), err,
                                       sizeof(err)), 0);
    ck_assert_int_eq(check(jwt(hs, "{\"sub\":\"ci\",\"exp\":2000}", "k3y"),
                           who), AUTH_OK);
    ck_assert_str_eq(who, "ci");
    ck_assert_int_eq(check(jwt(hs, "{\"sub\":\"ci\"}", "other"), who),
                     AUTH_DENIED);
    ck_assert_int_eq(check(jwt(hs, "{\"sub\":\"ci\",\"exp\":999}", "k3y"),
                           who), AUTH_DENIED);
    ck_assert_int_eq(check(jwt(hs, "{\"sub\":\"ci\",\"nbf\":1001}", "k3y"),
                           who), AUTH_DENIED);
    ck_assert_int_eq(check(jwt(hs, "{\"exp\":2000}", "k3y"), who),
                     AUTH_DENIED);
    ck_assert_int_eq(check(jwt("{\"alg\":\"none\"}", "{\"sub\":\"ci\"}",
                               "k3y"), who), AUTH_DENIED);
    ck_assert_int_eq(check("Bearer a.b", who), AUTH_DENIED);
    ck_assert_int_eq(check("Bearer a.b.c.d", who), AUTH_DENIED);
}
END_TEST

START_TEST(long_header_refused)
{
    char *h = malloc(AUTH_HEADER_MAX + 16), who[64];

    ck_assert_ptr_nonnull(h);
    memset(h, 'A', AUTH_HEADER_MAX + 15);
    memcpy(h, "Basic ", 6);
    h[AUTH_HEADER_MAX + 15] = '\0';
    ck_assert_int_eq(check(h, who), AUTH_DENIED);
    free(h);
}
END_TEST

/* Mesos' examples (docs/authorization.md): the first matching rule
 * decides; NONE on either side refuses; ANY and NONE match everything. */
START_TEST(acls_as_mesos)
{
    struct acls acl;
    char err[256];

    ck_assert_int_eq(acls_load(&acl, "{\"run_tasks\": ["
        "{\"principals\": {\"values\": [\"ops\"]}, \"users\": {\"type\": \"ANY\"}},"
        "{\"principals\": {\"type\": \"NONE\"}, \"users\": {\"values\": [\"root\"]}},"
        "{\"principals\": {\"values\": [\"foo\"]}, \"users\": {\"type\": \"NONE\"}}]}",
        err, sizeof(err)), 0);
    ck_assert(acls_allow(&acl, ACL_RUN_TASKS, "ops", "root"));
    ck_assert(!acls_allow(&acl, ACL_RUN_TASKS, "dev", "root"));
    ck_assert(!acls_allow(&acl, ACL_RUN_TASKS, NULL, "root"));
    ck_assert(!acls_allow(&acl, ACL_RUN_TASKS, "foo", "nobody"));
    ck_assert(acls_allow(&acl, ACL_RUN_TASKS, "dev", "nobody"));  /* permissive */
    ck_assert(acls_allow(&acl, ACL_GET_FLAGS, "anyone", NULL));
    acls_free(&acl);

    ck_assert_int_eq(acls_load(&acl, "{\"permissive\": false, \"get_flags\": "
        "[{\"principals\": {\"values\": [\"ops\"]}}]}", err, sizeof(err)), 0);
    ck_assert(acls_allow(&acl, ACL_GET_FLAGS, "ops", NULL));
    ck_assert(!acls_allow(&acl, ACL_GET_FLAGS, "dev", NULL));
    ck_assert(!acls_allow(&acl, ACL_GET_FLAGS, NULL, NULL));
    ck_assert(!acls_allow(&acl, ACL_RUN_TASKS, "ops", "nobody"));
    acls_free(&acl);

    ck_assert(acls_allow(&acl, ACL_RUN_TASKS, NULL, "root")); /* none */
    ck_assert(!acls_allow_explicit(&acl, ACL_RUN_TASKS, NULL, "root"));
    ck_assert_int_eq(acls_load(&acl, "{\"run_tasks\": [{\"principals\": "
        "{\"values\": [\"ops\"]}, \"users\": {\"values\": [\"root\"]}}]}",
        err, sizeof(err)), 0);
    ck_assert(acls_allow_explicit(&acl, ACL_RUN_TASKS, "ops", "root"));
    ck_assert(!acls_allow_explicit(&acl, ACL_RUN_TASKS, "dev", "root"));
    ck_assert(acls_allow(&acl, ACL_RUN_TASKS, "dev", "root")); /* permissive */
    acls_free(&acl);
    ck_assert_int_lt(acls_load(&acl, "{\"launch_rockets\": []}", err,
                               sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(err, "unknown action"));
    ck_assert_int_lt(acls_load(&acl, "{\"run_tasks\": [{\"users\": "
        "{\"type\": \"SOME\"}}]}", err, sizeof(err)), 0);
    ck_assert_int_lt(acls_load(&acl, "/nonexistent/acls.json", err,
                               sizeof(err)), 0);
    ck_assert_int_lt(acls_load(&acl, "{\"permissive\": 1}", err,
                               sizeof(err)), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("auth");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, credentials_json_and_text);
    tcase_add_test(tc, files_refused);
    tcase_add_test(tc, base64);
    tcase_add_test(tc, base64_encode_and_uuids);
    tcase_add_test(tc, bearer_tokens);
    tcase_add_test(tc, long_header_refused);
    tcase_add_test(tc, acls_as_mesos);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
