/* run_niah: NIAH samples through an arm's cache, for the kinds (run_niah.h). */
#include "run_niah.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "evidence.h"
#include "forward.h"
#include "gguf.h"
#include "kk_fault.h"
#include "kv.h"
#include "kv_codec.h"
#include "model.h"
#include "niah.h"
#include "sha256.h"
#include "synth.h"

/* Gaussian figures per codec arm: 64 Ki values (contracts: kernel figures
 * on a working set that fits in L2); seed fixed so every arm sees the
 * same data. */
#define RUN_NIAH_GAUSS_N (64 * 1024)
#define RUN_NIAH_GAUSS_SEED 0x6b616b657961ULL
/* Prefill chunk of the forward state. */
#define RUN_NIAH_BATCH 512

/* ---- model sources ------------------------------------------------------------ */

static kk_code src_err(kk_err *err, const char *param, const char *fmt, const char *a,
                       const char *allowed)
{
    kk_err_set(err, KK_E_RANGE, fmt, a, allowed);
    return kk_err_where(err, param);
}

kk_code run_niah_parse_synth(const char *src, const char *param, void *out, kk_err *err)
{
    synth_cfg *c = out;
    synth_defaults(c, SYNTH_ROLE_VERIFIER);
    const char *s = src + 6; /* after "synth:" */
    const char *q = strchr(s, '?');
    size_t ml = q ? (size_t)(q - s) : strlen(s);
    if (ml == 4 && !memcmp(s, "niah", 4))
        c->mode = SYNTH_MODE_NIAH;
    else if (ml == 4 && !memcmp(s, "copy", 4))
        c->mode = SYNTH_MODE_COPY;
    else
        return src_err(err, param, "model source \"%s\": unknown synthetic mode; allowed: %s", src,
                       "synth:niah or synth:copy");
    /* `hard` applies first so explicit knobs override it, whatever order. */
    if (q && (strstr(q, "?hard=1") || strstr(q, "&hard=1")))
        synth_apply_hard(c);
    const char *p = q ? q + 1 : NULL;
    static const char *allowed = "seed, hard, key_dim, shared_k, n_outliers, outlier_scale, beta, "
                                 "key_noise, distractors, rotate, n_ctx (KEY=VALUE joined by &)";
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        char kv[160];
        if (len >= sizeof kv)
            return src_err(err, param, "model source \"%s\": a field is too long; allowed: %s", src,
                           allowed);
        memcpy(kv, p, len);
        kv[len] = 0;
        char *eq = strchr(kv, '=');
        if (!eq)
            return src_err(err, param, "model source \"%s\": a field without '='; allowed: %s", src,
                           allowed);
        *eq = 0;
        const char *k = kv, *v = eq + 1;
        char *end = NULL;
        errno = 0;
        double d = strtod(v, &end);
        int num_ok = *v && end && !*end && errno == 0 && isfinite(d);
        int int_ok = num_ok && d == floor(d) && fabs(d) < 1e15;
        if (!strcmp(k, "rotate")) {
            if (synth_parse_rotate(param, v, &c->rotate, err) != KK_OK)
                return err ? err->code : KK_E_RANGE;
        } else if (!strcmp(k, "hard")) {
            if (strcmp(v, "0") && strcmp(v, "1"))
                return src_err(err, param, "model source \"%s\": hard takes %s", src, "0 or 1");
        } else if (!num_ok || (strcmp(k, "beta") && strcmp(k, "shared_k") && strcmp(k, "key_noise") &&
                               strcmp(k, "outlier_scale") && !int_ok)) {
            char m[200];
            snprintf(m, sizeof m, "%s=%s", k, v);
            return src_err(err, param, "model source field \"%s\": not a number of the right kind; "
                           "allowed: %s", m, allowed);
        } else if (!strcmp(k, "seed")) {
            c->seed = (uint64_t)d;
        } else if (!strcmp(k, "key_dim")) {
            c->key_dim = (int32_t)d;
        } else if (!strcmp(k, "n_outliers")) {
            c->n_outliers = (int32_t)d;
        } else if (!strcmp(k, "distractors")) {
            c->niah_distractors = (int32_t)d;
        } else if (!strcmp(k, "n_ctx")) {
            c->n_ctx = (int32_t)d;
        } else if (!strcmp(k, "shared_k")) {
            c->shared_k = (float)d;
        } else if (!strcmp(k, "outlier_scale")) {
            c->outlier_scale = (float)d;
        } else if (!strcmp(k, "beta")) {
            c->beta = (float)d;
        } else if (!strcmp(k, "key_noise")) {
            c->key_noise = (float)d;
        } else {
            char m[200];
            snprintf(m, sizeof m, "%s", k);
            return src_err(err, param, "model source: unknown field \"%s\"; allowed: %s", m, allowed);
        }
        p = amp ? amp + 1 : NULL;
    }
    if (synth_check(c, err) != KK_OK) {
        /* synth_check names synth_cfg fields, as the source's keys do but
         * for one. */
        kk_err_rename(err, "niah_distractors", "distractors");
        char m[KK_ERR_MSG_MAX];
        snprintf(m, sizeof m, "%s", err ? err->msg : "");
        kk_err_set(err, KK_E_RANGE, "model source \"%s\": %s", src, m);
        return kk_err_where(err, param);
    }
    return KK_OK;
}

