/*
 * kkcu_attn: decode-step attention over a packed K/V cache (kkcu_attn.h).
 *
 * Contents
 *   codec policies   how one lane reads its K values and its V values out
 *                    of a token's codes in shared memory (q8_0, kl_e8, F16)
 *   split kernel     flash-decoding: tiles of T tokens, cp.async into two
 *                    shared-memory stages, scores, online softmax, P V
 *   host API         kkcu_attn_init ... kkcu_attn_free, the fused and the
 *                    F16 split paths (the reference path is kkcu_attn_ref.cu)
 *
 * The split kernel, for one K/V head g and one run of tiles (one block of
 * 128 threads = 4 warps; the 4 query heads of the group share every byte
 * read, which is the point of GQA on a memory-bound step):
 *   stage the next tile's K and V codes (cp.async, 16-byte chunks, issued
 *   one tile ahead) while this tile is computed;
 *   scores: 8 lanes per token, lane j holds 16 dims of q for the 4 heads
 *     in registers (prescaled by log2(e) / sqrt(128), so exp2 gives the
 *     softmax) and decodes its 16 K values; 3 shuffles per head sum the 8
 *     lanes; each warp covers T/4 tokens, 4 at a time;
 *   softmax: warp h owns query head h: the tile's max, the correction
 *     exp2(m_old - m_new), p = exp2(s - m_new), the running sum (Milakov
 *     and Gimelshein, "Online normalizer calculation for softmax", 2018;
 *     the split-K form is Dao et al.'s flash-decoding, 2023);
 *   P V: all 32 lanes on one token, lane l decodes dims 4l..4l+3 of V and
 *     adds p x v for the 4 heads into 16 F32 accumulators (kl_e8: a
 *     half-warp a token, 8 dims a lane); the 4 warps take a quarter of the
 *     tile each and are summed once at the end.
 * Each block writes its unnormalized output and (m, l) per head; the last
 * block of a K/V head to finish (a device-wide counter per head, the
 * threadfence reduction of the CUDA samples) weighs the splits by
 * exp2(m_s - M), divides by the sum and writes the output. One launch per
 * call: the query preparation (kl_e8's rotation, the softmax scale) is the
 * blocks' prologue, the merge the last block's epilogue, so nothing waits
 * on a second kernel's launch (about 2 us each: most of the 3 us the whole
 * cache takes to read at 4k tokens).
 */
#include "kkcu_attn.h"

/* Under the codecs' CPU emulator (tests/cuda/emu: one-dimensional grids,
 * float shuffles, no cp.async) this file compiles to nothing; its kernels
 * run on the CPU under tests/cuda/kkcu_emu.h (`make test-attn-emu`). */
#if !defined(KKCU_EMU) || defined(KKCU_EMU_FIBERS)

#include "kkcu_attn_internal.cuh"

