/*
 * spec_parity: how far a drafter's reduced-precision (or perturbed) copy
 * agrees with its F32 self, and whether cached incremental drafting
 * equals drafting from scratch (the drafter_parity kind,
 * docs/speculative.md "Drafter parity").
 *
 * Teacher forcing (spec_parity_teacher): the reference's greedy ids are
 * fed to both models; at every generated position the two argmaxes are
 * compared, with the reference's top-1/top-2 margin and the largest
 * |logit difference| recorded, so a caller can split mismatches into
 * near-ties (margin below what the precision perturbs) and hard ones.
 * Both models run the prompt as a prefill and the generated ids as ONE
 * batch-invariant call: the logits are bit for bit those of decode steps,
 * so the reference's argmax at position i is its greedy id i exactly.
 *
 * Incremental drafting (spec_parity_incremental): a spec_model drafter
 * follows a history that grows by a seeded random number of its drafts
 * plus one foreign token per round (the verifier's correction), rolling
 * back what was rejected; each round's drafts are compared with those of
 * a fresh drafter fed the same history from scratch.
 *
 * Ownership: models, states and caches are the caller's; out arrays too.
 */
#ifndef KK_SPEC_PARITY_H
#define KK_SPEC_PARITY_H

#include <stdbool.h>
#include <stdint.h>

#include "forward.h"
#include "kv.h"
#include "model.h"

typedef struct spec_parity_pos {
    int32_t ref, var;   /* the two argmaxes (ref: the teacher's id) */
    float margin;       /* reference top-1 minus top-2 logit */
    float err;          /* max over the vocabulary of |var - ref| logit */
} spec_parity_pos;

/* Positions 0..n-1 after prompt[0..n_prompt), teacher ids ids[0..n) (the
 * reference's greedy output), into out[0..n). The caches must be empty
 * with room for n_prompt + n; both states are left in the default mode.
 * @return KK_OK, the forward passes' errors, KK_E_NOMEM. */
kk_code spec_parity_teacher(fwd_state *rs, kv_cache *rkv, const model *rm, fwd_state *vs,
                            kv_cache *vkv, const model *vm, const int32_t *prompt,
                            size_t n_prompt, const int32_t *ids, int64_t n, spec_parity_pos *out,
                            kk_err *err);

/* rounds rounds of drafts of up to max_draft tokens from model m after
 * prompt (F32 cache when !kv_f16); *compared drafted ids, *mismatches of
 * them differing from drafting from scratch. The history stays within
 * n_ctx tokens (the rounds stop early otherwise). */
kk_code spec_parity_incremental(const model *m, bool kv_f16, const int32_t *prompt,
                                size_t n_prompt, int rounds, int max_draft, uint64_t seed,
                                int64_t n_ctx, int64_t *compared, int64_t *mismatches,
                                kk_err *err);

#endif /* KK_SPEC_PARITY_H */
