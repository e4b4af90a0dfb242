/*
 * cpu: which x86 vector extensions this CPU and OS support, for run-time
 * dispatch of the SIMD kernels (matmul, dtype, codecs).
 *
 * Read by hand from CPUID and XGETBV rather than __builtin_cpu_supports:
 * clang 14 (the fuzz build) rejects some names ("f16c"), and a CPU flag alone
 * is not enough: the OS must also save the YMM/ZMM state (XCR0), or the
 * first AVX instruction faults.
 *
 * The one CPU probe of the engine: matmul, dtype and the codecs all ask
 * here. CPUID is read once per process (pthread_once), so any thread may
 * call cpu_get_features at any time. The returned struct is owned by this
 * module, lives for the process and never changes; nothing to free.
 */
#ifndef KK_CPU_H
#define KK_CPU_H

#include <stdbool.h>

typedef struct cpu_features {
    bool avx2, fma, f16c;                  /* with OS support for YMM */
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512vnni; /* with ZMM */
} cpu_features;

/* The features of this machine (all false off x86-64). */
const cpu_features *cpu_get_features(void);

#endif /* KK_CPU_H */
