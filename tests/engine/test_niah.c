/* Tests of engine/niah and the forward pass's mask hook: the sample
 * layout, determinism, the Wilson interval, the affine noise, the fast
 * path against the reference, and the falsifiability checks: full cache
 * recall 1.0, the needle hidden from the retrieval layer -> recall 0, the
 * `hard` setting losing recall at 2 bits and keeping it at 8; recall with
 * a codec in the cache (kv_codec). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "niah.h"
#include "synth.h"
#include "kv_noisy.h"
#include "kv_restored.h"

/* The answer and margin of one sample (niah_runner_eval's result). */
static kk_code eval_answer(niah_runner *r, const niah_sample *s, int32_t *answer, double *margin,
                           float *logits, kk_err *err)
{
    niah_result res;
    kk_code rc = niah_runner_eval(r, s, &res, logits, err);
    *answer = res.answer;
    *margin = res.margin;
    return rc;
}

/* Fast path vs reference on a synthetic model: logits of ~100 through
 * float BLAS vs double loops; the fast softmax's exp is within 3e-7
 * relative. Measured max 2.7e-4 on the 100-logit scale (96 tokens);
 * 1e-2 leaves margin for other BLAS builds yet sits far below the 50-logit
 * margins, so any wrong mask or skipped head fails. */
#define REF_LOGIT_TOL 1e-2

/* Attention with the mask hook, fast vs naive: as ATT_ABS_TOL in
 * test_forward.c (outputs are convex combinations of |v| < 1). */
#define ATT_ABS_TOL 1e-5

typedef struct fixture {
    uint8_t *buf;
    size_t len;
    gguf_file *f;
    model *m;
} fixture;

static void open_cfg(fixture *x, const synth_cfg *c)
{
    kk_err e;
    kk_err_clear(&e);
    if (synth_to_buffer(c, &x->buf, &x->len, &e) != KK_OK)
        fail_msg("synth: %s", e.msg);
    assert_int_equal(gguf_parse_buffer(&x->f, x->buf, x->len, "synth.gguf", &e), KK_OK);
    assert_int_equal(model_load(&x->m, x->f, &e), KK_OK);
}

static void open_default(fixture *x)
{
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    open_cfg(x, &c);
}

static void close_fixture(fixture *x)
{
    model_free(x->m);
    gguf_close(x->f);
    free(x->buf);
}

static const double DEPTHS[3] = {0.1, 0.5, 0.9};

/* Recall over every cell of one context: hits / n. */
static double run_recall(const model *m, int64_t ctx, int64_t samples, int32_t distractors,
                         niah_opts o)
{
    niah_cell cells[3];
    const niah_cfg cfg = {&ctx, 1, DEPTHS, 3, samples, 1, distractors, o, NULL, NULL, NULL, NULL, NULL, NULL};
    kk_err e;
    kk_err_clear(&e);
    if (niah_run(m, &cfg, cells, &e) != KK_OK)
        fail_msg("niah_run: %s", e.msg);
    int64_t hits = 0, n = 0;
    for (int i = 0; i < 3; i++) {
        hits += cells[i].hits;
        n += cells[i].n;
        assert_int_equal(cells[i].n, samples);
    }
    return (double)hits / (double)n;
}

/* ---- samples ----------------------------------------------------------------- */

static void samples_should_follow_the_contract_layout(void **state)
{
    (void)state;
    enum { N = 500 };
    int32_t t[N];
    for (int d = 0; d < 3; d++) {
        niah_sample s = {t, N, 0, 0, 0};
        assert_int_equal(niah_sample_make(&s, DEPTHS[d], 5, 1234 + d, NULL), KK_OK);
        assert_int_equal(t[0], SYNTH_TOK_BOS);
        assert_int_equal(t[N - 2], SYNTH_TOK_QUERY);
        assert_int_equal(t[N - 1], s.key);
        assert_int_equal(t[s.needle_pos], s.key);
        assert_int_equal(t[s.needle_pos + 1], s.expect);
        assert_true(s.key >= SYNTH_TOK_KEY_FIRST && s.key < SYNTH_TOK_VALUE_FIRST);
        assert_true(s.expect >= SYNTH_TOK_VALUE_FIRST && s.expect < 256);
        /* the needle at its depth of the body */
        assert_true(fabs((double)(s.needle_pos - 1) / (N - 5) - DEPTHS[d]) < 0.01);
        /* 5 distractors with other, distinct keys, each followed by a
         * value; everything else filler */
        int keys = 0, seen[64] = {0};
        for (int i = 1; i < N - 2; i++) {
            if (t[i] >= SYNTH_TOK_KEY_FIRST && t[i] < SYNTH_TOK_VALUE_FIRST) {
                keys++;
                assert_int_equal(seen[t[i] - SYNTH_TOK_KEY_FIRST]++, 0);
                assert_true(t[i + 1] >= SYNTH_TOK_VALUE_FIRST);
            } else if (t[i] >= SYNTH_TOK_VALUE_FIRST) {
                assert_true(t[i - 1] >= SYNTH_TOK_KEY_FIRST && t[i - 1] < SYNTH_TOK_VALUE_FIRST);
            } else {
                assert_true(t[i] >= SYNTH_TOK_FILLER_FIRST && t[i] < SYNTH_TOK_KEY_FIRST);
            }
        }
        assert_int_equal(keys, 6);
    }
    /* too many distractors for the context, and bad depths, are refused */
    niah_sample s = {t, 20, 0, 0, 0};
    assert_int_equal(niah_sample_make(&s, 0.5, 10, 1, NULL), KK_E_RANGE);
    s.ctx = N;
    assert_int_equal(niah_sample_make(&s, 1.5, 0, 1, NULL), KK_E_RANGE);
    s.ctx = 8;
    assert_int_equal(niah_sample_make(&s, 0.5, 0, 1, NULL), KK_E_RANGE);
}

