/* cmd_codec_gpu: `codec eval --device cuda` and `codec attn` (cmd_codec_gpu.h). */
#include "cmd_codec_gpu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cuda.h"
#include "cmd.h"
#include "kk_args.h"
#include "kk_stats.h"

#ifdef KK_CUDA
#include "cuda/kkcu.h"
#include "cuda/kkcu_attn.h"
#include "cuda/kkcu_mem.h"
#endif

/* Calls launched between two synchronizations when timing: a kernel of a
 * few microseconds is then timed back to back, not with a host round trip
 * each. */
#define GPU_BATCH 8

/* The shape of `codec attn`: the (Llama 3 8B's) 32 query heads
 * over 8 K/V heads of 128. */
#define ATTN_N_KV 8
#define ATTN_N_HEADS 32
#define ATTN_HD 128
/* The fused output against the reference path's (relative L2, worst
 * head): the reference rounds K and V to F16 (2^-11 relative), so about
 * 1e-3 is expected; tests/cuda/test_cuda_attn.cu explains the bound. */
#define ATTN_MAX_REL_DIFF 4e-3

#ifdef KK_CUDA
typedef kk_code (*gpu_call)(void *ctx, int i, kk_err *err);

/* Seconds per call of fn, over batches of GPU_BATCH calls until min_s
 * have passed (one synchronization per batch). */
static kk_code time_calls(gpu_call fn, void *ctx, double min_s, double *per_call, kk_err *err)
{
    long reps = 0;
    const double t0 = kk_now_s();
    double t = 0.0;
    do {
        for (int i = 0; i < GPU_BATCH; i++)
            KK_TRY(fn(ctx, (int)(reps + i), err));
        KK_TRY(kkcu_sync(err));
        reps += GPU_BATCH;
    } while ((t = kk_now_s() - t0) < min_s);
    *per_call = t / (double)reps;
    return KK_OK;
fail:
    return err ? err->code : KK_E_IO;
}

typedef struct eval_ctx {
    kkcu_codec *g;
    void *dx, *dc, *dy;
    size_t n;
} eval_ctx;

static kk_code call_encode(void *p, int i, kk_err *err)
{
    eval_ctx *e = p;
    (void)i;
    return kkcu_encode(e->g, e->dx, KKCU_F32, e->n, e->dc, NULL, err);
}

static kk_code call_decode(void *p, int i, kk_err *err)
{
    eval_ctx *e = p;
    (void)i;
    return kkcu_decode(e->g, e->dc, e->n, e->dy, KKCU_F32, NULL, err);
}
#endif

