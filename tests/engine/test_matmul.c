/* Tests of engine/matmul: every SIMD level the CPU has (and the portable
 * one) against matmul_run_ref, for each weight type and activation mode,
 * on shapes with ragged edges (rows not a multiple of the tile heights,
 * columns not a multiple of the vector width, 1..9 tokens); the Q8_0
 * activation quantizer bit for bit against ggml's reference; thread
 * counts that must not change a single bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "matmul.h"

/* ---- tolerances (why each bound holds) --------------------------------- */

/* Both sides compute the same products of the same (rounded) x and the
 * same weights: the _ref path sums them in double, the fast path in float,
 * blocked and in another order. A float sum of n terms is within
 * gamma_n ~ n*u of the exact one relative to sum |terms| (Higham, Accuracy
 * and Stability of Numerical Algorithms, 2nd ed., eq. 3.5; u = eps/2); we
 * allow n*eps. For Q8_0 each block's integer dot is exact and its scale
 * d_w*d_x is one more float rounding (relative u per block), inside the
 * same bound. */
#define MM_REL_TOL(n) ((double)(n) * FLT_EPSILON)

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static float rng_unif(uint64_t *s) /* [-1, 1) */
{
    return (float)(rng_next(s) % 2000001) / 1000000.0f - 1.0f;
}

typedef struct wcase {
    dtype_t type;
    ops_act act;
    const char *name;
} wcase;

static const wcase CASES[] = {
    {DTYPE_F32, OPS_ACT_F32, "f32"},
    {DTYPE_F16, OPS_ACT_F32, "f16 x f32"},
    {DTYPE_F16, OPS_ACT_GGML, "f16 x f16(x)"},
    {DTYPE_Q8_0, OPS_ACT_GGML, "q8_0 x q8_0(x)"},
    {DTYPE_Q8_0, OPS_ACT_F32, "q8_0 x f32"},
};

/* A weight of the given type from F32 values w (rows, cols); *f32 is the
 * F32 image of what is stored. Caller frees raw and f32. */
static ops_weight make_weight(dtype_t type, ops_act act, const float *w, int64_t rows,
                              int64_t cols, float **f32)
{
    ops_weight W = {type, rows, cols, NULL, NULL, act};
    *f32 = malloc((size_t)(rows * cols) * sizeof(float));
    if (type == DTYPE_F32) {
        memcpy(*f32, w, (size_t)(rows * cols) * sizeof(float));
        W.raw = W.f32 = *f32;
        *f32 = malloc(1); /* keep one free per pointer for the caller */
        memcpy(*f32, "", 1);
        return W;
    }
    if (type == DTYPE_F16) {
        uint16_t *h = malloc((size_t)(rows * cols) * sizeof *h);
        for (int64_t i = 0; i < rows * cols; i++) {
            h[i] = dtype_f32_to_f16(w[i]);
            (*f32)[i] = dtype_f16_to_f32(h[i]);
        }
        W.raw = h;
        return W;
    }
    dtype_block_q8_0 *q = malloc((size_t)(rows * cols / 32) * sizeof *q);
    dtype_quantize_row_q8_0_ref(w, q, (size_t)(rows * cols));
    dtype_to_f32_row(DTYPE_Q8_0, q, *f32, (size_t)(rows * cols));
    W.raw = q;
    return W;
}

static void free_weight(ops_weight *W, float *f32)
{
    if (W->type == DTYPE_F32)
        free((void *)W->f32);
    else
        free((void *)W->raw);
    free(f32);
}

