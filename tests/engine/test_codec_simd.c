/* Every fast path of the codecs (AVX2: q8_0, q4_0, affine 4-bit, e8;
 * AVX-512 decoders: q8_0, q4_0, affine 4-bit), at every level the CPU
 * runs, writes the same bytes as its _ref path and decodes to the same floats,
 * bit for bit, with the same counters: the fast paths do the reference's
 * float operations in the reference's order, so the tolerance is zero.
 * Inputs: Gaussian at several scales, values on rounding ties, zero and
 * constant groups, spikes (overload), and runs that leave a partial batch
 * of blocks. Skips when the CPU has no AVX2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

enum { NKINDS = 13 };

static void fill(float *x, size_t n, int kind, uint64_t seed)
{
    codec_fill_gaussian(x, n, seed);
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case 1: x[i] *= 1e-3f; break;
        case 2: x[i] *= 300.0f; break;
        case 3: x[i] = floorf(x[i] * 4.0f) * 0.25f + 0.125f; break; /* ties */
        case 4: x[i] = (i / 64) % 3 == 0 ? 0.0f : (i / 64) % 3 == 1 ? 1.5f : x[i]; break;
        case 5: x[i] = i % 97 == 0 ? 200.0f * x[i] : 0.01f * x[i]; break; /* spikes */
        case 6: x[i] *= 1e-6f; break; /* F16 scales subnormal or zero */
        case 7: x[i] *= 3e6f; break;  /* F16 scales overflow to inf */
        case 8: x[i] = x[i] < 0.0f ? -0.0f : 0.0f; break; /* zeros of both signs */
        case 9: x[i] *= 1e-40f; break; /* F32 subnormals */
        case 10: x[i] *= 1e-30f; break; /* F16 scales underflow to zero */
        case 11: x[i] = i % 3 == 0 ? 0.0f : x[i] * 1e-40f; break; /* 0 x Inf: NaN */
        /* the same after a rotation (kl_*): equal magnitudes in pairs
         * cancel to exact zeros in half the Hadamard outputs */
        case 12: x[i] = i % 32 < 2 ? 1e-40f : 0.0f; break;
        default: break;
        }
    }
}

static void fast_paths_should_equal_their_reference_bit_for_bit(void **state)
{
    (void)state;
    static const char *specs[] = {
        "q8_0", "q4_0", "affine:bits=4,group=32", "affine:bits=4,group=64",
        "affine:bits=4,group=128", "e8:bits=4", "e8:bits=3,group=32,scales=4",
        "e8:bits=2,group=256,scales=16", "e8:bits=4,group=64,scales=1", "e8:bits=3,scales=2",
        "e8:bits=4,rotate=hadamard,dim=64,seed=3", "q4_0:rotate=hadamard,dim=32",
        "lloyd:bits=1", "lloyd:bits=2,group=32", "lloyd:bits=3,group=256", "lloyd:bits=4,group=64",
        "turbo:bits=4", "turbo:bits=3,group=64", "turbo:bits=2,group=32,dim=8",
        "turbo:bits=1,group=256,seed=9", "kl_d4:q=10", "kl_d4:q=152,group=256",
        "kl_e8:q=10", "kl_e8:q=126", "kl_e8:q=4,group=32", "kl_e8:q=1,group=64",
        /* ranks of 64 bits (q 128..139) overflowed the fast path's 2 x rank */
        "kl_e8:q=127", "kl_e8:q=128", "kl_e8:q=133", "kl_e8:q=139", "kl_e8:q=140",
    };
    const size_t nmax = 256 * 37; /* 37 groups of 256: partial batches for every group size */
    float *x = malloc(nmax * sizeof(float)), *ya = malloc(nmax * sizeof(float)),
          *yb = malloc(nmax * sizeof(float));
    int ran = 0;
    static const char *levels[] = {"avx2", "avx512"};
    for (size_t s = 0; s < sizeof specs / sizeof specs[0] * 2; s++) {
        const char *level = levels[s % 2];
        codec_spec sp;
        kk_err e;
        assert_int_equal(codec_spec_parse(specs[s / 2], &sp, &e), KK_OK);
        codec *fast = NULL, *ref = NULL;
        assert_int_equal(codec_init(&fast, &sp, &e), KK_OK);
        assert_int_equal(codec_init(&ref, &sp, &e), KK_OK);
        codec_set_ref(ref, true);
        if (!codec_set_impl(fast, level)) {
            print_message("SKIP: %s has no %s path on this CPU\n", specs[s / 2], level);
            codec_free(fast);
            codec_free(ref);
            continue;
        }
        ran++;
        const size_t unit = codec_block_values(fast);
        for (int kind = 0; kind < NKINDS; kind++) {
            /* 37 units: an odd count leaves a partial batch of blocks */
            const size_t n = unit * 37 <= nmax ? unit * 37 : nmax - nmax % unit;
            fill(x, n, kind, 100 + (uint64_t)kind);
            const size_t nb = codec_encoded_bytes(fast, n);
            uint8_t *ba = malloc(nb), *bb = malloc(nb);
            codec_encode(fast, x, n, ba);
            codec_encode(ref, x, n, bb);
            if (memcmp(ba, bb, nb) != 0) {
                size_t i = 0;
                while (ba[i] == bb[i])
                    i++;
                fail_msg("%s data %d: byte %zu differs (fast %02x, ref %02x)", specs[s / 2], kind, i,
                         ba[i], bb[i]);
            }
            codec_decode(fast, ba, n, ya);
            codec_decode(ref, ba, n, yb);
            assert_memory_equal(ya, yb, n * sizeof(float));
            free(ba);
            free(bb);
        }
        assert_memory_equal(codec_get_stats(fast), codec_get_stats(ref), sizeof(codec_stats));
        codec_free(fast);
        codec_free(ref);
    }
    if (!ran)
        skip();
    free(x);
    free(ya);
    free(yb);
}

