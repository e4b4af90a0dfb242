/* Tests of affine axis=token (KIVI's per-channel keys): the spec fields,
 * the codec against a plain per-channel loop written here (bit-exact), the
 * bits accounting, the outlier-channel case it exists for, and the KV
 * cache's residual of rows whose unit is not full yet (ragged appends,
 * truncation into an encoded unit, resident bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "dtype.h"
#include "kv_codec.h"

static codec_spec spec_of(const char *text)
{
    codec_spec s;
    kk_err e;
    kk_err_clear(&e);
    if (codec_spec_parse(text, &s, &e) != KK_OK)
        fail_msg("spec %s: %s", text, e.msg);
    return s;
}

static codec *make(const char *text)
{
    const codec_spec s = spec_of(text);
    codec *c = NULL;
    kk_err e;
    assert_int_equal(codec_init(&c, &s, &e), KK_OK);
    return c;
}

static void expect_error(const char *spec, kk_code code, const char *where)
{
    codec_spec s;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(codec_spec_parse(spec, &s, &e), code);
    if (strcmp(e.where, where) != 0)
        fail_msg("'%s': where '%s', expected '%s' (%s)", spec, e.where, where, e.msg);
}

static void token_axis_specs_should_parse_format_and_refuse_what_does_not_fit(void **state)
{
    (void)state;
    codec_spec s = spec_of("affine:bits=2,group=32,axis=token");
    assert_int_equal(s.axis, CODEC_AXIS_TOKEN);
    assert_int_equal(s.channels, 0);
    codec *c = NULL;
    kk_err e;
    assert_int_equal(codec_init(&c, &s, &e), KK_OK);
    char buf[128];
    codec_spec_format(codec_get_spec(c), buf, sizeof buf);
    assert_string_equal(buf, "affine:bits=2,group=32,axis=token,channels=128");
    assert_int_equal(codec_block_values(c), 32 * 128);
    codec_free(c);
    s = spec_of("affine:bits=4,group=64,axis=row");
    assert_int_equal(s.axis, CODEC_AXIS_ROW);
    codec_spec_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "affine:bits=4,group=64");
    expect_error("affine:axis=diag", KK_E_RANGE, "axis");
    expect_error("q8_0:axis=token", KK_E_FORMAT, "axis");
    expect_error("e8:axis=token", KK_E_FORMAT, "axis");
    expect_error("affine:axis=token,rotate=hadamard", KK_E_RANGE, "rotate");
    expect_error("affine:channels=64", KK_E_RANGE, "channels");
    expect_error("affine:axis=token,channels=12", KK_E_RANGE, "channels");
    expect_error("affine:axis=token,channels=0", KK_E_RANGE, "channels");
    expect_error("affine:axis=token,channels=32768", KK_E_RANGE, "channels");
    expect_error("affine:axis=token,axis=row", KK_E_FORMAT, "axis");
}

/* The plain per-channel quantizer, written from the definition: channel k
 * of a block of g token rows (stride ch) gets min m and scale
 * s = (max - min) / (2^bits - 1) rounded to F16, codes
 * clamp(floor((x - m') / s' + 1/2)) with the stored m', s'; x^ = m' + q s'. */
static void kivi_loop(const float *x, size_t n_blocks, int bits, int g, int ch, float *y)
{
    const float levels = (float)((1 << bits) - 1);
    for (size_t b = 0; b < n_blocks; b++)
        for (int k = 0; k < ch; k++) {
            const float *xc = x + b * (size_t)(g * ch) + k;
            float *yc = y + b * (size_t)(g * ch) + k;
            float lo = xc[0], hi = xc[0];
            for (int t = 1; t < g; t++) {
                lo = fminf(lo, xc[(size_t)t * (size_t)ch]);
                hi = fmaxf(hi, xc[(size_t)t * (size_t)ch]);
            }
            const float s = dtype_f16_to_f32(dtype_f32_to_f16((hi - lo) / levels));
            const float m = dtype_f16_to_f32(dtype_f32_to_f16(lo));
            const float inv = s != 0.0f ? 1.0f / s : 0.0f;
            for (int t = 0; t < g; t++) {
                float q = floorf((xc[(size_t)t * (size_t)ch] - m) * inv + 0.5f);
                q = fminf(fmaxf(q, 0.0f), levels);
                yc[(size_t)t * (size_t)ch] = m + q * s;
            }
        }
}

