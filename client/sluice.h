/* libsluice: the client library of Sluice. Connect to a cluster, read its
 * status, define and submit jobs (C builder or job file), control them, push
 * records to their streams and watch their outputs.
 *
 * Handles are opaque. Functions that can fail return an sl_status_t and write
 * a message for people into `err` (SL_ERRMSG_LEN bytes, may be NULL). The
 * library never prints. A client is used from one thread at a time; it runs
 * its own event loop only while one of its calls waits. Programs using it
 * must ignore SIGPIPE (sl_client_open does so). */
#ifndef SLUICE_H
#define SLUICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_client sl_client_t;
typedef struct sl_cluster_info sl_cluster_info_t;

/* Connects to the first reachable master of `masters` ("host:port[,...]"),
 * authenticating with the secret in `secret_file` (NULL: none). A standby
 * master refuses clients (SL_ERR_UNAVAILABLE, naming the active master) and
 * the next of the list is tried; when none accepts, err holds the last one's
 * answer. Every call is bounded by `timeout_ms` (0: 10 s). When the master
 * connection is lost, the next call connects again to the first master of
 * the list that answers (restart or failover). Caller frees with
 * sl_client_close(), which drops records pushed but not flushed. */
sl_status_t sl_client_open(const char *masters, const char *secret_file, uint64_t timeout_ms,
                           sl_client_t **out /* OUT */, char *err);
void sl_client_close(sl_client_t *c);   /* accepts NULL */

/* The address of the master this client talks to; valid until close. */
const char *sl_client_master(const sl_client_t *c);

/* Fetches the cluster status. Caller frees with sl_cluster_info_free(). */
sl_status_t sl_cluster_status(sl_client_t *c, sl_cluster_info_t **out /* OUT */, char *err);
void sl_cluster_info_free(sl_cluster_info_t *info);   /* accepts NULL */

/* Accessors; strings are valid until sl_cluster_info_free(). */
const char *sl_cluster_master_address(const sl_cluster_info_t *info);
uint64_t sl_cluster_uptime_ms(const sl_cluster_info_t *info);
uint64_t sl_cluster_worker_timeout_ms(const sl_cluster_info_t *info);
bool sl_cluster_authenticated(const sl_cluster_info_t *info);
size_t sl_cluster_worker_count(const sl_cluster_info_t *info);
const char *sl_cluster_worker_id(const sl_cluster_info_t *info, size_t i);
const char *sl_cluster_worker_address(const sl_cluster_info_t *info, size_t i);
uint32_t sl_cluster_worker_cores(const sl_cluster_info_t *info, size_t i);
uint64_t sl_cluster_worker_memory(const sl_cluster_info_t *info, size_t i);
bool sl_cluster_worker_alive(const sl_cluster_info_t *info, size_t i);
uint64_t sl_cluster_worker_heartbeat_ago_ms(const sl_cluster_info_t *info, size_t i);
const char *sl_cluster_worker_dead_reason(const sl_cluster_info_t *info, size_t i);

/* The master's place in cluster mode. Active: it holds the lease (always
 * true without a checkpoint); a standby refuses clients, so a status comes
 * from a standby only in a race. Checkpoint: its database file, "" when it
 * runs without one (jobs do not survive its restart). The lease: epoch,
 * holder id and address, expiry (unix ms). While recovering after a
 * takeover: how many workers the checkpoint knows, how many registered
 * again, how many batches run again, how many jobs were reloaded. Strings
 * are valid until sl_cluster_info_free(). */
bool sl_cluster_master_active(const sl_cluster_info_t *info);
const char *sl_cluster_checkpoint(const sl_cluster_info_t *info);
uint64_t sl_cluster_lease_epoch(const sl_cluster_info_t *info);
const char *sl_cluster_lease_holder(const sl_cluster_info_t *info);
const char *sl_cluster_lease_address(const sl_cluster_info_t *info);
int64_t sl_cluster_lease_expires_ms(const sl_cluster_info_t *info);
bool sl_cluster_recovering(const sl_cluster_info_t *info);
uint32_t sl_cluster_workers_expected(const sl_cluster_info_t *info);
uint32_t sl_cluster_workers_back(const sl_cluster_info_t *info);
uint32_t sl_cluster_batches_to_rerun(const sl_cluster_info_t *info);
uint32_t sl_cluster_jobs_recovered(const sl_cluster_info_t *info);

/* The status as pretty-printed JSON (the shape of the master's
 * /api/v1/cluster, common/view.h). Caller frees with free(). */
