/*
 * attention: fwd_attention and its reference (declared in forward.h).
 *
 * The fast path splits the work into tasks of one query head x up to
 * FWD_ATT_CHUNK queries and runs them on the matmul pool, so the 2-thread
 * pass no longer leaves a core idle through every layer's attention (it
 * was one thread, 6-9% of a 2-thread prefill's samples, with the other
 * spinning). Per task:
 *   scores (m, w) = q_h . k_h^T   matmul_f32_nt: the dot tiles, K rows read
 *                                  in place, strided (no packing)
 *   mask, scale, softmax          per row, as before
 *   out_h (m, dv) = p . v_h       matmul_f32_nn: each V row read once per
 *                                  4 queries
 * Tasks write disjoint slices of out; each uses its thread's scores
 * scratch. No task sums across another's data, so the thread count does
 * not change a bit of the result.
 */
#include "forward.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "dtype.h"
#include "matmul.h"

static bool visible(const fwd_attn_shape *sh, const kv_view *kv, int32_t q_pos, int32_t k_pos)
{
    if (k_pos > q_pos)
        return false;
    if (sh->hidden && k_pos < sh->n_hidden && sh->hidden[k_pos])
        return false;
    if (sh->window > 0 && (int64_t)q_pos - k_pos >= sh->window)
        return false;
    /* the cache's policy: its sinks, then its window (kv.h) */
    return kv->window <= 0 || k_pos < kv->n_sink || (int64_t)q_pos - k_pos < kv->window;
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

/* One row of scores: entries outside [jlo, jhi) get weight 0, the others
 * softmax(scale * row) (entries already -INFINITY get 0; all masked: all
 * 0, ops_softmax's contract), with exp_neg: the maximum is subtracted
 * first, so every argument is <= 0. */
static void softmax_row_plain(float *row, int64_t w, int64_t jlo, int64_t jhi, float scale)
{
    float mx = -INFINITY;
    for (int64_t j = jlo; j < jhi; j++) {
        row[j] *= scale;
        mx = row[j] > mx ? row[j] : mx;
    }
    memset(row, 0, (size_t)jlo * sizeof(float));
    memset(row + jhi, 0, (size_t)(w - jhi) * sizeof(float));
    if (mx == -INFINITY) {
        memset(row + jlo, 0, (size_t)(jhi - jlo) * sizeof(float));
        return;
    }
    float sum = 0.0f;
    for (int64_t j = jlo; j < jhi; j++) {
        row[j] = exp_neg(row[j] - mx);
        sum += row[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = jlo; j < jhi; j++)
        row[j] *= inv;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ATT_X86 1
#define TGT512 __attribute__((target("avx512f,avx512dq,fma")))

/* exp_neg on 16 lanes: the same reduction and polynomial (with fmas, so
 * within an ulp or two of the scalar one, not bit-equal). */
TGT512 static inline __m512 exp_neg512(__m512 x)
{
    const __m512 xc = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    const __m512 t = _mm512_fmadd_ps(xc, _mm512_set1_ps(1.44269504f), _mm512_set1_ps(12582912.0f));
    const __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(12582912.0f));
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), xc);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    const __mmask16 live = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_GE_OQ);
    return _mm512_maskz_mul_ps(live, p, _mm512_castsi512_ps(e));
}

/* softmax_row_plain on 16 lanes (the scalar loops took 19% of an 8-query
 * verification's attention). */
TGT512 static void softmax_row512(float *row, int64_t w, int64_t jlo, int64_t jhi, float scale)
{
    memset(row, 0, (size_t)jlo * sizeof(float));
    memset(row + jhi, 0, (size_t)(w - jhi) * sizeof(float));
    const __m512 sc = _mm512_set1_ps(scale);
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int64_t j = jlo; j < jhi; j += 16) {
        const __mmask16 m = jhi - j >= 16 ? (__mmask16)0xFFFF
                                          : (__mmask16)((1u << (unsigned)(jhi - j)) - 1u);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + j), sc);
        _mm512_mask_storeu_ps(row + j, m, v);
        mx = _mm512_mask_max_ps(mx, m, mx, v);
    }
    const float mxs = _mm512_reduce_max_ps(mx);
    if (mxs == -INFINITY) {
        memset(row + jlo, 0, (size_t)(jhi - jlo) * sizeof(float));
        return;
    }
    const __m512 mv = _mm512_set1_ps(mxs);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = jlo; j < jhi; j += 16) {
        const __mmask16 m = jhi - j >= 16 ? (__mmask16)0xFFFF
                                          : (__mmask16)((1u << (unsigned)(jhi - j)) - 1u);
        const __m512 e = exp_neg512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + j), mv));
        _mm512_mask_storeu_ps(row + j, m, e);
        sum = _mm512_mask_add_ps(sum, m, sum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (int64_t j = jlo; j < jhi; j += 16) {
        const __mmask16 m = jhi - j >= 16 ? (__mmask16)0xFFFF
                                          : (__mmask16)((1u << (unsigned)(jhi - j)) - 1u);
        _mm512_mask_storeu_ps(row + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + j), inv));
    }
}
#endif

