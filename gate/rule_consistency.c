/* rule_consistency: INCONSISTENT, the evidence rule that recomputes what a
 * file determines by itself and compares it with what the file states
 * (see rule_internal.h for what the rules share; docs/gate.md lists every
 * figure and what the rule cannot see).
 *
 * Recomputed, wherever the parts are in the file:
 *   config_sha256        the canonical JSON hash of the arm's config
 *                        (json_canonical_sha256, as the harness wrote it)
 *   samples[].hit        answer == expected, when both are there
 *   metrics n, hits, recall, recall_ci_lo/hi (95% Wilson, kk_wilson95),
 *                        min_margin: from the samples, when every sample
 *                        says hit true or false (the NIAH kinds)
 *   metrics.cells[]      the same per (ctx, depth), and every sample's
 *                        (ctx, depth) has its cell
 *   signals.counters.X   the sum of samples[].X when every sample has X
 *   timings.X            the median (kk_median) of timings.repeats[].X, or
 *                        with no repeats of samples[].X, when every one has X
 *   signals.memory.derived.*.value   its formula evaluated over its inputs
 *   summary.arms.A       recall, recall_vs_reference and kv_saved_pct from
 *                        the arms' metrics and summary.reference_arm
 *   summary.claims[i]    ratio = arm's metric / baseline's, for every claim
 *                        whose metric is not about memory (memory claims are
 *                        MEMORY_CLAIM_MISMATCH's, with its 5% tolerance)
 *
 * Every figure is recomputed with the operations the harness used, and the
 * harness writes every double so that it reads back exactly, so agreement
 * is exact up to a relative 1e-12 (room for another writer's last digit,
 * far below any edit that changes a claim).
 *
 * What it cannot see: a hand edit that keeps every derived figure
 * consistent (samples and metrics changed together), and figures whose
 * parts are not in the file (rel_mse_k, wall clock). Reviewing the evidence
 * diff is the defence against those (docs/gate.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kk_stats.h"
#include "rule_internal.h"

#define CODE "INCONSISTENT"

typedef struct cons {
    const gate_rule_ctx *ctx;
    gate_report *rep;
    size_t fails;
} cons;

static int same(double stated, double recomputed)
{
    if (stated == recomputed)
        return 1;
    const double scale = fabs(recomputed) > 1.0 ? fabs(recomputed) : 1.0;
    return fabs(stated - recomputed) <= 1e-12 * scale;
}

static void fail(cons *c, const char *ptr, const char *expected, const char *actual,
                 const char *context)
{
    c->fails++;
    gate_rule_fail(c->ctx, c->rep, CODE, ptr, expected, actual,
                   "a figure disagrees with what the same file determines", context);
}

/* obj[key] against its recomputation; agrees when absent (a missing metric
 * is the schema's or another rule's business). ptr_fmt names obj. */
static void check_num(cons *c, const json_value *obj, const char *ptr_base, const char *key,
                      double recomputed, const char *how, const char *context)
{
    int ok = 0;
    const double stated = gate_json_num(obj, key, &ok);
    if (!ok || same(stated, recomputed))
        return;
    char ptr[256], expected[GATE_RULE_TXT], actual[64], r[40];
    snprintf(ptr, sizeof ptr, "%s/%s", ptr_base, key);
    gate_fmt_num(recomputed, r, sizeof r);
    snprintf(expected, sizeof expected, "%s = %s (%s)", key, r, how);
    gate_fmt_num(stated, actual, sizeof actual);
    fail(c, ptr, expected, actual, context);
}

static int is_bool(const json_value *v)
{
    return v && (v->type == JSON_TRUE || v->type == JSON_FALSE);
}

static int is_num(const json_value *v)
{
    return v && v->type == JSON_NUMBER;
}

static size_t arr_n(const json_value *v)
{
    return v && v->type == JSON_ARRAY ? v->u.arr.n : 0;
}

/* ---- config_sha256 ------------------------------------------------------------ */

