/*
 * codec_lloyd: Lloyd-Max scalar quantization of each coordinate against the
 * Gaussian (lloyd:bits=B), and TurboQuant-MSE (turbo:bits=B: the same after
 * a random rotation, which makes every coordinate of a vector close to
 * Gaussian whatever the vector's shape). See codec.h for the spec.
 *
 * A block is one vector of `group` values: a 16-bit scale (the vector's
 * RMS) then `group` level indices of B bits, packed little-endian bit
 * after bit. bits/value = B + 16 / group (B + 0.125 at group 128).
 * Decoding gives level[index] x scale.
 *
 * The levels are the Lloyd-Max quantizer of N(0, 1) at 2^B levels,
 * computed at init by Lloyd's iteration on the density (thresholds at the
 * midpoints, levels at the conditional means, closed form through erfc):
 * nothing is read from a table. Their mean squared error per coordinate is
 * 0.3634, 0.1175, 0.03455, 0.009497 for B = 1..4 (Max, 1960).
 *
 * The scale: F16 of the RMS, rounded to nearest. An RMS outside F16's
 * normal range (below 2^-14 or above 65504) is escaped: the scale's sign
 * bit, never set by an RMS, flags it, and the other 15 bits hold the RMS as
 * BF16 without its sign (8 exponent bits: any finite float's range, 7
 * mantissa bits). codec_stats.norm_escapes counts escaped blocks (0 in
 * the normal case). Encoder and decoder use the same stored scale, so the
 * indices are chosen for the scale the decoder will apply.
 *
 * The RMS's sum of squares runs in double over four interleaved partial
 * sums (value i into sum i % 4, combined as (s0 + s1) + (s2 + s3)): the
 * order an AVX2 register of four doubles keeps, so the AVX2 path
 * (codec_lloyd_avx2.c) writes the same scale bit for bit. The index of a
 * value is the number of thresholds below it (the scan stops at the first
 * threshold at or above it: thresholds ascend).
 */
#include "codec_internal.h"

#include <math.h>
#include <string.h>

#include "dtype.h"

CODEC_REF_SCALAR_FILE

#define F16_MAX 65504.0f
#define F16_MIN_NORMAL 6.103515625e-05f

void codec_lloyd_gaussian(int bits, float *levels, float *thresh, double *mse)
{
    const int L = 1 << bits;
    double l[16], t[17];
    /* start from equally likely cells' centres on a wide grid */
    for (int i = 0; i < L; i++)
        l[i] = -3.0 + 6.0 * (i + 0.5) / L;
    for (int it = 0; it < 2000; it++) {
        t[0] = -INFINITY;
        t[L] = INFINITY;
        for (int i = 1; i < L; i++)
            t[i] = 0.5 * (l[i - 1] + l[i]);
        double moved = 0.0;
        for (int i = 0; i < L; i++) {
            /* E[X | t_i < X < t_{i+1}] = (phi(t_i) - phi(t_{i+1})) / (Phi(t_{i+1}) - Phi(t_i)) */
            const double pa = isinf(t[i]) ? 0.0 : exp(-0.5 * t[i] * t[i]) / sqrt(2 * M_PI);
            const double pb = isinf(t[i + 1]) ? 0.0 : exp(-0.5 * t[i + 1] * t[i + 1]) / sqrt(2 * M_PI);
            const double ca = 0.5 * erfc(-t[i] / M_SQRT2), cb = 0.5 * erfc(-t[i + 1] / M_SQRT2);
            const double nl = (pa - pb) / (cb - ca);
            moved = fmax(moved, fabs(nl - l[i]));
            l[i] = nl;
        }
        if (moved < 1e-15)
            break;
    }
    /* D = E[X^2] - E[Q(X)^2] at the centroid condition */
    double eq2 = 0.0;
    for (int i = 0; i < L; i++) {
        const double lo = i == 0 ? -INFINITY : 0.5 * (l[i - 1] + l[i]);
        const double hi = i == L - 1 ? INFINITY : 0.5 * (l[i] + l[i + 1]);
        eq2 += l[i] * l[i] * (0.5 * erfc(-hi / M_SQRT2) - 0.5 * erfc(-lo / M_SQRT2));
    }
    for (int i = 0; i < L; i++)
        levels[i] = (float)l[i];
    for (int i = 0; i + 1 < L; i++)
        thresh[i] = (float)(0.5 * (l[i] + l[i + 1]));
    if (mse)
        *mse = 1.0 - eq2;
}

