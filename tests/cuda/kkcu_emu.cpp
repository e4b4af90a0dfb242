/* kkcu_emu: the CPU emulation of kkcu_emu.h (fibers, barriers, shuffles,
 * and a host-memory runtime API). */
#include "kkcu_emu.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>

#include <vector>

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace {

/* A fiber's stack: the kernels keep their register arrays there. */
constexpr size_t STACK_BYTES = 256 * 1024;

/* ---- context switch ---------------------------------------------------------------
 * x86-64: save the callee-saved registers on the current stack, swap stack
 * pointers, restore (what ucontext's swapcontext does, minus its two
 * sigprocmask system calls a switch, which made the emulator 3x slower).
 * Elsewhere: ucontext. */
#if defined(__x86_64__)
extern "C" void kkcu_emu_switch(void **save_sp, void *load_sp);
__asm__(".text\n"
        ".globl kkcu_emu_switch\n"
        ".type kkcu_emu_switch,@function\n"
        "kkcu_emu_switch:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".size kkcu_emu_switch, .-kkcu_emu_switch\n");
struct context {
    void *sp;
};
void ctx_switch(context *from, context *to) { kkcu_emu_switch(&from->sp, to->sp); }
/* A new stack whose first switch "returns" into entry with the ABI's
 * alignment (rsp = 8 mod 16 at a function's first instruction). */
void ctx_make(context *c, char *stack, size_t size, void (*entry)(void))
{
    uintptr_t top = ((uintptr_t)(stack + size)) & ~(uintptr_t)15;
    void **sp = (void **)top;
    *--sp = NULL;              /* entry's return address: it never returns */
    *--sp = (void *)entry;     /* popped by ret */
    for (int i = 0; i < 6; i++)
        *--sp = NULL;          /* rbp, rbx, r12..r15 */
    c->sp = sp;
}
#else
struct context {
    ucontext_t uc;
};
void ctx_switch(context *from, context *to) { swapcontext(&from->uc, &to->uc); }
void ctx_make(context *c, char *stack, size_t size, void (*entry)(void))
{
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = stack;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = NULL;
    makecontext(&c->uc, entry, 0);
}
#endif

struct fiber {
    context ctx;
    uint3 tid;
    bool done;
};

struct warp_state {
    unsigned long gen;
    int count, alive;
    uint64_t slot[2][32];
};

struct block_state {
    context main;
    std::vector<fiber> f;
    std::vector<char> stacks;
    std::vector<warp_state> w;
    const std::function<void()> *body;
    int cur, alive;
    unsigned long bar_gen;
    int bar_count;
    unsigned long progress; /* arrivals and exits: a round without any is a deadlock */
};

block_state S;

void yield_to_scheduler() { ctx_switch(&S.f[(size_t)S.cur].ctx, &S.main); }

/* A thread left: barriers it no longer joins may now be complete. */
void thread_exited()
{
    warp_state &W = S.w[(size_t)S.cur / 32];
    S.alive--;
    W.alive--;
    S.progress++;
    if (S.bar_count > 0 && S.bar_count == S.alive) {
        S.bar_gen++;
        S.bar_count = 0;
    }
    if (W.count > 0 && W.count == W.alive) {
        W.gen++;
        W.count = 0;
    }
}

void trampoline()
{
    (*S.body)();
    S.f[(size_t)S.cur].done = true;
    thread_exited();
    ctx_switch(&S.f[(size_t)S.cur].ctx, &S.main);
}

cudaError_t last_error = cudaSuccess;

} /* namespace */

void __syncthreads(void)
{
    const unsigned long g = S.bar_gen;
    S.progress++;
    if (++S.bar_count == S.alive) {
        S.bar_gen++;
        S.bar_count = 0;
        return;
    }
    while (S.bar_gen == g)
        yield_to_scheduler();
}

int kkcu_emu_lane(void) { return S.cur % 32; }

uint64_t kkcu_emu_exchange(uint64_t v, int src)
{
    warp_state &W = S.w[(size_t)S.cur / 32];
    const unsigned long g = W.gen;
    W.slot[g & 1][S.cur % 32] = v;
    S.progress++;
    if (++W.count == W.alive) {
        W.gen++;
        W.count = 0;
    } else {
        while (W.gen == g)
            yield_to_scheduler();
    }
    return W.slot[g & 1][src];
}

void __syncwarp(unsigned) { (void)kkcu_emu_exchange(0, 0); }

void kkcu_emu_launch(dim3 grid, dim3 block, const std::function<void()> &body)
{
    const size_t nt = (size_t)block.x * block.y * block.z;
    gridDim = grid;
    blockDim = block;
    S.body = &body;
    S.f.assign(nt, fiber());
    S.stacks.resize(nt * STACK_BYTES);
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                blockIdx = uint3{bx, by, bz};
                S.alive = (int)nt;
                S.bar_gen = 0;
                S.bar_count = 0;
                S.w.assign((nt + 31) / 32, warp_state());
                for (size_t w = 0; w < S.w.size(); w++)
                    S.w[w].alive = (int)(nt - 32 * w < 32 ? nt - 32 * w : 32);
                for (size_t i = 0; i < nt; i++) {
                    fiber &f = S.f[i];
                    f.done = false;
                    f.tid = uint3{(unsigned)(i % block.x), (unsigned)(i / block.x % block.y),
                                  (unsigned)(i / ((size_t)block.x * block.y))};
                    ctx_make(&f.ctx, &S.stacks[i * STACK_BYTES], STACK_BYTES, trampoline);
                }
                while (S.alive > 0) {
                    const unsigned long before = S.progress;
                    for (size_t i = 0; i < nt; i++) {
                        if (S.f[i].done)
                            continue;
                        S.cur = (int)i;
                        threadIdx = S.f[i].tid;
                        ctx_switch(&S.main, &S.f[i].ctx);
                    }
                    if (S.alive > 0 && S.progress == before) {
                        fprintf(stderr, "kkcu_emu: deadlock in block (%u, %u, %u): %d threads "
                                "wait and none can go on (a barrier or shuffle that not every "
                                "thread reaches)\n", bx, by, bz, S.alive);
                        abort();
                    }
                }
            }
}

