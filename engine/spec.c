/* spec: see spec.h. */
#include "spec.h"

#include <stdlib.h>
#include <string.h>

#include "kk_rand.h"
#include "kk_stats.h"
#include "sample.h"

kk_code spec_ngram_propose(void *ctx, const int32_t *hist, size_t n, int32_t *draft, int max,
                           int *n_draft, kk_err *err)
{
    (void)err;
    const spec_ngram *g = ctx;
    *n_draft = 0;
    const size_t k = (size_t)g->n;
    if (max > g->max)
        max = g->max;
    if (n <= k || max <= 0)
        return KK_OK;
    const int32_t *tail = hist + n - k;
    /* the most recent earlier occurrence of the last k tokens */
    for (size_t s = n - k; s-- > 0;) {
        if (memcmp(hist + s, tail, k * sizeof *hist) != 0)
            continue;
        int m = 0;
        for (size_t i = s + k; i < n && m < max; i++)
            draft[m++] = hist[i];
        *n_draft = m;
        return KK_OK;
    }
    return KK_OK;
}

kk_code spec_random_propose(void *ctx, const int32_t *hist, size_t n, int32_t *draft, int max,
                            int *n_draft, kk_err *err)
{
    (void)hist, (void)n, (void)err;
    spec_random *r = ctx;
    for (int i = 0; i < max; i++)
        draft[i] = (int32_t)(kk_splitmix64(&r->state) % (uint64_t)r->n_vocab);
    *n_draft = max > 0 ? max : 0;
    return KK_OK;
}

double spec_tau(const spec_stats *s)
{
    return s->blocks > 0 ? (double)(s->emitted - 1) / (double)s->blocks : 0.0;
}

kk_code spec_generate(fwd_state *st, kv_cache *kv, const model *m, const int32_t *prompt,
                      size_t n_prompt, int64_t n_predict, int32_t eos, int block,
                      spec_verify verify, const spec_drafter *d, int32_t *out, size_t *n_out,
                      spec_stats *stats, kk_err *err)
{
    memset(stats, 0, sizeof *stats);
    *n_out = 0;
    if (block < 1 || block > 64)
        return kk_err_set(err, KK_E_RANGE, "spec: block %d is not allowed (allowed: 1..64)", block);
    if (n_prompt < 1)
        return kk_err_set(err, KK_E_RANGE, "spec: the prompt is empty: nothing to start from");
    const int64_t V = m->hp.n_vocab;
    float *logits = malloc((size_t)block * (size_t)V * sizeof(float));
    int32_t *hist = malloc((n_prompt + (size_t)n_predict + 1) * sizeof(int32_t));
    int32_t batch[64];
    kk_code rc = KK_OK;
    if (!logits || !hist) {
        rc = kk_err_set(err, KK_E_NOMEM, "spec: out of memory");
        goto done;
    }
    memcpy(hist, prompt, n_prompt * sizeof *prompt);
    double t0 = kk_now_s();
    fwd_set_batch_invariant(st, false); /* the prefill: default kernels */
    if ((rc = fwd_run(st, kv, prompt, NULL, (int64_t)n_prompt, FWD_LOGITS_LAST, logits, NULL,
                      err)) != KK_OK)
        goto done;
    stats->prefill_s = kk_now_s() - t0;
    int32_t pending = sample_greedy(logits, V);
    while ((int64_t)*n_out < n_predict && pending != eos) {
        out[(*n_out)++] = pending;
        hist[n_prompt + *n_out - 1] = pending;
        if ((int64_t)*n_out == n_predict)
            break; /* the last token's logits are not needed */
        /* drafts after everything emitted; never past n_predict */
        const int64_t room = n_predict - (int64_t)*n_out;
        int max = block - 1 < room ? block - 1 : (int)room;
        t0 = kk_now_s();
        int k = 0;
        if (max > 0 && d &&
            (rc = d->propose(d->ctx, hist, n_prompt + *n_out, batch + 1, max, &k, err)) != KK_OK)
            goto done;
        if (k < 0 || k > max) {
            rc = kk_err_set(err, KK_E_INTERNAL, "spec: the drafter proposed %d tokens (at most %d)",
                            k, max);
            goto done;
        }
        stats->draft_s += kk_now_s() - t0;
        batch[0] = pending;
        const int64_t base = kv_n_tokens(kv);
        t0 = kk_now_s();
        fwd_set_batch_invariant(st, verify == SPEC_VERIFY_INVARIANT);
        rc = fwd_run(st, kv, batch, NULL, (int64_t)k + 1, FWD_LOGITS_ALL, logits, NULL, err);
        fwd_set_batch_invariant(st, false);
        stats->verify_s += kk_now_s() - t0;
        if (rc != KK_OK)
            goto done;
        stats->blocks++;
        stats->drafted += k;
        /* accept while the greedy choice is the next draft */
        int j = 0;
        int32_t a = sample_greedy(logits, V);
        while (j < k && a == batch[j + 1] && a != eos && (int64_t)*n_out < n_predict) {
            out[(*n_out)++] = a;
            hist[n_prompt + *n_out - 1] = a;
            j++;
            a = sample_greedy(logits + (size_t)j * (size_t)V, V);
        }
        stats->accepted += j;
        stats->blocks_proposed += k > 0;
        stats->blocks_accepted += j > 0;
        t0 = kk_now_s();
        if (j < k && (rc = kv_truncate(kv, base + 1 + j, err)) != KK_OK)
            goto done;
        stats->rollback_s += kk_now_s() - t0;
        pending = a;
        if ((int64_t)*n_out == n_predict)
            break;
    }
    stats->emitted = (int64_t)*n_out;
done:
    free(logits);
    free(hist);
    return rc;
}

kk_code spec_greedy_ar(fwd_state *st, kv_cache *kv, const model *m, const int32_t *prompt,
                       size_t n_prompt, int64_t n_predict, int32_t eos, int32_t *out,
                       size_t *n_out, double *prefill_s, double *decode_s, kk_err *err)
{
    *n_out = 0;
    double pre = 0.0, dec = 0.0;
    if (n_prompt < 1)
        return kk_err_set(err, KK_E_RANGE, "greedy: the prompt is empty: nothing to start from");
    const int64_t V = m->hp.n_vocab;
    float *logits = malloc((size_t)V * sizeof(float));
    if (!logits)
        return kk_err_set(err, KK_E_NOMEM, "greedy: out of memory");
    fwd_set_batch_invariant(st, false);
    double t0 = kk_now_s();
    kk_code rc = fwd_run(st, kv, prompt, NULL, (int64_t)n_prompt, FWD_LOGITS_LAST, logits, NULL,
                         err);
    pre = kk_now_s() - t0;
    while (rc == KK_OK && (int64_t)*n_out < n_predict) {
        const int32_t id = sample_greedy(logits, V);
        if (id == eos)
            break;
        out[(*n_out)++] = id;
        if ((int64_t)*n_out == n_predict)
            break; /* the last token's logits are not needed */
        t0 = kk_now_s();
        rc = fwd_run(st, kv, &id, NULL, 1, FWD_LOGITS_LAST, logits, NULL, err);
        dec += kk_now_s() - t0;
    }
    free(logits);
    if (prefill_s)
        *prefill_s = pre;
    if (decode_s)
        *decode_s = dec;
    return rc;
}
