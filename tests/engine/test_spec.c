/* Tests of engine/spec: the speculative loop emits exactly what greedy
 * decoding emits, whatever the drafter proposes: an oracle drafter (it
 * proposes greedy's own continuation: everything is accepted, tau = the
 * block), the random control (almost nothing accepted) and ngram; blocks
 * 1..16; a random qwen3 with head dim 64 in F32 and Q8_0. And the ngram
 * lookup itself on hand-made histories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "gguf_convert.h"
#include "model_random.h"
#include "ops.h"
#include "sample.h"
#include "spec.h"

static void ngram_should_propose_what_followed_the_latest_match(void **state)
{
    (void)state;
    const int32_t h[] = {5, 6, 7, 9, 5, 6, 8, 1, 5, 6};
    int32_t d[8];
    spec_ngram g = {2, 3};
    /* the last 2 tokens (5 6) last occurred at 4: what followed is 8 1 5 */
    assert_int_equal(spec_ngram_propose(&g, h, 10, d, 8), 3);
    assert_int_equal(d[0], 8);
    assert_int_equal(d[1], 1);
    assert_int_equal(d[2], 5);
    /* max bounds it; no match: nothing */
    assert_int_equal(spec_ngram_propose(&g, h, 10, d, 1), 1);
    const int32_t u[] = {1, 2, 3, 4};
    assert_int_equal(spec_ngram_propose(&g, u, 4, d, 8), 0);
    spec_ngram g3 = {3, 8};
    assert_int_equal(spec_ngram_propose(&g3, h, 3, d, 8), 0); /* too short */
}

/* The oracle: greedy's own continuation, from a precomputed list. */
typedef struct oracle {
    const int32_t *seq; /* prompt + greedy ids */
    size_t n;
} oracle;

static int oracle_propose(void *ctx, const int32_t *hist, size_t n, int32_t *draft, int max)
{
    (void)hist;
    const oracle *o = ctx;
    int m = 0;
    for (size_t i = n; i < o->n && m < max; i++)
        draft[m++] = o->seq[i];
    return m;
}

static void spec_should_emit_greedy_output_whatever_the_drafter(void **state)
{
    (void)state;
    for (int q8 = 0; q8 < 2; q8++) {
        model_random_cfg c;
        model_random_defaults(&c);
        c.seed = 5;
        c.arch = MODEL_ARCH_QWEN3;
        c.head_dim = 64;
        c.n_ctx = 512;
        uint8_t *buf = NULL, *buf2 = NULL;
        size_t len = 0, len2 = 0;
        gguf_file *f = NULL, *f2 = NULL;
        model *m = NULL;
        kk_err e;
        assert_int_equal(model_random_to_buffer(&c, &buf, &len, &e), KK_OK);
        assert_int_equal(gguf_parse_buffer(&f, buf, len, "r.gguf", &e), KK_OK);
        if (q8) {
            assert_int_equal(gguf_convert_to_buffer(f, DTYPE_Q8_0, &buf2, &len2, &e), KK_OK);
            assert_int_equal(gguf_parse_buffer(&f2, buf2, len2, "q.gguf", &e), KK_OK);
        }
        assert_int_equal(model_load(&m, q8 ? f2 : f, &e), KK_OK);
        model_set_act(m, OPS_ACT_GGML);
        const model_hparams *hp = &m->hp;
        enum { NP = 30, N = 60 };
        int32_t prompt[NP], ar[NP + N], out[N];
        for (int i = 0; i < NP; i++)
            prompt[i] = 3 + (i * 31) % (hp->n_vocab - 3);
        const kv_config cfg = {hp->n_layers, hp->n_kv_heads, hp->head_dim_k, hp->head_dim_v,
                               NP + N + 64, 0};
        kv_cache *kv = NULL;
        fwd_state *st = NULL;
        assert_int_equal(kv_full_init(&kv, &cfg, &e), KK_OK);
        assert_int_equal(fwd_init(&st, m, 64, NP + N + 64, &e), KK_OK);
        /* the greedy reference, one step per token */
        float *lg = malloc((size_t)hp->n_vocab * sizeof(float));
        memcpy(ar, prompt, sizeof prompt);
        assert_int_equal(fwd_run(st, kv, prompt, NULL, NP, FWD_LOGITS_LAST, lg, NULL, &e), KK_OK);
        for (int i = 0; i < N; i++) {
            ar[NP + i] = sample_greedy(lg, hp->n_vocab);
            if (i + 1 < N)
                assert_int_equal(fwd_run(st, kv, &ar[NP + i], NULL, 1, FWD_LOGITS_LAST, lg,
                                         NULL, &e), KK_OK);
        }
        free(lg);
        oracle o = {ar, NP + N};
        spec_random r = {9, hp->n_vocab};
        spec_ngram g = {1, 8};
        const spec_drafter ds[3] = {{oracle_propose, &o}, {spec_random_propose, &r},
                                    {spec_ngram_propose, &g}};
        for (int di = 0; di < 3; di++)
            for (int block = 1; block <= 16; block = block < 4 ? block + 1 : block + 6) {
                assert_int_equal(kv_truncate(kv, 0, &e), KK_OK);
                size_t n_out = 0;
                spec_stats ss;
                assert_int_equal(spec_generate(st, kv, m, prompt, NP, N, -1, block, &ds[di], out,
                                               &n_out, &ss, &e), KK_OK);
                assert_int_equal(n_out, N);
                if (memcmp(out, ar + NP, sizeof out) != 0)
                    fail_msg("q8 %d drafter %d block %d: not greedy's output", q8, di, block);
                assert_int_equal(ss.emitted, N);
                if (di == 0) { /* the oracle: every draft accepted, block tokens a call */
                    assert_true(ss.accepted == ss.drafted);
                    assert_true(ss.blocks == (N - 1 + block - 1) / block);
                }
            }
        fwd_free(st);
        kv_free(kv);
        model_free(m);
        gguf_close(f2);
        gguf_close(f);
        free(buf2);
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ngram_should_propose_what_followed_the_latest_match),
        cmocka_unit_test(spec_should_emit_greedy_output_whatever_the_drafter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
