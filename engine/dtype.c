/*
 * dtype: see dtype.h.
 *
 * Sources for layouts and arithmetic: ggml src/ggml-common.h (block
 * structs), src/ggml-quants.c (quantize_row_q8_0_ref, quantize_row_q4_0_ref,
 * dequantize_row_q8_0/q4_0), src/ggml-impl.h (fp16/bf16 conversions).
 * Everything here is the plain path; faster kernels live with the model
 * code and are compared against these.
 */
#include "cpu.h"
#include "dtype.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Packed block layouts must match ggml byte for byte: files are mmapped and
 * read through these structs. */
static_assert(sizeof(dtype_block_q8_0) == 2 + DTYPE_QK8_0, "q8_0 block is 34 bytes");
static_assert(sizeof(dtype_block_q4_0) == 2 + DTYPE_QK4_0 / 2, "q4_0 block is 18 bytes");
static_assert(offsetof(dtype_block_q8_0, qs) == 2, "q8_0 quants follow the scale");
static_assert(offsetof(dtype_block_q4_0, qs) == 2, "q4_0 quants follow the scale");
static_assert(sizeof(float) == 4, "f32 is 4 bytes");

int dtype_is_known(uint32_t type)
{
    switch (type) {
    case DTYPE_F32:
    case DTYPE_F16:
    case DTYPE_Q4_0:
    case DTYPE_Q8_0:
    case DTYPE_BF16:
        return 1;
    default:
        return 0;
    }
}

const char *dtype_name(dtype_t t)
{
    switch (t) {
    case DTYPE_F32: return "f32";
    case DTYPE_F16: return "f16";
    case DTYPE_Q4_0: return "q4_0";
    case DTYPE_Q8_0: return "q8_0";
    case DTYPE_BF16: return "bf16";
    }
    return "?";
}

size_t dtype_block_size(dtype_t t)
{
    switch (t) {
    case DTYPE_F32:
    case DTYPE_F16:
    case DTYPE_BF16: return 1;
    case DTYPE_Q4_0: return DTYPE_QK4_0;
    case DTYPE_Q8_0: return DTYPE_QK8_0;
    }
    return 0;
}

size_t dtype_type_size(dtype_t t)
{
    switch (t) {
    case DTYPE_F32: return 4;
    case DTYPE_F16:
    case DTYPE_BF16: return 2;
    case DTYPE_Q4_0: return sizeof(dtype_block_q4_0);
    case DTYPE_Q8_0: return sizeof(dtype_block_q8_0);
    }
    return 0;
}

size_t dtype_row_size(dtype_t t, uint64_t n)
{
    size_t bs = dtype_block_size(t), ts = dtype_type_size(t);
    if (bs == 0 || n % bs != 0)
        return 0;
    uint64_t nb = n / bs;
    if (nb > SIZE_MAX / ts) /* overflow: callers treat 0 as "no such row" */
        return 0;
    return (size_t)nb * ts;
}

/* ---- half precision ------------------------------------------------------ */

static inline float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint32_t f32_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Exact: every f16 is representable as f32. Integer-only so the result does
 * not depend on FP environment or flush-to-zero settings. */
