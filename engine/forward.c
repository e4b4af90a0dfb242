/* fwd: see forward.h. Contents: attention (fast, ref), state, fwd_run. */
#include "forward.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- attention ---------------------------------------------------------- */

static bool visible(const fwd_attn_shape *sh, int32_t q_pos, int32_t k_pos)
{
    if (k_pos > q_pos)
        return false;
    if (sh->hidden && k_pos < sh->n_hidden && sh->hidden[k_pos])
        return false;
    return sh->window <= 0 || (int64_t)q_pos - k_pos < sh->window;
}

/* First index in ascending pos[0..n) whose value is > x. */
static int64_t upper_bound(const int32_t *pos, int64_t n, int64_t x)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (pos[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* exp(x) for x <= 0 by range reduction (x = n ln2 + r, |r| <= ln2/2) and
 * a degree-6 polynomial, branch-free so the loop vectorizes; 0 below -87
 * (where expf underflows to subnormals: libm's slow path took 20% of a
 * NIAH run). Relative error < 3e-7 (Taylor remainder r^7/7! < 2e-7 plus
 * float rounding). */
static float exp_neg(float x)
{
    const float xc = x < -87.0f ? -87.0f : x; /* -INFINITY too */
    const float t = xc * 1.44269504f + 12582912.0f; /* round(x/ln2) in the low bits */
    const float n = t - 12582912.0f;
    const float r = (xc - n * 0.693145752f) - n * 1.42860677e-6f; /* ln2 = hi + lo */
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const union { uint32_t u; float f; } scale = {(uint32_t)((int32_t)n + 127) << 23};
    return x < -87.0f ? 0.0f : p * scale.f;
}

/* ops_softmax's contract (-INFINITY -> 0; all masked -> all 0) with
 * exp_neg: the maximum is subtracted first, so every argument is <= 0. */
static void softmax_fast(float *x, int64_t n)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    if (mx == -INFINITY) {
        memset(x, 0, (size_t)n * sizeof(float));
        return;
    }
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = exp_neg(x[i] - mx);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

static bool ascending(const int32_t *pos, int64_t n)
{
    for (int64_t j = 1; j < n; j++)
        if (pos[j] < pos[j - 1])
            return false;
    return true;
}

void fwd_attention(const fwd_attn_shape *sh, const float *q, const int32_t *q_pos,
                   int64_t n, const kv_view *kv, float *out, float *scores)
{
    const int64_t nk = kv->n;
    const int64_t ldq = (int64_t)sh->n_heads * sh->head_dim_k;
    const int64_t ldo = (int64_t)sh->n_heads * sh->head_dim_v;
    const int32_t group = sh->n_heads / sh->n_kv_heads;
    const float scale = 1.0f / sqrtf((float)sh->head_dim_k);
    /* Ascending positions: a block of queries sees at most the entries up
     * to its largest position, and with a window none before its smallest
     * position - window + 1; only that range is multiplied. */
    const bool sorted = ascending(kv->pos, nk);
    for (int32_t h = 0; h < sh->n_heads; h++) {
        const int32_t kvh = h / group; /* GQA: query heads share a KV head */
        if (sh->kv_dead && sh->kv_dead[kvh]) {
            for (int64_t i = 0; i < n; i++)
                memset(out + i * ldo + (int64_t)h * sh->head_dim_v, 0,
                       (size_t)sh->head_dim_v * sizeof(float));
            continue;
        }
        for (int64_t c0 = 0; c0 < n; c0 += FWD_ATT_CHUNK) {
            const int64_t m = (n - c0 < FWD_ATT_CHUNK) ? n - c0 : FWD_ATT_CHUNK;
            int64_t lo = 0, hi = nk;
            if (sorted) {
                int64_t qmin = q_pos[c0], qmax = q_pos[c0];
                for (int64_t i = 1; i < m; i++) {
                    qmin = q_pos[c0 + i] < qmin ? q_pos[c0 + i] : qmin;
                    qmax = q_pos[c0 + i] > qmax ? q_pos[c0 + i] : qmax;
                }
                hi = upper_bound(kv->pos, nk, qmax);
                if (sh->window > 0)
                    lo = upper_bound(kv->pos, hi, qmin - sh->window);
            }
            const int64_t w = hi - lo;
            float *o = out + c0 * ldo + (int64_t)h * sh->head_dim_v;
            if (w <= 0) { /* nothing visible: no weight anywhere */
                for (int64_t i = 0; i < m; i++)
                    memset(o + i * ldo, 0, (size_t)sh->head_dim_v * sizeof(float));
                continue;
            }
            const float *kh = kv->k + lo * kv->k_stride + (int64_t)kvh * sh->head_dim_k;
            const float *vh = kv->v + lo * kv->v_stride + (int64_t)kvh * sh->head_dim_v;
            const int32_t *kp = kv->pos + lo;
            /* scores (m, w) = scale * q_h (m, dk) . k_h (w, dk)^T; one query
             * (decode) by GEMV: sgemm would pack K first (20% of a decode
             * step's time at 256 entries, perf on the 134M bench model). */
            if (m == 1)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)w, sh->head_dim_k, scale, kh,
                            (int)kv->k_stride, q + c0 * ldq + (int64_t)h * sh->head_dim_k, 1,
                            0.0f, scores, 1);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)w,
                            sh->head_dim_k, scale, q + c0 * ldq + (int64_t)h * sh->head_dim_k,
                            (int)ldq, kh, (int)kv->k_stride, 0.0f, scores, (int)w);
            for (int64_t i = 0; i < m; i++) {
                float *row = scores + i * w;
                if (sorted) { /* visible: a contiguous range, minus hidden entries */
                    const int64_t jhi = upper_bound(kp, w, q_pos[c0 + i]);
                    const int64_t jlo =
                        sh->window > 0 ? upper_bound(kp, jhi, (int64_t)q_pos[c0 + i] - sh->window)
                                       : 0;
                    for (int64_t j = 0; j < jlo; j++)
                        row[j] = -INFINITY;
                    for (int64_t j = jhi; j < w; j++)
                        row[j] = -INFINITY;
                    if (sh->hidden)
                        for (int64_t j = jlo; j < jhi; j++)
                            if (kp[j] < sh->n_hidden && sh->hidden[kp[j]])
                                row[j] = -INFINITY;
                } else {
                    for (int64_t j = 0; j < w; j++)
                        if (!visible(sh, q_pos[c0 + i], kp[j]))
                            row[j] = -INFINITY;
                }
                softmax_fast(row, w);
            }
            /* out_h (m, dv) = p (m, w) . v_h (w, dv) */
            if (m == 1)
                cblas_sgemv(CblasRowMajor, CblasTrans, (int)w, sh->head_dim_v, 1.0f, vh,
                            (int)kv->v_stride, scores, 1, 0.0f, o, 1);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m,
                            sh->head_dim_v, (int)w, 1.0f, scores, (int)w, vh,
                            (int)kv->v_stride, 0.0f, o, (int)ldo);
        }
    }
}