static void check_config(cons *c, const json_value *arm, size_t i, const char *context)
{
    const json_value *cfg = json_obj_get(arm, "config");
    const json_value *sha = json_obj_get(arm, "config_sha256");
    if (!cfg || !sha || sha->type != JSON_STRING)
        return;
    char want[65], ptr[64];
    kk_err err = {0};
    snprintf(ptr, sizeof ptr, "/arms/%zu/config_sha256", i);
    if (json_canonical_sha256(cfg, want, &err) != KK_OK) {
        fail(c, ptr, "a config with a canonical form (docs/evidence.md)", err.msg, context);
        return;
    }
    if (sha->u.str.len == 64 && !memcmp(sha->u.str.s, want, 64))
        return;
    char expected[160], actual[96];
    snprintf(expected, sizeof expected, "config_sha256 = %s (sha256 of the canonical config)",
             want);
    gate_fmt_quoted(sha->u.str.s, sha->u.str.len, 70, actual, sizeof actual);
    fail(c, ptr, expected, actual, context);
}

/* ---- the NIAH figures --------------------------------------------------------- */

/* n, hits, recall and its interval of the samples that pass `in` (all of
 * them when in is NULL), checked against obj. */
static void check_recall(cons *c, const json_value *obj, const char *ptr_base, size_t n,
                         size_t hits, const char *what, const char *context)
{
    char how[160];
    double lo, hi;
    kk_wilson95((double)hits, (double)n, &lo, &hi);
    snprintf(how, sizeof how, "%s", what);
    check_num(c, obj, ptr_base, "n", (double)n, how, context);
    snprintf(how, sizeof how, "%s with hit true", what);
    check_num(c, obj, ptr_base, "hits", (double)hits, how, context);
    snprintf(how, sizeof how, "hits / n of %s", what);
    check_num(c, obj, ptr_base, "recall", n ? (double)hits / (double)n : 0, how, context);
    snprintf(how, sizeof how, "95%% Wilson interval of %s' hits", what);
    check_num(c, obj, ptr_base, "recall_ci_lo", lo, how, context);
    check_num(c, obj, ptr_base, "recall_ci_hi", hi, how, context);
}

static void check_cells(cons *c, const json_value *cells, const json_value *smp, size_t i,
                        const char *context)
{
    const size_t n_cells = arr_n(cells), n = arr_n(smp);
    size_t *cell_of = calloc(n ? n : 1, sizeof *cell_of);
    if (!cell_of)
        return; /* the report itself would fail next; nothing to judge with */
    char ptr[96];
    /* Each sample to the first cell with its ctx and depth (SIZE_MAX: none). */
    for (size_t k = 0; k < n; k++) {
        const json_value *s = smp->u.arr.items[k];
        const json_value *sc = json_obj_get(s, "ctx"), *sd = json_obj_get(s, "depth");
        cell_of[k] = (size_t)-1;
        for (size_t j = 0; j < n_cells && is_num(sc) && is_num(sd); j++) {
            const json_value *cc = json_obj_get(cells->u.arr.items[j], "ctx");
            const json_value *cd = json_obj_get(cells->u.arr.items[j], "depth");
            if (is_num(cc) && is_num(cd) && !json_num_cmp(cc, sc) && !json_num_cmp(cd, sd)) {
                cell_of[k] = j;
                break;
            }
        }
        if (cell_of[k] == (size_t)-1) {
            char actual[128];
            snprintf(ptr, sizeof ptr, "/arms/%zu/samples/%zu", i, k);
            snprintf(actual, sizeof actual, "no cell with this sample's ctx and depth");
            fail(c, ptr, "every sample counted in metrics.cells", actual, context);
        }
    }
    for (size_t j = 0; j < n_cells; j++) {
        size_t cn = 0, ch = 0;
        for (size_t k = 0; k < n; k++)
            if (cell_of[k] == j) {
                cn++;
                ch += json_obj_get(smp->u.arr.items[k], "hit")->type == JSON_TRUE;
            }
        snprintf(ptr, sizeof ptr, "/arms/%zu/metrics/cells/%zu", i, j);
        check_recall(c, cells->u.arr.items[j], ptr, cn, ch,
                     "the samples at the cell's ctx and depth", context);
    }
    free(cell_of);
}

