/* compare: the verdict rule (one case per outcome), the Pareto front against
 * the all-pairs reference, the significance tests against values computed
 * independently, Holm's step-down, reading evidence (every refusal located)
 * and the choice of baseline. Fixtures: tests/harness/data/compare/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "compare_diff.h"
#include "compare_rule.h"
#include "kk_file.h"
#include "kk_rand.h"
#include "kk_stats.h"
#include "test_util.h"

static char g_data[1024]; /* tests/harness/data/compare, from the repo root */

static int setup(void **state)
{
    (void)state;
    char root[900];
    kk_err e;
    if (kk_repo_root(root, sizeof root, &e) != KK_OK)
        return -1;
    snprintf(g_data, sizeof g_data, "%s/tests/harness/data/compare", root);
    return 0;
}

static const char *data(const char *name)
{
    static char buf[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_data, name);
    return buf[k];
}

static compare_point pt(double bits, double dist, double recall, double lo, double hi)
{
    compare_point p = {bits, dist, recall, lo, hi, 1, 1, 1};
    return p;
}

/* ---- the verdict rule ----------------------------------------------------------- */

static void verdict_adopts_lower_distortion_at_equal_rate_with_overlapping_recall(void **s)
{
    (void)s;
    compare_point base = pt(4.5, 0.008, 0.60, 0.45, 0.74);
    compare_point arm = pt(4.5, 0.0037, 0.55, 0.40, 0.70); /* lower point, overlap */
    compare_judgement j = compare_judge(&arm, &base);
    assert_int_equal(j.verdict, COMPARE_ADOPT);
    assert_true(fabs(j.delta_db - 10 * log10(0.0037 / 0.008)) < 1e-12);
    assert_true(fabs(j.delta_bits) < 1e-12);
    assert_int_equal(j.recall, 0);
    /* a lower rate is "no higher" too */
    arm.bits = 2.5;
    assert_int_equal(compare_judge(&arm, &base).verdict, COMPARE_ADOPT);
}

static void verdict_rejects_a_higher_rate_even_with_far_lower_distortion(void **s)
{
    (void)s;
    compare_point base = pt(4.5, 0.008, 0.6, 0.45, 0.74);
    compare_point arm = pt(8.5, 2.9e-5, 1.0, 0.91, 1.0);
    compare_judgement j = compare_judge(&arm, &base);
    assert_int_equal(j.verdict, COMPARE_REJECT);
    assert_true(j.why & COMPARE_WHY_RATE_HIGHER);
    assert_true(fabs(j.delta_bits - 4.0) < 1e-12);
    /* a hair above the rate is still higher: no slack beyond the round trip */
    arm = pt(4.5 + 1e-6, 0.004, 0.6, 0.45, 0.74);
    assert_int_equal(compare_judge(&arm, &base).verdict, COMPARE_REJECT);
}

static void verdict_rejects_a_recall_interval_entirely_below(void **s)
{
    (void)s;
    compare_point base = pt(4.5, 0.008, 0.60, 0.446, 0.737);
    compare_point arm = pt(4.5, 0.004, 0.125, 0.055, 0.261);
    compare_judgement j = compare_judge(&arm, &base);
    assert_int_equal(j.verdict, COMPARE_REJECT);
    assert_int_equal(j.recall, -1);
    assert_true(j.why & COMPARE_WHY_RECALL_LOST);
    /* touching intervals overlap: not a loss */
    arm.hi = base.lo;
    assert_int_equal(compare_judge(&arm, &base).verdict, COMPARE_ADOPT);
}

static void verdict_rejects_higher_distortion_at_a_lower_rate(void **s)
{
    (void)s;
    compare_point base = pt(4.5, 0.008, 0.2, 0.1, 0.35);
    compare_point arm = pt(2.5, 0.2, 0.125, 0.05, 0.26);
    compare_judgement j = compare_judge(&arm, &base);
    assert_int_equal(j.verdict, COMPARE_REJECT);
    assert_true(j.why & COMPARE_WHY_DIST_HIGHER);
}

