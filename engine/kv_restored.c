/* kv_restored: a bounded cache with evicted positions put back in its
 * views (see kv_restored.h). */
#include "kv_restored.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftheta.h"
#include "kk_stats.h"
#include "kv_sinkwin.h"
#include "ops.h"

typedef struct kv_restored {
    kv_cache base;
    kv_cache *bounded;      /* the kv_sinkwin the verifier keeps */
    kv_cache *store;        /* every row appended (identity's source, mix's true
                               rows, the error's oracle); NULL for none */
    kv_restore_mode mode;
    int32_t n_sink, window;
    int64_t k_row, v_row;
    float *k, *v;           /* (n_ctx, row) the assembled view */
    int32_t *pos;           /* (n_ctx) */
    uint8_t *have;          /* (n_ctx) row t came from the bounded cache */
    uint8_t *rest;          /* (n_ctx) !have: the view's restored flags */
    int64_t *len;           /* (n_layers) rows appended per layer (a forward pass
                               views a layer before the next one is appended) */
    uint64_t restored;
    size_t bytes_scratch;
    /* ftheta, mix */
    kv_restore_ftheta ft;
    float *px, *pv;         /* (n_ctx, din) the proposer's rows, put by the caller */
    int64_t n_prop;         /* rows put */
    float *rk, *rv;         /* (n_ctx, dout) restored rows, every layer, K rotated */
    int64_t n_done;         /* positions [0, n_done) restored */
    double ftheta_s;        /* wall clock in f_theta and its RoPE */
    float *inv_freq;        /* (n_rot / 2) */
} kv_restored;

static kk_code rs_append(kv_cache *c, int32_t layer, const float *k, const float *v,
                         const int32_t *pos, int64_t n, kk_err *err)
{
    kv_restored *r = (kv_restored *)c;
    /* the assembled view, the store and the restored rows hold n_ctx rows:
     * restoring modes are bounded by it (none is the bounded cache alone) */
    if (r->mode != KV_RESTORE_NONE && (n < 0 || r->len[layer] + n > c->cfg.n_ctx))
        return kk_err_set(err, KK_E_LIMIT, "kv restored: appending %lld rows to %lld exceeds the "
                          "capacity of %lld", (long long)n, (long long)r->len[layer],
                          (long long)c->cfg.n_ctx);
    KK_TRY(kv_append(r->bounded, layer, k, v, pos, n, err));
    if (r->store)
        KK_TRY(kv_append(r->store, layer, k, v, pos, n, err));
    r->len[layer] += n;
    return KK_OK;
fail:
    return err && err->code != KK_OK ? err->code : KK_E_INTERNAL;
}

/* Restored rows of positions [n_done, upto), every layer: f_theta of the
 * proposer's rows, K rotated at its position (the rows' positions are the
 * append indices). Mix blends in the true rows at view time, layer by
 * layer: a forward pass views a layer before the next layer's rows exist. */
static kk_code ensure_restored(kv_restored *r, int64_t upto, kk_err *err)
{
    if (upto <= r->n_done)
        return KK_OK;
    if (upto > r->n_prop)
        return kk_err_set(err, KK_E_RANGE, "kv restored: position %lld has no proposer rows "
                          "(%lld put; kv_restored_put_proposer before the verifier appends)",
                          (long long)(upto - 1), (long long)r->n_prop);
    const ftheta *fk = r->ft.k, *fv = r->ft.v;
    const int64_t n = upto - r->n_done, t0 = r->n_done;
    const kv_config *cfg = &r->base.cfg;
    const double c0 = kk_now_s();
    ftheta_apply(fk, r->px + t0 * fk->din, n, r->rk + t0 * fk->dout);
    ftheta_apply(fv, r->pv + t0 * fv->din, n, r->rv + t0 * fv->dout);
    for (int64_t t = t0; t < upto; t++)
        for (int32_t l = 0; l < cfg->n_layers; l++)
            for (int32_t h = 0; h < cfg->n_kv_heads; h++)
                ops_rope(r->rk + t * fk->dout + l * r->k_row + (int64_t)h * cfg->head_dim_k,
                         r->ft.n_rot, (int32_t)t, r->inv_freq, r->ft.rope_neox);
    r->n_done = upto;
    r->ftheta_s += kk_now_s() - c0;
    return KK_OK;
}

