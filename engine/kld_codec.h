/*
 * kld_codec: the damage a K/V codec cache does to a model's output,
 * teacher-forced over given ids: the same forward pass runs the ids
 * through the exact F32 cache and through a kv_codec cache (K with one
 * codec, V with another), and kld_rows compares every position's
 * next-token distribution (engine/kld.h). Shared by `kakeya codec kld` and
 * the kv_quant kind's KLD figures.
 *
 * Ownership: the model is borrowed; everything else is allocated and freed
 * inside the call.
 */
#ifndef KK_KLD_CODEC_H
#define KK_KLD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "forward.h"
#include "kld.h"
#include "kv_codec.h"
#include "model.h"

typedef struct kld_codec_result {
    kld_summary sum;
    /* bits per value the coded cache's rows cost: the bytes its K and V
     * codecs wrote over the values they took (measured, so a
     * variable-rate codec's too) */
    double bits_per_value;
    codec_stats k_stats, v_stats;
} kld_codec_result;

/* ids: n >= 2 token ids (< the model's vocabulary). opts: NULL or the
 * cache's options (corrupt: the declared negative control). q_round: how
 * the coded pass's queries meet the keys (forward.h fwd_set_q_round;
 * FWD_Q_EXACT measures the cache alone; the exact pass is always exact).
 * @return
 * KK_OK; KK_E_RANGE for n < 2 or a codec the cache refuses (err->where
 * k_codec or v_codec); KK_E_NOMEM; the forward pass's errors. */
kk_code kld_codec_run(model *m, const int32_t *ids, size_t n, const codec_spec *k_spec,
                      const codec_spec *v_spec, const kv_codec_opts *opts,
                      fwd_q_round q_round, kld_codec_result *out, kk_err *err);

#endif /* KK_KLD_CODEC_H */
