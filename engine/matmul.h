/*
 * matmul: y (n, rows) = x (n, cols) . W^T for a weight kept as stored in
 * the file (ops_weight: F32, F16 or Q8_0 bytes in `raw`, no F32 copy), on
 * a persistent thread pool. ops_matmul calls matmul_run on the process's
 * default context; tests call the kernels directly.
 *
 * What each (weight type, activation mode) computes (docs/performance.md):
 *   F32                 F32 dots (AVX-512 / AVX2+FMA tiles, or BLAS sgemm)
 *   F16, OPS_ACT_F32    F16 -> F32 in registers (F16C), F32 dots
 *   F16, OPS_ACT_GGML   x rounded to F16 first (llama.cpp's vec_dot_type),
 *                       then as above: products of two halves are exact
 *                       in F32, sums in F32
 *   Q8_0, OPS_ACT_GGML  x quantized to Q8_0 (bit-exact with
 *                       dtype_quantize_row_q8_0_ref), integer dots per
 *                       32-block (AVX512-VNNI, or AVX2 maddubs), each
 *                       scaled by d_w * d_x and summed in F32
 *   Q8_0, OPS_ACT_F32   rows dequantized to F32 in per-thread tiles, F32
 *   BF16                the F32 copy the model made at load (`f32`)
 * Every path has a plain twin (matmul_run_ref) that computes the same
 * rounding of x and sums in double; tests/engine/test_matmul.c bounds each
 * fast path against it.
 *
 * SIMD is chosen at run time (__builtin_cpu_supports): AVX-512
 * (F+BW+VL, +VNNI for Q8_0), else AVX2+FMA+F16C, else the portable loops.
 * matmul_set_isa caps the level (tests run every level the CPU has).
 *
 * Threads: rows are split into tasks handed out by the pool. Scratch
 * (quantized or rounded x, dequantized tiles) is per OS thread, grown on
 * first use and kept: after the first product of each shape, no call
 * allocates. If growing fails, the product runs on the plain path.
 *
 * Ownership: a matmul_ctx owns its pool; matmul_ctx_free (accepts NULL)
 * joins it. The default context lives until process exit.
 */
#ifndef KK_MATMUL_H
#define KK_MATMUL_H

#include <stdint.h>

#include "kk_err.h"
#include "ops.h"
#include "threadpool.h"

typedef enum matmul_isa {
    MATMUL_ISA_SCALAR = 0,   /* portable C */
    MATMUL_ISA_AVX2 = 1,     /* AVX2 + FMA + F16C */
    MATMUL_ISA_AVX512 = 2,   /* AVX-512 F/BW/VL (+VNNI for Q8_0 dots) */
} matmul_isa;

typedef struct matmul_ctx matmul_ctx;

/* n_threads in 1..TP_MAX_THREADS. */
kk_code matmul_ctx_init(matmul_ctx **out, int n_threads, kk_err *err);
void matmul_ctx_free(matmul_ctx *c);
int matmul_ctx_threads(const matmul_ctx *c);

/* y = x . W^T on c's pool (c NULL: the default context). x and y must not
 * overlap; W->cols a multiple of 32 for Q8_0 (model_load checks). */
void matmul_run(matmul_ctx *c, const ops_weight *W, const float *x, float *y, int64_t n);
/* matmul_run; with invariant nonzero, batch-invariant: every token's
 * outputs are bit for bit those the same call gives it alone (n = 1), at
 * any thread count (speculative decoding's verification, docs/
 * performance.md): no BLAS, no k blocks, no widened F16 rows, each
 * (token, row) reduced as the GEMV reduces it (the F16 row kernel that
 * kernels.h's f16_gemv names). Slower on long batches. */
void matmul_run_mode(matmul_ctx *c, const ops_weight *W, const float *x, float *y, int64_t n,
                     int invariant);

/* The plain twin: the same rounding of x as the fast path for W->act,
 * exact products summed in double, one thread. Reads `raw` (or `f32` for
 * BF16). */
