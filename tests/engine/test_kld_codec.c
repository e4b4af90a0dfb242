/* Tests of engine/kld_codec on a random-weight qwen3 built in memory:
 * the identity codec changes nothing (KLD exactly 0, every top-1 agrees),
 * damage grows as the codec coarsens (q8_0 < q4_0 < affine 2-bit), the
 * corrupt control damages far more, the rate is what the codecs wrote
 * (q8_0 8.5, e8ans below its 4-bit target plus overhead), and fewer than 2
 * ids are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "gguf.h"
#include "kld_codec.h"
#include "model_random.h"

typedef struct fx {
    uint8_t *buf;
    size_t len;
    gguf_file *f;
    model *m;
    int32_t ids[96];
} fx;

static int setup(void **state)
{
    fx *x = calloc(1, sizeof *x);
    model_random_cfg c;
    model_random_defaults(&c);
    c.arch = MODEL_ARCH_QWEN3;
    c.head_dim = 32; /* rows of 2 x 32 = 64 values */
    kk_err e;
    if (model_random_to_buffer(&c, &x->buf, &x->len, &e) != KK_OK ||
        gguf_parse_buffer(&x->f, x->buf, x->len, "random", &e) != KK_OK ||
        model_load(&x->m, x->f, &e) != KK_OK)
        return -1;
    for (int i = 0; i < 96; i++)
        x->ids[i] = (int32_t)(260 + (i * 37) % 250); /* named pieces, no control ids */
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx *x = *state;
    model_free(x->m);
    gguf_close(x->f);
    free(x->buf);
    free(x);
    return 0;
}

static kld_codec_result run(fx *x, const char *k, const char *v, bool corrupt)
{
    codec_spec ks, vs;
    kk_err e;
    assert_int_equal(codec_spec_parse(k, &ks, &e), KK_OK);
    assert_int_equal(codec_spec_parse(v, &vs, &e), KK_OK);
    const kv_codec_opts o = {.corrupt = corrupt};
    kld_codec_result r;
    if (kld_codec_run(x->m, x->ids, 96, &ks, &vs, &o, FWD_Q_EXACT, &r, &e) != KK_OK)
        fail_msg("%s: %s", k, e.msg);
    return r;
}

static void damage_should_grow_as_the_codec_coarsens(void **state)
{
    fx *x = *state;
    const kld_codec_result id = run(x, "identity", "identity", false);
    assert_true(id.sum.mean == 0.0 && id.sum.max == 0.0 && id.sum.top1_agree == 1.0);
    assert_int_equal(id.sum.n, 96);
    assert_true(id.bits_per_value == 32.0);
    const kld_codec_result q8 = run(x, "q8_0", "q8_0", false);
    const kld_codec_result q4 = run(x, "q4_0", "q4_0", false);
    const kld_codec_result a2 = run(x, "affine:bits=2,group=32", "affine:bits=2,group=32", false);
    const kld_codec_result bad = run(x, "q8_0", "q8_0", true);
    print_message("KLD mean: q8_0 %.3g, q4_0 %.3g, affine-2 %.3g, q8_0 corrupt %.3g\n",
                  q8.sum.mean, q4.sum.mean, a2.sum.mean, bad.sum.mean);
    assert_true(q8.sum.mean > 0.0 && q8.sum.mean < q4.sum.mean && q4.sum.mean < a2.sum.mean);
    assert_true(bad.sum.mean > 10.0 * q8.sum.mean);
    assert_true(q8.bits_per_value == 8.5);
    /* K's codec alone on K: V exact costs 32 bits, the mean is (8.5 + 32) / 2 */
    const kld_codec_result konly = run(x, "q8_0", "identity", false);
    assert_true(konly.bits_per_value == (8.5 + 32.0) / 2.0);
    assert_true(konly.v_stats.values_encoded == konly.k_stats.values_encoded);
}

static void a_variable_codec_should_report_what_it_wrote(void **state)
{
    fx *x = *state;
    const kld_codec_result r = run(x, "e8ans:bits=4", "e8ans:bits=4", false);
    const double want = 8.0 * (double)(r.k_stats.bytes_encoded + r.v_stats.bytes_encoded) /
                        (double)(r.k_stats.values_encoded + r.v_stats.values_encoded);
    assert_true(r.bits_per_value == want);
    /* rows of 64 values: 8 bytes of scale and rANS state each = 1 bit/value
     * over the coordinates' cost */
    assert_true(r.bits_per_value > 3.0 && r.bits_per_value < 6.5);
}

static void fewer_than_two_ids_should_be_refused(void **state)
{
    fx *x = *state;
    codec_spec s;
    kk_err e;
    assert_int_equal(codec_spec_parse("q8_0", &s, &e), KK_OK);
    kld_codec_result r;
    assert_int_equal(kld_codec_run(x->m, x->ids, 1, &s, &s, NULL, FWD_Q_EXACT, &r, &e), KK_E_RANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(damage_should_grow_as_the_codec_coarsens),
        cmocka_unit_test(a_variable_codec_should_report_what_it_wrote),
        cmocka_unit_test(fewer_than_two_ids_should_be_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
