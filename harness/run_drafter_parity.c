/* run_drafter_parity: see run_drafter_parity.h. */
#include "run_drafter_parity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_model.h"
#include "cli_env.h"
#include "evidence.h"
#include "forward.h"
#include "gguf.h"
#include "gguf_convert.h"
#include "kk_file.h"
#include "kk_rand.h"
#include "kk_stats.h"
#include "kv.h"
#include "model.h"
#include "ops.h"
#include "sha256.h"
#include "spec.h"
#include "spec_parity.h"
#include "tokenizer.h"

/* Story openings (the drafter is a story model by default); ids come from
 * the model's tokenizer. */
static const char *const PROMPTS[] = {
    "Once upon a time, there was a little girl named Lily.",
    "Tom had a big red ball. One day he",
    "The sun was hot and the dog wanted to",
    "Sara and Ben went to the park with their mom.",
    "There was a small bird who could not fly.",
    "One day, a boy found a shiny box under his bed.",
    "Mia liked to draw. She drew a cat, a",
    "The old tree in the garden was very tall and",
};
#define N_PROMPTS (sizeof PROMPTS / sizeof PROMPTS[0])
/* Incremental check: rounds and drafts per round. */
#define DP_ROUNDS 24
#define DP_MAX_DRAFT 6

enum { V_F32, V_F16, V_BF16, V_Q8_0, V_KV_F16, V_PERTURBED, N_VARIANTS };
static const char *const VARIANT_NAMES[N_VARIANTS] = {"f32", "f16", "bf16", "q8_0", "kv_f16",
                                                      "perturbed"};

typedef struct dp_meas {
    int64_t n;                     /* positions compared (teacher) */
    spec_parity_pos pos[RUN_DP_MAX_N];
    float bound_err[RUN_DP_MAX_N]; /* bound_from's |logit difference| (its arms) */
    int has_bound;
    int64_t first_divergence;      /* free-running: -1 none */
    int64_t first_teacher_mismatch;/* -1 none */
    int64_t compared, mismatches;  /* incremental */
} dp_meas;

typedef struct dp_state {
    char path[4096], sha[65];
    uint8_t *bufs[N_VARIANTS];     /* in-memory variants (NULL: the file / unused) */
    gguf_file *files[N_VARIANTS];
    model *models[N_VARIANTS];
    gguf_file *file;               /* the F32 file */
    int32_t *prompts[N_PROMPTS];
    size_t n_prompts[N_PROMPTS];
    int64_t n;                     /* tokens per prompt */
} dp_state;

static const char *arm_s(const preset *p, size_t a, const char *key)
{
    const preset_field *f = preset_arm_field(p, &p->arms[a], key);
    return f && f->s ? f->s : "";
}

static int variant_of(const preset *p, size_t a)
{
    for (int v = 0; v < N_VARIANTS; v++)
        if (!strcmp(arm_s(p, a, "variant"), VARIANT_NAMES[v]))
            return v;
    return V_F32;
}

/* The variant whose measured error sets the arm's near-tie bound: its own,
 * or `bound_from` (the perturbed control names a real precision, so its
 * mismatches are judged against what that precision's rounding moves). */
static int bound_variant(const preset *p, size_t a)
{
    const char *b = arm_s(p, a, "bound_from");
    for (int v = 0; v < N_VARIANTS; v++)
        if (!strcmp(b, VARIANT_NAMES[v]))
            return v;
    return variant_of(p, a);
}

static int is_incremental(const preset *p, size_t a)
{
    return !strcmp(arm_s(p, a, "check"), "incremental");
}

/* ---- prepare ----------------------------------------------------------------------- */

