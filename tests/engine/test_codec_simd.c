/* Every fast path of the codecs (AVX2: q8_0, q4_0, affine 4-bit, e8)
 * writes the same bytes as its _ref path and decodes to the same floats,
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
    };
    const size_t nmax = 256 * 37; /* 37 groups of 256: partial batches for every group size */
    float *x = malloc(nmax * sizeof(float)), *ya = malloc(nmax * sizeof(float)),
          *yb = malloc(nmax * sizeof(float));
    int ran = 0;
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        codec_spec sp;
        kk_err e;
        assert_int_equal(codec_spec_parse(specs[s], &sp, &e), KK_OK);
        codec *fast = NULL, *ref = NULL;
        assert_int_equal(codec_init(&fast, &sp, &e), KK_OK);
        assert_int_equal(codec_init(&ref, &sp, &e), KK_OK);
        codec_set_ref(ref, true);
        if (!strcmp(codec_impl_name(fast), "ref")) {
            print_message("SKIP: %s has no fast path on this CPU\n", specs[s]);
            codec_free(fast);
            codec_free(ref);
            continue;
        }
        ran++;
        const size_t unit = codec_block_values(fast);
        for (int kind = 0; kind < 6; kind++) {
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
                fail_msg("%s data %d: byte %zu differs (fast %02x, ref %02x)", specs[s], kind, i,
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fast_paths_should_equal_their_reference_bit_for_bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