/* Codecs without an arm fast path still rotate with the AVX2 butterflies
 * unless set to ref: the default path against ref, bytes and floats
 * (e8ans: the bytes it wrote), on the data kinds above. */
static void rotations_should_equal_their_reference_bit_for_bit(void **state)
{
    (void)state;
    static const char *specs[] = {
        "kl_e8:q=152", "kl_d4:q=38,group=64", "e8ans:bits=4,rotate=hadamard",
        "e8ans:bits=3,rotate=hadamard,dim=8", "affine:bits=3,rotate=hadamard,dim=1024",
        "d4:bits=2,rotate=hadamard,dim=16",
    };
    const size_t n = 1024 * 9;
    float *x = malloc(n * sizeof(float)), *ya = malloc(n * sizeof(float)),
          *yb = malloc(n * sizeof(float));
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        codec_spec sp;
        kk_err e;
        assert_int_equal(codec_spec_parse(specs[s], &sp, &e), KK_OK);
        codec *fast = NULL, *ref = NULL;
        assert_int_equal(codec_init(&fast, &sp, &e), KK_OK);
        assert_int_equal(codec_init(&ref, &sp, &e), KK_OK);
        codec_set_ref(ref, true);
        for (int kind = 0; kind < NKINDS; kind++) {
            fill(x, n, kind, 200 + (uint64_t)kind);
            const size_t nb = codec_encoded_bytes(fast, n);
            uint8_t *ba = calloc(nb, 1), *bb = calloc(nb, 1);
            const size_t wa = codec_encode(fast, x, n, ba), wb = codec_encode(ref, x, n, bb);
            assert_int_equal(wa, wb);
            if (memcmp(ba, bb, wa) != 0)
                fail_msg("%s data %d: the bytes differ", specs[s], kind);
            codec_decode(fast, ba, n, ya);
            codec_decode(ref, ba, n, yb);
            assert_memory_equal(ya, yb, n * sizeof(float));
            free(ba);
            free(bb);
        }
        codec_free(fast);
        codec_free(ref);
    }
    free(x);
    free(ya);
    free(yb);
}

/* The decoders widen each block's F16 scales by F16C, the reference by
 * integer code: every finite F16 value as a scale (and as affine's
 * minimum), with random codes, decodes alike at every level. */
static void fast_decoders_should_widen_every_finite_f16_scale_alike(void **state)
{
    (void)state;
    static const char *specs[] = {"q8_0", "q4_0", "affine:bits=4,group=32",
                                  "affine:bits=4,group=128"};
    static const char *levels[] = {"avx2", "avx512"};
    int ran = 0;
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++)
        for (size_t l = 0; l < 2; l++) {
            codec_spec sp;
            kk_err e;
            assert_int_equal(codec_spec_parse(specs[s], &sp, &e), KK_OK);
            codec *c = NULL;
            assert_int_equal(codec_init(&c, &sp, &e), KK_OK);
            if (!codec_set_impl(c, levels[l])) {
                codec_free(c);
                continue;
            }
            ran++;
            const size_t unit = codec_block_values(c), ub = codec_encoded_bytes(c, unit);
            const size_t n_blocks = 1 << 16, n = n_blocks * unit;
            uint8_t *buf = malloc(n_blocks * ub);
            float *ya = malloc(n * sizeof(float)), *yb = malloc(n * sizeof(float));
            uint64_t r = 7;
            for (size_t i = 0; i < n_blocks * ub; i++) {
                r = r * 6364136223846793005ULL + 1442695040888963407ULL;
                buf[i] = (uint8_t)(r >> 56);
            }
            size_t kept = 0;
            for (size_t b = 0; b < n_blocks; b++) {
                const uint16_t h = (uint16_t)b;
                if ((h & 0x7c00u) == 0x7c00u)
                    continue; /* inf and NaN: not a scale finite input makes */
                uint8_t *p = buf + kept * ub;
                p[0] = (uint8_t)(h & 0xff);
                p[1] = (uint8_t)(h >> 8);
                if (sp.kind == CODEC_KIND_AFFINE) { /* the minimum: another finite value */
                    const uint16_t m = (uint16_t)((h * 40503u) & 0xfbffu);
                    p[2] = (uint8_t)(m & 0xff);
                    p[3] = (uint8_t)(m >> 8);
                }
                kept++;
            }
            codec_decode(c, buf, kept * unit, ya);
            codec_set_ref(c, true);
            codec_decode(c, buf, kept * unit, yb);
            if (memcmp(ya, yb, kept * unit * sizeof(float)) != 0)
                fail_msg("%s at %s: a decoded float differs from the reference", specs[s],
                         levels[l]);
            free(buf);
            free(ya);
            free(yb);
            codec_free(c);
        }
    if (!ran)
        skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fast_paths_should_equal_their_reference_bit_for_bit),
        cmocka_unit_test(rotations_should_equal_their_reference_bit_for_bit),
        cmocka_unit_test(fast_decoders_should_widen_every_finite_f16_scale_alike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
