/* ftheta_calib: calibration of an f_theta pair (see ftheta_calib.h). */
#include "ftheta_calib.h"

#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "kk_rand.h"
#include "kk_stats.h"
#include "kv.h"
#include "niah.h"

/* One model's forward state, cache and capture over a sequence. */
typedef struct runner {
    const model *m;
    fwd_state *st;
    kv_cache *kv;
    float *k_pre, *v;   /* (n_layers, seq_len, row) */
    int64_t kd, vd;     /* K and V row widths */
} runner;

static void runner_free(runner *r)
{
    fwd_free(r->st);
    kv_free(r->kv);
    free(r->k_pre);
    free(r->v);
}

static kk_code runner_init(runner *r, const model *m, int64_t seq_len, kk_err *err)
{
    memset(r, 0, sizeof *r);
    const model_hparams *hp = &m->hp;
    r->m = m;
    r->kd = (int64_t)hp->n_kv_heads * hp->head_dim_k;
    r->vd = (int64_t)hp->n_kv_heads * hp->head_dim_v;
    const kv_config cfg = {hp->n_layers, hp->n_kv_heads, hp->head_dim_k, hp->head_dim_v,
                           seq_len, 0};
    KK_TRY(fwd_init(&r->st, m, seq_len < NIAH_BATCH ? seq_len : NIAH_BATCH, seq_len, err));
    KK_TRY(kv_full_init(&r->kv, &cfg, err));
    r->k_pre = malloc((size_t)(hp->n_layers * seq_len * r->kd) * sizeof(float));
    r->v = malloc((size_t)(hp->n_layers * seq_len * r->vd) * sizeof(float));
    if (!r->k_pre || !r->v)
        return kk_err_set(err, KK_E_NOMEM, "ftheta calibration: out of memory for a %lld-token "
                          "capture", (long long)seq_len);
    return KK_OK;
fail:
    return err && err->code != KK_OK ? err->code : KK_E_NOMEM;
}

static kk_code runner_run(runner *r, const int32_t *tokens, int64_t n, kk_err *err)
{
    KK_TRY(kv_truncate(r->kv, 0, err));
    const fwd_capture cap = {.k_pre = r->k_pre, .v = r->v};
    return fwd_run(r->st, r->kv, tokens, NULL, n, FWD_LOGITS_NONE, NULL, &cap, err);
fail:
    return err && err->code != KK_OK ? err->code : KK_E_INTERNAL;
}


/* Sequence i of the calibration data. */
static kk_code make_seq(const ftheta_calib_opts *o, int64_t i, int32_t *tokens, kk_err *err)
{
    uint64_t st = o->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
    const uint64_t seed = kk_splitmix64(&st);
    const double depth = (double)(kk_splitmix64(&st) >> 11) / 9007199254740992.0;
    niah_sample s = {.tokens = tokens, .ctx = o->seq_len};
    return niah_sample_make(&s, depth, o->distractors, seed, err);
}

typedef struct pass {
    double ek, rk, ev, rv; /* error and reference sums (rel_mse = e / r) */
} pass;

static void add_err(const ftheta *f, const float *x, const float *y, int64_t n, float *scratch,
                    double *e, double *r)
{
    ftheta_apply(f, x, n, scratch);
    for (int64_t i = 0; i < n * f->dout; i++) {
        const double d = (double)scratch[i] - y[i];
        *e += d * d;
        *r += (double)y[i] * y[i];
    }
}

