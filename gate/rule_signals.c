/*
 * rule_signals: the rules that read what the components recorded while they
 * ran, arm by arm, whatever the preset claims:
 *   LIVENESS           config says a component runs -> its counters > 0
 *   SILENT_FALLBACK    signals.fallbacks_taken is empty on every arm
 *   DEGENERATE_OUTPUT  a trained model's samples do not end in a runaway
 *                      repeat
 * docs/gate.md ("Rule codes") is the specification these follow.
 */
#include "rule_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gate_check.h"

/* ---- LIVENESS ---------------------------------------------------------------- */

/* Which arm config field runs which component, and what that component
 * counts as it runs (docs/evidence.md: "Counters are counted inside the component
 * while it runs"). A field runs its component unless its value is null,
 * false, 0, "", "none" or "off". Adding a component is one row here and one
 * line in docs/gate.md. */
static const struct {
    const char *field;
    const char *component;
    const char *counters[3]; /* NULL-terminated */
} LIVE[] = {
    {"codec", "the KV codec", {"values_encoded", "values_decoded", NULL}},
    {"codec_k", "K's codec", {"values_encoded_k", "values_decoded_k", NULL}},
    {"codec_v", "V's codec", {"values_encoded_v", "values_decoded_v", NULL}},
    /* blocks_accepted may be 0 (a workload where speculation does not
     * help): it is an event, not a liveness counter */
    {"drafter", "the drafter", {"blocks_proposed", "tokens_drafted", NULL}},
    {"restore", "restoration", {"positions_restored", NULL}},
};

static void describe_value(const json_value *v, char *buf, size_t cap)
{
    if (v->type == JSON_STRING)
        gate_fmt_quoted(v->u.str.s, v->u.str.len, 40, buf, cap);
    else if (v->type == JSON_NUMBER)
        gate_fmt_lit(v, buf, cap);
    else
        snprintf(buf, cap, "%s", v->type == JSON_TRUE     ? "true"
                                 : v->type == JSON_ARRAY ? "[...]"
                                                         : "{...}");
}

int gate_rule_liveness(const gate_rule_ctx *ctx, gate_report *rep)
{
    const json_value *arms = json_obj_get(ctx->root, "arms");
    size_t n_arms = arms && arms->type == JSON_ARRAY ? arms->u.arr.n : 0;
    size_t fails = 0, checked = 0;
    for (size_t i = 0; i < n_arms; i++) {
        const json_value *arm = arms->u.arr.items[i];
        const json_value *config = json_obj_get(arm, "config");
        const json_value *counters =
            json_obj_get(json_obj_get(arm, "signals"), "counters");
        for (size_t c = 0; c < sizeof LIVE / sizeof LIVE[0]; c++) {
            const json_value *fv = json_obj_get(config, LIVE[c].field);
            if (!gate_config_runs(fv))
                continue;
            char val[96], context[GATE_RULE_TXT];
            describe_value(fv, val, sizeof val);
            snprintf(context, sizeof context,
                     "arm \"%.128s\" config.%s = %s runs %s", gate_arm_name(arm),
                     LIVE[c].field, val, LIVE[c].component);
            for (const char *const *k = LIVE[c].counters; *k; k++) {
                char ptr[GATE_RULE_TXT], expected[160], actual[160];
                snprintf(ptr, sizeof ptr, "/arms/%zu/signals/counters", i);
                gate_ptr_append(ptr, sizeof ptr, *k);
                snprintf(expected, sizeof expected, "%s > 0", *k);
                const json_value *cv = json_obj_get(counters, *k);
                checked++;
                if (!cv || cv->type != JSON_NUMBER) {
                    snprintf(actual, sizeof actual,
                             "missing (absent means we do not know it ran)");
                } else if (json_num_cmp_double(cv, 0.0) <= 0) {
                    char lit[64];
                    gate_fmt_lit(cv, lit, sizeof lit);
                    snprintf(actual, sizeof actual, "%s", lit);
                } else {
                    continue;
                }
                fails++;
                gate_rule_fail(ctx, rep, "LIVENESS", ptr, expected, actual,
                               "a component the configuration runs did no "
                               "counted work: a silent pass-through",
                               context);
            }
        }
    }
    if (!fails) {
        char actual[96];
        snprintf(actual, sizeof actual, "%zu counters > 0 on %zu arms", checked,
                 n_arms);
        gate_report_add(rep, ctx->file, GATE_PASS, 0, "LIVENESS", "/arms",
                        "every component an arm's config runs counted work",
                        actual, NULL);
    }
    return 1;
}

