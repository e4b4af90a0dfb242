/*
 * bench_engine: kakeya against llama.cpp on the same GGUF files, in one
 * run, repetitions interleaved between the engines (`make bench`, through
 * bench/bench_engine.sh; docs/performance.md reads the output).
 *
 *   bench_engine gen DIR               write the bench models if absent
 *   bench_engine measure FILE T IDS    kakeya's side of llamacpp_bench's
 *                                      protocol (same output line)
 *   bench_engine stream                copy bandwidth, 1 and 2 threads
 *   bench_engine run CACHE KAKEYA LLAMA_DRV REPS FACTS
 *       every cell: table on stdout, JSON lines in build/bench/engine.jsonl,
 *       progress on stderr. FACTS: a JSON object fragment from the script
 *       (commit, BLAS, llama.cpp release).
 *
 * The bench model: llama, d 768, 12 layers, 12 heads (head dim 64), FFN
 * 2048, vocab 32000, untied, 134M parameters, random weights from
 * model_random (seed BENCH_SEED), written F32 by the project's GGUF writer
 * and converted to F16 (round to nearest even) and Q8_0
 * (dtype_quantize_row_q8_0_ref, bit-exact with ggml's quantizer); norms
 * stay F32, as llama.cpp's quantizer leaves them. The generator is
 * bench/lib/bench_model.c, shared with the harness's engine-bench preset.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_measure.h"
#include "bench_model.h"
#include "forward.h"
#include "gguf.h"
#include "kk_stats.h"
#include "kv.h"
#include "kernels.h"
#include "matmul.h"
#include "model.h"
#include "ops.h"

#define BENCH_SEED 14
#define N_PROMPT 256
#define N_DECODE BENCH_MEASURE_DECODE
#define N_FILES 3
static const char *const TYPE_NAMES[N_FILES] = {"f32", "f16", "q8_0"};
static const dtype_t TYPES[N_FILES] = {DTYPE_F32, DTYPE_F16, DTYPE_Q8_0};

static int die(const char *what, const kk_err *e)
{
    fprintf(stderr, "bench_engine: %s%s%s\n", what, e ? ": " : "", e ? e->msg : "");
    return 2;
}

static void model_path(char *out, size_t cap, const char *dir, int i)
{
    if (bench_model_path(out, cap, dir, BENCH_MODEL_DEFAULT, TYPES[i], NULL) != KK_OK)
        out[0] = '\0';
}

/* ---- gen ------------------------------------------------------------------ */

/* The generator is bench/lib/bench_model.c (shared with the harness's
 * engine-bench preset): files already in DIR are reused, never rewritten. */
static int cmd_gen(const char *dir)
{
    for (int i = 0; i < N_FILES; i++) {
        char p[1024];
        kk_err e;
        int written = 0;
        if (bench_model_ensure(dir, BENCH_MODEL_DEFAULT, TYPES[i], p, sizeof p, &written, &e) !=
            KK_OK)
            return die("bench_model_ensure", &e);
        if (written)
            fprintf(stderr, "bench_engine: wrote %s\n", p);
    }
    return 0;
}

/* ---- measure (kakeya's side) ---------------------------------------------------- */

static int parse_ids(const char *s, int32_t *ids, int cap)
{
    int n = 0;
    char *end;
    while (*s && n < cap) {
        ids[n++] = (int32_t)strtol(s, &end, 10);
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s != '\0')
            break;
    }
    return n;
}

static int cmd_measure(const char *file, int threads, const char *ids_s, bool invariant)
{
    static int32_t ids[4096];
    const int n_ids = parse_ids(ids_s, ids, 4096);
    kk_err e;
    ops_set_threads(threads);
    /* KAKEYA_BENCH_KV=f32 measures the exact F32 cache; the default is F16,
     * the cache type llama.cpp runs with (the like-for-like comparison). */
    const char *kvt = getenv("KAKEYA_BENCH_KV");
    const bool kv_f16 = !(kvt && !strcmp(kvt, "f32"));
    bench_measure_result r;
    const char *what = NULL;
    if (bench_measure_run_mode(file, ids, n_ids, kv_f16, invariant, &r, &what, &e) != KK_OK)
        return die(what, &e);
    printf("%.9g %.9g %.9g %.9g %.9g %.9g %.9g\n", r.load_s, r.prefill_s, r.decode_s,
           r.verify_s[0], r.verify_s[1], r.verify_s[2], r.verify_s[3]);
    return 0;
}

