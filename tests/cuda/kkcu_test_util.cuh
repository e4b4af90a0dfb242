/*
 * kkcu_test_util: the specs, the inputs and the comparisons shared by the
 * GPU codec test (test_cuda_codecs.cu) and the host arithmetic test
 * (host_kkcu_arith.cu).
 *
 * Inputs (each a function of n and a seed, so both tests draw the same):
 * Gaussian (codec_fill_gaussian), Gaussian with outliers of 1e4, all zeros,
 * zeros of both signs, F16's limits +-65504, tiny values (1e-30) and
 * subnormal ones (1e-40: a q4_0/q8_0 scale whose inverse overflows), signs
 * alternating, one value per 32 of 3e4 and one of 1e30 (past F16: scales
 * and norms overflow or escape).
 *
 * Comparisons are bit for bit, except that two NaNs count as equal
 * (reported apart): x86 and the GPU write different NaN bits for the same
 * invalid operation (0 x Inf), and only inputs past F16's range make them.
 */
#ifndef KKCU_TEST_UTIL_CUH
#define KKCU_TEST_UTIL_CUH

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "codec.h"
#include "dtype.h"
#include "kk_rand.h"
}

/* ---- specs --------------------------------------------------------------------- */

static const char *const KKCU_TEST_SPECS[] = {
    /* q8_0, q4_0 */
    "q8_0", "q4_0", "q8_0:rotate=hadamard", "q4_0:rotate=hadamard,dim=64,seed=5",
    "q8_0:rotate=hadamard,dim=1024,seed=9",
    /* affine along the row: every bits x group */
    "affine:bits=2,group=32", "affine:bits=2,group=64", "affine:bits=2,group=128",
    "affine:bits=3,group=32", "affine:bits=3,group=64", "affine:bits=3,group=128",
    "affine:bits=4,group=32", "affine:bits=4,group=64", "affine:bits=4,group=128",
    "affine:bits=8,group=32", "affine:bits=8,group=64", "affine:bits=8,group=128",
    "affine:bits=4,group=64,rotate=hadamard", "affine:bits=3,group=128,rotate=hadamard,dim=32",
    "affine:bits=2,group=32,rotate=hadamard,dim=1024,seed=3",
    /* affine axis=token (KIVI keys) */
    "affine:bits=2,group=32,axis=token", "affine:bits=4,group=128,axis=token",
    "affine:bits=3,group=64,axis=token,channels=24", "affine:bits=8,group=32,axis=token,channels=256",
    /* d4 / e8 nested lattices */
    "e8:bits=4", "e8:bits=3", "e8:bits=2", "d4:bits=4", "d4:bits=3", "d4:bits=2",
    "e8:bits=4,group=32,scales=1", "e8:bits=4,group=256,scales=16", "e8:bits=2,group=64,scales=2",
    "d4:bits=3,group=256,scales=4", "d4:bits=4,group=32,scales=16",
    "e8:bits=4,rotate=hadamard", "d4:bits=2,rotate=hadamard,dim=256,seed=11",
    /* KakeyaLattice */
    "kl_e8:q=10", "kl_d4:q=10", "kl_e8:q=4", "kl_d4:q=4", "kl_e8:q=38", "kl_d4:q=38",
    "kl_e8:q=152", "kl_d4:q=152", "kl_e8:q=1", "kl_d4:q=1", "kl_e8:q=126", "kl_e8:q=127",
    "kl_e8:q=128", "kl_e8:q=10,group=32", "kl_d4:q=10,group=256,seed=4",
};
#define KKCU_N_TEST_SPECS (sizeof KKCU_TEST_SPECS / sizeof KKCU_TEST_SPECS[0])

/* Values per test call: about 64 Ki (KKCU_TEST_QUICK set: 4 Ki, for the
 * CPU emulator), whole units, plus 3 units so that the fast kernels'
 * 256-value tiles leave a tail. */
static inline size_t kkcu_test_n(size_t unit)
{
    const char *q = getenv("KKCU_TEST_QUICK");
    const size_t target = q && *q && *q != '0' ? 4096 : 65536;
    return unit * (target / unit + 3);
}

/* ---- inputs --------------------------------------------------------------------- */

typedef void (*kkcu_fill_fn)(float *x, size_t n, uint64_t seed);

static void fill_gauss(float *x, size_t n, uint64_t seed) { codec_fill_gaussian(x, n, seed); }

static void fill_outliers(float *x, size_t n, uint64_t seed)
{
    codec_fill_gaussian(x, n, seed);
    for (size_t i = 0; i < n; i += 37)
        x[i] = (i / 37) % 2 ? -1e4f : 1e4f;
}

static void fill_zeros(float *x, size_t n, uint64_t seed)
{
    (void)seed;
    memset(x, 0, n * sizeof *x);
}