typedef void (*softmax_row_fn)(float *row, int64_t w, int64_t jlo, int64_t jhi, float scale);

/* The level matmul uses (tests cap it with matmul_set_isa). */
static softmax_row_fn softmax_row_pick(void)
{
#ifdef ATT_X86
    if (matmul_isa_current() == MATMUL_ISA_AVX512)
        return softmax_row512;
#endif
    return softmax_row_plain;
}

static bool ascending(const int32_t *pos, int64_t n)
{
    for (int64_t j = 1; j < n; j++)
        if (pos[j] < pos[j - 1])
            return false;
    return true;
}

typedef struct att_job {
    const fwd_attn_shape *sh;
    const float *q;
    const int32_t *q_pos;
    int64_t n, n_chunks;
    const kv_view *kv;
    float *out;
    bool sorted;
    softmax_row_fn softmax_row;
    _Atomic int ok; /* 0: a thread's scratch could not grow */
} att_job;

static void att_task(void *vctx, int64_t task, int thread)
{
    (void)thread;
    att_job *J = vctx;
    const fwd_attn_shape *sh = J->sh;
    const kv_view *kv = J->kv;
    const int64_t nk = kv->n;
    const int64_t ldq = (int64_t)sh->n_heads * sh->head_dim_k;
    const int64_t ldo = (int64_t)sh->n_heads * sh->head_dim_v;
    const int32_t group = sh->n_heads / sh->n_kv_heads;
    const float scale = 1.0f / sqrtf((float)sh->head_dim_k);
    /* The last chunks see the most entries: they go first, so the tail of
     * the run is made of short tasks. */
    const int32_t h = (int32_t)(task % sh->n_heads);
    const int64_t c0 = (J->n_chunks - 1 - task / sh->n_heads) * FWD_ATT_CHUNK;
    const int64_t m = (J->n - c0 < FWD_ATT_CHUNK) ? J->n - c0 : FWD_ATT_CHUNK;
    const int32_t kvh = h / group; /* GQA: query heads share a KV head */
    const int32_t *q_pos = J->q_pos;
    float *o = J->out + c0 * ldo + (int64_t)h * sh->head_dim_v;
    int64_t lo = 0, hi = nk;
    if (J->sorted) {
        /* Ascending positions: the block sees at most the entries up to
         * its largest position, and with a window none before its smallest
         * position - window + 1; only that range is multiplied. */
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
    if (w <= 0 || (sh->kv_dead && sh->kv_dead[kvh])) {
        /* nothing visible, or K and V all zero: the output is 0 */
        for (int64_t i = 0; i < m; i++)
            memset(o + i * ldo, 0, (size_t)sh->head_dim_v * sizeof(float));
        return;
    }
    float *scores = matmul_thread_scratch((size_t)(m * w));
    if (!scores) {
        atomic_store(&J->ok, 0);
        return;
    }
    const int64_t koff = lo * kv->k_stride + (int64_t)kvh * sh->head_dim_k;
    const int64_t voff = lo * kv->v_stride + (int64_t)kvh * sh->head_dim_v;
    const int32_t *kp = kv->pos + lo;
    const float *qh = J->q + c0 * ldq + (int64_t)h * sh->head_dim_k;
    if (kv->k16)
        matmul_f16_nt(kv->k16 + koff, kv->k_stride, qh, ldq, scores, w, m, w, sh->head_dim_k);
    else
        matmul_f32_nt(kv->k + koff, kv->k_stride, qh, ldq, scores, w, m, w, sh->head_dim_k);
    const softmax_row_fn softmax_row = J->softmax_row;
    for (int64_t i = 0; i < m; i++) {
        float *row = scores + i * w;
        if (J->sorted) { /* visible: a contiguous range, minus hidden entries */
            const int64_t jhi = upper_bound(kp, w, q_pos[c0 + i]);
            const int64_t jlo =
                sh->window > 0 ? upper_bound(kp, jhi, (int64_t)q_pos[c0 + i] - sh->window) : 0;
            if (sh->hidden)
                for (int64_t j = jlo; j < jhi; j++)
                    if (kp[j] < sh->n_hidden && sh->hidden[kp[j]])
                        row[j] = -INFINITY;
            softmax_row(row, w, jlo, jhi, scale);
        } else {
            for (int64_t j = 0; j < w; j++)
                if (!visible(sh, kv, q_pos[c0 + i], kp[j]))
                    row[j] = -INFINITY;
            softmax_row(row, w, 0, w, scale);
        }
    }
    if (kv->v16)
        matmul_f16_nn(scores, w, kv->v16 + voff, kv->v_stride, o, ldo, m, w, sh->head_dim_v);
    else
        matmul_f32_nn(scores, w, kv->v + voff, kv->v_stride, o, ldo, m, w, sh->head_dim_v);
}

kk_code fwd_attention(const fwd_attn_shape *sh, const float *q, const int32_t *q_pos,
                      int64_t n, const kv_view *kv, float *out)
{
    if (n <= 0)
        return KK_OK;
    /* The contiguous-range path assumes a mask of causality and one
     * window; a cache with sinks and a window of its own (a ring, in
     * storage order) takes the per-entry path. */
    att_job J = {sh, q, q_pos, n, (n + FWD_ATT_CHUNK - 1) / FWD_ATT_CHUNK, kv, out,
                 kv->window <= 0 && ascending(kv->pos, kv->n), softmax_row_pick(), 1};
    matmul_parallel(NULL, att_task, &J, J.n_chunks * sh->n_heads);
    return atomic_load(&J.ok) ? KK_OK : KK_E_NOMEM;
}

/* Element i of a view's rows, F32 or F16 (kv_full_f16), widened. */
static double kv_at(const float *f32, const uint16_t *f16, int64_t i)
{
    return f16 ? (double)dtype_f16_to_f32(f16[i]) : (double)f32[i];
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
                    if (!visible(sh, kv, q_pos[i], kv->pos[j]))
                        continue;
                    const int64_t kj = j * kv->k_stride + (int64_t)kvh * sh->head_dim_k;
                    double s = 0.0;
                    for (int32_t d = 0; d < sh->head_dim_k; d++)
                        s += (double)qi[d] * kv_at(kv->k, kv->k16, kj + d);
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
                    if (!visible(sh, kv, q_pos[i], kv->pos[j]))
                        continue;
                    const int64_t kj = j * kv->k_stride + (int64_t)kvh * sh->head_dim_k;
                    double s = 0.0;
                    for (int32_t e = 0; e < sh->head_dim_k; e++)
                        s += (double)qi[e] * kv_at(kv->k, kv->k16, kj + e);
                    const double p = exp(s * scale - mx) / sum;
                    acc += p * kv_at(kv->v, kv->v16,
                                     j * kv->v_stride + (int64_t)kvh * sh->head_dim_v + d);
                }
                oi[d] = (float)(sum > 0.0 ? acc : 0.0);
            }
        }
    }
}


