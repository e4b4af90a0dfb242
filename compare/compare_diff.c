/* compare_diff: before/after rows, tests and regressions (see compare_diff.h). */
#include "compare_diff.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct rows {
    compare_row *r;
    size_t n, cap;
} rows;

static compare_row *add_row(rows *v, const char *arm, const char *metric, kk_err *err)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        compare_row *r = realloc(v->r, cap * sizeof *r);
        if (!r) {
            kk_err_set(err, KK_E_NOMEM, "out of memory for %zu rows", cap);
            return NULL;
        }
        v->r = r;
        v->cap = cap;
    }
    compare_row *r = &v->r[v->n++];
    memset(r, 0, sizeof *r);
    r->arm = arm;
    snprintf(r->metric, sizeof r->metric, "%s", metric);
    r->stat = r->p = r->spread_before = r->spread_after = NAN;
    return r;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* +1: higher is better, -1: lower is better, 0: no known direction. */
static int direction(const char *m)
{
    if (!strncmp(m, "timings.", 8))
        m += 8;
    if (!strncmp(m, "recall", 6) || !strcmp(m, "min_margin") || !strcmp(m, "hits") ||
        ends_with(m, "_per_s"))
        return 1;
    if (!strncmp(m, "rel_mse", 7) || !strcmp(m, "bits_per_value") ||
        !strcmp(m, "kv_bytes_resident") || ends_with(m, "_s"))
        return -1;
    return 0;
}

static void classify(compare_row *r)
{
    if (!r->has_before || !r->has_after) {
        r->change = r->has_after ? COMPARE_ADDED : COMPARE_REMOVED;
        return;
    }
    if (r->before == r->after) {
        r->change = COMPARE_SAME;
        return;
    }
    int d = direction(r->metric);
    r->change = d == 0 ? COMPARE_CHANGED
                : (r->after > r->before) == (d > 0) ? COMPARE_BETTER : COMPARE_WORSE;
}

static void fmt_num(char *b, size_t cap, double v)
{
    /* counts and bytes in full; other numbers to 6 significant digits */
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(b, cap, "%.0f", v);
    else
        snprintf(b, cap, "%.6g", v);
}

static void fmt_recall(char *b, size_t cap, const compare_arm *a)
{
    compare_point p = compare_arm_point(a, COMPARE_DIST_GAUSSIAN);
    if ((a->has & COMPARE_HAS_N) && p.lo != p.hi)
        snprintf(b, cap, "%.3f [%.3f, %.3f]", p.recall, p.lo, p.hi);
    else
        snprintf(b, cap, "%.3f", p.recall);
}

static double hits_of(const compare_arm *a)
{
    return (a->has & COMPARE_HAS_HITS) ? a->hits : round(a->recall * a->n);
}

/* The metric rows of one arm present on both sides. */
static kk_code metric_rows(rows *v, const compare_arm *a, const compare_arm *b, kk_err *err)
{
    const json_value *objs[2] = {a->metrics, b->metrics};
    for (int side = 0; side < 2; side++) {
        const json_value *o = objs[side];
        if (!o)
            continue;
        for (size_t k = 0; k < o->u.obj.n; k++) {
            const char *key = o->u.obj.members[k].key;
            if (o->u.obj.members[k].value->type != JSON_NUMBER ||
                strlen(key) != o->u.obj.members[k].key_len || ends_with(key, "_ci_lo") ||
                ends_with(key, "_ci_hi"))
                continue;
            if (side == 1 && a->metrics && json_obj_get(a->metrics, key))
                continue; /* already compared */
            const json_value *va = a->metrics ? json_obj_get(a->metrics, key) : NULL;
            const json_value *vb = b->metrics ? json_obj_get(b->metrics, key) : NULL;
            compare_row *r = add_row(v, a->name, key, err);
            if (!r)
                return KK_E_NOMEM;
            r->has_before = va && va->type == JSON_NUMBER;
            r->has_after = vb && vb->type == JSON_NUMBER;
            if (r->has_before) {
                r->before = va->u.num.d;
                fmt_num(r->before_txt, sizeof r->before_txt, r->before);
            }
            if (r->has_after) {
                r->after = vb->u.num.d;
                fmt_num(r->after_txt, sizeof r->after_txt, r->after);
            }
            classify(r);
            if (strcmp(key, "recall") != 0 || !r->has_before || !r->has_after)
                continue;
            fmt_recall(r->before_txt, sizeof r->before_txt, a);
            fmt_recall(r->after_txt, sizeof r->after_txt, b);
            if ((a->has & COMPARE_HAS_N) && (b->has & COMPARE_HAS_N) && a->n > 0 && b->n > 0) {
                r->test = COMPARE_TEST_Z2;
                r->n_before = (size_t)a->n;
                r->n_after = (size_t)b->n;
                r->p = compare_z2_test(hits_of(a), a->n, hits_of(b), b->n, &r->stat);
            }
        }
    }
    return KK_OK;
}

