/*
 * gguf: the writer (see gguf.h; the reader is gguf.c).
 *
 * Each metadata value is serialized when it is set (u32 type + payload, the
 * exact bytes that go to the file), so replacing a key swaps one byte string
 * and serializing is a concatenation. The layout written is the canonical
 * one llama.cpp's gguf_write_to_buf produces: header, kvs in insertion
 * order, tensor infos in insertion order with offsets packed in that order,
 * each tensor's data padded to the alignment (the last one too), and zero
 * padding before the data section.
 *
 * The writer never writes what the reader would refuse: keys and names
 * must be non-empty UTF-8 without NUL, strings UTF-8, bools 0/1,
 * general.alignment a uint32 power of two <= GGUF_MAX_ALIGNMENT (setting it
 * changes the writer's alignment).
 */
#include "gguf.h"
#include "gguf_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} wbuf;

static void wb_put(wbuf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (n > SIZE_MAX - b->len) {
        b->oom = 1;
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap = cap > SIZE_MAX / 2 ? b->len + n : cap * 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void wb_le(wbuf *b, uint64_t v, int n)
{
    uint8_t t[8];
    for (int i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    wb_put(b, t, (size_t)n);
}

static void wb_zeros(wbuf *b, size_t n)
{
    static const uint8_t z[64];
    while (n) {
        size_t k = n < sizeof z ? n : sizeof z;
        wb_put(b, z, k);
        n -= k;
    }
}

static void wb_str(wbuf *b, const char *s, uint64_t n)
{
    wb_le(b, n, 8);
    wb_put(b, s, (size_t)n);
}

typedef struct wkv {
    char *key;
    uint8_t *val; /* u32 type + payload */
    size_t val_len;
} wkv;

typedef struct wtensor {
    char *name;
    dtype_t type;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    uint8_t *data;
    uint64_t n_bytes;
} wtensor;

struct gguf_writer {
    uint32_t version;
    uint64_t alignment;
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
};

static int text_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && gguf_utf8_check(s, n) == n;
}

static int pow2(uint64_t a)
{
    return a != 0 && (a & (a - 1)) == 0;
}

/* Take ownership of b's bytes as the value of key (replacing an old one). */
static kk_code put_kv(gguf_writer *w, const char *key, wbuf *b)
{
    kk_code c = KK_OK;
    if (b->oom) {
        c = KK_E_NOMEM;
        goto fail;
    }
    if (!text_ok(key) || strlen(key) > GGUF_MAX_KEY_LEN) {
        c = KK_E_FORMAT;
        goto fail;
    }
    if (!strcmp(key, "general.alignment")) {
        if (b->len != 8 || b->p[0] != GGUF_TYPE_UINT32) {
            c = KK_E_TYPE;
            goto fail;
        }
        uint32_t a = (uint32_t)b->p[4] | (uint32_t)b->p[5] << 8 | (uint32_t)b->p[6] << 16 |
                     (uint32_t)b->p[7] << 24;
        if (!pow2(a) || a > GGUF_MAX_ALIGNMENT) {
            c = KK_E_RANGE;
            goto fail;
        }
        w->alignment = a;
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (!strcmp(w->kv[i].key, key)) {
            free(w->kv[i].val);
            w->kv[i].val = b->p;
            w->kv[i].val_len = b->len;
            return KK_OK;
        }
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? 2 * w->cap_kv : 32;
        wkv *q = realloc(w->kv, cap * sizeof *q);
        if (!q) {
            c = KK_E_NOMEM;
            goto fail;
        }
        w->kv = q;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k) {
        c = KK_E_NOMEM;
        goto fail;
    }
    w->kv[w->n_kv++] = (wkv){k, b->p, b->len};
    return KK_OK;
fail:
    free(b->p);
    return c;
}

gguf_writer *gguf_writer_init(uint32_t version, uint64_t alignment)
{
    if (version == 0)
        version = 3;
    if (alignment == 0)
        alignment = GGUF_DEFAULT_ALIGNMENT;
    if ((version != 2 && version != 3) || !pow2(alignment) || alignment > GGUF_MAX_ALIGNMENT)
        return NULL;
    gguf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->version = version;
    w->alignment = alignment;
    /* A reader only knows a non-default alignment from this key. */
    if (alignment != GGUF_DEFAULT_ALIGNMENT &&
        gguf_writer_set_u32(w, "general.alignment", (uint32_t)alignment) != KK_OK) {
        gguf_writer_free(w);
        return NULL;
    }
    return w;
}

void gguf_writer_free(gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        free(w->t[i].name);
        free(w->t[i].data);
    }
    free(w->kv);
    free(w->t);
    free(w);
}

static kk_code set_scalar(gguf_writer *w, const char *key, gguf_type t, uint64_t bits, int n)
{
    if (!w)
        return KK_E_INTERNAL;
    wbuf b = {0};
    wb_le(&b, t, 4);
    wb_le(&b, bits, n);
    return put_kv(w, key, &b);
}

kk_code gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v)
{
    return set_scalar(w, key, GGUF_TYPE_UINT32, v, 4);
}

