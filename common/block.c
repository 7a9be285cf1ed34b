/* The data plane's encoding: values, records and checksummed blocks, their
 * text rendering, equality and key hashing. Encoders reserve a bound once and
 * write in place; decoders borrow from the input, check every length against
 * its end and validate nested lists fully (to SL_VAL_MAX_DEPTH), so a decoded
 * value can be walked, formatted and compared without further checks. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "block.h"

static const uint8_t sl_block_magic[4] = {'S', 'L', 'B', '1'};

/* Largest encoding of a varint, and of a value's fixed part. */
#define SL_VARINT_MAX 10
#define SL_VALUE_HEAD_MAX (1 + 2 * SL_VARINT_MAX)

/* --- little-endian and varint primitives ----------------------------------- */

static inline uint32_t sl_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t sl_get_le64(const uint8_t *p)
{
    return (uint64_t)sl_get_le32(p) | (uint64_t)sl_get_le32(p + 4) << 32;
}

static inline uint8_t *sl_put_le32(uint8_t *q, uint32_t v)
{
    q[0] = (uint8_t)v;
    q[1] = (uint8_t)(v >> 8);
    q[2] = (uint8_t)(v >> 16);
    q[3] = (uint8_t)(v >> 24);
    return q + 4;
}

static inline uint8_t *sl_put_le64(uint8_t *q, uint64_t v)
{
    sl_put_le32(q, (uint32_t)v);
    return sl_put_le32(q + 4, (uint32_t)(v >> 32));
}

static inline uint8_t *sl_put_varint(uint8_t *q, uint64_t v)
{
    while (v >= 0x80) {
        *q++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *q++ = (uint8_t)v;
    return q;
}

/* Most lengths fit in one byte; only longer ones pay for the call. */
static inline bool sl_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    if (*p < end && **p < 0x80) {
        *out = *(*p)++;
        return true;
    }
    return sl_varint_read(p, end, out);
}

static inline uint8_t *sl_put_bytes(uint8_t *q, const void *p, size_t n)
{
    if (n)
        memcpy(q, p, n);
    return q + n;
}

/* --- values ----------------------------------------------------------------- */

sl_value_t sl_val_list(sl_val_type_t type, const sl_buf_t *elems, uint32_t n)
{
    sl_value_t v = {.type = type, .u.list = {.p = elems->p, .len = elems->len, .n = n}};
    return v;
}

/* Sets *max to an upper bound of v's encoded size; false for an unknown type
 * or a size that does not fit in size_t. */
static bool sl_value_max_len(const sl_value_t *v, size_t *max)
{
    switch (v->type) {
    case SL_VAL_NULL:
        *max = 1;
        return true;
    case SL_VAL_INT:
    case SL_VAL_DOUBLE:
        *max = 9;
        return true;
    case SL_VAL_BYTES:
        if (v->u.b.len > SIZE_MAX - SL_VALUE_HEAD_MAX)
            return false;
        *max = SL_VALUE_HEAD_MAX + v->u.b.len;
        return true;
    case SL_VAL_LIST:
    case SL_VAL_TUPLE:
        if (v->u.list.len > SIZE_MAX - SL_VALUE_HEAD_MAX)
            return false;
        *max = SL_VALUE_HEAD_MAX + v->u.list.len;
        return true;
    }
    return false;
}

/* Writes v at q, which has room for sl_value_max_len(v); returns the end. */
static uint8_t *sl_value_put(uint8_t *q, const sl_value_t *v)
{
    uint64_t bits;
    *q++ = (uint8_t)v->type;
    switch (v->type) {
    case SL_VAL_NULL:
        break;
    case SL_VAL_INT:
        q = sl_put_le64(q, (uint64_t)v->u.i);
        break;
    case SL_VAL_DOUBLE:
        memcpy(&bits, &v->u.d, sizeof bits);
        q = sl_put_le64(q, bits);
        break;
    case SL_VAL_BYTES:
        q = sl_put_varint(q, v->u.b.len);
        q = sl_put_bytes(q, v->u.b.p, v->u.b.len);
        break;
    case SL_VAL_LIST:
    case SL_VAL_TUPLE:
        q = sl_put_varint(q, v->u.list.n);
        q = sl_put_varint(q, v->u.list.len);
        q = sl_put_bytes(q, v->u.list.p, v->u.list.len);
        break;
    }
    return q;
}

