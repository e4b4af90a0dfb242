/* kv_codec: see kv_codec.h. */
#include "kv_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/kk_fault.h"

typedef struct kv_codec {
    kv_cache base;
    codec *ck, *cv;
    int64_t k_row, v_row;        /* floats per token row */
    size_t k_bytes, v_bytes;     /* code bytes per token row */
    uint8_t *k, *v;              /* (n_layers, n_ctx, k_bytes / v_bytes) */
    int32_t *pos;                /* (n_layers, n_ctx) */
    int64_t *len;                /* (n_layers) */
    float *dk, *dv;              /* (n_ctx, k_row / v_row) decode scratch */
    size_t bytes, bytes_codes;
    /* KAKEYA_FAULT=codec-passthrough (kk_fault.h): rows are stored as F32
     * bytes and copied back, the codecs never run and count nothing, and
     * nothing says so: the silent pass-through LIVENESS must catch. */
    int passthrough;
} kv_codec;

static const kv_vtable KV_CODEC_VT;

static kk_code kvc_append(kv_cache *c, int32_t layer, const float *k, const float *v,
                            const int32_t *pos, int64_t n, kk_err *err)
{
    kv_codec *q = (kv_codec *)c;
    const int64_t cap = c->cfg.n_ctx, len = q->len[layer];
    if (n < 0 || n > cap - len)
        return kk_err_set(err, KK_E_LIMIT,
                          "kv codec: appending %lld tokens to %lld exceeds the capacity of %lld",
                          (long long)n, (long long)len, (long long)cap);
    uint8_t *kd = q->k + (size_t)(layer * cap + len) * q->k_bytes;
    uint8_t *vd = q->v + (size_t)(layer * cap + len) * q->v_bytes;
    /* Rows are contiguous and each a whole number of codec units, so the
     * batch is one call per codec. */
    if (q->passthrough) {
        memcpy(kd, k, (size_t)(n * q->k_row) * sizeof(float));
        memcpy(vd, v, (size_t)(n * q->v_row) * sizeof(float));
    } else {
        codec_encode(q->ck, k, (size_t)(n * q->k_row), kd);
        codec_encode(q->cv, v, (size_t)(n * q->v_row), vd);
    }
    memcpy(q->pos + layer * cap + len, pos, (size_t)n * sizeof(int32_t));
    q->len[layer] = len + n;
    return KK_OK;
}

static kk_code kvc_view(kv_cache *c, int32_t layer, kv_view *out, kk_err *err)
{
    (void)err;
    kv_codec *q = (kv_codec *)c;
    const int64_t cap = c->cfg.n_ctx, n = q->len[layer];
    const uint8_t *ks = q->k + (size_t)(layer * cap) * q->k_bytes;
    const uint8_t *vs = q->v + (size_t)(layer * cap) * q->v_bytes;
    if (q->passthrough) {
        memcpy(q->dk, ks, (size_t)(n * q->k_row) * sizeof(float));
        memcpy(q->dv, vs, (size_t)(n * q->v_row) * sizeof(float));
    } else {
        codec_decode(q->ck, ks, (size_t)(n * q->k_row), q->dk);
        codec_decode(q->cv, vs, (size_t)(n * q->v_row), q->dv);
    }
    out->n = n;
    out->k = q->dk;
    out->v = q->dv;
    out->pos = q->pos + layer * cap;
    out->k_stride = q->k_row;
    out->v_stride = q->v_row;
    return KK_OK;
}

static void kvc_truncate(kv_cache *c, int64_t n_tokens)
{
    kv_codec *q = (kv_codec *)c;
    for (int32_t l = 0; l < c->cfg.n_layers; l++)
        if (q->len[l] > n_tokens)
            q->len[l] = n_tokens;
}

static int64_t kvc_n_tokens(const kv_cache *c)
{
    return ((const kv_codec *)c)->len[c->cfg.n_layers - 1];
}

static size_t kvc_bytes_resident(const kv_cache *c) { return ((const kv_codec *)c)->bytes; }

static void kvc_free(kv_cache *c)
{
    kv_codec *q = (kv_codec *)c;
    codec_free(q->ck);
    codec_free(q->cv);
    free(q->k);
    free(q->v);
    free(q->pos);
    free(q->len);
    free(q->dk);
    free(q->dv);
    free(q);
}

static const kv_vtable KV_CODEC_VT = {
    "codec", kvc_append, kvc_view, kvc_truncate, kvc_n_tokens,
    kvc_bytes_resident, kvc_free,
};

/* Largest allocation we attempt (2^40 bytes): only there so the products
 * below cannot overflow. */
#define KV_CODEC_MAX_BYTES ((int64_t)1 << 40)

