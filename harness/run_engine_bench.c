/* run_engine_bench: see run_engine_bench.h. */
#include "run_engine_bench.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_measure.h"
#include "bench_model.h"
#include "cli_env.h"
#include "evidence.h"
#include "forward.h"
#include "gguf.h"
#include "kk_file.h"
#include "kk_stats.h"
#include "kv.h"
#include "matmul.h"
#include "model.h"
#include "ops.h"
#include "run_child.h"
#include "sha256.h"

#define N_TYPES 3
static const char *const TYPE_NAMES[N_TYPES] = {"f32", "f16", "q8_0"};
/* A measurement's reply on the pipe or the driver's stdout: one line. */
#define EB_REPLY_MAX 1024

/* What one task (a fresh process) measured. */
typedef struct eb_meas {
    double load_s, prefill_s, decode_s;
    double verify_s[RUN_EB_N_VERIFY]; /* L = 2, 4, 8, 16: median of 3 */
    uint64_t peak_rss;                 /* bytes: wait4's ru_maxrss */
    uint64_t rss_at_start;             /* kakeya: the child's VmRSS right after fork */
    double ttft_s;                     /* whole process: exec to the first greedy id */
    char isa[16];                      /* kakeya: the matmul level that ran */
} eb_meas;

typedef struct eb_model {
    int used;
    char path[4096];
    char sha[65];
    char arch[64];
    uint64_t n_params, weight_bytes;
} eb_model;

typedef struct eb_state {
    eb_model models[N_TYPES];
    char spec[80];                     /* bench:NAME */
    char driver[4096];                 /* "" when no llama.cpp arm runs */
    char llama_commit[64];
    int32_t ids[RUN_EB_PROMPT];
    char ids_text[RUN_EB_PROMPT * 8];
} eb_state;

/* ---- arms ----------------------------------------------------------------------- */

static const char *arm_s(const preset *p, size_t a, const char *key)
{
    const preset_field *f = preset_arm_field(p, &p->arms[a], key);
    return f && f->s ? f->s : "";
}

static int arm_threads(const preset *p, size_t a)
{
    const preset_field *f = preset_arm_field(p, &p->arms[a], "threads");
    return f ? (int)f->i : 1;
}

static int type_index(const char *t)
{
    for (int i = 0; i < N_TYPES; i++)
        if (!strcmp(t, TYPE_NAMES[i]))
            return i;
    return 0;
}

static int is_llama(const preset *p, size_t a) { return !strcmp(arm_s(p, a, "engine"), "llama.cpp"); }

static int in_str_list(const preset_param *prm, const char *v)
{
    for (size_t i = 0; prm && i < prm->v.n; i++)
        if (!strcmp(prm->v.s[i], v))
            return 1;
    return 0;
}

static int in_int_list(const preset_param *prm, int64_t v)
{
    for (size_t i = 0; prm && i < prm->v.n; i++)
        if (prm->v.i[i] == v)
            return 1;
    return 0;
}

kk_code run_engine_bench_check(const preset *p, kk_err *err)
{
    const char *src = preset_get_str(p, "model");
    model_random_cfg c;
    if (!src || strncmp(src, "bench:", 6) != 0 || bench_model_shape(src + 6, &c, NULL) != KK_OK) {
        kk_err_set(err, KK_E_RANGE, "model source \"%s\"; allowed: bench:llama134m, bench:tiny "
                   "(the generated bench models, bench/lib/bench_model.h)", src ? src : "");
        kk_err_where(err, "model");
        return kk_err_file(err, p->file);
    }
    for (size_t a = 0; a < p->n_arms; a++)
        if (is_llama(p, a) && !strcmp(arm_s(p, a, "isa"), "scalar")) {
            kk_err_set(err, KK_E_RANGE, "arm %s: found isa \"scalar\" on a llama.cpp arm; allowed: "
                       "best (isa selects kakeya's kernels)", p->arms[a].name);
            char w[300];
            snprintf(w, sizeof w, "arms[%zu].isa", a);
            kk_err_where(err, w);
            kk_err_linecol(err, p->arms[a].line, p->arms[a].col);
            return kk_err_file(err, p->file);
        }
    return KK_OK;
}

