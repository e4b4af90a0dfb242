/* kv_restored: a bounded cache with evicted positions put back in its
 * views (see kv_restored.h). */
#include "kv_restored.h"

#include <stdlib.h>
#include <string.h>

#include "kv_sinkwin.h"

typedef struct kv_restored {
    kv_cache base;
    kv_cache *bounded;      /* the kv_sinkwin the verifier keeps */
    kv_cache *store;        /* identity: a full cache of every row appended */
    kv_restore_mode mode;
    int32_t n_sink, window;
    int64_t k_row, v_row;
    float *k, *v;           /* (n_ctx, row) the assembled view */
    int32_t *pos;           /* (n_ctx) */
    uint8_t *have;          /* (n_ctx) row t came from the bounded cache */
    uint64_t restored;
    size_t bytes_scratch;
} kv_restored;

static kk_code rs_append(kv_cache *c, int32_t layer, const float *k, const float *v,
                         const int32_t *pos, int64_t n, kk_err *err)
{
    kv_restored *r = (kv_restored *)c;
    if (r->store && kv_n_tokens(r->store) + n > c->cfg.n_ctx)
        return kk_err_set(err, KK_E_LIMIT, "kv restored: appending %lld rows exceeds the "
                          "capacity of %lld", (long long)n, (long long)c->cfg.n_ctx);
    KK_TRY(kv_append(r->bounded, layer, k, v, pos, n, err));
    if (r->store)
        KK_TRY(kv_append(r->store, layer, k, v, pos, n, err));
    return KK_OK;
fail:
    return err && err->code != KK_OK ? err->code : KK_E_INTERNAL;
}

static kk_code rs_view(kv_cache *c, int32_t layer, kv_view *out, kk_err *err)
{
    kv_restored *r = (kv_restored *)c;
    if (r->mode == KV_RESTORE_NONE)
        return kv_view_layer(r->bounded, layer, out, err);
    kv_view b, s;
    KK_TRY(kv_view_layer(r->bounded, layer, &b, err));
    KK_TRY(kv_view_layer(r->store, layer, &s, err));
    const int64_t len = s.n;
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
    /* every other row from the source (identity: the rows kept aside) */
    for (int64_t t = 0; t < len; t++) {
        r->pos[t] = s.pos[t];
        if (r->have[t])
            continue;
        memcpy(r->k + t * r->k_row, s.k + t * s.k_stride, (size_t)r->k_row * sizeof(float));
        memcpy(r->v + t * r->v_row, s.v + t * s.v_stride, (size_t)r->v_row * sizeof(float));
        r->restored++;
    }
    *out = (kv_view){.n = len, .k = r->k, .v = r->v, .pos = r->pos, .k_stride = r->k_row,
                     .v_stride = r->v_row};
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
    free(r);
}

static const kv_vtable KV_RESTORED_VT = {
    "restored", rs_append, rs_view, rs_truncate, rs_n_tokens, rs_bytes, rs_free,
};

kk_code kv_restored_init(kv_cache **out, const kv_config *cfg, int32_t n_sink, int32_t window,
                         kv_restore_mode mode, kk_err *err)
{
    *out = NULL;
    if (mode != KV_RESTORE_NONE && mode != KV_RESTORE_IDENTITY)
        return kk_err_set(err, KK_E_RANGE, "kv restored: mode %d unknown (allowed: none, "
                          "identity)", (int)mode);
    kv_restored *r = calloc(1, sizeof *r);
    if (!r)
        return kk_err_set(err, KK_E_NOMEM, "kv restored: out of memory");
    r->base.vt = &KV_RESTORED_VT;
    r->base.cfg = *cfg;
    r->mode = mode;
    r->n_sink = n_sink;
    r->window = window;
    r->k_row = (int64_t)cfg->n_kv_heads * cfg->head_dim_k;
    r->v_row = (int64_t)cfg->n_kv_heads * cfg->head_dim_v;
    kk_code rc = kv_sinkwin_init(&r->bounded, cfg, n_sink, window, err);
    if (rc == KK_OK && mode == KV_RESTORE_IDENTITY) {
        rc = kv_full_init(&r->store, cfg, err);
        if (rc == KK_OK) {
            r->k = kv_alloc_f32(cfg->n_ctx * r->k_row);
            r->v = kv_alloc_f32(cfg->n_ctx * r->v_row);
            r->pos = malloc((size_t)cfg->n_ctx * sizeof *r->pos);
            r->have = malloc((size_t)cfg->n_ctx);
            if (!r->k || !r->v || !r->pos || !r->have)
                rc = kk_err_set(err, KK_E_NOMEM, "kv restored: out of memory for a %lld-row "
                                "view", (long long)cfg->n_ctx);
            r->bytes_scratch = (size_t)(cfg->n_ctx * (r->k_row + r->v_row)) * sizeof(float) +
                               (size_t)cfg->n_ctx * (sizeof(int32_t) + 1);
        }
    }
    if (rc != KK_OK) {
        rs_free(&r->base);
        return rc;
    }
    *out = &r->base;
    return KK_OK;
}

uint64_t kv_restored_positions(const kv_cache *c)
{
    return c->vt == &KV_RESTORED_VT ? ((const kv_restored *)c)->restored : 0;
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
