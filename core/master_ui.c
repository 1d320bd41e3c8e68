/*
 * master_ui.c - the master's UI files and the agents' /files proxy
 * (master_ui.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <agora/sdk.h>
#include <agora/static.h>

#include "agents.h"
#include "http.h"
#include "http_client.h"
#include "log.h"
#include "master.h"
#include "master_auth.h"
#include "master_ui.h"
#include "router.h"
#include "tasks.h"

/* core/ui/, embedded by agora_embed() in core/CMakeLists.txt. */
extern const struct agora_static_table master_ui_assets;

/* What a proxied answer may be labelled (anything else is sent as
 * application/octet-stream): nothing the browser would run. */
static const char *const ui_passed_types[] = {
    "application/json", "text/plain", "application/octet-stream", NULL,
};

/* An agent's file, served from the master's origin, must never become a
 * page of that origin: no sniffing, and a sandbox with nothing allowed. */
#define UI_PROXY_CSP "default-src 'none'; sandbox"

struct ui_proxy {
    struct master *m;
    struct http_req *req;
    struct hc_req *hc;   /* NULL once it ended or was cancelled        */
    char *agent_id;
    char *buf;
    size_t len, cap;
    int too_big;         /* over MASTER_UI_PROXY_MAX: 502              */
    int nomem;           /* the answer could not be held: 500          */
};

/* ---- the UI's files ---- */

static void ui_files(void *arg, struct http_req *req)
{
    struct agora_static_reply out;
    size_t i;

    (void)arg;
    agora_static_lookup(&master_ui_assets, http_req_method(req),
                        http_req_param(req, "path"),
                        http_req_header(req, "Accept-Encoding"),
                        http_req_header(req, "If-None-Match"), &out);
    for (i = 0; i < out.nheaders; i++)
        http_reply_header(req, out.headers[i].name, out.headers[i].value);
    http_reply(req, out.status, out.content_type, out.body, out.len);
}

/* ---- the proxy ---- */

static struct hc_client *ui_client(struct master *m)
{
    if (m->ui_http == NULL) {
        if (hc_client_new(m->loop, &m->ui_http) != 0)
            m->ui_http = NULL;
        else
            master_auth_client_tls(m, m->ui_http);
    }
    return m->ui_http;
}

/* The request ended (answered or its client gone): nothing outlives it. */
static void proxy_req_done(void *arg, struct http_req *req)
{
    struct ui_proxy *p = arg;

    (void)req;
    if (p->hc != NULL)
        hc_cancel(p->hc);
    p->m->ui_proxies--;
    free(p->agent_id);
    free(p->buf);
    free(p);
}

static int proxy_on_head(void *arg, struct hc_req *r)
{
    struct ui_proxy *p = arg;

    if (http_length_over(hc_header(r, "Content-Length"),
                         MASTER_UI_PROXY_MAX)) {
        p->too_big = 1;
        return 1;
    }
    return 0;
}

static int proxy_on_data(void *arg, struct hc_req *r, const char *data,
                         size_t len)
{
    struct ui_proxy *p = arg;

    (void)r;
    if (len > MASTER_UI_PROXY_MAX - p->len) {
        p->too_big = 1;
        return 1;
    }
    if (p->len + len > p->cap) {
        size_t cap = p->cap ? p->cap : 16384;
        char *b;

        while (cap < p->len + len)
            cap *= 2;
        b = realloc(p->buf, cap);
        if (b == NULL) {
            p->nomem = 1;
            return 1;
        }
        p->buf = b;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, data, len);
    p->len += len;
    return 0;
}

/* The agent's Content-Type if it is one of ui_passed_types. */
static const char *passed_type(const char *ct)
{
    size_t i, n;

    for (i = 0; ct && ui_passed_types[i]; i++) {
        n = strlen(ui_passed_types[i]);
        if (strncasecmp(ct, ui_passed_types[i], n) == 0 &&
            (ct[n] == '\0' || ct[n] == ';'))
            return ct;
    }
    return "application/octet-stream";
}

static void proxy_on_done(void *arg, struct hc_req *r, int err)
{
    struct ui_proxy *p = arg;
    struct http_req *req = p->req;
    const char *disp;

    /* Replying ends req, whose done callback frees p: nothing of p is
     * used after http_reply*. */
    p->hc = NULL;
    if (p->too_big) {
        http_reply_errorf(req, 502, "the agent's answer is over %zu bytes: "
                          "read the file in pieces with /files/read",
                          MASTER_UI_PROXY_MAX);
        return;
    }
    if (p->nomem) {
        http_reply_error(req, 500, "out of memory");
        return;
    }
    if (err != 0) {
        log_warn("ui", "files of agent %s: %s", p->agent_id, hc_error(r));
        http_reply_errorf(req, 502, "agent %s is unreachable: %s",
                          p->agent_id, hc_error(r));
        return;
    }
    disp = hc_header(r, "Content-Disposition");
    if (disp != NULL)
        http_reply_header(req, "Content-Disposition", disp);
    http_reply_header(req, "X-Content-Type-Options", "nosniff");
    http_reply_header(req, "Content-Security-Policy", UI_PROXY_CSP);
    http_reply_header(req, "Cache-Control", "no-store");
    http_reply(req, hc_status(r), passed_type(hc_header(r, "Content-Type")),
               p->buf ? p->buf : "", p->len);
}

