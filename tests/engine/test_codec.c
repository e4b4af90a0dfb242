/* Tests of engine/codec: the spec parser (every error names the field and
 * what is allowed), round trips and bits accounting of every arm, ggml
 * byte-exactness, the rotation, and the Gaussian reference figures of the
 * issue (numpy, float32 data, 2^20 values) within 0.1 dB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "dtype.h"

/* The tolerance for the reference figures: 0.1 dB. Our data is a
 * different draw of 2^20 N(0,1) values than numpy's; the spread of SNR
 * between draws is ~0.005 dB at this size, well inside it. */
#define REF_TOL_DB 0.1

static codec *make(const char *spec)
{
    codec_spec s;
    kk_err e;
    assert_int_equal(codec_spec_parse(spec, &s, &e), KK_OK);
    codec *c = NULL;
    assert_int_equal(codec_init(&c, &s, &e), KK_OK);
    return c;
}

/* rel_mse of encode+decode of x (n values), with the bytes written. */
static double roundtrip(codec *c, const float *x, size_t n, size_t *bytes)
{
    const size_t nb = codec_encoded_bytes(c, n);
    assert_true(nb > 0);
    /* one guard byte past the end: encoders must not write it */
    uint8_t *buf = malloc(nb + 1);
    buf[nb] = 0xA5;
    float *y = malloc(n * sizeof(float));
    codec_encode(c, x, n, buf);
    assert_int_equal(buf[nb], 0xA5);
    codec_decode(c, buf, n, y);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        den += (double)x[i] * x[i];
    }
    free(buf);
    free(y);
    if (bytes)
        *bytes = nb;
    return num / den;
}

static void expect_parse_error(const char *spec, kk_code code, const char *where,
                               const char *msg_part)
{
    codec_spec s;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(codec_spec_parse(spec, &s, &e), code);
    assert_string_equal(e.where, where);
    if (!strstr(e.msg, msg_part))
        fail_msg("'%s': message '%s' lacks '%s'", spec, e.msg, msg_part);
}

static void spec_parser_should_fill_defaults_and_canonical_names(void **state)
{
    (void)state;
    codec_spec s;
    kk_err e;
    char buf[128];
    assert_int_equal(codec_spec_parse("affine", &s, &e), KK_OK);
    assert_int_equal(s.bits, 4);
    assert_int_equal(s.group, 64);
    codec_spec_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "affine:bits=4,group=64");
    assert_int_equal(codec_spec_parse("e8:bits=4,rotate=hadamard", &s, &e), KK_OK);
    assert_int_equal(s.kind, CODEC_KIND_E8);
    assert_int_equal(s.rotate, CODEC_ROTATE_HADAMARD);
    assert_int_equal(s.scales, 8);
    assert_int_equal(codec_spec_parse("q4_0", &s, &e), KK_OK);
    codec_spec_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "q4_0");
    assert_int_equal(codec_spec_parse("q8_0:rotate=hadamard,dim=64,seed=18446744073709551615",
                                      &s, &e), KK_OK);
    assert_int_equal(s.dim, 64);
    assert_true(s.seed == UINT64_MAX);
}

static void spec_parser_should_name_the_field_and_the_allowed_range(void **state)
{
    (void)state;
    expect_parse_error("affine:bits=5", KK_E_RANGE, "bits", "allowed: 2, 3, 4, 8");
    expect_parse_error("affine:group=48", KK_E_RANGE, "group", "allowed: 32, 64, 128");
    expect_parse_error("e8:bits=8", KK_E_RANGE, "bits", "allowed: 2, 3, 4");
    expect_parse_error("e8:scales=3", KK_E_RANGE, "scales", "allowed: 1, 2, 4, 8, 16");
    expect_parse_error("e8:group=16", KK_E_RANGE, "group", "allowed: 32, 64, 128, 256");
    expect_parse_error("e8:rotate=dct", KK_E_RANGE, "rotate", "allowed: none, hadamard");
    expect_parse_error("e8:dim=100", KK_E_RANGE, "dim", "power of two");
    expect_parse_error("e8:dim=0", KK_E_RANGE, "dim", "power of two");
    expect_parse_error("affine:bits=-4", KK_E_RANGE, "bits", "allowed");
    expect_parse_error("affine:bits=99999999999999999999", KK_E_RANGE, "bits", "allowed");
    expect_parse_error("q8_0:seed=18446744073709551616", KK_E_RANGE, "seed", "2^64-1");
    expect_parse_error("q4_0:bits=4", KK_E_FORMAT, "bits", "unknown field 'bits'");
    expect_parse_error("zstd", KK_E_FORMAT, "codec", "allowed: identity, f16");
    expect_parse_error("affine:", KK_E_FORMAT, "codec", "empty");
    expect_parse_error("affine:bits", KK_E_FORMAT, "bits", "key=value");
    expect_parse_error("affine:bits=4,bits=4", KK_E_FORMAT, "bits", "twice");
    expect_parse_error("affine:bits=4,,group=64", KK_E_FORMAT, "", "key=value");
}