kk_code codec_eval_gpu(const codec_spec *spec, codec *c, const float *x, size_t n, double min_s,
                       uint8_t *buf, float *y, codec_gpu_result *r, kk_err *err)
{
    memset(r, 0, sizeof *r);
#ifdef KK_CUDA
    eval_ctx e = {NULL, NULL, NULL, NULL, n};
    uint8_t *cpu_codes = NULL;
    float *cpu_y = NULL;
    kk_code out = KK_OK;
    kkcu_device d;
    KK_TRY(kkcu_device_get(&d, err));
    snprintf(r->device, sizeof r->device, "%s", d.name);
    KK_TRY(kkcu_codec_init(&e.g, spec, err));
    const size_t bytes = kkcu_encoded_bytes(e.g, n);
    KK_CHECK(bytes == codec_encoded_bytes(c, n), err, KK_E_INTERNAL,
             "the GPU codec writes %zu bytes for %zu values, the CPU codec %zu", bytes, n,
             codec_encoded_bytes(c, n));
    cpu_codes = malloc(bytes);
    cpu_y = malloc(n * sizeof(float));
    KK_CHECK(cpu_codes && cpu_y, err, KK_E_NOMEM, "out of memory for %zu values", n);
    KK_TRY(kkcu_mem_alloc(&e.dx, n * sizeof(float), err));
    KK_TRY(kkcu_mem_alloc(&e.dc, bytes, err));
    KK_TRY(kkcu_mem_alloc(&e.dy, n * sizeof(float), err));
    KK_TRY(kkcu_mem_upload(e.dx, x, n * sizeof(float), err));
    KK_TRY(call_encode(&e, 0, err));
    KK_TRY(kkcu_sync(err));
    KK_TRY(kkcu_mem_download(buf, e.dc, bytes, err));
    codec_encode(c, x, n, cpu_codes);
    r->bytes_equal_cpu = memcmp(buf, cpu_codes, bytes) == 0;
    r->written = bytes;
    /* decode the CPU's codes on the GPU: the floats must be codec_decode's */
    KK_TRY(kkcu_mem_upload(e.dc, cpu_codes, bytes, err));
    KK_TRY(call_decode(&e, 0, err));
    KK_TRY(kkcu_mem_download(y, e.dy, n * sizeof(float), err));
    codec_decode(c, cpu_codes, n, cpu_y);
    r->floats_equal_cpu = memcmp(y, cpu_y, n * sizeof(float)) == 0;
    /* what the figures describe: the GPU's own codes, decoded on the GPU */
    KK_TRY(kkcu_mem_upload(e.dc, buf, bytes, err));
    KK_TRY(call_decode(&e, 0, err));
    KK_TRY(kkcu_mem_download(y, e.dy, n * sizeof(float), err));
    KK_TRY(time_calls(call_encode, &e, min_s, &r->t_enc, err));
    KK_TRY(time_calls(call_decode, &e, min_s, &r->t_dec, err));
    goto done;
fail:
    out = err && err->code != KK_OK ? err->code : KK_E_IO;
done:
    kkcu_mem_free(e.dx);
    kkcu_mem_free(e.dc);
    kkcu_mem_free(e.dy);
    kkcu_codec_free(e.g);
    free(cpu_codes);
    free(cpu_y);
    return out;
#else
    (void)spec;
    (void)c;
    (void)x;
    (void)n;
    (void)min_s;
    (void)buf;
    (void)y;
    return cli_cuda_refuse(err, "--device cuda");
#endif
}

/* ---- codec attn ------------------------------------------------------------------ */

static void attn_help(FILE *out)
{
    fprintf(out,
            "usage: kakeya codec attn [--codec q8_0|kl_e8:q=Q] [--ctx N] [--seed S] [--reps R]\n"
            "       [--json]\n"
            "One decode step of attention on the GPU over a K/V cache of N tokens held as\n"
            "packed codes (32 query heads, 8 K/V heads, head dim 128; K and V N(0,1) from the\n"
            "seed, encoded by the CPU codec): the fused kernel (decoding in registers) against\n"
            "decoding the cache to F16 and attending over it (docs/gpu.md).\n"
            "  --codec SPEC   q8_0 (default) or kl_e8 (group 128)\n"
            "  --ctx N        cached tokens, 1..1048576 (default 32768)\n"
            "  --seed S       data seed (default 1)\n"
            "  --reps R       timed repeats, 5..10000 (default 20; each the mean of %d calls)\n"
            "  --json         one JSON object (docs/gpu.md lists its fields)\n"
            "exit codes: 0 ok, 1 the fused output is not the reference's within %g, 2 bad\n"
            "input or no CUDA (a build without it: `make cuda`), 3 usage\n",
            GPU_BATCH, ATTN_MAX_REL_DIFF);
}

#ifdef KK_CUDA
typedef struct attn_ctx {
    kkcu_attn *a;
    float *dq, *dout;
    uint8_t **dk, **dv;
    int sets;
    int64_t n_ctx;
} attn_ctx;

static kk_code call_fused(void *p, int i, kk_err *err)
{
    attn_ctx *c = p;
    return kkcu_attn_fused(c->a, c->dq, c->dk[i % c->sets], c->dv[i % c->sets], c->n_ctx, c->dout,
                           NULL, err);
}

