/*
 * kkcu: the K/V codecs (engine/codec.h) on an NVIDIA GPU. A C interface
 * (the library itself is CUDA C++, built by `make cuda` into
 * build/cuda/libkk_cuda.a; link it with -lcudart or nvcc).
 *
 * The promise: for the same spec and the same input floats, kkcu_encode
 * writes exactly the bytes the CPU's codec_encode writes, unit by unit,
 * and kkcu_decode writes exactly the floats codec_decode writes (bit for
 * bit; tests/cuda/test_cuda_codecs.cu checks both on the device over random
 * and adversarial inputs). Encoded bytes move freely between the two.
 *
 * Codecs: q8_0, q4_0, affine (bits 2, 3, 4, 8; group 32, 64, 128; axis
 * row or token), d4 and e8 (every bits/group/scales, the F16 norm and its
 * BF16 escape), kl_d4 and kl_e8 (q 1..152), each with rotate=hadamard
 * where the spec allows it. Other kinds are KK_E_UNSUPPORTED at init.
 *
 * Inputs are F32 or BF16 (KKCU_BF16: the CPU reference for BF16 input is
 * codec_encode of the BF16 values widened to F32, which is exact); outputs
 * are F32 or BF16 (KKCU_BF16 output: each decoded float rounded to nearest
 * even, dtype_f32_to_bf16). Inputs must be finite (as on the CPU).
 *
 * Lifecycle (a kkcu_codec serves one host thread at a time):
 *   1. kkcu_codec_init: validates the spec as codec_init does, builds the
 *      CPU codec it mirrors, uploads the rotation signs and allocates two
 *      device counters. The current CUDA device at init is the codec's
 *      device: call the others with that device current.
 *   2. kkcu_encode / kkcu_decode, any number of times: asynchronous on the
 *      given stream (NULL: the default stream), no allocation; the device
 *      pointers are the caller's and must stay valid until the stream has
 *      run the work. A kk_code other than KK_OK means nothing was launched
 *      or the launch failed; errors of the kernel itself show at the next
 *      synchronizing call (kkcu_sync, kkcu_get_stats).
 *   3. kkcu_codec_free (accepts NULL): frees what init allocated, after
 *      waiting for the device.
 * Errors are kk_err values: `where` names the function, `file`/`line`
 * the source line of a failing CUDA call, the message the CUDA error.
 */
#ifndef KKCU_H
#define KKCU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" { /* the engine's C headers too: C linkage from CUDA C++ */
#endif

#include "codec.h"
#include "kk_err.h"

/* cudaStream_t without CUDA's headers (it is this very type). */
typedef struct CUstream_st *kkcu_stream;

typedef enum kkcu_dtype {
    KKCU_F32 = 0,   /* float */
    KKCU_BF16 = 1,  /* uint16_t bfloat16 bits */
} kkcu_dtype;

typedef struct kkcu_codec kkcu_codec;

/* Values each kernel handled, counted on the device (one atomic add per
 * thread block of the values it wrote). */
typedef struct kkcu_stats {
    uint64_t values_encoded;
    uint64_t values_decoded;
} kkcu_stats;

/* What cudaGetDeviceProperties and the driver say of the current device. */
typedef struct kkcu_device {
    char name[256];           /* "NVIDIA H100 80GB HBM3" */
    int cc_major, cc_minor;   /* compute capability: 9.0 on H100/H200 */
    int n_sms;
    uint64_t mem_bytes, l2_bytes;
    int driver_version;       /* cudaDriverGetVersion: 13000 for 13.0 */
    int runtime_version;      /* cudaRuntimeGetVersion */
} kkcu_device;

/* ---- device ----------------------------------------------------------------- */

/* @return KK_OK, or KK_E_UNSUPPORTED when no CUDA device (or driver) is
 * found, with the CUDA error in the message. */
kk_code kkcu_device_get(kkcu_device *out, kk_err *err);
/* "NAME (sm_MAJMIN, N SMs, driver X.Y, runtime X.Y)" of the current
 * device into buf (truncated to cap). @return as kkcu_device_get. */
kk_code kkcu_device_name(char *buf, size_t cap, kk_err *err);
/* Wait for all work on the current device. @return KK_E_IO with the
 * error a kernel raised, if any. */
kk_code kkcu_sync(kk_err *err);

/* ---- codecs ----------------------------------------------------------------- */

/* Build *out for spec. @return KK_OK; KK_E_RANGE as codec_init for an
 * invalid spec; KK_E_UNSUPPORTED for a kind with no GPU path (identity,
 * f16, bf16, lloyd, turbo, e8ans) or no device; KK_E_NOMEM; KK_E_IO for
 * another CUDA error. *out is freed with kkcu_codec_free. */
kk_code kkcu_codec_init(kkcu_codec **out, const codec_spec *spec, kk_err *err);
void kkcu_codec_free(kkcu_codec *c);

/* The CPU codec this one mirrors (owned by c; its stats are not the GPU's). */
codec *kkcu_codec_cpu(kkcu_codec *c);
size_t kkcu_block_values(const kkcu_codec *c);  /* codec_block_values */
size_t kkcu_block_bytes(const kkcu_codec *c);   /* codec_block_bytes */
size_t kkcu_encoded_bytes(const kkcu_codec *c, size_t n); /* 0 unless whole units */
/* The rotation signs in device memory (dim floats, +-1), NULL without a
 * rotation; owned by c. */
const float *kkcu_codec_signs(const kkcu_codec *c);

/* Kernels: "fast" (the default: register kernels for q8_0, q4_0 and
 * affine without rotation, shared-memory tiles for the rest), "tile"
 * (shared-memory tiles for every row codec) and "simple" (one thread per
 * unit running kkcu_arith.cuh's unit functions, the ones the host tests
 * check: a slow second opinion). axis=token has one kernel (a thread per
 * channel) under every name. @return false for an unknown name. */
bool kkcu_set_impl(kkcu_codec *c, const char *name);
const char *kkcu_impl_name(const kkcu_codec *c);

/* Encode n values (n % kkcu_block_values == 0) of type xt at d_x into the
 * kkcu_encoded_bytes(c, n) bytes at d_out. Pointers: device memory, any
 * alignment of the element type (16-byte aligned ones take the vector
 * loads). @return KK_OK, KK_E_RANGE for a bad n or type (where "n"), or
 * KK_E_IO for a failed launch. */
kk_code kkcu_encode(kkcu_codec *c, const void *d_x, kkcu_dtype xt, size_t n, uint8_t *d_out,
                    kkcu_stream stream, kk_err *err);
/* Decode n values from the kkcu_encoded_bytes(c, n) bytes at d_in into
 * d_y of type yt. @return as kkcu_encode. */
kk_code kkcu_decode(kkcu_codec *c, const uint8_t *d_in, size_t n, void *d_y, kkcu_dtype yt,
                    kkcu_stream stream, kk_err *err);

/* The device counters (waits for the device). @return KK_OK or KK_E_IO. */
kk_code kkcu_get_stats(kkcu_codec *c, kkcu_stats *out, kk_err *err);
kk_code kkcu_reset_stats(kkcu_codec *c, kk_err *err);

#ifdef __cplusplus
}
#endif

#endif /* KKCU_H */
