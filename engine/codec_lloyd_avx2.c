/*
 * codec_lloyd_avx2: AVX2 paths of lloyd and turbo (the same arm after a
 * rotation), and AVX2 butterflies for the randomized Hadamard rotation
 * every rotated codec's fast path uses. Each computes what its scalar
 * twin computes, value for value (tests/engine/test_codec_simd.c compares
 * the bytes and the floats):
 *   - the scale: the sum of squares in double over four interleaved partial
 *     sums, the order codec_lloyd_sumsq fixes for both paths; the F16/BF16
 *     scale itself through the shared scalar code;
 *   - an index: u = x * inv (one float product), then the count of
 *     thresholds below u, which is what the scalar scan stops at
 *     (thresholds ascend; a NaN compares below none: 0 either way);
 *   - 8 indices of B bits are B bytes of the little-endian bit stream:
 *     sum idx_j << (B j), written low byte first;
 *   - decode: level[idx] (a permute of the 8 or 16 levels) times the
 *     scale, one float product as in the scalar path;
 *   - a butterfly is a + b and a - b of the same two floats on either
 *     path; the sign and 1/sqrt(dim) products are the scalar ones.
 * Non-x86 builds compile the stubs at the end and never call them.
 */
#include "codec_internal.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,f16c")))

/* The sum of squares of g values (a multiple of 8) as codec_lloyd_sumsq
 * orders it: lane j of one register of four doubles is partial sum j. */
AVX2 static double sumsq(const float *x, int g)
{
    __m256d acc = _mm256_setzero_pd();
    for (int i = 0; i < g; i += 4) {
        const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
        acc = _mm256_add_pd(acc, _mm256_mul_pd(v, v));
    }
    double s[4];
    _mm256_storeu_pd(s, acc);
    return (s[0] + s[1]) + (s[2] + s[3]);
}

