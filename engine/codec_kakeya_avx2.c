/*
 * codec_kakeya_avx2: the fast path of kl_d4 / kl_e8 (codec_kakeya.c). The
 * same bytes and floats as the _ref path (tests/engine/test_codec_simd.c):
 *   - qmax, the largest |x|, by AVX2 max (max is exact and order-free);
 *   - the scaled coordinates x * (Q / qmax), one float product per value
 *     as in the scalar path; E8's nearest point in one register (the same
 *     rounding, the same coordinate moved, the same double distances),
 *     D4's through the shared codec_kakeya_quantize;
 *   - the rank's mixed-radix arithmetic in 64-bit integers when the cube's
 *     point count fits (every D4 point; E8 up to Q = 126), where the _ref
 *     path always uses 128-bit: exact integer arithmetic either way, so
 *     the same ranks; a 128-bit division is a library call per digit, so
 *     this is most of the decoder's gain; Q above 126 on E8 falls back to
 *     the 128-bit code;
 *   - decode: (d + coset / 2) * step per value, one float product, AVX2.
 * Non-x86 builds compile the stubs at the end and never call them.
 */
#include "codec_internal.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,f16c")))

/* nbits (<= 57) of v at bit bitpos of a zeroed, little-endian bit stream,
 * a byte at a time (the shared helper goes a bit at a time). */
static inline void put_bits(uint8_t *p, size_t bitpos, int nbits, uint64_t v)
{
    p += bitpos / 8;
    const int sh = (int)(bitpos % 8);
    v = (nbits < 64 ? v & ((1ull << nbits) - 1) : v) << sh;
    for (int o = 0; o < sh + nbits; o += 8)
        *p++ |= (uint8_t)(v >> o);
}

static inline uint64_t get_bits(const uint8_t *p, size_t bitpos, int nbits)
{
    p += bitpos / 8;
    const int sh = (int)(bitpos % 8);
    uint64_t v = 0;
    for (int o = 0; o < sh + nbits; o += 8)
        v |= (uint64_t)*p++ << o;
    return (v >> sh) & (nbits < 64 ? (1ull << nbits) - 1 : ~0ull);
}

AVX2 static float max_abs(const float *x, int g)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int i = 0; i < g; i += 8)
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
}

/* codec_kakeya.c's nearest_dn for 8 values clamped into the cube, in one
 * register: lrintf is round-to-nearest-even, as _mm256_round_ps; the
 * coordinate to move is the first with the largest |y - r| (the scalar
 * scan keeps the first on ties); the move is the scalar rule's. */
