/* rule_restore: the evidence rules of restoration arms (see
 * rule_internal.h), both keyed on an arm's `config.restore`:
 *
 *   RESTORE_UNUSED  an arm that restores (identity, ftheta, mix:A) must
 *                   show that its last query attends to what was restored:
 *                   metrics.attention_mass_restored (the mean over samples
 *                   of the largest per-layer mass on restored positions) at
 *                   least the preset's gate.restore_min_mass (default 0.5).
 *                   Below it, the restoration path was not exercised and
 *                   the arm's recall says nothing about it. Relaxable.
 *   EXACT_PATH      an arm that restores through f_theta (ftheta, mix:A
 *                   with A < 1) and carries a recall claim must show that
 *                   no sample's needle stayed resident in some layer
 *                   (samples[].needle_exact_layers empty): else recall may
 *                   come from the layer that kept it (an s5 global layer, a
 *                   window over the needle), not from restoration. Not
 *                   relaxable: the claim would be about another path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_internal.h"

/* 0 none/absent, 1 identity, 2 through f_theta (ftheta, mix:A < 1), 3 mix:1 */
static int restore_kind(const json_value *arm)
{
    const json_value *v = gate_json_path(arm, "config.restore");
    if (!v || v->type != JSON_STRING)
        return 0;
    const char *s = v->u.str.s;
    if (!strcmp(s, "identity"))
        return 1;
    if (!strcmp(s, "ftheta"))
        return 2;
    if (!strncmp(s, "mix:", 4))
        return strtod(s + 4, NULL) >= 1.0 ? 3 : 2;
    return 0;
}

static void quoted_restore(const json_value *arm, char *buf, size_t cap)
{
    const json_value *v = gate_json_path(arm, "config.restore");
    gate_fmt_quoted(v->u.str.s, v->u.str.len, 40, buf, cap);
}

int gate_rule_restore_unused(const gate_rule_ctx *ctx, gate_report *rep)
{
    const json_value *arms = json_obj_get(ctx->root, "arms");
    const double floor = ctx->preset ? ctx->preset->restore_min_mass
                                     : KK_PRESET_RESTORE_MIN_MASS_DEFAULT;
    char fl[48];
    gate_fmt_num(floor, fl, sizeof fl);
    size_t judged = 0, fails = 0;
    for (size_t i = 0; arms && arms->type == JSON_ARRAY && i < arms->u.arr.n; i++) {
        const json_value *arm = arms->u.arr.items[i];
        if (restore_kind(arm) == 0)
            continue;
        judged++;
        const json_value *m = gate_json_path(arm, "metrics.attention_mass_restored");
        const int ok = m && m->type == JSON_NUMBER;
        /* compared on the literal's exact value: no rounding admits 0.4999... */
        if (ok && json_num_cmp_double(m, floor) >= 0)
            continue;
        char ptr[96], exp[GATE_RULE_TXT], act[128], rs[64], context[GATE_RULE_TXT];
        snprintf(ptr, sizeof ptr, "/arms/%zu/metrics/attention_mass_restored", i);
        snprintf(exp, sizeof exp, "attention_mass_restored >= %s (gate.restore_min_mass%s)", fl,
                 ctx->preset && ctx->preset->has_restore_min_mass ? "" : ", the default");
        if (ok)
            gate_fmt_lit(m, act, sizeof act);
        else
            snprintf(act, sizeof act, "missing");
        quoted_restore(arm, rs, sizeof rs);
        snprintf(context, sizeof context, "arm \"%.128s\" config.restore = %s",
                 gate_arm_name(arm), rs);
        gate_rule_fail(ctx, rep, "RESTORE_UNUSED", ptr, exp, act,
                       "the last query barely attends to the restored positions: the "
                       "restoration path was not exercised", context);
        fails++;
    }
    if (!fails) {
        char actual[64];
        snprintf(actual, sizeof actual, "%zu restoring arm%s judged", judged,
                 judged == 1 ? "" : "s");
        gate_report_add(rep, ctx->file, GATE_PASS, 0, "RESTORE_UNUSED", "/arms",
                        "restoring arms attend to what they restore", actual, NULL);
    }
    return 1;
}

