/* Tests of common/kk_rand and common/kk_stats: splitmix64 against the
 * published algorithm's outputs, the median against a brute-force sort,
 * the Wilson interval against closed-form values computed independently,
 * the bootstrap pieces, and the clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kk_rand.h"
#include "kk_stats.h"

/* ---- splitmix64 ------------------------------------------------------------- */

/* The first five outputs for seeds 0 and 1234567, from a Python transcription
 * of Vigna's splitmix64.c (not from this code):
 *   s = (s + 0x9e3779b97f4a7c15) % 2**64; z = s
 *   z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) % 2**64
 *   z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) % 2**64; out = z ^ (z >> 31)
 * Seed 1234567's first output, 6457827717110365317, is the value quoted
 * with the published algorithm. Exact: integer arithmetic. */
static void splitmix64_should_reproduce_the_published_sequence(void **state)
{
    (void)state;
    static const uint64_t from0[5] = {0xe220a8397b1dcdafULL, 0x6e789e6aa1b965f4ULL,
                                      0x06c45d188009454fULL, 0xf88bb8a8724c81ecULL,
                                      0x1b39896a51a8749bULL};
    static const uint64_t from1234567[5] = {0x599ed017fb08fc85ULL, 0x2c73f08458540fa5ULL,
                                            0x883ebce5a3f27c77ULL, 0x3fbef740e9177b3fULL,
                                            0xe3b8346708cb5ecdULL};
    uint64_t s = 0, t = 1234567;
    for (int i = 0; i < 5; i++) {
        assert_true(kk_splitmix64(&s) == from0[i]);
        assert_true(kk_splitmix64(&t) == from1234567[i]);
    }
    assert_true(from1234567[0] == 6457827717110365317ULL);
    /* The state is the seed plus k golden-ratio increments. */
    assert_true(s == 5 * 0x9e3779b97f4a7c15ULL);
}

/* ---- median ----------------------------------------------------------------- */

/* The oracle: selection sort of a copy, then the middle or the mean of the
 * two middle values. Exact equality: both take the same one or two
 * values and the same 0.5 * (a + b). */
