/* Tests of the Lloyd-Max arms (engine/codec_lloyd.c): lloyd:bits=B and
 * turbo:bits=B. The computed levels against Max's published table, the
 * per-dimension MSE on Gaussian vectors of 128 within 0.1 dB of the
 * Lloyd-Max values (the target), every code the nearest level
 * (brute force), the escape of scales outside F16's normal range, the bits
 * written, and the spec's errors. */
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
#include "dtype.h"

/* J. Max, "Quantizing for minimum distortion" (1960), table I: the positive
 * output levels and the mean squared error of N(0,1) at 2, 4, 8, 16 levels
 * (4 decimals as printed). */
static const double MAX_LEVELS[4][8] = {
    {0.7980},
    {0.4528, 1.510},
    {0.2451, 0.7560, 1.344, 2.152},
    {0.1284, 0.3881, 0.6568, 0.9424, 1.256, 1.618, 2.069, 2.733},
};
static const double MAX_MSE[4] = {0.3634, 0.1175, 0.03454, 0.009497};

static void the_levels_should_be_maxs_table(void **state)
{
    (void)state;
    for (int b = 1; b <= 4; b++) {
        float lv[16], th[15];
        double mse;
        codec_lloyd_gaussian(b, lv, th, &mse);
        const int L = 1 << b;
        for (int i = 0; i < L / 2; i++) {
            /* symmetric, ascending, and as printed to its last digit */
            assert_true(fabs((double)lv[L / 2 + i] + lv[L / 2 - 1 - i]) < 1e-6);
            if (fabs(lv[L / 2 + i] - MAX_LEVELS[b - 1][i]) > 1.5e-3)
                fail_msg("bits %d level %d: %.5f, Max %.4f", b, i, lv[L / 2 + i],
                         MAX_LEVELS[b - 1][i]);
        }
        for (int i = 0; i + 1 < L; i++)
            assert_true(th[i] > lv[i] && th[i] < lv[i + 1]);
        if (fabs(mse - MAX_MSE[b - 1]) > 1e-4 * (b == 4 ? 0.2 : 1.0))
            fail_msg("bits %d: MSE %.6f, Max %.6f", b, mse, MAX_MSE[b - 1]);
    }
}

/* The target: per-dimension MSE on N(0,1) data in vectors of 128
 * within 0.1 dB of the Lloyd-Max values, both arms (measured: 0.03-0.09
 * dB below them, the per-vector RMS adapting to each draw). 2^18 values:
 * the draw's spread is ~0.01 dB. */
static void gaussian_mse_should_be_within_0_1_db_of_lloyd_max(void **state)
{
    (void)state;
    const size_t n = 1u << 18;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    codec_fill_gaussian(x, n, 21);
    const char *arms[] = {"lloyd", "turbo"};
    for (int a = 0; a < 2; a++)
        for (int b = 1; b <= 4; b++) {
            char spec[64];
            snprintf(spec, sizeof spec, "%s:bits=%d", arms[a], b);
            codec *c = tc_make(spec);
            uint8_t *buf = malloc(codec_encoded_bytes(c, n));
            codec_encode(c, x, n, buf);
            codec_decode(c, buf, n, y);
            double e = 0;
            for (size_t i = 0; i < n; i++)
                e += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
            const double mse = e / (double)n;
            const double db = 10.0 * log10(mse / MAX_MSE[b - 1]);
            if (fabs(db) > 0.1)
                fail_msg("%s: MSE %.5f, %.3f dB from %.5f", spec, mse, db, MAX_MSE[b - 1]);
            /* bits written: B per value plus a 16-bit scale per 128 */
            assert_true(codec_bits_per_value(c) == b + 16.0 / 128.0);
            assert_int_equal(codec_get_stats(c)->norm_escapes, 0);
            free(buf);
            codec_free(c);
        }
    free(x);
    free(y);
}

/* Every decoded value is the level nearest to x / scale times the scale
 * the block stores (brute force over all levels), on data with a wide
 * spread of vector norms. */
