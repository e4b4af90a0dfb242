/* ftheta: reduced-rank ridge regression in closed form (see ftheta.h). */
#include "ftheta.h"

/* GSL's BLAS wrappers, not OpenBLAS's cblas.h (the two declare the same
 * enums): gsl_blas_* call cblas_*, which the link resolves to OpenBLAS. */
#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows converted to double per block: bounds the scratch at 1024 x
 * (din + dout) doubles whatever n is. */
#define FT_BLOCK 1024

void ftheta_free(ftheta *f)
{
    if (!f)
        return;
    free(f->mu_x);
    free(f->mu_y);
    free(f->enc);
    free(f->dec);
    free(f);
}

/* Column means of a (n, d) float matrix, in double. */
static void means(const float *a, int64_t n, int64_t d, double *mu)
{
    memset(mu, 0, (size_t)d * sizeof *mu);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            mu[j] += a[i * d + j];
    for (int64_t j = 0; j < d; j++)
        mu[j] /= (double)n;
}

/* G += Xc' Xc and C += Xc' Yc over every row, FT_BLOCK rows at a time. */
static void grams(const float *x, const float *y, int64_t n, int64_t din, int64_t dout,
                  const double *mx, const double *my, double *xb, double *yb, double *G,
                  double *C)
{
    for (int64_t r0 = 0; r0 < n; r0 += FT_BLOCK) {
        const int64_t m = n - r0 < FT_BLOCK ? n - r0 : FT_BLOCK;
        for (int64_t i = 0; i < m; i++) {
            for (int64_t j = 0; j < din; j++)
                xb[i * din + j] = (double)x[(r0 + i) * din + j] - mx[j];
            for (int64_t j = 0; j < dout; j++)
                yb[i * dout + j] = (double)y[(r0 + i) * dout + j] - my[j];
        }
        gsl_matrix_view X = gsl_matrix_view_array(xb, (size_t)m, (size_t)din);
        gsl_matrix_view Y = gsl_matrix_view_array(yb, (size_t)m, (size_t)dout);
        gsl_matrix_view Gv = gsl_matrix_view_array(G, (size_t)din, (size_t)din);
        gsl_matrix_view Cv = gsl_matrix_view_array(C, (size_t)din, (size_t)dout);
        gsl_blas_dsyrk(CblasUpper, CblasTrans, 1.0, &X.matrix, 1.0, &Gv.matrix);
        gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &X.matrix, &Y.matrix, 1.0, &Cv.matrix);
    }
    /* dsyrk filled the upper triangle: mirror it */
    for (int64_t i = 0; i < din; i++)
        for (int64_t j = 0; j < i; j++)
            G[i * din + j] = G[j * din + i];
}

