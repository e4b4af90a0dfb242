/*
 * niah: needle-in-a-haystack samples and recall on a synthetic model
 * (engine/synth.h, docs/synthetic-models.md).
 *
 * A sample of ctx tokens:
 *   BOS, filler..., KEY VALUE (the needle, at `depth` of the body),
 *   filler..., with `distractors` other KEY' VALUE' pairs at random places,
 *   then QUERY KEY  -> the expected answer is VALUE.
 * Filler tokens are drawn from 2..127; keys and values uniformly from
 * their ranges (distractor keys differ from the needle's and each other).
 *
 * Determinism: each sample has its own generator, seeded by
 * niah_sample_seed(run seed, ctx, depth index, sample index): a sample
 * never depends on which samples ran before it, so running them in another
 * order or on several workers gives the same results.
 *
 * Scoring: the answer is the argmax of the last position's logits (lowest
 * id on ties); margin = logit[expected] - the largest other logit
 * (negative when the answer is wrong). Recall per (ctx, depth) cell with a
 * 95% Wilson interval.
 *
 * Perturbations (for falsifiability tests and curves):
 *   mask_layers  bit l: the needle's two positions are hidden from layer
 *                l's attention (fwd_set_mask); layer 1 is retrieval.
 *   kv_bits      1..16: every layer's K and V rows go through min-max
 *                affine round-to-nearest quantization (groups of 32 along
 *                head_dim) before the cache stores them; 0: exact.
 *   kv_codec     a codec spec (codec.h): the cache is a kv_codec cache
 *                (kv_codec.h) that stores every layer's K and V rows as
 *                that codec's bytes and decodes them for attention, i.e.
 *                recall with the codec really in the cache. Exclusive
 *                with kv_bits. kv_codec_v: V's own codec (default: V as K).
 *
 * Lifecycle of a niah_runner:
 *   1. niah_runner_init(m, max_ctx, opts): forward state, cache and
 *      scratch allocated for samples up to max_ctx tokens.
 *   2. niah_runner_eval per sample (no allocation).
 *   3. niah_runner_free (accepts NULL).
 * The runner borrows the model. Not thread-safe: one runner per thread.
 */
#ifndef KK_NIAH_H
#define KK_NIAH_H

#include <stdbool.h>
#include <stdint.h>

#include "kk_err.h"
#include "codec.h"
#include "model.h"

#define NIAH_MIN_CTX 16
#define NIAH_MAX_CTX (1 << 20)

typedef struct niah_sample {
    int32_t *tokens;      /* (ctx) caller-provided */
    int64_t ctx;
    int32_t expect;       /* the needle's value token */
    int32_t key;          /* the needle's key token */
    int64_t needle_pos;   /* position of KEY; VALUE is at needle_pos + 1 */
} niah_sample;

/* The seed of sample `index` of the cell (ctx, depth index). */
uint64_t niah_sample_seed(uint64_t run_seed, int64_t ctx, int32_t depth_index,
                          int64_t index);

/* Fill s->tokens (s->ctx of them, >= NIAH_MIN_CTX) with a sample: needle
 * at depth in [0, 1] of the body, `distractors` other pairs (0..63, and
 * they must fit). @return KK_OK or KK_E_RANGE. */
kk_code niah_sample_make(niah_sample *s, double depth, int32_t distractors, uint64_t seed,
                         kk_err *err);

typedef struct niah_opts {
    uint32_t mask_layers; /* hide the needle from these layers (bit l) */
    int32_t kv_bits;      /* 0 exact; else affine noise on every K/V row */
    bool use_ref;         /* the plain reference kernels of the forward pass
                             (tests; codec fast paths are bit-exact with
                             their _ref paths, so they are not switched) */
    /* NULL: no codec; else K and V through this codec in a kv_codec cache.
     * Borrowed during niah_runner_init only (the runner keeps a copy). */
    const codec_spec *kv_codec;
    /* NULL: V as K; else V rows through this codec (KIVI: keys per
     * channel, values per token). Needs kv_codec. */
    const codec_spec *kv_codec_v;
    /* With kv_codec: the cache's codec-passthrough fault
     * (kv_codec_opts.passthrough; set by the harness from KAKEYA_FAULT). */
    bool kv_codec_passthrough;
} niah_opts;

typedef struct niah_runner niah_runner;

kk_code niah_runner_init(niah_runner **out, const model *m, int64_t max_ctx,
                         const niah_opts *opts, kk_err *err);
void niah_runner_free(niah_runner *r);

/* The runner's K ('k') or V ('v') codec counters, summed over every
 * sample so far; NULL without kv_codec. */
const codec_stats *niah_runner_codec_stats(const niah_runner *r, char which);

/* Run one sample through a fresh cache; *answer = argmax, *margin as
 * above. logits: NULL or (n_vocab) floats to receive the last row. */
kk_code niah_runner_eval(niah_runner *r, const niah_sample *s, int32_t *answer,
                         double *margin, float *logits, kk_err *err);

/* ---- a whole run: cells of (ctx, depth) ----------------------------------- */

typedef struct niah_cell {
    int64_t ctx;
    double depth;
    int64_t n, hits;
    double recall, recall_ci_lo, recall_ci_hi;
    double min_margin;
} niah_cell;

typedef struct niah_cfg {
    const int64_t *ctx;      /* context lengths */
    int32_t n_ctx;
    const double *depths;
    int32_t n_depths;
    int64_t samples;         /* per cell */
    uint64_t seed;
    int32_t distractors;
    niah_opts opts;
    /* Called after each sample (progress); may be NULL. */
    void (*on_sample)(void *ctx, const niah_cell *cell, int64_t done, int64_t total);
    void *on_sample_ctx;
    /* NULL or out: the K and V codec counters of the whole run (zeroed
     * first; left zero without kv_codec). */
    codec_stats *k_stats, *v_stats;
} niah_cfg;

/* Fill cells (n_ctx * n_depths, ctx-major) by running every sample. */
kk_code niah_run(const model *m, const niah_cfg *cfg, niah_cell *cells, kk_err *err);

/* 95% Wilson score interval of hits/n (n >= 1). */
void niah_wilson(int64_t hits, int64_t n, double *lo, double *hi);

/* Min-max affine round-to-nearest of n values in groups of `group`
 * (in place): the noise the kv_bits option injects. bits 1..16. */
void niah_affine_rtn(float *x, int64_t n, int32_t group, int32_t bits);

#endif /* KK_NIAH_H */
