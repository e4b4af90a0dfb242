/* ftheta: reduced-rank ridge regression in closed form (see ftheta.h). */
#include "ftheta.h"

/* GSL's BLAS wrappers, not OpenBLAS's cblas.h (the two declare the same
 * enums): gsl_blas_* call cblas_*, which the link resolves to OpenBLAS. */
#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK's symmetric eigensolver (divide and conquer), from OpenBLAS;
 * Fortran calling convention. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork,
             int *info);

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

struct ftheta_acc {
    int64_t din, dout, n;
    double *sx, *sy;  /* (din), (dout) sums */
    double *G;        /* (din, din) sum of x x', upper triangle */
    double *C;        /* (din, dout) sum of x y' */
    double *xb, *yb;  /* (FT_BLOCK, din / dout) scratch */
};

void ftheta_acc_free(ftheta_acc *a)
{
    if (!a)
        return;
    free(a->sx);
    free(a->sy);
    free(a->G);
    free(a->C);
    free(a->xb);
    free(a->yb);
    free(a);
}

kk_code ftheta_acc_init(ftheta_acc **out, int64_t din, int64_t dout, kk_err *err)
{
    *out = NULL;
    if (din < 1 || dout < 1 || din > FTHETA_MAX_DIM || dout > FTHETA_MAX_DIM)
        return kk_err_set(err, KK_E_RANGE, "ftheta: input width %lld, output width %lld (allowed: "
                          "1..%d each)", (long long)din, (long long)dout, FTHETA_MAX_DIM);
    ftheta_acc *a = calloc(1, sizeof *a);
    if (a) {
        a->din = din;
        a->dout = dout;
        a->sx = calloc((size_t)din, sizeof *a->sx);
        a->sy = calloc((size_t)dout, sizeof *a->sy);
        a->G = calloc((size_t)(din * din), sizeof *a->G);
        a->C = calloc((size_t)(din * dout), sizeof *a->C);
        a->xb = malloc((size_t)(FT_BLOCK * din) * sizeof *a->xb);
        a->yb = malloc((size_t)(FT_BLOCK * dout) * sizeof *a->yb);
    }
    if (!a || !a->sx || !a->sy || !a->G || !a->C || !a->xb || !a->yb) {
        ftheta_acc_free(a);
        return kk_err_set(err, KK_E_NOMEM, "ftheta: out of memory for widths %lld and %lld",
                          (long long)din, (long long)dout);
    }
    *out = a;
    return KK_OK;
}

/* The sums, FT_BLOCK rows at a time in double. Centring comes at the fit
 * (G - n mx mx'): the sums stream, so calibration never holds its rows. */
void ftheta_acc_add(ftheta_acc *a, const float *x, const float *y, int64_t n)
{
    const int64_t din = a->din, dout = a->dout;
    for (int64_t r0 = 0; r0 < n; r0 += FT_BLOCK) {
        const int64_t m = n - r0 < FT_BLOCK ? n - r0 : FT_BLOCK;
        for (int64_t i = 0; i < m; i++) {
            for (int64_t j = 0; j < din; j++) {
                a->xb[i * din + j] = x[(r0 + i) * din + j];
                a->sx[j] += a->xb[i * din + j];
            }
            for (int64_t j = 0; j < dout; j++) {
                a->yb[i * dout + j] = y[(r0 + i) * dout + j];
                a->sy[j] += a->yb[i * dout + j];
            }
        }
        gsl_matrix_view X = gsl_matrix_view_array(a->xb, (size_t)m, (size_t)din);
        gsl_matrix_view Y = gsl_matrix_view_array(a->yb, (size_t)m, (size_t)dout);
        gsl_matrix_view Gv = gsl_matrix_view_array(a->G, (size_t)din, (size_t)din);
        gsl_matrix_view Cv = gsl_matrix_view_array(a->C, (size_t)din, (size_t)dout);
        gsl_blas_dsyrk(CblasUpper, CblasTrans, 1.0, &X.matrix, 1.0, &Gv.matrix);
        gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, &X.matrix, &Y.matrix, 1.0, &Cv.matrix);
    }
    a->n += n;
}

int64_t ftheta_acc_n(const ftheta_acc *a) { return a->n; }

kk_code ftheta_fit(const float *x, const float *y, int64_t n, int64_t din, int64_t dout,
                   int32_t rank, double lambda, ftheta **out, kk_err *err)
{
    *out = NULL;
    ftheta_acc *a = NULL;
    KK_TRY(ftheta_acc_init(&a, din, dout, err));
    ftheta_acc_add(a, x, y, n);
    const kk_code rc = ftheta_acc_fit(a, rank, lambda, out, err);
    ftheta_acc_free(a);
    return rc;
fail:
    return err && err->code != KK_OK ? err->code : KK_E_NOMEM;
}