/* ---- stream ------------------------------------------------------------------ */

/* STREAM's copy (McCalpin): c[i] = a[i] over arrays far larger than the
 * caches, bytes counted as read + written. */
#define STREAM_N ((size_t)64 << 20) /* floats per array: 256 MiB */

typedef struct stream_arg {
    float *dst;
    const float *src;
    size_t n;
} stream_arg;

static void *stream_part(void *v)
{
    stream_arg *a = v;
    for (size_t i = 0; i < a->n; i++)
        a->dst[i] = a->src[i];
    return NULL;
}

/* Best of 5 copies, GB/s, with T threads. */
static double stream_copy(float *dst, const float *src, int T)
{
    double best = 0.0;
    for (int rep = 0; rep < 5; rep++) {
        pthread_t th[8];
        stream_arg a[8];
        const double t = kk_now_s();
        for (int i = 0; i < T; i++) {
            a[i] = (stream_arg){dst + i * (STREAM_N / T), src + i * (STREAM_N / T), STREAM_N / T};
            pthread_create(&th[i], NULL, stream_part, &a[i]);
        }
        for (int i = 0; i < T; i++)
            pthread_join(th[i], NULL);
        const double gbs = 2.0 * STREAM_N * sizeof(float) / (kk_now_s() - t) / 1e9;
        best = gbs > best ? gbs : best;
    }
    return best;
}

static int stream_measure(double gbs[2])
{
    float *a = malloc(STREAM_N * sizeof(float)), *c = malloc(STREAM_N * sizeof(float));
    if (!a || !c) {
        free(a);
        free(c);
        return 2;
    }
    for (size_t i = 0; i < STREAM_N; i++)
        a[i] = (float)i, c[i] = 0.0f;
    gbs[0] = stream_copy(c, a, 1);
    gbs[1] = stream_copy(c, a, 2);
    free(a);
    free(c);
    return 0;
}

/* ---- run ------------------------------------------------------------------------ */

typedef struct sample {
    double v[7];      /* load, prefill, decode, verify 2/4/8/16 (s) */
    double rss_mb;
    double ttft_s, ttft_rss_mb;
} sample;

/* Run argv, capture the first line of stdout into line (may be NULL),
 * wall seconds and peak RSS (MB) of the child. */