int run_niah_check_codec(const char *val, char *why, size_t cap)
{
    if (!strcmp(val, "none"))
        return 0;
    codec_spec s;
    kk_err e;
    if (codec_spec_parse(val, &s, &e) == KK_OK)
        return 0;
    snprintf(why, cap, "found \"%s\": %s; allowed: none or a codec spec (identity, f16, bf16, q8_0, "
             "q4_0, affine:bits=4, d4, e8, ...:rotate=hadamard)", val, e.msg);
    return 1;
}

kk_code run_niah_check_preset(const preset *p, kk_err *err)
{
    const char *src = preset_get_str(p, "model");
    if (src && !strncmp(src, "synth:", 6)) {
        synth_cfg c;
        if (run_niah_parse_synth(src, "model", &c, err) != KK_OK) {
            kk_err_file(err, p->file);
            return err ? err->code : KK_E_RANGE;
        }
    }
    return KK_OK;
}

/* ---- shared state -------------------------------------------------------------- */

typedef struct nstate {
    uint8_t *synth_buf;       /* the synthesized GGUF bytes (NULL for a file) */
    gguf_file *file;
    model *m;
    int32_t distractors;
    int64_t max_ctx;
    codec_spec *specs;        /* per arm; valid when has_codec[a] */
    unsigned char *has_codec;
} nstate;

typedef struct nworker {
    fwd_state *st;
    int32_t *tokens;
    uint8_t *hidden;
    float *logits;
    float *cap_k, *cap_v;     /* (n_layers, max_ctx, row) */
} nworker;

static void nstate_free(nstate *s)
{
    if (!s)
        return;
    model_free(s->m);
    gguf_close(s->file);
    free(s->synth_buf);
    free(s->specs);
    free(s->has_codec);
    free(s);
}

