/*
 * spec_model: a drafter that is a model with its own cache (spec.h's
 * drafter interface), for `--drafter model:FILE` (a smaller GGUF model
 * with the verifier's vocabulary) and `--drafter skip:K` (the verifier's
 * first K layers and its output head: spec_model_skip_view).
 *
 * The drafter's cache follows the verifier's: before proposing after
 * hist[0..n), it keeps the longest prefix of what it has processed that
 * equals hist[0..n) (kv_truncate past its own rejected drafts), feeds the
 * rest of hist in one call, then drafts greedily one token at a time,
 * feeding each draft but the last. So a block whose drafts were all
 * accepted costs the drafter one token beyond the verifier's emitted
 * ones, and a rejected block costs a rollback, never a re-prefill.
 * What a drafter proposes only decides how many tokens a verify call
 * emits, never which (spec.h). Still, its prompt is fed as the verifier's
 * prefill runs (default kernels) and everything after it in the
 * batch-invariant mode, so its ids do not depend on how its history was
 * batched: incremental drafting equals drafting from scratch, and the
 * verifier as its own drafter proposes exactly greedy's continuation.
 *
 * Ownership: spec_model_init borrows the model (it must outlive the
 * drafter) and owns the forward state, the cache, the record of fed
 * tokens and the logits scratch; spec_model_free releases them (NULL ok).
 * A skip view borrows the verifier's tensors: never model_free it.
 */
#ifndef KK_SPEC_MODEL_H
#define KK_SPEC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "forward.h"
#include "kv.h"
#include "model.h"

typedef struct spec_model {
    const model *m;     /* borrowed */
    fwd_state *st;      /* owned */
    kv_cache *kv;       /* owned */
    int32_t *fed;       /* the tokens in kv, in order (cap entries) */
    int64_t n_fed, cap;
    float *logits;      /* n_vocab */
    int64_t tokens_run; /* tokens the drafter's forward passes processed */
} spec_model;

/* The drafter over m, with room for n_ctx tokens (prompt + generated +
 * one block) in an F32 cache (F16 when kv_f16). */
kk_code spec_model_init(spec_model *d, const model *m, int64_t n_ctx, bool kv_f16, kk_err *err);
void spec_model_free(spec_model *d);

/* spec_propose_fn over a spec_model. */
kk_code spec_model_propose(void *ctx, const int32_t *hist, size_t n, int32_t *draft, int max,
                           int *n_draft, kk_err *err);

/* *view = the first k layers of m with m's embedding, final norm and
 * output head (borrowed). @return KK_E_RANGE unless 1 <= k < m's layers
 * (all of them would be the verifier itself). */
kk_code spec_model_skip_view(const model *m, int k, model *view, kk_err *err);

#endif /* KK_SPEC_MODEL_H */
