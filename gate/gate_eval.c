/* gate_eval: see gate_eval.h. */
#include "gate_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate_check.h"
#include "gate_dec.h"

#define TXT 512

long gate_eval_find_arm(const json_value *root, const char *name)
{
    const json_value *arms = json_obj_get(root, "arms");
    if (!arms || arms->type != JSON_ARRAY)
        return -1;
    size_t nl = strlen(name);
    for (size_t i = 0; i < arms->u.arr.n; i++) {
        const json_value *nm = json_obj_get(arms->u.arr.items[i], "name");
        if (nm && nm->type == JSON_STRING && nm->u.str.len == nl &&
            memcmp(nm->u.str.s, name, nl) == 0)
            return (long)i;
    }
    return -1;
}

/* "a, b, c" (the arms present), for the message of a missing arm. */
static void arm_names(const json_value *root, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    const json_value *arms = json_obj_get(root, "arms");
    for (size_t i = 0; arms && arms->type == JSON_ARRAY && i < arms->u.arr.n; i++) {
        const json_value *nm = json_obj_get(arms->u.arr.items[i], "name");
        if (!nm || nm->type != JSON_STRING)
            continue;
        int w = snprintf(buf + at, cap - at, "%s%.*s", at ? ", " : "",
                         (int)(nm->u.str.len > 40 ? 40 : nm->u.str.len), nm->u.str.s);
        if (w < 0 || (size_t)w >= cap - at) {
            if (cap > 4)
                memcpy(buf + cap - 4, "...", 4);
            return;
        }
        at += (size_t)w;
    }
}

typedef struct operand {
    const json_value *v;  /* the number */
    char ptr[TXT];        /* its JSON pointer */
    char label[320];      /* "q8_0.recall" (names are at most 128 bytes) */
} operand;

/* Resolves arm `arm`'s metric path (with the _ci_lo/_ci_hi suffix of the
 * form) into o. @return 1 found (a number), 0 after reporting the failure. */
static int resolve(const char *file, const json_value *root, const char *arm,
                   const char *metric, kk_preset_form form, gate_role role,
                   const char *id, const char *where, gate_report *rep,
                   operand *o)
{
    (void)role;
    long ai = gate_eval_find_arm(root, arm);
    char expected[TXT * 2], actual[TXT * 2];
    if (ai < 0) {
        char names[256];
        arm_names(root, names, sizeof names);
        snprintf(expected, sizeof expected, "an arm named \"%s\" (%s)", arm, where);
        snprintf(actual, sizeof actual, "no such arm; the evidence has: %s",
                 names[0] ? names : "no arms");
        gate_report_add(rep, file, GATE_FAIL, 1, id, "/arms", expected, actual,
                        role == GATE_ROLE_THRESHOLD
                            ? "a threshold on a missing arm fails"
                            : "a declared control whose arm is missing fails: "
                              "a path that cannot fail proves nothing");
        return 0;
    }
    const json_value *cur = json_obj_get(root, "arms")->u.arr.items[ai];
    snprintf(o->ptr, sizeof o->ptr, "/arms/%ld", ai);
    /* A bare name is a key of `metrics`; a dotted one is a path from the arm. */
    char path[300];
    snprintf(path, sizeof path, "%s%s%s", strchr(metric, '.') ? "" : "metrics.",
             metric,
             form == KK_PRESET_FORM_CI_LO ? "_ci_lo" : form == KK_PRESET_FORM_CI_HI ? "_ci_hi" : "");
    snprintf(o->label, sizeof o->label, "%s.%s", arm,
             strncmp(path, "metrics.", 8) == 0 ? path + 8 : path);
    char *save = NULL;
    for (char *tok = strtok_r(path, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        gate_ptr_append(o->ptr, sizeof o->ptr, tok);
        const json_value *next = json_obj_get(cur, tok);
        if (!next) {
            snprintf(expected, sizeof expected, "%s present (%s)", o->label, where);
            snprintf(actual, sizeof actual, "missing: arm \"%s\" has no \"%s\"",
                     arm, tok);
            gate_report_add(rep, file, GATE_FAIL, 1, id, o->ptr, expected, actual,
                            "a condition on a missing metric fails");
            return 0;
        }
        cur = next;
    }
    if (cur->type != JSON_NUMBER) {
        static const char *const tn[] = {"null", "false", "true", "a number",
                                         "a string", "an array", "an object"};
        snprintf(expected, sizeof expected, "%s a number (%s)", o->label, where);
        snprintf(actual, sizeof actual, "%s", tn[cur->type]);
        gate_report_add(rep, file, GATE_FAIL, 1, id, o->ptr, expected, actual, NULL);
        return 0;
    }
    o->v = cur;
    return 1;
}

static int op_holds(kk_preset_op op, int c)
{
    switch (op) {
    case KK_PRESET_OP_GE: return c >= 0;
    case KK_PRESET_OP_LE: return c <= 0;
    case KK_PRESET_OP_GT: return c > 0;
    case KK_PRESET_OP_LT: return c < 0;
    case KK_PRESET_OP_EQ: return c == 0;
    }
    return 0;
}

static int cmp_double(double a, double b)
{
    return (a > b) - (a < b);
}

/* Shortest "%.Ng" that reads back as d (numbers that do not lie). */
static void fmt_double(double d, char *buf, size_t cap)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static void lit(const json_value *v, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.*s", (int)(v->u.num.len > 60 ? 60 : v->u.num.len),
             v->u.num.text);
}

