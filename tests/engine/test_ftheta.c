/* ftheta (engine/ftheta.h): the reduced-rank ridge fit against a plain
 * reference (normal equations by Gauss-Jordan in long double, the top
 * eigenvectors of the fit's Gram by power iteration with deflation), and
 * the controls the restoration issue asks of it: exact linear data is
 * recovered, a self-fit and an invertible map of the targets restore them
 * to rel_mse <= 1e-4 held out, and a lower rank costs what the dropped
 * singular values say.
 *
 * Tolerances: predictions are compared, not E and D (any basis of the
 * top-r subspace is a solution). The reference is long double and the fit
 * double with float output, so predictions agree to 1e-4 relative to the
 * targets' scale (float storage of E and D: 2^-24 per product over widths
 * <= 24 is about 1e-6; 1e-4 leaves room for the eigengap of random data). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ftheta.h"

static double rng_gauss(uint64_t *s)
{
    double u[2];
    for (int k = 0; k < 2; k++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        u[k] = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

static float *gauss(int64_t n, uint64_t seed)
{
    float *a = malloc((size_t)n * sizeof *a);
    for (int64_t i = 0; i < n; i++)
        a[i] = (float)rng_gauss(&seed);
    return a;
}

/* y (n, dout) = x (n, din) M (din, dout) + b + noise * N(0, 1) */
static float *linear(const float *x, int64_t n, int64_t din, int64_t dout, const float *M,
                     const float *b, double noise, uint64_t seed)
{
    float *y = malloc((size_t)(n * dout) * sizeof *y);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < dout; j++) {
            double s = b[j];
            for (int64_t k = 0; k < din; k++)
                s += (double)x[i * din + k] * M[k * dout + j];
            y[i * dout + j] = (float)(s + noise * rng_gauss(&seed));
        }
    return y;
}

/* ---- the plain reference --------------------------------------------------- */

typedef long double ld;

/* Predictions P (m, dout) of the rank-r ridge fit on (x, y), at xt. */
static void reference(const float *x, const float *y, int64_t n, int64_t din, int64_t dout,
                      int32_t r, double lambda, const float *xt, int64_t m, double *P)
{
    ld *mx = calloc((size_t)din, sizeof *mx), *my = calloc((size_t)dout, sizeof *my);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < din; j++)
            mx[j] += x[i * din + j];
        for (int64_t j = 0; j < dout; j++)
            my[j] += y[i * dout + j];
    }
    for (int64_t j = 0; j < din; j++)
        mx[j] /= n;
    for (int64_t j = 0; j < dout; j++)
        my[j] /= n;
    /* [G + ridge I | C] reduced by Gauss-Jordan to [I | W] */
    const int64_t w = din + dout;
    ld *A = calloc((size_t)(din * w), sizeof *A);
    for (int64_t i = 0; i < n; i++)
        for (int64_t a = 0; a < din; a++) {
            const ld xa = x[i * din + a] - mx[a];
            for (int64_t b = 0; b < din; b++)
                A[a * w + b] += xa * (x[i * din + b] - mx[b]);
            for (int64_t b = 0; b < dout; b++)
                A[a * w + din + b] += xa * (y[i * dout + b] - my[b]);
        }
    ld tr = 0;
    for (int64_t a = 0; a < din; a++)
        tr += A[a * w + a];
    for (int64_t a = 0; a < din; a++)
        A[a * w + a] += (ld)lambda * tr / din;
    for (int64_t c = 0; c < din; c++) {
        int64_t piv = c;
        for (int64_t rr = c + 1; rr < din; rr++)
            if (fabsl(A[rr * w + c]) > fabsl(A[piv * w + c]))
                piv = rr;
        for (int64_t k = 0; k < w; k++) {
            ld t = A[c * w + k];
            A[c * w + k] = A[piv * w + k];
            A[piv * w + k] = t;
        }
        const ld d = A[c * w + c];
        for (int64_t k = 0; k < w; k++)
            A[c * w + k] /= d;
        for (int64_t rr = 0; rr < din; rr++)
            if (rr != c) {
                const ld f = A[rr * w + c];
                for (int64_t k = 0; k < w; k++)
                    A[rr * w + k] -= f * A[c * w + k];
            }
    }
    /* F = Xc W (n, dout), its Gram S = F'F, top-r eigenvectors */
    ld *S = calloc((size_t)(dout * dout), sizeof *S), *row = calloc((size_t)dout, sizeof *row);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t b = 0; b < dout; b++) {
            row[b] = 0;
            for (int64_t a = 0; a < din; a++)
                row[b] += (x[i * din + a] - mx[a]) * A[a * w + din + b];
        }
        for (int64_t a = 0; a < dout; a++)
            for (int64_t b = 0; b < dout; b++)
                S[a * dout + b] += row[a] * row[b];
    }
    ld *V = calloc((size_t)(dout * r), sizeof *V), *v = calloc((size_t)dout, sizeof *v);
    uint64_t s = 99;
    for (int32_t k = 0; k < r; k++) {
        for (int64_t j = 0; j < dout; j++)
            v[j] = rng_gauss(&s);
        for (int it = 0; it < 3000; it++) {
            ld nv = 0;
            for (int64_t a = 0; a < dout; a++) {
                row[a] = 0;
                for (int64_t b = 0; b < dout; b++)
                    row[a] += S[a * dout + b] * v[b];
            }
            for (int32_t q = 0; q < k; q++) { /* deflate: stay orthogonal to found ones */
                ld dot = 0;
                for (int64_t j = 0; j < dout; j++)
                    dot += row[j] * V[j * r + q];
                for (int64_t j = 0; j < dout; j++)
                    row[j] -= dot * V[j * r + q];
            }
            for (int64_t j = 0; j < dout; j++)
                nv += row[j] * row[j];
            nv = sqrtl(nv);
            for (int64_t j = 0; j < dout; j++)
                v[j] = row[j] / nv;
        }
        for (int64_t j = 0; j < dout; j++)
            V[j * r + k] = v[j];
    }
    /* P = my + (xt - mx) W V V' */
    for (int64_t i = 0; i < m; i++) {
        for (int64_t b = 0; b < dout; b++) {
            row[b] = 0;
            for (int64_t a = 0; a < din; a++)
                row[b] += (xt[i * din + a] - mx[a]) * A[a * w + din + b];
        }
        for (int64_t b = 0; b < dout; b++) {
            ld p = my[b];
            for (int32_t k = 0; k < r; k++) {
                ld z = 0;
                for (int64_t j = 0; j < dout; j++)
                    z += row[j] * V[j * r + k];
                p += z * V[b * r + k];
            }
            P[i * dout + b] = (double)p;
        }
    }
    free(mx);
    free(my);
    free(A);
    free(S);
    free(row);
    free(V);
    free(v);
}

