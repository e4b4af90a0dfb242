/* niah: see niah.h. Contents: samples, the runner, a whole run (the
 * Wilson interval is kk_wilson95, common/kk_stats.h). */
#include "niah.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "ftheta.h"
#include "kk_rand.h"
#include "kk_stats.h"
#include "kv.h"
#include "kv_codec.h"
#include "kv_composite.h"
#include "kv_restored.h"
#include "kv_noisy.h"
#include "synth.h"

/* ---- samples ------------------------------------------------------------------ */

/* Uniform in [0, n) (n small: the modulo bias is below 2^-50). */
static int64_t below(uint64_t *s, int64_t n) { return (int64_t)(kk_splitmix64(s) % (uint64_t)n); }

uint64_t niah_sample_seed(uint64_t run_seed, int64_t ctx, int32_t depth_index, int64_t index)
{
    /* Each coordinate goes through the mixer in turn: distinct tuples give
     * unrelated streams. */
    uint64_t s = run_seed;
    uint64_t h = kk_splitmix64(&s);
    s = h ^ (uint64_t)ctx;
    h = kk_splitmix64(&s);
    s = h ^ (uint64_t)(uint32_t)depth_index;
    h = kk_splitmix64(&s);
    s = h ^ (uint64_t)index;
    return kk_splitmix64(&s);
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

/* ---- the runner ------------------------------------------------------------------ */

/* The proposer's pass over a sample (ftheta, mix): its state, full cache,
 * capture and the rows gathered for f_theta. All NULL when unused. */
typedef struct nproposer {
    fwd_state *st;
    kv_cache *kv;
    float *pk, *pv;    /* (proposer layers, max_ctx, row) pre-RoPE K, V */
    float *xk, *xv;    /* (max_ctx, din) every layer's row of a position */
} nproposer;

static void proposer_free(nproposer *p)
{
    fwd_free(p->st);
    kv_free(p->kv);
    free(p->pk);
    free(p->pv);
    free(p->xk);
    free(p->xv);
    memset(p, 0, sizeof *p);
}

/* Everything for opts' proposer and maps, samples up to max_ctx; on error
 * nothing is left allocated. */
static kk_code proposer_init(nproposer *p, const niah_opts *opts, int64_t batch, int64_t max_ctx,
                             kk_err *err)
{
    memset(p, 0, sizeof *p);
    const model_hparams *ph = &opts->proposer->hp;
    const kv_config pc = {ph->n_layers, ph->n_kv_heads, ph->head_dim_k, ph->head_dim_v,
                          max_ctx, 0};
    const int64_t dk = opts->ftheta_k->din, dv = opts->ftheta_v->din;
    kk_code rc = fwd_init(&p->st, opts->proposer, batch, max_ctx, err);
    if (rc == KK_OK)
        rc = kv_full_init(&p->kv, &pc, err);
    if (rc == KK_OK) {
        p->pk = malloc((size_t)(max_ctx * dk) * sizeof(float));
        p->pv = malloc((size_t)(max_ctx * dv) * sizeof(float));
        p->xk = malloc((size_t)(max_ctx * dk) * sizeof(float));
        p->xv = malloc((size_t)(max_ctx * dv) * sizeof(float));
        if (!p->pk || !p->pv || !p->xk || !p->xv)
            rc = kk_err_set(err, KK_E_NOMEM, "niah: out of memory for the proposer's %lld "
                            "positions", (long long)max_ctx);
    }
    if (rc != KK_OK)
        proposer_free(p);
    return rc;
}


struct niah_runner {
    const model *m;
    niah_opts opts;
    codec_spec spec, spec_v; /* the copies opts.kv_codec(_v) point at */
    kv_policy policy;        /* the copy opts.policy points at */
    int64_t max_ctx;
    int64_t cap;       /* the cache's capacity (opts.cache_ctx or max_ctx) */
    fwd_state *st;
    kv_cache *kv;
    float *logits;     /* (n_vocab) */
    uint8_t *hidden;   /* (max_ctx): the needle's positions while a sample runs */
    nproposer prop;    /* ftheta, mix: the proposer's pass; zeroed otherwise */
    float *cap_k;      /* (n_layers, max_ctx, n_kv_heads * head_dim_k) with kv_error */
    float *cap_v;      /* (n_layers, max_ctx, n_kv_heads * head_dim_v) with kv_error */
};

void niah_runner_free(niah_runner *r)
{
    if (!r)
        return;
    fwd_free(r->st);
    kv_free(r->kv);
    free(r->logits);
    free(r->hidden);
    free(r->cap_k);
    free(r->cap_v);
    proposer_free(&r->prop);
    free(r);
}

static kk_code check_opts(const model *m, const niah_opts *opts, kk_err *err)
{
    if (opts->kv_bits < 0 || opts->kv_bits > 16)
        return kk_err_set(err, KK_E_RANGE, "niah: kv bits %d out of range (allowed: 0..16)",
                          (int)opts->kv_bits);
    if (opts->kv_codec_v && !opts->kv_codec)
        return kk_err_set(err, KK_E_RANGE, "niah: a V codec needs a K/V codec");
    if (opts->kv_bits > 0 && opts->kv_codec)
        return kk_err_set(err, KK_E_RANGE,
                          "niah: kv bits and a kv codec are exclusive (give one of them)");
    /* s5 takes a codec for its global layers; the rings store F32 rows */
    const bool s5 = opts->policy && opts->policy->kind == KV_POLICY_S5;
    if (opts->policy && opts->policy->kind != KV_POLICY_FULL &&
        (opts->kv_bits > 0 || (opts->kv_codec && !s5) || (opts->kv_error && !s5)))
        return kk_err_set(err, KK_E_UNSUPPORTED, "niah: a %s policy with %s is not supported "
                          "yet (its ring stores F32 rows of its own; s5 takes a kv codec for its "
                          "global layers)", s5 ? "s5" : "sinkwin",
                          opts->kv_codec ? "a kv codec" : opts->kv_bits ? "kv bits" : "kv error");
    if (opts->restore != KV_RESTORE_NONE &&
        (opts->restore < KV_RESTORE_NONE || opts->restore > KV_RESTORE_MIX || !opts->policy ||
         opts->policy->kind != KV_POLICY_SINKWIN))
        return kk_err_set(err, KK_E_RANGE, "niah: restore mode %d needs a sinkwin policy (allowed: "
                          "none, identity, ftheta, mix)", opts->restore);
    if (opts->restore == KV_RESTORE_FTHETA || opts->restore == KV_RESTORE_MIX) {
        const model *p = opts->proposer;
        if (!p || !opts->ftheta_k || !opts->ftheta_v)
            return kk_err_set(err, KK_E_MISSING, "niah: restoring through f_theta needs the "
                              "proposer and both maps");
        const int64_t dk = (int64_t)p->hp.n_layers * p->hp.n_kv_heads * p->hp.head_dim_k;
        const int64_t dv = (int64_t)p->hp.n_layers * p->hp.n_kv_heads * p->hp.head_dim_v;
        if (p->hp.n_vocab != m->hp.n_vocab || opts->ftheta_k->din != dk ||
            opts->ftheta_v->din != dv)
            return kk_err_set(err, KK_E_RANGE, "niah: the f_theta maps take %lld / %lld values "
                              "and the proposer gives %lld / %lld (vocabularies %d and %d): the "
                              "maps were fitted for another proposer",
                              (long long)opts->ftheta_k->din, (long long)opts->ftheta_v->din,
                              (long long)dk, (long long)dv, (int)p->hp.n_vocab,
                              (int)m->hp.n_vocab);
    }
    if (opts->mask_layers != NIAH_MASK_ALL &&
        opts->mask_layers >> (m->hp.n_layers < 32 ? m->hp.n_layers : 31))
        return kk_err_set(err, KK_E_RANGE, "niah: mask layers 0x%x name a layer past %d",
                          (unsigned)opts->mask_layers, (int)m->hp.n_layers - 1);
    return KK_OK;
}

kk_code niah_runner_set_opts(niah_runner *r, const niah_opts *opts, kk_err *err)
{
    const model_hparams *hp = &r->m->hp;
    KK_TRY(check_opts(r->m, opts, err));
    const int64_t batch = r->max_ctx < NIAH_BATCH ? r->max_ctx : NIAH_BATCH;
    /* A bounded cache takes one prefill chunk beyond its window (its
     * slack, kv_sinkwin.h); the others need no rollback but emptying. */
    const bool bounded = opts->policy && opts->policy->kind != KV_POLICY_FULL;
    if (opts->cache_ctx != 0 && (opts->cache_ctx < NIAH_MIN_CTX || opts->cache_ctx > r->max_ctx))
        return kk_err_set(err, KK_E_RANGE, "niah: cache capacity %lld out of range (allowed: 0 "
                          "or %d..%lld)", (long long)opts->cache_ctx, NIAH_MIN_CTX,
                          (long long)r->max_ctx);
    const int64_t cap = opts->cache_ctx > 0 ? opts->cache_ctx : r->max_ctx;
    const kv_config cfg = {hp->n_layers, hp->n_kv_heads, hp->head_dim_k, hp->head_dim_v,
                           cap, bounded ? batch - 1 : 0};
    codec_spec spec = {0}, spec_v = {0};
    if (opts->kv_codec) {
        spec = *opts->kv_codec;
        spec_v = opts->kv_codec_v ? *opts->kv_codec_v : spec;
    }
    /* The new cache first: on failure nothing of the runner has changed. */
    kv_cache *kv = NULL;
    const kv_codec_opts ko = {.passthrough = opts->kv_codec_passthrough,
                              .corrupt = opts->kv_codec_corrupt};
    int32_t lw[NIAH_PROBE_LAYERS * 8];
    if (hp->n_layers > (int32_t)(sizeof lw / sizeof lw[0]))
        return kk_err_set(err, KK_E_RANGE, "niah: %d layers; at most %d", (int)hp->n_layers,
                          (int)(sizeof lw / sizeof lw[0]));
    for (int32_t l = 0; l < hp->n_layers; l++)
        lw[l] = r->m->layers[l].sliding_window;
    if (opts->kv_codec && opts->policy && opts->policy->kind == KV_POLICY_S5) {
        /* quantized global layers under s5: the codec cache serves the
         * global layers, rings the sliding ones */
        kv_config g = cfg;
        g.n_layers = kv_policy_n_global(lw, hp->n_layers);
        /* a codec cache's slack is capped by its capacity (kv_codec.h) */
        g.max_rollback = g.max_rollback < cap ? g.max_rollback : cap;
        kv_cache *global = NULL;
        if (g.n_layers < 1)
            return kk_err_set(err, KK_E_RANGE, "niah: policy s5 with a kv codec needs a global "
                              "layer; every layer of this model slides");
        KK_TRY(kv_codec_init(&global, &g, &spec, &spec_v, &ko, err));
        KK_TRY(kv_policy_make_s5(&cfg, lw, global, &kv, err));
    } else if (opts->kv_codec)
        KK_TRY(kv_codec_init(&kv, &cfg, &spec, &spec_v, &ko, err));
    else if (opts->kv_bits > 0)
        KK_TRY(kv_noisy_init(&kv, &cfg, opts->kv_bits, batch, err));
    else if (bounded && opts->restore != KV_RESTORE_NONE) {
        const kv_restore_ftheta ft = {.k = opts->ftheta_k, .v = opts->ftheta_v,
                                      .n_rot = hp->n_rot, .rope_base = hp->rope_base,
                                      .rope_neox = hp->rope_neox, .alpha = opts->alpha};
        KK_TRY(kv_restored_init(&kv, &cfg, opts->policy->n_sink, opts->policy->window,
                                (kv_restore_mode)opts->restore,
                                opts->restore == KV_RESTORE_IDENTITY ? NULL : &ft, err));
    }
    else
        KK_TRY(kv_policy_make(opts->policy, &cfg, lw, &kv, err));
    float *cap_k = NULL, *cap_v = NULL;
    if (opts->kv_error) {
        const size_t rows = (size_t)hp->n_layers * (size_t)r->max_ctx * (size_t)hp->n_kv_heads;
        cap_k = malloc(rows * (size_t)hp->head_dim_k * sizeof(float));
        cap_v = malloc(rows * (size_t)hp->head_dim_v * sizeof(float));
        if (!cap_k || !cap_v) {
            free(cap_k);
            free(cap_v);
            kv_free(kv);
            return kk_err_set(err, KK_E_NOMEM, "niah: out of memory for the K/V capture of %lld "
                              "tokens", (long long)r->max_ctx);
        }
    }
    /* the proposer's pass (ftheta, mix): state, full cache, capture */
    nproposer prop;
    memset(&prop, 0, sizeof prop);
    if (opts->restore == KV_RESTORE_FTHETA || opts->restore == KV_RESTORE_MIX) {
        const kk_code prc = proposer_init(&prop, opts, batch, r->max_ctx, err);
        if (prc != KK_OK) {
            free(cap_k);
            free(cap_v);
            kv_free(kv);
            return prc;
        }
    }
    for (int32_t l = 0; l < hp->n_layers; l++) {
        const bool on = opts->mask_layers == NIAH_MASK_ALL ||
                        (l < 32 && ((opts->mask_layers >> l) & 1u));
        if (fwd_set_mask(r->st, l, on ? r->hidden : NULL, on ? r->max_ctx : 0, err) != KK_OK) {
            free(cap_k);
            free(cap_v);
            kv_free(kv);
            proposer_free(&prop);
            return err ? err->code : KK_E_RANGE;
        }
    }
    proposer_free(&r->prop);
    r->prop = prop;
    kv_free(r->kv);
    free(r->cap_k);
    free(r->cap_v);
    r->kv = kv;
    r->cap = cap;
    r->cap_k = cap_k;
    r->cap_v = cap_v;
    r->opts = *opts;
    r->spec = spec;
    r->spec_v = spec_v;
    if (opts->kv_codec) {
        r->opts.kv_codec = &r->spec;
        r->opts.kv_codec_v = &r->spec_v;
    }
    r->policy = opts->policy ? *opts->policy : (kv_policy){.kind = KV_POLICY_FULL};
    r->opts.policy = &r->policy;
    fwd_set_ref(r->st, opts->use_ref);
    return KK_OK;
fail:
    return err ? err->code : KK_E_INTERNAL;
}

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
    KK_TRY(check_opts(m, opts, err));
    niah_runner *r = calloc(1, sizeof *r);
    if (!r)
        return kk_err_set(err, KK_E_NOMEM, "niah: out of memory");
    r->m = m;
    r->max_ctx = max_ctx;
    const int64_t batch = max_ctx < NIAH_BATCH ? max_ctx : NIAH_BATCH;
    kk_code rc = fwd_init(&r->st, m, batch, max_ctx, err);
    if (rc == KK_OK) {
        r->logits = malloc((size_t)m->hp.n_vocab * sizeof(float));
        r->hidden = calloc((size_t)max_ctx, 1);
        if (!r->logits || !r->hidden)
            rc = kk_err_set(err, KK_E_NOMEM, "niah: out of memory");
    }
    if (rc == KK_OK)
        rc = niah_runner_set_opts(r, opts, err);
    if (rc != KK_OK) {
        niah_runner_free(r);
        return rc;
    }
    *out = r;
    return KK_OK;
fail:
    return err ? err->code : KK_E_INTERNAL;
}

