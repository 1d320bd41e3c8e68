/*
 * log.h - the one logging entry point of the master and the agent.
 *
 * Lines go to stderr as
 *     2026-11-26T14:20:59.123Z INFO  [plugins] loaded hello 1.0 (abi 1.0)
 * with the level, the time in UTC and the component (or plugin) name.
 * Safe to call from any thread: each line is one write(2).
 */
#ifndef AGORA_LOG_H
#define AGORA_LOG_H

#include <stdarg.h>

#include <agora/plugin.h>

/* Lines below this level are dropped; AGORA_LOG_INFO by default. */
void log_set_level(enum agora_log_level level);
enum agora_log_level log_get_level(void);

/* "debug", "info", "warn"/"warning", "error" -> level; -1 if unknown. */
int log_level_parse(const char *name);

void log_msg(enum agora_log_level level, const char *component,
             const char *fmt, ...) AGORA_PRINTF(3, 4);
void log_vmsg(enum agora_log_level level, const char *component,
              const char *fmt, va_list ap);

#define log_debug(comp, ...) log_msg(AGORA_LOG_DEBUG, comp, __VA_ARGS__)
#define log_info(comp, ...) log_msg(AGORA_LOG_INFO, comp, __VA_ARGS__)
#define log_warn(comp, ...) log_msg(AGORA_LOG_WARN, comp, __VA_ARGS__)
#define log_error(comp, ...) log_msg(AGORA_LOG_ERROR, comp, __VA_ARGS__)

/* Broken invariant: log file and line, then abort. */
#define AGORA_ASSERT(cond)                                                   \
    do {                                                                     \
        if (!(cond))                                                         \
            log_assert_failed(#cond, __FILE__, __LINE__);                    \
    } while (0)

void log_assert_failed(const char *cond, const char *file, int line)
    __attribute__((noreturn));

#endif /* AGORA_LOG_H */
