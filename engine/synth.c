/* synth: see synth.h. Contents: defaults and checks, random draws, the
 * weights of each layer, the basis changes, writing the tensors.
 * Metadata, vocabulary and names are in synth_meta.c. */
#include "synth.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kk_rand.h"
#include "synth_internal.h"

/* ---- defaults and checks --------------------------------------------------- */

void synth_defaults(synth_cfg *c, synth_role role)
{
    memset(c, 0, sizeof *c);
    c->mode = SYNTH_MODE_NIAH;
    c->role = role;
    c->seed = 1;
    c->n_embd = 512;
    c->n_heads = 4;
    c->head_dim = 128;
    c->n_ff = 32;
    c->n_ctx = 32768;
    c->key_dim = 32;
    c->code_kind = SYNTH_CODE_RANDOM;
    c->beta = 1.0f;
    c->match_logit = 60.0f;
    c->pos_logit = 600.0f;
    c->pos_min_theta = 0.05f;
    c->value_logit = 100.0f;
    c->fallback_logit = 50.0f;
    c->rope_base = 1e6f;
    c->rotate = 0;
    c->n_outliers = 0;
    c->outlier_scale = 8.0f;
    c->shared_k = 0.0f;
    c->key_noise = 0.0f;
    c->sliding_window = 0;
    c->sliding_layers = 0;
    c->niah_distractors = 0;
    c->ballast_scale = 0.0f;
    if (role == SYNTH_ROLE_PROPOSER) {
        /* Other dimensions than the verifier (still room for the residual
         * layout, still head dim 128 so the codes sit on slow pairs), its
         * own codes (seed), and keys that carry the previous key's
         * identity only approximately. */
        c->seed = 2;
        c->n_embd = 448;
        c->n_heads = 2;
        c->key_noise = 0.05f;
    }
}

void synth_apply_hard(synth_cfg *c)
{
    c->key_dim = 16;
    c->shared_k = 32.0f;
    c->niah_distractors = 3;
}

/* A range error naming the synth_cfg field (message and where): programs
 * map field names to their own flags or keys. */
static kk_code bad(kk_err *err, const char *field, double v, double lo, double hi,
                   const char *why)
{
    kk_err_set(err, KK_E_RANGE, "%s: %.15g is out of range (allowed: %.15g..%.15g%s)", field, v, lo,
               hi, why);
    return kk_err_where(err, field);
}

int32_t synth_kernel_pairs(const synth_cfg *c)
{
    int32_t n = 0;
    for (int32_t i = 0; i < c->head_dim / 2; i++)
        if (pow((double)c->rope_base, -2.0 * i / c->head_dim) >= (double)c->pos_min_theta)
            n++;
    return n;
}

void synth_layout(const synth_cfg *c, synth_layout_t *l)
{
    l->tok = 0;
    l->prev = SYNTH_N_VOCAB;
    if (c->mode == SYNTH_MODE_NIAH) {
        l->n_prev = SYNTH_N_KEYS;
        l->out = l->prev + SYNTH_N_KEYS;
        l->n_out = SYNTH_N_VALUES;
    } else {
        /* 256 keys do not fit one-hot in a head: PREV holds the code, OUT
         * a random value code of head_dim dims. */
        l->n_prev = c->key_dim;
        l->out = l->prev + c->key_dim;
        l->n_out = c->head_dim;
    }
    l->cnst = l->out + l->n_out;
    l->code0 = c->head_dim - c->key_dim;
    l->shared0 = (l->code0 / SYNTH_QGROUP) * SYNTH_QGROUP;
}