/* The 16-bit scale of a vector whose RMS is rms, and the float it decodes
 * to; *escaped: the BF16 escape was needed. */
static uint16_t put_scale(float rms, float *used, int *escaped)
{
    *escaped = rms > 0.0f && (rms < F16_MIN_NORMAL || rms > F16_MAX);
    if (!*escaped) {
        const uint16_t h = dtype_f32_to_f16(rms);
        *used = dtype_f16_to_f32(h);
        return h;
    }
    const uint16_t b = dtype_f32_to_bf16(rms) & 0x7fffu; /* rms > 0: sign 0 */
    *used = dtype_bf16_to_f32(b);
    return (uint16_t)(0x8000u | b);
}

static float get_scale(uint16_t s)
{
    return (s & 0x8000u) ? dtype_bf16_to_f32((uint16_t)(s & 0x7fffu)) : dtype_f16_to_f32(s);
}

double codec_lloyd_sumsq(const float *x, int g)
{
    double ss[4] = {0.0, 0.0, 0.0, 0.0};
    for (int i = 0; i < g; i++)
        ss[i % 4] += (double)x[i] * x[i];
    return (ss[0] + ss[1]) + (ss[2] + ss[3]);
}

uint16_t codec_lloyd_scale(codec *c, double sumsq, float *used)
{
    int esc;
    const uint16_t h = put_scale((float)sqrt(sumsq / c->spec.group), used, &esc);
    c->stats.norm_escapes += (uint64_t)esc;
    return h;
}

float codec_lloyd_get_scale(uint16_t s) { return get_scale(s); }

static void lloyd_enc_ref(codec *c, const float *x, size_t nb, uint8_t *out)
{
    const int g = c->spec.group, B = c->spec.bits, nt = (1 << B) - 1;
    for (size_t b = 0; b < nb; b++, x += g, out += c->arm_bytes) {
        float s;
        codec_wr16(out, codec_lloyd_scale(c, codec_lloyd_sumsq(x, g), &s));
        uint8_t *p = out + 2;
        memset(p, 0, c->arm_bytes - 2);
        const float inv = s > 0.0f ? 1.0f / s : 0.0f;
        for (int i = 0; i < g; i++) {
            const float u = x[i] * inv;
            unsigned k = 0;
            while ((int)k < nt && u > c->lloyd_thresh[k])
                k++;
            codec_lattice_put_bits(p, (size_t)i * (size_t)B, B, k);
        }
    }
}

static void lloyd_dec_ref(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    const int g = c->spec.group, B = c->spec.bits;
    for (size_t b = 0; b < nb; b++, y += g, in += c->arm_bytes) {
        const float s = get_scale(codec_rd16(in));
        for (int i = 0; i < g; i++)
            y[i] = c->lloyd_levels[codec_lattice_get_bits(in + 2, (size_t)i * (size_t)B, B)] * s;
    }
}

void codec_lloyd_setup(codec *c)
{
    c->arm_values = (size_t)c->spec.group;
    c->arm_bytes = 2 + (size_t)c->spec.group * (size_t)c->spec.bits / 8;
    codec_lloyd_gaussian(c->spec.bits, c->lloyd_levels, c->lloyd_thresh, NULL);
    c->enc = c->enc_ref = lloyd_enc_ref;
    c->dec = c->dec_ref = lloyd_dec_ref;
    if (codec_cpu_has_avx2()) {
        c->enc = codec_lloyd_encode_avx2;
        c->dec = codec_lloyd_decode_avx2;
        c->fast_name = "avx2";
    }
}
