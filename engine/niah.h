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
 *                NIAH_MASK_ALL hides them from every layer (the negative
 *                control of the presets).
 *   kv_bits      1..16: the cache is a kv_noisy cache (kv_noisy.h): every
 *                layer's K and V rows go through min-max affine
 *                round-to-nearest quantization before they are stored.
 *   kv_codec     a codec spec (codec.h): the cache is a kv_codec cache
 *                (kv_codec.h) that stores every layer's K and V rows as
 *                that codec's bytes and decodes them for attention, i.e.
 *                recall with the codec really in the cache. Exclusive
 *                with kv_bits. kv_codec_v: V's own codec (default: V as K).
 *   kv_error     also capture the exact K (post-RoPE) and V rows of the
 *                forward pass and sum the squared difference between them
 *                and what the cache hands back (rel_mse_k/v of the presets).
 *   policy       the cache's policy (kv_policy.h): sinkwin keeps sinks and
 *                a window, so a needle outside both is gone (the bounded
 *                caches' negative control before restoration).
 *
 * The one sample path: `kakeya niah` (niah_run), the preset kinds and the
 * tests all evaluate a sample with niah_runner_eval.
 *
 * Lifecycle of a niah_runner:
 *   1. niah_runner_init(m, max_ctx, opts): forward state, cache and
 *      scratch allocated for samples up to max_ctx tokens.
 *   2. niah_runner_eval per sample: the one cache is rolled back to empty
 *      (kv_truncate) and refilled; nothing is allocated.
 *      niah_runner_set_opts swaps the perturbations (a new cache; the
 *      forward state is kept), for a worker that serves several arms.
 *   3. niah_runner_free (accepts NULL).
 * The runner borrows the model. Not thread-safe: one runner per thread.
 */
#ifndef KK_NIAH_H
#define KK_NIAH_H

#include <stdbool.h>
#include <stdint.h>

#include "codec.h"
#include "kk_err.h"
#include "kv_policy.h"
#include "model.h"

#define NIAH_MIN_CTX 16
#define NIAH_MAX_CTX (1 << 20)
/* Prefill chunk of the forward state: wide enough that BLAS sees wide
 * products, small enough to bound the activations (512 x d floats). */
#define NIAH_BATCH 512
/* mask_layers: every layer, whatever the model's depth. */
#define NIAH_MASK_ALL UINT32_MAX

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
     * Borrowed during niah_runner_init/_set_opts only (copied). */
    const codec_spec *kv_codec;
    /* NULL: V as K; else V rows through this codec (KIVI: keys per
     * channel, values per token). Needs kv_codec. */
    const codec_spec *kv_codec_v;
    /* Capture the exact K/V and sum the cache's error (niah_result). */
    bool kv_error;
    /* With kv_codec: the cache's codec-passthrough fault
     * (kv_codec_opts.passthrough; set by the harness from KAKEYA_FAULT). */
    bool kv_codec_passthrough;
    /* With kv_codec: its codes perturbed after encoding (kv_codec_opts
     * .corrupt), the declared negative control of a codec arm. */
    bool kv_codec_corrupt;
    /* NULL or full: the full cache; sinkwin: a bounded cache of sinks and
     * a window (kv_policy.h; its slack is the prefill chunk less one); s5:
     * a hybrid model's global layers full (or kv_codec's cache: quantized
     * global K/V) and its sliding layers rings. sinkwin not with kv_bits,
     * kv_codec or kv_error yet; s5 not with kv_bits. Borrowed during
     * niah_runner_init/_set_opts only (copied). */
    const kv_policy *policy;
    /* With a sinkwin policy: restore evicted positions in the views
     * (kv_restored.h): KV_RESTORE_NONE (the bounded cache alone),
     * KV_RESTORE_IDENTITY (the rows kept aside put back: the positive
     * control, recall as the full cache's), KV_RESTORE_FTHETA (the
     * proposer's K/V through f_theta) or KV_RESTORE_MIX (alpha * true +
     * (1 - alpha) * f_theta). */
    int restore;
    /* ftheta and mix: the proposer (same vocabulary; run over every sample
     * with its own full cache before the verifier), the maps (proposer ->
     * this model), alpha for mix. Borrowed: they must outlive the runner. */
    const model *proposer;
    const struct ftheta *ftheta_k, *ftheta_v;
    double alpha;
    /* The cache's capacity in tokens: 0 for the runner's max_ctx, else
     * NIAH_MIN_CTX..max_ctx (samples longer than it are refused). A cache
     * sized to its samples' context allocates what such a run needs, so
     * kv_bytes_resident compares across contexts (a full cache's grows, a
     * bounded one's does not); the bounded caches' slack stays the
     * runner's prefill chunk less one whatever the capacity. */
    int64_t cache_ctx;
} niah_opts;

/* Layers the per-layer figures of a result cover (masks are 32 bits). */
#define NIAH_PROBE_LAYERS 32

