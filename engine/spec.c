/* spec: see spec.h. */
#include "spec.h"

#include <stdlib.h>
#include <string.h>

#include "kk_rand.h"
#include "kk_stats.h"
#include "sample.h"

int spec_ngram_propose(void *ctx, const int32_t *hist, size_t n, int32_t *draft, int max)
{
    const spec_ngram *g = ctx;
    const size_t k = (size_t)g->n;
    if (max > g->max)
        max = g->max;
    if (n <= k || max <= 0)
        return 0;
    const int32_t *tail = hist + n - k;
    /* the most recent earlier occurrence of the last k tokens */
    for (size_t s = n - k; s-- > 0;) {
        if (memcmp(hist + s, tail, k * sizeof *hist) != 0)
            continue;
        int m = 0;
        for (size_t i = s + k; i < n && m < max; i++)
            draft[m++] = hist[i];
        return m;
    }
    return 0;
}

int spec_random_propose(void *ctx, const int32_t *hist, size_t n, int32_t *draft, int max)
{
    (void)hist, (void)n;
    spec_random *r = ctx;
    for (int i = 0; i < max; i++)
        draft[i] = (int32_t)(kk_splitmix64(&r->state) % (uint64_t)r->n_vocab);
    return max;
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
        int k = max > 0 && d ? d->propose(d->ctx, hist, n_prompt + *n_out, batch + 1, max) : 0;
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