kk_code ftheta_fit(const float *x, const float *y, int64_t n, int64_t din, int64_t dout,
                   int32_t rank, double lambda, ftheta **out, kk_err *err)
{
    *out = NULL;
    if (din < 1 || dout < 1 || din > FTHETA_MAX_DIM || dout > FTHETA_MAX_DIM)
        return kk_err_set(err, KK_E_RANGE, "ftheta: input width %lld, output width %lld (allowed: "
                          "1..%d each)", (long long)din, (long long)dout, FTHETA_MAX_DIM);
    const int64_t rmax = din < dout ? din : dout;
    if (rank < 1 || rank > rmax)
        return kk_err_set(err, KK_E_RANGE, "ftheta: rank %d out of range (allowed: 1..%lld, the "
                          "smaller width)", (int)rank, (long long)rmax);
    if (!(lambda >= 0) || !isfinite(lambda))
        return kk_err_set(err, KK_E_RANGE, "ftheta: lambda %g out of range (allowed: >= 0)",
                          lambda);
    if (n < 2)
        return kk_err_set(err, KK_E_RANGE, "ftheta: %lld pairs to fit (allowed: >= 2)",
                          (long long)n);
    kk_code rc = KK_OK;
    ftheta *f = calloc(1, sizeof *f);
    double *mx = malloc((size_t)din * sizeof *mx), *my = malloc((size_t)dout * sizeof *my);
    double *xb = malloc((size_t)(FT_BLOCK * din) * sizeof *xb);
    double *yb = malloc((size_t)(FT_BLOCK * dout) * sizeof *yb);
    double *G = calloc((size_t)(din * din), sizeof *G);
    double *C = calloc((size_t)(din * dout), sizeof *C); /* then W */
    double *T = malloc((size_t)(din * dout) * sizeof *T); /* G W */
    double *M = malloc((size_t)(dout * dout) * sizeof *M);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc((size_t)dout);
    gsl_vector *eval = gsl_vector_alloc((size_t)dout);
    gsl_matrix *evec = gsl_matrix_alloc((size_t)dout, (size_t)dout);
    if (f) {
        f->mu_x = malloc((size_t)din * sizeof *f->mu_x);
        f->mu_y = malloc((size_t)dout * sizeof *f->mu_y);
        f->enc = malloc((size_t)(din * rank) * sizeof *f->enc);
        f->dec = malloc((size_t)(rank * dout) * sizeof *f->dec);
    }
    if (!f || !mx || !my || !xb || !yb || !G || !C || !T || !M || !ws || !eval || !evec ||
        !f->mu_x || !f->mu_y || !f->enc || !f->dec) {
        rc = kk_err_set(err, KK_E_NOMEM, "ftheta: out of memory for widths %lld and %lld",
                        (long long)din, (long long)dout);
        goto done;
    }
    f->din = din;
    f->dout = dout;
    f->rank = rank;
    f->lambda = lambda;
    means(x, n, din, mx);
    means(y, n, dout, my);
    grams(x, y, n, din, dout, mx, my, xb, yb, G, C);
    /* W = (G + lambda' I)^-1 C by Cholesky: G + lambda' I = L L' */
    double tr = 0;
    for (int64_t i = 0; i < din; i++)
        tr += G[i * din + i];
    const double ridge = lambda * tr / (double)din;
    /* G is needed again for M below: the factor is a copy. GSL's default
     * handler aborts; its status is reported instead. */
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    double *L = malloc((size_t)(din * din) * sizeof *L);
    if (!L) {
        gsl_set_error_handler(old);
        rc = kk_err_set(err, KK_E_NOMEM, "ftheta: out of memory for a %lld x %lld factor",
                        (long long)din, (long long)din);
        goto done;
    }
    memcpy(L, G, (size_t)(din * din) * sizeof *L);
    for (int64_t i = 0; i < din; i++)
        L[i * din + i] += ridge;
    gsl_matrix_view Lv = gsl_matrix_view_array(L, (size_t)din, (size_t)din);
    const int st = gsl_linalg_cholesky_decomp1(&Lv.matrix);
    gsl_set_error_handler(old);
    if (st != GSL_SUCCESS) {
        free(L);
        rc = kk_err_set(err, KK_E_CHECK, "ftheta: the inputs' Gram matrix plus lambda is not "
                        "positive definite (lambda %g; %lld pairs of width %lld): raise lambda "
                        "or give more, more varied calibration positions", lambda, (long long)n,
                        (long long)din);
        goto done;
    }
    /* C <- L^-1 C, then L'^-1: W */
    gsl_matrix_view Cv = gsl_matrix_view_array(C, (size_t)din, (size_t)dout);
    gsl_blas_dtrsm(CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, 1.0, &Lv.matrix,
                   &Cv.matrix);
    gsl_blas_dtrsm(CblasLeft, CblasLower, CblasTrans, CblasNonUnit, 1.0, &Lv.matrix, &Cv.matrix);
    free(L);
    /* M = W' G W, the Gram of the ridge fit Xc W */
    gsl_matrix_view Gv = gsl_matrix_view_array(G, (size_t)din, (size_t)din);
    gsl_matrix_view Tv = gsl_matrix_view_array(T, (size_t)din, (size_t)dout);
    gsl_matrix_view Mw = gsl_matrix_view_array(M, (size_t)dout, (size_t)dout);
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &Gv.matrix, &Cv.matrix, 0.0, &Tv.matrix);
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &Cv.matrix, &Tv.matrix, 0.0, &Mw.matrix);
    /* its top-r eigenvectors (descending; the symmetric QR solver) */
    gsl_eigen_symmv(&Mw.matrix, eval, evec, ws);
    gsl_eigen_symmv_sort(eval, evec, GSL_EIGEN_SORT_VAL_DESC);
    /* E = W V_r (din, r); D = V_r' (r, dout) */
    for (int64_t i = 0; i < din; i++)
        for (int32_t k = 0; k < rank; k++) {
            double s = 0;
            for (int64_t j = 0; j < dout; j++)
                s += C[i * dout + j] * gsl_matrix_get(evec, (size_t)j, (size_t)k);
            f->enc[i * rank + k] = (float)s;
        }
    for (int32_t k = 0; k < rank; k++)
        for (int64_t j = 0; j < dout; j++)
            f->dec[k * dout + j] = (float)gsl_matrix_get(evec, (size_t)j, (size_t)k);
    for (int64_t j = 0; j < din; j++)
        f->mu_x[j] = (float)mx[j];
    for (int64_t j = 0; j < dout; j++)
        f->mu_y[j] = (float)my[j];