/* What one sample gave. */
typedef struct niah_result {
    int32_t answer;          /* argmax of the last position (lowest id on ties) */
    double margin;           /* logit[expect] - the largest other logit */
    double prefill_s;        /* wall clock of the forward pass alone */
    double proposer_s;       /* ftheta, mix: the proposer's pass over the sample */
    double ftheta_s;         /* ftheta, mix: f_theta inside prefill_s */
    uint64_t positions_restored; /* rows put back into views (kv_restored) */
    /* a restoring mode: over every layer's restored positions after the
     * prefill, sums of (restored - true)^2 and true^2, K and V */
    bool has_restore_err;
    double rest_ek, rest_rk, rest_ev, rest_rv;
    /* the same per layer (n_probe layers): [l][0..3] = ek, rk, ev, rv */
    double rest_layer[NIAH_PROBE_LAYERS][4];
    /* The probe of the last query (fwd_probe; models of at most
     * NIAH_PROBE_LAYERS layers, else n_probe 0): per layer, the largest
     * attention mass over live heads on restored positions and on the
     * needle's restored positions; bit l of needle_exact_layers: layer l
     * sees the needle's KEY or VALUE as a row the cache holds itself. */
    int32_t n_probe;
    double mass_restored[NIAH_PROBE_LAYERS];
    double mass_needle[NIAH_PROBE_LAYERS];
    uint32_t needle_exact_layers;
    size_t kv_bytes;         /* the cache's allocation (kv_bytes_resident) */
    size_t kv_bytes_sliding; /* s5: its sliding layers' rings (0 otherwise) */
    /* a restoring mode (kv_restored.h): the proposer's full cache plus its
     * stored rows; the view and restored-row scratch; the true rows kept
     * aside (identity's source, mix's true half, the error's oracle) */
    size_t kv_bytes_proposer, kv_bytes_scratch, kv_bytes_store;
    bool has_codec;          /* a codec cache ran: the counters below */
    codec_stats k_stats, v_stats; /* counted during this sample only */
    bool has_kv_err;         /* opts.kv_error: the sums below */
    double k_err, k_ref, v_err, v_ref; /* sum (cache - exact)^2, sum exact^2 */
} niah_result;

typedef struct niah_runner niah_runner;

kk_code niah_runner_init(niah_runner **out, const model *m, int64_t max_ctx,
                         const niah_opts *opts, kk_err *err);
void niah_runner_free(niah_runner *r);

/* Replace the perturbations: a new cache, masks and capture buffers; the
 * forward state stays. On error the runner keeps its old options. */
kk_code niah_runner_set_opts(niah_runner *r, const niah_opts *opts, kk_err *err);

/* The runner's K ('k') or V ('v') codec counters, summed over every
 * sample since the cache was made; NULL without kv_codec. */
const codec_stats *niah_runner_codec_stats(const niah_runner *r, char which);

/* Run one sample through the runner's cache, emptied first. logits: NULL
 * or (n_vocab) floats to receive the last row. */
kk_code niah_runner_eval(niah_runner *r, const niah_sample *s, niah_result *res,
                         float *logits, kk_err *err);

/* ---- a whole run: cells of (ctx, depth) ----------------------------------- */

typedef struct niah_cell {
    int64_t ctx;
    double depth;
    int64_t n, hits;
    double recall, recall_ci_lo, recall_ci_hi;
    double min_margin;
} niah_cell;

/* A run's restoration figures (niah_cfg.restore_figs), summed over its
 * samples as niah_result gives them: per layer the error sums and the last
 * query's attention masses, the sum of each sample's largest mass, the
 * samples whose needle some layer held exactly, rows restored. */
typedef struct niah_restore_figs {
    int32_t n_layers;      /* layers covered (<= NIAH_PROBE_LAYERS) */
    int64_t samples, samples_exact;
    uint64_t positions;
    double layer[NIAH_PROBE_LAYERS][4];
    double mass[NIAH_PROBE_LAYERS], needle[NIAH_PROBE_LAYERS];
    double mass_max, needle_max;
    /* the sample of the largest context (the first such): its cache's
     * bytes, its sliding part's (s5), and that context */
    int64_t bytes_ctx;
    size_t kv_bytes, kv_bytes_sliding;
    size_t kv_bytes_full;  /* niah_run: a full F32 cache at bytes_ctx (kv_full_bytes) */
} niah_restore_figs;

/* Add one sample's figures to f; ctx: the sample's context. */
void niah_restore_figs_add(niah_restore_figs *f, const niah_result *r, int64_t ctx);

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
    /* NULL or out, 4 doubles: the restoration error sums of the whole run
     * (niah_result's rest_ek, rest_rk, rest_ev, rest_rv), zeroed first. */
    double *restore_sums;
    /* NULL or out: the per-layer figures of the run, zeroed first. */
    niah_restore_figs *restore_figs;
} niah_cfg;

/* Fill cells (n_ctx * n_depths, ctx-major) by running every sample. */
kk_code niah_run(const model *m, const niah_cfg *cfg, niah_cell *cells, kk_err *err);

#endif /* KK_NIAH_H */
