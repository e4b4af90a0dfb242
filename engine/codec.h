/*
 * codec: lossy (and lossless) codecs for K/V rows, named by spec strings.
 *
 * A codec encodes a run of floats to bytes and decodes them back. Its unit
 * is a block of codec_block_values(c) floats that becomes exactly
 * codec_block_bytes(c) bytes: every per-group side value (scales, minima,
 * norms, scale indices) lives inside those bytes, so
 *   bits/value = 8 * codec_block_bytes / codec_block_values
 * is measured from what is written, not computed from a formula. What a
 * stream needs once (the rotation seed) is codec_header_bytes(c), reported
 * separately and not counted per value.
 *
 * Spec grammar (docs/codecs.md has every arm with its sources):
 *   spec   = name [ ":" field { "," field } ]
 *   field  = key "=" value
 *   name   = identity | f16 | bf16 | q8_0 | q4_0 | affine | d4 | e8 |
 *            lloyd | turbo | kl_d4 | kl_e8 | e8ans
 *   keys   = bits   affine: 2,3,4,8 (default 4); d4/e8: 2,3,4 (default 4);
 *                   lloyd/turbo: 1,2,3,4 (default 2)
 *            group  affine: 32,64,128 values per (min, scale) (default 64)
 *                   d4/e8: 32,64,128,256 values per F16 norm (default 128)
 *                   lloyd/turbo: 32,64,128,256 values per vector and scale
 *                   (default 128)
 *            scales d4/e8: 1,2,4,8,16 scales per 8-value block (default 8)
 *            axis   affine: row (groups along each row, default) or token
 *                   (KIVI's keys: each channel over `group` consecutive
 *                   token rows gets its own min and scale)
 *            channels  affine axis=token: values per token row, 8..16384,
 *                   a multiple of 8 (default 128; the KV cache sets it to
 *                   the row length when not given)
 *            rotate none|hadamard (every codec; default none; turbo:
 *                   hadamard, always, with dim = group unless given)
 *            dim    rotation length, a power of two 8..1024 (default 128;
 *                   the KV cache sets it to head_dim when not given)
 *            seed   0..2^64-1, the rotation's signs (default 0)
 * e.g. `affine:bits=4,group=64`, `q4_0`, `e8:bits=4,rotate=hadamard`,
 * `lloyd:bits=3`, `turbo:bits=2,seed=7` (codec_lloyd.c), `kl_e8:q=10`
 * (codec_kakeya.c: KakeyaLattice; key q 1..152, default 10; always
 * rotated, dim = group), `e8ans:bits=4` (codec_e8ans.c: entropy-coded
 * E8, bits 2..7 the target rate, variable length: codec_is_variable).
 * A malformed spec is KK_E_FORMAT, a value out of range KK_E_RANGE; the
 * message names the field and what is allowed, err->where the field.
 * axis=token takes no rotation (its groups are channels, not rows).
 *
 * Inputs must be finite: encoders check nothing per value (a NaN or Inf
 * gives unspecified codes but never reads or writes out of bounds).
 *
 * Lifecycle of a codec:
 *   1. codec_spec_parse (or fill a codec_spec by hand), codec_init: the
 *      signs and tables are built; encode/decode never allocate.
 *   2. codec_encode / codec_decode as often as needed; each counts the
 *      values it handled (codec_stats), so one codec object serves one
 *      thread at a time.
 *   3. codec_free (accepts NULL).
 * Fast paths (AVX2, AVX-512 decoders, chosen at run time from CPUID) and
 * the plain `_ref`
 * paths write the same bytes and decode to the same floats;
 * codec_set_ref selects the plain path (tests, benchmarks).
 */
#ifndef KK_CODEC_H
#define KK_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"

typedef enum codec_kind {
    CODEC_KIND_IDENTITY = 0, /* f32, 32 bits/value */
    CODEC_KIND_F16,
    CODEC_KIND_BF16,
    CODEC_KIND_Q8_0,         /* ggml block_q8_0: 32 values, F16 scale: 8.5 bits */
    CODEC_KIND_Q4_0,         /* ggml block_q4_0: 32 values, F16 scale: 4.5 bits */
    CODEC_KIND_AFFINE,       /* min-max per group, F16 min and scale */
    CODEC_KIND_D4,           /* Voronoi code D4 mod qD4, scales per 8 values */
    CODEC_KIND_E8,           /* Voronoi code E8 mod qE8, scales per 8 values */
    CODEC_KIND_LLOYD,        /* Lloyd-Max levels of N(0,1) x the vector's RMS */
    CODEC_KIND_TURBO,        /* TurboQuant-MSE: a random rotation, then lloyd */
    CODEC_KIND_KL_D4,        /* KakeyaLattice v1.4: rotation, qmax, D4 points ranked */
    CODEC_KIND_KL_E8,        /* KakeyaLattice v1.5: the same with E8 */
    CODEC_KIND_E8ANS,        /* E8 at a fixed step, rANS-coded: variable rate */
} codec_kind;

typedef enum codec_rotate {
    CODEC_ROTATE_NONE = 0,
    CODEC_ROTATE_HADAMARD = 1,  /* randomized fast Walsh-Hadamard over dim */
} codec_rotate;

typedef enum codec_axis {
    CODEC_AXIS_ROW = 0,    /* groups of consecutive values along a row */
    CODEC_AXIS_TOKEN = 1,  /* affine: one channel over `group` token rows */
} codec_axis;

typedef struct codec_spec {
    codec_kind kind;
    int32_t bits;       /* affine, d4, e8 */
    int32_t group;      /* affine: values per (min, scale); d4/e8: per norm */
    int32_t scales;     /* d4, e8 */
    codec_rotate rotate;
    int32_t dim;        /* rotation length; 0: not given (default 128) */
    uint64_t seed;
    codec_axis axis;    /* affine */
    int32_t channels;   /* affine axis=token: values per token row; 0: not
                           given (default 128) */
    int32_t q;          /* kl_d4, kl_e8: the cube [-q, q] of lattice points */
} codec_spec;