static void token_axis_should_equal_the_plain_per_channel_loop(void **state)
{
    (void)state;
    static const int bits[] = {2, 3, 4, 8}, groups[] = {32, 64, 128}, chans[] = {8, 40, 512};
    const size_t n_blocks = 3, max_n = n_blocks * 128 * 512;
    float *x = malloc(max_n * sizeof(float)), *y = malloc(max_n * sizeof(float));
    float *r = malloc(max_n * sizeof(float));
    uint8_t *buf = malloc(2 * max_n + 1);
    codec_fill_gaussian(x, max_n, 5);
    for (size_t i = 0; i < max_n; i += 7)
        x[i] *= 30.0f; /* some large values: ranges differ per channel */
    for (int bi = 0; bi < 4; bi++)
        for (int gi = 0; gi < 3; gi++)
            for (int ci = 0; ci < 3; ci++) {
                char spec[96];
                snprintf(spec, sizeof spec, "affine:bits=%d,group=%d,axis=token,channels=%d",
                         bits[bi], groups[gi], chans[ci]);
                codec *c = make(spec);
                const size_t n = n_blocks * (size_t)(groups[gi] * chans[ci]);
                const size_t nb = codec_encoded_bytes(c, n);
                /* bytes written: 4 side bytes + bits*g/8 code bytes per channel */
                assert_int_equal(nb, n_blocks * (size_t)chans[ci] *
                                         (4 + (size_t)(bits[bi] * groups[gi] / 8)));
                assert_true(codec_bits_per_value(c) == bits[bi] + 32.0 / groups[gi]);
                buf[nb] = 0xA5;
                codec_encode(c, x, n, buf);
                assert_int_equal(buf[nb], 0xA5);
                codec_decode(c, buf, n, y);
                kivi_loop(x, n_blocks, bits[bi], groups[gi], chans[ci], r);
                if (memcmp(y, r, n * sizeof(float)) != 0)
                    fail_msg("%s differs from the plain loop", spec);
                assert_true(codec_get_stats(c)->values_encoded == n);
                codec_free(c);
            }
    free(x);
    free(y);
    free(r);
    free(buf);
}

static double rel_mse_of(const char *spec, const float *x, size_t n)
{
    codec *c = make(spec);
    uint8_t *buf = malloc(codec_encoded_bytes(c, n));
    float *y = malloc(n * sizeof(float));
    codec_encode(c, x, n, buf);
    codec_decode(c, buf, n, y);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        den += (double)x[i] * x[i];
    }
    free(buf);
    free(y);
    codec_free(c);
    return num / den;
}

static void token_axis_should_beat_row_groups_on_outlier_channels(void **state)
{
    (void)state;
    /* Keys as KIVI describes them: a per-channel offset that is constant
     * over tokens, a few channels 20x larger, small per-token variation.
     * Row groups spend their range on the offsets and outliers; per-channel
     * groups see only the small variation. Measured: row 0.205, token
     * 1.7e-4 at 2 bits (x1200); a 10x bound leaves room for other draws. */
    enum { CH = 128, TOK = 256 };
    float *x = malloc((size_t)(CH * TOK) * sizeof(float)), off[CH];
    codec_fill_gaussian(off, CH, 11);
    codec_fill_gaussian(x, (size_t)(CH * TOK), 12);
    for (int t = 0; t < TOK; t++)
        for (int k = 0; k < CH; k++) {
            const float scale = k % 32 == 5 ? 20.0f : 1.0f;
            x[t * CH + k] = scale * (3.0f * off[k] + 0.1f * x[t * CH + k]);
        }
    const double row = rel_mse_of("affine:bits=2,group=32", x, (size_t)(CH * TOK));
    const double tok = rel_mse_of("affine:bits=2,group=32,axis=token", x, (size_t)(CH * TOK));
    if (!(tok * 10.0 < row))
        fail_msg("token axis %g vs row groups %g", tok, row);
    free(x);
}

/* ---- the KV cache's residual ------------------------------------------------------------- */