/* The NIAH kinds: every sample says hit true or false. */
static void check_niah(cons *c, const json_value *arm, size_t i, const char *context)
{
    const json_value *m = json_obj_get(arm, "metrics");
    const json_value *smp = json_obj_get(arm, "samples");
    const size_t n = arr_n(smp);
    if (!n)
        return;
    for (size_t k = 0; k < n; k++)
        if (!is_bool(json_obj_get(smp->u.arr.items[k], "hit")))
            return;
    size_t hits = 0, n_margin = 0;
    double min_margin = INFINITY;
    char ptr[96];
    for (size_t k = 0; k < n; k++) {
        const json_value *s = smp->u.arr.items[k];
        const int hit = json_obj_get(s, "hit")->type == JSON_TRUE;
        hits += (size_t)hit;
        const json_value *e = json_obj_get(s, "expected"), *a = json_obj_get(s, "answer");
        if (is_num(e) && is_num(a) && hit != !json_num_cmp(e, a)) {
            char expected[200], le[64], la[64];
            gate_fmt_lit(e, le, sizeof le);
            gate_fmt_lit(a, la, sizeof la);
            snprintf(ptr, sizeof ptr, "/arms/%zu/samples/%zu/hit", i, k);
            snprintf(expected, sizeof expected, "hit = %s (answer %s, expected %s)",
                     hit ? "false" : "true", la, le);
            fail(c, ptr, expected, hit ? "true" : "false", context);
        }
        int ok = 0;
        const double mg = gate_json_num(s, "margin", &ok);
        if (ok) {
            n_margin++;
            min_margin = mg < min_margin ? mg : min_margin;
        }
    }
    if (!m || m->type != JSON_OBJECT)
        return;
    snprintf(ptr, sizeof ptr, "/arms/%zu/metrics", i);
    check_recall(c, m, ptr, n, hits, "the samples", context);
    if (n_margin == n)
        check_num(c, m, ptr, "min_margin", min_margin, "the smallest sample margin", context);
    const json_value *cells = json_obj_get(m, "cells");
    if (cells && cells->type == JSON_ARRAY)
        check_cells(c, cells, smp, i, context);
}

/* ---- totals and medians -------------------------------------------------------- */

/* Every number items[k][key], or 0 when one is missing (or none). */
static int column(const json_value *arr, const char *key, double *out)
{
    const size_t n = arr_n(arr);
    for (size_t k = 0; k < n; k++) {
        int ok = 0;
        out[k] = gate_json_num(arr->u.arr.items[k], key, &ok);
        if (!ok)
            return 0;
    }
    return n > 0;
}

static void check_totals(cons *c, const json_value *arm, size_t i, const char *context)
{
    const json_value *smp = json_obj_get(arm, "samples");
    const json_value *tm = json_obj_get(arm, "timings");
    const json_value *reps = json_obj_get(tm, "repeats");
    const size_t n_s = arr_n(smp), n_r = arr_n(reps);
    double *col = malloc(((n_s > n_r ? n_s : n_r) + 1) * sizeof *col);
    if (!col)
        return;
    char ptr[96], how[160];
    /* counters: the sum of their per-sample parts */
    const json_value *ct = gate_json_path(arm, "signals.counters");
    snprintf(ptr, sizeof ptr, "/arms/%zu/signals/counters", i);
    for (size_t j = 0; ct && ct->type == JSON_OBJECT && j < ct->u.obj.n; j++) {
        const char *key = ct->u.obj.members[j].key;
        if (!column(smp, key, col))
            continue;
        double sum = 0;
        for (size_t k = 0; k < n_s; k++)
            sum += col[k];
        snprintf(how, sizeof how, "the sum of samples[].%.64s", key);
        check_num(c, ct, ptr, key, sum, how, context);
    }
    /* timings: the median over the repeats, or over the samples */
    snprintf(ptr, sizeof ptr, "/arms/%zu/timings", i);
    const json_value *over = n_r ? reps : smp;
    const size_t n_o = n_r ? n_r : n_s;
    for (size_t j = 0; tm && tm->type == JSON_OBJECT && j < tm->u.obj.n; j++) {
        const char *key = tm->u.obj.members[j].key;
        if (!is_num(tm->u.obj.members[j].value) || !column(over, key, col))
            continue;
        snprintf(how, sizeof how, "the median of %s[].%.64s", n_r ? "timings.repeats" : "samples",
                 key);
        check_num(c, tm, ptr, key, kk_median(col, n_o), how, context);
    }
    free(col);
}

/* ---- derived formulas ------------------------------------------------------------ */

/* A formula over its inputs: numbers, input names, + - * / and parentheses,
 * evaluated left to right in double as the harness did. */
typedef struct fparse {
    const char *p;
    const json_value *inputs;
    int depth;
    char err[160];
} fparse;

static double f_expr(fparse *f);

static void f_space(fparse *f)
{
    while (*f->p == ' ' || *f->p == '\t')
        f->p++;
}

static double f_error(fparse *f, const char *what)
{
    if (!f->err[0])
        snprintf(f->err, sizeof f->err, "%s at \"%.24s\"", what, f->p);
    return NAN;
}

