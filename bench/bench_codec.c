/*
 * bench_codec: codec throughput, each fast path against its own scalar
 * _ref path in the same run (values/s on one core).
 *   - L2 working set: 64 Ki values (256 KiB of floats), encoded and decoded
 *     repeatedly (the L2-sized kernel working set, docs/performance.md);
 *   - large buffer: 64 Mi values (256 MiB), once per repeat, reported with
 *     the memory bandwidth measured in the same run (a memcpy of the same
 *     buffer: bytes read + written per second).
 * Prints a table on stdout; JSON lines to the file given as argv[1].
 * Targets (ratios fast / ref, docs/codecs.md): e8 encode and decode
 * >= 4x; affine-4, q4_0 and lloyd encode >= 6x, decode >= 8x; turbo
 * (the rotation included on both sides) >= 4x; kl_d4/kl_e8 >= 3x. e8ans (rANS is serial)
 * has only its scalar path: listed for its speed, no target. The _ref paths are
 * the plain scalar loops (GCC's vectorizer off for them: codec_internal.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "kk_stats.h"

/* Best of REPEATS timings of at least MIN_S each: the fastest run is the
 * one least disturbed by the other jobs on a shared 2-core machine. The
 * fast and the _ref paths alternate within each repeat, so a burst of
 * load hits both rather than one of them. */
#define REPEATS 7
#define MIN_S 0.04

typedef struct rate {
    double enc, dec; /* values/s */
} rate;

static double time_enc(codec *c, const float *x, size_t n, uint8_t *buf, int once)
{
    int it = 0;
    double t0 = kk_now_s(), t;
    do {
        codec_encode(c, x, n, buf);
        it++;
    } while ((t = kk_now_s() - t0) < MIN_S && !once);
    return (double)n * it / t;
}

static double time_dec(codec *c, const uint8_t *buf, size_t n, float *y, int once)
{
    int it = 0;
    double t0 = kk_now_s(), t;
    do {
        codec_decode(c, buf, n, y);
        it++;
    } while ((t = kk_now_s() - t0) < MIN_S && !once);
    return (double)n * it / t;
}

static double best(double a, double b) { return a > b ? a : b; }

/* The fast path (as selected) and the _ref path, alternating. */
static void measure_pair(codec *c, const float *x, size_t n, uint8_t *buf, float *y, rate *fast,
                         rate *ref)
{
    *fast = (rate){0, 0};
    *ref = (rate){0, 0};
    for (int rep = 0; rep < REPEATS; rep++) {
        codec_set_ref(c, false);
        fast->enc = best(fast->enc, time_enc(c, x, n, buf, 0));
        codec_set_ref(c, true);
        ref->enc = best(ref->enc, time_enc(c, x, n, buf, 0));
        codec_set_ref(c, false);
        codec_encode(c, x, n, buf);
        fast->dec = best(fast->dec, time_dec(c, buf, n, y, 0));
        codec_set_ref(c, true);
        ref->dec = best(ref->dec, time_dec(c, buf, n, y, 0));
    }
    codec_set_ref(c, false);
}

