/*
 * Tests of engine/dtype: sizes, f16/bf16 conversions (exhaustive over the
 * 65536 half values, and against ggml's portable fp32->fp16 algorithm and a
 * nearest-value search on midpoints and random floats), and the Q8_0/Q4_0
 * reference quantizers bit for bit against a transcription of ggml's
 * quantize_row_q8_0_ref / quantize_row_q4_0_ref (ggml/src/ggml-quants.c).
 * test_gguf.c also checks Q8_0 against llama.cpp's own output on a fixture.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

static_assert(sizeof(dtype_block_q8_0) == 34, "ggml block_q8_0 is 34 bytes");
static_assert(sizeof(dtype_block_q4_0) == 18, "ggml block_q4_0 is 18 bytes");

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

/* ---- references ------------------------------------------------------------ */

/* f16 value by definition (IEEE 754 binary16), in double. */
static double f16_ref_value(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

/* ggml's portable ggml_compute_fp32_to_fp16 (src/ggml-impl.h, from
 * Maratyszcza's FP16 library): the float-scaling algorithm, independent of
 * our integer rounding. */
static uint16_t ggml_fp32_to_fp16_ref(float f)
{
    const float scale_to_inf = 0x1.0p+112f;
    const float scale_to_zero = 0x1.0p-110f;
    float base = (fabsf(f) * scale_to_inf) * scale_to_zero;
    const uint32_t w = bits_of(f);
    const uint32_t shl1_w = w + w;
    const uint32_t sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xff000000u;
    if (bias < 0x71000000u)
        bias = 0x71000000u;
    base = from_bits((bias >> 1) + 0x07800000u) + base;
    const uint32_t b = bits_of(base);
    const uint32_t exp_bits = (b >> 13) & 0x00007c00u;
    const uint32_t mantissa_bits = b & 0x00000fffu;
    const uint32_t nonsign = exp_bits + mantissa_bits;
    return (uint16_t)((sign >> 16) | (shl1_w > 0xff000000u ? 0x7e00u : nonsign));
}

static uint16_t (*const FP16)(float) = ggml_fp32_to_fp16_ref;

/* ggml quantize_row_q8_0_ref, transcribed (MAX macro, roundf, F16 of d,
 * id from the unrounded d). */
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
static void ggml_q8_0_ref(const float *x, dtype_block_q8_0 *y, int64_t k)
{
    const int nb = (int)(k / 32);
    for (int i = 0; i < nb; i++) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) {
            const float v = x[i * 32 + j];
            amax = MAX(amax, fabsf(v));
        }
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = FP16(d);
        for (int j = 0; j < 32; ++j) {
            const float x0 = x[i * 32 + j] * id;
            y[i].qs[j] = (int8_t)roundf(x0);
        }
    }
}

/* ggml quantize_row_q4_0_ref, transcribed. */
static void ggml_q4_0_ref(const float *x, dtype_block_q4_0 *y, int64_t k)
{
    static const int qk = 32;
    const int nb = (int)(k / qk);
    for (int i = 0; i < nb; i++) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < qk; j++) {
            const float v = x[i * qk + j];
            if (amax < fabsf(v)) {
                amax = fabsf(v);
                max = v;
            }
        }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = FP16(d);
        for (int j = 0; j < qk / 2; ++j) {
            const float x0 = x[i * qk + 0 + j] * id;
            const float x1 = x[i * qk + qk / 2 + j] * id;
            const uint8_t xi0 = (uint8_t)MIN(15, (int8_t)(x0 + 8.5f));
            const uint8_t xi1 = (uint8_t)MIN(15, (int8_t)(x1 + 8.5f));
            y[i].qs[j] = xi0;
            y[i].qs[j] |= (uint8_t)(xi1 << 4);
        }
    }
}

/* ---- sizes ----------------------------------------------------------------- */

