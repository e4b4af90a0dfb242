/* kk_preset_gate: the `gate:` block of a preset file (kk_preset.h has the
 * grammar, docs/gate.md the full text) and the table of rule codes that
 * `relax:` may name. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kk_preset.h"
#include "kk_preset_internal.h"
#include "kk_yaml.h"

#define NAME_MAX_LEN KK_PRESET_NAME_MAX_LEN
#define REASON_MAX_LEN KK_PRESET_DESC_MAX_LEN
/* The gate compares thresholds as exact decimals of at most this many
 * digits (gate/gate_dec.h, GATE_DEC_MAX_DIGITS); a longer literal is
 * refused here as the gate's decimal reader would refuse it. */
#define NUMBER_MAX_DIGITS 4096

typedef struct pctx {
    const char *file;
    kk_err *err;
} pctx;

/* ---- errors ----------------------------------------------------------------- */

/* A located error at node n of the file being read (kk_yaml_err). */
#define perr(c, ...) kk_yaml_err((c)->err, (c)->file, __VA_ARGS__)

/* ---- scalar typing (kk_yaml_classify) -------------------------------------- */

static int eq_any(const char *s, size_t len, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == len && memcmp(s, *words, len) == 0)
            return 1;
    return 0;
}

/* A number the gate can compare: JSON number form within the digit bound. */
static int is_gate_number(const kk_yaml_node *n)
{
    kk_yaml_sclass k = kk_yaml_node_class(n);
    if (k != KK_YAML_SC_INT && k != KK_YAML_SC_NUMBER)
        return 0;
    size_t digits = 0;
    for (size_t i = 0; i < n->len && n->str[i] != 'e' && n->str[i] != 'E'; i++)
        digits += n->str[i] >= '0' && n->str[i] <= '9';
    return digits <= NUMBER_MAX_DIGITS;
}

static const char *class_name(kk_yaml_sclass k)
{
    switch (k) {
    case KK_YAML_SC_NULL: return "null";
    case KK_YAML_SC_BOOL: return "a boolean";
    case KK_YAML_SC_INT:
    case KK_YAML_SC_NUMBER:
    case KK_YAML_SC_OTHER_NUM: return "a number";
    default: return "a string";
    }
}

/* "string \"abc\"", "a map", "a list": what was found, for messages. */
static void found(const kk_yaml_node *n, char *buf, size_t cap)
{
    if (n->kind == KK_YAML_MAP) {
        snprintf(buf, cap, "a map");
        return;
    }
    if (n->kind == KK_YAML_SEQ) {
        snprintf(buf, cap, "a list");
        return;
    }
    char shown[80];
    size_t k = 0;
    for (size_t i = 0; i < n->len && k + 5 < sizeof shown; i++) {
        unsigned char ch = (unsigned char)n->str[i];
        if (ch < 0x20 || ch == 0x7f)
            k += (size_t)snprintf(shown + k, sizeof shown - k, "\\x%02x", ch);
        else
            shown[k++] = (char)ch;
    }
    shown[k] = '\0';
    snprintf(buf, cap, "%s \"%s\"%s", class_name(kk_yaml_node_class(n)), shown,
             n->len > k ? "..." : "");
}

static kk_code get_string(const pctx *c, const kk_yaml_node *n,
                          const char *where, size_t max_len, char **out)
{
    char f[128];
    found(n, f, sizeof f);
    if (n->kind != KK_YAML_SCALAR)
        return perr(c, n, where, KK_E_TYPE, "expected a string, found %s", f);
    if (kk_yaml_node_class(n) != KK_YAML_SC_STRING)
        return perr(c, n, where, KK_E_TYPE,
                    "expected a string, found %s (quote it to mean the text)", f);
    if (n->len == 0 || n->len > max_len || memchr(n->str, '\0', n->len))
        return perr(c, n, where, KK_E_RANGE,
                    "expected a non-empty string of at most %zu bytes without "
                    "NUL, found %s (%zu bytes)", max_len, f, n->len);
    *out = strdup(n->str);
    if (!*out)
        return perr(c, n, where, KK_E_NOMEM, "out of memory");
    return KK_OK;
}