namespace {

/* ---- codec policies ------------------------------------------------------------------ */

/* 4 int8 codes (one little-endian word) to floats, exactly: the biased
 * byte b + 128 becomes the low mantissa bits of 2^23 and the bias is
 * subtracted (one PRMT and one FADD a value; the I2F conversion runs at a
 * quarter of the rate on sm_90). */
__device__ __forceinline__ void i8x4_to_f32(uint32_t w, float *f)
{
    const uint32_t u = w ^ 0x80808080u;
    f[0] = __uint_as_float(__byte_perm(u, 0x4B000000u, 0x7440)) - 8388736.0f;
    f[1] = __uint_as_float(__byte_perm(u, 0x4B000000u, 0x7441)) - 8388736.0f;
    f[2] = __uint_as_float(__byte_perm(u, 0x4B000000u, 0x7442)) - 8388736.0f;
    f[3] = __uint_as_float(__byte_perm(u, 0x4B000000u, 0x7443)) - 8388736.0f;
}

/* NW words from p, which is 2-byte aligned: aligned 32-bit loads from
 * p rounded down to 4 and a byte permute where p was not. The rounded
 * pointer is p minus its offset, not p's bits masked through an integer,
 * so the compiler still knows it points into shared memory (ld.shared,
 * not a generic load). */
template <int NW>
__device__ __forceinline__ void ld_words_2a(const uint8_t *p, uint32_t *w)
{
    const unsigned off = (unsigned)(uintptr_t)p & 2u;
    const uint32_t *a = (const uint32_t *)(p - off);
    const unsigned sel = off ? 0x5432u : 0x3210u;
    uint32_t r[NW + 1];
#pragma unroll
    for (int i = 0; i <= NW; i++)
        r[i] = a[i];
#pragma unroll
    for (int i = 0; i < NW; i++)
        w[i] = __byte_perm(r[i], r[i + 1], sel);
}

/* q8_0: a token's head is 4 blocks of 34 bytes (F16 d, int8 q[32]).
 * K: lane j (0..7) takes dims 16j..16j+15 = half j&1 of block j>>1.
 * V: lane l (0..31) takes dims 4l..4l+3 of block l>>3. */
struct codec_q8 {
    static constexpr int HBMAX = 136;
    static constexpr int VD = 4; /* V dims per lane: a warp covers one token */
    __device__ static __forceinline__ void k_dot(const uint8_t *tok, int j, const float (&qr)[G][16],
                                                 float (&p)[G], const attn_params &)
    {
        const uint8_t *blk = tok + KKCU_Q8_0_BYTES * (j >> 1);
        const float d = attn_h2f(*(const uint16_t *)blk);
        uint32_t w[4];
        ld_words_2a<4>(blk + 2 + 16 * (j & 1), w);
        float s[G] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int c = 0; c < 4; c++) {
            float x[4];
            i8x4_to_f32(w[c], x);
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int h = 0; h < G; h++)
                    s[h] = fmaf(qr[h][4 * c + i], x[i], s[h]);
        }
#pragma unroll
        for (int h = 0; h < G; h++)
            p[h] = s[h] * d;
    }
    __device__ static __forceinline__ void v_vals(const uint8_t *tok, int l, float (&y)[VD],
                                                  const attn_params &)
    {
        const uint8_t *blk = tok + KKCU_Q8_0_BYTES * (l >> 3);
        const float d = attn_h2f(*(const uint16_t *)blk);
        uint32_t w[1];
        ld_words_2a<1>(blk + 2 + 4 * (l & 7), w);
        float x[4];
        i8x4_to_f32(w[0], x);
#pragma unroll
        for (int i = 0; i < 4; i++)
            y[i] = x[i] * d; /* = kkcu_q8_0_value: the CPU's float */
    }
};

/* kl_e8: F32 qmax, then 16 E8 points in the rotated basis (kkcu_decode.cuh
 * kkcu_kl_decode_point: the CPU's floats). K: lane j decodes points 2j and
 * 2j+1 (its 16 dims); V: lane l of a half-warp decodes point l (8 dims), so
 * a warp covers two tokens and no point is decoded twice (the decode, not
 * the bytes, bounds kl_e8: one 64-bit and eight 32-bit divisions a point). The
 * rotation is applied once to q (the split kernel's prologue) and undone
 * once on the output (its merge), never per token. */
struct codec_kl {
    static constexpr int HBMAX = 140; /* q up to 152: 4 + 16 x 67 bits */
    static constexpr int VD = 8;
    __device__ static __forceinline__ void k_dot(const uint8_t *tok, int j, const float (&qr)[G][16],
                                                 float (&p)[G], const attn_params &pr)
    {
        const float step = kkcu_kl_step(tok, pr.q);
        float s[G] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int half = 0; half < 2; half++) {
            float y[8];
            kkcu_kl_decode_point<8>(tok + 4, 2 * j + half, pr.q, pr.bits, step, y);
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int h = 0; h < G; h++)
                    s[h] = fmaf(qr[h][8 * half + i], y[i], s[h]);
        }
#pragma unroll
        for (int h = 0; h < G; h++)
            p[h] = s[h];
    }
    __device__ static __forceinline__ void v_vals(const uint8_t *tok, int l, float (&y)[VD],
                                                  const attn_params &pr)
    {
        kkcu_kl_decode_point<8>(tok + 4, l, pr.q, pr.bits, kkcu_kl_step(tok, pr.q), y);
    }
};

/* F16: the decoded cache of the reference path, 256 bytes per token-head
 * (16-byte aligned: the tiles start at multiples of 256 bytes). */