static kk_code call_reference(void *p, int i, kk_err *err)
{
    attn_ctx *c = p;
    return kkcu_attn_reference(c->a, c->dq, c->dk[i % c->sets], c->dv[i % c->sets], c->n_ctx,
                               c->dout, NULL, err);
}

/* Seconds per call, one figure per repeat (each the mean of a batch). */
static kk_code time_reps(gpu_call fn, void *ctx, int reps, double *t, kk_err *err)
{
    for (int r = 0; r < reps; r++) {
        const double t0 = kk_now_s();
        for (int i = 0; i < GPU_BATCH; i++)
            KK_TRY(fn(ctx, r * GPU_BATCH + i, err));
        KK_TRY(kkcu_sync(err));
        t[r] = (kk_now_s() - t0) / GPU_BATCH;
    }
    return KK_OK;
fail:
    return err ? err->code : KK_E_IO;
}

/* The largest per-head ||a - b|| / ||b||. */
static double max_rel_diff(const float *a, const float *b)
{
    double worst = 0.0;
    for (int h = 0; h < ATTN_N_HEADS; h++) {
        double num = 0.0, den = 0.0;
        for (int i = 0; i < ATTN_HD; i++) {
            const double d = (double)a[h * ATTN_HD + i] - (double)b[h * ATTN_HD + i];
            num += d * d;
            den += (double)b[h * ATTN_HD + i] * (double)b[h * ATTN_HD + i];
        }
        const double r = den > 0.0 ? sqrt(num / den) : sqrt(num);
        if (!isfinite(r))
            return INFINITY;
        worst = r > worst ? r : worst;
    }
    return worst;
}

