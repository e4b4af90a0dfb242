/* kkcu_mem: device memory for C callers (kkcu_mem.h). */
#include "kkcu_mem.h"

/* Under the codecs' CPU emulator (tests/cuda/emu: one-dimensional grids,
 * float shuffles, no cp.async) this file compiles to nothing; its kernels
 * run on the CPU under tests/cuda/kkcu_emu.h (`make test-attn-emu`). */
#if !defined(KKCU_EMU) || defined(KKCU_EMU_FIBERS)

#include <stdio.h>

#ifndef KKCU_EMU
#include <cuda_runtime.h>
#endif

static kk_code fail(cudaError_t e, const char *what, kk_err *err)
{
    const kk_code code = e == cudaErrorMemoryAllocation ? KK_E_NOMEM
                         : e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver
                             ? KK_E_UNSUPPORTED
                             : KK_E_IO;
    return kk_err_set(err, code, "%s: %s", what, cudaGetErrorString(e));
}

extern "C" kk_code kkcu_mem_alloc(void **out, size_t n, kk_err *err)
{
    *out = NULL;
    const cudaError_t e = cudaMalloc(out, n ? n : 1);
    if (e != cudaSuccess) {
        *out = NULL;
        return fail(e, "cudaMalloc", err);
    }
    return KK_OK;
}

extern "C" void kkcu_mem_free(void *p)
{
    if (p)
        cudaFree(p);
}

extern "C" kk_code kkcu_mem_upload(void *dst, const void *src, size_t n, kk_err *err)
{
    const cudaError_t e = cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice);
    return e == cudaSuccess ? KK_OK : fail(e, "cudaMemcpy (host to device)", err);
}

extern "C" kk_code kkcu_mem_download(void *dst, const void *src, size_t n, kk_err *err)
{
    const cudaError_t e = cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost);
    return e == cudaSuccess ? KK_OK : fail(e, "cudaMemcpy (device to host)", err);
}

extern "C" kk_code kkcu_mem_copy(void *dst, const void *src, size_t n, kk_err *err)
{
    const cudaError_t e = cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, 0);
    return e == cudaSuccess ? KK_OK : fail(e, "cudaMemcpyAsync (device to device)", err);
}

extern "C" kk_code kkcu_mem_set(void *dst, int v, size_t n, kk_err *err)
{
    const cudaError_t e = cudaMemsetAsync(dst, v, n, 0);
    return e == cudaSuccess ? KK_OK : fail(e, "cudaMemsetAsync", err);
}

#define KKCU_STR2(x) #x
#define KKCU_STR(x) KKCU_STR2(x)

extern "C" const char *kkcu_nvcc_version(void)
{
#if defined(__CUDACC_VER_MAJOR__)
    return KKCU_STR(__CUDACC_VER_MAJOR__) "." KKCU_STR(__CUDACC_VER_MINOR__) "." KKCU_STR(
        __CUDACC_VER_BUILD__);
#else
    return "none (not compiled by nvcc)";
#endif
}

#endif /* !KKCU_EMU || KKCU_EMU_FIBERS */
