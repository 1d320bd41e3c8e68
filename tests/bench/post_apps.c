/*
 * post_apps.c - the client of scripts/bench/marathon's many-apps phase:
 * N apps POSTed to /v2/apps on CONNS kept-alive connections at once, one
 * request in flight on each, app i on connection i % CONNS.
 *
 * The phase was driven from Python (http.client, a thread a connection):
 * against a master that only validated and answered 422, those threads
 * took 0.24-0.28 s and as much CPU for 1,000 POSTs (the GIL), more than
 * the placer's whole run of the same 10,000 tasks. This does the same
 * requests for a few microseconds of CPU each, so the phase times the
 * master and not its client.
 *
 *   build/tests/post_apps PORT CONNS N ID_PREFIX INSTANCES CPUS MEM
 *
 * Every answer must be 201; the bodies are {"id":"<ID_PREFIX>%04d",
 * "cmd":"sleep 600","cpus":CPUS,"mem":MEM,"disk":0,"instances":INSTANCES,
 * "portDefinitions":[]}. Prints, as `name: value` lines:
 *   post_apps_first_send: CLOCK_MONOTONIC seconds when the first request
 *       went out (Python's time.monotonic() reads the same clock)
 *   post_apps_answered_after: seconds from then to the last answer
 *   post_apps_latency_ms: p50 p99 max of one request
 *   post_apps_errors: answers that were not 201 (the first one on stderr)
 *   post_apps_cpu_seconds: this process's user + system time
 * Exits 1 on any error.
 *
 * Responses are read by their Content-Length (libmicrohttpd sends one for
 * every buffered answer), up to RESP_MAX bytes.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#define RESP_MAX (1 << 20)
#define REQ_MAX 4096

struct conf {
    int port, conns, n, instances;
    const char *prefix, *cpus, *mem;
};

struct worker {
    const struct conf *c;
    int index;   /* connection number: apps index, index+conns, ... */
    double *lat; /* seconds, one per app of this connection */
    int nlat, errors;
    double first, last; /* its first send, its last answer */
    char first_error[256];
    pthread_t thread;
};

static pthread_barrier_t start_line;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The value of header name in head[0..len) (its headers, no body), as
 * a number; -1 when absent. */
static long header_num(const char *head, size_t len, const char *name)
{
    size_t n = strlen(name);
    const char *p = head, *end = head + len;

    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        p++;
        if ((size_t)(end - p) > n + 1 && strncasecmp(p, name, n) == 0 &&
            p[n] == ':')
            return strtol(p + n + 1, NULL, 10);
    }
    return -1;
}

/*
 * Reads one response into buf (RESP_MAX bytes): its status, or -1 with
 * why. The body is NUL-terminated at *body.
 */
static int read_response(int fd, char *buf, char **body, const char **why)
{
    size_t have = 0, need = 0;
    char *eoh = NULL;
    long clen;

    for (;;) {
        ssize_t r = read(fd, buf + have, RESP_MAX - 1 - have);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *why = r == 0 ? "connection closed" : strerror(errno);
            return -1;
        }
        have += (size_t)r;
        buf[have] = '\0';
        if (eoh == NULL && (eoh = strstr(buf, "\r\n\r\n")) != NULL) {
            clen = header_num(buf, (size_t)(eoh - buf), "Content-Length");
            if (clen < 0 || clen > RESP_MAX - 1 - (eoh + 4 - buf)) {
                *why = "no Content-Length, or a body too long";
                return -1;
            }
            need = (size_t)(eoh + 4 - buf) + (size_t)clen;
        }
        if (eoh != NULL && have >= need)
            break;
        if (have == RESP_MAX - 1) {
            *why = "response too long";
            return -1;
        }
    }
    *body = eoh + 4;
    buf[need] = '\0';
    if (strncmp(buf, "HTTP/1.", 7) != 0 || strlen(buf) < 12) {
        *why = "not an HTTP response";
        return -1;
    }
    return atoi(buf + 9);
}

