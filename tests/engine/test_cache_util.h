/* test_cache_util: every KV cache type the engine has, by name, for the
 * parity tests (test_batch_invariant: batch logits equal decode steps';
 * test_spec: speculative output equals greedy's). Include after cmocka.h.
 *
 * One entry per distinct cache code path: the full caches (F32, F16), the
 * bounded sink + window ring (with and without sinks), the restored cache
 * in its four modes, the noisy cache, composites, and codec caches: ggml
 * blocks, affine rows, KIVI (affine axis=token: a unit spans 32 token
 * rows), the lattices (D4, E8 rotated), lloyd and turbo, KakeyaLattice,
 * and e8ans (variable rate, a stream per row). Every cache is made with
 * max_rollback TKV_SLACK, so a block of 16 drafted tokens appends and rolls
 * back exactly; bounded windows are small, so the rings wrap within a few
 * dozen tokens.
 *
 * The restored cache in ftheta and mix modes needs the proposer's rows of
 * a position before the verifier appends it: tkv_make wraps it in a cache
 * that, on each layer-0 append, puts the appended K and V rows themselves
 * as the "proposer's" (a stand-in proposer reading the verifier, so its
 * rows follow the tokens through rollbacks), through hand-made f_theta
 * maps of rank TKV_FT_RANK that the wrapper owns. Rank 16: from there on
 * OpenBLAS's sgemm sums a batch of rows otherwise than one row (at rank 4
 * it did not), which a restored row's bytes must not depend on.
 *
 * tkv_unsplit wraps a cache and hides its kv_invariant_rows, to show what
 * the forward pass's split does. */
#ifndef KK_TEST_CACHE_UTIL_H
#define KK_TEST_CACHE_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "ftheta.h"
#include "kk_rand.h"
#include "kv.h"
#include "kv_codec.h"
#include "kv_composite.h"
#include "kv_noisy.h"
#include "kv_restored.h"
#include "kv_sinkwin.h"

enum { TKV_SLACK = 16, TKV_FT_RANK = 16 };

typedef enum tkv_type {
    TKV_FULL,
    TKV_F16,
    TKV_SINKWIN,
    TKV_RESTORED,
    TKV_NOISY,
    TKV_CODEC,
    TKV_COMPOSITE, /* layer 0 full F16; the others a sinkwin (k_codec NULL) or a codec */
} tkv_type;

typedef struct tkv_kind {
    const char *name;
    tkv_type type;
    int32_t n_sink, window;  /* sinkwin, restored, composite's sinkwin */
    kv_restore_mode mode;    /* restored */
    const char *k_codec, *v_codec;
    /* kv_invariant_rows splits calls: a row's stored or shown form depends
     * on rows appended after it (KIVI units; restoration past the newest
     * row's window) */
    bool split;
} tkv_kind;

