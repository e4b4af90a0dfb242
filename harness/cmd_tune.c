/*
 * kakeya tune [--threads T] [--layers N] [--vocab V] [--reps R] [--dry-run]
 *             [--json] | kakeya tune --show
 * Picks this host's matmul kernel variants (engine/kernels.h) by
 * measurement and writes them to the host's tune cache (cli_kernels.h),
 * which every later bin/kakeya run on this host reads.
 *
 * What is timed: one decode step's GEMVs of the 134M bench model (d 768,
 * FFN 2048, 12 layers: q, k, v, o, gate, up, down; the 32000-row output
 * head), one token, built from random weights of each type (F32, F16,
 * Q8_0), so every pass streams the same bytes a decode step does (537, 269
 * and 143 MB: past any L3). For each type, every variant of its knobs
 * (prefetch distance 0, 4, 8, 12, 16 or 32 KiB; hint nta or t0; for F16
 * also the row kernel, row4 or tile1; for Q8_0 the rows streamed at once,
 * 1 or 4) runs once per round, rounds rotating
 * the order, R rounds; a variant's time is its best pass (the least
 * disturbed on a shared machine). The hint is one knob for all types: the
 * one whose best variants sum to the least time wins, then each type takes
 * its fastest variant under it.
 *
 * Before timing, every variant's output is compared with the defaults':
 * the bit-identical knobs must give the same floats (a mismatch is a bug:
 * exit 1, nothing written); the F16 row kernel is reported as rounding-
 * changing. --show prints the spec in effect (after the cache, the
 * environment and --kernels) on stdout and its source on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_bounds.h"
#include "cli_kernels.h"
#include "cmd.h"
#include "dtype.h"
#include "json.h"
#include "kernels.h"
#include "kk_args.h"
#include "kk_file.h"
#include "kk_rand.h"
#include "kk_stats.h"
#include "matmul.h"
#include "ops.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: kakeya tune [--threads T] [--layers N] [--vocab V] [--reps R] [--dry-run]\n"
            "                   [--json]\n"
            "       kakeya tune --show\n"
            "measures the matmul kernel variants of this host on one decode step of the\n"
            "134M bench model's shapes and writes the fastest to the host's tune cache\n"
            "  --threads T   compute threads while timing (default 1: decode at 1 thread)\n"
            "  --layers N    layers of d 768, FFN 2048 (default 12, 1..48)\n"
            "  --vocab V     rows of the output head (default 32000, 256..262144)\n"
            "  --reps R      rounds (default 5, 1..50)\n"
            "  --dry-run     measure and print; write nothing\n"
            "  --json        one JSON object on stdout\n"
            "  --show        the kernels in effect: spec on stdout, source on stderr\n"
            "exit codes: 0 ok, 1 a bit-identical variant gave other floats, 2 bad input\n"
            "or write error, 3 usage\n");
}

enum { D = 768, FF = 2048, N_PER_LAYER = 7 };
static const dtype_t TYPES[3] = {DTYPE_F32, DTYPE_F16, DTYPE_Q8_0};
static const char *const TYPE_NAMES[3] = {"f32", "f16", "q8_0"};
static const int32_t PFS[] = {0, 4096, 8192, 12288, 16384, 32768};
#define N_PF (sizeof PFS / sizeof PFS[0])

typedef struct variant {
    int type;          /* index into TYPES */
    kern_choice k;
    double best_s;     /* best pass */
    int identical;     /* output equal to the defaults' (bit-identical knobs) */
} variant;

/* One type's weights: the layers' seven matrices and the head. */
typedef struct wset {
    ops_weight *w;
    void **bufs;
    size_t n;
    double bytes;
} wset;

static void wset_free(wset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->bufs[i]);
    free(s->bufs);
    free(s->w);
}