void fwd_attention_ref(const fwd_attn_shape *sh, const float *q, const int32_t *q_pos,
                       int64_t n, const kv_view *kv, float *out)
{
    const int64_t ldq = (int64_t)sh->n_heads * sh->head_dim_k;
    const int64_t ldo = (int64_t)sh->n_heads * sh->head_dim_v;
    const int32_t group = sh->n_heads / sh->n_kv_heads;
    const double scale = 1.0 / sqrt((double)sh->head_dim_k);
    for (int64_t i = 0; i < n; i++) {
        for (int32_t h = 0; h < sh->n_heads; h++) {
            const int32_t kvh = h / group;
            const float *qi = q + i * ldq + (int64_t)h * sh->head_dim_k;
            double mx = -INFINITY, sum = 0.0;
            for (int pass = 0; pass < 2; pass++) { /* max, then sum of exp */
                for (int64_t j = 0; j < kv->n; j++) {
                    if (!visible(sh, q_pos[i], kv->pos[j]))
                        continue;
                    const float *kj = kv->k + j * kv->k_stride + (int64_t)kvh * sh->head_dim_k;
                    double s = 0.0;
                    for (int32_t d = 0; d < sh->head_dim_k; d++)
                        s += (double)qi[d] * kj[d];
                    s *= scale;
                    if (pass == 0)
                        mx = s > mx ? s : mx;
                    else
                        sum += exp(s - mx);
                }
            }
            float *oi = out + i * ldo + (int64_t)h * sh->head_dim_v;
            for (int32_t d = 0; d < sh->head_dim_v; d++) {
                double acc = 0.0;
                for (int64_t j = 0; j < kv->n; j++) {
                    if (!visible(sh, q_pos[i], kv->pos[j]))
                        continue;
                    const float *kj = kv->k + j * kv->k_stride + (int64_t)kvh * sh->head_dim_k;
                    double s = 0.0;
                    for (int32_t e = 0; e < sh->head_dim_k; e++)
                        s += (double)qi[e] * kj[e];
                    const double p = exp(s * scale - mx) / sum;
                    acc += p * kv->v[j * kv->v_stride + (int64_t)kvh * sh->head_dim_v + d];
                }
                oi[d] = (float)(sum > 0.0 ? acc : 0.0);
            }
        }
    }
}