/* The activations as the mode rounds them (what both paths multiply). */
static void rounded_x(const wcase *c, const float *x, float *xr, int64_t n, int64_t cols)
{
    if (c->act == OPS_ACT_GGML && c->type == DTYPE_F16) {
        matmul_round_f16(x, xr, n * cols);
    } else if (c->act == OPS_ACT_GGML && c->type == DTYPE_Q8_0) {
        int8_t *qs = malloc((size_t)cols);
        float *d = malloc((size_t)(cols / 32) * sizeof(float));
        for (int64_t t = 0; t < n; t++) {
            matmul_quantize_q8_ref(x + t * cols, qs, d, cols);
            for (int64_t j = 0; j < cols; j++)
                xr[t * cols + j] = (float)qs[j] * d[j / 32];
        }
        free(qs);
        free(d);
    } else {
        memcpy(xr, x, (size_t)(n * cols) * sizeof(float));
    }
}

/* Max over outputs of |fast - ref| / (MM_REL_TOL(cols) * sum |w x'|): <= 1
 * when the fast path is within its bound. */
static double worst_ratio(const wcase *c, const ops_weight *W, const float *wf,
                          const float *x, int64_t n)
{
    const int64_t rows = W->rows, cols = W->cols;
    float *y = malloc((size_t)(n * rows) * sizeof(float));
    float *yr = malloc((size_t)(n * rows) * sizeof(float));
    float *xr = malloc((size_t)(n * cols) * sizeof(float));
    matmul_run(NULL, W, x, y, n);
    matmul_run_ref(W, x, yr, n);
    rounded_x(c, x, xr, n, cols);
    double worst = 0.0;
    for (int64_t t = 0; t < n; t++)
        for (int64_t r = 0; r < rows; r++) {
            double mag = 0.0;
            for (int64_t j = 0; j < cols; j++)
                mag += fabs((double)wf[r * cols + j] * xr[t * cols + j]);
            const double d = fabs((double)y[t * rows + r] - yr[t * rows + r]);
            const double ratio = d / (MM_REL_TOL(cols) * mag + DBL_MIN);
            worst = (ratio > worst || isnan(ratio)) ? (isnan(ratio) ? INFINITY : ratio) : worst;
        }
    free(y);
    free(yr);
    free(xr);
    return worst;
}

static void every_fast_path_should_match_its_reference_within_the_float_sum_bound(void **state)
{
    (void)state;
    /* rows: not a multiple of 4 or 6; cols: a multiple of 32 (Q8_0) but
     * not of 64, for F32/F16 also one that is not a multiple of 16, and
     * one past the kernels' k blocks (1024). */
    const int64_t shapes[][2] = {{37, 96}, {50, 160}, {7, 70}, {1, 32}, {13, 1056}};
    const int64_t ns[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    uint64_t s = 3;
    const matmul_isa best = matmul_isa_best();
    for (int isa = MATMUL_ISA_SCALAR; isa <= (int)best; isa++) {
        matmul_set_isa((matmul_isa)isa);
        for (int th = 1; th <= 3; th += 2) {
            matmul_set_threads(th);
            for (size_t ci = 0; ci < sizeof CASES / sizeof CASES[0]; ci++)
                for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
                    const wcase *c = &CASES[ci];
                    const int64_t rows = shapes[si][0], cols = shapes[si][1];
                    if (c->type == DTYPE_Q8_0 && cols % 32 != 0)
                        continue;
                    float *w = malloc((size_t)(rows * cols) * sizeof(float));
                    float *x = malloc((size_t)(9 * cols) * sizeof(float));
                    for (int64_t i = 0; i < rows * cols; i++)
                        w[i] = rng_unif(&s);
                    for (int64_t i = 0; i < 9 * cols; i++)
                        x[i] = 4.0f * rng_unif(&s);
                    float *wf;
                    ops_weight W = make_weight(c->type, c->act, w, rows, cols, &wf);
                    const float *wimg = c->type == DTYPE_F32 ? W.f32 : wf;
                    for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
                        const double r = worst_ratio(c, &W, wimg, x, ns[ni]);
                        if (r > 1.0)
                            print_error("%s isa %s threads %d shape %lldx%lld n %lld: "
                                        "error %.3g of the bound\n",
                                        c->name, matmul_isa_name((matmul_isa)isa), th,
                                        (long long)rows, (long long)cols, (long long)ns[ni], r);
                        assert_true(r <= 1.0);
                    }
                    free_weight(&W, wf);
                    free(w);
                    free(x);
                }
        }
    }
    matmul_set_isa(MATMUL_ISA_AVX512);
    matmul_set_threads(1);
}

