/*
 * health_result.c - a health check's result as the task reports it
 * (t->health_output, see task.h and exec_int.h): text of at most
 * AGORA_HEALTH_OUTPUT_MAX bytes, cut at a character boundary, and valid
 * UTF-8 - a COMMAND check may write any bytes, and the master's JSON
 * parser takes only UTF-8, refusing the whole updates POST otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_int.h"
#include "log.h"

/*
 * Makes s (len bytes) printable UTF-8 in place: a byte that does not
 * start a complete, shortest-form UTF-8 sequence (or is one of an
 * incomplete one at the end, where the text was cut), and a control
 * character other than newline and tab, becomes '?'.
 */
static void text_clean(unsigned char *s, size_t len)
{
    size_t i = 0, n, k;

    while (i < len) {
        unsigned char c = s[i];
        unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range */

        if (c < 0x80) {
            if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F)
                s[i] = '?';
            i++;
            continue;
        }
        n = c >= 0xC2 && c <= 0xDF   ? 1
            : c >= 0xE0 && c <= 0xEF ? 2
            : c >= 0xF0 && c <= 0xF4 ? 3
                                     : 0;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
        else if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
        for (k = 1; n && k <= n; k++)
            if (i + k >= len || s[i + k] < (k == 1 ? lo : 0x80) ||
                s[i + k] > (k == 1 ? hi : 0xBF))
                n = 0;
        if (n == 0) {
            s[i++] = '?';
            continue;
        }
        i += n + 1;
    }
}

/* The length of s[0..len) without a UTF-8 sequence its end cut short. */
static size_t utf8_cut(const unsigned char *s, size_t len)
{
    size_t i = len, back;

    /* Back over up to three continuation bytes to the sequence's lead. */
    while (i > 0 && len - i < 3 && (s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0 || s[i - 1] < 0xC0)
        return len;     /* ASCII last, or nothing to judge: left to clean */
    back = len - i + 1; /* the lead and the continuations after it */
    if ((s[i - 1] >= 0xF0 && back < 4) || (s[i - 1] >= 0xE0 && back < 3) ||
        back < 2)
        return i - 1;
    return len;
}

void health_result_set(struct agent_task *t, const char *text)
{
    char buf[AGORA_HEALTH_OUTPUT_MAX + 1];
    size_t len;

    snprintf(buf, sizeof(buf), "%s", text);
    len = strlen(buf);
    if (len == AGORA_HEALTH_OUTPUT_MAX) /* maybe cut inside a character */
        buf[len = utf8_cut((unsigned char *)buf, len)] = '\0';
    text_clean((unsigned char *)buf, len);
    if (t->health_output && strcmp(t->health_output, buf) == 0)
        return;
    free(t->health_output);
    t->health_output = strdup(buf);
    if (t->health_output == NULL)
        log_warn("health", "task %s: out of memory for its check's result",
                 t->id);
}