static int attn_run(const char *spec_arg, int64_t n_ctx, uint64_t seed, int reps, int json)
{
    kk_err err;
    kk_err_clear(&err);
    int rc = KK_EXIT_OK;
    codec *c = NULL;
    kkcu_attn *a = NULL;
    attn_ctx ac;
    memset(&ac, 0, sizeof ac);
    uint8_t *kc = NULL, *vc = NULL;
    float *x = NULL, *q = NULL, *o1 = NULL, *o2 = NULL;
    double *tf = NULL, *tr = NULL;
    void *dref = NULL;
    codec_spec spec;
    if (codec_spec_parse(spec_arg, &spec, &err) != KK_OK || codec_init(&c, &spec, &err) != KK_OK) {
        kk_err_where(&err, "--codec");
        goto fail;
    }
    kkcu_device d;
    if (kkcu_device_get(&d, &err) != KK_OK)
        goto fail;
    const kkcu_attn_config cfg = {ATTN_N_HEADS, ATTN_N_KV, ATTN_HD, n_ctx, *codec_get_spec(c)};
    if (kkcu_attn_init(&a, &cfg, &err) != KK_OK) {
        kk_err_where(&err, "--codec");
        goto fail;
    }
    const size_t hb = kkcu_attn_head_bytes(a), cb = kkcu_attn_cache_bytes(a, n_ctx);
    const size_t per_head = (size_t)n_ctx * ATTN_HD;
    kc = calloc(1, cb);
    vc = calloc(1, cb);
    x = malloc(per_head * sizeof(float));
    q = malloc(ATTN_N_HEADS * ATTN_HD * sizeof(float));
    o1 = malloc(ATTN_N_HEADS * ATTN_HD * sizeof(float));
    o2 = malloc(ATTN_N_HEADS * ATTN_HD * sizeof(float));
    tf = malloc((size_t)reps * sizeof(double));
    tr = malloc((size_t)reps * sizeof(double));
    if (!kc || !vc || !x || !q || !o1 || !o2 || !tf || !tr) {
        kk_err_set(&err, KK_E_NOMEM, "out of memory for a cache of %lld tokens", (long long)n_ctx);
        goto fail;
    }
    for (int g = 0; g < ATTN_N_KV; g++) {
        codec_fill_gaussian(x, per_head, seed * 1000 + (uint64_t)g);
        codec_encode(c, x, per_head, kc + (size_t)g * n_ctx * hb);
        codec_fill_gaussian(x, per_head, seed * 1000 + 500 + (uint64_t)g);
        codec_encode(c, x, per_head, vc + (size_t)g * n_ctx * hb);
    }
    codec_fill_gaussian(q, ATTN_N_HEADS * ATTN_HD, seed * 1000 + 999);
    /* copies of the cache past 4x the L2, so runs read device memory */
    ac.sets = (int)((4 * d.l2_bytes + 2 * cb - 1) / (2 * cb));
    ac.sets = ac.sets < 1 ? 1 : ac.sets > 64 ? 64 : ac.sets;
    ac.a = a;
    ac.n_ctx = n_ctx;
    ac.dk = calloc((size_t)ac.sets, sizeof *ac.dk);
    ac.dv = calloc((size_t)ac.sets, sizeof *ac.dv);
    if (!ac.dk || !ac.dv) {
        kk_err_set(&err, KK_E_NOMEM, "out of memory");
        goto fail;
    }
    if (kkcu_mem_alloc((void **)&ac.dq, ATTN_N_HEADS * ATTN_HD * sizeof(float), &err) != KK_OK ||
        kkcu_mem_alloc((void **)&ac.dout, ATTN_N_HEADS * ATTN_HD * sizeof(float), &err) != KK_OK ||
        kkcu_mem_alloc(&dref, ATTN_N_HEADS * ATTN_HD * sizeof(float), &err) != KK_OK ||
        kkcu_mem_upload(ac.dq, q, ATTN_N_HEADS * ATTN_HD * sizeof(float), &err) != KK_OK)
        goto fail;
    for (int s = 0; s < ac.sets; s++)
        if (kkcu_mem_alloc((void **)&ac.dk[s], cb, &err) != KK_OK ||
            kkcu_mem_alloc((void **)&ac.dv[s], cb, &err) != KK_OK ||
            kkcu_mem_upload(ac.dk[s], kc, cb, &err) != KK_OK ||
            kkcu_mem_upload(ac.dv[s], vc, cb, &err) != KK_OK)
            goto fail;
    /* the two paths agree, then the timings */
    if (kkcu_attn_fused(a, ac.dq, ac.dk[0], ac.dv[0], n_ctx, ac.dout, NULL, &err) != KK_OK ||
        kkcu_attn_reference(a, ac.dq, ac.dk[0], ac.dv[0], n_ctx, dref, NULL, &err) != KK_OK ||
        kkcu_sync(&err) != KK_OK ||
        kkcu_mem_download(o1, ac.dout, ATTN_N_HEADS * ATTN_HD * sizeof(float), &err) != KK_OK ||
        kkcu_mem_download(o2, dref, ATTN_N_HEADS * ATTN_HD * sizeof(float), &err) != KK_OK)
        goto fail;
    const double diff = max_rel_diff(o1, o2);
    if (time_reps(call_fused, &ac, reps, tf, &err) != KK_OK ||
        time_reps(call_reference, &ac, reps, tr, &err) != KK_OK)
        goto fail;
    const double t_f = kk_median(tf, (size_t)reps), t_r = kk_median(tr, (size_t)reps);
    const double code_bytes = 2.0 * ATTN_N_KV * (double)n_ctx * (double)hb;
    if (json) {
        printf("{\"codec\": \"%s\", \"device\": \"%s\", \"n_ctx\": %lld, \"n_heads\": %d, "
               "\"n_kv_heads\": %d, \"head_dim\": %d, \"head_bytes\": %zu, \"cache_bytes\": %.0f, "
               "\"splits\": %d, \"sets\": %d, \"reps\": %d, \"fused_s\": %.9g, "
               "\"cache_gbps\": %.6g, \"reference_s\": %.9g, \"speedup\": %.6g, "
               "\"max_rel_diff\": %.6g}\n",
               spec_arg, d.name, (long long)n_ctx, ATTN_N_HEADS, ATTN_N_KV, ATTN_HD, hb, code_bytes,
               kkcu_attn_splits(a, n_ctx), ac.sets, reps, t_f, code_bytes / t_f * 1e-9, t_r,
               t_r / t_f, diff);
    } else {
        printf("device      %s\n", d.name);
        printf("codec       %s (%zu bytes per token and K/V head)\n", spec_arg, hb);
        printf("cache       %lld tokens x %d K/V heads: %.0f bytes of K and V codes (%d copies "
               "rotated)\n", (long long)n_ctx, ATTN_N_KV, code_bytes, ac.sets);
        printf("fused       %.2f us (median of %d), %.1f GB/s of codes read, %d splits per head\n",
               t_f * 1e6, reps, code_bytes / t_f * 1e-9, kkcu_attn_splits(a, n_ctx));
        printf("reference   %.2f us (decode to F16, then attend): fused is %.2fx faster\n",
               t_r * 1e6, t_r / t_f);
        printf("agreement   %.3g relative (worst head; <= %g: F16 rounding of the reference)\n",
               diff, ATTN_MAX_REL_DIFF);
    }
    if (fflush(stdout) != 0) {
        kk_err_set(&err, KK_E_IO, "writing to stdout failed");
        goto fail;
    }
    if (!(diff <= ATTN_MAX_REL_DIFF)) {
        fprintf(stderr, "kakeya codec attn: the fused output differs from the reference by %.3g "
                        "(> %g)\n", diff, ATTN_MAX_REL_DIFF);
        rc = KK_EXIT_FAIL;
    }
    goto done;
fail:
    rc = cmd_fail("codec attn", &err);
done:
    for (int s = 0; ac.dk && s < ac.sets; s++) {
        kkcu_mem_free(ac.dk[s]);
        kkcu_mem_free(ac.dv[s]);
    }
    free(ac.dk);
    free(ac.dv);
    kkcu_mem_free(ac.dq);
    kkcu_mem_free(ac.dout);
    kkcu_mem_free(dref);
    kkcu_attn_free(a);
    codec_free(c);
    free(kc);
    free(vc);
    free(x);
    free(q);
    free(o1);
    free(o2);
    free(tf);
    free(tr);
    return rc;
}
#endif

