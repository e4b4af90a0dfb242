/* ops: see ops.h. */
#include "ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "dtype.h"
#include "matmul.h"

/* OpenBLAS internals (see ops_set_threads); NULL when absent. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

/* ---- matrix products -------------------------------------------------- */

/* The kernels, their threads and their SIMD levels live in matmul.c; this
 * is the seam the forward pass calls. */
void ops_matmul(const ops_weight *W, const float *x, float *y, int64_t n_tokens)
{
    matmul_run(NULL, W, x, y, n_tokens);
}

/* The weight at (r, c) widened to double, whatever its storage: the F32
 * copy when there is one, else the stored bytes (F16, Q8_0: the model
 * keeps no copy of those). */
static double weight_at(const ops_weight *W, int64_t r, int64_t c)
{
    if (W->f32)
        return (double)W->f32[r * W->cols + c];
    const uint8_t *raw = W->raw;
    if (W->type == DTYPE_F16) {
        uint16_t h;
        memcpy(&h, raw + 2 * (size_t)(r * W->cols + c), 2);
        return (double)dtype_f16_to_f32(h);
    }
    if (W->type == DTYPE_Q8_0) {
        dtype_block_q8_0 blk;
        const int64_t nb = W->cols / DTYPE_QK8_0;
        memcpy(&blk, raw + (size_t)(r * nb + c / DTYPE_QK8_0) * sizeof blk, sizeof blk);
        return (double)blk.qs[c % DTYPE_QK8_0] * (double)dtype_f16_to_f32(blk.d);
    }
    return (double)((const float *)W->raw)[r * W->cols + c];
}

void ops_matmul_ref(const ops_weight *W, const float *x, float *y, int64_t n_tokens)
{
    for (int64_t t = 0; t < n_tokens; t++) {
        const float *xt = x + t * W->cols;
        for (int64_t r = 0; r < W->rows; r++) {
            double acc = 0.0;
            for (int64_t c = 0; c < W->cols; c++)
                acc += weight_at(W, r, c) * (double)xt[c];
            y[t * W->rows + r] = (float)acc;
        }
    }
}

void ops_set_threads(int n_threads)
{
    if (n_threads < 1)
        n_threads = 1;
    /* OpenBLAS (attention only) stays on one thread: its threads spin
     * after each call and took the cores from the matmul pool's workers
     * (2-thread decode at 0.5-0.6x llama.cpp's speed with both pools). */
    openblas_set_num_threads(1);
    /* OpenBLAS's pthread build starts its workers when the library loads,
     * and they spin (sched_yield) about 0.1 s before they sleep: a program
     * that only sleeps 0.5 s used 0.106 s of CPU. On 2 cores that took a
     * core from the first 0.1 s of every 2-thread run (prefill, time to
     * first token). blas_thread_shutdown_, exported for OpenBLAS's fork
     * handler, stops them now (0.003 s); a later multi-threaded call would
     * start them again. Weak: another BLAS has no such symbol. */
    if (blas_thread_shutdown_)
        blas_thread_shutdown_();
    matmul_set_threads(n_threads);
}

/* ---- elementwise ------------------------------------------------------ */

void ops_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    double ss = 0.0; /* ggml sums in ggml_float (double) too */
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * (double)x[i];
    const float scale = 1.0f / sqrtf((float)(ss / (double)n) + eps);
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] * scale * w[i];
}

void ops_rope_freqs(float *inv_freq, int64_t n_rot, float base)
{
    for (int64_t i = 0; i < n_rot / 2; i++)
        inv_freq[i] = (float)pow((double)base, -2.0 * (double)i / (double)n_rot);
}

static void rope_pair(float *a, float *b, float c, float s)
{
    const float x0 = *a, x1 = *b;
    *a = x0 * c - x1 * s;
    *b = x0 * s + x1 * c;
}

void ops_rope(float *x, int64_t n_rot, int32_t pos, const float *inv_freq, bool neox)
{
    const int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++) {
        const float theta = (float)pos * inv_freq[i];
        const float c = cosf(theta), s = sinf(theta);
        if (neox)
            rope_pair(&x[i], &x[i + half], c, s);
        else
            rope_pair(&x[2 * i], &x[2 * i + 1], c, s);
    }
}

void ops_rope_table(float *cs, int64_t n_rot, int32_t pos, const float *inv_freq)
{
    const int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++) {
        const float theta = (float)pos * inv_freq[i];
        cs[i] = cosf(theta);
        cs[half + i] = sinf(theta);
    }
}

void ops_rope_cs(float *x, int64_t n_rot, const float *cs, bool neox)
{
    const int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++) {
        if (neox)
            rope_pair(&x[i], &x[i + half], cs[i], cs[half + i]);
        else
            rope_pair(&x[2 * i], &x[2 * i + 1], cs[i], cs[half + i]);
    }
}

void ops_rope_ref(float *x, int64_t n_rot, int32_t pos, float base, bool neox)
{
    const int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++) {
        const double theta = (double)pos * pow((double)base, -2.0 * (double)i / (double)n_rot);
        const double c = cos(theta), s = sin(theta);
        float *a = neox ? &x[i] : &x[2 * i];
        float *b = neox ? &x[i + half] : &x[2 * i + 1];
        const double x0 = *a, x1 = *b;
        *a = (float)(x0 * c - x1 * s);
        *b = (float)(x0 * s + x1 * c);
    }
}

void ops_softmax(float *x, int64_t n)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (x[i] > mx)
            mx = x[i];
    if (mx == -INFINITY) { /* nothing visible: no weight anywhere */
        for (int64_t i = 0; i < n; i++)
            x[i] = 0.0f;
        return;
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float e = (x[i] == -INFINITY) ? 0.0f : expf(x[i] - mx);
        x[i] = e;
        sum += e;
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

static float gelu_tanh(float x)
{
    return 0.5f * x * (1.0f + tanhf(0.79788456080286535587989211986876f * x *
                                    (1.0f + 0.044715f * x * x)));
}

void ops_geglu(float *g, const float *u, int64_t n, bool f16_table)
{
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i];
        float y;
        if (!f16_table)
            y = gelu_tanh(x);
        else if (x <= -10.0f)
            y = 0.0f;
        else if (x >= 10.0f)
            y = x;
        else
            y = dtype_f16_to_f32(dtype_f32_to_f16(gelu_tanh(dtype_f16_to_f32(dtype_f32_to_f16(x)))));
        g[i] = y * u[i];
    }
}

void ops_swiglu(float *g, const float *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
