/*
 * codec_avx2: AVX2 paths of the affine (4-bit), q4_0 and q8_0 arms, chosen
 * at run time (codec_cpu_has_avx2). Each writes the bytes its _ref path
 * writes and decodes to the same floats (tests/engine/test_codec_simd.c):
 * the same float operations in the same order per value (no FMA
 * contraction: a fused multiply-add rounds once where the reference
 * rounds twice), scalar F16 conversions of the per-block scales.
 * Non-x86 builds compile the portable stubs at the end and never call them.
 */
#include "codec_internal.h"

#include <math.h>
#include <string.h>

#include "cpu.h"
#include "dtype.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* The decoders convert scales with F16C, so the AVX2 level needs both
 * (engine/cpu.h reads CPUID once for the whole engine). */
int codec_cpu_has_avx2(void)
{
    const cpu_features *cf = cpu_get_features();
    return cf->avx2 && cf->f16c;
}

#define AVX2 __attribute__((target("avx2,f16c")))

/* F16 -> F32 of a scale by F16C: exact, as dtype_f16_to_f32 (the
 * conversion widens, it never rounds; NaN payloads aside, and scales are
 * finite for finite input). Inline, where the integer reference is a call
 * per block (a third of the AVX2 decoders' time before). */
AVX2 static inline float f16_scale(const uint8_t *p) { return _cvtsh_ss(codec_rd16(p)); }

/* F32 -> F16, round to nearest even, overflow to inf: what
 * dtype_f32_to_f16 computes (ggml's F16C path uses this same instruction)
 * for every non-NaN input, inline instead of a call per block. */
AVX2 static inline uint16_t f16_round(float x)
{
    return (uint16_t)_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/* 16 int32 (two vectors, each value <= 255) -> 16 bytes in order. */
AVX2 static inline __m128i pack16_u8(__m256i a, __m256i b)
{
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
    return _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

AVX2 static inline float hmax8(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

AVX2 static inline float hmin8(__m256 v)
{
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

/* ---- affine ---------------------------------------------------------------- */

/* The first of x[0..g) that equals zero, with its sign; called only when
 * the group's min or max is zero, so one is there. */
static float first_zero(const float *x, int g)
{
    for (int j = 0; j < g; j++)
        if (x[j] == 0.0f)
            return x[j];
    return 0.0f;
}

/* 4 bits: byte j = q[j] | q[j + G/2] << 4 (codec_affine.c). */
AVX2 void codec_affine_encode_avx2(codec *c, const float *x, size_t nb, uint8_t *out)
{
    const int g = c->spec.group;
    const float levels = 15.0f;
    for (size_t b = 0; b < nb; b++, x += g, out += c->arm_bytes) {
        __m256 vlo = _mm256_loadu_ps(x), vhi = vlo;
        for (int j = 8; j < g; j += 8) {
            const __m256 v = _mm256_loadu_ps(x + j);
            vlo = _mm256_min_ps(vlo, v);
            vhi = _mm256_max_ps(vhi, v);
        }
        float lo = hmin8(vlo), hi = hmax8(vhi);
        /* the reference keeps the first of equal values, which only shows
         * for zeros (-0 == +0): vminps/vmaxps keep the second operand, and
         * the sign reaches the stored F16 minimum and scale */
        if (lo == 0.0f)
            lo = first_zero(x, g);
        if (hi == 0.0f)
            hi = first_zero(x, g);
        const uint16_t s16 = f16_round((hi - lo) / levels);
        const uint16_t m16 = f16_round(lo);
        const float s = _cvtsh_ss(s16), m = _cvtsh_ss(m16);
        const float inv = s != 0.0f ? 1.0f / s : 0.0f;
        const __m256 vm = _mm256_set1_ps(m), vinv = _mm256_set1_ps(inv),
                     half = _mm256_set1_ps(0.5f), zero = _mm256_setzero_ps(),
                     top = _mm256_set1_ps(levels);
        codec_wr16(out, s16);
        codec_wr16(out + 2, m16);
        const int h = g / 2;
        for (int j = 0; j < h; j += 16) {
            __m256i q[4];
            for (int t = 0; t < 4; t++) {
                const int o = (t & 1) * 8 + (t >> 1) * h;
                __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j + o), vm), vinv);
                v = _mm256_floor_ps(_mm256_add_ps(v, half));
                v = _mm256_min_ps(_mm256_max_ps(v, zero), top);
                q[t] = _mm256_cvttps_epi32(v);
            }
            const __m256i lo8 = _mm256_or_si256(q[0], _mm256_slli_epi32(q[2], 4));
            const __m256i hi8 = _mm256_or_si256(q[1], _mm256_slli_epi32(q[3], 4));
            _mm_storeu_si128((__m128i *)(void *)(out + 4 + j), pack16_u8(lo8, hi8));
        }
    }
}

AVX2 void codec_affine_decode_avx2(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    const int g = c->spec.group, h = g / 2;
    const __m128i mask = _mm_set1_epi8(0x0f);
    for (size_t b = 0; b < nb; b++, y += g, in += c->arm_bytes) {
        const __m256 s = _mm256_set1_ps(f16_scale(in));
        const __m256 m = _mm256_set1_ps(f16_scale(in + 2));
        for (int j = 0; j < h; j += 16) {
            const __m128i p = _mm_loadu_si128((const __m128i *)(const void *)(in + 4 + j));
            const __m128i lo = _mm_and_si128(p, mask);
            const __m128i hi = _mm_and_si128(_mm_srli_epi16(p, 4), mask);
            const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
            for (int t = 0; t < 4; t++) {
                const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(parts[t]));
                const int o = (t & 1) * 8 + (t >> 1) * h;
                _mm256_storeu_ps(y + j + o, _mm256_add_ps(m, _mm256_mul_ps(q, s)));
            }
        }
    }
}

