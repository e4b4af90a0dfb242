/* Tests of engine/synth: the default is the configuration the design note
 * checked, the file records its construction, knobs are checked, the
 * basis changes keep the function, copy mode is an induction model, and
 * the ballast (random FFN weights) keeps every answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "gguf_convert.h"
#include "niah.h"
#include "kk_rand.h"
#include "sample.h"
#include "synth.h"

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

/* Logits after a basis change vs before: the same function in exact
 * arithmetic. In float each product then sums up to d = 512 terms of a
 * dense basis instead of a few exact ones: at most about 512 * eps
 * relative to the 100-logit scale per product (6e-3 worst case);
 * measured max 2.3e-5. 1e-2 still catches any change of the function (a
 * wrong rotation moves logits by tens). */
#define ROT_LOGIT_TOL 1e-2

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

static void close_fixture(fixture *x)
{
    model_free(x->m);
    gguf_close(x->f);
    free(x->buf);
}

/* The last row's logits of tokens through a fresh full cache. */
static void last_logits(const model *m, const int32_t *tokens, int64_t n, float *logits)
{
    fwd_state *st = NULL;
    kv_cache *kv = NULL;
    const kv_config cfg = {m->hp.n_layers, m->hp.n_kv_heads, m->hp.head_dim_k,
                           m->hp.head_dim_v, n, 0};
    assert_int_equal(kv_full_init(&kv, &cfg, NULL), KK_OK);
    assert_int_equal(fwd_init(&st, m, n, n, NULL), KK_OK);
    assert_int_equal(fwd_run(st, kv, tokens, NULL, n, FWD_LOGITS_LAST, logits, NULL, NULL),
                     KK_OK);
    fwd_free(st);
    kv_free(kv);
}

static int32_t argmax(const float *x, int32_t n)
{
    int32_t b = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[b])
            b = i;
    return b;
}

/* Recall of n samples of ctx tokens at depth 0.5 (full cache). */
static int recall_hits(const model *m, int64_t ctx, int32_t distractors, int n)
{
    niah_runner *r = NULL;
    const niah_opts o = {0};
    assert_int_equal(niah_runner_init(&r, m, ctx, &o, NULL), KK_OK);
    int32_t *tokens = malloc((size_t)ctx * sizeof *tokens);
    int hits = 0;
    for (int i = 0; i < n; i++) {
        niah_sample s = {tokens, ctx, 0, 0, 0};
        assert_int_equal(niah_sample_make(&s, 0.5, distractors, niah_sample_seed(9, ctx, 0, i),
                                          NULL),
                         KK_OK);
        int32_t answer;
        double margin;
        assert_int_equal(eval_answer(r, &s, &answer, &margin, NULL, NULL), KK_OK);
        hits += answer == s.expect;
    }
    free(tokens);
    niah_runner_free(r);
    return hits;
}

/* The smallest margin of n samples (recall_hits' samples); *hits counts
 * the right answers. */
static double recall_min_margin(const model *m, int64_t ctx, int32_t distractors, int n,
                                int *hits)
{
    niah_runner *r = NULL;
    const niah_opts o = {0};
    assert_int_equal(niah_runner_init(&r, m, ctx, &o, NULL), KK_OK);
    int32_t *tokens = malloc((size_t)ctx * sizeof *tokens);
    double worst = INFINITY;
    *hits = 0;
    for (int i = 0; i < n; i++) {
        niah_sample s = {tokens, ctx, 0, 0, 0};
        assert_int_equal(niah_sample_make(&s, (i % 3 + 0.5) / 3.0, distractors,
                                          niah_sample_seed(9, ctx, 0, i), NULL),
                         KK_OK);
        int32_t answer;
        double margin;
        assert_int_equal(eval_answer(r, &s, &answer, &margin, NULL, NULL), KK_OK);
        *hits += answer == s.expect;
        worst = fmin(worst, margin);
    }
    free(tokens);
    niah_runner_free(r);
    return worst;
}

/* ---- the default ----------------------------------------------------------- */