static int spawn(char *const argv[], char *line, size_t cap, double *wall, double *rss_mb)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    const double t = kk_now_s();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    FILE *in = fdopen(fd[0], "r");
    char buf[4096] = "";
    if (in) {
        if (!fgets(buf, sizeof buf, in))
            buf[0] = '\0';
        while (fgetc(in) != EOF) {
        }
        fclose(in);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0)
        return -1;
    *wall = kk_now_s() - t;
    *rss_mb = (double)ru.ru_maxrss / 1024.0;
    if (line)
        snprintf(line, cap, "%s", buf);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static double spread(const double *v, int n, double md) /* (max - min) / median */
{
    double lo = v[0], hi = v[0];
    for (int i = 1; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    return md > 0 ? (hi - lo) / md : 0.0;
}

static void json_arr(FILE *o, const double *v, int n)
{
    fputc('[', o);
    for (int i = 0; i < n; i++)
        fprintf(o, i ? ",%.6g" : "%.6g", v[i]);
    fputc(']', o);
}

typedef struct cell_out {
    FILE *jl;
    const char *facts;
    const char *file;
    int threads, reps;
} cell_out;

/* KAKEYA_KERNELS: the kernel variants (engine/kernels.h), as bin/kakeya
 * reads them; bench_engine.sh sets it from `kakeya tune --show`, so the
 * measuring process, the kakeya children and the printed rows agree. */
static char g_kernels[160] = "";

static int apply_kernels_env(void)
{
    const char *v = getenv("KAKEYA_KERNELS");
    kern_choice k;
    kk_err e;
    if (v && *v && kern_parse(v, &k, &e) != KK_OK) {
        fprintf(stderr, "bench_engine: KAKEYA_KERNELS: %s\n", e.msg);
        return 2;
    }
    if (v && *v)
        kern_set(&k);
    kern_format(kern_current(), g_kernels, sizeof g_kernels);
    return 0;
}

/* The knobs of one row's weight type ("f32": pf_f32 and hint, ...). */
static const char *row_kernels(const char *file, char *buf, size_t cap)
{
    const kern_choice *k = kern_current();
    const char *h = k->hint == KERN_HINT_T0 ? "t0" : "nta";
    if (!strcmp(file, "F16") || !strcmp(file, "f16"))
        snprintf(buf, cap, "%s pf%d %s", k->f16_gemv == KERN_F16_TILE1 ? "tile1" : "row4",
                 (int)k->pf_f16, h);
    else if (!strcmp(file, "Q8_0") || !strcmp(file, "q8_0"))
        snprintf(buf, cap, "pf%d %s rows%d", (int)k->pf_q8, h, (int)k->q8_rows);
    else
        snprintf(buf, cap, "pf%d %s", (int)k->pf_f32, h);
    return buf;
}

/* One row: kakeya and llama.cpp values per repetition (higher_better: a
 * speed; else a cost), their per-repetition ratio kakeya/llama.cpp. */
static void report(const cell_out *c, const char *metric, const char *unit, double *kk,
                   double *ll, double *ratio, const char *op, double target)
{
    /* Medians of copies: the samples are printed in their order below.
     * cmd_run caps REPS at 64. */
    double s[64];
    const size_t n = (size_t)c->reps;
    const double r = kk_median_copy(ratio, n, s), md_kk = kk_median_copy(kk, n, s);
    const double md_ll = ll ? kk_median_copy(ll, n, s) : NAN;
    const double sp = spread(ratio, c->reps, r);
    const int pass = (op[0] == '>') ? r >= target : r <= target;
    const int info = target >= 1e9 || (op[0] == '>' && target <= 0.0); /* no target */
    char tgt[32];
    snprintf(tgt, sizeof tgt, "%s %.2f", op, target);
    char kb[64];
    printf("%-5s %2d  %-14s %10.2f %10.2f %-6s  %6.3f  (spread %5.1f%%)  %-8s %-12s  %s\n",
           c->file, c->threads, metric, md_kk, md_ll, unit, r, 100.0 * sp, info ? "-" : tgt,
           info ? "" : pass ? "ok" : "BELOW TARGET", row_kernels(c->file, kb, sizeof kb));
    fflush(stdout);
    fprintf(c->jl, "{\"bench\":\"engine\",\"file\":\"%s\",\"threads\":%d,\"metric\":\"%s\","
                   "\"unit\":\"%s\",\"kakeya\":%.6g,\"kakeya_samples\":",
            c->file, c->threads, metric, unit, md_kk);
    json_arr(c->jl, kk, c->reps);
    if (ll) {
        fprintf(c->jl, ",\"llamacpp\":%.6g,\"llamacpp_samples\":", md_ll);
        json_arr(c->jl, ll, c->reps);
    }
    fprintf(c->jl, ",\"ratio\":%.6g,\"ratio_samples\":", r);
    json_arr(c->jl, ratio, c->reps);
    fprintf(c->jl, ",\"ratio_spread\":%.4g,\"target\":\"%s %g\",\"pass\":%s,\"machine\":%s}\n",
            sp, op, target, pass ? "true" : "false", c->facts);
    fflush(c->jl);
}

static int cmd_run(const char *cache, const char *kakeya, const char *drv, int reps,
                   const char *facts)
{
    if (reps < 1 || reps > 64)
        return die("REPS must be 1..64", NULL);
    char self[1024];
    const ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0)
        return die("cannot find /proc/self/exe", NULL);
    self[sl] = '\0';
    if (cmd_gen(cache) != 0)
        return 2;
    /* Prompt: 256 fixed ids among the named and filler pieces. */
    char ids[N_PROMPT * 8] = "";
    size_t k = 0;
    uint64_t s = BENCH_SEED;
    for (int i = 0; i < N_PROMPT; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        k += (size_t)snprintf(ids + k, sizeof ids - k, i ? ",%d" : "%d",
                              (int)(259 + (s >> 33) % (32000 - 259)));
    }
    double bw[2];
    if (stream_measure(bw) != 0)
        return die("stream: out of memory", NULL);
    fprintf(stderr, "bench_engine: copy bandwidth %.1f GB/s (1 thread), %.1f GB/s (2)\n", bw[0],
            bw[1]);
    const char *kvt = getenv("KAKEYA_BENCH_KV");
    const char *kv_name = (kvt && !strcmp(kvt, "f32")) ? "f32" : "f16";
    fprintf(stderr, "bench_engine: kakeya's K/V cache %s (llama.cpp: f16)\n", kv_name);
    char full_facts[4096];
    snprintf(full_facts, sizeof full_facts, "{%s,\"copy_gbs_1t\":%.3f,\"copy_gbs_2t\":%.3f,"
             "\"kakeya_isa\":\"%s\",\"kakeya_kv\":\"%s\",\"kernels\":\"%s\",\"n_prompt\":%d,"
             "\"n_decode\":%d,\"reps\":%d}",
             facts, bw[0], bw[1], matmul_isa_name(matmul_isa_best()), kv_name, g_kernels, N_PROMPT,
             N_DECODE, reps);
    mkdir("build", 0755);
    mkdir("build/bench", 0755);
    FILE *jl = fopen("build/bench/engine.jsonl", "w");
    if (!jl)
        return die("cannot write build/bench/engine.jsonl", NULL);
    printf("kakeya kernels: %s\n", g_kernels);
    printf("file  T   metric               kakeya  llama.cpp unit     ratio                  target            kernels (this row's type)\n");
    static sample S[N_FILES][2][2][64]; /* file, threads-1, engine (0 kakeya), rep */
    const int n_cells = N_FILES * 2 * reps;
    int done = 0;
    for (int r = 0; r < reps; r++)
        for (int fi = 0; fi < N_FILES; fi++)
            for (int ti = 0; ti < 2; ti++) {
                char path[1024], th[8], line[4096];
                model_path(path, sizeof path, cache, fi);
                snprintf(th, sizeof th, "%d", ti + 1);
                fprintf(stderr, "\rbench_engine: [%d/%d] %s %d thread(s) rep %d   ", ++done,
                        n_cells, TYPE_NAMES[fi], ti + 1, r + 1);
                for (int o = 0; o < 2; o++) {
                    const int eng = (o + r) % 2; /* alternate who goes first */
                    sample *x = &S[fi][ti][eng][r];
                    char *kk_m[] = {self, "measure", path, th, ids, NULL};
                    char *ll_m[] = {(char *)drv, path, th, "bench", ids, NULL};
                    char *kk_t[] = {(char *)kakeya, "generate", "-m", path, "--tokens", ids,
                                    "-n", "1", "--threads", th, "--kv-cache", (char *)kv_name,
                                    NULL};
                    char *ll_t[] = {(char *)drv, path, th, "ttft", ids, NULL};
                    double wall;
                    if (spawn(eng ? ll_m : kk_m, line, sizeof line, &wall, &x->rss_mb) != 0 ||
                        sscanf(line, "%lf %lf %lf %lf %lf %lf %lf", &x->v[0], &x->v[1],
                               &x->v[2], &x->v[3], &x->v[4], &x->v[5], &x->v[6]) != 7)
                        return die(eng ? "llama.cpp measure failed" : "kakeya measure failed",
                                   NULL);
                    if (spawn(eng ? ll_t : kk_t, NULL, 0, &x->ttft_s, &x->ttft_rss_mb) != 0)
                        return die(eng ? "llama.cpp ttft failed" : "kakeya generate failed",
                                   NULL);
                }
            }
    fputc('\n', stderr);
    for (int fi = 0; fi < N_FILES; fi++)
        for (int ti = 0; ti < 2; ti++) {
            const cell_out c = {jl, full_facts, TYPE_NAMES[fi], ti + 1, reps};
            double kk[64], ll[64], ra[64];
            const double pf_target = fi == 2 ? 0.8 : 0.9;
#define FILL(EXPR_K, EXPR_L)                                                                \
    for (int r = 0; r < reps; r++) {                                                        \
        const sample *a = &S[fi][ti][0][r], *b = &S[fi][ti][1][r];                           \
        (void)b;                                                                            \
        kk[r] = (EXPR_K);                                                                   \
        ll[r] = (EXPR_L);                                                                   \
    }
            FILL(N_DECODE / a->v[2], N_DECODE / b->v[2]);
            for (int r = 0; r < reps; r++) ra[r] = kk[r] / ll[r];
            report(&c, "decode", "tok/s", kk, ll, ra, ">=", 1.0);
            FILL(N_PROMPT / a->v[1], N_PROMPT / b->v[1]);
            for (int r = 0; r < reps; r++) ra[r] = kk[r] / ll[r];
            report(&c, "prefill", "tok/s", kk, ll, ra, ">=", pf_target);
            FILL(a->ttft_s, b->ttft_s);
            for (int r = 0; r < reps; r++) ra[r] = ll[r] / kk[r]; /* speed ratio */
            report(&c, "ttft(speed)", "s", kk, ll, ra, ">=", pf_target);
            for (int li = 0; li < 4; li++) {
                char name[32];
                snprintf(name, sizeof name, "verify%d/step", 2 << li);
                FILL(a->v[3 + li] / (a->v[2] / N_DECODE), b->v[3 + li] / (b->v[2] / N_DECODE));
                for (int r = 0; r < reps; r++) ra[r] = kk[r]; /* kakeya's own cost */
                report(&c, name, "x", kk, ll, ra, "<=", li == 2 ? 2.5 : 1e9);
            }
            FILL(a->rss_mb > a->ttft_rss_mb ? a->rss_mb : a->ttft_rss_mb,
                 b->rss_mb > b->ttft_rss_mb ? b->rss_mb : b->ttft_rss_mb);
            for (int r = 0; r < reps; r++) ra[r] = kk[r] / ll[r];
            report(&c, "peak_rss", "MB", kk, ll, ra, "<=", 1.1);
            /* Decode bandwidth: the bytes a step reads (every matrix but
             * the embedding) times steps per second, against the copy. */
            struct stat st;
            char path[1024];
            model_path(path, sizeof path, cache, fi);
            stat(path, &st);
            const double emb = 32000.0 * 768.0 * (fi == 0 ? 4.0 : fi == 1 ? 2.0 : 34.0 / 32.0);
            const double bytes = (double)st.st_size - emb;
            FILL(bytes * N_DECODE / a->v[2] / 1e9, bytes * N_DECODE / b->v[2] / 1e9);
            for (int r = 0; r < reps; r++) ra[r] = kk[r] / bw[ti];
            report(&c, "decode_GB/s", "GB/s", kk, ll, ra, ">=", 0.0); /* ratio: of the copy */
#undef FILL
        }
    fclose(jl);
    return 0;
}

