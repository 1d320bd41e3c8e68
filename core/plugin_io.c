/*
 * plugin_io.c - how a plugin reaches outside the master without blocking
 * the loop (the services table's http_*, fd_watch* and spawn/proc_*).
 *
 * Each operation is a plugin item (plugin_item.h), so unloading releases
 * it after fini: a pending HTTP request is cancelled (hc_cancel(): no
 * callback, connection closed), a watcher stopped, a child sent SIGTERM
 * and forgotten. Nothing calls into a plugin inside the call that started
 * the operation: the HTTP client starts every request from a zero timer,
 * and ev_io / ev_child watchers only fire from the loop.
 *
 * Children: ev_child works only on libev's default loop, which reaps
 * every child of the process on SIGCHLD (waitpid(-1)); main.c runs the
 * master on it. So a child whose plugin was unloaded leaves no zombie,
 * and spawn() refuses (AGORA_ENOTSUP) on any other loop.
 */
#include "plugin_io.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include <agora/sdk.h>

#include "http.h"
#include "http_client.h"
#include "log.h"
#include "master.h"
#include "master_auth.h"
#include "plugin_item.h"
#include "plugins.h"

extern char **environ;

#define HOST(h) ((struct plugin *)(h))

/* The item of that kind at `handle` among p's registrations, or NULL:
 * a handle the plugin no longer owns is ignored, not dereferenced. */
static struct plugin_item *io_item(struct plugin *p, const void *handle,
                                   enum plugin_item_kind kind)
{
    struct plugin_item *it;

    for (it = p->items; it; it = it->next)
        if (it == handle && it->kind == kind)
            return it;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                 */
/* ------------------------------------------------------------------ */

/* What the callback gets: the public response, and the request behind
 * it for http_header(). Lives on the stack for the callback. */
struct io_response {
    struct agora_http_response pub; /* first: http_header() casts back */
    struct hc_req *r;
};

/* The HTTP client of m, made on first use. NULL when out of memory. */
static struct hc_client *io_client(struct master *m)
{
    if (m->plugin_http == NULL) {
        if (hc_client_new(m->loop, &m->plugin_http) != 0)
            m->plugin_http = NULL;
        else
            master_auth_client_tls(m, m->plugin_http);
    }
    return m->plugin_http;
}

/* The head is in: a Content-Length over the limit ends it at once. */
static int http_on_head(void *arg, struct hc_req *r)
{
    struct plugin_item *it = arg;

    if (!http_length_over(hc_header(r, "Content-Length"), it->u.http.max))
        return 0;
    it->u.http.err = AGORA_ETOOBIG;
    return 1;
}

/* Body bytes: appended, within the limit. */
static int http_on_data(void *arg, struct hc_req *r, const char *data,
                        size_t n)
{
    struct plugin_item *it = arg;
    size_t need, cap;
    char *nb;

    (void)r;
    if (n > it->u.http.max - it->u.http.len) {
        it->u.http.err = AGORA_ETOOBIG;
        return 1;
    }
    need = it->u.http.len + n + 1;
    if (need > it->u.http.cap) {
        cap = it->u.http.cap ? it->u.http.cap : 4096;
        while (cap < need)
            cap *= 2;
        if (cap > it->u.http.max + 1)
            cap = it->u.http.max + 1;
        nb = realloc(it->u.http.body, cap);
        if (nb == NULL) {
            it->u.http.err = AGORA_ENOMEM;
            return 1;
        }
        it->u.http.body = nb;
        it->u.http.cap = cap;
    }
    memcpy(it->u.http.body + it->u.http.len, data, n);
    it->u.http.len += n;
    it->u.http.body[it->u.http.len] = '\0';
    return 0;
}

/* The request ended: the item goes first, so that the handle is unknown
 * (a cancel of it ignored) while the plugin's callback runs. */
static void http_on_done(void *arg, struct hc_req *r, int err)
{
    struct plugin_item *it = arg;
    agora_http_fn fn = it->u.http.fn;
    void *fn_arg = it->arg;
    char *body = it->u.http.body;
    size_t len = it->u.http.len, max = it->u.http.max;
    int why = it->u.http.err;
    struct io_response resp;
    char msg[96];

    memset(&resp, 0, sizeof(resp));
    resp.r = r;
    resp.pub.status = hc_status(r);
    resp.pub.error = "";
    if (err != 0 && why != 0) {
        /* Ended by on_head/on_data above (the client says ECANCELED). */
        err = why;
        if (why == AGORA_ETOOBIG)
            snprintf(msg, sizeof(msg), "response body over %zu bytes", max);
        else
            snprintf(msg, sizeof(msg), "%s", agora_strerror(why));
        resp.pub.error = msg;
    } else if (err != 0) {
        resp.pub.error = hc_error(r);
    } else {
        resp.pub.body = body ? body : "";
        resp.pub.len = len;
    }
    plugin_item_free(it);
    fn(fn_arg, err, &resp.pub);
    free(body);
}

int plugin_io_http_request(struct agora_host *h,
                           const struct agora_http_request *rq,
                           agora_http_fn cb, void *arg,
                           struct agora_http **out)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it;
    struct hc_client *c;
    struct hc_opts o;
    int rc;

