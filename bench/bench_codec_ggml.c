/*
 * bench_codec_ggml: q8_0 and q4_0 encode against ggml's own quantizer,
 * ggml_quantize_chunk from the `make refengine` build of llama.cpp (its
 * libggml-base, as llama.cpp built it: -O3, its own flags), in the same
 * run, alternating, on the same 64 Ki values (L2) and a 64 Mi-value buffer.
 * Also checks that both wrote the same bytes (the codec's blocks are
 * ggml's). Built and run by bench/bench_codec.sh when the refengine build
 * exists. Prints a table on stdout; JSON lines appended to argv[1].
 * Exit 1 when the bytes differ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "ggml.h"
#include "kk_stats.h"

#define REPEATS 7
#define MIN_S 0.04
/* Values per ggml row: a KV row of 32 heads of 128 (a row is a whole
 * number of blocks either way; the chunk is rows of it). */
#define ROW 4096

static double rate_ours(codec *c, const float *x, size_t n, uint8_t *buf, int once)
{
    int it = 0;
    double t0 = kk_now_s(), t;
    do {
        codec_encode(c, x, n, buf);
        it++;
    } while ((t = kk_now_s() - t0) < MIN_S && !once);
    return (double)n * it / t;
}

static double rate_ggml(enum ggml_type type, const float *x, size_t n, uint8_t *buf, int once)
{
    int it = 0;
    double t0 = kk_now_s(), t;
    do {
        ggml_quantize_chunk(type, x, buf, 0, (int64_t)(n / ROW), ROW, NULL);
        it++;
    } while ((t = kk_now_s() - t0) < MIN_S && !once);
    return (double)n * it / t;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *spec;
        enum ggml_type type;
    } arms[] = {{"q8_0", GGML_TYPE_Q8_0}, {"q4_0", GGML_TYPE_Q4_0}};
    FILE *js = argc > 1 ? fopen(argv[1], "a") : NULL;
    const size_t n_small = 64 * 1024, n_big = (size_t)64 * 1024 * 1024;
    float *x = malloc(n_big * sizeof(float));
    uint8_t *a = malloc(n_big * 2), *b = malloc(n_big * 2);
    if (!x || !a || !b) {
        fprintf(stderr, "bench_codec_ggml: out of memory\n");
        return 2;
    }
    codec_fill_gaussian(x, n_big, 1);
    printf("\nencode vs ggml_quantize_chunk (llama.cpp's libggml-base, same run, alternating)\n");
    printf("%-6s %-7s %12s %12s %7s   %12s %12s %7s  %s\n", "codec", "path", "ours Mv/s",
           "ggml Mv/s", "ratio", "large ours", "large ggml", "ratio", "bytes");
    int bad = 0;
    for (size_t k = 0; k < sizeof arms / sizeof arms[0]; k++) {
        codec_spec sp;
        kk_err e;
        codec *c = NULL;
        if (codec_spec_parse(arms[k].spec, &sp, &e) != KK_OK || codec_init(&c, &sp, &e) != KK_OK) {
            fprintf(stderr, "bench_codec_ggml: %s: %s\n", arms[k].spec, e.msg);
            return 2;
        }
        /* the same bytes on the large buffer */
        codec_encode(c, x, n_big, a);
        ggml_quantize_chunk(arms[k].type, x, b, 0, (int64_t)(n_big / ROW), ROW, NULL);
        const size_t nb = codec_encoded_bytes(c, n_big);
        const int same = memcmp(a, b, nb) == 0;
        bad += !same;
        double ours = 0, ggml = 0, big_ours = 0, big_ggml = 0;
        for (int r = 0; r < REPEATS; r++) {
            const double o = rate_ours(c, x, n_small, a, 0), g = rate_ggml(arms[k].type, x, n_small, b, 0);
            ours = o > ours ? o : ours;
            ggml = g > ggml ? g : ggml;
        }
        for (int r = 0; r < 3; r++) {
            const double o = rate_ours(c, x, n_big, a, 1), g = rate_ggml(arms[k].type, x, n_big, b, 1);
            big_ours = o > big_ours ? o : big_ours;
            big_ggml = g > big_ggml ? g : big_ggml;
        }
        printf("%-6s %-7s %12.1f %12.1f %6.2fx   %12.1f %12.1f %6.2fx  %s\n", arms[k].spec,
               codec_impl_name(c), ours * 1e-6, ggml * 1e-6, ours / ggml, big_ours * 1e-6,
               big_ggml * 1e-6, big_ours / big_ggml, same ? "equal" : "DIFFER");
        if (js)
            fprintf(js,
                    "{\"bench\": \"codec_vs_ggml\", \"codec\": \"%s\", \"impl\": \"%s\", "
                    "\"n_values\": %zu, \"encode_values_per_s\": %.6g, "
                    "\"ggml_quantize_chunk_values_per_s\": %.6g, \"large_n_values\": %zu, "
                    "\"large_encode_values_per_s\": %.6g, "
                    "\"large_ggml_quantize_chunk_values_per_s\": %.6g, \"bytes_equal\": %s}\n",
                    arms[k].spec, codec_impl_name(c), n_small, ours, ggml, n_big, big_ours,
                    big_ggml, same ? "true" : "false");
        codec_free(c);
    }
    if (js)
        fclose(js);
    free(x);
    free(a);
    free(b);
    return bad ? 1 : 0;
}
