/* kv_codec: see kv_codec.h. */
#include "kv_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct kv_codec {
    kv_cache base;
    codec *ck, *cv;
    int64_t k_row, v_row;        /* floats per token row */
    /* Token rows per codec unit: 1, or more when the unit spans rows
     * (affine axis=token: `group` rows). Rows of a unit that is not full
     * yet wait as F32 in the residual (KIVI's full-precision recent
     * tokens) and are encoded when the unit fills. */
    int64_t k_tok, v_tok;
    int64_t k_slots, v_slots;    /* units per layer: ceil(n_ctx / tok) */
    size_t k_bytes, v_bytes;     /* code bytes per unit (tok rows) */
    uint8_t *k, *v;              /* (n_layers, slots, k_bytes / v_bytes) */
    float *rk, *rv;              /* (n_layers, tok, row) residual; NULL when tok = 1 */
    /* The raw rows a rollback may need back (kv.h): with units of tok > 1
     * rows and max_rollback B > 0, the last B + tok - 1 rows appended per
     * layer, row t at t % hist; NULL and 0 otherwise. */
    float *hk, *hv;              /* (n_layers, hist, row) */
    int64_t k_hist, v_hist;
    /* (n_layers) the most rows a layer has held since it was last emptied:
     * a rollback leaves the dropped rows in the history, so only rows from
     * hwm - hist on are still the ones appended. */
    int64_t *hwm;                /* NULL without a history */
    int32_t *pos;                /* (n_layers, n_ctx) */
    int64_t *len;                /* (n_layers) */
    float *dk, *dv;              /* (n_ctx, k_row / v_row) decode scratch */
    size_t bytes, bytes_codes;
    /* kv_codec_opts.passthrough (the codec-passthrough fault): rows are
     * stored as F32 bytes and copied back, the codecs never run and count
     * nothing, and nothing says so: the silent pass-through LIVENESS must
     * catch. */
    int passthrough;
    int corrupt;                 /* kv_codec_opts.corrupt */
    size_t k_unit, v_unit;       /* bytes of one codec unit (corrupt) */
} kv_codec;

static const kv_vtable KV_CODEC_VT;

/* Append n rows to one stream of a layer holding len rows (codes: the
 * layer's units; res: its residual). */
static void put_rows(codec *c, int64_t tok, int64_t row, size_t ub, uint8_t *codes, float *res,
                     int64_t len, const float *x, int64_t n)
{
    if (tok == 1 && codec_is_variable(c)) { /* e8ans: a stream per row, in its slot */
        for (int64_t i = 0; i < n; i++)
            codec_encode(c, x + i * row, (size_t)row, codes + (size_t)(len + i) * ub);
        return;
    }
    if (tok == 1) { /* rows are whole units: the batch is one call */
        codec_encode(c, x, (size_t)(n * row), codes + (size_t)len * ub);
        return;
    }
    for (int64_t i = 0; i < n;) {
        const int64_t at = (len + i) % tok, m = tok - at < n - i ? tok - at : n - i;
        uint8_t *dst = codes + (size_t)((len + i) / tok) * ub;
        if (at == 0 && m == tok) {
            codec_encode(c, x + i * row, (size_t)(tok * row), dst);
        } else {
            memcpy(res + at * row, x + i * row, (size_t)(m * row) * sizeof(float));
            if (at + m == tok)
                codec_encode(c, res, (size_t)(tok * row), dst);
        }
        i += m;
    }
}

/* corrupt: rows [len, len + n) of a stream whose rows are whole units
 * (tok 1), each row's unit_bytes-sized units rotated left by one. */
static void corrupt_rows(uint8_t *codes, size_t row_bytes, size_t unit_bytes, int64_t len,
                         int64_t n)
{
    uint8_t first[1024];
    for (int64_t i = 0; i < n; i++) {
        uint8_t *r = codes + (size_t)(len + i) * row_bytes;
        for (size_t o = 0; o < unit_bytes; o += sizeof first) {
            const size_t m = unit_bytes - o < sizeof first ? unit_bytes - o : sizeof first;
            memcpy(first, r + o, m);
            /* unit 0's chunk o.. goes to the last unit; the rest move up */
            for (size_t u = 0; u + unit_bytes < row_bytes; u += unit_bytes)
                memcpy(r + u + o, r + u + unit_bytes + o, m);
            memcpy(r + row_bytes - unit_bytes + o, first, m);
        }
    }
}

