/* The job-file language, parsed into a JobSpec (see README "Job files").
 *
 *   # comment
 *   job wordcount
 *   batch 1s
 *   block 200ms                      (optional)
 *   wal on                           (optional; ack pushes once logged)
 *   library "udf.so"                 (optional; relative to the job file)
 *   lines  = push("lines", partitions = 2)
 *   words  = lines.flat_map(split)
 *   counts = words.map(pair_one).reduce_by_key(sum)
 *   counts.print(10)
 *   counts.save_as_text_files("out/counts")
 *
 * Errors carry the position: "wc.job:4:17: unknown operation 'flatmap'". */
#ifndef SL_JOBFILE_H
#define SL_JOBFILE_H

#include <stddef.h>
#include "msg.h"

/* Parses `len` bytes of `text` (borrowed; need not be NUL-terminated);
 * `origin` names it in errors. On SL_OK the caller frees *out with
 * sluice__job_spec__free_unpacked(*out, NULL): the spec is one protobuf-c
 * unpacked message, already checked by sl_jobspec_validate(spec, NULL, ...).
 * The library is named (library_name) but not read: the caller loads the
 * file. On failure *out is NULL and err (SL_ERRMSG_LEN bytes, may be NULL)
 * holds "origin:line:col: message"; SL_ERR_INVALID for a bad job file,
 * SL_ERR_NOMEM when out of memory. */
sl_status_t sl_jobfile_parse(const char *text, size_t len, const char *origin,
                             Sluice__JobSpec **out /* OUT */, char *err);

#endif