/* A name: arm, preset, metric path ([A-Za-z0-9_.+-], not starting with '.'). */
static kk_code get_name(const pctx *c, const kk_yaml_node *n,
                        const char *where, char **out)
{
    KK_TRY(get_string(c, n, where, NAME_MAX_LEN, out));
    for (const char *p = *out; *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                 (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
                 *p == '.' || *p == '+';
        if (!ok || (*out)[0] == '.') {
            char f[128];
            found(n, f, sizeof f);
            free(*out);
            *out = NULL;
            return perr(c, n, where, KK_E_RANGE,
                        "found %s; allowed: letters, digits, _ - . + (not "
                        "starting with .)", f);
        }
    }
    return KK_OK;
fail:
    return c->err ? c->err->code : KK_E_FORMAT;
}

static kk_code get_number(const pctx *c, const kk_yaml_node *n,
                          const char *where, char **out)
{
    char f[128];
    found(n, f, sizeof f);
    if (n->kind != KK_YAML_SCALAR || !is_gate_number(n)) {
        /* OTHER_NUM, or a JSON-form literal past the digit bound */
        kk_yaml_sclass k = n->kind == KK_YAML_SCALAR ? kk_yaml_node_class(n) : KK_YAML_SC_STRING;
        const char *hint = k == KK_YAML_SC_OTHER_NUM || k == KK_YAML_SC_INT ||
                                   k == KK_YAML_SC_NUMBER
                               ? " in YAML-only form"
                               : "";
        return perr(c, n, where, KK_E_TYPE,
                    "expected a number in JSON form (0.95, -0.05, 1e-3, "
                    "unquoted), found %s%s", f, hint);
    }
    *out = strdup(n->str);
    if (!*out)
        return perr(c, n, where, KK_E_NOMEM, "out of memory");
    return KK_OK;
}

static kk_code get_int(const pctx *c, const kk_yaml_node *n,
                       const char *where, int64_t min, int64_t max,
                       int64_t *out)
{
    char f[128];
    found(n, f, sizeof f);
    int ok = n->kind == KK_YAML_SCALAR && kk_yaml_node_class(n) == KK_YAML_SC_INT &&
             n->len <= 18;
    if (!ok)
        return perr(c, n, where, KK_E_TYPE,
                    "expected an integer in [%lld, %lld], found %s",
                    (long long)min, (long long)max, f);
    long long v = strtoll(n->str, NULL, 10);
    if (v < min || v > max)
        return perr(c, n, where, KK_E_RANGE,
                    "expected an integer in [%lld, %lld], found %lld",
                    (long long)min, (long long)max, v);
    *out = v;
    return KK_OK;
}

/* Refuses keys of `map` not in `allowed` (NULL-terminated). */
static kk_code check_keys(const pctx *c, const kk_yaml_node *map,
                          const char *where, const char *const *allowed,
                          const char *allowed_text)
{
    for (size_t i = 0; i < map->n; i++) {
        const kk_yaml_node *k = map->keys[i];
        if (!eq_any(k->str, k->len, allowed)) {
            char w[KK_ERR_WHERE_MAX];
            snprintf(w, sizeof w, "%s%s%.*s", where, where[0] ? "." : "",
                     (int)(k->len > 64 ? 64 : k->len), k->str);
            return perr(c, k, w, KK_E_RANGE,
                        "unknown key '%.*s' in %s; allowed: %s",
                        (int)(k->len > 64 ? 64 : k->len), k->str,
                        where[0] ? where : "the preset", allowed_text);
        }
    }
    return KK_OK;
}

static kk_code need_map(const pctx *c, const kk_yaml_node *n,
                        const char *where)
{
    if (n->kind == KK_YAML_MAP)
        return KK_OK;
    char f[128];
    found(n, f, sizeof f);
    return perr(c, n, where, KK_E_TYPE, "expected a map, found %s", f);
}

static kk_code need_seq(const pctx *c, const kk_yaml_node *n,
                        const char *where)
{
    if (n->kind == KK_YAML_SEQ)
        return KK_OK;
    char f[128];
    found(n, f, sizeof f);
    return perr(c, n, where, KK_E_TYPE, "expected a list, found %s", f);
}

/* ---- conditions ----------------------------------------------------------- */

const char *kk_preset_op_text(kk_preset_op op)
{
    static const char *const t[] = {">=", "<=", ">", "<", "=="};
    return (unsigned)op < 5 ? t[op] : "?";
}

static void cond_free(kk_preset_cond *d)
{
    free(d->arm);
    free(d->metric);
    free(d->other);
    free(d->note);
    free(d->value);
    memset(d, 0, sizeof *d);
}

static kk_code parse_cond(const pctx *c, const kk_yaml_node *n,
                          const char *where, kk_preset_cond *d)
{
    static const char *const keys[] = {"arm", "metric", "op", "value", "delta_to",
                                       "ratio_to", "ci", "note", NULL};
    char w[KK_ERR_WHERE_MAX];
    memset(d, 0, sizeof *d);
    d->line = n->line;
    d->col = n->col;
    KK_TRY(need_map(c, n, where));
    KK_TRY(check_keys(c, n, where, keys,
                      "arm, metric, op, value, delta_to, ratio_to, ci, note"));
    static const char *const required[] = {"arm", "metric", "op", "value"};
    for (size_t i = 0; i < 4; i++)
        if (!kk_yaml_get(n, required[i])) {
            perr(c, n, where, KK_E_MISSING,
                 "missing key '%s' in %s; required: arm, metric, op, value",
                 required[i], where);
            goto fail;
        }
    snprintf(w, sizeof w, "%s.arm", where);
    KK_TRY(get_name(c, kk_yaml_get(n, "arm"), w, &d->arm));
    snprintf(w, sizeof w, "%s.metric", where);
    KK_TRY(get_name(c, kk_yaml_get(n, "metric"), w, &d->metric));
    const char *dot = strchr(d->metric, '.');
    if (dot) {
        size_t k = (size_t)(dot - d->metric);
        if (!((k == 7 && memcmp(d->metric, "metrics", 7) == 0) ||
              (k == 7 && memcmp(d->metric, "timings", 7) == 0) ||
              (k == 7 && memcmp(d->metric, "signals", 7) == 0)) ||
            dot[1] == '\0' || d->metric[strlen(d->metric) - 1] == '.' ||
            strstr(d->metric, "..")) {
            perr(c, kk_yaml_get(n, "metric"), w, KK_E_RANGE,
                 "found \"%s\"; allowed: a key of the arm's metrics (recall) or "
                 "a dotted path starting metrics., timings. or signals.",
                 d->metric);
            goto fail;
        }
    }
    snprintf(w, sizeof w, "%s.op", where);
    const kk_yaml_node *op = kk_yaml_get(n, "op");
    char *ops = NULL;
    KK_TRY(get_string(c, op, w, 8, &ops));
    int found_op = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(ops, kk_preset_op_text((kk_preset_op)i)) == 0)
            found_op = i;
    if (found_op < 0) {
        perr(c, op, w, KK_E_RANGE, "found \"%s\"; allowed: >=, <=, >, <, ==", ops);
        free(ops);
        goto fail;
    }
    free(ops);
    d->op = (kk_preset_op)found_op;
    snprintf(w, sizeof w, "%s.value", where);
    KK_TRY(get_number(c, kk_yaml_get(n, "value"), w, &d->value));

    const kk_yaml_node *dt = kk_yaml_get(n, "delta_to");
    const kk_yaml_node *rt = kk_yaml_get(n, "ratio_to");
    const kk_yaml_node *ci = kk_yaml_get(n, "ci");
    if ((dt != NULL) + (rt != NULL) + (ci != NULL) > 1) {
        perr(c, n, where, KK_E_RANGE,
             "found more than one of delta_to, ratio_to, ci in %s; allowed: "
             "at most one", where);
        goto fail;
    }
    d->form = KK_PRESET_FORM_VALUE;
    if (dt) {
        snprintf(w, sizeof w, "%s.delta_to", where);
        KK_TRY(get_name(c, dt, w, &d->other));
        d->form = KK_PRESET_FORM_DELTA;
    } else if (rt) {
        snprintf(w, sizeof w, "%s.ratio_to", where);
        KK_TRY(get_name(c, rt, w, &d->other));
        d->form = KK_PRESET_FORM_RATIO;
    } else if (ci) {
        snprintf(w, sizeof w, "%s.ci", where);
        char *s = NULL;
        KK_TRY(get_string(c, ci, w, 16, &s));
        if (strcmp(s, "lo95") == 0)
            d->form = KK_PRESET_FORM_CI_LO;
        else if (strcmp(s, "hi95") == 0)
            d->form = KK_PRESET_FORM_CI_HI;
        else {
            perr(c, ci, w, KK_E_RANGE, "found \"%s\"; allowed: lo95, hi95", s);
            free(s);
            goto fail;
        }
        free(s);
    }
    const kk_yaml_node *note = kk_yaml_get(n, "note");
    if (note) {
        snprintf(w, sizeof w, "%s.note", where);
        KK_TRY(get_string(c, note, w, REASON_MAX_LEN, &d->note));
    }
    return KK_OK;
fail:
    cond_free(d);
    return c->err ? c->err->code : KK_E_FORMAT;
}

