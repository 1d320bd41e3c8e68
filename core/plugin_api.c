/*
 * plugin_api.c - the services table plugins call (struct agora_api).
 *
 * Every registration a plugin makes - a timer, a deferred request, a
 * stream, a pending store call, a framework - is an item on the plugin's
 * list (plugin_item.h), so that unloading releases all of it and no
 * pointer into the unloaded object is ever called.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include <agora/sdk.h>

#include "alloc.h"
#include "frameworks.h"
#include "http.h"
#include "log.h"
#include "clock.h"
#include "master.h"
#include "offers.h"
#include "plugin_api.h"
#include "plugin_io.h"
#include "plugin_item.h"
#include "plugin_view.h"
#include "plugins.h"
#include "store.h"
#include "tasks.h"

#define HOST(h) ((struct plugin *)(h))

/* ---- logging, conf, time ---- */

static void api_log(struct agora_host *h, enum agora_log_level level,
                    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, HOST(h)->name, fmt, ap);
    va_end(ap);
}

static const char *api_conf_get(struct agora_host *h, const char *key)
{
    return plugin_conf_get(&HOST(h)->conf, key);
}

static double api_now(struct agora_host *h) { return master_now(HOST(h)->m); }

/* ---- timers ---- */

static void timer_fire(struct ev_loop *loop, ev_timer *w, int events)
{
    struct plugin_item *it = w->data;

    (void)events;
    it->u.timer.firing = 1;
    it->u.timer.fn(it->arg, (struct agora_timer *)it);
    it->u.timer.firing = 0;
    /* Done firing (one-shot) or stopped from inside its callback. */
    if (!ev_is_active(w))
        plugin_item_free(it);
    (void)loop;
}

static int api_timer_start(struct agora_host *h, double after, double repeat,
                           agora_timer_fn fn, void *arg,
                           struct agora_timer **out)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it;

    if (fn == NULL || out == NULL || !(after >= 0) || !(repeat >= 0))
        return AGORA_EINVAL;
    it = plugin_item_new(p, PLUGIN_ITEM_TIMER, arg);
    if (it == NULL)
        return AGORA_ENOMEM;
    it->u.timer.fn = fn;
    ev_timer_init(&it->u.timer.w, timer_fire, after, repeat);
    it->u.timer.w.data = it;
    ev_timer_start(p->m->loop, &it->u.timer.w);
    *out = (struct agora_timer *)it;
    return 0;
}

static void api_timer_stop(struct agora_host *h, struct agora_timer *t)
{
    struct plugin_item *it = (struct plugin_item *)t;

    if (it == NULL || it->kind != PLUGIN_ITEM_TIMER)
        return;
    ev_timer_stop(HOST(h)->m->loop, &it->u.timer.w);
    /* Inside its own callback: freed when the callback returns. */
    if (!it->u.timer.firing)
        plugin_item_free(it);
}

/* ---- requests and replies ---- */

#define REQ(r) ((struct http_req *)(r))

static const char *api_req_method(struct agora_req *r)
{
    return http_req_method(REQ(r));
}

static const char *api_req_path(struct agora_req *r)
{
    return http_req_path(REQ(r));
}

static const char *api_req_param(struct agora_req *r, const char *name)
{
    return http_req_param(REQ(r), name);
}

static const char *api_req_query(struct agora_req *r, const char *name,
                                 size_t n)
{
    return http_req_query(REQ(r), name, n);
}

static const char *api_req_principal(struct agora_req *r)
{
    return http_req_principal(REQ(r));
}

static const char *api_req_header(struct agora_req *r, const char *name)
{
    return http_req_header(REQ(r), name);
}

static const char *api_req_body(struct agora_req *r, size_t *len)
{
    return http_req_body(REQ(r), len);
}

static int api_reply_header(struct agora_req *r, const char *name,
                            const char *value)
{
    return http_reply_header(REQ(r), name, value);
}

static int api_reply(struct agora_req *r, int status, const char *ctype,
                     const void *body, size_t len)
{
    return http_reply(REQ(r), status, ctype, body, len);
}

/* A deferred request was answered (or dropped): forget it. */
static void req_done(void *arg, struct http_req *req)
{
    (void)req;
    plugin_item_free(arg);
}

