/*
 * b64.c - base64 and base64url (see b64.h).
 */
#include "b64.h"

#include <stdlib.h>

static const char b64_abc[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encode(const unsigned char *in, size_t n, char *out)
{
    char *o = out;
    size_t i;

    for (i = 0; i + 2 < n; i += 3) {
        *o++ = b64_abc[in[i] >> 2];
        *o++ = b64_abc[(in[i] & 3) << 4 | in[i + 1] >> 4];
        *o++ = b64_abc[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
        *o++ = b64_abc[in[i + 2] & 63];
    }
    if (i < n) {
        *o++ = b64_abc[in[i] >> 2];
        if (i + 1 < n) {
            *o++ = b64_abc[(in[i] & 3) << 4 | in[i + 1] >> 4];
            *o++ = b64_abc[(in[i + 1] & 15) << 2];
        } else {
            *o++ = b64_abc[(in[i] & 3) << 4];
            *o++ = '=';
        }
        *o++ = '=';
    }
    *o = '\0';
    return (size_t)(o - out);
}

char *b64_encode_alloc(const unsigned char *in, size_t n, size_t *len)
{
    char *out = malloc(B64_ENCODED_LEN(n));

    if (out != NULL)
        *len = b64_encode(in, n, out);
    return out;
}

static int b64_value(int c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

long b64_decode(const char *in, size_t n, int url, unsigned char *out,
                size_t max)
{
    unsigned long acc = 0;
    size_t i, len = 0;
    int bits = 0, v;

    while (n > 0 && in[n - 1] == '=')
        n--;
    for (i = 0; i < n; i++) {
        if ((v = b64_value((unsigned char)in[i], url)) < 0)
            return -1;
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (len == max)
                return -1;
            out[len++] = (unsigned char)(acc >> bits);
            acc &= (1ul << bits) - 1;
        }
    }
    if (bits >= 6 || acc != 0) /* a lone sextet, or bits left over */
        return -1;
    return (long)len;
}
