/*
 * run_kld: the kv_quant kind's KL-divergence figures. When the preset gives
 * `kld_model` (a GGUF path, fixture:REL under the fixtures folder, or
 * random:KEY=VAL&... a model_random model built in memory: keys seed, arch
 * llama|qwen3, layers, d_model, heads, kv_heads, head_dim, ffn, vocab) and
 * the ids to run (`kld_text`, tokenized with the model's tokenizer and its
 * BOS, or `kld_ids`, comma-separated), every arm with a codec gets
 * kld_codec_run's figures (engine/kld_codec.h: teacher-forced, exact F32
 * cache against the arm's codec cache, corrupt applied when the arm
 * declares it): metrics kld_mean, kld_p99, top1_agree. Arms without a
 * codec and needle-masked arms get none (the mask is a NIAH control, not a
 * codec). The model goes into models[] with role "kld".
 *
 * Runs once in the kind's prepare step, arm after arm, before any task:
 * the figures depend on the preset alone (not on --jobs).
 * Ownership: run_kld_free releases what run_kld_prepare filled.
 */
#ifndef KK_RUN_KLD_H
#define KK_RUN_KLD_H

#include "codec.h"
#include "kld_codec.h"
#include "preset.h"

typedef struct run_kld {
    int on;                  /* kld_model given */
    char sha[65];            /* of the model file */
    char *src;               /* the source as resolved (malloc'd) */
    char arch[32];
    int64_t n_ids;
    kld_codec_result *res;   /* per arm */
    unsigned char *has;      /* per arm: res[a] computed */
} run_kld;

/* ks, vs, has_codec: per arm, the K and V codecs (valid where has_codec).
 * @return KK_OK (out->on 0 when the preset gives no kld_model); errors
 * name the parameter (kld_model, kld_text, kld_ids) and the preset file. */
kk_code run_kld_prepare(const preset *p, const codec_spec *ks, const codec_spec *vs,
                        const unsigned char *has_codec, run_kld *out, kk_err *err);
void run_kld_free(run_kld *k);

#endif /* KK_RUN_KLD_H */
