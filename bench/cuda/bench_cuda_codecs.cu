/*
 * bench_cuda_codecs: GPU codec throughput against the device's own copy
 * bandwidth, measured in the same run.
 *
 *   bench_cuda_codecs [--json FILE] [--reps N] [--impl fast|tile|simple]
 *                     [--shape small|large|both] [--once] [--small-n N] [SPEC ...]
 *
 * For each shape, the source project's K/V tensor (2048 tokens x 8 heads x
 * 128 = 2 Mi values) and a large one (64 Mi values), on BF16 input (what
 * the K/V cache holds; decode writes BF16 back):
 *   - copy: cudaMemcpyAsync device to device of the BF16 tensor's bytes,
 *     GB/s counting bytes read plus written (2 x size / time): the
 *     bandwidth limit every codec is compared with;
 *   - per codec: encode (BF16 -> codes), decode (codes -> BF16) and the
 *     round trip (the two back to back), in G values/s, with the bytes each
 *     moves at the fewest (BF16 in + codes out, and so on) as GB/s and as a
 *     share of the copy's GB/s.
 * Timing: CUDA events around a batch of launches (so the small shape is not
 * one launch latency), 3 warm-up batches, then --reps (default 25)
 * batches; the median per launch is reported with every sample in the
 * JSON. The small shape rotates over 32 tensors at distinct addresses (128
 * MiB, past the 50-60 MB L2), so repeats do not read the L2. The decoded
 * values' rel. MSE against the input (first 1 Mi values) is printed as a
 * check that the kernels did the work.
 * Table on stdout (flushed per row); JSON lines, one per measurement, to
 * FILE. --once runs one encode and one decode per codec and shape, untimed
 * (for a profiler: `ncu -k regex:k_ bench_cuda_codecs --once --shape
 * large q8_0`). --small-n N replaces the small shape's 2 Mi values (a smoke
 * test on the CPU emulator). Exit 1 on a CUDA error, 2 without a device, 3
 * on usage.
 */
#include <algorithm>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

#include <cuda_runtime.h>

#include "kkcu.h"

extern "C" {
#include "dtype.h"
}

