/* matmul: see matmul.h. Contents: plain kernels, scratch, ISA choice,
 * contexts, the dispatch (matmul_run), the reference (matmul_run_ref). */
#include "cpu.h"
#include "matmul.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "matmul_internal.h"

/* ---- plain kernels (sums in double) ------------------------------------ */

void mm_f32_ref(const float *w, int64_t ldw, const float *x, int64_t ldx, float *y,
                int64_t ldy, int64_t n, int64_t nr, int64_t k)
{
    for (int64_t t = 0; t < n; t++)
        for (int64_t r = 0; r < nr; r++) {
            double acc = 0.0;
            for (int64_t c = 0; c < k; c++)
                acc += (double)w[r * ldw + c] * (double)x[t * ldx + c];
            y[t * ldy + r] = (float)acc;
        }
}

void mm_f16_ref(const uint16_t *w, int64_t ldw, const float *x, int64_t ldx, float *y,
                int64_t ldy, int64_t n, int64_t nr, int64_t k)
{
    for (int64_t t = 0; t < n; t++)
        for (int64_t r = 0; r < nr; r++) {
            double acc = 0.0;
            for (int64_t c = 0; c < k; c++)
                acc += (double)dtype_f16_to_f32(w[r * ldw + c]) * (double)x[t * ldx + c];
            y[t * ldy + r] = (float)acc;
        }
}

/* Per block the exact integer dot, times d_w * d_x, summed in double. The
 * block is copied out: mmapped blocks are 34 bytes, not 2-aligned. */
void mm_q8_ref(const dtype_block_q8_0 *w, int64_t ldw, const int8_t *xq, int64_t ldq,
               const float *xd, int64_t ldd, float *y, int64_t ldy, int64_t n, int64_t nr,
               int64_t nb)
{
    for (int64_t t = 0; t < n; t++)
        for (int64_t r = 0; r < nr; r++) {
            double acc = 0.0;
            for (int64_t b = 0; b < nb; b++) {
                dtype_block_q8_0 blk;
                memcpy(&blk, w + r * ldw + b, sizeof blk);
                const int8_t *xb = xq + t * ldq + b * DTYPE_QK8_0;
                int32_t sumi = 0;
                for (int j = 0; j < DTYPE_QK8_0; j++)
                    sumi += (int32_t)blk.qs[j] * (int32_t)xb[j];
                acc += (double)sumi * (double)dtype_f16_to_f32(blk.d) * (double)xd[t * ldd + b];
            }
            y[t * ldy + r] = (float)acc;
        }
}

void mm_nn_ref(const float *p, int64_t ldp, const float *v, int64_t ldv, float *y, int64_t ldy,
               int64_t n, int64_t m, int64_t k)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < k; c++) {
            double acc = 0.0;
            for (int64_t j = 0; j < m; j++)
                acc += (double)p[i * ldp + j] * (double)v[j * ldv + c];
            y[i * ldy + c] = (float)acc;
        }
}

void mm_nn16_ref(const float *p, int64_t ldp, const uint16_t *v, int64_t ldv, float *y,
                 int64_t ldy, int64_t n, int64_t m, int64_t k)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < k; c++) {
            double acc = 0.0;
            for (int64_t j = 0; j < m; j++)
                acc += (double)p[i * ldp + j] * (double)dtype_f16_to_f32(v[j * ldv + c]);
            y[i * ldy + c] = (float)acc;
        }
}

void matmul_quantize_q8_ref(const float *x, int8_t *qs, float *d, int64_t n)
{
    for (int64_t b = 0; b < n / DTYPE_QK8_0; b++) {
        dtype_block_q8_0 blk;
        dtype_quantize_row_q8_0_ref(x + b * DTYPE_QK8_0, &blk, DTYPE_QK8_0);
        memcpy(qs + b * DTYPE_QK8_0, blk.qs, DTYPE_QK8_0);
        d[b] = dtype_f16_to_f32(blk.d);
    }
}

