/*
 * matmul_x86: SIMD kernels for matmul.c, compiled for AVX2 and AVX-512 with
 * __attribute__((target)) and chosen at run time, so the build needs no
 * -march flag and runs on any x86-64.
 *
 * F32 / F16 weights: the dot-product form of llamafile's tinyBLAS
 * (llama.cpp ggml/src/ggml-cpu/llamafile/sgemm.cpp): a tile of RM tokens x
 * RN rows keeps RM*RN vector accumulators, each step loads RN weight
 * vectors (F16 widened with vcvtph2ps) and RM activation vectors, and the
 * accumulators are summed across lanes once at the end. Both operands are
 * read in place, row-major, so nothing is packed or copied. With RM = 1
 * the same code is the decode GEMV: it streams each weight row once.
 *
 * Q8_0 weights x Q8_0 activations: per 32-block one integer dot of
 * |w| (unsigned) and sign(x, w) (signed), which equals w.x and fits:
 * |w| <= 128, |x| <= 127 (ggml's mul_sum_i8_pairs trick); with VNNI one
 * vpdpbusd, without it maddubs + madd. The 8 int32 lanes are widened
 * exactly (each |lane| <= 4*128*127) and accumulated as
 * fma(lanes, d_w*d_x, acc) in F32.
 */
#include "kernels.h"
#include "matmul_internal.h"

#ifdef MM_HAVE_X86
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define TGT512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c,avx2")))
#define TGT512V                                                                             \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c,avx2")))
#define TGT2 __attribute__((target("avx2,fma,f16c")))
#define INL inline __attribute__((always_inline))

/* A block scale widened in registers (vcvtph2ps): a call here would make
 * the compiler spill every accumulator around it. */
TGT2 static INL float f16_scale(uint16_t h)
{
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

/* Software prefetch distance in the first token tile of a row tile (the
 * one that pulls the rows from memory; with one token, the GEMV), per type.
 * With several rows read at once the hardware prefetchers alone reached
 * 2.6 GB/s on Q8_0 rows, 3.5 on F16 and 7.4 on F32 (32000 x 768 GEMV, AMD
 * EPYC in a shared VM, copy bandwidth 11.6 GB/s); prefetching ahead in each
 * row's stream gave 15-17 (Q8_0), 15-19 (F16) and 11-23 (F32) GB/s. The
 * best distances measured (1 KiB..16 KiB tried): F32 4 KiB (longer ones
 * evicted lines from L1 before use), F16 8 KiB, Q8_0 16 KiB (8 tokens x
 * 32000 x 768: 65-106 GFLOP/s at 8 KiB, 105-112 at 16 KiB). */
#define MM_PF_F32 12288
#define MM_PF_F16 8192
#define MM_PF_Q8 16384
/* MM_PF_NTA: the GEMV's rows are read once per token, so its prefetches
 * are non-temporal: the weight stream then evicts less of the K/V cache
 * and the activations that the same step reads again (134M decode, 1
 * thread, two alternating runs each: Q8_0 0.247 against 0.258 s per 64
 * tokens, F16 0.400 against 0.415, F32 unchanged). Batches keep T0: a row
 * tile is reused by every token tile. */

/* ==== AVX-512 =========================================================== */

/* Tokens x rows of one tile: 4 x 6 = 24 accumulators + 6 weight vectors +
 * 1 activation vector fit the 32 zmm registers. */
#define R512_M 4
#define MM_KB 1024
#define R512_N 6

TGT512 static INL __m512 load_w512(const void *w, int f16, int64_t off, __mmask16 m)
{
    if (f16)
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)w + off));
    return _mm512_maskz_loadu_ps(m, (const float *)w + off);
}

/* The lane sums of a, b, c, d in one vector, by halving all four together
 * (14 operations against 4 x 8 for one reduction each): the sums of a
 * 4 x 6 tile took 11% of its operations at k = 768. */
TGT512 static INL __m128 reduce4_512(__m512 a, __m512 b, __m512 c, __m512 d)
{
    const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
    /* 128-bit lane k: 4 partial sums of the k-th of a, b, c, d */
    __m512 t = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
    t = _mm512_add_ps(t, _mm512_permute_ps(t, 0x4E));
    t = _mm512_add_ps(t, _mm512_permute_ps(t, 0xB1));
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(idx, t));
}

TGT512 static INL void tile512(int RM, int RN, int f16, int64_t pf, int add, int inv,
                               const void *w, int64_t ldw, const float *x, int64_t ldx, float *y,
                               int64_t ldy, int64_t k)
{
    __m512 acc[R512_M][R512_N];
    const int t0 = kern_current()->hint == KERN_HINT_T0; /* the GEMV's hint (kernels.h) */
#pragma GCC unroll 8
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 8
        for (int j = 0; j < RN; j++)
            acc[i][j] = _mm512_setzero_ps();
    for (int64_t c = 0; c < k; c += 16) {
        /* full vectors, then one masked step for the last k % 16 */
        const __mmask16 m = (k - c >= 16) ? (__mmask16)0xFFFF
                                          : (__mmask16)((1u << (unsigned)(k - c)) - 1u);
        __m512 wv[R512_N];
#pragma GCC unroll 8
        for (int j = 0; j < RN; j++) {
            wv[j] = load_w512(w, f16, j * ldw + c, m);
            if (pf && RM == 1 && !t0) /* the GEMV (n == 1): rows read once, see MM_PF_NTA */
                _mm_prefetch((const char *)w + (j * ldw + c) * (f16 ? 2 : 4) + pf, _MM_HINT_NTA);
            else if (pf) /* the first token tile pulls the rows from memory */
                _mm_prefetch((const char *)w + (j * ldw + c) * (f16 ? 2 : 4) + pf, _MM_HINT_T0);
        }
#pragma GCC unroll 8
        for (int i = 0; i < RM; i++) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, x + i * ldx + c);
#pragma GCC unroll 8
            for (int j = 0; j < RN; j++)
                acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    /* batch-invariant mode (inv): each accumulator reduced alone, as the
     * GEMV's one-by-one tile does, so a token's sums do not depend on its
     * neighbours in the tile */
    if (!inv && (RM * RN) % 4 == 0) { /* four accumulators summed at once */
#pragma GCC unroll 8
        for (int g = 0; g < RM * RN; g += 4) {
            float sums[4];
            _mm_storeu_ps(sums, reduce4_512(acc[g / RN][g % RN], acc[(g + 1) / RN][(g + 1) % RN],
                                            acc[(g + 2) / RN][(g + 2) % RN],
                                            acc[(g + 3) / RN][(g + 3) % RN]));
#pragma GCC unroll 4
            for (int e = 0; e < 4; e++) {
                float *yy = y + ((g + e) / RN) * ldy + (g + e) % RN;
                *yy = (add ? *yy : 0.0f) + sums[e];
            }
        }
        return;
    }
#pragma GCC unroll 8
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 8
        for (int j = 0; j < RN; j++)
            y[i * ldy + j] = (add ? y[i * ldy + j] : 0.0f) + _mm512_reduce_add_ps(acc[i][j]);
}