/* ---- the gate block --------------------------------------------------------- */

void kk_preset_gate_free(kk_preset *p)
{
    free(p->baseline);
    for (size_t i = 0; i < p->n_thresholds; i++)
        cond_free(&p->thresholds[i]);
    free(p->thresholds);
    if (p->has_positive)
        cond_free(&p->positive);
    for (size_t i = 0; i < p->n_negative; i++)
        cond_free(&p->negative[i]);
    free(p->negative);
    for (size_t i = 0; i < p->n_relax; i++) {
        free(p->relax[i].rule);
        free(p->relax[i].reason);
    }
    free(p->relax);
}

static kk_code parse_min_samples(const pctx *c, const kk_yaml_node *n,
                                 kk_preset *p)
{
    static const char *const keys[] = {"recall", "timing", NULL};
    KK_TRY(need_map(c, n, "gate.min_samples"));
    KK_TRY(check_keys(c, n, "gate.min_samples", keys, "recall, timing"));
    const kk_yaml_node *v;
    if ((v = kk_yaml_get(n, "recall")) != NULL)
        KK_TRY(get_int(c, v, "gate.min_samples.recall", 1, 1000000,
                       &p->min_samples_recall));
    if ((v = kk_yaml_get(n, "timing")) != NULL)
        KK_TRY(get_int(c, v, "gate.min_samples.timing", 1, 1000000,
                       &p->min_samples_timing));
    return KK_OK;
fail:
    return c->err ? c->err->code : KK_E_FORMAT;
}