    /* Every field is ABI 2.1's; a field appended later must be read only
     * when p->desc->abi_minor says the plugin's struct has it. */
    if (rq == NULL || rq->url == NULL || cb == NULL)
        return AGORA_EINVAL;
    if ((c = io_client(p->m)) == NULL)
        return AGORA_ENOMEM;
    if ((it = plugin_item_new(p, PLUGIN_ITEM_HTTP, arg)) == NULL)
        return AGORA_ENOMEM;
    it->u.http.fn = cb;
    it->u.http.max = rq->max_body ? rq->max_body : AGORA_HTTP_BODY_MAX;
    memset(&o, 0, sizeof(o));
    o.method = rq->method;
    o.url = rq->url;
    o.headers = rq->headers;
    o.body = rq->body;
    o.body_len = rq->body ? rq->body_len : 0;
    o.connect_timeout = rq->connect_timeout > 0 ? rq->connect_timeout
                                                : AGORA_HTTP_CONNECT_TIMEOUT;
    o.timeout = rq->timeout > 0 ? rq->timeout
                : rq->timeout < 0 ? 0 : AGORA_HTTP_TIMEOUT;
    o.keepalive = rq->keepalive != 0;
    o.on_head = http_on_head;
    o.on_data = http_on_data;
    o.on_done = http_on_done;
    o.arg = it;
    rc = hc_request(c, &o, &it->u.http.r);
    if (rc != 0) {
        plugin_item_free(it);
        return rc;
    }
    if (out)
        *out = (struct agora_http *)it;
    return 0;
}

/* Ends a pending request without its callback, and frees its item. */
static void http_release(struct plugin_item *it)
{
    hc_cancel(it->u.http.r);
    free(it->u.http.body);
    plugin_item_free(it);
}

void plugin_io_http_cancel(struct agora_host *h, struct agora_http *rq)
{
    struct plugin_item *it = io_item(HOST(h), rq, PLUGIN_ITEM_HTTP);

    if (it)
        http_release(it);
}

const char *plugin_io_http_header(const struct agora_http_response *r,
                                  const char *name)
{
    const struct io_response *ir = (const struct io_response *)r;

    if (r == NULL || name == NULL)
        return NULL;
    return hc_header(ir->r, name);
}

/* ------------------------------------------------------------------ */
/* fd watchers                                                          */
/* ------------------------------------------------------------------ */

#define FD_EVENTS (AGORA_FD_READ | AGORA_FD_WRITE)

static int fd_ev(int events)
{
    return ((events & AGORA_FD_READ) ? EV_READ : 0) |
           ((events & AGORA_FD_WRITE) ? EV_WRITE : 0);
}

static void fd_fire(struct ev_loop *loop, ev_io *w, int revents)
{
    struct plugin_item *it = w->data;
    int events = 0;

    if (revents & EV_ERROR) {
        /* libev stopped it: the fd was closed under the watcher. */
        ev_io_stop(loop, w);
        it->u.fd.stopped = 1;
        events = AGORA_FD_ERROR;
    } else {
        events = ((revents & EV_READ) ? AGORA_FD_READ : 0) |
                 ((revents & EV_WRITE) ? AGORA_FD_WRITE : 0);
    }
    it->u.fd.firing = 1;
    it->u.fd.fn(it->arg, (struct agora_watch *)it, w->fd, events);
    it->u.fd.firing = 0;
    if (it->u.fd.stopped)
        plugin_item_free(it);
}