/* ---- SILENT_FALLBACK --------------------------------------------------------- */

int gate_rule_silent_fallback(const gate_rule_ctx *ctx, gate_report *rep)
{
    const json_value *arms = json_obj_get(ctx->root, "arms");
    size_t n_arms = arms && arms->type == JSON_ARRAY ? arms->u.arr.n : 0;
    size_t fails = 0;
    for (size_t i = 0; i < n_arms; i++) {
        const json_value *arm = arms->u.arr.items[i];
        const json_value *fb =
            json_obj_get(json_obj_get(arm, "signals"), "fallbacks_taken");
        if (!fb || fb->type != JSON_ARRAY || fb->u.arr.n == 0)
            continue;
        char actual[GATE_RULE_TXT], context[200], ptr[64];
        size_t at = (size_t)snprintf(actual, sizeof actual, "%zu: ", fb->u.arr.n);
        for (size_t k = 0; k < fb->u.arr.n && at + 100 < sizeof actual; k++) {
            const json_value *s = fb->u.arr.items[k];
            char q[96];
            if (s->type == JSON_STRING)
                gate_fmt_quoted(s->u.str.s, s->u.str.len, 60, q, sizeof q);
            else
                snprintf(q, sizeof q, "(not a string)");
            at += (size_t)snprintf(actual + at, sizeof actual - at, "%s%s",
                                   k ? ", " : "", q);
        }
        snprintf(ptr, sizeof ptr, "/arms/%zu/signals/fallbacks_taken", i);
        snprintf(context, sizeof context, "arm \"%.128s\"", gate_arm_name(arm));
        fails++;
        gate_rule_fail(ctx, rep, "SILENT_FALLBACK", ptr, "[] (no fallback)",
                       actual,
                       "an arm degraded at run time; a degraded baseline "
                       "corrupts a comparison as surely as a degraded system",
                       context);
    }
    if (!fails)
        gate_report_add(rep, ctx->file, GATE_PASS, 0, "SILENT_FALLBACK", "/arms",
                        "fallbacks_taken empty on every arm", "empty", NULL);
    return 1;
}

/* ---- DEGENERATE_OUTPUT ------------------------------------------------------- */

/* A runaway repeat: a unit of 1..RUN_UNIT_MAX characters (or token ids)
 * repeated RUN_MIN_REPEATS or more times back to back at the very end. The
 * end alone is judged, and 8 repeats is far past what templated text does
 * (a list or table repeats structure, not one unit 8 times at its end). */
#define RUN_UNIT_MAX 8
#define RUN_MIN_REPEATS 8

/* The shortest unit length L whose repeat count k at the end of v[0..n) is
 * >= RUN_MIN_REPEATS (0 when none). eq compares two positions. */
static size_t tail_run(size_t n, int (*eq)(const void *, size_t, size_t),
                       const void *v, size_t *reps)
{
    for (size_t L = 1; L <= RUN_UNIT_MAX && L * RUN_MIN_REPEATS <= n; L++) {
        /* Count how far back the period-L suffix extends. */
        size_t len = L;
        while (len < n && eq(v, n - 1 - len, n - 1 - len + L))
            len++;
        if (len / L >= RUN_MIN_REPEATS) {
            *reps = len / L;
            return L;
        }
    }
    return 0;
}

typedef struct cps {
    uint32_t *cp;
    size_t n;
} cps;

static int eq_cp(const void *v, size_t i, size_t j)
{
    const cps *c = v;
    return c->cp[i] == c->cp[j];
}

static int eq_id(const void *v, size_t i, size_t j)
{
    const json_value *a = v;
    return json_num_cmp(a->u.arr.items[i], a->u.arr.items[j]) == 0;
}

