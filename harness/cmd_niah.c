/*
 * kakeya niah -m FILE --ctx N[,N...] [--depths D[,D...]] [--samples K]
 *   [--seed S] [--threads T] [--distractors N] [--mask-layers L[,L]]
 *   [--kv-bits B | --kv-codec SPEC [--kv-codec-v SPEC] | --policy SPEC
 *   [--restore none|identity|ftheta|mix:A [--proposer FILE --ftheta FILE]]]
 *   [--ref] [--json]
 * Needle-in-a-haystack recall of a synthetic model (engine/niah.h), per
 * (context, depth) cell with a 95% Wilson interval and the smallest
 * retrieval margin. --json prints the object of docs/cli.md:
 *   {"model": {...}, "cells": [{"ctx", "depth", "n", "hits", "recall",
 *    "recall_ci_lo", "recall_ci_hi", "min_margin"}, ...]}
 * model.niah also names the kv codec (canonical spec or null; kv_codec_v
 * when V has its own), its bits/value from the bytes written (K and V
 * averaged by values) and the values the K and V codecs encoded and
 * decoded (counted by the codecs themselves), and the cache policy
 * (engine/kv_policy.h, canonical spec).
 * Progress and the wall time go to stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "codec.h"
#include "cli_bounds.h"
#include "json.h"
#include "kk_args.h"
#include "kk_fault.h"
#include "kk_stats.h"
#include "ftheta_gguf.h"
#include "kv_restored.h"
#include "niah.h"
#include "session.h"
#include "sha256.h"
#include "synth.h"

#define NIAH_MAX_LIST 64

/* "niah", or "restore eval" (the same run, --policy required): the name
 * every message and the usage line use. */
static const char *g_name = "niah";

