/* Batch-invariant verification (forward.h fwd_set_batch_invariant): after
 * the same prefix, the logits of each of L drafted tokens run as ONE call
 * must be bit for bit those of L single-token decode steps, the steps in
 * the default mode (the reference a speculative decoder must reproduce):
 * random llama and qwen3 models in F32, F16 and Q8_0 (the ggml activation
 * rounding the CLI uses), F32 and F16 caches, L = 1, 2, 7, 16, at every
 * SIMD level (and 3 threads at the best); the default F16 row kernel and tile1. The
 * default mode is checked to differ somewhere (else the test would not
 * show the mode doing anything).
 * Then every cache type the engine has (test_cache_util.h: full, F16,
 * sink + window rings, restored in four modes, noisy, composites, codec
 * caches of every family, KIVI): random prefixes past the rings' wrap,
 * a rollback before the batch, steps after it that read its rows back,
 * bit-identical; and the split of kv_invariant_rows shown to be what makes
 * the KIVI and restoring caches so. */
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
#include "test_cache_util.h"

typedef struct fixture {
    uint8_t *buf, *buf2;
    size_t len, len2;
    gguf_file *f, *f2;
    model *m;
} fixture;

/* n_ff 1088: ffn_down rows past the kernels' k blocks (1024); the cache
 * tests take 128 (their subject is the cache, and the FFN is most of a
 * small model's time) */
