/*
 * mhd_minimal.c - the floor for agora-master's HTTP: the least a
 * libmicrohttpd server can do per request, driven the way agora drives
 * it (MHD_USE_EPOLL, external polling, no thread of MHD's own), with a
 * plain epoll_wait() loop on MHD's epoll descriptor and MHD_get_timeout()
 * instead of libev. MHD's descriptor sits in an epoll set of our own, as
 * libev holds it for agora: waiting on MHD's set directly would consume
 * the edge-triggered events MHD_run() needs to see.
 *
 * Every request, whatever its method and path, gets the same persistent
 * response: 200, Content-Type text/plain, body "ok".
 *
 *   build/tests/mhd_minimal PORT   (127.0.0.1; prints "listening on PORT")
 *
 * CMake builds it (tests/CMakeLists.txt, at -O2); by hand:
 *   gcc -O2 -o mhd_minimal mhd_minimal.c -lmicrohttpd
 *
 * SIGTERM or SIGINT stops it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <arpa/inet.h>
#include <microhttpd.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct MHD_Response *resp = cls;

    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    if (*con_cls == NULL) { /* headers only: wait for the (empty) body */
        *con_cls = conn;
        return MHD_YES;
    }
    *upload_size = 0;
    return MHD_queue_response(conn, MHD_HTTP_OK, resp);
}

int main(int argc, char **argv)
{
    struct MHD_Response *resp;
    struct MHD_Daemon *d;
    struct sockaddr_in sa;
    struct sigaction act;
    const union MHD_DaemonInfo *info;
    struct epoll_event watch;
    int port = argc > 1 ? atoi(argv[1]) : 8080, efd;

    resp = MHD_create_response_from_buffer(2, (void *)"ok",
                                           MHD_RESPMEM_PERSISTENT);
    if (resp == NULL ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "text/plain") != MHD_YES)
        return 1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG, 0,
                         NULL, NULL, on_request, resp, MHD_OPTION_SOCK_ADDR,
                         &sa, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
                         MHD_OPTION_CONNECTION_LIMIT, 10000u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "mhd_minimal: cannot listen on port %d\n", port);
        return 1;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
    efd = epoll_create1(EPOLL_CLOEXEC);
    memset(&watch, 0, sizeof(watch));
    watch.events = EPOLLIN;
    if (efd < 0 || epoll_ctl(efd, EPOLL_CTL_ADD, info->epoll_fd, &watch) < 0) {
        perror("mhd_minimal: epoll");
        return 1;
    }
    memset(&act, 0, sizeof(act));
    act.sa_handler = on_signal;
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    signal(SIGPIPE, SIG_IGN);
    printf("listening on %d\n", port);
    fflush(stdout);
    while (!stopping) {
        struct epoll_event ev;
        MHD_UNSIGNED_LONG_LONG ms;
        int timeout = -1;

        if (MHD_get_timeout(d, &ms) == MHD_YES)
            timeout = ms > 60000 ? 60000 : (int)ms;
        if (epoll_wait(efd, &ev, 1, timeout) < 0 && errno != EINTR)
            break;
        MHD_run(d);
    }
    MHD_stop_daemon(d);
    MHD_destroy_response(resp);
    return 0;
}
