/*
 * rule_noisy: NOISY, the timing-noise rule (docs/gate.md, "NOISY").
 *
 * Only arms that make a speed claim (a threshold, control or summary claim
 * on a `timings.` metric, either side of a comparison) are judged; smoke
 * arms with no speed claim are not judged on timing noise.
 *   spread     per (arm, metric): max/min of the metric over the arm's
 *              timings.repeats > 3 fails.
 *   bootstrap  per threshold or control on a timing metric that passes on
 *              the recorded values: the 95% percentile interval of
 *              median(A*) [- or / median(B*)] over 2000 resamples of the
 *              repeats (each arm resampled with replacement, independently)
 *              must exclude the threshold; if it includes it, the pass is
 *              not significant (measure more repeats).
 * A repeat's value of metric timings.X is repeats[k].X; for X =
 * decode_tok_per_s it may instead be derived as tokens_decoded / decode_s.
 * Fewer than 2 repeats are MIN_SAMPLES' business, not judged here.
 */
#include "rule_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate_check.h"
#include "kk_stats.h"

/* ---- the bootstrap ---------------------------------------------------------- */

static double resample_median(const double *v, size_t n, double *scratch,
                              uint64_t *s)
{
    kk_bootstrap_resample(scratch, v, n, s);
    return kk_median(scratch, n);
}

int gate_noisy_interval(const double *a, size_t n_a, const double *b,
                        size_t n_b, kk_preset_form form, double *lo, double *hi)
{
    int two = form == KK_PRESET_FORM_DELTA || form == KK_PRESET_FORM_RATIO;
    if (n_a == 0 || (two && (!b || n_b == 0)) || n_a >= (1u << 31) ||
        n_b >= (1u << 31))
        return -1;
    size_t ns = n_a > n_b ? n_a : n_b;
    double *scratch = malloc(ns * sizeof *scratch);
    double *stat = malloc(GATE_NOISY_RESAMPLES * sizeof *stat);
    if (!scratch || !stat) {
        free(scratch);
        free(stat);
        return -1;
    }
    uint64_t s = GATE_NOISY_SEED;
    for (size_t r = 0; r < GATE_NOISY_RESAMPLES; r++) {
        double ma = resample_median(a, n_a, scratch, &s);
        double mb = two ? resample_median(b, n_b, scratch, &s) : 0.0;
        stat[r] = form == KK_PRESET_FORM_DELTA ? ma - mb
                  : form == KK_PRESET_FORM_RATIO ? (mb != 0.0 ? ma / mb : HUGE_VAL)
                                            : ma;
    }
    /* Percentile interval: the 2.5% and 97.5% order statistics (indices
     * 50 and 1949 of 2000). */
    kk_bootstrap_interval95(stat, GATE_NOISY_RESAMPLES, lo, hi);
    free(scratch);
    free(stat);
    return 0;
}

/* ---- per-repeat values ------------------------------------------------------ */

typedef struct series {
    double *v;
    size_t n;        /* values read */
    size_t n_rep;    /* repeats recorded */
    long missing;    /* first repeat without a value, -1 when none */
} series;

/* The values of timings.X over arm's repeats. @return 0, -1 out of memory. */
static int repeat_values(const json_value *arm, const char *metric, series *out)
{
    const char *x = metric + 8; /* after "timings." */
    const json_value *reps = json_obj_get(json_obj_get(arm, "timings"), "repeats");
    size_t n = reps && reps->type == JSON_ARRAY ? reps->u.arr.n : 0;
    out->v = malloc((n ? n : 1) * sizeof *out->v);
    out->n = 0;
    out->n_rep = n;
    out->missing = -1;
    if (!out->v)
        return -1;
    for (size_t k = 0; k < n; k++) {
        const json_value *r = reps->u.arr.items[k];
        /* Only finite values: a literal like 1e400 reads as infinity, and
         * inf - inf would put a NaN into the sorts below. */
        const json_value *v = gate_json_path(r, x);
        if (v && v->type == JSON_NUMBER && isfinite(v->u.num.d)) {
            out->v[out->n++] = v->u.num.d;
            continue;
        }
        int okt, okd;
        double t = gate_json_num(r, "tokens_decoded", &okt);
        double d = gate_json_num(r, "decode_s", &okd);
        if (!v && strcmp(x, "decode_tok_per_s") == 0 && okt && okd && d > 0.0 &&
            isfinite(t / d)) {
            out->v[out->n++] = t / d;
            continue;
        }
        if (out->missing < 0)
            out->missing = (long)k;
    }
    return 0;
}