/* One reserve for the whole value; on failure b is unchanged. */
sl_status_t sl_value_encode(sl_buf_t *b, const sl_value_t *v)
{
    size_t max;
    if (!sl_value_max_len(v, &max))
        return SL_ERR_INVALID;
    sl_status_t st = sl_buf_reserve(b, max);
    if (st != SL_OK)
        return st;
    b->len = (size_t)(sl_value_put(b->p + b->len, v) - b->p);
    return SL_OK;
}

sl_status_t sl_record_encode(sl_buf_t *b, const sl_record_t *r)
{
    size_t max;
    if (!sl_value_max_len(&r->val, &max) || r->key_len > SIZE_MAX - SL_VARINT_MAX - max)
        return SL_ERR_INVALID;
    sl_status_t st = sl_buf_reserve(b, SL_VARINT_MAX + r->key_len + max);
    if (st != SL_OK)
        return st;
    uint8_t *q = sl_put_varint(b->p + b->len, r->key_len);
    q = sl_put_bytes(q, r->key, r->key_len);
    b->len = (size_t)(sl_value_put(q, &r->val) - b->p);
    return SL_OK;
}

/* Decodes one value from [*p, end) with `depth` lists around it. A list or
 * tuple is checked element by element: its count, its body length and every
 * element (recursively) must agree exactly. *p moves only on success. */
static bool sl_value_parse(const uint8_t **pp, const uint8_t *end, sl_value_t *out, int depth)
{
    const uint8_t *p = *pp;
    uint64_t n, len, bits;
    if (p >= end)
        return false;
    uint8_t type = *p++;
    switch (type) {
    case SL_VAL_NULL:
        out->type = SL_VAL_NULL;
        break;
    case SL_VAL_INT:
    case SL_VAL_DOUBLE:
        if (end - p < 8)
            return false;
        bits = sl_get_le64(p);
        p += 8;
        out->type = (sl_val_type_t)type;
        if (type == SL_VAL_INT)
            memcpy(&out->u.i, &bits, sizeof bits);
        else
            memcpy(&out->u.d, &bits, sizeof bits);
        break;
    case SL_VAL_BYTES:
        if (!sl_get_varint(&p, end, &len) || len > (uint64_t)(end - p))
            return false;
        out->type = SL_VAL_BYTES;
        out->u.b.p = p;
        out->u.b.len = (size_t)len;
        p += len;
        break;
    case SL_VAL_LIST:
    case SL_VAL_TUPLE: {
        if (depth >= SL_VAL_MAX_DEPTH)
            return false;
        /* Every element takes at least one byte, so n <= len. */
        if (!sl_get_varint(&p, end, &n) || !sl_get_varint(&p, end, &len) ||
            len > (uint64_t)(end - p) || n > len || n > UINT32_MAX)
            return false;
        const uint8_t *q = p, *lend = p + len;
        sl_value_t elem;
        for (uint64_t i = 0; i < n; i++)
            if (!sl_value_parse(&q, lend, &elem, depth + 1))
                return false;
        if (q != lend)
            return false;
        out->type = (sl_val_type_t)type;
        out->u.list.p = p;
        out->u.list.len = (size_t)len;
        out->u.list.n = (uint32_t)n;
        p = lend;
        break;
    }
    default:
        return false;
    }
    *pp = p;
    return true;
}

bool sl_value_decode(const uint8_t **p, const uint8_t *end, sl_value_t *out)
{
    return sl_value_parse(p, end, out, 0);
}

bool sl_record_decode(const uint8_t **pp, const uint8_t *end, sl_record_t *out)
{
    const uint8_t *p = *pp;
    uint64_t klen;
    if (!sl_get_varint(&p, end, &klen) || klen > (uint64_t)(end - p))
        return false;
    const uint8_t *key = p;
    p += klen;
    if (!sl_value_parse(&p, end, &out->val, 0))
        return false;
    out->key = key;
    out->key_len = (size_t)klen;
    *pp = p;
    return true;
}

/* --- lists and tuples --------------------------------------------------------- */

/* A non-list value iterates as empty. */
void sl_list_iter_init(sl_list_iter_t *it, const sl_value_t *list)
{
    if (list->type != SL_VAL_LIST && list->type != SL_VAL_TUPLE) {
        it->p = it->end = NULL;
        it->left = 0;
        return;
    }
    it->p = list->u.list.p;
    it->end = list->u.list.len ? it->p + list->u.list.len : it->p;
    it->left = list->u.list.n;
}

