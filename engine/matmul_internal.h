/*
 * matmul_internal: the kernel table between matmul.c (dispatch, threads,
 * scratch, plain kernels) and matmul_x86.c (SIMD kernels). Not a public
 * interface.
 *
 * Every kernel computes a block of y = x . W^T: tokens [0, n) and the nr
 * rows that start at w, writing y[t * ldy + r] for r in [0, nr).
 *   f32:  w (nr, k) F32 rows, stride ldw floats; x (n, k), stride ldx
 *   f16:  w (nr, k) F16 rows, stride ldw halves; x as f32
 *   q8:   w (nr, nb) Q8_0 blocks, stride ldw blocks; x quantized: qs
 *         (n, nb*32) int8, stride ldq bytes, and d (n, nb) floats, stride ldd
 */
#ifndef KK_MATMUL_INTERNAL_H
#define KK_MATMUL_INTERNAL_H

#include <stdint.h>

#include "dtype.h"

typedef void (*mm_f32_fn)(const float *w, int64_t ldw, const float *x, int64_t ldx,
                          float *y, int64_t ldy, int64_t n, int64_t nr, int64_t k);
typedef void (*mm_f16_fn)(const uint16_t *w, int64_t ldw, const float *x, int64_t ldx,
                          float *y, int64_t ldy, int64_t n, int64_t nr, int64_t k);
typedef void (*mm_q8_fn)(const dtype_block_q8_0 *w, int64_t ldw, const int8_t *xq,
                         int64_t ldq, const float *xd, int64_t ldd, float *y, int64_t ldy,
                         int64_t n, int64_t nr, int64_t nb);
typedef void (*mm_quant_fn)(const float *x, int8_t *qs, float *d, int64_t n);
typedef void (*mm_round_fn)(const float *x, float *y, int64_t n);
/* y (n, k; ldy) = p (n, m; ldp) . v (m, k; ldv): attention's P.V */
typedef void (*mm_nn_fn)(const float *p, int64_t ldp, const float *v, int64_t ldv, float *y,
                         int64_t ldy, int64_t n, int64_t m, int64_t k);
typedef void (*mm_nn16_fn)(const float *p, int64_t ldp, const uint16_t *v, int64_t ldv,
                           float *y, int64_t ldy, int64_t n, int64_t m, int64_t k);

typedef struct mm_kernels {
    mm_f32_fn f32;
    mm_f16_fn f16;
    mm_q8_fn q8;
    mm_quant_fn quant;
    mm_round_fn round16; /* x -> f16(x) widened, round to nearest even */
    mm_nn_fn nn;
    mm_f32_fn dots; /* as f32, for short rows (attention scores) */
    mm_f16_fn dots16; /* the same over F16 rows (an F16 K/V cache) */
    mm_nn16_fn nn16;  /* nn with F16 rows of v */
    /* batch-invariant f32 and f16 (matmul_run_mode): a token's outputs in
     * a batch equal, bit for bit, those of the same kernel's n = 1 call */
    mm_f32_fn f32_inv;
    mm_f16_fn f16_inv;
} mm_kernels;

/* Plain C kernels (sums in double): the _ref path and the portable level. */
void mm_f32_ref(const float *w, int64_t ldw, const float *x, int64_t ldx, float *y,
                int64_t ldy, int64_t n, int64_t nr, int64_t k);
void mm_f16_ref(const uint16_t *w, int64_t ldw, const float *x, int64_t ldx, float *y,
                int64_t ldy, int64_t n, int64_t nr, int64_t k);
void mm_q8_ref(const dtype_block_q8_0 *w, int64_t ldw, const int8_t *xq, int64_t ldq,
               const float *xd, int64_t ldd, float *y, int64_t ldy, int64_t n, int64_t nr,
               int64_t nb);
void mm_nn_ref(const float *p, int64_t ldp, const float *v, int64_t ldv, float *y, int64_t ldy,
               int64_t n, int64_t m, int64_t k);
void mm_nn16_ref(const float *p, int64_t ldp, const uint16_t *v, int64_t ldv, float *y,
                 int64_t ldy, int64_t n, int64_t m, int64_t k);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MM_HAVE_X86 1
void mm_round16_ref(const float *x, float *y, int64_t n);

/* Filled with the AVX2 (+FMA, F16C) kernels; q8 uses maddubs. */
void mm_kernels_avx2(mm_kernels *k);
/* AVX-512 F/BW/VL kernels; q8 only when vnni (else left as given). */
void mm_kernels_avx512(mm_kernels *k, int vnni);
#endif

#endif /* KK_MATMUL_INTERNAL_H */