static kk_code rs_view(kv_cache *c, int32_t layer, kv_view *out, kk_err *err)
{
    kv_restored *r = (kv_restored *)c;
    if (r->mode == KV_RESTORE_NONE)
        return kv_view_layer(r->bounded, layer, out, err);
    kv_view b, s = {0};
    KK_TRY(kv_view_layer(r->bounded, layer, &b, err));
    const int64_t len = r->len[layer];
    if (r->store)
        KK_TRY(kv_view_layer(r->store, layer, &s, err));
    /* Only the rows this view restores, [n_sink, len - window): each row
     * is restored when it is first evicted, so its bytes do not depend on
     * how many rows the call that appended it carried (f_theta's products
     * sum a batch of rows otherwise than one row: OpenBLAS's sgemm at rank
     * 16 already). With the split of kv_invariant_rows, a decode step and
     * a verify call evict (and restore) the same rows, one at a time. */
    if (r->mode == KV_RESTORE_FTHETA || r->mode == KV_RESTORE_MIX)
        KK_TRY(ensure_restored(r, len > r->window ? len - r->window : 0, err));
    /* the rows the bounded cache holds, at their positions (the forward
     * pass appends position t as row t; slots a rollback dropped carry
     * INT32_MAX and are skipped) */
    memset(r->have, 0, (size_t)len);
    for (int64_t j = 0; j < b.n; j++) {
        const int32_t p = b.pos[j];
        /* sinks and the newest query's window only: rows the ring still
         * holds as slack are restored like any evicted row, so what is
         * restored does not depend on the slack */
        if (p < 0 || p >= len || (p >= r->n_sink && p < len - r->window))
            continue;
        memcpy(r->k + (int64_t)p * r->k_row, b.k + j * b.k_stride,
               (size_t)r->k_row * sizeof(float));
        memcpy(r->v + (int64_t)p * r->v_row, b.v + j * b.v_stride,
               (size_t)r->v_row * sizeof(float));
        r->have[p] = 1;
    }
    /* every other row from the source: identity the rows kept aside,
     * ftheta and mix the restored rows of this layer */
    for (int64_t t = 0; t < len; t++) {
        r->pos[t] = (int32_t)t;
        r->rest[t] = !r->have[t];
        if (r->have[t])
            continue;
        const float *sk, *sv;
        if (r->mode == KV_RESTORE_IDENTITY) {
            sk = s.k + t * s.k_stride;
            sv = s.v + t * s.v_stride;
        } else {
            sk = r->rk + t * r->ft.k->dout + (int64_t)layer * r->k_row;
            sv = r->rv + t * r->ft.v->dout + (int64_t)layer * r->v_row;
        }
        float *dk = r->k + t * r->k_row, *dv = r->v + t * r->v_row;
        if (r->mode == KV_RESTORE_MIX) {
            /* alpha * true + (1 - alpha) * f_theta; post-RoPE rows: RoPE is
             * linear, so this is the rotation of the blend */
            const double a = r->ft.alpha;
            const float *tk = s.k + t * s.k_stride, *tv = s.v + t * s.v_stride;
            for (int64_t i = 0; i < r->k_row; i++)
                dk[i] = (float)(a * tk[i] + (1.0 - a) * sk[i]);
            for (int64_t i = 0; i < r->v_row; i++)
                dv[i] = (float)(a * tv[i] + (1.0 - a) * sv[i]);
        } else {
            memcpy(dk, sk, (size_t)r->k_row * sizeof(float));
            memcpy(dv, sv, (size_t)r->v_row * sizeof(float));
        }
        r->restored++;
    }
    *out = (kv_view){.n = len, .k = r->k, .v = r->v, .pos = r->pos, .k_stride = r->k_row,
                     .v_stride = r->v_row, .restored = r->rest};
    return KK_OK;
fail:
    return err && err->code != KK_OK ? err->code : KK_E_INTERNAL;
}