/* The oracle bites: one changed weight quant moves the output past the
 * bound (so a kernel reading a wrong block would be caught). */
static void a_wrong_weight_should_fail_the_same_comparison(void **state)
{
    (void)state;
    uint64_t s = 9;
    enum { ROWS = 8, COLS = 64 };
    float w[ROWS * COLS], x[COLS], y[ROWS], yr[ROWS];
    for (int i = 0; i < ROWS * COLS; i++)
        w[i] = rng_unif(&s);
    for (int i = 0; i < COLS; i++)
        x[i] = rng_unif(&s);
    float *wf;
    ops_weight W = make_weight(DTYPE_Q8_0, OPS_ACT_GGML, w, ROWS, COLS, &wf);
    matmul_run_ref(&W, x, yr, 1);
    dtype_block_q8_0 *q = (dtype_block_q8_0 *)W.raw;
    q[5].qs[7] = (int8_t)(q[5].qs[7] > 0 ? q[5].qs[7] - 40 : q[5].qs[7] + 40);
    matmul_run(NULL, &W, x, y, 1);
    double mag = 0.0;
    for (int j = 0; j < COLS; j++)
        mag += fabs((double)wf[2 * COLS + j] * x[j]);
    assert_true(fabs((double)y[2] - yr[2]) > MM_REL_TOL(COLS) * mag); /* block 5 = row 2 */
    free_weight(&W, wf);
}

static void the_q8_activation_quantizer_should_be_bit_exact_with_ggml_reference(void **state)
{
    (void)state;
    enum { N = 32 * 64 };
    float *x = malloc(N * sizeof(float));
    uint64_t s = 11;
    for (int i = 0; i < N; i++)
        x[i] = 5.0f * rng_unif(&s);
    /* Ties: with amax 127 the scale is 1, so k + 0.5 must round away from 0. */
    for (int j = 0; j < 32; j++)
        x[j] = (j == 0) ? 127.0f : (float)(j % 2 ? j - 60 : 60 - j) + 0.5f;
    for (int j = 32; j < 64; j++)
        x[j] = 0.0f; /* amax 0: scale 0, quants 0 */
    x[64] = 1e-30f; /* a tiny block */
    int8_t qa[N], qb[N];
    float da[N / 32], db[N / 32];
    matmul_quantize_q8_ref(x, qa, da, N);
    for (int isa = MATMUL_ISA_SCALAR; isa <= (int)matmul_isa_best(); isa++) {
        matmul_set_isa((matmul_isa)isa);
        matmul_quantize_q8(x, qb, db, N);
        assert_memory_equal(qa, qb, sizeof qa);
        assert_memory_equal(da, db, sizeof da);
    }
    matmul_set_isa(MATMUL_ISA_AVX512);
    assert_int_equal(qa[1], -59); /* -58.5 rounds away from 0: one tie checked by hand */
    free(x);
}

static void the_f16_rounding_of_x_should_be_bit_exact_with_the_scalar_one(void **state)
{
    (void)state;
    enum { N = 4099 };
    float *x = malloc(N * sizeof(float)), *a = malloc(N * sizeof(float));
    float *b = malloc(N * sizeof(float));
    uint64_t s = 13;
    for (int i = 0; i < N; i++)
        x[i] = ldexpf(rng_unif(&s), (int)(rng_next(&s) % 40) - 30); /* normals, subnormals */
    x[0] = 1.0f + 0x1p-11f;           /* a tie: rounds to even (1.0) */
    x[1] = 1.0f + 3 * 0x1p-11f;       /* a tie: rounds to even (up) */
    x[2] = 65520.0f;                  /* rounds to infinity */
    x[3] = -0.0f;
    for (int i = 0; i < N; i++)
        a[i] = dtype_f16_to_f32(dtype_f32_to_f16(x[i]));
    for (int isa = MATMUL_ISA_SCALAR; isa <= (int)matmul_isa_best(); isa++) {
        matmul_set_isa((matmul_isa)isa);
        matmul_round_f16(x, b, N);
        assert_memory_equal(a, b, N * sizeof(float));
    }
    matmul_set_isa(MATMUL_ISA_AVX512);
    free(x);
    free(a);
    free(b);
}

