/* gate_rules: the rule table (see gate_rules.h). The evidence-phase checks
 * live in rule_signals.c, rule_claims.c, rule_noisy.c, rule_provenance.c,
 * rule_consistency.c, rule_controls.c, rule_bounded.c and rule_restore.c
 * (rule_internal.h);
 * a new rule is a check function and one entry here. */
#include "gate_rules.h"

#include <stdio.h>
#include <string.h>

#include "gate_report.h"
#include "rule_internal.h"

/* LEGACY_SCHEMA: the integer schema_version is read before anything else; an
 * older file is judged by this rule alone and never counted as evidence.
 * A missing or non-integer version is left to schema validation (exit 2). */
static int rule_legacy_schema(const gate_rule_ctx *ctx, struct gate_report *rep)
{
    const json_value *v = json_obj_get(ctx->root, "schema_version");
    if (!v || v->type != JSON_NUMBER || !v->u.num.is_int)
        return 1;
    char actual[64];
    snprintf(actual, sizeof actual, "%.*s", (int)(v->u.num.len > 40 ? 40 : v->u.num.len),
             v->u.num.text);
    char expected[64];
    snprintf(expected, sizeof expected, "schema_version >= %d", GATE_SCHEMA_VERSION);
    if (json_num_cmp_double(v, (double)GATE_SCHEMA_VERSION) < 0) {
        gate_report_add(rep, ctx->file, GATE_FAIL, 1, "LEGACY_SCHEMA",
                        "/schema_version", expected, actual,
                        "evidence written for an older schema is not counted; "
                        "re-run the preset");
        return 0;
    }
    gate_report_add(rep, ctx->file, GATE_PASS, 0, "LEGACY_SCHEMA",
                    "/schema_version", expected, actual, NULL);
    return 1;
}

/* Codes are stable: presets name them in `relax`, CI greps them. The order
 * is the order rules run and report in. docs/gate.md's table of codes
 * repeats these reasons with an example of each. */
static const gate_rule RULES[] = {
    {"LEGACY_SCHEMA", "evidence written for an older schema_version is not counted",
     GATE_RULE_RAW, 0, rule_legacy_schema},
    {"LIVENESS", "a component the configuration runs shows a zero or missing counter",
     GATE_RULE_EVIDENCE, 1, gate_rule_liveness},
    {"SILENT_FALLBACK", "an arm took a fallback (fallbacks_taken is not empty)",
     GATE_RULE_EVIDENCE, 1, gate_rule_silent_fallback},
    {"SELF_COMPARISON", "a comparison between an arm and itself or an equal configuration",
     GATE_RULE_EVIDENCE, 1, gate_rule_self_comparison},
    {"MIN_SAMPLES", "a claim from fewer samples than the preset's minimum",
     GATE_RULE_EVIDENCE, 1, gate_rule_min_samples},
    {"PREFILL_DOMINATED", "a decode-speed claim from a run dominated by prefill",
     GATE_RULE_EVIDENCE, 1, gate_rule_prefill_dominated},
    {"TIMING_SCOPE_MISMATCH", "two arms compared with different timing scopes",
     GATE_RULE_EVIDENCE, 1, gate_rule_timing_scope_mismatch},
    {"NOISY", "timing spread above 3x or a pass inside its own 95% interval",
     GATE_RULE_EVIDENCE, 1, gate_rule_noisy},
    {"MEMORY_CLAIM_MISMATCH", "a claimed saving differs >5% from measured bytes",
     GATE_RULE_EVIDENCE, 1, gate_rule_memory_claim_mismatch},
    {"DEGENERATE_OUTPUT", "a trained model's generated text ends in a runaway repeat",
     GATE_RULE_EVIDENCE, 1, gate_rule_degenerate_output},
    /* Not relaxable: a preset is part of the tree it would excuse. */
    {"DIRTY_TREE", "made from a working tree that differs from the commit it names",
     GATE_RULE_EVIDENCE, 0, gate_rule_dirty_tree},
    /* Not relaxable: a file that contradicts itself judges nothing. */
    {"INCONSISTENT", "a figure differs from what the same file's parts give",
     GATE_RULE_EVIDENCE, 0, gate_rule_inconsistent},
    /* Not relaxable: a preset would excuse its own missing controls. */
    {"CONTROLS_MISSING", "a recall threshold without both a positive and a negative control",
     GATE_RULE_EVIDENCE, 0, gate_rule_controls_missing},
    {"KV_UNBOUNDED", "a bounded cache whose resident bytes grow with the context",
     GATE_RULE_EVIDENCE, 1, gate_rule_kv_unbounded},
    {"RESTORE_UNUSED", "a restoring arm whose last query barely attends to restored positions",
     GATE_RULE_EVIDENCE, 1, gate_rule_restore_unused},
    /* Not relaxable: the excused claim would be about another path. */
    {"EXACT_PATH", "recall claimed through f_theta while a layer kept the needle exactly",
     GATE_RULE_EVIDENCE, 0, gate_rule_exact_path},
    /* Not relaxable: a changed output is not a speed-up to excuse. */
    {"LOSSLESS", "a drafter arm's speed claim without mismatches_vs_ar = 0",
     GATE_RULE_EVIDENCE, 0, gate_rule_lossless},
};

size_t gate_rules_count(void)
{
    return sizeof RULES / sizeof RULES[0];
}

const gate_rule *gate_rules_at(size_t i)
{
    return i < gate_rules_count() ? &RULES[i] : NULL;
}

const gate_rule *gate_rules_find(const char *code)
{
    for (size_t i = 0; i < gate_rules_count(); i++)
        if (strcmp(RULES[i].code, code) == 0)
            return &RULES[i];
    return NULL;
}
