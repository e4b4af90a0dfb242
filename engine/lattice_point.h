/*
 * lattice_point: the point arithmetic of the D4, D_n and E8 lattices that
 * the CPU codecs (codec_lattice.c: d4/e8 Voronoi codes; codec_kakeya.c:
 * kl_d4/kl_e8) and the CUDA kernels (engine/cuda/kkcu_arith.cuh) share.
 *
 * One copy on purpose: the GPU must write the CPU _ref path's bytes, and
 * the surest way to the same floats is the same source, compiled twice.
 * Everything here is static inline, C11 and CUDA C++ alike (LP_HD marks
 * the functions __host__ __device__ under nvcc), with no libc beyond
 * floorf, fabsf, rintf, fminf and fmaxf, which are exact on both (correctly
 * rounded or exact by definition), and no FMA contraction: C11 GCC does
 * not contract, and the CUDA build passes -fmad=false (docs/gpu.md).
 *
 * The algorithms are Conway and Sloane's (codec_lattice.c's header has the
 * references): D_n's nearest point rounds every coordinate and, when the
 * sum is odd, re-rounds the coordinate farthest from its integer the
 * other way; E8 = D8 u (D8 + 1/2) keeps the closer of the two.
 *
 * Ownership: pure functions over caller arrays of at most 8 values.
 */
#ifndef KK_LATTICE_POINT_H
#define KK_LATTICE_POINT_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define LP_HD static __host__ __device__ __forceinline__
#else
#define LP_HD static inline
#endif

/* ---- d4 / e8 codes (codec_lattice.c): floats throughout ------------------ */

/* floor(x + 1/2): every path breaks ties alike. */
LP_HD float lp_round_half_up(float x) { return floorf(x + 0.5f); }

/* Nearest D_n point to x (n values). */
LP_HD void lp_nearest_dn(const float *x, int n, float *out)
{
    float sum = 0.0f, worst = -1.0f;
    int wi = 0;
    for (int i = 0; i < n; i++) {
        out[i] = lp_round_half_up(x[i]);
        sum += out[i];
        const float d = fabsf(x[i] - out[i]);
        if (d > worst) {
            worst = d;
            wi = i;
        }
    }
    if (sum - 2.0f * floorf(sum * 0.5f) != 0.0f)
        out[wi] += x[wi] - out[wi] < 0.0f ? -1.0f : 1.0f;
}

/* Nearest E8 point: the D8 point or the D8 + 1/2 point, the closer (the
 * D8 one on a tie). */
LP_HD void lp_nearest_e8(const float *x, float *out)
{
    float a[8], b[8], xs[8];
    lp_nearest_dn(x, 8, a);
    for (int i = 0; i < 8; i++)
        xs[i] = x[i] - 0.5f;
    lp_nearest_dn(xs, 8, b);
    float da = 0.0f, db = 0.0f;
    for (int i = 0; i < 8; i++) {
        b[i] += 0.5f;
        da += (x[i] - a[i]) * (x[i] - a[i]);
        db += (x[i] - b[i]) * (x[i] - b[i]);
    }
    const int take_b = db < da;
    for (int i = 0; i < 8; i++)
        out[i] = take_b ? b[i] : a[i];
}

/* Coordinates in a basis. E8 basis rows (Conway and Sloane, SPLAG ch. 4
 * sec. 8.1, the D8 basis with its last row replaced by (1/2)^8): r1 = 2e1,
 * r_i = e_i - e_(i-1) (i = 2..7), r8 = (1/2, ..., 1/2). v = k G is a
 * triangular solve from the last coordinate. D4: r1 = 2e1, r_i = e_i -
 * e_(i-1) (i = 2..4). */
LP_HD void lp_e8_coords(const float *v, float *k)
{
    k[7] = 2.0f * v[7];
    const float h = 0.5f * k[7];
    k[6] = v[6] - h;
    for (int j = 5; j >= 1; j--)
        k[j] = v[j] + k[j + 1] - h;
    k[0] = 0.5f * (v[0] + k[1] - h);
}

LP_HD void lp_e8_point(const float *k, float *c)
{
    const float h = 0.5f * k[7];
    c[0] = 2.0f * k[0] - k[1] + h;
    for (int j = 1; j <= 5; j++)
        c[j] = k[j] - k[j + 1] + h;
    c[6] = k[6] + h;
    c[7] = h;
}

LP_HD void lp_d4_coords(const float *v, float *k)
{
    k[3] = v[3];
    k[2] = v[2] + k[3];
    k[1] = v[1] + k[2];
    k[0] = 0.5f * (v[0] + k[1]);
}

