/*
 * kkcu_fast: register kernels for the memory-bound codecs without a
 * rotation: q8_0, q4_0 and affine along the row. Included by
 * kkcu_kernels.cu only.
 *
 * A warp takes tiles of 256 consecutive values, 8 per lane (one 16-byte
 * load of BF16, two of F32), KKCU_FAST_TPW tiles loaded at once, so a 32-value block is 4 lanes and an affine
 * group of G values G/8 lanes. Block statistics are shuffles across those
 * lanes: max |x| (order-free), q4_0's signed value of largest magnitude and
 * affine's min and max, whose CPU loops keep the first of equal values
 * (which tells -0 from +0 apart), so each combine keeps the lower lanes'
 * value unless the higher lanes' is strictly larger (smaller): the scan's
 * result. Codes come from kkcu_arith.cuh. The tile's encoded bytes (272
 * for q8_0, 144 for q4_0, 256/G blocks of 4 + bits G/8 for affine: always
 * a multiple of 8) are assembled in the warp's shared memory and written
 * with 8-byte stores; decode reads them back the same way.
 *
 * Requires 16-byte aligned values and 8-byte aligned codes (cudaMalloc's
 * pointers are 256-byte aligned): the launcher falls back to the tile
 * kernel otherwise, and for the units after the last whole 256-value tile.
 */
#ifndef KKCU_FAST_CUH
#define KKCU_FAST_CUH

#include <stdint.h>

#include "kkcu_internal.cuh"

#ifndef KKCU_FAST_WPB
#define KKCU_FAST_WPB 8      /* warps per thread block (the emulated test: fewer) */
#endif
#define KKCU_FAST_TV 256     /* values per warp tile */
#define KKCU_FAST_STAGE 288  /* the largest tile's bytes (affine 8-bit, group 32) */
/* Tiles a warp loads before it computes: 4 x 512 bytes of BF16 per warp in
 * flight (with 40-64 warps an SM, 80-128 KB: past what HBM's latency
 * times its bandwidth needs per SM, about 20 KB on an H100). */
#define KKCU_FAST_TPW 4

__device__ __forceinline__ void kkcu_load8(const float *x, float *v)
{
    const float4 a = *(const float4 *)x, b = *(const float4 *)(x + 4);
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
    v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}

__device__ __forceinline__ void kkcu_load8(const uint16_t *x, float *v)
{
    const uint4 u = *(const uint4 *)x;
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
    for (int i = 0; i < 4; i++) {
        v[2 * i] = kkcu_bf16_to_f32((uint16_t)(w[i] & 0xffffu));
        v[2 * i + 1] = kkcu_bf16_to_f32((uint16_t)(w[i] >> 16));
    }
}

__device__ __forceinline__ void kkcu_store8(float *y, const float *v)
{
    *(float4 *)y = make_float4(v[0], v[1], v[2], v[3]);
    *(float4 *)(y + 4) = make_float4(v[4], v[5], v[6], v[7]);
}

__device__ __forceinline__ void kkcu_store8(uint16_t *y, const float *v)
{
    uint32_t w[4];
    for (int i = 0; i < 4; i++)
        w[i] = (uint32_t)kkcu_f32_to_bf16(v[2 * i]) | (uint32_t)kkcu_f32_to_bf16(v[2 * i + 1]) << 16;
    *(uint4 *)y = make_uint4(w[0], w[1], w[2], w[3]);
}

/* Lanes per block or group, and the tile's encoded bytes. */
__host__ __device__ __forceinline__ int kkcu_fast_group(int kind, const kkcu_params &p)
{
    return kind == KKCU_KIND_AFFINE ? p.group : 32;
}

#define KKCU_FULL 0xffffffffu