kk_code synth_check(const synth_cfg *c, kk_err *err)
{
    if (c->head_dim < 32 || c->head_dim > 512 || c->head_dim % SYNTH_QGROUP)
        return bad(err, "head_dim", c->head_dim, 32, 512, ", a multiple of 32");
    if (c->n_heads < 1 || c->n_heads > 64)
        return bad(err, "n_heads", c->n_heads, 1, 64, "");
    const int32_t n_keys = c->mode == SYNTH_MODE_NIAH ? SYNTH_N_KEYS : SYNTH_N_VOCAB;
    if (c->key_dim < 2 || c->key_dim > c->head_dim || c->key_dim % 2)
        return bad(err, "key_dim", c->key_dim, 2, c->head_dim, ", even");
    if (c->code_kind == SYNTH_CODE_ONEHOT && c->key_dim < n_keys)
        return bad(err, "key_dim", c->key_dim, n_keys, c->head_dim,
                   " for one-hot codes: one dim per key");
    if (c->mode == SYNTH_MODE_NIAH && c->head_dim < SYNTH_N_KEYS)
        return bad(err, "head_dim", c->head_dim, SYNTH_N_KEYS, 512,
                   ": the value head carries one dim per key");
    synth_layout_t l;
    synth_layout(c, &l);
    if (c->n_embd < l.cnst + 1 || c->n_embd > 4096)
        return bad(err, "n_embd", c->n_embd, l.cnst + 1, 4096,
                   ": token, previous-key, output and constant dims must fit");
    if (c->n_ff < 1 || c->n_ff > 65536)
        return bad(err, "n_ff", c->n_ff, 1, 65536, "");
    if (!(c->ballast_scale >= 0.0f && c->ballast_scale <= 100.0f))
        return bad(err, "ballast_scale", c->ballast_scale, 0, 100, "");
    if (c->ballast_scale > 0.0f && c->n_embd < l.cnst + 2)
        return bad(err, "n_embd", c->n_embd, l.cnst + 2, 4096,
                   " with ballast_scale: the ballast writes only dims past the layout");
    if (c->n_ctx < 16 || c->n_ctx > (1 << 24))
        return bad(err, "n_ctx", c->n_ctx, 16, 1 << 24, "");
    if (!(c->rope_base >= 2.0f && c->rope_base <= 1e12f))
        return bad(err, "rope_base", c->rope_base, 2, 1e12, "");
    if (!(c->pos_min_theta > 0.0f && c->pos_min_theta <= 1.0f))
        return bad(err, "pos_min_theta", c->pos_min_theta, 0, 1, ", above 0");
    if (synth_kernel_pairs(c) < 1)
        return bad(err, "pos_min_theta", c->pos_min_theta, 0, 1,
                   ": no RoPE pair turns that fast");
    if (!(c->beta > 0.0f && c->beta <= 100.0f))
        return bad(err, "beta", c->beta, 0, 100, ", above 0");
    const struct { const char *field; float v; } logits[] = {
        {"match_logit", c->match_logit}, {"pos_logit", c->pos_logit},
        {"value_logit", c->value_logit},
    };
    for (size_t i = 0; i < sizeof logits / sizeof logits[0]; i++)
        if (!(logits[i].v > 0.0f && logits[i].v <= 1e4f))
            return bad(err, logits[i].field, logits[i].v, 0, 1e4, ", above 0");
    if (!(c->fallback_logit >= 0.0f && c->fallback_logit <= 1e4f))
        return bad(err, "fallback_logit", c->fallback_logit, 0, 1e4, "");
    if (c->rotate & ~(uint32_t)SYNTH_ROT_ALL)
        return bad(err, "rotate", c->rotate, 0, SYNTH_ROT_ALL, "");
    const int32_t max_out = synth_kernel_pairs(c) < c->key_dim / 2 ? synth_kernel_pairs(c)
                                                                     : c->key_dim / 2;
    if (c->n_outliers < 0 || c->n_outliers > max_out)
        return bad(err, "n_outliers", c->n_outliers, 0, max_out,
                   ": pairs of the layer-0 kernel and of the codes");
    if (!(c->outlier_scale >= 1.0f && c->outlier_scale <= 1e3f))
        return bad(err, "outlier_scale", c->outlier_scale, 1, 1e3, "");
    if (!(c->shared_k >= 0.0f && c->shared_k <= 1e4f))
        return bad(err, "shared_k", c->shared_k, 0, 1e4, "");
    if (c->shared_k > 0.0f && l.shared0 == l.code0)
        return bad(err, "key_dim", c->key_dim, 2, 30,
                   " with shared_k: the codes' group of 32 dims needs free dims");
    if (!(c->key_noise >= 0.0f && c->key_noise <= 100.0f))
        return bad(err, "key_noise", c->key_noise, 0, 100, "");
    if (c->sliding_window < 0 || c->sliding_window > c->n_ctx)
        return bad(err, "sliding_window", c->sliding_window, 0, c->n_ctx, "");
    if (c->sliding_layers >> SYNTH_N_LAYERS)
        return bad(err, "sliding_layers", c->sliding_layers, 0, (1 << SYNTH_N_LAYERS) - 1,
                   " (a layer mask)");
    if (c->sliding_layers && c->sliding_window == 0)
        return bad(err, "sliding_window", 0, 1, c->n_ctx, " when layers are sliding");
    if (c->niah_distractors < 0 || c->niah_distractors > SYNTH_N_KEYS - 1)
        return bad(err, "niah_distractors", c->niah_distractors, 0, SYNTH_N_KEYS - 1, "");
    return KK_OK;
}

