/*
 * uuid.c - version 4 UUIDs from the kernel's random source.
 */
#include "uuid.h"

#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

#include "log.h"

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int uuid_parse(const char *text, unsigned char out[16])
{
    size_t i, o = 0;
    int hi, lo;

    for (i = 0; o < 16; i += 2) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return -1;
            i++;
        }
        if ((hi = hex_digit((unsigned char)text[i])) < 0 ||
            (lo = hex_digit((unsigned char)text[i + 1])) < 0)
            return -1;
        out[o++] = (unsigned char)(hi << 4 | lo);
    }
    return text[i] == '\0' ? 0 : -1;
}

void uuid_v4(char out[UUID_STR_LEN])
{
    unsigned char b[16];
    size_t got = 0;

    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        /* getrandom() of 16 bytes cannot fail once the pool is ready. */
        AGORA_ASSERT(n > 0);
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, UUID_STR_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x"
             "%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
}