static kk_code rs_truncate(kv_cache *c, int64_t n_tokens, bool check_only, kk_err *err)
{
    kv_restored *r = (kv_restored *)c;
    KK_TRY(kv_truncate_check(r->bounded, n_tokens, err));
    if (check_only)
        return KK_OK;
    KK_TRY(kv_truncate(r->bounded, n_tokens, err));
    if (r->store)
        KK_TRY(kv_truncate(r->store, n_tokens, err));
    for (int32_t l = 0; l < c->cfg.n_layers; l++)
        if (r->len[l] > n_tokens)
            r->len[l] = n_tokens;
    if (r->n_done > n_tokens)
        r->n_done = n_tokens;
    if (r->n_prop > n_tokens)
        r->n_prop = n_tokens;
    return KK_OK;
fail:
    return err && err->code != KK_OK ? err->code : KK_E_INTERNAL;
}

static int64_t rs_n_tokens(const kv_cache *c)
{
    return kv_n_tokens(((const kv_restored *)c)->bounded);
}

static size_t rs_bytes(const kv_cache *c)
{
    return kv_bytes_resident(((const kv_restored *)c)->bounded);
}

static void rs_free(kv_cache *c)
{
    kv_restored *r = (kv_restored *)c;
    kv_free(r->bounded);
    kv_free(r->store);
    free(r->k);
    free(r->v);
    free(r->pos);
    free(r->have);
    free(r->rest);
    free(r->px);
    free(r->pv);
    free(r->rk);
    free(r->rv);
    free(r->inv_freq);
    free(r->len);
    free(r);
}

/* ftheta and mix restore a row once it leaves the NEWEST row's window,
 * where an earlier query of the same call still saw it as stored: a call
 * may carry several rows only while no non-sink row has left the last
 * one's window (len + n <= sinks + window). none and identity show every
 * row as stored (identity's restored rows are the stored ones). */
static int64_t rs_invariant_rows(const kv_cache *c, int64_t n)
{
    const kv_restored *r = (const kv_restored *)c;
    if (r->mode != KV_RESTORE_FTHETA && r->mode != KV_RESTORE_MIX)
        return n;
    const int64_t room = (int64_t)r->n_sink + r->window - rs_n_tokens(c);
    return room < 1 ? 1 : room < n ? room : n;
}

static const kv_vtable KV_RESTORED_VT = {
    "restored", rs_append, rs_view, rs_truncate, rs_n_tokens, rs_bytes, rs_free,
    rs_invariant_rows,
};

