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
 * e8ans (variable rate) has one step for the whole call, the call's RMS
 * x sqrt(2 pi e) 2^-B <= 1.04 RMS: every 8-value block errs by at most
 * one step in norm (E8's covering radius; no clamp is reached at
 * |x| <= 1e4), so every value is within 1.5 RMS, and after a rotation of
 * `dim` values (orthogonal) within 1.5 RMS sqrt(dim / 8). Its
 * decoder then also reads the input's own bytes as a stream: any bytes
 * must decode without reading past the capacity.
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
    if (codec_is_variable(c)) {
        double ss = 0.0;
        for (size_t i = 0; i < n; i++)
            ss += (double)x[i] * x[i];
        const codec_spec *cs = codec_get_spec(c);
        const double spread = cs->rotate == CODEC_ROTATE_HADAMARD ? sqrt(cs->dim / 8.0) : 1.0;
        const float bound = (float)(1.5 * spread * sqrt(ss / (double)n)) + 1e-3f;
        for (size_t i = 0; i < n; i++)
            if (!(fabsf(x[i] - y[i]) <= bound))
                abort();
        const size_t cap = codec_encoded_bytes(c, n);
        uint8_t *raw = malloc(cap); /* exactly the capacity: ASan sees an over-read */
        for (size_t i = 0; i < cap; i++)
            raw[i] = p[i % (size_t)(data + size - p)];
        codec_decode(c, raw, n, y);
        free(raw);
        free(x);
        free(y);
        free(buf);
        codec_free(c);
        return 0;
    }
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
