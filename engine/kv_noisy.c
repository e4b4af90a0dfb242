/* kv_noisy: affine round-to-nearest noise in front of a full cache (kv_noisy.h). */
#include "kv_noisy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void kv_noisy_rtn(float *x, int64_t n, int32_t group, int32_t bits)
{
    const float levels = (float)((1u << bits) - 1u);
    for (int64_t g0 = 0; g0 < n; g0 += group) {
        const int64_t m = n - g0 < group ? n - g0 : group;
        float lo = x[g0], hi = x[g0];
        for (int64_t i = 1; i < m; i++) {
            lo = x[g0 + i] < lo ? x[g0 + i] : lo;
            hi = x[g0 + i] > hi ? x[g0 + i] : hi;
        }
        const float scale = (hi - lo) / levels;
        if (!(scale > 0.0f))
            continue; /* a constant group is exact */
        for (int64_t i = 0; i < m; i++) {
            float q = nearbyintf((x[g0 + i] - lo) / scale);
            q = q < 0.0f ? 0.0f : (q > levels ? levels : q);
            x[g0 + i] = lo + q * scale;
        }
    }
}

typedef struct noisy_cache {
    kv_cache base;
    kv_cache *inner; /* the full F32 cache holding the quantized rows */
    int32_t bits;
    int64_t cap_rows;
    float *k, *v;    /* (cap_rows, n_kv_heads * head_dim) scratch */
} noisy_cache;

/* Quantize n rows head by head (each head's dims are its own groups). */
static void noisy_rows(const noisy_cache *c, float *x, int64_t n, int32_t hd)
{
    const int64_t heads = c->base.cfg.n_kv_heads;
    for (int64_t t = 0; t < n; t++)
        for (int64_t h = 0; h < heads; h++)
            kv_noisy_rtn(x + (t * heads + h) * hd, hd, KV_NOISY_GROUP, c->bits);
}

static kk_code noisy_append(kv_cache *base, int32_t layer, const float *k, const float *v,
                            const int32_t *pos, int64_t n, kk_err *err)
{
    noisy_cache *c = (noisy_cache *)base;
    const kv_config *cfg = &base->cfg;
    const int64_t kr = (int64_t)cfg->n_kv_heads * cfg->head_dim_k;
    const int64_t vr = (int64_t)cfg->n_kv_heads * cfg->head_dim_v;
    for (int64_t t0 = 0; t0 < n; t0 += c->cap_rows) {
        const int64_t m = n - t0 < c->cap_rows ? n - t0 : c->cap_rows;
        memcpy(c->k, k + t0 * kr, (size_t)(m * kr) * sizeof(float));
        memcpy(c->v, v + t0 * vr, (size_t)(m * vr) * sizeof(float));
        noisy_rows(c, c->k, m, cfg->head_dim_k);
        noisy_rows(c, c->v, m, cfg->head_dim_v);
        kk_code rc = kv_append(c->inner, layer, c->k, c->v, pos + t0, m, err);
        if (rc != KK_OK)
            return rc;
    }
    return KK_OK;
}

static kk_code noisy_view(kv_cache *base, int32_t layer, kv_view *out, kk_err *err)
{
    return kv_view_layer(((noisy_cache *)base)->inner, layer, out, err);
}

static kk_code noisy_truncate(kv_cache *base, int64_t n, bool check_only, kk_err *err)
{
    kv_cache *inner = ((noisy_cache *)base)->inner;
    return check_only ? kv_truncate_check(inner, n, err) : kv_truncate(inner, n, err);
}

static int64_t noisy_n_tokens(const kv_cache *base)
{
    return kv_n_tokens(((const noisy_cache *)base)->inner);
}

/* The inner cache only: the scratch is working memory, as the forward
 * pass's is (and the figure stays the one recorded before this cache had
 * a file of its own). */
static size_t noisy_bytes(const kv_cache *base)
{
    return kv_bytes_resident(((const noisy_cache *)base)->inner);
}

static void noisy_free(kv_cache *base)
{
    noisy_cache *c = (noisy_cache *)base;
    kv_free(c->inner);
    free(c->k);
    free(c->v);
    free(c);
}

static const kv_vtable NOISY_VT = {"noisy-affine", noisy_append, noisy_view, noisy_truncate,
                                   noisy_n_tokens, noisy_bytes, noisy_free, NULL};

kk_code kv_noisy_init(kv_cache **out, const kv_config *cfg, int32_t bits, int64_t cap_rows,
                      kk_err *err)
{
    *out = NULL;
    if (bits < 1 || bits > 16)
        return kk_err_set(err, KK_E_RANGE, "kv_noisy: bits %d out of range (allowed: 1..16)",
                          (int)bits);
    if (cap_rows < 1)
        return kk_err_set(err, KK_E_RANGE, "kv_noisy: cap_rows %lld out of range (allowed: >= 1)",
                          (long long)cap_rows);
    noisy_cache *c = calloc(1, sizeof *c);
    if (!c)
        return kk_err_set(err, KK_E_NOMEM, "kv_noisy: out of memory");
    c->base.vt = &NOISY_VT;
    c->base.cfg = *cfg;
    c->bits = bits;
    c->cap_rows = cap_rows;
    c->k = malloc((size_t)(cap_rows * cfg->n_kv_heads * cfg->head_dim_k) * sizeof(float));
    c->v = malloc((size_t)(cap_rows * cfg->n_kv_heads * cfg->head_dim_v) * sizeof(float));
    kk_code rc = (c->k && c->v) ? kv_full_init(&c->inner, cfg, err)
                                : kk_err_set(err, KK_E_NOMEM, "kv_noisy: out of memory");
    if (rc != KK_OK) {
        free(c->k);
        free(c->v);
        free(c);
        return rc;
    }
    *out = &c->base;
    return KK_OK;
}
