/*
 * ftheta: the restoration map f_theta, a reduced-rank linear map from what
 * the proposer computed at a position (its pre-RoPE K, or V, of every
 * layer, concatenated: din values) to what the verifier would have (its
 * pre-RoPE K, or V, of every layer: dout values), through a shared rank-r
 * code:
 *
 *     y = mu_y + ((x - mu_x) E) D        E (din, r), D (r, dout)
 *
 * E is the shared encoder; D's columns for verifier layer l are that
 * layer's decoder. One map for K and one for V.
 *
 * Fit in closed form, reduced-rank ridge regression (Izenman 1975; Mukherjee
 * and Zhu 2011), in double:
 *   Xc, Yc      the inputs and targets less their means
 *   W           = (Xc' Xc + lambda' I)^-1 Xc' Yc, the ridge solution (din, dout),
 *               lambda' = lambda * trace(Xc' Xc) / din (lambda is relative
 *               to the mean eigenvalue, so it means the same at any scale)
 *   V_r         the top-r eigenvectors of (Xc W)' (Xc W), i.e. the top-r
 *               right singular vectors of the ridge fit (dout, r)
 *   E = W V_r,  D = V_r'
 * With rank >= min(din, dout) this is plain ridge regression. Cholesky is
 * GSL's, the symmetric eigensolver LAPACK's dsyevd (OpenBLAS bundles it),
 * the products OpenBLAS's through GSL's BLAS interface.
 *
 * Ownership: ftheta_fit returns a map the caller frees with ftheta_free;
 * ftheta_apply writes into the caller's buffer.
 */
#ifndef KK_FTHETA_H
#define KK_FTHETA_H

#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"

typedef struct ftheta {
    int64_t din, dout;
    int32_t rank;
    double lambda;      /* relative, as given to the fit */
    float *mu_x;        /* (din) */
    float *mu_y;        /* (dout) */
    float *enc;         /* (din, rank) row-major */
    float *dec;         /* (rank, dout) row-major */
} ftheta;

/* Largest din and dout: the Gram matrices are (din, din) and (dout, dout)
 * doubles. */
#define FTHETA_MAX_DIM 8192

/* Fit on n pairs: x (n, din), y (n, dout), row-major floats. rank in
 * 1..min(din, dout); lambda >= 0 (0 needs Xc' Xc invertible: n > din and
 * inputs that span their space). @return KK_OK, KK_E_RANGE naming the bad
 * argument, KK_E_CHECK when the system is singular (raise lambda),
 * KK_E_NOMEM. */
kk_code ftheta_fit(const float *x, const float *y, int64_t n, int64_t din, int64_t dout,
                   int32_t rank, double lambda, ftheta **out, kk_err *err);

/* The same fit from streamed pairs: an accumulator of the sums (in
 * double; (din, din) + (din, dout) of them), fed in any number of batches,
 * so calibration never holds all its positions. ftheta_fit is
 * init + add + fit. */
typedef struct ftheta_acc ftheta_acc;
kk_code ftheta_acc_init(ftheta_acc **out, int64_t din, int64_t dout, kk_err *err);
void ftheta_acc_add(ftheta_acc *a, const float *x, const float *y, int64_t n);
int64_t ftheta_acc_n(const ftheta_acc *a);
kk_code ftheta_acc_fit(const ftheta_acc *a, int32_t rank, double lambda, ftheta **out,
                       kk_err *err);
void ftheta_acc_free(ftheta_acc *a);

/* y (n, dout) = f(x (n, din)). */
void ftheta_apply(const ftheta *f, const float *x, int64_t n, float *y);

/* Relative squared error of f on (x, y): sum (f(x) - y)^2 / sum y^2 over
 * every value, as the codecs' rel_mse (0 when y is all zero). */
double ftheta_rel_mse(const ftheta *f, const float *x, const float *y, int64_t n);

void ftheta_free(ftheta *f);

#endif /* KK_FTHETA_H */
