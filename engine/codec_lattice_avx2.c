/*
 * codec_lattice_avx2: the E8 Voronoi code (codec_lattice.c) eight blocks
 * at a time. The 8x8 floats of eight blocks are transposed so that each
 * register holds one coordinate of eight blocks; Conway and Sloane's
 * nearest-point steps (round, parity, re-round the worst coordinate, pick
 * the closer coset) are then lane-wise selects with no horizontal work.
 * Every value goes through the float operations of the _ref path in the
 * same order (no FMA), so the bytes and floats are identical
 * (tests/engine/test_codec_simd.c). Candidates outside the ball of
 * radius q/sqrt(2) go through the decoder's map, also eight at a time;
 * the group norm and the bit packing use the scalar helpers.
 */
#include "codec_internal.h"

#include <math.h>
#include <string.h>

#include "dtype.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))

AVX2 static inline void transpose8(__m256 r[8])
{
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* codec_nearest_dn(n = 8), lane-wise. */
AVX2 static inline void dn8(const __m256 y[8], __m256 f[8])
{
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 half = _mm256_set1_ps(0.5f);
    __m256 sum = _mm256_setzero_ps(), worst = _mm256_set1_ps(-1.0f), wi = _mm256_setzero_ps();
    for (int i = 0; i < 8; i++) {
        f[i] = _mm256_floor_ps(_mm256_add_ps(y[i], half));
        sum = _mm256_add_ps(sum, f[i]);
        const __m256 d = _mm256_and_ps(_mm256_sub_ps(y[i], f[i]), absmask);
        const __m256 m = _mm256_cmp_ps(d, worst, _CMP_GT_OQ);
        worst = _mm256_blendv_ps(worst, d, m);
        wi = _mm256_blendv_ps(wi, _mm256_set1_ps((float)i), m);
    }
    const __m256 par = _mm256_sub_ps(
        sum, _mm256_mul_ps(_mm256_set1_ps(2.0f), _mm256_floor_ps(_mm256_mul_ps(sum, half))));
    const __m256 odd = _mm256_cmp_ps(par, _mm256_setzero_ps(), _CMP_NEQ_UQ);
    for (int i = 0; i < 8; i++) {
        const __m256 sel = _mm256_and_ps(odd, _mm256_cmp_ps(wi, _mm256_set1_ps((float)i), _CMP_EQ_OQ));
        const __m256 neg = _mm256_cmp_ps(_mm256_sub_ps(y[i], f[i]), _mm256_setzero_ps(), _CMP_LT_OQ);
        const __m256 delta = _mm256_blendv_ps(_mm256_set1_ps(1.0f), _mm256_set1_ps(-1.0f), neg);
        f[i] = _mm256_blendv_ps(f[i], _mm256_add_ps(f[i], delta), sel);
    }
}

/* codec_nearest_e8, lane-wise. */
AVX2 static inline void e8(const __m256 y[8], __m256 out[8])
{
    __m256 a[8], b[8], ys[8];
    const __m256 half = _mm256_set1_ps(0.5f);
    dn8(y, a);
    for (int i = 0; i < 8; i++)
        ys[i] = _mm256_sub_ps(y[i], half);
    dn8(ys, b);
    __m256 da = _mm256_setzero_ps(), db = _mm256_setzero_ps();
    for (int i = 0; i < 8; i++) {
        b[i] = _mm256_add_ps(b[i], half);
        const __m256 ea = _mm256_sub_ps(y[i], a[i]), eb = _mm256_sub_ps(y[i], b[i]);
        da = _mm256_add_ps(da, _mm256_mul_ps(ea, ea));
        db = _mm256_add_ps(db, _mm256_mul_ps(eb, eb));
    }
    const __m256 pick = _mm256_cmp_ps(db, da, _CMP_LT_OQ);
    for (int i = 0; i < 8; i++)
        out[i] = _mm256_blendv_ps(a[i], b[i], pick);
}

/* e8_coords then mod q, lane-wise. */
AVX2 static inline void coords_mod(const __m256 v[8], __m256 qf, __m256 k[8])
{
    const __m256 half = _mm256_set1_ps(0.5f);
    k[7] = _mm256_mul_ps(_mm256_set1_ps(2.0f), v[7]);
    const __m256 h = _mm256_mul_ps(half, k[7]);
    k[6] = _mm256_sub_ps(v[6], h);
    for (int j = 5; j >= 1; j--)
        k[j] = _mm256_sub_ps(_mm256_add_ps(v[j], k[j + 1]), h);
    k[0] = _mm256_mul_ps(half, _mm256_sub_ps(_mm256_add_ps(v[0], k[1]), h));
    for (int i = 0; i < 8; i++)
        k[i] = _mm256_sub_ps(k[i], _mm256_mul_ps(qf, _mm256_floor_ps(_mm256_div_ps(k[i], qf))));
}

/* The decoder's map (block_decode_point for E8), lane-wise. */
AVX2 static inline void decode_point(const __m256 k[8], __m256 qf, __m256 v[8])
{
    __m256 c[8], t[8], m[8];
    const __m256 h = _mm256_mul_ps(_mm256_set1_ps(0.5f), k[7]);
    c[0] = _mm256_add_ps(_mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps(2.0f), k[0]), k[1]), h);
    for (int j = 1; j <= 5; j++)
        c[j] = _mm256_add_ps(_mm256_sub_ps(k[j], k[j + 1]), h);
    c[6] = _mm256_add_ps(k[6], h);
    c[7] = h;
    const __m256 iq = _mm256_div_ps(_mm256_set1_ps(1.0f), qf);
    for (int i = 0; i < 8; i++)
        t[i] = _mm256_mul_ps(c[i], iq);
    e8(t, m);
    for (int i = 0; i < 8; i++)
        v[i] = _mm256_sub_ps(c[i], _mm256_mul_ps(qf, m[i]));
}

