/*
 * bench_cuda_attn: one decode step of attention over a packed K/V cache on
 * the GPU (engine/cuda/kkcu_attn.h), at 4k, 32k and 128k cached tokens,
 * against the device's own copy bandwidth measured in the same run.
 *
 *   copy        cudaMemcpyAsync device to device of COPY_BYTES: GB/s counts
 *               bytes read plus bytes written (the bandwidth limit)
 *   fused       kkcu_attn_fused: GB/s = K and V code bytes read / time, and
 *               that as % of copy
 *   decode      kkcu_attn_decode_f16 (codes -> F16 cache)
 *   attend      kkcu_attn_attend_f16 (the plain attention over F16)
 *   dec+att     the two, timed together: the reference path
 *   dec+flash   decode, then the split kernel over F16: decode-then-attend
 *               at its best
 * Shape: 32 query heads, 8 K/V heads, head dim 128, one query. Codecs q8_0
 * and kl_e8:q=10. Each time is the median of REPS (>= 20) event-timed
 * runs after WARMUP runs; when a cache is smaller than 4x the L2, runs
 * rotate over that many copies of it so each reads from device memory,
 * not L2 (METHOD.md: "repeated runs over one buffer measure the cache").
 * The cache holds real codes: CPU-encoded N(0,1) K and V for 4096 tokens,
 * repeated along the context. After timing, the fused output is compared
 * with the reference path's (relative L2, worst head) so a broken kernel
 * cannot post a number.
 *
 * Output: a table on stdout, then one JSON object per row (lines starting
 * with '{'; also appended to --jsonl FILE). Exit 0, 1 when fused and
 * reference disagree beyond 4e-3, 2 on a CUDA error.
 *
 *   bench_cuda_attn [--reps N] [--ctx 4096,32768,131072] [--jsonl FILE]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <string>
#include <vector>

#ifndef KKCU_EMU
#include <cuda_runtime.h>
#endif

#include "kkcu_attn.h"

#define N_KV 8
#define N_HEADS (KKCU_ATTN_GROUP * N_KV)
#define HD KKCU_ATTN_HEAD_DIM
#define BASE_CTX 4096
#define WARMUP 3
#define COPY_BYTES ((size_t)512 << 20)

#define CK(call)                                                                                 \
    do {                                                                                         \
        const cudaError_t e_ = (call);                                                           \
        if (e_ != cudaSuccess) {                                                                 \
            fprintf(stderr, "bench_cuda_attn: %s: %s\n", #call, cudaGetErrorString(e_));         \
            exit(2);                                                                             \
        }                                                                                        \
    } while (0)

static void kk_ok(kk_code c, const kk_err *e, const char *what)
{
    if (c != KK_OK) {
        fprintf(stderr, "bench_cuda_attn: %s: %s\n", what, e->msg);
        exit(2);
    }
}

static double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Seconds of each of reps runs of fn(r) (r = the run's index), after
 * WARMUP runs, each between two events on the default stream. */
template <class F>
static std::vector<double> time_runs(int reps, F fn)
{
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    std::vector<double> s;
    for (int r = 0; r < WARMUP + reps; r++) {
        CK(cudaEventRecord(a, 0));
        fn(r);
        CK(cudaEventRecord(b, 0));
        CK(cudaEventSynchronize(b));
        CK(cudaGetLastError());
        float ms = 0.0f;
        CK(cudaEventElapsedTime(&ms, a, b));
        if (r >= WARMUP)
            s.push_back(1e-3 * ms);
    }
    CK(cudaEventDestroy(a));
    CK(cudaEventDestroy(b));
    return s;
}

static void json_samples(FILE *f, const char *key, const std::vector<double> &v)
{
    fprintf(f, ", \"%s\": [", key);
    for (size_t i = 0; i < v.size(); i++)
        fprintf(f, "%s%.9g", i ? ", " : "", v[i]);
    fprintf(f, "]");
}

