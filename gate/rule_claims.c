/*
 * rule_claims: the rules that judge what a file claims (thresholds,
 * controls, summary.claims; see rule_internal.h) against the arms' signals:
 *   SELF_COMPARISON        a comparison between an arm and itself or its twin
 *   MIN_SAMPLES            a recall or timing claim from too few samples
 *   PREFILL_DOMINATED      a decode-speed claim on a prefill-dominated run
 *   TIMING_SCOPE_MISMATCH  a speed comparison across timing scopes
 *   MEMORY_CLAIM_MISMATCH  a memory claim >5% off the measured bytes
 * Each is reported once per arm (or per claim for pairs), naming the first
 * claim that made it apply. docs/gate.md ("Rule codes", "Claims") is the
 * specification these follow.
 */
#include "rule_internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate_check.h"
#include "kk_stats.h"

/* PREFILL_DOMINATED: fewer decoded tokens per sample than this and a
 * decode rate is mostly first-token and timer overhead. */
#define PREFILL_MIN_TOKENS 32
/* MEMORY_CLAIM_MISMATCH: relative tolerance between a claimed and a
 * measured figure (more than 5% off fails). */
#define MEMORY_REL_TOL 0.05

/* One bit per (arm, check) so a check reports an arm once. */
typedef struct seen {
    unsigned char *bits;
    size_t n;
} seen;

static int seen_init(seen *s, const json_value *root)
{
    const json_value *arms = json_obj_get(root, "arms");
    s->n = arms && arms->type == JSON_ARRAY ? arms->u.arr.n : 0;
    s->bits = calloc(s->n ? s->n : 1, 1);
    return s->bits ? 0 : -1;
}

/* @return 1 the first time (arm, bit) is asked, 0 after. */
static int seen_first(seen *s, long arm, unsigned bit)
{
    if (arm < 0 || (size_t)arm >= s->n || (s->bits[arm] & (1u << bit)))
        return 0;
    s->bits[arm] |= (unsigned char)(1u << bit);
    return 1;
}

static int setup(const gate_rule_ctx *ctx, gate_report *rep,
                 gate_claims *claims, seen *sn)
{
    sn->bits = NULL;
    if (gate_claims_collect(ctx->root, ctx->preset, claims) != 0 ||
        seen_init(sn, ctx->root) != 0) {
        /* An incomplete report is exit 2 (gate_report_exit). */
        gate_claims_free(claims);
        rep->nomem = 1;
        return -1;
    }
    return 0;
}

static void teardown(gate_claims *claims, seen *sn)
{
    gate_claims_free(claims);
    free(sn->bits);
}

static void context_of(const gate_claim *k, const json_value *arm, char *buf,
                       size_t cap)
{
    snprintf(buf, cap, "arm \"%.128s\" in %s (%s)", gate_arm_name(arm), k->id,
             k->where);
}

/* The JSON pointer of a claim's metric on arm i. */
static void metric_ptr(long i, const char *metric, kk_preset_form form, char *buf,
                       size_t cap)
{
    char path[320];
    snprintf(path, sizeof path, "%s%s%s", strchr(metric, '.') ? "" : "metrics.",
             metric,
             form == KK_PRESET_FORM_CI_LO ? "_ci_lo" : form == KK_PRESET_FORM_CI_HI ? "_ci_hi" : "");
    snprintf(buf, cap, "/arms/%ld", i);
    char *save = NULL;
    for (char *t = strtok_r(path, ".", &save); t; t = strtok_r(NULL, ".", &save))
        gate_ptr_append(buf, cap, t);
}

static void pass(const gate_rule_ctx *ctx, gate_report *rep, const char *code,
                 const char *expected, size_t n_judged, const char *what)
{
    char actual[160];
    snprintf(actual, sizeof actual, "%zu %s", n_judged, what);
    gate_report_add(rep, ctx->file, GATE_PASS, 0, code, "", expected, actual, NULL);
}

/* ---- SELF_COMPARISON --------------------------------------------------------- */

