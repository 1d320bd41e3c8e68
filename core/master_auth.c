/*
 * master_auth.c - who may call the master, as Mesos' flags say:
 *
 *   --credentials=<file>             principals and secrets (auth.h)
 *   --jwt_secret_key=<file>          the HS256 key of bearer tokens
 *   --authenticate_http_readonly     GET and HEAD of the core's routes
 *   --authenticate_http_readwrite    every other method of them
 *   --authenticate_agents            /api/agent/... (subscribe, updates)
 *   --authenticate_frameworks        plugin routes, on the master's port
 *                                    and the plugins' own; a plugin's
 *                                    conf `authenticate = true|false`
 *                                    decides for it
 *
 * The gate runs after routing, before the handler: a request of a realm
 * that must authenticate and does not is answered 401 with
 * WWW-Authenticate, and a log line names the principal or the address,
 * never a secret. /health, /version and /redirect stay open (load
 * balancers and agents looking for the leader), as in Mesos.
 */
#include <stdio.h>
#include <string.h>

#include <agora/sdk.h>

#include "auth.h"
#include "clock.h"
#include "conf.h"
#include "http.h"
#include "http_client.h"
#include "http_tls.h"
#include "log.h"
#include "master.h"
#include "master_auth.h"
#include "plugin_api.h"
#include "plugin_conf.h"
#include "plugins.h"
#include "tasks.h"

enum realm {
    REALM_OPEN,
    REALM_READONLY,
    REALM_READWRITE,
    REALM_AGENTS,
    REALM_FRAMEWORKS
};

static const char *const realm_names[] = {
    "", "mesos-master-readonly", "mesos-master-readwrite", "agora-agents",
    "mesos-master-scheduler"};

/* Paths that never ask: what finds and checks a master. */
static int path_open(const char *path)
{
    static const char *const open[] = {
        "/health", "/master/health", "/health.json", "/master/health.json",
        "/redirect", "/master/redirect", "/version", NULL};
    size_t i;

    for (i = 0; open[i]; i++)
        if (strcmp(path, open[i]) == 0)
            return 1;
    return 0;
}

/* A plugin's own say (`authenticate = ...` in its conf; its own
 * `http_credentials` mean yes), else the flag. */
static int plugin_must(struct master *m, const struct plugin *p)
{
    const char *v = plugin_conf_get(&p->conf, "authenticate");
    int b;

    if (v && conf_value_parse(AGORA_CONF_BOOL, v, &b, NULL, 0) == 0)
        return b;
    if (plugin_conf_get(&p->conf, "http_credentials"))
        return 1;
    return m->conf.authenticate_frameworks;
}

/* The realm of req, whether it must authenticate (*must), and for a
 * plugin's route the plugin (*plugin). */
static enum realm realm_of(struct master *m, struct http_req *req,
                           const struct plugin *port_plugin, int *must,
                           const struct plugin **plugin)
{
    const char *method = http_req_method(req), *path = http_req_path(req);
    void *handler = http_req_route_handler(req);

    if (port_plugin || handler == (void *)plugin_route_dispatch) {
        const struct plugin_route *pr = http_req_route_arg(req);
        const struct plugin *p = port_plugin ? port_plugin
                                 : pr ? pr->p : NULL;

        *must = p ? plugin_must(m, p) : m->conf.authenticate_frameworks;
        *plugin = p;
        return REALM_FRAMEWORKS;
    }
    if (path_open(path)) {
        *must = 0;
        return REALM_OPEN;
    }
    if (strncmp(path, "/api/agent/", 11) == 0) {
        *must = m->conf.authenticate_agents;
        return REALM_AGENTS;
    }
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
        *must = m->conf.authenticate_http_readonly;
        return REALM_READONLY;
    }
    *must = m->conf.authenticate_http_readwrite;
    return REALM_READWRITE;
}

/* Answers 401 for realm; why is for the log. */
static void refuse(struct master *m, struct http_req *req, enum realm realm,
                   const char *why)
{
    char peer[48], challenge[128];

    log_warn("auth", "%s %s from %s refused: %s", http_req_method(req),
             http_req_path(req), http_req_peer(req, peer, sizeof(peer)), why);
    snprintf(challenge, sizeof(challenge), "Basic realm=\"%s\"",
             realm_names[realm]);
    http_reply_header(req, "WWW-Authenticate", challenge);
    if (m->auth.jwt_key)
        http_reply_header(req, "WWW-Authenticate", "Bearer");
    http_reply_error(req, 401, "authentication required: send HTTP Basic "
                               "credentials or a bearer token");
}

static int gate(struct master *m, struct http_req *req,
                const struct plugin *port_plugin)
{
    const char *header = http_req_header(req, "Authorization");
    const struct plugin *p = NULL;
    const char *why = NULL, *pair;
    char principal[256];
    int must = 0;
    enum realm realm = realm_of(m, req, port_plugin, &must, &p);
    enum auth_result res = AUTH_MISSING;

    if (!must)
        return 0;
    /* A plugin's own user:password (Marathon's --http_credentials), or
     * the master's credentials. */
    pair = p ? plugin_conf_get(&p->conf, "http_credentials") : NULL;
    if (pair)
        res = auth_check_pair(header, pair, principal, sizeof(principal),
                              &why);
    if (res != AUTH_OK && (pair == NULL || auth_configured(&m->auth)))
        res = auth_check(&m->auth, header, master_now(m), principal,
                         sizeof(principal), &why);
    if (res == AUTH_MISSING) {
        refuse(m, req, realm, "no credentials");
        return 1;
    }
    if (res != AUTH_OK) {
        refuse(m, req, realm, why);
        return 1;
    }
    if (http_req_set_principal(req, principal) < 0) {
        http_reply_error(req, 503, "out of memory");
        return 1;
    }
    return 0;
}

