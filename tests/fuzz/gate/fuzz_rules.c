/*
 * fuzz_rules: every evidence rule (gate_rules.h) runs on any JSON document
 * without crashing, leaking or reading out of bounds, even one the evidence
 * schema would refuse (the rules must not lean on the schema for memory
 * safety), against a preset that makes a claim of every kind. Its verdicts
 * are well-formed: a FAIL carries its rule's code, severity 1, a pointer
 * ("" or starting "/"), and a note; a rule reports at least one check.
 * Seeds: tests/gate/data/rules (fuzz_rules.seeds).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kk_preset.h"
#include "gate_report.h"
#include "gate_rules.h"
#include "json.h"

/* gr-rules's claims plus the forms it lacks: a delta and a value on a
 * timing metric, a ci form, a prefill rate, an end-to-end rate, a
 * bits_per_value ratio, a value claim on bytes. */
static const char PRESET[] =
    "name: fz\n"
    "kind: rules\n"
    "gate:\n"
    "  baseline: ar\n"
    "  min_samples: {recall: 20, timing: 5}\n"
    "  thresholds:\n"
    "    - {arm: spec, metric: recall, op: \">=\", value: 0.9}\n"
    "    - {arm: spec, metric: recall, ci: lo95, op: \">=\", value: 0.8}\n"
    "    - {arm: spec, metric: timings.decode_tok_per_s, ratio_to: ar, op: \">=\", value: 1.2}\n"
    "    - {arm: spec, metric: timings.decode_tok_per_s, delta_to: ar, op: \">\", value: 10}\n"
    "    - {arm: spec, metric: timings.decode_tok_per_s, op: \">=\", value: 50}\n"
    "    - {arm: spec, metric: timings.decode_s, op: \"<\", value: 2}\n"
    "    - {arm: spec, metric: timings.tok_per_s, ratio_to: ar, op: \">=\", value: 1.0}\n"
    "    - {arm: spec, metric: timings.prefill_tok_per_s, ratio_to: ar, op: \"<=\", value: 2}\n"
    "    - {arm: spec, metric: kv_bytes_resident, ratio_to: ar, op: \"<=\", value: 0.6}\n"
    "    - {arm: spec, metric: bits_per_value, delta_to: ar, op: \"<=\", value: -4}\n"
    "    - {arm: spec, metric: kv_bytes_resident, op: \"<=\", value: 600000}\n"
    "    - {arm: ar, metric: timings.decode_tok_per_s, ratio_to: ar, op: \"==\", value: 1}\n"
    "  controls:\n"
    "    positive: {arm: ar, metric: recall, op: \">=\", value: 0.99}\n"
    "    negative: {arm: masked, metric: recall, op: \"<=\", value: 0.05}\n";

static kk_preset *g_preset;

static void check_report(const gate_report *rep, size_t from, const gate_rule *r)
{
    /* Every evidence rule says something (PASS or FAIL); LEGACY_SCHEMA
     * leaves a missing version to the schema. */
    if (rep->n == from && !rep->nomem && r->phase != GATE_RULE_RAW)
        abort();
    for (size_t k = from; k < rep->n; k++) {
        const gate_check *c = &rep->checks[k];
        if (strcmp(c->id, r->code) != 0)
            abort();
        if (c->pointer[0] && c->pointer[0] != '/')
            abort();
        if (c->status == GATE_FAIL && (c->severity != 1 || !c->note[0]))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_preset) {
        kk_err e;
        kk_err_clear(&e);
        if (kk_preset_parse(PRESET, sizeof PRESET - 1, "fz.yaml", "fz", 0, &g_preset,
                              &e) != KK_OK)
            abort();
    }
    json_doc *doc = NULL;
    kk_err e;
    kk_err_clear(&e);
    if (json_parse((const char *)data, size, "fuzz.json", NULL, &doc, &e) != KK_OK)
        return 0;
    gate_report rep;
    gate_report_init(&rep);
    for (size_t i = 0; i < gate_rules_count(); i++) {
        const gate_rule *r = gate_rules_at(i);
        /* --allow-dirty on for inputs of odd length: both DIRTY_TREE paths */
        gate_rule_ctx ctx = {"fuzz.json", json_doc_root(doc),
                             r->phase == GATE_RULE_RAW ? NULL : g_preset, 0, NULL,
                             (int)(size & 1)};
        size_t from = rep.n;
        if (r->check) {
            r->check(&ctx, &rep);
            check_report(&rep, from, r);
        }
    }
    gate_report_free(&rep);
    json_doc_free(doc);
    return 0;
}