/* One pass per repeat over a large buffer (the fast path). */
static rate measure_once(codec *c, const float *x, size_t n, uint8_t *buf, float *y)
{
    rate r = {0, 0};
    for (int rep = 0; rep < 3; rep++) {
        r.enc = best(r.enc, time_enc(c, x, n, buf, 1));
        r.dec = best(r.dec, time_dec(c, buf, n, y, 1));
    }
    return r;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *spec;
        double enc_target, dec_target;
    } arms[] = {
        {"e8:bits=4", 4, 4},          {"e8:bits=3", 4, 4},     {"e8:bits=2", 4, 4},
        {"affine:bits=4,group=64", 6, 8}, {"affine:bits=4,group=128", 6, 8},
        {"q4_0", 6, 8},               {"q8_0", 0, 0},
        {"lloyd:bits=4", 6, 8},       {"lloyd:bits=2", 6, 8},  {"turbo:bits=4", 4, 4},
        {"turbo:bits=2", 4, 4},       {"kl_e8:q=10", 3, 3},    {"kl_d4:q=10", 3, 3},
        {"e8ans:bits=4", 0, 0},       {"e8ans:bits=4,rotate=hadamard", 0, 0},
    };
    FILE *js = argc > 1 ? fopen(argv[1], "w") : NULL;
    const size_t n_small = 64 * 1024, n_big = (size_t)64 * 1024 * 1024;
    float *x = malloc(n_big * sizeof(float)), *y = malloc(n_big * sizeof(float));
    uint8_t *buf = malloc(n_big * sizeof(float));
    if (!x || !y || !buf) {
        fprintf(stderr, "bench_codec: out of memory\n");
        return 2;
    }
    codec_fill_gaussian(x, n_big, 1);
    /* memory bandwidth: memcpy of the big buffer, bytes read + written */
    double bw = 0;
    for (int rep = 0; rep < REPEATS; rep++) {
        const double t0 = kk_now_s();
        memcpy(y, x, n_big * sizeof(float));
        const double t = kk_now_s() - t0;
        if (2.0 * (double)n_big * sizeof(float) / t > bw)
            bw = 2.0 * (double)n_big * sizeof(float) / t;
    }
    printf("memory bandwidth (memcpy, read + write): %.2f GB/s\n", bw * 1e-9);
    printf("ref: the plain scalar _ref loops at -O2 with GCC's tree vectorizer off for them\n"
           "(codec_internal.h CODEC_REF_SCALAR; GCC 12 vectorized none of their hot loops\n"
           "anyway); path: the fastest the CPU runs (avx512 = AVX-512 decoders over AVX2\n"
           "encoders); fast and ref alternate within each of %d repeats, best kept\n\n",
           REPEATS);
    printf("%-26s %-5s %10s %10s %7s %6s %10s %10s %7s %6s  %s\n", "codec (64 Ki values, L2)",
           "path", "enc Mv/s", "ref Mv/s", "ratio", "target", "dec Mv/s", "ref Mv/s", "ratio",
           "target", "large buffer: enc/dec Mv/s, GB/s moved, share of memcpy bandwidth");
    int fails = 0;
    for (size_t a = 0; a < sizeof arms / sizeof arms[0]; a++) {
        if (argc > 2 && !strstr(arms[a].spec, argv[2]))
            continue; /* argv[2]: run only the arms whose spec contains it */
        codec_spec sp;
        kk_err e;
        codec *c = NULL;
        if (codec_spec_parse(arms[a].spec, &sp, &e) != KK_OK || codec_init(&c, &sp, &e) != KK_OK) {
            fprintf(stderr, "bench_codec: %s: %s\n", arms[a].spec, e.msg);
            return 2;
        }
        const char *impl = codec_impl_name(c);
        rate fast, ref;
        measure_pair(c, x, n_small, buf, y, &fast, &ref);
        const size_t nb = n_big - n_big % codec_block_values(c);
        const rate big = measure_once(c, x, nb, buf, y);
        const double bpv = codec_bits_per_value(c);
        /* bytes moved per value: encode reads 4 and writes bpv/8; decode the reverse */
        const double gbs_enc = big.enc * (4.0 + bpv / 8) * 1e-9, gbs_dec = big.dec * (4.0 + bpv / 8) * 1e-9;
        const double re = fast.enc / ref.enc, rd = fast.dec / ref.dec;
        const int ok = re >= arms[a].enc_target && rd >= arms[a].dec_target;
        fails += !ok;
        printf("%-26s %-5s %10.1f %10.1f %6.2fx %5.0fx %10.1f %10.1f %6.2fx %5.0fx  %.0f/%.0f, %.2f/%.2f GB/s, %.0f%%/%.0f%%%s\n",
               arms[a].spec, impl, fast.enc * 1e-6, ref.enc * 1e-6, re, arms[a].enc_target,
               fast.dec * 1e-6, ref.dec * 1e-6, rd, arms[a].dec_target, big.enc * 1e-6,
               big.dec * 1e-6, gbs_enc, gbs_dec, 100 * gbs_enc * 1e9 / bw,
               100 * gbs_dec * 1e9 / bw, ok ? "" : "  BELOW TARGET");
        fflush(stdout);
        if (js)
            fprintf(js,
                    "{\"bench\": \"codec\", \"codec\": \"%s\", \"impl\": \"%s\", \"n_values\": %zu, "
                    "\"encode_values_per_s\": %.6g, \"encode_ref_values_per_s\": %.6g, "
                    "\"decode_values_per_s\": %.6g, \"decode_ref_values_per_s\": %.6g, "
                    "\"large_n_values\": %zu, \"large_encode_values_per_s\": %.6g, "
                    "\"large_decode_values_per_s\": %.6g, \"memcpy_bytes_per_s\": %.6g}\n",
                    arms[a].spec, impl, n_small, fast.enc, ref.enc, fast.dec, ref.dec, nb,
                    big.enc, big.dec, bw);
        codec_free(c);
    }
    if (js)
        fclose(js);
    free(x);
    free(y);
    free(buf);
    printf("\n%d arm(s) below the issue's ratio targets\n", fails);
    return 0;
}