static void every_arm_should_count_the_bytes_it_writes(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        double bpv;
    } arms[] = {
        {"identity", 32}, {"f16", 16}, {"bf16", 16}, {"q8_0", 8.5}, {"q4_0", 4.5},
        {"affine:bits=8,group=32", 9}, {"affine:bits=4,group=64", 4.5},
        {"affine:bits=3,group=128", 3.25}, {"affine:bits=2,group=64", 2.5},
        {"e8:bits=4,group=128,scales=8", 4.5}, {"e8:bits=3,group=64,scales=4", 3.5},
        {"e8:bits=2,group=256,scales=16", 2.5625}, {"d4:bits=4,group=128,scales=8", 4.5},
        /* 4 blocks x 3 bits = 12 bits of scale indices: padded to 2 bytes */
        {"e8:bits=4,group=32,scales=8", (16 + 4 * 32 + 16) / 32.0},
    };
    float x[1024];
    codec_fill_gaussian(x, 1024, 3);
    for (size_t i = 0; i < sizeof arms / sizeof arms[0]; i++) {
        codec *c = make(arms[i].spec);
        size_t bytes;
        const double rel = roundtrip(c, x, 1024, &bytes);
        assert_true(fabs(8.0 * (double)bytes / 1024 - arms[i].bpv) < 1e-12);
        assert_true(fabs(codec_bits_per_value(c) - arms[i].bpv) < 1e-12);
        assert_true(rel < 0.25);
        assert_int_equal(codec_get_stats(c)->values_encoded, 1024);
        assert_int_equal(codec_get_stats(c)->values_decoded, 1024);
        codec_free(c);
    }
}

static void q8_0_and_q4_0_should_write_ggml_blocks_byte_for_byte(void **state)
{
    (void)state;
    float x[256];
    codec_fill_gaussian(x, 256, 5);
    x[7] = 0.0f;
    dtype_block_q8_0 b8[8];
    dtype_block_q4_0 b4[8];
    dtype_quantize_row_q8_0_ref(x, b8, 256);
    dtype_quantize_row_q4_0_ref(x, b4, 256);
    uint8_t buf[8 * 34];
    float y[256], yd[256];
    for (int ref = 0; ref < 2; ref++) {
        codec *c = make("q8_0");
        codec_set_ref(c, ref);
        codec_encode(c, x, 256, buf);
        assert_memory_equal(buf, b8, sizeof b8);
        codec_decode(c, buf, 256, y);
        dtype_to_f32_row(DTYPE_Q8_0, b8, yd, 256);
        assert_memory_equal(y, yd, sizeof y);
        codec_free(c);
        c = make("q4_0");
        codec_set_ref(c, ref);
        codec_encode(c, x, 256, buf);
        assert_memory_equal(buf, b4, sizeof b4);
        codec_decode(c, buf, 256, y);
        dtype_to_f32_row(DTYPE_Q4_0, b4, yd, 256);
        assert_memory_equal(y, yd, sizeof y);
        codec_free(c);
    }
}

static void lossless_arms_should_round_trip_exactly(void **state)
{
    (void)state;
    float x[64], y[64];
    uint8_t buf[256];
    for (int i = 0; i < 64; i++)
        x[i] = ldexpf((float)(i - 32), i % 7 - 3); /* exact in f16 and bf16 */
    const char *specs[] = {"identity", "f16", "bf16"};
    for (int s = 0; s < 3; s++) {
        codec *c = make(specs[s]);
        codec_encode(c, x, 64, buf);
        codec_decode(c, buf, 64, y);
        assert_memory_equal(x, y, sizeof x);
        codec_free(c);
    }
}

static void affine_should_reproduce_constant_groups_and_endpoints(void **state)
{
    (void)state;
    static const int bits[] = {2, 3, 4, 8};
    float x[128], y[128];
    uint8_t buf[512];
    for (int b = 0; b < 4; b++) {
        char spec[64];
        snprintf(spec, sizeof spec, "affine:bits=%d,group=64", bits[b]);
        codec *c = make(spec);
        for (int i = 0; i < 64; i++)
            x[i] = 0.75f;                          /* constant group: scale 0 */
        for (int i = 64; i < 128; i++)
            x[i] = (float)((i * 37) % 64) / 8.0f;  /* min 0, max 7.875 */
        codec_encode(c, x, 128, buf);
        codec_decode(c, buf, 128, y);
        for (int i = 0; i < 64; i++)
            assert_true(y[i] == 0.75f);
        /* the group's extremes land on grid ends: min exactly; max within
         * the F16 rounding of the scale times the top level */
        for (int i = 64; i < 128; i++) {
            if (x[i] == 0.0f)
                assert_true(y[i] == 0.0f);
            if (x[i] == 7.875f)
                assert_true(fabsf(y[i] - 7.875f) < 7.875f * 2e-3f);
        }
        codec_free(c);
    }
}