kk_code run_engine_bench_driver(const char *root, char *path, size_t cap, kk_err *err)
{
    const int n = snprintf(path, cap, "%s/build/bench/llamacpp_bench", root);
    if (n < 0 || (size_t)n >= cap)
        return kk_err_set(err, KK_E_RANGE, "the llama.cpp driver's path is too long");
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || access(path, X_OK) != 0)
        return kk_err_set(err, KK_E_MISSING, "llama.cpp driver %s not found: the llama.cpp arms "
                          "need it; build it with `make bench-driver` (after `make refengine`, "
                          "which builds llama.cpp into ${KAKEYA_CACHE:-~/.cache/kakeya}/llama.cpp) "
                          "or `make bench`, or run only kakeya's arms (--set engines=kakeya)", path);
    return KK_OK;
}

/* ---- prepare ---------------------------------------------------------------------- */

static kk_code model_facts(eb_model *m, kk_err *err)
{
    KK_TRY(sha256_file_hex(m->path, m->sha, err));
    gguf_file *f = NULL;
    KK_TRY(gguf_open(&f, m->path, err));
    gguf_str arch;
    snprintf(m->arch, sizeof m->arch, "unknown");
    if (gguf_get_str(f, "general.architecture", &arch, NULL) == KK_OK)
        gguf_str_copy(arch, m->arch, sizeof m->arch);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        uint64_t n = 1;
        for (uint32_t d = 0; d < f->tensors[i].n_dims; d++)
            n *= f->tensors[i].ne[d]; /* gguf_open checked the product */
        m->n_params += n;
        m->weight_bytes += f->tensors[i].n_bytes;
    }
    gguf_close(f);
    return KK_OK;
fail:
    return err ? err->code : KK_E_IO;
}

/* The first word of a small text file into out; 0 when unreadable. */
static int read_word(const char *path, char *out, size_t cap)
{
    char *text = NULL;
    size_t len = 0;
    if (kk_file_read_all(path, &text, &len, NULL) != KK_OK)
        return 0;
    size_t k = 0;
    while (k < len && k + 1 < cap && text[k] > ' ' && text[k] < 127)
        k++;
    memcpy(out, text, k);
    out[k] = '\0';
    free(text);
    return k > 0;
}

/* The llama.cpp commit the driver links: DRIVER.commit (written by `make
 * bench-driver`), else ${KAKEYA_CACHE:-$HOME/.cache/kakeya}/llama.cpp/
 * build/.kakeya-built (`make refengine`), else "unknown". */
static void llama_commit(const char *driver, char *out, size_t cap)
{
    char path[4200], dir[4096];
    snprintf(path, sizeof path, "%s.commit", driver);
    if (read_word(path, out, cap))
        return;
    snprintf(out, cap, "unknown");
    if (cli_env_cache_dir(dir, sizeof dir, NULL) != KK_OK)
        return;
    snprintf(path, sizeof path, "%s/llama.cpp/build/.kakeya-built", dir);
    if (!read_word(path, out, cap))
        snprintf(out, cap, "unknown");
}

static kk_code select_arms(run_ctx *rc, kk_err *err)
{
    const preset *p = rc->p;
    const preset_param *ty = preset_find_param(p, "types"), *th = preset_find_param(p, "threads"),
                       *en = preset_find_param(p, "engines");
    size_t on = 0;
    for (size_t a = 0; a < p->n_arms; a++) {
        if (!run_arm_on(rc, a))
            continue;
        if (!in_str_list(ty, arm_s(p, a, "type")) || !in_int_list(th, arm_threads(p, a)) ||
            !in_str_list(en, arm_s(p, a, "engine")))
            rc->arm_on[a] = 0;
        else
            on++;
    }
    if (on == 0) {
        char t1[256], t2[256], t3[256];
        preset_value_text(ty, t1, sizeof t1);
        preset_value_text(th, t2, sizeof t2);
        preset_value_text(en, t3, sizeof t3);
        kk_err_set(err, KK_E_RANGE, "no arm of preset %s (in this shard) has a type in [%s], "
                   "threads in [%s] and an engine in [%s]; allowed: values that select at least "
                   "one arm", p->name, t1, t2, t3);
        return kk_err_where(err, "types, threads, engines");
    }
    return KK_OK;
}