/* Elements borrow from the list's bytes. Errors repeat: *it does not move. */
int sl_list_next(sl_list_iter_t *it, sl_value_t *out)
{
    if (it->left == 0)
        return it->p == it->end ? 0 : -1;
    if (!sl_value_parse(&it->p, it->end, out, 0))
        return -1;
    it->left--;
    return 1;
}

/* --- block builder ------------------------------------------------------------ */

void sl_bb_init(sl_block_builder_t *bb)
{
    bb->buf = (sl_buf_t){0};
    bb->count = 0;
}

/* Sets aside the header's place in front of the first record, so that finish
 * writes it in place and the body is never copied. */
static sl_status_t sl_bb_start(sl_block_builder_t *bb)
{
    if (bb->buf.len >= SL_BLOCK_HEADER_LEN)
        return SL_OK;
    sl_status_t st = sl_buf_reserve(&bb->buf, SL_BLOCK_HEADER_LEN);
    if (st != SL_OK)
        return st;
    memset(bb->buf.p, 0, SL_BLOCK_HEADER_LEN);
    bb->buf.len = SL_BLOCK_HEADER_LEN;
    return SL_OK;
}

sl_status_t sl_bb_add(sl_block_builder_t *bb, const sl_record_t *r)
{
    if (bb->count == UINT32_MAX)
        return SL_ERR_INVALID;
    sl_status_t st = sl_bb_start(bb);
    if (st != SL_OK)
        return st;
    st = sl_record_encode(&bb->buf, r);
    if (st != SL_OK)
        return st;
    bb->count++;
    return SL_OK;
}

sl_status_t sl_bb_append_block(sl_block_builder_t *bb, const uint8_t *block, size_t len)
{
    if (len < SL_BLOCK_HEADER_LEN)
        return SL_ERR_INVALID;
    uint32_t n = sl_block_count(block);
    if (n > UINT32_MAX - bb->count)
        return SL_ERR_INVALID;
    sl_status_t st = sl_bb_start(bb);
    if (st == SL_OK)
        st = sl_buf_append(&bb->buf, block + SL_BLOCK_HEADER_LEN, len - SL_BLOCK_HEADER_LEN);
    if (st == SL_OK)
        bb->count += n;
    return st;
}

size_t sl_bb_bytes(const sl_block_builder_t *bb)
{
    return bb->buf.len > SL_BLOCK_HEADER_LEN ? bb->buf.len - SL_BLOCK_HEADER_LEN : 0;
}

/* A builder with no records gives a valid empty block (header only). */
sl_status_t sl_bb_finish(sl_block_builder_t *bb, uint8_t **out, size_t *len)
{
    sl_status_t st = sl_bb_start(bb);
    if (st != SL_OK)
        return st;
    uint8_t *h = bb->buf.p;
    size_t body_len = bb->buf.len - SL_BLOCK_HEADER_LEN;
    memcpy(h, sl_block_magic, sizeof sl_block_magic);
    sl_put_le32(h + 4, bb->count);
    sl_put_le64(h + 8, body_len);
    sl_put_le64(h + 16, XXH3_64bits(h + SL_BLOCK_HEADER_LEN, body_len));
    *out = sl_buf_take(&bb->buf, len);
    bb->count = 0;
    return SL_OK;
}

void sl_bb_free(sl_block_builder_t *bb)
{
    if (!bb)
        return;
    sl_buf_free(&bb->buf);
    bb->count = 0;
}

/* --- block reader ----------------------------------------------------------- */

/* Writes the reason for refusing a block into err (may be NULL). */
static sl_status_t sl_block_fail(char *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static sl_status_t sl_block_fail(char *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, SL_ERRMSG_LEN, fmt, ap);
        va_end(ap);
    }
    return SL_ERR_INVALID;
}

/* Checks the header only; records are checked as they are read. A record is
 * at least 2 bytes (key length, type), which bounds the count cheaply. On
 * error *it iterates as empty. */
