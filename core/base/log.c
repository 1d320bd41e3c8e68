/*
 * log.c - formatted lines to stderr, one write(2) each.
 *
 * A message often holds what a client sent (a host name, a task id, a
 * path): its control characters are written escaped (\n, \r, \t, \xNN),
 * so that no client can end a line and forge the next one.
 */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum agora_log_level log_level = AGORA_LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

void log_set_level(enum agora_log_level level) { log_level = level; }

enum agora_log_level log_get_level(void) { return log_level; }

int log_level_parse(const char *name)
{
    if (strcasecmp(name, "debug") == 0)
        return AGORA_LOG_DEBUG;
    if (strcasecmp(name, "info") == 0)
        return AGORA_LOG_INFO;
    if (strcasecmp(name, "warn") == 0 || strcasecmp(name, "warning") == 0)
        return AGORA_LOG_WARN;
    if (strcasecmp(name, "error") == 0)
        return AGORA_LOG_ERROR;
    return -1;
}

/* Appends msg to line (of cap bytes, n used) with control characters
 * escaped; returns the new length, leaving room for the newline. */
static size_t log_escape(char *line, size_t n, size_t cap, const char *msg)
{
    static const char hex[] = "0123456789abcdef";

    for (; *msg && n + 5 < cap; msg++) {
        unsigned char c = (unsigned char)*msg;

        if (c >= 0x20 && c != 0x7f) {
            line[n++] = (char)c;
            continue;
        }
        line[n++] = '\\';
        if (c == '\n') {
            line[n++] = 'n';
        } else if (c == '\r') {
            line[n++] = 'r';
        } else if (c == '\t') {
            line[n++] = 't';
        } else {
            line[n++] = 'x';
            line[n++] = hex[c >> 4];
            line[n++] = hex[c & 15];
        }
    }
    return n;
}

void log_vmsg(enum agora_log_level level, const char *component,
              const char *fmt, va_list ap)
{
    char line[2048], msg[2048];
    struct timeval tv;
    struct tm tm;
    size_t n;
    int r;

    if (level < log_level || level > AGORA_LOG_ERROR)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(line + n, sizeof(line) - n, ".%03dZ %s [%s] ",
                 (int)(tv.tv_usec / 1000), level_names[level],
                 component ? component : "-");
    if (r > 0)
        n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        msg[0] = '\0';
    n = log_escape(line, n, sizeof(line), msg);
    /* A longer message is cut; the line always ends with a newline. */
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0) {
        /* Nowhere left to report it. */
    }
}

void log_msg(enum agora_log_level level, const char *component,
             const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, component, fmt, ap);
    va_end(ap);
}

void log_assert_failed(const char *cond, const char *file, int line)
{
    log_msg(AGORA_LOG_ERROR, "assert", "%s:%d: assertion failed: %s", file,
            line, cond);
    abort();
}