/* The plugin a request was routed to. */
static struct plugin *req_plugin(struct http_req *req)
{
    struct plugin_route *pr = http_req_route_arg(req);

    return pr ? pr->p : NULL;
}

static int api_defer(struct agora_req *r)
{
    struct plugin *p = req_plugin(REQ(r));
    struct plugin_item *it;
    int rc;

    if (p == NULL)
        return AGORA_EINVAL;
    it = plugin_item_new(p, PLUGIN_ITEM_REQ, NULL);
    if (it == NULL)
        return AGORA_ENOMEM;
    rc = http_defer(REQ(r));
    if (rc < 0) {
        plugin_item_free(it);
        return rc;
    }
    it->u.req = REQ(r);
    http_req_on_done(REQ(r), req_done, it);
    return 0;
}

void plugin_route_dispatch(void *arg, struct http_req *req)
{
    struct plugin_route *pr = arg;

    pr->fn(pr->p->state, (struct agora_req *)req);
}

/* ---- streams ---- */

static void stream_closed(void *arg, struct http_stream *s)
{
    struct plugin_item *it = arg;
    agora_stream_close_fn fn = it->u.stream.fn;
    void *fn_arg = it->arg;

    plugin_item_free(it);
    if (fn)
        fn(fn_arg, (struct agora_stream *)s);
}

static int api_stream_open(struct agora_req *r, const char *ctype,
                           double keepalive, const char *ka_text,
                           agora_stream_close_fn on_close, void *arg,
                           struct agora_stream **out)
{
    struct plugin *p = req_plugin(REQ(r));
    struct plugin_item *it;
    struct http_stream *s;

    if (p == NULL || out == NULL)
        return p == NULL ? AGORA_ESTATE : AGORA_EINVAL;
    it = plugin_item_new(p, PLUGIN_ITEM_STREAM, arg);
    if (it == NULL)
        return AGORA_ENOMEM;
    s = http_stream_open(REQ(r), ctype, keepalive, ka_text, 0, stream_closed,
                         it);
    if (s == NULL) {
        plugin_item_free(it);
        /* A request answered or deferred is the caller's mistake. */
        return http_req_in_handler(REQ(r)) ? AGORA_ENOMEM : AGORA_ESTATE;
    }
    it->u.stream.s = s;
    it->u.stream.fn = on_close;
    *out = (struct agora_stream *)s;
    return 0;
}

static int api_stream_write(struct agora_stream *s, const void *data,
                            size_t len)
{
    return http_stream_write((struct http_stream *)s, data, len);
}

/* Finds the item of a stream among the plugin's registrations. */
static struct plugin_item *stream_item(struct plugin *p,
                                       struct http_stream *s)
{
    struct plugin_item *it;

    for (it = p->items; it; it = it->next)
        if (it->kind == PLUGIN_ITEM_STREAM && it->u.stream.s == s)
            return it;
    return NULL;
}

static void api_stream_close(struct agora_stream *as)
{
    struct http_stream *s = (struct http_stream *)as;
    struct http_req *req = http_stream_req(s);
    struct plugin *p = req ? req_plugin(req) : NULL;
    struct plugin_item *it = p ? stream_item(p, s) : NULL;

    if (it)
        plugin_item_free(it);
    http_stream_close(s);
}

/* ---- store ---- */

static void store_done(void *arg, int err, const store_result *r)
{
    struct plugin_item *it = arg;
    agora_store_fn fn = it->u.store.fn;
    void *fn_arg = it->arg;

    plugin_item_free(it);
    if (fn)
        fn(fn_arg, err, r);
}

static struct plugin_item *store_item(struct plugin *p, agora_store_fn cb,
                                      void *arg)
{
    struct plugin_item *it = plugin_item_new(p, PLUGIN_ITEM_STORE, arg);

    if (it)
        it->u.store.fn = cb;
    return it;
}

static int store_started(struct plugin_item *it, int rc)
{
    if (rc < 0)
        plugin_item_free(it);
    return rc;
}

