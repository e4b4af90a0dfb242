/* run_spec_decode: see run_spec_decode.h. */
#include "run_spec_decode.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_model.h"
#include "cli_env.h"
#include "drafter.h"
#include "evidence.h"
#include "forward.h"
#include "gguf.h"
#include "kk_file.h"
#include "kk_rand.h"
#include "kk_stats.h"
#include "kv.h"
#include "model.h"
#include "ops.h"
#include "run_child.h"
#include "sha256.h"
#include "spec.h"
#include "synth.h"
#include "tokenizer.h"

/* The child's reply: counts, seconds and up to RUN_SD_MAX_N ids. */
#define SD_REPLY_MAX (256 + RUN_SD_MAX_N * 12)
/* Warm-up: the arm's own loop on another prompt, this many tokens. */
#define SD_WARM_N 32
/* The copy workloads' prompt: BOS, SD_COPY_L distinct tokens, the first
 * SD_COPY_K of them again. */
#define SD_COPY_L 64
#define SD_COPY_K 8

static const char *const STORIES_NATURAL =
    "Once upon a time, there was a little girl named Lily. She loved to play";
static const char *const STORIES_REPETITIVE =
    "The cat sat on the mat. The cat sat on the mat. The cat sat on the mat. The cat";
static const char *const STORIES_WARM = "Tom had a red ball. He liked to throw it";

/* What one task (a fresh process) measured. */
typedef struct sd_meas {
    int64_t emitted, blocks, blocks_proposed, blocks_accepted, drafted, accepted;
    int64_t drafter_tokens;   /* tokens the drafter's own passes ran */
    double load_s, prefill_s, decode_s, draft_s, verify_s, rollback_s;
    int checked;              /* repeat 0: compared with plain decoding */
    int64_t mismatches;       /* positions where the ids differ from AR's */
    int64_t first_mismatch;   /* -1: none */
    int ended_eos;            /* stopped before n at the end-of-text token */
    uint64_t ids_hash;        /* FNV-1a of the ids */
    uint64_t peak_rss;
    int32_t n_ids;
    int32_t ids[RUN_SD_MAX_N]; /* repeat 0 */
} sd_meas;

/* A model file the run uses, once. */
typedef struct sd_file {
    char path[4096];
    char sha[65];
    char arch[64];
    char role[16];            /* target | drafter */
    char source[128];         /* how the preset named it */
} sd_file;

#define SD_MAX_FILES 16

/* What an arm resolves to. */
typedef struct sd_arm {
    int target;               /* index into files */
    char drafter[4300];       /* model:FILE resolved to a path */
    int drafter_file;         /* -1: none */
    int32_t *prompt, *warm;
    size_t n_prompt, n_warm;
    int32_t eos;              /* -1: forced (or no end-of-text token) */
    int64_t n;                /* tokens to generate: the arm's n, or less at a
                                 natural end (stories: the next story) */
} sd_arm;

typedef struct sd_state {
    sd_file files[SD_MAX_FILES];
    int n_files;
    sd_arm *arms;             /* p->n_arms */
    char cache_dir[4096];
} sd_state;

/* ---- arms ------------------------------------------------------------------------ */

static const char *arm_s(const preset *p, size_t a, const char *key)
{
    const preset_field *f = preset_arm_field(p, &p->arms[a], key);
    return f && f->s ? f->s : "";
}

static int64_t arm_i(const preset *p, size_t a, const char *key)
{
    const preset_field *f = preset_arm_field(p, &p->arms[a], key);
    return f ? f->i : 0;
}

static int is_ar(const preset *p, size_t a) { return !strcmp(arm_s(p, a, "drafter"), "none"); }