void gate_eval_cond(const char *file, const json_value *root,
                    const kk_preset *preset, const kk_preset_cond *cond,
                    gate_role role, const char *id, const char *where,
                    gate_report *rep)
{
    char loc[TXT];
    snprintf(loc, sizeof loc, "%s at %s:%d:%d", where, preset->file, cond->line,
             cond->col);
    operand a, b;
    memset(&b, 0, sizeof b);
    if (!resolve(file, root, cond->arm, cond->metric, cond->form, role, id, loc,
                 rep, &a))
        return;
    if ((cond->form == KK_PRESET_FORM_DELTA || cond->form == KK_PRESET_FORM_RATIO) &&
        !resolve(file, root, cond->other, cond->metric, KK_PRESET_FORM_VALUE, role,
                 id, loc, rep, &b))
        return;

    gate_dec da = {0}, db = {0}, dt = {0}, dr = {0};
    int exact = gate_dec_parse(a.v->u.num.text, a.v->u.num.len, &da) == 0 &&
                gate_dec_parse(cond->value, strlen(cond->value), &dt) == 0;
    if (b.v)
        exact = exact && gate_dec_parse(b.v->u.num.text, b.v->u.num.len, &db) == 0;
    double x = a.v->u.num.d, y = b.v ? b.v->u.num.d : 0.0, t = strtod(cond->value, NULL);
    char expected[TXT * 2], actual[TXT * 2], sa[80], sb[80], sr[96];
    lit(a.v, sa, sizeof sa);
    if (b.v)
        lit(b.v, sb, sizeof sb);
    const char *op = kk_preset_op_text(cond->op);
    int c = 0, ok = 1;
    switch (cond->form) {
    case KK_PRESET_FORM_VALUE:
    case KK_PRESET_FORM_CI_LO:
    case KK_PRESET_FORM_CI_HI:
        snprintf(expected, sizeof expected, "%s %s %s", a.label, op, cond->value);
        c = exact ? gate_dec_cmp(&da, &dt) : cmp_double(x, t);
        snprintf(actual, sizeof actual, "%s", sa);
        break;
    case KK_PRESET_FORM_DELTA:
        snprintf(expected, sizeof expected, "%s - %s %s %s", a.label, b.label, op,
                 cond->value);
        if (exact && gate_dec_sub(&da, &db, &dr) == 0) {
            c = gate_dec_cmp(&dr, &dt);
            gate_dec_format(&dr, sr, sizeof sr);
        } else {
            exact = 0;
            c = cmp_double(x - y, t);
            fmt_double(x - y, sr, sizeof sr);
        }
        snprintf(actual, sizeof actual, "%s (%s - %s)", sr, sa, sb);
        break;
    case KK_PRESET_FORM_RATIO:
        snprintf(expected, sizeof expected, "%s / %s %s %s", a.label, b.label, op,
                 cond->value);
        if (y == 0.0 && (!exact || gate_dec_is_zero(&db))) {
            snprintf(actual, sizeof actual, "undefined: %s is 0 (%s / %s)", b.label,
                     sa, sb);
            ok = 0;
            break;
        }
        fmt_double(x / y, sr, sizeof sr);
        /* a/b OP t  <=>  a OP t*b when b > 0, reversed when b < 0. */
        if (exact && gate_dec_mul(&dt, &db, &dr) == 0) {
            c = gate_dec_cmp(&da, &dr);
            if (db.neg)
                c = -c;
        } else {
            exact = 0;
            c = cmp_double(x / y, t);
        }
        snprintf(actual, sizeof actual, "%s (%s / %s)", sr, sa, sb);
        break;
    }
    gate_dec_free(&da);
    gate_dec_free(&db);
    gate_dec_free(&dt);
    gate_dec_free(&dr);
    int holds = ok && op_holds(cond->op, c);

    char note[TXT * 2];
    snprintf(note, sizeof note, "%s%s%s%s", loc,
             exact ? "" : "; compared in double precision (numbers too long "
                          "for exact decimals)",
             cond->note ? "; " : "", cond->note ? cond->note : "");
    if (role == GATE_ROLE_NEGATIVE && !holds) {
        char n2[TXT * 2 + 128];
        snprintf(n2, sizeof n2, "the negative control did not lose: evidence "
                 "rejected, a path that cannot fail proves nothing; %s", note);
        gate_report_add(rep, file, GATE_FAIL, 1, id, a.ptr, expected, actual, n2);
        return;
    }
    gate_report_add(rep, file, holds ? GATE_PASS : GATE_FAIL, 1, id, a.ptr,
                    expected, actual, note);
}
