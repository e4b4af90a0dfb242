/* kv: the dispatch of kv.h and the full caches (F32 and F16). */
#include "kv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

/* ---- dispatch ---------------------------------------------------------- */

kk_code kv_append(kv_cache *c, int32_t layer, const float *k, const float *v,
                  const int32_t *pos, int64_t n, kk_err *err)
{
    if (layer < 0 || layer >= c->cfg.n_layers)
        return kk_err_set(err, KK_E_RANGE, "kv %s: layer %d out of range (0..%d)",
                          c->vt->name, (int)layer, (int)c->cfg.n_layers - 1);
    return c->vt->append(c, layer, k, v, pos, n, err);
}

kk_code kv_view_layer(kv_cache *c, int32_t layer, kv_view *out, kk_err *err)
{
    if (layer < 0 || layer >= c->cfg.n_layers)
        return kk_err_set(err, KK_E_RANGE, "kv %s: layer %d out of range (0..%d)",
                          c->vt->name, (int)layer, (int)c->cfg.n_layers - 1);
    /* fields a cache does not set are zero (no window, nothing restored) */
    *out = (kv_view){0};
    return c->vt->view(c, layer, out, err);
}

kk_code kv_truncate(kv_cache *c, int64_t n_tokens, kk_err *err)
{
    return c->vt->truncate(c, n_tokens < 0 ? 0 : n_tokens, false, err);
}

kk_code kv_truncate_check(kv_cache *c, int64_t n_tokens, kk_err *err)
{
    return c->vt->truncate(c, n_tokens < 0 ? 0 : n_tokens, true, err);
}

int64_t kv_n_tokens(const kv_cache *c) { return c->vt->n_tokens(c); }

int64_t kv_invariant_rows(const kv_cache *c, int64_t n)
{
    if (n <= 1 || !c->vt->invariant_rows)
        return n < 1 ? 1 : n;
    const int64_t m = c->vt->invariant_rows(c, n);
    return m < 1 ? 1 : m > n ? n : m;
}

size_t kv_bytes_resident(const kv_cache *c) { return c->vt->bytes_resident(c); }

void kv_free(kv_cache *c)
{
    if (c)
        c->vt->free(c);
}

/* ---- the full cache ---------------------------------------------------- */

float *kv_alloc_f32(int64_t n)
{
    const size_t bytes = ((size_t)n * sizeof(float) + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes ? bytes : 64);
}

/* The full cache, F32 (kv_full_init) or F16 (kv_full_f16_init): the same
 * layout and bookkeeping, rows of esz-byte elements. */
typedef struct kv_full {
    kv_cache base;
    int64_t k_row, v_row;   /* elements per token row */
    size_t esz;             /* 4: F32 rows, 2: F16 rows */
    uint8_t *k;             /* (n_layers, n_ctx, k_row) elements */
    uint8_t *v;             /* (n_layers, n_ctx, v_row) elements */
    int32_t *pos;           /* (n_layers, n_ctx) */
    int64_t *len;           /* (n_layers) tokens held per layer */
    size_t bytes;
} kv_full;

/* n F32 values into esz-byte elements at dst: a copy, or F16 rounded to
 * nearest even (dtype_f32_to_f16, F16C when the CPU has it). */
static void put_rows(uint8_t *dst, const float *src, int64_t n, size_t esz)
{
    if (esz == sizeof(float))
        memcpy(dst, src, (size_t)n * sizeof(float));
    else
        dtype_f32_to_f16_row(src, (uint16_t *)(void *)dst, (size_t)n);
}

static kk_code full_append(kv_cache *c, int32_t layer, const float *k, const float *v,
                           const int32_t *pos, int64_t n, kk_err *err)
{
    kv_full *f = (kv_full *)c;
    const int64_t cap = c->cfg.n_ctx, len = f->len[layer];
    if (n < 0 || n > cap - len)
        return kk_err_set(err, KK_E_LIMIT,
                          "kv %s: appending %lld tokens to %lld exceeds the capacity of %lld",
                          c->vt->name, (long long)n, (long long)len, (long long)cap);
    put_rows(f->k + (size_t)(((int64_t)layer * cap + len) * f->k_row) * f->esz, k, n * f->k_row,
             f->esz);
    put_rows(f->v + (size_t)(((int64_t)layer * cap + len) * f->v_row) * f->esz, v, n * f->v_row,
             f->esz);
    memcpy(f->pos + (int64_t)layer * cap + len, pos, (size_t)n * sizeof(int32_t));
    f->len[layer] = len + n;
    return KK_OK;
}

static kk_code full_view(kv_cache *c, int32_t layer, kv_view *out, kk_err *err)
{
    (void)err;
    kv_full *f = (kv_full *)c;
    const int64_t cap = c->cfg.n_ctx;
    const void *k = f->k + (size_t)((int64_t)layer * cap * f->k_row) * f->esz;
    const void *v = f->v + (size_t)((int64_t)layer * cap * f->v_row) * f->esz;
    const bool f16 = f->esz != sizeof(float);
    out->n = f->len[layer];
    out->k = f16 ? NULL : (const float *)k;
    out->v = f16 ? NULL : (const float *)v;
    out->k16 = f16 ? (const uint16_t *)k : NULL;
    out->v16 = f16 ? (const uint16_t *)v : NULL;
    out->pos = f->pos + (int64_t)layer * cap;
    out->k_stride = f->k_row;
    out->v_stride = f->v_row;
    out->window = out->n_sink = 0;
    return KK_OK;
}

