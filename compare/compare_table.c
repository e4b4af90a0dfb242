/* compare_table: the Markdown table and verdict lines of one evidence set
 * (see compare.h, compare_write_set; the rule is in compare_rule.h). */
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compare_rule.h"

/* A table cell: '|' would end the cell, so it is escaped. */
static void cell(FILE *out, const char *s)
{
    fputs("| ", out);
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc(' ', out);
}

static const char *fmt_mse(char *b, size_t cap, const compare_arm *a, unsigned bit, double v)
{
    if (!(a->has & bit))
        return "-";
    if (v == 0)
        return "0";
    snprintf(b, cap, "%.2e", v);
    return b;
}

static const char *fmt_db(char *b, size_t cap, int have, double v)
{
    if (!have)
        return "-";
    if (isnan(v))
        return "exact";
    snprintf(b, cap, "%.2f", v);
    return b;
}

static void fmt_recall(char *b, size_t cap, const compare_point *p)
{
    if (!p->has_recall)
        snprintf(b, cap, "-");
    else
        snprintf(b, cap, "%.3f [%.3f, %.3f]", p->recall, p->lo, p->hi);
}

static void fmt_bytes(char *b, size_t cap, const compare_arm *a)
{
    if (!(a->has & COMPARE_HAS_KV_BYTES))
        snprintf(b, cap, "-");
    else if (a->kv_bytes >= 1024.0 * 1024.0)
        snprintf(b, cap, "%.2f MiB", a->kv_bytes / (1024.0 * 1024.0));
    else if (a->kv_bytes >= 1024.0)
        snprintf(b, cap, "%.1f KiB", a->kv_bytes / 1024.0);
    else
        snprintf(b, cap, "%.0f B", a->kv_bytes);
}

/* "e8-4 (e8:bits=4)", or the name alone when the codec is the name. */
static void fmt_arm(char *b, size_t cap, const compare_arm *a)
{
    if (a->codec && strcmp(a->codec, a->name) != 0)
        snprintf(b, cap, "`%s` (%s)", a->name, a->codec);
    else
        snprintf(b, cap, "`%s`", a->name);
}