/* The n rows of one stream of a layer as F32: the full units decoded, the
 * open unit's rows from the residual. */
static void get_rows(codec *c, int64_t tok, int64_t row, size_t ub, const uint8_t *codes,
                     const float *res, int64_t n, float *y)
{
    if (codec_is_variable(c)) { /* tok 1: each row's stream from its slot */
        for (int64_t i = 0; i < n; i++)
            codec_decode(c, codes + (size_t)i * ub, (size_t)row, y + i * row);
        return;
    }
    const int64_t full = n / tok * tok;
    codec_decode(c, codes, (size_t)(full * row), y);
    if (full < n)
        memcpy(y + full * row, res, (size_t)((n - full) * row) * sizeof(float));
}

/* Rows len..len+n of one stream into its history ring (hist rows). */
static void keep_rows(float *h, int64_t hist, int64_t row, int64_t len, const float *x, int64_t n)
{
    for (int64_t i = n > hist ? n - hist : 0; i < n; i++)
        memcpy(h + ((len + i) % hist) * row, x + i * row, (size_t)row * sizeof(float));
}

static kk_code kvc_append(kv_cache *c, int32_t layer, const float *k, const float *v,
                            const int32_t *pos, int64_t n, kk_err *err)
{
    kv_codec *q = (kv_codec *)c;
    const int64_t cap = c->cfg.n_ctx, len = q->len[layer];
    if (n < 0 || n > cap - len)
        return kk_err_set(err, KK_E_LIMIT,
                          "kv codec: appending %lld tokens to %lld exceeds the capacity of %lld",
                          (long long)n, (long long)len, (long long)cap);
    uint8_t *kl = q->k + (size_t)(layer * q->k_slots) * q->k_bytes;
    uint8_t *vl = q->v + (size_t)(layer * q->v_slots) * q->v_bytes;
    if (q->passthrough) { /* tok = 1, F32 rows */
        memcpy(kl + (size_t)len * q->k_bytes, k, (size_t)(n * q->k_row) * sizeof(float));
        memcpy(vl + (size_t)len * q->v_bytes, v, (size_t)(n * q->v_row) * sizeof(float));
    } else {
        put_rows(q->ck, q->k_tok, q->k_row, q->k_bytes, kl,
                 q->rk ? q->rk + layer * q->k_tok * q->k_row : NULL, len, k, n);
        put_rows(q->cv, q->v_tok, q->v_row, q->v_bytes, vl,
                 q->rv ? q->rv + layer * q->v_tok * q->v_row : NULL, len, v, n);
        if (q->corrupt) {
            corrupt_rows(kl, q->k_bytes, q->k_unit, len, n);
            corrupt_rows(vl, q->v_bytes, q->v_unit, len, n);
        }
        if (q->hk)
            keep_rows(q->hk + layer * q->k_hist * q->k_row, q->k_hist, q->k_row, len, k, n);
        if (q->hv)
            keep_rows(q->hv + layer * q->v_hist * q->v_row, q->v_hist, q->v_row, len, v, n);
    }
    memcpy(q->pos + layer * cap + len, pos, (size_t)n * sizeof(int32_t));
    q->len[layer] = len + n;
    if (q->hwm && q->hwm[layer] < len + n)
        q->hwm[layer] = len + n;
    return KK_OK;
}

static kk_code kvc_view(kv_cache *c, int32_t layer, kv_view *out, kk_err *err)
{
    (void)err;
    kv_codec *q = (kv_codec *)c;
    const int64_t cap = c->cfg.n_ctx, n = q->len[layer];
    const uint8_t *ks = q->k + (size_t)(layer * q->k_slots) * q->k_bytes;
    const uint8_t *vs = q->v + (size_t)(layer * q->v_slots) * q->v_bytes;
    if (q->passthrough) {
        memcpy(q->dk, ks, (size_t)(n * q->k_row) * sizeof(float));
        memcpy(q->dv, vs, (size_t)(n * q->v_row) * sizeof(float));
    } else {
        get_rows(q->ck, q->k_tok, q->k_row, q->k_bytes, ks,
                 q->rk ? q->rk + layer * q->k_tok * q->k_row : NULL, n, q->dk);
        get_rows(q->cv, q->v_tok, q->v_row, q->v_bytes, vs,
                 q->rv ? q->rv + layer * q->v_tok * q->v_row : NULL, n, q->dv);
    }
    out->n = n;
    out->k = q->dk;
    out->v = q->dv;
    out->pos = q->pos + layer * cap;
    out->k_stride = q->k_row;
    out->v_stride = q->v_row;
    out->k16 = out->v16 = NULL;
    out->window = out->n_sink = 0;
    return KK_OK;
}

