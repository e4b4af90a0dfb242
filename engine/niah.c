/* niah: see niah.h. Contents: samples, Wilson interval, the affine-noise
 * cache, the runner, a whole run. */
#include "niah.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "kv.h"
#include "kv_codec.h"
#include "synth.h"

/* ---- samples ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) (n small: the modulo bias is below 2^-50). */
static int64_t below(uint64_t *s, int64_t n) { return (int64_t)(splitmix64(s) % (uint64_t)n); }

uint64_t niah_sample_seed(uint64_t run_seed, int64_t ctx, int32_t depth_index, int64_t index)
{
    /* Each coordinate goes through the mixer in turn: distinct tuples give
     * unrelated streams. */
    uint64_t s = run_seed;
    uint64_t h = splitmix64(&s);
    s = h ^ (uint64_t)ctx;
    h = splitmix64(&s);
    s = h ^ (uint64_t)(uint32_t)depth_index;
    h = splitmix64(&s);
    s = h ^ (uint64_t)index;
    return splitmix64(&s);
}

kk_code niah_sample_make(niah_sample *s, double depth, int32_t distractors, uint64_t seed,
                         kk_err *err)
{
    const int64_t ctx = s->ctx;
    if (ctx < NIAH_MIN_CTX || ctx > NIAH_MAX_CTX)
        return kk_err_set(err, KK_E_RANGE, "niah: context %lld is out of range (allowed: %d..%d)",
                          (long long)ctx, NIAH_MIN_CTX, NIAH_MAX_CTX);
    if (!(depth >= 0.0 && depth <= 1.0))
        return kk_err_set(err, KK_E_RANGE, "niah: depth %g is out of range (allowed: 0..1)",
                          depth);
    /* Body: positions [1, ctx-2); each pair takes two slots. */
    const int64_t body = ctx - 3;
    if (distractors < 0 || distractors > SYNTH_N_KEYS - 1 ||
        2 * (int64_t)(distractors + 1) * 2 > body)
        return kk_err_set(err, KK_E_RANGE,
                          "niah: %d distractors do not fit %lld tokens (allowed: 0..%d, and "
                          "4 tokens per pair)",
                          (int)distractors, (long long)ctx, SYNTH_N_KEYS - 1);
    uint64_t r = seed;
    int32_t *t = s->tokens;
    t[0] = SYNTH_TOK_BOS;
    for (int64_t i = 1; i < ctx - 2; i++)
        t[i] = (int32_t)(SYNTH_TOK_FILLER_FIRST + below(&r, SYNTH_N_FILLER));
    /* keys: the needle's, then distinct others (partial Fisher-Yates) */
    int32_t keys[SYNTH_N_KEYS];
    for (int32_t i = 0; i < SYNTH_N_KEYS; i++)
        keys[i] = i;
    for (int32_t i = 0; i <= distractors; i++) {
        const int32_t j = i + (int32_t)below(&r, SYNTH_N_KEYS - i);
        const int32_t x = keys[i];
        keys[i] = keys[j];
        keys[j] = x;
    }
    /* The needle at depth of the body (its KEY's first slot). */
    const int64_t np = 1 + (int64_t)llround(depth * (double)(body - 2));
    s->needle_pos = np;
    s->key = SYNTH_TOK_KEY_FIRST + keys[0];
    s->expect = (int32_t)(SYNTH_TOK_VALUE_FIRST + below(&r, SYNTH_N_VALUES));
    t[np] = s->key;
    t[np + 1] = s->expect;
    /* Distractors anywhere else in the body, never touching another pair
     * (one slot of filler between pairs keeps every pair's VALUE preceded
     * by its own KEY). */
    for (int32_t d = 1; d <= distractors; d++) {
        int64_t p;
        for (;;) {
            p = 1 + below(&r, body - 1); /* KEY at p, VALUE at p + 1 <= ctx - 3 */
            bool clear = true;
            for (int64_t q = p - 1; q <= p + 2 && clear; q++)
                if (q >= 1 && q < ctx - 2 && t[q] >= SYNTH_TOK_KEY_FIRST)
                    clear = false;
            if (clear)
                break;
        }
        t[p] = SYNTH_TOK_KEY_FIRST + keys[d];
        t[p + 1] = (int32_t)(SYNTH_TOK_VALUE_FIRST + below(&r, SYNTH_N_VALUES));
    }
    t[ctx - 2] = SYNTH_TOK_QUERY;
    t[ctx - 1] = s->key;
    return KK_OK;
}

