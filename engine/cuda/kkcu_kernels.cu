/*
 * kkcu_kernels: the encode and decode kernels and their launchers.
 *
 * Contents: loads and stores | simple (a thread per unit) | axis=token (a
 * thread per channel) | tile (a thread block per tile of units in shared
 * memory) | fast (q8_0, q4_0, affine in registers: kkcu_fast.cu) | launchers
 *
 * Every kernel computes with kkcu_arith.cuh's functions, which follow the
 * CPU _ref path's operation order; what runs in parallel is only what the
 * CPU's order does not decide: independent units, groups and 8-value
 * blocks, the butterflies within one Walsh-Hadamard stage, max and min.
 * Sums (the d4/e8 group norm) run serially in one thread, in index order.
 */
#include <stdint.h>

#include "kkcu_internal.cuh"
#include "kkcu_fast.cuh"

/* ---- simple: a thread per unit ---------------------------------------------- */

template <typename T>
__global__ void k_simple_encode(kkcu_params p, const T *x, size_t n_units, uint8_t *out,
                                unsigned long long *cnt)
{
    const size_t u = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (u >= n_units)
        return;
    float buf[KKCU_MAX_DIM];
    const T *xu = x + u * (size_t)p.unit_values;
    for (int i = 0; i < p.unit_values; i++)
        buf[i] = kkcu_ld(xu, (size_t)i);
    kkcu_unit_encode(&p, buf, out + u * (size_t)p.unit_bytes);
    atomicAdd(cnt, (unsigned long long)p.unit_values);
}

template <typename T>
__global__ void k_simple_decode(kkcu_params p, const uint8_t *in, size_t n_units, T *y,
                                unsigned long long *cnt)
{
    const size_t u = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (u >= n_units)
        return;
    float buf[KKCU_MAX_DIM];
    kkcu_unit_decode(&p, in + u * (size_t)p.unit_bytes, buf);
    T *yu = y + u * (size_t)p.unit_values;
    for (int i = 0; i < p.unit_values; i++)
        kkcu_st(yu, (size_t)i, buf[i]);
    atomicAdd(cnt, (unsigned long long)p.unit_values);
}

/* ---- axis=token: a thread per channel of a unit ----------------------------- */
/* A unit is `group` token rows of C channels; channel ch's group values
 * (stride C) are one affine group, stored at ch * (4 + bits*group/8).
 * Neighbouring threads read neighbouring channels: coalesced loads. */

template <typename T>
__global__ void k_token_encode(kkcu_params p, const T *x, size_t n_units, uint8_t *out,
                               unsigned long long *cnt)
{
    const size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    const size_t C = (size_t)p.channels;
    if (t >= n_units * C)
        return;
    const size_t u = t / C, ch = t % C;
    const int g = p.group, gb = 4 + p.bits * g / 8;
    float col[128];
    const T *xu = x + u * (size_t)p.unit_values;
    for (int j = 0; j < g; j++)
        col[j] = kkcu_ld(xu, (size_t)j * C + ch);
    kkcu_affine_encode_group(col, 1, g, p.bits, out + u * (size_t)p.unit_bytes + ch * (size_t)gb);
    if (ch == 0)
        atomicAdd(cnt, (unsigned long long)p.unit_values);
}

template <typename T>
__global__ void k_token_decode(kkcu_params p, const uint8_t *in, size_t n_units, T *y,
                               unsigned long long *cnt)
{
    const size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    const size_t C = (size_t)p.channels;
    if (t >= n_units * C)
        return;
    const size_t u = t / C, ch = t % C;
    const int g = p.group, gb = 4 + p.bits * g / 8;
    float col[128];
    kkcu_affine_decode_group(in + u * (size_t)p.unit_bytes + ch * (size_t)gb, g, p.bits, col, 1);
    T *yu = y + u * (size_t)p.unit_values;
    for (int j = 0; j < g; j++)
        kkcu_st(yu, (size_t)j * C + ch, col[j]);
    if (ch == 0)
        atomicAdd(cnt, (unsigned long long)p.unit_values);
}

