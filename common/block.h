/* Records, values and blocks: the data plane's one encoding.
 *
 * A record is a key (bytes, may be empty) and a typed value: null, int64,
 * double, bytes, or a list/tuple of values (group_by_key gives lists, joins
 * give tuples). A block is a contiguous buffer of encoded records behind a
 * 24-byte header:
 *   "SLB1" | u32 record count | u64 body length | u64 XXH3-64 of the body
 * (little-endian). Record encoding: varint key length, key bytes, value.
 * Value encoding: u8 type, then int/double: 8 bytes LE; bytes: varint length
 * + bytes; list/tuple: varint element count, varint body length, elements.
 * Iterating a block allocates nothing: records point into the block. */
#ifndef SL_BLOCK_H
#define SL_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "status.h"

typedef enum {
    SL_VAL_NULL = 0,
    SL_VAL_INT = 1,
    SL_VAL_DOUBLE = 2,
    SL_VAL_BYTES = 3,
    SL_VAL_LIST = 4,     /* printed [a, b] */
    SL_VAL_TUPLE = 5,    /* printed (a, b) */
} sl_val_type_t;

typedef struct {
    sl_val_type_t type;
    union {
        int64_t i;
        double d;
        struct {
            const uint8_t *p;    /* borrowed */
            size_t len;
        } b;
        struct {
            const uint8_t *p;    /* encoded elements, borrowed */
            size_t len;          /* bytes */
            uint32_t n;          /* elements */
        } list;
    } u;
} sl_value_t;

typedef struct {
    const uint8_t *key;          /* borrowed; may be NULL when key_len is 0 */
    size_t key_len;
    sl_value_t val;
} sl_record_t;

#define SL_BLOCK_HEADER_LEN 24

/* A received block's id: the receiver epoch above, its sequence in the low
 * 40 bits (epochs fit in 24). */
#define SL_BLOCK_SEQ_BITS 40
static inline uint64_t sl_block_id(uint32_t epoch, uint64_t seq)
{
    return (uint64_t)epoch << SL_BLOCK_SEQ_BITS | seq;
}
static inline uint32_t sl_block_id_epoch(uint64_t id)
{
    return (uint32_t)(id >> SL_BLOCK_SEQ_BITS);
}
static inline uint64_t sl_block_id_seq(uint64_t id)
{
    return id & (((uint64_t)1 << SL_BLOCK_SEQ_BITS) - 1);
}

/* Lists and tuples nest at most this deep; deeper values do not decode. */
#define SL_VAL_MAX_DEPTH 32

/* Value constructors (no allocation; bytes are borrowed). */
/* Inline: they run once or more per record on the hot path. */
static inline sl_value_t sl_val_null(void)
{
    return (sl_value_t){ .type = SL_VAL_NULL };
}

static inline sl_value_t sl_val_int(int64_t i)
{
    return (sl_value_t){ .type = SL_VAL_INT, .u.i = i };
}

static inline sl_value_t sl_val_double(double d)
{
    return (sl_value_t){ .type = SL_VAL_DOUBLE, .u.d = d };
}

static inline sl_value_t sl_val_bytes(const void *p, size_t len)
{
    return (sl_value_t){ .type = SL_VAL_BYTES, .u.b = { .p = p, .len = len } };
}

/* Appends one encoded value / record to b (no block header). */
sl_status_t sl_value_encode(sl_buf_t *b, const sl_value_t *v);
sl_status_t sl_record_encode(sl_buf_t *b, const sl_record_t *r);

/* Decodes one value / record from [*p, end), advancing *p (only on success).
 * False when the bytes are truncated or malformed (unknown type, lengths past
 * the end, nesting deeper than SL_VAL_MAX_DEPTH). A decoded list or tuple has
 * been checked element by element, so walking it never gives -1. */
bool sl_value_decode(const uint8_t **p, const uint8_t *end, sl_value_t *out /* OUT */);
bool sl_record_decode(const uint8_t **p, const uint8_t *end, sl_record_t *out /* OUT */);

