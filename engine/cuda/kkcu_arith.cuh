/*
 * kkcu_arith: the arithmetic of every codec the GPU runs, in the CPU
 * reference's operation order, as __host__ __device__ functions. Not a
 * public header (engine/cuda/ only).
 *
 * Each function is a port of a named function of the engine's _ref path
 * (engine/codec_*.c, engine/dtype.c), operation for operation, except the
 * lattice points (D4, E8 and their codes, kl's quantizer), which are the
 * CPU's own source, engine/lattice_point.h, compiled here again: the same
 * float operations on the same operands in the same order, so with no FMA
 * contraction (-fmad=false), IEEE division and square root (-prec-div=true
 * -prec-sqrt=true) and subnormals kept (no -ftz) the GPU computes the CPU's
 * floats. The kernels (kkcu_codec.cu) call these functions and parallelize
 * only what is order-free (max, min, independent blocks); sums stay serial.
 * tests/cuda/host_kkcu_arith.cu runs these functions on the CPU against
 * libkk_engine's codec_encode/codec_decode, so a change in operation order
 * shows there without a GPU.
 *
 * libm: floorf, roundf, rintf, fabsf, fminf, fmaxf, sqrtf are exact
 * (correctly rounded or exact by definition) in glibc and CUDA alike. The
 * one libm call of the CPU codecs that is not (powf, in the d4/e8 scale
 * table) runs on the host only: the table is copied from the CPU codec.
 *
 * C casts of floats to integers: x86-64's cvttss2si gives INT32_MIN for a
 * NaN or an out-of-range value, and the CPU code then keeps the low byte
 * ((int8_t)roundf(x) in q8_0); a GPU conversion saturates instead. Where
 * the input can reach that case (a block scale whose inverse overflows,
 * |x| below about 2^-125), kkcu_cvtt_i32 gives the x86 result on both, as
 * the CPU reference's dtype_cvtt_i32 (engine/dtype.h) defines it.
 */
#ifndef KKCU_ARITH_CUH
#define KKCU_ARITH_CUH

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kkcu_decode.cuh"
#include "lattice_point.h"

/* ---- what a kernel needs of a codec (filled from the CPU codec) ---------- */

/* Largest rotation length (CODEC_MAX_DIM), scales (CODEC_MAX_SCALES). */
#define KKCU_MAX_DIM 1024
#define KKCU_MAX_SCALES 16

typedef struct kkcu_params {
    int kind;                 /* codec_kind */
    int bits, group, scales;  /* as codec_spec */
    int axis, channels;       /* affine axis=token: channels per token row */
    int dim;                  /* rotation length, 0: no rotation */
    float rot_scale;          /* 1 / sqrtf(dim), as codec_hadamard_forward */
    const float *signs;       /* (dim) +-1: device memory in kernels */
    int unit_values, unit_bytes; /* one encode unit (codec_block_values/bytes) */
    int arm_values, arm_bytes;   /* one arm block */
    /* d4 / e8 (codec_lattice.c) */
    int lat_n, q, log2q, log2s, code_bytes, idx_offset;
    float inv_sqrt_group;     /* 1.0f / sqrtf((float)group), host-computed */
    float scale_rel[KKCU_MAX_SCALES], escape_rel;
    /* kl_d4 / kl_e8 (codec_kakeya.c) */
    int kl_q, kl_bits;
} kkcu_params;

/* codec_kind values (engine/codec.h), repeated so this header needs no C
 * header; kkcu_codec.cu static_asserts that they agree. */
enum {
    KKCU_KIND_Q8_0 = 3,
    KKCU_KIND_Q4_0 = 4,
    KKCU_KIND_AFFINE = 5,
    KKCU_KIND_D4 = 6,
    KKCU_KIND_E8 = 7,
    KKCU_KIND_KL_D4 = 10,
    KKCU_KIND_KL_E8 = 11,
};

/* ---- conversions ----------------------------------------------------------- */

/* (int32_t)f as x86-64 computes it (cvttss2si): INT32_MIN for NaN and
 * values outside [-2^31, 2^31). */
KKCU_HD int32_t kkcu_cvtt_i32(float f)
{
    if (!(f >= -2147483648.0f && f < 2147483648.0f))
        return INT32_MIN;
    return (int32_t)f;
}

KKCU_HD void kkcu_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

/* ---- q8_0 / q4_0 (dtype.c dtype_quantize_row_q8_0_ref / _q4_0_ref) -------- */