/* fixture:REL, bench:NAME or a path into out. */
static kk_code resolve(const char *src, dp_state *s, kk_err *err)
{
    if (!strncmp(src, "fixture:", 8)) {
        char dir[4096];
        const int found = kk_fixtures_dir(dir, sizeof dir);
        const int n = snprintf(s->path, sizeof s->path, "%.2000s/%.2000s", dir, src + 8);
        if (n < 0 || (size_t)n >= sizeof s->path || strlen(dir) > 2000 || strlen(src) > 2008) {
            kk_err_set(err, KK_E_RANGE, "model '%.60s...': the path is too long", src);
            return kk_err_where(err, "model");
        }
        if (!found) {
            kk_err_set(err, KK_E_MISSING, "model '%s': the fixtures folder %s does not exist (set "
                       "KAKEYA_FIXTURES, or give a GGUF path)", src, dir);
            return kk_err_where(err, "model");
        }
        return KK_OK;
    }
    if (!strncmp(src, "bench:", 6)) {
        char cache[4096], dir[4200];
        KK_TRY(cli_env_cache_dir(cache, sizeof cache, err));
        snprintf(dir, sizeof dir, "%s/%s", cache, BENCH_MODEL_SUBDIR);
        return bench_model_ensure(dir, src + 6, DTYPE_F32, s->path, sizeof s->path, NULL, err);
    }
    snprintf(s->path, sizeof s->path, "%s", src);
    return KK_OK;
fail:
    return err && err->code ? err->code : KK_E_INTERNAL;
}

/* The F32 file's bytes with every 2-D F32 tensor perturbed by seeded noise
 * of scale x its row's RMS (uniform, unit variance). */
static kk_code perturbed_copy(const dp_state *s, double scale, uint64_t seed, uint8_t **out,
                              size_t *len, kk_err *err)
{
    char *data = NULL;
    KK_TRY(kk_file_read_all(s->path, &data, len, err));
    *out = (uint8_t *)data;
    uint64_t rng = seed ^ 0x7065727475726221ULL; /* the perturbation's own stream */
    for (uint64_t i = 0; i < s->file->n_tensors; i++) {
        const gguf_tensor *t = &s->file->tensors[i];
        if (t->n_dims != 2 || t->type != DTYPE_F32)
            continue;
        uint8_t *base = *out + s->file->data_offset + t->offset;
        const uint64_t cols = t->ne[0], rows = t->ne[1];
        for (uint64_t r = 0; r < rows; r++) {
            float *row = (float *)(void *)(base + r * cols * 4);
            double ss = 0.0;
            for (uint64_t c = 0; c < cols; c++)
                ss += (double)row[c] * row[c];
            const double rms = sqrt(ss / (double)cols);
            for (uint64_t c = 0; c < cols; c++) {
                const double u = (double)(kk_splitmix64(&rng) >> 11) * 0x1.0p-53 * 2.0 - 1.0;
                row[c] += (float)(scale * rms * u * 1.7320508075688772);
            }
        }
    }
    return KK_OK;
fail:
    return err && err->code ? err->code : KK_E_IO;
}

static kk_code load_variant(run_ctx *rc, dp_state *s, int v, kk_err *err)
{
    if (s->models[v])
        return KK_OK;
    size_t len = 0;
    const gguf_file *f = s->file;
    if (v == V_F16 || v == V_BF16 || v == V_Q8_0) {
        const dtype_t t = v == V_F16 ? DTYPE_F16 : v == V_BF16 ? DTYPE_BF16 : DTYPE_Q8_0;
        KK_TRY(gguf_convert_to_buffer(s->file, t, &s->bufs[v], &len, err));
    } else if (v == V_PERTURBED) {
        KK_TRY(perturbed_copy(s, preset_get_float(rc->p, "perturb"), rc->seed, &s->bufs[v], &len,
                              err));
    }
    if (s->bufs[v]) {
        KK_TRY(gguf_parse_buffer(&s->files[v], s->bufs[v], len, VARIANT_NAMES[v], err));
        f = s->files[v];
    }
    KK_TRY(model_load(&s->models[v], f, err));
    model_set_act(s->models[v], OPS_ACT_GGML);
    return KK_OK;
fail:
    return err && err->code ? err->code : KK_E_INTERNAL;
}