static kk_code prepare(run_ctx *rc, kk_err *err)
{
    const preset *p = rc->p;
    eb_state *s = calloc(1, sizeof *s);
    if (!s)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    rc->kstate = s;
    /* Timed processes run one at a time, whatever --jobs says: two of them
     * on 2 cores would measure each other. The provenance records 1. */
    rc->o.jobs = 1;
    KK_TRY(select_arms(rc, err));
    snprintf(s->spec, sizeof s->spec, "%s", preset_get_str(p, "model"));
    const char *name = s->spec + 6; /* after "bench:" (run_engine_bench_check) */
    char dir[4096], cache[4096];
    KK_TRY(cli_env_cache_dir(cache, sizeof cache, err));
    const int dn = snprintf(dir, sizeof dir, "%s/%s", cache, BENCH_MODEL_SUBDIR);
    KK_CHECK(dn > 0 && (size_t)dn < sizeof dir, err, KK_E_RANGE,
             "the bench model folder's path is too long");
    int need_llama = 0;
    for (size_t a = 0; a < p->n_arms; a++) {
        if (!run_arm_on(rc, a))
            continue;
        need_llama |= is_llama(p, a);
        eb_model *m = &s->models[type_index(arm_s(p, a, "type"))];
        if (m->used)
            continue;
        dtype_t dt;
        KK_TRY(bench_model_type_parse(arm_s(p, a, "type"), &dt, err));
        KK_TRY(bench_model_ensure(dir, name, dt, m->path, sizeof m->path, NULL, err));
        KK_TRY(model_facts(m, err));
        m->used = 1;
    }
    if (need_llama) {
        char root[4096];
        KK_TRY(kk_repo_root(root, sizeof root, err));
        KK_TRY(run_engine_bench_driver(root, s->driver, sizeof s->driver, err));
        llama_commit(s->driver, s->llama_commit, sizeof s->llama_commit);
    }
    bench_model_prompt(s->ids, RUN_EB_PROMPT, 32000);
    size_t k = 0;
    for (int i = 0; i < RUN_EB_PROMPT; i++)
        k += (size_t)snprintf(s->ids_text + k, sizeof s->ids_text - k, i ? ",%d" : "%d",
                              (int)s->ids[i]);
    ev_build b;
    ev_build_init(&b, err);
    rc->models = cJSON_CreateArray();
    if (!rc->models)
        ev_put(&b, NULL, "models", NULL);
    for (int i = 0; i < N_TYPES; i++) {
        const eb_model *m = &s->models[i];
        if (!m->used)
            continue;
        cJSON *mo = ev_put_obj(&b, rc->models, "models[]");
        ev_put_str(&b, mo, "role", "target");
        ev_put_str(&b, mo, "source", m->path);
        ev_put_str(&b, mo, "sha256", m->sha);
        ev_put_str(&b, mo, "architecture", m->arch);
        /* Random weights (model_random, seed 14): DEGENERATE_OUTPUT does
         * not judge them, and no text is produced anyway. */
        ev_put_bool(&b, mo, "trained", 0);
        ev_put_str(&b, mo, "bench_model", s->spec);
        ev_put_str(&b, mo, "type", TYPE_NAMES[i]);
    }
    KK_TRY(ev_build_end(&b, &rc->models));
    /* Tasks: repeat r (outermost) of every (type, threads) cell runs the
     * cell's arms one after another, the first rotating with r, so a drift
     * of the machine during the run touches every arm alike. order[] holds
     * the arms cell by cell; start[c] .. start[c + 1] is cell c. */
    const int64_t reps = preset_get_int(p, "repeats");
    const size_t na = p->n_arms ? p->n_arms : 1;
    unsigned char *done = calloc(na, 1);
    size_t *order = calloc(na, sizeof *order), *start = calloc(na + 1, sizeof *start);
    if (!done || !order || !start) {
        free(done);
        free(order);
        free(start);
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    }
    size_t n_order = 0, n_cells = 0;
    for (size_t a0 = 0; a0 < p->n_arms; a0++) {
        if (!run_arm_on(rc, a0) || done[a0])
            continue;
        start[n_cells++] = n_order;
        for (size_t a = a0; a < p->n_arms; a++)
            if (run_arm_on(rc, a) && !strcmp(arm_s(p, a, "type"), arm_s(p, a0, "type")) &&
                arm_threads(p, a) == arm_threads(p, a0)) {
                order[n_order++] = a;
                done[a] = 1;
            }
    }
    start[n_cells] = n_order;
    kk_code code = KK_OK;
    for (int64_t r = 0; r < reps && code == KK_OK; r++)
        for (size_t c = 0; c < n_cells && code == KK_OK; c++) {
            const size_t n = start[c + 1] - start[c];
            for (size_t j = 0; j < n && code == KK_OK; j++) {
                run_task t = {.arm = order[start[c] + (j + (size_t)r) % n],
                              .sample = (size_t)r, .seed = rc->seed};
                code = run_add_task(rc, &t, NULL, err);
            }
        }
    free(done);
    free(order);
    free(start);
    if (code != KK_OK)
        return code;
    /* A forked child counts the harness's resident anonymous pages in its
     * own peak RSS (an exec'd driver does not): give freed heap back first
     * (generating a model leaves ~12 MB otherwise). What remains is
     * recorded as rss_inherited_at_fork (~2.4 MB). */
    malloc_trim(0);
    return KK_OK;
fail:
    return err && err->code ? err->code : KK_E_INTERNAL;
}