/* Values of repeats[k].key (or, for decode_tok_per_s, tokens_decoded /
 * decode_s) into x; @return how many repeats had one, or 0 when any did
 * not or one was not positive (a log needs it). */
static size_t repeat_values(const json_value *reps, const char *key, double *x)
{
    size_t n = 0;
    for (size_t i = 0; i < reps->u.arr.n; i++) {
        const json_value *r = reps->u.arr.items[i];
        const json_value *v = json_obj_get(r, key);
        double d = NAN;
        if (v && v->type == JSON_NUMBER) {
            d = v->u.num.d;
        } else if (!strcmp(key, "decode_tok_per_s")) {
            const json_value *t = json_obj_get(r, "tokens_decoded");
            const json_value *s = json_obj_get(r, "decode_s");
            if (t && s && t->type == JSON_NUMBER && s->type == JSON_NUMBER && s->u.num.d > 0)
                d = t->u.num.d / s->u.num.d;
        }
        if (!(d > 0) || !isfinite(d))
            return 0;
        x[n++] = log(d);
    }
    return n;
}

static double rel_sd(const double *logs, size_t n)
{
    /* sd of the logs ~ the relative sd of the values when spreads are small */
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++)
        m += logs[i] / (double)n;
    for (size_t i = 0; i < n; i++)
        s += (logs[i] - m) * (logs[i] - m);
    return sqrt(s / (double)(n - 1));
}

static double mean_exp(const double *logs, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m += logs[i] / (double)n;
    return exp(m);
}

static int tested_key(const rows *v, size_t from, const char *metric)
{
    for (size_t i = from; i < v->n; i++)
        if (!strcmp(v->r[i].metric, metric))
            return 1;
    return 0;
}

/* Timing rows of one arm: tested rates and times from the repeats, then the
 * top-level figures not tested. */
static kk_code timing_rows(rows *v, const compare_arm *a, const compare_arm *b, kk_err *err)
{
    if (!a->timings || !b->timings)
        return KK_OK;
    const json_value *ra = json_obj_get(a->timings, "repeats");
    const json_value *rb = json_obj_get(b->timings, "repeats");
    size_t first = v->n;
    char name[96];
    if (ra && rb && ra->type == JSON_ARRAY && rb->type == JSON_ARRAY && ra->u.arr.n >= 2 &&
        rb->u.arr.n >= 2 && ra->u.arr.items[0]->type == JSON_OBJECT) {
        double *xa = malloc(ra->u.arr.n * sizeof *xa), *xb = malloc(rb->u.arr.n * sizeof *xb);
        if (!xa || !xb) {
            free(xa);
            free(xb);
            return kk_err_set(err, KK_E_NOMEM, "out of memory for timing repeats");
        }
        const json_value *r0 = ra->u.arr.items[0];
        size_t n_keys = r0->u.obj.n;
        for (size_t k = 0; k <= n_keys; k++) {
            /* the repeats' own keys, then the derived decode rate */
            const char *key = k < n_keys ? r0->u.obj.members[k].key : "decode_tok_per_s";
            if (k == n_keys && json_obj_get(r0, key))
                break;
            if (strcmp(key, "tokens_decoded") == 0)
                continue; /* a count, not a time or rate */
            size_t na = repeat_values(ra, key, xa), nb = repeat_values(rb, key, xb);
            snprintf(name, sizeof name, "timings.%s", key);
            if (na < 2 || nb < 2 || direction(name) == 0)
                continue;
            compare_row *r = add_row(v, a->name, name, err);
            if (!r) {
                free(xa);
                free(xb);
                return KK_E_NOMEM;
            }
            r->has_before = r->has_after = 1;
            r->before = mean_exp(xa, na);
            r->after = mean_exp(xb, nb);
            fmt_num(r->before_txt, sizeof r->before_txt, r->before);
            fmt_num(r->after_txt, sizeof r->after_txt, r->after);
            r->test = COMPARE_TEST_WELCH_LOG;
            r->n_before = na;
            r->n_after = nb;
            r->spread_before = rel_sd(xa, na);
            r->spread_after = rel_sd(xb, nb);
            double df;
            r->p = compare_welch_test(xa, na, xb, nb, &r->stat, &df);
            classify(r);
        }
        free(xa);
        free(xb);
    }
    const json_value *t = a->timings;
    for (size_t k = 0; k < t->u.obj.n; k++) {
        const char *key = t->u.obj.members[k].key;
        const json_value *va = t->u.obj.members[k].value;
        const json_value *vb = json_obj_get(b->timings, key);
        snprintf(name, sizeof name, "timings.%s", key);
        if (va->type != JSON_NUMBER || !vb || vb->type != JSON_NUMBER ||
            tested_key(v, first, name))
            continue;
        compare_row *r = add_row(v, a->name, name, err);
        if (!r)
            return KK_E_NOMEM;
        r->has_before = r->has_after = 1;
        r->before = va->u.num.d;
        r->after = vb->u.num.d;
        fmt_num(r->before_txt, sizeof r->before_txt, r->before);
        fmt_num(r->after_txt, sizeof r->after_txt, r->after);
        classify(r);
    }
    return KK_OK;
}

