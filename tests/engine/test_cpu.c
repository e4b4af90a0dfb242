/* Tests of engine/cpu: the CPUID reading agrees with the kernel's view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/* 1 when /proc/cpuinfo's first "flags" line lists the flag, 0 when not, -1
 * when there is no /proc/cpuinfo. Linux hides a flag the OS does not
 * enable (XCR0), so it is an independent oracle for CPUID + XGETBV. */
static int proc_flag(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return -1;
    static char line[1 << 16];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        char *tok = strtok(strchr(line, ':') + 1, " \t\n");
        for (; tok; tok = strtok(NULL, " \t\n"))
            if (!strcmp(tok, flag))
                found = 1;
        break;
    }
    fclose(f);
    return found;
}

static void features_should_match_proc_cpuinfo(void **state)
{
    (void)state;
#if defined(__x86_64__)
    if (proc_flag("fpu") < 0)
        skip();
    const cpu_features *c = cpu_get_features();
    assert_int_equal(c->avx2, proc_flag("avx2") == 1);
    assert_int_equal(c->fma, c->avx2 ? proc_flag("fma") == 1 : c->fma);
    assert_int_equal(c->f16c, c->avx2 ? proc_flag("f16c") == 1 : c->f16c);
    assert_int_equal(c->avx512f, proc_flag("avx512f") == 1);
    assert_int_equal(c->avx512bw, proc_flag("avx512bw") == 1);
    assert_int_equal(c->avx512vl, proc_flag("avx512vl") == 1);
    assert_int_equal(c->avx512dq, proc_flag("avx512dq") == 1);
    assert_int_equal(c->avx512vnni, proc_flag("avx512_vnni") == 1);
    /* Cached: the same object every call. */
    assert_ptr_equal(c, cpu_get_features());
#else
    skip();
#endif
}

/* Each thread waits at the barrier, then probes: the first calls overlap,
 * so the one-time detection runs while others ask. */
#define N_PROBE_THREADS 8
static pthread_barrier_t g_barrier;

static void *probe(void *arg)
{
    pthread_barrier_wait(&g_barrier);
    const cpu_features **out = arg;
    *out = cpu_get_features();
    return NULL;
}

static void features_should_be_the_same_from_concurrent_first_calls(void **state)
{
    (void)state;
    pthread_t th[N_PROBE_THREADS];
    const cpu_features *seen[N_PROBE_THREADS] = {0};
    assert_int_equal(pthread_barrier_init(&g_barrier, NULL, N_PROBE_THREADS), 0);
    for (int i = 0; i < N_PROBE_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, probe, &seen[i]), 0);
    for (int i = 0; i < N_PROBE_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&g_barrier);
    for (int i = 0; i < N_PROBE_THREADS; i++) {
        assert_non_null(seen[i]);
        assert_ptr_equal(seen[i], seen[0]);
        assert_memory_equal(seen[i], seen[0], sizeof *seen[0]);
    }
    /* And the main thread, asking afterwards, sees the same answer. */
    assert_ptr_equal(cpu_get_features(), seen[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First: the concurrent calls must be the process's first probes. */
        cmocka_unit_test(features_should_be_the_same_from_concurrent_first_calls),
        cmocka_unit_test(features_should_match_proc_cpuinfo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
