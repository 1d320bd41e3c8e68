/*
 * echo - a test plugin for the end-to-end tests (not shipped).
 *
 *   POST /echo              parses the body as JSON; 400 {"message":
 *                           "invalid JSON: ..."} when it is not, else the
 *                           document written back (re-encoded from the
 *                           parsed tree, so the reply proves the parse)
 *   POST /echo?defer=SECS   the same, answered after a SECS timer: the
 *                           request is deferred, the reply made from the
 *                           timer callback
 *
 * Built by the tests against the installed SDK only:
 *   gcc -shared -fPIC -I$PREFIX/include echo.c $PREFIX/lib/libagora-sdk.a
 *       -lyajl -lm
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agora/json.h>
#include <agora/plugin.h>
#include <agora/sdk.h>

struct echo_pending;

struct echo {
    struct agora_host *h;
    const struct agora_api *api;
    struct echo_pending *pending; /* deferred replies not sent yet */
};

/* One deferred reply: the request and the document it will get. */
struct echo_pending {
    struct echo *st;
    struct agora_req *req;
    char *doc;
    size_t len;
    struct echo_pending *next;
};

/* Writes a parsed value back as JSON. */
static void echo_write(struct agora_jw *w, yajl_val v)
{
    size_t i;

    if (YAJL_IS_OBJECT(v)) {
        agora_jw_obj_open(w);
        for (i = 0; i < v->u.object.len; i++) {
            agora_jw_key(w, v->u.object.keys[i]);
            echo_write(w, v->u.object.values[i]);
        }
        agora_jw_obj_close(w);
    } else if (YAJL_IS_ARRAY(v)) {
        agora_jw_arr_open(w);
        for (i = 0; i < v->u.array.len; i++)
            echo_write(w, v->u.array.values[i]);
        agora_jw_arr_close(w);
    } else if (YAJL_IS_STRING(v)) {
        agora_jw_str(w, YAJL_GET_STRING(v));
    } else if (YAJL_IS_INTEGER(v)) {
        agora_jw_int(w, YAJL_GET_INTEGER(v));
    } else if (YAJL_IS_DOUBLE(v)) {
        agora_jw_num(w, YAJL_GET_DOUBLE(v));
    } else if (YAJL_IS_NUMBER(v)) {
        const char *raw = YAJL_GET_NUMBER(v);

        agora_jw_raw(w, raw, strlen(raw));
    } else if (YAJL_IS_TRUE(v)) {
        agora_jw_bool(w, 1);
    } else if (YAJL_IS_FALSE(v)) {
        agora_jw_bool(w, 0);
    } else {
        agora_jw_null(w);
    }
}

static void echo_pending_unlink(struct echo *st, struct echo_pending *pd)
{
    struct echo_pending **pp;

    for (pp = &st->pending; *pp; pp = &(*pp)->next)
        if (*pp == pd) {
            *pp = pd->next;
            return;
        }
}

static void echo_fire(void *arg, struct agora_timer *t)
{
    struct echo_pending *pd = arg;
    struct echo *st = pd->st;

    (void)t;
    echo_pending_unlink(st, pd);
    st->api->reply(pd->req, 200, NULL, pd->doc, pd->len);
    free(pd->doc);
    free(pd);
}

/* Replies now, or after `after` seconds from a timer. */
static void echo_send(struct echo *st, struct agora_req *req, double after,
                      const char *doc, size_t len)
{
    struct echo_pending *pd;
    struct agora_timer *t;

    if (after <= 0) {
        st->api->reply(req, 200, NULL, doc, len);
        return;
    }
    pd = calloc(1, sizeof(*pd));
    if (pd == NULL || (pd->doc = malloc(len + 1)) == NULL) {
        free(pd);
        agora_reply_error(st->api, req, 500, "out of memory");
        return;
    }
    memcpy(pd->doc, doc, len + 1);
    pd->len = len;
    pd->st = st;
    pd->req = req;
    if (st->api->defer(req) != 0 ||
        st->api->timer_start(st->h, after, 0, echo_fire, pd, &t) != 0) {
        free(pd->doc);
        free(pd);
        agora_reply_error(st->api, req, 500, "cannot defer the reply");
        return;
    }
    pd->next = st->pending;
    st->pending = pd;
}

static void echo_post(void *state, struct agora_req *req)
{
    struct echo *st = state;
    const char *body = st->api->req_body(req, NULL);
    const char *defer = st->api->req_query(req, "defer", 0);
    char err[256], msg[300];
    struct agora_jw *w;
    const char *doc;
    yajl_val v;
    size_t len;

    v = agora_json_parse(body, err, sizeof(err));
    if (v == NULL) {
        snprintf(msg, sizeof(msg), "invalid JSON: %s", err);
        agora_reply_error(st->api, req, 400, msg);
        return;
    }
    w = agora_jw_new();
    echo_write(w, v);
    yajl_tree_free(v);
    doc = w ? agora_jw_result(w, &len) : NULL;
    if (doc == NULL)
        agora_reply_error(st->api, req, 500, "cannot encode the document");
    else
        echo_send(st, req, defer ? strtod(defer, NULL) : 0, doc, len);
    agora_jw_free(w);
}

static int echo_init(struct agora_host *h, const struct agora_api *api,
                     const void *conf, void **state)
{
    struct echo *st = calloc(1, sizeof(*st));

    (void)conf;
    if (st == NULL)
        return AGORA_ENOMEM;
    st->h = h;
    st->api = api;
    *state = st;
    return 0;
}

/* Deferred requests still open are answered 503 by the master after fini,
 * and their timers stopped: only the memory is ours to free. */
static void echo_fini(void *state)
{
    struct echo *st = state;

    while (st->pending) {
        struct echo_pending *pd = st->pending;

        st->pending = pd->next;
        free(pd->doc);
        free(pd);
    }
    free(st);
}

static const struct agora_route echo_routes[] = {
    {"POST", "/", echo_post},
    {NULL, NULL, NULL},
};

static const struct agora_plugin echo_plugin = {
    AGORA_PLUGIN_INIT,
    .name = "echo",
    .version = "1.0",
    .description = "echoes JSON documents back, at once or after a timer",
    .routes = echo_routes,
    .init = echo_init,
    .fini = echo_fini,
};

const struct agora_plugin *agora_plugin_entry(void) { return &echo_plugin; }