/* Arms a and b time the same generation (their speeds compare). */
static int same_cell(const preset *p, size_t a, size_t b)
{
    static const char *const keys[] = {"workload", "weights", "stop", "kv"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (strcmp(arm_s(p, a, keys[k]), arm_s(p, b, keys[k])) != 0)
            return 0;
    return arm_i(p, a, "n") == arm_i(p, b, "n") && arm_i(p, a, "threads") == arm_i(p, b, "threads");
}

int run_spec_decode_drafter_ok(const char *val, char *why, size_t cap)
{
    drafter d;
    kk_err e;
    if (drafter_parse("drafter", val, 8, &d, &e) == KK_OK)
        return 0;
    snprintf(why, cap, "%s", e.msg);
    return 1;
}

kk_code run_spec_decode_check(const preset *p, kk_err *err)
{
    for (size_t a = 0; a < p->n_arms; a++) {
        if (is_ar(p, a))
            continue;
        int found = 0;
        for (size_t b = 0; b < p->n_arms && !found; b++)
            found = is_ar(p, b) && same_cell(p, a, b);
        if (!found) {
            kk_err_set(err, KK_E_RANGE, "arm %s runs drafter \"%s\" but no arm with drafter: none "
                       "decodes the same workload, weights, n, stop, kv and threads (allowed: "
                       "every drafter arm has its autoregressive arm in the preset)",
                       p->arms[a].name, arm_s(p, a, "drafter"));
            char w[300];
            snprintf(w, sizeof w, "arms[%zu].drafter", a);
            kk_err_where(err, w);
            kk_err_linecol(err, p->arms[a].line, p->arms[a].col);
            return kk_err_file(err, p->file);
        }
    }
    return KK_OK;
}

/* ---- prepare ---------------------------------------------------------------------- */

static void free_state(sd_state *s, size_t n_arms)
{
    if (!s)
        return;
    for (size_t a = 0; s->arms && a < n_arms; a++) {
        free(s->arms[a].prompt);
        free(s->arms[a].warm);
    }
    free(s->arms);
    free(s);
}

/* The file of source `src` (bench:NAME[-TYPE] or fixture:REL or a path)
 * registered once; *idx its index. */
static kk_code add_file(sd_state *s, const char *src, const char *role, int *idx, kk_err *err)
{
    char path[4096];
    if (!strncmp(src, "bench:", 6)) {
        char name[64];
        snprintf(name, sizeof name, "%s", src + 6);
        dtype_t t = DTYPE_F32;
        char *dash = strrchr(name, '-');
        if (dash && bench_model_type_parse(dash + 1, &t, NULL) == KK_OK)
            *dash = '\0';
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/%s", s->cache_dir, BENCH_MODEL_SUBDIR);
        KK_TRY(bench_model_ensure(dir, name, t, path, sizeof path, NULL, err));
    } else if (!strncmp(src, "fixture:", 8)) {
        char dir[4096];
        const int found = kk_fixtures_dir(dir, sizeof dir);
        const int n = snprintf(path, sizeof path, "%s/%s", dir, src + 8);
        KK_CHECK(n > 0 && (size_t)n < sizeof path, err, KK_E_RANGE, "%s: the path is too long",
                 src);
        KK_CHECK(found, err, KK_E_MISSING, "model %s: the fixtures folder %s does not exist (set "
                 "KAKEYA_FIXTURES)", src, dir);
    } else {
        snprintf(path, sizeof path, "%s", src);
    }
    for (int i = 0; i < s->n_files; i++)
        if (!strcmp(s->files[i].path, path)) {
            *idx = i;
            return KK_OK;
        }
    KK_CHECK(s->n_files < SD_MAX_FILES, err, KK_E_LIMIT,
             "more than %d model files in one run", SD_MAX_FILES);
    sd_file *f = &s->files[s->n_files];
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->role, sizeof f->role, "%s", role);
    snprintf(f->source, sizeof f->source, "%s", src);
    KK_TRY(sha256_file_hex(f->path, f->sha, err));
    *idx = s->n_files++;
    return KK_OK;
fail:
    return err && err->code ? err->code : KK_E_IO;
}

/* The workload's model source for these weights. */
static const char *workload_source(const char *workload, const char *weights, char *buf,
                                   size_t cap)
{
    if (!strncmp(workload, "stories", 7))
        snprintf(buf, cap, "fixture:models/stories260K%s.gguf",
                 !strcmp(weights, "q8_0") ? "-q8_0" : "");
    else
        snprintf(buf, cap, "bench:%s-%s", workload, weights);
    return buf;
}

/* BOS, SD_COPY_L distinct tokens (a seeded permutation of 2..255), the
 * first SD_COPY_K again: the copy model continues the cycle. */