static double f_factor(fparse *f)
{
    f_space(f);
    if (++f->depth > 64)
        return f_error(f, "nesting deeper than 64");
    double v;
    if (*f->p == '(') {
        f->p++;
        v = f_expr(f);
        f_space(f);
        if (*f->p != ')')
            v = f_error(f, "a missing )");
        else
            f->p++;
    } else if (*f->p == '-') {
        f->p++;
        v = -f_factor(f);
    } else if ((*f->p >= '0' && *f->p <= '9') || *f->p == '.') {
        char *end;
        v = strtod(f->p, &end);
        f->p = end;
    } else if ((*f->p >= 'a' && *f->p <= 'z') || (*f->p >= 'A' && *f->p <= 'Z') || *f->p == '_') {
        const char *s = f->p;
        while ((*f->p >= 'a' && *f->p <= 'z') || (*f->p >= 'A' && *f->p <= 'Z') ||
               (*f->p >= '0' && *f->p <= '9') || *f->p == '_')
            f->p++;
        const json_value *in = json_obj_getn(f->inputs, s, (size_t)(f->p - s));
        if (!is_num(in)) {
            f->p = s;
            v = f_error(f, "a name that is not a number in inputs");
        } else {
            v = in->u.num.d;
        }
    } else {
        v = f_error(f, "a number, a name or ( expected");
    }
    f->depth--;
    return v;
}

static double f_term(fparse *f)
{
    double v = f_factor(f);
    for (;;) {
        f_space(f);
        if (*f->p == '*') {
            f->p++;
            v *= f_factor(f);
        } else if (*f->p == '/') {
            f->p++;
            v /= f_factor(f);
        } else {
            return v;
        }
    }
}

static double f_expr(fparse *f)
{
    double v = f_term(f);
    for (;;) {
        f_space(f);
        if (*f->p == '+') {
            f->p++;
            v += f_term(f);
        } else if (*f->p == '-') {
            f->p++;
            v -= f_term(f);
        } else {
            return v;
        }
    }
}

static void check_derived(cons *c, const json_value *arm, size_t i, const char *context)
{
    const json_value *d = gate_json_path(arm, "signals.memory.derived");
    for (size_t j = 0; d && d->type == JSON_OBJECT && j < d->u.obj.n; j++) {
        const json_value *e = d->u.obj.members[j].value;
        const json_value *formula = json_obj_get(e, "formula");
        if (!formula || formula->type != JSON_STRING || strlen(formula->u.str.s) != formula->u.str.len)
            continue;
        char ptr[256], how[GATE_RULE_TXT];
        snprintf(ptr, sizeof ptr, "/arms/%zu/signals/memory/derived/%.128s", i,
                 d->u.obj.members[j].key);
        fparse f = {.p = formula->u.str.s, .inputs = json_obj_get(e, "inputs")};
        double v = f_expr(&f);
        f_space(&f);
        if (!f.err[0] && *f.p)
            f_error(&f, "an operator expected");
        if (f.err[0] || !isfinite(v)) {
            char expected[GATE_RULE_TXT];
            snprintf(expected, sizeof expected, "a formula of numbers, inputs' names, + - * / "
                     "and ( ) with a finite value");
            fail(c, ptr, expected, f.err[0] ? f.err : "not finite", context);
            continue;
        }
        snprintf(how, sizeof how, "%.400s over its inputs", formula->u.str.s);
        check_num(c, e, ptr, "value", v, how, context);
    }
}

/* ---- the summary ----------------------------------------------------------------- */

static const json_value *arm_named(const json_value *arms, const char *name, size_t *at)
{
    for (size_t i = 0; i < arr_n(arms); i++)
        if (!strcmp(gate_arm_name(arms->u.arr.items[i]), name)) {
            *at = i;
            return arms->u.arr.items[i];
        }
    return NULL;
}