static void samples_should_depend_only_on_their_own_seed(void **state)
{
    (void)state;
    enum { N = 300 };
    int32_t a[N], b[N];
    niah_sample sa = {a, N, 0, 0, 0}, sb = {b, N, 0, 0, 0};
    const uint64_t seed = niah_sample_seed(1, N, 2, 7);
    assert_int_equal(niah_sample_make(&sa, 0.5, 3, seed, NULL), KK_OK);
    assert_int_equal(niah_sample_make(&sb, 0.5, 3, seed, NULL), KK_OK);
    assert_memory_equal(a, b, sizeof a);
    /* every coordinate of the seed matters */
    const uint64_t others[] = {niah_sample_seed(2, N, 2, 7), niah_sample_seed(1, N + 1, 2, 7),
                               niah_sample_seed(1, N, 1, 7), niah_sample_seed(1, N, 2, 8)};
    for (size_t i = 0; i < 4; i++)
        assert_true(others[i] != seed);
}

static void a_cell_should_not_depend_on_the_order_samples_run_in(void **state)
{
    (void)state;
    fixture x;
    open_default(&x);
    int64_t ctx = 200;
    const double depth = 0.5;
    niah_cell cell;
    const niah_opts o = {.mask_layers = 0, .kv_bits = 0, .use_ref = false, .kv_codec = NULL, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
    const niah_cfg cfg = {&ctx, 1, &depth, 1, 4, 42, 2, o, NULL, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(niah_run(x.m, &cfg, &cell, NULL), KK_OK);
    /* the same samples alone, last first, through one runner */
    niah_runner *r = NULL;
    assert_int_equal(niah_runner_init(&r, x.m, ctx, &o, NULL), KK_OK);
    int32_t t[200];
    int64_t hits = 0;
    double min_margin = INFINITY;
    for (int64_t i = 3; i >= 0; i--) {
        niah_sample s = {t, ctx, 0, 0, 0};
        assert_int_equal(niah_sample_make(&s, depth, 2, niah_sample_seed(42, ctx, 0, i), NULL),
                         KK_OK);
        int32_t ans;
        double margin;
        assert_int_equal(eval_answer(r, &s, &ans, &margin, NULL, NULL), KK_OK);
        hits += ans == s.expect;
        min_margin = fmin(min_margin, margin);
    }
    assert_int_equal(hits, cell.hits);
    assert_true(min_margin == cell.min_margin);
    niah_runner_free(r);
    close_fixture(&x);
}

static void affine_noise_should_round_to_the_nearest_of_its_levels(void **state)
{
    (void)state;
    float x[70], y[70];
    for (int i = 0; i < 70; i++)
        x[i] = sinf((float)i * 0.7f) * (float)(1 + i % 5);
    for (int32_t bits = 1; bits <= 8; bits++) {
        memcpy(y, x, sizeof x);
        kv_noisy_rtn(y, 70, 32, bits);
        for (int g = 0; g < 70; g += 32) {
            const int m = 70 - g < 32 ? 70 - g : 32;
            float lo = x[g], hi = x[g];
            for (int i = 1; i < m; i++) {
                lo = fminf(lo, x[g + i]);
                hi = fmaxf(hi, x[g + i]);
            }
            const float step = (hi - lo) / (float)((1 << bits) - 1);
            for (int i = 0; i < m; i++) /* round to nearest: within half a step */
                assert_true(fabsf(y[g + i] - x[g + i]) <= 0.5f * step * (1.0f + 1e-5f) + 1e-6f);
            /* the ends of the range are levels: exact */
            for (int i = 0; i < m; i++)
                if (x[g + i] == lo || x[g + i] == hi)
                    assert_true(fabsf(y[g + i] - x[g + i]) < 1e-6f);
        }
    }
    float c[5] = {2, 2, 2, 2, 2};
    kv_noisy_rtn(c, 5, 32, 2);
    for (int i = 0; i < 5; i++)
        assert_true(c[i] == 2.0f);
}

/* ---- the mask hook and the fast path -------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static float rng_unif(uint64_t *s) { return (float)(rng_next(s) % 2000001) / 1e6f - 1.0f; }

static void masked_attention_should_match_the_naive_loop(void **state)
{
    (void)state;
    uint64_t s = 5;
    enum { NK = 180, NQ = 90, H = 4, KH = 2, DK = 16, DV = 8 };
    float *k = malloc(NK * KH * DK * sizeof(float)), *v = malloc(NK * KH * DV * sizeof(float));
    float *q = malloc(NQ * H * DK * sizeof(float));
    float *o = malloc(NQ * H * DV * sizeof(float)), *or = malloc(NQ * H * DV * sizeof(float));
    int32_t kpos[NK], qpos[NQ];
    uint8_t hidden[NK] = {0};
    for (int i = 0; i < NK * KH * DK; i++)
        k[i] = rng_unif(&s);
    for (int i = 0; i < NK * KH * DV; i++)
        v[i] = rng_unif(&s);
    for (int i = 0; i < NQ * H * DK; i++)
        q[i] = 3.0f * rng_unif(&s);
    for (int i = 0; i < NK; i++)
        kpos[i] = i; /* ascending: the fast path's causal ranges */
    for (int i = 0; i < NQ; i++)
        qpos[i] = 90 + i;
    for (int i = 0; i < NK; i += 7)
        hidden[i] = 1;
    const kv_view view = {NK, k, v, kpos, KH * DK, KH * DV, NULL, NULL, 0, 0, NULL};
    for (int32_t window = 0; window <= 30; window += 30) {
        const fwd_attn_shape sh = {H, KH, DK, DV, window, hidden, NK, NULL};
        assert_true(fwd_attention(&sh, q, qpos, NQ, &view, o) == KK_OK);
        fwd_attention_ref(&sh, q, qpos, NQ, &view, or);
        double worst = 0.0;
        for (int i = 0; i < NQ * H * DV; i++)
            worst = fmax(worst, fabs((double)o[i] - or[i]));
        assert_true(worst < ATT_ABS_TOL);
        /* the hook bites: without it the outputs differ */
        const fwd_attn_shape open = {H, KH, DK, DV, window, NULL, 0, NULL};
        assert_true(fwd_attention(&open, q, qpos, NQ, &view, o) == KK_OK);
        worst = 0.0;
        for (int i = 0; i < NQ * H * DV; i++)
            worst = fmax(worst, fabs((double)o[i] - or[i]));
        assert_true(worst > 1e-3);
    }
    /* a dead KV head: zero K and V give exactly 0, with or without work */
    memset(k, 0, NK * KH * DK * sizeof(float));
    memset(v, 0, NK * KH * DV * sizeof(float));
    const uint8_t dead[KH] = {1, 1};
    const fwd_attn_shape sh = {H, KH, DK, DV, 0, NULL, 0, dead};
    assert_true(fwd_attention(&sh, q, qpos, NQ, &view, o) == KK_OK);
    fwd_attention_ref(&sh, q, qpos, NQ, &view, or);
    for (int i = 0; i < NQ * H * DV; i++)
        assert_true(o[i] == 0.0f && or[i] == 0.0f);
    free(k);
    free(v);
    free(q);
    free(o);
    free(or);
}

static void fast_and_reference_paths_should_agree_on_samples(void **state)
{
    (void)state;
    fixture x;
    open_default(&x);
    enum { N = 48 }; /* the reference attention costs N^2 dk dv per head */
    int32_t t[N];
    for (uint32_t mask = 0; mask <= 2; mask += 2) { /* full, and the needle hidden from layer 1 */
        niah_runner *fast = NULL, *ref = NULL;
        const niah_opts of = {.mask_layers = mask, .kv_bits = 0, .use_ref = false, .kv_codec = NULL, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false}, orr = {.mask_layers = mask, .kv_bits = 0, .use_ref = true, .kv_codec = NULL, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
        assert_int_equal(niah_runner_init(&fast, x.m, N, &of, NULL), KK_OK);
        assert_int_equal(niah_runner_init(&ref, x.m, N, &orr, NULL), KK_OK);
        for (int i = 0; i < 3; i++) {
            niah_sample s = {t, N, 0, 0, 0};
            assert_int_equal(niah_sample_make(&s, DEPTHS[i], 2, 100 + i, NULL), KK_OK);
            float lf[256], lr[256];
            int32_t af, ar;
            double mf, mr;
            assert_int_equal(eval_answer(fast, &s, &af, &mf, lf, NULL), KK_OK);
            assert_int_equal(eval_answer(ref, &s, &ar, &mr, lr, NULL), KK_OK);
            assert_int_equal(af, ar);
            assert_int_equal(af == s.expect, mask == 0);
            for (int v = 0; v < 256; v++)
                assert_true(fabs((double)lf[v] - lr[v]) < REF_LOGIT_TOL);
        }
        niah_runner_free(fast);
        niah_runner_free(ref);
    }
    close_fixture(&x);
}

/* ---- falsifiability ------------------------------------------------------------------ */

static void the_full_cache_should_recall_every_needle_at_1k(void **state)
{
    (void)state;
    fixture x;
    open_default(&x);
    const niah_opts o = {.mask_layers = 0, .kv_bits = 0, .use_ref = false, .kv_codec = NULL, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
    assert_true(run_recall(x.m, 1024, 20, 0, o) == 1.0);
    close_fixture(&x);
}

static void the_needle_hidden_from_the_retrieval_layer_should_be_lost(void **state)
{
    (void)state;
    fixture x;
    open_default(&x);
    const niah_opts o = {.mask_layers = 1u << 1, .kv_bits = 0, .use_ref = false, .kv_codec = NULL, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false}; /* layer 1 retrieves */
    assert_true(run_recall(x.m, 1024, 20, 0, o) <= 0.05);
    close_fixture(&x);
}

static void the_hard_setting_should_lose_recall_at_2_bits_and_keep_it_at_8(void **state)
{
    (void)state;
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    synth_apply_hard(&c);
    fixture x;
    open_cfg(&x, &c);
    synth_info info;
    assert_int_equal(synth_read_info(x.f, &info, NULL), KK_OK);
    assert_int_equal(info.niah_distractors, 3);
    niah_opts o = {.mask_layers = 0, .kv_bits = 0, .use_ref = false, .kv_codec = NULL, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
    assert_true(run_recall(x.m, 1024, 20, info.niah_distractors, o) == 1.0);
    o.kv_bits = 2;
    assert_true(run_recall(x.m, 1024, 20, info.niah_distractors, o) <= 0.9);
    o.kv_bits = 8;
    assert_true(run_recall(x.m, 1024, 20, info.niah_distractors, o) >= 0.95);
    close_fixture(&x);
}

static void the_default_model_should_survive_2_bit_noise(void **state)
{
    (void)state;
    /* The easy model is robust to everything (design note): the hard
     * setting's loss comes from its knobs, not from the noise alone. */
    fixture x;
    open_default(&x);
    const niah_opts o = {.mask_layers = 0, .kv_bits = 2, .use_ref = false, .kv_codec = NULL, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
    assert_true(run_recall(x.m, 512, 10, 0, o) == 1.0);
    close_fixture(&x);
}

/* ---- recall with a codec in the cache (--kv-codec) ------------------------------------ */

static codec_spec spec_of(const char *text)
{
    codec_spec s;
    kk_err e;
    kk_err_clear(&e);
    if (codec_spec_parse(text, &s, &e) != KK_OK)
        fail_msg("spec %s: %s", text, e.msg);
    return s;
}

/* Recall over every cell of one context with the codec's counters. */
static double run_codec_recall(const model *m, int64_t ctx, int64_t samples, int32_t distractors,
                               const codec_spec *spec, codec_stats *ks, codec_stats *vs)
{
    niah_cell cells[3];
    const niah_opts o = {.mask_layers = 0, .kv_bits = 0, .use_ref = false, .kv_codec = spec, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
    const niah_cfg cfg = {&ctx, 1, DEPTHS, 3, samples, 1, distractors, o, NULL, NULL, ks, vs, NULL, NULL};
    kk_err e;
    kk_err_clear(&e);
    if (niah_run(m, &cfg, cells, &e) != KK_OK)
        fail_msg("niah_run: %s", e.msg);
    int64_t hits = 0, n = 0;
    for (int i = 0; i < 3; i++) {
        hits += cells[i].hits;
        n += cells[i].n;
    }
    return (double)hits / (double)n;
}

static void q8_0_in_the_cache_should_keep_recall_1_and_run_the_codec(void **state)
{
    (void)state;
    fixture x;
    open_default(&x);
    const codec_spec s = spec_of("q8_0");
    codec_stats ks, vs;
    const int64_t ctx = 1024, samples = 20;
    assert_true(run_codec_recall(x.m, ctx, samples, 0, &s, &ks, &vs) == 1.0);
    /* Every token of every layer went through the codec once: counted by
     * the codecs, not computed from the config. */
    const model_hparams *hp = &x.m->hp;
    const uint64_t rows = (uint64_t)(3 * samples * ctx) * (uint64_t)hp->n_layers;
    assert_true(ks.values_encoded == rows * (uint64_t)(hp->n_kv_heads * hp->head_dim_k));
    assert_true(vs.values_encoded == rows * (uint64_t)(hp->n_kv_heads * hp->head_dim_v));
    assert_true(ks.values_decoded >= ks.values_encoded);
    assert_true(vs.values_decoded >= vs.values_encoded);
    close_fixture(&x);
}

/* niah_opts.kv_codec_passthrough reaches the runner's cache: the codec
 * counts nothing (kv_codec_opts.passthrough), recall stays that of exact
 * K/V. */
static void a_passthrough_codec_cache_should_count_nothing(void **state)
{
    (void)state;
    fixture x;
    open_default(&x);
    const codec_spec s = spec_of("q8_0");
    const niah_opts o = {.mask_layers = 0, .kv_bits = 0, .use_ref = false, .kv_codec = &s, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = true};
    niah_runner *r = NULL;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(niah_runner_init(&r, x.m, 64, &o, &e), KK_OK);
    int32_t tokens[64];
    niah_sample smp = {.tokens = tokens, .ctx = 64};
    assert_int_equal(niah_sample_make(&smp, 0.5, 0, 1, &e), KK_OK);
    niah_result res;
    assert_int_equal(niah_runner_eval(r, &smp, &res, NULL, &e), KK_OK);
    assert_int_equal(res.answer, smp.expect);
    assert_true(res.has_codec);
    assert_int_equal(res.k_stats.values_encoded, 0);
    assert_non_null(niah_runner_codec_stats(r, 'k'));
    assert_true(niah_runner_codec_stats(r, 'k')->values_encoded == 0);
    assert_true(niah_runner_codec_stats(r, 'v')->values_decoded == 0);
    niah_runner_free(r);
    close_fixture(&x);
}

static void identity_in_the_cache_should_give_the_full_caches_logits(void **state)
{
    (void)state;
    /* The codec cache with the lossless arm changes nothing: the same
     * logits bit for bit (F32 rows stored and read back unchanged). */
    fixture x;
    open_default(&x);
    const codec_spec s = spec_of("identity");
    const niah_opts plain = {.mask_layers = 0, .kv_bits = 0, .use_ref = false, .kv_codec = NULL, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false}, coded = {.mask_layers = 0, .kv_bits = 0, .use_ref = false, .kv_codec = &s, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
    niah_runner *a = NULL, *b = NULL;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(niah_runner_init(&a, x.m, 256, &plain, &e), KK_OK);
    assert_int_equal(niah_runner_init(&b, x.m, 256, &coded, &e), KK_OK);
    assert_null(niah_runner_codec_stats(a, 'k'));
    int32_t tok[256];
    niah_sample smp = {tok, 256, 0, 0, 0};
    assert_int_equal(niah_sample_make(&smp, 0.5, 2, 7, &e), KK_OK);
    const int32_t V = x.m->hp.n_vocab;
    float *la = malloc((size_t)V * sizeof(float)), *lb = malloc((size_t)V * sizeof(float));
    int32_t ansa, ansb;
    double ma, mb;
    assert_int_equal(eval_answer(a, &smp, &ansa, &ma, la, &e), KK_OK);
    assert_int_equal(eval_answer(b, &smp, &ansb, &mb, lb, &e), KK_OK);
    assert_int_equal(ansa, smp.expect);
    assert_int_equal(ansb, smp.expect);
    assert_memory_equal(la, lb, (size_t)V * sizeof(float));
    assert_true(niah_runner_codec_stats(b, 'k')->values_encoded > 0);
    assert_true(niah_runner_codec_stats(b, 'v')->values_decoded > 0);
    free(la);
    free(lb);
    niah_runner_free(a);
    niah_runner_free(b);
    close_fixture(&x);
}

static void a_destructive_codec_should_lower_recall_on_the_hard_model(void **state)
{
    (void)state;
    /* Falsifiability of the codec path: the hard model keeps recall 1.0
     * with q8_0 in the cache and loses it with 2-bit affine (the same loss
     * the --kv-bits 2 noise shows), so the codec's output really reaches
     * attention. */
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    synth_apply_hard(&c);
    fixture x;
    open_cfg(&x, &c);
    const codec_spec q8 = spec_of("q8_0"), a2 = spec_of("affine:bits=2,group=64");
    codec_stats ks, vs;
    assert_true(run_codec_recall(x.m, 1024, 20, 3, &q8, &ks, &vs) >= 0.95);
    assert_true(run_codec_recall(x.m, 1024, 20, 3, &a2, &ks, &vs) <= 0.9);
    assert_true(ks.values_encoded > 0 && vs.values_encoded > 0);
    close_fixture(&x);
}

static void kivi_keys_per_channel_should_keep_the_recall_that_row_groups_lose(void **state)
{
    (void)state;
    /* The hard model's shared K component is constant over tokens: per
     * channel along tokens (KIVI) it costs no range, along the row it
     * takes the 2-bit range from the codes. Measured at 1024 tokens, 60
     * samples: row groups 0.22, axis=token 1.00. */
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    synth_apply_hard(&c);
    fixture x;
    open_cfg(&x, &c);
    const codec_spec row = spec_of("affine:bits=2,group=32");
    const codec_spec tok = spec_of("affine:bits=2,group=32,axis=token");
    niah_cell cells[3];
    const int64_t ctx = 1024;
    const niah_opts o = {.mask_layers = 0, .kv_bits = 0, .use_ref = false, .kv_codec = &tok, .kv_codec_v = &row, .kv_error = false, .kv_codec_passthrough = false};
    const niah_cfg cfg = {&ctx, 1, DEPTHS, 3, 20, 1, 3, o, NULL, NULL, NULL, NULL, NULL, NULL};
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(niah_run(x.m, &cfg, cells, &e), KK_OK);
    int64_t hits = 0;
    for (int i = 0; i < 3; i++)
        hits += cells[i].hits;
    assert_true(hits >= 57); /* >= 0.95 */
    codec_stats ks, vs;
    assert_true(run_codec_recall(x.m, ctx, 20, 3, &row, &ks, &vs) <= 0.9);
    close_fixture(&x);
}

static void kv_bits_and_a_codec_together_should_be_refused(void **state)
{
    (void)state;
    fixture x;
    open_default(&x);
    const codec_spec s = spec_of("q4_0");
    const niah_opts o = {.mask_layers = 0, .kv_bits = 4, .use_ref = false, .kv_codec = &s, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
    niah_runner *r = NULL;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(niah_runner_init(&r, x.m, 64, &o, &e), KK_E_RANGE);
    assert_null(r);
    assert_non_null(strstr(e.msg, "exclusive"));
    /* a codec whose unit does not divide the row: refused by the cache */
    const codec_spec big = spec_of("e8:rotate=hadamard,dim=1024");
    const niah_opts ob = {.mask_layers = 0, .kv_bits = 0, .use_ref = false, .kv_codec = &big, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
    assert_int_equal(niah_runner_init(&r, x.m, 64, &ob, &e), KK_E_RANGE);
    assert_null(r);
    close_fixture(&x);
}


/* The one cache a runner reuses (kv_truncate to empty, then refill) must
 * give what a fresh runner gives for every sample, bit for bit: logits,
 * the per-sample codec counters and the K/V error sums. Samples of
 * different lengths in a row make a stale row or a stale KIVI residual
 * show; set_opts switching arms must leave nothing of the previous arm. */
typedef struct reuse_case {
    const char *k, *v;   /* codec specs; NULL: none */
    int32_t bits;        /* kv_bits */
    uint32_t mask;
} reuse_case;

static niah_opts reuse_opts(const reuse_case *c, codec_spec *ks, codec_spec *vs)
{
    niah_opts o = {.mask_layers = c->mask, .kv_bits = c->bits, .use_ref = false, .kv_codec = NULL, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
    if (c->k) {
        *ks = spec_of(c->k);
        o.kv_codec = ks;
        o.kv_error = true;
        if (c->v) {
            *vs = spec_of(c->v);
            o.kv_codec_v = vs;
        }
    }
    return o;
}

static void assert_same_result(const niah_result *a, const niah_result *b, const float *la,
                               const float *lb, int32_t V)
{
    assert_int_equal(a->answer, b->answer);
    assert_true(a->margin == b->margin);
    assert_int_equal(a->kv_bytes, b->kv_bytes);
    assert_int_equal(a->has_codec, b->has_codec);
    assert_memory_equal(&a->k_stats, &b->k_stats, sizeof a->k_stats);
    assert_memory_equal(&a->v_stats, &b->v_stats, sizeof a->v_stats);
    assert_int_equal(a->has_kv_err, b->has_kv_err);
    assert_true(a->k_err == b->k_err && a->k_ref == b->k_ref);
    assert_true(a->v_err == b->v_err && a->v_ref == b->v_ref);
    assert_memory_equal(la, lb, (size_t)V * sizeof(float));
}

static void a_reused_runner_should_give_what_a_fresh_runner_gives(void **state)
{
    (void)state;
    fixture x;
    open_default(&x);
    const reuse_case cases[] = {
        {NULL, NULL, 0, 0},
        {NULL, NULL, 3, 0},
        {NULL, NULL, 0, NIAH_MASK_ALL},
        {"q4_0", NULL, 0, 0},
        {"e8", NULL, 0, 0},
        {"affine:bits=2,group=32,axis=token", "affine:bits=2,group=32", 0, 0},
    };
    const int64_t lens[] = {256, 100, 256, 161};
    const int32_t V = x.m->hp.n_vocab;
    int32_t tok[256];
    float *la = malloc((size_t)V * sizeof(float)), *lb = malloc((size_t)V * sizeof(float));
    kk_err e;
    kk_err_clear(&e);
    niah_runner *switched = NULL;
    codec_spec k0, v0;
    const niah_opts first = reuse_opts(&cases[4], &k0, &v0);
    assert_int_equal(niah_runner_init(&switched, x.m, 256, &first, &e), KK_OK);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        codec_spec ks, vs;
        const niah_opts o = reuse_opts(&cases[c], &ks, &vs);
        niah_runner *reused = NULL;
        assert_int_equal(niah_runner_init(&reused, x.m, 256, &o, &e), KK_OK);
        /* The runner that served another arm first. */
        assert_int_equal(niah_runner_set_opts(switched, &o, &e), KK_OK);
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            niah_sample smp = {tok, lens[i], 0, 0, 0};
            assert_int_equal(niah_sample_make(&smp, 0.3, 2, 90 + i, &e), KK_OK);
            niah_runner *fresh = NULL;
            assert_int_equal(niah_runner_init(&fresh, x.m, 256, &o, &e), KK_OK);
            niah_result a, b, d;
            assert_int_equal(niah_runner_eval(fresh, &smp, &a, la, &e), KK_OK);
            assert_int_equal(niah_runner_eval(reused, &smp, &b, lb, &e), KK_OK);
            assert_same_result(&a, &b, la, lb, V);
            assert_int_equal(niah_runner_eval(switched, &smp, &d, lb, &e), KK_OK);
            assert_same_result(&a, &d, la, lb, V);
            /* A fresh cache's totals are this one sample's counters. */
            if (a.has_codec)
                assert_int_equal(niah_runner_codec_stats(fresh, 'k')->values_encoded,
                                 a.k_stats.values_encoded);
            assert_int_equal(a.has_kv_err, cases[c].k != NULL);
            niah_runner_free(fresh);
        }
        niah_runner_free(reused);
    }
    niah_runner_free(switched);
    free(la);
    free(lb);
    close_fixture(&x);
}

/* The probe of the last query (niah_result's mass_* and needle_exact_layers)
 * on one 512-token sample, needle at depth 0.3 (far outside a 64-token
 * window): the full cache holds the needle in both layers and restores
 * nothing; the bounded cache alone neither holds nor restores it; the
 * identity restoration puts it back, and the retrieval layer (1) puts
 * nearly all its mass there (the construction's match logit is 60 over
 * 512 positions); the previous-token layer (0) puts next to none. And the
 * probe agrees with a brute-force softmax over the fast path's view. */
static void the_probe_should_find_the_needle_where_the_cache_keeps_or_restores_it(void **state)
{
    (void)state;
    fixture x;
    open_default(&x);
    const kv_policy sw = {.kind = KV_POLICY_SINKWIN, .n_sink = 4, .window = 64};
    int32_t tok[512];
    kk_err e;
    kk_err_clear(&e);
    niah_sample smp = {tok, 512, 0, 0, 0};
    assert_int_equal(niah_sample_make(&smp, 0.3, 2, 7, &e), KK_OK);
    assert_true(smp.needle_pos + 1 < 512 - 64 && smp.needle_pos >= 4);
    niah_result rf, rn, ri;
    const niah_opts full = {0}, none = {.policy = &sw},
                    ident = {.policy = &sw, .restore = KV_RESTORE_IDENTITY};
    const niah_opts *os[3] = {&full, &none, &ident};
    niah_result *rs[3] = {&rf, &rn, &ri};
    for (int i = 0; i < 3; i++) {
        niah_runner *r = NULL;
        assert_int_equal(niah_runner_init(&r, x.m, 512, os[i], &e), KK_OK);
        assert_int_equal(niah_runner_eval(r, &smp, rs[i], NULL, &e), KK_OK);
        niah_runner_free(r);
        assert_int_equal(rs[i]->n_probe, 2);
    }
    assert_int_equal(rf.needle_exact_layers, 3u);
    assert_int_equal(rn.needle_exact_layers, 0u);
    assert_int_equal(ri.needle_exact_layers, 0u);
    for (int l = 0; l < 2; l++) {
        assert_true(rf.mass_restored[l] == 0.0 && rn.mass_restored[l] == 0.0);
        assert_true(rf.mass_needle[l] == 0.0 && rn.mass_needle[l] == 0.0);
    }
    if (!(ri.mass_needle[1] > 0.99 && ri.mass_restored[1] >= ri.mass_needle[1]))
        fail_msg("identity: layer 1 mass on the restored needle %g, on restored rows %g",
                 ri.mass_needle[1], ri.mass_restored[1]);
    if (!(ri.mass_needle[0] < 0.01))
        fail_msg("identity: layer 0 (previous token) mass on the needle %g", ri.mass_needle[0]);
    assert_int_equal(ri.answer, smp.expect);
    assert_int_equal(rn.answer == smp.expect, 0);
    close_fixture(&x);
}

/* fwd_attention_mass against a brute-force softmax: random q and view,
 * every other entry flagged restored, a window and a hidden entry. The
 * probe is a double loop like the reference, so they agree to rounding. */
static void attention_mass_should_match_a_brute_force_softmax(void **state)
{
    (void)state;
    enum { N = 40, H = 2, D = 8 };
    float q[H * D], k[N * D], v[N * D];
    int32_t pos[N];
    uint8_t rest[N], hid[N] = {0};
    uint64_t st = 99;
    for (int i = 0; i < H * D; i++)
        q[i] = (float)((double)((st = st * 6364136223846793005ULL + 1) >> 40) / (1 << 24) - 0.5) * 4;
    for (int i = 0; i < N * D; i++) {
        k[i] = (float)((double)((st = st * 6364136223846793005ULL + 1) >> 40) / (1 << 24) - 0.5);
        v[i] = k[i];
    }
    for (int j = 0; j < N; j++) {
        pos[j] = j;
        rest[j] = j % 2;
    }
    hid[5] = 1;
    const fwd_attn_shape sh = {H, 1, D, D, 30, hid, N, NULL};
    const kv_view view = {.n = N, .k = k, .v = v, .pos = pos, .k_stride = D, .v_stride = D,
                          .restored = rest};
    const int32_t watch[2] = {15, 16};
    double mr[H], mw[H];
    bool exact = false;
    fwd_attention_mass(&sh, q, N - 1, &view, watch, 2, mr, mw, &exact);
    assert_true(exact); /* 16 is held, visible (39 - 16 < 30) */
    for (int h = 0; h < H; h++) {
        double sc[N], mx = -INFINITY, sum = 0, wr = 0, ww = 0;
        for (int j = 0; j < N; j++) {
            sc[j] = -INFINITY;
            if (j == 5 || (N - 1) - j >= 30)
                continue;
            double d = 0;
            for (int t = 0; t < D; t++)
                d += (double)q[h * D + t] * k[j * D + t];
            sc[j] = d / sqrt((double)D);
            mx = sc[j] > mx ? sc[j] : mx;
        }
        for (int j = 0; j < N; j++)
            if (sc[j] > -INFINITY) {
                const double p = exp(sc[j] - mx);
                sum += p;
                wr += rest[j] ? p : 0;
                ww += (rest[j] && (j == 15 || j == 16)) ? p : 0;
            }
        assert_true(fabs(mr[h] - wr / sum) < 1e-12);
        assert_true(fabs(mw[h] - ww / sum) < 1e-12);
    }
    /* a dead KV head gets 0; a watched position outside the window is not exact */
    const uint8_t dead[1] = {1};
    const fwd_attn_shape sd = {H, 1, D, D, 20, hid, N, dead};
    fwd_attention_mass(&sd, q, N - 1, &view, watch, 2, mr, mw, &exact);
    assert_false(exact);
    assert_true(mr[0] == 0.0 && mr[1] == 0.0 && mw[0] == 0.0);
}

static void set_opts_should_refuse_bad_options_and_keep_the_old_ones(void **state)
{
    (void)state;
    fixture x;
    open_default(&x);
    const codec_spec s = spec_of("q4_0");
    const niah_opts good = {.mask_layers = 0, .kv_bits = 0, .use_ref = false, .kv_codec = &s, .kv_codec_v = NULL, .kv_error = true, .kv_codec_passthrough = false}, bad = {.mask_layers = 0, .kv_bits = 4, .use_ref = false, .kv_codec = &s, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
    niah_runner *r = NULL;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(niah_runner_init(&r, x.m, 64, &good, &e), KK_OK);
    assert_int_equal(niah_runner_set_opts(r, &bad, &e), KK_E_RANGE);
    assert_non_null(strstr(e.msg, "exclusive"));
    int32_t tok[64];
    niah_sample smp = {tok, 64, 0, 0, 0};
    assert_int_equal(niah_sample_make(&smp, 0.5, 1, 3, &e), KK_OK);
    niah_result res;
    assert_int_equal(niah_runner_eval(r, &smp, &res, NULL, &e), KK_OK);
    assert_true(res.has_codec);
    assert_true(res.has_kv_err);
    assert_true(res.k_err > 0.0 && res.k_ref > res.k_err);
    niah_runner_free(r);
    close_fixture(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(samples_should_follow_the_contract_layout),
        cmocka_unit_test(samples_should_depend_only_on_their_own_seed),
        cmocka_unit_test(a_cell_should_not_depend_on_the_order_samples_run_in),
        cmocka_unit_test(affine_noise_should_round_to_the_nearest_of_its_levels),
        cmocka_unit_test(masked_attention_should_match_the_naive_loop),
        cmocka_unit_test(fast_and_reference_paths_should_agree_on_samples),
        cmocka_unit_test(the_full_cache_should_recall_every_needle_at_1k),
        cmocka_unit_test(the_needle_hidden_from_the_retrieval_layer_should_be_lost),
        cmocka_unit_test(the_hard_setting_should_lose_recall_at_2_bits_and_keep_it_at_8),
        cmocka_unit_test(the_default_model_should_survive_2_bit_noise),
        cmocka_unit_test(q8_0_in_the_cache_should_keep_recall_1_and_run_the_codec),
        cmocka_unit_test(a_passthrough_codec_cache_should_count_nothing),
        cmocka_unit_test(identity_in_the_cache_should_give_the_full_caches_logits),
        cmocka_unit_test(a_destructive_codec_should_lower_recall_on_the_hard_model),
        cmocka_unit_test(kivi_keys_per_channel_should_keep_the_recall_that_row_groups_lose),
        cmocka_unit_test(kv_bits_and_a_codec_together_should_be_refused),
        cmocka_unit_test(a_reused_runner_should_give_what_a_fresh_runner_gives),
        cmocka_unit_test(set_opts_should_refuse_bad_options_and_keep_the_old_ones),
        cmocka_unit_test(the_probe_should_find_the_needle_where_the_cache_keeps_or_restores_it),
        cmocka_unit_test(attention_mass_should_match_a_brute_force_softmax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