/* ---- kakeya's measurement, in a fork()ed child ------------------------------------- */

/* bench_engine's `measure` (bench/bench_engine.c cmd_measure), step for
 * step: load, prefill (one call, logits of the last), 64 greedy decode
 * steps, then per L the median of 3 verifications of L tokens after the
 * prefix. Replies "ok LOAD PREFILL DECODE V2 V4 V8 V16 ISA RSS0" or
 * "error TEXT" on fd. Never returns. */
static void child_measure(int fd, const char *file, int threads, int scalar, int kv_f16,
                          const int32_t *ids, int n_ids)
{
    const uint64_t rss0 = run_child_vm_rss();
    char out[EB_REPLY_MAX];
    kk_err e;
    kk_err_clear(&e);
    if (scalar)
        matmul_set_isa(MATMUL_ISA_SCALAR);
    ops_set_threads(threads);
    bench_measure_result r;
    const char *what = "load";
    const bool ok = bench_measure_run(file, ids, n_ids, kv_f16, &r, &what, &e) == KK_OK;
    if (ok)
        snprintf(out, sizeof out, "ok %.9g %.9g %.9g %.9g %.9g %.9g %.9g %s %llu\n", r.load_s,
                 r.prefill_s, r.decode_s, r.verify_s[0], r.verify_s[1], r.verify_s[2],
                 r.verify_s[3], matmul_isa_name(matmul_isa_current()), (unsigned long long)rss0);
    else
        snprintf(out, sizeof out, "error %s: %s\n", what, e.msg);
    run_child_write_all(fd, out);
    _exit(ok ? 0 : 2);
}

/* What a measuring child needs (run_child_measure's ctx). */
typedef struct eb_child {
    const eb_state *s;
    const preset *p;
    size_t arm;
    const eb_model *md;
} eb_child;

static void child_main(int fd, void *ctx)
{
    const eb_child *c = ctx;
    const int threads = arm_threads(c->p, c->arm);
    if (!is_llama(c->p, c->arm))
        child_measure(fd, c->md->path, threads, !strcmp(arm_s(c->p, c->arm, "isa"), "scalar"),
                      strcmp(arm_s(c->p, c->arm, "kv"), "f32") != 0, c->s->ids, RUN_EB_PROMPT);
    char th[16];
    snprintf(th, sizeof th, "%d", threads);
    if (dup2(fd, 1) < 0)
        _exit(127);
    close(fd);
    char *const argv[] = {(char *)c->s->driver, (char *)c->md->path, th, "bench",
                          (char *)c->s->ids_text, NULL};
    execv(c->s->driver, argv);
    _exit(127);
}