/* Counts an error of w's; the first one's text is kept. */
static void fail(struct worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(struct worker *w, const char *fmt, ...)
{
    va_list ap;

    if (w->errors++ > 0)
        return;
    va_start(ap, fmt);
    vsnprintf(w->first_error, sizeof(w->first_error), fmt, ap);
    va_end(ap);
}

static void *run(void *arg)
{
    struct worker *w = arg;
    const struct conf *c = w->c;
    char req[REQ_MAX], body[1024], *buf = malloc(RESP_MAX), *rbody;
    const char *why = NULL;
    int fd = connect_to(c->port);

    pthread_barrier_wait(&start_line);
    w->first = now();
    if (buf == NULL || fd < 0) {
        fail(w, "cannot connect");
        free(buf);
        return NULL;
    }
    for (int i = w->index; i < c->n; i += c->conns) {
        int blen = snprintf(body, sizeof(body),
                            "{\"id\":\"%s%04d\",\"cmd\":\"sleep 600\",\"cpus\":"
                            "%s,\"mem\":%s,\"disk\":0,\"instances\":%d,"
                            "\"portDefinitions\":[]}",
                            c->prefix, i, c->cpus, c->mem, c->instances);
        int rlen = snprintf(req, sizeof(req),
                            "POST /v2/apps HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Content-Type: application/json\r\n"
                            "Content-Length: %d\r\n\r\n%s",
                            blen, body);
        double t = now();
        int status;

        if (blen >= (int)sizeof(body) || rlen >= (int)sizeof(req)) {
            fail(w, "request too long");
            break;
        }
        if (write_all(fd, req, (size_t)rlen) != 0) {
            fail(w, "write: %s", strerror(errno));
            break;
        }
        if ((status = read_response(fd, buf, &rbody, &why)) < 0) {
            fail(w, "read: %s", why);
            break;
        }
        w->last = now();
        w->lat[w->nlat++] = w->last - t;
        if (status != 201)
            fail(w, "HTTP %d: %.200s", status, rbody);
    }
    close(fd);
    free(buf);
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    struct conf c;
    struct worker *w;
    struct rusage ru;
    double *all, first = 0, last = 0;
    int nall = 0, errors = 0;

    if (argc != 8) {
        fprintf(stderr, "usage: %s PORT CONNS N ID_PREFIX INSTANCES CPUS MEM\n",
                argv[0]);
        return 2;
    }
    c = (struct conf){.port = atoi(argv[1]),
                      .conns = atoi(argv[2]),
                      .n = atoi(argv[3]),
                      .prefix = argv[4],
                      .instances = atoi(argv[5]),
                      .cpus = argv[6],
                      .mem = argv[7]};
    if (c.port <= 0 || c.conns <= 0 || c.n <= 0 || c.instances < 0 ||
        strlen(c.prefix) > 512) {
        fprintf(stderr, "post_apps: bad arguments\n");
        return 2;
    }
    w = calloc((size_t)c.conns, sizeof(*w));
    all = calloc((size_t)c.n, sizeof(*all));
    if (w == NULL || all == NULL ||
        pthread_barrier_init(&start_line, NULL, (unsigned)c.conns) != 0)
        return 2;
    for (int i = 0; i < c.conns; i++) {
        w[i].c = &c;
        w[i].index = i;
        w[i].lat = all + nall;
        nall += (c.n - i + c.conns - 1) / c.conns;
        if (pthread_create(&w[i].thread, NULL, run, &w[i]) != 0)
            return 2;
    }
    nall = 0;
    for (int i = 0; i < c.conns; i++) {
        pthread_join(w[i].thread, NULL);
        if (w[i].errors && errors == 0)
            fprintf(stderr, "post_apps: %s\n", w[i].first_error);
        errors += w[i].errors;
        if (w[i].last > last)
            last = w[i].last;
        if (i == 0 || w[i].first < first)
            first = w[i].first;
        for (int k = 0; k < w[i].nlat; k++)
            all[nall++] = w[i].lat[k];
    }
    qsort(all, (size_t)nall, sizeof(*all), by_value);
    getrusage(RUSAGE_SELF, &ru);
    printf("post_apps_first_send: %.6f\n", first);
    printf("post_apps_answered_after: %.6f\n", last - first);
    if (nall > 0)
        printf("post_apps_latency_ms: %.3f %.3f %.3f\n", 1e3 * all[nall / 2],
               1e3 * all[(int)(0.99 * (nall - 1) + 0.5)], 1e3 * all[nall - 1]);
    printf("post_apps_errors: %d\n", errors + (c.n - nall));
    printf("post_apps_cpu_seconds: %.3f\n",
           (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    free(all);
    free(w);
    return errors || nall != c.n ? 1 : 0;
}