/* Random weights (uniform, seeded) of one type, stored as it is stored. */
static int wset_make(wset *s, dtype_t t, int layers, int vocab, uint64_t seed)
{
    const size_t n = (size_t)layers * N_PER_LAYER + 1;
    s->w = calloc(n, sizeof *s->w);
    s->bufs = calloc(n, sizeof *s->bufs);
    s->n = 0;
    s->bytes = 0;
    if (!s->w || !s->bufs)
        return -1;
    float *row = malloc(FF * sizeof(float));
    if (!row)
        return -1;
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++) {
        const int j = (int)(i % N_PER_LAYER);
        const int64_t rows = i == n - 1 ? vocab : j == 4 || j == 5 ? FF : D;
        const int64_t cols = i == n - 1 ? D : j == 6 ? FF : D;
        const size_t rb = dtype_row_size(t, (uint64_t)cols);
        void *buf = malloc((size_t)rows * rb);
        if (!buf) {
            free(row);
            return -1;
        }
        s->bufs[s->n++] = buf;
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t c = 0; c < cols; c++)
                row[c] = (float)((double)(kk_splitmix64(&st) >> 11) * 0x1p-53 - 0.5);
            uint8_t *dst = (uint8_t *)buf + (size_t)r * rb;
            if (t == DTYPE_F32)
                memcpy(dst, row, (size_t)cols * sizeof(float));
            else if (t == DTYPE_F16)
                dtype_f32_to_f16_row(row, (uint16_t *)dst, (size_t)cols);
            else
                dtype_quantize_row_q8_0_ref(row, (dtype_block_q8_0 *)dst, (size_t)cols);
        }
        s->w[i] = (ops_weight){.type = t, .rows = rows, .cols = cols, .raw = buf,
                               .f32 = t == DTYPE_F32 ? buf : NULL, .act = OPS_ACT_GGML};
        s->bytes += (double)rows * (double)rb;
    }
    free(row);
    return 0;
}

/* One decode step's GEMVs: every matrix once, one token. */
static void pass(const wset *s, const float *x, float *y)
{
    for (size_t i = 0; i < s->n; i++)
        matmul_run(matmul_default(), &s->w[i], x, y, 1);
}

static int tune_main(int argc, char **argv);

int cmd_tune(int argc, char **argv) { return tune_main(argc, argv); }

static int show(void)
{
    char spec[160];
    kern_format(kern_current(), spec, sizeof spec);
    printf("%s\n", spec);
    fprintf(stderr, "kakeya tune: kernels from %s\n", cli_kernels_source());
    return KK_EXIT_OK;
}

