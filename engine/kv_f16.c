/* kv_f16: the full cache with K/V stored as F16 (see kv.h). The layout
 * and the bookkeeping are kv_full's; rows are rounded to F16 on append and
 * handed out as stored, so attention reads half the bytes per step (what
 * llama.cpp's default F16 cache reads). */
#include "kv.h"

#include <stdlib.h>
#include <string.h>

#include "dtype.h"

typedef struct kv_f16 {
    kv_cache base;
    int64_t k_row, v_row;   /* halves per token row */
    uint16_t *k;            /* (n_layers, n_ctx, k_row) */
    uint16_t *v;            /* (n_layers, n_ctx, v_row) */
    int32_t *pos;           /* (n_layers, n_ctx) */
    int64_t *len;           /* (n_layers) tokens held per layer */
    size_t bytes;
} kv_f16;

static kk_code f16_append(kv_cache *c, int32_t layer, const float *k, const float *v,
                          const int32_t *pos, int64_t n, kk_err *err)
{
    kv_f16 *f = (kv_f16 *)c;
    const int64_t cap = c->cfg.n_ctx, len = f->len[layer];
    if (n < 0 || n > cap - len)
        return kk_err_set(err, KK_E_LIMIT,
                          "kv full-f16: appending %lld tokens to %lld exceeds the capacity "
                          "of %lld",
                          (long long)n, (long long)len, (long long)cap);
    dtype_f32_to_f16_row(k, f->k + ((int64_t)layer * cap + len) * f->k_row,
                         (size_t)(n * f->k_row));
    dtype_f32_to_f16_row(v, f->v + ((int64_t)layer * cap + len) * f->v_row,
                         (size_t)(n * f->v_row));
    memcpy(f->pos + (int64_t)layer * cap + len, pos, (size_t)n * sizeof(int32_t));
    f->len[layer] = len + n;
    return KK_OK;
}

static kk_code f16_view(kv_cache *c, int32_t layer, kv_view *out, kk_err *err)
{
    (void)err;
    kv_f16 *f = (kv_f16 *)c;
    const int64_t cap = c->cfg.n_ctx;
    out->n = f->len[layer];
    out->k = out->v = NULL;
    out->k16 = f->k + (int64_t)layer * cap * f->k_row;
    out->v16 = f->v + (int64_t)layer * cap * f->v_row;
    out->pos = f->pos + (int64_t)layer * cap;
    out->k_stride = f->k_row;
    out->v_stride = f->v_row;
    return KK_OK;
}

static void f16_truncate(kv_cache *c, int64_t n_tokens)
{
    kv_f16 *f = (kv_f16 *)c;
    for (int32_t l = 0; l < c->cfg.n_layers; l++)
        if (f->len[l] > n_tokens)
            f->len[l] = n_tokens;
}

static int64_t f16_n_tokens(const kv_cache *c)
{
    const kv_f16 *f = (const kv_f16 *)c;
    return f->len[c->cfg.n_layers - 1];
}

static size_t f16_bytes_resident(const kv_cache *c) { return ((const kv_f16 *)c)->bytes; }

static void f16_free(kv_cache *c)
{
    kv_f16 *f = (kv_f16 *)c;
    free(f->k);
    free(f->v);
    free(f->pos);
    free(f->len);
    free(f);
}

static const kv_vtable KV_F16_VT = {
    "full-f16", f16_append, f16_view, f16_truncate, f16_n_tokens, f16_bytes_resident, f16_free,
};

/* As kv_full's bound: 2^40 elements, so the products below cannot
 * overflow. */
#define KV_F16_MAX_ELEMS ((int64_t)1 << 40)

kk_code kv_full_f16_init(kv_cache **out, const kv_config *cfg, kk_err *err)
{
    *out = NULL;
    if (cfg->n_layers < 1 || cfg->n_kv_heads < 1 || cfg->head_dim_k < 1 ||
        cfg->head_dim_v < 1 || cfg->n_ctx < 1 || cfg->n_ctx > INT32_MAX)
        return kk_err_set(err, KK_E_RANGE,
                          "kv full-f16: bad config (layers %d, kv heads %d, head dims %d/%d, "
                          "ctx %lld)",
                          (int)cfg->n_layers, (int)cfg->n_kv_heads, (int)cfg->head_dim_k,
                          (int)cfg->head_dim_v, (long long)cfg->n_ctx);
    const int64_t k_row = (int64_t)cfg->n_kv_heads * cfg->head_dim_k;
    const int64_t v_row = (int64_t)cfg->n_kv_heads * cfg->head_dim_v;
    const int64_t slots = (int64_t)cfg->n_layers * cfg->n_ctx;
    if (k_row > KV_F16_MAX_ELEMS / slots || v_row > KV_F16_MAX_ELEMS / slots)
        return kk_err_set(err, KK_E_LIMIT, "kv full-f16: %lld tokens x %d layers is too large",
                          (long long)cfg->n_ctx, (int)cfg->n_layers);
    kv_f16 *f = calloc(1, sizeof *f);
    if (!f)
        return kk_err_set(err, KK_E_NOMEM, "kv full-f16: out of memory");
    f->base.vt = &KV_F16_VT;
    f->base.cfg = *cfg;
    f->k_row = k_row;
    f->v_row = v_row;
    /* 64-byte aligned rows (kv_alloc_f32's reason); (n + 1) / 2 floats
     * hold n halves */
    f->k = (uint16_t *)(void *)kv_alloc_f32((slots * k_row + 1) / 2);
    f->v = (uint16_t *)(void *)kv_alloc_f32((slots * v_row + 1) / 2);
    f->pos = malloc((size_t)slots * sizeof(int32_t));
    f->len = calloc((size_t)cfg->n_layers, sizeof(int64_t));
    if (!f->k || !f->v || !f->pos || !f->len) {
        f16_free(&f->base);
        return kk_err_set(err, KK_E_NOMEM, "kv full-f16: out of memory for %lld tokens",
                          (long long)cfg->n_ctx);
    }
    f->bytes = (size_t)(slots * (k_row + v_row)) * sizeof(uint16_t) +
               (size_t)slots * sizeof(int32_t);
    *out = &f->base;
    return KK_OK;
}