kk_code compare_diff_run(const compare_set *before, const compare_set *after, double alpha,
                         compare_diff *out, kk_err *err)
{
    memset(out, 0, sizeof *out);
    rows v = {0};
    double *p = NULL;
    int *rej = NULL;
    size_t *idx = NULL;
    kk_code rc = KK_OK;
    for (size_t i = 0; i < before->n_arms && rc == KK_OK; i++) {
        const compare_arm *a = &before->arms[i];
        long j = compare_set_find(after, a->name);
        if (j < 0) {
            compare_row *r = add_row(&v, a->name, "(arm)", err);
            if (!r)
                rc = KK_E_NOMEM;
            else
                r->has_before = 1, r->change = COMPARE_REMOVED;
            continue;
        }
        rc = metric_rows(&v, a, &after->arms[j], err);
        if (rc == KK_OK)
            rc = timing_rows(&v, a, &after->arms[j], err);
    }
    for (size_t j = 0; j < after->n_arms && rc == KK_OK; j++)
        if (compare_set_find(before, after->arms[j].name) < 0) {
            compare_row *r = add_row(&v, after->arms[j].name, "(arm)", err);
            if (!r)
                rc = KK_E_NOMEM;
            else
                r->has_after = 1, r->change = COMPARE_ADDED;
        }
    if (rc != KK_OK)
        goto fail;
    /* Holm over every test made. */
    p = malloc((v.n ? v.n : 1) * sizeof *p);
    rej = malloc((v.n ? v.n : 1) * sizeof *rej);
    idx = malloc((v.n ? v.n : 1) * sizeof *idx);
    if (!p || !rej || !idx) {
        rc = kk_err_set(err, KK_E_NOMEM, "out of memory for %zu rows", v.n);
        goto fail;
    }
    size_t m = 0;
    for (size_t i = 0; i < v.n; i++)
        if (v.r[i].test != COMPARE_TEST_NONE) {
            p[m] = v.r[i].p;
            idx[m++] = i;
        }
    if ((rc = compare_holm(p, m, alpha, rej, err)) != KK_OK)
        goto fail;
    out->alpha = alpha;
    out->n_tests = m;
    for (size_t k = 0; k < m; k++) {
        compare_row *r = &v.r[idx[k]];
        r->significant = rej[k];
        if (!r->significant || r->change != COMPARE_WORSE)
            continue;
        if (r->test == COMPARE_TEST_Z2)
            r->regression = 1;
        else
            r->regression = fabs(r->after / r->before - 1) >= COMPARE_SPEED_MIN_EFFECT;
        out->n_regressions += (size_t)r->regression;
    }
    out->rows = v.r;
    out->n_rows = v.n;
    free(p);
    free(rej);
    free(idx);
    return KK_OK;
fail:
    free(v.r);
    free(p);
    free(rej);
    free(idx);
    return rc;
}

void compare_diff_free(compare_diff *d)
{
    if (!d)
        return;
    free(d->rows);
    memset(d, 0, sizeof *d);
}