/* ids are judged only as a list of numbers (the schema says so; the rules
 * do not rely on it). */
static int all_numbers(const json_value *a)
{
    for (size_t i = 0; i < a->u.arr.n; i++)
        if (a->u.arr.items[i]->type != JSON_NUMBER)
            return 0;
    return 1;
}

/* Decodes the last (at most) cap code points of valid UTF-8 s (the strict
 * reader guarantees validity) into out; @return how many. */
static size_t tail_code_points(const char *s, size_t len, uint32_t *out, size_t cap)
{
    size_t start = len, count = 0;
    while (start > 0 && count < cap) {
        start--;
        if (((unsigned char)s[start] & 0xc0) != 0x80)
            count++;
    }
    size_t k = 0;
    for (size_t i = start; i < len && k < cap;) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        uint32_t v = n == 1 ? c : n == 2 ? (c & 0x1fu) : n == 3 ? (c & 0x0fu) : (c & 0x07u);
        for (size_t m = 1; m < n && i + m < len; m++)
            v = (v << 6) | ((unsigned char)s[i + m] & 0x3fu);
        out[k++] = v;
        i += n;
    }
    return k;
}

/* The model that generates the samples' text: the first with role
 * "target", else the first model. */
static const json_value *target_model(const json_value *root)
{
    const json_value *models = json_obj_get(root, "models");
    if (!models || models->type != JSON_ARRAY || models->u.arr.n == 0)
        return NULL;
    for (size_t i = 0; i < models->u.arr.n; i++) {
        const json_value *r = json_obj_get(models->u.arr.items[i], "role");
        if (r && r->type == JSON_STRING && strcmp(r->u.str.s, "target") == 0)
            return models->u.arr.items[i];
    }
    return models->u.arr.items[0];
}

/* Trained: `trained: true`; or no `trained` and a source that is not a
 * synthetic or random spec ("synth:", "random:"). Synthetic and random
 * models loop under greedy decoding by construction. */
static int model_trained(const json_value *m, char *why, size_t cap)
{
    const json_value *t = json_obj_get(m, "trained");
    const json_value *src = json_obj_get(m, "source");
    const char *s = src && src->type == JSON_STRING ? src->u.str.s : "";
    if (t && (t->type == JSON_TRUE || t->type == JSON_FALSE)) {
        snprintf(why, cap, "trained: %s", t->type == JSON_TRUE ? "true" : "false");
        return t->type == JSON_TRUE;
    }
    int synthetic = strncmp(s, "synth:", 6) == 0 || strncmp(s, "random:", 7) == 0;
    snprintf(why, cap, "source \"%.80s\"", s);
    return !synthetic;
}

