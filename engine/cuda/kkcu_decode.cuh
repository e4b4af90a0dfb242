/*
 * kkcu_decode: inline decoders of one unit of q8_0, q4_0 and KakeyaLattice
 * (kl_d4 / kl_e8) codes into floats held by the caller (registers), for
 * kernels that read packed codes and never write the decoded values to
 * memory (the fused attention over a packed K/V cache). The codec's own
 * decode kernels (kkcu_codec.cu) call these same functions, so a fused
 * kernel that uses them computes exactly the floats `kkcu_decode` and the
 * CPU's codec_decode write (tests/cuda/ check the latter bit for bit).
 *
 * Everything here is __host__ __device__: tests/cuda/host_kkcu_arith.cu
 * runs it on the CPU against libkk_engine (no GPU needed). Build with
 * -fmad=false (no FMA contraction: the CPU reference is C11 with contraction
 * off; these decoders are one product per value, so it would not change
 * them, but the encoders' expressions would change).
 *
 * Layouts (engine/codec_ggml.c, engine/codec_kakeya.c; little-endian):
 *   q8_0  34 bytes per 32 values: F16 d, int8 q[32];  y[j] = (float)q[j] * d
 *   q4_0  18 bytes per 32 values: F16 d, byte j = q[j] | q[j+16] << 4;
 *         y[j] = (float)(q[j] - 8) * d
 *   kl_*  one vector of `group` values (a head, 128), already rotated:
 *         F32 qmax, then group/n points of `bits` bits each (n = 4 for D4,
 *         8 for E8), a little-endian bit stream; E8 points are a coset bit
 *         then the rank, D4 points the rank alone. step = qmax / Q,
 *         y = (d + coset/2) * step, d the point's integer coordinates.
 *         kl_* is rotated (randomized Hadamard over `dim` = group): the
 *         decoded values are in the rotated basis, which a dot product with
 *         an equally rotated query does not need to undo (the rotation is
 *         orthogonal); the inverse rotation is codec_hadamard_inverse.
 *
 * Example, one warp decoding a 128-value kl_e8 head (q = 10, bits =
 * codec_kakeya_block_bits(8, 10) = 36) with lanes 0..15 taking one point:
 *     const float step = kkcu_kl_step(vec, 10);
 *     float y[8];
 *     if (lane < 16) kkcu_kl_decode_point<8>(vec + 4, lane, 10, 36, step, y);
 */
#ifndef KKCU_DECODE_CUH
#define KKCU_DECODE_CUH

#include <stdint.h>
#include <string.h>

#define KKCU_HD __host__ __device__ __forceinline__

/* ---- float bits and F16 / BF16 ------------------------------------------ */

KKCU_HD float kkcu_bits_to_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

KKCU_HD uint32_t kkcu_f32_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* engine/dtype.c dtype_f16_to_f32, the integer reference: exact for every
 * half (NaN payloads kept). */
KKCU_HD float kkcu_f16_to_f32(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else { /* subnormal: normalize */
        uint32_t e = 113;
        while (!(man & 0x400u)) {
            man <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((man & 0x3ffu) << 13);
    }
    return kkcu_bits_to_f32(bits);
}

/* engine/dtype.c dtype_f32_to_f16: round to nearest even, overflow to Inf,
 * NaN quiet with its top payload bits. The same integer steps, so the same
 * halves as the CPU on every input (the hardware cvt.rn.f16.f32 rounds the
 * same but keeps NaN payloads differently). */
KKCU_HD uint16_t kkcu_f32_to_f16(float f)
{
    const uint32_t x = kkcu_f32_to_bits(f);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    const uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u)
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x47800000u)
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) {
        if (ax < 0x33000000u)
            return sign;
        const uint32_t e = ax >> 23;
        const uint32_t man = (ax & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126u - e;
        uint32_t q = man >> shift;
        const uint32_t rem = man & ((1u << shift) - 1u);
        const uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u)))
            q++;
        return (uint16_t)(sign | q);
    }
    const uint32_t r = ax - 0x38000000u;
    uint32_t q = r >> 13;
    const uint32_t rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u)))
        q++;
    return (uint16_t)(sign | q);
}

