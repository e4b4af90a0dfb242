/* Tests of engine/forward and engine/ops: fast paths against the _ref
 * paths, and the forward call's modes (prefill, decode, chunks, capture)
 * against each other, on random models built in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "forward.h"
#include "ftheta_calib.h"
#include "kv_restored.h"
#include "kv_sinkwin.h"
#include "matmul.h"
#include "model_random.h"
#include "ops.h"
#include "sample.h"

/* ---- tolerances (why each bound holds) --------------------------------- */

/* A float dot product of n terms is within gamma_n = n*u/(1-n*u) of the
 * exact one, relative to sum |w_i x_i| (Higham, Accuracy and Stability of
 * Numerical Algorithms, 2nd ed., eq. 3.5); u = FLT_EPSILON/2. We use n*eps
 * (twice that) since BLAS may block and reorder the sum. */
#define MATMUL_REL_TOL(n) ((double)(n) * FLT_EPSILON)

/* Attention: scores carry the dot-product error above (head dim 16:
 * < 16*eps relative), exp and the normalization add a few ulp, and the
 * output is a convex combination of V rows (|v| < 1 here), so the error
 * stays near float resolution: measured max 8.9e-8 on these shapes; 1e-5
 * keeps two orders of magnitude of margin and still fails on one wrongly
 * masked entry (the last test below: > 1e-3). */
#define ATT_ABS_TOL 1e-5

/* Whole forward, BLAS vs reference kernels, on the random models below
 * (logits of magnitude ~10: output rows of std 1 over d = 64): float
 * rounding through 2 layers, about 1e-6 relative; measured max 1.3e-5.
 * 5e-4 leaves margin for other BLAS builds yet catches any wrong index or
 * mask (errors of order 0.1 and more). */
#define FWD_LOGIT_TOL 5e-4

/* Prefill in one call vs token by token: the same arithmetic up to BLAS
 * blocking (GEMM vs GEMV) and chunking; measured max 1.4e-5 on the same
 * logit scale, bound as above. */
#define MODE_LOGIT_TOL 5e-4

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static float rng_unif(uint64_t *s) /* [-1, 1) */
{
    return (float)(rng_next(s) % 2000001) / 1000000.0f - 1.0f;
}

/* ---- a random model in memory ------------------------------------------- */

typedef struct fixture {
    uint8_t *buf;
    size_t len;
    gguf_file *f;
    model *m;
} fixture;

static void fixture_open(fixture *x, model_arch arch, int32_t head_dim, bool tied)
{
    model_random_cfg c;
    model_random_defaults(&c);
    c.seed = 7;
    c.arch = arch;
    c.head_dim = head_dim;
    c.tied = tied;
    c.n_ctx = 256;
    kk_err e;
    assert_int_equal(model_random_to_buffer(&c, &x->buf, &x->len, &e), KK_OK);
    assert_int_equal(gguf_parse_buffer(&x->f, x->buf, x->len, "random.gguf", &e), KK_OK);
    assert_int_equal(model_load(&x->m, x->f, &e), KK_OK);
}

static void fixture_close(fixture *x)
{
    model_free(x->m);
    gguf_close(x->f);
    free(x->buf);
}

static kv_cache *cache_typed(const model *m, int64_t n_ctx, bool f16)
{
    const kv_config cfg = {m->hp.n_layers, m->hp.n_kv_heads, m->hp.head_dim_k,
                           m->hp.head_dim_v, n_ctx, 0};
    kv_cache *c = NULL;
    assert_int_equal(f16 ? kv_full_f16_init(&c, &cfg, NULL) : kv_full_init(&c, &cfg, NULL),
                     KK_OK);
    return c;
}

static kv_cache *cache_for(const model *m, int64_t n_ctx) { return cache_typed(m, n_ctx, false); }

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || isnan(d))
            m = isnan(d) ? INFINITY : d;
    }
    return m;
}

/* ---- ops ------------------------------------------------------------------ */

static void matmul_should_match_the_triple_loop_within_the_dot_product_bound(void **state)
{
    (void)state;
    uint64_t s = 1;
    const int64_t rows = 37, cols = 70;
    float *w = malloc(rows * cols * sizeof(float)), x[5 * 70], y[5 * 37], yr[5 * 37];
    for (int64_t i = 0; i < rows * cols; i++)
        w[i] = rng_unif(&s);
    for (int64_t i = 0; i < 5 * cols; i++)
        x[i] = rng_unif(&s);
    const ops_weight W = {DTYPE_F32, rows, cols, w, w, OPS_ACT_F32};
    for (int64_t n = 1; n <= 5; n += 4) { /* GEMV and GEMM */
        ops_matmul(&W, x, y, n);
        ops_matmul_ref(&W, x, yr, n);
        for (int64_t t = 0; t < n; t++)
            for (int64_t r = 0; r < rows; r++) {
                double mag = 0.0;
                for (int64_t c = 0; c < cols; c++)
                    mag += fabs((double)w[r * cols + c] * x[t * cols + c]);
                assert_true(fabs((double)y[t * rows + r] - yr[t * rows + r]) <=
                            MATMUL_REL_TOL(cols) * mag);
            }
    }
    free(w);
}

/* OPS_ACT_GGML rounds x before the product, so it differs from the exact
 * product of the same (dequantized) weights by the rounding of x:
 * Q8_0: each x_j moves by at most d/2 from rounding to a quant plus
 *   127 * |d - fp16(d)| <= 127 * d * 2^-11 from the stored scale, where
 *   d = amax(block)/127: in all < 0.6 d;
 * F16: each x_j moves by at most |x_j| * 2^-11.
 * The bound sums |w_j| times that, plus the float dot-product bound. */