/* ---- tile: a thread block per tile of units ---------------------------------- */
/*
 * Shared memory of one tile (sizes from tile_layout, host-computed):
 *   xs    the tile's floats, padded one word per 32 (bank-conflict-free
 *         when a thread walks its own 32-value block)
 *   ob    the tile's encoded bytes, zeroed (bit fields are OR-ed in)
 *   side  per arm block: scale and inverse (q8_0, q4_0), minimum and
 *         inverse/scale (affine), betas and their inverses (d4/e8), the
 *         inverse range or the step (kl)
 *   cb    per value codes (q4_0, affine) or per 8-value block scale
 *         indices (d4/e8), packed in a second pass
 * Encode: load -> rotate -> side values -> codes -> pack -> store.
 * Decode: load bytes -> side values -> values -> inverse rotation -> store.
 */

/* Threads per block (the emulated test builds with fewer). */
#ifndef KKCU_NT
#define KKCU_NT 256
#endif
#define KKCU_TILE_VALUES 2048

struct tile_layout {
    int U;            /* units per tile */
    int tv;           /* values per tile */
    int xs_floats;    /* padded, rounded to 4 */
    int ob_words;     /* encoded bytes / 4, rounded up to 4 words */
    int side_floats;  /* per arm block, rounded to 4 */
    int cb_bytes;
    size_t smem;
};

__host__ __device__ __forceinline__ int pad32(int i) { return i + (i >> 5); }

static tile_layout tile_layout_of(const kkcu_params &p)
{
    tile_layout L;
    L.U = KKCU_TILE_VALUES / p.unit_values;
    if (L.U < 1)
        L.U = 1;
    L.tv = L.U * p.unit_values;
    L.xs_floats = (pad32(L.tv) + 3) & ~3;
    L.ob_words = ((L.U * p.unit_bytes + 3) / 4 + 3) & ~3;
    const int n_arm = L.tv / p.arm_values;
    const int per_arm = (p.kind == KKCU_KIND_D4 || p.kind == KKCU_KIND_E8) ? 2 * p.scales : 2;
    L.side_floats = (n_arm * per_arm + 3) & ~3;
    L.cb_bytes = (L.tv + 15) & ~15;
    L.smem = 4 * (size_t)(L.xs_floats + L.ob_words + L.side_floats) + (size_t)L.cb_bytes;
    return L;
}

/* Copy nbytes between global and shared memory: 16 bytes a thread where
 * the global address allows, words, else bytes (the smem side is 16-byte
 * aligned). */
__device__ void tile_copy(uint8_t *dst, const uint8_t *src, int nbytes, bool dst_global)
{
    const uintptr_t ga = dst_global ? (uintptr_t)dst : (uintptr_t)src;
    int done = 0;
    if ((ga & 15) == 0) {
        const int n16 = nbytes / 16;
        for (int i = threadIdx.x; i < n16; i += blockDim.x)
            ((uint4 *)dst)[i] = ((const uint4 *)src)[i];
        done = n16 * 16;
    } else if ((ga & 3) == 0) {
        const int n4 = nbytes / 4;
        for (int i = threadIdx.x; i < n4; i += blockDim.x)
            ((uint32_t *)dst)[i] = ((const uint32_t *)src)[i];
        done = n4 * 4;
    }
    for (int i = done + threadIdx.x; i < nbytes; i += blockDim.x)
        dst[i] = src[i];
}

/* One stage-ordered Walsh-Hadamard transform of every dim run of xs (nv
 * values): stage h pairs (j, j + h) with j's bit h clear; runs start at
 * multiples of dim, so one formula covers all of them. */
__device__ void tile_fwht(float *xs, int nv, int dim)
{
    for (int h = 1; h < dim; h <<= 1) {
        for (int t = threadIdx.x; t < nv / 2; t += blockDim.x) {
            const int j = ((t & ~(h - 1)) << 1) | (t & (h - 1));
            const float a = xs[pad32(j)], b = xs[pad32(j + h)];
            xs[pad32(j)] = a + b;
            xs[pad32(j + h)] = a - b;
        }
        __syncthreads();
    }
}

/* Bit field of a little-endian stream held in shared words, OR-ed in by
 * several threads at once (nbits <= 32). */
__device__ __forceinline__ void smem_or_bits(uint32_t *w, uint32_t pos, int nbits, uint32_t v)
{
    if (nbits < 32)
        v &= (1u << nbits) - 1u;
    const uint32_t sh = pos & 31u;
    if (v == 0)
        return;
    atomicOr(&w[pos >> 5], v << sh);
    if (sh + (uint32_t)nbits > 32u)
        atomicOr(&w[(pos >> 5) + 1], v >> (32u - sh));
}