static const tkv_kind TKV_KINDS[] = {
    {"full", TKV_FULL, 0, 0, 0, NULL, NULL, false},
    {"f16", TKV_F16, 0, 0, 0, NULL, NULL, false},
    {"sinkwin:sink=4,window=20", TKV_SINKWIN, 4, 20, 0, NULL, NULL, false},
    {"sinkwin:sink=0,window=9", TKV_SINKWIN, 0, 9, 0, NULL, NULL, false},
    {"restored:none", TKV_RESTORED, 4, 20, KV_RESTORE_NONE, NULL, NULL, false},
    {"restored:identity", TKV_RESTORED, 4, 20, KV_RESTORE_IDENTITY, NULL, NULL, false},
    {"restored:ftheta", TKV_RESTORED, 4, 20, KV_RESTORE_FTHETA, NULL, NULL, true},
    {"restored:mix:0.5", TKV_RESTORED, 2, 12, KV_RESTORE_MIX, NULL, NULL, true},
    {"noisy:bits=4", TKV_NOISY, 0, 0, 0, NULL, NULL, false},
    {"composite:f16+sinkwin", TKV_COMPOSITE, 2, 11, 0, NULL, NULL, false},
    {"composite:f16+kivi", TKV_COMPOSITE, 0, 0, 0, "affine:bits=2,axis=token,group=32",
     "affine:bits=2,group=32", true},
    {"codec:q8_0", TKV_CODEC, 0, 0, 0, "q8_0", "q8_0", false},
    {"codec:q4_0/f16", TKV_CODEC, 0, 0, 0, "q4_0", "f16", false},
    {"codec:affine:bits=4,group=32", TKV_CODEC, 0, 0, 0, "affine:bits=4,group=32",
     "affine:bits=4,group=32", false},
    {"codec:kivi (K axis=token, V row)", TKV_CODEC, 0, 0, 0, "affine:bits=2,axis=token,group=32",
     "affine:bits=2,group=32", true},
    {"codec:axis=token K and V", TKV_CODEC, 0, 0, 0, "affine:bits=4,axis=token,group=32",
     "affine:bits=3,axis=token,group=64", true},
    {"codec:d4/e8 rotated", TKV_CODEC, 0, 0, 0, "d4:bits=3", "e8:bits=4,rotate=hadamard", false},
    {"codec:lloyd/turbo", TKV_CODEC, 0, 0, 0, "lloyd:bits=3,group=64", "turbo:bits=2", false},
    {"codec:kl_e8/kl_d4", TKV_CODEC, 0, 0, 0, "kl_e8:q=10", "kl_d4:q=6", false},
    {"codec:e8ans", TKV_CODEC, 0, 0, 0, "e8ans:bits=4", "e8ans:bits=3", false},
};
enum { TKV_N_KINDS = sizeof TKV_KINDS / sizeof TKV_KINDS[0] };

static inline codec_spec tkv_spec(const char *s)
{
    codec_spec c;
    kk_err e;
    kk_err_clear(&e);
    if (codec_spec_parse(s, &c, &e) != KK_OK)
        fail_msg("%s: %s", s, e.msg);
    return c;
}

/* ---- the restored cache fed with proposer rows --------------------------- */

typedef struct tkv_fed {
    kv_cache base;
    kv_cache *inner;  /* the kv_restored cache */
    ftheta *fk, *fv;  /* its maps, owned here (they must outlive it) */
} tkv_fed;

static kk_code tkv_fed_append(kv_cache *c, int32_t layer, const float *k, const float *v,
                             const int32_t *pos, int64_t n, kk_err *err)
{
    tkv_fed *f = (tkv_fed *)c;
    /* layer 0 comes first in a pass: every layer holds the same rows then */
    if (layer == 0) {
        const kk_code rc = kv_restored_put_proposer(f->inner, kv_n_tokens(f->inner), k, v, n, err);
        if (rc != KK_OK)
            return rc;
    }
    return kv_append(f->inner, layer, k, v, pos, n, err);
}

static kk_code tkv_fed_view(kv_cache *c, int32_t layer, kv_view *out, kk_err *err)
{
    return kv_view_layer(((tkv_fed *)c)->inner, layer, out, err);
}

static kk_code tkv_fed_truncate(kv_cache *c, int64_t n, bool check_only, kk_err *err)
{
    kv_cache *in = ((tkv_fed *)c)->inner;
    return check_only ? kv_truncate_check(in, n, err) : kv_truncate(in, n, err);
}

static int64_t tkv_fed_n_tokens(const kv_cache *c)
{
    return kv_n_tokens(((const tkv_fed *)c)->inner);
}

static size_t tkv_fed_bytes(const kv_cache *c)
{
    return kv_bytes_resident(((const tkv_fed *)c)->inner);
}

static int64_t tkv_fed_invariant_rows(const kv_cache *c, int64_t n)
{
    return kv_invariant_rows(((const tkv_fed *)c)->inner, n);
}

static void tkv_fed_free(kv_cache *c)
{
    tkv_fed *f = (tkv_fed *)c;
    kv_free(f->inner);
    ftheta_free(f->fk);
    ftheta_free(f->fv);
    free(f);
}

