/*
 * store_key.c - 7-bit packing of store keys (see store_key.h).
 */
#include "store_key.h"

#include <stdint.h>
#include <string.h>

#define SKEY_CHARS_MAX 512

/* The code of each character, 0 when it is not a key character: a
 * table, since every put packs its key twice (the current version,
 * then the write): a chain of range tests and a bit at a time were
 * 2,000 instructions a key of marathon.so's. */
static const unsigned char codes[256] = {
    ['/'] = 1, ['-'] = 2, ['.'] = 3, ['0'] = 4, ['1'] = 5, ['2'] = 6,
    ['3'] = 7, ['4'] = 8, ['5'] = 9, ['6'] = 10, ['7'] = 11, ['8'] = 12,
    ['9'] = 13, [':'] = 14, ['@'] = 15, ['A'] = 16, ['B'] = 17, ['C'] = 18,
    ['D'] = 19, ['E'] = 20, ['F'] = 21, ['G'] = 22, ['H'] = 23, ['I'] = 24,
    ['J'] = 25, ['K'] = 26, ['L'] = 27, ['M'] = 28, ['N'] = 29, ['O'] = 30,
    ['P'] = 31, ['Q'] = 32, ['R'] = 33, ['S'] = 34, ['T'] = 35, ['U'] = 36,
    ['V'] = 37, ['W'] = 38, ['X'] = 39, ['Y'] = 40, ['Z'] = 41, ['_'] = 42,
    ['a'] = 43, ['b'] = 44, ['c'] = 45, ['d'] = 46, ['e'] = 47, ['f'] = 48,
    ['g'] = 49, ['h'] = 50, ['i'] = 51, ['j'] = 52, ['k'] = 53, ['l'] = 54,
    ['m'] = 55, ['n'] = 56, ['o'] = 57, ['p'] = 58, ['q'] = 59, ['r'] = 60,
    ['s'] = 61, ['t'] = 62, ['u'] = 63, ['v'] = 64, ['w'] = 65, ['x'] = 66,
    ['y'] = 67, ['z'] = 68,
};

static int code_of(unsigned char c) { return codes[c]; }

/* The character of code (1..68), the inverse of code_of(). */
static const char chars[] = "\0/-.0123456789:@ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
                            "abcdefghijklmnopqrstuvwxyz";

#define NCODES ((int)sizeof(chars) - 1)

size_t skey_pack(const char *s, size_t n, int extra, unsigned char *out)
{
    unsigned acc = 0, nbits = 0;
    size_t i = 0, len = 0;
    int k;

    if (n > SKEY_CHARS_MAX || extra < 0 || extra >= NCODES)
        return 0;
    /* Eight characters are 56 bits, seven whole bytes: packed a word at
     * a time, which leaves the bit stream where the loop below starts
     * it (nothing pending). */
    for (; n - i >= 8; i += 8) {
        uint64_t w = 0;
        unsigned bad = 0;

        for (k = 0; k < 8; k++) {
            unsigned c = codes[(unsigned char)s[i + (size_t)k]];

            bad |= c == 0;
            w = (w << 7) | c;
        }
        if (bad)
            return 0;
        for (k = 0; k < 7; k++)
            out[len++] = (unsigned char)(w >> (48 - 8 * k));
    }
    for (; i <= n; i++) {
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
