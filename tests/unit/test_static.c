/*
 * test_static.c - the embedded table agora_embed() generates and the
 * serving rules of <agora/static.h>: index and client routes, ETag and
 * 304, gzip negotiation, the security headers, and agora_static_serve()
 * through a services table whose request calls are the test's own.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/static.h>

/* tests/unit/static_assets/, embedded by agora_embed() at build time. */
extern const struct agora_static_table test_assets;

static const char *header(const struct agora_static_reply *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static int lookup(const char *method, const char *rel, const char *ae,
                  const char *inm, struct agora_static_reply *r)
{
    return agora_static_lookup(&test_assets, method, rel, ae, inm, r);
}

START_TEST(table_is_sorted_and_typed)
{
    const struct agora_static_file *f;
    size_t i;

    ck_assert_uint_eq(test_assets.n, 4);
    ck_assert_str_eq(test_assets.name, "test_assets");
    for (i = 1; i < test_assets.n; i++)
        ck_assert_int_lt(
            strcmp(test_assets.files[i - 1].path, test_assets.files[i].path),
            0);
    f = agora_static_find(&test_assets, "js/app.js");
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->content_type, "text/javascript; charset=utf-8");
    ck_assert_uint_eq(f->len, strlen("// repeated so that gzip makes it "
                                     "smaller\n") +
                                  200 * 20);
    ck_assert_int_eq(memcmp(f->data, "// repeated", 11), 0);
    /* gzip's magic, and smaller: the file repeats itself. */
    ck_assert_ptr_nonnull(f->gz);
    ck_assert_uint_lt(f->gz_len, f->len / 4);
    ck_assert_int_eq(f->gz[0], 0x1f);
    ck_assert_int_eq(f->gz[1], 0x8b);
    ck_assert_str_eq(
        agora_static_find(&test_assets, "index.html")->content_type,
        "text/html; charset=utf-8");
    ck_assert_str_eq(agora_static_find(&test_assets, "style.css")->content_type,
                     "text/css; charset=utf-8");
    /* One byte does not shrink: no gzip'd form. */
    f = agora_static_find(&test_assets, "tiny.txt");
    ck_assert_ptr_null(f->gz);
    ck_assert_uint_eq(f->len, 1);
    ck_assert_ptr_null(agora_static_find(&test_assets, "js"));
    ck_assert_ptr_null(agora_static_find(&test_assets, "/index.html"));
}
END_TEST

START_TEST(etags_are_hashes_of_the_bytes)
{
    const struct agora_static_file *a, *b;

    a = agora_static_find(&test_assets, "index.html");
    b = agora_static_find(&test_assets, "style.css");
    ck_assert_int_eq(a->etag[0], '"');
    ck_assert_uint_eq(strlen(a->etag), 18);
    ck_assert_str_ne(a->etag, b->etag);
    /* The gzip'd form is another representation: its own tag. */
    ck_assert_str_ne(a->etag, a->etag_gz);
    ck_assert_int_eq(strncmp(a->etag, a->etag_gz, 17), 0);
    ck_assert_str_eq(a->etag_gz + 17, "-gz\"");
}
END_TEST

START_TEST(index_and_client_routes)
{
    struct agora_static_reply r;
    const struct agora_static_file *index =
        agora_static_find(&test_assets, "index.html");

    ck_assert_int_eq(lookup("GET", NULL, NULL, NULL, &r), 200);
    ck_assert_ptr_eq(r.file, index);
    ck_assert_ptr_eq(r.body, index->data);
    ck_assert_uint_eq(r.len, index->len);
    ck_assert_int_eq(lookup("GET", "/", NULL, NULL, &r), 200);
    ck_assert_ptr_eq(r.file, index);
    /* No extension: a route of the page's own. */
    ck_assert_int_eq(lookup("GET", "agents", NULL, NULL, &r), 200);
    ck_assert_ptr_eq(r.file, index);
    ck_assert_int_eq(lookup("GET", "/tasks/x/sandbox", NULL, NULL, &r), 200);
    ck_assert_ptr_eq(r.file, index);
    ck_assert_int_eq(lookup("GET", "/js/app.js", NULL, NULL, &r), 200);
    ck_assert_str_eq(r.content_type, "text/javascript; charset=utf-8");
    /* An extension: a file, and a missing one is 404 (not the page). */
    ck_assert_int_eq(lookup("GET", "js/none.js", NULL, NULL, &r), 404);
    ck_assert_ptr_null(r.file);
    ck_assert_str_eq(r.content_type, "application/json");
    ck_assert_str_eq((const char *)r.body, "{\"message\":\"no such file\"}");
    ck_assert_int_eq(lookup("GET", "../../etc/passwd", NULL, NULL, &r), 404);
    ck_assert_int_eq(lookup("GET", "js/../index.html", NULL, NULL, &r), 404);
    ck_assert_int_eq(lookup("GET", "a/./b", NULL, NULL, &r), 404);
    ck_assert_int_eq(lookup("GET", "..", NULL, NULL, &r), 404);
}
END_TEST

