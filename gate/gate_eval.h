/*
 * gate_eval: evaluates one preset condition (a threshold or a control) on an
 * evidence document, exactly in decimal (gate_dec.h), and reports it.
 *
 *   value form  arm.metric OP value
 *   delta_to B  arm.metric - B.metric OP value
 *   ratio_to B  arm.metric / B.metric OP value  (as metric OP value * B.metric,
 *               the comparison flipped when B.metric < 0; B.metric == 0 fails)
 *   ci lo95/hi95  arm.metric_ci_lo / _ci_hi OP value
 *
 * A missing arm or metric, or a metric that is not a number, fails the
 * condition (severity 1) with a message naming what is missing.
 */
#ifndef KK_GATE_EVAL_H
#define KK_GATE_EVAL_H

#include "kk_preset.h"
#include "gate_report.h"
#include "json.h"

typedef enum gate_role {
    GATE_ROLE_THRESHOLD = 0, /* must hold */
    GATE_ROLE_POSITIVE,      /* must hold: the control succeeds */
    GATE_ROLE_NEGATIVE       /* must hold: the control loses; if it does not,
                                the evidence is rejected */
} gate_role;

/* `id` names the check ("THRESHOLD[2]"), `where` the condition in the
 * preset ("gate.thresholds[2]"). */
void gate_eval_cond(const char *file, const json_value *root,
                    const kk_preset *preset, const kk_preset_cond *cond,
                    gate_role role, const char *id, const char *where,
                    gate_report *rep);

/* Index of the arm named `name` in root.arms, -1 when absent. */
long gate_eval_find_arm(const json_value *root, const char *name);

#endif /* KK_GATE_EVAL_H */
