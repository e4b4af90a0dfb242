/* fwd: see forward.h. Contents: state, fwd_run (attention is attention.c). */
#include "forward.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "matmul.h"

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
    float *inv_freq; /* (n_rot/2) */
    float *rope_cs;  /* (B, n_rot): each row's cosines and sines (fast path) */
    float *inv_freq_swa, *rope_cs_swa; /* the same at rope_base_swa (gemma3) */
    /* per layer, found once at init (fast path only) */
    uint8_t *kv_dead;   /* (n_layers, n_kv_heads): K and V weight rows all zero */
    uint8_t *any_dead;  /* (n_layers) */
    uint8_t *ffn_zero;  /* (n_layers): ffn_down all zero */
    /* the mask hook, borrowed (n_layers) */
    const uint8_t **hidden;
    int64_t *n_hidden;
    /* fwd_set_probe: borrowed; NULL when off */
    const fwd_probe *probe;
    double *probe_h;  /* (2 * n_heads) the probe's per-head masses */
    fwd_q_round q_round; /* fwd_set_q_round */
    int batch_invariant; /* fwd_set_batch_invariant */
};

void fwd_set_batch_invariant(fwd_state *s, bool on) { s->batch_invariant = on; }

kk_code fwd_set_q_round(fwd_state *s, fwd_q_round r, kk_err *err)
{
    if (r == FWD_Q_Q8_0 && s->m->hp.head_dim_k % 32 != 0)
        return kk_err_set(err, KK_E_RANGE, "forward: queries rounded to q8_0 need head_dim_k a "
                          "multiple of 32 (found %d)", (int)s->m->hp.head_dim_k);
    s->q_round = r;
    return KK_OK;
}

/* fwd_set_q_round: n vectors of dim values in place, through F16 or
 * ggml's q8_0 blocks (the reference quantizer, then back to F32). */
static void round_queries(const fwd_state *s, float *q, int64_t n, int32_t dim)
{
    dtype_block_q8_0 blk[1024 / 32];
    for (int64_t i = 0; i < n; i++) {
        float *v = q + i * dim;
        if (s->q_round == FWD_Q_F16) {
            for (int32_t j = 0; j < dim; j++)
                v[j] = dtype_f16_to_f32(dtype_f32_to_f16(v[j]));
        } else {
            for (int32_t o = 0; o < dim; o += 1024) { /* dim is a multiple of 32 */
                const int32_t m = dim - o < 1024 ? dim - o : 1024;
                dtype_quantize_row_q8_0_ref(v + o, blk, (size_t)m);
                dtype_to_f32_row(DTYPE_Q8_0, blk, v + o, (size_t)m);
            }
        }
    }
}

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
    free(s->inv_freq);
    free(s->rope_cs);
    free(s->inv_freq_swa);
    free(s->rope_cs_swa);
    free(s->kv_dead);
    free(s->any_dead);
    free(s->ffn_zero);
    free((void *)s->hidden);
    free(s->n_hidden);
    free(s->probe_h);
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
    s->inv_freq = alloc_f32(1, hp->n_rot / 2);
    s->rope_cs = alloc_f32(B, hp->n_rot);
    s->inv_freq_swa = alloc_f32(1, hp->n_rot / 2);
    s->rope_cs_swa = alloc_f32(B, hp->n_rot);
    s->kv_dead = calloc((size_t)hp->n_layers * (size_t)hp->n_kv_heads, 1);
    s->any_dead = calloc((size_t)hp->n_layers, 1);
    s->ffn_zero = calloc((size_t)hp->n_layers, 1);
    s->hidden = calloc((size_t)hp->n_layers, sizeof *s->hidden);
    s->n_hidden = calloc((size_t)hp->n_layers, sizeof *s->n_hidden);
    s->probe_h = calloc(2 * (size_t)hp->n_heads, sizeof *s->probe_h);
    if (!s->probe_h ||!s->x || !s->xn || !s->q || !s->k || !s->v || !s->att || !s->proj || !s->gate ||
        !s->up || !s->pos || !s->inv_freq || !s->rope_cs || !s->inv_freq_swa ||
        !s->rope_cs_swa || !s->kv_dead || !s->any_dead ||
        !s->ffn_zero || !s->hidden || !s->n_hidden) {
        fwd_free(s);
        return kk_err_set(err, KK_E_NOMEM, "forward: out of memory for batch %lld",
                          (long long)max_batch);
    }
    ops_rope_freqs(s->inv_freq, hp->n_rot, hp->rope_base);
    ops_rope_freqs(s->inv_freq_swa, hp->n_rot, hp->rope_base_swa);
    find_dead_work(s);
    *out = s;
    return KK_OK;
}

