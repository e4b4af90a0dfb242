/* kv_composite: per-layer caches behind one seam (see kv_composite.h). */
#include "kv_composite.h"

#include <stdlib.h>

typedef struct kv_composite {
    kv_cache base;
    int32_t n_parts;
    kv_cache *parts[KV_COMPOSITE_MAX_PARTS];
    int32_t *part;   /* (n_layers) the part serving each layer */
    int32_t *local;  /* (n_layers) its layer index in that part */
} kv_composite;

static kk_code co_append(kv_cache *c, int32_t layer, const float *k, const float *v,
                         const int32_t *pos, int64_t n, kk_err *err)
{
    kv_composite *x = (kv_composite *)c;
    return kv_append(x->parts[x->part[layer]], x->local[layer], k, v, pos, n, err);
}

static kk_code co_view(kv_cache *c, int32_t layer, kv_view *out, kk_err *err)
{
    kv_composite *x = (kv_composite *)c;
    return kv_view_layer(x->parts[x->part[layer]], x->local[layer], out, err);
}

/* Every part is asked before any changes: a refusal leaves all as they were. */
static kk_code co_truncate(kv_cache *c, int64_t n_tokens, bool check_only, kk_err *err)
{
    kv_composite *x = (kv_composite *)c;
    for (int32_t p = 0; p < x->n_parts; p++) {
        kk_code rc = kv_truncate_check(x->parts[p], n_tokens, err);
        if (rc != KK_OK)
            return rc;
    }
    for (int32_t p = 0; p < x->n_parts && !check_only; p++) {
        kk_code rc = kv_truncate(x->parts[p], n_tokens, err);
        if (rc != KK_OK) /* the check said yes: a part that disagrees is a bug */
            return rc;
    }
    return KK_OK;
}

static int64_t co_n_tokens(const kv_cache *c)
{
    const kv_composite *x = (const kv_composite *)c;
    return kv_n_tokens(x->parts[x->part[c->cfg.n_layers - 1]]);
}

static size_t co_bytes(const kv_cache *c)
{
    const kv_composite *x = (const kv_composite *)c;
    size_t b = 0;
    for (int32_t p = 0; p < x->n_parts; p++)
        b += kv_bytes_resident(x->parts[p]);
    return b;
}

static void co_free(kv_cache *c)
{
    kv_composite *x = (kv_composite *)c;
    for (int32_t p = 0; p < x->n_parts; p++)
        kv_free(x->parts[p]);
    free(x->part);
    free(x->local);
    free(x);
}

/* The fewest any part allows (every layer's queries must see their steps'). */
static int64_t co_invariant_rows(const kv_cache *c, int64_t n)
{
    const kv_composite *x = (const kv_composite *)c;
    for (int32_t p = 0; p < x->n_parts; p++)
        n = kv_invariant_rows(x->parts[p], n);
    return n;
}

static const kv_vtable KV_COMPOSITE_VT = {
    "composite", co_append, co_view, co_truncate, co_n_tokens, co_bytes, co_free,
    co_invariant_rows,
};

static void free_parts(kv_cache **parts, int32_t n_parts)
{
    for (int32_t p = 0; p < n_parts; p++)
        kv_free(parts[p]);
}

kk_code kv_composite_init(kv_cache **out, const kv_config *cfg, kv_cache **parts, int32_t n_parts,
                          const int32_t *part_of_layer, kk_err *err)
{
    *out = NULL;
    if (n_parts < 1 || n_parts > KV_COMPOSITE_MAX_PARTS || cfg->n_layers < 1) {
        free_parts(parts, n_parts > 0 && n_parts <= KV_COMPOSITE_MAX_PARTS ? n_parts : 0);
        return kk_err_set(err, KK_E_RANGE, "kv composite: %d parts for %d layers (allowed: "
                          "1..%d parts, >= 1 layer)", (int)n_parts, (int)cfg->n_layers,
                          KV_COMPOSITE_MAX_PARTS);
    }
    kv_composite *x = calloc(1, sizeof *x);
    int32_t *part = calloc((size_t)cfg->n_layers, sizeof *part);
    int32_t *local = calloc((size_t)cfg->n_layers, sizeof *local);
    if (!x || !part || !local) {
        free(x);
        free(part);
        free(local);
        free_parts(parts, n_parts);
        return kk_err_set(err, KK_E_NOMEM, "kv composite: out of memory");
    }
    x->base.vt = &KV_COMPOSITE_VT;
    x->base.cfg = *cfg;
    x->n_parts = n_parts;
    x->part = part;
    x->local = local;
    for (int32_t p = 0; p < n_parts; p++)
        x->parts[p] = parts[p];
    int32_t count[KV_COMPOSITE_MAX_PARTS] = {0};
    kk_code rc = KK_OK;
    for (int32_t l = 0; l < cfg->n_layers && rc == KK_OK; l++) {
        const int32_t p = part_of_layer[l];
        if (p < 0 || p >= n_parts) {
            rc = kk_err_set(err, KK_E_RANGE, "kv composite: layer %d maps to part %d (allowed: "
                            "0..%d)", (int)l, (int)p, (int)n_parts - 1);
            break;
        }
        part[l] = p;
        local[l] = count[p]++;
    }
    for (int32_t p = 0; p < n_parts && rc == KK_OK; p++) {
        const kv_config *pc = &parts[p]->cfg;
        if (pc->n_layers != count[p] || pc->n_kv_heads != cfg->n_kv_heads ||
            pc->head_dim_k != cfg->head_dim_k || pc->head_dim_v != cfg->head_dim_v)
            rc = kk_err_set(err, KK_E_RANGE,
                            "kv composite: part %d (%s) has %d layers, %d KV heads, head dims "
                            "%d/%d; it serves %d layers of %d KV heads, head dims %d/%d",
                            (int)p, parts[p]->vt->name, (int)pc->n_layers, (int)pc->n_kv_heads,
                            (int)pc->head_dim_k, (int)pc->head_dim_v, (int)count[p],
                            (int)cfg->n_kv_heads, (int)cfg->head_dim_k, (int)cfg->head_dim_v);
    }
    if (rc != KK_OK) {
        co_free(&x->base);
        return rc;
    }
    *out = &x->base;
    return KK_OK;
}

kv_cache *kv_composite_part(const kv_cache *c, int32_t p)
{
    if (c->vt != &KV_COMPOSITE_VT)
        return NULL;
    const kv_composite *x = (const kv_composite *)c;
    return p >= 0 && p < x->n_parts ? x->parts[p] : NULL;
}

int32_t kv_composite_n_parts(const kv_cache *c)
{
    return c->vt == &KV_COMPOSITE_VT ? ((const kv_composite *)c)->n_parts : 0;
}