kk_code ftheta_calibrate(const model *verifier, const model *proposer,
                         const ftheta_calib_opts *o, ftheta **k, ftheta **v, ftheta_meta *meta,
                         kk_err *err)
{
    *k = *v = NULL;
    memset(meta, 0, sizeof *meta);
    if (o->n_seq < 1 || o->heldout_seq < 1 || o->seq_len < NIAH_MIN_CTX ||
        o->seq_len > NIAH_MAX_CTX || o->distractors < 0 || o->distractors > 63)
        return kk_err_set(err, KK_E_RANGE, "ftheta calibration: %lld sequences (>= 1), %lld held "
                          "out (>= 1), %lld tokens each (%d..%d), %d distractors (0..63)",
                          (long long)o->n_seq, (long long)o->heldout_seq, (long long)o->seq_len,
                          NIAH_MIN_CTX, NIAH_MAX_CTX, (int)o->distractors);
    if (verifier->hp.n_vocab != proposer->hp.n_vocab)
        return kk_err_set(err, KK_E_RANGE, "ftheta calibration: the proposer's vocabulary has %d "
                          "tokens, the verifier's %d (they must be the same)",
                          (int)proposer->hp.n_vocab, (int)verifier->hp.n_vocab);
    const int32_t Lp = proposer->hp.n_layers, Lv = verifier->hp.n_layers;
    runner rp, rv;
    memset(&rp, 0, sizeof rp);
    memset(&rv, 0, sizeof rv);
    ftheta_acc *ak = NULL, *av = NULL;
    int32_t *tokens = malloc((size_t)o->seq_len * sizeof *tokens);
    float *xk = NULL, *yk = NULL, *xv = NULL, *yv = NULL, *scratch = NULL;
    kk_code rc = runner_init(&rp, proposer, o->seq_len, err);
    if (rc == KK_OK)
        rc = runner_init(&rv, verifier, o->seq_len, err);
    const int64_t dxk = Lp * rp.kd, dyk = Lv * rv.kd, dxv = Lp * rp.vd, dyv = Lv * rv.vd;
    if (rc == KK_OK)
        rc = ftheta_acc_init(&ak, dxk, dyk, err);
    if (rc == KK_OK)
        rc = ftheta_acc_init(&av, dxv, dyv, err);
    if (rc == KK_OK) {
        const int64_t n = o->seq_len;
        xk = malloc((size_t)(n * dxk) * sizeof *xk);
        yk = malloc((size_t)(n * dyk) * sizeof *yk);
        xv = malloc((size_t)(n * dxv) * sizeof *xv);
        yv = malloc((size_t)(n * dyv) * sizeof *yv);
        const int64_t wide = dyk > dyv ? dyk : dyv;
        scratch = malloc((size_t)(n * wide) * sizeof *scratch);
        if (!tokens || !xk || !yk || !xv || !yv || !scratch)
            rc = kk_err_set(err, KK_E_NOMEM, "ftheta calibration: out of memory for %lld "
                            "positions of widths %lld / %lld", (long long)n, (long long)dxk,
                            (long long)dyk);
    }
    const int64_t n = o->seq_len;
    /* Runs sequence i through both models and gathers its rows. */
#define RUN_SEQ(i)                                                                   \
    do {                                                                             \
        if (rc == KK_OK)                                                             \
            rc = make_seq(o, (i), tokens, err);                                      \
        if (rc == KK_OK)                                                             \
            rc = runner_run(&rp, tokens, n, err);                                    \
        if (rc == KK_OK)                                                             \
            rc = runner_run(&rv, tokens, n, err);                                    \
        if (rc == KK_OK) {                                                           \
            fwd_capture_rows(rp.k_pre, Lp, n, rp.kd, xk);                                      \
            fwd_capture_rows(rv.k_pre, Lv, n, rv.kd, yk);                                      \
            fwd_capture_rows(rp.v, Lp, n, rp.vd, xv);                                          \
            fwd_capture_rows(rv.v, Lv, n, rv.vd, yv);                                          \
        }                                                                            \
    } while (0)
    for (int64_t i = 0; i < o->n_seq && rc == KK_OK; i++) {
        RUN_SEQ(i);
        if (rc == KK_OK) {
            ftheta_acc_add(ak, xk, yk, n);
            ftheta_acc_add(av, xv, yv, n);
        }
    }
    if (rc == KK_OK) {
        const double t0 = kk_now_s();
        rc = ftheta_acc_fit(ak, o->rank, o->lambda, k, err);
        if (rc == KK_OK)
            rc = ftheta_acc_fit(av, o->rank, o->lambda, v, err);
        meta->fit_s = kk_now_s() - t0;
    }
    pass tr = {0}, ho = {0};
    for (int64_t i = 0; i < o->n_seq + o->heldout_seq && rc == KK_OK; i++) {
        RUN_SEQ(i);
        if (rc != KK_OK)
            break;
        pass *p = i < o->n_seq ? &tr : &ho;
        add_err(*k, xk, yk, n, scratch, &p->ek, &p->rk);
        add_err(*v, xv, yv, n, scratch, &p->ev, &p->rv);
    }
#undef RUN_SEQ
    if (rc == KK_OK) {
        meta->calib_seed = o->seed;
        meta->calib_positions = o->n_seq * n;
        meta->rel_mse_train_k = tr.rk > 0 ? tr.ek / tr.rk : 0;
        meta->rel_mse_train_v = tr.rv > 0 ? tr.ev / tr.rv : 0;
        meta->rel_mse_heldout_k = ho.rk > 0 ? ho.ek / ho.rk : 0;
        meta->rel_mse_heldout_v = ho.rv > 0 ? ho.ev / ho.rv : 0;
    }
    runner_free(&rp);
    runner_free(&rv);
    ftheta_acc_free(ak);
    ftheta_acc_free(av);
    free(tokens);
    free(xk);
    free(yk);
    free(xv);
    free(yv);
    free(scratch);
    if (rc != KK_OK) {
        ftheta_free(*k);
        ftheta_free(*v);
        *k = *v = NULL;
    }
    return rc;
}