AVX2 void codec_lattice_encode_avx2(codec *c, const float *x, size_t nb, uint8_t *out)
{
    const int g = c->spec.group, S = c->spec.scales, nblk = g / 8;
    const float qs = (float)c->q, lim2 = 0.5f * qs * qs, ylim = 4.0f * qs;
    const __m256 qf = _mm256_set1_ps(qs), vlim = _mm256_set1_ps(ylim),
                 vnlim = _mm256_set1_ps(-ylim), vlim2 = _mm256_set1_ps(lim2);
    const size_t idx_off = codec_lattice_idx_offset(c), total = nb * (size_t)nblk;
    float beta[CODEC_MAX_SCALES];
    /* per lane: the betas and inverses of its group, scale-major */
    float lb[CODEC_MAX_SCALES][8], li[CODEC_MAX_SCALES][8];
    memset(out, 0, nb * c->arm_bytes);
    size_t last_group = (size_t)-1;
    for (size_t base = 0; base < total; base += 8) {
        const size_t valid = total - base < 8 ? total - base : 8;
        __m256 xr[8];
        for (size_t l = 0; l < 8; l++) {
            if (l < valid) {
                const size_t gi = (base + l) / (size_t)nblk;
                if (gi != last_group) {
                    const uint16_t n16 = codec_lattice_norm_f16_up(x + gi * (size_t)g, g);
                    c->stats.norm_escapes += n16 >> 15;
                    codec_wr16(out + gi * c->arm_bytes, n16);
                    codec_lattice_betas(c, n16, beta);
                    last_group = gi;
                }
                for (int s = 0; s < S; s++) {
                    lb[s][l] = beta[s];
                    li[s][l] = beta[s] > 0.0f ? 1.0f / beta[s] : 0.0f;
                }
                xr[l] = _mm256_loadu_ps(x + 8 * (base + l));
            } else {
                for (int s = 0; s < S; s++)
                    lb[s][l] = li[s][l] = 0.0f;
                xr[l] = _mm256_setzero_ps();
            }
        }
        transpose8(xr);
        __m256 best_err = _mm256_set1_ps(INFINITY), best_s = _mm256_setzero_ps(),
               any_ovl = _mm256_setzero_ps(), ovl_best = _mm256_setzero_ps(), best_k[8];
        for (int i = 0; i < 8; i++)
            best_k[i] = _mm256_setzero_ps();
        for (int s = 0; s < S; s++) {
            const __m256 inv = _mm256_loadu_ps(li[s]), b = _mm256_loadu_ps(lb[s]);
            __m256 y[8], v[8], k[8];
            for (int i = 0; i < 8; i++)
                y[i] = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(xr[i], inv), vnlim), vlim);
            e8(y, v);
            coords_mod(v, qf, k);
            __m256 nrm = _mm256_setzero_ps();
            for (int i = 0; i < 8; i++)
                nrm = _mm256_add_ps(nrm, _mm256_mul_ps(v[i], v[i]));
            const __m256 farm = _mm256_cmp_ps(nrm, vlim2, _CMP_NLT_UQ);
            if (_mm256_movemask_ps(farm)) {
                /* outside the ball: take what the decoder returns (the
                 * decoder's map for all lanes, kept where far) */
                __m256 w[8], diff = _mm256_setzero_ps();
                decode_point(k, qf, w);
                for (int i = 0; i < 8; i++) {
                    diff = _mm256_or_ps(diff, _mm256_cmp_ps(w[i], v[i], _CMP_NEQ_UQ));
                    v[i] = _mm256_blendv_ps(v[i], w[i], farm);
                }
                any_ovl = _mm256_or_ps(any_ovl, _mm256_and_ps(diff, farm));
            }
            __m256 err = _mm256_setzero_ps();
            for (int i = 0; i < 8; i++) {
                const __m256 d = _mm256_sub_ps(xr[i], _mm256_mul_ps(b, v[i]));
                err = _mm256_add_ps(err, _mm256_mul_ps(d, d));
            }
            const __m256 better = _mm256_cmp_ps(err, best_err, _CMP_LT_OQ);
            best_err = _mm256_blendv_ps(best_err, err, better);
            best_s = _mm256_blendv_ps(best_s, _mm256_set1_ps((float)s), better);
            ovl_best = _mm256_blendv_ps(ovl_best, any_ovl, better);
            for (int i = 0; i < 8; i++)
                best_k[i] = _mm256_blendv_ps(best_k[i], k[i], better);
        }
        float K[8][8], bs[8];
        int ob = _mm256_movemask_ps(ovl_best);
        for (int i = 0; i < 8; i++)
            _mm256_storeu_ps(K[i], best_k[i]);
        _mm256_storeu_ps(bs, best_s);
        for (size_t l = 0; l < valid; l++) {
            const size_t bi = base + l, gi = bi / (size_t)nblk, blk = bi % (size_t)nblk;
            uint8_t *go = out + gi * c->arm_bytes;
            float kl[8];
            for (int i = 0; i < 8; i++)
                kl[i] = K[i][l];
            codec_lattice_put_codes(kl, c->log2q, c->code_bytes, go + 2 + blk * c->code_bytes);
            codec_lattice_put_bits(go + idx_off, blk * (size_t)c->log2s, c->log2s, (unsigned)bs[l]);
            c->stats.blocks_by_scale[(int)bs[l]]++;
            c->stats.blocks_overloaded += (uint64_t)((ob >> l) & 1);
        }
    }
}

