/* rule_util: claims and message helpers shared by the evidence rules (see
 * rule_internal.h). */
#include "rule_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate_eval.h"

/* ---- documents -------------------------------------------------------------- */

const json_value *gate_arm_at(const json_value *root, long i)
{
    const json_value *arms = json_obj_get(root, "arms");
    if (i < 0 || !arms || arms->type != JSON_ARRAY || (size_t)i >= arms->u.arr.n)
        return NULL;
    return arms->u.arr.items[i];
}

const char *gate_arm_name(const json_value *arm)
{
    const json_value *n = json_obj_get(arm, "name");
    return n && n->type == JSON_STRING ? n->u.str.s : "";
}

const json_value *gate_json_path(const json_value *obj, const char *path)
{
    const json_value *cur = obj;
    const char *s = path;
    while (cur && *s) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        cur = json_obj_getn(cur, s, len);
        s += len;
        if (*s == '.')
            s++;
    }
    return cur;
}

double gate_json_num(const json_value *obj, const char *key, int *ok)
{
    const json_value *v = json_obj_get(obj, key);
    *ok = v && v->type == JSON_NUMBER;
    return *ok ? v->u.num.d : 0.0;
}

/* The value a claim's metric names on one arm: a bare name is a key of
 * `metrics`, a dotted one a path from the arm (as gate_eval resolves it). */
static const json_value *metric_value(const json_value *arm, const char *metric,
                                      kk_preset_form form)
{
    if (!arm)
        return NULL;
    char path[320];
    snprintf(path, sizeof path, "%s%s%s", strchr(metric, '.') ? "" : "metrics.",
             metric,
             form == KK_PRESET_FORM_CI_LO ? "_ci_lo" : form == KK_PRESET_FORM_CI_HI ? "_ci_hi" : "");
    const json_value *v = gate_json_path(arm, path);
    return v && v->type == JSON_NUMBER ? v : NULL;
}

/* ---- metric kinds ------------------------------------------------------------ */

const char *gate_metric_leaf(const char *metric)
{
    const char *dot = strrchr(metric, '.');
    return dot ? dot + 1 : metric;
}

int gate_metric_is_timing(const char *metric)
{
    return strncmp(metric, "timings.", 8) == 0;
}

int gate_metric_is_recall(const char *metric)
{
    const char *m = strncmp(metric, "metrics.", 8) == 0 ? metric + 8 : metric;
    return strchr(m, '.') == NULL && strncmp(m, "recall", 6) == 0;
}

int gate_metric_is_memory(const char *metric)
{
    const char *leaf = gate_metric_leaf(metric);
    return strcmp(leaf, "bits_per_value") == 0 || strstr(leaf, "bytes") != NULL;
}

int gate_claim_is_comparison(const gate_claim *c)
{
    return c->other != NULL;
}

/* ---- claims ------------------------------------------------------------------ */

static gate_claim *claims_push(gate_claims *c, size_t *cap)
{
    if (c->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        gate_claim *nv = realloc(c->v, nc * sizeof *nv);
        if (!nv)
            return NULL;
        c->v = nv;
        *cap = nc;
    }
    gate_claim *k = &c->v[c->n++];
    memset(k, 0, sizeof *k);
    return k;
}

static void claim_resolve(const json_value *root, gate_claim *k)
{
    k->ai = gate_eval_find_arm(root, k->arm);
    k->bi = k->other ? gate_eval_find_arm(root, k->other) : -1;
    k->va = metric_value(gate_arm_at(root, k->ai), k->metric, k->form);
    k->vb = k->other ? metric_value(gate_arm_at(root, k->bi), k->metric,
                                    KK_PRESET_FORM_VALUE)
                     : NULL;
}

static int add_cond(const json_value *root, const kk_preset *p,
                    const kk_preset_cond *cond, gate_claim_src src, const char *id,
                    const char *where, gate_claims *out, size_t *cap)
{
    gate_claim *k = claims_push(out, cap);
    if (!k)
        return -1;
    k->src = src;
    snprintf(k->id, sizeof k->id, "%s", id);
    snprintf(k->where, sizeof k->where, "%s at %.200s:%d:%d", where, p->file,
             cond->line, cond->col);
    k->arm = cond->arm;
    k->other = cond->form == KK_PRESET_FORM_DELTA || cond->form == KK_PRESET_FORM_RATIO
                   ? cond->other
                   : NULL;
    k->metric = cond->metric;
    k->form = cond->form;
    k->op = cond->op;
    k->value = cond->value;
    claim_resolve(root, k);
    return 0;
}

