/* Tests of engine/kld: KL divergence of next-token distributions against
 * hand-computed values, its invariances, and the summary's percentile and
 * top-1 agreement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "kld.h"

static void kl_should_match_a_hand_computed_pair(void **state)
{
    (void)state;
    /* p = (1/2, 1/2), q = (3/4, 1/4): KL = 1/2 ln(2/3) + 1/2 ln 2 */
    const float p[2] = {0.0f, 0.0f}, q[2] = {(float)log(3.0), 0.0f};
    const double want = 0.5 * log(2.0 / 3.0) + 0.5 * log(2.0);
    assert_true(fabs(kld_row(p, q, 2) - want) < 1e-7);
    /* and the other way round differs: KL is not symmetric */
    const double back = 0.75 * log(0.75 / 0.5) + 0.25 * log(0.25 / 0.5);
    assert_true(fabs(kld_row(q, p, 2) - back) < 1e-7);
    /* logits shifted by a constant are the same distribution */
    const float q2[2] = {(float)log(3.0) + 7.0f, 7.0f};
    assert_true(fabs(kld_row(p, q2, 2) - want) < 1e-6);
    assert_true(kld_row(p, p, 2) == 0.0);
}

/* 100 rows: row t's q puts its mass elsewhere with strength t, so the KLs
 * ascend; the nearest-rank 99th percentile is the 99th smallest, the max
 * the last; top-1 agrees on the rows where the perturbation is too small
 * to move the argmax. */
static void the_summary_should_rank_and_count(void **state)
{
    (void)state;
    enum { N = 100, V = 4 };
    float *p = calloc(N * V, sizeof(float)), *q = calloc(N * V, sizeof(float));
    double kl[N];
    int agree = 0;
    for (int t = 0; t < N; t++) {
        p[t * V] = 2.0f;
        q[t * V] = 2.0f;
        q[t * V + 1] = 0.05f * (float)t; /* overtakes token 0 past t = 40 */
        kl[t] = kld_row(p + t * V, q + t * V, V);
        agree += !(q[t * V + 1] > q[t * V]);
    }
    for (int t = 1; t < N; t++)
        assert_true(kl[t] >= kl[t - 1]);
    kld_summary s;
    assert_int_equal(kld_rows(p, q, N, V, &s, NULL), KK_OK);
    double mean = 0;
    for (int t = 0; t < N; t++)
        mean += kl[t] / N;
    assert_int_equal(s.n, N);
    assert_true(fabs(s.mean - mean) < 1e-12);
    assert_true(s.p99 == kl[98]);
    assert_true(s.max == kl[99]);
    assert_true(s.top1_agree == agree / 100.0);
    assert_int_equal(agree, 41);
    kk_err e;
    assert_int_equal(kld_rows(p, q, 0, V, &s, &e), KK_E_RANGE);
    free(p);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kl_should_match_a_hand_computed_pair),
        cmocka_unit_test(the_summary_should_rank_and_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