static int api_store_get(struct agora_host *h, const char *key,
                         agora_store_fn cb, void *arg)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it = store_item(p, cb, arg);

    if (it == NULL)
        return AGORA_ENOMEM;
    return store_started(it, store_get(p->m->store, p->name, key, store_done,
                                       it, &it->u.store.op));
}

static int api_store_put(struct agora_host *h, const char *key,
                         const void *value, size_t len, int64_t version,
                         agora_store_fn cb, void *arg)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it = store_item(p, cb, arg);

    if (it == NULL)
        return AGORA_ENOMEM;
    return store_started(it, store_put(p->m->store, p->name, key, value, len,
                                       version, store_done, it,
                                       &it->u.store.op));
}

static int api_store_delete(struct agora_host *h, const char *key,
                            int64_t version, agora_store_fn cb, void *arg)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it = store_item(p, cb, arg);

    if (it == NULL)
        return AGORA_ENOMEM;
    return store_started(it, store_delete(p->m->store, p->name, key, version,
                                          store_done, it, &it->u.store.op));
}

static int api_store_list(struct agora_host *h, const char *key,
                          agora_store_fn cb, void *arg)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it = store_item(p, cb, arg);

    if (it == NULL)
        return AGORA_ENOMEM;
    return store_started(it, store_list(p->m->store, p->name, key ? key : "",
                                        store_done, it, &it->u.store.op));
}

static int api_store_get_children(struct agora_host *h, const char *key,
                                  agora_store_fn cb, void *arg)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it = store_item(p, cb, arg);

    if (it == NULL)
        return AGORA_ENOMEM;
    return store_started(it, store_get_children(p->m->store, p->name,
                                                key ? key : "", store_done,
                                                it, &it->u.store.op));
}

static int api_store_txn(struct agora_host *h,
                         const struct agora_store_txn_op *ops, size_t n,
                         agora_store_fn cb, void *arg)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it = store_item(p, cb, arg);

    if (it == NULL)
        return AGORA_ENOMEM;
    return store_started(it, store_txn(p->m->store, p->name, ops, n,
                                       store_done, it, &it->u.store.op));
}

static void watch_fire(void *arg, enum agora_store_event ev, const char *key,
                       int64_t version)
{
    struct plugin_item *it = arg;

    it->u.watch.fn(it->arg, ev, key, version);
}

static int api_store_watch(struct agora_host *h, const char *prefix,
                           agora_store_watch_fn fn, void *arg,
                           struct agora_store_watch **out)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it;
    int rc;

    if (fn == NULL || out == NULL)
        return AGORA_EINVAL;
    if ((it = plugin_item_new(p, PLUGIN_ITEM_WATCH, arg)) == NULL)
        return AGORA_ENOMEM;
    it->u.watch.fn = fn;
    rc = store_watch(p->m->store, p->name, prefix ? prefix : "", watch_fire,
                     it, &it->u.watch.w);
    if (rc < 0) {
        plugin_item_free(it);
        return rc;
    }
    *out = (struct agora_store_watch *)it;
    return 0;
}

static void api_store_unwatch(struct agora_host *h,
                              struct agora_store_watch *w)
{
    struct plugin_item *it = (struct plugin_item *)w;

    if (it == NULL || it->kind != PLUGIN_ITEM_WATCH || it->p != HOST(h))
        return;
    store_unwatch(it->p->m->store, it->u.watch.w);
    plugin_item_free(it);
}

/* ---- events and metrics ---- */

static int api_publish(struct agora_host *h, const char *type,
                       const char *json)
{
    return events_publish(&HOST(h)->m->events, type, json);
}

static int api_set_ready(struct agora_host *h, int ready, const char *why)
{
    struct plugin *p = HOST(h);
    char *copy = NULL;

    if (!ready && (copy = strdup(why && *why ? why : "not ready")) == NULL)
        return AGORA_ENOMEM;
    /* Logged when it changes, not at every call. */
    if (ready ? p->not_ready != NULL
              : p->not_ready == NULL || strcmp(copy, p->not_ready) != 0)
        log_info(p->name, "%s%s", ready ? "ready" : "not ready: ",
                 ready ? "" : copy);
    free(p->not_ready);
    p->not_ready = copy;
    return 0;
}

