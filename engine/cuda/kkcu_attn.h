/*
 * kkcu_attn: one decode step of attention on a CUDA GPU over a K/V cache
 * held as packed codec bytes (q8_0 or kl_e8), decoding the codes in
 * registers (docs/gpu.md has the numbers and how to run them).
 *
 * Shape: one query token; n_heads query heads sharing n_kv_heads K/V heads
 * four to one (GQA 4:1, query head h reads K/V head h / 4, as llama.cpp
 * groups them); head_dim 128. The shape the kernels are written for is the
 * one the issue names (32 query heads, 8 KV heads, head dim 128); any
 * n_kv_heads from 1 to 64 works, other groups and head sizes are refused
 * (KK_E_UNSUPPORTED).
 *
 *   out[h] = sum_t softmax_t(q[h] . k[t][h/4] / sqrt(128)) v[t][h/4]
 *
 * Cache layout (device memory; K and V each):
 *   (n_kv_heads, n_ctx, head_bytes) bytes, head-major: the codes of one KV
 *   head for consecutive tokens are contiguous, each token's 128 values
 *   encoded as codec_encode(128 values) writes them (head_bytes =
 *   kkcu_attn_head_bytes: 136 for q8_0, four 34-byte blocks; 76 for
 *   kl_e8:q=10, the F32 qmax and 16 E8 points of 36 bits). The kernels
 *   read whole 16-byte chunks: allocate kkcu_attn_cache_bytes(n_ctx)
 *   bytes (the size rounded up to 16) and leave the tail as it is.
 *   Head-major is the layout paged GPU caches use within a page (vLLM:
 *   [blocks, kv_heads, block_size, head_size]): a run of tokens of one
 *   head is one contiguous read.
 *
 * Three ways to compute the same output:
 *   kkcu_attn_fused        the fused kernel: split the context across
 *                          thread blocks (flash-decoding), each block
 *                          copies tiles of 64 tokens of K and V codes to
 *                          shared memory (cp.async, two stages), decodes
 *                          them in registers (engine/cuda/kkcu_decode.cuh:
 *                          the CPU's floats), online softmax in F32, then
 *                          a small kernel merges the splits. kl_e8 is
 *                          never un-rotated per token: q is rotated once
 *                          (the Hadamard rotation is orthogonal, so
 *                          q . R^-1 k = (R q) . k) and the output once.
 *   kkcu_attn_reference    decode the whole cache to F16 (one kernel, the
 *                          codec's values rounded to nearest even), then a
 *                          plain attention over F16 (scores, softmax, P V,
 *                          sum: four small kernels, no fusion, no online
 *                          softmax): what the fused kernel is checked and
 *                          timed against.
 *   kkcu_attn_flash_f16    the fused kernel's split attention over the F16
 *                          cache that kkcu_attn_decode_f16 wrote: the best
 *                          attention this file has over a decoded cache,
 *                          so "decode, then attend" is timed at its best
 *                          too (bench/cuda/bench_cuda_attn.cu times both).
 * Every sum is F32; the tolerances of tests/cuda/test_cuda_attn.cu say
 * how far each may be from a double-precision reference and why.
 *
 * Lifecycle: kkcu_attn_init (checks the shape and codec, allocates every
 * device buffer a call can need for up to max_ctx tokens), then any number
 * of calls on one stream (they enqueue work and return; errors of a launch
 * are reported by the call, errors while the kernels run by the next
 * synchronizing call), kkcu_attn_free (accepts NULL). Not thread-safe: one
 * kkcu_attn serves one stream. All pointers passed to calls are device
 * pointers.
 */
#ifndef KKCU_ATTN_H
#define KKCU_ATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" { /* codec.h and kk_err.h are C: their functions too */
#endif

#include "codec.h"
#include "kk_err.h"

/* cudaStream_t without CUDA's headers (the same typedef as kkcu.h). */
typedef struct CUstream_st *kkcu_stream;

#define KKCU_ATTN_HEAD_DIM 128
#define KKCU_ATTN_GROUP 4          /* query heads per K/V head */
#define KKCU_ATTN_MAX_KV_HEADS 64