/* Tokens in tiles of R512_M (the last one shorter), for RN rows. */
TGT512 static INL void rows512(int RN, int f16, int add, int inv, const void *w, int64_t ldw,
                               const float *x, int64_t ldx, float *y, int64_t ldy, int64_t n,
                               int64_t k)
{
    /* F16: the same column of the next row tile, at least MM_PF_F16 ahead
     * (a fixed 8 KiB fell inside the current tile for 4 KiB rows: 768 x
     * 2048 GEMV at 24 GB/s against 36 for 2048 x 768). */
    const int64_t rowb = ldw * (f16 ? 2 : 4);
    const kern_choice *kc = kern_current();
    const int64_t pfd = n == 1 ? (f16 ? kc->pf_f16 : kc->pf_f32) /* the GEMV: tunable */
                        : !f16 ? MM_PF_F32
                               : (RN * rowb > MM_PF_F16 ? RN * rowb : MM_PF_F16);
    int64_t t = 0;
    for (; t + R512_M <= n; t += R512_M)
        tile512(R512_M, RN, f16, t == 0 ? pfd : 0, add, inv, w, ldw, x + t * ldx, ldx, y + t * ldy, ldy, k);
    switch (n - t) {
    case 3: tile512(3, RN, f16, t == 0 ? pfd : 0, add, inv, w, ldw, x + t * ldx, ldx, y + t * ldy, ldy, k); break;
    case 2: tile512(2, RN, f16, t == 0 ? pfd : 0, add, inv, w, ldw, x + t * ldx, ldx, y + t * ldy, ldy, k); break;
    case 1: tile512(1, RN, f16, t == 0 ? pfd : 0, add, inv, w, ldw, x + t * ldx, ldx, y + t * ldy, ldy, k); break;
    default: break;
    }
}

/* One row's dot for the GEMV: four accumulators, so the fma latency (4
 * cycles) is not paid per vector: with one, an F16 row streamed at most 32
 * bytes per 4 cycles (34 GB/s measured); a prefetch pf bytes ahead in the
 * row's stream. */
TGT512 static INL float gemv_row512(int f16, const void *w, const float *x, int64_t k, int64_t pf)
{
    const size_t esz = f16 ? 2 : 4;
    const int t0 = kern_current()->hint == KERN_HINT_T0;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t c = 0;
    for (; c + 64 <= k; c += 64) {
        /* 64 values: 4 lines of F32, 2 of F16 */
        if (pf && !t0)
            for (size_t b = 0; b < 64 * esz; b += 64)
                _mm_prefetch((const char *)w + (size_t)c * esz + pf + b, _MM_HINT_NTA);
        else if (pf)
            for (size_t b = 0; b < 64 * esz; b += 64)
                _mm_prefetch((const char *)w + (size_t)c * esz + pf + b, _MM_HINT_T0);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c), load_w512(w, f16, c, 0xFFFF), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 16), load_w512(w, f16, c + 16, 0xFFFF), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 32), load_w512(w, f16, c + 32, 0xFFFF), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 48), load_w512(w, f16, c + 48, 0xFFFF), a3);
    }
    for (; c < k; c += 16) {
        const __mmask16 m = (k - c >= 16) ? (__mmask16)0xFFFF
                                          : (__mmask16)((1u << (unsigned)(k - c)) - 1u);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + c), load_w512(w, f16, c, m), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

TGT512 static INL void gemm512(int f16, const void *w, int64_t ldw, const float *x,
                               int64_t ldx, float *y, int64_t ldy, int64_t n, int64_t nr,
                               int64_t k)
{
    const size_t esz = f16 ? 2 : 4;
    const char *wb = w;
    int64_t r = 0;
    /* GEMV: one row at a time, one prefetched stream. F32: 37 GB/s against
     * 23 with 6 interleaved rows (32000 x 768, CPU time). F16: 35 against
     * 30 GB/s (768 x 2048, 1 thread) and 45-57 against 35-38 (2 threads),
     * three alternating runs each; equal on 2048 x 768. F16 rows then go
     * through gemv_row512 (four accumulators): 37 against 24-37 GB/s, where
     * F32 rows lost (33 against 42: the tile's one accumulator is enough
     * for 64 bytes per fma). */
    if (n == 1 && f16 && kern_current()->f16_gemv == KERN_F16_ROW4)
        for (; r < nr; r++)
            y[r] = gemv_row512(1, wb + (size_t)(r * ldw) * esz, x, k, kern_current()->pf_f16);
    if (n == 1)
        for (; r < nr; r++)
            rows512(1, f16, 0, 0, wb + (size_t)(r * ldw) * esz, ldw, x, ldx, y + r, ldy, n, k);
    /* Batches: k in blocks of MM_KB, so a row tile's slice (6 x 1024 F32 =
     * 24 KiB) and a token tile's (16 KiB) share the L1 (48 KiB on Zen 5):
     * 139 -> 170 GFLOP/s at k = 2048. Partial sums are added into y. */
    const int64_t kb = n > 1 ? MM_KB : k;
    for (; r < nr; r += R512_N) {
        const int rn = nr - r >= R512_N ? R512_N : 1;
        for (int64_t k0 = 0; k0 < k; k0 += kb) {
            const int64_t kl = k - k0 < kb ? k - k0 : kb;
            const void *wr = wb + (size_t)(r * ldw + k0) * esz;
            if (rn == R512_N)
                rows512(R512_N, f16, k0 > 0, 0, wr, ldw, x + k0, ldx, y + r, ldy, n, kl);
            else
                rows512(1, f16, k0 > 0, 0, wr, ldw, x + k0, ldx, y + r, ldy, n, kl);
        }
        if (rn == 1)
            r += 1 - R512_N;
    }
}

TGT512 static void mm_f32_avx512(const float *w, int64_t ldw, const float *x, int64_t ldx,
                                 float *y, int64_t ldy, int64_t n, int64_t nr, int64_t k)
{
    gemm512(0, w, ldw, x, ldx, y, ldy, n, nr, k);
}

TGT512 static void mm_f16_avx512(const uint16_t *w, int64_t ldw, const float *x,
                                 int64_t ldx, float *y, int64_t ldy, int64_t n, int64_t nr,
                                 int64_t k)
{
    gemm512(1, w, ldw, x, ldx, y, ldy, n, nr, k);
}

