/* Tests of engine/kv_codec: with the identity codec the cache is the full
 * cache (same views, exactly); with a lossy codec every view equals the
 * codec's own round trip of the appended rows; truncation; resident bytes
 * are the packed codes plus positions and one layer's scratch; a codec
 * whose unit does not divide the row is refused with a message naming it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kv_codec.h"

static codec_spec spec_of(const char *s)
{
    codec_spec sp;
    kk_err e;
    assert_int_equal(codec_spec_parse(s, &sp, &e), KK_OK);
    return sp;
}

/* The codec's round trip of n rows as the cache makes it: one call, or a
 * call (stream) per row for a variable-rate codec. */
static void round_trip(codec *c, const float *x, int64_t n, int64_t row, uint8_t *buf, float *y)
{
    if (!codec_is_variable(c)) {
        codec_encode(c, x, (size_t)(n * row), buf);
        codec_decode(c, buf, (size_t)(n * row), y);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        codec_encode(c, x + i * row, (size_t)row, buf);
        codec_decode(c, buf, (size_t)row, y + i * row);
    }
}

static void views_should_equal_the_codec_round_trip_of_what_was_appended(void **state)
{
    (void)state;
    static const char *specs[] = {"identity", "f16", "q8_0", "q4_0", "affine:bits=3,group=32",
                                  "e8:bits=4,group=64,rotate=hadamard", "d4:bits=2,group=32",
                                  "e8ans:bits=4,rotate=hadamard", "e8ans:bits=2"};
    const kv_config cfg = {3, 2, 32, 32, 40, 0};
    const int64_t row = 64, n = 37;
    float *k = malloc((size_t)(n * row) * sizeof(float)), *v = malloc((size_t)(n * row) * sizeof(float));
    float *kd = malloc((size_t)(n * row) * sizeof(float)), *vd = malloc((size_t)(n * row) * sizeof(float));
    int32_t pos[37];
    for (int i = 0; i < 37; i++)
        pos[i] = 100 + i;
    codec_fill_gaussian(k, (size_t)(n * row), 1);
    codec_fill_gaussian(v, (size_t)(n * row), 2);
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        const codec_spec sp = spec_of(specs[s]);
        kv_cache *kv = NULL, *full = NULL;
        kk_err e;
        assert_int_equal(kv_codec_init(&kv, &cfg, &sp, &sp, NULL, &e), KK_OK);
        assert_int_equal(kv_full_init(&full, &cfg, &e), KK_OK);
        /* the oracle: the codec alone, rotation dim = head_dim as the cache sets it */
        codec_spec so = sp;
        if (so.rotate && !so.dim)
            so.dim = 32;
        codec *c = NULL;
        assert_int_equal(codec_init(&c, &so, &e), KK_OK);
        uint8_t *buf = malloc(codec_encoded_bytes(c, (size_t)(n * row)));
        round_trip(c, k, n, row, buf, kd);
        round_trip(c, v, n, row, buf, vd);
        for (int32_t l = 0; l < 3; l++) {
            /* two batches: 30 tokens, then 7 */
            assert_int_equal(kv_append(kv, l, k, v, pos, 30, &e), KK_OK);
            assert_int_equal(kv_append(kv, l, k + 30 * row, v + 30 * row, pos + 30, 7, &e), KK_OK);
            assert_int_equal(kv_append(full, l, kd, vd, pos, 37, &e), KK_OK);
        }
        assert_int_equal(kv_n_tokens(kv), 37);
        assert_int_equal(kv_append(kv, 0, k, v, pos, 4, &e), KK_E_LIMIT);
        for (int32_t l = 0; l < 3; l++) {
            kv_view a, b;
            assert_int_equal(kv_view_layer(kv, l, &a, &e), KK_OK);
            assert_int_equal(kv_view_layer(full, l, &b, &e), KK_OK);
            assert_int_equal(a.n, 37);
            assert_memory_equal(a.k, b.k, (size_t)(37 * row) * sizeof(float));
            assert_memory_equal(a.v, b.v, (size_t)(37 * row) * sizeof(float));
            assert_memory_equal(a.pos, pos, sizeof pos);
        }
        if (s == 0) /* identity: the full cache's values exactly */
            assert_memory_equal(kd, k, (size_t)(n * row) * sizeof(float));
        assert_int_equal(kv_truncate(kv, 10, NULL), KK_OK);
        assert_int_equal(kv_n_tokens(kv), 10);
        kv_view a;
        assert_int_equal(kv_view_layer(kv, 1, &a, &e), KK_OK);
        assert_int_equal(a.n, 10);
        assert_memory_equal(a.k, kd, (size_t)(10 * row) * sizeof(float));
        const size_t codes = kv_codec_bytes_codes(kv);
        assert_int_equal(codes, 2 * 3 * 40 * codec_encoded_bytes(c, (size_t)row));
        assert_int_equal(kv_bytes_resident(kv),
                         codes + 3 * 40 * sizeof(int32_t) + 3 * sizeof(int64_t) +
                             40 * 2 * (size_t)row * sizeof(float));
        const codec_stats *vs = kv_codec_get_stats(kv, 'v');
        assert_true(vs->values_encoded == 3 * 37 * (uint64_t)row);
        if (codec_is_variable(c)) /* the rows took less than their slots */
            assert_true(vs->bytes_encoded < 3 * 37 * codec_encoded_bytes(c, (size_t)row));
        else
            assert_true(vs->bytes_encoded == 3 * 37 * codec_encoded_bytes(c, (size_t)row));
        assert_null(kv_codec_get_stats(full, 'k'));
        free(buf);
        codec_free(c);
        kv_free(kv);
        kv_free(full);
    }
    free(k);
    free(v);
    free(kd);
    free(vd);
}

