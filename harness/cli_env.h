/*
 * cli_env: the environment variables bin/kakeya reads on behalf of the
 * layers below it. The engine and the bench library read no environment;
 * what a user sets here reaches them as parameters:
 *
 *   KAKEYA_MATMUL_ISA  scalar | avx2 | avx512: caps the SIMD level of the
 *                      matrix kernels for the whole process (matmul_set_isa);
 *                      unset or empty: the best level the CPU has
 *   KAKEYA_CACHE       the cache folder (llama.cpp build, bench models, the
 *                      kernel tune cache); unset or empty: $HOME/.cache/kakeya
 *   KAKEYA_KERNELS     kernel variants (harness/cli_kernels.h reads it)
 *   KAKEYA_FAULT       fault injection (common/kk_fault.h); the commands
 *                      that make kv_codec caches turn codec-passthrough
 *                      into kv_codec_opts.passthrough themselves
 *
 * Ownership: nothing is allocated; paths go into the caller's buffers.
 */
#ifndef KK_CLI_ENV_H
#define KK_CLI_ENV_H

#include <stddef.h>

#include "kk_err.h"

#define CLI_ENV_MATMUL_ISA "KAKEYA_MATMUL_ISA"
#define CLI_ENV_CACHE "KAKEYA_CACHE"

/* Apply KAKEYA_MATMUL_ISA (matmul_set_isa) when set and not empty.
 * @return KK_OK, or KK_E_RANGE naming the variable (where), the value found
 * and the allowed values; the cap is then left as it was. */
kk_code cli_env_apply_matmul_isa(kk_err *err);

/* ${KAKEYA_CACHE:-$HOME/.cache/kakeya} into buf (not created). KK_E_MISSING
 * when neither is set; KK_E_RANGE when the path does not fit. */
kk_code cli_env_cache_dir(char *buf, size_t cap, kk_err *err);

#endif /* KK_CLI_ENV_H */