static int api_abdicate(struct agora_host *h)
{
    struct master *m = HOST(h)->m;

    return m->request_abdicate(m);
}

static void sub_deliver(void *arg, const char *type, const char *json)
{
    struct plugin_item *it = arg;

    it->u.sub.fn(it->arg, type, json);
}

static int api_subscribe(struct agora_host *h, const char *type,
                         agora_event_fn fn, void *arg, struct agora_sub **out)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it;
    int rc;

    if (fn == NULL || out == NULL)
        return AGORA_EINVAL;
    if ((it = plugin_item_new(p, PLUGIN_ITEM_SUB, arg)) == NULL)
        return AGORA_ENOMEM;
    it->u.sub.fn = fn;
    rc = events_listen(&p->m->events, type, sub_deliver, it, &it->u.sub.l);
    if (rc < 0) {
        plugin_item_free(it);
        return rc;
    }
    *out = (struct agora_sub *)it;
    return 0;
}

static void api_unsubscribe(struct agora_host *h, struct agora_sub *s)
{
    struct plugin_item *it = (struct plugin_item *)s;

    (void)h;
    if (it == NULL || it->kind != PLUGIN_ITEM_SUB)
        return;
    events_unlisten(&it->p->m->events, it->u.sub.l);
    plugin_item_free(it);
}

/* "<plugin>/<name>" into key; a metric may be bumped on every request,
 * so this avoids printf. */
static int metric_key(struct plugin *p, const char *name, char *key,
                      size_t len)
{
    size_t a = strlen(p->name), b = strlen(name);

    if (a + 1 + b + 1 > len)
        return AGORA_EINVAL;
    memcpy(key, p->name, a);
    key[a] = '/';
    memcpy(key + a + 1, name, b + 1);
    return 0;
}

static int api_metric_set(struct agora_host *h, const char *name, double v)
{
    char key[320];

    if (metric_key(HOST(h), name, key, sizeof(key)) < 0)
        return AGORA_EINVAL;
    return metrics_set(&HOST(h)->m->metrics, key, v);
}

static int api_metric_add(struct agora_host *h, const char *name, double d)
{
    char key[320];

    if (metric_key(HOST(h), name, key, sizeof(key)) < 0)
        return AGORA_EINVAL;
    return metrics_add(&HOST(h)->m->metrics, key, d);
}

static int api_metric_observe(struct agora_host *h, const char *name,
                              double v)
{
    char key[320];

    if (metric_key(HOST(h), name, key, sizeof(key)) < 0)
        return AGORA_EINVAL;
    return metrics_observe(&HOST(h)->m->metrics, key, v);
}

/* ---- frameworks, offers, tasks ---- */

static struct agora_framework *api_framework_default(struct agora_host *h)
{
    return HOST(h)->fw_default;
}

static int fw_register(struct plugin *p,
                       const struct agora_framework_spec *spec,
                       int is_default, struct agora_framework **out)
{
    struct plugin_item *it = plugin_item_new(p, PLUGIN_ITEM_FRAMEWORK, NULL);
    int rc;

    if (it == NULL)
        return AGORA_ENOMEM;
    rc = framework_add(p->m, p, spec, is_default, out);
    if (rc < 0) {
        plugin_item_free(it);
        return rc;
    }
    it->u.fw = *out;
    return 0;
}

static int api_framework_add(struct agora_host *h,
                             const struct agora_framework_spec *spec,
                             struct agora_framework **out)
{
    return fw_register(HOST(h), spec, 0, out);
}

static void api_framework_remove(struct agora_host *h,
                                 struct agora_framework *fw)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it;

    for (it = p->items; it; it = it->next) {
        if (it->kind == PLUGIN_ITEM_FRAMEWORK && it->u.fw == fw) {
            if (p->fw_default == fw)
                p->fw_default = NULL;
            plugin_item_free(it);
            framework_remove(p->m, fw);
            return;
        }
    }
}