int main(int argc, char **argv)
{
    int reps = 30;
    std::vector<long long> ctxs = {4096, 32768, 131072};
    const char *jsonl = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--ctx") && i + 1 < argc) {
            ctxs.clear();
            for (char *s = argv[++i]; *s;) {
                ctxs.push_back(strtoll(s, &s, 10));
                if (*s == ',')
                    s++;
            }
        } else if (!strcmp(argv[i], "--jsonl") && i + 1 < argc) {
            jsonl = argv[++i];
        } else {
            fprintf(stderr, "usage: bench_cuda_attn [--reps N (>= 20)] [--ctx N,N,...] "
                            "[--jsonl FILE]\n");
            return 3;
        }
    }
    if (reps < 20) {
        fprintf(stderr, "bench_cuda_attn: --reps %d; at least 20 (a median of fewer is noise)\n",
                reps);
        return 3;
    }
    long long max_ctx = 0;
    for (long long c : ctxs) {
        if (c < 1) {
            fprintf(stderr, "bench_cuda_attn: --ctx %lld; at least 1\n", c);
            return 3;
        }
        max_ctx = std::max(max_ctx, c);
    }
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    int drv = 0, rt = 0;
    CK(cudaDriverGetVersion(&drv));
    CK(cudaRuntimeGetVersion(&rt));
    const size_t l2 = prop.l2CacheSize > 0 ? (size_t)prop.l2CacheSize : (size_t)50 << 20;

    /* the copy: the bandwidth every GB/s below is compared with */
    void *src = NULL, *dst = NULL;
    CK(cudaMalloc(&src, COPY_BYTES));
    CK(cudaMalloc(&dst, COPY_BYTES));
    CK(cudaMemset(src, 0x5a, COPY_BYTES));
    const std::vector<double> t_copy = time_runs(reps, [&](int) {
        CK(cudaMemcpyAsync(dst, src, COPY_BYTES, cudaMemcpyDeviceToDevice, 0));
    });
    const double copy_gbps = 2.0 * (double)COPY_BYTES / median(t_copy) * 1e-9;
    CK(cudaFree(src));
    CK(cudaFree(dst));

    printf("bench_cuda_attn on %s (sm_%d%d, %d SMs, L2 %zu MiB; driver %d, runtime %d): %d query "
           "heads, %d K/V heads, head dim %d; median of %d runs after %d warm-ups\n",
           prop.name, prop.major, prop.minor, prop.multiProcessorCount, l2 >> 20, drv, rt,
           N_HEADS, N_KV, HD, reps, WARMUP);
    printf("copy (device to device, %zu MiB, read + write): %.1f GB/s\n\n", COPY_BYTES >> 20,
           copy_gbps);
    printf("%-11s %7s %6s %10s %9s %7s %10s %10s %10s %10s %8s %8s\n", "codec", "n_ctx", "sets",
           "fused_us", "GB/s", "%copy", "decode_us", "attend_us", "dec+att_us", "dec+fl_us",
           "x_ref", "x_flash");
    std::vector<std::string> lines;
    int bad = 0;
    static const char *const codecs[] = {"q8_0", "kl_e8:q=10"};
    for (const char *spec_text : codecs) {
        kk_err e;
        kk_err_clear(&e);
        codec_spec spec;
        kk_ok(codec_spec_parse(spec_text, &spec, &e), &e, "codec_spec_parse");
        codec *c = NULL;
        kk_ok(codec_init(&c, &spec, &e), &e, "codec_init");
        kkcu_attn_config cfg = {N_HEADS, N_KV, HD, max_ctx, *codec_get_spec(c)};
        kkcu_attn *a = NULL;
        kk_ok(kkcu_attn_init(&a, &cfg, &e), &e, "kkcu_attn_init");
        const size_t hb = kkcu_attn_head_bytes(a);
        /* BASE_CTX tokens of real codes per head, repeated along the context */
        const size_t base_vals = (size_t)BASE_CTX * HD;
        std::vector<float> x(base_vals);
        std::vector<uint8_t> kbase((size_t)N_KV * BASE_CTX * hb), vbase(kbase.size());
        for (int g = 0; g < N_KV; g++) {
            codec_fill_gaussian(x.data(), base_vals, 11 + (uint64_t)g);
            codec_encode(c, x.data(), base_vals, kbase.data() + (size_t)g * BASE_CTX * hb);
            codec_fill_gaussian(x.data(), base_vals, 1011 + (uint64_t)g);
            codec_encode(c, x.data(), base_vals, vbase.data() + (size_t)g * BASE_CTX * hb);
        }
        std::vector<float> q(N_HEADS * HD);
        codec_fill_gaussian(q.data(), q.size(), 7);
        float *dq = NULL, *dout = NULL, *dref = NULL;
        CK(cudaMalloc((void **)&dq, q.size() * sizeof(float)));
        CK(cudaMalloc((void **)&dout, q.size() * sizeof(float)));
        CK(cudaMalloc((void **)&dref, q.size() * sizeof(float)));
        CK(cudaMemcpy(dq, q.data(), q.size() * sizeof(float), cudaMemcpyHostToDevice));

        for (long long n_ctx : ctxs) {
            const size_t cb = kkcu_attn_cache_bytes(a, n_ctx);
            const double code_bytes = 2.0 * (double)N_KV * (double)n_ctx * (double)hb;
            const int sets = (int)std::max<size_t>(1, (4 * l2 + 2 * cb - 1) / (2 * cb));
            std::vector<uint8_t> hk(cb), hv(cb);
            for (int g = 0; g < N_KV; g++)
                for (long long t = 0; t < n_ctx; t++) {
                    const size_t at = ((size_t)g * n_ctx + t) * hb;
                    const size_t from = ((size_t)g * BASE_CTX + (size_t)(t % BASE_CTX)) * hb;
                    memcpy(&hk[at], &kbase[from], hb);
                    memcpy(&hv[at], &vbase[from], hb);
                }
            std::vector<uint8_t *> dk(sets), dv(sets);
            for (int s = 0; s < sets; s++) {
                CK(cudaMalloc((void **)&dk[s], cb));
                CK(cudaMalloc((void **)&dv[s], cb));
                CK(cudaMemcpy(dk[s], hk.data(), cb, cudaMemcpyHostToDevice));
                CK(cudaMemcpy(dv[s], hv.data(), cb, cudaMemcpyHostToDevice));
            }
            const std::vector<double> t_fused = time_runs(reps, [&](int r) {
                kk_ok(kkcu_attn_fused(a, dq, dk[r % sets], dv[r % sets], n_ctx, dout, NULL, &e), &e,
                      "fused");
            });
            const std::vector<double> t_dec = time_runs(reps, [&](int r) {
                kk_ok(kkcu_attn_decode_f16(a, dk[r % sets], dv[r % sets], n_ctx, NULL, &e), &e,
                      "decode");
            });
            const std::vector<double> t_att = time_runs(reps, [&](int) {
                kk_ok(kkcu_attn_attend_f16(a, dq, n_ctx, dref, NULL, &e), &e, "attend");
            });
            const std::vector<double> t_ref = time_runs(reps, [&](int r) {
                kk_ok(kkcu_attn_reference(a, dq, dk[r % sets], dv[r % sets], n_ctx, dref, NULL, &e),
                      &e, "reference");
            });
            const std::vector<double> t_dfl = time_runs(reps, [&](int r) {
                kk_ok(kkcu_attn_decode_f16(a, dk[r % sets], dv[r % sets], n_ctx, NULL, &e), &e,
                      "decode");
                kk_ok(kkcu_attn_flash_f16(a, dq, n_ctx, dout, NULL, &e), &e, "flash_f16");
            });
            /* the two paths agree (same codes: set 0) */
            kk_ok(kkcu_attn_fused(a, dq, dk[0], dv[0], n_ctx, dout, NULL, &e), &e, "fused");
            kk_ok(kkcu_attn_reference(a, dq, dk[0], dv[0], n_ctx, dref, NULL, &e), &e, "reference");
            CK(cudaDeviceSynchronize());
            std::vector<float> o1(q.size()), o2(q.size());
            CK(cudaMemcpy(o1.data(), dout, o1.size() * sizeof(float), cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(o2.data(), dref, o2.size() * sizeof(float), cudaMemcpyDeviceToHost));
            double worst = 0.0;
            for (int h = 0; h < N_HEADS; h++) {
                double num = 0.0, den = 0.0;
                for (int i = 0; i < HD; i++) {
                    const double d = (double)o1[h * HD + i] - o2[h * HD + i];
                    num += d * d;
                    den += (double)o2[h * HD + i] * o2[h * HD + i];
                }
                const double r = den > 0 ? sqrt(num / den) : sqrt(num);
                worst = isfinite(r) && r > worst ? r : isfinite(r) ? worst : INFINITY;
            }
            if (!(worst <= 4e-3)) {
                bad++;
                fprintf(stderr, "bench_cuda_attn: %s n_ctx %lld: fused and reference differ by "
                        "%.3g (> 4e-3)\n", spec_text, n_ctx, worst);
            }
            const double tf = median(t_fused), td = median(t_dec), ta = median(t_att),
                         tr = median(t_ref), tdf = median(t_dfl);
            const double gbps = code_bytes / tf * 1e-9;
            printf("%-11s %7lld %6d %10.2f %9.1f %7.1f %10.2f %10.2f %10.2f %10.2f %8.2f %8.2f\n",
                   spec_text, n_ctx, sets, tf * 1e6, gbps, 100.0 * gbps / copy_gbps, td * 1e6,
                   ta * 1e6, tr * 1e6, tdf * 1e6, tr / tf, tdf / tf);
            fflush(stdout);
            char *buf = NULL;
            size_t len = 0;
            FILE *f = open_memstream(&buf, &len);
            fprintf(f, "{\"bench\": \"cuda_attn\", \"gpu\": \"%s\", \"sm\": \"%d.%d\", \"sms\": %d, "
                    "\"driver\": %d, \"runtime\": %d, \"codec\": \"%s\", \"n_ctx\": %lld, "
                    "\"n_heads\": %d, \"n_kv_heads\": %d, \"head_dim\": %d, \"head_bytes\": %zu, "
                    "\"code_bytes\": %.0f, \"sets\": %d, \"splits\": %d, \"reps\": %d, "
                    "\"copy_gbps\": %.6g, \"fused_s\": %.9g, \"fused_gbps\": %.6g, "
                    "\"fused_pct_copy\": %.4g, \"decode_s\": %.9g, \"attend_s\": %.9g, "
                    "\"decode_attend_s\": %.9g, \"decode_flash_s\": %.9g, \"speedup_vs_ref\": "
                    "%.4g, \"speedup_vs_flash\": %.4g, \"fused_vs_ref_rel\": %.3g",
                    prop.name, prop.major, prop.minor, prop.multiProcessorCount, drv, rt, spec_text,
                    n_ctx, N_HEADS, N_KV, HD, hb, code_bytes, sets, kkcu_attn_splits(a, n_ctx),
                    reps, copy_gbps, tf, gbps, 100.0 * gbps / copy_gbps, td, ta, tr, tdf, tr / tf,
                    tdf / tf, worst);
            json_samples(f, "fused_samples_s", t_fused);
            json_samples(f, "decode_attend_samples_s", t_ref);
            json_samples(f, "decode_flash_samples_s", t_dfl);
            json_samples(f, "copy_samples_s", t_copy);
            fprintf(f, "}");
            fclose(f);
            lines.push_back(std::string(buf, len));
            free(buf);
            for (int s = 0; s < sets; s++) {
                CK(cudaFree(dk[s]));
                CK(cudaFree(dv[s]));
            }
        }
        CK(cudaFree(dq));
        CK(cudaFree(dout));
        CK(cudaFree(dref));
        kkcu_attn_free(a);
        codec_free(c);
    }
    printf("\n");
    FILE *jf = jsonl ? fopen(jsonl, "a") : NULL;
    if (jsonl && !jf) {
        fprintf(stderr, "bench_cuda_attn: cannot open %s\n", jsonl);
        return 2;
    }
    for (const std::string &l : lines) {
        printf("%s\n", l.c_str());
        if (jf)
            fprintf(jf, "%s\n", l.c_str());
    }
    if (jf)
        fclose(jf);
    return bad ? 1 : 0;
}