static void ggml_activation_products_should_stay_within_the_rounding_of_x(void **state)
{
    (void)state;
    uint64_t s = 5;
    enum { ROWS = 19, COLS = 96, N = 3 };
    float *w = malloc(ROWS * COLS * sizeof(float)), *wd = malloc(ROWS * COLS * sizeof(float));
    float x[N * COLS], y[N * ROWS], yr[N * ROWS];
    for (int i = 0; i < ROWS * COLS; i++)
        w[i] = rng_unif(&s);
    for (int i = 0; i < N * COLS; i++)
        x[i] = 3.0f * rng_unif(&s);
    dtype_block_q8_0 *q = malloc(ROWS * (COLS / 32) * sizeof *q);
    dtype_quantize_row_q8_0_ref(w, q, ROWS * COLS);
    dtype_to_f32_row(DTYPE_Q8_0, q, wd, ROWS * COLS);
    uint16_t *h = malloc(ROWS * COLS * sizeof *h);
    float *wh = malloc(ROWS * COLS * sizeof(float));
    for (int i = 0; i < ROWS * COLS; i++) {
        h[i] = dtype_f32_to_f16(w[i]);
        wh[i] = dtype_f16_to_f32(h[i]);
    }
    for (int kind = 0; kind < 2; kind++) {
        const float *wf = kind == 0 ? wd : wh;
        const ops_weight W = {kind == 0 ? DTYPE_Q8_0 : DTYPE_F16, ROWS, COLS,
                              kind == 0 ? (const void *)q : (const void *)h, wf, OPS_ACT_GGML};
        ops_matmul(&W, x, y, N);
        ops_matmul_ref(&W, x, yr, N);
        double max_seen = 0.0;
        for (int t = 0; t < N; t++)
            for (int r = 0; r < ROWS; r++) {
                double bound = 0.0, mag = 0.0;
                for (int b = 0; b < COLS / 32; b++) {
                    double amax = 0.0;
                    for (int j = 0; j < 32; j++)
                        amax = fmax(amax, fabs(x[t * COLS + b * 32 + j]));
                    for (int j = b * 32; j < b * 32 + 32; j++) {
                        const double wx = fabs((double)wf[r * COLS + j]);
                        const double dxj = kind == 0 ? 0.6 * amax / 127.0
                                                     : fabs(x[t * COLS + j]) / 2048.0;
                        bound += wx * dxj;
                        mag += wx * fabs(x[t * COLS + j]);
                    }
                }
                bound += MATMUL_REL_TOL(COLS) * mag;
                const double d = fabs((double)y[t * ROWS + r] - yr[t * ROWS + r]);
                assert_true(d <= bound);
                max_seen = fmax(max_seen, d);
            }
        assert_true(max_seen > 0.0); /* x really was rounded */
    }
    free(w);
    free(wd);
    free(q);
    free(h);
    free(wh);
}

static void rope_should_match_its_reference_and_keep_the_norm(void **state)
{
    (void)state;
    uint64_t s = 3;
    float inv[16];
    ops_rope_freqs(inv, 32, 10000.0f);
    for (int neox = 0; neox < 2; neox++)
        for (int32_t pos = 0; pos < 300; pos += 37) {
            float a[32], b[32];
            double n0 = 0.0, n1 = 0.0;
            for (int i = 0; i < 32; i++) {
                a[i] = b[i] = rng_unif(&s);
                n0 += (double)a[i] * a[i];
            }
            ops_rope(a, 32, pos, inv, neox);
            ops_rope_ref(b, 32, pos, 10000.0f, neox);
            for (int i = 0; i < 32; i++)
                n1 += (double)a[i] * a[i];
            /* float angles pos*inv_freq: |pos| < 300 loses < 300*eps rad */
            assert_true(max_abs_diff(a, b, 32) < 1e-4);
            assert_true(fabs(n0 - n1) < 1e-4 * n0); /* a rotation */
        }
    /* llama pairs (0,1); neox pairs (0, n/2): pos 1 moves different slots */
    float x[4] = {1, 0, 0, 0}, y[4] = {1, 0, 0, 0};
    ops_rope_ref(x, 4, 1, 10000.0f, false);
    ops_rope_ref(y, 4, 1, 10000.0f, true);
    assert_true(fabs(x[1] - sinf(1.0f)) < 1e-6 && x[2] == 0.0f);
    assert_true(fabs(y[2] - sinf(1.0f)) < 1e-6 && y[1] == 0.0f);
}

static void softmax_should_ignore_masked_entries_and_sum_to_one(void **state)
{
    (void)state;
    float x[5] = {1.0f, -INFINITY, 3.0f, 2.0f, -INFINITY};
    ops_softmax(x, 5);
    assert_true(x[1] == 0.0f && x[4] == 0.0f);
    assert_true(fabs((double)x[0] + x[2] + x[3] - 1.0) < 1e-6);
    assert_true(x[2] > x[3] && x[3] > x[0]);
    float y[2] = {-INFINITY, -INFINITY};
    ops_softmax(y, 2);
    assert_true(y[0] == 0.0f && y[1] == 0.0f);
}

/* ---- attention -------------------------------------------------------------- */

static void attention_should_match_the_naive_triple_loop_with_gqa_masks_and_windows(void **state)
{
    (void)state;
    uint64_t s = 11;
    enum { NK = 150, NQ = 70, H = 4, KH = 2, DK = 16, DV = 8 };
    float *k = malloc(NK * KH * DK * sizeof(float)), *v = malloc(NK * KH * DV * sizeof(float));
    float *q = malloc(NQ * H * DK * sizeof(float));
    float *o = malloc(NQ * H * DV * sizeof(float)), *or = malloc(NQ * H * DV * sizeof(float));
    int32_t kpos[NK], qpos[NQ];
    for (int i = 0; i < NK * KH * DK; i++)
        k[i] = rng_unif(&s);
    for (int i = 0; i < NK * KH * DV; i++)
        v[i] = rng_unif(&s);
    for (int i = 0; i < NQ * H * DK; i++)
        q[i] = 2.0f * rng_unif(&s);
    /* Entries in a scrambled order (as a ring or a sink+window cache may
     * hold them): position 7*i mod 151 is a permutation of 0..150. */
    for (int i = 0; i < NK; i++)
        kpos[i] = (int32_t)((7 * i) % 151);
    for (int i = 0; i < NQ; i++)
        qpos[i] = 80 + i; /* each query sees the entries at <= its position */
    const kv_view view = {NK, k, v, kpos, KH * DK, KH * DV, NULL, NULL, 0, 0, NULL};
    for (int32_t window = 0; window <= 20; window += 20) {
        const fwd_attn_shape sh = {.n_heads = H, .n_kv_heads = KH, .head_dim_k = DK, .head_dim_v = DV, .window = window};
        assert_true(fwd_attention(&sh, q, qpos, NQ, &view, o) == KK_OK);
        fwd_attention_ref(&sh, q, qpos, NQ, &view, or);
        assert_true(max_abs_diff(o, or, NQ * H * DV) < ATT_ABS_TOL);
    }
    /* The oracle bites: a mask that lets one future entry through differs. */
    kpos[0] = 149; /* now at a position most queries must not see */
    const fwd_attn_shape sh = {.n_heads = H, .n_kv_heads = KH, .head_dim_k = DK, .head_dim_v = DV, .window = 0};
    assert_true(fwd_attention(&sh, q, qpos, NQ, &view, o) == KK_OK);
    kpos[0] = 0;
    fwd_attention_ref(&sh, q, qpos, NQ, &view, or);
    assert_true(max_abs_diff(o, or, NQ * H * DV) > 1e-3);
    free(k);
    free(v);
    free(q);
    free(o);
    free(or);
}

/* The fast path's kernels (matmul_f32_nt scores, matmul_f32_nn P.V; their
 * F16 twins on an F16 view, against the reference reading the same F16
 * rows) at every SIMD level the CPU has, 1 and 3 threads, a full cache's ascending
 * positions (the causal range cut) with 1..70 queries (decode, verify,
 * chunks of 64 and a ragged one), head dims 64 / 40 (dv not a multiple of
 * the vector width). Tolerance as above (ATT_ABS_TOL); the thread count
 * must not change a bit. */
