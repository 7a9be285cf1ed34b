/* Validation of a JobSpec, the same for both front doors (job file and C
 * builder): the master admits nothing that fails here. Errors point at the
 * node: "line 4, col 12: unknown function 'splitt'" when the node came from a
 * job file, "node 3 ('words'): ..." otherwise. */
#ifndef SL_JOBSPEC_H
#define SL_JOBSPEC_H

#include "funcs.h"
#include "msg.h"

/* Checks: name (1-64 of [A-Za-z0-9_.-]), batch interval (>= 10 ms) and
 * block interval (<= batch; 0 means the default), every node's op, arity of
 * inputs, inputs referring to earlier nodes only (so no cycles), partitions
 * (1..4096 for push and repartition; 0 = default or 1..4096 for the keyed
 * ops and joins; 0 for the rest), function name, kind and arguments
 * (compiled against the built-ins and `lib`), push source names unique and
 * non-empty, transform mode and path, every output's kind, input node and
 * arguments (print count 1..1000000, sqlite table a plain identifier), at
 * least one output. Fields an op or output does not use must be empty.
 * `lib` may be NULL: a function that is not built in is then accepted when
 * spec->library_name is set (to be checked once the library is loaded) and
 * refused when it is not. The spec is borrowed; err has SL_ERRMSG_LEN bytes
 * and may be NULL. */
sl_status_t sl_jobspec_validate(const Sluice__JobSpec *spec, const sl_udf_lib_t *lib, char *err);

/* Names of ops and outputs as the job file spells them ("reduce_by_key"). */
const char *sl_op_name(Sluice__OpKind op);
const char *sl_output_name(Sluice__OutputKind kind);

#endif