static kk_code measure(eb_state *s, const preset *p, size_t arm, eb_meas *m, kk_err *err)
{
    const eb_model *md = &s->models[type_index(arm_s(p, arm, "type"))];
    const int llama = is_llama(p, arm);
    eb_child c = {s, p, arm, md};
    char reply[EB_REPLY_MAX];
    int status = 0;
    if (run_child_measure(child_main, &c, reply, sizeof reply, &status, &m->peak_rss, err) !=
        KK_OK) {
        char why[KK_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        return kk_err_set(err, KK_E_IO, "arm %s: %s", p->arms[arm].name, why);
    }
    const int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    double *v = &m->load_s;
    int got;
    unsigned long long rss0 = 0;
    if (llama) {
        got = sscanf(reply, "%lf %lf %lf %lf %lf %lf %lf", &v[0], &m->prefill_s, &m->decode_s,
                     &m->verify_s[0], &m->verify_s[1], &m->verify_s[2], &m->verify_s[3]);
        snprintf(m->isa, sizeof m->isa, "ggml");
    } else {
        got = sscanf(reply, "ok %lf %lf %lf %lf %lf %lf %lf %15s %llu", &v[0], &m->prefill_s,
                     &m->decode_s, &m->verify_s[0], &m->verify_s[1], &m->verify_s[2],
                     &m->verify_s[3], m->isa, &rss0) - 2;
        m->rss_at_start = rss0;
    }
    if (!ok || got != 7) {
        char why[64];
        run_child_status_text(status, why, sizeof why);
        return kk_err_set(err, KK_E_IO, "arm %s: the %s measurement of %s failed (%s): %s",
                          p->arms[arm].name, llama ? "llama.cpp driver's" : "kakeya",
                          md->path, why, reply[0] ? reply : "no output");
    }
    return KK_OK;
}

/* Time to first token, the whole process as a user waits for it: exec
 * `kakeya generate -m FILE --tokens IDS -n 1 --threads T --kv-cache KV`
 * (this same binary, /proc/self/exe), or the driver's `ttft` mode (load,
 * prefill, the greedy id), stdout discarded; wall clock from before the
 * fork to the child's exit. What `make bench` times as ttft. */
static kk_code measure_ttft(eb_state *s, const preset *p, size_t arm, eb_meas *m, kk_err *err)
{
    const eb_model *md = &s->models[type_index(arm_s(p, arm, "type"))];
    const int llama = is_llama(p, arm);
    char th[16], self[4096];
    snprintf(th, sizeof th, "%d", arm_threads(p, arm));
    const ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0)
        return kk_err_set(err, KK_E_IO, "cannot read /proc/self/exe: %s", strerror(errno));
    self[sl] = '\0';
    const char *kv = strcmp(arm_s(p, arm, "kv"), "f32") ? "f16" : "f32";
    char *const kk_argv[] = {self, "generate", "-m", (char *)md->path, "--tokens", s->ids_text,
                             "-n", "1", "--threads", th, "--kv-cache", (char *)kv, NULL};
    char *const ll_argv[] = {s->driver, (char *)md->path, th, "ttft", s->ids_text, NULL};
    fflush(NULL);
    const double t0 = kk_now_s();
    const pid_t pid = fork();
    if (pid < 0)
        return kk_err_set(err, KK_E_IO, "fork: %s", strerror(errno));
    if (pid == 0) {
        run_child_signals();
        const int null = open("/dev/null", O_WRONLY);
        if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
            _exit(127);
        if (!llama && !strcmp(arm_s(p, arm, "isa"), "scalar"))
            setenv(CLI_ENV_MATMUL_ISA, "scalar", 1);
        execv(llama ? s->driver : self, llama ? ll_argv : kk_argv);
        _exit(127);
    }
    int status = 0;
    uint64_t rss = 0;
    if (run_child_reap(pid, &status, &rss) != KK_OK)
        return kk_err_set(err, KK_E_IO, "arm %s: cannot wait for the first-token process: %s",
                          p->arms[arm].name, strerror(errno));
    const double t1 = kk_now_s();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return kk_err_set(err, KK_E_IO, "arm %s: the %s first-token run on %s failed (status %d)",
                          p->arms[arm].name, llama ? "llama.cpp driver's" : "kakeya generate",
                          md->path, status);
    m->ttft_s = t1 - t0;
    if (rss > m->peak_rss)
        m->peak_rss = rss;
    return KK_OK;
}

