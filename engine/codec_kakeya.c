/*
 * codec_kakeya: the KakeyaLattice codecs (kl_d4:q=Q, kl_e8:q=Q), the source
 * project's own K/V codec (FluffyAIcode/LLM-KV--Cache-compress, v1.4 D4 and
 * v1.5 E8), for comparison at matched real bytes. See codec.h for the spec.
 *
 * A block is one vector of `group` values (128: a head), already rotated by
 * the randomized Hadamard transform (codec.c does it, dim = group):
 *   - qmax, the largest |coordinate|, as a 32-bit float: the vector's
 *     adaptive range; the step is qmax / Q, so coordinates scale into
 *     [-Q, Q];
 *   - then every 4 (D4) or 8 (E8) coordinates as one lattice point in the
 *     cube [-Q, Q]^n, written as its rank among the cube's points:
 *       D4 = integer points with an even sum: the mixed-radix index
 *         I = sum (c_i + Q) R^(n-1-i), R = 2Q + 1, is even exactly when the
 *         sum is (R is odd), so rank = I / 2, ceil(log2((R^4 + 1) / 2)) bits;
 *       E8 = D8 u (D8 + 1/2): a coset bit, then the D8 point d (for the
 *         half-integer coset d = p - 1/2, in [-Q, Q-1]^8) ranked the same
 *         way over [-Q, Q]^8.
 * Bits per value at group 128: D4 Q = 4/10/38/152 -> 3.25/4.5/6.5/8.5, E8
 * -> 3.5/4.75/6.625/8.625 (every byte counted, the 32-bit qmax included),
 * the source project's operating points.
 *
 * Closest point in the cube (Conway and Sloane, "Fast quantizing and
 * decoding algorithms for lattice quantizers", 1982): round every
 * coordinate; if the sum is odd, move the coordinate whose rounding erred
 * most one step toward its value. The scaled coordinates lie in [-Q, Q], so
 * the rounded point and the moved one stay in the cube (moving toward the
 * value never leaves it); E8 takes the nearer of the D8 point and the
 * coset's (its input clamped to [-Q + 1/2, Q - 1/2] so that d stays in
 * range: the source project's "parity clamp").
 *
 * Ranks need up to 67 bits (E8 at Q = 152), so the _ref path's are
 * 128-bit integers (a GCC/Clang extension, marked __extension__); the
 * AVX2 path (codec_kakeya_avx2.c) uses 64-bit ranks where they fit.
 */
#include "codec_internal.h"
#include "lattice_point.h"

#include <math.h>
#include <string.h>

CODEC_REF_SCALAR_FILE

__extension__ typedef unsigned __int128 kl_u128;

/* ceil(log2(x)) of x >= 1 */
static int ceil_log2(kl_u128 x)
{
    int b = 0;
    while (((kl_u128)1 << b) < x)
        b++;
    return b;
}

/* The points of D_n in [-Q, Q]^n: ((2Q+1)^n + 1) / 2. */
static kl_u128 dn_count(int n, int q)
{
    kl_u128 r = 1;
    for (int i = 0; i < n; i++)
        r *= (kl_u128)(2 * q + 1);
    return (r + 1) / 2;
}

int codec_kakeya_block_bits(int n, int q)
{
    return ceil_log2(dn_count(n, q)) + (n == 8 ? 1 : 0);
}

static kl_u128 rank_of(int n, int q, const int32_t *d)
{
    const kl_u128 R = (kl_u128)(2 * q + 1);
    kl_u128 idx = 0;
    for (int i = 0; i < n; i++)
        idx = idx * R + (kl_u128)(d[i] + q);
    return idx / 2;
}

static void point_of(int n, int q, kl_u128 rank, int32_t *d)
{
    const kl_u128 R = (kl_u128)(2 * q + 1);
    kl_u128 idx = rank * 2;
    for (int i = n - 1; i >= 0; i--) {
        d[i] = (int32_t)(idx % R) - q;
        idx /= R;
    }
}

