/* spec_parity: see spec_parity.h. */
#include "spec_parity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kk_rand.h"
#include "sample.h"
#include "spec_model.h"

/* Prompt as a prefill (its last logits into lg), then ids[0..n-1) in one
 * batch-invariant call (logits of all into lg + V). */
static kk_code teacher_run(fwd_state *st, kv_cache *kv, const int32_t *prompt, size_t n_prompt,
                           const int32_t *ids, int64_t n, float *lg, int64_t V, kk_err *err)
{
    fwd_set_batch_invariant(st, false);
    kk_code rc = fwd_run(st, kv, prompt, NULL, (int64_t)n_prompt, FWD_LOGITS_LAST, lg, NULL, err);
    if (rc == KK_OK && n > 1) {
        fwd_set_batch_invariant(st, true);
        rc = fwd_run(st, kv, ids, NULL, n - 1, FWD_LOGITS_ALL, lg + V, NULL, err);
        fwd_set_batch_invariant(st, false);
    }
    return rc;
}

kk_code spec_parity_teacher(fwd_state *rs, kv_cache *rkv, const model *rm, fwd_state *vs,
                            kv_cache *vkv, const model *vm, const int32_t *prompt,
                            size_t n_prompt, const int32_t *ids, int64_t n, spec_parity_pos *out,
                            kk_err *err)
{
    const int64_t V = rm->hp.n_vocab;
    if (vm->hp.n_vocab != V)
        return kk_err_set(err, KK_E_RANGE, "parity: vocabularies of %lld and %lld tokens",
                          (long long)V, (long long)vm->hp.n_vocab);
    if (n < 1)
        return KK_OK;
    float *lr = malloc((size_t)n * (size_t)V * sizeof *lr);
    float *lv = malloc((size_t)n * (size_t)V * sizeof *lv);
    kk_code rc = lr && lv ? KK_OK : kk_err_set(err, KK_E_NOMEM, "parity: out of memory");
    if (rc == KK_OK)
        rc = teacher_run(rs, rkv, prompt, n_prompt, ids, n, lr, V, err);
    if (rc == KK_OK)
        rc = teacher_run(vs, vkv, prompt, n_prompt, ids, n, lv, V, err);
    for (int64_t i = 0; rc == KK_OK && i < n; i++) {
        const float *a = lr + i * V, *b = lv + i * V;
        int32_t t1 = 0, t2 = -1;
        float e = 0.0f;
        for (int64_t v = 1; v < V; v++) {
            if (a[v] > a[t1]) {
                t2 = t1;
                t1 = (int32_t)v;
            } else if (t2 < 0 || a[v] > a[t2]) {
                t2 = (int32_t)v;
            }
        }
        for (int64_t v = 0; v < V; v++)
            e = fmaxf(e, fabsf(b[v] - a[v]));
        out[i].ref = sample_greedy(a, V);
        out[i].var = sample_greedy(b, V);
        out[i].margin = t2 >= 0 ? a[t1] - a[t2] : INFINITY;
        out[i].err = e;
    }
    free(lr);
    free(lv);
    return rc;
}

kk_code spec_parity_incremental(const model *m, bool kv_f16, const int32_t *prompt,
                                size_t n_prompt, int rounds, int max_draft, uint64_t seed,
                                int64_t n_ctx, int64_t *compared, int64_t *mismatches,
                                kk_err *err)
{
    *compared = *mismatches = 0;
    spec_model inc, fresh;
    memset(&fresh, 0, sizeof fresh);
    int32_t *hist = malloc((size_t)n_ctx * sizeof *hist);
    int32_t *d1 = malloc((size_t)max_draft * sizeof *d1), *d2 = malloc((size_t)max_draft * sizeof *d2);
    kk_code rc = hist && d1 && d2 ? KK_OK : kk_err_set(err, KK_E_NOMEM, "parity: out of memory");
    if (rc == KK_OK && (n_prompt < 1 || (int64_t)n_prompt >= n_ctx))
        rc = kk_err_set(err, KK_E_RANGE, "parity: a prompt of %zu tokens in a context of %lld",
                        n_prompt, (long long)n_ctx);
    if (rc == KK_OK)
        rc = spec_model_init(&inc, m, n_ctx, kv_f16, err);
    if (rc != KK_OK) {
        free(hist);
        free(d1);
        free(d2);
        return rc;
    }
    memcpy(hist, prompt, n_prompt * sizeof *hist);
    size_t n = n_prompt;
    uint64_t rng = seed;
    for (int r = 0; rc == KK_OK && r < rounds && (int64_t)(n + (size_t)max_draft + 1) < n_ctx;
         r++) {
        int k1 = 0, k2 = 0;
        rc = spec_model_propose(&inc, hist, n, d1, max_draft, &k1, err);
        /* from scratch: the prompt as one feed, then one token at a time */
        if (rc == KK_OK)
            rc = spec_model_init(&fresh, m, n_ctx, kv_f16, err);
        for (size_t j = n_prompt; rc == KK_OK && j <= n; j++)
            rc = spec_model_propose(&fresh, hist, j, d2, j == n ? max_draft : 1, &k2, err);
        spec_model_free(&fresh);
        if (rc != KK_OK)
            break;
        for (int i = 0; i < k1 && i < k2; i++)
            *mismatches += d1[i] != d2[i];
        *mismatches += k1 > k2 ? k1 - k2 : k2 - k1;
        *compared += k1 > k2 ? k1 : k2;
        /* the verifier accepts a random prefix, then corrects with its own token */
        const int acc = (int)(kk_splitmix64(&rng) % (uint64_t)(k1 + 1));
        for (int i = 0; i < acc; i++)
            hist[n++] = d1[i];
        hist[n++] = (int32_t)(kk_splitmix64(&rng) % (uint64_t)m->hp.n_vocab);
    }
    spec_model_free(&inc);
    free(hist);
    free(d1);
    free(d2);
    return rc;
}