/* ---- batch-invariant F32/F16 (matmul.h matmul_run_mode) ------------------
 * A token's y in a batch equals what the GEMV (n = 1) gives it, bit for
 * bit: F32 (and F16 with f16_gemv=tile1) run the tiles over the whole of
 * k (no k blocks, whose partial sums add in another order) and reduce each
 * accumulator alone, as the GEMV's 1 x 1 tile does; F16 with the row4
 * GEMV runs that kernel's four accumulators per token, up to four tokens
 * sharing each weight load. */
TGT512 static INL void gemv_rows4_multi(const void *w, const float *x, int64_t ldx, float *y,
                                        int64_t ldy, int n, int64_t k, int64_t pf)
{
    __m512 a[4][4];
    for (int t = 0; t < n; t++)
        for (int q = 0; q < 4; q++)
            a[t][q] = _mm512_setzero_ps();
    int64_t c = 0;
    for (; c + 64 <= k; c += 64) {
        if (pf) /* the first token group streams the row: 2 lines of F16 per step */
            for (size_t b = 0; b < 128; b += 64)
                _mm_prefetch((const char *)w + (size_t)c * 2 + pf + b, _MM_HINT_T0);
        const __m512 w0 = load_w512(w, 1, c, 0xFFFF), w1 = load_w512(w, 1, c + 16, 0xFFFF);
        const __m512 w2 = load_w512(w, 1, c + 32, 0xFFFF), w3 = load_w512(w, 1, c + 48, 0xFFFF);
        for (int t = 0; t < n; t++) {
            const float *xt = x + t * ldx;
            a[t][0] = _mm512_fmadd_ps(_mm512_loadu_ps(xt + c), w0, a[t][0]);
            a[t][1] = _mm512_fmadd_ps(_mm512_loadu_ps(xt + c + 16), w1, a[t][1]);
            a[t][2] = _mm512_fmadd_ps(_mm512_loadu_ps(xt + c + 32), w2, a[t][2]);
            a[t][3] = _mm512_fmadd_ps(_mm512_loadu_ps(xt + c + 48), w3, a[t][3]);
        }
    }
    for (; c < k; c += 16) {
        const __mmask16 m = (k - c >= 16) ? (__mmask16)0xFFFF
                                          : (__mmask16)((1u << (unsigned)(k - c)) - 1u);
        const __m512 wv = load_w512(w, 1, c, m);
        for (int t = 0; t < n; t++)
            a[t][0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + t * ldx + c), wv, a[t][0]);
    }
    for (int t = 0; t < n; t++)
        y[t * ldy] = _mm512_reduce_add_ps(
            _mm512_add_ps(_mm512_add_ps(a[t][0], a[t][1]), _mm512_add_ps(a[t][2], a[t][3])));
}

TGT512 static void gemm512_inv(int f16, const void *w, int64_t ldw, const float *x,
                               int64_t ldx, float *y, int64_t ldy, int64_t n, int64_t nr,
                               int64_t k)
{
    const size_t esz = f16 ? 2 : 4;
    const char *wb = w;
    if (n == 1) { /* the GEMV itself */
        gemm512(f16, w, ldw, x, ldx, y, ldy, n, nr, k);
        return;
    }
    if (f16 && kern_current()->f16_gemv == KERN_F16_ROW4) {
        for (int64_t r = 0; r < nr; r++)
            for (int64_t t = 0; t < n; t += 4)
                gemv_rows4_multi(wb + (size_t)(r * ldw) * esz, x + t * ldx, ldx, y + t * ldy + r,
                                 ldy, n - t < 4 ? (int)(n - t) : 4, k,
                                 t == 0 ? kern_current()->pf_f16 : 0);
        return;
    }
    int64_t r = 0;
    for (; r + R512_N <= nr; r += R512_N)
        rows512(R512_N, f16, 0, 1, wb + (size_t)(r * ldw) * esz, ldw, x, ldx, y + r, ldy, n, k);
    for (; r < nr; r++)
        rows512(1, f16, 0, 1, wb + (size_t)(r * ldw) * esz, ldw, x, ldx, y + r, ldy, n, k);
}

TGT512 static void mm_f32_avx512_inv(const float *w, int64_t ldw, const float *x, int64_t ldx,
                                     float *y, int64_t ldy, int64_t n, int64_t nr, int64_t k)
{
    gemm512_inv(0, w, ldw, x, ldx, y, ldy, n, nr, k);
}

TGT512 static void mm_f16_avx512_inv(const uint16_t *w, int64_t ldw, const float *x,
                                     int64_t ldx, float *y, int64_t ldy, int64_t n, int64_t nr,
                                     int64_t k)
{
    gemm512_inv(1, w, ldw, x, ldx, y, ldy, n, nr, k);
}

/* Q8_0 with VNNI on 256-bit vectors (AVX512-VL): 4 tokens x 4 rows.
 * Bias form: x + 128 is an unsigned byte (x ^ 0x80; |x| <= 127), so one
 * vpdpbusd(x + 128, w) gives w.x + 128 * sum(w), and starting that sum
 * from -128 * sum(w) (one vpdpbusd per row and block, shared by the tile's
 * tokens) leaves the exact w.x. Per (token, row, block): vpdpbusd, cvt,
 * mul, fma, against 6 operations for the sign form (abs, sign, scalar
 * scale product and broadcast): Q8_0 GEMM 97 -> see docs/performance.md. */
#define Q8_M 4
#define Q8_N 4

/* Two blocks per 512-bit vector: the two 32-byte quant runs of a row
 * (blocks b and b + 1, 34 bytes apart) are joined in one register, the
 * activations' are contiguous in the scratch; scales fill each half. */
TGT512V static INL __m512i q8_join(const dtype_block_q8_0 *blk)
{
    return _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)blk[0].qs)),
        _mm256_loadu_si256((const __m256i *)(const void *)blk[1].qs), 1);
}

/* ggml's hsum_float_8, in the AVX-512 target. */
TGT512V static INL float hsum256_512(__m256 v)
{
    const __m128 h = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
}

TGT512V static INL __m512 q8_halves(float lo, float hi)
{
    return _mm512_insertf32x8(_mm512_set1_ps(lo), _mm256_set1_ps(hi), 1);
}