static int tune_main(int argc, char **argv)
{
    kk_err err;
    kk_err_clear(&err);
    const char *threads_arg = NULL, *layers_arg = NULL, *vocab_arg = NULL, *reps_arg = NULL;
    bool json = false, dry = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return KK_EXIT_OK;
        }
        if (!strcmp(a, "--show"))
            return show();
        if (!strcmp(a, "--json") || !strcmp(a, "--dry-run")) {
            *(!strcmp(a, "--json") ? &json : &dry) = true;
            continue;
        }
        const char **dst = !strcmp(a, "--threads") ? &threads_arg
                           : !strcmp(a, "--layers") ? &layers_arg
                           : !strcmp(a, "--vocab")  ? &vocab_arg
                           : !strcmp(a, "--reps")   ? &reps_arg
                                                    : NULL;
        if (!dst) {
            fprintf(stderr, "kakeya tune: unknown option '%s'\n", a);
            help(stderr);
            return KK_EXIT_USAGE;
        }
        if (!(*dst = kk_arg_value(argc, argv, &i, &err)))
            return cmd_fail("tune", &err);
    }
    int64_t threads = 1, layers = 12, vocab = 32000, reps = 5;
    if ((threads_arg && cli_bound_parse("--threads", threads_arg, &threads, &err) != KK_OK) ||
        (layers_arg && kk_arg_i64("--layers", layers_arg, 1, 48, &layers, &err) != KK_OK) ||
        (vocab_arg && kk_arg_i64("--vocab", vocab_arg, 256, 262144, &vocab, &err) != KK_OK) ||
        (reps_arg && kk_arg_i64("--reps", reps_arg, 1, 50, &reps, &err) != KK_OK))
        return cmd_fail("tune", &err);
    matmul_set_threads((int)threads);
    const kern_choice entry = *kern_current();
    kern_choice def;
    kern_defaults(&def);

    /* the variants: per type, pf x hint (x row kernel for F16) */
    variant vs[3 * N_PF * 2 * 2];
    size_t nv = 0;
    for (int t = 0; t < 3; t++)
        for (size_t p = 0; p < N_PF; p++)
            for (int h = 0; h < 2; h++)
                for (int g = 0; g < (t == 0 ? 1 : 2); g++) {
                    variant *v = &vs[nv++];
                    v->type = t;
                    v->k = def;
                    v->k.hint = h ? KERN_HINT_T0 : KERN_HINT_NTA;
                    if (t == 1) /* F16: the row kernel; Q8_0: rows at once */
                        v->k.f16_gemv = g ? KERN_F16_TILE1 : KERN_F16_ROW4;
                    else if (t == 2)
                        v->k.q8_rows = g ? 4 : 1;
                    int32_t *pf = t == 0 ? &v->k.pf_f32 : t == 1 ? &v->k.pf_f16 : &v->k.pf_q8;
                    *pf = PFS[p];
                    v->best_s = 1e30;
                    v->identical = 1;
                }
    float *x = malloc(FF * sizeof(float));
    float *y0 = malloc((size_t)(vocab > FF ? vocab : FF) * sizeof(float));
    float *y1 = malloc((size_t)(vocab > FF ? vocab : FF) * sizeof(float));
    if (!x || !y0 || !y1) {
        free(x), free(y0), free(y1);
        kk_err_set(&err, KK_E_NOMEM, "out of memory");
        return cmd_fail("tune", &err);
    }
    uint64_t st = 7;
    for (int i = 0; i < FF; i++)
        x[i] = (float)((double)(kk_splitmix64(&st) >> 11) * 0x1p-53 * 2.0 - 1.0);
    double gbs_bytes[3] = {0, 0, 0};
    int mismatch = 0;
    for (int t = 0; t < 3; t++) {
        wset s;
        if (wset_make(&s, TYPES[t], (int)layers, (int)vocab, 11 + (uint64_t)t) != 0) {
            wset_free(&s);
            free(x), free(y0), free(y1);
            kk_err_set(&err, KK_E_NOMEM, "out of memory for the %s weights", TYPE_NAMES[t]);
            return cmd_fail("tune", &err);
        }
        gbs_bytes[t] = s.bytes;
        /* the output head under the defaults, against every variant */
        const ops_weight *head = &s.w[s.n - 1];
        kern_set(&def);
        matmul_run(matmul_default(), head, x, y0, 1);
        for (size_t i = 0; i < nv; i++) {
            if (vs[i].type != t)
                continue;
            kern_set(&vs[i].k);
            matmul_run(matmul_default(), head, x, y1, 1);
            vs[i].identical = !memcmp(y0, y1, (size_t)vocab * sizeof(float));
            if (!vs[i].identical && !kern_rounding_differs(&vs[i].k, &def))
                mismatch = 1;
        }
        kern_set(&def);
        pass(&s, x, y1); /* warm-up: pages touched, threads started */
        for (int64_t r = 0; r < reps; r++) {
            size_t cnt = 0;
            for (size_t i = 0; i < nv; i++)
                cnt += vs[i].type == t;
            for (size_t o = 0; o < cnt; o++) {
                /* rotate the order per round: no variant always runs first */
                size_t want = (o + (size_t)r) % cnt, i = 0, seen = 0;
                for (; i < nv; i++)
                    if (vs[i].type == t && seen++ == want)
                        break;
                kern_set(&vs[i].k);
                const double t0 = kk_now_s();
                pass(&s, x, y1);
                const double dt = kk_now_s() - t0;
                if (dt < vs[i].best_s)
                    vs[i].best_s = dt;
            }
        }
        wset_free(&s);
    }
    free(x), free(y0), free(y1);
    /* the hint shared by all types, then each type's best under it */
    double tot[2] = {0, 0};
    for (int h = 0; h < 2; h++)
        for (int t = 0; t < 3; t++) {
            double b = 1e30;
            for (size_t i = 0; i < nv; i++)
                if (vs[i].type == t && (int)vs[i].k.hint == h && vs[i].best_s < b)
                    b = vs[i].best_s;
            tot[h] += b;
        }
    const int hint = tot[1] < tot[0];
    kern_choice pick = def;
    pick.hint = hint ? KERN_HINT_T0 : KERN_HINT_NTA;
    size_t chosen[3] = {0, 0, 0};
    for (int t = 0; t < 3; t++) {
        double b = 1e30;
        for (size_t i = 0; i < nv; i++)
            if (vs[i].type == t && (int)vs[i].k.hint == hint && vs[i].best_s < b) {
                b = vs[i].best_s;
                chosen[t] = i;
            }
        const kern_choice *k = &vs[chosen[t]].k;
        if (t == 0)
            pick.pf_f32 = k->pf_f32;
        else if (t == 1) {
            pick.pf_f16 = k->pf_f16;
            pick.f16_gemv = k->f16_gemv;
        } else {
            pick.pf_q8 = k->pf_q8;
            pick.q8_rows = k->q8_rows;
        }
    }
    kern_set(&entry);
    char spec[160], path[2200], desc[4600];
    kern_format(&pick, spec, sizeof spec);
    if (cli_kernels_cache_path(path, sizeof path, desc, sizeof desc, &err) != KK_OK)
        return cmd_fail("tune", &err);
    int written = 0;
    if (!dry && !mismatch) {
        char dir[2300];
        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = '\0';
        char body[5200];
        const time_t now = time(NULL);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        const int n = snprintf(body, sizeof body, "%s\ncpu: %s\nthreads: %d\ntuned: %s\n", spec,
                               desc, (int)threads, stamp);
        if (kk_mkdir_p(dir, &err) != KK_OK ||
            kk_file_write_atomic(path, body, (size_t)n, &err) != KK_OK)
            return cmd_fail("tune", &err);
        written = 1;
    }
    if (json) {
        printf("{\"threads\": %d, \"layers\": %d, \"vocab\": %d, \"reps\": %d, \"variants\": [",
               (int)threads, (int)layers, (int)vocab, (int)reps);
        for (size_t i = 0; i < nv; i++) {
            char k[160];
            kern_format(&vs[i].k, k, sizeof k);
            printf("%s{\"type\": \"%s\", \"kernels\": \"%s\", \"best_s\": ", i ? ", " : "",
                   TYPE_NAMES[vs[i].type], k);
            json_write_double(stdout, vs[i].best_s);
            printf(", \"gb_per_s\": ");
            json_write_double(stdout, gbs_bytes[vs[i].type] / vs[i].best_s * 1e-9);
            printf(", \"identical_to_default\": %s}", vs[i].identical ? "true" : "false");
        }
        printf("], \"chosen\": \"%s\", \"cache\": ", spec);
        json_write_string(stdout, path, strlen(path));
        printf(", \"written\": %s, \"bit_identity_ok\": %s}\n", written ? "true" : "false",
               mismatch ? "false" : "true");
    } else {
        printf("type  row    pf     hint  ms/step  GB/s   same floats as default\n"
               "(row: F16 the row kernel, row4 or tile1; Q8_0 rows streamed at once)\n");
        for (size_t i = 0; i < nv; i++) {
            const variant *v = &vs[i];
            const int32_t pf = v->type == 0 ? v->k.pf_f32 : v->type == 1 ? v->k.pf_f16 : v->k.pf_q8;
            printf("%-5s %-6s %-6d %-5s %7.2f %6.1f  %s%s\n", TYPE_NAMES[v->type],
                   v->type == 1   ? (v->k.f16_gemv == KERN_F16_TILE1 ? "tile1" : "row4")
                   : v->type == 2 ? (v->k.q8_rows == 4 ? "rows4" : "rows1")
                                  : "-",
                   (int)pf, v->k.hint == KERN_HINT_T0 ? "t0" : "nta", v->best_s * 1e3,
                   gbs_bytes[v->type] / v->best_s * 1e-9,
                   v->identical ? "yes" : kern_rounding_differs(&v->k, &def) ? "no (rounding-changing knob)"
                                                                           : "NO: BUG",
                   i == chosen[v->type] ? "   <- chosen" : "");
        }
        printf("chosen: %s\n%s %s\n", spec, written ? "written to" : "not written (dry run)", path);
    }
    if (mismatch) {
        fprintf(stderr, "kakeya tune: a bit-identical variant gave other floats than the "
                        "defaults (a kernel bug); nothing written\n");
        return KK_EXIT_FAIL;
    }
    return KK_EXIT_OK;
}