static void put_wide(uint8_t *p, size_t bitpos, int nbits, kl_u128 v)
{
    for (int o = 0; o < nbits; o += 32) {
        const int m = nbits - o < 32 ? nbits - o : 32;
        codec_lattice_put_bits(p, bitpos + (size_t)o, m, (unsigned)(v >> o) & (m == 32 ? 0xffffffffu : ((1u << m) - 1)));
    }
}

static kl_u128 get_wide(const uint8_t *p, size_t bitpos, int nbits)
{
    kl_u128 v = 0;
    for (int o = 0; o < nbits; o += 32) {
        const int m = nbits - o < 32 ? nbits - o : 32;
        v |= (kl_u128)codec_lattice_get_bits(p, bitpos + (size_t)o, m) << o;
    }
    return v;
}

/* The nearest point: lattice_point.h, shared with the GPU. */
int codec_kakeya_quantize(int n, int q, const float *y_in, int32_t *d)
{
    return lp_kl_quantize(n, q, y_in, d);
}

static void kl_enc_ref(codec *c, const float *x, size_t nb, uint8_t *out)
{
    const int g = c->spec.group, n = c->lat_n, q = c->spec.q, bits = c->kl_bits;
    for (size_t b = 0; b < nb; b++, x += g, out += c->arm_bytes) {
        float m = 0.0f;
        for (int i = 0; i < g; i++)
            m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
        memcpy(out, &m, sizeof m); /* little-endian hosts only (x86-64) */
        uint8_t *p = out + 4;
        memset(p, 0, c->arm_bytes - 4);
        const float inv = m > 0.0f ? (float)q / m : 0.0f;
        for (int k = 0; k < g / n; k++) {
            float y[8] = {0};
            int32_t a[8];
            for (int i = 0; i < n; i++)
                y[i] = x[k * n + i] * inv;
            const int coset = codec_kakeya_quantize(n, q, y, a);
            const size_t at = (size_t)k * (size_t)bits;
            if (n == 8)
                codec_lattice_put_bits(p, at, 1, (unsigned)coset);
            put_wide(p, at + (n == 8 ? 1 : 0), bits - (n == 8 ? 1 : 0), rank_of(n, q, a));
        }
    }
}

static void kl_dec_ref(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    const int g = c->spec.group, n = c->lat_n, q = c->spec.q, bits = c->kl_bits;
    for (size_t b = 0; b < nb; b++, y += g, in += c->arm_bytes) {
        float m;
        memcpy(&m, in, sizeof m);
        const float step = m / (float)q;
        const uint8_t *p = in + 4;
        for (int k = 0; k < g / n; k++) {
            const size_t at = (size_t)k * (size_t)bits;
            const int coset = n == 8 ? (int)codec_lattice_get_bits(p, at, 1) : 0;
            int32_t d[8];
            point_of(n, q, get_wide(p, at + (n == 8 ? 1 : 0), bits - (n == 8 ? 1 : 0)), d);
            for (int i = 0; i < n; i++)
                y[k * n + i] = ((float)d[i] + (coset ? 0.5f : 0.0f)) * step;
        }
    }
}

void codec_kakeya_setup(codec *c)
{
    c->lat_n = c->spec.kind == CODEC_KIND_KL_E8 ? 8 : 4;
    c->kl_bits = codec_kakeya_block_bits(c->lat_n, c->spec.q);
    c->arm_values = (size_t)c->spec.group;
    const size_t code_bits = (size_t)(c->spec.group / c->lat_n) * (size_t)c->kl_bits;
    c->arm_bytes = 4 + (code_bits + 7) / 8;
    c->enc = c->enc_ref = kl_enc_ref;
    c->dec = c->dec_ref = kl_dec_ref;
    /* the fast path's ranks are 64-bit and it doubles them (the coset bit):
     * ranks of at most 63 bits, every D4 cube and E8 up to q = 127 (64-bit
     * ranks, q 128..139, overflowed: test_codec_simd covers the edge) */
    const int rank_bits = c->kl_bits - (c->lat_n == 8 ? 1 : 0);
    if (codec_cpu_has_avx2() && rank_bits <= 63) {
        c->enc = codec_kakeya_encode_avx2;
        c->dec = codec_kakeya_decode_avx2;
        c->fast_name = "avx2";
    }
}