int gate_rule_self_comparison(const gate_rule_ctx *ctx, gate_report *rep)
{
    gate_claims cl;
    seen sn;
    if (setup(ctx, rep, &cl, &sn) != 0)
        return 1;
    size_t fails = 0, judged = 0;
    for (size_t i = 0; i < cl.n; i++) {
        const gate_claim *k = &cl.v[i];
        if (!gate_claim_is_comparison(k) || k->ai < 0 || k->bi < 0)
            continue;
        judged++;
        const json_value *a = gate_arm_at(ctx->root, k->ai);
        const json_value *b = gate_arm_at(ctx->root, k->bi);
        const json_value *ha = json_obj_get(a, "config_sha256");
        const json_value *hb = json_obj_get(b, "config_sha256");
        const char *sa = ha && ha->type == JSON_STRING ? ha->u.str.s : "";
        const char *sb = hb && hb->type == JSON_STRING ? hb->u.str.s : "";
        char expected[GATE_RULE_TXT], actual[GATE_RULE_TXT], ptr[64], context[600];
        snprintf(expected, sizeof expected, "arm \"%.128s\" and its reference "
                 "\"%.128s\" are different systems", k->arm, k->other);
        if (k->ai == k->bi)
            snprintf(actual, sizeof actual, "the arm is its own reference");
        else if (sa[0] && strcmp(sa, sb) == 0)
            snprintf(actual, sizeof actual, "equal config_sha256 %.64s", sa);
        else if (json_equal(json_obj_get(a, "config"), json_obj_get(b, "config")))
            snprintf(actual, sizeof actual, "equal config (config_sha256 %.12s... "
                     "and %.12s... differ)", sa, sb);
        else
            continue;
        snprintf(ptr, sizeof ptr, "/arms/%ld/config_sha256", k->ai);
        snprintf(context, sizeof context, "%s (%s)", k->id, k->where);
        fails++;
        gate_rule_fail(ctx, rep, "SELF_COMPARISON", ptr, expected, actual,
                       "a ratio or difference between a system and itself "
                       "measures nothing",
                       context);
    }
    if (!fails)
        pass(ctx, rep, "SELF_COMPARISON",
             "every comparison is between arms with different configurations",
             judged, "comparisons judged");
    teardown(&cl, &sn);
    return 1;
}

/* ---- MIN_SAMPLES ------------------------------------------------------------- */

/* Samples behind an arm's recall: metrics.n, else the samples recorded. */
static long long recall_n(const json_value *arm, char *ptr, size_t cap, long i)
{
    const json_value *n = json_obj_get(json_obj_get(arm, "metrics"), "n");
    if (n && n->type == JSON_NUMBER) {
        snprintf(ptr, cap, "/arms/%ld/metrics/n", i);
        /* Clamped before the cast: 1e400 reads as infinity. */
        double d = n->u.num.d;
        return !(d > 0) ? 0 : d >= 9.2e18 ? LLONG_MAX : (long long)d;
    }
    const json_value *s = json_obj_get(arm, "samples");
    snprintf(ptr, cap, "/arms/%ld/samples", i);
    return s && s->type == JSON_ARRAY ? (long long)s->u.arr.n : 0;
}

static long long repeats_n(const json_value *arm)
{
    const json_value *r = json_obj_get(json_obj_get(arm, "timings"), "repeats");
    return r && r->type == JSON_ARRAY ? (long long)r->u.arr.n : 0;
}

