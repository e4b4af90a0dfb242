/*
 * kk_stats: the small statistics every layer shares. One definition each,
 * so a metric computed in the engine, a verdict in the gate and a figure in
 * compare agree to the bit.
 *
 *   clock      kk_now_s: a monotonic clock in seconds
 *   median     kk_median (sorts in place), kk_median_copy (leaves v alone)
 *   Wilson     kk_wilson95: the 95% Wilson score interval of a proportion
 *   bootstrap  kk_bootstrap_resample, kk_bootstrap_interval95: the pieces
 *              of a percentile bootstrap; the statistic is the caller's
 *
 * Ownership: nothing here allocates or keeps a pointer; every buffer is the
 * caller's, sized as each function says. No global state: thread-safe as
 * long as callers do not share a buffer or a generator state.
 */
#ifndef KK_STATS_H
#define KK_STATS_H

#include <stddef.h>
#include <stdint.h>

/* ---- clock ------------------------------------------------------------------ */

/* Seconds on CLOCK_MONOTONIC (an arbitrary origin, never steps back): only
 * differences mean anything. Wall-clock stamps for provenance are
 * CLOCK_REALTIME and stay with their callers. */
double kk_now_s(void);

/* ---- median ----------------------------------------------------------------- */

/* Median of v[0..n): the middle value for odd n, the mean of the two middle
 * values, 0.5 * (lo + hi), for even n; 0.0 for n == 0. Sorts v ascending in
 * place (qsort; NaNs compare equal to everything, so avoid them). */
double kk_median(double *v, size_t n);

/* kk_median of v, leaving v unchanged: scratch (n doubles, the caller's; may
 * not overlap v) receives the sorted copy. */
double kk_median_copy(const double *v, size_t n, double *scratch);

/* Nearest-rank percentile: the smallest value of v[0..n) with at least a
 * fraction q (0 < q <= 1) of the values <= it, rank ceil(q n); 0.0 for
 * n == 0. Sorts v ascending in place, as kk_median. */
double kk_percentile(double *v, size_t n, double q);

/* ---- Wilson score interval -------------------------------------------------- */

/* The 95% Wilson score interval (Wilson 1927, "Probable inference, the law
 * of succession, and statistical inference", JASA 22) of hits successes in
 * n trials, z = 1.959963984540054 (the 97.5% normal quantile):
 *   centre = (p + z^2 / 2n) / (1 + z^2 / n),
 *   half   = z sqrt(p (1 - p) / n + z^2 / 4n^2) / (1 + z^2 / n).
 * Bounds clamped to [0, 1], and pinned exactly: lo = 0 when hits <= 0, hi = 1
 * when hits >= n (rounding would otherwise leave 1e-17 or 1 - 1e-16 there).
 * hits is a double so a proportion times n can be passed; n > 0. */
void kk_wilson95(double hits, double n, double *lo, double *hi);

/* ---- bootstrap -------------------------------------------------------------- */

/* One bootstrap resample (Efron 1979): dst[i] = v[j], j uniform in [0, n)
 * drawn from kk_splitmix64(state) as ((x >> 32) * n) >> 32 (Lemire's
 * multiply-shift on the top 32 bits; bias below n / 2^32). n < 2^32; dst
 * holds n doubles and may not overlap v. */
void kk_bootstrap_resample(double *dst, const double *v, size_t n, uint64_t *state);

/* The 95% percentile interval of n bootstrap statistics: sorts stat in place
 * and returns the order statistics at floor(0.025 n) and ceil(0.975 n) - 1
 * (indices 50 and 1949 of 2000). n >= 1. */
void kk_bootstrap_interval95(double *stat, size_t n, double *lo, double *hi);

#endif /* KK_STATS_H */