START_TEST(methods)
{
    struct agora_static_reply r;

    ck_assert_int_eq(lookup("HEAD", "style.css", NULL, NULL, &r), 200);
    ck_assert_uint_eq(r.len, 7);
    ck_assert_int_eq(lookup("POST", "style.css", NULL, NULL, &r), 405);
    ck_assert_str_eq(header(&r, "Allow"), "GET, HEAD");
    ck_assert_int_eq(lookup(NULL, "style.css", NULL, NULL, &r), 405);
}
END_TEST

START_TEST(security_and_cache_headers)
{
    struct agora_static_reply r;
    const char *csp;

    lookup("GET", "index.html", NULL, NULL, &r);
    ck_assert_str_eq(header(&r, "X-Content-Type-Options"), "nosniff");
    ck_assert_str_eq(header(&r, "Cache-Control"), "no-cache");
    ck_assert_str_eq(header(&r, "Vary"), "Accept-Encoding");
    ck_assert_str_eq(header(&r, "ETag"), r.file->etag);
    csp = header(&r, "Content-Security-Policy");
    ck_assert_ptr_nonnull(strstr(csp, "default-src 'self'"));
    ck_assert_ptr_null(strstr(csp, "unsafe-inline"));
    ck_assert_ptr_null(strstr(csp, "unsafe-eval"));
    ck_assert_ptr_nonnull(strstr(csp, "frame-ancestors 'none'"));
    lookup("GET", "x.js", NULL, NULL, &r);
    ck_assert_str_eq(header(&r, "X-Content-Type-Options"), "nosniff");
    ck_assert_ptr_null(header(&r, "ETag"));
}
END_TEST