/* Every row is kept: any rollback is exact. */
static kk_code full_truncate(kv_cache *c, int64_t n_tokens, bool check_only, kk_err *err)
{
    (void)err;
    if (check_only)
        return KK_OK;
    kv_full *f = (kv_full *)c;
    for (int32_t l = 0; l < c->cfg.n_layers; l++)
        if (f->len[l] > n_tokens)
            f->len[l] = n_tokens;
    return KK_OK;
}

static int64_t full_n_tokens(const kv_cache *c)
{
    const kv_full *f = (const kv_full *)c;
    return f->len[c->cfg.n_layers - 1];
}

static size_t full_bytes_resident(const kv_cache *c)
{
    return ((const kv_full *)c)->bytes;
}

static void full_free(kv_cache *c)
{
    kv_full *f = (kv_full *)c;
    free(f->k);
    free(f->v);
    free(f->pos);
    free(f->len);
    free(f);
}

static const kv_vtable KV_FULL_VT = {
    "full", full_append, full_view, full_truncate, full_n_tokens,
    full_bytes_resident, full_free, NULL,
};
static const kv_vtable KV_FULL_F16_VT = {
    "full-f16", full_append, full_view, full_truncate, full_n_tokens,
    full_bytes_resident, full_free, NULL,
};

/* Largest total element count we allocate (2^40 elements = 4 TiB of F32):
 * far past any machine, only there so the products below cannot overflow. */
#define KV_MAX_ELEMS ((int64_t)1 << 40)

/* What full_init's cache of esz-byte elements reports as resident: its rows
 * and positions (kv_full_bytes shares it, so the two cannot disagree). */
static size_t full_bytes(const kv_config *cfg, size_t esz)
{
    const int64_t slots = (int64_t)cfg->n_layers * cfg->n_ctx;
    const int64_t k_row = (int64_t)cfg->n_kv_heads * cfg->head_dim_k;
    const int64_t v_row = (int64_t)cfg->n_kv_heads * cfg->head_dim_v;
    return (size_t)(slots * (k_row + v_row)) * esz + (size_t)slots * sizeof(int32_t);
}

static kk_code full_init(kv_cache **out, const kv_config *cfg, const kv_vtable *vt,
                         size_t esz, kk_err *err)
{
    *out = NULL;
    if (cfg->n_layers < 1 || cfg->n_kv_heads < 1 || cfg->head_dim_k < 1 ||
        cfg->head_dim_v < 1 || cfg->n_ctx < 1 || cfg->n_ctx > INT32_MAX)
        return kk_err_set(err, KK_E_RANGE,
                          "kv %s: bad config (layers %d, kv heads %d, head dims %d/%d, ctx %lld)",
                          vt->name, (int)cfg->n_layers, (int)cfg->n_kv_heads,
                          (int)cfg->head_dim_k, (int)cfg->head_dim_v, (long long)cfg->n_ctx);
    const int64_t k_row = (int64_t)cfg->n_kv_heads * cfg->head_dim_k;
    const int64_t v_row = (int64_t)cfg->n_kv_heads * cfg->head_dim_v;
    const int64_t slots = (int64_t)cfg->n_layers * cfg->n_ctx;
    if (k_row > KV_MAX_ELEMS / slots || v_row > KV_MAX_ELEMS / slots)
        return kk_err_set(err, KK_E_LIMIT, "kv %s: %lld tokens x %d layers is too large",
                          vt->name, (long long)cfg->n_ctx, (int)cfg->n_layers);
    kv_full *f = calloc(1, sizeof *f);
    if (!f)
        return kk_err_set(err, KK_E_NOMEM, "kv %s: out of memory", vt->name);
    f->base.vt = vt;
    f->base.cfg = *cfg;
    f->k_row = k_row;
    f->v_row = v_row;
    f->esz = esz;
    /* 64-byte aligned: malloc's 16-byte offset split every 256-byte head
     * slice over 5 cache lines instead of 4, and attention reads these
     * rows strided, from memory, every decode step (12 layers x 300 x 768
     * F32 K and V: 0.93 against 1.24 ms). (n * esz + 3) / 4 floats hold n
     * elements. */
    f->k = (uint8_t *)kv_alloc_f32((slots * k_row * (int64_t)esz + 3) / 4);
    f->v = (uint8_t *)kv_alloc_f32((slots * v_row * (int64_t)esz + 3) / 4);
    f->pos = malloc((size_t)slots * sizeof(int32_t));
    f->len = calloc((size_t)cfg->n_layers, sizeof(int64_t));
    if (!f->k || !f->v || !f->pos || !f->len) {
        full_free(&f->base);
        return kk_err_set(err, KK_E_NOMEM, "kv %s: out of memory for %lld tokens", vt->name,
                          (long long)cfg->n_ctx);
    }
    f->bytes = full_bytes(cfg, esz);
    *out = &f->base;
    return KK_OK;
}

size_t kv_full_bytes(const kv_config *cfg)
{
    return full_bytes(cfg, sizeof(float));
}

kk_code kv_full_init(kv_cache **out, const kv_config *cfg, kk_err *err)
{
    return full_init(out, cfg, &KV_FULL_VT, sizeof(float), err);
}

kk_code kv_full_f16_init(kv_cache **out, const kv_config *cfg, kk_err *err)
{
    return full_init(out, cfg, &KV_FULL_F16_VT, sizeof(uint16_t), err);
}