/* ---- state --------------------------------------------------------------- */

struct fwd_state {
    const model *m;
    int64_t max_batch, n_ctx;
    bool use_ref;
    /* shapes: B = max_batch */
    float *x;        /* (B, n_embd) residual stream */
    float *xn;       /* (B, n_embd) normed input of a block */
    float *q;        /* (B, n_heads*head_dim_k) */
    float *k;        /* (B, n_kv_heads*head_dim_k) */
    float *v;        /* (B, n_kv_heads*head_dim_v) */
    float *att;      /* (B, n_heads*head_dim_v) */
    float *proj;     /* (B, n_embd) output of wo / ffn_down */
    float *gate;     /* (B, n_ff) */
    float *up;       /* (B, n_ff) */
    int32_t *pos;    /* (B) */
    float *scores;   /* (FWD_ATT_CHUNK, n_ctx) */
    float *inv_freq; /* (n_rot/2) */
    /* per layer, found once at init (fast path only) */
    uint8_t *kv_dead;   /* (n_layers, n_kv_heads): K and V weight rows all zero */
    uint8_t *any_dead;  /* (n_layers) */
    uint8_t *ffn_zero;  /* (n_layers): ffn_down all zero */
    /* the mask hook, borrowed (n_layers) */
    const uint8_t **hidden;
    int64_t *n_hidden;
};

void fwd_free(fwd_state *s)
{
    if (!s)
        return;
    free(s->x);
    free(s->xn);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->att);
    free(s->proj);
    free(s->gate);
    free(s->up);
    free(s->pos);
    free(s->scores);
    free(s->inv_freq);
    free(s->kv_dead);
    free(s->any_dead);
    free(s->ffn_zero);
    free((void *)s->hidden);
    free(s->n_hidden);
    free(s);
}

static float *alloc_f32(int64_t rows, int64_t cols)
{
    return malloc((size_t)(rows * cols) * sizeof(float) + sizeof(float));
}

/* Caps that keep the scratch products in range (model.c caps the model's
 * dimensions at 2^20). */
#define FWD_MAX_BATCH ((int64_t)1 << 16)
#define FWD_MAX_CTX ((int64_t)1 << 24)

/* Rows [r0, r0+nr) of W all zero (stops at the first nonzero: a trained
 * model costs a few values per check). */
static bool rows_zero(const ops_weight *W, int64_t r0, int64_t nr)
{
    if (!W->f32) /* F16/Q8_0 are read as stored (matmul.h): never skipped */
        return false;
    const float *p = W->f32 + r0 * W->cols;
    for (int64_t i = 0; i < nr * W->cols; i++)
        if (p[i] != 0.0f)
            return false;
    return true;
}

