/* Parsing of the values users type: durations ("500ms", "10s", "2m", "1h"),
 * sizes ("512M", "2G", "4096", "64KiB"), host:port addresses and
 * comma-separated address lists, and bounded integers. One way everywhere:
 * flags, job files and config all come through here. On error `err` (of
 * SL_ERRMSG_LEN bytes, may be NULL) receives a message that quotes the input. */
#ifndef SL_PARSE_H
#define SL_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

/* Duration to milliseconds. Units: ms, s, m, h (required, except for "0").
 * Fractions are allowed ("1.5s"); the result must be a whole number of ms. */
sl_status_t sl_parse_duration_ms(const char *s, uint64_t *out /* OUT */, char *err);

/* Size to bytes. Units: none or B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB
 * (all binary, case-insensitive). Overflow is an error. */
sl_status_t sl_parse_size(const char *s, uint64_t *out /* OUT */, char *err);

/* Unsigned decimal in [min, max]. */
sl_status_t sl_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out /* OUT */,
                          char *err);

/* "host:port" or "[v6]:port". host is copied into host (hostlen bytes). */
sl_status_t sl_parse_hostport(const char *s, char *host /* OUT */, size_t hostlen,
                              uint16_t *port /* OUT */, char *err);

/* Splits "a:1,b:2" into a NULL-terminated array of validated host:port
 * strings. Caller frees with sl_addr_list_free(). */
sl_status_t sl_parse_addr_list(const char *s, char ***out /* OUT */, size_t *count /* OUT */,
                               char *err);
void sl_addr_list_free(char **list);

/* Formats a duration the way sl_parse_duration_ms() reads it ("1500ms", "2s"). */
void sl_format_duration_ms(uint64_t ms, char *buf, size_t len);

#endif
