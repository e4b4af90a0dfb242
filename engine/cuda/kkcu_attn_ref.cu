/*
 * kkcu_attn_ref: the reference path of kkcu_attn.h: the whole cache decoded
 * to F16 (one kernel per side; kl_e8 un-rotated with the CPU's butterflies,
 * so the F16 values are the CPU's floats rounded), then a plain attention
 * over F16: scores, softmax, P V in chunks of REF_CHUNK tokens, the
 * chunks' sum (four small kernels, natural-log units, expf). Nothing fused,
 * nothing clever: what the fused kernel is checked and timed against.
 */
#include "kkcu_attn.h"

/* Under the codecs' CPU emulator (tests/cuda/emu: one-dimensional grids,
 * float shuffles, no cp.async) this file compiles to nothing; its kernels
 * run on the CPU under tests/cuda/kkcu_emu.h (`make test-attn-emu`). */
#if !defined(KKCU_EMU) || defined(KKCU_EMU_FIBERS)

#include "kkcu_attn_internal.cuh"

namespace {


/* q8_0 -> F16, one thread per 4 values (a quarter of a block's codes). */
__global__ void attn_dec_q8_f16(const uint8_t *__restrict__ codes, long long n_units,
                                uint16_t *__restrict__ out)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_units * (D / 4))
        return;
    const long long u = i / (D / 4);
    const int l = (int)(i % (D / 4));
    const uint8_t *blk = codes + (size_t)u * (D / KKCU_Q8_0_VALUES) * KKCU_Q8_0_BYTES +
                         KKCU_Q8_0_BYTES * (l >> 3);
    float y[4];
    kkcu_q8_0_decode(blk, kkcu_q8_0_scale(blk), 4 * (l & 7), 4, y);
    uint16_t *o = out + (size_t)u * D + 4 * l;
    for (int k = 0; k < 4; k++)
        o[k] = kkcu_f32_to_f16(y[k]);
}

/* kl_e8 -> F16, one warp per token-head: lane l decodes point l>>1 and
 * keeps dims 4l..4l+3, then the inverse rotation as codec_hadamard_inverse
 * computes it (butterflies h = 1, 2 in the lane, 4..64 across lanes with
 * the same a + b / a - b, then x (rot_scale x sign)): the CPU's floats,
 * then rounded to F16. */
__global__ void attn_dec_kl_f16(const uint8_t *__restrict__ codes, long long n_units, attn_params pr,
                                const float *__restrict__ signs, float rot_scale,
                                uint16_t *__restrict__ out)
{
    const long long u = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (u >= n_units)
        return; /* the whole warp: u is the same for its lanes */
    const uint8_t *vec = codes + (size_t)u * pr.hb;
    float y8[8], x[4];
    kkcu_kl_decode_point<8>(vec + 4, lane >> 1, pr.q, pr.bits, kkcu_kl_step(vec, pr.q), y8);
    for (int i = 0; i < 4; i++)
        x[i] = (lane & 1) ? y8[4 + i] : y8[i];
    float a = x[0], b = x[1];
    x[0] = a + b;
    x[1] = a - b;
    a = x[2];
    b = x[3];
    x[2] = a + b;
    x[3] = a - b;
    for (int k = 0; k < 2; k++) {
        a = x[k];
        b = x[k + 2];
        x[k] = a + b;
        x[k + 2] = a - b;
    }
    for (int hh = 1; hh < 32; hh <<= 1)
        for (int k = 0; k < 4; k++) {
            const float other = __shfl_xor_sync(FULL, x[k], hh);
            x[k] = (lane & hh) ? other - x[k] : x[k] + other;
        }
    uint16_t *o = out + (size_t)u * D + 4 * lane;
    for (int k = 0; k < 4; k++)
        o[k] = kkcu_f32_to_f16(x[k] * (rot_scale * signs[4 * lane + k]));
}

/* The plain attention over F16 (the reference path): scores, softmax, P V
 * in chunks, the chunks' sum. Natural-log units, expf. */
__global__ void __launch_bounds__(NT)
attn_ref_scores(const float *__restrict__ q, const uint16_t *__restrict__ k16, long long n_ctx,
                float scale, float *__restrict__ S)
{
    __shared__ float qs[G][D];
    const int g = blockIdx.y, tid = threadIdx.x;
    const long long t = (long long)blockIdx.x * NT + tid;
    for (int i = tid; i < G * D; i += NT)
        qs[i / D][i % D] = q[(size_t)G * g * D + i];
    __syncthreads();
    if (t >= n_ctx)
        return;
    const uint16_t *kr = k16 + ((size_t)g * n_ctx + t) * D;
    float s[G] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int d = 0; d < D; d++) {
        const float kv = attn_h2f(kr[d]);
        for (int h = 0; h < G; h++)
            s[h] += qs[h][d] * kv;
    }
    for (int h = 0; h < G; h++)
        S[(size_t)(G * g + h) * n_ctx + t] = s[h] * scale;
}

/* grid n_heads, 256 threads: row <- exp(row - max), sum[h]. */
__global__ void __launch_bounds__(256)
attn_ref_softmax(float *__restrict__ S, long long n_ctx, float *__restrict__ sum_out)
{
    __shared__ float red[256];
    const int h = blockIdx.x, tid = threadIdx.x;
    float *row = S + (size_t)h * n_ctx;
    float mx = -INFINITY;
    for (long long t = tid; t < n_ctx; t += 256)
        mx = fmaxf(mx, row[t]);
    red[tid] = mx;
    __syncthreads();
    for (int s = 128; s > 0; s >>= 1) {
        if (tid < s)
            red[tid] = fmaxf(red[tid], red[tid + s]);
        __syncthreads();
    }
    mx = red[0];
    __syncthreads();
    float sum = 0.0f;
    for (long long t = tid; t < n_ctx; t += 256) {
        const float e = expf(row[t] - mx);
        row[t] = e;
        sum += e;
    }
    red[tid] = sum;
    __syncthreads();
    for (int s = 128; s > 0; s >>= 1) {
        if (tid < s)
            red[tid] += red[tid + s];
        __syncthreads();
    }
    if (tid == 0)
        sum_out[h] = red[0];
}