void niah_wilson(int64_t hits, int64_t n, double *lo, double *hi)
{
    const double z = 1.959963984540054; /* the 97.5% normal quantile */
    const double p = (double)hits / (double)n, z2n = z * z / (double)n;
    const double centre = (p + z2n / 2.0) / (1.0 + z2n);
    const double half = z * sqrt(p * (1.0 - p) / (double)n + z2n / (4.0 * (double)n)) / (1.0 + z2n);
    *lo = centre - half < 0.0 ? 0.0 : centre - half;
    *hi = centre + half > 1.0 ? 1.0 : centre + half;
    if (hits == 0)
        *lo = 0.0;
    if (hits == n)
        *hi = 1.0;
}

/* ---- affine noise ------------------------------------------------------------- */

void niah_affine_rtn(float *x, int64_t n, int32_t group, int32_t bits)
{
    const float levels = (float)((1u << bits) - 1u);
    for (int64_t g0 = 0; g0 < n; g0 += group) {
        const int64_t m = n - g0 < group ? n - g0 : group;
        float lo = x[g0], hi = x[g0];
        for (int64_t i = 1; i < m; i++) {
            lo = x[g0 + i] < lo ? x[g0 + i] : lo;
            hi = x[g0 + i] > hi ? x[g0 + i] : hi;
        }
        const float scale = (hi - lo) / levels;
        if (!(scale > 0.0f))
            continue; /* a constant group is exact */
        for (int64_t i = 0; i < m; i++) {
            float q = nearbyintf((x[g0 + i] - lo) / scale);
            q = q < 0.0f ? 0.0f : (q > levels ? levels : q);
            x[g0 + i] = lo + q * scale;
        }
    }
}

/* A cache that stores every row through niah_affine_rtn (groups of 32
 * along each head's dims) in front of a full cache: the kv seam's way to
 * inject quantization noise without touching the forward pass. */
#define NIAH_GROUP 32

typedef struct noisy_cache {
    kv_cache base;
    kv_cache *inner;
    int32_t bits;
    int64_t cap_rows;
    float *k, *v;   /* (cap_rows, row) scratch */
} noisy_cache;

static void noisy_rows(const noisy_cache *c, float *x, int64_t n, int32_t hd)
{
    const int64_t heads = c->base.cfg.n_kv_heads;
    for (int64_t t = 0; t < n; t++)
        for (int64_t h = 0; h < heads; h++)
            niah_affine_rtn(x + (t * heads + h) * hd, hd, NIAH_GROUP, c->bits);
}

static kk_code noisy_append(kv_cache *base, int32_t layer, const float *k, const float *v,
                            const int32_t *pos, int64_t n, kk_err *err)
{
    noisy_cache *c = (noisy_cache *)base;
    const kv_config *cfg = &base->cfg;
    const int64_t kr = (int64_t)cfg->n_kv_heads * cfg->head_dim_k;
    const int64_t vr = (int64_t)cfg->n_kv_heads * cfg->head_dim_v;
    for (int64_t t0 = 0; t0 < n; t0 += c->cap_rows) {
        const int64_t m = n - t0 < c->cap_rows ? n - t0 : c->cap_rows;
        memcpy(c->k, k + t0 * kr, (size_t)(m * kr) * sizeof(float));
        memcpy(c->v, v + t0 * vr, (size_t)(m * vr) * sizeof(float));
        noisy_rows(c, c->k, m, cfg->head_dim_k);
        noisy_rows(c, c->v, m, cfg->head_dim_v);
        kk_code rc = kv_append(c->inner, layer, c->k, c->v, pos + t0, m, err);
        if (rc != KK_OK)
            return rc;
    }
    return KK_OK;
}