AVX2 static void nearest_d8(__m256 y, int32_t *r)
{
    const __m256 rf = _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i ri = _mm256_cvtps_epi32(rf);
    _mm256_storeu_si256((__m256i *)r, ri);
    __m128i sv = _mm_add_epi32(_mm256_castsi256_si128(ri), _mm256_extracti128_si256(ri, 1));
    sv = _mm_add_epi32(sv, _mm_shuffle_epi32(sv, _MM_SHUFFLE(1, 0, 3, 2)));
    sv = _mm_add_epi32(sv, _mm_shuffle_epi32(sv, _MM_SHUFFLE(2, 3, 0, 1)));
    if (!(_mm_cvtsi128_si32(sv) & 1))
        return;
    const __m256 e = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(y, rf));
    __m256 m = _mm256_max_ps(e, _mm256_permute_ps(e, _MM_SHUFFLE(2, 3, 0, 1)));
    m = _mm256_max_ps(m, _mm256_permute_ps(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm256_max_ps(m, _mm256_permute2f128_ps(m, m, 0x01));
    const int w = __builtin_ctz((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(e, m, _CMP_EQ_OQ)));
    float yv[8];
    _mm256_storeu_ps(yv, y);
    const float d = yv[w] - (float)r[w];
    r[w] += d > 0.0f ? 1 : d < 0.0f ? -1 : (r[w] > 0 ? -1 : 1);
}

/* codec_kakeya_quantize for E8 (n = 8): the D8 point and the coset's,
 * compared by their squared distances summed in double in index order. */
AVX2 static int quantize_e8(int q, const float *y_in, int32_t *d)
{
    const __m256 qv = _mm256_set1_ps((float)q), lim = _mm256_set1_ps((float)q - 0.5f);
    /* min/max, not the scalar ternaries: the same for finite input */
    const __m256 y = _mm256_max_ps(_mm256_min_ps(_mm256_loadu_ps(y_in), qv),
                                   _mm256_sub_ps(_mm256_setzero_ps(), qv));
    int32_t a[8], h[8];
    nearest_d8(y, a);
    const __m256 yc = _mm256_sub_ps(
        _mm256_max_ps(_mm256_min_ps(y, lim), _mm256_sub_ps(_mm256_setzero_ps(), lim)),
        _mm256_set1_ps(0.5f));
    nearest_d8(yc, h);
    float yv[8];
    _mm256_storeu_ps(yv, y);
    double da = 0.0, dh = 0.0;
    for (int i = 0; i < 8; i++) {
        da += ((double)yv[i] - a[i]) * ((double)yv[i] - a[i]);
        dh += ((double)yv[i] - (h[i] + 0.5)) * ((double)yv[i] - (h[i] + 0.5));
    }
    const int coset = dh < da;
    memcpy(d, coset ? h : a, sizeof a);
    return coset;
}

AVX2 void codec_kakeya_encode_avx2(codec *c, const float *x, size_t nb, uint8_t *out)
{
    const int g = c->spec.group, n = c->lat_n, q = c->spec.q, bits = c->kl_bits;
    const int rbits = bits - (n == 8 ? 1 : 0);
    const uint64_t R = (uint64_t)(2 * q + 1);
    for (size_t b = 0; b < nb; b++, x += g, out += c->arm_bytes) {
        const float m = max_abs(x, g);
        memcpy(out, &m, sizeof m);
        uint8_t *p = out + 4;
        memset(p, 0, c->arm_bytes - 4);
        const __m256 inv = _mm256_set1_ps(m > 0.0f ? (float)q / m : 0.0f);
        float y[CODEC_MAX_ARM_VALUES];
        for (int i = 0; i < g; i += 8)
            _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
        for (int k = 0; k < g / n; k++) {
            int32_t a[8];
            const int coset = n == 8 ? quantize_e8(q, y + k * n, a)
                                     : codec_kakeya_quantize(n, q, y + k * n, a);
            const size_t at = (size_t)k * (size_t)bits;
            uint64_t idx = 0;
            for (int i = 0; i < n; i++)
                idx = idx * R + (uint64_t)(a[i] + q);
            const uint64_t rank = idx / 2;
            /* the coset bit, then the rank's bits: at most 57 at a time */
            if (n == 8)
                put_bits(p, at, 1, (uint64_t)coset);
            const size_t o = at + (n == 8 ? 1 : 0);
            put_bits(p, o, rbits < 32 ? rbits : 32, rank & 0xffffffffu);
            if (rbits > 32)
                put_bits(p, o + 32, rbits - 32, rank >> 32);
        }
    }
}

AVX2 void codec_kakeya_decode_avx2(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    const int g = c->spec.group, n = c->lat_n, q = c->spec.q, bits = c->kl_bits;
    const int rbits = bits - (n == 8 ? 1 : 0);
    const uint64_t R = (uint64_t)(2 * q + 1);
    for (size_t b = 0; b < nb; b++, y += g, in += c->arm_bytes) {
        float m;
        memcpy(&m, in, sizeof m);
        const __m256 step = _mm256_set1_ps(m / (float)q);
        const uint8_t *p = in + 4;
        float v[CODEC_MAX_ARM_VALUES];
        for (int k = 0; k < g / n; k++) {
            const size_t at = (size_t)k * (size_t)bits;
            const int coset = n == 8 ? (int)get_bits(p, at, 1) : 0;
            const size_t o = at + (n == 8 ? 1 : 0);
            uint64_t rank = get_bits(p, o, rbits < 32 ? rbits : 32);
            if (rbits > 32)
                rank |= get_bits(p, o + 32, rbits - 32) << 32;
            uint64_t idx = rank * 2;
            for (int i = n - 1; i >= 0; i--) {
                v[k * n + i] = (float)((int32_t)(idx % R) - q) + (coset ? 0.5f : 0.0f);
                idx /= R;
            }
        }
        for (int i = 0; i < g; i += 8)
            _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(v + i), step));
    }
}

#else

void codec_kakeya_encode_avx2(codec *c, const float *x, size_t nb, uint8_t *out)
{
    (void)c, (void)x, (void)nb, (void)out;
}
void codec_kakeya_decode_avx2(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    (void)c, (void)in, (void)nb, (void)y;
}

#endif
