/*
 * gguf: the reader (see gguf.h for the layout; the writer is gguf_write.c).
 *
 * Contents:
 *   1. private state (arena, name hash tables)
 *   2. the cursor: bounds-checked little-endian reads, located errors
 *   3. values (scalars, strings, nested arrays)
 *   4. header, metadata, tensor infos, data section
 *   5. lookups (typed getters: gguf_get.c)
 *
 * Every read goes through rd_need(), which compares the bytes wanted with the
 * bytes left, so a count or length from the file is never trusted before it
 * is checked against the file's size. Counts are also capped (GGUF_MAX_*),
 * with the reason next to each cap in gguf.h.
 */
#include "gguf.h"
#include "gguf_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ==== 1. private state ===================================================== */

typedef struct arena_blk {
    struct arena_blk *next;
    gguf_value data[]; /* the items */
} arena_blk;

typedef struct gguf_priv {
    arena_blk *blocks;  /* nested value arrays */
    uint32_t *kv_hash;  /* open addressing: index + 1, 0 = empty */
    uint32_t *t_hash;
    size_t kv_cap, t_cap; /* powers of two */
} gguf_priv;

static gguf_value *arena_values(gguf_priv *pv, uint64_t n)
{
    if (n > (SIZE_MAX - sizeof(arena_blk)) / sizeof(gguf_value))
        return NULL;
    arena_blk *b = calloc(1, sizeof(arena_blk) + (size_t)n * sizeof(gguf_value));
    if (!b)
        return NULL;
    b->next = pv->blocks;
    pv->blocks = b;
    return b->data;
}

/* FNV-1a: short keys, no adversary who benefits from collisions beyond a
 * slower parse of their own file (probing is bounded by the table size). */
