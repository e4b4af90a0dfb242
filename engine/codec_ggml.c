/*
 * codec_ggml: the arms that are ggml storage types: identity (F32), f16,
 * bf16, q8_0 and q4_0. Byte layouts are ggml's (src/ggml-common.h:
 * block_q8_0 = {F16 d; int8 qs[32]}, block_q4_0 = {F16 d; uint8 qs[16]},
 * qs[j] = q[j] | q[j+16] << 4), so a cache of these bytes is what
 * llama.cpp's `--cache-type-k q8_0` holds. The quantizers are dtype's,
 * bit-exact with ggml's quantize_row_q8_0_ref / quantize_row_q4_0_ref.
 */
#include "codec_internal.h"

#include <string.h>

#include "dtype.h"

/* Scalar reference loops (codec_internal.h says why). */
CODEC_REF_SCALAR_FILE

/* ---- identity / f16 / bf16: one value per block --------------------------- */

static void id_enc(codec *c, const float *x, size_t nb, uint8_t *out)
{
    (void)c;
    memcpy(out, x, nb * sizeof(float));
}

static void id_dec(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    (void)c;
    memcpy(y, in, nb * sizeof(float));
}

static void f16_enc(codec *c, const float *x, size_t nb, uint8_t *out)
{
    (void)c;
    for (size_t i = 0; i < nb; i++)
        codec_wr16(out + 2 * i, dtype_f32_to_f16(x[i]));
}

static void f16_dec(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    (void)c;
    for (size_t i = 0; i < nb; i++)
        y[i] = dtype_f16_to_f32(codec_rd16(in + 2 * i));
}

static void bf16_enc(codec *c, const float *x, size_t nb, uint8_t *out)
{
    (void)c;
    for (size_t i = 0; i < nb; i++)
        codec_wr16(out + 2 * i, dtype_f32_to_bf16(x[i]));
}

static void bf16_dec(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    (void)c;
    for (size_t i = 0; i < nb; i++)
        y[i] = dtype_bf16_to_f32(codec_rd16(in + 2 * i));
}

/* ---- q8_0 / q4_0 ------------------------------------------------------------ */

/* The block structs are 2-byte aligned; codes may sit at any offset (a KV
 * row of another codec's unit), so go through a stack copy when unaligned. */
static void q8_0_enc_ref(codec *c, const float *x, size_t nb, uint8_t *out)
{
    (void)c;
    for (size_t i = 0; i < nb; i++) {
        dtype_block_q8_0 b;
        dtype_quantize_row_q8_0_ref(x + i * DTYPE_QK8_0, &b, DTYPE_QK8_0);
        memcpy(out + i * sizeof b, &b, sizeof b);
    }
}

static void q8_0_dec_ref(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    (void)c;
    for (size_t i = 0; i < nb; i++) {
        const uint8_t *p = in + i * sizeof(dtype_block_q8_0);
        const float d = dtype_f16_to_f32(codec_rd16(p));
        for (int j = 0; j < DTYPE_QK8_0; j++)
            y[i * DTYPE_QK8_0 + j] = (float)(int8_t)p[2 + j] * d;
    }
}

static void q4_0_enc_ref(codec *c, const float *x, size_t nb, uint8_t *out)
{
    (void)c;
    for (size_t i = 0; i < nb; i++) {
        dtype_block_q4_0 b;
        dtype_quantize_row_q4_0_ref(x + i * DTYPE_QK4_0, &b, DTYPE_QK4_0);
        memcpy(out + i * sizeof b, &b, sizeof b);
    }
}

/* ggml dequantize_row_q4_0: (q - 8) * d. */
static void q4_0_dec_ref(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    (void)c;
    for (size_t i = 0; i < nb; i++) {
        const uint8_t *p = in + i * sizeof(dtype_block_q4_0);
        const float d = dtype_f16_to_f32(codec_rd16(p));
        for (int j = 0; j < DTYPE_QK4_0 / 2; j++) {
            y[i * DTYPE_QK4_0 + j] = (float)((p[2 + j] & 0x0f) - 8) * d;
            y[i * DTYPE_QK4_0 + j + DTYPE_QK4_0 / 2] = (float)((p[2 + j] >> 4) - 8) * d;
        }
    }
}

void codec_ggml_setup(codec *c)
{
    switch (c->spec.kind) {
    case CODEC_KIND_F16:
        c->arm_values = 1;
        c->arm_bytes = 2;
        c->enc = c->enc_ref = f16_enc;
        c->dec = c->dec_ref = f16_dec;
        break;
    case CODEC_KIND_BF16:
        c->arm_values = 1;
        c->arm_bytes = 2;
        c->enc = c->enc_ref = bf16_enc;
        c->dec = c->dec_ref = bf16_dec;
        break;
    case CODEC_KIND_Q8_0:
        c->arm_values = DTYPE_QK8_0;
        c->arm_bytes = sizeof(dtype_block_q8_0);
        c->enc = c->enc_ref = q8_0_enc_ref;
        c->dec = c->dec_ref = q8_0_dec_ref;
        if (codec_cpu_has_avx2()) {
            c->enc = codec_q8_0_encode_avx2;
            c->dec = codec_q8_0_decode_avx2;
            c->fast_name = "avx2";
        }
        break;
    case CODEC_KIND_Q4_0:
        c->arm_values = DTYPE_QK4_0;
        c->arm_bytes = sizeof(dtype_block_q4_0);
        c->enc = c->enc_ref = q4_0_enc_ref;
        c->dec = c->dec_ref = q4_0_dec_ref;
        if (codec_cpu_has_avx2()) {
            c->enc = codec_q4_0_encode_avx2;
            c->dec = codec_q4_0_decode_avx2;
            c->fast_name = "avx2";
        }
        break;
    default: /* identity */
        c->arm_values = 1;
        c->arm_bytes = 4;
        c->enc = c->enc_ref = id_enc;
        c->dec = c->dec_ref = id_dec;
        break;
    }
}
