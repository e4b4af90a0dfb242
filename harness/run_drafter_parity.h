/*
 * run_drafter_parity: the runner of kind drafter_parity (docs/speculative.md,
 * "Drafter parity"): a drafter model against its own F32 self.
 *
 * The drafter is the `model` parameter's file (F32 weights; default the
 * stories260K fixture). An arm is one variant and one check:
 *   variant   f32 | f16 | bf16 | q8_0 (the weights converted in memory by
 *             gguf_convert, ggml's bytes) | kv_f16 (F32 weights, an F16
 *             cache) | perturbed (F32 weights plus seeded noise of
 *             `perturb` x each row's RMS: the negative control)
 *   check     teacher: spec_parity_teacher on each prompt (the reference's
 *             greedy ids fed to both), plus each model's free-running
 *             greedy output for the first divergence;
 *             incremental: spec_parity_incremental (cached drafting with
 *             rollbacks against drafting from scratch)
 * A task is one (arm, prompt): tasks run on --jobs workers and metrics do
 * not depend on it (each task its own states and caches; the models are
 * loaded once by prepare and only read).
 *
 * Near-ties: a mismatch whose reference margin (top-1 minus top-2 logit)
 * is below the variant's measured bound, 2 x the 99th percentile over all
 * its positions of the largest |logit difference| (a flip needs the two
 * logits to move apart by the margin; each moves by at most that
 * difference); every other mismatch is hard.
 *
 * Ownership: the kind's state (models, converted buffers, prompts) is
 * allocated by prepare and freed by finish.
 */
#ifndef KK_RUN_DRAFTER_PARITY_H
#define KK_RUN_DRAFTER_PARITY_H

#include "kind.h"
#include "run.h"

/* Tokens compared per prompt, at most. */
#define RUN_DP_MAX_N 256

extern const run_ops run_drafter_parity_ops;

#endif /* KK_RUN_DRAFTER_PARITY_H */