LP_HD void lp_d4_point(const float *k, float *c)
{
    c[0] = 2.0f * k[0] - k[1];
    c[1] = k[1] - k[2];
    c[2] = k[2] - k[3];
    c[3] = k[3];
}

/* An 8-value block: one E8 point (n = 8), or two D4 points (n = 4). */
LP_HD void lp_block_nearest(int n, const float *y, float *v)
{
    if (n == 8) {
        lp_nearest_e8(y, v);
    } else {
        lp_nearest_dn(y, 4, v);
        lp_nearest_dn(y + 4, 4, v + 4);
    }
}

/* A lattice point -> its codes, k = v G^-1 mod q. */
LP_HD void lp_block_coords_mod(int n, float qf, const float *v, float *k)
{
    if (n == 8) {
        lp_e8_coords(v, k);
    } else {
        lp_d4_coords(v, k);
        lp_d4_coords(v + 4, k + 4);
    }
    for (int i = 0; i < 8; i++)
        k[i] -= qf * floorf(k[i] / qf);
}

/* The decoder's map: codes k -> the representative of k G in the Voronoi
 * region of qL, c - q Q_L(c / q). */
LP_HD void lp_block_decode_point(int n, float qf, const float *k, float *v)
{
    float c[8], t[8], m[8];
    if (n == 8) {
        lp_e8_point(k, c);
    } else {
        lp_d4_point(k, c);
        lp_d4_point(k + 4, c + 4);
    }
    const float iq = 1.0f / qf;
    for (int i = 0; i < 8; i++)
        t[i] = c[i] * iq;
    lp_block_nearest(n, t, m);
    for (int i = 0; i < 8; i++)
        v[i] = c[i] - qf * m[i];
}

/* ---- KakeyaLattice (codec_kakeya.c): integers out ------------------------ */

/* Nearest D_n point to y (n values already in [-Q, Q], so finite and far
 * inside int32): rintf rounds to nearest even, as the AVX2 path's
 * vroundps; the coordinate to move is the first with the largest |y - r|;
 * a value on the integer itself moves toward 0, which stays inside any
 * cube around 0. */
LP_HD void lp_kl_nearest_dn(int n, const float *y, int32_t *r)
{
    int sum = 0, worst = 0;
    float werr = -1.0f;
    for (int i = 0; i < n; i++) {
        r[i] = (int32_t)rintf(y[i]);
        sum += r[i];
        const float e = fabsf(y[i] - (float)r[i]);
        if (e > werr) {
            werr = e;
            worst = i;
        }
    }
    if (sum & 1) {
        const float d = y[worst] - (float)r[worst];
        r[worst] += d > 0.0f ? 1 : d < 0.0f ? -1 : (r[worst] > 0 ? -1 : 1);
    }
}

/* The nearest point of D_n (n = 4) or E8 (n = 8) inside the cube [-Q, Q]:
 * its integer part d out (n values), the E8 coset (d + 1/2) returned. The
 * input is clamped with fminf first: a NaN (0 x Inf, when Q / max
 * overflows for a block whose max is below about 1e-36) becomes Q. E8's
 * half-integer coset: d nearest to y - 1/2 within [-Q, Q-1], compared by
 * the squared distance to y summed in double in index order. */
LP_HD int lp_kl_quantize(int n, int q, const float *y_in, int32_t *d)
{
    float y[8], yc[8];
    int32_t a[8], h[8];
    for (int i = 0; i < 8; i++) {
        y[i] = 0.0f;
        a[i] = 0;
    }
    for (int i = 0; i < n; i++)
        y[i] = fmaxf(fminf(y_in[i], (float)q), -(float)q);
    lp_kl_nearest_dn(n, y, a);
    int coset = 0;
    if (n == 8) {
        const float lim = (float)q - 0.5f;
        for (int i = 0; i < 8; i++)
            yc[i] = (y[i] > lim ? lim : y[i] < -lim ? -lim : y[i]) - 0.5f;
        lp_kl_nearest_dn(8, yc, h);
        double da = 0.0, dh = 0.0;
        for (int i = 0; i < 8; i++) {
            da += ((double)y[i] - a[i]) * ((double)y[i] - a[i]);
            dh += ((double)y[i] - (h[i] + 0.5)) * ((double)y[i] - (h[i] + 0.5));
        }
        if (dh < da) {
            coset = 1;
            for (int i = 0; i < 8; i++)
                a[i] = h[i];
        }
    }
    for (int i = 0; i < n; i++)
        d[i] = a[i];
    return coset;
}

#endif /* KK_LATTICE_POINT_H */
