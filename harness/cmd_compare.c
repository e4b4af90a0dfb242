/*
 * kakeya compare EVIDENCE... [--md FILE] [--svg FILE] [--baseline ARM]
 *                [--distortion gaussian|k|v] [--presets DIR]
 * kakeya compare --before OLD.json --after NEW.json [--md FILE] [--alpha A]
 *
 * The first form prints, per evidence set, the rate-distortion table, the
 * Pareto front and one verdict per arm against the baseline (Markdown, to
 * stdout or --md), and draws the plot (--svg). The second compares two
 * evidence files arm by arm with significance tests. docs/compare.md has
 * the rules; compare.h, compare_rule.h and compare_diff.h the code.
 *
 * Exit codes: 0 ok; 1 (--before/--after only) a significant regression;
 * 2 bad input (a malformed evidence file, an unknown --baseline arm, a bad
 * flag value, a file that cannot be written); 3 usage.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "compare.h"
#include "compare_diff.h"
#include "kk_args.h"
#include "kk_file.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: kakeya compare EVIDENCE... [--md FILE] [--svg FILE] [--baseline ARM]\n"
            "                      [--distortion gaussian|k|v] [--presets DIR]\n"
            "       kakeya compare --before OLD.json --after NEW.json [--md FILE] [--alpha A]\n"
            "  EVIDENCE        evidence JSON files; a folder stands for its *.json in name order\n"
            "  --md FILE       write the Markdown there (default: stdout)\n"
            "  --svg FILE      plot: bits/value against rel_mse (Gaussian with the bound\n"
            "                  D(R) = 2^(-2R); the model's K/V), marker = recall\n"
            "  --baseline ARM  the verdicts' reference (default: the preset's gate: baseline:,\n"
            "                  else the first arm that is not the identity oracle)\n"
            "  --distortion D  the rel_mse the front and verdicts judge (default gaussian)\n"
            "  --presets DIR   where <preset>.yaml is read (default: <repo root>/presets)\n"
            "  --before/--after  arm-by-arm change with significance tests\n"
            "  --alpha A       family-wise significance level (default %g, Holm)\n"
            "exit codes: 0 ok, 1 a significant regression (--before/--after), 2 bad input,\n"
            "            3 usage\n",
            COMPARE_ALPHA_DEFAULT);
}

typedef struct paths {
    char **v;
    size_t n, cap;
} paths;

static kk_code paths_add(paths *p, const char *s, kk_err *err)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        char **v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return kk_err_set(err, KK_E_NOMEM, "out of memory");
        p->v = v;
        p->cap = cap;
    }
    if (!(p->v[p->n] = strdup(s)))
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    p->n++;
    return KK_OK;
}

static void paths_free(paths *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file as is; a folder as its *.json files in name order (evidence names
 * start with a UTC stamp: oldest first). */
static kk_code expand(const char *arg, paths *out, kk_err *err)
{
    struct stat st;
    if (stat(arg, &st) != 0 || !S_ISDIR(st.st_mode))
        return paths_add(out, arg, err); /* a missing file fails when read, located */
    DIR *d = opendir(arg);
    if (!d) {
        kk_err_set(err, KK_E_IO, "cannot open folder %s", arg);
        return kk_err_file(err, arg);
    }
    size_t first = out->n;
    struct dirent *e;
    kk_code rc = KK_OK;
    char path[PATH_MAX];
    while (rc == KK_OK && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || e->d_name[0] == '.' || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        size_t al = strlen(arg);
        while (al > 1 && arg[al - 1] == '/')
            al--;
        int w = snprintf(path, sizeof path, "%.*s/%s", (int)al, arg, e->d_name);
        if (w < 0 || (size_t)w >= sizeof path)
            rc = kk_err_set(err, KK_E_RANGE, "path too long in %s", arg);
        else
            rc = paths_add(out, path, err);
    }
    closedir(d);
    if (rc == KK_OK && out->n == first) {
        kk_err_set(err, KK_E_MISSING, "folder %s holds no *.json evidence", arg);
        return kk_err_file(err, arg);
    }
    qsort(out->v + first, out->n - first, sizeof *out->v, cmp_str);
    return rc;
}