static void attention_should_match_the_reference_at_every_level_and_thread_count(void **state)
{
    (void)state;
    uint64_t s = 29;
    enum { NK = 140, H = 4, KH = 2, DK = 64, DV = 40, NQMAX = 70 };
    float *k = malloc(NK * KH * DK * sizeof(float)), *v = malloc(NK * KH * DV * sizeof(float));
    float *q = malloc(NQMAX * H * DK * sizeof(float));
    float *o = malloc(NQMAX * H * DV * sizeof(float)), *o3 = malloc(NQMAX * H * DV * sizeof(float));
    float *or = malloc(NQMAX * H * DV * sizeof(float));
    int32_t kpos[NK], qpos[NQMAX];
    for (int i = 0; i < NK * KH * DK; i++)
        k[i] = rng_unif(&s);
    for (int i = 0; i < NK * KH * DV; i++)
        v[i] = rng_unif(&s);
    for (int i = 0; i < NQMAX * H * DK; i++)
        q[i] = 0.5f * rng_unif(&s);
    for (int i = 0; i < NK; i++)
        kpos[i] = i;
    /* the same rows as an F16 cache holds them (kv_full_f16) */
    uint16_t *k16 = malloc(NK * KH * DK * sizeof(uint16_t));
    uint16_t *v16 = malloc(NK * KH * DV * sizeof(uint16_t));
    dtype_f32_to_f16_row(k, k16, NK * KH * DK);
    dtype_f32_to_f16_row(v, v16, NK * KH * DV);
    const int nqs[] = {1, 2, 5, 8, 16, 64, 70};
    for (int isa = 0; isa <= (int)matmul_isa_best(); isa++)
    for (int half = 0; half < 2; half++) {
        matmul_set_isa((matmul_isa)isa);
        for (size_t a = 0; a < sizeof nqs / sizeof nqs[0]; a++) {
            const int nq = nqs[a];
            for (int i = 0; i < nq; i++)
                qpos[i] = NK - nq + i; /* the last nq entries are the new tokens */
            kv_view view = {NK, k, v, kpos, KH * DK, KH * DV, NULL, NULL, 0, 0, NULL};
            if (half) {
                view.k = view.v = NULL;
                view.k16 = k16;
                view.v16 = v16;
            }
            for (int32_t window = 0; window <= 33; window += 33) {
                const fwd_attn_shape sh = {.n_heads = H, .n_kv_heads = KH, .head_dim_k = DK,
                                           .head_dim_v = DV, .window = window};
                matmul_set_threads(1);
                assert_true(fwd_attention(&sh, q, qpos, nq, &view, o) == KK_OK);
                matmul_set_threads(3);
                assert_true(fwd_attention(&sh, q, qpos, nq, &view, o3) == KK_OK);
                fwd_attention_ref(&sh, q, qpos, nq, &view, or);
                const double e = max_abs_diff(o, or, (size_t)nq * H * DV);
                if (e >= ATT_ABS_TOL)
                    print_error("isa %d f16 %d nq %d window %d: %g\n", isa, half, nq, window, e);
                assert_true(e < ATT_ABS_TOL);
                assert_memory_equal(o, o3, (size_t)nq * H * DV * sizeof(float));
            }
        }
    }
    matmul_set_isa(MATMUL_ISA_AVX512);
    matmul_set_threads(1);
    free(k16);
    free(v16);
    free(k);
    free(v);
    free(q);
    free(o);
    free(o3);
    free(or);
}

/* ---- the forward call ----------------------------------------------------------- */

static const int32_t TOKENS[12] = {1, 280, 273, 263, 276, 300, 301, 302, 400, 17, 260, 261};

/* An F16 cache rounds K and V to 11 significant bits when they are
 * appended, so two paths whose K differ by float rounding (1e-7 relative)
 * can store halves one ulp apart (5e-4 relative) wherever a value sits
 * near a rounding boundary: the fast path against the reference, both on
 * F16 caches, differ like the F16 cache against the F32 one, by up to
 * ~6e-3 on these logits (magnitude ~10; measured 1.7e-3 and 6.0e-3).
 * 0.05 still fails a misread or misplaced row (errors of order 1). */
#define F16_CACHE_LOGIT_TOL 0.05

static void forward_should_match_the_reference_kernels_on(model_arch arch, int32_t hd, bool tied,
                                                        bool f16_cache)
{
    fixture x;
    fixture_open(&x, arch, hd, tied);
    const int64_t V = x.m->hp.n_vocab, n = 12;
    float *fast = malloc((size_t)(n * V) * sizeof(float));
    float *ref = malloc((size_t)(n * V) * sizeof(float));
    for (int use_ref = 0; use_ref < 2; use_ref++) {
        fwd_state *st = NULL;
        kv_cache *kv = cache_typed(x.m, 64, f16_cache);
        assert_int_equal(fwd_init(&st, x.m, 16, 64, NULL), KK_OK);
        fwd_set_ref(st, use_ref);
        assert_int_equal(fwd_run(st, kv, TOKENS, NULL, n, FWD_LOGITS_ALL,
                                 use_ref ? ref : fast, NULL, NULL), KK_OK);
        fwd_free(st);
        kv_free(kv);
    }
    const double d = max_abs_diff(fast, ref, (size_t)(n * V));
    if (f16_cache) /* see F16_CACHE_LOGIT_TOL */
        print_message("f16 cache, fast against reference: max |dlogit| %.3g\n", d);
    assert_true(d < (f16_cache ? F16_CACHE_LOGIT_TOL : FWD_LOGIT_TOL));
    free(fast);
    free(ref);
    fixture_close(&x);
}

static void forward_should_match_the_reference_kernels(model_arch arch, int32_t hd, bool tied)
{
    forward_should_match_the_reference_kernels_on(arch, hd, tied, false);
}

static void f16_cache_forward_should_match_its_reference_and_stay_near_the_f32_cache(void **state)
{
    (void)state;
    forward_should_match_the_reference_kernels_on(MODEL_ARCH_LLAMA, 16, false, true);
    forward_should_match_the_reference_kernels_on(MODEL_ARCH_QWEN3, 64, false, true);
    fixture x;
    fixture_open(&x, MODEL_ARCH_LLAMA, 16, false);
    const int64_t V = x.m->hp.n_vocab, n = 12;
    float *a = malloc((size_t)(n * V) * sizeof(float));
    float *b = malloc((size_t)(n * V) * sizeof(float));
    fwd_state *st = NULL;
    assert_int_equal(fwd_init(&st, x.m, 16, 64, NULL), KK_OK);
    for (int half = 0; half < 2; half++) {
        kv_cache *kv = cache_typed(x.m, 64, half);
        assert_int_equal(fwd_run(st, kv, TOKENS, NULL, n, FWD_LOGITS_ALL, half ? b : a, NULL,
                                 NULL), KK_OK);
        kv_free(kv);
    }
    const double d = max_abs_diff(a, b, (size_t)(n * V));
    print_message("f16 cache against f32 cache: max |dlogit| %.3g\n", d);
    assert_true(d > 0.0 && d < F16_CACHE_LOGIT_TOL);
    fwd_free(st);
    free(a);
    free(b);
    fixture_close(&x);
}