kk_code kv_restored_init(kv_cache **out, const kv_config *cfg, int32_t n_sink, int32_t window,
                         kv_restore_mode mode, const kv_restore_ftheta *ft, kk_err *err)
{
    *out = NULL;
    const bool uses_f = mode == KV_RESTORE_FTHETA || mode == KV_RESTORE_MIX;
    if (mode < KV_RESTORE_NONE || mode > KV_RESTORE_MIX)
        return kk_err_set(err, KK_E_RANGE, "kv restored: mode %d unknown (allowed: none, "
                          "identity, ftheta, mix)", (int)mode);
    const int64_t k_row = (int64_t)cfg->n_kv_heads * cfg->head_dim_k;
    const int64_t v_row = (int64_t)cfg->n_kv_heads * cfg->head_dim_v;
    if (uses_f && (!ft || !ft->k || !ft->v || ft->k->dout != cfg->n_layers * k_row ||
                   ft->v->dout != cfg->n_layers * v_row || ft->n_rot < 0 ||
                   ft->n_rot > cfg->head_dim_k || ft->n_rot % 2 ||
                   !(ft->alpha >= 0 && ft->alpha <= 1)))
        return kk_err_set(err, KK_E_RANGE, "kv restored: f_theta maps missing or not for this "
                          "cache (outputs %lld / %lld; the verifier's layers x rows are %lld / "
                          "%lld), or n_rot or alpha out of range",
                          (long long)(ft && ft->k ? ft->k->dout : 0),
                          (long long)(ft && ft->v ? ft->v->dout : 0),
                          (long long)(cfg->n_layers * k_row), (long long)(cfg->n_layers * v_row));
    kv_restored *r = calloc(1, sizeof *r);
    if (!r)
        return kk_err_set(err, KK_E_NOMEM, "kv restored: out of memory");
    r->base.vt = &KV_RESTORED_VT;
    r->base.cfg = *cfg;
    r->mode = mode;
    r->n_sink = n_sink;
    r->window = window;
    r->k_row = k_row;
    r->v_row = v_row;
    if (uses_f)
        r->ft = *ft;
    kk_code rc = kv_sinkwin_init(&r->bounded, cfg, n_sink, window, err);
    r->len = calloc((size_t)cfg->n_layers, sizeof *r->len);
    if (rc == KK_OK && !r->len)
        rc = kk_err_set(err, KK_E_NOMEM, "kv restored: out of memory");
    if (rc == KK_OK && mode != KV_RESTORE_NONE) {
        rc = kv_full_init(&r->store, cfg, err);
        const int64_t N = cfg->n_ctx;
        r->k = kv_alloc_f32(N * r->k_row);
        r->v = kv_alloc_f32(N * r->v_row);
        r->pos = malloc((size_t)N * sizeof *r->pos);
        r->have = malloc((size_t)N);
        r->rest = malloc((size_t)N);
        bool ok = r->k && r->v && r->pos && r->have && r->rest;
        r->bytes_scratch = (size_t)(N * (r->k_row + r->v_row)) * sizeof(float) +
                           (size_t)N * (sizeof(int32_t) + 2);
        if (uses_f) {
            r->px = malloc((size_t)(N * ft->k->din) * sizeof(float));
            r->pv = malloc((size_t)(N * ft->v->din) * sizeof(float));
            r->rk = malloc((size_t)(N * ft->k->dout) * sizeof(float));
            r->rv = malloc((size_t)(N * ft->v->dout) * sizeof(float));
            r->inv_freq = malloc((size_t)(ft->n_rot / 2 + 1) * sizeof(float));
            ok = ok && r->px && r->pv && r->rk && r->rv && r->inv_freq;
            if (r->inv_freq)
                ops_rope_freqs(r->inv_freq, ft->n_rot, ft->rope_base);
            r->bytes_scratch += (size_t)(N * (ft->k->dout + ft->v->dout)) * sizeof(float);
        }
        if (rc == KK_OK && !ok)
            rc = kk_err_set(err, KK_E_NOMEM, "kv restored: out of memory for a %lld-row view",
                            (long long)N);
    }
    if (rc != KK_OK) {
        rs_free(&r->base);
        return rc;
    }
    *out = &r->base;
    return KK_OK;
}

kk_code kv_restored_put_proposer(kv_cache *c, int64_t at, const float *k, const float *v,
                                 int64_t n, kk_err *err)
{
    if (c->vt != &KV_RESTORED_VT)
        return kk_err_set(err, KK_E_USAGE, "kv restored: not a restored cache");
    kv_restored *r = (kv_restored *)c;
    if (!r->px)
        return kk_err_set(err, KK_E_USAGE, "kv restored: proposer rows need mode ftheta or mix");
    if (at != r->n_prop || n < 0 || n > c->cfg.n_ctx - at)
        return kk_err_set(err, KK_E_RANGE, "kv restored: proposer rows %lld..%lld do not continue "
                          "the %lld stored (capacity %lld)", (long long)at,
                          (long long)(at + n - 1), (long long)r->n_prop, (long long)c->cfg.n_ctx);
    memcpy(r->px + at * r->ft.k->din, k, (size_t)(n * r->ft.k->din) * sizeof(float));
    memcpy(r->pv + at * r->ft.v->din, v, (size_t)(n * r->ft.v->din) * sizeof(float));
    r->n_prop = at + n;
    return KK_OK;
}