/* Send a memory stream's bytes to `file` atomically, or to stdout. */
static kk_code emit(const char *file, const char *buf, size_t len, kk_err *err)
{
    if (file) {
        kk_code rc = kk_file_write_atomic(file, buf, len, err);
        if (rc == KK_OK)
            fprintf(stderr, "kakeya compare: wrote %s\n", file);
        return rc;
    }
    if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)
        return kk_err_set(err, KK_E_IO, "writing to stdout failed");
    return KK_OK;
}

typedef struct opts {
    const char *md, *svg, *baseline, *dist, *presets, *before, *after, *alpha;
} opts;

static int run_sets(const opts *o, paths *files, kk_err *err)
{
    compare_dist d = COMPARE_DIST_GAUSSIAN;
    if (o->dist) {
        if (!strcmp(o->dist, "gaussian"))
            d = COMPARE_DIST_GAUSSIAN;
        else if (!strcmp(o->dist, "k"))
            d = COMPARE_DIST_K;
        else if (!strcmp(o->dist, "v"))
            d = COMPARE_DIST_V;
        else {
            kk_err_set(err, KK_E_RANGE, "--distortion '%s': allowed gaussian, k, v", o->dist);
            kk_err_where(err, "--distortion");
            return cmd_fail("compare", err);
        }
    }
    char presets[PATH_MAX] = "";
    if (o->presets) {
        snprintf(presets, sizeof presets, "%s", o->presets);
    } else {
        char root[PATH_MAX - 16];
        if (kk_repo_root(root, sizeof root, NULL) == KK_OK)
            snprintf(presets, sizeof presets, "%s/presets", root);
    }
    compare_set *sets = calloc(files->n, sizeof *sets);
    char *md = NULL, *svg = NULL;
    size_t md_len = 0, svg_len = 0;
    FILE *ms = NULL;
    int code = KK_EXIT_OK;
    kk_code rc = sets ? KK_OK : kk_err_set(err, KK_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == KK_OK && i < files->n; i++)
        rc = compare_set_load(files->v[i], &sets[i], err);
    if (rc == KK_OK && !(ms = open_memstream(&md, &md_len)))
        rc = kk_err_set(err, KK_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == KK_OK && i < files->n; i++) {
        size_t base = 0;
        char why[512];
        rc = compare_baseline(&sets[i], o->baseline, presets[0] ? presets : NULL, &base, why,
                              sizeof why, err);
        if (rc == KK_OK)
            rc = compare_write_set(ms, &sets[i], base, why, d, err);
    }
    if (ms && fclose(ms) != 0 && rc == KK_OK)
        rc = kk_err_set(err, KK_E_NOMEM, "out of memory");
    ms = NULL;
    if (rc == KK_OK && o->svg) {
        if (!(ms = open_memstream(&svg, &svg_len)))
            rc = kk_err_set(err, KK_E_NOMEM, "out of memory");
        else
            rc = compare_write_svg(ms, sets, files->n, d, err);
        if (ms && fclose(ms) != 0 && rc == KK_OK)
            rc = kk_err_set(err, KK_E_NOMEM, "out of memory");
    }
    /* Nothing is written unless everything was computed. */
    if (rc == KK_OK)
        rc = emit(o->md, md, md_len, err);
    if (rc == KK_OK && o->svg)
        rc = emit(o->svg, svg, svg_len, err);
    if (rc != KK_OK)
        code = cmd_fail("compare", err);
    for (size_t i = 0; sets && i < files->n; i++)
        compare_set_free(&sets[i]);
    free(sets);
    free(md);
    free(svg);
    return code;
}

