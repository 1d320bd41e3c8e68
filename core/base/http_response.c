/*
 * http_response.c - parsing an HTTP/1.1 response: the head, the framing
 * of the body and chunked decoding (see http_response.h).
 *
 * The head is read into one buffer that grows to HC_HEAD_MAX and no
 * further; it is parsed in place once its blank line is in. Body bytes
 * are decoded as they come, byte by byte outside chunk data, so nothing
 * is buffered and a chunk may be split anywhere between two reads.
 */
#include "http_response.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_client.h"

/* Longest chunk-size line extension accepted. */
#define HC_CHUNK_EXT_MAX 4096

void hc_resp_reset(struct hc_resp *p)
{
    free(p->hdrs);
    p->hdrs = NULL;
    p->nhdrs = p->hlen = p->hscan = 0;
    p->status = p->minor = p->extra = 0;
    p->body = HC_BODY_NONE;
    p->remaining = 0;
    p->why = NULL;
}

void hc_resp_clear(struct hc_resp *p)
{
    hc_resp_reset(p);
    free(p->head);
    p->head = NULL;
    p->hcap = 0;
}

/* ------------------------------------------------------------------ */
/* The head                                                             */
/* ------------------------------------------------------------------ */

int hc_resp_room(struct hc_resp *p, char **buf, size_t *len)
{
    size_t cap = p->hcap;
    char *nb;

    /* One byte stays for the NUL; hc_resp_head() fails a full buffer. */
    if (cap - p->hlen <= 2048 && cap < HC_HEAD_MAX + 1) {
        cap = cap ? cap * 2 : 4096;
        if (cap > HC_HEAD_MAX + 1)
            cap = HC_HEAD_MAX + 1;
        if ((nb = realloc(p->head, cap)) == NULL)
            return AGORA_ENOMEM;
        p->head = nb;
        p->hcap = cap;
    }
    *buf = p->head + p->hlen;
    *len = p->hcap - 1 - p->hlen;
    return 0;
}

/* Index just past the blank line ending the head, or 0 for "not yet". */
static size_t hc_head_end(struct hc_resp *p)
{
    size_t i;

    for (i = p->hscan; i < p->hlen; i++) {
        if (p->head[i] != '\n')
            continue;
        if (i + 1 < p->hlen && p->head[i + 1] == '\n')
            return i + 2;
        if (i + 2 < p->hlen && p->head[i + 1] == '\r' && p->head[i + 2] == '\n')
            return i + 3;
        if (i + 2 >= p->hlen)
            break; /* the blank line may still be coming */
    }
    p->hscan = i;
    return 0;
}

/* The next line in [*s, lim), NUL-terminated in place without its CR. */
static char *hc_line(char **s, char *lim)
{
    char *start = *s, *nl = memchr(start, '\n', (size_t)(lim - start));

    if (nl == NULL)
        return NULL;
    *nl = '\0';
    if (nl > start && nl[-1] == '\r')
        nl[-1] = '\0';
    *s = nl + 1;
    return start;
}

/* "HTTP/1.x SSS[ reason]". */
static int hc_status_line(struct hc_resp *p, const char *l)
{
    if (strncmp(l, "HTTP/1.", 7) != 0 || l[7] < '0' || l[7] > '9' ||
        l[8] != ' ' || l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' ||
        l[11] < '0' || l[11] > '9' || (l[12] != '\0' && l[12] != ' '))
        return -1;
    p->minor = l[7] - '0';
    p->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    return 0;
}

/* "Name: value" into p->hdrs; -1 when it is not a header line (a
 * folded one included: nothing agora talks to folds). */
static int hc_header_line(struct hc_resp *p, char *l)
{
    char *colon = strchr(l, ':'), *v, *e;

    if (colon == NULL || colon == l || strcspn(l, " \t") < (size_t)(colon - l))
        return -1;
    *colon = '\0';
    for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
        ;
    for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
        ;
    *e = '\0';
    p->hdrs[p->nhdrs].name = l;
    p->hdrs[p->nhdrs++].value = v;
    return 0;
}