kk_code gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v)
{
    return set_scalar(w, key, GGUF_TYPE_INT32, (uint32_t)v, 4);
}

kk_code gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v)
{
    return set_scalar(w, key, GGUF_TYPE_UINT64, v, 8);
}

kk_code gguf_writer_set_f32(gguf_writer *w, const char *key, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return set_scalar(w, key, GGUF_TYPE_FLOAT32, u, 4);
}

kk_code gguf_writer_set_f64(gguf_writer *w, const char *key, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return set_scalar(w, key, GGUF_TYPE_FLOAT64, u, 8);
}

kk_code gguf_writer_set_bool(gguf_writer *w, const char *key, bool v)
{
    return set_scalar(w, key, GGUF_TYPE_BOOL, v ? 1 : 0, 1);
}

kk_code gguf_writer_set_str(gguf_writer *w, const char *key, const char *v)
{
    if (!w || !v)
        return KK_E_INTERNAL;
    size_t n = strlen(v);
    if (gguf_utf8_check(v, n) != n)
        return KK_E_FORMAT;
    wbuf b = {0};
    wb_le(&b, GGUF_TYPE_STRING, 4);
    wb_str(&b, v, n);
    return put_kv(w, key, &b);
}

kk_code gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n)
{
    if (!w || (n && !v))
        return KK_E_INTERNAL;
    for (uint64_t i = 0; i < n; i++) {
        if (!v[i])
            return KK_E_INTERNAL;
        size_t len = strlen(v[i]);
        if (gguf_utf8_check(v[i], len) != len)
            return KK_E_FORMAT;
    }
    wbuf b = {0};
    wb_le(&b, GGUF_TYPE_ARRAY, 4);
    wb_le(&b, GGUF_TYPE_STRING, 4);
    wb_le(&b, n, 8);
    for (uint64_t i = 0; i < n; i++)
        wb_str(&b, v[i], strlen(v[i]));
    return put_kv(w, key, &b);
}

static kk_code set_arr_fixed(gguf_writer *w, const char *key, gguf_type et, const void *v,
                             uint64_t n, size_t es)
{
    if (!w || (n && !v))
        return KK_E_INTERNAL;
    if (n > SIZE_MAX / es)
        return KK_E_NOMEM;
    wbuf b = {0};
    wb_le(&b, GGUF_TYPE_ARRAY, 4);
    wb_le(&b, et, 4);
    wb_le(&b, n, 8);
    /* Little-endian host assumed, as llama.cpp does (GGUF is LE). */
    wb_put(&b, v, (size_t)(n * es));
    return put_kv(w, key, &b);
}

kk_code gguf_writer_set_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n)
{
    return set_arr_fixed(w, key, GGUF_TYPE_FLOAT32, v, n, 4);
}

kk_code gguf_writer_set_arr_i32(gguf_writer *w, const char *key, const int32_t *v, uint64_t n)
{
    return set_arr_fixed(w, key, GGUF_TYPE_INT32, v, n, 4);
}