static void default_model_should_be_the_configuration_checked_in_llama_cpp(void **state)
{
    (void)state;
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    fixture x;
    open_cfg(&x, &c);
    const model_hparams *hp = &x.m->hp;
    assert_int_equal(hp->arch, MODEL_ARCH_LLAMA);
    assert_int_equal(hp->n_layers, 2);
    assert_int_equal(hp->n_embd, 512);
    assert_int_equal(hp->n_heads, 4);
    assert_int_equal(hp->head_dim_k, 128);
    assert_int_equal(hp->n_rot, 128); /* full rotary: llama.cpp refuses less */
    assert_int_equal(hp->n_vocab, 256);
    assert_true(hp->rope_base == 1e6f);
    assert_false(hp->rope_neox);
    uint32_t u;
    assert_int_equal(gguf_get_u32(x.f, "kakeya.synth.key_dim", &u, NULL), KK_OK);
    assert_int_equal(u, 32);
    /* layer 0 uses the 14 pairs turning >= 0.05 rad per token; its worst
     * competitor stays under 0.93 of the peak up to 32k positions */
    assert_int_equal(gguf_get_u32(x.f, "kakeya.synth.stats.pos_pairs", &u, NULL), KK_OK);
    assert_int_equal(u, 14);
    float f;
    assert_int_equal(gguf_get_f32(x.f, "kakeya.synth.stats.pos_competitor", &f, NULL), KK_OK);
    assert_true(f > 0.5f && f < 0.93f);
    synth_info info;
    assert_int_equal(synth_read_info(x.f, &info, NULL), KK_OK);
    assert_int_equal(info.mode, SYNTH_MODE_NIAH);
    assert_int_equal(info.role, SYNTH_ROLE_VERIFIER);
    assert_int_equal(info.seed, 1);
    assert_int_equal(info.niah_distractors, 0);
    /* the checked logits: value 100, fallback 50, so a retrieved needle
     * wins by 50 */
    const int32_t t[] = {0, 5, 9, 130, 200, 17, 44, 1, 130};
    float logits[256];
    last_logits(x.m, t, 9, logits);
    assert_int_equal(argmax(logits, 256), 200);
    assert_true(fabs(logits[200] - 100.0) < 0.1);
    assert_true(fabs(logits[SYNTH_TOK_FALLBACK] - 50.0) < 0.1);
    close_fixture(&x);
}