int plugin_io_fd_watch(struct agora_host *h, int fd, int events,
                       agora_fd_fn fn, void *arg, struct agora_watch **out)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it;

    if (fn == NULL || out == NULL || fd < 0 || (events & FD_EVENTS) == 0 ||
        (events & ~FD_EVENTS) != 0 || fcntl(fd, F_GETFD) < 0)
        return AGORA_EINVAL;
    if ((it = plugin_item_new(p, PLUGIN_ITEM_FD, arg)) == NULL)
        return AGORA_ENOMEM;
    it->u.fd.fn = fn;
    ev_io_init(&it->u.fd.w, fd_fire, fd, fd_ev(events));
    it->u.fd.w.data = it;
    ev_io_start(p->m->loop, &it->u.fd.w);
    *out = (struct agora_watch *)it;
    return 0;
}

int plugin_io_fd_watch_set(struct agora_host *h, struct agora_watch *w,
                           int events)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it = io_item(p, w, PLUGIN_ITEM_FD);

    if (it == NULL || it->u.fd.stopped || (events & FD_EVENTS) == 0 ||
        (events & ~FD_EVENTS) != 0)
        return AGORA_EINVAL;
    ev_io_stop(p->m->loop, &it->u.fd.w);
    ev_io_set(&it->u.fd.w, it->u.fd.w.fd, fd_ev(events));
    ev_io_start(p->m->loop, &it->u.fd.w);
    return 0;
}

void plugin_io_fd_watch_stop(struct agora_host *h, struct agora_watch *w)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it = io_item(p, w, PLUGIN_ITEM_FD);

    if (it == NULL || it->u.fd.stopped)
        return;
    ev_io_stop(p->m->loop, &it->u.fd.w);
    it->u.fd.stopped = 1;
    /* Inside its own callback: freed when the callback returns. */
    if (!it->u.fd.firing)
        plugin_item_free(it);
}

/* ------------------------------------------------------------------ */
/* Child processes                                                      */
/* ------------------------------------------------------------------ */

static void proc_exit(struct ev_loop *loop, ev_child *w, int revents)
{
    struct plugin_item *it = w->data;
    int status = w->rstatus;

    (void)revents;
    ev_child_stop(loop, w);
    it->u.proc.exited = 1;
    if (WIFSIGNALED(status))
        it->u.proc.fn(it->arg, (struct agora_proc *)it, -1, WTERMSIG(status));
    else
        it->u.proc.fn(it->arg, (struct agora_proc *)it,
                      WEXITSTATUS(status), 0);
    plugin_item_free(it);
}

/* An errno of posix_spawn as an agora_err. */
static int spawn_err(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return AGORA_ENOENT;
    case ENOMEM:
    case EAGAIN:
        return AGORA_ENOMEM;
    default:
        return AGORA_EIO;
    }
}

/*
 * Starts sp in a new session with default signal dispositions and an
 * empty mask (the master ignores SIGPIPE, which exec would keep), stdin
 * and stdout on /dev/null, no fd of the master but stderr. posix_spawn
 * does not wait for the child past its exec, and reports a failed exec
 * or chdir as its return value.
 */