/* Payload of a parsed (or hand-built) value, without its type. */
static kk_code put_payload(wbuf *b, const gguf_value *v, int depth)
{
    gguf_type t = v->type;
    size_t es = gguf_type_size_(t);
    if (es) {
        uint64_t bits = 0;
        if (t == GGUF_TYPE_FLOAT32) {
            /* A float32 read as double converts back exactly (a signalling
             * NaN comes back quiet: the only bytes that do not survive). */
            float f = (float)v->v.f;
            uint32_t u;
            memcpy(&u, &f, 4);
            bits = u;
        } else if (t == GGUF_TYPE_FLOAT64) {
            memcpy(&bits, &v->v.f, 8);
        } else if (t == GGUF_TYPE_BOOL) {
            bits = v->v.b ? 1 : 0;
        } else if (t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 ||
                   t == GGUF_TYPE_INT64) {
            bits = (uint64_t)v->v.i;
        } else {
            bits = v->v.u;
        }
        wb_le(b, bits, (int)es);
        return KK_OK;
    }
    if (t == GGUF_TYPE_STRING) {
        if (v->v.str.len && !v->v.str.s)
            return KK_E_INTERNAL;
        if (gguf_utf8_check(v->v.str.s, v->v.str.len) != v->v.str.len)
            return KK_E_FORMAT;
        wb_str(b, v->v.str.s, v->v.str.len);
        return KK_OK;
    }
    if (t != GGUF_TYPE_ARRAY)
        return KK_E_TYPE;
    if (depth >= GGUF_MAX_ARRAY_DEPTH && v->v.arr.elem_type == GGUF_TYPE_ARRAY)
        return KK_E_LIMIT;
    gguf_type et = v->v.arr.elem_type;
    uint64_t n = v->v.arr.n;
    wb_le(b, et, 4);
    wb_le(b, n, 8);
    size_t ees = gguf_type_size_(et);
    if (ees) {
        if (n && !v->v.arr.raw)
            return KK_E_INTERNAL;
        if (n > SIZE_MAX / ees)
            return KK_E_NOMEM;
        if (et == GGUF_TYPE_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (v->v.arr.raw[i] > 1)
                    return KK_E_RANGE;
        wb_put(b, v->v.arr.raw, (size_t)(n * ees));
        return KK_OK;
    }
    if (et != GGUF_TYPE_STRING && et != GGUF_TYPE_ARRAY)
        return KK_E_TYPE;
    if (n && !v->v.arr.items)
        return KK_E_INTERNAL;
    for (uint64_t i = 0; i < n; i++) {
        const gguf_value *it = &v->v.arr.items[i];
        if (it->type != et)
            return KK_E_TYPE;
        kk_code c = put_payload(b, it, depth + 1);
        if (c)
            return c;
    }
    return KK_OK;
}

kk_code gguf_writer_set_value(gguf_writer *w, const char *key, const gguf_value *v)
{
    if (!w || !v)
        return KK_E_INTERNAL;
    if ((unsigned)v->type >= GGUF_TYPE_COUNT)
        return KK_E_TYPE;
    wbuf b = {0};
    wb_le(&b, v->type, 4);
    kk_code c = put_payload(&b, v, 0);
    if (c) {
        free(b.p);
        return c;
    }
    return put_kv(w, key, &b);
}

static kk_code add_tensor(gguf_writer *w, const char *name, dtype_t type, uint32_t n_dims,
                          const uint64_t *ne, const void *data, uint64_t n_bytes, kk_err *err)
{
    if (!w || !ne || (n_bytes && !data))
        return kk_err_set(err, KK_E_INTERNAL, "gguf_writer_add_tensor: NULL argument");
    if (!text_ok(name) || strlen(name) > GGUF_MAX_NAME_LEN)
        return kk_err_set(err, KK_E_FORMAT, "tensor name must be 1..%d bytes of UTF-8",
                          GGUF_MAX_NAME_LEN);
    if (!dtype_is_known(type))
        return kk_err_set(err, KK_E_UNSUPPORTED, "tensor type %d is not supported", (int)type);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return kk_err_set(err, KK_E_RANGE, "n_dims %u (1..%d allowed)", n_dims, GGUF_MAX_DIMS);
    uint64_t n_el = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] == 0 || ne[d] > INT64_MAX || n_el > (uint64_t)INT64_MAX / ne[d])
            return kk_err_set(err, KK_E_RANGE, "ne[%u] = %llu: zero or the element count overflows",
                              d, (unsigned long long)ne[d]);
        n_el *= ne[d];
    }
    size_t bs = dtype_block_size(type);
    if (ne[0] % bs != 0)
        return kk_err_set(err, KK_E_RANGE, "row length %llu is not a multiple of the %s block (%zu)",
                          (unsigned long long)ne[0], dtype_name(type), bs);
    uint64_t want = n_el / bs * dtype_type_size(type);
    if (n_bytes != want)
        return kk_err_set(err, KK_E_RANGE, "%llu data bytes given, the shape needs %llu",
                          (unsigned long long)n_bytes, (unsigned long long)want);
    if (n_bytes > SIZE_MAX)
        return kk_err_set(err, KK_E_NOMEM, "tensor too large for this machine");
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name))
            return kk_err_set(err, KK_E_DUPLICATE, "tensor name already added");
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? 2 * w->cap_t : 64;
        wtensor *q = realloc(w->t, cap * sizeof *q);
        if (!q)
            return kk_err_set(err, KK_E_NOMEM, "cannot grow the tensor list");
        w->t = q;
        w->cap_t = cap;
    }
    wtensor t = {.type = type, .n_dims = n_dims, .n_bytes = n_bytes};
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
        t.ne[d] = d < n_dims ? ne[d] : 1;
    t.name = strdup(name);
    t.data = malloc(n_bytes ? (size_t)n_bytes : 1);
    if (!t.name || !t.data) {
        free(t.name);
        free(t.data);
        return kk_err_set(err, KK_E_NOMEM, "cannot copy %llu bytes of tensor data",
                          (unsigned long long)n_bytes);
    }
    if (n_bytes)
        memcpy(t.data, data, (size_t)n_bytes);
    w->t[w->n_t++] = t;
    return KK_OK;
}

