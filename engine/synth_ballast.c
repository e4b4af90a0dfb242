/* synth_ballast: random FFN weights that leave every answer of a synthetic
 * model unchanged, so a copy model can weigh as much as a real one and its
 * decode read as many bytes per token (speculative decoding pays where
 * decode is memory-bound). See synth.h and docs/synthetic-models.md#ballast.
 *
 * The construction, per layer (SwiGLU: down(silu(gate xn) * up xn), xn the
 * RMS-normed residual, norm weights 1):
 *   gate, up  (n_ff, d): N(0, 1/d), every column: each pre-activation is
 *             about N(0, 1), as at a trained model's usual init;
 *   down      (d, n_ff): N(0, s^2 / (n_ff n_free kappa)) on the rows of the
 *             n_free residual dims past CONST, 0 on every other row, so the
 *             FFN output has expected squared norm s^2 (s = ballast_scale,
 *             kappa = E[silu(g)^2] for g ~ N(0, 1)).
 * No attention, output or FFN weight's effect depends on those dims (the
 * layout's readers have zero columns there; gate and up do read them, but
 * what they compute only lands there again), and every other dim of the
 * residual gets exactly +0 from the FFN. So the one path from the ballast
 * to an answer is RMSNorm's scale: the residual's norm grows and every
 * normed row shrinks by a factor. Layer 1's q, k, v shrink (scores by the
 * product of the query's and the key's factors, the retrieved value by
 * the value's), and the final norm scales a position's logits all alike,
 * which cannot move the argmax. The report bounds those factors on
 * nominal inputs; the tests run the model with and without ballast.
 * Contents: random draws, the FFN on a batch of rows, the report, make. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kk_rand.h"
#include "synth_internal.h"

/* E[silu(g)^2] for g ~ N(0, 1): trapezoid rule on [-12, 12] with 200000
 * steps (0.35577551981733685; the tails beyond 12 add < 1e-30). */
#define SYNTH_SILU2 0.35577551981733685

/* ---- random draws -------------------------------------------------------------- */