static void llama_forward_should_match_the_reference_kernels(void **state)
{
    (void)state;
    forward_should_match_the_reference_kernels(MODEL_ARCH_LLAMA, 16, false);
}

static void qwen3_forward_with_a_wide_head_should_match_the_reference_kernels(void **state)
{
    (void)state;
    /* head dim 32 with d 64 / 4 heads = 16: q is 128 wide, as rand-qwen3-wide */
    forward_should_match_the_reference_kernels(MODEL_ARCH_QWEN3, 32, true);
}

static void prefill_decode_and_chunks_should_give_the_same_logits(void **state)
{
    (void)state;
    fixture x;
    fixture_open(&x, MODEL_ARCH_QWEN3, 16, false);
    const int64_t V = x.m->hp.n_vocab, n = 12;
    float *all = malloc((size_t)(n * V) * sizeof(float));
    float *step = malloc((size_t)(n * V) * sizeof(float));
    float *chunked = malloc((size_t)(n * V) * sizeof(float));
    float *last = malloc((size_t)V * sizeof(float));
    fwd_state *st = NULL, *st3 = NULL;
    assert_int_equal(fwd_init(&st, x.m, 16, 64, NULL), KK_OK);
    assert_int_equal(fwd_init(&st3, x.m, 3, 64, NULL), KK_OK);

    kv_cache *kv = cache_for(x.m, 64);
    assert_int_equal(fwd_run(st, kv, TOKENS, NULL, n, FWD_LOGITS_ALL, all, NULL, NULL), KK_OK);
    assert_int_equal(kv_n_tokens(kv), n);
    /* token by token (decode) */
    assert_int_equal(kv_truncate(kv, 0, NULL), KK_OK);
    for (int64_t i = 0; i < n; i++)
        assert_int_equal(fwd_run(st, kv, TOKENS + i, NULL, 1, FWD_LOGITS_LAST, step + i * V,
                                 NULL, NULL), KK_OK);
    assert_true(max_abs_diff(all, step, (size_t)(n * V)) < MODE_LOGIT_TOL);
    /* in chunks of 3 inside one call */
    assert_int_equal(kv_truncate(kv, 0, NULL), KK_OK);
    assert_int_equal(fwd_run(st3, kv, TOKENS, NULL, n, FWD_LOGITS_ALL, chunked, NULL, NULL),
                     KK_OK);
    assert_true(max_abs_diff(all, chunked, (size_t)(n * V)) < MODE_LOGIT_TOL);
    /* verification: prefill 7, verify 5 drafted, roll back 3, redo */
    assert_int_equal(kv_truncate(kv, 0, NULL), KK_OK);
    assert_int_equal(fwd_run(st, kv, TOKENS, NULL, 7, FWD_LOGITS_LAST, last, NULL, NULL), KK_OK);
    assert_true(max_abs_diff(last, all + 6 * V, (size_t)V) < MODE_LOGIT_TOL);
    assert_int_equal(fwd_run(st, kv, TOKENS + 7, NULL, 5, FWD_LOGITS_ALL, chunked, NULL, NULL),
                     KK_OK);
    assert_true(max_abs_diff(chunked, all + 7 * V, (size_t)(5 * V)) < MODE_LOGIT_TOL);
    assert_int_equal(kv_truncate(kv, 9, NULL), KK_OK);
    assert_int_equal(fwd_run(st, kv, TOKENS + 9, NULL, 3, FWD_LOGITS_LAST, last, NULL, NULL),
                     KK_OK);
    assert_true(max_abs_diff(last, all + 11 * V, (size_t)V) < MODE_LOGIT_TOL);
    /* a bad token id is refused before anything runs */
    const int32_t bad = (int32_t)V;
    kk_err e;
    assert_int_equal(fwd_run(st, kv, &bad, NULL, 1, FWD_LOGITS_LAST, last, NULL, &e),
                     KK_E_RANGE);
    assert_int_equal(kv_n_tokens(kv), 12);

    fwd_free(st);
    fwd_free(st3);
    kv_free(kv);
    free(all);
    free(step);
    free(chunked);
    free(last);
    fixture_close(&x);
}

static void capture_should_hold_k_before_and_after_rope_and_v_as_cached(void **state)
{
    (void)state;
    fixture x;
    fixture_open(&x, MODEL_ARCH_LLAMA, 16, false);
    const model_hparams *hp = &x.m->hp;
    const int64_t n = 12, L = hp->n_layers;
    const int64_t kr = (int64_t)hp->n_kv_heads * hp->head_dim_k;
    const int64_t vr = (int64_t)hp->n_kv_heads * hp->head_dim_v;
    float *kpre = malloc((size_t)(L * n * kr) * sizeof(float));
    float *kpost = malloc((size_t)(L * n * kr) * sizeof(float));
    float *v = malloc((size_t)(L * n * vr) * sizeof(float));
    const fwd_capture cap = {kpre, kpost, v};
    fwd_state *st = NULL;
    kv_cache *kv = cache_for(x.m, 64);
    assert_int_equal(fwd_init(&st, x.m, 5, 64, NULL), KK_OK); /* 3 chunks */
    assert_int_equal(fwd_run(st, kv, TOKENS, NULL, n, FWD_LOGITS_NONE, NULL, &cap, NULL),
                     KK_OK);
    for (int32_t l = 0; l < L; l++) {
        kv_view view;
        assert_int_equal(kv_view_layer(kv, l, &view, NULL), KK_OK);
        assert_int_equal(view.n, n);
        for (int64_t t = 0; t < n; t++) {
            assert_memory_equal(view.k + t * view.k_stride, kpost + (l * n + t) * kr,
                                (size_t)kr * sizeof(float));
            assert_memory_equal(view.v + t * view.v_stride, v + (l * n + t) * vr,
                                (size_t)vr * sizeof(float));
            float r[64];
            for (int32_t h = 0; h < hp->n_kv_heads; h++) {
                memcpy(r, kpre + (l * n + t) * kr + h * hp->head_dim_k,
                       (size_t)hp->head_dim_k * sizeof(float));
                ops_rope_ref(r, hp->n_rot, (int32_t)t, hp->rope_base, hp->rope_neox);
                assert_true(max_abs_diff(r, kpost + (l * n + t) * kr + h * hp->head_dim_k,
                                         (size_t)hp->head_dim_k) < 1e-4);
            }
        }
    }
    fwd_free(st);
    kv_free(kv);
    free(kpre);
    free(kpost);
    free(v);
    fixture_close(&x);
}

/* ---- sampling ---------------------------------------------------------------------- */