/* A message on stderr, prefixed with the command's name. */
static void say(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kakeya %s: ", g_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static void help(FILE *out)
{
    char th[128];
    if (!strcmp(g_name, "restore eval"))
        fprintf(out, "usage: kakeya restore eval -m VERIFIER --ctx N[,N...] --policy SPEC\n"
                     "         [--restore none|identity|ftheta|mix:A [--proposer FILE --ftheta FILE]]"
                     " [options]\n"
                     "NIAH recall through a bounded cache whose evicted positions are restored;\n"
                     "--json adds per-layer restoration error and attention mass (the options\n"
                     "are kakeya niah's)\n");
    else
        fprintf(out, "usage: kakeya niah -m FILE --ctx N[,N...] [options]\n"
                     "needle-in-a-haystack recall of a synthetic model (kakeya model synth)\n");
    fprintf(out,
            "  -m, --model FILE     the synthetic GGUF\n"
            "  --ctx N[,N...]       context lengths in tokens (%d..%d)\n"
            "  --depths D[,D...]    needle depths in [0, 1] (default 0.1,0.5,0.9)\n"
            "  --samples K          samples per (ctx, depth) cell (default 20)\n"
            "  --seed S             run seed; sample i of a cell has its own\n"
            "                       generator from (S, ctx, depth index, i) (default 1)\n"
            "  --threads T          %s; default: the cores available\n"
            "  --distractors N      distractor pairs (default: the model's\n"
            "                       kakeya.synth.niah.distractors)\n"
            "  --mask-layers L[,L]  hide the needle's K/V from these layers\n"
            "                       (1 = retrieval: recall should drop to 0)\n"
            "  --kv-bits B          min-max affine round-to-nearest noise on every K/V\n"
            "                       row, groups of 32 along head_dim (1..16; default off)\n"
            "  --kv-codec SPEC      store every layer's K and V in a cache of this codec's\n"
            "                       bytes (docs/codecs.md: q8_0, q4_0, affine:bits=4, e8:bits=4,\n"
            "                       ...; rotate=hadamard rotates each head); not with --kv-bits\n"
            "  --kv-codec-v SPEC    V rows through this codec instead (KIVI: --kv-codec\n"
            "                       affine:bits=2,group=32,axis=token --kv-codec-v\n"
            "                       affine:bits=2,group=32)\n"
            "  --policy SPEC        the cache policy: full (default) or\n"
            "                       sinkwin:sink=S,window=W (S sinks and the last W\n"
            "                       positions; a needle outside both is gone), or s5\n"
            "                       (a hybrid model's global layers full, its sliding\n"
            "                       layers a ring of their window, --kv-codec for the\n"
            "                       global layers); sinkwin not with --kv-bits or\n"
            "                       --kv-codec\n"
            "  --restore MODE       with a sinkwin policy: none (default); identity (the\n"
            "                       evicted positions put back from the rows kept aside:\n"
            "                       the positive control); ftheta (the proposer's K/V\n"
            "                       through f_theta); mix:A (A * true + (1 - A) * f_theta)\n"
            "  --proposer FILE      with ftheta or mix: the proposer GGUF\n"
            "  --ftheta FILE        with ftheta or mix: the maps (kakeya restore fit), fitted\n"
            "                       for this model and that proposer (sha256 checked)\n"
            "  --ref                the plain reference kernels (slow)\n"
            "  --json               print the result object (docs/cli.md) on stdout\n"
            "exit codes: 0 ok, 2 bad input (file, value), 3 usage\n",
            NIAH_MIN_CTX, NIAH_MAX_CTX, cli_bound_help("--threads", th, sizeof th));
}

/* Comma-separated doubles in [lo, hi]. */
static kk_code parse_doubles(const char *flag, const char *val, double lo, double hi,
                             double *out, int32_t *n, kk_err *err)
{
    *n = 0;
    const char *p = val;
    for (;;) {
        const char *e = strchr(p, ',');
        const size_t len = e ? (size_t)(e - p) : strlen(p);
        char buf[64];
        if (len == 0 || len >= sizeof buf || *n >= NIAH_MAX_LIST) {
            kk_err_set(err, KK_E_RANGE,
                       "%s: '%s' is not a comma list of at most %d numbers", flag, val,
                       NIAH_MAX_LIST);
            return kk_err_where(err, flag);
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        kk_code rc = kk_arg_f64(flag, buf, lo, hi, &out[*n], err);
        if (rc != KK_OK)
            return rc;
        (*n)++;
        if (!e)
            return KK_OK;
        p = e + 1;
    }
}

static kk_code parse_ctx(const char *val, int64_t *out, int32_t *n, kk_err *err)
{
    double d[NIAH_MAX_LIST];
    kk_code rc = parse_doubles("--ctx", val, NIAH_MIN_CTX, NIAH_MAX_CTX, d, n, err);
    if (rc != KK_OK)
        return rc;
    for (int32_t i = 0; i < *n; i++) {
        if (d[i] != (double)(int64_t)d[i]) {
            kk_err_set(err, KK_E_RANGE, "--ctx: %.15g is not a whole number of tokens", d[i]);
            return kk_err_where(err, "--ctx");
        }
        out[i] = (int64_t)d[i];
    }
    return KK_OK;
}

typedef struct progress {
    double t0;
    bool tty;
} progress;

static void on_sample(void *ctx, const niah_cell *cell, int64_t done, int64_t total)
{
    const progress *p = ctx;
    if (p->tty || done == total)
        fprintf(stderr, "\rkakeya niah: %lld/%lld samples (ctx %lld, depth %g) %.1f s%s",
                (long long)done, (long long)total, (long long)cell->ctx, cell->depth,
                kk_now_s() - p->t0, done == total ? "\n" : "");
}

/* What the codec arm reports beside the cells. */
typedef struct codec_report {
    char spec[256];       /* canonical spec; "" without a codec */
    char spec_v[256];     /* V's own canonical spec, or "" */
    double bits_per_value;
    codec_stats k, v;
} codec_report;

/* The run's restoration figures (niah_restore_figs) as members of
 * model.niah: the samples whose needle a layer held exactly, the cache's
 * bytes at the largest context and a full F32 cache's there; with a
 * restoring mode the last query's attention mass on restored rows and on
 * the restored needle (means over samples of the per-sample largest over
 * layers), the rows restored, and per layer its type, error and masses
 * (docs/restoration.md "What every arm reports"). */
static void print_restore_figs(FILE *out, const niah_cfg *cfg, const synth_info *info)
{
    const niah_restore_figs *f = cfg->restore_figs;
    const double n = f->samples ? (double)f->samples : 1.0;
    fprintf(out, ", \"samples_needle_exact\": %lld, \"kv_bytes_resident\": %zu, "
                 "\"kv_bytes_full_equiv\": %zu", (long long)f->samples_exact, f->kv_bytes,
            f->kv_bytes_full);
    if (cfg->opts.policy && cfg->opts.policy->kind == KV_POLICY_S5)
        fprintf(out, ", \"kv_bytes_resident_sliding\": %zu", f->kv_bytes_sliding);
    if (cfg->opts.restore == KV_RESTORE_NONE)
        return;
    fprintf(out, ", \"attention_mass_restored\": ");
    json_write_double(out, f->mass_max / n);
    fprintf(out, ", \"attention_mass_needle\": ");
    json_write_double(out, f->needle_max / n);
    fprintf(out, ", \"positions_restored\": %llu, \"restored_layers\": [",
            (unsigned long long)f->positions);
    for (int32_t l = 0; l < f->n_layers; l++) {
        const double *e = f->layer[l];
        const bool sliding = l < 32 && ((info->sliding_layers >> l) & 1u);
        fprintf(out, "%s{\"layer\": %d, \"type\": \"%s\", \"rel_mse_restored_k\": ", l ? ", " : "",
                (int)l, sliding ? "sliding" : "global");
        json_write_double(out, e[1] > 0 ? e[0] / e[1] : 0.0);
        fprintf(out, ", \"rel_mse_restored_v\": ");
        json_write_double(out, e[3] > 0 ? e[2] / e[3] : 0.0);
        fprintf(out, ", \"attention_mass_restored\": ");
        json_write_double(out, f->mass[l] / n);
        fprintf(out, ", \"attention_mass_needle\": ");
        json_write_double(out, f->needle[l] / n);
        fprintf(out, "}");
    }
    fprintf(out, "]");
}

static void print_json(FILE *out, const char *path, const char *sha, const gguf_file *f,
                       const synth_info *info, const niah_cfg *cfg, const codec_report *cr,
                       const niah_cell *cells)
{
    gguf_str name = {"", 0};
    if (gguf_find_key(f, "general.name") >= 0)
        gguf_get_str(f, "general.name", &name, NULL);
    fprintf(out, "{\"model\": {\"file\": ");
    json_write_string(out, path, strlen(path));
    fprintf(out, ", \"sha256\": \"%s\", \"name\": ", sha);
    json_write_string(out, name.s, (size_t)name.len);
    fprintf(out, ", \"mode\": \"%s\", \"role\": \"%s\", \"seed\": %llu",
            synth_mode_name(info->mode), synth_role_name(info->role),
            (unsigned long long)info->seed);
    fprintf(out, ", \"niah\": {\"seed\": %llu, \"samples\": %lld, \"distractors\": %d, "
                 "\"kv_bits\": %d, \"mask_layers\": [",
            (unsigned long long)cfg->seed, (long long)cfg->samples, (int)cfg->distractors,
            (int)cfg->opts.kv_bits);
    int k = 0;
    for (int l = 0; l < 32; l++)
        if ((cfg->opts.mask_layers >> l) & 1u)
            fprintf(out, "%s%d", k++ ? ", " : "", l);
    char pol[64];
    kv_policy_format(cfg->opts.policy, pol, sizeof pol);
    /* restoration error over every restored position of the run */
    char rerr[160] = "";
    if (cfg->opts.restore != KV_RESTORE_NONE && cfg->restore_sums) {
        const double *rs = cfg->restore_sums;
        char a[40], b[40];
        json_format_double(a, sizeof a, rs[1] > 0 ? rs[0] / rs[1] : 0.0);
        json_format_double(b, sizeof b, rs[3] > 0 ? rs[2] / rs[3] : 0.0);
        snprintf(rerr, sizeof rerr, ", \"rel_mse_restored_k\": %s, \"rel_mse_restored_v\": %s",
                 a, b);
    }
    char rs[48];
    kv_restore_format((kv_restore_mode)cfg->opts.restore, cfg->opts.alpha, rs, sizeof rs);
    fprintf(out, "], \"policy\": \"%s\", \"restore\": \"%s\"%s", pol, rs, rerr);
    if (cfg->restore_figs)
        print_restore_figs(out, cfg, info);
    fprintf(out, ", \"kv_codec\": ");
    if (cr->spec[0]) {
        json_write_string(out, cr->spec, strlen(cr->spec));
        if (cr->spec_v[0]) {
            fprintf(out, ", \"kv_codec_v\": ");
            json_write_string(out, cr->spec_v, strlen(cr->spec_v));
        }
        fprintf(out, ", \"kv_bits_per_value\": ");
        json_write_double(out, cr->bits_per_value);
        fprintf(out, ", \"k_values_encoded\": %llu, \"k_values_decoded\": %llu, "
                     "\"v_values_encoded\": %llu, \"v_values_decoded\": %llu",
                (unsigned long long)cr->k.values_encoded,
                (unsigned long long)cr->k.values_decoded,
                (unsigned long long)cr->v.values_encoded,
                (unsigned long long)cr->v.values_decoded);
    } else {
        fprintf(out, "null");
    }
    fprintf(out, "}}, \"cells\": [");
    for (int32_t i = 0; i < cfg->n_ctx * cfg->n_depths; i++) {
        const niah_cell *c = &cells[i];
        fprintf(out, "%s\n  {\"ctx\": %lld, \"depth\": ", i ? "," : "", (long long)c->ctx);
        json_write_double(out, c->depth);
        fprintf(out, ", \"n\": %lld, \"hits\": %lld, \"recall\": ", (long long)c->n,
                (long long)c->hits);
        json_write_double(out, c->recall);
        fprintf(out, ", \"recall_ci_lo\": ");
        json_write_double(out, c->recall_ci_lo);
        fprintf(out, ", \"recall_ci_hi\": ");
        json_write_double(out, c->recall_ci_hi);
        fprintf(out, ", \"min_margin\": ");
        json_write_double(out, c->min_margin);
        fprintf(out, "}");
    }
    fprintf(out, "\n]}\n");
}

static void print_table(FILE *out, const niah_cfg *cfg, const niah_cell *cells)
{
    fprintf(out, "%8s %6s %5s %5s %7s %17s %11s\n", "ctx", "depth", "n", "hits", "recall",
            "95% CI", "min_margin");
    for (int32_t i = 0; i < cfg->n_ctx * cfg->n_depths; i++) {
        const niah_cell *c = &cells[i];
        fprintf(out, "%8lld %6.3g %5lld %5lld %7.2f   [%5.3f, %5.3f] %11.3f\n",
                (long long)c->ctx, c->depth, (long long)c->n, (long long)c->hits, c->recall,
                c->recall_ci_lo, c->recall_ci_hi, c->min_margin);
    }
}

/* A codec as the cache builds it (a rotation without dim rotates each
 * head: dim = head_dim; axis=token takes the row's channels, as
 * kv_codec.h says): its canonical spec and bits/value; for a variable-rate
 * codec (e8ans) the rate its rows cost in the run (ran: its counters). */
static kk_code built_codec(const codec_spec *spec, int32_t head_dim, int32_t row,
                           const codec_stats *ran, char *name, size_t cap, double *bits,
                           kk_err *err)
{
    codec_spec s = *spec;
    if (s.rotate == CODEC_ROTATE_HADAMARD && s.dim == 0)
        s.dim = head_dim;
    if (s.axis == CODEC_AXIS_TOKEN && s.channels == 0)
        s.channels = row;
    codec *c = NULL;
    kk_code rc = codec_init(&c, &s, err);
    if (rc != KK_OK)
        return rc;
    codec_spec_format(&s, name, cap);
    *bits = !codec_is_variable(c)     ? codec_bits_per_value(c)
            : ran->values_encoded > 0 ? 8.0 * (double)ran->bytes_encoded /
                                            (double)ran->values_encoded
                                      : 0.0;
    codec_free(c);
    return KK_OK;
}

/* The report of the K and V codecs: V's spec when it has its own, and the
 * bits/value of K and V together (weighted by their values). */
static kk_code report_codec(const codec_spec *k, const codec_spec *v, const model *m,
                            codec_report *cr, kk_err *err)
{
    const model_hparams *hp = &m->hp;
    double bk, bv;
    kk_code rc = built_codec(k, hp->head_dim_k, hp->n_kv_heads * hp->head_dim_k, &cr->k,
                             cr->spec, sizeof cr->spec, &bk, err);
    if (rc != KK_OK)
        return rc;
    /* V's own rate: its spec, or K's (a variable codec's V rows cost
     * their own bytes) */
    char unused[sizeof cr->spec_v];
    rc = built_codec(v ? v : k, hp->head_dim_v, hp->n_kv_heads * hp->head_dim_v, &cr->v,
                     v ? cr->spec_v : unused, sizeof unused, &bv, err);
    if (rc != KK_OK)
        return rc;
    cr->bits_per_value = (bk * hp->head_dim_k + bv * hp->head_dim_v) /
                         (double)(hp->head_dim_k + hp->head_dim_v);
    return KK_OK;
}

static int niah_main(int argc, char **argv);

int cmd_niah(int argc, char **argv)
{
    g_name = "niah";
    return niah_main(argc, argv);
}

int cmd_restore_eval(int argc, char **argv)
{
    g_name = "restore eval";
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "--policy"))
            return niah_main(argc, argv);
    say("--policy SPEC is required (sinkwin:sink=S,window=W or s5: the bounded cache "
        "whose evicted positions are restored)\n");
    help(stderr);
    return KK_EXIT_USAGE;
}

