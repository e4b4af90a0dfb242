/*
 * LOSSLESS: a speed-up claimed by a speculative-decoding arm stands only if
 * the same file shows its output equal to autoregressive decoding's.
 *
 * For every speed claim (a timing metric, summary claim, threshold or
 * control) whose arm's config runs a drafter (config.drafter present and
 * not null, false, 0, "", "none" or "off", as LIVENESS reads fields), the
 * arm's metrics.mismatches_vs_ar must be present and 0. Speculative
 * decoding that changes the output is another model's output: its speed is
 * not a speed-up (docs/speculative.md). Not relaxable.
 */
#include <stdio.h>
#include <string.h>

#include "rule_internal.h"

int gate_rule_lossless(const gate_rule_ctx *ctx, gate_report *rep)
{
    gate_claims cl;
    if (gate_claims_collect(ctx->root, ctx->preset, &cl) != 0) {
        gate_claims_free(&cl);
        rep->nomem = 1;
        return 1;
    }
    size_t fails = 0, judged = 0;
    for (size_t i = 0; i < cl.n; i++) {
        const gate_claim *k = &cl.v[i];
        if (!gate_metric_is_timing(k->metric))
            continue;
        const json_value *arm = gate_arm_at(ctx->root, k->ai);
        if (!arm || !gate_config_runs(json_obj_get(json_obj_get(arm, "config"), "drafter")))
            continue;
        judged++;
        int ok;
        const double m = gate_json_num(json_obj_get(arm, "metrics"), "mismatches_vs_ar", &ok);
        if (ok && m == 0.0)
            continue;
        char ptr[96], actual[96], context[800];
        snprintf(ptr, sizeof ptr, "/arms/%ld/metrics/mismatches_vs_ar", k->ai);
        if (ok)
            gate_fmt_num(m, actual, sizeof actual);
        else
            snprintf(actual, sizeof actual, "missing");
        snprintf(context, sizeof context, "arm \"%s\" runs a drafter and claims %s in %s (%s)",
                 gate_arm_name(arm), k->metric, k->id, k->where);
        fails++;
        gate_rule_fail(ctx, rep, "LOSSLESS", ptr, "mismatches_vs_ar = 0", actual,
                       "a speed-up from speculative decoding whose output is not shown equal "
                       "to autoregressive decoding's",
                       context);
    }
    if (!fails) {
        char actual[96];
        snprintf(actual, sizeof actual, "%zu speed claims of drafter arms", judged);
        gate_report_add(rep, ctx->file, GATE_PASS, 0, "LOSSLESS", "",
                        "drafter arms' speed claims come with mismatches_vs_ar = 0", actual,
                        NULL);
    }
    gate_claims_free(&cl);
    return 1;
}