static void fill_signed_zeros(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 64 == 0)
            bits = kk_splitmix64(&s);
        x[i] = (bits >> (i % 64)) & 1 ? -0.0f : 0.0f;
    }
    for (size_t i = 5; i < n; i += 96) /* a few nonzero blocks among them */
        x[i] = 0.25f;
}

static void fill_f16_limits(float *x, size_t n, uint64_t seed)
{
    codec_fill_gaussian(x, n, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = i % 3 == 0 ? (i % 2 ? -65504.0f : 65504.0f) : x[i] * 20000.0f;
}

static void fill_tiny(float *x, size_t n, uint64_t seed)
{
    codec_fill_gaussian(x, n, seed);
    for (size_t i = 0; i < n; i++)
        x[i] *= 1e-30f;
}

static void fill_subnormal(float *x, size_t n, uint64_t seed)
{
    codec_fill_gaussian(x, n, seed);
    for (size_t i = 0; i < n; i++)
        x[i] *= 1e-40f;
}

static void fill_alternating(float *x, size_t n, uint64_t seed)
{
    (void)seed;
    for (size_t i = 0; i < n; i++)
        x[i] = (i % 2 ? -1.0f : 1.0f) * (float)(1 + i % 7);
}

static void fill_spike_3e4(float *x, size_t n, uint64_t seed)
{
    codec_fill_gaussian(x, n, seed);
    for (size_t b = 0; b < n / 32; b++)
        x[b * 32 + (b * 7) % 32] = b % 2 ? -3e4f : 3e4f;
}

static void fill_spike_1e30(float *x, size_t n, uint64_t seed)
{
    codec_fill_gaussian(x, n, seed);
    for (size_t b = 0; b < n / 32; b++)
        x[b * 32 + (b * 11) % 32] = b % 2 ? -1e30f : 1e30f;
}

typedef struct kkcu_test_input {
    const char *name;
    kkcu_fill_fn fill;
} kkcu_test_input;

static const kkcu_test_input KKCU_TEST_INPUTS[] = {
    {"gaussian", fill_gauss},         {"outliers_1e4", fill_outliers},
    {"zeros", fill_zeros},            {"signed_zeros", fill_signed_zeros},
    {"f16_limits", fill_f16_limits},  {"tiny_1e-30", fill_tiny},
    {"subnormal_1e-40", fill_subnormal}, {"alternating", fill_alternating},
    {"spike_3e4", fill_spike_3e4},    {"spike_1e30", fill_spike_1e30},
};
#define KKCU_N_TEST_INPUTS (sizeof KKCU_TEST_INPUTS / sizeof KKCU_TEST_INPUTS[0])

/* x rounded to BF16 and widened back (the CPU reference of BF16 input),
 * with the BF16 bits in h. */
static inline void kkcu_to_bf16(const float *x, size_t n, uint16_t *h, float *xw)
{
    for (size_t i = 0; i < n; i++) {
        h[i] = dtype_f32_to_bf16(x[i]);
        xw[i] = dtype_bf16_to_f32(h[i]);
    }
}

/* ---- comparisons ------------------------------------------------------------------ */

typedef struct kkcu_diff {
    size_t mismatches; /* bytes or values that differ */
    size_t nan_pairs;  /* values NaN on both sides (counted equal) */
    size_t first;      /* index of the first mismatch (valid if mismatches) */
} kkcu_diff;

static inline kkcu_diff kkcu_cmp_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
    kkcu_diff d = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i] && d.mismatches++ == 0)
            d.first = i;
    return d;
}

static inline kkcu_diff kkcu_cmp_f32(const float *a, const float *b, size_t n)
{
    kkcu_diff d = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        uint32_t ua, ub;
        memcpy(&ua, &a[i], 4);
        memcpy(&ub, &b[i], 4);
        if (ua == ub)
            continue;
        if (isnan(a[i]) && isnan(b[i])) {
            d.nan_pairs++;
            continue;
        }
        if (d.mismatches++ == 0)
            d.first = i;
    }
    return d;
}

/* BF16 outputs against the CPU's floats rounded by dtype_f32_to_bf16. */
static inline kkcu_diff kkcu_cmp_bf16(const uint16_t *gpu, const float *cpu, size_t n)
{
    kkcu_diff d = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        const uint16_t want = dtype_f32_to_bf16(cpu[i]);
        if (gpu[i] == want)
            continue;
        const bool nan_g = (gpu[i] & 0x7fffu) > 0x7f80u, nan_w = (want & 0x7fffu) > 0x7f80u;
        if (nan_g && nan_w) {
            d.nan_pairs++;
            continue;
        }
        if (d.mismatches++ == 0)
            d.first = i;
    }
    return d;
}

#endif /* KKCU_TEST_UTIL_CUH */