template <int KIND, typename T>
__global__ void __launch_bounds__(KKCU_FAST_WPB * 32)
    k_fast_encode(kkcu_params p, const T *x, size_t n_tiles, uint8_t *out, unsigned long long *cnt)
{
    __shared__ __align__(16) uint8_t s_codes[KKCU_FAST_WPB][KKCU_FAST_TV];
    __shared__ __align__(16) uint8_t s_stage[KKCU_FAST_WPB][KKCU_FAST_STAGE];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    uint8_t *codes = s_codes[w], *stage = s_stage[w];
    const int G = kkcu_fast_group(KIND, p), GL = G / 8;
    const int kk = lane & (GL - 1), a = lane / GL;
    const int AB = p.arm_bytes, TB = KKCU_FAST_TV / G * AB;
    unsigned long long done = 0;
    const size_t stride = (size_t)gridDim.x * KKCU_FAST_WPB * KKCU_FAST_TPW;
    for (size_t t0 = ((size_t)blockIdx.x * KKCU_FAST_WPB + w) * KKCU_FAST_TPW; t0 < n_tiles;
         t0 += stride) {
        /* every load of the warp's tiles in flight before the first use */
        float vt[KKCU_FAST_TPW][8];
#pragma unroll
        for (int k = 0; k < KKCU_FAST_TPW; k++)
            if (t0 + k < n_tiles)
                kkcu_load8(x + (t0 + k) * KKCU_FAST_TV + (size_t)lane * 8, vt[k]);
#pragma unroll
        for (int k = 0; k < KKCU_FAST_TPW; k++) {
            const size_t tile = t0 + k;
            if (tile >= n_tiles)
                break;
            const float *v = vt[k];
            if (KIND == KKCU_KIND_Q8_0) {
                float amax = 0.0f, id;
                for (int i = 0; i < 8; i++)
                    amax = kkcu_amax_step(amax, v[i]);
                for (int o = 1; o < 4; o <<= 1) {
                    const float t = __shfl_xor_sync(KKCU_FULL, amax, o);
                    amax = amax > t ? amax : t;
                }
                const uint16_t d16 = kkcu_q8_0_params(amax, &id);
                if (kk == 0)
                    kkcu_wr16(stage + a * 34, d16);
                /* 8 codes as 4 halves (the block's codes are 2-byte aligned) */
                uint8_t q[8];
                if (id <= 3.40282347e38f) /* finite: no out-of-range conversion */
                    for (int i = 0; i < 8; i++)
                        q[i] = kkcu_q8_0_code_finite(v[i], id);
                else
                    for (int i = 0; i < 8; i++)
                        q[i] = kkcu_q8_0_code(v[i], id);
                uint16_t *dq = (uint16_t *)(stage + a * 34 + 2 + kk * 8);
                for (int i = 0; i < 4; i++)
                    dq[i] = (uint16_t)(q[2 * i] | q[2 * i + 1] << 8);
            } else if (KIND == KKCU_KIND_Q4_0) {
                float amax = 0.0f, mx = 0.0f, id;
                for (int i = 0; i < 8; i++)
                    if (amax < fabsf(v[i])) {
                        amax = fabsf(v[i]);
                        mx = v[i];
                    }
                for (int o = 1; o < 4; o <<= 1) {
                    const float ta = __shfl_xor_sync(KKCU_FULL, amax, o);
                    const float tm = __shfl_xor_sync(KKCU_FULL, mx, o);
                    /* the first of equal magnitudes: the lower lanes' */
                    const bool take = (lane & o) ? !(amax > ta) : (ta > amax);
                    if (take) {
                        amax = ta;
                        mx = tm;
                    }
                }
                const uint16_t d16 = kkcu_q4_0_params(mx, &id);
                if (kk == 0)
                    kkcu_wr16(stage + a * 18, d16);
                for (int i = 0; i < 8; i++)
                    codes[lane * 8 + i] = kkcu_q4_0_code(v[i], id);
                __syncwarp();
                for (int r = 0; r < 4; r++) {
                    const int idx = lane * 4 + r, b = idx >> 4, j = idx & 15;
                    stage[b * 18 + 2 + j] = (uint8_t)(codes[b * 32 + j] | codes[b * 32 + j + 16] << 4);
                }
            } else { /* affine */
                float lo = v[0], hi = v[0];
                for (int i = 1; i < 8; i++) {
                    lo = v[i] < lo ? v[i] : lo;
                    hi = v[i] > hi ? v[i] : hi;
                }
                for (int o = 1; o < GL; o <<= 1) {
                    const float tl = __shfl_xor_sync(KKCU_FULL, lo, o);
                    const float th = __shfl_xor_sync(KKCU_FULL, hi, o);
                    if (lane & o) { /* the partner holds the earlier values */
                        lo = lo < tl ? lo : tl;
                        hi = hi > th ? hi : th;
                    } else {
                        lo = tl < lo ? tl : lo;
                        hi = th > hi ? th : hi;
                    }
                }
                uint16_t s16, m16;
                float m, inv;
                kkcu_affine_params(lo, hi, p.bits, &s16, &m16, &m, &inv);
                const float levels = (float)((1 << p.bits) - 1);
                if (kk == 0) {
                    kkcu_wr16(stage + a * AB, s16);
                    kkcu_wr16(stage + a * AB + 2, m16);
                }
                for (int i = 0; i < 8; i++)
                    codes[lane * 8 + i] = kkcu_affine_code(v[i], m, inv, levels);
                __syncwarp();
                const int pb = p.bits * G / 8; /* packed bytes per group; 32 bits per tile */
                for (int r = 0; r < p.bits; r++) {
                    const int idx = lane * p.bits + r, b = idx / pb, j = idx % pb;
                    stage[b * AB + 4 + j] = kkcu_affine_pack_byte(codes + b * G, p.bits, G, j);
                }
            }
            __syncwarp();
            uint2 *dst = (uint2 *)(out + tile * (size_t)TB);
            for (int c = lane; c < TB / 8; c += 32)
                dst[c] = ((const uint2 *)stage)[c];
            __syncwarp();
            done += KKCU_FAST_TV;
        }
    }
    if (lane == 0 && done)
        atomicAdd(cnt, done);
}