static void sizes_should_match_ggml_block_layouts(void **state)
{
    (void)state;
    assert_int_equal(dtype_type_size(DTYPE_F32), 4);
    assert_int_equal(dtype_type_size(DTYPE_F16), 2);
    assert_int_equal(dtype_type_size(DTYPE_BF16), 2);
    assert_int_equal(dtype_type_size(DTYPE_Q8_0), 34);
    assert_int_equal(dtype_type_size(DTYPE_Q4_0), 18);
    assert_int_equal(dtype_block_size(DTYPE_Q8_0), 32);
    assert_int_equal(dtype_block_size(DTYPE_F16), 1);
    assert_int_equal(dtype_row_size(DTYPE_Q8_0, 64), 68);
    assert_int_equal(dtype_row_size(DTYPE_Q4_0, 96), 54);
    assert_int_equal(dtype_row_size(DTYPE_F16, 172), 344);
    assert_int_equal(dtype_row_size(DTYPE_Q8_0, 172), 0); /* not a multiple of 32 */
    assert_int_equal(dtype_row_size(DTYPE_F32, UINT64_MAX / 2), 0); /* overflows */
    assert_int_equal(dtype_row_size((dtype_t)12, 256), 0);
    assert_true(dtype_is_known(0) && dtype_is_known(1) && dtype_is_known(2) &&
                dtype_is_known(8) && dtype_is_known(30));
    assert_false(dtype_is_known(3) || dtype_is_known(12) || dtype_is_known(31) ||
                 dtype_is_known(0xffffffffu));
    assert_string_equal(dtype_name(DTYPE_Q8_0), "q8_0");
    assert_string_equal(dtype_name(DTYPE_BF16), "bf16");
    assert_string_equal(dtype_name((dtype_t)99), "?");
}

/* ---- f16 ------------------------------------------------------------------- */

static void every_f16_should_convert_exactly_and_round_trip(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = dtype_f16_to_f32((uint16_t)h);
        double ref = f16_ref_value((uint16_t)h);
        if (isnan(ref)) {
            assert_true(isnan(f));
            assert_true(isnan(dtype_f16_to_f32_fast((uint16_t)h)));
            assert_true(isnan(dtype_f16_to_f32(dtype_f32_to_f16(f))));
            if (h & 0x200) /* quiet NaN: payload and sign kept */
                assert_int_equal(dtype_f32_to_f16(f), h);
            continue;
        }
        assert_true((double)f == ref);
        assert_int_equal(signbit(f) != 0, (h >> 15) != 0);
        assert_int_equal(bits_of(dtype_f16_to_f32_fast((uint16_t)h)), bits_of(f));
        assert_int_equal(dtype_f32_to_f16(f), h);
        assert_int_equal(ggml_fp32_to_fp16_ref(f), h);
    }
}

/* dtype_to_f32_row's F16 path (F16C when the CPU has it, else the
 * branch-free scalar) against the integer reference, every half, with an
 * odd length so the scalar tail runs too. */
static void f16_row_conversion_should_equal_the_reference_for_every_half(void **state)
{
    (void)state;
    enum { N = 65536 + 3 };
    uint16_t *h = malloc(N * sizeof *h);
    float *y = malloc(N * sizeof *y);
    for (uint32_t i = 0; i < N; i++)
        h[i] = (uint16_t)(i * 40503u + 7u); /* odd multiplier: a permutation mod 2^16 */
    dtype_to_f32_row(DTYPE_F16, h, y, N);
    for (uint32_t i = 0; i < N; i++) {
        float ref = dtype_f16_to_f32(h[i]);
        if (isnan(ref))
            assert_true(isnan(y[i]));
        else
            assert_int_equal(bits_of(y[i]), bits_of(ref));
    }
    free(h);
    free(y);
}

/* Nearest f16 by search over the positive finite halves (ties to the even
 * mantissa), beyond the largest: 65520 and up rounds to inf (RNE). */