static void find_dead_work(fwd_state *s)
{
    const model_hparams *hp = &s->m->hp;
    for (int32_t il = 0; il < hp->n_layers; il++) {
        const model_layer *L = &s->m->layers[il];
        for (int32_t g = 0; g < hp->n_kv_heads; g++) {
            const bool dead = rows_zero(&L->wk, (int64_t)g * hp->head_dim_k, hp->head_dim_k) &&
                              rows_zero(&L->wv, (int64_t)g * hp->head_dim_v, hp->head_dim_v);
            s->kv_dead[(int64_t)il * hp->n_kv_heads + g] = dead;
            s->any_dead[il] |= dead;
        }
        s->ffn_zero[il] = rows_zero(&L->ffn_down, 0, L->ffn_down.rows);
    }
}

kk_code fwd_init(fwd_state **out, const model *m, int64_t max_batch, int64_t n_ctx,
                 kk_err *err)
{
    *out = NULL;
    if (max_batch < 1 || max_batch > FWD_MAX_BATCH || n_ctx < 1 || n_ctx > FWD_MAX_CTX)
        return kk_err_set(err, KK_E_RANGE,
                          "forward: batch %lld (allowed 1..%lld) or context %lld "
                          "(allowed 1..%lld) out of range",
                          (long long)max_batch, (long long)FWD_MAX_BATCH,
                          (long long)n_ctx, (long long)FWD_MAX_CTX);
    const model_hparams *hp = &m->hp;
    fwd_state *s = calloc(1, sizeof *s);
    if (!s)
        return kk_err_set(err, KK_E_NOMEM, "forward: out of memory");
    s->m = m;
    s->max_batch = max_batch;
    s->n_ctx = n_ctx;
    const int64_t B = max_batch;
    s->x = alloc_f32(B, hp->n_embd);
    s->xn = alloc_f32(B, hp->n_embd);
    s->q = alloc_f32(B, (int64_t)hp->n_heads * hp->head_dim_k);
    s->k = alloc_f32(B, (int64_t)hp->n_kv_heads * hp->head_dim_k);
    s->v = alloc_f32(B, (int64_t)hp->n_kv_heads * hp->head_dim_v);
    s->att = alloc_f32(B, (int64_t)hp->n_heads * hp->head_dim_v);
    s->proj = alloc_f32(B, hp->n_embd);
    s->gate = alloc_f32(B, hp->n_ff);
    s->up = alloc_f32(B, hp->n_ff);
    s->pos = malloc((size_t)B * sizeof(int32_t));
    s->scores = alloc_f32(FWD_ATT_CHUNK, n_ctx);
    s->inv_freq = alloc_f32(1, hp->n_rot / 2);
    s->kv_dead = calloc((size_t)hp->n_layers * (size_t)hp->n_kv_heads, 1);
    s->any_dead = calloc((size_t)hp->n_layers, 1);
    s->ffn_zero = calloc((size_t)hp->n_layers, 1);
    s->hidden = calloc((size_t)hp->n_layers, sizeof *s->hidden);
    s->n_hidden = calloc((size_t)hp->n_layers, sizeof *s->n_hidden);
    if (!s->x || !s->xn || !s->q || !s->k || !s->v || !s->att || !s->proj || !s->gate ||
        !s->up || !s->pos || !s->scores || !s->inv_freq || !s->kv_dead || !s->any_dead ||
        !s->ffn_zero || !s->hidden || !s->n_hidden) {
        fwd_free(s);
        return kk_err_set(err, KK_E_NOMEM, "forward: out of memory for batch %lld",
                          (long long)max_batch);
    }
    ops_rope_freqs(s->inv_freq, hp->n_rot, hp->rope_base);
    find_dead_work(s);
    *out = s;
    return KK_OK;
}

void fwd_set_ref(fwd_state *s, bool use_ref) { s->use_ref = use_ref; }

kk_code fwd_set_mask(fwd_state *s, int32_t layer, const uint8_t *hidden, int64_t n_pos,
                     kk_err *err)
{
    if (layer < 0 || layer >= s->m->hp.n_layers || n_pos < 0)
        return kk_err_set(err, KK_E_RANGE,
                          "forward: mask for layer %d over %lld positions (allowed: layers "
                          "0..%d, positions >= 0)",
                          (int)layer, (long long)n_pos, (int)s->m->hp.n_layers - 1);
    s->hidden[layer] = hidden;
    s->n_hidden[layer] = hidden ? n_pos : 0;
    return KK_OK;
}

/* ---- the pass -------------------------------------------------------------- */

