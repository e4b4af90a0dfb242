/*
 * test_cuda_attn: engine/cuda/kkcu_attn against a CPU reference in double.
 *
 * For each codec (q8_0, kl_e8:q=10) and n_ctx (1, 7, 4096, 32768, and a
 * peaked softmax at 4096): K and V (8 heads x n_ctx x 128, i.i.d. N(0,1))
 * are encoded by the CPU codec (codec_encode, one head's tokens after
 * another: the layout of kkcu_attn.h), decoded by the CPU codec
 * (codec_decode), and the reference is computed in double from those
 * floats: out[h] = softmax_t(q[h] . k[t] / sqrt(128)) v[t], 32 query heads
 * over 8 K/V heads, q ~ 2 N(0,1) (scores of standard deviation about 2: a
 * softmax that is neither flat nor one-hot). Then on the GPU:
 *   fused      kkcu_attn_fused over the codes;
 *   reference  kkcu_attn_decode_f16 + kkcu_attn_attend_f16 (plain);
 *   flash_f16  the split kernel over the same F16 cache.
 * Each output is checked per head by ||out - ref|| / ||ref|| (ref in
 * double), the largest over heads against:
 *   TOL_FUSED 2e-5: the fused kernel computes with exactly the floats the
 *     CPU decoder writes (kkcu_decode.cuh), so only F32 arithmetic
 *     separates it from the double reference: 128-term dot products,
 *     exp2f (2 ulp), sums over at most 16 tokens per warp and tile
 *     rescaled per tile and merged over warps and splits (a tree, not a
 *     32768-long chain), and for kl_e8 the rotation of q and of the output
 *     (7 butterfly stages each). Each is a few F32 ulps (6e-8) relative:
 *     1e-6 is the expected size, 2e-5 the bound.
 *   TOL_F16 4e-3: the reference path rounds every decoded K and V value
 *     to F16 (11 significant bits: relative error <= 2^-11 = 4.9e-4 per
 *     value, half that on average). V's rounding moves the output by about
 *     that relative amount; K's moves each score q . k / sqrt(128) by about
 *     2^-12 |q||k| / sqrt(128) / sqrt(128) ~ 2^-12 x 2 and so each weight
 *     by that relative amount; together well under 2e-3. 4e-3 is the bound.
 * A fused error above TOL_FUSED but under TOL_F16 would mean the fused
 * path silently rounds like F16; so both bounds are checked separately.
 * Also: the device's F16 cache equals the CPU's decoded floats rounded to
 * F16 (dtype_f32_to_f16) in every bit; every output element is written
 * (the output is poisoned with NaN before each run); and the oracle bites:
 * one flipped byte of K's codes (the scale of the token the first head
 * attends to most) must push the fused output past TOL_FUSED.
 *
 * Usage: test_cuda_attn [--ctx N,N,...]   (default 1,7,4096,32768; the
 * CPU emulator, `make test-attn-emu`, runs shorter ones). Exit 0 all
 * passed, 1 a check failed, 2 setup failed (no device, CUDA error).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef KKCU_EMU
#include <cuda_runtime.h>
#endif

#include "kkcu_attn.h"

extern "C" {
#include "dtype.h"
}

#define N_KV 8
#define N_HEADS (KKCU_ATTN_GROUP * N_KV)
#define HD KKCU_ATTN_HEAD_DIM

static const double TOL_FUSED = 2e-5;
static const double TOL_F16 = 4e-3;

static int failures = 0;

#define CK(call)                                                                                 \
    do {                                                                                         \
        const cudaError_t e_ = (call);                                                           \
        if (e_ != cudaSuccess) {                                                                 \
            fprintf(stderr, "test_cuda_attn: %s: %s\n", #call, cudaGetErrorString(e_));          \
            exit(2);                                                                             \
        }                                                                                        \
    } while (0)

static void kk_ok(kk_code c, const kk_err *e, const char *what)
{
    if (c != KK_OK) {
        fprintf(stderr, "test_cuda_attn: %s: %s\n", what, e->msg);
        exit(2);
    }
}

/* out[h] in double from the decoded floats (n_kv, n_ctx, HD). */
static void reference(const float *q, const float *k, const float *v, int64_t n_ctx, double *out)
{
    double *s = (double *)malloc((size_t)n_ctx * sizeof(double));
    for (int h = 0; h < N_HEADS; h++) {
        const int g = h / KKCU_ATTN_GROUP;
        double mx = -INFINITY;
        for (int64_t t = 0; t < n_ctx; t++) {
            const float *kr = k + ((size_t)g * n_ctx + t) * HD;
            double d = 0.0;
            for (int i = 0; i < HD; i++)
                d += (double)q[h * HD + i] * (double)kr[i];
            s[t] = d / sqrt((double)HD);
            mx = s[t] > mx ? s[t] : mx;
        }
        double sum = 0.0;
        for (int i = 0; i < HD; i++)
            out[h * HD + i] = 0.0;
        for (int64_t t = 0; t < n_ctx; t++) {
            const double w = exp(s[t] - mx);
            sum += w;
            const float *vr = v + ((size_t)g * n_ctx + t) * HD;
            for (int i = 0; i < HD; i++)
                out[h * HD + i] += w * (double)vr[i];
        }
        for (int i = 0; i < HD; i++)
            out[h * HD + i] /= sum;
    }
    free(s);
}