static kk_code noisy_view(kv_cache *base, int32_t layer, kv_view *out, kk_err *err)
{
    return kv_view_layer(((noisy_cache *)base)->inner, layer, out, err);
}

static void noisy_truncate(kv_cache *base, int64_t n) { kv_truncate(((noisy_cache *)base)->inner, n); }

static int64_t noisy_n_tokens(const kv_cache *base)
{
    return kv_n_tokens(((const noisy_cache *)base)->inner);
}

static size_t noisy_bytes(const kv_cache *base)
{
    return kv_bytes_resident(((const noisy_cache *)base)->inner);
}

static void noisy_free(kv_cache *base)
{
    noisy_cache *c = (noisy_cache *)base;
    kv_free(c->inner);
    free(c->k);
    free(c->v);
    free(c);
}

static const kv_vtable NOISY_VT = {"niah-affine-noise", noisy_append, noisy_view, noisy_truncate,
                                   noisy_n_tokens, noisy_bytes, noisy_free};

static kk_code noisy_init(kv_cache **out, const kv_config *cfg, int32_t bits, int64_t cap_rows,
                          kk_err *err)
{
    *out = NULL;
    noisy_cache *c = calloc(1, sizeof *c);
    if (!c)
        return kk_err_set(err, KK_E_NOMEM, "niah: out of memory");
    c->base.vt = &NOISY_VT;
    c->base.cfg = *cfg;
    c->bits = bits;
    c->cap_rows = cap_rows;
    c->k = malloc((size_t)(cap_rows * cfg->n_kv_heads * cfg->head_dim_k) * sizeof(float));
    c->v = malloc((size_t)(cap_rows * cfg->n_kv_heads * cfg->head_dim_v) * sizeof(float));
    kk_code rc = (c->k && c->v) ? kv_full_init(&c->inner, cfg, err)
                                : kk_err_set(err, KK_E_NOMEM, "niah: out of memory");
    if (rc != KK_OK) {
        free(c->k);
        free(c->v);
        free(c);
        return rc;
    }
    *out = &c->base;
    return KK_OK;
}

/* ---- the runner ------------------------------------------------------------------ */

struct niah_runner {
    const model *m;
    niah_opts opts;
    codec_spec spec, spec_v; /* the copies opts.kv_codec(_v) point at */
    int64_t max_ctx;
    fwd_state *st;
    kv_cache *kv;
    float *logits;     /* (n_vocab) */
    uint8_t *hidden;   /* (max_ctx): the needle's positions while a sample runs */
};

void niah_runner_free(niah_runner *r)
{
    if (!r)
        return;
    fwd_free(r->st);
    kv_free(r->kv);
    free(r->logits);
    free(r->hidden);
    free(r);
}

/* Batch of the prefill: large enough that BLAS sees wide products, small
 * enough to bound the activations (1024 x d floats). */
#define NIAH_BATCH 1024