typedef struct kkcu_attn kkcu_attn;

typedef struct kkcu_attn_config {
    int32_t n_heads;        /* query heads: KKCU_ATTN_GROUP * n_kv_heads */
    int32_t n_kv_heads;     /* 1 .. KKCU_ATTN_MAX_KV_HEADS */
    int32_t head_dim;       /* KKCU_ATTN_HEAD_DIM */
    int64_t max_ctx;        /* the most tokens a call will pass, >= 1 */
    /* The codec of K and V (both sides the same spec): q8_0, or kl_e8
     * with group = dim = 128 and q <= 127 (its point index then fits 64
     * bits); its rotation seed is the spec's. */
    codec_spec spec;
} kkcu_attn_config;

/* Check cfg, find the GPU (device 0), allocate. @return KK_OK;
 * KK_E_UNSUPPORTED for a shape or codec the kernels do not handle, or no
 * CUDA device (the message names the CUDA error); KK_E_RANGE for a count
 * out of range; KK_E_NOMEM when device memory runs out. */
kk_code kkcu_attn_init(kkcu_attn **out, const kkcu_attn_config *cfg, kk_err *err);
void kkcu_attn_free(kkcu_attn *a);

/* Bytes of one token of one K/V head's codes. */
size_t kkcu_attn_head_bytes(const kkcu_attn *a);
/* Bytes to allocate for K (or V) of n_ctx tokens: n_kv_heads * n_ctx *
 * head_bytes rounded up to 16. */
size_t kkcu_attn_cache_bytes(const kkcu_attn *a, int64_t n_ctx);
/* Thread blocks per K/V head the fused kernel splits n_ctx tokens into
 * (for reports; chosen from the multiprocessor count). */
int kkcu_attn_splits(const kkcu_attn *a, int64_t n_ctx);
/* The device's name (cudaDeviceProp.name). */
const char *kkcu_attn_device_name(const kkcu_attn *a);

/* q: (n_heads, 128) F32; k, v: the codes (layout above); out: (n_heads,
 * 128) F32. stream: NULL for the default stream.
 * @return KK_OK, KK_E_RANGE when n_ctx is outside 1 .. max_ctx,
 * KK_E_INTERNAL when a launch fails (the CUDA error in the message). */
kk_code kkcu_attn_fused(kkcu_attn *a, const float *q, const uint8_t *k, const uint8_t *v,
                        int64_t n_ctx, float *out, kkcu_stream stream, kk_err *err);

/* kkcu_attn_decode_f16 then the plain attention over it. */
kk_code kkcu_attn_reference(kkcu_attn *a, const float *q, const uint8_t *k, const uint8_t *v,
                            int64_t n_ctx, float *out, kkcu_stream stream, kk_err *err);
/* The reference's two halves, to time them apart: decode K and V into the
 * object's F16 cache ((n_kv_heads, n_ctx, 128) halves each), then attend
 * over what the last decode wrote (same n_ctx). */
kk_code kkcu_attn_decode_f16(kkcu_attn *a, const uint8_t *k, const uint8_t *v, int64_t n_ctx,
                             kkcu_stream stream, kk_err *err);
kk_code kkcu_attn_attend_f16(kkcu_attn *a, const float *q, int64_t n_ctx, float *out,
                             kkcu_stream stream, kk_err *err);
/* The split (flash-decoding) kernel over what the last decode wrote. */
kk_code kkcu_attn_flash_f16(kkcu_attn *a, const float *q, int64_t n_ctx, float *out,
                            kkcu_stream stream, kk_err *err);

/* The F16 cache the last decode wrote (device; K then V, each (n_kv_heads,
 * max_ctx, 128) halves with n_ctx tokens used per head: head g, token t
 * at (g * n_ctx + t) * 128). For tests. */
const uint16_t *kkcu_attn_f16_k(const kkcu_attn *a);
const uint16_t *kkcu_attn_f16_v(const kkcu_attn *a);

#ifdef __cplusplus
}
#endif

#endif /* KKCU_ATTN_H */
