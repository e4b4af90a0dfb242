/* kld: per-position KL divergence of next-token distributions (kld.h). */
#include "kld.h"

#include "kk_stats.h"

#include <math.h>
#include <stdlib.h>

/* log-sum-exp of a row in double, shifted by its max */
static double lse(const float *x, int64_t n, double *mx_out)
{
    double mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += exp((double)x[i] - mx);
    *mx_out = mx;
    return mx + log(s);
}

double kld_row(const float *p, const float *q, int64_t n)
{
    double mp, mq;
    const double lp = lse(p, n, &mp), lq = lse(q, n, &mq);
    double kl = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double a = (double)p[i] - lp; /* log p_i */
        const double b = (double)q[i] - lq; /* log q_i */
        kl += exp(a) * (a - b);
    }
    /* rounding can leave -1e-17 where the rows are equal */
    return kl > 0.0 ? kl : 0.0;
}

static int64_t argmax(const float *x, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

kk_code kld_rows(const float *p, const float *q, int64_t n, int64_t v, kld_summary *out,
                 kk_err *err)
{
    if (n < 1 || v < 1)
        return kk_err_set(err, KK_E_RANGE, "kld: %lld positions of %lld logits (allowed: >= 1 "
                          "each)", (long long)n, (long long)v);
    double *k = malloc((size_t)n * sizeof *k);
    if (!k)
        return kk_err_set(err, KK_E_NOMEM, "kld: out of memory for %lld positions", (long long)n);
    double sum = 0.0;
    int64_t agree = 0;
    for (int64_t t = 0; t < n; t++) {
        k[t] = kld_row(p + t * v, q + t * v, v);
        sum += k[t];
        agree += argmax(p + t * v, v) == argmax(q + t * v, v);
    }
    /* nearest rank: the smallest value with at least 99% of values <= it */
    const double p99 = kk_percentile(k, (size_t)n, 0.99);
    *out = (kld_summary){.n = n, .mean = sum / (double)n, .p99 = p99, .max = k[n - 1],
                         .top1_agree = (double)agree / (double)n};
    free(k);
    return KK_OK;
}
