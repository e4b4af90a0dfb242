/* spec_model: see spec_model.h. */
#include "spec_model.h"

#include <stdlib.h>
#include <string.h>

#include "sample.h"

/* Tokens per forward call of the drafter (its catch-up after a prompt can
 * be long; fwd_run chunks longer batches itself). */
#define SPEC_MODEL_MAX_BATCH 64

kk_code spec_model_init(spec_model *d, const model *m, int64_t n_ctx, bool kv_f16, kk_err *err)
{
    memset(d, 0, sizeof *d);
    d->m = m;
    const model_hparams *hp = &m->hp;
    if (n_ctx < 1)
        return kk_err_set(err, KK_E_RANGE, "spec drafter: context %lld is too small",
                          (long long)n_ctx);
    const kv_config cfg = {hp->n_layers, hp->n_kv_heads, hp->head_dim_k, hp->head_dim_v, n_ctx, 0};
    kk_code rc = kv_f16 ? kv_full_f16_init(&d->kv, &cfg, err) : kv_full_init(&d->kv, &cfg, err);
    if (rc == KK_OK)
        rc = fwd_init(&d->st, m, n_ctx < SPEC_MODEL_MAX_BATCH ? n_ctx : SPEC_MODEL_MAX_BATCH,
                      n_ctx, err);
    if (rc == KK_OK) {
        d->cap = n_ctx;
        d->fed = malloc((size_t)n_ctx * sizeof *d->fed);
        d->logits = malloc((size_t)hp->n_vocab * sizeof *d->logits);
        if (!d->fed || !d->logits)
            rc = kk_err_set(err, KK_E_NOMEM, "spec drafter: out of memory");
    }
    if (rc != KK_OK)
        spec_model_free(d);
    return rc;
}

void spec_model_free(spec_model *d)
{
    if (!d)
        return;
    fwd_free(d->st);
    kv_free(d->kv);
    free(d->fed);
    free(d->logits);
    memset(d, 0, sizeof *d);
}

/* Feed toks[0..n) after what is fed; the last one's logits into d->logits. */
static kk_code feed(spec_model *d, const int32_t *toks, int64_t n, kk_err *err)
{
    if (d->n_fed + n > d->cap)
        return kk_err_set(err, KK_E_LIMIT, "spec drafter: %lld tokens exceed its context %lld",
                          (long long)(d->n_fed + n), (long long)d->cap);
    /* the first feed (the prompt) as the verifier's prefill runs it, later
     * catch-ups batch-invariant: the drafter's rows are then those of
     * one-token steps, so the verifier as its own drafter proposes
     * exactly greedy's continuation (tests/engine/test_spec.c) and a
     * drafter's ids never depend on how its history was batched */
    fwd_set_batch_invariant(d->st, d->n_fed > 0);
    kk_code rc = fwd_run(d->st, d->kv, toks, NULL, n, FWD_LOGITS_LAST, d->logits, NULL, err);
    if (rc != KK_OK)
        return rc;
    memcpy(d->fed + d->n_fed, toks, (size_t)n * sizeof *toks);
    d->n_fed += n;
    d->tokens_run += n;
    return KK_OK;
}

kk_code spec_model_propose(void *ctx, const int32_t *hist, size_t n, int32_t *draft, int max,
                           int *n_draft, kk_err *err)
{
    spec_model *d = ctx;
    *n_draft = 0;
    if (n == 0 || max <= 0)
        return KK_OK;
    /* keep the longest prefix of the fed tokens that is still the history;
     * the last history token is always re-fed when nothing follows it, so
     * its logits are fresh */
    int64_t keep = 0;
    while (keep < d->n_fed && keep < (int64_t)n && d->fed[keep] == hist[keep])
        keep++;
    if (keep == (int64_t)n)
        keep--;
    kk_code rc = KK_OK;
    if (keep < d->n_fed) {
        if ((rc = kv_truncate(d->kv, keep, err)) != KK_OK)
            return rc;
        d->n_fed = keep;
    }
    if ((rc = feed(d, hist + keep, (int64_t)n - keep, err)) != KK_OK)
        return rc;
    for (int i = 0; i < max; i++) {
        draft[i] = sample_greedy(d->logits, d->m->hp.n_vocab);
        *n_draft = i + 1;
        if (i + 1 < max && (rc = feed(d, draft + i, 1, err)) != KK_OK)
            return rc;
    }
    return KK_OK;
}

kk_code spec_model_skip_view(const model *m, int k, model *view, kk_err *err)
{
    if (k < 1 || k >= m->hp.n_layers)
        return kk_err_set(err, KK_E_RANGE,
                          "skip:%d is not allowed: the model has %d layers (allowed: 1..%d)", k,
                          (int)m->hp.n_layers, (int)m->hp.n_layers - 1);
    *view = *m;
    view->hp.n_layers = k;
    /* the copies of dequantized tensors stay the verifier's to free */
    view->owned_ = NULL;
    view->n_owned_ = 0;
    return KK_OK;
}
