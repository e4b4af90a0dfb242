/*
 * rule_internal: what the evidence rules of gate_rules.c share.
 * Not a public header: only gate/rule_*.c and gate_rules.c include it.
 *
 * Claims. A rule judges what a file claims, and a claim is one of:
 *   - a threshold of the preset's `gate.thresholds[i]`   id "THRESHOLD[i]"
 *   - a control `gate.controls.positive|negative`        id "CONTROL_POSITIVE"
 *   - an entry of the evidence's `summary.claims[i]`     id "summary.claims[i]"
 *     ({arm, baseline, metric, ratio}: arm.metric / baseline.metric = ratio)
 * A *comparison* is a claim between two arms (delta_to, ratio_to, or a
 * summary claim); a *ratio claim* is a ratio_to threshold or a summary claim.
 * What a claim is about comes from its metric path (docs/gate.md, "Claims"):
 *   timing metric   the path starts "timings."      -> a speed claim
 *   recall metric   metrics.recall* (recall, recall_ci_lo, ...)
 *   memory metric   last path token is bits_per_value or contains "bytes"
 *
 * Lifecycle: gate_claims_collect fills a gate_claims that borrows the
 * preset's strings and the document's values (both must outlive it) and owns
 * only its array; gate_claims_free (accepts a zeroed struct).
 */
#ifndef KK_GATE_RULE_INTERNAL_H
#define KK_GATE_RULE_INTERNAL_H

#include <stddef.h>

#include "kk_preset.h"
#include "gate_report.h"
#include "gate_rules.h"
#include "json.h"

/* Text buffers for report fields (the report copies them). */
#define GATE_RULE_TXT 640

typedef enum gate_claim_src {
    GATE_CLAIM_THRESHOLD = 0,
    GATE_CLAIM_CONTROL,
    GATE_CLAIM_SUMMARY
} gate_claim_src;

typedef struct gate_claim {
    gate_claim_src src;
    char id[48];              /* "THRESHOLD[3]", "summary.claims[0]" */
    char where[320];          /* "gate.thresholds[3] at p.yaml:12:7" or
                                 "/summary/claims/0" */
    const char *arm, *other;  /* other: NULL unless a comparison */
    const char *metric;       /* as written ("recall", "timings.x") */
    kk_preset_form form;           /* summary claims are KK_PRESET_FORM_RATIO */
    kk_preset_op op;               /* thresholds and controls */
    const char *value;        /* threshold literal; NULL for summary claims */
    const json_value *stated; /* a summary claim's `ratio`; NULL otherwise */
    long ai, bi;              /* arm indices in /arms, -1 when absent */
    const json_value *va, *vb;/* the metric of each arm (numbers) or NULL */
} gate_claim;

typedef struct gate_claims {
    gate_claim *v;
    size_t n;
} gate_claims;

/* Collects the claims of the preset and of root.summary.claims.
 * @return 0, -1 out of memory. */
int gate_claims_collect(const json_value *root, const kk_preset *preset,
                        gate_claims *out);
void gate_claims_free(gate_claims *c);

int gate_claim_is_comparison(const gate_claim *c);
int gate_metric_is_timing(const char *metric);
int gate_metric_is_recall(const char *metric);
int gate_metric_is_memory(const char *metric);
/* The last dotted token of a metric path ("decode_tok_per_s"). */
const char *gate_metric_leaf(const char *metric);

/* The arm object at index i of root.arms (NULL when out of range). */
const json_value *gate_arm_at(const json_value *root, long i);
/* The arm's name (never NULL; "" when absent). */
const char *gate_arm_name(const json_value *arm);
/* Follows a dotted path from obj; NULL when a step is missing. */
const json_value *gate_json_path(const json_value *obj, const char *path);
/* The number at obj[key] as a double; 0 with *ok = 0 when absent or not a
 * number. */
double gate_json_num(const json_value *obj, const char *key, int *ok);