void mm_round16_ref(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = dtype_f16_to_f32(dtype_f32_to_f16(x[i]));
}

/* ---- ISA choice ---------------------------------------------------------- */

static pthread_once_t g_isa_once = PTHREAD_ONCE_INIT;
static matmul_isa g_isa_best = MATMUL_ISA_SCALAR;
static mm_kernels g_kernels[3];
static _Atomic int g_isa_cap = MATMUL_ISA_AVX512;

static void quant_plain(const float *x, int8_t *qs, float *d, int64_t n)
{
    matmul_quantize_q8_ref(x, qs, d, n);
}

/* Detection only: the cap (g_isa_cap) is the caller's, set by
 * matmul_set_isa whenever it likes, so isa_init never touches it. */
static void isa_init(void)
{
    const mm_kernels plain = {mm_f32_ref, mm_f16_ref, mm_q8_ref, quant_plain, mm_round16_ref,
                              mm_nn_ref, mm_f32_ref, mm_f16_ref, mm_nn16_ref,
                              mm_f32_ref, mm_f16_ref};
    for (int i = 0; i < 3; i++)
        g_kernels[i] = plain;
#ifdef MM_HAVE_X86
    /* CPUID by hand (engine/cpu.h): clang 14 rejects __builtin_cpu_supports("f16c"). */
    const cpu_features *cf = cpu_get_features();
    const bool avx2 = cf->avx2 && cf->fma && cf->f16c;
    const bool avx512 = avx2 && cf->avx512f && cf->avx512bw && cf->avx512vl && cf->avx512dq;
    if (avx2) {
        mm_kernels_avx2(&g_kernels[MATMUL_ISA_AVX2]);
        g_kernels[MATMUL_ISA_AVX512] = g_kernels[MATMUL_ISA_AVX2];
        g_isa_best = MATMUL_ISA_AVX2;
    }
    if (avx512) {
        mm_kernels_avx512(&g_kernels[MATMUL_ISA_AVX512],
                          cf->avx512vnni);
        g_isa_best = MATMUL_ISA_AVX512;
    }
#endif
}

matmul_isa matmul_isa_best(void)
{
    pthread_once(&g_isa_once, isa_init);
    return g_isa_best;
}

void matmul_set_isa(matmul_isa cap) { atomic_store(&g_isa_cap, (int)cap); }

matmul_isa matmul_isa_current(void)
{
    const matmul_isa best = matmul_isa_best();
    const int cap = atomic_load(&g_isa_cap);
    return (int)best < cap ? best : (matmul_isa)cap;
}

const char *matmul_isa_name(matmul_isa isa)
{
    switch (isa) {
    case MATMUL_ISA_SCALAR: return "scalar";
    case MATMUL_ISA_AVX2: return "avx2";
    case MATMUL_ISA_AVX512: return "avx512";
    }
    return "?";
}

kk_code matmul_isa_parse(const char *s, matmul_isa *out, kk_err *err)
{
    for (int i = MATMUL_ISA_SCALAR; i <= MATMUL_ISA_AVX512; i++)
        if (s && !strcmp(s, matmul_isa_name((matmul_isa)i))) {
            *out = (matmul_isa)i;
            return KK_OK;
        }
    kk_err_set(err, KK_E_RANGE, "SIMD level \"%.100s\"; allowed: %s", s ? s : "(null)",
               MATMUL_ISA_NAMES);
    kk_err_where(err, "isa");
    return KK_E_RANGE; /* kk_err_where returns KK_OK for err == NULL */
}

void matmul_quantize_q8(const float *x, int8_t *qs, float *d, int64_t n)
{
    g_kernels[matmul_isa_current()].quant(x, qs, d, n);
}

void matmul_round_f16(const float *x, float *y, int64_t n)
{
    g_kernels[matmul_isa_current()].round16(x, y, n);
}

/* ---- per-thread scratch ---------------------------------------------------- */