static double max_rel(const float *a, const double *b, int64_t n)
{
    double m = 0, scale = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
    for (int64_t i = 0; i < n; i++)
        m = fabs(a[i] - b[i]) > m ? fabs(a[i] - b[i]) : m;
    return m / (scale > 0 ? scale : 1);
}

/* Random targets with structure (a rank-5 map plus noise): every rank and
 * ridge the fit gives what the plain reference gives. */
static void the_fit_should_predict_what_the_plain_reference_predicts(void **state)
{
    (void)state;
    enum { N = 400, DIN = 12, DOUT = 9, M = 30 };
    float *x = gauss(N * DIN, 1), *xt = gauss(M * DIN, 2);
    float *A = gauss(DIN * 5, 3), *B = gauss(5 * DOUT, 4), *b = gauss(DOUT, 5);
    float *Mat = calloc(DIN * DOUT, sizeof *Mat);
    for (int i = 0; i < DIN; i++)
        for (int j = 0; j < DOUT; j++)
            for (int k = 0; k < 5; k++)
                Mat[i * DOUT + j] += A[i * 5 + k] * B[k * DOUT + j];
    float *y = linear(x, N, DIN, DOUT, Mat, b, 0.5, 6);
    static const int32_t ranks[] = {1, 3, 5, 9};
    static const double lambdas[] = {0.0, 0.01, 1.0};
    float got[M * DOUT];
    double want[M * DOUT];
    for (size_t ri = 0; ri < 4; ri++)
        for (size_t li = 0; li < 3; li++) {
            ftheta *f = NULL;
            kk_err e;
            assert_int_equal(ftheta_fit(x, y, N, DIN, DOUT, ranks[ri], lambdas[li], &f, &e), KK_OK);
            ftheta_apply(f, xt, M, got);
            reference(x, y, N, DIN, DOUT, ranks[ri], lambdas[li], xt, M, want);
            const double d = max_rel(got, want, M * DOUT);
            if (d > 1e-4)
                fail_msg("rank %d lambda %g: max relative difference %g", ranks[ri],
                         lambdas[li], d);
            ftheta_free(f);
        }
    free(x);
    free(xt);
    free(A);
    free(B);
    free(b);
    free(Mat);
    free(y);
}

/* The self-fit controls: the verifier as its own proposer (y = x), and a
 * proposer whose values are a fixed random invertible map of the
 * verifier's (x = y Q + c): at full rank and a small ridge the held-out
 * error is at most 1e-4, and a map that only copies would fail the second. */
