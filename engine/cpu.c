/* cpu: see cpu.h. Bit numbers from the Intel SDM, vol. 2A, CPUID. */
#include "cpu.h"

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

const cpu_features *cpu_get_features(void)
{
    static cpu_features cached;
    static int done; /* benign race: every thread writes the same bits */
    if (!done) {
        cached = detect();
        done = 1;
    }
    return &cached;
}