static uint16_t f16_nearest_ref(float f)
{
    double a = fabs((double)f);
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    if (a >= 65520.0)
        return sign | 0x7c00;
    int lo = 0, hi = 0x7bff; /* largest h with value <= a */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (f16_ref_value((uint16_t)mid) <= a)
            lo = mid;
        else
            hi = mid - 1;
    }
    double v0 = f16_ref_value((uint16_t)lo);
    if (v0 == a || lo == 0x7bff)
        return sign | (uint16_t)lo;
    double v1 = f16_ref_value((uint16_t)(lo + 1));
    if (a - v0 < v1 - a)
        return sign | (uint16_t)lo;
    if (a - v0 > v1 - a)
        return sign | (uint16_t)(lo + 1);
    return sign | (uint16_t)((lo & 1) ? lo + 1 : lo);
}

static void f32_to_f16_should_round_to_nearest_even_like_ggml(void **state)
{
    (void)state;
    /* Every midpoint between neighbouring halves (the ties), and just above
     * and below each. */
    for (uint32_t h = 0; h < 0x7c00; h++) {
        double m = (f16_ref_value((uint16_t)h) + f16_ref_value((uint16_t)(h + 1))) / 2;
        float f = (float)m; /* exact: a midpoint needs 12 bits */
        assert_true((double)f == m);
        float probes[3] = {f, nextafterf(f, 0), nextafterf(f, INFINITY)};
        for (int k = 0; k < 3; k++) {
            for (int s = 0; s < 2; s++) {
                float p = s ? -probes[k] : probes[k];
                uint16_t got = dtype_f32_to_f16(p);
                assert_int_equal(got, f16_nearest_ref(p));
                assert_int_equal(got, ggml_fp32_to_fp16_ref(p));
            }
        }
    }
    /* Random bit patterns over the whole float range. */
    for (int i = 0; i < 1000000; i++) {
        float f = from_bits((uint32_t)rnd());
        uint16_t got = dtype_f32_to_f16(f);
        if (isnan(f)) {
            assert_true((got & 0x7c00) == 0x7c00 && (got & 0x3ff));
            continue;
        }
        assert_int_equal(got, ggml_fp32_to_fp16_ref(f));
        if (i % 16 == 0)
            assert_int_equal(got, f16_nearest_ref(f));
    }
    assert_int_equal(dtype_f32_to_f16(INFINITY), 0x7c00);
    assert_int_equal(dtype_f32_to_f16(-INFINITY), 0xfc00);
    assert_int_equal(dtype_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(dtype_f32_to_f16(65519.99f), 0x7bff);
    assert_int_equal(dtype_f32_to_f16(65520.0f), 0x7c00);
    assert_int_equal(dtype_f32_to_f16(0x1p-25f), 0x0000);  /* tie -> even 0 */
    assert_int_equal(dtype_f32_to_f16(0x1.8p-25f), 0x0001);
    assert_int_equal(dtype_f32_to_f16(-0.0f), 0x8000);
}

/* ---- bf16 ------------------------------------------------------------------ */

/* Nearest bf16 in double: the two candidates around f, the upper one taken
 * as +-2^128 when it is the f32 infinity (rounding past the largest finite
 * bf16 overflows, as IEEE RNE does); ties to the even one. */
static uint16_t bf16_nearest_ref(float f)
{
    uint32_t u = bits_of(f);
    uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;
    if (lo == u)
        return (uint16_t)(lo >> 16);
    double a = fabs((double)f);
    double vl = fabs((double)from_bits(lo));
    double vh = (hi & 0x7fffffffu) == 0x7f800000u ? ldexp(1.0, 128) : fabs((double)from_bits(hi));
    if (a - vl < vh - a)
        return (uint16_t)(lo >> 16);
    if (a - vl > vh - a)
        return (uint16_t)(hi >> 16);
    return (uint16_t)(((lo >> 16) & 1) ? hi >> 16 : lo >> 16);
}

static void every_bf16_should_round_trip_and_f32_round_to_nearest_even(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = dtype_bf16_to_f32((uint16_t)h);
        assert_int_equal(bits_of(f), h << 16);
        if (isnan(f))
            assert_int_equal(dtype_f32_to_bf16(f), h | 64); /* quieted, as ggml */
        else
            assert_int_equal(dtype_f32_to_bf16(f), h);
    }
    for (int i = 0; i < 1000000; i++) {
        uint32_t u = (uint32_t)rnd();
        if (i % 4 == 0)
            u = (u & 0xffff0000u) | 0x8000u; /* an exact tie */
        float f = from_bits(u);
        if (isnan(f)) {
            assert_true(isnan(dtype_bf16_to_f32(dtype_f32_to_bf16(f))));
            continue;
        }
        assert_int_equal(dtype_f32_to_bf16(f), bf16_nearest_ref(f));
    }
}

