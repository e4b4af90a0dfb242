/* compare_plot: the SVG of `kakeya compare --svg` (see compare.h and
 * svg_plot.h for the drawing). */
#include "compare.h"

#include <stdlib.h>
#include <string.h>

#include "compare_rule.h"
#include "svg_plot.h"

/* Recall bins. Okabe & Ito's colour-blind-safe palette, and a different
 * shape per bin so the plot reads in grey too. 0.95 is the presets'
 * "recalls" threshold (kv-quant-sweep: f16, q8_0 >= 0.95). */
static const svg_plot_class CLASSES[] = {
    {"recall \u2265 0.95", SVG_SHAPE_CIRCLE, "#009E73"},
    {"0.5 \u2264 recall < 0.95", SVG_SHAPE_SQUARE, "#E69F00"},
    {"recall < 0.5", SVG_SHAPE_TRIANGLE, "#D55E00"},
    {"no recall", SVG_SHAPE_DIAMOND, "#999999"},
};

static size_t recall_class(const compare_arm *a)
{
    if (!(a->has & COMPARE_HAS_RECALL))
        return 3;
    return a->recall >= 0.95 ? 0 : a->recall >= 0.5 ? 1 : 2;
}

typedef struct set_plot {
    svg_plot_point *pts;  /* Gaussian points, then K and V points */
    size_t n_g, n_kv;
    char title[2][256], sub[2][512];
} set_plot;

static kk_code build(const compare_set *s, compare_dist d, set_plot *sp, kk_err *err)
{
    int *front = malloc(s->n_arms * sizeof *front);
    compare_point *cp = malloc(s->n_arms * sizeof *cp);
    sp->pts = calloc(3 * s->n_arms, sizeof *sp->pts);
    if (!front || !cp || !sp->pts) {
        free(front);
        free(cp);
        return kk_err_set(err, KK_E_NOMEM, "out of memory for %zu arms", s->n_arms);
    }
    for (size_t i = 0; i < s->n_arms; i++)
        cp[i] = compare_arm_point(&s->arms[i], d);
    kk_code rc = compare_front(cp, s->n_arms, front, err);
    if (rc != KK_OK)
        goto done;
    for (size_t i = 0; i < s->n_arms; i++) {
        const compare_arm *a = &s->arms[i];
        if ((a->has & COMPARE_HAS_BITS) && (a->has & COMPARE_HAS_MSE_G) && a->bits > 0)
            sp->pts[sp->n_g++] = (svg_plot_point){a->name, NULL, a->bits, a->mse_g,
                                                  recall_class(a), 0,
                                                  d == COMPARE_DIST_GAUSSIAN && front[i] > 0};
    }
    for (size_t i = 0; i < s->n_arms; i++) {
        const compare_arm *a = &s->arms[i];
        if (!(a->has & COMPARE_HAS_BITS) || a->bits <= 0)
            continue;
        svg_plot_point *kv = sp->pts + sp->n_g;
        if (a->has & COMPARE_HAS_MSE_K)
            kv[sp->n_kv++] = (svg_plot_point){a->name, "K", a->bits, a->mse_k, recall_class(a),
                                              0, d == COMPARE_DIST_K && front[i] > 0};
        if (a->has & COMPARE_HAS_MSE_V)
            kv[sp->n_kv++] = (svg_plot_point){a->name, "V", a->bits, a->mse_v, recall_class(a),
                                              1, d == COMPARE_DIST_V && front[i] > 0};
    }
    const char *name = s->preset ? s->preset : "evidence";
    char who[200];
    snprintf(who, sizeof who, "%s%s%.7s%s", s->file, s->commit ? ", commit " : "",
             s->commit ? s->commit : "", s->dirty ? " (dirty)" : "");
    snprintf(sp->title[0], sizeof sp->title[0],
             "%s: codec distortion on Gaussian data vs rate", name);
    snprintf(sp->sub[0], sizeof sp->sub[0],
             "%s. Dashed: the least distortion any codec can reach at that rate.", who);
    snprintf(sp->title[1], sizeof sp->title[1],
             "%s: distortion on the model's own K and V vs rate", name);
    snprintf(sp->sub[1], sizeof sp->sub[1],
             "Relative MSE of the cache rows as each arm ran; no bound (K and V are not "
             "Gaussian).");
done:
    free(front);
    free(cp);
    return rc;
}

kk_code compare_write_svg(FILE *out, const compare_set *sets, size_t n_sets, compare_dist d,
                          kk_err *err)
{
    set_plot *sp = calloc(n_sets ? n_sets : 1, sizeof *sp);
    svg_plot_panel *panels = calloc(2 * (n_sets ? n_sets : 1), sizeof *panels);
    kk_code rc = KK_OK;
    if (!sp || !panels) {
        rc = kk_err_set(err, KK_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < n_sets && rc == KK_OK; k++)
        rc = build(&sets[k], d, &sp[k], err);
    if (rc != KK_OK)
        goto done;
    for (size_t k = 0; k < n_sets; k++) {
        panels[2 * k] = (svg_plot_panel){sp[k].title[0], sp[k].sub[0],
                                         "relative MSE, Gaussian data (log scale)", sp[k].pts,
                                         sp[k].n_g, 1, NULL, NULL};
        panels[2 * k + 1] = (svg_plot_panel){sp[k].title[1], sp[k].sub[1],
                                             "relative MSE, model K / V (log scale)",
                                             sp[k].pts + sp[k].n_g, sp[k].n_kv, 0,
                                             "K (filled)", "V (open)"};
    }
    char ring[160];
    snprintf(ring, sizeof ring, "Pareto front (%s)", compare_dist_name(d));
    svg_plot_figure fig = {"kakeya compare: rate-distortion of the arms",
                           "bits per value (log scale)",
                           ring,
                           CLASSES,
                           sizeof CLASSES / sizeof CLASSES[0],
                           panels,
                           2 * n_sets};
    rc = svg_plot_write(out, &fig, err);
done:
    for (size_t k = 0; sp && k < n_sets; k++)
        free(sp[k].pts);
    free(sp);
    free(panels);
    return rc;
}