TGT512V static INL void tile_q8_vnni(int RM, int RN, int pf, const dtype_block_q8_0 *w, int64_t ldw,
                                     const int8_t *xq, int64_t ldq, const float *xd,
                                     int64_t ldd, float *y, int64_t ldy, int64_t nb)
{
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    /* the GEMV's prefetch distance and hint are tunable (kernels.h) */
    const int t0 = kern_current()->hint == KERN_HINT_T0;
    const int64_t pfg = kern_current()->pf_q8;
    /* 8-lane accumulators, blocks added in order, each as fma(dot, d_w*d_x,
     * acc): ggml's own order (ggml_vec_dot_q8_0_q8_0, tinyBLAS), so the
     * sums match llama.cpp's bit for bit and a quant of the next layer's
     * activations never flips on a rounding difference (the parity test
     * caught a 0.024 logit flip when two blocks were summed per lane). */
    __m256 acc[Q8_M][Q8_N];
#pragma GCC unroll 8
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 4
        for (int j = 0; j < RN; j++)
            acc[i][j] = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512i wv[Q8_N], neg[Q8_N];
        __m512 dw[Q8_N];
#pragma GCC unroll 4
        for (int j = 0; j < RN; j++) {
            const dtype_block_q8_0 *blk = w + j * ldw + b;
            wv[j] = q8_join(blk);
            neg[j] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                      _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, wv[j]));
            if (pf && RM == 1 && pfg && !t0) /* the GEMV: see MM_PF_NTA */
                _mm_prefetch((const char *)blk + pfg, _MM_HINT_NTA);
            else if (pf && RM == 1 && pfg)
                _mm_prefetch((const char *)blk + pfg, _MM_HINT_T0);
            else if (pf && RM > 1)
                _mm_prefetch((const char *)blk + MM_PF_Q8, _MM_HINT_T0);
            dw[j] = q8_halves(f16_scale(blk[0].d), f16_scale(blk[1].d));
        }
#pragma GCC unroll 4
        for (int i = 0; i < RM; i++) {
            const __m512i xu = _mm512_xor_si512(
                _mm512_loadu_si512((const void *)(xq + i * ldq + b * 32)), bias);
            const __m512 dx = q8_halves(xd[i * ldd + b], xd[i * ldd + b + 1]);
#pragma GCC unroll 4
            for (int j = 0; j < RN; j++) {
                const __m512 s = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(neg[j], xu, wv[j]));
                const __m512 sc = _mm512_mul_ps(dw[j], dx); /* d_w*d_x per half */
                acc[i][j] = _mm256_fmadd_ps(_mm512_castps512_ps256(s), _mm512_castps512_ps256(sc),
                                            acc[i][j]);
                acc[i][j] = _mm256_fmadd_ps(_mm512_extractf32x8_ps(s, 1),
                                            _mm512_extractf32x8_ps(sc, 1), acc[i][j]);
            }
        }
    }
    if (b < nb) { /* an odd last block */
        const __m256i bias8 = _mm256_set1_epi8((char)0x80);
#pragma GCC unroll 4
        for (int j = 0; j < RN; j++) {
            const dtype_block_q8_0 *blk = w + j * ldw + b;
            const __m256i wj = _mm256_loadu_si256((const __m256i *)(const void *)blk->qs);
            const __m256i nj = _mm256_sub_epi32(_mm256_setzero_si256(),
                                                _mm256_dpbusd_epi32(_mm256_setzero_si256(), bias8, wj));
            const float dwj = f16_scale(blk->d);
#pragma GCC unroll 4
            for (int i = 0; i < RM; i++) {
                const __m256i xu = _mm256_xor_si256(
                    _mm256_loadu_si256((const __m256i *)(const void *)(xq + i * ldq + b * 32)), bias8);
                acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_dpbusd_epi32(nj, xu, wj)),
                                            _mm256_set1_ps(dwj * xd[i * ldd + b]), acc[i][j]);
            }
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 4
        for (int j = 0; j < RN; j++)
            y[i * ldy + j] = hsum256_512(acc[i][j]);
}

TGT512V static INL void rows_q8_vnni(int RN, const dtype_block_q8_0 *w, int64_t ldw,
                                     const int8_t *xq, int64_t ldq, const float *xd,
                                     int64_t ldd, float *y, int64_t ldy, int64_t n, int64_t nb)
{
    int64_t t = 0;
    for (; t + Q8_M <= n; t += Q8_M)
        tile_q8_vnni(Q8_M, RN, t == 0, w, ldw, xq + t * ldq, ldq, xd + t * ldd, ldd, y + t * ldy, ldy, nb);
    switch (n - t) {
    case 3: tile_q8_vnni(3, RN, t == 0, w, ldw, xq + t * ldq, ldq, xd + t * ldd, ldd, y + t * ldy, ldy, nb); break;
    case 2: tile_q8_vnni(2, RN, t == 0, w, ldw, xq + t * ldq, ldq, xd + t * ldd, ldd, y + t * ldy, ldy, nb); break;
    case 1: tile_q8_vnni(1, RN, t == 0, w, ldw, xq + t * ldq, ldq, xd + t * ldd, ldd, y + t * ldy, ldy, nb); break;
    default: break;
    }
}

/* Row pairs: the same per-row order on 512-bit vectors. Lanes 0-7 hold
 * row r's 8-lane sums and lanes 8-15 row r + 1's, for the same block, so
 * every vpdpbusd, cvt, mul and fma serves two (token, row) dots; the form
 * above, two blocks of one row per vector, must split each product into
 * two 256-bit fmas to keep the block order (3.5 against 2 operations per
 * token, row and block). Each half is summed as hsum_float_8 sums, so the
 * result is bit for bit the one of tile_q8_vnni and of ggml. RM tokens x
 * RP row pairs: RM * RP + 3 * RP + 3 zmm registers. */
#define Q8P_M 8
#define Q8P_P 2

TGT512V static INL void tile_q8_pairs(int RM, int RP, int pf, const dtype_block_q8_0 *w,
                                      int64_t ldw, const int8_t *xq, int64_t ldq,
                                      const float *xd, int64_t ldd, float *y, int64_t ldy,
                                      int64_t nb)
{
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    const __m512i lohi = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    __m512 acc[Q8P_M][Q8P_P + 1];
#pragma GCC unroll 8
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 4
        for (int p = 0; p < RP; p++)
            acc[i][p] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m512i wv[Q8P_P + 1], neg[Q8P_P + 1];
        __m512 dw[Q8P_P + 1];
#pragma GCC unroll 4
        for (int p = 0; p < RP; p++) {
            const dtype_block_q8_0 *b0 = w + (2 * p) * ldw + b, *b1 = b0 + ldw;
            wv[p] = _mm512_inserti64x4(
                _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)b0->qs)),
                _mm256_loadu_si256((const __m256i *)(const void *)b1->qs), 1);
            neg[p] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                      _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, wv[p]));
            if (pf) {
                _mm_prefetch((const char *)b0 + MM_PF_Q8, _MM_HINT_T0);
                _mm_prefetch((const char *)b1 + MM_PF_Q8, _MM_HINT_T0);
            }
            /* both scales widened at once, then each spread over its half */
            const __m128 d2 = _mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128(b0->d), b1->d, 1));
            dw[p] = _mm512_permutexvar_ps(lohi, _mm512_castps128_ps512(d2));
        }