KKCU_HD float kkcu_bf16_to_f32(uint16_t h) { return kkcu_bits_to_f32((uint32_t)h << 16); }

/* engine/dtype.c dtype_f32_to_bf16 (ggml's): NaN forced quiet, else round
 * to nearest even. */
KKCU_HD uint16_t kkcu_f32_to_bf16(float f)
{
    const uint32_t u = kkcu_f32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 64u);
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

KKCU_HD uint16_t kkcu_rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* ---- q8_0, q4_0 ----------------------------------------------------------- */

#define KKCU_Q8_0_VALUES 32
#define KKCU_Q8_0_BYTES 34
#define KKCU_Q4_0_VALUES 32
#define KKCU_Q4_0_BYTES 18

/* The block's scale d (codec_ggml.c q8_0_dec_ref: dtype_f16_to_f32). */
KKCU_HD float kkcu_q8_0_scale(const uint8_t *blk) { return kkcu_f16_to_f32(kkcu_rd16(blk)); }

/* Values j0 .. j0 + n - 1 (j0 + n <= 32) of one q8_0 block with scale d
 * (kkcu_q8_0_scale): y[i] = (float)q[j0 + i] * d. */
KKCU_HD void kkcu_q8_0_decode(const uint8_t *blk, float d, int j0, int n, float *y)
{
    for (int i = 0; i < n; i++)
        y[i] = (float)(int8_t)blk[2 + j0 + i] * d;
}

/* One int8 code times the scale, for callers that hold the codes already
 * (a 16-byte load of codes unpacked in registers). */
KKCU_HD float kkcu_q8_0_value(int8_t q, float d) { return (float)q * d; }

/* Values j0 .. j0 + n - 1 of one q4_0 block (ggml dequantize_row_q4_0). */
KKCU_HD void kkcu_q4_0_decode(const uint8_t *blk, float d, int j0, int n, float *y)
{
    for (int i = 0; i < n; i++) {
        const int j = j0 + i;
        const int q = j < 16 ? (blk[2 + j] & 0x0f) : (blk[2 + j - 16] >> 4);
        y[i] = (float)(q - 8) * d;
    }
}

/* ---- bit streams (little-endian, bit b = byte b/8, bit b%8) --------------- */

/* nbits (<= 57) at bit bitpos, reading only the bytes that hold them. */
KKCU_HD uint64_t kkcu_get_bits(const uint8_t *p, uint32_t bitpos, int nbits)
{
    p += bitpos >> 3;
    const int sh = (int)(bitpos & 7u);
    uint64_t v = 0;
    for (int o = 0; o < sh + nbits; o += 8)
        v |= (uint64_t)*p++ << o;
    return (v >> sh) & ((1ull << nbits) - 1);
}

/* ---- KakeyaLattice (kl_d4, kl_e8) ------------------------------------------ */

/* kl ranks wider than 64 bits (E8 at Q >= 128) use 128-bit integers, as
 * the CPU's _ref path does everywhere. */
__extension__ typedef unsigned __int128 kkcu_u128;

/* The vector's step qmax / Q (codec_kakeya.c kl_dec_ref: one IEEE
 * division; build with -prec-div=true). */
KKCU_HD float kkcu_kl_step(const uint8_t *vec, int q)
{
    uint32_t u = (uint32_t)vec[0] | (uint32_t)vec[1] << 8 | (uint32_t)vec[2] << 16 |
                 (uint32_t)vec[3] << 24;
    return kkcu_bits_to_f32(u) / (float)q;
}

/* Whether (2Q+1)^n fits 64 bits: the point index then is a uint64_t. */
KKCU_HD bool kkcu_kl_fits64(int n, int q) { return n == 4 || q <= 127; }

