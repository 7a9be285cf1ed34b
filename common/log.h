/* The one logger: levels, timestamps, a component tag per line. Lines go to
 * stderr (daemons redirect it where they like). The level is checked before
 * any formatting. libevent's own log is routed in by sl_log_init(). */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdbool.h>
#include "status.h"

typedef enum { SL_LOG_DEBUG, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR, SL_LOG_OFF } sl_log_level_t;

/* Sets the process-wide level and the program name printed on each line
 * (borrowed: must outlive the process), and routes libevent's log here. */
void sl_log_init(const char *program, sl_log_level_t level);
void sl_log_set_level(sl_log_level_t level);
bool sl_log_enabled(sl_log_level_t level);

/* Parses "debug", "info", "warn", "error" or "off". */
sl_status_t sl_log_parse_level(const char *s, sl_log_level_t *out /* OUT */);

void sl_log_write(sl_log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define SL_LOG(level, comp, ...) \
    do { if (sl_log_enabled(level)) sl_log_write(level, comp, __VA_ARGS__); } while (0)
#define sl_debug(comp, ...) SL_LOG(SL_LOG_DEBUG, comp, __VA_ARGS__)
#define sl_info(comp, ...)  SL_LOG(SL_LOG_INFO, comp, __VA_ARGS__)
#define sl_warn(comp, ...)  SL_LOG(SL_LOG_WARN, comp, __VA_ARGS__)
#define sl_error(comp, ...) SL_LOG(SL_LOG_ERROR, comp, __VA_ARGS__)

/* Invariant checks: on in debug builds (the default build; NDEBUG turns them
 * off). SL_CHECK guards against corruption and stays on everywhere. */
void sl_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#ifdef NDEBUG
#define SL_ASSERT(e) ((void)0)
#else
#define SL_ASSERT(e) ((e) ? (void)0 : sl_assert_fail(#e, __FILE__, __LINE__))
#endif
#define SL_CHECK(e) ((e) ? (void)0 : sl_assert_fail(#e, __FILE__, __LINE__))

#endif