template <int KIND, typename T>
__global__ void __launch_bounds__(KKCU_FAST_WPB * 32)
    k_fast_decode(kkcu_params p, const uint8_t *in, size_t n_tiles, T *y, unsigned long long *cnt)
{
    __shared__ __align__(16) uint8_t s_stage[KKCU_FAST_WPB][KKCU_FAST_TPW][KKCU_FAST_STAGE];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int G = kkcu_fast_group(KIND, p), GL = G / 8;
    const int kk = lane & (GL - 1), a = lane / GL;
    const int AB = p.arm_bytes, TB = KKCU_FAST_TV / G * AB;
    unsigned long long done = 0;
    const size_t stride = (size_t)gridDim.x * KKCU_FAST_WPB * KKCU_FAST_TPW;
    for (size_t t0 = ((size_t)blockIdx.x * KKCU_FAST_WPB + w) * KKCU_FAST_TPW; t0 < n_tiles;
         t0 += stride) {
        /* the warp's tiles of codes into shared memory, all loads in flight */
#pragma unroll
        for (int k = 0; k < KKCU_FAST_TPW; k++)
            if (t0 + k < n_tiles) {
                const uint2 *src = (const uint2 *)(in + (t0 + k) * (size_t)TB);
                for (int c = lane; c < TB / 8; c += 32)
                    ((uint2 *)s_stage[w][k])[c] = src[c];
            }
        __syncwarp();
        for (int k = 0; k < KKCU_FAST_TPW && t0 + k < n_tiles; k++) {
            float v[8];
            const uint8_t *blk = s_stage[w][k] + a * AB;
            if (KIND == KKCU_KIND_Q8_0) {
                const float d = kkcu_q8_0_scale(blk);
                const uint16_t *sq = (const uint16_t *)(blk + 2 + kk * 8); /* 2-byte aligned */
                for (int i = 0; i < 4; i++) {
                    v[2 * i] = kkcu_q8_0_value((int8_t)(sq[i] & 0xff), d);
                    v[2 * i + 1] = kkcu_q8_0_value((int8_t)(sq[i] >> 8), d);
                }
            } else if (KIND == KKCU_KIND_Q4_0) {
                kkcu_q4_0_decode(blk, kkcu_q8_0_scale(blk), kk * 8, 8, v);
            } else {
                const float s = kkcu_f16_to_f32(kkcu_rd16(blk));
                const float m = kkcu_f16_to_f32(kkcu_rd16(blk + 2));
                for (int i = 0; i < 8; i++)
                    v[i] = kkcu_affine_value(kkcu_affine_unpack(blk + 4, p.bits, G, kk * 8 + i),
                                             m, s);
            }
            kkcu_store8(y + (t0 + k) * KKCU_FAST_TV + (size_t)lane * 8, v);
            done += KKCU_FAST_TV;
        }
        __syncwarp();
    }
    if (lane == 0 && done)
        atomicAdd(cnt, done);
}