template <typename T>
__global__ void __launch_bounds__(KKCU_NT)
    k_tile_encode(kkcu_params p, tile_layout L, const T *x, size_t n_units, uint8_t *out,
                  unsigned long long *cnt)
{
    KKCU_DYN_SMEM(smem);
    float *xs = (float *)smem;
    uint32_t *ow = (uint32_t *)(xs + L.xs_floats);
    uint8_t *ob = (uint8_t *)ow;
    float *side = (float *)(ow + L.ob_words);
    uint8_t *cb = (uint8_t *)(side + L.side_floats);
    const int tid = threadIdx.x, NT = blockDim.x;
    const int AV = p.arm_values, AB = p.arm_bytes;

    for (size_t u0 = (size_t)blockIdx.x * L.U; u0 < n_units; u0 += (size_t)gridDim.x * L.U) {
        const int nu = (int)(n_units - u0 < (size_t)L.U ? n_units - u0 : (size_t)L.U);
        const int nv = nu * p.unit_values, na = nv / AV;
        /* load, zero the bytes */
        const T *xt = x + u0 * (size_t)p.unit_values;
        for (int i = tid; i < nv; i += NT)
            xs[pad32(i)] = kkcu_ld(xt, (size_t)i);
        for (int i = tid; i < L.ob_words; i += NT)
            ow[i] = 0;
        __syncthreads();
        /* rotate: signs, butterflies, scale (codec_hadamard_forward) */
        if (p.dim) {
            for (int i = tid; i < nv; i += NT)
                xs[pad32(i)] *= p.signs[i & (p.dim - 1)];
            __syncthreads();
            tile_fwht(xs, nv, p.dim);
            for (int i = tid; i < nv; i += NT)
                xs[pad32(i)] *= p.rot_scale;
            __syncthreads();
        }
        /* side values: a thread per arm block, its values in index order */
        for (int a = tid; a < na; a += NT) {
            const float *xa = xs; /* read through pad32(a * AV + j) */
            const int b = a * AV;
            uint8_t *oa = ob + a * AB;
            switch (p.kind) {
            case KKCU_KIND_Q8_0: {
                float amax = 0.0f;
                for (int j = 0; j < 32; j++)
                    amax = kkcu_amax_step(amax, xa[pad32(b + j)]);
                kkcu_wr16(oa, kkcu_q8_0_params(amax, &side[a]));
            } break;
            case KKCU_KIND_Q4_0: {
                float amax = 0.0f, max = 0.0f;
                for (int j = 0; j < 32; j++) {
                    const float v = xa[pad32(b + j)];
                    if (amax < fabsf(v)) {
                        amax = fabsf(v);
                        max = v;
                    }
                }
                kkcu_wr16(oa, kkcu_q4_0_params(max, &side[a]));
            } break;
            case KKCU_KIND_AFFINE: {
                float lo = xa[pad32(b)], hi = lo;
                for (int j = 1; j < AV; j++) {
                    const float v = xa[pad32(b + j)];
                    lo = v < lo ? v : lo;
                    hi = v > hi ? v : hi;
                }
                uint16_t s16, m16;
                kkcu_affine_params(lo, hi, p.bits, &s16, &m16, &side[2 * a], &side[2 * a + 1]);
                kkcu_wr16(oa, s16);
                kkcu_wr16(oa + 2, m16);
            } break;
            case KKCU_KIND_D4:
            case KKCU_KIND_E8: {
                float s = 0.0f;
                for (int j = 0; j < AV; j++) {
                    const float v = xa[pad32(b + j)];
                    s += v * v;
                }
                const uint16_t n16 = kkcu_lattice_norm16(s);
                kkcu_wr16(oa, n16);
                float *beta = side + a * 2 * p.scales, *inv = beta + p.scales;
                kkcu_lattice_betas(&p, n16, beta);
                for (int i = 0; i < p.scales; i++)
                    inv[i] = beta[i] > 0.0f ? 1.0f / beta[i] : 0.0f;
            } break;
            default: { /* kl */
                float m = 0.0f;
                for (int j = 0; j < AV; j++)
                    m = kkcu_kl_max_step(m, xa[pad32(b + j)]);
                const uint32_t mb = kkcu_f32_to_bits(m);
                for (int i = 0; i < 4; i++)
                    oa[i] = (uint8_t)(mb >> (8 * i));
                side[a] = kkcu_kl_inv(m, p.kl_q);
            } break;
            }
        }
        __syncthreads();
        /* codes */
        switch (p.kind) {
        case KKCU_KIND_Q8_0:
            for (int i = tid; i < nv; i += NT)
                ob[(i >> 5) * 34 + 2 + (i & 31)] = kkcu_q8_0_code(xs[pad32(i)], side[i >> 5]);
            break;
        case KKCU_KIND_Q4_0:
            for (int i = tid; i < nv; i += NT)
                cb[i] = kkcu_q4_0_code(xs[pad32(i)], side[i >> 5]);
            __syncthreads();
            for (int i = tid; i < na * 16; i += NT) {
                const int a = i >> 4, j = i & 15;
                ob[a * 18 + 2 + j] = (uint8_t)(cb[a * 32 + j] | cb[a * 32 + j + 16] << 4);
            }
            break;
        case KKCU_KIND_AFFINE: {
            const float levels = (float)((1 << p.bits) - 1);
            for (int i = tid; i < nv; i += NT) {
                const int a = i / AV;
                cb[i] = kkcu_affine_code(xs[pad32(i)], side[2 * a], side[2 * a + 1], levels);
            }
            __syncthreads();
            const int pb = p.bits * AV / 8;
            for (int i = tid; i < na * pb; i += NT) {
                const int a = i / pb, j = i % pb;
                ob[a * AB + 4 + j] = kkcu_affine_pack_byte(cb + a * AV, p.bits, AV, j);
            }
        } break;
        case KKCU_KIND_D4:
        case KKCU_KIND_E8: {
            const int bpg = AV / 8; /* 8-value blocks per group */
            for (int t = tid; t < nv / 8; t += NT) {
                const int a = t / bpg, blk = t % bpg;
                float xb[8], k[8];
                for (int i = 0; i < 8; i++)
                    xb[i] = xs[pad32(8 * t + i)];
                const float *beta = side + a * 2 * p.scales;
                cb[t] = (uint8_t)kkcu_lattice_search(&p, xb, beta, beta + p.scales, k);
                kkcu_lattice_put_codes(k, p.log2q, p.code_bytes,
                                       ob + a * AB + 2 + blk * p.code_bytes);
            }
            __syncthreads();
            for (int a = tid; a < na; a += NT)
                for (int blk = 0; blk < bpg; blk++)
                    kkcu_put_bits(ob + a * AB + p.idx_offset, (uint32_t)(blk * p.log2s), p.log2s,
                                  cb[a * bpg + blk]);
        } break;
        default: { /* kl: a thread per lattice point, bits OR-ed into ow */
            const int n = p.lat_n, ppv = AV / n, q = p.kl_q, bits = p.kl_bits;
            const int cbit = n == 8 ? 1 : 0, rb = bits - cbit;
            for (int t = tid; t < nv / n; t += NT) {
                const int a = t / ppv, k = t % ppv;
                float y[8];
                int32_t d[8];
                for (int i = 0; i < n; i++)
                    y[i] = xs[pad32(n * t + i)] * side[a];
                const int coset = lp_kl_quantize(n, q, y, d);
                uint64_t lo, hi;
                kkcu_kl_rank(n, q, d, &lo, &hi);
                const uint32_t at = (uint32_t)(a * AB + 4) * 8u + (uint32_t)(k * bits);
                if (n == 8)
                    smem_or_bits(ow, at, 1, (uint32_t)coset);
                for (int o = 0; o < rb; o += 32) {
                    const int m = rb - o < 32 ? rb - o : 32;
                    const uint64_t part =
                        o < 64 ? (lo >> o) | (o > 0 ? hi << (64 - o) : 0) : hi >> (o - 64);
                    smem_or_bits(ow, at + (uint32_t)(cbit + o), m, (uint32_t)part);
                }
            }
        } break;
        }
        __syncthreads();
        tile_copy(out + u0 * (size_t)p.unit_bytes, ob, nu * p.unit_bytes, true);
        if (tid == 0)
            atomicAdd(cnt, (unsigned long long)nv);
        __syncthreads(); /* the next tile reuses the shared memory */
    }
}

