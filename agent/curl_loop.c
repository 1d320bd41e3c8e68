/*
 * curl_loop.c - libcurl's multi socket API on libev (see curl_loop.h).
 *
 * libcurl asks for sockets to be watched through sock_cb and for a
 * timeout through timer_cb; both only (re)arm libev watchers, because
 * libcurl must not be re-entered from them. The watchers call
 * curl_multi_socket_action(), after which finished transfers are read
 * with curl_multi_info_read() and reported.
 */
#include "curl_loop.h"

#include <stdlib.h>

#include <ev.h>

#include <agora/plugin.h>

#include "log.h"

/* One transfer; stored in the easy handle's CURLOPT_PRIVATE. */
struct cl_xfer {
    struct cl_xfer *prev, *next; /* all transfers, added or queued     */
    struct cl_xfer *qnext;       /* adds waiting for libcurl to return */
    CURL *easy;
    curl_loop_done_fn done;
    void *arg;
    int queued; /* 1 until curl_multi_add_handle() took it             */
};

/* One socket libcurl wants watched (curl_multi_assign'ed to it). */
struct cl_sock {
    ev_io io;
    struct cl_sock *prev, *next;
    struct curl_loop *cl;
};

struct curl_loop {
    struct ev_loop *loop;
    CURLM *multi;
    ev_timer timer;
    int depth;             /* > 0 while libcurl runs               */
    struct cl_xfer *xfers; /* every transfer                        */
    struct cl_xfer *qhead, *qtail;
    struct cl_sock *socks;
    size_t count;
};

static void cl_xfer_unlink(struct curl_loop *cl, struct cl_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        cl->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    cl->count--;
}

static void cl_sock_free(struct curl_loop *cl, struct cl_sock *s)
{
    ev_io_stop(cl->loop, &s->io);
    if (s->prev)
        s->prev->next = s->next;
    else
        cl->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    free(s);
}

static void cl_run(struct curl_loop *cl, curl_socket_t fd, int action);

static void cl_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    struct cl_sock *s = (struct cl_sock *)w;
    int action = 0;

    (void)loop;
    if (revents & EV_READ)
        action |= CURL_CSELECT_IN;
    if (revents & EV_WRITE)
        action |= CURL_CSELECT_OUT;
    cl_run(s->cl, w->fd, action);
}

static void cl_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    cl_run(w->data, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_SOCKETFUNCTION: (re)arm or drop the socket's watcher. */
static int cl_sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
                      void *socketp)
{
    struct curl_loop *cl = userp;
    struct cl_sock *s = socketp;
    int events = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(cl->multi, fd, NULL);
            cl_sock_free(cl, s);
        }
        return 0;
    }
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL) {
            log_error("curl", "out of memory watching a socket");
            return -1; /* libcurl fails the transfer */
        }
        s->cl = cl;
        s->next = cl->socks;
        if (cl->socks)
            cl->socks->prev = s;
        cl->socks = s;
        ev_init(&s->io, cl_on_io);
        curl_multi_assign(cl->multi, fd, s);
    }
    if (what & CURL_POLL_IN)
        events |= EV_READ;
    if (what & CURL_POLL_OUT)
        events |= EV_WRITE;
    ev_io_stop(cl->loop, &s->io);
    ev_io_set(&s->io, fd, events);
    ev_io_start(cl->loop, &s->io);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer; -1 stops it, 0 means "soon". */
static int cl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct curl_loop *cl = userp;

    (void)multi;
    ev_timer_stop(cl->loop, &cl->timer);
    if (timeout_ms >= 0) {
        ev_timer_set(&cl->timer, (double)timeout_ms / 1000.0, 0.);
        ev_timer_start(cl->loop, &cl->timer);
    }
    return 0;
}

/* Hands a transfer to libcurl; 0, or -1 when libcurl refused it. */
static int cl_multi_add(struct curl_loop *cl, struct cl_xfer *x)
{
    CURLMcode mc = curl_multi_add_handle(cl->multi, x->easy);

    if (mc != CURLM_OK) {
        log_error("curl", "cannot start a transfer: %s",
                  curl_multi_strerror(mc));
        return -1;
    }
    x->queued = 0;
    return 0;
}

/* Forgets x; its handle is the caller's again. */
static void cl_xfer_drop(struct curl_loop *cl, struct cl_xfer *x)
{
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
    cl_xfer_unlink(cl, x);
    free(x);
}

