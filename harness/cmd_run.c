/*
 * The preset commands of bin/kakeya (docs/harness.md):
 *   kakeya list [--presets DIR]
 *   kakeya show NAME [--set K=V ...] [--presets DIR]
 *   kakeya run NAME [--set K=V ...] [--out DIR] [--jobs N] [--seed S]
 *              [--shard I/N] [--threads T] [--presets DIR] [--quiet]
 *   kakeya validate-presets [--presets DIR]
 *   kakeya merge [--out DIR] FILE...
 * Only presets in the presets folder run, by name. Evidence goes to
 * <out>/<preset>/<UTC stamp>-<short commit>.json (out: <repo>/evidence).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "evidence.h"
#include "kind.h"
#include "cli_bounds.h"
#include "kk_args.h"
#include "kk_fault.h"
#include "kk_file.h"
#include "preset.h"
#include "run.h"
#include "run_merge.h"

#define MAX_SETS 64

static kk_code default_dir(const char *sub, char *buf, size_t cap, kk_err *err)
{
    char root[PATH_MAX];
    KK_TRY(kk_repo_root(root, sizeof root, err));
    if ((size_t)snprintf(buf, cap, "%s/%s", root, sub) >= cap)
        return kk_err_set(err, KK_E_RANGE, "path too long");
    return KK_OK;
fail:
    return err->code;
}

/* Evidence made under fault injection (kk_fault.h; `faults` names them)
 * never goes into the repository's evidence/ folder or below it, where CI's
 * gate and the committed evidence live: KK_E_RANGE at --out. The gate
 * rejects such a file anyway (FAULT_INJECTED); this keeps it from being
 * written there by accident. `out` is the folder the file goes to,
 * <--out>/<preset>: resolved itself when it exists, so a symlink there
 * into evidence/ is caught as --out itself would be. */
static kk_code refuse_faulted_out(const char *out, const char *faults, kk_err *err)
{
    char ev[PATH_MAX], ev_real[PATH_MAX], probe[PATH_MAX], out_real[PATH_MAX];
    KK_TRY(default_dir("evidence", ev, sizeof ev, err));
    if (!realpath(ev, ev_real))
        snprintf(ev_real, sizeof ev_real, "%s", ev);
    /* The deepest existing ancestor of out (out itself may not exist yet). */
    snprintf(probe, sizeof probe, "%s", out);
    while (!realpath(probe, out_real)) {
        char *slash = strrchr(probe, '/');
        if (!strcmp(probe, ".") || !strcmp(probe, "/"))
            return KK_OK; /* not even the current folder resolves */
        if (!slash)
            snprintf(probe, sizeof probe, ".");
        else if (slash == probe)
            slash[1] = 0;
        else
            *slash = 0;
    }
    size_t n = strlen(ev_real);
    if (strncmp(out_real, ev_real, n) == 0 && (out_real[n] == 0 || out_real[n] == '/')) {
        kk_err_set(err, KK_E_RANGE, "evidence made under fault injection (%s) must not be written "
                   "to the repository's evidence folder %s (found %s, resolving to %s); allowed: an "
                   "--out folder outside it", faults, ev_real, out, out_real);
        return kk_err_where(err, "--out");
    }
    return KK_OK;
fail:
    return err->code;
}

static int usage_err(const char *sub, const char *fmt, const char *arg)
{
    fprintf(stderr, "kakeya %s: ", sub);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (kakeya %s --help)\n", sub);
    return KK_EXIT_USAGE;
}

/* ---- list / validate-presets ----------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The stems of DIR/ *.yaml, sorted. */
static kk_code list_stems(const char *dir, char ***out, size_t *n, kk_err *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        kk_err_set(err, KK_E_IO, "cannot open the presets folder: %s", strerror(errno));
        return kk_err_file(err, dir);
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= 5 || strcmp(e->d_name + l - 5, ".yaml") || e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(*out, cap * sizeof *nn);
            if (!nn)
                break;
            *out = nn;
        }
        (*out)[(*n)++] = strndup(e->d_name, l - 5);
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_str);
    return KK_OK;
}

static void free_stems(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

static int parse_presets_only(const char *sub, int argc, char **argv, char *dir, size_t cap,
                              const char *help)
{
    kk_err err;
    kk_err_clear(&err);
    dir[0] = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s", help);
            return -1;
        } else if (!strcmp(argv[i], "--presets")) {
            const char *v = kk_arg_value(argc, argv, &i, &err);
            if (!v)
                return cmd_fail(sub, &err);
            snprintf(dir, cap, "%s", v);
        } else {
            return usage_err(sub, "unknown argument '%s'", argv[i]);
        }
    }
    if (!dir[0] && default_dir("presets", dir, cap, &err) != KK_OK)
        return cmd_fail(sub, &err);
    return 0;
}