/* Whether truncating one stream of a layer holding len rows to n_tokens
 * needs rows of an encoded unit back: the unit holding row n_tokens was
 * full (encoded) and n_tokens is inside it. */
static int reopens(int64_t tok, int64_t len, int64_t n_tokens)
{
    return tok > 1 && n_tokens % tok != 0 && len >= (n_tokens / tok + 1) * tok;
}

/* Those rows [unit start, n_tokens) are in the history when it reaches
 * back that far (hwm: see kv_codec). */
static int history_has(int64_t hist, int64_t tok, int64_t hwm, int64_t n_tokens)
{
    return hist > 0 && n_tokens - n_tokens % tok >= hwm - hist;
}

/* The reopened unit's first rows back into the residual, raw, from the
 * history: the residual then holds what it held before those rows' unit
 * closed, as in a cache that never saw the dropped rows. */
static void reopen_unit(int64_t tok, int64_t row, const float *h, int64_t hist, float *res,
                        int64_t n_tokens)
{
    const int64_t u0 = n_tokens - n_tokens % tok;
    for (int64_t t = u0; t < n_tokens; t++)
        memcpy(res + (t - u0) * row, h + (t % hist) * row, (size_t)row * sizeof(float));
}

static kk_code kvc_truncate(kv_cache *c, int64_t n_tokens, bool check_only, kk_err *err)
{
    kv_codec *q = (kv_codec *)c;
    /* Every layer checked before any changes: a refusal changes nothing. */
    for (int32_t l = 0; l < c->cfg.n_layers; l++) {
        const int64_t len = q->len[l];
        if (len <= n_tokens)
            continue;
        const int k_bad = q->rk && reopens(q->k_tok, len, n_tokens) &&
                          !history_has(q->k_hist, q->k_tok, q->hwm ? q->hwm[l] : 0, n_tokens);
        const int v_bad = q->rv && reopens(q->v_tok, len, n_tokens) &&
                          !history_has(q->v_hist, q->v_tok, q->hwm ? q->hwm[l] : 0, n_tokens);
        if (k_bad || v_bad) {
            const int64_t tok = k_bad ? q->k_tok : q->v_tok;
            return kk_err_set(err, KK_E_RANGE,
                              "kv codec: rolling back from %lld to %lld rows reopens the %c "
                              "unit of rows %lld..%lld, encoded already, whose raw rows are no "
                              "longer kept (max_rollback %lld keeps the last %lld + %lld - 1); "
                              "truncate to a multiple of %lld or raise max_rollback",
                              (long long)len, (long long)n_tokens, k_bad ? 'K' : 'V',
                              (long long)(n_tokens - n_tokens % tok),
                              (long long)(n_tokens - n_tokens % tok + tok - 1),
                              (long long)c->cfg.max_rollback, (long long)c->cfg.max_rollback,
                              (long long)tok, (long long)tok);
        }
    }
    if (check_only)
        return KK_OK;
    for (int32_t l = 0; l < c->cfg.n_layers; l++)
        if (q->len[l] > n_tokens) {
            if (q->rk && reopens(q->k_tok, q->len[l], n_tokens))
                reopen_unit(q->k_tok, q->k_row, q->hk + l * q->k_hist * q->k_row, q->k_hist,
                            q->rk + l * q->k_tok * q->k_row, n_tokens);
            if (q->rv && reopens(q->v_tok, q->len[l], n_tokens))
                reopen_unit(q->v_tok, q->v_row, q->hv + l * q->v_hist * q->v_row, q->v_hist,
                            q->rv + l * q->v_tok * q->v_row, n_tokens);
            q->len[l] = n_tokens;
            if (n_tokens == 0 && q->hwm)
                q->hwm[l] = 0;
        }
    return KK_OK;
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
    free(q->rk);
    free(q->rv);
    free(q->hk);
    free(q->hv);
    free(q->hwm);
    free(q);
}

/* Rows from len on that one append may add, for units of tok rows: a
 * query sees its own unit raw in the residual unless its row is the
 * unit's last (then the unit is encoded, in the step too), so the batch
 * stops before the next unit-closing row past len (a batch may start on
 * one). */