static void verdict_is_inconclusive_within_the_equal_band_or_without_numbers(void **s)
{
    (void)s;
    compare_point base = pt(4.5, 0.008, 0.2, 0.1, 0.35);
    compare_point arm = pt(4.5, 0.008 * pow(10, 0.005), 0.75, 0.6, 0.86); /* +0.05 dB */
    compare_judgement j = compare_judge(&arm, &base);
    assert_int_equal(j.verdict, COMPARE_INCONCLUSIVE);
    assert_true(j.why & COMPARE_WHY_DIST_EQUAL);
    /* just outside the band either way decides */
    arm.dist = 0.008 * pow(10, -(COMPARE_EQUAL_DB + 0.01) / 10);
    assert_int_equal(compare_judge(&arm, &base).verdict, COMPARE_ADOPT);
    arm.dist = 0.008 * pow(10, (COMPARE_EQUAL_DB + 0.01) / 10);
    assert_int_equal(compare_judge(&arm, &base).verdict, COMPARE_REJECT);
    /* no distortion measured */
    arm = pt(4.5, 0, 0.5, 0.4, 0.6);
    arm.has_dist = 0;
    j = compare_judge(&arm, &base);
    assert_int_equal(j.verdict, COMPARE_INCONCLUSIVE);
    assert_true(j.why & COMPARE_WHY_MISSING);
    /* recall on one side only */
    arm = pt(4.5, 0.004, 0, 0, 0);
    arm.has_recall = 0;
    assert_int_equal(compare_judge(&arm, &base).verdict, COMPARE_INCONCLUSIVE);
    /* recall on neither side: rate and distortion decide */
    base.has_recall = 0;
    assert_int_equal(compare_judge(&arm, &base).verdict, COMPARE_ADOPT);
}

static void verdict_treats_exact_as_below_every_distortion(void **s)
{
    (void)s;
    compare_point base = pt(32, 0, 1, 0.9, 1);
    compare_point arm = pt(16, 4e-8, 1, 0.9, 1);
    compare_judgement j = compare_judge(&arm, &base);
    assert_true(isinf(j.delta_db) && j.delta_db > 0);
    assert_int_equal(j.verdict, COMPARE_REJECT);
    j = compare_judge(&base, &arm);
    assert_true(isinf(j.delta_db) && j.delta_db < 0);
    assert_int_equal(j.verdict, COMPARE_REJECT); /* exact, but at 32 bits */
    j = compare_judge(&base, &base);
    assert_true(j.delta_db == 0);
    assert_int_equal(j.verdict, COMPARE_INCONCLUSIVE);
}

/* ---- the Pareto front --------------------------------------------------------------- */

static void front_matches_the_all_pairs_reference_on_random_sets(void **s)
{
    (void)s;
    uint64_t seed = 7;
    enum { N = 40 };
    compare_point p[N];
    int fast[N], ref[N];
    size_t n_on = 0, n_off = 0;
    for (int trial = 0; trial < 2000; trial++) {
        size_t n = 1 + kk_splitmix64(&seed) % N;
        for (size_t i = 0; i < n; i++) {
            /* few distinct rates and distortions: ties are where sweeps break */
            double bits = 2.0 + (double)(kk_splitmix64(&seed) % 5);
            double dist = (kk_splitmix64(&seed) % 7 == 0)
                              ? 0
                              : pow(10, -(double)(kk_splitmix64(&seed) % 6) / 2);
            double r = (double)(kk_splitmix64(&seed) % 11) / 10,
                   w = 0.05 + (double)(kk_splitmix64(&seed) % 4) / 10;
            p[i] = pt(bits, dist, r, fmax(0, r - w), fmin(1, r + w));
            p[i].has_recall = kk_splitmix64(&seed) % 9 != 0;
            p[i].has_dist = kk_splitmix64(&seed) % 13 != 0;
        }
        assert_int_equal(compare_front(p, n, fast, NULL), KK_OK);
        compare_front_ref(p, n, ref);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(fast[i], ref[i]);
            n_on += fast[i] == 1;
            n_off += fast[i] == 0;
        }
    }
    /* both outcomes happen often: the check had something to compare */
    assert_true(n_on > 1000 && n_off > 1000);
}

static void front_reference_bites_when_a_dominator_is_removed(void **s)
{
    (void)s;
    /* b is dominated by a alone; dropping a puts b on the front */
    compare_point p[3] = {pt(4, 0.001, 0.9, 0.8, 1), pt(4, 0.004, 0.9, 0.8, 1),
                          pt(8, 0.0001, 0.9, 0.8, 1)};
    int f[3];
    assert_int_equal(compare_front(p, 3, f, NULL), KK_OK);
    assert_int_equal(f[0], 1);
    assert_int_equal(f[1], 0);
    assert_int_equal(f[2], 1);
    assert_int_equal(compare_front(p + 1, 2, f, NULL), KK_OK);
    assert_int_equal(f[0], 1);
    /* a better recall alone dominates an otherwise equal arm */
    compare_point q[2] = {pt(32, 0, 1, 0.91, 1), pt(32, 0, 0, 0, 0.09)};
    assert_int_equal(compare_front(q, 2, f, NULL), KK_OK);
    assert_int_equal(f[0], 1);
    assert_int_equal(f[1], 0);
}