static void greedy_and_top_k_should_order_by_value_then_id(void **state)
{
    (void)state;
    const float l[8] = {0.5f, 2.0f, -1.0f, 2.0f, NAN, 1.5f, 3.0f, -INFINITY};
    assert_int_equal(sample_greedy(l, 8), 6);
    int32_t ids[8];
    float vals[8];
    assert_int_equal(sample_top_k(l, 8, 4, ids, vals), 4);
    assert_int_equal(ids[0], 6);
    assert_int_equal(ids[1], 1); /* tie 2.0: lower id first */
    assert_int_equal(ids[2], 3);
    assert_int_equal(ids[3], 5);
    assert_true(vals[3] == 1.5f);
    assert_int_equal(sample_top_k(l, 8, 100, ids, NULL), 7); /* NaN skipped */
    assert_int_equal(ids[6], 7);
    const float ties[3] = {1.0f, 1.0f, 1.0f};
    assert_int_equal(sample_greedy(ties, 3), 0);
}

/* ---- the bounded cache in the forward pass ---------------------------------- */

/* A full cache that masks its views to sinks and a window (a test double):
 * what kv_sinkwin must compute, from a cache that evicts nothing. */
typedef struct masked_full {
    kv_cache base;
    kv_cache *inner;
    int32_t n_sink, window;
} masked_full;

static kk_code mf_append(kv_cache *c, int32_t layer, const float *k, const float *v,
                         const int32_t *pos, int64_t n, kk_err *err)
{
    return kv_append(((masked_full *)c)->inner, layer, k, v, pos, n, err);
}

static kk_code mf_view(kv_cache *c, int32_t layer, kv_view *out, kk_err *err)
{
    masked_full *m = (masked_full *)c;
    kk_code rc = kv_view_layer(m->inner, layer, out, err);
    out->window = m->window;
    out->n_sink = m->n_sink;
    return rc;
}

static kk_code mf_truncate(kv_cache *c, int64_t n, bool check_only, kk_err *err)
{
    kv_cache *in = ((masked_full *)c)->inner;
    return check_only ? kv_truncate_check(in, n, err) : kv_truncate(in, n, err);
}

static int64_t mf_n_tokens(const kv_cache *c) { return kv_n_tokens(((const masked_full *)c)->inner); }
static size_t mf_bytes(const kv_cache *c) { return kv_bytes_resident(((const masked_full *)c)->inner); }
static void mf_free(kv_cache *c)
{
    kv_free(((masked_full *)c)->inner);
    free(c);
}

static const kv_vtable MASKED_FULL_VT = {"masked-full", mf_append, mf_view, mf_truncate,
                                         mf_n_tokens, mf_bytes, mf_free, NULL};

/* 40 tokens through a sink + window cache (4 sinks, window 6, slack 7: the
 * ring wraps), in chunks of 8 (the slack + 1 it accepts), then one token
 * at a time: the logits equal those of the full cache masked the same way
 * (tolerance FWD_LOGIT_TOL: the same visible set, summed in ring order).
 * Then verification: 8 drafted tokens rolled back and others decoded give
 * bit-identical logits to a cache that never saw the drafts. */
static void a_sink_window_cache_should_give_the_masked_full_caches_logits(void **state)
{
    (void)state;
    fixture x;
    fixture_open(&x, MODEL_ARCH_LLAMA, 16, false);
    const model *m = x.m;
    const int64_t V = m->hp.n_vocab, n = 40;
    int32_t ids[48];
    for (int i = 0; i < 48; i++)
        ids[i] = TOKENS[i % 12] + i % 5;
    const kv_config cfg = {m->hp.n_layers, m->hp.n_kv_heads, m->hp.head_dim_k,
                           m->hp.head_dim_v, 64, 7};
    kv_cache *sw = NULL, *never = NULL;
    assert_int_equal(kv_sinkwin_init(&sw, &cfg, 4, 6, NULL), KK_OK);
    assert_int_equal(kv_sinkwin_init(&never, &cfg, 4, 6, NULL), KK_OK);
    masked_full *mf = calloc(1, sizeof *mf);
    mf->base.vt = &MASKED_FULL_VT;
    mf->base.cfg = cfg;
    mf->n_sink = 4;
    mf->window = 6;
    mf->inner = cache_for(m, 64);
    fwd_state *st = NULL;
    assert_int_equal(fwd_init(&st, m, 8, 64, NULL), KK_OK);
    float *a = malloc((size_t)(n * V) * sizeof(float)), *b = malloc((size_t)(n * V) * sizeof(float));
    assert_int_equal(fwd_run(st, sw, ids, NULL, 32, FWD_LOGITS_ALL, a, NULL, NULL), KK_OK);
    assert_int_equal(fwd_run(st, &mf->base, ids, NULL, 32, FWD_LOGITS_ALL, b, NULL, NULL), KK_OK);
    for (int64_t i = 32; i < n; i++) {
        assert_int_equal(fwd_run(st, sw, ids + i, NULL, 1, FWD_LOGITS_LAST, a + i * V, NULL,
                                 NULL), KK_OK);
        assert_int_equal(fwd_run(st, &mf->base, ids + i, NULL, 1, FWD_LOGITS_LAST, b + i * V,
                                 NULL, NULL), KK_OK);
    }
    assert_true(max_abs_diff(a, b, (size_t)(n * V)) < FWD_LOGIT_TOL);
    /* the oracle bites: the full cache without the window differs */
    kv_cache *plain = cache_for(m, 64);
    assert_int_equal(fwd_run(st, plain, ids, NULL, 32, FWD_LOGITS_ALL, b, NULL, NULL), KK_OK);
    assert_true(max_abs_diff(a + 31 * V, b + 31 * V, (size_t)V) > 1e-3);
    /* verification: sw holds 40; 8 drafted (ids 40..47), all rejected */
    assert_int_equal(fwd_run(st, never, ids, NULL, 32, FWD_LOGITS_ALL, b, NULL, NULL), KK_OK);
    for (int64_t i = 32; i < n; i++)
        assert_int_equal(fwd_run(st, never, ids + i, NULL, 1, FWD_LOGITS_LAST, b, NULL, NULL),
                         KK_OK);
    assert_int_equal(fwd_run(st, sw, ids + 40, NULL, 8, FWD_LOGITS_ALL, a, NULL, NULL), KK_OK);
    kk_err e;
    assert_int_equal(kv_truncate(sw, 40, &e), KK_OK);
    const int32_t other[4] = {5, 6, 7, 8};
    assert_int_equal(fwd_run(st, sw, other, NULL, 4, FWD_LOGITS_ALL, a, NULL, NULL), KK_OK);
    assert_int_equal(fwd_run(st, never, other, NULL, 4, FWD_LOGITS_ALL, b, NULL, NULL), KK_OK);
    assert_memory_equal(a, b, (size_t)(4 * V) * sizeof(float));
    /* one rollback deeper than the slack allows is refused */
    assert_int_equal(kv_truncate(sw, 44 - 9, &e), KK_E_RANGE);
    assert_int_equal(kv_n_tokens(sw), 44);
    fwd_free(st);
    kv_free(sw);
    kv_free(never);
    kv_free(plain);
    kv_free(&mf->base);
    free(a);
    free(b);
    fixture_close(&x);
}