/* KAKEYA_MATMUL_ISA caps the SIMD level as it does for bin/kakeya (the
 * engine reads no environment; this driver passes it on). Unset or empty:
 * no cap. @return 0, or 2 after a message when the value is not allowed. */
static int apply_isa_env(void)
{
    const char *v = getenv("KAKEYA_MATMUL_ISA");
    if (!v || !*v)
        return 0;
    matmul_isa isa;
    if (matmul_isa_parse(v, &isa, NULL) != KK_OK) {
        fprintf(stderr, "bench_engine: found \"%s\" in KAKEYA_MATMUL_ISA; allowed: %s (or unset)\n",
                v, MATMUL_ISA_NAMES);
        return 2;
    }
    matmul_set_isa(isa);
    return 0;
}

int main(int argc, char **argv)
{
    if (apply_isa_env() != 0 || apply_kernels_env() != 0)
        return 2;
    if (argc >= 3 && !strcmp(argv[1], "gen"))
        return cmd_gen(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "measure"))
        return cmd_measure(argv[2], atoi(argv[3]), argv[4], false);
    /* the same with verification in batch-invariant mode (speculative
     * decoding's cost: docs/performance.md) */
    if (argc == 5 && !strcmp(argv[1], "measure-inv"))
        return cmd_measure(argv[2], atoi(argv[3]), argv[4], true);
    if (argc == 2 && !strcmp(argv[1], "stream")) {
        double bw[2];
        if (stream_measure(bw) != 0)
            return 2;
        printf("copy %.2f GB/s (1 thread) %.2f GB/s (2 threads)\n", bw[0], bw[1]);
        return 0;
    }
    if (argc == 7 && !strcmp(argv[1], "run"))
        return cmd_run(argv[2], argv[3], argv[4], atoi(argv[5]), argv[6]);
    fprintf(stderr, "usage: bench_engine gen DIR | measure FILE T IDS | measure-inv FILE T IDS |\n"
                    "       stream |\n"
                    "       run CACHE KAKEYA LLAMA_DRV REPS FACTS_JSON_FRAGMENT\n");
    return 3;
}
