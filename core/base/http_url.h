/*
 * http_url.h - the parsed form of an http:// URL, inside the agent's HTTP
 * client (http_client.c); the public URL helpers are in http_client.h.
 */
#ifndef AGORA_HTTP_URL_H
#define AGORA_HTTP_URL_H

#include <stdint.h>

struct hc_url {
    char *host;      /* without the brackets of an IPv6 literal           */
    char *authority; /* host[:port] as written: the Host header           */
    char *path;      /* "/..." with the query, without the fragment       */
    uint16_t port;   /* 80 (443 for https) when the URL names none        */
    int v6;          /* the host was a [bracketed] literal                */
    int tls;         /* https://                                          */
};

/*
 * Parses an http:// or https:// URL (scheme in any case) into u (strings malloc'ed;
 * release with hc_url_clear). 0, AGORA_ENOMEM, AGORA_ENOTSUP (another scheme)
 * or AGORA_EURL (no host, a bad port, user info, a control byte or a space
 * in the path). u is cleared on failure.
 */
int hc_url_parse(const char *url, struct hc_url *u);
void hc_url_clear(struct hc_url *u);

#endif /* AGORA_HTTP_URL_H */
