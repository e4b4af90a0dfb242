/* cli_cuda: see cli_cuda.h. */
#include "cli_cuda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kk_file.h"

#ifdef KK_CUDA
#include "cuda/kkcu.h"
#include "cuda/kkcu_mem.h"
#endif

int cli_cuda_built(void)
{
#ifdef KK_CUDA
    return 1;
#else
    return 0;
#endif
}

kk_code cli_cuda_refuse(kk_err *err, const char *what)
{
    kk_err_set(err, KK_E_UNSUPPORTED, CLI_CUDA_NONE);
    return kk_err_where(err, what);
}

void cli_cuda_driver_parse(const char *text, char *out, size_t cap)
{
    out[0] = '\0';
    const char *m = text ? strstr(text, "Kernel Module") : NULL;
    if (!m || cap == 0)
        return;
    m += strlen("Kernel Module");
    while (*m == ' ' || *m == '\t')
        m++;
    size_t n = 0;
    while ((m[n] >= '0' && m[n] <= '9') || m[n] == '.')
        n++;
    if (n == 0 || m[0] == '.')
        return;
    snprintf(out, cap, "%.*s", (int)n, m);
}

kk_code cli_cuda_gpu(ev_gpu *out, kk_err *err)
{
    memset(out, 0, sizeof *out);
#ifdef KK_CUDA
    kkcu_device d;
    kk_code code = kkcu_device_get(&d, err);
    if (code != KK_OK)
        return code;
    snprintf(out->name, sizeof out->name, "%s", d.name);
    snprintf(out->cc, sizeof out->cc, "%d.%d", d.cc_major, d.cc_minor);
    out->sms = d.n_sms;
    out->memory_bytes = d.mem_bytes;
    snprintf(out->cuda_driver, sizeof out->cuda_driver, "%d.%d", d.driver_version / 1000,
             d.driver_version % 1000 / 10);
    snprintf(out->runtime, sizeof out->runtime, "%d.%d", d.runtime_version / 1000,
             d.runtime_version % 1000 / 10);
    snprintf(out->nvcc, sizeof out->nvcc, "%s", kkcu_nvcc_version());
    char *text = NULL;
    size_t len = 0;
    if (kk_file_read_all("/proc/driver/nvidia/version", &text, &len, NULL) == KK_OK) {
        cli_cuda_driver_parse(text, out->driver, sizeof out->driver);
        free(text);
    }
    if (!out->driver[0])
        snprintf(out->driver, sizeof out->driver, "CUDA %s", out->cuda_driver);
    return KK_OK;
#else
    return cli_cuda_refuse(err, "GPU");
#endif
}