char *sl_cluster_info_json(const sl_cluster_info_t *info);

/* --- Jobs: submission and control ------------------------------------------ */

/* Size of a job id buffer, NUL included. */
#define SL_JOB_ID_LEN 128

/* Wait without a bound (sl_watch_next). */
#define SL_WAIT_FOREVER UINT64_MAX

/* Reads the job file at `path`, parses it (errors carry "file:line:col:"),
 * loads the library it names (`library "x.so"`: relative to the job file's
 * directory) into the job, and submits it. Relative paths of outputs
 * (save_as_text_files prefixes, sqlite databases) and of transform datasets
 * are made absolute against the caller's current directory, because the
 * daemons that use them run elsewhere. The master validates the job; its
 * errors come back as "file:line:col: message". On SL_OK the job's id is in
 * job_id_out (SL_JOB_ID_LEN bytes). */
sl_status_t sl_job_submit_file(sl_client_t *c, const char *path,
                               char *job_id_out /* OUT: SL_JOB_ID_LEN */, char *err);

/* Stops a job: no more batches; its receivers close. Records acknowledged
 * but not yet in a finished batch are not processed. */
sl_status_t sl_job_stop(sl_client_t *c, const char *job_id, char *err);

/* Stops a job gracefully: its receivers take no more pushes, the master runs
 * the batches that hold every record acknowledged so far, then stops the
 * job, and only then returns. `timeout_ms` (0: 60 s) bounds that wait on the
 * master; this call waits that long plus 10 s, not the client timeout. On
 * SL_ERR_TIMEOUT the job is stopped anyway and err says how many batches
 * were unfinished; SL_ERR_EXISTS when a graceful stop of it is already under
 * way. A job that is not running is simply reported stopped (SL_OK). */
sl_status_t sl_job_stop_graceful(sl_client_t *c, const char *job_id, uint64_t timeout_ms,
                                 char *err);

/* Manual clock (master flag): starts the next `count` batches (0 means 1) of
 * the job at once. With `wait`, returns only once they are done (each batch
 * is given the client timeout). The batch times (ms) go to *times_out, of
 * *n_out entries; caller frees *times_out with free(). Either may be NULL. */
sl_status_t sl_job_tick(sl_client_t *c, const char *job_id, uint32_t count, bool wait,
                        int64_t **times_out /* OUT */, size_t *n_out /* OUT */, char *err);

/* The jobs the master runs (or ran). Caller frees with sl_job_info_free(). */
typedef struct sl_job_info sl_job_info_t;
sl_status_t sl_job_list(sl_client_t *c, sl_job_info_t **out /* OUT */, char *err);
void sl_job_info_free(sl_job_info_t *info);   /* accepts NULL */

/* Accessors, for i < sl_job_info_count(); strings are valid until
 * sl_job_info_free(). State: "running", "stopped", "failed" or "unknown". */
size_t sl_job_info_count(const sl_job_info_t *info);
const char *sl_job_info_id(const sl_job_info_t *info, size_t i);
const char *sl_job_info_state(const sl_job_info_t *info, size_t i);
uint64_t sl_job_info_batch_ms(const sl_job_info_t *info, size_t i);
uint64_t sl_job_info_batches_done(const sl_job_info_t *info, size_t i);
uint64_t sl_job_info_batches_queued(const sl_job_info_t *info, size_t i);
int64_t sl_job_info_last_batch_ms(const sl_job_info_t *info, size_t i);   /* -1: none yet */
const char *sl_job_info_error(const sl_job_info_t *info, size_t i);       /* "" when none */
/* The job's receivers: stream name, hosting worker id and address, epoch. */
size_t sl_job_info_receiver_count(const sl_job_info_t *info, size_t i);
const char *sl_job_info_receiver_stream(const sl_job_info_t *info, size_t i, size_t r);
const char *sl_job_info_receiver_worker(const sl_job_info_t *info, size_t i, size_t r);
const char *sl_job_info_receiver_address(const sl_job_info_t *info, size_t i, size_t r);
uint32_t sl_job_info_receiver_epoch(const sl_job_info_t *info, size_t i, size_t r);

/* The list as pretty-printed JSON: {"jobs": [{"id", "state", "batch_ms",
 * "batches_done", "batches_queued", "last_batch_time_ms", "error",
 * "receivers": [{"stream", "worker_id", "address", "epoch"}]}]}.
 * Caller frees with free(); NULL when out of memory. */
char *sl_job_info_json(const sl_job_info_t *info);