template <typename T>
__global__ void __launch_bounds__(KKCU_NT)
    k_tile_decode(kkcu_params p, tile_layout L, const uint8_t *in, size_t n_units, T *y,
                  unsigned long long *cnt)
{
    KKCU_DYN_SMEM(smem);
    float *xs = (float *)smem;
    uint32_t *ow = (uint32_t *)(xs + L.xs_floats);
    uint8_t *ob = (uint8_t *)ow;
    float *side = (float *)(ow + L.ob_words);
    const int tid = threadIdx.x, NT = blockDim.x;
    const int AV = p.arm_values, AB = p.arm_bytes;

    for (size_t u0 = (size_t)blockIdx.x * L.U; u0 < n_units; u0 += (size_t)gridDim.x * L.U) {
        const int nu = (int)(n_units - u0 < (size_t)L.U ? n_units - u0 : (size_t)L.U);
        const int nv = nu * p.unit_values, na = nv / AV;
        tile_copy(ob, in + u0 * (size_t)p.unit_bytes, nu * p.unit_bytes, false);
        __syncthreads();
        /* side values */
        for (int a = tid; a < na; a += NT) {
            const uint8_t *ia = ob + a * AB;
            switch (p.kind) {
            case KKCU_KIND_Q8_0:
            case KKCU_KIND_Q4_0:
                side[a] = kkcu_q8_0_scale(ia);
                break;
            case KKCU_KIND_AFFINE:
                side[2 * a] = kkcu_f16_to_f32(kkcu_rd16(ia));         /* s */
                side[2 * a + 1] = kkcu_f16_to_f32(kkcu_rd16(ia + 2)); /* m */
                break;
            case KKCU_KIND_D4:
            case KKCU_KIND_E8:
                kkcu_lattice_betas(&p, kkcu_rd16(ia), side + a * 2 * p.scales);
                break;
            default:
                side[a] = kkcu_kl_step(ia, p.kl_q);
                break;
            }
        }
        __syncthreads();
        /* values */
        switch (p.kind) {
        case KKCU_KIND_Q8_0:
            for (int i = tid; i < nv; i += NT)
                xs[pad32(i)] = kkcu_q8_0_value((int8_t)ob[(i >> 5) * 34 + 2 + (i & 31)],
                                               side[i >> 5]);
            break;
        case KKCU_KIND_Q4_0:
            for (int i = tid; i < nv; i += NT) {
                float v;
                kkcu_q4_0_decode(ob + (i >> 5) * 18, side[i >> 5], i & 31, 1, &v);
                xs[pad32(i)] = v;
            }
            break;
        case KKCU_KIND_AFFINE:
            for (int i = tid; i < nv; i += NT) {
                const int a = i / AV, j = i % AV;
                xs[pad32(i)] = kkcu_affine_value(kkcu_affine_unpack(ob + a * AB + 4, p.bits, AV, j),
                                                 side[2 * a + 1], side[2 * a]);
            }
            break;
        case KKCU_KIND_D4:
        case KKCU_KIND_E8: {
            const int bpg = AV / 8;
            for (int t = tid; t < nv / 8; t += NT) {
                const int a = t / bpg, blk = t % bpg;
                float v[8];
                kkcu_lattice_decode_block(&p, ob + a * AB, side + a * 2 * p.scales, blk, v);
                for (int i = 0; i < 8; i++)
                    xs[pad32(8 * t + i)] = v[i];
            }
        } break;
        default: {
            const int n = p.lat_n, ppv = AV / n;
            for (int t = tid; t < nv / n; t += NT) {
                const int a = t / ppv, k = t % ppv;
                float v[8];
                if (n == 8)
                    kkcu_kl_decode_point<8>(ob + a * AB + 4, k, p.kl_q, p.kl_bits, side[a], v);
                else
                    kkcu_kl_decode_point<4>(ob + a * AB + 4, k, p.kl_q, p.kl_bits, side[a], v);
                for (int i = 0; i < n; i++)
                    xs[pad32(n * t + i)] = v[i];
            }
        } break;
        }
        __syncthreads();
        /* inverse rotation: butterflies, then s * sign (codec_hadamard_inverse) */
        if (p.dim) {
            tile_fwht(xs, nv, p.dim);
            for (int i = tid; i < nv; i += NT)
                xs[pad32(i)] *= p.rot_scale * p.signs[i & (p.dim - 1)];
            __syncthreads();
        }
        T *yt = y + u0 * (size_t)p.unit_values;
        for (int i = tid; i < nv; i += NT)
            kkcu_st(yt, (size_t)i, xs[pad32(i)]);
        if (tid == 0)
            atomicAdd(cnt, (unsigned long long)nv);
        __syncthreads();
    }
}

