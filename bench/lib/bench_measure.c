/* bench_measure: see bench_measure.h. */
#include "bench_measure.h"

#include <stdlib.h>

#include "forward.h"
#include "gguf.h"
#include "kk_stats.h"
#include "kv.h"
#include "model.h"

static int32_t argmax(const float *v, int32_t n)
{
    int32_t b = 0;
    for (int32_t i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}

kk_code bench_measure_run(const char *file, const int32_t *ids, int n_ids, bool kv_f16,
                          bench_measure_result *out, const char **what, kk_err *err)
{
    return bench_measure_run_mode(file, ids, n_ids, kv_f16, false, out, what, err);
}

kk_code bench_measure_run_mode(const char *file, const int32_t *ids, int n_ids, bool kv_f16,
                               bool invariant, bench_measure_result *out, const char **what,
                               kk_err *err)
{
    const char *step = "load";
    gguf_file *f = NULL;
    model *m = NULL;
    kv_cache *kv = NULL;
    fwd_state *st = NULL;
    float *logits = NULL;
    kk_code rc = KK_OK;
    if (n_ids <= 16 || n_ids + BENCH_MEASURE_DECODE > BENCH_MEASURE_CTX) {
        rc = kk_err_set(err, KK_E_RANGE, "bench measure: %d prompt ids (allowed 17..%d)", n_ids,
                        BENCH_MEASURE_CTX - BENCH_MEASURE_DECODE);
        goto done;
    }
    const double t0 = kk_now_s();
    if ((rc = gguf_open(&f, file, err)) != KK_OK || (rc = model_load(&m, f, err)) != KK_OK)
        goto done;
    model_set_act(m, OPS_ACT_GGML);
    const model_hparams *hp = &m->hp;
    const kv_config cfg = {hp->n_layers, hp->n_kv_heads, hp->head_dim_k, hp->head_dim_v,
                           BENCH_MEASURE_CTX, 0};
    step = "init";
    if ((rc = kv_f16 ? kv_full_f16_init(&kv, &cfg, err) : kv_full_init(&kv, &cfg, err)) != KK_OK ||
        (rc = fwd_init(&st, m, BENCH_MEASURE_CTX, BENCH_MEASURE_CTX, err)) != KK_OK)
        goto done;
    logits = malloc((size_t)16 * (size_t)hp->n_vocab * sizeof(float));
    if (!logits) {
        rc = kk_err_set(err, KK_E_NOMEM, "out of memory");
        goto done;
    }
    out->load_s = kk_now_s() - t0;
    step = "prefill";
    double t = kk_now_s();
    if ((rc = fwd_run(st, kv, ids, NULL, n_ids, FWD_LOGITS_LAST, logits, NULL, err)) != KK_OK)
        goto done;
    int32_t next = argmax(logits, hp->n_vocab);
    out->prefill_s = kk_now_s() - t;
    step = "decode";
    t = kk_now_s();
    for (int i = 0; i < BENCH_MEASURE_DECODE; i++) {
        if ((rc = fwd_run(st, kv, &next, NULL, 1, FWD_LOGITS_LAST, logits, NULL, err)) != KK_OK)
            goto done;
        next = argmax(logits, hp->n_vocab);
    }
    out->decode_s = kk_now_s() - t;
    step = "verify";
    fwd_set_batch_invariant(st, invariant);
    for (int li = 0; li < BENCH_MEASURE_N_VERIFY; li++) {
        const int L = 2 << li;
        double r[BENCH_MEASURE_VERIFY_REPS];
        for (int k = 0; k < BENCH_MEASURE_VERIFY_REPS; k++) {
            if ((rc = kv_truncate(kv, n_ids, err)) != KK_OK)
                goto done;
            t = kk_now_s();
            if ((rc = fwd_run(st, kv, ids + 1, NULL, L, FWD_LOGITS_ALL, logits, NULL, err)) !=
                KK_OK)
                goto done;
            r[k] = kk_now_s() - t;
        }
        out->verify_s[li] = kk_median(r, BENCH_MEASURE_VERIFY_REPS);
    }
done:
    if (what)
        *what = step;
    free(logits);
    fwd_free(st);
    kv_free(kv);
    model_free(m);
    gguf_close(f);
    return rc;
}
