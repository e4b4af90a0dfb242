/* Tests of the codec-passthrough fault of engine/kv_codec: with
 * kv_codec_opts.passthrough a kv_codec cache hands back exactly the F32
 * rows appended, its codecs count nothing, and the cache still calls
 * itself a codec cache (the fault is silent); without it the same cache
 * encodes, decodes and counts every value. The engine reads no
 * environment: KAKEYA_FAULT alone changes nothing (the harness turns it
 * into the option). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kk_fault.h"
#include "kv_codec.h"

enum { N_LAYERS = 2, HEADS = 2, HEAD_DIM = 32, ROW = HEADS * HEAD_DIM, N = 20 };

/* Appends N rows to every layer and checks what the views return: exact
 * copies (passthrough) or not (q8_0 is lossy on Gaussian data). */
static void fill_and_view(kv_cache *kv, int expect_exact)
{
    float *k = malloc(N * ROW * sizeof(float)), *v = malloc(N * ROW * sizeof(float));
    int32_t pos[N];
    for (int i = 0; i < N; i++)
        pos[i] = i;
    codec_fill_gaussian(k, N * ROW, 3);
    codec_fill_gaussian(v, N * ROW, 4);
    kk_err e;
    for (int32_t l = 0; l < N_LAYERS; l++) {
        assert_int_equal(kv_append(kv, l, k, v, pos, N, &e), KK_OK);
        kv_view vw;
        assert_int_equal(kv_view_layer(kv, l, &vw, &e), KK_OK);
        assert_int_equal(vw.n, N);
        int exact = 1;
        for (int64_t i = 0; i < N; i++)
            exact &= !memcmp(vw.k + i * vw.k_stride, k + i * ROW, ROW * sizeof(float)) &&
                     !memcmp(vw.v + i * vw.v_stride, v + i * ROW, ROW * sizeof(float));
        assert_int_equal(exact, expect_exact);
    }
    free(k);
    free(v);
}

static void a_passthrough_cache_should_copy_rows_and_count_nothing(void **state)
{
    (void)state;
    const kv_config cfg = {N_LAYERS, HEADS, HEAD_DIM, HEAD_DIM, 32, 0};
    codec_spec sp;
    kk_err e;
    assert_int_equal(codec_spec_parse("q8_0", &sp, &e), KK_OK);
    kv_cache *clean = NULL, *faulty = NULL;
    const kv_codec_opts pass = {.passthrough = true};
    assert_int_equal(kv_codec_init(&clean, &cfg, &sp, &sp, NULL, &e), KK_OK);
    assert_int_equal(kv_codec_init(&faulty, &cfg, &sp, &sp, &pass, &e), KK_OK);

    fill_and_view(clean, 0);
    fill_and_view(faulty, 1);
    const uint64_t values = (uint64_t)N_LAYERS * N * ROW;
    assert_int_equal(kv_codec_get_stats(clean, 'k')->values_encoded, values);
    assert_int_equal(kv_codec_get_stats(clean, 'v')->values_decoded, values);
    /* Silent: still a codec cache with codec statistics, all zero. */
    assert_non_null(kv_codec_get_stats(faulty, 'k'));
    assert_int_equal(kv_codec_get_stats(faulty, 'k')->values_encoded, 0);
    assert_int_equal(kv_codec_get_stats(faulty, 'k')->values_decoded, 0);
    assert_int_equal(kv_codec_get_stats(faulty, 'v')->values_encoded, 0);
    assert_int_equal(kv_codec_get_stats(faulty, 'v')->values_decoded, 0);
    /* It holds F32 rows, so it allocates more than the codes would need. */
    assert_true(kv_bytes_resident(faulty) > kv_bytes_resident(clean));
    kv_free(clean);
    kv_free(faulty);
}

static void the_environment_alone_should_not_switch_the_codec_off(void **state)
{
    (void)state;
    const kv_config cfg = {N_LAYERS, HEADS, HEAD_DIM, HEAD_DIM, 32, 0};
    codec_spec sp;
    kk_err e;
    assert_int_equal(codec_spec_parse("q8_0", &sp, &e), KK_OK);
    kv_cache *kv = NULL;
    const kv_codec_opts normal = {.passthrough = false};
    setenv(KK_FAULT_ENV, KK_FAULT_CODEC_PASSTHROUGH, 1);
    assert_int_equal(kv_codec_init(&kv, &cfg, &sp, &sp, &normal, &e), KK_OK);
    unsetenv(KK_FAULT_ENV);
    fill_and_view(kv, 0);
    assert_int_equal(kv_codec_get_stats(kv, 'k')->values_encoded,
                     (uint64_t)N_LAYERS * N * ROW);
    kv_free(kv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_passthrough_cache_should_copy_rows_and_count_nothing),
        cmocka_unit_test(the_environment_alone_should_not_switch_the_codec_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