static const kv_vtable TKV_FED_VT = {
    .name = "fed-restored",
    .append = tkv_fed_append,
    .view = tkv_fed_view,
    .truncate = tkv_fed_truncate,
    .n_tokens = tkv_fed_n_tokens,
    .bytes_resident = tkv_fed_bytes,
    .free = tkv_fed_free,
    .invariant_rows = tkv_fed_invariant_rows,
};

/* uniform in [-1, 1) */
static inline float tkv_uniform(uint64_t *s)
{
    return (float)((double)(kk_splitmix64(s) >> 11) * 0x1p-52 - 1.0);
}

/* A rank-TKV_FT_RANK map from din to dout values, seeded: y = (x E) D, mean
 * 0, entries scaled so y has about x's magnitude. */
static inline ftheta *tkv_ftheta(int64_t din, int64_t dout, uint64_t seed)
{
    ftheta *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->din = din;
    f->dout = dout;
    f->rank = TKV_FT_RANK;
    f->mu_x = calloc((size_t)din, sizeof(float));
    f->mu_y = calloc((size_t)dout, sizeof(float));
    f->enc = malloc((size_t)(din * TKV_FT_RANK) * sizeof(float));
    f->dec = malloc((size_t)(TKV_FT_RANK * dout) * sizeof(float));
    assert_true(f->mu_x && f->mu_y && f->enc && f->dec);
    uint64_t s = seed;
    /* uniform in [-1, 1) x sqrt(3 / fan_in): unit variance through each factor */
    for (int64_t i = 0; i < din * TKV_FT_RANK; i++)
        f->enc[i] = tkv_uniform(&s) * sqrtf(3.0f / (float)din);
    for (int64_t i = 0; i < TKV_FT_RANK * dout; i++)
        f->dec[i] = tkv_uniform(&s) * sqrtf(3.0f / (float)TKV_FT_RANK);
    return f;
}

/* ---- a cache that hides kv_invariant_rows -------------------------------- */

/* For showing what the split does: everything forwarded to the inner
 * cache but kv_invariant_rows (so a batch-invariant call is one call). */
typedef struct tkv_unsplit_cache {
    kv_cache base;
    kv_cache *inner;
} tkv_unsplit_cache;

static kk_code tkv_us_append(kv_cache *c, int32_t layer, const float *k, const float *v,
                            const int32_t *pos, int64_t n, kk_err *err)
{
    return kv_append(((tkv_unsplit_cache *)c)->inner, layer, k, v, pos, n, err);
}

static kk_code tkv_us_view(kv_cache *c, int32_t layer, kv_view *out, kk_err *err)
{
    return kv_view_layer(((tkv_unsplit_cache *)c)->inner, layer, out, err);
}

static kk_code tkv_us_truncate(kv_cache *c, int64_t n, bool check_only, kk_err *err)
{
    kv_cache *in = ((tkv_unsplit_cache *)c)->inner;
    return check_only ? kv_truncate_check(in, n, err) : kv_truncate(in, n, err);
}

static int64_t tkv_us_n_tokens(const kv_cache *c)
{
    return kv_n_tokens(((const tkv_unsplit_cache *)c)->inner);
}

static size_t tkv_us_bytes(const kv_cache *c)
{
    return kv_bytes_resident(((const tkv_unsplit_cache *)c)->inner);
}

static void tkv_us_free(kv_cache *c)
{
    kv_free(((tkv_unsplit_cache *)c)->inner);
    free(c);
}

static const kv_vtable TKV_UNSPLIT_VT = {
    .name = "unsplit",
    .append = tkv_us_append,
    .view = tkv_us_view,
    .truncate = tkv_us_truncate,
    .n_tokens = tkv_us_n_tokens,
    .bytes_resident = tkv_us_bytes,
    .free = tkv_us_free,
};

