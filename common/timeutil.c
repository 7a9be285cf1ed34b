/* Clock helpers. */
#include <time.h>
#include "timeutil.h"

static uint64_t sl_clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sl_time_mono_ms(void) { return sl_clock_ms(CLOCK_MONOTONIC); }
uint64_t sl_time_wall_ms(void) { return sl_clock_ms(CLOCK_REALTIME); }

struct timeval sl_time_tv(uint64_t ms)
{
    struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
    return tv;
}
