/* The logger. One line per call, written with a single fprintf so lines from
 * several threads do not interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include "log.h"

/* The level is the one piece of process-wide state: it is set once at start
 * and read by every thread, hence atomic-free but written before threads. */
static volatile sl_log_level_t sl_log_level = SL_LOG_INFO;
static const char *sl_log_program = "sluice";

static const char *const sl_level_names[] = { "debug", "info", "warn", "error", "off" };

static void sl_log_libevent(int severity, const char *msg)
{
    sl_log_level_t lvl = severity == EVENT_LOG_DEBUG ? SL_LOG_DEBUG
                       : severity == EVENT_LOG_MSG   ? SL_LOG_INFO
                       : severity == EVENT_LOG_WARN  ? SL_LOG_WARN : SL_LOG_ERROR;
    SL_LOG(lvl, "libevent", "%s", msg);
}

void sl_log_init(const char *program, sl_log_level_t level)
{
    sl_log_program = program;
    sl_log_level = level;
    event_set_log_callback(sl_log_libevent);
}

void sl_log_set_level(sl_log_level_t level) { sl_log_level = level; }

bool sl_log_enabled(sl_log_level_t level) { return level >= sl_log_level && level < SL_LOG_OFF; }

sl_status_t sl_log_parse_level(const char *s, sl_log_level_t *out)
{
    for (size_t i = 0; i < sizeof sl_level_names / sizeof *sl_level_names; i++) {
        if (strcmp(s, sl_level_names[i]) == 0) {
            *out = (sl_log_level_t)i;
            return SL_OK;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = SL_LOG_WARN;
        return SL_OK;
    }
    return SL_ERR_INVALID;
}

void sl_log_write(sl_log_level_t level, const char *component, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s[%d] %-5s %s: %s\n", when, ts.tv_nsec / 1000000L,
            sl_log_program, (int)getpid(), sl_level_names[level], component, msg);
}

void sl_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "%s[%d]: assertion failed: %s (%s:%d)\n", sl_log_program, (int)getpid(),
            expr, file, line);
    abort();
}