/* The largest per-head relative L2 error; a non-finite element is +inf. */
static double max_rel_err(const float *got, const double *ref)
{
    double worst = 0.0;
    for (int h = 0; h < N_HEADS; h++) {
        double num = 0.0, den = 0.0;
        for (int i = 0; i < HD; i++) {
            const double g = got[h * HD + i];
            if (!isfinite(g))
                return INFINITY;
            num += (g - ref[h * HD + i]) * (g - ref[h * HD + i]);
            den += ref[h * HD + i] * ref[h * HD + i];
        }
        const double r = den > 0.0 ? sqrt(num / den) : sqrt(num);
        worst = r > worst ? r : worst;
    }
    return worst;
}

struct gpu_bufs {
    float *q, *out;
    uint8_t *k, *v;
};

typedef kk_code (*attn_fn)(kkcu_attn *, const gpu_bufs *, int64_t, kk_err *);

static kk_code run_fused(kkcu_attn *a, const gpu_bufs *b, int64_t n, kk_err *e)
{
    return kkcu_attn_fused(a, b->q, b->k, b->v, n, b->out, NULL, e);
}
static kk_code run_reference(kkcu_attn *a, const gpu_bufs *b, int64_t n, kk_err *e)
{
    return kkcu_attn_reference(a, b->q, b->k, b->v, n, b->out, NULL, e);
}
static kk_code run_flash16(kkcu_attn *a, const gpu_bufs *b, int64_t n, kk_err *e)
{
    kk_code c = kkcu_attn_decode_f16(a, b->k, b->v, n, NULL, e);
    return c != KK_OK ? c : kkcu_attn_flash_f16(a, b->q, n, b->out, NULL, e);
}

/* Poison out, run, fetch. */
static void run_and_fetch(attn_fn fn, kkcu_attn *a, const gpu_bufs *b, int64_t n, float *host_out)
{
    kk_err e;
    kk_err_clear(&e);
    CK(cudaMemset(b->out, 0xff, N_HEADS * HD * sizeof(float))); /* NaN */
    kk_ok(fn(a, b, n, &e), &e, "attention");
    CK(cudaDeviceSynchronize());
    CK(cudaGetLastError());
    CK(cudaMemcpy(host_out, b->out, N_HEADS * HD * sizeof(float), cudaMemcpyDeviceToHost));
}

static void check(const char *what, double err, double tol, const char *name, int64_t n)
{
    const int ok = err <= tol;
    if (!ok) {
        failures++;
        printf("FAIL %s n_ctx %lld %s: max relative error %.3g > %.3g\n", name, (long long)n, what,
               err, tol);
    }
}