static void check_summary(cons *c, const json_value *arms)
{
    const json_value *sum = json_obj_get(c->ctx->root, "summary");
    const json_value *ref = json_obj_get(sum, "reference_arm");
    const json_value *per = json_obj_get(sum, "arms");
    size_t ri = 0;
    const json_value *ra = ref && ref->type == JSON_STRING ? arm_named(arms, ref->u.str.s, &ri) : NULL;
    if (ref && ref->type == JSON_STRING && !ra) {
        char actual[160];
        gate_fmt_quoted(ref->u.str.s, ref->u.str.len, 100, actual, sizeof actual);
        fail(c, "/summary/reference_arm", "the name of an arm", actual, "summary");
    }
    const json_value *rm = json_obj_get(ra, "metrics");
    int ok_rr = 0, ok_rb = 0;
    const double rr = gate_json_num(rm, "recall", &ok_rr);
    const double rb = gate_json_num(rm, "kv_bytes_resident", &ok_rb);
    for (size_t j = 0; per && per->type == JSON_OBJECT && j < per->u.obj.n; j++) {
        const json_member *e = &per->u.obj.members[j];
        char ptr[200], context[200];
        snprintf(ptr, sizeof ptr, "/summary/arms/%.128s", e->key);
        snprintf(context, sizeof context, "arm \"%.128s\"", e->key);
        size_t ai = 0;
        const json_value *a = strlen(e->key) == e->key_len ? arm_named(arms, e->key, &ai) : NULL;
        if (!a) {
            fail(c, ptr, "an entry per arm of the file", "no arm of that name", context);
            continue;
        }
        const json_value *m = json_obj_get(a, "metrics");
        int ok_r = 0, ok_b = 0;
        const double r = gate_json_num(m, "recall", &ok_r);
        const double b = gate_json_num(m, "kv_bytes_resident", &ok_b);
        if (ok_r)
            check_num(c, e->value, ptr, "recall", r, "the arm's metrics.recall", context);
        if (ok_r && ok_rr)
            check_num(c, e->value, ptr, "recall_vs_reference", r - rr,
                      "recall minus the reference arm's", context);
        if (ok_b && ok_rb && rb > 0)
            check_num(c, e->value, ptr, "kv_saved_pct", 100.0 * (1.0 - b / rb),
                      "100 * (1 - kv_bytes_resident / the reference arm's)", context);
    }
    /* claims about anything but memory: ratio = arm's metric / baseline's,
     * the figures found as every claims rule finds them */
    gate_claims cl = {0};
    if (gate_claims_collect(c->ctx->root, c->ctx->preset, &cl) != 0)
        return;
    for (size_t j = 0; j < cl.n; j++) {
        const gate_claim *k = &cl.v[j];
        if (k->src != GATE_CLAIM_SUMMARY || gate_metric_is_memory(k->metric) || !is_num(k->va) ||
            !is_num(k->vb) || !is_num(k->stated) || k->vb->u.num.d == 0)
            continue; /* a claim on a missing figure is the claims rules' */
        const double want = k->va->u.num.d / k->vb->u.num.d;
        if (same(k->stated->u.num.d, want))
            continue;
        char ptr[340], expected[GATE_RULE_TXT], r[40], actual[64], context[200];
        snprintf(ptr, sizeof ptr, "%s/ratio", k->where);
        gate_fmt_num(want, r, sizeof r);
        snprintf(expected, sizeof expected, "ratio = %s (%.128s of arm \"%.64s\" / of arm "
                 "\"%.64s\")", r, k->metric, k->arm, k->other ? k->other : "");
        gate_fmt_lit(k->stated, actual, sizeof actual);
        snprintf(context, sizeof context, "%s", k->id);
        fail(c, ptr, expected, actual, context);
    }
    gate_claims_free(&cl);
}

int gate_rule_inconsistent(const gate_rule_ctx *ctx, gate_report *rep)
{
    cons c = {.ctx = ctx, .rep = rep};
    const json_value *arms = json_obj_get(ctx->root, "arms");
    const size_t n_arms = arr_n(arms);
    for (size_t i = 0; i < n_arms; i++) {
        const json_value *arm = arms->u.arr.items[i];
        char context[200];
        snprintf(context, sizeof context, "arm \"%.128s\"", gate_arm_name(arm));
        check_config(&c, arm, i, context);
        check_niah(&c, arm, i, context);
        check_totals(&c, arm, i, context);
        check_derived(&c, arm, i, context);
    }
    check_summary(&c, arms);
    if (c.fails)
        return 1;
    char actual[64];
    snprintf(actual, sizeof actual, "%zu arm%s recomputed", n_arms, n_arms == 1 ? "" : "s");
    gate_report_add(rep, ctx->file, GATE_PASS, 0, CODE, "/arms",
                    "every figure the file determines equals what it states (config_sha256, "
                    "recall and cells from samples, counter sums, timing medians, derived "
                    "formulas, the summary)",
                    actual, NULL);
    return 1;
}