static void a_token_axis_cache_should_encode_full_units_and_keep_the_rest_exact(void **state)
{
    (void)state;
    enum { L = 2, ROW = 64, CTX = 100, G = 32 };
    const kv_config cfg = {L, 2, 32, 32, CTX, 0};
    const codec_spec ks = spec_of("affine:bits=2,group=32,axis=token"), vs = spec_of("q8_0");
    kv_cache *kv = NULL;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(kv_codec_init(&kv, &cfg, &ks, &vs, NULL, &e), KK_OK);
    const int64_t n = 79; /* two full units and 15 residual rows */
    float *k = malloc(CTX * ROW * sizeof(float)), *v = malloc(CTX * ROW * sizeof(float));
    float *kd = malloc(CTX * ROW * sizeof(float)), *vd = malloc(CTX * ROW * sizeof(float));
    int32_t pos[CTX];
    for (int i = 0; i < CTX; i++)
        pos[i] = i;
    codec_fill_gaussian(k, CTX * ROW, 3);
    codec_fill_gaussian(v, CTX * ROW, 4);
    /* the oracles: the codecs alone (channels = the row) */
    codec *ck = make("affine:bits=2,group=32,axis=token,channels=64"), *cv = make("q8_0");
    uint8_t *buf = malloc(CTX * ROW * sizeof(float));
    codec_encode(ck, k, 2 * G * ROW, buf);
    codec_decode(ck, buf, 2 * G * ROW, kd);
    memcpy(kd + 2 * G * ROW, k + 2 * G * ROW, (size_t)(n - 2 * G) * ROW * sizeof(float));
    codec_encode(cv, v, (size_t)(n * ROW), buf);
    codec_decode(cv, buf, (size_t)(n * ROW), vd);
    /* ragged batches, crossing unit boundaries inside a batch */
    static const int64_t batches[] = {1, 5, 40, 30, 3};
    for (int32_t l = 0; l < L; l++) {
        int64_t at = 0;
        for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
            assert_int_equal(kv_append(kv, l, k + at * ROW, v + at * ROW, pos + at, batches[b], &e),
                             KK_OK);
            at += batches[b];
        }
        assert_int_equal(at, n);
    }
    for (int32_t l = 0; l < L; l++) {
        kv_view a;
        assert_int_equal(kv_view_layer(kv, l, &a, &e), KK_OK);
        assert_int_equal(a.n, n);
        assert_memory_equal(a.k, kd, (size_t)(n * ROW) * sizeof(float));
        assert_memory_equal(a.v, vd, (size_t)(n * ROW) * sizeof(float));
    }
    /* K: two units encoded per layer (the residual waits) */
    assert_true(kv_codec_get_stats(kv, 'k')->values_encoded == (uint64_t)(L * 2 * G * ROW));
    assert_true(kv_codec_get_stats(kv, 'v')->values_encoded == (uint64_t)(L * n * ROW));
    /* resident: codes (K: ceil(100/32) = 4 units of 64 channels x (4 + 8)
     * bytes per layer; V: 100 rows of 2 q8_0 blocks of 34 bytes), positions,
     * lengths, one layer's scratch, one K unit of residual per layer */
    const size_t codes = L * 4 * 64 * 12 + L * CTX * 2 * 34;
    assert_int_equal(kv_codec_bytes_codes(kv), codes);
    assert_int_equal(kv_bytes_resident(kv), codes + L * CTX * sizeof(int32_t) +
                                                L * sizeof(int64_t) +
                                                CTX * 2 * ROW * sizeof(float) +
                                                L * G * ROW * sizeof(float));
    /* max_rollback 0 keeps no raw rows: truncating into the encoded second
     * unit is refused and changes nothing */
    assert_int_equal(kv_truncate(kv, 40, &e), KK_E_RANGE);
    assert_non_null(strstr(e.msg, "rows 32..63"));
    kv_view a;
    assert_int_equal(kv_view_layer(kv, 1, &a, &e), KK_OK);
    assert_int_equal(a.n, n);
    assert_memory_equal(a.k, kd, (size_t)(n * ROW) * sizeof(float));
    /* inside the open unit and at a unit boundary nothing is needed */
    assert_int_equal(kv_truncate(kv, 70, &e), KK_OK);
    assert_int_equal(kv_view_layer(kv, 1, &a, &e), KK_OK);
    assert_int_equal(a.n, 70);
    assert_memory_equal(a.k + 64 * ROW, k + 64 * ROW, 6 * ROW * sizeof(float));
    assert_int_equal(kv_truncate(kv, 32, &e), KK_OK);
    assert_int_equal(kv_view_layer(kv, 1, &a, &e), KK_OK);
    assert_int_equal(a.n, 32);
    assert_memory_equal(a.k, kd, G * ROW * sizeof(float));
    float *mix = NULL, *mixd = NULL;
    free(mix);
    free(mixd);
    free(buf);
    free(k);
    free(v);
    free(kd);
    free(vd);
    codec_free(ck);
    codec_free(cv);
    kv_free(kv);
}