static kk_code prepare(run_ctx *rc, kk_err *err)
{
    const preset *p = rc->p;
    dp_state *s = calloc(1, sizeof *s);
    if (!s)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    rc->kstate = s;
    s->n = preset_get_int(p, "n");
    KK_TRY(resolve(preset_get_str(p, "model"), s, err));
    KK_TRY(sha256_file_hex(s->path, s->sha, err));
    KK_TRY(gguf_open(&s->file, s->path, err));
    tok *t = NULL;
    KK_TRY(tok_init_from_gguf(&t, s->file, err));
    const int64_t np = preset_get_int(p, "prompts");
    kk_code code = KK_OK;
    for (int64_t i = 0; i < np && code == KK_OK; i++)
        code = tok_encode(t, PROMPTS[i], strlen(PROMPTS[i]), tok_add_bos(t), &s->prompts[i],
                          &s->n_prompts[i], err);
    tok_free(t);
    if (code != KK_OK)
        return code;
    KK_TRY(load_variant(rc, s, V_F32, err));
    KK_CHECK((int64_t)s->n_prompts[0] + s->n + DP_ROUNDS * (DP_MAX_DRAFT + 1) + 8 <=
                 s->models[V_F32]->hp.n_ctx_train,
             err, KK_E_RANGE, "n %lld: the prompts and generation exceed the model's context %d",
             (long long)s->n, (int)s->models[V_F32]->hp.n_ctx_train);
    for (size_t a = 0; a < p->n_arms; a++) {
        if (!run_arm_on(rc, a))
            continue;
        KK_TRY(load_variant(rc, s, variant_of(p, a), err));
        KK_TRY(load_variant(rc, s, bound_variant(p, a), err));
        for (int64_t i = 0; i < np; i++) {
            run_task tk = {.arm = a, .sample = (size_t)i, .seed = rc->seed + (uint64_t)i};
            KK_TRY(run_add_task(rc, &tk, NULL, err));
        }
    }
    ev_build b;
    ev_build_init(&b, err);
    rc->models = cJSON_CreateArray();
    if (!rc->models)
        ev_put(&b, NULL, "models", NULL);
    cJSON *mo = ev_put_obj(&b, rc->models, "models[]");
    ev_put_str(&b, mo, "role", "drafter");
    ev_put_str(&b, mo, "source", s->path);
    ev_put_str(&b, mo, "sha256", s->sha);
    ev_put_str(&b, mo, "architecture", s->models[V_F32]->arch_name);
    ev_put_str(&b, mo, "variants", "f16, bf16 and q8_0 converted in memory (gguf_convert); "
                                   "perturbed: F32 plus seeded noise");
    return ev_build_end(&b, &rc->models);
fail:
    return err && err->code ? err->code : KK_E_INTERNAL;
}

/* ---- a task ----------------------------------------------------------------------- */

typedef struct dp_run {
    kv_cache *kv;
    fwd_state *st;
} dp_run;

static kk_code open_run(const model *m, bool f16, int64_t cap, dp_run *r, kk_err *err)
{
    const kv_config cfg = {m->hp.n_layers, m->hp.n_kv_heads, m->hp.head_dim_k, m->hp.head_dim_v,
                           cap, 0};
    kk_code rc = f16 ? kv_full_f16_init(&r->kv, &cfg, err) : kv_full_init(&r->kv, &cfg, err);
    if (rc == KK_OK)
        rc = fwd_init(&r->st, m, cap < 256 ? cap : 256, cap, err);
    return rc;
}

static void close_run(dp_run *r)
{
    fwd_free(r->st);
    kv_free(r->kv);
}