static uint64_t hash_bytes(const char *s, uint64_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int str_eq(gguf_str a, const char *s, uint64_t n)
{
    return a.len == n && (n == 0 || memcmp(a.s, s, (size_t)n) == 0);
}

/* ==== 2. the cursor ======================================================== */

#define TRY(expr)                                                             \
    do {                                                                      \
        kk_code c_ = (expr);                                                  \
        if (c_ != KK_OK)                                                      \
            return c_;                                                        \
    } while (0)

typedef struct rd {
    const uint8_t *buf;
    size_t size, pos;
    gguf_file *f;
    gguf_priv *pv;
    kk_err *err;
    char ctx[KK_ERR_WHERE_MAX]; /* the key or tensor being read ("" = header) */
    uint64_t idx[GGUF_MAX_ARRAY_DEPTH + 1]; /* array indexes under ctx */
    int depth;
} rd;

/* Fill err: code, message, file, offset, and `where` = ctx plus the array
 * indexes being read ("tokenizer.ggml.tokens[17]"). Always returns code. */
static kk_code rd_fail(rd *r, kk_code code, uint64_t off, const char *fmt, ...)
{
    if (!r->err)
        return code;
    char msg[KK_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kk_err_clear(r->err);
    kk_err_set(r->err, code, "%s", msg);
    kk_err_file(r->err, r->f->path);
    kk_err_offset(r->err, off > INT64_MAX ? -1 : (int64_t)off);
    char where[KK_ERR_WHERE_MAX];
    size_t n = (size_t)snprintf(where, sizeof where, "%s", r->ctx);
    for (int d = 0; d < r->depth && n < sizeof where; d++)
        n += (size_t)snprintf(where + n, sizeof where - n, "[%" PRIu64 "]", r->idx[d]);
    kk_err_where(r->err, where);
    return code;
}

static kk_code rd_need(rd *r, uint64_t n, const char *what)
{
    if (n > r->size - r->pos)
        return rd_fail(r, KK_E_FORMAT, r->pos,
                       "truncated: %s needs %" PRIu64 " bytes, only %zu left (file size %zu)",
                       what, n, r->size - r->pos, r->size);
    return KK_OK;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static kk_code rd_u32(rd *r, uint32_t *out, const char *what)
{
    TRY(rd_need(r, 4, what));
    *out = (uint32_t)le(r->buf + r->pos, 4);
    r->pos += 4;
    return KK_OK;
}

static kk_code rd_u64(rd *r, uint64_t *out, const char *what)
{
    TRY(rd_need(r, 8, what));
    *out = le(r->buf + r->pos, 8);
    r->pos += 8;
    return KK_OK;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF. */
uint64_t gguf_utf8_check(const char *str, uint64_t len)
{
    const uint8_t *s = (const uint8_t *)str;
    uint64_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) { n = 1; cp = c & 0x1f; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { n = 2; cp = c & 0x0f; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { n = 3; cp = c & 0x07; min = 0x10000; }
        else return i;
        if ((uint64_t)n > len - i - 1)
            return i;
        for (int k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += (uint64_t)n + 1;
    }
    return len;
}

/* A string: u64 len, then len bytes, which must be UTF-8. `text` (keys and
 * tensor names) additionally forbids NUL and emptiness and caps the length,
 * since these are looked up as C strings. */
static kk_code rd_str(rd *r, gguf_str *out, const char *what, int text, uint64_t max_len)
{
    uint64_t off = r->pos, len;
    TRY(rd_u64(r, &len, what));
    if (len > r->size - r->pos)
        return rd_fail(r, KK_E_FORMAT, off,
                       "truncated: %s of length %" PRIu64 " but only %zu bytes left (file size %zu)",
                       what, len, r->size - r->pos, r->size);
    const char *s = (const char *)r->buf + r->pos;
    if (text && len == 0)
        return rd_fail(r, KK_E_FORMAT, off, "%s is empty", what);
    if (text && len > max_len)
        return rd_fail(r, KK_E_LIMIT, off, "%s is %" PRIu64 " bytes long (at most %" PRIu64 ")",
                       what, len, max_len);
    uint64_t bad = gguf_utf8_check(s, len);
    if (bad != len)
        return rd_fail(r, KK_E_FORMAT, off,
                       "%s is not valid UTF-8 (byte 0x%02x at +%" PRIu64 " of %" PRIu64 ")",
                       what, (uint8_t)s[bad], bad, len);
    if (text && memchr(s, 0, (size_t)len))
        return rd_fail(r, KK_E_FORMAT, off, "%s contains a NUL byte", what);
    out->s = s;
    out->len = len;
    r->pos += (size_t)len;
    return KK_OK;
}

/* ==== 3. values ============================================================ */

static const char *const TYPE_NAMES[GGUF_TYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool", "string", "array", "uint64", "int64", "float64",
};

const char *gguf_type_name(gguf_type t)
{
    return (unsigned)t < GGUF_TYPE_COUNT ? TYPE_NAMES[t] : "?";
}

size_t gguf_type_size_(uint32_t t)
{
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

static int64_t sext(uint64_t v, int bytes)
{
    if (bytes == 8)
        return (int64_t)v;
    uint64_t sign = 1ull << (bytes * 8 - 1);
    return (int64_t)((v ^ sign) - sign); /* two's complement, no UB */
}

void gguf_decode_fixed_(uint32_t t, const uint8_t *p, gguf_value *v)
{
    v->type = (gguf_type)t;
    size_t n = gguf_type_size_(t);
    uint64_t raw = le(p, (int)n);
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_UINT16: case GGUF_TYPE_UINT32: case GGUF_TYPE_UINT64:
        v->v.u = raw;
        break;
    case GGUF_TYPE_INT8: case GGUF_TYPE_INT16: case GGUF_TYPE_INT32: case GGUF_TYPE_INT64:
        v->v.i = sext(raw, (int)n);
        break;
    case GGUF_TYPE_FLOAT32: {
        uint32_t b = (uint32_t)raw;
        float f;
        memcpy(&f, &b, 4);
        v->v.f = f;
        break;
    }
    case GGUF_TYPE_FLOAT64:
        memcpy(&v->v.f, &raw, 8);
        break;
    case GGUF_TYPE_BOOL:
        v->v.b = raw != 0;
        break;
    default:
        break;
    }
}

static kk_code parse_value(rd *r, uint32_t type, uint64_t type_off, gguf_value *v);

static kk_code parse_array(rd *r, gguf_value *v)
{
    uint64_t off = r->pos;
    uint32_t et;
    uint64_t n;
    TRY(rd_u32(r, &et, "array element type"));
    TRY(rd_u64(r, &n, "array length"));
    if (et >= GGUF_TYPE_COUNT)
        return rd_fail(r, KK_E_FORMAT, off,
                       "unknown array element type %" PRIu32 " (0..%d allowed)", et,
                       GGUF_TYPE_COUNT - 1);
    v->type = GGUF_TYPE_ARRAY;
    v->v.arr.elem_type = (gguf_type)et;
    v->v.arr.n = n;
    v->v.arr.raw = NULL;
    v->v.arr.items = NULL;
    size_t left = r->size - r->pos;
    size_t es = gguf_type_size_(et);
    if (es) {
        if (n > left / es)
            return rd_fail(r, KK_E_FORMAT, off + 4,
                           "truncated: array of %" PRIu64 " %s needs more than the %zu bytes left",
                           n, TYPE_NAMES[et], left);
        v->v.arr.raw = r->buf + r->pos;
        if (et == GGUF_TYPE_BOOL) {
            for (uint64_t i = 0; i < n; i++)
                if (r->buf[r->pos + i] > 1)
                    return rd_fail(r, KK_E_FORMAT, r->pos + i,
                                   "bool array element %" PRIu64 " is %u (0 or 1 allowed)",
                                   i, r->buf[r->pos + i]);
        }
        r->pos += (size_t)(n * es);
        return KK_OK;
    }
    /* STRING (>= 8 bytes each) or ARRAY (>= 12 bytes each): the count is
     * checked against the bytes left before anything is allocated, so the
     * items (40 bytes each) never exceed 5x the file's size. */
    size_t min = et == GGUF_TYPE_STRING ? 8 : 12;
    if (n > left / min)
        return rd_fail(r, KK_E_FORMAT, off + 4,
                       "truncated: array of %" PRIu64 " %s needs at least %" PRIu64
                       " bytes, only %zu left", n, TYPE_NAMES[et],
                       n > UINT64_MAX / min ? UINT64_MAX : n * min, left);
    if (et == GGUF_TYPE_ARRAY && r->depth >= GGUF_MAX_ARRAY_DEPTH)
        return rd_fail(r, KK_E_LIMIT, off, "arrays nested deeper than %d", GGUF_MAX_ARRAY_DEPTH);
    if (n == 0)
        return KK_OK;
    gguf_value *items = arena_values(r->pv, n);
    if (!items)
        return rd_fail(r, KK_E_NOMEM, off, "cannot allocate %" PRIu64 " array items", n);
    v->v.arr.items = items;
    r->depth++;
    for (uint64_t i = 0; i < n; i++) {
        r->idx[r->depth - 1] = i;
        kk_code c = parse_value(r, et, off, &items[i]);
        if (c) {
            r->depth--;
            return c;
        }
    }
    r->depth--;
    return KK_OK;
}

static kk_code parse_value(rd *r, uint32_t type, uint64_t type_off, gguf_value *v)
{
    memset(v, 0, sizeof *v);
    if (type >= GGUF_TYPE_COUNT)
        return rd_fail(r, KK_E_FORMAT, type_off, "unknown value type %" PRIu32 " (0..%d allowed)",
                       type, GGUF_TYPE_COUNT - 1);
    if (type == GGUF_TYPE_STRING) {
        v->type = GGUF_TYPE_STRING;
        return rd_str(r, &v->v.str, "string value", 0, 0);
    }
    if (type == GGUF_TYPE_ARRAY)
        return parse_array(r, v);
    size_t n = gguf_type_size_(type);
    TRY(rd_need(r, n, TYPE_NAMES[type]));
    if (type == GGUF_TYPE_BOOL && r->buf[r->pos] > 1)
        return rd_fail(r, KK_E_FORMAT, r->pos, "bool value is %u (0 or 1 allowed)", r->buf[r->pos]);
    gguf_decode_fixed_(type, r->buf + r->pos, v);
    r->pos += n;
    return KK_OK;
}

/* ==== 4. header, metadata, tensor infos, data section ======================= */

/* ggml's type names, for "unsupported tensor type q4_K (12)" messages
 * (ggml/include/ggml.h enum ggml_type; gaps are removed types). */
static const char *ggml_type_name(uint32_t t)
{
    static const char *const names[] = {
        "f32", "f16", "q4_0", "q4_1", NULL, NULL, "q5_0", "q5_1", "q8_0", "q8_1",
        "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "q8_K", "iq2_xxs", "iq2_xs",
        "iq3_xxs", "iq1_s", "iq4_nl", "iq3_s", "iq2_s", "iq4_xs", "i8", "i16",
        "i32", "i64", "f64", "iq1_m", "bf16", NULL, NULL, NULL, "tq1_0", "tq2_0",
        NULL, NULL, NULL, "mxfp4",
    };
    if (t < sizeof names / sizeof names[0] && names[t])
        return names[t];
    return "unknown";
}

/* Insert name i into a hash table; returns the index of an equal name
 * already present, or -1 after inserting. */
static int64_t hash_insert(uint32_t *tab, size_t cap, gguf_str s, uint32_t i,
                           gguf_str (*name_of)(const gguf_file *, uint32_t), const gguf_file *f)
{
    size_t m = cap - 1, h = (size_t)hash_bytes(s.s, s.len) & m;
    while (tab[h]) {
        uint32_t j = tab[h] - 1;
        gguf_str o = name_of(f, j);
        if (str_eq(o, s.s, s.len))
            return j;
        h = (h + 1) & m;
    }
    tab[h] = i + 1;
    return -1;
}

static gguf_str kv_name(const gguf_file *f, uint32_t i) { return f->kv[i].key; }
static gguf_str t_name(const gguf_file *f, uint32_t i) { return f->tensors[i].name; }

static size_t table_cap(uint64_t n)
{
    size_t c = 16;
    while (c < 2 * n)
        c *= 2;
    return c;
}

static kk_code parse_header(rd *r)
{
    gguf_file *f = r->f;
    if (r->size < 4)
        return rd_fail(r, KK_E_FORMAT, 0, "truncated: %zu bytes, a GGUF file starts with the 4-byte magic \"GGUF\"",
                       r->size);
    if (memcmp(r->buf, GGUF_MAGIC, 4) != 0)
        return rd_fail(r, KK_E_FORMAT, 0,
                       "bad magic %02x %02x %02x %02x (expected \"GGUF\" = 47 47 55 46)",
                       r->buf[0], r->buf[1], r->buf[2], r->buf[3]);
    r->pos = 4;
    TRY(rd_u32(r, &f->version, "version"));
    if (f->version == 1)
        return rd_fail(r, KK_E_UNSUPPORTED, 4, "GGUF version 1 (32-bit counts) is not supported (2 and 3 are)");
    if (f->version == 0x02000000u || f->version == 0x03000000u)
        return rd_fail(r, KK_E_UNSUPPORTED, 4, "big-endian GGUF is not supported");
    if (f->version != 2 && f->version != 3)
        return rd_fail(r, KK_E_FORMAT, 4, "bad version %" PRIu32 " (2 or 3 expected)", f->version);
    uint64_t n_off = r->pos;
    TRY(rd_u64(r, &f->n_tensors, "tensor count"));
    TRY(rd_u64(r, &f->n_kv, "metadata count"));
    /* Each kv takes >= 14 bytes (8 key length, 1 key byte, 4 type, 1 value)
     * and each tensor info >= 33 (8 + 1 name, 4 n_dims, 8 ne, 4 type, 8
     * offset): counts that cannot fit in the rest of the file are malformed
     * before they are absurd. */
    size_t left = r->size - r->pos;
    if (f->n_kv > left / 14)
        return rd_fail(r, KK_E_FORMAT, n_off + 8,
                       "truncated or corrupt: metadata count %" PRIu64
                       " needs at least 14 bytes each, only %zu bytes left", f->n_kv, left);
    if (f->n_tensors > left / 33)
        return rd_fail(r, KK_E_FORMAT, n_off,
                       "truncated or corrupt: tensor count %" PRIu64
                       " needs at least 33 bytes each, only %zu bytes left", f->n_tensors, left);
    if (f->n_kv > GGUF_MAX_KV)
        return rd_fail(r, KK_E_LIMIT, n_off + 8, "metadata count %" PRIu64 " exceeds the cap %d",
                       f->n_kv, GGUF_MAX_KV);
    if (f->n_tensors > GGUF_MAX_TENSORS)
        return rd_fail(r, KK_E_LIMIT, n_off, "tensor count %" PRIu64 " exceeds the cap %d",
                       f->n_tensors, GGUF_MAX_TENSORS);
    return KK_OK;
}

static kk_code parse_kvs(rd *r)
{
    gguf_file *f = r->f;
    gguf_priv *pv = r->pv;
    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    pv->kv_cap = table_cap(f->n_kv);
    pv->kv_hash = calloc(pv->kv_cap, sizeof *pv->kv_hash);
    if (!f->kv || !pv->kv_hash)
        return rd_fail(r, KK_E_NOMEM, r->pos, "cannot allocate %" PRIu64 " metadata entries", f->n_kv);
    for (uint64_t i = 0; i < f->n_kv; i++) {
        gguf_kv *kv = &f->kv[i];
        kv->file_offset = r->pos;
        snprintf(r->ctx, sizeof r->ctx, "metadata #%" PRIu64, i);
        TRY(rd_str(r, &kv->key, "key", 1, GGUF_MAX_KEY_LEN));
        gguf_str_copy(kv->key, r->ctx, sizeof r->ctx);
        int64_t dup = hash_insert(pv->kv_hash, pv->kv_cap, kv->key, (uint32_t)i, kv_name, f);
        if (dup >= 0)
            return rd_fail(r, KK_E_DUPLICATE, kv->file_offset,
                           "duplicate key (first at offset %" PRIu64 ")", f->kv[dup].file_offset);
        uint64_t type_off = r->pos;
        uint32_t type;
        TRY(rd_u32(r, &type, "value type"));
        kk_code c = parse_value(r, type, type_off, &kv->value);
        if (c)
            return c;
    }
    r->ctx[0] = '\0';
    return KK_OK;
}

static kk_code check_alignment(rd *r)
{
    gguf_file *f = r->f;
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t i = gguf_find_key(f, "general.alignment");
    if (i < 0)
        return KK_OK;
    const gguf_kv *kv = &f->kv[i];
    gguf_str_copy(kv->key, r->ctx, sizeof r->ctx);
    uint64_t val_off = kv->file_offset + 8 + kv->key.len; /* the type field */
    if (kv->value.type != GGUF_TYPE_UINT32)
        return rd_fail(r, KK_E_FORMAT, val_off, "general.alignment is %s (uint32 expected)",
                       gguf_type_name(kv->value.type));
    uint64_t a = kv->value.v.u;
    if (a == 0 || (a & (a - 1)) != 0)
        return rd_fail(r, KK_E_FORMAT, val_off + 4,
                       "general.alignment %" PRIu64 " is not a power of two", a);
    if (a > GGUF_MAX_ALIGNMENT)
        return rd_fail(r, KK_E_LIMIT, val_off + 4,
                       "general.alignment %" PRIu64 " exceeds the cap %d", a, GGUF_MAX_ALIGNMENT);
    f->alignment = a;
    r->ctx[0] = '\0';
    return KK_OK;
}

static kk_code parse_tensor_info(rd *r, uint64_t i, uint64_t *offset_field)
{
    gguf_file *f = r->f;
    gguf_priv *pv = r->pv;
    gguf_tensor *t = &f->tensors[i];
    uint64_t start = r->pos;
    snprintf(r->ctx, sizeof r->ctx, "tensor #%" PRIu64, i);
    TRY(rd_str(r, &t->name, "tensor name", 1, GGUF_MAX_NAME_LEN));
    gguf_str_copy(t->name, r->ctx, sizeof r->ctx);
    int64_t dup = hash_insert(pv->t_hash, pv->t_cap, t->name, (uint32_t)i, t_name, f);
    if (dup >= 0)
        return rd_fail(r, KK_E_DUPLICATE, start, "duplicate tensor name (first is tensor #%" PRId64 ")",
                       dup);
    uint64_t off = r->pos;
    TRY(rd_u32(r, &t->n_dims, "n_dims"));
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return rd_fail(r, KK_E_FORMAT, off, "n_dims %" PRIu32 " (1..%d allowed)", t->n_dims,
                       GGUF_MAX_DIMS);
    /* ggml keeps ne as int64 and the element count must fit it too. */
    uint64_t n_el = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= t->n_dims)
            continue;
        off = r->pos;
        TRY(rd_u64(r, &t->ne[d], "dimension"));
        if (t->ne[d] == 0 || t->ne[d] > INT64_MAX)
            return rd_fail(r, KK_E_FORMAT, off, "ne[%" PRIu32 "] = %" PRIu64 " (1..2^63-1 allowed)",
                           d, t->ne[d]);
        if (n_el > (uint64_t)INT64_MAX / t->ne[d])
            return rd_fail(r, KK_E_FORMAT, off,
                           "element count overflows: ne[%" PRIu32 "] = %" PRIu64 " times %" PRIu64,
                           d, t->ne[d], n_el);
        n_el *= t->ne[d];
    }
    t->n_elements = n_el;
    off = r->pos;
    uint32_t type;
    TRY(rd_u32(r, &type, "tensor type"));
    if (!dtype_is_known(type))
        return rd_fail(r, KK_E_UNSUPPORTED, off,
                       "tensor type %s (%" PRIu32 ") is not supported (f32, f16, bf16, q8_0, q4_0 are)",
                       ggml_type_name(type), type);
    t->type = (dtype_t)type;
    size_t bs = dtype_block_size(t->type);
    if (t->ne[0] % bs != 0)
        return rd_fail(r, KK_E_FORMAT, off,
                       "row length ne[0] = %" PRIu64 " is not a multiple of the %s block size %zu",
                       t->ne[0], dtype_name(t->type), bs);
    /* n_el < 2^63 and bytes per element <= 4 (f32), so n_bytes < 2^65 could
     * in principle exceed u64: checked. */
    uint64_t blocks = n_el / bs, ts = dtype_type_size(t->type);
    if (blocks > UINT64_MAX / ts)
        return rd_fail(r, KK_E_FORMAT, off, "tensor byte size overflows");
    t->n_bytes = blocks * ts;
    *offset_field = r->pos;
    TRY(rd_u64(r, &t->offset, "tensor data offset"));
    return KK_OK;
}

typedef struct span { uint64_t lo, hi; uint64_t i; } span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

/* Offsets, bounds and overlap. Overlapping tensors are rejected: no writer
 * produces them, and a model that aliases two weights would change one when
 * the other is edited in place. Gaps and any order are accepted (llama.cpp
 * demands the exact packed order; we only demand well-formedness). */
static kk_code check_data(rd *r, const uint64_t *offset_field)
{
    gguf_file *f = r->f;
    uint64_t a = f->alignment;
    uint64_t pos = r->pos;
    if (pos > UINT64_MAX - (a - 1))
        return rd_fail(r, KK_E_FORMAT, pos, "data section offset overflows");
    f->data_offset = (pos + a - 1) / a * a;
    uint64_t data_size = f->data_offset < r->size ? r->size - f->data_offset : 0;
    span *sp = NULL;
    if (f->n_tensors) {
        sp = malloc((size_t)f->n_tensors * sizeof *sp);
        if (!sp)
            return rd_fail(r, KK_E_NOMEM, pos, "cannot allocate %" PRIu64 " spans", f->n_tensors);
    }
    kk_code c = KK_OK;
    for (uint64_t i = 0; i < f->n_tensors && !c; i++) {
        gguf_tensor *t = &f->tensors[i];
        gguf_str_copy(t->name, r->ctx, sizeof r->ctx);
        if (t->offset % a != 0)
            c = rd_fail(r, KK_E_FORMAT, offset_field[i],
                        "tensor data offset %" PRIu64 " is not a multiple of the alignment %" PRIu64,
                        t->offset, a);
        else if (t->offset > data_size || t->n_bytes > data_size - t->offset)
            c = rd_fail(r, KK_E_FORMAT, offset_field[i],
                        "tensor data at file offset %" PRIu64 " + %" PRIu64
                        " bytes extends past end of file (size %zu)",
                        f->data_offset + (t->offset < UINT64_MAX - f->data_offset ? t->offset : 0),
                        t->n_bytes, r->size);
        else {
            t->data = r->buf + f->data_offset + t->offset;
            sp[i] = (span){t->offset, t->offset + t->n_bytes, i};
        }
    }
    if (!c && f->n_tensors > 1) {
        qsort(sp, (size_t)f->n_tensors, sizeof *sp, span_cmp);
        for (uint64_t k = 1; k < f->n_tensors && !c; k++) {
            if (sp[k].lo < sp[k - 1].hi) {
                gguf_str_copy(f->tensors[sp[k].i].name, r->ctx, sizeof r->ctx);
                char other[KK_ERR_WHERE_MAX];
                gguf_str_copy(f->tensors[sp[k - 1].i].name, other, sizeof other);
                c = rd_fail(r, KK_E_FORMAT, offset_field[sp[k].i],
                            "tensor data [%" PRIu64 ", %" PRIu64 ") overlaps tensor '%s' [%" PRIu64
                            ", %" PRIu64 ")", sp[k].lo, sp[k].hi, other, sp[k - 1].lo, sp[k - 1].hi);
            }
        }
    }
    free(sp);
    if (!c)
        r->ctx[0] = '\0';
    return c;
}

static kk_code parse_all(rd *r)
{
    gguf_file *f = r->f;
    kk_code c;
    if ((c = parse_header(r)) || (c = parse_kvs(r)) || (c = check_alignment(r)))
        return c;
    gguf_priv *pv = r->pv;
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    pv->t_cap = table_cap(f->n_tensors);
    pv->t_hash = calloc(pv->t_cap, sizeof *pv->t_hash);
    uint64_t *offset_field = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *offset_field);
    if (!f->tensors || !pv->t_hash || !offset_field) {
        free(offset_field);
        return rd_fail(r, KK_E_NOMEM, r->pos, "cannot allocate %" PRIu64 " tensor infos", f->n_tensors);
    }
    for (uint64_t i = 0; i < f->n_tensors && !c; i++)
        c = parse_tensor_info(r, i, &offset_field[i]);
    if (!c)
        c = check_data(r, offset_field);
    free(offset_field);
    return c;
}

static kk_code parse_into(gguf_file *f, kk_err *err)
{
    gguf_priv *pv = calloc(1, sizeof *pv);
    if (!pv) {
        kk_err_set(err, KK_E_NOMEM, "cannot allocate the reader state");
        return kk_err_file(err, f->path);
    }
    f->arena_ = pv;
    rd r = {.buf = f->map.data, .size = f->map.size, .f = f, .pv = pv, .err = err};
    return parse_all(&r);
}

kk_code gguf_parse_buffer(gguf_file **out, const uint8_t *data, size_t size,
                          const char *name, kk_err *err)
{
    *out = NULL;
    gguf_file *f = calloc(1, sizeof *f);
    if (!f)
        return kk_err_set(err, KK_E_NOMEM, "cannot allocate a gguf_file");
    snprintf(f->path, sizeof f->path, "%s", name ? name : "<buffer>");
    f->map.data = size ? data : NULL;
    f->map.size = size;
    f->map.fd = -1;
    kk_code c = parse_into(f, err);
    if (c) {
        gguf_close(f);
        return c;
    }
    *out = f;
    return KK_OK;
}

kk_code gguf_open(gguf_file **out, const char *path, kk_err *err)
{
    *out = NULL;
    gguf_file *f = calloc(1, sizeof *f);
    if (!f)
        return kk_err_set(err, KK_E_NOMEM, "cannot allocate a gguf_file");
    snprintf(f->path, sizeof f->path, "%s", path);
    f->map.fd = -1;
    kk_code c = kk_map_open(&f->map, path, err);
    if (!c)
        c = parse_into(f, err);
    if (c) {
        gguf_close(f);
        return c;
    }
    *out = f;
    return KK_OK;
}

void gguf_close(gguf_file *f)
{
    if (!f)
        return;
    gguf_priv *pv = f->arena_;
    if (pv) {
        arena_blk *b = pv->blocks;
        while (b) {
            arena_blk *next = b->next;
            free(b);
            b = next;
        }
        free(pv->kv_hash);
        free(pv->t_hash);
        free(pv);
    }
    free(f->kv);
    free(f->tensors);
    if (f->map.fd >= 0) /* a buffer passed to gguf_parse_buffer is not ours */
        kk_map_close(&f->map);
    free(f);
}

/* ==== 5. lookups ============================================================ */

static int64_t hash_find(const uint32_t *tab, size_t cap, const char *s,
                         gguf_str (*name_of)(const gguf_file *, uint32_t), const gguf_file *f)
{
    if (!tab || !s)
        return -1;
    uint64_t n = strlen(s);
    size_t m = cap - 1, h = (size_t)hash_bytes(s, n) & m;
    while (tab[h]) {
        uint32_t j = tab[h] - 1;
        if (str_eq(name_of(f, j), s, n))
            return j;
        h = (h + 1) & m;
    }
    return -1;
}

int64_t gguf_find_key(const gguf_file *f, const char *key)
{
    const gguf_priv *pv = f ? f->arena_ : NULL;
    return pv ? hash_find(pv->kv_hash, pv->kv_cap, key, kv_name, f) : -1;
}

int64_t gguf_find_tensor(const gguf_file *f, const char *name)
{
    const gguf_priv *pv = f ? f->arena_ : NULL;
    return pv ? hash_find(pv->t_hash, pv->t_cap, name, t_name, f) : -1;
}

const gguf_value *gguf_get(const gguf_file *f, const char *key)
{
    int64_t i = gguf_find_key(f, key);
    return i < 0 ? NULL : &f->kv[i].value;
}

const gguf_tensor *gguf_get_tensor(const gguf_file *f, const char *name)
{
    int64_t i = gguf_find_tensor(f, name);
    return i < 0 ? NULL : &f->tensors[i];
}
