/* Batch-invariant verification (forward.h fwd_set_batch_invariant): after
 * the same prefix, the logits of each of L drafted tokens run as ONE call
 * must be bit for bit those of L single-token decode steps, the steps in
 * the default mode (the reference a speculative decoder must reproduce):
 * random llama and qwen3 models in F32, F16 and Q8_0 (the ggml activation
 * rounding the CLI uses), F32 and F16 caches, L = 1, 2, 7, 16, at every
 * SIMD level (and 3 threads at the best); the default F16 row kernel and tile1. The
 * default mode is checked to differ somewhere (else the test would not
 * show the mode doing anything). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "gguf.h"
#include "gguf_convert.h"
#include "kernels.h"
#include "kv.h"
#include "matmul.h"
#include "model.h"
#include "model_random.h"
#include "ops.h"

typedef struct fixture {
    uint8_t *buf, *buf2;
    size_t len, len2;
    gguf_file *f, *f2;
    model *m;
} fixture;

static void fixture_open(fixture *x, model_arch arch, dtype_t type)
{
    memset(x, 0, sizeof *x);
    model_random_cfg c;
    model_random_defaults(&c);
    c.seed = 21;
    c.arch = arch;
    c.head_dim = 64; /* a multiple of 32 (Q8_0 rows); 64: the scores' own kernel path */
    c.n_embd = 64;
    c.n_ff = 1088; /* ffn_down rows past the kernels' k blocks (1024) */
    c.n_ctx = 256;
    kk_err e;
    assert_int_equal(model_random_to_buffer(&c, &x->buf, &x->len, &e), KK_OK);
    assert_int_equal(gguf_parse_buffer(&x->f, x->buf, x->len, "random.gguf", &e), KK_OK);
    gguf_file *use = x->f;
    if (type != DTYPE_F32) {
        assert_int_equal(gguf_convert_to_buffer(x->f, type, &x->buf2, &x->len2, &e), KK_OK);
        assert_int_equal(gguf_parse_buffer(&x->f2, x->buf2, x->len2, "converted.gguf", &e), KK_OK);
        use = x->f2;
    }
    assert_int_equal(model_load(&x->m, use, &e), KK_OK);
    model_set_act(x->m, OPS_ACT_GGML);
}

static void fixture_close(fixture *x)
{
    model_free(x->m);
    gguf_close(x->f2);
    gguf_close(x->f);
    free(x->buf2);
    free(x->buf);
}

/* a prefix that leaves the keys' last group of 16 partial for the steps
 * and full for some batches */
enum { PREFIX = 37, MAXL = 16 };

/* Prefill PREFIX tokens, then the next L either as L steps (out_steps) or
 * as one call in batch-invariant mode (out_batch); returns whether the
 * two are bit-identical. dflt: also run the batch in the default mode and
 * report (via *dflt_equal) whether that happened to be identical. */
static int compare(const model *m, bool f16_cache, int L, int *dflt_equal)
{
    const model_hparams *hp = &m->hp;
    const int64_t V = hp->n_vocab;
    int32_t ids[PREFIX + MAXL];
    for (int i = 0; i < PREFIX + MAXL; i++)
        ids[i] = 3 + (i * 97 + 11) % (int32_t)(V - 3);
    const kv_config cfg = {hp->n_layers, hp->n_kv_heads, hp->head_dim_k, hp->head_dim_v, 64, 0};
    kv_cache *kv = NULL;
    kk_err e;
    assert_int_equal(f16_cache ? kv_full_f16_init(&kv, &cfg, &e) : kv_full_init(&kv, &cfg, &e),
                     KK_OK);
    fwd_state *st = NULL;
    assert_int_equal(fwd_init(&st, m, 64, 64, &e), KK_OK);
    float *a = malloc((size_t)(L * V) * sizeof(float)), *b = malloc((size_t)(L * V) * sizeof(float));
    assert_int_equal(fwd_run(st, kv, ids, NULL, PREFIX, FWD_LOGITS_LAST, a, NULL, &e), KK_OK);
    for (int i = 0; i < L; i++) /* the reference: default-mode decode steps */
        assert_int_equal(fwd_run(st, kv, ids + PREFIX + i, NULL, 1, FWD_LOGITS_LAST, a + i * V,
                                 NULL, &e), KK_OK);
    assert_int_equal(kv_truncate(kv, PREFIX, &e), KK_OK);
    fwd_set_batch_invariant(st, true);
    assert_int_equal(fwd_run(st, kv, ids + PREFIX, NULL, L, FWD_LOGITS_ALL, b, NULL, &e), KK_OK);
    fwd_set_batch_invariant(st, false);
    const int same = !memcmp(a, b, (size_t)(L * V) * sizeof(float));
    if (dflt_equal) {
        assert_int_equal(kv_truncate(kv, PREFIX, &e), KK_OK);
        assert_int_equal(fwd_run(st, kv, ids + PREFIX, NULL, L, FWD_LOGITS_ALL, b, NULL, &e), KK_OK);
        *dflt_equal = !memcmp(a, b, (size_t)(L * V) * sizeof(float));
    }
    free(a);
    free(b);
    fwd_free(st);
    kv_free(kv);
    return same;
}

static void verification_should_equal_decode_steps_bit_for_bit(void **state)
{
    (void)state;
    static const dtype_t types[] = {DTYPE_F32, DTYPE_F16, DTYPE_Q8_0};
    static const char *tnames[] = {"f32", "f16", "q8_0"};
    static const char *kerns[] = {"default", "f16_gemv=tile1"};
    const matmul_isa best = matmul_isa_best();
    int default_differed = 0;
    for (int arch = 0; arch < 2; arch++)
        for (int ti = 0; ti < 3; ti++) {
            fixture x;
            fixture_open(&x, arch ? MODEL_ARCH_QWEN3 : MODEL_ARCH_LLAMA, types[ti]);
            for (int isa = MATMUL_ISA_SCALAR; isa <= (int)best; isa++) {
                matmul_set_isa((matmul_isa)isa);
                for (int kk = 0; kk < (ti == 1 ? 2 : 1); kk++) {
                    kern_choice k;
                    assert_int_equal(kern_parse(kerns[kk], &k, NULL), KK_OK);
                    kern_set(&k);
                    /* 3 threads at the best level only: threads split rows,
                     * never a reduction, at every level alike */
                    for (int th = 1; th <= (isa == (int)best ? 3 : 1); th += 2) {
                        ops_set_threads(th);
                        for (int cache = 0; cache < 2; cache++)
                            for (int L = 1; L <= MAXL; L = L < 2 ? 2 : L < 7 ? 7 : L < 16 ? 16 : 99) {
                                int deq = 1;
                                if (!compare(x.m, cache, L, L > 1 ? &deq : NULL))
                                    fail_msg("%s %s isa %s kernels %s threads %d cache %s L %d: "
                                             "batch logits differ from the decode steps",
                                             arch ? "qwen3" : "llama", tnames[ti],
                                             matmul_isa_name((matmul_isa)isa), kerns[kk], th,
                                             cache ? "f16" : "f32", L);
                                default_differed |= !deq;
                            }
                    }
                }
            }
            fixture_close(&x);
        }
    kern_choice d;
    kern_defaults(&d);
    kern_set(&d);
    matmul_set_isa(best);
    ops_set_threads(1);
    /* the default mode's batches do reduce differently somewhere */
    assert_true(default_differed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verification_should_equal_decode_steps_bit_for_bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