static void matmul(const fwd_state *s, const ops_weight *W, const float *x, float *y,
                   int64_t n)
{
    if (s->use_ref)
        ops_matmul_ref(W, x, y, n);
    else
        ops_matmul(W, x, y, n);
}

/* W has an F32 form (F32 and BF16 files; F16/Q8_0 are read as stored) and
 * its product has no activation rounding, so a block of its rows or
 * columns may be multiplied alone. */
static bool plain_f32(const ops_weight *W)
{
    return W->f32 != NULL;
}

/* y (n, W->rows; row stride W->rows) for the live heads only: head h's
 * rows [h*hd, (h+1)*hd) of W when live(h); dead heads' columns are 0
 * (their weights are zero, so that is the product). */
static void matmul_heads(const fwd_state *s, const ops_weight *W, const float *x, float *y,
                         int64_t n, int32_t n_h, int32_t hd, const uint8_t *kv_dead,
                         int32_t group)
{
    if (!kv_dead || !plain_f32(W)) {
        matmul(s, W, x, y, n);
        return;
    }
    const int64_t cols = W->cols, ld = (int64_t)n_h * hd;
    for (int32_t h = 0; h < n_h; h++) {
        if (kv_dead[h / group]) {
            for (int64_t t = 0; t < n; t++)
                memset(y + t * ld + (int64_t)h * hd, 0, (size_t)hd * sizeof(float));
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, hd, (int)cols, 1.0f, x,
                    (int)cols, W->f32 + (int64_t)h * hd * cols, (int)cols, 0.0f,
                    y + (int64_t)h * hd, (int)ld);
    }
}

/* The output projection y (n, d) = att (n, H*dv) . W_o^T over the live
 * heads' columns only. */
static void matmul_out(const fwd_state *s, const ops_weight *W, const float *att, float *y,
                       int64_t n, int32_t n_h, int32_t hd, const uint8_t *kv_dead,
                       int32_t group)
{
    if (!kv_dead || !plain_f32(W)) {
        matmul(s, W, att, y, n);
        return;
    }
    const int64_t rows = W->rows, ld = (int64_t)n_h * hd;
    float beta = 0.0f;
    for (int32_t h = 0; h < n_h; h++) {
        if (kv_dead[h / group])
            continue;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)rows, hd, 1.0f,
                    att + (int64_t)h * hd, (int)ld, W->f32 + (int64_t)h * hd, (int)ld, beta,
                    y, (int)rows);
        beta = 1.0f;
    }
    if (beta == 0.0f) /* no live head */
        memset(y, 0, (size_t)(n * rows) * sizeof(float));
}

/* RoPE on every head of n rows (row = n_h heads of head_dim) at pos[t];
 * heads of a dead KV head (kv_dead[h / group], NULL: none) stay as they
 * are (zero, or never read). */
static void rope_rows(const fwd_state *s, float *x, const int32_t *pos, int64_t n,
                      int32_t n_h, int32_t head_dim, const uint8_t *kv_dead, int32_t group)
{
    const model_hparams *hp = &s->m->hp;
    for (int64_t t = 0; t < n; t++)
        for (int32_t h = 0; h < n_h; h++) {
            if (kv_dead && kv_dead[h / group])
                continue;
            float *xh = x + (t * n_h + h) * (int64_t)head_dim;
            if (s->use_ref)
                ops_rope_ref(xh, hp->n_rot, pos[t], hp->rope_base, hp->rope_neox);
            else
                ops_rope(xh, hp->n_rot, pos[t], s->inv_freq, hp->rope_neox);
        }
}

static void capture(float *dst, const float *src, int32_t layer, int64_t n_total,
                    int64_t t0, int64_t n, int64_t row)
{
    if (dst)
        memcpy(dst + ((int64_t)layer * n_total + t0) * row, src,
               (size_t)(n * row) * sizeof(float));
}

/* One chunk of n <= max_batch tokens whose positions are in s->pos.
 * n_out: how many of the chunk's last rows need the last layer's output
 * (n for every row; the fast path computes only those). */