static int spawn_child(const struct agora_spawn *sp, pid_t *pid)
{
    char *const *argv = (char *const *)sp->argv;
    char *const *envp = sp->env ? (char *const *)sp->env : environ;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    int rc;

    if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
        return rc;
    if ((rc = posix_spawnattr_init(&at)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    sigemptyset(&none);
    sigfillset(&all);
    if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
                                               0)) == 0 &&
        (rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY,
                                               0)) == 0 &&
        (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
        (sp->cwd == NULL ||
         (rc = posix_spawn_file_actions_addchdir_np(&fa, sp->cwd)) == 0) &&
        (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID |
                                                POSIX_SPAWN_SETSIGMASK |
                                                POSIX_SPAWN_SETSIGDEF)) == 0 &&
        (rc = posix_spawnattr_setsigmask(&at, &none)) == 0 &&
        (rc = posix_spawnattr_setsigdefault(&at, &all)) == 0) {
        if (strchr(argv[0], '/'))
            rc = posix_spawn(pid, argv[0], &fa, &at, argv, envp);
        else
            rc = posix_spawnp(pid, argv[0], &fa, &at, argv, envp);
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

int plugin_io_spawn(struct agora_host *h, const struct agora_spawn *sp,
                    agora_exit_fn fn, void *arg, struct agora_proc **out)
{
    struct plugin *p = HOST(h);
    struct plugin_item *it;
    pid_t pid;
    int rc;

    if (sp == NULL || sp->argv == NULL || sp->argv[0] == NULL ||
        sp->argv[0][0] == '\0' || fn == NULL)
        return AGORA_EINVAL;
    if (!ev_is_default_loop(p->m->loop))
        return AGORA_ENOTSUP;
    if ((it = plugin_item_new(p, PLUGIN_ITEM_PROC, arg)) == NULL)
        return AGORA_ENOMEM;
    if ((rc = spawn_child(sp, &pid)) != 0) {
        plugin_item_free(it);
        log_info(p->name, "cannot start %s: %s", sp->argv[0], strerror(rc));
        return spawn_err(rc);
    }
    /* Before the loop runs again, so its SIGCHLD finds the watcher. */
    it->u.proc.fn = fn;
    ev_child_init(&it->u.proc.w, proc_exit, pid, 0);
    it->u.proc.w.data = it;
    ev_child_start(p->m->loop, &it->u.proc.w);
    if (out)
        *out = (struct agora_proc *)it;
    return 0;
}

/* sig to the child's process group, or to the child alone when it left
 * the group it was started in. */
static int proc_signal(pid_t pid, int sig)
{
    if (kill(-pid, sig) == 0 || kill(pid, sig) == 0)
        return 0;
    return errno == ESRCH ? AGORA_ENOENT : AGORA_EINVAL;
}

int plugin_io_proc_kill(struct agora_host *h, struct agora_proc *pr, int sig)
{
    struct plugin_item *it = io_item(HOST(h), pr, PLUGIN_ITEM_PROC);

    if (sig < 0 || sig >= NSIG)
        return AGORA_EINVAL;
    /* Reaped (the callback pending or running): its pid may be reused. */
    if (it == NULL || it->u.proc.exited || ev_is_pending(&it->u.proc.w))
        return AGORA_ENOENT;
    return proc_signal(it->u.proc.w.pid, sig);
}

long plugin_io_proc_pid(struct agora_host *h, struct agora_proc *pr)
{
    struct plugin_item *it = io_item(HOST(h), pr, PLUGIN_ITEM_PROC);

    return it ? (long)it->u.proc.w.pid : -1;
}

/* ------------------------------------------------------------------ */
/* Unloading                                                            */
/* ------------------------------------------------------------------ */

void plugin_io_release(struct plugin_item *it)
{
    struct plugin *p = it->p;

    switch (it->kind) {
    case PLUGIN_ITEM_HTTP:
        http_release(it);
        break;
    case PLUGIN_ITEM_FD:
        ev_io_stop(p->m->loop, &it->u.fd.w);
        plugin_item_free(it);
        break;
    case PLUGIN_ITEM_PROC:
        if (!ev_is_pending(&it->u.proc.w)) {
            log_info(p->name, "unloaded: SIGTERM to its child %d",
                     (int)it->u.proc.w.pid);
            (void)proc_signal(it->u.proc.w.pid, SIGTERM);
        }
        /* libev's SIGCHLD handler reaps it without a watcher. */
        ev_child_stop(p->m->loop, &it->u.proc.w);
        plugin_item_free(it);
        break;
    default:
        AGORA_ASSERT(!"not an item of plugin_io.c");
    }
}

void plugin_io_close(struct master *m)
{
    hc_client_free(m->plugin_http);
    m->plugin_http = NULL;
}