/* From the block's max |x|: the stored F16 scale, and id = 1/d from the
 * unrounded d (ggml's order). */
KKCU_HD uint16_t kkcu_q8_0_params(float amax, float *id)
{
    const float d = amax / 127.0f; /* ((1 << 7) - 1) converted to float */
    *id = d != 0.0f ? 1.0f / d : 0.0f;
    return kkcu_f32_to_f16(d);
}

/* (int8_t)roundf(x * id), the byte x86 stores. */
KKCU_HD uint8_t kkcu_q8_0_code(float x, float id)
{
    const float x0 = x * id;
    return (uint8_t)(kkcu_cvtt_i32(roundf(x0)) & 0xff);
}

/* kkcu_q8_0_code for a finite id: then |x * id| <= about 190 (127 times
 * what rounding a subnormal d can cost), so the conversion is in range
 * and needs no x86 emulation. */
KKCU_HD uint8_t kkcu_q8_0_code_finite(float x, float id)
{
    const float x0 = x * id;
    return (uint8_t)((int32_t)roundf(x0) & 0xff);
}

/* The max |x| update of the scalar loop: amax > v ? amax : v. */
KKCU_HD float kkcu_amax_step(float amax, float x)
{
    const float v = fabsf(x);
    return amax > v ? amax : v;
}

KKCU_HD void kkcu_q8_0_encode_block(const float *x, uint8_t *out)
{
    float amax = 0.0f, id;
    for (int j = 0; j < 32; j++)
        amax = kkcu_amax_step(amax, x[j]);
    kkcu_wr16(out, kkcu_q8_0_params(amax, &id));
    for (int j = 0; j < 32; j++)
        out[2 + j] = kkcu_q8_0_code(x[j], id);
}

/* q4_0: d = max / -8, max the signed value of largest magnitude (the first
 * on ties). */
KKCU_HD uint16_t kkcu_q4_0_params(float max, float *id)
{
    const float d = max / -8.0f;
    *id = d != 0.0f ? 1.0f / d : 0.0f;
    return kkcu_f32_to_f16(d);
}

/* min(15, (int8_t)(x * id + 8.5f)) as the uint8_t the CPU packs. */
KKCU_HD uint8_t kkcu_q4_0_code(float x, float id)
{
    const float x0 = x * id;
    const int8_t t = (int8_t)(kkcu_cvtt_i32(x0 + 8.5f) & 0xff);
    return (uint8_t)(t < 15 ? t : 15);
}

KKCU_HD void kkcu_q4_0_encode_block(const float *x, uint8_t *out)
{
    float amax = 0.0f, max = 0.0f, id;
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    kkcu_wr16(out, kkcu_q4_0_params(max, &id));
    for (int j = 0; j < 16; j++)
        out[2 + j] = (uint8_t)(kkcu_q4_0_code(x[j], id) | (kkcu_q4_0_code(x[j + 16], id) << 4));
}

/* ---- affine (codec_affine.c enc_group / dec_group) --------------------------- */

/* From the group's min and max: the stored F16 scale and minimum (s16,
 * m16), the floats they decode to and inv = 1/s. */
KKCU_HD void kkcu_affine_params(float lo, float hi, int bits, uint16_t *s16, uint16_t *m16,
                                float *m, float *inv)
{
    const float levels = (float)((1 << bits) - 1);
    *s16 = kkcu_f32_to_f16((hi - lo) / levels);
    *m16 = kkcu_f32_to_f16(lo);
    const float s = kkcu_f16_to_f32(*s16);
    *m = kkcu_f16_to_f32(*m16);
    *inv = s != 0.0f ? 1.0f / s : 0.0f;
}

KKCU_HD uint8_t kkcu_affine_code(float x, float m, float inv, float levels)
{
    float v = floorf((x - m) * inv + 0.5f);
    v = fminf(fmaxf(v, 0.0f), levels);
    return (uint8_t)v;
}

/* The value of code q: m + (float)q * s. */
KKCU_HD float kkcu_affine_value(unsigned q, float m, float s) { return m + (float)q * s; }

/* Byte j of a group's packed codes (codec_affine.c pack_codes), from the
 * codes q of the group; j < bits * g / 8. */
