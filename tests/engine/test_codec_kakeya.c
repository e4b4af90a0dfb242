/* Tests of the KakeyaLattice arms (engine/codec_kakeya.c): the source
 * project's operating points in bits per value, the closest point in the
 * cube against exhaustive search, the ranks as a bijection, decode of
 * encode as a fixed point, and E8 over D4 at the same Q as lattice theory
 * predicts (the claim the issue asks to test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "test_codec_util.h"
#include "codec_internal.h"

/* D = 128: D4 Q = 4/10/38/152 -> 3.25/4.5/6.5/8.5 bits/value, E8 ->
 * 3.5/4.75/6.625/8.625, every byte counted (the table). */
static void the_operating_points_should_be_the_source_projects(void **state)
{
    (void)state;
    static const int qs[4] = {4, 10, 38, 152};
    static const double d4[4] = {3.25, 4.5, 6.5, 8.5}, e8[4] = {3.5, 4.75, 6.625, 8.625};
    for (int i = 0; i < 4; i++) {
        char s[64];
        snprintf(s, sizeof s, "kl_d4:q=%d", qs[i]);
        codec *c = tc_make(s);
        assert_true(codec_bits_per_value(c) == d4[i]);
        codec_free(c);
        snprintf(s, sizeof s, "kl_e8:q=%d", qs[i]);
        c = tc_make(s);
        assert_true(codec_bits_per_value(c) == e8[i]);
        codec_free(c);
    }
}

static uint64_t rng(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 11;
}

/* squared distance from y to the point (d, coset) */
static double dist2(int n, const float *y, const int32_t *d, int coset)
{
    double s = 0;
    for (int i = 0; i < n; i++) {
        const double p = d[i] + (coset ? 0.5 : 0.0);
        s += (y[i] - p) * (y[i] - p);
    }
    return s;
}

/* The point chosen is as near y as the nearest lattice point of the cube
 * (exhaustive over D4 in [-2, 2]^4, and over D8 in [-2, 2]^8 and its
 * half-integer coset in [-1.5, 1.5]^8 for E8), for random y in the cube
 * and on its faces. */
static void the_point_should_be_the_nearest_in_the_cube(void **state)
{
    (void)state;
    const int q = 2;
    uint64_t s = 7;
    for (int n = 4; n <= 8; n += 4) {
        for (int it = 0; it < 60; it++) {
            float y[8];
            for (int i = 0; i < n; i++) {
                y[i] = (float)((double)(rng(&s) % 100001) / 100000.0 * 2 * q - q);
                if (it % 4 == 0 && i == 0)
                    y[i] = (float)q; /* on a face */
            }
            int32_t d[8];
            const int coset = codec_kakeya_quantize(n, q, y, d);
            for (int i = 0; i < n; i++)
                assert_true(d[i] >= -q && d[i] <= (coset ? q - 1 : q));
            int sum = 0;
            for (int i = 0; i < n; i++)
                sum += d[i];
            assert_int_equal(sum & 1, 0);
            const double got = dist2(n, y, d, coset);
            double best = INFINITY;
            int32_t t[8];
            const int R = 2 * q + 1;
            long total = 1;
            for (int i = 0; i < n; i++)
                total *= R;
            for (int cs = 0; cs < (n == 8 ? 2 : 1); cs++)
                for (long idx = 0; idx < total; idx++) {
                    long v = idx;
                    int ps = 0, ok = 1;
                    for (int i = n - 1; i >= 0; i--) {
                        t[i] = (int32_t)(v % R) - q;
                        v /= R;
                        ps += t[i];
                        ok &= !cs || t[i] <= q - 1;
                    }
                    if (!ok || (ps & 1))
                        continue;
                    const double dd = dist2(n, y, t, cs);
                    best = dd < best ? dd : best;
                }
            if (got > best + 1e-9)
                fail_msg("n %d: chose %g, nearest %g", n, got, best);
        }
    }
}

/* The error of every vector is bounded by the lattices' covering radius
 * (1 for D4 and E8) in units of the step: ||x - x^||^2 <= (G / n) step^2,
 * step = qmax / Q, and qmax (the largest rotated coordinate) is at most
 * ||x|| (the rotation is orthogonal). Spikes and 6-decade ranges included:
 * the adaptive range has no overload. (Decode of encode is not a fixed
 * point here: the decoded vector's largest coordinate, the next scale, is
 * usually below qmax.) */