static kk_code task(run_ctx *rc, void *w, size_t i, kk_err *err)
{
    (void)w;
    eb_state *s = rc->kstate;
    eb_meas *m = run_result_at(rc, i);
    const size_t arm = rc->tasks[i].arm;
    KK_TRY(measure(s, rc->p, arm, m, err));
    KK_TRY(measure_ttft(s, rc->p, arm, m, err));
    return KK_OK;
fail:
    return err ? err->code : KK_E_IO;
}

/* ---- an arm's evidence ---------------------------------------------------------------- */

/* The per-repeat figures of one arm, one row per repeat. */
enum {
    F_LOAD, F_PREFILL, F_DECODE, F_PREFILL_TPS, F_DECODE_TPS,
    F_V2, F_V4, F_V8, F_V16, F_V2_STEP, F_V4_STEP, F_V8_STEP, F_V16_STEP, F_TTFT, F_TTFT_PS,
    F_RSS, N_F
};
static const char *const F_NAMES[N_F] = {
    "load_s", "prefill_s", "decode_s", "prefill_tok_per_s", "decode_tok_per_s",
    "verify2_s", "verify4_s", "verify8_s", "verify16_s", "verify2_per_decode_step",
    "verify4_per_decode_step", "verify8_per_decode_step", "verify16_per_decode_step",
    "ttft_s", "first_tokens_per_s", "peak_rss"};

static void figures(const eb_meas *m, double *f)
{
    const double step = m->decode_s / RUN_EB_DECODE;
    f[F_LOAD] = m->load_s;
    f[F_PREFILL] = m->prefill_s;
    f[F_DECODE] = m->decode_s;
    f[F_PREFILL_TPS] = RUN_EB_PROMPT / m->prefill_s;
    f[F_DECODE_TPS] = RUN_EB_DECODE / m->decode_s;
    for (int i = 0; i < RUN_EB_N_VERIFY; i++) {
        f[F_V2 + i] = m->verify_s[i];
        f[F_V2_STEP + i] = m->verify_s[i] / step;
    }
    f[F_TTFT] = m->ttft_s;
    f[F_TTFT_PS] = 1.0 / m->ttft_s; /* a speed, so its targets read as prefill's */
    f[F_RSS] = (double)m->peak_rss;
}