AVX2 void codec_lloyd_encode_avx2(codec *c, const float *x, size_t nb, uint8_t *out)
{
    const int g = c->spec.group, B = c->spec.bits, nt = (1 << B) - 1;
    __m256 th[15];
    for (int k = 0; k < nt; k++)
        th[k] = _mm256_set1_ps(c->lloyd_thresh[k]);
    const __m256i shifts = _mm256_mullo_epi32(_mm256_set1_epi32(B),
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (size_t b = 0; b < nb; b++, x += g, out += c->arm_bytes) {
        float s;
        codec_wr16(out, codec_lloyd_scale(c, sumsq(x, g), &s));
        const __m256 inv = _mm256_set1_ps(s > 0.0f ? 1.0f / s : 0.0f);
        uint8_t *p = out + 2;
        for (int i = 0; i < g; i += 8) {
            const __m256 u = _mm256_mul_ps(_mm256_loadu_ps(x + i), inv);
            __m256i k = _mm256_setzero_si256();
            for (int t = 0; t < nt; t++) /* a true compare is -1: subtract it */
                k = _mm256_sub_epi32(k, _mm256_castps_si256(_mm256_cmp_ps(u, th[t], _CMP_GT_OQ)));
            /* 8 indices of B bits -> one 8B-bit word: shift each into place, OR the lanes */
            __m256i w = _mm256_sllv_epi32(k, shifts);
            __m128i h = _mm_or_si128(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
            h = _mm_or_si128(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
            h = _mm_or_si128(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
            const uint32_t word = (uint32_t)_mm_cvtsi128_si32(h);
            for (int k8 = 0; k8 < B; k8++)
                p[(i / 8) * B + k8] = (uint8_t)(word >> (8 * k8));
        }
    }
}

AVX2 void codec_lloyd_decode_avx2(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    const int g = c->spec.group, B = c->spec.bits;
    const __m256 lo = _mm256_loadu_ps(c->lloyd_levels);
    const __m256 hi = _mm256_loadu_ps(c->lloyd_levels + 8); /* B = 4 only */
    const __m256i shifts = _mm256_mullo_epi32(_mm256_set1_epi32(B),
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i mask = _mm256_set1_epi32((1 << B) - 1);
    for (size_t b = 0; b < nb; b++, y += g, in += c->arm_bytes) {
        const __m256 s = _mm256_set1_ps(codec_lloyd_get_scale(codec_rd16(in)));
        const uint8_t *p = in + 2;
        for (int i = 0; i < g; i += 8) {
            uint32_t word = 0;
            for (int k8 = 0; k8 < B; k8++)
                word |= (uint32_t)p[(i / 8) * B + k8] << (8 * k8);
            const __m256i k = _mm256_and_si256(
                _mm256_srlv_epi32(_mm256_set1_epi32((int)word), shifts), mask);
            __m256 v = _mm256_permutevar8x32_ps(lo, k);
            if (B == 4) /* indices 8..15 from the upper table */
                v = _mm256_blendv_ps(v, _mm256_permutevar8x32_ps(hi, k),
                                     _mm256_castsi256_ps(_mm256_slli_epi32(k, 28)));
            _mm256_storeu_ps(y + i, _mm256_mul_ps(v, s));
        }
    }
}

/* ---- Hadamard ------------------------------------------------------------- */

/* In-register butterflies of spans 1, 2 and 4 within each 8 floats, then
 * spans of 8 and more across registers: each output is a + b or a - b of
 * the floats the scalar loop pairs, computed once, so the same floats. */
AVX2 static void fwht(float *x, int dim)
{
    const __m256 neg1 = _mm256_setr_ps(1, -1, 1, -1, 1, -1, 1, -1);
    const __m256 neg2 = _mm256_setr_ps(1, 1, -1, -1, 1, 1, -1, -1);
    const __m256 neg4 = _mm256_setr_ps(1, 1, 1, 1, -1, -1, -1, -1);
    for (int i = 0; i < dim; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        /* span 1: (a, b) -> (a + b, a - b) as partner + v * (+-1): the
         * product is exact and a + (-b) is a - b exactly (IEEE 754
         * defines subtraction so, signed zeros included) */
        __m256 sw = _mm256_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1));
        v = _mm256_add_ps(_mm256_mul_ps(v, neg1), sw); /* (a + b, -b + a = a - b) */
        sw = _mm256_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2));
        v = _mm256_add_ps(_mm256_mul_ps(v, neg2), sw);
        sw = _mm256_permute2f128_ps(v, v, 0x01);
        v = _mm256_add_ps(_mm256_mul_ps(v, neg4), sw);
        _mm256_storeu_ps(x + i, v);
    }
    for (int h = 8; h < dim; h <<= 1)
        for (int i = 0; i < dim; i += h << 1)
            for (int j = i; j < i + h; j += 8) {
                const __m256 a = _mm256_loadu_ps(x + j), b = _mm256_loadu_ps(x + j + h);
                _mm256_storeu_ps(x + j, _mm256_add_ps(a, b));
                _mm256_storeu_ps(x + j + h, _mm256_sub_ps(a, b));
            }
}

AVX2 void codec_hadamard_forward_avx2(float *x, const float *signs, int dim)
{
    const __m256 s = _mm256_set1_ps(1.0f / sqrtf((float)dim));
    for (int i = 0; i < dim; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(signs + i)));
    fwht(x, dim);
    for (int i = 0; i < dim; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), s));
}

AVX2 void codec_hadamard_inverse_avx2(float *x, const float *signs, int dim)
{
    const float s = 1.0f / sqrtf((float)dim);
    fwht(x, dim);
    for (int i = 0; i < dim; i += 8) /* s * sign first, as the scalar loop */
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i),
                                              _mm256_mul_ps(_mm256_set1_ps(s),
                                                            _mm256_loadu_ps(signs + i))));
}

#else

void codec_lloyd_encode_avx2(codec *c, const float *x, size_t nb, uint8_t *out)
{
    (void)c, (void)x, (void)nb, (void)out;
}
void codec_lloyd_decode_avx2(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    (void)c, (void)in, (void)nb, (void)y;
}
void codec_hadamard_forward_avx2(float *x, const float *signs, int dim)
{
    (void)x, (void)signs, (void)dim;
}
void codec_hadamard_inverse_avx2(float *x, const float *signs, int dim)
{
    (void)x, (void)signs, (void)dim;
}

#endif