/* Slots per OS thread: SLOT_ACT holds the caller's rounded or quantized
 * activations (read by every worker during one product), SLOT_TILE a
 * worker's dequantized rows, SLOT_USER matmul_thread_scratch's (attention
 * scores: a product may run inside an attention task). Kept until the
 * thread exits. */
enum { SLOT_ACT = 0, SLOT_TILE = 1, SLOT_USER = 2, N_SLOTS = 3 };

typedef struct mm_scratch {
    void *p[N_SLOTS];
    size_t cap[N_SLOTS];
} mm_scratch;

static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static bool g_key_ok;

static void scratch_free(void *v)
{
    mm_scratch *s = v;
    for (int i = 0; i < N_SLOTS; i++)
        free(s->p[i]);
    free(s);
}

static void key_init(void) { g_key_ok = pthread_key_create(&g_key, scratch_free) == 0; }

/* At least `bytes` of 64-byte aligned scratch in this thread's slot, or
 * NULL when memory runs out. */
static void *scratch_get(int slot, size_t bytes)
{
    pthread_once(&g_key_once, key_init);
    if (!g_key_ok)
        return NULL;
    mm_scratch *s = pthread_getspecific(g_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(g_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->cap[slot] < bytes) {
        const size_t want = (bytes + 63) & ~(size_t)63;
        void *p = aligned_alloc(64, want);
        if (!p)
            return NULL;
        free(s->p[slot]);
        s->p[slot] = p;
        s->cap[slot] = want;
    }
    return s->p[slot];
}

float *matmul_thread_scratch(size_t n_floats)
{
    return scratch_get(SLOT_USER, n_floats * sizeof(float));
}

/* ---- contexts -------------------------------------------------------------- */

struct matmul_ctx {
    tp_pool *pool;
    int n_threads;
};

kk_code matmul_ctx_init(matmul_ctx **out, int n_threads, kk_err *err)
{
    *out = NULL;
    matmul_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    kk_code rc = tp_init(&c->pool, n_threads, err);
    if (rc != KK_OK) {
        free(c);
        return rc;
    }
    c->n_threads = n_threads;
    *out = c;
    return KK_OK;
}

void matmul_ctx_free(matmul_ctx *c)
{
    if (!c)
        return;
    tp_free(c->pool);
    free(c);
}

int matmul_ctx_threads(const matmul_ctx *c) { return c ? c->n_threads : 1; }

static pthread_mutex_t g_default_mu = PTHREAD_MUTEX_INITIALIZER;
static matmul_ctx *g_default;
static int g_default_threads = 1;

matmul_ctx *matmul_default(void)
{
    pthread_mutex_lock(&g_default_mu);
    if (!g_default && matmul_ctx_init(&g_default, g_default_threads, NULL) != KK_OK)
        g_default = NULL; /* products then run on the caller alone */
    matmul_ctx *c = g_default;
    pthread_mutex_unlock(&g_default_mu);
    return c;
}

void matmul_set_threads(int n_threads)
{
    if (n_threads < 1)
        n_threads = 1;
    if (n_threads > TP_MAX_THREADS)
        n_threads = TP_MAX_THREADS;
    pthread_mutex_lock(&g_default_mu);
    if (g_default && g_default->n_threads != n_threads) {
        matmul_ctx_free(g_default);
        g_default = NULL;
    }
    g_default_threads = n_threads;
    pthread_mutex_unlock(&g_default_mu);
}

void matmul_parallel(matmul_ctx *c, tp_fn fn, void *ctx, int64_t n_tasks)
{
    if (!c)
        c = matmul_default();
    tp_run(c ? c->pool : NULL, fn, ctx, n_tasks);
}

void matmul_f32_nt(const float *w, int64_t ldw, const float *x, int64_t ldx, float *y,
                   int64_t ldy, int64_t n, int64_t nr, int64_t k)
{
    g_kernels[matmul_isa_current()].dots(w, ldw, x, ldx, y, ldy, n, nr, k);
}

void matmul_f16_nt(const uint16_t *w, int64_t ldw, const float *x, int64_t ldx, float *y,
                   int64_t ldy, int64_t n, int64_t nr, int64_t k)
{
    g_kernels[matmul_isa_current()].dots16(w, ldw, x, ldx, y, ldy, n, nr, k);
}

void matmul_f16_nn(const float *p, int64_t ldp, const uint16_t *v, int64_t ldv, float *y,
                   int64_t ldy, int64_t n, int64_t m, int64_t k)
{
    g_kernels[matmul_isa_current()].nn16(p, ldp, v, ldv, y, ldy, n, m, k);
}

void matmul_f32_nn(const float *p, int64_t ldp, const float *v, int64_t ldv, float *y,
                   int64_t ldy, int64_t n, int64_t m, int64_t k)
{
    g_kernels[matmul_isa_current()].nn(p, ldp, v, ldv, y, ldy, n, m, k);
}

/* ---- dispatch ---------------------------------------------------------------- */

typedef enum mm_kind {
    MM_F32,      /* F32 rows (the file's or the model's copy) */
    MM_F16,      /* F16 rows, x possibly rounded to F16 */
    MM_Q8,       /* Q8_0 rows x Q8_0 activations */
    MM_DEQUANT,  /* F16 or Q8_0 rows widened to F32 per tile, F32 x */
} mm_kind;

typedef struct mm_job {
    const mm_kernels *k;
    mm_kind kind;
    dtype_t wtype;       /* storage of w (MM_DEQUANT widens it) */
    const void *w;       /* F32, F16 or Q8_0 rows */
    const float *x;      /* (n, cols) as the kernel reads it */
    const int8_t *xq;    /* (n, cols) quants for MM_Q8 */
    const float *xd;     /* (n, cols/32) scales for MM_Q8 */
    float *y;
    int64_t n, rows, cols, rows_per_task;
    _Atomic int ok;      /* 0: a tile's scratch could not be had */
    int inv;             /* batch-invariant kernels (matmul_run_mode) */
} mm_job;

/* Tasks per thread and product: on 2 cores shared with other processes a
 * preempted worker stalls the product for its task's length, so tasks are
 * short (768 rows on 2 threads: 16 tasks of 48 rows); each costs one
 * atomic increment. */
#define MM_TASKS_PER_THREAD 8
/* Rows per task are a multiple of both tile heights (6 for AVX-512 F32/F16,
 * 4 for Q8_0 and AVX2) so only a matrix's last task has a ragged edge. */
#define MM_ROW_GRAIN 24
/* Tokens from which an F16 product widens its rows first. Below, the
 * rows stream from memory and widening in registers costs nothing next to
 * the prefetched stream (8 tokens: 185 GFLOP/s in registers against 68
 * widened first, whose copy loop has no prefetch). */
#define MM_F16_WIDEN_MIN 17
/* Rows dequantized at once by MM_DEQUANT: 24 x cols floats (192 KiB at
 * cols 2048) stay in L2 while every token reads them. */
#define MM_DEQUANT_ROWS 24

static void mm_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    mm_job *j = ctx;
    const int64_t r0 = task * j->rows_per_task;
    const int64_t r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    const int64_t nr = r1 - r0, cols = j->cols, nb = cols / DTYPE_QK8_0;
    switch (j->kind) {
    case MM_F32:
        (j->inv ? j->k->f32_inv : j->k->f32)((const float *)j->w + r0 * cols, cols, j->x, cols, j->y + r0, j->rows, j->n,
                  nr, cols);
        return;
    case MM_F16:
        (j->inv ? j->k->f16_inv : j->k->f16)((const uint16_t *)j->w + r0 * cols, cols, j->x, cols, j->y + r0, j->rows,
                  j->n, nr, cols);
        return;
    case MM_Q8:
        j->k->q8((const dtype_block_q8_0 *)j->w + r0 * nb, nb, j->xq, cols, j->xd, nb,
                 j->y + r0, j->rows, j->n, nr, nb);
        return;
    case MM_DEQUANT: {
        float *tile = scratch_get(SLOT_TILE, (size_t)(MM_DEQUANT_ROWS * cols) * sizeof(float));
        if (!tile) {
            atomic_store(&j->ok, 0);
            return;
        }
        const size_t row_bytes = dtype_row_size(j->wtype, (uint64_t)cols);
        for (int64_t r = r0; r < r1; r += MM_DEQUANT_ROWS) {
            const int64_t m = r1 - r < MM_DEQUANT_ROWS ? r1 - r : MM_DEQUANT_ROWS;
            for (int64_t i = 0; i < m; i++)
                dtype_to_f32_row(j->wtype, (const uint8_t *)j->w + (size_t)(r + i) * row_bytes,
                                 tile + i * cols, (size_t)cols);
            (j->inv ? j->k->f32_inv : j->k->f32)(tile, cols, j->x, cols, j->y + r, j->rows, j->n,
                                                 m, cols);
        }
        return;
    }
    }
}