const codec_stats *niah_runner_codec_stats(const niah_runner *r, char which)
{
    if (!r->opts.kv_codec)
        return NULL;
    /* under s5 the codec cache is the composite's part 0 (the global layers) */
    const kv_cache *c = kv_composite_n_parts(r->kv) > 0 ? kv_composite_part(r->kv, 0) : r->kv;
    return kv_codec_get_stats(c, which);
}

/* The counters of a codec cache that grew while one sample ran. */
static void stats_delta(codec_stats *d, const codec_stats *after, const codec_stats *before)
{
    d->values_encoded = after->values_encoded - before->values_encoded;
    d->values_decoded = after->values_decoded - before->values_decoded;
    for (int i = 0; i < 16; i++)
        d->blocks_by_scale[i] = after->blocks_by_scale[i] - before->blocks_by_scale[i];
    d->blocks_overloaded = after->blocks_overloaded - before->blocks_overloaded;
    d->norm_escapes = after->norm_escapes - before->norm_escapes;
    d->bytes_encoded = after->bytes_encoded - before->bytes_encoded;
    d->symbols_escaped = after->symbols_escaped - before->symbols_escaped;
}

/* d += a (a run's totals from its samples' counters). */
static void stats_add(codec_stats *d, const codec_stats *a)
{
    d->values_encoded += a->values_encoded;
    d->values_decoded += a->values_decoded;
    for (int i = 0; i < 16; i++)
        d->blocks_by_scale[i] += a->blocks_by_scale[i];
    d->blocks_overloaded += a->blocks_overloaded;
    d->norm_escapes += a->norm_escapes;
    d->bytes_encoded += a->bytes_encoded;
    d->symbols_escaped += a->symbols_escaped;
}