int gate_rule_min_samples(const gate_rule_ctx *ctx, gate_report *rep)
{
    gate_claims cl;
    seen sn;
    if (setup(ctx, rep, &cl, &sn) != 0)
        return 1;
    long long min_recall = ctx->preset ? ctx->preset->min_samples_recall
                                       : KK_PRESET_MIN_SAMPLES_RECALL_DEFAULT;
    long long min_timing = ctx->preset ? ctx->preset->min_samples_timing
                                       : KK_PRESET_MIN_SAMPLES_TIMING_DEFAULT;
    size_t fails = 0, judged = 0;
    for (size_t i = 0; i < cl.n; i++) {
        const gate_claim *k = &cl.v[i];
        int recall = gate_metric_is_recall(k->metric);
        int timing = gate_metric_is_timing(k->metric);
        if (!recall && !timing)
            continue;
        /* A threshold on a missing arm fails by itself; a summary claim on
         * one has nothing else to fail it: it rests on no samples at all. */
        for (int s = 0; k->src == GATE_CLAIM_SUMMARY && s < 2; s++) {
            if ((s ? k->bi : k->ai) >= 0)
                continue;
            char ptr[400], expected[300], context[400];
            snprintf(ptr, sizeof ptr, "%s/%s", k->where, s ? "baseline" : "arm");
            snprintf(expected, sizeof expected, "an arm named \"%.128s\" in /arms",
                     s ? k->other : k->arm);
            snprintf(context, sizeof context, "%s (%s)", k->id, k->where);
            fails++;
            gate_rule_fail(ctx, rep, "MIN_SAMPLES", ptr, expected,
                           "no such arm: 0 samples",
                           "a claim from fewer samples than the preset's minimum "
                           "is not evidence",
                           context);
        }
        long idx[2] = {k->ai, gate_claim_is_comparison(k) ? k->bi : -1};
        for (int s = 0; s < 2; s++) {
            if (!seen_first(&sn, idx[s], recall ? 0 : 1))
                continue;
            judged++;
            const json_value *arm = gate_arm_at(ctx->root, idx[s]);
            char ptr[96], expected[160], actual[64], context[600];
            long long have, need;
            if (recall) {
                have = recall_n(arm, ptr, sizeof ptr, idx[s]);
                need = min_recall;
                snprintf(expected, sizeof expected, "at least %lld samples behind "
                         "recall (gate.min_samples.recall)", need);
            } else {
                have = repeats_n(arm);
                need = min_timing;
                snprintf(ptr, sizeof ptr, "/arms/%ld/timings/repeats", idx[s]);
                snprintf(expected, sizeof expected, "at least %lld timed repeats "
                         "(gate.min_samples.timing)", need);
            }
            if (have >= need)
                continue;
            snprintf(actual, sizeof actual, "%lld", have);
            context_of(k, arm, context, sizeof context);
            fails++;
            gate_rule_fail(ctx, rep, "MIN_SAMPLES", ptr, expected, actual,
                           "a claim from fewer samples than the preset's "
                           "minimum is not evidence",
                           context);
        }
    }
    if (!fails)
        pass(ctx, rep, "MIN_SAMPLES", "recall and timing claims from enough samples",
             judged, "sample counts judged (arm x recall or timing)");
    teardown(&cl, &sn);
    return 1;
}

/* ---- PREFILL_DOMINATED ------------------------------------------------------- */

/* A scope is '+'-joined phase names ("decode", "prefill+decode", "none"). */
static int scope_has(const char *scope, const char *phase)
{
    size_t n = strlen(phase);
    for (const char *s = scope; *s;) {
        const char *e = strchr(s, '+');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == n && strncmp(s, phase, n) == 0)
            return 1;
        s += len + (e ? 1 : 0);
    }
    return 0;
}

static const char *arm_scope(const json_value *arm)
{
    const json_value *s = json_obj_get(json_obj_get(arm, "timings"), "scope");
    return s && s->type == JSON_STRING ? s->u.str.s : "";
}

/* Median tokens decoded per sample: timings.tokens_decoded (the harness's
 * median), else the median of samples[].tokens_decoded. @return 0 found. */
static int tokens_per_sample(const json_value *arm, double *out)
{
    int ok;
    double t = gate_json_num(json_obj_get(arm, "timings"), "tokens_decoded", &ok);
    if (ok) {
        *out = t;
        return 0;
    }
    const json_value *s = json_obj_get(arm, "samples");
    size_t n = s && s->type == JSON_ARRAY ? s->u.arr.n : 0;
    double *v = malloc((n ? n : 1) * sizeof *v);
    size_t k = 0;
    for (size_t j = 0; v && j < n; j++) {
        double x = gate_json_num(s->u.arr.items[j], "tokens_decoded", &ok);
        if (ok)
            v[k++] = x;
    }
    int rc = k ? 0 : -1;
    if (k)
        *out = kk_median(v, k);
    free(v);
    return rc;
}