/* ---- statistics ------------------------------------------------------------------------ */

static void z_test_matches_the_formula_and_handles_no_variance(void **s)
{
    (void)s;
    double z;
    /* 40/40 vs 30/40: pooled p 0.875, se 0.0739510, z -3.3806170;
     * two-sided p = erfc(3.3806170 / sqrt 2) = 7.232327e-4 (Python math). */
    double p = compare_z2_test(40, 40, 30, 40, &z);
    assert_true(fabs(z + 3.3806170189140663) < 1e-9);
    assert_true(fabs(p - 7.232327164301939e-4) < 1e-9);
    p = compare_z2_test(40, 40, 40, 40, &z);
    assert_true(p == 1 && z == 0);
    p = compare_z2_test(0, 20, 0, 50, &z);
    assert_true(p == 1);
}

static void welch_test_matches_an_independent_integration(void **s)
{
    (void)s;
    /* {1,2,3,4} vs {2,4,6,8}: t 1.7320508, df 4.4117647; the two-sided p
     * 0.1515805 integrates Student's density numerically (Simpson, 2e5
     * steps, Python) - independent of GSL. */
    double a[] = {1, 2, 3, 4}, b[] = {2, 4, 6, 8}, t, df;
    double p = compare_welch_test(a, 4, b, 4, &t, &df);
    assert_true(fabs(t - 1.7320508075688772) < 1e-9);
    assert_true(fabs(df - 4.411764705882353) < 1e-9);
    assert_true(fabs(p - 0.15158050481388308) < 1e-6);
    double c[] = {3, 3, 3}, d[] = {3, 3, 3}, e[] = {4, 4, 4};
    assert_true(compare_welch_test(c, 3, d, 3, &t, &df) == 1);
    assert_true(compare_welch_test(c, 3, e, 3, &t, &df) == 0 && isinf(t) && t > 0);
}

static void holm_rejects_step_down_and_stops_at_the_first_failure(void **s)
{
    (void)s;
    double p[] = {0.01, 0.04, 0.03, 0.5, 0.001};
    int r[5];
    /* sorted: 0.001 <= 0.05/5, 0.01 <= 0.05/4, 0.03 > 0.05/3: stop */
    assert_int_equal(compare_holm(p, 5, 0.05, r, NULL), KK_OK);
    int want[] = {1, 0, 0, 0, 1};
    for (int i = 0; i < 5; i++)
        assert_int_equal(r[i], want[i]);
    assert_int_equal(compare_holm(p, 0, 0.05, r, NULL), KK_OK);
}

/* ---- evidence and baseline -------------------------------------------------------------- */

static void load_reads_known_metrics_and_the_codec(void **s)
{
    (void)s;
    compare_set set;
    kk_err e;
    assert_int_equal(compare_set_load(data("rd.json"), &set, &e), KK_OK);
    assert_int_equal(set.n_arms, 7);
    assert_string_equal(set.preset, "compare-fixture");
    long i = compare_set_find(&set, "e8");
    assert_true(i >= 0);
    const compare_arm *a = &set.arms[i];
    assert_string_equal(a->codec, "e8:bits=4");
    assert_false(a->is_oracle);
    assert_true(set.arms[0].is_oracle);
    assert_true(a->has & COMPARE_HAS_CI);
    assert_true(fabs(a->bits - 4.5) < 1e-12 && fabs(a->mse_g - 0.0037) < 1e-12);
    compare_point p = compare_arm_point(a, COMPARE_DIST_K);
    assert_true(fabs(p.dist - 0.0017) < 1e-12);
    assert_int_equal(compare_set_find(&set, "nope"), -1);
    compare_set_free(&set);
    compare_set_free(&set); /* a freed set is zeroed: freeing again is harmless */
}