/* Builds a list or tuple value: encode the elements with sl_value_encode into
 * `elems` (n of them), then make the value pointing at elems' bytes (borrowed:
 * valid while elems is unchanged). */
sl_value_t sl_val_list(sl_val_type_t type, const sl_buf_t *elems, uint32_t n);

/* Walks the elements of a list or tuple. */
typedef struct {
    const uint8_t *p, *end;
    uint32_t left;
} sl_list_iter_t;
void sl_list_iter_init(sl_list_iter_t *it, const sl_value_t *list);
/* 1: *out is the next element; 0: done; -1: malformed. */
int sl_list_next(sl_list_iter_t *it, sl_value_t *out /* OUT */);

/* Block builder: records are appended to `buf` after room kept for the
 * header; finish writes the header there (the body is never copied). */
typedef struct {
    sl_buf_t buf;                /* header space + body */
    uint32_t count;
} sl_block_builder_t;

void sl_bb_init(sl_block_builder_t *bb);           /* ready to add */
sl_status_t sl_bb_add(sl_block_builder_t *bb, const sl_record_t *r);
size_t sl_bb_bytes(const sl_block_builder_t *bb);  /* body bytes so far */
/* Appends every record of a valid block (as sl_block_open accepted it) by
 * copying its body: no per-record work. */
sl_status_t sl_bb_append_block(sl_block_builder_t *bb, const uint8_t *block, size_t len);
/* Writes the header and hands the block to the caller (free() it); the
 * builder is left empty and ready for the next block. */
sl_status_t sl_bb_finish(sl_block_builder_t *bb, uint8_t **out /* OUT */, size_t *len /* OUT */);
void sl_bb_free(sl_block_builder_t *bb);

/* Block reader. sl_block_open checks the header (magic, lengths against
 * `len`, and the checksum when `verify` is set); a bad block gives
 * SL_ERR_INVALID and `err` (SL_ERRMSG_LEN bytes, may be NULL) names what is
 * wrong. Records borrow from the block. */
typedef struct {
    const uint8_t *p, *end;
    uint32_t left;
    uint32_t count;
} sl_block_iter_t;

sl_status_t sl_block_open(const uint8_t *block, size_t len, bool verify, sl_block_iter_t *it /* OUT */,
                          char *err);
/* 1: *out is the next record; 0: end; -1: corrupt (count and bytes disagree). */
int sl_block_next(sl_block_iter_t *it, sl_record_t *out /* OUT */);
uint32_t sl_block_count(const uint8_t *block);     /* from the header; block must be valid */

/* Text for people and files. Appends the rendering of v: null -> "null",
 * int -> decimal, double -> the fewest digits that read back to the same
 * double, positional for exponents -4..15 and exponential outside ("1.5",
 * "0.1", "100", "-0", "1e+300", "1e-05", "nan", "inf"), bytes -> as is,
 * list -> "[a, b]", tuple -> "(a, b)". On failure b is unchanged. */
sl_status_t sl_value_format(sl_buf_t *b, const sl_value_t *v);

/* Appends s escaped for a text file line: '\\' -> "\\\\", '\t' -> "\\t",
 * '\n' -> "\\n", '\r' -> "\\r". */
sl_status_t sl_text_escape(sl_buf_t *b, const uint8_t *s, size_t n);

/* A record as one text line without the newline: "key<TAB>value" when the key
 * is non-empty, else "value"; both escaped. */
sl_status_t sl_record_format_line(sl_buf_t *b, const sl_record_t *r);

/* Equality of values (same type and content; lists element-wise). Doubles
 * compare by value (0.0 equals -0.0), except that NaN equals NaN, as grouping
 * needs. */
bool sl_value_eq(const sl_value_t *a, const sl_value_t *b);

/* 64-bit hash of key bytes (XXH3), for partitioning and hash tables. */
uint64_t sl_key_hash(const uint8_t *key, size_t len);

#endif