#pragma GCC unroll 8
        for (int i = 0; i < RM; i++) {
            const __m512i xu = _mm512_xor_si512(
                _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(const void *)(xq + i * ldq + b * 32))),
                bias);
            const __m512 dx = _mm512_set1_ps(xd[i * ldd + b]);
#pragma GCC unroll 4
            for (int p = 0; p < RP; p++)
                acc[i][p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(neg[p], xu, wv[p])),
                                            _mm512_mul_ps(dw[p], dx), acc[i][p]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 4
        for (int p = 0; p < RP; p++)
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                const __m256 a = h ? _mm512_extractf32x8_ps(acc[i][p], 1)
                                   : _mm512_castps512_ps256(acc[i][p]);
                y[i * ldy + 2 * p + h] = hsum256_512(a);
            }
}

/* Tokens in tiles of Q8P_M (the last one shorter), for RP row pairs. */
TGT512V static INL void rows_q8_pairs(int RP, const dtype_block_q8_0 *w, int64_t ldw,
                                      const int8_t *xq, int64_t ldq, const float *xd,
                                      int64_t ldd, float *y, int64_t ldy, int64_t n, int64_t nb)
{
    int64_t t = 0;
    for (; t + Q8P_M <= n; t += Q8P_M)
        tile_q8_pairs(Q8P_M, RP, t == 0, w, ldw, xq + t * ldq, ldq, xd + t * ldd, ldd,
                      y + t * ldy, ldy, nb);
#define Q8P_TAIL(M)                                                                         \
    case M:                                                                                 \
        tile_q8_pairs(M, RP, t == 0, w, ldw, xq + t * ldq, ldq, xd + t * ldd, ldd,          \
                      y + t * ldy, ldy, nb);                                                \
        break;
    switch (n - t) {
        Q8P_TAIL(7)
        Q8P_TAIL(6)
        Q8P_TAIL(5)
        Q8P_TAIL(4)
        Q8P_TAIL(3)
        Q8P_TAIL(2)
        Q8P_TAIL(1)
    default: break;
    }
#undef Q8P_TAIL
}

TGT512V static void mm_q8_avx512(const dtype_block_q8_0 *w, int64_t ldw, const int8_t *xq,
                                 int64_t ldq, const float *xd, int64_t ldd, float *y,
                                 int64_t ldy, int64_t n, int64_t nr, int64_t nb)
{
    int64_t r = 0;
    /* Decode (one token): one row at a time, one prefetched stream, as
     * for F32 and F16: 40 against 26 GB/s with 4 interleaved rows
     * (32000 x 768 GEMV, 1 thread; 53 against 44 at 2 threads), and two
     * blocks of the row per vector. */
    if (n == 1 && kern_current()->q8_rows == 4) /* 4 rows' streams at once (kernels.h) */
        for (; r + Q8_N <= nr; r += Q8_N)
            rows_q8_vnni(Q8_N, w + r * ldw, ldw, xq, ldq, xd, ldd, y + r, ldy, n, nb);
    if (n == 1)
        for (; r < nr; r++)
            rows_q8_vnni(1, w + r * ldw, ldw, xq, ldq, xd, ldd, y + r, ldy, n, nb);
    for (; r + 2 * Q8P_P <= nr; r += 2 * Q8P_P)
        rows_q8_pairs(Q8P_P, w + r * ldw, ldw, xq, ldq, xd, ldd, y + r, ldy, n, nb);
    for (; r < nr; r++)
        rows_q8_vnni(1, w + r * ldw, ldw, xq, ldq, xd, ldd, y + r, ldy, n, nb);
}

/* Attention scores for short rows (head dims): y[i][j] = x_i . w_j for
 * 16 rows j at once. The 16 accumulators (one per row, k/16 fmas each) are
 * summed across lanes together by a transpose-add tree (45 operations for
 * 16 sums, against 16 x 8 for one reduction each), leaving the 16 dots in
 * one vector in row order. The GEMV form of the dot tiles (one row, one
 * reduction each) made a 134M F16 decode step 20% slower than OpenBLAS's
 * sgemv on the strided K rows; this one is faster than both. */
TGT512 static INL __m512 sum16_512(__m512 *a)
{
    __m512 s2[8], s4[4], s8[2];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) /* per 128-bit lane: (a, b, a, b) pairs */
        s2[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]),
                              _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) /* per 128-bit lane: (a, b, c, d) */
        s4[i] = _mm512_add_ps(_mm512_shuffle_ps(s2[2 * i], s2[2 * i + 1], 0x44),
                              _mm512_shuffle_ps(s2[2 * i], s2[2 * i + 1], 0xEE));
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) /* lanes 0+1 and 2+3 of two groups of 4 */
        s8[i] = _mm512_add_ps(_mm512_shuffle_f32x4(s4[2 * i], s4[2 * i + 1], 0x88),
                              _mm512_shuffle_f32x4(s4[2 * i], s4[2 * i + 1], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(s8[0], s8[1], 0x88),
                         _mm512_shuffle_f32x4(s8[0], s8[1], 0xDD));
}

/* Rows ahead that the head-dim-64 path prefetches, one row per row read:
 * 16, 32 and 64 measured alike on the 134M decode (within 3%). */