static void every_vector_should_be_within_the_covering_bound(void **state)
{
    (void)state;
    const char *specs[] = {"kl_d4:q=4", "kl_e8:q=10", "kl_e8:q=152", "kl_d4:q=38,group=64"};
    uint64_t s = 5;
    for (int k = 0; k < 4; k++) {
        codec *c = tc_make(specs[k]);
        const int g = (int)codec_block_values(c), n = strstr(specs[k], "e8") ? 8 : 4;
        const int q = atoi(strstr(specs[k], "q=") + 2);
        float x[256], y[256];
        uint8_t buf[512];
        for (int it = 0; it < 200; it++) {
            codec_fill_gaussian(x, (size_t)g, (uint64_t)(100 * k + it));
            if (it % 3 == 1)
                x[rng(&s) % (uint64_t)g] = 1000.0f; /* a spike */
            if (it % 3 == 2)
                for (int i = 0; i < g; i++)
                    x[i] *= powf(10.0f, (float)((int)(rng(&s) % 7) - 3));
            codec_encode(c, x, (size_t)g, buf);
            codec_decode(c, buf, (size_t)g, y);
            double e = 0, nn = 0;
            for (int i = 0; i < g; i++) {
                e += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
                nn += (double)x[i] * x[i];
            }
            const double bound = (double)(g / n) * nn / ((double)q * q) * (1 + 1e-3);
            if (e > bound)
                fail_msg("%s: error %g over the bound %g", specs[k], e, bound);
        }
        codec_free(c);
    }
}

/* At the same Q (the same step) E8 beats D4 by what lattice theory says:
 * MSE per dimension is G V^(2/n); D4 has G 0.0766 and det 2, E8 G 0.0717
 * and det 1, so 10 log10(0.0766 sqrt(2) / 0.0717) = 1.79 dB. The source
 * project reports 1.6-1.9 dB and blames a D4 parity clamp; it is the
 * density of the half-integer coset (paid for with 1 bit per 8 values)
 * plus 0.29 dB of shaping. Measured on 2^18 Gaussian values, within 0.15
 * dB at Q = 10, 38, 152 (at Q = 4 the cube's clipping weighs in). */
static void e8_over_d4_at_equal_q_should_be_lattice_theorys_1_79_db(void **state)
{
    (void)state;
    const size_t n = 1u << 18;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    codec_fill_gaussian(x, n, 11);
    static const int qs[3] = {10, 38, 152};
    for (int i = 0; i < 3; i++) {
        double mse[2];
        for (int l = 0; l < 2; l++) {
            char s[64];
            snprintf(s, sizeof s, "kl_%s:q=%d", l ? "e8" : "d4", qs[i]);
            codec *c = tc_make(s);
            uint8_t *b = malloc(codec_encoded_bytes(c, n));
            codec_encode(c, x, n, b);
            codec_decode(c, b, n, y);
            double e = 0;
            for (size_t j = 0; j < n; j++)
                e += ((double)x[j] - y[j]) * ((double)x[j] - y[j]);
            mse[l] = e;
            free(b);
            codec_free(c);
        }
        const double db = 10 * log10(mse[0] / mse[1]);
        if (fabs(db - 1.79) > 0.15)
            fail_msg("Q %d: E8 over D4 %.3f dB", qs[i], db);
    }
    free(x);
    free(y);
}

static void specs_should_refuse_by_name(void **state)
{
    (void)state;
    codec_spec s;
    kk_err e;
    static const struct {
        const char *spec, *where, *part;
    } bad[] = {
        {"kl_d4:q=0", "q", "allowed: 1..152"},
        {"kl_e8:q=153", "q", "allowed: 1..152"},
        {"kl_d4:rotate=none", "rotate", "KakeyaLattice rotates"},
        {"kl_e8:bits=4", "bits", "allowed: q, group, rotate, dim, seed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kk_err_clear(&e);
        assert_int_not_equal(codec_spec_parse(bad[i].spec, &s, &e), KK_OK);
        assert_string_equal(e.where, bad[i].where);
        if (!strstr(e.msg, bad[i].part))
            fail_msg("%s: %s", bad[i].spec, e.msg);
    }
    char buf[128];
    assert_int_equal(codec_spec_parse("kl_e8:q=38,seed=5", &s, &e), KK_OK);
    codec_spec_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "kl_e8:q=38,group=128,dim=128,seed=5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_operating_points_should_be_the_source_projects),
        cmocka_unit_test(the_point_should_be_the_nearest_in_the_cube),
        cmocka_unit_test(every_vector_should_be_within_the_covering_bound),
        cmocka_unit_test(e8_over_d4_at_equal_q_should_be_lattice_theorys_1_79_db),
        cmocka_unit_test(specs_should_refuse_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
