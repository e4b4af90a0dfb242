/* kv_sinkwin: the bounded sink + window cache (see kv_sinkwin.h). */
#include "kv_sinkwin.h"

#include <stdlib.h>
#include <string.h>

typedef struct kv_sinkwin {
    kv_cache base;
    int32_t n_sink, window;
    int64_t slack;          /* B = cfg.max_rollback */
    int64_t ring;           /* window + slack slots */
    int64_t rows;           /* n_sink + ring slots per layer */
    int64_t k_row, v_row;   /* floats per row */
    float *k, *v;           /* (n_layers, rows, k_row / v_row) */
    int32_t *pos;           /* (n_layers, rows); INT32_MAX: empty or dropped */
    int64_t *len;           /* (n_layers) rows appended, evicted ones included */
    size_t bytes;
} kv_sinkwin;

static const kv_vtable KV_SINKWIN_VT;

/* The slot of the t-th row appended: sinks first, then the ring. */
static int64_t slot_of(const kv_sinkwin *w, int64_t t)
{
    return t < w->n_sink ? t : w->n_sink + (t - w->n_sink) % w->ring;
}

/* The oldest non-sink row a layer holding len rows still has. */
static int64_t oldest_kept(const kv_sinkwin *w, int64_t len)
{
    const int64_t lo = len - w->ring;
    return lo > w->n_sink ? lo : w->n_sink;
}

static kk_code sw_append(kv_cache *c, int32_t layer, const float *k, const float *v,
                         const int32_t *pos, int64_t n, kk_err *err)
{
    kv_sinkwin *w = (kv_sinkwin *)c;
    if (n < 0 || n > w->slack + 1)
        return kk_err_set(err, KK_E_LIMIT,
                          "kv sinkwin: appending %lld rows at once exceeds the slack of %lld + 1 "
                          "(the batch's first query would lose its window; append in chunks of "
                          "at most %lld, or raise max_rollback)",
                          (long long)n, (long long)w->slack, (long long)(w->slack + 1));
    const int64_t len = w->len[layer];
    float *kl = w->k + layer * w->rows * w->k_row, *vl = w->v + layer * w->rows * w->v_row;
    int32_t *pl = w->pos + layer * w->rows;
    for (int64_t i = 0; i < n; i++) {
        const int64_t s = slot_of(w, len + i);
        memcpy(kl + s * w->k_row, k + i * w->k_row, (size_t)w->k_row * sizeof(float));
        memcpy(vl + s * w->v_row, v + i * w->v_row, (size_t)w->v_row * sizeof(float));
        pl[s] = pos[i];
    }
    w->len[layer] = len + n;
    return KK_OK;
}

static kk_code sw_view(kv_cache *c, int32_t layer, kv_view *out, kk_err *err)
{
    (void)err;
    kv_sinkwin *w = (kv_sinkwin *)c;
    const int64_t len = w->len[layer];
    *out = (kv_view){
        .n = len < w->rows ? len : w->rows,
        .k = w->k + layer * w->rows * w->k_row,
        .v = w->v + layer * w->rows * w->v_row,
        .pos = w->pos + layer * w->rows,
        .k_stride = w->k_row,
        .v_stride = w->v_row,
        .window = w->window,
        .n_sink = w->n_sink,
    };
    return KK_OK;
}

/* Exact when every row a query at position n may see is still held: the
 * sinks always are; the window's rows [n - window + 1, n) must not be
 * older than what the ring keeps. Dropped slots get INT32_MAX. */
static kk_code sw_truncate(kv_cache *c, int64_t n_tokens, bool check_only, kk_err *err)
{
    kv_sinkwin *w = (kv_sinkwin *)c;
    const int32_t L = c->cfg.n_layers;
    if (n_tokens > 0)
        for (int32_t l = 0; l < L; l++) {
            const int64_t len = w->len[l];
            if (len <= n_tokens)
                continue;
            int64_t need = n_tokens - w->window + 1;
            need = need > w->n_sink ? need : w->n_sink;
            if (need < oldest_kept(w, len) && need < n_tokens)
                return kk_err_set(err, KK_E_RANGE,
                                  "kv sinkwin: rolling back from %lld to %lld rows needs row %lld, "
                                  "which the ring (window %d + slack %lld) has overwritten; the "
                                  "deepest exact rollback is %lld rows (max_rollback + 1)",
                                  (long long)len, (long long)n_tokens, (long long)need,
                                  (int)w->window, (long long)w->slack, (long long)(w->slack + 1));
        }
    if (check_only)
        return KK_OK;
    for (int32_t l = 0; l < L; l++) {
        int64_t len = w->len[l];
        int32_t *pl = w->pos + l * w->rows;
        if (n_tokens <= 0) {
            for (int64_t s = 0; s < w->rows; s++)
                pl[s] = INT32_MAX;
            w->len[l] = 0;
            continue;
        }
        /* the dropped rows' slots (at most the ring, each once) */
        const int64_t lo = n_tokens > oldest_kept(w, len) ? n_tokens : oldest_kept(w, len);
        for (int64_t t = lo; t < len; t++)
            pl[slot_of(w, t)] = INT32_MAX;
        for (int64_t t = n_tokens; t < len && t < w->n_sink; t++)
            pl[t] = INT32_MAX;
        if (len > n_tokens)
            w->len[l] = n_tokens;
    }
    return KK_OK;
}