/* Appends rows [from, to) of k/v to every layer of c in ragged batches. */
static void append_rows(kv_cache *c, int32_t n_layers, const float *k, const float *v,
                        const int32_t *pos, int64_t row, int64_t from, int64_t to)
{
    static const int64_t sizes[] = {3, 17, 1, 29};
    kk_err e;
    for (int32_t l = 0; l < n_layers; l++)
        for (int64_t at = from, b = 0; at < to; b++) {
            int64_t m = sizes[b % 4] < to - at ? sizes[b % 4] : to - at;
            assert_int_equal(kv_append(c, l, k + at * row, v + at * row, pos + at, m, &e), KK_OK);
            at += m;
        }
}

/* Every layer's view of a equals b's, byte for byte. */
static void views_equal(kv_cache *a, kv_cache *b, int32_t n_layers, int64_t row)
{
    kk_err e;
    for (int32_t l = 0; l < n_layers; l++) {
        kv_view va, vb;
        assert_int_equal(kv_view_layer(a, l, &va, &e), KK_OK);
        const int64_t n = va.n;
        float *ka = malloc((size_t)(n * row) * sizeof(float) + 1);
        float *vaa = malloc((size_t)(n * row) * sizeof(float) + 1);
        memcpy(ka, va.k, (size_t)(n * row) * sizeof(float));
        memcpy(vaa, va.v, (size_t)(n * row) * sizeof(float));
        int32_t *pa = malloc((size_t)n * sizeof(int32_t) + 1);
        memcpy(pa, va.pos, (size_t)n * sizeof(int32_t));
        assert_int_equal(kv_view_layer(b, l, &vb, &e), KK_OK);
        assert_int_equal(vb.n, n);
        assert_memory_equal(ka, vb.k, (size_t)(n * row) * sizeof(float));
        assert_memory_equal(vaa, vb.v, (size_t)(n * row) * sizeof(float));
        assert_memory_equal(pa, vb.pos, (size_t)n * sizeof(int32_t));
        free(ka);
        free(vaa);
        free(pa);
    }
}

/* kv.h's promise for codec caches whose units span rows: after a rollback
 * into an encoded unit the cache is the one that never saw the dropped
 * rows, byte for byte, and stays so as rows are appended again (the
 * reopened unit is encoded from the raw rows, not decoded values). */