static void every_code_should_be_the_nearest_level(void **state)
{
    (void)state;
    enum { G = 64, NV = 64 };
    float x[G * NV], y[G * NV];
    codec_fill_gaussian(x, G * NV, 5);
    for (int v = 0; v < NV; v++)
        for (int i = 0; i < G; i++)
            x[v * G + i] *= powf(2.0f, (float)(v % 9) - 4.0f);
    for (int b = 1; b <= 4; b++) {
        char spec[64];
        snprintf(spec, sizeof spec, "lloyd:bits=%d,group=%d", b, G);
        codec *c = tc_make(spec);
        uint8_t buf[NV * (2 + G * 4 / 8)];
        codec_encode(c, x, G * NV, buf);
        codec_decode(c, buf, G * NV, y);
        float lv[16], th[15];
        codec_lloyd_gaussian(b, lv, th, NULL);
        for (int v = 0; v < NV; v++) {
            const float s = dtype_f16_to_f32(codec_rd16(buf + (size_t)v * (2 + G * b / 8)));
            for (int i = 0; i < G; i++) {
                const float u = x[v * G + i] / s;
                int best = 0;
                for (int k = 1; k < (1 << b); k++)
                    if (fabsf(u - lv[k]) < fabsf(u - lv[best]))
                        best = k;
                assert_true(y[v * G + i] == lv[best] * s);
            }
        }
        codec_free(c);
    }
}

/* An RMS above 65504 or below F16's smallest normal takes the escape (BF16
 * in the scale's 15 low bits, the sign bit as the flag): decoded within
 * BF16's relative step of what an in-range vector gets, counted; an all-zero
 * vector decodes to zeros without an escape. */
static void scales_outside_f16_should_escape_and_be_counted(void **state)
{
    (void)state;
    enum { G = 128 };
    float x[4 * G], y[4 * G];
    codec_fill_gaussian(x, 4 * G, 8);
    for (int i = 0; i < G; i++) {
        x[i] *= 1e6f;           /* RMS ~1e6: past F16 */
        x[G + i] *= 1e-7f;      /* RMS ~1e-7: below F16's normals */
        x[3 * G + i] = 0.0f;    /* nothing */
    }
    codec *c = tc_make("lloyd:bits=4");
    uint8_t buf[4 * (2 + G / 2)];
    codec_encode(c, x, 4 * G, buf);
    codec_decode(c, buf, 4 * G, y);
    assert_int_equal(codec_get_stats(c)->norm_escapes, 2);
    assert_true(codec_rd16(buf) & 0x8000u);
    assert_false(codec_rd16(buf + 2 * (2 + G / 2)) & 0x8000u);
    for (int v = 0; v < 3; v++) {
        double e = 0, r = 0;
        for (int i = 0; i < G; i++) {
            e += ((double)x[v * G + i] - y[v * G + i]) * ((double)x[v * G + i] - y[v * G + i]);
            r += (double)x[v * G + i] * x[v * G + i];
        }
        /* the 4-bit quantizer's 0.0095, plus at most BF16's scale error */
        if (!(e / r < 0.02))
            fail_msg("vector %d: rel_mse %g", v, e / r);
    }
    for (int i = 0; i < G; i++)
        assert_true(y[3 * G + i] == 0.0f);
    codec_free(c);
}

static void specs_should_parse_format_and_refuse_by_name(void **state)
{
    (void)state;
    codec_spec s;
    kk_err e;
    char buf[128];
    assert_int_equal(codec_spec_parse("turbo:bits=3,seed=7", &s, &e), KK_OK);
    assert_int_equal(s.rotate, CODEC_ROTATE_HADAMARD);
    assert_int_equal(s.dim, 128);
    codec_spec_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "turbo:bits=3,group=128,dim=128,seed=7");
    codec_spec t;
    assert_int_equal(codec_spec_parse(buf, &t, &e), KK_OK);
    assert_memory_equal(&s, &t, sizeof s);
    assert_int_equal(codec_spec_parse("lloyd", &s, &e), KK_OK);
    codec_spec_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "lloyd:bits=2,group=128");
    static const struct {
        const char *spec, *where, *part;
    } bad[] = {
        {"lloyd:bits=5", "bits", "allowed: 1, 2, 3, 4"},
        {"lloyd:group=48", "group", "allowed: 32, 64, 128, 256"},
        {"turbo:rotate=none", "rotate", "TurboQuant rotates"},
        {"lloyd:scales=4", "scales", "allowed: bits, group, rotate, dim, seed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kk_err_clear(&e);
        assert_int_not_equal(codec_spec_parse(bad[i].spec, &s, &e), KK_OK);
        assert_string_equal(e.where, bad[i].where);
        if (!strstr(e.msg, bad[i].part))
            fail_msg("%s: %s", bad[i].spec, e.msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_levels_should_be_maxs_table),
        cmocka_unit_test(gaussian_mse_should_be_within_0_1_db_of_lloyd_max),
        cmocka_unit_test(every_code_should_be_the_nearest_level),
        cmocka_unit_test(scales_outside_f16_should_escape_and_be_counted),
        cmocka_unit_test(specs_should_parse_format_and_refuse_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
