/* Slow NIAH checks (`make test-slow`): the default synthetic model at 1k
 * and 4k tokens with 50 samples per (ctx, depth) cell: full cache recall
 * 1.0 everywhere, the needle hidden from the retrieval layer recall 0;
 * and the hard setting's curve over 2, 3, 4 and 8 bits at 1k. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "niah.h"
#include "synth.h"

typedef struct fixture {
    uint8_t *buf;
    size_t len;
    gguf_file *f;
    model *m;
} fixture;

static void open_cfg(fixture *x, const synth_cfg *c)
{
    assert_int_equal(synth_to_buffer(c, &x->buf, &x->len, NULL), KK_OK);
    assert_int_equal(gguf_parse_buffer(&x->f, x->buf, x->len, "synth.gguf", NULL), KK_OK);
    assert_int_equal(model_load(&x->m, x->f, NULL), KK_OK);
}

static void close_fixture(fixture *x)
{
    model_free(x->m);
    gguf_close(x->f);
    free(x->buf);
}

static const int64_t CTX[2] = {1024, 4096};
static const double DEPTHS[3] = {0.1, 0.5, 0.9};

/* Runs 2 contexts x 3 depths x 50 samples; prints each cell. */
static void run(const model *m, int32_t distractors, niah_opts o, niah_cell *cells,
                int32_t n_ctx)
{
    const niah_cfg cfg = {CTX, n_ctx, DEPTHS, 3, 50, 1, distractors, o, NULL, NULL, NULL, NULL, NULL, NULL};
    kk_err e;
    kk_err_clear(&e);
    if (niah_run(m, &cfg, cells, &e) != KK_OK)
        fail_msg("niah_run: %s", e.msg);
    for (int32_t i = 0; i < n_ctx * 3; i++)
        fprintf(stderr, "  ctx %5lld depth %.1f bits %2d mask %u: %lld/%lld, min margin %.3f\n",
                (long long)cells[i].ctx, cells[i].depth, (int)o.kv_bits,
                (unsigned)o.mask_layers, (long long)cells[i].hits, (long long)cells[i].n,
                cells[i].min_margin);
}

static void the_full_cache_should_recall_every_needle_at_1k_and_4k(void **state)
{
    (void)state;
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    fixture x;
    open_cfg(&x, &c);
    niah_cell cells[6];
    const niah_opts o = {.mask_layers = 0, .kv_bits = 0, .use_ref = false, .kv_codec = NULL, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
    run(x.m, 0, o, cells, 2);
    for (int i = 0; i < 6; i++)
        assert_true(cells[i].recall == 1.0);
    close_fixture(&x);
}

static void the_needle_hidden_from_the_retrieval_layer_should_be_lost_at_1k_and_4k(void **state)
{
    (void)state;
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    fixture x;
    open_cfg(&x, &c);
    niah_cell cells[6];
    const niah_opts o = {.mask_layers = 1u << 1, .kv_bits = 0, .use_ref = false, .kv_codec = NULL, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
    run(x.m, 0, o, cells, 2);
    for (int i = 0; i < 6; i++)
        assert_true(cells[i].recall <= 0.05);
    close_fixture(&x);
}

static void the_hard_setting_should_trace_a_curve_over_bits(void **state)
{
    (void)state;
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    synth_apply_hard(&c);
    fixture x;
    open_cfg(&x, &c);
    const int32_t bits[] = {0, 2, 3, 4, 8};
    double recall[5];
    for (int b = 0; b < 5; b++) {
        niah_cell cells[3];
        const niah_opts o = {.mask_layers = 0, .kv_bits = bits[b], .use_ref = false, .kv_codec = NULL, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
        run(x.m, c.niah_distractors, o, cells, 1);
        recall[b] = (cells[0].recall + cells[1].recall + cells[2].recall) / 3.0;
        fprintf(stderr, "hard, 1024 tokens, %d bits: recall %.3f\n", (int)bits[b], recall[b]);
    }
    assert_true(recall[0] == 1.0);
    assert_true(recall[1] <= 0.9);
    assert_true(recall[4] >= 0.95);
    close_fixture(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_full_cache_should_recall_every_needle_at_1k_and_4k),
        cmocka_unit_test(the_needle_hidden_from_the_retrieval_layer_should_be_lost_at_1k_and_4k),
        cmocka_unit_test(the_hard_setting_should_trace_a_curve_over_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