/* The batches of a job the master remembers, oldest first. Caller frees with
 * sl_batch_info_free(). */
typedef struct sl_batch_info sl_batch_info_t;
sl_status_t sl_job_batches(sl_client_t *c, const char *job_id, sl_batch_info_t **out /* OUT */,
                           char *err);
void sl_batch_info_free(sl_batch_info_t *info);   /* accepts NULL */

/* Accessors, for i < sl_batch_info_count(); strings are valid until
 * sl_batch_info_free(). State: "queued", "running", "done", "failed" or
 * "unknown". Delays: scheduling = batch time to start, processing = start to
 * end, total = both. */
size_t sl_batch_info_count(const sl_batch_info_t *info);
int64_t sl_batch_info_time_ms(const sl_batch_info_t *info, size_t i);
const char *sl_batch_info_state(const sl_batch_info_t *info, size_t i);
uint64_t sl_batch_info_input_records(const sl_batch_info_t *info, size_t i);
uint64_t sl_batch_info_scheduling_delay_ms(const sl_batch_info_t *info, size_t i);
uint64_t sl_batch_info_processing_ms(const sl_batch_info_t *info, size_t i);
uint64_t sl_batch_info_total_delay_ms(const sl_batch_info_t *info, size_t i);
uint32_t sl_batch_info_tasks(const sl_batch_info_t *info, size_t i);
uint32_t sl_batch_info_failed_tasks(const sl_batch_info_t *info, size_t i);
uint32_t sl_batch_info_attempts(const sl_batch_info_t *info, size_t i);
const char *sl_batch_info_error(const sl_batch_info_t *info, size_t i);   /* "" when none */

/* The list as pretty-printed JSON: {"job", "batches": [{"time_ms", "state",
 * "input_records", "scheduling_delay_ms", "processing_ms", "total_delay_ms",
 * "tasks", "failed_tasks", "attempts", "error"}]}. Caller frees with free(). */
char *sl_batch_info_json(const sl_batch_info_t *info);

/* --- Watching outputs ------------------------------------------------------- */

typedef struct sl_batch_output sl_batch_output_t;

/* Value types of records (the same numbers as the wire encoding). */
typedef enum {
    SL_TYPE_NULL = 0,
    SL_TYPE_INT = 1,
    SL_TYPE_DOUBLE = 2,
    SL_TYPE_BYTES = 3,
    SL_TYPE_LIST = 4,      /* group_by_key, cogroup */
    SL_TYPE_TUPLE = 5,     /* joins */
} sl_value_type_t;

/* Subscribes this client to the print() and publish() outputs of the job's
 * node named `stream` (NULL or "": every such output of the job). From now on
 * the master sends each batch's output; sl_watch_next() hands them out in
 * arrival order. Subscriptions are renewed when the client reconnects to a
 * (restarted) master; outputs sent while disconnected are lost. At most 4096
 * outputs are queued; older ones are dropped beyond that (sl_watch_dropped). */
sl_status_t sl_job_watch(sl_client_t *c, const char *job_id, const char *stream, char *err);

/* Waits up to `timeout_ms` (0: do not wait; SL_WAIT_FOREVER) for the next
 * batch output. SL_ERR_TIMEOUT when none came; SL_ERR_CLOSED (or the
 * reconnect's error) when the master connection is lost for longer than the
 * client timeout. Caller frees *out with sl_batch_output_free(). */
sl_status_t sl_watch_next(sl_client_t *c, uint64_t timeout_ms, sl_batch_output_t **out /* OUT */,
                          char *err);
/* How many outputs were dropped because the queue was full. */
uint64_t sl_watch_dropped(const sl_client_t *c);

void sl_batch_output_free(sl_batch_output_t *o);   /* accepts NULL */

/* Strings are valid until sl_batch_output_free(). Kind: "print" or "publish". */
const char *sl_batch_output_job(const sl_batch_output_t *o);
const char *sl_batch_output_stream(const sl_batch_output_t *o);
const char *sl_batch_output_kind(const sl_batch_output_t *o);
int64_t sl_batch_output_time_ms(const sl_batch_output_t *o);
/* Records of the batch at that node; the payload may hold fewer (print(n)). */
uint64_t sl_batch_output_total_records(const sl_batch_output_t *o);
/* Records in the payload. */
size_t sl_batch_output_count(const sl_batch_output_t *o);

/* Iteration over the records of the payload; nothing is copied. Moves to the
 * next record: 1 there is one (read it with the accessors below), 0 the end,
 * -1 the payload is corrupt. sl_batch_output_rewind() starts over. */