int gate_rule_prefill_dominated(const gate_rule_ctx *ctx, gate_report *rep)
{
    gate_claims cl;
    seen sn;
    if (setup(ctx, rep, &cl, &sn) != 0)
        return 1;
    size_t fails = 0, judged = 0;
    for (size_t i = 0; i < cl.n; i++) {
        const gate_claim *k = &cl.v[i];
        const char *leaf = gate_metric_leaf(k->metric);
        /* prefill and time-to-first-token speeds are prefill claims by
         * definition: this rule judges decode-speed claims */
        if (!gate_metric_is_timing(k->metric) || strncmp(leaf, "prefill", 7) == 0 ||
            strncmp(leaf, "first_token", 11) == 0 || strncmp(leaf, "ttft", 4) == 0)
            continue;
        /* A decode-only metric (its name starts "decode") excludes prefill
         * whatever the clock's scope; others include it when the scope
         * does. */
        int decode_only = strncmp(leaf, "decode", 6) == 0;
        long idx[2] = {k->ai, gate_claim_is_comparison(k) ? k->bi : -1};
        for (int s = 0; s < 2; s++) {
            const json_value *arm = gate_arm_at(ctx->root, idx[s]);
            char ptr[96], expected[200], actual[200], context[600];
            context_of(k, arm, context, sizeof context);
            if (seen_first(&sn, idx[s], 0)) {
                judged++;
                double tok;
                snprintf(ptr, sizeof ptr, "/arms/%ld/timings/tokens_decoded", idx[s]);
                snprintf(expected, sizeof expected,
                         "median tokens decoded per sample >= %d", PREFILL_MIN_TOKENS);
                int have = tokens_per_sample(arm, &tok) == 0;
                if (!have || tok < PREFILL_MIN_TOKENS) {
                    if (have)
                        gate_fmt_num(tok, actual, sizeof actual);
                    else
                        snprintf(actual, sizeof actual, "missing (neither "
                                 "timings.tokens_decoded nor samples[].tokens_decoded)");
                    fails++;
                    gate_rule_fail(ctx, rep, "PREFILL_DOMINATED", ptr, expected,
                                   actual,
                                   "too few decoded tokens per sample to measure "
                                   "decode speed",
                                   context);
                }
            }
            if (decode_only || !scope_has(arm_scope(arm), "prefill") ||
                !seen_first(&sn, idx[s], 1))
                continue;
            const json_value *t = json_obj_get(arm, "timings");
            int okp, okd;
            double p = gate_json_num(t, "prefill_s", &okp);
            double d = gate_json_num(t, "decode_s", &okd);
            snprintf(ptr, sizeof ptr, "/arms/%ld/timings/prefill_s", idx[s]);
            snprintf(expected, sizeof expected,
                     "prefill_s at most half of the timed prefill_s + decode_s "
                     "(scope \"%.40s\")", arm_scope(arm));
            if (okp && okd && p <= d)
                continue;
            if (okp && okd) {
                char sp[40], st[40];
                gate_fmt_num(p, sp, sizeof sp);
                gate_fmt_num(p + d, st, sizeof st);
                snprintf(actual, sizeof actual, "prefill %s s of %s s (%.1f%%)", sp,
                         st, p + d > 0 ? 100.0 * p / (p + d) : 100.0);
            } else {
                snprintf(actual, sizeof actual, "missing timings.%s",
                         okp ? "decode_s" : "prefill_s");
            }
            fails++;
            gate_rule_fail(ctx, rep, "PREFILL_DOMINATED", ptr, expected, actual,
                           "a throughput headline from a prefill-dominated run; "
                           "the headline must be the decode-only ratio "
                           "(timings.decode_tok_per_s)",
                           context);
        }
    }
    if (!fails)
        pass(ctx, rep, "PREFILL_DOMINATED",
             "decode-speed claims measured on decode, >= 32 tokens per sample",
             judged, "arms judged");
    teardown(&cl, &sn);
    return 1;
}

/* ---- TIMING_SCOPE_MISMATCH --------------------------------------------------- */

