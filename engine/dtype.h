/*
 * dtype: ggml tensor element types that kakeya reads and writes, their block
 * layouts, and conversions to/from F32.
 *
 * Values are ggml's `enum ggml_type` numbers (ggml/include/ggml.h), since they
 * are stored in GGUF files. Block layouts are static_assert-ed in dtype.c
 * (ggml src/ggml-common.h: block_q8_0 = { ggml_half d; int8_t qs[32]; }).
 *
 * Q8_0 quantization (dtype_quantize_row_q8_0_ref) is bit-exact with ggml's
 * quantize_row_q8_0_ref: d = amax / 127, stored as F16; q = round(x / d).
 */
#ifndef KK_DTYPE_H
#define KK_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum dtype_t {
    DTYPE_F32 = 0,
    DTYPE_F16 = 1,
    DTYPE_Q4_0 = 2,
    DTYPE_Q8_0 = 8,
    DTYPE_BF16 = 30,
} dtype_t;

#define DTYPE_QK8_0 32
#define DTYPE_QK4_0 32

typedef struct dtype_block_q8_0 {
    uint16_t d;        /* F16 scale */
    int8_t qs[DTYPE_QK8_0];
} dtype_block_q8_0;

typedef struct dtype_block_q4_0 {
    uint16_t d;        /* F16 scale */
    uint8_t qs[DTYPE_QK4_0 / 2];
} dtype_block_q4_0;

/* 1 when kakeya supports the type (can compute its sizes and dequantize). */
int dtype_is_known(uint32_t type);
const char *dtype_name(dtype_t t);          /* "f32", "q8_0", ... ; "?" */
size_t dtype_block_size(dtype_t t);         /* elements per block */
size_t dtype_type_size(dtype_t t);          /* bytes per block */
/* Bytes of a row of n elements; 0 when n is not a multiple of the block. */
size_t dtype_row_size(dtype_t t, uint64_t n);

float dtype_f16_to_f32(uint16_t h);   /* the plain (integer) reference */
/* Same result for every non-NaN half (a signalling NaN comes back quiet),
 * branch-free so loops vectorize; dtype_to_f32_row uses it. */
float dtype_f16_to_f32_fast(uint16_t h);
uint16_t dtype_f32_to_f16(float f);   /* round to nearest even, as ggml */
float dtype_bf16_to_f32(uint16_t h);
uint16_t dtype_f32_to_bf16(float f);  /* round to nearest even, NaN kept */

/* n floats to halves, dtype_f32_to_f16 each (F16C when the CPU has it). */
void dtype_f32_to_f16_row(const float *x, uint16_t *dst, size_t n);

/* Dequantize n elements (n a multiple of the block size) of type t. */
void dtype_to_f32_row(dtype_t t, const void *src, float *dst, size_t n);

/* (int32_t)f as x86-64 computes it (cvttss2si): INT32_MIN for a NaN or a
 * value outside [-2^31, 2^31), where C leaves the cast undefined. The
 * quantizers below cast through it: a block whose scale's inverse
 * overflows (max |x| below about 4e-37) multiplies to Inf or NaN, and
 * ggml's C, compiled for x86, stores the low byte of INT32_MIN (0) there;
 * the AVX2 paths and the GPU follow this definition. */
static inline int32_t dtype_cvtt_i32(float f)
{
    if (!(f >= -2147483648.0f && f < 2147483648.0f))
        return INT32_MIN;
    return (int32_t)f;
}

/* Reference quantizers (bit-exact with ggml's *_ref). n % 32 == 0. */
void dtype_quantize_row_q8_0_ref(const float *x, dtype_block_q8_0 *y, size_t n);
void dtype_quantize_row_q4_0_ref(const float *x, dtype_block_q4_0 *y, size_t n);

#endif /* KK_DTYPE_H */