/* Rows are split between threads, never a row's sum: 1 and 3 threads give
 * the same bits. */
static void thread_counts_should_not_change_a_bit(void **state)
{
    (void)state;
    enum { ROWS = 301, COLS = 256, N = 7 };
    uint64_t s = 21;
    float *w = malloc(ROWS * COLS * sizeof(float)), x[N * COLS], y1[N * ROWS], y3[N * ROWS];
    for (int i = 0; i < ROWS * COLS; i++)
        w[i] = rng_unif(&s);
    for (int i = 0; i < N * COLS; i++)
        x[i] = rng_unif(&s);
    for (size_t ci = 0; ci < sizeof CASES / sizeof CASES[0]; ci++) {
        float *wf;
        ops_weight W = make_weight(CASES[ci].type, CASES[ci].act, w, ROWS, COLS, &wf);
        for (int64_t n = 1; n <= N; n += N - 1) {
            matmul_set_threads(1);
            matmul_run(NULL, &W, x, y1, n);
            matmul_set_threads(3);
            matmul_run(NULL, &W, x, y3, n);
            assert_memory_equal(y1, y3, (size_t)(n * ROWS) * sizeof(float));
        }
        free_weight(&W, wf);
    }
    matmul_set_threads(1);
    free(w);
}

/* Kernel variants (kernels.h), at every level: each within the same bound
 * of the reference on the GEMV and a small batch; the bit-identical knobs
 * (prefetch distances, hint) give exactly the default's floats; the
 * rounding-changing one (f16_gemv) is free to differ but stays in bound. */
static void every_kernel_variant_should_match_the_reference(void **state)
{
    (void)state;
    static const char *variants[] = {
        "default", "pf_f32=0,pf_f16=0,pf_q8=0", "pf_f32=65536,pf_f16=1024,pf_q8=4096,hint=t0",
        "hint=t0", "f16_gemv=tile1", "f16_gemv=tile1,pf_f16=0,hint=t0", "q8_rows=4",
        "q8_rows=4,pf_q8=0,hint=t0",
    };
    const int64_t rows = 70, cols = 1056, ns[] = {1, 3};
    uint64_t s = 11;
    float *w = malloc((size_t)(rows * cols) * sizeof(float));
    float *x = malloc((size_t)(3 * cols) * sizeof(float));
    float *y0 = malloc((size_t)(3 * rows) * sizeof(float)), *y = malloc((size_t)(3 * rows) * sizeof(float));
    for (int64_t i = 0; i < rows * cols; i++)
        w[i] = rng_unif(&s);
    for (int64_t i = 0; i < 3 * cols; i++)
        x[i] = 4.0f * rng_unif(&s);
    const matmul_isa best = matmul_isa_best();
    kern_choice def;
    kern_defaults(&def);
    for (int isa = MATMUL_ISA_SCALAR; isa <= (int)best; isa++) {
        matmul_set_isa((matmul_isa)isa);
        for (size_t ci = 0; ci < sizeof CASES / sizeof CASES[0]; ci++) {
            const wcase *c = &CASES[ci];
            float *wf;
            ops_weight W = make_weight(c->type, c->act, w, rows, cols, &wf);
            const float *wimg = c->type == DTYPE_F32 ? W.f32 : wf;
            for (size_t ni = 0; ni < 2; ni++) {
                kern_set(&def);
                matmul_run(matmul_default(), &W, x, y0, ns[ni]);
                for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
                    kern_choice k;
                    kk_err e;
                    assert_int_equal(kern_parse(variants[v], &k, &e), KK_OK);
                    kern_set(&k);
                    const double r = worst_ratio(c, &W, wimg, x, ns[ni]);
                    if (r > 1.0)
                        fail_msg("%s isa %s variant %s n %lld: error %.3g of the bound", c->name,
                                 matmul_isa_name((matmul_isa)isa), variants[v],
                                 (long long)ns[ni], r);
                    matmul_run(matmul_default(), &W, x, y, ns[ni]);
                    if (!kern_rounding_differs(&k, &def) &&
                        memcmp(y, y0, (size_t)(ns[ni] * rows) * sizeof(float)) != 0)
                        fail_msg("%s isa %s variant %s n %lld: not bit-identical to the default",
                                 c->name, matmul_isa_name((matmul_isa)isa), variants[v],
                                 (long long)ns[ni]);
                }
            }
            free_weight(&W, wf);
        }
    }
    kern_set(&def);
    matmul_set_isa(MATMUL_ISA_AVX512);
    free(w);
    free(x);
    free(y0);
    free(y);
}

