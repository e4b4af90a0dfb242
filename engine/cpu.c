/* cpu: see cpu.h. Bit numbers from the Intel SDM, vol. 2A, CPUID. */
#include "cpu.h"

#include <pthread.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <stdint.h>

static cpu_features detect(void)
{
    cpu_features f = {0};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return f;
    const bool osxsave = (c >> 27) & 1u, avx = (c >> 28) & 1u;
    const bool fma = (c >> 12) & 1u, f16c = (c >> 29) & 1u;
    if (!osxsave || !avx)
        return f;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    const bool ymm = (lo & 0x6u) == 0x6u;   /* XCR0: SSE and AVX state */
    const bool zmm = (lo & 0xE6u) == 0xE6u; /* plus opmask, ZMM_Hi256, Hi16_ZMM */
    if (!ymm || !__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return f;
    f.avx2 = (b >> 5) & 1u;
    f.fma = fma;
    f.f16c = f16c;
    if (zmm) {
        f.avx512f = (b >> 16) & 1u;
        f.avx512dq = (b >> 17) & 1u;
        f.avx512bw = (b >> 30) & 1u;
        f.avx512vl = (b >> 31) & 1u;
        f.avx512vnni = (c >> 11) & 1u;
    }
    return f;
}
#else
static cpu_features detect(void)
{
    cpu_features f = {0};
    return f;
}
#endif

/* Written once under g_once; pthread_once orders that write before every
 * caller's read, so readers need no lock. */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static cpu_features g_features;

static void detect_once(void) { g_features = detect(); }

const cpu_features *cpu_get_features(void)
{
    pthread_once(&g_once, detect_once);
    return &g_features;
}
