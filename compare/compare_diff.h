/*
 * compare_diff: `kakeya compare --before OLD.json --after NEW.json`
 * (docs/compare.md): per arm and metric the change between two evidence
 * files, a significance test where one applies, and whether any change is a
 * significant regression (the command's exit 1).
 *
 * Tests (two-sided p-values):
 *   recall       two-proportion z-test, pooled (Agresti, Categorical Data
 *                Analysis, 3rd ed., sec. 2.1): hits and n of each side
 *                (hits = recall * n when the evidence has no "hits").
 *   timings      for every rate or time the repeats record on both sides
 *                (timings.repeats[k].X; decode_tok_per_s may be derived as
 *                tokens_decoded / decode_s), with at least 2 repeats each:
 *                Welch's t-test on the logarithms, so the change is the
 *                ratio of geometric means and the spread each side's
 *                relative standard deviation.
 *   other        metrics are deterministic for a preset, model and seed:
 *                their change is reported without a test, never a
 *                significant regression.
 * alpha is for the whole comparison: Holm's step-down (Holm 1979) over
 * every test made, so 15 arms do not raise the false-alarm rate 15-fold.
 *
 * Ownership: a compare_diff owns its rows; rows borrow arm names from the
 * two compare_sets, which must outlive it. compare_diff_free accepts a
 * zeroed diff.
 */
#ifndef KK_COMPARE_DIFF_H
#define KK_COMPARE_DIFF_H

#include <stddef.h>
#include <stdio.h>

#include "compare.h"
#include "kk_err.h"

/* The conventional 5%, for the whole comparison (Holm). */
#define COMPARE_ALPHA_DEFAULT 0.05

/* A slower speed counts as a regression only when it is slower by this
 * much as well as significant: repeats within one run share the machine's
 * state, so separate runs differ by a few percent more than their repeats'
 * spread says (the gate's NOISY rule allows max/min up to 3 within a run). */
#define COMPARE_SPEED_MIN_EFFECT 0.05

typedef enum compare_test {
    COMPARE_TEST_NONE = 0,
    COMPARE_TEST_Z2,        /* two-proportion z-test */
    COMPARE_TEST_WELCH_LOG  /* Welch's t-test on log values */
} compare_test;

typedef enum compare_change {
    COMPARE_SAME = 0,
    COMPARE_BETTER,
    COMPARE_WORSE,
    COMPARE_CHANGED,  /* different, no known better direction */
    COMPARE_ADDED,    /* only after */
    COMPARE_REMOVED   /* only before */
} compare_change;

typedef struct compare_row {
    const char *arm;
    char metric[96];          /* "recall", "rel_mse_k", "timings.decode_tok_per_s" */
    int has_before, has_after;
    double before, after;     /* values; geometric means of timing repeats */
    char before_txt[64], after_txt[64];
    compare_test test;
    double stat, p;           /* z or t, two-sided p; NaN without a test */
    size_t n_before, n_after; /* samples or repeats behind a test */
    double spread_before, spread_after; /* relative sd of repeats; NaN */
    compare_change change;
    int significant;          /* the null is rejected at alpha (Holm) */
    int regression;           /* significant, worse, and (speeds) beyond the min effect */
} compare_row;

typedef struct compare_diff {
    compare_row *rows;
    size_t n_rows;
    double alpha;
    size_t n_tests, n_regressions;
} compare_diff;

/* Compare every arm and metric of `before` and `after` (arms matched by
 * name). @return KK_OK or KK_E_NOMEM. */
kk_code compare_diff_run(const compare_set *before, const compare_set *after, double alpha,
                         compare_diff *out, kk_err *err);
void compare_diff_free(compare_diff *d);

/* The Markdown report: what was compared, the tests and alpha, one row per
 * arm and metric, and the regressions. */
void compare_diff_write(FILE *out, const compare_diff *d, const compare_set *before,
                        const compare_set *after);

/* ---- statistics (compare/compare_stats.c) ------------------------------------ */

/* Two-proportion z-test of h1/n1 against h2/n2 (n1, n2 > 0), pooled
 * variance. *z = (p2 - p1) / se. @return the two-sided p-value (1 when
 * both proportions are 0 or both 1: no variance, no difference). */
double compare_z2_test(double h1, double n1, double h2, double n2, double *z);

/* Welch's t-test of b against a (each n >= 2). *t = (mean b - mean a) /
 * se, *df the Welch-Satterthwaite degrees of freedom. @return the
 * two-sided p-value (1 for equal means with no spread, 0 for different
 * means with no spread). */
double compare_welch_test(const double *a, size_t na, const double *b, size_t nb, double *t,
                          double *df);

/* Holm's step-down at family level alpha: reject[i] = 1 for the p-values
 * whose null is rejected. @return KK_OK or KK_E_NOMEM. */
kk_code compare_holm(const double *p, size_t n, double alpha, int *reject, kk_err *err);

#endif /* KK_COMPARE_DIFF_H */