/* ---- q4_0 ------------------------------------------------------------------ */

AVX2 void codec_q4_0_encode_avx2(codec *c, const float *x, size_t nb, uint8_t *out)
{
    (void)c;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (size_t b = 0; b < nb; b++, x += 32, out += sizeof(dtype_block_q4_0)) {
        __m256 v[4], a = _mm256_setzero_ps();
        for (int t = 0; t < 4; t++) {
            v[t] = _mm256_loadu_ps(x + 8 * t);
            a = _mm256_max_ps(a, _mm256_and_ps(v[t], absmask));
        }
        /* ggml keeps the signed value of the first largest magnitude */
        const float amax = hmax8(a);
        float max = 0.0f;
        if (amax > 0.0f) {
            const __m256 va = _mm256_set1_ps(amax);
            for (int t = 0; t < 4; t++) {
                const int m = _mm256_movemask_ps(
                    _mm256_cmp_ps(_mm256_and_ps(v[t], absmask), va, _CMP_EQ_OQ));
                if (m) {
                    max = x[8 * t + __builtin_ctz((unsigned)m)];
                    break;
                }
            }
        }
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        codec_wr16(out, f16_round(d));
        const __m256 vid = _mm256_set1_ps(id), off = _mm256_set1_ps(8.5f);
        const __m256i fifteen = _mm256_set1_epi32(15);
        __m256i q[4];
        for (int t = 0; t < 4; t++)
            q[t] = _mm256_min_epi32(
                _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(v[t], vid), off)), fifteen);
        const __m256i lo8 = _mm256_or_si256(q[0], _mm256_slli_epi32(q[2], 4));
        const __m256i hi8 = _mm256_or_si256(q[1], _mm256_slli_epi32(q[3], 4));
        _mm_storeu_si128((__m128i *)(void *)(out + 2), pack16_u8(lo8, hi8));
    }
}

