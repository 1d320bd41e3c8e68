/*
 * b64.h - base64 (RFC 4648 §4) and base64url (§5): what protobuf's JSON
 * mapping writes bytes as, HTTP Basic credentials and JSON Web Tokens.
 */
#ifndef AGORA_B64_H
#define AGORA_B64_H

#include <stddef.h>

/* Bytes b64_encode() writes for n bytes, the NUL included. */
#define B64_ENCODED_LEN(n) (((n) + 2) / 3 * 4 + 1)

/* The n bytes at in as padded base64 into out (B64_ENCODED_LEN(n)
 * bytes); returns the length written, without the NUL. */
size_t b64_encode(const unsigned char *in, size_t n, char *out);

/* The same, malloc'ed (NULL when memory is short), *len its length. */
char *b64_encode_alloc(const unsigned char *in, size_t n, size_t *len);

/*
 * Base64 (url 0, padded or not) or base64url (url 1) of in[0..n) into
 * out (at most max bytes). The decoded length, or -1 for bad input or
 * too small an out.
 */
long b64_decode(const char *in, size_t n, int url, unsigned char *out,
                size_t max);

#endif /* AGORA_B64_H */