/* The restored cache's controls through whole forward passes: `identity`
 * (every evicted position put back from the rows kept aside) gives the
 * full cache's logits bit for bit, before and after a verification
 * rollback; `none` gives the bounded cache's; and identity did put rows
 * back. */
static void a_restored_cache_should_give_the_full_or_the_bounded_caches_logits(void **state)
{
    (void)state;
    fixture x;
    fixture_open(&x, MODEL_ARCH_QWEN3, 16, false);
    const model *m = x.m;
    const int64_t V = m->hp.n_vocab, n = 40;
    int32_t ids[48];
    for (int i = 0; i < 48; i++)
        ids[i] = TOKENS[i % 12] + i % 7;
    const kv_config cfg = {m->hp.n_layers, m->hp.n_kv_heads, m->hp.head_dim_k,
                           m->hp.head_dim_v, 64, 7};
    kv_cache *ident = NULL, *none = NULL, *sw = NULL;
    assert_int_equal(kv_restored_init(&ident, &cfg, 4, 6, KV_RESTORE_IDENTITY, NULL, NULL), KK_OK);
    assert_int_equal(kv_restored_init(&none, &cfg, 4, 6, KV_RESTORE_NONE, NULL, NULL), KK_OK);
    assert_int_equal(kv_sinkwin_init(&sw, &cfg, 4, 6, NULL), KK_OK);
    kv_cache *full = cache_for(m, 64);
    fwd_state *st = NULL;
    assert_int_equal(fwd_init(&st, m, 8, 64, NULL), KK_OK);
    float *a = malloc((size_t)(n * V) * sizeof(float)), *b = malloc((size_t)(n * V) * sizeof(float));
    float *c = malloc((size_t)(n * V) * sizeof(float)), *d = malloc((size_t)(n * V) * sizeof(float));
    assert_int_equal(fwd_run(st, ident, ids, NULL, n, FWD_LOGITS_ALL, a, NULL, NULL), KK_OK);
    assert_int_equal(fwd_run(st, full, ids, NULL, n, FWD_LOGITS_ALL, b, NULL, NULL), KK_OK);
    assert_memory_equal(a, b, (size_t)(n * V) * sizeof(float));
    assert_int_equal(fwd_run(st, none, ids, NULL, n, FWD_LOGITS_ALL, c, NULL, NULL), KK_OK);
    assert_int_equal(fwd_run(st, sw, ids, NULL, n, FWD_LOGITS_ALL, d, NULL, NULL), KK_OK);
    assert_memory_equal(c, d, (size_t)(n * V) * sizeof(float));
    assert_true(max_abs_diff(a + (n - 1) * V, c + (n - 1) * V, (size_t)V) > 1e-3);
    assert_true(kv_restored_positions(ident) > 0);
    assert_int_equal(kv_restored_positions(none), 0);
    /* what the verifier keeps is the bounded cache; the rows kept aside are
     * the control's store, reported apart */
    assert_int_equal(kv_bytes_resident(ident), kv_bytes_resident(sw));
    assert_int_equal(kv_restored_bytes_store(ident), kv_bytes_resident(full));
    assert_true(kv_restored_bytes_scratch(ident) > 0);
    /* verification: 8 drafted, rolled back, 4 others: still the full cache */
    assert_int_equal(fwd_run(st, ident, ids + 40, NULL, 8, FWD_LOGITS_ALL, a, NULL, NULL), KK_OK);
    assert_int_equal(fwd_run(st, full, ids + 40, NULL, 8, FWD_LOGITS_ALL, b, NULL, NULL), KK_OK);
    kk_err e;
    assert_int_equal(kv_truncate(ident, 40, &e), KK_OK);
    assert_int_equal(kv_truncate(full, 40, &e), KK_OK);
    const int32_t other[4] = {9, 10, 11, 12};
    assert_int_equal(fwd_run(st, ident, other, NULL, 4, FWD_LOGITS_ALL, a, NULL, NULL), KK_OK);
    assert_int_equal(fwd_run(st, full, other, NULL, 4, FWD_LOGITS_ALL, b, NULL, NULL), KK_OK);
    assert_memory_equal(a, b, (size_t)(4 * V) * sizeof(float));
    /* the bounded part refuses what it cannot undo; nothing changes */
    assert_int_equal(kv_truncate(ident, 44 - 9, &e), KK_E_RANGE);
    assert_int_equal(kv_n_tokens(ident), 44);
    /* the assembled view holds n_ctx rows: appending past them is refused */
    {
        const int64_t kr = (int64_t)m->hp.n_kv_heads * m->hp.head_dim_k;
        const int64_t vr = (int64_t)m->hp.n_kv_heads * m->hp.head_dim_v;
        float *zk = calloc((size_t)(21 * kr), sizeof(float)), *zv = calloc((size_t)(21 * vr), sizeof(float));
        int32_t zp[21];
        for (int i = 0; i < 21; i++)
            zp[i] = 44 + i;
        assert_int_equal(kv_append(ident, 0, zk, zv, zp, 21, &e), KK_E_LIMIT);
        assert_non_null(strstr(e.msg, "capacity of 64"));
        free(zk);
        free(zv);
    }
    fwd_free(st);
    kv_free(ident);
    kv_free(none);
    kv_free(sw);
    kv_free(full);
    free(a);
    free(b);
    free(c);
    free(d);
    fixture_close(&x);
}

/* f_theta restoration through whole forward passes, with the verifier as
 * its own proposer and a self-fitted map at full rank (ftheta_calibrate):
 * the evicted positions come back through the map and RoPE at their
 * positions, so the logits are the full cache's within the forward
 * tolerance (the map's error is about 1e-12 of the rows); mix at alpha 1 is
 * identity and at alpha 0 is ftheta, bit for bit. */