/* Squared error of the rows the cache hands back against the captured
 * exact ones, for the n positions of the sample. */
static kk_code kv_error_sums(niah_runner *r, int64_t n, niah_result *res, kk_err *err)
{
    const model_hparams *hp = &r->m->hp;
    const size_t rk = (size_t)hp->n_kv_heads * (size_t)hp->head_dim_k;
    const size_t rv = (size_t)hp->n_kv_heads * (size_t)hp->head_dim_v;
    res->k_err = res->k_ref = res->v_err = res->v_ref = 0.0;
    for (int32_t l = 0; l < hp->n_layers; l++) {
        kv_view v;
        KK_TRY(kv_view_layer(r->kv, l, &v, err));
        if (!v.k || !v.v)
            return kk_err_set(err, KK_E_UNSUPPORTED, "niah: the K/V error needs F32 views");
        for (int64_t e = 0; e < v.n; e++) {
            const int64_t pos = v.pos[e];
            if (pos < 0 || pos >= n)
                continue;
            /* The capture is (n_layers, n, row) for this run's n tokens. */
            const float *ck = r->cap_k + ((size_t)l * (size_t)n + (size_t)pos) * rk;
            const float *cv = r->cap_v + ((size_t)l * (size_t)n + (size_t)pos) * rv;
            for (size_t i = 0; i < rk; i++) {
                const double d = (double)v.k[e * v.k_stride + (int64_t)i] - ck[i];
                res->k_err += d * d;
                res->k_ref += (double)ck[i] * ck[i];
            }
            for (size_t i = 0; i < rv; i++) {
                const double d = (double)v.v[e * v.v_stride + (int64_t)i] - cv[i];
                res->v_err += d * d;
                res->v_ref += (double)cv[i] * cv[i];
            }
        }
    }
    res->has_kv_err = true;
    return KK_OK;
fail:
    return err ? err->code : KK_E_INTERNAL;
}