done:
    free(mx);
    free(my);
    free(xb);
    free(yb);
    free(G);
    free(C);
    free(T);
    free(M);
    if (ws)
        gsl_eigen_symmv_free(ws);
    if (eval)
        gsl_vector_free(eval);
    if (evec)
        gsl_matrix_free(evec);
    if (rc != KK_OK) {
        ftheta_free(f);
        return rc;
    }
    *out = f;
    return KK_OK;
}

/* Rows per block of ftheta_apply: bounds its scratch. */
#define FT_APPLY_BLOCK 256

void ftheta_apply(const ftheta *f, const float *x, int64_t n, float *y)
{
    const int64_t din = f->din, dout = f->dout, r = f->rank;
    float *xc = malloc((size_t)(FT_APPLY_BLOCK * din) * sizeof *xc);
    float *z = malloc((size_t)(FT_APPLY_BLOCK * r) * sizeof *z);
    gsl_matrix_float_const_view E = gsl_matrix_float_const_view_array(f->enc, (size_t)din,
                                                                      (size_t)r);
    gsl_matrix_float_const_view D = gsl_matrix_float_const_view_array(f->dec, (size_t)r,
                                                                      (size_t)dout);
    for (int64_t r0 = 0; r0 < n; r0 += FT_APPLY_BLOCK) {
        const int64_t m = n - r0 < FT_APPLY_BLOCK ? n - r0 : FT_APPLY_BLOCK;
        for (int64_t i = 0; i < m; i++)
            memcpy(y + (r0 + i) * dout, f->mu_y, (size_t)dout * sizeof(float));
        if (!xc || !z) /* no scratch: the mean is the best guess there is */
            continue;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < din; j++)
                xc[i * din + j] = x[(r0 + i) * din + j] - f->mu_x[j];
        /* z = xc E; y = mu_y + z D */
        gsl_matrix_float_view Xv = gsl_matrix_float_view_array(xc, (size_t)m, (size_t)din);
        gsl_matrix_float_view Zv = gsl_matrix_float_view_array(z, (size_t)m, (size_t)r);
        gsl_matrix_float_view Yv = gsl_matrix_float_view_array(y + r0 * dout, (size_t)m,
                                                                (size_t)dout);
        gsl_blas_sgemm(CblasNoTrans, CblasNoTrans, 1.0f, &Xv.matrix, &E.matrix, 0.0f,
                       &Zv.matrix);
        gsl_blas_sgemm(CblasNoTrans, CblasNoTrans, 1.0f, &Zv.matrix, &D.matrix, 1.0f,
                       &Yv.matrix);
    }
    free(xc);
    free(z);
}

double ftheta_rel_mse(const ftheta *f, const float *x, const float *y, int64_t n)
{
    float *p = malloc((size_t)f->dout * sizeof *p);
    if (!p)
        return NAN;
    double e = 0, ref = 0;
    for (int64_t i = 0; i < n; i++) {
        ftheta_apply(f, x + i * f->din, 1, p);
        for (int64_t j = 0; j < f->dout; j++) {
            const double d = (double)p[j] - y[i * f->dout + j];
            e += d * d;
            ref += (double)y[i * f->dout + j] * y[i * f->dout + j];
        }
    }
    free(p);
    return ref > 0 ? e / ref : 0.0;
}