void matmul_run_ref(const ops_weight *W, const float *x, float *y, int64_t n);

/* The default context used by ops_matmul: created on first use with the
 * threads last set here (default 1). Setting a new count replaces the pool
 * (not while another thread is inside a product). */
matmul_ctx *matmul_default(void);
void matmul_set_threads(int n_threads);

/* The best level this CPU has, and a cap on what the kernels use for the
 * whole process (default: no cap, i.e. the best). matmul_set_isa may be
 * called from any thread at any time, before or after the one-time CPU
 * detection (the cap is an atomic, read at each product); a cap above the
 * best level runs the best. The engine reads no environment: programs
 * turn their own setting (the CLI's KAKEYA_MATMUL_ISA) into this call. */
matmul_isa matmul_isa_best(void);
void matmul_set_isa(matmul_isa cap);
matmul_isa matmul_isa_current(void);
const char *matmul_isa_name(matmul_isa isa);
/* "scalar", "avx2", "avx512" -> the level (matmul_isa_name's inverse).
 * @return KK_OK, or KK_E_RANGE naming the value found and the allowed
 * names, where = "isa". */
kk_code matmul_isa_parse(const char *s, matmul_isa *out, kk_err *err);
/* The allowed names, for messages: "scalar, avx2, avx512". */
#define MATMUL_ISA_NAMES "scalar, avx2, avx512"

/* ---- building blocks for other kernels (attention.c) ----------------------- */

/* fn(ctx, task, thread) for every task in [0, n_tasks) on c's pool (NULL:
 * the default context); thread < matmul_ctx_threads. Returns when all ran. */
void matmul_parallel(matmul_ctx *c, tp_fn fn, void *ctx, int64_t n_tasks);
/* y (n, nr; stride ldy) = x (n, k; ldx) . w (nr, k; ldw)^T in F32 on the
 * calling thread at the current level, rows read in place (no packing);
 * made for short rows (k a head dim: 16 rows' sums reduced together). */
void matmul_f32_nt(const float *w, int64_t ldw, const float *x, int64_t ldx, float *y,
                   int64_t ldy, int64_t n, int64_t nr, int64_t k);
/* y (n, k; ldy) = p (n, m; ldp) . v (m, k; ldv) in F32 on the calling
 * thread: each row of v is read once per 4 rows of p. */
void matmul_f32_nn(const float *p, int64_t ldp, const float *v, int64_t ldv, float *y,
                   int64_t ldy, int64_t n, int64_t m, int64_t k);
/* The same two over F16 rows (an F16 K/V cache): w and v as stored. The
 * AVX2 level has dots16 (the F16 dot tiles) but P.V in plain C. */
void matmul_f16_nt(const uint16_t *w, int64_t ldw, const float *x, int64_t ldx, float *y,
                   int64_t ldy, int64_t n, int64_t nr, int64_t k);
void matmul_f16_nn(const float *p, int64_t ldp, const uint16_t *v, int64_t ldv, float *y,
                   int64_t ldy, int64_t n, int64_t m, int64_t k);
/* At least n_floats of 64-byte aligned scratch owned by the calling OS
 * thread (kept, and reused, until it exits), apart from the products' own;
 * NULL when memory runs out. For callers of matmul_parallel. */
float *matmul_thread_scratch(size_t n_floats);

/* ---- activation rounding, exposed for tests -------------------------------- */

/* x (n values, n % 32 == 0) -> qs (n int8) and d (n/32 floats: the F16
 * scale, widened): bit-exact with dtype_quantize_row_q8_0_ref for finite x. */
void matmul_quantize_q8(const float *x, int8_t *qs, float *d, int64_t n);
void matmul_quantize_q8_ref(const float *x, int8_t *qs, float *d, int64_t n);
/* y[i] = f16(x[i]) widened back (round to nearest even). y may equal x. */
void matmul_round_f16(const float *x, float *y, int64_t n);

#endif /* KK_MATMUL_H */