/* The spec grammar: canonical form round trip, errors by key. */
static void kernel_specs_should_parse_and_refuse_by_key(void **state)
{
    (void)state;
    kern_choice k;
    kk_err e;
    char buf[160], buf2[160];
    assert_int_equal(kern_parse("f16_gemv=tile1,pf_q8=32768,hint=t0", &k, &e), KK_OK);
    kern_format(&k, buf, sizeof buf);
    assert_string_equal(buf, "f16_gemv=tile1,pf_f32=12288,pf_f16=8192,pf_q8=32768,hint=t0,q8_rows=1");
    /* each key reaches its own field */
    assert_int_equal(kern_parse("pf_f32=1024,pf_f16=2048,pf_q8=0", &k, &e), KK_OK);
    assert_int_equal(k.pf_f32, 1024);
    assert_int_equal(k.pf_f16, 2048);
    assert_int_equal(k.pf_q8, 0);
    assert_int_equal(k.f16_gemv, KERN_F16_ROW4);
    assert_int_equal(k.hint, KERN_HINT_NTA);
    kern_choice k2;
    assert_int_equal(kern_parse(buf, &k2, &e), KK_OK);
    kern_format(&k2, buf2, sizeof buf2);
    assert_string_equal(buf, buf2);
    static const struct {
        const char *spec, *part;
        kk_code code;
    } bad[] = {
        {"f16_gemv=row2", "row4, tile1", KK_E_RANGE}, {"pf_f16=100", "multiples of 64", KK_E_RANGE},
        {"pf_q8=131072", "pf_q8", KK_E_RANGE},         {"gemv", "key=value", KK_E_FORMAT},
        {"warp=3", "unknown key 'warp'", KK_E_FORMAT}, {"hint=t1", "nta, t0", KK_E_RANGE},
        {"", "empty", KK_E_FORMAT},                   {"q8_rows=2", "1, 4", KK_E_RANGE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(kern_parse(bad[i].spec, &k, &e), bad[i].code);
        if (!strstr(e.msg, bad[i].part))
            fail_msg("'%s': %s", bad[i].spec, e.msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_fast_path_should_match_its_reference_within_the_float_sum_bound),
        cmocka_unit_test(a_wrong_weight_should_fail_the_same_comparison),
        cmocka_unit_test(the_q8_activation_quantizer_should_be_bit_exact_with_ggml_reference),
        cmocka_unit_test(the_f16_rounding_of_x_should_be_bit_exact_with_the_scalar_one),
        cmocka_unit_test(thread_counts_should_not_change_a_bit),
        cmocka_unit_test(every_kernel_variant_should_match_the_reference),
        cmocka_unit_test(kernel_specs_should_parse_and_refuse_by_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