int cmd_list(int argc, char **argv)
{
    char dir[PATH_MAX];
    int rc = parse_presets_only("list", argc, argv, dir, sizeof dir,
                                "usage: kakeya list [--presets DIR]\n"
                                "The presets `kakeya run NAME` accepts, with kind and description.\n");
    if (rc)
        return rc < 0 ? 0 : rc;
    kk_err err;
    char **stems;
    size_t n;
    if (list_stems(dir, &stems, &n, &err) != KK_OK)
        return cmd_fail("list", &err);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        preset *p = NULL;
        if (preset_load(dir, stems[i], &p, &err) != KK_OK) {
            printf("%-20s %-13s INVALID: run kakeya validate-presets\n", stems[i], "?");
            bad = 1;
            continue;
        }
        printf("%-20s %-13s %s%s\n", p->name, p->kind->name, p->description,
               p->kind->available ? "" : " [not available in this build]");
        preset_free(p);
    }
    free_stems(stems, n);
    return bad ? KK_EXIT_INPUT : KK_EXIT_OK;
}

int cmd_validate_presets(int argc, char **argv)
{
    char dir[PATH_MAX];
    int rc = parse_presets_only("validate-presets", argc, argv, dir, sizeof dir,
                                "usage: kakeya validate-presets [--presets DIR]\n"
                                "Checks every DIR/*.yaml (types, bounds, kinds, gate block); "
                                "exit 2 when one is invalid.\n");
    if (rc)
        return rc < 0 ? 0 : rc;
    kk_err err;
    char **stems;
    size_t n;
    if (list_stems(dir, &stems, &n, &err) != KK_OK)
        return cmd_fail("validate-presets", &err);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        preset *p = NULL;
        if (preset_load(dir, stems[i], &p, &err) != KK_OK) {
            kk_err_print(stderr, "kakeya validate-presets", &err);
            bad = 1;
            continue;
        }
        printf("ok %s (%s, %zu arms)\n", p->name, p->kind->name, p->n_arms);
        preset_free(p);
    }
    free_stems(stems, n);
    printf("%zu presets, %s\n", n, bad ? "some invalid" : "all valid");
    return bad ? KK_EXIT_INPUT : KK_EXIT_OK;
}

/* ---- show ---------------------------------------------------------------------------- */

static const char *origin_name(preset_origin o)
{
    return o == PRESET_ORIGIN_SET ? "--set" : o == PRESET_ORIGIN_PRESET ? "preset" : "kind default";
}

static void show(const preset *p)
{
    printf("preset   %s\nkind     %s%s\nfile     %s\nsha256   %s\n%s\n\nparameters:\n", p->name,
           p->kind->name, p->kind->available ? "" : " (not available in this build)", p->file,
           p->sha256, p->description);
    for (size_t i = 0; i < p->n_params; i++) {
        const preset_param *prm = &p->params[i];
        char val[1024], b[600];
        preset_value_text(prm, val, sizeof val);
        preset_bounds_text(&prm->b, b, sizeof b);
        const kind_param_spec *sp = &p->kind->params[i];
        printf("  %-12s = %-28s (%s; %s)\n", prm->name, val, origin_name(prm->origin), b);
        printf("  %-12s   %s\n", "", prm->help ? prm->help : sp->help ? sp->help : "");
    }
    printf("\nmodels:\n");
    for (size_t i = 0; i < p->n_models; i++) {
        char val[1024];
        preset_value_text(p->models[i].param, val, sizeof val);
        printf("  %-8s %s (parameter %s)\n", p->models[i].role, val, p->models[i].param->name);
    }
    printf("\narms:\n");
    for (size_t a = 0; a < p->n_arms; a++) {
        printf("  %-16s", p->arms[a].name);
        for (size_t f = 0; f < p->kind->n_arm_fields; f++) {
            const kind_field_spec *fs = &p->kind->arm_fields[f];
            const preset_field *v = &p->arms[a].fields[f];
            if (fs->type == PRESET_T_BOOL)
                printf(" %s=%s", fs->key, v->i ? "true" : "false");
            else if (fs->type == PRESET_T_INT)
                printf(" %s=%" PRId64, fs->key, v->i);
            else if (fs->type == PRESET_T_FLOAT)
                printf(" %s=%.17g", fs->key, v->f);
            else
                printf(" %s=%s", fs->key, v->s);
        }
        printf("\n");
    }
    const kk_preset *g = p->src;
    printf("\ngate:\n");
    if (g->baseline)
        printf("  baseline %s\n", g->baseline);
    for (size_t i = 0; i < g->n_thresholds; i++) {
        const kk_preset_cond *c = &g->thresholds[i];
        printf("  threshold %s.%s%s%s %s %s\n", c->arm, c->metric, c->other ? " vs " : "",
               c->other ? c->other : "", kk_preset_op_text(c->op), c->value);
    }
    if (g->has_positive)
        printf("  positive control %s.%s %s %s\n", g->positive.arm, g->positive.metric,
               kk_preset_op_text(g->positive.op), g->positive.value);
    for (size_t i = 0; i < g->n_negative; i++)
        printf("  negative control %s.%s %s %s\n", g->negative[i].arm, g->negative[i].metric,
               kk_preset_op_text(g->negative[i].op), g->negative[i].value);
    for (size_t i = 0; i < g->n_relax; i++)
        printf("  relax %s: %s\n", g->relax[i].rule, g->relax[i].reason);
}

