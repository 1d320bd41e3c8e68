/*
 * fetch_get.c - one download with libcurl: http, https and file URIs,
 * redirects to http and https only, bounded in size, failed when it
 * stalls. libcurl lives here, in the fetcher, and never in the agent
 * (its libraries cost the agent about 6 MB of RSS; DESIGN.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fetch.h"

/* What the write callback needs. */
struct get_sink {
    struct fetch_ctx *ctx;
    int fd;
    uint64_t got, limit;
    int over, werr; /* why the callback stopped the transfer */
};

int fetch_get_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void fetch_get_fini(void)
{
    curl_global_cleanup();
}

static size_t get_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct get_sink *s = arg;
    size_t n = size * nmemb, off = 0;

    if (s->got + n > s->limit) {
        s->over = 1;
        return 0;
    }
    while (off < n) {
        ssize_t w = write(s->fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s->werr = errno ? errno : EIO;
            return 0;
        }
        off += (size_t)w;
    }
    s->got += n;
    return n;
}

/* The limit of this download: max_size, and what max_total leaves. */
static uint64_t get_limit(const struct fetch_ctx *ctx)
{
    uint64_t left =
        ctx->conf.max_total > ctx->total ? ctx->conf.max_total - ctx->total : 0;

    return left < ctx->conf.max_size ? left : ctx->conf.max_size;
}

static void get_options(CURL *c, const char *uri, struct get_sink *s,
                        char *errbuf, long stall)
{
    curl_easy_setopt(c, CURLOPT_URL, uri);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    /* A server must not send the fetcher to a local file. */
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, get_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->limit);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, stall);
    /* Stalled: under one byte a second for stall_timeout seconds. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, stall);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "agora-fetcher/" AGORA_VERSION);
}

/* The reason of a failed transfer, for the status message. */
static void get_reason(struct fetch_ctx *ctx, CURL *c, CURLcode rc,
                       const struct get_sink *s, const char *errbuf, char *out,
                       size_t outlen)
{
    long code = 0;

    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (s->over || rc == CURLE_FILESIZE_EXCEEDED)
        snprintf(out, outlen, "larger than the limit of %llu bytes",
                 (unsigned long long)s->limit);
    else if (s->werr)
        snprintf(out, outlen, "writing the sandbox: %s", strerror(s->werr));
    else if (rc == CURLE_HTTP_RETURNED_ERROR)
        snprintf(out, outlen, "HTTP status %ld", code);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        snprintf(out, outlen, "stalled: no data for %.0f s",
                 ctx->conf.stall_timeout);
    else
        snprintf(out, outlen, "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
}

int fetch_get(struct fetch_ctx *ctx, const char *uri, int fd)
{
    struct get_sink s = {.ctx = ctx, .fd = fd, .limit = get_limit(ctx)};
    char errbuf[CURL_ERROR_SIZE] = "", reason[CURL_ERROR_SIZE + 64];
    long stall =
        ctx->conf.stall_timeout >= 1 ? (long)ctx->conf.stall_timeout : 1L;
    CURL *c = curl_easy_init();
    CURLcode rc;
    char *shown;

    if (c == NULL || ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
        if (c)
            curl_easy_cleanup(c);
        snprintf(ctx->err, sizeof(ctx->err), "cannot start a download");
        return -1;
    }
    get_options(c, uri, &s, errbuf, stall);
    rc = curl_easy_perform(c);
    ctx->total += s.got;
    if (rc == CURLE_OK) {
        curl_easy_cleanup(c);
        return 0;
    }
    get_reason(ctx, c, rc, &s, errbuf, reason, sizeof(reason));
    curl_easy_cleanup(c);
    /* errbuf may quote the URI itself; the message names it redacted. */
    if (rc != CURLE_HTTP_RETURNED_ERROR && strstr(reason, uri))
        snprintf(reason, sizeof(reason), "%s", curl_easy_strerror(rc));
    shown = fetch_uri_redact(uri);
    snprintf(ctx->err, sizeof(ctx->err), "failed to fetch '%s': %s",
             shown ? shown : "(out of memory)", reason);
    free(shown);
    return -1;
}