/* Adds what was queued while libcurl ran; a refused one ends at once. */
static void cl_flush_queue(struct curl_loop *cl)
{
    while (cl->qhead) {
        struct cl_xfer *x = cl->qhead;
        curl_loop_done_fn done = x->done;
        void *arg = x->arg;
        CURL *easy = x->easy;

        cl->qhead = x->qnext;
        if (cl->qhead == NULL)
            cl->qtail = NULL;
        x->qnext = NULL;
        if (cl_multi_add(cl, x) == 0)
            continue;
        cl_xfer_drop(cl, x);
        if (done)
            done(arg, easy, CURLE_FAILED_INIT);
    }
}

/* Reports finished transfers; their handles leave the multi first. */
static void cl_read_done(struct curl_loop *cl)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(cl->multi, &left)) != NULL) {
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        struct cl_xfer *x = NULL;
        curl_loop_done_fn done;
        void *arg;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_multi_remove_handle(cl->multi, easy);
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        if (x == NULL)
            continue;
        done = x->done;
        arg = x->arg;
        cl_xfer_drop(cl, x);
        if (done)
            done(arg, easy, result);
    }
}

static void cl_run(struct curl_loop *cl, curl_socket_t fd, int action)
{
    int running;

    cl->depth++;
    curl_multi_socket_action(cl->multi, fd, action, &running);
    cl->depth--;
    cl_flush_queue(cl);
    cl_read_done(cl);
}

int curl_loop_new(struct ev_loop *loop, struct curl_loop **out)
{
    struct curl_loop *cl = calloc(1, sizeof(*cl));

    if (cl == NULL)
        return AGORA_ENOMEM;
    cl->loop = loop;
    cl->multi = curl_multi_init();
    if (cl->multi == NULL) {
        free(cl);
        return AGORA_ENOMEM;
    }
    ev_init(&cl->timer, cl_on_timer);
    cl->timer.data = cl;
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, cl_sock_cb);
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, cl_timer_cb);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
    *out = cl;
    return 0;
}

int curl_loop_add(struct curl_loop *cl, CURL *easy, curl_loop_done_fn done,
                  void *arg)
{
    struct cl_xfer *x = NULL;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    if (x != NULL)
        return AGORA_EINVAL; /* already ours */
    x = calloc(1, sizeof(*x));
    if (x == NULL)
        return AGORA_ENOMEM;
    x->easy = easy;
    x->done = done;
    x->arg = arg;
    x->next = cl->xfers;
    if (cl->xfers)
        cl->xfers->prev = x;
    cl->xfers = x;
    cl->count++;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)x);
    x->queued = 1;
    if (cl->depth > 0) {
        if (cl->qtail)
            cl->qtail->qnext = x;
        else
            cl->qhead = x;
        cl->qtail = x;
        return 0;
    }
    if (cl_multi_add(cl, x) < 0) {
        cl_xfer_drop(cl, x);
        return AGORA_EINVAL;
    }
    return 0;
}

static void cl_unqueue(struct curl_loop *cl, struct cl_xfer *x)
{
    struct cl_xfer **pp = &cl->qhead, *prev = NULL;

    while (*pp && *pp != x) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (*pp == NULL)
        return;
    *pp = x->qnext;
    if (cl->qtail == x)
        cl->qtail = prev;
}

void curl_loop_remove(struct curl_loop *cl, CURL *easy)
{
    struct cl_xfer *x = NULL;

    AGORA_ASSERT(cl->depth == 0);
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    if (x == NULL)
        return;
    if (x->queued)
        cl_unqueue(cl, x);
    else
        curl_multi_remove_handle(cl->multi, easy);
    cl_xfer_drop(cl, x);
}

size_t curl_loop_count(const struct curl_loop *cl)
{
    return cl->count;
}

void curl_loop_free(struct curl_loop *cl)
{
    if (cl == NULL)
        return;
    while (cl->xfers)
        curl_loop_remove(cl, cl->xfers->easy);
    /* Closing cached connections may still call sock_cb with REMOVE. */
    curl_multi_cleanup(cl->multi);
    while (cl->socks)
        cl_sock_free(cl, cl->socks);
    ev_timer_stop(cl->loop, &cl->timer);
    free(cl);
}
