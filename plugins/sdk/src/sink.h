/*
 * sink.h - a bounded writer for the SDK's formatting functions, which
 * answer as snprintf() does: what fits goes into out, NUL-terminated,
 * and the whole length is counted.
 *
 * Internal to the SDK and static inline on purpose: the SDK is a static
 * library linked into every plugin, so a symbol of its own here could
 * clash with a plugin's.
 */
#ifndef AGORA_SDK_SINK_H
#define AGORA_SDK_SINK_H

#include <stddef.h>
#include <string.h>

struct sink {
    char *out;
    size_t size, len;
};

/* Appends what fits of s[0..n) (leaving room for the NUL); counts all n. */
static inline void sink_put(struct sink *k, const char *s, size_t n)
{
    size_t room;

    if (k->len < k->size) {
        room = k->size - 1 - k->len;
        memcpy(k->out + k->len, s, n < room ? n : room);
    }
    k->len += n;
}

/* Terminates what was written (when out has room for anything at all);
 * returns the whole length, as snprintf() would. */
static inline size_t sink_end(struct sink *k)
{
    if (k->size > 0)
        k->out[k->len < k->size ? k->len : k->size - 1] = '\0';
    return k->len;
}

#endif /* AGORA_SDK_SINK_H */