/* Parses the head in p->head[0, end): status line and headers. */
static int hc_head_parse(struct hc_resp *p, size_t end)
{
    char *s = p->head, *lim = p->head + end, *l;
    size_t lines = 0, i;

    for (i = 0; i < end; i++)
        lines += p->head[i] == '\n';
    free(p->hdrs);
    p->nhdrs = 0;
    if ((p->hdrs = calloc(lines, sizeof(*p->hdrs))) == NULL) {
        p->why = "out of memory";
        return AGORA_ENOMEM;
    }
    while ((l = hc_line(&s, lim)) != NULL && *l == '\0')
        ; /* blank lines before the status line are tolerated */
    if (l == NULL || hc_status_line(p, l) < 0) {
        p->why = "bad status line";
        return AGORA_EPROTO;
    }
    while ((l = hc_line(&s, lim)) != NULL && *l != '\0') {
        if (hc_header_line(p, l) < 0) {
            p->why = "bad header line";
            return AGORA_EPROTO;
        }
    }
    return 0;
}

/* The last comma-separated token of v is tok (any case). */
static int hc_last_token(const char *v, const char *tok)
{
    const char *comma = strrchr(v, ','), *s = comma ? comma + 1 : v;
    size_t n;

    while (*s == ' ' || *s == '\t')
        s++;
    n = strcspn(s, " \t");
    return n == strlen(tok) && strncasecmp(s, tok, n) == 0;
}

/* Content-Length: digits only (18 cannot overflow); -1 otherwise. */
static int hc_content_length(const char *v, uint64_t *out)
{
    uint64_t n = 0;

    if (*v == '\0' || strlen(v) > 18)
        return -1;
    for (; *v; v++) {
        if (*v < '0' || *v > '9')
            return -1;
        n = n * 10 + (uint64_t)(*v - '0');
    }
    *out = n;
    return 0;
}

/* How the body is framed (RFC 9112 6.3). */
static int hc_body_mode(struct hc_resp *p)
{
    const char *te = hc_resp_header(p, "Transfer-Encoding");
    const char *cl = hc_resp_header(p, "Content-Length");

    p->chunk = CH_SIZE;
    p->csize = p->cdigits = 0;
    if (p->head_only || p->status == 204 || p->status == 304) {
        p->body = HC_BODY_NONE;
    } else if (te) {
        p->body =
            hc_last_token(te, "chunked") ? HC_BODY_CHUNKED : HC_BODY_CLOSE;
    } else if (cl == NULL) {
        p->body = HC_BODY_CLOSE;
    } else if (hc_content_length(cl, &p->remaining) == 0) {
        p->body = HC_BODY_LENGTH;
    } else {
        p->why = "bad Content-Length";
        return AGORA_EPROTO;
    }
    return 0;
}

/* A 1xx answer came before the real one: drop it, keep what follows. */
static void hc_drop_interim(struct hc_resp *p, size_t end)
{
    memmove(p->head, p->head + end, p->hlen - end);
    p->hlen -= end;
    p->hscan = 0;
    p->head[p->hlen] = '\0';
    p->status = 0;
}

int hc_resp_head(struct hc_resp *p, size_t n, size_t *end)
{
    int rc;

    p->hlen += n;
    p->head[p->hlen] = '\0';
    for (;;) {
        size_t e = hc_head_end(p);

        if (e == 0 && p->hlen >= HC_HEAD_MAX) {
            p->why = "response headers too big";
            return AGORA_ETOOBIG;
        }
        if (e == 0)
            return 0;
        if ((rc = hc_head_parse(p, e)) < 0)
            return rc;
        if (p->status == 101) {
            p->why = "the server switched protocols";
            return AGORA_EPROTO;
        }
        if (p->status >= 200) {
            *end = e;
            return hc_body_mode(p) < 0 ? AGORA_EPROTO : 1;
        }
        hc_drop_interim(p, e);
    }
}

const char *hc_resp_header(const struct hc_resp *p, const char *name)
{
    size_t i;

    for (i = 0; i < p->nhdrs; i++)
        if (strcasecmp(p->hdrs[i].name, name) == 0)
            return p->hdrs[i].value;
    return NULL;
}

/* "close" among the tokens of the Connection header. */
static int hc_conn_close(const struct hc_resp *p)
{
    const char *v = hc_resp_header(p, "Connection"), *s;

    for (s = v; s && *s; s++)
        if (strncasecmp(s, "close", 5) == 0 &&
            (s == v || s[-1] == ' ' || s[-1] == ',') &&
            (s[5] == '\0' || s[5] == ',' || s[5] == ' '))
            return 1;
    return 0;
}

int hc_resp_reusable(const struct hc_resp *p)
{
    return p->minor >= 1 && p->body != HC_BODY_CLOSE && !p->extra &&
           !hc_conn_close(p);
}

/* ------------------------------------------------------------------ */
/* The body                                                             */
/* ------------------------------------------------------------------ */