size_t kv_restored_bytes_proposer(const kv_cache *c)
{
    const kv_restored *r = (const kv_restored *)c;
    if (c->vt != &KV_RESTORED_VT || !r->px)
        return 0;
    return (size_t)(c->cfg.n_ctx * (r->ft.k->din + r->ft.v->din)) * sizeof(float);
}

kk_code kv_restored_error(kv_cache *c, int32_t layer, double *ek, double *rk, double *ev,
                          double *rv, int64_t *n, kk_err *err)
{
    *ek = *rk = *ev = *rv = 0;
    *n = 0;
    if (c->vt != &KV_RESTORED_VT || ((kv_restored *)c)->mode == KV_RESTORE_NONE)
        return kk_err_set(err, KK_E_USAGE, "kv restored: an error needs a restoring mode");
    kv_restored *r = (kv_restored *)c;
    if (layer < 0 || layer >= c->cfg.n_layers)
        return kk_err_set(err, KK_E_RANGE, "kv restored: layer %d out of range", (int)layer);
    /* the view assembles the layer's rows: sinks and window from the
     * bounded cache, every other row restored (rs_view) */
    kv_view vw, s;
    KK_TRY(rs_view(c, layer, &vw, err));
    KK_TRY(kv_view_layer(r->store, layer, &s, err));
    const int64_t len = r->len[layer];
    for (int64_t t = r->n_sink; t < len - r->window; t++) {
        for (int64_t i = 0; i < r->k_row; i++) {
            const double tr = s.k[t * s.k_stride + i], d = vw.k[t * vw.k_stride + i] - tr;
            *ek += d * d;
            *rk += tr * tr;
        }
        for (int64_t i = 0; i < r->v_row; i++) {
            const double tr = s.v[t * s.v_stride + i], d = vw.v[t * vw.v_stride + i] - tr;
            *ev += d * d;
            *rv += tr * tr;
        }
        (*n)++;
    }
    return KK_OK;
fail:
    return err && err->code != KK_OK ? err->code : KK_E_INTERNAL;
}

uint64_t kv_restored_positions(const kv_cache *c)
{
    return c->vt == &KV_RESTORED_VT ? ((const kv_restored *)c)->restored : 0;
}

double kv_restored_ftheta_s(const kv_cache *c)
{
    return c->vt == &KV_RESTORED_VT ? ((const kv_restored *)c)->ftheta_s : 0.0;
}

size_t kv_restored_bytes_store(const kv_cache *c)
{
    const kv_restored *r = (const kv_restored *)c;
    return c->vt == &KV_RESTORED_VT && r->store ? kv_bytes_resident(r->store) : 0;
}

size_t kv_restored_bytes_scratch(const kv_cache *c)
{
    return c->vt == &KV_RESTORED_VT ? ((const kv_restored *)c)->bytes_scratch : 0;
}

kk_code kv_restore_parse(const char *text, kv_restore_mode *mode, double *alpha, kk_err *err)
{
    static const char *const names[] = {"none", "identity", "ftheta"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(text, names[i])) {
            *mode = (kv_restore_mode)i;
            *alpha = 0.0;
            return KK_OK;
        }
    if (!strncmp(text, "mix:", 4)) {
        char *end = NULL;
        errno = 0;
        const double a = strtod(text + 4, &end);
        if (text[4] && end && !*end && !errno && a >= 0.0 && a <= 1.0) {
            *mode = KV_RESTORE_MIX;
            *alpha = a;
            return KK_OK;
        }
    }
    return kk_err_set(err, KK_E_RANGE, "restore mode '%.64s' (allowed: none, identity, ftheta, "
                      "mix:A with A in [0, 1])", text);
}

void kv_restore_format(kv_restore_mode mode, double alpha, char *buf, size_t cap)
{
    if (mode == KV_RESTORE_MIX)
        snprintf(buf, cap, "mix:%g", alpha);
    else
        snprintf(buf, cap, "%s", mode == KV_RESTORE_IDENTITY ? "identity"
                                 : mode == KV_RESTORE_FTHETA ? "ftheta" : "none");
}