static void fixture_open(fixture *x, model_arch arch, dtype_t type, int32_t n_ff)
{
    memset(x, 0, sizeof *x);
    model_random_cfg c;
    model_random_defaults(&c);
    c.seed = 21;
    c.arch = arch;
    c.head_dim = 64; /* a multiple of 32 (Q8_0 rows); 64: the scores' own kernel path */
    c.n_embd = 64;
    c.n_ff = n_ff;
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
            fixture_open(&x, arch ? MODEL_ARCH_QWEN3 : MODEL_ARCH_LLAMA, types[ti], 1088);
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

/* ---- every cache type ---------------------------------------------------- */

enum { CT_CTX = 160, CT_TRIALS = 4 };

/* One trial on a cache of kind t, ids from seed. The reference: a cache
 * fed `prefix` tokens (one prefill call), then L + tail default-mode
 * decode steps. The trial: another cache, the same prefill, L steps, a
 * rollback to the prefix, the same L tokens as ONE call (batch-invariant,
 * or the default mode when invariant is false; unsplit: the cache hides
 * its kv_invariant_rows, so the call is not split), then the tail as
 * steps: the tail checks that the rows the call stored are the steps'
 * (read again once the window has evicted them, restored). @return how
 * many of the L + tail tokens' logits differ from the reference's. */
static int cache_mismatches(const model *m, const tkv_kind *t, int prefix, int L, int tail,
                            int threads, uint64_t seed, bool invariant, bool unsplit)
{
    const model_hparams *hp = &m->hp;
    const int64_t V = hp->n_vocab;
    const int n = L + tail;
    int32_t ids[CT_CTX];
    assert_true(prefix + n <= CT_CTX);
    for (int i = 0; i < prefix + n; i++)
        ids[i] = 3 + (int32_t)(kk_splitmix64(&seed) % (uint64_t)(V - 3));
    kv_cache *ref = tkv_make(t, hp->n_layers, hp->n_kv_heads, hp->head_dim_k, CT_CTX);
    kv_cache *kv = tkv_make(t, hp->n_layers, hp->n_kv_heads, hp->head_dim_k, CT_CTX);
    if (unsplit)
        kv = tkv_unsplit(kv);
    fwd_state *st = NULL;
    kk_err e;
    kk_err_clear(&e);
    /* chunks of 16: a bounded cache takes at most its slack + 1 rows a call */
    assert_int_equal(fwd_init(&st, m, 16, CT_CTX, &e), KK_OK);
    float *a = malloc((size_t)(n * V) * sizeof(float));
    float *b = malloc((size_t)(n * V) * sizeof(float));
    assert_true(a && b);
    for (int c = 0; c < 2; c++) { /* the prefill, then L steps (the reference: all n) */
        kv_cache *to = c ? kv : ref;
        if (fwd_run(st, to, ids, NULL, prefix, FWD_LOGITS_LAST, a, NULL, &e) != KK_OK)
            fail_msg("%s: prefill: %s", t->name, e.msg);
        for (int i = 0; i < (c ? L : n); i++)
            if (fwd_run(st, to, ids + prefix + i, NULL, 1, FWD_LOGITS_LAST, a + i * V, NULL,
                        &e) != KK_OK)
                fail_msg("%s: step %d: %s", t->name, i, e.msg);
    }
    if (kv_truncate(kv, prefix, &e) != KK_OK)
        fail_msg("%s: rollback from %d to %d: %s", t->name, prefix + L, prefix, e.msg);
    fwd_set_batch_invariant(st, invariant);
    ops_set_threads(threads);
    if (fwd_run(st, kv, ids + prefix, NULL, L, FWD_LOGITS_ALL, b, NULL, &e) != KK_OK)
        fail_msg("%s: batch of %d: %s", t->name, L, e.msg);
    ops_set_threads(1);
    fwd_set_batch_invariant(st, false);
    for (int i = L; i < n; i++)
        if (fwd_run(st, kv, ids + prefix + i, NULL, 1, FWD_LOGITS_LAST, b + i * V, NULL, &e) !=
            KK_OK)
            fail_msg("%s: step %d after the batch: %s", t->name, i, e.msg);
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += memcmp(a + i * V, b + i * V, (size_t)V * sizeof(float)) != 0;
    free(a);
    free(b);
    fwd_free(st);
    kv_free(kv);
    kv_free(ref);
    return bad;
}

/* Every cache type (test_cache_util.h), F32, F16 and Q8_0 weights, 1..3
 * threads, seeded random prefixes (most past the bounded rings' wrap and
 * across KIVI units of 32 rows) and batch sizes 2..16, plus two batches
 * that cross a unit's last row: the batch-invariant call's logits are
 * memcmp-equal to the steps'. */
static void verification_should_equal_decode_steps_on_every_cache_type(void **state)
{
    (void)state;
    static const dtype_t types[] = {DTYPE_F32, DTYPE_F16, DTYPE_Q8_0};
    fixture x[3];
    for (int ti = 0; ti < 3; ti++)
        fixture_open(&x[ti], MODEL_ARCH_QWEN3, types[ti], 128);
    int failed = 0;
    for (int k = 0; k < TKV_N_KINDS; k++) {
        uint64_t rng = 0x5eed0000u + (uint64_t)k;
        int bad = 0, tokens = 0;
        for (int trial = 0; trial < 3 + 3 * CT_TRIALS; trial++) {
            /* three fixed trials, {prefix, L, tail}: a call before any
             * window fills whose rows the tail reads back restored; one
             * across row 63, one across row 95 (each closes a KIVI unit
             * of 32 rows) with a tail past the restored windows (12, 20) */
            static const int fixed[3][3] = {{9, 14, 30}, {58, 9, 0}, {90, 16, 24}};
            int prefix, L, tail = 0;
            if (trial < 3) {
                prefix = fixed[trial][0];
                L = fixed[trial][1];
                tail = fixed[trial][2];
            } else {
                prefix = 20 + (int)(kk_splitmix64(&rng) % 96);
                L = 2 + (int)(kk_splitmix64(&rng) % 15);
            }
            /* one trial a kind runs its batch call on 2 or 3 threads
             * (threads split rows, never a sum; a call on several threads
             * costs ~1 ms more on 2 shared cores) */
            bad += cache_mismatches(x[trial % 3].m, &TKV_KINDS[k], prefix, L, tail,
                                    trial == 1 ? 1 + k % 3 : 1, rng, true, false);
            tokens += L + tail;
        }
        print_message("    %-34s %3d of %3d tokens' logits differ\n", TKV_KINDS[k].name, bad,
                      tokens);
        failed += bad > 0;
    }
    ops_set_threads(1);
    for (int ti = 0; ti < 3; ti++)
        fixture_close(&x[ti]);
    assert_int_equal(failed, 0);
}

/* The split is what makes the caches that ask for it invariant: with
 * kv_invariant_rows hidden (tkv_unsplit), a call across a KIVI unit's
 * closing row (rows 58..66 close the unit 32..63) or past a restoring
 * window's edge (58 > sinks + window) gives other logits, on exactly the
 * kinds marked split; the others are unchanged. And the same call in the
 * default mode, on every kind. The counts are printed (docs/speculative.md
 * records them). */
static void verification_should_differ_where_the_cache_split_is_skipped(void **state)
{
    (void)state;
    fixture x;
    /* F16 weights: their default batch kernel sums otherwise than the step's */
    fixture_open(&x, MODEL_ARCH_QWEN3, DTYPE_F16, 128);
    int wrong = 0;
    for (int k = 0; k < TKV_N_KINDS; k++) {
        const uint64_t seed = 0x5b17u + (uint64_t)k;
        const int bad = cache_mismatches(x.m, &TKV_KINDS[k], 58, 9, 24, 1, seed, true, true);
        const int dflt = cache_mismatches(x.m, &TKV_KINDS[k], 58, 9, 24, 1, seed, false, false);
        print_message("    %-34s of 33 tokens' logits, unsplit: %2d differ, default mode: %2d\n",
                      TKV_KINDS[k].name, bad, dflt);
        wrong += TKV_KINDS[k].split ? bad == 0 : bad != 0;
    }
    fixture_close(&x);
    assert_int_equal(wrong, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verification_should_equal_decode_steps_bit_for_bit),
        cmocka_unit_test(verification_should_equal_decode_steps_on_every_cache_type),
        cmocka_unit_test(verification_should_differ_where_the_cache_split_is_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