static kk_code parse_relax(const pctx *c, const kk_yaml_node *n,
                           kk_preset *p)
{
    static const char *const keys[] = {"rule", "reason", NULL};
    char w[KK_ERR_WHERE_MAX], wi[64];
    KK_TRY(need_seq(c, n, "gate.relax"));
    p->relax = calloc(n->n ? n->n : 1, sizeof *p->relax);
    if (!p->relax)
        return perr(c, n, "gate.relax", KK_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        const kk_yaml_node *e = n->vals[i];
        snprintf(wi, sizeof wi, "gate.relax[%zu]", i);
        KK_TRY(need_map(c, e, wi));
        KK_TRY(check_keys(c, e, wi, keys, "rule, reason"));
        const kk_yaml_node *rule = kk_yaml_get(e, "rule");
        const kk_yaml_node *reason = kk_yaml_get(e, "reason");
        if (!rule || !reason) {
            perr(c, e, wi, KK_E_MISSING,
                 "missing key '%s' in %s; a rule is relaxed only with a "
                 "written reason (required: rule, reason)",
                 rule ? "reason" : "rule", wi);
            goto fail;
        }
        kk_preset_relax *r = &p->relax[p->n_relax++];
        r->line = e->line;
        r->col = e->col;
        snprintf(w, sizeof w, "%s.rule", wi);
        KK_TRY(get_string(c, rule, w, NAME_MAX_LEN, &r->rule));
        const kk_preset_rule_code *gr = kk_preset_rule_find(r->rule);
        if (!gr || !gr->relaxable) {
            char codes[512];
            size_t at = 0;
            codes[0] = '\0';
            for (size_t k = 0; k < kk_preset_rule_count(); k++) {
                const kk_preset_rule_code *x = kk_preset_rule_at(k);
                if (x->relaxable && at < sizeof codes)
                    at += (size_t)snprintf(codes + at, sizeof codes - at, "%s%s",
                                           at ? ", " : "", x->code);
            }
            perr(c, rule, w, KK_E_RANGE, "found \"%s\"%s; allowed: %s", r->rule,
                 gr ? " (cannot be relaxed)" : "", codes);
            goto fail;
        }
        for (size_t k = 0; k + 1 < p->n_relax; k++)
            if (strcmp(p->relax[k].rule, r->rule) == 0) {
                perr(c, rule, w, KK_E_DUPLICATE,
                     "rule %s relaxed twice (first at line %d)", r->rule,
                     p->relax[k].line);
                goto fail;
            }
        snprintf(w, sizeof w, "%s.reason", wi);
        KK_TRY(get_string(c, reason, w, REASON_MAX_LEN, &r->reason));
        int blank = 1;
        for (const char *s = r->reason; *s; s++)
            if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
                blank = 0;
        if (blank) {
            perr(c, reason, w, KK_E_RANGE,
                 "found a blank reason; a relaxed rule needs a written reason");
            goto fail;
        }
    }
    return KK_OK;
fail:
    return c->err ? c->err->code : KK_E_FORMAT;
}