int sl_batch_output_next(sl_batch_output_t *o);
void sl_batch_output_rewind(sl_batch_output_t *o);

/* The current record. Pointers are borrowed: valid until
 * sl_batch_output_free(). The key may be NULL when its length is 0. int and
 * double return 0 for other types; bytes returns NULL for other types. */
const uint8_t *sl_batch_output_key(const sl_batch_output_t *o, size_t *len /* OUT */);
sl_value_type_t sl_batch_output_type(const sl_batch_output_t *o);
int64_t sl_batch_output_int(const sl_batch_output_t *o);
double sl_batch_output_double(const sl_batch_output_t *o);
const uint8_t *sl_batch_output_bytes(const sl_batch_output_t *o, size_t *len /* OUT */);
/* The current record as one text line, the format of save_as_text_files:
 * "key<TAB>value" (or "value" for an empty key), tabs, newlines and
 * backslashes escaped. Caller frees with free(); NULL when out of memory. */
char *sl_batch_output_line(const sl_batch_output_t *o);

/* The whole output as one line of JSON: {"job", "stream", "kind",
 * "batch_time_ms", "total_records", "records": [{"key", "value"}]} where a
 * value is null, a number, a string, or an array (lists and tuples); bytes
 * that are not UTF-8 are written with \\xNN escapes. Caller frees with free(). */
char *sl_batch_output_json(const sl_batch_output_t *o);

/* --- Pushing records ------------------------------------------------------- */

/* Records go straight to the worker hosting the stream's receiver (the
 * master says which). They are buffered per (job, stream) and sent in blocks
 * of about 256 KiB, or at sl_flush(); at most 16 blocks per stream wait for
 * their acknowledgement at a time: past that, a push call blocks until the
 * receiver acknowledges one (backpressure). When the worker goes away or
 * fails a push in a way that can pass (closed, timeout, unavailable, out of
 * memory, no receiver there any more), the client asks the master (which it
 * reconnects to if needed) where the receiver is now and sends every block not
 * yet acknowledged again, in order and under the same sequence numbers, so
 * the receiver stores each block once. It gives up when no block is
 * acknowledged for the client timeout (SL_ERR_TIMEOUT; the records are kept
 * and a later call tries again). Other errors (no such job or stream, ...)
 * are returned by the call that meets them, and the records buffered for
 * that stream are dropped. Keys and values are copied; a record of key and
 * value together above 16 MiB is refused. Records not flushed when the client
 * closes are lost. */
sl_status_t sl_push_bytes(sl_client_t *c, const char *job_id, const char *stream, const void *key,
                          size_t key_len, const void *value, size_t value_len, char *err);
sl_status_t sl_push_int(sl_client_t *c, const char *job_id, const char *stream, const void *key,
                        size_t key_len, int64_t value, char *err);
sl_status_t sl_push_double(sl_client_t *c, const char *job_id, const char *stream,
                           const void *key, size_t key_len, double value, char *err);
sl_status_t sl_push_null(sl_client_t *c, const char *job_id, const char *stream, const void *key,
                         size_t key_len, char *err);

/* Sends everything buffered on every stream and waits until all of it is
 * acknowledged. SL_ERR_TIMEOUT when a stream sees no acknowledgement for the
 * client timeout. */
sl_status_t sl_flush(sl_client_t *c, char *err);

/* Counters of this client's pushes, each may be NULL: records acknowledged
 * by receivers, records pushed but not acknowledged yet (buffered or in
 * flight), and blocks sent again after a failure. */
void sl_push_stats(const sl_client_t *c, uint64_t *acked_records /* OUT */,
                   uint64_t *pending_records /* OUT */, uint64_t *resent_blocks /* OUT */);

/* --- Building jobs in C ------------------------------------------------------- */

/* A job under construction: the same JobSpec a job file produces. Node
 * constructors return the new node's index (>= 0), or -1 on error; the first
 * error is kept in the job (sl_job_error()) and returned by sl_job_submit(),
 * and every later call given a negative node also returns -1, so a chain of
 * calls can be checked once at the end:
 *
 *   sl_job_t *j = sl_job_new("wordcount", 1000);
 *   int lines = sl_push_stream(j, "lines", 2);
 *   int words = sl_flat_map(j, lines, "split", NULL, 0);
 *   int counts = sl_reduce_by_key(j, sl_map(j, words, "pair_one", NULL, 0), "sum", 0);
 *   sl_print(j, counts, 10);
 *   st = sl_job_submit(client, j, job_id, err);
 *   sl_job_free(j);
 *
 * Strings are copied. Functions are named as in job files: built-ins
 * ("split", "field" with args {"2", ","}) or symbols of the job's library;
 * arguments are literal texts. The master validates everything. */