void fwd_attention_mass(const fwd_attn_shape *sh, const float *q, int32_t q_pos,
                        const kv_view *kv, const int32_t *watch, int32_t n_watch,
                        double *mass_restored, double *mass_watch, bool *watch_exact)
{
    const int32_t group = sh->n_heads / sh->n_kv_heads;
    const double scale = 1.0 / sqrt((double)sh->head_dim_k);
    if (watch_exact) {
        *watch_exact = false;
        for (int64_t j = 0; j < kv->n; j++)
            if (!(kv->restored && kv->restored[j]) && visible(sh, kv, q_pos, kv->pos[j]))
                for (int32_t w = 0; w < n_watch; w++)
                    *watch_exact |= kv->pos[j] == watch[w];
    }
    for (int32_t h = 0; h < sh->n_heads; h++) {
        const int32_t kvh = h / group;
        const float *qi = q + (int64_t)h * sh->head_dim_k;
        double mx = -INFINITY, sum = 0.0, mr = 0.0, mw = 0.0;
        const bool dead = sh->kv_dead && sh->kv_dead[kvh];
        for (int pass = 0; pass < 2 && !dead; pass++) { /* max, then the sums */
            for (int64_t j = 0; j < kv->n; j++) {
                if (!visible(sh, kv, q_pos, kv->pos[j]))
                    continue;
                const int64_t kj = j * kv->k_stride + (int64_t)kvh * sh->head_dim_k;
                double sc = 0.0;
                for (int32_t d = 0; d < sh->head_dim_k; d++)
                    sc += (double)qi[d] * kv_at(kv->k, kv->k16, kj + d);
                sc *= scale;
                if (pass == 0) {
                    mx = sc > mx ? sc : mx;
                    continue;
                }
                const double e = exp(sc - mx);
                sum += e;
                if (kv->restored && kv->restored[j]) {
                    mr += e;
                    for (int32_t w = 0; w < n_watch; w++)
                        if (kv->pos[j] == watch[w])
                            mw += e;
                }
            }
        }
        if (mass_restored)
            mass_restored[h] = sum > 0.0 ? mr / sum : 0.0;
        if (mass_watch)
            mass_watch[h] = sum > 0.0 ? mw / sum : 0.0;
    }
}
