/* Receiver write-ahead log. One directory per receiver epoch,
 * ROOT/<job>/<stream>/<epoch>/, holding segment files "<first-seq>.log"
 * (16 hex digits). Each record is one received block: a header (magic,
 * lengths, block id, xxhash64 of what follows) then the packed block info
 * and the block bytes. An append is durable when sl_wal_append returns
 * (written and fsynced, the directory too when a segment is created).
 * Reading back stops at the first torn or corrupt record and cuts the file
 * there. A log handle is used by one thread at a time. */
#ifndef SL_WAL_H
#define SL_WAL_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

/* A segment is closed and a new one started past this size. */
#define SL_WAL_SEGMENT_BYTES ((uint64_t)64 << 20)

typedef struct sl_wal sl_wal_t;

/* Opens the log of receiver `epoch` of (job, stream) for appending,
 * creating its directories. job and stream must be plain names (no '/', not
 * "." or ".."). */
sl_status_t sl_wal_open(const char *root, const char *job, const char *stream, uint32_t epoch,
                        sl_wal_t **out /* OUT */, char *err);
void sl_wal_close(sl_wal_t *w);   /* accepts NULL */

/* Appends one block (its id's low 40 bits are its sequence, increasing) and
 * fsyncs. On failure (full disk, I/O error) nothing is acknowledged: err
 * names the file and the cause, and the segment is cut back to its last
 * good record. */
sl_status_t sl_wal_append(sl_wal_t *w, uint64_t id, const uint8_t *info, size_t info_len,
                          const uint8_t *data, size_t len, char *err);

/* Deletes the segments whose every block has a sequence <= upto (never the
 * one being appended to). */
sl_status_t sl_wal_trim(sl_wal_t *w, uint64_t upto, char *err);

/* Called for every intact record with sequence > after_seq, in order. The
 * pointers are valid during the call. A non-OK return stops the replay and
 * is returned. */
typedef sl_status_t (*sl_wal_fn)(void *arg, uint64_t id, const uint8_t *info, size_t info_len,
                                 const uint8_t *data, size_t len);

/* Reads back the log of an epoch. A torn or corrupt tail is cut (the file
 * truncated at the last intact record, later segments removed) and its size
 * reported in *cut_bytes. A missing log is empty, not an error. */
sl_status_t sl_wal_replay(const char *root, const char *job, const char *stream, uint32_t epoch,
                          uint64_t after_seq, sl_wal_fn fn, void *arg,
                          uint64_t *cut_bytes /* OUT, may be NULL */, char *err);

/* Removes an epoch's whole log directory (missing: OK). */
sl_status_t sl_wal_remove(const char *root, const char *job, const char *stream, uint32_t epoch,
                          char *err);

#endif
