/* ops: see ops.h. */
#include "ops.h"

#include <cblas.h>
#include <math.h>

/* ---- matrix products -------------------------------------------------- */

/* Q8_0 weight x activations quantized to Q8_0 (ggml's vec_dot_type for
 * Q8_0): per 32-block, an integer dot scaled by d_w * d_x, summed in float
 * (ggml ggml_vec_dot_q8_0_q8_0, generic path). Each block of x is
 * quantized once and used for every row, so no scratch is needed. */
static void matmul_q8_0_ggml(const ops_weight *W, const float *x, float *y, int64_t n)
{
    const int64_t nb = W->cols / DTYPE_QK8_0;
    const dtype_block_q8_0 *wb = (const dtype_block_q8_0 *)W->raw;
    for (int64_t t = 0; t < n; t++) {
        float *yt = y + t * W->rows;
        for (int64_t r = 0; r < W->rows; r++)
            yt[r] = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            dtype_block_q8_0 xb;
            dtype_quantize_row_q8_0_ref(x + t * W->cols + b * DTYPE_QK8_0, &xb, DTYPE_QK8_0);
            const float dx = dtype_f16_to_f32(xb.d);
            for (int64_t r = 0; r < W->rows; r++) {
                const dtype_block_q8_0 *w = wb + r * nb + b;
                int32_t sumi = 0;
                for (int j = 0; j < DTYPE_QK8_0; j++)
                    sumi += (int32_t)w->qs[j] * (int32_t)xb.qs[j];
                yt[r] += (float)sumi * (dtype_f16_to_f32(w->d) * dx);
            }
        }
    }
}

/* F16 weight x activations rounded to F16 (ggml's vec_dot_type for F16),
 * products summed in float. The weight's F32 copy holds its F16 values
 * exactly. Rounded x goes through a stack block of 64 values. */
static void matmul_f16_ggml(const ops_weight *W, const float *x, float *y, int64_t n)
{
    enum { BLK = 64 };
    for (int64_t t = 0; t < n; t++) {
        float *yt = y + t * W->rows;
        for (int64_t r = 0; r < W->rows; r++)
            yt[r] = 0.0f;
        for (int64_t c0 = 0; c0 < W->cols; c0 += BLK) {
            const int64_t m = W->cols - c0 < BLK ? W->cols - c0 : BLK;
            float xr[BLK];
            for (int64_t j = 0; j < m; j++)
                xr[j] = dtype_f16_to_f32(dtype_f32_to_f16(x[t * W->cols + c0 + j]));
            for (int64_t r = 0; r < W->rows; r++) {
                const float *w = W->f32 + r * W->cols + c0;
                float acc = 0.0f;
                for (int64_t j = 0; j < m; j++)
                    acc += w[j] * xr[j];
                yt[r] += acc;
            }
        }
    }
}

void ops_matmul(const ops_weight *W, const float *x, float *y, int64_t n_tokens)
{
    if (W->act == OPS_ACT_GGML && W->type == DTYPE_Q8_0 && W->cols % DTYPE_QK8_0 == 0) {
        matmul_q8_0_ggml(W, x, y, n_tokens);
        return;
    }
    if (W->act == OPS_ACT_GGML && W->type == DTYPE_F16) {
        matmul_f16_ggml(W, x, y, n_tokens);
        return;
    }
    const int rows = (int)W->rows, cols = (int)W->cols;
    if (n_tokens == 1) {
        /* Decode: one vector; GEMV reads W once, which is what bounds it. */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, cols, 1.0f, W->f32, cols,
                    x, 1, 0.0f, y, 1);
        return;
    }
    /* y (n, rows) = x (n, cols) . W^T, W (rows, cols) row-major. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_tokens, rows, cols,
                1.0f, x, cols, W->f32, cols, 0.0f, y, rows);
}

void ops_matmul_ref(const ops_weight *W, const float *x, float *y, int64_t n_tokens)
{
    for (int64_t t = 0; t < n_tokens; t++) {
        const float *xt = x + t * W->cols;
        for (int64_t r = 0; r < W->rows; r++) {
            const float *w = W->f32 + r * W->cols;
            double acc = 0.0;
            for (int64_t c = 0; c < W->cols; c++)
                acc += (double)w[c] * (double)xt[c];
            y[t * W->rows + r] = (float)acc;
        }
    }
}

void ops_set_threads(int n_threads)
{
    if (n_threads < 1)
        n_threads = 1;
    openblas_set_num_threads(n_threads);
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

void ops_swiglu(float *g, const float *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