/* One case: codec spec text, n_ctx, peaked softmax or not, flip a byte. */
static void one_case(const char *spec_text, int64_t n_ctx, int peaked, int bite, uint64_t seed)
{
    kk_err e;
    kk_err_clear(&e);
    codec_spec spec;
    kk_ok(codec_spec_parse(spec_text, &spec, &e), &e, "codec_spec_parse");
    codec *c = NULL;
    kk_ok(codec_init(&c, &spec, &e), &e, "codec_init");
    kkcu_attn_config cfg = {N_HEADS, N_KV, HD, n_ctx, codec_get_spec(c)[0]};
    kkcu_attn *a = NULL;
    kk_ok(kkcu_attn_init(&a, &cfg, &e), &e, "kkcu_attn_init");

    const size_t nv = (size_t)N_KV * n_ctx * HD, hb = kkcu_attn_head_bytes(a);
    const size_t cb = kkcu_attn_cache_bytes(a, n_ctx);
    float *q = (float *)malloc(N_HEADS * HD * sizeof(float));
    float *k = (float *)malloc(nv * sizeof(float)), *v = (float *)malloc(nv * sizeof(float));
    float *kd = (float *)malloc(nv * sizeof(float)), *vd = (float *)malloc(nv * sizeof(float));
    uint8_t *kc = (uint8_t *)calloc(1, cb), *vc = (uint8_t *)calloc(1, cb);
    double *ref = (double *)malloc(N_HEADS * HD * sizeof(double));
    float *got = (float *)malloc(N_HEADS * HD * sizeof(float));
    uint16_t *k16 = (uint16_t *)malloc(nv * sizeof(uint16_t));
    if (!q || !k || !v || !kd || !vd || !kc || !vc || !ref || !got || !k16) {
        fprintf(stderr, "test_cuda_attn: out of memory at n_ctx %lld\n", (long long)n_ctx);
        exit(2);
    }
    codec_fill_gaussian(q, N_HEADS * HD, seed);
    for (int i = 0; i < N_HEADS * HD; i++)
        q[i] *= 2.0f;
    codec_fill_gaussian(k, nv, seed + 1);
    codec_fill_gaussian(v, nv, seed + 2);
    if (peaked) /* one token the first group's heads attend to almost alone */
        for (int i = 0; i < HD; i++)
            k[(size_t)(n_ctx / 3) * HD + i] = 0.5f * q[i];
    for (int g = 0; g < N_KV; g++) {
        const size_t o = (size_t)g * n_ctx * HD;
        codec_encode(c, k + o, (size_t)n_ctx * HD, kc + (size_t)g * n_ctx * hb);
        codec_encode(c, v + o, (size_t)n_ctx * HD, vc + (size_t)g * n_ctx * hb);
        codec_decode(c, kc + (size_t)g * n_ctx * hb, (size_t)n_ctx * HD, kd + o);
        codec_decode(c, vc + (size_t)g * n_ctx * hb, (size_t)n_ctx * HD, vd + o);
    }
    reference(q, kd, vd, n_ctx, ref);

    gpu_bufs b;
    CK(cudaMalloc((void **)&b.q, N_HEADS * HD * sizeof(float)));
    CK(cudaMalloc((void **)&b.out, N_HEADS * HD * sizeof(float)));
    CK(cudaMalloc((void **)&b.k, cb));
    CK(cudaMalloc((void **)&b.v, cb));
    CK(cudaMemcpy(b.q, q, N_HEADS * HD * sizeof(float), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(b.k, kc, cb, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(b.v, vc, cb, cudaMemcpyHostToDevice));

    const char *name = spec_text;
    char label[96];
    snprintf(label, sizeof label, "%s%s", name, peaked ? " (peaked)" : "");
    run_and_fetch(run_fused, a, &b, n_ctx, got);
    const double e_fused = max_rel_err(got, ref);
    check("fused", e_fused, TOL_FUSED, label, n_ctx);
    run_and_fetch(run_reference, a, &b, n_ctx, got);
    const double e_ref = max_rel_err(got, ref);
    check("reference (decode F16, plain attention)", e_ref, TOL_F16, label, n_ctx);
    /* the F16 cache, bit for bit */
    CK(cudaMemcpy(k16, kkcu_attn_f16_k(a), nv * sizeof(uint16_t), cudaMemcpyDeviceToHost));
    size_t bad16 = 0;
    for (size_t i = 0; i < nv; i++)
        bad16 += k16[i] != dtype_f32_to_f16(kd[i]);
    if (bad16) {
        failures++;
        printf("FAIL %s n_ctx %lld: %zu of %zu F16 K values differ from the CPU's decode "
               "rounded to F16\n", label, (long long)n_ctx, bad16, nv);
    }
    run_and_fetch(run_flash16, a, &b, n_ctx, got);
    const double e_flash = max_rel_err(got, ref);
    check("flash_f16", e_flash, TOL_F16, label, n_ctx);

    double e_bite = -1.0;
    if (bite) {
        /* the token head 0 weighs most: flip the high byte of its first
         * block's scale (q8_0) or of its qmax (kl_e8) */
        int64_t best = 0;
        double bs = -INFINITY;
        for (int64_t t = 0; t < n_ctx; t++) {
            double d = 0.0;
            for (int i = 0; i < HD; i++)
                d += (double)q[i] * kd[(size_t)t * HD + i];
            if (d > bs) {
                bs = d;
                best = t;
            }
        }
        uint8_t *p = kc + (size_t)best * hb + (spec.kind == CODEC_KIND_Q8_0 ? 1 : 3);
        *p ^= 0x40;
        CK(cudaMemcpy(b.k, kc, cb, cudaMemcpyHostToDevice));
        run_and_fetch(run_fused, a, &b, n_ctx, got);
        e_bite = max_rel_err(got, ref);
        if (!(e_bite > TOL_FUSED)) {
            failures++;
            printf("FAIL %s n_ctx %lld: a flipped byte of K's codes left the fused output within "
                   "%.3g (error %.3g): the check does not bite\n", label, (long long)n_ctx,
                   TOL_FUSED, e_bite);
        }
    }
    printf("%-18s %7lld %6d %11.3g %11.3g %11.3g %9zu %s\n", label, (long long)n_ctx,
           kkcu_attn_splits(a, n_ctx),
           e_fused, e_ref, e_flash, bad16, bite ? (e_bite > TOL_FUSED ? "bites" : "NO BITE") : "");
    fflush(stdout);

    cudaFree(b.q);
    cudaFree(b.out);
    cudaFree(b.k);
    cudaFree(b.v);
    kkcu_attn_free(a);
    codec_free(c);
    free(q);
    free(k);
    free(v);
    free(kd);
    free(vd);
    free(kc);
    free(vc);
    free(ref);
    free(got);
    free(k16);
}

int main(int argc, char **argv)
{
    int64_t ctx[16] = {1, 7, 4096, 32768};
    int n_ctx = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ctx") && i + 1 < argc) {
            n_ctx = 0;
            for (char *s = argv[++i]; *s && n_ctx < 16;) {
                ctx[n_ctx++] = strtoll(s, &s, 10);
                if (*s == ',')
                    s++;
            }
        } else {
            fprintf(stderr, "usage: test_cuda_attn [--ctx N,N,...]\n");
            return 3;
        }
    }
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev < 1) {
        fprintf(stderr, "test_cuda_attn: no CUDA device\n");
        return 2;
    }
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("test_cuda_attn on %s: %d query heads, %d K/V heads, head dim %d; tolerances: fused "
           "%.0e, F16 paths %.0e (relative L2 per head, against double)\n",
           prop.name, N_HEADS, N_KV, HD, TOL_FUSED, TOL_F16);
    printf("%-18s %7s %6s %11s %11s %11s %9s\n", "codec", "n_ctx", "splits", "fused",
           "reference", "flash_f16", "f16_diff");
    static const char *const codecs[] = {"q8_0", "kl_e8:q=10"};
    for (int ci = 0; ci < 2; ci++)
        for (int i = 0; i < n_ctx; i++) {
            one_case(codecs[ci], ctx[i], 0, ctx[i] == 7, 1000 + (uint64_t)(17 * i + ci));
            if (ctx[i] >= 256 && ctx[i] <= 4096)
                one_case(codecs[ci], ctx[i], 1, 1, 2000 + (uint64_t)(17 * i + ci));
        }
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