/* ---- Q8_0 / Q4_0 ----------------------------------------------------------- */

/* Blocks that stress the arithmetic: random, exact .5 ties after scaling
 * (where roundf, rintf and truncation differ),
 * all zero, one large value, tiny values whose d underflows F16, negative
 * largest value (q4_0's sign rule), equal magnitudes of both signs. */
static void fill_block(float *x, int kind)
{
    for (int j = 0; j < 32; j++) {
        double g = ((double)(rnd() >> 11) / 9007199254740992.0 - 0.5) * 4.0;
        switch (kind % 9) {
        case 0: x[j] = (float)g; break;
        case 1: x[j] = j == 0 ? 127.0f : (float)(j - 16) + 0.5f; break; /* q8: d = 1, ties */
        case 2: x[j] = 0.0f; break;
        case 3: x[j] = j == 5 ? 1000.0f : (float)g * 1e-3f; break;
        case 4: x[j] = (float)g * 1e-9f; break;                         /* d below F16 */
        case 5: x[j] = j == 31 ? -7.0f : (float)g; break;
        case 6: x[j] = (j & 1) ? 3.0f : -3.0f; break;
        case 7: x[j] = (float)g * 6e4f; break;                          /* near F16 max */
        case 8: x[j] = j == 0 ? -8.0f : (float)(j - 16) * 0.5f; break;  /* q4: d = 1, ties */
        }
    }
}

static void quantizers_should_be_bit_exact_with_ggml_reference(void **state)
{
    (void)state;
    enum { NB = 512 };
    float *x = malloc(NB * 32 * sizeof(float));
    for (int b = 0; b < NB; b++)
        fill_block(x + b * 32, b);
    dtype_block_q8_0 *a8 = calloc(NB, sizeof *a8), *b8 = calloc(NB, sizeof *b8);
    dtype_block_q4_0 *a4 = calloc(NB, sizeof *a4), *b4 = calloc(NB, sizeof *b4);
    dtype_quantize_row_q8_0_ref(x, a8, NB * 32);
    ggml_q8_0_ref(x, b8, NB * 32);
    assert_memory_equal(a8, b8, NB * sizeof *a8);
    dtype_quantize_row_q4_0_ref(x, a4, NB * 32);
    ggml_q4_0_ref(x, b4, NB * 32);
    assert_memory_equal(a4, b4, NB * sizeof *a4);
    free(x);
    free(a8);
    free(b8);
    free(a4);
    free(b4);
}

