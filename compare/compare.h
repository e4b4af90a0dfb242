/*
 * compare: reading evidence for `kakeya compare` (docs/compare.md).
 *
 * An evidence file (docs/evidence.md) is read with the strict JSON reader
 * (common/json.h) and checked only for what compare uses: an `arms` array of
 * objects with unique non-empty `name`s, `metrics` an object when present,
 * and the known metrics (bits_per_value, rel_mse_gaussian, rel_mse_k,
 * rel_mse_v, recall, recall_ci_lo, recall_ci_hi, n, hits,
 * kv_bytes_resident) finite numbers in range when present. Full schema
 * validation is the gate's job; compare works on any evidence that has arms,
 * showing "-" for what an arm does not record.
 *
 * Errors are KK_E_FORMAT / KK_E_TYPE / KK_E_RANGE / KK_E_DUPLICATE with the
 * file, line and column of the offending value and its JSON pointer in
 * err->where ("/arms/3/metrics/recall").
 *
 * Lifecycle of a compare_set:
 *   1. compare_set_load fills it; it owns the parsed document, and every
 *      `const char *` and `const json_value *` in it points into that
 *      document.
 *   2. Read it (table, verdicts, plot, before/after) as long as needed.
 *   3. compare_set_free releases everything (accepts a zeroed set).
 */
#ifndef KK_COMPARE_H
#define KK_COMPARE_H

#include <stddef.h>
#include <stdio.h>

#include "json.h"
#include "kk_err.h"

/* Which rel_mse the Pareto front and the verdicts judge. Gaussian is the
 * default: it is the codec's own distortion, the one the Shannon bound
 * speaks about, measured on the same data for every arm. */
typedef enum compare_dist {
    COMPARE_DIST_GAUSSIAN = 0,
    COMPARE_DIST_K,
    COMPARE_DIST_V
} compare_dist;

/* Bits of compare_arm.has. */
enum {
    COMPARE_HAS_BITS = 1u << 0,
    COMPARE_HAS_MSE_G = 1u << 1,
    COMPARE_HAS_MSE_K = 1u << 2,
    COMPARE_HAS_MSE_V = 1u << 3,
    COMPARE_HAS_RECALL = 1u << 4,
    COMPARE_HAS_CI = 1u << 5,     /* recall_ci_lo and recall_ci_hi */
    COMPARE_HAS_N = 1u << 6,
    COMPARE_HAS_HITS = 1u << 7,
    COMPARE_HAS_KV_BYTES = 1u << 8,
    COMPARE_HAS_KLD = 1u << 9     /* kld_mean (kv_quant with kld_model) */
};

typedef struct compare_arm {
    const char *name;
    const char *codec;           /* config.codec, or NULL; with codec_k or
                                    codec_v named, codec_sides */
    char codec_sides[288];       /* "k=SPEC v=SPEC" of such an arm */
    int is_oracle;               /* both sides "identity" or "none": the
                                    full-precision oracle (or a control on it) */
    const json_value *json;      /* the arm object */
    const json_value *metrics;   /* its metrics object, or NULL */
    const json_value *timings;   /* its timings object, or NULL */
    double bits, mse_g, mse_k, mse_v;
    double recall, recall_lo, recall_hi, n, hits;
    double kv_bytes;
    double kld;                  /* kld_mean, nats */
    unsigned has;                /* COMPARE_HAS_* */
} compare_arm;

typedef struct compare_set {
    char *file;                  /* the path it was read from (owned) */
    json_doc *doc;
    const char *preset;          /* preset.name, or NULL */
    const char *kind;            /* preset.kind, or NULL */
    const char *commit;          /* provenance.git_commit, or NULL */
    int dirty;                   /* provenance.git_dirty */
    const char *model;           /* models[0].source, or NULL */
    const char *baseline_hint;   /* a `gate: baseline:` the evidence carries
                                    (preset.gate or preset.params.gate), or NULL */
    compare_arm *arms;           /* n_arms >= 1, in the evidence's order */
    size_t n_arms;
} compare_set;