/* ---- launchers ------------------------------------------------------------------ */

static unsigned grid_for(size_t items, unsigned per_block)
{
    size_t g = (items + per_block - 1) / per_block;
    return (unsigned)(g > 0x7fffffffu ? 0x7fffffffu : g);
}

/* The simple kernels' 4 KB of local floats per thread: small blocks. */
#define KKCU_SIMPLE_NT 64

template <typename T>
static void launch_encode_t(const kkcu_codec *c, const T *x, size_t n_units, uint8_t *out,
                            cudaStream_t s)
{
    const kkcu_params &p = c->p;
    unsigned long long *cnt = c->d_counts;
    if (p.axis == 1) {
        const size_t items = n_units * (size_t)p.channels;
        KKCU_LAUNCH(k_token_encode<T>, grid_for(items, KKCU_NT), KKCU_NT, 0, s, p, x, n_units, out,
                    cnt);
        return;
    }
    if (c->impl == KKCU_IMPL_SIMPLE) {
        KKCU_LAUNCH(k_simple_encode<T>, grid_for(n_units, KKCU_SIMPLE_NT), KKCU_SIMPLE_NT, 0, s, p,
                    x, n_units, out, cnt);
        return;
    }
    /* fast: the whole 256-value tiles; the tile kernel takes the rest */
    const size_t done = c->impl == KKCU_IMPL_FAST ? kkcu_fast_encode(p, x, n_units, out, cnt, s) : 0;
    if (done < n_units) {
        const tile_layout L = tile_layout_of(p);
        KKCU_LAUNCH(k_tile_encode<T>, grid_for(n_units - done, (unsigned)L.U), KKCU_NT, L.smem, s, p,
                    L, x + done * (size_t)p.unit_values, n_units - done,
                    out + done * (size_t)p.unit_bytes, cnt);
    }
}