static kk_code make_codec(const codec_spec *spec, int32_t head_dim, int64_t row, char which,
                          codec **out, kk_err *err)
{
    codec_spec s = *spec;
    if (s.rotate == CODEC_ROTATE_HADAMARD && s.dim == 0)
        s.dim = head_dim;
    kk_code rc = codec_init(out, &s, err);
    if (rc != KK_OK)
        return rc;
    if (row % (int64_t)codec_block_values(*out) != 0) {
        char name[256];
        codec_spec_format(&s, name, sizeof name);
        rc = kk_err_set(err, KK_E_RANGE,
                        "kv codec: %c rows of %lld values are not a whole number of units of "
                        "'%s' (%zu values)",
                        which, (long long)row, name, codec_block_values(*out));
        kk_err_where(err, which == 'K' ? "k_codec" : "v_codec");
    }
    return rc;
}

kk_code kv_codec_init(kv_cache **out, const kv_config *cfg, const codec_spec *k_spec,
                      const codec_spec *v_spec, kk_err *err)
{
    *out = NULL;
    if (cfg->n_layers < 1 || cfg->n_kv_heads < 1 || cfg->head_dim_k < 1 ||
        cfg->head_dim_v < 1 || cfg->n_ctx < 1 || cfg->n_ctx > INT32_MAX)
        return kk_err_set(err, KK_E_RANGE,
                          "kv codec: bad config (layers %d, kv heads %d, head dims %d/%d, ctx %lld)",
                          (int)cfg->n_layers, (int)cfg->n_kv_heads, (int)cfg->head_dim_k,
                          (int)cfg->head_dim_v, (long long)cfg->n_ctx);
    kv_codec *q = calloc(1, sizeof *q);
    if (!q)
        return kk_err_set(err, KK_E_NOMEM, "kv codec: out of memory");
    q->base.vt = &KV_CODEC_VT;
    q->base.cfg = *cfg;
    q->k_row = (int64_t)cfg->n_kv_heads * cfg->head_dim_k;
    q->v_row = (int64_t)cfg->n_kv_heads * cfg->head_dim_v;
    kk_code rc = make_codec(k_spec, cfg->head_dim_k, q->k_row, 'K', &q->ck, err);
    if (rc == KK_OK)
        rc = make_codec(v_spec, cfg->head_dim_v, q->v_row, 'V', &q->cv, err);
    if (rc != KK_OK) {
        kvc_free(&q->base);
        return rc;
    }
    q->passthrough = kk_fault_on(KK_FAULT_CODEC_PASSTHROUGH);
    q->k_bytes = q->passthrough ? (size_t)q->k_row * sizeof(float)
                                : codec_encoded_bytes(q->ck, (size_t)q->k_row);
    q->v_bytes = q->passthrough ? (size_t)q->v_row * sizeof(float)
                                : codec_encoded_bytes(q->cv, (size_t)q->v_row);
    const int64_t slots = (int64_t)cfg->n_layers * cfg->n_ctx;
    const int64_t row_bytes = (int64_t)(q->k_bytes + q->v_bytes) + (int64_t)sizeof(int32_t);
    const int64_t scratch = cfg->n_ctx * (q->k_row + q->v_row) * (int64_t)sizeof(float);
    if (row_bytes > KV_CODEC_MAX_BYTES / slots || scratch > KV_CODEC_MAX_BYTES) {
        kvc_free(&q->base);
        return kk_err_set(err, KK_E_LIMIT, "kv codec: %lld tokens x %d layers is too large",
                          (long long)cfg->n_ctx, (int)cfg->n_layers);
    }
    q->k = malloc((size_t)slots * q->k_bytes);
    q->v = malloc((size_t)slots * q->v_bytes);
    q->pos = malloc((size_t)slots * sizeof(int32_t));
    q->len = calloc((size_t)cfg->n_layers, sizeof(int64_t));
    q->dk = malloc((size_t)(cfg->n_ctx * q->k_row) * sizeof(float));
    q->dv = malloc((size_t)(cfg->n_ctx * q->v_row) * sizeof(float));
    if (!q->k || !q->v || !q->pos || !q->len || !q->dk || !q->dv) {
        kvc_free(&q->base);
        return kk_err_set(err, KK_E_NOMEM, "kv codec: out of memory for %lld tokens",
                          (long long)cfg->n_ctx);
    }
    q->bytes_codes = (size_t)slots * (q->k_bytes + q->v_bytes);
    q->bytes = q->bytes_codes + (size_t)slots * sizeof(int32_t) +
               (size_t)cfg->n_layers * sizeof(int64_t) + (size_t)scratch;
    *out = &q->base;
    return KK_OK;
}

size_t kv_codec_bytes_codes(const kv_cache *c)
{
    return c->vt == &KV_CODEC_VT ? ((const kv_codec *)c)->bytes_codes : 0;
}

const codec_stats *kv_codec_get_stats(const kv_cache *c, char which)
{
    if (c->vt != &KV_CODEC_VT)
        return NULL;
    const kv_codec *q = (const kv_codec *)c;
    return codec_get_stats(which == 'k' ? q->ck : q->cv);
}