/* Whether p has a fast kernel. */
static inline bool kkcu_fast_applies(const kkcu_params &p)
{
    return !p.dim && p.axis == 0 &&
           (p.kind == KKCU_KIND_Q8_0 || p.kind == KKCU_KIND_Q4_0 || p.kind == KKCU_KIND_AFFINE);
}

static inline unsigned kkcu_fast_grid(size_t n_tiles)
{
    const size_t per_block = (size_t)KKCU_FAST_WPB * KKCU_FAST_TPW;
    const size_t g = (n_tiles + per_block - 1) / per_block;
    return (unsigned)(g > 0x7fffffffu ? 0x7fffffffu : g);
}

/* Launch the fast encoder on the whole 256-value tiles of n_units units.
 * @return the units it took (0: none, the caller runs the tile kernel). */
template <typename T>
static size_t kkcu_fast_encode(const kkcu_params &p, const T *x, size_t n_units, uint8_t *out,
                               unsigned long long *cnt, cudaStream_t s)
{
    if (!kkcu_fast_applies(p) || ((uintptr_t)x & 15) || ((uintptr_t)out & 7))
        return 0;
    const size_t per_tile = KKCU_FAST_TV / (size_t)p.unit_values;
    const size_t n_tiles = n_units / per_tile;
    if (!n_tiles)
        return 0;
    const unsigned grid = kkcu_fast_grid(n_tiles), nt = KKCU_FAST_WPB * 32;
    void (*k)(kkcu_params, const T *, size_t, uint8_t *, unsigned long long *) =
        p.kind == KKCU_KIND_Q8_0   ? k_fast_encode<KKCU_KIND_Q8_0, T>
        : p.kind == KKCU_KIND_Q4_0 ? k_fast_encode<KKCU_KIND_Q4_0, T>
                                   : k_fast_encode<KKCU_KIND_AFFINE, T>;
    KKCU_LAUNCH(k, grid, nt, 0, s, p, x, n_tiles, out, cnt);
    return n_tiles * per_tile;
}

template <typename T>
static size_t kkcu_fast_decode(const kkcu_params &p, const uint8_t *in, size_t n_units, T *y,
                               unsigned long long *cnt, cudaStream_t s)
{
    if (!kkcu_fast_applies(p) || ((uintptr_t)y & 15) || ((uintptr_t)in & 7))
        return 0;
    const size_t per_tile = KKCU_FAST_TV / (size_t)p.unit_values;
    const size_t n_tiles = n_units / per_tile;
    if (!n_tiles)
        return 0;
    const unsigned grid = kkcu_fast_grid(n_tiles), nt = KKCU_FAST_WPB * 32;
    void (*k)(kkcu_params, const uint8_t *, size_t, T *, unsigned long long *) =
        p.kind == KKCU_KIND_Q8_0   ? k_fast_decode<KKCU_KIND_Q8_0, T>
        : p.kind == KKCU_KIND_Q4_0 ? k_fast_decode<KKCU_KIND_Q4_0, T>
                                   : k_fast_decode<KKCU_KIND_AFFINE, T>;
    KKCU_LAUNCH(k, grid, nt, 0, s, p, in, n_tiles, y, cnt);
    return n_tiles * per_tile;
}

#endif /* KKCU_FAST_CUH */
