/*
 * store_key.c - 7-bit packing of store keys (see store_key.h).
 */
#include "store_key.h"

#include <string.h>

#define SKEY_CHARS_MAX 512

/* The code of c, 0 when c is not a key character. */
static int code_of(unsigned char c)
{
    if (c == '/')
        return 1;
    if (c == '-' || c == '.')
        return 2 + (c - '-');
    if (c >= '0' && c <= '9')
        return 4 + (c - '0');
    if (c == ':')
        return 14;
    if (c == '@')
        return 15;
    if (c >= 'A' && c <= 'Z')
        return 16 + (c - 'A');
    if (c == '_')
        return 42;
    if (c >= 'a' && c <= 'z')
        return 43 + (c - 'a');
    return 0;
}

/* The character of code (1..68), the inverse of code_of(). */
static const char chars[] = "\0/-.0123456789:@ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
                            "abcdefghijklmnopqrstuvwxyz";

#define NCODES ((int)sizeof(chars) - 1)

size_t skey_pack(const char *s, size_t n, int extra, unsigned char *out)
{
    unsigned acc = 0, nbits = 0;
    size_t i, len = 0;

    if (n > SKEY_CHARS_MAX || extra < 0 || extra >= NCODES)
        return 0;
    for (i = 0; i <= n; i++) {
        int c = i < n ? code_of((unsigned char)s[i]) : extra;

        if (c == 0) {
            if (i < n)
                return 0;
            break;
        }
        acc = (acc << 7) | (unsigned)c;
        nbits += 7;
        while (nbits >= 8) {
            nbits -= 8;
            out[len++] = (unsigned char)(acc >> nbits);
        }
        acc &= (1u << nbits) - 1;
    }
    if (nbits > 0)
        out[len++] = (unsigned char)(acc << (8 - nbits));
    return len;
}

long skey_unpack(const unsigned char *in, size_t len, char *out)
{
    unsigned acc = 0, nbits = 0;
    size_t i;
    long n = 0;

    for (i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        nbits += 8;
        while (nbits >= 7) {
            unsigned c;

            nbits -= 7;
            c = (acc >> nbits) & 0x7f;
            if (c == 0) {
                /* Only padding may follow: the rest of this byte. */
                if (i + 1 != len || (acc & ((1u << nbits) - 1)) != 0)
                    return -1;
                out[n] = '\0';
                return n;
            }
            if ((int)c >= NCODES)
                return -1;
            out[n++] = chars[c];
        }
        acc &= (1u << nbits) - 1;
    }
    if (acc != 0)
        return -1; /* padding bits are zero */
    out[n] = '\0';
    return n;
}