typedef struct mm_quant_job {
    const mm_kernels *k;
    const float *x;
    int8_t *xq;
    float *xd;
    int64_t cols, tokens_per_task, n;
} mm_quant_job;

static void mm_quant_task(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const mm_quant_job *q = ctx;
    const int64_t t0 = task * q->tokens_per_task;
    const int64_t t1 = t0 + q->tokens_per_task < q->n ? t0 + q->tokens_per_task : q->n;
    for (int64_t t = t0; t < t1; t++)
        q->k->quant(q->x + t * q->cols, q->xq + t * q->cols,
                    q->xd + t * (q->cols / DTYPE_QK8_0), q->cols);
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void matmul_run(matmul_ctx *c, const ops_weight *W, const float *x, float *y, int64_t n)
{
    matmul_run_mode(c, W, x, y, n, 0);
}

void matmul_run_mode(matmul_ctx *c, const ops_weight *W, const float *x, float *y, int64_t n,
                     int invariant)
{
    if (n < 1)
        return;
    if (!c)
        c = matmul_default();
    tp_pool *pool = c ? c->pool : NULL;
    const int nth = tp_n_threads(pool);
    const matmul_isa isa = matmul_isa_current();
    const mm_kernels *k = &g_kernels[isa];
    const int64_t rows = W->rows, cols = W->cols;
    mm_job j = {k, MM_F32, W->type, NULL, x, NULL, NULL, y, n, rows, cols, 0, 1, invariant};

    if (W->type == DTYPE_F32 || (W->f32 && W->type != DTYPE_F16 && W->type != DTYPE_Q8_0)) {
        const float *w = W->f32 ? W->f32 : (const float *)W->raw;
        if (isa != MATMUL_ISA_AVX512 && n > 1 && !invariant) {
            /* Without AVX-512 the tuned BLAS GEMM beats our tiles. */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)rows, (int)cols,
                        1.0f, x, (int)cols, w, (int)cols, 0.0f, y, (int)rows);
            return;
        }
        j.w = w;
    } else if (W->type == DTYPE_F16) {
        /* A long batch widens 24 rows at a time and runs the F32 tiles on
         * them: each row is widened once instead of once per token tile
         * (102 -> 177 GFLOP/s at 256 tokens, 2048 x 768, AVX-512). */
        j.kind = (n >= MM_F16_WIDEN_MIN && isa != MATMUL_ISA_SCALAR && !invariant) ? MM_DEQUANT
                                                                                 : MM_F16;
        j.w = W->raw;
        if (W->act == OPS_ACT_GGML) {
            float *xr = scratch_get(SLOT_ACT, (size_t)(n * cols) * sizeof(float));
            if (!xr)
                goto plain;
            matmul_round_f16(x, xr, n * cols);
            j.x = xr;
        }
    } else if (W->type == DTYPE_Q8_0 && cols % DTYPE_QK8_0 == 0) {
        j.w = W->raw;
        if (W->act == OPS_ACT_GGML) {
            const int64_t nb = cols / DTYPE_QK8_0;
            const size_t q_bytes = ((size_t)(n * cols) + 63) & ~(size_t)63;
            uint8_t *buf = scratch_get(SLOT_ACT, q_bytes + (size_t)(n * nb) * sizeof(float));
            if (!buf)
                goto plain;
            j.kind = MM_Q8;
            j.xq = (int8_t *)buf;
            j.xd = (float *)(void *)(buf + q_bytes);
            mm_quant_job qj = {k, x, (int8_t *)buf, (float *)(void *)(buf + q_bytes), cols,
                               ceil_div(n, 4 * nth), n};
            tp_run(n >= 8 ? pool : NULL, mm_quant_task, &qj, ceil_div(n, qj.tokens_per_task));
        } else {
            j.kind = MM_DEQUANT;
        }
    } else {
        goto plain;
    }
    /* About MM_TASKS_PER_THREAD tasks per thread, in whole grains: a thread
     * slowed by another process takes fewer, and when one is preempted in
     * the middle of a task the others wait for that task alone. */
    j.rows_per_task = ceil_div(ceil_div(rows, MM_TASKS_PER_THREAD * (int64_t)nth), MM_ROW_GRAIN) *
                      MM_ROW_GRAIN;
    tp_run(pool, mm_task, &j, ceil_div(rows, j.rows_per_task));
    if (atomic_load(&j.ok))
        return;