typedef struct sl_job sl_job_t;

/* NULL only when out of memory. Caller frees with sl_job_free(). */
sl_job_t *sl_job_new(const char *name, uint64_t batch_ms);
void sl_job_free(sl_job_t *j);   /* accepts NULL */
/* The first construction error, or NULL. Valid until sl_job_free(). */
const char *sl_job_error(const sl_job_t *j);

/* 0 (the default) means 200 ms. */
void sl_job_set_block_interval(sl_job_t *j, uint64_t block_ms);
/* The job file's `wal on`: receivers acknowledge a push only once its block
 * is in a write-ahead log under the master's --checkpoint-dir, fsynced. The
 * master refuses the job when it has no checkpoint directory. Off by
 * default (the master's --wal turns it on for every job). */
void sl_job_set_wal(sl_job_t *j, bool on);
/* The shared object with the job's user functions; a relative path is read
 * from the caller's current directory when the job is submitted. */
sl_status_t sl_job_set_library(sl_job_t *j, const char *path, char *err);

/* Source: records pushed to stream `source`, received in `partitions`
 * partitions (0: 1). */
int sl_push_stream(sl_job_t *j, const char *source, uint32_t partitions);

/* Per-record operations with a function and its arguments (args may be NULL
 * when nargs is 0). */
int sl_map(sl_job_t *j, int in, const char *func, const char *const *args, size_t nargs);
int sl_flat_map(sl_job_t *j, int in, const char *func, const char *const *args, size_t nargs);
int sl_filter(sl_job_t *j, int in, const char *func, const char *const *args, size_t nargs);
int sl_map_values(sl_job_t *j, int in, const char *func, const char *const *args, size_t nargs);
int sl_flat_map_values(sl_job_t *j, int in, const char *func, const char *const *args,
                       size_t nargs);

/* `partitions` 0 means the default (the input's partition count). */
int sl_repartition(sl_job_t *j, int in, uint32_t partitions);
int sl_union(sl_job_t *j, int a, int b);
int sl_count(sl_job_t *j, int in);
int sl_count_by_value(sl_job_t *j, int in);
int sl_reduce(sl_job_t *j, int in, const char *func);
int sl_reduce_by_key(sl_job_t *j, int in, const char *func, uint32_t partitions);
int sl_group_by_key(sl_job_t *j, int in, uint32_t partitions);
int sl_join(sl_job_t *j, int left, int right, uint32_t partitions);
int sl_left_outer_join(sl_job_t *j, int left, int right, uint32_t partitions);
int sl_right_outer_join(sl_job_t *j, int left, int right, uint32_t partitions);
int sl_full_outer_join(sl_job_t *j, int left, int right, uint32_t partitions);
int sl_cogroup(sl_job_t *j, int left, int right, uint32_t partitions);
/* Against a static dataset file: mode "join", "left_outer_join", "filter" or
 * "subtract"; a relative path is made absolute against the caller's current
 * directory when the job is submitted. */
int sl_transform(sl_job_t *j, int in, const char *mode, const char *path);

/* Names node `node` (what Watch and the status pages show); returns node. */
int sl_name(sl_job_t *j, int node, const char *name);

/* Outputs: return the output's index (>= 0), or -1 on error as above.
 * print: the first n records of each batch (0: 10, as in job files) to
 * watching clients; save_as_text_files: each batch's
 * records as text files under `prefix`; sqlite: each batch's records into
 * `table` of database file `db`; publish: every record to watching clients.
 * Relative prefix and db paths are made absolute against the caller's
 * current directory at submission. */
int sl_print(sl_job_t *j, int node, uint32_t n);
int sl_save_as_text_files(sl_job_t *j, int node, const char *prefix);
int sl_sqlite(sl_job_t *j, int node, const char *db, const char *table);
int sl_publish(sl_job_t *j, int node);

/* Submits the job (borrowed: it may be submitted again or freed after). A
 * construction error is returned as SL_ERR_INVALID without contacting the
 * master. On SL_OK job_id_out (SL_JOB_ID_LEN bytes) holds the job's id. */
sl_status_t sl_job_submit(sl_client_t *c, const sl_job_t *j,
                          char *job_id_out /* OUT: SL_JOB_ID_LEN */, char *err);

#ifdef __cplusplus
}
#endif

#endif