sl_status_t sl_block_open(const uint8_t *block, size_t len, bool verify, sl_block_iter_t *it,
                          char *err)
{
    *it = (sl_block_iter_t){0};
    if (!block || len < SL_BLOCK_HEADER_LEN)
        return sl_block_fail(err, "block of %zu bytes is shorter than its %d-byte header",
                             block ? len : 0, SL_BLOCK_HEADER_LEN);
    if (memcmp(block, sl_block_magic, sizeof sl_block_magic) != 0)
        return sl_block_fail(err, "bad block magic %02x%02x%02x%02x (want \"SLB1\")", block[0],
                             block[1], block[2], block[3]);
    uint32_t count = sl_get_le32(block + 4);
    uint64_t body_len = sl_get_le64(block + 8);
    if (body_len != len - SL_BLOCK_HEADER_LEN)
        return sl_block_fail(err,
                             "block body length %llu does not match the %zu bytes after the header",
                             (unsigned long long)body_len, len - SL_BLOCK_HEADER_LEN);
    if (count > body_len / 2)
        return sl_block_fail(err, "block record count %u is impossible in %llu body bytes", count,
                             (unsigned long long)body_len);
    if (verify) {
        uint64_t want = sl_get_le64(block + 16);
        uint64_t got = XXH3_64bits(block + SL_BLOCK_HEADER_LEN, (size_t)body_len);
        if (want != got)
            return sl_block_fail(err, "block checksum mismatch: header %016llx, body %016llx",
                                 (unsigned long long)want, (unsigned long long)got);
    }
    it->p = block + SL_BLOCK_HEADER_LEN;
    it->end = block + len;
    it->left = it->count = count;
    return SL_OK;
}

/* Records borrow from the block. Errors repeat: *it does not move. */
int sl_block_next(sl_block_iter_t *it, sl_record_t *out)
{
    if (it->left == 0)
        return it->p == it->end ? 0 : -1;
    if (!sl_record_decode(&it->p, it->end, out))
        return -1;
    it->left--;
    return 1;
}

uint32_t sl_block_count(const uint8_t *block)
{
    return sl_get_le32(block + 4);
}

/* --- text --------------------------------------------------------------------- */

static sl_status_t sl_fmt_int(sl_buf_t *b, int64_t i)
{
    char tmp[24], *q = tmp + sizeof tmp;
    uint64_t u = i < 0 ? (uint64_t)(-(i + 1)) + 1 : (uint64_t)i;    /* INT64_MIN too */
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (i < 0)
        *--q = '-';
    return sl_buf_append(b, q, (size_t)(tmp + sizeof tmp - q));
}

static bool sl_double_reads_back(const char *s, double d)
{
    double back = strtod(s, NULL);
    return memcmp(&back, &d, sizeof d) == 0;
}

/* The fewest significant digits that read back to exactly d, then laid out
 * like Python's repr: positional for exponents -4..15 ("100", "0.001"),
 * exponential outside ("1e+16", "1e-05"). %g alone would print 100 as
 * "1e+02", which is neither short nor readable. */
static sl_status_t sl_fmt_double(sl_buf_t *b, double d)
{
    char s[40];
    if (isnan(d))
        return sl_buf_append(b, "nan", 3);
    if (isinf(d))
        return d > 0 ? sl_buf_append(b, "inf", 3) : sl_buf_append(b, "-inf", 4);
    if (d == 0)
        return signbit(d) ? sl_buf_append(b, "-0", 2) : sl_buf_append(b, "0", 1);
    if (fabs(d) < 1e15 && d == trunc(d))
        return sl_fmt_int(b, (int64_t)d);
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, d);
        if (sl_double_reads_back(s, d))
            break;
    }
    if (prec == 17)
        snprintf(s, sizeof s, "%.17g", d);
    const char *e = strchr(s, 'e');
    if (e) {
        int exp = atoi(e + 1);
        if (exp >= 0 && exp < 16) {
            char t[40];
            snprintf(t, sizeof t, "%.*g", exp + 1, d);
            if (sl_double_reads_back(t, d))
                return sl_buf_append(b, t, strlen(t));
        }
    }
    return sl_buf_append(b, s, strlen(s));
}

