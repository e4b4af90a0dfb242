/*
 * codec_avx512: AVX-512 decoders of q4_0, q8_0 and affine 4-bit, chosen at
 * run time over the AVX2 ones (codec_avx512_setup; encoders stay AVX2).
 * Same contract as codec_avx2.c: the reference's float operations in its
 * order (a multiply, then for affine an add; no FMA), scales widened from
 * F16 exactly (F16C), so the floats equal the _ref path's bit for bit
 * (tests/engine/test_codec_simd.c runs every level).
 *
 * What makes them faster than AVX2: 16 values per instruction, so a q4_0
 * block is two 64-byte stores, and two blocks per iteration keep the
 * store port busy; the working set (64 Ki values) sits in L2, where the
 * AVX2 decoders were bound by instruction count rather than bandwidth.
 */
#include "codec_internal.h"

#include "cpu.h"
#include "dtype.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* AVX-512F with the OS saving ZMM state (cpu.h checks XCR0), on top of the
 * AVX2 level (F16C among it). */
int codec_cpu_has_avx512(void)
{
    return codec_cpu_has_avx2() && cpu_get_features()->avx512f;
}

#define AVX512 __attribute__((target("avx512f,f16c")))

AVX512 static inline __m512 f16_scale16(const uint8_t *p)
{
    return _mm512_set1_ps(_cvtsh_ss(codec_rd16(p)));
}

/* 16 code bytes -> their low and high nibbles as 16 int32 each. */
AVX512 static inline void nibbles(const uint8_t *p, __m512i *lo, __m512i *hi)
{
    const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
    const __m128i mask = _mm_set1_epi8(0x0f);
    *lo = _mm512_cvtepu8_epi32(_mm_and_si128(b, mask));
    *hi = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(b, 4), mask));
}

/* q4_0: y[j] = (q[j] - 8) d, q[j] the low nibble of byte j and q[j + 16]
 * its high nibble. */
AVX512 static void q4_0_decode_avx512(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    (void)c;
    const __m512i eight = _mm512_set1_epi32(8);
    const size_t bs = sizeof(dtype_block_q4_0);
    size_t b = 0;
    for (; b + 2 <= nb; b += 2, y += 64, in += 2 * bs) {
        __m512i l0, h0, l1, h1;
        const __m512 d0 = f16_scale16(in), d1 = f16_scale16(in + bs);
        nibbles(in + 2, &l0, &h0);
        nibbles(in + bs + 2, &l1, &h1);
        _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(l0, eight)), d0));
        _mm512_storeu_ps(y + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(h0, eight)), d0));
        _mm512_storeu_ps(y + 32, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(l1, eight)), d1));
        _mm512_storeu_ps(y + 48, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(h1, eight)), d1));
    }
    for (; b < nb; b++, y += 32, in += bs) {
        __m512i l, h;
        const __m512 d = f16_scale16(in);
        nibbles(in + 2, &l, &h);
        _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(l, eight)), d));
        _mm512_storeu_ps(y + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(h, eight)), d));
    }
}

/* q8_0: y[j] = q[j] d, q signed bytes. */
AVX512 static void q8_0_decode_avx512(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    (void)c;
    const size_t bs = sizeof(dtype_block_q8_0);
    for (size_t b = 0; b < nb; b++, y += 32, in += bs) {
        const __m512 d = f16_scale16(in);
        const __m128i p0 = _mm_loadu_si128((const __m128i *)(const void *)(in + 2));
        const __m128i p1 = _mm_loadu_si128((const __m128i *)(const void *)(in + 18));
        _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(p0)), d));
        _mm512_storeu_ps(y + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(p1)), d));
    }
}

/* affine 4-bit, group g: F16 s, F16 m, then byte j = q[j] | q[j + g/2] << 4;
 * y = m + q s (multiply, then add: the reference's two roundings). */
AVX512 static void affine4_decode_avx512(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    const int g = c->spec.group, h = g / 2;
    for (size_t b = 0; b < nb; b++, y += g, in += c->arm_bytes) {
        const __m512 s = f16_scale16(in), m = f16_scale16(in + 2);
        for (int j = 0; j < h; j += 16) {
            __m512i lo, hi;
            nibbles(in + 4 + j, &lo, &hi);
            _mm512_storeu_ps(y + j, _mm512_add_ps(m, _mm512_mul_ps(_mm512_cvtepi32_ps(lo), s)));
            _mm512_storeu_ps(y + j + h,
                             _mm512_add_ps(m, _mm512_mul_ps(_mm512_cvtepi32_ps(hi), s)));
        }
    }
}

void codec_avx512_setup(codec *c)
{
    if (!codec_cpu_has_avx512())
        return;
    codec_dec_fn dec = NULL;
    if (c->spec.kind == CODEC_KIND_Q4_0)
        dec = q4_0_decode_avx512;
    else if (c->spec.kind == CODEC_KIND_Q8_0)
        dec = q8_0_decode_avx512;
    else if (c->spec.kind == CODEC_KIND_AFFINE && c->spec.axis == CODEC_AXIS_ROW &&
             c->spec.bits == 4)
        dec = affine4_decode_avx512;
    if (dec) {
        c->dec_avx512 = dec;
        c->dec = dec;
        c->fast_name = "avx512";
    }
}

#else /* not x86-64: no AVX-512 */
int codec_cpu_has_avx512(void) { return 0; }
void codec_avx512_setup(codec *c) { (void)c; }
#endif