/* grid (n_chunks, n_heads), D threads: part[h][c][d] = sum over the chunk
 * of p[h][t] v[t][d]. */
__global__ void __launch_bounds__(D)
attn_ref_pv(const float *__restrict__ P, const uint16_t *__restrict__ v16, long long n_ctx,
            float *__restrict__ part)
{
    const int c = blockIdx.x, h = blockIdx.y, d = threadIdx.x, n_chunks = gridDim.x;
    const int g = h / G;
    const long long t0 = (long long)c * REF_CHUNK;
    const long long t1 = t0 + REF_CHUNK < n_ctx ? t0 + REF_CHUNK : n_ctx;
    float acc = 0.0f;
    for (long long t = t0; t < t1; t++)
        acc += P[(size_t)h * n_ctx + t] * attn_h2f(v16[((size_t)g * n_ctx + t) * D + d]);
    part[((size_t)h * n_chunks + c) * D + d] = acc;
}

__global__ void __launch_bounds__(D)
attn_ref_final(const float *__restrict__ part, int n_chunks, const float *__restrict__ sums,
               float *__restrict__ out)
{
    const int h = blockIdx.x, d = threadIdx.x;
    float o = 0.0f;
    for (int c = 0; c < n_chunks; c++)
        o += part[((size_t)h * n_chunks + c) * D + d];
    out[(size_t)h * D + d] = o / sums[h];
}

} /* namespace */

extern "C" kk_code kkcu_attn_decode_f16(kkcu_attn *a, const uint8_t *k, const uint8_t *v,
                                        int64_t n_ctx, kkcu_stream stream, kk_err *err)
{
    if (check_ctx(a, n_ctx, err) != KK_OK)
        return err ? err->code : KK_E_RANGE;
    const long long n_units = (long long)a->cfg.n_kv_heads * n_ctx;
    for (int side = 0; side < 2; side++) {
        const uint8_t *codes = side ? v : k;
        uint16_t *dst = side ? a->d_v16 : a->d_k16;
        if (a->kl) {
            auto dec = attn_dec_kl_f16;
            const long long threads = n_units * 32;
            KKCU_LAUNCH(dec, dim3((unsigned)((threads + 255) / 256)), dim3(256), stream, codes,
                        n_units, a->pr, side ? a->d_signs_v : a->d_signs_k, a->rot_scale, dst);
        } else {
            auto dec = attn_dec_q8_f16;
            const long long threads = n_units * (D / 4);
            KKCU_LAUNCH(dec, dim3((unsigned)((threads + 255) / 256)), dim3(256), stream, codes,
                        n_units, dst);
        }
        LAUNCHED("attn_dec_f16");
    }
    a->f16_ctx = n_ctx;
    return KK_OK;
fail:
    return err ? err->code : KK_E_INTERNAL;
}

extern "C" kk_code kkcu_attn_attend_f16(kkcu_attn *a, const float *q, int64_t n_ctx, float *out,
                                        kkcu_stream stream, kk_err *err)
{
    if (check_ctx(a, n_ctx, err) != KK_OK || check_decoded(a, n_ctx, err) != KK_OK)
        return err ? err->code : KK_E_RANGE;
    const int n_chunks = (int)((n_ctx + REF_CHUNK - 1) / REF_CHUNK);
    const float scale = 1.0f / sqrtf((float)D);
    auto sc = attn_ref_scores;
    auto sm = attn_ref_softmax;
    auto pv = attn_ref_pv;
    auto fin = attn_ref_final;
    KKCU_LAUNCH(sc, dim3((unsigned)((n_ctx + NT - 1) / NT), a->cfg.n_kv_heads), dim3(NT), stream, q,
                a->d_k16, (long long)n_ctx, scale, a->d_S);
    LAUNCHED("attn_ref_scores");
    KKCU_LAUNCH(sm, dim3(a->cfg.n_heads), dim3(256), stream, a->d_S, (long long)n_ctx, a->d_sums);
    LAUNCHED("attn_ref_softmax");
    KKCU_LAUNCH(pv, dim3(n_chunks, a->cfg.n_heads), dim3(D), stream, a->d_S, a->d_v16,
                (long long)n_ctx, a->d_ref_part);
    LAUNCHED("attn_ref_pv");
    KKCU_LAUNCH(fin, dim3(a->cfg.n_heads), dim3(D), stream, a->d_ref_part, n_chunks, a->d_sums, out);
    LAUNCHED("attn_ref_final");
    return KK_OK;
fail:
    return err ? err->code : KK_E_INTERNAL;
}

extern "C" kk_code kkcu_attn_reference(kkcu_attn *a, const float *q, const uint8_t *k,
                                       const uint8_t *v, int64_t n_ctx, float *out, kkcu_stream stream,
                                       kk_err *err)
{
    KK_TRY(kkcu_attn_decode_f16(a, k, v, n_ctx, stream, err));
    return kkcu_attn_attend_f16(a, q, n_ctx, out, stream, err);
fail:
    return err ? err->code : KK_E_INTERNAL;
}

#endif /* !KKCU_EMU || KKCU_EMU_FIBERS */