/* ---- deterministic random numbers ------------------------------------------ */

/* One stream per purpose, so adding a knob never shifts another's draws. */
uint64_t synth_stream(uint64_t seed, uint64_t tag)
{
    uint64_t s = seed ^ (0xd1b54a32d192ed03ULL * (tag + 1));
    kk_splitmix64(&s);
    return s;
}

static double unif01(uint64_t *s) /* (0, 1) */
{
    return ((double)(kk_splitmix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double gauss(uint64_t *s) /* Box-Muller */
{
    const double u = unif01(s), v = unif01(s);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* n unit vectors of dimension k (rows of out (n, k)). */
static void unit_codes(uint64_t *s, double *out, int32_t n, int32_t k)
{
    for (int32_t i = 0; i < n; i++) {
        double *r = out + (int64_t)i * k, nn = 0.0;
        do {
            nn = 0.0;
            for (int32_t j = 0; j < k; j++) {
                r[j] = gauss(s);
                nn += r[j] * r[j];
            }
        } while (nn < 1e-12);
        for (int32_t j = 0; j < k; j++)
            r[j] /= sqrt(nn);
    }
}

/* A random orthogonal (n, n) matrix: modified Gram-Schmidt on Gaussian
 * rows, in double. */
static void random_orthogonal(uint64_t *s, double *q, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        double *r = q + (int64_t)i * n;
        for (;;) {
            for (int32_t j = 0; j < n; j++)
                r[j] = gauss(s);
            for (int32_t p = 0; p < i; p++) {
                const double *b = q + (int64_t)p * n;
                double dot = 0.0;
                for (int32_t j = 0; j < n; j++)
                    dot += r[j] * b[j];
                for (int32_t j = 0; j < n; j++)
                    r[j] -= dot * b[j];
            }
            double nn = 0.0;
            for (int32_t j = 0; j < n; j++)
                nn += r[j] * r[j];
            if (nn > 1e-6) {
                for (int32_t j = 0; j < n; j++)
                    r[j] /= sqrt(nn);
                break;
            }
        }
    }
}

/* ---- the weights --------------------------------------------------------------- */

/* 1 / RMS of a residual row with the given sum of squares: what RMSNorm
 * (weights 1) multiplies it by. */
static double rms_scale(const synth_cfg *c, double sumsq)
{
    return 1.0 / sqrt(sumsq / c->n_embd + SYNTH_RMS_EPS);
}

void synth_weights_free(synth_weights *w)
{
    free(w->emb);
    free(w->out);
    for (int l = 0; l < SYNTH_N_LAYERS; l++) {
        free(w->wq[l]);
        free(w->wk[l]);
        free(w->wv[l]);
        free(w->wo[l]);
        free(w->wg[l]);
        free(w->wu[l]);
        free(w->wd[l]);
    }
    memset(w, 0, sizeof *w);
}

#define AT(m, ncols, r, c) ((m)[(int64_t)(r) * (ncols) + (c)])

/* Layer 0: the previous-token head. */
static void layer0(const synth_cfg *c, const synth_layout_t *l, const double *codes,
                   synth_weights *w, synth_stats *st)
{
    const int32_t d = c->n_embd, hd = c->head_dim;
    const double r0 = rms_scale(c, SYNTH_A * SYNTH_A + SYNTH_B * SYNTH_B);
    const double c0 = SYNTH_B * r0; /* the normed CONST value */
    const int32_t np = synth_kernel_pairs(c);
    /* Equal energy on each fast pair: sum E / sqrt(hd) = pos_logit. */
    const double e = (double)c->pos_logit * sqrt((double)hd) / np;
    for (int32_t i = 0; i < np; i++) {
        const double th = pow((double)c->rope_base, -2.0 * i / hd);
        AT(w->wk[0], d, 2 * i, l->cnst) = (float)(sqrt(e) / c0);
        /* q = k rotated by -1 position: the peak sits at n = m - 1. */
        AT(w->wq[0], d, 2 * i, l->cnst) = (float)(sqrt(e) * cos(th) / c0);
        AT(w->wq[0], d, 2 * i + 1, l->cnst) = (float)(-sqrt(e) * sin(th) / c0);
    }
    /* The worst competitor of the peak over every distance the context
     * allows (distance -1 is the query's own position). */
    double worst = -INFINITY;
    for (int64_t dist = -1; dist < c->n_ctx; dist++) {
        if (dist == 0)
            continue;
        double sc = 0.0;
        for (int32_t i = 0; i < np; i++)
            sc += cos((double)dist * pow((double)c->rope_base, -2.0 * i / hd));
        worst = sc / np > worst ? sc / np : worst;
    }
    st->pos_pairs = np;
    st->pos_competitor = worst;
    /* v = the current token's key identity (one-hot) or code; W_o -> PREV. */
    if (c->mode == SYNTH_MODE_NIAH) {
        for (int32_t j = 0; j < SYNTH_N_KEYS; j++)
            AT(w->wv[0], d, j, l->tok + SYNTH_TOK_KEY_FIRST + j) = (float)(1.0 / (SYNTH_A * r0));
    } else {
        for (int32_t t = 0; t < SYNTH_N_VOCAB; t++)
            for (int32_t k = 0; k < c->key_dim; k++)
                AT(w->wv[0], d, k, l->tok + t) =
                    (float)(codes[(int64_t)t * c->key_dim + k] / (SYNTH_A * r0));
    }
    const int32_t ho = c->n_heads * hd;
    for (int32_t j = 0; j < l->n_prev; j++)
        AT(w->wo[0], ho, l->prev + j, j) = (float)SYNTH_P;
}

/* Layer 1: the retrieval head, and the output matrix. */
static void layer1(const synth_cfg *c, const synth_layout_t *l, const double *codes,
                   const double *vcodes, uint64_t *noise_rng, synth_weights *w)
{
    const int32_t d = c->n_embd, hd = c->head_dim, kd = c->key_dim;
    const bool niah = c->mode == SYNTH_MODE_NIAH;
    /* Rows with a previous key carry PREV too (norm^2 3, else 2): in niah
     * mode the query position has none (its previous token is QUERY). */
    const double r1k = rms_scale(c, SYNTH_A * SYNTH_A + SYNTH_B * SYNTH_B + SYNTH_P * SYNTH_P);
    const double r1q = niah ? rms_scale(c, SYNTH_A * SYNTH_A + SYNTH_B * SYNTH_B) : r1k;
    /* score = s_q s_k <C_i, C_j> / sqrt(hd) = beta * match_logit at a match */
    const double s_k = sqrt((double)c->match_logit * sqrt((double)hd));
    const double s_q = c->beta * s_k;
    const int32_t n_keys = niah ? SYNTH_N_KEYS : SYNTH_N_VOCAB;
    const int32_t key_first = niah ? SYNTH_TOK_KEY_FIRST : 0;
    for (int32_t j = 0; j < n_keys; j++)
        for (int32_t k = 0; k < kd; k++) {
            const double cjk = codes[(int64_t)j * kd + k];
            AT(w->wq[1], d, l->code0 + k, l->tok + key_first + j) =
                (float)(s_q * cjk / (SYNTH_A * r1q));
            if (niah) /* PREV one-hot -> its code */
                AT(w->wk[1], d, l->code0 + k, l->prev + j) = (float)(s_k * cjk / (SYNTH_P * r1k));
        }
    if (!niah) /* PREV already holds the code */
        for (int32_t k = 0; k < kd; k++)
            AT(w->wk[1], d, l->code0 + k, l->prev + k) = (float)(s_k / (SYNTH_P * r1k));
    /* The shared K component: every position, dims no query reads, in the
     * codes' quantization group; shared_k x the code's RMS per dim. */
    for (int32_t k = l->shared0; k < l->code0; k++)
        AT(w->wk[1], d, k, l->cnst) =
            (float)(c->shared_k * s_k / sqrt((double)kd) / (SYNTH_B * r1k));
    /* Proposer noise: a fixed random offset of each token's key. */
    if (c->key_noise > 0.0f)
        for (int32_t t = 0; t < SYNTH_N_VOCAB; t++)
            for (int32_t k = 0; k < kd; k++)
                AT(w->wk[1], d, l->code0 + k, l->tok + t) +=
                    (float)(c->key_noise * s_k * gauss(noise_rng) / sqrt((double)kd) /
                            (SYNTH_A * r1k));
    /* v = the current token's value identity (one-hot) or value code. */
    const int32_t ho = c->n_heads * hd;
    if (niah) {
        for (int32_t j = 0; j < SYNTH_N_VALUES; j++)
            AT(w->wv[1], d, j, l->tok + SYNTH_TOK_VALUE_FIRST + j) =
                (float)(1.0 / (SYNTH_A * r1k));
    } else {
        for (int32_t t = 0; t < SYNTH_N_VOCAB; t++)
            for (int32_t k = 0; k < hd; k++)
                AT(w->wv[1], d, k, l->tok + t) =
                    (float)(vcodes[(int64_t)t * hd + k] / (SYNTH_A * r1k));
    }
    for (int32_t j = 0; j < l->n_out; j++)
        AT(w->wo[1], ho, l->out + j, j) = 1.0f;
    /* Output: value rows read OUT; the fallback row reads CONST. The final
     * row at the query: TOK + CONST (+ PREV in copy mode) + OUT (norm 1). */
    const double rf = rms_scale(c, SYNTH_A * SYNTH_A + SYNTH_B * SYNTH_B + 1.0 +
                                       (niah ? 0.0 : SYNTH_P * SYNTH_P));
    if (niah) {
        for (int32_t j = 0; j < SYNTH_N_VALUES; j++)
            AT(w->out, d, SYNTH_TOK_VALUE_FIRST + j, l->out + j) = (float)(c->value_logit / rf);
    } else {
        for (int32_t t = 0; t < SYNTH_N_VOCAB; t++)
            for (int32_t k = 0; k < hd; k++)
                AT(w->out, d, t, l->out + k) =
                    (float)(c->value_logit * vcodes[(int64_t)t * hd + k] / rf);
    }
    AT(w->out, d, SYNTH_TOK_FALLBACK, l->cnst) = (float)(c->fallback_logit / (SYNTH_B * rf));
}

/* Outlier pairs: K rows of a pair x f, q rows / f. Scaling a whole pair
 * commutes with its RoPE rotation, so every score is unchanged. */
static void outliers(const synth_cfg *c, int layer, int32_t pair0, int32_t n_pairs,
                     uint64_t *s, synth_weights *w)
{
    const int32_t d = c->n_embd;
    int32_t idx[512];
    for (int32_t i = 0; i < n_pairs; i++)
        idx[i] = pair0 + i;
    for (int32_t i = 0; i < c->n_outliers; i++) {
        const int32_t j = i + (int32_t)(kk_splitmix64(s) % (uint64_t)(n_pairs - i));
        const int32_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        for (int32_t r = 2 * idx[i]; r < 2 * idx[i] + 2; r++)
            for (int32_t k = 0; k < d; k++) {
                AT(w->wk[layer], d, r, k) *= c->outlier_scale;
                AT(w->wq[layer], d, r, k) /= c->outlier_scale;
            }
    }
}

/* ---- basis changes that keep the function exact ------------------------------ */

/* A random 2x2 rotation of each RoPE pair of head 0's q and k rows: 2-D
 * rotations commute, so q^T R(dt) k is unchanged. */
static void rotate_pairs(const synth_cfg *c, int layer, uint64_t *s, synth_weights *w)
{
    const int32_t d = c->n_embd;
    for (int32_t i = 0; i < c->head_dim / 2; i++) {
        const double phi = 2.0 * M_PI * unif01(s), cs = cos(phi), sn = sin(phi);
        float *m[2] = {w->wq[layer], w->wk[layer]};
        for (int t = 0; t < 2; t++)
            for (int32_t k = 0; k < d; k++) {
                const double a = AT(m[t], d, 2 * i, k), b = AT(m[t], d, 2 * i + 1, k);
                AT(m[t], d, 2 * i, k) = (float)(cs * a - sn * b);
                AT(m[t], d, 2 * i + 1, k) = (float)(sn * a + cs * b);
            }
    }
}

/* V' = G V on head 0's value dims, W_o' = W_o G^T: the output is unchanged. */
static kk_code rotate_values(const synth_cfg *c, int layer, uint64_t *s, synth_weights *w,
                             kk_err *err)
{
    const int32_t d = c->n_embd, hd = c->head_dim, ho = c->n_heads * hd;
    double *g = malloc((size_t)hd * hd * sizeof *g);
    float *tmp = malloc((size_t)hd * (d > hd ? d : hd) * sizeof *tmp);
    if (!g || !tmp) {
        free(g);
        free(tmp);
        return kk_err_set(err, KK_E_NOMEM, "synth: out of memory for a value rotation");
    }
    random_orthogonal(s, g, hd);
    /* wv rows 0..hd-1 (hd, d): tmp = G wv */
    for (int32_t i = 0; i < hd; i++)
        for (int32_t k = 0; k < d; k++) {
            double acc = 0.0;
            for (int32_t j = 0; j < hd; j++)
                acc += AT(g, hd, i, j) * AT(w->wv[layer], d, j, k);
            AT(tmp, d, i, k) = (float)acc;
        }
    memcpy(w->wv[layer], tmp, (size_t)hd * d * sizeof(float));
    /* wo (d, ho), head 0 = columns 0..hd-1: row r <- row r . G^T */
    for (int32_t r = 0; r < d; r++) {
        float row[512];
        for (int32_t i = 0; i < hd; i++) {
            double acc = 0.0;
            for (int32_t j = 0; j < hd; j++)
                acc += (double)AT(w->wo[layer], ho, r, j) * AT(g, hd, i, j);
            row[i] = (float)acc;
        }
        memcpy(&AT(w->wo[layer], ho, r, 0), row, (size_t)hd * sizeof(float));
    }
    free(g);
    free(tmp);
    return KK_OK;
}

/* x' = Q x for the residual stream: readers W <- W Q^T, writers W <- Q W.
 * Exact because every RMSNorm weight is 1 (norms are rotation-invariant). */
static kk_code rotate_residual(const synth_cfg *c, uint64_t *s, synth_weights *w,
                               kk_err *err)
{
    const int32_t d = c->n_embd, ho = c->n_heads * c->head_dim;
    const bool ballast = w->wg[0] != NULL;
    double *qd = malloc((size_t)d * d * sizeof *qd);
    float *q = malloc((size_t)d * d * sizeof *q);
    int64_t most = ho > SYNTH_N_VOCAB ? ho : SYNTH_N_VOCAB;
    if (ballast && c->n_ff > most)
        most = c->n_ff;
    const int64_t big = most * d;
    float *tmp = malloc((size_t)big * sizeof *tmp);
    if (!qd || !q || !tmp) {
        free(qd);
        free(q);
        free(tmp);
        return kk_err_set(err, KK_E_NOMEM, "synth: out of memory for the residual rotation");
    }
    random_orthogonal(s, qd, d);
    for (int64_t i = 0; i < (int64_t)d * d; i++)
        q[i] = (float)qd[i];
    /* readers (rows, d): W Q^T */
    float *readers[2 + 5 * SYNTH_N_LAYERS];
    int32_t rows[2 + 5 * SYNTH_N_LAYERS];
    int nr = 0;
    readers[nr] = w->emb, rows[nr++] = SYNTH_N_VOCAB; /* embedding rows: (Q e)^T = e^T Q^T */
    readers[nr] = w->out, rows[nr++] = SYNTH_N_VOCAB;
    for (int l = 0; l < SYNTH_N_LAYERS; l++) {
        readers[nr] = w->wq[l], rows[nr++] = ho;
        readers[nr] = w->wk[l], rows[nr++] = ho;
        readers[nr] = w->wv[l], rows[nr++] = ho;
        if (ballast) { /* the FFN's gate and up read the residual too */
            readers[nr] = w->wg[l], rows[nr++] = c->n_ff;
            readers[nr] = w->wu[l], rows[nr++] = c->n_ff;
        }
    }
    for (int i = 0; i < nr; i++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows[i], d, d, 1.0f, readers[i],
                    d, q, d, 0.0f, tmp, d);
        memcpy(readers[i], tmp, (size_t)rows[i] * d * sizeof(float));
    }
    /* writers (d, ho): Q W */
    for (int l = 0; l < SYNTH_N_LAYERS; l++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, ho, d, 1.0f, q, d,
                    w->wo[l], ho, 0.0f, tmp, ho);
        memcpy(w->wo[l], tmp, (size_t)d * ho * sizeof(float));
        if (ballast) { /* ffn_down (d, n_ff) writes it */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, c->n_ff, d, 1.0f, q, d,
                        w->wd[l], c->n_ff, 0.0f, tmp, c->n_ff);
            memcpy(w->wd[l], tmp, (size_t)d * c->n_ff * sizeof(float));
        }
    }
    free(qd);
    free(q);
    free(tmp);
    return KK_OK;
}