void fwd_set_ref(fwd_state *s, bool use_ref) { s->use_ref = use_ref; }

void fwd_set_probe(fwd_state *s, const fwd_probe *p) { s->probe = p; }

/* The probe of layer il on the chunk's last row (fwd_probe): dead heads
 * are known whichever path runs, so both paths report the same. */
static void run_probe(fwd_state *s, int32_t il, const fwd_attn_shape *sh, int64_t row,
                      const kv_view *view)
{
    const model_hparams *hp = &s->m->hp;
    const fwd_probe *p = s->probe;
    fwd_attn_shape ps = *sh;
    ps.kv_dead = s->kv_dead + (int64_t)il * hp->n_kv_heads;
    double *mr = s->probe_h, *mw = s->probe_h + hp->n_heads;
    bool exact = false;
    fwd_attention_mass(&ps, s->q + row * (int64_t)hp->n_heads * hp->head_dim_k, s->pos[row],
                       view, p->watch, p->n_watch, mr, mw, &exact);
    double br = 0.0, bw = 0.0;
    for (int32_t h = 0; h < hp->n_heads; h++) {
        br = mr[h] > br ? mr[h] : br;
        bw = mw[h] > bw ? mw[h] : bw;
    }
    if (p->mass_restored)
        p->mass_restored[il] = br;
    if (p->mass_watch)
        p->mass_watch[il] = bw;
    if (p->watch_exact)
        p->watch_exact[il] = exact;
}

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
        matmul_run_mode(NULL, W, x, y, n, s->batch_invariant);
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
    /* batch-invariant: the whole product, as one token's step does it */
    if (!kv_dead || !plain_f32(W) || s->batch_invariant) {
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
    if (!kv_dead || !plain_f32(W) || s->batch_invariant) {
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
 * are (zero, or never read). The fast path reads row t's cosines and sines
 * from cs (n, n_rot), filled once per chunk. */
static void rope_rows(const fwd_state *s, float *x, const int32_t *pos, const float *cs,
                      float base, int64_t n, int32_t n_h, int32_t head_dim,
                      const uint8_t *kv_dead, int32_t group)
{
    const model_hparams *hp = &s->m->hp;
    for (int64_t t = 0; t < n; t++)
        for (int32_t h = 0; h < n_h; h++) {
            if (kv_dead && kv_dead[h / group])
                continue;
            float *xh = x + (t * n_h + h) * (int64_t)head_dim;
            if (s->use_ref)
                ops_rope_ref(xh, hp->n_rot, pos[t], base, hp->rope_neox);
            else
                ops_rope_cs(xh, hp->n_rot, cs + t * hp->n_rot, hp->rope_neox);
        }
}

/* ---- row-parallel elementwise work ------------------------------------------------ */

/* Rows are independent, so splitting them over the pool changes no bit.
 * Below FWD_PAR_ROWS rows (decode, short verifications) the work is a few
 * microseconds and runs on the caller: a pool round trip costs about as
 * much. At 2 threads these loops left a core spinning through 7% of a
 * prefill (RMSNorm, RoPE, SwiGLU). */
#define FWD_PAR_ROWS 16

typedef struct rows_job {
    void (*fn)(const void *arg, int64_t t0, int64_t t1);
    const void *arg;
    int64_t n, per;
} rows_job;

static void rows_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const rows_job *j = ctx;
    const int64_t t0 = task * j->per;
    const int64_t t1 = t0 + j->per < j->n ? t0 + j->per : j->n;
    j->fn(j->arg, t0, t1);
}

static void par_rows(const fwd_state *s, int64_t n, void (*fn)(const void *, int64_t, int64_t),
                     const void *arg)
{
    const int threads = matmul_ctx_threads(matmul_default());
    if (s->use_ref || n < FWD_PAR_ROWS || threads == 1) {
        fn(arg, 0, n);
        return;
    }
    const int64_t n_tasks = n < 4 * (int64_t)threads ? n : 4 * (int64_t)threads;
    rows_job j = {fn, arg, n, (n + n_tasks - 1) / n_tasks};
    matmul_parallel(NULL, rows_task, &j, (n + j.per - 1) / j.per);
}

typedef struct norm_arg {
    float *out;
    const float *x, *w;
    int64_t d;
    float eps;
} norm_arg;

static void norm_rows(const void *a, int64_t t0, int64_t t1)
{
    const norm_arg *p = a;
    for (int64_t t = t0; t < t1; t++)
        ops_rmsnorm(p->out + t * p->d, p->x + t * p->d, p->w, p->d, p->eps);
}

/* out (n, d) = rmsnorm of each row of x (n, d) with weights w */
static void rmsnorm_rows(const fwd_state *s, float *out, const float *x, const float *w,
                         int64_t n, int64_t d)
{
    const norm_arg a = {out, x, w, d, s->m->hp.rms_eps};
    par_rows(s, n, norm_rows, &a);
}

typedef struct rope_arg {
    const fwd_state *s;
    float *x;
    const int32_t *pos;
    const float *cs;
    float base;
    int32_t n_h, head_dim, group;
    const uint8_t *kv_dead;
} rope_arg;

static void rope_part(const void *a, int64_t t0, int64_t t1)
{
    const rope_arg *p = a;
    const int64_t row = (int64_t)p->n_h * p->head_dim;
    rope_rows(p->s, p->x + t0 * row, p->pos + t0, p->cs + t0 * p->s->m->hp.n_rot, p->base,
              t1 - t0, p->n_h, p->head_dim, p->kv_dead, p->group);
}

static void rope_par(const fwd_state *s, float *x, const int32_t *pos, const float *cs,
                     float base, int64_t n, int32_t n_h, int32_t head_dim,
                     const uint8_t *kv_dead, int32_t group)
{
    const rope_arg a = {s, x, pos, cs, base, n_h, head_dim, group, kv_dead};
    par_rows(s, n, rope_part, &a);
}

typedef struct swiglu_arg {
    float *g;
    const float *u;
    int64_t n_ff;
    int gelu;          /* 0 SiLU (llama, qwen3); 1 GELU-tanh; 2 ggml's F16 GELU (gemma3) */
} swiglu_arg;

static void swiglu_part(const void *a, int64_t t0, int64_t t1)
{
    const swiglu_arg *p = a;
    if (p->gelu)
        ops_geglu(p->g + t0 * p->n_ff, p->u + t0 * p->n_ff, (t1 - t0) * p->n_ff, p->gelu == 2);
    else
        ops_swiglu(p->g + t0 * p->n_ff, p->u + t0 * p->n_ff, (t1 - t0) * p->n_ff);
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
    if (hp->embd_scale != 1.0f) /* gemma3: x sqrt(n_embd), as llama.cpp's ggml_scale */
        for (int64_t i = 0; i < n * d; i++)
            s->x[i] *= hp->embd_scale;
    /* each row's RoPE cosines and sines, shared by its heads and layers
     * (gemma3's sliding layers: a second table at their base) */
    const bool two_bases = hp->rope_base_swa != hp->rope_base;
    if (!s->use_ref)
        for (int64_t t = 0; t < n; t++) {
            ops_rope_table(s->rope_cs + t * hp->n_rot, hp->n_rot, s->pos[t], s->inv_freq);
            if (two_bases)
                ops_rope_table(s->rope_cs_swa + t * hp->n_rot, hp->n_rot, s->pos[t],
                               s->inv_freq_swa);
        }
    /* gemma3 27B scales q by 1/sqrt(n_embd / n_head); attention divides by
     * sqrt(head_dim_k), so q carries the ratio (1 elsewhere: no work) */
    const float q_scale = hp->attn_scale * sqrtf((float)hp->head_dim_k);
    const bool scale_q = fabsf(q_scale - 1.0f) > 1e-6f;

    for (int32_t il = 0; il < hp->n_layers; il++) {
        const model_layer *L = &m->layers[il];
        const uint8_t *dead =
            (!s->use_ref && s->any_dead[il]) ? s->kv_dead + (int64_t)il * hp->n_kv_heads : NULL;
        /* Rows [r0, n) go on past attention: all of them, except in the
         * fast path's last layer, where only the rows read later do. */
        const int64_t r0 = (!s->use_ref && il == hp->n_layers - 1) ? n - n_out : 0;
        const int64_t nr = n - r0;
        /* attention input norm: xn (n, d) */
        rmsnorm_rows(s, s->xn, s->x, L->attn_norm, n, d);
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
        const float *cs = L->rope_swa && two_bases ? s->rope_cs_swa : s->rope_cs;
        const float base = L->rope_swa ? hp->rope_base_swa : hp->rope_base;
        rope_par(s, s->q + r0 * q_row, s->pos + r0, cs + r0 * hp->n_rot, base, nr, hp->n_heads,
                 hp->head_dim_k, dead, group);
        rope_par(s, s->k, s->pos, cs, base, n, hp->n_kv_heads, hp->head_dim_k, dead, 1);
        if (scale_q)
            for (int64_t i = r0 * q_row; i < n * q_row; i++)
                s->q[i] *= q_scale;
        if (s->q_round != FWD_Q_EXACT)
            round_queries(s, s->q, n * hp->n_heads, hp->head_dim_k);
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
        else if (fwd_attention(&sh, s->q + r0 * q_row, s->pos + r0, nr, &view,
                               s->att + r0 * a_row) != KK_OK)
            return kk_err_set(err, KK_E_NOMEM, "forward: out of memory for attention scores");
        if (s->probe && t0 + n == n_total)
            run_probe(s, il, &sh, n - 1, &view);
        /* output projection + residual */
        matmul_out(s, &L->wo, s->att + r0 * a_row, s->proj + r0 * d, nr, hp->n_heads,
                   hp->head_dim_v, dead, group);
        if (L->attn_post_norm) /* gemma3: the attention output normed before the residual */
            rmsnorm_rows(s, s->proj + r0 * d, s->proj + r0 * d, L->attn_post_norm, nr, d);
        for (int64_t i = r0 * d; i < n * d; i++)
            s->x[i] += s->proj[i];
        /* FFN: x += down(act(gate(xn)) * up(xn)); exactly 0 when ffn_down is
         * (gemma3's post-FFN norm of 0 is 0 too) */
        if (!s->use_ref && s->ffn_zero[il])
            continue;
        rmsnorm_rows(s, s->xn + r0 * d, s->x + r0 * d, L->ffn_norm, nr, d);
        matmul(s, &L->ffn_gate, s->xn + r0 * d, s->gate, nr);
        matmul(s, &L->ffn_up, s->xn + r0 * d, s->up, nr);
        {
            const swiglu_arg a = {s->gate, s->up, hp->n_ff,
                                  hp->gemma ? (m->act == OPS_ACT_GGML ? 2 : 1) : 0};
            par_rows(s, nr, swiglu_part, &a);
        }
        matmul(s, &L->ffn_down, s->gate, s->proj + r0 * d, nr);
        if (L->ffn_post_norm)
            rmsnorm_rows(s, s->proj + r0 * d, s->proj + r0 * d, L->ffn_post_norm, nr, d);
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
    const float c = m->hp.logit_softcap;
    if (c > 0.0f) /* gemma3's final_logit_softcapping, as llama.cpp: scale, tanh, scale */
        for (int64_t i = 0; i < nr * m->hp.n_vocab; i++)
            logits[i] = tanhf(logits[i] * (1.0f / c)) * c;
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
    for (int64_t t0 = 0, nc; t0 < n; t0 += nc) {
        nc = (n - t0 < s->max_batch) ? n - t0 : s->max_batch;
        /* invariant: no call may change how the cache shows a row to an
         * earlier query of the same call (kv_invariant_rows) */
        if (s->batch_invariant)
            nc = kv_invariant_rows(kv, nc);
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

void fwd_capture_rows(const float *cap, int32_t n_layers, int64_t n, int64_t row, float *out)
{
    for (int64_t p = 0; p < n; p++)
        for (int32_t l = 0; l < n_layers; l++)
            memcpy(out + (p * n_layers + l) * row, cap + ((int64_t)l * n + p) * row,
                   (size_t)row * sizeof(float));
}
