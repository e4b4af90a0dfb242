/*
 * fwd: the forward pass of a llama/qwen3 model.
 *
 * One entry point, fwd_run, processes a batch of n new tokens at given
 * positions against a KV cache: prefill (n = prompt length), decode
 * (n = 1) and verification of L drafted tokens (n = L) are all this call.
 * It returns logits for the last or for every new position and can capture
 * each layer's K (before and after RoPE) and V for the new positions.
 *
 * Per layer, in llama.cpp's order (llama2.c run.c forward() reads the same):
 *   RMSNorm -> q,k,v projections -> [qwen3: per-head RMSNorm of q and k]
 *   -> RoPE (llama: adjacent pairs; qwen3: NeoX halves) -> append K,V to the
 *   cache -> attention over the cache's view (causal by position, 1/sqrt(dk))
 *   -> output projection + residual -> RMSNorm -> SwiGLU FFN + residual.
 * Then the final RMSNorm and the output matrix.
 *
 * Lifecycle of a fwd_state:
 *   1. fwd_init(m, max_batch, n_ctx): every scratch buffer allocated; runs
 *      never allocate. Batches longer than max_batch are processed in
 *      chunks of max_batch inside one fwd_run.
 *   2. fwd_run as often as needed, with any cache whose layout matches m.
 *   3. fwd_free (accepts NULL).
 * The state borrows the model, which must outlive it. Not thread-safe: one
 * state per thread.
 */
#ifndef KK_FORWARD_H
#define KK_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/kk_err.h"
#include "kv.h"
#include "model.h"

typedef enum fwd_logits {
    FWD_LOGITS_NONE = 0,
    FWD_LOGITS_LAST = 1,   /* logits (n_vocab) of the last new position */
    FWD_LOGITS_ALL = 2,    /* logits (n, n_vocab), one row per new position */
} fwd_logits;

/* Caller-owned capture buffers, each NULL or (n_layers, n, row) floats:
 * row = n_kv_heads*head_dim_k for K, n_kv_heads*head_dim_v for V.
 * k_pre is K after the projection (and qwen3's k_norm), before RoPE. */
typedef struct fwd_capture {
    float *k_pre;
    float *k_post;
    float *v;
} fwd_capture;

typedef struct fwd_state fwd_state;

/* max_batch >= 1 tokens per chunk; n_ctx: the most cache entries any view
 * will hold (the cache's capacity). */
kk_code fwd_init(fwd_state **out, const model *m, int64_t max_batch, int64_t n_ctx,
                 kk_err *err);
void fwd_free(fwd_state *s);

/* Use the plain reference kernels (ops_*_ref, fwd_attention_ref) instead
 * of BLAS: for tests. */
void fwd_set_ref(fwd_state *s, bool use_ref);

/* Run n tokens. pos: their positions, or NULL for kv_n_tokens(kv) + i.
 * logits: (n_vocab) for LAST, (n, n_vocab) for ALL, unused for NONE.
 * cap: NULL or the capture buffers. @return KK_OK; KK_E_RANGE for a token
 * id outside the vocabulary or a negative position; KK_E_LIMIT when the
 * cache is full. On error the cache may hold part of the batch: truncate
 * it to its length before the call. */
kk_code fwd_run(fwd_state *s, kv_cache *kv, const int32_t *tokens, const int32_t *pos,
                int64_t n, fwd_logits mode, float *logits, const fwd_capture *cap,
                kk_err *err);

/* ---- attention, exposed for tests --------------------------------------- */

/* Queries per BLAS block of scores: bounds the scores scratch at
 * FWD_ATT_CHUNK x n_ctx floats whatever the batch. */
#define FWD_ATT_CHUNK 64

typedef struct fwd_attn_shape {
    int32_t n_heads, n_kv_heads, head_dim_k, head_dim_v;
    int32_t window;        /* 0: none; else keys with q_pos - k_pos >= window are masked */
} fwd_attn_shape;

/* out (n, n_heads*head_dim_v) = softmax(q k^T / sqrt(head_dim_k) + mask) v
 * for queries q (n, n_heads*head_dim_k) at positions q_pos over the cache
 * view kv. An entry is visible when its position <= q_pos (and inside the
 * window). scores: scratch of FWD_ATT_CHUNK * kv->n floats. */
void fwd_attention(const fwd_attn_shape *sh, const float *q, const int32_t *q_pos,
                   int64_t n, const kv_view *kv, float *out, float *scores);
/* The naive triple loop in double, no scratch. */
void fwd_attention_ref(const fwd_attn_shape *sh, const float *q, const int32_t *q_pos,
                       int64_t n, const kv_view *kv, float *out);

#endif /* KK_FORWARD_H */
