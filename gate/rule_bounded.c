/* rule_bounded: KV_UNBOUNDED, the evidence rule that a bounded cache is
 * bounded (see rule_internal.h). An arm whose `config.policy` is a bounded
 * one (`sinkwin:...`, or `s5...` for a hybrid's sliding layers) must show
 * the same resident bytes in every context cell: `metrics.cells[]
 * .kv_bytes_resident` (for s5, `kv_bytes_resident_sliding`, its sliding
 * layers; the global ones grow by design). Bytes that grow with the
 * context mean the cache kept what it claims to evict, and a recall
 * measured on it says nothing about a bounded cache. */
#include <stdio.h>
#include <string.h>

#include "rule_internal.h"

int gate_rule_kv_unbounded(const gate_rule_ctx *ctx, gate_report *rep)
{
    const json_value *arms = json_obj_get(ctx->root, "arms");
    size_t judged = 0, fails = 0;
    for (size_t i = 0; arms && arms->type == JSON_ARRAY && i < arms->u.arr.n; i++) {
        const json_value *arm = arms->u.arr.items[i];
        const json_value *pol = gate_json_path(arm, "config.policy");
        if (!pol || pol->type != JSON_STRING)
            continue;
        const int sinkwin = pol->u.str.len >= 8 && !memcmp(pol->u.str.s, "sinkwin:", 8);
        const int s5 = pol->u.str.len >= 2 && !memcmp(pol->u.str.s, "s5", 2);
        if (!sinkwin && !s5)
            continue;
        const char *key = s5 ? "kv_bytes_resident_sliding" : "kv_bytes_resident";
        const json_value *cells = gate_json_path(arm, "metrics.cells");
        const json_value *first = NULL;
        size_t first_j = 0;
        judged++;
        for (size_t j = 0; cells && cells->type == JSON_ARRAY && j < cells->u.arr.n; j++) {
            const json_value *c = cells->u.arr.items[j];
            const json_value *b = json_obj_get(c, key);
            if (!b || b->type != JSON_NUMBER) {
                char ptr[96], exp[160];
                snprintf(ptr, sizeof ptr, "/arms/%zu/metrics/cells/%zu", i, j);
                snprintf(exp, sizeof exp, "%s in every cell of a bounded arm", key);
                char context[200];
                snprintf(context, sizeof context, "arm \"%.128s\"", gate_arm_name(arm));
                gate_rule_fail(ctx, rep, "KV_UNBOUNDED", ptr, exp, "missing",
                               "a bounded cache must show its bytes per context", context);
                fails++;
                break;
            }
            if (!first) {
                first = b;
                first_j = j;
                continue;
            }
            if (json_num_cmp(b, first) != 0) {
                char ptr[128], exp[GATE_RULE_TXT], act[GATE_RULE_TXT], a[64], f[64], context[400];
                gate_fmt_lit(b, a, sizeof a);
                gate_fmt_lit(first, f, sizeof f);
                int ok = 0;
                const double c0 = gate_json_num(cells->u.arr.items[first_j], "ctx", &ok);
                const double c1 = gate_json_num(c, "ctx", &ok);
                snprintf(ptr, sizeof ptr, "/arms/%zu/metrics/cells/%zu/%s", i, j, key);
                snprintf(exp, sizeof exp, "%s = %s as at ctx %.0f (a bounded cache's bytes do "
                         "not grow with the context)", key, f, c0);
                snprintf(act, sizeof act, "%s at ctx %.0f", a, c1);
                snprintf(context, sizeof context, "arm \"%.128s\" policy \"%.*s\"",
                         gate_arm_name(arm), (int)(pol->u.str.len > 128 ? 128 : pol->u.str.len),
                         pol->u.str.s);
                gate_rule_fail(ctx, rep, "KV_UNBOUNDED", ptr, exp, act,
                               "the cache kept what it claims to evict", context);
                fails++;
                break;
            }
        }
    }
    if (!fails) {
        char actual[64];
        snprintf(actual, sizeof actual, "%zu bounded arm%s judged", judged, judged == 1 ? "" : "s");
        gate_report_add(rep, ctx->file, GATE_PASS, 0, "KV_UNBOUNDED", "/arms",
                        "the same resident bytes in every context of a bounded arm", actual,
                        NULL);
    }
    return 1;
}
