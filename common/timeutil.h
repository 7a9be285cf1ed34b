/* Clocks: monotonic milliseconds for deadlines and intervals, wall-clock
 * milliseconds for what is shown to people. */
#ifndef SL_TIMEUTIL_H
#define SL_TIMEUTIL_H

#include <stdint.h>
#include <sys/time.h>

uint64_t sl_time_mono_ms(void);
uint64_t sl_time_wall_ms(void);
/* Fills a struct timeval for libevent from milliseconds. */
struct timeval sl_time_tv(uint64_t ms);

#endif
