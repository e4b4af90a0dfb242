/* rule_controls: CONTROLS_MISSING, the preset rule that a recall threshold
 * comes with both controls (see rule_internal.h). A recall that passes with
 * no arm shown to pass where it must (positive) and to fail where it must
 * (negative: the needle hidden, nothing restored) proves nothing about the
 * method: the harness that measured it may not be able to fail. Judged on
 * the preset the evidence names, not on the evidence's figures. */
#include <stdio.h>

#include "rule_internal.h"

int gate_rule_controls_missing(const gate_rule_ctx *ctx, gate_report *rep)
{
    const kk_preset *p = ctx->preset;
    size_t first = 0;
    int recall = 0;
    for (size_t i = 0; p && i < p->n_thresholds && !recall; i++)
        if (gate_metric_is_recall(p->thresholds[i].metric)) {
            recall = 1;
            first = i;
        }
    if (!recall || (p->has_positive && p->has_negative)) {
        gate_report_add(rep, ctx->file, GATE_PASS, 0, "CONTROLS_MISSING", "/preset/name",
                        "a positive and a negative control beside any recall threshold",
                        recall ? "both controls" : "no recall threshold", NULL);
        return 1;
    }
    char actual[GATE_RULE_TXT], context[GATE_RULE_TXT];
    snprintf(actual, sizeof actual, "gate.controls without %s%s%s",
             p->has_positive ? "" : "a positive",
             !p->has_positive && !p->has_negative ? " and " : "",
             p->has_negative ? "" : "a negative");
    snprintf(context, sizeof context, "gate.thresholds[%zu] (%.64s %.64s) at %.200s:%d:%d is a "
             "recall threshold", first, p->thresholds[first].arm, p->thresholds[first].metric,
             p->file, p->thresholds[first].line, p->thresholds[first].col);
    gate_rule_fail(ctx, rep, "CONTROLS_MISSING", "/preset/name",
                   "a positive and a negative control (gate.controls) beside a recall threshold",
                   actual, "a recall no arm was shown to pass and to lose proves nothing",
                   context);
    return 1;
}