int cmd_codec_attn(int argc, char **argv)
{
    kk_err err;
    kk_err_clear(&err);
    const char *spec_arg = "q8_0", *ctx_arg = NULL, *seed_arg = NULL, *reps_arg = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            attn_help(stdout);
            return KK_EXIT_OK;
        } else if (!strcmp(a, "--codec")) {
            dst = &spec_arg;
        } else if (!strcmp(a, "--ctx")) {
            dst = &ctx_arg;
        } else if (!strcmp(a, "--seed")) {
            dst = &seed_arg;
        } else if (!strcmp(a, "--reps")) {
            dst = &reps_arg;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else {
            fprintf(stderr, "kakeya codec attn: unknown option '%s'\n", a);
            attn_help(stderr);
            return KK_EXIT_USAGE;
        }
        if (dst && !(*dst = kk_arg_value(argc, argv, &i, &err)))
            return cmd_fail("codec attn", &err);
    }
    int64_t n_ctx = 32768, seed = 1, reps = 20;
    if ((ctx_arg && kk_arg_i64("--ctx", ctx_arg, 1, 1 << 20, &n_ctx, &err) != KK_OK) ||
        (seed_arg && kk_arg_i64("--seed", seed_arg, 0, 1 << 30, &seed, &err) != KK_OK) ||
        (reps_arg && kk_arg_i64("--reps", reps_arg, 5, 10000, &reps, &err) != KK_OK))
        return cmd_fail("codec attn", &err);
#ifdef KK_CUDA
    return attn_run(spec_arg, n_ctx, (uint64_t)seed, (int)reps, json);
#else
    (void)json;
    cli_cuda_refuse(&err, "codec attn");
    return cmd_fail("codec attn", &err);
#endif
}
