/* gate_rules: the rule table (see gate_rules.h). Issue 19's other rules plug
 * in here: add a check function and point its entry at it. */
#include "gate_rules.h"

#include <stdio.h>
#include <string.h>

#include "gate_report.h"

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

/* Codes are stable: presets name them in `relax`, CI greps them. Rules with
 * a NULL check are reserved for issue 19 (known, relaxable, not run yet). */
static const gate_rule RULES[] = {
    {"LEGACY_SCHEMA", "evidence written for an older schema_version is not counted",
     GATE_RULE_RAW, 0, rule_legacy_schema},
    {"LIVENESS", "a component the configuration runs shows a zero or missing counter",
     GATE_RULE_EVIDENCE, 1, NULL},
    {"SILENT_FALLBACK", "an arm took a fallback (fallbacks_taken is not empty)",
     GATE_RULE_EVIDENCE, 1, NULL},
    {"SELF_COMPARISON", "a ratio between arms with equal configuration hashes",
     GATE_RULE_EVIDENCE, 1, NULL},
    {"MIN_SAMPLES", "a claim from fewer samples than the preset's minimum",
     GATE_RULE_EVIDENCE, 1, NULL},
    {"PREFILL_DOMINATED", "a decode-speed claim from a run dominated by prefill",
     GATE_RULE_EVIDENCE, 1, NULL},
    {"TIMING_SCOPE_MISMATCH", "two arms compared with different timing scopes",
     GATE_RULE_EVIDENCE, 1, NULL},
    {"NOISY", "timing spread above 3x or a pass inside its own 95% interval",
     GATE_RULE_EVIDENCE, 1, NULL},
    {"MEMORY_CLAIM_MISMATCH", "a claimed saving differs >5% from measured bytes",
     GATE_RULE_EVIDENCE, 1, NULL},
    {"DEGENERATE_OUTPUT", "generated text ends in a runaway repeat",
     GATE_RULE_EVIDENCE, 1, NULL},
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