static kk_code task(run_ctx *rc, void *w, size_t i, kk_err *err)
{
    (void)w;
    const dp_state *s = rc->kstate;
    const run_task *t = &rc->tasks[i];
    dp_meas *m = run_result_at(rc, i);
    const int v = variant_of(rc->p, t->arm);
    const model *ref = s->models[V_F32], *var = s->models[v];
    const bool var_f16 = v == V_KV_F16;
    const int32_t *prompt = s->prompts[t->sample];
    const size_t np = s->n_prompts[t->sample];
    const int64_t cap = (int64_t)np + s->n + DP_ROUNDS * (DP_MAX_DRAFT + 1) + 8;
    m->first_divergence = m->first_teacher_mismatch = -1;
    if (is_incremental(rc->p, t->arm))
        return spec_parity_incremental(var, var_f16, prompt, np, DP_ROUNDS, DP_MAX_DRAFT, t->seed,
                                       cap, &m->compared, &m->mismatches, err);
    dp_run a = {0}, b = {0};
    int32_t *ids = malloc((size_t)s->n * sizeof *ids), *vids = malloc((size_t)s->n * sizeof *ids);
    size_t n_ids = 0, n_vids = 0;
    kk_code code = ids && vids ? KK_OK : kk_err_set(err, KK_E_NOMEM, "out of memory");
    if (code == KK_OK)
        code = open_run(ref, false, cap, &a, err);
    if (code == KK_OK)
        code = open_run(var, var_f16, cap, &b, err);
    /* free-running: both models greedy, no end-of-text stop */
    if (code == KK_OK)
        code = spec_greedy_ar(a.st, a.kv, ref, prompt, np, s->n, -1, ids, &n_ids, NULL, NULL, err);
    if (code == KK_OK)
        code = spec_greedy_ar(b.st, b.kv, var, prompt, np, s->n, -1, vids, &n_vids, NULL, NULL,
                              err);
    for (size_t k = 0; code == KK_OK && k < n_ids && m->first_divergence < 0; k++)
        if (k >= n_vids || ids[k] != vids[k])
            m->first_divergence = (int64_t)k;
    /* teacher-forced: the reference's ids fed to both */
    if (code == KK_OK)
        code = kv_truncate(a.kv, 0, err);
    if (code == KK_OK)
        code = kv_truncate(b.kv, 0, err);
    if (code == KK_OK)
        code = spec_parity_teacher(a.st, a.kv, ref, b.st, b.kv, var, prompt, np, ids,
                                   (int64_t)n_ids, m->pos, err);
    if (code == KK_OK) {
        m->n = (int64_t)n_ids;
        for (int64_t k = 0; k < m->n; k++) {
            /* the invariant batch gives the reference its greedy ids exactly */
            if (m->pos[k].ref != ids[k])
                code = kk_err_set(err, KK_E_INTERNAL, "parity: the reference's teacher-forced "
                                  "argmax at %lld is %d, its greedy id %d", (long long)k,
                                  (int)m->pos[k].ref, (int)ids[k]);
            if (m->first_teacher_mismatch < 0 && m->pos[k].var != m->pos[k].ref)
                m->first_teacher_mismatch = k;
        }
    }
    /* the bound's variant on the same teacher ids */
    const int bv = bound_variant(rc->p, t->arm);
    if (code == KK_OK && bv != v) {
        dp_run c = {0};
        spec_parity_pos *tmp = malloc((size_t)RUN_DP_MAX_N * sizeof *tmp);
        code = tmp ? kv_truncate(a.kv, 0, err) : kk_err_set(err, KK_E_NOMEM, "out of memory");
        if (code == KK_OK)
            code = open_run(s->models[bv], bv == V_KV_F16, cap, &c, err);
        if (code == KK_OK)
            code = spec_parity_teacher(a.st, a.kv, ref, c.st, c.kv, s->models[bv], prompt, np, ids,
                                       (int64_t)n_ids, tmp, err);
        for (size_t k = 0; code == KK_OK && k < n_ids; k++)
            m->bound_err[k] = tmp[k].err;
        m->has_bound = code == KK_OK;
        close_run(&c);
        free(tmp);
    }
    close_run(&a);
    close_run(&b);
    free(ids);
    free(vids);
    return code;
}

/* ---- an arm's evidence ------------------------------------------------------------ */

