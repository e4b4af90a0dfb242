/*
 * A CPU emulator of the CUDA runtime and the device builtins kkcu's
 * kernels use, so that the kernels' own source (the .cu files of
 * engine/cuda, built
 * with g++ -DKKCU_EMU and this folder first on the include path, this file
 * forced in with -include) runs on a machine without a GPU: `make
 * test-cuda-emu` runs tests/cuda/test_cuda_codecs.cu on it. It checks what
 * a host test of the arithmetic cannot: the kernels' indexing, shared
 * memory, barriers, shuffles, tails and packing.
 *
 * What it is: every CUDA thread of a block is a std::thread, which runs
 * the launch's blocks one after the other (a barrier between blocks); __syncthreads is a barrier of the block's threads,
 * __syncwarp one of the warp's 32, __shfl_xor_sync an exchange through a
 * per-warp array between two warp barriers; __shared__ variables are
 * statics (one block at a time uses them); atomics are GCC's __atomic
 * builtins; device memory is host memory (cudaMalloc aligns to 256 like
 * the real one). Floats are the host's IEEE arithmetic, which is what the
 * kernels' -fmad=false / IEEE-division build computes too (the host test
 * checks that arithmetic against the CPU codecs).
 *
 * What it is not: a model of timing, memory ordering beyond barriers,
 * warp-synchronous behaviour without __syncwarp, or nvcc's code generation.
 * Only the GPU run shows those.
 */
#ifndef KKCU_EMU_CUDA_RUNTIME_H
#define KKCU_EMU_CUDA_RUNTIME_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <thread>
#include <vector>

#define __host__
#define __device__
#define __global__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

struct uint2 {
    uint32_t x, y;
};
struct uint4 {
    uint32_t x, y, z, w;
};
struct float4 {
    float x, y, z, w;
};
inline float4 make_float4(float a, float b, float c, float d) { return float4{a, b, c, d}; }
inline uint4 make_uint4(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    return uint4{a, b, c, d};
}

/* ---- runtime ------------------------------------------------------------------- */

typedef int cudaError_t;
enum {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
};
typedef struct CUstream_st *cudaStream_t;
typedef struct CUevent_st *cudaEvent_t;
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
};
struct cudaDeviceProp {
    char name[256];
    int major, minor, multiProcessorCount, l2CacheSize;
    size_t totalGlobalMem;
};

inline cudaError_t cudaGetDeviceCount(int *n)
{
    *n = 1;
    return cudaSuccess;
}
inline cudaError_t cudaGetDevice(int *d)
{
    *d = 0;
    return cudaSuccess;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "kkcu CPU emulator (tests/cuda/emu)");
    p->major = 9;
    p->multiProcessorCount = 1;
    return cudaSuccess;
}
inline cudaError_t cudaDriverGetVersion(int *v)
{
    *v = 0;
    return cudaSuccess;
}
inline cudaError_t cudaRuntimeGetVersion(int *v)
{
    *v = 0;
    return cudaSuccess;
}
inline cudaError_t cudaMalloc(void **p, size_t n)
{
    *p = aligned_alloc(256, (n + 255) / 256 * 256);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaFree(void *p)
{
    free(p);
    return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind)
{
    memmove(d, s, n);
    return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind,
                                   cudaStream_t = 0)
{
    memmove(d, s, n);
    return cudaSuccess;
}
inline cudaError_t cudaMemset(void *d, int v, size_t n)
{
    memset(d, v, n);
    return cudaSuccess;
}
inline cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
inline cudaError_t &kkcu_emu_last_error()
{
    static cudaError_t e = cudaSuccess;
    return e;
}
inline cudaError_t cudaGetLastError(void)
{
    const cudaError_t e = kkcu_emu_last_error();
    kkcu_emu_last_error() = cudaSuccess;
    return e;
}
inline const char *cudaGetErrorString(cudaError_t e) { return e ? "emulated error" : "no error"; }
inline const char *cudaGetErrorName(cudaError_t e) { return e ? "cudaErrorEmu" : "cudaSuccess"; }

/* Events: host clock readings (the emulator runs launches synchronously). */
#include <chrono>
struct CUevent_st {
    double t;
};
inline cudaError_t cudaEventCreate(cudaEvent_t *e)
{
    *e = new CUevent_st{0.0};
    return cudaSuccess;
}
inline cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    delete e;
    return cudaSuccess;
}
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t = 0)
{
    e->t = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    return cudaSuccess;
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
inline cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    *ms = (float)((b->t - a->t) * 1e3);
    return cudaSuccess;
}

/* ---- device builtins ------------------------------------------------------------ */

struct kkcu_emu_block {
    pthread_barrier_t all;
    std::vector<pthread_barrier_t> warps;
    std::vector<uint32_t> xch; /* one word per thread, for shuffles */
};
inline kkcu_emu_block *&kkcu_emu_cur()
{
    static kkcu_emu_block *b = nullptr;
    return b;
}

inline void __syncthreads(void) { pthread_barrier_wait(&kkcu_emu_cur()->all); }
inline void __syncwarp(unsigned = 0xffffffffu)
{
    pthread_barrier_wait(&kkcu_emu_cur()->warps[threadIdx.x / 32]);
}
inline float __shfl_xor_sync(unsigned, float v, int o)
{
    kkcu_emu_block *b = kkcu_emu_cur();
    const unsigned t = threadIdx.x, partner = (t & ~31u) | ((t & 31u) ^ (unsigned)o);
    uint32_t u;
    memcpy(&u, &v, 4);
    b->xch[t] = u;
    __syncwarp();
    u = b->xch[partner];
    __syncwarp();
    memcpy(&v, &u, 4);
    return v;
}
inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
inline uint32_t atomicOr(uint32_t *p, uint32_t v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }

/* Dynamic shared memory: one buffer, 16-byte aligned, 228 KB (an H100
 * SM's most). */
inline unsigned char *kkcu_emu_dyn_smem()
{
    alignas(16) static unsigned char buf[228 * 1024];
    return buf;
}

/* Run f as grid blocks of `block` threads, block after block. */
template <typename F>
void kkcu_emu_launch(unsigned grid, unsigned block, size_t smem, F f)
{
    if (block == 0 || block > 1024 || block % 32 != 0 || smem > 228 * 1024 || grid == 0) {
        kkcu_emu_last_error() = cudaErrorInvalidValue;
        return;
    }
    kkcu_emu_block b;
    pthread_barrier_init(&b.all, nullptr, block);
    b.warps.resize(block / 32);
    for (auto &w : b.warps)
        pthread_barrier_init(&w, nullptr, 32);
    b.xch.assign(block, 0);
    kkcu_emu_cur() = &b;
    blockDim.x = block;
    gridDim.x = grid;
    /* one thread per CUDA thread for the whole launch; a barrier between
     * blocks (a block's shared memory is reused by the next) */
    std::vector<std::thread> th;
    th.reserve(block);
    for (unsigned t = 0; t < block; t++)
        th.emplace_back([&, t]() {
            threadIdx.x = t;
            for (unsigned g = 0; g < grid; g++) {
                blockIdx.x = g;
                f();
                pthread_barrier_wait(&b.all);
            }
        });
    for (auto &x : th)
        x.join();
    pthread_barrier_destroy(&b.all);
    for (auto &w : b.warps)
        pthread_barrier_destroy(&w);
    kkcu_emu_cur() = nullptr;
}

#endif /* KKCU_EMU_CUDA_RUNTIME_H */