KKCU_HD uint8_t kkcu_affine_pack_byte(const uint8_t *q, int bits, int g, int j)
{
    if (bits == 8)
        return q[j];
    if (bits == 4)
        return (uint8_t)(q[j] | q[j + g / 2] << 4);
    const int g4 = g / 4;
    if (j < g4)
        return (uint8_t)((q[j] & 3) | (q[j + g4] & 3) << 2 | (q[j + 2 * g4] & 3) << 4 |
                         (q[j + 3 * g4] & 3) << 6);
    /* bits == 3: the high-bit plane */
    const int g8 = g / 8, jj = j - g4;
    uint8_t b = 0;
    for (int k = 0; k < 8; k++)
        b = (uint8_t)(b | ((q[jj + k * g8] >> 2) & 1) << k);
    return b;
}

/* Code i of a group from its packed bytes p (unpack_codes). */
KKCU_HD unsigned kkcu_affine_unpack(const uint8_t *p, int bits, int g, int i)
{
    if (bits == 8)
        return p[i];
    if (bits == 4)
        return i < g / 2 ? (p[i] & 0x0fu) : (unsigned)(p[i - g / 2] >> 4);
    const int g4 = g / 4, g8 = g / 8;
    unsigned v = (p[i % g4] >> (2 * (i / g4))) & 3u;
    if (bits == 3)
        v |= ((p[g4 + i % g8] >> (i / g8)) & 1u) << 2;
    return v;
}

/* One group of g values (stride `stride` between them: 1 along a row, the
 * channel count for axis=token) into its 4 + bits*g/8 bytes. */