static double unif01(uint64_t *s) /* (0, 1) */
{
    return ((double)(kk_splitmix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* n draws of N(0, sd^2): Box-Muller, both values of each pair. */
static void gauss_fill(uint64_t *s, float *out, int64_t n, double sd)
{
    for (int64_t i = 0; i < n; i += 2) {
        const double u = unif01(s), v = unif01(s);
        const double r = sd * sqrt(-2.0 * log(u));
        out[i] = (float)(r * cos(2.0 * M_PI * v));
        if (i + 1 < n)
            out[i + 1] = (float)(r * sin(2.0 * M_PI * v));
    }
}

/* ---- the FFN on a batch of rows -------------------------------------------------- */

static double sumsq(const float *x, int32_t n)
{
    double a = 0.0;
    for (int32_t i = 0; i < n; i++)
        a += (double)x[i] * x[i];
    return a;
}

/* b (n, d) = down(silu(gate xn) * up xn) with xn = RMSNorm(x) (weights 1),
 * as the forward pass computes it; xn (n, d), g and u (n, n_ff) scratch. */
static void ffn_rows(const synth_cfg *c, const synth_weights *w, int layer, const float *x,
                     int32_t n, float *xn, float *g, float *u, float *b)
{
    const int32_t d = c->n_embd, ff = c->n_ff;
    for (int32_t r = 0; r < n; r++) {
        const double s = 1.0 / sqrt(sumsq(x + (int64_t)r * d, d) / d + SYNTH_RMS_EPS);
        for (int32_t k = 0; k < d; k++)
            xn[(int64_t)r * d + k] = (float)(x[(int64_t)r * d + k] * s);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, ff, d, 1.0f, xn, d, w->wg[layer], d,
                0.0f, g, ff);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, ff, d, 1.0f, xn, d, w->wu[layer], d,
                0.0f, u, ff);
    for (int64_t i = 0; i < (int64_t)n * ff; i++)
        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, d, ff, 1.0f, g, ff, w->wd[layer], ff,
                0.0f, b, d);
}

/* ---- the report ------------------------------------------------------------------ */

/* Nominal residual rows (256, d): row t = TOK(t) + CONST + PREV(t - 1)
 * (+ OUT(t + 1) when with_out): what layer 0 writes after token t - 1 and
 * what layer 1 retrieves when t + 1 followed t earlier. In niah mode PREV
 * and OUT are one-hot and empty for non-keys and non-values, so the
 * report also sees the smallest residuals (norm^2 2), where a ballast
 * weighs most. */
static void nominal(const synth_cfg *c, const synth_layout_t *l, const double *codes,
                    const double *vcodes, bool with_out, float *x)
{
    const int32_t d = c->n_embd, hd = c->head_dim, kd = c->key_dim;
    memset(x, 0, (size_t)SYNTH_N_VOCAB * d * sizeof *x);
    for (int32_t t = 0; t < SYNTH_N_VOCAB; t++) {
        float *r = x + (int64_t)t * d;
        const int32_t p = (t + SYNTH_N_VOCAB - 1) % SYNTH_N_VOCAB, v = (t + 1) % SYNTH_N_VOCAB;
        r[l->tok + t] = (float)SYNTH_A;
        r[l->cnst] = (float)SYNTH_B;
        if (c->mode == SYNTH_MODE_COPY) {
            for (int32_t k = 0; k < kd; k++)
                r[l->prev + k] = (float)(SYNTH_P * codes[(int64_t)p * kd + k]);
            for (int32_t k = 0; with_out && k < hd; k++)
                r[l->out + k] = (float)vcodes[(int64_t)v * hd + k];
        } else {
            if (p >= SYNTH_TOK_KEY_FIRST && p < SYNTH_TOK_KEY_FIRST + SYNTH_N_KEYS)
                r[l->prev + p - SYNTH_TOK_KEY_FIRST] = (float)SYNTH_P;
            if (with_out && v >= SYNTH_TOK_VALUE_FIRST)
                r[l->out + v - SYNTH_TOK_VALUE_FIRST] = 1.0f;
        }
    }
}

/* What RMSNorm multiplies a row by with the ballast's squared norm e
 * added, relative to the row without it (sumsq q). */
static double shrink(const synth_cfg *c, double q, double e)
{
    return sqrt((q / c->n_embd + SYNTH_RMS_EPS) / ((q + e) / c->n_embd + SYNTH_RMS_EPS));
}

void synth_ballast_none(const synth_cfg *c, synth_ballast_report *r)
{
    memset(r, 0, sizeof *r);
    r->attn_scale = 1.0;
    r->logit_scale = 1.0;
    r->match_logit = (double)c->beta * c->match_logit;
    r->margin_free = (double)c->value_logit - c->fallback_logit;
    r->margin = r->margin_free;
}

/* Layer 0's FFN on the rows without OUT (after layer 0's attention), then
 * layer 1's on the rows with OUT and layer 0's ballast: the factors on
 * layer 1's attention input and on the final norm's. */
static kk_code report(const synth_cfg *c, const synth_layout_t *l, const double *codes,
                      const double *vcodes, const synth_weights *w, synth_ballast_report *r,
                      kk_err *err)
{
    const int32_t d = c->n_embd, n = SYNTH_N_VOCAB;
    const size_t nd = (size_t)n * d, nf = (size_t)n * c->n_ff;
    float *x0 = malloc(nd * sizeof *x0), *x1 = malloc(nd * sizeof *x1);
    float *b0 = malloc(nd * sizeof *b0), *b1 = malloc(nd * sizeof *b1);
    float *xn = malloc(nd * sizeof *xn);
    float *g = malloc(nf * sizeof *g), *u = malloc(nf * sizeof *u);
    kk_code rc = KK_OK;
    if (!x0 || !x1 || !b0 || !b1 || !xn || !g || !u) {
        rc = kk_err_set(err, KK_E_NOMEM, "synth: out of memory for the ballast report");
        goto done;
    }
    synth_ballast_none(c, r);
    nominal(c, l, codes, vcodes, false, x0);
    ffn_rows(c, w, 0, x0, n, xn, g, u, b0);
    nominal(c, l, codes, vcodes, true, x1);
    for (size_t i = 0; i < nd; i++)
        x1[i] += b0[i]; /* layer 1's FFN input: + OUT + layer 0's ballast */
    ffn_rows(c, w, 1, x1, n, xn, g, u, b1);
    for (int32_t t = 0; t < n; t++) {
        const float *r0 = x0 + (int64_t)t * d, *r1 = x1 + (int64_t)t * d;
        const float *p0 = b0 + (int64_t)t * d, *p1 = b1 + (int64_t)t * d;
        /* the ballast lies on dims the layout leaves empty: norms add */
        const double e0 = sumsq(p0, d);
        double e01 = 0.0;
        for (int32_t k = 0; k < d; k++)
            e01 += ((double)p0[k] + p1[k]) * ((double)p0[k] + p1[k]);
        const double q1 = sumsq(r1, d) - e0; /* the final residual without ballast */
        r->attn_scale = fmin(r->attn_scale, shrink(c, sumsq(r0, d), e0));
        r->logit_scale = fmin(r->logit_scale, shrink(c, q1, e01));
        r->norm_max = fmax(r->norm_max, sqrt(e01));
    }
    r->match_logit = (double)c->beta * c->match_logit * r->attn_scale * r->attn_scale;
    r->margin = r->logit_scale * ((double)c->value_logit * r->attn_scale - c->fallback_logit);
done:
    free(x0);
    free(x1);
    free(b0);
    free(b1);
    free(xn);
    free(g);
    free(u);
    return rc;
}

/* ---- make ------------------------------------------------------------------------ */

kk_code synth_ballast_make(const synth_cfg *c, const synth_layout_t *l, const double *codes,
                           const double *vcodes, synth_weights *w, synth_stats *st, kk_err *err)
{
    const int32_t d = c->n_embd, ff = c->n_ff;
    const int32_t free0 = l->cnst + 1, n_free = d - free0;
    const size_t n = (size_t)ff * d;
    for (int il = 0; il < SYNTH_N_LAYERS; il++) {
        w->wg[il] = malloc(n * sizeof(float));
        w->wu[il] = malloc(n * sizeof(float));
        w->wd[il] = calloc(n, sizeof(float));
        if (!w->wg[il] || !w->wu[il] || !w->wd[il])
            return kk_err_set(err, KK_E_NOMEM, "synth: out of memory for the ballast (%d x %d)",
                              (int)ff, (int)d);
    }
    uint64_t s = synth_stream(c->seed, SYNTH_TAG_BALLAST);
    const double sd_in = 1.0 / sqrt((double)d);
    const double sd_down = c->ballast_scale / sqrt((double)ff * n_free * SYNTH_SILU2);
    for (int il = 0; il < SYNTH_N_LAYERS; il++) {
        gauss_fill(&s, w->wg[il], (int64_t)n, sd_in);
        gauss_fill(&s, w->wu[il], (int64_t)n, sd_in);
        /* rows free0..d-1 of (d, n_ff) are contiguous */
        gauss_fill(&s, w->wd[il] + (int64_t)free0 * ff, (int64_t)n_free * ff, sd_down);
    }
    synth_ballast_report *r = &st->ballast;
    const kk_code rc = report(c, l, codes, vcodes, w, r, err);
    if (rc != KK_OK)
        return rc;
    const bool lost = r->match_logit < SYNTH_BALLAST_KEEP * c->beta * c->match_logit ||
                      r->logit_scale < SYNTH_BALLAST_KEEP ||
                      (r->margin_free > 0.0 && r->margin < SYNTH_BALLAST_KEEP * r->margin_free);
    if (lost) {
        kk_err_set(err, KK_E_RANGE,
                   "ballast_scale: %.15g would lose more than half of a margin (estimated: "
                   "match score %.4g of %.4g, logits x %.4g, answer margin %.4g of %.4g); "
                   "take a smaller one",
                   (double)c->ballast_scale, r->match_logit, (double)c->beta * c->match_logit,
                   r->logit_scale, r->margin, r->margin_free);
        return kk_err_where(err, "ballast_scale");
    }
    return KK_OK;
}