static kk_code run_chunk(fwd_state *s, kv_cache *kv, const int32_t *tokens, int64_t n,
                         int64_t n_out, int64_t t0, int64_t n_total, const fwd_capture *cap,
                         kk_err *err)
{
    const model *m = s->m;
    const model_hparams *hp = &m->hp;
    const int64_t d = hp->n_embd;
    const int64_t k_row = (int64_t)hp->n_kv_heads * hp->head_dim_k;
    const int64_t v_row = (int64_t)hp->n_kv_heads * hp->head_dim_v;
    const int64_t q_row = (int64_t)hp->n_heads * hp->head_dim_k;
    const int64_t a_row = (int64_t)hp->n_heads * hp->head_dim_v;
    const int32_t group = hp->n_heads / hp->n_kv_heads;

    /* x (n, d) = the embedding rows */
    for (int64_t t = 0; t < n; t++)
        model_embed(m, tokens[t], s->x + t * d);

    for (int32_t il = 0; il < hp->n_layers; il++) {
        const model_layer *L = &m->layers[il];
        const uint8_t *dead =
            (!s->use_ref && s->any_dead[il]) ? s->kv_dead + (int64_t)il * hp->n_kv_heads : NULL;
        /* Rows [r0, n) go on past attention: all of them, except in the
         * fast path's last layer, where only the rows read later do. */
        const int64_t r0 = (!s->use_ref && il == hp->n_layers - 1) ? n - n_out : 0;
        const int64_t nr = n - r0;
        /* attention input norm: xn (n, d) */
        for (int64_t t = 0; t < n; t++)
            ops_rmsnorm(s->xn + t * d, s->x + t * d, L->attn_norm, d, hp->rms_eps);
        /* projections: q (nr, H*dk) for rows r0.., k (n, KH*dk), v (n, KH*dv) */
        if (nr > 0)
            matmul_heads(s, &L->wq, s->xn + r0 * d, s->q + r0 * q_row, nr, hp->n_heads,
                         hp->head_dim_k, dead, group);
        matmul_heads(s, &L->wk, s->xn, s->k, n, hp->n_kv_heads, hp->head_dim_k, dead, 1);
        matmul_heads(s, &L->wv, s->xn, s->v, n, hp->n_kv_heads, hp->head_dim_v, dead, 1);
        /* qwen3: RMSNorm over each head of q and k (weights (dk)) */
        if (hp->qk_norm) {
            for (int64_t i = r0 * hp->n_heads; i < n * hp->n_heads; i++)
                ops_rmsnorm(s->q + i * hp->head_dim_k, s->q + i * hp->head_dim_k,
                            L->q_norm, hp->head_dim_k, hp->rms_eps);
            for (int64_t i = 0; i < n * hp->n_kv_heads; i++)
                ops_rmsnorm(s->k + i * hp->head_dim_k, s->k + i * hp->head_dim_k,
                            L->k_norm, hp->head_dim_k, hp->rms_eps);
        }
        if (cap)
            capture(cap->k_pre, s->k, il, n_total, t0, n, k_row);
        /* RoPE at each token's position */
        rope_rows(s, s->q + r0 * q_row, s->pos + r0, nr, hp->n_heads, hp->head_dim_k, dead,
                  group);
        rope_rows(s, s->k, s->pos, n, hp->n_kv_heads, hp->head_dim_k, dead, 1);
        if (cap) {
            capture(cap->k_post, s->k, il, n_total, t0, n, k_row);
            capture(cap->v, s->v, il, n_total, t0, n, v_row);
        }
        /* cache, then attend over what the cache holds: att (nr, H*dv) */
        kk_code rc = kv_append(kv, il, s->k, s->v, s->pos, n, err);
        if (rc != KK_OK)
            return rc;
        kv_view view;
        rc = kv_view_layer(kv, il, &view, err);
        if (rc != KK_OK)
            return rc;
        if (view.n > s->n_ctx)
            return kk_err_set(err, KK_E_LIMIT,
                              "forward: the cache holds %lld entries, more than the %lld "
                              "this state was sized for",
                              (long long)view.n, (long long)s->n_ctx);
        if (nr == 0)
            continue; /* the last layer, and no row of this chunk is read */
        const fwd_attn_shape sh = {hp->n_heads, hp->n_kv_heads, hp->head_dim_k,
                                   hp->head_dim_v, L->sliding_window, s->hidden[il],
                                   s->n_hidden[il], dead};
        if (s->use_ref)
            fwd_attention_ref(&sh, s->q, s->pos, n, &view, s->att);
        else
            fwd_attention(&sh, s->q + r0 * q_row, s->pos + r0, nr, &view,
                          s->att + r0 * a_row, s->scores);
        /* output projection + residual */
        matmul_out(s, &L->wo, s->att + r0 * a_row, s->proj + r0 * d, nr, hp->n_heads,
                   hp->head_dim_v, dead, group);
        for (int64_t i = r0 * d; i < n * d; i++)
            s->x[i] += s->proj[i];
        /* FFN: x += down(silu(gate(xn)) * up(xn)); exactly 0 when ffn_down is */
        if (!s->use_ref && s->ffn_zero[il])
            continue;
        for (int64_t t = r0; t < n; t++)
            ops_rmsnorm(s->xn + t * d, s->x + t * d, L->ffn_norm, d, hp->rms_eps);
        matmul(s, &L->ffn_gate, s->xn + r0 * d, s->gate, nr);
        matmul(s, &L->ffn_up, s->xn + r0 * d, s->up, nr);
        ops_swiglu(s->gate, s->up, nr * hp->n_ff);
        matmul(s, &L->ffn_down, s->gate, s->proj + r0 * d, nr);
        for (int64_t i = r0 * d; i < n * d; i++)
            s->x[i] += s->proj[i];
    }
    return KK_OK;
}

