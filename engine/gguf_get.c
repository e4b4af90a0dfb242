/*
 * gguf: typed getters and array element readers over a parsed file (see
 * gguf.h; the parser is gguf.c). Every error names the file and the key and
 * points at the key's offset.
 */
#include "gguf.h"
#include "gguf_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

char *gguf_str_copy(gguf_str s, char *dst, size_t cap)
{
    if (!dst || cap == 0)
        return dst;
    size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
    if (n)
        memcpy(dst, s.s, n);
    dst[n] = '\0';
    return dst;
}

/* Locate a getter's error: the file, the key, the key's offset. */
static kk_code get_fail(const gguf_file *f, const char *key, kk_err *err, kk_code code,
                        const char *fmt, ...)
{
    if (!err)
        return code;
    char msg[KK_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kk_err_clear(err);
    kk_err_set(err, code, "%s", msg);
    kk_err_file(err, f ? f->path : "");
    kk_err_where(err, key ? key : "");
    int64_t i = gguf_find_key(f, key);
    if (i >= 0 && f->kv[i].file_offset <= INT64_MAX)
        kk_err_offset(err, (int64_t)f->kv[i].file_offset);
    return code;
}

static int is_uint(gguf_type t)
{
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 ||
           t == GGUF_TYPE_UINT64;
}

static int is_int(gguf_type t)
{
    return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 ||
           t == GGUF_TYPE_INT64;
}

static kk_code get_uint(const gguf_file *f, const char *key, uint64_t max, uint64_t *out,
                        kk_err *err)
{
    const gguf_value *v = gguf_get(f, key);
    if (!v)
        return get_fail(f, key, err, KK_E_MISSING, "key not found");
    uint64_t u;
    if (is_uint(v->type)) {
        u = v->v.u;
    } else if (is_int(v->type)) {
        if (v->v.i < 0)
            return get_fail(f, key, err, KK_E_RANGE, "value %" PRId64 " is negative (0..%" PRIu64
                            " allowed)", v->v.i, max);
        u = (uint64_t)v->v.i;
    } else {
        return get_fail(f, key, err, KK_E_TYPE, "value is %s (an integer expected)",
                        gguf_type_name(v->type));
    }
    if (u > max)
        return get_fail(f, key, err, KK_E_RANGE, "value %" PRIu64 " exceeds %" PRIu64, u, max);
    *out = u;
    return KK_OK;
}

kk_code gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, kk_err *err)
{
    uint64_t u;
    kk_code c = get_uint(f, key, UINT32_MAX, &u, err);
    if (!c)
        *out = (uint32_t)u;
    return c;
}

kk_code gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out, kk_err *err)
{
    return get_uint(f, key, UINT64_MAX, out, err);
}

kk_code gguf_get_f32(const gguf_file *f, const char *key, float *out, kk_err *err)
{
    const gguf_value *v = gguf_get(f, key);
    if (!v)
        return get_fail(f, key, err, KK_E_MISSING, "key not found");
    if (v->type != GGUF_TYPE_FLOAT32 && v->type != GGUF_TYPE_FLOAT64)
        return get_fail(f, key, err, KK_E_TYPE, "value is %s (float32 or float64 expected)",
                        gguf_type_name(v->type));
    double d = v->v.f;
    if (d == d && (d > 3.4028234663852886e38 || d < -3.4028234663852886e38) &&
        d - d == 0.0) /* finite but beyond FLT_MAX */
        return get_fail(f, key, err, KK_E_RANGE, "value %g does not fit a float32", d);
    *out = (float)d;
    return KK_OK;
}

kk_code gguf_get_bool(const gguf_file *f, const char *key, bool *out, kk_err *err)
{
    const gguf_value *v = gguf_get(f, key);
    if (!v)
        return get_fail(f, key, err, KK_E_MISSING, "key not found");
    if (v->type != GGUF_TYPE_BOOL)
        return get_fail(f, key, err, KK_E_TYPE, "value is %s (bool expected)",
                        gguf_type_name(v->type));
    *out = v->v.b;
    return KK_OK;
}

kk_code gguf_get_str(const gguf_file *f, const char *key, gguf_str *out, kk_err *err)
{
    const gguf_value *v = gguf_get(f, key);
    if (!v)
        return get_fail(f, key, err, KK_E_MISSING, "key not found");
    if (v->type != GGUF_TYPE_STRING)
        return get_fail(f, key, err, KK_E_TYPE, "value is %s (string expected)",
                        gguf_type_name(v->type));
    /* The reader validated it; a hand-built value may not be. */
    if (gguf_utf8_check(v->v.str.s, v->v.str.len) != v->v.str.len)
        return get_fail(f, key, err, KK_E_FORMAT, "string value is not valid UTF-8");
    *out = v->v.str;
    return KK_OK;
}

/* One fixed-size element as double / int64 (unchecked index: callers). */
static double arr_elem_f64(const gguf_value *a, uint64_t i)
{
    gguf_value e;
    size_t es = gguf_type_size_(a->v.arr.elem_type);
    if (!es || !a->v.arr.raw)
        return 0.0;
    gguf_decode_fixed_(a->v.arr.elem_type, a->v.arr.raw + i * es, &e);
    if (is_uint(e.type))
        return (double)e.v.u;
    if (is_int(e.type))
        return (double)e.v.i;
    if (e.type == GGUF_TYPE_BOOL)
        return e.v.b;
    return e.v.f;
}

float gguf_arr_f32(const gguf_value *arr, uint64_t i)
{
    if (!arr || arr->type != GGUF_TYPE_ARRAY || i >= arr->v.arr.n)
        return 0.0f;
    if (arr->v.arr.elem_type == GGUF_TYPE_FLOAT32 && arr->v.arr.raw) {
        float f; /* bit-exact, NaN payloads kept */
        memcpy(&f, arr->v.arr.raw + i * 4, 4);
        return f;
    }
    return (float)arr_elem_f64(arr, i);
}

int32_t gguf_arr_i32(const gguf_value *arr, uint64_t i)
{
    if (!arr || arr->type != GGUF_TYPE_ARRAY || i >= arr->v.arr.n)
        return 0;
    gguf_type et = arr->v.arr.elem_type;
    if (!is_int(et) && !is_uint(et) && et != GGUF_TYPE_BOOL)
        return 0;
    gguf_value e;
    gguf_decode_fixed_(et, arr->v.arr.raw + i * gguf_type_size_(et), &e);
    int64_t x = is_uint(et) ? (e.v.u > INT32_MAX ? INT32_MAX : (int64_t)e.v.u)
              : et == GGUF_TYPE_BOOL ? e.v.b : e.v.i;
    return x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : (int32_t)x;
}