static void a_codec_unit_that_does_not_divide_the_row_should_be_refused(void **state)
{
    (void)state;
    const kv_config cfg = {2, 2, 32, 32, 8, 0};
    const codec_spec ok = spec_of("q8_0"), bad = spec_of("e8:group=128");
    kv_cache *kv = NULL;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(kv_codec_init(&kv, &cfg, &ok, &bad, NULL, &e), KK_E_RANGE);
    assert_null(kv);
    assert_string_equal(e.where, "v_codec");
    assert_non_null(strstr(e.msg, "V rows of 64 values"));
    assert_non_null(strstr(e.msg, "e8:bits=4,group=128,scales=8"));
}

/* corrupt (a declared negative control): each row's codec units rotated by
 * one after encoding, so the view holds the round trip of what was
 * appended with unit u showing unit u + 1's values; the codec still counts
 * its work (the control is a real codec path). Rows of one unit and
 * axis=token are refused by name. */
static void a_corrupt_cache_should_rotate_each_rows_units(void **state)
{
    (void)state;
    enum { L = 2, KH = 2, D = 64, ROW = KH * D, N = 5 };
    const kv_config cfg = {L, KH, D, D, 16, 0};
    const codec_spec s = spec_of("q8_0");
    const kv_codec_opts co = {.corrupt = true};
    kv_cache *c = NULL, *plain = NULL;
    kk_err e;
    assert_int_equal(kv_codec_init(&c, &cfg, &s, &s, &co, &e), KK_OK);
    assert_int_equal(kv_codec_init(&plain, &cfg, &s, &s, NULL, &e), KK_OK);
    float k[N * ROW], v[N * ROW];
    int32_t pos[N];
    for (int i = 0; i < N * ROW; i++) {
        k[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
        v[i] = (float)((i * 53) % 97) / 48.0f - 1.0f;
    }
    for (int i = 0; i < N; i++)
        pos[i] = i;
    for (int32_t l = 0; l < L; l++) {
        assert_int_equal(kv_append(c, l, k, v, pos, N, &e), KK_OK);
        assert_int_equal(kv_append(plain, l, k, v, pos, N, &e), KK_OK);
    }
    kv_view a, b;
    assert_int_equal(kv_view_layer(c, 1, &a, &e), KK_OK);
    assert_int_equal(kv_view_layer(plain, 1, &b, &e), KK_OK);
    const int U = 32; /* q8_0's unit */
    for (int t = 0; t < N; t++)
        for (int i = 0; i < ROW; i++) {
            const int src = (i + U) % ROW;
            assert_true(a.k[t * a.k_stride + i] == b.k[t * b.k_stride + src]);
            assert_true(a.v[t * a.v_stride + i] == b.v[t * b.v_stride + src]);
        }
    assert_true(kv_codec_get_stats(c, 'k')->values_encoded == (uint64_t)(L * N * ROW));
    kv_free(c);
    kv_free(plain);
    const codec_spec one = spec_of("lloyd:bits=2,group=128"),
                     tok = spec_of("affine:bits=2,group=32,axis=token");
    assert_int_equal(kv_codec_init(&c, &cfg, &one, &one, &co, &e), KK_E_RANGE);
    assert_non_null(strstr(e.msg, "corrupt needs rows of at least two units"));
    assert_int_equal(kv_codec_init(&c, &cfg, &tok, &s, &co, &e), KK_E_RANGE);
    assert_null(c);
    const codec_spec ans = spec_of("e8ans:bits=4"); /* a stream has no units to rotate */
    assert_int_equal(kv_codec_init(&c, &cfg, &ans, &ans, &co, &e), KK_E_RANGE);
    assert_non_null(strstr(e.msg, "not e8ans"));
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(views_should_equal_the_codec_round_trip_of_what_was_appended),
        cmocka_unit_test(a_codec_unit_that_does_not_divide_the_row_should_be_refused),
        cmocka_unit_test(a_corrupt_cache_should_rotate_each_rows_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