template <typename T>
static void launch_decode_t(const kkcu_codec *c, const uint8_t *in, size_t n_units, T *y,
                            cudaStream_t s)
{
    const kkcu_params &p = c->p;
    unsigned long long *cnt = c->d_counts + 1;
    if (p.axis == 1) {
        const size_t items = n_units * (size_t)p.channels;
        KKCU_LAUNCH(k_token_decode<T>, grid_for(items, KKCU_NT), KKCU_NT, 0, s, p, in, n_units, y,
                    cnt);
        return;
    }
    if (c->impl == KKCU_IMPL_SIMPLE) {
        KKCU_LAUNCH(k_simple_decode<T>, grid_for(n_units, KKCU_SIMPLE_NT), KKCU_SIMPLE_NT, 0, s, p,
                    in, n_units, y, cnt);
        return;
    }
    const size_t done = c->impl == KKCU_IMPL_FAST ? kkcu_fast_decode(p, in, n_units, y, cnt, s) : 0;
    if (done < n_units) {
        const tile_layout L = tile_layout_of(p);
        KKCU_LAUNCH(k_tile_decode<T>, grid_for(n_units - done, (unsigned)L.U), KKCU_NT, L.smem, s, p,
                    L, in + done * (size_t)p.unit_bytes, n_units - done,
                    y + done * (size_t)p.unit_values, cnt);
    }
}

cudaError_t kkcu_launch_encode(const kkcu_codec *c, const void *x, kkcu_dtype xt, size_t n_units,
                               uint8_t *out, cudaStream_t s)
{
    if (xt == KKCU_BF16)
        launch_encode_t(c, (const uint16_t *)x, n_units, out, s);
    else
        launch_encode_t(c, (const float *)x, n_units, out, s);
    return cudaGetLastError();
}

cudaError_t kkcu_launch_decode(const kkcu_codec *c, const uint8_t *in, size_t n_units, void *y,
                               kkcu_dtype yt, cudaStream_t s)
{
    if (yt == KKCU_BF16)
        launch_decode_t(c, in, n_units, (uint16_t *)y, s);
    else
        launch_decode_t(c, in, n_units, (float *)y, s);
    return cudaGetLastError();
}