static int op_holds(kk_preset_op op, double x, double t)
{
    switch (op) {
    case KK_PRESET_OP_GE: return x >= t;
    case KK_PRESET_OP_LE: return x <= t;
    case KK_PRESET_OP_GT: return x > t;
    case KK_PRESET_OP_LT: return x < t;
    case KK_PRESET_OP_EQ: return x == t;
    }
    return 0;
}

/* ---- the rule ---------------------------------------------------------------- */

typedef struct judged_key {
    long arm;
    const char *metric;
} judged_key;

static void spread_check(const gate_rule_ctx *ctx, gate_report *rep,
                         const gate_claim *k, long ai, const series *sr,
                         size_t *fails)
{
    const json_value *arm = gate_arm_at(ctx->root, ai);
    char ptr[96], expected[200], actual[GATE_RULE_TXT], context[600];
    const char *leaf = k->metric + 8;
    snprintf(ptr, sizeof ptr, "/arms/%ld/timings/repeats", ai);
    snprintf(context, sizeof context, "arm \"%.128s\" in %s (%s)", gate_arm_name(arm),
             k->id, k->where);
    if (sr->missing >= 0) {
        snprintf(ptr, sizeof ptr, "/arms/%ld/timings/repeats/%ld", ai, sr->missing);
        snprintf(expected, sizeof expected, "every repeat records %.100s", leaf);
        snprintf(actual, sizeof actual, "missing (or not a finite number) in "
                 "repeat %ld", sr->missing);
        (*fails)++;
        gate_rule_fail(ctx, rep, "NOISY", ptr, expected, actual,
                       "timing noise cannot be judged without each repeat's value",
                       context);
        return;
    }
    double mn = sr->v[0], mx = sr->v[0];
    for (size_t i = 1; i < sr->n; i++) {
        mn = sr->v[i] < mn ? sr->v[i] : mn;
        mx = sr->v[i] > mx ? sr->v[i] : mx;
    }
    if (mn > 0.0 && mx / mn <= GATE_NOISY_MAX_SPREAD)
        return;
    char smx[40], smn[40];
    gate_fmt_num(mx, smx, sizeof smx);
    gate_fmt_num(mn, smn, sizeof smn);
    snprintf(expected, sizeof expected, "max/min of %.100s over repeats <= 3", leaf);
    if (mn > 0.0)
        snprintf(actual, sizeof actual, "%s / %s = %.3g over %zu repeats", smx, smn,
                 mx / mn, sr->n);
    else
        snprintf(actual, sizeof actual, "min %s (a repeat measured nothing) over "
                 "%zu repeats", smn, sr->n);
    (*fails)++;
    gate_rule_fail(ctx, rep, "NOISY", ptr, expected, actual,
                   "timings this spread say more about the machine than the "
                   "method; measure on a quiet machine or more repeats",
                   context);
}