#define DOTS_PF 32
TGT512 static INL void dots512(int f16, const void *w, int64_t ldw, const float *x, int64_t ldx,
                               float *y, int64_t ldy, int64_t n, int64_t nr, int64_t k)
{
    const size_t esz = f16 ? 2 : 4;
    const char *wb = w;
    const int64_t rowb = k * (int64_t)esz;
    for (int64_t j0 = 0; j0 < nr; j0 += 16) {
        const int nj = nr - j0 < 16 ? (int)(nr - j0) : 16;
        /* The next 16 rows, line by line: strided rows of a cache that
         * the weight stream evicted come from memory. */
        if (k != 64 || nj != 16)
            for (int64_t j = j0 + 16; j < j0 + 32 && j < nr; j++)
                for (int64_t b = 0; b < rowb; b += 64)
                    _mm_prefetch(wb + (size_t)(j * ldw) * esz + b, _MM_HINT_T0);
        for (int64_t i = 0; i < n; i++) {
            const float *xi = x + i * ldx;
            __m512 acc[16];
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++)
                acc[j] = _mm512_setzero_ps();
            if (nj == 16 && k == 64) {
                /* the common head dim: each row's lines read together, the
                 * row DOTS_PF ahead prefetched as this one is read */
                const __m512 x0 = _mm512_loadu_ps(xi), x1 = _mm512_loadu_ps(xi + 16);
                const __m512 x2 = _mm512_loadu_ps(xi + 32), x3 = _mm512_loadu_ps(xi + 48);
#pragma GCC unroll 16
                for (int j = 0; j < 16; j++) {
                    const char *wj = wb + (size_t)((j0 + j) * ldw) * esz;
                    if (i == 0 && j0 + j + DOTS_PF < nr) {
                        const char *pj = wj + (size_t)(DOTS_PF * ldw) * esz;
                        for (size_t b = 0; b < 64 * esz; b += 64)
                            _mm_prefetch(pj + b, _MM_HINT_T0);
                    }
                    /* the general path's chain, fma by fma from zero: a key's
                     * score must not depend on whether its group of 16 is
                     * full, which differs between a decode step and a
                     * batch (batch-invariant verification, forward.h) */
                    __m512 a = _mm512_fmadd_ps(x0, load_w512(wj, f16, 0, 0xFFFF), acc[j]);
                    a = _mm512_fmadd_ps(x1, load_w512(wj, f16, 16, 0xFFFF), a);
                    a = _mm512_fmadd_ps(x2, load_w512(wj, f16, 32, 0xFFFF), a);
                    acc[j] = _mm512_fmadd_ps(x3, load_w512(wj, f16, 48, 0xFFFF), a);
                }
                _mm512_storeu_ps(y + i * ldy + j0, sum16_512(acc));
                continue;
            }
            for (int64_t c = 0; c < k; c += 16) {
                const __mmask16 m = (k - c >= 16) ? (__mmask16)0xFFFF
                                                  : (__mmask16)((1u << (unsigned)(k - c)) - 1u);
                const __m512 xv = _mm512_maskz_loadu_ps(m, xi + c);
                if (nj == 16) {
#pragma GCC unroll 16
                    for (int j = 0; j < 16; j++)
                        acc[j] = _mm512_fmadd_ps(
                            xv, load_w512(wb + (size_t)((j0 + j) * ldw) * esz, f16, c, m), acc[j]);
                } else {
                    for (int j = 0; j < nj; j++)
                        acc[j] = _mm512_fmadd_ps(
                            xv, load_w512(wb + (size_t)((j0 + j) * ldw) * esz, f16, c, m), acc[j]);
                }
            }
            _mm512_mask_storeu_ps(y + i * ldy + j0, (__mmask16)((1u << nj) - 1u), sum16_512(acc));
        }
    }
}

TGT512 static void mm_dots_avx512(const float *w, int64_t ldw, const float *x, int64_t ldx,
                                  float *y, int64_t ldy, int64_t n, int64_t nr, int64_t k)
{
    dots512(0, w, ldw, x, ldx, y, ldy, n, nr, k);
}

TGT512 static void mm_dots16_avx512(const uint16_t *w, int64_t ldw, const float *x,
                                    int64_t ldx, float *y, int64_t ldy, int64_t n, int64_t nr,
                                    int64_t k)
{
    dots512(1, w, ldw, x, ldx, y, ldy, n, nr, k);
}

/* P.V for attention: y (n, k) = p (n, m) . v (m, k), v row-major. Per 4
 * rows of p and 64 columns, 16 accumulators; each row of v is loaded once
 * (4 vectors, masked at the edge) and meets the 4 broadcast weights: no
 * packing, where OpenBLAS's sgemm packed V for every head and block. */
TGT512 static INL void nn_tile512(int RM, int f16, const float *p, int64_t ldp, const void *v,
                                  int64_t ldv, float *y, int64_t ldy, int64_t m, int64_t kc)
{
    const size_t esz = f16 ? 2 : 4;
    const char *vb = v;
    __mmask16 mk[4];
    for (int c = 0; c < 4; c++) {
        const int64_t rem = kc - 16 * c;
        mk[c] = rem >= 16 ? (__mmask16)0xFFFF
                          : rem > 0 ? (__mmask16)((1u << (unsigned)rem) - 1u) : (__mmask16)0;
    }
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            acc[i][c] = _mm512_setzero_ps();
    for (int64_t j = 0; j < m; j++) {
        __m512 vv[4];
        const char *vj = vb + (size_t)(j * ldv) * esz;
        if (j + 16 < m) /* rows from memory, as in dots512 */
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++)
                if (mk[c] && (!f16 || c % 2 == 0))
                    _mm_prefetch(vj + (size_t)(16 * ldv) * esz + (size_t)(16 * c) * esz,
                                 _MM_HINT_T0);
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            vv[c] = load_w512(vj, f16, 16 * c, mk[c]);
#pragma GCC unroll 4
        for (int i = 0; i < RM; i++) {
            const __m512 pb = _mm512_set1_ps(p[i * ldp + j]);
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++)
                acc[i][c] = _mm512_fmadd_ps(pb, vv[c], acc[i][c]);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            _mm512_mask_storeu_ps(y + i * ldy + 16 * c, mk[c], acc[i][c]);
}

TGT512 static INL void nn512(int f16, const float *p, int64_t ldp, const void *v, int64_t ldv,
                             float *y, int64_t ldy, int64_t n, int64_t m, int64_t k)
{
    const size_t esz = f16 ? 2 : 4;
    const char *vb = v;
    for (int64_t c0 = 0; c0 < k; c0 += 64) {
        const int64_t kc = k - c0 < 64 ? k - c0 : 64;
        const void *vc = vb + (size_t)c0 * esz;
        int64_t i = 0;
        for (; i + 4 <= n; i += 4)
            nn_tile512(4, f16, p + i * ldp, ldp, vc, ldv, y + i * ldy + c0, ldy, m, kc);
        switch (n - i) {
        case 3: nn_tile512(3, f16, p + i * ldp, ldp, vc, ldv, y + i * ldy + c0, ldy, m, kc); break;
        case 2: nn_tile512(2, f16, p + i * ldp, ldp, vc, ldv, y + i * ldy + c0, ldy, m, kc); break;
        case 1: nn_tile512(1, f16, p + i * ldp, ldp, vc, ldv, y + i * ldy + c0, ldy, m, kc); break;
        default: break;
        }
    }
}

TGT512 static void mm_nn_avx512(const float *p, int64_t ldp, const float *v, int64_t ldv,
                                float *y, int64_t ldy, int64_t n, int64_t m, int64_t k)
{
    nn512(0, p, ldp, v, ldv, y, ldy, n, m, k);
}