kk_code niah_runner_init(niah_runner **out, const model *m, int64_t max_ctx,
                         const niah_opts *opts, kk_err *err)
{
    *out = NULL;
    if (max_ctx < NIAH_MIN_CTX || max_ctx > NIAH_MAX_CTX)
        return kk_err_set(err, KK_E_RANGE, "niah: context %lld is out of range (allowed: %d..%d)",
                          (long long)max_ctx, NIAH_MIN_CTX, NIAH_MAX_CTX);
    if (m->hp.n_vocab != SYNTH_N_VOCAB)
        return kk_err_set(err, KK_E_UNSUPPORTED,
                          "niah: the model has %d tokens; the synthetic layout has %d",
                          (int)m->hp.n_vocab, SYNTH_N_VOCAB);
    if (opts->kv_bits < 0 || opts->kv_bits > 16)
        return kk_err_set(err, KK_E_RANGE, "niah: kv bits %d out of range (allowed: 0..16)",
                          (int)opts->kv_bits);
    if (opts->kv_codec_v && !opts->kv_codec)
        return kk_err_set(err, KK_E_RANGE, "niah: a V codec needs a K/V codec");
    if (opts->kv_bits > 0 && opts->kv_codec)
        return kk_err_set(err, KK_E_RANGE,
                          "niah: kv bits and a kv codec are exclusive (give one of them)");
    if (opts->mask_layers >> (m->hp.n_layers < 32 ? m->hp.n_layers : 31))
        return kk_err_set(err, KK_E_RANGE, "niah: mask layers 0x%x name a layer past %d",
                          (unsigned)opts->mask_layers, (int)m->hp.n_layers - 1);
    niah_runner *r = calloc(1, sizeof *r);
    if (!r)
        return kk_err_set(err, KK_E_NOMEM, "niah: out of memory");
    r->m = m;
    r->opts = *opts;
    if (opts->kv_codec) {
        r->spec = *opts->kv_codec;
        r->opts.kv_codec = &r->spec;
        r->spec_v = opts->kv_codec_v ? *opts->kv_codec_v : r->spec;
        r->opts.kv_codec_v = &r->spec_v;
    }
    r->max_ctx = max_ctx;
    const int64_t batch = max_ctx < NIAH_BATCH ? max_ctx : NIAH_BATCH;
    const kv_config cfg = {m->hp.n_layers, m->hp.n_kv_heads, m->hp.head_dim_k,
                           m->hp.head_dim_v, max_ctx};
    const kv_codec_opts ko = {.passthrough = opts->kv_codec_passthrough};
    kk_code rc = fwd_init(&r->st, m, batch, max_ctx, err);
    if (rc == KK_OK) {
        if (opts->kv_codec)
            rc = kv_codec_init(&r->kv, &cfg, &r->spec, &r->spec_v, &ko, err);
        else if (opts->kv_bits > 0)
            rc = noisy_init(&r->kv, &cfg, opts->kv_bits, batch, err);
        else
            rc = kv_full_init(&r->kv, &cfg, err);
    }
    if (rc != KK_OK) {
        niah_runner_free(r);
        return rc;
    }
    r->logits = malloc((size_t)m->hp.n_vocab * sizeof(float));
    r->hidden = calloc((size_t)max_ctx, 1);
    if (!r->logits || !r->hidden) {
        niah_runner_free(r);
        return kk_err_set(err, KK_E_NOMEM, "niah: out of memory");
    }
    fwd_set_ref(r->st, opts->use_ref);
    for (int32_t l = 0; l < m->hp.n_layers && l < 32; l++)
        if ((opts->mask_layers >> l) & 1u)
            fwd_set_mask(r->st, l, r->hidden, max_ctx, NULL);
    *out = r;
    return KK_OK;
}

const codec_stats *niah_runner_codec_stats(const niah_runner *r, char which)
{
    return r->opts.kv_codec ? kv_codec_get_stats(r->kv, which) : NULL;
}

kk_code niah_runner_eval(niah_runner *r, const niah_sample *s, int32_t *answer,
                         double *margin, float *logits, kk_err *err)
{
    if (s->ctx < 1 || s->ctx > r->max_ctx)
        return kk_err_set(err, KK_E_RANGE,
                          "niah: a sample of %lld tokens does not fit the runner's %lld",
                          (long long)s->ctx, (long long)r->max_ctx);
    kv_truncate(r->kv, 0);
    /* The needle's KEY and VALUE positions, hidden from the masked layers. */
    r->hidden[s->needle_pos] = 1;
    r->hidden[s->needle_pos + 1] = 1;
    kk_code rc = fwd_run(r->st, r->kv, s->tokens, NULL, s->ctx, FWD_LOGITS_LAST, r->logits,
                         NULL, err);
    r->hidden[s->needle_pos] = 0;
    r->hidden[s->needle_pos + 1] = 0;
    if (rc != KK_OK)
        return rc;
    const int32_t V = r->m->hp.n_vocab;
    int32_t best = 0;
    for (int32_t t = 1; t < V; t++)
        if (r->logits[t] > r->logits[best])
            best = t;
    float other = -INFINITY;
    for (int32_t t = 0; t < V; t++)
        if (t != s->expect && r->logits[t] > other)
            other = r->logits[t];
    *answer = best;
    *margin = (double)r->logits[s->expect] - (double)other;
    if (logits)
        memcpy(logits, r->logits, (size_t)V * sizeof(float));
    return KK_OK;
}