/* Shortest "%.Ng" that reads back (numbers that do not lie). */
void gate_fmt_num(double d, char *buf, size_t cap);
/* A JSON number's literal, at most 60 characters. */
void gate_fmt_lit(const json_value *v, char *buf, size_t cap);
/* s (len bytes) as a quoted, escaped, truncated string for messages. */
void gate_fmt_quoted(const char *s, size_t len, size_t max, char *buf,
                     size_t cap);

/* Whether an arm config field runs its component: present and not null,
 * false, 0, "", "none" or "off" (LIVENESS and LOSSLESS read fields so). */
int gate_config_runs(const json_value *v);

/* Adds a rule's FAIL (severity 1) with note "<reason>; <context>". */
void gate_rule_fail(const gate_rule_ctx *ctx, gate_report *rep,
                    const char *code, const char *pointer,
                    const char *expected, const char *actual,
                    const char *reason, const char *context);

/* The check functions (one per code), in rule_signals.c, rule_claims.c and
 * rule_noisy.c. Each adds one PASS when it found no violation. */
int gate_rule_liveness(const gate_rule_ctx *ctx, gate_report *rep);
int gate_rule_silent_fallback(const gate_rule_ctx *ctx, gate_report *rep);
int gate_rule_degenerate_output(const gate_rule_ctx *ctx, gate_report *rep);
int gate_rule_self_comparison(const gate_rule_ctx *ctx, gate_report *rep);
int gate_rule_min_samples(const gate_rule_ctx *ctx, gate_report *rep);
int gate_rule_prefill_dominated(const gate_rule_ctx *ctx, gate_report *rep);
int gate_rule_timing_scope_mismatch(const gate_rule_ctx *ctx, gate_report *rep);
int gate_rule_noisy(const gate_rule_ctx *ctx, gate_report *rep);
int gate_rule_memory_claim_mismatch(const gate_rule_ctx *ctx, gate_report *rep);
/* rule_provenance.c */
int gate_rule_dirty_tree(const gate_rule_ctx *ctx, gate_report *rep);
/* rule_consistency.c */
int gate_rule_inconsistent(const gate_rule_ctx *ctx, gate_report *rep);
/* rule_restore.c */
int gate_rule_restore_unused(const gate_rule_ctx *ctx, gate_report *rep);
int gate_rule_exact_path(const gate_rule_ctx *ctx, gate_report *rep);
/* rule_controls.c */
int gate_rule_controls_missing(const gate_rule_ctx *ctx, gate_report *rep);
/* rule_bounded.c */
int gate_rule_kv_unbounded(const gate_rule_ctx *ctx, gate_report *rep);
/* rule_lossless.c */
int gate_rule_lossless(const gate_rule_ctx *ctx, gate_report *rep);

/* NOISY: spread over repeats above 3x, or a pass whose 95%
 * bootstrap interval still includes its threshold. 2000 resamples put the
 * percentile bounds' own Monte Carlo error near 1% of the interval's width
 * (Efron & Tibshirani, An Introduction to the Bootstrap, ch. 13 and 19);
 * the fixed seed makes the verdict a function of the file. */
#define GATE_NOISY_MAX_SPREAD 3.0
#define GATE_NOISY_RESAMPLES 2000
#define GATE_NOISY_SEED 0x6b616b6579611919ull /* "kakeya", then the rules' tag 0x1919 */

/* NOISY's bootstrap, exposed for the unit tests: the 95% percentile
 * interval of stat(A*, B*) over GATE_NOISY_RESAMPLES resamples of a (n_a
 * values) and b (n_b values; b NULL for the VALUE form), with a generator
 * seeded from GATE_NOISY_SEED. form: VALUE median(A*), DELTA median(A*) -
 * median(B*), RATIO median(A*) / median(B*).
 * @return 0, -1 out of memory or an empty sample. */
int gate_noisy_interval(const double *a, size_t n_a, const double *b,
                        size_t n_b, kk_preset_form form, double *lo, double *hi);

#endif /* KK_GATE_RULE_INTERNAL_H */