START_TEST(gzip_negotiation)
{
    struct agora_static_reply r;
    const struct agora_static_file *f =
        agora_static_find(&test_assets, "js/app.js");
    static const struct {
        const char *ae;
        int gzip;
    } cases[] = {
        {NULL, 0},
        {"", 0},
        {"gzip", 1},
        {"gzip, deflate, br", 1},
        {"br;q=1.0, GZIP;q=0.5", 1},
        {"x-gzip", 1},
        {"gzip;q=0", 0},
        {"gzip; q=0.0, *", 0},
        {"*", 1},
        {"*;q=0", 0},
        {"identity", 0},
        {"deflate, gzipx", 0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(lookup("GET", "js/app.js", cases[i].ae, NULL, &r),
                         200);
        if (cases[i].gzip) {
            ck_assert_msg(r.body == f->gz, "%s: not gzip'd", cases[i].ae);
            ck_assert_uint_eq(r.len, f->gz_len);
            ck_assert_str_eq(header(&r, "Content-Encoding"), "gzip");
            ck_assert_str_eq(header(&r, "ETag"), f->etag_gz);
        } else {
            ck_assert_msg(r.body == f->data, "%s: gzip'd",
                          cases[i].ae ? cases[i].ae : "(none)");
            ck_assert_ptr_null(header(&r, "Content-Encoding"));
            ck_assert_str_eq(header(&r, "ETag"), f->etag);
        }
        ck_assert_str_eq(r.content_type, f->content_type);
    }
    /* A file without a gzip'd form is sent as it is. */
    lookup("GET", "tiny.txt", "gzip", NULL, &r);
    ck_assert_ptr_null(header(&r, "Content-Encoding"));
    ck_assert_uint_eq(r.len, 1);
}
END_TEST

START_TEST(conditional_requests)
{
    struct agora_static_reply r;
    const struct agora_static_file *f =
        agora_static_find(&test_assets, "js/app.js");
    char inm[128];

    ck_assert_int_eq(lookup("GET", "js/app.js", NULL, f->etag, &r), 304);
    ck_assert_uint_eq(r.len, 0);
    ck_assert_str_eq(header(&r, "ETag"), f->etag);
    ck_assert_str_eq(header(&r, "Cache-Control"), "no-cache");
    ck_assert_ptr_null(header(&r, "Content-Encoding"));
    ck_assert_int_eq(lookup("GET", "js/app.js", "gzip", f->etag_gz, &r), 304);
    ck_assert_str_eq(header(&r, "ETag"), f->etag_gz);
    /* The other form's tag does not match this one. */
    ck_assert_int_eq(lookup("GET", "js/app.js", "gzip", f->etag, &r), 200);
    ck_assert_int_eq(lookup("GET", "js/app.js", NULL, f->etag_gz, &r), 200);
    snprintf(inm, sizeof(inm), "\"nope\", W/%s", f->etag);
    ck_assert_int_eq(lookup("GET", "js/app.js", NULL, inm, &r), 304);
    ck_assert_int_eq(lookup("HEAD", "js/app.js", NULL, "*", &r), 304);
    ck_assert_int_eq(lookup("GET", "js/app.js", NULL, "\"nope\"", &r), 200);
    /* A prefix of the tag is not the tag. */
    snprintf(inm, sizeof(inm), "%.10s", f->etag);
    ck_assert_int_eq(lookup("GET", "js/app.js", NULL, inm, &r), 200);
    /* The tag of another file does not match. */
    ck_assert_int_eq(lookup("GET", "index.html", NULL, f->etag, &r), 200);
}
END_TEST

/* ---- agora_static_serve() through a services table of the test's ---- */

struct fake_req {
    const char *method, *path, *ae, *inm;
    char headers[2048];
    int status;
    const char *content_type;
    size_t len;
    int replies;
};

#define FAKE(r) ((struct fake_req *)(void *)(r))

static const char *f_method(struct agora_req *r)
{
    return FAKE(r)->method;
}
static const char *f_path(struct agora_req *r)
{
    return FAKE(r)->path;
}

static const char *f_header(struct agora_req *r, const char *name)
{
    if (strcmp(name, "Accept-Encoding") == 0)
        return FAKE(r)->ae;
    if (strcmp(name, "If-None-Match") == 0)
        return FAKE(r)->inm;
    return NULL;
}

static int f_reply_header(struct agora_req *r, const char *name,
                          const char *value)
{
    char *h = FAKE(r)->headers;
    size_t n = strlen(h);

    snprintf(h + n, sizeof(FAKE(r)->headers) - n, "%s: %s\n", name, value);
    return 0;
}

static int f_reply(struct agora_req *r, int status, const char *ct,
                   const void *body, size_t len)
{
    (void)body;
    FAKE(r)->status = status;
    FAKE(r)->content_type = ct;
    FAKE(r)->len = len;
    FAKE(r)->replies++;
    return 0;
}

static struct agora_api fake_api(void)
{
    struct agora_api a;

    memset(&a, 0, sizeof(a));
    a.size = sizeof(a);
    a.req_method = f_method;
    a.req_path = f_path;
    a.req_header = f_header;
    a.reply_header = f_reply_header;
    a.reply = f_reply;
    return a;
}

START_TEST(serve_through_the_api)
{
    struct agora_api api = fake_api();
    struct fake_req q = {
        .method = "GET", .path = "/hello/ui/js/app.js", .ae = "gzip, deflate"};
    const struct agora_static_file *f =
        agora_static_find(&test_assets, "js/app.js");

    agora_static_serve(&api, (struct agora_req *)(void *)&q, &test_assets,
                       "js/app.js");
    ck_assert_int_eq(q.replies, 1);
    ck_assert_int_eq(q.status, 200);
    ck_assert_uint_eq(q.len, f->gz_len);
    ck_assert_str_eq(q.content_type, f->content_type);
    ck_assert_ptr_nonnull(strstr(q.headers, "Content-Encoding: gzip\n"));
    ck_assert_ptr_nonnull(
        strstr(q.headers, "X-Content-Type-Options: nosniff\n"));
    ck_assert_ptr_nonnull(
        strstr(q.headers, "Content-Security-Policy: default-src 'self'"));

    memset(&q, 0, sizeof(q));
    q.method = "GET";
    q.path = "/hello/ui/js/app.js";
    q.inm = f->etag;
    agora_static_serve(&api, (struct agora_req *)(void *)&q, &test_assets,
                       "js/app.js");
    ck_assert_int_eq(q.status, 304);
    ck_assert_uint_eq(q.len, 0);
}
END_TEST

START_TEST(serve_mount_point)
{
    struct agora_api api = fake_api();
    struct fake_req q = {.method = "GET", .path = "/hello/ui"};

    /* Without its '/': relative URLs would resolve above it. */
    agora_static_serve(&api, (struct agora_req *)(void *)&q, &test_assets,
                       NULL);
    ck_assert_int_eq(q.status, 308);
    ck_assert_ptr_nonnull(strstr(q.headers, "Location: ui/\n"));
    memset(&q, 0, sizeof(q));
    q.method = "GET";
    q.path = "/hello/ui/";
    agora_static_serve(&api, (struct agora_req *)(void *)&q, &test_assets,
                       NULL);
    ck_assert_int_eq(q.status, 200);
    ck_assert_uint_eq(q.len,
                      agora_static_find(&test_assets, "index.html")->len);
    memset(&q, 0, sizeof(q));
    q.method = "GET";
    q.path = "/";
    agora_static_serve(&api, (struct agora_req *)(void *)&q, &test_assets,
                       NULL);
    ck_assert_int_eq(q.status, 200);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("static");
    TCase *tc = tcase_create("static");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, table_is_sorted_and_typed);
    tcase_add_test(tc, etags_are_hashes_of_the_bytes);
    tcase_add_test(tc, index_and_client_routes);
    tcase_add_test(tc, methods);
    tcase_add_test(tc, security_and_cache_headers);
    tcase_add_test(tc, gzip_negotiation);
    tcase_add_test(tc, conditional_requests);
    tcase_add_test(tc, serve_through_the_api);
    tcase_add_test(tc, serve_mount_point);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