static void ftheta_restoration_should_give_the_full_caches_logits_on_a_self_fit(void **state)
{
    (void)state;
    fixture x;
    fixture_open(&x, MODEL_ARCH_QWEN3, 16, false);
    const model *m = x.m;
    const model_hparams *hp = &m->hp;
    const int64_t V = hp->n_vocab, n = 40;
    const int64_t kr = (int64_t)hp->n_kv_heads * hp->head_dim_k;
    const int64_t vr = (int64_t)hp->n_kv_heads * hp->head_dim_v;
    const int64_t dk = hp->n_layers * kr, dv = hp->n_layers * vr;
    ftheta_calib_opts o = {.n_seq = 8, .seq_len = 64, .heldout_seq = 1, .seed = 3,
                           .rank = (int32_t)(dk < dv ? dk : dv), .lambda = 1e-9,
                           .distractors = 8};
    ftheta *fk = NULL, *fv = NULL;
    ftheta_meta meta;
    assert_int_equal(ftheta_calibrate(m, m, &o, &fk, &fv, &meta, NULL), KK_OK);
    assert_true(meta.rel_mse_heldout_k < 1e-8 && meta.rel_mse_heldout_v < 1e-8);
    int32_t ids[40];
    for (int i = 0; i < 40; i++)
        ids[i] = TOKENS[i % 12] + i % 7;
    /* the proposer's pre-RoPE K and V of every position (here: the verifier) */
    float *ck = malloc((size_t)(hp->n_layers * n * kr) * sizeof(float));
    float *cv = malloc((size_t)(hp->n_layers * n * vr) * sizeof(float));
    float *xk = malloc((size_t)(n * dk) * sizeof(float)), *xv = malloc((size_t)(n * dv) * sizeof(float));
    fwd_state *st = NULL;
    assert_int_equal(fwd_init(&st, m, 8, 64, NULL), KK_OK);
    kv_cache *full = cache_for(m, 64);
    const fwd_capture cap = {.k_pre = ck, .v = cv};
    float *want = malloc((size_t)(n * V) * sizeof(float)), *got = malloc((size_t)(n * V) * sizeof(float));
    float *got2 = malloc((size_t)(n * V) * sizeof(float));
    assert_int_equal(fwd_run(st, full, ids, NULL, n, FWD_LOGITS_ALL, want, &cap, NULL), KK_OK);
    fwd_capture_rows(ck, hp->n_layers, n, kr, xk);
    fwd_capture_rows(cv, hp->n_layers, n, vr, xv);
    const kv_config cfg = {hp->n_layers, hp->n_kv_heads, hp->head_dim_k, hp->head_dim_v, 64, 7};
    kv_restore_ftheta ft = {.k = fk, .v = fv, .n_rot = hp->n_rot, .rope_base = hp->rope_base,
                            .rope_neox = hp->rope_neox, .alpha = 0.0};
    kv_cache *c = NULL, *ident = NULL, *mix = NULL;
    assert_int_equal(kv_restored_init(&c, &cfg, 4, 6, KV_RESTORE_FTHETA, &ft, NULL), KK_OK);
    assert_int_equal(kv_restored_put_proposer(c, 0, xk, xv, n, NULL), KK_OK);
    assert_int_equal(fwd_run(st, c, ids, NULL, n, FWD_LOGITS_ALL, got, NULL, NULL), KK_OK);
    const double d = max_abs_diff(got, want, (size_t)(n * V));
    if (d >= FWD_LOGIT_TOL)
        fail_msg("ftheta restoration vs the full cache: %g", d);
    assert_true(kv_restored_positions(c) > 0);
    assert_true(kv_restored_bytes_proposer(c) > 0);
    /* the oracle bites: without restoration the same ids give other logits */
    kv_cache *bare = NULL;
    assert_int_equal(kv_restored_init(&bare, &cfg, 4, 6, KV_RESTORE_NONE, NULL, NULL), KK_OK);
    assert_int_equal(fwd_run(st, bare, ids, NULL, n, FWD_LOGITS_ALL, got2, NULL, NULL), KK_OK);
    assert_true(max_abs_diff(got2, want, (size_t)(n * V)) > 1e-3);
    kv_free(bare);
    /* mix at alpha 0 is ftheta, at alpha 1 identity (bit for bit) */
    assert_int_equal(kv_restored_init(&mix, &cfg, 4, 6, KV_RESTORE_MIX, &ft, NULL), KK_OK);
    assert_int_equal(kv_restored_put_proposer(mix, 0, xk, xv, n, NULL), KK_OK);
    assert_int_equal(fwd_run(st, mix, ids, NULL, n, FWD_LOGITS_ALL, got2, NULL, NULL), KK_OK);
    assert_memory_equal(got, got2, (size_t)(n * V) * sizeof(float));
    kv_free(mix);
    ft.alpha = 1.0;
    assert_int_equal(kv_restored_init(&mix, &cfg, 4, 6, KV_RESTORE_MIX, &ft, NULL), KK_OK);
    assert_int_equal(kv_restored_init(&ident, &cfg, 4, 6, KV_RESTORE_IDENTITY, NULL, NULL), KK_OK);
    assert_int_equal(kv_restored_put_proposer(mix, 0, xk, xv, n, NULL), KK_OK);
    assert_int_equal(fwd_run(st, mix, ids, NULL, n, FWD_LOGITS_ALL, got, NULL, NULL), KK_OK);
    assert_int_equal(fwd_run(st, ident, ids, NULL, n, FWD_LOGITS_ALL, got2, NULL, NULL), KK_OK);
    assert_memory_equal(got, got2, (size_t)(n * V) * sizeof(float));
    /* a rollback drops the restored rows with the positions; rows missing
     * from the proposer store are refused by name */
    kk_err e;
    assert_int_equal(kv_truncate(c, 36, &e), KK_OK);
    assert_int_equal(kv_restored_put_proposer(c, 38, xk, xv, 1, &e), KK_E_RANGE);
    assert_int_equal(kv_restored_put_proposer(ident, 0, xk, xv, 1, &e), KK_E_USAGE);
    /* a map for another model is refused */
    ft.k = fv;
    ft.v = fk;
    kv_cache *bad = NULL;
    if (dk != dv) {
        assert_int_equal(kv_restored_init(&bad, &cfg, 4, 6, KV_RESTORE_FTHETA, &ft, &e),
                         KK_E_RANGE);
        assert_null(bad);
    }
    ft.alpha = 2.0;
    assert_int_equal(kv_restored_init(&bad, &cfg, 4, 6, KV_RESTORE_MIX, &ft, &e), KK_E_RANGE);
    fwd_free(st);
    kv_free(full);
    kv_free(c);
    kv_free(mix);
    kv_free(ident);
    ftheta_free(fk);
    ftheta_free(fv);
    free(ck);
    free(cv);
    free(xk);
    free(xv);
    free(want);
    free(got);
    free(got2);
    fixture_close(&x);
}

/* One step of a restoring decoder: the proposer runs the new tokens with
 * its own full cache first, its pre-RoPE rows go into the restored cache
 * for their positions, then the verifier runs them through it; the full
 * cache runs them too, and the logits must agree. */
typedef struct rdec {
    const model *m;
    fwd_state *vst, *pst;
    kv_cache *c, *pc, *full;
    float *ck, *cv, *xk, *xv, *a, *b;
} rdec;

