/* session: see session.h. */
#include "session.h"

#include "kv_codec.h"

#include <stdlib.h>
#include <string.h>

#include "cli_bounds.h"
#include "kk_args.h"
#include "ops.h"

kk_code session_open(session *s, const char *path, bool need_tok, kk_err *err)
{
    memset(s, 0, sizeof *s);
    /* Every command opens its model with -m, but for `codec eval`'s data
     * source, which names its own flag. */
    if (!path || !path[0]) {
        kk_err_set(err, KK_E_RANGE, "the model path is empty (allowed: a GGUF file)");
        return kk_err_where(err, "-m");
    }
    kk_code rc = gguf_open(&s->file, path, err);
    if (rc != KK_OK)
        goto fail;
    rc = model_load(&s->m, s->file, err);
    if (rc != KK_OK)
        goto fail;
    if (need_tok) {
        rc = tok_init_from_gguf(&s->t, s->file, err);
        if (rc != KK_OK)
            goto fail;
    }
    return KK_OK;
fail:
    if (err && !err->file[0])
        kk_err_file(err, path);
    session_close(s);
    return rc;
}

void session_close(session *s)
{
    tok_free(s->t);
    model_free(s->m);
    gguf_close(s->file);
    memset(s, 0, sizeof *s);
}

/* Prefill batch: bounds the activations at 512 x the widest row (the FFN:
 * 512 x n_ff floats) while BLAS still sees matrices wide enough to be fast. */
#define SESSION_MAX_BATCH 512
/* Rows of slack a policy's rings keep (kv_config.max_rollback): prefill
 * chunks of 64 rows. */
#define SESSION_POLICY_SLACK 63

kk_code session_cache_init(const session *s, int64_t n_ctx, kv_cache **kv,
                           fwd_state **st, kk_err *err)
{
    const model_hparams *hp = &s->m->hp;
    /* no rollback drops more than the cache can hold */
    /* A ring (sinkwin, s5's sliding layers) takes at most max_rollback + 1
     * rows per append: a policy's cache keeps SESSION_POLICY_SLACK rows of
     * slack and the forward pass runs batches of that many + 1 */
    int64_t rb = s->kv_max_rollback;
    if (s->has_policy && rb < SESSION_POLICY_SLACK)
        rb = SESSION_POLICY_SLACK;
    const kv_config cfg = {hp->n_layers, hp->n_kv_heads, hp->head_dim_k, hp->head_dim_v,
                           n_ctx, rb < n_ctx ? rb : n_ctx};
    int64_t max_batch = n_ctx < SESSION_MAX_BATCH ? n_ctx : SESSION_MAX_BATCH;
    if (s->has_policy && max_batch > cfg.max_rollback + 1)
        max_batch = cfg.max_rollback + 1;
    *kv = NULL;
    *st = NULL;
    kk_code rc;
    if (s->has_policy) {
        int32_t *lw = malloc((size_t)hp->n_layers * sizeof *lw);
        if (!lw)
            return kk_err_set(err, KK_E_NOMEM, "out of memory");
        for (int32_t l = 0; l < hp->n_layers; l++)
            lw[l] = s->m->layers[l].sliding_window;
        rc = kv_policy_make(&s->policy, &cfg, lw, kv, err);
        free(lw);
        if (rc != KK_OK)
            kk_err_where(err, "--policy");
    } else if (s->has_codec) {
        rc = kv_codec_init(kv, &cfg, &s->kc, &s->vc, NULL, err);
        /* the cache names its fields; the user gave flags */
        kk_err_rename(err, "k_codec", "--kv-codec");
        kk_err_rename(err, "v_codec", "--kv-codec-v");
    } else {
        rc = s->kv_f16 ? kv_full_f16_init(kv, &cfg, err) : kv_full_init(kv, &cfg, err);
    }
    if (rc != KK_OK)
        return rc;
    rc = fwd_init(st, s->m, max_batch, n_ctx, err);
    if (rc != KK_OK) {
        kv_free(*kv);
        *kv = NULL;
    }
    return rc;
}

kk_code session_parse_policy(session *s, const char *spec, kk_err *err)
{
    s->has_policy = false;
    if (!spec)
        return KK_OK;
    if (s->kv_f16 || s->has_codec)
        return kk_err_set(err, KK_E_USAGE, "--policy and --kv-cache f16 / --kv-codec are "
                          "exclusive (a policy's caches hold F32 rows)");
    if (kv_policy_parse(spec, &s->policy, err) != KK_OK)
        return kk_err_where(err, "--policy");
    s->has_policy = s->policy.kind != KV_POLICY_FULL;
    return KK_OK;
}

kk_code session_parse_cache(session *s, const char *kv_cache, const char *codec,
                            const char *codec_v, kk_err *err)
{
    if (kv_cache && codec)
        return kk_err_set(err, KK_E_USAGE, "--kv-cache and --kv-codec are exclusive (give one: "
                          "an element type or a codec)");
    if (codec_v && !codec)
        return kk_err_set(err, KK_E_USAGE, "--kv-codec-v needs --kv-codec (K's codec)");
    KK_TRY(session_parse_kv(kv_cache, &s->kv_f16, err));
    s->has_codec = codec != NULL;
    if (codec && codec_spec_parse(codec, &s->kc, err) != KK_OK)
        return kk_err_where(err, "--kv-codec");
    s->vc = s->kc;
    if (codec_v && codec_spec_parse(codec_v, &s->vc, err) != KK_OK)
        return kk_err_where(err, "--kv-codec-v");
    return KK_OK;
fail:
    return err ? err->code : KK_E_INTERNAL;
}

kk_code session_parse_threads(const char *val, int *threads, kk_err *err)
{
    int64_t t = kk_ncores();
    const cli_bound *b = cli_bound_find("--threads");
    if (t > b->max) /* more cores than the pool takes: use what it takes */
        t = b->max;
    if (val) {
        kk_code rc = cli_bound_parse("--threads", val, &t, err);
        if (rc != KK_OK)
            return rc;
    }
    *threads = (int)t;
    ops_set_threads(*threads);
    return KK_OK;
}

kk_code session_parse_act(const char *val, ops_act *act, kk_err *err)
{
    *act = OPS_ACT_GGML;
    if (val && !strcmp(val, "f32")) {
        *act = OPS_ACT_F32;
    } else if (val && strcmp(val, "ggml") != 0) {
        kk_err_set(err, KK_E_RANGE, "--act: '%s' is not allowed (allowed: f32, ggml)", val);
        return kk_err_where(err, "--act");
    }
    return KK_OK;
}

kk_code session_parse_kv(const char *val, bool *f16, kk_err *err)
{
    *f16 = false;
    if (val && !strcmp(val, "f16")) {
        *f16 = true;
    } else if (val && strcmp(val, "f32") != 0) {
        kk_err_set(err, KK_E_RANGE, "--kv-cache: '%s' is not allowed (allowed: f32, f16)", val);
        return kk_err_where(err, "--kv-cache");
    }
    return KK_OK;
}