/* Final norm and output matrix for rows [r0, r0+nr) of the chunk. */
static void output_logits(fwd_state *s, int64_t r0, int64_t nr, float *logits)
{
    const model *m = s->m;
    const int64_t d = m->hp.n_embd;
    for (int64_t t = 0; t < nr; t++)
        ops_rmsnorm(s->xn + t * d, s->x + (r0 + t) * d, m->output_norm, d, m->hp.rms_eps);
    matmul(s, &m->output, s->xn, logits, nr);
}

kk_code fwd_run(fwd_state *s, kv_cache *kv, const int32_t *tokens, const int32_t *pos,
                int64_t n, fwd_logits mode, float *logits, const fwd_capture *cap,
                kk_err *err)
{
    const model_hparams *hp = &s->m->hp;
    if (n < 1)
        return kk_err_set(err, KK_E_RANGE, "forward: empty batch");
    for (int64_t i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab) {
            kk_err_set(err, KK_E_RANGE, "token id %d at index %lld is out of range (allowed: 0..%d)",
                       (int)tokens[i], (long long)i, (int)hp->n_vocab - 1);
            return kk_err_where(err, "tokens");
        }
        if (pos && pos[i] < 0)
            return kk_err_set(err, KK_E_RANGE, "position %d at index %lld is negative",
                              (int)pos[i], (long long)i);
    }
    const int64_t start = kv_n_tokens(kv);
    if (!pos && start + n > INT32_MAX)
        return kk_err_set(err, KK_E_LIMIT, "forward: positions past 2^31");
    for (int64_t t0 = 0; t0 < n; t0 += s->max_batch) {
        const int64_t nc = (n - t0 < s->max_batch) ? n - t0 : s->max_batch;
        const bool final = t0 + nc == n;
        const int64_t n_out = mode == FWD_LOGITS_ALL ? nc
                              : (mode == FWD_LOGITS_LAST && final) ? 1
                                                                  : 0;
        for (int64_t t = 0; t < nc; t++)
            s->pos[t] = pos ? pos[t0 + t] : (int32_t)(start + t0 + t);
        kk_code rc = run_chunk(s, kv, tokens + t0, nc, n_out, t0, n, cap, err);
        if (rc != KK_OK)
            return rc;
        if (mode == FWD_LOGITS_ALL)
            output_logits(s, 0, nc, logits + t0 * hp->n_vocab);
        else if (mode == FWD_LOGITS_LAST && final)
            output_logits(s, nc - 1, 1, logits);
    }
    return KK_OK;
}