static int64_t sw_n_tokens(const kv_cache *c)
{
    return ((const kv_sinkwin *)c)->len[c->cfg.n_layers - 1];
}

static size_t sw_bytes(const kv_cache *c) { return ((const kv_sinkwin *)c)->bytes; }

static void sw_free(kv_cache *c)
{
    kv_sinkwin *w = (kv_sinkwin *)c;
    free(w->k);
    free(w->v);
    free(w->pos);
    free(w->len);
    free(w);
}

static const kv_vtable KV_SINKWIN_VT = {
    "sinkwin", sw_append, sw_view, sw_truncate, sw_n_tokens, sw_bytes, sw_free, NULL,
};

int64_t kv_sinkwin_rows(const kv_cache *c)
{
    return c->vt == &KV_SINKWIN_VT ? ((const kv_sinkwin *)c)->rows : 0;
}

/* Rows a layer may hold: far past any context, only so products cannot
 * overflow. */
#define SW_MAX_ROWS ((int64_t)1 << 30)

kk_code kv_sinkwin_init(kv_cache **out, const kv_config *cfg, int32_t n_sink, int32_t window,
                        kk_err *err)
{
    *out = NULL;
    if (cfg->n_layers < 1 || cfg->n_kv_heads < 1 || cfg->head_dim_k < 1 ||
        cfg->head_dim_v < 1 || cfg->n_ctx < 1 || cfg->n_ctx > INT32_MAX)
        return kk_err_set(err, KK_E_RANGE,
                          "kv sinkwin: bad config (layers %d, kv heads %d, head dims %d/%d, ctx "
                          "%lld)", (int)cfg->n_layers, (int)cfg->n_kv_heads, (int)cfg->head_dim_k,
                          (int)cfg->head_dim_v, (long long)cfg->n_ctx);
    if (n_sink < 0 || window < 1 || cfg->max_rollback < 0 || n_sink > SW_MAX_ROWS ||
        window > SW_MAX_ROWS || cfg->max_rollback > SW_MAX_ROWS)
        return kk_err_set(err, KK_E_RANGE,
                          "kv sinkwin: sinks %d, window %d, slack (max_rollback) %lld out of "
                          "range (allowed: sinks >= 0, window >= 1, slack >= 0, each <= %lld)",
                          (int)n_sink, (int)window, (long long)cfg->max_rollback,
                          (long long)SW_MAX_ROWS);
    kv_sinkwin *w = calloc(1, sizeof *w);
    if (!w)
        return kk_err_set(err, KK_E_NOMEM, "kv sinkwin: out of memory");
    w->base.vt = &KV_SINKWIN_VT;
    w->base.cfg = *cfg;
    w->n_sink = n_sink;
    w->window = window;
    w->slack = cfg->max_rollback;
    w->ring = window + w->slack;
    w->rows = n_sink + w->ring;
    w->k_row = (int64_t)cfg->n_kv_heads * cfg->head_dim_k;
    w->v_row = (int64_t)cfg->n_kv_heads * cfg->head_dim_v;
    const int64_t slots = (int64_t)cfg->n_layers * w->rows;
    w->k = kv_alloc_f32(slots * w->k_row);
    w->v = kv_alloc_f32(slots * w->v_row);
    w->pos = malloc((size_t)slots * sizeof(int32_t));
    w->len = calloc((size_t)cfg->n_layers, sizeof(int64_t));
    if (!w->k || !w->v || !w->pos || !w->len) {
        sw_free(&w->base);
        return kk_err_set(err, KK_E_NOMEM, "kv sinkwin: out of memory for %lld rows x %d layers",
                          (long long)w->rows, (int)cfg->n_layers);
    }
    /* Unwritten slots are never visible; rows are zeroed so a view never
     * hands out uninitialised floats. */
    memset(w->k, 0, (size_t)(slots * w->k_row) * sizeof(float));
    memset(w->v, 0, (size_t)(slots * w->v_row) * sizeof(float));
    for (int64_t s = 0; s < slots; s++)
        w->pos[s] = INT32_MAX;
    w->bytes = (size_t)(slots * (w->k_row + w->v_row)) * sizeof(float) +
               (size_t)slots * sizeof(int32_t);
    *out = &w->base;
    return KK_OK;
}
