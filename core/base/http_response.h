/*
 * http_response.h - reading an HTTP/1.1 response, inside the agent's HTTP
 * client (http_client.c): the header block (bounded by HC_HEAD_MAX), the
 * framing of the body (RFC 9112 6.3: none, Content-Length, chunked, or
 * until the close) and chunked decoding. No I/O: the client reads, this
 * parses, so it is tested without sockets too.
 */
#ifndef AGORA_HTTP_RESPONSE_H
#define AGORA_HTTP_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

enum hc_body { HC_BODY_NONE, HC_BODY_LENGTH, HC_BODY_CHUNKED, HC_BODY_CLOSE };

enum hc_chunk {
    CH_SIZE,          /* hex digits of the size                  */
    CH_EXT,           /* ";ext" after the size, up to the LF      */
    CH_SIZE_LF,       /* the LF after the size's CR               */
    CH_DATA,          /* `remaining` bytes of data                */
    CH_DATA_END,      /* the CRLF after the data                  */
    CH_TRAILER_START, /* a trailer line, or the empty line: end   */
    CH_TRAILER_LINE   /* inside a trailer line                    */
};

/* What feeding body bytes led to (else a negative hc_err). */
enum { HC_MORE = 0, HC_END = 1, HC_STOP = 2 };

struct hc_hdr {
    const char *name, *value; /* into hc_resp.head */
};

struct hc_resp {
    char *head; /* the header block, NUL-terminated in place */
    size_t hlen, hcap, hscan;
    struct hc_hdr *hdrs;
    size_t nhdrs;
    int status, minor; /* 200, 1 for "HTTP/1.1 200"          */
    int head_only;     /* set by the owner: an answer to HEAD */
    enum hc_body body;
    uint64_t remaining; /* of the body or of the chunk         */
    enum hc_chunk chunk;
    uint64_t csize;
    unsigned cdigits;
    size_t cextra;   /* bytes of a chunk extension or trailer */
    int extra;       /* bytes past the end of the response    */
    const char *why; /* static detail of the last error      */
};

/* Body bytes for the owner; non-zero stops (hc_resp_body: HC_STOP). */
typedef int (*hc_sink_fn)(void *arg, const char *data, size_t len);

/* Starts over for a new response (keeps the head buffer). */
void hc_resp_reset(struct hc_resp *p);
/* Frees what p holds. */
void hc_resp_clear(struct hc_resp *p);

/*
 * Where to read the next bytes of the head: *buf, at most *len bytes
 * (never 0). 0 or AGORA_ENOMEM.
 */
int hc_resp_room(struct hc_resp *p, char **buf, size_t *len);

/*
 * n bytes were read into the room: 0 when the head is not complete yet,
 * 1 when it is (1xx answers are skipped; *end is where the body's first
 * bytes start in p->head, up to p->hlen), or AGORA_ETOOBIG, AGORA_EPROTO,
 * AGORA_ENOMEM with p->why.
 */
int hc_resp_head(struct hc_resp *p, size_t n, size_t *end);

/*
 * Body bytes: decodes them and hands the body to sink. HC_MORE, HC_END
 * (the response is complete; p->extra when bytes followed it), HC_STOP
 * (sink returned non-zero) or AGORA_EPROTO with p->why.
 */
int hc_resp_body(struct hc_resp *p, const char *data, size_t n, hc_sink_fn sink,
                 void *arg);

/* The first header called name (any case), or NULL. */
const char *hc_resp_header(const struct hc_resp *p, const char *name);

/* After HC_END: the connection may carry another response (HTTP/1.1,
 * a framed body, nothing past it, no `Connection: close`). */
int hc_resp_reusable(const struct hc_resp *p);

#endif /* AGORA_HTTP_RESPONSE_H */