int master_auth_gate(void *arg, struct http_req *req)
{
    return gate(arg, req, NULL);
}

int master_auth_plugin_gate(void *arg, struct http_req *req)
{
    const struct plugin *p = arg;

    return gate(p->m, req, p);
}

int master_auth_start(struct master *m)
{
    const struct master_conf *c = &m->conf;
    char err[512];
    int rc;

    if (c->credentials && *c->credentials &&
        (rc = auth_load_credentials(&m->auth, c->credentials, err,
                                    sizeof(err))) < 0) {
        log_error("auth", "--credentials: %s", err);
        return rc;
    }
    if (c->jwt_secret_key && *c->jwt_secret_key &&
        (rc = auth_load_jwt_key(&m->auth, c->jwt_secret_key, err,
                                sizeof(err))) < 0) {
        log_error("auth", "--jwt_secret_key: %s", err);
        return rc;
    }
    if ((rc = auth_tls_load(&m->tls, c->ssl_cert_file, c->ssl_key_file,
                            c->ssl_ca_file, err, sizeof(err))) < 0) {
        log_error("auth", "--ssl_*_file: %s", err);
        return rc;
    }
    if (c->ssl_require_client_cert && (m->tls.cert == NULL || !m->tls.ca)) {
        log_error("auth", "--ssl_require_client_cert needs --ssl_cert_file, "
                          "--ssl_key_file and --ssl_ca_file");
        return AGORA_EINVAL;
    }
    if (c->acls && *c->acls &&
        (rc = acls_load(&m->acls, c->acls, err, sizeof(err))) < 0) {
        log_error("auth", "--acls: %s", err);
        return rc;
    }
    if ((c->authenticate_http_readonly || c->authenticate_http_readwrite ||
         c->authenticate_agents || c->authenticate_frameworks) &&
        !auth_configured(&m->auth)) {
        log_error("auth", "an --authenticate_* flag is on, and neither "
                          "--credentials nor --jwt_secret_key says who may "
                          "pass");
        return AGORA_EINVAL;
    }
    if (auth_configured(&m->auth))
        log_info("auth", "%zu credential(s)%s; authenticating:%s%s%s%s",
                 m->auth.ncreds, m->auth.jwt_key ? " and a JWT key" : "",
                 c->authenticate_http_readonly ? " read-only" : "",
                 c->authenticate_http_readwrite ? " read-write" : "",
                 c->authenticate_agents ? " agents" : "",
                 c->authenticate_frameworks ? " frameworks" : "");
    return 0;
}

void master_auth_stop(struct master *m)
{
    auth_free(&m->auth);
    acls_free(&m->acls);
    auth_tls_free(&m->tls);
}

int master_auth_allow(struct master *m, struct http_req *req,
                      enum acl_action act, const char *object)
{
    const char *who = req ? http_req_principal(req) : NULL;
    char peer[48];

    if (acls_allow(&m->acls, act, who, object))
        return 1;
    if (req)
        log_warn("auth", "%s %s by %s (%s): not allowed by the ACLs",
                 http_req_method(req), http_req_path(req),
                 who ? who : "an unauthenticated client",
                 http_req_peer(req, peer, sizeof(peer)));
    return 0;
}

void master_auth_tls_conf(const struct master *m, struct http_server_conf *hc)
{
    hc->tls_cert = m->tls.cert;
    hc->tls_key = m->tls.key;
    hc->tls_ca = m->tls.ca;
    hc->tls_require_client_cert = m->conf.ssl_require_client_cert;
}

void master_auth_client_tls(struct master *m, struct hc_client *c)
{
    const struct master_conf *conf = &m->conf;
    struct hc_tls *t;
    char err[512];

    if (!(conf->ssl_ca_file && *conf->ssl_ca_file))
        return;
    if (hc_tls_new(conf->ssl_ca_file, conf->ssl_cert_file,
                   conf->ssl_key_file, &t, err, sizeof(err)) < 0) {
        log_error("auth", "TLS of the master's requests: %s", err);
        return;
    }
    hc_client_set_tls(c, t);
}

void master_auth_forbid(struct http_req *req)
{
    http_reply_error(req, 403, "not allowed by the master's ACLs");
}

void master_view_begin(struct master *m, struct http_req *req)
{
    m->viewer.on = m->acls.configured;
    m->viewer.principal = http_req_principal(req);
}

void master_view_end(struct master *m)
{
    m->viewer.on = 0;
    m->viewer.principal = NULL;
}

int master_task_viewable_by(const struct master *m, const char *who,
                            const struct task *t)
{
    return acls_allow(&m->acls, ACL_VIEW_TASKS, who, t->user);
}

int master_task_viewable(const struct master *m, const struct task *t)
{
    return !m->viewer.on || master_task_viewable_by(m, m->viewer.principal, t);
}