/* ---- build -------------------------------------------------------------------- */

kk_code synth_weights_make(const synth_cfg *c, synth_weights *w, synth_stats *st,
                           kk_err *err)
{
    memset(w, 0, sizeof *w);
    memset(st, 0, sizeof *st);
    const int32_t d = c->n_embd, hd = c->head_dim, ho = c->n_heads * hd;
    synth_layout_t l;
    synth_layout(c, &l);
    const int32_t n_keys = c->mode == SYNTH_MODE_NIAH ? SYNTH_N_KEYS : SYNTH_N_VOCAB;
    double *codes = calloc((size_t)n_keys * c->key_dim, sizeof *codes);
    double *vcodes = c->mode == SYNTH_MODE_COPY
                         ? calloc((size_t)SYNTH_N_VOCAB * hd, sizeof *vcodes)
                         : NULL;
    w->emb = calloc((size_t)SYNTH_N_VOCAB * d, sizeof(float));
    w->out = calloc((size_t)SYNTH_N_VOCAB * d, sizeof(float));
    bool ok = codes && w->emb && w->out && (c->mode != SYNTH_MODE_COPY || vcodes);
    for (int i = 0; i < SYNTH_N_LAYERS; i++) {
        w->wq[i] = calloc((size_t)ho * d, sizeof(float));
        w->wk[i] = calloc((size_t)ho * d, sizeof(float));
        w->wv[i] = calloc((size_t)ho * d, sizeof(float));
        w->wo[i] = calloc((size_t)d * ho, sizeof(float));
        ok = ok && w->wq[i] && w->wk[i] && w->wv[i] && w->wo[i];
    }
    kk_code rc = KK_OK;
    if (!ok) {
        rc = kk_err_set(err, KK_E_NOMEM, "synth: out of memory for the weights");
        goto done;
    }
    uint64_t s_codes = synth_stream(c->seed, 1), s_vcodes = synth_stream(c->seed, 2),
             s_noise = synth_stream(c->seed, 3), s_out = synth_stream(c->seed, 4),
             s_pairs = synth_stream(c->seed, 5), s_vals = synth_stream(c->seed, 6),
             s_res = synth_stream(c->seed, 7);
    if (c->code_kind == SYNTH_CODE_ONEHOT) {
        for (int32_t j = 0; j < n_keys; j++)
            codes[(int64_t)j * c->key_dim + j] = 1.0;
    } else {
        unit_codes(&s_codes, codes, n_keys, c->key_dim);
    }
    if (vcodes)
        unit_codes(&s_vcodes, vcodes, SYNTH_N_VOCAB, hd);
    st->code_max_cos = 0.0;
    for (int32_t i = 0; i < n_keys; i++)
        for (int32_t j = i + 1; j < n_keys; j++) {
            double dot = 0.0;
            for (int32_t k = 0; k < c->key_dim; k++)
                dot += codes[(int64_t)i * c->key_dim + k] * codes[(int64_t)j * c->key_dim + k];
            st->code_max_cos = dot > st->code_max_cos ? dot : st->code_max_cos;
        }
    /* Embedding row t = a e_TOK(t) + b e_CONST: the same norm for every row. */
    for (int32_t t = 0; t < SYNTH_N_VOCAB; t++) {
        AT(w->emb, d, t, l.tok + t) = (float)SYNTH_A;
        AT(w->emb, d, t, l.cnst) = (float)SYNTH_B;
    }
    layer0(c, &l, codes, w, st);
    layer1(c, &l, codes, vcodes, &s_noise, w);
    /* The ballast reads the layout as built, before any basis change. */
    if (c->ballast_scale > 0.0f) {
        if ((rc = synth_ballast_make(c, &l, codes, vcodes, w, st, err)) != KK_OK)
            goto done;
    } else {
        synth_ballast_none(c, &st->ballast);
    }
    if (c->n_outliers > 0) {
        outliers(c, 0, 0, st->pos_pairs, &s_out, w);
        outliers(c, 1, l.code0 / 2, c->key_dim / 2, &s_out, w);
    }
    for (int i = 0; i < SYNTH_N_LAYERS; i++) {
        if (c->rotate & SYNTH_ROT_PAIRS)
            rotate_pairs(c, i, &s_pairs, w);
        if ((c->rotate & SYNTH_ROT_VALUES) && (rc = rotate_values(c, i, &s_vals, w, err)))
            goto done;
    }
    if ((c->rotate & SYNTH_ROT_RESIDUAL) && (rc = rotate_residual(c, &s_res, w, err)))
        goto done;
done:
    free(codes);
    free(vcodes);
    if (rc != KK_OK)
        synth_weights_free(w);
    return rc;
}