static kk_code arm_evidence(run_ctx *rc, size_t arm, ev_build *b, cJSON *a, kk_err *err)
{
    const preset *p = rc->p;
    eb_state *s = rc->kstate;
    const eb_model *md = &s->models[type_index(arm_s(p, arm, "type"))];
    size_t n = 0;
    for (size_t i = 0; i < rc->n_tasks; i++)
        n += rc->tasks[i].arm == arm;
    double *col = run_calloc(rc, (n ? n : 1) * N_F, sizeof *col); /* col[f * n + k] */
    if (!col)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for arm %s's %zu repeats",
                          p->arms[arm].name, n);
    cJSON *reps = cJSON_CreateArray(), *rss = cJSON_CreateArray();
    const char *isa = "";
    uint64_t rss0 = 0, rss_max = 0;
    size_t k = 0;
    for (size_t i = 0; i < rc->n_tasks; i++) {
        if (rc->tasks[i].arm != arm)
            continue;
        const eb_meas *m = run_result_at(rc, i);
        double f[N_F];
        figures(m, f);
        cJSON *o = ev_put_obj(b, reps, "repeats[]");
        for (int j = 0; j < N_F; j++) {
            col[(size_t)j * n + k] = f[j];
            if (j == F_RSS)
                continue;
            ev_put_num(b, o, F_NAMES[j], f[j]);
            if (j == F_DECODE)
                ev_put_i64(b, o, "tokens_decoded", RUN_EB_DECODE);
        }
        ev_put(b, rss, "peak_rss_repeats[]", cJSON_CreateNumber((double)m->peak_rss));
        rss_max = m->peak_rss > rss_max ? m->peak_rss : rss_max;
        rss0 = m->rss_at_start > rss0 ? m->rss_at_start : rss0;
        isa = m->isa;
        k++;
    }
    /* metrics: what the preset, the model file and the protocol fix */
    cJSON *mt = ev_put_obj(b, a, "metrics");
    ev_put_u64(b, mt, "n_params", md->n_params);
    ev_put_u64(b, mt, "weight_bytes", md->weight_bytes);
    ev_put_i64(b, mt, "tokens_prefill", RUN_EB_PROMPT);
    ev_put_i64(b, mt, "tokens_decoded", RUN_EB_DECODE);
    ev_put_i64(b, mt, "repeats", (int64_t)n);
    /* timings: medians over the repeats, every repeat raw (reps holds them
     * in order; kk_median sorts each column of col in place) */
    cJSON *tm = ev_put_obj(b, a, "timings");
    ev_put_str(b, tm, "scope", "prefill+decode+verify");
    ev_put_str(b, tm, "scope_note",
                            "per repeat, one fresh process: load_s covers opening the file to a "
                            "ready context; prefill_s one forward pass over the 256 prompt ids "
                            "(logits of the last); decode_s 64 greedy single-token steps (argmax "
                            "inside); verifyL_s the median of 3 passes of L tokens after the "
                            "256-token prefix (logits of all), each on its own clock; "
                            "*_tok_per_s and *_per_decode_step derive from these; ttft_s is a "
                            "second fresh process, load to the first greedy id (kakeya "
                            "generate -n 1 / the driver's ttft mode), first_tokens_per_s its "
                            "inverse");
    for (int j = 0; j < N_F; j++) {
        if (j == F_RSS)
            continue;
        ev_put_num(b, tm, F_NAMES[j], kk_median(col + (size_t)j * n, n));
        if (j == F_DECODE)
            ev_put_i64(b, tm, "tokens_decoded", RUN_EB_DECODE);
    }
    ev_put_i64(b, tm, "tokens_prefill", RUN_EB_PROMPT);
    ev_put(b, tm, "repeats", reps);
    /* signals: what the processes reported */
    cJSON *sg = ev_put_obj(b, a, "signals");
    ev_put_obj(b, sg, "counters");
    ev_put_arr(b, sg, "fallbacks_taken");
    cJSON *mem = ev_put_obj(b, sg, "memory");
    ev_put_u64(b, mem, "peak_rss", (uint64_t)kk_median(col + (size_t)F_RSS * n, n));
    /* per repeat: the larger of the measuring and the first-token process */
    ev_put_str(b, mem, "peak_rss_unit", "bytes");
    ev_put_str(b, mem, "peak_rss_note",
                            "median over the repeats of wait4's ru_maxrss of the measuring "
                            "process (a fork of the harness for kakeya, the exec'd driver for "
                            "llama.cpp)");
    ev_put_u64(b, mem, "peak_rss_max", rss_max);
    ev_put(b, mem, "peak_rss_repeats", rss);
    cJSON *eng = ev_put_obj(b, sg, "engine");
    if (is_llama(p, arm)) {
        ev_put_str(b, eng, "name", "llama.cpp");
        ev_put_str(b, eng, "llamacpp_commit", s->llama_commit);
        ev_put_str(b, eng, "driver", s->driver);
    } else {
        ev_put_str(b, eng, "name", "kakeya");
        /* The matmul level the child ran, as it reported it: "scalar" on
         * the negative-control arm. */
        ev_put_str(b, eng, "isa", isa);
        ev_put_u64(b, mem, "rss_inherited_at_fork", rss0);
    }
    free(col);
    ev_put_arr(b, a, "samples");
    return KK_OK;
}

static void finish(run_ctx *rc)
{
    free(rc->kstate);
    rc->kstate = NULL;
}

const run_ops run_engine_bench_ops = {
    .prepare = prepare,
    .result_size = sizeof(eb_meas),
    .task = task,
    .arm_evidence = arm_evidence,
    .finish = finish,
};