/* The digits of idx in base R, least significant last, minus q: d[i] =
 * (idx / R^(N-1-i)) % R - q, as the CPU's loop of % and /. Any idx (also
 * one past R^N, from bytes no encoder wrote) gives the CPU's digits. The
 * split at R^4 keeps the per-digit divisions 32-bit where R^4 < 2^32
 * (Q <= 127): one 64-bit division per E8 point. */
KKCU_HD void kkcu_kl_digits_u32(uint32_t v, uint32_t R, int q, int n, int32_t *d)
{
    for (int i = n - 1; i >= 0; i--) {
        d[i] = (int32_t)(v % R) - q;
        v /= R;
    }
}

KKCU_HD void kkcu_kl_digits_u64(uint64_t v, uint32_t R, int q, int n, int32_t *d)
{
    if (v <= 0xffffffffull) {
        kkcu_kl_digits_u32((uint32_t)v, R, q, n, d);
        return;
    }
    for (int i = n - 1; i >= 0; i--) {
        d[i] = (int32_t)(v % R) - q;
        v /= R;
    }
}

template <int N>
KKCU_HD void kkcu_kl_digits64(uint64_t idx, int q, int32_t *d)
{
    const uint32_t R = (uint32_t)(2 * q + 1);
    const uint64_t R4 = (uint64_t)R * R * R * R;
    if (N == 8 && R4 <= 0xffffffffull) {
        const uint64_t hi = idx / R4;
        kkcu_kl_digits_u32((uint32_t)(idx - hi * R4), R, q, 4, d + 4);
        kkcu_kl_digits_u64(hi, R, q, 4, d);
    } else {
        kkcu_kl_digits_u64(idx, R, q, N, d);
    }
}

template <int N>
KKCU_HD void kkcu_kl_digits128(kkcu_u128 idx, int q, int32_t *d)
{
    const kkcu_u128 R = (kkcu_u128)(2 * q + 1);
    for (int i = N - 1; i >= 0; i--) {
        d[i] = (int32_t)(idx % R) - q;
        idx /= R;
    }
}

/* Point k of a vector's code stream (codes = vec + 4) into y[0..N): bits =
 * codec_kakeya_block_bits(N, q) (36 for E8 at Q = 10, 17 for D4),
 * step = kkcu_kl_step(vec, q). codec_kakeya.c kl_dec_ref: the rank read
 * after the coset bit, index = 2 * rank, its mixed-radix digits, then
 * ((float)d + coset/2) * step. */
template <int N>
KKCU_HD void kkcu_kl_decode_point(const uint8_t *codes, int k, int q, int bits, float step,
                                  float *y)
{
    const uint32_t at = (uint32_t)k * (uint32_t)bits;
    const int cb = N == 8 ? 1 : 0;
    const int coset = N == 8 ? (int)kkcu_get_bits(codes, at, 1) : 0;
    const int rb = bits - cb; /* rank bits */
    int32_t d[N];
    if (kkcu_kl_fits64(N, q)) {
        uint64_t rank = 0;
        for (int o = 0; o < rb; o += 32)
            rank |= kkcu_get_bits(codes, at + cb + o, rb - o < 32 ? rb - o : 32) << o;
        kkcu_kl_digits64<N>(rank * 2, q, d);
    } else {
        kkcu_u128 rank = 0;
        for (int o = 0; o < rb; o += 32)
            rank |= (kkcu_u128)kkcu_get_bits(codes, at + cb + o, rb - o < 32 ? rb - o : 32) << o;
        kkcu_kl_digits128<N>(rank * 2, q, d);
    }
    const float h = coset ? 0.5f : 0.0f;
    for (int i = 0; i < N; i++)
        y[i] = ((float)d[i] + h) * step;
}

#endif /* KKCU_DECODE_CUH */