TGT512 static void mm_nn16_avx512(const float *p, int64_t ldp, const uint16_t *v, int64_t ldv,
                                  float *y, int64_t ldy, int64_t n, int64_t m, int64_t k)
{
    nn512(1, p, ldp, v, ldv, y, ldy, n, m, k);
}

/* ==== AVX2 ============================================================== */

/* 2 tokens x 4 rows = 8 accumulators + 4 weights + 1 activation: 13 of
 * the 16 ymm registers. */
#define R2_M 2
#define R2_N 4

TGT2 static INL __m256 load_w2(const void *w, int f16, int64_t off)
{
    if (f16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)((const uint16_t *)w + off)));
    return _mm256_loadu_ps((const float *)w + off);
}

TGT2 static INL float hsum256(__m256 v)
{
    const __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
}

TGT2 static INL void tile2(int RM, int RN, int f16, const void *w, int64_t ldw,
                           const float *x, int64_t ldx, float *y, int64_t ldy, int64_t k)
{
    __m256 acc[R2_M][R2_N];
#pragma GCC unroll 8
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 4
        for (int j = 0; j < RN; j++)
            acc[i][j] = _mm256_setzero_ps();
    const int64_t k8 = k & ~(int64_t)7;
    for (int64_t c = 0; c < k8; c += 8) {
        __m256 wv[R2_N];
#pragma GCC unroll 4
        for (int j = 0; j < RN; j++)
            wv[j] = load_w2(w, f16, j * ldw + c);
#pragma GCC unroll 4
        for (int i = 0; i < RM; i++) {
            const __m256 xv = _mm256_loadu_ps(x + i * ldx + c);
#pragma GCC unroll 4
            for (int j = 0; j < RN; j++)
                acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 4
        for (int j = 0; j < RN; j++) {
            float s = hsum256(acc[i][j]);
            for (int64_t c = k8; c < k; c++) {
                const float wc = f16 ? _cvtsh_ss(((const uint16_t *)w)[j * ldw + c])
                                     : ((const float *)w)[j * ldw + c];
                s += wc * x[i * ldx + c];
            }
            y[i * ldy + j] = s;
        }
}

TGT2 static INL void gemm2(int f16, const void *w, int64_t ldw, const float *x, int64_t ldx,
                           float *y, int64_t ldy, int64_t n, int64_t nr, int64_t k)
{
    const size_t esz = f16 ? 2 : 4;
    const char *wb = w;
    for (int64_t r = 0; r < nr; r += R2_N) {
        const int rn = nr - r >= R2_N ? R2_N : (int)(nr - r);
        const void *wr = wb + (size_t)(r * ldw) * esz;
        for (int64_t t = 0; t < n; t += R2_M) {
            const float *xt = x + t * ldx;
            float *yt = y + t * ldy + r;
            if (n - t >= 2 && rn == 4)
                tile2(2, 4, f16, wr, ldw, xt, ldx, yt, ldy, k);
            else if (rn == 4)
                tile2(1, 4, f16, wr, ldw, xt, ldx, yt, ldy, k);
            else /* the last 1..3 rows, one at a time */
                for (int j = 0; j < rn; j++)
                    for (int64_t i = t; i < n && i < t + 2; i++)
                        tile2(1, 1, f16, wb + (size_t)((r + j) * ldw) * esz, ldw,
                              x + i * ldx, ldx, y + i * ldy + r + j, ldy, k);
        }
    }
}

TGT2 static void mm_f32_avx2(const float *w, int64_t ldw, const float *x, int64_t ldx,
                             float *y, int64_t ldy, int64_t n, int64_t nr, int64_t k)
{
    gemm2(0, w, ldw, x, ldx, y, ldy, n, nr, k);
}

TGT2 static void mm_f16_avx2(const uint16_t *w, int64_t ldw, const float *x, int64_t ldx,
                             float *y, int64_t ldy, int64_t n, int64_t nr, int64_t k)
{
    gemm2(1, w, ldw, x, ldx, y, ldy, n, nr, k);
}

TGT2 static INL __m256i q8_dot_avx2(__m256i w, __m256i x)
{
    const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* 2 tokens x 4 rows, |w| recomputed per product (registers are few). */
TGT2 static INL void tile_q8_2(int RM, int RN, const dtype_block_q8_0 *w, int64_t ldw,
                               const int8_t *xq, int64_t ldq, const float *xd, int64_t ldd,
                               float *y, int64_t ldy, int64_t nb)
{
    __m256 acc[2][4];
#pragma GCC unroll 8
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 4
        for (int j = 0; j < RN; j++)
            acc[i][j] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i wv[4];
        float dw[4];
#pragma GCC unroll 4
        for (int j = 0; j < RN; j++) {
            const dtype_block_q8_0 *blk = w + j * ldw + b;
            wv[j] = _mm256_loadu_si256((const __m256i *)(const void *)blk->qs);
            dw[j] = f16_scale(blk->d);
        }
#pragma GCC unroll 4
        for (int i = 0; i < RM; i++) {
            const __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)(xq + i * ldq + b * 32));
            const float dx = xd[i * ldd + b];
#pragma GCC unroll 4
            for (int j = 0; j < RN; j++)
                acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q8_dot_avx2(wv[j], xv)),
                                            _mm256_set1_ps(dw[j] * dx), acc[i][j]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 4
        for (int j = 0; j < RN; j++)
            y[i * ldy + j] = hsum256(acc[i][j]);
}

TGT2 static void mm_q8_avx2(const dtype_block_q8_0 *w, int64_t ldw, const int8_t *xq,
                            int64_t ldq, const float *xd, int64_t ldd, float *y, int64_t ldy,
                            int64_t n, int64_t nr, int64_t nb)
{
    for (int64_t r = 0; r < nr; r += 4) {
        const int rn = nr - r >= 4 ? 4 : (int)(nr - r);
        for (int64_t t = 0; t < n; t += 2) {
            const int8_t *xt = xq + t * ldq;
            const float *dt = xd + t * ldd;
            float *yt = y + t * ldy + r;
            const dtype_block_q8_0 *wr = w + r * ldw;
            if (n - t >= 2 && rn == 4)
                tile_q8_2(2, 4, wr, ldw, xt, ldq, dt, ldd, yt, ldy, nb);
            else if (rn == 4)
                tile_q8_2(1, 4, wr, ldw, xt, ldq, dt, ldd, yt, ldy, nb);
            else
                for (int j = 0; j < rn; j++)
                    for (int64_t i = t; i < n && i < t + 2; i++)
                        tile_q8_2(1, 1, w + (r + j) * ldw, ldw, xq + i * ldq, ldq,
                                  xd + i * ldd, ldd, y + i * ldy + r + j, ldy, nb);
        }
    }
}

/* P.V (see nn_tile512): 2 rows of p x 32 columns, 8 accumulators; the
 * last k % 8 columns in plain C. */
TGT2 static INL void nn_tile2(int RM, const float *p, int64_t ldp, const float *v, int64_t ldv,
                              float *y, int64_t ldy, int64_t m, int nc)
{
    __m256 acc[2][4];
#pragma GCC unroll 2
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 4
        for (int c = 0; c < nc; c++)
            acc[i][c] = _mm256_setzero_ps();
    for (int64_t j = 0; j < m; j++) {
        __m256 vv[4];
#pragma GCC unroll 4
        for (int c = 0; c < nc; c++)
            vv[c] = _mm256_loadu_ps(v + j * ldv + 8 * c);
#pragma GCC unroll 2
        for (int i = 0; i < RM; i++) {
            const __m256 pb = _mm256_set1_ps(p[i * ldp + j]);
#pragma GCC unroll 4
            for (int c = 0; c < nc; c++)
                acc[i][c] = _mm256_fmadd_ps(pb, vv[c], acc[i][c]);
        }
    }
#pragma GCC unroll 2
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 4
        for (int c = 0; c < nc; c++)
            _mm256_storeu_ps(y + i * ldy + 8 * c, acc[i][c]);
}

TGT2 static void mm_nn_avx2(const float *p, int64_t ldp, const float *v, int64_t ldv, float *y,
                            int64_t ldy, int64_t n, int64_t m, int64_t k)
{
    const int64_t k8 = k & ~(int64_t)7;
    for (int64_t c0 = 0; c0 < k8; c0 += 32) {
        const int nc = (int)((k8 - c0 < 32 ? k8 - c0 : 32) / 8);
        int64_t i = 0;
        for (; i + 2 <= n; i += 2)
            switch (nc) {
            case 4: nn_tile2(2, p + i * ldp, ldp, v + c0, ldv, y + i * ldy + c0, ldy, m, 4); break;
            case 3: nn_tile2(2, p + i * ldp, ldp, v + c0, ldv, y + i * ldy + c0, ldy, m, 3); break;
            case 2: nn_tile2(2, p + i * ldp, ldp, v + c0, ldv, y + i * ldy + c0, ldy, m, 2); break;
            default: nn_tile2(2, p + i * ldp, ldp, v + c0, ldv, y + i * ldy + c0, ldy, m, 1); break;
            }
        if (i < n)
            switch (nc) {
            case 4: nn_tile2(1, p + i * ldp, ldp, v + c0, ldv, y + i * ldy + c0, ldy, m, 4); break;
            case 3: nn_tile2(1, p + i * ldp, ldp, v + c0, ldv, y + i * ldy + c0, ldy, m, 3); break;
            case 2: nn_tile2(1, p + i * ldp, ldp, v + c0, ldv, y + i * ldy + c0, ldy, m, 2); break;
            default: nn_tile2(1, p + i * ldp, ldp, v + c0, ldv, y + i * ldy + c0, ldy, m, 1); break;
            }
    }
    if (k8 < k)
        mm_nn_ref(p, ldp, v + k8, ldv, y + k8, ldy, n, m, k - k8);
}

/* Q8_0 quantization of x, bit-exact with dtype_quantize_row_q8_0_ref:
 * the same float operations in the same order per value (amax, d = amax /
 * 127, id = 1/d, x * id), and roundf's half-away-from-zero rebuilt from
 * truncation: v - trunc(v) is exact, so comparing it with 0.5 decides as
 * roundf does. */
TGT2 static void quant_q8_avx2(const float *x, int8_t *qs, float *d, int64_t n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 half = _mm256_set1_ps(0.5f);
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t b = 0; b < n / 32; b++) {
        const float *xb = x + b * 32;
        __m256 v[4];
        __m256 mx = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(xb + 8 * i);
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[i]));
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const float db = amax / 127.0f;
        const float id = db != 0.0f ? 1.0f / db : 0.0f;
        d[b] = dtype_f16_to_f32(dtype_f32_to_f16(db));
        const __m256 idv = _mm256_set1_ps(id);
        __m256i q[4];
        for (int i = 0; i < 4; i++) {
            const __m256 s = _mm256_mul_ps(v[i], idv);
            const __m256 t = _mm256_round_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __m256 fr = _mm256_andnot_ps(sign, _mm256_sub_ps(s, t));
            const __m256 up = _mm256_and_ps(_mm256_cmp_ps(fr, half, _CMP_GE_OQ),
                                            _mm256_or_ps(one, _mm256_and_ps(sign, s)));
            q[i] = _mm256_cvttps_epi32(_mm256_add_ps(t, up));
        }
        const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
        const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
        const __m256i p = _mm256_packs_epi16(p01, p23);
        const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        _mm256_storeu_si256((__m256i *)(void *)(qs + b * 32), _mm256_permutevar8x32_epi32(p, perm));
    }
}