AVX2 void codec_lattice_decode_avx2(const codec *c, const uint8_t *in, size_t nb, float *y)
{
    const int g = c->spec.group, nblk = g / 8;
    const __m256 qf = _mm256_set1_ps((float)c->q);
    const size_t idx_off = codec_lattice_idx_offset(c), total = nb * (size_t)nblk;
    float beta[CODEC_MAX_SCALES], lb[8];
    size_t last_group = (size_t)-1;
    for (size_t base = 0; base < total; base += 8) {
        const size_t valid = total - base < 8 ? total - base : 8;
        __m256 k[8];
        for (size_t l = 0; l < 8; l++) {
            float kl[8] = {0};
            lb[l] = 0.0f;
            if (l < valid) {
                const size_t bi = base + l, gi = bi / (size_t)nblk, blk = bi % (size_t)nblk;
                const uint8_t *gp = in + gi * c->arm_bytes;
                if (gi != last_group) {
                    codec_lattice_betas(c, codec_rd16(gp), beta);
                    last_group = gi;
                }
                codec_lattice_get_codes(gp + 2 + blk * c->code_bytes, c->log2q, c->code_bytes, kl);
                lb[l] = beta[codec_lattice_get_bits(gp + idx_off, blk * (size_t)c->log2s, c->log2s)];
            }
            k[l] = _mm256_loadu_ps(kl);
        }
        transpose8(k);
        __m256 v[8];
        decode_point(k, qf, v);
        const __m256 b = _mm256_loadu_ps(lb);
        for (int i = 0; i < 8; i++)
            v[i] = _mm256_mul_ps(b, v[i]);
        transpose8(v);
        if (valid == 8) {
            for (int l = 0; l < 8; l++)
                _mm256_storeu_ps(y + 8 * (base + (size_t)l), v[l]);
        } else {
            for (size_t l = 0; l < valid; l++)
                _mm256_storeu_ps(y + 8 * (base + l), v[l]);
        }
    }
}

#else
void codec_lattice_encode_avx2(codec *c, const float *x, size_t nb, uint8_t *out)
{ (void)c; (void)x; (void)nb; (void)out; }
void codec_lattice_decode_avx2(const codec *c, const uint8_t *in, size_t nb, float *y)
{ (void)c; (void)in; (void)nb; (void)y; }
#endif
