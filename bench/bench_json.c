/*
 * bench_json: parse speed of the strict reader (common/json.c) against
 * cJSON (Debian's libcjson, bench only) on one evidence-like document,
 * measured in the same run.
 *
 * The document is generated deterministically (a fixed LCG, no clock): the
 * evidence skeleton of docs/evidence.md with 10 arms x 8000 samples, each
 * sample a small object of integers, decimals, booleans and short strings,
 * about 7.5 MB in all (docs/json.md, "Speed").
 *
 * Each parser parses (and frees) the same buffer REPS times, interleaved;
 * we report medians (the machine is shared, so the median, not the best or
 * the mean) of the thread's CPU time (user + system, so page faults count)
 * and of the wall time, in MB/s (10^6 bytes per second), and the ratio
 * ours / cJSON. CPU time is the headline: on a machine shared with other
 * jobs, wall time measures the load as much as the parser. One JSON line
 * goes to build/bench/json.jsonl when that folder exists.
 *
 * It also counts, in the same run, how many of JSONTestSuite's 188 invalid
 * (n_) files each reader accepts (tests/common/json_suite_vectors.h):
 * cJSON_Parse and cJSON_ParseWithOpts with require_null_terminated (which
 * refuses trailing bytes) on a NUL-terminated copy, as a program reading
 * the file would call them, and cJSON_ParseWithLength on the exact bytes.
 *
 * Usage: bench_json [--reps N] [--write FILE] [--profile-ours]
 *   --write FILE     also write the generated document to FILE
 *   --profile-ours   only parse with our reader, N times (for perf record)
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/json_suite_vectors.h"
#include "json.h"
#include "kk_stats.h"

#define N_ARMS 10
#define N_SAMPLES 8000
#define DEFAULT_REPS 9

/* ---- the document ------------------------------------------------------ */

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        while (b->n + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 1 << 20;
        b->p = realloc(b->p, b->cap);
        if (!b->p) {
            fprintf(stderr, "bench_json: out of memory\n");
            exit(1);
        }
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void putf(buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void putf(buf *b, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        fprintf(stderr, "bench_json: generator line too long\n");
        exit(1);
    }
    put(b, tmp, (size_t)n);
}

static uint64_t rng_state = 0x6b616b657961ULL; /* "kakeya" */

static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

static double rnd01(void)
{
    return rnd() / 2147483648.0;
}

static void gen_doc(buf *b)
{
    static const char *arm_names[N_ARMS] = {
        "oracle", "identity", "q8_0", "q4_0", "affine-4",
        "e8-4", "e8-3", "lattice-2", "needle-masked", "ar"};
    putf(b, "{\"schema_version\":1,\"preset\":{\"name\":\"niah-bench\",\"kind\":\"niah\","
            "\"sha256\":\"%08x%08x%08x%08x%08x%08x%08x%08x\",\"params\":{\"ctx\":[1024,2048,4096],"
            "\"depths\":[0.1,0.5,0.9],\"samples\":8000,\"seed\":42}},",
         rnd(), rnd(), rnd(), rnd(), rnd(), rnd(), rnd(), rnd());
    putf(b, "\"provenance\":{\"tool_version\":\"0.1.0\",\"git_commit\":\"%08x%08x%08x%08x%08x\","
            "\"git_dirty\":false,\"host\":{\"cpu\":\"bench cpu\",\"cores\":2},\"compiler\":\"cc\","
            "\"blas\":\"openblas\",\"seed\":42,\"threads\":2,\"started\":\"2025-01-01T00:00:00Z\","
            "\"finished\":\"2025-01-01T01:00:00Z\",\"wall_s\":3600.5},",
         rnd(), rnd(), rnd(), rnd(), rnd());
    put(b, "\"models\":[{\"role\":\"target\",\"source\":\"synthetic\",\"sha256\":\"00\","
           "\"architecture\":\"llama\"}],\"arms\":[", 
        strlen("\"models\":[{\"role\":\"target\",\"source\":\"synthetic\",\"sha256\":\"00\","
               "\"architecture\":\"llama\"}],\"arms\":["));
    for (int a = 0; a < N_ARMS; a++) {
        double recall = 0.5 + 0.5 * rnd01();
        putf(b, "%s{\"name\":\"%s\",\"config\":{\"codec\":\"%s\",\"bits\":%u},"
                "\"config_sha256\":\"%08x%08x%08x%08x%08x%08x%08x%08x\","
                "\"metrics\":{\"recall\":%.6f,\"recall_ci_lo\":%.6f,\"recall_ci_hi\":%.6f,"
                "\"n\":%d,\"bits_per_value\":%.3f,\"kv_bytes_resident\":%u},"
                "\"timings\":{\"scope\":\"arm\",\"prefill_s\":%.4f,\"decode_s\":%.4f,"
                "\"tokens_decoded\":%u,\"repeats\":[%.4f,%.4f,%.4f]},"
                "\"signals\":{\"counters\":{\"values_encoded\":%u,\"values_decoded\":%u},"
                "\"fallbacks_taken\":[],\"memory\":{\"peak_rss\":%u}},\"samples\":[",
             a ? "," : "", arm_names[a], arm_names[a], 2 + rnd() % 7, rnd(), rnd(), rnd(),
             rnd(), rnd(), rnd(), rnd(), rnd(), recall, recall - 0.01, recall + 0.01,
             N_SAMPLES, 2.0 + 6.0 * rnd01(), rnd() % 100000000, 10 * rnd01(), 100 * rnd01(),
             rnd() % 1000000, rnd01(), rnd01(), rnd01(), rnd(), rnd(), rnd());
        for (int s = 0; s < N_SAMPLES; s++) {
            unsigned ctx = 1024u << (rnd() % 3);
            unsigned key = 128 + rnd() % 64, val = 192 + rnd() % 64;
            int hit = rnd() % 8 != 0;
            putf(b, "%s{\"i\":%d,\"ctx\":%u,\"depth\":%.1f,\"k\":\"k%03u\","
                    "\"got\":%u,\"hit\":%s,\"mrg\":%.4f,\"lp\":%.3e}",
                 s ? "," : "", s, ctx, 0.1 + 0.4 * (rnd() % 3), key,
                 hit ? val : 192 + rnd() % 64, hit ? "true" : "false",
                 (rnd01() - 0.2) * 8.0, (rnd01() - 0.5) * 40.0);
        }
        put(b, "]}", 2);
    }
    put(b, "],\"summary\":{\"passed\":true}}\n", strlen("],\"summary\":{\"passed\":true}}\n"));
}

/* ---- strictness ------------------------------------------------------------ */

static void count_suite_accepts(void)
{
    size_t n = JSON_SUITE_N(json_suite_n), ours = 0, cj_len = 0, cj = 0, cj_strict = 0;
    char names[4096] = "", names_strict[2048] = "";
    size_t nl = 0, nls = 0;
    for (size_t i = 0; i < n; i++) {
        const json_suite_case *c = &json_suite_n[i];
        size_t len = c->len;
        char *big = c->bytes ? NULL : json_suite_big(c->name, &len);
        const char *b = c->bytes ? c->bytes : big;
        json_doc *d = NULL;
        if (json_parse(b, len, "suite", NULL, &d, NULL) == KK_OK)
            ours++;
        json_doc_free(d);
        /* As a program reading the file into a NUL-terminated buffer would. */
        char *z = malloc(len + 1);
        memcpy(z, b, len);
        z[len] = '\0';
        cJSON *x = cJSON_ParseWithLength(b, len);
        cj_len += x != NULL;
        cJSON_Delete(x);
        x = cJSON_Parse(z);
        if (x) {
            cj++;
            nl += (size_t)snprintf(names + nl, nl < sizeof names ? sizeof names - nl : 0,
                                   " %s", c->name + 2);
        }
        cJSON_Delete(x);
        x = cJSON_ParseWithOpts(z, NULL, 1);
        if (x) {
            cj_strict++;
            nls += (size_t)snprintf(names_strict + nls,
                                    nls < sizeof names_strict ? sizeof names_strict - nls : 0,
                                    " %s", c->name + 2);
        }
        cJSON_Delete(x);
        free(z);
        free(big);
    }
    printf("JSONTestSuite n_ files accepted (of %zu; a strict reader accepts 0):\n", n);
    printf("  %-46s %4zu\n", "kakeya json_parse", ours);
    printf("  %-46s %4zu\n", "cJSON_Parse (NUL-terminated file)", cj);
    printf("  %-46s %4zu\n", "cJSON_ParseWithOpts, require_null_terminated", cj_strict);
    printf("  %-46s %4zu\n", "cJSON_ParseWithLength (exact length)", cj_len);
    printf("  cJSON_Parse accepts:%s\n", names);
    printf("  with require_null_terminated:%s\n", names_strict);
}

/* ---- timing -------------------------------------------------------------- */

typedef struct stamp {
    double wall, cpu;
    long minflt; /* minor page faults so far */
} stamp;

static stamp now(void)
{
    struct timespec c;
    struct rusage ru;
    const double wall = kk_now_s();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
    getrusage(RUSAGE_THREAD, &ru);
    return (stamp){wall, (double)c.tv_sec + c.tv_nsec * 1e-9, ru.ru_minflt};
}

/* (t1 - t0) + (t3 - t2) for both clocks into wall[r], cpu[r]. */
static void spans(double *wall, double *cpu, int r, stamp t0, stamp t1, stamp t2,
                  stamp t3)
{
    wall[r] = (t1.wall - t0.wall) + (t3.wall - t2.wall);
    cpu[r] = (t1.cpu - t0.cpu) + (t3.cpu - t2.cpu);
}

/* A checksum over the parsed tree, so neither parse can be optimised away
 * and both parsers are seen to read the same document. */
static size_t count_ours(const json_value *v)
{
    size_t n = 1;
    if (v->type == JSON_ARRAY)
        for (size_t i = 0; i < v->u.arr.n; i++)
            n += count_ours(v->u.arr.items[i]);
    else if (v->type == JSON_OBJECT)
        for (size_t i = 0; i < v->u.obj.n; i++)
            n += count_ours(v->u.obj.members[i].value);
    return n;
}

static size_t count_cjson(const cJSON *v)
{
    size_t n = 1;
    for (const cJSON *c = v->child; c; c = c->next)
        n += count_cjson(c);
    return n;
}

int main(int argc, char **argv)
{
    int reps = DEFAULT_REPS;
    const char *write_path = NULL;
    int profile_ours = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--write") && i + 1 < argc)
            write_path = argv[++i];
        else if (!strcmp(argv[i], "--profile-ours"))
            profile_ours = 1;
        else {
            fprintf(stderr, "usage: bench_json [--reps N] [--write FILE] [--profile-ours]\n");
            return 3;
        }
    }
    if (reps < 1 || reps > 1000)
        reps = DEFAULT_REPS;

    buf doc = {0};
    gen_doc(&doc);
    if (write_path) {
        FILE *f = fopen(write_path, "wb");
        if (!f || fwrite(doc.p, 1, doc.n, f) != doc.n || fclose(f)) {
            fprintf(stderr, "bench_json: cannot write %s\n", write_path);
            return 2;
        }
    }

    if (profile_ours) {
        for (int r = 0; r < reps; r++) {
            json_doc *d = NULL;
            if (json_parse(doc.p, doc.n, "bench", NULL, &d, NULL) != KK_OK)
                return 2;
            json_doc_free(d);
        }
        free(doc.p);
        return 0;
    }
    double *w_ours = calloc((size_t)reps, sizeof(double));
    double *c_ours = calloc((size_t)reps, sizeof(double));
    double *w_cjson = calloc((size_t)reps, sizeof(double));
    double *c_cjson = calloc((size_t)reps, sizeof(double));
    size_t n_ours = 0, n_cjson = 0;
    long flt_ours = 0, flt_cjson = 0;
    /* Interleaved, so a burst of load from other processes hits both. */
    for (int r = 0; r < reps; r++) {
        kk_err err;
        json_doc *d = NULL;
        stamp t0 = now();
        kk_code rc = json_parse(doc.p, doc.n, "bench", NULL, &d, &err);
        stamp t1 = now();
        if (rc != KK_OK) {
            kk_err_print(stderr, "bench_json", &err);
            return 2;
        }
        n_ours = count_ours(json_doc_root(d));
        stamp t2 = now();
        json_doc_free(d);
        stamp t3 = now();
        spans(w_ours, c_ours, r, t0, t1, t2, t3); /* parse + free */
        flt_ours += (t1.minflt - t0.minflt) + (t3.minflt - t2.minflt);

        t0 = now();
        cJSON *c = cJSON_ParseWithLength(doc.p, doc.n);
        t1 = now();
        if (!c) {
            fprintf(stderr, "bench_json: cJSON rejected the document\n");
            return 2;
        }
        n_cjson = count_cjson(c);
        t2 = now();
        cJSON_Delete(c);
        t3 = now();
        spans(w_cjson, c_cjson, r, t0, t1, t2, t3);
        flt_cjson += (t1.minflt - t0.minflt) + (t3.minflt - t2.minflt);
    }
    count_suite_accepts();
    if (n_ours != n_cjson) {
        fprintf(stderr, "bench_json: value counts differ: ours %zu, cJSON %zu\n",
                n_ours, n_cjson);
        return 1;
    }
    double mb = doc.n / 1e6;
    const size_t nr = (size_t)reps;
    double cpu_ours = mb / kk_median(c_ours, nr), cpu_cjson = mb / kk_median(c_cjson, nr);
    double wall_ours = mb / kk_median(w_ours, nr), wall_cjson = mb / kk_median(w_cjson, nr);
    char cname[64];
    snprintf(cname, sizeof cname, "cJSON %s", cJSON_Version());
    printf("json parse: %.2f MB evidence-like document (%d arms x %d samples, %zu values),\n"
           "  parse + free, median of %d interleaved runs\n",
           mb, N_ARMS, N_SAMPLES, n_ours, reps);
    printf("  %-22s %12s %12s %14s\n", "parser", "MB/s (cpu)", "MB/s (wall)",
           "faults/parse");
    printf("  %-22s %12.1f %12.1f %14ld\n", "kakeya json_parse", cpu_ours, wall_ours,
           flt_ours / reps);
    printf("  %-22s %12.1f %12.1f %14ld\n", cname, cpu_cjson, wall_cjson, flt_cjson / reps);
    printf("  ratio kakeya / cJSON:  %11.2fx %11.2fx\n", cpu_ours / cpu_cjson,
           wall_ours / wall_cjson);

    FILE *jl = fopen("build/bench/json.jsonl", "a");
    if (jl) {
        fprintf(jl, "{\"bench\":\"json_parse\",\"bytes\":%zu,\"reps\":%d,"
                    "\"ours_cpu_mb_s\":%.1f,\"cjson_cpu_mb_s\":%.1f,"
                    "\"ours_wall_mb_s\":%.1f,\"cjson_wall_mb_s\":%.1f,\"ratio_cpu\":%.3f}\n",
                doc.n, reps, cpu_ours, cpu_cjson, wall_ours, wall_cjson,
                cpu_ours / cpu_cjson);
        fclose(jl);
    }
    free(w_ours);
    free(c_ours);
    free(w_cjson);
    free(c_cjson);
    free(doc.p);
    return 0;
}