struct codec_f16 {
    static constexpr int HBMAX = 256;
    static constexpr int VD = 4;
    __device__ static __forceinline__ void k_dot(const uint8_t *tok, int j, const float (&qr)[G][16],
                                                 float (&p)[G], const attn_params &)
    {
        const uint4 *src = (const uint4 *)(tok + 32 * j);
        const uint4 a = src[0], b = src[1];
        const uint32_t w[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
        float s[G] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int c = 0; c < 8; c++) {
            const float x0 = attn_h2f((uint16_t)(w[c] & 0xffffu)), x1 = attn_h2f((uint16_t)(w[c] >> 16));
#pragma unroll
            for (int h = 0; h < G; h++) {
                s[h] = fmaf(qr[h][2 * c], x0, s[h]);
                s[h] = fmaf(qr[h][2 * c + 1], x1, s[h]);
            }
        }
#pragma unroll
        for (int h = 0; h < G; h++)
            p[h] = s[h];
    }
    __device__ static __forceinline__ void v_vals(const uint8_t *tok, int l, float (&y)[VD],
                                                  const attn_params &)
    {
        const uint2 w = *(const uint2 *)(tok + 8 * l);
        y[0] = attn_h2f((uint16_t)(w.x & 0xffffu));
        y[1] = attn_h2f((uint16_t)(w.x >> 16));
        y[2] = attn_h2f((uint16_t)(w.y & 0xffffu));
        y[3] = attn_h2f((uint16_t)(w.y >> 16));
    }
};

/* ---- split kernel ----------------------------------------------------------------------- */

/* In place over the G rows of x[G][D] in shared memory, thread d of D:
 * the unnormalized Walsh-Hadamard butterflies of codec_hadamard.c fwht
 * (a + b, a - b), one barrier per stage. */
__device__ __forceinline__ void fwht_rows(float (*x)[D], int d)
{
    for (int h = 1; h < D; h <<= 1) {
        __syncthreads();
        if (!(d & h))
#pragma unroll
            for (int r = 0; r < G; r++) {
                const float a = x[r][d], b = x[r][d + h];
                x[r][d] = a + b;
                x[r][d + h] = a - b;
            }
    }
    __syncthreads();
}


/* nbytes from src into dst (shared, 16-byte aligned) as whole 16-byte
 * chunks from src rounded down to 16: the data starts at dst + (src & 15).
 * The cache is allocated rounded up to 16 (kkcu_attn_cache_bytes), so the
 * last chunk stays inside it. */
__device__ __forceinline__ void copy_tile(uint8_t *dst, const uint8_t *src, int nbytes, int tid)
{
    const uintptr_t a = (uintptr_t)src;
    const uint8_t *s0 = (const uint8_t *)(a & ~(uintptr_t)15);
    const int nch = (int)(((a & 15) + (uintptr_t)nbytes + 15) >> 4);
    for (int c = tid; c < nch; c += NT)
        __pipeline_memcpy_async(dst + 16 * c, s0 + 16 * c, 16);
}

/* What a split kernel reads besides the codes (one struct: the launch
 * passes it by value). */
struct attn_io {
    const float *q;       /* (n_heads, D) the queries */
    const float *signs_k; /* kl_e8: K's rotation signs (D); NULL: no rotation */
    const float *signs_v; /* kl_e8: V's */
    float rot_scale;      /* 1 / sqrt(D), as codec_hadamard.c */
    float *part_o;        /* (n_heads, n_splits, D) */
    float2 *part_ml;      /* (n_heads, n_splits) */
    unsigned *done;       /* (n_kv_heads) blocks finished, 0 between calls */
    float *out;           /* (n_heads, D) */
};

/* grid (n_kv_heads, n_splits), NT threads; kc, vc: (n_kv_heads, n_ctx, hb)
 * codes. Each block writes part_o (sum_t 2^(s_t - m) v_t over its split,
 * per query head) and part_ml (m, the split's max score in log2 units,
 * and l = sum_t 2^(s_t - m)); the last block of K/V head g merges the
 * splits of its 4 query heads into out and resets done[g]. */