int plugin_framework_default(struct plugin *p)
{
    const char *role = plugin_conf_get(&p->conf, "role");
    struct agora_framework_spec spec;

    if (!p->desc->on_offer && !p->desc->on_status)
        return 0;
    memset(&spec, 0, sizeof(spec));
    spec.name = p->name;
    spec.role = role ? role : "*";
    spec.principal = plugin_conf_get(&p->conf, "principal");
    spec.on_offer = p->desc->on_offer;
    spec.on_status = p->desc->on_status;
    spec.on_rescind = p->desc->on_rescind;
    spec.state = p->state;
    return fw_register(p, &spec, 1, &p->fw_default);
}

static const char *api_framework_id(struct agora_framework *fw)
{
    return fw->id;
}

/*
 * The specs as this master reads them. A plugin built before ABI 2.3
 * passes an array of the shorter agora_task_spec it knew: its stride is
 * offsetof(fetch), and a copy at this master's size (fetch zeroed) is
 * made in *copy (the caller frees it). NULL when out of memory.
 */
static const struct agora_task_spec *api_specs(struct agora_framework *fw,
                                               const struct agora_task_spec *v,
                                               size_t n,
                                               struct agora_task_spec **copy)
{
    const size_t old = offsetof(struct agora_task_spec, fetch);

