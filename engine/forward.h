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
 * Work the fast path skips, each exact (the reference path does it all):
 *   - a KV head whose K and V weight rows are all zero (synthetic models
 *     use one head of four): its K/V are 0, its query heads output 0, and
 *     the projections run on the live heads' rows only;
 *   - an FFN whose ffn_down is all zero adds exactly 0;
 *   - in the last layer, rows whose output nobody reads: with
 *     FWD_LOGITS_LAST only the batch's last row gets q, attention, output
 *     projection and FFN (every row still gets K and V for the cache);
 *   - causal blocks: entries no query of a block can see.
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

#include "kk_err.h"
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

/* A capture buffer (n_layers, n, row) as position rows (n, n_layers * row):
 * position p's values of every layer, layer after layer (f_theta's input
 * and output layout). */
void fwd_capture_rows(const float *cap, int32_t n_layers, int64_t n, int64_t row, float *out);

typedef struct fwd_state fwd_state;

/* max_batch >= 1 tokens per chunk; n_ctx: the most cache entries any view
 * will hold (the cache's capacity). */
kk_code fwd_init(fwd_state **out, const model *m, int64_t max_batch, int64_t n_ctx,
                 kk_err *err);
void fwd_free(fwd_state *s);

/* Use the plain reference kernels (ops_*_ref, fwd_attention_ref) instead
 * of BLAS: for tests. */
void fwd_set_ref(fwd_state *s, bool use_ref);

/* How queries reach the dot with the cached keys. EXACT (the default):
 * F32 as computed. F16 / Q8_0: each head's query rounded through F16, or
 * through ggml's q8_0 blocks (32 values, an F16 scale), before attention:
 * llama.cpp's CPU flash attention converts Q to the dot partner of K's
 * type (F16 for an F16 cache, q8_0 for q8_0 and q4_0 caches), so this
 * reproduces its arithmetic for a like-for-like comparison (`kakeya codec
 * kld --q-round`); it is not the cache's error. @return KK_OK, KK_E_RANGE
 * for Q8_0 when head_dim_k is not a multiple of 32. */
typedef enum fwd_q_round { FWD_Q_EXACT = 0, FWD_Q_F16, FWD_Q_Q8_0 } fwd_q_round;
kk_code fwd_set_q_round(fwd_state *s, fwd_q_round r, kk_err *err);

/* Batch-invariant mode (speculative decoding's verification): every
 * token's logits in a call of n tokens are bit for bit those of a call
 * with that token alone after the same cache, at any thread count
 * (matmul.h matmul_run_mode; the attention rows reduce per query already;
 * dead-head shortcuts off). A batch is split where the cache asks
 * (kv_invariant_rows: KIVI units, a restored cache whose window has
 * evicted rows), so this holds for every cache type. Prefill can stay in
 * the default mode: the cache rows it leaves are what both paths read.
 * Costs verification speed: docs/performance.md. */
void fwd_set_batch_invariant(fwd_state *s, bool on);

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

/* Queries per block of scores: bounds each thread's scores scratch at
 * FWD_ATT_CHUNK x n_ctx floats whatever the batch. */
#define FWD_ATT_CHUNK 64

typedef struct fwd_attn_shape {
    int32_t n_heads, n_kv_heads, head_dim_k, head_dim_v;
    int32_t window;        /* 0: none; else keys with q_pos - k_pos >= window are masked */
    /* The mask hook: an entry at position p < n_hidden with hidden[p] != 0
     * is invisible to every query. NULL: none. */
    const uint8_t *hidden;
    int64_t n_hidden;
    /* kv_dead[g] != 0: KV head g's K and V are all zero, so its query
     * heads output exactly 0; fwd_attention writes 0 without any work (the
     * reference ignores it and computes the same 0). NULL: none. */
    const uint8_t *kv_dead;
} fwd_attn_shape;

/* out (n, n_heads*head_dim_v) = softmax(q k^T / sqrt(head_dim_k) + mask) v
 * for queries q (n, n_heads*head_dim_k) at positions q_pos over the cache
 * view kv. An entry is visible when its position <= q_pos (and inside the
 * window) and not hidden. When the view's positions ascend (a full cache),
 * each block of queries multiplies only the entries it can see (the causal
 * upper triangle is skipped). Implemented in attention.c: tasks of one
 * head x FWD_ATT_CHUNK queries on the matmul pool (matmul_parallel), each
 * with its thread's scores scratch (matmul_thread_scratch, grown on first
 * use). @return KK_OK, or KK_E_NOMEM when that scratch cannot grow. */
kk_code fwd_attention(const fwd_attn_shape *sh, const float *q, const int32_t *q_pos,
                      int64_t n, const kv_view *kv, float *out);
/* The naive triple loop in double, no scratch. */
void fwd_attention_ref(const fwd_attn_shape *sh, const float *q, const int32_t *q_pos,
                       int64_t n, const kv_view *kv, float *out);

/* Where one query's attention goes, per head (the restoration probe): the
 * softmax of q (n_heads*head_dim_k) at q_pos over the view, in double, with
 * fwd_attention_ref's visibility; out per head h:
 *   mass_restored[h]  the probability on entries the view flags restored
 *                     (kv_view.restored; 0 when it is NULL)
 *   mass_watch[h]     the probability on restored entries whose position is
 *                     one of watch[0..n_watch)
 * A head whose KV head is dead (sh->kv_dead) or that sees nothing gets 0.
 * *watch_exact: some watched position is visible as an entry the cache
 * holds itself (not restored). Any out pointer may be NULL. */
void fwd_attention_mass(const fwd_attn_shape *sh, const float *q, int32_t q_pos,
                        const kv_view *kv, const int32_t *watch, int32_t n_watch,
                        double *mass_restored, double *mass_watch, bool *watch_exact);

/* ---- the probe ------------------------------------------------------------ */

/* What the last query of a run did, per layer (fwd_set_probe): for the
 * batch's last token, after its layer's attention, each layer's largest
 * mass over its live heads on restored entries and on restored watched
 * positions, and whether a watched position is held exactly
 * (fwd_attention_mass). Caller-owned arrays of n_layers, each NULL or
 * filled by every fwd_run while the probe is set (layers the fast path's
 * last layer skips do not occur: the last row is always computed). */
typedef struct fwd_probe {
    const int32_t *watch;   /* positions (the needle's), borrowed */
    int32_t n_watch;
    double *mass_restored;  /* (n_layers) */
    double *mass_watch;     /* (n_layers) */
    uint8_t *watch_exact;   /* (n_layers) */
} fwd_probe;

/* p NULL clears it; borrowed while set. */
void fwd_set_probe(fwd_state *s, const fwd_probe *p);

/* ---- the mask hook -------------------------------------------------------- */

/* Hide positions from one layer: hidden[p] != 0 (p < n_pos) makes the
 * cache entry at position p invisible to every query of `layer`, in the
 * fast and the reference path (the entry stays in the cache). Borrowed:
 * the array must stay valid while runs use it; hidden NULL clears the
 * layer's mask. @return KK_OK, KK_E_RANGE for a bad layer or n_pos < 0. */
kk_code fwd_set_mask(fwd_state *s, int32_t layer, const uint8_t *hidden, int64_t n_pos,
                     kk_err *err);

#endif /* KK_FORWARD_H */
