/*
 * cli_kernels: the kernel variants bin/kakeya runs with (engine/kernels.h),
 * from, in order, each later one replacing the earlier:
 *   1. the defaults (kern_defaults);
 *   2. the host's tune cache, written by `kakeya tune`:
 *      ${KAKEYA_CACHE:-$HOME/.cache/kakeya}/kernels/<key>.txt, key = the
 *      first 16 hex of sha256("<cpu model name>|<cpu flags>") from
 *      /proc/cpuinfo, so another CPU model or flag set never reads it;
 *      first line the canonical spec, then the CPU lines it was made for;
 *   3. KAKEYA_KERNELS (a spec);
 *   4. `--kernels SPEC` anywhere after the command (removed from argv
 *      before the command parses it).
 * The choice and where it came from go into evidence provenance
 * (`kernels`, `kernels_source`). Rounding-changing knobs therefore keep
 * their defaults until `kakeya tune` has run on a host (or a user forces
 * them), so a fresh clone and CI compute the same metrics.
 *
 * Ownership: static state, set once by main before the command runs.
 */
#ifndef KK_CLI_KERNELS_H
#define KK_CLI_KERNELS_H

#include <stddef.h>

#include "kk_err.h"

#define CLI_ENV_KERNELS "KAKEYA_KERNELS"

/* Apply 2-4 above; removes `--kernels SPEC` from argv (*argc updated).
 * @return KK_OK; KK_E_RANGE / KK_E_FORMAT for a bad spec (where: the
 * flag, the variable or the cache file); KK_E_USAGE for --kernels without
 * a value. An unreadable cache file is ignored (defaults). */
kk_code cli_kernels_apply(int *argc, char **argv, kk_err *err);
/* "default", "tune-cache", "env" or "flag": where the choice came from. */
const char *cli_kernels_source(void);
/* The host's cache file path into buf, and the CPU description it is keyed
 * on into desc (may be NULL). */
kk_code cli_kernels_cache_path(char *buf, size_t cap, char *desc, size_t dcap, kk_err *err);

#endif /* KK_CLI_KERNELS_H */