static double median_brute(const double *v, size_t n)
{
    double s[64];
    memcpy(s, v, n * sizeof *s);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (s[j] < s[i]) {
                const double t = s[i];
                s[i] = s[j];
                s[j] = t;
            }
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static void median_should_take_the_middle_or_the_mean_of_the_two_middle(void **state)
{
    (void)state;
    double odd[] = {3, 1, 2}, even[] = {4, 1, 3, 2}, dup[] = {5, 1, 5, 5, 1, 2};
    assert_true(kk_median(odd, 3) == 2.0);
    assert_true(kk_median(even, 4) == 2.5);
    assert_true(kk_median(dup, 6) == 3.5); /* 1 1 2 5 5 5 */
    double one = 7.0;
    assert_true(kk_median(&one, 1) == 7.0);
    assert_true(kk_median(NULL, 0) == 0.0);
    assert_true(kk_median_copy(NULL, 0, NULL) == 0.0);
}

static void median_should_match_a_brute_force_sort_on_random_samples(void **state)
{
    (void)state;
    uint64_t s = 42;
    for (int trial = 0; trial < 500; trial++) {
        const size_t n = 1 + kk_splitmix64(&s) % 40;
        double v[64], w[64], scratch[64];
        for (size_t i = 0; i < n; i++) /* few distinct values: many duplicates */
            v[i] = (double)(kk_splitmix64(&s) % 9) - 4.0 + (trial % 2 ? 0.25 : 0.0);
        const double want = median_brute(v, n);
        memcpy(w, v, n * sizeof *w);
        assert_true(kk_median_copy(v, n, scratch) == want);
        assert_memory_equal(v, w, n * sizeof *v); /* the copy form leaves v alone */
        assert_true(kk_median(w, n) == want);
        for (size_t i = 1; i < n; i++) /* the in-place form sorts */
            assert_true(w[i - 1] <= w[i]);
    }
}

/* ---- Wilson score interval -------------------------------------------------- */

/* Closed form (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n),
 * clamped to [0, 1], computed with Python's decimal module at 40 digits
 * and z = statistics.NormalDist().inv_cdf(0.975) = 1.9599639845400536.
 * Tolerance 1e-12: z differs from ours in the 16th digit and the double
 * evaluation loses a few ulps; 1e-12 still tells any other z or formula
 * apart (the 4-digit z = 1.96 moves the bounds by about 1e-5). */
#define WILSON_TOL 1e-12

static void wilson_should_match_the_closed_form(void **state)
{
    (void)state;
    static const struct {
        double hits, n, lo, hi;
    } k[] = {
        {0, 1, 0.0, 0.79345068562276255},
        {1, 1, 0.2065493143772375, 1.0},
        {0, 20, 0.0, 0.1611251580528193},
        {20, 20, 0.83887484194718065, 1.0},
        {10, 20, 0.2992980081982124, 0.7007019918017876},
        {29, 40, 0.57165044193789438, 0.83891983752332666},
        {1, 3, 0.061491944720396263, 0.79234039919795218},
        {50, 50, 0.92865240086664136, 1.0},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        double lo, hi;
        kk_wilson95(k[i].hits, k[i].n, &lo, &hi);
        assert_true(fabs(lo - k[i].lo) < WILSON_TOL);
        assert_true(fabs(hi - k[i].hi) < WILSON_TOL);
    }
}

/* hits = 0 and hits = n pin the bound exactly (no 1e-17 left by rounding),
 * so evidence records 0 and 1 as such. */
static void wilson_should_pin_the_bounds_at_no_hits_and_all_hits(void **state)
{
    (void)state;
    for (int n = 1; n <= 200; n++) {
        double lo, hi;
        kk_wilson95(0, n, &lo, &hi);
        assert_true(lo == 0.0);
        assert_true(hi > 0.0 && hi < 1.0);
        kk_wilson95(n, n, &lo, &hi);
        assert_true(hi == 1.0);
        assert_true(lo > 0.0 && lo < 1.0);
    }
}

/* ---- bootstrap -------------------------------------------------------------- */

static void a_resample_should_draw_from_the_sample_with_the_seeded_generator(void **state)
{
    (void)state;
    const double v[5] = {10, 20, 30, 40, 50};
    double a[5], b[5];
    uint64_t s1 = 7, s2 = 7, s3 = 7;
    kk_bootstrap_resample(a, v, 5, &s1);
    kk_bootstrap_resample(b, v, 5, &s2);
    assert_memory_equal(a, b, sizeof a); /* same seed, same draws */
    for (int i = 0; i < 5; i++) {
        /* index = top 32 bits scaled to [0, 5), one draw per value */
        const uint64_t j = ((kk_splitmix64(&s3) >> 32) * 5) >> 32;
        assert_true(a[i] == v[j]);
    }
    assert_true(s1 == s3);
}

static void the_percentile_interval_should_take_the_2_5_and_97_5_order_statistics(void **state)
{
    (void)state;
    double stat[2000];
    for (int i = 0; i < 2000; i++) /* a permutation of 0..1999 */
        stat[i] = (double)((i * 7919) % 2000);
    double lo, hi;
    kk_bootstrap_interval95(stat, 2000, &lo, &hi);
    assert_true(lo == 50.0);   /* floor(0.025 * 2000) */
    assert_true(hi == 1949.0); /* ceil(0.975 * 2000) - 1 */
    double one = 3.0;
    kk_bootstrap_interval95(&one, 1, &lo, &hi);
    assert_true(lo == 3.0 && hi == 3.0);
}

/* ---- clock ------------------------------------------------------------------ */

static void the_clock_should_never_go_back(void **state)
{
    (void)state;
    double prev = kk_now_s();
    assert_true(prev > 0.0);
    for (int i = 0; i < 10000; i++) {
        const double t = kk_now_s();
        assert_true(t >= prev);
        prev = t;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(splitmix64_should_reproduce_the_published_sequence),
        cmocka_unit_test(median_should_take_the_middle_or_the_mean_of_the_two_middle),
        cmocka_unit_test(median_should_match_a_brute_force_sort_on_random_samples),
        cmocka_unit_test(wilson_should_match_the_closed_form),
        cmocka_unit_test(wilson_should_pin_the_bounds_at_no_hits_and_all_hits),
        cmocka_unit_test(a_resample_should_draw_from_the_sample_with_the_seeded_generator),
        cmocka_unit_test(the_percentile_interval_should_take_the_2_5_and_97_5_order_statistics),
        cmocka_unit_test(the_clock_should_never_go_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
