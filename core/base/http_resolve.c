/*
 * http_resolve.c - getaddrinfo() on a thread, the answer on the loop
 * (see http_resolve.h).
 */
#include "http_resolve.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

struct hc_lookup {
    int refs; /* atomic: 2 while both the loop and the thread hold it */
    int done; /* atomic: res and gai are set                          */
    int efd;  /* the thread writes 1 to it once done                  */
    char *host;
    char port[8];
    struct addrinfo *res;
    int gai;
    /* The loop's side. */
    struct ev_loop *loop;
    ev_io io;
    hc_lookup_fn cb;
    void *arg;
};

static void hc_lookup_unref(struct hc_lookup *lk)
{
    if (__atomic_sub_fetch(&lk->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (lk->res)
        freeaddrinfo(lk->res);
    close(lk->efd);
    free(lk->host);
    free(lk);
}

static void *hc_lookup_main(void *arg)
{
    struct hc_lookup *lk = arg;
    struct addrinfo hints;
    uint64_t one = 1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    lk->gai = getaddrinfo(lk->host, lk->port, &hints, &lk->res);
    __atomic_store_n(&lk->done, 1, __ATOMIC_RELEASE);
    /* An eventfd write of 8 bytes only fails on overflow. */
    while (write(lk->efd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
    hc_lookup_unref(lk);
    return NULL;
}

/* The thread has written the eventfd. */
static void hc_lookup_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    struct hc_lookup *lk = w->data;
    uint64_t v;

    (void)revents;
    if (read(lk->efd, &v, sizeof(v)) < 0 ||
        !__atomic_load_n(&lk->done, __ATOMIC_ACQUIRE))
        return; /* spurious */
    ev_io_stop(loop, w);
    lk->cb(lk->arg, lk->gai, lk->res);
    hc_lookup_unref(lk);
}

/* Starts the thread, every signal blocked in it (they are the loop's). */
static int hc_lookup_thread(struct hc_lookup *lk)
{
    pthread_attr_t attr;
    pthread_t tid;
    sigset_t all, old;
    int rc;

    if (pthread_attr_init(&attr) != 0)
        return ENOMEM;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&tid, &attr, hc_lookup_main, lk);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc;
}

int hc_lookup_start(struct ev_loop *loop, const char *host, uint16_t port,
                    hc_lookup_fn done, void *arg, struct hc_lookup **out)
{
    struct hc_lookup *lk = calloc(1, sizeof(*lk));
    int rc;

    if (lk == NULL || (lk->host = strdup(host)) == NULL) {
        free(lk);
        return ENOMEM;
    }
    snprintf(lk->port, sizeof(lk->port), "%u", (unsigned)port);
    lk->refs = 2;
    lk->loop = loop;
    lk->cb = done;
    lk->arg = arg;
    lk->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    rc = lk->efd < 0 ? errno : hc_lookup_thread(lk);
    if (rc != 0) {
        if (lk->efd >= 0)
            close(lk->efd);
        free(lk->host);
        free(lk);
        return rc;
    }
    ev_io_init(&lk->io, hc_lookup_on_io, lk->efd, EV_READ);
    lk->io.data = lk;
    ev_io_start(loop, &lk->io);
    *out = lk;
    return 0;
}

void hc_lookup_cancel(struct hc_lookup *lk)
{
    if (lk == NULL)
        return;
    ev_io_stop(lk->loop, &lk->io);
    hc_lookup_unref(lk);
}
