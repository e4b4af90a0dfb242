/*
 * kkcu_emu: enough of CUDA to run this repository's kernels on the CPU,
 * for machines without a GPU (`make test-attn-emu`). Not a simulator of
 * timing or of the memory model: every thread of a block is a fiber
 * (ucontext), blocks run one after another, and the scheduler switches
 * fibers only where a thread must wait for others:
 *   __syncthreads        all live threads of the block arrive, then go on;
 *   __shfl_*_sync        all live lanes of the warp arrive with a value,
 *                        then each reads its source lane's;
 *   cp.async (__pipeline_*)  copies at once (a wait is a no-op).
 * A deadlock (every live thread waiting and none can go on: a barrier in
 * divergent code, a shuffle some lanes skip) aborts with the block named.
 * Shared memory: `__shared__` becomes `static`, one copy for the block
 * that runs (blocks never overlap). Device memory: cudaMalloc is
 * aligned_alloc, cudaMemcpy memcpy. What it proves: the kernels' index
 * arithmetic, barriers, shuffles and numerics (the same float operations,
 * except that nvcc contracts a * b + c into FMA unless told not to, and
 * exp2f/expf are the C library's) on any input. What it does not: timing,
 * races that a real GPU's scheduling would show, bank conflicts.
 *
 * Use: compile a .cu file as C++ with -DKKCU_EMU -include kkcu_emu.h
 * (its CUDA includes are skipped under KKCU_EMU) and launch through
 * kkcu_emu_launch (kkcu_attn_internal.cuh's KKCU_LAUNCH does). KKCU_EMU_SMS sets the
 * multiprocessor count cudaGetDeviceProperties reports (default 16).
 */
#ifndef KKCU_EMU_H
#define KKCU_EMU_H

/* This emulator (the codecs' own, tests/cuda/emu, is another). */
#define KKCU_EMU_FIBERS 1

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <functional>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint2 {
    uint32_t x, y;
};
struct uint4 {
    uint32_t x, y, z, w;
};
struct float2 {
    float x, y;
};
struct alignas(16) float4 {
    float x, y, z, w;
};
static inline float2 make_float2(float x, float y) { return float2{x, y}; }
static inline uint4 make_uint4(uint32_t x, uint32_t y, uint32_t z, uint32_t w)
{
    return uint4{x, y, z, w};
}
static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }

extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

/* ---- synchronization (kkcu_emu.cpp) ------------------------------------------ */
void __syncthreads(void);
void __syncwarp(unsigned mask = 0xffffffffu);
/* Every live lane of the calling warp gives v; returns lane src's. */
uint64_t kkcu_emu_exchange(uint64_t v, int src);
int kkcu_emu_lane(void);

template <class T>
static inline T kkcu_emu_shfl(T v, int src)
{
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    uint64_t u = 0;
    memcpy(&u, &v, sizeof v);
    u = kkcu_emu_exchange(u, src & 31);
    T r;
    memcpy(&r, &u, sizeof r);
    return r;
}
template <class T>
static inline T __shfl_xor_sync(unsigned, T v, int m)
{
    return kkcu_emu_shfl(v, kkcu_emu_lane() ^ m);
}
template <class T>
static inline T __shfl_sync(unsigned, T v, int src)
{
    return kkcu_emu_shfl(v, src);
}
template <class T>
static inline T __shfl_down_sync(unsigned, T v, int d)
{
    const int l = kkcu_emu_lane() + d;
    return kkcu_emu_shfl(v, l < 32 ? l : kkcu_emu_lane());
}

/* ---- cp.async -------------------------------------------------------------------- */
static inline void __pipeline_memcpy_async(void *dst, const void *src, size_t n, size_t = 0)
{
    memcpy(dst, src, n);
}
static inline void __pipeline_commit(void) {}
static inline void __pipeline_wait_prior(size_t) {}

/* ---- intrinsics ------------------------------------------------------------------- */
static inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s)
{
    const uint64_t b = (uint64_t)x | (uint64_t)y << 32;
    unsigned r = 0;
    for (int i = 0; i < 4; i++)
        r |= (unsigned)((b >> (8 * ((s >> (4 * i)) & 7))) & 0xff) << (8 * i);
    return r;
}
static inline float __uint_as_float(unsigned u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline unsigned __float_as_uint(float f)
{
    unsigned u;
    memcpy(&u, &f, 4);
    return u;
}
/* One OS thread runs every fiber: memory is always coherent. */
static inline void __threadfence(void) {}
template <class T>
static inline T __ldcg(const T *p)
{
    return *p;
}

/* Fibers of one OS thread: no other writer between the read and the write. */
template <class T>
static inline T atomicAdd(T *p, T v)
{
    const T old = *p;
    *p = old + v;
    return old;
}
template <class T>
static inline T atomicOr(T *p, T v)
{
    const T old = *p;
    *p = old | v;
    return old;
}

/* ---- launch ----------------------------------------------------------------------- */
/* Runs body as every thread of every block of grid x block, to the end. */
void kkcu_emu_launch(dim3 grid, dim3 block, const std::function<void()> &body);
/* The same with a launch's dynamic shared memory (kkcu_emu_dyn_smem, up to
 * 228 KB: an H100 multiprocessor's) and stream (ignored: one queue). */
void kkcu_emu_launch4(dim3 grid, dim3 block, size_t smem, void *stream,
                      const std::function<void()> &body);
/* The dynamic shared memory of the running launch (`extern __shared__`). */
unsigned char *kkcu_emu_dyn_smem(void);

/* ---- runtime API ------------------------------------------------------------------ */
typedef int cudaError_t;
enum {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100
};
typedef void *cudaStream_t;
typedef struct kkcu_emu_event *cudaEvent_t;
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};
struct cudaDeviceProp {
    char name[256];
    int multiProcessorCount;
    int l2CacheSize;
    int major, minor;
    size_t totalGlobalMem;
};
const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);
cudaError_t cudaGetDevice(int *dev);
cudaError_t cudaGetLastError(void);
cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int dev);
cudaError_t cudaDriverGetVersion(int *v);
cudaError_t cudaRuntimeGetVersion(int *v);
cudaError_t cudaMalloc(void **p, size_t n);
cudaError_t cudaFree(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind k);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind k,
                            cudaStream_t s = 0);
cudaError_t cudaMemset(void *p, int v, size_t n);
cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t s = 0);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaEventCreate(cudaEvent_t *e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = 0);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b);

#endif /* KKCU_EMU_H */