/* Takes inner. */
static inline kv_cache *tkv_unsplit(kv_cache *inner)
{
    tkv_unsplit_cache *u = calloc(1, sizeof *u);
    assert_non_null(u);
    u->base.vt = &TKV_UNSPLIT_VT;
    u->base.cfg = inner->cfg;
    u->inner = inner;
    return &u->base;
}

/* ---- making one --------------------------------------------------------- */

static inline kv_cache *tkv_make_codec(const kv_config *cfg, const char *k, const char *v)
{
    const codec_spec ks = tkv_spec(k), vs = tkv_spec(v);
    kv_cache *c = NULL;
    kk_err e;
    kk_err_clear(&e);
    if (kv_codec_init(&c, cfg, &ks, &vs, NULL, &e) != KK_OK)
        fail_msg("codec cache %s / %s: %s", k, v, e.msg);
    return c;
}

/* A cache of kind t for a model's layout, capacity n_ctx tokens. */
static inline kv_cache *tkv_make(const tkv_kind *t, int32_t n_layers, int32_t n_kv_heads,
                                int32_t head_dim, int64_t n_ctx)
{
    const kv_config cfg = {n_layers, n_kv_heads, head_dim, head_dim, n_ctx, TKV_SLACK};
    kv_cache *c = NULL;
    kk_err e;
    kk_err_clear(&e);
    kk_code rc = KK_OK;
    switch (t->type) {
    case TKV_FULL:
        rc = kv_full_init(&c, &cfg, &e);
        break;
    case TKV_F16:
        rc = kv_full_f16_init(&c, &cfg, &e);
        break;
    case TKV_SINKWIN:
        rc = kv_sinkwin_init(&c, &cfg, t->n_sink, t->window, &e);
        break;
    case TKV_NOISY:
        rc = kv_noisy_init(&c, &cfg, 4, 8, &e);
        break;
    case TKV_CODEC:
        return tkv_make_codec(&cfg, t->k_codec, t->v_codec);
    case TKV_COMPOSITE: {
        kv_config one = cfg, rest = cfg;
        one.n_layers = 1;
        rest.n_layers = n_layers - 1;
        kv_cache *parts[2] = {NULL, NULL};
        assert_int_equal(kv_full_f16_init(&parts[0], &one, &e), KK_OK);
        if (t->k_codec)
            parts[1] = tkv_make_codec(&rest, t->k_codec, t->v_codec);
        else
            assert_int_equal(kv_sinkwin_init(&parts[1], &rest, t->n_sink, t->window, &e), KK_OK);
        int32_t part_of[16];
        for (int32_t l = 0; l < n_layers && l < 16; l++)
            part_of[l] = l > 0;
        rc = kv_composite_init(&c, &cfg, parts, 2, part_of, &e);
        break;
    }
    case TKV_RESTORED:
        if (t->mode == KV_RESTORE_NONE || t->mode == KV_RESTORE_IDENTITY) {
            rc = kv_restored_init(&c, &cfg, t->n_sink, t->window, t->mode, NULL, &e);
        } else {
            tkv_fed *f = calloc(1, sizeof *f);
            assert_non_null(f);
            f->base.vt = &TKV_FED_VT;
            f->base.cfg = cfg;
            const int64_t row = (int64_t)n_kv_heads * head_dim;
            f->fk = tkv_ftheta(row, n_layers * row, 7);
            f->fv = tkv_ftheta(row, n_layers * row, 8);
            const kv_restore_ftheta ft = {f->fk, f->fv, head_dim, 10000.0f, true, 0.5};
            rc = kv_restored_init(&f->inner, &cfg, t->n_sink, t->window, t->mode, &ft, &e);
            if (rc != KK_OK)
                tkv_fed_free(&f->base);
            else
                c = &f->base;
        }
        break;
    }
    if (rc != KK_OK)
        fail_msg("cache %s: %s", t->name, e.msg);
    return c;
}

#endif /* KK_TEST_CACHE_UTIL_H */