static int hc_chunk_error(struct hc_resp *p, const char *why)
{
    p->why = why;
    return AGORA_EPROTO;
}

/* The size line ended: data follows, or the trailer after size 0. */
static void hc_chunk_begin(struct hc_resp *p)
{
    if (p->csize == 0) {
        p->chunk = CH_TRAILER_START;
        p->cextra = 0;
        return;
    }
    p->chunk = CH_DATA;
    p->remaining = p->csize;
}

static int hc_hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* One byte of the size line. HC_MORE or AGORA_EPROTO. */
static int hc_chunk_size_byte(struct hc_resp *p, char ch)
{
    int v = hc_hexval(ch);

    if (v >= 0) {
        if (p->csize >> 56)
            return hc_chunk_error(p, "chunk size too big");
        p->csize = p->csize * 16 + (uint64_t)v;
        p->cdigits++;
        return HC_MORE;
    }
    if (p->cdigits == 0)
        return hc_chunk_error(p, "no chunk size");
    if (ch == ';' || ch == ' ' || ch == '\t') {
        p->chunk = CH_EXT;
        p->cextra = 0;
    } else if (ch == '\r') {
        p->chunk = CH_SIZE_LF;
    } else if (ch == '\n') {
        hc_chunk_begin(p);
    } else {
        return hc_chunk_error(p, "bad chunk size");
    }
    return HC_MORE;
}

/* One byte outside chunk data. HC_MORE, HC_END or AGORA_EPROTO. */
static int hc_chunk_byte(struct hc_resp *p, char ch)
{
    switch (p->chunk) {
    case CH_SIZE:
        return hc_chunk_size_byte(p, ch);
    case CH_EXT:
        if (ch == '\n')
            hc_chunk_begin(p);
        else if (++p->cextra > HC_CHUNK_EXT_MAX)
            return hc_chunk_error(p, "chunk extension too long");
        return HC_MORE;
    case CH_SIZE_LF:
        if (ch != '\n')
            return hc_chunk_error(p, "CR without LF");
        hc_chunk_begin(p);
        return HC_MORE;
    case CH_DATA_END:
        if (ch == '\n') {
            p->chunk = CH_SIZE;
            p->csize = p->cdigits = 0;
        } else if (ch != '\r') {
            return hc_chunk_error(p, "no CRLF after the chunk");
        }
        return HC_MORE;
    case CH_TRAILER_START:
        if (ch == '\n')
            return HC_END;
        if (ch != '\r')
            p->chunk = CH_TRAILER_LINE;
        return HC_MORE;
    default: /* CH_TRAILER_LINE; CH_DATA never gets here */
        if (ch == '\n')
            p->chunk = CH_TRAILER_START;
        if (++p->cextra > HC_HEAD_MAX)
            return hc_chunk_error(p, "trailer too long");
        return HC_MORE;
    }
}

static int hc_chunked(struct hc_resp *p, const char *d, size_t n,
                      hc_sink_fn sink, void *arg)
{
    size_t i = 0;

    while (i < n) {
        int rc;

        if (p->chunk == CH_DATA) {
            size_t take = n - i < p->remaining ? n - i : (size_t)p->remaining;

            /* Counted first: the sink may end the response. */
            p->remaining -= take;
            if (p->remaining == 0)
                p->chunk = CH_DATA_END;
            if (sink(arg, d + i, take) != 0)
                return HC_STOP;
            i += take;
            continue;
        }
        rc = hc_chunk_byte(p, d[i++]);
        if (rc == HC_END)
            p->extra |= i < n;
        if (rc != HC_MORE)
            return rc;
    }
    return HC_MORE;
}

int hc_resp_body(struct hc_resp *p, const char *d, size_t n, hc_sink_fn sink,
                 void *arg)
{
    size_t take;

    switch (p->body) {
    case HC_BODY_NONE:
        p->extra |= n > 0;
        return HC_END;
    case HC_BODY_LENGTH:
        take = n < p->remaining ? n : (size_t)p->remaining;
        p->remaining -= take;
        p->extra |= n > take;
        if (take > 0 && sink(arg, d, take) != 0)
            return HC_STOP;
        return p->remaining == 0 ? HC_END : HC_MORE;
    case HC_BODY_CLOSE:
        return n > 0 && sink(arg, d, n) != 0 ? HC_STOP : HC_MORE;
    default:
        return hc_chunked(p, d, n, sink, arg);
    }
}