int gate_claims_collect(const json_value *root, const kk_preset *p,
                        gate_claims *out)
{
    size_t cap = 0;
    out->v = NULL;
    out->n = 0;
    for (size_t i = 0; p && i < p->n_thresholds; i++) {
        char id[48], where[64];
        snprintf(id, sizeof id, "THRESHOLD[%zu]", i);
        snprintf(where, sizeof where, "gate.thresholds[%zu]", i);
        if (add_cond(root, p, &p->thresholds[i], GATE_CLAIM_THRESHOLD, id, where,
                     out, &cap) != 0)
            goto nomem;
    }
    if (p && p->has_positive &&
        add_cond(root, p, &p->positive, GATE_CLAIM_CONTROL, "CONTROL_POSITIVE",
                 "gate.controls.positive", out, &cap) != 0)
        goto nomem;
    for (size_t i = 0; p && i < p->n_negative; i++) {
        char w[48];
        if (p->n_negative > 1)
            snprintf(w, sizeof w, "gate.controls.negative[%zu]", i);
        else
            snprintf(w, sizeof w, "gate.controls.negative");
        if (add_cond(root, p, &p->negative[i], GATE_CLAIM_CONTROL, "CONTROL_NEGATIVE", w, out,
                     &cap) != 0)
            goto nomem;
    }
    /* summary.claims: the schema types them; entries that are not complete
     * objects are skipped rather than trusted. */
    const json_value *sc = json_obj_get(json_obj_get(root, "summary"), "claims");
    for (size_t i = 0; sc && sc->type == JSON_ARRAY && i < sc->u.arr.n; i++) {
        const json_value *e = sc->u.arr.items[i];
        const json_value *arm = json_obj_get(e, "arm");
        const json_value *base = json_obj_get(e, "baseline");
        const json_value *metric = json_obj_get(e, "metric");
        const json_value *ratio = json_obj_get(e, "ratio");
        if (!arm || arm->type != JSON_STRING || !base || base->type != JSON_STRING ||
            !metric || metric->type != JSON_STRING || !ratio ||
            ratio->type != JSON_NUMBER)
            continue;
        gate_claim *k = claims_push(out, &cap);
        if (!k)
            goto nomem;
        k->src = GATE_CLAIM_SUMMARY;
        snprintf(k->id, sizeof k->id, "summary.claims[%zu]", i);
        snprintf(k->where, sizeof k->where, "/summary/claims/%zu", i);
        k->arm = arm->u.str.s;
        k->other = base->u.str.s;
        k->metric = metric->u.str.s;
        k->form = KK_PRESET_FORM_RATIO;
        k->stated = ratio;
        claim_resolve(root, k);
    }
    return 0;
nomem:
    gate_claims_free(out);
    return -1;
}

void gate_claims_free(gate_claims *c)
{
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

/* ---- messages ---------------------------------------------------------------- */

void gate_fmt_num(double d, char *buf, size_t cap)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

void gate_fmt_lit(const json_value *v, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.*s", (int)(v->u.num.len > 60 ? 60 : v->u.num.len),
             v->u.num.text);
}

void gate_fmt_quoted(const char *s, size_t len, size_t max, char *buf, size_t cap)
{
    size_t at = 0;
    if (cap < 16) {
        if (cap)
            buf[0] = '\0';
        return;
    }
    buf[at++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        /* Cut only before a character's first byte, so the text stays UTF-8;
         * 12 bytes leave room for an escape or a character's tail, the
         * ellipsis, the quote and the NUL. */
        if ((c & 0xc0) != 0x80 && (i >= max || at + 12 >= cap)) {
            memcpy(buf + at, "...", 3);
            at += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            buf[at++] = '\\';
            buf[at++] = (char)c;
        } else if (c == '\n') {
            buf[at++] = '\\';
            buf[at++] = 'n';
        } else if (c == '\t') {
            buf[at++] = '\\';
            buf[at++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            at += (size_t)snprintf(buf + at, cap - at, "\\u%04x", c);
        } else {
            buf[at++] = (char)c;
        }
    }
    buf[at++] = '"';
    buf[at] = '\0';
}

void gate_rule_fail(const gate_rule_ctx *ctx, gate_report *rep, const char *code,
                    const char *pointer, const char *expected, const char *actual,
                    const char *reason, const char *context)
{
    char note[GATE_RULE_TXT * 2];
    snprintf(note, sizeof note, "%s%s%s", reason, context && context[0] ? "; " : "",
             context ? context : "");
    gate_report_add(rep, ctx->file, GATE_FAIL, 1, code, pointer, expected, actual,
                    note);
}

int gate_config_runs(const json_value *v)
{
    if (!v || v->type == JSON_NULL || v->type == JSON_FALSE)
        return 0;
    if (v->type == JSON_NUMBER)
        return json_num_cmp_double(v, 0.0) != 0;
    if (v->type == JSON_STRING)
        return v->u.str.len != 0 && strcmp(v->u.str.s, "none") != 0 &&
               strcmp(v->u.str.s, "off") != 0;
    return 1;
}
