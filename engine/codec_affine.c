/*
 * codec_affine: the plain min-max quantizer per group of `group` values
 * along the row, `bits` bits per value (spec `affine:bits=B,group=G`).
 *
 *   m = min(x), s = (max(x) - min(x)) / (2^B - 1), both stored as F16;
 *   q = clamp(floor((x - m') / s' + 1/2), 0, 2^B - 1) with m', s' the
 *   stored (F16-rounded) values, so the decoder's grid is the one the
 *   encoder rounded to; x^ = m' + q s'.
 * This is the quantizer of KIVI (arXiv 2402.02750, sec. 3: "asymmetric
 * quantization", zero point and scale per group) along the channel axis.
 * bits/value = B + 32 / G: 4-bit group 64 is 4.5.
 *
 * axis=token (spec `affine:bits=B,group=G,axis=token,channels=C`): KIVI's
 * per-channel keys. A block is G token rows of C values; each channel's G
 * values (one per token) are a group as above, stored channel after
 * channel. Same bits/value; no fast path (the KV cache encodes a block
 * once per G tokens).
 *
 * Group layout (4 + B*G/8 bytes): F16 s, F16 m, then the codes in planes
 * whose SIMD unpacking is a shift and a mask (ggml's q4_0 idea):
 *   B = 8: byte j = q[j]
 *   B = 4: byte j = q[j] | q[j + G/2] << 4                  (G/2 bytes)
 *   B = 2: byte j = q[j] | q[j+G/4] << 2 | q[j+G/2] << 4 | q[j+3G/4] << 6
 *   B = 3: the low two bits as B = 2 (G/4 bytes), then the high bit:
 *          byte j bit k = bit 2 of q[j + k G/8]               (G/8 bytes)
 */
#include "codec_internal.h"

#include <math.h>
#include <string.h>

#include "dtype.h"

/* Scalar reference loops (codec_internal.h says why). */
CODEC_REF_SCALAR_FILE

/* Pack the codes q (G of them) of one group into p. */
static void pack_codes(const uint8_t *q, int bits, int g, uint8_t *p)
{
    switch (bits) {
    case 8:
        memcpy(p, q, (size_t)g);
        break;
    case 4:
        for (int j = 0; j < g / 2; j++)
            p[j] = (uint8_t)(q[j] | q[j + g / 2] << 4);
        break;
    default: { /* 2 and 3: the 2-bit plane, then for 3 the high-bit plane */
        const int g4 = g / 4;
        for (int j = 0; j < g4; j++)
            p[j] = (uint8_t)((q[j] & 3) | (q[j + g4] & 3) << 2 | (q[j + 2 * g4] & 3) << 4 |
                             (q[j + 3 * g4] & 3) << 6);
        if (bits == 3) {
            const int g8 = g / 8;
            for (int j = 0; j < g8; j++) {
                uint8_t b = 0;
                for (int k = 0; k < 8; k++)
                    b = (uint8_t)(b | ((q[j + k * g8] >> 2) & 1) << k);
                p[g4 + j] = b;
            }
        }
    } break;
    }
}

static void unpack_codes(const uint8_t *p, int bits, int g, uint8_t *q)
{
    switch (bits) {
    case 8:
        memcpy(q, p, (size_t)g);
        break;
    case 4:
        for (int j = 0; j < g / 2; j++) {
            q[j] = p[j] & 0x0f;
            q[j + g / 2] = p[j] >> 4;
        }
        break;
    default: {
        const int g4 = g / 4;
        for (int j = 0; j < g4; j++)
            for (int k = 0; k < 4; k++)
                q[j + k * g4] = (p[j] >> (2 * k)) & 3;
        if (bits == 3) {
            const int g8 = g / 8;
            for (int j = 0; j < g8; j++)
                for (int k = 0; k < 8; k++)
                    q[j + k * g8] = (uint8_t)(q[j + k * g8] | ((p[g4 + j] >> k) & 1) << 2);
        }
    } break;
    }
}

