/*
 * run_spec_decode: the runner of kind spec_decode (docs/speculative.md,
 * "The spec-decode preset"): speculative decoding against plain greedy
 * decoding on named workloads, output compared token for token, speed
 * measured in fresh processes.
 *
 * An arm is (workload, weights, drafter, block, n, stop, verify, kv,
 * threads); `drafter: none` is the autoregressive (AR) arm, run by the
 * plain decode loop `kakeya generate` runs (spec_greedy_ar). Workloads fix
 * the model and the prompt (a different warm-up prompt each):
 *   copy                the synthetic copy model (bench:copy, a few MB):
 *                       BOS, 64 distinct tokens, then the first 8 again;
 *                       the model continues the cycle
 *   copy134m            the same prompt on the copy model with FFN ballast
 *                       (bench:copy134m, as large as the 134M bench model)
 *   stories-natural     stories260K (the fixture) on a story opening
 *   stories-repetitive  stories260K on a prompt that repeats itself
 * Weights f32 or q8_0 (the Q8_0 file converted from the F32 one; the
 * fixture's own -q8_0 file for stories).
 *
 * A task is one fresh process (a fork()ed child) for one repeat of one
 * arm: load, warm up (the arm's loop on the warm-up prompt, 32 tokens),
 * then the timed generation; repeat 0 also decodes the prompt plainly
 * (untimed) and counts the positions where the arm's ids differ
 * (mismatches_vs_ar). The child writes one line on a pipe. Tasks run one
 * at a time (--jobs is set to 1: timed processes on 2 cores would measure
 * each other), the arms of one (workload, weights, n, stop, kv, threads)
 * cell interleaved, the first rotating with the repeat, as engine_bench.
 *
 * Ownership: the kind's state (rc->kstate) is allocated by prepare and
 * freed by finish.
 */
#ifndef KK_RUN_SPEC_DECODE_H
#define KK_RUN_SPEC_DECODE_H

#include "kind.h"
#include "run.h"

/* Tokens one arm may generate (the child replies them all on repeat 0). */
#define RUN_SD_MAX_N 1024

extern const run_ops run_spec_decode_ops;

/* Kind check: every arm's drafter parses, and every (workload, weights,
 * n, stop, kv, threads) cell with a drafter arm has an AR arm to compare
 * speeds with. */
kk_code run_spec_decode_check(const preset *p, kk_err *err);

/* The drafter field's syntax (kind_field_spec.check). */
int run_spec_decode_drafter_ok(const char *val, char *why, size_t cap);

#endif /* KK_RUN_SPEC_DECODE_H */