/* The bootstrap check of one passing threshold or control. */
static void interval_check(const gate_rule_ctx *ctx, gate_report *rep,
                           const gate_claim *k, const series *sa,
                           const series *sb, size_t *fails)
{
    int two = gate_claim_is_comparison(k);
    if (k->src == GATE_CLAIM_SUMMARY || !k->value || k->op == KK_PRESET_OP_EQ || !k->va ||
        (two && !k->vb) || k->form == KK_PRESET_FORM_CI_LO || k->form == KK_PRESET_FORM_CI_HI)
        return;
    if (sa->missing >= 0 || sa->n < 2 || (two && (sb->missing >= 0 || sb->n < 2)))
        return; /* spread_check or MIN_SAMPLES reports these */
    double x = k->va->u.num.d, t = strtod(k->value, NULL);
    if (two) {
        double y = k->vb->u.num.d;
        if (k->form == KK_PRESET_FORM_RATIO && y == 0.0)
            return; /* the threshold reports 0 as undefined */
        x = k->form == KK_PRESET_FORM_RATIO ? x / y : x - y;
    }
    if (!op_holds(k->op, x, t))
        return; /* a failing threshold is THRESHOLD's verdict */
    double lo, hi;
    if (gate_noisy_interval(sa->v, sa->n, two ? sb->v : NULL, two ? sb->n : 0,
                            k->form, &lo, &hi) != 0) {
        rep->nomem = 1;
        return;
    }
    int lower = k->op == KK_PRESET_OP_GE || k->op == KK_PRESET_OP_GT;
    if (lower ? lo > t : hi < t)
        return;
    char ptr[400], expected[GATE_RULE_TXT], actual[GATE_RULE_TXT], context[400];
    char slo[40], shi[40], sx[40];
    const char *leaf = k->metric + 8;
    snprintf(ptr, sizeof ptr, "/arms/%ld/timings/repeats", k->ai);
    char stat[300];
    if (two)
        snprintf(stat, sizeof stat, "median(%.100s) %s median(%.100s) of %.60s",
                 k->arm, k->form == KK_PRESET_FORM_RATIO ? "/" : "-", k->other, leaf);
    else
        snprintf(stat, sizeof stat, "median(%.100s) of %.60s", k->arm, leaf);
    snprintf(expected, sizeof expected, "the 95%% bootstrap interval of %s "
             "excludes the threshold %.60s (%s)", stat, k->value,
             lower ? "lower bound above it" : "upper bound below it");
    gate_fmt_num(lo, slo, sizeof slo);
    gate_fmt_num(hi, shi, sizeof shi);
    gate_fmt_num(x, sx, sizeof sx);
    snprintf(actual, sizeof actual, "[%s, %s] (recorded %s; %zu and %zu repeats, "
             "%d resamples)", slo, shi, sx, sa->n, two ? sb->n : (size_t)0,
             GATE_NOISY_RESAMPLES);
    snprintf(context, sizeof context, "%s (%s)", k->id, k->where);
    (*fails)++;
    gate_rule_fail(ctx, rep, "NOISY", ptr, expected, actual,
                   "the pass is not significant: measure more repeats", context);
}

int gate_rule_noisy(const gate_rule_ctx *ctx, gate_report *rep)
{
    gate_claims cl;
    if (gate_claims_collect(ctx->root, ctx->preset, &cl) != 0) {
        rep->nomem = 1;
        return 1;
    }
    judged_key *done = malloc((2 * cl.n + 1) * sizeof *done);
    if (!done) {
        gate_claims_free(&cl);
        rep->nomem = 1;
        return 1;
    }
    size_t n_done = 0, fails = 0, judged = 0;
    for (size_t i = 0; i < cl.n; i++) {
        const gate_claim *k = &cl.v[i];
        if (!gate_metric_is_timing(k->metric) || k->ai < 0)
            continue;
        int two = gate_claim_is_comparison(k) && k->bi >= 0;
        series s[2] = {{NULL, 0, 0, -1}, {NULL, 0, 0, -1}};
        long idx[2] = {k->ai, two ? k->bi : -1};
        int oom = 0;
        for (int a = 0; a < 1 + two; a++) {
            if (repeat_values(gate_arm_at(ctx->root, idx[a]), k->metric, &s[a]) != 0) {
                oom = 1;
                continue;
            }
            int first = 1;
            for (size_t d = 0; d < n_done; d++)
                if (done[d].arm == idx[a] && strcmp(done[d].metric, k->metric) == 0)
                    first = 0;
            if (!first || s[a].n_rep < 2)
                continue;
            done[n_done].arm = idx[a];
            done[n_done++].metric = k->metric;
            judged++;
            spread_check(ctx, rep, k, idx[a], &s[a], &fails);
        }
        if (oom)
            rep->nomem = 1;
        else
            interval_check(ctx, rep, k, &s[0], &s[1], &fails);
        free(s[0].v);
        free(s[1].v);
    }
    if (!fails) {
        char actual[96];
        snprintf(actual, sizeof actual, "%zu speed-claim series judged", judged);
        gate_report_add(rep, ctx->file, GATE_PASS, 0, "NOISY", "",
                        "speed claims: spread <= 3x over repeats and passes "
                        "outside their 95% interval",
                        actual, NULL);
    }
    free(done);
    gate_claims_free(&cl);
    return 1;
}
