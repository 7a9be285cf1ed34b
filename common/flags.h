/* Command-line flags from a table, the same way in every binary:
 * `--name value` or `--name=value`, typed values parsed by parse.c, and one
 * error line naming the flag (and quoting the value) for anything wrong. */
#ifndef SL_FLAGS_H
#define SL_FLAGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "status.h"

typedef enum {
    SL_FLAG_STRING,     /* dest: const char ** (points into argv) */
    SL_FLAG_BOOL,       /* dest: bool *; takes no value */
    SL_FLAG_UINT,       /* dest: uint64_t *; min..max */
    SL_FLAG_DURATION,   /* dest: uint64_t * (ms); min..max */
    SL_FLAG_SIZE,       /* dest: uint64_t * (bytes); min..max */
    SL_FLAG_ADDR,       /* dest: const char **; validated host:port */
    SL_FLAG_ADDR_LIST,  /* dest: const char **; validated host:port[,host:port] */
    SL_FLAG_LOG_LEVEL,  /* dest: sl_log_level_t * */
} sl_flag_kind_t;

typedef struct {
    const char *name;       /* without the dashes */
    sl_flag_kind_t kind;
    void *dest;
    const char *metavar;    /* "DUR", "HOST:PORT"; NULL for bools */
    const char *help;
    uint64_t min, max;      /* for numeric kinds; max 0 means no limit */
} sl_flag_t;

/* Parses flags from argv[*next] on, up to the first argument that is not a
 * flag (or "--"), leaving *next there. --help / -h set *help and stop.
 * On error `err` (SL_ERRMSG_LEN) holds e.g. "unknown flag '--bogus'". */
sl_status_t sl_flags_parse(const sl_flag_t *flags, size_t nflags, int argc, char **argv,
                           int *next /* IN/OUT */, bool *help /* OUT */, char *err);

/* Prints "Usage: <usage>\n\n<summary>\n\nFlags:\n  --name META  help" lines. */
void sl_flags_usage(FILE *out, const char *usage, const char *summary, const sl_flag_t *flags,
                    size_t nflags);

#endif