/* ---- the report -------------------------------------------------------------- */

static void describe(FILE *out, const char *what, const compare_set *s)
{
    fprintf(out, "- %s: `%s`, preset %s, commit %.7s%s\n", what, s->file,
            s->preset ? s->preset : "(none)", s->commit ? s->commit : "(unknown)",
            s->dirty ? " (dirty)" : "");
}

static void write_change(FILE *out, const compare_row *r)
{
    if (r->change == COMPARE_ADDED || r->change == COMPARE_REMOVED || r->change == COMPARE_SAME) {
        fputs("-", out);
        return;
    }
    if (r->test == COMPARE_TEST_WELCH_LOG) {
        fprintf(out, "x%.3f (spread %.1f%% / %.1f%%)", r->after / r->before,
                100 * r->spread_before, 100 * r->spread_after);
        return;
    }
    double d = r->after - r->before;
    if (!strcmp(r->metric, "recall"))
        fprintf(out, "%+.3f", d);
    else if (r->before != 0)
        fprintf(out, "%+.4g (%+.1f%%)", d, 100 * d / fabs(r->before));
    else
        fprintf(out, "%+.4g", d);
}

void compare_diff_write(FILE *out, const compare_diff *d, const compare_set *before,
                        const compare_set *after)
{
    static const char *const CHANGE[] = {"same", "better", "worse", "changed", "added",
                                         "removed"};
    fprintf(out, "## Before/after\n\n");
    describe(out, "before", before);
    describe(out, "after", after);
    if (before->preset && after->preset && strcmp(before->preset, after->preset) != 0)
        fprintf(out, "- note: the presets differ (%s, %s): arms are matched by name\n",
                before->preset, after->preset);
    fprintf(out, "\nTests: recall by the two-proportion z-test (pooled, two-sided); times and "
                 "rates in `timings.repeats` by Welch's t-test on their logarithms (change: "
                 "ratio of geometric means; spread: relative standard deviation before / "
                 "after). alpha = %g for the whole comparison (Holm's step-down over the %zu "
                 "tests made). A regression is a significant change for the worse (a speed: "
                 "also by %.0f%% or more). Other metrics are deterministic for a preset, model "
                 "and seed: their changes are listed without a test.\n\n", d->alpha, d->n_tests,
            100 * COMPARE_SPEED_MIN_EFFECT);
    fprintf(out, "| arm | metric | before | after | change | test | p | result |\n");
    fprintf(out, "|---|---|--:|--:|--:|---|--:|---|\n");
    for (size_t i = 0; i < d->n_rows; i++) {
        const compare_row *r = &d->rows[i];
        fprintf(out, "| `%s` | %s | %s | %s | ", r->arm, r->metric,
                r->has_before && r->before_txt[0] ? r->before_txt : "-",
                r->has_after && r->after_txt[0] ? r->after_txt : "-");
        write_change(out, r);
        fputs(" | ", out);
        if (r->test == COMPARE_TEST_Z2)
            fprintf(out, "z = %.2f (n %zu, %zu)", r->stat, r->n_before, r->n_after);
        else if (r->test == COMPARE_TEST_WELCH_LOG)
            fprintf(out, "t = %.2f (repeats %zu, %zu)", r->stat, r->n_before, r->n_after);
        else
            fputs("-", out);
        fputs(" | ", out);
        if (r->test == COMPARE_TEST_NONE)
            fputs("-", out);
        else if (r->p < 0.001)
            fputs("<0.001", out);
        else
            fprintf(out, "%.3f", r->p);
        fprintf(out, " | %s%s |\n", r->regression ? "**REGRESSION**: " : "", CHANGE[r->change]);
    }
    if (d->n_regressions == 0) {
        fprintf(out, "\nNo significant regression at alpha = %g.\n", d->alpha);
        return;
    }
    fprintf(out, "\n**%zu significant regression%s** at alpha = %g:\n", d->n_regressions,
            d->n_regressions == 1 ? "" : "s", d->alpha);
    for (size_t i = 0; i < d->n_rows; i++) {
        const compare_row *r = &d->rows[i];
        if (r->regression)
            fprintf(out, "- `%s` %s: %s -> %s (p = %.2g)\n", r->arm, r->metric, r->before_txt,
                    r->after_txt, r->p);
    }
}
