/*
 * kkcu_mem: device memory, copies and the toolkit's version for C callers
 * that do not include CUDA's headers (the harness of a `make cuda` build:
 * `kakeya codec eval --device cuda`, `kakeya codec attn`, the codec_gpu
 * kind). Device 0, the default stream.
 *
 * Errors: KK_E_NOMEM when device memory runs out, KK_E_UNSUPPORTED when no
 * CUDA device or driver is found, KK_E_IO for any other CUDA error (the
 * CUDA error's text in the message).
 */
#ifndef KKCU_MEM_H
#define KKCU_MEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "kk_err.h"

/* n bytes of device memory (n 0 allocates 1); free with kkcu_mem_free
 * (accepts NULL). */
kk_code kkcu_mem_alloc(void **out, size_t n, kk_err *err);
void kkcu_mem_free(void *p);
/* Synchronous copies host -> device and device -> host (they wait for the
 * work before them on the default stream). */
kk_code kkcu_mem_upload(void *dst, const void *src, size_t n, kk_err *err);
kk_code kkcu_mem_download(void *dst, const void *src, size_t n, kk_err *err);
/* Device -> device on the default stream, asynchronous: the bandwidth
 * reference of the GPU measurements (bytes read plus bytes written). */
kk_code kkcu_mem_copy(void *dst, const void *src, size_t n, kk_err *err);
/* Set n bytes of device memory to byte v (asynchronous). */
kk_code kkcu_mem_set(void *dst, int v, size_t n, kk_err *err);

/* "13.0.88": the nvcc that compiled this library (__CUDACC_VER_*__). */
const char *kkcu_nvcc_version(void);

#ifdef __cplusplus
}
#endif

#endif /* KKCU_MEM_H */