static int32_t *copy_prompt(uint64_t seed, size_t *n)
{
    int32_t perm[SYNTH_N_VOCAB - 2];
    for (int i = 0; i < SYNTH_N_VOCAB - 2; i++)
        perm[i] = 2 + i;
    uint64_t st = seed;
    for (int i = SYNTH_N_VOCAB - 3; i > 0; i--) {
        const int j = (int)(kk_splitmix64(&st) % (uint64_t)(i + 1));
        const int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int32_t *ids = malloc((1 + SD_COPY_L + SD_COPY_K) * sizeof *ids);
    if (!ids)
        return NULL;
    ids[0] = SYNTH_TOK_BOS;
    for (int i = 0; i < SD_COPY_L; i++)
        ids[1 + i] = perm[i];
    for (int i = 0; i < SD_COPY_K; i++)
        ids[1 + SD_COPY_L + i] = perm[i];
    *n = 1 + SD_COPY_L + SD_COPY_K;
    return ids;
}

/* stories260K never emits its end-of-text token: after a story it starts
 * the next one ("Once upon a time" again), and a drafter that copies the
 * earlier story then looks better than it is (generating past the natural
 * end). A natural stop ends the arm where plain greedy decoding starts
 * the next story (or at end-of-text); forced generates all n tokens. */
static const char *const STORIES_NEXT = "Once upon a time";

static kk_code natural_end(gguf_file *f, const tok *t, sd_arm *ar, kk_err *err)
{
    int32_t *stop = NULL, *out = NULL;
    size_t n_stop = 0, n_out = 0;
    model *m = NULL;
    kv_cache *kv = NULL;
    fwd_state *st = NULL;
    kk_code rc = tok_encode(t, STORIES_NEXT, strlen(STORIES_NEXT), false, &stop, &n_stop, err);
    if (rc == KK_OK)
        rc = model_load(&m, f, err);
    const int64_t cap = (int64_t)ar->n_prompt + ar->n;
    if (rc == KK_OK) {
        model_set_act(m, OPS_ACT_GGML);
        const kv_config cfg = {m->hp.n_layers, m->hp.n_kv_heads, m->hp.head_dim_k,
                               m->hp.head_dim_v, cap, 0};
        rc = kv_full_init(&kv, &cfg, err);
    }
    if (rc == KK_OK)
        rc = fwd_init(&st, m, cap < 512 ? cap : 512, cap, err);
    if (rc == KK_OK && !(out = malloc((size_t)ar->n * sizeof *out)))
        rc = kk_err_set(err, KK_E_NOMEM, "out of memory");
    if (rc == KK_OK)
        rc = spec_greedy_ar(st, kv, m, ar->prompt, ar->n_prompt, ar->n, ar->eos, out, &n_out,
                            NULL, NULL, err);
    if (rc == KK_OK) {
        ar->n = (int64_t)n_out; /* end-of-text, or n */
        for (size_t i = 0; n_stop > 0 && i + n_stop <= n_out; i++)
            if (!memcmp(out + i, stop, n_stop * sizeof *stop)) {
                ar->n = i > 1 ? (int64_t)i : 2;
                break;
            }
    }
    free(stop);
    free(out);
    fwd_free(st);
    kv_free(kv);
    model_free(m);
    return rc;
}

/* The arm's prompt, warm-up prompt and end-of-text id from its target. */
static kk_code arm_prompts(const preset *p, size_t a, sd_state *s, uint64_t seed, kk_err *err)
{
    sd_arm *ar = &s->arms[a];
    const char *w = arm_s(p, a, "workload");
    const int forced = !strcmp(arm_s(p, a, "stop"), "forced");
    ar->eos = -1;
    ar->n = arm_i(p, a, "n");
    if (!strncmp(w, "copy", 4)) {
        ar->prompt = copy_prompt(seed, &ar->n_prompt);
        ar->warm = copy_prompt(seed + 1, &ar->n_warm);
        KK_CHECK(ar->prompt && ar->warm, err, KK_E_NOMEM, "out of memory");
        return KK_OK;
    }
    gguf_file *f = NULL;
    tok *t = NULL;
    kk_code rc = gguf_open(&f, s->files[ar->target].path, err);
    if (rc == KK_OK)
        rc = tok_init_from_gguf(&t, f, err);
    const char *text = !strcmp(w, "stories-repetitive") ? STORIES_REPETITIVE : STORIES_NATURAL;
    if (rc == KK_OK)
        rc = tok_encode(t, text, strlen(text), tok_add_bos(t), &ar->prompt, &ar->n_prompt, err);
    if (rc == KK_OK)
        rc = tok_encode(t, STORIES_WARM, strlen(STORIES_WARM), tok_add_bos(t), &ar->warm,
                        &ar->n_warm, err);
    if (rc == KK_OK && !forced)
        ar->eos = tok_eos(t);
    if (rc == KK_OK && !forced)
        rc = natural_end(f, t, ar, err);
    tok_free(t);
    gguf_close(f);
    return rc;
fail:
    return err && err->code ? err->code : KK_E_INTERNAL;
}

static kk_code add_models(run_ctx *rc, sd_state *s, kk_err *err)
{
    ev_build b;
    ev_build_init(&b, err);
    rc->models = cJSON_CreateArray();
    if (!rc->models)
        ev_put(&b, NULL, "models", NULL);
    for (int i = 0; i < s->n_files; i++) {
        sd_file *f = &s->files[i];
        cJSON *mo = ev_put_obj(&b, rc->models, "models[]");
        ev_put_str(&b, mo, "role", f->role);
        ev_put_str(&b, mo, "source", f->path);
        ev_put_str(&b, mo, "sha256", f->sha);
        gguf_file *g = NULL;
        kk_err e;
        gguf_str arch;
        snprintf(f->arch, sizeof f->arch, "unknown");
        if (gguf_open(&g, f->path, &e) == KK_OK) {
            if (gguf_get_str(g, "general.architecture", &arch, NULL) == KK_OK)
                gguf_str_copy(arch, f->arch, sizeof f->arch);
            gguf_close(g);
        }
        ev_put_str(&b, mo, "architecture", f->arch);
        /* the copy models are constructed, stories260K is trained */
        ev_put_bool(&b, mo, "trained", strstr(f->source, "stories") != NULL);
        ev_put_str(&b, mo, "spec", f->source);
    }
    return ev_build_end(&b, &rc->models);
}

static kk_code prepare(run_ctx *rc, kk_err *err)
{
    const preset *p = rc->p;
    sd_state *s = calloc(1, sizeof *s);
    if (!s)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    rc->kstate = s;
    s->arms = calloc(p->n_arms ? p->n_arms : 1, sizeof *s->arms);
    KK_CHECK(s->arms, err, KK_E_NOMEM, "out of memory");
    /* timed processes one at a time, whatever --jobs says (the provenance
     * records 1) */
    rc->o.jobs = 1;
    KK_TRY(cli_env_cache_dir(s->cache_dir, sizeof s->cache_dir, err));
    const preset_param *wl = preset_find_param(p, "workloads");
    size_t on = 0;
    for (size_t a = 0; a < p->n_arms; a++) {
        if (!run_arm_on(rc, a))
            continue;
        int listed = 0;
        for (size_t i = 0; wl && i < wl->v.n; i++)
            listed |= !strcmp(wl->v.s[i], arm_s(p, a, "workload"));
        if (!listed) {
            rc->arm_on[a] = 0;
            continue;
        }
        on++;
        char src[128];
        sd_arm *ar = &s->arms[a];
        ar->drafter_file = -1;
        KK_TRY(add_file(s, workload_source(arm_s(p, a, "workload"), arm_s(p, a, "weights"), src,
                                           sizeof src),
                        "target", &ar->target, err));
        const char *d = arm_s(p, a, "drafter");
        snprintf(ar->drafter, sizeof ar->drafter, "%s", d);
        if (!strncmp(d, "model:", 6)) {
            KK_TRY(add_file(s, d + 6, "drafter", &ar->drafter_file, err));
            snprintf(ar->drafter, sizeof ar->drafter, "model:%s", s->files[ar->drafter_file].path);
        }
        KK_TRY(arm_prompts(p, a, s, rc->seed, err));
    }
    if (on == 0) {
        char t[256];
        preset_value_text(wl, t, sizeof t);
        kk_err_set(err, KK_E_RANGE, "no arm of preset %s (in this shard) has a workload in [%s]; "
                   "allowed: workloads that select at least one arm", p->name, t);
        return kk_err_where(err, "workloads");
    }
    KK_TRY(add_models(rc, s, err));
    /* Tasks: repeat r (outermost) runs the arms of each cell one after
     * another, the first rotating with r (engine_bench's interleaving). */
    const int64_t reps = preset_get_int(p, "repeats");
    unsigned char *done = calloc(p->n_arms ? p->n_arms : 1, 1);
    size_t *cell = calloc(p->n_arms ? p->n_arms : 1, sizeof *cell);
    kk_code code = done && cell ? KK_OK : kk_err_set(err, KK_E_NOMEM, "out of memory");
    for (size_t a0 = 0; a0 < p->n_arms && code == KK_OK; a0++) {
        if (!run_arm_on(rc, a0) || done[a0])
            continue;
        size_t n = 0;
        for (size_t a = a0; a < p->n_arms; a++)
            if (run_arm_on(rc, a) && !done[a] && same_cell(p, a, a0)) {
                cell[n++] = a;
                done[a] = 1;
            }
        for (int64_t r = 0; r < reps && code == KK_OK; r++)
            for (size_t j = 0; j < n && code == KK_OK; j++) {
                run_task t = {.arm = cell[(j + (size_t)r) % n], .sample = (size_t)r,
                              .seed = rc->seed};
                code = run_add_task(rc, &t, NULL, err);
            }
    }
    free(done);
    free(cell);
    malloc_trim(0);
    return code;
fail:
    return err && err->code ? err->code : KK_E_INTERNAL;
}

/* ---- the child ------------------------------------------------------------------- */

typedef struct sd_job {
    const char *file, *drafter;
    int block, threads, kv_f16, verify_default, check;
    int64_t n;
    int32_t eos;
    const int32_t *prompt, *warm;
    size_t n_prompt, n_warm;
} sd_job;

static uint64_t fnv1a(const int32_t *ids, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    const unsigned char *b = (const unsigned char *)ids;
    for (size_t i = 0; i < n * sizeof *ids; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* One generation of the arm's loop on prompt: AR (no drafter) or spec. */
static kk_code generate(const sd_job *j, fwd_state *st, kv_cache *kv, const model *m, drafter *d,
                        const int32_t *prompt, size_t n_prompt, int64_t n, int32_t *out,
                        size_t *n_out, spec_stats *ss, kk_err *err)
{
    memset(ss, 0, sizeof *ss);
    KK_TRY(kv_truncate(kv, 0, err));
    if (!drafter_spec(d)) {
        KK_TRY(spec_greedy_ar(st, kv, m, prompt, n_prompt, n, j->eos, out, n_out, &ss->prefill_s,
                              &ss->verify_s, err));
        ss->emitted = (int64_t)*n_out;
        ss->blocks = *n_out > 0 ? (int64_t)*n_out - 1 : 0;
        return KK_OK;
    }
    return spec_generate(st, kv, m, prompt, n_prompt, n, j->eos, j->block,
                         j->verify_default ? SPEC_VERIFY_DEFAULT : SPEC_VERIFY_INVARIANT,
                         drafter_spec(d), out, n_out, ss, err);
fail:
    return err && err->code ? err->code : KK_E_INTERNAL;
}

/* Load, warm up, the timed generation, [the plain reference]; replies
 * "ok ..." (see measure) or "error TEXT" on fd. Never returns. */
static void child_main(int fd, void *ctx)
{
    const sd_job *j = ctx;
    static char out[SD_REPLY_MAX];
    kk_err e;
    kk_err_clear(&e);
    ops_set_threads(j->threads);
    gguf_file *f = NULL;
    model *m = NULL;
    kv_cache *kv = NULL;
    fwd_state *st = NULL;
    drafter d;
    memset(&d, 0, sizeof d);
    int32_t *ids = NULL, *ref = NULL;
    const char *what = "load";
    const int64_t cap = (int64_t)(j->n_prompt > j->n_warm ? j->n_prompt : j->n_warm) + j->n +
                        j->block + 1;
    const double t0 = kk_now_s();
    kk_code rc = gguf_open(&f, j->file, &e);
    if (rc == KK_OK)
        rc = model_load(&m, f, &e);
    if (rc == KK_OK) {
        model_set_act(m, OPS_ACT_GGML);
        const kv_config cfg = {m->hp.n_layers, m->hp.n_kv_heads, m->hp.head_dim_k,
                               m->hp.head_dim_v, cap, 0};
        rc = j->kv_f16 ? kv_full_f16_init(&kv, &cfg, &e) : kv_full_init(&kv, &cfg, &e);
    }
    if (rc == KK_OK)
        rc = fwd_init(&st, m, cap < 512 ? cap : 512, cap, &e);
    if (rc == KK_OK && (what = "drafter", 1))
        rc = drafter_parse("drafter", j->drafter, j->block, &d, &e);
    if (rc == KK_OK)
        rc = drafter_open(&d, "drafter", m, NULL, OPS_ACT_GGML, cap, j->kv_f16, &e);
    ids = malloc((size_t)(j->n + 1) * sizeof *ids);
    ref = malloc((size_t)(j->n + 1) * sizeof *ref);
    if (rc == KK_OK && (!ids || !ref))
        rc = kk_err_set(&e, KK_E_NOMEM, "out of memory");
    const double load_s = kk_now_s() - t0;
    size_t n_ids = 0, n_ref = 0;
    spec_stats ss, warm;
    const int64_t before = drafter_tokens_run(&d);
    if (rc == KK_OK && (what = "warm-up", 1))
        rc = generate(j, st, kv, m, &d, j->warm, j->n_warm, j->n < SD_WARM_N ? j->n : SD_WARM_N,
                      ids, &n_ids, &warm, &e);
    const int64_t warm_tokens = drafter_tokens_run(&d) - before;
    if (rc == KK_OK && (what = "timed run", 1))
        rc = generate(j, st, kv, m, &d, j->prompt, j->n_prompt, j->n, ids, &n_ids, &ss, &e);
    int64_t mism = 0, first = -1;
    if (rc == KK_OK && j->check && drafter_spec(&d) && (what = "reference", 1)) {
        rc = kv_truncate(kv, 0, &e);
        if (rc == KK_OK)
            rc = spec_greedy_ar(st, kv, m, j->prompt, j->n_prompt, j->n, j->eos, ref, &n_ref,
                                NULL, NULL, &e);
        for (size_t i = 0; rc == KK_OK && i < (n_ids > n_ref ? n_ids : n_ref); i++)
            if (i >= n_ids || i >= n_ref || ids[i] != ref[i]) {
                mism++;
                if (first < 0)
                    first = (int64_t)i;
            }
    }
    if (rc == KK_OK) {
        const double decode_s = ss.draft_s + ss.verify_s + ss.rollback_s;
        int k = snprintf(out, sizeof out,
                         "ok %lld %lld %lld %lld %lld %lld %lld %.9g %.9g %.9g %.9g %.9g %.9g "
                         "%lld %lld %d %llu %zu",
                         (long long)ss.emitted, (long long)ss.blocks, (long long)ss.blocks_proposed,
                         (long long)ss.blocks_accepted, (long long)ss.drafted,
                         (long long)ss.accepted,
                         (long long)(drafter_tokens_run(&d) - before - warm_tokens), load_s,
                         ss.prefill_s, decode_s, ss.draft_s, ss.verify_s, ss.rollback_s,
                         (long long)mism, (long long)first,
                         j->eos >= 0 && (int64_t)n_ids < j->n, (unsigned long long)fnv1a(ids, n_ids),
                         j->check ? n_ids : (size_t)0);
        for (size_t i = 0; j->check && i < n_ids && k > 0 && (size_t)k < sizeof out - 16; i++)
            k += snprintf(out + k, sizeof out - (size_t)k, " %d", (int)ids[i]);
        snprintf(out + k, sizeof out - (size_t)k, "\n");
    } else {
        snprintf(out, sizeof out, "error %s: %s\n", what, e.msg);
    }
    run_child_write_all(fd, out);
    _exit(rc == KK_OK ? 0 : 2);
}

static kk_code measure(run_ctx *rc, size_t i, sd_meas *m, kk_err *err)
{
    const preset *p = rc->p;
    const sd_state *s = rc->kstate;
    const size_t a = rc->tasks[i].arm;
    const sd_arm *ar = &s->arms[a];
    const sd_job j = {
        .file = s->files[ar->target].path, .drafter = ar->drafter,
        .block = (int)arm_i(p, a, "block"), .threads = (int)arm_i(p, a, "threads"),
        .kv_f16 = !strcmp(arm_s(p, a, "kv"), "f16"),
        .verify_default = !strcmp(arm_s(p, a, "verify"), "default"),
        .check = rc->tasks[i].sample == 0, .n = ar->n, .eos = ar->eos,
        .prompt = ar->prompt, .warm = ar->warm, .n_prompt = ar->n_prompt, .n_warm = ar->n_warm};
    char *reply = malloc(SD_REPLY_MAX);
    if (!reply)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    int status = 0;
    if (run_child_measure(child_main, (void *)&j, reply, SD_REPLY_MAX, &status, &m->peak_rss,
                          err) != KK_OK) {
        free(reply);
        char why[KK_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        return kk_err_set(err, KK_E_IO, "arm %s: %s", p->arms[a].name, why);
    }
    long long v[9];
    unsigned long long hash = 0;
    size_t n_ids = 0;
    int eos = 0, used = 0;
    const int got = sscanf(reply, "ok %lld %lld %lld %lld %lld %lld %lld %lf %lf %lf %lf %lf %lf "
                                  "%lld %lld %d %llu %zu%n",
                           &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &m->load_s,
                           &m->prefill_s, &m->decode_s, &m->draft_s, &m->verify_s,
                           &m->rollback_s, &v[7], &v[8], &eos, &hash, &n_ids, &used);
    const int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == 18 &&
                   n_ids <= RUN_SD_MAX_N;
    if (ok) {
        m->emitted = v[0];
        m->blocks = v[1];
        m->blocks_proposed = v[2];
        m->blocks_accepted = v[3];
        m->drafted = v[4];
        m->accepted = v[5];
        m->drafter_tokens = v[6];
        m->mismatches = v[7];
        m->first_mismatch = v[8];
        m->ended_eos = eos;
        m->ids_hash = hash;
        m->checked = j.check;
        const char *q = reply + used;
        for (size_t k = 0; k < n_ids; k++) {
            char *end = NULL;
            m->ids[k] = (int32_t)strtol(q, &end, 10);
            q = end;
        }
        m->n_ids = (int32_t)n_ids;
    }
    kk_code code = KK_OK;
    if (!ok) {
        char why[64];
        run_child_status_text(status, why, sizeof why);
        code = kk_err_set(err, KK_E_IO, "arm %s: the measurement on %s failed (%s): %.300s",
                          p->arms[a].name, j.file, why, reply[0] ? reply : "no output");
    }
    free(reply);
    return code;
}

static kk_code task(run_ctx *rc, void *w, size_t i, kk_err *err)
{
    (void)w;
    return measure(rc, i, run_result_at(rc, i), err);
}

/* ---- an arm's evidence ------------------------------------------------------------ */

enum { F_PREFILL, F_DECODE, F_TPS, F_DRAFT, F_VERIFY, F_ROLLBACK, F_LOAD, F_RSS, N_F };
static const char *const F_NAMES[N_F] = {"prefill_s", "decode_s", "decode_tok_per_s", "draft_s",
                                         "verify_s", "rollback_s", "load_s", "peak_rss"};

static void figures(const sd_meas *m, double *f)
{
    const double toks = m->emitted > 1 ? (double)(m->emitted - 1) : 0.0;
    f[F_PREFILL] = m->prefill_s;
    f[F_DECODE] = m->decode_s;
    f[F_TPS] = m->decode_s > 0 ? toks / m->decode_s : 0.0;
    f[F_DRAFT] = m->draft_s;
    f[F_VERIFY] = m->verify_s;
    f[F_ROLLBACK] = m->rollback_s;
    f[F_LOAD] = m->load_s;
    f[F_RSS] = (double)m->peak_rss;
}

static kk_code arm_evidence(run_ctx *rc, size_t arm, ev_build *b, cJSON *a, kk_err *err)
{
    const preset *p = rc->p;
    const size_t n = run_arm_n_tasks(rc, arm);
    double *col = run_calloc(rc, (n ? n : 1) * N_F, sizeof *col); /* col[f * n + k] */
    if (!col)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for arm %s's %zu repeats",
                          p->arms[arm].name, n);
    const sd_meas *m0 = NULL;
    int same_ids = 1;
    cJSON *reps = cJSON_CreateArray();
    size_t k = 0;
    for (size_t i = 0; i < rc->n_tasks; i++) {
        if (rc->tasks[i].arm != arm)
            continue;
        const sd_meas *m = run_result_at(rc, i);
        if (m->checked)
            m0 = m;
        double f[N_F];
        figures(m, f);
        cJSON *o = ev_put_obj(b, reps, "repeats[]");
        for (int j = 0; j < N_F; j++) {
            col[(size_t)j * n + k] = f[j];
            if (j != F_RSS)
                ev_put_num(b, o, F_NAMES[j], f[j]);
        }
        ev_put_i64(b, o, "tokens_decoded", m->emitted > 1 ? m->emitted - 1 : 0);
        k++;
    }
    for (size_t i = 0; m0 && i < rc->n_tasks; i++) {
        const sd_meas *m = run_result_at(rc, i);
        if (rc->tasks[i].arm == arm && (m->ids_hash != m0->ids_hash || m->emitted != m0->emitted ||
                                        m->blocks != m0->blocks || m->accepted != m0->accepted))
            same_ids = 0;
    }
    /* a drafter arm's output against its AR arm's (same cell), by hash */
    int vs_ar_hash = -1;
    for (size_t i = 0; m0 && i < rc->n_tasks && !is_ar(p, arm); i++) {
        const sd_meas *m = run_result_at(rc, i);
        const size_t b2 = rc->tasks[i].arm;
        if (m->checked && is_ar(p, b2) && same_cell(p, arm, b2))
            vs_ar_hash = m->ids_hash == m0->ids_hash && m->emitted == m0->emitted;
    }
    const sd_meas z = {.first_mismatch = -1};
    const sd_meas *m = m0 ? m0 : &z;
    const int64_t blk = arm_i(p, arm, "block");
    cJSON *mt = ev_put_obj(b, a, "metrics");
    ev_put_num(b, mt, "tau", m->blocks ? (double)(m->emitted - 1) / (double)m->blocks : 0.0);
    ev_put_num(b, mt, "acceptance_rate",
               m->drafted ? (double)m->accepted / (double)m->drafted : 0.0);
    ev_put_i64(b, mt, "mismatches_vs_ar", m->mismatches);
    ev_put_i64(b, mt, "first_mismatch_vs_ar", m->first_mismatch);
    if (vs_ar_hash >= 0)
        ev_put_bool(b, mt, "ids_equal_ar_arm", vs_ar_hash);
    ev_put_i64(b, mt, "tokens_emitted", m->emitted);
    ev_put_i64(b, mt, "tokens_requested", arm_i(p, arm, "n"));
    ev_put_i64(b, mt, "natural_end", ((const sd_state *)rc->kstate)->arms[arm].n);
    ev_put_i64(b, mt, "prompt_tokens", (int64_t)((const sd_state *)rc->kstate)->arms[arm].n_prompt);
    ev_put_bool(b, mt, "ended_at_eos", m->ended_eos);
    ev_put_i64(b, mt, "block", is_ar(p, arm) ? 1 : blk);
    ev_put_bool(b, mt, "same_output_every_repeat", same_ids);
    ev_put_i64(b, mt, "repeats", (int64_t)n);
    cJSON *tm = ev_put_obj(b, a, "timings");
    ev_put_str(b, tm, "scope", "decode");
    ev_put_str(b, tm, "scope_note",
               "per repeat, one fresh process after a warm-up generation on another prompt: "
               "prefill_s the prompt in one call; decode_s every token after the first (AR: "
               "single-token steps; spec: draft + verify + rollback); decode_tok_per_s = "
               "(tokens_emitted - 1) / decode_s; the medians over the repeats, every repeat "
               "raw; *_ms_per_block split one verify call's time");
    for (int j = 0; j < N_F; j++)
        if (j != F_RSS)
            ev_put_num(b, tm, F_NAMES[j], kk_median(col + (size_t)j * n, n));
    ev_put_i64(b, tm, "tokens_decoded", m->emitted > 1 ? m->emitted - 1 : 0);
    if (m->blocks > 0) {
        /* per-block breakdown from the medians (col is sorted now) */
        const double bl = (double)m->blocks;
        ev_put_num(b, tm, "draft_ms_per_block", 1e3 * kk_median(col + (size_t)F_DRAFT * n, n) / bl);
        ev_put_num(b, tm, "verify_ms_per_block",
                   1e3 * kk_median(col + (size_t)F_VERIFY * n, n) / bl);
        ev_put_num(b, tm, "rollback_ms_per_block",
                   1e3 * kk_median(col + (size_t)F_ROLLBACK * n, n) / bl);
    }
    ev_put(b, tm, "repeats", reps);
    cJSON *sg = ev_put_obj(b, a, "signals");
    cJSON *ct = ev_put_obj(b, sg, "counters");
    ev_put_i64(b, ct, "verify_calls", m->blocks);
    ev_put_i64(b, ct, "blocks_proposed", m->blocks_proposed);
    ev_put_i64(b, ct, "tokens_drafted", m->drafted);
    ev_put_i64(b, ct, "drafter_tokens_run", m->drafter_tokens);
    cJSON *evs = ev_put_obj(b, sg, "events");
    ev_put_i64(b, evs, "blocks_accepted", m->blocks_accepted);
    ev_put_i64(b, evs, "tokens_accepted", m->accepted);
    ev_put_arr(b, sg, "fallbacks_taken");
    cJSON *mem = ev_put_obj(b, sg, "memory");
    ev_put_u64(b, mem, "peak_rss", (uint64_t)kk_median(col + (size_t)F_RSS * n, n));
    ev_put_str(b, mem, "peak_rss_note", "median over the repeats of wait4's ru_maxrss of the "
                                        "measuring process (a fork of the harness)");
    cJSON *sa = ev_put_arr(b, a, "samples");
    if (m0) {
        cJSON *o = ev_put_obj(b, sa, "samples[]");
        ev_put_i64(b, o, "index", 0);
        cJSON *ids = ev_put_arr(b, o, "ids");
        for (int32_t i = 0; i < m0->n_ids; i++)
            ev_put(b, ids, "ids[]", cJSON_CreateNumber(m0->ids[i]));
        ev_put_num(b, o, "prefill_s", m0->prefill_s);
        ev_put_num(b, o, "decode_s", m0->decode_s);
        ev_put_i64(b, o, "tokens_decoded", m0->emitted > 1 ? m0->emitted - 1 : 0);
    }
    free(col);
    return KK_OK;
}

static void finish(run_ctx *rc)
{
    free_state(rc->kstate, rc->p->n_arms);
    rc->kstate = NULL;
}

const run_ops run_spec_decode_ops = {
    .prepare = prepare,
    .result_size = sizeof(sd_meas),
    .task = task,
    .arm_evidence = arm_evidence,
    .finish = finish,
};