/* ---- run ------------------------------------------------------------------------------ */

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
    g_stop = 1;
    g_signal = sig;
}

typedef struct run_args {
    const char *name;
    const char *sets[MAX_SETS];
    int n_sets;
    char presets[PATH_MAX];
    char out[PATH_MAX];
    run_opts o;
    int quiet;
} run_args;

static int parse_run_args(const char *sub, int argc, char **argv, run_args *a, int is_run)
{
    kk_err err;
    kk_err_clear(&err);
    memset(a, 0, sizeof *a);
    a->o.jobs = 1;
    a->o.threads = 1;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            char jb[128], th[128];
            printf(is_run ? "usage: kakeya run NAME [--set K=V ...] [--out DIR] [--jobs N] [--seed S]\n"
                            "                  [--shard I/N] [--threads T] [--presets DIR] [--quiet]\n"
                            "Runs presets/NAME.yaml and writes its evidence to "
                            "OUT/NAME/<UTC stamp>-<commit>.json (OUT: <repo>/evidence).\n"
                            "  --set K=V     override a parameter (checked against its type and bounds)\n"
                            "  --jobs N      %s\n"
                            "  --seed S      run seed (overrides the seed parameter)\n"
                            "  --shard I/N   run arms with index %% N == I-1 (join with kakeya merge)\n"
                            "  --threads T   %s; default 1\n"
                            "  --quiet       no progress on stderr\n"
                          : "usage: kakeya show NAME [--set K=V ...] [--presets DIR]\n"
                            "Prints the resolved parameters (and where each came from), models, "
                            "arms and gate.\n",
                   cli_bound_help("--jobs", jb, sizeof jb), cli_bound_help("--threads", th, sizeof th));
            return -1;
        }
        if (is_run && !strcmp(f, "--quiet")) {
            a->quiet = 1;
            continue;
        }
        if (f[0] == '-' && f[1] == '-') {
            const char *v = NULL;
            int known = !strcmp(f, "--set") || !strcmp(f, "--presets") ||
                        (is_run && (!strcmp(f, "--out") || !strcmp(f, "--jobs") || !strcmp(f, "--seed") ||
                                    !strcmp(f, "--shard") || !strcmp(f, "--threads")));
            if (!known)
                return usage_err(sub, "unknown flag '%s'", f);
            if (!(v = kk_arg_value(argc, argv, &i, &err)))
                return cmd_fail(sub, &err);
            int64_t x;
            if (!strcmp(f, "--set")) {
                if (a->n_sets >= MAX_SETS)
                    return usage_err(sub, "more than 64 --set flags (%s)", v);
                a->sets[a->n_sets++] = v;
            } else if (!strcmp(f, "--presets")) {
                snprintf(a->presets, sizeof a->presets, "%s", v);
            } else if (!strcmp(f, "--out")) {
                /* "" would fall back to the repository's evidence/. */
                if (!v[0]) {
                    kk_err_set(&err, KK_E_RANGE, "--out: the folder is empty (allowed: a folder "
                               "path; leave --out out for the repository's evidence/)");
                    kk_err_where(&err, "--out");
                    return cmd_fail(sub, &err);
                }
                snprintf(a->out, sizeof a->out, "%s", v);
            } else if (!strcmp(f, "--jobs")) {
                if (cli_bound_parse("--jobs", v, &x, &err) != KK_OK)
                    return cmd_fail(sub, &err);
                a->o.jobs = (int)x;
            } else if (!strcmp(f, "--threads")) {
                if (cli_bound_parse("--threads", v, &x, &err) != KK_OK)
                    return cmd_fail(sub, &err);
                a->o.threads = (int)x;
            } else if (!strcmp(f, "--seed")) {
                if (kk_arg_i64("--seed", v, 0, 9007199254740992LL, &x, &err) != KK_OK)
                    return cmd_fail(sub, &err);
                a->o.seed = (uint64_t)x;
                a->o.seed_set = 1;
            } else if (!strcmp(f, "--shard")) {
                int si = 0, sn = 0, used = 0;
                if (sscanf(v, "%d/%d%n", &si, &sn, &used) != 2 || v[used] || sn < 1 || sn > 256 ||
                    si < 1 || si > sn) {
                    kk_err_set(&err, KK_E_RANGE, "found \"%s\"; allowed: I/N with 1 <= I <= N <= 256", v);
                    kk_err_where(&err, "--shard");
                    return cmd_fail(sub, &err);
                }
                a->o.shard_i = si;
                a->o.shard_n = sn;
            }
            continue;
        }
        if (a->name)
            return usage_err(sub, "unexpected argument '%s' (one preset NAME)", f);
        a->name = f;
    }
    if (!a->name)
        return usage_err(sub, "missing the preset NAME%s", "");
    if (!a->presets[0] && default_dir("presets", a->presets, sizeof a->presets, &err) != KK_OK)
        return cmd_fail(sub, &err);
    if (is_run && !a->out[0] && default_dir("evidence", a->out, sizeof a->out, &err) != KK_OK)
        return cmd_fail(sub, &err);
    return 0;
}