#define CK(call)                                                                        \
    do {                                                                                \
        const cudaError_t e_ = (call);                                                  \
        if (e_ != cudaSuccess) {                                                        \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,               \
                    cudaGetErrorString(e_));                                            \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

#define KK(call)                                                                        \
    do {                                                                                \
        kk_err kerr;                                                                    \
        kk_err_clear(&kerr);                                                            \
        if ((call) != KK_OK) {                                                          \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                             \
            kk_err_print(stderr, "bench_cuda_codecs", &kerr);                           \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

static const char *const DEFAULT_SPECS[] = {
    "q8_0",
    "q4_0",
    "affine:bits=8,group=64",
    "affine:bits=4,group=64",
    "affine:bits=4,group=128",
    "affine:bits=2,group=32",
    "affine:bits=2,group=32,axis=token,channels=1024",
    "q8_0:rotate=hadamard",
    "affine:bits=4,group=64,rotate=hadamard",
    "e8:bits=4",
    "d4:bits=4",
    "kl_e8:q=10",
    "kl_d4:q=10",
    "kl_e8:q=4",
    "kl_e8:q=38",
};

#define SMALL_N ((size_t)2048 * 8 * 128)
#define LARGE_N ((size_t)64 << 20)
#define N_ROT 32 /* small-shape tensors rotated over */
#define WARMUP 3

static FILE *g_json;
static char g_gpu[512];

static double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

/* Times `batch` calls of fn(i) (i the call's index over all samples) per
 * sample; returns the seconds per call of each sample. */
template <typename F>
static std::vector<double> time_batches(int reps, int batch, F fn)
{
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    std::vector<double> out;
    int call = 0;
    for (int r = 0; r < WARMUP + reps; r++) {
        CK(cudaEventRecord(a));
        for (int k = 0; k < batch; k++)
            fn(call++);
        CK(cudaEventRecord(b));
        CK(cudaEventSynchronize(b));
        CK(cudaGetLastError());
        float ms = 0;
        CK(cudaEventElapsedTime(&ms, a, b));
        if (r >= WARMUP)
            out.push_back(ms * 1e-3 / batch);
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return out;
}

static void json_row(const char *what, const char *spec, const char *impl, const char *shape,
                     size_t n, const char *op, const std::vector<double> &s, double bytes,
                     double copy_gbs, double rel_mse, int batch)
{
    if (!g_json)
        return;
    const double med = median(s);
    fprintf(g_json,
            "{\"bench\":\"cuda_codecs\",\"kind\":\"%s\",\"gpu\":\"%s\",\"spec\":\"%s\","
            "\"impl\":\"%s\",\"shape\":\"%s\",\"n_values\":%zu,\"op\":\"%s\",\"input\":\"bf16\","
            "\"median_s\":%.9g,\"gvalues_per_s\":%.6g,\"bytes_moved\":%.0f,\"gb_per_s\":%.6g,"
            "\"copy_gb_per_s\":%.6g,\"pct_of_copy\":%.4g,\"rel_mse\":%.6g,\"launches_per_sample\":%d,"
            "\"samples_s\":[",
            what, g_gpu, spec, impl, shape, n, op, med, (double)n / med * 1e-9, bytes,
            bytes / med * 1e-9, copy_gbs, copy_gbs > 0 ? 100.0 * bytes / med * 1e-9 / copy_gbs : 0.0,
            rel_mse, batch);
    for (size_t i = 0; i < s.size(); i++)
        fprintf(g_json, "%s%.9g", i ? "," : "", s[i]);
    fprintf(g_json, "]}\n");
    fflush(g_json);
}

int main(int argc, char **argv)
{
    int reps = 25;
    bool once = false;
    size_t small_n = SMALL_N;
    int shape_first = 0, shape_last = 1;
    const char *impl = "fast";
    std::vector<const char *> specs;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json") && i + 1 < argc) {
            g_json = fopen(argv[++i], "a");
            if (!g_json) {
                perror(argv[i]);
                return 1;
            }
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--impl") && i + 1 < argc) {
            impl = argv[++i];
        } else if (!strcmp(argv[i], "--small-n") && i + 1 < argc) {
            small_n = (size_t)strtoull(argv[++i], NULL, 10);
            if (small_n == 0 || small_n > SMALL_N || SMALL_N % small_n) {
                fprintf(stderr, "bench_cuda_codecs: --small-n must divide %zu\n", SMALL_N);
                return 3;
            }
        } else if (!strcmp(argv[i], "--once")) {
            once = true;
        } else if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
            const char *v = argv[++i];
            shape_first = !strcmp(v, "large") ? 1 : 0;
            shape_last = !strcmp(v, "small") ? 0 : 1;
            if (strcmp(v, "small") && strcmp(v, "large") && strcmp(v, "both")) {
                fprintf(stderr, "bench_cuda_codecs: --shape %s (allowed: small, large, both)\n", v);
                return 3;
            }
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: bench_cuda_codecs [--json FILE] [--reps N] "
                            "[--impl fast|tile|simple] [--shape small|large|both] [--once] "
                            "[SPEC ...]\n");
            return 3;
        } else {
            specs.push_back(argv[i]);
        }
    }
    if (reps < 20)
        reps = 20;
    if (specs.empty())
        specs.assign(DEFAULT_SPECS, DEFAULT_SPECS + sizeof DEFAULT_SPECS / sizeof *DEFAULT_SPECS);
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        fprintf(stderr, "bench_cuda_codecs: no CUDA device found\n");
        return 2;
    }
    KK(kkcu_device_name(g_gpu, sizeof g_gpu, &kerr));
    printf("bench_cuda_codecs: %s; BF16 input and output; median of %d samples after %d "
           "warm-ups; kernels '%s'\n", g_gpu, reps, WARMUP, impl);

    /* the input: 64 Mi N(0,1) values as BF16; the small shape's 32 tensors
     * are its 32 consecutive slices */
    std::vector<float> x(LARGE_N);
    std::vector<uint16_t> xh(LARGE_N);
    codec_fill_gaussian(x.data(), LARGE_N, 1);
    for (size_t i = 0; i < LARGE_N; i++) {
        xh[i] = dtype_f32_to_bf16(x[i]);
        x[i] = dtype_bf16_to_f32(xh[i]);
    }
    uint16_t *d_x, *d_y, *d_copy;
    uint8_t *d_codes;
    const size_t max_code_bytes = LARGE_N / 32 * 40; /* 1.25 bytes/value: above every codec's */
    CK(cudaMalloc((void **)&d_x, LARGE_N * 2));
    CK(cudaMalloc((void **)&d_y, LARGE_N * 2));
    CK(cudaMalloc((void **)&d_copy, LARGE_N * 2));
    CK(cudaMalloc((void **)&d_codes, max_code_bytes));
    CK(cudaMemcpy(d_x, xh.data(), LARGE_N * 2, cudaMemcpyHostToDevice));

    struct shape {
        const char *name;
        size_t n;
        int batch, rot;
    } shapes[2] = {{small_n == SMALL_N ? "2048x8x128" : "small", small_n, 16, N_ROT},
                   {"64Mi", LARGE_N, 1, 1}};

    printf("%-48s %-10s %-9s %9s %9s %9s %7s %10s\n", "codec", "shape", "op", "Gvalues/s",
           "GB/s", "%copy", "bits/v", "rel_mse");
    for (int si = shape_first; si <= shape_last; si++) {
        const shape &sh = shapes[si];
        const size_t bytes = sh.n * 2;
        if (once) { /* one encode and one decode per codec, for a profiler */
            for (const char *spec : specs) {
                codec_spec sp;
                kk_err e;
                kkcu_codec *g = NULL;
                if (codec_spec_parse(spec, &sp, &e) != KK_OK ||
                    kkcu_codec_init(&g, &sp, &e) != KK_OK || !kkcu_set_impl(g, impl)) {
                    kk_err_print(stderr, "bench_cuda_codecs", &e);
                    return 1;
                }
                KK(kkcu_encode(g, d_x, KKCU_BF16, sh.n, d_codes, NULL, &kerr));
                KK(kkcu_decode(g, d_codes, sh.n, d_y, KKCU_BF16, NULL, &kerr));
                KK(kkcu_sync(&kerr));
                printf("%s %s: one encode and one decode of %zu values\n", spec, sh.name, sh.n);
                kkcu_codec_free(g);
            }
            continue;
        }
        std::vector<double> cs = time_batches(reps, sh.batch, [&](int i) {
            const size_t o = (size_t)(i % sh.rot) * sh.n;
            CK(cudaMemcpyAsync(d_copy + o, d_x + o, bytes, cudaMemcpyDeviceToDevice));
        });
        const double copy_gbs = 2.0 * (double)bytes / median(cs) * 1e-9;
        printf("%-48s %-10s %-9s %9.2f %9.1f %9s %7s %10s\n", "copy (cudaMemcpy D2D, bf16)",
               sh.name, "copy", (double)sh.n / median(cs) * 1e-9, copy_gbs, "100", "16", "-");
        fflush(stdout);
        json_row("copy", "bf16", "cudaMemcpyAsync", sh.name, sh.n, "copy", cs, 2.0 * bytes,
                 copy_gbs, 0.0, sh.batch);

        for (const char *spec : specs) {
            codec_spec sp;
            kk_err e;
            kkcu_codec *g = NULL;
            if (codec_spec_parse(spec, &sp, &e) != KK_OK ||
                kkcu_codec_init(&g, &sp, &e) != KK_OK) {
                kk_err_print(stderr, "bench_cuda_codecs", &e);
                return 1;
            }
            if (!kkcu_set_impl(g, impl)) {
                fprintf(stderr, "bench_cuda_codecs: unknown --impl %s\n", impl);
                return 3;
            }
            if (sh.n % kkcu_block_values(g)) {
                printf("%-48s %-10s skipped: %zu values are not whole units of %zu\n", spec,
                       sh.name, sh.n, kkcu_block_values(g));
                kkcu_codec_free(g);
                continue;
            }
            const size_t cb = kkcu_encoded_bytes(g, sh.n);
            const double bpv = 8.0 * (double)cb / (double)sh.n;
            auto enc = [&](int i) {
                const size_t o = (size_t)(i % sh.rot);
                KK(kkcu_encode(g, d_x + o * sh.n, KKCU_BF16, sh.n, d_codes + o * cb, NULL, &kerr));
            };
            auto dec = [&](int i) {
                const size_t o = (size_t)(i % sh.rot);
                KK(kkcu_decode(g, d_codes + o * cb, sh.n, d_y + o * sh.n, KKCU_BF16, NULL, &kerr));
            };
            /* every slot encoded once before decode is timed */
            for (int i = 0; i < sh.rot; i++)
                enc(i);
            std::vector<double> te = time_batches(reps, sh.batch, enc);
            std::vector<double> td = time_batches(reps, sh.batch, dec);
            std::vector<double> tr = time_batches(reps, sh.batch, [&](int i) {
                enc(i);
                dec(i);
            });
            /* check: rel. MSE of the round trip on the first slot's first 1 Mi */
            const size_t nc = std::min(sh.n, (size_t)1 << 20);
            std::vector<uint16_t> yh(nc);
            CK(cudaMemcpy(yh.data(), d_y, nc * 2, cudaMemcpyDeviceToHost));
            double se = 0, sx = 0;
            for (size_t i = 0; i < nc; i++) {
                const double d = (double)dtype_bf16_to_f32(yh[i]) - x[i];
                se += d * d;
                sx += (double)x[i] * x[i];
            }
            const double rel = se / sx;
            const double b_enc = 2.0 * sh.n + cb, b_dec = cb + 2.0 * sh.n;
            const char *ops[3] = {"encode", "decode", "roundtrip"};
            const std::vector<double> *ts[3] = {&te, &td, &tr};
            const double bs[3] = {b_enc, b_dec, b_enc + b_dec};
            for (int k = 0; k < 3; k++) {
                const double med = median(*ts[k]);
                printf("%-48s %-10s %-9s %9.2f %9.1f %9.1f %7.3f %10.3g\n", spec, sh.name, ops[k],
                       (double)sh.n / med * 1e-9, bs[k] / med * 1e-9,
                       100.0 * bs[k] / med * 1e-9 / copy_gbs, bpv, rel);
                json_row("codec", spec, kkcu_impl_name(g), sh.name, sh.n, ops[k], *ts[k], bs[k],
                         copy_gbs, rel, sh.batch);
            }
            fflush(stdout);
            kkcu_codec_free(g);
        }
    }
    cudaFree(d_x), cudaFree(d_y), cudaFree(d_copy), cudaFree(d_codes);
    if (g_json)
        fclose(g_json);
    return 0;
}
