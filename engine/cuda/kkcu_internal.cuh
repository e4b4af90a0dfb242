/*
 * kkcu_internal: the codec object and the kernel launchers shared by
 * kkcu_codec.cu (the C interface) and kkcu_kernels.cu. Not a public header.
 */
#ifndef KKCU_INTERNAL_CUH
#define KKCU_INTERNAL_CUH

#include <cuda_runtime.h>

#include "kkcu.h"
#include "kkcu_arith.cuh"

/* Kernel launches and dynamic shared memory through two macros: CUDA's
 * own syntax, or, under KKCU_EMU, the CPU emulator of tests/cuda/emu/
 * (threads for CUDA threads, barriers for __syncthreads), which runs this
 * very kernel source on the host for the emulated test (make
 * test-cuda-emu). A kernel name with a comma goes through a pointer. */
#ifdef KKCU_EMU
#define KKCU_LAUNCH(k, grid, block, smem, stream, ...)                          \
    ((void)(stream), kkcu_emu_launch((grid), (block), (smem), [&]() { k(__VA_ARGS__); }))
#define KKCU_DYN_SMEM(name) unsigned char *name = kkcu_emu_dyn_smem()
#else
#define KKCU_LAUNCH(k, grid, block, smem, stream, ...)                          \
    k<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__)
#define KKCU_DYN_SMEM(name) extern __shared__ __align__(16) unsigned char name[]
#endif

/* Element loads and stores of the kernels: F32 or BF16 (uint16_t bits). */
__device__ __forceinline__ float kkcu_ld(const float *x, size_t i) { return x[i]; }
__device__ __forceinline__ float kkcu_ld(const uint16_t *x, size_t i)
{
    return kkcu_bf16_to_f32(x[i]);
}
__device__ __forceinline__ void kkcu_st(float *y, size_t i, float v) { y[i] = v; }
__device__ __forceinline__ void kkcu_st(uint16_t *y, size_t i, float v)
{
    y[i] = kkcu_f32_to_bf16(v);
}

/* Kernel families (kkcu_set_impl's names). */
enum { KKCU_IMPL_FAST = 0, KKCU_IMPL_TILE = 1, KKCU_IMPL_SIMPLE = 2 };

struct kkcu_codec {
    codec *cpu;                   /* the CPU codec of the same spec (owned) */
    kkcu_params p;                /* p.signs = d_signs */
    float *d_signs;               /* (dim) or NULL */
    unsigned long long *d_counts; /* [0] values encoded, [1] values decoded */
    int impl;
};

/* Fill p from an initialized CPU codec (host only; no device needed: the
 * host tests call it). p->signs is left NULL. */
void kkcu_params_fill(const codec *c, kkcu_params *p);

/* Launch the kernels of c->impl for n_units whole units. @return the
 * launch's cudaError_t (cudaGetLastError after it). */
cudaError_t kkcu_launch_encode(const kkcu_codec *c, const void *x, kkcu_dtype xt, size_t n_units,
                               uint8_t *out, cudaStream_t s);
cudaError_t kkcu_launch_decode(const kkcu_codec *c, const uint8_t *in, size_t n_units, void *y,
                               kkcu_dtype yt, cudaStream_t s);

#endif /* KKCU_INTERNAL_CUH */