kk_code niah_runner_eval(niah_runner *r, const niah_sample *s, niah_result *res,
                         float *logits, kk_err *err)
{
    memset(res, 0, sizeof *res);
    if (s->ctx < 1 || s->ctx > r->cap)
        return kk_err_set(err, KK_E_RANGE,
                          "niah: a sample of %lld tokens does not fit the runner's cache of %lld",
                          (long long)s->ctx, (long long)r->cap);
    kk_code rc0 = kv_truncate(r->kv, 0, err); /* emptying always works (kv.h) */
    if (rc0 != KK_OK)
        return rc0;
    codec_stats k0 = {0}, v0 = {0};
    const codec_stats *ks = niah_runner_codec_stats(r, 'k'), *vs = niah_runner_codec_stats(r, 'v');
    if (ks)
        k0 = *ks;
    if (vs)
        v0 = *vs;
    /* ftheta, mix: the proposer over the sample first, its rows stored in
     * the cache for the positions the verifier will evict */
    if (r->prop.st) {
        const model_hparams *ph = &r->opts.proposer->hp;
        const double tp = kk_now_s();
        nproposer *pp = &r->prop;
        const fwd_capture pcap = {.k_pre = pp->pk, .v = pp->pv};
        KK_TRY(kv_truncate(pp->kv, 0, err));
        KK_TRY(fwd_run(pp->st, pp->kv, s->tokens, NULL, s->ctx, FWD_LOGITS_NONE, NULL, &pcap,
                       err));
        fwd_capture_rows(pp->pk, ph->n_layers, s->ctx,
                         (int64_t)ph->n_kv_heads * ph->head_dim_k, pp->xk);
        fwd_capture_rows(pp->pv, ph->n_layers, s->ctx,
                         (int64_t)ph->n_kv_heads * ph->head_dim_v, pp->xv);
        KK_TRY(kv_restored_put_proposer(r->kv, 0, pp->xk, pp->xv, s->ctx, err));
        res->proposer_s = kk_now_s() - tp;
    }
    /* The needle's KEY and VALUE positions, hidden from the masked layers. */
    r->hidden[s->needle_pos] = 1;
    r->hidden[s->needle_pos + 1] = 1;
    const uint64_t restored0 = kv_restored_positions(r->kv);
    const double ft0 = kv_restored_ftheta_s(r->kv);
    const int32_t L = r->m->hp.n_layers;
    const int32_t watch[2] = {(int32_t)s->needle_pos, (int32_t)s->needle_pos + 1};
    uint8_t exact[NIAH_PROBE_LAYERS] = {0};
    const fwd_probe probe = {.watch = watch, .n_watch = 2, .mass_restored = res->mass_restored,
                             .mass_watch = res->mass_needle, .watch_exact = exact};
    if (L <= NIAH_PROBE_LAYERS) {
        res->n_probe = L;
        fwd_set_probe(r->st, &probe);
    }
    const fwd_capture cap = {.k_post = r->cap_k, .v = r->cap_v};
    const double t0 = kk_now_s();
    kk_code rc = fwd_run(r->st, r->kv, s->tokens, NULL, s->ctx, FWD_LOGITS_LAST, r->logits,
                         r->opts.kv_error ? &cap : NULL, err);
    res->prefill_s = kk_now_s() - t0;
    fwd_set_probe(r->st, NULL);
    for (int32_t l = 0; l < res->n_probe; l++)
        res->needle_exact_layers |= (uint32_t)(exact[l] != 0) << l;
    res->positions_restored = kv_restored_positions(r->kv) - restored0;
    res->ftheta_s = kv_restored_ftheta_s(r->kv) - ft0;
    if (rc == KK_OK && r->opts.restore != KV_RESTORE_NONE) {
        res->has_restore_err = true;
        for (int32_t l = 0; l < r->m->hp.n_layers && rc == KK_OK; l++) {
            double ek, rk, ev, rv;
            int64_t np;
            rc = kv_restored_error(r->kv, l, &ek, &rk, &ev, &rv, &np, err);
            if (l < NIAH_PROBE_LAYERS) {
                res->rest_layer[l][0] = ek;
                res->rest_layer[l][1] = rk;
                res->rest_layer[l][2] = ev;
                res->rest_layer[l][3] = rv;
            }
            res->rest_ek += ek;
            res->rest_rk += rk;
            res->rest_ev += ev;
            res->rest_rv += rv;
        }
    }
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
    res->answer = best;
    res->margin = (double)r->logits[s->expect] - (double)other;
    res->kv_bytes = kv_bytes_resident(r->kv);
    res->kv_bytes_sliding = kv_policy_bytes_sliding(&r->policy, r->kv);
    if (r->opts.restore != KV_RESTORE_NONE) {
        res->kv_bytes_proposer = kv_restored_bytes_proposer(r->kv) +
                                 (r->prop.kv ? kv_bytes_resident(r->prop.kv) : 0);
        res->kv_bytes_scratch = kv_restored_bytes_scratch(r->kv);
        res->kv_bytes_store = kv_restored_bytes_store(r->kv);
    }
    if (ks && vs) {
        res->has_codec = true;
        stats_delta(&res->k_stats, ks, &k0);
        stats_delta(&res->v_stats, vs, &v0);
    }
    if (r->opts.kv_error)
        KK_TRY(kv_error_sums(r, s->ctx, res, err));
    if (logits)
        memcpy(logits, r->logits, (size_t)V * sizeof(float));
    return KK_OK;
fail:
    return err ? err->code : KK_E_INTERNAL;
}