static void a_rollback_into_an_encoded_unit_should_equal_a_cache_that_never_saw_the_rows(
    void **state)
{
    (void)state;
    enum { L = 2, ROW = 64, CTX = 160, G = 32 };
    kv_config cfg = {L, 2, 32, 32, CTX, 48};
    const codec_spec ks = spec_of("affine:bits=2,group=32,axis=token");
    const codec_spec vs = spec_of("affine:bits=4,group=32,axis=token");
    float *k = malloc(2 * CTX * ROW * sizeof(float)), *v = malloc(2 * CTX * ROW * sizeof(float));
    int32_t pos[2 * CTX];
    for (int i = 0; i < 2 * CTX; i++)
        pos[i] = i % CTX;
    codec_fill_gaussian(k, 2 * CTX * ROW, 5);
    codec_fill_gaussian(v, 2 * CTX * ROW, 6);
    /* the rows appended after the rollback differ from the dropped ones:
     * rows CTX.. of k/v, at the same positions */
    const float *k2 = k + CTX * ROW, *v2 = v + CTX * ROW;
    kk_err e;
    kv_cache *a = NULL, *never = NULL;
    assert_int_equal(kv_codec_init(&a, &cfg, &ks, &vs, NULL, &e), KK_OK);
    assert_int_equal(kv_codec_init(&never, &cfg, &ks, &vs, NULL, &e), KK_OK);
    append_rows(a, L, k, v, pos, ROW, 0, 79);  /* units 0, 1 encoded; 15 open */
    append_rows(never, L, k, v, pos, ROW, 0, 40);
    /* 39 rows back, into unit 1 (rows 32..63, encoded) */
    assert_int_equal(kv_truncate(a, 40, &e), KK_OK);
    views_equal(a, never, L, ROW);
    /* the same new rows into both: unit 1 closes from the same raw rows */
    float *kk2 = malloc(40 * ROW * sizeof(float)), *vv2 = malloc(40 * ROW * sizeof(float));
    memcpy(kk2, k2, 40 * ROW * sizeof(float));
    memcpy(vv2, v2, 40 * ROW * sizeof(float));
    for (int32_t l = 0; l < L; l++) {
        assert_int_equal(kv_append(a, l, kk2, vv2, pos + 40, 40, &e), KK_OK);
        assert_int_equal(kv_append(never, l, kk2, vv2, pos + 40, 40, &e), KK_OK);
    }
    views_equal(a, never, L, ROW);
    /* a second rollback right after a first may not read history slots the
     * dropped rows overwrote: the raw rows kept are those from the most
     * rows held (80) back by 48 + 31, so rows from 1 on */
    assert_int_equal(kv_truncate(a, 70, &e), KK_OK);
    assert_int_equal(kv_truncate(a, 40, &e), KK_OK); /* rows 32..39: kept */
    assert_int_equal(kv_truncate(never, 40, &e), KK_OK);
    views_equal(a, never, L, ROW);
    kv_free(a);
    kv_free(never);
    /* with a smaller max_rollback the same double rollback is refused */
    cfg.max_rollback = 8; /* keeps 8 + 31 = 39 rows: from 80 - 39 = 41 on */
    assert_int_equal(kv_codec_init(&a, &cfg, &ks, &vs, NULL, &e), KK_OK);
    append_rows(a, L, k, v, pos, ROW, 0, 80);
    assert_int_equal(kv_truncate(a, 70, &e), KK_OK);
    kv_view before;
    assert_int_equal(kv_view_layer(a, 0, &before, &e), KK_OK);
    assert_int_equal(before.n, 70);
    assert_int_equal(kv_truncate(a, 40, &e), KK_E_RANGE);
    assert_non_null(strstr(e.msg, "no longer kept"));
    assert_int_equal(kv_n_tokens(a), 70); /* nothing changed */
    /* emptying always works */
    assert_int_equal(kv_truncate(a, 0, &e), KK_OK);
    assert_int_equal(kv_n_tokens(a), 0);
    kv_free(a);
    free(kk2);
    free(vv2);
    free(k);
    free(v);
}

static void a_token_axis_cache_should_refuse_channels_other_than_the_row(void **state)
{
    (void)state;
    const kv_config cfg = {2, 2, 32, 32, 64, 0};
    const codec_spec bad = spec_of("affine:bits=2,group=32,axis=token,channels=128");
    const codec_spec ok = spec_of("q8_0");
    kv_cache *kv = NULL;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(kv_codec_init(&kv, &cfg, &bad, &ok, NULL, &e), KK_E_RANGE);
    assert_null(kv);
    assert_string_equal(e.where, "k_codec");
    assert_non_null(strstr(e.msg, "64 channels"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_axis_specs_should_parse_format_and_refuse_what_does_not_fit),
        cmocka_unit_test(token_axis_should_equal_the_plain_per_channel_loop),
        cmocka_unit_test(token_axis_should_beat_row_groups_on_outlier_channels),
        cmocka_unit_test(a_token_axis_cache_should_encode_full_units_and_keep_the_rest_exact),
        cmocka_unit_test(a_rollback_into_an_encoded_unit_should_equal_a_cache_that_never_saw_the_rows),
        cmocka_unit_test(a_token_axis_cache_should_refuse_channels_other_than_the_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