int gate_rule_timing_scope_mismatch(const gate_rule_ctx *ctx, gate_report *rep)
{
    gate_claims cl;
    seen sn;
    if (setup(ctx, rep, &cl, &sn) != 0)
        return 1;
    size_t fails = 0, judged = 0;
    for (size_t i = 0; i < cl.n; i++) {
        const gate_claim *k = &cl.v[i];
        if (!gate_metric_is_timing(k->metric) || k->ai < 0)
            continue;
        const json_value *a = gate_arm_at(ctx->root, k->ai);
        const json_value *b = gate_arm_at(ctx->root, k->bi);
        char ptr[96], expected[300], actual[300], context[600];
        judged++;
        long idx[2] = {k->ai, gate_claim_is_comparison(k) ? k->bi : -1};
        for (int s = 0; s < 2; s++) {
            const json_value *arm = gate_arm_at(ctx->root, idx[s]);
            if (!arm || strcmp(arm_scope(arm), "none") != 0 ||
                !seen_first(&sn, idx[s], 0))
                continue;
            snprintf(ptr, sizeof ptr, "/arms/%ld/timings/scope", idx[s]);
            context_of(k, arm, context, sizeof context);
            fails++;
            gate_rule_fail(ctx, rep, "TIMING_SCOPE_MISMATCH", ptr,
                           "a timed scope (not \"none\")", "\"none\"",
                           "a speed claim on an arm that was not timed", context);
        }
        if (!gate_claim_is_comparison(k) || !b || k->ai == k->bi)
            continue;
        const char *sa = arm_scope(a), *sb = arm_scope(b);
        if (strcmp(sa, sb) == 0)
            continue;
        snprintf(ptr, sizeof ptr, "/arms/%ld/timings/scope", k->ai);
        snprintf(expected, sizeof expected, "the scope of reference arm \"%.100s\" "
                 "(\"%.60s\")", k->other, sb);
        snprintf(actual, sizeof actual, "\"%.60s\"", sa);
        snprintf(context, sizeof context, "%s (%s)", k->id, k->where);
        fails++;
        gate_rule_fail(ctx, rep, "TIMING_SCOPE_MISMATCH", ptr, expected, actual,
                       "two arms timed over different scopes are not comparable",
                       context);
    }
    if (!fails)
        pass(ctx, rep, "TIMING_SCOPE_MISMATCH",
             "speed claims compare arms timed over one scope", judged,
             "speed claims judged");
    teardown(&cl, &sn);
    return 1;
}

/* ---- MEMORY_CLAIM_MISMATCH --------------------------------------------------- */

#define MEASURED "kv_bytes_allocated"

/* The measured bytes of arm i; reports the failure and @return -1 when
 * they are missing. */
static int measured_bytes(const gate_rule_ctx *ctx, gate_report *rep,
                          const gate_claim *k, long i, double *out)
{
    const json_value *arm = gate_arm_at(ctx->root, i);
    const json_value *mem = json_obj_get(json_obj_get(arm, "signals"), "memory");
    int ok;
    *out = gate_json_num(mem, MEASURED, &ok);
    if (ok)
        return 0;
    char ptr[96], context[600];
    snprintf(ptr, sizeof ptr, "/arms/%ld/signals/memory/" MEASURED, i);
    context_of(k, arm, context, sizeof context);
    gate_rule_fail(ctx, rep, "MEMORY_CLAIM_MISMATCH", ptr,
                   "the KV bytes the run allocated, to check the claim against",
                   "missing",
                   "a memory claim with no measurement behind it", context);
    return -1;
}