static void write_table(FILE *out, const compare_set *s, const int *front, compare_dist d)
{
    /* a KLD column when any arm measured one (kv_quant with kld_model) */
    int kld = 0;
    for (size_t i = 0; i < s->n_arms; i++)
        kld |= (s->arms[i].has & COMPARE_HAS_KLD) != 0;
    fprintf(out, "| arm | codec | bits/value | rel_mse Gaussian | rel_mse K | rel_mse V "
                 "| SNR dB | gap dB | recall [95%% CI] | n | KV bytes |%s front |\n",
            kld ? " KLD mean |" : "");
    fprintf(out, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|%s:-:|\n", kld ? "--:|" : "");
    for (size_t i = 0; i < s->n_arms; i++) {
        const compare_arm *a = &s->arms[i];
        compare_point p = compare_arm_point(a, d);
        char b[8][64];
        int have_g = (a->has & COMPARE_HAS_MSE_G) != 0;
        int have_bits = (a->has & COMPARE_HAS_BITS) != 0;
        snprintf(b[0], sizeof b[0], "`%s`", a->name);
        cell(out, b[0]);
        cell(out, a->codec ? a->codec : "-");
        if (have_bits)
            snprintf(b[1], sizeof b[1], "%.2f", a->bits);
        cell(out, have_bits ? b[1] : "-");
        cell(out, fmt_mse(b[2], sizeof b[2], a, COMPARE_HAS_MSE_G, a->mse_g));
        cell(out, fmt_mse(b[3], sizeof b[3], a, COMPARE_HAS_MSE_K, a->mse_k));
        cell(out, fmt_mse(b[4], sizeof b[4], a, COMPARE_HAS_MSE_V, a->mse_v));
        cell(out, fmt_db(b[5], sizeof b[5], have_g, compare_snr_db(a->mse_g)));
        cell(out, fmt_db(b[6], sizeof b[6], have_g && have_bits,
                         compare_gap_db(a->mse_g, a->bits)));
        fmt_recall(b[7], sizeof b[7], &p);
        cell(out, b[7]);
        if (a->has & COMPARE_HAS_N)
            snprintf(b[0], sizeof b[0], "%.0f", a->n);
        cell(out, (a->has & COMPARE_HAS_N) ? b[0] : "-");
        fmt_bytes(b[1], sizeof b[1], a);
        cell(out, b[1]);
        if (kld) {
            if (a->has & COMPARE_HAS_KLD)
                snprintf(b[2], sizeof b[2], "%.3g", a->kld);
            cell(out, (a->has & COMPARE_HAS_KLD) ? b[2] : "-");
        }
        cell(out, front[i] > 0 ? "yes" : front[i] == 0 ? "no" : "-");
        fputs("|\n", out);
    }
}

static void write_delta(FILE *out, const compare_judgement *j, const compare_point *a,
                        const compare_point *b)
{
    if (isnan(j->delta_db))
        fputs("rel_mse not measured", out);
    else if (j->delta_db == 0 && a->dist == 0)
        fputs("+0.00 dB (both exact)", out);
    else if (isinf(j->delta_db) && j->delta_db < 0)
        fprintf(out, "exact vs %.2e", b->dist);
    else if (isinf(j->delta_db))
        fprintf(out, "%.2e vs exact", a->dist);
    else
        fprintf(out, "%+.2f dB", j->delta_db);
    if (isnan(j->delta_bits))
        fputs(", rate not measured", out);
    else
        fprintf(out, " at %+.2f bits/value", j->delta_bits);
    static const char *const RECALL[] = {"lost", "equal", "higher"};
    char ra[48], rb[48];
    fmt_recall(ra, sizeof ra, a);
    fmt_recall(rb, sizeof rb, b);
    if (j->recall == 2 && !a->has_recall && !b->has_recall)
        fputs(", recall not measured", out);
    else if (j->recall == 2)
        fprintf(out, ", recall on one side only (%s vs %s)", ra, rb);
    else
        fprintf(out, ", recall %s (%s vs %s)", RECALL[j->recall + 1], ra, rb);
}

static void write_reasons(FILE *out, const compare_judgement *j)
{
    struct { unsigned bit; const char *text; } R[] = {
        {COMPARE_WHY_RATE_HIGHER, "rate higher"},
        {COMPARE_WHY_RECALL_LOST, "recall lost"},
        {COMPARE_WHY_DIST_HIGHER, "rel_mse higher"},
        {COMPARE_WHY_DIST_EQUAL, "rel_mse equal within"},
        {COMPARE_WHY_MISSING, "rate or rel_mse missing"},
        {COMPARE_WHY_RECALL_MISSING, "recall measured on one side only"},
    };
    unsigned show = j->why;
    if (j->verdict == COMPARE_REJECT) /* the reasons that decided it */
        show &= COMPARE_WHY_RATE_HIGHER | COMPARE_WHY_RECALL_LOST | COMPARE_WHY_DIST_HIGHER;
    if (j->verdict == COMPARE_ADOPT)
        show = 0;
    const char *sep = "; ";
    for (size_t k = 0; k < sizeof R / sizeof R[0]; k++)
        if (show & R[k].bit) {
            fprintf(out, "%s%s", sep, R[k].text);
            if (R[k].bit == COMPARE_WHY_DIST_EQUAL)
                fprintf(out, " %.1f dB", COMPARE_EQUAL_DB);
            sep = ", ";
        }
}

kk_code compare_write_set(FILE *out, const compare_set *s, size_t baseline, const char *why,
                          compare_dist d, kk_err *err)
{
    int *front = malloc(s->n_arms * sizeof *front);
    compare_point *pts = malloc(s->n_arms * sizeof *pts);
    if (!front || !pts) {
        free(front);
        free(pts);
        return kk_err_set(err, KK_E_NOMEM, "out of memory for %zu arms", s->n_arms);
    }
    for (size_t i = 0; i < s->n_arms; i++)
        pts[i] = compare_arm_point(&s->arms[i], d);
    kk_code rc = compare_front(pts, s->n_arms, front, err);
    if (rc != KK_OK)
        goto done;

    fprintf(out, "## %s: %s\n\n", s->preset ? s->preset : "(no preset name)", s->file);
    if (s->commit)
        fprintf(out, "commit %.7s%s", s->commit, s->dirty ? " (dirty)" : "");
    if (s->model)
        fprintf(out, "%smodel `%s`", s->commit ? "; " : "", s->model);
    fprintf(out, "%s", s->commit || s->model ? ".\n" : "");
    fprintf(out, "SNR and gap are on Gaussian data (gap: to the bound D(R) = 2^(-2R), 6.02 dB "
                 "per bit). `front`: on the Pareto front of rate, %s rel_mse and recall (no "
                 "other arm is as good in all three and better in one: lower rate, rel_mse "
                 "lower by more than %.1f dB, or a recall interval entirely above).\n\n",
            compare_dist_name(d), COMPARE_EQUAL_DB);
    write_table(out, s, front, d);

    char arm_b[160], base_b[160];
    const compare_arm *base = &s->arms[baseline];
    fmt_arm(base_b, sizeof base_b, base);
    fprintf(out, "\n### Verdicts against %s\n\nBaseline: %s (from %s).\n", base_b, base->name,
            why);
    fprintf(out, "Rule: an arm is adopted over the baseline only if its %s rel_mse is lower "
                 "(by more than %.1f dB) at no higher measured bits/value without losing "
                 "recall (lost: its 95%% interval lies entirely below the baseline's; "
                 "overlapping intervals are not a loss). A higher rate, lost recall or higher "
                 "rel_mse -> reject; rel_mse equal within %.1f dB, or a number missing -> "
                 "inconclusive.\n\n", compare_dist_name(d), COMPARE_EQUAL_DB,
            COMPARE_EQUAL_DB);
    size_t counts[3] = {0, 0, 0};
    for (size_t i = 0; i < s->n_arms; i++) {
        if (i == baseline)
            continue;
        compare_judgement j = compare_judge(&pts[i], &pts[baseline]);
        counts[j.verdict]++;
        fmt_arm(arm_b, sizeof arm_b, &s->arms[i]);
        fprintf(out, "- %s vs %s: ", arm_b, base_b);
        write_delta(out, &j, &pts[i], &pts[baseline]);
        write_reasons(out, &j);
        fprintf(out, " -> %s\n", compare_verdict_name(j.verdict));
    }
    fprintf(out, "\n%zu adopt, %zu reject, %zu inconclusive.\n\n", counts[COMPARE_ADOPT],
            counts[COMPARE_REJECT], counts[COMPARE_INCONCLUSIVE]);
done:
    free(front);
    free(pts);
    return rc;
}