static int64_t unit_rows(int64_t tok, int64_t len)
{
    if (tok <= 1)
        return INT64_MAX;
    const int64_t last = len + (tok - 1 - len % tok); /* the first closing row >= len */
    return (last == len ? last + tok : last) - len;
}

static int64_t kvc_invariant_rows(const kv_cache *c, int64_t n)
{
    const kv_codec *q = (const kv_codec *)c;
    if (q->passthrough)
        return n;
    const int64_t len = kvc_n_tokens(c);
    const int64_t k = unit_rows(q->k_tok, len), v = unit_rows(q->v_tok, len);
    const int64_t m = k < v ? k : v;
    return m < n ? m : n;
}

static const kv_vtable KV_CODEC_VT = {
    "codec", kvc_append, kvc_view, kvc_truncate, kvc_n_tokens,
    kvc_bytes_resident, kvc_free, kvc_invariant_rows,
};

/* Largest allocation we attempt (2^40 bytes): only there so the products
 * below cannot overflow. */
#define KV_CODEC_MAX_BYTES ((int64_t)1 << 40)

static kk_code make_codec(const codec_spec *spec, int32_t head_dim, int64_t row, char which,
                          codec **out, int64_t *tok, kk_err *err)
{
    codec_spec s = *spec;
    if (s.rotate == CODEC_ROTATE_HADAMARD && s.dim == 0)
        s.dim = head_dim;
    if (s.axis == CODEC_AXIS_TOKEN && s.channels == 0 && row <= INT32_MAX)
        s.channels = (int32_t)row; /* KIVI: every channel of the cache row */
    kk_code rc = codec_init(out, &s, err);
    if (rc != KK_OK)
        return rc;
    /* Only axis=token spans rows (group x channels = group rows); a row
     * codec's unit must divide the row. */
    const int64_t unit = (int64_t)codec_block_values(*out);
    *tok = s.axis == CODEC_AXIS_TOKEN ? s.group : 1;
    if (s.axis == CODEC_AXIS_TOKEN && s.channels != row) {
        rc = kk_err_set(err, KK_E_RANGE,
                        "kv codec: %c rows have %lld channels; the codec's channels=%d",
                        which, (long long)row, (int)s.channels);
        kk_err_where(err, which == 'K' ? "k_codec" : "v_codec");
    } else if (*tok == 1 && row % unit != 0) {
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
                      const codec_spec *v_spec, const kv_codec_opts *opts, kk_err *err)
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
    kk_code rc = make_codec(k_spec, cfg->head_dim_k, q->k_row, 'K', &q->ck, &q->k_tok, err);
    if (rc == KK_OK)
        rc = make_codec(v_spec, cfg->head_dim_v, q->v_row, 'V', &q->cv, &q->v_tok, err);
    if (rc != KK_OK) {
        kvc_free(&q->base);
        return rc;
    }
    q->passthrough = opts && opts->passthrough;
    if (q->passthrough)
        q->k_tok = q->v_tok = 1;
    q->k_bytes = q->passthrough ? (size_t)q->k_row * sizeof(float)
                                : codec_encoded_bytes(q->ck, (size_t)(q->k_tok * q->k_row));
    q->v_bytes = q->passthrough ? (size_t)q->v_row * sizeof(float)
                                : codec_encoded_bytes(q->cv, (size_t)(q->v_tok * q->v_row));
    q->corrupt = opts && opts->corrupt && !q->passthrough;
    q->k_unit = codec_block_bytes(q->ck);
    q->v_unit = codec_block_bytes(q->cv);
    if (q->corrupt && (q->k_tok != 1 || q->v_tok != 1 || q->k_bytes < 2 * q->k_unit ||
                       q->v_bytes < 2 * q->v_unit || codec_is_variable(q->ck) ||
                       codec_is_variable(q->cv))) {
        /* the message first: kvc_free takes the codecs it names */
        kk_err_set(err, KK_E_RANGE, "kv codec: corrupt needs rows of at least two units of "
                   "a fixed-rate row codec (not e8ans) (rows of %lld and %lld values; units of "
                   "%zu and %zu values)",
                   (long long)q->k_row, (long long)q->v_row, codec_block_values(q->ck),
                   codec_block_values(q->cv));
        kvc_free(&q->base);
        return KK_E_RANGE;
    }
    q->k_slots = (cfg->n_ctx + q->k_tok - 1) / q->k_tok;
    q->v_slots = (cfg->n_ctx + q->v_tok - 1) / q->v_tok;
    const int64_t slots = (int64_t)cfg->n_layers * cfg->n_ctx;
    const int64_t row_bytes = (int64_t)(q->k_bytes + q->v_bytes) + (int64_t)sizeof(int32_t);
    const int64_t scratch = cfg->n_ctx * (q->k_row + q->v_row) * (int64_t)sizeof(float);
    /* Residual rows: at most one unit per layer and stream (tok <= 128
     * rows of at most 2^31 values, checked against the same bound). */
    const int64_t resid = (int64_t)cfg->n_layers *
                          ((q->k_tok > 1 ? q->k_tok * q->k_row : 0) +
                           (q->v_tok > 1 ? q->v_tok * q->v_row : 0)) * (int64_t)sizeof(float);
    /* The raw rows kept for exact rollback (units of several rows only). */
    const int64_t B = cfg->max_rollback;
    if (B < 0 || B > cfg->n_ctx) {
        kvc_free(&q->base);
        return kk_err_set(err, KK_E_RANGE, "kv codec: max_rollback %lld out of range (allowed: "
                          "0..n_ctx = %lld)", (long long)B, (long long)cfg->n_ctx);
    }
    q->k_hist = q->k_tok > 1 && B > 0 ? B + q->k_tok - 1 : 0;
    q->v_hist = q->v_tok > 1 && B > 0 ? B + q->v_tok - 1 : 0;
    const int64_t hist = (int64_t)cfg->n_layers *
                         (q->k_hist * q->k_row + q->v_hist * q->v_row) * (int64_t)sizeof(float);
    if (row_bytes > KV_CODEC_MAX_BYTES / slots || scratch > KV_CODEC_MAX_BYTES ||
        resid > KV_CODEC_MAX_BYTES || hist > KV_CODEC_MAX_BYTES) {
        kvc_free(&q->base);
        return kk_err_set(err, KK_E_LIMIT, "kv codec: %lld tokens x %d layers is too large",
                          (long long)cfg->n_ctx, (int)cfg->n_layers);
    }
    q->k = malloc((size_t)(cfg->n_layers * q->k_slots) * q->k_bytes);
    q->v = malloc((size_t)(cfg->n_layers * q->v_slots) * q->v_bytes);
    if (q->k_tok > 1)
        q->rk = kv_alloc_f32(cfg->n_layers * q->k_tok * q->k_row);
    if (q->v_tok > 1)
        q->rv = kv_alloc_f32(cfg->n_layers * q->v_tok * q->v_row);
    if (q->k_hist)
        q->hk = kv_alloc_f32(cfg->n_layers * q->k_hist * q->k_row);
    if (q->v_hist)
        q->hv = kv_alloc_f32(cfg->n_layers * q->v_hist * q->v_row);
    q->pos = malloc((size_t)slots * sizeof(int32_t));
    q->len = calloc((size_t)cfg->n_layers, sizeof(int64_t));
    if (q->k_hist || q->v_hist)
        q->hwm = calloc((size_t)cfg->n_layers, sizeof(int64_t));
    q->dk = kv_alloc_f32(cfg->n_ctx * q->k_row);
    q->dv = kv_alloc_f32(cfg->n_ctx * q->v_row);
    if (!q->k || !q->v || !q->pos || !q->len || ((q->k_hist || q->v_hist) && !q->hwm) ||
        !q->dk || !q->dv ||
        (q->k_tok > 1 && !q->rk) || (q->v_tok > 1 && !q->rv) || (q->k_hist && !q->hk) ||
        (q->v_hist && !q->hv)) {
        kvc_free(&q->base);
        return kk_err_set(err, KK_E_NOMEM, "kv codec: out of memory for %lld tokens",
                          (long long)cfg->n_ctx);
    }
    q->bytes_codes = (size_t)(cfg->n_layers * q->k_slots) * q->k_bytes +
                     (size_t)(cfg->n_layers * q->v_slots) * q->v_bytes;
    q->bytes = q->bytes_codes + (size_t)slots * sizeof(int32_t) +
               (size_t)cfg->n_layers * sizeof(int64_t) + (size_t)scratch + (size_t)resid +
               (size_t)hist + (q->k_hist || q->v_hist ? (size_t)cfg->n_layers * sizeof(int64_t) : 0);
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