plain:
    matmul_run_ref(W, x, y, n);
}

/* ---- reference ------------------------------------------------------------- */

void matmul_run_ref(const ops_weight *W, const float *x, float *y, int64_t n)
{
    const int64_t rows = W->rows, cols = W->cols;
    if (W->type == DTYPE_F16) {
        float *xr = NULL;
        if (W->act == OPS_ACT_GGML) {
            xr = malloc((size_t)(n * cols) * sizeof(float));
            if (!xr)
                goto nomem;
            mm_round16_ref(x, xr, n * cols);
        }
        mm_f16_ref(W->raw, cols, xr ? xr : x, cols, y, rows, n, rows, cols);
        free(xr);
        return;
    }
    if (W->type == DTYPE_Q8_0 && W->act == OPS_ACT_GGML && cols % DTYPE_QK8_0 == 0) {
        const int64_t nb = cols / DTYPE_QK8_0;
        int8_t *xq = malloc((size_t)(n * cols));
        float *xd = malloc((size_t)(n * nb) * sizeof(float));
        if (!xq || !xd) {
            free(xq);
            free(xd);
            goto nomem;
        }
        for (int64_t t = 0; t < n; t++)
            matmul_quantize_q8_ref(x + t * cols, xq + t * cols, xd + t * nb, cols);
        mm_q8_ref(W->raw, nb, xq, cols, xd, nb, y, rows, n, rows, nb);
        free(xq);
        free(xd);
        return;
    }
    if (W->type == DTYPE_Q8_0) { /* F32 activations: widen a row at a time */
        float *row = malloc((size_t)cols * sizeof(float));
        if (!row)
            goto nomem;
        const size_t row_bytes = dtype_row_size(DTYPE_Q8_0, (uint64_t)cols);
        for (int64_t r = 0; r < rows; r++) {
            dtype_to_f32_row(DTYPE_Q8_0, (const uint8_t *)W->raw + (size_t)r * row_bytes, row,
                             (size_t)cols);
            mm_f32_ref(row, cols, x, cols, y + r, rows, n, 1, cols);
        }
        free(row);
        return;
    }
    mm_f32_ref(W->f32 ? W->f32 : (const float *)W->raw, cols, x, cols, y, rows, n, rows, cols);
    return;
nomem: /* no way to report from here: make the failure impossible to miss */
    for (int64_t i = 0; i < n * rows; i++)
        y[i] = NAN;
}