/* "http[s]://ip:port/files/<op>?<query>", malloc'ed; NULL when out of
 * memory. */
static char *proxy_url(const struct agent_rec *ag, const char *op,
                       const char *query)
{
    int v6 = strchr(ag->ip, ':') != NULL;
    char *url;

    if (asprintf(&url, "%s://%s%s%s:%d/files/%s?%s",
                 ag->https ? "https" : "http", v6 ? "[" : "", ag->ip,
                 v6 ? "]" : "", ag->port, op, query) < 0)
        return NULL;
    return url;
}

static int proxy_start(struct master *m, struct http_req *req,
                       const struct agent_rec *ag, const char *op)
{
    struct hc_client *c = ui_client(m);
    struct ui_proxy *p;
    struct hc_opts o;
    char *url;
    int rc;

    if (c == NULL)
        return AGORA_ENOMEM;
    url = proxy_url(ag, op, http_req_query_string(req));
    p = calloc(1, sizeof(*p));
    if (url == NULL || p == NULL || (p->agent_id = strdup(ag->id)) == NULL) {
        free(url);
        free(p);
        return AGORA_ENOMEM;
    }
    memset(&o, 0, sizeof(o));
    o.url = url;
    o.connect_timeout = 5;
    o.timeout = MASTER_UI_PROXY_TIMEOUT;
    o.keepalive = 1;
    o.on_head = proxy_on_head;
    o.on_data = proxy_on_data;
    o.on_done = proxy_on_done;
    o.arg = p;
    p->m = m;
    p->req = req;
    rc = hc_request(c, &o, &p->hc);
    free(url);
    if (rc != 0) {
        free(p->agent_id);
        free(p);
        return rc;
    }
    http_defer(req);
    http_req_on_done(req, proxy_req_done, p);
    m->ui_proxies++;
    return 0;
}

/* access_sandboxes (object: the user of the task whose sandbox path is
 * in): 1 when req's principal may read path. The agent refuses ".."
 * itself; here it would hide whose sandbox is read, so it is refused.
 * A path naming no known task's sandbox ("/sandboxes" itself, a task
 * the master forgot) is allowed only where ANY user is. */
static int sandbox_allowed(struct master *m, struct http_req *req,
                           const char *path)
{
    static const char prefix[] = "/sandboxes/";
    const struct task *t = NULL;
    const char *id = path + sizeof(prefix) - 1, *end;
    char buf[AGORA_ID_MAX + 1];

    if (!m->acls.configured)
        return 1;
    if (strstr(path, "/../") || (strlen(path) >= 3 &&
                                 strcmp(path + strlen(path) - 3, "/..") == 0))
        return 0;
    if (strncmp(path, prefix, sizeof(prefix) - 1) == 0) {
        end = strchr(id, '/');
        if (!end)
            end = id + strlen(id);
        if ((size_t)(end - id) < sizeof(buf)) {
            memcpy(buf, id, (size_t)(end - id));
            buf[end - id] = '\0';
            t = tasks_find(m, buf);
        }
    }
    return master_auth_allow(m, req, ACL_ACCESS_SANDBOXES,
                             t ? t->user : NULL);
}

static void ui_agent_files(void *arg, struct http_req *req)
{
    struct master *m = arg;
    const char *id = http_req_param(req, "agent_id");
    const char *op = http_req_param(req, "op");
    const char *path = http_req_query(req, "path", 0);
    struct agent_rec *ag;
    int rc;

    if (strcmp(op, "browse") != 0 && strcmp(op, "read") != 0 &&
        strcmp(op, "download") != 0) {
        http_reply_errorf(req, 404, "no such files call: %s "
                          "(browse, read or download)", op);
        return;
    }
    if (path == NULL || path[0] != '/') {
        http_reply_error(req, 400, "path must be given, absolute "
                         "(/sandboxes/<task_id>/stdout, say)");
        return;
    }
    if (!sandbox_allowed(m, req, path)) {
        master_auth_forbid(req);
        return;
    }
    ag = agents_find(m, id);
    if (ag == NULL || ag->ip == NULL || ag->port <= 0) {
        http_reply_errorf(req, 404, "no such agent: %s", id);
        return;
    }
    if (m->ui_proxies >= MASTER_UI_PROXIES) {
        http_reply_error(req, 503, "too many sandbox reads at once; "
                         "try again");
        return;
    }
    rc = proxy_start(m, req, ag, op);
    if (rc != 0)
        http_reply_errorf(req, 502, "cannot ask agent %s: %s", id,
                          agora_strerror(rc));
}

int master_ui_routes(struct master *m, struct router *r)
{
    static const char *const files[] = {"/", "/ui", "/ui/*path"};
    size_t i;
    int rc;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        rc = router_add(r, "GET", NULL, files[i], (void *)ui_files, m);
        if (rc < 0)
            return rc;
    }
    return router_add(r, "GET", NULL, "/agents/:agent_id/files/:op",
                      (void *)ui_agent_files, m);
}

void master_ui_close(struct master *m)
{
    hc_client_free(m->ui_http);
    m->ui_http = NULL;
}
