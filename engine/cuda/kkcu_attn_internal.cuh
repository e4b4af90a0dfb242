/*
 * kkcu_attn_internal: what kkcu_attn.cu (the fused kernel, the host API)
 * and kkcu_attn_ref.cu (the reference path: the F16 decode and the plain
 * attention) share: the launch and F16 helpers for nvcc and the CPU
 * emulator, the shape constants, the object. Not a public header.
 */
#ifndef KKCU_ATTN_INTERNAL_CUH
#define KKCU_ATTN_INTERNAL_CUH

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef KKCU_EMU
#include <cuda_fp16.h>
#include <cuda_pipeline.h>
#include <cuda_runtime.h>
#endif

#include "kkcu_attn.h"
#include "kkcu_decode.cuh"

/* ---- portability ------------------------------------------------------------------- */

#ifdef KKCU_EMU
/* tests/cuda/kkcu_emu.h runs every thread of a block as a fiber. */
#define KKCU_LAUNCH(kern, grid, block, stream, ...) \
    ((void)(stream), kkcu_emu_launch((grid), (block), [&] { kern(__VA_ARGS__); }))
static inline float attn_h2f(uint16_t h) { return kkcu_f16_to_f32(h); }
#else
#define KKCU_LAUNCH(kern, grid, block, stream, ...) \
    kern<<<(grid), (block), 0, (cudaStream_t)(stream)>>>(__VA_ARGS__)
/* The hardware conversion: the same float as kkcu_f16_to_f32 for every
 * non-NaN half (F16 -> F32 is exact). */
__device__ __forceinline__ float attn_h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }
#endif

namespace {

constexpr int D = KKCU_ATTN_HEAD_DIM;  /* head dim */
constexpr int G = KKCU_ATTN_GROUP;     /* query heads per K/V head */
constexpr int NT = 128;                /* threads per block: 4 warps */
constexpr unsigned FULL = 0xffffffffu;
/* Tokens per tile: q8_0 and kl_e8 64 (two stages of K and V: 2 x 2 x
 * 64 x 136 bytes = 35 KB of shared memory), F16 32 (2 x 2 x 32 x 256).
 * Both under the 48 KB a block gets without opting in, with the score
 * tile and the 8 KB of the warps' final sums. */
constexpr int T_CODES = 64;
constexpr int T_F16 = 32;
/* Blocks the split kernel aims for: about four resident blocks per
 * multiprocessor (q8_0: 46 KB of shared memory and 118 registers x 128
 * threads each, ptxas -v), so one wave covers the context. */
constexpr int BLOCKS_PER_SM = 4;
/* The plain attention's P V kernel: tokens per block. */
constexpr int REF_CHUNK = 256;

} /* namespace */

/* The codec's figures the kernels need (passed by value to each launch). */
struct attn_params {
    int hb;    /* bytes of one token of one K/V head */
    int q;     /* kl_e8: the cube */
    int bits;  /* kl_e8: bits per E8 point (coset bit + rank) */
};

/* The object of kkcu_attn.h (device buffers for up to cfg.max_ctx tokens). */
struct kkcu_attn {
    kkcu_attn_config cfg;
    int kl;                 /* kl_e8 (else q8_0) */
    attn_params pr;
    float rot_scale;        /* 1 / sqrt(D), as codec_hadamard.c computes it */
    int n_sm;
    int max_splits;         /* per K/V head */
    char name[256];
    float *d_signs_k, *d_signs_v; /* kl_e8: the rotation's signs */
    unsigned *d_done;       /* (n_kv_heads) the split kernel's block counters */
    float *d_part_o;        /* (n_heads, max_splits, D) */
    float2 *d_part_ml;      /* (n_heads, max_splits) */
    uint16_t *d_k16, *d_v16; /* (n_kv_heads, max_ctx, D) halves each */
    float *d_S;             /* (n_heads, max_ctx) scores, then p */
    float *d_sums;          /* (n_heads) */
    float *d_ref_part;      /* (n_heads, max chunks, D) */
    int64_t f16_ctx;        /* n_ctx of the last decode; 0: none */
};

/* Jump to `fail` with the CUDA error in err (KK_E_NOMEM for memory). */
#define CU_TRY(call, what)                                                                      \
    do {                                                                                        \
        const cudaError_t e_ = (call);                                                          \
        if (e_ != cudaSuccess) {                                                                \
            kk_err_set(err, e_ == cudaErrorMemoryAllocation ? KK_E_NOMEM : KK_E_INTERNAL,       \
                       "kkcu_attn: %s: %s", (what), cudaGetErrorString(e_));                   \
            goto fail;                                                                          \
        }                                                                                       \
    } while (0)

/* A launch's own errors (bad configuration, no kernel image for this GPU). */
#define LAUNCHED(what) CU_TRY(cudaGetLastError(), (what))

static inline kk_code check_ctx(const kkcu_attn *a, int64_t n_ctx, kk_err *err)
{
    if (n_ctx < 1 || n_ctx > a->cfg.max_ctx)
        return kk_err_set(err, KK_E_RANGE, "kkcu_attn: n_ctx %lld; allowed 1..%lld (max_ctx)",
                          (long long)n_ctx, (long long)a->cfg.max_ctx);
    return KK_OK;
}

static inline kk_code check_decoded(const kkcu_attn *a, int64_t n_ctx, kk_err *err)
{
    if (a->f16_ctx != n_ctx)
        return kk_err_set(err, KK_E_RANGE, "kkcu_attn: the F16 cache holds %lld tokens, not %lld: "
                          "call kkcu_attn_decode_f16 first", (long long)a->f16_ctx,
                          (long long)n_ctx);
    return KK_OK;
}

#endif /* KKCU_ATTN_INTERNAL_CUH */
