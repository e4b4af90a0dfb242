/*
 * spec: greedy speculative decoding whose output is, token for token, the
 * output of greedy autoregressive decoding on the same model and cache
 * (docs/speculative.md).
 *
 * The loop: the prompt is prefilled (default kernels, one call); its last
 * logits give the first token. Then per block: the drafter proposes up to
 * block - 1 tokens after everything emitted so far; ONE fwd_run in
 * batch-invariant mode (forward.h) scores [the last emitted token, the
 * drafts] with logits for all; the longest prefix of drafts that equals
 * the greedy choices is accepted and the greedy choice after it emitted;
 * the cache is rolled back (kv_truncate) past the rejected drafts. Since
 * the invariant mode gives each scored token the logits a single-token
 * step would, every emitted token is the one greedy decoding emits; the
 * drafter decides only how many tokens one call emits. Generation stops
 * at n_predict tokens or at EOS (not emitted), as `kakeya generate` does.
 *
 * Drafters are a propose function over the history (prompt + emitted):
 *   ngram (prompt lookup): the most recent earlier occurrence of the last
 *     n tokens; its next tokens, at most max.
 *   random (a negative control): seeded random ids; nothing is accepted
 *     but by chance, and the output is still greedy's.
 *   model (spec_model.h): a smaller model, or the verifier's first K
 *     layers, with its own cache rolled back with the verifier's.
 * Ownership: the caller owns the model, state, cache and buffers; the
 * loop allocates its logits scratch and frees it.
 */
#ifndef KK_SPEC_H
#define KK_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "forward.h"
#include "kv.h"
#include "model.h"

/* Propose up to max tokens following hist[0..n) into draft, *n_draft of
 * them. @return KK_OK, or a drafter's error (a model drafter's forward
 * pass), which ends the generation. */
typedef kk_code (*spec_propose_fn)(void *ctx, const int32_t *hist, size_t n, int32_t *draft,
                                   int max, int *n_draft, kk_err *err);

typedef struct spec_drafter {
    spec_propose_fn propose;
    void *ctx;
} spec_drafter;

typedef struct spec_ngram {
    int n;   /* tokens matched, >= 1 */
    int max; /* tokens proposed at most */
} spec_ngram;
kk_code spec_ngram_propose(void *ctx, const int32_t *hist, size_t n, int32_t *draft, int max,
                           int *n_draft, kk_err *err);

typedef struct spec_random {
    uint64_t state;
    int32_t n_vocab;
} spec_random;
kk_code spec_random_propose(void *ctx, const int32_t *hist, size_t n, int32_t *draft, int max,
                            int *n_draft, kk_err *err);

/* What the loop counted. tau = (emitted - 1) / blocks: tokens a verify
 * call emits (the first token comes from the prefill), 1 for
 * autoregressive decoding, the block at most (spec_tau). */
typedef struct spec_stats {
    int64_t blocks;          /* verify calls after the prefill */
    int64_t blocks_proposed; /* of them, with at least one draft */
    int64_t blocks_accepted; /* of them, with at least one draft accepted */
    int64_t drafted;         /* tokens proposed */
    int64_t accepted;        /* of them, accepted */
    int64_t emitted;         /* tokens output */
    double prefill_s, draft_s, verify_s, rollback_s;
} spec_stats;

/* How verify calls run. INVARIANT (the loop's contract): batch-invariant
 * mode (fwd_set_batch_invariant), so the output is greedy decoding's.
 * DEFAULT: the default kernels, as llama.cpp and vLLM verify: a near-tie
 * that a batch sums differently from a step can change a token, and a
 * cache whose stored form of a row depends on later rows (kv_invariant_
 * rows) shows earlier queries other rows; for measuring that mismatch
 * against autoregressive decoding, never for output that claims to be
 * greedy's. */
typedef enum spec_verify { SPEC_VERIFY_INVARIANT = 0, SPEC_VERIFY_DEFAULT = 1 } spec_verify;

double spec_tau(const spec_stats *s);

/* Generate up to n_predict tokens after prompt[0..n_prompt) into out
 * (room for n_predict); *n_out the count. kv: empty, capacity >=
 * n_prompt + n_predict + block, max_rollback >= block - 1 (a bounded or
 * KIVI cache rolls back that many rows exactly; kv.h). block: 1..64
 * tokens per verify call (1: autoregressive through the same code). eos:
 * stop id (-1: none). @return KK_OK, KK_E_RANGE for a bad block or empty
 * prompt, the forward pass's and the cache's errors. */
kk_code spec_generate(fwd_state *st, kv_cache *kv, const model *m, const int32_t *prompt,
                      size_t n_prompt, int64_t n_predict, int32_t eos, int block,
                      spec_verify verify, const spec_drafter *d, int32_t *out, size_t *n_out,
                      spec_stats *stats, kk_err *err);

/* Plain greedy autoregressive decoding, the reference the loop equals:
 * the prompt prefilled in one call, then one single-token call per token
 * in the default mode (what `kakeya generate` runs). Same arguments and
 * stopping rule as spec_generate; *prefill_s and *decode_s (may be NULL)
 * the two phases' seconds. */
kk_code spec_greedy_ar(fwd_state *st, kv_cache *kv, const model *m, const int32_t *prompt,
                       size_t n_prompt, int64_t n_predict, int32_t eos, int32_t *out,
                       size_t *n_out, double *prefill_s, double *decode_s, kk_err *err);

#endif /* KK_SPEC_H */