    *copy = NULL;
    if (fw->p->desc->abi_minor >= 3 || v == NULL || n == 0)
        return v;
    if ((*copy = calloc(n, sizeof(**copy))) == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        memcpy(&(*copy)[i], (const char *)v + i * old, old);
    return *copy;
}

static int api_accept(struct agora_framework *fw, const char *offer_id,
                      const struct agora_task_spec *tasks, size_t n)
{
    struct agora_task_spec *copy;
    const struct agora_task_spec *v = api_specs(fw, tasks, n, &copy);
    int rc;

    if (v == NULL && tasks != NULL && n > 0)
        return AGORA_ENOMEM;
    rc = offers_accept(fw->p->m, fw, offer_id, v, n);
    free(copy);
    return rc;
}

static int api_decline(struct agora_framework *fw, const char *offer_id,
                       double refuse_seconds)
{
    struct master *m = fw->p->m;
    struct alloc_offer *o = alloc_offer_find(m->alloc, offer_id);

    if (offer_id == NULL)
        return AGORA_EINVAL;
    if (o == NULL || fw->alloc == NULL)
        return AGORA_ENOENT;
    return alloc_decline(m->alloc, fw->alloc, o, refuse_seconds);
}

static int api_suppress(struct agora_framework *fw)
{
    fw->suppressed = 1;
    if (fw->alloc)
        alloc_fw_suppress(fw->p->m->alloc, fw->alloc);
    return 0;
}

/* Revives offers and clears refuse filters; a framework without on_offer
 * has nothing to receive them with and stays suppressed. */
static int api_revive(struct agora_framework *fw)
{
    if (fw->on_offer == NULL)
        return AGORA_ENOTSUP;
    fw->suppressed = 0;
    if (fw->alloc)
        alloc_fw_revive(fw->p->m->alloc, fw->alloc);
    return 0;
}

static int api_kill(struct agora_framework *fw, const char *task_id)
{
    return tasks_kill(fw->p->m, fw, task_id);
}

static int api_launch(struct agora_framework *fw, const char *agent_id,
                      const struct agora_task_spec *tasks, size_t n)
{
    struct agora_task_spec *copy;
    const struct agora_task_spec *v = api_specs(fw, tasks, n, &copy);
    int rc;

    if (v == NULL && tasks != NULL && n > 0)
        return AGORA_ENOMEM;
    rc = tasks_launch(fw->p->m, fw, agent_id, v, n);
    free(copy);
    return rc;
}

static int api_reconcile(struct agora_framework *fw,
                         const char *const *task_ids, size_t n)
{
    return tasks_reconcile(fw->p->m, fw, task_ids, n);
}

static int api_framework_set_explicit_acks(struct agora_framework *fw,
                                           int on)
{
    return fw ? tasks_set_explicit_acks(fw->p->m, fw, on) : AGORA_EINVAL;
}

static int api_acknowledge(struct agora_framework *fw, const char *task_id,
                           const char *uuid)
{
    return fw ? tasks_acknowledge(fw->p->m, fw, task_id, uuid)
              : AGORA_EINVAL;
}

const struct agora_api plugin_api_table = {
    .size = sizeof(struct agora_api),
    .log = api_log,
    .strerror = agora_strerror,
    .conf_get = api_conf_get,
    .now = api_now,
    .timer_start = api_timer_start,
    .timer_stop = api_timer_stop,
    .req_method = api_req_method,
    .req_path = api_req_path,
    .req_param = api_req_param,
    .req_query = api_req_query,
    .req_header = api_req_header,
    .req_body = api_req_body,
    .reply_header = api_reply_header,
    .reply = api_reply,
    .defer = api_defer,
    .stream_open = api_stream_open,
    .stream_write = api_stream_write,
    .stream_close = api_stream_close,
    .store_get = api_store_get,
    .store_put = api_store_put,
    .store_delete = api_store_delete,
    .store_list = api_store_list,
    .publish = api_publish,
    .metric_set = api_metric_set,
    .metric_add = api_metric_add,
    .framework_default = api_framework_default,
    .framework_add = api_framework_add,
    .framework_remove = api_framework_remove,
    .framework_id = api_framework_id,
    .accept = api_accept,
    .decline = api_decline,
    .suppress = api_suppress,
    .revive = api_revive,
    .kill = api_kill,
    .reconcile = api_reconcile,
    .launch = api_launch,
    .subscribe = api_subscribe,
    .unsubscribe = api_unsubscribe,
    .agents_each = plugin_view_agents_each,
    .agent_get = plugin_view_agent_get,
    .tasks_each = plugin_view_tasks_each,
    .task_get = plugin_view_task_get,
    .master_info = plugin_view_master_info,
    .abdicate = api_abdicate,
    .set_ready = api_set_ready,
    .metric_observe = api_metric_observe,
    .http_request = plugin_io_http_request,
    .http_cancel = plugin_io_http_cancel,
    .http_header = plugin_io_http_header,
    .fd_watch = plugin_io_fd_watch,
    .fd_watch_set = plugin_io_fd_watch_set,
    .fd_watch_stop = plugin_io_fd_watch_stop,
    .spawn = plugin_io_spawn,
    .proc_kill = plugin_io_proc_kill,
    .proc_pid = plugin_io_proc_pid,
    .framework_set_explicit_acks = api_framework_set_explicit_acks,
    .acknowledge = api_acknowledge,
    .store_get_children = api_store_get_children,
    .store_txn = api_store_txn,
    .store_watch = api_store_watch,
    .store_unwatch = api_store_unwatch,
    .abi_minor = AGORA_ABI_MINOR,
    .req_principal = api_req_principal,
};

/* ---- release ---- */

static void item_release(struct plugin_item *it)
{
    struct plugin *p = it->p;

    switch (it->kind) {
    case PLUGIN_ITEM_TIMER:
        ev_timer_stop(p->m->loop, &it->u.timer.w);
        plugin_item_free(it);
        break;
    case PLUGIN_ITEM_REQ:
        /* Answering runs req_done, which frees the item. */
        http_reply_errorf(it->u.req, 503, "plugin %s was unloaded", p->name);
        break;
    case PLUGIN_ITEM_STREAM: {
        struct http_stream *s = it->u.stream.s;

        plugin_item_free(it);
        http_stream_close(s);
        break;
    }
    case PLUGIN_ITEM_STORE:
        store_cancel(it->u.store.op);
        plugin_item_free(it);
        break;
    case PLUGIN_ITEM_FRAMEWORK: {
        struct agora_framework *fw = it->u.fw;

        plugin_item_free(it);
        framework_remove(p->m, fw);
        break;
    }
    case PLUGIN_ITEM_SUB:
        events_unlisten(&p->m->events, it->u.sub.l);
        plugin_item_free(it);
        break;
    case PLUGIN_ITEM_HTTP:
    case PLUGIN_ITEM_FD:
    case PLUGIN_ITEM_PROC:
        plugin_io_release(it);
        break;
    case PLUGIN_ITEM_WATCH:
        store_unwatch(p->m->store, it->u.watch.w);
        plugin_item_free(it);
        break;
    }
}

void plugin_release(struct plugin *p)
{
    while (p->items)
        item_release(p->items);
    p->fw_default = NULL;
}
