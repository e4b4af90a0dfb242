/*
 * libFuzzer target: the codec spec parser must not crash on any string, and
 * every codec it accepts round-trips within a bound.
 * Input: a spec up to the first '\n', then float32 data (little-endian).
 * Values are made finite and bounded (|x| <= 1e4: codecs take finite
 * input, and F16 side values hold the ranges that follow); the run is cut
 * to whole units. Bound: every decoded value is within 16 max|x| of its
 * unit (+1e-3 for F16 scales that underflow): the affine and ggml arms err
 * by at most one step (<= the unit's range), the lattice escape by at most
 * beta_esc * sqrt(2) = 0.78 N <= 0.78 sqrt(256) max|x| = 12.5 max|x|.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

#define FUZZ_MAX_VALUES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 300 ? size : 300);
    const size_t slen = nl ? (size_t)(nl - data) : (size < 300 ? size : 300);
    char spec[301];
    memcpy(spec, data, slen);
    spec[slen] = '\0';
    codec_spec s;
    kk_err e;
    if (codec_spec_parse(spec, &s, &e) != KK_OK)
        return 0;
    char canon[256];
    codec_spec_format(&s, canon, sizeof canon);
    codec_spec s2;
    if (codec_spec_parse(canon, &s2, &e) != KK_OK) /* the canonical form parses */
        abort();
    codec *c = NULL;
    if (codec_init(&c, &s, &e) != KK_OK)
        return 0;
    const uint8_t *p = nl ? nl + 1 : data + size;
    size_t n = (size_t)(data + size - p) / 4;
    if (n > FUZZ_MAX_VALUES)
        n = FUZZ_MAX_VALUES;
    n -= n % codec_block_values(c);
    if (n == 0) {
        codec_free(c);
        return 0;
    }
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    uint8_t *buf = malloc(codec_encoded_bytes(c, n));
    for (size_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, p + 4 * i, 4);
        x[i] = isfinite(v) ? fmaxf(fminf(v, 1e4f), -1e4f) : 0.0f;
    }
    codec_encode(c, x, n, buf);
    codec_decode(c, buf, n, y);
    const size_t u = codec_block_values(c);
    for (size_t o = 0; o < n; o += u) {
        float amax = 0.0f;
        for (size_t i = o; i < o + u; i++)
            amax = fmaxf(amax, fabsf(x[i]));
        for (size_t i = o; i < o + u; i++)
            if (!(fabsf(x[i] - y[i]) <= 16.0f * amax + 1e-3f))
                abort();
    }
    free(x);
    free(y);
    free(buf);
    codec_free(c);
    return 0;
}