template <class C, int T>
__global__ void __launch_bounds__(NT)
attn_split(const uint8_t *__restrict__ kc, const uint8_t *__restrict__ vc, long long n_ctx,
           int tiles_per_split, attn_params pr, attn_io io)
{
    constexpr int SK = T * C::HBMAX + 32;
    constexpr int TPW = T / 4;       /* tokens per warp */
    constexpr int VD = C::VD;        /* V dims per lane */
    constexpr int VT = 32 * VD / D;  /* tokens a warp takes per V step: 1 or 2 */
    constexpr int VL = D / VD;       /* lanes per token in the V step */
    static_assert(VT == 1 || VT == 2, "4 or 8 V dims a lane");
    static_assert(T % 16 == 0 && T <= 64, "4 warps x 4 tokens a step; softmax reads 2 per lane");
    static_assert(NT == D && NT / 32 == G, "thread d holds dim d; warp h owns query head h");
    __shared__ __align__(16) uint8_t sk[2][SK];
    __shared__ __align__(16) uint8_t sv[2][SK];
    __shared__ __align__(16) float sp[T][G]; /* scores, then p */
    __shared__ float scorr[G];
    __shared__ __align__(16) float sred[4][G][D];
    __shared__ __align__(16) float sq[G][D]; /* the queries, then the merged output */
    __shared__ int s_last;

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, j = lane & 7;
    const int g = blockIdx.x, split = blockIdx.y, n_splits = gridDim.y;
    const int hb = pr.hb;
    const long long t_begin = (long long)split * tiles_per_split * T;
    const long long t_end = t_begin + (long long)tiles_per_split * T < n_ctx
                                ? t_begin + (long long)tiles_per_split * T
                                : n_ctx;
    const int n_tiles = (int)((t_end - t_begin + T - 1) / T);
    const uint8_t *kh = kc + (size_t)g * (size_t)n_ctx * (size_t)hb;
    const uint8_t *vh = vc + (size_t)g * (size_t)n_ctx * (size_t)hb;

    /* the group's 4 queries, rotated as K was (kl_e8: signs, butterflies,
     * rot_scale) and scaled by log2(e) / sqrt(D); lane j keeps 16 dims */
#pragma unroll
    for (int h = 0; h < G; h++) {
        const float x = io.q[(size_t)(G * g + h) * D + tid];
        sq[h][tid] = io.signs_k ? x * io.signs_k[tid] : x;
    }
    if (io.signs_k)
        fwht_rows(sq, tid);
    else
        __syncthreads();
    const float qscale = (io.signs_k ? io.rot_scale : 1.0f) * (1.4426950408889634f / sqrtf((float)D));
    float qr[G][16];
#pragma unroll
    for (int h = 0; h < G; h++)
#pragma unroll
        for (int i = 0; i < 16; i++)
            qr[h][i] = sq[h][16 * j + i] * qscale;
    float acc[G][VD];
#pragma unroll
    for (int h = 0; h < G; h++)
#pragma unroll
        for (int i = 0; i < VD; i++)
            acc[h][i] = 0.0f;
    float m_run = -INFINITY, l_run = 0.0f; /* warp h: query head h of the group */

    auto issue = [&](int it) {
        const long long t0 = t_begin + (long long)it * T;
        const int n = (int)(t_end - t0 < T ? t_end - t0 : T);
        copy_tile(sk[it & 1], kh + (size_t)t0 * hb, n * hb, tid);
        copy_tile(sv[it & 1], vh + (size_t)t0 * hb, n * hb, tid);
    };
    issue(0);
    __pipeline_commit();
    for (int it = 0; it < n_tiles; it++) {
        if (it + 1 < n_tiles)
            issue(it + 1);
        __pipeline_commit(); /* possibly empty: the wait below is the same every tile */
        __pipeline_wait_prior(1);
        __syncthreads();
        const long long t0 = t_begin + (long long)it * T;
        const int n = (int)(t_end - t0 < T ? t_end - t0 : T);
        const uint8_t *tk = sk[it & 1] + ((uintptr_t)(kh + (size_t)t0 * hb) & 15);
        const uint8_t *tv = sv[it & 1] + ((uintptr_t)(vh + (size_t)t0 * hb) & 15);

        /* scores: 8 lanes per token, 4 tokens per step */
#pragma unroll
        for (int s = 0; s < TPW / 4; s++) {
            const int tt = warp * TPW + 4 * s + (lane >> 3);
            float p[G] = {0.0f, 0.0f, 0.0f, 0.0f};
            if (tt < n)
                C::k_dot(tk + tt * hb, j, qr, p, pr);
#pragma unroll
            for (int o = 1; o < 8; o <<= 1)
#pragma unroll
                for (int h = 0; h < G; h++)
                    p[h] += __shfl_xor_sync(FULL, p[h], o);
            if (j < G) {
                float v = p[0];
#pragma unroll
                for (int h = 1; h < G; h++)
                    v = j == h ? p[h] : v;
                sp[tt][j] = tt < n ? v : -INFINITY;
            }
        }
        __syncthreads();

        /* online softmax: warp h owns head h */
        {
            const int h = warp;
            float mx = -INFINITY;
            for (int t = lane; t < T; t += 32)
                mx = fmaxf(mx, sp[t][h]);
#pragma unroll
            for (int o = 16; o > 0; o >>= 1)
                mx = fmaxf(mx, __shfl_xor_sync(FULL, mx, o));
            const float m_new = fmaxf(m_run, mx); /* finite: the tile has a token */
            const float corr = exp2f(m_run - m_new); /* 0 on the first tile */
            float sum = 0.0f;
            for (int t = lane; t < T; t += 32) {
                const float e = exp2f(sp[t][h] - m_new); /* 0 past the tile's end */
                sp[t][h] = e;
                sum += e;
            }
#pragma unroll
            for (int o = 16; o > 0; o >>= 1)
                sum += __shfl_xor_sync(FULL, sum, o);
            l_run = l_run * corr + sum;
            m_run = m_new;
            if (lane == 0)
                scorr[h] = corr;
        }
        __syncthreads();

        /* P V: lane l holds dims VD*(l%VL) .. +VD-1 of the 4 heads, for
         * token l/VL of each step of VT tokens */
        {
#pragma unroll
            for (int h = 0; h < G; h++) {
                const float c = scorr[h];
#pragma unroll
                for (int i = 0; i < VD; i++)
                    acc[h][i] *= c;
            }
            const int vl = lane % VL;
            for (int u = 0; u < TPW; u += VT) {
                if (warp * TPW + u >= n)
                    break; /* warp-uniform */
                const int tt = warp * TPW + u + lane / VL;
                if (tt < n) { /* the second half-warp may be past the end */
                    float y[VD];
                    C::v_vals(tv + tt * hb, vl, y, pr);
                    const float4 pw = *(const float4 *)sp[tt];
#pragma unroll
                    for (int i = 0; i < VD; i++) {
                        acc[0][i] = fmaf(pw.x, y[i], acc[0][i]);
                        acc[1][i] = fmaf(pw.y, y[i], acc[1][i]);
                        acc[2][i] = fmaf(pw.z, y[i], acc[2][i]);
                        acc[3][i] = fmaf(pw.w, y[i], acc[3][i]);
                    }
                }
            }
        }
        __syncthreads(); /* the next issue overwrites this stage */
    }

    /* the 4 warps' sums, once (two tokens a step: the half-warps first) */
    if (VT == 2)
#pragma unroll
        for (int h = 0; h < G; h++)
#pragma unroll
            for (int i = 0; i < VD; i++)
                acc[h][i] += __shfl_xor_sync(FULL, acc[h][i], 16);
    if (lane < VL)
#pragma unroll
        for (int h = 0; h < G; h++)
#pragma unroll
            for (int i = 0; i < VD; i += 4)
                *(float4 *)&sred[warp][h][VD * lane + i] =
                    make_float4(acc[h][i], acc[h][i + 1], acc[h][i + 2], acc[h][i + 3]);
    __syncthreads();
#pragma unroll
    for (int h = 0; h < G; h++) {
        const float o = sred[0][h][tid] + sred[1][h][tid] + sred[2][h][tid] + sred[3][h][tid];
        io.part_o[((size_t)(G * g + h) * n_splits + split) * D + tid] = o;
    }
    if (lane == 0)
        io.part_ml[(size_t)(G * g + warp) * n_splits + split] = make_float2(m_run, l_run);

    /* the last block of head group g merges its splits */
    __threadfence(); /* this block's parts visible to the device before it counts */
    __syncthreads();
    if (tid == 0)
        s_last = atomicAdd(&io.done[g], 1u) == (unsigned)n_splits - 1;
    __syncthreads();
    if (!s_last)
        return; /* the whole block */
    __threadfence();
#pragma unroll
    for (int h = 0; h < G; h++) {
        const float2 *ml = io.part_ml + (size_t)(G * g + h) * n_splits;
        const float *po = io.part_o + (size_t)(G * g + h) * n_splits * D + tid;
        float mx = -INFINITY;
        for (int k = 0; k < n_splits; k++)
            mx = fmaxf(mx, __ldcg(&ml[k]).x); /* L2: other blocks wrote them */
        float l = 0.0f, o = 0.0f;
        for (int k = 0; k < n_splits; k++) {
            const float2 mlk = __ldcg(&ml[k]);
            const float w = exp2f(mlk.x - mx);
            l = fmaf(mlk.y, w, l);
            o = fmaf(__ldcg(&po[(size_t)k * D]), w, o);
        }
        sq[h][tid] = o / l; /* l >= 1: the split holding the max adds 2^0 */
    }
    if (io.signs_v) { /* V's inverse rotation: butterflies, x rot_scale x sign */
        fwht_rows(sq, tid);
#pragma unroll
        for (int h = 0; h < G; h++)
            sq[h][tid] *= io.rot_scale * io.signs_v[tid];
    }
#pragma unroll
    for (int h = 0; h < G; h++)
        io.out[(size_t)(G * g + h) * D + tid] = sq[h][tid];
    if (tid == 0)
        io.done[g] = 0; /* the next call on the stream starts from 0 */
}

} /* namespace */

