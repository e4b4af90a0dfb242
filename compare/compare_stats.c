/* compare_stats: the significance tests of before/after (see compare_diff.h). */
#include "compare_diff.h"

#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>

double compare_z2_test(double h1, double n1, double h2, double n2, double *z)
{
    double p1 = h1 / n1, p2 = h2 / n2, p = (h1 + h2) / (n1 + n2);
    double se = sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
    if (!(se > 0)) {
        *z = 0;
        return 1;
    }
    *z = (p2 - p1) / se;
    return 2 * gsl_cdf_ugaussian_Q(fabs(*z));
}

static void mean_var(const double *x, size_t n, double *m, double *v)
{
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    *m = s / (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - *m) * (x[i] - *m);
    *v = ss / (double)(n - 1);
}

double compare_welch_test(const double *a, size_t na, const double *b, size_t nb, double *t,
                          double *df)
{
    double ma, va, mb, vb;
    mean_var(a, na, &ma, &va);
    mean_var(b, nb, &mb, &vb);
    double qa = va / (double)na, qb = vb / (double)nb, se = sqrt(qa + qb);
    if (!(se > 0)) {
        *df = (double)(na + nb - 2);
        *t = ma == mb ? 0 : copysign(INFINITY, mb - ma);
        return ma == mb ? 1 : 0;
    }
    *t = (mb - ma) / se;
    *df = (qa + qb) * (qa + qb) /
          (qa * qa / (double)(na - 1) + qb * qb / (double)(nb - 1));
    return 2 * gsl_cdf_tdist_Q(fabs(*t), *df);
}

typedef struct pv {
    double p;
    size_t i;
} pv;

static int cmp_pv(const void *x, const void *y)
{
    const pv *a = x, *b = y;
    if (a->p != b->p)
        return a->p < b->p ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

kk_code compare_holm(const double *p, size_t n, double alpha, int *reject, kk_err *err)
{
    if (n == 0)
        return KK_OK;
    pv *s = malloc(n * sizeof *s);
    if (!s)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for %zu tests", n);
    for (size_t i = 0; i < n; i++) {
        s[i] = (pv){p[i], i};
        reject[i] = 0;
    }
    qsort(s, n, sizeof *s, cmp_pv);
    for (size_t k = 0; k < n; k++) {
        if (!(s[k].p <= alpha / (double)(n - k)))
            break;
        reject[s[k].i] = 1;
    }
    free(s);
    return KK_OK;
}