/* Renders v; bytes (also inside lists) are escaped when `esc` is set. */
static sl_status_t sl_fmt(sl_buf_t *b, const sl_value_t *v, bool esc, int depth)
{
    sl_status_t st;
    switch (v->type) {
    case SL_VAL_NULL:
        return sl_buf_append(b, "null", 4);
    case SL_VAL_INT:
        return sl_fmt_int(b, v->u.i);
    case SL_VAL_DOUBLE:
        return sl_fmt_double(b, v->u.d);
    case SL_VAL_BYTES:
        return esc ? sl_text_escape(b, v->u.b.p, v->u.b.len)
                   : sl_buf_append(b, v->u.b.p, v->u.b.len);
    case SL_VAL_LIST:
    case SL_VAL_TUPLE: {
        if (depth >= SL_VAL_MAX_DEPTH)
            return SL_ERR_INVALID;
        bool tuple = v->type == SL_VAL_TUPLE;
        st = sl_buf_append_u8(b, tuple ? '(' : '[');
        if (st != SL_OK)
            return st;
        sl_list_iter_t it;
        sl_value_t elem;
        int r;
        sl_list_iter_init(&it, v);
        for (bool first = true; (r = sl_list_next(&it, &elem)) == 1; first = false) {
            if (!first && (st = sl_buf_append(b, ", ", 2)) != SL_OK)
                return st;
            if ((st = sl_fmt(b, &elem, esc, depth + 1)) != SL_OK)
                return st;
        }
        if (r < 0)
            return SL_ERR_INVALID;
        return sl_buf_append_u8(b, tuple ? ')' : ']');
    }
    }
    return SL_ERR_INVALID;
}

/* On failure b is back to its previous length. */
sl_status_t sl_value_format(sl_buf_t *b, const sl_value_t *v)
{
    size_t start = b->len;
    sl_status_t st = sl_fmt(b, v, false, 0);
    if (st != SL_OK)
        b->len = start;
    return st;
}

/* Copies runs of plain bytes in one go; on failure b may hold part of s. */
sl_status_t sl_text_escape(sl_buf_t *b, const uint8_t *s, size_t n)
{
    if (n == 0)
        return SL_OK;
    sl_status_t st = sl_buf_reserve(b, n);
    if (st != SL_OK)
        return st;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        char c;
        switch (s[i]) {
        case '\\': c = '\\'; break;
        case '\t': c = 't'; break;
        case '\n': c = 'n'; break;
        case '\r': c = 'r'; break;
        default: continue;
        }
        char esc[2] = {'\\', c};
        if ((st = sl_buf_append(b, s + run, i - run)) != SL_OK ||
            (st = sl_buf_append(b, esc, 2)) != SL_OK)
            return st;
        run = i + 1;
    }
    return sl_buf_append(b, s + run, n - run);
}

/* On failure b is back to its previous length. */
sl_status_t sl_record_format_line(sl_buf_t *b, const sl_record_t *r)
{
    size_t start = b->len;
    sl_status_t st = SL_OK;
    if (r->key_len > 0) {
        st = sl_text_escape(b, r->key, r->key_len);
        if (st == SL_OK)
            st = sl_buf_append_u8(b, '\t');
    }
    if (st == SL_OK)
        st = sl_fmt(b, &r->val, true, 0);
    if (st != SL_OK)
        b->len = start;
    return st;
}

/* --- equality and hashing ------------------------------------------------------ */

static bool sl_eq(const sl_value_t *a, const sl_value_t *b, int depth)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case SL_VAL_NULL:
        return true;
    case SL_VAL_INT:
        return a->u.i == b->u.i;
    case SL_VAL_DOUBLE:
        return a->u.d == b->u.d || (isnan(a->u.d) && isnan(b->u.d));
    case SL_VAL_BYTES:
        return a->u.b.len == b->u.b.len &&
               (a->u.b.len == 0 || memcmp(a->u.b.p, b->u.b.p, a->u.b.len) == 0);
    case SL_VAL_LIST:
    case SL_VAL_TUPLE: {
        if (a->u.list.n != b->u.list.n)
            return false;
        /* Identical encodings are equal; otherwise compare element-wise,
         * since 0.0 and -0.0 (or two NaNs) differ in bits but not in value. */
        if (a->u.list.len == b->u.list.len &&
            (a->u.list.len == 0 || memcmp(a->u.list.p, b->u.list.p, a->u.list.len) == 0))
            return true;
        if (depth >= SL_VAL_MAX_DEPTH)
            return false;
        sl_list_iter_t ia, ib;
        sl_value_t ea, eb;
        sl_list_iter_init(&ia, a);
        sl_list_iter_init(&ib, b);
        for (;;) {
            int ra = sl_list_next(&ia, &ea), rb = sl_list_next(&ib, &eb);
            if (ra != rb || ra < 0)
                return false;
            if (ra == 0)
                return true;
            if (!sl_eq(&ea, &eb, depth + 1))
                return false;
        }
    }
    }
    return false;
}

bool sl_value_eq(const sl_value_t *a, const sl_value_t *b)
{
    return sl_eq(a, b, 0);
}

uint64_t sl_key_hash(const uint8_t *key, size_t len)
{
    return XXH3_64bits(len ? (const void *)key : "", len);
}