/* ---- a whole run ------------------------------------------------------------------- */

void niah_restore_figs_add(niah_restore_figs *f, const niah_result *r, int64_t ctx)
{
    f->n_layers = r->n_probe;
    if (ctx > f->bytes_ctx) {
        f->bytes_ctx = ctx;
        f->kv_bytes = r->kv_bytes;
        f->kv_bytes_sliding = r->kv_bytes_sliding;
    }
    f->samples++;
    f->samples_exact += r->needle_exact_layers != 0;
    f->positions += r->positions_restored;
    double mx = 0.0, nx = 0.0;
    for (int32_t l = 0; l < r->n_probe; l++) {
        for (int j = 0; j < 4; j++)
            f->layer[l][j] += r->rest_layer[l][j];
        f->mass[l] += r->mass_restored[l];
        f->needle[l] += r->mass_needle[l];
        mx = r->mass_restored[l] > mx ? r->mass_restored[l] : mx;
        nx = r->mass_needle[l] > nx ? r->mass_needle[l] : nx;
    }
    f->mass_max += mx;
    f->needle_max += nx;
}

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
    if (cfg->restore_sums)
        memset(cfg->restore_sums, 0, 4 * sizeof *cfg->restore_sums);
    if (cfg->restore_figs)
        memset(cfg->restore_figs, 0, sizeof *cfg->restore_figs);
    int32_t *tokens = malloc((size_t)max_ctx * sizeof(int32_t));
    int64_t cur_ctx = 0;
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
            /* the cache sized to this context (niah_opts.cache_ctx): its
             * bytes are what a run at this context allocates */
            if (cell->ctx != cur_ctx) {
                niah_opts o = cfg->opts;
                o.cache_ctx = cell->ctx;
                rc = niah_runner_set_opts(r, &o, err);
                if (rc != KK_OK)
                    break;
                cur_ctx = cell->ctx;
            }
            for (int64_t i = 0; i < cfg->samples && rc == KK_OK; i++) {
                niah_sample s = {tokens, cell->ctx, 0, 0, 0};
                rc = niah_sample_make(&s, cell->depth, cfg->distractors,
                                      niah_sample_seed(cfg->seed, cell->ctx, di, i), err);
                niah_result res;
                if (rc == KK_OK)
                    rc = niah_runner_eval(r, &s, &res, NULL, err);
                if (rc != KK_OK)
                    break;
                cell->n++;
                cell->hits += res.answer == s.expect;
                cell->min_margin = res.margin < cell->min_margin ? res.margin : cell->min_margin;
                cell->recall = (double)cell->hits / (double)cell->n;
                if (cfg->restore_sums && res.has_restore_err) {
                    cfg->restore_sums[0] += res.rest_ek;
                    cfg->restore_sums[1] += res.rest_rk;
                    cfg->restore_sums[2] += res.rest_ev;
                    cfg->restore_sums[3] += res.rest_rv;
                }
                if (cfg->restore_figs)
                    niah_restore_figs_add(cfg->restore_figs, &res, cell->ctx);
                /* totals from the samples: the cache is re-made per context */
                if (cfg->k_stats && res.has_codec)
                    stats_add(cfg->k_stats, &res.k_stats);
                if (cfg->v_stats && res.has_codec)
                    stats_add(cfg->v_stats, &res.v_stats);
                kk_wilson95((double)cell->hits, (double)cell->n, &cell->recall_ci_lo, &cell->recall_ci_hi);
                if (cfg->on_sample)
                    cfg->on_sample(cfg->on_sample_ctx, cell, ++done, total);
            }
        }
    if (cfg->restore_figs && cfg->restore_figs->bytes_ctx > 0) {
        const model_hparams *hp = &m->hp;
        const kv_config fc = {hp->n_layers, hp->n_kv_heads, hp->head_dim_k, hp->head_dim_v,
                              cfg->restore_figs->bytes_ctx, 0};
        cfg->restore_figs->kv_bytes_full = kv_full_bytes(&fc);
    }
    free(tokens);
    niah_runner_free(r);
    return rc;
}