/* One group of g values (contiguous) into its 4 + bits*g/8 bytes. */
static void enc_group(const float *x, int g, int bits, uint8_t *out)
{
    const float levels = (float)((1 << bits) - 1);
    uint8_t q[CODEC_MAX_ARM_VALUES];
    float lo = x[0], hi = x[0];
    for (int j = 1; j < g; j++) {
        lo = x[j] < lo ? x[j] : lo;
        hi = x[j] > hi ? x[j] : hi;
    }
    const uint16_t s16 = dtype_f32_to_f16((hi - lo) / levels);
    const uint16_t m16 = dtype_f32_to_f16(lo);
    const float s = dtype_f16_to_f32(s16), m = dtype_f16_to_f32(m16);
    const float inv = s != 0.0f ? 1.0f / s : 0.0f;
    for (int j = 0; j < g; j++) {
        float v = floorf((x[j] - m) * inv + 0.5f);
        /* fmaxf first: a NaN becomes 0, so the cast below is defined */
        v = fminf(fmaxf(v, 0.0f), levels);
        q[j] = (uint8_t)v;
    }
    codec_wr16(out, s16);
    codec_wr16(out + 2, m16);
    pack_codes(q, bits, g, out + 4);
}

static void dec_group(const uint8_t *in, int g, int bits, float *y)
{
    uint8_t q[CODEC_MAX_ARM_VALUES];
    const float s = dtype_f16_to_f32(codec_rd16(in));
    const float m = dtype_f16_to_f32(codec_rd16(in + 2));
    unpack_codes(in + 4, bits, g, q);
    for (int j = 0; j < g; j++)
        y[j] = m + (float)q[j] * s;
}

static void affine_enc_ref(codec *c, const float *x, size_t nb, uint8_t *out)
{
    const int g = c->spec.group, bits = c->spec.bits;
    for (size_t b = 0; b < nb; b++, x += g, out += c->arm_bytes)
        enc_group(x, g, bits, out);
}

static void affine_dec_ref(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    const int g = c->spec.group, bits = c->spec.bits;
    for (size_t b = 0; b < nb; b++, y += g, in += c->arm_bytes)
        dec_group(in, g, bits, y);
}

/* axis=token (KIVI's keys): a block is g token rows of C channels, row
 * after row; channel ch's g values (stride C) form one group, stored as
 * channel ch's 4 + bits*g/8 bytes. */
static void affine_tok_enc_ref(codec *c, const float *x, size_t nb, uint8_t *out)
{
    const int g = c->spec.group, bits = c->spec.bits, ch = c->spec.channels;
    const size_t gb = 4 + (size_t)(bits * g / 8);
    float col[CODEC_MAX_ARM_VALUES];
    for (size_t b = 0; b < nb; b++, x += (size_t)g * (size_t)ch, out += c->arm_bytes)
        for (int k = 0; k < ch; k++) {
            for (int t = 0; t < g; t++)
                col[t] = x[(size_t)t * (size_t)ch + (size_t)k];
            enc_group(col, g, bits, out + (size_t)k * gb);
        }
}

static void affine_tok_dec_ref(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    const int g = c->spec.group, bits = c->spec.bits, ch = c->spec.channels;
    const size_t gb = 4 + (size_t)(bits * g / 8);
    float col[CODEC_MAX_ARM_VALUES];
    for (size_t b = 0; b < nb; b++, y += (size_t)g * (size_t)ch, in += c->arm_bytes)
        for (int k = 0; k < ch; k++) {
            dec_group(in + (size_t)k * gb, g, bits, col);
            for (int t = 0; t < g; t++)
                y[(size_t)t * (size_t)ch + (size_t)k] = col[t];
        }
}

void codec_affine_setup(codec *c)
{
    if (c->spec.axis == CODEC_AXIS_TOKEN) {
        const size_t g = (size_t)c->spec.group, ch = (size_t)c->spec.channels;
        c->arm_values = g * ch;
        c->arm_bytes = ch * (4 + (size_t)c->spec.bits * g / 8);
        c->enc = c->enc_ref = affine_tok_enc_ref;
        c->dec = c->dec_ref = affine_tok_dec_ref;
        return;
    }
    c->arm_values = (size_t)c->spec.group;
    c->arm_bytes = 4 + (size_t)(c->spec.bits * c->spec.group / 8);
    c->enc = c->enc_ref = affine_enc_ref;
    c->dec = c->dec_ref = affine_dec_ref;
    if (c->spec.bits == 4 && codec_cpu_has_avx2()) {
        c->enc = codec_affine_encode_avx2;
        c->dec = codec_affine_decode_avx2;
        c->fast_name = "avx2";
    }
}
