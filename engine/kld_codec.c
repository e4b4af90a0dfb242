/* kld_codec: see kld_codec.h. */
#include "kld_codec.h"

#include <stdlib.h>

#include "kv.h"

kk_code kld_codec_run(model *m, const int32_t *ids, size_t n, const codec_spec *k_spec,
                      const codec_spec *v_spec, const kv_codec_opts *opts,
                      fwd_q_round q_round, kld_codec_result *out, kk_err *err)
{
    const model_hparams *hp = &m->hp;
    const int64_t V = hp->n_vocab;
    if (n < 2)
        return kk_err_set(err, KK_E_RANGE, "kld: %zu token%s (allowed: at least 2, so that a "
                          "position has a next token)", n, n == 1 ? "" : "s");
    const kv_config cfg = {hp->n_layers, hp->n_kv_heads, hp->head_dim_k, hp->head_dim_v,
                           (int64_t)n, 0};
    kv_cache *exact = NULL, *coded = NULL;
    fwd_state *st = NULL;
    float *p = malloc(n * (size_t)V * sizeof *p), *q = malloc(n * (size_t)V * sizeof *q);
    kk_code rc = KK_OK;
    if (!p || !q) {
        rc = kk_err_set(err, KK_E_NOMEM, "kld: out of memory for 2 x %zu x %lld logits", n,
                        (long long)V);
        goto done;
    }
    if ((rc = kv_codec_init(&coded, &cfg, k_spec, v_spec, opts, err)) != KK_OK ||
        (rc = fwd_init(&st, m, (int64_t)n < 512 ? (int64_t)n : 512, (int64_t)n, err)) != KK_OK ||
        (rc = kv_full_init(&exact, &cfg, err)) != KK_OK ||
        (rc = fwd_run(st, exact, ids, NULL, (int64_t)n, FWD_LOGITS_ALL, p, NULL, err)) != KK_OK ||
        (rc = fwd_set_q_round(st, q_round, err)) != KK_OK ||
        (rc = fwd_run(st, coded, ids, NULL, (int64_t)n, FWD_LOGITS_ALL, q, NULL, err)) != KK_OK ||
        (rc = kld_rows(p, q, (int64_t)n, V, &out->sum, err)) != KK_OK)
        goto done;
    out->k_stats = *kv_codec_get_stats(coded, 'k');
    out->v_stats = *kv_codec_get_stats(coded, 'v');
    const uint64_t vals = out->k_stats.values_encoded + out->v_stats.values_encoded;
    out->bits_per_value = vals ? 8.0 *
                                     (double)(out->k_stats.bytes_encoded +
                                              out->v_stats.bytes_encoded) /
                                     (double)vals
                               : 0.0;
done:
    free(p);
    free(q);
    fwd_free(st);
    kv_free(exact);
    kv_free(coded);
    return rc;
}
