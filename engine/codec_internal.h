/*
 * codec_internal: the codec struct and the arms' entry points, shared by
 * codec.c (spec, dispatch, rotation) and the arm files (codec_ggml.c,
 * codec_affine.c, codec_lattice.c, codec_lloyd.c) with their AVX2 variants
 * (codec_*_avx2.c). Not a public header.
 *
 * An arm encodes whole arm blocks: n_blocks * arm_values floats into
 * n_blocks * arm_bytes bytes. Every arm has a _ref path; a fast path, when
 * there is one, writes the same bytes and decodes to the same floats.
 */
#ifndef KK_CODEC_INTERNAL_H
#define KK_CODEC_INTERNAL_H

#include "codec.h"

typedef void (*codec_enc_fn)(codec *c, const float *x, size_t n_blocks, uint8_t *out);
typedef void (*codec_dec_fn)(const codec *c, const uint8_t *in, size_t n_blocks, float *y);

/* Largest rotation length; also bounds the stack scratch of one unit. */
#define CODEC_MAX_DIM 1024
/* Largest arm block (d4/e8 group 256). */
#define CODEC_MAX_ARM_VALUES 256
#define CODEC_MAX_SCALES 16
/* Largest token row of affine axis=token (a unit is group x channels). */
#define CODEC_MAX_CHANNELS 16384

struct codec {
    codec_spec spec;
    size_t arm_values, arm_bytes;    /* one arm block */
    size_t unit_values, unit_bytes;  /* one encode unit (>= rotation dim) */
    bool use_ref;
    const char *fast_name;           /* "avx512", "avx2" or "ref" when no fast path */
    codec_enc_fn enc, enc_ref;
    codec_dec_fn dec, dec_ref;
    /* The AVX2 level kept when AVX-512 replaces a decoder (codec_set_impl
     * returns to it), and the AVX-512 decoder (NULL: none). */
    codec_enc_fn enc_avx2;
    codec_dec_fn dec_avx2, dec_avx512;
    float *signs;                    /* (dim) rotation signs, or NULL */
    /* d4/e8 (codec_lattice.c) */
    int lat_n;                       /* 4 or 8 */
    int q, log2q, log2s;             /* Voronoi modulus, log2 of it, of scales */
    size_t code_bytes;               /* bytes of one 8-value block's lattice codes */
    float scale_rel[CODEC_MAX_SCALES]; /* scales as multiples of the group RMS */
    float escape_rel;                /* the escape scale as a multiple of the norm */
    /* lloyd/turbo (codec_lloyd.c): N(0,1)'s Lloyd-Max levels, thresholds */
    float lloyd_levels[16], lloyd_thresh[15];
    /* kl_d4/kl_e8 (codec_kakeya.c): bits of one lattice point's code */
    int kl_bits;
    /* e8ans (codec_e8ans.c): its tables and chunk scratch; variable: the
     * codec writes what the data costs (codec_is_variable) */
    struct codec_e8ans *ans;
    bool variable;
    codec_stats stats;
};

/* The Voronoi code of one 8-value block (an E8 point, n = 8, or two D4
 * points, n = 4), exposed for tests: codes k (8 floats in 0..q-1) -> the
 * representative v of k G in the Voronoi region of qL, and a lattice point
 * v -> its codes (k = v G^-1 mod q). */
void codec_lattice_codes_to_point(int n, int q, const float *k, float *v);
void codec_lattice_point_to_codes(int n, int q, const float *v, float *k);

/* Pieces of codec_lattice.c shared with its AVX2 path (same floats). */
uint16_t codec_lattice_norm_f16_up(const float *x, int g);
float codec_lattice_norm_value(uint16_t n16);
void codec_lattice_betas(const codec *c, uint16_t n16, float *beta);
size_t codec_lattice_idx_offset(const codec *c);
void codec_lattice_put_codes(const float *k, int log2q, size_t nbytes, uint8_t *p);
void codec_lattice_get_codes(const uint8_t *p, int log2q, size_t nbytes, float *k);
void codec_lattice_put_bits(uint8_t *p, size_t bitpos, int nbits, unsigned v);
unsigned codec_lattice_get_bits(const uint8_t *p, size_t bitpos, int nbits);

/* The _ref paths are the plain scalar algorithms. GCC 12 at -O2
 * auto-vectorizes simple loops (the affine/q4_0/q8_0 decoders become SSE
 * code), which would make the "reference" a second, compiler-made fast
 * path; the ratio fast/ref in bench/bench_codec.c is meant against the
 * scalar loop. So the files that hold only _ref paths (codec_affine.c,
 * codec_ggml.c) start with CODEC_REF_SCALAR_FILE, and the lattice _ref
 * functions carry CODEC_REF_SCALAR. Nothing else changes: same -O2, same
 * operations, same results (the fast paths are compared bit for bit).
 * Other compilers (clang: the fuzz build only) compile them as they are. */