static int load_with_sets(const char *sub, const run_args *a, preset **p)
{
    kk_err err;
    if (preset_load(a->presets, a->name, p, &err) != KK_OK)
        return cmd_fail(sub, &err);
    for (int i = 0; i < a->n_sets; i++)
        if (preset_set(*p, a->sets[i], &err) != KK_OK) {
            preset_free(*p);
            *p = NULL;
            return cmd_fail(sub, &err);
        }
    return 0;
}

int cmd_show(int argc, char **argv)
{
    run_args a;
    int rc = parse_run_args("show", argc, argv, &a, 0);
    if (rc)
        return rc < 0 ? 0 : rc;
    preset *p = NULL;
    if ((rc = load_with_sets("show", &a, &p)))
        return rc;
    show(p);
    preset_free(p);
    return KK_EXIT_OK;
}

int cmd_run(int argc, char **argv)
{
    run_args a;
    int rc = parse_run_args("run", argc, argv, &a, 1);
    if (rc)
        return rc < 0 ? 0 : rc;
    preset *p = NULL;
    if ((rc = load_with_sets("run", &a, &p)))
        return rc;
    kk_err err;
    kk_err_clear(&err);
    if (kk_fault_check(&err) != KK_OK) {
        preset_free(p);
        return cmd_fail("run", &err);
    }
    char dir[PATH_MAX + 256];
    snprintf(dir, sizeof dir, "%s/%s", a.out, p->name);
    if (kk_fault_active_count()) {
        const char *fv = getenv(KK_FAULT_ENV);
        if (refuse_faulted_out(dir, fv, &err) != KK_OK) {
            preset_free(p);
            return cmd_fail("run", &err);
        }
        fprintf(stderr, "kakeya run: fault injection on (%s=%s): this evidence records it in "
                "provenance.faults_injected and the gate rejects it\n", KK_FAULT_ENV, fv);
    }
    int cleaned = ev_clean_stale(dir);
    if (cleaned && !a.quiet)
        fprintf(stderr, "kakeya run: removed %d stale temporary file%s in %s\n", cleaned,
                cleaned > 1 ? "s" : "", dir);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    a.o.stop = &g_stop;
    a.o.progress = !a.quiet;
    run_ctx rc_;
    cJSON *doc = NULL;
    char path[PATH_MAX + 512];
    int written = 0; /* the evidence file is complete under its name */
    kk_code code = run_ctx_init(&rc_, p, &a.o, &err);
    if (code == KK_OK)
        code = run_execute(&rc_, &doc, &err);
    /* A document that could not be built whole is no evidence (evidence.h). */
    if (code == KK_OK && !g_stop && !doc)
        code = kk_err_set(&err, KK_E_NOMEM, "out of memory building the evidence document; "
                          "nothing written");
    if (code == KK_OK && !g_stop) {
        const cJSON *pv = cJSON_GetObjectItemCaseSensitive(doc, "provenance");
        ev_provenance e;
        memset(&e, 0, sizeof e);
        snprintf(e.started, sizeof e.started, "%s",
                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pv, "started")));
        snprintf(e.git_commit, sizeof e.git_commit, "%s",
                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pv, "git_commit")));
        code = ev_write(a.out, p->name, &e, doc, path, sizeof path, &err);
        written = code == KK_OK;
    }
    double wall = rc_.wall_s;
    cJSON_Delete(doc);
    run_ctx_free(&rc_);
    preset_free(p);
    /* A signal held during the write (ev_write) is delivered once the file
     * is complete: say so and name it, then die of the signal all the
     * same, so a shell loop stops on Ctrl-C and a scheduler sees the job it
     * killed as killed (docs/harness.md, "Files written whole"). Earlier,
     * or with the write failed (ev_write removed its temporary), nothing
     * was written. */
    if (g_stop && written) {
        fprintf(stderr, "kakeya run: signal %d arrived after the evidence was written; the file "
                "is complete: %s\n", (int)g_signal, path);
        printf("%s\n", path);
        fflush(stdout);
    } else if (g_stop) {
        fprintf(stderr, "kakeya run: interrupted by signal %d; no evidence written\n", (int)g_signal);
    }
    if (g_stop) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        signal((int)g_signal, SIG_DFL);
        raise((int)g_signal);
        return KK_EXIT_FAIL;
    }
    if (code != KK_OK)
        return cmd_fail("run", &err);
    if (!a.quiet)
        fprintf(stderr, "kakeya run: %.1f s; evidence written\n", wall);
    printf("%s\n", path);
    return KK_EXIT_OK;
}