kk_code gguf_writer_add_tensor(gguf_writer *w, const char *name, dtype_t type, uint32_t n_dims,
                               const uint64_t *ne, const void *data, uint64_t n_bytes, kk_err *err)
{
    kk_code c = add_tensor(w, name, type, n_dims, ne, data, n_bytes, err);
    if (c) {
        char where[KK_ERR_WHERE_MAX];
        snprintf(where, sizeof where, "%s", name ? name : "");
        kk_err_where(err, where);
    }
    return c;
}

static uint64_t pad_to(uint64_t x, uint64_t a)
{
    return (a - x % a) % a;
}

kk_code gguf_writer_to_buffer(const gguf_writer *w, uint8_t **buf, size_t *len, kk_err *err)
{
    *buf = NULL;
    *len = 0;
    if (!w)
        return kk_err_set(err, KK_E_INTERNAL, "gguf_writer_to_buffer: NULL writer");
    wbuf b = {0};
    wb_put(&b, GGUF_MAGIC, 4);
    wb_le(&b, w->version, 4);
    wb_le(&b, w->n_t, 8);
    wb_le(&b, w->n_kv, 8);
    for (size_t i = 0; i < w->n_kv; i++) {
        wb_str(&b, w->kv[i].key, strlen(w->kv[i].key));
        wb_put(&b, w->kv[i].val, w->kv[i].val_len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        wb_str(&b, t->name, strlen(t->name));
        wb_le(&b, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++)
            wb_le(&b, t->ne[d], 8);
        wb_le(&b, (uint32_t)t->type, 4);
        wb_le(&b, off, 8);
        uint64_t padded = t->n_bytes + pad_to(t->n_bytes, w->alignment);
        if (padded < t->n_bytes || off > UINT64_MAX - padded) {
            free(b.p);
            return kk_err_set(err, KK_E_RANGE, "data section size overflows");
        }
        off += padded;
    }
    wb_zeros(&b, (size_t)pad_to(b.len, w->alignment));
    for (size_t i = 0; i < w->n_t; i++) {
        wb_put(&b, w->t[i].data, (size_t)w->t[i].n_bytes);
        wb_zeros(&b, (size_t)pad_to(w->t[i].n_bytes, w->alignment));
    }
    if (b.oom) {
        free(b.p);
        return kk_err_set(err, KK_E_NOMEM, "cannot allocate the serialized file");
    }
    *buf = b.p;
    *len = b.len;
    return KK_OK;
}

kk_code gguf_writer_write(const gguf_writer *w, const char *path, kk_err *err)
{
    uint8_t *buf;
    size_t len;
    kk_code c = gguf_writer_to_buffer(w, &buf, &len, err);
    if (c) {
        kk_err_file(err, path);
        return c;
    }
    c = kk_file_write_atomic(path, buf, len, err);
    free(buf);
    return c;
}