AVX2 void codec_q4_0_decode_avx2(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    (void)c;
    const __m128i mask = _mm_set1_epi8(0x0f);
    const __m256i eight = _mm256_set1_epi32(8);
    for (size_t b = 0; b < nb; b++, y += 32, in += sizeof(dtype_block_q4_0)) {
        const __m256 d = _mm256_set1_ps(f16_scale(in));
        const __m128i p = _mm_loadu_si128((const __m128i *)(const void *)(in + 2));
        const __m128i lo = _mm_and_si128(p, mask);
        const __m128i hi = _mm_and_si128(_mm_srli_epi16(p, 4), mask);
        const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
        for (int t = 0; t < 4; t++) {
            const __m256i q = _mm256_sub_epi32(_mm256_cvtepu8_epi32(parts[t]), eight);
            _mm256_storeu_ps(y + 8 * t, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
        }
    }
}

/* ---- q8_0 ------------------------------------------------------------------ */

/* roundf (half away from zero) exactly: r = trunc(t), and one more unit
 * away from zero when the dropped fraction |t - r| (exact) is >= 1/2. */
AVX2 static inline __m256 round_away(__m256 t)
{
    const __m256 r = _mm256_round_ps(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 frac = _mm256_and_ps(_mm256_sub_ps(t, r), absmask);
    const __m256 ge = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_andnot_ps(absmask, t));
    return _mm256_add_ps(r, _mm256_and_ps(ge, one));
}

AVX2 void codec_q8_0_encode_avx2(codec *c, const float *x, size_t nb, uint8_t *out)
{
    (void)c;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (size_t b = 0; b < nb; b++, x += 32, out += sizeof(dtype_block_q8_0)) {
        __m256 v[4], a = _mm256_setzero_ps();
        for (int t = 0; t < 4; t++) {
            v[t] = _mm256_loadu_ps(x + 8 * t);
            a = _mm256_max_ps(a, _mm256_and_ps(v[t], absmask));
        }
        const float d = hmax8(a) / ((1 << 7) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        codec_wr16(out, f16_round(d));
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int t = 0; t < 4; t++)
            q[t] = _mm256_cvttps_epi32(round_away(_mm256_mul_ps(v[t], vid)));
        /* the low byte of each int32, as the reference's cast (dtype.h
         * dtype_cvtt_i32: INT32_MIN from an Inf or NaN product stores 0;
         * a saturating pack would store -128), packed unsigned with the
         * lane interleave undone */
        const __m256i low = _mm256_set1_epi32(0xff);
        for (int t = 0; t < 4; t++)
            q[t] = _mm256_and_si256(q[t], low);
        const __m256i w01 = _mm256_packus_epi32(q[0], q[1]), w23 = _mm256_packus_epi32(q[2], q[3]);
        const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w01, w23),
                                                          _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(void *)(out + 2), bytes);
    }
}

AVX2 void codec_q8_0_decode_avx2(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    (void)c;
    for (size_t b = 0; b < nb; b++, y += 32, in += sizeof(dtype_block_q8_0)) {
        const __m256 d = _mm256_set1_ps(f16_scale(in));
        for (int t = 0; t < 4; t++) {
            const __m128i p = _mm_loadl_epi64((const __m128i *)(const void *)(in + 2 + 8 * t));
            const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(p));
            _mm256_storeu_ps(y + 8 * t, _mm256_mul_ps(q, d));
        }
    }
}

#else /* not x86-64: no fast paths */
int codec_cpu_has_avx2(void) { return 0; }
void codec_affine_encode_avx2(codec *c, const float *x, size_t nb, uint8_t *out)
{ (void)c; (void)x; (void)nb; (void)out; }
void codec_affine_decode_avx2(const codec *c, const uint8_t *in, size_t nb, float *y)
{ (void)c; (void)in; (void)nb; (void)y; }
void codec_q4_0_encode_avx2(codec *c, const float *x, size_t nb, uint8_t *out)
{ (void)c; (void)x; (void)nb; (void)out; }
void codec_q4_0_decode_avx2(const codec *c, const uint8_t *in, size_t nb, float *y)
{ (void)c; (void)in; (void)nb; (void)y; }
void codec_q8_0_encode_avx2(codec *c, const float *x, size_t nb, uint8_t *out)
{ (void)c; (void)x; (void)nb; (void)out; }
void codec_q8_0_decode_avx2(const codec *c, const uint8_t *in, size_t nb, float *y)
{ (void)c; (void)in; (void)nb; (void)y; }
#endif