static void hadamard_should_be_orthogonal_and_invert_exactly_enough(void **state)
{
    (void)state;
    float signs[256], x[256], y[256];
    codec_hadamard_signs(42, 256, signs);
    int neg = 0;
    for (int i = 0; i < 256; i++)
        neg += signs[i] < 0;
    assert_in_range(neg, 96, 160); /* fair coin: 128 +- 4 sigma */
    codec_fill_gaussian(x, 256, 9);
    memcpy(y, x, sizeof x);
    codec_hadamard_forward(y, signs, 256);
    double n0 = 0, n1 = 0, d = 0;
    for (int i = 0; i < 256; i++) {
        n0 += (double)x[i] * x[i];
        n1 += (double)y[i] * y[i];
    }
    codec_hadamard_inverse(y, signs, 256);
    for (int i = 0; i < 256; i++)
        d = fmax(d, fabs((double)x[i] - y[i]));
    /* float butterflies: 8 levels, each a relative rounding of 2^-24 */
    assert_true(fabs(n0 - n1) < 1e-5 * n0);
    assert_true(d < 1e-5);
    /* a single outlier spreads over every coordinate */
    memset(x, 0, sizeof x);
    x[3] = 16.0f;
    codec_hadamard_forward(x, signs, 256);
    for (int i = 0; i < 256; i++)
        assert_true(fabsf(fabsf(x[i]) - 1.0f) < 1e-6f);
}

static void rotation_should_not_change_gaussian_distortion_much(void **state)
{
    (void)state;
    const size_t n = 1 << 16;
    float *x = malloc(n * sizeof(float));
    codec_fill_gaussian(x, n, 11);
    codec *a = make("affine:bits=4,group=64");
    codec *b = make("affine:bits=4,group=64,rotate=hadamard,dim=128,seed=7");
    assert_int_equal(codec_block_values(b), 128);
    assert_int_equal(codec_header_bytes(b), 8);
    const double ra = roundtrip(a, x, n, NULL), rb = roundtrip(b, x, n, NULL);
    /* a rotated Gaussian is Gaussian: same distortion within sampling noise */
    assert_true(fabs(10 * log10(ra / rb)) < 0.1);
    codec_free(a);
    codec_free(b);
    free(x);
}

/* ---- the Gaussian reference figures -------------------------------- */

static void gaussian_figures_should_match_the_numpy_reference_within_0_1_db(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        double snr_db;
    } ref[] = {
        {"affine:bits=4,group=64", 20.95}, {"affine:bits=3,group=64", 14.31},
        {"affine:bits=2,group=64", 6.93},  {"affine:bits=8,group=64", 45.55},
        {"q8_0", 45.43},                   {"q4_0", 21.31},
    };
    const size_t n = 1 << 20;
    float *x = malloc(n * sizeof(float));
    codec_fill_gaussian(x, n, 1);
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        codec *c = make(ref[i].spec);
        const double rel = roundtrip(c, x, n, NULL);
        const double snr = -10 * log10(rel);
        print_message("%-24s snr %.3f dB (reference %.2f)\n", ref[i].spec, snr, ref[i].snr_db);
        assert_true(fabs(snr - ref[i].snr_db) <= REF_TOL_DB);
        if (i == 0)
            assert_true(fabs(rel - 0.00804) < 0.00804 * 0.023); /* 0.1 dB = 2.3% */
        codec_free(c);
    }
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_parser_should_fill_defaults_and_canonical_names),
        cmocka_unit_test(spec_parser_should_name_the_field_and_the_allowed_range),
        cmocka_unit_test(every_arm_should_count_the_bytes_it_writes),
        cmocka_unit_test(q8_0_and_q4_0_should_write_ggml_blocks_byte_for_byte),
        cmocka_unit_test(lossless_arms_should_round_trip_exactly),
        cmocka_unit_test(affine_should_reproduce_constant_groups_and_endpoints),
        cmocka_unit_test(hadamard_should_be_orthogonal_and_invert_exactly_enough),
        cmocka_unit_test(rotation_should_not_change_gaussian_distortion_much),
        cmocka_unit_test(gaussian_figures_should_match_the_numpy_reference_within_0_1_db),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
