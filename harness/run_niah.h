/*
 * run_niah: what the NIAH-based kinds (smoke, niah, kv_quant) share: the
 * model source (a synthetic spec or a GGUF path), the plan (arms x contexts
 * x samples, depths cycling within a context), one sample through the
 * arm's cache (full F32 or a codec cache, optionally with the needle
 * hidden), and the per-arm codec figures on Gaussian data.
 *
 * Model sources (the `model` parameter):
 *   synth:MODE[?KEY=VAL(&KEY=VAL)*]   MODE niah | copy; KEY one of seed,
 *       role (verifier|proposer: that role's defaults first), hard (0|1:
 *       synth_apply_hard next), key_dim, shared_k, n_outliers,
 *       outlier_scale, beta, key_noise, distractors, rotate
 *       (none|all|residual,pairs,values), n_ctx, window, sliding_layers
 *       (a bit mask), n_ff, ballast_scale (random FFN weights that keep
 *       every answer). Built in memory with synth_to_buffer; sha256 of
 *       those bytes.
 *   PATH                               a GGUF file (${ENV:VAR} expanded
 *       when the preset declared VAR); it must be a synthetic model
 *       (kakeya.synth.* metadata): NIAH needs the token layout.
 *
 * Arms (fields shared by the three kinds):
 *   codec        "none" (full F32 cache) or a codec spec (codec.h) for a
 *                kv_codec cache of K and V
 *   codec_k, codec_v  (niah, kv_quant) K's or V's own codec; "" as codec,
 *                "none" that side in F32; when the sides differ the arm
 *                counts each side (values_encoded_k, ..._v)
 *   mask_needle  hide the needle's two positions from every layer
 *                (fwd_set_mask): the negative control
 */
#ifndef KK_RUN_NIAH_H
#define KK_RUN_NIAH_H

#include "kind.h"
#include "model.h"
#include "synth.h"
#include "run.h"

extern const run_ops run_niah_ops;

/* Arm-field check: "none" or a codec spec that parses. */
int run_niah_check_codec(const char *val, char *why, size_t cap);
/* codec_k / codec_v: "" (as codec) or what run_niah_check_codec allows. */
int run_niah_check_codec_side(const char *val, char *why, size_t cap);
/* Kind check: the model source parses (synthetic specs fully; paths are
 * checked at run time). */
kk_code run_niah_check_preset(const preset *p, kk_err *err);

/* A model source loaded: a synth: spec built in memory or a GGUF file,
 * which must be a synthetic model (kakeya.synth.* keys). */
typedef struct run_niah_source {
    uint8_t *buf;              /* the synthesized bytes; NULL for a file */
    struct gguf_file *file;
    model *m;
    char sha[65];              /* of the GGUF bytes */
    char *src;                 /* the source as expanded (malloc'd) */
    synth_info info;
} run_niah_source;

/* Load the string parameter `param` of p as a model source (errors name
 * it). On success out owns buf, file, m and src (run_niah_source_free
 * frees all but src's ownership moves with the caller's choice: free
 * src yourself or leave it to run_niah_source_free). */
kk_code run_niah_load_source(const preset *p, const char *param, run_niah_source *out,
                             kk_err *err);
void run_niah_source_free(run_niah_source *s);

/* Parse a synth: source into cfg; errors name `param`. */
kk_code run_niah_parse_synth(const char *src, const char *param, void *synth_cfg_out,
                             kk_err *err);

#endif /* KK_RUN_NIAH_H */