static kk_code arm_evidence(run_ctx *rc, size_t arm, ev_build *b, cJSON *a, kk_err *err)
{
    const preset *p = rc->p;
    const int inc = is_incremental(p, arm);
    size_t total = 0;
    for (size_t i = 0; i < rc->n_tasks; i++)
        if (rc->tasks[i].arm == arm)
            total += (size_t)((const dp_meas *)run_result_at(rc, i))->n;
    double *errs = run_calloc(rc, total ? total : 1, sizeof *errs);
    if (!errs)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    size_t k = 0;
    int64_t agree = 0, compared = 0, mism = 0, diverged = 0, consistent = 0, prompts = 0;
    int64_t first = -1;
    for (size_t i = 0; i < rc->n_tasks; i++) {
        if (rc->tasks[i].arm != arm)
            continue;
        const dp_meas *m = run_result_at(rc, i);
        prompts++;
        compared += m->compared;
        mism += m->mismatches;
        for (int64_t j = 0; j < m->n; j++) {
            errs[k++] = m->has_bound ? m->bound_err[j] : m->pos[j].err;
            agree += m->pos[j].var == m->pos[j].ref;
        }
        if (m->first_divergence >= 0) {
            diverged++;
            if (first < 0 || m->first_divergence < first)
                first = m->first_divergence;
        }
        /* free-running output leaves the reference exactly where teacher
         * forcing first disagrees: the same context, the same logits */
        consistent += m->first_divergence == m->first_teacher_mismatch;
    }
    const double bound = 2.0 * kk_percentile(errs, total, 0.99);
    int64_t near = 0, hard = 0;
    for (size_t i = 0; i < rc->n_tasks; i++) {
        if (rc->tasks[i].arm != arm)
            continue;
        const dp_meas *m = run_result_at(rc, i);
        for (int64_t j = 0; j < m->n; j++)
            if (m->pos[j].var != m->pos[j].ref) {
                if ((double)m->pos[j].margin < bound)
                    near++;
                else
                    hard++;
            }
    }
    cJSON *mt = ev_put_obj(b, a, "metrics");
    if (inc) {
        ev_put_i64(b, mt, "drafts_compared", compared);
        ev_put_i64(b, mt, "mismatches_vs_scratch", mism);
    } else {
        ev_put_i64(b, mt, "positions", (int64_t)total);
        ev_put_i64(b, mt, "agreements", agree);
        ev_put_num(b, mt, "agreement_rate", total ? (double)agree / (double)total : 0.0);
        ev_put_i64(b, mt, "first_divergence", first);
        ev_put_i64(b, mt, "prompts_diverged", diverged);
        ev_put_i64(b, mt, "mismatches_near_tie", near);
        ev_put_i64(b, mt, "mismatches_hard", hard);
        ev_put_num(b, mt, "near_tie_bound", bound);
        ev_put_i64(b, mt, "prefix_consistent", consistent);
    }
    ev_put_i64(b, mt, "prompts", prompts);
    cJSON *tm = ev_put_obj(b, a, "timings");
    ev_put_str(b, tm, "scope", "none");
    cJSON *sg = ev_put_obj(b, a, "signals");
    cJSON *ct = ev_put_obj(b, sg, "counters");
    ev_put_i64(b, ct, inc ? "tokens_drafted" : "positions_compared", inc ? compared : (int64_t)total);
    ev_put_arr(b, sg, "fallbacks_taken");
    ev_put_obj(b, sg, "memory");
    cJSON *sa = ev_put_arr(b, a, "samples");
    for (size_t i = 0; i < rc->n_tasks; i++) {
        if (rc->tasks[i].arm != arm)
            continue;
        const dp_meas *m = run_result_at(rc, i);
        cJSON *o = ev_put_obj(b, sa, "samples[]");
        ev_put_i64(b, o, "index", (int64_t)rc->tasks[i].sample);
        if (inc) {
            ev_put_i64(b, o, "drafts_compared", m->compared);
            ev_put_i64(b, o, "mismatches_vs_scratch", m->mismatches);
            continue;
        }
        int64_t ag = 0;
        for (int64_t j = 0; j < m->n; j++)
            ag += m->pos[j].var == m->pos[j].ref;
        ev_put_i64(b, o, "positions", m->n);
        ev_put_i64(b, o, "agreements", ag);
        ev_put_i64(b, o, "first_divergence", m->first_divergence);
        ev_put_i64(b, o, "first_teacher_mismatch", m->first_teacher_mismatch);
    }
    free(errs);
    return KK_OK;
}

static void finish(run_ctx *rc)
{
    dp_state *s = rc->kstate;
    if (!s)
        return;
    for (int v = 0; v < N_VARIANTS; v++) {
        model_free(s->models[v]);
        gguf_close(s->files[v]);
        free(s->bufs[v]);
    }
    for (size_t i = 0; i < N_PROMPTS; i++)
        free(s->prompts[i]);
    gguf_close(s->file);
    free(s);
    rc->kstate = NULL;
}

const run_ops run_drafter_parity_ops = {
    .prepare = prepare,
    .result_size = sizeof(dp_meas),
    .task = task,
    .arm_evidence = arm_evidence,
    .finish = finish,
};