/* One arm's rate, distortion and recall interval as the rules see them. */
typedef struct compare_point {
    double bits;                 /* bits_per_value */
    double dist;                 /* the chosen rel_mse, >= 0 */
    double recall, lo, hi;       /* 95% interval [lo, hi] around recall */
    int has_bits, has_dist, has_recall;
} compare_point;

/* Read and check one evidence file. @return KK_OK, or an error located in
 * `path` (I/O, malformed JSON, a field of the wrong type or out of range,
 * a duplicate arm name). On error *out is left zeroed. */
kk_code compare_set_load(const char *path, compare_set *out, kk_err *err);
/* The same from text in memory (len bytes; `path` names it in errors and
 * becomes compare_set.file). The text is not kept. */
kk_code compare_set_parse(const char *text, size_t len, const char *path,
                          compare_set *out, kk_err *err);
void compare_set_free(compare_set *s);

/* Index of the arm called name, or -1. */
long compare_set_find(const compare_set *s, const char *name);

/* The arm's point for distortion d. A recall without a recorded interval
 * gets the 95% Wilson interval from n (or [recall, recall] without n). */
compare_point compare_arm_point(const compare_arm *a, compare_dist d);

/* Resolve the verdicts' baseline of set s: `flag` (--baseline) when given,
 * else the baseline the evidence carries, else the preset's `gate:
 * baseline:` read from presets_dir/<preset>.yaml with the gate's parser,
 * else the first arm that is not the identity oracle (else arm 0).
 * *idx gets the arm; `why` (cap bytes) says where the choice came from, and
 * why a preset's baseline was not used when it was not.
 * @return KK_OK, or KK_E_RANGE (where "--baseline") when `flag` names no arm
 * of s. presets_dir may be NULL (no preset lookup). */
kk_code compare_baseline(const compare_set *s, const char *flag,
                         const char *presets_dir, size_t *idx, char *why,
                         size_t cap, kk_err *err);

/* Signal-to-noise ratio -10 log10(rel_mse); NaN for rel_mse 0 (exact). */
double compare_snr_db(double rel_mse);
/* Gap to the Gaussian rate-distortion bound D(R) = 2^(-2R) at rate bits:
 * 10 log10(rel_mse / 2^(-2 bits)); NaN for rel_mse 0. */
double compare_gap_db(double rel_mse, double bits);

/* ---- Markdown (compare/compare_table.c) -------------------------------------
 * compare_write_set prints, for one set: a heading, the table of every arm
 * (arm, codec, bits/value, rel_mse Gaussian/K/V, SNR dB, gap dB, recall
 * [95% CI], resident KV bytes, Pareto front), the verdict rule and one
 * verdict line per arm against arms[baseline]. `why` says where the baseline
 * came from. @return KK_OK or KK_E_NOMEM. */
kk_code compare_write_set(FILE *out, const compare_set *s, size_t baseline,
                          const char *why, compare_dist d, kk_err *err);

/* ---- SVG (compare/compare_plot.c) --------------------------------------------
 * compare_write_svg draws, per set, two panels (svg_plot.h): Gaussian
 * rel_mse against bits/value with the bound D(R) = 2^(-2R), and the model's
 * K (filled) and V (open) rel_mse without it. Marker shape and colour give
 * the recall bin; a ring marks the Pareto front on distortion d.
 * @return KK_OK, KK_E_NOMEM or KK_E_IO. */
kk_code compare_write_svg(FILE *out, const compare_set *sets, size_t n_sets,
                          compare_dist d, kk_err *err);

const char *compare_dist_name(compare_dist d);   /* "Gaussian", "K", "V" */
const char *compare_dist_metric(compare_dist d); /* "rel_mse_gaussian", ... */

#endif /* KK_COMPARE_H */
