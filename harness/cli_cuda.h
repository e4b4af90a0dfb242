/*
 * cli_cuda: the harness's side of CUDA. bin/kakeya built by `make` has no
 * CUDA: its GPU commands (`codec eval --device cuda`, `codec attn`, the
 * codec_gpu kind) refuse with CLI_CUDA_NONE, exit 2, before they write
 * anything. Built by `make cuda` (KK_CUDA defined, linked with
 * build/cuda/libkk_cuda.a and the CUDA runtime) they run on device 0, and
 * cli_cuda_gpu says which GPU, driver and compiler ran them
 * (provenance.gpu; docs/gpu.md).
 *
 * Ownership: nothing is allocated; text goes into the caller's buffers.
 */
#ifndef KK_CLI_CUDA_H
#define KK_CLI_CUDA_H

#include <stddef.h>

#include "evidence.h"
#include "kk_err.h"

#define CLI_CUDA_NONE                                                                   \
    "this build has no CUDA: build bin/kakeya with `make cuda` on a machine with nvcc " \
    "and run it where a GPU is (docs/gpu.md)"

/* 1 in a `make cuda` build, else 0. */
int cli_cuda_built(void);

/* KK_E_UNSUPPORTED with CLI_CUDA_NONE, where = what (the flag or command). */
kk_code cli_cuda_refuse(kk_err *err, const char *what);

/* Device 0's name, compute capability, multiprocessors and memory, the
 * driver (cli_cuda_driver_parse of /proc/driver/nvidia/version, else the
 * CUDA version the driver supports), the runtime, and the nvcc that
 * compiled the kernels. @return KK_OK; KK_E_UNSUPPORTED when this build
 * has no CUDA (cli_cuda_refuse) or no GPU is found. */
kk_code cli_cuda_gpu(ev_gpu *out, kk_err *err);

/* The kernel module's version in the text of /proc/driver/nvidia/version
 * ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  ...":
 * "580.159.04") into out; "" when the text has none. */
void cli_cuda_driver_parse(const char *text, char *out, size_t cap);

#endif /* KK_CLI_CUDA_H */