#if defined(__GNUC__) && !defined(__clang__)
#define CODEC_REF_SCALAR __attribute__((optimize("no-tree-vectorize")))
#define CODEC_REF_SCALAR_FILE _Pragma("GCC optimize(\"no-tree-vectorize\")")
#else
#define CODEC_REF_SCALAR
#define CODEC_REF_SCALAR_FILE
#endif

/* Fill arm_values, arm_bytes and the function pointers for c->spec. */
void codec_ggml_setup(codec *c);
void codec_affine_setup(codec *c);
void codec_lattice_setup(codec *c);
void codec_lloyd_setup(codec *c);
void codec_kakeya_setup(codec *c);
/* e8ans: its tables (allocated: KK_E_NOMEM), arm_values 8, variable. */
kk_code codec_e8ans_setup(codec *c);
/* The most bytes one e8ans call of n values writes. */
size_t codec_e8ans_capacity(const codec *c, size_t n);
/* One e8ans call (rotation included): @return the bytes written (at most
 * codec_e8ans_capacity). */
size_t codec_e8ans_encode(codec *c, const float *x, size_t n, uint8_t *out);
/* Decode n values from the cap bytes at in (reads nothing past them). */
void codec_e8ans_decode(const codec *c, const uint8_t *in, size_t cap, size_t n, float *y);
/* Bits of one kl_d4 (n 4) or kl_e8 (n 8) point's code at cube [-q, q]:
 * ceil(log2 of D_n's points in the cube), plus E8's coset bit. */
int codec_kakeya_block_bits(int n, int q);
/* The lattice point kl_d4 (n 4) / kl_e8 (n 8) gives y (scaled coordinates,
 * clamped to [-q, q]): its integer part d (d + 1/2 is the point when the
 * return, the E8 coset, is 1). Exposed for tests. */
int codec_kakeya_quantize(int n, int q, const float *y, int32_t *d);

/* The Lloyd-Max quantizer of N(0, 1) with 2^bits levels (bits 1..4):
 * levels (ascending), the 2^bits - 1 thresholds between them, and its mean
 * squared error (exposed for tests). */
void codec_lloyd_gaussian(int bits, float *levels, float *thresh, double *mse);
/* Pieces of codec_lloyd.c its AVX2 path shares (same floats): the sum of
 * squares of g values in the order both paths use, the block's 16-bit
 * scale from that sum (counting escapes) with the float it decodes to,
 * and that float from the 16 bits. */
double codec_lloyd_sumsq(const float *x, int g);
uint16_t codec_lloyd_scale(codec *c, double sumsq, float *used);
float codec_lloyd_get_scale(uint16_t s);

/* One rotation run of c->spec.dim values in place: the AVX2 butterflies
 * unless c uses its _ref path (the same floats either way). */
void codec_rotate_forward(const codec *c, float *x);
void codec_rotate_inverse(const codec *c, float *x);

/* 1 when the CPU runs AVX2 and F16C (cached). */
int codec_cpu_has_avx2(void);
/* 1 when it also runs AVX-512F with the OS saving ZMM state (cached). */
int codec_cpu_has_avx512(void);
/* After the arm's setup: put an AVX-512 decoder in place when there is
 * one for the arm and the CPU runs it (codec_avx512.c). */
void codec_avx512_setup(codec *c);

/* AVX2 variants (codec_*_avx2.c); NULL-free: set only when the CPU has it. */
void codec_affine_encode_avx2(codec *c, const float *x, size_t n_blocks, uint8_t *out);
void codec_affine_decode_avx2(const codec *c, const uint8_t *in, size_t n_blocks, float *y);
void codec_q4_0_encode_avx2(codec *c, const float *x, size_t n_blocks, uint8_t *out);
void codec_q4_0_decode_avx2(const codec *c, const uint8_t *in, size_t n_blocks, float *y);
void codec_q8_0_encode_avx2(codec *c, const float *x, size_t n_blocks, uint8_t *out);
void codec_q8_0_decode_avx2(const codec *c, const uint8_t *in, size_t n_blocks, float *y);
void codec_lattice_encode_avx2(codec *c, const float *x, size_t n_blocks, uint8_t *out);
void codec_lattice_decode_avx2(const codec *c, const uint8_t *in, size_t n_blocks, float *y);
void codec_kakeya_encode_avx2(codec *c, const float *x, size_t n_blocks, uint8_t *out);
void codec_kakeya_decode_avx2(const codec *c, const uint8_t *in, size_t n_blocks, float *y);
void codec_lloyd_encode_avx2(codec *c, const float *x, size_t n_blocks, uint8_t *out);
void codec_lloyd_decode_avx2(const codec *c, const uint8_t *in, size_t n_blocks, float *y);
/* codec_hadamard_forward / _inverse with AVX2 butterflies: the same
 * additions and products per value, so the same floats (dim >= 8). */
void codec_hadamard_forward_avx2(float *x, const float *signs, int dim);
void codec_hadamard_inverse_avx2(float *x, const float *signs, int dim);

/* Little-endian F16 read/write at any alignment. */
static inline uint16_t codec_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline void codec_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

#endif /* KK_CODEC_INTERNAL_H */