/* ---- host API ------------------------------------------------------------------------------ */

/* ceil(log2(count of E8 points in [-q, q]^8)) + the coset bit:
 * codec_kakeya.c codec_kakeya_block_bits(8, q). */
static int kl_e8_bits(int q)
{
    __extension__ typedef unsigned __int128 u128;
    u128 r = 1;
    for (int i = 0; i < 8; i++)
        r *= (u128)(2 * q + 1);
    r = (r + 1) / 2;
    int b = 0;
    while (((u128)1 << b) < r)
        b++;
    return b + 1;
}

static int64_t splits_per_head(const kkcu_attn *a, int64_t n_ctx, int T, int64_t *tiles_per_split)
{
    const int64_t n_tiles = (n_ctx + T - 1) / T;
    int64_t want = ((int64_t)BLOCKS_PER_SM * a->n_sm + a->cfg.n_kv_heads - 1) / a->cfg.n_kv_heads;
    if (want < 1)
        want = 1;
    if (want > a->max_splits)
        want = a->max_splits;
    const int64_t tps = (n_tiles + want - 1) / want;
    if (tiles_per_split)
        *tiles_per_split = tps;
    return (n_tiles + tps - 1) / tps;
}

extern "C" kk_code kkcu_attn_init(kkcu_attn **out, const kkcu_attn_config *cfg, kk_err *err)
{
    *out = NULL;
    kkcu_attn *a = NULL;
    codec *c = NULL;
    int n_dev = 0;
    size_t hb_cpu = 0;
    int64_t max_chunks = 0;
    size_t cache_vals = 0;
    cudaDeviceProp prop;
    if (cfg->head_dim != D)
        return kk_err_set(err, KK_E_UNSUPPORTED, "kkcu_attn: head_dim %d; the kernels are "
                          "written for %d", (int)cfg->head_dim, D);
    if (cfg->n_kv_heads < 1 || cfg->n_kv_heads > KKCU_ATTN_MAX_KV_HEADS)
        return kk_err_set(err, KK_E_RANGE, "kkcu_attn: n_kv_heads %d; allowed 1..%d",
                          (int)cfg->n_kv_heads, KKCU_ATTN_MAX_KV_HEADS);
    if (cfg->n_heads != G * cfg->n_kv_heads)
        return kk_err_set(err, KK_E_UNSUPPORTED, "kkcu_attn: %d query heads over %d K/V heads; "
                          "the kernels are written for %d query heads per K/V head",
                          (int)cfg->n_heads, (int)cfg->n_kv_heads, G);
    if (cfg->max_ctx < 1 || cfg->max_ctx > ((int64_t)1 << 31))
        return kk_err_set(err, KK_E_RANGE, "kkcu_attn: max_ctx %lld; allowed 1..2^31",
                          (long long)cfg->max_ctx);
    const codec_spec *s = &cfg->spec;
    const int kl = s->kind == CODEC_KIND_KL_E8;
    if (!(s->kind == CODEC_KIND_Q8_0 && s->rotate == CODEC_ROTATE_NONE) &&
        !(kl && s->group == D && s->dim == D))
        return kk_err_set(err, KK_E_UNSUPPORTED, "kkcu_attn: codec not handled; allowed: q8_0 "
                          "(unrotated) and kl_e8 with group = dim = %d", D);
    if (codec_init(&c, s, err) != KK_OK)
        return err ? err->code : KK_E_RANGE;
    hb_cpu = codec_encoded_bytes(c, D);
    codec_free(c);

    a = (kkcu_attn *)calloc(1, sizeof *a);
    if (!a)
        return kk_err_set(err, KK_E_NOMEM, "kkcu_attn: out of memory");
    a->cfg = *cfg;
    a->kl = kl;
    a->pr.hb = (int)hb_cpu;
    a->pr.q = kl ? s->q : 0;
    a->pr.bits = kl ? kl_e8_bits(s->q) : 0;
    a->rot_scale = 1.0f / sqrtf((float)D);
    if (kl ? (size_t)(4 + (16 * a->pr.bits + 7) / 8) != hb_cpu || hb_cpu > (size_t)codec_kl::HBMAX
           : hb_cpu != (size_t)codec_q8::HBMAX) {
        kk_err_set(err, KK_E_INTERNAL, "kkcu_attn: the codec writes %zu bytes per head, not what "
                   "the kernels read", hb_cpu);
        goto fail;
    }
    CU_TRY(cudaGetDeviceCount(&n_dev), "cudaGetDeviceCount");
    if (n_dev < 1) {
        kk_err_set(err, KK_E_UNSUPPORTED, "kkcu_attn: no CUDA device");
        goto fail;
    }
    CU_TRY(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    snprintf(a->name, sizeof a->name, "%s", prop.name);
    a->n_sm = prop.multiProcessorCount > 0 ? prop.multiProcessorCount : 1;
    {
        /* the most splits any n_ctx gets (splits_per_head never asks for
         * more); 65535: gridDim.y */
        const int64_t want =
            ((int64_t)BLOCKS_PER_SM * a->n_sm + cfg->n_kv_heads - 1) / cfg->n_kv_heads;
        a->max_splits = (int)(want < 1 ? 1 : want > 65535 ? 65535 : want);
    }
    if (kl) {
        float signs[D];
        CU_TRY(cudaMalloc((void **)&a->d_signs_k, D * sizeof(float)), "cudaMalloc");
        CU_TRY(cudaMalloc((void **)&a->d_signs_v, D * sizeof(float)), "cudaMalloc");
        codec_hadamard_signs(s->seed, D, signs);
        CU_TRY(cudaMemcpy(a->d_signs_k, signs, sizeof signs, cudaMemcpyHostToDevice), "cudaMemcpy");
        CU_TRY(cudaMemcpy(a->d_signs_v, signs, sizeof signs, cudaMemcpyHostToDevice), "cudaMemcpy");
    }
    max_chunks = (cfg->max_ctx + REF_CHUNK - 1) / REF_CHUNK;
    cache_vals = (size_t)cfg->n_kv_heads * (size_t)cfg->max_ctx * D;
    CU_TRY(cudaMalloc((void **)&a->d_done, (size_t)cfg->n_kv_heads * sizeof(unsigned)), "cudaMalloc");
    CU_TRY(cudaMemset(a->d_done, 0, (size_t)cfg->n_kv_heads * sizeof(unsigned)), "cudaMemset");
    CU_TRY(cudaMalloc((void **)&a->d_part_o,
                      (size_t)cfg->n_heads * a->max_splits * D * sizeof(float)), "cudaMalloc");
    CU_TRY(cudaMalloc((void **)&a->d_part_ml, (size_t)cfg->n_heads * a->max_splits * sizeof(float2)),
           "cudaMalloc");
    CU_TRY(cudaMalloc((void **)&a->d_k16, cache_vals * sizeof(uint16_t)), "cudaMalloc");
    CU_TRY(cudaMalloc((void **)&a->d_v16, cache_vals * sizeof(uint16_t)), "cudaMalloc");
    CU_TRY(cudaMalloc((void **)&a->d_S, (size_t)cfg->n_heads * cfg->max_ctx * sizeof(float)),
           "cudaMalloc");
    CU_TRY(cudaMalloc((void **)&a->d_sums, (size_t)cfg->n_heads * sizeof(float)), "cudaMalloc");
    CU_TRY(cudaMalloc((void **)&a->d_ref_part, (size_t)cfg->n_heads * max_chunks * D * sizeof(float)),
           "cudaMalloc");
    *out = a;
    return KK_OK;
fail:
    kkcu_attn_free(a);
    return err && err->code != KK_OK ? err->code : KK_E_INTERNAL;
}

extern "C" void kkcu_attn_free(kkcu_attn *a)
{
    if (!a)
        return;
    cudaFree(a->d_signs_k);
    cudaFree(a->d_signs_v);
    cudaFree(a->d_done);
    cudaFree(a->d_part_o);
    cudaFree(a->d_part_ml);
    cudaFree(a->d_k16);
    cudaFree(a->d_v16);
    cudaFree(a->d_S);
    cudaFree(a->d_sums);
    cudaFree(a->d_ref_part);
    free(a);
}

extern "C" size_t kkcu_attn_head_bytes(const kkcu_attn *a) { return (size_t)a->pr.hb; }

extern "C" size_t kkcu_attn_cache_bytes(const kkcu_attn *a, int64_t n_ctx)
{
    const size_t n = (size_t)a->cfg.n_kv_heads * (size_t)n_ctx * (size_t)a->pr.hb;
    return (n + 15) & ~(size_t)15;
}

extern "C" int kkcu_attn_splits(const kkcu_attn *a, int64_t n_ctx)
{
    return (int)splits_per_head(a, n_ctx, T_CODES, NULL);
}

extern "C" const char *kkcu_attn_device_name(const kkcu_attn *a) { return a->name; }
extern "C" const uint16_t *kkcu_attn_f16_k(const kkcu_attn *a) { return a->d_k16; }
extern "C" const uint16_t *kkcu_attn_f16_v(const kkcu_attn *a) { return a->d_v16; }

static kk_code check_codes(const uint8_t *k, const uint8_t *v, kk_err *err)
{
    if (((uintptr_t)k | (uintptr_t)v) & 15)
        return kk_err_set(err, KK_E_RANGE, "kkcu_attn: K and V codes must start 16-byte aligned "
                          "(cudaMalloc's are)");
    return KK_OK;
}

/* The split kernel and the merge, over codes of policy C. */
template <class C, int T>
static kk_code run_split(kkcu_attn *a, const float *q, const uint8_t *k, const uint8_t *v,
                         int64_t n_ctx, attn_params pr, const float *signs_k, const float *signs_v,
                         float *out, kkcu_stream stream, kk_err *err)
{
    int64_t tps = 0;
    const int64_t n_splits = splits_per_head(a, n_ctx, T, &tps);
    const attn_io io = {q, signs_k, signs_v, a->rot_scale, a->d_part_o, a->d_part_ml, a->d_done, out};
    auto split = attn_split<C, T>;
    KKCU_LAUNCH(split, dim3(a->cfg.n_kv_heads, (unsigned)n_splits), dim3(NT), stream, k, v,
                (long long)n_ctx, (int)tps, pr, io);
    LAUNCHED("attn_split");
    return KK_OK;
fail:
    return err ? err->code : KK_E_INTERNAL;
}

extern "C" kk_code kkcu_attn_fused(kkcu_attn *a, const float *q, const uint8_t *k, const uint8_t *v,
                                   int64_t n_ctx, float *out, kkcu_stream stream, kk_err *err)
{
    if (check_ctx(a, n_ctx, err) != KK_OK || check_codes(k, v, err) != KK_OK)
        return err ? err->code : KK_E_RANGE;
    if (a->kl)
        return run_split<codec_kl, T_CODES>(a, q, k, v, n_ctx, a->pr, a->d_signs_k, a->d_signs_v,
                                            out, stream, err);
    return run_split<codec_q8, T_CODES>(a, q, k, v, n_ctx, a->pr, NULL, NULL, out, stream, err);
}

extern "C" kk_code kkcu_attn_flash_f16(kkcu_attn *a, const float *q, int64_t n_ctx, float *out,
                                       kkcu_stream stream, kk_err *err)
{
    if (check_ctx(a, n_ctx, err) != KK_OK || check_decoded(a, n_ctx, err) != KK_OK)
        return err ? err->code : KK_E_RANGE;
    attn_params pr = {(int)(D * sizeof(uint16_t)), 0, 0};
    /* the F16 cache holds values in the original basis: no rotation */
    return run_split<codec_f16, T_F16>(a, q, (const uint8_t *)a->d_k16, (const uint8_t *)a->d_v16,
                                       n_ctx, pr, NULL, NULL, out, stream, err);
}

#endif /* !KKCU_EMU || KKCU_EMU_FIBERS */