/* ---- merge ----------------------------------------------------------------------------- */

int cmd_merge(int argc, char **argv)
{
    kk_err err;
    kk_err_clear(&err);
    char out[PATH_MAX] = "";
    const char *files[256];
    size_t n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: kakeya merge [--out DIR] FILE...\n"
                   "Joins the evidence of every shard of one `kakeya run --shard I/N` into "
                   "OUT/<preset>/<stamp>-<commit>.json, after `kakeya-gate validate` (the "
                   "kakeya-gate beside this binary) passes it.\n");
            return 0;
        } else if (!strcmp(argv[i], "--out")) {
            const char *v = kk_arg_value(argc, argv, &i, &err);
            if (!v)
                return cmd_fail("merge", &err);
            if (!v[0]) {
                kk_err_set(&err, KK_E_RANGE, "--out: the folder is empty (allowed: a folder "
                           "path; leave --out out for the repository's evidence/)");
                kk_err_where(&err, "--out");
                return cmd_fail("merge", &err);
            }
            snprintf(out, sizeof out, "%s", v);
        } else if (argv[i][0] == '-') {
            return usage_err("merge", "unknown flag '%s'", argv[i]);
        } else if (n < 256) {
            files[n++] = argv[i];
        } else {
            return usage_err("merge", "more than 256 files (%s)", argv[i]);
        }
    }
    if (!n)
        return usage_err("merge", "missing the shard evidence FILEs%s", "");
    if (!out[0] && default_dir("evidence", out, sizeof out, &err) != KK_OK)
        return cmd_fail("merge", &err);
    cJSON *doc = NULL;
    if (run_merge(files, n, &doc, &err) != KK_OK)
        return cmd_fail("merge", &err);
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(doc, "provenance");
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(doc, "preset");
    ev_provenance e;
    memset(&e, 0, sizeof e);
    snprintf(e.started, sizeof e.started, "%s",
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pv, "started")));
    snprintf(e.git_commit, sizeof e.git_commit, "%s",
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pv, "git_commit")));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pr, "name"));
    char path[PATH_MAX + 512];
    kk_code code = KK_OK;
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(pv, "faults_injected");
    if (cJSON_GetArraySize(fl) > 0) {
        char *faults = cJSON_PrintUnformatted(fl);
        char dir[PATH_MAX + 256];
        snprintf(dir, sizeof dir, "%s/%s", out, name ? name : "");
        code = refuse_faulted_out(dir, faults ? faults : "faults_injected", &err);
        cJSON_free(faults);
    }
    if (code == KK_OK)
        code = run_merge_validate(doc, &err);
    if (code == KK_OK)
        code = name ? ev_write(out, name, &e, doc, path, sizeof path, &err)
                    : kk_err_set(&err, KK_E_FORMAT, "merged evidence has no preset.name");
    cJSON_Delete(doc);
    if (code != KK_OK)
        return cmd_fail("merge", &err);
    printf("%s\n", path);
    return KK_EXIT_OK;
}
