/*
 * svg_plot: rate-distortion scatter plots as SVG (docs/compare.md shows one).
 *
 * A figure is a column of panels, each a scatter of labelled points with
 * x = bits per value on a log2 axis and y = relative MSE on a log10 axis.
 * Points with y = 0 (exact: the identity codec) cannot sit on a log axis;
 * they are drawn in a strip under the plot marked "0 (exact)". A panel may
 * draw the Gaussian rate-distortion bound D(R) = 2^(-2R) (Shannon 1959;
 * Cover & Thomas, Elements of Information Theory, 2nd ed., eq. 10.38 for a
 * unit-variance source) as a dashed curve. Every panel has a legend row: the
 * bound, then each point class (shape and colour: the caller's recall
 * bins), then the filled/open meaning when the panel uses open markers.
 *
 * Labels never overlap one another: points whose markers stand in one
 * vertical column (the same rate) get their labels stacked in a column
 * beside them, spread apart as little as possible (pool adjacent
 * violators over the desired heights) and joined to their points by leader
 * lines; the column goes right of the points, or left when the right side
 * would leave the plot or run into other labels or markers. Points of one
 * label that coincide (an arm's K and V both exact) share one label
 * ("identity K,V"); coinciding markers are spread sideways so each shows.
 *
 * Ownership: the caller owns every input; svg_plot_write allocates only
 * scratch it frees before returning.
 */
#ifndef KK_SVG_PLOT_H
#define KK_SVG_PLOT_H

#include <stddef.h>
#include <stdio.h>

#include "kk_err.h"
#include "svg.h"

typedef struct svg_plot_class {
    const char *legend;   /* "recall >= 0.95" */
    svg_shape shape;
    const char *color;    /* "#009E73" */
} svg_plot_class;

typedef struct svg_plot_point {
    const char *label;    /* the arm's name */
    const char *tag;      /* "K", "V" or NULL: appended to the label */
    double x;             /* > 0 (bits per value) */
    double y;             /* >= 0; 0 is drawn in the exact strip */
    size_t cls;           /* index into the figure's classes */
    int hollow;           /* open marker */
    int ring;             /* a ring around the marker (the Pareto front) */
} svg_plot_point;

typedef struct svg_plot_panel {
    const char *title;    /* bold, above the panel */
    const char *subtitle; /* grey, under the title; may be NULL */
    const char *y_label;
    const svg_plot_point *points;
    size_t n_points;
    int bound;            /* draw D(R) = 2^(-2R) */
    const char *filled_legend, *hollow_legend; /* legend of the fill, or NULL */
} svg_plot_panel;

typedef struct svg_plot_figure {
    const char *title;          /* the SVG's <title> */
    const char *x_label;        /* shared by every panel */
    const char *ring_legend;    /* legend of ring (NULL: no rings drawn) */
    const svg_plot_class *classes;
    size_t n_classes;
    const svg_plot_panel *panels;
    size_t n_panels;
} svg_plot_figure;

/* Write the figure as one SVG document. Points with a non-finite or
 * negative coordinate, or x <= 0, are refused (KK_E_RANGE naming the
 * label), as is a class index out of range. A panel without points says so
 * in place of a plot. @return KK_OK, KK_E_RANGE or KK_E_NOMEM. */
kk_code svg_plot_write(FILE *out, const svg_plot_figure *fig, kk_err *err);

#endif /* KK_SVG_PLOT_H */
