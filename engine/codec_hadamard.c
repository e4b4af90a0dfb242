/*
 * codec_hadamard: the randomized fast Walsh-Hadamard transform applied
 * before a codec (spec `rotate=hadamard`) and inverted after decode.
 *
 * x <- H D x / sqrt(dim), H the Sylvester-Hadamard matrix (entries +-1,
 * H H = dim I), D a diagonal of random signs. The map is orthogonal, so
 * squared error is the same before and after it; what it buys is spreading
 * an outlier channel over every coordinate of the head, so per-group
 * scales (affine, q4_0) and norm-bounded codes (d4/e8) see near-Gaussian
 * rows (QuIP# arXiv 2402.04396 sec. 3 "incoherence processing";
 * TurboQuant arXiv 2504.19874 uses a random rotation the same way).
 * O(dim log dim) butterflies, in place.
 *
 * Also here: the seeded generators (signs, Gaussian test data).
 */
#include "codec.h"

#include <math.h>

#include "kk_rand.h"

static void fwht(float *x, int dim)
{
    for (int h = 1; h < dim; h <<= 1)
        for (int i = 0; i < dim; i += h << 1)
            for (int j = i; j < i + h; j++) {
                const float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
}

void codec_hadamard_forward(float *x, const float *signs, int dim)
{
    const float s = 1.0f / sqrtf((float)dim);
    for (int i = 0; i < dim; i++)
        x[i] *= signs[i];
    fwht(x, dim);
    for (int i = 0; i < dim; i++)
        x[i] *= s;
}

void codec_hadamard_inverse(float *x, const float *signs, int dim)
{
    /* (H D / sqrt(dim))^-1 = D H / sqrt(dim): H is symmetric, H H = dim I. */
    const float s = 1.0f / sqrtf((float)dim);
    fwht(x, dim);
    for (int i = 0; i < dim; i++)
        x[i] *= s * signs[i];
}

void codec_hadamard_signs(uint64_t seed, int dim, float *signs)
{
    uint64_t s = seed, bits = 0;
    for (int i = 0; i < dim; i++) {
        if (i % 64 == 0)
            bits = kk_splitmix64(&s);
        signs[i] = (bits >> (i % 64)) & 1 ? -1.0f : 1.0f;
    }
}

void codec_fill_gaussian(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i += 2) {
        const double u1 = ((double)(kk_splitmix64(&s) >> 11) + 1.0) * 0x1p-53; /* (0, 1] */
        const double u2 = (double)(kk_splitmix64(&s) >> 11) * 0x1p-53;
        const double r = sqrt(-2.0 * log(u1)), t = 6.283185307179586 * u2;
        x[i] = (float)(r * cos(t));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(t));
    }
}