static kk_code prepare(run_ctx *rc, kk_err *err)
{
    const preset *p = rc->p;
    nstate *s = calloc(1, sizeof *s);
    if (!s)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    rc->kstate = s;
    const preset_param *mp = preset_find_param(p, "model");
    char *src = NULL;
    char sha[65];
    synth_info info;
    KK_TRY(preset_expand_env(mp, 0, &src, err));
    if (!strncmp(src, "synth:", 6)) {
        synth_cfg c;
        size_t len = 0;
        KK_TRY(run_niah_parse_synth(src, "model", &c, err));
        KK_TRY(synth_to_buffer(&c, &s->synth_buf, &len, err));
        sha256_hex(s->synth_buf, len, sha);
        KK_TRY(gguf_parse_buffer(&s->file, s->synth_buf, len, src, err));
    } else {
        KK_TRY(sha256_file_hex(src, sha, err));
        KK_TRY(gguf_open(&s->file, src, err));
    }
    if (synth_read_info(s->file, &info, err) != KK_OK) {
        kk_err_set(err, KK_E_RANGE, "model %s is not a synthetic model (no kakeya.synth.* keys); "
                   "NIAH kinds need the synthetic token layout", src);
        kk_err_where(err, "model");
        goto fail;
    }
    KK_TRY(model_load(&s->m, s->file, err));
    synth_apply_windows(s->m, &info);
    int64_t d = preset_get_int(p, "distractors");
    s->distractors = d >= 0 ? (int32_t)d : info.niah_distractors;
    rc->models = cJSON_CreateArray();
    cJSON *mo = cJSON_CreateObject();
    cJSON_AddStringToObject(mo, "role", "target");
    cJSON_AddStringToObject(mo, "source", src);
    cJSON_AddStringToObject(mo, "sha256", sha);
    cJSON_AddStringToObject(mo, "architecture", s->m->arch_name);
    /* Constructed weights, never trained: a synth: spec or a GGUF file that
     * synth_read_info accepted above (the NIAH kinds run nothing else).
     * DEGENERATE_OUTPUT does not judge such a model's output. */
    cJSON_AddBoolToObject(mo, "trained", 0);
    cJSON_AddItemToArray(rc->models, mo);
    free(src);
    src = NULL;
    /* codecs per arm */
    s->specs = calloc(p->n_arms, sizeof *s->specs);
    s->has_codec = calloc(p->n_arms, 1);
    if (!s->specs || !s->has_codec) {
        kk_err_set(err, KK_E_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t a = 0; a < p->n_arms; a++) {
        const char *cs = preset_arm_field(p, &p->arms[a], "codec")->s;
        if (strcmp(cs, "none") != 0) {
            KK_TRY(codec_spec_parse(cs, &s->specs[a], err));
            s->has_codec[a] = 1;
        }
    }
    /* tasks: arms x contexts x samples, depths cycling */
    const preset_param *ctx = preset_find_param(p, "ctx"), *dep = preset_find_param(p, "depths");
    int64_t samples = preset_get_int(p, "samples");
    for (size_t a = 0; a < p->n_arms; a++) {
        if (!run_arm_on(rc, a))
            continue;
        size_t k = 0;
        for (size_t c = 0; c < ctx->v.n; c++) {
            if (ctx->v.i[c] > s->max_ctx)
                s->max_ctx = ctx->v.i[c];
            for (int64_t j = 0; j < samples; j++) {
                run_task t = {.arm = a, .sample = k++, .ctx = ctx->v.i[c]};
                t.depth_index = (int32_t)(j % (int64_t)dep->v.n);
                t.depth = dep->v.f[t.depth_index];
                t.index = j / (int64_t)dep->v.n;
                t.seed = niah_sample_seed(rc->seed, t.ctx, t.depth_index, t.index);
                KK_TRY(run_add_task(rc, &t, err));
            }
        }
    }
    return KK_OK;
fail:
    free(src);
    return err && err->code ? err->code : KK_E_INTERNAL;
}

static void worker_free(void *wp)
{
    nworker *w = wp;
    if (!w)
        return;
    fwd_free(w->st);
    free(w->tokens);
    free(w->hidden);
    free(w->logits);
    free(w->cap_k);
    free(w->cap_v);
    free(w);
}

static kk_code worker_init(run_ctx *rc, void **out, kk_err *err)
{
    nstate *s = rc->kstate;
    const model_hparams *hp = &s->m->hp;
    nworker *w = calloc(1, sizeof *w);
    *out = w;
    if (!w)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    size_t n = (size_t)s->max_ctx;
    size_t rk = (size_t)hp->n_kv_heads * (size_t)hp->head_dim_k;
    size_t rv = (size_t)hp->n_kv_heads * (size_t)hp->head_dim_v;
    w->tokens = calloc(n, sizeof *w->tokens);
    w->hidden = calloc(n, 1);
    w->logits = calloc((size_t)hp->n_vocab, sizeof *w->logits);
    w->cap_k = calloc((size_t)hp->n_layers * n * rk, sizeof(float));
    w->cap_v = calloc((size_t)hp->n_layers * n * rv, sizeof(float));
    if (!w->tokens || !w->hidden || !w->logits || !w->cap_k || !w->cap_v)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for a worker at %zu tokens", n);
    return fwd_init(&w->st, s->m, RUN_NIAH_BATCH, s->max_ctx, err);
}

static double elapsed(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + 1e-9 * (double)(b.tv_nsec - a->tv_nsec);
}

/* Squared error of the cache's decoded rows against the captured ones. */
static kk_code kv_error(kv_cache *kv, const model_hparams *hp, const nworker *w, int64_t n,
                        run_result *r, kk_err *err)
{
    size_t rk = (size_t)hp->n_kv_heads * (size_t)hp->head_dim_k;
    size_t rv = (size_t)hp->n_kv_heads * (size_t)hp->head_dim_v;
    for (int32_t l = 0; l < hp->n_layers; l++) {
        kv_view v;
        KK_TRY(kv_view_layer(kv, l, &v, err));
        for (int64_t e = 0; e < v.n; e++) {
            int64_t pos = v.pos[e];
            if (pos < 0 || pos >= n)
                continue;
            const float *ck = w->cap_k + ((size_t)l * (size_t)n + (size_t)pos) * rk;
            const float *cv = w->cap_v + ((size_t)l * (size_t)n + (size_t)pos) * rv;
            for (size_t i = 0; i < rk; i++) {
                double d = (double)v.k[e * v.k_stride + (int64_t)i] - ck[i];
                r->k_err += d * d;
                r->k_ref += (double)ck[i] * ck[i];
            }
            for (size_t i = 0; i < rv; i++) {
                double d = (double)v.v[e * v.v_stride + (int64_t)i] - cv[i];
                r->v_err += d * d;
                r->v_ref += (double)cv[i] * cv[i];
            }
        }
    }
    r->has_kv_err = 1;
    return KK_OK;
fail:
    return err ? err->code : KK_E_INTERNAL;
}

static kk_code task(run_ctx *rc, void *wp, const run_task *t, run_result *r, kk_err *err)
{
    nstate *s = rc->kstate;
    nworker *w = wp;
    const preset *p = rc->p;
    const model_hparams *hp = &s->m->hp;
    kv_cache *kv = NULL;
    niah_sample smp = {.tokens = w->tokens, .ctx = t->ctx};
    KK_TRY(niah_sample_make(&smp, t->depth, s->distractors, t->seed, err));
    kv_config cfg = {hp->n_layers, hp->n_kv_heads, hp->head_dim_k, hp->head_dim_v, t->ctx};
    int codec = s->has_codec[t->arm];
    /* The engine reads no environment: the codec-passthrough fault reaches
     * the cache as an option. */
    const kv_codec_opts ko = {.passthrough = kk_fault_on(KK_FAULT_CODEC_PASSTHROUGH)};
    if (codec)
        KK_TRY(kv_codec_init(&kv, &cfg, &s->specs[t->arm], &s->specs[t->arm], &ko, err));
    else
        KK_TRY(kv_full_init(&kv, &cfg, err));
    int mask = preset_arm_field(p, &p->arms[t->arm], "mask_needle")->i != 0;
    memset(w->hidden, 0, (size_t)t->ctx);
    if (mask) {
        w->hidden[smp.needle_pos] = 1;
        w->hidden[smp.needle_pos + 1] = 1;
    }
    for (int32_t l = 0; l < hp->n_layers; l++)
        KK_TRY(fwd_set_mask(w->st, l, mask ? w->hidden : NULL, mask ? t->ctx : 0, err));
    fwd_capture cap = {.k_post = w->cap_k, .v = w->cap_v};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    KK_TRY(fwd_run(w->st, kv, smp.tokens, NULL, t->ctx, FWD_LOGITS_LAST, w->logits,
                   codec ? &cap : NULL, err));
    r->prefill_s = elapsed(&t0);
    /* answer: argmax, lowest id on ties; margin: expected over best other */
    int32_t best = 0;
    float other = -INFINITY;
    for (int32_t i = 1; i < hp->n_vocab; i++)
        if (w->logits[i] > w->logits[best])
            best = i;
    for (int32_t i = 0; i < hp->n_vocab; i++)
        if (i != smp.expect && w->logits[i] > other)
            other = w->logits[i];
    r->answer = best;
    r->expected = smp.expect;
    r->hit = best == smp.expect;
    r->margin = (double)w->logits[smp.expect] - (double)other;
    r->kv_bytes = kv_bytes_resident(kv);
    if (codec) {
        const codec_stats *ks = kv_codec_get_stats(kv, 'k'), *vs = kv_codec_get_stats(kv, 'v');
        r->has_codec = 1;
        r->values_encoded = (ks ? ks->values_encoded : 0) + (vs ? vs->values_encoded : 0);
        r->values_decoded = (ks ? ks->values_decoded : 0) + (vs ? vs->values_decoded : 0);
        if (!ks || !vs)
            snprintf(r->fallback, sizeof r->fallback, "kv_codec: no codec statistics (plain cache?)");
        KK_TRY(kv_error(kv, hp, w, t->ctx, r, err));
    }
    kv_free(kv);
    return KK_OK;
fail:
    kv_free(kv);
    return err && err->code ? err->code : KK_E_INTERNAL;
}

/* Per codec arm: bits per value from the bytes written and the relative
 * MSE on i.i.d. N(0,1) data; the full cache stores F32 (32 bits, exact). */
/* signals.memory.derived.kv_bytes_formula: what a formula says the K/V
 * codes of one sample take at the arm's largest context. Labelled derived,
 * with its inputs, beside the measured kv_bytes_allocated: the allocation
 * also holds the positions and, for codec caches, one layer's F32 decode
 * scratch, so the two differ and only the measurement backs a claim. */
static void add_derived_kv_bytes(run_ctx *rc, size_t arm, cJSON *aj, double bits)
{
    const nstate *s = rc->kstate;
    const model_hparams *hp = &s->m->hp;
    int64_t ctx = 0;
    for (size_t i = 0; i < rc->n_tasks; i++)
        if (rc->tasks[i].arm == arm && rc->tasks[i].ctx > ctx)
            ctx = rc->tasks[i].ctx;
    cJSON *mem = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(aj, "signals"),
                                                  "memory");
    if (!mem)
        return;
    cJSON *d = cJSON_AddObjectToObject(cJSON_AddObjectToObject(mem, "derived"), "kv_bytes_formula");
    double values = (double)hp->n_layers * (double)ctx * (double)hp->n_kv_heads *
                    (double)(hp->head_dim_k + hp->head_dim_v);
    ev_add_num(d, "value", values * bits / 8.0);
    cJSON_AddStringToObject(d, "formula",
                            "n_layers * ctx * n_kv_heads * (head_dim_k + head_dim_v) * "
                            "bits_per_value / 8");
    cJSON *in = cJSON_AddObjectToObject(d, "inputs");
    ev_add_i64(in, "n_layers", hp->n_layers);
    ev_add_i64(in, "ctx", ctx);
    ev_add_i64(in, "n_kv_heads", hp->n_kv_heads);
    ev_add_i64(in, "head_dim_k", hp->head_dim_k);
    ev_add_i64(in, "head_dim_v", hp->head_dim_v);
    ev_add_num(in, "bits_per_value", bits);
    cJSON_AddStringToObject(d, "note", "the K/V codes alone, from the configuration; not a "
                            "measurement (kv_bytes_allocated is)");
}