static void rdec_step(rdec *d, const int32_t *ids, int64_t n)
{
    const model_hparams *hp = &d->m->hp;
    const int64_t kr = (int64_t)hp->n_kv_heads * hp->head_dim_k;
    const int64_t vr = (int64_t)hp->n_kv_heads * hp->head_dim_v;
    const int64_t at = kv_n_tokens(d->pc);
    const fwd_capture cap = {.k_pre = d->ck, .v = d->cv};
    assert_int_equal(fwd_run(d->pst, d->pc, ids, NULL, n, FWD_LOGITS_NONE, NULL, &cap, NULL),
                     KK_OK);
    fwd_capture_rows(d->ck, hp->n_layers, n, kr, d->xk);
    fwd_capture_rows(d->cv, hp->n_layers, n, vr, d->xv);
    assert_int_equal(kv_restored_put_proposer(d->c, at, d->xk, d->xv, n, NULL), KK_OK);
    assert_int_equal(fwd_run(d->vst, d->c, ids, NULL, n, FWD_LOGITS_ALL, d->a, NULL, NULL), KK_OK);
    assert_int_equal(fwd_run(d->vst, d->full, ids, NULL, n, FWD_LOGITS_ALL, d->b, NULL, NULL),
                     KK_OK);
    const double diff = max_abs_diff(d->a, d->b, (size_t)(n * hp->n_vocab));
    if (diff >= FWD_LOGIT_TOL)
        fail_msg("restoring decode at %lld (+%lld): %g from the full cache", (long long)at,
                 (long long)n, diff);
}

/* Decoding continues after the prefill through f_theta restoration (a
 * self-fit, so the full cache's logits are the oracle), token by token as
 * positions leave the window, and a rollback of the verifier's cache, its
 * proposer's cache and the restored rows together leaves a decoder that
 * continues as one that never saw the dropped tokens. A proposer row put
 * past the rolled-back end is refused by name. */
static void ftheta_restoration_should_decode_and_roll_back_with_its_proposer(void **state)
{
    (void)state;
    fixture x;
    fixture_open(&x, MODEL_ARCH_QWEN3, 16, false);
    const model *m = x.m;
    const model_hparams *hp = &m->hp;
    const int64_t kr = (int64_t)hp->n_kv_heads * hp->head_dim_k;
    const int64_t vr = (int64_t)hp->n_kv_heads * hp->head_dim_v;
    const int64_t dk = hp->n_layers * kr, dv = hp->n_layers * vr, N = 64;
    ftheta_calib_opts o = {.n_seq = 8, .seq_len = 64, .heldout_seq = 1, .seed = 3,
                           .rank = (int32_t)(dk < dv ? dk : dv), .lambda = 1e-9,
                           .distractors = 8};
    ftheta *fk = NULL, *fv = NULL;
    ftheta_meta meta;
    assert_int_equal(ftheta_calibrate(m, m, &o, &fk, &fv, &meta, NULL), KK_OK);
    rdec d = {.m = m};
    assert_int_equal(fwd_init(&d.vst, m, 8, N, NULL), KK_OK);
    assert_int_equal(fwd_init(&d.pst, m, 8, N, NULL), KK_OK);
    d.pc = cache_for(m, N);
    d.full = cache_for(m, N);
    const kv_config cfg = {hp->n_layers, hp->n_kv_heads, hp->head_dim_k, hp->head_dim_v, N, 7};
    const kv_restore_ftheta ft = {.k = fk, .v = fv, .n_rot = hp->n_rot, .rope_base = hp->rope_base,
                                  .rope_neox = hp->rope_neox, .alpha = 0.0};
    assert_int_equal(kv_restored_init(&d.c, &cfg, 4, 6, KV_RESTORE_FTHETA, &ft, NULL), KK_OK);
    d.ck = malloc((size_t)(hp->n_layers * 8 * kr) * sizeof(float));
    d.cv = malloc((size_t)(hp->n_layers * 8 * vr) * sizeof(float));
    d.xk = malloc((size_t)(8 * dk) * sizeof(float));
    d.xv = malloc((size_t)(8 * dv) * sizeof(float));
    d.a = malloc((size_t)(8 * hp->n_vocab) * sizeof(float));
    d.b = malloc((size_t)(8 * hp->n_vocab) * sizeof(float));
    int32_t ids[48];
    for (int i = 0; i < 48; i++)
        ids[i] = TOKENS[i % 12] + i % 5;
    for (int64_t t = 0; t < 24; t += 8) /* prefill in chunks of 8 */
        rdec_step(&d, ids + t, 8);
    for (int64_t t = 24; t < 32; t++) /* decode: one token a step */
        rdec_step(&d, ids + t, 1);
    assert_true(kv_restored_positions(d.c) > 0);
    /* roll all three back by 4 and continue on other tokens */
    kk_err e;
    assert_int_equal(kv_truncate(d.c, 28, &e), KK_OK);
    assert_int_equal(kv_truncate(d.pc, 28, &e), KK_OK);
    assert_int_equal(kv_truncate(d.full, 28, &e), KK_OK);
    assert_int_equal(kv_restored_put_proposer(d.c, 30, d.xk, d.xv, 1, &e), KK_E_RANGE);
    for (int64_t t = 40; t < 48; t++)
        rdec_step(&d, ids + t, 1);
    assert_int_equal(kv_n_tokens(d.c), 36);
    fwd_free(d.vst);
    fwd_free(d.pst);
    kv_free(d.c);
    kv_free(d.pc);
    kv_free(d.full);
    free(d.ck);
    free(d.cv);
    free(d.xk);
    free(d.xv);
    free(d.a);
    free(d.b);
    ftheta_free(fk);
    ftheta_free(fv);
    fixture_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matmul_should_match_the_triple_loop_within_the_dot_product_bound),
        cmocka_unit_test(ggml_activation_products_should_stay_within_the_rounding_of_x),
        cmocka_unit_test(rope_should_match_its_reference_and_keep_the_norm),
        cmocka_unit_test(softmax_should_ignore_masked_entries_and_sum_to_one),
        cmocka_unit_test(attention_should_match_the_naive_triple_loop_with_gqa_masks_and_windows),
        cmocka_unit_test(attention_should_match_the_reference_at_every_level_and_thread_count),
        cmocka_unit_test(llama_forward_should_match_the_reference_kernels),
        cmocka_unit_test(qwen3_forward_with_a_wide_head_should_match_the_reference_kernels),
        cmocka_unit_test(prefill_decode_and_chunks_should_give_the_same_logits),
        cmocka_unit_test(a_sink_window_cache_should_give_the_masked_full_caches_logits),
        cmocka_unit_test(a_restored_cache_should_give_the_full_or_the_bounded_caches_logits),
        cmocka_unit_test(ftheta_restoration_should_give_the_full_caches_logits_on_a_self_fit),
        cmocka_unit_test(ftheta_restoration_should_decode_and_roll_back_with_its_proposer),
        cmocka_unit_test(f16_cache_forward_should_match_its_reference_and_stay_near_the_f32_cache),
        cmocka_unit_test(capture_should_hold_k_before_and_after_rope_and_v_as_cached),
        cmocka_unit_test(greedy_and_top_k_should_order_by_value_then_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
