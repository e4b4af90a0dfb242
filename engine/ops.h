/*
 * ops: the numeric kernels of the forward pass (RMSNorm, RoPE, softmax,
 * SiLU, matrix products), each with a plain `_ref` twin that tests compare
 * against (tests/engine/test_forward.c, named tolerances there).
 *
 * Weights sit behind one small seam, ops_weight + ops_matmul: a matrix is
 * its stored bytes (`raw`: F32, F16 or Q8_0 as in the file, a view into
 * the map) and, for F32 and BF16 only, an F32 form (`f32`: the map itself
 * for F32, a copy for BF16). ops_matmul runs the kernels of matmul.h
 * (SIMD tiles that read F16 and Q8_0 in place, a persistent thread pool;
 * docs/performance.md).
 *
 * Shapes are outermost first: a matrix (rows, cols) is row-major, rows =
 * output features, cols = input features (GGUF ne[] = {cols, rows}).
 *
 * Ownership: ops_weight holds views only (the model owns the buffers).
 * No function here allocates.
 */
#ifndef KK_OPS_H
#define KK_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "dtype.h"

/* What ops_matmul does with the activations of a quantized weight:
 * OPS_ACT_F32   keep them F32 (the product of the dequantized weight and x:
 *               exact up to float rounding; BLAS)
 * OPS_ACT_GGML  round them as llama.cpp's CPU backend does before its dot
 *               products: to Q8_0 blocks for Q8_0 weights (integer dots,
 *               one float scale product per block), to F16 for F16 weights.
 *               Plain loops, read from `raw`; other types stay F32. */
typedef enum ops_act {
    OPS_ACT_F32 = 0,
    OPS_ACT_GGML = 1,
} ops_act;

typedef struct ops_weight {
    dtype_t type;       /* storage type in the file */
    int64_t rows;       /* output features */
    int64_t cols;       /* input features */
    const void *raw;    /* (rows, cols) in `type`, view into the file map */
    const float *f32;   /* (rows, cols) F32: == raw for F32 files, a copy
                           owned by the model for BF16, NULL for F16 and
                           Q8_0 (read from raw) */
    ops_act act;        /* OPS_ACT_F32 unless the model asks otherwise */
} ops_weight;

/* y (n_tokens, W->rows) = x (n_tokens, W->cols) . W^T. x and y must not
 * overlap. matmul_run on the default context (matmul.h): with OPS_ACT_GGML
 * on a Q8_0 or F16 weight, x is rounded as llama.cpp rounds it. */
void ops_matmul(const ops_weight *W, const float *x, float *y, int64_t n_tokens);
/* The exact product (x not rounded, whatever `act`) by the plain triple
 * loop, accumulated in double; reads raw when there is no f32. */
void ops_matmul_ref(const ops_weight *W, const float *x, float *y, int64_t n_tokens);

/* out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i] for one row of n; the sum of
 * squares in double, as ggml's rms_norm. out may equal x. */
void ops_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);

/* RoPE on one head vector of head_dim values at position pos, rotating the
 * first n_rot dimensions: theta_i = pos * base^(-2i/n_rot).
 * neox = false: adjacent pairs (x[2i], x[2i+1])       (llama, ggml ROPE_TYPE_NORM)
 * neox = true:  halves (x[i], x[i + n_rot/2])          (qwen3, ggml ROPE_TYPE_NEOX)
 * inv_freq (n_rot/2 values, from ops_rope_freqs) saves the pow per value. */
void ops_rope_freqs(float *inv_freq, int64_t n_rot, float base);
void ops_rope(float *x, int64_t n_rot, int32_t pos, const float *inv_freq, bool neox);
void ops_rope_ref(float *x, int64_t n_rot, int32_t pos, float base, bool neox);
/* ops_rope in two steps, for many heads at one position: cs (n_rot values:
 * n_rot/2 cosines, then n_rot/2 sines) from ops_rope_table once, then
 * ops_rope_cs per head; bit for bit ops_rope (the same cosf/sinf values
 * and products), without a sincos per head. */
void ops_rope_table(float *cs, int64_t n_rot, int32_t pos, const float *inv_freq);
void ops_rope_cs(float *x, int64_t n_rot, const float *cs, bool neox);

/* In place over n values; -INFINITY entries become 0 (all of them: every
 * value 0). */
void ops_softmax(float *x, int64_t n);

/* g[i] = silu(g[i]) * u[i] (the SwiGLU of the FFN). */
void ops_swiglu(float *g, const float *u, int64_t n);
/* g[i] = gelu(g[i]) * u[i], GELU in its tanh form (gemma3's FFN):
 * 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))). f16_table: as
 * llama.cpp's CPU backend computes it (GGML_GELU_FP16): x <= -10 gives 0,
 * x >= 10 gives x, otherwise x rounded to F16, GELU of that, rounded to
 * F16 again (the lookup table ggml fills, computed instead of stored); an
 * exact GELU differs from it by about 1e-2 relative near 0. */
void ops_geglu(float *g, const float *u, int64_t n, bool f16_table);

/* Threads of the matrix products (matmul's pool) and of BLAS (attention). */
void ops_set_threads(int n_threads);

#endif /* KK_OPS_H */