int gate_rule_degenerate_output(const gate_rule_ctx *ctx, gate_report *rep)
{
    const json_value *m = target_model(ctx->root);
    char why[128] = "no models";
    if (!m || !model_trained(m, why, sizeof why)) {
        char actual[200];
        snprintf(actual, sizeof actual, "not judged: the target model is not "
                 "trained (%s)", why);
        gate_report_add(rep, ctx->file, GATE_PASS, 0, "DEGENERATE_OUTPUT", "/models",
                        "no runaway repeat at the end of a trained model's output",
                        actual, NULL);
        return 1;
    }
    const json_value *arms = json_obj_get(ctx->root, "arms");
    size_t n_arms = arms && arms->type == JSON_ARRAY ? arms->u.arr.n : 0;
    size_t fails = 0, judged = 0;
    uint32_t buf[RUN_UNIT_MAX * 64];
    for (size_t i = 0; i < n_arms; i++) {
        const json_value *arm = arms->u.arr.items[i];
        const json_value *samples = json_obj_get(arm, "samples");
        size_t n_s = samples && samples->type == JSON_ARRAY ? samples->u.arr.n : 0;
        size_t bad = 0;
        char first_ptr[96] = "", first_actual[GATE_RULE_TXT] = "";
        for (size_t j = 0; j < n_s; j++) {
            const json_value *s = samples->u.arr.items[j];
            const json_value *text = json_obj_get(s, "text");
            const json_value *ids = json_obj_get(s, "ids");
            size_t L = 0, reps = 0;
            const char *field = NULL;
            char unit[160] = "";
            if (text && text->type == JSON_STRING) {
                judged++;
                /* 8 x 8 code points is the longest run to find; a longer
                 * tail window only lengthens the count it reports. */
                cps c = {buf, tail_code_points(text->u.str.s, text->u.str.len, buf,
                                               sizeof buf / sizeof buf[0])};
                L = tail_run(c.n, eq_cp, &c, &reps);
                if (L) {
                    field = "text";
                    char u8[RUN_UNIT_MAX * 4 + 1];
                    size_t at = 0;
                    for (size_t k = c.n - L; k < c.n; k++) {
                        uint32_t v = c.cp[k];
                        if (v < 0x80) {
                            u8[at++] = (char)v;
                        } else if (v < 0x800) {
                            u8[at++] = (char)(0xc0 | (v >> 6));
                            u8[at++] = (char)(0x80 | (v & 0x3f));
                        } else if (v < 0x10000) {
                            u8[at++] = (char)(0xe0 | (v >> 12));
                            u8[at++] = (char)(0x80 | ((v >> 6) & 0x3f));
                            u8[at++] = (char)(0x80 | (v & 0x3f));
                        } else {
                            u8[at++] = (char)(0xf0 | (v >> 18));
                            u8[at++] = (char)(0x80 | ((v >> 12) & 0x3f));
                            u8[at++] = (char)(0x80 | ((v >> 6) & 0x3f));
                            u8[at++] = (char)(0x80 | (v & 0x3f));
                        }
                    }
                    gate_fmt_quoted(u8, at, 64, unit, sizeof unit);
                }
            }
            if (!L && ids && ids->type == JSON_ARRAY && all_numbers(ids)) {
                judged++;
                L = tail_run(ids->u.arr.n, eq_id, ids, &reps);
                if (L) {
                    field = "ids";
                    size_t at = (size_t)snprintf(unit, sizeof unit, "[");
                    for (size_t k = ids->u.arr.n - L; k < ids->u.arr.n; k++) {
                        char lit[64];
                        gate_fmt_lit(ids->u.arr.items[k], lit, sizeof lit);
                        at += (size_t)snprintf(unit + at, sizeof unit - at, "%s%s",
                                               k + L > ids->u.arr.n ? "," : "", lit);
                        if (at >= sizeof unit)
                            break;
                    }
                    if (at + 2 < sizeof unit)
                        memcpy(unit + at, "]", 2);
                }
            }
            if (!L)
                continue;
            if (bad++ == 0) {
                snprintf(first_ptr, sizeof first_ptr, "/arms/%zu/samples/%zu/%s", i,
                         j, field);
                snprintf(first_actual, sizeof first_actual,
                         "ends in %s x %zu (a %zu-%s unit)", unit, reps, L,
                         field[0] == 't' ? "character" : "token");
            }
        }
        if (!bad)
            continue;
        fails++;
        char actual[GATE_RULE_TXT + 96], context[300], expected[160];
        snprintf(actual, sizeof actual, "%s; %zu of %zu samples end so", first_actual,
                 bad, n_s);
        snprintf(expected, sizeof expected,
                 "no unit of 1-%d characters or tokens repeated %d+ times at the end",
                 RUN_UNIT_MAX, RUN_MIN_REPEATS);
        snprintf(context, sizeof context, "arm \"%.128s\"; target model %s",
                 gate_arm_name(arm), why);
        gate_rule_fail(ctx, rep, "DEGENERATE_OUTPUT", first_ptr, expected, actual,
                       "a trained model's output collapsed into a loop", context);
    }
    if (!fails) {
        char actual[96];
        snprintf(actual, sizeof actual, "%zu outputs judged, none ends in a loop",
                 judged);
        gate_report_add(rep, ctx->file, GATE_PASS, 0, "DEGENERATE_OUTPUT", "/arms",
                        "no runaway repeat at the end of a trained model's output",
                        actual, NULL);
    }
    return 1;
}