static void dequantize_should_match_the_block_formulas(void **state)
{
    (void)state;
    dtype_block_q8_0 q8[2];
    dtype_block_q4_0 q4[2];
    float y[64];
    for (int b = 0; b < 2; b++) {
        q8[b].d = dtype_f32_to_f16(b ? 0.5f : -0.25f);
        q4[b].d = dtype_f32_to_f16(b ? 2.0f : 0.125f);
        for (int j = 0; j < 32; j++)
            q8[b].qs[j] = (int8_t)(j * 8 - 128);
        for (int j = 0; j < 16; j++)
            q4[b].qs[j] = (uint8_t)(j | ((15 - j) << 4));
    }
    dtype_to_f32_row(DTYPE_Q8_0, q8, y, 64);
    for (int b = 0; b < 2; b++)
        for (int j = 0; j < 32; j++)
            assert_true(y[b * 32 + j] == (float)(j * 8 - 128) * (b ? 0.5f : -0.25f));
    dtype_to_f32_row(DTYPE_Q4_0, q4, y, 64);
    for (int b = 0; b < 2; b++) {
        float d = b ? 2.0f : 0.125f;
        for (int j = 0; j < 16; j++) {
            assert_true(y[b * 32 + j] == (float)(j - 8) * d);
            assert_true(y[b * 32 + 16 + j] == (float)(15 - j - 8) * d);
        }
    }
    uint16_t h[3] = {0x3c00, 0xc000, 0x0001}, bf[2] = {0x3f80, 0xc040};
    dtype_to_f32_row(DTYPE_F16, h, y, 3);
    assert_true(y[0] == 1.0f && y[1] == -2.0f && y[2] == 0x1p-24f);
    dtype_to_f32_row(DTYPE_BF16, bf, y, 2);
    assert_true(y[0] == 1.0f && y[1] == -3.0f);
    float src[2] = {1.5f, -0.0f};
    dtype_to_f32_row(DTYPE_F32, src, y, 2);
    assert_memory_equal(y, src, sizeof src);
}

/* Round trip through the quantizers. With x = (q + r) d and y = q f16(d):
 * |y - x| <= |r| d + |q| |f16(d) - d|, where |f16(d) - d| <= d 2^-11 for a
 * normal half and <= 2^-25 (half the subnormal step) below it.
 *   Q8_0: |r| <= 1/2, |q| <= 127: 0.5 d + 127 d 2^-11 < 0.57 d, + 127 2^-25.
 *   Q4_0: d = amax/8 and the value +8 is clamped to 7, so |r| <= 1, |q| <= 8:
 *         d (1 + 2^-8) < d (1 + 2^-6), + 8 2^-25. */
static void quantize_then_dequantize_should_stay_within_half_a_step(void **state)
{
    (void)state;
    float x[32], y[32];
    dtype_block_q8_0 q8;
    dtype_block_q4_0 q4;
    for (int it = 0; it < 2000; it++) {
        fill_block(x, it);
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        dtype_quantize_row_q8_0_ref(x, &q8, 32);
        dtype_to_f32_row(DTYPE_Q8_0, &q8, y, 32);
        for (int j = 0; j < 32; j++)
            assert_true(fabsf(y[j] - x[j]) <= 0.57f * amax / 127 + 127 * 0x1p-25f);
        dtype_quantize_row_q4_0_ref(x, &q4, 32);
        dtype_to_f32_row(DTYPE_Q4_0, &q4, y, 32);
        for (int j = 0; j < 32; j++)
            assert_true(fabsf(y[j] - x[j]) <= (amax / 8) * (1.0f + 0x1p-6f) + 8 * 0x1p-25f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes_should_match_ggml_block_layouts),
        cmocka_unit_test(every_f16_should_convert_exactly_and_round_trip),
        cmocka_unit_test(f16_row_conversion_should_equal_the_reference_for_every_half),
        cmocka_unit_test(f32_to_f16_should_round_to_nearest_even_like_ggml),
        cmocka_unit_test(every_bf16_should_round_trip_and_f32_round_to_nearest_even),
        cmocka_unit_test(quantizers_should_be_bit_exact_with_ggml_reference),
        cmocka_unit_test(dequantize_should_match_the_block_formulas),
        cmocka_unit_test(quantize_then_dequantize_should_stay_within_half_a_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