float dtype_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {                 /* inf / NaN: keep the payload */
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {             /* normal */
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {             /* +-0 */
        bits = sign;
    } else {                           /* subnormal: normalize */
        uint32_t e = 113;              /* 127 - 15 + 1 */
        while (!(man & 0x400u)) {
            man <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((man & 0x3ffu) << 13);
    }
    return f32_from_bits(bits);
}

/* The fast path of dtype_to_f32_row: ggml's portable fp16->fp32 (from
 * Maratyszcza's FP16 library), no branches, so the row loop vectorizes
 * where the compiler can. Exact for every finite
 * half and infinity, compared over all 65536 with the integer reference in
 * tests/engine/test_dtype.c; a signalling NaN comes back quiet. Relies on
 * subnormal floats being honoured (no flush-to-zero mode is ever set). */
static inline float f16_to_f32_fast(uint16_t h)
{
    const uint32_t w = (uint32_t)h << 16;
    const uint32_t sign = w & 0x80000000u;
    const uint32_t two_w = w + w;
    const float normalized = f32_from_bits((two_w >> 4) + (0xe0u << 23)) * 0x1.0p-112f;
    const float denormalized = f32_from_bits((two_w >> 17) | (126u << 23)) - 0.5f;
    const uint32_t bits = two_w < (1u << 27) ? f32_to_bits(denormalized) : f32_to_bits(normalized);
    return f32_from_bits(sign | bits);
}

float dtype_f16_to_f32_fast(uint16_t h)
{
    return f16_to_f32_fast(h);
}

/* Round to nearest, ties to even (what ggml's F16C path _cvtss_sh(x, 0) and
 * its portable fallback both do); overflow gives inf; NaN stays NaN (quiet,
 * top payload bits kept). */
uint16_t dtype_f32_to_f16(float f)
{
    uint32_t x = f32_to_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) /* NaN */
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x47800000u) /* >= 65536 (or inf): rounds to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) { /* below the smallest normal f16 (2^-14) */
        if (ax < 0x33000000u) /* <= 2^-25 : rounds to 0 (tie at 2^-25 -> even 0) */
            return sign;
        /* subnormal: value = man24 * 2^(e-150); result units are 2^-24 */
        uint32_t e = ax >> 23;
        uint32_t man = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e; /* 150 - 24 - e: from 2^(e-150) to 2^-24 */
        uint32_t q = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u)))
            q++;
        return (uint16_t)(sign | q); /* q may carry into the exponent: fine */
    }
    /* normal: rebias exponent, round the 13 dropped bits */
    uint32_t r = ax - 0x38000000u; /* exponent 127 -> 15 */
    uint32_t q = r >> 13;
    uint32_t rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u)))
        q++; /* a carry into the exponent is the correct rounding (to inf too) */
    return (uint16_t)(sign | q);
}

float dtype_bf16_to_f32(uint16_t h)
{
    return f32_from_bits((uint32_t)h << 16);
}

/* ggml src/ggml-impl.h ggml_compute_fp32_to_bf16: NaN forced quiet, else
 * round to nearest even (subnormals kept, not flushed). */
uint16_t dtype_f32_to_bf16(float f)
{
    uint32_t u = f32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 64u);
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

/* ---- rows ---------------------------------------------------------------- */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
/* F16C converts 8 halves per instruction, exactly (IEEE, NaN payloads kept
 * but quieted, as the scalar fast path). Chosen at run time from CPUID. */
__attribute__((target("avx,f16c"))) static void f16_row_f16c(const uint8_t *s, float *dst,
                                                              size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(s + 2 * i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        dst[i] = f16_to_f32_fast(h);
    }
}

/* The other way, rounding to nearest even (_MM_FROUND_TO_NEAREST_INT):
 * dtype_f32_to_f16's result for every non-NaN float. */
__attribute__((target("avx,f16c"))) static void f16_from_f32_f16c(const float *x, uint16_t *dst,
                                                                   size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        dst[i] = dtype_f32_to_f16(x[i]);
}

/* F16C with OS support for YMM state, from engine/cpu.h (CPUID by hand:
 * clang 14's __builtin_cpu_supports does not know "f16c"). */
static int have_f16c(void) { return cpu_get_features()->f16c; }
#define KK_HAVE_F16C_PATH 1
#endif