kk_code kk_preset_gate_parse(const char *file, const kk_yaml_node *g, kk_preset *p,
                             kk_err *err)
{
    const pctx cc = {file, err}, *c = &cc;
    static const char *const keys[] = {"baseline", "min_samples", "restore_min_mass",
                                       "thresholds", "controls", "relax", NULL};
    static const char *const ckeys[] = {"positive", "negative", NULL};
    char w[KK_ERR_WHERE_MAX];
    KK_TRY(need_map(c, g, "gate"));
    KK_TRY(check_keys(c, g, "gate", keys,
                      "baseline, min_samples, restore_min_mass, thresholds, controls, "
                      "relax"));
    const kk_yaml_node *v;
    if ((v = kk_yaml_get(g, "baseline")) != NULL)
        KK_TRY(get_name(c, v, "gate.baseline", &p->baseline));
    if ((v = kk_yaml_get(g, "min_samples")) != NULL)
        KK_TRY(parse_min_samples(c, v, p));
    if ((v = kk_yaml_get(g, "restore_min_mass")) != NULL) {
        char *lit = NULL;
        KK_TRY(get_number(c, v, "gate.restore_min_mass", &lit));
        const double m = strtod(lit, NULL);
        free(lit);
        if (!(m >= 0.0 && m <= 1.0))
            return perr(c, v, "gate.restore_min_mass", KK_E_RANGE,
                        "expected a number in [0, 1], found %s", v->str);
        p->restore_min_mass = m;
        p->has_restore_min_mass = 1;
        p->restore_min_mass_line = v->line;
        p->restore_min_mass_col = v->col;
    }
    if ((v = kk_yaml_get(g, "thresholds")) != NULL) {
        KK_TRY(need_seq(c, v, "gate.thresholds"));
        p->thresholds = calloc(v->n ? v->n : 1, sizeof *p->thresholds);
        if (!p->thresholds)
            return perr(c, v, "gate.thresholds", KK_E_NOMEM, "out of memory");
        for (size_t i = 0; i < v->n; i++) {
            snprintf(w, sizeof w, "gate.thresholds[%zu]", i);
            KK_TRY(parse_cond(c, v->vals[i], w, &p->thresholds[i]));
            p->n_thresholds++;
        }
    }
    if ((v = kk_yaml_get(g, "controls")) != NULL) {
        KK_TRY(need_map(c, v, "gate.controls"));
        KK_TRY(check_keys(c, v, "gate.controls", ckeys, "positive, negative"));
        const kk_yaml_node *x;
        if ((x = kk_yaml_get(v, "positive")) != NULL) {
            KK_TRY(parse_cond(c, x, "gate.controls.positive", &p->positive));
            p->has_positive = 1;
        }
        if ((x = kk_yaml_get(v, "negative")) != NULL) {
            /* one condition, or a list of them */
            const int list = x->kind == KK_YAML_SEQ;
            const size_t n = list ? x->n : 1;
            if (list && n == 0)
                return perr(c, x, "gate.controls.negative", KK_E_RANGE,
                            "expected a condition or a non-empty list of them, found []");
            p->negative = calloc(n, sizeof *p->negative);
            if (!p->negative)
                return perr(c, x, "gate.controls.negative", KK_E_NOMEM, "out of memory");
            for (size_t i = 0; i < n; i++) {
                if (list)
                    snprintf(w, sizeof w, "gate.controls.negative[%zu]", i);
                else
                    snprintf(w, sizeof w, "gate.controls.negative");
                KK_TRY(parse_cond(c, list ? x->vals[i] : x, w, &p->negative[i]));
                p->n_negative++;
            }
            p->has_negative = 1;
        }
    }
    if ((v = kk_yaml_get(g, "relax")) != NULL)
        KK_TRY(parse_relax(c, v, p));
    return KK_OK;
fail:
    return c->err ? c->err->code : KK_E_FORMAT;
}