static void the_same_configuration_should_give_the_same_bytes(void **state)
{
    (void)state;
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    c.rotate = SYNTH_ROT_ALL;
    c.n_outliers = 2;
    uint8_t *a, *b, *d;
    size_t na, nb, nd;
    assert_int_equal(synth_to_buffer(&c, &a, &na, NULL), KK_OK);
    assert_int_equal(synth_to_buffer(&c, &b, &nb, NULL), KK_OK);
    c.seed = 2;
    assert_int_equal(synth_to_buffer(&c, &d, &nd, NULL), KK_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    assert_true(na != nd || memcmp(a, d, na) != 0);
    free(a);
    free(b);
    free(d);
}

static void every_bad_knob_should_be_refused_naming_its_field_not_a_flag(void **state)
{
    (void)state;
    /* the synth_cfg field each broken knob below must be named by (the
     * engine names no program's flag: bin/kakeya maps these to its own) */
    static const char *const flags[] = {"key_dim", "n_embd", "head_dim",
                                        "beta", "key_dim", "n_outliers",
                                        "sliding_window", "pos_min_theta", "rope_base",
                                        "ballast_scale", "n_embd"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        synth_cfg c;
        synth_defaults(&c, SYNTH_ROLE_VERIFIER);
        switch (i) {
        case 0: c.key_dim = 31; break;                             /* odd: pairs */
        case 1: c.n_embd = 384; break;                             /* layout needs 385 */
        case 2: c.head_dim = 100; break;                           /* groups of 32 */
        case 3: c.beta = 0.0f; break;
        case 4: c.code_kind = SYNTH_CODE_ONEHOT; break;            /* 32 < 64 keys */
        case 5: c.n_outliers = 100; break;
        case 6: c.sliding_layers = 1; break;                       /* no window given */
        case 7: c.pos_min_theta = 2.0f; break;
        case 8: c.rope_base = 1.0f; break;
        case 9: c.ballast_scale = -0.5f; break;
        case 10: c.ballast_scale = 0.5f; c.n_embd = 385; break; /* no dim past CONST */
        }
        kk_err e;
        kk_err_clear(&e);
        assert_int_equal(synth_check(&c, &e), KK_E_RANGE);
        assert_string_equal(e.where, flags[i]);
        assert_memory_equal(e.msg, flags[i], strlen(flags[i]));
        assert_null(strstr(e.msg, "--"));
    }
    /* the shared K component needs free dims in the codes' group of 32 */
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    c.shared_k = 8.0f;
    kk_err e;
    assert_int_equal(synth_check(&c, &e), KK_E_RANGE);
    assert_string_equal(e.where, "key_dim");
    assert_non_null(strstr(e.msg, "with shared_k"));
    assert_null(strstr(e.msg, "--"));
}

static void rotate_names_should_round_trip(void **state)
{
    (void)state;
    const char *forms[] = {"none", "all", "residual", "pairs,values", "residual,values"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        uint32_t r;
        char buf[48];
        assert_int_equal(synth_parse_rotate("--rotate", forms[i], &r, NULL), KK_OK);
        assert_string_equal(synth_rotate_str(r, buf, sizeof buf), forms[i]);
    }
    uint32_t r;
    kk_err e;
    assert_int_equal(synth_parse_rotate("--rotate", "pairs,", &r, &e), KK_E_RANGE);
    assert_int_equal(synth_parse_rotate("--rotate", "spin", &r, &e), KK_E_RANGE);
    assert_string_equal(e.where, "--rotate");
}

/* ---- knobs that keep the function ------------------------------------------------ */

static void basis_rotations_and_outliers_should_keep_every_logit(void **state)
{
    (void)state;
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    c.niah_distractors = 3;
    fixture base;
    open_cfg(&base, &c);
    enum { N = 200 };
    int32_t tokens[N];
    niah_sample s = {tokens, N, 0, 0, 0};
    assert_int_equal(niah_sample_make(&s, 0.3, 3, 77, NULL), KK_OK);
    float want[256], got[256];
    last_logits(base.m, tokens, N, want);
    assert_int_equal(argmax(want, 256), s.expect);
    const uint32_t rots[] = {SYNTH_ROT_RESIDUAL, SYNTH_ROT_PAIRS, SYNTH_ROT_VALUES, SYNTH_ROT_ALL};
    for (size_t i = 0; i <= sizeof rots / sizeof rots[0]; i++) {
        synth_cfg r = c;
        if (i < sizeof rots / sizeof rots[0]) {
            r.rotate = rots[i];
        } else { /* outlier pairs: K x 8, q / 8 */
            r.rotate = SYNTH_ROT_ALL;
            r.n_outliers = 3;
        }
        fixture x;
        open_cfg(&x, &r);
        last_logits(x.m, tokens, N, got);
        double worst = 0.0;
        for (int t = 0; t < 256; t++)
            worst = fmax(worst, fabs((double)got[t] - want[t]));
        assert_true(worst < ROT_LOGIT_TOL);
        close_fixture(&x);
    }
    /* The residual rotation makes the weights dense, as in trained models:
     * layer 1's query rows of the codes (head dims 96..127) read 64 of
     * the 512 residual dims before it, nearly all of them after. */
    synth_cfg r = c;
    r.rotate = SYNTH_ROT_RESIDUAL;
    fixture x;
    open_cfg(&x, &r);
    int64_t nonzero = 0;
    for (int64_t i = 96 * 512; i < 128 * 512; i++)
        nonzero += x.m->layers[1].wq.f32[i] != 0.0f;
    assert_true(nonzero > 32 * 512 * 9 / 10);
    close_fixture(&x);
    close_fixture(&base);
}

static void the_hard_setting_and_the_proposer_should_retrieve_with_the_full_cache(void **state)
{
    (void)state;
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    synth_apply_hard(&c);
    fixture x;
    open_cfg(&x, &c);
    assert_int_equal(recall_hits(x.m, 300, 3, 10), 10);
    close_fixture(&x);
    synth_defaults(&c, SYNTH_ROLE_PROPOSER);
    open_cfg(&x, &c);
    assert_int_equal(x.m->hp.n_embd, 448);
    assert_int_equal(x.m->hp.n_heads, 2);
    synth_info info;
    assert_int_equal(synth_read_info(x.f, &info, NULL), KK_OK);
    assert_int_equal(info.role, SYNTH_ROLE_PROPOSER);
    assert_int_equal(recall_hits(x.m, 300, 0, 10), 10);
    close_fixture(&x);
}

static void one_hot_codes_at_a_large_base_should_retrieve(void **state)
{
    (void)state;
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    c.code_kind = SYNTH_CODE_ONEHOT;
    c.key_dim = 64;
    c.rope_base = 1e9f;
    fixture x;
    open_cfg(&x, &c);
    assert_int_equal(recall_hits(x.m, 300, 2, 10), 10);
    close_fixture(&x);
}

static void windows_should_round_trip_through_the_metadata(void **state)
{
    (void)state;
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    c.sliding_window = 64;
    c.sliding_layers = 1; /* layer 0: it only looks one token back */
    fixture x;
    open_cfg(&x, &c);
    synth_info info;
    assert_int_equal(synth_read_info(x.f, &info, NULL), KK_OK);
    assert_int_equal(info.sliding_window, 64);
    assert_int_equal(info.sliding_layers, 1);
    synth_apply_windows(x.m, &info);
    assert_int_equal(x.m->layers[0].sliding_window, 64);
    assert_int_equal(x.m->layers[1].sliding_window, 0);
    /* the natural hybrid keeps recall: layer 1 stays global */
    assert_int_equal(recall_hits(x.m, 300, 0, 5), 5);
    /* a window on the retrieval layer loses a needle far back */
    info.sliding_layers = 2;
    synth_apply_windows(x.m, &info);
    assert_int_equal(recall_hits(x.m, 300, 0, 5), 0);
    close_fixture(&x);
}

static void a_file_without_the_synth_keys_should_be_refused(void **state)
{
    (void)state;
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    gguf_writer *w = NULL;
    assert_int_equal(synth_build(&c, &w, NULL), KK_OK);
    gguf_writer_free(w);
    /* a plain buffer with only a name */
    gguf_writer *p = gguf_writer_init(3, GGUF_DEFAULT_ALIGNMENT);
    assert_int_equal(gguf_writer_set_str(p, "general.name", "x"), KK_OK);
    uint8_t *buf;
    size_t len;
    assert_int_equal(gguf_writer_to_buffer(p, &buf, &len, NULL), KK_OK);
    gguf_file *f = NULL;
    assert_int_equal(gguf_parse_buffer(&f, buf, len, "plain.gguf", NULL), KK_OK);
    synth_info info;
    kk_err e;
    assert_int_equal(synth_read_info(f, &info, &e), KK_E_MISSING);
    assert_string_equal(e.where, "kakeya.synth.mode");
    gguf_close(f);
    free(buf);
    gguf_writer_free(p);
}

/* ---- copy mode ----------------------------------------------------------------- */

static void copy_mode_should_continue_a_repeated_text(void **state)
{
    (void)state;
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    c.mode = SYNTH_MODE_COPY;
    fixture x;
    open_cfg(&x, &c);
    /* BOS, 80 distinct tokens, then the first k of them again: the next
     * token is the one that followed the k-th the first time. */
    enum { L = 80 };
    int32_t t[1 + L + L];
    t[0] = SYNTH_TOK_BOS;
    for (int i = 0; i < L; i++)
        t[1 + i] = 2 + (37 * i) % 250; /* distinct: 37 is prime to 250 */
    float logits[256];
    for (int k = 5; k <= 60; k += 11) {
        for (int i = 0; i < k; i++)
            t[1 + L + i] = t[1 + i];
        last_logits(x.m, t, 1 + L + k, logits);
        assert_int_equal(argmax(logits, 256), t[1 + k]);
    }
    close_fixture(&x);
}

/* ---- ballast -------------------------------------------------------------------- */

/* The copy model of the ballast tests: d 512 (95 dims past the layout),
 * FFN 256 (a multiple of Q8_0's block). */
static void ballast_cfg(synth_cfg *c, synth_mode mode, float scale)
{
    synth_defaults(c, SYNTH_ROLE_VERIFIER);
    c->mode = mode;
    c->n_ff = 256;
    c->ballast_scale = scale;
}

/* Greedy ids after the prompt, one decode step per token; *top0 the
 * largest logit after the prompt. */
static void greedy(const model *m, const int32_t *prompt, int64_t np, int n, int32_t *out,
                   float *top0)
{
    fwd_state *st = NULL;
    kv_cache *kv = NULL;
    const kv_config cfg = {m->hp.n_layers, m->hp.n_kv_heads, m->hp.head_dim_k,
                           m->hp.head_dim_v, np + n, 0};
    float logits[SYNTH_N_VOCAB];
    assert_int_equal(kv_full_init(&kv, &cfg, NULL), KK_OK);
    assert_int_equal(fwd_init(&st, m, np, np + n, NULL), KK_OK);
    assert_int_equal(fwd_run(st, kv, prompt, NULL, np, FWD_LOGITS_LAST, logits, NULL, NULL),
                     KK_OK);
    *top0 = logits[sample_greedy(logits, SYNTH_N_VOCAB)];
    for (int i = 0; i < n; i++) {
        out[i] = sample_greedy(logits, SYNTH_N_VOCAB);
        if (i + 1 < n)
            assert_int_equal(fwd_run(st, kv, &out[i], NULL, 1, FWD_LOGITS_LAST, logits, NULL,
                                     NULL),
                             KK_OK);
    }
    fwd_free(st);
    kv_free(kv);
}

/* Nonzero values of an F32 weight. */
static int64_t nonzero(const ops_weight *w)
{
    int64_t n = 0;
    for (int64_t i = 0; i < w->rows * w->cols; i++)
        n += w->f32[i] != 0.0f;
    return n;
}

static void a_ballast_should_keep_every_greedy_answer_of_the_copy_model(void **state)
{
    (void)state;
    synth_cfg c;
    ballast_cfg(&c, SYNTH_MODE_COPY, 0.0f);
    fixture plain, heavy;
    open_cfg(&plain, &c);
    c.ballast_scale = 0.5f; /* estimated: answer margin 37.7 of 50 */
    open_cfg(&heavy, &c);
    /* the ballast is there: dense gate and up, down on the 95 free rows */
    const int64_t ff = c.n_ff, d = c.n_embd;
    for (int l = 0; l < SYNTH_N_LAYERS; l++) {
        const model_layer *L = &heavy.m->layers[l];
        assert_true(nonzero(&L->ffn_gate) > ff * d * 99 / 100);
        assert_true(nonzero(&L->ffn_up) > ff * d * 99 / 100);
        assert_true(nonzero(&L->ffn_down) > ff * 95 * 99 / 100);
        assert_int_equal(nonzero(&plain.m->layers[l].ffn_down), 0);
    }
    /* and every other tensor keeps its bytes */
    for (uint64_t i = 0; i < plain.f->n_tensors; i++) {
        const gguf_tensor *a = &plain.f->tensors[i];
        char name[64];
        gguf_str_copy(a->name, name, sizeof name);
        if (strstr(name, "ffn_gate") || strstr(name, "ffn_up") || strstr(name, "ffn_down"))
            continue;
        const gguf_tensor *b = gguf_get_tensor(heavy.f, name);
        assert_non_null(b);
        assert_int_equal(a->n_bytes, b->n_bytes);
        assert_memory_equal(a->data, b->data, a->n_bytes);
    }
    /* The same Q8_0 conversion `kakeya model convert` writes. */
    uint8_t *qbuf = NULL;
    size_t qlen = 0;
    gguf_file *qf = NULL;
    model *qm = NULL;
    assert_int_equal(gguf_convert_to_buffer(heavy.f, DTYPE_Q8_0, &qbuf, &qlen, NULL), KK_OK);
    assert_int_equal(gguf_parse_buffer(&qf, qbuf, qlen, "q8.gguf", NULL), KK_OK);
    assert_int_equal(model_load(&qm, qf, NULL), KK_OK);
    /* Copy prompts: BOS, L distinct tokens, then their first k again; the
     * induction continuation is the rest of the L tokens. */
    enum { L = 64, N = 40 };
    for (uint64_t seed = 1; seed <= 4; seed++) {
        int32_t perm[SYNTH_N_VOCAB - 2], prompt[1 + L + L];
        for (int i = 0; i < SYNTH_N_VOCAB - 2; i++)
            perm[i] = 2 + i;
        uint64_t r = seed;
        for (int i = SYNTH_N_VOCAB - 3; i > 0; i--) { /* Fisher-Yates */
            const int j = (int)(kk_splitmix64(&r) % (uint64_t)(i + 1));
            const int32_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        const int k = 4 + (int)seed * 3;
        prompt[0] = SYNTH_TOK_BOS;
        for (int i = 0; i < L; i++)
            prompt[1 + i] = perm[i];
        for (int i = 0; i < k; i++)
            prompt[1 + L + i] = perm[i];
        int32_t want[N], got[N], q8[N];
        float top_plain, top_heavy, top_q8;
        greedy(plain.m, prompt, 1 + L + k, N, want, &top_plain);
        greedy(heavy.m, prompt, 1 + L + k, N, got, &top_heavy);
        greedy(qm, prompt, 1 + L + k, N, q8, &top_q8);
        for (int i = 0; i < N; i++)
            assert_int_equal(want[i], perm[k + i]); /* the model copies */
        assert_memory_equal(got, want, sizeof want);
        assert_memory_equal(q8, want, sizeof want);
        /* the ballast went through the forward pass: RMSNorm shrank the
         * logits (a no-op FFN would leave them as they were) */
        assert_true(top_heavy < top_plain - 0.1f);
    }
    model_free(qm);
    gguf_close(qf);
    free(qbuf);
    close_fixture(&heavy);
    close_fixture(&plain);
}

static void a_ballast_should_keep_niah_recall_and_report_its_margins(void **state)
{
    (void)state;
    synth_cfg c;
    ballast_cfg(&c, SYNTH_MODE_NIAH, 0.0f);
    c.niah_distractors = 2;
    fixture plain, heavy;
    open_cfg(&plain, &c);
    c.ballast_scale = 0.5f;
    gguf_writer *w = NULL;
    synth_ballast_report rep;
    assert_int_equal(synth_build_report(&c, &w, &rep, NULL), KK_OK);
    gguf_writer_free(w);
    open_cfg(&heavy, &c);
    int hits_plain, hits_heavy;
    const double m_plain = recall_min_margin(plain.m, 300, 2, 9, &hits_plain);
    const double m_heavy = recall_min_margin(heavy.m, 300, 2, 9, &hits_heavy);
    assert_int_equal(hits_plain, 9);
    assert_int_equal(hits_heavy, 9);
    /* The estimate: the factors shrink the margin but keep more than
     * SYNTH_BALLAST_KEEP of it; measured margins sit above it (the
     * estimate takes every factor at its worst token). */
    assert_true(rep.attn_scale < 1.0 && rep.logit_scale < 1.0);
    assert_true(rep.margin >= SYNTH_BALLAST_KEEP * rep.margin_free);
    assert_true(fabs(m_plain - 50.0) < 0.1);
    assert_true(m_heavy < m_plain - 0.1);
    assert_true(m_heavy >= rep.margin);
    /* the file records the knob and the report; a file without ballast
     * has neither (its bytes are those of before the knob) */
    float f;
    assert_int_equal(gguf_get_f32(heavy.f, "kakeya.synth.ballast_scale", &f, NULL), KK_OK);
    assert_true(f == 0.5f);
    assert_int_equal(gguf_get_f32(heavy.f, "kakeya.synth.stats.ballast_margin", &f, NULL), KK_OK);
    assert_true(fabs(f - rep.margin) < 1e-3);
    assert_true(gguf_find_key(plain.f, "kakeya.synth.ballast_scale") < 0);
    assert_true(gguf_find_key(plain.f, "kakeya.synth.stats.ballast_margin") < 0);
    close_fixture(&heavy);
    close_fixture(&plain);
}

static void a_ballast_that_would_cost_half_a_margin_should_be_refused(void **state)
{
    (void)state;
    synth_cfg c;
    ballast_cfg(&c, SYNTH_MODE_COPY, 2.0f); /* estimated margin 0.18 of 50 */
    uint8_t *buf = NULL;
    size_t len = 0;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(synth_to_buffer(&c, &buf, &len, &e), KK_E_RANGE);
    assert_null(buf);
    assert_string_equal(e.where, "ballast_scale");
    assert_memory_equal(e.msg, "ballast_scale", strlen("ballast_scale"));
}

static void a_residual_rotation_should_keep_the_ballast_s_logits(void **state)
{
    (void)state;
    synth_cfg c;
    ballast_cfg(&c, SYNTH_MODE_COPY, 0.5f);
    fixture base, rot;
    open_cfg(&base, &c);
    c.rotate = SYNTH_ROT_ALL;
    open_cfg(&rot, &c);
    int32_t t[1 + 50 + 10];
    t[0] = SYNTH_TOK_BOS;
    for (int i = 0; i < 50; i++)
        t[1 + i] = 2 + (37 * i) % 250;
    for (int i = 0; i < 10; i++)
        t[51 + i] = t[1 + i];
    float want[SYNTH_N_VOCAB], got[SYNTH_N_VOCAB];
    last_logits(base.m, t, 61, want);
    last_logits(rot.m, t, 61, got);
    double worst = 0.0;
    for (int i = 0; i < SYNTH_N_VOCAB; i++)
        worst = fmax(worst, fabs((double)got[i] - want[i]));
    assert_true(worst < ROT_LOGIT_TOL);
    assert_int_equal(argmax(got, SYNTH_N_VOCAB), t[11]);
    close_fixture(&rot);
    close_fixture(&base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_model_should_be_the_configuration_checked_in_llama_cpp),
        cmocka_unit_test(the_same_configuration_should_give_the_same_bytes),
        cmocka_unit_test(every_bad_knob_should_be_refused_naming_its_field_not_a_flag),
        cmocka_unit_test(rotate_names_should_round_trip),
        cmocka_unit_test(basis_rotations_and_outliers_should_keep_every_logit),
        cmocka_unit_test(the_hard_setting_and_the_proposer_should_retrieve_with_the_full_cache),
        cmocka_unit_test(one_hot_codes_at_a_large_base_should_retrieve),
        cmocka_unit_test(windows_should_round_trip_through_the_metadata),
        cmocka_unit_test(a_file_without_the_synth_keys_should_be_refused),
        cmocka_unit_test(copy_mode_should_continue_a_repeated_text),
        cmocka_unit_test(a_ballast_should_keep_every_greedy_answer_of_the_copy_model),
        cmocka_unit_test(a_ballast_should_keep_niah_recall_and_report_its_margins),
        cmocka_unit_test(a_ballast_that_would_cost_half_a_margin_should_be_refused),
        cmocka_unit_test(a_residual_rotation_should_keep_the_ballast_s_logits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
