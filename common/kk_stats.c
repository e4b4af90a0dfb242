/* kk_stats: see kk_stats.h. */
#include "kk_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kk_rand.h"

/* ---- clock ------------------------------------------------------------------ */

double kk_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- median ----------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double kk_median(double *v, size_t n)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double kk_percentile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof *v, cmp_double);
    double r = ceil(q * (double)n);
    r = r < 1.0 ? 1.0 : r > (double)n ? (double)n : r;
    return v[(size_t)r - 1];
}

double kk_median_copy(const double *v, size_t n, double *scratch)
{
    if (n == 0)
        return 0.0;
    memcpy(scratch, v, n * sizeof *scratch);
    return kk_median(scratch, n);
}

/* ---- Wilson score interval -------------------------------------------------- */

void kk_wilson95(double hits, double n, double *lo, double *hi)
{
    const double z = 1.959963984540054; /* the 97.5% normal quantile */
    const double p = hits / n, z2n = z * z / n;
    const double centre = (p + z2n / 2.0) / (1.0 + z2n);
    const double half = z * sqrt(p * (1.0 - p) / n + z2n / (4.0 * n)) / (1.0 + z2n);
    *lo = centre - half < 0.0 ? 0.0 : centre - half;
    *hi = centre + half > 1.0 ? 1.0 : centre + half;
    if (hits <= 0.0)
        *lo = 0.0;
    if (hits >= n)
        *hi = 1.0;
}

/* ---- bootstrap -------------------------------------------------------------- */

void kk_bootstrap_resample(double *dst, const double *v, size_t n, uint64_t *state)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = v[(size_t)(((kk_splitmix64(state) >> 32) * (uint64_t)n) >> 32)];
}

void kk_bootstrap_interval95(double *stat, size_t n, double *lo, double *hi)
{
    qsort(stat, n, sizeof *stat, cmp_double);
    *lo = stat[(size_t)floor(0.025 * (double)n)];
    *hi = stat[(size_t)ceil(0.975 * (double)n) - 1];
}
