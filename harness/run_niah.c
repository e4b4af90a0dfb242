/* run_niah: NIAH samples through an arm's cache, for the kinds (run_niah.h). */
#include "run_niah.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "codec.h"
#include "evidence.h"
#include "gguf.h"
#include "model.h"
#include "niah.h"
#include "run_kld.h"
#include "run_restore.h"
#include "kk_fault.h"
#include "kk_stats.h"
#include "sha256.h"
#include "synth.h"

/* Gaussian figures per codec arm: 64 Ki values (kernel figures are taken
 * on a working set that fits in L2); seed fixed so every arm sees the
 * same data. */
#define RUN_NIAH_GAUSS_N (64 * 1024)
#define RUN_NIAH_GAUSS_SEED 0x6b616b657961ULL

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
    const char *s = src + 6; /* after "synth:" */
    const char *q = strchr(s, '?');
    /* `role` sets the defaults every other key then adjusts, whatever
     * order the keys come in. */
    synth_role role = SYNTH_ROLE_VERIFIER;
    if (q && (strstr(q, "?role=proposer") || strstr(q, "&role=proposer")))
        role = SYNTH_ROLE_PROPOSER;
    synth_defaults(c, role);
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
    static const char *allowed = "seed, hard, role, key_dim, shared_k, n_outliers, outlier_scale, "
                                 "beta, key_noise, distractors, rotate, n_ctx, window, "
                                 "sliding_layers, n_ff, ballast_scale (KEY=VALUE joined by &)";
    /* Every key once: a repeated one would silently override the first. */
    static const char *const keys[] = {"seed", "hard", "key_dim", "shared_k", "n_outliers",
                                       "outlier_scale", "beta", "key_noise", "distractors",
                                       "rotate", "n_ctx", "role", "window", "sliding_layers",
                                       "n_ff", "ballast_scale"};
    unsigned seen = 0;
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
        for (unsigned i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (!strcmp(k, keys[i])) {
                if (seen & (1u << i)) {
                    char m[200];
                    snprintf(m, sizeof m, "%s", k);
                    return src_err(err, param, "model source: %s given twice; allowed: %s", m,
                                   "each key once");
                }
                seen |= 1u << i;
            }
        char *end = NULL;
        errno = 0;
        double d = strtod(v, &end);
        int num_ok = *v && end && !*end && errno == 0 && isfinite(d);
        int int_ok = num_ok && d == floor(d) && fabs(d) < 1e15;
        /* The 32-bit fields: a value they cannot hold is refused as
         * written, before a cast would wrap it. */
        const int is_i32 = !strcmp(k, "key_dim") || !strcmp(k, "n_outliers") ||
                           !strcmp(k, "distractors") || !strcmp(k, "n_ctx") ||
                           !strcmp(k, "window") || !strcmp(k, "n_ff");
        if (is_i32 && int_ok && (d < -2147483648.0 || d > 2147483647.0)) {
            char m[200];
            snprintf(m, sizeof m, "%s=%s", k, v);
            return src_err(err, param, "model source field \"%s\": out of range; allowed: %s", m,
                           "a 32-bit integer within the knob's bounds (docs/synthetic-models.md)");
        }
        if (!strcmp(k, "rotate")) {
            if (synth_parse_rotate(param, v, &c->rotate, err) != KK_OK)
                return err ? err->code : KK_E_RANGE;
        } else if (!strcmp(k, "hard")) {
            if (strcmp(v, "0") && strcmp(v, "1"))
                return src_err(err, param, "model source \"%s\": hard takes %s", src, "0 or 1");
        } else if (!strcmp(k, "role")) {
            if (strcmp(v, "verifier") && strcmp(v, "proposer"))
                return src_err(err, param, "model source \"%s\": role takes %s", src,
                               "verifier or proposer");
        } else if (!strcmp(k, "sliding_layers")) {
            /* a bit mask of layers, as an integer (bit l: layer l slides) */
            char *e2 = NULL;
            errno = 0;
            const unsigned long long bits = strtoull(v, &e2, 10);
            if (!*v || *v == '-' || !e2 || *e2 || errno || bits > UINT32_MAX)
                return src_err(err, param, "model source \"%s\": sliding_layers takes %s", src,
                               "a bit mask of layers 0..4294967295 (bit l: layer l slides)");
            c->sliding_layers = (uint32_t)bits;
        } else if (!num_ok || (strcmp(k, "beta") && strcmp(k, "shared_k") && strcmp(k, "key_noise") &&
                               strcmp(k, "outlier_scale") && strcmp(k, "ballast_scale") &&
                               !int_ok)) {
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
        } else if (!strcmp(k, "window")) {
            c->sliding_window = (int32_t)d;
        } else if (!strcmp(k, "shared_k")) {
            c->shared_k = (float)d;
        } else if (!strcmp(k, "outlier_scale")) {
            c->outlier_scale = (float)d;
        } else if (!strcmp(k, "beta")) {
            c->beta = (float)d;
        } else if (!strcmp(k, "key_noise")) {
            c->key_noise = (float)d;
        } else if (!strcmp(k, "n_ff")) {
            c->n_ff = (int32_t)d;
        } else if (!strcmp(k, "ballast_scale")) {
            c->ballast_scale = (float)d;
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
        kk_err_rename(err, "sliding_window", "window");
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

int run_niah_check_codec_side(const char *val, char *why, size_t cap)
{
    return val[0] ? run_niah_check_codec(val, why, cap) : 0;
}

kk_code run_niah_check_preset(const preset *p, kk_err *err)
{
    /* corrupt perturbs a codec's codes: an arm without a codec has none */
    for (size_t a = 0; a < p->n_arms; a++) {
        const preset_field *cf = preset_arm_field(p, &p->arms[a], "corrupt");
        if (!cf || !cf->i)
            continue;
        int coded = 0;
        static const char *const keys[] = {"codec", "codec_k", "codec_v"};
        for (int k = 0; k < 3; k++) {
            const preset_field *f = preset_arm_field(p, &p->arms[a], keys[k]);
            coded |= f && f->s[0] && strcmp(f->s, "none") != 0;
        }
        if (!coded) {
            kk_err_set(err, KK_E_RANGE, "arm %s: corrupt: true needs a codec (found codec none; "
                       "allowed: corrupt with a codec, codec_k or codec_v)", p->arms[a].name);
            kk_err_where(err, "arms[].corrupt");
            return kk_err_file(err, p->file);
        }
    }
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

/* What a task is, beside run_task (the loop keeps it: run_plan_at). */
typedef struct nplan {
    int64_t ctx;
    int32_t depth_index;
    double depth;
    int64_t index;            /* sample index within its (ctx, depth) cell */
} nplan;

#define NIAH_FALLBACK_MAX 128

/* One task's result slot. */
typedef struct nslot {
    niah_result r;
    int32_t expected;
    char fallback[NIAH_FALLBACK_MAX]; /* "" when nothing degraded */
} nslot;

typedef struct nstate {
    uint8_t *synth_buf;       /* the synthesized GGUF bytes (NULL for a file) */
    gguf_file *file;
    model *m;
    rrestore *rs;             /* the restore kind; NULL for the others */
    int32_t *layer_window;    /* (n_layers) each layer's sliding window */
    int32_t distractors;
    int64_t max_ctx;
    codec_spec *specs;        /* per arm, K's codec; valid when has_codec[a] */
    codec_spec *specs_v;      /* per arm, V's codec (the same as K's unless split) */
    unsigned char *split;     /* per arm: codec_k or codec_v named (or the
                                 sides differ): counters per side */
    unsigned char *has_codec;
    run_kld kld;              /* kv_quant with kld_model: per-arm KLD figures */
} nstate;

/* A worker: one runner (one forward state, one cache reused through
 * kv_truncate) set to the options of the arm it last served. */
typedef struct nworker {
    niah_runner *runner;
    size_t arm;               /* the arm the runner is set for */
    int64_t ctx;              /* and the context its cache is sized to */
    int32_t *tokens;          /* (max_ctx) */
} nworker;

static void nstate_free(nstate *s)
{
    if (!s)
        return;
    run_restore_free(s->rs);
    free(s->layer_window);
    model_free(s->m);
    gguf_close(s->file);
    free(s->synth_buf);
    free(s->specs);
    free(s->specs_v);
    free(s->split);
    free(s->has_codec);
    run_kld_free(&s->kld);
    free(s);
}

void run_niah_source_free(run_niah_source *s)
{
    if (!s)
        return;
    model_free(s->m);
    gguf_close(s->file);
    free(s->buf);
    free(s->src);
    memset(s, 0, sizeof *s);
}

kk_code run_niah_load_source(const preset *p, const char *param, run_niah_source *o,
                             kk_err *err)
{
    memset(o, 0, sizeof *o);
    const preset_param *mp = preset_find_param(p, param);
    KK_TRY(preset_expand_env(mp, 0, &o->src, err));
    if (!strncmp(o->src, "synth:", 6)) {
        synth_cfg c;
        size_t len = 0;
        KK_TRY(run_niah_parse_synth(o->src, param, &c, err));
        if (synth_to_buffer(&c, &o->buf, &len, err) != KK_OK) {
            if (err && err->code == KK_E_RANGE) { /* a ballast that would cost margins */
                char m[KK_ERR_MSG_MAX];
                snprintf(m, sizeof m, "%s", err->msg);
                kk_err_set(err, KK_E_RANGE, "model source \"%s\": %s", o->src, m);
                kk_err_where(err, param);
            }
            goto fail;
        }
        sha256_hex(o->buf, len, o->sha);
        KK_TRY(gguf_parse_buffer(&o->file, o->buf, len, o->src, err));
    } else {
        KK_TRY(sha256_file_hex(o->src, o->sha, err));
        KK_TRY(gguf_open(&o->file, o->src, err));
    }
    if (synth_read_info(o->file, &o->info, err) != KK_OK) {
        kk_err_set(err, KK_E_RANGE, "model %s is not a synthetic model (no kakeya.synth.* keys); "
                   "NIAH kinds need the synthetic token layout", o->src);
        kk_err_where(err, param);
        goto fail;
    }
    KK_TRY(model_load(&o->m, o->file, err));
    synth_apply_windows(o->m, &o->info);
    return KK_OK;
fail:
    run_niah_source_free(o);
    return err && err->code ? err->code : KK_E_INTERNAL;
}

static kk_code prepare(run_ctx *rc, kk_err *err)
{
    const preset *p = rc->p;
    nstate *s = run_calloc(rc, 1, sizeof *s);
    if (!s)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for the NIAH kind's state");
    rc->kstate = s;
    run_niah_source src;
    KK_TRY(run_niah_load_source(p, "model", &src, err));
    s->synth_buf = src.buf;
    s->file = src.file;
    s->m = src.m;
    const synth_info info = src.info;
    int64_t d = preset_get_int(p, "distractors");
    s->distractors = d >= 0 ? (int32_t)d : info.niah_distractors;
    s->layer_window = run_calloc(rc, (size_t)s->m->hp.n_layers, sizeof *s->layer_window);
    if (!s->layer_window) {
        free(src.src);
        return kk_err_set(err, KK_E_NOMEM, "out of memory for %d layers", (int)s->m->hp.n_layers);
    }
    for (int32_t l = 0; l < s->m->hp.n_layers; l++)
        s->layer_window[l] = s->m->layers[l].sliding_window;
    ev_build b;
    ev_build_init(&b, err);
    rc->models = cJSON_CreateArray();
    cJSON *mo = ev_put_obj(&b, rc->models, "models[]");
    ev_put_str(&b, mo, "role", "target");
    ev_put_str(&b, mo, "source", src.src);
    ev_put_str(&b, mo, "sha256", src.sha);
    ev_put_str(&b, mo, "architecture", s->m->arch_name);
    /* Constructed weights, never trained: a synth: spec or a GGUF file that
     * synth_read_info accepted above (the NIAH kinds run nothing else).
     * DEGENERATE_OUTPUT does not judge such a model's output. */
    ev_put_bool(&b, mo, "trained", 0);
    free(src.src);
    if (!rc->models)
        ev_put(&b, NULL, "models", NULL);
    /* the restore kind: policies, modes, the proposer and f_theta */
    if (b.code == KK_OK && preset_find_param(p, "proposer"))
        KK_TRY(run_restore_prepare(rc, s->m, src.sha, &b, rc->models, &s->rs, err));
    if (ev_build_end(&b, &rc->models) != KK_OK)
        goto fail;
    /* codecs per arm: `codec` for both sides, `codec_k` / `codec_v` (kinds
     * that have them; "" means as `codec`) for one side each */
    s->specs = run_calloc(rc, p->n_arms, sizeof *s->specs);
    s->specs_v = run_calloc(rc, p->n_arms, sizeof *s->specs_v);
    s->split = run_calloc(rc, p->n_arms, 1);
    s->has_codec = run_calloc(rc, p->n_arms, 1);
    if (!s->specs || !s->specs_v || !s->split || !s->has_codec) {
        kk_err_set(err, KK_E_NOMEM, "out of memory for the codecs of %zu arms", p->n_arms);
        goto fail;
    }
    for (size_t a = 0; a < p->n_arms; a++) {
        const preset_field *cf = preset_arm_field(p, &p->arms[a], "codec");
        const preset_field *kf = preset_arm_field(p, &p->arms[a], "codec_k");
        const preset_field *vf = preset_arm_field(p, &p->arms[a], "codec_v");
        const char *cs = cf ? cf->s : "none";
        const char *ks = kf && kf->s[0] ? kf->s : cs, *vs = vf && vf->s[0] ? vf->s : cs;
        if (!strcmp(ks, "none") && !strcmp(vs, "none"))
            continue;
        /* one side coded, the other "none": that side stores F32 rows
         * through the identity codec (exact, counted) */
        KK_TRY(codec_spec_parse(strcmp(ks, "none") ? ks : "identity", &s->specs[a], err));
        KK_TRY(codec_spec_parse(strcmp(vs, "none") ? vs : "identity", &s->specs_v[a], err));
        s->has_codec[a] = 1;
        /* per-side counters whenever a side is named (LIVENESS judges
         * codec_k and codec_v by them) or the sides differ */
        s->split[a] = (kf && kf->s[0]) || (vf && vf->s[0]) || strcmp(ks, vs) != 0;
    }
    /* KLD figures (kv_quant with kld_model), before any task */
    if (preset_find_param(p, "kld_model")) {
        KK_TRY(run_kld_prepare(p, s->specs, s->specs_v, s->has_codec, &s->kld, err));
        if (s->kld.on) {
            ev_build kb;
            ev_build_init(&kb, err);
            cJSON *ko = ev_put_obj(&kb, rc->models, "models[]");
            ev_put_str(&kb, ko, "role", "kld");
            ev_put_str(&kb, ko, "source", s->kld.src);
            ev_put_str(&kb, ko, "sha256", s->kld.sha);
            ev_put_str(&kb, ko, "architecture", s->kld.arch);
            ev_put_i64(&kb, ko, "n_ids", s->kld.n_ids);
            if (kb.code != KK_OK)
                goto fail;
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
                nplan pl = {.ctx = ctx->v.i[c]};
                pl.depth_index = (int32_t)(j % (int64_t)dep->v.n);
                pl.depth = dep->v.f[pl.depth_index];
                pl.index = j / (int64_t)dep->v.n;
                const run_task t = {
                    .arm = a, .sample = k++,
                    .seed = niah_sample_seed(rc->seed, pl.ctx, pl.depth_index, pl.index)};
                KK_TRY(run_add_task(rc, &t, &pl, err));
            }
        }
    }
    return KK_OK;
fail:
    return err && err->code ? err->code : KK_E_INTERNAL;
}

/* The runner options of an arm. */
static niah_opts arm_opts(const run_ctx *rc, size_t arm)
{
    const nstate *s = rc->kstate;
    const preset *p = rc->p;
    niah_opts o = {0};
    if (preset_arm_field(p, &p->arms[arm], "mask_needle")->i != 0)
        o.mask_layers = NIAH_MASK_ALL;
    if (s->has_codec[arm]) {
        o.kv_codec = &s->specs[arm];
        o.kv_codec_v = &s->specs_v[arm];
        o.kv_error = true;
        /* The engine reads no environment: the codec-passthrough fault
         * reaches the cache as an option. */
        o.kv_codec_passthrough = kk_fault_on(KK_FAULT_CODEC_PASSTHROUGH);
        const preset_field *cf = preset_arm_field(p, &p->arms[arm], "corrupt");
        o.kv_codec_corrupt = cf && cf->i != 0;
    }
    if (s->rs)
        run_restore_arm_opts(s->rs, arm, &o);
    return o;
}

static void worker_free(void *wp)
{
    nworker *w = wp;
    if (!w)
        return;
    niah_runner_free(w->runner);
    free(w->tokens);
    free(w);
}

static kk_code worker_init(run_ctx *rc, void **out, kk_err *err)
{
    nstate *s = rc->kstate;
    nworker *w = run_calloc(rc, 1, sizeof *w);
    *out = w;
    if (!w)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for a worker");
    w->tokens = run_calloc(rc, (size_t)s->max_ctx, sizeof *w->tokens);
    if (!w->tokens)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for a worker at %lld tokens",
                          (long long)s->max_ctx);
    /* Set for the first arm of the shard; tasks of another arm reset it. */
    size_t a0 = rc->n_tasks ? rc->tasks[0].arm : 0;
    const niah_opts o = arm_opts(rc, a0);
    w->arm = a0;
    return niah_runner_init(&w->runner, s->m, s->max_ctx, &o, err);
}

static kk_code task(run_ctx *rc, void *wp, size_t i, kk_err *err)
{
    nstate *s = rc->kstate;
    nworker *w = wp;
    const run_task *t = &rc->tasks[i];
    const nplan *pl = run_plan_at(rc, i);
    nslot *slot = run_result_at(rc, i);
    /* The cache is sized to the sample's context (niah_opts.cache_ctx), so
     * its resident bytes are what a run at that context allocates: tasks
     * come arm by arm and context by context, so this happens at their
     * boundaries only. */
    if (t->arm != w->arm || pl->ctx != w->ctx) {
        niah_opts o = arm_opts(rc, t->arm);
        o.cache_ctx = pl->ctx;
        KK_TRY(niah_runner_set_opts(w->runner, &o, err));
        w->arm = t->arm;
        w->ctx = pl->ctx;
    }
    niah_sample smp = {.tokens = w->tokens, .ctx = pl->ctx};
    KK_TRY(niah_sample_make(&smp, pl->depth, s->distractors, t->seed, err));
    KK_TRY(niah_runner_eval(w->runner, &smp, &slot->r, NULL, err));
    slot->expected = smp.expect;
    if (s->has_codec[t->arm] && !slot->r.has_codec)
        snprintf(slot->fallback, sizeof slot->fallback,
                 "kv_codec: no codec statistics (plain cache?)");
    return KK_OK;
fail:
    return err && err->code ? err->code : KK_E_INTERNAL;
}

/* ---- an arm's evidence ------------------------------------------------------------ */

/* signals.memory.derived.kv_bytes_formula: what a formula says the K/V
 * codes of one sample take at the arm's largest context. Labelled derived,
 * with its inputs, beside the measured kv_bytes_allocated: the allocation
 * also holds the positions and, for codec caches, one layer's F32 decode
 * scratch, so the two differ and only the measurement backs a claim. */
static void add_derived_kv_bytes(ev_build *b, const nstate *s, cJSON *mem, int64_t ctx,
                                 double bits)
{
    const model_hparams *hp = &s->m->hp;
    cJSON *d = ev_put_obj(b, ev_put_obj(b, mem, "derived"), "kv_bytes_formula");
    double values = (double)hp->n_layers * (double)ctx * (double)hp->n_kv_heads *
                    (double)(hp->head_dim_k + hp->head_dim_v);
    ev_put_num(b, d, "value", values * bits / 8.0);
    ev_put_str(b, d, "formula",
               "n_layers * ctx * n_kv_heads * (head_dim_k + head_dim_v) * bits_per_value / 8");
    cJSON *in = ev_put_obj(b, d, "inputs");
    ev_put_i64(b, in, "n_layers", hp->n_layers);
    ev_put_i64(b, in, "ctx", ctx);
    ev_put_i64(b, in, "n_kv_heads", hp->n_kv_heads);
    ev_put_i64(b, in, "head_dim_k", hp->head_dim_k);
    ev_put_i64(b, in, "head_dim_v", hp->head_dim_v);
    ev_put_num(b, in, "bits_per_value", bits);
    ev_put_str(b, d, "note", "the K/V codes alone, from the configuration; not a measurement "
                             "(kv_bytes_allocated is)");
}

/* Per codec arm: bits per value from the bytes written and the relative
 * MSE on i.i.d. N(0,1) data; the full cache stores F32 (32 bits, exact). */
static kk_code gaussian_side(run_ctx *rc, size_t arm, const codec_spec *spec, double *bits,
                             double *rel_mse, kk_err *err);

/* An arm's figures: one codec's, or with K and V split the mean of the two
 * sides (K and V rows hold the same number of values here). */
static kk_code gaussian_figures(run_ctx *rc, size_t arm, double *bits, double *rel_mse,
                                kk_err *err)
{
    const nstate *s = rc->kstate;
    if (!s->has_codec[arm]) {
        *bits = 32.0;
        *rel_mse = 0.0;
        return KK_OK;
    }
    KK_TRY(gaussian_side(rc, arm, &s->specs[arm], bits, rel_mse, err));
    if (s->split[arm]) {
        double bv, rv;
        KK_TRY(gaussian_side(rc, arm, &s->specs_v[arm], &bv, &rv, err));
        *bits = 0.5 * (*bits + bv);
        *rel_mse = 0.5 * (*rel_mse + rv);
    }
    return KK_OK;
fail:
    return err ? err->code : KK_E_INTERNAL;
}

static kk_code gaussian_side(run_ctx *rc, size_t arm, const codec_spec *spec, double *bits,
                             double *rel_mse, kk_err *err)
{
    codec *c = NULL;
    KK_TRY(codec_init(&c, spec, err));
    size_t n = RUN_NIAH_GAUSS_N;
    size_t bv = codec_block_values(c);
    n -= n % bv;
    float *x = run_calloc(rc, n, sizeof *x), *y = run_calloc(rc, n, sizeof *y);
    uint8_t *b = run_calloc(rc, codec_encoded_bytes(c, n) + 1, 1);
    if (!x || !y || !b) {
        free(x);
        free(y);
        free(b);
        codec_free(c);
        return kk_err_set(err, KK_E_NOMEM, "out of memory for arm %s's Gaussian codec figures "
                          "(%zu values)", rc->p->arms[arm].name, n);
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
    *bits = codec_bits_per_value(c);
    *rel_mse = ref > 0 ? e / ref : 0;
    free(x);
    free(y);
    free(b);
    codec_free(c);
    return KK_OK;
fail:
    return err ? err->code : KK_E_INTERNAL;
}

/* metrics.cells: per (ctx, depth) cell of the arm, in the order its first
 * sample comes (the plan's: ctx, then depth), the samples, hits, recall and
 * its 95% Wilson interval. A failed allocation fails the build (b). */
static void put_cells(run_ctx *rc, size_t arm, ev_build *b, cJSON *m)
{
    const size_t n = run_arm_n_tasks(rc, arm);
    const nstate *s = rc->kstate;
    const nplan **key = run_calloc(rc, n ? n : 1, sizeof *key);
    const nslot **first = run_calloc(rc, n ? n : 1, sizeof *first);
    int64_t *cn = run_calloc(rc, n ? n : 1, sizeof *cn), *ch = run_calloc(rc, n ? n : 1, sizeof *ch);
    cJSON *cells = ev_put_arr(b, m, "cells");
    if (!key || !cn || !ch || !first) {
        if (b->code == KK_OK) {
            b->code = kk_err_set(b->err, KK_E_NOMEM, "out of memory for arm %s's cells",
                                 rc->p->arms[arm].name);
        }
        goto done;
    }
    size_t n_cells = 0;
    for (size_t i = 0; i < rc->n_tasks; i++) {
        if (rc->tasks[i].arm != arm)
            continue;
        const nplan *pl = run_plan_at(rc, i);
        const nslot *sl = run_result_at(rc, i);
        size_t c = 0;
        while (c < n_cells && !(key[c]->ctx == pl->ctx && key[c]->depth_index == pl->depth_index))
            c++;
        if (c == n_cells) {
            first[n_cells] = sl;
            key[n_cells++] = pl;
        }
        cn[c]++;
        ch[c] += sl->r.answer == sl->expected;
    }
    for (size_t c = 0; c < n_cells && cells; c++) {
        double lo, hi;
        kk_wilson95((double)ch[c], (double)cn[c], &lo, &hi);
        cJSON *o = ev_put_obj(b, cells, "cells[]");
        ev_put_i64(b, o, "ctx", key[c]->ctx);
        ev_put_num(b, o, "depth", key[c]->depth);
        ev_put_i64(b, o, "n", cn[c]);
        ev_put_i64(b, o, "hits", ch[c]);
        ev_put_num(b, o, "recall", (double)ch[c] / (double)cn[c]);
        ev_put_num(b, o, "recall_ci_lo", lo);
        ev_put_num(b, o, "recall_ci_hi", hi);
        /* the restore kind: what the cache held in this cell (KV_UNBOUNDED
         * compares them across contexts) */
        if (s->rs) {
            ev_put_u64(b, o, "kv_bytes_resident", first[c]->r.kv_bytes);
            if (s->rs->policy[arm].kind == KV_POLICY_S5)
                ev_put_u64(b, o, "kv_bytes_resident_sliding", first[c]->r.kv_bytes_sliding);
        }
    }
done:
    free(first);
    free(key);
    free(cn);
    free(ch);
}

/* The bytes a full F32 cache of m allocates for ctx tokens (kv_full_bytes:
 * the cache's own accounting). */
static size_t full_cache_bytes(const model *m, int64_t ctx)
{
    const model_hparams *hp = &m->hp;
    const kv_config cfg = {hp->n_layers, hp->n_kv_heads, hp->head_dim_k, hp->head_dim_v, ctx, 0};
    return kv_full_bytes(&cfg);
}

/* The restore kind: the median prefill of the run's first full-cache arm
 * (policy full, nothing masked), the cost baseline; 0 when none ran. */
static double full_arm_prefill(run_ctx *rc)
{
    const nstate *s = rc->kstate;
    const preset *p = rc->p;
    for (size_t a = 0; a < p->n_arms; a++) {
        if (s->rs->policy[a].kind != KV_POLICY_FULL || !run_arm_on(rc, a) ||
            preset_arm_field(p, &p->arms[a], "mask_needle")->i != 0)
            continue;
        const size_t n = run_arm_n_tasks(rc, a);
        double *v = run_calloc(rc, n ? n : 1, sizeof *v);
        if (!v)
            return 0.0;
        size_t k = 0;
        for (size_t i = 0; i < rc->n_tasks; i++)
            if (rc->tasks[i].arm == a && k < n)
                v[k++] = ((const nslot *)run_result_at(rc, i))->r.prefill_s;
        const double med = kk_median(v, k);
        free(v);
        return med;
    }
    return 0.0;
}

static kk_code arm_evidence(run_ctx *rc, size_t arm, ev_build *b, cJSON *aj, kk_err *err)
{
    const nstate *s = rc->kstate;
    const size_t n = run_arm_n_tasks(rc, arm);
    double bits = 0, rel_mse_gauss = 0;
    KK_TRY(gaussian_figures(rc, arm, &bits, &rel_mse_gauss, err));
    double *pre = run_calloc(rc, n, sizeof *pre);
    if (!pre)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for arm %s's %zu timings",
                          rc->p->arms[arm].name, n);
    int64_t hits = 0;
    double min_margin = INFINITY, ke = 0, kr = 0, ve = 0, vr = 0;
    uint64_t enc = 0, decd = 0, kvb = 0, escapes = 0, enc_bytes = 0;
    /* split arms: each side's counters ([0] K, [1] V) */
    uint64_t side_enc[2] = {0, 0}, side_dec[2] = {0, 0};
    const int split = s->split[arm];
    int64_t kvb_ctx = 0;
    size_t kvb_sliding = 0;
    int has_kv = 0;
    const int has_codec = s->has_codec[arm];
    rr_acc ra;
    memset(&ra, 0, sizeof ra);
    if (s->rs && rr_acc_init(rc, &ra, n, s->layer_window, err) != KK_OK) {
        free(pre);
        return err ? err->code : KK_E_NOMEM;
    }
    /* Built detached, attached in the skeleton's order below. */
    cJSON *samples = cJSON_CreateArray(), *fallbacks = cJSON_CreateArray();
    size_t k = 0;
    for (size_t i = 0; i < rc->n_tasks; i++) {
        const run_task *t = &rc->tasks[i];
        const nplan *pl = run_plan_at(rc, i);
        const nslot *sl = run_result_at(rc, i);
        const niah_result *r = &sl->r;
        if (t->arm != arm)
            continue;
        const int hit = r->answer == sl->expected;
        hits += hit;
        if (r->margin < min_margin)
            min_margin = r->margin;
        pre[k++] = r->prefill_s;
        enc += r->k_stats.values_encoded + r->v_stats.values_encoded;
        escapes += r->k_stats.norm_escapes + r->v_stats.norm_escapes;
        enc_bytes += r->k_stats.bytes_encoded + r->v_stats.bytes_encoded;
        side_enc[0] += r->k_stats.values_encoded;
        side_enc[1] += r->v_stats.values_encoded;
        side_dec[0] += r->k_stats.values_decoded;
        side_dec[1] += r->v_stats.values_decoded;
        decd += r->k_stats.values_decoded + r->v_stats.values_decoded;
        if (r->has_kv_err) {
            has_kv = 1;
            ke += r->k_err;
            kr += r->k_ref;
            ve += r->v_err;
            vr += r->v_ref;
        }
        /* metrics.kv_bytes_resident: the cache of a sample at the arm's
         * largest context (the first such sample). */
        if (pl->ctx > kvb_ctx) {
            kvb_ctx = pl->ctx;
            kvb = r->kv_bytes;
            kvb_sliding = r->kv_bytes_sliding;
        }
        if (s->rs)
            rr_acc_add(&ra, r, pl->ctx);
        if (sl->fallback[0]) {
            int seen = 0;
            const cJSON *f;
            cJSON_ArrayForEach(f, fallbacks) seen |= !strcmp(f->valuestring, sl->fallback);
            if (!seen)
                ev_put_str(b, fallbacks, "fallbacks_taken[]", sl->fallback);
        }
        cJSON *o = ev_put_obj(b, samples, "samples[]");
        ev_put(b, o, "index", cJSON_CreateNumber((double)t->sample));
        ev_put_i64(b, o, "ctx", pl->ctx);
        ev_put_num(b, o, "depth", pl->depth);
        ev_put_u64(b, o, "seed", t->seed);
        ev_put_bool(b, o, "hit", hit);
        ev_put_num(b, o, "margin", r->margin);
        ev_put(b, o, "expected", cJSON_CreateNumber(sl->expected));
        ev_put(b, o, "answer", cJSON_CreateNumber(r->answer));
        ev_put(b, ev_put_arr(b, o, "ids"), "ids[]", cJSON_CreateNumber(r->answer));
        ev_put_num(b, o, "prefill_s", r->prefill_s);
        ev_put_num(b, o, "decode_s", 0.0);
        ev_put_i64(b, o, "tokens_decoded", 0);
        /* The counters' parts: the gate checks that they add up to the
         * arm's (INCONSISTENT). */
        if (has_codec) {
            ev_put_u64(b, o, "values_encoded",
                       r->k_stats.values_encoded + r->v_stats.values_encoded);
            ev_put_u64(b, o, "values_decoded",
                       r->k_stats.values_decoded + r->v_stats.values_decoded);
            if (split) {
                ev_put_u64(b, o, "values_encoded_k", r->k_stats.values_encoded);
                ev_put_u64(b, o, "values_decoded_k", r->k_stats.values_decoded);
                ev_put_u64(b, o, "values_encoded_v", r->v_stats.values_encoded);
                ev_put_u64(b, o, "values_decoded_v", r->v_stats.values_decoded);
            }
        }
        if (s->rs)
            rr_put_sample(&ra, r, b, o);
    }
    /* metrics: only what preset, model and seed determine */
    cJSON *m = ev_put_obj(b, aj, "metrics");
    if (n) {
        double lo, hi;
        kk_wilson95((double)hits, (double)n, &lo, &hi);
        ev_put_num(b, m, "recall", (double)hits / (double)n);
        ev_put_num(b, m, "recall_ci_lo", lo);
        ev_put_num(b, m, "recall_ci_hi", hi);
        ev_put_i64(b, m, "n", (int64_t)n);
        ev_put_i64(b, m, "hits", hits);
        ev_put_num(b, m, "min_margin", min_margin);
        put_cells(rc, arm, b, m);
    }
    if (has_kv) {
        ev_put_num(b, m, "rel_mse_k", kr > 0 ? ke / kr : 0);
        ev_put_num(b, m, "rel_mse_v", vr > 0 ? ve / vr : 0);
    }
    ev_put_u64(b, m, "kv_bytes_resident", kvb);
    if (s->rs) {
        /* what a full F32 cache allocates at the same context (KV saved =
         * 1 - resident / full) */
        const size_t full = full_cache_bytes(s->m, kvb_ctx);
        if (s->rs->policy[arm].kind == KV_POLICY_S5)
            ev_put_u64(b, m, "kv_bytes_resident_sliding", kvb_sliding);
        ev_put_u64(b, m, "kv_bytes_full_equiv", full);
        ev_put_num(b, m, "kv_saved_fraction", full ? 1.0 - (double)kvb / (double)full : 0.0);
        rr_put_metrics(s->rs, arm, &ra, b, m);
    }
    ev_put_num(b, m, "bits_per_value", bits);
    /* the rate the model's own K/V rows cost (the bytes the codecs wrote
     * over the values they took): bits_per_value for a fixed-rate codec,
     * data-dependent for e8ans */
    if (has_codec && enc > 0)
        ev_put_num(b, m, "bits_per_value_kv", 8.0 * (double)enc_bytes / (double)enc);
    ev_put_num(b, m, "rel_mse_gaussian", rel_mse_gauss);
    if (s->kld.on && s->kld.has[arm]) { /* run_kld.h */
        const kld_summary *ks = &s->kld.res[arm].sum;
        ev_put_num(b, m, "kld_mean", ks->mean);
        ev_put_num(b, m, "kld_p99", ks->p99);
        ev_put_num(b, m, "top1_agree", ks->top1_agree);
    }
    /* timings: wall clock, with its scope */
    cJSON *tm = ev_put_obj(b, aj, "timings");
    ev_put_str(b, tm, "scope", "prefill");
    ev_put_str(b, tm, "scope_note",
               s->rs ? "per sample: prefill_s covers fwd_run over the sample's ctx tokens "
                       "through the arm's cache (logits of the last position only), f_theta's "
                       "restoration inside the views (ftheta_s, part of prefill_s) and the "
                       "last-query probe; the proposer's pass (proposer_s) is outside it; "
                       "cost_vs_full_prefill = (prefill_s + proposer_s) / the full arm's "
                       "prefill_s; no token is decoded (decode_s 0)"
                     : "per sample: the clock covers fwd_run over the sample's ctx tokens "
                       "through the arm's cache (prefill, logits of the last position only); "
                       "emptying the cache, haystack generation, the argmax and the K/V error "
                       "are outside it; no token is decoded (decode_s 0)");
    const double pre_med = kk_median(pre, k);
    ev_put_num(b, tm, "prefill_s", pre_med);
    ev_put_num(b, tm, "decode_s", 0.0);
    ev_put_i64(b, tm, "tokens_decoded", 0);
    ev_put_arr(b, tm, "repeats");
    free(pre);
    if (s->rs)
        rr_put_timings(s->rs, arm, &ra, pre_med, full_arm_prefill(rc), b, tm);
    /* signals: counted by the components while they ran */
    cJSON *sg = ev_put_obj(b, aj, "signals");
    cJSON *ct = ev_put_obj(b, sg, "counters");
    if (has_codec) {
        ev_put_u64(b, ct, "values_encoded", enc);
        ev_put_u64(b, ct, "values_decoded", decd);
        /* K and V through different codecs: each side counted apart
         * (LIVENESS judges codec_k and codec_v on their own) */
        if (split) {
            ev_put_u64(b, ct, "values_encoded_k", side_enc[0]);
            ev_put_u64(b, ct, "values_decoded_k", side_dec[0]);
            ev_put_u64(b, ct, "values_encoded_v", side_enc[1]);
            ev_put_u64(b, ct, "values_decoded_v", side_dec[1]);
        }
    }
    if (s->rs && s->rs->mode[arm] != KV_RESTORE_NONE)
        rr_put_counters(&ra, b, ct);
    /* events: counts that may be 0 (LIVENESS never judges them) */
    if (has_codec)
        ev_put_u64(b, ev_put_obj(b, sg, "events"), "norm_escapes", escapes);
    ev_put(b, sg, "fallbacks_taken", fallbacks);
    cJSON *mem = ev_put_obj(b, sg, "memory");
    ev_put_u64(b, mem, "kv_bytes_allocated", kvb);
    ev_put_i64(b, mem, "kv_bytes_allocated_ctx", kvb_ctx);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        ev_put_u64(b, mem, "peak_rss_bytes", (uint64_t)ru.ru_maxrss * 1024u);
    add_derived_kv_bytes(b, s, mem, kvb_ctx, bits);
    if (s->rs && s->rs->mode[arm] != KV_RESTORE_NONE)
        rr_put_memory(&ra, b, mem);
    rr_acc_free(&ra);
    ev_put(b, aj, "samples", samples);
    return KK_OK;
fail:
    return err && err->code ? err->code : KK_E_INTERNAL;
}

static void finish(run_ctx *rc)
{
    nstate_free(rc->kstate);
    rc->kstate = NULL;
}

const run_ops run_niah_ops = {
    .prepare = prepare,
    .plan_size = sizeof(nplan),
    .result_size = sizeof(nslot),
    .worker_init = worker_init,
    .worker_free = worker_free,
    .task = task,
    .arm_evidence = arm_evidence,
    .finish = finish,
};