static int niah_main(int argc, char **argv)
{
    kk_err err;
    kk_err_clear(&err);
    const char *path = NULL, *ctx_arg = NULL, *depth_arg = NULL, *samples_arg = NULL,
               *seed_arg = NULL, *threads_arg = NULL, *distr_arg = NULL, *mask_arg = NULL,
               *bits_arg = NULL, *codec_arg = NULL, *codec_v_arg = NULL, *policy_arg = NULL,
               *restore_arg = NULL, *proposer_arg = NULL, *ftheta_arg = NULL;
    bool json = false, use_ref = false;
    struct { const char *flag; const char **dst; } vals[] = {
        {"-m", &path},          {"--model", &path},          {"--ctx", &ctx_arg},
        {"--depths", &depth_arg}, {"--samples", &samples_arg}, {"--seed", &seed_arg},
        {"--threads", &threads_arg}, {"--distractors", &distr_arg},
        {"--mask-layers", &mask_arg}, {"--kv-bits", &bits_arg},
        {"--kv-codec", &codec_arg}, {"--kv-codec-v", &codec_v_arg},
        {"--policy", &policy_arg}, {"--restore", &restore_arg},
        {"--proposer", &proposer_arg}, {"--ftheta", &ftheta_arg},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return KK_EXIT_OK;
        }
        if (!strcmp(a, "--json")) {
            json = true;
            continue;
        }
        if (!strcmp(a, "--ref")) {
            use_ref = true;
            continue;
        }
        size_t k = 0;
        while (k < sizeof vals / sizeof vals[0] && strcmp(a, vals[k].flag) != 0)
            k++;
        if (k == sizeof vals / sizeof vals[0]) {
            say("unknown option '%s'\n", a);
            help(stderr);
            return KK_EXIT_USAGE;
        }
        if (!(*vals[k].dst = kk_arg_value(argc, argv, &i, &err)))
            return cmd_fail(g_name, &err);
    }
    if (!path || !ctx_arg) {
        say("%s is required\n", !path ? "-m FILE" : "--ctx N");
        help(stderr);
        return KK_EXIT_USAGE;
    }
    int64_t ctx[NIAH_MAX_LIST];
    double depths[NIAH_MAX_LIST] = {0.1, 0.5, 0.9};
    int32_t n_ctx = 0, n_depths = 3;
    int64_t samples = 20, seed = 1, x;
    int threads;
    niah_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    codec_spec spec, spec_v;
    codec_report cr;
    memset(&cr, 0, sizeof cr);
    if (bits_arg && codec_arg) {
        say("--kv-bits and --kv-codec are exclusive\n");
        help(stderr);
        return KK_EXIT_USAGE;
    }
    if (codec_arg) {
        if (codec_spec_parse(codec_arg, &spec, &err) != KK_OK) {
            kk_err_where(&err, "--kv-codec");
            return cmd_fail(g_name, &err);
        }
        cfg.opts.kv_codec = &spec;
        cfg.k_stats = &cr.k;
        cfg.v_stats = &cr.v;
    }
    kv_policy policy = {.kind = KV_POLICY_FULL};
    if (policy_arg && kv_policy_parse(policy_arg, &policy, &err) != KK_OK) {
        kk_err_where(&err, "--policy");
        return cmd_fail(g_name, &err);
    }
    if (policy.kind != KV_POLICY_FULL && (bits_arg || (codec_arg && policy.kind != KV_POLICY_S5))) {
        say("--policy %s and %s are exclusive (a bounded cache of "
                        "codec rows is not built yet)\n", policy_arg,
                bits_arg ? "--kv-bits" : "--kv-codec");
        help(stderr);
        return KK_EXIT_USAGE;
    }
    cfg.opts.policy = &policy;
    if (restore_arg) {
        kv_restore_mode mode;
        double alpha = 0;
        if (kv_restore_parse(restore_arg, &mode, &alpha, &err) != KK_OK) {
            kk_err_where(&err, "--restore");
            return cmd_fail(g_name, &err);
        }
        cfg.opts.restore = (int)mode;
        cfg.opts.alpha = alpha;
        if (policy.kind != KV_POLICY_SINKWIN) {
            say("--restore needs --policy sinkwin:... (nothing is "
                            "evicted from the full cache)\n");
            help(stderr);
            return KK_EXIT_USAGE;
        }
    }
    const bool uses_f = cfg.opts.restore == KV_RESTORE_FTHETA ||
                        cfg.opts.restore == KV_RESTORE_MIX;
    if (uses_f != (proposer_arg && ftheta_arg) || (!uses_f && (proposer_arg || ftheta_arg))) {
        say("--restore ftheta and mix:A need --proposer FILE and "
                        "--ftheta FILE, and only they take them\n");
        help(stderr);
        return KK_EXIT_USAGE;
    }
    if (codec_v_arg && !codec_arg) {
        say("--kv-codec-v needs --kv-codec\n");
        help(stderr);
        return KK_EXIT_USAGE;
    }
    if (codec_v_arg) {
        if (codec_spec_parse(codec_v_arg, &spec_v, &err) != KK_OK) {
            kk_err_where(&err, "--kv-codec-v");
            return cmd_fail(g_name, &err);
        }
        cfg.opts.kv_codec_v = &spec_v;
    }
    if (parse_ctx(ctx_arg, ctx, &n_ctx, &err) != KK_OK ||
        (depth_arg && parse_doubles("--depths", depth_arg, 0.0, 1.0, depths, &n_depths, &err)) ||
        (samples_arg && kk_arg_i64("--samples", samples_arg, 1, 1000000, &samples, &err)) ||
        (seed_arg && kk_arg_i64("--seed", seed_arg, 0, INT64_MAX, &seed, &err)) ||
        (bits_arg && kk_arg_i64("--kv-bits", bits_arg, 1, 16, &x, &err)) ||
        session_parse_threads(threads_arg, &threads, &err) != KK_OK)
        return cmd_fail(g_name, &err);
    cfg.opts.kv_bits = bits_arg ? (int32_t)x : 0;
    cfg.opts.use_ref = use_ref;
    /* The engine reads no environment: KAKEYA_FAULT=codec-passthrough
     * reaches the codec cache as an option. */
    cfg.opts.kv_codec_passthrough = kk_fault_on(KK_FAULT_CODEC_PASSTHROUGH) != 0;
    if (mask_arg) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (kk_arg_ids("--mask-layers", mask_arg, 31, "layer", &ids, &n, &err) != KK_OK)
            return cmd_fail(g_name, &err);
        for (size_t i = 0; i < n; i++)
            cfg.opts.mask_layers |= 1u << ids[i];
        free(ids);
    }

    session s;
    if (session_open(&s, path, false, &err) != KK_OK)
        return cmd_fail(g_name, &err);
    synth_info info;
    int rc = KK_EXIT_OK;
    niah_cell *cells = NULL;
    session ps;
    memset(&ps, 0, sizeof ps);
    ftheta *fk = NULL, *fv = NULL;
    char sha[65] = "";
    if (synth_read_info(s.file, &info, &err) != KK_OK)
        goto fail;
    synth_apply_windows(s.m, &info);
    cfg.distractors = info.niah_distractors;
    if (distr_arg) {
        if (kk_arg_i64("--distractors", distr_arg, 0, SYNTH_N_KEYS - 1, &x, &err) != KK_OK)
            goto fail;
        cfg.distractors = (int32_t)x;
    }
    if (cfg.opts.mask_layers >> s.m->hp.n_layers) {
        kk_err_set(&err, KK_E_RANGE, "--mask-layers: the model has layers 0..%d",
                   (int)s.m->hp.n_layers - 1);
        kk_err_where(&err, "--mask-layers");
        goto fail;
    }
    if (sha256_file_hex(path, sha, &err) != KK_OK)
        goto fail;
    if (uses_f) {
        char psha[65];
        ftheta_meta meta;
        if (session_open(&ps, proposer_arg, false, &err) != KK_OK ||
            sha256_file_hex(proposer_arg, psha, &err) != KK_OK ||
            ftheta_pair_read(ftheta_arg, &fk, &fv, &meta, &err) != KK_OK)
            goto fail;
        if (strcmp(meta.verifier_sha256, sha) != 0 || strcmp(meta.proposer_sha256, psha) != 0) {
            kk_err_set(&err, KK_E_RANGE, "%s was fitted for %s model %.12s..., not %s "
                       "(%.12s...)", ftheta_arg,
                       strcmp(meta.verifier_sha256, sha) ? "the verifier" : "the proposer",
                       strcmp(meta.verifier_sha256, sha) ? meta.verifier_sha256
                                                          : meta.proposer_sha256,
                       strcmp(meta.verifier_sha256, sha) ? path : proposer_arg,
                       strcmp(meta.verifier_sha256, sha) ? sha : psha);
            kk_err_where(&err, "--ftheta");
            goto fail;
        }
        cfg.opts.proposer = ps.m;
        cfg.opts.ftheta_k = fk;
        cfg.opts.ftheta_v = fv;
    }
    double restore_sums[4] = {0, 0, 0, 0};
    cfg.restore_sums = restore_sums;
    niah_restore_figs figs;
    cfg.restore_figs = &figs;
    cfg.ctx = ctx;
    cfg.n_ctx = n_ctx;
    cfg.depths = depths;
    cfg.n_depths = n_depths;
    cfg.samples = samples;
    cfg.seed = (uint64_t)seed;
    progress prog = {kk_now_s(), isatty(2)};
    cfg.on_sample = on_sample;
    cfg.on_sample_ctx = &prog;
    cells = calloc((size_t)(n_ctx * n_depths), sizeof *cells);
    if (!cells) {
        kk_err_set(&err, KK_E_NOMEM, "niah: out of memory");
        goto fail;
    }
    if (niah_run(s.m, &cfg, cells, &err) != KK_OK)
        goto fail;
    if (codec_arg &&
        report_codec(&spec, codec_v_arg ? &spec_v : NULL, s.m, &cr, &err) != KK_OK)
        goto fail;
    if (json)
        print_json(stdout, path, sha, s.file, &info, &cfg, &cr, cells);
    else
        print_table(stdout, &cfg, cells);
    if (cr.spec[0])
        say("kv codec %s%s%s, %.4g bits/value, K/V values encoded "
                        "%llu/%llu, decoded %llu/%llu\n",
                cr.spec, cr.spec_v[0] ? ", V " : "", cr.spec_v, cr.bits_per_value, (unsigned long long)cr.k.values_encoded,
                (unsigned long long)cr.v.values_encoded,
                (unsigned long long)cr.k.values_decoded,
                (unsigned long long)cr.v.values_decoded);
    if (cfg.opts.restore != KV_RESTORE_NONE)
        say("restored positions: rel_mse K %.3g, V %.3g (against the "
                        "verifier's own rows)\n",
                restore_sums[1] > 0 ? restore_sums[0] / restore_sums[1] : 0.0,
                restore_sums[3] > 0 ? restore_sums[2] / restore_sums[3] : 0.0);
    say("%lld samples in %.2f s (%d threads)\n",
            (long long)(n_ctx * n_depths * samples), kk_now_s() - prog.t0, threads);
    goto done;
fail:
    rc = cmd_fail(g_name, &err);
done:
    free(cells);
    ftheta_free(fk);
    ftheta_free(fv);
    session_close(&ps);
    session_close(&s);
    return rc;
}