/* What a codec counted while it ran (never computed from the config). */
typedef struct codec_stats {
    uint64_t values_encoded;
    uint64_t values_decoded;
    /* d4/e8: 8-value blocks by the scale index chosen; the last index is
     * the overload-free escape. blocks_overloaded: blocks where a smaller
     * scale than the one chosen would have overloaded (left the Voronoi
     * region of qL), i.e. where overload decided the choice. */
    uint64_t blocks_by_scale[16];
    uint64_t blocks_overloaded;
    /* groups whose norm or scale left F16's range and was stored in the
     * BF16 escape form: d4/e8 norms above 65504, lloyd/turbo RMS outside
     * F16's normal range (0 in the normal case) */
    uint64_t norm_escapes;
    /* bytes encode calls wrote: for a fixed-rate codec codec_encoded_bytes
     * of what it encoded; for e8ans what the data cost */
    uint64_t bytes_encoded;
    /* e8ans: coordinates outside the entropy tables, written raw */
    uint64_t symbols_escaped;
} codec_stats;

typedef struct codec codec;

/* Parse spec into *out (defaults filled). @return KK_OK, KK_E_FORMAT for
 * bad syntax or an unknown name/field, KK_E_RANGE for a value outside the
 * field's allowed set (err->where = the field, or "codec" for the name). */
kk_code codec_spec_parse(const char *spec, codec_spec *out, kk_err *err);
/* The canonical spec string (every field the arm uses, in grammar order)
 * into buf; @return the length it needs (as snprintf). */
int codec_spec_format(const codec_spec *s, char *buf, size_t cap);

/* Build a codec. @return KK_OK, KK_E_RANGE for an invalid spec (checked as
 * the parser does), KK_E_NOMEM. *out is freed with codec_free. */
kk_code codec_init(codec **out, const codec_spec *spec, kk_err *err);
void codec_free(codec *c);

const codec_spec *codec_get_spec(const codec *c);
/* Floats per encode unit: a power of two (the arm's block, or the rotation
 * length when larger), except affine axis=token: group x channels, `group`
 * token rows of `channels` values, row after row. Encoded runs are whole
 * units. */
size_t codec_block_values(const codec *c);
size_t codec_block_bytes(const codec *c);
/* Bytes a stream holds once (8 for the rotation seed, else 0). */
size_t codec_header_bytes(const codec *c);
/* 8 * block_bytes / block_values; for a variable codec (e8ans) the rate
 * measured so far, 8 * stats.bytes_encoded / stats.values_encoded (0
 * before anything was encoded). */
double codec_bits_per_value(const codec *c);
/* Bytes of n values (n a multiple of codec_block_values), 0 otherwise; for
 * a variable codec the most one call of n values can write (what a caller
 * reserves; codec_encode returns what it wrote). */
size_t codec_encoded_bytes(const codec *c, size_t n);
/* Whether the codec writes a data-dependent number of bytes (e8ans): its
 * calls are streams, decoded only as the same n values they encoded. */
bool codec_is_variable(const codec *c);

/* Use the plain scalar paths (true) or the fastest the CPU has (false, the
 * default). */
void codec_set_ref(codec *c, bool use_ref);
/* Name of the path in use: "ref", "avx2", "avx512" (AVX-512 decoders of
 * q4_0, q8_0 and affine 4-bit; their encoders are AVX2). */
const char *codec_impl_name(const codec *c);
/* Select a path by name ("ref", "avx2", "avx512": tests run every level
 * the CPU has). @return false, changing nothing, when this codec has no
 * such path on this CPU. */
bool codec_set_impl(codec *c, const char *name);

/* Encode n floats (n % codec_block_values == 0) into at most
 * codec_encoded_bytes(n) bytes at out (exactly that for a fixed-rate
 * codec). @return the bytes written. */
size_t codec_encode(codec *c, const float *x, size_t n, uint8_t *out);
/* Decode n floats from codec_encoded_bytes(n) bytes (a variable codec
 * reads only what its stream needs, never past them). */
void codec_decode(codec *c, const uint8_t *in, size_t n, float *y);

const codec_stats *codec_get_stats(const codec *c);
void codec_reset_stats(codec *c);

/* n i.i.d. N(0,1) floats from seed (splitmix64 uniforms, Box-Muller in
 * double, rounded to float): the Gaussian data of `codec eval`, the tests
 * and the benchmarks. */
void codec_fill_gaussian(float *x, size_t n, uint64_t seed);

/* ---- lattices, exposed for tests --------------------------------------- */
/* Nearest point of D_n (n = 4 or 8) and of E8 to x (Conway and Sloane,
 * "Fast quantizing and decoding algorithms for lattice quantizers", IEEE
 * Trans. IT 28(2), 1982): ties go the same way on every path. */
void codec_nearest_dn(const float *x, int n, float *out);
void codec_nearest_e8(const float *x, float *out);

/* ---- rotation, exposed for tests ------------------------------------------ */
/* In place: x <- H D x / sqrt(dim) (forward) or D H x / sqrt(dim) (inverse),
 * H the Walsh-Hadamard matrix, D = diag(signs), signs +-1 (dim floats). */
void codec_hadamard_forward(float *x, const float *signs, int dim);
void codec_hadamard_inverse(float *x, const float *signs, int dim);
/* The signs of (seed, dim): splitmix64 bits, one per coordinate. */
void codec_hadamard_signs(uint64_t seed, int dim, float *signs);

#endif /* KK_CODEC_H */