/* F16C rounds to nearest even, as dtype_f32_to_f16 (and ggml) do: the
 * same half for every non-NaN float (the scalar path took 21% of an F16
 * prefill). */
TGT2 static void round16_f16c(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i),
                                                                _MM_FROUND_TO_NEAREST_INT)));
    mm_round16_ref(x + i, y + i, n - i);
}

void mm_kernels_avx2(mm_kernels *k)
{
    k->round16 = round16_f16c;
    k->f32 = mm_f32_avx2;
    k->f16 = mm_f16_avx2;
    k->q8 = mm_q8_avx2;
    k->quant = quant_q8_avx2;
    k->nn = mm_nn_avx2;
    k->dots = mm_f32_avx2;
    k->dots16 = mm_f16_avx2;
    /* the AVX2 tiles reduce each (token, row) alone over the whole row:
     * batch-invariant as they are */
    k->f32_inv = mm_f32_avx2;
    k->f16_inv = mm_f16_avx2;
}

void mm_kernels_avx512(mm_kernels *k, int vnni)
{
    mm_kernels_avx2(k);
    k->f32 = mm_f32_avx512;
    k->f16 = mm_f16_avx512;
    k->f32_inv = mm_f32_avx512_inv;
    k->f16_inv = mm_f16_avx512_inv;
    k->nn = mm_nn_avx512;
    k->dots = mm_dots_avx512;
    k->nn16 = mm_nn16_avx512;
    k->dots16 = mm_dots16_avx512;
    if (vnni)
        k->q8 = mm_q8_avx512;
}

#endif /* MM_HAVE_X86 */