int gate_rule_memory_claim_mismatch(const gate_rule_ctx *ctx, gate_report *rep)
{
    gate_claims cl;
    seen sn;
    if (setup(ctx, rep, &cl, &sn) != 0)
        return 1;
    size_t fails = 0, judged = 0;
    for (size_t i = 0; i < cl.n; i++) {
        const gate_claim *k = &cl.v[i];
        if (!gate_metric_is_memory(k->metric) || (!k->va && !k->stated))
            continue;
        /* The measurement itself needs no check against itself. */
        if (strcmp(k->metric, "signals.memory." MEASURED) == 0)
            continue;
        const char *leaf = gate_metric_leaf(k->metric);
        char ptr[400], expected[GATE_RULE_TXT], actual[GATE_RULE_TXT];
        char context[600], s1[40], s2[40], s3[40];
        snprintf(context, sizeof context, "%s (%s)", k->id, k->where);
        double ma, mb;
        if (gate_claim_is_comparison(k)) {
            if (!k->vb && !k->stated)
                continue;
            judged++;
            if (k->ai < 0 || k->bi < 0) {
                /* Only a summary claim gets here: a threshold on a missing
                 * arm has no value. Nothing was measured for a missing arm. */
                snprintf(ptr, sizeof ptr, "%s/%s", k->where, k->ai < 0 ? "arm" : "baseline");
                snprintf(expected, sizeof expected, "an arm named \"%.128s\" in /arms, "
                         "with measured bytes", k->ai < 0 ? k->arm : k->other);
                fails++;
                gate_rule_fail(ctx, rep, "MEMORY_CLAIM_MISMATCH", ptr, expected,
                               "no such arm", "a memory claim with no measurement "
                               "behind it", context);
                continue;
            }
            int bad_a = measured_bytes(ctx, rep, k, k->ai, &ma) != 0;
            int bad_b = measured_bytes(ctx, rep, k, k->bi, &mb) != 0;
            if (bad_a || bad_b) {
                fails++;
                continue;
            }
            double claimed;
            if (k->stated) {
                claimed = k->stated->u.num.d;
                snprintf(ptr, sizeof ptr, "%s/ratio", k->where);
            } else {
                if (k->vb->u.num.d == 0.0)
                    continue; /* the threshold itself reports 0 / 0 */
                claimed = k->va->u.num.d / k->vb->u.num.d;
                metric_ptr(k->ai, k->metric, k->form, ptr, sizeof ptr);
            }
            if (mb <= 0.0) {
                snprintf(ptr, sizeof ptr, "/arms/%ld/signals/memory/" MEASURED, k->bi);
                fails++;
                gate_rule_fail(ctx, rep, "MEMORY_CLAIM_MISMATCH", ptr,
                               "reference bytes allocated > 0", "0",
                               "a saving against nothing allocated is undefined",
                               context);
                continue;
            }
            double meas = ma / mb;
            double rel = meas > 0.0 ? fabs(claimed / meas - 1.0) : (claimed == 0 ? 0 : 1);
            if (rel <= MEMORY_REL_TOL)
                continue;
            gate_fmt_num(meas, s1, sizeof s1);
            gate_fmt_num(ma, s2, sizeof s2);
            gate_fmt_num(mb, s3, sizeof s3);
            snprintf(expected, sizeof expected, "within 5%% of the measured ratio "
                     "%s (%.100s %s / %.100s %s bytes allocated)", s1, k->arm, s2,
                     k->other, s3);
            gate_fmt_num(claimed, s1, sizeof s1);
            snprintf(actual, sizeof actual, "%s (%s%.100s.%.100s / %.100s.%.100s), "
                     "%.1f%% off", s1, k->stated ? "stated; " : "", k->arm, leaf,
                     k->other, leaf, 100.0 * rel);
        } else {
            /* A value claim on a byte count is checked against the arm's
             * own measurement; bits_per_value alone has nothing to meet. */
            if (strstr(leaf, "bytes") == NULL)
                continue;
            judged++;
            if (measured_bytes(ctx, rep, k, k->ai, &ma) != 0) {
                fails++;
                continue;
            }
            double claimed = k->va->u.num.d;
            double rel = ma > 0.0 ? fabs(claimed / ma - 1.0) : (claimed == 0 ? 0 : 1);
            if (rel <= MEMORY_REL_TOL)
                continue;
            metric_ptr(k->ai, k->metric, k->form, ptr, sizeof ptr);
            gate_fmt_num(ma, s1, sizeof s1);
            snprintf(expected, sizeof expected, "within 5%% of the %s bytes the arm "
                     "allocated", s1);
            gate_fmt_num(claimed, s1, sizeof s1);
            snprintf(actual, sizeof actual, "%s, %.1f%% off", s1, 100.0 * rel);
        }
        fails++;
        gate_rule_fail(ctx, rep, "MEMORY_CLAIM_MISMATCH", ptr, expected, actual,
                       "a claimed saving that does not describe the cache that "
                       "ran (a formula, not a measurement)",
                       context);
    }
    if (!fails)
        pass(ctx, rep, "MEMORY_CLAIM_MISMATCH",
             "memory claims within 5% of the bytes allocated", judged,
             "memory claims judged");
    teardown(&cl, &sn);
    return 1;
}
