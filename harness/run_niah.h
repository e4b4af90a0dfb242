/*
 * run_niah: what the NIAH-based kinds (smoke, niah, kv_quant) share: the
 * model source (a synthetic spec or a GGUF path), the plan (arms x contexts
 * x samples, depths cycling within a context), one sample through the
 * arm's cache (full F32 or a codec cache, optionally with the needle
 * hidden), and the per-arm codec figures on Gaussian data.
 *
 * Model sources (the `model` parameter):
 *   synth:MODE[?KEY=VAL(&KEY=VAL)*]   MODE niah | copy; KEY one of seed,
 *       hard (0|1: synth_apply_hard first), key_dim, shared_k, n_outliers,
 *       outlier_scale, beta, key_noise, distractors, rotate
 *       (none|all|residual,pairs,values), n_ctx. Built in memory with
 *       synth_to_buffer; sha256 of those bytes.
 *   PATH                               a GGUF file (${ENV:VAR} expanded
 *       when the preset declared VAR); it must be a synthetic model
 *       (kakeya.synth.* metadata): NIAH needs the token layout.
 *
 * Arms (fields shared by the three kinds):
 *   codec        "none" (full F32 cache) or a codec spec (codec.h) for a
 *                kv_codec cache of K and V
 *   mask_needle  hide the needle's two positions from every layer
 *                (fwd_set_mask): the negative control
 */
#ifndef KK_RUN_NIAH_H
#define KK_RUN_NIAH_H

#include "kind.h"
#include "run.h"

extern const run_ops run_niah_ops;

/* Arm-field check: "none" or a codec spec that parses. */
int run_niah_check_codec(const char *val, char *why, size_t cap);
/* Kind check: the model source parses (synthetic specs fully; paths are
 * checked at run time). */
kk_code run_niah_check_preset(const preset *p, kk_err *err);

/* Parse a synth: source into cfg; errors name `param`. */
kk_code run_niah_parse_synth(const char *src, const char *param, void *synth_cfg_out,
                             kk_err *err);

#endif /* KK_RUN_NIAH_H */
