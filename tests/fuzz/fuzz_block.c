/* libFuzzer target for common/block.c: any bytes opened as a block (checksum
 * not verified), every record read and formatted; and decoded as one value.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon tests/fuzz/fuzz_block.c \
 *     common/block.c common/buf.c common/status.c -lxxhash -lm -o fuzz_block
 *   ./fuzz_block -max_total_time=60 corpus/ */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "block.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Formats v, walks it if it is a list and compares it with itself. */
static void sl_fuzz_value(sl_buf_t *out, const sl_value_t *v)
{
    sl_buf_reset(out);
    if (sl_value_format(out, v) != SL_OK)
        abort();    /* a decoded value always formats */
    if (!sl_value_eq(v, v))
        abort();    /* equality is reflexive, NaN included */
    sl_list_iter_t it;
    sl_value_t elem;
    int rc;
    sl_list_iter_init(&it, v);
    while ((rc = sl_list_next(&it, &elem)) == 1)
        ;
    if (rc != 0)
        abort();    /* a decoded list never walks to -1 */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_buf_t out = {0};
    char err[SL_ERRMSG_LEN];
    sl_block_iter_t it;
    if (sl_block_open(data, size, false, &it, err) == SL_OK) {
        /* Whatever reads cleanly, rebuilt, is a block that verifies. */
        sl_block_builder_t bb;
        sl_bb_init(&bb);
        sl_record_t r;
        int rc;
        while ((rc = sl_block_next(&it, &r)) == 1) {
            sl_buf_reset(&out);
            if (sl_record_format_line(&out, &r) != SL_OK)
                abort();
            sl_fuzz_value(&out, &r.val);
            (void)sl_key_hash(r.key, r.key_len);
            if (sl_bb_add(&bb, &r) != SL_OK)
                abort();
        }
        if (rc == 0) {
            /* No longer than the input: only non-minimal varints shrink. */
            uint32_t count = bb.count;
            uint8_t *blk;
            size_t len;
            if (sl_bb_finish(&bb, &blk, &len) != SL_OK || len > size ||
                sl_block_open(blk, len, true, &it, err) != SL_OK || it.count != count)
                abort();
            free(blk);
        }
        sl_bb_free(&bb);
    }

    /* The same bytes as a bare value and as a run of records. */
    const uint8_t *p = data, *end = data + size;
    sl_value_t v;
    if (sl_value_decode(&p, end, &v)) {
        if (p < data || p > end)
            abort();
        sl_fuzz_value(&out, &v);
        /* Re-encoding gives bytes that decode to an equal value. */
        sl_buf_t enc = {0};
        if (sl_value_encode(&enc, &v) != SL_OK)
            abort();
        const uint8_t *q = enc.p;
        sl_value_t back;
        if (!sl_value_decode(&q, enc.p + enc.len, &back) || q != enc.p + enc.len ||
            !sl_value_eq(&v, &back))
            abort();
        sl_buf_free(&enc);
    }
    p = data;
    sl_record_t r;
    while (sl_record_decode(&p, end, &r))
        sl_fuzz_value(&out, &r.val);
    sl_buf_free(&out);
    return 0;
}