/* Whether some recall claim of the preset or summary names the arm. */
static const gate_claim *recall_claim_on(const gate_claims *cl, const char *name)
{
    for (size_t k = 0; k < cl->n; k++)
        if (gate_metric_is_recall(cl->v[k].metric) &&
            ((cl->v[k].arm && !strcmp(cl->v[k].arm, name)) ||
             (cl->v[k].other && !strcmp(cl->v[k].other, name))))
            return &cl->v[k];
    return NULL;
}

int gate_rule_exact_path(const gate_rule_ctx *ctx, gate_report *rep)
{
    const json_value *arms = json_obj_get(ctx->root, "arms");
    gate_claims cl = {0};
    if (gate_claims_collect(ctx->root, ctx->preset, &cl) != 0) {
        gate_rule_fail(ctx, rep, "EXACT_PATH", "/arms", "the claims collected", "out of memory",
                       "the rule could not run", "");
        return 1;
    }
    size_t judged = 0, fails = 0;
    for (size_t i = 0; arms && arms->type == JSON_ARRAY && i < arms->u.arr.n; i++) {
        const json_value *arm = arms->u.arr.items[i];
        if (restore_kind(arm) != 2)
            continue;
        const gate_claim *c = recall_claim_on(&cl, gate_arm_name(arm));
        if (!c)
            continue;
        judged++;
        const json_value *samples = json_obj_get(arm, "samples");
        for (size_t j = 0; samples && samples->type == JSON_ARRAY && j < samples->u.arr.n; j++) {
            const json_value *ex = json_obj_get(samples->u.arr.items[j], "needle_exact_layers");
            const int missing = !ex || ex->type != JSON_ARRAY;
            if (!missing && ex->u.arr.n == 0)
                continue;
            char ptr[128], act[GATE_RULE_TXT], rs[64], context[GATE_RULE_TXT];
            snprintf(ptr, sizeof ptr, "/arms/%zu/samples/%zu/needle_exact_layers", i, j);
            if (missing) {
                snprintf(act, sizeof act, "missing");
            } else {
                size_t o = (size_t)snprintf(act, sizeof act, "layers");
                for (size_t k = 0; k < ex->u.arr.n && k < 8 && o < sizeof act; k++) {
                    char n[64];
                    gate_fmt_lit(ex->u.arr.items[k], n, sizeof n);
                    o += (size_t)snprintf(act + o, sizeof act - o, "%s %s", k ? "," : "", n);
                }
                if (ex->u.arr.n > 8 && o < sizeof act)
                    snprintf(act + o, sizeof act - o, ", ...");
            }
            quoted_restore(arm, rs, sizeof rs);
            snprintf(context, sizeof context, "arm \"%.128s\" config.restore = %s carries %s (%s)",
                     gate_arm_name(arm), rs, c->id, c->where);
            gate_rule_fail(ctx, rep, "EXACT_PATH", ptr,
                           "no layer holds the needle exactly (needle_exact_layers empty in "
                           "every sample of an arm whose recall is claimed)",
                           act, "the recall may come from a layer that kept the needle, not "
                           "from restoration", context);
            fails++;
            break;
        }
    }
    gate_claims_free(&cl);
    if (!fails) {
        char actual[64];
        snprintf(actual, sizeof actual, "%zu f_theta arm%s with a recall claim judged", judged,
                 judged == 1 ? "" : "s");
        gate_report_add(rep, ctx->file, GATE_PASS, 0, "EXACT_PATH", "/arms",
                        "recall claimed through f_theta comes from restored positions", actual,
                        NULL);
    }
    return 1;
}