void dtype_f32_to_f16_row(const float *x, uint16_t *dst, size_t n)
{
#ifdef KK_HAVE_F16C_PATH
    if (have_f16c()) {
        f16_from_f32_f16c(x, dst, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        dst[i] = dtype_f32_to_f16(x[i]);
}

void dtype_to_f32_row(dtype_t t, const void *src, float *dst, size_t n)
{
    const uint8_t *s = src;
    switch (t) {
    case DTYPE_F32:
        memcpy(dst, s, n * 4);
        return;
    case DTYPE_F16:
#ifdef KK_HAVE_F16C_PATH
        if (have_f16c()) {
            f16_row_f16c(s, dst, n);
            return;
        }
#endif
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = f16_to_f32_fast(h);
        }
        return;
    case DTYPE_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = dtype_bf16_to_f32(h);
        }
        return;
    case DTYPE_Q8_0:
        /* Blocks read through memcpy: an mmapped tensor is only aligned to
         * the file's alignment, and a block is 34 bytes. */
        for (size_t b = 0; b < n / DTYPE_QK8_0; b++) {
            dtype_block_q8_0 blk;
            memcpy(&blk, s + b * sizeof blk, sizeof blk);
            const float d = f16_to_f32_fast(blk.d);
            for (int j = 0; j < DTYPE_QK8_0; j++)
                dst[b * DTYPE_QK8_0 + j] = (float)blk.qs[j] * d;
        }
        return;
    case DTYPE_Q4_0:
        for (size_t b = 0; b < n / DTYPE_QK4_0; b++) {
            dtype_block_q4_0 blk;
            memcpy(&blk, s + b * sizeof blk, sizeof blk);
            const float d = f16_to_f32_fast(blk.d);
            for (int j = 0; j < DTYPE_QK4_0 / 2; j++) {
                const int x0 = (blk.qs[j] & 0x0f) - 8;
                const int x1 = (blk.qs[j] >> 4) - 8;
                dst[b * DTYPE_QK4_0 + j] = (float)x0 * d;
                dst[b * DTYPE_QK4_0 + j + DTYPE_QK4_0 / 2] = (float)x1 * d;
            }
        }
        return;
    }
}

/* ggml quantize_row_q8_0_ref: d = amax/127 rounded to F16 for storage, but
 * the quants use id = 1/d with the *unrounded* d, and roundf (half away from
 * zero). Kept in float, in this order, for bit-exactness. */
void dtype_quantize_row_q8_0_ref(const float *x, dtype_block_q8_0 *y, size_t n)
{
    const size_t nb = n / DTYPE_QK8_0;
    for (size_t i = 0; i < nb; i++) {
        float amax = 0.0f;
        for (int j = 0; j < DTYPE_QK8_0; j++) {
            const float v = fabsf(x[i * DTYPE_QK8_0 + j]);
            amax = amax > v ? amax : v; /* ggml MAX(amax, v): a NaN v gives NaN */
        }
        const float d = amax / ((1 << 7) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = dtype_f32_to_f16(d);
        for (int j = 0; j < DTYPE_QK8_0; j++) {
            const float x0 = x[i * DTYPE_QK8_0 + j] * id;
            /* the low byte, as x86 stores (int8_t)roundf(x0) */
            y[i].qs[j] = (int8_t)(uint8_t)(dtype_cvtt_i32(roundf(x0)) & 0xff);
        }
    }
}

/* ggml quantize_row_q4_0_ref: d = max / -8 where max is the signed value of
 * largest magnitude (first one wins on ties), q = min(15, (int8)(x*id + 8.5)). */
void dtype_quantize_row_q4_0_ref(const float *x, dtype_block_q4_0 *y, size_t n)
{
    const int qk = DTYPE_QK4_0;
    const size_t nb = n / (size_t)qk;
    for (size_t i = 0; i < nb; i++) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < qk; j++) {
            const float v = x[i * qk + j];
            if (amax < fabsf(v)) {
                amax = fabsf(v);
                max = v;
            }
        }
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = dtype_f32_to_f16(d);
        for (int j = 0; j < qk / 2; j++) {
            const float x0 = x[i * qk + j] * id;
            const float x1 = x[i * qk + qk / 2 + j] * id;
            const int8_t t0 = (int8_t)(uint8_t)(dtype_cvtt_i32(x0 + 8.5f) & 0xff);
            const int8_t t1 = (int8_t)(uint8_t)(dtype_cvtt_i32(x1 + 8.5f) & 0xff);
            const uint8_t xi0 = (uint8_t)(t0 < 15 ? t0 : 15);
            const uint8_t xi1 = (uint8_t)(t1 < 15 ? t1 : 15);
            y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
        }
    }
}