unsigned char *kkcu_emu_dyn_smem(void)
{
    alignas(16) static unsigned char buf[228 * 1024];
    return buf;
}

void kkcu_emu_launch4(dim3 grid, dim3 block, size_t smem, void *stream,
                      const std::function<void()> &body)
{
    (void)stream;
    const size_t nt = (size_t)block.x * block.y * block.z;
    if (smem > 228 * 1024 || nt == 0 || nt > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0) {
        last_error = cudaErrorInvalidValue;
        return;
    }
    kkcu_emu_launch(grid, block, body);
}

/* ---- runtime API ------------------------------------------------------------------ */

struct kkcu_emu_event {
    double t;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *cudaGetErrorString(cudaError_t e)
{
    return e == cudaSuccess ? "no error" : e == cudaErrorMemoryAllocation ? "out of memory"
                                                                          : "invalid value";
}
const char *cudaGetErrorName(cudaError_t e) { return e ? "cudaErrorEmu" : "cudaSuccess"; }
cudaError_t cudaGetDevice(int *dev)
{
    *dev = 0;
    return cudaSuccess;
}
cudaError_t cudaGetLastError(void)
{
    const cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}
cudaError_t cudaGetDeviceCount(int *n)
{
    *n = 1;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "kkcu_emu (CPU emulation)");
    const char *s = getenv("KKCU_EMU_SMS");
    p->multiProcessorCount = s && atoi(s) > 0 ? atoi(s) : 16;
    p->l2CacheSize = 1 << 20;
    p->major = 9;
    p->totalGlobalMem = (size_t)1 << 32;
    return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int *v)
{
    *v = 0;
    return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int *v)
{
    *v = 0;
    return cudaSuccess;
}
cudaError_t cudaMalloc(void **p, size_t n)
{
    *p = aligned_alloc(256, (n + 255) & ~(size_t)255);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void *p)
{
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind)
{
    memmove(dst, src, n);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind k, cudaStream_t)
{
    return cudaMemcpy(dst, src, n, k);
}
cudaError_t cudaMemset(void *p, int v, size_t n)
{
    memset(p, v, n);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t)
{
    memset(p, v, n);
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventCreate(cudaEvent_t *e)
{
    *e = new kkcu_emu_event{0.0};
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    delete e;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t)
{
    e->t = now_s();
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    *ms = (float)((b->t - a->t) * 1e3);
    return cudaSuccess;
}