static int run_before_after(const opts *o, kk_err *err)
{
    double alpha = COMPARE_ALPHA_DEFAULT;
    if (o->alpha && kk_arg_f64("--alpha", o->alpha, 1e-9, 0.5, &alpha, err) != KK_OK)
        return cmd_fail("compare", err);
    compare_set b = {0}, a = {0};
    compare_diff diff = {0};
    char *md = NULL;
    size_t md_len = 0;
    FILE *ms = NULL;
    kk_code rc = compare_set_load(o->before, &b, err);
    if (rc == KK_OK)
        rc = compare_set_load(o->after, &a, err);
    if (rc == KK_OK)
        rc = compare_diff_run(&b, &a, alpha, &diff, err);
    if (rc == KK_OK && !(ms = open_memstream(&md, &md_len)))
        rc = kk_err_set(err, KK_E_NOMEM, "out of memory");
    if (rc == KK_OK) {
        compare_diff_write(ms, &diff, &b, &a);
        if (fclose(ms) != 0)
            rc = kk_err_set(err, KK_E_NOMEM, "out of memory");
        if (rc == KK_OK)
            rc = emit(o->md, md, md_len, err);
    }
    int code = rc != KK_OK ? cmd_fail("compare", err)
               : diff.n_regressions ? KK_EXIT_FAIL : KK_EXIT_OK;
    if (rc == KK_OK && diff.n_regressions)
        fprintf(stderr, "kakeya compare: %zu significant regression%s (alpha %g)\n",
                diff.n_regressions, diff.n_regressions == 1 ? "" : "s", alpha);
    compare_diff_free(&diff);
    compare_set_free(&a);
    compare_set_free(&b);
    free(md);
    return code;
}

int cmd_compare(int argc, char **argv)
{
    kk_err err;
    kk_err_clear(&err);
    opts o = {0};
    struct { const char *flag; const char **dst; } vals[] = {
        {"--md", &o.md},           {"--svg", &o.svg},         {"--baseline", &o.baseline},
        {"--distortion", &o.dist}, {"--presets", &o.presets}, {"--before", &o.before},
        {"--after", &o.after},     {"--alpha", &o.alpha},
    };
    paths files = {0};
    int code = KK_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            goto done;
        }
        if (a[0] != '-' || !strcmp(a, "-")) {
            if (expand(a, &files, &err) != KK_OK) {
                code = cmd_fail("compare", &err);
                goto done;
            }
            continue;
        }
        size_t k = 0;
        while (k < sizeof vals / sizeof vals[0] && strcmp(a, vals[k].flag) != 0)
            k++;
        if (k == sizeof vals / sizeof vals[0]) {
            fprintf(stderr, "kakeya compare: unknown option '%s'\n", a);
            help(stderr);
            code = KK_EXIT_USAGE;
            goto done;
        }
        if (!(*vals[k].dst = kk_arg_value(argc, argv, &i, &err))) {
            code = cmd_fail("compare", &err);
            goto done;
        }
    }
    const char *usage_msg = NULL;
    int ba = o.before || o.after;
    if (ba && !(o.before && o.after))
        usage_msg = "--before and --after go together";
    else if (ba && files.n)
        usage_msg = "--before/--after take no other evidence files";
    else if (ba && (o.svg || o.baseline || o.dist || o.presets))
        usage_msg = "--svg, --baseline, --distortion and --presets are not for --before/--after";
    else if (!ba && o.alpha)
        usage_msg = "--alpha is for --before/--after";
    else if (!ba && files.n == 0)
        usage_msg = "no evidence files given";
    if (usage_msg) {
        fprintf(stderr, "kakeya compare: %s\n", usage_msg);
        help(stderr);
        code = KK_EXIT_USAGE;
        goto done;
    }
    code = ba ? run_before_after(&o, &err) : run_sets(&o, &files, &err);
done:
    paths_free(&files);
    return code;
}