const kk_preset_relax *kk_preset_relax_find(const kk_preset *p, const char *rule)
{
    for (size_t i = 0; i < p->n_relax; i++)
        if (strcmp(p->relax[i].rule, rule) == 0)
            return &p->relax[i];
    return NULL;
}

/* ---- rule codes ------------------------------------------------------------- */

/* In the order of the gate's rule table (gate/gate_rules.c), which holds
 * each rule's reason and check. */
static const kk_preset_rule_code RULE_CODES[] = {
    {"LEGACY_SCHEMA", 0},
    {"LIVENESS", 1},
    {"SILENT_FALLBACK", 1},
    {"SELF_COMPARISON", 1},
    {"MIN_SAMPLES", 1},
    {"PREFILL_DOMINATED", 1},
    {"TIMING_SCOPE_MISMATCH", 1},
    {"NOISY", 1},
    {"MEMORY_CLAIM_MISMATCH", 1},
    {"DEGENERATE_OUTPUT", 1},
    {"DIRTY_TREE", 0},
    {"INCONSISTENT", 0},
    {"CONTROLS_MISSING", 0},
    {"KV_UNBOUNDED", 1},
    {"RESTORE_UNUSED", 1},
    {"EXACT_PATH", 0},
    {"LOSSLESS", 0},
};

size_t kk_preset_rule_count(void)
{
    return sizeof RULE_CODES / sizeof RULE_CODES[0];
}

const kk_preset_rule_code *kk_preset_rule_at(size_t i)
{
    return i < kk_preset_rule_count() ? &RULE_CODES[i] : NULL;
}

const kk_preset_rule_code *kk_preset_rule_find(const char *code)
{
    for (size_t i = 0; i < kk_preset_rule_count(); i++)
        if (strcmp(RULE_CODES[i].code, code) == 0)
            return &RULE_CODES[i];
    return NULL;
}
