/* gate_preset: see gate_preset.h (the grammar is there and in docs/gate.md). */
#include "gate_preset.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate_dec.h"
#include "gate_rules.h"
#include "gate_yaml.h"
#include "sha256.h"

#define NAME_MAX_LEN 128   /* arm, metric, preset names */
#define REASON_MAX_LEN 1000

typedef struct pctx {
    const char *file;
    kk_err *err;
} pctx;

/* ---- errors ----------------------------------------------------------------- */

static kk_code perr(const pctx *c, const gate_yaml_node *n, const char *where,
                    kk_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static kk_code perr(const pctx *c, const gate_yaml_node *n, const char *where,
                    kk_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gate_yaml_verr(c->err, c->file, n, where, code, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- scalar typing ---------------------------------------------------------- */

typedef enum sclass {
    SC_STRING = 0,
    SC_NULL,
    SC_BOOL,
    SC_NUMBER,       /* JSON number form */
    SC_OTHER_NUMBER  /* YAML-only forms: +1, .5, 1_000, 0x1f, .inf */
} sclass;

static int is_json_number(const char *s, size_t len)
{
    gate_dec d;
    if (gate_dec_parse(s, len, &d) != 0)
        return 0;
    gate_dec_free(&d);
    return 1;
}

static int eq_any(const char *s, size_t len, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == len && memcmp(s, *words, len) == 0)
            return 1;
    return 0;
}

/* How an unquoted scalar would be read by YAML 1.1 or 1.2 resolvers: such a
 * value is never silently taken as text (PyYAML reads `yes` as true). */
static sclass classify(const gate_yaml_node *n)
{
    if (!n->plain)
        return SC_STRING;
    const char *s = n->str;
    size_t len = n->len;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const bools[] = {"true", "True", "TRUE", "false", "False",
                                        "FALSE", "yes", "Yes", "YES", "no", "No",
                                        "NO", "on", "On", "ON", "off", "Off",
                                        "OFF", NULL};
    static const char *const specials[] = {".inf", ".Inf", ".INF", ".nan", ".NaN",
                                           ".NAN", NULL};
    if (eq_any(s, len, nulls))
        return SC_NULL;
    if (eq_any(s, len, bools))
        return SC_BOOL;
    if (is_json_number(s, len))
        return SC_NUMBER;
    size_t i = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    if (eq_any(s + i, len - i, specials))
        return SC_OTHER_NUMBER;
    if (len - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b'))
        return SC_OTHER_NUMBER;
    int digits = 0, dots = 0;
    for (; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits++;
        else if (s[i] == '.')
            dots++;
        else if (s[i] == '_')
            continue;
        else
            break;
    }
    if (digits && dots <= 1 && i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e0 = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == e0)
            return SC_STRING;
    }
    return digits && dots <= 1 && i == len ? SC_OTHER_NUMBER : SC_STRING;
}

static const char *class_name(sclass k)
{
    switch (k) {
    case SC_NULL: return "null";
    case SC_BOOL: return "a boolean";
    case SC_NUMBER: return "a number";
    case SC_OTHER_NUMBER: return "a number";
    default: return "a string";
    }
}

/* "string \"abc\"", "a map", "a list": what was found, for messages. */
static void found(const gate_yaml_node *n, char *buf, size_t cap)
{
    if (n->kind == GATE_YAML_MAP) {
        snprintf(buf, cap, "a map");
        return;
    }
    if (n->kind == GATE_YAML_SEQ) {
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
    snprintf(buf, cap, "%s \"%s\"%s", class_name(classify(n)), shown,
             n->len > k ? "..." : "");
}

static kk_code get_string(const pctx *c, const gate_yaml_node *n,
                          const char *where, size_t max_len, char **out)
{
    char f[128];
    found(n, f, sizeof f);
    if (n->kind != GATE_YAML_SCALAR)
        return perr(c, n, where, KK_E_TYPE, "expected a string, found %s", f);
    sclass k = classify(n);
    if (k != SC_STRING)
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
static kk_code get_name(const pctx *c, const gate_yaml_node *n,
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

static kk_code get_number(const pctx *c, const gate_yaml_node *n,
                          const char *where, char **out)
{
    char f[128];
    found(n, f, sizeof f);
    if (n->kind != GATE_YAML_SCALAR || classify(n) != SC_NUMBER) {
        const char *hint = n->kind == GATE_YAML_SCALAR && classify(n) == SC_OTHER_NUMBER
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

static kk_code get_int(const pctx *c, const gate_yaml_node *n,
                       const char *where, int64_t min, int64_t max,
                       int64_t *out)
{
    char f[128];
    found(n, f, sizeof f);
    int ok = n->kind == GATE_YAML_SCALAR && classify(n) == SC_NUMBER &&
             n->len <= 18;
    for (size_t i = 0; ok && i < n->len; i++)
        ok = (n->str[i] >= '0' && n->str[i] <= '9') || (i == 0 && n->str[i] == '-');
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
static kk_code check_keys(const pctx *c, const gate_yaml_node *map,
                          const char *where, const char *const *allowed,
                          const char *allowed_text)
{
    for (size_t i = 0; i < map->n; i++) {
        const gate_yaml_node *k = map->keys[i];
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

static kk_code need_map(const pctx *c, const gate_yaml_node *n,
                        const char *where)
{
    if (n->kind == GATE_YAML_MAP)
        return KK_OK;
    char f[128];
    found(n, f, sizeof f);
    return perr(c, n, where, KK_E_TYPE, "expected a map, found %s", f);
}

static kk_code need_seq(const pctx *c, const gate_yaml_node *n,
                        const char *where)
{
    if (n->kind == GATE_YAML_SEQ)
        return KK_OK;
    char f[128];
    found(n, f, sizeof f);
    return perr(c, n, where, KK_E_TYPE, "expected a list, found %s", f);
}

/* ---- conditions ----------------------------------------------------------- */

const char *gate_op_text(gate_op op)
{
    static const char *const t[] = {">=", "<=", ">", "<", "=="};
    return (unsigned)op < 5 ? t[op] : "?";
}

static void cond_free(gate_cond *d)
{
    free(d->arm);
    free(d->metric);
    free(d->other);
    free(d->note);
    free(d->value);
    memset(d, 0, sizeof *d);
}

static kk_code parse_cond(const pctx *c, const gate_yaml_node *n,
                          const char *where, gate_cond *d)
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
        if (!gate_yaml_get(n, required[i])) {
            perr(c, n, where, KK_E_MISSING,
                 "missing key '%s' in %s; required: arm, metric, op, value",
                 required[i], where);
            goto fail;
        }
    snprintf(w, sizeof w, "%s.arm", where);
    KK_TRY(get_name(c, gate_yaml_get(n, "arm"), w, &d->arm));
    snprintf(w, sizeof w, "%s.metric", where);
    KK_TRY(get_name(c, gate_yaml_get(n, "metric"), w, &d->metric));
    const char *dot = strchr(d->metric, '.');
    if (dot) {
        size_t k = (size_t)(dot - d->metric);
        if (!((k == 7 && memcmp(d->metric, "metrics", 7) == 0) ||
              (k == 7 && memcmp(d->metric, "timings", 7) == 0) ||
              (k == 7 && memcmp(d->metric, "signals", 7) == 0)) ||
            dot[1] == '\0' || d->metric[strlen(d->metric) - 1] == '.' ||
            strstr(d->metric, "..")) {
            perr(c, gate_yaml_get(n, "metric"), w, KK_E_RANGE,
                 "found \"%s\"; allowed: a key of the arm's metrics (recall) or "
                 "a dotted path starting metrics., timings. or signals.",
                 d->metric);
            goto fail;
        }
    }
    snprintf(w, sizeof w, "%s.op", where);
    const gate_yaml_node *op = gate_yaml_get(n, "op");
    char *ops = NULL;
    KK_TRY(get_string(c, op, w, 8, &ops));
    int found_op = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(ops, gate_op_text((gate_op)i)) == 0)
            found_op = i;
    if (found_op < 0) {
        perr(c, op, w, KK_E_RANGE, "found \"%s\"; allowed: >=, <=, >, <, ==", ops);
        free(ops);
        goto fail;
    }
    free(ops);
    d->op = (gate_op)found_op;
    snprintf(w, sizeof w, "%s.value", where);
    KK_TRY(get_number(c, gate_yaml_get(n, "value"), w, &d->value));

    const gate_yaml_node *dt = gate_yaml_get(n, "delta_to");
    const gate_yaml_node *rt = gate_yaml_get(n, "ratio_to");
    const gate_yaml_node *ci = gate_yaml_get(n, "ci");
    if ((dt != NULL) + (rt != NULL) + (ci != NULL) > 1) {
        perr(c, n, where, KK_E_RANGE,
             "found more than one of delta_to, ratio_to, ci in %s; allowed: "
             "at most one", where);
        goto fail;
    }
    d->form = GATE_FORM_VALUE;
    if (dt) {
        snprintf(w, sizeof w, "%s.delta_to", where);
        KK_TRY(get_name(c, dt, w, &d->other));
        d->form = GATE_FORM_DELTA;
    } else if (rt) {
        snprintf(w, sizeof w, "%s.ratio_to", where);
        KK_TRY(get_name(c, rt, w, &d->other));
        d->form = GATE_FORM_RATIO;
    } else if (ci) {
        snprintf(w, sizeof w, "%s.ci", where);
        char *s = NULL;
        KK_TRY(get_string(c, ci, w, 16, &s));
        if (strcmp(s, "lo95") == 0)
            d->form = GATE_FORM_CI_LO;
        else if (strcmp(s, "hi95") == 0)
            d->form = GATE_FORM_CI_HI;
        else {
            perr(c, ci, w, KK_E_RANGE, "found \"%s\"; allowed: lo95, hi95", s);
            free(s);
            goto fail;
        }
        free(s);
    }
    const gate_yaml_node *note = gate_yaml_get(n, "note");
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

void gate_preset_free(gate_preset *p)
{
    if (!p)
        return;
    free(p->file);
    free(p->name);
    free(p->kind);
    free(p->baseline);
    for (size_t i = 0; i < p->n_thresholds; i++)
        cond_free(&p->thresholds[i]);
    free(p->thresholds);
    if (p->has_positive)
        cond_free(&p->positive);
    if (p->has_negative)
        cond_free(&p->negative);
    for (size_t i = 0; i < p->n_relax; i++) {
        free(p->relax[i].rule);
        free(p->relax[i].reason);
    }
    free(p->relax);
    free(p);
}

static kk_code parse_min_samples(const pctx *c, const gate_yaml_node *n,
                                 gate_preset *p)
{
    static const char *const keys[] = {"recall", "timing", NULL};
    KK_TRY(need_map(c, n, "gate.min_samples"));
    KK_TRY(check_keys(c, n, "gate.min_samples", keys, "recall, timing"));
    const gate_yaml_node *v;
    if ((v = gate_yaml_get(n, "recall")) != NULL)
        KK_TRY(get_int(c, v, "gate.min_samples.recall", 1, 1000000,
                       &p->min_samples_recall));
    if ((v = gate_yaml_get(n, "timing")) != NULL)
        KK_TRY(get_int(c, v, "gate.min_samples.timing", 1, 1000000,
                       &p->min_samples_timing));
    return KK_OK;
fail:
    return c->err ? c->err->code : KK_E_FORMAT;
}

static kk_code parse_relax(const pctx *c, const gate_yaml_node *n,
                           gate_preset *p)
{
    static const char *const keys[] = {"rule", "reason", NULL};
    char w[KK_ERR_WHERE_MAX], wi[64];
    KK_TRY(need_seq(c, n, "gate.relax"));
    p->relax = calloc(n->n ? n->n : 1, sizeof *p->relax);
    if (!p->relax)
        return perr(c, n, "gate.relax", KK_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        const gate_yaml_node *e = n->vals[i];
        snprintf(wi, sizeof wi, "gate.relax[%zu]", i);
        KK_TRY(need_map(c, e, wi));
        KK_TRY(check_keys(c, e, wi, keys, "rule, reason"));
        const gate_yaml_node *rule = gate_yaml_get(e, "rule");
        const gate_yaml_node *reason = gate_yaml_get(e, "reason");
        if (!rule || !reason) {
            perr(c, e, wi, KK_E_MISSING,
                 "missing key '%s' in %s; a rule is relaxed only with a "
                 "written reason (required: rule, reason)",
                 rule ? "reason" : "rule", wi);
            goto fail;
        }
        gate_relax *r = &p->relax[p->n_relax++];
        r->line = e->line;
        r->col = e->col;
        snprintf(w, sizeof w, "%s.rule", wi);
        KK_TRY(get_string(c, rule, w, NAME_MAX_LEN, &r->rule));
        const gate_rule *gr = gate_rules_find(r->rule);
        if (!gr || !gr->relaxable) {
            char codes[512];
            size_t at = 0;
            codes[0] = '\0';
            for (size_t k = 0; k < gate_rules_count(); k++) {
                const gate_rule *x = gate_rules_at(k);
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

static kk_code parse_gate(const pctx *c, const gate_yaml_node *g, gate_preset *p)
{
    static const char *const keys[] = {"baseline", "min_samples", "thresholds",
                                       "controls", "relax", NULL};
    static const char *const ckeys[] = {"positive", "negative", NULL};
    char w[KK_ERR_WHERE_MAX];
    KK_TRY(need_map(c, g, "gate"));
    KK_TRY(check_keys(c, g, "gate", keys,
                      "baseline, min_samples, thresholds, controls, relax"));
    const gate_yaml_node *v;
    if ((v = gate_yaml_get(g, "baseline")) != NULL)
        KK_TRY(get_name(c, v, "gate.baseline", &p->baseline));
    if ((v = gate_yaml_get(g, "min_samples")) != NULL)
        KK_TRY(parse_min_samples(c, v, p));
    if ((v = gate_yaml_get(g, "thresholds")) != NULL) {
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
    if ((v = gate_yaml_get(g, "controls")) != NULL) {
        KK_TRY(need_map(c, v, "gate.controls"));
        KK_TRY(check_keys(c, v, "gate.controls", ckeys, "positive, negative"));
        const gate_yaml_node *x;
        if ((x = gate_yaml_get(v, "positive")) != NULL) {
            KK_TRY(parse_cond(c, x, "gate.controls.positive", &p->positive));
            p->has_positive = 1;
        }
        if ((x = gate_yaml_get(v, "negative")) != NULL) {
            KK_TRY(parse_cond(c, x, "gate.controls.negative", &p->negative));
            p->has_negative = 1;
        }
    }
    if ((v = gate_yaml_get(g, "relax")) != NULL)
        KK_TRY(parse_relax(c, v, p));
    return KK_OK;
fail:
    return c->err ? c->err->code : KK_E_FORMAT;
}

kk_code gate_preset_parse(const char *buf, size_t len, const char *file,
                          const char *expect_name, gate_preset **out,
                          kk_err *err)
{
    *out = NULL;
    pctx c = {file, err};
    gate_yaml_doc *doc = NULL;
    kk_code rc = gate_yaml_parse(buf, len, file, &doc, err);
    if (rc != KK_OK)
        return rc;
    gate_preset *p = calloc(1, sizeof *p);
    if (!p) {
        gate_yaml_doc_free(doc);
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    }
    p->min_samples_recall = GATE_MIN_SAMPLES_RECALL_DEFAULT;
    p->min_samples_timing = GATE_MIN_SAMPLES_TIMING_DEFAULT;
    p->file = strdup(file ? file : "");
    sha256_hex(buf, len, p->sha256);
    const gate_yaml_node *root = doc->root;
    if (!root) {
        kk_err_set(err, KK_E_MISSING, "empty preset; required keys: name, kind, gate");
        kk_err_file(err, file ? file : "");
        goto fail;
    }
    KK_TRY(need_map(&c, root, ""));
    static const char *const required[] = {"name", "kind", "gate"};
    for (size_t i = 0; i < 3; i++)
        if (!gate_yaml_get(root, required[i])) {
            perr(&c, root, "", KK_E_MISSING,
                 "missing top-level key '%s'; the gate requires name, kind, gate",
                 required[i]);
            goto fail;
        }
    const gate_yaml_node *nm = gate_yaml_get(root, "name");
    KK_TRY(get_name(&c, nm, "name", &p->name));
    if (expect_name && strcmp(p->name, expect_name) != 0) {
        perr(&c, nm, "name", KK_E_RANGE,
             "found \"%s\"; allowed: \"%s\" (a preset's name is its file name)",
             p->name, expect_name);
        goto fail;
    }
    KK_TRY(get_name(&c, gate_yaml_get(root, "kind"), "kind", &p->kind));
    KK_TRY(parse_gate(&c, gate_yaml_get(root, "gate"), p));
    gate_yaml_doc_free(doc);
    *out = p;
    return KK_OK;
fail:
    gate_yaml_doc_free(doc);
    gate_preset_free(p);
    return err && err->code != KK_OK ? err->code : KK_E_FORMAT;
}

kk_code gate_preset_load(const char *presets_dir, const char *name,
                         gate_preset **out, kk_err *err)
{
    *out = NULL;
    int ok = name[0] != '\0' && name[0] != '.' && strlen(name) <= NAME_MAX_LEN;
    for (const char *s = name; ok && *s; s++)
        ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
             (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.' ||
             *s == '+';
    if (!ok)
        return kk_err_set(err, KK_E_RANGE,
                          "preset name \"%.64s\" is not a plain file stem "
                          "(letters, digits, _ - . +)", name);
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s.yaml", presets_dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return kk_err_set(err, KK_E_RANGE, "presets path too long");
    char *buf = NULL;
    size_t len = 0;
    kk_code rc = gate_yaml_read_file(path, &buf, &len, err);
    if (rc != KK_OK)
        return rc;
    rc = gate_preset_parse(buf, len, path, name, out, err);
    free(buf);
    return rc;
}

const gate_relax *gate_preset_relax_find(const gate_preset *p, const char *rule)
{
    for (size_t i = 0; i < p->n_relax; i++)
        if (strcmp(p->relax[i].rule, rule) == 0)
            return &p->relax[i];
    return NULL;
}