static void self_fits_should_restore_held_out_values(void **state)
{
    (void)state;
    enum { N = 2000, D = 24, M = 200 };
    float *y = gauss(N * D, 11), *yt = gauss(M * D, 12);
    float *Q = gauss(D * D, 13), *c = gauss(D, 14);
    float *x = linear(y, N, D, D, Q, c, 0.0, 0), *xt = linear(yt, M, D, D, Q, c, 0.0, 0);
    ftheta *f = NULL;
    assert_int_equal(ftheta_fit(y, y, N, D, D, D, 1e-9, &f, NULL), KK_OK);
    assert_true(ftheta_rel_mse(f, yt, yt, M) <= 1e-4);
    ftheta_free(f);
    assert_int_equal(ftheta_fit(x, y, N, D, D, D, 1e-9, &f, NULL), KK_OK);
    const double held_out = ftheta_rel_mse(f, xt, yt, M);
    if (held_out > 1e-4)
        fail_msg("invertible map: held-out rel_mse %g", held_out);
    ftheta_free(f);
    /* copying x to y is no restoration there: its error is large */
    double e = 0, r = 0;
    for (int64_t i = 0; i < M * D; i++) {
        e += ((double)xt[i] - yt[i]) * ((double)xt[i] - yt[i]);
        r += (double)yt[i] * yt[i];
    }
    assert_true(e / r > 1.0);
    /* a lower rank loses what the dropped directions held */
    assert_int_equal(ftheta_fit(x, y, N, D, D, D / 2, 1e-9, &f, NULL), KK_OK);
    const double half = ftheta_rel_mse(f, xt, yt, M);
    assert_true(half > 0.2 && half < 0.8); /* i.i.d. targets: about half their energy */
    ftheta_free(f);
    free(y);
    free(yt);
    free(Q);
    free(c);
    free(x);
    free(xt);
}

/* Streamed in uneven batches (calibration's way), the fit predicts what
 * the one-shot fit predicts (the sums are added in another order: 1e-6). */
static void a_streamed_fit_should_equal_the_one_shot_fit(void **state)
{
    (void)state;
    enum { N = 3000, DIN = 10, DOUT = 7, M = 40 };
    float *x = gauss(N * DIN, 21), *xt = gauss(M * DIN, 22), *Mat = gauss(DIN * DOUT, 23);
    float *b = gauss(DOUT, 24);
    for (int i = 0; i < N * DIN; i++)
        x[i] += 3.0f; /* means far from 0: the centring at the fit must hold */
    float *y = linear(x, N, DIN, DOUT, Mat, b, 0.3, 25);
    ftheta *one = NULL, *streamed = NULL;
    assert_int_equal(ftheta_fit(x, y, N, DIN, DOUT, 4, 0.01, &one, NULL), KK_OK);
    ftheta_acc *a = NULL;
    assert_int_equal(ftheta_acc_init(&a, DIN, DOUT, NULL), KK_OK);
    for (int64_t at = 0, k = 1; at < N; k = k * 7 % 1500 + 1) {
        const int64_t m = k < N - at ? k : N - at;
        ftheta_acc_add(a, x + at * DIN, y + at * DOUT, m);
        at += m;
    }
    assert_int_equal(ftheta_acc_n(a), N);
    assert_int_equal(ftheta_acc_fit(a, 4, 0.01, &streamed, NULL), KK_OK);
    float p1[M * DOUT], p2[M * DOUT];
    ftheta_apply(one, xt, M, p1);
    ftheta_apply(streamed, xt, M, p2);
    double d = 0, sc = 0;
    for (int i = 0; i < M * DOUT; i++) {
        d = fabs((double)p1[i] - p2[i]) > d ? fabs((double)p1[i] - p2[i]) : d;
        sc = fabs(p1[i]) > sc ? fabs(p1[i]) : sc;
    }
    assert_true(d <= 1e-6 * sc);
    ftheta_acc_free(a);
    ftheta_free(one);
    ftheta_free(streamed);
    free(x);
    free(xt);
    free(Mat);
    free(b);
    free(y);
}

static void bad_arguments_should_be_refused_by_name(void **state)
{
    (void)state;
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ftheta *f = NULL;
    kk_err e;
    assert_int_equal(ftheta_fit(x, y, 4, 2, 2, 3, 0.1, &f, &e), KK_E_RANGE);
    assert_non_null(strstr(e.msg, "rank 3"));
    assert_int_equal(ftheta_fit(x, y, 4, 2, 2, 1, -1, &f, &e), KK_E_RANGE);
    assert_non_null(strstr(e.msg, "lambda"));
    assert_int_equal(ftheta_fit(x, y, 1, 2, 2, 1, 0.1, &f, &e), KK_E_RANGE);
    /* x's two columns are one (1, 3, 5, 7 and 2, 4, 6, 8 differ by 1):
     * without a ridge the centred Gram is singular */
    assert_int_equal(ftheta_fit(x, y, 4, 2, 2, 1, 0.0, &f, &e), KK_E_CHECK);
    assert_non_null(strstr(e.msg, "raise lambda"));
    assert_null(f);
    assert_int_equal(ftheta_fit(x, y, 4, 2, 2, 1, 0.1, &f, &e), KK_OK);
    ftheta_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_fit_should_predict_what_the_plain_reference_predicts),
        cmocka_unit_test(self_fits_should_restore_held_out_values),
        cmocka_unit_test(a_streamed_fit_should_equal_the_one_shot_fit),
        cmocka_unit_test(bad_arguments_should_be_refused_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