KKCU_HD void kkcu_affine_encode_group(const float *x, int stride, int g, int bits, uint8_t *out)
{
    uint8_t q[256];
    float lo = x[0], hi = x[0];
    for (int j = 1; j < g; j++) {
        const float v = x[(long)j * stride];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    uint16_t s16, m16;
    float m, inv;
    kkcu_affine_params(lo, hi, bits, &s16, &m16, &m, &inv);
    const float levels = (float)((1 << bits) - 1);
    for (int j = 0; j < g; j++)
        q[j] = kkcu_affine_code(x[(long)j * stride], m, inv, levels);
    kkcu_wr16(out, s16);
    kkcu_wr16(out + 2, m16);
    for (int j = 0; j < bits * g / 8; j++)
        out[4 + j] = kkcu_affine_pack_byte(q, bits, g, j);
}

KKCU_HD void kkcu_affine_decode_group(const uint8_t *in, int g, int bits, float *y, int stride)
{
    const float s = kkcu_f16_to_f32(kkcu_rd16(in));
    const float m = kkcu_f16_to_f32(kkcu_rd16(in + 2));
    for (int j = 0; j < g; j++)
        y[(long)j * stride] = kkcu_affine_value(kkcu_affine_unpack(in + 4, bits, g, j), m, s);
}

/* ---- Hadamard rotation (codec_hadamard.c) ------------------------------------ */

/* One butterfly of the Walsh-Hadamard transform: (a, b) -> (a + b, a - b).
 * Stages h = 1, 2, 4, ... in order; within a stage the pairs are
 * independent, so any parallel order gives the scalar loop's floats. */
KKCU_HD void kkcu_fwht(float *x, int dim)
{
    for (int h = 1; h < dim; h <<= 1)
        for (int i = 0; i < dim; i += h << 1)
            for (int j = i; j < i + h; j++) {
                const float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
}

/* x <- (H (x * signs)) * s, s = 1 / sqrtf(dim) (codec_hadamard_forward). */
KKCU_HD void kkcu_hadamard_forward(float *x, const float *signs, int dim, float s)
{
    for (int i = 0; i < dim; i++)
        x[i] *= signs[i];
    kkcu_fwht(x, dim);
    for (int i = 0; i < dim; i++)
        x[i] *= s;
}

/* x <- (H x) * (s * signs) (codec_hadamard_inverse). */
KKCU_HD void kkcu_hadamard_inverse(float *x, const float *signs, int dim, float s)
{
    kkcu_fwht(x, dim);
    for (int i = 0; i < dim; i++)
        x[i] *= s * signs[i];
}

/* ---- d4 / e8 nested-lattice codes (codec_lattice.c) -------------------------- */

/* The points and their codes: lattice_point.h (lp_*), the CPU's own source. */

/* The 8 codes of a block as nbytes little-endian bytes (put_codes). */
KKCU_HD void kkcu_lattice_put_codes(const float *k, int log2q, int nbytes, uint8_t *p)
{
    uint32_t w = 0;
    for (int i = 0; i < 8; i++)
        w |= (uint32_t)k[i] << (log2q * i);
    for (int b = 0; b < nbytes; b++)
        p[b] = (uint8_t)(w >> (8 * b));
}

KKCU_HD void kkcu_lattice_get_codes(const uint8_t *p, int log2q, int nbytes, float *k)
{
    uint32_t w = 0;
    for (int b = 0; b < nbytes; b++)
        w |= (uint32_t)p[b] << (8 * b);
    const uint32_t mask = (1u << log2q) - 1;
    for (int i = 0; i < 8; i++)
        k[i] = (float)((w >> (log2q * i)) & mask);
}

/* The group norm from its sum of squares (summed in index order by the
 * caller: s += x[j] * x[j]) as 16 bits: F16 rounded up, or the BF16
 * escape (codec_lattice_norm_f16_up). */
KKCU_HD uint16_t kkcu_lattice_norm16(float sumsq)
{
    const float n = sqrtf(sumsq);
    uint16_t h = kkcu_f32_to_f16(n);
    if (h < 0x7c00 && kkcu_f16_to_f32(h) < n)
        h = (uint16_t)(h + 1);
    if (h < 0x7c00)
        return h;
    uint16_t b = kkcu_f32_to_bf16(n) & 0x7fffu;
    if (b < 0x7f80u && kkcu_bf16_to_f32(b) < n)
        b = (uint16_t)(b + 1);
    if (b >= 0x7f80u)
        b = 0x7f7fu;
    return (uint16_t)(0x8000u | b);
}

KKCU_HD float kkcu_lattice_norm_value(uint16_t n16)
{
    return (n16 & 0x8000u) ? kkcu_bf16_to_f32((uint16_t)(n16 & 0x7fffu)) : kkcu_f16_to_f32(n16);
}

/* codec_lattice_betas: scale_rel[s] times the RMS, the escape last. */
KKCU_HD void kkcu_lattice_betas(const kkcu_params *p, uint16_t n16, float *beta)
{
    const float n = kkcu_lattice_norm_value(n16);
    const float rms = n * p->inv_sqrt_group;
    const int S = p->scales;
    for (int s = 0; s < S - 1; s++)
        beta[s] = rms * p->scale_rel[s];
    beta[S - 1] = n * p->escape_rel;
}

/* The scale search of one 8-value block (lattice_enc_ref's inner loop):
 * the best scale index and its 8 codes. */
KKCU_HD int kkcu_lattice_search(const kkcu_params *p, const float *xb, const float *beta,
                                const float *inv, float *best_k)
{
    const int S = p->scales, n = p->lat_n;
    const float qf = (float)p->q, lim2 = 0.5f * qf * qf;
    const float ylim = 4.0f * qf;
    float best_err = INFINITY;
    int best_s = 0;
    for (int i = 0; i < 8; i++)
        best_k[i] = 0.0f;
    for (int s = 0; s < S; s++) {
        float y[8], v[8], k[8];
        for (int i = 0; i < 8; i++)
            y[i] = fminf(fmaxf(xb[i] * inv[s], -ylim), ylim);
        lp_block_nearest(n, y, v);
        lp_block_coords_mod(n, qf, v, k);
        float nrm = 0.0f;
        for (int i = 0; i < 8; i++)
            nrm += v[i] * v[i];
        if (!(nrm < lim2)) {
            float w[8];
            lp_block_decode_point(n, qf, k, w);
            for (int i = 0; i < 8; i++)
                v[i] = w[i];
        }
        float err = 0.0f;
        for (int i = 0; i < 8; i++) {
            const float d = xb[i] - beta[s] * v[i];
            err += d * d;
        }
        if (err < best_err) {
            best_err = err;
            best_s = s;
            for (int i = 0; i < 8; i++)
                best_k[i] = k[i];
        }
    }
    return best_s;
}

/* Set nbits of v at bit bitpos of a zeroed little-endian stream (the
 * caller owns every byte touched). */
KKCU_HD void kkcu_put_bits(uint8_t *p, uint32_t bitpos, int nbits, uint64_t v)
{
    p += bitpos >> 3;
    const int sh = (int)(bitpos & 7u);
    v = (nbits < 64 ? v & ((1ull << nbits) - 1) : v) << sh;
    for (int o = 0; o < sh + nbits; o += 8)
        *p++ |= (uint8_t)(v >> o);
}

/* One group (g values, contiguous) into arm_bytes bytes (lattice_enc_ref). */
KKCU_HD void kkcu_lattice_encode_group(const kkcu_params *p, const float *x, uint8_t *out)
{
    const int g = p->group, S = p->scales;
    float beta[KKCU_MAX_SCALES], inv[KKCU_MAX_SCALES];
    for (int i = 0; i < p->arm_bytes; i++)
        out[i] = 0;
    float s = 0.0f;
    for (int j = 0; j < g; j++)
        s += x[j] * x[j];
    const uint16_t n16 = kkcu_lattice_norm16(s);
    kkcu_wr16(out, n16);
    kkcu_lattice_betas(p, n16, beta);
    for (int i = 0; i < S; i++)
        inv[i] = beta[i] > 0.0f ? 1.0f / beta[i] : 0.0f;
    uint8_t *idx = out + p->idx_offset;
    for (int blk = 0; blk < g / 8; blk++) {
        float k[8];
        const int bs = kkcu_lattice_search(p, x + 8 * blk, beta, inv, k);
        kkcu_lattice_put_codes(k, p->log2q, p->code_bytes, out + 2 + blk * p->code_bytes);
        kkcu_put_bits(idx, (uint32_t)(blk * p->log2s), p->log2s, (uint64_t)bs);
    }
}

/* One 8-value block of a group with betas beta (lattice_dec_ref). */
KKCU_HD void kkcu_lattice_decode_block(const kkcu_params *p, const uint8_t *grp, const float *beta,
                                       int blk, float *y)
{
    float k[8], v[8];
    kkcu_lattice_get_codes(grp + 2 + blk * p->code_bytes, p->log2q, p->code_bytes, k);
    lp_block_decode_point(p->lat_n, (float)p->q, k, v);
    const uint32_t si = p->log2s ? (uint32_t)kkcu_get_bits(grp + p->idx_offset,
                                                           (uint32_t)(blk * p->log2s), p->log2s)
                                 : 0u;
    const float bs = beta[si];
    for (int i = 0; i < 8; i++)
        y[i] = bs * v[i];
}

KKCU_HD void kkcu_lattice_decode_group(const kkcu_params *p, const uint8_t *in, float *y)
{
    float beta[KKCU_MAX_SCALES];
    kkcu_lattice_betas(p, kkcu_rd16(in), beta);
    for (int blk = 0; blk < p->group / 8; blk++)
        kkcu_lattice_decode_block(p, in, beta, blk, y + 8 * blk);
}

/* ---- KakeyaLattice (codec_kakeya.c) ------------------------------------------ */

/* The nearest point: lp_kl_quantize (lattice_point.h), the CPU's own source. */

/* The point's rank (index / 2) as up to 128 bits: lo 64 and hi. */
KKCU_HD void kkcu_kl_rank(int n, int q, const int32_t *d, uint64_t *lo, uint64_t *hi)
{
    if (kkcu_kl_fits64(n, q)) {
        const uint64_t R = (uint64_t)(2 * q + 1);
        uint64_t idx = 0;
        for (int i = 0; i < n; i++)
            idx = idx * R + (uint64_t)(d[i] + q);
        *lo = idx / 2;
        *hi = 0;
    } else {
        const kkcu_u128 R = (kkcu_u128)(2 * q + 1);
        kkcu_u128 idx = 0;
        for (int i = 0; i < n; i++)
            idx = idx * R + (kkcu_u128)(d[i] + q);
        idx /= 2;
        *lo = (uint64_t)idx;
        *hi = (uint64_t)(idx >> 64);
    }
}

/* The vector's max |x| update (kl_enc_ref: fabsf(x) > m ? fabsf(x) : m). */
KKCU_HD float kkcu_kl_max_step(float m, float x) { return fabsf(x) > m ? fabsf(x) : m; }

/* inv = Q / qmax, or 0 for a zero vector. */
KKCU_HD float kkcu_kl_inv(float m, int q) { return m > 0.0f ? (float)q / m : 0.0f; }

/* Write point k's coset bit and rank into the zeroed stream p (the bytes
 * after qmax), as kl_enc_ref's put_bits / put_wide. */
KKCU_HD void kkcu_kl_put_point(uint8_t *p, int n, int bits, int k, int coset, uint64_t lo,
                               uint64_t hi)
{
    const uint32_t at = (uint32_t)k * (uint32_t)bits;
    const int cb = n == 8 ? 1 : 0, rb = bits - cb;
    if (n == 8)
        kkcu_put_bits(p, at, 1, (uint64_t)coset);
    for (int o = 0; o < rb; o += 32) {
        const int m = rb - o < 32 ? rb - o : 32;
        const uint64_t part = o < 64 ? (lo >> o) | (o > 0 ? hi << (64 - o) : 0) : hi >> (o - 64);
        kkcu_put_bits(p, at + cb + (uint32_t)o, m, part & 0xffffffffull);
    }
}

/* One vector (group values, contiguous, already rotated) into arm_bytes. */
KKCU_HD void kkcu_kl_encode_vector(const kkcu_params *p, const float *x, uint8_t *out)
{
    const int g = p->group, n = p->lat_n, q = p->kl_q;
    float m = 0.0f;
    for (int i = 0; i < g; i++)
        m = kkcu_kl_max_step(m, x[i]);
    const uint32_t mb = kkcu_f32_to_bits(m);
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(mb >> (8 * i));
    for (int i = 4; i < p->arm_bytes; i++)
        out[i] = 0;
    const float inv = kkcu_kl_inv(m, q);
    for (int k = 0; k < g / n; k++) {
        float y[8];
        int32_t a[8];
        for (int i = 0; i < n; i++)
            y[i] = x[k * n + i] * inv;
        const int coset = lp_kl_quantize(n, q, y, a);
        uint64_t lo, hi;
        kkcu_kl_rank(n, q, a, &lo, &hi);
        kkcu_kl_put_point(out + 4, n, p->kl_bits, k, coset, lo, hi);
    }
}

KKCU_HD void kkcu_kl_decode_vector(const kkcu_params *p, const uint8_t *in, float *y)
{
    const int g = p->group, q = p->kl_q;
    const float step = kkcu_kl_step(in, q);
    if (p->lat_n == 8)
        for (int k = 0; k < g / 8; k++)
            kkcu_kl_decode_point<8>(in + 4, k, q, p->kl_bits, step, y + 8 * k);
    else
        for (int k = 0; k < g / 4; k++)
            kkcu_kl_decode_point<4>(in + 4, k, q, p->kl_bits, step, y + 4 * k);
}

/* ---- one arm block, one unit ---------------------------------------------- */

/* Encode arm block b of a unit whose (rotated) floats are x. */
KKCU_HD void kkcu_arm_encode(const kkcu_params *p, const float *x, uint8_t *out)
{
    switch (p->kind) {
    case KKCU_KIND_Q8_0:
        kkcu_q8_0_encode_block(x, out);
        break;
    case KKCU_KIND_Q4_0:
        kkcu_q4_0_encode_block(x, out);
        break;
    case KKCU_KIND_AFFINE:
        kkcu_affine_encode_group(x, 1, p->group, p->bits, out);
        break;
    case KKCU_KIND_D4:
    case KKCU_KIND_E8:
        kkcu_lattice_encode_group(p, x, out);
        break;
    default: /* kl_d4, kl_e8 */
        kkcu_kl_encode_vector(p, x, out);
        break;
    }
}

KKCU_HD void kkcu_arm_decode(const kkcu_params *p, const uint8_t *in, float *y)
{
    switch (p->kind) {
    case KKCU_KIND_Q8_0:
        kkcu_q8_0_decode(in, kkcu_q8_0_scale(in), 0, 32, y);
        break;
    case KKCU_KIND_Q4_0:
        kkcu_q4_0_decode(in, kkcu_q8_0_scale(in), 0, 32, y);
        break;
    case KKCU_KIND_AFFINE:
        kkcu_affine_decode_group(in, p->group, p->bits, y, 1);
        break;
    case KKCU_KIND_D4:
    case KKCU_KIND_E8:
        kkcu_lattice_decode_group(p, in, y);
        break;
    default:
        kkcu_kl_decode_vector(p, in, y);
        break;
    }
}

/* One row-axis unit: x (unit_values floats, rotated in place) -> out. */
KKCU_HD void kkcu_unit_encode(const kkcu_params *p, float *x, uint8_t *out)
{
    if (p->dim)
        for (int o = 0; o < p->unit_values; o += p->dim)
            kkcu_hadamard_forward(x + o, p->signs, p->dim, p->rot_scale);
    for (int a = 0; a < p->unit_values / p->arm_values; a++)
        kkcu_arm_encode(p, x + a * p->arm_values, out + a * p->arm_bytes);
}

KKCU_HD void kkcu_unit_decode(const kkcu_params *p, const uint8_t *in, float *y)
{
    for (int a = 0; a < p->unit_values / p->arm_values; a++)
        kkcu_arm_decode(p, in + a * p->arm_bytes, y + a * p->arm_values);
    if (p->dim)
        for (int o = 0; o < p->unit_values; o += p->dim)
            kkcu_hadamard_inverse(y + o, p->signs, p->dim, p->rot_scale);
}

#endif /* KKCU_ARITH_CUH */