kk_code ftheta_acc_fit(const ftheta_acc *a, int32_t rank, double lambda, ftheta **out,
                       kk_err *err)
{
    *out = NULL;
    const int64_t din = a->din, dout = a->dout, n = a->n;
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
    double *G = malloc((size_t)(din * din) * sizeof *G);
    double *C = malloc((size_t)(din * dout) * sizeof *C); /* then W */
    double *T = malloc((size_t)(din * dout) * sizeof *T); /* G W */
    double *M = malloc((size_t)(dout * dout) * sizeof *M);
    double *evals = malloc((size_t)dout * sizeof *evals);
    if (f) {
        f->mu_x = malloc((size_t)din * sizeof *f->mu_x);
        f->mu_y = malloc((size_t)dout * sizeof *f->mu_y);
        f->enc = malloc((size_t)(din * rank) * sizeof *f->enc);
        f->dec = malloc((size_t)(rank * dout) * sizeof *f->dec);
    }
    if (!f || !mx || !my || !G || !C || !T || !M || !evals || !f->mu_x ||
        !f->mu_y || !f->enc || !f->dec) {
        rc = kk_err_set(err, KK_E_NOMEM, "ftheta: out of memory for widths %lld and %lld",
                        (long long)din, (long long)dout);
        goto done;
    }
    f->din = din;
    f->dout = dout;
    f->rank = rank;
    f->lambda = lambda;
    /* centred Grams: G = sum x x' - n mx mx', C = sum x y' - n mx my' */
    for (int64_t j = 0; j < din; j++)
        mx[j] = a->sx[j] / (double)n;
    for (int64_t j = 0; j < dout; j++)
        my[j] = a->sy[j] / (double)n;
    for (int64_t i = 0; i < din; i++)
        for (int64_t j = i; j < din; j++)
            G[i * din + j] = G[j * din + i] = a->G[i * din + j] - (double)n * mx[i] * mx[j];
    for (int64_t i = 0; i < din; i++)
        for (int64_t j = 0; j < dout; j++)
            C[i * dout + j] = a->C[i * dout + j] - (double)n * mx[i] * my[j];
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
    for (int64_t i = 0; i < dout * dout; i++)
        if (!isfinite(M[i])) {
            rc = kk_err_set(err, KK_E_CHECK, "ftheta: the ridge fit is not finite (lambda %g; "
                            "%lld pairs of width %lld): raise lambda", lambda, (long long)n,
                            (long long)din);
            goto done;
        }
    /* Its eigenvectors by LAPACK's divide and conquer (dsyevd, OpenBLAS's
     * LAPACK): GSL's symmetric QR (gsl_eigen_symmv) did not return on the
     * rank-deficient Grams a proposer narrower than the verifier gives
     * (minutes at width 1024, still running). M is symmetric, so row- and
     * column-major are the same; on return row k of M holds eigenvector k,
     * the eigenvalues ascending. */
    {
        const int nn = (int)dout;
        int info = 0, lwork = -1, liwork = -1, iwq = 0;
        double wq = 0;
        dsyevd_("V", "U", &nn, M, &nn, evals, &wq, &lwork, &iwq, &liwork, &info);
        lwork = (int)wq;
        liwork = iwq;
        double *work = info == 0 ? malloc((size_t)lwork * sizeof *work) : NULL;
        int *iwork = info == 0 ? malloc((size_t)liwork * sizeof *iwork) : NULL;
        if (!work || !iwork) {
            free(work);
            free(iwork);
            rc = kk_err_set(err, KK_E_NOMEM, "ftheta: out of memory for the eigensolver");
            goto done;
        }
        dsyevd_("V", "U", &nn, M, &nn, evals, work, &lwork, iwork, &liwork, &info);
        free(work);
        free(iwork);
        if (info != 0) {
            rc = kk_err_set(err, KK_E_CHECK, "ftheta: the eigensolver failed (dsyevd info %d) on "
                            "the %lld-wide Gram of the fit", info, (long long)dout);
            goto done;
        }
    }
    /* E = W V_r (din, r); D = V_r' (r, dout); V_r: the last r rows of M
     * (the largest eigenvalues), largest first */
    for (int32_t k = 0; k < rank; k++) {
        const double *vk = M + (dout - 1 - k) * dout;
        for (int64_t j = 0; j < dout; j++)
            f->dec[k * dout + j] = (float)vk[j];
        for (int64_t i = 0; i < din; i++) {
            double s = 0;
            for (int64_t j = 0; j < dout; j++)
                s += C[i * dout + j] * vk[j];
            f->enc[i * rank + k] = (float)s;
        }
    }
    for (int64_t j = 0; j < din; j++)
        f->mu_x[j] = (float)mx[j];
    for (int64_t j = 0; j < dout; j++)
        f->mu_y[j] = (float)my[j];
done:
    free(mx);
    free(my);
    free(G);
    free(C);
    free(T);
    free(M);
    free(evals);
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
