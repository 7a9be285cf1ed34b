/* The worker's in-memory data: received blocks (its own and replicas of
 * other workers'), and shuffle buckets written by map tasks. Shared between
 * the I/O thread and executor threads under one mutex; readers get a
 * reference-counted buffer, so a drop never frees data a task is reading. */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "msg.h"
#include "status.h"

typedef struct sl_store sl_store_t;

/* An immutable, shared byte buffer. */
typedef struct {
    const uint8_t *data;
    size_t len;
} sl_rbuf_t;

sl_store_t *sl_store_new(void);
void sl_store_free(sl_store_t *s);   /* accepts NULL */

/* Stores a block; takes ownership of `data` (malloc'ed) whatever the result.
 * `info` is copied (id, partition, records, bytes, producers). */
sl_status_t sl_store_put_block(sl_store_t *s, const char *job, const char *stream,
                               const Sluice__BlockInfo *info, uint8_t *data, size_t len);
/* A reference to a block, or NULL. Release with sl_store_release(). */
const sl_rbuf_t *sl_store_get_block(sl_store_t *s, const char *job, const char *stream,
                                    uint64_t id);
void sl_store_drop_blocks(sl_store_t *s, const char *job, const char *stream,
                          const uint64_t *ids, size_t n);

/* Infos of the blocks of (job, stream) from receiver `epoch` with a sequence
 * above after_seq, replicas and own alike. Caller frees the array and each
 * element with sl_store_infos_free(). */
size_t sl_store_list_epoch(sl_store_t *s, const char *job, const char *stream, uint32_t epoch,
                           uint64_t after_seq, Sluice__BlockInfo ***out /* OUT */);
void sl_store_infos_free(Sluice__BlockInfo **infos, size_t n);

typedef struct {
    int64_t batch;
    uint32_t attempt, node, slot, map_part, bucket;
} sl_shuffle_key_t;

/* Stores a shuffle bucket; takes ownership of `data`. */
sl_status_t sl_store_put_shuffle(sl_store_t *s, const char *job, const sl_shuffle_key_t *k,
                                 uint8_t *data, size_t len);
const sl_rbuf_t *sl_store_get_shuffle(sl_store_t *s, const char *job, const sl_shuffle_key_t *k);

/* Drops shuffle data of batches <= batch_time of a job. */
void sl_store_drop_batch(sl_store_t *s, const char *job, int64_t batch_time);
/* Drops everything of a job. */
void sl_store_drop_job(sl_store_t *s, const char *job);

void sl_store_release(const sl_rbuf_t *b);   /* accepts NULL */

/* Bytes held, for status and backpressure. */
size_t sl_store_bytes(sl_store_t *s);

#endif