/* ---- a whole run ------------------------------------------------------------------- */

kk_code niah_run(const model *m, const niah_cfg *cfg, niah_cell *cells, kk_err *err)
{
    if (cfg->n_ctx < 1 || cfg->n_depths < 1 || cfg->samples < 1)
        return kk_err_set(err, KK_E_RANGE, "niah: nothing to run (contexts %d, depths %d, "
                          "samples %lld)", (int)cfg->n_ctx, (int)cfg->n_depths,
                          (long long)cfg->samples);
    int64_t max_ctx = 0;
    for (int32_t i = 0; i < cfg->n_ctx; i++)
        max_ctx = cfg->ctx[i] > max_ctx ? cfg->ctx[i] : max_ctx;
    niah_runner *r = NULL;
    kk_code rc = niah_runner_init(&r, m, max_ctx, &cfg->opts, err);
    if (rc != KK_OK)
        return rc;
    if (cfg->k_stats)
        memset(cfg->k_stats, 0, sizeof *cfg->k_stats);
    if (cfg->v_stats)
        memset(cfg->v_stats, 0, sizeof *cfg->v_stats);
    int32_t *tokens = malloc((size_t)max_ctx * sizeof(int32_t));
    if (!tokens) {
        niah_runner_free(r);
        return kk_err_set(err, KK_E_NOMEM, "niah: out of memory");
    }
    const int64_t total = (int64_t)cfg->n_ctx * cfg->n_depths * cfg->samples;
    int64_t done = 0;
    for (int32_t ci = 0; ci < cfg->n_ctx && rc == KK_OK; ci++)
        for (int32_t di = 0; di < cfg->n_depths && rc == KK_OK; di++) {
            niah_cell *cell = &cells[(int64_t)ci * cfg->n_depths + di];
            memset(cell, 0, sizeof *cell);
            cell->ctx = cfg->ctx[ci];
            cell->depth = cfg->depths[di];
            cell->min_margin = INFINITY;
            for (int64_t i = 0; i < cfg->samples && rc == KK_OK; i++) {
                niah_sample s = {tokens, cell->ctx, 0, 0, 0};
                rc = niah_sample_make(&s, cell->depth, cfg->distractors,
                                      niah_sample_seed(cfg->seed, cell->ctx, di, i), err);
                int32_t answer = -1;
                double margin = 0.0;
                if (rc == KK_OK)
                    rc = niah_runner_eval(r, &s, &answer, &margin, NULL, err);
                if (rc != KK_OK)
                    break;
                cell->n++;
                cell->hits += answer == s.expect;
                cell->min_margin = margin < cell->min_margin ? margin : cell->min_margin;
                cell->recall = (double)cell->hits / (double)cell->n;
                niah_wilson(cell->hits, cell->n, &cell->recall_ci_lo, &cell->recall_ci_hi);
                if (cfg->on_sample)
                    cfg->on_sample(cfg->on_sample_ctx, cell, ++done, total);
            }
        }
    const codec_stats *ks = niah_runner_codec_stats(r, 'k'), *vs = niah_runner_codec_stats(r, 'v');
    if (cfg->k_stats && ks)
        *cfg->k_stats = *ks;
    if (cfg->v_stats && vs)
        *cfg->v_stats = *vs;
    free(tokens);
    niah_runner_free(r);
    return rc;
}