static kk_code arm_extra(run_ctx *rc, size_t arm, cJSON *aj, kk_err *err)
{
    nstate *s = rc->kstate;
    cJSON *m = cJSON_GetObjectItemCaseSensitive(aj, "metrics");
    if (!s->has_codec[arm]) {
        ev_add_num(m, "bits_per_value", 32.0);
        ev_add_num(m, "rel_mse_gaussian", 0.0);
        add_derived_kv_bytes(rc, arm, aj, 32.0);
        return KK_OK;
    }
    codec *c = NULL;
    KK_TRY(codec_init(&c, &s->specs[arm], err));
    size_t n = RUN_NIAH_GAUSS_N;
    size_t bv = codec_block_values(c);
    n -= n % bv;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    uint8_t *b = malloc(codec_encoded_bytes(c, n) + 1);
    if (!x || !y || !b) {
        free(x);
        free(y);
        free(b);
        codec_free(c);
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    }
    codec_fill_gaussian(x, n, RUN_NIAH_GAUSS_SEED);
    codec_encode(c, x, n, b);
    codec_decode(c, b, n, y);
    double e = 0, ref = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)y[i] - x[i];
        e += d * d;
        ref += (double)x[i] * x[i];
    }
    ev_add_num(m, "bits_per_value", codec_bits_per_value(c));
    ev_add_num(m, "rel_mse_gaussian", ref > 0 ? e / ref : 0);
    add_derived_kv_bytes(rc, arm, aj, codec_bits_per_value(c));
    free(x);
    free(y);
    free(b);
    codec_free(c);
    return KK_OK;
fail:
    return err ? err->code : KK_E_INTERNAL;
}

static void finish(run_ctx *rc)
{
    nstate_free(rc->kstate);
    rc->kstate = NULL;
}

const run_ops run_niah_ops = {
    .prepare = prepare,
    .worker_init = worker_init,
    .worker_free = worker_free,
    .task = task,
    .arm_extra = arm_extra,
    .finish = finish,
    .timing_scope = "prefill",
    .timing_scope_note = "per sample: the clock covers fwd_run over the sample's ctx tokens "
                         "through the arm's cache (prefill, logits of the last position only); "
                         "cache allocation, haystack generation, the argmax and the K/V error "
                         "are outside it; no token is decoded (decode_s 0)",
};