static void load_refuses_bad_evidence_with_a_location(void **s)
{
    (void)s;
    struct { const char *file; kk_code code; const char *where; int line; } cases[] = {
        {"bad_recall.json", KK_E_RANGE, "/arms/0/metrics/recall", 46},
        {"dup_arm.json", KK_E_DUPLICATE, "/arms/1/name", 75},
        {"truncated.json", KK_E_FORMAT, NULL, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        compare_set set;
        kk_err e;
        kk_err_clear(&e);
        kk_code rc = compare_set_load(data(cases[k].file), &set, &e);
        assert_int_equal(rc, cases[k].code);
        assert_non_null(strstr(e.file, cases[k].file));
        assert_int_equal(e.line, cases[k].line);
        if (cases[k].where)
            assert_string_equal(e.where, cases[k].where);
        assert_null(set.arms);
    }
    compare_set set;
    kk_err e;
    assert_int_equal(compare_set_load(data("absent.json"), &set, &e), KK_E_IO);
}

static void wilson_interval_fills_in_a_missing_one(void **s)
{
    (void)s;
    double lo, hi;
    /* 29/40: [0.5717, 0.8389] as the harness records (kv-quant-sweep e8-4) */
    kk_wilson95(29, 40, &lo, &hi);
    assert_true(fabs(lo - 0.5716504419378943) < 1e-12);
    assert_true(fabs(hi - 0.8389198375233267) < 1e-12);
    compare_arm a = {0};
    a.has = COMPARE_HAS_RECALL | COMPARE_HAS_N;
    a.recall = 29.0 / 40;
    a.n = 40;
    compare_point p = compare_arm_point(&a, COMPARE_DIST_GAUSSIAN);
    assert_true(fabs(p.lo - lo) < 1e-12 && fabs(p.hi - hi) < 1e-12);
}

static void baseline_comes_from_flag_then_preset_then_first_non_oracle(void **s)
{
    (void)s;
    compare_set set;
    kk_err e;
    char why[512];
    size_t idx = 99;
    assert_int_equal(compare_set_load(data("rd.json"), &set, &e), KK_OK);
    assert_int_equal(compare_baseline(&set, "q8", data("presets"), &idx, why, sizeof why, &e),
                     KK_OK);
    assert_string_equal(set.arms[idx].name, "q8");
    assert_int_equal(compare_baseline(&set, NULL, data("presets"), &idx, why, sizeof why, &e),
                     KK_OK);
    assert_string_equal(set.arms[idx].name, "aff4");
    assert_non_null(strstr(why, "compare-fixture.yaml"));
    /* no preset folder: the first arm that is not the identity oracle */
    assert_int_equal(compare_baseline(&set, NULL, NULL, &idx, why, sizeof why, &e), KK_OK);
    assert_string_equal(set.arms[idx].name, "e8");
    /* a folder without the preset: the same, and the reason says so */
    assert_int_equal(compare_baseline(&set, NULL, g_data, &idx, why, sizeof why, &e), KK_OK);
    assert_string_equal(set.arms[idx].name, "e8");
    assert_non_null(strstr(why, "not used"));
    kk_err_clear(&e);
    assert_int_equal(compare_baseline(&set, "nope", NULL, &idx, why, sizeof why, &e),
                     KK_E_RANGE);
    assert_string_equal(e.where, "--baseline");
    assert_non_null(strstr(e.msg, "aff4"));
    compare_set_free(&set);
}

static void snr_and_gap_follow_the_codec_docs(void **s)
{
    (void)s;
    /* affine-4 in kv-quant-sweep: rel_mse 0.008017639942630474 at 4.5 bits */
    double d = 0.008017639942630474;
    assert_true(fabs(compare_snr_db(d) - 20.9596) < 1e-3);
    assert_true(fabs(compare_gap_db(d, 4.5) - (10 * log10(d) + 4.5 * 20 * log10(2))) < 1e-12);
    assert_true(isnan(compare_snr_db(0)) && isnan(compare_gap_db(0, 32)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verdict_adopts_lower_distortion_at_equal_rate_with_overlapping_recall),
        cmocka_unit_test(verdict_rejects_a_higher_rate_even_with_far_lower_distortion),
        cmocka_unit_test(verdict_rejects_a_recall_interval_entirely_below),
        cmocka_unit_test(verdict_rejects_higher_distortion_at_a_lower_rate),
        cmocka_unit_test(verdict_is_inconclusive_within_the_equal_band_or_without_numbers),
        cmocka_unit_test(verdict_treats_exact_as_below_every_distortion),
        cmocka_unit_test(front_matches_the_all_pairs_reference_on_random_sets),
        cmocka_unit_test(front_reference_bites_when_a_dominator_is_removed),
        cmocka_unit_test(z_test_matches_the_formula_and_handles_no_variance),
        cmocka_unit_test(welch_test_matches_an_independent_integration),
        cmocka_unit_test(holm_rejects_step_down_and_stops_at_the_first_failure),
        cmocka_unit_test(load_reads_known_metrics_and_the_codec),
        cmocka_unit_test(load_refuses_bad_evidence_with_a_location),
        cmocka_unit_test(wilson_interval_fills_in_a_missing_one),
        cmocka_unit_test(baseline_comes_from_flag_then_preset_then_first_non_oracle),
        cmocka_unit_test(snr_and_gap_follow_the_codec_docs),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
